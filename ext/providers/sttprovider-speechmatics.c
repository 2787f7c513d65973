/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-speechmatics.c: Speechmatics real-time v2.
 *
 * `Authorization: Bearer <key>` on the handshake (a temporary key from token-url goes in
 * the `jwt` query parameter, as the official JS SDK sends it), a `StartRecognition` text
 * message first (answered by `RecognitionStarted`), binary PCM frames (each acknowledged
 * by `AudioAdded` with its sequence number), `ForceEndOfUtterance` to finalize, and
 * `EndOfStream` with the number of frames sent; `EndOfTranscript` says every final is out.
 *
 * Segments: Speechmatics has no segment ids. An `AddPartialTranscript` holds every word
 * not yet final; an `AddTranscript` is the final text of a stretch of audio (metadata
 * start_time..end_time), and finals are incremental: each one takes the oldest words of
 * the partial, at most `max_delay` seconds after they were spoken, and the next partial
 * holds the rest. So there is one open segment (no key): a partial revises it, a final
 * closes it with the words it finalized and commits the audio up to its end_time, and
 * the next partial opens the next one. An empty final (silence) is no segment: it only
 * says that the audio up to its end_time is done with (SttParseOutput.processed), so an
 * open partial keeps its segment id.
 *
 * "On each Final transcript you will immediately receive a Partial transcript with any
 * remaining words" (docs): that partial is posted with the final, from the words of the
 * last partial that the final did not take, in the same parse. Otherwise the engine would
 * see, between the two messages, words heard (the last partial) with no segment open, and
 * would promise downstream that no text comes for them (live GAP events); if the
 * connection then stalled, their finals would come late.
 *
 * Punctuation results are attached as the service says (`attaches_to`: "previous", the
 * default for punctuation, appends to the word before; "next" prefixes the word after;
 * "both" joins the two; "none" stands alone), so a word's text is what a caption shows
 * ("world."). Partial confidences mean nothing (API reference): they are not passed on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

#define DEFAULT_LANGUAGE "en"
/* Seconds between a word's end and its final: the service's advice for captioning (its
 * default is 4, too late for live captions at the element's default 3 s latency). */
#define DEFAULT_MAX_DELAY 2.0

/* StartRecognition's own members: a params name starting with one of these is set from
 * the message's root, any other is a member of transcription_config. */
static const gchar *const root_members[] = { "message", "audio_format",
  "transcription_config", "translation_config", "audio_events_config", NULL
};

typedef struct
{
  gboolean end_sent;
  gint64 acked;                 /* seq_no of the last AudioAdded */
  gchar *delimiter;             /* between words (language_pack_info.word_delimiter) */
  SttResult *partial;           /* the words of the last partial, or NULL */
} SpeechmaticsPriv;

static void
speechmatics_free_priv (gpointer p)
{
  SpeechmaticsPriv *priv = p;

  g_free (priv->delimiter);
  stt_result_free (priv->partial);
  g_free (priv);
}

static void
copy_word (GArray * to, const SttWord * w)
{
  SttWord c = *w;

  c.text = g_strdup (w->text);
  c.speaker = g_strdup (w->speaker);
  g_array_append_val (to, c);
}

static gboolean
speechmatics_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;
  const gchar *base = c->url ? c->url : st->info->default_url;
  SpeechmaticsPriv *priv;

  if (c->api_key && c->key_is_token) {
    /* A temporary key: the `jwt` query parameter, as the official JS SDK sends it. */
    GString *url = g_string_new (base);

    g_string_append (url, strchr (base, '?') ? "&jwt=" : "?jwt=");
    g_string_append_uri_escaped (url, c->api_key, NULL, FALSE);
    req->url = g_string_free (url, FALSE);
  } else {
    req->url = g_strdup (base);
    if (c->api_key) {
      g_autofree gchar *auth = g_strdup_printf ("Bearer %s", c->api_key);
      stt_request_add_header (req, "Authorization", auth);
    }
  }
  priv = g_new0 (SpeechmaticsPriv, 1);
  priv->delimiter = g_strdup (" ");
  st->priv = priv;
  return TRUE;
}

static gboolean
is_root_param (const gchar * name)
{
  gsize n = strcspn (name, ".");
  guint i;

  for (i = 0; root_members[i]; i++) {
    if (strlen (root_members[i]) == n && strncmp (root_members[i], name, n) == 0)
      return TRUE;
  }
  return FALSE;
}

static gchar *
speechmatics_start_message (SttProviderState * st)
{
  const SttProviderConfig *c = st->config;
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonArray) languages = stt_json_language_codes (c->language);
  g_autoptr (GHashTable) root_params = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) config_params = g_hash_table_new (g_str_hash, g_str_equal);
  JsonObject *format = json_object_new ();
  JsonObject *config = json_object_new ();

  json_object_set_string_member (o, "message", "StartRecognition");
  json_object_set_string_member (format, "type", "raw");
  json_object_set_string_member (format, "encoding", "pcm_s16le");
  json_object_set_int_member (format, "sample_rate", c->sample_rate);
  json_object_set_object_member (o, "audio_format", format);

  /* One language per session: the first one asked for, as its primary subtag. */
  json_object_set_string_member (config, "language", languages ?
      json_array_get_string_element (languages, 0) : DEFAULT_LANGUAGE);
  json_object_set_boolean_member (config, "enable_partials", c->interim_results);
  json_object_set_double_member (config, "max_delay", DEFAULT_MAX_DELAY);
  if (c->model)
    json_object_set_string_member (config, "operating_point", c->model);

  if (c->params) {
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init (&it, c->params);
    while (g_hash_table_iter_next (&it, &k, &v))
      g_hash_table_insert (is_root_param (k) ? root_params : config_params, k, v);
  }
  stt_json_object_set_params (config, config_params);
  json_object_set_object_member (o, "transcription_config", config);
  stt_json_object_set_params (o, root_params);
  return stt_json_object_to_string (o);
}

/* --- transcripts ------------------------------------------------------------------- */

static void
append_text (SttWord * w, const gchar * text)
{
  gchar *joined = g_strconcat (w->text, text, NULL);

  g_free (w->text);
  w->text = joined;
}

static SttWord *
last_word (SttResult * r)
{
  return r->words->len ? &g_array_index (r->words, SttWord, r->words->len - 1) : NULL;
}

/* The words of @results: punctuation attached where the service says, a word's text
 * being what a caption shows ("world."). */
static void
add_words (SttResult * r, JsonArray * results, gboolean is_final)
{
  g_autoptr (GString) prefix = g_string_new (NULL);     /* attaches to the next word */
  gboolean join_next = FALSE;
  guint i, n = results ? json_array_get_length (results) : 0;

  for (i = 0; i < n; i++) {
    JsonObject *item = stt_json_array_get_object (results, i);
    JsonObject *alt = stt_json_array_get_object (stt_json_get_array (item,
            "alternatives"), 0);
    const gchar *content = stt_json_get_string (alt, "content", NULL);
    const gchar *type = stt_json_get_string (item, "type", "word");
    gboolean punct = g_str_equal (type, "punctuation");
    const gchar *attaches = stt_json_get_string (item, "attaches_to",
        punct ? "previous" : "none");
    SttWord *prev = last_word (r);
    SttWord word = { 0, };

    if (content == NULL || *content == '\0')
      continue;
    if (punct && (g_str_equal (attaches, "previous") || g_str_equal (attaches, "both"))) {
      /* Punctuation for a word already sent in an earlier final (the service may send a
       * sentence's full stop with the next transcript) cannot be attached any more. */
      if (prev == NULL)
        continue;
      append_text (prev, content);
      join_next = g_str_equal (attaches, "both");
      continue;
    }
    if (punct && g_str_equal (attaches, "next")) {
      g_string_append (prefix, content);
      continue;
    }
    if (join_next && prev && !punct) {
      /* "both": the punctuation joins this word to the one before ("well-known"). */
      append_text (prev, content);
      prev->end = MAX (prev->end, stt_json_get_double (item, "end_time", prev->end));
      join_next = FALSE;
      continue;
    }
    join_next = FALSE;
    word.text = g_strconcat (prefix->str, content, NULL);
    g_string_truncate (prefix, 0);
    word.start = stt_json_get_double (item, "start_time", -1);
    word.end = stt_json_get_double (item, "end_time", -1);
    /* A partial's confidence has no meaning (API reference). */
    word.confidence = is_final ? stt_json_get_double (alt, "confidence", -1) : -1;
    word.speaker = g_strdup (stt_json_get_string (alt, "speaker", NULL));
    if (r->language == NULL && stt_json_get_string (alt, "language", NULL))
      r->language = g_strdup (stt_json_get_string (alt, "language", NULL));
    g_array_append_val (r->words, word);
  }
}

/* @r's words joined as the language writes them. */
static gchar *
join_words (SpeechmaticsPriv * priv, SttResult * r)
{
  GString *text = g_string_new (NULL);
  guint i;

  for (i = 0; i < r->words->len; i++) {
    if (i > 0)
      g_string_append (text, priv->delimiter);
    g_string_append (text, g_array_index (r->words, SttWord, i).text);
  }
  return g_string_free (text, FALSE);
}

/* A copy of partial @r's words from the one whose middle is after @after seconds on, or
 * NULL when there are none. */
static SttResult *
partial_after (SpeechmaticsPriv * priv, const SttResult * r, gdouble after)
{
  SttResult *c;
  guint i;

  if (r == NULL)
    return NULL;
  c = stt_result_new ();
  for (i = 0; i < r->words->len; i++) {
    const SttWord *w = &g_array_index (r->words, SttWord, i);

    if (w->start >= 0 && (w->start + MAX (w->end, w->start)) / 2 > after)
      copy_word (c->words, w);
  }
  if (c->words->len == 0) {
    stt_result_free (c);
    return NULL;
  }
  c->text = join_words (priv, c);
  c->start = g_array_index (c->words, SttWord, 0).start;
  c->end = r->end;
  c->language = g_strdup (r->language);
  return c;
}

/* Keeps partial @r (or none) for the final that will take some of its words. */
static void
keep_partial (SpeechmaticsPriv * priv, const SttResult * r)
{
  g_clear_pointer (&priv->partial, stt_result_free);
  priv->partial = partial_after (priv, r, -G_MAXDOUBLE);
}

/* After final @final: the words of the last partial it did not take (those after its
 * last word), posted now as the partial the service sends next will hold them. */
static void
add_remaining_partial (SpeechmaticsPriv * priv, const SttResult * final,
    SttParseOutput * out)
{
  gdouble taken = g_array_index (final->words, SttWord, final->words->len - 1).end;
  SttResult *r = partial_after (priv, priv->partial, taken);

  keep_partial (priv, r);
  if (r)
    g_ptr_array_add (out->results, r);
}

static void
parse_transcript (SpeechmaticsPriv * priv, JsonObject * o, gboolean is_final,
    SttParseOutput * out)
{
  JsonObject *meta = stt_json_get_object (o, "metadata");
  JsonArray *results = stt_json_get_array (o, "results");
  SttResult *r;
  gdouble conf = 0;
  guint i, n_conf = 0;

  if (meta == NULL && results == NULL) {
    out->error = g_strdup ("transcript without metadata or results");
    return;
  }
  r = stt_result_new ();
  r->is_final = is_final;
  r->start = stt_json_get_double (meta, "start_time", -1);
  r->end = stt_json_get_double (meta, "end_time", -1);
  add_words (r, results, is_final);
  for (i = 0; i < r->words->len; i++) {
    gdouble c = g_array_index (r->words, SttWord, i).confidence;

    if (c >= 0) {
      conf += c;
      n_conf++;
    }
  }
  if (n_conf > 0)
    r->confidence = conf / n_conf;
  if (results == NULL) {
    /* No results: the transcript is all there is. */
    r->text = g_strdup (stt_json_get_string (meta, "transcript", ""));
    g_strstrip (r->text);
  } else {
    r->text = join_words (priv, r);
  }

  if (*r->text == '\0') {
    /* Silence (or only punctuation for words already out): a final says the audio up
     * to its end is done with, and opens or closes no segment. */
    if (is_final && r->end >= 0)
      out->processed = r->end;
    if (!is_final)
      keep_partial (priv, NULL);
    stt_result_free (r);
    return;
  }
  g_ptr_array_add (out->results, r);
  if (!is_final)
    keep_partial (priv, r);
  else if (r->words->len > 0)
    add_remaining_partial (priv, r, out);
}

/* --- failures ---------------------------------------------------------------------- */

/* Error types (the in-band `Error` message's `type`, also the payload of the close that
 * follows it), from the API reference and the SDK's ErrorTypeEnum. */
static const struct
{
  const gchar *type;
  SttFailure failure;
} error_types[] = {
  {"not_authorised", STT_FAILURE_AUTH},
  /* The account may not do this: the same request would be refused again. */
  {"not_allowed", STT_FAILURE_FATAL},
  {"invalid_message", STT_FAILURE_FATAL},
  {"invalid_model", STT_FAILURE_FATAL},
  {"invalid_language", STT_FAILURE_FATAL},
  {"invalid_config", STT_FAILURE_FATAL},
  {"invalid_audio_type", STT_FAILURE_FATAL},
  {"invalid_output_format", STT_FAILURE_FATAL},
  {"protocol_error", STT_FAILURE_FATAL},
  /* The contract's usage quota is used up: no retry helps before it is renewed. */
  {"timelimit_exceeded", STT_FAILURE_FATAL},
  /* Concurrency limit, server-side trouble: the docs advise a retry. */
  {"quota_exceeded", STT_FAILURE_RETRY},
  {"job_error", STT_FAILURE_RETRY},
  {"internal_error", STT_FAILURE_RETRY},
  {"unknown_error", STT_FAILURE_RETRY},
  /* The session ended (an hour without audio, 48 h): a new one goes on. */
  {"idle_timeout", STT_FAILURE_RETRY},
  {"session_timeout", STT_FAILURE_RETRY},
  {"policy_violation", STT_FAILURE_RETRY},
};

/* The class of error type @type; @fallback when it is not a known one. */
static SttFailure
classify_type (const gchar * type, SttFailure fallback)
{
  guint i;

  for (i = 0; type && i < G_N_ELEMENTS (error_types); i++) {
    if (g_str_equal (error_types[i].type, type))
      return error_types[i].failure;
  }
  return fallback;
}

static void
parse_error (JsonObject * o, SttParseOutput * out)
{
  const gchar *type = stt_json_get_string (o, "type", NULL);
  const gchar *reason = stt_json_get_string (o, "reason", "no reason given");

  /* Any error ends the session (API reference); an unknown one is worth a new session. */
  out->failure = classify_type (type, STT_FAILURE_RETRY);
  out->error = g_strdup_printf ("%s (%s)", reason, type ? type : "untyped error");
}

static void
speechmatics_parse (SttProviderState * st, gboolean binary, const guint8 * data,
    gsize len, SttParseOutput * out)
{
  SpeechmaticsPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  const gchar *message;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  message = stt_json_get_string (o, "message", NULL);
  if (message == NULL) {
    out->error = g_strdup ("message without a \"message\" name");
  } else if (g_str_equal (message, "AddTranscript")) {
    parse_transcript (priv, o, TRUE, out);
  } else if (g_str_equal (message, "AddPartialTranscript")) {
    parse_transcript (priv, o, FALSE, out);
  } else if (g_str_equal (message, "AudioAdded")) {
    priv->acked = MAX (priv->acked, stt_json_get_int (o, "seq_no", 0));
  } else if (g_str_equal (message, "RecognitionStarted")) {
    const gchar *delimiter = stt_json_get_string (stt_json_get_object (o,
            "language_pack_info"), "word_delimiter", NULL);

    /* Languages written without spaces have "" here. */
    if (delimiter && strlen (delimiter) <= 4) {
      g_free (priv->delimiter);
      priv->delimiter = g_strdup (delimiter);
    }
    out->ready = TRUE;
  } else if (g_str_equal (message, "EndOfTranscript")) {
    if (priv->end_sent) {
      out->finished = TRUE;
    } else {
      /* The service ended the session on its own (a `duration_limit_exceeded` warning
       * acts as EndOfStream): it ignores any audio from here on. Every final before this
       * is in, so a new session goes on from the last one. */
      out->failure = STT_FAILURE_RETRY;
      out->error = g_strdup ("the transcript ended before the end of the audio");
    }
  } else if (g_str_equal (message, "Error")) {
    parse_error (o, out);
  } else if (g_str_equal (message, "Warning")) {
    g_info ("Speechmatics warning %s: %s", stt_json_get_string (o, "type", "?"),
        stt_json_get_string (o, "reason", ""));
  } else if (!g_str_equal (message, "Info") && !g_str_equal (message, "EndOfUtterance")
      && !g_str_equal (message, "AudioEventStarted")
      && !g_str_equal (message, "AudioEventEnded")
      && !g_str_equal (message, "AddPartialTranslation")
      && !g_str_equal (message, "AddTranslation")
      && !g_str_equal (message, "SpeakersResult")
      && !g_str_equal (message, "ChannelAudioAdded")) {
    out->error = g_strdup_printf ("unknown message '%s'", message);
  }
}

static gchar *
speechmatics_finalize (SttProviderState * st)
{
  return g_strdup ("{\"message\":\"ForceEndOfUtterance\"}");
}

static GBytes *
speechmatics_end (SttProviderState * st, SttFrameType * type)
{
  SpeechmaticsPriv *priv = st->priv;
  gchar *msg;

  /* last_seq_no: the number of audio frames sent on this connection (the service's
   * seq_no counts them from 1). */
  priv->end_sent = TRUE;
  msg = g_strdup_printf ("{\"message\":\"EndOfStream\",\"last_seq_no\":%" G_GUINT64_FORMAT
      "}", st->frames_sent);
  *type = STT_FRAME_TEXT;
  return g_bytes_new_take (msg, strlen (msg));
}

static SttFailure
speechmatics_classify_close (SttProviderState * st, gushort code, const gchar * reason)
{
  SttFailure f;

  if (code == 1000)
    return STT_FAILURE_NONE;
  /* The close's payload is the error type. */
  f = classify_type (reason, STT_FAILURE_NONE);
  if (f != STT_FAILURE_NONE)
    return f;
  switch (code) {
    case 4001:                 /* not_authorised */
      return STT_FAILURE_AUTH;
    case 1003:                 /* protocol_error */
    case 4003:                 /* not_allowed */
    case 4004:                 /* invalid_model */
    case 4006:                 /* timelimit_exceeded (usage quota) */
      return STT_FAILURE_FATAL;
    case 1008:                 /* policy_violation: idle or session timeout */
    case 1011:                 /* internal_error */
    case 4005:                 /* quota_exceeded (concurrency) */
    case 4013:                 /* job_error */
      return STT_FAILURE_RETRY;
    default:
      return stt_failure_from_close (code);
  }
}

const SttProviderInfo stt_provider_speechmatics = {
  .name = "speechmatics",
  .display_name = "Speechmatics",
  .default_url = "wss://eu2.rt.speechmatics.com/v2",
  .default_rate = 16000,
  /* No size limit documented; each frame is acknowledged. */
  .file_frame_ms = 1000,
  /* Audio faster than real time is read as the service can (TCP backpressure). */
  .realtime_only = FALSE,
  /* An AddTranscript comes within max_delay (2 s) of every word. */
  .marks_final_words = TRUE,
  /* The SDK and the docs send audio only after RecognitionStarted. */
  .wait_ready = TRUE,
  /* No keepalive message: the service needs audio or WebSocket pings (3 min), which the
   * element sends every keepalive-interval. */
  .keepalive_interval = 0,
  .build_request = speechmatics_build_request,
  .start_message = speechmatics_start_message,
  .frame_audio = stt_frame_audio_binary,
  .parse = speechmatics_parse,
  .end_message = speechmatics_end,
  .finalize_message = speechmatics_finalize,
  .classify_close = speechmatics_classify_close,
  /* classify_http: the default. 401 bad key; 400, 404 (wrong path or region), 405 (not
   * GET): fatal; 429/5xx: retry. */
  .free_priv = speechmatics_free_priv,
};
