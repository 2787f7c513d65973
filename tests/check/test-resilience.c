/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Never lose a word: the fault-injection suite. Each test streams the same eight words
 * through a fault and checks what a user would: every word arrives once, in order, at
 * its time; the audio the server(s) received covers the whole input (except reported
 * drops); errors only where they belong. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <libsoup/soup.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"
#include "stt-fault-proxy.h"

/* One word per segment (gaps >= 300 ms end a segment), except the first two. */
static const SttTone tones[] = {
  {0.5, 0.9, 400}, {1.0, 1.3, 700}, {2.0, 2.4, 500}, {3.0, 3.3, 600},
  {4.0, 4.4, 800}, {5.0, 5.3, 900}, {6.0, 6.4, 1100}, {7.0, 7.3, 1200},
};

static const gchar *const all_words[] = { "w400", "w700", "w500", "w600", "w800", "w900",
  "w1100", "w1200", NULL
};

#define DURATION 8.0
#define RATE 16000

typedef SttCheckRun Run;

static gchar *
server_url (SttTestServer * server)
{
  return stt_test_server_get_url (server);
}

static Run *
run_new (const gchar * url)
{
  return stt_check_run_new ("deepgram", url, tones, G_N_ELEMENTS (tones), DURATION);
}

/* Keeps what @server's connections received, before it goes away. */
static void
keep_audio (Run * r, SttTestServer * server, guint from_index)
{
  guint i, n = stt_test_server_get_n_connections (server);

  for (i = from_index; i < n; i++)
    g_ptr_array_add (r->audio, stt_test_server_get_audio (server, i));
}

/* The audio the servers received covers the whole input, except inside the window of
 * reported drops [@hole_from, @hole_to) seconds (where some may have been heard before a
 * server died); each connection's audio is an exact piece of the input. */
static void
check_coverage (Run * r, gdouble hole_from, gdouble hole_to)
{
  gsize total = g_bytes_get_size (r->input) / 2, i;
  gsize from = (gsize) (hole_from * RATE), to = (gsize) (hole_to * RATE);
  guint8 *seen = g_malloc0 (total);

  fail_unless (r->audio->len > 0);
  for (i = 0; i < r->audio->len; i++) {
    GBytes *a = g_ptr_array_index (r->audio, i);
    gsize n = g_bytes_get_size (a) / 2, k;
    gssize off;

    if (n == 0)
      continue;
    off = stt_check_find_audio (r->input, a);
    fail_unless (off >= 0, "connection %u sent audio that is not in the input", (guint) i);
    fail_unless (off + n <= total);
    {
      GBytes *slice = g_bytes_new_from_bytes (r->input, off * 2, n * 2);
      fail_unless (g_bytes_equal (slice, a), "connection %u: audio differs", (guint) i);
      g_bytes_unref (slice);
    }
    for (k = 0; k < n; k++)
      seen[off + k] = 1;
  }
  for (i = 0; i < total; i++) {
    if (i < from || i >= to)
      fail_unless (seen[i], "sample %" G_GSIZE_FORMAT " (%.3f s) never reached a server", i,
          (gdouble) i / RATE);
  }
  g_free (seen);
}

/* The end of a run against @server: its audio covers the whole input, then everything
 * is freed. */
static void
end_run (Run * r, SttTestServer * server, GList * msgs)
{
  keep_audio (r, server, 0);
  check_coverage (r, 0, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_test_server_free (server);
}

/* A server that can die and come back at the same address: the element talks to a TCP
 * proxy that stays up, the server behind it is replaced. (Restarting a server on the
 * same port races with other tests taking that port meanwhile.) */
typedef struct
{
  SttTestServer *server;
  SttFaultProxy *proxy;
} Service;

static Service *
service_new (void)
{
  Service *sv = g_new0 (Service, 1);

  sv->server = stt_test_server_new ("deepgram", NULL);
  sv->proxy = stt_fault_proxy_new (stt_test_server_get_port (sv->server), NULL);
  fail_unless (sv->server && sv->proxy);
  return sv;
}

static gchar *
service_url (Service * sv)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/v1/listen", stt_fault_proxy_get_port (sv->proxy));
}

/* The server dies: its connections end, new ones are refused. */
static void
service_kill (Service * sv, Run * r)
{
  keep_audio (r, sv->server, 0);
  stt_fault_proxy_set_refuse (sv->proxy, TRUE);
  stt_test_server_free (sv->server);
  sv->server = NULL;
}

static void
service_restart (Service * sv)
{
  sv->server = stt_test_server_new ("deepgram", NULL);
  fail_unless (sv->server != NULL);
  stt_fault_proxy_set_target (sv->proxy, stt_test_server_get_port (sv->server));
  stt_fault_proxy_set_refuse (sv->proxy, FALSE);
}

static void
service_free (Service * sv, Run * r)
{
  if (sv->server) {
    keep_audio (r, sv->server, 0);
    stt_test_server_free (sv->server);
  }
  stt_fault_proxy_free (sv->proxy);
  g_free (sv);
}

static void
run_fault (SttTestFault fault, gushort code, const gchar * reason)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GList *msgs;

  g_object_set (r->h->element, "stall-timeout", GST_SECOND, "keepalive-interval",
      GST_SECOND, NULL);
  /* Mid-word: w500 sounds from 2.0 to 2.4 s. */
  stt_test_server_inject_fault (server, fault, 2.2, code, reason);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  fail_unless (stt_test_server_get_n_connections (server) >= 2);
  fail_unless (stt_check_count_state (msgs, "reconnecting") >= 1);
  fail_unless (stt_check_count_state (msgs, "failed") == 0);
  end_run (r, server, msgs);
}

/* 1. The server dies mid-utterance and comes back 2 s later on the same port. */
GST_START_TEST (test_server_restart)
{
  Service *sv = service_new ();
  g_autofree gchar *url = service_url (sv);
  Run *r = run_new (url);
  GList *msgs;

  stt_check_run_push (r, 0, 2.2, FALSE);
  fail_unless (stt_test_server_wait_connections (sv->server, 1, FALSE, 5000));
  g_usleep (300 * 1000);
  service_kill (sv, r);
  stt_check_run_push (r, 2.2, 5.0, FALSE);
  g_usleep (2 * G_USEC_PER_SEC);
  service_restart (sv);
  stt_check_run_push (r, 5.0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  service_free (sv, r);
  check_coverage (r, 0, 0);
  fail_unless (stt_check_count_state (msgs, "reconnecting") >= 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* 2. The connection vanishes without a close frame. */
GST_START_TEST (test_drop_without_close)
{
  run_fault (STT_TEST_FAULT_DROP, 0, NULL);
}

GST_END_TEST;

/* 3. The server stops answering, socket open: the stall watchdog reconnects. */
GST_START_TEST (test_stall)
{
  run_fault (STT_TEST_FAULT_STALL, 0, NULL);
}

GST_END_TEST;

/* 4. Close 1011, 1012, 1013: retried. */
GST_START_TEST (test_close_codes)
{
  run_fault (STT_TEST_FAULT_CLOSE, 1011, "NET-0000");
  run_fault (STT_TEST_FAULT_CLOSE, 1012, "service restart");
  run_fault (STT_TEST_FAULT_CLOSE, 1013, "try again later");
}

GST_END_TEST;

/* 5. The handshake is refused with 503 twice, then accepted. */
GST_START_TEST (test_handshake_503)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GList *msgs;

  stt_test_server_fail_handshakes (server, 503, 2, NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (server), 3);
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 1);
  fail_unless_equals_int (stt_check_count_state (msgs, "reconnecting"), 2);
  end_run (r, server, msgs);
}

GST_END_TEST;

/* 6. 429 with Retry-After: the wait honours it. */
GST_START_TEST (test_429_retry_after)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GList *msgs, *l;
  GstClockTime retry_in = 0;

  stt_test_server_fail_handshakes (server, 429, 1, "1");
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  for (l = msgs; l; l = l->next) {
    guint status = 0;
    if (!g_strcmp0 (gst_structure_get_string (l->data, "state"), "reconnecting")) {
      gst_structure_get_clock_time (l->data, "retry-in", &retry_in);
      gst_structure_get_uint (l->data, "http-status", &status);
      fail_unless_equals_int (status, 429);
    }
  }
  fail_unless (retry_in >= GST_SECOND);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_test_server_free (server);
}

GST_END_TEST;

/* 8. A temporary token expires mid-stream: a new one comes from token-url. */
typedef struct
{
  SttTestServer *server;
  gint issued;
} TokenService;

static void
token_handler (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  TokenService *ts = data;
  const gchar *auth = soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");
  gint n;
  gchar *token, *body;

  /* Like Deepgram's grant endpoint: the long-lived key buys a short-lived token. */
  if (g_strcmp0 (auth, "Token test-key") != 0) {
    soup_server_message_set_status (msg, 401, NULL);
    return;
  }
  n = g_atomic_int_add (&ts->issued, 1) + 1;
  token = g_strdup_printf ("tok-%d", n);
  stt_test_server_set_api_key (ts->server, token);
  body = g_strdup_printf ("{\"access_token\":\"%s\",\"expires_in\":30}", token);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
  g_free (token);
}

static void
token_setup (gpointer soup, gpointer data)
{
  soup_server_add_handler (soup, "/token", token_handler, data, NULL);
}

GST_START_TEST (test_token_renewal)
{
  TokenService ts = { 0, };
  SttCheckSoup *service;
  g_autofree gchar *url = NULL, *token_url = NULL;
  Run *r;
  GList *msgs;
  GstStructure *headers;

  ts.server = stt_test_server_new ("deepgram", NULL);
  service = stt_check_soup_new (NULL, token_setup, &ts);
  url = server_url (ts.server);
  token_url = g_strdup_printf ("http://127.0.0.1:%u/token",
      stt_check_soup_get_port (service));
  r = run_new (url);
  headers = gst_structure_new ("h", "Authorization", G_TYPE_STRING, "Token $API_KEY", NULL);
  g_object_set (r->h->element, "token-url", token_url, "token-headers", headers, NULL);
  gst_structure_free (headers);

  /* The service closes with its policy code when the token expires. */
  stt_test_server_inject_fault (ts.server, STT_TEST_FAULT_CLOSE, 2.2, 1008,
      "token expired");
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  fail_unless_equals_int (g_atomic_int_get (&ts.issued), 2);
  fail_unless_equals_int (stt_test_server_get_n_connections (ts.server), 2);
  {
    g_autofree gchar *a0 = stt_test_server_get_header (ts.server, 0, "Authorization");
    g_autofree gchar *a1 = stt_test_server_get_header (ts.server, 1, "Authorization");
    fail_unless_equals_string (a0, "Bearer tok-1");
    fail_unless_equals_string (a1, "Bearer tok-2");
  }
  keep_audio (r, ts.server, 0);
  check_coverage (r, 0, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);

  stt_check_soup_free (service);
  stt_test_server_free (ts.server);
}

GST_END_TEST;

/* 9. Flapping: the connection drops after every 2 s of audio it carries. */
GST_START_TEST (test_flapping)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GList *msgs;
  guint i;

  /* At the pace of real time, so that the drops come while audio flows. */
  g_object_set (r->h->element, "pacing", 1 /* realtime */ , NULL);
  stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 2.0, 0, NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  for (i = 1; i < 5; i++) {
    if (!stt_test_server_wait_connections (server, i + 1, FALSE, 10000))
      break;
    stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 2.0, 0, NULL);
  }
  msgs = stt_check_run_finish (r, all_words, NULL);
  fail_unless (stt_test_server_get_n_connections (server) >= 4);
  end_run (r, server, msgs);
}

GST_END_TEST;

/* Rotations: at least 3 connections in 8 s, each but the last ended by us with the
 * provider's end message. */
static void
check_rotations (SttTestServer * server)
{
  guint i, n = stt_test_server_get_n_connections (server);

  fail_unless (n >= 3, "only %u connections in 8 s", n);
  for (i = 0; i + 1 < n; i++) {
    g_auto (GStrv) texts = stt_test_server_get_text_messages (server, i);
    fail_unless (texts && texts[0] && strstr (texts[g_strv_length (texts) - 1],
            "CloseStream"), "connection %u did not end with CloseStream", i);
  }
}

typedef struct
{
  Run *r;
  GPtrArray *got;               /* the words, a split word's pieces counted once */
} PieceCtx;

static void
piece_of_word (const gchar * text, GstClockTime start, gpointer data)
{
  PieceCtx *ctx = data;
  gdouble t0 = stt_check_run_tone_start (ctx->r, text);

  fail_unless (t0 >= 0, "unknown word %s", text);
  fail_unless (start + 30 * GST_MSECOND >= t0 * GST_SECOND
      && start < (t0 + 0.4) * GST_SECOND, "%s at %" GST_TIME_FORMAT, text,
      GST_TIME_ARGS (start));
  if (ctx->got->len == 0 || !g_str_equal (g_ptr_array_index (ctx->got,
              ctx->got->len - 1), text))
    g_ptr_array_add (ctx->got, g_strdup (text));
}

/* max-session-duration: each connection is ended cleanly after a final and the next one continues from
 * the committed point; no word lost or doubled, times continuous. */
GST_START_TEST (test_session_rotation)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GList *msgs;

  g_object_set (r->h->element, "pacing", 1 /* realtime */ ,
      "max-session-duration", 2500 * GST_MSECOND, NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  check_rotations (server);
  fail_unless_equals_int (stt_check_count_state (msgs, "failed"), 0);
  end_run (r, server, msgs);
}

GST_END_TEST;

/* 8b. No final before the limit (endpointing off, so only a flush gives finals): each
 * connection is ended at the limit with CloseStream, its flush commits what it heard,
 * and the next one goes on from there. A word spoken across that moment may come out in
 * two pieces (the one case where rotation cannot wait for a word boundary), but no audio
 * is lost and every word is there, at its time. */
GST_START_TEST (test_session_rotation_without_finals)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GstStructure *params = gst_structure_new ("p", "endpointing", G_TYPE_STRING, "false",
      NULL);
  GList *msgs;
  PieceCtx ctx = { r, g_ptr_array_new_with_free_func (g_free) };

  g_object_set (r->h->element, "pacing", 1 /* realtime */ ,
      "max-session-duration", 2500 * GST_MSECOND, "params", params, NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, DURATION, FALSE);
  gst_harness_push_event (r->h, gst_event_new_eos ());
  msgs = stt_check_collect (r->bus, NULL, 15000, stt_check_enough_final_words,
      GUINT_TO_POINTER (G_N_ELEMENTS (all_words) - 1));
  check_rotations (server);
  fail_unless_equals_int (stt_check_count_state (msgs, "failed"), 0);
  /* Every word once, in order; a piece of a split word starts inside its tone. */
  stt_check_foreach_final_word (msgs, piece_of_word, &ctx);
  g_ptr_array_add (ctx.got, NULL);
  {
    g_autofree gchar *a = g_strjoinv (" ", (gchar **) ctx.got->pdata);
    g_autofree gchar *b = g_strjoinv (" ", (gchar **) all_words);
    fail_unless_equals_string (a, b);
  }
  keep_audio (r, server, 0);
  check_coverage (r, 0, 0);
  g_ptr_array_unref (ctx.got);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_test_server_free (server);
}

GST_END_TEST;

/* 10. An outage longer than max-buffer-time: the oldest audio goes, counted exactly. */
GST_START_TEST (test_outage_longer_than_buffer)
{
  /* w400 w700 come before the outage, w800 right after it (checked on the way). */
  static const gchar *const expected[] = { "w900", "w1100", "w1200", NULL };
  Service *sv = service_new ();
  g_autofree gchar *url = service_url (sv);
  Run *r = run_new (url);
  GList *msgs, *l, *seen = NULL;
  GstStructure *stats;
  GstClockTime dropped = 0, announced = 0;

  /* The ring alone: no spool (test-outage covers the spool). */
  g_object_set (r->h->element, "max-buffer-time", 2 * GST_SECOND, "spool-max-bytes",
      (guint64) 0, NULL);
  /* Up to 2.0 s; the first segment (w400 w700) is final at 1.6 s. */
  stt_check_run_push (r, 0, 2.0, FALSE);
  msgs = stt_check_collect (r->bus, NULL, 5000, stt_check_enough_final_words,
      GUINT_TO_POINTER (2));
  {
    GList *f = stt_check_filter_final (msgs, TRUE);
    fail_unless_equals_int (g_list_length (f), 1);
    fail_unless_equals_string (gst_structure_get_string (f->data, "text"), "w400 w700");
    g_list_free (f);
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  service_kill (sv, r);

  /* 2.0 to 6.0 s while the server is down: the ring keeps 2 s after the committed
   * point 1.6 s, so [1.6, 4.0) is dropped: w500 and w600 are lost. */
  stt_check_run_push (r, 2.0, 6.0, FALSE);
  service_restart (sv);
  /* The replay of what the ring kept gives w800 first. */
  msgs = stt_check_collect (r->bus, NULL, 5000, stt_check_enough_final_words,
      GUINT_TO_POINTER (1));
  {
    GList *f = stt_check_filter_final (msgs, TRUE);
    fail_unless_equals_int (g_list_length (f), 1);
    fail_unless_equals_string (gst_structure_get_string (f->data, "text"), "w800");
    g_list_free (f);
  }
  seen = msgs;
  /* From here on at the pace of a live source, as it would be. */
  stt_check_run_push (r, 6.0, DURATION, TRUE);
  msgs = stt_check_run_finish (r, expected, NULL);
  service_free (sv, r);

  g_object_get (r->h->element, "stats", &stats, NULL);
  gst_structure_get_clock_time (stats, "audio-dropped", &dropped);
  gst_structure_free (stats);
  fail_unless_equals_uint64 (dropped, 2400 * GST_MSECOND);
  /* The reconnection says what was lost. */
  seen = g_list_concat (seen, msgs);
  for (l = seen; l; l = l->next) {
    if (!g_strcmp0 (gst_structure_get_string (l->data, "state"), "connected"))
      gst_structure_get_clock_time (l->data, "dropped", &announced);
  }
  fail_unless_equals_uint64 (announced, 2400 * GST_MSECOND);
  /* Said as it happened: a warning naming the stretch, and the stats. */
  {
    GstClockTime lost = 0, from = GST_CLOCK_TIME_NONE, to = GST_CLOCK_TIME_NONE;
    GstClockTime untranscribed = 0;

    for (l = seen; l; l = l->next) {
      if (gst_structure_has_name (l->data, "warning")
          && gst_structure_get_clock_time (l->data, "untranscribed", &untranscribed)) {
        lost += untranscribed;
        if (!GST_CLOCK_TIME_IS_VALID (from))
          gst_structure_get_clock_time (l->data, "from", &from);
        gst_structure_get_clock_time (l->data, "to", &to);
      }
    }
    stt_check_assert_time (lost, 2400 * GST_MSECOND, "untranscribed, warned");
    stt_check_assert_time (from, 1600 * GST_MSECOND, "lost from");
    stt_check_assert_time (to, 4000 * GST_MSECOND, "lost to");
    g_object_get (r->h->element, "stats", &stats, NULL);
    fail_unless (gst_structure_get_clock_time (stats, "audio-untranscribed",
            &untranscribed));
    gst_structure_free (stats);
    stt_check_assert_time (untranscribed, 2400 * GST_MSECOND, "audio-untranscribed");
  }
  /* Dropped: [1.6, 4.0); the first server may have heard the start of it. */
  check_coverage (r, 1.6, 4.0);
  g_list_free_full (seen, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* 11. EOS while reconnecting: the rest is sent once the server is back, within
 * drain-timeout, and EOS follows the last final. */
static gpointer
restart_later (gpointer data)
{
  g_usleep (G_USEC_PER_SEC);
  service_restart (data);
  return NULL;
}

GST_START_TEST (test_eos_while_reconnecting)
{
  Service *sv = service_new ();
  g_autofree gchar *url = service_url (sv);
  Run *r = run_new (url);
  GList *msgs;
  GThread *t;

  stt_check_run_push (r, 0, 3.0, FALSE);
  fail_unless (stt_test_server_wait_connections (sv->server, 1, FALSE, 5000));
  g_usleep (200 * 1000);
  service_kill (sv, r);
  stt_check_run_push (r, 3.0, DURATION, FALSE);
  t = g_thread_new ("restart", restart_later, sv);
  /* EOS now: the drain waits for the reconnect. */
  msgs = stt_check_run_finish (r, all_words, NULL);
  g_thread_join (t);
  /* EOS reaches downstream after the seven texts. */
  {
    GstEvent *ev;
    while ((ev = gst_harness_pull_event (r->h)) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
      gst_event_unref (ev);
    fail_unless (ev != NULL);
    gst_event_unref (ev);
  }
  fail_unless_equals_int (gst_harness_buffers_received (r->h), 7);
  service_free (sv, r);
  check_coverage (r, 0, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* 12. NULL while waiting to retry: prompt, and nothing runs afterwards. */
GST_START_TEST (test_null_while_waiting)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r;
  GList *msgs;
  gint64 t0;

  stt_test_server_free (server);
  r = run_new (url);
  g_object_set (r->h->element, "reconnect-initial-delay", 10 * GST_SECOND, NULL);
  stt_check_run_push (r, 0, 1.0, FALSE);
  msgs = stt_check_collect (r->bus, "stt-connection", 5000, NULL, NULL);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (r->h->element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC);
  stt_check_run_free (r);
}

GST_END_TEST;

/* 13. A live source through a 5 s outage: it never blocks, captions resume, and the
 * words spoken during the outage arrive after the reconnect. */
GST_START_TEST (test_live_outage)
{
  Service *sv = service_new ();
  g_autofree gchar *url = service_url (sv);
  Run *r = run_new (url);
  GList *msgs;
  gint64 longest, t;

  /* (MAX evaluates its arguments twice: push once, then compare.) */
  longest = stt_check_run_push (r, 0, 1.8, TRUE);
  service_kill (sv, r);
  t = stt_check_run_push (r, 1.8, 6.8, TRUE);
  longest = MAX (longest, t);
  service_restart (sv);
  t = stt_check_run_push (r, 6.8, DURATION, TRUE);
  longest = MAX (longest, t);
  msgs = stt_check_run_finish (r, all_words, NULL);
  /* A live source is never held up by the network. */
  fail_unless (longest < 100 * 1000, "a push blocked for %" G_GINT64_FORMAT " us", longest);
  service_free (sv, r);
  check_coverage (r, 0, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Network faults between the element and the server, through a TCP proxy. */

/* A reset without FIN (a NAT or router dropping the flow). */
GST_START_TEST (test_network_reset)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  SttFaultProxy *proxy = stt_fault_proxy_new (stt_test_server_get_port (server), NULL);
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen",
      stt_fault_proxy_get_port (proxy));
  Run *r = run_new (url);
  GList *msgs;

  stt_check_run_push (r, 0, 2.2, FALSE);
  fail_unless (stt_test_server_wait_connections (server, 1, FALSE, 5000));
  g_usleep (200 * 1000);
  stt_fault_proxy_drop_all (proxy);
  stt_check_run_push (r, 2.2, DURATION, FALSE);
  msgs = stt_check_run_finish (r, all_words, NULL);
  fail_unless (stt_fault_proxy_get_n_connections (proxy) >= 2);
  keep_audio (r, server, 0);
  check_coverage (r, 0, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_fault_proxy_free (proxy);
  stt_test_server_free (server);
}

GST_END_TEST;

static gboolean
saw_stall (GList * collected, gpointer user_data)
{
  for (; collected; collected = collected->next) {
    const gchar *reason = gst_structure_get_string (collected->data, "reason");
    if (reason && strstr (reason, "stalled"))
      return TRUE;
  }
  return FALSE;
}

/* A blackhole with the socket open (a dead route): only the watchdog can tell. */
GST_START_TEST (test_network_blackhole)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  SttFaultProxy *proxy = stt_fault_proxy_new (stt_test_server_get_port (server), NULL);
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen",
      stt_fault_proxy_get_port (proxy));
  Run *r = run_new (url);
  GList *seen, *msgs;

  g_object_set (r->h->element, "stall-timeout", GST_SECOND, "keepalive-interval",
      GST_SECOND, NULL);
  stt_check_run_push (r, 0, 2.2, FALSE);
  fail_unless (stt_test_server_wait_connections (server, 1, FALSE, 5000));
  g_usleep (200 * 1000);
  stt_fault_proxy_set_blackhole (proxy, TRUE);
  stt_check_run_push (r, 2.2, DURATION, FALSE);
  seen = stt_check_collect (r->bus, NULL, 5000, saw_stall, NULL);
  fail_unless (saw_stall (seen, NULL), "the watchdog did not notice the blackhole");
  /* The route comes back. */
  stt_fault_proxy_set_blackhole (proxy, FALSE);
  msgs = stt_check_run_finish (r, all_words, seen);
  keep_audio (r, server, 0);
  check_coverage (r, 0, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_fault_proxy_free (proxy);
  stt_test_server_free (server);
}

GST_END_TEST;

/* A live pause (PLAYING -> PAUSED -> PLAYING): no audio for 6 s, then it resumes with
 * timestamps 6 s later. The session stays up on keepalives, no reconnect, and the words
 * after the pause carry their new times. */
GST_START_TEST (test_live_pause)
{
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  g_autofree gchar *url = server_url (server);
  Run *r = run_new (url);
  GList *msgs, *finals, *l;
  g_auto (GStrv) texts = NULL;
  gboolean keepalive = FALSE;
  guint i;

  stt_check_run_push (r, 0, 3.6, FALSE);
  g_usleep (6 * G_USEC_PER_SEC);
  /* Resume: the same input, stamped 6 s later, marked DISCONT. */
  for (l = r->buffers; l; l = l->next) {
    GstBuffer *b;

    if (GST_BUFFER_PTS (l->data) < 3.6 * GST_SECOND - 1)
      continue;
    b = gst_buffer_copy (l->data);
    GST_BUFFER_PTS (b) += 6 * GST_SECOND;
    if (l->prev && GST_BUFFER_PTS (l->prev->data) < 3.6 * GST_SECOND - 1)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
    fail_unless_equals_int (gst_harness_push (r->h, b), GST_FLOW_OK);
  }
  gst_harness_push_event (r->h, gst_event_new_eos ());
  msgs = stt_check_collect (r->bus, NULL, 10000, stt_check_enough_final_words, GUINT_TO_POINTER (8));
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 7);
  for (l = finals; l; l = l->next) {
    const gchar *text = gst_structure_get_string (l->data, "text");
    g_auto (GStrv) words = g_strsplit (text, " ", 2);
    GstClockTime pts;
    gdouble want = stt_check_run_tone_start (r, words[0]);

    gst_structure_get_clock_time (l->data, "pts", &pts);
    if (want >= 3.6)
      want += 6;
    fail_unless (ABS (GST_CLOCK_DIFF (pts, (GstClockTime) (want * GST_SECOND))) <=
        30 * GST_MSECOND, "%s at %" GST_TIME_FORMAT, text, GST_TIME_ARGS (pts));
  }
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 1);
  fail_unless_equals_int (stt_check_count_state (msgs, "reconnecting"), 0);
  texts = stt_test_server_get_text_messages (server, 0);
  for (i = 0; texts && texts[i]; i++)
    if (strstr (texts[i], "KeepAlive"))
      keepalive = TRUE;
  fail_unless (keepalive, "no KeepAlive in the pause");
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_test_server_free (server);
}

GST_END_TEST;

static Suite *
resilience_suite (void)
{
  Suite *s = suite_create ("resilience");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_server_restart);
  tcase_add_test (tc, test_drop_without_close);
  tcase_add_test (tc, test_stall);
  tcase_add_test (tc, test_close_codes);
  tcase_add_test (tc, test_handshake_503);
  tcase_add_test (tc, test_429_retry_after);
  tcase_add_test (tc, test_token_renewal);
  tcase_add_test (tc, test_flapping);
  tcase_add_test (tc, test_session_rotation);
  tcase_add_test (tc, test_session_rotation_without_finals);
  tcase_add_test (tc, test_outage_longer_than_buffer);
  tcase_add_test (tc, test_eos_while_reconnecting);
  tcase_add_test (tc, test_null_while_waiting);
  tcase_add_test (tc, test_live_outage);
  tcase_add_test (tc, test_network_reset);
  tcase_add_test (tc, test_network_blackhole);
  tcase_add_test (tc, test_live_pause);
  return s;
}

GST_CHECK_MAIN (resilience);
