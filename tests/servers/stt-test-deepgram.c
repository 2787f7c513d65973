/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-deepgram: Deepgram listen v1 live (wss://api.deepgram.com/v1/listen).
 *
 * Facts: shared/providers.md section 1, checked against @deepgram/sdk 5.13 (ListenV1Results,
 * ListenV1Metadata, ListenV1UtteranceEnd, ListenV1SpeechStarted, the Token/Bearer auth
 * wrappers of CustomClient) and developers.deepgram.com (close-stream,
 * stt-troubleshooting-websocket-data-and-net-errors). Choices where the service's behaviour
 * is not documented are listed in README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

#define DEFAULT_ENDPOINTING_MS 300
#define INTERIM_INTERVAL_MS 250
#define IDLE_TIMEOUT_MS 10000
#define MODEL_VERSION "2025-01-01.0"
#define IDLE_REASON "Deepgram did not receive audio data or a text message within the " \
    "timeout window. See https://dpgr.am/net0001"

typedef struct
{
  gchar *request_id;
  gchar *model;
  gchar *model_uuid;
  gboolean interim;
  guint endpointing_ms;         /* 0 = endpointing=false */
  guint utterance_end_ms;       /* 0 = no UtteranceEnd */
  gboolean vad_events;
  GChecksum *sha256;
  gdouble last_word_end;
  gboolean utterance_pending;   /* a word ended after the last UtteranceEnd */
} Deepgram;

static void
deepgram_free (gpointer data)
{
  Deepgram *dg = data;

  g_free (dg->request_id);
  g_free (dg->model);
  g_free (dg->model_uuid);
  g_checksum_free (dg->sha256);
  g_free (dg);
}

/* --- handshake ----------------------------------------------------------------------- */

static gboolean
credential_matches (const gchar * credential, const gchar * key)
{
  while (*credential == ' ')
    credential++;
  return g_str_equal (credential, key);
}

/* "Authorization: Token <key>" / "Bearer <token>", or, for browsers, the sub-protocols
 * "token, <key>" / "bearer, <token>". The test server takes the same secret for both. */
static gboolean
credentials_ok (SoupMessageHeaders * headers, const gchar * key)
{
  const gchar *auth = soup_message_headers_get_one (headers, "Authorization");
  const gchar *protocols;
  g_auto (GStrv) items = NULL;

  if (auth != NULL) {
    if (g_ascii_strncasecmp (auth, "Token ", 6) == 0)
      return credential_matches (auth + 6, key);
    if (g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
      return credential_matches (auth + 7, key);
    return FALSE;
  }

  protocols = soup_message_headers_get_list (headers, "Sec-WebSocket-Protocol");
  if (protocols == NULL)
    return FALSE;
  items = g_strsplit (protocols, ",", 3);
  if (g_strv_length (items) != 2)
    return FALSE;
  g_strstrip (items[0]);
  if (g_ascii_strcasecmp (items[0], "token") != 0 &&
      g_ascii_strcasecmp (items[0], "bearer") != 0)
    return FALSE;
  return g_str_equal (g_strstrip (items[1]), key);
}

/* Parses a non-negative integer query value. */
static gboolean
parse_uint (const gchar * value, guint * result)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT, &v, NULL))
    return FALSE;
  *result = (guint) v;
  return TRUE;
}

static gboolean
parse_bool (const gchar * value, gboolean * result)
{
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

/* A stable UUID-looking id for a model name. */
static gchar *
model_uuid (const gchar * model)
{
  g_autofree gchar *hex = g_compute_checksum_for_string (G_CHECKSUM_MD5, model, -1);

  return g_strdup_printf ("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
      hex + 20);
}

static guint
deepgram_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  const gchar *model = g_hash_table_lookup (query, "model");
  const gchar *encoding = g_hash_table_lookup (query, "encoding");
  const gchar *sample_rate = g_hash_table_lookup (query, "sample_rate");
  const gchar *channels = g_hash_table_lookup (query, "channels");
  const gchar *endpointing = g_hash_table_lookup (query, "endpointing");
  const gchar *utterance_end = g_hash_table_lookup (query, "utterance_end_ms");
  g_autofree gchar *request_id = g_uuid_string_random ();
  gboolean interim = FALSE, vad_events = FALSE;
  guint rate = 0, endpointing_ms = DEFAULT_ENDPOINTING_MS, utterance_end_ms = 0;
  Deepgram *dg;

  soup_message_headers_replace (response, "dg-request-id", request_id);

  if (api_key != NULL &&
      !credentials_ok (soup_server_message_get_request_headers (msg), api_key))
    goto unauthorized;

  if (model == NULL || *model == '\0') {
    *message = g_strdup ("Missing required query parameter: model.");
    goto bad_request;
  }
  if (encoding == NULL) {
    *message = g_strdup ("This test server needs raw audio: set encoding=linear16.");
    goto bad_request;
  }
  if (!g_str_equal (encoding, "linear16")) {
    *message = g_strdup_printf ("Unsupported encoding: %s.", encoding);
    goto bad_request;
  }
  if (sample_rate == NULL) {
    *message = g_strdup ("sample_rate is required when encoding is set.");
    goto bad_request;
  }
  if (!parse_uint (sample_rate, &rate) || rate == 0) {
    *message = g_strdup_printf ("Invalid sample_rate: %s.", sample_rate);
    goto bad_request;
  }
  if (channels != NULL && !g_str_equal (channels, "1")) {
    *message = g_strdup_printf ("Unsupported channels: %s (mono only).", channels);
    goto bad_request;
  }
  if (!parse_bool (g_hash_table_lookup (query, "interim_results"), &interim) ||
      !parse_bool (g_hash_table_lookup (query, "vad_events"), &vad_events)) {
    *message = g_strdup ("interim_results and vad_events take true or false.");
    goto bad_request;
  }
  if (endpointing != NULL && g_str_equal (endpointing, "false")) {
    endpointing_ms = 0;
  } else if (endpointing != NULL && !g_str_equal (endpointing, "true")) {
    if (!parse_uint (endpointing, &endpointing_ms)) {
      *message = g_strdup_printf ("Invalid endpointing: %s.", endpointing);
      goto bad_request;
    }
    /* The analyzer reads 0 as "never"; a word ends after 50 ms of silence anyway. */
    endpointing_ms = MAX (endpointing_ms, 1);
  }
  if (utterance_end != NULL && (!parse_uint (utterance_end, &utterance_end_ms) ||
          utterance_end_ms == 0)) {
    *message = g_strdup_printf ("Invalid utterance_end_ms: %s.", utterance_end);
    goto bad_request;
  }

  dg = g_new0 (Deepgram, 1);
  dg->request_id = g_steal_pointer (&request_id);
  dg->model = g_strdup (model);
  dg->model_uuid = model_uuid (model);
  dg->interim = interim;
  dg->endpointing_ms = endpointing_ms;
  /* Deepgram documents utterance_end_ms as needing interim_results=true. */
  dg->utterance_end_ms = interim ? utterance_end_ms : 0;
  dg->vad_events = vad_events;
  dg->sha256 = g_checksum_new (G_CHECKSUM_SHA256);
  accept->rate = rate;
  accept->state = dg;
  return 0;

  /* ERRORS */
unauthorized:
  *message = g_strdup ("Invalid credentials.");
  return SOUP_STATUS_UNAUTHORIZED;
bad_request:
  return SOUP_STATUS_BAD_REQUEST;
}

static const gchar *
error_code (guint status)
{
  switch (status) {
    case SOUP_STATUS_UNAUTHORIZED:
      return "INVALID_AUTH";
    case SOUP_STATUS_BAD_REQUEST:
      return "Bad Request";
    case 429:                  /* no SOUP_STATUS_ name in libsoup 3.2 */
      return "TOO_MANY_REQUESTS";
    default:
      return soup_status_get_phrase (status);
  }
}

/* Like the service: a JSON body, and the reason in the dg-error header too. */
static void
deepgram_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  g_autofree gchar *request_id = NULL;
  SttTestJson *json;
  gchar *body;

  if (soup_message_headers_get_one (response, "dg-request-id") == NULL) {
    request_id = g_uuid_string_random ();
    soup_message_headers_replace (response, "dg-request-id", request_id);
  }
  soup_message_headers_replace (response, "dg-error", message);

  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "err_code", error_code (status));
  stt_test_json_add_string (json, "err_msg", message);
  stt_test_json_add_string (json, "request_id",
      soup_message_headers_get_one (response, "dg-request-id"));
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- messages ------------------------------------------------------------------------ */

static void
add_model_info (SttTestJson * json, const gchar * key, Deepgram * dg)
{
  g_autofree gchar *name = g_strdup_printf ("general-%s", dg->model);

  stt_test_json_begin_object (json, key);
  stt_test_json_add_string (json, "name", name);
  stt_test_json_add_string (json, "version", MODEL_VERSION);
  stt_test_json_add_string (json, "arch", dg->model);
  stt_test_json_end_object (json);
}

static void
send_results (SttTestConn * conn, const SttTestAnalyzerResult * r, gboolean speech_final)
{
  Deepgram *dg = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  GString *transcript = g_string_new (NULL);
  gdouble confidence = 0.0;
  guint i;

  for (i = 0; i < r->n_words; i++) {
    if (i > 0)
      g_string_append_c (transcript, ' ');
    g_string_append (transcript, r->words[i].text);
    confidence += r->words[i].confidence;
  }
  if (r->n_words > 0)
    confidence /= r->n_words;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "Results");
  stt_test_json_begin_array (json, "channel_index");
  stt_test_json_add_int (json, NULL, 0);
  stt_test_json_add_int (json, NULL, 1);
  stt_test_json_end_array (json);
  stt_test_json_add_double (json, "duration", r->end - r->start);
  stt_test_json_add_double (json, "start", r->start);
  stt_test_json_add_boolean (json, "is_final", r->is_final);
  stt_test_json_add_boolean (json, "speech_final", speech_final);
  stt_test_json_add_boolean (json, "from_finalize", r->from_finalize);
  stt_test_json_begin_object (json, "channel");
  stt_test_json_begin_array (json, "alternatives");
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "transcript", transcript->str);
  stt_test_json_add_double (json, "confidence", confidence);
  stt_test_json_begin_array (json, "words");
  for (i = 0; i < r->n_words; i++) {
    stt_test_json_begin_object (json, NULL);
    stt_test_json_add_string (json, "word", r->words[i].text);
    stt_test_json_add_double (json, "start", r->words[i].start);
    stt_test_json_add_double (json, "end", r->words[i].end);
    stt_test_json_add_double (json, "confidence", r->words[i].confidence);
    stt_test_json_add_string (json, "punctuated_word", r->words[i].text);
    stt_test_json_end_object (json);
  }
  stt_test_json_end_array (json);
  stt_test_json_end_object (json);
  stt_test_json_end_array (json);
  stt_test_json_end_object (json);
  stt_test_json_begin_object (json, "metadata");
  stt_test_json_add_string (json, "request_id", dg->request_id);
  add_model_info (json, "model_info", dg);
  stt_test_json_add_string (json, "model_uuid", dg->model_uuid);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);

  g_string_free (transcript, TRUE);
  stt_test_conn_send_json (conn, json);
}

static void
send_speech_started (SttTestConn * conn, gdouble timestamp)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "SpeechStarted");
  stt_test_json_begin_array (json, "channel");
  stt_test_json_add_int (json, NULL, 0);
  stt_test_json_end_array (json);
  stt_test_json_add_double (json, "timestamp", timestamp);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* UtteranceEnd once the audio has gone utterance_end_ms past the last word's end. */
static void
check_utterance_end (SttTestConn * conn)
{
  Deepgram *dg = stt_test_conn_get_state (conn);
  SttTestJson *json;

  if (dg->utterance_end_ms == 0 || !dg->utterance_pending ||
      stt_test_conn_get_audio_seconds (conn) <
      dg->last_word_end + dg->utterance_end_ms / 1000.0)
    return;

  dg->utterance_pending = FALSE;
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "UtteranceEnd");
  stt_test_json_begin_array (json, "channel");
  stt_test_json_add_int (json, NULL, 0);
  stt_test_json_add_int (json, NULL, 1);
  stt_test_json_end_array (json);
  stt_test_json_add_double (json, "last_word_end", dg->last_word_end);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
send_metadata (SttTestConn * conn)
{
  Deepgram *dg = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  g_autofree gchar *created = g_strdup_printf ("%s.%03dZ", seconds,
      g_date_time_get_microsecond (now) / 1000);

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", "Metadata");
  stt_test_json_add_string (json, "transaction_key", "deprecated");
  stt_test_json_add_string (json, "request_id", dg->request_id);
  stt_test_json_add_string (json, "sha256", g_checksum_get_string (dg->sha256));
  stt_test_json_add_string (json, "created", created);
  stt_test_json_add_double (json, "duration", stt_test_conn_get_audio_seconds (conn));
  stt_test_json_add_int (json, "channels", 1);
  stt_test_json_begin_array (json, "models");
  stt_test_json_add_string (json, NULL, dg->model_uuid);
  stt_test_json_end_array (json);
  stt_test_json_begin_object (json, "model_info");
  add_model_info (json, dg->model_uuid, dg);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* CloseStream (or the legacy empty binary frame): flush, Metadata, close 1000. */
static void
close_stream (SttTestConn * conn)
{
  if (stt_test_conn_end_received (conn))
    return;
  stt_test_conn_finalize (conn);
  send_metadata (conn);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* --- hooks --------------------------------------------------------------------------- */

static void
deepgram_on_open (SttTestConn * conn)
{
  Deepgram *dg = stt_test_conn_get_state (conn);
  SttTestAnalyzer *analyzer = stt_test_conn_get_analyzer (conn);

  stt_test_analyzer_set_endpointing (analyzer, dg->endpointing_ms);
  stt_test_analyzer_set_interim_interval (analyzer, dg->interim ? INTERIM_INTERVAL_MS : 0);
}

static void
deepgram_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  Deepgram *dg = stt_test_conn_get_state (conn);

  if (size == 0) {
    close_stream (conn);
    return;
  }
  g_checksum_update (dg->sha256, data, size);
  if (stt_test_conn_push_audio (conn, data, size))
    check_utterance_end (conn);
}

static void
deepgram_on_text (SttTestConn * conn, const gchar * text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root, *type_node = NULL;
  const gchar *type = NULL;
  g_autofree gchar *reason = NULL;

  if (json_parser_load_from_data (parser, text, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    type_node = json_object_get_member (json_node_get_object (root), "type");
  if (type_node != NULL && json_node_get_value_type (type_node) == G_TYPE_STRING)
    type = json_node_get_string (type_node);

  if (type == NULL) {
    stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
        "Could not parse the text message: expected a JSON object with a type.");
  } else if (g_str_equal (type, "KeepAlive")) {
    /* No reply: it only resets the idle timer. */
  } else if (g_str_equal (type, "Finalize")) {
    stt_test_conn_finalize (conn);
  } else if (g_str_equal (type, "CloseStream")) {
    close_stream (conn);
  } else {
    reason = g_strdup_printf ("Unknown message type: %.64s", type);
    stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, reason);
  }
}

static void
deepgram_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  Deepgram *dg = stt_test_conn_get_state (conn);
  guint i;

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      if (dg->vad_events)
        send_speech_started (conn, r->start);
      return;
    case STT_TEST_ANALYZER_PARTIAL:
      if (!dg->interim)
        return;
      send_results (conn, r, FALSE);
      break;
    case STT_TEST_ANALYZER_FINAL:
      /* speech_final marks an endpoint; a Finalize flush is from_finalize instead. */
      send_results (conn, r, !r->from_finalize);
      break;
  }

  for (i = 0; i < r->n_words; i++)
    if (r->words[i].end > dg->last_word_end) {
      dg->last_word_end = r->words[i].end;
      dg->utterance_pending = TRUE;
    }
}

static void
deepgram_on_idle (SttTestConn * conn)
{
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, IDLE_REASON);
}

static const gchar *const deepgram_subprotocols[] = { "token", "bearer", NULL };

const SttTestProtocol stt_test_protocol_deepgram = {
  .name = "deepgram",
  .path = "/v1/listen",
  .subprotocols = deepgram_subprotocols,
  .default_idle_timeout_ms = IDLE_TIMEOUT_MS,
  .handshake = deepgram_handshake,
  .refuse = deepgram_refuse,
  .on_open = deepgram_on_open,
  .on_binary = deepgram_on_binary,
  .on_text = deepgram_on_text,
  .on_result = deepgram_on_result,
  .on_idle = deepgram_on_idle,
  .on_tick = NULL,
  .free_state = deepgram_free,
};
