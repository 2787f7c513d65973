/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local Speechmatics-protocol server (real-time v2): the
 * handshake and StartRecognition, incremental finals (each AddTranscript the final text of
 * the words it finalized, the next partial holding the rest) with punctuation attached to
 * its word, EndOfStream counting the frames and EndOfTranscript draining the stream,
 * ForceEndOfUtterance for a full ring, temporary keys, auth failures (HTTP 401, the
 * `not_authorised` error, close 4001: one error, no retry), transient failures (a
 * `job_error`, the 1008 of a session timeout, an EndOfTranscript not asked for: a new
 * session, replayed from the last final) and malformed messages skipped. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

/* stt_fx_tones: two sentences (the server ends one after 300 ms of silence); the last
 * word still sounds 20 ms before the end, so only EndOfStream makes it final. */
#define DURATION 2.82

/* stt_check_final_words() with the texts the service gives the words, and every word's
 * confidence 0.9. */
static void
check_final (const GstStructure * s, const gchar * text, const gchar * const *word_texts,
    const SttTone * t, guint n, GstClockTime offset)
{
  stt_check_final_words (s, text, word_texts, t, n, offset);
  stt_check_word_confidence (s, 0.9);
}

/* Bearer key on the handshake; StartRecognition with the audio format, the language's
 * primary subtag, partials and max_delay, and nothing else; every sample in binary
 * frames; EndOfStream counting them; the client closes after EndOfTranscript. */
GST_START_TEST (test_start_recognition)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonParser) end_parser = json_parser_new ();
  g_autofree gchar *auth = NULL, *jwt = NULL;
  g_auto (GStrv) texts = NULL;
  JsonObject *start, *format, *config, *end;
  GBytes *audio;
  GList *msgs;
  guint n_frames;

  g_object_set (r->h->element, "language-code", "en-GB", NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 10000));

  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  jwt = stt_test_server_get_query (stt_fx.server, 0, "jwt");
  fail_unless_equals_string (auth, "Bearer test-key");
  fail_unless (jwt == NULL);

  start = stt_fx_text_message (0, 0, parser);
  fail_unless_equals_int (json_object_get_size (start), 3);
  fail_unless_equals_string (json_object_get_string_member (start, "message"),
      "StartRecognition");
  format = json_object_get_object_member (start, "audio_format");
  fail_unless_equals_int (json_object_get_size (format), 3);
  fail_unless_equals_string (json_object_get_string_member (format, "type"), "raw");
  fail_unless_equals_string (json_object_get_string_member (format, "encoding"),
      "pcm_s16le");
  fail_unless_equals_int (json_object_get_int_member (format, "sample_rate"), 16000);
  config = json_object_get_object_member (start, "transcription_config");
  fail_unless_equals_int (json_object_get_size (config), 3);
  fail_unless_equals_string (json_object_get_string_member (config, "language"), "en");
  fail_unless (json_object_get_boolean_member (config, "enable_partials"));
  fail_unless (json_object_get_double_member (config, "max_delay") == 2.0);

  /* Two text messages: StartRecognition, EndOfStream with the frames sent. */
  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  fail_unless_equals_int (g_strv_length (texts), 2);
  end = stt_fx_text_message (0, 1, end_parser);
  n_frames = stt_test_server_get_n_binary_messages (stt_fx.server, 0);
  fail_unless (n_frames >= 28, "%u frames", n_frames);
  fail_unless_equals_string (json_object_get_string_member (end, "message"), "EndOfStream");
  fail_unless_equals_int (json_object_get_int_member (end, "last_seq_no"), n_frames);
  fail_unless_equals_int (json_object_get_size (end), 2);
  audio = stt_test_server_get_audio (stt_fx.server, 0);
  fail_unless (g_bytes_equal (audio, r->input));
  g_bytes_unref (audio);
  /* The service leaves the close to the client, after EndOfTranscript (the connection
   * closed above), and there was no other connection. */
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* model is the operating point; params reach transcription_config (bare names) or the
 * message (names under its own members); interim-results=false turns partials off;
 * diarization gives speakers; an end-of-utterance trigger makes the first sentence final
 * at once. */
GST_START_TEST (test_params)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autoptr (JsonParser) parser = json_parser_new ();
  GstStructure *params = gst_structure_new ("p", "max_delay", G_TYPE_DOUBLE, 1.0,
      "diarization", G_TYPE_STRING, "speaker",
      "conversation_config.end_of_utterance_silence_trigger", G_TYPE_DOUBLE, 0.5,
      "transcription_config.enable_entities", G_TYPE_BOOLEAN, FALSE,
      "audio_events_config.types", G_TYPE_STRING, "[\"applause\"]", NULL);
  JsonObject *start, *config;
  GList *msgs, *finals, *l;

  g_object_set (r->h->element, "params", params, "model", "enhanced", "interim-results",
      FALSE, NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);

  start = stt_fx_text_message (0, 0, parser);
  config = json_object_get_object_member (start, "transcription_config");
  fail_unless_equals_string (json_object_get_string_member (config, "operating_point"),
      "enhanced");
  fail_if (json_object_get_boolean_member (config, "enable_partials"));
  fail_if (json_object_get_boolean_member (config, "enable_entities"));
  fail_unless (json_object_get_double_member (config, "max_delay") == 1.0);
  fail_unless_equals_string (json_object_get_string_member (config, "diarization"),
      "speaker");
  fail_unless (json_object_get_double_member (json_object_get_object_member (config,
              "conversation_config"), "end_of_utterance_silence_trigger") == 0.5);
  fail_unless_equals_string (json_array_get_string_element
      (json_object_get_array_member (json_object_get_object_member (start,
                  "audio_events_config"), "types"), 0), "applause");

  /* The end of utterance (0.5 s after w700) made the first sentence one final. */
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 2);
  check_final (finals->data, "W400 w700.", (const gchar *[]) { "W400", "w700." },
      stt_fx_tones, 2, 0);
  check_final (finals->next->data, "W1000.", (const gchar *[]) { "W1000." },
      stt_fx_tones + 2, 1, 0);
  for (l = finals; l; l = l->next) {
    const GValue *words = gst_structure_get_value (l->data, "words");
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (words,
            0));

    fail_unless_equals_string (gst_structure_get_string (w, "speaker"), "S1");
  }
  for (l = msgs; l; l = l->next) {
    gboolean final;

    if (gst_structure_has_name (l->data, "stt-transcript")) {
      fail_unless (gst_structure_get_boolean (l->data, "is-final", &final));
      fail_unless (final, "a partial with partials off");
    }
  }
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Incremental finals (max_delay 0.7 s): each word final 0.7 s after its end, the next
 * partial holding what is left, the full stop attached to its word. A partial and the
 * final that closes it share a segment-id; times in the input's time domain (it starts
 * at 10 s); a text buffer per final, all before EOS. */
GST_START_TEST (test_transcripts)
{
  /* "w700": what the last partial had left after W400's final, posted with that final
   * (the service's own partial after it is "w700."). */
  static const gchar *const partial_texts[] = { "W400", "W400 w700", "w700", "w700.",
    "W1000", NULL
  };
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstStructure *params = gst_structure_new ("p", "max_delay", G_TYPE_DOUBLE, 0.7, NULL);
  GstClockTime offset = 10 * GST_SECOND;
  static const gchar *const texts[] = { "W400", "w700.", "W1000." };
  GstBuffer *buf;
  GList *l, *m;
  SttCheckTranscripts t;
  GstMapInfo map;
  guint i;

  g_object_set (h->element, "params", params, NULL);
  gst_structure_free (params);
  stt_check_harness_segments (h);
  /* Every text is out before EOS: the last one was made final by EndOfStream. */
  stt_fx_transcribe_tones (h, bus, DURATION, offset, 3, 4, &t);
  for (l = t.partials; l; l = l->next) {
    const gchar *text = gst_structure_get_string (l->data, "text");

    fail_unless (g_strv_contains (partial_texts, text), "partial \"%s\"", text);
  }
  for (l = t.finals, i = 0; l; l = l->next, i++) {
    guint64 id, pid;
    gboolean has_partial = FALSE;

    check_final (l->data, texts[i], texts + i, stt_fx_tones + i, 1, offset);
    fail_unless_equals_string (gst_structure_get_string (l->data, "provider"),
        "speechmatics");
    fail_unless_equals_string (gst_structure_get_string (l->data, "language"), "en");
    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    for (m = t.partials; m; m = m->next) {
      fail_unless (gst_structure_get_uint64 (m->data, "segment-id", &pid));
      has_partial |= pid == id;
    }
    fail_unless (has_partial, "no partial in the segment of %s", texts[i]);

    buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    gst_buffer_map (buf, &map, GST_MAP_READ);
    fail_unless (map.size == strlen (texts[i])
        && memcmp (map.data, texts[i], map.size) == 0);
    gst_buffer_unmap (buf, &map);
    stt_check_assert_time (GST_BUFFER_PTS (buf),
        offset + stt_fx_tones[i].start * GST_SECOND, "buffer pts");
    stt_check_assert_time (GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf),
        offset + stt_fx_tones[i].end * GST_SECOND, "buffer end");
    gst_buffer_unref (buf);
  }
  /* The first final took W400 from the partial "W400 w700" (same segment); what it left
   * was posted with it as the next segment's partial "w700", revised by the service's
   * "w700.", closed by the final "w700.". */
  {
    guint64 id0, id1, pid;
    gboolean found = FALSE, left = FALSE;

    fail_unless (gst_structure_get_uint64 (t.finals->data, "segment-id", &id0));
    fail_unless (gst_structure_get_uint64 (t.finals->next->data, "segment-id", &id1));
    for (m = t.partials; m; m = m->next) {
      const gchar *text = gst_structure_get_string (m->data, "text");

      fail_unless (gst_structure_get_uint64 (m->data, "segment-id", &pid));
      if (g_str_equal (text, "W400 w700"))
        found = TRUE, fail_unless (pid == id0);
      if (g_str_has_prefix (text, "w700"))
        fail_unless (pid == id1);
      left |= g_str_equal (text, "w700");
    }
    fail_unless (found && left);
  }

  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* Audio goes out only after RecognitionStarted, as the SDK sends it: with the server's
 * answers 1 s late, nothing arrives in the first 0.6 s of the connection; then all of
 * it, and every word. */
GST_START_TEST (test_audio_after_recognition_started)
{
  const guint reply_delay_ms = 1000;
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GList *msgs;
  gint64 watch_end, deadline;

  stt_test_server_set_reply_delay (stt_fx.server, reply_delay_ms);
  stt_check_run_push (r, 0, DURATION, FALSE);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, FALSE, 5000));
  /* RecognitionStarted leaves the server @reply_delay_ms after StartRecognition came:
   * before that no frame may arrive, and one that does fails at once. Watched for 0.6
   * of the delay from when the connection was seen (it may have opened a poll earlier,
   * and the element's StartRecognition is what starts the server's delay): nothing in
   * that time is the property, and it is bounded by the delay the test set. */
  watch_end = g_get_monotonic_time () + reply_delay_ms * 600;
  while (g_get_monotonic_time () < watch_end) {
    fail_unless_equals_int (stt_test_server_get_n_binary_messages (stt_fx.server, 0), 0);
    g_usleep (20 * 1000);
  }
  fail_unless_equals_int (stt_test_server_get_n_binary_messages (stt_fx.server, 0), 0);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (stt_test_server_get_n_binary_messages (stt_fx.server, 0) == 0
      && g_get_monotonic_time () < deadline)
    g_usleep (20 * 1000);
  fail_unless (stt_test_server_get_n_binary_messages (stt_fx.server, 0) > 0);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  stt_test_server_set_reply_delay (stt_fx.server, 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* EOS drains until EndOfTranscript: with every answer 700 ms late, the last word (only
 * final through EndOfStream) still arrives; a close 1000 that comes instead of the
 * answers (before EndOfTranscript) is a lost connection, replayed. */
GST_START_TEST (test_end_of_stream)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GList *msgs;

  stt_test_server_set_reply_delay (stt_fx.server, 700);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 10000));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);

  stt_test_server_set_reply_delay (stt_fx.server, 0);
  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_CLOSE_AT_END, 0, 1000, "");
  r = stt_fx_run_tones (DURATION);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 3, TRUE, 10000));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 3);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A full replay ring (non-live input, a word longer than the ring): the element asks for
 * finals with ForceEndOfUtterance; each forced final commits the audio and the stream
 * goes on to its end. */
GST_START_TEST (test_force_end_of_utterance)
{
  stt_fx_check_full_ring ("{\"message\":\"ForceEndOfUtterance\"}", "W500.");
}

GST_END_TEST;

/* A temporary key (token-url with the JSON body the key service requires, token-body;
 * answer {"key_value": ...} as Speechmatics' key service answers) goes in the jwt query parameter, as the official SDK sends it; no header. */
static void
token_handler (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  const gchar *auth = soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");
  static const gchar body[] = "{\"apikey_id\":\"id-1\",\"key_value\":\"temp/key+1\"}";
  const gchar *type = soup_message_headers_get_content_type
      (soup_server_message_get_request_headers (msg), NULL);
  g_autoptr (GBytes) req = soup_message_body_flatten (soup_server_message_get_request_body
      (msg));
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (g_strcmp0 (auth, "Bearer test-key") != 0
      || g_strcmp0 (soup_server_message_get_method (msg), "POST") != 0) {
    soup_server_message_set_status (msg, 401, NULL);
    return;
  }
  /* The service requires {"ttl": 60..86400} as JSON. */
  if (g_strcmp0 (type, "application/json") != 0
      || !json_parser_load_from_data (parser, g_bytes_get_data (req, NULL),
          g_bytes_get_size (req), NULL)
      || !JSON_NODE_HOLDS_OBJECT (root = json_parser_get_root (parser))
      || json_object_get_int_member_with_default (json_node_get_object (root), "ttl",
          0) < 60) {
    soup_server_message_set_status (msg, 422, NULL);
    return;
  }
  soup_server_message_set_status (msg, 201, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
      strlen (body));
}

static void
token_setup (gpointer soup, gpointer data)
{
  soup_server_add_handler (soup, "/v1/api_keys", token_handler, NULL, NULL);
}

GST_START_TEST (test_temporary_key)
{
  SttCheckSoup *keys = stt_check_soup_new (NULL, token_setup, NULL);
  g_autofree gchar *token_url = g_strdup_printf ("http://127.0.0.1:%u/v1/api_keys?type=rt",
      stt_check_soup_get_port (keys));
  GstStructure *headers = gst_structure_new ("h", "Authorization", G_TYPE_STRING,
      "Bearer $API_KEY", NULL);
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autofree gchar *jwt = NULL, *auth = NULL;
  GList *msgs;

  stt_test_server_set_api_key (stt_fx.server, "temp/key+1");
  g_object_set (r->h->element, "token-url", token_url, "token-headers", headers,
      "token-body", "{\"ttl\": 60}", NULL);
  gst_structure_free (headers);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  jwt = stt_test_server_get_query (stt_fx.server, 0, "jwt");
  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  fail_unless_equals_string (jwt, "temp/key+1");
  fail_unless (auth == NULL);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
  stt_check_soup_free (keys);
}

GST_END_TEST;

/* An authentication failure: one NOT_AUTHORIZED error naming Speechmatics and @want,
 * never the key, no retry loop (one connection attempt). @mid_stream: the failure comes
 * after the handshake, from @error_text sent in band or from the close armed before. */
static void
check_auth_failure (const gchar * key, const gchar * error_text, const gchar * want)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;

  g_object_set (r->h->element, "api-key", key, "pacing", 1 /* realtime */ , NULL);
  if (error_text) {
    /* Nothing is pushed after the error is sent: the failure it causes may already
     * refuse the next buffer. */
    stt_check_run_push (r, 0, 0.5, FALSE);
    fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, FALSE, 5000));
    fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 0.2));
    stt_test_server_send_text (stt_fx.server, error_text);
  } else {
    stt_check_run_push (r, 0, 1.0, FALSE);
  }
  /* No retry: the session ended (stt_check_wait_fatal) after one handshake. */
  err = stt_check_wait_fatal (r->bus, 10000);
  stt_check_error_says (err, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Speechmatics", want, key);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  fail_unless (stt_check_wait_error (r->bus, 200) == NULL, "a second error");
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_START_TEST (test_bad_key)
{
  check_auth_failure ("wrong-key", NULL, "HTTP 401");
}

GST_END_TEST;

GST_START_TEST (test_not_authorised)
{
  check_auth_failure ("test-key", "{\"message\":\"Error\",\"type\":\"not_authorised\","
      "\"reason\":\"Permission denied\"}", "not_authorised");
}

GST_END_TEST;

/* The close alone (its payload the error type) says the same. */
GST_START_TEST (test_not_authorised_close)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;

  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_CLOSE, 0.5, 4001,
      "not_authorised");
  /* No retry: the session ended (stt_check_wait_fatal) after one handshake. */
  err = stt_check_run_until_fatal (r, 1.0);
  stt_check_error_says (err, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "Speechmatics", "4001",
      NULL);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A configuration the service refuses (invalid_config, then close 1003): fatal, it
 * would be refused again. */
GST_START_TEST (test_bad_config)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *params = gst_structure_new ("p", "max_delay", G_TYPE_DOUBLE, 9.0, NULL);
  GstStructure *err;

  g_object_set (r->h->element, "params", params, NULL);
  gst_structure_free (params);
  /* No retry: the session ended (stt_check_wait_fatal) after one handshake. */
  err = stt_check_run_until_fatal (r, 1.0);
  stt_check_error_says (err, GST_RESOURCE_ERROR_SETTINGS, "Speechmatics",
      "invalid_config", NULL);
  fail_unless (strstr (gst_structure_get_string (err, "message"), "max_delay") != NULL,
      "%s", gst_structure_get_string (err, "message"));
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* The server sends @messages (NULL-terminated) in the middle of a word, once the first
 * connection heard 2.2 s at real time: a new session replays from the end of the last
 * final (w700, final at 2.0 s with max_delay 0.7), every word once, at its time. */
static void
check_replayed_after (const gchar * const *messages)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  GstStructure *params = gst_structure_new ("p", "max_delay", G_TYPE_DOUBLE, 0.7, NULL);
  GList *msgs;

  g_object_set (r->h->element, "params", params, "pacing", 1 /* realtime */ , NULL);
  gst_structure_free (params);
  /* All of it at once: the replay is the subject here, not a live edge that moves on
   * (that would give the backlog a session of its own: test-outage). */
  stt_check_run_push (r, 0, 4.0, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 2.2));
  for (; *messages; messages++)
    stt_test_server_send_text (stt_fx.server, *messages);
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, 10000));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  stt_fx_check_replay (r, 1.29, 2.2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

/* A job_error (the docs advise a retry). */
GST_START_TEST (test_job_error)
{
  check_replayed_after ((const gchar *[]) {
        "{\"message\":\"Error\",\"type\":\"job_error\","
        "\"reason\":\"Unable to do any work on this job\"}", NULL});
}

GST_END_TEST;

/* duration_limit_exceeded "triggers the same mechanism as receiving an EndOfStream":
 * an EndOfTranscript the element did not ask for ends the connection, and a new session
 * goes on from the last final. */
GST_START_TEST (test_unasked_end_of_transcript)
{
  check_replayed_after ((const gchar *[]) {
        "{\"message\":\"Warning\",\"type\":\"duration_limit_exceeded\","
        "\"reason\":\"Duration limit exceeded\",\"duration_limit\":2.2}",
        "{\"message\":\"EndOfTranscript\"}", NULL});
}

GST_END_TEST;

/* Close 1008 is Speechmatics' session limit (policy_violation), not a rejected key: a new
 * session goes on. */
GST_START_TEST (test_session_timeout_close)
{
  SttCheckRun *r = stt_fx_run_new (stt_fx_four, G_N_ELEMENTS (stt_fx_four), 4.0);
  GList *msgs;

  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_CLOSE, 2.2, 1008,
      "policy_violation");
  stt_check_run_push (r, 0, 4.0, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_four_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, 10000));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  stt_fx_check_replay (r, 0, 2.2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Messages the element cannot use are skipped and counted; messages it has no use for
 * (Info, Warning, EndOfUtterance, translations, a full stop for a word already out) are
 * taken in silently; the stream goes on, every word once. */
GST_START_TEST (test_malformed)
{
  static const gchar *const bad[] = {
    "not json",
    "{}",
    "{\"message\":42}",
    "{\"message\":\"NoSuchMessage\"}",
    "{\"message\":\"AddTranscript\"}",
    "{\"message\":\"AddPartialTranscript\",\"metadata\":\"x\",\"results\":{\"a\":1}}",
  };
  static const gchar *const harmless[] = {
    "{\"message\":\"Info\",\"type\":\"recognition_quality\",\"reason\":\"r\","
        "\"quality\":\"broadcast\"}",
    "{\"message\":\"Warning\",\"type\":\"duration_limit_exceeded\",\"reason\":\"r\","
        "\"duration_limit\":7200}",
    "{\"message\":\"EndOfUtterance\",\"metadata\":{\"start_time\":0.1,\"end_time\":0.1}}",
    "{\"message\":\"AddTranslation\",\"format\":\"2.9\",\"language\":\"de\","
        "\"results\":[]}",
    "{\"message\":\"AddTranscript\",\"metadata\":{\"start_time\":0.0,\"end_time\":0.0,"
        "\"transcript\":\". \"},\"results\":[{\"type\":\"punctuation\",\"start_time\":0.0,"
        "\"end_time\":0.0,\"attaches_to\":\"previous\",\"is_eos\":true,\"alternatives\":"
        "[{\"content\":\".\",\"confidence\":1.0}]}]}",
  };
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *stats = NULL;
  guint64 malformed = 0;
  GList *msgs;
  guint i;

  g_object_set (r->h->element, "pacing", 1 /* realtime */ , NULL);
  stt_check_run_push (r, 0, 1.0, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 0.3));
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    stt_test_server_send_text (stt_fx.server, bad[i]);
  for (i = 0; i < G_N_ELEMENTS (harmless); i++)
    stt_test_server_send_text (stt_fx.server, harmless[i]);
  stt_check_run_push (r, 1.0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_object_get (r->h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "malformed-messages", &malformed));
  fail_unless_equals_int (malformed, G_N_ELEMENTS (bad));
  gst_structure_free (stats);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
speechmatics_suite (void)
{
  Suite *s = suite_create ("speechmatics");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  stt_check_fixture_add (tc, "speechmatics");
  tcase_add_test (tc, test_start_recognition);
  tcase_add_test (tc, test_params);
  tcase_add_test (tc, test_transcripts);
  tcase_add_test (tc, test_audio_after_recognition_started);
  tcase_add_test (tc, test_end_of_stream);
  tcase_add_test (tc, test_force_end_of_utterance);
  tcase_add_test (tc, test_temporary_key);
  tcase_add_test (tc, test_bad_key);
  tcase_add_test (tc, test_not_authorised);
  tcase_add_test (tc, test_not_authorised_close);
  tcase_add_test (tc, test_bad_config);
  tcase_add_test (tc, test_job_error);
  tcase_add_test (tc, test_unasked_end_of_transcript);
  tcase_add_test (tc, test_session_timeout_close);
  tcase_add_test (tc, test_malformed);
  return s;
}

GST_CHECK_MAIN (speechmatics);
