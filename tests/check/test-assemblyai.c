/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local AssemblyAI-protocol server (Universal Streaming v3):
 * the request, formatted turns as finals (once each) and partials on the bus, text
 * buffers before EOS, temporary tokens, rejected keys, and a session cancelled mid-stream
 * (close 3005) after which every word arrives once. The service takes audio no faster
 * than real time, so these tests take the time of their audio. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <libsoup/soup.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

/* stt_fx_tones: two turns (the server ends a turn after min_turn_silence, 400 ms by
 * default). */

/* Not a whole number of 100 ms chunks: the last frame is 30 ms. */
#define DURATION 3.63

static void
push_all_and_eos (SttCheckRun * r)
{
  stt_check_run_push (r, 0, DURATION, FALSE);
  gst_harness_push_event (r->h, gst_event_new_eos ());
}

/* The request is what the service expects; every frame 50-1000 ms; Terminate at the
 * end; the last short frame padded with silence. */
GST_START_TEST (test_request)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autofree gchar *rate = NULL, *encoding = NULL, *model = NULL, *format = NULL;
  g_autofree gchar *auth = NULL, *token = NULL, *codes = NULL;
  g_auto (GStrv) texts = NULL;
  GBytes *audio;
  gsize in_len, got_len, i;
  const guint8 *in, *got;

  push_all_and_eos (r);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 15000));
  rate = stt_test_server_get_query (stt_fx.server, 0, "sample_rate");
  encoding = stt_test_server_get_query (stt_fx.server, 0, "encoding");
  model = stt_test_server_get_query (stt_fx.server, 0, "speech_model");
  format = stt_test_server_get_query (stt_fx.server, 0, "format_turns");
  token = stt_test_server_get_query (stt_fx.server, 0, "token");
  codes = stt_test_server_get_query (stt_fx.server, 0, "language_codes");
  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless_equals_string (rate, "16000");
  fail_unless_equals_string (encoding, "pcm_s16le");
  fail_unless_equals_string (model, "universal-streaming-english");
  fail_unless_equals_string (format, "true");
  /* The raw key, no scheme; no token. */
  fail_unless_equals_string (auth, "test-key");
  fail_unless (token == NULL && codes == NULL);

  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  fail_unless (texts && g_strv_length (texts) >= 1);
  fail_unless_equals_string (texts[g_strv_length (texts) - 1], "{\"type\":\"Terminate\"}");
  /* Termination ended it: the client closed (1001, or answered the server's 1000). */
  fail_unless (stt_test_server_get_client_close_code (stt_fx.server, 0) != 0);

  /* All the audio, then 20 ms of silence that make the last frame 50 ms. */
  audio = stt_test_server_get_audio (stt_fx.server, 0);
  in = g_bytes_get_data (r->input, &in_len);
  got = g_bytes_get_data (audio, &got_len);
  fail_unless_equals_int (got_len, in_len + 320 * 2);
  fail_unless (memcmp (in, got, in_len) == 0);
  for (i = in_len; i < got_len; i++)
    fail_unless_equals_int (got[i], 0);
  g_bytes_unref (audio);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A language the English model cannot do picks the multilingual one; params reach the
 * query and win over what the element would send. */
GST_START_TEST (test_language_and_params)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *params = gst_structure_new ("p", "min_turn_silence", G_TYPE_INT, 300,
      "format_turns", G_TYPE_STRING, "false", NULL);
  g_autofree gchar *model = NULL, *silence = NULL, *format = NULL;

  g_object_set (r->h->element, "language", "es", "params", params, NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, 0.5, FALSE);
  gst_harness_push_event (r->h, gst_event_new_eos ());
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 15000));
  model = stt_test_server_get_query (stt_fx.server, 0, "speech_model");
  silence = stt_test_server_get_query (stt_fx.server, 0, "min_turn_silence");
  format = stt_test_server_get_query (stt_fx.server, 0, "format_turns");
  fail_unless_equals_string (model, "universal-streaming-multilingual");
  fail_unless_equals_string (silence, "300");
  fail_unless_equals_string (format, "false");
  stt_check_run_free (r);
}

GST_END_TEST;

/* Partial turns, then one final per turn: the formatted one, not the unformatted end of
 * turn before it. Times in the input's time domain (it starts at 10 s). Text buffers
 * come before EOS. */
GST_START_TEST (test_transcripts)
{
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstClockTime offset = 10 * GST_SECOND;
  GList *l;
  SttCheckTranscripts t;
  guint64 seg0, seg1, id;
  gboolean partial_of_first = FALSE;

  stt_check_harness_segments (h);
  /* Every text buffer is out before EOS. */
  stt_fx_transcribe_tones (h, bus, DURATION, offset, 2, 2, &t);
  /* Formatted: capitals and punctuation on the words too. */
  stt_check_final_words (t.finals->data, "W400 w700.", (const gchar *[]) { "W400",
        "w700." }, stt_fx_tones, 2, offset);
  stt_check_final_words (t.finals->next->data, "W1000.", (const gchar *[]) { "W1000." },
      stt_fx_tones + 2, 1, offset);
  fail_unless_equals_string (gst_structure_get_string (t.finals->data, "provider"),
      "assemblyai");
  fail_unless (gst_structure_get_uint64 (t.finals->data, "segment-id", &seg0));
  fail_unless (gst_structure_get_uint64 (t.finals->next->data, "segment-id", &seg1));
  fail_unless (seg0 != seg1);
  /* A turn's partials share its id (turn_order). */
  for (l = t.partials; l; l = l->next) {
    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    fail_unless (id == seg0 || id == seg1);
    if (id == seg0)
      partial_of_first = TRUE;
  }
  fail_unless (partial_of_first);

  {
    GstBuffer *buf = gst_harness_pull (h);
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_READ);
    fail_unless (map.size == strlen ("W400 w700.") && memcmp (map.data, "W400 w700.",
            map.size) == 0);
    gst_buffer_unmap (buf, &map);
    stt_check_assert_time (GST_BUFFER_PTS (buf), offset + stt_check_secs (0.5),
        "buffer pts");
    stt_check_assert_time (GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf),
        offset + stt_check_secs (1.3), "buffer end");
    gst_buffer_unref (buf);
  }

  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* A temporary token (GET /v3/token) goes in the token query parameter, not the header. */
static void
token_handler (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  const gchar *auth = soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");
  static const gchar body[] = "{\"token\":\"tok-1\",\"expires_in_seconds\":60}";

  if (g_strcmp0 (auth, "test-key") != 0 || g_strcmp0 (soup_server_message_get_method (msg),
          "GET") != 0) {
    soup_server_message_set_status (msg, 401, NULL);
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
      strlen (body));
}

static void
token_setup (gpointer soup, gpointer data)
{
  soup_server_add_handler (soup, "/v3/token", token_handler, NULL, NULL);
}

GST_START_TEST (test_temporary_token)
{
  SttCheckSoup *tokens = stt_check_soup_new (NULL, token_setup, NULL);
  g_autofree gchar *token_url = g_strdup_printf ("http://127.0.0.1:%u/v3/token?"
      "expires_in_seconds=60", stt_check_soup_get_port (tokens));
  GstStructure *headers = gst_structure_new ("h", "Authorization", G_TYPE_STRING,
      "$API_KEY", NULL);
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autofree gchar *token = NULL, *auth = NULL;
  GList *msgs;

  stt_test_server_set_api_key (stt_fx.server, "tok-1");
  g_object_set (r->h->element, "token-url", token_url, "token-method", "GET",
      "token-headers", headers, NULL);
  gst_structure_free (headers);
  stt_check_run_push (r, 0, 1.5, FALSE);
  msgs = stt_check_run_finish (r, (const gchar *[]) { "w400", "w700", NULL }, NULL);
  token = stt_test_server_get_query (stt_fx.server, 0, "token");
  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless_equals_string (token, "tok-1");
  fail_unless (auth == NULL);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_check_soup_free (tokens);
}

GST_END_TEST;

/* A rejected key: one error naming the service and the status, no retry: the session
 * ended (stt_check_wait_fatal) after one handshake. */
GST_START_TEST (test_bad_key)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;

  g_object_set (r->h->element, "api-key", "wrong-key", NULL);
  err = stt_check_run_until_fatal (r, 1.0);
  stt_check_error_says (err, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "AssemblyAI", "HTTP 401",
      "wrong-key");
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  fail_unless (stt_check_wait_error (r->bus, 200) == NULL, "a second error");
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* No key at all: an error at start naming where keys come from; nothing is sent (the
 * service would upgrade, then close 1008 "Missing Authorization header"). */
GST_START_TEST (test_no_key)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;
  gint code;

  g_object_set (r->h->element, "api-key", NULL, NULL);
  /* One buffer starts the session; its flow is not the point. */
  gst_harness_push (r->h, gst_buffer_ref (r->buffers->data));
  err = stt_check_wait_error (r->bus, 5000);
  fail_unless (err != NULL, "no error posted");
  fail_unless (gst_structure_get_int (err, "code", &code));
  fail_unless_equals_int (code, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  fail_unless (strstr (gst_structure_get_string (err, "message"),
          "ASSEMBLYAI_API_KEY") != NULL);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 0);
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Frames over 1000 ms are refused (3007): fatal, it would happen again. */
GST_START_TEST (test_frame_too_long)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;
  gint code;

  g_object_set (r->h->element, "chunk-duration", 1200 * GST_MSECOND, NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  err = stt_check_wait_error (r->bus, 10000);
  fail_unless (err != NULL, "no error posted");
  fail_unless (gst_structure_get_int (err, "code", &code));
  fail_unless_equals_int (code, GST_RESOURCE_ERROR_SETTINGS);
  fail_unless (strstr (gst_structure_get_string (err, "message"), "1200 ms") != NULL,
      "%s", gst_structure_get_string (err, "message"));
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Session Cancelled (3005) in the middle of a word: a new session replays from the last
 * final, and every word arrives exactly once, at its time. */
GST_START_TEST (test_session_cancelled)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_eight, G_N_ELEMENTS (stt_fx_eight), 8.0);
  GList *msgs;

  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_CLOSE, 2.2, 3005,
      "Session Cancelled: An error occurred");
  stt_check_run_push (r, 0, 8.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_eight_words, NULL);
  fail_unless (stt_check_count_state (msgs, "reconnecting") >= 1);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  /* The new session starts at the end of the last final (w700 at 1.3 s): it is sent
   * again from there (not from where the first was cut, 2.2 s), to the end. */
  stt_fx_check_replay (r, 1.2, 2.1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
assemblyai_suite (void)
{
  Suite *s = suite_create ("assemblyai");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  stt_check_fixture_add (tc, "assemblyai");
  tcase_add_test (tc, test_request);
  tcase_add_test (tc, test_language_and_params);
  tcase_add_test (tc, test_transcripts);
  tcase_add_test (tc, test_temporary_token);
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_no_key);
  tcase_add_test (tc, test_frame_too_long);
  tcase_add_test (tc, test_session_cancelled);
  return s;
}

GST_CHECK_MAIN (assemblyai);
