/* stt-local-server: an offline speech recognizer that speaks the
 * vosk-server WebSocket protocol, backed by pocketsphinx.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Protocol (what alphacep/vosk-server does, see docs/providers "Vosk server"):
 *   - WebSocket on any path, no auth.
 *   - optional first text message {"config" : {"sample_rate" : R, "words" : 1}};
 *     no reply.
 *   - binary messages: S16LE mono PCM at R Hz (default 16000).
 *   - every other message gets exactly one JSON text reply:
 *     {"partial":"..."} while an utterance is open, {"result":[...],"text":"..."}
 *     once an endpoint is reached, {"text":""} for an endpoint with no words.
 *   - text exactly {"eof" : 1}: final result, then close 1000.
 *   - text exactly {"reset" : 1}: final result, the session goes on.
 *   - GET /health: counters as JSON.
 *
 * Limits (it is a network service; vosk-server itself has none):
 *   - A request that carries an Origin header (a web page) gets 403 unless
 *     --allow-origin names that origin. Programs send no Origin.
 *   - At most --max-clients WebSocket clients (default twice the number of
 *     cores). One more is refused before the upgrade with 503 and
 *     Retry-After: 1: a vosk client fails at connect time, before it sends
 *     any audio, and the gst-stt client retries. (A client let in by a race
 *     of simultaneous handshakes is closed with 1001 instead: libsoup cannot
 *     send 1013.)
 *   - A message (a frame, or all the fragments of one) may carry 1 MiB; a
 *     bigger one closes the connection with 1009 (stt-local-guard.c drops it
 *     before libsoup would buffer it).
 *   - Queued input (audio received but not yet decoded, and messages not yet
 *     answered) is bounded at 1 MiB per client by backpressure: the server
 *     stops reading that client until the queue is half empty, as vosk-server
 *     does by reading one message at a time. TCP slows the client down; no
 *     audio is dropped. A client that does not read its replies is not read
 *     either. A client that leaves stops its decoding at once.
 *   - A client that sends nothing, and is owed nothing, for --idle-timeout
 *     seconds (default 60) is closed with 1001. A connection that has not
 *     completed its WebSocket handshake within 10 s is dropped.
 *   - Running out of file descriptors does not stop the server: clients are
 *     answered 503 until some leave (stt-local-listener.c).
 *   - permessage-deflate is off: a small compressed frame could inflate to
 *     gigabytes.
 *   - JSON text is checked before json-glib parses it (sttjson.c): json-glib
 *     recurses once per nesting level.
 *
 * Threads:
 *   - The main thread runs the GMainLoop that owns the SoupServer and every
 *     SoupWebsocketConnection: libsoup objects are only touched there.
 *   - Each connection is a Session with an inbox of jobs filled by the main
 *     thread. A GThreadPool runs them. A session sits in the pool queue at
 *     most once, so its jobs run in order and its pocketsphinx decoder (not
 *     thread-safe) is used by one thread at a time. A session gives its
 *     thread back after a few jobs so a client sending faster than real time
 *     cannot starve the others.
 *   - Replies go to the session's outbox; an idle source on the main context
 *     sends them, in order. The last outbox entry of a session ("done") tells
 *     the main thread the worker side is finished with it.
 *   - ps_init() costs 0.4-1 s of CPU and about 90 MB, and pocketsphinx cannot
 *     share a loaded model between decoders, so decoders are loaded ahead of
 *     the clients by a loader thread (stt-local-decoders.c): --pool of them
 *     at start-up, one before the "listening" line (which also checks the
 *     model), and one spare beyond those in use, up to --max-clients. A
 *     session takes one at its first audio; when none is loaded yet it is
 *     parked, without holding a thread, until one is.
 *
 * Recognition:
 *   - Client audio at another rate is resampled to 16 kHz (GstAudioConverter)
 *     because the en-us model is a 16 kHz model.
 *   - Endpoints come from pocketsphinx's own VAD (-remove_silence yes): audio
 *     is fed in 20 ms slices and an utterance ends when ps_get_in_speech()
 *     drops after speech (after -vad_postspeech frames of silence).
 *   - Word times come from ps_seg_frames(), which counts 10 ms frames from
 *     ps_start_stream() (called once per connection), silence included.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <gst/audio/audio.h>

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>

#include "sttjson.h"
#include "stt-local-decoders.h"
#include "stt-local-guard.h"
#include "stt-local-listener.h"

#ifndef STT_DEFAULT_MODEL_DIR
#define STT_DEFAULT_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
#endif
#ifndef VERSION
#define VERSION "dev"
#endif

#define PROGRAM "stt-local-server"

#define DEFAULT_PORT 2700
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_POOL 2
#define DEFAULT_IDLE_TIMEOUT 60

/* The en-us acoustic model is trained on 16 kHz audio. */
#define MODEL_RATE 16000
#define FRAMES_PER_SECOND 100.0
/* Feeding 20 ms at a time keeps each VAD transition (it needs >= 10 frames
 * to flip) inside one slice, so an endpoint ends the right utterance. */
#define SLICE_SAMPLES 320
#define MIN_CLIENT_RATE 4000
#define MAX_CLIENT_RATE 192000
#define JOBS_PER_TURN 4
#define SHUTDOWN_GRACE_MS 3000
/* vosk clients send 0.1-0.5 s of audio per message (3-16 KB at 16 kHz). */
#define MAX_MESSAGE_SIZE (1024 * 1024)
/* Queued input per client before the server stops reading it: 32 s of 16 kHz
 * audio, 11 s at 48 kHz. Each job counts JOB_COST on top of its audio, so a
 * flood of small text messages is bounded too. */
#define MAX_QUEUED (1024 * 1024)
#define JOB_COST 256
/* Seconds for a connection to complete its WebSocket handshake. */
#define HANDSHAKE_TIMEOUT 10

/* vosk compares these byte for byte; spacing matters. */
static const char EOF_MESSAGE[] = "{\"eof\" : 1}";
static const char RESET_MESSAGE[] = "{\"reset\" : 1}";

typedef struct
{
  gchar *host;
  gint port;
  gchar *model_dir;
  gchar *hmm;
  gchar *lm;
  gchar *dict;
  gchar **ps_args;              /* "-name", "value" pairs, NULL-terminated */
  gint pool_size;
  gint max_clients;
  gint idle_timeout;            /* seconds, 0 for none */
  gchar **allow_origins;
  gboolean quiet;
  gboolean verbose;
} Options;

typedef struct
{
  Options opts;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *soup;
  SttListener *listener;
  SttDecoders *decoders;
  GThreadPool *workers;
  gint exit_code;

  /* main thread only */
  GList *sessions;              /* Session*, until their worker side is done */
  guint n_sessions;             /* length of sessions: what --max-clients bounds */
  guint next_id;
  guint active_connections;
  guint total_connections;
  guint refused_busy;           /* 503 (or 1001) for --max-clients */
  gboolean full;                /* at --max-clients since the last refusal logged */
  gdouble audio_seconds;
  gboolean shutting_down;
  guint grace_id;
} Server;

typedef enum
{
  JOB_AUDIO,
  JOB_CONFIG,
  JOB_TEXT,
  JOB_EOF,
  JOB_RESET,
  JOB_FINISH,
} JobKind;

typedef struct
{
  JobKind kind;
  GBytes *audio;
  gint rate;
  gboolean words;
} Job;

typedef enum
{
  REPLY_TEXT,
  REPLY_CLOSE,
  REPLY_RESUME,                 /* the inbox has room again: read the client */
  REPLY_DONE,
} ReplyKind;

typedef struct
{
  ReplyKind kind;
  gchar *text;                  /* message, or close reason */
  gushort code;
} Reply;

typedef struct
{
  gdouble start;
  gdouble end;
  gdouble conf;
  gchar *word;
} Word;

/* Client audio at another rate, converted to MODEL_RATE by GStreamer's audio
 * converter (its resampler keeps the filter state across messages). */
typedef struct
{
  gint in_rate;
  GstAudioConverter *conv;      /* NULL at MODEL_RATE */
} Resampler;

typedef struct
{
  gatomicrefcount ref;
  Server *server;
  guint id;

  /* main thread only */
  SoupWebsocketConnection *conn;
  SttGuardStream *guard;
  gchar *peer;
  gint rate;                    /* for audio_seconds */
  gboolean got_audio;
  gboolean got_eof;
  gboolean finishing;
  gint64 last_sent;             /* monotonic time of the last reply */
  GSource *idle_timer;

  GMutex lock;                  /* protects the fields down to flush_pending */
  GQueue inbox;                 /* Job* */
  gint64 queued;                /* cost of the jobs not yet done (job_cost()) */
  gboolean held;                /* the client is not read until queued drops */
  gboolean scheduled;           /* in the pool's queue, running, or parked */
  GQueue outbox;                /* Reply* */
  gboolean flush_pending;

  gint cancelled;               /* atomic: the client is gone, stop decoding */

  /* worker side: only the thread currently running the session */
  SttDecoder *dec;              /* set by session_decoder_ready() while parked */
  gboolean no_decoder;          /* the decoder it waited for failed to load */
  gboolean failed;
  gboolean in_utt;
  gboolean speech_seen;
  gboolean words;
  Resampler rs;
  gboolean have_carry;
  guint8 carry;
  guint64 samples_in;           /* 16 kHz samples fed */
  gint64 decode_us;
} Session;

static void
log_info (Server * server, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

static void
log_info (Server * server, const gchar * format, ...)
{
  g_autofree gchar *text = NULL;
  va_list args;

  if (server->opts.quiet)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr (PROGRAM ": %s\n", text);
}

/* ---------- JSON ---------- */

static gchar *
json_partial (const gchar * text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "partial");
  json_builder_add_string_value (b, text ? text : "");
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

/* Words in @words make one result; an empty array gives {"text":""}. */
static gchar *
json_result (GArray * words, gboolean with_words)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GString) text = g_string_new (NULL);
  guint i;

  json_builder_begin_object (b);
  if (with_words && words->len > 0) {
    json_builder_set_member_name (b, "result");
    json_builder_begin_array (b);
    for (i = 0; i < words->len; i++) {
      Word *w = &g_array_index (words, Word, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "conf");
      json_builder_add_double_value (b, w->conf);
      json_builder_set_member_name (b, "end");
      json_builder_add_double_value (b, w->end);
      json_builder_set_member_name (b, "start");
      json_builder_add_double_value (b, w->start);
      json_builder_set_member_name (b, "word");
      json_builder_add_string_value (b, w->word);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
  }
  for (i = 0; i < words->len; i++) {
    if (i > 0)
      g_string_append_c (text, ' ');
    g_string_append (text, g_array_index (words, Word, i).word);
  }
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text->str);
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

static gint64 session_get_queued (gpointer s);

static gchar *
json_health (Server * server)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gint64 queued = 0;
  guint loaded, loads;
  GList *l;

  for (l = server->sessions; l; l = l->next)
    queued += session_get_queued (l->data);
  stt_decoders_get_counts (server->decoders, &loaded, &loads);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "ok");
  json_builder_set_member_name (b, "active_connections");
  json_builder_add_int_value (b, server->active_connections);
  json_builder_set_member_name (b, "total_connections");
  json_builder_add_int_value (b, server->total_connections);
  json_builder_set_member_name (b, "audio_seconds");
  json_builder_add_double_value (b,
      round (server->audio_seconds * 1000.0) / 1000.0);
  json_builder_set_member_name (b, "max_clients");
  json_builder_add_int_value (b, server->opts.max_clients);
  json_builder_set_member_name (b, "refused_connections");
  json_builder_add_int_value (b, server->refused_busy +
      (server->listener ? stt_listener_get_refused (server->listener) : 0));
  json_builder_set_member_name (b, "queued_bytes");
  json_builder_add_int_value (b, queued);
  json_builder_set_member_name (b, "decoders");
  json_builder_add_int_value (b, loaded);
  json_builder_set_member_name (b, "decoder_loads");
  json_builder_add_int_value (b, loads);
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

/* Parses a vosk config message. Returns FALSE with @error if it is not one
 * we can honour; fields that are absent keep their current value. */
static gboolean
parse_config (const gchar * data, gsize size, gint * rate, gboolean * words,
    GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *root;
  JsonObject *config;
  JsonNode *node;

  /* Checked before json-glib sees it: its parser recurses once per nesting
   * level, so "[[[[..." 100 000 deep would overflow the stack. */
  root = stt_json_parse_object (data, size, &parser);
  if (!root) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "not a JSON object (or nested too deep)");
    return FALSE;
  }
  node = json_object_get_member (root, "config");
  if (!node || !JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "\"config\" must be an object");
    return FALSE;
  }
  config = json_node_get_object (node);

  node = json_object_get_member (config, "sample_rate");
  if (node) {
    gdouble r;

    if (!JSON_NODE_HOLDS_VALUE (node) ||
        (json_node_get_value_type (node) != G_TYPE_INT64 &&
            json_node_get_value_type (node) != G_TYPE_DOUBLE)) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "sample_rate must be a number");
      return FALSE;
    }
    r = json_node_get_double (node);
    if (r < MIN_CLIENT_RATE || r > MAX_CLIENT_RATE) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "sample_rate %g not supported (%d..%d)", r, MIN_CLIENT_RATE,
          MAX_CLIENT_RATE);
      return FALSE;
    }
    *rate = (gint) lround (r);
  }

  node = json_object_get_member (config, "words");
  if (node && JSON_NODE_HOLDS_VALUE (node)) {
    if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
      *words = json_node_get_boolean (node);
    else if (json_node_get_value_type (node) == G_TYPE_INT64)
      *words = json_node_get_int (node) != 0;
  }
  return TRUE;
}

/* ---------- audio ---------- */

static void
resampler_clear (Resampler * rs)
{
  g_clear_pointer (&rs->conv, gst_audio_converter_free);
}

static void
resampler_reset (Resampler * rs, gint in_rate)
{
  GstAudioInfo in, out;

  resampler_clear (rs);
  rs->in_rate = in_rate;
  if (in_rate == MODEL_RATE)
    return;
  gst_audio_info_set_format (&in, GST_AUDIO_FORMAT_S16, in_rate, 1, NULL);
  gst_audio_info_set_format (&out, GST_AUDIO_FORMAT_S16, MODEL_RATE, 1, NULL);
  rs->conv = gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE, &in, &out, NULL);
}

/* Returns a newly allocated MODEL_RATE buffer for @n input samples. */
static gint16 *
resampler_process (Resampler * rs, const gint16 * in, gsize n, gsize * out_n)
{
  gsize cap = gst_audio_converter_get_out_frames (rs->conv, n);
  gint16 *out = g_new (gint16, MAX (cap, 1));
  gpointer inp[1] = { (gpointer) in }, outp[1] = { out };

  if (cap == 0 || !gst_audio_converter_samples (rs->conv, GST_AUDIO_CONVERTER_FLAG_NONE,
          inp, n, outp, cap))
    cap = 0;
  *out_n = cap;
  return out;
}

static void
word_clear (gpointer data)
{
  Word *w = data;

  g_free (w->word);
}

/* Fillers (<s>, <sil>, [NOISE], +NSN+...) are not words for a client. */
static gboolean
is_filler (const gchar * word)
{
  return word[0] == '<' || word[0] == '[' || word[0] == '+';
}

/* Drops "(2)" alternate-pronunciation suffixes: "the(2)" -> "the". */
static gchar *
base_word (const gchar * word)
{
  const gchar *paren = strchr (word, '(');

  if (paren && paren != word && g_str_has_suffix (word, ")"))
    return g_strndup (word, paren - word);
  return g_strdup (word);
}

/* Worker side. Ends the open utterance and appends its words to @words. */
static void
session_end_utt (Session * s, GArray * words)
{
  ps_decoder_t *ps = stt_decoder_get_ps (s->dec);
  logmath_t *lmath = ps_get_logmath (ps);
  ps_seg_t *seg;

  ps_end_utt (ps);
  s->in_utt = FALSE;
  s->speech_seen = FALSE;

  for (seg = ps_seg_iter (ps); seg; seg = ps_seg_next (seg)) {
    const gchar *name = ps_seg_word (seg);
    Word w;
    int sf, ef;

    if (is_filler (name))
      continue;
    ps_seg_frames (seg, &sf, &ef);
    w.start = sf / FRAMES_PER_SECOND;
    w.end = (ef + 1) / FRAMES_PER_SECOND;
    w.conf = CLAMP (logmath_exp (lmath, ps_seg_prob (seg, NULL, NULL, NULL)),
        0.0, 1.0);
    w.word = base_word (name);
    g_array_append_val (words, w);
  }
}

/* Worker side. Feeds 16 kHz audio; every endpoint found closes an utterance
 * whose words go to @words. Returns TRUE if an endpoint was reached. */
static gboolean
session_feed (Session * s, const gint16 * pcm, gsize n, GArray * words)
{
  ps_decoder_t *ps = stt_decoder_get_ps (s->dec);
  gboolean endpoint = FALSE;

  /* A message can hold half a minute of audio: stop if the client left. */
  while (n > 0 && !g_atomic_int_get (&s->cancelled)) {
    gsize k = MIN (n, SLICE_SAMPLES);

    if (!s->in_utt) {
      ps_start_utt (ps);
      s->in_utt = TRUE;
      s->speech_seen = FALSE;
    }
    ps_process_raw (ps, pcm, k, FALSE, FALSE);
    s->samples_in += k;
    if (ps_get_in_speech (ps)) {
      s->speech_seen = TRUE;
    } else if (s->speech_seen) {
      session_end_utt (s, words);
      endpoint = TRUE;
    }
    pcm += k;
    n -= k;
  }
  return endpoint;
}

static gchar *
session_partial (Session * s)
{
  const gchar *hyp = NULL;
  int32 score;

  if (s->in_utt && s->speech_seen)
    hyp = ps_get_hyp (stt_decoder_get_ps (s->dec), &score);
  return json_partial (hyp);
}

/* Worker side: one audio message in, one reply out. */
static gchar *
session_audio (Session * s, GBytes * bytes)
{
  g_autoptr (GArray) words = g_array_new (FALSE, FALSE, sizeof (Word));
  g_autofree gint16 *pcm = NULL;
  g_autofree gint16 *resampled = NULL;
  const guint8 *data;
  gsize size, n, i, o = 0;
  gboolean endpoint;
  gint64 t0;

  g_array_set_clear_func (words, word_clear);
  data = g_bytes_get_data (bytes, &size);

  /* A sample may straddle two messages: carry the odd byte over. */
  n = (size + (s->have_carry ? 1 : 0)) / 2;
  pcm = g_new (gint16, MAX (n, 1));
  i = 0;
  if (s->have_carry && size > 0) {
    pcm[o++] = (gint16) (s->carry | (data[0] << 8));
    i = 1;
    s->have_carry = FALSE;
  }
  for (; i + 1 < size; i += 2)
    pcm[o++] = (gint16) (data[i] | (data[i + 1] << 8));
  if (i < size) {
    s->carry = data[i];
    s->have_carry = TRUE;
  }

  t0 = g_get_monotonic_time ();
  if (s->rs.in_rate != MODEL_RATE) {
    gsize out_n;

    resampled = resampler_process (&s->rs, pcm, o, &out_n);
    endpoint = session_feed (s, resampled, out_n, words);
  } else {
    endpoint = session_feed (s, pcm, o, words);
  }
  s->decode_us += g_get_monotonic_time () - t0;

  if (endpoint)
    return json_result (words, s->words);
  return session_partial (s);
}

/* Worker side: final result of whatever is left. */
static gchar *
session_final (Session * s)
{
  g_autoptr (GArray) words = g_array_new (FALSE, FALSE, sizeof (Word));
  gint64 t0 = g_get_monotonic_time ();

  g_array_set_clear_func (words, word_clear);
  if (s->in_utt)
    session_end_utt (s, words);
  s->decode_us += g_get_monotonic_time () - t0;
  return json_result (words, s->words);
}

/* ---------- sessions ---------- */

/* What a job counts against MAX_QUEUED. */
static gint64
job_cost (Job * job)
{
  if (job->kind == JOB_FINISH)
    return 0;
  return JOB_COST + (job->audio ? (gint64) g_bytes_get_size (job->audio) : 0);
}

static void
job_free (Job * job)
{
  g_clear_pointer (&job->audio, g_bytes_unref);
  g_free (job);
}

static void
reply_free (Reply * reply)
{
  g_free (reply->text);
  g_free (reply);
}

static Session *
session_ref (Session * s)
{
  g_atomic_ref_count_inc (&s->ref);
  return s;
}

static void
session_unref (Session * s)
{
  if (!g_atomic_ref_count_dec (&s->ref))
    return;
  g_assert (s->dec == NULL);
  g_assert (s->conn == NULL);
  g_assert (s->guard == NULL);
  g_assert (s->idle_timer == NULL);
  g_queue_clear_full (&s->inbox, (GDestroyNotify) job_free);
  g_queue_clear_full (&s->outbox, (GDestroyNotify) reply_free);
  resampler_clear (&s->rs);
  g_mutex_clear (&s->lock);
  g_free (s->peer);
  g_free (s);
}

/* Any thread. Expects no lock held. */
static gint64
session_get_queued (gpointer data)
{
  Session *s = data;
  gint64 queued;

  g_mutex_lock (&s->lock);
  queued = s->queued;
  g_mutex_unlock (&s->lock);
  return queued;
}

static gboolean session_flush (gpointer data);

/* Worker side. Expects no lock held. */
static void
session_post (Session * s, ReplyKind kind, gchar * text, gushort code)
{
  Reply *reply = g_new0 (Reply, 1);
  gboolean schedule;

  reply->kind = kind;
  reply->text = text;
  reply->code = code;

  g_mutex_lock (&s->lock);
  g_queue_push_tail (&s->outbox, reply);
  schedule = !s->flush_pending;
  s->flush_pending = TRUE;
  g_mutex_unlock (&s->lock);

  if (schedule) {
    GSource *source = g_idle_source_new ();

    g_source_set_callback (source, session_flush, session_ref (s),
        (GDestroyNotify) session_unref);
    g_source_attach (source, s->server->context);
    g_source_unref (source);
  }
}

/* Worker side: runs one job. */
static void
session_run (Session * s, Job * job)
{
  Server *server = s->server;

  if (job->kind == JOB_FINISH) {
    if (s->dec) {
      if (s->in_utt)
        ps_end_utt (stt_decoder_get_ps (s->dec));
      s->in_utt = FALSE;
      stt_decoders_release (server->decoders, s->dec);
      s->dec = NULL;
    }
    if (s->samples_in > 0) {
      gdouble secs = (gdouble) s->samples_in / MODEL_RATE;

      log_info (server, "client %u done: %.2f s of audio decoded in %.2f s "
          "(real-time factor %.3f)", s->id, secs, s->decode_us / 1e6,
          s->decode_us / 1e6 / secs);
    }
    session_post (s, REPLY_DONE, NULL, 0);
    return;
  }

  if (s->failed)
    return;

  if (job->kind == JOB_CONFIG) {
    /* Config carries no reply in the vosk protocol. */
    if (job->rate != s->rs.in_rate)
      resampler_reset (&s->rs, job->rate);
    s->words = job->words;
    return;
  }

  /* worker_func() got a decoder for audio, unless none could be loaded. The
   * other jobs answer from what was decoded so far, if anything. */
  if (job->kind == JOB_AUDIO && !s->dec) {
    g_printerr (PROGRAM ": client %u: no decoder could be loaded\n", s->id);
    s->failed = TRUE;
    session_post (s, REPLY_CLOSE, g_strdup ("recognizer failed to start"),
        SOUP_WEBSOCKET_CLOSE_SERVER_ERROR);
    return;
  }

  switch (job->kind) {
    case JOB_AUDIO:
      session_post (s, REPLY_TEXT, session_audio (s, job->audio), 0);
      break;
    case JOB_TEXT:
      session_post (s, REPLY_TEXT, session_partial (s), 0);
      break;
    case JOB_RESET:
      session_post (s, REPLY_TEXT, session_final (s), 0);
      break;
    case JOB_EOF:
      session_post (s, REPLY_TEXT, session_final (s), 0);
      session_post (s, REPLY_CLOSE, NULL, SOUP_WEBSOCKET_CLOSE_NORMAL);
      break;
    case JOB_CONFIG:
    case JOB_FINISH:
      g_assert_not_reached ();
  }
}

/* Worker side: @job has run. Expects no lock held. */
static void
session_job_done (Session * s, Job * job)
{
  gboolean resume = FALSE;

  g_mutex_lock (&s->lock);
  s->queued -= job_cost (job);
  if (s->held && s->queued <= MAX_QUEUED / 2) {
    s->held = FALSE;
    resume = TRUE;
  }
  g_mutex_unlock (&s->lock);
  if (resume)
    session_post (s, REPLY_RESUME, NULL, 0);
  job_free (job);
}

/* Called by the decoder pool, from the thread that loaded or released @dec,
 * for a session parked in worker_func(): no thread runs it, s->scheduled is
 * still TRUE, and the pool's reference to it is the one queued here. */
static void
session_decoder_ready (SttDecoder * dec, gpointer user_data)
{
  Session *s = user_data;

  s->dec = dec;
  s->no_decoder = dec == NULL;
  g_thread_pool_push (s->server->workers, s, NULL);
}

/* GThreadPool function: the pool owns one session reference per queued
 * entry and a session is queued at most once. */
static void
worker_func (gpointer data, gpointer user_data)
{
  Session *s = data;
  Server *server = user_data;
  gboolean again;
  guint n;

  for (n = 0; n < JOBS_PER_TURN; n++) {
    gboolean need_decoder;
    Job *job;

    g_mutex_lock (&s->lock);
    job = g_queue_peek_head (&s->inbox);
    need_decoder = job && job->kind == JOB_AUDIO && !s->dec && !s->failed &&
        !s->no_decoder;
    g_mutex_unlock (&s->lock);
    if (need_decoder) {
      SttDecoder *dec = stt_decoders_take (server->decoders,
          session_decoder_ready, s);

      /* None loaded yet: parked, without a thread, until
       * session_decoder_ready() queues it again. */
      if (!dec)
        return;
      s->dec = dec;
    }

    g_mutex_lock (&s->lock);
    job = g_queue_pop_head (&s->inbox);
    g_mutex_unlock (&s->lock);
    if (!job)
      break;
    session_run (s, job);
    session_job_done (s, job);
  }

  g_mutex_lock (&s->lock);
  again = !g_queue_is_empty (&s->inbox);
  s->scheduled = again;
  g_mutex_unlock (&s->lock);

  /* Go to the back of the queue so other sessions get a turn. */
  if (again)
    g_thread_pool_push (server->workers, s, NULL);
  else
    session_unref (s);
}

/* Main thread. Expects no lock held. */
static void
session_push (Session * s, Job * job)
{
  gboolean schedule, hold = FALSE;

  g_mutex_lock (&s->lock);
  g_queue_push_tail (&s->inbox, job);
  s->queued += job_cost (job);
  if (!s->held && s->queued >= MAX_QUEUED)
    hold = s->held = TRUE;
  schedule = !s->scheduled;
  s->scheduled = TRUE;
  g_mutex_unlock (&s->lock);

  /* Backpressure: what the client sends waits in the kernel until the
   * worker has caught up (REPLY_RESUME). */
  if (hold)
    stt_guard_stream_set_paused (s->guard, TRUE);
  if (schedule)
    g_thread_pool_push (s->server->workers, session_ref (s), NULL);
}

static void
session_push_kind (Session * s, JobKind kind)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  session_push (s, job);
}

/* Main thread. libsoup gives the client 5 s to answer before it closes the
 * socket, even one that does not read. */
static void
session_close (Session * s, gushort code, const gchar * reason)
{
  if (s->finishing || soup_websocket_connection_get_state (s->conn) !=
      SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_close (s->conn, code, reason);
}

static void server_maybe_quit (Server * server);

/* Main thread: the connection is gone (or being dropped); drop its queued
 * work and let a worker hand the decoder back. Idempotent. */
static void
session_finish (Session * s)
{
  Server *server = s->server;
  GQueue dropped = G_QUEUE_INIT;
  gint64 cost = 0;
  GList *l;

  if (s->finishing)
    return;
  s->finishing = TRUE;
  g_atomic_int_set (&s->cancelled, 1);
  server->active_connections--;

  /* No more messages; the connection object itself is dropped once the
   * worker side is done, outside of any of its signal emissions. */
  if (s->conn)
    g_signal_handlers_disconnect_by_data (s->conn, s);
  stt_guard_stream_set_too_big_func (s->guard, NULL, NULL);
  if (s->idle_timer) {
    g_source_destroy (s->idle_timer);
    g_clear_pointer (&s->idle_timer, g_source_unref);
  }

  g_mutex_lock (&s->lock);
  dropped = s->inbox;
  g_queue_init (&s->inbox);
  for (l = dropped.head; l; l = l->next)
    cost += job_cost (l->data);
  s->queued -= cost;
  g_mutex_unlock (&s->lock);
  g_queue_clear_full (&dropped, (GDestroyNotify) job_free);

  session_push_kind (s, JOB_FINISH);
  /* Parked for a decoder: it no longer needs one. */
  if (stt_decoders_cancel (server->decoders, s))
    g_thread_pool_push (server->workers, s, NULL);
}

/* Main thread: sends what the worker produced, in order. */
static gboolean
session_flush (gpointer data)
{
  Session *s = data;
  Server *server = s->server;
  GQueue replies;
  Reply *reply;

  g_mutex_lock (&s->lock);
  replies = s->outbox;
  g_queue_init (&s->outbox);
  s->flush_pending = FALSE;
  g_mutex_unlock (&s->lock);

  while ((reply = g_queue_pop_head (&replies))) {
    switch (reply->kind) {
      case REPLY_TEXT:
        if (!s->finishing && soup_websocket_connection_get_state (s->conn) ==
            SOUP_WEBSOCKET_STATE_OPEN) {
          if (server->opts.verbose)
            g_printerr (PROGRAM ": client %u <- %s\n", s->id, reply->text);
          soup_websocket_connection_send_text (s->conn, reply->text);
          s->last_sent = g_get_monotonic_time ();
        }
        break;
      case REPLY_CLOSE:
        session_close (s, reply->code, reply->text);
        break;
      case REPLY_RESUME:
        if (!s->finishing)
          stt_guard_stream_set_paused (s->guard, FALSE);
        break;
      case REPLY_DONE:
        g_clear_object (&s->conn);
        g_clear_object (&s->guard);
        server->sessions = g_list_remove (server->sessions, s);
        server->n_sessions--;
        session_unref (s);
        server_maybe_quit (server);
        break;
    }
    reply_free (reply);
  }
  return G_SOURCE_REMOVE;
}

static gboolean on_idle_timer (gpointer data);

/* Main thread: the idle check runs next at @when (monotonic time). */
static void
session_arm_idle_timer (Session * s, gint64 when)
{
  gint64 wait_ms = MAX (when - g_get_monotonic_time (), 0) / 1000 + 1;

  s->idle_timer = g_timeout_source_new ((guint) MIN (wait_ms, G_MAXUINT));
  /* No reference: session_finish() removes the source. */
  g_source_set_callback (s->idle_timer, on_idle_timer, s, NULL);
  g_source_attach (s->idle_timer, s->server->context);
}

/* A client that has sent nothing, and is owed nothing, for --idle-timeout
 * seconds is closed with 1001. */
static gboolean
on_idle_timer (gpointer data)
{
  Session *s = data;
  Server *server = s->server;
  gint64 limit = (gint64) server->opts.idle_timeout * G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  gint64 last = MAX (stt_guard_stream_get_last_read (s->guard), s->last_sent);
  g_autofree gchar *reason = NULL;

  g_clear_pointer (&s->idle_timer, g_source_unref);
  /* Audio being decoded, or waiting for a decoder, keeps a quiet client. */
  if (session_get_queued (s) > 0)
    last = now;
  if (now - last < limit) {
    session_arm_idle_timer (s, last + limit);
    return G_SOURCE_REMOVE;
  }

  log_info (server, "client %u: nothing received for %d s, closing", s->id,
      server->opts.idle_timeout);
  if (soup_websocket_connection_get_state (s->conn) !=
      SOUP_WEBSOCKET_STATE_OPEN) {
    /* Stuck closing (our close frame cannot be written). */
    stt_guard_stream_shutdown (s->guard);
    return G_SOURCE_REMOVE;
  }
  reason = g_strdup_printf ("idle timeout (%d s without data)",
      server->opts.idle_timeout);
  session_close (s, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, reason);
  /* Checked again: a client that does not read may never let it close. */
  session_arm_idle_timer (s, now + limit);
  return G_SOURCE_REMOVE;
}

/* Called by the guard: the client sent a message over MAX_MESSAGE_SIZE, which
 * the guard dropped. */
static void
on_too_big (SttGuardStream * guard, gpointer user_data)
{
  Session *s = user_data;

  log_info (s->server, "client %u: message over %d bytes, closing", s->id,
      MAX_MESSAGE_SIZE);
  /* Nothing it sends from now on is decoded. */
  s->got_eof = TRUE;
  session_close (s, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
      "message too big (1 MiB at most)");
}

/* Main thread: a text message mentioning "config" (vosk parses any such
 * message as config). */
static void
session_config (Session * s, const gchar * data, gsize size)
{
  Server *server = s->server;
  g_autoptr (GError) error = NULL;
  gint rate = s->rate;
  gboolean words = TRUE;
  Job *job;

  if (!parse_config (data, size, &rate, &words, &error))
    goto bad_config;
  /* Like vosk, the recognizer's rate is fixed once audio has flowed. */
  if (s->got_audio && rate != s->rate) {
    log_info (server, "client %u: sample_rate change after audio ignored",
        s->id);
    rate = s->rate;
  }
  s->rate = rate;
  job = g_new0 (Job, 1);
  job->kind = JOB_CONFIG;
  job->rate = rate;
  job->words = words;
  session_push (s, job);
  return;

  /* ERRORS */
bad_config:
  {
    g_autofree gchar *reason = g_strdup_printf ("bad config: %s",
        error->message);

    /* A close reason must fit in a control frame (123 bytes) and stay
     * valid UTF-8. */
    if (strlen (reason) > 120)
      *g_utf8_find_prev_char (reason, reason + 121) = '\0';
    log_info (server, "client %u: %s", s->id, reason);
    s->got_eof = TRUE;
    session_close (s,
        g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED) ?
        SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA : SOUP_WEBSOCKET_CLOSE_BAD_DATA,
        reason);
  }
}

static void
on_ws_message (SoupWebsocketConnection * conn, gint type, GBytes * message,
    gpointer user_data)
{
  Session *s = user_data;
  Server *server = s->server;
  const gchar *data;
  gsize size;
  Job *job;

  /* vosk stops reading after eof. */
  if (s->got_eof || s->finishing)
    return;

  data = g_bytes_get_data (message, &size);

  if (type == SOUP_WEBSOCKET_DATA_BINARY) {
    s->got_audio = TRUE;
    server->audio_seconds += (gdouble) (size / 2) / s->rate;
    job = g_new0 (Job, 1);
    job->kind = JOB_AUDIO;
    job->audio = g_bytes_ref (message);
    session_push (s, job);
    return;
  }

  if (server->opts.verbose)
    g_printerr (PROGRAM ": client %u -> %.*s\n", s->id, (int) MIN (size, 200),
        data);

  if (size == strlen (EOF_MESSAGE) && memcmp (data, EOF_MESSAGE, size) == 0) {
    s->got_eof = TRUE;
    session_push_kind (s, JOB_EOF);
  } else if (size == strlen (RESET_MESSAGE) &&
      memcmp (data, RESET_MESSAGE, size) == 0) {
    session_push_kind (s, JOB_RESET);
  } else if (g_strstr_len (data, size, "config")) {
    session_config (s, data, size);
  } else {
    session_push_kind (s, JOB_TEXT);
  }
}

static void
on_ws_error (SoupWebsocketConnection * conn, GError * error,
    gpointer user_data)
{
  Session *s = user_data;

  log_info (s->server, "client %u: %s", s->id, error->message);
}

static void
on_ws_closed (SoupWebsocketConnection * conn, gpointer user_data)
{
  Session *s = user_data;

  log_info (s->server, "client %u closed (code %u)", s->id,
      soup_websocket_connection_get_close_code (conn));
  session_finish (s);
}

/* A WebSocket that gets no session: closed, and kept until it is. */
static void
refuse_websocket (SoupWebsocketConnection * conn, gushort code,
    const gchar * reason)
{
  g_signal_connect (g_object_ref (conn), "closed", G_CALLBACK (g_object_unref),
      NULL);
  soup_websocket_connection_close (conn, code, reason);
}

static void
on_websocket (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * conn, gpointer user_data)
{
  Server *server = user_data;
  SttGuardStream *guard = stt_guard_stream_lookup (msg);
  Session *s;

  if (!guard) {
    /* Every connection comes from our listener. */
    g_warn_if_reached ();
    refuse_websocket (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "no guard");
    return;
  }
  stt_guard_stream_set_deadline (guard, 0);

  if (server->shutting_down) {
    refuse_websocket (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down");
    return;
  }
  /* on_http() answers 503 at the limit, but handshakes in flight at the same
   * time may all have passed it. 1013 (try again later) would say it better,
   * but libsoup (3.2 and later) sends a protocol error for any code below
   * 3000 that it does not know. */
  if (server->n_sessions >= (guint) server->opts.max_clients) {
    server->refused_busy++;
    refuse_websocket (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "too many clients, try again later");
    return;
  }

  s = g_new0 (Session, 1);
  g_atomic_ref_count_init (&s->ref);
  g_mutex_init (&s->lock);
  s->server = server;
  s->id = ++server->next_id;
  s->conn = g_object_ref (conn);
  s->guard = g_object_ref (guard);
  s->peer = g_strdup (soup_server_message_get_remote_host (msg));
  s->rate = MODEL_RATE;
  s->words = TRUE;
  s->last_sent = g_get_monotonic_time ();
  resampler_reset (&s->rs, MODEL_RATE);

  /* The guard enforces the limit first (and answers 1009); this is a
   * second line. */
  soup_websocket_connection_set_max_incoming_payload_size (conn,
      MAX_MESSAGE_SIZE);
  stt_guard_stream_set_too_big_func (guard, on_too_big, s);
  g_signal_connect (conn, "message", G_CALLBACK (on_ws_message), s);
  g_signal_connect (conn, "error", G_CALLBACK (on_ws_error), s);
  g_signal_connect (conn, "closed", G_CALLBACK (on_ws_closed), s);

  server->sessions = g_list_prepend (server->sessions, s);
  server->n_sessions++;
  server->active_connections++;
  server->total_connections++;
  log_info (server, "client %u connected from %s (path %s)", s->id,
      s->peer ? s->peer : "?", path);

  if (server->opts.idle_timeout > 0)
    session_arm_idle_timer (s, g_get_monotonic_time () +
        (gint64) server->opts.idle_timeout * G_USEC_PER_SEC);
  /* Sent right behind the handshake, before libsoup handed us the
   * connection. */
  if (stt_guard_stream_is_too_big (guard))
    on_too_big (guard, s);
}

/* ---------- HTTP ---------- */

static gboolean
origin_allowed (Server * server, const gchar * origin)
{
  guint i;

  for (i = 0; server->opts.allow_origins && server->opts.allow_origins[i]; i++)
    if (strcmp (server->opts.allow_origins[i], "*") == 0 ||
        g_ascii_strcasecmp (server->opts.allow_origins[i], origin) == 0)
      return TRUE;
  return FALSE;
}

/* Every HTTP request lands here first. Requests from web pages are refused,
 * /health is answered, and anything else is left unanswered so libsoup goes
 * on with the WebSocket handshake (and answers 400 itself if the request is
 * not one) unless the server is full. */
static void
on_http (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  Server *server = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (request, "Origin");
  const char *length = soup_message_headers_get_one (request, "Content-Length");
  gchar *body;

  /* Browsers send Origin with every WebSocket handshake, so any page the
   * user visits could otherwise use the recognizer (and the microphone
   * audio it is fed). Programs send none. */
  if (origin && !origin_allowed (server, origin)) {
    log_info (server, "refused a request from origin %.100s "
        "(--allow-origin permits one)", origin);
    soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, NULL);
    return;
  }

  if (g_strcmp0 (path, "/health") == 0) {
    if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0) {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          NULL);
      return;
    }
    body = json_health (server);
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response (msg, "application/json",
        SOUP_MEMORY_TAKE, body, strlen (body));
    return;
  }

  /* A handshake has no body; the guard takes what follows the request's
   * headers for WebSocket frames. */
  if ((length && g_ascii_strtoull (length, NULL, 10) > 0) ||
      soup_message_headers_get_one (request, "Transfer-Encoding")) {
    soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
    return;
  }

  if (server->n_sessions >= (guint) server->opts.max_clients) {
    server->refused_busy++;
    if (!server->full)
      log_info (server, "%u clients connected (--max-clients): refusing "
          "more with 503", server->n_sessions);
    server->full = TRUE;
    soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
        "Too Many Clients");
    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Retry-After", "1");
    return;
  }
  server->full = FALSE;
}

/* ---------- lifecycle ---------- */

static void
server_maybe_quit (Server * server)
{
  if (server->shutting_down && server->sessions == NULL)
    g_main_loop_quit (server->loop);
}

/* Clients that did not answer our close frame in time are dropped. */
static gboolean
on_grace_timeout (gpointer user_data)
{
  Server *server = user_data;
  GList *l;

  server->grace_id = 0;
  for (l = server->sessions; l; l = l->next)
    session_finish (l->data);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  Server *server = user_data;
  GList *l;

  if (server->shutting_down) {
    /* Second signal: do not wait for clients. */
    on_grace_timeout (server);
    return G_SOURCE_CONTINUE;
  }
  server->shutting_down = TRUE;
  log_info (server, "shutting down (%u active connection%s)",
      server->active_connections,
      server->active_connections == 1 ? "" : "s");

  g_clear_pointer (&server->listener, stt_listener_free);
  /* Connections still in their HTTP request. */
  soup_server_disconnect (server->soup);
  for (l = server->sessions; l; l = l->next)
    session_close (l->data, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down");
  server->grace_id = g_timeout_add (SHUTDOWN_GRACE_MS, on_grace_timeout,
      server);
  server_maybe_quit (server);
  return G_SOURCE_CONTINUE;
}

/* ---------- options ---------- */

static gboolean
file_exists (const gchar * path)
{
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

/* Resolves --model/--lm/--dict into hmm, lm and dict paths. The model dir
 * is laid out like Debian's and upstream's en-us:
 *   DIR/<name>/mdef, DIR/<name>.lm.bin, DIR/cmudict-<name>.dict
 * DIR may also be the acoustic model directory itself. */
static gboolean
resolve_model (Options * opts, GError ** error)
{
  g_autofree gchar *mdef = g_build_filename (opts->model_dir, "mdef", NULL);
  g_autofree gchar *name = NULL;
  g_autofree gchar *top = NULL;

  if (!g_file_test (opts->model_dir, G_FILE_TEST_IS_DIR))
    goto no_model_dir;

  if (file_exists (mdef)) {
    opts->hmm = g_strdup (opts->model_dir);
    top = g_path_get_dirname (opts->model_dir);
  } else {
    top = g_strdup (opts->model_dir);
    name = g_path_get_basename (opts->model_dir);
    opts->hmm = g_build_filename (top, name, NULL);
    g_free (mdef);
    mdef = g_build_filename (opts->hmm, "mdef", NULL);
    if (!file_exists (mdef))
      goto no_hmm;
  }
  g_clear_pointer (&name, g_free);
  name = g_path_get_basename (opts->hmm);

  if (!opts->lm) {
    g_autofree gchar *file = g_strdup_printf ("%s.lm.bin", name);

    opts->lm = g_build_filename (top, file, NULL);
  }
  if (!opts->dict) {
    g_autofree gchar *file = g_strdup_printf ("cmudict-%s.dict", name);

    opts->dict = g_build_filename (top, file, NULL);
  }
  if (!file_exists (opts->lm))
    goto no_lm;
  if (!file_exists (opts->dict))
    goto no_dict;
  return TRUE;

  /* ERRORS */
no_model_dir:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "model directory %s not found", opts->model_dir);
    return FALSE;
  }
no_hmm:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "no acoustic model in %s (looked for %s/mdef and %s)",
        opts->model_dir, opts->model_dir, mdef);
    return FALSE;
  }
no_lm:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "language model %s not found", opts->lm);
    return FALSE;
  }
no_dict:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "pronunciation dictionary %s not found", opts->dict);
    return FALSE;
  }
}

static gboolean
is_ps_arg (const gchar * name)
{
  const arg_t *defs = ps_args ();
  guint i;

  for (i = 0; defs[i].name; i++)
    if (g_strcmp0 (defs[i].name, name) == 0)
      return TRUE;
  return FALSE;
}

/* "name=value" -> "-name", "value"; values are checked by pocketsphinx when
 * the first decoder is built. */
static gboolean
split_ps_args (gchar ** in, gchar *** out, GError ** error)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; in && in[i]; i++) {
    const gchar *arg = in[i];
    const gchar *eq;

    while (*arg == '-')
      arg++;
    eq = strchr (arg, '=');
    if (!eq || eq == arg) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--ps-arg expects NAME=VALUE, got \"%s\"", in[i]);
      return FALSE;
    }
    g_ptr_array_add (args, g_strdup_printf ("-%.*s", (int) (eq - arg), arg));
    if (!is_ps_arg (g_ptr_array_index (args, args->len - 1))) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--ps-arg: pocketsphinx has no argument %s",
          (gchar *) g_ptr_array_index (args, args->len - 1));
      return FALSE;
    }
    g_ptr_array_add (args, g_strdup (eq + 1));
  }
  g_ptr_array_add (args, NULL);
  *out = (gchar **) g_ptr_array_steal (args, NULL);
  return TRUE;
}

static GInetAddress *
resolve_host (const gchar * host, GError ** error)
{
  GInetAddress *addr = g_inet_address_new_from_string (host);
  GList *list;

  if (addr)
    return addr;
  list = g_resolver_lookup_by_name (g_resolver_get_default (), host, NULL,
      error);
  if (!list) {
    g_prefix_error (error, "cannot resolve --host %s: ", host);
    return NULL;
  }
  addr = g_object_ref (list->data);
  g_resolver_free_addresses (list);
  return addr;
}

static void
options_clear (Options * opts)
{
  g_clear_pointer (&opts->host, g_free);
  g_clear_pointer (&opts->model_dir, g_free);
  g_clear_pointer (&opts->hmm, g_free);
  g_clear_pointer (&opts->lm, g_free);
  g_clear_pointer (&opts->dict, g_free);
  g_clear_pointer (&opts->ps_args, g_strfreev);
  g_clear_pointer (&opts->allow_origins, g_strfreev);
}

static gboolean
parse_options (Options * opts, int *argc, char ***argv, GError ** error)
{
  g_auto (GStrv) raw_ps_args = NULL;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    {"port", 'p', 0, G_OPTION_ARG_INT, &opts->port,
        "TCP port to listen on, 0 for any free port (default 2700)", "N"},
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opts->host,
        "Address to listen on (default 127.0.0.1)", "ADDR"},
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &opts->model_dir,
          "pocketsphinx model directory (default " STT_DEFAULT_MODEL_DIR ")",
        "DIR"},
    {"lm", 0, 0, G_OPTION_ARG_FILENAME, &opts->lm,
        "Language model (default DIR/<name>.lm.bin)", "FILE"},
    {"dict", 0, 0, G_OPTION_ARG_FILENAME, &opts->dict,
        "Pronunciation dictionary (default DIR/cmudict-<name>.dict)", "FILE"},
    {"pool", 0, 0, G_OPTION_ARG_INT, &opts->pool_size,
          "Decoders loaded at start-up and kept for new clients, about 90 MB "
          "each; while clients are connected, one spare beyond theirs "
          "(default 2)", "N"},
    {"max-clients", 0, 0, G_OPTION_ARG_INT, &opts->max_clients,
          "Clients served at once, each with its own decoder; more are "
          "answered 503 (default twice the number of cores)", "N"},
    {"idle-timeout", 0, 0, G_OPTION_ARG_INT, &opts->idle_timeout,
          "Close a client that sends nothing for this long, in seconds; 0 "
          "for never (default 60)", "SECONDS"},
    {"allow-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->allow_origins,
          "Serve web pages from ORIGIN (e.g. http://localhost:8000, or * for "
          "any); requests with another Origin header get 403 (repeatable)",
        "ORIGIN"},
    {"ps-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &raw_ps_args,
        "Extra pocketsphinx argument, e.g. lw=6.5 (repeatable)", "NAME=VALUE"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opts->quiet,
        "Only print the listening line and errors", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opts->verbose,
        "Log every message and pocketsphinx's own log", NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- local speech recognizer (vosk protocol)");

  g_option_context_set_summary (ctx,
      "Serves the vosk-server WebSocket protocol on ws://HOST:PORT/ using "
      "pocketsphinx,\nand GET /health with counters as JSON. Messages are "
      "limited to 1 MiB, and a client\nthat sends faster than it is decoded "
      "is slowed down (1 MiB queued at most).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    return FALSE;
  if (version) {
    printf (PROGRAM " " VERSION "\n");
    exit (0);
  }
  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "unexpected argument \"%s\"", (*argv)[1]);
    return FALSE;
  }
  if (opts->port < 0 || opts->port > 65535) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--port must be 0..65535");
    return FALSE;
  }
  if (opts->pool_size < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--pool must be >= 0");
    return FALSE;
  }
  if (opts->max_clients < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--max-clients must be >= 1");
    return FALSE;
  }
  if (opts->idle_timeout < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--idle-timeout must be >= 0");
    return FALSE;
  }
  if (opts->quiet && opts->verbose)
    opts->quiet = FALSE;
  if (!opts->host)
    opts->host = g_strdup (DEFAULT_HOST);
  if (!opts->model_dir)
    opts->model_dir = g_strdup (STT_DEFAULT_MODEL_DIR);
  return split_ps_args (raw_ps_args, &opts->ps_args, error);
}

/* ---------- main ---------- */

/* Prints the line scripts wait for; call once clients can be served. */
static void
server_announce (Server * server)
{
  g_autoptr (GSocketAddress) address =
      stt_listener_get_address (server->listener);
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
  g_autofree gchar *host =
      g_inet_address_to_string (g_inet_socket_address_get_address (inet));

  if (strchr (host, ':'))
    printf ("listening on ws://[%s]:%u\n", host,
        g_inet_socket_address_get_port (inet));
  else
    printf ("listening on ws://%s:%u\n", host,
        g_inet_socket_address_get_port (inet));
  fflush (stdout);
}

static gboolean
server_listen (Server * server, GError ** error)
{
  Options *opts = &server->opts;
  g_autoptr (GInetAddress) addr = NULL;
  g_autoptr (GSocketAddress) sockaddr = NULL;
  g_autoptr (GError) local = NULL;

  addr = resolve_host (opts->host, error);
  if (!addr)
    return FALSE;
  sockaddr = g_inet_socket_address_new (addr, opts->port);

  server->listener = stt_listener_new (server->soup, sockaddr,
      MAX_MESSAGE_SIZE, HANDSHAKE_TIMEOUT, &local);
  if (!server->listener)
    goto listen_failed;
  return TRUE;

  /* ERRORS */
listen_failed:
  {
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
          "port %d on %s is already in use; choose another with --port N "
          "(--port 0 picks a free one)", opts->port, opts->host);
    else
      g_set_error (error, local->domain, local->code,
          "cannot listen on %s port %d: %s", opts->host, opts->port,
          local->message);
    return FALSE;
  }
}

/* Messages of the other files (g_message, g_warning), in the same form as
 * log_info(); --quiet keeps only warnings. */
static void
on_log (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer user_data)
{
  Options *opts = user_data;

  if (level & G_LOG_LEVEL_DEBUG) {
    /* libsoup logs every frame. */
    if (!opts->verbose || domain)
      return;
  } else if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
    if (opts->quiet)
      return;
  }
  g_printerr (PROGRAM ": %s%s%s\n", domain ? domain : "", domain ? ": " : "",
      message);
}

int
main (int argc, char *argv[])
{
  Server server = { 0 };
  g_autoptr (GError) error = NULL;
  guint threads;

  server.opts.port = DEFAULT_PORT;
  server.opts.pool_size = DEFAULT_POOL;
  server.opts.max_clients = 2 * g_get_num_processors ();
  server.opts.idle_timeout = DEFAULT_IDLE_TIMEOUT;

  if (!parse_options (&server.opts, &argc, &argv, &error)) {
    g_printerr (PROGRAM ": %s\n", error->message);
    g_printerr ("Run '" PROGRAM " --help' for the options.\n");
    return 2;
  }
  g_log_set_default_handler (on_log, &server.opts);
  /* Only the audio library is used (resampling): no plugin registry to scan. */
  g_setenv ("GST_REGISTRY_DISABLE", "yes", FALSE);
  gst_init (NULL, NULL);

  if (!resolve_model (&server.opts, &error)) {
    g_printerr (PROGRAM ": %s\n", error->message);
    g_printerr (PROGRAM ": the Debian package pocketsphinx-en-us provides "
        "the default model (apt-get install pocketsphinx-en-us), or pass "
        "--model DIR / --lm FILE / --dict FILE\n");
    return 1;
  }

  /* pocketsphinx logs every step of model loading to stderr. */
  if (!server.opts.verbose)
    err_set_logfp (NULL);

  server.context = g_main_context_ref_thread_default ();
  server.loop = g_main_loop_new (server.context, FALSE);
  server.soup = soup_server_new ("server-header", PROGRAM "/" VERSION, NULL);
  /* A frame of a few KB could inflate to gigabytes, and the guard could not
   * see the message sizes. vosk clients do without compression. */
  soup_server_remove_websocket_extension (server.soup,
      SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_handler (server.soup, NULL, on_http, &server, NULL);
  soup_server_add_websocket_handler (server.soup, NULL, NULL, NULL,
      on_websocket, &server, NULL);

  /* Decoding is CPU bound; a few more threads than cores keeps other clients
   * moving while some decode long messages. */
  threads = MAX (4, 2 * g_get_num_processors ());
  server.workers = g_thread_pool_new (worker_func, &server, threads, FALSE,
      NULL);

  /* Bind before loading the model so a busy port fails at once; clients
   * wait in the backlog until the loop runs. */
  if (!server_listen (&server, &error))
    goto failed;

  /* Loads one decoder now (checking the model), the others in the
   * background. */
  server.decoders = stt_decoders_new (server.opts.hmm, server.opts.lm,
      server.opts.dict, server.opts.ps_args, server.opts.pool_size,
      server.opts.max_clients, &error);
  if (!server.decoders)
    goto failed;

  log_info (&server, "model %s, lm %s, dict %s", server.opts.hmm,
      server.opts.lm, server.opts.dict);
  server_announce (&server);

  g_unix_signal_add (SIGINT, on_signal, &server);
  g_unix_signal_add (SIGTERM, on_signal, &server);
  g_main_loop_run (server.loop);

  if (server.grace_id)
    g_source_remove (server.grace_id);
  goto out;

failed:
  g_printerr (PROGRAM ": %s\n", error->message);
  server.exit_code = 1;

out:
  /* Every session is done here, so no worker will queue more work. */
  g_thread_pool_free (server.workers, FALSE, TRUE);
  while (g_main_context_pending (server.context))
    g_main_context_iteration (server.context, FALSE);
  g_clear_pointer (&server.listener, stt_listener_free);
  g_clear_object (&server.soup);
  g_clear_pointer (&server.decoders, stt_decoders_free);
  g_main_loop_unref (server.loop);
  g_main_context_unref (server.context);
  options_clear (&server.opts);
  if (server.exit_code == 0)
    log_info (&server, "stopped");
  return server.exit_code;
}
