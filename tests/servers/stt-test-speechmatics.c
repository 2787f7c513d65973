/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-speechmatics: Speechmatics real-time v2 (wss://eu2.rt.speechmatics.com/v2).
 *
 * Facts: shared/providers.md section 6, checked against @speechmatics/real-time-client
 * 8.5 (dist/index.js: RealtimeClient's connect, start, stopRecognition; dist/index.d.ts:
 * every message, ErrorTypeEnum, WarningTypeEnum, InfoTypeEnum) and speechmatics/docs
 * (spec/realtime.yaml, api-ref/realtime-transcription-websocket.mdx,
 * speech-to-text/realtime/{output,limits,turn-detection,guides/websocket-protocol}.mdx).
 * Choices where the service's behaviour is not documented are listed in README.md.
 *
 * Finals are incremental: a word is final once the audio is `max_delay` past its end
 * (decided on a 250 ms grid of audio), or at an end of utterance (with
 * conversation_config.end_of_utterance_silence_trigger), ForceEndOfUtterance or
 * EndOfStream. A partial holds every word not yet final. A sentence ends after 300 ms of
 * silence: its last word gets a full stop, the next word a capital.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "stt-test-server-private.h"

/* No audio (nor ping, which this server cannot see) for 3 minutes ends a session. */
#define IDLE_TIMEOUT_MS (3 * 60 * 1000)
#define INTERIM_INTERVAL_MS 250
/* Silence that ends a sentence. */
#define SENTENCE_MS 300
/* Finals are decided on this grid of audio. */
#define GRID_S 0.25
/* In silence, an empty final at most this often (seconds of audio). */
#define EMPTY_FINAL_S 1.0
#define DEFAULT_MAX_DELAY 4.0
#define CONFIDENCE 0.9
#define FORMAT "2.9"

typedef struct
{
  gchar *text;                  /* as said: "w400" */
  gdouble start, end;
  gboolean capital;             /* the first word of a sentence */
  gboolean eos;                 /* the last word of a sentence: a full stop follows */
} Word;

typedef struct
{
  gboolean started;             /* StartRecognition taken */
  gboolean ended;               /* EndOfStream taken */
  gboolean warned_after_end;
  gchar *id;
  gchar *language;
  gdouble max_delay;
  gboolean partials;
  gboolean speakers;            /* diarization "speaker" */
  gdouble eou;                  /* end_of_utterance_silence_trigger, 0 = off */
  SttTestAnalyzer *analyzer;
  guint64 n_audio;              /* AddAudio frames taken: the last seq_no */
  GArray *closed;               /* Word: ended sentences' words not yet final */
  GArray *open;                 /* Word: the open sentence's words not yet final */
  guint n_open_final;           /* words of the open sentence already final */
  gdouble final_end;            /* end_time of the last AddTranscript */
  gboolean forcing;             /* the flush answers ForceEndOfUtterance */
} Speechmatics;

static void
word_clear (gpointer p)
{
  g_free (((Word *) p)->text);
}

static GArray *
word_array_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (Word));

  g_array_set_clear_func (a, word_clear);
  return a;
}

static void
speechmatics_free (gpointer data)
{
  Speechmatics *sm = data;

  g_free (sm->id);
  g_free (sm->language);
  g_clear_pointer (&sm->analyzer, stt_test_analyzer_free);
  g_array_unref (sm->closed);
  g_array_unref (sm->open);
  g_free (sm);
}

/* --- handshake ----------------------------------------------------------------------- */

/* GET only (405); the key as `Authorization: Bearer <key>` or, for temporary keys, the
 * `jwt` query parameter (401). */
static guint
speechmatics_handshake (SoupServerMessage * msg, GHashTable * query,
    const gchar * api_key, SttTestAccept * accept, gchar ** message)
{
  const gchar *auth = soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "Authorization");
  const gchar *jwt = g_hash_table_lookup (query, "jwt");
  g_autofree gchar *bearer = NULL;
  Speechmatics *sm;

  if (g_strcmp0 (soup_server_message_get_method (msg), "GET") != 0) {
    *message = g_strdup ("Method Not Allowed");
    return SOUP_STATUS_METHOD_NOT_ALLOWED;
  }
  if (auth && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
    bearer = g_strstrip (g_strdup (auth + 7));
  if (api_key != NULL && g_strcmp0 (bearer, api_key) != 0
      && g_strcmp0 (jwt, api_key) != 0) {
    *message = g_strdup ("Unauthorized");
    return SOUP_STATUS_UNAUTHORIZED;
  }
  sm = g_new0 (Speechmatics, 1);
  sm->id = g_uuid_string_random ();
  sm->closed = word_array_new ();
  sm->open = word_array_new ();
  /* The rate comes with StartRecognition. */
  accept->rate = 16000;
  accept->state = sm;
  return 0;
}

static void
speechmatics_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  gchar *body = g_strdup (message);

  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- messages ------------------------------------------------------------------------ */

/* The close that follows an Error of @type: the API reference's table, its payload the
 * error type. */
static gushort
close_code (const gchar * type, const gchar ** payload)
{
  static const struct
  {
    const gchar *type;
    gushort code;
    const gchar *payload;
  } codes[] = {
    {"not_authorised", 4001, NULL},
    {"not_allowed", 4003, NULL},
    {"invalid_model", 4004, NULL},
    {"invalid_language", 4004, NULL},
    {"quota_exceeded", 4005, NULL},
    {"timelimit_exceeded", 4006, NULL},
    {"job_error", 4013, NULL},
    {"idle_timeout", 1008, "policy_violation"},
    {"session_timeout", 1008, "policy_violation"},
    {"unknown_error", 1011, "internal_error"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codes); i++) {
    if (g_str_equal (codes[i].type, type)) {
      *payload = codes[i].payload ? codes[i].payload : type;
      return codes[i].code;
    }
  }
  /* protocol_error, invalid_message, invalid_config, invalid_audio_type... */
  *payload = type;
  return 1003;
}

/* An Error, then the close: "After any error, the transcription is terminated and the
 * connection is closed." */
static void
fail (SttTestConn * conn, const gchar * type, const gchar * reason)
{
  SttTestJson *json = stt_test_json_new ();
  const gchar *payload;
  gushort code = close_code (type, &payload);

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", "Error");
  stt_test_json_add_string (json, "type", type);
  stt_test_json_add_string (json, "reason", reason);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  stt_test_conn_close (conn, code, payload);
}

static void
send_info (SttTestConn * conn, const gchar * type, const gchar * reason,
    const gchar * quality)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", "Info");
  stt_test_json_add_string (json, "type", type);
  stt_test_json_add_string (json, "reason", reason);
  if (quality) {
    stt_test_json_add_string (json, "quality", quality);
  } else {
    stt_test_json_add_int (json, "usage", 1);
    stt_test_json_add_int (json, "quota", 2);
    stt_test_json_add_string (json, "last_updated", "2026-01-01T00:00:00Z");
  }
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
send_warning (SttTestConn * conn, const gchar * type, const gchar * reason)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", "Warning");
  stt_test_json_add_string (json, "type", type);
  stt_test_json_add_string (json, "reason", reason);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
send_simple (SttTestConn * conn, const gchar * message)
{
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", message);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

static void
add_alternative (SttTestJson * json, Speechmatics * sm, const gchar * content,
    gdouble confidence)
{
  stt_test_json_begin_array (json, "alternatives");
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "content", content);
  stt_test_json_add_double (json, "confidence", confidence);
  stt_test_json_add_string (json, "language", sm->language);
  if (sm->speakers)
    stt_test_json_add_string (json, "speaker", "S1");
  stt_test_json_end_object (json);
  stt_test_json_end_array (json);
}

/* The results of @words (from @a, [@from, @to)) and their text, as the service formats
 * it: a capital at a sentence's start, a full stop at its end (a punctuation result
 * attached to the word before), a space after each word. */
static void
add_results (SttTestJson * json, Speechmatics * sm, GArray * a, guint from, guint to,
    GString * transcript)
{
  guint i;

  for (i = from; i < to; i++) {
    const Word *w = &g_array_index (a, Word, i);
    g_autofree gchar *content = g_strdup (w->text);

    if (w->capital)
      content[0] = g_ascii_toupper (content[0]);
    g_string_append (transcript, content);
    stt_test_json_begin_object (json, NULL);
    add_alternative (json, sm, content, CONFIDENCE);
    stt_test_json_add_double (json, "end_time", w->end);
    stt_test_json_add_double (json, "start_time", w->start);
    stt_test_json_add_string (json, "type", "word");
    stt_test_json_end_object (json);
    if (w->eos) {
      g_string_append_c (transcript, '.');
      stt_test_json_begin_object (json, NULL);
      add_alternative (json, sm, ".", 1.0);
      stt_test_json_add_string (json, "attaches_to", "previous");
      stt_test_json_add_double (json, "end_time", w->end);
      stt_test_json_add_boolean (json, "is_eos", TRUE);
      stt_test_json_add_double (json, "start_time", w->end);
      stt_test_json_add_string (json, "type", "punctuation");
      stt_test_json_end_object (json);
    }
    g_string_append_c (transcript, ' ');
  }
}

/* An AddTranscript or AddPartialTranscript of the first @n_closed closed words and the
 * first @n_open open ones, for the audio from @start to @end seconds. */
static void
send_transcript (SttTestConn * conn, gboolean is_final, guint n_closed, guint n_open,
    gdouble start, gdouble end)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  GString *transcript = g_string_new (NULL);

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", is_final ? "AddTranscript" :
      "AddPartialTranscript");
  stt_test_json_add_string (json, "format", FORMAT);
  stt_test_json_begin_array (json, "results");
  add_results (json, sm, sm->closed, 0, n_closed, transcript);
  add_results (json, sm, sm->open, 0, n_open, transcript);
  stt_test_json_end_array (json);
  stt_test_json_begin_object (json, "metadata");
  stt_test_json_add_double (json, "start_time", start);
  stt_test_json_add_double (json, "end_time", end);
  stt_test_json_add_string (json, "transcript", transcript->str);
  stt_test_json_end_object (json);
  if (is_final && sm->forcing)
    stt_test_json_add_boolean (json, "forced", TRUE);
  stt_test_json_end_object (json);
  g_string_free (transcript, TRUE);
  stt_test_conn_send_json (conn, json);
}

/* The words not yet final, as of @pos seconds of audio. */
static void
send_partial (SttTestConn * conn, gdouble pos)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);

  if (sm->partials)
    send_transcript (conn, FALSE, sm->closed->len, sm->open->len, sm->final_end,
        MAX (pos, sm->final_end));
}

/* The final of the first @n_closed closed words and @n_open open ones, for the audio up
 * to @end; then, "on each Final", a partial with the words left (after a final that had
 * words). */
static void
send_final (SttTestConn * conn, guint n_closed, guint n_open, gdouble end, gdouble pos)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);

  end = MAX (end, sm->final_end);
  send_transcript (conn, TRUE, n_closed, n_open, sm->final_end, end);
  sm->final_end = end;
  g_array_remove_range (sm->closed, 0, n_closed);
  g_array_remove_range (sm->open, 0, n_open);
  sm->n_open_final += n_open;
  if (n_closed + n_open > 0)
    send_partial (conn, pos);
}

/* Finals due at @t seconds of audio (on the grid): every word at least max_delay old,
 * oldest first; in silence, an empty final now and then. */
static void
flush_due (SttTestConn * conn, gdouble t)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  gdouble horizon = t - sm->max_delay, end = horizon;
  guint n_closed = 0, n_open = 0;

  while (n_closed < sm->closed->len
      && g_array_index (sm->closed, Word, n_closed).end <= horizon + 1e-9)
    n_closed++;
  if (n_closed == sm->closed->len) {
    while (n_open < sm->open->len
        && g_array_index (sm->open, Word, n_open).end <= horizon + 1e-9)
      n_open++;
  }
  /* Not past a word that is not final. */
  if (n_closed < sm->closed->len)
    end = MIN (end, g_array_index (sm->closed, Word, n_closed).start);
  else if (n_open < sm->open->len)
    end = MIN (end, g_array_index (sm->open, Word, n_open).start);
  if (n_closed + n_open > 0 || end - sm->final_end >= EMPTY_FINAL_S - 1e-9)
    send_final (conn, n_closed, n_open, end, t);
}

/* Every word heard is final now (end of utterance, ForceEndOfUtterance, EndOfStream). */
static void
flush_all (SttTestConn * conn, gdouble end)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);

  send_final (conn, sm->closed->len, sm->open->len, end, end);
}

static void
send_end_of_utterance (SttTestConn * conn, gdouble at)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", "EndOfUtterance");
  stt_test_json_begin_object (json, "metadata");
  stt_test_json_add_double (json, "start_time", at);
  stt_test_json_add_double (json, "end_time", at);
  stt_test_json_end_object (json);
  if (sm->forcing)
    stt_test_json_add_boolean (json, "forced", TRUE);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* The open sentence's words [@from, @n) as Word, into @a. */
static void
copy_words (GArray * a, const SttTestAnalyzerResult * r, guint from, gboolean ended)
{
  guint i;

  for (i = from; i < r->n_words; i++) {
    Word w = { g_strdup (r->words[i].text), r->words[i].start, r->words[i].end, i == 0,
      ended && i + 1 == r->n_words
    };

    g_array_append_val (a, w);
  }
}

static void
speechmatics_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      return;
    case STT_TEST_ANALYZER_PARTIAL:
      g_array_set_size (sm->open, 0);
      copy_words (sm->open, r, sm->n_open_final, FALSE);
      flush_due (conn, r->end);
      send_partial (conn, r->end);
      return;
    case STT_TEST_ANALYZER_FINAL:
      /* The sentence ended: its words wait with the other closed ones. */
      g_array_set_size (sm->open, 0);
      copy_words (sm->closed, r, sm->n_open_final, TRUE);
      sm->n_open_final = 0;
      if (r->from_finalize) {
        flush_all (conn, r->end);
      } else if (sm->eou > 0) {
        /* End of utterance: "a final transcript, followed by an extra EndOfUtterance". */
        flush_all (conn, r->end);
        send_end_of_utterance (conn, r->end);
      }
      return;
  }
}

/* --- StartRecognition ---------------------------------------------------------------- */

typedef enum
{
  F_STRING,
  F_BOOLEAN,
  F_NUMBER,
  F_INTEGER,
  F_OBJECT,
  F_ARRAY,
} FieldType;

/* A member a message may have: its type, its range (numbers, when min < max), its
 * values (strings, NULL-terminated, or NULL for any). */
typedef struct
{
  const gchar *name;
  FieldType type;
  gdouble min, max;
  const gchar *const *values;
} Field;

static const gchar *const audio_types[] = { "raw", "file", NULL };
static const gchar *const encodings[] = { "pcm_f32le", "pcm_s16le", "mulaw", NULL };
static const gchar *const diarizations[] = { "none", "speaker", "channel",
  "channel_and_speaker", NULL
};
static const gchar *const delay_modes[] = { "flexible", "fixed", NULL };
static const gchar *const models[] = { "standard", "enhanced", "melia-1", NULL };

static const Field start_fields[] = {
  {"message", F_STRING},
  {"audio_format", F_OBJECT},
  {"transcription_config", F_OBJECT},
  {"translation_config", F_OBJECT},
  {"audio_events_config", F_OBJECT},
  {NULL}
};

static const Field audio_format_fields[] = {
  {"type", F_STRING, 0, 0, audio_types},
  {"encoding", F_STRING, 0, 0, encodings},
  {"sample_rate", F_INTEGER, 1, 192000},
  {NULL}
};

static const Field config_fields[] = {
  {"language", F_STRING},
  {"domain", F_STRING},
  {"output_locale", F_STRING},
  {"additional_vocab", F_ARRAY},
  {"diarization", F_STRING, 0, 0, diarizations},
  {"max_delay", F_NUMBER, 0.7, 4},
  {"max_delay_mode", F_STRING, 0, 0, delay_modes},
  {"speaker_diarization_config", F_OBJECT},
  {"audio_filtering_config", F_OBJECT},
  {"transcript_filtering_config", F_OBJECT},
  {"enable_partials", F_BOOLEAN},
  {"enable_entities", F_BOOLEAN},
  {"operating_point", F_STRING, 0, 0, models},
  {"model", F_STRING, 0, 0, models},
  {"punctuation_overrides", F_OBJECT},
  {"conversation_config", F_OBJECT},
  {"channel_diarization_labels", F_ARRAY},
  {NULL}
};

/* SetRecognitionConfig may change only these. */
static const Field midsession_fields[] = {
  {"language", F_STRING},
  {"max_delay", F_NUMBER, 0.7, 4},
  {"max_delay_mode", F_STRING, 0, 0, delay_modes},
  {"audio_filtering_config", F_OBJECT},
  {"enable_partials", F_BOOLEAN},
  {"conversation_config", F_OBJECT},
  {NULL}
};

static const Field conversation_fields[] = {
  {"end_of_utterance_silence_trigger", F_NUMBER, 0, 2},
  {NULL}
};

static const Field punctuation_fields[] = {
  {"permitted_marks", F_ARRAY},
  {"sensitivity", F_NUMBER, 0, 1},
  {NULL}
};

static const Field speaker_fields[] = {
  {"max_speakers", F_INTEGER, 2, G_MAXINT32},
  {"prefer_current_speaker", F_BOOLEAN},
  {"speaker_sensitivity", F_NUMBER, 0, 1},
  {"get_speakers", F_BOOLEAN},
  {"speakers", F_ARRAY},
  {NULL}
};

static const Field audio_filtering_fields[] = {
  {"volume_threshold", F_NUMBER, 0, 100},
  {NULL}
};

static const Field transcript_filtering_fields[] = {
  {"remove_disfluencies", F_BOOLEAN},
  {"replacements", F_ARRAY},
  {NULL}
};

static const Field audio_events_fields[] = {
  {"types", F_ARRAY},
  {NULL}
};

static const Field force_fields[] = {
  {"message", F_STRING},
  {"channel", F_STRING},
  {"timestamp", F_NUMBER, 0, G_MAXDOUBLE},
  {NULL}
};

static gboolean
has_type (JsonNode * n, FieldType type)
{
  GType v = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;

  switch (type) {
    case F_STRING:
      return v == G_TYPE_STRING;
    case F_BOOLEAN:
      return v == G_TYPE_BOOLEAN;
    case F_NUMBER:
      return v == G_TYPE_INT64 || v == G_TYPE_DOUBLE;
    case F_INTEGER:
      return v == G_TYPE_INT64;
    case F_OBJECT:
      return JSON_NODE_HOLDS_OBJECT (n);
    case F_ARRAY:
      return JSON_NODE_HOLDS_ARRAY (n);
  }
  return FALSE;
}

/* What is wrong with @o (@where names it): a member not in @fields, or one of the wrong
 * type, out of range or not one of its values. NULL when nothing. */
static gchar *
check_members (JsonObject * o, const gchar * where, const Field * fields)
{
  g_autoptr (GList) members = json_object_get_members (o);
  GList *l;

  for (l = members; l; l = l->next) {
    const gchar *name = l->data;
    JsonNode *n = json_object_get_member (o, name);
    const Field *f = fields;

    while (f->name && !g_str_equal (f->name, name))
      f++;
    if (f->name == NULL)
      return g_strdup_printf ("Unknown field %s.%s", where, name);
    if (!has_type (n, f->type))
      return g_strdup_printf ("Invalid type for %s.%s", where, name);
    if ((f->type == F_NUMBER || f->type == F_INTEGER) && f->min < f->max) {
      gdouble v = json_node_get_value_type (n) == G_TYPE_INT64 ?
          (gdouble) json_node_get_int (n) : json_node_get_double (n);

      if (v < f->min || v > f->max)
        return g_strdup_printf ("%s.%s must be between %g and %g", where, name, f->min,
            f->max);
    }
    if (f->type == F_STRING && f->values
        && !g_strv_contains (f->values, json_node_get_string (n)))
      return g_strdup_printf ("Invalid value for %s.%s: %s", where, name,
          json_node_get_string (n));
  }
  return NULL;
}

/* The member @name of @o if it is an object, else NULL. */
static JsonObject *
object_member (JsonObject * o, const gchar * name)
{
  JsonNode *n = json_object_get_member (o, name);

  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* Checks the nested objects of a (mid-session) transcription_config. */
static gchar *
check_config_objects (JsonObject * config)
{
  static const struct
  {
    const gchar *name;
    const Field *fields;
  } nested[] = {
    {"conversation_config", conversation_fields},
    {"punctuation_overrides", punctuation_fields},
    {"speaker_diarization_config", speaker_fields},
    {"audio_filtering_config", audio_filtering_fields},
    {"transcript_filtering_config", transcript_filtering_fields},
  };
  gchar *reason = NULL;
  guint i;

  for (i = 0; reason == NULL && i < G_N_ELEMENTS (nested); i++) {
    JsonObject *o = object_member (config, nested[i].name);
    g_autofree gchar *where = g_strdup_printf ("transcription_config.%s", nested[i].name);

    if (o)
      reason = check_members (o, where, nested[i].fields);
  }
  return reason;
}

/* A language code as the service's language packs are named: "en", "cmn", "cmn_en",
 * "auto". A region ("en-US") belongs in output_locale. */
static gboolean
valid_language (const gchar * language)
{
  gsize n = strspn (language, "abcdefghijklmnopqrstuvwxyz");

  if (g_str_equal (language, "auto"))
    return TRUE;
  if (n < 2 || n > 3)
    return FALSE;
  if (language[n] == '\0')
    return TRUE;
  if (language[n] != '_')
    return FALSE;
  language += n + 1;
  n = strspn (language, "abcdefghijklmnopqrstuvwxyz");
  return n >= 2 && n <= 3 && language[n] == '\0';
}

static void
apply_config (Speechmatics * sm, JsonObject * config)
{
  JsonObject *conversation = object_member (config, "conversation_config");

  sm->max_delay = json_object_get_double_member_with_default (config, "max_delay",
      sm->max_delay);
  sm->partials = json_object_get_boolean_member_with_default (config, "enable_partials",
      sm->partials);
  if (conversation)
    sm->eou = json_object_get_double_member_with_default (conversation,
        "end_of_utterance_silence_trigger", sm->eou);
  /* A sentence ends at the end of utterance when it is on. */
  if (sm->analyzer)
    stt_test_analyzer_set_endpointing (sm->analyzer, sm->eou > 0 ?
        (guint) (sm->eou * 1000 + 0.5) : SENTENCE_MS);
}

/* Checks StartRecognition; on success configures @sm and returns NULL, else the error
 * type (static) with *@reason set. */
static const gchar *
check_start (Speechmatics * sm, JsonObject * o, guint * rate, gchar ** reason)
{
  JsonObject *format = object_member (o, "audio_format");
  JsonObject *config = object_member (o, "transcription_config");
  JsonObject *translation = object_member (o, "translation_config");
  JsonObject *events = object_member (o, "audio_events_config");
  const gchar *language;

  if ((*reason = check_members (o, "StartRecognition", start_fields)) != NULL)
    return "invalid_message";
  if (format == NULL) {
    *reason = g_strdup ("Missing audio_format");
    return "invalid_audio_type";
  }
  if ((*reason = check_members (format, "audio_format", audio_format_fields)) != NULL)
    return "invalid_audio_type";
  if (g_strcmp0 (json_object_get_string_member_with_default (format, "type", NULL),
          "raw") != 0 || g_strcmp0 (json_object_get_string_member_with_default (format,
              "encoding", NULL), "pcm_s16le") != 0
      || !json_object_has_member (format, "sample_rate")) {
    *reason = g_strdup ("This test server takes raw pcm_s16le audio with a sample_rate");
    return "invalid_audio_type";
  }
  *rate = (guint) json_object_get_int_member (format, "sample_rate");

  if (config == NULL) {
    *reason = g_strdup ("Missing transcription_config");
    return "invalid_config";
  }
  if ((*reason = check_members (config, "transcription_config", config_fields)) != NULL
      || (*reason = check_config_objects (config)) != NULL)
    return "invalid_config";
  language = json_object_get_string_member_with_default (config, "language", NULL);
  if (language == NULL) {
    *reason = g_strdup ("Missing transcription_config.language");
    return "invalid_config";
  }
  if (!valid_language (language)) {
    *reason = g_strdup_printf ("Language not supported: %s", language);
    return "invalid_language";
  }
  if (g_str_has_prefix (json_object_get_string_member_with_default (config,
              "diarization", "none"), "channel")) {
    *reason = g_strdup ("Channel diarization needs multichannel audio (this test server "
        "takes mono)");
    return "invalid_config";
  }
  if (translation) {
    *reason = g_strdup ("This test server does not translate");
    return "invalid_config";
  }
  if (events && (*reason = check_members (events, "audio_events_config",
              audio_events_fields)) != NULL)
    return "invalid_config";

  sm->language = g_strdup (language);
  sm->max_delay = DEFAULT_MAX_DELAY;
  sm->speakers = g_strcmp0 (json_object_get_string_member_with_default (config,
          "diarization", NULL), "speaker") == 0;
  return NULL;
}

static void
start_recognition (SttTestConn * conn, JsonObject * o)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  g_autofree gchar *reason = NULL;
  const gchar *error;
  SttTestJson *json;
  guint rate = 0;

  if ((error = check_start (sm, o, &rate, &reason)) != NULL) {
    fail (conn, error, reason);
    return;
  }
  sm->started = TRUE;
  sm->analyzer = stt_test_analyzer_new (rate);
  stt_test_analyzer_set_interim_interval (sm->analyzer, INTERIM_INTERVAL_MS);
  apply_config (sm, object_member (o, "transcription_config"));
  stt_test_conn_use_analyzer (conn, sm->analyzer);

  send_info (conn, "recognition_quality", rate >= 12000 ?
      "Running recognition using a broadcast model quality." :
      "Running recognition using a telephony model quality.",
      rate >= 12000 ? "broadcast" : "telephony");
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", "RecognitionStarted");
  stt_test_json_add_string (json, "orchestrator_version", "2026.01.01+stt-test-server");
  stt_test_json_add_string (json, "id", sm->id);
  stt_test_json_begin_object (json, "language_pack_info");
  stt_test_json_add_boolean (json, "adapted", FALSE);
  stt_test_json_add_boolean (json, "itn", TRUE);
  stt_test_json_add_string (json, "language_description", "Test tones");
  stt_test_json_add_string (json, "word_delimiter", " ");
  stt_test_json_add_string (json, "writing_direction", "left-to-right");
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
}

/* --- client messages ----------------------------------------------------------------- */

static void
end_of_stream (SttTestConn * conn, JsonObject * o)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  JsonNode *n = json_object_get_member (o, "last_seq_no");
  gint64 last;

  if (stt_test_conn_end_received (conn))
    return;
  if (n == NULL || !has_type (n, F_INTEGER)) {
    fail (conn, "invalid_message", "EndOfStream needs an integer last_seq_no");
    return;
  }
  /* The SDK sends the last seq_no it saw acknowledged, which may trail what was sent;
   * more than was received is wrong. */
  last = json_node_get_int (n);
  if (last < 0 || (guint64) last > sm->n_audio) {
    g_autofree gchar *reason = g_strdup_printf ("last_seq_no %" G_GINT64_FORMAT
        " but %" G_GUINT64_FORMAT " AddAudio received", last, sm->n_audio);

    fail (conn, "protocol_error", reason);
    return;
  }
  sm->ended = TRUE;
  stt_test_conn_finalize (conn);
  send_simple (conn, "EndOfTranscript");
}

static void
force_end_of_utterance (SttTestConn * conn, JsonObject * o)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  g_autofree gchar *reason = check_members (o, "ForceEndOfUtterance", force_fields);

  if (reason) {
    fail (conn, "invalid_message", reason);
    return;
  }
  /* AddTranscript then EndOfUtterance, both `forced`. */
  sm->forcing = TRUE;
  stt_test_conn_finalize (conn);
  send_end_of_utterance (conn, stt_test_conn_get_audio_seconds (conn));
  sm->forcing = FALSE;
}

static void
set_recognition_config (SttTestConn * conn, JsonObject * o)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  JsonObject *config = object_member (o, "transcription_config");
  g_autofree gchar *reason = NULL;
  const gchar *language;

  if (config == NULL) {
    fail (conn, "invalid_message", "SetRecognitionConfig needs a transcription_config");
    return;
  }
  if ((reason = check_members (config, "transcription_config", midsession_fields))
      || (reason = check_config_objects (config))) {
    fail (conn, "invalid_config", reason);
    return;
  }
  language = json_object_get_string_member_with_default (config, "language", NULL);
  if (language && !g_str_equal (language, sm->language)) {
    fail (conn, "invalid_config", "The language cannot be changed");
    return;
  }
  apply_config (sm, config);
}

static void
speechmatics_on_text (SttTestConn * conn, const gchar * text)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *o = NULL;
  const gchar *message = NULL;

  if (json_parser_load_from_data (parser, text, -1, NULL)
      && (root = json_parser_get_root (parser)) != NULL && JSON_NODE_HOLDS_OBJECT (root))
    o = json_node_get_object (root);
  if (o)
    message = json_object_get_string_member_with_default (o, "message", NULL);
  if (message == NULL) {
    fail (conn, "invalid_message", "Messages are JSON objects with a message name");
  } else if (!sm->started && !g_str_equal (message, "StartRecognition")) {
    fail (conn, "protocol_error", "StartRecognition must come first");
  } else if (g_str_equal (message, "StartRecognition")) {
    if (sm->started)
      fail (conn, "protocol_error", "Recognition already started");
    else
      start_recognition (conn, o);
  } else if (sm->ended) {
    fail (conn, "protocol_error", "No message may follow EndOfStream");
  } else if (g_str_equal (message, "EndOfStream")) {
    end_of_stream (conn, o);
  } else if (g_str_equal (message, "ForceEndOfUtterance")) {
    force_end_of_utterance (conn, o);
  } else if (g_str_equal (message, "SetRecognitionConfig")) {
    set_recognition_config (conn, o);
  } else if (g_str_equal (message, "GetSpeakers")) {
    SttTestJson *json = stt_test_json_new ();

    stt_test_json_begin_object (json, NULL);
    stt_test_json_add_string (json, "message", "SpeakersResult");
    stt_test_json_begin_array (json, "speakers");
    stt_test_json_end_array (json);
    stt_test_json_end_object (json);
    stt_test_conn_send_json (conn, json);
  } else if (g_str_equal (message, "AddChannelAudio")
      || g_str_equal (message, "EndOfChannel")) {
    fail (conn, "protocol_error", "Not a multichannel session");
  } else {
    g_autofree gchar *reason = g_strdup_printf ("Unknown message: %.64s", message);

    fail (conn, "invalid_message", reason);
  }
}

static void
speechmatics_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  Speechmatics *sm = stt_test_conn_get_state (conn);
  SttTestJson *json;
  gdouble pos;

  if (!sm->started) {
    fail (conn, "protocol_error", "StartRecognition must come first");
    return;
  }
  if (sm->ended) {
    /* Ignored, neither acknowledged nor heard. */
    if (!sm->warned_after_end)
      send_warning (conn, "add_audio_after_eos", "Protocol specification doesn't allow "
          "adding audio after EndOfStream has been received");
    sm->warned_after_end = TRUE;
    return;
  }
  /* Acknowledged once read, before it is heard. */
  sm->n_audio++;
  json = stt_test_json_new ();
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "message", "AudioAdded");
  stt_test_json_add_int (json, "seq_no", sm->n_audio);
  stt_test_json_end_object (json);
  stt_test_conn_send_json (conn, json);
  if (!stt_test_conn_push_audio (conn, data, size))
    return;
  /* Words whose time has come while no sentence is open (no partial to decide it). */
  pos = floor (stt_test_conn_get_audio_seconds (conn) / GRID_S + 1e-9) * GRID_S;
  flush_due (conn, pos);
}

static void
speechmatics_on_open (SttTestConn * conn)
{
  send_info (conn, "concurrent_session_usage", "1 concurrent sessions active out of "
      "quota 2", NULL);
}

static void
speechmatics_on_idle (SttTestConn * conn)
{
  fail (conn, "idle_timeout", "Session timed out: no audio or ping for 3 minutes");
}

const SttTestProtocol stt_test_protocol_speechmatics = {
  .name = "speechmatics",
  .path = "/v2",
  .subprotocols = NULL,
  .default_idle_timeout_ms = IDLE_TIMEOUT_MS,
  .handshake = speechmatics_handshake,
  .refuse = speechmatics_refuse,
  .on_open = speechmatics_on_open,
  .on_binary = speechmatics_on_binary,
  .on_text = speechmatics_on_text,
  .on_result = speechmatics_on_result,
  .on_idle = speechmatics_on_idle,
  .on_tick = NULL,
  .free_state = speechmatics_free,
};
