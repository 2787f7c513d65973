/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-elevenlabs: ElevenLabs Scribe realtime
 * (wss://api.elevenlabs.io/v1/speech-to-text/realtime).
 *
 * Facts: shared/providers.md section 3, checked against @elevenlabs/elevenlabs-js 2.x
 * (wrapper/realtime/scribe.js, connection.js and .d.ts; the api/types payloads of the
 * transcripts, the Scribe errors and SessionStartedPayloadConfig). Choices where the service's
 * behaviour is not documented are listed in README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

#define MODEL "scribe_v2_realtime"
#define INTERIM_INTERVAL_MS 250
#define DEFAULT_VAD_SILENCE 1.5
#define DEFAULT_VAD_THRESHOLD 0.4
#define DEFAULT_MIN_SPEECH_MS 100
#define DEFAULT_MIN_SILENCE_MS 100

typedef struct
{
  gchar *session_id;
  gchar *invalid;               /* the connection parameters were rejected: why */
  gchar *audio_format;
  gchar *language;              /* NULL: none given */
  gboolean vad;
  gdouble vad_silence;
  gdouble vad_threshold;
  guint min_speech_ms;
  guint min_silence_ms;
  gboolean timestamps;
  gboolean language_detection;
  gboolean logging;
  guint chunks;
} ElevenLabs;

static void
elevenlabs_free (gpointer data)
{
  ElevenLabs *el = data;

  g_free (el->session_id);
  g_free (el->invalid);
  g_free (el->audio_format);
  g_free (el->language);
  g_free (el);
}

/* --- handshake ----------------------------------------------------------------------- */

static gboolean
parse_bool (GHashTable * query, const gchar * name, gboolean * result)
{
  const gchar *value = g_hash_table_lookup (query, name);

  if (value == NULL)
    return TRUE;
  if (g_str_equal (value, "true"))
    *result = TRUE;
  else if (g_str_equal (value, "false"))
    *result = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_range (GHashTable * query, const gchar * name, gdouble min, gdouble max,
    gdouble * result)
{
  const gchar *value = g_hash_table_lookup (query, name);
  gchar *end = NULL;
  gdouble v;

  if (value == NULL)
    return TRUE;
  v = g_ascii_strtod (value, &end);
  if (end == value || *end != '\0' || v < min || v > max)
    return FALSE;
  *result = v;
  return TRUE;
}

/* The query is checked after the upgrade: the service answers a rejected one with an
 * invalid_request message, then closes (SDK: ScribeInvalidRequestError). */
static gchar *
check_query (GHashTable * query, ElevenLabs * el, guint * rate)
{
  static const guint rates[] = { 8000, 16000, 22050, 24000, 44100, 48000 };
  const gchar *model = g_hash_table_lookup (query, "model_id");
  const gchar *format = g_hash_table_lookup (query, "audio_format");
  const gchar *strategy = g_hash_table_lookup (query, "commit_strategy");
  gdouble min_speech = DEFAULT_MIN_SPEECH_MS, min_silence = DEFAULT_MIN_SILENCE_MS;
  guint i;

  if (model == NULL)
    return g_strdup ("model_id is required");
  if (!g_str_equal (model, MODEL))
    return g_strdup_printf ("model_id %s is not a realtime model", model);
  el->audio_format = g_strdup (format ? format : "pcm_16000");
  for (i = 0; i < G_N_ELEMENTS (rates); i++) {
    g_autofree gchar *name = g_strdup_printf ("pcm_%u", rates[i]);
    if (g_str_equal (el->audio_format, name))
      *rate = rates[i];
  }
  if (*rate == 0)
    return g_strdup_printf (g_str_equal (el->audio_format, "ulaw_8000") ?
        "This test server only decodes PCM, not %s" : "Invalid audio_format: %s",
        el->audio_format);
  if (strategy != NULL && !g_str_equal (strategy, "manual") && !g_str_equal (strategy,
          "vad"))
    return g_strdup_printf ("Invalid commit_strategy: %s", strategy);
  el->vad = g_strcmp0 (strategy, "vad") == 0;
  if (!parse_range (query, "vad_silence_threshold_secs", 0.3, 3.0, &el->vad_silence))
    return g_strdup ("vad_silence_threshold_secs must be between 0.3 and 3.0");
  if (!parse_range (query, "vad_threshold", 0.1, 0.9, &el->vad_threshold))
    return g_strdup ("vad_threshold must be between 0.1 and 0.9");
  if (!parse_range (query, "min_speech_duration_ms", 50, 2000, &min_speech) ||
      !parse_range (query, "min_silence_duration_ms", 50, 2000, &min_silence))
    return g_strdup ("min_speech_duration_ms and min_silence_duration_ms must be between "
        "50 and 2000");
  el->min_speech_ms = (guint) min_speech;
  el->min_silence_ms = (guint) min_silence;
  if (!parse_bool (query, "include_timestamps", &el->timestamps) ||
      !parse_bool (query, "include_language_detection", &el->language_detection) ||
      !parse_bool (query, "enable_logging", &el->logging))
    return g_strdup ("include_timestamps, include_language_detection and enable_logging "
        "take true or false");
  el->language = g_strdup (g_hash_table_lookup (query, "language_code"));
  return NULL;
}

static guint
elevenlabs_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  const gchar *key = soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "xi-api-key");
  const gchar *token = g_hash_table_lookup (query, "token");
  ElevenLabs *el;
  guint rate = 0;

  /* A single-use token authenticates on its own (the SDK then sends no key). */
  if (api_key != NULL && g_strcmp0 (key, api_key) != 0 && g_strcmp0 (token, api_key) != 0) {
    *message = g_strdup (key == NULL && token == NULL ? "missing_api_key" :
        "invalid_api_key");
    return SOUP_STATUS_UNAUTHORIZED;
  }

  el = g_new0 (ElevenLabs, 1);
  el->session_id = g_uuid_string_random ();
  el->vad_silence = DEFAULT_VAD_SILENCE;
  el->vad_threshold = DEFAULT_VAD_THRESHOLD;
  el->logging = TRUE;
  el->invalid = check_query (query, el, &rate);
  /* A rejected session still needs a rate to open with. */
  accept->rate = rate ? rate : 16000;
  accept->state = el;
  return 0;
}

/* Like the REST API: {"detail": {"status", "message"}}. */
static void
elevenlabs_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();
  gchar *body;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_object (json, "detail");
  stt_test_json_add_string (json, "status", status == SOUP_STATUS_UNAUTHORIZED ? message :
      "error");
  stt_test_json_add_string (json, "message", g_str_equal (message, "missing_api_key") ?
      "Missing API key" : g_str_equal (message, "invalid_api_key") ? "Invalid API key" :
      message);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- messages ------------------------------------------------------------------------ */

/* An error message ends the session: then the close. */
static void
fail (SttTestConn * conn, const gchar * type, const gchar * error)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message_type", type);
  stt_test_json_add_string (json, "error", error);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, type);
}

static void
send_session_started (SttTestConn * conn)
{
  ElevenLabs *el = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message_type", "session_started");
  stt_test_json_add_string (json, "session_id", el->session_id);
  stt_test_json_begin_object (json, "config");
  stt_test_json_add_int (json, "sample_rate", stt_test_conn_get_rate (conn));
  stt_test_json_add_string (json, "audio_format", el->audio_format);
  stt_test_json_add_string (json, "language_code", el->language);
  stt_test_json_add_string (json, "commit_strategy", el->vad ? "vad" : "manual");
  stt_test_json_add_double (json, "vad_silence_threshold_secs", el->vad_silence);
  stt_test_json_add_double (json, "vad_threshold", el->vad_threshold);
  stt_test_json_add_int (json, "min_speech_duration_ms", el->min_speech_ms);
  stt_test_json_add_int (json, "min_silence_duration_ms", el->min_silence_ms);
  stt_test_json_add_string (json, "model_id", MODEL);
  stt_test_json_add_boolean (json, "enable_logging", el->logging);
  stt_test_json_add_boolean (json, "include_timestamps", el->timestamps);
  stt_test_json_add_boolean (json, "include_language_detection", el->language_detection);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static gchar *
join_words (const SttTestAnalyzerResult * r)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < r->n_words; i++) {
    if (i > 0)
      g_string_append_c (s, ' ');
    g_string_append (s, r->words[i].text);
  }
  return g_string_free (s, FALSE);
}

static void
send_text_message (SttTestConn * conn, const gchar * type, const gchar * text)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message_type", type);
  stt_test_json_add_string (json, "text", text);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
add_word (SttTestJson * json, const gchar * text, gdouble start, gdouble end,
    const gchar * type, gdouble logprob)
{
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "text", text);
  stt_test_json_add_double (json, "start", start);
  stt_test_json_add_double (json, "end", end);
  stt_test_json_add_string (json, "type", type);
  stt_test_json_add_double (json, "logprob", logprob);
  stt_test_json_end_object (json);
}

/* A commit's answer: the text, then (include_timestamps) the text with its words and the
 * spacing between them, in seconds since the session's first audio. */
static void
send_committed (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  ElevenLabs *el = stt_test_conn_get_state (conn);
  g_autofree gchar *text = join_words (r);
  SttTestJson *json;
  guint i;

  send_text_message (conn, "committed_transcript", text);
  if (!el->timestamps)
    return;
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message_type", "committed_transcript_with_timestamps");
  stt_test_json_add_string (json, "text", text);
  stt_test_json_add_string (json, "language_code", el->language ? el->language : "en");
  stt_test_json_begin_array (json, "words");
  for (i = 0; i < r->n_words; i++) {
    if (i > 0)
      add_word (json, " ", r->words[i - 1].end, r->words[i].start, "spacing", 0.0);
    add_word (json, r->words[i].text, r->words[i].start, r->words[i].end, "word",
        log (r->words[i].confidence));
  }
  stt_test_json_end_array (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* --- hooks --------------------------------------------------------------------------- */

static void
elevenlabs_on_open (SttTestConn * conn)
{
  ElevenLabs *el = stt_test_conn_get_state (conn);
  SttTestAnalyzer *analyzer = stt_test_conn_get_analyzer (conn);

  if (el->invalid) {
    fail (conn, "invalid_request", el->invalid);
    return;
  }
  /* Manual: segments end only on commit. */
  stt_test_analyzer_set_endpointing (analyzer, el->vad ?
      (guint) (el->vad_silence * 1000 + 0.5) : 0);
  stt_test_analyzer_set_interim_interval (analyzer, INTERIM_INTERVAL_MS);
  send_session_started (conn);
}

static void
elevenlabs_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  fail (conn, "input_error", "Audio is sent as input_audio_chunk text messages");
}

/* The protocol has no end message: clients end with a commit, so every commit counts as
 * one for CLOSE_AT_END. The chunk's audio (above) was taken first, like any audio. */
static void
commit_received (SttTestConn * conn)
{
  if (!stt_test_conn_end_received (conn))
    stt_test_conn_finalize (conn);
}

static const gchar *
member_string (JsonObject * o, const gchar * name, gboolean * ok)
{
  JsonNode *n = json_object_get_member (o, name);

  *ok = n == NULL || JSON_NODE_HOLDS_NULL (n) || (JSON_NODE_HOLDS_VALUE (n)
      && json_node_get_value_type (n) == G_TYPE_STRING);
  return n && *ok && !JSON_NODE_HOLDS_NULL (n) ? json_node_get_string (n) : NULL;
}

static void
elevenlabs_on_text (SttTestConn * conn, const gchar * text)
{
  ElevenLabs *el = stt_test_conn_get_state (conn);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree guint8 *audio = NULL;
  g_autofree gchar *error = NULL;
  JsonObject *o = NULL;
  JsonNode *root, *node;
  const gchar *type, *b64, *previous;
  gboolean ok = TRUE, ok_audio, ok_previous, commit = FALSE;
  gsize size = 0;

  if (json_parser_load_from_data (parser, text, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    o = json_node_get_object (root);
  if (o == NULL) {
    fail (conn, "input_error", "Messages are JSON objects");
    return;
  }
  type = member_string (o, "message_type", &ok);
  /* The skills docs show a bare {"message_type":"commit"}; the SDK sends a chunk. */
  if (ok && g_strcmp0 (type, "commit") == 0) {
    commit_received (conn);
    return;
  }
  if (!ok || g_strcmp0 (type, "input_audio_chunk") != 0) {
    error = g_strdup_printf ("Unknown message_type: %.64s", ok && type ? type : "?");
    fail (conn, "input_error", error);
    return;
  }
  b64 = member_string (o, "audio_base_64", &ok_audio);
  previous = member_string (o, "previous_text", &ok_previous);
  if (!ok_audio || b64 == NULL) {
    fail (conn, "input_error", "audio_base_64 is required");
    return;
  }
  if (!ok_previous || (previous != NULL && el->chunks > 0)) {
    fail (conn, "input_error", "previous_text can only be sent with the first chunk");
    return;
  }
  if ((node = json_object_get_member (o, "commit")) != NULL) {
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
      fail (conn, "input_error", "commit is a boolean");
      return;
    }
    commit = json_node_get_boolean (node);
  }
  if ((node = json_object_get_member (o, "sample_rate")) != NULL && (!JSON_NODE_HOLDS_VALUE
          (node) || json_node_get_value_type (node) != G_TYPE_INT64
          || json_node_get_int (node) != stt_test_conn_get_rate (conn))) {
    error = g_strdup_printf ("sample_rate does not match audio_format %s",
        el->audio_format);
    fail (conn, "input_error", error);
    return;
  }
  if (*b64) {
    audio = g_base64_decode (b64, &size);
    if (size == 0 || size % 2 != 0) {
      fail (conn, "input_error", "audio_base_64 is not 16-bit PCM in base64");
      return;
    }
  }
  el->chunks++;
  if (size > 0 && !stt_test_conn_push_audio (conn, audio, size))
    return;
  if (commit)
    commit_received (conn);
}

static void
elevenlabs_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  g_autofree gchar *text = NULL;

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      break;
    case STT_TEST_ANALYZER_PARTIAL:
      text = join_words (r);
      send_text_message (conn, "partial_transcript", text);
      break;
    case STT_TEST_ANALYZER_FINAL:
      /* Every commit is answered, an empty one too (the VAD only commits speech). */
      send_committed (conn, r);
      break;
  }
}

const SttTestProtocol stt_test_protocol_elevenlabs = {
  .name = "elevenlabs",
  .path = "/v1/speech-to-text/realtime",
  .subprotocols = NULL,
  /* Idle closes are not documented. */
  .default_idle_timeout_ms = 0,
  .handshake = elevenlabs_handshake,
  .refuse = elevenlabs_refuse,
  .on_open = elevenlabs_on_open,
  .on_binary = elevenlabs_on_binary,
  .on_text = elevenlabs_on_text,
  .on_result = elevenlabs_on_result,
  .on_idle = NULL,
  .on_tick = NULL,
  .free_state = elevenlabs_free,
};
