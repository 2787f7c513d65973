/* caption-room: a room, its connections, the finals it holds, and the fan-out.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A room is made when its first connection arrives (its store opened, its last
 * --history finals read back) and freed --room-ttl seconds after its last connection
 * left; its store stays on disk. It holds the frames of its last --history finals, in
 * id order, once for every viewer: a joining or catching-up viewer reads them from here
 * (caption-conn.c), so history costs no memory per viewer.
 *
 * Everything a viewer receives enters the room through cap_room_deliver(), whether a
 * local publisher sent it (after cap_room_store_final()) or, later, a bridge to other
 * servers (Redis pub/sub) relays a final another server stored. */
#pragma once

#include "caption-server.h"
#include "caption-protocol.h"
#include "caption-store.h"

G_BEGIN_DECLS

struct _CapRoom
{
  CapServer *server;
  gchar *name;
  CapStore *store;
  GQueue publishers;            /* CapConn* */
  GQueue viewers;               /* CapConn* */

  /* The last finals, ids last_id - n_held + 1 .. last_id, in a ring. */
  GBytes **held;                /* opts.history frames */
  guint n_held;
  guint head;                   /* index of the oldest */
  gint64 last_id;

  GHashTable *last_seq;         /* publisher -> gint64*, read from the store once */
  guint ttl_id;
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

void cap_room_join (CapRoom * room, CapConn * conn);
/* May free the room (later, at --room-ttl) when it was the last connection. */
void cap_room_leave (CapRoom * room, CapConn * conn);

/* The highest seq stored from @publisher in the room (0 when none), or -1 when the
 * store fails. */
gint64 cap_room_last_seq (CapRoom * room, const gchar * publisher);
/* Stores the final @c (publisher and seq set; time and id are set here). */
gboolean cap_room_store_final (CapRoom * room, CapCaption * c, GError ** error);

/* Fans @d out to the viewers; a final is held for later viewers too. */
void cap_room_deliver (CapRoom * room, const CapDelivery * d);

/* History, for viewers catching up: the id of the oldest final held (last_id + 1 when
 * none is), and the frame of a held final (transfer none). */
gint64 cap_room_first_held (CapRoom * room);
GBytes *cap_room_held_frame (CapRoom * room, gint64 id);

/* Frees every room, closing the stores (at exit, with no connection left). */
void cap_room_free_all (CapServer * server);
/* The value destructor of server->rooms. */
void cap_room_destroy (gpointer room);

G_END_DECLS
