/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttiopool.c: a fixed set of I/O threads, each with its own main context and
 * SoupSession, shared by every stream of the process. A thread per stream would not
 * scale to thousands of streams; a fixed pool keeps the thread count flat. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "sttiopool.h"

struct _SttIoWorker
{
  GThread *thread;
  GMainContext *context;
  SoupSession *session;
  /* Worker thread only: created on first use (stt_io_worker_get_isolated_session). */
  SoupSession *isolated_session;
  gint n_streams;               /* atomic */
  GMutex lock;
  GCond cond;
  gboolean ready;
  GHashTable *watchers;         /* worker thread only: id -> Watcher */
  GHashTable *tickers;          /* worker thread only: id -> Watcher, called every second */
  guint next_watch_id;
  /* stt_io_worker_invoke_batched: calls waiting for the next batch, under batch_lock. */
  GMutex batch_lock;
  GArray *batch;                /* Deferred */
  GArray *batch_spare;          /* worker thread only: the other array, reused */
  gboolean batch_scheduled;
};

typedef struct
{
  GSourceFunc func;
  gpointer data;
  GDestroyNotify notify;
} Deferred;

/* Audio wakeups of one worker are served together, at most once per BATCH_MS: with a
 * thousand streams, a main-loop iteration per chunk (each one walking every source of
 * the context) would cost more than the sending itself. */
#define BATCH_MS 5

/* Events of many streams are served together too: after each main-loop iteration the
 * worker waits this long per stream it serves, at most COALESCE_MAX_US, before the next
 * one. An iteration polls every socket of the context and walks every source, so with
 * hundreds of streams a wakeup per event (a pong, a result, an audio batch, each of them
 * hundreds a second) cost more than the events themselves; with a few streams the wait
 * is a few microseconds and results go out at once. At K = 1000 (500 streams a worker:
 * 5 ms) this costs about 8 points of CPU less than 4 us a stream (2 ms) with the same
 * send delays; 20 us a stream (10 ms) saved a little more but put the median stream's p99
 * send delay near 50 ms (bench/README.md, section 3). */
#define COALESCE_US_PER_STREAM 10
#define COALESCE_MAX_US 10000

typedef struct
{
  SttIoNetworkFunc func;
  gpointer data;
} Watcher;

static SttIoWorker *workers;
static guint n_workers;
static gboolean network_was_available = TRUE;

/* Calls every watcher of @table; a watcher may unwatch others (or itself) meanwhile. */
static void
call_watchers (GHashTable * table)
{
  GList *ids = g_hash_table_get_keys (table), *l;

  for (l = ids; l; l = l->next) {
    Watcher *w = g_hash_table_lookup (table, l->data);
    if (w)
      w->func (w->data);
  }
  g_list_free (ids);
}

static gboolean
tick_cb (gpointer data)
{
  SttIoWorker *w = data;

  call_watchers (w->tickers);
  return G_SOURCE_CONTINUE;
}

/* Call on the worker's thread: libsoup binds a session to the thread-default context. */
static SoupSession *
new_session (void)
{
  /* Many streams to one host: never queue a connect behind another stream's. */
  return soup_session_new_with_options ("max-conns", 1 << 16,
      "max-conns-per-host", 1 << 16, "timeout", 30, NULL);
}

static gpointer
worker_main (gpointer data)
{
  SttIoWorker *w = data;
  GSource *tick;

  g_main_context_push_thread_default (w->context);
  w->tickers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  /* One timer per worker for the streams' once-a-second chores: a timer per stream
   * would make every main-loop iteration walk thousands of sources. */
  tick = g_timeout_source_new_seconds (1);
  g_source_set_callback (tick, tick_cb, w, NULL);
  g_source_attach (tick, w->context);
  g_source_unref (tick);
  w->watchers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  w->session = new_session ();
  g_mutex_lock (&w->lock);
  w->ready = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);

  /* The pool lives as long as the process. */
  for (;;) {
    gint64 wait;

    g_main_context_iteration (w->context, TRUE);
    wait = MIN ((gint64) g_atomic_int_get (&w->n_streams) * COALESCE_US_PER_STREAM,
        COALESCE_MAX_US);
    if (wait >= 50)
      g_usleep (wait);
  }
  return NULL;
}

static void
on_network_changed (GNetworkMonitor * monitor, gboolean available, gpointer data)
{
  /* Only the transition to available is news: a backoff wait may end now. */
  if (available && !g_atomic_int_get (&network_was_available))
    stt_io_pool_network_available ();
  g_atomic_int_set (&network_was_available, available);
}

static void
pool_init (void)
{
  const gchar *env = g_getenv ("STT_IO_THREADS");
  guint i, n = env ? (guint) atoi (env) : 0;

  if (n == 0)
    n = g_get_num_processors ();
  n = CLAMP (n, 1, 64);
  workers = g_new0 (SttIoWorker, n);
  for (i = 0; i < n; i++) {
    SttIoWorker *w = &workers[i];
    gchar name[16];

    g_mutex_init (&w->lock);
    g_cond_init (&w->cond);
    g_mutex_init (&w->batch_lock);
    w->batch = g_array_new (FALSE, FALSE, sizeof (Deferred));
    w->batch_spare = g_array_new (FALSE, FALSE, sizeof (Deferred));
    w->context = g_main_context_new ();
    g_snprintf (name, sizeof (name), "stt-io-%u", i);
    w->thread = g_thread_new (name, worker_main, w);
    g_mutex_lock (&w->lock);
    while (!w->ready)
      g_cond_wait (&w->cond, &w->lock);
    g_mutex_unlock (&w->lock);
  }
  n_workers = n;
  g_signal_connect (g_network_monitor_get_default (), "network-changed",
      G_CALLBACK (on_network_changed), NULL);
}

SttIoWorker *
stt_io_pool_acquire (void)
{
  static gsize init = 0;
  SttIoWorker *best;
  guint i;

  if (g_once_init_enter (&init)) {
    pool_init ();
    g_once_init_leave (&init, 1);
  }
  best = &workers[0];
  for (i = 1; i < n_workers; i++) {
    if (g_atomic_int_get (&workers[i].n_streams) < g_atomic_int_get (&best->n_streams))
      best = &workers[i];
  }
  g_atomic_int_inc (&best->n_streams);
  return best;
}

SttIoWorker *
stt_io_worker_retain (SttIoWorker * worker)
{
  g_atomic_int_inc (&worker->n_streams);
  return worker;
}

void
stt_io_worker_release (SttIoWorker * worker)
{
  g_atomic_int_dec_and_test (&worker->n_streams);
}

GMainContext *
stt_io_worker_get_context (SttIoWorker * worker)
{
  return worker->context;
}

SoupSession *
stt_io_worker_get_session (SttIoWorker * worker)
{
  g_return_val_if_fail (stt_io_worker_is_current (worker), NULL);
  return worker->session;
}

SoupSession *
stt_io_worker_get_isolated_session (SttIoWorker * worker)
{
  g_return_val_if_fail (stt_io_worker_is_current (worker), NULL);
  if (worker->isolated_session == NULL)
    worker->isolated_session = new_session ();
  return worker->isolated_session;
}

gboolean
stt_io_worker_is_current (SttIoWorker * worker)
{
  return g_thread_self () == worker->thread;
}

void
stt_io_worker_invoke (SttIoWorker * worker, GSourceFunc func, gpointer data,
    GDestroyNotify notify)
{
  g_main_context_invoke_full (worker->context, G_PRIORITY_DEFAULT, func, data, notify);
}

static gboolean
batch_cb (gpointer data)
{
  SttIoWorker *w = data;
  GArray *items;
  guint i;

  g_mutex_lock (&w->batch_lock);
  items = w->batch;
  w->batch = w->batch_spare;
  w->batch_scheduled = FALSE;
  g_mutex_unlock (&w->batch_lock);
  for (i = 0; i < items->len; i++) {
    Deferred *d = &g_array_index (items, Deferred, i);

    d->func (d->data);
    if (d->notify)
      d->notify (d->data);
  }
  g_array_set_size (items, 0);
  w->batch_spare = items;
  return G_SOURCE_REMOVE;
}

void
stt_io_worker_invoke_batched (SttIoWorker * worker, GSourceFunc func, gpointer data,
    GDestroyNotify notify)
{
  Deferred d = { func, data, notify };
  gboolean schedule;

  g_mutex_lock (&worker->batch_lock);
  g_array_append_val (worker->batch, d);
  schedule = !worker->batch_scheduled;
  worker->batch_scheduled = TRUE;
  g_mutex_unlock (&worker->batch_lock);
  if (schedule) {
    GSource *s = g_timeout_source_new (BATCH_MS);

    g_source_set_callback (s, batch_cb, worker, NULL);
    g_source_attach (s, worker->context);
    g_source_unref (s);
  }
}

GSource *
stt_io_worker_add_timeout (SttIoWorker * worker, guint ms, GSourceFunc func,
    gpointer data, GDestroyNotify notify)
{
  GSource *s = g_timeout_source_new (ms);

  g_source_set_callback (s, func, data, notify);
  g_source_attach (s, worker->context);
  return s;
}

GSource *
stt_io_worker_add_timeout_seconds (SttIoWorker * worker, guint seconds, GSourceFunc func,
    gpointer data, GDestroyNotify notify)
{
  GSource *s = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (s, func, data, notify);
  g_source_attach (s, worker->context);
  return s;
}

guint
stt_io_worker_watch_network (SttIoWorker * worker, SttIoNetworkFunc func, gpointer data)
{
  Watcher *w = g_new0 (Watcher, 1);

  g_return_val_if_fail (stt_io_worker_is_current (worker), 0);
  w->func = func;
  w->data = data;
  g_hash_table_insert (worker->watchers, GUINT_TO_POINTER (++worker->next_watch_id), w);
  return worker->next_watch_id;
}

void
stt_io_worker_unwatch_network (SttIoWorker * worker, guint id)
{
  g_return_if_fail (stt_io_worker_is_current (worker));
  g_hash_table_remove (worker->watchers, GUINT_TO_POINTER (id));
}

guint
stt_io_worker_watch_tick (SttIoWorker * worker, SttIoNetworkFunc func, gpointer data)
{
  Watcher *w = g_new0 (Watcher, 1);

  g_return_val_if_fail (stt_io_worker_is_current (worker), 0);
  w->func = func;
  w->data = data;
  g_hash_table_insert (worker->tickers, GUINT_TO_POINTER (++worker->next_watch_id), w);
  return worker->next_watch_id;
}

void
stt_io_worker_unwatch_tick (SttIoWorker * worker, guint id)
{
  g_return_if_fail (stt_io_worker_is_current (worker));
  g_hash_table_remove (worker->tickers, GUINT_TO_POINTER (id));
}

static gboolean
notify_network_cb (gpointer data)
{
  SttIoWorker *worker = data;

  call_watchers (worker->watchers);
  return G_SOURCE_REMOVE;
}

void
stt_io_pool_network_available (void)
{
  guint i;

  for (i = 0; i < n_workers; i++)
    g_main_context_invoke (workers[i].context, notify_network_cb, &workers[i]);
}

guint
stt_io_pool_get_n_threads (void)
{
  return n_workers;
}
