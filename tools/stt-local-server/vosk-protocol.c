/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vosk-protocol: see vosk-protocol.h. Every HTTP request and WebSocket message of
 * a client, on the main thread; what they ask of the recognizer goes to the
 * client's Session (worker.c), and the replies come back here to be sent.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Protocol (what alphacep/vosk-server does, see docs/providers "Vosk server"):
 *   - WebSocket on any path, no auth.
 *   - optional first text message {"config" : {"sample_rate" : R, "words" : 1}};
 *     no reply.
 *   - binary messages: S16LE mono PCM at R Hz (default 16000).
 *   - every other message gets exactly one JSON text reply:
 *     {"partial":"..."} while an utterance is open, {"result":[...],"text":"..."}
 *     once an endpoint is reached, {"text":""} for an endpoint with no words.
 *   - text exactly {"eof" : 1}: final result, then close 1000.
 *   - text exactly {"reset" : 1}: final result, the session goes on.
 *   - GET /health: counters as JSON.
 *
 * Limits (it is a network service; vosk-server itself has none):
 *   - A request that carries an Origin header (a web page) gets 403 unless
 *     --allow-origin names that origin. Programs send no Origin.
 *   - At most --max-clients WebSocket clients (default 5 per core, below the
 *     live streams a core decodes in real time: main.c). One more is refused
 *     before the upgrade with 503 and
 *     Retry-After: 1: a vosk client fails at connect time, before it sends
 *     any audio, and the gst-stt client retries. (A client let in by a race
 *     of simultaneous handshakes is closed with 1001 instead: libsoup cannot
 *     send 1013.)
 *   - A message (a frame, or all the fragments of one) may carry 1 MiB; a
 *     bigger one closes the connection with 1009 (stt-local-guard.c drops it
 *     before libsoup would buffer it).
 *   - Queued input (audio received but not yet decoded, and messages not yet
 *     answered) is bounded at 1 MiB per client by backpressure (worker.c):
 *     the server stops reading that client until the queue is half empty, as
 *     vosk-server does by reading one message at a time. TCP slows the client
 *     down; no audio is dropped. A client that does not read its replies is
 *     not read either. A client that leaves stops its decoding at once.
 *   - A client that sends nothing, and is owed nothing, for --idle-timeout
 *     seconds (default 60) is closed with 1001. A connection that has not
 *     completed its WebSocket handshake within 10 s is dropped.
 *   - Running out of file descriptors does not stop the server: clients are
 *     answered 503 until some leave (stt-local-listener.c).
 *   - permessage-deflate is off: a small compressed frame could inflate to
 *     gigabytes.
 *   - JSON text is checked before json-glib parses it (sttjson.c): json-glib
 *     recurses once per nesting level.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "sttjson.h"
#include "stt-local-guard.h"
#include "recognizer.h"
#include "worker.h"
#include "vosk-protocol.h"

/* vosk compares these byte for byte; spacing matters. */
static const char EOF_MESSAGE[] = "{\"eof\" : 1}";
static const char RESET_MESSAGE[] = "{\"reset\" : 1}";

/* One WebSocket connection. Main thread only. */
typedef struct
{
  Server *server;
  guint id;
  Session *session;             /* the decoding side (worker.c) */
  SoupWebsocketConnection *conn;
  SttGuardStream *guard;
  gchar *peer;
  gint rate;                    /* for audio_seconds */
  gboolean got_audio;
  gboolean got_eof;
  gboolean finishing;
  gint64 last_sent;             /* monotonic time of the last reply */
  GSource *idle_timer;
} Client;

/* ---------- JSON ---------- */

static gchar *
json_health (Server * server)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  gint64 queued = 0;
  guint loaded, loads;
  GList *l;

  for (l = server->clients; l; l = l->next)
    queued += session_get_queued (((Client *) l->data)->session);
  stt_decoders_get_counts (server->decoders, &loaded, &loads);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "ok");
  json_builder_set_member_name (b, "active_connections");
  json_builder_add_int_value (b, server->active_connections);
  json_builder_set_member_name (b, "total_connections");
  json_builder_add_int_value (b, server->total_connections);
  json_builder_set_member_name (b, "audio_seconds");
  json_builder_add_double_value (b,
      round (server->audio_seconds * 1000.0) / 1000.0);
  json_builder_set_member_name (b, "max_clients");
  json_builder_add_int_value (b, server->opts.max_clients);
  json_builder_set_member_name (b, "refused_connections");
  json_builder_add_int_value (b, server->refused_busy +
      (server->listener ? stt_listener_get_refused (server->listener) : 0));
  json_builder_set_member_name (b, "queued_bytes");
  json_builder_add_int_value (b, queued);
  json_builder_set_member_name (b, "decoders");
  json_builder_add_int_value (b, loaded);
  json_builder_set_member_name (b, "decoder_loads");
  json_builder_add_int_value (b, loads);
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

/* Parses a vosk config message. Returns FALSE with @error if it is not one
 * we can honour; fields that are absent keep their current value. */
static gboolean
parse_config (const gchar * data, gsize size, gint * rate, gboolean * words,
    GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *root;
  JsonObject *config;
  JsonNode *node;

  /* Checked before json-glib sees it: its parser recurses once per nesting
   * level, so "[[[[..." 100 000 deep would overflow the stack. */
  root = stt_json_parse_object (data, size, &parser);
  if (!root) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "not a JSON object (or nested too deep)");
    return FALSE;
  }
  node = json_object_get_member (root, "config");
  if (!node || !JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "\"config\" must be an object");
    return FALSE;
  }
  config = json_node_get_object (node);

  node = json_object_get_member (config, "sample_rate");
  if (node) {
    gdouble r;

    if (!JSON_NODE_HOLDS_VALUE (node) ||
        (json_node_get_value_type (node) != G_TYPE_INT64 &&
            json_node_get_value_type (node) != G_TYPE_DOUBLE)) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "sample_rate must be a number");
      return FALSE;
    }
    r = json_node_get_double (node);
    if (r < MIN_CLIENT_RATE || r > MAX_CLIENT_RATE) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "sample_rate %g not supported (%d..%d)", r, MIN_CLIENT_RATE,
          MAX_CLIENT_RATE);
      return FALSE;
    }
    *rate = (gint) lround (r);
  }

  node = json_object_get_member (config, "words");
  if (node && JSON_NODE_HOLDS_VALUE (node)) {
    if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
      *words = json_node_get_boolean (node);
    else if (json_node_get_value_type (node) == G_TYPE_INT64)
      *words = json_node_get_int (node) != 0;
  }
  return TRUE;
}

/* ---------- clients ---------- */

/* Main thread. libsoup gives the client 5 s to answer before it closes the
 * socket, even one that does not read. */
static void
client_close (Client * c, gushort code, const gchar * reason)
{
  if (c->finishing || soup_websocket_connection_get_state (c->conn) !=
      SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_close (c->conn, code, reason);
}

/* Main thread: after session_push*() said the client's queue is full. What the
 * client sends waits in the kernel until the worker has caught up
 * (REPLY_RESUME). */
static void
client_hold (Client * c, gboolean hold)
{
  if (hold)
    stt_guard_stream_set_paused (c->guard, TRUE);
}

static void
server_maybe_quit (Server * server)
{
  if (server->shutting_down && server->clients == NULL)
    g_main_loop_quit (server->loop);
}

/* Main thread: the connection is gone (or being dropped); drop its queued
 * work and let a worker hand the decoder back. Idempotent. */
static void
client_finish (Client * c)
{
  Server *server = c->server;

  if (c->finishing)
    return;
  c->finishing = TRUE;
  server->active_connections--;

  /* No more messages; the connection object itself is dropped once the
   * worker side is done, outside of any of its signal emissions. */
  if (c->conn)
    g_signal_handlers_disconnect_by_data (c->conn, c);
  stt_guard_stream_set_too_big_func (c->guard, NULL, NULL);
  if (c->idle_timer) {
    g_source_destroy (c->idle_timer);
    g_clear_pointer (&c->idle_timer, g_source_unref);
  }

  client_hold (c, session_stop (c->session));
}

static void
client_free (Client * c)
{
  g_assert (c->conn == NULL);
  g_assert (c->guard == NULL);
  g_assert (c->idle_timer == NULL);
  session_unref (c->session);
  g_free (c->peer);
  g_free (c);
}

/* Main thread (SessionReplyFunc): sends what the worker produced, in order. */
static void
on_reply (ReplyKind kind, const gchar * text, gushort code, gpointer user_data)
{
  Client *c = user_data;
  Server *server = c->server;

  switch (kind) {
    case REPLY_TEXT:
      if (!c->finishing && soup_websocket_connection_get_state (c->conn) ==
          SOUP_WEBSOCKET_STATE_OPEN) {
        if (server->opts.verbose)
          g_printerr (PROGRAM ": client %u <- %s\n", c->id, text);
        soup_websocket_connection_send_text (c->conn, text);
        c->last_sent = g_get_monotonic_time ();
      }
      break;
    case REPLY_CLOSE:
      client_close (c, code, text);
      break;
    case REPLY_RESUME:
      if (!c->finishing)
        stt_guard_stream_set_paused (c->guard, FALSE);
      break;
    case REPLY_DONE:
      g_clear_object (&c->conn);
      g_clear_object (&c->guard);
      server->clients = g_list_remove (server->clients, c);
      server->n_clients--;
      client_free (c);
      server_maybe_quit (server);
      break;
  }
}

static gboolean on_idle_timer (gpointer data);

/* Main thread: the idle check runs next at @when (monotonic time). */
static void
client_arm_idle_timer (Client * c, gint64 when)
{
  gint64 wait_ms = MAX (when - g_get_monotonic_time (), 0) / 1000 + 1;

  c->idle_timer = g_timeout_source_new ((guint) MIN (wait_ms, G_MAXUINT));
  /* No reference: client_finish() removes the source. */
  g_source_set_callback (c->idle_timer, on_idle_timer, c, NULL);
  g_source_attach (c->idle_timer, c->server->context);
}

/* A client that has sent nothing, and is owed nothing, for --idle-timeout
 * seconds is closed with 1001. */
static gboolean
on_idle_timer (gpointer data)
{
  Client *c = data;
  Server *server = c->server;
  gint64 limit = (gint64) server->opts.idle_timeout * G_USEC_PER_SEC;
  gint64 now = g_get_monotonic_time ();
  gint64 last = MAX (stt_guard_stream_get_last_read (c->guard), c->last_sent);
  g_autofree gchar *reason = NULL;

  g_clear_pointer (&c->idle_timer, g_source_unref);
  /* Audio being decoded, or waiting for a decoder, keeps a quiet client. */
  if (session_get_queued (c->session) > 0)
    last = now;
  if (now - last < limit) {
    client_arm_idle_timer (c, last + limit);
    return G_SOURCE_REMOVE;
  }

  log_info (server, "client %u: nothing received for %d s, closing", c->id,
      server->opts.idle_timeout);
  if (soup_websocket_connection_get_state (c->conn) !=
      SOUP_WEBSOCKET_STATE_OPEN) {
    /* Stuck closing (our close frame cannot be written). */
    stt_guard_stream_shutdown (c->guard);
    return G_SOURCE_REMOVE;
  }
  reason = g_strdup_printf ("idle timeout (%d s without data)",
      server->opts.idle_timeout);
  client_close (c, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, reason);
  /* Checked again: a client that does not read may never let it close. */
  client_arm_idle_timer (c, now + limit);
  return G_SOURCE_REMOVE;
}

/* Called by the guard: the client sent a message over MAX_MESSAGE_SIZE, which
 * the guard dropped. */
static void
on_too_big (SttGuardStream * guard, gpointer user_data)
{
  Client *c = user_data;

  log_info (c->server, "client %u: message over %d bytes, closing", c->id,
      MAX_MESSAGE_SIZE);
  /* Nothing it sends from now on is decoded. */
  c->got_eof = TRUE;
  client_close (c, SOUP_WEBSOCKET_CLOSE_TOO_BIG,
      "message too big (1 MiB at most)");
}

/* Main thread: a text message mentioning "config" (vosk parses any such
 * message as config). */
static void
client_config (Client * c, const gchar * data, gsize size)
{
  Server *server = c->server;
  g_autoptr (GError) error = NULL;
  gint rate = c->rate;
  gboolean words = TRUE;

  if (!parse_config (data, size, &rate, &words, &error))
    goto bad_config;
  /* Like vosk, the recognizer's rate is fixed once audio has flowed. */
  if (c->got_audio && rate != c->rate) {
    log_info (server, "client %u: sample_rate change after audio ignored",
        c->id);
    rate = c->rate;
  }
  c->rate = rate;
  client_hold (c, session_push_config (c->session, rate, words));
  return;

  /* ERRORS */
bad_config:
  {
    g_autofree gchar *reason = g_strdup_printf ("bad config: %s",
        error->message);

    /* A close reason must fit in a control frame (123 bytes) and stay
     * valid UTF-8. */
    if (strlen (reason) > 120)
      *g_utf8_find_prev_char (reason, reason + 121) = '\0';
    log_info (server, "client %u: %s", c->id, reason);
    c->got_eof = TRUE;
    client_close (c,
        g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED) ?
        SOUP_WEBSOCKET_CLOSE_UNSUPPORTED_DATA : SOUP_WEBSOCKET_CLOSE_BAD_DATA,
        reason);
  }
}

static void
on_ws_message (SoupWebsocketConnection * conn, gint type, GBytes * message,
    gpointer user_data)
{
  Client *c = user_data;
  Server *server = c->server;
  const gchar *data;
  gsize size;

  /* vosk stops reading after eof. */
  if (c->got_eof || c->finishing)
    return;

  data = g_bytes_get_data (message, &size);

  if (type == SOUP_WEBSOCKET_DATA_BINARY) {
    c->got_audio = TRUE;
    server->audio_seconds += (gdouble) (size / 2) / c->rate;
    client_hold (c, session_push_audio (c->session, message));
    return;
  }

  if (server->opts.verbose)
    g_printerr (PROGRAM ": client %u -> %.*s\n", c->id, (int) MIN (size, 200),
        data);

  if (size == strlen (EOF_MESSAGE) && memcmp (data, EOF_MESSAGE, size) == 0) {
    c->got_eof = TRUE;
    client_hold (c, session_push_eof (c->session));
  } else if (size == strlen (RESET_MESSAGE) &&
      memcmp (data, RESET_MESSAGE, size) == 0) {
    client_hold (c, session_push_reset (c->session));
  } else if (g_strstr_len (data, size, "config")) {
    client_config (c, data, size);
  } else {
    client_hold (c, session_push_text (c->session));
  }
}

static void
on_ws_error (SoupWebsocketConnection * conn, GError * error,
    gpointer user_data)
{
  Client *c = user_data;

  log_info (c->server, "client %u: %s", c->id, error->message);
}

static void
on_ws_closed (SoupWebsocketConnection * conn, gpointer user_data)
{
  Client *c = user_data;

  log_info (c->server, "client %u closed (code %u)", c->id,
      soup_websocket_connection_get_close_code (conn));
  client_finish (c);
}

/* A WebSocket that gets no session: closed, and kept until it is. */
static void
refuse_websocket (SoupWebsocketConnection * conn, gushort code,
    const gchar * reason)
{
  g_signal_connect (g_object_ref (conn), "closed", G_CALLBACK (g_object_unref),
      NULL);
  soup_websocket_connection_close (conn, code, reason);
}

static void
on_websocket (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * conn, gpointer user_data)
{
  Server *server = user_data;
  SttGuardStream *guard = stt_guard_stream_lookup (msg);
  Client *c;

  if (!guard) {
    /* Every connection comes from our listener. */
    g_warn_if_reached ();
    refuse_websocket (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "no guard");
    return;
  }
  stt_guard_stream_set_deadline (guard, 0);

  if (server->shutting_down) {
    refuse_websocket (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down");
    return;
  }
  /* on_http() answers 503 at the limit, but handshakes in flight at the same
   * time may all have passed it. 1013 (try again later) would say it better,
   * but libsoup (3.2 and later) sends a protocol error for any code below
   * 3000 that it does not know. */
  if (server->n_clients >= (guint) server->opts.max_clients) {
    server->refused_busy++;
    refuse_websocket (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "too many clients, try again later");
    return;
  }

  c = g_new0 (Client, 1);
  c->server = server;
  c->id = ++server->next_id;
  c->session = session_new (server, c->id, on_reply, c);
  c->conn = g_object_ref (conn);
  c->guard = g_object_ref (guard);
  c->peer = g_strdup (soup_server_message_get_remote_host (msg));
  c->rate = MODEL_RATE;
  c->last_sent = g_get_monotonic_time ();

  /* The guard enforces the limit first (and answers 1009); this is a
   * second line. */
  soup_websocket_connection_set_max_incoming_payload_size (conn,
      MAX_MESSAGE_SIZE);
  stt_guard_stream_set_too_big_func (guard, on_too_big, c);
  g_signal_connect (conn, "message", G_CALLBACK (on_ws_message), c);
  g_signal_connect (conn, "error", G_CALLBACK (on_ws_error), c);
  g_signal_connect (conn, "closed", G_CALLBACK (on_ws_closed), c);

  server->clients = g_list_prepend (server->clients, c);
  server->n_clients++;
  server->active_connections++;
  server->total_connections++;
  log_info (server, "client %u connected from %s (path %s)", c->id,
      c->peer ? c->peer : "?", path);

  if (server->opts.idle_timeout > 0)
    client_arm_idle_timer (c, g_get_monotonic_time () +
        (gint64) server->opts.idle_timeout * G_USEC_PER_SEC);
  /* Sent right behind the handshake, before libsoup handed us the
   * connection. */
  if (stt_guard_stream_is_too_big (guard))
    on_too_big (guard, c);
}

/* ---------- HTTP ---------- */

static gboolean
origin_allowed (Server * server, const gchar * origin)
{
  guint i;

  for (i = 0; server->opts.allow_origins && server->opts.allow_origins[i]; i++)
    if (strcmp (server->opts.allow_origins[i], "*") == 0 ||
        g_ascii_strcasecmp (server->opts.allow_origins[i], origin) == 0)
      return TRUE;
  return FALSE;
}

/* Every HTTP request lands here first. Requests from web pages are refused,
 * /health is answered, and anything else is left unanswered so libsoup goes
 * on with the WebSocket handshake (and answers 400 itself if the request is
 * not one) unless the server is full. */
static void
on_http (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  Server *server = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (request, "Origin");
  const char *length = soup_message_headers_get_one (request, "Content-Length");
  gchar *body;

  /* Browsers send Origin with every WebSocket handshake, so any page the
   * user visits could otherwise use the recognizer (and the microphone
   * audio it is fed). Programs send none. */
  if (origin && !origin_allowed (server, origin)) {
    log_info (server, "refused a request from origin %.100s "
        "(--allow-origin permits one)", origin);
    soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, NULL);
    return;
  }

  if (g_strcmp0 (path, "/health") == 0) {
    if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0) {
      soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
          NULL);
      return;
    }
    body = json_health (server);
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response (msg, "application/json",
        SOUP_MEMORY_TAKE, body, strlen (body));
    return;
  }

  /* A handshake has no body; the guard takes what follows the request's
   * headers for WebSocket frames. */
  if ((length && g_ascii_strtoull (length, NULL, 10) > 0) ||
      soup_message_headers_get_one (request, "Transfer-Encoding")) {
    soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
    return;
  }

  if (server->n_clients >= (guint) server->opts.max_clients) {
    server->refused_busy++;
    if (!server->full)
      log_info (server, "%u clients connected (--max-clients): refusing "
          "more with 503", server->n_clients);
    server->full = TRUE;
    soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
        "Too Many Clients");
    soup_message_headers_replace (soup_server_message_get_response_headers
        (msg), "Retry-After", "1");
    return;
  }
  server->full = FALSE;
}


/* ---------- the server's ---------- */

void
vosk_protocol_add_handlers (Server * server)
{
  /* A frame of a few KB could inflate to gigabytes, and the guard could not
   * see the message sizes. vosk clients do without compression. */
  soup_server_remove_websocket_extension (server->soup,
      SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_handler (server->soup, NULL, on_http, server, NULL);
  soup_server_add_websocket_handler (server->soup, NULL, NULL, NULL,
      on_websocket, server, NULL);
}

void
vosk_protocol_close_all (Server * server)
{
  GList *l;

  for (l = server->clients; l; l = l->next)
    client_close (l->data, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        "server shutting down");
  server_maybe_quit (server);
}

/* Clients that did not answer our close frame in time are dropped. */
void
vosk_protocol_drop_all (Server * server)
{
  GList *l;

  for (l = server->clients; l; l = l->next)
    client_finish (l->data);
}
