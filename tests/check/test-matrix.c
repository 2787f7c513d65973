/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The conformance matrix: every provider x every fault x one kind of input, at the
 * element's default settings (only provider, url and api-key are set: what differs is the
 * fault the test server injects). Each cell has its own server and pipeline, and the
 * cells of a kind run at once (live cells take real time); then the test fails once,
 * listing every failed cell and why, and prints the matrix on stdout.
 *
 * Each cell checks what a user would: every word once, in order, at its time, on the bus
 * and in the text buffers; no cue outside the input; EOS without ERROR or WARNING;
 * nothing left untranscribed (the `stats` property). A provider without word times
 * (OpenAI) is held to what it can give: every word once and in order, and each segment
 * starting at its first word's time and ending at its last word's, or up to its VAD's
 * closing silence later. Where the service never comes back
 * ("gone"): a bounded end that says exactly which stretch was not transcribed.
 *
 * STT_MATRIX_INPUT=file90|file45|live30|player30 picks the kind (meson: one test per
 * kind, suite "matrix"); STT_MATRIX_PROVIDERS and STT_MATRIX_FAULTS (comma lists) pick
 * a subset for debugging. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/app/app.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

/* How far a word's or a cue's time may be from its tone's. */
#define TOLERANCE (50 * GST_MSECOND)
/* "gone" on an input that had ended: the untranscribed stretch reaches its end. */
#define END_TOLERANCE (100 * GST_MSECOND)
/* Every cell ends (EOS, ERROR or this limit) within this; "gone" cells must end sooner. */
#define CELL_LIMIT_S 300
#define GONE_LIMIT_S 240
/* "gone": how early the untranscribed stretch may start before the drop, at least (more
 * where the service's segments are longer, see lowest_from()). */
#define GONE_FROM_SLACK 3.0
/* Time for a final to reach the element once the service has it. */
#define DELIVERY_MARGIN 0.5
#define CONNECT_WAIT_MS 30000
/* The last word ends this long before the end of the input: sooner than most protocols
 * close a segment, so the last final needs the end-of-stream flush (close1000-end). */
#define TAIL 0.2
#define LIVE_CHUNK_MS 20
/* Words, times or warnings named per failure. */
#define MAX_LISTED 4

static const gchar *const providers[] = { "deepgram", "assemblyai", "elevenlabs",
  "soniox", "gladia", "vosk", "openai", "speechmatics", "aws", NULL
};

/* OpenAI gives no word times, only each segment's (its VAD's speech start and end, or
 * the end of the audio a commit closed): its words are checked by segment, see
 * check_bus_words() and check_cues(). */
static gboolean
has_word_times (const gchar * provider)
{
  return !g_str_equal (provider, "openai");
}

/* --- the kinds of input ------------------------------------------------------------- */

typedef enum
{
  SOURCE_FILE,                  /* filesrc ! wavparse: non-live, as fast as it goes */
  SOURCE_LIVE,                  /* appsrc is-live=true, fed at real-time pace */
  SOURCE_PLAYER,                /* filesrc ! wavparse ! identity sync=true: a media player */
} Source;

typedef struct
{
  const gchar *name;
  Source source;
  gdouble duration;             /* seconds */
  guint rate, channels;         /* S16LE */
  /* "gone": the element gives up before it has read the whole input (longer than the
   * replay ring), so it ends with an ERROR rather than EOS. */
  gboolean gone_errors;
} Kind;

static const Kind kinds[] = {
  /* Longer than the replay ring (max-buffer-time, 60 s); stereo 44.1 kHz, converted. */
  {"file90", SOURCE_FILE, 90, 44100, 2, TRUE},
  {"file45", SOURCE_FILE, 45, 16000, 1, FALSE},
  {"live30", SOURCE_LIVE, 30, 48000, 1, FALSE},
  {"player30", SOURCE_PLAYER, 30, 48000, 2, FALSE},
};

/* --- the faults ----------------------------------------------------------------------- */

typedef enum
{
  ARM_NONE,
  ARM_AT,                       /* stt_test_server_inject_fault() at fraction * D + offset */
  ARM_HANDSHAKES,               /* the first two handshakes refused with 503 */
  ARM_SLOW,                     /* every server message 300 ms late */
  ARM_GONE,                     /* like ARM_AT, then every later handshake refused */
  ARM_DEAF,                     /* like ARM_AT, with the provider's harmless message */
} Arm;

typedef struct
{
  const gchar *name;
  Arm arm;
  SttTestFault fault;
  gdouble fraction, offset;     /* where: seconds of audio the server has received */
  gushort code;
  const gchar *reason;
  gboolean player;              /* also run for player30 */
} Fault;

static const Fault faults[] = {
  {"none", ARM_NONE, 0, 0, 0, 0, NULL, TRUE},
  {"drop", ARM_AT, STT_TEST_FAULT_DROP, 0.4, 0, 0, NULL, TRUE},
  {"close1011", ARM_AT, STT_TEST_FAULT_CLOSE, 0.5, 0, 1011, "internal error", FALSE},
  {"close1000-mid", ARM_AT, STT_TEST_FAULT_CLOSE, 0.3, 0, 1000, "", FALSE},
  /* Closed normally on the client's end-of-stream message, before the last finals. */
  {"close1000-end", ARM_AT, STT_TEST_FAULT_CLOSE_AT_END, 0, 0, 1000, "", FALSE},
  {"stall-mid", ARM_AT, STT_TEST_FAULT_STALL, 0.5, 0, 0, NULL, TRUE},
  {"stall-end", ARM_AT, STT_TEST_FAULT_STALL, 1.0, -3, 0, NULL, FALSE},
  {"503x2", ARM_HANDSHAKES, 0, 0, 0, 503, NULL, FALSE},
  {"slow", ARM_SLOW, 0, 0, 0, 0, NULL, FALSE},
  /* The service never comes back after a drop at 0.3 D. */
  {"gone", ARM_GONE, STT_TEST_FAULT_DROP, 0.3, 0, 0, NULL, FALSE},
  /* The server stops reading at 0.5 D but goes on talking (a harmless message every
   * 100 ms): only the socket says it takes no audio. */
  {"deaf", ARM_DEAF, STT_TEST_FAULT_DEAF, 0.5, 0, 100, NULL, TRUE},
};

/* A message each protocol's client takes in without a result: what a deaf server keeps
 * sending. */
static const gchar *
deaf_message (const gchar * provider)
{
  static const struct
  {
    const gchar *provider, *message;
  } messages[] = {
    {"deepgram", "{\"type\":\"SpeechStarted\",\"channel\":[0],\"timestamp\":0.0}"},
    {"assemblyai", "{\"type\":\"SpeechStarted\",\"timestamp\":0,\"confidence\":0.9}"},
    {"elevenlabs", "{\"message_type\":\"partial_transcript\",\"text\":\"\"}"},
    {"soniox", "{\"tokens\":[],\"final_audio_proc_ms\":0,\"total_audio_proc_ms\":0}"},
    {"gladia", "{\"session_id\":\"s\",\"created_at\":\"2026-01-01T00:00:00Z\","
          "\"type\":\"speech_start\",\"data\":{\"time\":0,\"channel\":0}}"},
    {"vosk", "{\"partial\" : \"\"}"},
    {"openai", "{\"type\":\"rate_limits.updated\",\"event_id\":\"event_d\","
          "\"rate_limits\":[]}"},
    {"speechmatics", "{\"message\":\"Info\",\"type\":\"recognition_quality\","
          "\"reason\":\"Running recognition using a broadcast model quality.\","
          "\"quality\":\"broadcast\"}"},
    /* Not sent: the aws server's messages are binary, it says its own harmless one (an
     * empty Results event, see send_harmless in tests/servers). */
    {"aws", "(binary)"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (messages); i++)
    if (g_str_equal (messages[i].provider, provider))
      return messages[i].message;
  g_assert_not_reached ();
  return NULL;
}

/* --- the input of a kind, shared by its cells ----------------------------------------- */

typedef struct
{
  const Kind *kind;
  SttTone *tones;
  guint n_tones;
  gchar **words;                /* the word of each tone */
  gchar *dir, *path;            /* the WAV file (file and player kinds) */
  GList *buffers;               /* the 20 ms buffers (live kind) */
} Input;

static Input *
input_new (const Kind * kind)
{
  Input *in = g_new0 (Input, 1);
  GError *err = NULL;
  guint i;

  in->kind = kind;
  in->tones = stt_check_make_speech (kind->duration, TAIL, &in->n_tones);
  in->words = g_new0 (gchar *, in->n_tones + 1);
  for (i = 0; i < in->n_tones; i++)
    in->words[i] = stt_check_tone_word (&in->tones[i]);

  if (kind->source == SOURCE_LIVE) {
    GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, kind->rate,
        kind->channels, kind->duration, in->tones, in->n_tones, 0);

    in->buffers = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, kind->rate,
        kind->channels, LIVE_CHUNK_MS);
    gst_buffer_unref (all);
  } else {
    in->dir = g_dir_make_tmp ("test-matrix-XXXXXX", &err);
    fail_unless (in->dir != NULL, "%s", err ? err->message : "");
    in->path = g_build_filename (in->dir, "input.wav", NULL);
    fail_unless (stt_check_write_wav (in->path, kind->rate, kind->channels,
            kind->duration, in->tones, in->n_tones, &err), "%s",
        err ? err->message : "");
  }
  return in;
}

static void
input_free (Input * in)
{
  if (in->path)
    g_unlink (in->path);
  if (in->dir)
    g_rmdir (in->dir);
  g_free (in->path);
  g_free (in->dir);
  g_list_free_full (in->buffers, (GDestroyNotify) gst_buffer_unref);
  g_strfreev (in->words);
  g_free (in->tones);
  g_free (in);
}

/* --- a cell: one provider, one fault, one pipeline ------------------------------------ */

typedef struct
{
  gchar *text;                  /* "<element>: <message>" */
  GstStructure *details;        /* or NULL */
} Warning;

typedef struct
{
  const Input *in;
  const gchar *provider;
  const Fault *fault;
  GThread *thread;

  /* The cell's thread only. */
  SttTestServer *server;
  GstElement *pipeline, *stt;
  SttCheckFeeder *feeder;

  GMutex lock;                  /* cues: written from the appsink's streaming thread */
  GArray *cues;                 /* SttCheckCue */

  /* From the bus. */
  GPtrArray *finals;            /* GstStructure: stt-transcript with is-final */
  GPtrArray *warnings;          /* Warning */
  gchar *error;
  gboolean eos;
  GstStructure *stats;
  gint64 start;                 /* monotonic time of PLAYING */
  gdouble seconds;              /* from PLAYING to EOS, ERROR or the limit */
  gdouble lost_at;              /* seconds from PLAYING to the first "reconnecting"; -1 */

  guint got_words, want_words;  /* on the bus */
  GPtrArray *failures;          /* gchar *: why this cell failed */
} Cell;

static void
warning_free (Warning * w)
{
  g_free (w->text);
  if (w->details)
    gst_structure_free (w->details);
  g_free (w);
}

static Cell *
cell_new (const Input * in, const gchar * provider, const Fault * fault)
{
  Cell *c = g_new0 (Cell, 1);

  c->in = in;
  c->provider = provider;
  c->fault = fault;
  g_mutex_init (&c->lock);
  c->cues = stt_check_cues_new ();
  c->finals = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  c->warnings = g_ptr_array_new_with_free_func ((GDestroyNotify) warning_free);
  c->failures = g_ptr_array_new_with_free_func (g_free);
  c->lost_at = -1;
  return c;
}

static void
cell_free (Cell * c)
{
  g_array_unref (c->cues);
  g_ptr_array_unref (c->finals);
  g_ptr_array_unref (c->warnings);
  g_ptr_array_unref (c->failures);
  g_free (c->error);
  if (c->stats)
    gst_structure_free (c->stats);
  g_mutex_clear (&c->lock);
  g_free (c);
}

static void cell_fail (Cell * c, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

/* Records why @c failed; the test fails at the end, once, with all of them. */
static void
cell_fail (Cell * c, const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (c->failures, g_strdup_vprintf (format, args));
  va_end (args);
}

static gdouble
secs (GstClockTime t)
{
  return GST_CLOCK_TIME_IS_VALID (t) ? (gdouble) t / GST_SECOND : -1;
}

static GstClockTime
at (gdouble seconds)
{
  return (GstClockTime) (seconds * GST_SECOND + 0.5);
}

/* --- running a cell ------------------------------------------------------------------- */

static void
arm_fault (Cell * c)
{
  const Fault *f = c->fault;
  gdouble after = f->fraction * c->in->kind->duration + f->offset;

  switch (f->arm) {
    case ARM_NONE:
      break;
    case ARM_AT:
    case ARM_GONE:
      stt_test_server_inject_fault (c->server, f->fault, after, f->code, f->reason);
      break;
    case ARM_HANDSHAKES:
      stt_test_server_fail_handshakes (c->server, f->code, 2, NULL);
      break;
    case ARM_SLOW:
      stt_test_server_set_reply_delay (c->server, 300);
      break;
    case ARM_DEAF:
      stt_test_server_inject_fault (c->server, f->fault, after, f->code,
          deaf_message (c->provider));
      break;
  }
}

static gboolean
build_pipeline (Cell * c)
{
  const Kind *k = c->in->kind;
  g_autofree gchar *desc = NULL, *url = stt_test_server_get_url (c->server);
  GError *err = NULL;
  GstElement *sink;

#define STT_AND_SINK "stttranscribe name=stt ! appsink name=sink sync=false"
  switch (k->source) {
    case SOURCE_FILE:
      desc = g_strdup_printf ("filesrc location=\"%s\" ! wavparse ! " STT_AND_SINK,
          c->in->path);
      break;
    case SOURCE_PLAYER:
      desc = g_strdup_printf ("filesrc location=\"%s\" ! wavparse ! identity sync=true ! "
          STT_AND_SINK, c->in->path);
      break;
    case SOURCE_LIVE:
      desc = g_strdup ("appsrc name=src is-live=true format=time ! " STT_AND_SINK);
      break;
  }
#undef STT_AND_SINK
  c->pipeline = gst_parse_launch (desc, &err);
  if (c->pipeline == NULL || err != NULL) {
    cell_fail (c, "cannot build the pipeline: %s", err ? err->message : "?");
    g_clear_error (&err);
    return FALSE;
  }
  c->stt = gst_bin_get_by_name (GST_BIN (c->pipeline), "stt");
  g_object_set (c->stt, "provider", c->provider, "url", url, NULL);
  stt_check_set_test_credentials (c->stt, c->provider);
  sink = gst_bin_get_by_name (GST_BIN (c->pipeline), "sink");
  stt_check_collect_cues (sink, &c->lock, c->cues);
  gst_object_unref (sink);
  if (k->source == SOURCE_LIVE) {
    GstElement *src = gst_bin_get_by_name (GST_BIN (c->pipeline), "src");
    GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, k->rate, k->channels);

    gst_app_src_set_caps (GST_APP_SRC (src), caps);
    gst_caps_unref (caps);
    gst_object_unref (src);
  }
  return TRUE;
}

static void
record_message (Cell * c, GstMessage * msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  GError *err = NULL;
  gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      c->eos = TRUE;
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &debug);
      c->error = g_strdup_printf ("%s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          err->message, debug ? debug : "");
      break;
    case GST_MESSAGE_WARNING:{
      Warning *w = g_new0 (Warning, 1);
      const GstStructure *details = NULL;

      gst_message_parse_warning (msg, &err, NULL);
      gst_message_parse_warning_details (msg, &details);
      w->text = g_strdup_printf ("%s: %s", GST_MESSAGE_SRC_NAME (msg), err->message);
      w->details = details ? gst_structure_copy (details) : NULL;
      g_ptr_array_add (c->warnings, w);
      break;
    }
    case GST_MESSAGE_ELEMENT:{
      gboolean final = FALSE;

      if (s && gst_structure_has_name (s, "stt-transcript")
          && gst_structure_get_boolean (s, "is-final", &final) && final)
        g_ptr_array_add (c->finals, gst_structure_copy (s));
      /* Popped as it comes (but while a "gone" cell waits for its first connection,
       * which is before any drop): the time is when the first connection was lost. */
      if (s && gst_structure_has_name (s, "stt-connection") && c->lost_at < 0
          && !g_strcmp0 (gst_structure_get_string (s, "state"), "reconnecting"))
        c->lost_at = (g_get_monotonic_time () - c->start) / (gdouble) G_USEC_PER_SEC;
      break;
    }
    default:
      break;
  }
  g_clear_error (&err);
  g_free (debug);
}

/* Plays the pipeline until EOS, ERROR or the cell's limit, then reads the stats and
 * stops it. */
static void
run_pipeline (Cell * c)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  gint64 deadline;

  c->start = g_get_monotonic_time ();
  deadline = c->start + CELL_LIMIT_S * G_USEC_PER_SEC;

  /* A failure to start is an ERROR on the bus, recorded below. */
  gst_element_set_state (c->pipeline, GST_STATE_PLAYING);
  if (c->in->kind->source == SOURCE_LIVE) {
    GstElement *src = gst_bin_get_by_name (GST_BIN (c->pipeline), "src");

    /* 20 ms buffers at the pace of real time, PTS from 0, then EOS. */
    c->feeder = stt_check_feeder_start (src, c->in->buffers, TRUE, 0);
    gst_object_unref (src);
  }
  if (c->fault->arm == ARM_GONE) {
    /* The first connection works; after its drop, every attempt is refused. */
    if (stt_test_server_wait_connections (c->server, 1, FALSE, CONNECT_WAIT_MS))
      stt_test_server_fail_handshakes (c->server, 503, G_MAXUINT, NULL);
    else
      cell_fail (c, "no connection within %d s", CONNECT_WAIT_MS / 1000);
  }
  while (!c->eos && c->error == NULL) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0)
      break;
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND, GST_MESSAGE_EOS |
        GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT);
    if (msg == NULL)
      break;
    record_message (c, msg);
    gst_message_unref (msg);
  }
  c->seconds = (g_get_monotonic_time () - c->start) / (gdouble) G_USEC_PER_SEC;
  g_object_get (c->stt, "stats", &c->stats, NULL);

  if (c->feeder)
    stt_check_feeder_stop (c->feeder);
  gst_element_set_state (c->pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
}

/* --- checking a cell ------------------------------------------------------------------ */

/* A word as received: bare text, and where it came from. */
typedef struct
{
  gchar *text;
  /* bus: the word's start (without word times: its final's PTS); text buffers: the
   * cue's PTS */
  GstClockTime start;
  guint cue;                    /* text buffers: the index of its cue; bus: of its final */
} Word;

static void
word_clear (Word * w)
{
  g_free (w->text);
}

static GArray *
words_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (Word));

  g_array_set_clear_func (a, (GDestroyNotify) word_clear);
  return a;
}

/* The words of the finals on the bus, in order: their `words`, or, from a provider
 * without word times, their text. */
static GArray *
bus_words (Cell * c)
{
  GArray *out = words_new ();
  guint i, k;

  for (i = 0; i < c->finals->len; i++) {
    const GstStructure *f = g_ptr_array_index (c->finals, i);
    const GValue *words = gst_structure_get_value (f, "words");

    if (!has_word_times (c->provider)) {
      g_auto (GStrv) parts = g_strsplit (gst_structure_get_string (f, "text"), " ", -1);

      for (k = 0; parts[k]; k++) {
        Word w = { stt_check_bare_word (parts[k]), GST_CLOCK_TIME_NONE, i };

        gst_structure_get_clock_time (f, "pts", &w.start);
        if (*w.text)
          g_array_append_val (out, w);
        else
          g_free (w.text);
      }
      continue;
    }
    for (k = 0; words && k < gst_value_array_get_size (words); k++) {
      const GstStructure *s =
          gst_value_get_structure (gst_value_array_get_value (words, k));
      Word w = { stt_check_bare_word (gst_structure_get_string (s, "text")),
        GST_CLOCK_TIME_NONE, i
      };

      gst_structure_get_clock_time (s, "start", &w.start);
      g_array_append_val (out, w);
    }
  }
  return out;
}

/* The words of the text buffers, in order. */
static GArray *
cue_words (Cell * c)
{
  GArray *out = words_new ();
  guint i, k;

  for (i = 0; i < c->cues->len; i++) {
    const SttCheckCue *cue = &g_array_index (c->cues, SttCheckCue, i);
    g_auto (GStrv) parts = g_strsplit_set (cue->text, " \n", -1);

    for (k = 0; parts[k]; k++) {
      Word w = { stt_check_bare_word (parts[k]), cue->pts, i };

      if (*w.text)
        g_array_append_val (out, w);
      else
        g_free (w.text);
    }
  }
  return out;
}

/* Aligns @got with the first @n_want words of the input (longest common subsequence):
 * for each word got, the index of the input word it is, or -1 (extra). */
static gint *
align (GArray * got, gchar ** want, guint n_want)
{
  guint n = got->len, m = n_want, i, j;
  guint *len = g_new0 (guint, (n + 1) * (m + 1));
  gint *match = g_new (gint, MAX (n, 1));

#define LEN(i, j) len[(i) * (m + 1) + (j)]
  for (i = n; i-- > 0;) {
    for (j = m; j-- > 0;) {
      if (g_str_equal (g_array_index (got, Word, i).text, want[j]))
        LEN (i, j) = LEN (i + 1, j + 1) + 1;
      else
        LEN (i, j) = MAX (LEN (i + 1, j), LEN (i, j + 1));
    }
  }
  for (i = 0, j = 0; i < n;) {
    /* Equal words are always part of a longest common subsequence. */
    if (j < m && g_str_equal (g_array_index (got, Word, i).text, want[j])) {
      match[i++] = j++;
    } else if (j < m && LEN (i, j + 1) >= LEN (i + 1, j)) {
      j++;
    } else {
      match[i++] = -1;
    }
  }
#undef LEN
  g_free (len);
  return match;
}

/* A list in a failure message that names at most MAX_LISTED items. */
static void
list_add (GString * s, guint * n, const gchar * format, ...) G_GNUC_PRINTF (3, 4);

static void
list_add (GString * s, guint * n, const gchar * format, ...)
{
  va_list args;

  if ((*n)++ >= MAX_LISTED)
    return;
  if (s->len)
    g_string_append (s, ", ");
  va_start (args, format);
  g_string_append_vprintf (s, format, args);
  va_end (args);
}

static gchar *
list_end (GString * s, guint n)
{
  if (n > MAX_LISTED)
    g_string_append_printf (s, " and %u more", n - MAX_LISTED);
  return g_string_free (s, FALSE);
}

/* Every word once and in order: names the input words missing and the words too many. */
static void
check_sequence (Cell * c, const gchar * what, GArray * got, const gint * match,
    guint n_want)
{
  const SttTone *tones = c->in->tones;
  gboolean *found = g_new0 (gboolean, MAX (n_want, 1));
  GString *missing = g_string_new (NULL), *extra = g_string_new (NULL);
  guint n_missing = 0, n_extra = 0, i;

  for (i = 0; i < got->len; i++) {
    const Word *w = &g_array_index (got, Word, i);

    if (match[i] >= 0)
      found[match[i]] = TRUE;
    else
      list_add (extra, &n_extra, "%s at %.2f s", w->text, secs (w->start));
  }
  for (i = 0; i < n_want; i++) {
    if (!found[i])
      list_add (missing, &n_missing, "%s at %.2f s", c->in->words[i], tones[i].start);
  }
  if (n_missing || n_extra) {
    g_autofree gchar *m = list_end (missing, n_missing), *e = list_end (extra, n_extra);

    cell_fail (c, "%s: %u words for %u; missing: %s; extra: %s", what, got->len, n_want,
        n_missing ? m : "none", n_extra ? e : "none");
  } else {
    g_string_free (missing, TRUE);
    g_string_free (extra, TRUE);
  }
  g_free (found);
}

/* |@got - @want| <= @tolerance, both valid. */
static gboolean
near (GstClockTime got, GstClockTime want, GstClockTime tolerance)
{
  return GST_CLOCK_TIME_IS_VALID (got) && GST_CLOCK_TIME_IS_VALID (want)
      && (GstClockTime) ABS (GST_CLOCK_DIFF (got, want)) <= tolerance;
}

/* The most silence after which a protocol's test server closes a segment: ElevenLabs'
 * VAD waits the vad_silence_threshold_secs the client sends (1.5 s, see
 * sttprovider-elevenlabs.c), Vosk's endpoint and OpenAI's server VAD (the
 * silence_duration_ms the client sends) 0.5 s, Speechmatics makes a word final
 * max_delay after it (2 s, what the element sends) on a 250 ms grid, the others 0.4 s
 * or less. */
static gdouble
segment_silence (const gchar * provider)
{
  if (g_str_equal (provider, "elevenlabs"))
    return 1.5;
  if (g_str_equal (provider, "speechmatics"))
    return 2.25;
  if (g_str_equal (provider, "vosk") || g_str_equal (provider, "openai"))
    return 0.5;
  return 0.4;
}

/* How much later than its last word's end a segment may end: without word times a
 * segment ends where the service closed it, its VAD's end of speech or, for the audio a
 * commit closed (the end of stream), where the audio ended, at most the VAD's closing
 * silence after the last word. 0 where words carry their times. */
static GstClockTime
end_slack (const gchar * provider)
{
  return has_word_times (provider) ? 0 : at (segment_silence (provider));
}

/* @end is within TOLERANCE before and TOLERANCE + end_slack() after @want. */
static gboolean
near_end (Cell * c, GstClockTime end, GstClockTime want)
{
  return GST_CLOCK_TIME_IS_VALID (end) && end + TOLERANCE >= want
      && end <= want + TOLERANCE + end_slack (c->provider);
}

/* Without word times, each final (@first to @last of @got, all of final @k) starts within
 * TOLERANCE of its first word's tone and ends as near_end() says of its last word's. */
static void
check_segment_times (Cell * c, GArray * got, const gint * match, guint first, guint last,
    GString * late, guint * n_late)
{
  const GstStructure *f = g_ptr_array_index (c->finals,
      g_array_index (got, Word, first).cue);
  GstClockTime pts = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;

  gst_structure_get_clock_time (f, "pts", &pts);
  gst_structure_get_clock_time (f, "duration", &duration);
  if (match[first] >= 0 && !near (pts, at (c->in->tones[match[first]].start), TOLERANCE))
    list_add (late, n_late, "'%s' at %.3f s, its first word at %.3f s",
        gst_structure_get_string (f, "text"), secs (pts),
        c->in->tones[match[first]].start);
  if (match[last] >= 0 && !near_end (c, pts + duration, at (c->in->tones[match[last]].end)))
    list_add (late, n_late, "'%s' ends at %.3f s, its last word at %.3f s",
        gst_structure_get_string (f, "text"), secs (pts + duration),
        c->in->tones[match[last]].end);
}

/* The finals' words on the bus: the input's first @n_want words, each starting within
 * TOLERANCE of its tone (without word times: each final, see check_segment_times()). */
static void
check_bus_words (Cell * c, guint n_want)
{
  GArray *got = bus_words (c);
  gint *match = align (got, c->in->words, n_want);
  GString *late = g_string_new (NULL);
  guint n_late = 0, i, first = 0;

  c->got_words = got->len;
  check_sequence (c, "words on the bus", got, match, n_want);
  for (i = 0; i < got->len; i++) {
    const Word *w = &g_array_index (got, Word, i);

    if (!has_word_times (c->provider)) {
      if (i + 1 == got->len || g_array_index (got, Word, i + 1).cue != w->cue) {
        check_segment_times (c, got, match, first, i, late, &n_late);
        first = i + 1;
      }
      continue;
    }
    if (match[i] >= 0 && !near (w->start, at (c->in->tones[match[i]].start), TOLERANCE))
      list_add (late, &n_late, "%s at %.3f s for %.3f s", w->text, secs (w->start),
          c->in->tones[match[i]].start);
  }
  if (n_late) {
    g_autofree gchar *l = list_end (late, n_late);
    cell_fail (c, "word starts on the bus off by more than %u ms: %s",
        (guint) (TOLERANCE / GST_MSECOND), l);
  } else {
    g_string_free (late, TRUE);
  }
  g_free (match);
  g_array_unref (got);
}

/* The shape of a text buffer at the default settings: live input gets one word per
 * buffer; other input caption cues of at most 2 lines of 42 characters (a longer single
 * word alone on its line) and 7 s. Returns what is wrong, or NULL. */
static gchar *
cue_shape_error (Cell * c, const SttCheckCue * cue)
{
  g_auto (GStrv) lines = g_strsplit (cue->text, "\n", -1);
  guint i, n = g_strv_length (lines);

  if (c->in->kind->source == SOURCE_LIVE) {
    /* Without word times a final cannot be cut into words: one buffer per final. */
    if (n != 1 || (strchr (cue->text, ' ') != NULL && has_word_times (c->provider)))
      return g_strdup_printf ("'%s' is not one word (live input: word output)", cue->text);
    return NULL;
  }
  if (n > 2)
    return g_strdup_printf ("'%s' has %u lines", cue->text, n);
  for (i = 0; i < n; i++)
    if (g_utf8_strlen (lines[i], -1) > 42 && strchr (lines[i], ' ') != NULL)
      return g_strdup_printf ("'%s' has a line longer than 42 characters", cue->text);
  if (cue->duration > 7 * GST_SECOND)
    return g_strdup_printf ("'%s' lasts %.3f s", cue->text, secs (cue->duration));
  return NULL;
}

/* The text buffers: their words are the input's first @n_want words; each starts within
 * TOLERANCE of its first word's tone and ends within TOLERANCE of its last word's (as
 * near_end() says without word times); PTS increase; all inside the input [0, D]; shaped
 * as cue_shape_error() says. */
static void
check_cues (Cell * c, guint n_want)
{
  const SttTone *tones = c->in->tones;
  GstClockTime end_of_input = at (c->in->kind->duration), prev = GST_CLOCK_TIME_NONE;
  GArray *got = cue_words (c);
  gint *match = align (got, c->in->words, n_want);
  gint *first = g_new (gint, MAX (c->cues->len, 1));
  gint *last = g_new (gint, MAX (c->cues->len, 1));
  GString *bad = g_string_new (NULL);
  guint n_bad = 0, i;

  check_sequence (c, "words in the text buffers", got, match, n_want);
  /* The input word each cue's first and last words are (-1: not an input word). */
  for (i = 0; i < c->cues->len; i++)
    first[i] = last[i] = G_MININT;
  for (i = 0; i < got->len; i++) {
    guint k = g_array_index (got, Word, i).cue;

    if (first[k] == G_MININT)
      first[k] = match[i];
    last[k] = match[i];
  }

  for (i = 0; i < c->cues->len; i++) {
    const SttCheckCue *cue = &g_array_index (c->cues, SttCheckCue, i);
    GstClockTime end = cue->pts + cue->duration;

    if (!GST_CLOCK_TIME_IS_VALID (cue->pts) || !GST_CLOCK_TIME_IS_VALID (cue->duration)) {
      list_add (bad, &n_bad, "'%s' without PTS or DURATION", cue->text);
      continue;
    }
    {
      g_autofree gchar *shape = cue_shape_error (c, cue);

      if (shape)
        list_add (bad, &n_bad, "%s", shape);
    }
    if (GST_CLOCK_TIME_IS_VALID (prev) && cue->pts <= prev)
      list_add (bad, &n_bad, "'%s' at %.3f s after one at %.3f s", cue->text,
          secs (cue->pts), secs (prev));
    prev = cue->pts;
    if (end > end_of_input)
      list_add (bad, &n_bad, "'%s' ends at %.3f s, after the input", cue->text,
          secs (end));
    if (first[i] == G_MININT)
      list_add (bad, &n_bad, "an empty one at %.3f s", secs (cue->pts));
    if (first[i] >= 0 && !near (cue->pts, at (tones[first[i]].start), TOLERANCE))
      list_add (bad, &n_bad, "'%s' at %.3f s, its first word at %.3f s", cue->text,
          secs (cue->pts), tones[first[i]].start);
    if (last[i] >= 0 && !near_end (c, end, at (tones[last[i]].end)))
      list_add (bad, &n_bad, "'%s' ends at %.3f s, its last word at %.3f s", cue->text,
          secs (end), tones[last[i]].end);
  }
  if (n_bad) {
    g_autofree gchar *b = list_end (bad, n_bad);
    cell_fail (c, "text buffers: %s", b);
  } else {
    g_string_free (bad, TRUE);
  }
  g_free (first);
  g_free (last);
  g_free (match);
  g_array_unref (got);
}

/* The stats' audio-untranscribed, or GST_CLOCK_TIME_NONE (a failure) if absent. */
static GstClockTime
stats_untranscribed (Cell * c)
{
  GstClockTime t = GST_CLOCK_TIME_NONE;

  if (c->stats == NULL
      || !gst_structure_get_clock_time (c->stats, "audio-untranscribed", &t)) {
    cell_fail (c, "the stats have no audio-untranscribed");
    return GST_CLOCK_TIME_NONE;
  }
  return t;
}

/* A fault the engine must ride out: EOS, no ERROR, no WARNING, nothing untranscribed. */
static void
check_clean_end (Cell * c)
{
  GString *ws = g_string_new (NULL);
  guint n_ws = 0, i;
  GstClockTime untranscribed;

  if (c->error)
    cell_fail (c, "ERROR %s", c->error);
  else if (!c->eos)
    cell_fail (c, "no EOS within %d s", CELL_LIMIT_S);
  for (i = 0; i < c->warnings->len; i++)
    list_add (ws, &n_ws, "'%s'", ((Warning *) g_ptr_array_index (c->warnings, i))->text);
  if (n_ws) {
    g_autofree gchar *w = list_end (ws, n_ws);
    cell_fail (c, "%u WARNING: %s", n_ws, w);
  } else {
    g_string_free (ws, TRUE);
  }
  untranscribed = stats_untranscribed (c);
  if (GST_CLOCK_TIME_IS_VALID (untranscribed) && untranscribed != 0)
    cell_fail (c, "stats: audio-untranscribed %.3f s", secs (untranscribed));
}



/* The earliest start of the untranscribed stretch a correct engine may report when the
 * connection was lost at @drop seconds of audio: every segment whose closing silence had
 * been heard (and its final had time to arrive) is final. GONE_FROM_SLACK before the drop
 * for the short segments of most protocols; ElevenLabs' VAD commits only every 8 words
 * here, so up to the last such commit. */
static gdouble
lowest_from (Cell * c, gdouble drop)
{
  const SttTone *t = c->in->tones;
  gdouble silence = segment_silence (c->provider), low = 0;
  guint i;

  for (i = 0; i < c->in->n_tones && t[i].end + silence + DELIVERY_MARGIN <= drop; i++) {
    if (i + 1 == c->in->n_tones || t[i + 1].start - t[i].end > silence)
      low = t[i].end;
  }
  return MIN (drop - GONE_FROM_SLACK, low);
}

/* The service never came back: the element gave up within GONE_LIMIT_S, with a warning
 * naming the stretch not transcribed. Returns how many input words must have come (those
 * before that stretch), or -1 if it cannot be told. */
static gint
check_gone (Cell * c)
{
  const Kind *k = c->in->kind;
  gdouble drop = c->fault->fraction * k->duration;
  GstClockTime from = 0, to = 0, untranscribed = 0, counted;
  gint gave_up = -1;            /* the index of the warning that gave up */
  guint i, n_want = 0;

  if (!c->eos && c->error == NULL)
    cell_fail (c, "no end within %d s", CELL_LIMIT_S);
  else if (c->seconds > GONE_LIMIT_S)
    cell_fail (c, "ended after %.0f s (limit %d s)", c->seconds, GONE_LIMIT_S);
  if (k->gone_errors && c->error == NULL)
    cell_fail (c, "no ERROR though the input was not all read");
  if (!k->gone_errors && c->error)
    cell_fail (c, "ERROR %s (the input had ended: EOS expected)", c->error);

  /* The last warning that names an untranscribed stretch. */
  for (i = 0; i < c->warnings->len; i++) {
    const GstStructure *d = ((Warning *) g_ptr_array_index (c->warnings, i))->details;
    GstClockTime u, f, t;

    if (d && gst_structure_get_clock_time (d, "untranscribed", &u)
        && gst_structure_get_clock_time (d, "from", &f)
        && gst_structure_get_clock_time (d, "to", &t)) {
      gave_up = i;
      untranscribed = u;
      from = f;
      to = t;
    }
  }
  counted = stats_untranscribed (c);
  if (gave_up < 0) {
    cell_fail (c, "no WARNING with untranscribed, from and to (%u WARNING)",
        c->warnings->len);
    return -1;
  }
  if (gave_up == 0)
    cell_fail (c, "no WARNING that the service is unreachable before giving up");
  if (from > at (drop))
    cell_fail (c, "untranscribed from %.3f s, after the drop at %.1f s", secs (from),
        drop);
  /* A file sent faster than real time reaches the drop a moment after its start, with
   * the finals of the last seconds still on their way: TCP loses them with the
   * connection (the server's socket is shut down under the client's unread data). Only
   * audio that came at about real-time pace gave them time to arrive; else the words
   * check below ties `from` to the finals that did. */
  if (c->lost_at >= drop / 2 && from < at (lowest_from (c, drop)))
    cell_fail (c, "untranscribed from %.3f s, not in [%.2f, %.1f] s", secs (from),
        lowest_from (c, drop), drop);
  if (stt_test_server_get_n_connections (c->server) > 1)
    cell_fail (c, "the test raced: a reconnection came in before the handshakes were "
        "refused");
  if (to < from || !near (untranscribed, to - from, TOLERANCE))
    cell_fail (c, "untranscribed %.3f s for %.3f to %.3f s", secs (untranscribed),
        secs (from), secs (to));
  if (GST_CLOCK_TIME_IS_VALID (counted) && !near (counted, untranscribed, TOLERANCE))
    cell_fail (c, "stats: audio-untranscribed %.3f s, the WARNING says %.3f s",
        secs (counted), secs (untranscribed));
  if (!k->gone_errors && !near (to, at (k->duration), END_TOLERANCE))
    cell_fail (c, "untranscribed to %.3f s, not the end %.1f s", secs (to), k->duration);

  while (n_want < c->in->n_tones && at (c->in->tones[n_want].start) < from)
    n_want++;
  return n_want;
}

static void
check_cell (Cell * c)
{
  gint n_want = c->in->n_tones;

  if (c->fault->arm == ARM_GONE)
    n_want = check_gone (c);
  else
    check_clean_end (c);
  if (n_want < 0) {
    /* Which words should be there is unknown: count what came. */
    GArray *got = bus_words (c);
    c->got_words = got->len;
    g_array_unref (got);
    return;
  }
  c->want_words = n_want;
  check_bus_words (c, n_want);
  check_cues (c, n_want);
}

static gpointer
cell_run (gpointer data)
{
  Cell *c = data;
  GError *err = NULL;

  c->want_words = c->in->n_tones;
  c->server = stt_test_server_new (c->provider, &err);
  if (c->server == NULL) {
    cell_fail (c, "no test server: %s", err ? err->message : "unknown protocol");
    g_clear_error (&err);
    return NULL;
  }
  arm_fault (c);
  if (build_pipeline (c)) {
    run_pipeline (c);
    check_cell (c);
  }
  /* The pipeline is stopped before the server goes: its 1001 would be a fault. */
  gst_clear_object (&c->stt);
  gst_clear_object (&c->pipeline);
  stt_test_server_free (c->server);
  return NULL;
}

/* --- the matrix ----------------------------------------------------------------------- */

/* The names in the comma list @env_var, or NULL for all. Fails on an unknown name. */
static gchar **
selection (const gchar * env_var, const gchar * const *known)
{
  const gchar *value = g_getenv (env_var);
  gchar **names;
  guint i;

  if (value == NULL || *value == '\0')
    return NULL;
  names = g_strsplit (value, ",", -1);
  for (i = 0; names[i]; i++) {
    g_strstrip (names[i]);
    fail_unless (g_strv_contains (known, names[i]), "%s: unknown name '%s'", env_var,
        names[i]);
  }
  return names;
}

static const Kind *
selected_kind (void)
{
  const gchar *name = g_getenv ("STT_MATRIX_INPUT");
  guint i;

  if (name == NULL || *name == '\0') {
    g_print ("STT_MATRIX_INPUT not set: file45\n");
    name = "file45";
  }
  for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
    if (g_str_equal (kinds[i].name, name))
      return &kinds[i];
  }
  fail ("STT_MATRIX_INPUT: unknown input '%s' (file90, file45, live30, player30)", name);
  return NULL;
}

/* The cells of @in: every selected provider x every selected fault that applies. */
static GPtrArray *
make_cells (const Input * in)
{
  GPtrArray *cells = g_ptr_array_new_with_free_func ((GDestroyNotify) cell_free);
  const gchar *fault_names[G_N_ELEMENTS (faults) + 1] = { NULL, };
  g_auto (GStrv) want_providers = NULL, want_faults = NULL;
  guint p, f;

  for (f = 0; f < G_N_ELEMENTS (faults); f++)
    fault_names[f] = faults[f].name;
  want_providers = selection ("STT_MATRIX_PROVIDERS", providers);
  want_faults = selection ("STT_MATRIX_FAULTS", fault_names);
  for (p = 0; providers[p]; p++) {
    if (want_providers && !g_strv_contains ((const gchar * const *) want_providers,
            providers[p]))
      continue;
    for (f = 0; f < G_N_ELEMENTS (faults); f++) {
      if (want_faults && !g_strv_contains ((const gchar * const *) want_faults,
              faults[f].name))
        continue;
      /* A player is only checked against the commonest faults. */
      if (in->kind->source == SOURCE_PLAYER && !faults[f].player)
        continue;
      g_ptr_array_add (cells, cell_new (in, providers[p], &faults[f]));
    }
  }
  return cells;
}

GST_START_TEST (test_matrix)
{
  const Kind *kind = selected_kind ();
  Input *in = input_new (kind);
  GPtrArray *cells = make_cells (in);
  GString *report = g_string_new (NULL);
  gint64 start = g_get_monotonic_time ();
  guint i, k, n_failed = 0, n_cells = cells->len;

  if (cells->len == 0) {
    input_free (in);
    fail ("no cell selected");
  }
  g_print ("matrix %s: %u cells, %u words in %.0f s of input\n", kind->name, cells->len,
      in->n_tones, kind->duration);
  for (i = 0; i < cells->len; i++) {
    Cell *c = g_ptr_array_index (cells, i);
    g_autofree gchar *name = g_strdup_printf ("%s-%s", c->provider, c->fault->name);

    c->thread = g_thread_new (name, cell_run, c);
  }
  for (i = 0; i < cells->len; i++) {
    Cell *c = g_ptr_array_index (cells, i);

    g_thread_join (c->thread);
    c->thread = NULL;
  }

  g_print ("%-11s %-14s %-9s %-5s %8s %9s\n", "provider", "fault", "input", "", "time",
      "words");
  for (i = 0; i < cells->len; i++) {
    Cell *c = g_ptr_array_index (cells, i);
    gboolean ok = c->failures->len == 0;

    g_print ("%-11s %-14s %-9s %-5s %6.1f s %4u/%-4u\n", c->provider, c->fault->name,
        kind->name, ok ? "pass" : "FAIL", c->seconds, c->got_words, c->want_words);
    if (ok)
      continue;
    n_failed++;
    g_string_append_printf (report, "\n%s/%s/%s:", c->provider, c->fault->name,
        kind->name);
    for (k = 0; k < c->failures->len; k++)
      g_string_append_printf (report, "\n    %s",
          (gchar *) g_ptr_array_index (c->failures, k));
  }
  g_print ("matrix %s: %u of %u cells passed, %.0f s\n", kind->name,
      cells->len - n_failed, cells->len,
      (g_get_monotonic_time () - start) / (gdouble) G_USEC_PER_SEC);
  fflush (stdout);

  /* Cleaned up first: a failure ends the test here. */
  g_ptr_array_unref (cells);
  input_free (in);
  fail_unless (n_failed == 0, "%u of %u cells failed:%s", n_failed, n_cells,
      report->str);
  g_string_free (report, TRUE);
}

GST_END_TEST;

static Suite *
matrix_suite (void)
{
  Suite *s = suite_create ("matrix");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  /* Every cell ends within CELL_LIMIT_S; the cells run at once. */
  tcase_set_timeout (tc, CELL_LIMIT_S + 100);
  tcase_add_test (tc, test_matrix);
  return s;
}

GST_CHECK_MAIN (matrix);
