/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-conn: one WebSocket connection of stt-caption-server, publisher or viewer:
 * its admission (room name, per-address limit, token, room limits), its messages, its
 * send queue and its close.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Send queue: libsoup 3.2 queues every frame it is given, without bound, and says
 * nothing of what it has written. So a connection hands libsoup one frame at a time:
 * the next only once the guard (tools/stt-local-guard.c) has seen the previous one's
 * bytes written to the socket. Live frames wait in the connection's own queue, whose
 * unsent bytes (the queue plus what is left of the frame in libsoup) are bounded by
 * --max-queue: past it the connection is closed with 4010 and its queue dropped at
 * once. A viewer's history (on joining, or to catch up) is not queued: it is read from
 * the room's held finals as the socket takes it, so it costs nothing per viewer. A
 * viewer that never reads therefore holds at most --max-queue bytes plus one frame
 * (and the kernel its socket's send buffer, fixed at 64 KiB), and the others are not
 * delayed: writes never block.
 *
 * Threads: a publisher's connection is used on the main thread only, an admitted
 * viewer's on its worker's thread only (caption-workers.h). */
#pragma once

#include <libsoup/soup.h>

#include "caption-server.h"
#include "caption-metrics.h"

G_BEGIN_DECLS

/* A WebSocket handshake of @msg is done, @stream taken from the SoupServer: the
 * connection is admitted or refused. A publisher stays on the main thread, an
 * admitted viewer goes to a worker (caption-workers.h). */
void cap_conn_on_upgrade (CapServer * server, SoupServerMessage * msg,
    GIOStream * stream);

CapRole cap_conn_get_role (CapConn * conn);
/* The link of a publisher in its room's list (caption-room.c). */
GList *cap_conn_get_room_link (CapConn * conn);

/* Queues a live frame (an interim) for @conn; closes it with 4010 when its unsent
 * bytes would pass --max-queue. A viewer still catching up skips interims. */
void cap_conn_send (CapConn * conn, GBytes * frame);
/* A new final (@id) is held by @conn's room: queued like cap_conn_send(), or read from
 * the room later by a viewer still catching up. */
void cap_conn_offer_final (CapConn * conn, gint64 id, GBytes * frame);

guint cap_conn_get_id (CapConn * conn);
/* A publisher's name (the token's sub), NULL for a viewer. */
const gchar *cap_conn_get_publisher (CapConn * conn);

/* Welcomes @conn, which joined while its room was syncing (no-op otherwise). */
void cap_conn_welcome (CapConn * conn);
/* The room stored (or, @stored FALSE, failed to store) the final @seq of @conn's
 * publisher: the acks up to it go out in order, or @conn is closed with 1011 when
 * it waits for one of them. */
void cap_conn_final_stored (CapConn * conn, gint64 seq, gboolean stored);
/* A final of this publisher went to Redis and is not acknowledged yet. */
gboolean cap_conn_has_unacked (CapConn * conn);

/* Closes @conn with @code and @reason (and counts @drop, unless CAP_N_DROPS); its
 * queue is dropped and its socket shut down if the close does not complete soon. */
void cap_conn_close (CapConn * conn, gushort code, const gchar * reason,
    CapDrop drop);

/* Every connection of @conns (server->conns, or a worker's on its thread): closed
 * with 1001 (shutdown), or dropped at once. */
void cap_conn_close_all (GQueue * conns);
void cap_conn_abort_all (GQueue * conns);

/* Closes with 4008 the connections of @conns that sent nothing, not even a pong, for
 * --heartbeat-timeout. Called every second on each thread. */
void cap_conn_sweep (CapServer * server, GQueue * conns);

G_END_DECLS
