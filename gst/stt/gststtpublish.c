/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-sttpublish
 * @title: sttpublish
 *
 * Publishes timestamped text (what `stttranscribe` outputs: `text/x-raw, format=utf8`
 * with PTS and DURATION) to a room of a caption fan-out server
 * (`tools/stt-caption-server`, protocol in docs/caption-server.md), from which any number
 * of viewers watch it live.
 *
 * Every buffer is a final caption, `{"type":"caption","seq":N,"final":true,"text":...,
 * "start":S,"end":E}` with the buffer's PTS and PTS + DURATION as stream time in seconds
 * (millisecond precision), unless it carries the `GstSttTextMeta` custom meta with
 * `final=false` (`speaker` and `language` of that meta are sent too). `stttranscribe`
 * outputs finals only (a word once out is never taken back), so its output becomes
 * finals one for one: a word per caption in its `words` mode, a cue per caption in
 * `segments` mode. When its stream starts the element asks upstream for interim text
 * (the upstream event `stt-want-interim`); each `stt-interim` event `stttranscribe` then
 * sends becomes an interim caption (`"final":false`, no seq), never stored, replaced by
 * the next caption (only the latest one not yet sent is kept). Each `stt-revision` event
 * (the primary's words for a stretch whose text went out before, see docs/messages.md)
 * becomes `{"type":"revision","seq":N,"start":S,"end":E,"text":...,"words":[{"text":...,
 * "start":...,"end":...},...]}` in stream time, numbered, kept and resent like a final;
 * the server puts its words in place of this publisher's captions that start in
 * [S, E) in the room's stored transcript.
 *
 * The connection runs on the plugin's shared I/O threads: `render` never waits on the
 * network. Finals are kept until the server acknowledges them (cumulative `ack`), at most
 * `max-pending`: beyond that the oldest is dropped and a WARNING (at most one per 10 s,
 * and one at end of stream or stop for the rest) says how many were lost, counted in
 * `dropped`. A connection drop is retried with backoff (`reconnect-*`, as stttranscribe);
 * on the new connection's welcome the finals the server already stored (`last_seq`) are
 * forgotten and the others sent again in order, so a viewer never sees one twice nor
 * misses one. The server's closes 4001 (token refused: RESOURCE/NOT_AUTHORIZED), 4004
 * (room refused: RESOURCE/SETTINGS) and 1003 (malformed message: RESOURCE/FAILED) are
 * errors; every other close is retried.
 *
 * Each attempt authenticates with a fresh HS256 token signed with `token-secret` (or
 * `token-secret-file`) with the claims `room` (the url's room), `role` ("publish"),
 * `iat`, `exp` (iat + `token-lifetime`), `jti` and `token-claims` (e.g. `sub`, the
 * publisher's name), sent as `Authorization: Bearer`; or with a token fetched from
 * `token-url` before every attempt; or with the `?token=` of the url as it is.
 *
 * At end of stream the element waits up to `drain-timeout` until every final is
 * acknowledged, closes with 1000 and posts EOS; finals still unconfirmed then are named
 * in a WARNING (RESOURCE/WRITE, details `unconfirmed`), never silently lost. The same
 * goes for a stop (state change to READY) with finals unconfirmed.
 *
 * Bus messages: `sttpublish-connection` (element message) on every change: `schema`
 * (u, 1), `room` (s), `state` (s: connecting, connected, reconnecting, closed, failed),
 * `attempt` (u), `connection` (u), `retry-in` (GstClockTime), `reason` (s, secrets
 * redacted), `http-status` (u), `close-code` (i), `last-seq` (u64, the welcome's),
 * `resent` (u, finals sent again on a new connection), `pending` (u). Errors carry `url`
 * (redacted), `room`, `http-status` and `close-code` in their details; the warnings of
 * lost captions `dropped` and `dropped-total` (max-pending) or `unconfirmed` (end of
 * stream, stop), with `room`. See docs/publish.md.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 pulsesrc ! audioconvert ! stttranscribe provider=deepgram \
 *     api-key-file=dg.key ! sttpublish url=ws://127.0.0.1:8080/publish/demo \
 *     token-secret-file=secret token-claims="claims, sub=studio-a"
 * ]| Live captions of a microphone, word by word, to the room `demo`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtpublish.h"
#include "gststtpublisher.h"
#include "gststtinterim.h"
#include "gststtsession.h"
#include "gststtjwt.h"
#include "sttredact.h"

GST_DEBUG_CATEGORY_STATIC (stt_publish_debug);
#define GST_CAT_DEFAULT stt_publish_debug

/* Words in one revision message: a server takes messages up to --max-message (64 KiB
 * by default) and a word takes about 50 bytes; a longer revision goes as several. */
#define MAX_REVISION_WORDS 400

#define DEFAULT_URL NULL
#define DEFAULT_TOKEN_LIFETIME 300
#define DEFAULT_TOKEN_METHOD "POST"
#define DEFAULT_TLS_VALIDATE TRUE
#define DEFAULT_RECONNECT_MAX_ATTEMPTS -1
#define DEFAULT_RECONNECT_INITIAL_DELAY (500 * GST_MSECOND)
#define DEFAULT_RECONNECT_MAX_DELAY (30 * GST_SECOND)
#define DEFAULT_KEEPALIVE_INTERVAL (5 * GST_SECOND)
#define DEFAULT_STALL_TIMEOUT (15 * GST_SECOND)
#define DEFAULT_MAX_PENDING 10000
#define DEFAULT_DRAIN_TIMEOUT (10 * GST_SECOND)

/* Drops are said at most this often (and once more at the end for the rest). */
#define DROP_WARNING_US (10 * G_USEC_PER_SEC)
/* How long the closing handshake may take after the drain. */
#define CLOSE_WAIT_US (2 * G_USEC_PER_SEC)
#define MAX_ROOM 64

enum
{
  PROP_0,
  PROP_URL,
  PROP_TOKEN_SECRET,
  PROP_TOKEN_SECRET_FILE,
  PROP_TOKEN_CLAIMS,
  PROP_TOKEN_LIFETIME,
  PROP_TOKEN_URL,
  PROP_TOKEN_METHOD,
  PROP_TOKEN_HEADERS,
  PROP_TOKEN_FIELD,
  PROP_TLS_VALIDATE,
  PROP_TLS_CA_FILE,
  PROP_RECONNECT_MAX_ATTEMPTS,
  PROP_RECONNECT_INITIAL_DELAY,
  PROP_RECONNECT_MAX_DELAY,
  PROP_KEEPALIVE_INTERVAL,
  PROP_STALL_TIMEOUT,
  PROP_MAX_PENDING,
  PROP_DRAIN_TIMEOUT,
  PROP_PUBLISHED,
  PROP_ACKNOWLEDGED,
  PROP_DROPPED,
};

struct _GstSttPublish
{
  GstBaseSink parent;

  /* Properties, under the object lock. */
  gchar *url;
  gchar *token_secret;          /* wiped when replaced or freed */
  gchar *token_secret_file;
  GstStructure *token_claims;
  guint token_lifetime;
  gchar *token_url;
  gchar *token_method;
  GstStructure *token_headers;
  gchar *token_field;
  gboolean tls_validate;
  gchar *tls_ca_file;
  gint reconnect_max_attempts;
  GstClockTime reconnect_initial_delay;
  GstClockTime reconnect_max_delay;
  GstClockTime keepalive_interval;
  GstClockTime stall_timeout;
  guint max_pending;
  GstClockTime drain_timeout;

  /* The stream (READY to PAUSED and back). */
  GstSttPublisher *publisher;   /* set and cleared by state changes */
  gchar *room;
  gchar *url_redacted;
  GstClockTime last_end;        /* streaming thread: where a caption without PTS starts */
  gboolean drained;             /* the end of stream said what was left unconfirmed */
  /* Under the object lock. */
  GstSttPublisherCounts counts; /* of the last stream, once it stopped */
  guint64 drops_unsaid;         /* dropped finals no warning named yet */
  gint64 drop_warned_at;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("text/x-raw, format=(string)utf8"));

static void
text_meta_register (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once)) {
    static const gchar *tags[] = { NULL };

    gst_meta_register_custom (GST_STT_TEXT_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
}

G_DEFINE_TYPE (GstSttPublish, gst_stt_publish, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (sttpublish, "sttpublish", GST_RANK_NONE,
    GST_TYPE_STT_PUBLISH, text_meta_register ());

/* ------------------------------------------------------------------------------------ */
/* Publisher callbacks (I/O thread, no lock held) */

static void
on_connection (GstSttPublisher * p, const GstSttPublisherConnectionInfo * info,
    gpointer user_data)
{
  GstSttPublish *self = user_data;
  GstStructure *s = gst_structure_new (GST_STT_PUBLISH_MESSAGE_CONNECTION,
      "schema", G_TYPE_UINT, GST_STT_SCHEMA_VERSION,
      "room", G_TYPE_STRING, self->room,
      "state", G_TYPE_STRING, gst_stt_connection_state_name (info->state),
      "attempt", G_TYPE_UINT, info->attempt,
      "connection", G_TYPE_UINT, info->connection,
      "retry-in", GST_TYPE_CLOCK_TIME, info->retry_in,
      "reason", G_TYPE_STRING, info->reason ? info->reason : "",
      "http-status", G_TYPE_UINT, info->http_status,
      "close-code", G_TYPE_INT, info->close_code,
      "last-seq", G_TYPE_UINT64, info->last_seq,
      "resent", G_TYPE_UINT, info->resent,
      "pending", G_TYPE_UINT, info->pending, NULL);

  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static GstStructure *
details_new (GstSttPublish * self, guint http_status, gint close_code)
{
  return gst_structure_new ("details", "url", G_TYPE_STRING, self->url_redacted,
      "room", G_TYPE_STRING, self->room, "http-status", G_TYPE_UINT, http_status,
      "close-code", G_TYPE_INT, close_code, NULL);
}

static void
on_error (GstSttPublisher * p, GQuark domain, gint code, const gchar * text,
    guint http_status, gint close_code, gpointer user_data)
{
  GstSttPublish *self = user_data;

  gst_element_message_full_with_details (GST_ELEMENT (self), GST_MESSAGE_ERROR, domain,
      code, g_strdup (text), NULL, __FILE__, GST_FUNCTION, __LINE__,
      details_new (self, http_status, close_code));
}

static void
on_warning (GstSttPublisher * p, const gchar * text, gpointer user_data)
{
  GstSttPublish *self = user_data;

  gst_element_message_full_with_details (GST_ELEMENT (self), GST_MESSAGE_WARNING,
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, g_strdup (text), NULL,
      __FILE__, GST_FUNCTION, __LINE__, details_new (self, 0, 0));
}

static const GstSttPublisherCallbacks publisher_callbacks = {
  .connection = on_connection,
  .error = on_error,
  .warning = on_warning,
};

/* ------------------------------------------------------------------------------------ */
/* Warnings of lost captions */

/* Finals were dropped (max-pending): said at once, then at most every DROP_WARNING_US,
 * and with @force whatever is left unsaid. Any thread, no lock held. */
static void
note_dropped (GstSttPublish * self, guint n, gboolean force)
{
  gint64 now = g_get_monotonic_time ();
  GstSttPublisherCounts counts;
  guint64 say = 0;
  guint max;

  GST_OBJECT_LOCK (self);
  self->drops_unsaid += n;
  if (self->drops_unsaid && (force || self->drop_warned_at == 0
          || now - self->drop_warned_at >= DROP_WARNING_US)) {
    say = self->drops_unsaid;
    self->drops_unsaid = 0;
    self->drop_warned_at = now;
  }
  max = self->max_pending;
  counts = self->counts;
  if (self->publisher)
    gst_stt_publisher_get_counts (self->publisher, &counts);
  GST_OBJECT_UNLOCK (self);
  if (say == 0)
    return;
  GST_ELEMENT_WARNING_WITH_DETAILS (self, RESOURCE, WRITE, ("%" G_GUINT64_FORMAT
          " caption(s) were dropped before the caption server confirmed them: "
          "max-pending (%u) captions were already waiting for its acknowledgement",
          say, max), (NULL), ("dropped", G_TYPE_UINT64, say, "dropped-total",
          G_TYPE_UINT64, counts.dropped, "room", G_TYPE_STRING, self->room, NULL));
}

/* Finals the server never confirmed, said when the stream ends (@why). */
static void
warn_unconfirmed (GstSttPublish * self, guint n, const gchar * why)
{
  if (n == 0)
    return;
  GST_ELEMENT_WARNING_WITH_DETAILS (self, RESOURCE, WRITE, ("%u caption(s) were not "
          "confirmed by the caption server %s: %s", n, self->url_redacted, why), (NULL),
      ("unconfirmed", G_TYPE_UINT, n, "room", G_TYPE_STRING, self->room,
          "url", G_TYPE_STRING, self->url_redacted, NULL));
}

/* ------------------------------------------------------------------------------------ */
/* Settings */

static gboolean
is_room_name (const gchar * s)
{
  gsize n = 0;

  for (; *s; s++, n++) {
    if (!g_ascii_isalnum (*s) && *s != '_' && *s != '-')
      return FALSE;
  }
  return n >= 1 && n <= MAX_ROOM;
}

/* The room of @url (ws(s)://host[:port]/publish/ROOM[?query]), or NULL. */
static gchar *
room_of (const gchar * url, gboolean * has_token)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  const gchar *path, *query;

  *has_token = FALSE;
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0'
      || (g_ascii_strcasecmp (g_uri_get_scheme (uri), "ws") != 0
          && g_ascii_strcasecmp (g_uri_get_scheme (uri), "wss") != 0))
    return NULL;
  path = g_uri_get_path (uri);
  if (!g_str_has_prefix (path, "/publish/") || !is_room_name (path + 9))
    return NULL;
  query = g_uri_get_query (uri);
  if (query) {
    g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
        G_URI_PARAMS_NONE, NULL);

    *has_token = params && g_hash_table_contains (params, "token");
  }
  return g_strdup (path + 9);
}

/* name, value, ..., NULL from @s's fields (strings as they are, others serialized). */
static gchar **
headers_from_structure (const GstStructure * s)
{
  guint i, n = s ? (guint) gst_structure_n_fields (s) : 0;
  gchar **out;

  if (s == NULL)
    return NULL;
  out = g_new0 (gchar *, 2 * n + 1);
  for (i = 0; i < n; i++) {
    const gchar *name = gst_structure_nth_field_name (s, i);
    const GValue *v = gst_structure_get_value (s, name);

    out[2 * i] = g_strdup (name);
    out[2 * i + 1] = G_VALUE_HOLDS_STRING (v) ? g_value_dup_string (v) :
        gst_value_serialize (v);
  }
  return out;
}

static void
post_settings_error (GstSttPublish * self, GError * err)
{
  gst_element_message_full_with_details (GST_ELEMENT (self), GST_MESSAGE_ERROR,
      err->domain, err->code, g_strdup (err->message), NULL, __FILE__, GST_FUNCTION,
      __LINE__, gst_structure_new ("details", "url", G_TYPE_STRING,
          self->url_redacted ? self->url_redacted : "", NULL));
  g_error_free (err);
}

/* The token settings: exactly one source of tokens, a readable secret file, claims that
 * JSON can carry. Call without the object lock; the config holds copies. */
static gboolean
check_token_settings (GstSttPublish * self, GstSttPublisherConfig * c,
    const GstStructure * claims, gboolean url_token)
{
  static const gchar *const http_schemes[] = { "https", "http", NULL };
  gboolean secret = (c->token_secret && *c->token_secret)
      || (c->token_secret_file && *c->token_secret_file);
  gboolean fetch = c->token_url && *c->token_url;
  gboolean clear = FALSE;
  const gchar *bad = NULL;
  GError *err = NULL;
  gchar *s;
  guint i;

  if (secret + fetch + url_token != 1) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", secret + fetch + url_token == 0 ?
            "No token for the caption server: set token-secret (or token-secret-file), "
            "token-url, or ?token= in url" : "Choose one source of tokens for the "
            "caption server: token-secret (or token-secret-file), token-url, or ?token= "
            "in url"), (NULL));
    return FALSE;
  }
  if (fetch && !gst_stt_session_check_url ("token-url", c->token_url, http_schemes,
          &clear, &err)) {
    post_settings_error (self, err);
    return FALSE;
  }
  if (clear)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("token-url is http:// to another "
            "machine: the token will travel in cleartext, use https://"), (NULL));
  if (secret && !(c->token_secret && *c->token_secret)) {
    s = gst_stt_session_resolve_secret (NULL, c->token_secret_file, &err);
    if (s == NULL) {
      post_settings_error (self, err);
      return FALSE;
    }
    memset (s, 0, strlen (s));
    g_free (s);
  }
  c->token_claims = gst_stt_jwt_claims_from_structure (claims, &bad);
  if (claims && c->token_claims == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("token-claims field '%s' is of type %s: "
            "claims are strings, integers, doubles or booleans", bad,
            g_type_name (gst_structure_get_field_type (claims, bad))), (NULL));
    return FALSE;
  }
  for (i = 0; claims && i < (guint) gst_structure_n_fields (claims); i++) {
    const gchar *name = gst_structure_nth_field_name (claims, i);

    if (gst_stt_jwt_is_reserved_claim (name) || g_str_equal (name, "room")
        || g_str_equal (name, "role"))
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("token-claims field '%s' is "
              "ignored: every token gets room (the url's), role (publish), iat, exp and "
              "jti from the element", name), (NULL));
  }
  if (claims && !secret)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("token-claims is ignored: only "
            "tokens signed with token-secret carry it"), (NULL));
  return TRUE;
}

/* Settings that cannot work are said at start, before any connection. Returns the
 * publisher's configuration, or FALSE (an error was posted). */
static gboolean
check_settings (GstSttPublish * self, GstSttPublisherConfig * c)
{
  static const gchar *const ws_schemes[] = { "wss", "ws", NULL };
  g_autoptr (GstStructure) claims = NULL;
  gboolean url_token = FALSE, clear = FALSE;
  GError *err = NULL;

  memset (c, 0, sizeof (*c));
  GST_OBJECT_LOCK (self);
  c->url = g_strdup (self->url);
  c->token_secret = g_strdup (self->token_secret);
  c->token_secret_file = g_strdup (self->token_secret_file);
  claims = self->token_claims ? gst_structure_copy (self->token_claims) : NULL;
  c->token_lifetime = self->token_lifetime;
  c->token_url = g_strdup (self->token_url);
  c->token_method = g_strdup (self->token_method);
  c->token_headers = headers_from_structure (self->token_headers);
  c->token_field = g_strdup (self->token_field);
  c->tls_validate = self->tls_validate;
  c->tls_ca_file = g_strdup (self->tls_ca_file);
  c->reconnect_max_attempts = self->reconnect_max_attempts;
  c->reconnect_initial_delay = self->reconnect_initial_delay;
  c->reconnect_max_delay = self->reconnect_max_delay;
  c->keepalive_interval = self->keepalive_interval;
  c->stall_timeout = self->stall_timeout;
  c->max_pending = self->max_pending;
  GST_OBJECT_UNLOCK (self);

  g_clear_pointer (&self->url_redacted, g_free);
  g_clear_pointer (&self->room, g_free);
  if (c->url == NULL || *c->url == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No url: set it to the caption server's "
            "ws://HOST:PORT/publish/ROOM (or wss://)"), (NULL));
    goto failed;
  }
  self->url_redacted = stt_redact_url (c->url);
  if (!gst_stt_session_check_url ("url", c->url, ws_schemes, &clear, &err)) {
    post_settings_error (self, err);
    goto failed;
  }
  c->room = room_of (c->url, &url_token);
  if (c->room == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("url '%s' is not a caption server's "
            "publishing URL: it needs ws:// or wss://, a host and the path /publish/ROOM, "
            "ROOM being 1 to %u of A-Z a-z 0-9 _ -", self->url_redacted, MAX_ROOM),
        (NULL));
    goto failed;
  }
  self->room = g_strdup (c->room);
  if (!check_token_settings (self, c, claims, url_token))
    goto failed;
  if (clear)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("The token for the caption server "
            "will travel in cleartext (url is ws:// to another machine): use wss://"),
        (NULL));
  if (!c->tls_validate)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("tls-validate=false: the caption "
            "server's certificate is not checked, anyone on the path can read the "
            "captions and the token"), (NULL));
  return TRUE;

failed:
  gst_stt_publisher_config_clear (c);
  return FALSE;
}

/* ------------------------------------------------------------------------------------ */
/* GstBaseSink */

static gboolean
gst_stt_publish_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  return TRUE;
}

/* Whole milliseconds: what the wire carries. */
static guint64
to_ms (GstClockTime t)
{
  return (t + GST_MSECOND / 2) / GST_MSECOND;
}

/* @pts as stream time of the segment; a time before it is 0, one the segment cannot
 * place stays as it is. */
static GstClockTime
stream_time (GstBaseSink * sink, GstClockTime pts)
{
  guint64 st = pts;
  gint sign = 0;

  GST_OBJECT_LOCK (sink);
  if (sink->segment.format == GST_FORMAT_TIME)
    sign = gst_segment_to_stream_time_full (&sink->segment, GST_FORMAT_TIME, pts, &st);
  GST_OBJECT_UNLOCK (sink);
  if (sign > 0)
    return st;
  return sign < 0 ? 0 : pts;
}

static GstSttCaption *
caption_from_buffer (GstSttPublish * self, GstBuffer * buf, gboolean * final)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, GST_STT_TEXT_META_NAME);
  GstStructure *ms = meta ? gst_custom_meta_get_structure (meta) : NULL;
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf), start, end;
  g_autofree gchar *text = NULL;
  GstMapInfo map;
  const gchar *p;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return NULL;
  text = g_utf8_make_valid ((const gchar *) map.data, map.size);
  gst_buffer_unmap (buf, &map);
  for (p = text; *p && g_ascii_isspace (*p); p++);
  if (*p == '\0')
    return NULL;

  *final = TRUE;
  if (ms)
    gst_structure_get_boolean (ms, "final", final);
  /* A caption without a time follows the previous one. */
  start = GST_CLOCK_TIME_IS_VALID (pts) ? stream_time (GST_BASE_SINK (self), pts) :
      self->last_end;
  end = start + (GST_CLOCK_TIME_IS_VALID (dur) ? dur : 0);
  self->last_end = end;
  return gst_stt_caption_new (text, to_ms (start), to_ms (end),
      ms ? gst_structure_get_string (ms, "speaker") : NULL,
      ms ? gst_structure_get_string (ms, "language") : NULL);
}

/* An interim text event (gststtinterim.h) as an interim caption, or NULL. */
static GstSttCaption *
caption_from_interim (GstSttPublish * self, const GstStructure * s)
{
  const gchar *text = gst_structure_get_string (s, "text");
  GstClockTime start = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;
  g_autofree gchar *valid = NULL;
  const gchar *p;

  if (text == NULL)
    return NULL;
  valid = g_utf8_make_valid (text, -1);
  for (p = valid; *p && g_ascii_isspace (*p); p++);
  if (*p == '\0')
    return NULL;
  if (!gst_structure_get_clock_time (s, "start", &start)
      || !GST_CLOCK_TIME_IS_VALID (start))
    start = self->last_end;
  else
    start = stream_time (GST_BASE_SINK (self), start);
  if (!gst_structure_get_clock_time (s, "end", &end) || !GST_CLOCK_TIME_IS_VALID (end))
    end = start;
  else
    end = MAX (stream_time (GST_BASE_SINK (self), end), start);
  return gst_stt_caption_new (valid, to_ms (start), to_ms (end),
      gst_structure_get_string (s, "speaker"), gst_structure_get_string (s, "language"));
}

/* A revision event (gststtmessage.h) as a revision of the same stretch in stream time,
 * with its words; NULL when it cannot be placed. */
static GstSttCaption *
caption_from_revision (GstSttPublish * self, const GstStructure * s)
{
  GstBaseSink *sink = GST_BASE_SINK (self);
  const GValue *words = gst_structure_get_value (s, "words");
  GstClockTime pts = GST_CLOCK_TIME_NONE, duration = 0, start;
  g_autofree gchar *text = NULL;
  GstSttCaption *c;
  guint i, n;

  if (!gst_structure_get_clock_time (s, "pts", &pts) || !GST_CLOCK_TIME_IS_VALID (pts))
    return NULL;
  if (!gst_structure_get_clock_time (s, "duration", &duration)
      || !GST_CLOCK_TIME_IS_VALID (duration))
    duration = 0;
  text = g_utf8_make_valid (gst_structure_get_string (s, "text") ?
      gst_structure_get_string (s, "text") : "", -1);
  start = stream_time (sink, pts);
  n = words && GST_VALUE_HOLDS_ARRAY (words) ? gst_value_array_get_size (words) : 0;
  c = gst_stt_caption_new_revision (g_strstrip (text), to_ms (start),
      to_ms (MAX (stream_time (sink, pts + duration), start)));
  for (i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (words, i);
    const GstStructure *w = GST_VALUE_HOLDS_STRUCTURE (v) ? gst_value_get_structure (v) :
        NULL;
    const gchar *t = w ? gst_structure_get_string (w, "text") : NULL;
    GstClockTime ws = GST_CLOCK_TIME_NONE, we = GST_CLOCK_TIME_NONE;
    g_autofree gchar *valid = NULL;

    if (t == NULL || !gst_structure_get_clock_time (w, "start", &ws)
        || !GST_CLOCK_TIME_IS_VALID (ws))
      continue;
    if (!gst_structure_get_clock_time (w, "end", &we) || !GST_CLOCK_TIME_IS_VALID (we)
        || we < ws)
      we = ws;
    valid = g_utf8_make_valid (t, -1);
    g_strstrip (valid);
    if (*valid == '\0')
      continue;
    ws = stream_time (sink, ws);
    gst_stt_caption_add_word (c, valid, to_ms (ws), to_ms (MAX (stream_time (sink, we),
                ws)));
  }
  return c;
}

/* @rev cut into revisions of at most MAX_REVISION_WORDS words (taken; in order): each
 * covers from its first word's start (the first: @rev's start) to the next one's first
 * word's start (the last: @rev's end), so that together they replace what @rev does.
 * Their text is @rev's, word for word when it has as many words, else their words. */
static GPtrArray *
split_revision (GstSttCaption * rev)
{
  GPtrArray *out = g_ptr_array_new ();
  g_auto (GStrv) tokens = NULL;
  guint n = rev->words->len, from, i;
  gboolean formatted;

  if (n <= MAX_REVISION_WORDS) {
    g_ptr_array_add (out, rev);
    return out;
  }
  tokens = g_strsplit_set (rev->text, " \t\n", -1);
  /* Empty tokens (runs of blanks) out. */
  for (i = 0, from = 0; tokens[i]; i++) {
    if (*tokens[i])
      tokens[from++] = tokens[i];
    else
      g_free (tokens[i]);
  }
  tokens[from] = NULL;
  formatted = g_strv_length (tokens) == n;
  for (from = 0; from < n; from += MAX_REVISION_WORDS) {
    guint to = MIN (from + MAX_REVISION_WORDS, n);
    GstSttCaptionWord *first = &g_array_index (rev->words, GstSttCaptionWord, from);
    GString *text = g_string_new (NULL);
    GstSttCaption *c;

    for (i = from; i < to; i++)
      g_string_append_printf (text, "%s%s", i > from ? " " : "", formatted ? tokens[i] :
          g_array_index (rev->words, GstSttCaptionWord, i).text);
    c = gst_stt_caption_new_revision (text->str, from == 0 ? rev->start_ms :
        first->start_ms, to == n ? rev->end_ms :
        g_array_index (rev->words, GstSttCaptionWord, to).start_ms);
    for (i = from; i < to; i++) {
      GstSttCaptionWord *w = &g_array_index (rev->words, GstSttCaptionWord, i);

      gst_stt_caption_add_word (c, w->text, w->start_ms, w->end_ms);
    }
    g_string_free (text, TRUE);
    g_ptr_array_add (out, c);
  }
  gst_stt_caption_free (rev);
  return out;
}

static GstFlowReturn
gst_stt_publish_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstSttPublish *self = GST_STT_PUBLISH (sink);
  GstSttCaption *c;
  gboolean final = TRUE;
  guint dropped;

  if (self->publisher == NULL)
    return GST_FLOW_FLUSHING;
  /* The error is on the bus already. */
  if (gst_stt_publisher_failed (self->publisher))
    return GST_FLOW_ERROR;
  c = caption_from_buffer (self, buf, &final);
  if (c == NULL)
    return GST_FLOW_OK;
  GST_LOG_OBJECT (self, "%s caption %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " ms",
      final ? "final" : "interim", c->start_ms, c->end_ms);
  dropped = gst_stt_publisher_push (self->publisher, c, final);
  if (dropped)
    note_dropped (self, dropped, FALSE);
  return GST_FLOW_OK;
}

/* End of stream: every final acknowledged (at most drain-timeout), then a normal close.
 * Called with the preroll lock. Returns FALSE when a flush or a state change to READY
 * interrupted it. */
static gboolean
drain (GstSttPublish * self)
{
  GstSttPublisherDrain r = GST_STT_PUBLISHER_TIMEOUT;
  GstSttPublisherCounts counts;
  GstFlowReturn ret;
  GstClockTime timeout;
  g_autofree gchar *why = NULL;
  gint64 deadline;

  GST_OBJECT_LOCK (self);
  timeout = self->drain_timeout;
  GST_OBJECT_UNLOCK (self);
  deadline = g_get_monotonic_time () + (gint64) (timeout / GST_USECOND);
  for (;;) {
    if (timeout == 0)
      break;
    r = gst_stt_publisher_drain (self->publisher, deadline);
    if (r != GST_STT_PUBLISHER_INTERRUPTED)
      break;
    /* PLAYING to PAUSED: wait until playing again, then go on (a step too); else give
     * up. */
    ret = gst_base_sink_wait_preroll (GST_BASE_SINK (self));
    if (ret != GST_FLOW_OK && ret != GST_FLOW_CUSTOM_ERROR)
      return FALSE;
  }
  gst_stt_publisher_get_counts (self->publisher, &counts);
  GST_INFO_OBJECT (self, "end of stream: %" G_GUINT64_FORMAT " published, %"
      G_GUINT64_FORMAT " acknowledged, %u unconfirmed", counts.published,
      counts.acknowledged, counts.pending);
  if (r == GST_STT_PUBLISHER_GAVE_UP)
    why = g_strdup ("the element gave up reaching it (see the error or the "
        "sttpublish-connection messages)");
  else
    why = g_strdup_printf ("no acknowledgement within drain-timeout (%" GST_TIME_FORMAT
        ")", GST_TIME_ARGS (timeout));
  warn_unconfirmed (self, counts.pending, why);
  note_dropped (self, 0, TRUE);
  self->drained = TRUE;
  gst_stt_publisher_close (self->publisher, g_get_monotonic_time () + CLOSE_WAIT_US);
  return TRUE;
}

static gboolean
gst_stt_publish_event (GstBaseSink * sink, GstEvent * event)
{
  GstSttPublish *self = GST_STT_PUBLISH (sink);
  const GstStructure *interim, *revision;

  /* A stream starts: ask upstream (stttranscribe) for its interim text as events. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START) {
    gboolean asked = gst_pad_push_event (GST_BASE_SINK_PAD (sink),
        gst_stt_want_interim_event_new ());

    GST_DEBUG_OBJECT (self, "interim text %s upstream", asked ? "asked for" :
        "not available");
  }

  if ((interim = gst_stt_interim_event_get (event)) && self->publisher
      && !gst_stt_publisher_failed (self->publisher)) {
    GstSttCaption *c = caption_from_interim (self, interim);

    if (c) {
      GST_LOG_OBJECT (self, "interim caption %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
          " ms", c->start_ms, c->end_ms);
      gst_stt_publisher_push (self->publisher, c, FALSE);
    }
  }

  /* Kept until acknowledged, as a final. */
  if ((revision = gst_stt_revision_event_get (event)) && self->publisher
      && !gst_stt_publisher_failed (self->publisher)) {
    GstSttCaption *rev = caption_from_revision (self, revision);
    g_autoptr (GPtrArray) parts = rev ? split_revision (rev) : NULL;
    guint i, dropped = 0;

    for (i = 0; parts && i < parts->len; i++) {
      GstSttCaption *c = g_ptr_array_index (parts, i);

      GST_INFO_OBJECT (self, "revision %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
          " ms, %u word(s)", c->start_ms, c->end_ms, c->words->len);
      dropped += gst_stt_publisher_push (self->publisher, c, TRUE);
    }
    if (dropped)
      note_dropped (self, dropped, FALSE);
  }

  /* A flush after EOS (a seek): the stream goes on, on a new connection. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP && self->publisher
      && self->drained) {
    self->drained = FALSE;
    gst_stt_publisher_reopen (self->publisher);
  }

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->publisher && !drain (self)
      && sink->flushing) {
    /* As sttsink: the wait was interrupted by a flush or a state change that waited for
     * the preroll lock this thread released; drop the event. */
    gst_event_unref (event);
    return FALSE;
  }
  return GST_BASE_SINK_CLASS (gst_stt_publish_parent_class)->event (sink, event);
}

static gboolean
gst_stt_publish_unlock (GstBaseSink * sink)
{
  GstSttPublish *self = GST_STT_PUBLISH (sink);

  if (self->publisher)
    gst_stt_publisher_set_flushing (self->publisher, TRUE);
  return TRUE;
}

static gboolean
gst_stt_publish_unlock_stop (GstBaseSink * sink)
{
  GstSttPublish *self = GST_STT_PUBLISH (sink);

  if (self->publisher)
    gst_stt_publisher_set_flushing (self->publisher, FALSE);
  return TRUE;
}

static gboolean
start_stream (GstSttPublish * self)
{
  GstSttPublisherConfig config;

  if (!check_settings (self, &config))
    return FALSE;
  GST_OBJECT_LOCK (self);
  memset (&self->counts, 0, sizeof (self->counts));
  self->drops_unsaid = 0;
  self->drop_warned_at = 0;
  GST_OBJECT_UNLOCK (self);
  self->last_end = 0;
  self->drained = FALSE;
  GST_INFO_OBJECT (self, "publishing to room %s at %s", self->room, self->url_redacted);
  self->publisher = gst_stt_publisher_new (&config, &publisher_callbacks, self,
      GST_OBJECT (self));
  gst_stt_publisher_start (self->publisher);
  return TRUE;
}

static void
stop_stream (GstSttPublish * self)
{
  GstSttPublisher *p = self->publisher;
  GstSttPublisherCounts counts;

  if (p == NULL)
    return;
  gst_stt_publisher_stop (p);
  gst_stt_publisher_get_counts (p, &counts);
  GST_OBJECT_LOCK (self);
  self->counts = counts;
  self->publisher = NULL;
  GST_OBJECT_UNLOCK (self);
  /* After a drain these were said already. */
  if (!self->drained)
    warn_unconfirmed (self, counts.pending, "the element stopped before the server "
        "acknowledged them");
  note_dropped (self, 0, TRUE);
  gst_stt_publisher_unref (p);
}

/* GstBaseSink's start and stop are NULL<->READY; the stream lives from READY to PAUSED
 * and back, as in sttsink. */
static GstStateChangeReturn
gst_stt_publish_change_state (GstElement * element, GstStateChange transition)
{
  GstSttPublish *self = GST_STT_PUBLISH (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !start_stream (self))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (gst_stt_publish_parent_class)->change_state (element,
      transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
      stop_stream (self);
    return ret;
  }
  /* The pad is deactivated: render and the drain were unlocked and have returned. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    stop_stream (self);
  return ret;
}

/* ------------------------------------------------------------------------------------ */
/* GObject */

static void
set_secret (gchar ** field, const GValue * value)
{
  if (*field)
    memset (*field, 0, strlen (*field));
  g_free (*field);
  *field = g_value_dup_string (value);
}

static void
gst_stt_publish_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstSttPublish *self = GST_STT_PUBLISH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URL:
      g_free (self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_TOKEN_SECRET:
      set_secret (&self->token_secret, value);
      break;
    case PROP_TOKEN_SECRET_FILE:
      g_free (self->token_secret_file);
      self->token_secret_file = g_value_dup_string (value);
      break;
    case PROP_TOKEN_CLAIMS:
      g_clear_pointer (&self->token_claims, gst_structure_free);
      self->token_claims = g_value_dup_boxed (value);
      break;
    case PROP_TOKEN_LIFETIME:
      self->token_lifetime = g_value_get_uint (value);
      break;
    case PROP_TOKEN_URL:
      g_free (self->token_url);
      self->token_url = g_value_dup_string (value);
      break;
    case PROP_TOKEN_METHOD:
      g_free (self->token_method);
      self->token_method = g_value_dup_string (value);
      if (self->token_method == NULL)
        self->token_method = g_strdup (DEFAULT_TOKEN_METHOD);
      break;
    case PROP_TOKEN_HEADERS:
      g_clear_pointer (&self->token_headers, gst_structure_free);
      self->token_headers = g_value_dup_boxed (value);
      break;
    case PROP_TOKEN_FIELD:
      g_free (self->token_field);
      self->token_field = g_value_dup_string (value);
      break;
    case PROP_TLS_VALIDATE:
      self->tls_validate = g_value_get_boolean (value);
      break;
    case PROP_TLS_CA_FILE:
      g_free (self->tls_ca_file);
      self->tls_ca_file = g_value_dup_string (value);
      break;
    case PROP_RECONNECT_MAX_ATTEMPTS:
      self->reconnect_max_attempts = g_value_get_int (value);
      break;
    case PROP_RECONNECT_INITIAL_DELAY:
      self->reconnect_initial_delay = g_value_get_uint64 (value);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      self->reconnect_max_delay = g_value_get_uint64 (value);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      self->keepalive_interval = g_value_get_uint64 (value);
      break;
    case PROP_STALL_TIMEOUT:
      self->stall_timeout = g_value_get_uint64 (value);
      break;
    case PROP_MAX_PENDING:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_DRAIN_TIMEOUT:
      self->drain_timeout = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_stt_publish_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstSttPublish *self = GST_STT_PUBLISH (object);
  GstSttPublisherCounts counts;

  if (prop_id == PROP_PUBLISHED || prop_id == PROP_ACKNOWLEDGED || prop_id == PROP_DROPPED) {
    /* The publisher lives from READY to PAUSED; its last counts stay until the next. */
    GST_OBJECT_LOCK (self);
    counts = self->counts;
    if (self->publisher)
      gst_stt_publisher_get_counts (self->publisher, &counts);
    GST_OBJECT_UNLOCK (self);
    g_value_set_uint64 (value, prop_id == PROP_PUBLISHED ? counts.published :
        prop_id == PROP_ACKNOWLEDGED ? counts.acknowledged : counts.dropped);
    return;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_TOKEN_SECRET:
      g_value_set_string (value, self->token_secret ? "***" : NULL);
      break;
    case PROP_TOKEN_SECRET_FILE:
      g_value_set_string (value, self->token_secret_file);
      break;
    case PROP_TOKEN_CLAIMS:
      g_value_set_boxed (value, self->token_claims);
      break;
    case PROP_TOKEN_LIFETIME:
      g_value_set_uint (value, self->token_lifetime);
      break;
    case PROP_TOKEN_URL:
      g_value_set_string (value, self->token_url);
      break;
    case PROP_TOKEN_METHOD:
      g_value_set_string (value, self->token_method);
      break;
    case PROP_TOKEN_HEADERS:
      g_value_set_boxed (value, self->token_headers);
      break;
    case PROP_TOKEN_FIELD:
      g_value_set_string (value, self->token_field);
      break;
    case PROP_TLS_VALIDATE:
      g_value_set_boolean (value, self->tls_validate);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, self->tls_ca_file);
      break;
    case PROP_RECONNECT_MAX_ATTEMPTS:
      g_value_set_int (value, self->reconnect_max_attempts);
      break;
    case PROP_RECONNECT_INITIAL_DELAY:
      g_value_set_uint64 (value, self->reconnect_initial_delay);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint64 (value, self->reconnect_max_delay);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      g_value_set_uint64 (value, self->keepalive_interval);
      break;
    case PROP_STALL_TIMEOUT:
      g_value_set_uint64 (value, self->stall_timeout);
      break;
    case PROP_MAX_PENDING:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint64 (value, self->drain_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_stt_publish_finalize (GObject * object)
{
  GstSttPublish *self = GST_STT_PUBLISH (object);

  g_free (self->url);
  if (self->token_secret)
    memset (self->token_secret, 0, strlen (self->token_secret));
  g_free (self->token_secret);
  g_free (self->token_secret_file);
  g_clear_pointer (&self->token_claims, gst_structure_free);
  g_free (self->token_url);
  g_free (self->token_method);
  g_clear_pointer (&self->token_headers, gst_structure_free);
  g_free (self->token_field);
  g_free (self->tls_ca_file);
  g_free (self->room);
  g_free (self->url_redacted);
  G_OBJECT_CLASS (gst_stt_publish_parent_class)->finalize (object);
}

#define STRING_PROP(id, name, nick, blurb) \
  g_object_class_install_property (gobject_class, id, g_param_spec_string (name, nick, \
          blurb, NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
          GST_PARAM_MUTABLE_READY))
#define TIME_PROP(id, name, nick, blurb, def) \
  g_object_class_install_property (gobject_class, id, g_param_spec_uint64 (name, nick, \
          blurb, 0, G_MAXUINT64, def, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
          GST_PARAM_MUTABLE_READY))
#define COUNT_PROP(id, name, nick, blurb) \
  g_object_class_install_property (gobject_class, id, g_param_spec_uint64 (name, nick, \
          blurb, 0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS))

static void
gst_stt_publish_class_init (GstSttPublishClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (stt_publish_debug, "sttpublish", 0, "caption publisher");
  text_meta_register ();

  gobject_class->set_property = gst_stt_publish_set_property;
  gobject_class->get_property = gst_stt_publish_get_property;
  gobject_class->finalize = gst_stt_publish_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_stt_publish_change_state);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_stt_publish_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_stt_publish_render);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_stt_publish_event);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_stt_publish_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_stt_publish_unlock_stop);

  STRING_PROP (PROP_URL, "url", "URL", "The caption server's publishing URL, "
      "ws(s)://HOST[:PORT]/publish/ROOM (ROOM: 1 to 64 of A-Z a-z 0-9 _ -); a ?token= in "
      "it is used as it is when no token is made or fetched. Required");
  STRING_PROP (PROP_TOKEN_SECRET, "token-secret", "Token secret", "The caption server's "
      "secret (its UTF-8 bytes are the HMAC key): a fresh HS256 JWT with the url's room, "
      "role publish and token-claims is signed for every connection attempt and sent as "
      "Authorization: Bearer. Reads back as *** when set");
  STRING_PROP (PROP_TOKEN_SECRET_FILE, "token-secret-file", "Token secret file", "File "
      "holding token-secret (surrounding whitespace removed), read again before every "
      "connection attempt");
  g_object_class_install_property (gobject_class, PROP_TOKEN_CLAIMS,
      g_param_spec_boxed ("token-claims", "Token claims", "More claims for the signed "
          "token, one JSON claim per field (strings, integers, doubles, booleans), e.g. "
          "\"claims, sub=studio-a\" (sub names the publisher in the room). room, role, "
          "iat, exp and jti are always the element's", GST_TYPE_STRUCTURE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOKEN_LIFETIME,
      g_param_spec_uint ("token-lifetime", "Token lifetime", "Validity of each signed "
          "token, in seconds: exp = iat + this", 1, G_MAXUINT, DEFAULT_TOKEN_LIFETIME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  STRING_PROP (PROP_TOKEN_URL, "token-url", "Token URL", "HTTP(S) URL answering with a "
      "token as JSON, fetched again before every connection attempt (instead of "
      "token-secret)");
  g_object_class_install_property (gobject_class, PROP_TOKEN_METHOD,
      g_param_spec_string ("token-method", "Token method", "HTTP method of the token "
          "request", DEFAULT_TOKEN_METHOD, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOKEN_HEADERS,
      g_param_spec_boxed ("token-headers", "Token headers", "Headers of the token "
          "request, e.g. \"h, Authorization=\\\"Basic dXNlcjpwdw==\\\"\"",
          GST_TYPE_STRUCTURE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  STRING_PROP (PROP_TOKEN_FIELD, "token-field", "Token field", "Member of the token "
      "service's JSON answer holding the token. NULL = the first of access_token, token, "
      "key_value, value");
  g_object_class_install_property (gobject_class, PROP_TLS_VALIDATE,
      g_param_spec_boolean ("tls-validate", "TLS validate", "Validate the server's TLS "
          "certificate (wss://, https://). Turning this off is insecure",
          DEFAULT_TLS_VALIDATE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  STRING_PROP (PROP_TLS_CA_FILE, "tls-ca-file", "TLS CA file", "PEM file of the CA(s) "
      "to trust for wss:// and https:// instead of the system store");
  g_object_class_install_property (gobject_class, PROP_RECONNECT_MAX_ATTEMPTS,
      g_param_spec_int ("reconnect-max-attempts", "Reconnect max attempts", "Consecutive "
          "failed connection attempts before giving up with an error (a warning at end "
          "of stream); -1 = never give up (a warning says so after 10 s out of reach)",
          -1, G_MAXINT, DEFAULT_RECONNECT_MAX_ATTEMPTS, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  TIME_PROP (PROP_RECONNECT_INITIAL_DELAY, "reconnect-initial-delay",
      "Reconnect initial delay", "Backoff before the second retry (the first is "
      "immediate), doubled after each failure, in nanoseconds",
      DEFAULT_RECONNECT_INITIAL_DELAY);
  TIME_PROP (PROP_RECONNECT_MAX_DELAY, "reconnect-max-delay", "Reconnect max delay",
      "Longest backoff between attempts, in nanoseconds", DEFAULT_RECONNECT_MAX_DELAY);
  TIME_PROP (PROP_KEEPALIVE_INTERVAL, "keepalive-interval", "Keepalive interval",
      "WebSocket ping interval, in nanoseconds (whole seconds); 0 = no pings",
      DEFAULT_KEEPALIVE_INTERVAL);
  TIME_PROP (PROP_STALL_TIMEOUT, "stall-timeout", "Stall timeout", "Reconnect when the "
      "server sent nothing (no welcome, ack or pong) for this long while pings are on "
      "or captions await their ack, in nanoseconds; 0 = never", DEFAULT_STALL_TIMEOUT);
  g_object_class_install_property (gobject_class, PROP_MAX_PENDING,
      g_param_spec_uint ("max-pending", "Max pending", "Final captions kept until the "
          "server acknowledges them (they are sent again after a reconnect). When full, "
          "the oldest is dropped, with a WARNING, and counted in dropped", 1, G_MAXINT,
          DEFAULT_MAX_PENDING, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  TIME_PROP (PROP_DRAIN_TIMEOUT, "drain-timeout", "Drain timeout", "At end of stream, "
      "the longest the element waits for the server to acknowledge every final before "
      "it closes and warns about the rest, in nanoseconds; 0 = no wait",
      DEFAULT_DRAIN_TIMEOUT);
  COUNT_PROP (PROP_PUBLISHED, "published", "Published", "Final captions (and "
      "revisions) sent to the server (each counted once, however often it was sent "
      "again)");
  COUNT_PROP (PROP_ACKNOWLEDGED, "acknowledged", "Acknowledged", "Final captions (and "
      "revisions) the server said it stored (ack, or a welcome's last_seq)");
  COUNT_PROP (PROP_DROPPED, "dropped", "Dropped", "Final captions (and revisions) "
      "dropped before the server confirmed them, because max-pending were already "
      "waiting");

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Caption publisher",
      "Sink/Text/Network", "Publishes timestamped text to a caption fan-out server room "
      "over a WebSocket, every final caption acknowledged", "gst-stt developers");
}

static void
gst_stt_publish_init (GstSttPublish * self)
{
  GstBaseSink *sink = GST_BASE_SINK (self);

  self->token_lifetime = DEFAULT_TOKEN_LIFETIME;
  self->token_method = g_strdup (DEFAULT_TOKEN_METHOD);
  self->tls_validate = DEFAULT_TLS_VALIDATE;
  self->reconnect_max_attempts = DEFAULT_RECONNECT_MAX_ATTEMPTS;
  self->reconnect_initial_delay = DEFAULT_RECONNECT_INITIAL_DELAY;
  self->reconnect_max_delay = DEFAULT_RECONNECT_MAX_DELAY;
  self->keepalive_interval = DEFAULT_KEEPALIVE_INTERVAL;
  self->stall_timeout = DEFAULT_STALL_TIMEOUT;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->drain_timeout = DEFAULT_DRAIN_TIMEOUT;
  /* Captions go out as soon as they come: viewers watch live, nothing to wait for. */
  gst_base_sink_set_sync (sink, FALSE);
  /* Every caption of the stream is published, in the segment or not. */
  gst_base_sink_set_drop_out_of_segment (sink, FALSE);
}
