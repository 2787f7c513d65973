/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* worker: see worker.h. Each client's jobs, run on a thread pool, and the way
 * their replies get back to the main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads:
 *   - The main thread runs the GMainLoop that owns the SoupServer and every
 *     SoupWebsocketConnection: libsoup objects are only touched there
 *     (vosk-protocol.c).
 *   - Each connection has a Session with an inbox of jobs filled by the main
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
 *     the clients by a loader thread (decoders.c): --pool of them
 *     at start-up, one before the "listening" line (which also checks the
 *     model), and one spare beyond those in use, up to --max-clients. A
 *     session takes one at its first audio; when none is loaded yet it is
 *     parked, without holding a thread, until one is.
 *
 * Backpressure: queued input (audio received but not yet decoded, and messages
 * not yet answered) is bounded at MAX_QUEUED per client: the main thread stops
 * reading that client until the queue is half empty.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <libsoup/soup.h>

#include "recognizer.h"
#include "worker.h"

#define JOBS_PER_TURN 4
/* Queued input per client before the server stops reading it: 32 s of 16 kHz
 * audio, 11 s at 48 kHz. Each job counts JOB_COST on top of its audio, so a
 * flood of small text messages is bounded too. */
#define MAX_QUEUED (1024 * 1024)
#define JOB_COST 256

typedef enum
{
  JOB_AUDIO,                    /* decode: a result, or the partial one */
  JOB_CONFIG,                   /* rate and words; no reply */
  JOB_TEXT,                     /* the partial result */
  JOB_EOF,                      /* the final result, then close 1000 */
  JOB_RESET,                    /* the final result; the session goes on */
  JOB_FINISH,                   /* hand the decoder back, then REPLY_DONE */
} JobKind;

typedef struct
{
  JobKind kind;
  GBytes *audio;
  gint rate;
  gboolean words;
} Job;

typedef struct
{
  ReplyKind kind;
  gchar *text;                  /* message, or close reason */
  gushort code;
} Reply;

struct _Session
{
  gatomicrefcount ref;
  Server *server;
  guint id;

  /* main thread only */
  SessionReplyFunc reply_func;
  gpointer reply_data;
  gboolean done;                /* REPLY_DONE delivered: reply_func is not called again */

  GMutex lock;                  /* protects the fields down to flush_pending */
  GQueue inbox;                 /* Job* */
  gint64 queued;                /* cost of the jobs not yet done (job_cost()) */
  gboolean held;                /* the client is not read until queued drops */
  gboolean scheduled;           /* in the pool's queue, running, or parked */
  GQueue outbox;                /* Reply* */
  gboolean flush_pending;

  gint cancelled;               /* atomic: the client is gone, stop decoding */

  /* worker side: only the thread currently running the session */
  Recognizer *rec;              /* its decoder is set by session_decoder_ready()
                                 * while parked */
  gboolean no_decoder;          /* the decoder it waited for failed to load */
  gboolean failed;
};

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

void
session_unref (Session * s)
{
  if (!g_atomic_ref_count_dec (&s->ref))
    return;
  g_queue_clear_full (&s->inbox, (GDestroyNotify) job_free);
  g_queue_clear_full (&s->outbox, (GDestroyNotify) reply_free);
  recognizer_free (s->rec);
  g_mutex_clear (&s->lock);
  g_free (s);
}

/* Any thread. Expects no lock held. */
gint64
session_get_queued (Session * s)
{
  gint64 queued;

  g_mutex_lock (&s->lock);
  queued = s->queued;
  g_mutex_unlock (&s->lock);
  return queued;
}

/* Main thread: hands what the worker produced to the reply function, in order. */
static gboolean
session_flush (gpointer data)
{
  Session *s = data;
  GQueue replies;
  Reply *reply;

  g_mutex_lock (&s->lock);
  replies = s->outbox;
  g_queue_init (&s->outbox);
  s->flush_pending = FALSE;
  g_mutex_unlock (&s->lock);

  while ((reply = g_queue_pop_head (&replies))) {
    /* A resume can follow "done"; the client is gone by then. */
    if (!s->done) {
      s->done = reply->kind == REPLY_DONE;
      s->reply_func (reply->kind, reply->text, reply->code, s->reply_data);
    }
    reply_free (reply);
  }
  return G_SOURCE_REMOVE;
}

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
    SttDecoder *dec = recognizer_take_decoder (s->rec);
    gdouble secs, decoding;

    if (dec)
      stt_decoders_release (server->decoders, dec);
    recognizer_get_times (s->rec, &secs, &decoding);
    if (secs > 0)
      log_info (server, "client %u done: %.2f s of audio decoded in %.2f s "
          "(real-time factor %.3f)", s->id, secs, decoding, decoding / secs);
    session_post (s, REPLY_DONE, NULL, 0);
    return;
  }

  if (s->failed)
    return;

  if (job->kind == JOB_CONFIG) {
    /* Config carries no reply in the vosk protocol. */
    recognizer_configure (s->rec, job->rate, job->words);
    return;
  }

  /* worker_func() got a decoder for audio, unless none could be loaded. The
   * other jobs answer from what was decoded so far, if anything. */
  if (job->kind == JOB_AUDIO && !recognizer_has_decoder (s->rec)) {
    g_printerr (PROGRAM ": client %u: no decoder could be loaded\n", s->id);
    s->failed = TRUE;
    session_post (s, REPLY_CLOSE, g_strdup ("recognizer failed to start"),
        SOUP_WEBSOCKET_CLOSE_SERVER_ERROR);
    return;
  }

  switch (job->kind) {
    case JOB_AUDIO:
      session_post (s, REPLY_TEXT, recognizer_accept (s->rec, job->audio,
              &s->cancelled), 0);
      break;
    case JOB_TEXT:
      session_post (s, REPLY_TEXT, recognizer_partial (s->rec), 0);
      break;
    case JOB_RESET:
      session_post (s, REPLY_TEXT, recognizer_final (s->rec), 0);
      break;
    case JOB_EOF:
      session_post (s, REPLY_TEXT, recognizer_final (s->rec), 0);
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

  recognizer_set_decoder (s->rec, dec);
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
    need_decoder = job && job->kind == JOB_AUDIO &&
        !recognizer_has_decoder (s->rec) && !s->failed && !s->no_decoder;
    g_mutex_unlock (&s->lock);
    if (need_decoder) {
      SttDecoder *dec = stt_decoders_take (server->decoders,
          session_decoder_ready, s);

      /* None loaded yet: parked, without a thread, until
       * session_decoder_ready() queues it again. */
      if (!dec)
        return;
      recognizer_set_decoder (s->rec, dec);
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

GThreadPool *
worker_pool_new (Server * server)
{
  /* Decoding is CPU bound; a few more threads than cores keeps other clients
   * moving while some decode long messages. */
  guint threads = MAX (4, 2 * g_get_num_processors ());

  return g_thread_pool_new (worker_func, server, threads, FALSE, NULL);
}

Session *
session_new (Server * server, guint id, SessionReplyFunc func,
    gpointer user_data)
{
  Session *s = g_new0 (Session, 1);

  g_atomic_ref_count_init (&s->ref);
  g_mutex_init (&s->lock);
  s->server = server;
  s->id = id;
  s->reply_func = func;
  s->reply_data = user_data;
  s->rec = recognizer_new ();
  return s;
}

/* Main thread. Expects no lock held. */
static gboolean
session_push_job (Session * s, Job * job)
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

  if (schedule)
    g_thread_pool_push (s->server->workers, session_ref (s), NULL);
  return hold;
}

static Job *
job_new (JobKind kind)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  return job;
}

gboolean
session_push_audio (Session * s, GBytes * audio)
{
  Job *job = job_new (JOB_AUDIO);

  job->audio = g_bytes_ref (audio);
  return session_push_job (s, job);
}

gboolean
session_push_config (Session * s, gint rate, gboolean words)
{
  Job *job = job_new (JOB_CONFIG);

  job->rate = rate;
  job->words = words;
  return session_push_job (s, job);
}

gboolean
session_push_eof (Session * s)
{
  return session_push_job (s, job_new (JOB_EOF));
}

gboolean
session_push_reset (Session * s)
{
  return session_push_job (s, job_new (JOB_RESET));
}

gboolean
session_push_text (Session * s)
{
  return session_push_job (s, job_new (JOB_TEXT));
}

/* Main thread, once. */
gboolean
session_stop (Session * s)
{
  Server *server = s->server;
  GQueue dropped = G_QUEUE_INIT;
  gint64 cost = 0;
  gboolean hold;
  GList *l;

  g_atomic_int_set (&s->cancelled, 1);

  g_mutex_lock (&s->lock);
  dropped = s->inbox;
  g_queue_init (&s->inbox);
  for (l = dropped.head; l; l = l->next)
    cost += job_cost (l->data);
  s->queued -= cost;
  g_mutex_unlock (&s->lock);
  g_queue_clear_full (&dropped, (GDestroyNotify) job_free);

  hold = session_push_job (s, job_new (JOB_FINISH));
  /* Parked for a decoder: it no longer needs one. */
  if (stt_decoders_cancel (server->decoders, s))
    g_thread_pool_push (server->workers, s, NULL);
  return hold;
}
