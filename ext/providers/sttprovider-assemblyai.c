/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-assemblyai.c: AssemblyAI Universal Streaming v3.
 *
 * Query-string configuration, `Authorization: <key>` (no scheme) or a temporary token in
 * the `token` query parameter, binary PCM frames of 50-1000 ms sent no faster than real
 * time, JSON control messages (KeepAlive, ForceEndpoint, Terminate) and `Turn` messages
 * with word times in ms since the session's first audio.
 *
 * A turn is one segment (key: turn_order). With format_turns=true the service ends a
 * turn twice: first `end_of_turn` unformatted, then again with `turn_is_formatted`; the
 * formatted one is the final (the unformatted one is posted as the last partial). A
 * formatted turn that never comes (next turn begins, session ends) is stood in for by the
 * unformatted one, so no turn is lost.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

#define DEFAULT_MODEL "universal-streaming-english"
#define MULTILINGUAL_MODEL "universal-streaming-multilingual"
/* The service closes with 3007 on frames under 50 ms or over 1000 ms. */
#define MIN_FRAME_MS 50

typedef struct
{
  gsize longest_frame;          /* bytes, on this connection */
  gboolean format_turns;
  gboolean interim;
  /* An unformatted end of turn waiting for its formatted copy (final), or NULL. */
  SttResult *pending;
  gint64 pending_turn;
} AssemblyAIPriv;

static void
assemblyai_free_priv (gpointer p)
{
  AssemblyAIPriv *priv = p;

  stt_result_free (priv->pending);
  g_free (priv);
}

/* A user-given param wins over what we would send. */
static const gchar *
param (const SttProviderConfig * c, const gchar * name)
{
  return c->params ? g_hash_table_lookup (c->params, name) : NULL;
}

static gboolean
is_english (const gchar * language)
{
  return g_ascii_strncasecmp (language, "en", 2) == 0 && (language[2] == '\0'
      || language[2] == '-' || language[2] == '_');
}

static gboolean
assemblyai_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;
  g_autofree gchar *rate = g_strdup_printf ("%u", c->sample_rate);
  g_autofree gchar *codes = NULL;
  const gchar *model = c->model;
  const gchar *format = param (c, "format_turns");
  AssemblyAIPriv *priv;

  if (c->language && *c->language) {
    /* The universal-streaming models take no language: the English one is English
     * only, the multilingual one detects the language per turn. Another language picks
     * the multilingual one; the Universal-3.5+ models take it as language_codes. */
    if (model == NULL && !is_english (c->language))
      model = MULTILINGUAL_MODEL;
    if (model && g_str_has_prefix (model, "universal-3")) {
      g_autoptr (JsonArray) a = stt_json_language_codes (c->language);
      g_autoptr (JsonNode) node = NULL;

      if (a) {
        node = json_node_init_array (json_node_alloc (), a);
        codes = json_to_string (node, FALSE);
      }
    }
  }

  req->url = stt_build_url (c->url ? c->url : st->info->default_url, c,
      "sample_rate", rate,
      "encoding", "pcm_s16le",
      "speech_model", model ? model : DEFAULT_MODEL,
      "format_turns", "true",
      "language_codes", codes,
      /* One-time temporary tokens go in the query (the JS SDK's way). */
      "token", c->key_is_token ? c->api_key : NULL, NULL);
  if (c->api_key && !c->key_is_token)
    stt_request_add_header (req, "Authorization", c->api_key);

  priv = g_new0 (AssemblyAIPriv, 1);
  priv->format_turns = format == NULL || g_ascii_strcasecmp (format, "false") != 0;
  priv->interim = c->interim_results;
  st->priv = priv;
  return TRUE;
}

static GBytes *
assemblyai_frame_audio (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type)
{
  AssemblyAIPriv *priv = st->priv;
  gsize min = (gsize) st->config->sample_rate * MIN_FRAME_MS / 1000 * 2;
  gboolean tail = priv->longest_frame == 0 || len < priv->longest_frame;
  guint8 *padded;

  *type = STT_FRAME_BINARY;
  priv->longest_frame = MAX (priv->longest_frame, len);
  /* A chunk-duration under 50 ms is not padded: silence between frames would shift
   * every time after it, the service's 3007 says what is wrong instead. */
  if (len >= min || !tail)
    return g_bytes_new (data, len);
  /* The tail at end of stream, shorter than the chunks before it: pad it with silence
   * after the audio (times are unchanged) rather than have the service close (3007). */
  padded = g_malloc0 (min);
  memcpy (padded, data, len);
  return g_bytes_new_take (padded, min);
}

static gchar *
join_texts (GArray * words)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < words->len; i++) {
    if (s->len)
      g_string_append_c (s, ' ');
    g_string_append (s, g_array_index (words, SttWord, i).text);
  }
  return g_string_free (s, FALSE);
}

static SttResult *
parse_turn (JsonObject * o, gboolean is_final)
{
  JsonArray *words = stt_json_get_array (o, "words");
  const gchar *speaker = stt_json_get_string (o, "speaker_label", NULL);
  const gchar *transcript = stt_json_get_string (o, "transcript", "");
  SttResult *r = stt_result_new ();
  guint i, n = words ? json_array_get_length (words) : 0;

  r->is_final = is_final;
  r->segment_key = g_strdup_printf ("%" G_GINT64_FORMAT, stt_json_get_int (o,
          "turn_order", 0));
  r->language = g_strdup (stt_json_get_string (o, "language_code", NULL));
  for (i = 0; i < n; i++) {
    JsonObject *w = stt_json_array_get_object (words, i);
    SttWord word = { 0, };
    const gchar *text = stt_json_get_string (w, "text", NULL);
    gdouble start = stt_json_get_double (w, "start", -1);
    gdouble end = stt_json_get_double (w, "end", -1);

    if (text == NULL)
      continue;
    word.text = g_strdup (text);
    word.start = start >= 0 ? start / 1000.0 : -1;
    word.end = end >= 0 ? end / 1000.0 : -1;
    word.confidence = stt_json_get_double (w, "confidence", -1);
    word.speaker = g_strdup (stt_json_get_string (w, "speaker", speaker));
    word.stable = stt_json_get_bool (w, "word_is_final", FALSE);
    g_array_append_val (r->words, word);
  }
  /* `transcript` holds only the finalized words: a partial shows every word. */
  if (is_final && *transcript)
    r->text = g_strdup (transcript);
  else
    r->text = join_texts (r->words);
  if (is_final && r->words->len > 0) {
    /* What the turn covers: the service gives no window, only its words. */
    r->start = g_array_index (r->words, SttWord, 0).start;
    r->end = g_array_index (r->words, SttWord, r->words->len - 1).end;
  }
  return r;
}

/* The unformatted end of turn kept for its formatted copy becomes the final itself. */
static void
flush_pending (AssemblyAIPriv * priv, SttParseOutput * out)
{
  SttResult *r = g_steal_pointer (&priv->pending);

  if (r && (r->words->len > 0 || *r->text != '\0'))
    g_ptr_array_add (out->results, r);
  else
    stt_result_free (r);
}

static void
parse_turn_message (AssemblyAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  gint64 turn = stt_json_get_int (o, "turn_order", 0);
  gboolean end_of_turn = stt_json_get_bool (o, "end_of_turn", FALSE);
  gboolean formatted = stt_json_get_bool (o, "turn_is_formatted", FALSE);
  SttResult *r;

  if (priv->pending && priv->pending_turn != turn)
    flush_pending (priv, out);

  if (end_of_turn && (formatted || !priv->format_turns)) {
    g_clear_pointer (&priv->pending, stt_result_free);
    r = parse_turn (o, TRUE);
    /* A turn without words says nothing, and has no times to commit by. */
    if (r->words->len == 0 && *r->text == '\0')
      stt_result_free (r);
    else
      g_ptr_array_add (out->results, r);
    return;
  }
  if (end_of_turn) {
    /* The formatted copy follows: keep this one in case it does not. */
    g_clear_pointer (&priv->pending, stt_result_free);
    priv->pending = parse_turn (o, TRUE);
    priv->pending_turn = turn;
  }
  if (!priv->interim)
    return;
  r = parse_turn (o, FALSE);
  g_ptr_array_add (out->results, r);
}

/* Close codes, also carried by `Error` messages as error_code (common-errors docs; the
 * JS SDK's non-retryable set for the 4xxx codes). */
static SttFailure
classify_code (gint64 code)
{
  switch (code) {
    case 1008:                 /* Unauthorized Connection: missing/invalid key, account */
      return STT_FAILURE_AUTH;
    case 3005:                 /* Session Cancelled: server error */
    case 3008:                 /* Session Expired: a new session goes on */
    case 3009:                 /* Too many concurrent sessions: back off */
      return STT_FAILURE_RETRY;
    case 3006:                 /* Invalid message / JSON: our bug, it would happen again */
    case 3007:                 /* Input duration violation / rate exceeded: fix pacing */
    case 4000:                 /* bad sample rate */
    case 4002:                 /* insufficient funds */
    case 4003:                 /* paid-only feature */
    case 4101:                 /* bad schema */
      return STT_FAILURE_FATAL;
    case 4001:                 /* not authorized */
      return STT_FAILURE_AUTH;
    default:
      if (code < 0 || code > G_MAXUINT16)
        return STT_FAILURE_RETRY;
      return stt_failure_from_close ((gushort) code);
  }
}

static void
assemblyai_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  AssemblyAIPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  const gchar *type;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  type = stt_json_get_string (o, "type", NULL);

  if (type == NULL && stt_json_get_string (o, "error", NULL) == NULL) {
    out->error = g_strdup ("message without a type");
  } else if (type == NULL || g_str_equal (type, "Error")) {
    gint64 code = stt_json_get_int (o, "error_code", -1);
    const gchar *text = stt_json_get_string (o, "error", "error");

    /* Sent just before the service closes with that code. */
    out->failure = classify_code (code);
    if (out->failure == STT_FAILURE_NONE)
      out->failure = STT_FAILURE_RETRY;
    out->error = code >= 0 ? g_strdup_printf ("%s (code %" G_GINT64_FORMAT ")", text,
        code) : g_strdup (text);
  } else if (g_str_equal (type, "Turn")) {
    parse_turn_message (priv, o, out);
  } else if (g_str_equal (type, "Begin")) {
    out->ready = TRUE;
  } else if (g_str_equal (type, "Termination")) {
    /* After Terminate: every turn is out. */
    flush_pending (priv, out);
    out->finished = TRUE;
  } else if (g_str_equal (type, "Warning")) {
    g_info ("AssemblyAI warning %" G_GINT64_FORMAT ": %s", stt_json_get_int (o,
            "warning_code", 0), stt_json_get_string (o, "warning", ""));
  } else if (!g_str_equal (type, "SpeechStarted") && !g_str_equal (type, "Heartbeat")
      && !g_str_equal (type, "Silence") && !g_str_equal (type, "SpeakerRevision")
      && !g_str_equal (type, "LLMGatewayResponse")) {
    out->error = g_strdup_printf ("unknown message type '%s'", type);
  }
}

static gchar *
assemblyai_keepalive (SttProviderState * st)
{
  return g_strdup ("{\"type\":\"KeepAlive\"}");
}

static gchar *
assemblyai_finalize (SttProviderState * st)
{
  return g_strdup ("{\"type\":\"ForceEndpoint\"}");
}

static GBytes *
assemblyai_end (SttProviderState * st, SttFrameType * type)
{
  static const gchar msg[] = "{\"type\":\"Terminate\"}";

  /* The service sends the last turns, Termination, then closes 1000. */
  *type = STT_FRAME_TEXT;
  return g_bytes_new_static (msg, strlen (msg));
}

static SttFailure
assemblyai_classify_close (SttProviderState * st, gushort code, const gchar * reason)
{
  return classify_code (code);
}

const SttProviderInfo stt_provider_assemblyai = {
  .name = "assemblyai",
  .display_name = "AssemblyAI",
  .default_url = "wss://streaming.assemblyai.com/v3/ws",
  .default_rate = 16000,
  /* 50-1000 ms a frame (close 3007 otherwise); paced anyway. */
  .file_frame_ms = 1000,
  /* Audio faster than real time is refused (close 3007). */
  .realtime_only = TRUE,
  .marks_final_words = TRUE,
  /* KeepAlive resets the inactivity_timeout (5 s at the least) while no audio flows. */
  .keepalive_interval = 4.0,
  .build_request = assemblyai_build_request,
  .frame_audio = assemblyai_frame_audio,
  .parse = assemblyai_parse,
  .keepalive_message = assemblyai_keepalive,
  .end_message = assemblyai_end,
  .finalize_message = assemblyai_finalize,
  .classify_close = assemblyai_classify_close,
  .free_priv = assemblyai_free_priv,
};
