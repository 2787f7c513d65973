/* caption-room: see caption-room.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "caption-bridge.h"
#include "caption-conn.h"
#include "caption-log.h"
#include "caption-room.h"
#include "caption-workers.h"

static void
caption_free (gpointer c)
{
  cap_caption_clear (c);
  g_free (c);
}

static void
room_free (CapRoom * room)
{
  if (room->ttl_id)
    g_source_remove (room->ttl_id);
  if (room->shards)
    cap_shards_close (room);
  cap_history_clear (&room->history);
  g_queue_clear_full (&room->sync_held, caption_free);
  cap_store_close (room->store);
  g_hash_table_unref (room->last_seq);
  g_free (room->name);
  g_free (room);
}

static void
log_room (CapRoom * room, const gchar * event)
{
  CapJson j;

  cap_log_begin (&j, event);
  cap_json_add_string (&j, "room", room->name);
  cap_json_add_int (&j, "last_id", room->history.last_id);
  cap_log_end (&j);
}

/* Removes and frees @room (not in use). */
static void
room_drop (CapRoom * room)
{
  log_room (room, "room_free");
  g_hash_table_remove (room->server->rooms, room->name);
}

static gboolean
room_is_empty (CapRoom * room)
{
  return room->publishers.length == 0 && room->n_viewers == 0;
}

/* Makes room for one more room: frees an empty room, if there is one, before its
 * time. FALSE when every room has connections. */
static gboolean
evict_empty_room (CapServer * server)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, server->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (room_is_empty (value)) {
      room_drop (value);
      return TRUE;
    }
  }
  return FALSE;
}

/* ---------- history ---------- */

void
cap_history_init (CapHistory * h, guint size)
{
  memset (h, 0, sizeof (*h));
  h->size = size;
  h->held = g_new0 (GBytes *, MAX (size, 1));
  h->replaced = g_new0 (gboolean, MAX (size, 1));
}

void
cap_history_copy (CapHistory * dst, const CapHistory * src)
{
  guint i;

  cap_history_init (dst, src->size);
  for (i = 0; i < src->n_held; i++) {
    dst->held[i] = g_bytes_ref (src->held[(src->head + i) % src->size]);
    dst->replaced[i] = src->replaced[(src->head + i) % src->size];
  }
  dst->n_held = src->n_held;
  dst->last_id = src->last_id;
}

static void
drop_oldest (CapHistory * h)
{
  g_bytes_unref (h->held[h->head]);
  h->replaced[h->head] = FALSE;
  h->head = (h->head + 1) % h->size;
  h->n_held--;
}

void
cap_history_clear (CapHistory * h)
{
  while (h->n_held > 0)
    drop_oldest (h);
  g_clear_pointer (&h->held, g_free);
  g_clear_pointer (&h->replaced, g_free);
}

/* The revision @frame replaces the held frames of its publisher that start in its
 * stretch (finals, or an earlier revision wholly inside it). */
static void
mark_replaced (CapHistory * h, GBytes * frame)
{
  CapCaption rev, c;
  gsize len;
  const gchar *data = g_bytes_get_data (frame, &len);
  guint i;

  if (len < strlen (CAP_MSG_REVISION_HEAD) ||
      memcmp (data, CAP_MSG_REVISION_HEAD, strlen (CAP_MSG_REVISION_HEAD)) != 0 ||
      !cap_final_parse (data, len, &rev))
    return;
  for (i = 0; i < h->n_held; i++) {
    guint slot = (h->head + i) % h->size;

    if (h->replaced[slot])
      continue;
    data = g_bytes_get_data (h->held[slot], &len);
    if (!cap_final_parse (data, len, &c))
      continue;
    /* An earlier revision only when wholly inside: its words after the stretch
     * stay. */
    h->replaced[slot] = g_strcmp0 (c.publisher, rev.publisher) == 0 &&
        c.start >= rev.start && c.start < rev.end &&
        (!c.revision || c.end <= rev.end);
    cap_caption_clear (&c);
  }
  cap_caption_clear (&rev);
}

void
cap_history_hold (CapHistory * h, gint64 id, GBytes * frame)
{
  /* Ids of one store follow each other; anything else (a relayed final after a lost
   * one) starts the history over. */
  if (id != h->last_id + 1) {
    while (h->n_held > 0)
      drop_oldest (h);
  }
  h->last_id = id;
  if (h->size == 0)
    return;
  if (h->n_held == h->size)
    drop_oldest (h);
  mark_replaced (h, frame);
  h->held[(h->head + h->n_held) % h->size] = g_bytes_ref (frame);
  h->n_held++;
}

gboolean
cap_history_is_replaced (const CapHistory * h, gint64 id)
{
  gint64 first = cap_history_first (h);

  if (id < first || id > h->last_id)
    return FALSE;
  return h->replaced[(h->head + (id - first)) % h->size];
}

gint64
cap_history_first (const CapHistory * h)
{
  return h->last_id - h->n_held + 1;
}

GBytes *
cap_history_frame (const CapHistory * h, gint64 id)
{
  gint64 first = cap_history_first (h);

  if (id < first || id > h->last_id)
    return NULL;
  return h->held[(h->head + (id - first)) % h->size];
}

/* ---------- rooms ---------- */

static void
hold_stored (CapCaption * c, gpointer user_data)
{
  CapRoom *room = user_data;
  g_autoptr (GBytes) frame = cap_msg_final (c);

  cap_history_hold (&room->history, c->id, frame);
}

static gboolean
on_ttl (gpointer user_data)
{
  CapRoom *room = user_data;

  room->ttl_id = 0;
  room_drop (room);
  return G_SOURCE_REMOVE;
}

CapRoom *
cap_room_lookup (CapServer * server, const gchar * name)
{
  return g_hash_table_lookup (server->rooms, name);
}

CapRoom *
cap_room_open (CapServer * server, const gchar * name, gushort * code,
    const gchar ** reason)
{
  g_autoptr (GError) error = NULL;
  CapRoom *room = cap_room_lookup (server, name);
  gint64 last_id;

  if (room)
    return room;
  if (g_hash_table_size (server->rooms) >= (guint) server->opts.max_rooms &&
      !evict_empty_room (server))
    goto too_many;

  room = g_new0 (CapRoom, 1);
  room->server = server;
  room->name = g_strdup (name);
  cap_history_init (&room->history, server->opts.history);
  room->last_seq = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  room->store = cap_store_open (server->opts.store_dir, name, TRUE, &error);
  if (!room->store)
    goto store_failed;
  last_id = cap_store_last_id (room->store, &error);
  if (last_id < 0)
    goto store_failed;
  /* The history survives a restart: the last finals come back from the store. */
  room->history.last_id = MAX (0, last_id - server->opts.history);
  if (!cap_store_foreach (room->store, room->history.last_id, hold_stored,
          room, &error))
    goto store_failed;
  room->history.last_id = last_id;
  room->shared_id = last_id;
  cap_shards_open (room);

  g_hash_table_insert (server->rooms, room->name, room);
  log_room (room, "room_open");
  /* Empty until a connection joins: one refused after this does not keep it. */
  room->ttl_id = g_timeout_add_seconds (server->opts.room_ttl, on_ttl, room);
  if (server->bridge && cap_bridge_is_up (server->bridge))
    cap_room_share_start (room);
  return room;

  /* ERRORS */
too_many:
  {
    *code = CAP_CLOSE_ROOM;
    *reason = "too many rooms";
    return NULL;
  }
store_failed:
  {
    CapJson j;

    cap_log_begin (&j, "store_error");
    cap_json_add_string (&j, "room", name);
    cap_json_add_string (&j, "error", error->message);
    cap_log_end (&j);
    room_free (room);
    *code = SOUP_WEBSOCKET_CLOSE_SERVER_ERROR;
    *reason = "store failed";
    return NULL;
  }
}

static void
room_used (CapRoom * room)
{
  if (room->ttl_id) {
    g_source_remove (room->ttl_id);
    room->ttl_id = 0;
  }
}

static void
room_maybe_unused (CapRoom * room)
{
  if (room_is_empty (room) && !room->ttl_id)
    room->ttl_id = g_timeout_add_seconds (room->server->opts.room_ttl, on_ttl,
        room);
}

void
cap_room_join (CapRoom * room, CapConn * conn)
{
  room_used (room);
  g_queue_push_tail_link (&room->publishers, cap_conn_get_room_link (conn));
}

void
cap_room_join_viewer (CapRoom * room)
{
  room_used (room);
  room->n_viewers++;
}

void
cap_room_leave (CapRoom * room, CapConn * conn)
{
  g_queue_unlink (&room->publishers, cap_conn_get_room_link (conn));
  room_maybe_unused (room);
}

void
cap_room_leave_viewer (CapRoom * room)
{
  room->n_viewers--;
  room_maybe_unused (room);
}

gint64
cap_room_last_seq (CapRoom * room, const gchar * publisher)
{
  g_autoptr (GError) error = NULL;
  gint64 *cached = g_hash_table_lookup (room->last_seq, publisher);
  gint64 last;

  if (cached)
    return *cached;
  last = cap_store_last_seq (room->store, publisher, &error);
  if (last < 0) {
    CapJson j;

    cap_log_begin (&j, "store_error");
    cap_json_add_string (&j, "room", room->name);
    cap_json_add_string (&j, "error", error->message);
    cap_log_end (&j);
    return -1;
  }
  g_hash_table_insert (room->last_seq, g_strdup (publisher),
      g_memdup2 (&last, sizeof (last)));
  return last;
}

/* @publisher's finals up to @seq are stored (here or, says Redis, elsewhere). */
static void
remember_seq (CapRoom * room, const gchar * publisher, gint64 seq)
{
  gint64 *cached = g_hash_table_lookup (room->last_seq, publisher);

  if (cached)
    *cached = MAX (*cached, seq);
  else
    g_hash_table_insert (room->last_seq, g_strdup (publisher),
        g_memdup2 (&seq, sizeof (seq)));
}

gboolean
cap_room_store_final (CapRoom * room, CapCaption * c, GError ** error)
{
  c->time = g_get_real_time () / 1000;
  if (!cap_store_append (room->store, c, error))
    return FALSE;
  remember_seq (room, c->publisher, c->seq);
  return TRUE;
}

void
cap_room_deliver (CapRoom * room, const CapDelivery * d)
{
  if (d->final) {
    /* A final relayed twice, or older than what is held: viewers have it. */
    if (d->id <= room->history.last_id)
      return;
    cap_history_hold (&room->history, d->id, d->frame);
  }
  cap_shards_deliver (room, d);
}

/* ---------- the Redis bridge ---------- */

gboolean
cap_room_is_local (CapRoom * room)
{
  return room->share == CAP_SHARE_LOCAL;
}

gboolean
cap_room_is_ready (CapRoom * room)
{
  return room->share != CAP_SHARE_SYNCING;
}

static void
log_store_error (CapRoom * room, const GError * error)
{
  CapJson j;

  cap_log_begin (&j, "store_error");
  cap_json_add_string (&j, "room", room->name);
  cap_json_add_string (&j, "error", error->message);
  cap_log_end (&j);
}

/* Finals of the room that never reach this server's viewers: counted and logged. */
static void
missed (CapRoom * room, gint64 from, gint64 to, const gchar * reason)
{
  CapJson j;

  room->server->metrics.redis_missed += to - from + 1;
  cap_log_begin (&j, "redis_missed");
  cap_json_add_string (&j, "level", "warning");
  cap_json_add_string (&j, "room", room->name);
  cap_json_add_int (&j, "from", from);
  cap_json_add_int (&j, "to", to);
  cap_json_add_string (&j, "reason", reason);
  cap_log_end (&j);
}

/* Stores a final Redis numbered, and fans it out; the local publisher that sent it
 * gets its ack (or 1011 when the store failed). Ids come in order: one at or below
 * shared_id was seen already; one past it but not past last_id is an id this server
 * gave a final of its own while cut off from Redis; one past last_id + 1 means the
 * ids between never reach this server. */
static void
apply_shared (CapRoom * room, CapCaption * c, gint64 arrival)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) frame = NULL;
  CapDelivery d = { 0 };
  gboolean stored;
  GList *l;

  if (c->id <= room->shared_id)
    return;
  if (c->id <= room->history.last_id) {
    room->shared_id = c->id;
    missed (room, c->id, c->id, "id given here while redis was down");
    return;
  }
  if (c->id > room->history.last_id + 1)
    missed (room, room->history.last_id + 1, c->id - 1,
        "never reached this server (given by a server cut off from redis, "
        "or gone from redis' history)");
  room->shared_id = c->id;
  stored = cap_store_append (room->store, c, &error);
  if (stored)
    remember_seq (room, c->publisher, c->seq);
  else
    log_store_error (room, error);

  /* The room's order is Redis': viewers get it even when this store failed. */
  frame = cap_msg_final (c);
  d.final = TRUE;
  d.id = c->id;
  d.frame = frame;
  d.arrival = arrival;
  cap_room_deliver (room, &d);

  for (l = room->publishers.head; l; l = l->next)
    if (g_strcmp0 (cap_conn_get_publisher (l->data), c->publisher) == 0)
      cap_conn_final_stored (l->data, c->seq, stored);
}

/* Connections that joined while the room was syncing. */
static void
welcome_waiting (CapRoom * room)
{
  GList *l;

  for (l = room->publishers.head; l; l = l->next)
    cap_conn_welcome (l->data);
  cap_shards_set_ready (room, TRUE);
}

static void
apply_held (CapRoom * room, gint64 arrival)
{
  CapCaption *c;

  while ((c = g_queue_pop_head (&room->sync_held))) {
    apply_shared (room, c, arrival);
    caption_free (c);
  }
}

void
cap_room_share_start (CapRoom * room)
{
  CapServer *server = room->server;

  if (room->share == CAP_SHARE_LOCAL && room->unshared > 0) {
    CapJson j;

    /* The end of an outage, for this room. */
    cap_log_begin (&j, "redis_unshared");
    cap_json_add_string (&j, "room", room->name);
    cap_json_add_int (&j, "finals", room->unshared);
    cap_json_add_string (&j, "state", "up");
    cap_log_end (&j);
  }
  room->unshared = 0;
  room->share = CAP_SHARE_SYNCING;
  cap_shards_set_ready (room, FALSE);
  if (!cap_bridge_sync_room (server->bridge, room))
    cap_room_share_stop (room);
}

void
cap_room_share_stop (CapRoom * room)
{
  gint64 now = g_get_monotonic_time ();
  GList *l;

  if (room->share == CAP_SHARE_LOCAL)
    return;
  /* Numbered by Redis already: better shown than dropped. */
  apply_held (room, now);
  room->share = CAP_SHARE_LOCAL;
  for (l = room->publishers.head; l; l = l->next)
    if (cap_conn_has_unacked (l->data))
      cap_conn_close (l->data, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
          "redis unavailable", CAP_DROP_STORE);
  welcome_waiting (room);
}

void
cap_room_shared_final (CapRoom * room, CapCaption * c, gint64 arrival)
{
  switch (room->share) {
    case CAP_SHARE_SYNCING:
      g_queue_push_tail (&room->sync_held, g_memdup2 (c, sizeof (*c)));
      memset (c, 0, sizeof (*c));
      break;
    case CAP_SHARE_SHARED:
      apply_shared (room, c, arrival);
      break;
    case CAP_SHARE_LOCAL:
      /* Cannot happen: the bridge is up only with every room past local. */
      break;
  }
}

void
cap_room_shared_interim (CapRoom * room, GBytes * frame, gint64 arrival)
{
  CapDelivery d = { 0 };

  /* Interims replace each other: one missed while syncing is no loss. */
  if (room->share != CAP_SHARE_SHARED)
    return;
  d.frame = frame;
  d.arrival = arrival;
  cap_room_deliver (room, &d);
}

void
cap_room_merge_last_seq (CapRoom * room, const gchar * publisher, gint64 seq)
{
  /* Loads what the store says first, so that the cache holds the larger. */
  if (cap_room_last_seq (room, publisher) >= 0)
    remember_seq (room, publisher, seq);
}

static void
load_last_seq (const gchar * publisher, gint64 last_seq, gpointer user_data)
{
  cap_room_last_seq (user_data, publisher);
}

gboolean
cap_room_foreach_last_seq (CapRoom * room, GHFunc func, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!cap_store_foreach_publisher (room->store, load_last_seq, room, &error)) {
    log_store_error (room, error);
    return FALSE;
  }
  g_hash_table_foreach (room->last_seq, func, user_data);
  return TRUE;
}

void
cap_room_sync_done (CapRoom * room, GPtrArray * finals, gint64 arrival)
{
  guint i;

  for (i = 0; i < finals->len; i++)
    apply_shared (room, g_ptr_array_index (finals, i), arrival);
  apply_held (room, arrival);
  room->share = CAP_SHARE_SHARED;
  welcome_waiting (room);
}

void
cap_room_note_unshared (CapRoom * room, const CapCaption * c)
{
  room->server->metrics.redis_unshared++;
  /* Once per room and outage; the count comes when Redis is back. */
  if (room->unshared++ == 0) {
    CapJson j;

    cap_log_begin (&j, "redis_unshared");
    cap_json_add_string (&j, "level", "warning");
    cap_json_add_string (&j, "room", room->name);
    cap_json_add_int (&j, "id", c->id);
    cap_json_add_string (&j, "publisher", c->publisher);
    cap_json_add_int (&j, "seq", c->seq);
    cap_json_add_string (&j, "reason",
        "redis down: finals stored meanwhile stay on this server");
    cap_log_end (&j);
  }
}

void
cap_room_free_all (CapServer * server)
{
  g_hash_table_remove_all (server->rooms);
}

void
cap_room_destroy (gpointer room)
{
  room_free (room);
}
