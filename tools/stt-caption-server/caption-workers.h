/* caption-workers: the threads that hold the viewers of stt-caption-server.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One GMainContext cannot serve thousands of viewers in time: a final to 5000 viewers
 * is 80-110 ms of one core, and every frame a client sends (a pong) costs two walks of
 * GLib's poll-record list, which is as long as the context has sockets
 * (bench/README.md, "Caption fan-out"). So viewers are spread over --threads workers,
 * each a thread with its own GMainContext that holds its viewers' WebSocket
 * connections: the fan-out runs on every core and each poll list is a share.
 *
 * The main thread keeps everything else: the SoupServer and the handshakes, admission
 * (and its counts: per address, per room, /health), publishers, rooms and their stores,
 * Redis, metrics. A viewer is admitted there, then handed to the worker with the
 * fewest viewers, which makes its SoupWebsocketConnection (libsoup attaches a
 * connection's sources to the thread-default context of the thread that calls it, so
 * it must only be used from there). When it closes, the worker tells the main thread,
 * which releases its counts.
 *
 * Each room has a shard in every worker: the worker's copy of the room's held finals
 * and the room's viewers on that worker. The room posts every final (one shared
 * frame) to each shard that has viewers, in order, through the worker's queue (and a
 * copy of its history to a shard when its first viewer joins): a viewer that joins a
 * shard gets the shard's history and then what follows it, with no gap and no
 * duplicate, whatever the other threads do meanwhile. Threads talk only through
 * these queues (cap_worker_post(), cap_server_post()) and the atomic counters of
 * caption-metrics.h. */
#pragma once

#include "caption-server.h"
#include "caption-room.h"

G_BEGIN_DECLS

/* A room as one worker sees it; owned by that worker once posted. */
struct _CapShard
{
  CapWorker *worker;
  CapRoom *room;                /* the main thread's: only to post back to it */
  gchar *name;
  CapHistory history;           /* in step with the viewers' stream */
  gboolean ready;               /* the room is not syncing: viewers are welcomed */
  GQueue viewers;               /* CapConn* */
};

/* Starts @n workers (server->workers). */
void cap_workers_start (CapServer * server, guint n);
/* Stops them (after the main loop): their threads are joined. What is posted to them
 * afterwards is only freed. */
void cap_workers_stop (CapServer * server);
/* Frees them (stopped, and their rooms freed). */
void cap_workers_free (CapServer * server);

/* The worker with the fewest viewers, counted as one more. */
CapWorker *cap_workers_pick (CapServer * server);
/* A viewer of @worker has gone (main thread). */
void cap_worker_release (CapWorker * worker);
guint cap_worker_get_index (CapWorker * worker);
/* The worker's viewers (worker thread only). */
GQueue *cap_worker_get_conns (CapWorker * worker);

/* Runs @func (@data) on @worker's thread, after what was posted before; @destroy
 * frees @data afterwards (also when the worker stops first). */
void cap_worker_post (CapWorker * worker, GSourceFunc func, gpointer data,
    GDestroyNotify destroy);
/* The same towards the main thread. */
void cap_server_post (CapServer * server, GSourceFunc func, gpointer data,
    GDestroyNotify destroy);

/* ---------- rooms (main thread) ---------- */

/* A shard of @room in every worker (room->shards), holding the room's history. */
void cap_shards_open (CapRoom * room);
/* Frees them once the workers are done with them (the room has no viewers). */
void cap_shards_close (CapRoom * room);
/* Posts @d to the shards that have viewers; the last worker to have queued it for
 * its viewers observes the fan-out time of a final. */
void cap_shards_deliver (CapRoom * room, const CapDelivery * d);
/* A viewer of @room was admitted to @worker, or has gone: a shard without viewers
 * is not sent the room's finals, and gets the room's history again when one joins. */
CapShard *cap_shards_join (CapRoom * room, CapWorker * worker);
void cap_shards_leave (CapRoom * room, CapWorker * worker);
/* The room is syncing (FALSE) or not: the shards welcome their waiting viewers. */
void cap_shards_set_ready (CapRoom * room, gboolean ready);

/* Every worker's viewers: closed with @code (1001, shutting down) or dropped. */
void cap_workers_close_all (CapServer * server);
void cap_workers_abort_all (CapServer * server);

G_END_DECLS
