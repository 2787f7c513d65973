/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttsink as a GstBaseSink against the local Deepgram-protocol server: preroll, sync,
 * EOS only once drained, the transcript signal, flushes and state changes while render
 * waits on a full replay ring, and the same engine properties as stttranscribe. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/app/gstappsrc.h>
#include <gst/base/gstbasesink.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

static SttTestServer *server;
static gchar *url;

/* Three words in two segments (the server ends a segment after 300 ms of silence). */
static const SttTone tones[] = {
  {0.5, 0.9, 440},
  {1.0, 1.3, 700},
  {2.5, 2.8, 1000},
};

#define DURATION 3.6
#define RATE 16000

static void
setup (void)
{
  GError *err = NULL;

  server = stt_test_server_new ("deepgram", &err);
  fail_unless (server != NULL, "server: %s", err ? err->message : "");
  url = stt_test_server_get_url (server);
}

static void
teardown (void)
{
  stt_test_server_free (server);
  g_free (url);
}

/* ------------------------------------------------------------------------------------ */
/* appsrc ! sttsink */

typedef struct
{
  GstElement *pipe, *src, *sink;
  GstBus *bus;
  GList *buffers;               /* the test audio in 20 ms buffers */
} SinkPipe;

static SinkPipe *
sink_pipe_new (const gchar * props)
{
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "sttsink name=stt provider=deepgram url=%s api-key=test-key %s", url,
      props ? props : "");
  SinkPipe *p = g_new0 (SinkPipe, 1);
  GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, RATE, 1);
  GstBuffer *all;

  p->pipe = gst_parse_launch (desc, NULL);
  fail_unless (p->pipe != NULL);
  p->src = gst_bin_get_by_name (GST_BIN (p->pipe), "src");
  p->sink = gst_bin_get_by_name (GST_BIN (p->pipe), "stt");
  p->bus = gst_element_get_bus (p->pipe);
  g_object_set (p->src, "caps", caps, "max-bytes", (guint64) 0, NULL);
  gst_caps_unref (caps);
  all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1, DURATION, tones,
      G_N_ELEMENTS (tones), 0);
  p->buffers = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, RATE, 1, 20);
  gst_buffer_unref (all);
  return p;
}

/* Queues buffers [@from, @to) of the test audio in appsrc. */
static void
sink_pipe_push (SinkPipe * p, guint from, guint to)
{
  GList *l;
  guint i = 0;

  for (l = p->buffers; l; l = l->next, i++) {
    if (i >= from && i < to)
      fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (p->src),
              gst_buffer_ref (l->data)), GST_FLOW_OK);
  }
}

static void
sink_pipe_push_all (SinkPipe * p)
{
  sink_pipe_push (p, 0, G_MAXUINT);
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (p->src)), GST_FLOW_OK);
}

static void
sink_pipe_free (SinkPipe * p)
{
  gst_element_set_state (p->pipe, GST_STATE_NULL);
  g_list_free_full (p->buffers, (GDestroyNotify) gst_buffer_unref);
  gst_object_unref (p->bus);
  gst_object_unref (p->src);
  gst_object_unref (p->sink);
  gst_object_unref (p->pipe);
  g_free (p);
}

/* Every element message (structure copies), warning and error of @bus in the order
 * posted, up to and including the EOS ("eos") or an error ("error", its message in
 * "message"). */
static GList *
collect_to_eos (GstBus * bus, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  GList *list = NULL;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0)
      break;
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND, GST_MESSAGE_ELEMENT |
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (msg == NULL)
      break;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      list = g_list_append (list, gst_structure_new_empty ("eos"));
      gst_message_unref (msg);
      break;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      const GstStructure *details = NULL;
      GstStructure *s;

      gst_message_parse_error (msg, &err, NULL);
      gst_message_parse_error_details (msg, &details);
      s = details ? gst_structure_copy (details) : gst_structure_new_empty ("error");
      gst_structure_set_name (s, "error");
      gst_structure_set (s, "message", G_TYPE_STRING, err->message, "source",
          G_TYPE_STRING, GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), NULL);
      list = g_list_append (list, s);
      g_error_free (err);
      gst_message_unref (msg);
      break;
    }
    if (gst_message_get_structure (msg))
      list = g_list_append (list, gst_structure_copy (gst_message_get_structure (msg)));
    gst_message_unref (msg);
  }
  return list;
}

/* Checks @msgs (collect_to_eos) end with EOS. */
static void
check_ended (GList * msgs)
{
  GstStructure *last = msgs ? g_list_last (msgs)->data : NULL;
  g_autofree gchar *str = last ? gst_structure_to_string (last) : NULL;

  fail_unless (last && gst_structure_has_name (last, "eos"), "ended with %s", str);
}

/* Checks @msgs (collect_to_eos) end with EOS and hold the two finals of the test audio,
 * at their times. */
static void
check_transcribed (GList * msgs)
{
  GList *finals = stt_check_filter_final (msgs, TRUE);

  check_ended (msgs);
  fail_unless_equals_int (g_list_length (finals), 2);
  stt_check_final (finals->data, "w400 w700", tones, 2, 0);
  stt_check_final (finals->next->data, "w1000", tones + 2, 1, 0);
  g_list_free (finals);
}

/* ------------------------------------------------------------------------------------ */

/* Like every sink, PAUSED waits for the first buffer (ASYNC), then plays on. */
GST_START_TEST (test_preroll_async)
{
  SinkPipe *p = sink_pipe_new (NULL);
  GstState state, pending;
  GList *msgs;

  fail_unless_equals_int (gst_element_set_state (p->pipe, GST_STATE_PAUSED),
      GST_STATE_CHANGE_ASYNC);
  /* No data: still prerolling. */
  fail_unless_equals_int (gst_element_get_state (p->pipe, &state, &pending,
          200 * GST_MSECOND), GST_STATE_CHANGE_ASYNC);
  fail_unless_equals_int (pending, GST_STATE_PAUSED);

  /* One 20 ms buffer completes it. */
  sink_pipe_push (p, 0, 1);
  fail_unless_equals_int (gst_element_get_state (p->pipe, &state, &pending,
          10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (state, GST_STATE_PAUSED);

  /* And the rest plays through, the prerolled buffer included. */
  sink_pipe_push (p, 1, G_MAXUINT);
  gst_app_src_end_of_stream (GST_APP_SRC (p->src));
  fail_if (gst_element_set_state (p->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  msgs = collect_to_eos (p->bus, 15000);
  check_transcribed (msgs);
  {
    /* No audio lost: the server got the whole input, in one connection. */
    GBytes *got = stt_test_server_get_audio (server, 0);
    gsize sent = 0;
    GList *l;

    for (l = p->buffers; l; l = l->next)
      sent += gst_buffer_get_size (l->data);
    fail_unless_equals_int (g_bytes_get_size (got), sent);
    fail_unless_equals_int (stt_test_server_get_n_connections (server), 1);
    g_bytes_unref (got);
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  sink_pipe_free (p);
}

GST_END_TEST;

GST_START_TEST (test_sync_default)
{
  GstElement *sink = gst_element_factory_make ("sttsink", NULL);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "sync");
  gboolean sync = TRUE;

  fail_unless (pspec != NULL && (pspec->flags & G_PARAM_READWRITE) == G_PARAM_READWRITE);
  g_object_get (sink, "sync", &sync, NULL);
  fail_if (sync);
  fail_if (gst_base_sink_get_sync (GST_BASE_SINK (sink)));
  g_object_set (sink, "sync", TRUE, NULL);
  g_object_get (sink, "sync", &sync, NULL);
  fail_unless (sync);
  gst_object_unref (sink);
}

GST_END_TEST;

/* Seconds from PLAYING to EOS for the test audio, queued in full beforehand. */
static gdouble
run_timed (gboolean sync)
{
  SinkPipe *p = sink_pipe_new (sync ? "sync=true" : NULL);
  GstState state;
  gint64 t0;
  gdouble secs;
  GList *msgs;

  gst_element_set_state (p->pipe, GST_STATE_PAUSED);
  sink_pipe_push_all (p);
  fail_unless_equals_int (gst_element_get_state (p->pipe, &state, NULL, 10 * GST_SECOND),
      GST_STATE_CHANGE_SUCCESS);
  t0 = g_get_monotonic_time ();
  gst_element_set_state (p->pipe, GST_STATE_PLAYING);
  msgs = collect_to_eos (p->bus, 20000);
  secs = (g_get_monotonic_time () - t0) / 1e6;
  check_transcribed (msgs);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  sink_pipe_free (p);
  return secs;
}

/* sync=true renders against the clock (real time); sync=false goes as fast as the
 * service takes the audio. */
GST_START_TEST (test_sync_paced)
{
  gdouble synced = run_timed (TRUE);
  gdouble unsynced = run_timed (FALSE);

  g_print ("sttsink, %.1f s of audio: sync=true %.2f s, sync=false %.2f s\n", DURATION,
      synced, unsynced);
  fail_unless (synced >= 0.8 * DURATION, "sync=true took %.2f s", synced);
  fail_unless (unsynced < synced, "sync=false took %.2f s, sync=true %.2f s", unsynced,
      synced);
}

GST_END_TEST;

typedef struct
{
  GMutex lock;
  GPtrArray *got;               /* GstStructure copies */
} Signalled;

static void
on_transcript (GstElement * sink, const GstStructure * s, gpointer user_data)
{
  Signalled *sig = user_data;

  g_mutex_lock (&sig->lock);
  g_ptr_array_add (sig->got, gst_structure_copy (s));
  g_mutex_unlock (&sig->lock);
}

/* The EOS message comes once the service has sent every final (slow here: each of its
 * messages is held back 400 ms), never before; the signal carries what the bus does. */
GST_START_TEST (test_eos_after_finals)
{
  SinkPipe *p = sink_pipe_new (NULL);
  Signalled sig = { {0}, g_ptr_array_new_with_free_func ((GDestroyNotify)
        gst_structure_free)
  };
  GList *msgs, *l, *transcripts = NULL;
  gboolean connected = FALSE;
  guint i;

  g_mutex_init (&sig.lock);
  stt_test_server_set_reply_delay (server, 400);
  g_signal_connect (p->sink, "transcript", G_CALLBACK (on_transcript), &sig);
  gst_element_set_state (p->pipe, GST_STATE_PLAYING);
  sink_pipe_push_all (p);
  msgs = collect_to_eos (p->bus, 20000);
  check_transcribed (msgs);

  for (l = msgs; l; l = l->next) {
    if (gst_structure_has_name (l->data, "stt-transcript"))
      transcripts = g_list_append (transcripts, l->data);
    else if (gst_structure_has_name (l->data, "stt-connection")
        && g_strcmp0 (gst_structure_get_string (l->data, "state"), "connected") == 0)
      connected = TRUE;
  }
  fail_unless (connected);
  /* The last message before EOS is the last final's or a later connection change. */
  for (l = g_list_last (msgs)->prev; l; l = l->prev) {
    if (gst_structure_has_name (l->data, "stt-transcript"))
      break;
  }
  fail_unless (l != NULL);
  fail_unless_equals_string (gst_structure_get_string (l->data, "text"), "w1000");

  /* Nothing after EOS. */
  fail_unless (gst_bus_timed_pop_filtered (p->bus, 500 * GST_MSECOND,
          GST_MESSAGE_ELEMENT) == NULL);

  g_mutex_lock (&sig.lock);
  fail_unless_equals_int (sig.got->len, g_list_length (transcripts));
  for (i = 0, l = transcripts; l; l = l->next, i++) {
    g_autofree gchar *a = gst_structure_to_string (g_ptr_array_index (sig.got, i));
    g_autofree gchar *b = gst_structure_to_string (l->data);

    fail_unless_equals_string (a, b);
  }
  g_mutex_unlock (&sig.lock);

  g_list_free (transcripts);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  sink_pipe_free (p);
  g_ptr_array_unref (sig.got);
  g_mutex_clear (&sig.lock);
}

GST_END_TEST;

/* Live input: max-observed-delay measures how far the audio had gone when each final
 * arrived (at least its first word's length, well under the default latency here). */
GST_START_TEST (test_live_observed_delay)
{
  SinkPipe *p = sink_pipe_new (NULL);
  GList *msgs, *l;
  gint64 start;
  guint delay = 0;

  g_object_set (p->src, "is-live", TRUE, NULL);
  gst_element_set_state (p->pipe, GST_STATE_PLAYING);
  start = g_get_monotonic_time ();
  for (l = p->buffers; l; l = l->next) {
    gint64 due = start + (gint64) (GST_BUFFER_PTS (l->data) / GST_USECOND);
    gint64 now = g_get_monotonic_time ();

    if (due > now)
      g_usleep (due - now);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (p->src),
            gst_buffer_ref (l->data)), GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (p->src));
  msgs = collect_to_eos (p->bus, 20000);
  fail_unless (gst_structure_has_name (g_list_last (msgs)->data, "eos"));
  g_object_get (p->sink, "max-observed-delay", &delay, NULL);
  fail_unless (delay >= 200 && delay < 3000, "max-observed-delay %u ms", delay);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  sink_pipe_free (p);
}

GST_END_TEST;

/* A rejected key: the element's error, with its details, as with stttranscribe. */
GST_START_TEST (test_error_details)
{
  SinkPipe *p = sink_pipe_new ("api-key=wrong-key");
  GstStructure *err;
  guint status = 0;
  GList *msgs;

  gst_element_set_state (p->pipe, GST_STATE_PLAYING);
  sink_pipe_push_all (p);
  msgs = collect_to_eos (p->bus, 10000);
  err = g_list_last (msgs)->data;
  fail_unless (gst_structure_has_name (err, "error"), "ended with %s",
      gst_structure_get_name (err));
  fail_unless_equals_string (gst_structure_get_string (err, "source"), "stt");
  fail_unless_equals_string (gst_structure_get_string (err, "provider"), "deepgram");
  fail_unless (gst_structure_get_uint (err, "http-status", &status));
  fail_unless_equals_int (status, 401);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  sink_pipe_free (p);
}

GST_END_TEST;

/* ------------------------------------------------------------------------------------ */
/* A file through wavparse (seekable) into a 1 s ring: with the server stalled after
 * 0.5 s, render soon waits for room that never comes; with its answers held back, it
 * waits until they come. */

/* One word before the stall, three after the seek point (6 s). */
static const SttTone long_tones[] = {
  {0.2, 0.5, 440},
  {6.5, 6.9, 1000},
  {7.4, 7.8, 1300},
  {8.5, 8.8, 1600},
};

#define LONG_DURATION 10.0

/* A word every 0.7 s, each its own segment: with answers 1.2 s late, render waits
 * 1.2 s for each final to make room (never 2 s: the element would ask for finals). */
static const SttTone dense_tones[] = {
  {0.2, 0.5, 440},
  {0.9, 1.2, 700},
  {1.6, 1.9, 1000},
  {2.3, 2.6, 1300},
  {3.0, 3.3, 1600},
  {3.7, 4.0, 1900},
  {4.4, 4.7, 2200},
};

#define DENSE_DURATION 5.5

typedef struct
{
  gchar *wav;
  GstElement *pipe, *sink;
  GstBus *bus;
} Blocked;

static Blocked *
blocked_new (const SttTone * t, guint n, gdouble duration, guint reply_delay_ms)
{
  Blocked *b = g_new0 (Blocked, 1);
  GError *err = NULL;
  g_autofree gchar *desc = NULL;
  gint fd = g_file_open_tmp ("stt-sink-XXXXXX.wav", &b->wav, &err);

  fail_unless (fd >= 0, "%s", err ? err->message : "");
  g_close (fd, NULL);
  fail_unless (stt_check_write_wav (b->wav, RATE, 1, duration, t, n, &err), "%s",
      err ? err->message : "");
  desc = g_strdup_printf ("filesrc location=%s ! wavparse ! sttsink name=stt "
      "provider=deepgram url=%s api-key=test-key max-buffer-time=1000000000", b->wav,
      url);
  b->pipe = gst_parse_launch (desc, NULL);
  fail_unless (b->pipe != NULL);
  b->sink = gst_bin_get_by_name (GST_BIN (b->pipe), "stt");
  b->bus = gst_element_get_bus (b->pipe);
  if (reply_delay_ms)
    stt_test_server_set_reply_delay (server, reply_delay_ms);
  else
    stt_test_server_inject_fault (server, STT_TEST_FAULT_STALL, 0.5, 0, NULL);
  return b;
}

static void
blocked_free (Blocked * b)
{
  gst_element_set_state (b->pipe, GST_STATE_NULL);
  gst_object_unref (b->bus);
  gst_object_unref (b->sink);
  gst_object_unref (b->pipe);
  g_unlink (b->wav);
  g_free (b->wav);
  g_free (b);
}

/* Plays @b and waits until the sink's position has not moved for 500 ms (render waits
 * for room in the ring); returns that position. */
static GstClockTime
blocked_play (Blocked * b, GstClockTime before)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gint64 last = -1, pos;
  guint still = 0;

  fail_if (gst_element_set_state (b->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  while (still < 5 && g_get_monotonic_time () < deadline) {
    g_usleep (100 * 1000);
    if (!gst_element_query_position (b->sink, GST_FORMAT_TIME, &pos))
      continue;
    still = pos > 0 && pos == last ? still + 1 : 0;
    last = pos;
  }
  fail_unless (still >= 5, "render never waited (position %" GST_TIME_FORMAT ")",
      GST_TIME_ARGS (last));
  fail_unless (last < (gint64) before, "blocked at %.3f s", (gdouble) last / GST_SECOND);
  return last;
}

/* Runs a flushing seek to @seek_to (or, if NONE, a state change to NULL) on another
 * thread and waits up to 5 s for it: a render that the flush cannot wake would hang it. */
typedef struct
{
  GstElement *pipe;
  GstClockTime seek_to;
  GMutex lock;
  GCond cond;
  gboolean done, ok;
} Action;

static gpointer
action_thread (gpointer data)
{
  Action *a = data;
  gboolean ok;

  if (GST_CLOCK_TIME_IS_VALID (a->seek_to))
    ok = gst_element_seek_simple (a->pipe, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
        a->seek_to);
  else
    ok = gst_element_set_state (a->pipe, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS;
  g_mutex_lock (&a->lock);
  a->ok = ok;
  a->done = TRUE;
  g_cond_signal (&a->cond);
  g_mutex_unlock (&a->lock);
  return NULL;
}

static gdouble
run_bounded (GstElement * pipe, GstClockTime seek_to)
{
  Action a = { pipe, seek_to };
  gint64 t0 = g_get_monotonic_time (), deadline = t0 + 5 * G_USEC_PER_SEC;
  GThread *thread;

  g_mutex_init (&a.lock);
  g_cond_init (&a.cond);
  thread = g_thread_new ("action", action_thread, &a);
  g_mutex_lock (&a.lock);
  while (!a.done && g_cond_wait_until (&a.cond, &a.lock, deadline));
  g_mutex_unlock (&a.lock);
  fail_unless (a.done, "%s still blocked after 5 s", GST_CLOCK_TIME_IS_VALID (seek_to) ?
      "flushing seek" : "state change to NULL");
  g_thread_join (thread);
  fail_unless (a.ok);
  g_mutex_clear (&a.lock);
  g_cond_clear (&a.cond);
  return (g_get_monotonic_time () - t0) / 1e6;
}

static void
collect_word (const gchar * text, GstClockTime start, gpointer user_data)
{
  GPtrArray *words = user_data;
  gchar *w = g_strdup_printf ("%s@%.1f", text, (gdouble) start / GST_SECOND);

  g_ptr_array_add (words, w);
}

/* FLUSH_START wakes a render waiting for room; the stream starts over from the seek
 * point on a new connection, and EOS comes once that one has drained. */
GST_START_TEST (test_flushing_seek_unblocks)
{
  Blocked *b = blocked_new (long_tones, G_N_ELEMENTS (long_tones), LONG_DURATION, 0);
  GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
  /* The ring holds 1 s past the committed point (nothing is final yet). */
  GstClockTime at = blocked_play (b, 3 * GST_SECOND);
  gdouble took = run_bounded (b->pipe, 6 * GST_SECOND);
  GList *msgs, *l;

  GST_INFO ("render waited at %" GST_TIME_FORMAT ", the seek took %.3f s",
      GST_TIME_ARGS (at), took);
  msgs = collect_to_eos (b->bus, 20000);
  check_ended (msgs);
  for (l = msgs; l; l = l->next)
    fail_if (gst_structure_has_name (l->data, "error"));
  /* The words after the seek point, at their times; none from before it. */
  stt_check_foreach_final_word (msgs, collect_word, words);
  g_ptr_array_add (words, NULL);
  {
    g_autofree gchar *got = g_strjoinv (" ", (gchar **) words->pdata);

    fail_unless_equals_string (got, "w1000@6.5 w1300@7.4 w1600@8.5");
  }
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  g_ptr_array_unref (words);
  blocked_free (b);
}

GST_END_TEST;

/* A state change to NULL while render waits: prompt, and no error. */
GST_START_TEST (test_null_while_blocked)
{
  Blocked *b = blocked_new (long_tones, G_N_ELEMENTS (long_tones), LONG_DURATION, 0);
  GstMessage *err;

  blocked_play (b, 3 * GST_SECOND);
  run_bounded (b->pipe, GST_CLOCK_TIME_NONE);
  err = gst_bus_pop_filtered (b->bus, GST_MESSAGE_ERROR);
  fail_unless (err == NULL, "an error from %s", err ? GST_MESSAGE_SRC_NAME (err) : "");
  blocked_free (b);
}

GST_END_TEST;

/* PLAYING to PAUSED also unlocks render: it waits for PLAYING again and goes on with the
 * rest of its buffer. Nothing is lost or sent twice. */
GST_START_TEST (test_pause_while_blocked)
{
  Blocked *b = blocked_new (dense_tones, G_N_ELEMENTS (dense_tones), DENSE_DURATION,
      1200);
  GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
  GstBuffer *input = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1, DENSE_DURATION,
      dense_tones, G_N_ELEMENTS (dense_tones), 0);
  GstState state;
  GList *msgs, *l;
  GBytes *got;
  GstMapInfo map;

  blocked_play (b, DENSE_DURATION * GST_SECOND);
  fail_unless_equals_int (gst_element_set_state (b->pipe, GST_STATE_PAUSED),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_get_state (b->pipe, &state, NULL, 0),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (state, GST_STATE_PAUSED);
  g_usleep (300 * 1000);
  gst_element_set_state (b->pipe, GST_STATE_PLAYING);
  msgs = collect_to_eos (b->bus, 30000);
  check_ended (msgs);
  for (l = msgs; l; l = l->next)
    fail_if (gst_structure_has_name (l->data, "error"));
  stt_check_foreach_final_word (msgs, collect_word, words);
  g_ptr_array_add (words, NULL);
  {
    g_autofree gchar *text = g_strjoinv (" ", (gchar **) words->pdata);

    fail_unless_equals_string (text, "w400@0.2 w700@0.9 w1000@1.6 w1300@2.3 w1600@3.0 "
        "w1900@3.7 w2200@4.4");
  }
  /* One connection, which got the file's audio exactly. */
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 1);
  got = stt_test_server_get_audio (server, 0);
  gst_buffer_map (input, &map, GST_MAP_READ);
  fail_unless_equals_int (g_bytes_get_size (got), map.size);
  fail_unless (memcmp (g_bytes_get_data (got, NULL), map.data, map.size) == 0);
  gst_buffer_unmap (input, &map);

  g_bytes_unref (got);
  gst_buffer_unref (input);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  g_ptr_array_unref (words);
  blocked_free (b);
}

GST_END_TEST;

/* ------------------------------------------------------------------------------------ */

/* The element type of factory @name, its class referenced. */
static GObjectClass *
element_class (const gchar * name)
{
  GstElementFactory *f = gst_element_factory_find (name);
  GstPluginFeature *loaded;
  GObjectClass *klass;

  fail_unless (f != NULL);
  loaded = gst_plugin_feature_load (GST_PLUGIN_FEATURE (f));
  fail_unless (loaded != NULL);
  klass = g_type_class_ref (gst_element_factory_get_element_type
      (GST_ELEMENT_FACTORY (loaded)));
  gst_object_unref (loaded);
  gst_object_unref (f);
  return klass;
}

/* The properties of @klass not inherited from GstBaseSink or its parents. */
static GHashTable *
engine_properties (GObjectClass * klass)
{
  GHashTable *props = g_hash_table_new (g_str_hash, g_str_equal);
  GParamSpec **specs;
  guint n, i;

  specs = g_object_class_list_properties (klass, &n);
  for (i = 0; i < n; i++) {
    /* Not GstBaseSink's, nor stttranscribe's own text-output settings. */
    if (!g_type_is_a (GST_TYPE_BASE_SINK, specs[i]->owner_type)
        && g_strcmp0 (g_type_name (specs[i]->owner_type), "GstSttTranscribe") != 0)
      g_hash_table_insert (props, (gpointer) specs[i]->name, specs[i]);
  }
  g_free (specs);
  return props;
}

#define SAME_RANGE(a, b, T) \
  fail_unless (T (a)->minimum == T (b)->minimum && T (a)->maximum == T (b)->maximum, \
      "%s: range", (a)->name)

static void
check_same_pspec (GParamSpec * a, GParamSpec * b)
{
  fail_unless (G_PARAM_SPEC_TYPE (a) == G_PARAM_SPEC_TYPE (b), "%s: kind", a->name);
  fail_unless (a->value_type == b->value_type, "%s: type", a->name);
  fail_unless_equals_int (a->flags, b->flags);
  fail_unless_equals_string (g_param_spec_get_nick (a), g_param_spec_get_nick (b));
  fail_unless_equals_string (g_param_spec_get_blurb (a), g_param_spec_get_blurb (b));
  fail_unless (g_param_values_cmp (a, g_param_spec_get_default_value (a),
          g_param_spec_get_default_value (b)) == 0, "%s: default", a->name);
  if (G_IS_PARAM_SPEC_UINT (a))
    SAME_RANGE (a, b, G_PARAM_SPEC_UINT);
  else if (G_IS_PARAM_SPEC_INT (a))
    SAME_RANGE (a, b, G_PARAM_SPEC_INT);
  else if (G_IS_PARAM_SPEC_UINT64 (a))
    SAME_RANGE (a, b, G_PARAM_SPEC_UINT64);
}

/* Both elements list the same engine properties (one table), the sink GstBaseSink's on
 * top (its `stats` is the engine's). */
GST_START_TEST (test_properties_match)
{
  GObjectClass *sink = element_class ("sttsink");
  GObjectClass *transcribe = element_class ("stttranscribe");
  GHashTable *a = engine_properties (sink), *b = engine_properties (transcribe);
  GHashTableIter iter;
  gpointer name, spec;

  fail_unless (g_hash_table_size (a) >= 30, "%u", g_hash_table_size (a));
  fail_unless_equals_int (g_hash_table_size (a), g_hash_table_size (b));
  g_hash_table_iter_init (&iter, a);
  while (g_hash_table_iter_next (&iter, &name, &spec)) {
    GParamSpec *other = g_hash_table_lookup (b, name);

    fail_unless (other != NULL, "stttranscribe has no %s", (gchar *) name);
    check_same_pspec (spec, other);
  }
  /* The base class's own are there too. */
  fail_unless (g_object_class_find_property (sink, "async") != NULL);
  fail_unless (g_object_class_find_property (sink, "max-lateness") != NULL);
  fail_unless (g_object_class_find_property (transcribe, "sync") == NULL);

  g_hash_table_unref (a);
  g_hash_table_unref (b);
  g_type_class_unref (sink);
  g_type_class_unref (transcribe);
}

GST_END_TEST;

static Suite *
sink_suite (void)
{
  Suite *s = suite_create ("sttsink");
  TCase *tc = tcase_create ("general");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_preroll_async);
  tcase_add_test (tc, test_sync_default);
  tcase_add_test (tc, test_sync_paced);
  tcase_add_test (tc, test_eos_after_finals);
  tcase_add_test (tc, test_live_observed_delay);
  tcase_add_test (tc, test_error_details);
  tcase_add_test (tc, test_flushing_seek_unblocks);
  tcase_add_test (tc, test_null_while_blocked);
  tcase_add_test (tc, test_pause_while_blocked);
  tcase_add_test (tc, test_properties_match);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (sink);
