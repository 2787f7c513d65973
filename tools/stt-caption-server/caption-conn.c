/* caption-conn: see caption-conn.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <sys/socket.h>

#include "stt-local-guard.h"
#include "caption-auth.h"
#include "caption-bridge.h"
#include "caption-log.h"
#include "caption-protocol.h"
#include "caption-room.h"
#include "caption-workers.h"
#include "caption-conn.h"

/* The kernel's send buffer of a client socket (Linux doubles it for its own
 * accounting). Fixed, so that a client that does not read holds this much of kernel
 * memory beyond --max-queue, not the megabytes TCP autotuning grows to. Captions are a
 * few kB a second: this is enough for any network a viewer is on. */
#define SOCKET_SEND_BUFFER (64 * 1024)

/* Seconds a closed connection has to finish the close handshake before its socket is
 * shut down: a client that does not read would never see our close frame. */
#define CLOSE_GRACE 2

struct _CapConn
{
  CapServer *server;
  guint id;
  CapRole role;
  gchar *room_name;             /* NULL when the path named no valid room */
  gchar *ip;
  SoupWebsocketConnection *ws;
  SttGuardStream *guard;
  GList link;                   /* in server->conns, or its worker's */
  gint64 opened;                /* monotonic */

  /* The handshake, until its SoupWebsocketConnection is made (a viewer's on its
   * worker's thread) */
  GIOStream *stream;
  GUri *uri;
  gchar *origin;

  /* admitted */
  gboolean ip_counted;
  gboolean accepted;
  CapRoom *room;                /* a viewer's is the main thread's: not read */
  GList room_link;              /* in the room's publishers or the shard's viewers */
  CapWorker *worker;            /* a viewer's thread, NULL for the main thread */
  CapShard *shard;              /* a viewer's room on its worker */
  gchar *publisher;             /* publishers: the token's sub, or "default" */
  CapBucket bucket;
  guint64 n_in, n_out;
  gboolean welcomed;            /* its room was syncing when it joined: not yet */
  gint64 since;                 /* a viewer's since=, -1 without */
  GQueue acks;                  /* AckWait*: a publisher's finals not yet acked */

  /* sending */
  GQueue out;                   /* GBytes*: frames not yet given to libsoup */
  gsize out_bytes;              /* their wire size */
  guint64 sent_end;             /* the guard's written count once libsoup's frame is out */
  gboolean catching_up;         /* a viewer reading the room's held finals */
  gint64 cursor;                /* the next held final it reads */

  /* closing */
  gboolean closing;
  gushort code;
  gchar *reason;
};

/* A publisher's final, in the order it came: acks go out in that order, each once
 * its final is stored (at once without Redis; when it comes back from Redis with). */
typedef struct
{
  gint64 seq;
  gboolean ready;
} AckWait;

static void conn_pump (CapConn * conn);
static void viewer_gone (CapConn * conn);
static void main_attach (CapConn * conn);

guint
cap_conn_get_id (CapConn * conn)
{
  return conn->id;
}

const gchar *
cap_conn_get_publisher (CapConn * conn)
{
  return conn->publisher;
}

CapRole
cap_conn_get_role (CapConn * conn)
{
  return conn->role;
}

GList *
cap_conn_get_room_link (CapConn * conn)
{
  return &conn->room_link;
}

static const gchar *
role_name (CapRole role)
{
  return role == CAP_ROLE_PUBLISHER ? "publisher" : "viewer";
}

/* Bytes a server frame of @frame's payload takes on the wire (no mask). */
static gsize
wire_size (GBytes * frame)
{
  gsize len = g_bytes_get_size (frame);

  return len + (len < 126 ? 2 : len < 65536 ? 4 : 10);
}

/* Bytes handed over and not yet on the socket: the queue and the rest of the frame
 * libsoup holds. */
static gsize
unsent (CapConn * conn)
{
  guint64 written = stt_guard_stream_get_written (conn->guard);

  return conn->out_bytes + (conn->sent_end > written ?
      conn->sent_end - written : 0);
}

static void
drop_queue (CapConn * conn)
{
  g_queue_clear_full (&conn->out, (GDestroyNotify) g_bytes_unref);
  conn->out_bytes = 0;
  conn->catching_up = FALSE;
}

/* ---------- logging ---------- */

static void
log_conn (CapConn * conn, CapJson * j)
{
  cap_json_add_int (j, "conn", conn->id);
  cap_json_add_string (j, "role", role_name (conn->role));
  if (conn->room_name)
    cap_json_add_string (j, "room", conn->room_name);
  cap_json_add_string (j, "ip", conn->ip);
  if (conn->publisher)
    cap_json_add_string (j, "publisher", conn->publisher);
}

static void
log_event (CapConn * conn, const gchar * event)
{
  CapJson j;

  cap_log_begin (&j, event);
  log_conn (conn, &j);
  cap_log_end (&j);
}

/* ---------- sending ---------- */

static void
on_written (SttGuardStream * guard, gpointer user_data)
{
  conn_pump (user_data);
}

/* The next frame of a catching-up viewer's history: a gap when finals it has not seen
 * are no longer held, else the next held final (transfer none); NULL once it is at the
 * room's last final. */
static GBytes *
next_history_frame (CapConn * conn, gboolean * owned)
{
  CapHistory *history = &conn->shard->history;
  gint64 first = cap_history_first (history);

  *owned = FALSE;
  if (conn->cursor > history->last_id)
    return NULL;
  if (conn->cursor < first) {
    GBytes *gap = cap_msg_gap (conn->cursor, first - 1);

    conn->cursor = first;
    *owned = TRUE;
    return gap;
  }
  /* Finals a revision held later took over: the revision carries their words. */
  while (conn->cursor < history->last_id &&
      cap_history_is_replaced (history, conn->cursor))
    conn->cursor++;
  return cap_history_frame (history, conn->cursor++);
}

/* Hands libsoup the next frame once it has written the previous one. */
static void
conn_pump (CapConn * conn)
{
  while (!conn->closing &&
      soup_websocket_connection_get_state (conn->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN) {
    guint64 written = stt_guard_stream_get_written (conn->guard);
    gboolean owned = TRUE;
    GBytes *frame;

    if (written < conn->sent_end) {
      stt_guard_stream_notify_written (conn->guard, conn->sent_end, on_written,
          conn);
      return;
    }
    if (!g_queue_is_empty (&conn->out)) {
      frame = g_queue_pop_head (&conn->out);
      conn->out_bytes -= wire_size (frame);
    } else if (conn->catching_up) {
      frame = next_history_frame (conn, &owned);
      if (!frame) {
        conn->catching_up = FALSE;
        return;
      }
    } else {
      return;
    }
    /* Written at once when the socket takes it: the loop goes on. */
    conn->sent_end = written + wire_size (frame);
    conn->n_out++;
    cap_metrics_count (&conn->server->metrics.messages_out);
    soup_websocket_connection_send_message (conn->ws, SOUP_WEBSOCKET_DATA_TEXT,
        frame);
    if (owned)
      g_bytes_unref (frame);
  }
}

/* Queues @frame (the caller's reference stays the caller's). */
static void
queue_frame (CapConn * conn, GBytes * frame)
{
  gsize size = wire_size (frame);

  if (conn->closing)
    return;
  if (unsent (conn) + size > (gsize) conn->server->opts.max_queue) {
    cap_conn_close (conn, CAP_CLOSE_SLOW,
        "slow reader: send queue over --max-queue", CAP_DROP_SLOW_VIEWER);
    return;
  }
  g_queue_push_tail (&conn->out, g_bytes_ref (frame));
  conn->out_bytes += size;
  conn_pump (conn);
}

/* Queues a message built for @conn alone (takes @frame). */
static void
send_own (CapConn * conn, GBytes * frame)
{
  queue_frame (conn, frame);
  g_bytes_unref (frame);
}

void
cap_conn_send (CapConn * conn, GBytes * frame)
{
  /* Its history comes first; the next interim replaces this one anyway. */
  if (conn->catching_up || !conn->welcomed)
    return;
  queue_frame (conn, frame);
}

void
cap_conn_offer_final (CapConn * conn, gint64 id, GBytes * frame)
{
  /* It reads the final from the room when it gets there. */
  if (conn->catching_up || !conn->welcomed)
    return;
  queue_frame (conn, frame);
}

/* ---------- acks ---------- */

/* Sends the acks at the head that are ready (none before the welcome). */
static void
flush_acks (CapConn * conn)
{
  AckWait *w;

  if (!conn->welcomed)
    return;
  while ((w = g_queue_peek_head (&conn->acks)) && w->ready) {
    g_queue_pop_head (&conn->acks);
    send_own (conn, cap_msg_ack (w->seq));
    g_free (w);
  }
}

static void
wait_ack (CapConn * conn, gint64 seq, gboolean ready)
{
  AckWait *w = g_new (AckWait, 1);

  w->seq = seq;
  w->ready = ready;
  g_queue_push_tail (&conn->acks, w);
  flush_acks (conn);
}

void
cap_conn_final_stored (CapConn * conn, gint64 seq, gboolean stored)
{
  gboolean waiting = FALSE;
  GList *l;

  for (l = conn->acks.head; l; l = l->next) {
    AckWait *w = l->data;

    if (!w->ready && w->seq <= seq) {
      waiting = TRUE;
      w->ready = stored;
    }
  }
  if (!waiting)
    return;
  if (!stored) {
    /* Not acknowledged: sent again, Redis takes it for a duplicate. */
    cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "store failed",
        CAP_DROP_STORE);
    return;
  }
  flush_acks (conn);
}

gboolean
cap_conn_has_unacked (CapConn * conn)
{
  GList *l;

  for (l = conn->acks.head; l; l = l->next)
    if (!((AckWait *) l->data)->ready)
      return TRUE;
  return FALSE;
}

/* ---------- closing ---------- */

void
cap_conn_close (CapConn * conn, gushort code, const gchar * reason,
    CapDrop drop)
{
  if (conn->closing)
    return;
  conn->closing = TRUE;
  conn->code = code;
  conn->reason = g_strdup (reason);
  if (drop < CAP_N_DROPS)
    cap_metrics_count (&conn->server->metrics.drops[drop]);
  drop_queue (conn);
  stt_guard_stream_notify_written (conn->guard, 0, NULL, NULL);
  /* The peer may have started the close: then libsoup answers it. */
  if (soup_websocket_connection_get_state (conn->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (conn->ws, code, reason);
  stt_guard_stream_set_deadline (conn->guard, CLOSE_GRACE);
}

static void
conn_free (CapConn * conn)
{
  if (conn->ws)
    g_signal_handlers_disconnect_by_data (conn->ws, conn);
  stt_guard_stream_notify_written (conn->guard, 0, NULL, NULL);
  stt_guard_stream_set_too_big_func (conn->guard, NULL, NULL);
  drop_queue (conn);
  g_queue_clear_full (&conn->acks, g_free);
  g_clear_object (&conn->ws);
  g_clear_object (&conn->guard);
  g_clear_object (&conn->stream);
  g_clear_pointer (&conn->uri, g_uri_unref);
  g_free (conn->origin);
  g_free (conn->room_name);
  g_free (conn->ip);
  g_free (conn->publisher);
  g_free (conn->reason);
  g_free (conn);
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  CapConn *conn = user_data;
  CapServer *server = conn->server;

  if (conn->accepted) {
    gushort code = conn->closing ? conn->code :
        soup_websocket_connection_get_close_code (ws);
    const gchar *reason = conn->closing ? conn->reason :
        soup_websocket_connection_get_close_data (ws);
    CapJson j;

    cap_log_begin (&j, "close");
    log_conn (conn, &j);
    /* No close frame from either side: the connection was lost. */
    cap_json_add_int (&j, "code", code ? code : SOUP_WEBSOCKET_CLOSE_ABNORMAL);
    cap_json_add_string (&j, "reason", reason ? reason : "");
    cap_json_add_bool (&j, "by_server", conn->closing);
    cap_json_add_int (&j, "received", conn->n_in);
    cap_json_add_int (&j, "sent", conn->n_out);
    cap_json_add_double (&j, "seconds",
        (gdouble) ((g_get_monotonic_time () - conn->opened) / 1000) / 1000.0);
    cap_log_end (&j);
  }
  if (conn->worker) {
    viewer_gone (conn);
    return;
  }
  if (conn->accepted) {
    server->n_publishers--;
    cap_room_leave (conn->room, conn);
  }
  if (conn->ip_counted)
    cap_ip_limit_release (server->ip_limit, conn->ip);
  g_queue_unlink (&server->conns, &conn->link);
  conn_free (conn);
  cap_server_maybe_quit (server);
}

/* ---------- viewers on a worker ---------- */

typedef struct
{
  CapServer *server;
  CapRoom *room;
  CapWorker *worker;
  gchar *ip;
} Gone;

static void
gone_free (gpointer data)
{
  Gone *gone = data;

  g_free (gone->ip);
  g_free (gone);
}

/* Main thread: the counts a viewer took at its admission. */
static gboolean
on_viewer_gone (gpointer user_data)
{
  Gone *gone = user_data;
  CapServer *server = gone->server;

  server->n_viewers--;
  cap_shards_leave (gone->room, gone->worker);
  cap_room_leave_viewer (gone->room);
  cap_ip_limit_release (server->ip_limit, gone->ip);
  cap_worker_release (gone->worker);
  cap_server_maybe_quit (server);
  return G_SOURCE_REMOVE;
}

/* Worker thread: @conn has closed. */
static void
viewer_gone (CapConn * conn)
{
  Gone *gone = g_new (Gone, 1);

  gone->server = conn->server;
  gone->room = conn->room;
  gone->worker = conn->worker;
  gone->ip = g_strdup (conn->ip);
  g_queue_unlink (cap_worker_get_conns (conn->worker), &conn->link);
  g_queue_unlink (&conn->shard->viewers, &conn->room_link);
  conn_free (conn);
  cap_server_post (gone->server, on_viewer_gone, gone, gone_free);
}

/* Closes a connection that is not admitted, and says why in the log. */
static void
refuse (CapConn * conn, gushort code, const gchar * reason, CapDrop drop)
{
  CapJson j;

  main_attach (conn);
  cap_log_begin (&j, "refused");
  log_conn (conn, &j);
  cap_json_add_int (&j, "code", code);
  cap_json_add_string (&j, "reason", reason);
  cap_log_end (&j);
  cap_conn_close (conn, code, reason, drop);
}

void
cap_conn_close_all (GQueue * conns)
{
  GList *l;

  for (l = conns->head; l; l = l->next)
    cap_conn_close (l->data, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down", CAP_N_DROPS);
}

void
cap_conn_abort_all (GQueue * conns)
{
  GList *l;

  for (l = conns->head; l; l = l->next)
    stt_guard_stream_shutdown (((CapConn *) l->data)->guard);
}

void
cap_conn_sweep (CapServer * server, GQueue * conns)
{
  gint64 limit = (gint64) server->opts.heartbeat_timeout * G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  GList *l;

  if (limit == 0)
    return;
  for (l = conns->head; l; l = l->next) {
    CapConn *conn = l->data;

    if (conn->accepted && !conn->closing &&
        now - stt_guard_stream_get_last_read (conn->guard) > limit)
      cap_conn_close (conn, CAP_CLOSE_HEARTBEAT, "heartbeat timeout",
          CAP_DROP_HEARTBEAT);
  }
}

/* ---------- messages ---------- */

static void
publisher_final (CapConn * conn, CapCaption * c, gint64 arrival)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) frame = NULL;
  CapServer *server = conn->server;
  CapDelivery d = { 0 };
  gint64 last = cap_room_last_seq (conn->room, conn->publisher);

  if (last < 0)
    goto store_failed;
  /* Sent again after a reconnection: the publisher did not see our ack. */
  if (c->seq <= last) {
    cap_metrics_count (&server->metrics.drops[CAP_DROP_DUPLICATE]);
    wait_ack (conn, c->seq, TRUE);
    return;
  }
  if (!cap_room_is_local (conn->room)) {
    /* Redis numbers it; it is stored and fanned out when it comes back. */
    c->time = g_get_real_time () / 1000;
    if (!cap_bridge_publish_final (server->bridge, conn->room, conn->id, c))
      goto redis_failed;
    wait_ack (conn, c->seq, FALSE);
    return;
  }
  if (!cap_room_store_final (conn->room, c, &error))
    goto store_failed;

  frame = cap_msg_final (c);
  d.final = TRUE;
  d.id = c->id;
  d.frame = frame;
  d.arrival = arrival;
  cap_room_deliver (conn->room, &d);
  wait_ack (conn, c->seq, TRUE);
  if (server->bridge)
    cap_room_note_unshared (conn->room, c);
  return;

  /* ERRORS */
redis_failed:
  {
    /* The bridge is going down: sent again, it is stored here. */
    cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
        "redis unavailable", CAP_DROP_STORE);
    return;
  }
store_failed:
  {
    CapJson j;

    cap_log_begin (&j, "store_error");
    log_conn (conn, &j);
    if (error)
      cap_json_add_string (&j, "error", error->message);
    cap_log_end (&j);
    /* Not acknowledged: the publisher sends it again after reconnecting. */
    cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "store failed",
        CAP_DROP_STORE);
  }
}

static void
on_message (SoupWebsocketConnection * ws, SoupWebsocketDataType type,
    GBytes * message, gpointer user_data)
{
  CapConn *conn = user_data;
  CapServer *server = conn->server;
  gint64 arrival = g_get_monotonic_time ();
  CapCaption c = { 0 };
  const gchar *reason = NULL;
  const gchar *data;
  gsize len;

  if (conn->closing)
    return;
  conn->n_in++;
  cap_metrics_count (&server->metrics.messages_in);
  if (!cap_bucket_take (&conn->bucket, server->opts.max_rate, arrival)) {
    cap_conn_close (conn, CAP_CLOSE_LIMIT, "message rate over --max-rate",
        CAP_DROP_RATE);
    return;
  }
  /* Viewers have nothing to say. */
  if (conn->role == CAP_ROLE_VIEWER)
    return;
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
        "binary messages are not accepted", CAP_DROP_MALFORMED);
    return;
  }

  data = g_bytes_get_data (message, &len);
  if (!cap_caption_parse (data, len, &c, &reason)) {
    cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA, reason,
        CAP_DROP_MALFORMED);
    return;
  }
  c.publisher = g_strdup (conn->publisher);
  if (c.final) {
    publisher_final (conn, &c, arrival);
  } else {
    g_autoptr (GBytes) frame = cap_msg_interim (&c);
    CapDelivery d = { 0 };

    /* Through Redis when the room is shared, so that it keeps its place among the
     * finals. */
    if (cap_room_is_local (conn->room) ||
        !cap_bridge_publish_interim (server->bridge, conn->room, frame)) {
      d.frame = frame;
      d.arrival = arrival;
      cap_room_deliver (conn->room, &d);
    }
  }
  cap_caption_clear (&c);
}

static void
on_too_big (SttGuardStream * guard, gpointer user_data)
{
  cap_conn_close (user_data, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
      "message over --max-message", CAP_DROP_TOO_BIG);
}

/* ---------- admission ---------- */

/* "/publish/ROOM" or "/watch/ROOM": the role, and the room name when it is valid. */
static gboolean
parse_path (const char *path, CapRole * role, gchar ** room)
{
  const gchar *name;

  if (g_str_has_prefix (path, "/publish/")) {
    *role = CAP_ROLE_PUBLISHER;
    name = path + strlen ("/publish/");
  } else if (g_str_has_prefix (path, "/watch/")) {
    *role = CAP_ROLE_VIEWER;
    name = path + strlen ("/watch/");
  } else {
    *role = CAP_ROLE_VIEWER;
    return FALSE;
  }
  if (!cap_room_name_is_valid (name))
    return FALSE;
  *room = g_strdup (name);
  return TRUE;
}

/* ?since=ID: TRUE with *since (-1 when absent); FALSE when it is not an integer >= 0. */
static gboolean
parse_since (GHashTable * params, gint64 * since)
{
  const gchar *text = g_hash_table_lookup (params, "since");
  guint64 value;

  *since = -1;
  if (!text)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &value, NULL))
    return FALSE;
  *since = (gint64) value;
  return TRUE;
}

/* The welcome, and a viewer's history. */
static void
conn_welcome (CapConn * conn, gint64 last_seq)
{
  CapRoom *room = conn->room;

  conn->welcomed = TRUE;
  if (conn->role == CAP_ROLE_PUBLISHER) {
    send_own (conn, cap_msg_publisher_welcome (room->name, conn->publisher,
            last_seq));
    flush_acks (conn);
    return;
  }
  send_own (conn, cap_msg_viewer_welcome (conn->shard->name,
          conn->shard->history.last_id));
  /* Without since, the held finals; with it, what follows it (after a gap when
   * some of that is no longer held). */
  conn->cursor = conn->since >= 0 ? conn->since + 1 :
      cap_history_first (&conn->shard->history);
  conn->catching_up = TRUE;
  conn_pump (conn);
}

void
cap_conn_welcome (CapConn * conn)
{
  gint64 last_seq = 0;

  if (conn->welcomed || conn->closing || !conn->accepted)
    return;
  if (conn->role == CAP_ROLE_PUBLISHER) {
    last_seq = cap_room_last_seq (conn->room, conn->publisher);
    if (last_seq < 0) {
      cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "store failed",
          CAP_DROP_STORE);
      return;
    }
  }
  conn_welcome (conn, last_seq);
}

/* Makes the SoupWebsocketConnection of the handshake, on the thread @conn stays on
 * (libsoup attaches its sources to that thread's default context). */
static void
conn_attach (CapConn * conn)
{
  CapServer *server = conn->server;

  conn->ws = soup_websocket_connection_new (conn->stream, conn->uri,
      SOUP_WEBSOCKET_CONNECTION_SERVER, conn->origin, NULL, NULL);
  g_clear_object (&conn->stream);
  g_signal_connect (conn->ws, "closed", G_CALLBACK (on_closed), conn);
  /* The guard refuses bigger messages first (and says so, for 1009); libsoup's own
   * limit is a second line. */
  soup_websocket_connection_set_max_incoming_payload_size (conn->ws,
      (guint64) server->opts.max_message + 1);
  stt_guard_stream_set_too_big_func (conn->guard, on_too_big, conn);
  if (!g_socket_set_option (stt_guard_stream_get_socket (conn->guard),
          SOL_SOCKET, SO_SNDBUF, SOCKET_SEND_BUFFER, NULL))
    g_warning ("cannot set SO_SNDBUF: the kernel may buffer more for a "
        "client that does not read");
}

/* Admitted and counted: its messages, its heartbeat, and its welcome (once the room
 * is ready). */
static void
conn_start (CapConn * conn, gboolean ready, gint64 last_seq)
{
  CapServer *server = conn->server;

  cap_bucket_init (&conn->bucket, server->opts.max_rate,
      g_get_monotonic_time ());
  /* libsoup pings on a whole-second timer, and GLib runs every such timer of the
   * context that is due in the same second in one wake-up: viewers that joined
   * together were pinged together every --heartbeat, and their pongs read ahead of
   * the next final (5000 viewers: finals held up to a second; bench/README.md,
   * "Caption fan-out"). Intervals spread over the upper half of --heartbeat drift
   * apart instead; a ping still comes at least every --heartbeat. */
  soup_websocket_connection_set_keepalive_interval (conn->ws,
      server->opts.heartbeat > 1 ? server->opts.heartbeat -
      g_random_int_range (0, server->opts.heartbeat / 2 + 1) :
      server->opts.heartbeat);
  g_signal_connect (conn->ws, "message", G_CALLBACK (on_message), conn);
  log_event (conn, "open");
  /* A syncing room welcomes it once it has caught up from Redis. */
  if (ready)
    conn_welcome (conn, last_seq);
  /* Sent right behind the handshake, before the connection was made. */
  if (stt_guard_stream_is_too_big (conn->guard))
    on_too_big (conn->guard, conn);
}

/* Worker thread: the viewer's connection is made here, and joins the room's shard
 * (its history, then every final posted after the admission). */
static gboolean
viewer_start (gpointer user_data)
{
  CapConn *conn = user_data;

  stt_guard_stream_set_context (conn->guard,
      g_main_context_get_thread_default ());
  conn_attach (conn);
  g_queue_push_tail_link (cap_worker_get_conns (conn->worker), &conn->link);
  g_queue_push_tail_link (&conn->shard->viewers, &conn->room_link);
  conn_start (conn, conn->shard->ready, 0);
  return G_SOURCE_REMOVE;
}

/* Main thread: a connection that stays on it (publishers, refused ones). */
static void
main_attach (CapConn * conn)
{
  conn_attach (conn);
  g_queue_push_tail_link (&conn->server->conns, &conn->link);
}

void
cap_conn_on_upgrade (CapServer * server, SoupServerMessage * msg,
    GIOStream * stream)
{
  SttGuardStream *guard = stt_guard_stream_lookup (msg);
  g_autoptr (GHashTable) params = NULL;
  const gchar *reason = NULL;
  gushort code = 0;
  gint64 since = -1, last_seq = 0;
  CapConn *conn;

  if (!guard) {
    /* Every connection comes from our listener. */
    g_warn_if_reached ();
    g_io_stream_close (stream, NULL, NULL);
    return;
  }
  stt_guard_stream_set_deadline (guard, 0);

  conn = g_new0 (CapConn, 1);
  conn->server = server;
  conn->id = ++server->next_conn_id;
  conn->guard = g_object_ref (guard);
  conn->stream = g_object_ref (stream);
  conn->uri = g_uri_ref (soup_server_message_get_uri (msg));
  conn->origin = g_strdup (soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "Origin"));
  conn->ip = g_strdup (soup_server_message_get_remote_host (msg));
  if (!conn->ip)
    conn->ip = g_strdup ("?");
  conn->opened = g_get_monotonic_time ();
  conn->link.data = conn;
  conn->room_link.data = conn;

  if (server->shutting_down)
    goto shutting_down;
  if (!parse_path (g_uri_get_path (conn->uri), &conn->role, &conn->room_name))
    goto bad_room;
  params = cap_auth_request_params (msg);
  if (conn->role == CAP_ROLE_VIEWER && !parse_since (params, &since))
    goto bad_since;
  if (!cap_ip_limit_take (server->ip_limit, conn->ip))
    goto per_ip;
  conn->ip_counted = TRUE;
  if (!cap_auth_check (server, cap_auth_request_token (msg, params),
          conn->room_name, conn->role, &conn->publisher, &reason))
    goto refused_token;
  conn->room = cap_room_open (server, conn->room_name, &code, &reason);
  if (!conn->room)
    goto no_room;
  if (conn->role == CAP_ROLE_VIEWER &&
      conn->room->n_viewers >= (guint) server->opts.max_viewers)
    goto room_full;
  if (conn->role == CAP_ROLE_PUBLISHER && cap_room_is_ready (conn->room)) {
    last_seq = cap_room_last_seq (conn->room, conn->publisher);
    if (last_seq < 0)
      goto store_failed;
  }

  /* Admitted. */
  conn->accepted = TRUE;
  conn->since = since;
  if (conn->role == CAP_ROLE_VIEWER) {
    server->n_viewers++;
    cap_room_join_viewer (conn->room);
    conn->worker = cap_workers_pick (server);
    conn->shard = cap_shards_join (conn->room, conn->worker);
    /* From now on the viewer is the worker's. */
    cap_worker_post (conn->worker, viewer_start, conn, NULL);
    return;
  }
  server->n_publishers++;
  cap_room_join (conn->room, conn);
  main_attach (conn);
  conn_start (conn, cap_room_is_ready (conn->room), last_seq);
  return;

  /* ERRORS */
shutting_down:
  {
    refuse (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server shutting down",
        CAP_DROP_SHUTDOWN);
    return;
  }
bad_room:
  {
    refuse (conn, CAP_CLOSE_ROOM, "invalid room name", CAP_DROP_ROOM);
    return;
  }
bad_since:
  {
    refuse (conn, SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA,
        "since must be an integer >= 0", CAP_DROP_MALFORMED);
    return;
  }
per_ip:
  {
    refuse (conn, CAP_CLOSE_LIMIT, "too many connections from this address",
        CAP_DROP_PER_IP);
    return;
  }
refused_token:
  {
    refuse (conn, CAP_CLOSE_AUTH, reason, CAP_DROP_AUTH);
    return;
  }
no_room:
  {
    refuse (conn, code, reason, code == CAP_CLOSE_ROOM ? CAP_DROP_ROOM :
        CAP_DROP_STORE);
    return;
  }
room_full:
  {
    refuse (conn, CAP_CLOSE_ROOM_FULL, "room full", CAP_DROP_ROOM_FULL);
    return;
  }
store_failed:
  {
    refuse (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "store failed",
        CAP_DROP_STORE);
    return;
  }
}
