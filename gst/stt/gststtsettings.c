/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtsettings.c: the table of stttranscribe's and sttsink's properties.
 *
 * Each row names a field of GstSttSettings by offset and says how it is exposed: its
 * kind, range, default, doc string and when it may change. Install, set, get, copy,
 * clear and set-by-name all walk this one table. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtsettings.h"

#define DEFAULT_PROVIDER "vosk"
#define MAX_LATENCY_MS 600000

typedef enum
{
  KIND_STRING,
  KIND_SECRET,                  /* a string wiped when replaced, read back as *** */
  KIND_STRUCTURE,
  KIND_BOOLEAN,
  KIND_UINT,
  KIND_INT,
  KIND_TIME,                    /* guint64 nanoseconds */
  KIND_U64,                     /* guint64 */
  KIND_MS,                      /* a guint of milliseconds, kept as a GstClockTime */
  KIND_ENUM,
  KIND_STRUCTURES,              /* a GstValueArray of GstStructure, kept as a GPtrArray */
} Kind;

typedef enum
{
  ROW_DEPRECATED = 1 << 0,
  ROW_NULL_IS_DEFAULT = 1 << 1, /* setting NULL restores the default string */
  ROW_MARKS_CHUNK = 1 << 2,     /* setting it sets chunk_duration_set */
  ROW_NOT_BY_NAME = 1 << 3,     /* not settable by name (a backup names its provider) */
  ROW_PER_PROVIDER = 1 << 4,    /* where and how to reach one service: a backup does not
                                 * inherit it from the primary */
} RowFlags;

typedef struct
{
  const gchar *name;
  const gchar *nick;
  const gchar *blurb;           /* NULL: built at install (the provider list) */
  Kind kind;
  gsize offset;
  guint64 min, max, def;        /* numbers: INT rows cast through gint64 */
  const gchar *def_string;
  RowFlags flags;
} Row;

#define F(field) G_STRUCT_OFFSET (GstSttSettings, field)
#define NS(x) ((guint64) (x))
#define ANY 0, G_MAXUINT64
#define PER 0, 0, 0, NULL, ROW_PER_PROVIDER

/* In the order gst-inspect-1.0 lists them. Every one of them is read when a stream
 * starts: a change takes effect at the next READY to PAUSED. */
static const Row rows[] = {
  {"provider", "Provider", NULL, KIND_STRING, F (provider_name), 0, 0, 0,
      DEFAULT_PROVIDER, ROW_NULL_IS_DEFAULT | ROW_NOT_BY_NAME | ROW_PER_PROVIDER},
  {"url", "URL", "Endpoint replacing the provider's default (scheme, host, port and "
        "path, e.g. ws://127.0.0.1:8080/v1/listen); the element adds the query. {token} "
        "in it is replaced by the token of each attempt (token-secret or token-url). "
        "NULL = the provider's default", KIND_STRING, F (url), PER},
  {"api-key", "API key", "Key or token for the service. Reads back as *** when set. "
        "Falls back to api-key-file, then $<PROVIDER>_API_KEY, then $STT_API_KEY",
      KIND_SECRET, F (api_key), PER},
  {"api-key-file", "API key file", "File holding the key, read again before every "
        "connection attempt (so a rotated key is picked up)", KIND_STRING,
      F (api_key_file), PER},
  {"language", "Language", "Deprecated alias of language-code", KIND_STRING,
      F (language), 0, 0, 0, NULL, ROW_DEPRECATED},
  {"model", "Model", "Recognition model; NULL = the provider's default (e.g. nova-3 "
        "for Deepgram)", KIND_STRING, F (model), PER},
  {"sample-rate", "Sample rate", "Rate of the audio sent to the service, in Hz; 0 = the "
        "provider's rate (16000 for most)", KIND_UINT, F (sample_rate), 0, 192000, 0, NULL,
      ROW_NOT_BY_NAME},
  {"chunk-duration", "Chunk duration", "Audio per WebSocket frame, in nanoseconds "
        "(10 ms to 10 s). Left unset, non-live input sent as fast as the service reads "
        "it goes in the largest frames the provider takes (e.g. 1 s; 250 ms for "
        "Deepgram)", KIND_TIME, F (chunk_duration), 10 * GST_MSECOND, 10 * GST_SECOND,
      100 * GST_MSECOND, NULL, ROW_MARKS_CHUNK},
  {"interim-results", "Interim results", "Ask the service for partial results (posted "
        "as stt-transcript with is-final=false)", KIND_BOOLEAN, F (interim_results),
      0, 1, TRUE},
  {"latency", "Latency", "Time the service may take to return text for live input, in "
        "milliseconds; added to the latency query. Text arriving later is pushed late "
        "(counted in late-results, with a WARNING)", KIND_MS, F (latency), 0,
      MAX_LATENCY_MS, 3000, NULL, ROW_NOT_BY_NAME},
  {"max-buffer-time", "Max buffer time", "Audio kept for replay after a reconnect "
        "(audio not yet final), in nanoseconds. When full, live input drops its oldest "
        "audio; non-live input waits", KIND_TIME, F (max_buffer_time), ANY,
      60 * GST_SECOND, NULL, ROW_NOT_BY_NAME},
  {"reconnect-max-attempts", "Reconnect max attempts", "Consecutive failed connection "
        "attempts before giving up with an error; -1 = never give up", KIND_INT,
      F (reconnect_max_attempts), NS (-1), G_MAXINT, NS (-1)},
  {"reconnect-initial-delay", "Reconnect initial delay", "Backoff before the second "
        "retry (the first is immediate), doubled after each failure, in nanoseconds",
      KIND_TIME, F (reconnect_initial_delay), ANY, 500 * GST_MSECOND},
  {"reconnect-max-delay", "Reconnect max delay", "Longest backoff between attempts, in "
        "nanoseconds", KIND_TIME, F (reconnect_max_delay), ANY, 30 * GST_SECOND},
  {"keepalive-interval", "Keepalive interval", "WebSocket ping interval, in "
        "nanoseconds (whole seconds); 0 = no pings", KIND_TIME, F (keepalive_interval),
      ANY, 5 * GST_SECOND},
  {"stall-timeout", "Stall timeout", "Reconnect when the server has sent nothing (no "
        "message, no pong) for this long while audio flows, in nanoseconds; 0 = never",
      KIND_TIME, F (stall_timeout), ANY, 15 * GST_SECOND},
  {"drain-timeout", "Drain timeout", "At end of stream, the longest the service may "
        "make no progress (takes no audio, sends no result) before the connection counts "
        "as stalled and the audio it has not acknowledged is sent again on a new one, in "
        "nanoseconds; 0 = never. It bounds a silence, not the drain", KIND_TIME,
      F (drain_timeout), ANY, 10 * GST_SECOND},
  {"pacing", "Pacing", "How fast non-live audio is sent", KIND_ENUM, F (pacing), 0, 0,
      GST_STT_PACING_AUTO},
  {"stats-interval", "Stats interval", "Period of the stt-stats bus message, in "
        "nanoseconds; 0 = none", KIND_TIME, F (stats_interval), ANY,
      10 * GST_SECOND, NULL, ROW_NOT_BY_NAME},
  {"tls-ca-file", "TLS CA file", "PEM file of the CA(s) to trust for wss:// and "
        "https:// instead of the system store", KIND_STRING, F (tls_ca_file)},
  {"tls-validate", "TLS validate", "Validate the server's TLS certificate. Turning this "
        "off is insecure", KIND_BOOLEAN, F (tls_validate), 0, 1, TRUE},
  {"extra-headers", "Extra headers", "Extra HTTP headers for the handshake, e.g. "
        "\"headers, X-Team=(string)news\"", KIND_STRUCTURE,
      F (extra_headers), PER},
  {"params", "Provider parameters", "Extra provider options, added to the query or "
        "configuration message, e.g. \"p, endpointing=300, smart_format=true\"",
      KIND_STRUCTURE, F (params), PER},
  {"token-url", "Token URL", "HTTP(S) URL that returns a temporary token as JSON, "
        "fetched again before every connection attempt; the token is used instead of "
        "api-key. NULL = no token service", KIND_STRING,
      F (token_url), PER},
  {"token-method", "Token method", "HTTP method of the token request", KIND_STRING,
      F (token_method), 0, 0, 0, "POST", ROW_PER_PROVIDER},
  {"token-headers", "Token headers", "Headers of the token request; $API_KEY in a value "
        "is replaced by the key (api-key, api-key-file or environment), e.g. \"h, "
        "Authorization=\\\"Token $API_KEY\\\"\"", KIND_STRUCTURE,
      F (token_headers), PER},
  {"token-field", "Token field", "Member of the token service's JSON answer holding the "
        "token. NULL = the first of access_token, token, key_value, value", KIND_STRING,
      F (token_field), PER},
  {"max-session-duration", "Max session duration", "Rotate to a new connection before "
        "this long (at the first final in its last half, at most 30 s before it), losing "
        "and doubling no audio; set it below the service's session limit, in "
        "nanoseconds; 0 = never", KIND_TIME, F (max_session_duration), ANY, 0},
  {"outage-timeout", "Outage timeout", "How long the service may be without a working "
        "connection before the element gives up, in nanoseconds; 0 = never. Non-live "
        "input then fails with an error; at end of stream the element ends the stream "
        "with a warning. Either way a warning names the audio not transcribed. Live "
        "input never gives up in mid-stream", KIND_TIME, F (outage_timeout), ANY,
      120 * GST_SECOND},
  {"language-code", "Language code", "Language code such as en or en-US; NULL = the "
        "provider's default", KIND_STRING, F (language)},
  {"lateness", "Lateness", "Extra delay given to the text, in milliseconds: added to "
        "the output segment's base and to the latency query (for a live pipeline whose "
        "sinks can wait longer than latency)", KIND_MS, F (lateness), 0, MAX_LATENCY_MS,
      0, NULL, ROW_NOT_BY_NAME},
  {"token-secret", "Token secret", "Shared secret (its UTF-8 bytes are the HMAC key) "
        "for a self-hosted relay: a fresh HS256 JWT is signed for every connection "
        "attempt and used instead of api-key (as a token: e.g. Authorization: Bearer "
        "for Deepgram) and in place of {token} in url. Not with token-url. Reads back as "
        "*** when set", KIND_SECRET, F (token_secret), PER},
  {"token-secret-file", "Token secret file", "File holding token-secret (surrounding "
        "whitespace removed), read again before every connection attempt", KIND_STRING,
      F (token_secret_file), PER},
  {"token-claims", "Token claims", "Claims of the signed token, one JSON claim per "
        "field (strings, integers, doubles, booleans), e.g. \"claims, sub=camera-7, "
        "aud=relay\". iat, exp and jti are always the element's", KIND_STRUCTURE,
      F (token_claims), PER},
  {"token-lifetime", "Token lifetime", "Validity of each signed token, in seconds: exp "
        "= iat + this", KIND_UINT, F (token_lifetime), 1, G_MAXUINT, 300, NULL,
      ROW_PER_PROVIDER},
  {"access-key", "AWS access key ID", "AWS access key ID (provider=aws). NULL = "
        "$AWS_ACCESS_KEY_ID, then the profile ($AWS_PROFILE or default) in "
        "~/.aws/credentials or ~/.aws/config", KIND_STRING,
      F (access_key), PER},
  {"secret-access-key", "AWS secret access key", "AWS secret access key, with "
        "access-key (provider=aws). Reads back as *** when set", KIND_SECRET,
      F (secret_access_key), PER},
  {"session-token", "AWS session token", "AWS session token of temporary credentials, "
        "with access-key (provider=aws). Reads back as *** when set", KIND_SECRET,
      F (session_token), PER},
  {"region", "AWS region", "AWS region such as us-west-2 (provider=aws). NULL = "
        "$AWS_REGION, $AWS_DEFAULT_REGION, then the profile's region in ~/.aws/config",
      KIND_STRING, F (region), PER},
  {"token-body", "Token request body", "JSON body of the token-url request "
        "(Content-Type: application/json), e.g. {\"ttl\": 3600} for Speechmatics' "
        "temporary keys or {\"session\": {...}} for OpenAI's client secrets; NULL = no "
        "body", KIND_STRING, F (token_body), PER},
  {"backups", "Backups", "Providers to fail over to, in order, each a structure named "
        "after the provider with its own settings as fields, e.g. "
        "<\"vosk, url=ws://127.0.0.1:2700\"> or <\"deepgram, api-key-file=/etc/dg.key, "
        "model=nova-3\">. Where and how to reach the service (url, credentials, model, "
        "params, headers, tokens) is the backup's own; everything else (language-code, "
        "timeouts, latency, ...) is the element's. A backup starts at the committed point, "
        "so no word is lost or doubled at a switch, and the primary is tried again in the "
        "background. Empty = no failover", KIND_STRUCTURES, F (backups), 0, 0, 0, NULL,
      ROW_NOT_BY_NAME | ROW_PER_PROVIDER},
  {"spool-dir", "Spool directory", "Live input: where audio that no longer fits the "
        "replay ring (max-buffer-time) during an outage is kept, in a file removed once "
        "the audio is transcribed. NULL = $XDG_CACHE_HOME/gst-stt", KIND_STRING,
      F (spool_dir), 0, 0, 0, NULL, ROW_NOT_BY_NAME},
  {"spool-max-bytes", "Spool max bytes", "Live input: the most audio kept in the spool, "
        "in bytes of the wire format (S16LE mono: 32000 a second at 16 kHz); past it the "
        "oldest goes, with a WARNING. 0 = no spool: audio past max-buffer-time is dropped",
      KIND_U64, F (spool_max_bytes), 0, G_MAXUINT64, 128 * 1024 * 1024, NULL,
      ROW_NOT_BY_NAME},
  {"failover-after", "Failover after", "Live input with backups: how long the active "
        "provider may carry no audio (refused, closed, dropped, stalled) before the next "
        "backup takes over, in nanoseconds. Non-live input fails over only when the "
        "provider gives up (outage-timeout, reconnect-max-attempts) or refuses for good; "
        "0 = so does live input", KIND_TIME, F (failover_after), ANY, 8 * GST_SECOND, NULL,
      ROW_NOT_BY_NAME},
  {"max-lag", "Max lag", "Live input: a backlog longer than this behind the live edge "
        "when the service is back (after an outage past max-buffer-time, kept in the "
        "spool) is given up in the text output: a GAP covers it, the live edge is captioned "
        "at once, and the backlog's words come as an stt-revision bus message once a second "
        "connection has transcribed it. The default keeps the text complete for any outage "
        "the replay ring holds (max-buffer-time). In nanoseconds; 0 = never: the text "
        "trails the live edge until the backlog is worked off", KIND_TIME, F (max_lag), ANY,
      60 * GST_SECOND, NULL, ROW_NOT_BY_NAME},
};

#undef F
#undef NS
#undef ANY
#undef PER

#define N_ROWS G_N_ELEMENTS (rows)

/* The installed specs, for set-by-name's parsing and range checks. */
static GParamSpec *specs[N_ROWS];

GType
gst_stt_pacing_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_STT_PACING_AUTO, "Let the provider decide (real time only where the service "
          "requires it)", "auto"},
    {GST_STT_PACING_REALTIME, "Never send faster than real time", "realtime"},
    {GST_STT_PACING_NONE, "Send as fast as the service accepts", "none"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSttPacing", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define FIELD(s, row, type) ((type *) ((guint8 *) (s) + (row)->offset))

static void
wipe_free (gchar * secret)
{
  if (secret) {
    memset (secret, 0, strlen (secret));
    g_free (secret);
  }
}

/* The names of the settings that hold secrets. */
static gboolean
is_secret_name (const gchar * name)
{
  const Row *row;

  for (row = rows; row < rows + N_ROWS; row++)
    if (row->kind == KIND_SECRET && g_str_equal (row->name, name))
      return TRUE;
  return FALSE;
}

static gboolean
wipe_cb (GQuark field, GValue * value, gpointer data)
{
  const gchar *secret;

  if (is_secret_name (g_quark_to_string (field)) && G_VALUE_HOLDS_STRING (value)
      && (secret = g_value_get_string (value)))
    memset ((gchar *) secret, 0, strlen (secret));
  return TRUE;
}

/* Frees a backup's structure, its secrets wiped first. */
static void
wipe_structure_free (GstStructure * backup)
{
  gst_structure_map_in_place (backup, wipe_cb, NULL);
  gst_structure_free (backup);
}

static gboolean
redact_cb (GQuark field, GValue * value, gpointer data)
{
  if (is_secret_name (g_quark_to_string (field)) && G_VALUE_HOLDS_STRING (value))
    g_value_set_string (value, "***");
  return TRUE;
}

/* A backup as it reads back: a new copy whose secrets are ***. */
static GstStructure *
redacted (const GstStructure * backup)
{
  GstStructure *copy = gst_structure_copy (backup);

  gst_structure_map_in_place (copy, redact_cb, NULL);
  return copy;
}

/* Frees the row's field in @s, leaving NULL (pointers only). */
static void
clear_field (GstSttSettings * s, const Row * row)
{
  switch (row->kind) {
    case KIND_SECRET:
      wipe_free (*FIELD (s, row, gchar *));
      *FIELD (s, row, gchar *) = NULL;
      break;
    case KIND_STRING:
      g_clear_pointer (FIELD (s, row, gchar *), g_free);
      break;
    case KIND_STRUCTURE:
      g_clear_pointer (FIELD (s, row, GstStructure *), gst_structure_free);
      break;
    case KIND_STRUCTURES:
      g_clear_pointer (FIELD (s, row, GPtrArray *), g_ptr_array_unref);
      break;
    default:
      break;
  }
}

static GPtrArray *
structures_copy (const GPtrArray * a)
{
  GPtrArray *copy;
  guint i;

  if (a == NULL)
    return NULL;
  copy = g_ptr_array_new_full (a->len, (GDestroyNotify) wipe_structure_free);
  for (i = 0; i < a->len; i++)
    g_ptr_array_add (copy, gst_structure_copy (g_ptr_array_index (a, i)));
  return copy;
}

/* Whether @row shares its field with an earlier row (language and language-code). */
static gboolean
is_alias (const Row * row)
{
  const Row *r;

  for (r = rows; r < row; r++)
    if (r->offset == row->offset)
      return TRUE;
  return FALSE;
}

void
gst_stt_settings_init (GstSttSettings * s)
{
  const Row *row;

  memset (s, 0, sizeof (*s));
  for (row = rows; row < rows + N_ROWS; row++) {
    if (is_alias (row))
      continue;
    switch (row->kind) {
      case KIND_STRING:
        *FIELD (s, row, gchar *) = g_strdup (row->def_string);
        break;
      case KIND_BOOLEAN:
        *FIELD (s, row, gboolean) = row->def != 0;
        break;
      case KIND_UINT:
        *FIELD (s, row, guint) = (guint) row->def;
        break;
      case KIND_INT:
        *FIELD (s, row, gint) = (gint) (gint64) row->def;
        break;
      case KIND_ENUM:
        *FIELD (s, row, gint) = (gint) row->def;
        break;
      case KIND_TIME:
      case KIND_U64:
        *FIELD (s, row, GstClockTime) = row->def;
        break;
      case KIND_MS:
        *FIELD (s, row, GstClockTime) = row->def * GST_MSECOND;
        break;
      default:
        break;
    }
  }
}

void
gst_stt_settings_copy (GstSttSettings * dst, const GstSttSettings * src)
{
  const Row *row;

  *dst = *src;
  for (row = rows; row < rows + N_ROWS; row++) {
    if (is_alias (row))
      continue;
    switch (row->kind) {
      case KIND_STRING:
      case KIND_SECRET:
        *FIELD (dst, row, gchar *) = g_strdup (*FIELD (src, row, gchar *));
        break;
      case KIND_STRUCTURE:
        if (*FIELD (src, row, GstStructure *))
          *FIELD (dst, row, GstStructure *) =
              gst_structure_copy (*FIELD (src, row, GstStructure *));
        break;
      case KIND_STRUCTURES:
        *FIELD (dst, row, GPtrArray *) = structures_copy (*FIELD (src, row, GPtrArray *));
        break;
      default:
        break;
    }
  }
}

void
gst_stt_settings_clear (GstSttSettings * s)
{
  const Row *row;

  for (row = rows; row < rows + N_ROWS; row++)
    if (!is_alias (row))
      clear_field (s, row);
}

static GParamSpec *
make_spec (const Row * row, const gchar * blurb)
{
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_NAME | G_PARAM_STATIC_NICK |
      GST_PARAM_MUTABLE_READY;

  if (row->blurb)
    flags |= G_PARAM_STATIC_BLURB;
  if (row->flags & ROW_DEPRECATED)
    flags |= G_PARAM_DEPRECATED;
  switch (row->kind) {
    case KIND_STRING:
    case KIND_SECRET:
      return g_param_spec_string (row->name, row->nick, blurb, row->def_string, flags);
    case KIND_STRUCTURE:
      return g_param_spec_boxed (row->name, row->nick, blurb, GST_TYPE_STRUCTURE, flags);
    case KIND_BOOLEAN:
      return g_param_spec_boolean (row->name, row->nick, blurb, row->def != 0, flags);
    case KIND_UINT:
    case KIND_MS:
      return g_param_spec_uint (row->name, row->nick, blurb, (guint) row->min,
          (guint) row->max, (guint) row->def, flags);
    case KIND_INT:
      return g_param_spec_int (row->name, row->nick, blurb, (gint) (gint64) row->min,
          (gint) (gint64) row->max, (gint) (gint64) row->def, flags);
    case KIND_TIME:
    case KIND_U64:
      return g_param_spec_uint64 (row->name, row->nick, blurb, row->min, row->max,
          row->def, flags);
    case KIND_ENUM:
      return g_param_spec_enum (row->name, row->nick, blurb, GST_TYPE_STT_PACING,
          (gint) row->def, flags);
    case KIND_STRUCTURES:
      return gst_param_spec_array (row->name, row->nick, blurb,
          g_param_spec_boxed ("structure", "Structure", "One structure",
              GST_TYPE_STRUCTURE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS), flags);
  }
  g_assert_not_reached ();
  return NULL;
}

guint
gst_stt_settings_install_properties (GObjectClass * klass, guint first_id)
{
  guint i;

  for (i = 0; i < N_ROWS; i++) {
    const Row *row = &rows[i];
    const gchar *blurb = row->blurb;

    if (blurb == NULL) {
      /* The provider list: known when the plugin loads, not when this file compiles. */
      g_autofree gchar *names = g_strjoinv (", ", (gchar **) stt_provider_names ());
      g_autofree gchar *text = g_strdup_printf ("Speech-to-text service protocol: %s",
          names);

      blurb = g_intern_string (text);
    }
    /* Elements that embed the engine share the table; each class gets its own specs. */
    if (specs[i] == NULL)
      specs[i] = g_param_spec_ref_sink (make_spec (row, blurb));
    g_object_class_install_property (klass, first_id + i, make_spec (row, blurb));
  }
  gst_type_mark_as_plugin_api (GST_TYPE_STT_PACING, 0);
  return first_id + N_ROWS;
}

guint
gst_stt_settings_n_properties (void)
{
  return N_ROWS;
}

void
gst_stt_settings_set_property (GstSttSettings * s, guint id, const GValue * value)
{
  const Row *row;

  g_return_if_fail (id < N_ROWS);
  row = &rows[id];
  switch (row->kind) {
    case KIND_STRING:
    case KIND_SECRET:
      clear_field (s, row);
      *FIELD (s, row, gchar *) = g_value_dup_string (value);
      if (*FIELD (s, row, gchar *) == NULL && (row->flags & ROW_NULL_IS_DEFAULT))
        *FIELD (s, row, gchar *) = g_strdup (row->def_string);
      break;
    case KIND_STRUCTURE:
      clear_field (s, row);
      *FIELD (s, row, GstStructure *) = g_value_dup_boxed (value);
      break;
    case KIND_BOOLEAN:
      *FIELD (s, row, gboolean) = g_value_get_boolean (value);
      break;
    case KIND_UINT:
      *FIELD (s, row, guint) = g_value_get_uint (value);
      break;
    case KIND_INT:
      *FIELD (s, row, gint) = g_value_get_int (value);
      break;
    case KIND_ENUM:
      *FIELD (s, row, gint) = g_value_get_enum (value);
      break;
    case KIND_TIME:
    case KIND_U64:
      *FIELD (s, row, GstClockTime) = g_value_get_uint64 (value);
      break;
    case KIND_MS:
      *FIELD (s, row, GstClockTime) = g_value_get_uint (value) * GST_MSECOND;
      break;
    case KIND_STRUCTURES:{
      guint i, n = gst_value_array_get_size (value);
      GPtrArray *a = NULL;

      clear_field (s, row);
      for (i = 0; i < n; i++) {
        const GValue *item = gst_value_array_get_value (value, i);

        /* Anything but a structure was refused by the spec's validation. */
        if (!GST_VALUE_HOLDS_STRUCTURE (item))
          continue;
        if (a == NULL)
          a = g_ptr_array_new_full (n, (GDestroyNotify) wipe_structure_free);
        g_ptr_array_add (a, gst_structure_copy (gst_value_get_structure (item)));
      }
      *FIELD (s, row, GPtrArray *) = a;
      break;
    }
  }
  if (row->flags & ROW_MARKS_CHUNK)
    s->chunk_duration_set = TRUE;
}

void
gst_stt_settings_get_property (const GstSttSettings * s, guint id, GValue * value)
{
  const Row *row;

  g_return_if_fail (id < N_ROWS);
  row = &rows[id];
  switch (row->kind) {
    case KIND_STRING:
      g_value_set_string (value, *FIELD (s, row, gchar *));
      break;
    case KIND_SECRET:
      /* Never readable in clear. */
      g_value_set_string (value, *FIELD (s, row, gchar *) ? "***" : NULL);
      break;
    case KIND_STRUCTURE:
      g_value_set_boxed (value, *FIELD (s, row, GstStructure *));
      break;
    case KIND_BOOLEAN:
      g_value_set_boolean (value, *FIELD (s, row, gboolean));
      break;
    case KIND_UINT:
      g_value_set_uint (value, *FIELD (s, row, guint));
      break;
    case KIND_INT:
      g_value_set_int (value, *FIELD (s, row, gint));
      break;
    case KIND_ENUM:
      g_value_set_enum (value, *FIELD (s, row, gint));
      break;
    case KIND_TIME:
    case KIND_U64:
      g_value_set_uint64 (value, *FIELD (s, row, GstClockTime));
      break;
    case KIND_MS:
      g_value_set_uint (value, MIN (*FIELD (s, row, GstClockTime) / GST_MSECOND,
              G_MAXUINT));
      break;
    case KIND_STRUCTURES:{
      GPtrArray *a = *FIELD (s, row, GPtrArray *);
      guint i;

      for (i = 0; a && i < a->len; i++) {
        GValue item = G_VALUE_INIT;

        g_value_init (&item, GST_TYPE_STRUCTURE);
        g_value_take_boxed (&item, redacted (g_ptr_array_index (a, i)));
        gst_value_array_append_and_take_value (value, &item);
      }
      break;
    }
  }
}

gboolean
gst_stt_settings_set_by_name (GstSttSettings * s, const gchar * name,
    const GValue * value, GError ** error)
{
  GValue v = G_VALUE_INIT;
  GParamSpec *spec = NULL;
  guint i;

  for (i = 0; i < N_ROWS; i++)
    if (g_str_equal (rows[i].name, name) && !(rows[i].flags & ROW_NOT_BY_NAME))
      spec = specs[i];
  if (spec == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "'%s' is not a setting of its own", name);
    return FALSE;
  }
  for (i = 0; i < N_ROWS && specs[i] != spec; i++);

  g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (spec));
  if (G_VALUE_HOLDS (value, G_PARAM_SPEC_VALUE_TYPE (spec))) {
    g_value_copy (value, &v);
  } else if (G_VALUE_HOLDS_STRING (value) && g_value_get_string (value) &&
      gst_value_deserialize_with_pspec (&v, g_value_get_string (value), spec)) {
    /* parsed */
  } else if (!G_VALUE_HOLDS_STRING (value) && g_value_type_transformable (G_VALUE_TYPE
          (value), G_VALUE_TYPE (&v)) && g_value_transform (value, &v)) {
    /* a number of another width or sign; the range check follows */
  } else {
    g_value_unset (&v);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "'%s' cannot be set from a %s", name, G_VALUE_TYPE_NAME (value));
    return FALSE;
  }
  if (g_param_value_validate (spec, &v)) {
    g_value_unset (&v);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "'%s' is out of range", name);
    return FALSE;
  }
  gst_stt_settings_set_property (s, i, &v);
  g_value_unset (&v);
  return TRUE;
}

static gboolean
add_field_cb (GQuark field, const GValue * value, gpointer data)
{
  GPtrArray *arr = data;

  g_ptr_array_add (arr, g_strdup (g_quark_to_string (field)));
  g_ptr_array_add (arr, G_VALUE_HOLDS_STRING (value) ? g_value_dup_string (value) :
      gst_value_serialize (value));
  return TRUE;
}

gchar **
gst_stt_settings_structure_to_strv (const GstStructure * s)
{
  GPtrArray *kv;

  if (s == NULL)
    return NULL;
  kv = g_ptr_array_new ();
  gst_structure_foreach (s, add_field_cb, kv);
  g_ptr_array_add (kv, NULL);
  return (gchar **) g_ptr_array_free (kv, FALSE);
}

GHashTable *
gst_stt_settings_structure_to_table (const GstStructure * s)
{
  g_auto (GStrv) kv = gst_stt_settings_structure_to_strv (s);
  GHashTable *table;
  guint i;

  if (kv == NULL)
    return NULL;
  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (i = 0; kv[i] && kv[i + 1]; i += 2)
    g_hash_table_replace (table, g_strdup (kv[i]), g_strdup (kv[i + 1]));
  return table;
}

gboolean
gst_stt_settings_for_backup (GstSttSettings * dst, const GstSttSettings * primary,
    const GstStructure * backup, GError ** error)
{
  const gchar *name = gst_structure_get_name (backup);
  const Row *row;
  guint i, n;

  if (stt_provider_lookup (name) == NULL) {
    g_autofree gchar *known = g_strjoinv (", ", (gchar **) stt_provider_names ());

    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "backup '%s' is not a provider (known providers: %s)", name, known);
    return FALSE;
  }
  gst_stt_settings_copy (dst, primary);
  /* Where and how to reach a service is the backup's own: back to the defaults. */
  for (row = rows; row < rows + N_ROWS; row++) {
    GValue v = G_VALUE_INIT;

    if (!(row->flags & ROW_PER_PROVIDER) || is_alias (row))
      continue;
    g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (specs[row - rows]));
    g_param_value_set_default (specs[row - rows], &v);
    gst_stt_settings_set_property (dst, row - rows, &v);
    g_value_unset (&v);
  }
  g_free (dst->provider_name);
  dst->provider_name = g_strdup (name);
  dst->provider = NULL;
  n = gst_structure_n_fields (backup);
  for (i = 0; i < n; i++) {
    const gchar *field = gst_structure_nth_field_name (backup, i);
    GError *err = NULL;

    if (!gst_stt_settings_set_by_name (dst, field, gst_structure_get_value (backup,
                field), &err)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "backup '%s': %s", name, err->message);
      g_error_free (err);
      gst_stt_settings_clear (dst);
      return FALSE;
    }
  }
  return TRUE;
}
