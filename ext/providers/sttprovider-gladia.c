/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-gladia.c: Gladia live v2.
 *
 * A session is created over HTTP (`POST /v2/live` with `x-gladia-key` and the JSON
 * configuration); the answer holds the WebSocket URL, whose token is the only credential
 * of the connection. Audio goes as binary frames, each acknowledged (`audio_chunk` with
 * the session's byte range) since acknowledgments are turned on. `transcript` messages
 * carry an utterance id (partials and their final share it) and words with times in
 * seconds since the session's first audio. `{"type":"stop_recording"}` ends the audio;
 * the server sends what is left, `end_session`, and closes with 1000.
 *
 * The session outlives a connection: after a lost connection the same URL is opened
 * again and the audio continues where the service acknowledged it, on the session's own
 * clock (resume_point). A session the service no longer knows (its URL refused) is
 * dropped and a new one is created. So is one that turns out to have heard more than it
 * acknowledged (acknowledgments lost with the connection): it would hear that audio twice
 * and its clock would run ahead of ours. The first acknowledgment on a resumed connection
 * tells, and the results that come before it wait for it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

#define INIT_PATH "/v2/live"
/* Results held while a resumed session is verified: a server that never acknowledges
 * cannot make them grow without bound. */
#define MAX_HELD_RESULTS 256

/* The service session, kept across connections (stream_priv). */
typedef struct
{
  gchar *init_url;              /* where it was created */
  gchar *url;                   /* its WebSocket URL: holds the token, never logged */
  gchar *id;
  guint64 acked_bytes;          /* audio the service acknowledged */
  gboolean resuming;            /* the next connection continues at @acked_bytes */
  gboolean opened;              /* a connection to @url opened */
  gboolean stopped;             /* stop_recording taken: the session is ending */
} GladiaSession;

/* Per connection. */
typedef struct
{
  gboolean end_sent;
  /* A resumed connection until its first acknowledgment: where the service should be,
   * and the results held until it is known to be there. */
  gboolean verifying;
  gboolean resumed;             /* this connection continues an earlier one's session */
  guint64 resumed_at;
  GPtrArray *held;
} GladiaPriv;

static void
gladia_free_priv (gpointer p)
{
  GladiaPriv *priv = p;

  g_clear_pointer (&priv->held, g_ptr_array_unref);
  g_free (priv);
}

static void
clear_secret (gchar ** s)
{
  if (*s) {
    memset (*s, 0, strlen (*s));
    g_clear_pointer (s, g_free);
  }
}

static void
session_forget (GladiaSession * session)
{
  clear_secret (&session->url);
  g_clear_pointer (&session->id, g_free);
  session->acked_bytes = 0;
  session->resuming = FALSE;
  session->opened = FALSE;
  session->stopped = FALSE;
}

static void
gladia_free_stream_priv (gpointer p)
{
  GladiaSession *session = p;

  session_forget (session);
  g_free (session->init_url);
  g_free (session);
}

static GladiaSession *
get_session (SttProviderState * st)
{
  if (st->stream_priv == NULL)
    st->stream_priv = g_new0 (GladiaSession, 1);
  return st->stream_priv;
}

/* The init endpoint from the url property, the service's base address ("https://
 * api.gladia.io"; ws:// and wss:// read as http:// and https://, like the SDK), with
 * "/v2/live" added unless it is there, and the region as the query. */
static gchar *
build_init_url (const SttProviderConfig * c, const gchar * fallback)
{
  const gchar *base = c->url ? c->url : fallback;
  const gchar *query = strchr (base, '?');
  const gchar *region = c->params ? g_hash_table_lookup (c->params, "region") : NULL;
  GString *s = g_string_new (NULL);
  gsize n = query ? (gsize) (query - base) : strlen (base);

  if (n >= 2 && g_ascii_strncasecmp (base, "ws", 2) == 0) {
    g_string_append (s, "http");
    g_string_append_len (s, base + 2, n - 2);
  } else {
    g_string_append_len (s, base, n);
  }
  while (s->len > 0 && s->str[s->len - 1] == '/')
    g_string_truncate (s, s->len - 1);
  if (!g_str_has_suffix (s->str, INIT_PATH))
    g_string_append (s, INIT_PATH);
  if (query)
    g_string_append (s, query);
  if (region) {
    g_string_append_c (s, query ? '&' : '?');
    g_string_append (s, "region=");
    g_string_append_uri_escaped (s, region, NULL, FALSE);
  }
  return g_string_free (s, FALSE);
}

static gboolean
gladia_build_init_request (SttProviderState * st, SttHttpInit * init)
{
  const SttProviderConfig *c = st->config;
  GladiaSession *session = get_session (st);
  g_autoptr (JsonObject) o = json_object_new ();
  JsonObject *messages;
  JsonArray *languages;
  gchar *body;

  /* A session still to be continued needs no new one. */
  if (session->url)
    return FALSE;
  languages = stt_json_language_codes (c->language);

  json_object_set_string_member (o, "encoding", "wav/pcm");
  json_object_set_int_member (o, "bit_depth", 16);
  json_object_set_int_member (o, "sample_rate", c->sample_rate);
  json_object_set_int_member (o, "channels", 1);
  if (c->model)
    json_object_set_string_member (o, "model", c->model);
  if (languages) {
    JsonObject *lc = json_object_new ();

    json_object_set_array_member (lc, "languages", languages);
    json_object_set_boolean_member (lc, "code_switching", FALSE);
    json_object_set_object_member (o, "language_config", lc);
  }
  messages = json_object_new ();
  json_object_set_boolean_member (messages, "receive_partial_transcripts",
      c->interim_results);
  json_object_set_boolean_member (messages, "receive_final_transcripts", TRUE);
  json_object_set_boolean_member (messages, "receive_errors", TRUE);
  json_object_set_boolean_member (messages, "receive_lifecycle_events", TRUE);
  json_object_set_object_member (o, "messages_config", messages);
  stt_json_object_set_params (o, c->params);
  /* The region is a query parameter of this request. */
  json_object_remove_member (o, "region");
  /* Acknowledgments say where to resume (the SDK forces them on too). */
  messages = stt_json_get_object (o, "messages_config");
  if (messages == NULL) {
    messages = json_object_new ();
    json_object_set_object_member (o, "messages_config", messages);
  }
  json_object_set_boolean_member (messages, "receive_acknowledgments", TRUE);

  session_forget (session);
  g_free (session->init_url);
  session->init_url = build_init_url (c, st->info->default_url);
  body = stt_json_object_to_string (o);
  init->method = g_strdup ("POST");
  init->url = g_strdup (session->init_url);
  init->body = g_bytes_new_take (body, strlen (body));
  init->content_type = g_strdup ("application/json");
  if (c->api_key)
    stt_http_init_add_header (init, "x-gladia-key", c->api_key);
  return TRUE;
}

static gboolean
gladia_parse_init_response (SttProviderState * st, guint status, const guint8 * body,
    gsize len, GError ** error)
{
  GladiaSession *session = get_session (st);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = body ? stt_json_parse_object ((const gchar *) body, len, &parser) : NULL;
  const gchar *url = stt_json_get_string (o, "url", NULL);
  g_autofree gchar *ws_base = NULL;
  g_autoptr (GUri) base = NULL;
  g_autoptr (GUri) uri = NULL;
  gchar *resolved;

  if (url == NULL || *url == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "no WebSocket url in the answer");
    return FALSE;
  }
  /* Relative to the service's address, like the SDK reads it. */
  ws_base = g_str_has_prefix (session->init_url, "http") ?
      g_strconcat ("ws", session->init_url + 4, NULL) : g_strdup ("wss://api.gladia.io/");
  base = g_uri_parse (ws_base, G_URI_FLAGS_ENCODED, error);
  if (base == NULL)
    return FALSE;
  uri = g_uri_parse_relative (base, url, G_URI_FLAGS_ENCODED, error);
  if (uri == NULL)
    return FALSE;
  /* Checked before printing it: GLib cannot print a URI without a host whose path starts
   * with "//" (a critical, and NULL). */
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the session url has no host");
    return FALSE;
  }
  resolved = g_uri_to_string (uri);
  if (!g_str_has_prefix (resolved, "ws://") && !g_str_has_prefix (resolved, "wss://")) {
    clear_secret (&resolved);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "the session url is not a WebSocket url");
    return FALSE;
  }
  session_forget (session);
  session->url = resolved;
  session->id = g_strdup (stt_json_get_string (o, "id", NULL));
  return TRUE;
}

static gboolean
gladia_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  GladiaSession *session = get_session (st);
  GladiaPriv *priv;

  if (session->url == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no Gladia session to connect to");
    return FALSE;
  }
  /* The URL's token is the credential: no header. */
  req->url = g_strdup (session->url);
  priv = g_new0 (GladiaPriv, 1);
  priv->verifying = session->resuming;
  priv->resumed = session->resuming;
  priv->resumed_at = session->acked_bytes;
  priv->held = g_ptr_array_new_with_free_func ((GDestroyNotify) stt_result_free);
  session->resuming = FALSE;
  st->priv = priv;
  return TRUE;
}

/* Gladia has no start message: this only notes that the session's URL worked. */
static gchar *
gladia_start_message (SttProviderState * st)
{
  get_session (st)->opened = TRUE;
  return NULL;
}

static void
parse_transcript (JsonObject * o, GPtrArray * results, SttParseOutput * out)
{
  JsonObject *data = stt_json_get_object (o, "data");
  JsonObject *utt = stt_json_get_object (data, "utterance");
  JsonArray *words = stt_json_get_array (utt, "words");
  SttResult *r;
  gint64 speaker = stt_json_get_int (utt, "speaker", -1);
  g_autofree gchar *text = g_strdup (stt_json_get_string (utt, "text", ""));
  guint i, n = words ? json_array_get_length (words) : 0;

  if (utt == NULL) {
    out->error = g_strdup ("transcript without utterance");
    return;
  }
  r = stt_result_new ();
  r->is_final = stt_json_get_bool (data, "is_final", FALSE);
  r->segment_key = g_strdup (stt_json_get_string (data, "id", NULL));
  r->text = g_strdup (g_strstrip (text));
  r->start = stt_json_get_double (utt, "start", -1);
  r->end = stt_json_get_double (utt, "end", -1);
  r->confidence = stt_json_get_double (utt, "confidence", -1);
  r->language = g_strdup (stt_json_get_string (utt, "language", NULL));
  for (i = 0; i < n; i++) {
    JsonObject *w = stt_json_array_get_object (words, i);
    g_autofree gchar *wt = g_strdup (stt_json_get_string (w, "word", NULL));
    SttWord word = { 0, };

    /* Words may carry their leading space. */
    if (wt == NULL || *g_strstrip (wt) == '\0')
      continue;
    word.text = g_steal_pointer (&wt);
    word.start = stt_json_get_double (w, "start", -1);
    word.end = stt_json_get_double (w, "end", -1);
    word.confidence = stt_json_get_double (w, "confidence", -1);
    if (speaker >= 0)
      word.speaker = g_strdup_printf ("%" G_GINT64_FORMAT, speaker);
    g_array_append_val (r->words, word);
  }
  g_ptr_array_add (results, r);
}

/* The held results of a resumed connection go out (its session is where we thought). */
static void
release_held (GladiaPriv * priv, SttParseOutput * out)
{
  priv->verifying = FALSE;
  while (priv->held->len > 0)
    g_ptr_array_add (out->results, g_ptr_array_steal_index (priv->held, 0));
}

/* The first acknowledgment on a resumed connection: the service goes on from where it
 * acknowledged last, or it heard more (acknowledgments lost with the old connection) and
 * the audio we sent again would be heard twice, its clock ahead of ours: give the session
 * up, a new one starts from the last final. */
static void
verify_resume (SttProviderState * st, guint64 from, SttParseOutput * out)
{
  GladiaPriv *priv = st->priv;

  if (from == priv->resumed_at) {
    release_held (priv, out);
    return;
  }
  g_ptr_array_set_size (priv->held, 0);
  priv->verifying = FALSE;
  session_forget (get_session (st));
  out->failure = STT_FAILURE_RETRY;
  out->error = g_strdup_printf ("the resumed session had %" G_GUINT64_FORMAT " ms of audio "
      "where %" G_GUINT64_FORMAT " ms were acknowledged: starting a new session",
      from / 2 * 1000 / st->config->sample_rate,
      priv->resumed_at / 2 * 1000 / st->config->sample_rate);
}

static SttFailure
failure_from_status (gint64 status)
{
  if (status == 401 || status == 403)
    return STT_FAILURE_AUTH;
  if (status >= 400 && status < 500 && status != 408 && status != 429)
    return STT_FAILURE_FATAL;
  return STT_FAILURE_RETRY;
}

static void
gladia_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  GladiaPriv *priv = st->priv;
  GladiaSession *session = get_session (st);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o, *err;
  const gchar *type;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  type = stt_json_get_string (o, "type", "");
  err = stt_json_get_object (o, "error");

  if (g_str_equal (type, "transcript")) {
    if (priv->verifying && priv->held->len >= MAX_HELD_RESULTS) {
      /* No acknowledgment for that long: the session is not verifiable; go on as if it
       * were (the engine trims by time what it had emitted already). */
      g_info ("Gladia: %u results and no acknowledgment on a resumed session: releasing "
          "them", priv->held->len);
      priv->verifying = FALSE;
      release_held (priv, out);
    }
    parse_transcript (o, priv->verifying ? priv->held : out->results, out);
  } else if (g_str_equal (type, "audio_chunk")) {
    JsonArray *range = stt_json_get_array (stt_json_get_object (o, "data"), "byte_range");

    if (stt_json_get_bool (o, "acknowledged", FALSE) && range
        && json_array_get_length (range) == 2) {
      /* The end of the range is the session's byte count, as the SDK reads it; a whole
       * sample, so an inclusive reading costs one repeated sample at most. */
      gint64 end = stt_json_array_get_int (range, 1, -1);

      if (priv->verifying) {
        verify_resume (st, (guint64) MAX (stt_json_array_get_int (range, 0, 0), 0), out);
        if (out->failure != STT_FAILURE_NONE)
          return;
      }
      if (end > 0 && (guint64) end > session->acked_bytes)
        session->acked_bytes = (guint64) end & ~(guint64) 1;
    } else if (err) {
      out->error = g_strdup_printf ("audio not acknowledged: %s",
          stt_json_get_string (err, "message", "unknown error"));
    }
  } else if (g_str_equal (type, "stop_recording")) {
    /* Taken (or taken before): the session ends; a later connection needs a new one. A
     * stop_recording lost with its connection is sent again on the resumed session. A
     * resumed connection that had no audio left to send has no acknowledgment to wait
     * for: what it holds is about audio the session had. */
    session->stopped = TRUE;
    if (priv->verifying)
      release_held (priv, out);
  } else if (g_str_equal (type, "end_session")) {
    /* Nothing more will come on this session. */
    if (priv->end_sent)
      out->finished = TRUE;
    else
      session_forget (session);
  } else if (g_str_equal (type, "error")) {
    out->failure = failure_from_status (stt_json_get_int (err, "status_code", 500));
    out->error = g_strdup (stt_json_get_string (err, "message",
            stt_json_get_string (o, "message", "unknown error")));
  } else if (err && !stt_json_get_bool (o, "acknowledged", TRUE)) {
    out->error = g_strdup_printf ("%s not acknowledged: %s", type,
        stt_json_get_string (err, "message", "unknown error"));
  } else if (*type == '\0') {
    out->error = g_strdup ("message without type");
  }
  /* Speech events, lifecycle, acknowledgments of stop_recording, post-processing and
   * add-on results: nothing for us. */
}

static GBytes *
gladia_end (SttProviderState * st, SttFrameType * type)
{
  static const gchar msg[] = "{\"type\":\"stop_recording\"}";
  GladiaPriv *priv = st->priv;

  priv->end_sent = TRUE;
  *type = STT_FRAME_TEXT;
  return g_bytes_new_static (msg, strlen (msg));
}

static SttFailure
gladia_classify_close (SttProviderState * st, gushort code, const gchar * reason)
{
  /* Like the SDK: 1000 and 1001 are no error, 4400-4499 are the client's fault, any other
   * code is worth reconnecting to the same session. */
  GladiaPriv *priv = st->priv;

  if (code == 1000 || code == 1001)
    return STT_FAILURE_NONE;
  /* A resumed session refused (e.g. 4403 "Session has already ended"): the service no
   * longer has it. A new session takes over from the committed point. */
  if (code >= 4400 && code <= 4499 && priv && priv->resumed) {
    session_forget (get_session (st));
    return STT_FAILURE_RETRY;
  }
  if (code >= 4400 && code <= 4499)
    return (code == 4401 || code == 4403) ? STT_FAILURE_AUTH : STT_FAILURE_FATAL;
  return STT_FAILURE_RETRY;
}

static SttFailure
gladia_classify_http (SttProviderState * st, guint status)
{
  GladiaSession *session = get_session (st);

  /* A session URL that worked before and is refused now: the service no longer has the
   * session. Start a new one rather than fail. */
  if (session->url && session->opened && status >= 400 && status < 500
      && status != 408 && status != 429) {
    session_forget (session);
    return STT_FAILURE_RETRY;
  }
  return stt_failure_from_http (status);
}

static gboolean
gladia_resume_point (SttProviderState * st, guint64 * acked_samples)
{
  GladiaSession *session = get_session (st);

  if (session->url == NULL)
    return FALSE;
  if (session->stopped) {
    session_forget (session);
    return FALSE;
  }
  *acked_samples = session->acked_bytes / 2;
  session->resuming = TRUE;
  return TRUE;
}

static void
gladia_forget_session (SttProviderState * st)
{
  session_forget (get_session (st));
}

const SttProviderInfo stt_provider_gladia = {
  .name = "gladia",
  .display_name = "Gladia",
  /* The HTTP base; the WebSocket URL comes from the session set-up. */
  .default_url = "https://api.gladia.io",
  .default_rate = 16000,
  /* The SDK caps a send at 512 KiB; 1 s is 32 KiB. */
  .file_frame_ms = 1000,
  .realtime_only = FALSE,
  .keepalive_interval = 0,
  .build_request = gladia_build_request,
  .start_message = gladia_start_message,
  .frame_audio = stt_frame_audio_binary,
  .parse = gladia_parse,
  .end_message = gladia_end,
  .classify_close = gladia_classify_close,
  .classify_http = gladia_classify_http,
  .free_priv = gladia_free_priv,
  .build_init_request = gladia_build_init_request,
  .parse_init_response = gladia_parse_init_response,
  .resume_point = gladia_resume_point,
  .forget_session = gladia_forget_session,
  .free_stream_priv = gladia_free_stream_priv,
};
