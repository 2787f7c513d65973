/* caption-room: a room, its connections, the finals it holds, and the fan-out.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A room is made when its first connection arrives (its store opened, its last
 * --history finals read back) and freed --room-ttl seconds after its last connection
 * left; its store stays on disk. It holds the frames of its last --history finals, in
 * id order, once for every viewer: a joining or catching-up viewer reads them from its
 * worker's copy (caption-workers.h), so history costs no memory per viewer.
 *
 * Everything a viewer receives enters the room through cap_room_deliver(), whether a
 * local publisher sent it (after cap_room_store_final()) or the Redis bridge
 * (caption-bridge.c) relays it.
 *
 * With --redis a room is shared while the bridge is up: its finals are numbered by
 * Redis and come back through the bridge (cap_room_shared_final()), its interims too.
 * It is "syncing" between its opening (or Redis coming back) and the end of the
 * bridge's catch-up: connections that join then wait for their welcome, and what the
 * channel brings is held back. While the bridge is down the room runs alone, as
 * without --redis: its finals are numbered by its own store and stay on this server. */
#pragma once

#include "caption-server.h"
#include "caption-protocol.h"
#include "caption-store.h"

G_BEGIN_DECLS

/* The frames of a room's last finals, ids last_id - n_held + 1 .. last_id, in a ring
 * of --history. The room holds one (main thread) and each of its shards a copy
 * (caption-workers.h): references to the same frames. */
typedef struct
{
  GBytes **held;
  gboolean *replaced;           /* per held frame: a later revision took it over */
  guint size;
  guint n_held;
  guint head;                   /* index of the oldest */
  gint64 last_id;
} CapHistory;

void cap_history_init (CapHistory * h, guint size);
void cap_history_copy (CapHistory * dst, const CapHistory * src);
void cap_history_clear (CapHistory * h);
/* Appends a final's frame, dropping the oldest when full; an @id that does not
 * follow last_id starts the history over. A revision's frame marks the frames it
 * replaces (its publisher's, starting in its stretch) as replaced. */
void cap_history_hold (CapHistory * h, gint64 id, GBytes * frame);
/* Whether a later revision replaced the held final @id: a joining viewer's history
 * leaves it out (the revision that follows it carries its words). */
gboolean cap_history_is_replaced (const CapHistory * h, gint64 id);
/* The id of the oldest final held (last_id + 1 when none is), and the frame of a
 * held final (transfer none; NULL when not held). */
gint64 cap_history_first (const CapHistory * h);
GBytes *cap_history_frame (const CapHistory * h, gint64 id);

typedef enum
{
  CAP_SHARE_LOCAL,              /* no --redis, or Redis down */
  CAP_SHARE_SYNCING,            /* catching up from Redis */
  CAP_SHARE_SHARED,
} CapShare;

struct _CapRoom
{
  CapServer *server;
  gchar *name;
  CapStore *store;
  GQueue publishers;            /* CapConn* */
  guint n_viewers;              /* admitted and not gone; they live on the workers */
  CapShard **shards;            /* one per worker (caption-workers.h) */
  guint *shard_viewers;         /* per worker: viewers admitted and not gone */

  CapHistory history;           /* its last --history finals; history.last_id is
                                 * the room's last final */

  GHashTable *last_seq;         /* publisher -> gint64*, read from the store once */
  guint ttl_id;

  /* --redis */
  CapShare share;
  guint sync_gen;               /* tells a sync's replies from an older one's */
  gint64 shared_id;             /* the last id from Redis (or the store at opening):
                                 * ids past it up to last_id were given here alone */
  GQueue sync_held;             /* CapCaption*: from the channel while syncing */
  guint64 unshared;             /* finals stored alone since Redis went down */
};

/* What enters a room for its viewers. */
typedef struct
{
  gboolean final;
  gint64 id;                    /* finals: the room-wide id */
  GBytes *frame;                /* the message viewers get */
  gint64 arrival;               /* g_get_monotonic_time() when it reached the server */
} CapDelivery;

/* The room @name, made (store opened, history read) when it is not held. NULL with
 * *code and *reason (static text) when it cannot be: 4004 past --max-rooms, 1011 when
 * the store fails. */
CapRoom *cap_room_open (CapServer * server, const gchar * name, gushort * code,
    const gchar ** reason);
CapRoom *cap_room_lookup (CapServer * server, const gchar * name);

/* A publisher joins or leaves; a viewer is only counted here (it joins a shard). */
void cap_room_join (CapRoom * room, CapConn * conn);
void cap_room_join_viewer (CapRoom * room);
/* May free the room (later, at --room-ttl) when it was the last connection. */
void cap_room_leave (CapRoom * room, CapConn * conn);
void cap_room_leave_viewer (CapRoom * room);

/* The highest seq stored from @publisher in the room (0 when none), or -1 when the
 * store fails. */
gint64 cap_room_last_seq (CapRoom * room, const gchar * publisher);
/* Stores the final @c (publisher and seq set; time and id are set here). */
gboolean cap_room_store_final (CapRoom * room, CapCaption * c, GError ** error);

/* Fans @d out to the viewers (through the workers); a final is held for later
 * viewers too. */
void cap_room_deliver (CapRoom * room, const CapDelivery * d);

/* ---------- the Redis bridge (caption-bridge.c) ---------- */

/* Neither syncing nor shared: finals are numbered and stored here. */
gboolean cap_room_is_local (CapRoom * room);
/* Not syncing: connections are welcomed as they join. */
gboolean cap_room_is_ready (CapRoom * room);
/* The bridge is up (or was up when the room opened): catch up, then share. */
void cap_room_share_start (CapRoom * room);
/* The bridge is down: run alone. Publishers whose finals went to Redis unacknowledged
 * are closed with 1011 (they send them again). */
void cap_room_share_stop (CapRoom * room);
/* A final from Redis (@c complete; held back while syncing, its contents taken). */
void cap_room_shared_final (CapRoom * room, CapCaption * c, gint64 arrival);
/* An interim's frame from Redis. */
void cap_room_shared_interim (CapRoom * room, GBytes * frame, gint64 arrival);
/* Redis says @publisher's finals up to @seq are stored. */
void cap_room_merge_last_seq (CapRoom * room, const gchar * publisher,
    gint64 seq);
/* Calls @func with every publisher's last seq known here (store and Redis). FALSE
 * when the store fails. */
gboolean cap_room_foreach_last_seq (CapRoom * room, GHFunc func,
    gpointer user_data);
/* The catch-up: @finals (CapCaption*, in id order) are the stream's entries after
 * shared_id; then what the channel brought meanwhile. The room is shared and its
 * waiting connections are welcomed. */
void cap_room_sync_done (CapRoom * room, GPtrArray * finals, gint64 arrival);
/* A final of a local publisher stored here while Redis is down. */
void cap_room_note_unshared (CapRoom * room, const CapCaption * c);

/* Frees every room, closing the stores (at exit, with no connection left). */
void cap_room_free_all (CapServer * server);
/* The value destructor of server->rooms. */
void cap_room_destroy (gpointer room);

G_END_DECLS
