/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-aws.c: Amazon Transcribe streaming over WebSocket.
 *
 * The handshake is a GET of
 *   wss://transcribestreaming.<region>.amazonaws.com:8443/stream-transcription-websocket
 * presigned with AWS Signature Version 4 in its query (sttsigv4.c; service
 * `transcribe`, only `host` signed, a fresh signature for every attempt), with the
 * stream's settings as query parameters (`language-code`, `media-encoding=pcm`,
 * `sample-rate`, and the names of StartStreamTranscription's x-amzn-transcribe-* headers
 * without that prefix). Both ways every WebSocket frame is one AWS event-stream message
 * (stteventstream.c): AudioEvent messages with raw PCM out, TranscriptEvent messages
 * with JSON in, exception messages before the service closes. An AudioEvent with no
 * audio ends the stream: the service sends its last results and closes normally, and
 * that close is the end-of-audio acknowledgement (the provider flag
 * end_ack_is_close).
 *
 * As the AWS developer guide's WebSocket page and AWS's own browser sample frame them,
 * audio events carry the three headers :content-type, :event-type and :message-type and
 * no per-event signature (the JS SDK's WebSocket handler wraps each event in a signed
 * envelope as over HTTP/2; the WebSocket endpoint takes the documented form).
 *
 * Results: a segment (ResultId) is sent again and again with IsPartial true, then once
 * with IsPartial false. Items of Type "pronunciation" are the words; a "punctuation"
 * item is appended to the word before it, so a word's text is what a caption shows.
 * With partial-results stabilization (on by default here, as live captions need it),
 * partial items say Stable: those words will not change. Times are seconds from the
 * connection's first sample.
 *
 * Sources: providers.md section 9, checked against @aws-sdk/client-transcribe-streaming
 * and @aws-sdk/middleware-websocket (the query names, the :8443 host, the end frame).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "stteventstream.h"
#include "sttproviders-list.h"
#include "sttsigv4.h"

#define DEFAULT_URL_FORMAT \
  "wss://transcribestreaming.%s.amazonaws.com:8443/stream-transcription-websocket"
#define DEFAULT_LANGUAGE "en-US"
/* Seconds a presigned URL stays valid (AWS's maximum for this API). */
#define PRESIGN_EXPIRES 300

/* The locale AWS knows for a bare language subtag ("en" is not a code it takes). */
static const gchar *const locales[] = {
  "en", "en-US", "es", "es-US", "fr", "fr-FR", "de", "de-DE", "it", "it-IT",
  "pt", "pt-BR", "ja", "ja-JP", "ko", "ko-KR", "zh", "zh-CN", "hi", "hi-IN",
  "ar", "ar-SA", "nl", "nl-NL", "ru", "ru-RU", "sv", "sv-SE", "da", "da-DK",
  "th", "th-TH", "tr", "tr-TR", "pl", "pl-PL", "id", "id-ID", "he", "he-IL",
  NULL
};

static const gchar *const audio_headers[] = {
  ":content-type", "application/octet-stream",
  ":event-type", "AudioEvent",
  ":message-type", "event",
  NULL
};

static gchar *
aws_locale (const gchar * code)
{
  g_autofree gchar *c = g_strstrip (g_strdup (code));
  guint i;

  if (strchr (c, '-') || strchr (c, '_')) {
    g_strdelimit (c, "_", '-');
    return g_steal_pointer (&c);
  }
  for (i = 0; locales[i]; i += 2) {
    if (g_ascii_strcasecmp (locales[i], c) == 0)
      return g_strdup (locales[i + 1]);
  }
  return g_steal_pointer (&c);
}

/* The region in a transcribestreaming.<region>.amazonaws.com URL, or NULL. */
static gchar *
region_from_url (const gchar * url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *host = uri ? g_uri_get_host (uri) : NULL;
  const gchar *prefix = "transcribestreaming.";

  if (host && g_str_has_prefix (host, prefix) && strchr (host + strlen (prefix), '.')) {
    const gchar *r = host + strlen (prefix);
    return g_strndup (r, strchr (r, '.') - r);
  }
  return NULL;
}

static gboolean
aws_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;
  g_autofree gchar *region = c->region ? g_strdup (c->region) :
      c->url ? region_from_url (c->url) : NULL;
  g_autofree gchar *base = NULL, *url = NULL, *rate = NULL;
  g_autofree gchar *language = NULL, *options = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  SttSigV4Credentials creds;

  if (region == NULL || *region == '\0') {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "no AWS region: set the region property, $AWS_REGION or a region in the profile");
    return FALSE;
  }
  if (c->access_key_id == NULL || c->api_key == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "no AWS credentials");
    return FALSE;
  }
  base = c->url ? g_strdup (c->url) : g_strdup_printf (DEFAULT_URL_FORMAT, region);

  /* One language, or several to identify among ("en-US, es-US"). */
  if (c->language && strchr (c->language, ',')) {
    gchar **codes = g_strsplit (c->language, ",", -1);
    guint i;

    for (i = 0; codes[i]; i++) {
      gchar *l = aws_locale (codes[i]);
      g_free (codes[i]);
      codes[i] = l;
    }
    options = g_strjoinv (",", codes);
    g_strfreev (codes);
  } else {
    language = aws_locale (c->language ? c->language : DEFAULT_LANGUAGE);
  }
  rate = g_strdup_printf ("%u", c->sample_rate);
  url = stt_build_url (base, c,
      "language-code", language,
      "identify-language", options ? "true" : NULL,
      "language-options", options,
      "media-encoding", "pcm",
      "sample-rate", rate,
      "enable-partial-results-stabilization", c->interim_results ? "true" : NULL,
      "partial-results-stability", c->interim_results ? "high" : NULL, NULL);

  creds = (SttSigV4Credentials) {
    .access_key_id = c->access_key_id,
    .secret_key = c->api_key,
    .session_token = c->session_token,
    .region = region,
    .service = "transcribe",
  };
  req->url = stt_sigv4_presign_url (&creds, url, now, PRESIGN_EXPIRES, NULL);
  if (req->url == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "cannot sign this URL");
    return FALSE;
  }
  return TRUE;
}

static GBytes *
aws_frame_audio (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type)
{
  *type = STT_FRAME_BINARY;
  return stt_event_stream_encode (audio_headers, data, len);
}

static GBytes *
aws_end (SttProviderState * st, SttFrameType * type)
{
  *type = STT_FRAME_BINARY;
  return stt_event_stream_encode (audio_headers, NULL, 0);
}

/* --- transcripts ------------------------------------------------------------------- */

static void
add_items (SttResult * r, JsonArray * items, gboolean is_final)
{
  guint i, n = items ? json_array_get_length (items) : 0;

  for (i = 0; i < n; i++) {
    JsonObject *item = stt_json_array_get_object (items, i);
    const gchar *content = stt_json_get_string (item, "Content", NULL);
    const gchar *type = stt_json_get_string (item, "Type", "pronunciation");
    SttWord w = { 0, };

    if (content == NULL || *content == '\0')
      continue;
    if (g_str_equal (type, "punctuation")) {
      /* Attached to the word before it; a sentence's full stop for a word of an earlier
       * result cannot be attached any more. */
      if (r->words->len > 0) {
        SttWord *prev = &g_array_index (r->words, SttWord, r->words->len - 1);
        gchar *joined = g_strconcat (prev->text, content, NULL);

        g_free (prev->text);
        prev->text = joined;
      }
      continue;
    }
    w.text = g_strdup (content);
    w.start = stt_json_get_double (item, "StartTime", -1);
    w.end = stt_json_get_double (item, "EndTime", -1);
    w.confidence = stt_json_get_double (item, "Confidence", -1);
    w.speaker = g_strdup (stt_json_get_string (item, "Speaker", NULL));
    w.stable = is_final || stt_json_get_bool (item, "Stable", FALSE);
    g_array_append_val (r->words, w);
  }
}

static void
parse_transcript (const guint8 * payload, gsize len, gboolean want_partials,
    SttParseOutput * out)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = stt_json_parse_object ((const gchar *) payload, len, &parser);
  JsonArray *results;
  guint i, n;

  if (o == NULL) {
    out->error = g_strdup ("TranscriptEvent payload is not a JSON object");
    return;
  }
  results = stt_json_get_array (stt_json_get_object (o, "Transcript"), "Results");
  if (results == NULL) {
    out->error = g_strdup ("TranscriptEvent without Transcript.Results");
    return;
  }
  n = json_array_get_length (results);
  for (i = 0; i < n; i++) {
    JsonObject *res = stt_json_array_get_object (results, i);
    JsonObject *alt = stt_json_array_get_object (stt_json_get_array (res,
            "Alternatives"), 0);
    gboolean is_final = !stt_json_get_bool (res, "IsPartial", FALSE);
    const gchar *id = stt_json_get_string (res, "ResultId", NULL);
    const gchar *text = stt_json_get_string (alt, "Transcript", "");
    SttResult *r;

    if (res == NULL || (!is_final && !want_partials))
      continue;
    r = stt_result_new ();
    r->is_final = is_final;
    r->segment_key = g_strdup (id);
    r->start = stt_json_get_double (res, "StartTime", -1);
    r->end = stt_json_get_double (res, "EndTime", -1);
    r->language = g_strdup (stt_json_get_string (res, "LanguageCode", NULL));
    add_items (r, stt_json_get_array (alt, "Items"), is_final);
    r->text = g_strstrip (g_strdup (text));
    if (*r->text == '\0' && r->words->len == 0) {
      /* A final of silence: the audio up to its end is done with. */
      if (is_final && r->end >= 0)
        out->processed = MAX (out->processed, r->end);
      stt_result_free (r);
      continue;
    }
    if (is_final && r->words->len > 0) {
      gdouble conf = 0;
      guint k, n_conf = 0;

      for (k = 0; k < r->words->len; k++) {
        gdouble c = g_array_index (r->words, SttWord, k).confidence;
        if (c >= 0) {
          conf += c;
          n_conf++;
        }
      }
      if (n_conf)
        r->confidence = conf / n_conf;
    }
    g_ptr_array_add (out->results, r);
  }
}

/* --- failures ---------------------------------------------------------------------- */

static const struct
{
  const gchar *type;
  SttFailure failure;
} exceptions[] = {
  /* Bad parameters: the same request would be refused again. */
  {"BadRequestException", STT_FAILURE_FATAL},
  {"ConflictException", STT_FAILURE_FATAL},
  {"UnrecognizedClientException", STT_FAILURE_AUTH},
  {"AccessDeniedException", STT_FAILURE_AUTH},
  {"InvalidSignatureException", STT_FAILURE_AUTH},
  {"ExpiredTokenException", STT_FAILURE_AUTH},
  /* Concurrent streams or duration quota: backoff. */
  {"LimitExceededException", STT_FAILURE_RETRY},
  {"InternalFailureException", STT_FAILURE_RETRY},
  {"ServiceUnavailableException", STT_FAILURE_RETRY},
};

static void
parse_exception (GHashTable * headers, const guint8 * payload, gsize len,
    SttParseOutput * out)
{
  const gchar *type = g_hash_table_lookup (headers, ":exception-type");
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = stt_json_parse_object ((const gchar *) payload, len, &parser);
  const gchar *message = stt_json_get_string (o, "Message",
      stt_json_get_string (o, "message", "no message"));
  guint i;

  /* An unknown exception is worth a new connection; backoff bounds a repeat. */
  out->failure = STT_FAILURE_RETRY;
  for (i = 0; type && i < G_N_ELEMENTS (exceptions); i++) {
    if (g_str_equal (type, exceptions[i].type))
      out->failure = exceptions[i].failure;
  }
  /* "Your request timed out because no new audio was received for 15 seconds": the
   * input paused; a new connection goes on when audio comes again. */
  if (type && g_str_equal (type, "BadRequestException") && strstr (message, "no new audio"))
    out->failure = STT_FAILURE_RETRY;
  out->error = g_strdup_printf ("%s: %s", type ? type : "exception", message);
}

static void
aws_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  g_autoptr (GHashTable) headers = NULL;
  const guint8 *payload;
  gsize payload_len;
  gchar *err = NULL;
  const gchar *mtype;

  if (!binary) {
    out->error = g_strdup ("unexpected text message");
    return;
  }
  if (!stt_event_stream_decode (data, len, &headers, &payload, &payload_len, &err)) {
    out->error = err;
    return;
  }
  mtype = g_hash_table_lookup (headers, ":message-type");
  if (mtype == NULL) {
    out->error = g_strdup ("event-stream message without :message-type");
  } else if (g_str_equal (mtype, "event")) {
    const gchar *etype = g_hash_table_lookup (headers, ":event-type");

    if (etype && g_str_equal (etype, "TranscriptEvent"))
      parse_transcript (payload, payload_len, st->config->interim_results, out);
    else
      out->error = g_strdup_printf ("unknown event '%s'", etype ? etype : "(none)");
  } else if (g_str_equal (mtype, "exception")) {
    parse_exception (headers, payload, payload_len, out);
  } else if (g_str_equal (mtype, "error")) {
    /* The event-stream protocol's own error: :error-code and :error-message. */
    out->failure = STT_FAILURE_RETRY;
    out->error = g_strdup_printf ("%s: %s",
        (gchar *) g_hash_table_lookup (headers, ":error-code") ? : "error",
        (gchar *) g_hash_table_lookup (headers, ":error-message") ? : "no message");
  } else {
    out->error = g_strdup_printf ("unknown message type '%s'", mtype);
  }
}

const SttProviderInfo stt_provider_aws = {
  .name = "aws",
  .display_name = "AWS Transcribe",
  .default_url = NULL,
  .default_rate = 16000,
  /* "<= 1 s" an AudioEvent (API reference); paced anyway. */
  .file_frame_ms = 1000,
  /* AWS's guidance: stream at the pace of speech. */
  .realtime_only = TRUE,
  /* Partial-results stabilization marks the words that will not change. */
  .marks_final_words = TRUE,
  /* The service closes normally once it has sent the results of every audio event. */
  .end_ack_is_close = TRUE,
  .aws_credentials = TRUE,
  /* Streaming has no model choice (medical is another endpoint). */
  .no_model = TRUE,
  /* No keepalive message: the service wants audio at least every 15 s. */
  .keepalive_interval = 0,
  .build_request = aws_build_request,
  .frame_audio = aws_frame_audio,
  .parse = aws_parse,
  .end_message = aws_end,
  .finalize_message = NULL,
  /* classify_close and classify_http: the defaults. HTTP 403: the signature or the key
   * was refused; 400: bad parameters; 429/5xx: retry. */
};
