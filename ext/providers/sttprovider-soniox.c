/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-soniox.c: Soniox real-time WebSocket API.
 *
 * `Authorization: Bearer <key>` on the handshake (the start request's `api_key` field is
 * deprecated), a JSON start request as the first text frame, binary PCM at real-time
 * cadence, `{"type":"keepalive"}`, `{"type":"finalize"}`, and an empty frame to end the
 * audio. The server answers with a token stream: each response carries the tokens that
 * became final (sent once) and the current non-final tail (replacing the previous one).
 * Tokens are sub-word pieces with times in ms; `<end>` (endpoint) and `<fin>` (finalize
 * done) are control tokens that close the open segment. `finished:true` ends the stream;
 * errors are `{error_code, error_message}` followed by a close.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

#define DEFAULT_MODEL "stt-rt-v5"
/* Final tokens held for a segment that never ends (no <end>: a hostile or broken
 * server) are sent as a final of their own past this many, so the held text and every
 * partial that repeats it stay bounded. */
#define MAX_HELD_TOKENS 1000

typedef struct
{
  gchar *text;
  gdouble start, end;           /* seconds; negative when unknown */
  gdouble confidence;
  gchar *speaker;
  gchar *language;
} Token;

typedef struct
{
  GArray *final;                /* Token: final tokens of the open segment */
  GArray *tail;                 /* Token: the current non-final tokens */
  gboolean endpoints;           /* endpoint detection on: segments end at <end> */
  gboolean end_sent;
  gchar *last_partial;          /* text of the last partial, to skip repeats */
  guint last_n_stable;          /* its stable words */
  gdouble final_s;              /* the last final_audio_proc_ms, seconds (-1: none) */
} SonioxPriv;

static void
token_clear (gpointer p)
{
  Token *t = p;

  g_free (t->text);
  g_free (t->speaker);
  g_free (t->language);
}

static GArray *
token_array_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (Token));

  g_array_set_clear_func (a, token_clear);
  return a;
}

static void
soniox_free_priv (gpointer p)
{
  SonioxPriv *priv = p;

  g_array_unref (priv->final);
  g_array_unref (priv->tail);
  g_free (priv->last_partial);
  g_free (priv);
}

/* TRUE unless @params sets @name to false. */
static gboolean
param_is_true (GHashTable * params, const gchar * name, gboolean fallback)
{
  const gchar *v = params ? g_hash_table_lookup (params, name) : NULL;

  if (v == NULL)
    return fallback;
  return g_ascii_strcasecmp (v, "false") != 0 && g_strcmp0 (v, "0") != 0;
}

static gboolean
soniox_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;
  SonioxPriv *priv = g_new0 (SonioxPriv, 1);
  priv->final_s = -1;

  /* No query: everything goes into the start request. */
  req->url = g_strdup (c->url ? c->url : st->info->default_url);
  if (c->api_key) {
    g_autofree gchar *auth = g_strdup_printf ("Bearer %s", c->api_key);
    stt_request_add_header (req, "Authorization", auth);
  }
  priv->final = token_array_new ();
  priv->tail = token_array_new ();
  priv->endpoints = param_is_true (c->params, "enable_endpoint_detection", TRUE);
  st->priv = priv;
  return TRUE;
}

static gchar *
soniox_start_message (SttProviderState * st)
{
  const SttProviderConfig *c = st->config;
  g_autoptr (JsonObject) o = json_object_new ();
  JsonArray *hints = stt_json_language_codes (c->language);

  /* The key travels with the handshake, never in this message. */
  json_object_set_string_member (o, "model", c->model ? c->model : DEFAULT_MODEL);
  json_object_set_string_member (o, "audio_format", "pcm_s16le");
  json_object_set_int_member (o, "sample_rate", c->sample_rate);
  json_object_set_int_member (o, "num_channels", 1);
  if (hints)
    json_object_set_array_member (o, "language_hints", hints);
  json_object_set_boolean_member (o, "enable_endpoint_detection", TRUE);
  json_object_set_boolean_member (o, "enable_speaker_diarization", FALSE);
  stt_json_object_set_params (o, c->params);
  return stt_json_object_to_string (o);
}

/* Words from tokens [@from, @to) of @a: a token that starts with a space starts a word,
 * the others (sub-word pieces, punctuation) continue the current one. */
static void
append_words (SttResult * r, GArray * a, guint from, guint to, GString * text)
{
  guint i, pieces = 0;
  gdouble conf = 0;
  SttWord *w = NULL;

  for (i = from; i < to; i++) {
    Token *t = &g_array_index (a, Token, i);
    const gchar *piece = t->text;

    g_string_append (text, t->text);
    if (r->language == NULL && t->language)
      r->language = g_strdup (t->language);
    if (g_ascii_isspace (*piece) || w == NULL) {
      SttWord word = { 0, };

      while (g_ascii_isspace (*piece))
        piece++;
      if (*piece == '\0')
        continue;
      if (w && pieces)
        w->confidence = conf / pieces;
      word.text = g_strdup ("");
      word.start = t->start;
      word.end = t->end;
      word.confidence = -1;
      word.speaker = g_strdup (t->speaker);
      g_array_append_val (r->words, word);
      w = &g_array_index (r->words, SttWord, r->words->len - 1);
      conf = 0;
      pieces = 0;
    }
    {
      gchar *joined = g_strconcat (w->text, piece, NULL);

      g_free (w->text);
      w->text = g_strchomp (joined);
    }
    if (t->end >= 0)
      w->end = t->end;
    if (t->confidence >= 0) {
      conf += t->confidence;
      pieces++;
    }
  }
  if (w)
    w->confidence = pieces ? conf / pieces : -1;
}

/* A result from the final tokens (and, for a partial, the tail). */
static SttResult *
make_result (SonioxPriv * priv, gboolean is_final, guint n_final)
{
  SttResult *r = stt_result_new ();
  GString *text = g_string_new (NULL);
  gdouble conf = 0;
  guint i;

  r->is_final = is_final;
  append_words (r, priv->final, 0, n_final, text);
  if (!is_final) {
    guint n_stable = r->words->len;
    const gchar *next = priv->tail->len ? g_array_index (priv->tail, Token, 0).text : NULL;

    /* The words made of final tokens are stable, but the last of them only if a new
     * word follows or the service has finalized audio after it (else the next token may
     * still continue it). */
    if (n_stable > 0 && (next ? !g_ascii_isspace (*next) :
            priv->final_s < 0 || priv->final_s <= g_array_index (r->words, SttWord,
                n_stable - 1).end))
      n_stable--;
    for (i = 0; i < n_stable; i++)
      g_array_index (r->words, SttWord, i).stable = TRUE;
    append_words (r, priv->tail, 0, priv->tail->len, text);
  }
  r->text = g_strdup (g_strstrip (text->str));
  g_string_free (text, TRUE);
  for (i = 0; i < r->words->len; i++)
    conf += g_array_index (r->words, SttWord, i).confidence;
  if (r->words->len) {
    r->start = g_array_index (r->words, SttWord, 0).start;
    r->confidence = conf / r->words->len;
  }
  return r;
}

/* The open segment's first @n final tokens are a final result covering the audio up to
 * @end seconds (negative: up to its last word). */
static void
emit_final (SonioxPriv * priv, guint n, gdouble end, SttParseOutput * out)
{
  SttResult *r = make_result (priv, TRUE, n);

  r->end = end;
  g_ptr_array_add (out->results, r);
  g_array_remove_range (priv->final, 0, n);
  g_clear_pointer (&priv->last_partial, g_free);
  priv->last_n_stable = 0;
}

/* Without endpoint detection no <end> closes segments: every word known to be complete
 * (a later token starts a new word) is final as soon as its tokens are. */
static void
emit_complete_words (SonioxPriv * priv, SttParseOutput * out)
{
  guint n = priv->final->len, i;
  const gchar *next = priv->tail->len ? g_array_index (priv->tail, Token, 0).text : NULL;

  if (n == 0)
    return;
  if (next == NULL || !g_ascii_isspace (*next)) {
    /* The last word may go on: keep it open. */
    for (i = n; i > 0; i--)
      if (g_ascii_isspace (*g_array_index (priv->final, Token, i - 1).text))
        break;
    n = i > 0 ? i - 1 : 0;
  }
  if (n > 0)
    emit_final (priv, n, g_array_index (priv->final, Token, n - 1).end, out);
}

static gdouble
ms_to_s (JsonObject * o, const gchar * name)
{
  gdouble ms = stt_json_get_double (o, name, -1);

  return ms >= 0 ? ms / 1000.0 : -1;
}

static SttFailure
classify_error (gint64 code)
{
  switch (code) {
    case 401:
      return STT_FAILURE_AUTH;
    case 400:                  /* bad request: the same request would fail again */
    case 402:                  /* payment / quota exhausted */
      return STT_FAILURE_FATAL;
    default:
      /* 408 timeout, 429 rate limit, 500, 503 "Cannot continue request": start a new
       * request (the SDK maps them to network and quota errors). */
      return STT_FAILURE_RETRY;
  }
}

static void
soniox_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  SonioxPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GArray) tail = NULL;
  JsonObject *o;
  JsonArray *tokens;
  gdouble final_s;
  guint i, n;
  gboolean tail_changed;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  if (json_object_has_member (o, "error_code") || json_object_has_member (o,
          "error_message")) {
    gint64 code = stt_json_get_int (o, "error_code", 0);

    out->failure = classify_error (code);
    out->error = g_strdup_printf ("%s (error %" G_GINT64_FORMAT ")",
        stt_json_get_string (o, "error_message", "unknown error"), code);
    return;
  }

  tokens = stt_json_get_array (o, "tokens");
  n = tokens ? json_array_get_length (tokens) : 0;
  final_s = ms_to_s (o, "final_audio_proc_ms");
  if (final_s >= 0)
    priv->final_s = final_s;
  tail = token_array_new ();
  for (i = 0; i < n; i++) {
    JsonObject *t = stt_json_array_get_object (tokens, i);
    const gchar *text = stt_json_get_string (t, "text", NULL);
    Token tok = { 0, };

    if (text == NULL || *text == '\0')
      continue;
    /* With translation on, translated tokens are not what was said. */
    if (g_strcmp0 (stt_json_get_string (t, "translation_status", NULL),
            "translation") == 0)
      continue;
    if (stt_json_get_bool (t, "is_final", FALSE)
        && (g_str_equal (text, "<end>") || g_str_equal (text, "<fin>"))) {
      /* The segment ends here: it covers the audio up to the next token, or, when
       * none follows, everything the server has finalized. */
      JsonObject *next = stt_json_array_get_object (tokens, i + 1);
      gdouble end = next ? ms_to_s (next, "start_ms") : -1;

      emit_final (priv, priv->final->len, end >= 0 ? end : final_s, out);
      continue;
    }
    tok.text = g_strdup (text);
    tok.start = ms_to_s (t, "start_ms");
    tok.end = ms_to_s (t, "end_ms");
    tok.confidence = stt_json_get_double (t, "confidence", -1);
    tok.speaker = g_strdup (stt_json_get_string (t, "speaker", NULL));
    tok.language = g_strdup (stt_json_get_string (t, "language", NULL));
    g_array_append_val (stt_json_get_bool (t, "is_final", FALSE) ? priv->final : tail, tok);
  }

  /* The new tail replaces the previous one. */
  tail_changed = tail->len != priv->tail->len;
  for (i = 0; !tail_changed && i < tail->len; i++)
    tail_changed = g_strcmp0 (g_array_index (tail, Token, i).text,
        g_array_index (priv->tail, Token, i).text) != 0;
  g_array_unref (priv->tail);
  priv->tail = g_steal_pointer (&tail);

  if (stt_json_get_bool (o, "finished", FALSE)) {
    /* Everything is final now, whether or not an <end> came. */
    if (priv->final->len)
      emit_final (priv, priv->final->len, final_s, out);
    out->finished = priv->end_sent;
    return;
  }
  if (!priv->endpoints)
    emit_complete_words (priv, out);
  else if (priv->final->len >= MAX_HELD_TOKENS)
    emit_final (priv, priv->final->len, g_array_index (priv->final, Token,
            priv->final->len - 1).end, out);
  /* Nothing held back and nothing pending: every token before final_audio_proc_ms is
   * out, so the audio up to there is done with (silence makes no tokens at all). */
  if (priv->final->len == 0 && priv->tail->len == 0)
    out->processed = final_s;

  if (st->config->interim_results && (priv->final->len || priv->tail->len)) {
    SttResult *r = make_result (priv, FALSE, priv->final->len);
    guint n_stable = 0;

    for (i = 0; i < r->words->len; i++)
      n_stable += g_array_index (r->words, SttWord, i).stable ? 1 : 0;
    /* Again when only a word turned stable (live captions wait for it). */
    if (*r->text && (tail_changed || n_stable != priv->last_n_stable
            || g_strcmp0 (r->text, priv->last_partial) != 0)) {
      g_free (priv->last_partial);
      priv->last_partial = g_strdup (r->text);
      priv->last_n_stable = n_stable;
      g_ptr_array_add (out->results, r);
    } else {
      stt_result_free (r);
    }
  }
}

static gchar *
soniox_keepalive (SttProviderState * st)
{
  return g_strdup ("{\"type\":\"keepalive\"}");
}

static gchar *
soniox_finalize (SttProviderState * st)
{
  return g_strdup ("{\"type\":\"finalize\"}");
}

static GBytes *
soniox_end (SttProviderState * st, SttFrameType * type)
{
  SonioxPriv *priv = st->priv;

  /* End of audio is an empty frame; the SDK sends it as text. */
  priv->end_sent = TRUE;
  *type = STT_FRAME_TEXT;
  return g_bytes_new_static ("", 0);
}

const SttProviderInfo stt_provider_soniox = {
  .name = "soniox",
  .display_name = "Soniox",
  .default_url = "wss://stt-rt.soniox.com/transcribe-websocket",
  .default_rate = 16000,
  /* Paced (real time only), so unused for files. */
  .file_frame_ms = 1000,
  /* Bursts or lags in the audio may disconnect: send at the pace of real time. */
  .realtime_only = TRUE,
  .marks_final_words = TRUE,
  /* The service may close after 20 s without audio or keepalive; the SDK uses 5 s. */
  .keepalive_interval = 5.0,
  .build_request = soniox_build_request,
  .start_message = soniox_start_message,
  .frame_audio = stt_frame_audio_binary,
  .parse = soniox_parse,
  .keepalive_message = soniox_keepalive,
  .end_message = soniox_end,
  .finalize_message = soniox_finalize,
  /* classify_close: the default. Errors come as {error_code, error_message} before the
   * close and are classified there; a close on its own is a lost connection, or the end
   * after `finished`. */
  .free_priv = soniox_free_priv,
};
