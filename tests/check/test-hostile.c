/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hostile input, from the server and from upstream: the element keeps going where the
 * protocol allows, keeps the timeline right, never crashes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <malloc.h>
#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

static SttTestServer *server;
static gchar *url;

static const SttTone tones[] = { {0.5, 0.9, 400}, {1.5, 1.8, 700} };

static void
setup (void)
{
  server = stt_test_server_new ("deepgram", NULL);
  fail_unless (server != NULL);
  url = stt_test_server_get_url (server);
}

static void
teardown (void)
{
  stt_test_server_free (server);
  g_free (url);
}

static GstHarness *
new_harness (GstBus ** bus)
{
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");

  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  g_object_set (h->element, "provider", "deepgram", "url", url, "api-key", "test-key",
      "latency", (guint) 60000, "reconnect-initial-delay", 50 * GST_MSECOND, NULL);
  return h;
}

static void
free_harness (GstHarness * h, GstBus * bus)
{
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* Pushes EOS, then returns the final texts joined by " | " and checks no error. */
static gchar *
finals (GstHarness * h, GstBus * bus, guint want)
{
  GString *s = g_string_new (NULL);
  GList *msgs, *f, *l;
  GstEvent *ev;

  gst_harness_push_event (h, gst_event_new_eos ());
  while ((ev = gst_harness_pull_event (h)) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
    gst_event_unref (ev);
  if (ev)
    gst_event_unref (ev);
  msgs = stt_check_collect (bus, NULL, 200, NULL, NULL);
  for (l = msgs; l; l = l->next)
    fail_if (gst_structure_has_name (l->data, "error"), "%s",
        gst_structure_get_string (l->data, "message"));
  f = stt_check_filter_final (msgs, TRUE);
  for (l = f; l; l = l->next)
    g_string_append_printf (s, "%s%s", s->len ? " | " : "",
        gst_structure_get_string (l->data, "text"));
  fail_unless_equals_int (g_list_length (f), want);
  g_list_free (f);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  return g_string_free (s, FALSE);
}

static guint64
malformed_count (GstHarness * h)
{
  GstStructure *stats;
  guint64 n = 0;

  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "malformed-messages", &n);
  gst_structure_free (stats);
  return n;
}

/* Waits (bounded) until the element has skipped @n malformed messages. */
static void
wait_malformed (GstHarness * h, guint64 n)
{
  /* Generous: sanitizer builds parse a 20,000-message flood slowly. */
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (malformed_count (h) < n && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  fail_unless (malformed_count (h) >= n, "only %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
      " malformed messages seen", malformed_count (h), n);
}

static void
push_split (GstHarness * h, GstBuffer * all, GstAudioFormat format, guint rate,
    guint channels, guint ms)
{
  GList *bufs = stt_check_split (all, format, rate, channels, ms), *l;

  for (l = bufs; l; l = l->next)
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  g_list_free (bufs);
  gst_buffer_unref (all);
}

/* --- from the server ------------------------------------------------------------- */

static void
server_junk (const gchar * const *junk, guint n_junk, guint n_malformed)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.5, tones,
      G_N_ELEMENTS (tones), 0);
  g_autofree gchar *text = NULL;
  guint i;

  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, gst_buffer_copy_region (all, GST_BUFFER_COPY_ALL, 0, 32000));
  fail_unless (stt_test_server_wait_connections (server, 1, FALSE, 5000));
  for (i = 0; i < n_junk; i++)
    stt_test_server_send_text (server, junk[i]);
  wait_malformed (h, n_malformed);
  gst_harness_push (h, gst_buffer_copy_region (all, GST_BUFFER_COPY_ALL, 32000, -1));
  gst_buffer_unref (all);
  text = finals (h, bus, 2);
  fail_unless_equals_string (text, "w400 | w700");
  free_harness (h, bus);
}

/* Deep nesting (a stack bomb for a recursive parser), wrong types, NaN,
 * absurd and backwards times: logged and skipped; the real words still arrive. */
GST_START_TEST (test_server_garbage)
{
  gchar *deep = g_malloc (400001);
  const gchar *junk[8];

  memset (deep, '[', 200000);
  memset (deep + 200000, ']', 200000);
  deep[400000] = '\0';
  /* (Invalid UTF-8 cannot travel in a text frame: libsoup refuses it on both sides; the
   * parsers' own check is fuzzed.) */
  junk[0] = "{\"type\":\"Results\",\"is_final\":\"yes\",\"channel\":[1,2]}";
  junk[1] = deep;
  junk[2] = "[\"not an object\"]";
  junk[3] = "{\"type\":\"Results\",\"is_final\":false,\"start\":NaN}";
  /* Structurally valid, with hostile times: a partial far in the future and backwards. */
  junk[4] = "{\"type\":\"Results\",\"is_final\":false,\"start\":1e300,\"duration\":-5,"
      "\"channel\":{\"alternatives\":[{\"transcript\":\"junk\",\"words\":[{\"word\":"
      "\"junk\",\"start\":1e300,\"end\":-1e300,\"confidence\":2}]}]}}";
  junk[5] = "{\"type\":\"Metadata\"}";
  junk[6] = "{\"type\":\"Unheard-Of\",\"x\":{\"y\":[{}]}}";
  junk[7] = "";
  /* The deep, the array, the NaN, the unknown type and the empty one. */
  server_junk (junk, G_N_ELEMENTS (junk), 5);
  g_free (deep);
}

GST_END_TEST;

/* A flood of messages: counted, logged sparingly, no growth, the stream goes on. */
GST_START_TEST (test_server_flood)
{
  const gchar *junk[1] = { "{\"type\":\"Unheard-Of\"}" };
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.5, tones,
      G_N_ELEMENTS (tones), 0);
  g_autofree gchar *text = NULL;
  guint i;

  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, gst_buffer_copy_region (all, GST_BUFFER_COPY_ALL, 0, 32000));
  fail_unless (stt_test_server_wait_connections (server, 1, FALSE, 5000));
  for (i = 0; i < 20000; i++)
    stt_test_server_send_text (server, junk[0]);
  wait_malformed (h, 20000);
  gst_harness_push (h, gst_buffer_copy_region (all, GST_BUFFER_COPY_ALL, 32000, -1));
  gst_buffer_unref (all);
  text = finals (h, bus, 2);
  fail_unless_equals_string (text, "w400 | w700");
  free_harness (h, bus);
}

GST_END_TEST;

/* A message over the size limit: the connection is dropped and replaced, no word lost. */
GST_START_TEST (test_server_huge_message)
{
  GString *huge = g_string_new ("{\"type\":\"Unheard-Of\",\"pad\":\"");
  const gchar *junk[1];
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.5, tones,
      G_N_ELEMENTS (tones), 0);
  g_autofree gchar *text = NULL;

  while (huge->len < 6 * 1024 * 1024)
    g_string_append (huge, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_string_append (huge, "\"}");
  junk[0] = huge->str;
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, gst_buffer_copy_region (all, GST_BUFFER_COPY_ALL, 0, 32000));
  fail_unless (stt_test_server_wait_connections (server, 1, FALSE, 5000));
  stt_test_server_send_text (server, junk[0]);
  fail_unless (stt_test_server_wait_connections (server, 2, FALSE, 5000));
  gst_harness_push (h, gst_buffer_copy_region (all, GST_BUFFER_COPY_ALL, 32000, -1));
  gst_buffer_unref (all);
  text = finals (h, bus, 2);
  fail_unless_equals_string (text, "w400 | w700");
  g_string_free (huge, TRUE);
  free_harness (h, bus);
}

GST_END_TEST;

/* Heap in use in this process, in kB: what is held, not what malloc keeps around
 * (resident memory would also count freed arenas). */
static gsize
heap_kb (void)
{
  struct mallinfo2 mi = mallinfo2 ();

  return (mi.uordblks + mi.hblkhd) / 1024;
}

/* A harness on @protocol's own test server, with one connection open. */
static GstHarness *
harness_on (const gchar * protocol, SttTestServer ** srv, GstBus ** bus)
{
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  g_autofree gchar *u = NULL;

  *srv = stt_test_server_new (protocol, NULL);
  fail_unless (*srv != NULL);
  u = stt_test_server_get_url (*srv);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  g_object_set (h->element, "provider", protocol, "url", u, "latency", (guint) 60000, NULL);
  stt_check_set_test_credentials (h->element, protocol);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 0.5, NULL,
          0, 0));
  fail_unless (stt_test_server_wait_connections (*srv, 1, FALSE, 5000));
  return h;
}

static gboolean
at_least (GList * collected, gpointer n)
{
  return g_list_length (collected) >= GPOINTER_TO_UINT (n);
}

/* Partials under ever new 1 MB segment ids (Gladia's `data.id`): what the element
 * keeps of them is bounded (it once held every id: 400 MB for 400 partials). */
GST_START_TEST (test_server_segment_ids)
{
  SttTestServer *srv;
  GstBus *bus;
  GstHarness *h = harness_on ("gladia", &srv, &bus);
  GString *id = g_string_new (NULL);
  gsize before = heap_kb (), after;
  guint i;

  while (id->len < 1024 * 1024)
    g_string_append (id, "0123456789abcdef");
  for (i = 0; i < 400; i++) {
    g_autofree gchar *msg = NULL;
    gchar prefix[9];

    g_snprintf (prefix, sizeof (prefix), "%08u", i);
    memcpy (id->str, prefix, 8);
    msg = g_strdup_printf ("{\"session_id\":\"s\",\"created_at\":\"x\",\"type\":"
        "\"transcript\",\"data\":{\"id\":\"%s\",\"is_final\":false,\"utterance\":"
        "{\"start\":0.1,\"end\":0.2,\"text\":\"w%u\",\"words\":[]}}}", id->str, i);
    stt_test_server_send_text (srv, msg);
  }
  /* Every partial seen (one stt-transcript each), then the memory. */
  g_list_free_full (stt_check_collect (bus, "stt-transcript", 60000, at_least,
          GUINT_TO_POINTER (400)), (GDestroyNotify) gst_structure_free);
  after = heap_kb ();
  fail_unless (after < before + 50 * 1024, "the heap grew from %" G_GSIZE_FORMAT " to %"
      G_GSIZE_FORMAT " kB", before, after);
  g_string_free (id, TRUE);
  free_harness (h, bus);
  stt_test_server_free (srv);
}

GST_END_TEST;

/* Final tokens that never end a segment (no <end>, Soniox): the element sends them as a
 * final of their own at a bound, so no partial repeats an ever longer text. */
GST_START_TEST (test_server_endless_segment)
{
  SttTestServer *srv;
  GstBus *bus;
  GstHarness *h = harness_on ("soniox", &srv, &bus);
  GList *msgs, *l;
  gsize longest = 0, final_words = 0;
  guint i;

  /* 1200 tokens in the 0.5 s sent, in order (tokens in audio already covered by a
   * final would be trimmed as replays); the element holds at most 1000. */
  for (i = 0; i < 1200; i++) {
    g_autofree gchar *msg = g_strdup_printf ("{\"tokens\":[{\"text\":\" ab\","
        "\"start_ms\":%u,\"end_ms\":%u,\"is_final\":true}],\"final_audio_proc_ms\":%u,"
        "\"total_audio_proc_ms\":%u}", i / 3, i / 3 + 1, i / 3 + 1, i / 3 + 1);

    stt_test_server_send_text (srv, msg);
  }
  msgs = stt_check_collect (bus, "stt-transcript", 150000, stt_check_n_finals,
      GUINT_TO_POINTER (1));
  for (l = msgs; l; l = l->next) {
    const gchar *text = gst_structure_get_string (l->data, "text");
    gboolean final = FALSE;

    gst_structure_get_boolean (l->data, "is-final", &final);
    longest = MAX (longest, strlen (text));
    if (final) {
      g_auto (GStrv) words = g_strsplit (text, " ", -1);

      final_words += g_strv_length (words);
    }
  }
  fail_unless (final_words >= 1000, "%" G_GSIZE_FORMAT " words in finals", final_words);
  fail_unless (longest <= 1000 * 3 + 10, "a text of %" G_GSIZE_FORMAT " bytes", longest);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  free_harness (h, bus);
  stt_test_server_free (srv);
}

GST_END_TEST;

/* --- from upstream --------------------------------------------------------------- */

/* Buffers of one sample, and one buffer of ten seconds. */
GST_START_TEST (test_buffer_sizes)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_F32LE, 48000, 2, 2.5, tones,
      G_N_ELEMENTS (tones), 0);
  GstBuffer *ten = stt_check_make_audio (GST_AUDIO_FORMAT_F32LE, 48000, 2, 10.0, NULL, 0,
      2500 * GST_MSECOND);
  g_autofree gchar *text = NULL;
  GList *bufs, *l;
  gsize n = 0;

  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_F32LE, 48000, 2));
  /* One-sample buffers for the first 0.2 s (9600 buffers), then 20 ms. */
  bufs = stt_check_split (all, GST_AUDIO_FORMAT_F32LE, 48000, 2, 20);
  for (l = bufs; l; l = l->next) {
    GstBuffer *b = l->data;
    if (GST_BUFFER_PTS (b) < 200 * GST_MSECOND) {
      gsize off;
      for (off = 0; off < gst_buffer_get_size (b); off += 8) {
        GstBuffer *one = gst_buffer_copy_region (b, GST_BUFFER_COPY_ALL, off, 8);
        GST_BUFFER_PTS (one) = GST_BUFFER_PTS (b) + gst_util_uint64_scale (off / 8,
            GST_SECOND, 48000);
        fail_unless_equals_int (gst_harness_push (h, one), GST_FLOW_OK);
        n++;
      }
      gst_buffer_unref (b);
    } else {
      fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
    }
  }
  g_list_free (bufs);
  gst_buffer_unref (all);
  fail_unless (n >= 9000);
  fail_unless_equals_int (gst_harness_push (h, ten), GST_FLOW_OK);
  text = finals (h, bus, 2);
  fail_unless_equals_string (text, "w400 | w700");
  free_harness (h, bus);
}

GST_END_TEST;

/* Caps change mid-stream (rate, channels, format): the timeline goes on. */
GST_START_TEST (test_caps_change)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *a = stt_check_make_audio (GST_AUDIO_FORMAT_F32LE, 48000, 2, 1.2, tones, 1, 0);
  static const SttTone second[] = { {0.3, 0.6, 700} };
  GstBuffer *b = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 8000, 1, 1.3, second, 1,
      1200 * GST_MSECOND);
  GList *msgs, *f;
  GstClockTime pts;
  GBytes *audio;
  GstEvent *ev;

  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_F32LE, 48000, 2));
  push_split (h, a, GST_AUDIO_FORMAT_F32LE, 48000, 2, 20);
  gst_harness_set_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 8000, 1),
      gst_caps_from_string ("text/x-raw, format=utf8"));
  push_split (h, b, GST_AUDIO_FORMAT_S16LE, 8000, 1, 20);
  gst_harness_push_event (h, gst_event_new_eos ());
  while ((ev = gst_harness_pull_event (h)) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
    gst_event_unref (ev);
  gst_event_unref (ev);
  msgs = stt_check_collect (bus, NULL, 200, NULL, NULL);
  f = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (f), 2);
  fail_unless_equals_string (gst_structure_get_string (f->next->data, "text"), "w700");
  gst_structure_get_clock_time (f->next->data, "pts", &pts);
  /* 1.2 s + 0.3 s. */
  fail_unless (ABS (GST_CLOCK_DIFF (pts, 1500 * GST_MSECOND)) <= 30 * GST_MSECOND,
      "w700 at %" GST_TIME_FORMAT, GST_TIME_ARGS (pts));
  /* 2.5 s of 16 kHz reached the server, give or take the resamplers' rounding. */
  audio = stt_test_server_get_audio (server, 0);
  fail_unless (ABS ((gssize) g_bytes_get_size (audio) / 2 - 40000) <= 40, "%" G_GSIZE_FORMAT,
      g_bytes_get_size (audio) / 2);
  g_bytes_unref (audio);
  g_list_free (f);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  free_harness (h, bus);
}

GST_END_TEST;

/* No timestamps at all: times count from the segment start by samples. */
GST_START_TEST (test_no_timestamps)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.5, tones,
      G_N_ELEMENTS (tones), 0);
  GList *bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 16000, 1, 20), *l;
  GstBuffer *text;

  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  for (l = bufs; l; l = l->next) {
    GST_BUFFER_PTS (l->data) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION (l->data) = GST_CLOCK_TIME_NONE;
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  }
  g_list_free (bufs);
  gst_buffer_unref (all);
  gst_harness_push_event (h, gst_event_new_eos ());
  text = gst_harness_pull (h);
  fail_unless (text != NULL);
  fail_unless (ABS (GST_CLOCK_DIFF (GST_BUFFER_PTS (text), 500 * GST_MSECOND)) <=
      30 * GST_MSECOND);
  gst_buffer_unref (text);
  free_harness (h, bus);
}

GST_END_TEST;

/* Timestamps jumping forwards and backwards, a DISCONT on every buffer (one connection
 * all along), a new segment:
 * text times follow the input's timestamps, never go backwards on the src pad. */
GST_START_TEST (test_timestamp_jumps)
{
  GstBus *bus;
  GstHarness *h = new_harness (&bus);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.5, tones,
      G_N_ELEMENTS (tones), 0);
  GList *bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 16000, 1, 20), *l;
  GstClockTime last = 0;
  GstBuffer *text;
  GstSegment seg;

  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  for (l = bufs; l; l = l->next) {
    GstClockTime pts = GST_BUFFER_PTS (l->data);

    /* +100 s from 1.0 s on, and one buffer stamped 50 s in the past. */
    if (pts >= GST_SECOND)
      GST_BUFFER_PTS (l->data) = pts + 100 * GST_SECOND;
    if (pts == 1200 * GST_MSECOND)
      GST_BUFFER_PTS (l->data) = 50 * GST_SECOND;
    GST_BUFFER_FLAG_SET (l->data, GST_BUFFER_FLAG_DISCONT);
    if (pts == 2 * GST_SECOND) {
      gst_segment_init (&seg, GST_FORMAT_TIME);
      seg.base = 7 * GST_SECOND;
      gst_harness_push_event (h, gst_event_new_segment (&seg));
    }
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  }
  g_list_free (bufs);
  gst_buffer_unref (all);
  gst_harness_push_event (h, gst_event_new_eos ());
  {
    GstEvent *ev;
    while ((ev = gst_harness_pull_event (h)) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
      gst_event_unref (ev);
    if (ev)
      gst_event_unref (ev);
  }
  fail_unless_equals_int (gst_harness_buffers_received (h), 2);
  /* A DISCONT is about the input's timeline, never a reason to reconnect. */
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 1);
  while ((text = gst_harness_try_pull (h))) {
    fail_unless (GST_BUFFER_PTS (text) >= last);
    last = GST_BUFFER_PTS (text);
    gst_buffer_unref (text);
  }
  /* w700 (1.5 s in the audio) carries the jumped time. */
  fail_unless (last >= 100 * GST_SECOND, "%" GST_TIME_FORMAT, GST_TIME_ARGS (last));
  free_harness (h, bus);
}

GST_END_TEST;

static Suite *
hostile_suite (void)
{
  Suite *s = suite_create ("hostile");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_server_garbage);
  tcase_add_test (tc, test_server_flood);
  tcase_add_test (tc, test_server_huge_message);
  tcase_add_test (tc, test_server_segment_ids);
  tcase_add_test (tc, test_server_endless_segment);
  tcase_add_test (tc, test_buffer_sizes);
  tcase_add_test (tc, test_caps_change);
  tcase_add_test (tc, test_no_timestamps);
  tcase_add_test (tc, test_timestamp_jumps);
  return s;
}

GST_CHECK_MAIN (hostile);
