/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local ElevenLabs-protocol server (Scribe realtime): the
 * request and its base64 JSON audio, committed transcripts as finals (once each, with
 * their words' times) and partials on the bus, the end of stream once the server answered
 * our commit, rejected keys, parameters and rates, and a retryable error message after
 * which every word arrives once. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

#define DURATION 3.6

/* The server's VAD commits after @vad_silence seconds of silence (the element sends
 * 1.5 by default). */
static void
set_vad_silence (SttCheckRun * r, const gchar * vad_silence)
{
  GstStructure *params = gst_structure_new ("p", "vad_silence_threshold_secs",
      G_TYPE_STRING, vad_silence, NULL);

  g_object_set (r->h->element, "params", params, NULL);
  gst_structure_free (params);
}

static JsonObject *
parse (const gchar * text, JsonParser ** parser)
{
  *parser = json_parser_new ();
  fail_unless (json_parser_load_from_data (*parser, text, -1, NULL), "%s", text);
  return json_node_get_object (json_parser_get_root (*parser));
}

/* The request and the audio messages are what the service expects. */
GST_START_TEST (test_request)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autofree gchar *model = NULL, *format = NULL, *strategy = NULL, *vad = NULL;
  g_autofree gchar *timestamps = NULL, *language = NULL, *key = NULL, *token = NULL;
  g_auto (GStrv) texts = NULL;
  g_autoptr (JsonParser) p0 = NULL;
  g_autoptr (JsonParser) pn = NULL;
  g_autofree guchar *first = NULL;
  JsonObject *o;
  GBytes *audio;
  gsize len;
  guint n;

  g_object_set (r->h->element, "language", "en-US", NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  g_list_free_full (stt_check_run_finish (r, stt_fx_words, NULL),
      (GDestroyNotify) gst_structure_free);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 5000));

  model = stt_test_server_get_query (stt_fx.server, 0, "model_id");
  format = stt_test_server_get_query (stt_fx.server, 0, "audio_format");
  strategy = stt_test_server_get_query (stt_fx.server, 0, "commit_strategy");
  vad = stt_test_server_get_query (stt_fx.server, 0, "vad_silence_threshold_secs");
  timestamps = stt_test_server_get_query (stt_fx.server, 0, "include_timestamps");
  language = stt_test_server_get_query (stt_fx.server, 0, "language_code");
  token = stt_test_server_get_query (stt_fx.server, 0, "token");
  key = stt_test_server_get_header (stt_fx.server, 0, "xi-api-key");
  fail_unless_equals_string (model, "scribe_v2_realtime");
  fail_unless_equals_string (format, "pcm_16000");
  fail_unless_equals_string (strategy, "vad");
  fail_unless_equals_string (vad, "1.5");
  fail_unless_equals_string (timestamps, "true");
  fail_unless_equals_string (language, "en");
  fail_unless_equals_string (key, "test-key");
  fail_unless (token == NULL);

  /* 100 ms of base64 audio per text message, then the commit. */
  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  n = g_strv_length (texts);
  fail_unless_equals_int (n, 37);
  o = parse (texts[0], &p0);
  fail_unless_equals_string (json_object_get_string_member (o, "message_type"),
      "input_audio_chunk");
  fail_if (json_object_get_boolean_member (o, "commit"));
  fail_unless_equals_int (json_object_get_int_member (o, "sample_rate"), 16000);
  first = g_base64_decode (json_object_get_string_member (o, "audio_base_64"), &len);
  fail_unless_equals_int (len, 3200);
  fail_unless (memcmp (first, g_bytes_get_data (r->input, NULL), len) == 0);
  o = parse (texts[n - 1], &pn);
  fail_unless_equals_string (json_object_get_string_member (o, "audio_base_64"), "");
  fail_unless (json_object_get_boolean_member (o, "commit"));

  /* Every sample, as sent. */
  audio = stt_test_server_get_audio (stt_fx.server, 0);
  fail_unless (g_bytes_equal (audio, r->input));
  g_bytes_unref (audio);
  stt_check_run_free (r);
}

GST_END_TEST;

/* stt_check_final(), and every word's confidence is exp (logprob): 0.9. The spacing
 * entries are not words. */
static void
check_final (const GstStructure * s, const gchar * text, const SttTone * t, guint n,
    GstClockTime offset)
{
  stt_check_final (s, text, t, n, offset);
  stt_check_word_confidence (s, 0.9);
}

/* Partials, then one final per committed segment (the one with timestamps), in the
 * input's time domain (it starts at 10 s); the text buffers come before EOS, and EOS
 * comes as soon as the server answered our commit, not after drain-timeout. */
static void
run_transcripts (const gchar * vad_silence, const gchar * const *finals_text,
    guint n_final)
{
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstClockTime offset = 10 * GST_SECOND;
  GstStructure *params = gst_structure_new ("p", "vad_silence_threshold_secs",
      G_TYPE_STRING, vad_silence, NULL);
  GList *l;
  SttCheckTranscripts t;
  guint64 seg0, id;
  gboolean partial_of_first = FALSE;
  gint64 t0;

  /* A drain-timeout long enough to tell the answer to our commit from its end. */
  g_object_set (h->element, "params", params, "drain-timeout", 20 * GST_SECOND, NULL);
  gst_structure_free (params);
  stt_check_harness_segments (h);
  stt_check_harness_push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, DURATION, stt_fx_tones,
      G_N_ELEMENTS (stt_fx_tones), offset);
  t0 = g_get_monotonic_time ();
  stt_check_harness_finish (h);
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC,
      "EOS waited for the drain timeout");
  fail_unless_equals_int (gst_harness_buffers_received (h), n_final);

  stt_check_transcripts_collect (&t, bus, n_final, 2);
  if (n_final == 2) {
    check_final (t.finals->data, finals_text[0], stt_fx_tones, 2, offset);
    check_final (t.finals->next->data, finals_text[1], stt_fx_tones + 2, 1, offset);
  } else {
    check_final (t.finals->data, finals_text[0], stt_fx_tones, 3, offset);
  }
  fail_unless_equals_string (gst_structure_get_string (t.finals->data, "language"), "en");
  /* Partials of the open segment share the id of its final. */
  fail_unless (gst_structure_get_uint64 (t.finals->data, "segment-id", &seg0));
  for (l = t.partials; l; l = l->next) {
    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    if (id == seg0)
      partial_of_first = TRUE;
  }
  fail_unless (partial_of_first);

  {
    GstBuffer *buf = gst_harness_pull (h);

    stt_check_assert_time (GST_BUFFER_PTS (buf), offset + stt_check_secs (0.5),
        "buffer pts");
    gst_buffer_unref (buf);
  }
  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

/* VAD commits each segment (0.3 s of silence); our commit at the end is answered empty. */
GST_START_TEST (test_transcripts_vad_commits)
{
  static const gchar *const texts[] = { "w400 w700", "w1000" };

  run_transcripts ("0.3", texts, 2);
}

GST_END_TEST;

/* 1.5 s: the VAD commits nothing, the one segment is the answer to our commit. */
GST_START_TEST (test_transcripts_end_commit)
{
  static const gchar *const texts[] = { "w400 w700 w1000" };

  run_transcripts ("1.5", texts, 1);
}

GST_END_TEST;

/* @err (freed) is ElevenLabs' error of @want_code saying @want_text, no key in it. */
static void
check_error (GstStructure * err, gint want_code, const gchar * want_text)
{
  stt_check_error_says (err, want_code, "ElevenLabs", want_text, "wrong-key");
  gst_structure_free (err);
}

/* A rejected key: one NOT_AUTHORIZED error naming the service and the status, no retry:
 * the session ended (stt_check_wait_fatal) after one handshake. */
GST_START_TEST (test_bad_key)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);

  g_object_set (r->h->element, "api-key", "wrong-key", NULL);
  check_error (stt_check_run_until_fatal (r, 1.0), GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      "HTTP 401");
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  fail_unless (stt_check_wait_error (r->bus, 200) == NULL, "a second error");
  stt_check_run_free (r);
}

GST_END_TEST;

/* Parameters the service rejects (invalid_request after the upgrade): fatal. */
GST_START_TEST (test_invalid_request)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);

  set_vad_silence (r, "5");
  check_error (stt_check_run_until_fatal (r, 1.0), GST_RESOURCE_ERROR_SETTINGS,
      "invalid_request");
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A rate the service has no audio_format for: said before connecting. */
GST_START_TEST (test_unsupported_rate)
{
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);

  /* Before the stream starts: the wire rate is settled with the caps. */
  g_object_set (h->element, "sample-rate", 32000, NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 0.5,
          stt_fx_tones, 0, 0));
  check_error (stt_check_wait_error (bus, 10000), GST_RESOURCE_ERROR_SETTINGS, "48000 Hz");
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 0);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

static gboolean
saw_reconnecting (GList * collected, gpointer user_data)
{
  return stt_check_count_state (collected, "reconnecting") > 0;
}

/* A transcriber_error in the middle of a word: a new session replays from the end of
 * the last final, and every word arrives exactly once, at its time. */
GST_START_TEST (test_retryable_error)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_eight, G_N_ELEMENTS (stt_fx_eight), 8.0);
  GList *msgs;

  set_vad_silence (r, "0.3");
  stt_check_run_push (r, 0, 2.2, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 2.2));
  stt_test_server_send_text (stt_fx.server,
      "{\"message_type\":\"transcriber_error\",\"error\":\"Transcriber crashed\"}");
  /* The rest only once the element has reacted, so the error comes mid-stream. */
  msgs = stt_check_collect (r->bus, NULL, 10000, saw_reconnecting, NULL);
  fail_unless (saw_reconnecting (msgs, NULL));
  stt_check_run_push (r, 2.2, 8.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_eight_words, msgs);
  fail_unless (stt_check_count_state (msgs, "reconnecting") >= 1);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  /* From the end of the first final (w700, about 1.3 s), not from where it stopped
   * (2.2 s), to the end. */
  stt_fx_check_replay (r, 1.2, 2.1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Other error messages are fatal, at once: quota_exceeded. */
GST_START_TEST (test_fatal_error_message)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);

  stt_check_run_push (r, 0, 1.0, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 1.0));
  stt_test_server_send_text (stt_fx.server,
      "{\"message_type\":\"quota_exceeded\",\"error\":\"Quota exceeded\"}");
  check_error (stt_check_wait_fatal (r->bus, 10000), GST_RESOURCE_ERROR_SETTINGS,
      "quota_exceeded");
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
elevenlabs_suite (void)
{
  Suite *s = suite_create ("elevenlabs");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  stt_check_fixture_add (tc, "elevenlabs");
  tcase_add_test (tc, test_request);
  tcase_add_test (tc, test_transcripts_vad_commits);
  tcase_add_test (tc, test_transcripts_end_commit);
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_invalid_request);
  tcase_add_test (tc, test_unsupported_rate);
  tcase_add_test (tc, test_retryable_error);
  tcase_add_test (tc, test_fatal_error_message);
  return s;
}

GST_CHECK_MAIN (elevenlabs);
