/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-soniox: Soniox real-time WebSocket API (wss://stt-rt.soniox.com/
 * transcribe-websocket).
 *
 * Facts: shared/providers.md section 4, checked against @soniox/node 2.3 (RealtimeSttSession:
 * the start request it builds, parseResultMessage, mapErrorResponse, finish() sending an
 * empty text frame, the <end>/<fin> control tokens) and soniox.com/docs (websocket-api,
 * error-handling, connection-keepalive). Choices where the service's behaviour is not
 * documented are listed in README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

#define IDLE_TIMEOUT_MS 20000
#define ENDPOINT_MS 300
#define INTERIM_INTERVAL_MS 250
/* The analyzer ends a word after 50 ms of silence: older words are complete. */
#define WORD_DONE_S 0.05
#define CONFIDENCE 0.9
/* Audio between responses while nothing is being said. */
#define IDLE_RESPONSE_MS 500

typedef struct
{
  gchar *expected_key;          /* NULL: any key */
  gchar *handshake_key;         /* the credential the handshake carried, or NULL */
  gboolean started;
  gboolean finishing;
  SttTestAnalyzer *analyzer;
  gboolean endpoints;
  gboolean diarization;
  gchar *language;              /* for tokens, with language identification; or NULL */
  guint n_final;                /* words of the open segment already sent as final */
  guint64 prior_words;          /* words of the closed segments */
  gint64 final_ms;
  gboolean open;                /* a segment is open (its partials are the responses) */
  gint64 last_response_ms;      /* audio position of the last response */
} Soniox;

static void
soniox_free (gpointer data)
{
  Soniox *sx = data;

  g_free (sx->expected_key);
  g_free (sx->handshake_key);
  g_free (sx->language);
  g_clear_pointer (&sx->analyzer, stt_test_analyzer_free);
  g_free (sx);
}

/* --- handshake ----------------------------------------------------------------------- */

/* Credentials are checked with the start request (the deprecated api_key field may carry
 * them), so every upgrade is accepted; the handshake only records what it carried:
 * `Authorization: Bearer <key>`, or the sub-protocols "soniox-api-key, <key>". */
static guint
soniox_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *auth = soup_message_headers_get_one (headers, "Authorization");
  const gchar *protocols = soup_message_headers_get_list (headers, "Sec-WebSocket-Protocol");
  Soniox *sx = g_new0 (Soniox, 1);

  sx->expected_key = g_strdup (api_key);
  if (auth != NULL) {
    /* Another scheme is a wrong credential, not a missing one. */
    if (g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
      sx->handshake_key = g_strstrip (g_strdup (auth + 7));
    else
      sx->handshake_key = g_strdup ("");
  } else if (protocols != NULL) {
    g_auto (GStrv) items = g_strsplit (protocols, ",", 3);

    if (g_strv_length (items) == 2
        && g_ascii_strcasecmp (g_strstrip (items[0]), "soniox-api-key") == 0)
      sx->handshake_key = g_strdup (g_strstrip (items[1]));
  }
  /* The rate comes with the start request. */
  accept->rate = 16000;
  accept->state = sx;
  return 0;
}

/* Handshake refusals only come from the fault controls: a JSON error like the others. */
static void
soniox_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();
  gchar *body;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_int (json, "error_code", status);
  stt_test_json_add_string (json, "error_message", message);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- messages ------------------------------------------------------------------------ */

/* An error response, then the close: how the service reports every error. */
static void
send_error (SttTestConn * conn, gint code, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_int (json, "error_code", code);
  stt_test_json_add_string (json, "error_message", message);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
add_token (SttTestJson * json, Soniox * sx, const gchar * text, gdouble start,
    gdouble end, gboolean is_final)
{
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "text", text);
  if (start >= 0) {
    stt_test_json_add_int (json, "start_ms", (gint64) (start * 1000 + 0.5));
    stt_test_json_add_int (json, "end_ms", (gint64) (end * 1000 + 0.5));
    stt_test_json_add_double (json, "confidence", CONFIDENCE);
  }
  stt_test_json_add_boolean (json, "is_final", is_final);
  if (start >= 0 && sx->diarization)
    stt_test_json_add_string (json, "speaker", "1");
  if (start >= 0 && sx->language)
    stt_test_json_add_string (json, "language", sx->language);
  stt_test_json_end_object (json);
}

/* Each word as two sub-word tokens ("w4" + "00"), the first with a leading space unless
 * it is the first word of the stream. */
static void
add_word_tokens (SttTestJson * json, Soniox * sx, const SttTestWord * w, guint index,
    gboolean is_final)
{
  gsize len = strlen (w->text), cut = MIN (len, 2);
  gdouble mid = (w->start + w->end) / 2;
  g_autofree gchar *head = g_strdup_printf ("%s%.*s", sx->prior_words + index > 0 ?
      " " : "", (int) cut, w->text);

  add_token (json, sx, head, w->start, cut < len ? mid : w->end, is_final);
  if (cut < len)
    add_token (json, sx, w->text + cut, mid, w->end, is_final);
}

/* One response: words [@from, @final_to) newly final, [@final_to, @to) the non-final tail,
 * then the control token @control (or none). */
static void
send_response (SttTestConn * conn, const SttTestAnalyzerResult * r, guint from,
    guint final_to, guint to, const gchar * control)
{
  Soniox *sx = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  guint i;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_array (json, "tokens");
  for (i = from; i < to; i++)
    add_word_tokens (json, sx, &r->words[i], i, i < final_to);
  if (control)
    add_token (json, sx, control, -1, -1, TRUE);
  stt_test_json_end_array (json);
  stt_test_json_add_int (json, "final_audio_proc_ms", sx->final_ms);
  stt_test_json_add_int (json, "total_audio_proc_ms", (gint64) (r->end * 1000 + 0.5));
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  sx->last_response_ms = (gint64) (r->end * 1000 + 0.5);
}

/* In silence the service still answers as it processes audio: empty responses, all of
 * the audio final. */
static void
send_idle_response (SttTestConn * conn)
{
  Soniox *sx = stt_test_conn_get_state (conn);
  gint64 now = (gint64) (stt_test_conn_get_audio_seconds (conn) * 1000 + 0.5);
  SttTestJson *json;

  if (sx->open || sx->finishing || now - sx->last_response_ms < IDLE_RESPONSE_MS)
    return;
  sx->final_ms = sx->last_response_ms = now;
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_array (json, "tokens");
  stt_test_json_end_array (json);
  stt_test_json_add_int (json, "final_audio_proc_ms", now);
  stt_test_json_add_int (json, "total_audio_proc_ms", now);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* End of audio: everything becomes final, then `finished`, then the close. */
static void
finish (SttTestConn * conn)
{
  Soniox *sx = stt_test_conn_get_state (conn);
  SttTestJson *json;
  gint64 total;

  if (sx->finishing || stt_test_conn_end_received (conn))
    return;
  sx->finishing = TRUE;
  stt_test_conn_finalize (conn);
  total = (gint64) (stt_test_conn_get_audio_seconds (conn) * 1000 + 0.5);
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_array (json, "tokens");
  stt_test_json_end_array (json);
  stt_test_json_add_int (json, "final_audio_proc_ms", total);
  stt_test_json_add_int (json, "total_audio_proc_ms", total);
  stt_test_json_add_boolean (json, "finished", TRUE);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static gboolean
optional_bool (JsonObject * o, const gchar * name, gboolean fallback, gboolean * ok)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || JSON_NODE_HOLDS_NULL (n))
    return fallback;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    *ok = FALSE;
    return fallback;
  }
  return json_node_get_boolean (n);
}

static const gchar *
optional_string (JsonObject * o, const gchar * name)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gint64
optional_int (JsonObject * o, const gchar * name, gint64 fallback)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (n);
}

/* The first text message: the start request. Returns an error message (and sets @code),
 * or NULL when the session starts. */
static gchar *
check_start (Soniox * sx, const gchar * text, gint * code, guint * rate)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root, *hints;
  JsonObject *o;
  const gchar *key, *model, *format;
  gint64 channels, delay;
  gboolean ok = TRUE;

  *code = 400;
  if (!json_parser_load_from_data (parser, text, -1, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return g_strdup ("Start request must be a JSON object.");
  o = json_node_get_object (root);

  /* The handshake's credential; else the deprecated field of this request. */
  key = sx->handshake_key ? sx->handshake_key : optional_string (o, "api_key");
  if (sx->expected_key != NULL && (key == NULL || !g_str_equal (key, sx->expected_key))) {
    *code = 401;
    return g_strdup (key == NULL ? "Missing API key." : "Invalid API key.");
  }
  model = optional_string (o, "model");
  if (model == NULL || *model == '\0')
    return g_strdup ("Missing required field: model.");
  format = optional_string (o, "audio_format");
  if (format == NULL)
    return g_strdup ("Missing required field: audio_format.");
  if (!g_str_equal (format, "pcm_s16le"))
    return g_strdup_printf ("This test server only decodes pcm_s16le, not %.32s.", format);
  *rate = (guint) CLAMP (optional_int (o, "sample_rate", 0), 0, 384000);
  if (*rate == 0)
    return g_strdup ("sample_rate is required for raw audio formats.");
  channels = optional_int (o, "num_channels", 0);
  if (channels != 1)
    return g_strdup ("num_channels is required for raw audio formats (this test server "
        "decodes mono).");
  hints = json_object_get_member (o, "language_hints");
  if (hints != NULL && !JSON_NODE_HOLDS_NULL (hints)) {
    JsonArray *a = JSON_NODE_HOLDS_ARRAY (hints) ? json_node_get_array (hints) : NULL;
    guint i;

    for (i = 0; a && i < json_array_get_length (a); i++) {
      JsonNode *h = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (h) || json_node_get_value_type (h) != G_TYPE_STRING)
        a = NULL;
    }
    if (a == NULL)
      return g_strdup ("language_hints must be a list of language codes.");
    if (json_array_get_length (a) > 0)
      sx->language = g_strdup (json_array_get_string_element (a, 0));
  }
  delay = optional_int (o, "max_endpoint_delay_ms", 2000);
  if (delay < 500 || delay > 3000)
    return g_strdup ("max_endpoint_delay_ms must be between 500 and 3000.");
  sx->endpoints = optional_bool (o, "enable_endpoint_detection", FALSE, &ok);
  sx->diarization = optional_bool (o, "enable_speaker_diarization", FALSE, &ok);
  if (!optional_bool (o, "enable_language_identification", FALSE, &ok))
    g_clear_pointer (&sx->language, g_free);
  else if (sx->language == NULL)
    sx->language = g_strdup ("en");
  optional_bool (o, "language_hints_strict", FALSE, &ok);
  if (!ok)
    return g_strdup ("Invalid start request: a boolean field has another type.");
  return NULL;
}

/* --- hooks --------------------------------------------------------------------------- */

static void
soniox_on_text (SttTestConn * conn, const gchar * text)
{
  Soniox *sx = stt_test_conn_get_state (conn);
  g_autoptr (JsonParser) parser = NULL;
  g_autofree gchar *error = NULL;
  JsonNode *root;
  const gchar *type = NULL;
  gint code;
  guint rate = 0;

  if (!sx->started) {
    if ((error = check_start (sx, text, &code, &rate)) != NULL) {
      send_error (conn, code, error);
      return;
    }
    sx->started = TRUE;
    sx->analyzer = stt_test_analyzer_new (rate);
    stt_test_analyzer_set_endpointing (sx->analyzer, sx->endpoints ? ENDPOINT_MS : 0);
    stt_test_analyzer_set_interim_interval (sx->analyzer, INTERIM_INTERVAL_MS);
    stt_test_conn_use_analyzer (conn, sx->analyzer);
    return;
  }
  /* An empty frame, text (as the SDK sends it) or binary, ends the audio. */
  if (*text == '\0') {
    finish (conn);
    return;
  }
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, text, -1, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    type = optional_string (json_node_get_object (root), "type");
  if (g_strcmp0 (type, "keepalive") == 0) {
    /* No answer: it only keeps the connection. */
  } else if (g_strcmp0 (type, "finalize") == 0) {
    if (!sx->finishing)
      stt_test_conn_finalize (conn);
  } else {
    send_error (conn, 400, "Invalid message: expected keepalive or finalize.");
  }
}

static void
soniox_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  Soniox *sx = stt_test_conn_get_state (conn);

  if (!sx->started) {
    send_error (conn, 400, "The start request must be the first message.");
    return;
  }
  if (size == 0) {
    finish (conn);
    return;
  }
  if (!sx->finishing && stt_test_conn_push_audio (conn, data, size))
    send_idle_response (conn);
}

static void
soniox_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  Soniox *sx = stt_test_conn_get_state (conn);
  const gchar *control = NULL;
  guint done = r->n_words;

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      sx->open = TRUE;
      return;
    case STT_TEST_ANALYZER_PARTIAL:
      sx->open = TRUE;
      /* Complete words turn final as soon as they are known; the one in progress stays
       * in the tail. */
      if (done > 0 && r->end - r->words[done - 1].end < WORD_DONE_S - 1e-6)
        done--;
      done = MAX (done, sx->n_final);
      if (done > sx->n_final)
        sx->final_ms = (gint64) (r->words[done - 1].end * 1000 + 0.5);
      send_response (conn, r, sx->n_final, done, r->n_words, NULL);
      sx->n_final = done;
      return;
    case STT_TEST_ANALYZER_FINAL:
      if (r->from_finalize && !sx->finishing)
        control = "<fin>";
      else if (!r->from_finalize && sx->endpoints)
        control = "<end>";
      sx->final_ms = (gint64) (r->end * 1000 + 0.5);
      if (control || r->n_words > sx->n_final)
        send_response (conn, r, sx->n_final, r->n_words, r->n_words, control);
      sx->prior_words += r->n_words;
      sx->n_final = 0;
      sx->open = FALSE;
      return;
  }
}

static void
soniox_on_idle (SttTestConn * conn)
{
  send_error (conn, 408, "Request timeout: no audio or keepalive received in 20 seconds.");
}

static const gchar *const soniox_subprotocols[] = { "soniox-api-key", NULL };

const SttTestProtocol stt_test_protocol_soniox = {
  .name = "soniox",
  .path = "/transcribe-websocket",
  .subprotocols = soniox_subprotocols,
  .default_idle_timeout_ms = IDLE_TIMEOUT_MS,
  .handshake = soniox_handshake,
  .refuse = soniox_refuse,
  .on_open = NULL,
  .on_binary = soniox_on_binary,
  .on_text = soniox_on_text,
  .on_result = soniox_on_result,
  .on_idle = soniox_on_idle,
  .on_tick = NULL,
  .free_state = soniox_free,
};
