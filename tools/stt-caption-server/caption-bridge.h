/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-bridge: scale-out over Redis (--redis redis://HOST:PORT). Instances that
 * share a Redis share their rooms: a viewer on any instance sees every publisher's
 * captions, with the same room-wide ids. docs/caption-server.md, "Scale-out", is the
 * contract; this is how it is kept.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Redis is the room's sequencer. Per room (keys carry the room as a hash tag):
 *   stt-caption:{ROOM}:id      the last room-wide id (a counter)
 *   stt-caption:{ROOM}:seq     a hash, publisher -> the highest seq stored
 *   stt-caption:{ROOM}:finals  a stream of the last finals' frames, entry id 0-ID
 *   stt-caption:{ROOM}         the channel every caption of the room goes through
 * A final from a local publisher goes to one Lua script that checks its seq, takes
 * the next id, appends the frame to the stream and publishes it, atomically: so the
 * channel carries the finals in id order. Every instance, the publisher's own too,
 * stores and fans out finals as they come back from the channel (one pattern
 * subscription for all rooms), and a publisher's ack waits until its own instance
 * has stored the final. Interims go through the channel too, so that a final never
 * overtakes an interim sent before it.
 *
 * A room is synchronised when it is opened, and for every room held when Redis comes
 * back: a second script raises the room's counter and seqs in Redis to at least what
 * this instance's store holds (a Redis that restarted empty learns them back), and
 * the stream entries after the store's last id are stored here. Until then the
 * room's new connections wait for their welcome and what comes through the channel
 * is held back.
 *
 * Two connections: one for commands, one subscribed. The bridge is up once both
 * are. When either fails, or a PING gets no reply within PING_INTERVAL, both are
 * dropped, the rooms run alone (caption-room.c), a warning line is logged, and the
 * bridge connects again after 1 s, doubling to 30 s. */
#pragma once

#include "caption-server.h"
#include "caption-protocol.h"

G_BEGIN_DECLS

#ifdef CAP_HAVE_REDIS

/* Parses @url (redis://HOST[:PORT], default port 6379). NULL with @error for any
 * other form (a password, a database, another scheme). */
CapBridge *cap_bridge_new (CapServer * server, const gchar * url,
    GError ** error);
/* Connects, in the background: the rooms run alone until it is up. */
void cap_bridge_start (CapBridge * b);
void cap_bridge_free (CapBridge * b);

gboolean cap_bridge_is_up (CapBridge * b);
/* "up", "connecting" or "down", for /health. */
const gchar *cap_bridge_state_name (CapBridge * b);

/* Synchronises @room (caption-room.c set it syncing): its result comes back through
 * cap_room_merge_last_seq() and cap_room_sync_done(). FALSE when it cannot be sent. */
gboolean cap_bridge_sync_room (CapBridge * b, CapRoom * room);
/* Sends a final of the local publisher @conn_id to the room's sequencer (@c complete
 * but for its id). Its ack waits for the final to come back stored. FALSE when it
 * cannot be sent. */
gboolean cap_bridge_publish_final (CapBridge * b, CapRoom * room,
    guint conn_id, const CapCaption * c);
/* Sends an interim's frame through the room's channel. */
gboolean cap_bridge_publish_interim (CapBridge * b, CapRoom * room,
    GBytes * frame);

#else

static inline gboolean
cap_bridge_is_up (CapBridge * b)
{
  return FALSE;
}

static inline const gchar *
cap_bridge_state_name (CapBridge * b)
{
  return "off";
}

static inline gboolean
cap_bridge_sync_room (CapBridge * b, CapRoom * room)
{
  return FALSE;
}

static inline gboolean
cap_bridge_publish_final (CapBridge * b, CapRoom * room, guint conn_id,
    const CapCaption * c)
{
  return FALSE;
}

static inline gboolean
cap_bridge_publish_interim (CapBridge * b, CapRoom * room, GBytes * frame)
{
  return FALSE;
}

#endif

G_END_DECLS
