/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider: the provider-neutral interface every speech-to-text protocol implements.
 *
 * A provider never touches GStreamer pads or libsoup objects: it builds the connection
 * request, frames audio, parses what the server sends into unified results and classifies
 * failures. The engine (gst/stt) drives it from one I/O thread per stream.
 * Times in results are seconds since the first audio sample of the current connection.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the user configured; shared by every provider. Strings may be NULL. */
typedef struct
{
  const gchar *url;             /* replaces the default endpoint when set */
  const gchar *api_key;         /* resolved key or temporary token, never logged */
  gboolean key_is_token;        /* @api_key came from a token service */
  const gchar *language;
  const gchar *model;
  guint sample_rate;            /* wire rate, Hz */
  gboolean interim_results;
  /* AWS credentials (providers with `aws_credentials`): @api_key is then the secret
   * access key. */
  const gchar *access_key_id;
  const gchar *session_token;   /* temporary credentials; NULL otherwise. Never logged */
  const gchar *region;          /* "us-west-2"; NULL = from the URL's host */
  /* Extra provider options ("name" -> "value" strings), added to the query or the
   * configuration message as the provider sees fit. May be NULL. */
  GHashTable *params;
} SttProviderConfig;

/* A connection request: URL with query, headers, subprotocols. */
typedef struct
{
  gchar *url;
  GPtrArray *headers;           /* name, value, name, value... (gchar*) */
  gchar **protocols;            /* NULL-terminated or NULL */
} SttRequest;

typedef struct
{
  gchar *text;
  gdouble start, end;           /* seconds; negative when unknown */
  gdouble confidence;           /* 0..1; negative when unknown */
  gchar *speaker;               /* NULL when unknown */
  /* In a partial: the service says this word will not change any more (AssemblyAI's
   * word_is_final, Soniox's final tokens). Every word of a final is stable anyway. */
  gboolean stable;
} SttWord;

typedef struct
{
  gboolean is_final;
  gchar *segment_key;           /* provider's segment id; NULL = "the open segment" */
  gchar *text;
  gdouble start, end;           /* audio the result covers, seconds; negative if unknown */
  GArray *words;                /* SttWord; may be empty */
  gchar *language;
  gdouble confidence;           /* negative when unknown */
} SttResult;

typedef enum
{
  STT_FAILURE_NONE = 0,         /* not a failure (normal close) */
  STT_FAILURE_RETRY,            /* transient: reconnect with backoff */
  STT_FAILURE_AUTH,             /* credentials rejected: fatal */
  STT_FAILURE_FATAL,            /* bad request or configuration: fatal */
} SttFailure;

/* What parsing one server message produced. */
typedef struct
{
  GPtrArray *results;           /* SttResult*, owned */
  gboolean ready;               /* the server acknowledged the session start */
  /* The end-of-audio acknowledgement: after our end message, the server has sent every
   * result for all the audio it was sent. */
  gboolean finished;
  /* The service's word that every final for the audio before this time (seconds on the
   * connection's clock) has been sent, without a result saying so (e.g. silence);
   * negative when the message says nothing of the kind. */
  gdouble processed;
  SttFailure failure;           /* an error message from the server, if not NONE */
  gchar *error;                 /* its text */
} SttParseOutput;

typedef enum
{
  STT_FRAME_BINARY,
  STT_FRAME_TEXT,
} SttFrameType;

typedef struct _SttProviderInfo SttProviderInfo;

/* Per-connection protocol state: created for each connection attempt. */
typedef struct
{
  const SttProviderInfo *info;
  const SttProviderConfig *config;      /* valid for the connection's lifetime */
  gpointer priv;                /* provider's own state, for one connection */
  /* Provider's state for the whole stream, kept across connections (e.g. a service
   * session that can be resumed); freed with free_stream_priv. */
  gpointer stream_priv;
  guint64 frames_sent;
} SttProviderState;

/* An HTTP request a provider needs before the WebSocket (e.g. a session init). */
typedef struct
{
  gchar *method;
  gchar *url;
  GPtrArray *headers;           /* name, value, ... (gchar*) */
  GBytes *body;
  gchar *content_type;
} SttHttpInit;

void stt_http_init_clear (SttHttpInit * init);
void stt_http_init_add_header (SttHttpInit * init, const gchar * name, const gchar * value);

struct _SttProviderInfo
{
  const gchar *name;            /* "deepgram" */
  const gchar *display_name;    /* "Deepgram" */
  const gchar *default_url;
  guint default_rate;
  gboolean realtime_only;       /* the service rejects audio faster than real time */
  gdouble keepalive_interval;   /* seconds of silence before the provider's keepalive */
  /* Said to the user when the service cannot be reached at all, or NULL. */
  const gchar *unreachable_hint;
  /* The service takes no key (a self-hosted server): none is looked for. */
  gboolean keyless;
  /* The protocol has no language setting (the server's model decides). */
  gboolean no_language;
  /* The protocol has no model setting: `model` is ignored, with a warning. */
  gboolean no_model;
  /* The protocol itself says which words are final early enough for live captions
   * (stable words in partials, or frequent finals): the engine does not guess stability
   * from repeated partials (`partial-stability`). */
  gboolean marks_final_words;
  /* Audio goes out only once the server has acknowledged the start message
   * (SttParseOutput.ready), as the service's own clients do. */
  gboolean wait_ready;
  /* After the end message the server closes normally (1000) once it has sent every
   * result: that close is the end-of-audio acknowledgement (AWS). */
  gboolean end_ack_is_close;
  /* The service takes AWS credentials (an access key pair, maybe a session token, and a
   * region) instead of one key: see SttProviderConfig. */
  gboolean aws_credentials;
  /* The largest audio frame the service takes, in ms (its documentation or SDK; 0 =
   * none known). Non-live input sent unpaced goes in frames this large unless
   * chunk-duration is set: per-frame costs are paid less often, and latency does not
   * matter there. */
  guint file_frame_ms;

  /* --- required --- */
  /* Fills @req for a connection attempt (and may set st->priv). FALSE + @error: the
   * configuration cannot work (fatal). */
  gboolean (*build_request) (SttProviderState * st, SttRequest * req, GError ** error);
  /* Frames @len bytes of wire-format audio. Returns a new GBytes and sets @type. The
   * bytes may point into @data: the caller sends the frame (libsoup copies it) before
   * @data changes, and keeps no reference to it. */
  GBytes *(*frame_audio) (SttProviderState * st, const guint8 * data, gsize len,
      SttFrameType * type);
  /* One server message into @out. A JSON protocol starts with stt_json_parse_message()
   * (sttjson.h), which refuses binary frames and what is not a JSON object. */
  void (*parse) (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
      SttParseOutput * out);

  /* --- optional: NULL = the protocol has no such message --- */
  /* First text message after the handshake. */
  gchar *(*start_message) (SttProviderState * st);
  /* Sent after keepalive_interval seconds without audio (with keepalive_interval > 0). */
  gchar *(*keepalive_message) (SttProviderState * st);
  /* Sent at end of stream; the server answers with its last results then finishes.
   * Returns the message and whether it is binary (an empty binary frame for some).
   * NULL: at the end of the stream the engine finishes at once, waiting for nothing. */
  GBytes *(*end_message) (SttProviderState * st, SttFrameType * type);
  /* Asks the server to turn the open segment final now. */
  gchar *(*finalize_message) (SttProviderState * st);

  /* --- optional: NULL = the common rule. Callers go through stt_provider_classify_close,
   * stt_provider_classify_http and stt_provider_clear_priv, which apply it. --- */
  /* The server closed the WebSocket. Default: stt_failure_from_close (@code). */
  SttFailure (*classify_close) (SttProviderState * st, gushort code, const gchar * reason);
  /* The handshake, or the init step, answered HTTP @status (not 2xx). Default:
   * stt_failure_from_http (@status). */
  SttFailure (*classify_http) (SttProviderState * st, guint status);
  /* Frees st->priv. Default: g_free (a plain struct that owns nothing). */
  void (*free_priv) (gpointer priv);

  /* --- optional: NULL = no such step; the hooks of a step go together --- */
  /* An HTTP step before each connection attempt: fill @init and return TRUE, or return
   * FALSE when none is needed this time (e.g. a session URL is still valid). The answer
   * goes to parse_init_response (required with this hook); an HTTP error status is
   * classified by classify_http. */
  gboolean (*build_init_request) (SttProviderState * st, SttHttpInit * init);
  /* A 2xx answer to the init step. FALSE + @error: the answer is unusable (fatal). */
  gboolean (*parse_init_response) (SttProviderState * st, guint status,
      const guint8 * body, gsize len, GError ** error);
  /* For services whose session outlives a connection. Called before a reconnection:
   * return TRUE with the number of samples the service acknowledged since its session
   * began, to continue that session (its clock running on, no replay of what it has);
   * FALSE to start a new session (replay from the committed point). */
  gboolean (*resume_point) (SttProviderState * st, guint64 * acked_samples);
  /* The engine could not resume (the audio after the acknowledged point is gone): drop
   * the session kept in stream_priv. */
  void (*forget_session) (SttProviderState * st);
  void (*free_stream_priv) (gpointer stream_priv);
};

const SttProviderInfo *stt_provider_lookup (const gchar * name);
/* NULL-terminated list of known provider names. */
const gchar *const *stt_provider_names (void);

/* Environment variable holding this provider's key ("DEEPGRAM_API_KEY"). */
gchar *stt_provider_env_key_name (const SttProviderInfo * info);

/* The provider's classify_close, or stt_failure_from_close (@code) without one. */
SttFailure stt_provider_classify_close (SttProviderState * st, gushort code,
    const gchar * reason);
/* The provider's classify_http, or stt_failure_from_http (@status) without one. */
SttFailure stt_provider_classify_http (SttProviderState * st, guint status);
/* Frees st->priv, if any, with the provider's free_priv (g_free without one) and sets
 * it to NULL. */
void stt_provider_clear_priv (SttProviderState * st);

void stt_request_clear (SttRequest * req);
void stt_request_add_header (SttRequest * req, const gchar * name, const gchar * value);

/* frame_audio for protocols that take the raw audio as a binary message: the frame is
 * @data itself, not a copy (see frame_audio). */
GBytes *stt_frame_audio_binary (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type);

SttResult *stt_result_new (void);
void stt_result_free (SttResult * r);
void stt_parse_output_init (SttParseOutput * out);
void stt_parse_output_clear (SttParseOutput * out);

/* Common rules shared by every provider's failure table. */
SttFailure stt_failure_from_http (guint status);
SttFailure stt_failure_from_close (gushort code);
const gchar *stt_failure_name (SttFailure f);

/* Builds "@base?k=v&k=v" with URI-escaped values, from a NULL-terminated list of pairs
 * plus @config->params. NULL values are skipped. */
gchar *stt_build_url (const gchar * base, const SttProviderConfig * config, ...)
    G_GNUC_NULL_TERMINATED;

G_END_DECLS
