/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-vosk.c: the vosk-server WebSocket protocol, also spoken by our local
 * recognizer (tools/stt-local-server).
 *
 * An optional `{"config": {...}}` text message first, binary PCM frames, and exactly one
 * JSON answer per frame: `{"partial": "..."}`, or `{"result": [words], "text": "..."}`
 * at an endpoint. The end is the byte-exact text `{"eof" : 1}`. The server answers
 * frames in order, so the answer to frame n says the audio up to its end is processed:
 * that is how finals, which carry no window of their own, tell what they cover. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

typedef struct
{
  GQueue frames;                /* samples in each unanswered frame (GUINT_TO_POINTER) */
  guint64 answered;             /* samples of every answered frame */
  gboolean end_sent;
} VoskPriv;

static void
vosk_free_priv (gpointer p)
{
  VoskPriv *priv = p;

  g_queue_clear (&priv->frames);
  g_free (priv);
}

static gboolean
vosk_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;

  /* vosk-server ignores the path and query: nothing to add. */
  req->url = g_strdup (c->url ? c->url : st->info->default_url);
  st->priv = g_new0 (VoskPriv, 1);
  return TRUE;
}

static gchar *
vosk_start_message (SttProviderState * st)
{
  const SttProviderConfig *c = st->config;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "config");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "sample_rate");
  json_builder_add_int_value (b, c->sample_rate);
  json_builder_set_member_name (b, "words");
  json_builder_add_int_value (b, 1);
  if (c->params) {
    GHashTableIter it;
    gpointer k, v;

    /* Extra options pass through as strings, or numbers when they look like one. */
    g_hash_table_iter_init (&it, c->params);
    while (g_hash_table_iter_next (&it, &k, &v)) {
      gchar *end = NULL;
      gint64 n = g_ascii_strtoll (v, &end, 10);

      json_builder_set_member_name (b, k);
      if (end && *end == '\0' && end != v)
        json_builder_add_int_value (b, n);
      else
        json_builder_add_string_value (b, v);
    }
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

static GBytes *
vosk_frame_audio (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type)
{
  VoskPriv *priv = st->priv;

  g_queue_push_tail (&priv->frames, GUINT_TO_POINTER ((guint) (len / 2)));
  return stt_frame_audio_binary (st, data, len, type);
}

static void
vosk_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  VoskPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  JsonArray *words;
  const gchar *text;
  gdouble processed;
  SttResult *r;
  guint i, n;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  /* Every answer (even a malformed one, above) is for the oldest unanswered frame. */
  if (!g_queue_is_empty (&priv->frames))
    priv->answered += GPOINTER_TO_UINT (g_queue_pop_head (&priv->frames));
  processed = (gdouble) priv->answered / st->config->sample_rate;

  if ((text = stt_json_get_string (o, "partial", NULL)) != NULL) {
    r = stt_result_new ();
    r->text = g_strdup (text);
    g_ptr_array_add (out->results, r);
    return;
  }
  text = stt_json_get_string (o, "text", NULL);
  if (text == NULL) {
    out->error = g_strdup ("neither partial nor text");
    return;
  }
  r = stt_result_new ();
  r->is_final = TRUE;
  r->text = g_strdup (text);
  r->end = processed;
  words = stt_json_get_array (o, "result");
  n = words ? json_array_get_length (words) : 0;
  for (i = 0; i < n; i++) {
    JsonObject *w = stt_json_array_get_object (words, i);
    SttWord word = { 0, };
    const gchar *wt = stt_json_get_string (w, "word", NULL);

    if (wt == NULL)
      continue;
    word.text = g_strdup (wt);
    word.start = stt_json_get_double (w, "start", -1);
    word.end = stt_json_get_double (w, "end", -1);
    word.confidence = stt_json_get_double (w, "conf", -1);
    g_array_append_val (r->words, word);
  }
  if (r->words->len > 0)
    r->start = g_array_index (r->words, SttWord, 0).start;
  g_ptr_array_add (out->results, r);
  if (priv->end_sent && g_queue_is_empty (&priv->frames))
    out->finished = TRUE;
}

static GBytes *
vosk_end (SttProviderState * st, SttFrameType * type)
{
  /* Both vosk servers compare this string byte for byte. */
  static const gchar eof[] = "{\"eof\" : 1}";
  VoskPriv *priv = st->priv;

  priv->end_sent = TRUE;
  /* The eof is answered like a frame, with the final result. */
  g_queue_push_tail (&priv->frames, GUINT_TO_POINTER (0));
  *type = STT_FRAME_TEXT;
  return g_bytes_new_static (eof, strlen (eof));
}

static gchar *
vosk_finalize (SttProviderState * st)
{
  VoskPriv *priv = st->priv;

  /* The python vosk-server finalizes on reset and goes on; it is answered like a frame. */
  g_queue_push_tail (&priv->frames, GUINT_TO_POINTER (0));
  return g_strdup ("{\"reset\" : 1}");
}

const SttProviderInfo stt_provider_vosk = {
  .name = "vosk",
  .display_name = "vosk-server",
  .default_url = "ws://127.0.0.1:2700",
  .default_rate = 16000,
  /* vosk-server takes any size; its test client sends 0.2 s. */
  .file_frame_ms = 1000,
  .realtime_only = FALSE,
  .keepalive_interval = 0,
  .unreachable_hint = "Start the local recognizer with `stt-local-server` (it listens on "
      "ws://127.0.0.1:2700), point the url property at a vosk-server, or choose "
      "another provider with the provider property.",
  .keyless = TRUE,
  .no_language = TRUE,
  .build_request = vosk_build_request,
  .start_message = vosk_start_message,
  .frame_audio = vosk_frame_audio,
  .parse = vosk_parse,
  .end_message = vosk_end,
  .finalize_message = vosk_finalize,
  .free_priv = vosk_free_priv,
};
