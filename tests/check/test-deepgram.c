/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe and sttsink against the local Deepgram-protocol server: the request,
 * partial and final transcripts on the bus, text buffers and their times, subtitles
 * written by webvttenc and srtenc, draining at EOS. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

/* stt_fx_tones: three words in two segments (the server ends a segment after 300 ms of
 * silence). */
#define DURATION 3.6

static GstHarness *
new_harness (const gchar * element)
{
  GstHarness *h = gst_harness_new_with_padnames (element, "sink",
      g_str_equal (element, "stttranscribe") ? "src" : NULL);

  /* The harness says it is live but pushes faster than real time: give the service
   * all the time it wants, so no text is late; the text buffers checked are the
   * segments of a file (words: test-captions.c). */
  g_object_set (h->element, "provider", stt_fx.provider, "url", stt_fx.url,
      "latency", (guint) 60000, NULL);
  stt_check_set_test_credentials (h->element, stt_fx.provider);
  if (g_str_equal (element, "stttranscribe"))
    stt_check_harness_segments (h);
  return h;
}

static void
push_audio (GstHarness * h, GstAudioFormat format, guint rate, guint channels,
    GstClockTime pts)
{
  stt_check_harness_push_audio (h, format, rate, channels, DURATION, stt_fx_tones,
      G_N_ELEMENTS (stt_fx_tones), pts);
}

/* The request looks like the real service expects it. */
GST_START_TEST (test_request)
{
  GstHarness *h = new_harness ("stttranscribe");
  g_autofree gchar *enc = NULL, *rate = NULL, *ch = NULL, *model = NULL, *interim = NULL;
  g_autofree gchar *auth = NULL;
  g_auto (GStrv) texts = NULL;

  g_object_set (h->element, "language", "en-GB", NULL);
  push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, 0);
  gst_harness_push_event (h, gst_event_new_eos ());

  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 10000));
  enc = stt_test_server_get_query (stt_fx.server, 0, "encoding");
  rate = stt_test_server_get_query (stt_fx.server, 0, "sample_rate");
  ch = stt_test_server_get_query (stt_fx.server, 0, "channels");
  model = stt_test_server_get_query (stt_fx.server, 0, "model");
  interim = stt_test_server_get_query (stt_fx.server, 0, "interim_results");
  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless_equals_string (enc, "linear16");
  fail_unless_equals_string (rate, "16000");
  fail_unless_equals_string (ch, "1");
  fail_unless_equals_string (model, "nova-3");
  fail_unless_equals_string (interim, "true");
  fail_unless_equals_string (auth, "Token test-key");
  {
    /* No WebSocket extension offered (permessage-deflate would compress PCM). */
    g_autofree gchar *ext = stt_test_server_get_header (stt_fx.server, 0,
        "Sec-WebSocket-Extensions");
    fail_unless (ext == NULL, "offered %s", ext);
  }
  {
    g_autofree gchar *lang = stt_test_server_get_query (stt_fx.server, 0, "language");
    fail_unless_equals_string (lang, "en-GB");
  }
  /* The stream ended with CloseStream, after all the audio. */
  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  fail_unless (texts && g_strv_length (texts) >= 1);
  fail_unless (strstr (texts[g_strv_length (texts) - 1], "CloseStream") != NULL);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Partials and finals on the bus, with the schema-1 fields; final text buffers. */
static void
run_transcripts (GstAudioFormat format, guint rate, guint channels)
{
  GstHarness *h = new_harness ("stttranscribe");
  GstBus *bus = gst_bus_new ();
  GstClockTime offset = 10 * GST_SECOND;
  GList *l;
  SttCheckTranscripts t;
  GstBuffer *buf;
  GstMapInfo map;
  GstClockTime pts;
  guint64 seg0;
  guint rev, schema;
  gboolean saw_partial_of_first = FALSE;

  gst_element_set_bus (h->element, bus);
  push_audio (h, format, rate, channels, offset);
  gst_harness_push_event (h, gst_event_new_eos ());

  stt_check_transcripts_collect (&t, bus, 2, 2);

  stt_check_final (t.finals->data, "w400 w700", stt_fx_tones, 2, offset);
  stt_check_final (t.finals->next->data, "w1000", stt_fx_tones + 2, 1, offset);

  fail_unless (gst_structure_get_uint (t.finals->data, "schema", &schema));
  fail_unless_equals_int (schema, 1);
  fail_unless_equals_string (gst_structure_get_string (t.finals->data, "provider"),
      "deepgram");
  fail_unless (gst_structure_get_uint64 (t.finals->data, "segment-id", &seg0));
  for (l = t.partials; l; l = l->next) {
    guint64 id;
    GstClockTime lat, rt;

    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    fail_unless (gst_structure_get_clock_time (l->data, "latency", &lat));
    fail_unless (GST_CLOCK_TIME_IS_VALID (lat));
    fail_unless (gst_structure_get_clock_time (l->data, "running-time", &rt));
    fail_unless (GST_CLOCK_TIME_IS_VALID (rt));
    if (id == seg0)
      saw_partial_of_first = TRUE;
  }
  /* Partials share their segment's id and come before its final, revision counting up. */
  fail_unless (saw_partial_of_first);
  fail_unless (gst_structure_get_uint (t.finals->data, "revision", &rev));
  fail_unless (rev >= 1);
  {
    guint64 seg1;
    fail_unless (gst_structure_get_uint64 (t.finals->next->data, "segment-id", &seg1));
    fail_unless (seg1 != seg0);
  }

  /* One text buffer per final, in the input's time domain. */
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  fail_unless_equals_int (map.size, strlen ("w400 w700"));
  fail_unless (memcmp (map.data, "w400 w700", map.size) == 0);
  gst_buffer_unmap (buf, &map);
  pts = GST_BUFFER_PTS (buf);
  stt_check_assert_time (pts, offset + stt_check_secs (0.5), "buffer pts");
  stt_check_assert_time (pts + GST_BUFFER_DURATION (buf), offset + stt_check_secs (1.3),
      "buffer end");
  gst_buffer_unref (buf);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  stt_check_assert_time (GST_BUFFER_PTS (buf), offset + stt_check_secs (2.5),
      "buffer 2 pts");
  gst_buffer_unref (buf);

  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

GST_START_TEST (test_transcripts_s16_16k_mono)
{
  run_transcripts (GST_AUDIO_FORMAT_S16LE, 16000, 1);
}

GST_END_TEST;

GST_START_TEST (test_transcripts_f32_48k_stereo)
{
  run_transcripts (GST_AUDIO_FORMAT_F32LE, 48000, 2);
}

GST_END_TEST;

/* Stream-start, caps and segment precede the text; EOS follows the last final. */
GST_START_TEST (test_events_and_eos)
{
  GstHarness *h = new_harness ("stttranscribe");
  GstEvent *ev;
  gboolean saw_caps = FALSE, saw_segment = FALSE, saw_start = FALSE;
  guint n_buffers = 0;

  push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, 0);
  gst_harness_push_event (h, gst_event_new_eos ());

  /* Every final is pushed before EOS. */
  while ((ev = gst_harness_pull_event (h))) {
    gboolean eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;

    if (eos) {
      n_buffers = gst_harness_buffers_received (h);
      gst_event_unref (ev);
      break;
    }
    if (GST_EVENT_TYPE (ev) == GST_EVENT_STREAM_START)
      saw_start = TRUE;
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps, *want = gst_caps_from_string ("text/x-raw, format=utf8");
      gst_event_parse_caps (ev, &caps);
      fail_unless (gst_caps_is_equal (caps, want));
      gst_caps_unref (want);
      saw_caps = TRUE;
    }
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT)
      saw_segment = TRUE;
    gst_event_unref (ev);
  }
  fail_unless (saw_start && saw_caps && saw_segment);
  fail_unless_equals_int (n_buffers, 2);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* sttsink: the same transcripts, through its signal and on the bus. */
static void
on_signal (GstElement * sink, const GstStructure * s, gpointer user_data)
{
  gboolean f;

  if (gst_structure_get_boolean (s, "is-final", &f) && f)
    g_atomic_int_inc ((gint *) user_data);
}

GST_START_TEST (test_sink)
{
  GstHarness *h = new_harness ("sttsink");
  GstBus *bus = gst_bus_new ();
  gint n_signal_finals = 0;
  GList *msgs, *finals;
  GstMessage *eos;

  gst_element_set_bus (h->element, bus);
  g_signal_connect (h->element, "transcript", G_CALLBACK (on_signal), &n_signal_finals);
  push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, 0);
  gst_harness_push_event (h, gst_event_new_eos ());

  msgs = stt_check_collect (bus, "stt-transcript", 10000, stt_check_n_finals,
      GUINT_TO_POINTER (2));
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 2);
  stt_check_final (finals->data, "w400 w700", stt_fx_tones, 2, 0);
  fail_unless_equals_int (g_atomic_int_get (&n_signal_finals), 2);
  /* The sink posts EOS once drained. */
  eos = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_EOS);
  fail_unless (eos != NULL);
  gst_message_unref (eos);

  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* A full pipeline into a subtitle encoder: the cues are the words, at their times. */
static gchar *
run_subtitles (const gchar * encoder)
{
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "stttranscribe provider=deepgram url=%s api-key=test-key ! %s ! "
      "appsink name=sink sync=false wait-on-eos=false", stt_fx.url, encoder);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstBus *bus = gst_element_get_bus (pipe);
  GString *out = g_string_new (NULL);
  GstMessage *msg;
  GstSample *sample;
  GList *bufs, *l;

  GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 48000, 2);
  GstBuffer *all;

  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 48000, 2, DURATION, stt_fx_tones,
      G_N_ELEMENTS (stt_fx_tones), 0);
  bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 48000, 2, 20);
  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next) {
    GstFlowReturn fr;
    g_signal_emit_by_name (src, "push-buffer", l->data, &fr);
    fail_unless_equals_int (fr, GST_FLOW_OK);
  }
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  {
    GstFlowReturn fr;
    g_signal_emit_by_name (src, "end-of-stream", &fr);
  }

  msg = gst_bus_timed_pop_filtered (bus, 15 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0))) {
    GstMapInfo map;
    GstBuffer *b = gst_sample_get_buffer (sample);

    gst_buffer_map (b, &map, GST_MAP_READ);
    g_string_append_len (out, (const gchar *) map.data, map.size);
    gst_buffer_unmap (b, &map);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  return g_string_free (out, FALSE);
}

GST_START_TEST (test_webvtt)
{
  g_autofree gchar *vtt = run_subtitles ("webvttenc");

  fail_unless (g_str_has_prefix (vtt, "WEBVTT"), "%s", vtt);
  fail_unless (strstr (vtt, "00:00:00.500 --> 00:00:01.300\nw400 w700") != NULL, "%s", vtt);
  fail_unless (strstr (vtt, "00:00:02.500 --> 00:00:02.800\nw1000") != NULL, "%s", vtt);
}

GST_END_TEST;

GST_START_TEST (test_srt)
{
  g_autofree gchar *srt = run_subtitles ("srtenc");

  fail_unless (strstr (srt, "1\n00:00:00,500 --> 00:00:01,300\nw400 w700") != NULL, "%s",
      srt);
  fail_unless (strstr (srt, "2\n00:00:02,500 --> 00:00:02,800\nw1000") != NULL, "%s", srt);
}

GST_END_TEST;

/* Live input: the latency query adds `latency`, and GAP events keep downstream moving.
 * A service slower than `latency` (1.5 s here) may make text late: it is then pushed
 * where the text stream stands (never backwards, never inside a GAP already pushed) and
 * counted. Whether it is late depends on when the pongs that vouch for the audio came
 * (results are 1.5 s late, pongs are not), so the test checks the invariants. */
GST_START_TEST (test_live_latency_and_gaps)
{
  GstHarness *h = new_harness ("stttranscribe");
  GstClockTime min, last = 0;
  GstEvent *ev;
  GstBuffer *buf;
  GstStructure *stats;
  guint64 late = 0, moved = 0;
  GArray *gaps = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  gboolean eos = FALSE;
  guint i, n;
  static const GstClockTime want[] = { 500 * GST_MSECOND, 2500 * GST_MSECOND };

  g_object_set (h->element, "latency", (guint) 1000, NULL);
  gst_harness_set_upstream_latency (h, 20 * GST_MSECOND);
  min = gst_harness_query_latency (h);
  fail_unless_equals_uint64 (min, GST_SECOND + 20 * GST_MSECOND);

  /* Results come 1.5 s after the audio: later than the 1 s promised. */
  stt_test_server_set_reply_delay (stt_fx.server, 1500);
  push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, 0);
  gst_harness_push_event (h, gst_event_new_eos ());

  while (!eos && (ev = gst_harness_pull_event (h)) != NULL) {
    GstClockTime ts, dur;

    if (GST_EVENT_TYPE (ev) == GST_EVENT_GAP) {
      gst_event_parse_gap (ev, &ts, &dur);
      g_array_append_val (gaps, ts);
      ts += dur;
      g_array_append_val (gaps, ts);
    }
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos);
  n = gst_harness_buffers_received (h);
  fail_unless_equals_int (n, 2);
  fail_unless (gaps->len > 0, "no GAP at all");
  for (i = 0; i < n; i++) {
    guint k;

    buf = gst_harness_pull (h);
    fail_unless (GST_BUFFER_PTS (buf) >= want[i] && GST_BUFFER_PTS (buf) >= last);
    last = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
    for (k = 0; k < gaps->len; k += 2)
      fail_if (GST_BUFFER_PTS (buf) >= g_array_index (gaps, GstClockTime, k)
          && GST_BUFFER_PTS (buf) < g_array_index (gaps, GstClockTime, k + 1),
          "a GAP covered text at %" GST_TIME_FORMAT, GST_TIME_ARGS (GST_BUFFER_PTS (buf)));
    if (GST_BUFFER_PTS (buf) != want[i])
      moved++;
    gst_buffer_unref (buf);
  }
  /* Every text pushed late is counted. */
  g_object_get (h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "late-results", &late));
  fail_unless_equals_uint64 (late, moved);
  gst_structure_free (stats);
  g_array_unref (gaps);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A file of known length: stt-stats each time the accounted point crosses a tenth of
 * it, with `progress` (the accounted point over the duration) rising to 1 and an
 * `eta`. */
GST_START_TEST (test_file_progress)
{
  g_autofree gchar *dir = g_dir_make_tmp ("stt-progress-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "talk.wav", NULL);
  g_autofree gchar *desc = NULL;
  guint n_tones;
  g_autofree SttTone *speech = stt_check_make_speech (20.0, 1.0, &n_tones);
  GstElement *pipe;
  GstBus *bus;
  GstMessage *msg;
  gdouble last = -1, progress;
  guint n = 0;
  gboolean eos = FALSE;

  fail_unless (stt_check_write_wav (path, 16000, 1, 20.0, speech, n_tones, NULL));
  desc = g_strdup_printf ("filesrc location=%s ! wavparse ! stttranscribe "
      "provider=deepgram url=%s api-key=test-key ! fakesink", path, stt_fx.url);
  pipe = gst_parse_launch (desc, NULL);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while (!eos && (msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
              GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR)) != NULL) {
    const GstStructure *st = gst_message_get_structure (msg);

    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    if (st && gst_structure_has_name (st, "stt-stats")
        && gst_structure_get_double (st, "progress", &progress)) {
      GstClockTime eta = GST_CLOCK_TIME_NONE;

      fail_unless (progress >= last && progress <= 1.0, "progress %f after %f", progress,
          last);
      fail_unless (gst_structure_get_clock_time (st, "eta", &eta));
      fail_unless (progress == 0 || GST_CLOCK_TIME_IS_VALID (eta));
      last = progress;
      n++;
    }
    gst_message_unref (msg);
  }
  fail_unless (eos, "no EOS");
  /* One per tenth crossed (a final that crosses two tenths at once gives one). */
  fail_unless (n >= 8, "%u progress reports", n);
  fail_unless (last == 1.0, "progress ended at %f", last);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

/* A file longer than the replay ring, one word throughout, with a ring that is not a
 * whole number of frames: the service gives no final until asked, so each time the
 * ring fills the element sends all of it, the partial frame at its end included, and
 * asks for finals. The finals follow each other with no gap to the file's end. (It
 * used to wait forever with the last partial frame unsent.) */
GST_START_TEST (test_file_fills_ring)
{
  g_autofree gchar *dir = g_dir_make_tmp ("stt-fill-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "tone.wav", NULL);
  g_autofree gchar *desc = NULL;
  const SttTone tone = { 0.0, 10.0, 400 };
  GstElement *pipe;
  GstBus *bus;
  GstMessage *msg;
  GstClockTime end = 0;
  guint finals = 0;
  gboolean eos = FALSE;

  fail_unless (stt_check_write_wav (path, 16000, 1, 10.0, &tone, 1, NULL));
  /* 3.1 s: 12.4 frames of 250 ms. */
  desc = g_strdup_printf ("filesrc location=%s ! wavparse ! stttranscribe "
      "provider=deepgram url=%s api-key=test-key max-buffer-time=3100000000 ! fakesink",
      path, stt_fx.url);
  pipe = gst_parse_launch (desc, NULL);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while (!eos && (msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
              GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR)) != NULL) {
    const GstStructure *st = gst_message_get_structure (msg);
    gboolean is_final = FALSE;
    GstClockTime pts, duration;

    fail_if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR);
    eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    if (st && gst_structure_has_name (st, "stt-transcript")
        && gst_structure_get_boolean (st, "is-final", &is_final) && is_final) {
      fail_unless (gst_structure_get_clock_time (st, "pts", &pts));
      fail_unless (gst_structure_get_clock_time (st, "duration", &duration));
      fail_unless_equals_string (gst_structure_get_string (st, "text"), "w400");
      stt_check_assert_time (pts, end, "final start");
      end = pts + duration;
      finals++;
    }
    gst_message_unref (msg);
  }
  fail_unless (eos, "no EOS");
  stt_check_assert_time (end, 10 * GST_SECOND, "end of the last final");
  fail_unless (finals >= 4, "%u finals", finals);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

/* Subtitles muxed next to the audio in Matroska, read back with matroskademux: the text
 * track holds every word at its time. The audio branch's queue must hold as much audio
 * as the text can lag behind it (a segment, plus the service's answer): with the default
 * 1 s queue the muxer waits for text that waits for audio behind the full queue. */
GST_START_TEST (test_matroska_subtitles)
{
  g_autofree gchar *dir = g_dir_make_tmp ("stt-mkv-XXXXXX", NULL);
  g_autofree gchar *wav = g_build_filename (dir, "talk.wav", NULL);
  g_autofree gchar *mkv = g_build_filename (dir, "talk.mkv", NULL);
  g_autofree gchar *mux = NULL, *demux = NULL;
  guint n_tones, got = 0;
  g_autofree SttTone *speech = stt_check_make_speech (12.0, 1.0, &n_tones);
  GstElement *pipe;
  GstBus *bus;
  GstMessage *msg;
  GstElement *sink;
  GstSample *sample;

  fail_unless (stt_check_write_wav (wav, 16000, 1, 12.0, speech, n_tones, NULL));
  mux = g_strdup_printf ("filesrc location=%s ! wavparse ! tee name=t "
      "t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! "
      "vorbisenc ! matroskamux name=m ! filesink location=%s "
      "t. ! queue ! stttranscribe provider=deepgram url=%s api-key=test-key ! "
      "text/x-raw,format=utf8 ! m.subtitle_%%u", wav, mkv, stt_fx.url);
  pipe = gst_parse_launch (mux, NULL);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND, GST_MESSAGE_EOS |
      GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "muxing ended "
      "with %s", msg ? GST_MESSAGE_TYPE_NAME (msg) : "a timeout");
  gst_message_unref (msg);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);

  /* Read the text track back. */
  demux = g_strdup_printf ("filesrc location=%s ! matroskademux name=d "
      "d.subtitle_0 ! appsink name=sink sync=false", mkv);
  pipe = gst_parse_launch (demux, NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND))) {
    GstBuffer *b = gst_sample_get_buffer (sample);
    GstMapInfo map;
    g_autofree gchar *text = NULL;
    g_autofree gchar *want = NULL;

    gst_buffer_map (b, &map, GST_MAP_READ);
    text = g_strndup ((const gchar *) map.data, map.size);
    gst_buffer_unmap (b, &map);
    fail_unless (got < n_tones, "more text than words: %s", text);
    want = stt_check_tone_word (&speech[got]);
    fail_unless_equals_string (text, want);
    /* Matroska keeps milliseconds. */
    stt_check_assert_time (GST_BUFFER_PTS (b), speech[got].start * GST_SECOND, text);
    got++;
    gst_sample_unref (sample);
  }
  fail_unless_equals_int (got, n_tones);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_unlink (wav);
  g_unlink (mkv);
  g_rmdir (dir);
}

GST_END_TEST;

/* stt-stats every stats-interval, with the schema fields and figures that add up. */
static gboolean
has_stats (GList * collected, gpointer user_data)
{
  for (; collected; collected = collected->next) {
    GstClockTime sent = 0, p50 = GST_CLOCK_TIME_NONE;
    guint64 msgs_in = 0;

    /* All the audio sent and the first results in (on a loaded machine these can come
     * in one stats message after the other). */
    if (gst_structure_has_name (collected->data, "stt-stats")
        && gst_structure_get_clock_time (collected->data, "audio-sent", &sent)
        && gst_structure_get_uint64 (collected->data, "messages-in", &msgs_in)
        && gst_structure_get_clock_time (collected->data, "latency-p50", &p50)
        && sent >= 3600 * GST_MSECOND && msgs_in > 0 && GST_CLOCK_TIME_IS_VALID (p50))
      return TRUE;
  }
  return FALSE;
}

GST_START_TEST (test_stats)
{
  GstHarness *h = new_harness ("stttranscribe");
  GstBus *bus = gst_bus_new ();
  GList *msgs, *l;
  const GstStructure *st = NULL;
  guint64 bytes = 0, conns = 0, msgs_in = 0;
  GstClockTime p50 = 0, p99 = 0;

  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "stats-interval", 100 * GST_MSECOND, NULL);
  push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, 0);
  msgs = stt_check_collect (bus, NULL, 10000, has_stats, NULL);
  for (l = msgs; l; l = l->next) {
    if (gst_structure_has_name (l->data, "stt-stats"))
      st = l->data;
  }
  fail_unless (st != NULL);
  fail_unless (gst_structure_get_uint64 (st, "bytes-sent", &bytes));
  fail_unless (gst_structure_get_uint64 (st, "connections", &conns));
  fail_unless (gst_structure_get_uint64 (st, "messages-in", &msgs_in));
  fail_unless (gst_structure_get_clock_time (st, "latency-p50", &p50));
  fail_unless (gst_structure_get_clock_time (st, "latency-p99", &p99));
  /* 3.6 s of 16 kHz S16LE in 100 ms frames. */
  fail_unless_equals_uint64 (bytes, 3600 * 32);
  fail_unless_equals_uint64 (conns, 1);
  fail_unless (msgs_in > 0);
  fail_unless (GST_CLOCK_TIME_IS_VALID (p50) && p50 <= p99);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* A stats-interval of whole seconds, as the default 10 s, comes from the I/O worker's
 * once-a-second tick (not a timer per stream): at 1 s, one stt-stats a second, neither
 * bunched nor missing. */
GST_START_TEST (test_stats_whole_seconds)
{
  GstHarness *h = new_harness ("stttranscribe");
  GstBus *bus = gst_bus_new ();
  GList *msgs;
  guint n;

  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "stats-interval", GST_SECOND, NULL);
  push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, 0);
  /* No EOS: the session stays, and so do its stats. */
  msgs = stt_check_collect (bus, "stt-stats", 4500, NULL, NULL);
  n = g_list_length (msgs);
  fail_unless (n >= 2 && n <= 5, "%u stt-stats in 4.5 s at 1 s", n);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

static Suite *
deepgram_suite (void)
{
  Suite *s = suite_create ("deepgram");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  stt_check_fixture_add (tc, "deepgram");
  tcase_add_test (tc, test_request);
  tcase_add_test (tc, test_transcripts_s16_16k_mono);
  tcase_add_test (tc, test_transcripts_f32_48k_stereo);
  tcase_add_test (tc, test_events_and_eos);
  tcase_add_test (tc, test_sink);
  tcase_add_test (tc, test_webvtt);
  tcase_add_test (tc, test_srt);
  tcase_add_test (tc, test_live_latency_and_gaps);
  tcase_add_test (tc, test_file_progress);
  tcase_add_test (tc, test_file_fills_ring);
  tcase_add_test (tc, test_matroska_subtitles);
  tcase_add_test (tc, test_stats);
  tcase_add_test (tc, test_stats_whole_seconds);
  return s;
}

GST_CHECK_MAIN (deepgram);
