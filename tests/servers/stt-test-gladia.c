/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-gladia: Gladia live v2 (POST https://api.gladia.io/v2/live, then the WebSocket
 * URL it returns).
 *
 * Facts: shared/providers.md section 5, checked against @gladiaio/sdk 2.1 (LiveV2Session:
 * the init request and its forced acknowledgments, the resume on the same URL from the
 * last acknowledged byte; WebSocketClient's reconnect close codes; generated-types.ts for
 * every message shape) and gladiaio/docs asyncapi.yaml. Choices where the service's
 * behaviour is not documented are listed in README.md.
 *
 * A session lives in the server, not in a connection: its analyzer (clock, open
 * utterance) and byte count go on when its URL is opened again, for SESSION_TTL after its
 * last connection ended, until stop_recording ends it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

#define PATH "/v2/live"
#define SESSION_TTL_US (30 * G_USEC_PER_SEC)
#define INTERIM_INTERVAL_MS 250
#define DEFAULT_ENDPOINTING 0.05
#define CONFIDENCE 0.9

typedef struct
{
  gchar *id;
  gchar *token;
  guint rate;
  gchar *language;
  gboolean partials, finals, speech_events, acks, lifecycle, post_processing;
  SttTestAnalyzer *analyzer;
  guint64 bytes;                /* audio received (and acknowledged) */
  gboolean session_started;
  gboolean recording_started;
  gboolean stopped;
  SttTestConn *conn;            /* the connection on it, or NULL */
  gint64 detached_at;           /* when its last connection ended */
  guint n_utterances;
  GString *full_transcript;     /* the finals so far, for post-processing */
} Session;

/* Server state: the sessions, by token. */
typedef struct
{
  GHashTable *sessions;
} Gladia;

/* Connection state. */
typedef struct
{
  Session *session;             /* NULL once another connection took the session over */
  SttTestConn *conn;
} GladiaConn;

static void
session_free (gpointer data)
{
  Session *s = data;

  g_free (s->id);
  g_free (s->token);
  g_free (s->language);
  stt_test_analyzer_free (s->analyzer);
  g_string_free (s->full_transcript, TRUE);
  g_free (s);
}

static gpointer
gladia_new_server_state (void)
{
  Gladia *g = g_new0 (Gladia, 1);

  g->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, session_free);
  return g;
}

static void
gladia_free_server_state (gpointer data)
{
  Gladia *g = data;

  g_hash_table_unref (g->sessions);
  g_free (g);
}

static void
gladia_conn_free (gpointer data)
{
  GladiaConn *gc = data;

  if (gc->conn != NULL && gc->session != NULL && gc->session->conn == gc->conn) {
    gc->session->conn = NULL;
    gc->session->detached_at = g_get_monotonic_time ();
  }
  g_free (gc);
}

static gchar *
now_iso (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (now) / 1000);
}

/* --- session set-up (POST /v2/live) ------------------------------------------------ */

static gboolean
is_number (JsonNode * n)
{
  GType t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;

  return t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;
}

static gboolean
is_bool (JsonNode * n)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN;
}

static gboolean
is_string (JsonNode * n)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

static gboolean
one_of (JsonNode * n, const gint64 * values)
{
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  for (; *values; values++)
    if (json_node_get_int (n) == *values)
      return TRUE;
  return FALSE;
}

static gboolean
member_bool (JsonObject * o, const gchar * name, gboolean fallback)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  return n && is_bool (n) ? json_node_get_boolean (n) : fallback;
}

/* Checks the configuration like the service's validation (unknown properties refused);
 * what this server cannot decode is refused too. Returns the error or NULL. */
static gchar *
check_config (JsonObject * o, Session * s)
{
  static const gchar *const known[] = { "encoding", "bit_depth", "sample_rate", "channels",
    "custom_metadata", "model", "endpointing", "maximum_duration_without_endpointing",
    "language_config", "pre_processing", "realtime_processing", "post_processing",
    "messages_config", "callback", "callback_config", NULL
  };
  static const gchar *const messages[] = { "receive_partial_transcripts",
    "receive_final_transcripts", "receive_speech_events", "receive_pre_processing_events",
    "receive_realtime_processing_events", "receive_post_processing_events",
    "receive_acknowledgments", "receive_errors", "receive_lifecycle_events", NULL
  };
  static const gint64 depths[] = { 8, 16, 24, 32, 0 };
  static const gint64 rates[] = { 8000, 16000, 32000, 44100, 48000, 0 };
  GList *members = json_object_get_members (o), *l;
  JsonNode *n;
  JsonObject *mc = NULL, *lc;
  gchar *error = NULL;

  for (l = members; l && !error; l = l->next)
    if (!g_strv_contains (known, l->data))
      error = g_strdup_printf ("property %s should not exist", (gchar *) l->data);
  g_list_free (members);
  if (error)
    return error;

  if ((n = json_object_get_member (o, "encoding")) != NULL) {
    const gchar *e = is_string (n) ? json_node_get_string (n) : "";

    if (!g_str_equal (e, "wav/pcm") && !g_str_equal (e, "wav/alaw")
        && !g_str_equal (e, "wav/ulaw"))
      return g_strdup ("encoding must be one of wav/pcm, wav/alaw, wav/ulaw");
    if (!g_str_equal (e, "wav/pcm"))
      return g_strdup ("this test server decodes wav/pcm only");
  }
  if ((n = json_object_get_member (o, "bit_depth")) != NULL) {
    if (!one_of (n, depths))
      return g_strdup ("bit_depth must be one of 8, 16, 24, 32");
    if (json_node_get_int (n) != 16)
      return g_strdup ("this test server decodes 16-bit audio only");
  }
  s->rate = 16000;
  if ((n = json_object_get_member (o, "sample_rate")) != NULL) {
    if (!one_of (n, rates))
      return g_strdup ("sample_rate must be one of 8000, 16000, 32000, 44100, 48000");
    s->rate = (guint) json_node_get_int (n);
  }
  if ((n = json_object_get_member (o, "channels")) != NULL) {
    if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
        || json_node_get_int (n) < 1 || json_node_get_int (n) > 8)
      return g_strdup ("channels must be an integer from 1 to 8");
    if (json_node_get_int (n) != 1)
      return g_strdup ("this test server decodes mono audio only");
  }
  if ((n = json_object_get_member (o, "model")) != NULL && (!is_string (n)
          || !g_str_has_prefix (json_node_get_string (n), "solaria-")))
    return g_strdup ("model must be one of solaria-1, solaria-2");
  if ((n = json_object_get_member (o, "endpointing")) != NULL && (!is_number (n)
          || json_node_get_double (n) < 0.01 || json_node_get_double (n) > 10))
    return g_strdup ("endpointing must be a number from 0.01 to 10");
  if ((n = json_object_get_member (o, "maximum_duration_without_endpointing")) != NULL
      && (!is_number (n) || json_node_get_double (n) <= 0))
    return g_strdup ("maximum_duration_without_endpointing must be a positive number");
  if ((n = json_object_get_member (o, "language_config")) != NULL) {
    JsonNode *langs;

    if (!JSON_NODE_HOLDS_OBJECT (n))
      return g_strdup ("language_config must be an object");
    lc = json_node_get_object (n);
    langs = json_object_get_member (lc, "languages");
    if (langs != NULL) {
      JsonArray *a = JSON_NODE_HOLDS_ARRAY (langs) ? json_node_get_array (langs) : NULL;
      guint i;

      for (i = 0; a && i < json_array_get_length (a); i++)
        if (!is_string (json_array_get_element (a, i)))
          a = NULL;
      if (a == NULL)
        return g_strdup ("language_config.languages must be a list of language codes");
      if (json_array_get_length (a) > 0)
        s->language = g_strdup (json_array_get_string_element (a, 0));
    }
  }
  if ((n = json_object_get_member (o, "messages_config")) != NULL) {
    if (!JSON_NODE_HOLDS_OBJECT (n))
      return g_strdup ("messages_config must be an object");
    mc = json_node_get_object (n);
    members = json_object_get_members (mc);
    for (l = members; l && !error; l = l->next) {
      if (!g_strv_contains (messages, l->data))
        error = g_strdup_printf ("property messages_config.%s should not exist",
            (gchar *) l->data);
      else if (!is_bool (json_object_get_member (mc, l->data)))
        error = g_strdup_printf ("messages_config.%s must be a boolean", (gchar *) l->data);
    }
    g_list_free (members);
    if (error)
      return error;
  }
  /* The defaults of the reference. */
  s->partials = member_bool (mc, "receive_partial_transcripts", FALSE);
  s->finals = member_bool (mc, "receive_final_transcripts", TRUE);
  s->speech_events = member_bool (mc, "receive_speech_events", TRUE);
  s->acks = member_bool (mc, "receive_acknowledgments", TRUE);
  s->lifecycle = member_bool (mc, "receive_lifecycle_events", FALSE);
  s->post_processing = member_bool (mc, "receive_post_processing_events", FALSE);

  s->analyzer = stt_test_analyzer_new (s->rate);
  n = json_object_get_member (o, "endpointing");
  stt_test_analyzer_set_endpointing (s->analyzer,
      (guint) ((n ? json_node_get_double (n) : DEFAULT_ENDPOINTING) * 1000 + 0.5));
  stt_test_analyzer_set_interim_interval (s->analyzer, INTERIM_INTERVAL_MS);
  return NULL;
}

static guint
gladia_http_request (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    gpointer server_state, gchar ** message)
{
  Gladia *g = server_state;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *key = soup_message_headers_get_one (headers, "x-gladia-key");
  const gchar *host = soup_message_headers_get_one (headers, "Host");
  g_autoptr (GBytes) body =
      soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *error = NULL;
  JsonNode *root;
  Session *s;
  SttTestJson *json;
  g_autofree gchar *created = now_iso ();
  g_autofree gchar *url = NULL;
  gchar *text;
  gsize size;
  const gchar *data = g_bytes_get_data (body, &size);

  if (!g_str_equal (soup_server_message_get_method (msg), "POST")) {
    *message = g_strdup ("Cannot handle this method");
    return SOUP_STATUS_METHOD_NOT_ALLOWED;
  }
  if (api_key != NULL && g_strcmp0 (key, api_key) != 0) {
    *message = g_strdup (key ? "Invalid x-gladia-key" : "Missing x-gladia-key header");
    return SOUP_STATUS_UNAUTHORIZED;
  }
  if (size == 0 || !json_parser_load_from_data (parser, data, size, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    *message = g_strdup ("the body must be a JSON object");
    return SOUP_STATUS_BAD_REQUEST;
  }

  s = g_new0 (Session, 1);
  s->full_transcript = g_string_new (NULL);
  if ((error = check_config (json_node_get_object (root), s)) != NULL) {
    session_free (s);
    *message = g_steal_pointer (&error);
    return SOUP_STATUS_BAD_REQUEST;
  }
  s->id = g_uuid_string_random ();
  s->token = g_uuid_string_random ();
  g_hash_table_insert (g->sessions, s->token, s);

  /* The service answers with its own address: the one the client reached. */
  url = g_strdup_printf ("ws://%s" PATH "?token=%s", host ? host : "127.0.0.1", s->token);
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "id", s->id);
  stt_test_json_add_string (json, "created_at", created);
  stt_test_json_add_string (json, "url", url);
  stt_test_json_end_object (json);
  text = stt_test_json_free_to_string (json);
  soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text,
      strlen (text));
  return 0;
}

/* --- WebSocket ------------------------------------------------------------------------ */

static guint
gladia_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  Gladia *g = accept->server_state;
  const gchar *token = g_hash_table_lookup (query, "token");
  Session *s = token ? g_hash_table_lookup (g->sessions, token) : NULL;
  GladiaConn *gc;

  /* The token is the only credential; it dies with its session. */
  if (s == NULL || s->stopped || (s->conn == NULL && s->detached_at != 0 &&
          g_get_monotonic_time () - s->detached_at > SESSION_TTL_US)) {
    *message = g_strdup (token ? "Invalid or expired session token" : "Missing token");
    return SOUP_STATUS_UNAUTHORIZED;
  }
  gc = g_new0 (GladiaConn, 1);
  gc->session = s;
  accept->rate = s->rate;
  accept->state = gc;
  return 0;
}

/* The service's error body (NestJS-style). */
static void
gladia_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();
  g_autofree gchar *timestamp = now_iso ();
  g_autofree gchar *request_id = g_uuid_string_random ();
  gchar *body;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "timestamp", timestamp);
  stt_test_json_add_string (json, "path",
      g_uri_get_path (soup_server_message_get_uri (msg)));
  stt_test_json_add_string (json, "request_id", request_id);
  stt_test_json_add_int (json, "statusCode", status);
  stt_test_json_add_string (json, "message", message);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* Opens a message with the common members; the caller adds the rest and closes it. */
static SttTestJson *
begin_message (Session * s, const gchar * type)
{
  SttTestJson *json = stt_test_json_new ();
  g_autofree gchar *created = now_iso ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "session_id", s->id);
  stt_test_json_add_string (json, "created_at", created);
  stt_test_json_add_string (json, "type", type);
  return json;
}

static void
send_simple (SttTestConn * conn, Session * s, const gchar * type)
{
  SttTestJson *json = begin_message (s, type);

  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
add_utterance (SttTestJson * json, Session * s, const SttTestAnalyzerResult * r)
{
  GString *text = g_string_new (NULL);
  guint i;

  stt_test_json_begin_object (json, "utterance");
  stt_test_json_add_double (json, "start", r->words[0].start);
  stt_test_json_add_double (json, "end", r->words[r->n_words - 1].end);
  stt_test_json_add_double (json, "confidence", CONFIDENCE);
  stt_test_json_add_int (json, "channel", 0);
  stt_test_json_begin_array (json, "words");
  for (i = 0; i < r->n_words; i++) {
    stt_test_json_begin_object (json, NULL);
    stt_test_json_add_string (json, "word", r->words[i].text);
    stt_test_json_add_double (json, "start", r->words[i].start);
    stt_test_json_add_double (json, "end", r->words[i].end);
    stt_test_json_add_double (json, "confidence", r->words[i].confidence);
    stt_test_json_end_object (json);
    if (i > 0)
      g_string_append_c (text, ' ');
    g_string_append (text, r->words[i].text);
  }
  stt_test_json_end_array (json);
  stt_test_json_add_string (json, "text", text->str);
  stt_test_json_add_string (json, "language", s->language ? s->language : "en");
  stt_test_json_end_object (json);
  g_string_free (text, TRUE);
}

static void
send_transcript (SttTestConn * conn, Session * s, const SttTestAnalyzerResult * r)
{
  SttTestJson *json = begin_message (s, "transcript");
  g_autofree gchar *id = g_strdup_printf ("00-%08u", s->n_utterances);

  stt_test_json_begin_object (json, "data");
  stt_test_json_add_string (json, "id", id);
  stt_test_json_add_boolean (json, "is_final", r->is_final);
  add_utterance (json, s, r);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
send_speech_event (SttTestConn * conn, Session * s, const gchar * type, gdouble time)
{
  SttTestJson *json = begin_message (s, type);

  stt_test_json_begin_object (json, "data");
  stt_test_json_add_double (json, "time", time);
  stt_test_json_add_int (json, "channel", 0);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static gdouble
session_seconds (Session * s)
{
  return (gdouble) (s->bytes / 2) / s->rate;
}

static void
send_ack (SttTestConn * conn, Session * s, const gchar * type, gboolean acknowledged,
    guint64 from, const gchar * error)
{
  SttTestJson *json = begin_message (s, type);

  stt_test_json_add_boolean (json, "acknowledged", acknowledged);
  if (error) {
    stt_test_json_begin_object (json, "error");
    stt_test_json_add_int (json, "status_code", 409);
    stt_test_json_add_string (json, "exception", "ConflictError");
    stt_test_json_add_string (json, "message", error);
    stt_test_json_end_object (json);
    stt_test_json_add_string (json, "data", NULL);
  } else {
    stt_test_json_add_string (json, "error", NULL);
    stt_test_json_begin_object (json, "data");
    if (g_str_equal (type, "audio_chunk")) {
      /* Read like the SDK: [first byte, bytes received so far]. */
      stt_test_json_begin_array (json, "byte_range");
      stt_test_json_add_int (json, NULL, from);
      stt_test_json_add_int (json, NULL, s->bytes);
      stt_test_json_end_array (json);
      stt_test_json_begin_array (json, "time_range");
      stt_test_json_add_double (json, NULL, (gdouble) (from / 2) / s->rate);
      stt_test_json_add_double (json, NULL, session_seconds (s));
      stt_test_json_end_array (json);
    } else {
      stt_test_json_add_double (json, "recording_duration", session_seconds (s));
      stt_test_json_add_double (json, "recording_left_to_process", 0.0);
    }
    stt_test_json_end_object (json);
  }
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
push_audio (SttTestConn * conn, Session * s, const guint8 * data, gsize size)
{
  guint64 from = s->bytes;

  if (s->stopped) {
    if (s->acks)
      send_ack (conn, s, "audio_chunk", FALSE, 0, "Recording already stopped");
    return;
  }
  if (!s->recording_started) {
    s->recording_started = TRUE;
    if (s->lifecycle)
      send_simple (conn, s, "start_recording");
  }
  /* A frame a fault took was not received: not counted, not acknowledged. */
  if (!stt_test_conn_push_audio (conn, data, size))
    return;
  s->bytes += size;
  if (s->acks)
    send_ack (conn, s, "audio_chunk", TRUE, from, NULL);
}

static void
send_post_processing (SttTestConn * conn, Session * s)
{
  SttTestJson *json = begin_message (s, "post_transcript");

  stt_test_json_begin_object (json, "data");
  stt_test_json_add_string (json, "full_transcript", s->full_transcript->str);
  stt_test_json_begin_array (json, "languages");
  stt_test_json_add_string (json, NULL, s->language ? s->language : "en");
  stt_test_json_end_array (json);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);

  json = begin_message (s, "post_final_transcript");
  stt_test_json_begin_object (json, "data");
  stt_test_json_begin_object (json, "metadata");
  stt_test_json_add_double (json, "audio_duration", session_seconds (s));
  stt_test_json_add_int (json, "number_of_distinct_channels", 1);
  stt_test_json_add_double (json, "billing_time", session_seconds (s));
  stt_test_json_add_double (json, "transcription_time", 0.1);
  stt_test_json_end_object (json);
  stt_test_json_begin_object (json, "transcription");
  stt_test_json_add_string (json, "full_transcript", s->full_transcript->str);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* stop_recording: no more audio; the rest is processed, then the session ends. */
static void
stop_recording (SttTestConn * conn, Session * s)
{
  SttTestJson *json;

  if (s->stopped) {
    send_ack (conn, s, "stop_recording", FALSE, 0, "Recording already stopped");
    return;
  }
  /* Taken by the fault, the session is not stopped: the client may resume it. */
  if (stt_test_conn_end_received (conn))
    return;
  s->stopped = TRUE;
  send_ack (conn, s, "stop_recording", TRUE, 0, NULL);
  stt_test_conn_finalize (conn);
  if (s->post_processing)
    send_post_processing (conn, s);
  if (s->lifecycle) {
    json = begin_message (s, "end_recording");
    stt_test_json_begin_object (json, "data");
    stt_test_json_add_double (json, "recording_duration", session_seconds (s));
    stt_test_json_end_object (json);
    stt_test_json_end_object (json);
    stt_test_conn_send_json (conn, json);
    send_simple (conn, s, "end_session");
  }
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
gladia_on_open (SttTestConn * conn)
{
  GladiaConn *gc = stt_test_conn_get_state (conn);
  Session *s = gc->session;

  /* Reconnecting to the URL continues the session, taking it from a connection the
   * server has not seen go yet. */
  if (s->conn != NULL) {
    GladiaConn *old = stt_test_conn_get_state (s->conn);

    old->session = NULL;
    stt_test_conn_close (s->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "Session continued on another connection");
  }
  s->conn = gc->conn = conn;
  s->detached_at = 0;
  stt_test_conn_use_analyzer (conn, s->analyzer);
  if (!s->session_started) {
    s->session_started = TRUE;
    if (s->lifecycle)
      send_simple (conn, s, "start_session");
  }
}

static void
gladia_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  GladiaConn *gc = stt_test_conn_get_state (conn);

  if (gc->session != NULL && size > 0)
    push_audio (conn, gc->session, data, size);
}

static void
gladia_on_text (SttTestConn * conn, const gchar * text)
{
  GladiaConn *gc = stt_test_conn_get_state (conn);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o = NULL, *data = NULL;
  const gchar *type = NULL;

  if (gc->session == NULL)
    return;
  if (json_parser_load_from_data (parser, text, -1, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root)) {
    JsonNode *t;

    o = json_node_get_object (root);
    t = json_object_get_member (o, "type");
    type = t && is_string (t) ? json_node_get_string (t) : NULL;
    t = json_object_get_member (o, "data");
    data = t && JSON_NODE_HOLDS_OBJECT (t) ? json_node_get_object (t) : NULL;
  }
  if (g_strcmp0 (type, "stop_recording") == 0) {
    stop_recording (conn, gc->session);
  } else if (g_strcmp0 (type, "audio_chunk") == 0 && data != NULL
      && json_object_has_member (data, "chunk")
      && is_string (json_object_get_member (data, "chunk"))) {
    gsize size = 0;
    g_autofree guint8 *audio =
        g_base64_decode (json_object_get_string_member (data, "chunk"), &size);

    if (size > 0)
      push_audio (conn, gc->session, audio, size);
  } else {
    stt_test_conn_close (conn, 4400, "Invalid message: expected audio_chunk or "
        "stop_recording");
  }
}

static void
gladia_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  GladiaConn *gc = stt_test_conn_get_state (conn);
  Session *s = gc->session;
  guint i;

  if (s == NULL)
    return;
  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      if (s->speech_events)
        send_speech_event (conn, s, "speech_start", r->start);
      return;
    case STT_TEST_ANALYZER_PARTIAL:
      if (r->n_words == 0)
        return;
      if (s->partials)
        send_transcript (conn, s, r);
      return;
    case STT_TEST_ANALYZER_FINAL:
      if (r->n_words == 0)
        return;
      if (s->finals)
        send_transcript (conn, s, r);
      if (s->speech_events)
        send_speech_event (conn, s, "speech_end", r->words[r->n_words - 1].end);
      for (i = 0; i < r->n_words; i++) {
        if (s->full_transcript->len)
          g_string_append_c (s->full_transcript, ' ');
        g_string_append (s->full_transcript, r->words[i].text);
      }
      s->n_utterances++;
      return;
  }
}

const SttTestProtocol stt_test_protocol_gladia = {
  .name = "gladia",
  .path = PATH,
  .subprotocols = NULL,
  /* No idle close is documented. */
  .default_idle_timeout_ms = 0,
  .handshake = gladia_handshake,
  .refuse = gladia_refuse,
  .on_open = gladia_on_open,
  .on_binary = gladia_on_binary,
  .on_text = gladia_on_text,
  .on_result = gladia_on_result,
  .on_idle = NULL,
  .on_tick = NULL,
  .free_state = gladia_conn_free,
  .new_server_state = gladia_new_server_state,
  .free_server_state = gladia_free_server_state,
  .http_request = gladia_http_request,
};
