/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-elevenlabs.c: ElevenLabs Scribe realtime (scribe_v2_realtime).
 *
 * Query-string configuration, `xi-api-key: <key>` or a single-use token in the `token`
 * query parameter, audio as JSON text frames (`input_audio_chunk`, base64), and a commit
 * (an empty chunk with commit:true) to flush. The server answers `partial_transcript`
 * (the open segment, no times) and, for every commit (its own VAD's or ours),
 * `committed_transcript` then `committed_transcript_with_timestamps` (words in seconds
 * since the session's first audio). The final is the one with timestamps, so each
 * segment is final once.
 *
 * Which answer is the answer to our commit (the end of stream, or a finalize): answers
 * come in order, our commit covers everything sent before it, and the server's VAD only
 * commits after vad_silence_threshold_secs of silence (which we set, so we know it). An
 * answer is ours when it is empty (VAD commits speech), when its last word ends less than
 * that threshold before our commit (too soon for the VAD), or always with
 * commit_strategy=manual. Ours covers the audio up to the commit; the end of stream is
 * finished once ours arrived.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

#define DEFAULT_MODEL "scribe_v2_realtime"
/* Sent explicitly: the rule above needs to know it. */
#define DEFAULT_VAD_SILENCE "1.5"

typedef struct
{
  guint rate;
  gboolean interim;
  gboolean timestamps;          /* include_timestamps: the final waits for the words */
  gboolean manual;              /* commit_strategy=manual: every answer is to our commit */
  gdouble vad_silence;          /* seconds */
  guint64 samples_sent;
  GArray *commits;              /* guint64: samples sent when each unanswered commit left */
  gboolean end_sent;
  /* A committed_transcript waiting for its timestamps, or NULL. */
  gchar *pending_text;
} ElevenLabsPriv;

static void
elevenlabs_free_priv (gpointer p)
{
  ElevenLabsPriv *priv = p;

  g_array_unref (priv->commits);
  g_free (priv->pending_text);
  g_free (priv);
}

static const gchar *
param (const SttProviderConfig * c, const gchar * name)
{
  return c->params ? g_hash_table_lookup (c->params, name) : NULL;
}

static gboolean
elevenlabs_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  static const guint rates[] = { 8000, 16000, 22050, 24000, 44100, 48000 };
  const SttProviderConfig *c = st->config;
  const gchar *strategy = param (c, "commit_strategy");
  const gchar *timestamps = param (c, "include_timestamps");
  const gchar *vad = param (c, "vad_silence_threshold_secs");
  g_autoptr (JsonArray) languages = stt_json_language_codes (c->language);
  g_autofree gchar *format = NULL;
  ElevenLabsPriv *priv;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (rates) && rates[i] != c->sample_rate; i++);
  if (i == G_N_ELEMENTS (rates))
    goto bad_rate;
  format = g_strdup_printf ("pcm_%u", c->sample_rate);

  priv = g_new0 (ElevenLabsPriv, 1);
  priv->rate = c->sample_rate;
  priv->interim = c->interim_results;
  priv->manual = strategy && g_ascii_strcasecmp (strategy, "manual") == 0;
  priv->timestamps = timestamps == NULL || g_ascii_strcasecmp (timestamps, "false") != 0;
  priv->vad_silence = g_ascii_strtod (vad ? vad : DEFAULT_VAD_SILENCE, NULL);
  priv->commits = g_array_new (FALSE, FALSE, sizeof (guint64));
  st->priv = priv;

  req->url = stt_build_url (c->url ? c->url : st->info->default_url, c,
      "model_id", c->model ? c->model : DEFAULT_MODEL,
      "audio_format", format,
      "commit_strategy", "vad",
      "vad_silence_threshold_secs", priv->manual ? NULL : DEFAULT_VAD_SILENCE,
      "language_code", languages ? json_array_get_string_element (languages, 0) : NULL,
      "include_timestamps", "true",
      "token", c->key_is_token ? c->api_key : NULL, NULL);
  if (c->api_key && !c->key_is_token)
    stt_request_add_header (req, "xi-api-key", c->api_key);
  return TRUE;

  /* ERRORS */
bad_rate:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "ElevenLabs takes PCM "
      "at 8000, 16000, 22050, 24000, 44100 or 48000 Hz, not %u: set sample-rate",
      c->sample_rate);
  return FALSE;
}

static JsonBuilder *
chunk_begin (ElevenLabsPriv * priv, const guint8 * data, gsize len)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "message_type");
  json_builder_add_string_value (b, "input_audio_chunk");
  stt_json_builder_add_base64 (b, "audio_base_64", data, len);
  json_builder_set_member_name (b, "commit");
  json_builder_add_boolean_value (b, data == NULL);
  json_builder_set_member_name (b, "sample_rate");
  json_builder_add_int_value (b, priv->rate);
  json_builder_end_object (b);
  return b;
}

static GBytes *
elevenlabs_frame_audio (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type)
{
  ElevenLabsPriv *priv = st->priv;
  g_autoptr (JsonBuilder) b = chunk_begin (priv, data, len);

  priv->samples_sent += len / 2;
  *type = STT_FRAME_TEXT;
  return stt_json_builder_to_bytes (b);
}

/* The SDK's commit: an empty chunk with commit:true. */
static gchar *
commit_message (ElevenLabsPriv * priv)
{
  g_autoptr (JsonBuilder) b = chunk_begin (priv, NULL, 0);

  g_array_append_val (priv->commits, priv->samples_sent);
  return stt_json_builder_to_string (b);
}

static void
parse_words (JsonObject * o, SttResult * r)
{
  JsonArray *words = stt_json_get_array (o, "words");
  guint i, n = words ? json_array_get_length (words) : 0;

  for (i = 0; i < n; i++) {
    JsonObject *w = stt_json_array_get_object (words, i);
    const gchar *text = stt_json_get_string (w, "text", NULL);
    const gchar *type = stt_json_get_string (w, "type", "word");
    gdouble logprob = stt_json_get_double (w, "logprob", 1);
    SttWord word = { 0, };

    /* "spacing" entries are the gaps, "audio_event" ones are sounds: not words. */
    if (text == NULL || !g_str_equal (type, "word"))
      continue;
    word.text = g_strdup (text);
    word.start = stt_json_get_double (w, "start", -1);
    word.end = stt_json_get_double (w, "end", -1);
    word.confidence = logprob <= 0 ? exp (logprob) : -1;
    word.speaker = g_strdup (stt_json_get_string (w, "speaker_id", NULL));
    g_array_append_val (r->words, word);
  }
  if (r->words->len > 0) {
    r->start = g_array_index (r->words, SttWord, 0).start;
    r->end = g_array_index (r->words, SttWord, r->words->len - 1).end;
  }
}

/* The answer to a commit: @o is committed_transcript_with_timestamps, or NULL with the
 * text of a committed_transcript that has none. */
static void
committed (ElevenLabsPriv * priv, JsonObject * o, const gchar * text, SttParseOutput * out)
{
  SttResult *r = stt_result_new ();
  gboolean empty, ours = FALSE;
  gdouble commit_at = -1;

  r->is_final = TRUE;
  r->text = g_strstrip (g_strdup (text));
  if (o) {
    parse_words (o, r);
    r->language = g_strdup (stt_json_get_string (o, "language_code", NULL));
  }
  empty = *r->text == '\0' && r->words->len == 0;

  if (priv->commits->len > 0) {
    commit_at = (gdouble) g_array_index (priv->commits, guint64, 0) / priv->rate;
    ours = priv->manual || empty
        || (r->words->len > 0 && commit_at - r->end < priv->vad_silence);
  }
  if (ours) {
    /* Our commit: it covers all the audio sent before it. */
    g_array_remove_index (priv->commits, 0);
    r->end = commit_at;
    if (priv->end_sent && priv->commits->len == 0)
      out->finished = TRUE;
  } else if (empty) {
    stt_result_free (r);
    return;
  } else if (r->words->len == 0) {
    /* No times (include_timestamps=false) and not ours: what it covers is unknown, so
     * it commits nothing (end 0 lies before the committed point). */
    r->end = 0;
  }
  g_ptr_array_add (out->results, r);
}

static void
partial (ElevenLabsPriv * priv, JsonObject * o, SttParseOutput * out)
{
  const gchar *text = stt_json_get_string (o, "text", "");
  SttResult *r;

  if (!priv->interim || *text == '\0')
    return;
  r = stt_result_new ();
  r->text = g_strdup (text);
  parse_words (o, r);
  g_ptr_array_add (out->results, r);
}

/* Every error message type (SDK 2.x RealtimeEvents), retryable or not. The service's
 * close codes are not documented: the message decides. */
static const struct
{
  const gchar *type;
  SttFailure failure;
} errors[] = {
  {"auth_error", STT_FAILURE_AUTH},
  {"quota_exceeded", STT_FAILURE_FATAL},
  {"unaccepted_terms", STT_FAILURE_FATAL},
  {"input_error", STT_FAILURE_FATAL},
  {"invalid_request", STT_FAILURE_FATAL},
  {"chunk_size_exceeded", STT_FAILURE_FATAL},
  {"error", STT_FAILURE_RETRY},
  {"transcriber_error", STT_FAILURE_RETRY},
  {"rate_limited", STT_FAILURE_RETRY},
  {"queue_overflow", STT_FAILURE_RETRY},
  {"resource_exhausted", STT_FAILURE_RETRY},
  {"commit_throttled", STT_FAILURE_RETRY},
  /* The session ends: a new one goes on. */
  {"session_time_limit_exceeded", STT_FAILURE_RETRY},
  {"insufficient_audio_activity", STT_FAILURE_RETRY},
};

static void
elevenlabs_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  ElevenLabsPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  const gchar *type;
  guint i;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  type = stt_json_get_string (o, "message_type", "");

  if (g_str_equal (type, "partial_transcript") || g_str_equal (type, "final_transcript")
      || g_str_equal (type, "final_transcript_with_timestamps")) {
    /* final_transcript: settled but not committed yet; the commit is the final. */
    partial (priv, o, out);
  } else if (g_str_equal (type, "committed_transcript")) {
    const gchar *text = stt_json_get_string (o, "text", "");

    if (!priv->timestamps) {
      committed (priv, NULL, text, out);
      return;
    }
    /* Its timestamps follow; one that never got them stands in for itself. */
    if (priv->pending_text)
      committed (priv, NULL, priv->pending_text, out);
    g_free (priv->pending_text);
    priv->pending_text = g_strdup (text);
  } else if (g_str_equal (type, "committed_transcript_with_timestamps")) {
    g_clear_pointer (&priv->pending_text, g_free);
    committed (priv, o, stt_json_get_string (o, "text", ""), out);
  } else if (g_str_equal (type, "session_started")) {
    out->ready = TRUE;
  } else if (g_str_equal (type, "warning")) {
    g_info ("ElevenLabs warning: %s", stt_json_get_string (o, "warning", ""));
  } else if (!g_str_equal (type, "committed_transcript_entities")
      && !g_str_equal (type, "edited_transcript")) {
    for (i = 0; i < G_N_ELEMENTS (errors); i++) {
      if (g_str_equal (type, errors[i].type)) {
        out->failure = errors[i].failure;
        out->error = g_strdup_printf ("%s: %s", type, stt_json_get_string (o, "error",
                "no details"));
        return;
      }
    }
    out->error = g_strdup_printf ("unknown message type '%s'", type);
  }
}

static gchar *
elevenlabs_finalize (SttProviderState * st)
{
  return commit_message (st->priv);
}

static GBytes *
elevenlabs_end (SttProviderState * st, SttFrameType * type)
{
  ElevenLabsPriv *priv = st->priv;
  gchar *msg = commit_message (priv);

  priv->end_sent = TRUE;
  *type = STT_FRAME_TEXT;
  return g_bytes_new_take (msg, strlen (msg));
}

const SttProviderInfo stt_provider_elevenlabs = {
  .name = "elevenlabs",
  .display_name = "ElevenLabs",
  .default_url = "wss://api.elevenlabs.io/v1/speech-to-text/realtime",
  .default_rate = 16000,
  /* The docs' examples send 1 s chunks. */
  .file_frame_ms = 1000,
  /* The SDK streams files as fast as ffmpeg decodes them. */
  .realtime_only = FALSE,
  /* No keepalive message is documented: WebSocket pings only. */
  .keepalive_interval = 0,
  .build_request = elevenlabs_build_request,
  .frame_audio = elevenlabs_frame_audio,
  .parse = elevenlabs_parse,
  .end_message = elevenlabs_end,
  .finalize_message = elevenlabs_finalize,
  .free_priv = elevenlabs_free_priv,
};
