/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Start/stop stress: a live pipeline through stttranscribe is taken NULL -> PLAYING ->
 * NULL again and again, stopped in every state a connection can be in:
 *   - connected to the local Deepgram server,
 *   - while connecting: a server that accepts TCP and never answers the handshake,
 *   - with no server at all: the connection is refused and a retry is pending,
 *   - right after the first buffer reached the element.
 * Every state change must return promptly, no error may be posted, and no thread may be
 * left behind: the process's thread count after all cycles must not exceed the count
 * after a short warm-up (the shared I/O pool is created once; GStreamer and GIO pool
 * their worker threads) by more than a few threads.
 *
 * STT_STRESS_CYCLES sets the number of cycles (default 1000, shared round-robin by the
 * four cases).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gst/check/gstcheck.h>

#include "stt-test-server.h"

#define DEFAULT_CYCLES 1000
/* A state change that takes longer is a hang, even on a loaded 2-core machine. */
#define STATE_CHANGE_LIMIT_US (5 * G_USEC_PER_SEC)
/* How long to wait for the state a case stops in. */
#define WAIT_MS 5000
/* Cycles before the thread count is taken as the reference. */
#define WARMUP_CYCLES 20
/* Threads that pools may legitimately add after the warm-up (GLib's GTask and
 * resolver pools grow on demand, up to a bound); a leak grows with the cycles. */
#define THREAD_SLACK 8
/* A pipeline is reused for this many cycles, then a new one is made. */
#define CYCLES_PER_PIPELINE 10

typedef enum
{
  CASE_CONNECTED,
  CASE_CONNECTING,
  CASE_REFUSED,
  CASE_FIRST_BUFFER,
  N_CASES
} StressCase;

static const gchar *const case_names[N_CASES] = {
  "connected", "connecting", "refused", "first buffer"
};

/* A TCP server that accepts connections and never says a word: a handshake to it hangs
 * until the client gives up. */
typedef struct
{
  gint fd;
  guint port;
  GThread *thread;
  GMutex lock;
  GCond cond;
  guint accepted;
  GArray *conns;                /* gint fds, closed at the end */
} SilentServer;

static gpointer
silent_server_thread (gpointer data)
{
  SilentServer *s = data;

  for (;;) {
    gint c = accept (s->fd, NULL, NULL);

    if (c < 0)
      break;                    /* the listening socket was shut down */
    g_mutex_lock (&s->lock);
    g_array_append_val (s->conns, c);
    s->accepted++;
    g_cond_broadcast (&s->cond);
    g_mutex_unlock (&s->lock);
  }
  return NULL;
}

static SilentServer *
silent_server_new (void)
{
  SilentServer *s = g_new0 (SilentServer, 1);
  struct sockaddr_in addr = { 0, };
  socklen_t len = sizeof (addr);

  s->fd = socket (AF_INET, SOCK_STREAM, 0);
  fail_unless (s->fd >= 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (s->fd, (struct sockaddr *) &addr, sizeof (addr)) == 0);
  fail_unless (listen (s->fd, 64) == 0);
  fail_unless (getsockname (s->fd, (struct sockaddr *) &addr, &len) == 0);
  s->port = ntohs (addr.sin_port);
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->conns = g_array_new (FALSE, FALSE, sizeof (gint));
  s->thread = g_thread_new ("silent-server", silent_server_thread, s);
  return s;
}

/* Waits until more than @n connections were accepted. */
static gboolean
silent_server_wait (SilentServer * s, guint n, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean ok = TRUE;

  g_mutex_lock (&s->lock);
  while (s->accepted <= n && ok)
    ok = g_cond_wait_until (&s->cond, &s->lock, end);
  ok = s->accepted > n;
  g_mutex_unlock (&s->lock);
  return ok;
}

static guint
silent_server_accepted (SilentServer * s)
{
  guint n;

  g_mutex_lock (&s->lock);
  n = s->accepted;
  g_mutex_unlock (&s->lock);
  return n;
}

static void
silent_server_free (SilentServer * s)
{
  guint i;

  shutdown (s->fd, SHUT_RDWR);
  g_thread_join (s->thread);
  close (s->fd);
  for (i = 0; i < s->conns->len; i++)
    close (g_array_index (s->conns, gint, i));
  g_array_unref (s->conns);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
}

/* A port nothing listens on: bound, then closed. */
static guint
free_port (void)
{
  struct sockaddr_in addr = { 0, };
  socklen_t len = sizeof (addr);
  gint fd = socket (AF_INET, SOCK_STREAM, 0);

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (fd, (struct sockaddr *) &addr, sizeof (addr)) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *) &addr, &len) == 0);
  close (fd);
  return ntohs (addr.sin_port);
}

static guint
count_threads (void)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  fail_unless (dir != NULL);
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n;
}

/* One pipeline of a case, and what its cycles share. */
typedef struct
{
  StressCase kind;
  gchar *url;
  GstElement *pipeline;
  guint uses;
  /* CASE_FIRST_BUFFER: set by the pad probe on the streaming thread. */
  GMutex lock;
  GCond cond;
  gboolean got_buffer;
  gint64 max_change_us;
} Stress;

static GstPadProbeReturn
first_buffer_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Stress *st = data;

  g_mutex_lock (&st->lock);
  st->got_buffer = TRUE;
  g_cond_broadcast (&st->cond);
  g_mutex_unlock (&st->lock);
  return GST_PAD_PROBE_OK;
}

static void
stress_make_pipeline (Stress * st)
{
  GstElement *stt;
  GstPad *pad;
  GError *error = NULL;

  st->pipeline = gst_parse_launch ("audiotestsrc is-live=true samplesperbuffer=320 "
      "wave=sine ! stttranscribe name=stt ! fakesink async=false", &error);
  fail_unless (st->pipeline != NULL, "%s", error ? error->message : "no pipeline");
  stt = gst_bin_get_by_name (GST_BIN (st->pipeline), "stt");
  /* A long delay before the second retry: the refused case stops with it pending. */
  g_object_set (stt, "provider", "deepgram", "url", st->url, "api-key", "test-key",
      "reconnect-initial-delay", 10 * GST_SECOND, NULL);
  pad = gst_element_get_static_pad (stt, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, first_buffer_probe, st, NULL);
  gst_object_unref (pad);
  gst_object_unref (stt);
  st->uses = 0;
}

/* Fails on an error message; pops everything else. */
static void
check_no_error (GstMessage * msg, Stress * st)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *debug = NULL;

    gst_message_parse_error (msg, &err, &debug);
    fail ("case '%s': error: %s (%s)", case_names[st->kind], err->message,
        debug ? debug : "");
  }
}

/* Pops bus messages until an stt-connection message with @state (and, if @need_retry,
 * a pending retry) arrives; FALSE on timeout. */
static gboolean
wait_connection_state (Stress * st, GstBus * bus, const gchar * state,
    gboolean need_retry)
{
  gint64 end = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end) {
    GstMessage *msg = gst_bus_timed_pop (bus, (end - g_get_monotonic_time ()) * 1000);
    const GstStructure *s;
    gboolean found = FALSE;

    if (msg == NULL)
      break;
    check_no_error (msg, st);
    s = gst_message_get_structure (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && s
        && gst_structure_has_name (s, "stt-connection")
        && g_strcmp0 (gst_structure_get_string (s, "state"), state) == 0) {
      GstClockTime retry_in = GST_CLOCK_TIME_NONE;

      gst_structure_get_clock_time (s, "retry-in", &retry_in);
      found = !need_retry || (GST_CLOCK_TIME_IS_VALID (retry_in) && retry_in > 0);
    }
    gst_message_unref (msg);
    if (found)
      return TRUE;
  }
  return FALSE;
}

static void
set_state_bounded (Stress * st, GstState state)
{
  gint64 start = g_get_monotonic_time (), took;
  GstStateChangeReturn ret = gst_element_set_state (st->pipeline, state);

  took = g_get_monotonic_time () - start;
  st->max_change_us = MAX (st->max_change_us, took);
  fail_unless (ret != GST_STATE_CHANGE_FAILURE, "case '%s': state change to %s failed",
      case_names[st->kind], gst_element_state_get_name (state));
  fail_unless (took < STATE_CHANGE_LIMIT_US, "case '%s': state change to %s took %"
      G_GINT64_FORMAT " ms", case_names[st->kind], gst_element_state_get_name (state),
      took / 1000);
}

static void
stress_cycle (Stress * st, SilentServer * silent)
{
  GstBus *bus;
  GstMessage *msg;
  guint accepted = silent ? silent_server_accepted (silent) : 0;

  if (st->pipeline == NULL || st->uses == CYCLES_PER_PIPELINE) {
    if (st->pipeline)
      gst_object_unref (st->pipeline);
    stress_make_pipeline (st);
  }
  st->uses++;
  st->got_buffer = FALSE;
  bus = gst_element_get_bus (st->pipeline);

  set_state_bounded (st, GST_STATE_PLAYING);
  switch (st->kind) {
    case CASE_CONNECTED:
      fail_unless (wait_connection_state (st, bus, "connected", FALSE),
          "not connected to the Deepgram server");
      break;
    case CASE_CONNECTING:
      /* Our TCP connection is in; the handshake will never be answered. */
      fail_unless (silent_server_wait (silent, accepted, WAIT_MS),
          "no connection reached the silent server");
      break;
    case CASE_REFUSED:
      /* Refused twice (the first retry is immediate), the next one waits. */
      fail_unless (wait_connection_state (st, bus, "reconnecting", TRUE),
          "no pending retry after a refused connection");
      break;
    case CASE_FIRST_BUFFER:{
      gint64 end = g_get_monotonic_time () + WAIT_MS * G_TIME_SPAN_MILLISECOND;

      g_mutex_lock (&st->lock);
      while (!st->got_buffer && g_cond_wait_until (&st->cond, &st->lock, end));
      g_mutex_unlock (&st->lock);
      fail_unless (st->got_buffer, "no buffer reached stttranscribe");
      break;
    }
    default:
      g_assert_not_reached ();
  }
  set_state_bounded (st, GST_STATE_NULL);

  /* What was posted up to the stop: no error. */
  while ((msg = gst_bus_pop (bus)) != NULL) {
    check_no_error (msg, st);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

GST_START_TEST (test_start_stop_cycles)
{
  const gchar *env = g_getenv ("STT_STRESS_CYCLES");
  guint cycles = env ? (guint) g_ascii_strtoull (env, NULL, 10) : DEFAULT_CYCLES;
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  SilentServer *silent = silent_server_new ();
  Stress st[N_CASES];
  guint i, before = 0, after, n_connections;
  gint64 start = g_get_monotonic_time ();
  gchar *url;

  fail_unless (server != NULL);
  fail_unless (cycles >= N_CASES, "STT_STRESS_CYCLES must be at least %d", N_CASES);
  memset (st, 0, sizeof (st));
  url = stt_test_server_get_url (server);
  for (i = 0; i < N_CASES; i++) {
    st[i].kind = i;
    g_mutex_init (&st[i].lock);
    g_cond_init (&st[i].cond);
  }
  st[CASE_CONNECTED].url = g_strdup (url);
  st[CASE_FIRST_BUFFER].url = g_strdup (url);
  st[CASE_CONNECTING].url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen", silent->port);
  st[CASE_REFUSED].url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen", free_port ());

  for (i = 0; i < cycles; i++) {
    if (i == MIN (WARMUP_CYCLES, cycles / 2))
      before = count_threads ();
    stress_cycle (&st[i % N_CASES], st[i % N_CASES].kind == CASE_CONNECTING ? silent :
        NULL);
  }
  for (i = 0; i < N_CASES; i++)
    gst_clear_object (&st[i].pipeline);
  after = count_threads ();
  n_connections = stt_test_server_get_n_connections (server);

  /* The figures, for the test log. */
  g_print ("%u cycles in %.1f s; threads: %u after %u warm-up cycles, %u at the end; "
      "slowest state change (connected / connecting / refused / first buffer): %.1f / "
      "%.1f / %.1f / %.1f ms; %u connections to the server, %u to the silent one\n",
      cycles, (g_get_monotonic_time () - start) / 1e6, before,
      MIN (WARMUP_CYCLES, cycles / 2), after, st[0].max_change_us / 1e3,
      st[1].max_change_us / 1e3, st[2].max_change_us / 1e3, st[3].max_change_us / 1e3,
      n_connections, silent_server_accepted (silent));

  /* Every connected cycle really connected. */
  fail_unless (n_connections >= (cycles + N_CASES - 1 - CASE_CONNECTED) / N_CASES,
      "%u connections for %u connected cycles", n_connections, cycles / N_CASES);
  fail_unless (after <= before + THREAD_SLACK, "threads grew from %u to %u over %u "
      "cycles", before, after, cycles);

  for (i = 0; i < N_CASES; i++) {
    g_free (st[i].url);
    g_mutex_clear (&st[i].lock);
    g_cond_clear (&st[i].cond);
  }
  g_free (url);
  silent_server_free (silent);
  stt_test_server_free (server);
}

GST_END_TEST;

static Suite *
stress_suite (void)
{
  Suite *s = suite_create ("stttranscribe-stress");
  TCase *tc = tcase_create ("general");

  /* The whole run is one test: the thread count is the process's. */
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_start_stop_cycles);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (stress);
