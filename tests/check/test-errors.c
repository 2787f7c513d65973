/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bad input gets a clear error and loses nothing: rejected keys, refused requests,
 * malformed server messages, and state changes at awkward moments. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

static const SttTone tones[] = { {0.5, 0.9, 440}, {1.4, 1.8, 700} };

typedef struct
{
  GstHarness *h;
  GstBus *bus;
} Fixture;

static Fixture
start_with_file (const gchar * key, const gchar * key_file)
{
  Fixture f;

  f.h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  f.bus = gst_bus_new ();
  gst_element_set_bus (f.h->element, f.bus);
  g_object_set (f.h->element, "provider", "deepgram", "url", stt_fx.url, "api-key", key,
      "api-key-file", key_file, NULL);
  gst_harness_set_src_caps (f.h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  return f;
}

static Fixture
start (const gchar * key)
{
  return start_with_file (key, NULL);
}

static void
stop (Fixture * f)
{
  stt_check_harness_free (f->h, f->bus);
}

/* Pushes [from, to) seconds of the test audio in 20 ms buffers; returns the last flow. */
static GstFlowReturn
push_range (GstHarness * h, gdouble from, gdouble to)
{
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.4, tones,
      G_N_ELEMENTS (tones), 0);
  GList *bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 16000, 1, 20), *l;
  GstFlowReturn ret = GST_FLOW_OK;

  for (l = bufs; l; l = l->next) {
    GstClockTime pts = GST_BUFFER_PTS (l->data);

    if (pts >= from * GST_SECOND && pts < to * GST_SECOND && ret == GST_FLOW_OK)
      ret = gst_harness_push (h, gst_buffer_ref (l->data));
  }
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  gst_buffer_unref (all);
  return ret;
}

static const GstStructure *
find_error (GList * list)
{
  for (; list; list = list->next)
    if (gst_structure_has_name (list->data, "error"))
      return list->data;
  return NULL;
}

/* The session ended in an error (stt_check_wait_fatal: no retry can follow) naming the
 * service, @status and where keys come from; the key itself never shows. */
static void
check_auth_error (Fixture * f, guint status)
{
  GstStructure *err = stt_check_wait_fatal (f->bus, 10000);
  g_autofree gchar *status_str = g_strdup_printf ("HTTP %u", status);

  stt_check_error_says (err, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Deepgram", status_str,
      "wrong-key");
  fail_unless (strstr (gst_structure_get_string (err, "message"), "DEEPGRAM_API_KEY")
      != NULL, "%s", gst_structure_get_string (err, "message"));
  gst_structure_free (err);
}

GST_START_TEST (test_bad_key)
{
  Fixture f = start ("wrong-key");
  GstFlowReturn ret;

  push_range (f.h, 0, 1.0);
  check_auth_error (&f, 401);
  /* No retry loop: one handshake, and the stream stops with an error flow. */
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  /* The element posts its error just before it marks itself failed (so that upstream's
   * "Internal data stream error" comes second): a push may still pass in between, but
   * not for long. */
  {
    gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

    while ((ret = push_range (f.h, 1.0, 2.4)) == GST_FLOW_OK
        && g_get_monotonic_time () < deadline)
      g_usleep (10 * 1000);
  }
  fail_unless_equals_int (ret, GST_FLOW_ERROR);
  stop (&f);
}

GST_END_TEST;

/* Pushes a second of audio into @f and checks the error: RESOURCE @code, its text
 * holding each of @want (NULL-terminated), and no connection tried at all. */
static void
check_start_error (Fixture * f, gint code, const gchar * const *want)
{
  GstStructure *err;
  const gchar *text;
  gint got;

  push_range (f->h, 0, 1.0);
  err = stt_check_wait_error (f->bus, 5000);
  fail_unless (err != NULL, "no error posted");
  text = gst_structure_get_string (err, "message");
  gst_structure_get_int (err, "code", &got);
  fail_unless_equals_int (got, code);
  for (; *want; want++)
    fail_unless (strstr (text, *want) != NULL, "%s", text);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 0);
  gst_structure_free (err);
  stop (f);
}

/* No key anywhere: an error at start saying where keys come from, and no connection
 * tried at all (a keyless handshake would only be refused). */
GST_START_TEST (test_no_key)
{
  static const gchar *const want[] = { "Deepgram", "DEEPGRAM_API_KEY", "api-key-file",
    NULL
  };
  Fixture f = start (NULL);

  check_start_error (&f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, want);
}

GST_END_TEST;

/* An api-key-file that cannot be read is said, with its path, at start. */
GST_START_TEST (test_unreadable_key_file)
{
  static const gchar *const want[] = { "/nonexistent/dg.key", NULL };
  Fixture f = start_with_file (NULL, "/nonexistent/dg.key");

  check_start_error (&f, GST_RESOURCE_ERROR_NOT_FOUND, want);
}

GST_END_TEST;

static void
run_to_finals (Fixture * f)
{
  GList *msgs, *finals;

  push_range (f->h, 0, 2.4);
  gst_harness_push_event (f->h, gst_event_new_eos ());
  msgs = stt_check_collect (f->bus, "stt-transcript", 10000, stt_check_n_finals,
      GUINT_TO_POINTER (2));
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 2);
  fail_unless_equals_string (gst_structure_get_string (finals->data, "text"), "w400");
  fail_unless_equals_string (gst_structure_get_string (finals->next->data, "text"),
      "w700");
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
}

/* The key comes from a file (read for each attempt), or from the environment. */
GST_START_TEST (test_key_sources)
{
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("stt-key-XXXXXX", &path, NULL);
  Fixture f;
  g_autofree gchar *auth = NULL;

  fail_unless (fd >= 0);
  fail_unless (write (fd, "test-key\n", 9) == 9);
  close (fd);

  f = start (NULL);
  g_object_set (f.h->element, "api-key-file", path, NULL);
  run_to_finals (&f);
  stop (&f);
  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless_equals_string (auth, "Token test-key");

  g_setenv ("DEEPGRAM_API_KEY", "test-key", TRUE);
  f = start (NULL);
  run_to_finals (&f);
  stop (&f);
  g_setenv ("DEEPGRAM_API_KEY", "", TRUE);

  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

/* Read back, the key is masked. */
GST_START_TEST (test_key_masked)
{
  GstElement *e = gst_element_factory_make ("stttranscribe", NULL);
  gchar *key = NULL;

  g_object_set (e, "api-key", "secret-123", NULL);
  g_object_get (e, "api-key", &key, NULL);
  fail_unless_equals_string (key, "***");
  g_free (key);
  gst_object_unref (e);
}

GST_END_TEST;

/* A refused request (400) is fatal at once, with the status. */
GST_START_TEST (test_bad_request)
{
  Fixture f = start ("test-key");
  GstStructure *err;

  stt_test_server_fail_handshakes (stt_fx.server, 400, 1, NULL);
  push_range (f.h, 0, 1.0);
  /* No retry: the session ended (stt_check_wait_fatal) after one handshake. */
  err = stt_check_wait_fatal (f.bus, 10000);
  stt_check_error_says (err, GST_RESOURCE_ERROR_SETTINGS, "Deepgram", "HTTP 400", NULL);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  gst_structure_free (err);
  stop (&f);
}

GST_END_TEST;

/* Waits (up to 10 s) until the stats of @stt count @n malformed messages. */
static gboolean
wait_malformed (GstElement * stt, guint64 n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint64 malformed = 0;

  for (;;) {
    GstStructure *stats = NULL;

    g_object_get (stt, "stats", &stats, NULL);
    gst_structure_get_uint64 (stats, "malformed-messages", &malformed);
    gst_structure_free (stats);
    if (malformed >= n || g_get_monotonic_time () > deadline)
      return malformed >= n;
    g_usleep (10 * 1000);
  }
}

/* Malformed server messages are logged, counted and skipped; the words still arrive. */
GST_START_TEST (test_malformed_messages)
{
  static const gchar *const junk[] = {
    "{not json", "[1,2,3]", "\"a string\"", "{\"type\":\"Results\",\"channel\":5}",
    "{\"type\":\"Results\",\"start\":\"x\",\"channel\":{\"alternatives\":[{\"words\":7}]}}",
    "{\"type\":\"SomethingNew\"}", "{}", "null",
  };
  Fixture f = start ("test-key");
  GstStructure *stats = NULL;
  guint64 malformed = 0;
  guint i;

  push_range (f.h, 0, 1.0);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, FALSE, 5000));
  for (i = 0; i < G_N_ELEMENTS (junk); i++)
    stt_test_server_send_text (stt_fx.server, junk[i]);
  /* The rest once the element has taken the junk in (all but the structurally valid
   * empty Results count as malformed), so it comes mid-stream. */
  fail_unless (wait_malformed (f.h->element, 5));
  {
    GList *msgs;

    push_range (f.h, 1.0, 2.4);
    gst_harness_push_event (f.h, gst_event_new_eos ());
    msgs = stt_check_collect (f.bus, "stt-transcript", 10000, stt_check_n_finals,
      GUINT_TO_POINTER (2));
    fail_if (find_error (msgs) != NULL);
    {
      GList *finals = stt_check_filter_final (msgs, TRUE);
      fail_unless_equals_int (g_list_length (finals), 2);
      g_list_free (finals);
    }
    g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  }
  g_object_get (f.h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "malformed-messages", &malformed));
  /* The structurally valid but empty Results is not malformed. */
  fail_unless (malformed >= 5, "malformed %" G_GUINT64_FORMAT, malformed);
  gst_structure_free (stats);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  stop (&f);
}

GST_END_TEST;

/* NULL in the middle of a stream returns promptly and leaves nothing running. */
GST_START_TEST (test_null_midstream)
{
  guint i;

  for (i = 0; i < 10; i++) {
    Fixture f = start ("test-key");

    push_range (f.h, 0, 0.2 * (i + 1));
    if (i % 2)
      fail_unless (stt_test_server_wait_connections (stt_fx.server, i / 2 + 1, FALSE,
              5000));
    fail_unless_equals_int (gst_element_set_state (f.h->element, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    stop (&f);
  }
  /* Every connection the element opened was closed. */
  fail_unless (stt_test_server_wait_connections (stt_fx.server,
          stt_test_server_get_n_connections (stt_fx.server), TRUE, 5000));
}

GST_END_TEST;

static gboolean
is_connecting (GList * collected, gpointer user_data)
{
  return stt_check_count_state (collected, "connecting") > 0;
}

/* NULL while the handshake hangs (a server that accepts TCP and never answers). */
GST_START_TEST (test_null_while_connecting)
{
  GSocketListener *listener = g_socket_listener_new ();
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0);
  GSocketAddress *bound = NULL;
  g_autofree gchar *silent_url = NULL;
  Fixture f;
  GList *msgs;
  gint64 t0;

  fail_unless (g_socket_listener_add_address (listener, addr, G_SOCKET_TYPE_STREAM,
          G_SOCKET_PROTOCOL_TCP, NULL, &bound, NULL));
  silent_url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  f = start ("test-key");
  g_object_set (f.h->element, "url", silent_url, NULL);
  push_range (f.h, 0, 1.0);
  /* Connecting: the server accepts TCP and never answers, so the handshake hangs. */
  msgs = stt_check_collect (f.bus, NULL, 5000, is_connecting, NULL);
  fail_unless (is_connecting (msgs, NULL), "not connecting");
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (f.h->element, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  /* Prompt: not the TCP or handshake timeout. */
  fail_unless (g_get_monotonic_time () - t0 < 2 * G_USEC_PER_SEC);
  stop (&f);

  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_socket_listener_close (listener);
  g_object_unref (listener);
}

GST_END_TEST;

/* A port where nothing listens gets the provider's hint (start stt-local-server); a
 * server that is there but answers no WebSocket does not: the hint would mislead. */
static gchar *
vosk_error_text (const gchar * vosk_url)
{
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  GstBus *bus = gst_bus_new ();
  GstStructure *err;
  gchar *text;

  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "url", vosk_url, NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 0.1, NULL,
          0, 0));
  err = stt_check_wait_error (bus, 20000);
  fail_unless (err != NULL, "no error for %s", vosk_url);
  text = g_strdup (gst_structure_get_string (err, "message"));
  gst_structure_free (err);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  return text;
}

/* Accepts TCP connections and closes each at once, until its socket is closed. */
static gpointer
hang_up_thread (gpointer data)
{
  GSocket *sock = data;
  GSocket *c;

  while ((c = g_socket_accept (sock, NULL, NULL)) != NULL) {
    g_socket_close (c, NULL);
    g_object_unref (c);
  }
  return NULL;
}

static GSocket *
loopback_listen (guint * port)
{
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0), *bound;
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);

  fail_unless (g_socket_bind (sock, addr, TRUE, NULL));
  fail_unless (g_socket_listen (sock, NULL));
  bound = g_socket_get_local_address (sock, NULL);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  return sock;
}

GST_START_TEST (test_unreachable_hint)
{
  guint port;
  GSocket *sock = loopback_listen (&port);
  GThread *thread;
  g_autofree gchar *refused = NULL, *hung_up = NULL, *text = NULL;

  /* Something that listens and hangs up: not a refused connection. */
  hung_up = g_strdup_printf ("ws://127.0.0.1:%u", port);
  thread = g_thread_new ("hang-up", hang_up_thread, sock);
  text = vosk_error_text (hung_up);
  fail_unless (strstr (text, "stt-local-server") == NULL, "%s", text);
  g_socket_shutdown (sock, TRUE, TRUE, NULL);
  g_socket_close (sock, NULL);
  g_thread_join (thread);
  g_object_unref (sock);
  g_free (text);

  /* Closed now: nothing listens on that port any more. */
  refused = g_strdup_printf ("ws://127.0.0.1:%u", port);
  text = vosk_error_text (refused);
  fail_unless (strstr (text, "stt-local-server") != NULL, "%s", text);
}

GST_END_TEST;

/* vosk-server has no language setting: said once, at start, not ignored silently. */
GST_START_TEST (test_vosk_language_warned)
{
  GstElement *e = gst_element_factory_make ("stttranscribe", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "provider", "vosk", "language", "de", NULL);
  fail_unless (gst_element_set_state (e, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 2 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning");
  gst_message_parse_warning (msg, &err, NULL);
  fail_unless (strstr (err->message, "language-code=de") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

GST_END_TEST;

/* In a real pipeline the element's own error is the first one on the bus, before the
 * source's "Internal data stream error" that the flow error causes. */
GST_START_TEST (test_own_error_first)
{
  g_autofree gchar *desc = g_strdup_printf ("audiotestsrc is-live=false ! "
      "audio/x-raw,rate=16000,channels=1 ! stttranscribe name=stt provider=deepgram "
      "url=%s api-key=wrong-key ! fakesink", stt_fx.url);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;

  fail_unless (pipe != NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error");
  fail_unless_equals_string (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), "stt");
  gst_message_unref (msg);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* An application that stops the pipeline from a bus sync handler (it runs on the
 * element's I/O thread), e.g. a voice-command app on its first transcript: safe on every
 * message the element posts, at every stage of a stream. */
typedef struct
{
  GstElement *element;
  const gchar *name;            /* message name */
  const gchar *state;           /* its "state" field, or NULL for any */
  gint done;                    /* atomic */
} StopCtx;

static GstBusSyncReply
stop_on_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  StopCtx *ctx = data;
  const GstStructure *st = gst_message_get_structure (msg);

  if (st && gst_structure_has_name (st, ctx->name) && (ctx->state == NULL
          || g_strcmp0 (gst_structure_get_string (st, "state"), ctx->state) == 0)
      && g_atomic_int_compare_and_exchange (&ctx->done, 0, 1))
    gst_element_set_state (ctx->element, GST_STATE_NULL);
  return GST_BUS_PASS;          /* queued, and flushed by stop () */
}

GST_START_TEST (test_stop_from_sync_handler)
{
  static const struct
  {
    const gchar *name, *state;
  } cases[] = {
    {"stt-connection", "connecting"}, {"stt-connection", "connected"},
    {"stt-transcript", NULL}, {"stt-connection", "draining"},
    {"stt-connection", "closed"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    Fixture f = start ("test-key");
    StopCtx ctx = { f.h->element, cases[i].name, cases[i].state, 0 };
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    gst_bus_set_sync_handler (f.bus, stop_on_message, &ctx, NULL);
    push_range (f.h, 0, 2.4);
    gst_harness_push_event (f.h, gst_event_new_eos ());
    while (!g_atomic_int_get (&ctx.done) && g_get_monotonic_time () < deadline)
      g_usleep (10 * 1000);
    fail_unless (g_atomic_int_get (&ctx.done), "no %s %s", cases[i].name,
        cases[i].state ? cases[i].state : "");
    gst_bus_set_sync_handler (f.bus, NULL, NULL, NULL);
    stop (&f);
  }
}

GST_END_TEST;

/* Settings that cannot work fail at start (READY to PAUSED) with RESOURCE/SETTINGS,
 * before any connection; typos in URLs once crashed the process. */
static GstMessage *
pause_and_pop (GstElement * e, GstMessageType type, GstStateChangeReturn * ret)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  gst_element_set_bus (e, bus);
  *ret = gst_element_set_state (e, GST_STATE_PAUSED);
  msg = gst_bus_timed_pop_filtered (bus, GST_SECOND, type);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  return msg;
}

GST_START_TEST (test_bad_settings_at_start)
{
  static const struct
  {
    const gchar *provider, *name, *value;
  } cases[] = {
    {"deepgram", "token-url", "notaurl"},
    {"deepgram", "token-url", "api.example.com/token"},
    {"deepgram", "token-url", "ftp://example.com/token"},
    {"gladia", "url", "x"},
    {"gladia", "url", "ws:/.//a"},
    {"deepgram", "url", "wss://"},
    {"deepgram", "url", "127.0.0.1:2700"},
    {"vosk", "max-buffer-time", "50000000"},   /* 50 ms, under a 100 ms chunk */
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *e = gst_element_factory_make ("stttranscribe", NULL);
    GstStateChangeReturn ret;
    GstMessage *msg;
    GError *err = NULL;

    g_object_set (e, "provider", cases[i].provider, "api-key", "secret-key", NULL);
    gst_util_set_object_arg (G_OBJECT (e), cases[i].name, cases[i].value);
    msg = pause_and_pop (e, GST_MESSAGE_ERROR, &ret);
    fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
    fail_unless (msg != NULL, "no error for %s=%s", cases[i].name, cases[i].value);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (err->domain == GST_RESOURCE_ERROR
        && err->code == GST_RESOURCE_ERROR_SETTINGS, "%s", err->message);
    fail_unless (strstr (err->message, cases[i].name) != NULL, "%s", err->message);
    fail_unless (strstr (err->message, "secret-key") == NULL, "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_object_unref (e);
  }
}

GST_END_TEST;

/* Unsafe but workable: said once at start, as a warning. Nothing is contacted. */
GST_START_TEST (test_cleartext_warned)
{
  static const struct
  {
    const gchar *name, *value, *want;
  } cases[] = {
    {"url", "ws://stt.example.com/v1/listen", "cleartext"},
    {"token-url", "http://auth.example.com/token", "cleartext"},
    {"tls-validate", "false", "tls-validate=false"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *e = gst_element_factory_make ("stttranscribe", NULL);
    GstStateChangeReturn ret;
    GstMessage *msg;
    GError *err = NULL;

    g_object_set (e, "provider", "deepgram", "api-key", "k", NULL);
    gst_util_set_object_arg (G_OBJECT (e), cases[i].name, cases[i].value);
    msg = pause_and_pop (e, GST_MESSAGE_WARNING, &ret);
    fail_if (ret == GST_STATE_CHANGE_FAILURE);
    fail_unless (msg != NULL, "no warning for %s=%s", cases[i].name, cases[i].value);
    gst_message_parse_warning (msg, &err, NULL);
    fail_unless (strstr (err->message, cases[i].want) != NULL, "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_object_unref (e);
  }
  /* On this machine, ws:// is fine. */
  {
    GstElement *e = gst_element_factory_make ("stttranscribe", NULL);
    GstStateChangeReturn ret;
    GstMessage *msg;

    g_object_set (e, "provider", "deepgram", "api-key", "k", "url",
        "ws://127.0.0.1:9/v1/listen", NULL);
    msg = pause_and_pop (e, GST_MESSAGE_WARNING, &ret);
    fail_unless (msg == NULL);
    gst_object_unref (e);
  }
}

GST_END_TEST;

static Suite *
errors_suite (void)
{
  Suite *s = suite_create ("errors");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  stt_check_fixture_add (tc, "deepgram");
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_no_key);
  tcase_add_test (tc, test_unreadable_key_file);
  tcase_add_test (tc, test_unreachable_hint);
  tcase_add_test (tc, test_vosk_language_warned);
  tcase_add_test (tc, test_own_error_first);
  tcase_add_test (tc, test_stop_from_sync_handler);
  tcase_add_test (tc, test_bad_settings_at_start);
  tcase_add_test (tc, test_cleartext_warned);
  tcase_add_test (tc, test_key_sources);
  tcase_add_test (tc, test_key_masked);
  tcase_add_test (tc, test_bad_request);
  tcase_add_test (tc, test_malformed_messages);
  tcase_add_test (tc, test_null_midstream);
  tcase_add_test (tc, test_null_while_connecting);
  return s;
}

GST_CHECK_MAIN (errors);
