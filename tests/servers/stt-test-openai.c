/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-openai: OpenAI Realtime API, transcription session
 * (wss://api.openai.com/v1/realtime?intent=transcription), GA interface.
 *
 * Facts: shared/providers.md section 7, checked against the openai npm SDK 6.49
 * (src/resources/realtime/realtime.ts: the transcription session, the input_audio_buffer
 * and transcription events, RealtimeError; src/realtime/ws.ts and websocket.ts: the
 * handshake; src/resources/realtime/client-secrets.ts). Choices where the service's
 * behaviour is not documented are listed in README.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

#define RATE 24000
#define KEY_PROTOCOL_PREFIX "openai-insecure-api-key."
/* A commit needs this much audio in the buffer. */
#define MIN_COMMIT_MS 100
#define MAX_APPEND_BYTES (15 * 1024 * 1024)
#define SESSION_SECONDS 3600
#define LOGPROB_CONFIDENCE 0.9

static const gchar *const models[] = { "whisper-1", "gpt-4o-mini-transcribe",
  "gpt-4o-mini-transcribe-2025-12-15", "gpt-4o-transcribe", "gpt-4o-transcribe-diarize",
  "gpt-realtime-whisper", NULL
};

static const gchar *const delays[] = { "minimal", "low", "medium", "high", "xhigh", NULL };
static const gchar *const eagernesses[] = { "low", "medium", "high", "auto", NULL };
static const gchar *const noise_types[] = { "near_field", "far_field", NULL };
static const gchar *const vad_types[] = { "server_vad", "semantic_vad", NULL };

/* The session's configuration (GA RealtimeTranscriptionSessionCreateRequest). */
typedef struct
{
  gboolean transcribe;          /* audio.input.transcription is set */
  gchar *model;
  gchar *language;
  gchar *prompt;
  gchar *delay;
  gchar *vad;                   /* turn_detection.type; NULL: turn detection off */
  gdouble threshold;
  gint64 padding_ms;
  gint64 silence_ms;
  gchar *eagerness;
  gchar *noise;                 /* noise_reduction.type, or NULL */
  gboolean logprobs;            /* include item.input_audio_transcription.logprobs */
} Config;

typedef struct
{
  gchar *refusal_code;          /* the session is refused once open: error + close 3000 */
  gchar *refusal_message;
  gchar *session_id;
  gint64 opened;
  guint events;
  guint items;
  Config config;
  guint64 buffer_start;         /* samples: where the audio not yet committed begins */
  gchar *speech_item;           /* speech started, not yet committed */
  gchar *last_item;             /* the last item committed */
  gboolean clearing;            /* input_audio_buffer.clear: the next FINAL is dropped */
  gboolean expired;
} OpenAI;

static void
config_clear (Config * c)
{
  g_clear_pointer (&c->model, g_free);
  g_clear_pointer (&c->language, g_free);
  g_clear_pointer (&c->prompt, g_free);
  g_clear_pointer (&c->delay, g_free);
  g_clear_pointer (&c->vad, g_free);
  g_clear_pointer (&c->eagerness, g_free);
  g_clear_pointer (&c->noise, g_free);
}

static void
config_copy (Config * dst, const Config * src)
{
  *dst = *src;
  dst->model = g_strdup (src->model);
  dst->language = g_strdup (src->language);
  dst->prompt = g_strdup (src->prompt);
  dst->delay = g_strdup (src->delay);
  dst->vad = g_strdup (src->vad);
  dst->eagerness = g_strdup (src->eagerness);
  dst->noise = g_strdup (src->noise);
}

static void
openai_free (gpointer data)
{
  OpenAI *oa = data;

  g_free (oa->refusal_code);
  g_free (oa->refusal_message);
  g_free (oa->session_id);
  config_clear (&oa->config);
  g_free (oa->speech_item);
  g_free (oa->last_item);
  g_free (oa);
}

/* --- handshake ----------------------------------------------------------------------- */

/* The key from `Authorization: Bearer <key>` or from the browser's subprotocol
 * `openai-insecure-api-key.<key>` (the SDK's OpenAIRealtimeWebSocket), or NULL. */
static gchar *
request_key (SoupServerMessage * msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *auth = soup_message_headers_get_one (headers, "Authorization");
  const gchar *protocols = soup_message_headers_get_list (headers,
      "Sec-WebSocket-Protocol");
  g_auto (GStrv) items = NULL;
  guint i;

  if (auth && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
    return g_strdup (auth + 7);
  if (protocols == NULL)
    return NULL;
  items = g_strsplit (protocols, ",", -1);
  for (i = 0; items[i]; i++) {
    const gchar *p = g_strstrip (items[i]);

    if (g_str_has_prefix (p, KEY_PROTOCOL_PREFIX))
      return g_strdup (p + strlen (KEY_PROTOCOL_PREFIX));
  }
  return NULL;
}

static void
refuse_session (OpenAI * oa, const gchar * code, const gchar * message)
{
  if (oa->refusal_message)
    return;
  oa->refusal_code = g_strdup (code);
  oa->refusal_message = g_strdup (message);
}

/* The service answers the upgrade and then says what is wrong (an error event, close
 * 3000 "<type>.<code>"), for a wrong key too. */
static guint
openai_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *intent = g_hash_table_lookup (query, "intent");
  const gchar *model = g_hash_table_lookup (query, "model");
  g_autofree gchar *key = request_key (msg);
  g_autofree gchar *uuid = NULL;
  OpenAI *oa = g_new0 (OpenAI, 1);

  if (api_key != NULL && g_strcmp0 (key, api_key) != 0 && key == NULL)
    refuse_session (oa, "invalid_api_key", "You didn't provide an API key. You need to "
        "provide your API key in an Authorization header using Bearer auth (i.e. "
        "Authorization: Bearer YOUR_KEY).");
  else if (api_key != NULL && g_strcmp0 (key, api_key) != 0) {
    /* The service shows the key masked. */
    g_autofree gchar *masked = strlen (key) > 8 ? g_strdup_printf ("%.3s****%s", key,
        key + strlen (key) - 4) : g_strdup ("****");
    g_autofree gchar *text = g_strdup_printf ("Incorrect API key provided: %s. You can "
        "find your API key at https://platform.openai.com/account/api-keys.", masked);

    refuse_session (oa, "invalid_api_key", text);
  }
  if (soup_message_headers_get_one (headers, "OpenAI-Beta") != NULL)
    refuse_session (oa, "beta_interface", "This server speaks the GA Realtime interface; "
        "the OpenAI-Beta header selects the retired beta one.");
  if (model != NULL && g_strcmp0 (intent, "transcription") == 0)
    refuse_session (oa, "invalid_request_error",
        "You must not provide a model parameter for transcription sessions.");
  else if (model != NULL && g_strv_contains (models, model))
    refuse_session (oa, "invalid_model", "This transcription model cannot be used as the "
        "realtime session model. Pass this transcription model as "
        "audio.input.transcription.model instead.");
  else if (model != NULL)
    refuse_session (oa, "unsupported_by_test_server", "This test server models "
        "transcription sessions only (?intent=transcription).");
  else if (intent == NULL)
    refuse_session (oa, "missing_model", "Missing required parameter: 'model'.");
  else if (!g_str_equal (intent, "transcription"))
    refuse_session (oa, "invalid_intent", "Invalid value for 'intent': expected "
        "'transcription'.");

  uuid = g_uuid_string_random ();
  oa->session_id = g_strdup_printf ("sess_%.8s%.4s%.4s", uuid, uuid + 9, uuid + 14);
  oa->opened = g_get_monotonic_time ();
  /* The session's defaults: server VAD as the SDK documents it, transcription off. */
  oa->config.vad = g_strdup ("server_vad");
  oa->config.threshold = 0.5;
  oa->config.padding_ms = 300;
  oa->config.silence_ms = 500;
  accept->rate = RATE;
  accept->state = oa;
  return 0;
}

/* A refused handshake (only the handshake faults: 503, 429...): the API's JSON error. */
static void
openai_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();
  gchar *body;

  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_object (json, "error");
  stt_test_json_add_string (json, "message", message);
  stt_test_json_add_string (json, "type", status == 401 ? "invalid_request_error" :
      status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" :
      "invalid_request_error");
  stt_test_json_add_string (json, "param", NULL);
  stt_test_json_add_string (json, "code", status == 401 ? "invalid_api_key" : NULL);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- events -------------------------------------------------------------------------- */

static SttTestJson *
event_begin (SttTestConn * conn, const gchar * type)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  g_autofree gchar *id = g_strdup_printf ("event_%04u", ++oa->events);

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "type", type);
  stt_test_json_add_string (json, "event_id", id);
  return json;
}

static void
event_send (SttTestConn * conn, SttTestJson * json)
{
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* RealtimeErrorEvent: the session stays open (SDK: "most errors are recoverable"). */
static void
send_error (SttTestConn * conn, const gchar * code, const gchar * message,
    const gchar * param, const gchar * client_event_id)
{
  SttTestJson *json = event_begin (conn, "error");

  stt_test_json_begin_object (json, "error");
  stt_test_json_add_string (json, "type", "invalid_request_error");
  stt_test_json_add_string (json, "code", code);
  stt_test_json_add_string (json, "message", message);
  stt_test_json_add_string (json, "param", param);
  stt_test_json_add_string (json, "event_id", client_event_id);
  stt_test_json_end_object (json);
  event_send (conn, json);
}

static void
add_session (SttTestJson * json, OpenAI * oa)
{
  const Config *c = &oa->config;
  guint i;

  stt_test_json_begin_object (json, "session");
  stt_test_json_add_string (json, "type", "transcription");
  stt_test_json_add_string (json, "object", "realtime.transcription_session");
  stt_test_json_add_string (json, "id", oa->session_id);
  stt_test_json_add_int (json, "expires_at", g_get_real_time () / G_USEC_PER_SEC +
      SESSION_SECONDS);
  stt_test_json_begin_object (json, "audio");
  stt_test_json_begin_object (json, "input");
  stt_test_json_begin_object (json, "format");
  stt_test_json_add_string (json, "type", "audio/pcm");
  stt_test_json_add_int (json, "rate", RATE);
  stt_test_json_end_object (json);
  if (c->noise) {
    stt_test_json_begin_object (json, "noise_reduction");
    stt_test_json_add_string (json, "type", c->noise);
    stt_test_json_end_object (json);
  } else {
    stt_test_json_add_string (json, "noise_reduction", NULL);
  }
  if (c->transcribe) {
    stt_test_json_begin_object (json, "transcription");
    stt_test_json_add_string (json, "model", c->model);
    stt_test_json_add_string (json, "language", c->language);
    stt_test_json_add_string (json, "prompt", c->prompt ? c->prompt : "");
    if (c->delay)
      stt_test_json_add_string (json, "delay", c->delay);
    stt_test_json_end_object (json);
  } else {
    stt_test_json_add_string (json, "transcription", NULL);
  }
  if (c->vad) {
    stt_test_json_begin_object (json, "turn_detection");
    stt_test_json_add_string (json, "type", c->vad);
    if (g_str_equal (c->vad, "server_vad")) {
      stt_test_json_add_double (json, "threshold", c->threshold);
      stt_test_json_add_int (json, "prefix_padding_ms", c->padding_ms);
      stt_test_json_add_int (json, "silence_duration_ms", c->silence_ms);
    } else {
      stt_test_json_add_string (json, "eagerness", c->eagerness ? c->eagerness : "auto");
    }
    stt_test_json_end_object (json);
  } else {
    stt_test_json_add_string (json, "turn_detection", NULL);
  }
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  if (c->logprobs) {
    stt_test_json_begin_array (json, "include");
    for (i = 0; i < 1; i++)
      stt_test_json_add_string (json, NULL, "item.input_audio_transcription.logprobs");
    stt_test_json_end_array (json);
  } else {
    stt_test_json_add_string (json, "include", NULL);
  }
  stt_test_json_end_object (json);
}

static void
send_session (SttTestConn * conn, const gchar * type)
{
  SttTestJson *json = event_begin (conn, type);

  add_session (json, stt_test_conn_get_state (conn));
  event_send (conn, json);
}

/* The silence that ends speech: server_vad's silence_duration_ms; semantic_vad waits by
 * its eagerness (a choice: the real one is a model). */
static guint
endpoint_ms (const Config * c)
{
  if (c->vad == NULL)
    return 0;
  if (g_str_equal (c->vad, "server_vad"))
    return (guint) c->silence_ms;
  if (g_strcmp0 (c->eagerness, "high") == 0)
    return 500;
  if (g_strcmp0 (c->eagerness, "low") == 0)
    return 2000;
  return 1000;
}

static void
apply_config (SttTestConn * conn)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  SttTestAnalyzer *analyzer = stt_test_conn_get_analyzer (conn);

  stt_test_analyzer_set_endpointing (analyzer, endpoint_ms (&oa->config));
  /* Transcription starts once an item is committed: nothing while speech goes on. */
  stt_test_analyzer_set_interim_interval (analyzer, 0);
}

/* --- session.update validation ------------------------------------------------------- */

typedef struct
{
  gchar *code;
  gchar *message;
  gchar *param;
} Invalid;

static gboolean
invalid (Invalid * inv, const gchar * code, const gchar * param, const gchar * format, ...)
G_GNUC_PRINTF (4, 5);

static gboolean
invalid (Invalid * inv, const gchar * code, const gchar * param, const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  inv->message = g_strdup_vprintf (format, args);
  va_end (args);
  inv->code = g_strdup (code);
  inv->param = g_strdup (param);
  return FALSE;
}

static const gchar *
json_kind (JsonNode * n)
{
  if (JSON_NODE_HOLDS_OBJECT (n))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (n))
    return "an array";
  if (JSON_NODE_HOLDS_NULL (n))
    return "null";
  switch (json_node_get_value_type (n)) {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    case G_TYPE_INT64:
      return "an integer";
    default:
      return "a decimal";
  }
}

/* Every member of @o is one of @allowed. */
static gboolean
known_members (JsonObject * o, const gchar * path, const gchar * const *allowed,
    Invalid * inv)
{
  g_autoptr (GList) names = json_object_get_members (o);
  GList *l;

  for (l = names; l; l = l->next) {
    if (!g_strv_contains (allowed, l->data)) {
      g_autofree gchar *param = g_strdup_printf ("%s.%s", path, (gchar *) l->data);
      return invalid (inv, "unknown_parameter", param, "Unknown parameter: '%s'.", param);
    }
  }
  return TRUE;
}

static gboolean
wrong_type (Invalid * inv, const gchar * path, const gchar * name, const gchar * want,
    JsonNode * n)
{
  g_autofree gchar *param = g_strdup_printf ("%s.%s", path, name);

  return invalid (inv, "invalid_type", param, "Invalid type for '%s': expected %s, but "
      "got %s instead.", param, want, json_kind (n));
}

/* Member @name of @o: NULL if absent; *@ok FALSE (and @inv set) if it is not of @type
 * (JSON_NODE_VALUE: @gtype) or, with @nullable FALSE, null. */
static JsonNode *
member (JsonObject * o, const gchar * path, const gchar * name, JsonNodeType type,
    GType gtype, gboolean nullable, Invalid * inv, gboolean * ok)
{
  JsonNode *n = json_object_get_member (o, name);
  static const gchar *const wants[] = { "an object", "an array", "a value", "null" };
  const gchar *want = wants[type];

  *ok = TRUE;
  if (n == NULL || (nullable && JSON_NODE_HOLDS_NULL (n)))
    return n;
  if (type == JSON_NODE_VALUE)
    want = gtype == G_TYPE_STRING ? "a string" : gtype == G_TYPE_BOOLEAN ? "a boolean" :
        gtype == G_TYPE_INT64 ? "an integer" : "a number";
  if (JSON_NODE_TYPE (n) != type || (type == JSON_NODE_VALUE
          && json_node_get_value_type (n) != gtype && !(gtype == G_TYPE_DOUBLE
              && json_node_get_value_type (n) == G_TYPE_INT64))) {
    *ok = wrong_type (inv, path, name, want, n);
    return NULL;
  }
  return n;
}

static gboolean
enum_value (JsonObject * o, const gchar * path, const gchar * name,
    const gchar * const *values, gchar ** out, Invalid * inv)
{
  gboolean ok;
  JsonNode *n = member (o, path, name, JSON_NODE_VALUE, G_TYPE_STRING, FALSE, inv, &ok);
  const gchar *v;

  if (!ok || n == NULL)
    return ok;
  v = json_node_get_string (n);
  if (!g_strv_contains (values, v)) {
    g_autofree gchar *param = g_strdup_printf ("%s.%s", path, name);
    g_autofree gchar *list = g_strjoinv ("', '", (gchar **) values);
    return invalid (inv, "invalid_value", param, "Invalid value: '%.64s'. Supported "
        "values are: '%s'.", v, list);
  }
  g_free (*out);
  *out = g_strdup (v);
  return TRUE;
}

static gboolean
integer_value (JsonObject * o, const gchar * path, const gchar * name, gint64 min,
    gint64 max, gint64 * out, Invalid * inv)
{
  gboolean ok;
  JsonNode *n = member (o, path, name, JSON_NODE_VALUE, G_TYPE_INT64, FALSE, inv, &ok);
  g_autofree gchar *param = g_strdup_printf ("%s.%s", path, name);
  gint64 v;

  if (!ok || n == NULL)
    return ok;
  v = json_node_get_int (n);
  if (v < min)
    return invalid (inv, "integer_below_min_value", param, "Invalid '%s': integer below "
        "minimum value. Expected a value >= %" G_GINT64_FORMAT ", but got %" G_GINT64_FORMAT
        " instead.", param, min, v);
  if (v > max)
    return invalid (inv, "integer_above_max_value", param, "Invalid '%s': integer above "
        "maximum value. Expected a value <= %" G_GINT64_FORMAT ", but got %" G_GINT64_FORMAT
        " instead.", param, max, v);
  *out = v;
  return TRUE;
}

static gboolean
check_format (JsonObject * o, Invalid * inv)
{
  static const gchar *const allowed[] = { "type", "rate", NULL };
  static const gchar *const types[] = { "audio/pcm", "audio/pcmu", "audio/pcma", NULL };
  const gchar *path = "session.audio.input.format";
  g_autofree gchar *type = NULL;
  gint64 rate = RATE;

  if (!known_members (o, path, allowed, inv) || !enum_value (o, path, "type", types, &type,
          inv))
    return FALSE;
  if (type && !g_str_equal (type, "audio/pcm"))
    return invalid (inv, "unsupported_by_test_server", "session.audio.input.format.type",
        "This test server decodes audio/pcm only, not %s.", type);
  /* PCM is 24 kHz only. */
  return integer_value (o, path, "rate", RATE, RATE, &rate, inv);
}

static gboolean
check_transcription (JsonObject * o, Config * c, Invalid * inv)
{
  static const gchar *const allowed[] = { "model", "language", "prompt", "delay", NULL };
  const gchar *path = "session.audio.input.transcription";
  gboolean ok;
  JsonNode *n;

  if (!known_members (o, path, allowed, inv) || !enum_value (o, path, "model", models,
          &c->model, inv) || !enum_value (o, path, "delay", delays, &c->delay, inv))
    return FALSE;
  n = member (o, path, "language", JSON_NODE_VALUE, G_TYPE_STRING, TRUE, inv, &ok);
  if (!ok)
    return FALSE;
  g_clear_pointer (&c->language, g_free);
  if (n && !JSON_NODE_HOLDS_NULL (n)) {
    const gchar *lang = json_node_get_string (n);

    /* ISO-639-1, as the SDK asks. */
    if (strlen (lang) != 2 || !g_ascii_islower (lang[0]) || !g_ascii_islower (lang[1]))
      return invalid (inv, "invalid_value", "session.audio.input.transcription.language",
          "Invalid language '%.32s': expected an ISO-639-1 code such as 'en'.", lang);
    c->language = g_strdup (lang);
  }
  n = member (o, path, "prompt", JSON_NODE_VALUE, G_TYPE_STRING, TRUE, inv, &ok);
  if (!ok)
    return FALSE;
  g_clear_pointer (&c->prompt, g_free);
  if (n && !JSON_NODE_HOLDS_NULL (n))
    c->prompt = g_strdup (json_node_get_string (n));
  if (c->model == NULL)
    c->model = g_strdup ("whisper-1");
  c->transcribe = TRUE;
  return TRUE;
}

static gboolean
check_turn_detection (JsonObject * o, Config * c, Invalid * inv)
{
  static const gchar *const server_vad[] = { "type", "threshold", "prefix_padding_ms",
    "silence_duration_ms", "idle_timeout_ms", "create_response", "interrupt_response", NULL
  };
  static const gchar *const semantic_vad[] = { "type", "eagerness", "create_response",
    "interrupt_response", NULL
  };
  static const gchar *const flags[] = { "create_response", "interrupt_response", NULL };
  const gchar *path = "session.audio.input.turn_detection";
  gboolean ok;
  JsonNode *n;
  guint i;

  if (!json_object_has_member (o, "type"))
    return invalid (inv, "missing_required_parameter", "session.audio.input.turn_detection."
        "type", "Missing required parameter: 'session.audio.input.turn_detection.type'.");
  if (!enum_value (o, path, "type", vad_types, &c->vad, inv))
    return FALSE;
  if (!known_members (o, path, g_str_equal (c->vad, "server_vad") ? server_vad :
          semantic_vad, inv))
    return FALSE;
  for (i = 0; flags[i]; i++) {
    member (o, path, flags[i], JSON_NODE_VALUE, G_TYPE_BOOLEAN, FALSE, inv, &ok);
    if (!ok)
      return FALSE;
  }
  if (!g_str_equal (c->vad, "server_vad"))
    return enum_value (o, path, "eagerness", eagernesses, &c->eagerness, inv);
  n = member (o, path, "threshold", JSON_NODE_VALUE, G_TYPE_DOUBLE, FALSE, inv, &ok);
  if (!ok)
    return FALSE;
  if (n) {
    gdouble v = json_node_get_double (n);

    if (v < 0 || v > 1)
      return invalid (inv, v < 0 ? "decimal_below_min_value" : "decimal_above_max_value",
          "session.audio.input.turn_detection.threshold", "Invalid 'session.audio.input."
          "turn_detection.threshold': expected a value between 0.0 and 1.0.");
    c->threshold = v;
  }
  n = member (o, path, "idle_timeout_ms", JSON_NODE_VALUE, G_TYPE_INT64, TRUE, inv, &ok);
  return ok && integer_value (o, path, "prefix_padding_ms", 0, 10000, &c->padding_ms, inv)
      && integer_value (o, path, "silence_duration_ms", 0, 10000, &c->silence_ms, inv);
}

/* A nullable object member of @o: FALSE if it is neither; *@obj NULL for null. */
static gboolean
object_or_null (JsonObject * o, const gchar * path, const gchar * name, JsonObject ** obj,
    gboolean * present, Invalid * inv)
{
  gboolean ok;
  JsonNode *n = member (o, path, name, JSON_NODE_OBJECT, G_TYPE_NONE, TRUE, inv, &ok);

  *present = n != NULL;
  *obj = n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
  return ok;
}

static gboolean
check_input (JsonObject * o, Config * c, Invalid * inv)
{
  static const gchar *const allowed[] = { "format", "noise_reduction", "transcription",
    "turn_detection", NULL
  };
  static const gchar *const noise_allowed[] = { "type", NULL };
  const gchar *path = "session.audio.input";
  JsonObject *sub;
  gboolean present, ok;
  JsonNode *n;

  if (!known_members (o, path, allowed, inv))
    return FALSE;
  n = member (o, path, "format", JSON_NODE_OBJECT, G_TYPE_NONE, FALSE, inv, &ok);
  if (!ok || (n && !check_format (json_node_get_object (n), inv)))
    return FALSE;

  if (!object_or_null (o, path, "noise_reduction", &sub, &present, inv))
    return FALSE;
  if (present) {
    g_clear_pointer (&c->noise, g_free);
    if (sub && (!known_members (sub, "session.audio.input.noise_reduction", noise_allowed,
                inv) || !enum_value (sub, "session.audio.input.noise_reduction", "type",
                noise_types, &c->noise, inv)))
      return FALSE;
  }

  if (!object_or_null (o, path, "transcription", &sub, &present, inv))
    return FALSE;
  if (present) {
    c->transcribe = FALSE;
    if (sub && !check_transcription (sub, c, inv))
      return FALSE;
  }

  if (!object_or_null (o, path, "turn_detection", &sub, &present, inv))
    return FALSE;
  if (present) {
    g_clear_pointer (&c->vad, g_free);
    if (sub && !check_turn_detection (sub, c, inv))
      return FALSE;
  }

  /* gpt-realtime-whisper: no VAD, no prompt (SDK). */
  if (c->transcribe && g_str_equal (c->model, "gpt-realtime-whisper")) {
    if (c->vad)
      return invalid (inv, "invalid_value", "session.audio.input.turn_detection",
          "Turn detection must be null for gpt-realtime-whisper.");
    if (c->prompt && *c->prompt)
      return invalid (inv, "invalid_value", "session.audio.input.transcription.prompt",
          "Prompt is not supported with gpt-realtime-whisper.");
  } else if (c->transcribe && c->delay) {
    return invalid (inv, "invalid_value", "session.audio.input.transcription.delay",
        "delay is only supported with gpt-realtime-whisper.");
  }
  return TRUE;
}

static gboolean
check_session (JsonObject * session, Config * c, Invalid * inv)
{
  static const gchar *const allowed[] = { "type", "audio", "include", NULL };
  static const gchar *const audio_allowed[] = { "input", NULL };
  gboolean ok;
  JsonNode *n;

  if (!json_object_has_member (session, "type"))
    return invalid (inv, "missing_required_parameter", "session.type",
        "Missing required parameter: 'session.type'.");
  n = member (session, "session", "type", JSON_NODE_VALUE, G_TYPE_STRING, FALSE, inv, &ok);
  if (!ok)
    return FALSE;
  if (!g_str_equal (json_node_get_string (n), "transcription"))
    return invalid (inv, "invalid_value", "session.type", "Passing a realtime session "
        "update event to a transcription session is not allowed.");
  if (!known_members (session, "session", allowed, inv))
    return FALSE;

  n = member (session, "session", "audio", JSON_NODE_OBJECT, G_TYPE_NONE, FALSE, inv, &ok);
  if (!ok)
    return FALSE;
  if (n) {
    JsonObject *audio = json_node_get_object (n);

    if (!known_members (audio, "session.audio", audio_allowed, inv))
      return FALSE;
    n = member (audio, "session.audio", "input", JSON_NODE_OBJECT, G_TYPE_NONE, FALSE, inv,
        &ok);
    if (!ok || (n && !check_input (json_node_get_object (n), c, inv)))
      return FALSE;
  }

  n = member (session, "session", "include", JSON_NODE_ARRAY, G_TYPE_NONE, TRUE, inv, &ok);
  if (!ok)
    return FALSE;
  if (n) {
    JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
    guint i, len = a ? json_array_get_length (a) : 0;

    c->logprobs = FALSE;
    for (i = 0; i < len; i++) {
      JsonNode *e = json_array_get_element (a, i);

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING
          || !g_str_equal (json_node_get_string (e),
              "item.input_audio_transcription.logprobs"))
        return invalid (inv, "invalid_value", "session.include", "Invalid value in "
            "'session.include'. Supported values are: "
            "'item.input_audio_transcription.logprobs'.");
      c->logprobs = TRUE;
    }
  }
  return TRUE;
}

static void
session_update (SttTestConn * conn, JsonObject * o, const gchar * event_id)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  Invalid inv = { 0, };
  Config c;
  JsonNode *n = json_object_get_member (o, "session");

  /* Checked on a copy: a refused update changes nothing. */
  config_copy (&c, &oa->config);
  if (n == NULL || !JSON_NODE_HOLDS_OBJECT (n)) {
    if (n == NULL)
      invalid (&inv, "missing_required_parameter", "session",
          "Missing required parameter: 'session'.");
    else
      wrong_type (&inv, "event", "session", "an object", n);
  } else if (check_session (json_node_get_object (n), &c, &inv)) {
    config_clear (&oa->config);
    oa->config = c;
    apply_config (conn);
    send_session (conn, "session.updated");
    return;
  }
  config_clear (&c);
  send_error (conn, inv.code, inv.message, inv.param, event_id);
  g_free (inv.code);
  g_free (inv.message);
  g_free (inv.param);
}

/* --- the input audio buffer ---------------------------------------------------------- */

static guint64
samples_heard (SttTestConn * conn)
{
  return stt_test_analyzer_get_n_samples (stt_test_conn_get_analyzer (conn));
}

static gint64
to_ms (gdouble seconds)
{
  return (gint64) floor (seconds * 1000 + 0.5);
}

static gboolean
is_base64 (const gchar * s)
{
  gsize len = strlen (s), i;

  if (len % 4 != 0)
    return FALSE;
  for (i = 0; i < len; i++) {
    gchar ch = s[i];

    if (!g_ascii_isalnum (ch) && ch != '+' && ch != '/' && !(ch == '=' && i >= len - 2))
      return FALSE;
  }
  return TRUE;
}

static void
append (SttTestConn * conn, JsonObject * o, const gchar * event_id)
{
  JsonNode *n = json_object_get_member (o, "audio");
  g_autofree guint8 *audio = NULL;
  const gchar *b64;
  gsize size = 0;

  if (n == NULL) {
    send_error (conn, "missing_required_parameter", "Missing required parameter: 'audio'.",
        "audio", event_id);
    return;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    send_error (conn, "invalid_type", "Invalid type for 'audio': expected a string.",
        "audio", event_id);
    return;
  }
  b64 = json_node_get_string (n);
  if (!is_base64 (b64)) {
    send_error (conn, "invalid_value", "Invalid 'audio'. Expected base64-encoded audio "
        "bytes.", "audio", event_id);
    return;
  }
  if (strlen (b64) / 4 * 3 > MAX_APPEND_BYTES) {
    send_error (conn, "invalid_value", "Audio chunk too large: at most 15 MiB per "
        "input_audio_buffer.append.", "audio", event_id);
    return;
  }
  audio = g_base64_decode (b64, &size);
  if (size > 0)
    stt_test_conn_push_audio (conn, audio, size);
}

static void
commit (SttTestConn * conn, const gchar * event_id)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  gdouble buffered_ms = (gdouble) (samples_heard (conn) - oa->buffer_start) * 1000 / RATE;

  /* No end message in this protocol: every commit counts as one for CLOSE_AT_END. */
  if (stt_test_conn_end_received (conn))
    return;
  if (buffered_ms < MIN_COMMIT_MS) {
    g_autofree gchar *message = g_strdup_printf ("Error committing input audio buffer: "
        "buffer too small. Expected at least %dms of audio, but buffer only has %.2fms of "
        "audio.", MIN_COMMIT_MS, buffered_ms);

    send_error (conn, "input_audio_buffer_commit_empty", message, NULL, event_id);
    return;
  }
  stt_test_conn_finalize (conn);
}

static void
clear (SttTestConn * conn)
{
  OpenAI *oa = stt_test_conn_get_state (conn);

  oa->clearing = TRUE;
  stt_test_conn_finalize (conn);
  oa->clearing = FALSE;
  oa->buffer_start = samples_heard (conn);
  g_clear_pointer (&oa->speech_item, g_free);
  event_send (conn, event_begin (conn, "input_audio_buffer.cleared"));
}

/* --- transcription ------------------------------------------------------------------- */

static void
add_logprobs (SttTestJson * json, const gchar * const *tokens)
{
  guint i, k;

  stt_test_json_begin_array (json, "logprobs");
  for (i = 0; tokens[i]; i++) {
    stt_test_json_begin_object (json, NULL);
    stt_test_json_add_string (json, "token", tokens[i]);
    stt_test_json_add_double (json, "logprob", log (LOGPROB_CONFIDENCE));
    stt_test_json_begin_array (json, "bytes");
    for (k = 0; tokens[i][k]; k++)
      stt_test_json_add_int (json, NULL, (guchar) tokens[i][k]);
    stt_test_json_end_array (json);
    stt_test_json_end_object (json);
  }
  stt_test_json_end_array (json);
}

/* The item's deltas (a word each; whisper-1 all at once) and its completion. */
static void
transcribe (SttTestConn * conn, const gchar * item, const SttTestAnalyzerResult * r)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  gboolean whisper = g_str_equal (oa->config.model, "whisper-1");
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autofree gchar *transcript = NULL;
  SttTestJson *json;
  gdouble seconds = r->end - r->start;
  guint i;

  for (i = 0; i < r->n_words; i++)
    g_ptr_array_add (tokens, g_strdup_printf ("%s%s", i ? " " : "", r->words[i].text));
  g_ptr_array_add (tokens, NULL);
  transcript = g_strjoinv ("", (gchar **) tokens->pdata);

  for (i = 0; i < r->n_words && (!whisper || i == 0); i++) {
    const gchar *one[] = { g_ptr_array_index (tokens, i), NULL };

    json = event_begin (conn, "conversation.item.input_audio_transcription.delta");
    stt_test_json_add_string (json, "item_id", item);
    stt_test_json_add_int (json, "content_index", 0);
    stt_test_json_add_string (json, "delta", whisper ? transcript : one[0]);
    if (oa->config.logprobs && !whisper)
      add_logprobs (json, one);
    event_send (conn, json);
  }

  json = event_begin (conn, "conversation.item.input_audio_transcription.completed");
  stt_test_json_add_string (json, "item_id", item);
  stt_test_json_add_int (json, "content_index", 0);
  stt_test_json_add_string (json, "transcript", transcript);
  if (oa->config.logprobs && !whisper)
    add_logprobs (json, (const gchar * const *) tokens->pdata);
  stt_test_json_begin_object (json, "usage");
  if (whisper) {
    stt_test_json_add_string (json, "type", "duration");
    stt_test_json_add_double (json, "seconds", floor (seconds * 10 + 0.5) / 10);
  } else {
    /* About 10 audio tokens a second, a token a word. */
    gint64 in = (gint64) ceil (seconds * 10), out = r->n_words;

    stt_test_json_add_string (json, "type", "tokens");
    stt_test_json_add_int (json, "input_tokens", in);
    stt_test_json_add_int (json, "output_tokens", out);
    stt_test_json_add_int (json, "total_tokens", in + out);
    stt_test_json_begin_object (json, "input_token_details");
    stt_test_json_add_int (json, "audio_tokens", in);
    stt_test_json_add_int (json, "text_tokens", 0);
    stt_test_json_end_object (json);
  }
  stt_test_json_end_object (json);
  event_send (conn, json);
}

/* A segment ends: by the VAD (@by_vad: speech_stopped first) or by the client's commit.
 * The buffer up to here becomes an item; its transcription follows. */
static void
commit_item (SttTestConn * conn, const SttTestAnalyzerResult * r, gboolean by_vad)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  g_autofree gchar *item = oa->speech_item ? g_steal_pointer (&oa->speech_item) :
      g_strdup_printf ("item_%04u", ++oa->items);
  SttTestJson *json;

  if (by_vad) {
    json = event_begin (conn, "input_audio_buffer.speech_stopped");
    /* The end of the item's audio: the closing silence included. */
    stt_test_json_add_int (json, "audio_end_ms", to_ms (r->end));
    stt_test_json_add_string (json, "item_id", item);
    event_send (conn, json);
  }
  json = event_begin (conn, "input_audio_buffer.committed");
  stt_test_json_add_string (json, "previous_item_id", oa->last_item);
  stt_test_json_add_string (json, "item_id", item);
  event_send (conn, json);
  g_free (oa->last_item);
  oa->last_item = g_strdup (item);
  oa->buffer_start = (guint64) floor (r->end * RATE + 0.5);
  if (oa->config.transcribe)
    transcribe (conn, item, r);
}

/* --- hooks --------------------------------------------------------------------------- */

static void
openai_on_open (SttTestConn * conn)
{
  OpenAI *oa = stt_test_conn_get_state (conn);

  if (oa->refusal_message) {
    g_autofree gchar *reason = g_strdup_printf ("invalid_request_error.%s",
        oa->refusal_code);

    send_error (conn, oa->refusal_code, oa->refusal_message, NULL, NULL);
    stt_test_conn_close (conn, 3000, reason);
    return;
  }
  apply_config (conn);
  send_session (conn, "session.created");
}

static void
openai_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  send_error (conn, "invalid_value", "Binary messages are not supported: send audio as "
      "base64 in input_audio_buffer.append events.", NULL, NULL);
}

static void
openai_on_text (SttTestConn * conn, const gchar * text)
{
  static const gchar *const other_events[] = { "conversation.item.create",
    "conversation.item.retrieve", "conversation.item.truncate", "conversation.item.delete",
    "response.create", "response.cancel", "output_audio_buffer.clear", NULL
  };
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = NULL;
  JsonNode *root, *n;
  const gchar *type = NULL, *event_id = NULL;

  if (json_parser_load_from_data (parser, text, -1, NULL) &&
      (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    o = json_node_get_object (root);
  if (o == NULL) {
    send_error (conn, "invalid_json", "The event is not a JSON object.", NULL, NULL);
    return;
  }
  n = json_object_get_member (o, "event_id");
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    event_id = json_node_get_string (n);
  else if (n) {
    send_error (conn, "invalid_type", "Invalid type for 'event_id': expected a string.",
        "event_id", NULL);
    return;
  }
  n = json_object_get_member (o, "type");
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    type = json_node_get_string (n);
  if (type == NULL) {
    send_error (conn, "missing_required_parameter", "Missing required parameter: 'type'.",
        "type", event_id);
  } else if (g_str_equal (type, "input_audio_buffer.append")) {
    append (conn, o, event_id);
  } else if (g_str_equal (type, "input_audio_buffer.commit")) {
    commit (conn, event_id);
  } else if (g_str_equal (type, "session.update")) {
    session_update (conn, o, event_id);
  } else if (g_str_equal (type, "input_audio_buffer.clear")) {
    clear (conn);
  } else if (g_strv_contains (other_events, type)) {
    g_autofree gchar *message = g_strdup_printf ("%s is not supported in transcription "
        "sessions.", type);
    send_error (conn, "invalid_value", message, "type", event_id);
  } else {
    g_autofree gchar *message = g_strdup_printf ("Invalid value: '%.64s'. Supported "
        "values are: 'session.update', 'input_audio_buffer.append', "
        "'input_audio_buffer.commit', 'input_audio_buffer.clear', ...", type);
    send_error (conn, "invalid_value", message, "type", event_id);
  }
}

static void
openai_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  const Config *c = &oa->config;
  SttTestJson *json;

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      if (c->vad == NULL || oa->clearing)
        break;
      g_free (oa->speech_item);
      oa->speech_item = g_strdup_printf ("item_%04u", ++oa->items);
      json = event_begin (conn, "input_audio_buffer.speech_started");
      /* The start of the item's audio: prefix_padding_ms before the speech. */
      stt_test_json_add_int (json, "audio_start_ms", MAX (0, to_ms (r->start) -
              (g_str_equal (c->vad, "server_vad") ? c->padding_ms : 0)));
      stt_test_json_add_string (json, "item_id", oa->speech_item);
      event_send (conn, json);
      break;
    case STT_TEST_ANALYZER_PARTIAL:
      break;
    case STT_TEST_ANALYZER_FINAL:
      if (oa->clearing)
        break;
      /* The VAD closes speech; the client's commit closes whatever the buffer holds. */
      if (r->from_finalize || c->vad != NULL)
        commit_item (conn, r, !r->from_finalize);
      break;
  }
}

/* The session's 60 minutes: an error, then close 1001 (as reported by users). */
static void
openai_on_tick (SttTestConn * conn)
{
  OpenAI *oa = stt_test_conn_get_state (conn);
  static const gchar message[] = "Your session hit the maximum duration of 60 minutes.";

  if (oa->expired || g_get_monotonic_time () - oa->opened < (gint64) SESSION_SECONDS *
      G_USEC_PER_SEC)
    return;
  oa->expired = TRUE;
  send_error (conn, "session_expired", message, NULL, NULL);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, message);
}

static const gchar *const openai_subprotocols[] = { "realtime", NULL };

const SttTestProtocol stt_test_protocol_openai = {
  .name = "openai",
  .path = "/v1/realtime",
  .subprotocols = openai_subprotocols,
  /* No idle close is documented. */
  .default_idle_timeout_ms = 0,
  .handshake = openai_handshake,
  .refuse = openai_refuse,
  .on_open = openai_on_open,
  .on_binary = openai_on_binary,
  .on_text = openai_on_text,
  .on_result = openai_on_result,
  .on_idle = NULL,
  .on_tick = openai_on_tick,
  .free_state = openai_free,
};
