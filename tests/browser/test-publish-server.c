/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end with the real caption server (tests/caption's harness starts it on port 0
 * with a temporary store and secret): a live pipeline, tones at real-time pace through
 * stttranscribe on the local Deepgram-protocol server into sttpublish, and a viewer of the
 * test's own (libsoup, /watch/demo) that reconnects with `since` as the viewer page does.
 * Faults while a word is being spoken (interim text on screen): the publisher's
 * connection reset under it (the fault proxy, twice), and the server killed (SIGKILL) and
 * started again on the same port and store. The viewer must see every final exactly
 * once, in order, ids without a gap, interims along the way, and the room's stored
 * transcript must hold the finals only. And an stt-revision event into sttpublish:
 * the stored transcript and a joining viewer's history get the revision's words in
 * place of the finals it replaces. Every wait is bounded. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsrc.h>

#include "caption-test-utils.h"
#include "stt-check-utils.h"
#include "stt-fault-proxy.h"
#include "stt-test-server.h"

#define ROOM "demo"
#define RATE 16000
/* Words of 0.3 s, 0.15 s apart (shorter than the endpointing), four to a phrase. */
#define N_PHRASES 5
#define WORDS_PER_PHRASE 4
#define PHRASE_PAUSE 1.2
/* How long a viewer waits before it connects again (the page waits 0.5 to 1 s). */
#define VIEWER_RETRY_US (200 * 1000)

typedef struct
{
  CapTestServer *server;
  SttTestServer *stt;
  SttFaultProxy *proxy;         /* between sttpublish and the server, or NULL */
  SttTone *tones;
  guint n_tones;
  gdouble duration;

  GstElement *pipe, *src, *pub;
  GstBus *bus;
  GThread *feeder;
  /* From the bus (test thread). */
  gboolean eos;
  gchar *error;
  GPtrArray *warnings;          /* gchar* */
  guint connected;              /* sttpublish-connection "connected" messages */
  guint resent;                 /* finals sent again on a new connection, in all */
  guint waited;                 /* finals waiting when a new connection was welcomed */

  /* The viewer (test thread). */
  gchar *token;
  CapTestClient *viewer;
  gint64 retry_at;              /* when to connect again, 0 = now */
  guint welcomes;
  gint64 last_id;
  GPtrArray *finals;            /* gchar*: the finals' text, in arrival order */
  GPtrArray *revisions;         /* gchar*: the revisions' text, in arrival order */
  guint interims;
  gboolean interim_open;        /* an interim came after the last final */
} E2E;

static SttTone *
make_phrases (guint * n, gdouble * duration)
{
  SttTone *t = g_new0 (SttTone, N_PHRASES * WORDS_PER_PHRASE);
  gdouble at = 0.8;
  guint i;

  for (i = 0; i < N_PHRASES * WORDS_PER_PHRASE; i++) {
    if (i > 0 && i % WORDS_PER_PHRASE == 0)
      at += PHRASE_PAUSE - 0.15;
    t[i].start = at;
    t[i].end = at + 0.3;
    t[i].freq = 420 + 100 * ((i * 7) % 17);
    at = t[i].end + 0.15;
  }
  *n = N_PHRASES * WORDS_PER_PHRASE;
  *duration = at + 1.5;
  return t;
}

/* The feeder thread: the audio at the pace of a live source, then the end of stream. */
static gpointer
feed (gpointer data)
{
  E2E *t = data;
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1, t->duration,
      t->tones, t->n_tones, 0);
  GList *bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, RATE, 1, 20), *l;
  gint64 t0 = g_get_monotonic_time ();

  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next) {
    gint64 due = t0 + (gint64) (GST_BUFFER_PTS (l->data) / GST_USECOND);
    gint64 now = g_get_monotonic_time ();

    if (due > now)
      g_usleep (due - now);
    if (gst_app_src_push_buffer (GST_APP_SRC (t->src), gst_buffer_ref (l->data))
        != GST_FLOW_OK)
      break;
  }
  gst_app_src_end_of_stream (GST_APP_SRC (t->src));
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  return NULL;
}

/* Where the fault proxy goes: nowhere, between sttpublish and the caption server, or
 * between stttranscribe and its service (then with max-lag 2 s, so that an outage of a
 * few seconds is given up in the text output and comes as a revision). */
typedef enum
{
  PROXY_NONE,
  PROXY_PUBLISH,
  PROXY_SERVICE,
} ProxyAt;

static E2E *
e2e_new (ProxyAt proxy_at)
{
  E2E *t = g_new0 (E2E, 1);
  g_autofree gchar *direct = NULL, *stt_url = NULL, *pub_url = NULL, *desc = NULL;
  GError *err = NULL;
  GstCaps *caps;
  guint port, stt_port;
  const gchar *path;

  t->tones = make_phrases (&t->n_tones, &t->duration);
  t->server = cap_test_server_start (NULL);
  t->stt = stt_test_server_new ("deepgram", &err);
  fail_unless (t->stt != NULL, "%s", err ? err->message : "");
  port = t->server->port;
  stt_port = stt_test_server_get_port (t->stt);
  if (proxy_at != PROXY_NONE) {
    t->proxy = stt_fault_proxy_new (proxy_at == PROXY_PUBLISH ? port : stt_port, &err);
    fail_unless (t->proxy != NULL, "%s", err ? err->message : "");
    if (proxy_at == PROXY_PUBLISH)
      port = stt_fault_proxy_get_port (t->proxy);
    else
      stt_port = stt_fault_proxy_get_port (t->proxy);
  }
  /* The server's own URL, on the proxy's port when there is one. */
  direct = stt_test_server_get_url (t->stt);
  path = strchr (direct + strlen ("ws://"), '/');
  stt_url = g_strdup_printf ("ws://127.0.0.1:%u%s", stt_port, path ? path : "/");
  pub_url = g_strdup_printf ("ws://127.0.0.1:%u/publish/" ROOM, port);
  desc = g_strdup_printf ("appsrc name=src is-live=true format=time max-bytes=0 ! "
      "stttranscribe provider=deepgram url=%s api-key=test-key %s ! sttpublish name=pub "
      "url=%s token-secret-file=%s token-claims=\"claims, sub=studio\" "
      "reconnect-initial-delay=100000000 reconnect-max-delay=500000000", stt_url,
      proxy_at == PROXY_SERVICE ? "max-lag=2000000000 reconnect-initial-delay=100000000 "
      "reconnect-max-delay=500000000" : "", pub_url, t->server->secret_file);
  t->pipe = gst_parse_launch (desc, &err);
  fail_unless (t->pipe != NULL && err == NULL, "%s", err ? err->message : "");
  t->src = gst_bin_get_by_name (GST_BIN (t->pipe), "src");
  t->pub = gst_bin_get_by_name (GST_BIN (t->pipe), "pub");
  caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, RATE, 1);
  gst_app_src_set_caps (GST_APP_SRC (t->src), caps);
  gst_caps_unref (caps);
  t->bus = gst_element_get_bus (t->pipe);
  t->warnings = g_ptr_array_new_with_free_func (g_free);
  t->finals = g_ptr_array_new_with_free_func (g_free);
  t->revisions = g_ptr_array_new_with_free_func (g_free);
  t->token = cap_test_token (t->server, NULL, ROOM, "watch", NULL, 0, 600);
  return t;
}

static void
e2e_free (E2E * t)
{
  gst_element_set_state (t->pipe, GST_STATE_NULL);
  if (t->feeder)
    g_thread_join (t->feeder);
  gst_object_unref (t->src);
  gst_object_unref (t->pub);
  gst_object_unref (t->bus);
  gst_object_unref (t->pipe);
  if (t->viewer)
    cap_test_client_free (t->viewer);
  stt_fault_proxy_free (t->proxy);
  stt_test_server_free (t->stt);
  cap_test_server_free (t->server, FALSE);
  g_ptr_array_unref (t->warnings);
  g_ptr_array_unref (t->finals);
  g_ptr_array_unref (t->revisions);
  g_free (t->error);
  g_free (t->token);
  g_free (t->tones);
  g_free (t);
}

static void
read_bus (E2E * t)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop (t->bus))) {
    GError *err = NULL;
    const GstStructure *s;

    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        t->eos = TRUE;
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, NULL);
        if (t->error == NULL)
          t->error = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (msg->src), err->message);
        g_error_free (err);
        break;
      case GST_MESSAGE_WARNING:
        gst_message_parse_warning (msg, &err, NULL);
        g_ptr_array_add (t->warnings, g_strdup_printf ("%s: %s",
                GST_OBJECT_NAME (msg->src), err->message));
        g_error_free (err);
        break;
      case GST_MESSAGE_ELEMENT:
        s = gst_message_get_structure (msg);
        if (gst_structure_has_name (s, "sttpublish-connection")
            && g_strcmp0 (gst_structure_get_string (s, "state"), "connected") == 0) {
          guint resent = 0, pending = 0;

          gst_structure_get_uint (s, "resent", &resent);
          gst_structure_get_uint (s, "pending", &pending);
          GST_INFO ("sttpublish connected: %u resent, %u pending", resent, pending);
          t->connected++;
          if (t->connected > 1) {
            t->resent += resent;
            t->waited += pending;
          }
        }
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
}

/* A viewer message: a final must be the next id (never one seen, never a gap). */
static void
viewer_message (E2E * t, JsonObject * m)
{
  const gchar *type = json_object_get_string_member (m, "type");

  if (g_str_equal (type, "welcome")) {
    t->welcomes++;
    /* The store kept its ids: a restart never goes back. */
    fail_unless (json_object_get_int_member (m, "last_id") >= t->last_id);
  } else if (g_str_equal (type, "final")) {
    gint64 id = json_object_get_int_member (m, "id");

    fail_unless (id == t->last_id + 1, "final id %" G_GINT64_FORMAT " after %"
        G_GINT64_FORMAT " ('%s')", id, t->last_id, json_object_get_string_member (m,
            "text"));
    t->last_id = id;
    g_ptr_array_add (t->finals, g_strdup (json_object_get_string_member (m, "text")));
    t->interim_open = FALSE;
  } else if (g_str_equal (type, "revision")) {
    gint64 id = json_object_get_int_member (m, "id");

    fail_unless (id == t->last_id + 1, "revision id %" G_GINT64_FORMAT " after %"
        G_GINT64_FORMAT, id, t->last_id);
    t->last_id = id;
    g_ptr_array_add (t->revisions, g_strdup (json_object_get_string_member (m,
                "text")));
  } else if (g_str_equal (type, "interim")) {
    fail_if (json_object_has_member (m, "id"));
    fail_unless (json_object_get_string_member (m, "text")[0] != '\0');
    t->interims++;
    t->interim_open = TRUE;
  } else {
    fail ("the viewer got a '%s'", type);
  }
}

/* Connects the viewer when due, reads what it got, notices when it was cut off. */
static void
poll_viewer (E2E * t)
{
  JsonObject *m;

  if (t->viewer == NULL && g_get_monotonic_time () >= t->retry_at) {
    g_autofree gchar *path = t->last_id > 0 ?
        g_strdup_printf ("/watch/" ROOM "?token=%s&since=%" G_GINT64_FORMAT, t->token,
        t->last_id) : g_strdup_printf ("/watch/" ROOM "?token=%s", t->token);

    t->viewer = cap_test_client_connect (t->server, path, NULL, NULL);
    if (t->viewer->ws == NULL) {
      /* The server is down: try again shortly. */
      cap_test_client_free (t->viewer);
      t->viewer = NULL;
      t->retry_at = g_get_monotonic_time () + VIEWER_RETRY_US;
      return;
    }
  }
  if (t->viewer == NULL)
    return;
  while (t->viewer->messages.length > 0) {
    m = g_queue_pop_head (&t->viewer->messages);
    g_free (g_queue_pop_head (&t->viewer->times));
    viewer_message (t, m);
    json_object_unref (m);
  }
  if (t->viewer->closed) {
    cap_test_client_free (t->viewer);
    t->viewer = NULL;
    t->retry_at = g_get_monotonic_time () + VIEWER_RETRY_US;
  }
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

typedef gboolean (*E2EDone) (E2E * t, gpointer data);

/* Runs the main context (the viewer) and reads the bus until @done or @timeout_ms. */
static gboolean
pump (E2E * t, E2EDone done, gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint id = g_timeout_add (20, tick, NULL);
  gboolean ok;

  for (;;) {
    read_bus (t);
    poll_viewer (t);
    if ((ok = done (t, data)) || t->error || g_get_monotonic_time () > deadline)
      break;
    g_main_context_iteration (NULL, TRUE);
  }
  g_source_remove (id);
  return ok;
}

static gboolean
never (E2E * t, gpointer data)
{
  return FALSE;
}

/* A word is being spoken: @n finals on screen and interim text after the last. */
static gboolean
mid_sentence (E2E * t, gpointer n)
{
  return t->finals->len >= GPOINTER_TO_UINT (n) && t->interim_open;
}

static guint64
published (E2E * t)
{
  guint64 n = 0;

  g_object_get (t->pub, "published", &n, NULL);
  return n;
}

static gboolean
published_at_least (E2E * t, gpointer n)
{
  return published (t) >= GPOINTER_TO_UINT (n);
}

static gboolean
ended (E2E * t, gpointer data)
{
  return t->eos && t->finals->len >= t->n_tones;
}

static void
e2e_play (E2E * t)
{
  fail_unless (gst_element_set_state (t->pipe, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  pump (t, never, NULL, 100);
  fail_unless (t->viewer != NULL, "the viewer could not connect");
  t->feeder = g_thread_new ("feeder", feed, t);
}

/* The end of the stream, then what the viewer and the store hold. */
static void
e2e_finish (E2E * t)
{
  g_autofree gchar *path = NULL, *vtt = NULL;
  g_auto (GStrv) lines = NULL;
  guint status = 0, i, cues = 0;

  fail_unless (pump (t, ended, NULL, (guint) (t->duration * 1000) + 20000),
      "eos %d, %u of %u finals seen, error %s", t->eos, t->finals->len, t->n_tones,
      t->error ? t->error : "none");
  fail_unless (t->error == NULL, "%s", t->error);
  fail_unless (t->warnings->len == 0, "%s", t->warnings->len ?
      (gchar *) g_ptr_array_index (t->warnings, 0) : "");

  /* Every word once, in order (ids were checked one by one as they came). */
  fail_unless_equals_int (t->finals->len, t->n_tones);
  for (i = 0; i < t->n_tones; i++) {
    g_autofree gchar *want = stt_check_tone_word (&t->tones[i]);
    g_autofree gchar *got = stt_check_bare_word (g_ptr_array_index (t->finals, i));

    fail_unless_equals_string (got, want);
  }
  fail_unless (t->interims >= N_PHRASES, "%u interims", t->interims);

  /* The store holds the finals, and only them, in order. */
  path = g_strdup_printf ("/rooms/" ROOM "/transcript.vtt?token=%s", t->token);
  vtt = cap_test_http_get (t->server, path, NULL, &status);
  fail_unless_equals_int (status, 200);
  lines = g_strsplit (vtt, "\n", -1);
  for (i = 0; lines[i]; i++) {
    g_autofree gchar *want = NULL, *got = NULL;

    if (strstr (lines[i], " --> ") == NULL)
      continue;
    fail_unless (lines[i + 1] != NULL);
    fail_unless (cues < t->n_tones, "more cues than words:\n%s", vtt);
    want = stt_check_tone_word (&t->tones[cues]);
    got = stt_check_bare_word (lines[i + 1]);
    fail_unless_equals_string (got, want);
    cues++;
  }
  fail_unless_equals_int (cues, t->n_tones);
}

/* The publisher's connection reset (RST, no close frame) twice while a word is being
 * spoken, the second time after two finals went into a connection that had silently
 * stopped carrying anything (they were lost on the way: they must be sent again); the
 * server and the viewer stay up. */
GST_START_TEST (test_publisher_dropped)
{
  E2E *t = e2e_new (PROXY_PUBLISH);
  guint64 sent;

  e2e_play (t);
  fail_unless (pump (t, mid_sentence, GUINT_TO_POINTER (3), 15000));
  stt_fault_proxy_drop_all (t->proxy);
  fail_unless (pump (t, mid_sentence, GUINT_TO_POINTER (9), 15000));
  stt_fault_proxy_set_blackhole (t->proxy, TRUE);
  sent = published (t);
  fail_unless (pump (t, published_at_least, GUINT_TO_POINTER (sent + 2), 15000));
  stt_fault_proxy_drop_all (t->proxy);
  stt_fault_proxy_set_blackhole (t->proxy, FALSE);
  e2e_finish (t);
  fail_unless (stt_fault_proxy_get_n_connections (t->proxy) >= 3);
  fail_unless (t->connected >= 3, "%u connections welcomed", t->connected);
  fail_unless (t->resent >= 2, "%u finals sent again", t->resent);
  fail_unless_equals_int (t->welcomes, 1);
  e2e_free (t);
}

GST_END_TEST;

/* The server killed while a word is being spoken and started again 2.5 s later on the
 * same port and store (the phrase's finals come meanwhile and wait): the publisher and
 * the viewer come back, the viewer with `since`. */
GST_START_TEST (test_server_killed)
{
  E2E *t = e2e_new (PROXY_NONE);
  g_autofree gchar *port_arg = NULL;
  const gchar *args[2] = { NULL, NULL };
  CapTestServer *old;

  e2e_play (t);
  fail_unless (pump (t, mid_sentence, GUINT_TO_POINTER (5), 15000));
  /* SIGKILL: no close frames, nothing flushed but what SQLite already committed. */
  old = t->server;
  g_subprocess_force_exit (old->proc);
  g_subprocess_wait (old->proc, NULL, NULL);
  g_clear_object (&old->proc);
  pump (t, never, NULL, 2500);
  port_arg = g_strdup_printf ("--port=%u", old->port);
  args[0] = port_arg;
  t->server = cap_test_server_restart (old, args);
  fail_unless_equals_int (t->server->port, old->port);
  cap_test_server_free (old, TRUE);
  e2e_finish (t);
  fail_unless (t->connected >= 2, "%u connections welcomed", t->connected);
  fail_unless (t->waited >= 1, "no final waited for the server");
  fail_unless (t->welcomes >= 2, "%u viewer welcomes", t->welcomes);
  e2e_free (t);
}

GST_END_TEST;

static gboolean
revised_and_ended (E2E * t, gpointer data)
{
  return t->eos && t->revisions->len > 0;
}

/* The words of @text (a cue, a final, a revision), bare, appended to @out. */
static void
add_words (GPtrArray * out, const gchar * text)
{
  g_auto (GStrv) parts = g_strsplit_set (text, " \n", -1);
  guint i;

  for (i = 0; parts[i]; i++) {
    gchar *bare = stt_check_bare_word (parts[i]);

    if (*bare)
      g_ptr_array_add (out, bare);
    else
      g_free (bare);
  }
}

/* stttranscribe's service out for 4 s in the middle of a phrase, with max-lag 2 s: when
 * it is back the text output gives the backlog up for the live edge, and the backlog's
 * words come as an stt-revision event, which sttpublish forwards. The viewer gets one
 * revision, and what it got (finals and revision) and the room's stored transcript
 * each hold every word once, in order. */
GST_START_TEST (test_service_outage_revised)
{
  E2E *t = e2e_new (PROXY_SERVICE);
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) stored = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *path = NULL, *vtt = NULL;
  g_auto (GStrv) lines = NULL;
  guint status = 0, i;

  e2e_play (t);
  fail_unless (pump (t, mid_sentence, GUINT_TO_POINTER (5), 15000));
  stt_fault_proxy_set_refuse (t->proxy, TRUE);
  stt_fault_proxy_drop_all (t->proxy);
  pump (t, never, NULL, 4000);
  stt_fault_proxy_set_refuse (t->proxy, FALSE);
  fail_unless (pump (t, revised_and_ended, NULL, (guint) (t->duration * 1000) + 20000),
      "eos %d, %u revisions, error %s", t->eos, t->revisions->len,
      t->error ? t->error : "none");
  fail_unless (t->error == NULL, "%s", t->error);
  fail_unless_equals_int (t->revisions->len, 1);

  /* The viewer: the finals, with the revision's words where it says. */
  for (i = 0; i < t->finals->len; i++)
    add_words (seen, g_ptr_array_index (t->finals, i));
  add_words (seen, g_ptr_array_index (t->revisions, 0));
  fail_unless_equals_int (seen->len, t->n_tones);

  /* The store: every word once, in order, the revision's in place. */
  path = g_strdup_printf ("/rooms/" ROOM "/transcript.vtt?token=%s", t->token);
  vtt = cap_test_http_get (t->server, path, NULL, &status);
  fail_unless_equals_int (status, 200);
  lines = g_strsplit (vtt, "\n", -1);
  for (i = 0; lines[i]; i++) {
    if (strstr (lines[i], " --> ") == NULL)
      continue;
    /* A cue's text runs to the blank line. */
    for (i++; lines[i] && *lines[i]; i++)
      add_words (stored, lines[i]);
    if (!lines[i])
      break;
  }
  fail_unless_equals_int (stored->len, t->n_tones);
  for (i = 0; i < t->n_tones; i++) {
    g_autofree gchar *want = stt_check_tone_word (&t->tones[i]);

    fail_unless_equals_string (g_ptr_array_index (stored, i), want);
  }
  e2e_free (t);
}

GST_END_TEST;

/* ---------- a revision, through the real server ---------- */

/* As stttranscribe's words mode pushes them: the backup heard "Captions über alles". */
static const SttCheckWord backup_words[] = {
  {"Hello", 0.52, 0.9}, {"world.", 1.0, 1.37}, {"Captions", 2.5, 3.1}, {"über", 3.2, 3.5},
  {"alles", 3.6, 4.25}, {"today", 5.0, 5.4},
};

/* The primary's words for [2.5, 4.25). */
static const SttCheckWord primary_words[] = {
  {"Caption", 2.5, 3.05}, {"is", 3.2, 3.4}, {"über", 3.5, 3.9},
};

static gchar *
fetch_transcript (CapTestServer * server, const gchar * token, const gchar * ext)
{
  g_autofree gchar *path = g_strdup_printf ("/rooms/" ROOM "/transcript.%s?token=%s",
      ext, token);
  guint status = 0;
  gchar *body = cap_test_http_get (server, path, NULL, &status);

  fail_unless_equals_int (status, 200);
  return body;
}

static JsonObject *
expect_message (CapTestClient * viewer, const gchar * type, gint64 id, const gchar * text)
{
  JsonObject *m = cap_test_client_next (viewer, CAP_TEST_WAIT_MS);

  fail_unless (m != NULL, "no %s %" G_GINT64_FORMAT, type, id);
  fail_unless_equals_string (json_object_get_string_member (m, "type"), type);
  fail_unless_equals_int (json_object_get_int_member (m, "id"), id);
  fail_unless_equals_string (json_object_get_string_member (m, "text"), text);
  return m;
}

/* sttpublish forwards an stt-revision event (as stttranscribe pushes it after a
 * failover): a live viewer gets it, and the room's stored transcript (.vtt, .srt) and a
 * joining viewer's history have the primary's words in place of the backup's, the
 * captions around them untouched. */
GST_START_TEST (test_revision)
{
  CapTestServer *server = cap_test_server_start (NULL);
  g_autofree gchar *token = cap_test_token (server, NULL, ROOM, "watch", NULL, 0, 600);
  g_autofree gchar *desc = NULL, *vtt = NULL, *srt = NULL;
  CapTestClient *viewer = cap_test_open_viewer (server, ROOM, "", 0), *late;
  g_autoptr (JsonObject) rev = NULL;
  GstElement *pipe, *src, *pub;
  GstMessage *msg;
  GstBus *bus;
  guint64 published = 0, acknowledged = 0;
  guint i;

  desc = g_strdup_printf ("appsrc name=src format=time caps=text/x-raw,format=utf8 ! "
      "sttpublish name=pub url=ws://127.0.0.1:%u/publish/" ROOM " token-secret-file=%s "
      "token-claims=\"claims, sub=studio\"", server->port, server->secret_file);
  pipe = gst_parse_launch (desc, NULL);
  fail_unless (pipe != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  pub = gst_bin_get_by_name (GST_BIN (pipe), "pub");
  bus = gst_element_get_bus (pipe);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);

  for (i = 0; i < G_N_ELEMENTS (backup_words); i++) {
    const SttCheckWord *w = &backup_words[i];
    GstBuffer *buf = gst_buffer_new_memdup (w->text, strlen (w->text));

    GST_BUFFER_PTS (buf) = (GstClockTime) (w->start * GST_SECOND + 0.5);
    GST_BUFFER_DURATION (buf) = (GstClockTime) ((w->end - w->start) * GST_SECOND + 0.5);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), buf),
        GST_FLOW_OK);
  }
  for (i = 0; i < G_N_ELEMENTS (backup_words); i++)
    json_object_unref (expect_message (viewer, "final", i + 1, backup_words[i].text));
  fail_unless (gst_element_send_event (src, stt_check_revision_event (2.5, 4.25,
              primary_words, G_N_ELEMENTS (primary_words))));
  rev = expect_message (viewer, "revision", 7, "Caption is über");
  fail_unless_equals_string (json_object_get_string_member (rev, "publisher"), "studio");
  fail_unless_equals_int (json_object_get_int_member (rev, "seq"), 7);
  fail_unless (json_object_get_double_member (rev, "start") == 2.5);
  fail_unless (json_object_get_double_member (rev, "end") == 4.25);
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member (rev,
              "words")), 3);

  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  g_object_get (pub, "published", &published, "acknowledged", &acknowledged, NULL);
  fail_unless_equals_int (published, 7);
  fail_unless_equals_int (acknowledged, 7);

  vtt = fetch_transcript (server, token, "vtt");
  fail_unless_equals_string (vtt, "WEBVTT\n\n"
      "1\n00:00:00.520 --> 00:00:00.900\nHello\n\n"
      "2\n00:00:01.000 --> 00:00:01.370\nworld.\n\n"
      "3\n00:00:02.500 --> 00:00:03.900\nCaption is über\n\n"
      "4\n00:00:05.000 --> 00:00:05.400\ntoday\n\n");
  srt = fetch_transcript (server, token, "srt");
  fail_unless_equals_string (srt,
      "1\n00:00:00,520 --> 00:00:00,900\nHello\n\n"
      "2\n00:00:01,000 --> 00:00:01,370\nworld.\n\n"
      "3\n00:00:02,500 --> 00:00:03,900\nCaption is über\n\n"
      "4\n00:00:05,000 --> 00:00:05,400\ntoday\n\n");

  /* A viewer joining now: the backup's words are not in its history. */
  late = cap_test_open_viewer (server, ROOM, "", 7);
  json_object_unref (expect_message (late, "final", 1, "Hello"));
  json_object_unref (expect_message (late, "final", 2, "world."));
  json_object_unref (expect_message (late, "final", 6, "today"));
  json_object_unref (expect_message (late, "revision", 7, "Caption is über"));

  cap_test_client_free (late);
  cap_test_client_free (viewer);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (pub);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  fail_unless_equals_int (cap_test_server_stop (server), 0);
  cap_test_server_free (server, FALSE);
}

GST_END_TEST;

static Suite *
publish_server_suite (void)
{
  Suite *s = suite_create ("publish-server");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 90);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_publisher_dropped);
  tcase_add_test (tc, test_server_killed);
  tcase_add_test (tc, test_revision);
  tcase_add_test (tc, test_service_outage_revised);
  return s;
}

GST_CHECK_MAIN (publish_server);
