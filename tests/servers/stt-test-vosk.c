/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-vosk: the alphacep vosk-server WebSocket protocol (ws://host:2700).
 *
 * Facts: shared/providers.md section 8, checked against alphacep/vosk-server
 * websocket/asr_server.py (the Python server: config, eof, reset) and alphacep/vosk-api
 * src/recognizer.cc, src/json.h, src/model.cc (the answers' shape and bytes, the endpoint
 * rule). Choices where the server's behaviour is unclear are listed in README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

/* VOSK_SAMPLE_RATE's default: the rate until a config says otherwise. */
#define DEFAULT_RATE 8000
/* vosk-api model.cc: --endpoint.rule2.min-trailing-silence=0.5 after speech. */
#define ENDPOINT_MS 500
/* Both servers compare these byte for byte: spacing matters. */
#define EOF_MESSAGE "{\"eof\" : 1}"
#define RESET_MESSAGE "{\"reset\" : 1}"

typedef struct
{
  /* The config so far; the recognizer takes it when it is made. */
  guint rate;
  gboolean words;
  /* The recognizer: made at the first message that is not a config, like asr_server.py's
   * KaldiRecognizer, so a later config changes nothing. NULL before. */
  SttTestAnalyzer *analyzer;
  gboolean show_words;
  /* The FINALs produced while handling one message, merged into its one answer. */
  GArray *final_words;          /* of SttTestWord, texts owned */
  guint n_finals;
  gboolean final_heard;         /* audio came since the previous answered final */
} Vosk;

static void
word_clear (gpointer data)
{
  SttTestWord *word = data;

  g_clear_pointer (&word->text, g_free);
}

static void
vosk_free (gpointer data)
{
  Vosk *vk = data;

  stt_test_analyzer_free (vk->analyzer);
  g_array_unref (vk->final_words);
  g_free (vk);
}

/* --- handshake ----------------------------------------------------------------------- */

/* No credentials, no query: every upgrade is accepted (only handshake faults refuse). */
static guint
vosk_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  Vosk *vk = g_new0 (Vosk, 1);

  vk->rate = DEFAULT_RATE;
  vk->words = TRUE;             /* VOSK_SHOW_WORDS */
  vk->final_words = g_array_new (FALSE, TRUE, sizeof (SttTestWord));
  g_array_set_clear_func (vk->final_words, word_clear);
  accept->rate = DEFAULT_RATE;
  accept->state = vk;
  return 0;
}

/* The Python websockets library answers refusals in plain text. */
static void
vosk_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  gchar *body = g_strdup_printf ("%s\n", message);

  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- answers: the bytes vosk-api prints --------------------------------------------- */

/* json.h's dump() writes objects one member a line as `"key" : value`, indented two
 * spaces a level, arrays on one line, numbers with std::to_string ("%f"), and escapes only
 * quote, backslash and \b\f\n\r\t. Clients parse JSON; the same bytes keep captures
 * comparable with the real server's. */
static void
append_string (GString * s, const gchar * text)
{
  g_string_append_c (s, '"');
  for (; *text; text++) {
    switch (*text) {
      case '"':
        g_string_append (s, "\\\"");
        break;
      case '\\':
        g_string_append (s, "\\\\");
        break;
      case '\b':
        g_string_append (s, "\\b");
        break;
      case '\f':
        g_string_append (s, "\\f");
        break;
      case '\n':
        g_string_append (s, "\\n");
        break;
      case '\r':
        g_string_append (s, "\\r");
        break;
      case '\t':
        g_string_append (s, "\\t");
        break;
      default:
        g_string_append_c (s, *text);
    }
  }
  g_string_append_c (s, '"');
}

static void
append_member_number (GString * s, const gchar * key, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (s, "      \"%s\" : %s", key,
      g_ascii_formatd (buf, sizeof buf, "%f", value));
}

static void
append_word (GString * s, const SttTestWord * word)
{
  g_string_append (s, "{\n");
  append_member_number (s, "conf", word->confidence);
  g_string_append (s, ",\n");
  append_member_number (s, "end", word->end);
  g_string_append (s, ",\n");
  append_member_number (s, "start", word->start);
  g_string_append (s, ",\n      \"word\" : ");
  append_string (s, word->text);
  g_string_append (s, "\n    }");
}

/* "w400 w700": what `text` and `partial` carry. */
static void
append_words (GString * text, const SttTestWord * words, guint n_words)
{
  guint i;

  for (i = 0; i < n_words; i++) {
    if (i > 0)
      g_string_append_c (text, ' ');
    g_string_append (text, words[i].text);
  }
}

static void
send_partial (SttTestConn * conn, const gchar * text)
{
  GString *s = g_string_new ("{\n  \"partial\" : ");

  append_string (s, text);
  g_string_append (s, "\n}");
  stt_test_conn_send_text (conn, s->str);
  g_string_free (s, TRUE);
}

/* The merged FINALs of one message: `result` (with words) and `text`. With no audio
 * since the last answered final, vosk-api has decoded nothing and answers its fixed empty
 * result (StoreEmptyReturn), spaced differently. */
static void
send_final (SttTestConn * conn)
{
  Vosk *vk = stt_test_conn_get_state (conn);
  GString *s = g_string_new ("{\n");
  GString *text = g_string_new (NULL);
  guint i;

  append_words (text, (const SttTestWord *) vk->final_words->data, vk->final_words->len);
  if (vk->show_words && vk->final_words->len > 0) {
    g_string_append (s, "  \"result\" : [");
    for (i = 0; i < vk->final_words->len; i++) {
      if (i > 0)
        g_string_append (s, ", ");
      append_word (s, &g_array_index (vk->final_words, SttTestWord, i));
    }
    g_string_append (s, "],\n");
  }
  g_string_append (s, "  \"text\" : ");
  append_string (s, text->str);
  g_string_append (s, "\n}");

  stt_test_conn_send_text (conn, vk->final_heard ? s->str : "{\"text\": \"\"}");
  g_string_free (s, TRUE);
  g_string_free (text, TRUE);
  g_array_set_size (vk->final_words, 0);
  vk->n_finals = 0;
  vk->final_heard = FALSE;
}

static void
peek_cb (const SttTestAnalyzerResult * r, gpointer user_data)
{
  append_words (user_data, r->words, r->n_words);
}

/* The one answer to a message: the result when a segment ended while handling it, else
 * the words of the open segment (the word still sounding included), like PartialResult(). */
static void
answer (SttTestConn * conn)
{
  Vosk *vk = stt_test_conn_get_state (conn);
  GString *text;

  if (vk->n_finals > 0) {
    send_final (conn);
    return;
  }
  text = g_string_new (NULL);
  stt_test_analyzer_peek (vk->analyzer, peek_cb, text);
  send_partial (conn, text->str);
  g_string_free (text, TRUE);
}

/* --- config -------------------------------------------------------------------------- */

/* Python's bool(): false, 0, "", [], {} and null are false. */
static gboolean
node_truthy (JsonNode * node)
{
  if (JSON_NODE_HOLDS_NULL (node))
    return FALSE;
  if (JSON_NODE_HOLDS_OBJECT (node))
    return json_object_get_size (json_node_get_object (node)) > 0;
  if (JSON_NODE_HOLDS_ARRAY (node))
    return json_array_get_length (json_node_get_array (node)) > 0;
  switch (json_node_get_value_type (node)) {
    case G_TYPE_BOOLEAN:
      return json_node_get_boolean (node);
    case G_TYPE_INT64:
      return json_node_get_int (node) != 0;
    case G_TYPE_DOUBLE:
      return json_node_get_double (node) != 0.0;
    case G_TYPE_STRING:
      return *json_node_get_string (node) != '\0';
    default:
      return TRUE;
  }
}

/* Python's float() of a JSON number or numeric string, as a usable rate. */
static gboolean
parse_rate (JsonNode * node, guint * rate)
{
  gdouble v;
  gchar *end = NULL;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node)) {
    case G_TYPE_INT64:
      v = json_node_get_int (node);
      break;
    case G_TYPE_DOUBLE:
      v = json_node_get_double (node);
      break;
    case G_TYPE_STRING:
      v = g_ascii_strtod (json_node_get_string (node), &end);
      if (end == json_node_get_string (node) || *end != '\0')
        return FALSE;
      break;
    default:
      return FALSE;
  }
  if (!isfinite (v) || v < 1.0 || v > 1e6)
    return FALSE;
  *rate = (guint) (v + 0.5);
  return TRUE;
}

/* asr_server.py: json.loads(message)['config']; sample_rate and words are kept for the
 * recognizer; phrase_list, model, max_alternatives are not modelled. No answer. Whatever
 * raises there ends the handler, which the websockets library closes with 1011. */
static void
apply_config (SttTestConn * conn, const gchar * text)
{
  Vosk *vk = stt_test_conn_get_state (conn);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root, *node;
  JsonObject *config = NULL;
  guint rate = vk->rate;

  if (json_parser_load_from_data (parser, text, -1, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root)
      && (node = json_object_get_member (json_node_get_object (root), "config")) != NULL
      && JSON_NODE_HOLDS_OBJECT (node))
    config = json_node_get_object (node);
  if (config == NULL)
    goto invalid;
  if ((node = json_object_get_member (config, "sample_rate")) != NULL
      && !parse_rate (node, &rate))
    goto invalid;

  vk->rate = rate;
  if ((node = json_object_get_member (config, "words")) != NULL)
    vk->words = node_truthy (node);
  g_debug ("connection %u: config %s", stt_test_conn_get_index (conn), text);
  return;

  /* ERRORS */
invalid:
  g_debug ("connection %u: config failed: %s", stt_test_conn_get_index (conn), text);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
}

/* --- session ------------------------------------------------------------------------- */

static void
ensure_recognizer (SttTestConn * conn)
{
  Vosk *vk = stt_test_conn_get_state (conn);

  if (vk->analyzer != NULL)
    return;
  vk->analyzer = stt_test_analyzer_new (vk->rate);
  vk->show_words = vk->words;
  stt_test_analyzer_set_endpointing (vk->analyzer, ENDPOINT_MS);
  stt_test_analyzer_set_endpoint_on_push_end (vk->analyzer, TRUE);
  /* Partials answer messages (answer()), not the 250 ms grid. */
  stt_test_analyzer_set_interim_interval (vk->analyzer, 0);
  stt_test_conn_use_analyzer (conn, vk->analyzer);
}

/* FinalResult(): the open segment, the word still sounding included, is the answer. */
static void
flush (SttTestConn * conn)
{
  stt_test_conn_finalize (conn);
  send_final (conn);
}

/* --- hooks --------------------------------------------------------------------------- */

static void
vosk_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  ensure_recognizer (conn);
  if (stt_test_conn_push_audio (conn, data, size))
    answer (conn);
}

/* In asr_server.py's order: a config is any text containing "config"; then the exact eof
 * and reset; any other text goes to AcceptWaveform(), which raises on a str (cffi wants
 * bytes): the handler ends and the websockets library closes with 1011. */
static void
vosk_on_text (SttTestConn * conn, const gchar * text)
{
  if (strstr (text, "config") != NULL) {
    apply_config (conn, text);
    return;
  }
  ensure_recognizer (conn);
  if (g_str_equal (text, EOF_MESSAGE)) {
    if (stt_test_conn_end_received (conn))
      return;
    flush (conn);
    stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  } else if (g_str_equal (text, RESET_MESSAGE)) {
    flush (conn);
  } else {
    g_debug ("connection %u: text that is not audio: %.64s",
        stt_test_conn_get_index (conn), text);
    stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
  }
}

static void
vosk_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  Vosk *vk = stt_test_conn_get_state (conn);
  guint i;

  if (r->event != STT_TEST_ANALYZER_FINAL)
    return;
  for (i = 0; i < r->n_words; i++) {
    SttTestWord word = r->words[i];

    word.text = g_strdup (word.text);
    g_array_append_val (vk->final_words, word);
  }
  vk->n_finals++;
  vk->final_heard |= r->end > r->start;
}

const SttTestProtocol stt_test_protocol_vosk = {
  .name = "vosk",
  /* The server ignores the path; this one listens on "/". */
  .path = "/",
  .subprotocols = NULL,
  /* No keepalive, no session limit, no idle close. */
  .default_idle_timeout_ms = 0,
  .handshake = vosk_handshake,
  .refuse = vosk_refuse,
  .on_open = NULL,
  .on_binary = vosk_on_binary,
  .on_text = vosk_on_text,
  .on_result = vosk_on_result,
  .on_idle = NULL,
  .on_tick = NULL,
  .free_state = vosk_free,
};
