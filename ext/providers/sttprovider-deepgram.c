/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-deepgram.c: Deepgram listen v1 live.
 *
 * Query-string configuration, `Authorization: Token <key>` (or `Bearer <jwt>` for a
 * temporary token), binary PCM frames, JSON control messages (KeepAlive, Finalize,
 * CloseStream) and `Results` with word times in seconds since the stream's first audio.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

typedef struct
{
  gboolean end_sent;
} DeepgramPriv;

static gboolean
deepgram_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;
  g_autofree gchar *rate = g_strdup_printf ("%u", c->sample_rate);
  g_autofree gchar *auth = NULL;

  req->url = stt_build_url (c->url ? c->url : st->info->default_url, c,
      "model", c->model ? c->model : "nova-3",
      "encoding", "linear16",
      "sample_rate", rate,
      "channels", "1",
      "interim_results", c->interim_results ? "true" : "false",
      "punctuate", "true", "language", c->language, NULL);

  if (c->api_key) {
    auth = g_strdup_printf ("%s %s", c->key_is_token ? "Bearer" : "Token", c->api_key);
    stt_request_add_header (req, "Authorization", auth);
  }
  st->priv = g_new0 (DeepgramPriv, 1);
  return TRUE;
}

static void
parse_results (JsonObject * o, SttParseOutput * out)
{
  JsonObject *alt = stt_json_array_get_object (stt_json_get_array (stt_json_get_object (o,
              "channel"), "alternatives"), 0);
  JsonArray *words = stt_json_get_array (alt, "words");
  SttResult *r = stt_result_new ();
  gdouble start = stt_json_get_double (o, "start", -1);
  gdouble duration = stt_json_get_double (o, "duration", -1);
  guint i, n = words ? json_array_get_length (words) : 0;

  r->is_final = stt_json_get_bool (o, "is_final", FALSE);
  r->text = g_strdup (stt_json_get_string (alt, "transcript", ""));
  r->confidence = stt_json_get_double (alt, "confidence", -1);
  r->start = start;
  r->end = (start >= 0 && duration >= 0) ? start + duration : -1;
  /* Two huge (finite) numbers add up to infinity: that is no time either. */
  if (!isfinite (r->end))
    r->end = -1;

  for (i = 0; i < n; i++) {
    JsonObject *w = stt_json_array_get_object (words, i);
    SttWord word = { 0, };
    const gchar *text = stt_json_get_string (w, "punctuated_word", NULL);
    gint64 speaker;

    if (text == NULL)
      text = stt_json_get_string (w, "word", NULL);
    if (text == NULL)
      continue;
    word.text = g_strdup (text);
    word.start = stt_json_get_double (w, "start", -1);
    word.end = stt_json_get_double (w, "end", -1);
    word.confidence = stt_json_get_double (w, "confidence", -1);
    speaker = stt_json_get_int (w, "speaker", -1);
    if (speaker >= 0)
      word.speaker = g_strdup_printf ("%" G_GINT64_FORMAT, speaker);
    if (r->language == NULL && stt_json_get_string (w, "language", NULL))
      r->language = g_strdup (stt_json_get_string (w, "language", NULL));
    g_array_append_val (r->words, word);
  }
  g_ptr_array_add (out->results, r);
}

static void
deepgram_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  DeepgramPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  const gchar *type;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  type = stt_json_get_string (o, "type", "");

  if (g_str_equal (type, "Results")) {
    parse_results (o, out);
  } else if (g_str_equal (type, "Metadata")) {
    /* Sent after CloseStream, once every Results is out. */
    if (priv->end_sent)
      out->finished = TRUE;
  } else if (g_str_equal (type, "Error")) {
    const gchar *desc = stt_json_get_string (o, "description", NULL);

    out->failure = STT_FAILURE_RETRY;
    out->error = g_strdup (desc ? desc : stt_json_get_string (o, "message", "error"));
  } else if (!g_str_equal (type, "SpeechStarted") && !g_str_equal (type, "UtteranceEnd")) {
    out->error = g_strdup_printf ("unknown message type '%s'", type);
  }
}

static gchar *
deepgram_keepalive (SttProviderState * st)
{
  return g_strdup ("{\"type\":\"KeepAlive\"}");
}

static gchar *
deepgram_finalize (SttProviderState * st)
{
  return g_strdup ("{\"type\":\"Finalize\"}");
}

static GBytes *
deepgram_end (SttProviderState * st, SttFrameType * type)
{
  static const gchar msg[] = "{\"type\":\"CloseStream\"}";
  DeepgramPriv *priv = st->priv;

  priv->end_sent = TRUE;
  *type = STT_FRAME_TEXT;
  return g_bytes_new_static (msg, strlen (msg));
}

static SttFailure
deepgram_classify_close (SttProviderState * st, gushort code, const gchar * reason)
{
  /* DATA-0000: what we sent is not decodable audio; resending it would fail again. */
  if (reason && g_str_has_prefix (reason, "DATA-"))
    return STT_FAILURE_FATAL;
  /* NET-0000/NET-0001 (1011): timeouts on either side, worth a new connection. */
  return stt_failure_from_close (code);
}

const SttProviderInfo stt_provider_deepgram = {
  .name = "deepgram",
  .display_name = "Deepgram",
  .default_url = "wss://api.deepgram.com/v1/listen",
  .default_rate = 16000,
  /* "20-250 ms per send" (maintainer advice). */
  .file_frame_ms = 250,
  .realtime_only = FALSE,
  /* is_final results come every few seconds of speech (not only at endpoints). */
  .marks_final_words = TRUE,
  /* The service closes after 10 s without audio or KeepAlive; its docs say 3-5 s. */
  .keepalive_interval = 4.0,
  .build_request = deepgram_build_request,
  .frame_audio = stt_frame_audio_binary,
  .parse = deepgram_parse,
  .keepalive_message = deepgram_keepalive,
  .end_message = deepgram_end,
  .finalize_message = deepgram_finalize,
  .classify_close = deepgram_classify_close,
};
