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
#include <json-glib/json-glib.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

/* stt_fx_tones: two segments (the server ends one after 300 ms of silence); the last
 * word still sounds 20 ms before the end, so only the end of audio closes it. */
#define DURATION 2.82

/* Bearer key on the handshake; a start request with what the service needs and no key;
 * every sample at the pace of real time; the empty frame at the end. */
GST_START_TEST (test_start_request)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
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
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 15000));
  /* Never faster than real time, though the input came at once. */
  fail_unless (g_get_monotonic_time () - t0 >= (DURATION - 0.3) * G_USEC_PER_SEC);

  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless_equals_string (auth, "Bearer test-key");
  start = stt_fx_text_message (0, 0, parser);
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

  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  fail_unless_equals_string (texts[g_strv_length (texts) - 1], "");
  audio = stt_test_server_get_audio (stt_fx.server, 0);
  fail_unless (g_bytes_equal (audio, r->input));
  g_bytes_unref (audio);
  stt_check_run_free (r);
}

GST_END_TEST;

/* params reach the start request as JSON and win; diarization gives speakers. */
GST_START_TEST (test_params)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
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
  start = stt_fx_text_message (0, 0, parser);
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
  SttCheckRun *r = stt_fx_run_tones (DURATION);
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
  stt_check_final (finals->data, "w400", stt_fx_tones, 1, 0);
  stt_check_final (finals->next->data, "w700", stt_fx_tones + 1, 1, 0);
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
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstClockTime offset = 10 * GST_SECOND;
  GList *l;
  SttCheckTranscripts t;
  guint64 seg0, seg1, id;
  guint rev;
  gboolean partial_of_first = FALSE;
  GstBuffer *buf;
  GstMapInfo map;

  stt_check_harness_segments (h);
  /* Both texts are out before EOS: the last segment was closed by the end of audio. */
  stt_fx_transcribe_tones (h, bus, DURATION, offset, 2, 2, &t);
  stt_check_final (t.finals->data, "w400 w700", stt_fx_tones, 2, offset);
  stt_check_final (t.finals->next->data, "w1000", stt_fx_tones + 2, 1, offset);
  fail_unless_equals_string (gst_structure_get_string (t.finals->data, "provider"),
      "soniox");
  fail_unless (gst_structure_get_uint64 (t.finals->data, "segment-id", &seg0));
  fail_unless (gst_structure_get_uint64 (t.finals->next->data, "segment-id", &seg1));
  fail_unless (seg0 != seg1);
  fail_unless (gst_structure_get_uint (t.finals->data, "revision", &rev));
  fail_unless (rev >= 1);
  for (l = t.partials; l; l = l->next) {
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

  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* A full replay ring (non-live input, a long word without an endpoint): the element asks
 * for finals with finalize; each <fin> final commits the audio and the stream goes on to
 * its end. */
GST_START_TEST (test_finalize)
{
  stt_fx_check_full_ring ("{\"type\":\"finalize\"}", "w500");
}

GST_END_TEST;

/* The service refuses the key or the start request: the error posted, after which
 * nothing else happens: no second error, no retry (the session ended,
 * stt_check_wait_fatal, after one handshake). */
static GstStructure *
run_error (const gchar * key, GstStructure * params)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;

  g_object_set (r->h->element, "api-key", key, "params", params, NULL);
  err = stt_check_run_until_fatal (r, 1.0);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  fail_unless (stt_check_wait_error (r->bus, 0) == NULL, "a second error");
  stt_check_run_free (r);
  return err;
}

/* A rejected key: one error naming the service and the status, never the key. */
GST_START_TEST (test_bad_key)
{
  GstStructure *err = run_error ("wrong-key", NULL);

  stt_check_error_says (err, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Soniox", "401",
      "wrong-key");
  gst_structure_free (err);
}

GST_END_TEST;

/* A start request the service refuses (400): fatal, it would be refused again. */
GST_START_TEST (test_bad_request)
{
  GstStructure *params = gst_structure_new ("p", "max_endpoint_delay_ms", G_TYPE_INT,
      100, NULL);
  GstStructure *err = run_error ("test-key", params);

  stt_check_error_says (err, GST_RESOURCE_ERROR_SETTINGS, "Soniox", "400", NULL);
  gst_structure_free (params);
  gst_structure_free (err);
}

GST_END_TEST;

/* The connection drops in the middle of a word: a new stream replays from the last final,
 * and every word arrives exactly once, at its time. */
GST_START_TEST (test_drop)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  GList *msgs;

  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_DROP, 2.2, 0, NULL);
  stt_check_run_push (r, 0, 4.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, 5000));
  /* w400 w700 were final at 1.6 s. */
  stt_fx_check_replay (r, 1.3, 2.2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* "Cannot continue request" (503): a new request at once, nothing lost or doubled. */
GST_START_TEST (test_error_503)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  GList *msgs;

  stt_check_run_push (r, 0, 4.0, FALSE);
  /* Once the first connection has heard 2.2 s (mid w500). */
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 2.2));
  stt_test_server_send_text (stt_fx.server, "{\"error_code\":503,"
      "\"error_message\":\"Cannot continue request (code 7). Please restart the "
      "request.\"}");
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, 5000));
  stt_fx_check_replay (r, 1.3, 3.0);
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
  stt_check_fixture_add (tc, "soniox");
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
