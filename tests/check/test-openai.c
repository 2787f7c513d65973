/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local OpenAI-Realtime-protocol server (transcription
 * session): the handshake and the session.update, audio as base64 at 24 kHz, items as
 * finals with the times the VAD events give (no word times), partials from the deltas,
 * the end-of-stream commit and its two answers (an item, or the buffer too small),
 * completions out of order released in the audio's order, authentication failures (HTTP
 * 401 and the error event) fatal without a retry loop, a transient error retried with the
 * audio replayed, malformed messages skipped. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

#define WIRE_RATE 24000
#define WAIT_MS 15000

/* Each word its own item (the server VAD closes one after 500 ms of silence); the last
 * still sounds 20 ms before the end, so only the end-of-stream commit closes it. */
static const SttTone tones[] = {
  {0.5, 0.9, 440},
  {1.6, 1.9, 700},
  {2.6, 2.98, 1000},
};

#define DURATION 3.0

static const gchar *const words[] = { "w400", "w700", "w1000", NULL };

static SttCheckRun *
new_run (const SttTone * t, guint n, gdouble duration)
{
  return stt_fx_run_new (t, n, duration);
}

/* The final @s: @text, no words (the service gives no word times), its segment from
 * @start to @end seconds (30 ms) after @offset. */
static void
check_segment (const GstStructure * s, const gchar * text, gdouble start, gdouble end,
    GstClockTime offset)
{
  const GValue *w = gst_structure_get_value (s, "words");
  GstClockTime pts, dur;

  fail_unless_equals_string (gst_structure_get_string (s, "text"), text);
  fail_unless (w != NULL && gst_value_array_get_size (w) == 0);
  fail_unless (gst_structure_get_clock_time (s, "pts", &pts));
  fail_unless (gst_structure_get_clock_time (s, "duration", &dur));
  stt_check_assert_time (pts, offset + start * GST_SECOND, text);
  stt_check_assert_time (pts + dur, offset + end * GST_SECOND, text);
}

/* Ends the stream and collects until @n finals (or WAIT_MS); fails on an error. */
static GList *
finish (SttCheckRun * r, guint n, GList ** finals)
{
  GList *msgs, *l;

  gst_harness_push_event (r->h, gst_event_new_eos ());
  msgs = stt_check_collect (r->bus, NULL, WAIT_MS, stt_check_n_finals,
      GUINT_TO_POINTER (n));
  for (l = msgs; l; l = l->next)
    fail_if (gst_structure_has_name (l->data, "error"), "unexpected error: %s",
        gst_structure_get_string (l->data, "message"));
  *finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (*finals), n);
  return msgs;
}

/* The three finals of tones[] at their times: the VAD's for the first two, the end of the
 * audio our commit closed for the last. */
static void
check_three (GList * finals, GstClockTime offset)
{
  check_segment (g_list_nth_data (finals, 0), "w400", 0.5, 0.9, offset);
  check_segment (g_list_nth_data (finals, 1), "w700", 1.6, 1.9, offset);
  check_segment (g_list_nth_data (finals, 2), "w1000", 2.6, DURATION, offset);
}

static JsonObject *
parse_object (JsonParser * parser, const gchar * text)
{
  fail_unless (json_parser_load_from_data (parser, text, -1, NULL), "%s", text);
  fail_unless (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)), "%s", text);
  return json_node_get_object (json_parser_get_root (parser));
}

static JsonObject *
path_object (JsonObject * o, const gchar * path)
{
  g_auto (GStrv) names = g_strsplit (path, ".", -1);
  guint i;

  for (i = 0; names[i]; i++) {
    fail_unless (o != NULL && json_object_has_member (o, names[i]), "no %s", path);
    o = json_object_get_object_member (o, names[i]);
  }
  return o;
}

/* The handshake (Bearer key, intent, no model, no beta header), the session.update, the
 * audio as base64 appends at 24 kHz (every sample of the converted input), a commit at
 * the end. */
GST_START_TEST (test_session_update)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *auth = NULL, *intent = NULL, *model = NULL, *beta = NULL;
  g_auto (GStrv) texts = NULL;
  JsonObject *msg, *session, *input, *vad, *format, *tr;
  GList *msgs, *finals;
  GBytes *audio;
  gsize appended = 0, n;
  guint i;

  g_object_set (r->h->element, "language-code", "en-GB", NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = finish (r, 3, &finals);
  check_three (finals, 0);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, WAIT_MS));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);

  auth = stt_test_server_get_header (stt_fx.server, 0, "Authorization");
  intent = stt_test_server_get_query (stt_fx.server, 0, "intent");
  model = stt_test_server_get_query (stt_fx.server, 0, "model");
  beta = stt_test_server_get_header (stt_fx.server, 0, "OpenAI-Beta");
  fail_unless_equals_string (auth, "Bearer test-key");
  fail_unless_equals_string (intent, "transcription");
  fail_unless (model == NULL && beta == NULL);

  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  n = g_strv_length (texts);
  fail_unless (n >= 3);
  msg = parse_object (parser, texts[0]);
  fail_unless_equals_string (json_object_get_string_member (msg, "type"),
      "session.update");
  session = json_object_get_object_member (msg, "session");
  fail_unless_equals_string (json_object_get_string_member (session, "type"),
      "transcription");
  input = path_object (session, "audio.input");
  format = json_object_get_object_member (input, "format");
  fail_unless_equals_string (json_object_get_string_member (format, "type"), "audio/pcm");
  fail_unless_equals_int (json_object_get_int_member (format, "rate"), WIRE_RATE);
  tr = json_object_get_object_member (input, "transcription");
  fail_unless_equals_string (json_object_get_string_member (tr, "model"),
      "gpt-4o-transcribe");
  fail_unless_equals_string (json_object_get_string_member (tr, "language"), "en");
  vad = json_object_get_object_member (input, "turn_detection");
  fail_unless_equals_string (json_object_get_string_member (vad, "type"), "server_vad");
  fail_unless_equals_int (json_object_get_int_member (vad, "prefix_padding_ms"), 300);
  fail_unless_equals_int (json_object_get_int_member (vad, "silence_duration_ms"), 500);
  fail_if (json_object_has_member (input, "noise_reduction"));

  /* Appends in between, all the audio the server heard; the commit last. */
  for (i = 1; i + 1 < n; i++) {
    gsize len;
    guchar *pcm;

    msg = parse_object (parser, texts[i]);
    fail_unless_equals_string (json_object_get_string_member (msg, "type"),
        "input_audio_buffer.append");
    pcm = g_base64_decode (json_object_get_string_member (msg, "audio"), &len);
    appended += len;
    g_free (pcm);
  }
  msg = parse_object (parser, texts[n - 1]);
  fail_unless_equals_string (json_object_get_string_member (msg, "type"),
      "input_audio_buffer.commit");
  audio = stt_test_server_get_audio (stt_fx.server, 0);
  fail_unless_equals_int (g_bytes_get_size (audio), appended);
  /* 3 s at 24 kHz, within a millisecond (the converter's rounding). */
  fail_unless (ABS ((gint) (appended / 2) - (gint) (DURATION * WIRE_RATE)) <= 24,
      "%" G_GSIZE_FORMAT " samples", appended / 2);
  g_bytes_unref (audio);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* 48 kHz stereo from 10 s: partials (the deltas) share the segment-id of their final; the
 * finals at their times in the input's time domain; one text buffer per final, all before
 * EOS. */
GST_START_TEST (test_transcripts)
{
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstClockTime offset = 10 * GST_SECOND;
  GstBuffer *buf;
  GList *l, *m;
  SttCheckTranscripts t;
  guint i;

  stt_check_harness_segments (h);
  stt_check_harness_push_audio (h, GST_AUDIO_FORMAT_S16LE, 48000, 2, DURATION, tones,
      G_N_ELEMENTS (tones), offset);
  stt_check_harness_finish (h);
  fail_unless_equals_int (gst_harness_buffers_received (h), 3);

  stt_check_transcripts_collect (&t, bus, 3, 0);
  check_three (t.finals, offset);
  for (l = t.finals, i = 0; l; l = l->next, i++) {
    guint64 id, pid;
    gboolean has_partial = FALSE;

    fail_unless_equals_string (gst_structure_get_string (l->data, "provider"), "openai");
    fail_unless (gst_structure_get_uint64 (l->data, "segment-id", &id));
    for (m = t.partials; m; m = m->next) {
      fail_unless (gst_structure_get_uint64 (m->data, "segment-id", &pid));
      if (pid == id) {
        fail_unless_equals_string (gst_structure_get_string (m->data, "text"), words[i]);
        has_partial = TRUE;
      }
    }
    fail_unless (has_partial, "no partial of %s", words[i]);

    buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    stt_check_assert_time (GST_BUFFER_PTS (buf), offset + tones[i].start * GST_SECOND,
        "buffer pts");
    gst_buffer_unref (buf);
  }
  stt_check_transcripts_clear (&t);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* params are members of the session (dotted names nest, JSON values): turn detection off
 * and noise reduction on; `model` picks whisper-1. Without VAD the audio is one item,
 * committed at the end; its final covers everything (its start is not known). */
GST_START_TEST (test_params)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);
  g_autoptr (JsonParser) parser = json_parser_new ();
  GstStructure *params = gst_structure_new ("p",
      "audio.input.turn_detection", G_TYPE_STRING, "null",
      "audio.input.noise_reduction.type", G_TYPE_STRING, "near_field",
      "include", G_TYPE_STRING, "[\"item.input_audio_transcription.logprobs\"]", NULL);
  g_auto (GStrv) texts = NULL;
  JsonObject *input;
  GList *msgs, *finals;
  gdouble confidence = -1;

  g_object_set (r->h->element, "params", params, "model", "whisper-1", NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = finish (r, 1, &finals);
  check_segment (finals->data, "w400 w700 w1000", 0, DURATION, 0);
  /* whisper-1 gives no log probabilities: no confidence. */
  fail_unless (gst_structure_get_double (finals->data, "confidence", &confidence));
  fail_unless (confidence < 0);

  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  input = path_object (json_object_get_object_member (parse_object (parser, texts[0]),
          "session"), "audio.input");
  fail_unless (JSON_NODE_HOLDS_NULL (json_object_get_member (input, "turn_detection")));
  fail_unless_equals_string (json_object_get_string_member
      (json_object_get_object_member (input, "noise_reduction"), "type"), "near_field");
  fail_unless_equals_string (json_object_get_string_member
      (json_object_get_object_member (input, "transcription"), "model"), "whisper-1");
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* With gpt-4o-transcribe and logprobs included, a final's confidence is exp (mean
 * log probability): 0.9 from the test server. */
GST_START_TEST (test_logprobs)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);
  GstStructure *params = gst_structure_new ("p", "include", G_TYPE_STRING,
      "[\"item.input_audio_transcription.logprobs\"]", NULL);
  GList *msgs, *finals, *l;

  g_object_set (r->h->element, "params", params, NULL);
  gst_structure_free (params);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = finish (r, 3, &finals);
  check_three (finals, 0);
  for (l = finals; l; l = l->next) {
    gdouble confidence = -1;

    fail_unless (gst_structure_get_double (l->data, "confidence", &confidence));
    fail_unless (ABS (confidence - 0.9) < 1e-6, "confidence %f", confidence);
  }
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A refusal the service gives: one ERROR of @code naming OpenAI and @want_text, without
 * the key, and no retry. */
static void
check_refused (SttCheckRun * r, gint want_code, const gchar * want_text)
{
  /* No retry: the session ended (stt_check_wait_fatal) after one handshake. */
  GstStructure *err = stt_check_run_until_fatal (r, 1.0);

  stt_check_error_says (err, want_code, "OpenAI", want_text, "wrong-key");
  fail_unless (strstr (gst_structure_get_string (err, "message"), "6789") == NULL,
      "the key shows: %s", gst_structure_get_string (err, "message"));
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  fail_unless (stt_check_wait_error (r->bus, 0) == NULL, "a second error");
  gst_structure_free (err);
}

/* A wrong key: the service opens the socket, says invalid_api_key and closes 3000. */
GST_START_TEST (test_bad_key_event)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);

  g_object_set (r->h->element, "api-key", "wrong-key-0123456789", NULL);
  check_refused (r, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "invalid_api_key");
  stt_check_run_free (r);
}

GST_END_TEST;

/* The handshake refused with HTTP 401. */
GST_START_TEST (test_http_401)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);

  stt_test_server_fail_handshakes (stt_fx.server, 401, 1, NULL);
  check_refused (r, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "401");
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 0);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A configuration the service refuses (an unknown member): its error names our
 * session.update, the session would go on without it: fatal. */
GST_START_TEST (test_bad_config)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);
  GstStructure *params = gst_structure_new ("p", "audio.input.no_such_option",
      G_TYPE_INT, 1, NULL);

  g_object_set (r->h->element, "params", params, NULL);
  gst_structure_free (params);
  check_refused (r, GST_RESOURCE_ERROR_SETTINGS, "session.audio.input.no_such_option");
  stt_check_run_free (r);
}

GST_END_TEST;

/* The service takes PCM at 24 kHz only: another sample-rate is refused up front. */
GST_START_TEST (test_rate)
{
  GstBus *bus;
  GstHarness *h = stt_fx_harness_new (&bus);
  GstStructure *err;

  g_object_set (h->element, "sample-rate", 16000, NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, gst_harness_create_buffer (h, 3200));
  err = stt_check_wait_error (bus, 10000);
  fail_unless (err != NULL, "no error posted");
  fail_unless (strstr (gst_structure_get_string (err, "message"), "24000") != NULL, "%s",
      gst_structure_get_string (err, "message"));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 0);
  gst_structure_free (err);
  stt_check_harness_free (h, bus);
}

GST_END_TEST;

/* An SttCheckDoneFunc: the last message collected says the element reconnects. */
static gboolean
is_reconnecting (GList * collected, gpointer user_data)
{
  GList *last = g_list_last (collected);

  return last && gst_structure_has_name (last->data, "stt-connection")
      && !g_strcmp0 (gst_structure_get_string (last->data, "state"), "reconnecting");
}

/* A transient error after the first final (@event: an error event or a failed
 * transcription): a new connection, the audio after that final replayed; every word
 * once, at its time. */
static void
check_transient (const gchar * event)
{
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);
  GList *msgs, *finals;
  GBytes *audio1;
  gint n1;

  stt_check_run_push (r, 0, 1.5, FALSE);
  msgs = stt_check_collect (r->bus, NULL, WAIT_MS, stt_check_n_finals,
      GUINT_TO_POINTER (1));
  stt_test_server_send_text (stt_fx.server, event);
  /* The rest once the client has taken the error in. */
  msgs = g_list_concat (msgs, stt_check_collect (r->bus, NULL, WAIT_MS, is_reconnecting,
          NULL));
  fail_unless (is_reconnecting (msgs, NULL), "no reconnection");
  stt_check_run_push (r, 1.5, DURATION, FALSE);
  msgs = g_list_concat (msgs, finish (r, 2, &finals));
  g_list_free (finals);
  finals = stt_check_filter_final (msgs, TRUE);
  check_three (finals, 0);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 2, TRUE, WAIT_MS));
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 2);
  /* The second connection starts at the end of w400's final (0.9 s). */
  audio1 = stt_test_server_get_audio (stt_fx.server, 1);
  n1 = g_bytes_get_size (audio1) / 2;
  fail_unless (ABS (n1 - (gint) ((DURATION - 0.9) * WIRE_RATE)) <= 24, "%d samples", n1);
  g_bytes_unref (audio1);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_START_TEST (test_transient_error)
{
  check_transient ("{\"type\":\"error\",\"event_id\":\"event_x\",\"error\":{\"type\":"
      "\"server_error\",\"code\":null,\"message\":\"The server had an error while "
      "processing your request.\",\"param\":null,\"event_id\":null}}");
}

GST_END_TEST;

GST_START_TEST (test_transcription_failed)
{
  check_transient ("{\"type\":\"conversation.item.input_audio_transcription.failed\","
      "\"event_id\":\"event_x\",\"item_id\":\"item_x\",\"content_index\":0,\"error\":{"
      "\"type\":\"server_error\",\"code\":null,\"message\":\"Transcription failed.\","
      "\"param\":null}}");
}

GST_END_TEST;

/* The end of stream reached 50 ms after the VAD closed the last item: the end commit
 * finds the buffer too small (the error input_audio_buffer_commit_empty), which is the
 * end-of-audio acknowledgement: EOS at once, one connection, nothing untranscribed. */
GST_START_TEST (test_end_commit_empty)
{
  static const SttTone two[] = { {0.5, 0.9, 440}, {1.6, 1.9, 700} };
  SttCheckRun *r = new_run (two, G_N_ELEMENTS (two), 2.45);
  GstStructure *stats = NULL;
  GstClockTime untranscribed = GST_CLOCK_TIME_NONE;
  GList *msgs, *finals;
  g_auto (GStrv) texts = NULL;
  gint64 start;

  stt_check_run_push (r, 0, 2.45, FALSE);
  start = g_get_monotonic_time ();
  msgs = finish (r, 2, &finals);
  stt_check_harness_wait_eos (r->h);
  fail_unless (g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC);
  check_segment (finals->data, "w400", 0.5, 0.9, 0);
  check_segment (finals->next->data, "w700", 1.6, 1.9, 0);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  fail_unless (strstr (texts[g_strv_length (texts) - 1], "input_audio_buffer.commit"));
  g_object_get (r->h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_clock_time (stats, "audio-untranscribed",
          &untranscribed));
  fail_unless_equals_uint64 (untranscribed, 0);
  gst_structure_free (stats);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Trailing silence after the last item: the end commit makes an item of it, transcribed
 * as nothing; its empty completion is the acknowledgement. */
GST_START_TEST (test_end_commit_silence)
{
  static const SttTone one[] = { {0.5, 0.9, 440} };
  SttCheckRun *r = new_run (one, G_N_ELEMENTS (one), 2.5);
  GList *msgs, *finals;

  stt_check_run_push (r, 0, 2.5, FALSE);
  msgs = finish (r, 1, &finals);
  stt_check_harness_wait_eos (r->h);
  check_segment (finals->data, "w400", 0.5, 0.9, 0);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

#define EVENT(type, rest) "{\"type\":\"" type "\",\"event_id\":\"event_t\"," rest "}"

/* Two items whose transcriptions complete in the reverse order: the finals come out in
 * the audio's order (committed + previous_item_id), at the VAD's times. Silent audio:
 * the server's own VAD says nothing; the events are the test's. */
GST_START_TEST (test_out_of_order)
{
  static const gchar *const events[] = {
    EVENT ("input_audio_buffer.speech_started", "\"audio_start_ms\":200,\"item_id\":\"A\""),
    EVENT ("input_audio_buffer.speech_stopped", "\"audio_end_ms\":1400,\"item_id\":\"A\""),
    EVENT ("input_audio_buffer.committed", "\"previous_item_id\":null,\"item_id\":\"A\""),
    EVENT ("input_audio_buffer.speech_started", "\"audio_start_ms\":1300,\"item_id\":\"B\""),
    EVENT ("input_audio_buffer.speech_stopped", "\"audio_end_ms\":2400,\"item_id\":\"B\""),
    EVENT ("input_audio_buffer.committed", "\"previous_item_id\":\"A\",\"item_id\":\"B\""),
    EVENT ("conversation.item.input_audio_transcription.delta",
        "\"item_id\":\"B\",\"content_index\":0,\"delta\":\"second\""),
    EVENT ("conversation.item.input_audio_transcription.completed",
        "\"item_id\":\"B\",\"content_index\":0,\"transcript\":\"second\","
        "\"usage\":{\"type\":\"duration\",\"seconds\":1.1}"),
    EVENT ("conversation.item.input_audio_transcription.delta",
        "\"item_id\":\"A\",\"content_index\":0,\"delta\":\"first\""),
    EVENT ("conversation.item.input_audio_transcription.completed",
        "\"item_id\":\"A\",\"content_index\":0,\"transcript\":\"first\","
        "\"usage\":{\"type\":\"duration\",\"seconds\":1.2}"),
  };
  SttCheckRun *r = new_run (NULL, 0, 3.0);
  GList *msgs, *finals;
  GstBuffer *buf;
  guint i;

  stt_check_run_push (r, 0, 2.5, FALSE);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, FALSE, WAIT_MS));
  /* The events speak of audio up to 1.9 s (after their padding and silence): wait until
   * the server has it. */
  for (i = 0; i < 100; i++) {
    GBytes *audio = stt_test_server_get_audio (stt_fx.server, 0);
    gboolean enough = g_bytes_get_size (audio) >= 2.0 * WIRE_RATE * 2;

    g_bytes_unref (audio);
    if (enough)
      break;
    g_usleep (50 * 1000);
  }
  for (i = 0; i < G_N_ELEMENTS (events); i++)
    stt_test_server_send_text (stt_fx.server, events[i]);
  msgs = stt_check_collect (r->bus, NULL, WAIT_MS, stt_check_n_finals,
      GUINT_TO_POINTER (2));
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless_equals_int (g_list_length (finals), 2);
  check_segment (finals->data, "first", 0.5, 0.9, 0);
  check_segment (finals->next->data, "second", 1.6, 1.9, 0);
  /* The end commit: an item of silence, transcribed as nothing. */
  stt_check_run_push (r, 2.5, 3.0, FALSE);
  stt_check_harness_finish (r->h);
  buf = gst_harness_pull (r->h);
  fail_unless (buf != NULL);
  stt_check_assert_time (GST_BUFFER_PTS (buf), 0.5 * GST_SECOND, "first buffer");
  gst_buffer_unref (buf);
  buf = gst_harness_pull (r->h);
  fail_unless (buf != NULL);
  stt_check_assert_time (GST_BUFFER_PTS (buf), 1.6 * GST_SECOND, "second buffer");
  gst_buffer_unref (buf);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Messages that are not JSON, not objects, of unknown types or without an item: logged,
 * counted and skipped; the transcription goes on, nothing retried. */
GST_START_TEST (test_malformed)
{
  static const gchar *const junk[] = {
    "not json", "[1,2,3]", "{\"type\":\"no.such.event\"}",
    "{\"type\":\"conversation.item.input_audio_transcription.delta\",\"delta\":\"x\"}",
    "{\"type\":\"input_audio_buffer.committed\",\"item_id\":42}",
    "{\"type\":\"input_audio_buffer.speech_stopped\",\"item_id\":\"zz\","
        "\"audio_end_ms\":\"soon\"}",
  };
  SttCheckRun *r = new_run (tones, G_N_ELEMENTS (tones), DURATION);
  GstStructure *stats = NULL;
  guint64 malformed = 0;
  GList *msgs, *finals;
  guint i;

  stt_check_run_push (r, 0, 0.3, FALSE);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, FALSE, WAIT_MS));
  for (i = 0; i < G_N_ELEMENTS (junk); i++)
    stt_test_server_send_text (stt_fx.server, junk[i]);
  /* All but the speech_stopped without a time (harmless) are counted as skipped. */
  for (i = 0; i < 200 && malformed < 5; i++) {
    g_usleep (10 * 1000);
    g_object_get (r->h->element, "stats", &stats, NULL);
    fail_unless (gst_structure_get_uint64 (stats, "malformed-messages", &malformed));
    gst_structure_free (stats);
  }
  fail_unless_equals_int (malformed, 5);
  stt_check_run_push (r, 0.3, DURATION, FALSE);
  msgs = finish (r, 3, &finals);
  check_three (finals, 0);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
openai_suite (void)
{
  Suite *s = suite_create ("openai");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  stt_check_fixture_add (tc, "openai");
  tcase_add_test (tc, test_session_update);
  tcase_add_test (tc, test_transcripts);
  tcase_add_test (tc, test_params);
  tcase_add_test (tc, test_logprobs);
  tcase_add_test (tc, test_bad_key_event);
  tcase_add_test (tc, test_http_401);
  tcase_add_test (tc, test_bad_config);
  tcase_add_test (tc, test_rate);
  tcase_add_test (tc, test_transient_error);
  tcase_add_test (tc, test_transcription_failed);
  tcase_add_test (tc, test_end_commit_empty);
  tcase_add_test (tc, test_end_commit_silence);
  tcase_add_test (tc, test_out_of_order);
  tcase_add_test (tc, test_malformed);
  return s;
}

GST_CHECK_MAIN (openai);
