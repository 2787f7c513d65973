/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local Soniox-protocol server: the handshake and the start
 * request, the token stream rebuilt into partials and finals (sub-word pieces joined,
 * ms times in the input's time domain), the end of audio flushing the open segment,
 * finalize, errors (401 fatal, 400 fatal, 503 retried), and a dropped connection after
 * which every word arrives once. The service takes audio at real time only, so these tests
 * take the time of their audio. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

static SttTestServer *server;
static gchar *url;

/* Two segments (the server ends one after 300 ms of silence); the last word still sounds
 * 20 ms before the end, so only the end of audio closes it. */
static const SttTone tones[] = {
  {0.5, 0.9, 440},
  {1.0, 1.3, 700},
  {2.5, 2.8, 1000},
};

#define DURATION 2.82

static void
setup (void)
{
  GError *err = NULL;

  server = stt_test_server_new ("soniox", &err);
  fail_unless (server != NULL, "server: %s", err ? err->message : "");
  url = stt_test_server_get_url (server);
}

static void
teardown (void)
{
  stt_test_server_free (server);
  g_free (url);
}

static SttCheckRun *
new_run (void)
{
  return stt_check_run_new ("soniox", url, tones, G_N_ELEMENTS (tones), DURATION);
}

/* The @i-th text message of connection 0 as a JSON object (@parser keeps it). */
static JsonObject *
text_message (guint i, JsonParser * parser)
{
  g_auto (GStrv) texts = stt_test_server_get_text_messages (server, 0);
  JsonNode *root;

  fail_unless (texts != NULL && i < g_strv_length (texts));
  fail_unless (json_parser_load_from_data (parser, texts[i], -1, NULL), "%s", texts[i]);
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

/* Bearer key on the handshake; a start request with what the service needs and no key;
 * every sample at the pace of real time; the empty frame at the end. */
GST_START_TEST (test_start_request)
{
  SttCheckRun *r = new_run ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *auth = NULL;
  g_auto (GStrv) texts = NULL;
  JsonObject *start;
  JsonArray *hints;
  GBytes *audio;
  gint64 t0 = g_get_monotonic_time ();

  g_object_set (r->h->element, "language", "en-GB", NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  gst_harness_push_event (r->h, gst_event_new_eos ());
  fail_unless (stt_test_server_wait_connections (server, 1, TRUE, 15000));
  /* Never faster than real time, though the input came at once. */
  fail_unless (g_get_monotonic_time () - t0 >= (DURATION - 0.3) * G_USEC_PER_SEC);

  auth = stt_test_server_get_header (server, 0, "Authorization");
  fail_unless_equals_string (auth, "Bearer test-key");
  start = text_message (0, parser);
  fail_unless_equals_string (json_object_get_string_member (start, "model"), "stt-rt-v5");
  fail_unless_equals_string (json_object_get_string_member (start, "audio_format"),
      "pcm_s16le");
  fail_unless_equals_int (json_object_get_int_member (start, "sample_rate"), 16000);
  fail_unless_equals_int (json_object_get_int_member (start, "num_channels"), 1);
  fail_unless (json_object_get_boolean_member (start, "enable_endpoint_detection"));
  fail_unless (!json_object_get_boolean_member (start, "enable_speaker_diarization"));
  hints = json_object_get_array_member (start, "language_hints");
  fail_unless_equals_int (json_array_get_length (hints), 1);
  fail_unless_equals_string (json_array_get_string_element (hints, 0), "en");
  /* The key goes with the handshake only. */
  fail_if (json_object_has_member (start, "api_key"));

  texts = stt_test_server_get_text_messages (server, 0);
  fail_unless_equals_string (texts[g_strv_length (texts) - 1], "");
  audio = stt_test_server_get_audio (server, 0);
  fail_unless (g_bytes_equal (audio, r->input));
  g_bytes_unref (audio);
  stt_check_run_free (r);
}

GST_END_TEST;

/* params reach the start request as JSON and win; diarization gives speakers. */
GST_START_TEST (test_params)
{
  SttCheckRun *r = new_run ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  GstStructure *params = gst_structure_new ("p", "enable_speaker_diarization",
      G_TYPE_BOOLEAN, TRUE, "max_endpoint_delay_ms", G_TYPE_INT, 1000,
      "client_reference_id", G_TYPE_STRING, "cam-1", NULL);
  JsonObject *start;
  GList *msgs, *finals;
  const GstStructure *w;

  g_object_set (r->h->element, "params", params, "model", "stt-rt-v4", NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, 1.5, FALSE);
  msgs = stt_check_run_finish (r, (const gchar *[]) { "w400", "w700", NULL }, NULL);
  start = text_message (0, parser);
  fail_unless_equals_string (json_object_get_string_member (start, "model"), "stt-rt-v4");
  fail_unless (json_object_get_boolean_member (start, "enable_speaker_diarization"));
  fail_unless_equals_int (json_object_get_int_member (start, "max_endpoint_delay_ms"),
      1000);
  fail_unless_equals_string (json_object_get_string_member (start, "client_reference_id"),
      "cam-1");
  finals = stt_check_filter_final (msgs, TRUE);
  w = gst_value_get_structure (gst_value_array_get_value (gst_structure_get_value
          (finals->data, "words"), 0));
  fail_unless_equals_string (gst_structure_get_string (w, "speaker"), "1");
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Without endpoint detection no <end> closes segments: each word is a final once its
 * tokens are final and a next word has begun (or the stream ends). */
GST_START_TEST (test_no_endpoints)
{
  SttCheckRun *r = new_run ();
  GstStructure *params = gst_structure_new ("p", "enable_endpoint_detection",
      G_TYPE_BOOLEAN, FALSE, NULL);
  GList *msgs, *finals;

  g_object_set (r->h->element, "params", params, NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, (const gchar *[]) { "w400", "w700", "w1000", NULL },
      NULL);
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 3);
  stt_check_final (finals->data, "w400", tones, 1, 0);
  stt_check_final (finals->next->data, "w700", tones + 1, 1, 0);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Partials (final tokens so far + the tail) and finals at <end> and at the end of audio,
 * words rebuilt from their pieces, times in the input's time domain (it starts at 10 s);
 * the text buffers, all before EOS. */
GST_START_TEST (test_transcripts)
{
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  GstBus *bus = gst_bus_new ();
  GstClockTime offset = 10 * GST_SECOND;
  GstBuffer *all;
  GList *bufs, *l, *msgs, *finals, *partials;
  guint64 seg0, seg1, id;
  guint rev;
  gboolean partial_of_first = FALSE;
  GstEvent *ev;
  GstBuffer *buf;
  GstMapInfo map;

  g_object_set (h->element, "provider", "soniox", "url", url, "api-key", "test-key",
      "latency", (guint) 60000, NULL);
  /* The text buffers checked here are the segments of a file (the harness only says
   * it is live). */
  gst_util_set_object_arg (G_OBJECT (h->element), "output-mode", "segments");
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, DURATION, tones,
      G_N_ELEMENTS (tones), offset);
  bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 16000, 1, 20);
  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next)
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  g_list_free (bufs);
  gst_harness_push_event (h, gst_event_new_eos ());

  /* Both texts are out before EOS: the last segment was closed by the end of audio. */
  while ((ev = gst_harness_pull_event (h)) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
    gst_event_unref (ev);
  fail_unless (ev != NULL);
  gst_event_unref (ev);
  fail_unless_equals_int (gst_harness_buffers_received (h), 2);

  msgs = stt_check_collect (bus, "stt-transcript", 5000, stt_check_n_finals,
      GUINT_TO_POINTER (2));
  finals = stt_check_filter_final (msgs, TRUE);
  partials = stt_check_filter_final (msgs, FALSE);
  fail_unless_equals_int (g_list_length (finals), 2);
  fail_unless (g_list_length (partials) >= 2, "%u partials", g_list_length (partials));
  stt_check_final (finals->data, "w400 w700", tones, 2, offset);
  stt_check_final (finals->next->data, "w1000", tones + 2, 1, offset);
  fail_unless_equals_string (gst_structure_get_string (finals->data, "provider"),
      "soniox");
  fail_unless (gst_structure_get_uint64 (finals->data, "segment-id", &seg0));
  fail_unless (gst_structure_get_uint64 (finals->next->data, "segment-id", &seg1));
  fail_unless (seg0 != seg1);
  fail_unless (gst_structure_get_uint (finals->data, "revision", &rev));
  fail_unless (rev >= 1);
  for (l = partials; l; l = l->next) {
    const gchar *text = gst_structure_get_string (l->data, "text");

    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    fail_unless (id == seg0 || id == seg1);
    /* Whole words, never pieces such as "w4". */
    fail_unless (g_str_equal (text, "w400") || g_str_equal (text, "w400 w700")
        || g_str_equal (text, "w1000"), "partial \"%s\"", text);
    if (id == seg0)
      partial_of_first = TRUE;
  }
  fail_unless (partial_of_first);

  buf = gst_harness_pull (h);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  fail_unless (map.size == strlen ("w400 w700")
      && memcmp (map.data, "w400 w700", map.size) == 0);
  gst_buffer_unmap (buf, &map);
  stt_check_assert_time (GST_BUFFER_PTS (buf), offset + 500 * GST_MSECOND, "buffer pts");
  stt_check_assert_time (GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf),
      offset + 1300 * GST_MSECOND, "buffer end");
  gst_buffer_unref (buf);
  buf = gst_harness_pull (h);
  stt_check_assert_time (GST_BUFFER_PTS (buf), offset + 2500 * GST_MSECOND,
      "buffer 2 pts");
  gst_buffer_unref (buf);

  g_list_free (finals);
  g_list_free (partials);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* An SttCheckDoneFunc: the finals reach GPOINTER_TO_UINT (@user_data) ms (minus 30). */
static gboolean
reached (GList * collected, gpointer user_data)
{
  GList *f = stt_check_filter_final (collected, TRUE), *l;
  GstClockTime end = 0, pts, dur;

  for (l = f; l; l = l->next)
    if (gst_structure_get_clock_time (l->data, "pts", &pts)
        && gst_structure_get_clock_time (l->data, "duration", &dur))
      end = MAX (end, pts + dur);
  g_list_free (f);
  return end + 30 * GST_MSECOND >= GPOINTER_TO_UINT (user_data) * GST_MSECOND;
}

/* A full replay ring (non-live input, a long word without an endpoint): the element asks
 * for finals with finalize; each <fin> final commits the audio and the stream goes on to
 * its end. The harness is live, so this runs in a pipeline. */
GST_START_TEST (test_finalize)
{
  static const SttTone long_word[] = { {0.3, 2.3, 500} };
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "stttranscribe provider=soniox url=%s api-key=test-key max-buffer-time=1000000000 ! "
      "fakesink", url);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstBus *bus = gst_element_get_bus (pipe);
  GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.6, long_word,
      1, 0);
  GList *bufs, *l, *msgs, *finals;
  GstFlowReturn fr;
  GstMessage *eos;
  g_auto (GStrv) texts = NULL;
  gboolean finalize = FALSE;
  guint i;

  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 16000, 1, 20);
  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next) {
    g_signal_emit_by_name (src, "push-buffer", l->data, &fr);
    fail_unless_equals_int (fr, GST_FLOW_OK);
  }
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  g_signal_emit_by_name (src, "end-of-stream", &fr);

  msgs = stt_check_collect (bus, NULL, 15000, reached, GUINT_TO_POINTER (2300));
  eos = gst_bus_timed_pop_filtered (bus, 15 * GST_SECOND, GST_MESSAGE_EOS |
      GST_MESSAGE_ERROR);
  fail_unless (eos != NULL && GST_MESSAGE_TYPE (eos) == GST_MESSAGE_EOS);
  gst_message_unref (eos);
  texts = stt_test_server_get_text_messages (server, 0);
  for (i = 0; texts[i]; i++)
    finalize |= g_str_equal (texts[i], "{\"type\":\"finalize\"}");
  fail_unless (finalize, "no finalize sent");
  /* The word, cut where each finalize came: the pieces follow each other. */
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless (g_list_length (finals) >= 2);
  {
    GstClockTime expect = 300 * GST_MSECOND, pts, dur;

    for (l = finals; l; l = l->next) {
      fail_unless_equals_string (gst_structure_get_string (l->data, "text"), "w500");
      fail_unless (gst_structure_get_clock_time (l->data, "pts", &pts));
      fail_unless (gst_structure_get_clock_time (l->data, "duration", &dur));
      stt_check_assert_time (pts, expect, "piece start");
      expect = pts + dur;
    }
    stt_check_assert_time (expect, 2300 * GST_MSECOND, "word end");
  }
  for (l = msgs; l; l = l->next)
    fail_if (gst_structure_has_name (l->data, "error"));
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* The service refuses the key or the start request: the error posted (its code in @code),
 * after which nothing else happens: no second error, no retry. */
static GstStructure *
run_error (const gchar * key, GstStructure * params, gint * code)
{
  SttCheckRun *r = new_run ();
  GstStructure *err;
  guint domain;

  g_object_set (r->h->element, "api-key", key, "params", params, NULL);
  stt_check_run_push (r, 0, 1.0, FALSE);
  err = stt_check_wait_error (r->bus, 10000);
  fail_unless (err != NULL, "no error posted");
  fail_unless (gst_structure_get_int (err, "code", code));
  fail_unless (gst_structure_get_uint (err, "domain", &domain));
  fail_unless_equals_int (domain, GST_RESOURCE_ERROR);
  g_usleep (1500 * 1000);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (server), 1);
  fail_unless (stt_check_wait_error (r->bus, 0) == NULL, "a second error");
  stt_check_run_free (r);
  return err;
}

/* A rejected key: one error naming the service and the status, never the key. */
GST_START_TEST (test_bad_key)
{
  GstStructure *err;
  const gchar *text;
  gint code;

  err = run_error ("wrong-key", NULL, &code);
  text = gst_structure_get_string (err, "message");
  fail_unless_equals_int (code, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  fail_unless (strstr (text, "Soniox") != NULL && strstr (text, "401") != NULL, "%s", text);
  fail_unless (strstr (text, "wrong-key") == NULL, "the key shows: %s", text);
  gst_structure_free (err);
}

GST_END_TEST;

/* A start request the service refuses (400): fatal, it would be refused again. */
GST_START_TEST (test_bad_request)
{
  GstStructure *params = gst_structure_new ("p", "max_endpoint_delay_ms", G_TYPE_INT,
      100, NULL);
  GstStructure *err;
  gint code;

  err = run_error ("test-key", params, &code);
  fail_unless_equals_int (code, GST_RESOURCE_ERROR_SETTINGS);
  fail_unless (strstr (gst_structure_get_string (err, "message"), "400") != NULL);
  gst_structure_free (params);
  gst_structure_free (err);
}

GST_END_TEST;

static const SttTone four[] = {
  {0.5, 0.9, 400}, {1.0, 1.3, 700}, {2.0, 2.4, 500}, {3.0, 3.3, 600},
};

static const gchar *const four_words[] = { "w400", "w700", "w500", "w600", NULL };

/* Each connection's audio is a piece of the input; together they cover all of it. The
 * second one starts between the last final's end and where the first one was cut. */
static void
check_replay (SttCheckRun * r, gdouble replay_from, gdouble cut)
{
  GBytes *audio0 = stt_test_server_get_audio (server, 0);
  GBytes *audio1 = stt_test_server_get_audio (server, 1);
  gssize at = stt_check_find_audio (r->input, audio1);
  gsize n0 = g_bytes_get_size (audio0) / 2, n1 = g_bytes_get_size (audio1) / 2;

  fail_unless_equals_int (stt_check_find_audio (r->input, audio0), 0);
  fail_unless (at >= replay_from * 16000 && at <= cut * 16000 + 1600,
      "replay from %" G_GSSIZE_FORMAT, at);
  fail_unless ((gsize) at <= n0, "a gap at %" G_GSSIZE_FORMAT, at);
  fail_unless_equals_int (at + n1, g_bytes_get_size (r->input) / 2);
  g_bytes_unref (audio0);
  g_bytes_unref (audio1);
}

/* The connection drops in the middle of a word: a new stream replays from the last final,
 * and every word arrives exactly once, at its time. */
GST_START_TEST (test_drop)
{
  SttCheckRun *r = stt_check_run_new ("soniox", url, four, G_N_ELEMENTS (four), 4.0);
  GList *msgs;

  stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 2.2, 0, NULL);
  stt_check_run_push (r, 0, 4.0, FALSE);
  msgs = stt_check_run_finish (r, four_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 2);
  fail_unless (stt_test_server_wait_connections (server, 2, TRUE, 5000));
  /* w400 w700 were final at 1.6 s. */
  check_replay (r, 1.3, 2.2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* "Cannot continue request" (503): a new request at once, nothing lost or doubled. */
GST_START_TEST (test_error_503)
{
  SttCheckRun *r = stt_check_run_new ("soniox", url, four, G_N_ELEMENTS (four), 4.0);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  GList *msgs;

  stt_check_run_push (r, 0, 4.0, FALSE);
  /* Once the first connection has heard 2.2 s (mid w500). */
  for (;;) {
    GBytes *a = stt_test_server_get_audio (server, 0);
    gsize n = a ? g_bytes_get_size (a) : 0;

    g_clear_pointer (&a, g_bytes_unref);
    if (n >= 2.2 * 16000 * 2 || g_get_monotonic_time () > deadline)
      break;
    g_usleep (20 * 1000);
  }
  stt_test_server_send_text (server, "{\"error_code\":503,\"error_message\":\"Cannot "
      "continue request (code 7). Please restart the request.\"}");
  msgs = stt_check_run_finish (r, four_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 2);
  fail_unless (stt_test_server_wait_connections (server, 2, TRUE, 5000));
  check_replay (r, 1.3, 3.0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
soniox_suite (void)
{
  Suite *s = suite_create ("soniox");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_start_request);
  tcase_add_test (tc, test_params);
  tcase_add_test (tc, test_no_endpoints);
  tcase_add_test (tc, test_transcripts);
  tcase_add_test (tc, test_finalize);
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_bad_request);
  tcase_add_test (tc, test_drop);
  tcase_add_test (tc, test_error_503);
  return s;
}

GST_CHECK_MAIN (soniox);
