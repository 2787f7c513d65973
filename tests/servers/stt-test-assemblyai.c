/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-assemblyai: AssemblyAI Universal Streaming v3 (wss://streaming.assemblyai.com/v3/ws).
 *
 * Facts: shared/providers.md section 2, checked against the assemblyai npm SDK 4.x
 * (src/services/streaming/service.ts, src/types/streaming, src/utils/errors/streaming.ts)
 * and AssemblyAI/assemblyai-api-spec (universalStreaming.yml, common-errors.mdx,
 * universal-streaming-messages.mdx). Choices where the service's behaviour is not
 * documented are listed in README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

#define DEFAULT_MIN_TURN_SILENCE_MS 400
#define INTERIM_INTERVAL_MS 250
#define MIN_FRAME_MS 50
#define MAX_FRAME_MS 1000
/* Audio may run this far ahead of the wall clock since the connection opened. */
#define RATE_TOLERANCE_S 1.0
#define SESSION_SECONDS (3 * 3600)

typedef struct
{
  gchar *id;
  gboolean authorized;          /* FALSE: no credentials at all (close 1008 once open) */
  gboolean format_turns;
  guint min_turn_silence_ms;
  guint inactivity_timeout_s;   /* 0 = none */
  gint64 opened;                /* monotonic, us */
  gint64 last_message;
  guint turn_order;
  gboolean terminated;
} AssemblyAI;

static void
assemblyai_free (gpointer data)
{
  AssemblyAI *aai = data;

  g_free (aai->id);
  g_free (aai);
}

/* --- handshake ----------------------------------------------------------------------- */

static gboolean
parse_uint (const gchar * value, guint64 min, guint64 max, guint * result)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (value, 10, min, max, &v, NULL))
    return FALSE;
  *result = (guint) v;
  return TRUE;
}

static gboolean
parse_unit_interval (const gchar * value)
{
  gchar *end = NULL;
  gdouble v;

  if (value == NULL)
    return TRUE;
  v = g_ascii_strtod (value, &end);
  return end != value && *end == '\0' && v >= 0.0 && v <= 1.0;
}

static guint
assemblyai_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  static const gchar *const models[] = { "universal-streaming-english",
    "universal-streaming-multilingual", "u3-rt-pro", "u3-rt-pro-beta-1", "whisper-rt",
    "universal-3-5-pro", "universal-3-6", "universal-3-6-pro", "u3-pro", NULL
  };
  const gchar *auth = soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "Authorization");
  const gchar *token = g_hash_table_lookup (query, "token");
  const gchar *sample_rate = g_hash_table_lookup (query, "sample_rate");
  const gchar *encoding = g_hash_table_lookup (query, "encoding");
  const gchar *model = g_hash_table_lookup (query, "speech_model");
  const gchar *format = g_hash_table_lookup (query, "format_turns");
  const gchar *min_silence = g_hash_table_lookup (query, "min_turn_silence");
  const gchar *max_silence = g_hash_table_lookup (query, "max_turn_silence");
  const gchar *inactivity = g_hash_table_lookup (query, "inactivity_timeout");
  guint rate = 0, min_turn_silence = DEFAULT_MIN_TURN_SILENCE_MS, unused = 0,
      inactivity_s = 0;
  AssemblyAI *aai;

  /* A key in the header, or a temporary token in the query (the Python SDK sends it in
   * the header too). No credentials at all is answered after the upgrade (close 1008). */
  if (api_key != NULL && (auth != NULL || token != NULL)
      && g_strcmp0 (auth, api_key) != 0 && g_strcmp0 (token, api_key) != 0)
    goto unauthorized;

  if (sample_rate == NULL) {
    *message = g_strdup ("sample_rate is required");
    goto bad_request;
  }
  if (!parse_uint (sample_rate, 1, 192000, &rate)) {
    *message = g_strdup_printf ("Invalid sample_rate: %s", sample_rate);
    goto bad_request;
  }
  if (encoding != NULL && !g_str_equal (encoding, "pcm_s16le")) {
    *message = g_strdup_printf (g_str_equal (encoding, "pcm_mulaw") ?
        "This test server only decodes pcm_s16le, not %s" : "Invalid encoding: %s",
        encoding);
    goto bad_request;
  }
  if (model != NULL && !g_strv_contains (models, model)) {
    *message = g_strdup_printf ("Invalid speech_model: %s", model);
    goto bad_request;
  }
  if (format != NULL && !g_str_equal (format, "true") && !g_str_equal (format, "false")) {
    *message = g_strdup_printf ("Invalid format_turns: %s", format);
    goto bad_request;
  }
  if ((min_silence && !parse_uint (min_silence, 0, 60000, &min_turn_silence))
      || (max_silence && !parse_uint (max_silence, 0, 60000, &unused))) {
    *message = g_strdup ("min_turn_silence and max_turn_silence are milliseconds");
    goto bad_request;
  }
  if (inactivity && !parse_uint (inactivity, 5, 3600, &inactivity_s)) {
    *message = g_strdup_printf ("inactivity_timeout must be 5 to 3600 s: %s", inactivity);
    goto bad_request;
  }
  if (!parse_unit_interval (g_hash_table_lookup (query, "end_of_turn_confidence_threshold"))
      || !parse_unit_interval (g_hash_table_lookup (query, "vad_threshold"))) {
    *message = g_strdup ("end_of_turn_confidence_threshold and vad_threshold are 0 to 1");
    goto bad_request;
  }

  aai = g_new0 (AssemblyAI, 1);
  aai->id = g_uuid_string_random ();
  aai->authorized = api_key == NULL || auth != NULL || token != NULL;
  aai->format_turns = g_strcmp0 (format, "true") == 0;
  aai->min_turn_silence_ms = MAX (min_turn_silence, 1);
  aai->inactivity_timeout_s = inactivity_s;
  accept->rate = rate;
  accept->state = aai;
  return 0;

  /* ERRORS */
unauthorized:
  *message = g_strdup ("Authentication error, API token missing/invalid");
  return SOUP_STATUS_UNAUTHORIZED;
bad_request:
  return SOUP_STATUS_BAD_REQUEST;
}

/* Like the REST API: {"error": "..."}. */
static void
assemblyai_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();
  gchar *body;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "error", message);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- messages ------------------------------------------------------------------------ */

/* An `Error` message, then the close with the same code: how the service ends a session
 * it refuses. */
static void
fail (SttTestConn * conn, gushort code, const gchar * reason)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "Error");
  stt_test_json_add_int (json, "error_code", code);
  stt_test_json_add_string (json, "error", reason);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  stt_test_conn_close (conn, code, reason);
}

/* Formatting, deterministic: a capital first letter and a full stop. */
static gchar *
format_word (const gchar * text, gboolean first, gboolean last)
{
  GString *s = g_string_new (text);

  if (first && s->len > 0)
    s->str[0] = g_ascii_toupper (s->str[0]);
  if (last)
    g_string_append_c (s, '.');
  return g_string_free (s, FALSE);
}

static void
send_turn (SttTestConn * conn, const SttTestAnalyzerResult * r, gboolean end_of_turn,
    gboolean formatted)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  GString *transcript = g_string_new (NULL);
  guint i, n_final = r->n_words;

  /* The word still sounding at the end of a partial is not final yet. */
  if (!end_of_turn && r->n_words > 0
      && r->end - r->words[r->n_words - 1].end < MIN_FRAME_MS / 1000.0 - 1e-6)
    n_final--;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_int (json, "turn_order", aai->turn_order);
  stt_test_json_add_boolean (json, "turn_is_formatted", formatted);
  stt_test_json_add_boolean (json, "end_of_turn", end_of_turn);
  for (i = 0; i < n_final; i++) {
    g_autofree gchar *text = formatted ? format_word (r->words[i].text, i == 0,
        i + 1 == r->n_words) : g_strdup (r->words[i].text);

    if (i > 0)
      g_string_append_c (transcript, ' ');
    g_string_append (transcript, text);
  }
  stt_test_json_add_string (json, "transcript", transcript->str);
  stt_test_json_add_double (json, "end_of_turn_confidence", end_of_turn ? 0.9 : 0.01);
  stt_test_json_begin_array (json, "words");
  for (i = 0; i < r->n_words; i++) {
    g_autofree gchar *text = formatted ? format_word (r->words[i].text, i == 0,
        i + 1 == r->n_words) : g_strdup (r->words[i].text);

    stt_test_json_begin_object (json, NULL);
    stt_test_json_add_int (json, "start", (gint64) floor (r->words[i].start * 1000 + 0.5));
    stt_test_json_add_int (json, "end", (gint64) floor (r->words[i].end * 1000 + 0.5));
    stt_test_json_add_string (json, "text", text);
    stt_test_json_add_double (json, "confidence", r->words[i].confidence);
    stt_test_json_add_boolean (json, "word_is_final", i < n_final);
    stt_test_json_end_object (json);
  }
  stt_test_json_end_array (json);
  /* The utterance is given once, when it ends (here: with the unformatted end of turn). */
  if (end_of_turn && !formatted) {
    g_autofree gchar *utterance = g_strdup (transcript->str);

    if (*utterance)
      utterance[0] = g_ascii_toupper (utterance[0]);
    stt_test_json_add_string (json, "utterance", utterance);
  } else {
    stt_test_json_add_string (json, "utterance", "");
  }
  stt_test_json_add_string (json, "type", "Turn");
  stt_test_json_end_object (json);
  g_string_free (transcript, TRUE);
  stt_test_conn_send_json (conn, json);
}

static void
send_begin (SttTestConn * conn)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "Begin");
  stt_test_json_add_string (json, "id", aai->id);
  stt_test_json_add_int (json, "expires_at", g_get_real_time () / G_USEC_PER_SEC +
      SESSION_SECONDS);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* Terminate: the open turn ends, then Termination, then close 1000. */
static void
terminate (SttTestConn * conn)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  SttTestJson *json;

  aai->terminated = TRUE;
  stt_test_conn_finalize (conn);
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "Termination");
  stt_test_json_add_int (json, "audio_duration_seconds",
      (gint64) stt_test_conn_get_audio_seconds (conn));
  stt_test_json_add_int (json, "session_duration_seconds",
      (g_get_monotonic_time () - aai->opened) / G_USEC_PER_SEC);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* --- hooks --------------------------------------------------------------------------- */

static void
assemblyai_on_open (SttTestConn * conn)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  SttTestAnalyzer *analyzer = stt_test_conn_get_analyzer (conn);

  aai->opened = aai->last_message = g_get_monotonic_time ();
  if (!aai->authorized) {
    fail (conn, 1008, "Unauthorized Connection: Missing Authorization header");
    return;
  }
  stt_test_analyzer_set_endpointing (analyzer, aai->min_turn_silence_ms);
  stt_test_analyzer_set_interim_interval (analyzer, INTERIM_INTERVAL_MS);
  send_begin (conn);
}

static void
assemblyai_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  guint rate = stt_test_conn_get_rate (conn);
  gdouble ms = size / 2 * 1000.0 / rate;
  gdouble elapsed = (g_get_monotonic_time () - aai->opened) / (gdouble) G_USEC_PER_SEC;
  gdouble audio = stt_test_conn_get_audio_seconds (conn) + size / 2 / (gdouble) rate;
  g_autofree gchar *reason = NULL;

  aai->last_message = g_get_monotonic_time ();
  if (aai->terminated)
    return;
  if (ms < MIN_FRAME_MS - 1e-6 || ms > MAX_FRAME_MS + 1e-6) {
    reason = g_strdup_printf ("Input duration violation: %.0f ms. Expected between %d "
        "and %d ms", ms, MIN_FRAME_MS, MAX_FRAME_MS);
    fail (conn, 3007, reason);
    return;
  }
  if (audio > elapsed + RATE_TOLERANCE_S) {
    reason = g_strdup_printf ("Audio Transmission Rate Exceeded: Received %.1f sec. "
        "audio in %.1f sec", audio, elapsed);
    fail (conn, 3007, reason);
    return;
  }
  stt_test_conn_push_audio (conn, data, size);
}

static void
assemblyai_on_text (SttTestConn * conn, const gchar * text)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *reason = NULL;
  JsonNode *root, *type_node = NULL;
  const gchar *type = NULL;

  aai->last_message = g_get_monotonic_time ();
  if (aai->terminated)
    return;
  if (!json_parser_load_from_data (parser, text, -1, NULL)) {
    reason = g_strdup_printf ("Invalid JSON: %.64s", text);
    fail (conn, 3006, reason);
    return;
  }
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    type_node = json_object_get_member (json_node_get_object (root), "type");
  if (type_node != NULL && JSON_NODE_HOLDS_VALUE (type_node)
      && json_node_get_value_type (type_node) == G_TYPE_STRING)
    type = json_node_get_string (type_node);

  if (type == NULL) {
    reason = g_strdup_printf ("Invalid Message: %.64s", text);
    fail (conn, 3006, reason);
  } else if (g_str_equal (type, "Terminate")) {
    /* The client's end; an inactivity timeout (on_tick) ends the same way but is not. */
    if (!stt_test_conn_end_received (conn))
      terminate (conn);
  } else if (g_str_equal (type, "ForceEndpoint")) {
    stt_test_conn_finalize (conn);
  } else if (g_str_equal (type, "KeepAlive")) {
    /* Resets the inactivity timer only. */
  } else if (g_str_equal (type, "UpdateConfiguration")) {
    JsonNode *silence = json_object_get_member (json_node_get_object (root),
        "min_turn_silence");

    if (silence && JSON_NODE_HOLDS_VALUE (silence)
        && json_node_get_value_type (silence) == G_TYPE_INT64)
      stt_test_analyzer_set_endpointing (stt_test_conn_get_analyzer (conn),
          (guint) CLAMP (json_node_get_int (silence), 1, 60000));
  } else {
    reason = g_strdup_printf ("Invalid Message Type: %.64s", type);
    fail (conn, 3006, reason);
  }
}

static void
assemblyai_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);
  SttTestJson *json;

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      json = stt_test_json_new ();
      stt_test_json_begin_object (json, NULL);
      stt_test_json_add_string (json, "type", "SpeechStarted");
      stt_test_json_add_int (json, "timestamp", (gint64) floor (r->start * 1000 + 0.5));
      stt_test_json_add_double (json, "confidence", 0.9);
      stt_test_json_end_object (json);
      stt_test_conn_send_json (conn, json);
      break;
    case STT_TEST_ANALYZER_PARTIAL:
      send_turn (conn, r, FALSE, FALSE);
      break;
    case STT_TEST_ANALYZER_FINAL:
      /* ForceEndpoint with no turn open: nothing to end. */
      if (r->n_words == 0)
        return;
      send_turn (conn, r, TRUE, FALSE);
      if (aai->format_turns)
        send_turn (conn, r, TRUE, TRUE);
      aai->turn_order++;
      break;
  }
}

/* inactivity_timeout: the session ends like a Terminate. */
static void
assemblyai_on_tick (SttTestConn * conn)
{
  AssemblyAI *aai = stt_test_conn_get_state (conn);

  if (aai->inactivity_timeout_s > 0 && !aai->terminated && g_get_monotonic_time () -
      aai->last_message >= (gint64) aai->inactivity_timeout_s * G_USEC_PER_SEC)
    terminate (conn);
}

const SttTestProtocol stt_test_protocol_assemblyai = {
  .name = "assemblyai",
  .path = "/v3/ws",
  .subprotocols = NULL,
  /* No idle close unless inactivity_timeout is asked for (on_tick). */
  .default_idle_timeout_ms = 0,
  .handshake = assemblyai_handshake,
  .refuse = assemblyai_refuse,
  .on_open = assemblyai_on_open,
  .on_binary = assemblyai_on_binary,
  .on_text = assemblyai_on_text,
  .on_result = assemblyai_on_result,
  .on_idle = NULL,
  .on_tick = assemblyai_on_tick,
  .free_state = assemblyai_free,
};
