/* caption-bridge: see caption-bridge.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "caption-bridge.h"
#include "caption-conn.h"
#include "caption-log.h"
#include "caption-redis.h"
#include "caption-room.h"

#define DEFAULT_PORT 6379
/* Seconds for both connections to be up, and between PINGs (one unanswered by the
 * next drops the connections). */
#define CONNECT_TIMEOUT 5
#define PING_INTERVAL 5
#define BACKOFF_FIRST 1
#define BACKOFF_MAX 30
/* Finals kept in each room's stream, at least (and at least --history): what an
 * instance that opens the room, or comes back, can catch up on. */
#define STREAM_MIN 1000
/* Seconds a room's keys live after its last final (refreshed by each final and each
 * sync): a room silent for a week is forgotten by Redis, not by the stores. */
#define KEY_TTL (7 * 24 * 3600)
/* A relayed caption larger than this is not ours. */
#define MAX_RELAYED(server) ((gsize) (server)->opts.max_message * 4 + 1024)

#define KEY_PREFIX "stt-caption:{"
#define CHANNEL_PATTERN KEY_PREFIX "*}"

/* A final (or a revision): KEYS counter, seqs, stream; ARGV publisher, seq, the
 * frame after its id, channel, stream length, key TTL, this server's last id and
 * the publisher's last seq here (floors: a Redis that lost its keys never goes
 * back under them), the frame before its id (cap_msg_final_head()).
 * Returns the final's id, or 0 for a duplicate. The frame goes to the stream and the
 * channel in the same step as its id is taken, so the channel is in id order. */
static const gchar FINAL_SCRIPT[] =
    "local seq = tonumber(ARGV[2])\n"
    "local last = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
    "if last < tonumber(ARGV[8]) then last = tonumber(ARGV[8]) end\n"
    "if seq <= last then return 0 end\n"
    "local id = redis.call('INCR', KEYS[1])\n"
    "if id <= tonumber(ARGV[7]) then\n"
    "  id = tonumber(ARGV[7]) + 1\n"
    "  redis.call('SET', KEYS[1], id)\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])\n"
    "local frame = ARGV[9] .. id .. ARGV[3]\n"
    "redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '0-' .. id, 'f', frame)\n"
    "redis.call('PUBLISH', ARGV[4], frame)\n"
    "for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end\n"
    "return id\n";

/* A room's sync: KEYS as above; ARGV this server's last id, key TTL, then pairs of
 * publisher and last seq. Raises Redis' counter and seqs to at least those, and
 * returns every publisher's seq (HGETALL). */
static const gchar SYNC_SCRIPT[] =
    "local c = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end\n"
    "for i = 3, #ARGV - 1, 2 do\n"
    "  local s = redis.call('HGET', KEYS[2], ARGV[i])\n"
    "  if not s or tonumber(s) < tonumber(ARGV[i + 1]) then\n"
    "    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])\n"
    "  end\n"
    "end\n"
    "for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end\n"
    "return redis.call('HGETALL', KEYS[2])\n";

typedef enum
{
  STATE_DOWN,                   /* waiting to connect again */
  STATE_CONNECTING,
  STATE_UP,
} State;

struct _CapBridge
{
  CapServer *server;
  gchar *url;                   /* as given: no password (refused) */
  gchar *host;
  gint port;
  gchar *client_name;           /* stt-caption-server:PID */

  State state;
  redisAsyncContext *cmd;       /* commands */
  redisAsyncContext *sub;       /* the pattern subscription */
  gboolean cmd_ready, sub_ready;
  gboolean ping_pending;
  gboolean ever_up;
  guint backoff;                /* seconds before the next attempt */
  guint retry_id, timeout_id, ping_id, teardown_id;
  GCancellable *resolving;
  gint64 down_since;            /* monotonic, when the bridge went down */
  guint sync_gen;
};

/* What a room-scoped reply needs to find its room (which may be gone by then). */
typedef struct
{
  CapBridge *bridge;
  gchar *room;
  guint gen;                    /* syncs: the room's sync_gen when it was sent */
  guint conn;                   /* finals: the publisher's connection */
  gint64 seq;
} RoomReq;

static void bridge_connect (CapBridge * b);

static RoomReq *
room_req_new (CapBridge * b, CapRoom * room)
{
  RoomReq *req = g_new0 (RoomReq, 1);

  req->bridge = b;
  req->room = g_strdup (room->name);
  req->gen = room->sync_gen;
  return req;
}

static void
room_req_free (RoomReq * req)
{
  g_free (req->room);
  g_free (req);
}

static gchar *
room_key (const gchar * room, const gchar * what)
{
  return what ? g_strconcat (KEY_PREFIX, room, "}:", what, NULL) :
      g_strconcat (KEY_PREFIX, room, "}", NULL);
}

/* The room of a channel, or NULL. */
static gchar *
channel_room (const gchar * channel, gsize len)
{
  gsize prefix = strlen (KEY_PREFIX);
  gchar *room;

  if (len < prefix + 2 || strncmp (channel, KEY_PREFIX, prefix) != 0 ||
      channel[len - 1] != '}')
    return NULL;
  room = g_strndup (channel + prefix, len - prefix - 1);
  if (!cap_room_name_is_valid (room))
    g_clear_pointer (&room, g_free);
  return room;
}

/* ---------- state ---------- */

gboolean
cap_bridge_is_up (CapBridge * b)
{
  return b && b->state == STATE_UP;
}

const gchar *
cap_bridge_state_name (CapBridge * b)
{
  switch (b->state) {
    case STATE_UP:
      return "up";
    case STATE_CONNECTING:
      return "connecting";
    default:
      return "down";
  }
}

static void
foreach_room (CapBridge * b, void (*func) (CapRoom * room))
{
  g_autoptr (GList) rooms = g_hash_table_get_values (b->server->rooms);
  GList *l;

  for (l = rooms; l; l = l->next)
    func (l->data);
}

static void
clear_source (guint * id)
{
  if (*id)
    g_source_remove (*id);
  *id = 0;
}

/* Frees what is left of the connections, outside hiredis' own callbacks. */
static gboolean
on_teardown (gpointer user_data)
{
  CapBridge *b = user_data;
  redisAsyncContext *ac;

  b->teardown_id = 0;
  if ((ac = b->cmd)) {
    b->cmd = NULL;
    redisAsyncFree (ac);
  }
  if ((ac = b->sub)) {
    b->sub = NULL;
    redisAsyncFree (ac);
  }
  return G_SOURCE_REMOVE;
}

static gboolean
on_retry (gpointer user_data)
{
  CapBridge *b = user_data;

  b->retry_id = 0;
  bridge_connect (b);
  return G_SOURCE_REMOVE;
}

/* The connection failed or was lost: the rooms run alone, a warning is logged, and
 * the next attempt is scheduled. */
static void
bridge_fail (CapBridge * b, const gchar * why)
{
  gboolean was_up = b->state == STATE_UP;
  CapJson j;

  if (b->state == STATE_DOWN)
    return;
  b->state = STATE_DOWN;
  b->cmd_ready = b->sub_ready = FALSE;
  b->ping_pending = FALSE;
  clear_source (&b->timeout_id);
  clear_source (&b->ping_id);
  if (b->resolving) {
    g_cancellable_cancel (b->resolving);
    g_clear_object (&b->resolving);
  }
  if (was_up) {
    b->server->metrics.redis_up = FALSE;
    b->down_since = g_get_monotonic_time ();
    foreach_room (b, cap_room_share_stop);
  }

  cap_log_begin (&j, "redis");
  cap_json_add_string (&j, "level", "warning");
  cap_json_add_string (&j, "state", "down");
  cap_json_add_string (&j, "url", b->url);
  cap_json_add_string (&j, "error", why);
  cap_json_add_int (&j, "retry_in", b->backoff);
  cap_log_end (&j);

  if (!b->teardown_id)
    b->teardown_id = g_idle_add_full (G_PRIORITY_HIGH, on_teardown, b, NULL);
  b->retry_id = g_timeout_add_seconds (b->backoff, on_retry, b);
  b->backoff = MIN (b->backoff * 2, BACKOFF_MAX);
}

/* A reply that is an error: the bridge is dropped (a Redis that refuses our scripts
 * is no use), and FALSE. NULL replies (connection lost) are FALSE too: the freed
 * hook has taken the bridge down already. */
static gboolean
reply_ok (CapBridge * b, redisReply * reply, const gchar * what)
{
  g_autofree gchar *why = NULL;

  if (!reply)
    return FALSE;
  if (reply->type != REDIS_REPLY_ERROR)
    return TRUE;
  why = g_strdup_printf ("%s: %s", what, reply->str);
  bridge_fail (b, why);
  return FALSE;
}

static void
on_pong (redisAsyncContext * ac, void *r, void *privdata)
{
  CapBridge *b = privdata;

  if (reply_ok (b, r, "PING"))
    b->ping_pending = FALSE;
}

static gboolean
send_ping (gpointer user_data)
{
  CapBridge *b = user_data;

  if (b->ping_pending) {
    b->ping_id = 0;
    bridge_fail (b, "no reply to PING within " G_STRINGIFY (PING_INTERVAL)
        " s");
    return G_SOURCE_REMOVE;
  }
  b->ping_pending = TRUE;
  if (redisAsyncCommand (b->cmd, on_pong, b, "PING") != REDIS_OK) {
    b->ping_id = 0;
    bridge_fail (b, "cannot send PING");
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
maybe_up (CapBridge * b)
{
  CapJson j;

  if (b->state != STATE_CONNECTING || !b->cmd_ready || !b->sub_ready)
    return;
  b->state = STATE_UP;
  clear_source (&b->timeout_id);
  b->server->metrics.redis_up = TRUE;
  if (b->ever_up)
    b->server->metrics.redis_reconnects++;

  cap_log_begin (&j, "redis");
  cap_json_add_string (&j, "state", "up");
  cap_json_add_string (&j, "url", b->url);
  cap_json_add_int (&j, "reconnects", b->server->metrics.redis_reconnects);
  if (b->ever_up)
    cap_json_add_double (&j, "down_seconds",
        (gdouble) ((g_get_monotonic_time () - b->down_since) / 1000) / 1000.0);
  cap_log_end (&j);

  b->ever_up = TRUE;
  b->backoff = BACKOFF_FIRST;
  b->ping_id = g_timeout_add_seconds (PING_INTERVAL, send_ping, b);
  /* Before any final of theirs goes to Redis: the syncs are first on the command
   * connection. */
  foreach_room (b, cap_room_share_start);
}

/* ---------- connecting ---------- */

/* hiredis freed a context: by itself (its connection failed or closed), or ours in
 * on_teardown(). */
static void
on_freed (const redisAsyncContext * ac, gpointer user_data)
{
  CapBridge *b = user_data;
  g_autofree gchar *why = NULL;
  const gchar *which;

  if (ac == b->cmd) {
    b->cmd = NULL;
    which = "command";
  } else if (ac == b->sub) {
    b->sub = NULL;
    which = "subscriber";
  } else {
    return;
  }
  why = g_strdup_printf ("%s connection: %s", which,
      ac->err ? ac->errstr : "closed");
  bridge_fail (b, why);
}

static void
on_first_pong (redisAsyncContext * ac, void *r, void *privdata)
{
  CapBridge *b = privdata;

  if (!reply_ok (b, r, "PING"))
    return;
  b->cmd_ready = TRUE;
  maybe_up (b);
}

static void on_sub_reply (redisAsyncContext * ac, void *r, void *privdata);

static redisAsyncContext *
link_open (CapBridge * b, const gchar * address, GString * error)
{
  redisAsyncContext *ac = redisAsyncConnect (address, b->port);

  if (!ac) {
    g_string_assign (error, "out of memory");
    return NULL;
  }
  if (ac->err) {
    g_string_assign (error, ac->errstr);
    redisAsyncFree (ac);
    return NULL;
  }
  ac->data = b;
  cap_redis_attach (ac, NULL, on_freed, b);
  return ac;
}

static void
connect_to (CapBridge * b, const gchar * address)
{
  g_autoptr (GString) error = g_string_new (NULL);

  /* hiredis calls back on the first write: each connection starts with a command. */
  b->cmd = link_open (b, address, error);
  if (!b->cmd)
    goto failed;
  b->sub = link_open (b, address, error);
  if (!b->sub)
    goto failed;
  /* Named, for CLIENT LIST: which server a connection is. */
  if (redisAsyncCommand (b->cmd, NULL, NULL, "CLIENT SETNAME %s",
          b->client_name) != REDIS_OK ||
      redisAsyncCommand (b->sub, NULL, NULL, "CLIENT SETNAME %s",
          b->client_name) != REDIS_OK ||
      redisAsyncCommand (b->cmd, on_first_pong, b, "PING") != REDIS_OK ||
      redisAsyncCommand (b->sub, on_sub_reply, b, "PSUBSCRIBE %s",
          CHANNEL_PATTERN) != REDIS_OK) {
    g_string_assign (error, "cannot send the first command");
    goto failed;
  }
  return;

  /* ERRORS */
failed:
  bridge_fail (b, error->str);
}

static void
on_resolved (GObject * source, GAsyncResult * result, gpointer user_data)
{
  CapBridge *b = user_data;
  g_autoptr (GError) error = NULL;
  GList *addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (source),
      result, &error);
  g_autofree gchar *address = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&b->resolving);
  if (!addresses) {
    bridge_fail (b, error->message);
    return;
  }
  address = g_inet_address_to_string (addresses->data);
  g_resolver_free_addresses (addresses);
  connect_to (b, address);
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  CapBridge *b = user_data;

  b->timeout_id = 0;
  bridge_fail (b, "not connected within " G_STRINGIFY (CONNECT_TIMEOUT) " s");
  return G_SOURCE_REMOVE;
}

static void
bridge_connect (CapBridge * b)
{
  g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (b->host);

  b->state = STATE_CONNECTING;
  b->timeout_id = g_timeout_add_seconds (CONNECT_TIMEOUT, on_connect_timeout,
      b);
  if (literal) {
    connect_to (b, b->host);
    return;
  }
  /* hiredis would resolve a name with a blocking getaddrinfo(). */
  b->resolving = g_cancellable_new ();
  g_resolver_lookup_by_name_async (g_resolver_get_default (), b->host,
      b->resolving, on_resolved, b);
}

/* ---------- what comes from Redis ---------- */

static void
relay (CapBridge * b, const gchar * channel, gsize channel_len,
    const gchar * data, gsize len)
{
  CapServer *server = b->server;
  g_autofree gchar *name = channel_room (channel, channel_len);
  gint64 arrival = g_get_monotonic_time ();
  CapRoom *room;

  server->metrics.redis_in++;
  /* Every room's captions come; those of rooms not held here are not needed (a room
   * opened later catches up from its stream). */
  if (!name || !(room = cap_room_lookup (server, name)) ||
      len > MAX_RELAYED (server))
    return;
  if (g_str_has_prefix (data, CAP_MSG_FINAL_HEAD) ||
      g_str_has_prefix (data, CAP_MSG_REVISION_HEAD)) {
    CapCaption c;

    if (cap_final_parse (data, len, &c)) {
      cap_room_shared_final (room, &c, arrival);
      cap_caption_clear (&c);
    }
  } else if (cap_interim_frame_is_valid (data, len)) {
    g_autoptr (GBytes) frame = g_bytes_new (data, len);

    cap_room_shared_interim (room, frame, arrival);
  }
}

static void
on_sub_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  CapBridge *b = privdata;
  redisReply *reply = r;
  const gchar *kind;

  if (!reply_ok (b, reply, "PSUBSCRIBE") || reply->type != REDIS_REPLY_ARRAY ||
      reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING)
    return;
  kind = reply->element[0]->str;
  if (strcmp (kind, "psubscribe") == 0) {
    /* From now on, every room's captions reach us. */
    b->sub_ready = TRUE;
    maybe_up (b);
  } else if (strcmp (kind, "pmessage") == 0 && reply->elements == 4 &&
      reply->element[2]->type == REDIS_REPLY_STRING &&
      reply->element[3]->type == REDIS_REPLY_STRING) {
    relay (b, reply->element[2]->str, reply->element[2]->len,
        reply->element[3]->str, reply->element[3]->len);
  }
}

/* The room of a sync's reply, unless it was freed or synced again since. */
static CapRoom *
sync_room (RoomReq * req)
{
  CapRoom *room = cap_room_lookup (req->bridge->server, req->room);

  return room && room->sync_gen == req->gen &&
      room->share == CAP_SHARE_SYNCING ? room : NULL;
}

static void
on_sync_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  RoomReq *req = privdata;
  redisReply *reply = r;
  CapRoom *room;
  gsize i;

  if (reply_ok (req->bridge, reply, "room sync") &&
      reply->type == REDIS_REPLY_ARRAY && (room = sync_room (req))) {
    for (i = 0; i + 1 < reply->elements; i += 2) {
      redisReply *name = reply->element[i], *seq = reply->element[i + 1];

      if (name->type == REDIS_REPLY_STRING && seq->type == REDIS_REPLY_STRING)
        cap_room_merge_last_seq (room, name->str,
            g_ascii_strtoll (seq->str, NULL, 10));
    }
  }
  room_req_free (req);
}

/* A stream entry, [ "0-ID", [ "f", FRAME ] ], as a final; NULL if it is not one. */
static CapCaption *
parse_entry (CapServer * server, redisReply * entry)
{
  redisReply *fields;
  CapCaption *c;
  gint64 id;

  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING ||
      !g_str_has_prefix (entry->element[0]->str, "0-"))
    return NULL;
  id = g_ascii_strtoll (entry->element[0]->str + 2, NULL, 10);
  fields = entry->element[1];
  if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2 ||
      fields->element[1]->type != REDIS_REPLY_STRING ||
      fields->element[1]->len > MAX_RELAYED (server))
    return NULL;
  c = g_new0 (CapCaption, 1);
  if (!cap_final_parse (fields->element[1]->str, fields->element[1]->len, c) ||
      c->id != id) {
    cap_caption_clear (c);
    g_free (c);
    return NULL;
  }
  return c;
}

static void
caption_free (gpointer c)
{
  cap_caption_clear (c);
  g_free (c);
}

static void
on_catch_up_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  RoomReq *req = privdata;
  CapServer *server = req->bridge->server;
  redisReply *reply = r;
  g_autoptr (GPtrArray) finals = g_ptr_array_new_with_free_func (caption_free);
  CapRoom *room;
  gsize i;

  if (reply_ok (req->bridge, reply, "room catch-up") &&
      reply->type == REDIS_REPLY_ARRAY && (room = sync_room (req))) {
    for (i = 0; i < reply->elements; i++) {
      CapCaption *c = parse_entry (server, reply->element[i]);

      server->metrics.redis_in++;
      if (c)
        g_ptr_array_add (finals, c);
    }
    cap_room_sync_done (room, finals, g_get_monotonic_time ());
  }
  room_req_free (req);
}

static void
on_final_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  RoomReq *req = privdata;
  CapServer *server = req->bridge->server;
  redisReply *reply = r;
  CapRoom *room;
  CapConn *conn = NULL;
  GList *l;

  /* Lost: the room went local, and closed the publishers that wait. */
  if (!reply)
    goto done;
  room = cap_room_lookup (server, req->room);
  for (l = room ? room->publishers.head : NULL; l && !conn; l = l->next)
    if (cap_conn_get_id (l->data) == req->conn)
      conn = l->data;

  if (reply->type == REDIS_REPLY_ERROR) {
    CapJson j;

    /* Redis did not take it (out of memory, a read-only replica...). */
    cap_log_begin (&j, "redis_error");
    cap_json_add_string (&j, "room", req->room);
    cap_json_add_string (&j, "error", reply->str);
    cap_log_end (&j);
    if (conn)
      cap_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
          "redis failed", CAP_DROP_STORE);
  } else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
    /* Another server stored it: a duplicate, acknowledged again. */
    cap_metrics_count (&server->metrics.drops[CAP_DROP_DUPLICATE]);
    if (conn)
      cap_conn_final_stored (conn, req->seq, TRUE);
  }
  /* Else its id: the ack waits for the final to come back and be stored. */

done:
  room_req_free (req);
}

/* ---------- what goes to Redis ---------- */

static void
add_seq_arg (gpointer key, gpointer value, gpointer user_data)
{
  GPtrArray *argv = user_data;

  g_ptr_array_add (argv, g_strdup (key));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT,
          *(gint64 *) value));
}

/* Sends @argv (NUL-terminated strings) on the command connection. */
static gboolean
send_argv (CapBridge * b, GPtrArray * argv, redisCallbackFn * fn,
    gpointer privdata)
{
  g_autofree gsize *lens = g_new (gsize, argv->len);
  guint i;

  for (i = 0; i < argv->len; i++)
    lens[i] = strlen (g_ptr_array_index (argv, i));
  return redisAsyncCommandArgv (b->cmd, fn, privdata, argv->len,
      (const char **) argv->pdata, lens) == REDIS_OK;
}

static void
add_room_keys (GPtrArray * argv, const gchar * room)
{
  g_ptr_array_add (argv, g_strdup ("3"));
  g_ptr_array_add (argv, room_key (room, "id"));
  g_ptr_array_add (argv, room_key (room, "seq"));
  g_ptr_array_add (argv, room_key (room, "finals"));
}

gboolean
cap_bridge_sync_room (CapBridge * b, CapRoom * room)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) range = g_ptr_array_new_with_free_func (g_free);
  RoomReq *req;

  if (!b || b->state != STATE_UP || !b->cmd)
    return FALSE;
  room->sync_gen = ++b->sync_gen;

  g_ptr_array_add (argv, g_strdup ("EVAL"));
  g_ptr_array_add (argv, g_strdup (SYNC_SCRIPT));
  add_room_keys (argv, room->name);
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT,
          room->history.last_id));
  g_ptr_array_add (argv, g_strdup_printf ("%d", KEY_TTL));
  if (!cap_room_foreach_last_seq (room, add_seq_arg, argv))
    return FALSE;
  req = room_req_new (b, room);
  if (!send_argv (b, argv, on_sync_reply, req)) {
    room_req_free (req);
    return FALSE;
  }

  /* What other servers stored after the last id we had from Redis (those up to our
   * last id, we gave finals of our own while cut off). The subscription is on: a
   * final stored after this read comes through the channel (held back until this
   * reply is in). */
  g_ptr_array_add (range, g_strdup ("XRANGE"));
  g_ptr_array_add (range, room_key (room->name, "finals"));
  g_ptr_array_add (range, g_strdup_printf ("0-%" G_GINT64_FORMAT,
          room->shared_id + 1));
  g_ptr_array_add (range, g_strdup ("+"));
  req = room_req_new (b, room);
  if (!send_argv (b, range, on_catch_up_reply, req)) {
    room_req_free (req);
    return FALSE;
  }
  return TRUE;
}

gboolean
cap_bridge_publish_final (CapBridge * b, CapRoom * room, guint conn_id,
    const CapCaption * c)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  gint64 last_seq = cap_room_last_seq (room, c->publisher);
  RoomReq *req;

  if (!b || b->state != STATE_UP || !b->cmd)
    return FALSE;
  g_ptr_array_add (argv, g_strdup ("EVAL"));
  g_ptr_array_add (argv, g_strdup (FINAL_SCRIPT));
  add_room_keys (argv, room->name);
  g_ptr_array_add (argv, g_strdup (c->publisher));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT, c->seq));
  g_ptr_array_add (argv, cap_msg_final_after_id (c));
  g_ptr_array_add (argv, room_key (room->name, NULL));
  g_ptr_array_add (argv, g_strdup_printf ("%d", MAX (b->server->opts.history,
              STREAM_MIN)));
  g_ptr_array_add (argv, g_strdup_printf ("%d", KEY_TTL));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT,
          room->history.last_id));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT,
          MAX (last_seq, 0)));
  g_ptr_array_add (argv, g_strdup (cap_msg_final_head (c)));
  req = room_req_new (b, room);
  req->conn = conn_id;
  req->seq = c->seq;
  if (!send_argv (b, argv, on_final_reply, req)) {
    room_req_free (req);
    return FALSE;
  }
  b->server->metrics.redis_out++;
  return TRUE;
}

gboolean
cap_bridge_publish_interim (CapBridge * b, CapRoom * room, GBytes * frame)
{
  g_autofree gchar *channel = room_key (room->name, NULL);
  gsize len;
  const gchar *data = g_bytes_get_data (frame, &len);

  if (!b || b->state != STATE_UP || !b->cmd)
    return FALSE;
  if (redisAsyncCommand (b->cmd, NULL, NULL, "PUBLISH %s %b", channel, data,
          len) != REDIS_OK)
    return FALSE;
  b->server->metrics.redis_out++;
  return TRUE;
}

/* ---------- life ---------- */

CapBridge *
cap_bridge_new (CapServer * server, const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *path;
  CapBridge *b;

  if (!uri || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0 ||
      !g_uri_get_host (uri) || !*g_uri_get_host (uri))
    goto bad_url;
  if (g_uri_get_userinfo (uri))
    goto has_password;
  path = g_uri_get_path (uri);
  if ((*path && strcmp (path, "/") != 0) || g_uri_get_query (uri) ||
      g_uri_get_fragment (uri))
    goto bad_url;

  b = g_new0 (CapBridge, 1);
  b->server = server;
  b->url = g_strdup (url);
  b->host = g_strdup (g_uri_get_host (uri));
  b->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : DEFAULT_PORT;
  b->client_name = g_strdup_printf (CAP_PROGRAM ":%d", (gint) getpid ());
  b->state = STATE_DOWN;
  b->backoff = BACKOFF_FIRST;
  server->metrics.redis = TRUE;
  return b;

  /* ERRORS */
bad_url:
  {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--redis must be redis://HOST[:PORT] (got \"%s\")", url);
    return NULL;
  }
has_password:
  {
    /* Not echoed: it may hold a password. */
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--redis: user names and passwords are not supported; use a Redis "
        "only the servers can reach");
    return NULL;
  }
}

void
cap_bridge_start (CapBridge * b)
{
  bridge_connect (b);
}

void
cap_bridge_free (CapBridge * b)
{
  if (!b)
    return;
  /* Not a failure: no warning, no retry. */
  b->state = STATE_DOWN;
  clear_source (&b->retry_id);
  clear_source (&b->timeout_id);
  clear_source (&b->ping_id);
  clear_source (&b->teardown_id);
  if (b->resolving) {
    g_cancellable_cancel (b->resolving);
    g_clear_object (&b->resolving);
  }
  /* Their pending callbacks run now, with NULL replies. */
  on_teardown (b);
  g_free (b->url);
  g_free (b->host);
  g_free (b->client_name);
  g_free (b);
}
