/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local Gladia-protocol server: the session set-up (POST
 * /v2/live) and the WebSocket URL it returns, utterances as partials and finals with their
 * times, stop_recording flushing the last one, set-up failures (401 fatal, 400 fatal, 503
 * retried), and the session's resume: a dropped connection continues the same session
 * from what it acknowledged, and a session the service lost is replaced by a new one;
 * either way every word arrives once, at its time. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

/* stt_fx_tones: each word its own utterance (the service ends one after 50 ms of silence
 * by default); the last word still sounds 20 ms before the end, so only stop_recording
 * closes it. */
#define DURATION 2.82

/* 100 ms frames (chunk-duration) of 16 kHz S16LE. */
#define FRAME_SAMPLES 1600

/* After the fixture's setup: the url property is the service's base address. */
static void
use_base_url (void)
{
  g_free (stt_fx.url);
  stt_fx.url = g_strdup_printf ("http://127.0.0.1:%u",
      stt_test_server_get_port (stt_fx.server));
}

/* The body of set-up request @i as a JSON object (@parser keeps it). */
static JsonObject *
init_body (guint i, JsonParser * parser)
{
  g_autofree gchar *body = stt_test_server_get_http_body (stt_fx.server, i);
  JsonNode *root;

  fail_unless (body != NULL);
  fail_unless (json_parser_load_from_data (parser, body, -1, NULL), "%s", body);
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

/* One POST with the key and the configuration; the WebSocket with only the URL's token;
 * every sample in binary frames; stop_recording at the end. */
GST_START_TEST (test_init_request)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *key = NULL, *type = NULL, *token = NULL, *ws_key = NULL;
  g_autofree gchar *ws_auth = NULL;
  g_auto (GStrv) texts = NULL;
  JsonObject *body, *lc, *mc;
  JsonArray *langs;
  GBytes *audio;

  g_object_set (r->h->element, "language", "en-GB", NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  gst_harness_push_event (r->h, gst_event_new_eos ());
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 15000));

  fail_unless_equals_int (stt_test_server_get_n_http_requests (stt_fx.server), 1);
  key = stt_test_server_get_http_header (stt_fx.server, 0, "x-gladia-key");
  type = stt_test_server_get_http_header (stt_fx.server, 0, "Content-Type");
  fail_unless_equals_string (key, "test-key");
  fail_unless (g_str_has_prefix (type, "application/json"), "%s", type);
  body = init_body (0, parser);
  fail_unless_equals_string (json_object_get_string_member (body, "encoding"), "wav/pcm");
  fail_unless_equals_int (json_object_get_int_member (body, "bit_depth"), 16);
  fail_unless_equals_int (json_object_get_int_member (body, "sample_rate"), 16000);
  fail_unless_equals_int (json_object_get_int_member (body, "channels"), 1);
  fail_if (json_object_has_member (body, "model"));
  lc = json_object_get_object_member (body, "language_config");
  langs = json_object_get_array_member (lc, "languages");
  fail_unless_equals_int (json_array_get_length (langs), 1);
  fail_unless_equals_string (json_array_get_string_element (langs, 0), "en");
  fail_if (json_object_get_boolean_member (lc, "code_switching"));
  mc = json_object_get_object_member (body, "messages_config");
  fail_unless (json_object_get_boolean_member (mc, "receive_partial_transcripts"));
  fail_unless (json_object_get_boolean_member (mc, "receive_final_transcripts"));
  fail_unless (json_object_get_boolean_member (mc, "receive_acknowledgments"));
  fail_unless (json_object_get_boolean_member (mc, "receive_lifecycle_events"));

  /* The URL's token is the WebSocket's only credential. */
  token = stt_test_server_get_query (stt_fx.server, 0, "token");
  ws_key = stt_test_server_get_header (stt_fx.server, 0, "x-gladia-key");
  ws_auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless (token != NULL && *token != '\0');
  fail_unless (ws_key == NULL && ws_auth == NULL);
  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  fail_unless_equals_int (g_strv_length (texts), 1);
  fail_unless_equals_string (texts[0], "{\"type\":\"stop_recording\"}");
  audio = stt_test_server_get_audio (stt_fx.server, 0);
  fail_unless (g_bytes_equal (audio, r->input));
  g_bytes_unref (audio);
  stt_check_run_free (r);
}

GST_END_TEST;

/* params reach the configuration as JSON (dotted names nested) and win, except that the
 * acknowledgments stay on; the region goes to the query; the url may end with /v2/live. */
GST_START_TEST (test_params)
{
  SttCheckRun *r;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *full_url = g_strdup_printf ("%s/v2/live/", stt_fx.url);
  GstStructure *params = gst_structure_new ("p", "endpointing", G_TYPE_DOUBLE, 0.3,
      "messages_config.receive_speech_events", G_TYPE_BOOLEAN, FALSE,
      "messages_config.receive_acknowledgments", G_TYPE_BOOLEAN, FALSE,
      "region", G_TYPE_STRING, "eu-west", NULL);
  JsonObject *body, *mc;
  GList *msgs, *finals;

  r = stt_check_run_new (stt_fx.provider, full_url, stt_fx_tones,
      G_N_ELEMENTS (stt_fx_tones), DURATION);
  g_object_set (r->h->element, "params", params, "model", "solaria-1", NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, (const gchar *[]) { "w400", "w700", "w1000", NULL },
      NULL);
  body = init_body (0, parser);
  fail_unless (json_object_get_double_member (body, "endpointing") == 0.3);
  fail_unless_equals_string (json_object_get_string_member (body, "model"), "solaria-1");
  fail_if (json_object_has_member (body, "region"));
  mc = json_object_get_object_member (body, "messages_config");
  fail_if (json_object_get_boolean_member (mc, "receive_speech_events"));
  fail_unless (json_object_get_boolean_member (mc, "receive_acknowledgments"));
  fail_unless (json_object_get_boolean_member (mc, "receive_partial_transcripts"));
  /* 300 ms endpointing: w400 and w700 are one utterance. */
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 2);
  stt_check_final (finals->data, "w400 w700", stt_fx_tones, 2, 0);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Utterances: partials and their final share the utterance's segment-id; times in the
 * input's time domain (it starts at 10 s); a text buffer per final, all before EOS. */
GST_START_TEST (test_transcripts)
{
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstClockTime offset = 10 * GST_SECOND;
  GList *l, *m;
  SttCheckTranscripts t;
  GstBuffer *buf;
  guint i;

  stt_fx_transcribe_tones (h, bus, DURATION, offset, 3, 3, &t);
  for (l = t.finals, i = 0; l; l = l->next, i++) {
    guint64 id, pid;
    gboolean has_partial = FALSE;
    g_autofree gchar *word = stt_check_tone_word (&stt_fx_tones[i]);

    stt_check_final (l->data, word, stt_fx_tones + i, 1, offset);
    fail_unless_equals_string (gst_structure_get_string (l->data, "language"), "en");
    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    for (m = t.partials; m; m = m->next) {
      fail_unless (gst_structure_get_uint64 (m->data, "segment-id", &pid));
      if (pid == id) {
        fail_unless_equals_string (gst_structure_get_string (m->data, "text"), word);
        has_partial = TRUE;
      }
    }
    fail_unless (has_partial, "no partial of %s", word);

    buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    stt_check_assert_time (GST_BUFFER_PTS (buf),
        offset + stt_fx_tones[i].start * GST_SECOND, "buffer pts");
    gst_buffer_unref (buf);
  }

  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* A set-up the service refuses: one error of @code naming Gladia and the status, no
 * retry (the session ended, stt_check_wait_fatal, after one request), no WebSocket. */
static void
check_setup_refused (const gchar * key, GstStructure * params, gint want_code,
    const gchar * want_text)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;

  g_object_set (r->h->element, "api-key", key, "params", params, NULL);
  err = stt_check_run_until_fatal (r, 1.0);
  stt_check_error_says (err, want_code, "Gladia", want_text, key);
  fail_unless_equals_int (stt_test_server_get_n_http_requests (stt_fx.server), 1);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 0);
  fail_unless (stt_check_wait_error (r->bus, 0) == NULL, "a second error");
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_START_TEST (test_bad_key)
{
  check_setup_refused ("wrong-key", NULL, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "HTTP 401");
}

GST_END_TEST;

/* A configuration the service does not take (an unknown property): fatal. */
GST_START_TEST (test_bad_config)
{
  GstStructure *params = gst_structure_new ("p", "no_such_option", G_TYPE_INT, 1, NULL);

  check_setup_refused ("test-key", params, GST_RESOURCE_ERROR_SETTINGS, "HTTP 400");
  gst_structure_free (params);
}

GST_END_TEST;

/* The set-up answered 503 twice: retried, then the session works. */
GST_START_TEST (test_setup_retry)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GList *msgs;

  stt_test_server_fail_handshakes (stt_fx.server, 503, 2, NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, (const gchar *[]) { "w400", "w700", "w1000", NULL },
      NULL);
  fail_unless_equals_int (stt_test_server_get_n_http_requests (stt_fx.server), 3);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* The connection drops in the middle of a word: the same session continues on its URL
 * (no new set-up), from the last acknowledged byte: only the frame the server never
 * acknowledged is sent again. Every word arrives once, at its time. */
GST_START_TEST (test_resume)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  g_autofree gchar *token0 = NULL, *token1 = NULL;
  GBytes *audio0, *audio1;
  gsize n0, n1;
  gssize at;
  GList *msgs;

  /* At the pace of a live source: the acknowledgments keep up with the audio. */
  g_object_set (r->h->element, "pacing", 1 /* realtime */ , NULL);
  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_DROP, 2.2, 0, NULL);
  stt_check_run_push (r, 0, 4.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, 5000));
  fail_unless_equals_int (stt_test_server_get_n_http_requests (stt_fx.server), 1);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  token0 = stt_test_server_get_query (stt_fx.server, 0, "token");
  token1 = stt_test_server_get_query (stt_fx.server, 1, "token");
  fail_unless_equals_string (token1, token0);

  audio0 = stt_test_server_get_audio (stt_fx.server, 0);
  audio1 = stt_test_server_get_audio (stt_fx.server, 1);
  n0 = g_bytes_get_size (audio0) / 2;
  n1 = g_bytes_get_size (audio1) / 2;
  fail_unless_equals_int (stt_check_find_audio (r->input, audio0), 0);
  at = stt_check_find_audio (r->input, audio1);
  /* The second connection goes on where the session's acknowledged audio ended: within
   * the frame the fault took (recorded, never acknowledged), never before it. */
  fail_unless (at >= 0 && (gsize) at < n0 && n0 - at <= FRAME_SAMPLES,
      "resumed at %" G_GSSIZE_FORMAT " after %" G_GSIZE_FORMAT " samples", at, n0);
  fail_unless_equals_int (at + n1, g_bytes_get_size (r->input) / 2);
  g_bytes_unref (audio0);
  g_bytes_unref (audio1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* The connection drops while the acknowledgments of the last 500 ms are on their way:
 * they are lost with it. The resumed connection's first acknowledgment shows the session
 * heard more than it acknowledged; continuing would make it hear that audio twice, so a
 * new session starts from the last final. Every word once, at its time. */
GST_START_TEST (test_resume_lost_acks)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  g_autofree gchar *token0 = NULL, *token1 = NULL, *token2 = NULL;
  GList *msgs;

  g_object_set (r->h->element, "pacing", 1 /* realtime */ , NULL);
  stt_test_server_set_reply_delay (stt_fx.server, 500);
  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_DROP, 2.2, 0, NULL);
  stt_check_run_push (r, 0, 4.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 3, TRUE, 5000));
  fail_unless_equals_int (stt_test_server_get_n_http_requests (stt_fx.server), 2);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 3);
  token0 = stt_test_server_get_query (stt_fx.server, 0, "token");
  token1 = stt_test_server_get_query (stt_fx.server, 1, "token");
  token2 = stt_test_server_get_query (stt_fx.server, 2, "token");
  fail_unless_equals_string (token1, token0);
  fail_if (g_str_equal (token2, token0));
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* The connection drops and the service no longer knows the session (its URL refused):
 * a new session is set up and the audio since the last final goes to it. */
GST_START_TEST (test_session_gone)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  g_autofree gchar *token0 = NULL, *token1 = NULL;
  GBytes *audio1;
  gssize at;
  GList *msgs;

  g_object_set (r->h->element, "pacing", 1 /* realtime */ , NULL);
  stt_check_run_push (r, 0, 1.0, FALSE);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, FALSE, 5000));
  /* The next request is the reconnection to the session's URL. */
  stt_test_server_fail_handshakes (stt_fx.server, 401, 1, NULL);
  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_DROP, 2.2, 0, NULL);
  stt_check_run_push (r, 1.0, 4.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, 5000));
  /* POST, WebSocket, refused WebSocket, POST, WebSocket. */
  fail_unless_equals_int (stt_test_server_get_n_http_requests (stt_fx.server), 2);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 5);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  token0 = stt_test_server_get_query (stt_fx.server, 0, "token");
  token1 = stt_test_server_get_query (stt_fx.server, 1, "token");
  fail_if (g_str_equal (token0, token1));
  /* From the end of the last final (w700 at 1.3 s) on, to the end. */
  audio1 = stt_test_server_get_audio (stt_fx.server, 1);
  at = stt_check_find_audio (r->input, audio1);
  fail_unless (at >= 1.29 * 16000 && at <= 2.2 * 16000, "replay from %" G_GSSIZE_FORMAT,
      at);
  fail_unless_equals_int (at + g_bytes_get_size (audio1) / 2,
      g_bytes_get_size (r->input) / 2);
  g_bytes_unref (audio1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
gladia_suite (void)
{
  Suite *s = suite_create ("gladia");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  stt_check_fixture_add (tc, "gladia");
  tcase_add_checked_fixture (tc, use_base_url, NULL);
  tcase_add_test (tc, test_init_request);
  tcase_add_test (tc, test_params);
  tcase_add_test (tc, test_transcripts);
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_bad_config);
  tcase_add_test (tc, test_setup_retry);
  tcase_add_test (tc, test_resume);
  tcase_add_test (tc, test_resume_lost_acks);
  tcase_add_test (tc, test_session_gone);
  return s;
}

GST_CHECK_MAIN (gladia);
