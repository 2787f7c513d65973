/* caption-workers: see caption-workers.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "caption-conn.h"
#include "caption-workers.h"

typedef struct
{
  GSourceFunc func;             /* NULL: only @destroy */
  gpointer data;
  GDestroyNotify destroy;
} Task;

struct _CapWorker
{
  CapServer *server;
  guint index;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* Posted tasks, run in order by one idle source at a time. */
  GMutex lock;
  GQueue tasks;                 /* Task* */
  gboolean stopped;             /* tasks posted now are only destroyed */

  /* worker thread */
  GQueue conns;                 /* CapConn*: its viewers, open or closing */

  /* main thread */
  guint n_viewers;              /* handed to it and not gone */
};

/* A delivery as the workers share it. */
typedef struct
{
  CapServer *server;
  gboolean final;
  gint64 id;
  GBytes *frame;
  gint64 arrival;
  gint pending;                 /* workers that have not queued it yet */
} Fanout;

typedef struct
{
  CapShard *shard;
  Fanout *fanout;               /* a reference (g_atomic_rc_box) */
} DeliverTask;

typedef struct
{
  CapShard *shard;
  gboolean ready;
} ReadyTask;

static void
task_free (Task * task)
{
  if (task->destroy)
    task->destroy (task->data);
  g_free (task);
}

/* ---------- the queue ---------- */

static gboolean
worker_drain (gpointer user_data)
{
  CapWorker *worker = user_data;
  GQueue tasks = G_QUEUE_INIT;
  Task *task;

  g_mutex_lock (&worker->lock);
  tasks = worker->tasks;
  g_queue_init (&worker->tasks);
  g_mutex_unlock (&worker->lock);

  while ((task = g_queue_pop_head (&tasks))) {
    if (task->func)
      task->func (task->data);
    task_free (task);
  }
  return G_SOURCE_REMOVE;
}

void
cap_worker_post (CapWorker * worker, GSourceFunc func, gpointer data,
    GDestroyNotify destroy)
{
  Task *task = g_new (Task, 1);
  gboolean wake;

  task->func = func;
  task->data = data;
  task->destroy = destroy;
  g_mutex_lock (&worker->lock);
  if (worker->stopped) {
    g_mutex_unlock (&worker->lock);
    task_free (task);
    return;
  }
  /* One wake-up per batch: a drain is due for any task already queued. */
  wake = g_queue_is_empty (&worker->tasks);
  g_queue_push_tail (&worker->tasks, task);
  g_mutex_unlock (&worker->lock);
  if (wake) {
    GSource *source = g_idle_source_new ();

    /* At the sockets' priority, as the fan-out was on the main thread. */
    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, worker_drain, worker, NULL);
    g_source_attach (source, worker->context);
    g_source_unref (source);
  }
}

void
cap_server_post (CapServer * server, GSourceFunc func, gpointer data,
    GDestroyNotify destroy)
{
  /* Rare (a viewer gone, a final's fan-out time): a source each is cheap. */
  g_main_context_invoke_full (server->context, G_PRIORITY_DEFAULT, func, data,
      destroy);
}

/* ---------- the threads ---------- */

static gboolean
on_sweep (gpointer user_data)
{
  CapWorker *worker = user_data;

  cap_conn_sweep (worker->server, &worker->conns);
  return G_SOURCE_CONTINUE;
}

static gpointer
worker_run (gpointer user_data)
{
  CapWorker *worker = user_data;
  GSource *sweep;

  /* libsoup attaches a connection's sources to the thread-default context. */
  g_main_context_push_thread_default (worker->context);
  sweep = g_timeout_source_new_seconds (1);
  g_source_set_callback (sweep, on_sweep, worker, NULL);
  g_source_attach (sweep, worker->context);
  g_main_loop_run (worker->loop);
  g_source_destroy (sweep);
  g_source_unref (sweep);
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

void
cap_workers_start (CapServer * server, guint n)
{
  guint i;

  server->n_workers = n;
  server->workers = g_new0 (CapWorker *, n);
  for (i = 0; i < n; i++) {
    CapWorker *worker = g_new0 (CapWorker, 1);
    g_autofree gchar *name = g_strdup_printf ("viewers-%u", i);

    worker->server = server;
    worker->index = i;
    worker->context = g_main_context_new ();
    worker->loop = g_main_loop_new (worker->context, FALSE);
    g_mutex_init (&worker->lock);
    worker->thread = g_thread_new (name, worker_run, worker);
    server->workers[i] = worker;
  }
}

static gboolean
quit_task (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

void
cap_workers_stop (CapServer * server)
{
  guint i;

  for (i = 0; i < server->n_workers; i++) {
    CapWorker *worker = server->workers[i];

    cap_worker_post (worker, quit_task, worker->loop, NULL);
    g_thread_join (worker->thread);
    /* What was posted after the quit, and what comes from now on (a room's shards
     * freed at exit), is only freed. Connections still open are left to the exit,
     * as on the main thread. */
    g_mutex_lock (&worker->lock);
    worker->stopped = TRUE;
    g_queue_clear_full (&worker->tasks, (GDestroyNotify) task_free);
    g_mutex_unlock (&worker->lock);
  }
}

void
cap_workers_free (CapServer * server)
{
  guint i;

  for (i = 0; i < server->n_workers; i++) {
    CapWorker *worker = server->workers[i];

    g_main_loop_unref (worker->loop);
    g_main_context_unref (worker->context);
    g_mutex_clear (&worker->lock);
    g_free (worker);
  }
  g_clear_pointer (&server->workers, g_free);
  server->n_workers = 0;
}

CapWorker *
cap_workers_pick (CapServer * server)
{
  CapWorker *best = server->workers[0];
  guint i;

  for (i = 1; i < server->n_workers; i++)
    if (server->workers[i]->n_viewers < best->n_viewers)
      best = server->workers[i];
  best->n_viewers++;
  return best;
}

void
cap_worker_release (CapWorker * worker)
{
  worker->n_viewers--;
}

guint
cap_worker_get_index (CapWorker * worker)
{
  return worker->index;
}

GQueue *
cap_worker_get_conns (CapWorker * worker)
{
  return &worker->conns;
}

/* ---------- shards ---------- */

static void
shard_free (gpointer data)
{
  CapShard *shard = data;

  /* Empty: a room goes once every viewer has gone, but at exit, when the last
   * clients were given up on. Those connections are left to the exit. */
  cap_history_clear (&shard->history);
  g_free (shard->name);
  g_free (shard);
}

void
cap_shards_open (CapRoom * room)
{
  CapServer *server = room->server;
  guint i;

  room->shards = g_new0 (CapShard *, server->n_workers);
  room->shard_viewers = g_new0 (guint, server->n_workers);
  for (i = 0; i < server->n_workers; i++) {
    CapShard *shard = g_new0 (CapShard, 1);

    /* Made here, but read by the worker only after the post that hands it its
     * first delivery (the queue's lock orders the two). */
    shard->worker = server->workers[i];
    shard->room = room;
    shard->name = g_strdup (room->name);
    /* Filled when its first viewer joins (cap_shards_join()). */
    cap_history_init (&shard->history, room->history.size);
    shard->ready = cap_room_is_ready (room);
    room->shards[i] = shard;
  }
}

void
cap_shards_close (CapRoom * room)
{
  CapServer *server = room->server;
  guint i;

  /* After anything posted to them before. */
  for (i = 0; i < server->n_workers; i++)
    cap_worker_post (server->workers[i], NULL, room->shards[i], shard_free);
  g_clear_pointer (&room->shards, g_free);
  g_clear_pointer (&room->shard_viewers, g_free);
}

typedef struct
{
  CapShard *shard;
  CapHistory history;
} ResyncTask;

static void
resync_task_free (gpointer data)
{
  ResyncTask *t = data;

  cap_history_clear (&t->history);
  g_free (t);
}

static gboolean
resync_task (gpointer user_data)
{
  ResyncTask *t = user_data;
  CapHistory old = t->shard->history;

  /* The room's history when the first viewer was admitted: the finals posted since
   * follow it. */
  t->shard->history = t->history;
  t->history = old;
  return G_SOURCE_REMOVE;
}

CapShard *
cap_shards_join (CapRoom * room, CapWorker * worker)
{
  guint i = worker->index;

  if (room->shard_viewers[i]++ == 0) {
    ResyncTask *t = g_new (ResyncTask, 1);

    /* It was sent nothing while it had no viewer. */
    t->shard = room->shards[i];
    cap_history_copy (&t->history, &room->history);
    cap_worker_post (worker, resync_task, t, resync_task_free);
  }
  return room->shards[i];
}

void
cap_shards_leave (CapRoom * room, CapWorker * worker)
{
  room->shard_viewers[worker->index]--;
}

static void
fanout_clear (gpointer data)
{
  Fanout *f = data;

  g_bytes_unref (f->frame);
}

static void
deliver_task_free (gpointer data)
{
  DeliverTask *t = data;

  g_atomic_rc_box_release_full (t->fanout, fanout_clear);
  g_free (t);
}

typedef struct
{
  CapServer *server;
  gdouble seconds;
} Observation;

static gboolean
observe (gpointer user_data)
{
  Observation *o = user_data;

  cap_metrics_observe_fanout (&o->server->metrics, o->seconds);
  return G_SOURCE_REMOVE;
}

static gboolean
deliver_task (gpointer user_data)
{
  DeliverTask *t = user_data;
  CapShard *shard = t->shard;
  Fanout *f = t->fanout;
  GList *l;

  if (f->final)
    cap_history_hold (&shard->history, f->id, f->frame);
  /* Closing a viewer (4010) does not take it off the list: that waits for its
   * "closed" signal, from the worker's loop. */
  for (l = shard->viewers.head; l; l = l->next) {
    if (f->final)
      cap_conn_offer_final (l->data, f->id, f->frame);
    else
      cap_conn_send (l->data, f->frame);
  }
  /* Queued for every viewer of the room once the last worker is here. */
  if (f->final && g_atomic_int_dec_and_test (&f->pending)) {
    Observation *o = g_new (Observation, 1);

    o->server = f->server;
    o->seconds = (gdouble) (g_get_monotonic_time () - f->arrival) /
        G_USEC_PER_SEC;
    cap_server_post (f->server, observe, o, g_free);
  }
  return G_SOURCE_REMOVE;
}

void
cap_shards_deliver (CapRoom * room, const CapDelivery * d)
{
  CapServer *server = room->server;
  Fanout *f;
  guint i, n = 0;

  for (i = 0; i < server->n_workers; i++)
    if (room->shard_viewers[i] > 0)
      n++;
  if (n == 0) {
    /* No viewer: queued for all of them now. */
    if (d->final)
      cap_metrics_observe_fanout (&server->metrics,
          (gdouble) (g_get_monotonic_time () - d->arrival) / G_USEC_PER_SEC);
    return;
  }
  f = g_atomic_rc_box_new0 (Fanout);
  f->server = server;
  f->final = d->final;
  f->id = d->id;
  f->frame = g_bytes_ref (d->frame);
  f->arrival = d->arrival;
  f->pending = n;
  for (i = 0; i < server->n_workers; i++) {
    DeliverTask *t;

    if (room->shard_viewers[i] == 0)
      continue;
    t = g_new (DeliverTask, 1);

    t->shard = room->shards[i];
    t->fanout = g_atomic_rc_box_acquire (f);
    cap_worker_post (server->workers[i], deliver_task, t, deliver_task_free);
  }
  g_atomic_rc_box_release_full (f, fanout_clear);
}

static gboolean
ready_task (gpointer user_data)
{
  ReadyTask *t = user_data;
  GList *l;

  t->shard->ready = t->ready;
  if (t->ready)
    for (l = t->shard->viewers.head; l; l = l->next)
      cap_conn_welcome (l->data);
  return G_SOURCE_REMOVE;
}

void
cap_shards_set_ready (CapRoom * room, gboolean ready)
{
  CapServer *server = room->server;
  guint i;

  for (i = 0; i < server->n_workers; i++) {
    ReadyTask *t = g_new (ReadyTask, 1);

    t->shard = room->shards[i];
    t->ready = ready;
    cap_worker_post (server->workers[i], ready_task, t, g_free);
  }
}

/* ---------- every viewer ---------- */

static gboolean
close_all_task (gpointer user_data)
{
  CapWorker *worker = user_data;

  cap_conn_close_all (&worker->conns);
  return G_SOURCE_REMOVE;
}

static gboolean
abort_all_task (gpointer user_data)
{
  CapWorker *worker = user_data;

  cap_conn_abort_all (&worker->conns);
  return G_SOURCE_REMOVE;
}

void
cap_workers_close_all (CapServer * server)
{
  guint i;

  for (i = 0; i < server->n_workers; i++)
    cap_worker_post (server->workers[i], close_all_task, server->workers[i],
        NULL);
}

void
cap_workers_abort_all (CapServer * server)
{
  guint i;

  for (i = 0; i < server->n_workers; i++)
    cap_worker_post (server->workers[i], abort_all_task, server->workers[i],
        NULL);
}
