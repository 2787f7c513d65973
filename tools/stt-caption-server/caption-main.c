/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-caption-server: caption fan-out. Publishers (sttpublish) send captions to a
 * room, any number of viewers (browsers, on the page the server serves) watch it. The
 * wire protocol is docs/caption-server.md; tools/README.md says how to run it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Files:
 *   caption-main.c        options, start-up, signals, shutdown
 *   caption-conn.c        one WebSocket: admission, messages, send queue, close
 *   caption-room.c        rooms, held finals (history), the fan-out
 *   caption-workers.c     the viewer threads (--threads) and the rooms' shards in them
 *   caption-bridge.c      --redis: rooms shared by several servers
 *   caption-redis.c       hiredis' async context in the GLib main loop
 *   caption-auth.c        tokens (verified by ../stt-caption-jwt.c) and public rooms
 *   caption-limits.c      connections per address, messages per second
 *   caption-store.c       SQLite, one file per room
 *   caption-http.c        Origin check, /health, /metrics, the viewer page, transcripts
 *   caption-transcript.c  WebVTT and SRT
 *   caption-protocol.c    the messages
 *   caption-metrics.c     counters, Prometheus text
 *   caption-log.c         one JSON line per event on stderr
 *   viewer.html           the viewer page (a GResource)
 * The listening socket and each connection's guard (message size, bytes written) are
 * ../stt-local-listener.c and ../stt-local-guard.c, the command line's chores
 * ../stt-tool-options.c, shared with stt-local-server. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "gststtjwt.h"
#include "stt-local-listener.h"
#include "stt-tool-options.h"
#include "caption-bridge.h"
#include "caption-conn.h"
#include "caption-http.h"
#include "caption-log.h"
#include "caption-protocol.h"
#include "caption-room.h"
#include "caption-server.h"
#include "caption-workers.h"

#ifndef VERSION
#define VERSION "dev"
#endif

/* Seconds for a connection to complete its HTTP request or WebSocket handshake. */
#define HANDSHAKE_TIMEOUT 10
/* After SIGTERM: seconds for clients to answer our close frames, then their sockets
 * are shut down, and one more second for libsoup to see it. */
#define SHUTDOWN_GRACE 3
#define DEFAULT_TOKEN_LIFETIME 3600

typedef struct
{
  gchar *room;
  gchar *role;
  gchar *sub;
  gint lifetime;
} MintOptions;

void
cap_server_maybe_quit (CapServer * server)
{
  if (server->shutting_down && server->conns.length == 0 &&
      server->n_viewers == 0)
    g_main_loop_quit (server->loop);
}

/* ---------- shutdown ---------- */

static gboolean
on_last_grace (gpointer user_data)
{
  CapServer *server = user_data;

  server->grace_id = 0;
  g_main_loop_quit (server->loop);
  return G_SOURCE_REMOVE;
}

/* Clients that did not answer our close frame in time are dropped. */
static gboolean
on_grace (gpointer user_data)
{
  CapServer *server = user_data;

  cap_conn_abort_all (&server->conns);
  cap_workers_abort_all (server);
  server->grace_id = g_timeout_add_seconds (1, on_last_grace, server);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  CapServer *server = user_data;
  CapJson j;

  if (server->shutting_down) {
    /* Second signal: do not wait for clients. */
    if (server->grace_id)
      g_source_remove (server->grace_id);
    server->grace_id = 0;
    on_grace (server);
    return G_SOURCE_CONTINUE;
  }
  server->shutting_down = TRUE;
  cap_log_begin (&j, "shutdown");
  cap_json_add_int (&j, "connections", server->conns.length +
      server->n_viewers);
  cap_log_end (&j);

  g_clear_pointer (&server->listener, stt_listener_free);
  /* Connections still in their HTTP request. */
  soup_server_disconnect (server->soup);
  cap_conn_close_all (&server->conns);
  cap_workers_close_all (server);
  server->grace_id = g_timeout_add_seconds (SHUTDOWN_GRACE, on_grace, server);
  cap_server_maybe_quit (server);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sweep (gpointer user_data)
{
  CapServer *server = user_data;

  cap_conn_sweep (server, &server->conns);
  return G_SOURCE_CONTINUE;
}

/* ---------- options ---------- */

static void
options_clear (CapOptions * opts)
{
  g_clear_pointer (&opts->host, g_free);
  g_clear_pointer (&opts->secret_file, g_free);
  g_clear_pointer (&opts->store_dir, g_free);
  g_clear_pointer (&opts->public_rooms, g_strfreev);
  g_clear_pointer (&opts->allow_origins, g_strfreev);
  g_clear_pointer (&opts->redis_url, g_free);
}

static void
wipe_bytes (gpointer data)
{
  GString *s = data;

  memset (s->str, 0, s->len);
  g_string_free (s, TRUE);
}

/* The secret: the file's content without surrounding whitespace, as sttpublish and
 * the token-secret-file of the other elements read it. */
static GBytes *
read_secret (const gchar * path, GError ** error)
{
  gchar *contents = NULL;
  gsize len = 0;
  GString *s;

  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  g_strstrip (contents);
  s = g_string_new (contents);
  memset (contents, 0, len);
  g_free (contents);
  if (s->len == 0) {
    wipe_bytes (s);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "secret file %s is empty", path);
    return NULL;
  }
  return g_bytes_new_with_free_func (s->str, s->len, wipe_bytes, s);
}

static gboolean
check_options (CapOptions * opts, MintOptions * mint, GError ** error)
{
  guint i;

  if (!stt_tool_check_range ("port", opts->port, 0, 65535, error) ||
      !stt_tool_check_range ("history", opts->history, 0, 100000, error) ||
      !stt_tool_check_range ("room-ttl", opts->room_ttl, 0, 7 * 24 * 3600,
          error) ||
      !stt_tool_check_range ("max-rooms", opts->max_rooms, 1, 1000000,
          error) ||
      !stt_tool_check_range ("max-per-ip", opts->max_per_ip, 1, 1000000,
          error) ||
      !stt_tool_check_range ("max-rate", opts->max_rate, 1, 1000000, error) ||
      !stt_tool_check_range ("max-message", opts->max_message, 256, 16 << 20,
          error) ||
      !stt_tool_check_range ("max-viewers", opts->max_viewers, 1, 10000000,
          error) ||
      !stt_tool_check_range ("max-queue", opts->max_queue,
          opts->max_message + 14, G_MAXINT, error) ||
      !stt_tool_check_range ("heartbeat", opts->heartbeat, 0, 3600, error) ||
      !stt_tool_check_range ("heartbeat-timeout", opts->heartbeat_timeout, 0,
          36000, error) ||
      !stt_tool_check_range ("threads", opts->threads, 0, 256, error))
    return FALSE;
  if (opts->heartbeat_timeout > 0 && opts->heartbeat_timeout <= opts->heartbeat) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--heartbeat-timeout must be longer than --heartbeat (a client "
        "answers a ping only after it is sent)");
    return FALSE;
  }
  for (i = 0; opts->public_rooms && opts->public_rooms[i]; i++) {
    if (!cap_room_name_is_valid (opts->public_rooms[i])) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--public-room \"%s\" is not a room name (1 to 64 of A-Z a-z 0-9 "
          "_ -)", opts->public_rooms[i]);
      return FALSE;
    }
  }
#ifndef CAP_HAVE_REDIS
  if (opts->redis_url) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "--redis: this " CAP_PROGRAM " was built without hiredis (install "
        "libhiredis-dev, see scripts/deps.sh, and build again)");
    return FALSE;
  }
#endif
  if (!opts->secret_file) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "--secret-file is required: tokens are checked with it");
    return FALSE;
  }
  if (mint->room) {
    if (strcmp (mint->room, "*") != 0 && !cap_room_name_is_valid (mint->room)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--print-token \"%s\" is not a room name or *", mint->room);
      return FALSE;
    }
    if (g_strcmp0 (mint->role, "publish") != 0 &&
        g_strcmp0 (mint->role, "watch") != 0) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--token-role must be publish or watch");
      return FALSE;
    }
    if (!stt_tool_check_range ("token-lifetime", mint->lifetime, 1, G_MAXINT,
            error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_options (CapOptions * opts, MintOptions * mint, int *argc, char ***argv,
    GError ** error)
{
  GOptionEntry entries[] = {
    {"port", 'p', 0, G_OPTION_ARG_INT, &opts->port,
        "TCP port, 0 for any free port (default 8080)", "N"},
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opts->host,
        "Address to listen on (default 127.0.0.1)", "ADDR"},
    {"secret-file", 0, 0, G_OPTION_ARG_FILENAME, &opts->secret_file,
          "File holding the HS256 secret tokens are signed with (surrounding "
        "whitespace removed); required", "FILE"},
    {"store", 0, 0, G_OPTION_ARG_FILENAME, &opts->store_dir,
        "Directory of the room stores, ROOM.sqlite (default ./caption-store)",
        "DIR"},
    {"history", 0, 0, G_OPTION_ARG_INT, &opts->history,
        "Finals a joining viewer gets, and held per room for since= (default "
          "100)", "N"},
    {"room-ttl", 0, 0, G_OPTION_ARG_INT, &opts->room_ttl,
          "Seconds a room without connections stays in memory (default 300); "
        "its store stays on disk", "SECONDS"},
    {"max-rooms", 0, 0, G_OPTION_ARG_INT, &opts->max_rooms,
          "Rooms in memory at once; past it a new room is refused with 4004 "
        "(default 1000)", "N"},
    {"public-room", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->public_rooms,
        "Room viewers may watch without a token (repeatable)", "ROOM"},
    {"allow-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->allow_origins,
          "Accept requests whose Origin header is ORIGIN, e.g. "
          "https://example.org; others get 403 (repeatable; default: any "
        "origin)", "ORIGIN"},
    {"max-per-ip", 0, 0, G_OPTION_ARG_INT, &opts->max_per_ip,
          "WebSocket connections per client address; more are closed with "
        "4029 (default 50)", "N"},
    {"max-rate", 0, 0, G_OPTION_ARG_INT, &opts->max_rate,
          "Messages per second per connection (bursts of as many); more "
        "close it with 4029 (default 50)", "N"},
    {"max-message", 0, 0, G_OPTION_ARG_INT, &opts->max_message,
          "Largest message in bytes; a bigger one closes the connection with "
        "1009 (default 65536)", "BYTES"},
    {"max-viewers", 0, 0, G_OPTION_ARG_INT, &opts->max_viewers,
        "Viewers per room; more are closed with 4009 (default 10000)", "N"},
    {"max-queue", 0, 0, G_OPTION_ARG_INT, &opts->max_queue,
          "Bytes queued for one client and not yet sent; past it the client "
        "is closed with 4010 (default 1048576)", "BYTES"},
    {"heartbeat", 0, 0, G_OPTION_ARG_INT, &opts->heartbeat,
          "Ping each client at least every SECONDS (each connection's interval "
          "is drawn from the upper half, so that pings spread out), 0 for none "
        "(default 15)", "SECONDS"},
    {"heartbeat-timeout", 0, 0, G_OPTION_ARG_INT, &opts->heartbeat_timeout,
          "Close with 4008 a client that sent nothing, not even a pong, for "
        "this long; 0 for never (default 45)", "SECONDS"},
    {"threads", 0, 0, G_OPTION_ARG_INT, &opts->threads,
          "Threads that hold the viewers' connections and send them the "
        "captions (default: four per CPU, also said by 0)", "N"},
    {"redis", 0, 0, G_OPTION_ARG_STRING, &opts->redis_url,
          "Share rooms with the other servers on this Redis, "
        "redis://HOST[:PORT] (default: none, rooms are this server's)", "URL"},
    {"print-token", 0, 0, G_OPTION_ARG_STRING, &mint->room,
          "Print a token for ROOM (or * for every room) signed with "
        "--secret-file, and exit", "ROOM"},
    {"token-role", 0, 0, G_OPTION_ARG_STRING, &mint->role,
        "With --print-token: publish or watch (default watch)", "ROLE"},
    {"token-sub", 0, 0, G_OPTION_ARG_STRING, &mint->sub,
        "With --print-token: the publisher's name (sub claim)", "NAME"},
    {"token-lifetime", 0, 0, G_OPTION_ARG_INT, &mint->lifetime,
        "With --print-token: seconds the token is valid (default 3600)",
        "SECONDS"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- caption fan-out server");

  g_option_context_set_summary (ctx,
      "Publishers send captions to ws://HOST:PORT/publish/ROOM, viewers watch "
      "ws://HOST:PORT/watch/ROOM\nor the page http://HOST:PORT/rooms/ROOM. "
      "Protocol: docs/caption-server.md.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!stt_tool_parse_options (ctx, CAP_PROGRAM, VERSION, argc, argv, error))
    return FALSE;
  if (!opts->host)
    opts->host = g_strdup (CAP_DEFAULT_HOST);
  if (!opts->store_dir)
    opts->store_dir = g_strdup (CAP_DEFAULT_STORE);
  if (!mint->role)
    mint->role = g_strdup ("watch");
  return check_options (opts, mint, error);
}

/* --print-token: a token as sttpublish or a page would be given. */
static gint
print_token (CapServer * server, MintOptions * mint)
{
  g_autoptr (JsonObject) claims = json_object_new ();
  gsize key_len;
  const guint8 *key = g_bytes_get_data (server->secret, &key_len);
  gchar *token;

  json_object_set_string_member (claims, "room", mint->room);
  json_object_set_string_member (claims, "role", mint->role);
  if (mint->sub)
    json_object_set_string_member (claims, "sub", mint->sub);
  token = gst_stt_jwt_mint (key, key_len, claims,
      g_get_real_time () / G_USEC_PER_SEC, mint->lifetime);
  if (!token) {
    g_printerr (CAP_PROGRAM ": could not sign a token (OpenSSL failed)\n");
    return 1;
  }
  printf ("%s\n", token);
  memset (token, 0, strlen (token));
  g_free (token);
  return 0;
}

/* ---------- main ---------- */

/* The line scripts wait for (stdout, first line, flushed), and the start event with
 * the settings in force (stderr). */
static void
server_announce (CapServer * server)
{
  CapOptions *opts = &server->opts;
  g_autofree gchar *url = stt_listener_get_url (server->listener, "http");
  CapJson j;

  printf ("listening on %s\n", url);
  fflush (stdout);

  cap_log_begin (&j, "start");
  cap_json_add_string (&j, "version", VERSION);
  cap_json_add_string (&j, "url", url);
  cap_json_add_string (&j, "store", opts->store_dir);
  cap_json_add_int (&j, "history", opts->history);
  cap_json_add_int (&j, "room_ttl", opts->room_ttl);
  cap_json_add_int (&j, "max_rooms", opts->max_rooms);
  cap_json_add_int (&j, "max_per_ip", opts->max_per_ip);
  cap_json_add_int (&j, "max_rate", opts->max_rate);
  cap_json_add_int (&j, "max_message", opts->max_message);
  cap_json_add_int (&j, "max_viewers", opts->max_viewers);
  cap_json_add_int (&j, "max_queue", opts->max_queue);
  cap_json_add_int (&j, "heartbeat", opts->heartbeat);
  cap_json_add_int (&j, "heartbeat_timeout", opts->heartbeat_timeout);
  cap_json_add_int (&j, "threads", server->n_workers);
  if (opts->redis_url)
    cap_json_add_string (&j, "redis", opts->redis_url);
  cap_log_end (&j);
}

/* Messages of GLib and libsoup (warnings) as lines like ours; libsoup's debug
 * messages (every frame) are dropped. */
static void
on_log (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer user_data)
{
  CapJson j;

  if (level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return;
  cap_log_begin (&j, "log");
  cap_json_add_string (&j, "domain", domain ? domain : "");
  cap_json_add_string (&j, "message", message);
  cap_log_end (&j);
}

int
main (int argc, char *argv[])
{
  CapServer server = { 0 };
  MintOptions mint = { 0 };
  g_autoptr (GError) error = NULL;
  gint status = 0;

  server.opts.port = CAP_DEFAULT_PORT;
  server.opts.history = CAP_DEFAULT_HISTORY;
  server.opts.room_ttl = CAP_DEFAULT_ROOM_TTL;
  server.opts.max_rooms = CAP_DEFAULT_MAX_ROOMS;
  server.opts.max_per_ip = CAP_DEFAULT_MAX_PER_IP;
  server.opts.max_rate = CAP_DEFAULT_MAX_RATE;
  server.opts.max_message = CAP_DEFAULT_MAX_MESSAGE;
  server.opts.max_viewers = CAP_DEFAULT_MAX_VIEWERS;
  server.opts.max_queue = CAP_DEFAULT_MAX_QUEUE;
  server.opts.heartbeat = CAP_DEFAULT_HEARTBEAT;
  server.opts.heartbeat_timeout = CAP_DEFAULT_HEARTBEAT_TIMEOUT;
  mint.lifetime = DEFAULT_TOKEN_LIFETIME;

  if (!parse_options (&server.opts, &mint, &argc, &argv, &error)) {
    status = stt_tool_usage_error (CAP_PROGRAM, error);
    goto out;
  }
  server.secret = read_secret (server.opts.secret_file, &error);
  if (!server.secret)
    goto failed;
  if (mint.room) {
    status = print_token (&server, &mint);
    goto out;
  }
  g_log_set_default_handler (on_log, NULL);

  server.started = g_get_monotonic_time ();
  server.rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      cap_room_destroy);
  server.ip_limit = cap_ip_limit_new (server.opts.max_per_ip);
  server.context = g_main_context_default ();
  server.loop = g_main_loop_new (server.context, FALSE);
  server.soup = soup_server_new ("server-header", CAP_PROGRAM "/" VERSION,
      NULL);
  /* WebSocket handshakes too (caption-http.c): viewers are made on the workers. */
  soup_server_add_handler (server.soup, NULL, cap_http_on_request, &server,
      NULL);
  cap_workers_start (&server, server.opts.threads > 0 ?
      (guint) server.opts.threads : CAP_THREADS_PER_CPU *
      MAX (g_get_num_processors (), 1));

#ifdef CAP_HAVE_REDIS
  if (server.opts.redis_url) {
    server.bridge = cap_bridge_new (&server, server.opts.redis_url, &error);
    if (!server.bridge) {
      g_printerr (CAP_PROGRAM ": %s\n", error->message);
      status = 2;
      goto out;
    }
  }
#endif
  server.listener = stt_listener_new_on_host (server.soup, server.opts.host,
      server.opts.port, server.opts.max_message, HANDSHAKE_TIMEOUT, &error);
  if (!server.listener)
    goto failed;
  /* Before the listening line: a script may stop us as soon as it reads it. */
  g_unix_signal_add (SIGINT, on_signal, &server);
  g_unix_signal_add (SIGTERM, on_signal, &server);
  server_announce (&server);
#ifdef CAP_HAVE_REDIS
  if (server.bridge)
    cap_bridge_start (server.bridge);
#endif
  server.sweep_id = g_timeout_add_seconds (1, on_sweep, &server);
  g_main_loop_run (server.loop);

  if (server.grace_id)
    g_source_remove (server.grace_id);
  g_source_remove (server.sweep_id);
  {
    CapJson j;

    cap_log_begin (&j, "stop");
    cap_json_add_int (&j, "connections", server.conns.length +
        server.n_viewers);
    cap_log_end (&j);
  }
  goto out;

failed:
  g_printerr (CAP_PROGRAM ": %s\n", error->message);
  status = 1;

out:
#ifdef CAP_HAVE_REDIS
  /* Before the rooms: its pending replies look rooms up. */
  g_clear_pointer (&server.bridge, cap_bridge_free);
#endif
  /* Before the rooms: their shards are the workers'. */
  if (server.workers)
    cap_workers_stop (&server);
  /* Stores are flushed and closed here. */
  if (server.rooms)
    cap_room_free_all (&server);
  g_clear_pointer (&server.listener, stt_listener_free);
  g_clear_object (&server.soup);
  g_clear_pointer (&server.rooms, g_hash_table_unref);
  g_clear_pointer (&server.ip_limit, cap_ip_limit_free);
  g_clear_pointer (&server.loop, g_main_loop_unref);
  g_clear_pointer (&server.secret, g_bytes_unref);
  cap_workers_free (&server);
  options_clear (&server.opts);
  g_free (mint.room);
  g_free (mint.role);
  g_free (mint.sub);
  return status;
}
