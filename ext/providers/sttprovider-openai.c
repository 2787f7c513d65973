/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider-openai.c: OpenAI Realtime API, transcription session (GA interface, as the
 * openai npm SDK 6.x types it: resources/realtime/realtime.ts).
 *
 * `wss://api.openai.com/v1/realtime?intent=transcription` with `Authorization: Bearer
 * <key>` (an ephemeral client secret from token-url goes the same way), no OpenAI-Beta
 * header (that header selects the retired beta interface). The first message is a
 * `session.update` with `session.type = "transcription"`: PCM at 24 kHz (the only PCM rate
 * the service takes), the transcription model and language, server VAD. Audio goes as
 * base64 in `input_audio_buffer.append`; `input_audio_buffer.commit` closes the open
 * audio (the finalize and the end of stream).
 *
 * The service's unit is the item: a stretch of audio committed by its VAD (after
 * `input_audio_buffer.speech_started` / `speech_stopped`, times in ms since the session's
 * first audio) or by our commit, announced by `input_audio_buffer.committed` with
 * `previous_item_id`. Its transcription then streams as
 * `conversation.item.input_audio_transcription.delta` (partials) and ends with `.completed`
 * (the final). Transcriptions run concurrently: completions may come out of order, so
 * finals are held and released in the items' order. No word times: a final's times are
 * the speech the VAD heard (audio_start_ms + prefix_padding_ms to audio_end_ms -
 * silence_duration_ms: both events count the padding and the closing silence in), or the
 * audio our commit closed.
 *
 * End of stream: a commit; its answer is either `committed` for an item of its own (no
 * speech_stopped: the VAD did not close it) or the error input_audio_buffer_commit_empty
 * (under 100 ms left in the buffer). The end is acknowledged once that answer came and
 * every item before it is out.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "sttjson.h"
#include "sttproviders-list.h"

#define RATE 24000
#define DEFAULT_MODEL "gpt-4o-transcribe"
/* Server VAD as we ask for it (the SDK's documented defaults, sent explicitly: segment
 * times are read back through them). */
#define VAD_THRESHOLD 0.5
#define VAD_PREFIX_PADDING_MS 300
#define VAD_SILENCE_MS 500
#define UPDATE_EVENT_ID "stt_session_update"
#define COMMIT_EVENT_PREFIX "stt_commit_"
/* Bounds on what a server can make us hold: items announced and not yet out, and the text
 * of one item's deltas. Past them the connection is retried (nothing is lost: the audio
 * after the last final is replayed). */
#define MAX_ITEMS 256
#define MAX_PARTIAL_BYTES (64 * 1024)

typedef struct
{
  gchar *id;
  gdouble start, end;           /* seconds on the connection's clock; negative: unknown */
  gboolean stopped;             /* speech_stopped came: the VAD closed it */
  guint64 stopped_at;           /* samples: its audio_end_ms */
  gboolean in_order;            /* committed: in priv->order */
  gboolean done;                /* completed */
  GString *partial;             /* the deltas so far */
  gchar *transcript;
  gdouble confidence;
} Item;

typedef struct
{
  gboolean interim;
  /* Turn detection as the service applies it (session.updated), seconds. */
  gboolean vad;
  gdouble padding, silence;
  GHashTable *items;            /* id -> Item */
  GQueue order;                 /* Item*: committed, not yet out, in the audio's order */
  gchar *open_speech;           /* speech started and not yet committed, or NULL */
  guint64 samples_sent;
  GArray *commits;              /* guint64: samples sent when each unanswered commit left */
  guint n_commits;
  gboolean end_sent;
} OpenAIPriv;

static void
item_free (gpointer p)
{
  Item *item = p;

  g_free (item->id);
  if (item->partial)
    g_string_free (item->partial, TRUE);
  g_free (item->transcript);
  g_free (item);
}

static void
openai_free_priv (gpointer p)
{
  OpenAIPriv *priv = p;

  g_queue_clear (&priv->order);
  g_hash_table_unref (priv->items);
  g_free (priv->open_speech);
  g_array_unref (priv->commits);
  g_free (priv);
}

static gboolean
openai_build_request (SttProviderState * st, SttRequest * req, GError ** error)
{
  const SttProviderConfig *c = st->config;
  const gchar *base = c->url ? c->url : st->info->default_url;
  SttProviderConfig no_params = *c;
  OpenAIPriv *priv;

  if (c->sample_rate != RATE)
    goto bad_rate;
  /* params belong to the session, not to the query; a URL that says its intent keeps it.
   * No model in the query: that would open a conversation session. */
  no_params.params = NULL;
  req->url = stt_build_url (base, &no_params, "intent", strstr (base, "intent=") ? NULL :
      "transcription", NULL);
  if (c->api_key) {
    g_autofree gchar *auth = g_strdup_printf ("Bearer %s", c->api_key);
    stt_request_add_header (req, "Authorization", auth);
  }

  priv = g_new0 (OpenAIPriv, 1);
  priv->interim = c->interim_results;
  priv->vad = TRUE;
  priv->padding = VAD_PREFIX_PADDING_MS / 1000.0;
  priv->silence = VAD_SILENCE_MS / 1000.0;
  priv->items = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, item_free);
  g_queue_init (&priv->order);
  priv->commits = g_array_new (FALSE, FALSE, sizeof (guint64));
  st->priv = priv;
  return TRUE;

  /* ERRORS */
bad_rate:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "OpenAI takes PCM at "
      "24000 Hz only, not %u: leave sample-rate at 0 (the provider's rate)",
      c->sample_rate);
  return FALSE;
}

/* The transcription session: PCM at 24 kHz, the model and language, server VAD; params
 * are members of the session ("audio.input.turn_detection=null",
 * "audio.input.noise_reduction.type=near_field") and win. */
static gchar *
openai_start_message (SttProviderState * st)
{
  const SttProviderConfig *c = st->config;
  g_autoptr (JsonObject) msg = json_object_new ();
  g_autoptr (JsonArray) languages = stt_json_language_codes (c->language);
  JsonObject *session = json_object_new ();
  JsonObject *audio = json_object_new ();
  JsonObject *input = json_object_new ();
  JsonObject *format = json_object_new ();
  JsonObject *transcription = json_object_new ();
  JsonObject *vad = json_object_new ();

  json_object_set_string_member (format, "type", "audio/pcm");
  json_object_set_int_member (format, "rate", RATE);
  json_object_set_object_member (input, "format", format);
  json_object_set_string_member (transcription, "model", c->model ? c->model :
      DEFAULT_MODEL);
  if (languages)
    json_object_set_string_member (transcription, "language",
        json_array_get_string_element (languages, 0));
  json_object_set_object_member (input, "transcription", transcription);
  json_object_set_string_member (vad, "type", "server_vad");
  json_object_set_double_member (vad, "threshold", VAD_THRESHOLD);
  json_object_set_int_member (vad, "prefix_padding_ms", VAD_PREFIX_PADDING_MS);
  json_object_set_int_member (vad, "silence_duration_ms", VAD_SILENCE_MS);
  json_object_set_object_member (input, "turn_detection", vad);
  json_object_set_object_member (audio, "input", input);
  json_object_set_string_member (session, "type", "transcription");
  json_object_set_object_member (session, "audio", audio);
  stt_json_object_set_params (session, c->params);

  json_object_set_string_member (msg, "type", "session.update");
  /* Echoed in an error about this message: a refused configuration is fatal. */
  json_object_set_string_member (msg, "event_id", UPDATE_EVENT_ID);
  json_object_set_object_member (msg, "session", session);
  return stt_json_object_to_string (msg);
}

static GBytes *
openai_frame_audio (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type)
{
  OpenAIPriv *priv = st->priv;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  priv->samples_sent += len / 2;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "input_audio_buffer.append");
  stt_json_builder_add_base64 (b, "audio", data, len);
  json_builder_end_object (b);
  *type = STT_FRAME_TEXT;
  return stt_json_builder_to_bytes (b);
}

/* input_audio_buffer.commit; its answer covers the audio sent so far. */
static gchar *
commit_message (OpenAIPriv * priv)
{
  g_array_append_val (priv->commits, priv->samples_sent);
  return g_strdup_printf ("{\"type\":\"input_audio_buffer.commit\",\"event_id\":\""
      COMMIT_EVENT_PREFIX "%u\"}", ++priv->n_commits);
}

/* --- items --------------------------------------------------------------------------- */

static Item *
get_item (OpenAIPriv * priv, const gchar * id, SttParseOutput * out)
{
  Item *item;

  if (id == NULL || *id == '\0') {
    out->error = g_strdup ("event without item_id");
    return NULL;
  }
  item = g_hash_table_lookup (priv->items, id);
  if (item)
    return item;
  if (g_hash_table_size (priv->items) >= MAX_ITEMS) {
    out->failure = STT_FAILURE_RETRY;
    out->error = g_strdup_printf ("more than %d transcriptions pending", MAX_ITEMS);
    return NULL;
  }
  item = g_new0 (Item, 1);
  item->id = g_strdup (id);
  item->start = item->end = -1;
  item->confidence = -1;
  g_hash_table_insert (priv->items, item->id, item);
  return item;
}

/* Milliseconds as seconds; negative (unknown) when absent or beyond any session (a
 * hostile 1e308 must not reach sample counts). */
static gdouble
ms_to_s (JsonObject * o, const gchar * name)
{
  gdouble ms = stt_json_get_double (o, name, -1);

  return ms >= 0 && ms < 1e12 ? ms / 1000.0 : -1;
}

/* Into the order of items: after @previous when it is held, else last (commits come in
 * the audio's order; a previous item already out is before everything held). */
static void
place_item (OpenAIPriv * priv, Item * item, const gchar * previous)
{
  GList *l;

  if (item->in_order)
    return;
  item->in_order = TRUE;
  for (l = previous ? priv->order.head : NULL; l; l = l->next) {
    if (g_str_equal (((Item *) l->data)->id, previous)) {
      g_queue_insert_after (&priv->order, l, item);
      return;
    }
  }
  g_queue_push_tail (&priv->order, item);
}

static SttResult *
item_result (Item * item, gboolean is_final)
{
  SttResult *r = stt_result_new ();

  r->is_final = is_final;
  r->segment_key = g_strdup (item->id);
  r->text = g_strstrip (g_strdup (is_final ? item->transcript : item->partial->str));
  r->start = item->start;
  r->end = item->end;
  if (r->start >= 0 && r->end >= 0 && r->start > r->end)
    r->start = r->end;
  r->confidence = is_final ? item->confidence : -1;
  return r;
}

/* The finals of the items at the head of the order that are complete. */
static void
release_finals (OpenAIPriv * priv, SttParseOutput * out)
{
  Item *item;

  while ((item = g_queue_peek_head (&priv->order)) != NULL && item->done) {
    g_queue_pop_head (&priv->order);
    g_ptr_array_add (out->results, item_result (item, TRUE));
    g_hash_table_remove (priv->items, item->id);
  }
}

/* The answer to our oldest unanswered commit: it closed the audio sent before it. */
static void
commit_answered (OpenAIPriv * priv, Item * item)
{
  guint64 at;

  if (priv->commits->len == 0)
    return;
  at = g_array_index (priv->commits, guint64, 0);
  g_array_remove_index (priv->commits, 0);
  if (item == NULL)
    return;
  item->end = (gdouble) at / RATE;
  /* Speech the VAD had seen start, under whatever id it was announced. */
  if (item->start < 0 && priv->open_speech) {
    Item *speech = g_hash_table_lookup (priv->items, priv->open_speech);

    if (speech && speech != item) {
      item->start = speech->start;
      if (!speech->in_order)
        g_hash_table_remove (priv->items, speech->id);
    }
  }
}

static void
on_speech_started (OpenAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  Item *item = get_item (priv, stt_json_get_string (o, "item_id", NULL), out);
  gdouble start = ms_to_s (o, "audio_start_ms");

  if (item == NULL)
    return;
  /* The item's audio begins prefix_padding_ms before the speech the VAD heard. */
  if (start >= 0)
    item->start = start + (priv->vad ? priv->padding : 0);
  g_free (priv->open_speech);
  priv->open_speech = g_strdup (item->id);
}

static void
on_speech_stopped (OpenAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  Item *item = get_item (priv, stt_json_get_string (o, "item_id", NULL), out);
  gdouble end = ms_to_s (o, "audio_end_ms");

  if (item == NULL)
    return;
  /* ... and ends silence_duration_ms after it. */
  if (end >= 0) {
    item->end = MAX (end - (priv->vad ? priv->silence : 0), 0);
    item->stopped_at = (guint64) (end * RATE + 0.5);
  }
  item->stopped = TRUE;
}

static void
on_committed (OpenAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  Item *item = get_item (priv, stt_json_get_string (o, "item_id", NULL), out);

  if (item == NULL)
    return;
  /* Without speech_stopped the VAD did not close it: our commit did. */
  if (!item->stopped)
    commit_answered (priv, item);
  /* The VAD closed it where all the audio sent before our commit ends (or a service that
   * says speech_stopped for our commit too): nothing is left for the commit; its own
   * answer, if any, comes when none is waiting and changes nothing. */
  else if (priv->commits->len > 0 && item->stopped_at + RATE / 100 >=
      g_array_index (priv->commits, guint64, 0)) {
    guint64 end = g_array_index (priv->commits, guint64, 0);

    commit_answered (priv, NULL);
    item->end = MIN (item->end, (gdouble) end / RATE);
  }
  if (g_strcmp0 (priv->open_speech, item->id) == 0 || !item->stopped)
    g_clear_pointer (&priv->open_speech, g_free);
  place_item (priv, item, stt_json_get_string (o, "previous_item_id", NULL));
}

static void
on_delta (OpenAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  Item *item = get_item (priv, stt_json_get_string (o, "item_id", NULL), out);
  const gchar *delta = stt_json_get_string (o, "delta", "");

  if (item == NULL || item->done)
    return;
  if (item->partial == NULL)
    item->partial = g_string_new (NULL);
  if (item->partial->len + strlen (delta) > MAX_PARTIAL_BYTES)
    return;
  g_string_append (item->partial, delta);
  if (priv->interim && *delta)
    g_ptr_array_add (out->results, item_result (item, FALSE));
}

/* exp (mean log probability) of the transcript's tokens, or -1. */
static gdouble
logprob_confidence (JsonObject * o)
{
  JsonArray *a = stt_json_get_array (o, "logprobs");
  guint i, n = a ? json_array_get_length (a) : 0, used = 0;
  gdouble sum = 0;

  for (i = 0; i < n; i++) {
    gdouble lp = stt_json_get_double (stt_json_array_get_object (a, i), "logprob", 1);

    if (lp <= 0) {
      sum += lp;
      used++;
    }
  }
  return used ? exp (sum / used) : -1;
}

static void
on_completed (OpenAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  Item *item = get_item (priv, stt_json_get_string (o, "item_id", NULL), out);

  if (item == NULL || item->done)
    return;
  item->done = TRUE;
  item->transcript = g_strdup (stt_json_get_string (o, "transcript", ""));
  item->confidence = logprob_confidence (o);
  if (item->partial == NULL)
    item->partial = g_string_new (NULL);
  /* A completion whose commit we never saw goes after what is held. */
  place_item (priv, item, NULL);
  release_finals (priv, out);
}

/* Reads the turn detection the service applies back from session.created/updated. */
static void
on_session (OpenAIPriv * priv, JsonObject * o)
{
  JsonObject *input = stt_json_get_object (stt_json_get_object (stt_json_get_object (o,
              "session"), "audio"), "input");
  JsonNode *td = input ? json_object_get_member (input, "turn_detection") : NULL;
  JsonObject *vad;

  if (td == NULL)
    return;
  vad = JSON_NODE_HOLDS_OBJECT (td) ? json_node_get_object (td) : NULL;
  /* Only server_vad reports speech with padding and closing silence we know of. */
  priv->vad = g_strcmp0 (stt_json_get_string (vad, "type", NULL), "server_vad") == 0;
  priv->padding = stt_json_get_double (vad, "prefix_padding_ms",
      VAD_PREFIX_PADDING_MS) / 1000.0;
  priv->silence = stt_json_get_double (vad, "silence_duration_ms", VAD_SILENCE_MS) / 1000.0;
}

/* --- errors -------------------------------------------------------------------------- */

/* By code first (several are invalid_request_error), then by type (the SDK's
 * RealtimeError: "invalid_request_error", "server_error", ...). */
static SttFailure
classify_error (const gchar * type, const gchar * code)
{
  static const struct
  {
    const gchar *name;
    SttFailure failure;
  } codes[] = {
    {"invalid_api_key", STT_FAILURE_AUTH},
    {"missing_api_key", STT_FAILURE_AUTH},
    {"invalid_ephemeral_key", STT_FAILURE_AUTH},
    /* The session's 60 minutes are up: a new one goes on. */
    {"session_expired", STT_FAILURE_RETRY},
    {"rate_limit_exceeded", STT_FAILURE_RETRY},
    {"server_error", STT_FAILURE_RETRY},
    {"insufficient_quota", STT_FAILURE_FATAL},
    {"model_not_found", STT_FAILURE_FATAL},
  }, types[] = {
    {"authentication_error", STT_FAILURE_AUTH},
    {"permission_error", STT_FAILURE_AUTH},
    {"invalid_request_error", STT_FAILURE_FATAL},
    {"rate_limit_error", STT_FAILURE_RETRY},
    {"server_error", STT_FAILURE_RETRY},
  };
  guint i;

  for (i = 0; code && i < G_N_ELEMENTS (codes); i++)
    if (g_str_equal (code, codes[i].name))
      return codes[i].failure;
  for (i = 0; type && i < G_N_ELEMENTS (types); i++)
    if (g_str_equal (type, types[i].name))
      return types[i].failure;
  /* Unknown: try again; a fault that stays gets the backoff. */
  return STT_FAILURE_RETRY;
}

/* The service's error text, with whatever follows "API key provided:" (a masked key)
 * left out: nothing of a key goes to logs. */
static gchar *
error_text (JsonObject * e)
{
  const gchar *message = stt_json_get_string (e, "message", "no details");
  const gchar *code = stt_json_get_string (e, "code", NULL);
  const gchar *key = strstr (message, "provided:");
  g_autofree gchar *shown = NULL;

  if (key) {
    const gchar *after = strstr (key, ". ");

    shown = g_strdup_printf ("%.*s <redacted>%s", (gint) (key - message + 9), message,
        after ? after : "");
  }
  return g_strdup_printf ("%s (%s%s%s)", shown ? shown : message,
      stt_json_get_string (e, "type", "error"), code ? ", " : "", code ? code : "");
}

static void
on_error (OpenAIPriv * priv, JsonObject * o, SttParseOutput * out)
{
  JsonObject *e = stt_json_get_object (o, "error");
  const gchar *code = stt_json_get_string (e, "code", NULL);
  const gchar *event_id = stt_json_get_string (e, "event_id", NULL);

  if (g_strcmp0 (code, "input_audio_buffer_commit_empty") == 0
      && (event_id == NULL || g_str_has_prefix (event_id, COMMIT_EVENT_PREFIX))) {
    /* The answer to a commit with (almost) nothing left: every item is committed. */
    commit_answered (priv, NULL);
    g_clear_pointer (&priv->open_speech, g_free);
    return;
  }
  out->failure = classify_error (stt_json_get_string (e, "type", NULL), code);
  /* Our configuration refused (the session would go on without it): fatal. */
  if (g_strcmp0 (event_id, UPDATE_EVENT_ID) == 0 && out->failure == STT_FAILURE_RETRY)
    out->failure = STT_FAILURE_FATAL;
  out->error = error_text (e);
}

/* --- parse --------------------------------------------------------------------------- */

static void
openai_parse (SttProviderState * st, gboolean binary, const guint8 * data, gsize len,
    SttParseOutput * out)
{
  OpenAIPriv *priv = st->priv;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  const gchar *type;

  o = stt_json_parse_message (binary, data, len, &parser, out);
  if (o == NULL)
    return;
  type = stt_json_get_string (o, "type", "");

  if (g_str_equal (type, "conversation.item.input_audio_transcription.delta")) {
    on_delta (priv, o, out);
  } else if (g_str_equal (type, "conversation.item.input_audio_transcription.completed")) {
    on_completed (priv, o, out);
  } else if (g_str_equal (type, "input_audio_buffer.speech_started")) {
    on_speech_started (priv, o, out);
  } else if (g_str_equal (type, "input_audio_buffer.speech_stopped")) {
    on_speech_stopped (priv, o, out);
  } else if (g_str_equal (type, "input_audio_buffer.committed")) {
    on_committed (priv, o, out);
  } else if (g_str_equal (type, "conversation.item.input_audio_transcription.failed")) {
    JsonObject *e = stt_json_get_object (o, "error");

    /* The item's audio is after the last final: a new session hears it again (unless
     * the credentials are refused). */
    out->failure = classify_error (stt_json_get_string (e, "type", NULL),
        stt_json_get_string (e, "code", NULL)) == STT_FAILURE_AUTH ? STT_FAILURE_AUTH :
        STT_FAILURE_RETRY;
    out->error = g_strdup_printf ("transcription of %s failed: %s",
        stt_json_get_string (o, "item_id", "an item"), stt_json_get_string (e, "message",
            "no details"));
  } else if (g_str_equal (type, "error")) {
    on_error (priv, o, out);
  } else if (g_str_equal (type, "session.created") || g_str_equal (type,
          "session.updated")) {
    on_session (priv, o);
    out->ready = g_str_equal (type, "session.updated");
  } else if (!g_str_equal (type, "input_audio_buffer.cleared")
      && !g_str_equal (type, "input_audio_buffer.timeout_triggered")
      && !g_str_has_prefix (type, "conversation.item.")
      && !g_str_equal (type, "conversation.created")
      && !g_str_equal (type, "rate_limits.updated")) {
    /* conversation.item.* covers created/added/done and the diarizing model's
     * transcription segments. */
    out->error = g_strdup_printf ("unknown event type '%s'", type);
    return;
  }

  /* The end of stream: our last commit answered and every item before it out. */
  if (priv->end_sent && priv->commits->len == 0 && g_queue_is_empty (&priv->order)
      && out->failure == STT_FAILURE_NONE)
    out->finished = TRUE;
}

static gchar *
openai_finalize (SttProviderState * st)
{
  return commit_message (st->priv);
}

static GBytes *
openai_end (SttProviderState * st, SttFrameType * type)
{
  OpenAIPriv *priv = st->priv;
  gchar *msg = commit_message (priv);

  priv->end_sent = TRUE;
  *type = STT_FRAME_TEXT;
  return g_bytes_new_take (msg, strlen (msg));
}

static SttFailure
openai_classify_close (SttProviderState * st, gushort code, const gchar * reason)
{
  /* A session the service ends closes with 3000 and "<error type>.<error code>" (the error
   * event came first and was classified there). */
  if (code == 3000 && reason && *reason) {
    g_auto (GStrv) parts = g_strsplit (reason, ".", 2);

    return classify_error (parts[0], parts[1]);
  }
  return stt_failure_from_close (code);
}

const SttProviderInfo stt_provider_openai = {
  .name = "openai",
  .display_name = "OpenAI",
  .default_url = "wss://api.openai.com/v1/realtime",
  .default_rate = RATE,
  /* An append event takes up to 15 MiB. */
  .file_frame_ms = 1000,
  /* Nothing says audio must come at real-time pace; the VAD works on the audio. */
  .realtime_only = FALSE,
  /* No keepalive message: WebSocket pings only. */
  .keepalive_interval = 0,
  .build_request = openai_build_request,
  .start_message = openai_start_message,
  .frame_audio = openai_frame_audio,
  .parse = openai_parse,
  .end_message = openai_end,
  .finalize_message = openai_finalize,
  .classify_close = openai_classify_close,
  .free_priv = openai_free_priv,
};
