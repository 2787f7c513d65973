/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-local-server as a network service: what a hostile or careless client can no
 * longer do to it, and the limits a well-behaved client lives within. Each test starts
 * its own server (STT_LOCAL_SERVER, set by meson) on 127.0.0.1 port 0 and talks to it
 * with libsoup WebSocket clients, or raw sockets where a client must misbehave in ways
 * libsoup will not. Every count and every wait is bounded. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "stt-check-utils.h"

/* The server's limits (tools/stt-local-server/: server.h, worker.c). */
#define MAX_MESSAGE (1024 * 1024)
#define MAX_QUEUED (1024 * 1024)

static GMainContext *ctx;

static void
setup (void)
{
  ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
}

static void
teardown (void)
{
  while (g_main_context_iteration (ctx, FALSE));
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

/* ---------- the server ---------- */

/* stt-local-server --port 0 --quiet, then the NULL-terminated @first_arg...; with
 * @max_fds, run under that descriptor limit (sh's ulimit). */
static GSubprocess *
start_server (guint * port, guint max_fds, const gchar * first_arg, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  GSubprocess *proc;
  const gchar *arg;
  va_list ap;

  if (max_fds) {
    g_ptr_array_add (argv, g_strdup ("/bin/sh"));
    g_ptr_array_add (argv, g_strdup ("-c"));
    g_ptr_array_add (argv, g_strdup_printf ("ulimit -n %u && exec \"$0\" \"$@\"",
            max_fds));
  }
  g_ptr_array_add (argv, g_strdup (g_getenv ("STT_LOCAL_SERVER")));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup ("0"));
  g_ptr_array_add (argv, g_strdup ("--quiet"));
  va_start (ap, first_arg);
  for (arg = first_arg; arg; arg = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  proc = stt_check_spawn_server ((const gchar * const *) argv->pdata, 30000, port);
  fail_unless (proc != NULL, "stt-local-server did not start");
  return proc;
}

/* GET /health, as a JSON object (NULL if the server does not answer). */
static JsonObject *
get_health (guint port)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u/health", port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  soup_session_set_timeout (session, 5);
  body = soup_session_send_and_read (session, msg, NULL, NULL);
  if (!body || soup_message_get_status (msg) != SOUP_STATUS_OK)
    return NULL;
  fail_unless (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), NULL));
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* A counter of /health; fails if the server does not answer or has no such member. */
static gint64
health_int (guint port, const gchar * name)
{
  g_autoptr (JsonObject) health = get_health (port);

  fail_unless (health != NULL, "no answer to GET /health");
  fail_unless (json_object_has_member (health, name), "/health has no \"%s\"", name);
  return json_object_get_int_member (health, name);
}

/* ---------- waiting ---------- */

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the test's context until *@done or @timeout_ms. */
static gboolean
wait_until (const gboolean * done, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *timer = g_timeout_source_new (timeout_ms);

  g_source_set_callback (timer, on_timeout, &timed_out, NULL);
  g_source_attach (timer, ctx);
  while (!*done && !timed_out)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  return *done;
}

static void
pause_ms (guint ms)
{
  gboolean never = FALSE;

  wait_until (&never, ms);
}

/* ---------- libsoup clients ---------- */

typedef struct
{
  SoupSession *session;
  SoupMessage *msg;
  SoupWebsocketConnection *conn;
  gboolean connected;           /* the handshake has finished, one way or the other */
  guint status;                 /* HTTP status of the handshake */
  gboolean closed;
  gushort close_code;
  gboolean replied;
  guint replies;
} Client;

static void
on_message (SoupWebsocketConnection * conn, gint type, GBytes * message,
    gpointer user_data)
{
  Client *c = user_data;

  c->replied = TRUE;
  c->replies++;
}

static void
on_closed (SoupWebsocketConnection * conn, gpointer user_data)
{
  Client *c = user_data;

  c->closed = TRUE;
  c->close_code = soup_websocket_connection_get_close_code (conn);
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Client *c = user_data;

  c->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      NULL);
  c->status = soup_message_get_status (c->msg);
  c->connected = TRUE;
  if (c->conn) {
    g_signal_connect (c->conn, "message", G_CALLBACK (on_message), c);
    g_signal_connect (c->conn, "closed", G_CALLBACK (on_closed), c);
  }
}

/* A WebSocket client of the server at @port, with an Origin header if @origin,
 * offering permessage-deflate if @deflate. Its conn is NULL if the handshake failed;
 * status says how. */
static Client *
client_new_full (guint port, const gchar * origin, gboolean deflate)
{
  Client *c = g_new0 (Client, 1);
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/", port);

  c->session = soup_session_new ();
  if (deflate)
    soup_session_add_feature_by_type (c->session,
        SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  c->msg = soup_message_new ("GET", url);
  soup_session_websocket_connect_async (c->session, c->msg, origin, NULL,
      G_PRIORITY_DEFAULT, NULL, on_connected, c);
  fail_unless (wait_until (&c->connected, 10000), "no answer to the handshake");
  return c;
}

static Client *
client_new (guint port, const gchar * origin)
{
  return client_new_full (port, origin, FALSE);
}

static void
client_free (Client * c)
{
  if (c->conn) {
    g_signal_handlers_disconnect_by_data (c->conn, c);
    if (soup_websocket_connection_get_state (c->conn) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (c->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_object_unref (c->conn);
  }
  g_object_unref (c->msg);
  g_object_unref (c->session);
  g_free (c);
}

/* Waits until the server closes @c; returns the close code it sent. */
static gushort
client_wait_closed (Client * c, guint timeout_ms)
{
  fail_unless (wait_until (&c->closed, timeout_ms), "the server did not close");
  return c->close_code;
}

/* @ms of 16 kHz S16LE audio the recognizer has to work on: bursts of noise, 250 ms
 * long and 150 ms apart, that its voice detector takes for speech (steady noise it
 * skips). */
static GBytes *
make_noise (guint ms, guint32 seed)
{
  gsize n = (gsize) ms * 16;
  gint16 *pcm = g_new0 (gint16, n);
  guint32 x = seed | 1;
  gsize i;

  for (i = 0; i < n; i++) {
    gsize at = i % 6400;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    if (at < 4000)
      pcm[i] = (gint16) (((gint32) (x & 0x3fff) - 0x2000) * sin (G_PI * at / 4000));
  }
  return g_bytes_new_take (pcm, n * sizeof (gint16));
}

/* ---------- raw clients ---------- */

static GSocket *
try_connect (guint port, guint timeout_s, GError ** error)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);

  fail_unless (sock != NULL);
  g_socket_set_timeout (sock, timeout_s);
  if (!g_socket_connect (sock, addr, NULL, error))
    g_clear_object (&sock);
  return sock;
}

static GSocket *
raw_connect (guint port, guint timeout_s)
{
  g_autoptr (GError) error = NULL;
  GSocket *sock = try_connect (port, timeout_s, &error);

  fail_unless (sock != NULL, "cannot connect: %s", error ? error->message : "");
  return sock;
}

static gboolean
raw_send_all (GSocket * sock, const guint8 * data, gsize len)
{
  while (len > 0) {
    gssize n = g_socket_send (sock, (const gchar *) data, len, NULL, NULL);

    if (n <= 0)
      return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

/* Sends a WebSocket handshake; returns the status line of the answer ("" if none came
 * before the socket's timeout or the end of the connection). */
static gchar *
raw_handshake (GSocket * sock)
{
  static const gchar request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  GString *answer = g_string_new (NULL);
  gchar *eol;

  if (raw_send_all (sock, (const guint8 *) request, strlen (request))) {
    /* One byte at a time: what follows the headers is the server's. */
    while (answer->len < 4096 && !strstr (answer->str, "\r\n\r\n")) {
      gchar c;

      if (g_socket_receive (sock, &c, 1, NULL, NULL) != 1)
        break;
      g_string_append_c (answer, c);
    }
  }
  eol = strstr (answer->str, "\r\n");
  if (eol)
    g_string_truncate (answer, eol - answer->str);
  return g_string_free (answer, FALSE);
}

/* Writes the header of a client frame to @header (14 bytes at most) and returns its
 * length. Masked with a zero key, which leaves the payload as it is. */
static gsize
frame_header (guint8 * header, guint opcode, gboolean fin, gsize len)
{
  gsize h = 0;
  gint i;

  header[h++] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) {
    header[h++] = 0x80 | len;
  } else if (len < 65536) {
    header[h++] = 0x80 | 126;
    header[h++] = len >> 8;
    header[h++] = len & 0xff;
  } else {
    header[h++] = 0x80 | 127;
    for (i = 7; i >= 0; i--)
      header[h++] = ((guint64) len >> (8 * i)) & 0xff;
  }
  memset (header + h, 0, 4);
  return h + 4;
}

static gboolean
raw_send_frame (GSocket * sock, guint opcode, gboolean fin, const guint8 * payload,
    gsize len)
{
  guint8 header[14];
  gsize h = frame_header (header, opcode, fin, len);

  return raw_send_all (sock, header, h) && raw_send_all (sock, payload, len);
}

static gboolean
raw_receive_all (GSocket * sock, guint8 * data, gsize len)
{
  while (len > 0) {
    gssize n = g_socket_receive (sock, (gchar *) data, len, NULL, NULL);

    if (n <= 0)
      return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

/* Reads the server's frames until its close frame; returns its code, or -1 if the
 * connection ended (or the socket's timeout passed) without one. */
static gint
raw_wait_close (GSocket * sock)
{
  for (;;) {
    guint8 h[10], body[256];
    guint64 len;

    if (!raw_receive_all (sock, h, 2))
      return -1;
    len = h[1] & 0x7f;
    if (len == 126) {
      if (!raw_receive_all (sock, h + 2, 2))
        return -1;
      len = (h[2] << 8) | h[3];
    } else if (len == 127) {
      return -1;                /* the server sends nothing that long */
    }
    if (len > sizeof (body) || !raw_receive_all (sock, body, len))
      return -1;
    if ((h[0] & 0x0f) == 8)
      return len >= 2 ? (body[0] << 8) | body[1] : 1005;
  }
}

/* ---------- tests ---------- */

/* One text message, {"config": followed by 100 000 "[": json-glib's recursive parser
 * used to overflow the stack and the server died. It is now refused (1007) before
 * json-glib sees it, and the server goes on. */
GST_START_TEST (test_nesting_bomb)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);
  Client *c = client_new (port, NULL);
  GString *bomb = g_string_new ("{\"config\":");
  g_autoptr (JsonObject) health = NULL;
  guint i;

  fail_unless (c->conn != NULL, "handshake failed (%u)", c->status);
  for (i = 0; i < 100000; i++)
    g_string_append_c (bomb, '[');
  for (i = 0; i < 100000; i++)
    g_string_append_c (bomb, ']');
  g_string_append_c (bomb, '}');
  soup_websocket_connection_send_text (c->conn, bomb->str);
  g_string_free (bomb, TRUE);

  fail_unless_equals_int (client_wait_closed (c, 10000),
      SOUP_WEBSOCKET_CLOSE_BAD_DATA);
  health = get_health (port);
  fail_unless (health != NULL, "the server no longer answers");
  client_free (c);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* A frame over 1 MiB closes the connection with 1009; the server does not buffer it
 * (it used to take 16 MiB frames), and serves the next client. */
GST_START_TEST (test_message_too_big)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);
  Client *c = client_new (port, NULL);
  Client *next;
  gsize len = 2 * MAX_MESSAGE;
  guint8 *big = g_malloc0 (len);

  fail_unless (c->conn != NULL, "handshake failed (%u)", c->status);
  soup_websocket_connection_send_binary (c->conn, big, len);
  g_free (big);
  fail_unless_equals_int (client_wait_closed (c, 15000),
      SOUP_WEBSOCKET_CLOSE_TOO_BIG);

  next = client_new (port, NULL);
  fail_unless (next->conn != NULL, "the next client was refused (%u)", next->status);
  client_free (next);
  client_free (c);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* The same limit holds for a message sent in fragments, each under the limit: libsoup
 * alone would join them without bound. */
GST_START_TEST (test_fragmented_message_too_big)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);
  GSocket *sock = raw_connect (port, 10);
  g_autofree gchar *status = raw_handshake (sock);
  gsize piece = MAX_MESSAGE / 4;
  guint8 *data = g_malloc0 (piece);
  gboolean sent = TRUE;
  guint i;

  fail_unless (g_str_has_prefix (status, "HTTP/1.1 101"), "%s", status);
  /* A binary message of 6 pieces: 1.5 MiB. */
  for (i = 0; i < 6 && sent; i++)
    sent = raw_send_frame (sock, i == 0 ? 2 : 0, FALSE, data, piece);
  g_free (data);
  fail_unless_equals_int (raw_wait_close (sock), SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  g_object_unref (sock);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* --max-clients 2: a third client is refused with 503 before the upgrade (so it
 * sends no audio in vain), and gets in once one has left. */
GST_START_TEST (test_max_clients)
{
  guint port, i;
  GSubprocess *server = start_server (&port, 0, "--max-clients", "2", NULL);
  Client *a = client_new (port, NULL);
  Client *b = client_new (port, NULL);
  Client *c = client_new (port, NULL);
  Client *d = NULL;

  fail_unless (a->conn != NULL && b->conn != NULL);
  fail_unless (c->conn == NULL, "a third client was let in");
  fail_unless_equals_int (c->status, SOUP_STATUS_SERVICE_UNAVAILABLE);
  fail_unless (health_int (port, "refused_connections") >= 1);

  soup_websocket_connection_close (a->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  fail_unless (wait_until (&a->closed, 5000));
  /* The server frees the slot once its worker is done with the client. */
  for (i = 0; i < 50; i++) {
    d = client_new (port, NULL);
    if (d->conn)
      break;
    g_clear_pointer (&d, client_free);
    pause_ms (100);
  }
  fail_unless (d != NULL, "no client let in after one left");
  client_free (d);
  client_free (c);
  client_free (b);
  client_free (a);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* The default is 5 clients per core: below what bench-local-capacity measured one core
 * to decode in real time (tools/README.md). */
GST_START_TEST (test_max_clients_default)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);

  fail_unless_equals_int (health_int (port, "max_clients"), 5 * g_get_num_processors ());
  stt_check_stop_server (server);
}

GST_END_TEST;

/* A client that sends faster than it is decoded is slowed down, not buffered: the
 * server holds at most 1 MiB of its audio (plus the message that crossed the line),
 * and takes far less than the client tries to send. */
GST_START_TEST (test_backpressure)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);
  GSocket *sock = raw_connect (port, 10);
  g_autofree gchar *status = raw_handshake (sock);
  g_autoptr (GBytes) noise = make_noise (MAX_MESSAGE / 32, 7);
  const gsize attempt = 64 * MAX_MESSAGE;
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  gsize sent = 0, pos = 0, frame_len, h;
  guint8 *frame = g_malloc (g_bytes_get_size (noise) + 14);
  gint64 queued;

  fail_unless (g_str_has_prefix (status, "HTTP/1.1 101"), "%s", status);
  /* One frame of noise (1 MiB), sent again and again without blocking. */
  h = frame_header (frame, 2, TRUE, g_bytes_get_size (noise));
  memcpy (frame + h, g_bytes_get_data (noise, NULL), g_bytes_get_size (noise));
  frame_len = h + g_bytes_get_size (noise);
  g_socket_set_blocking (sock, FALSE);
  while (sent < attempt && g_get_monotonic_time () < end) {
    gssize n = g_socket_send (sock, (const gchar *) frame + pos, frame_len - pos,
        NULL, NULL);

    if (n <= 0) {
      g_socket_condition_timed_wait (sock, G_IO_OUT, 100000, NULL, NULL);
      continue;
    }
    sent += n;
    pos = (pos + n) % frame_len;
  }
  g_free (frame);

  queued = health_int (port, "queued_bytes");
  GST_INFO ("sent %" G_GSIZE_FORMAT " bytes in 5 s, %" G_GINT64_FORMAT " queued", sent,
      queued);
  fail_unless (queued <= MAX_QUEUED + MAX_MESSAGE + 4096,
      "%" G_GINT64_FORMAT " bytes queued", queued);
  fail_unless (sent < attempt / 2, "the server took %" G_GSIZE_FORMAT " bytes", sent);
  g_object_unref (sock);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* --idle-timeout 1: a client that sends nothing is closed with 1001; one that keeps
 * sending is not, until it stops. */
GST_START_TEST (test_idle_timeout)
{
  guint port, i;
  GSubprocess *server = start_server (&port, 0, "--idle-timeout", "1", NULL);
  Client *quiet = client_new (port, NULL);
  Client *busy = client_new (port, NULL);

  fail_unless (quiet->conn != NULL && busy->conn != NULL);
  for (i = 0; i < 10; i++) {
    soup_websocket_connection_send_text (busy->conn, "{\"partial\" : 1}");
    pause_ms (300);
  }
  fail_unless (quiet->closed, "the quiet client is still connected after 3 s");
  fail_unless_equals_int (quiet->close_code, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  fail_if (busy->closed, "the busy client was closed (%u)", busy->close_code);
  fail_unless (busy->replies >= 9, "%u replies", busy->replies);

  fail_unless_equals_int (client_wait_closed (busy, 5000),
      SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  client_free (busy);
  client_free (quiet);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* Web pages send an Origin header: refused (403) unless --allow-origin names it.
 * Programs send none and are served. */
GST_START_TEST (test_origin)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);
  GSubprocess *allowing;
  Client *c;

  c = client_new (port, NULL);
  fail_unless (c->conn != NULL, "refused without Origin (%u)", c->status);
  client_free (c);
  c = client_new (port, "http://evil.example");
  fail_unless (c->conn == NULL, "a web page was let in");
  fail_unless_equals_int (c->status, SOUP_STATUS_FORBIDDEN);
  client_free (c);
  stt_check_stop_server (server);

  allowing = start_server (&port, 0, "--allow-origin", "http://localhost:8000", NULL);
  c = client_new (port, "http://localhost:8000");
  fail_unless (c->conn != NULL, "the allowed origin was refused (%u)", c->status);
  client_free (c);
  c = client_new (port, "http://evil.example");
  fail_unless (c->conn == NULL, "another origin was let in");
  fail_unless_equals_int (c->status, SOUP_STATUS_FORBIDDEN);
  client_free (c);
  stt_check_stop_server (allowing);
}

GST_END_TEST;

/* A client that offers permessage-deflate gets no compression: a few KB could
 * inflate to gigabytes. */
GST_START_TEST (test_no_compression)
{
  guint port;
  GSubprocess *server = start_server (&port, 0, NULL);
  Client *c = client_new_full (port, NULL, TRUE);

  fail_unless (c->conn != NULL);
  fail_unless (soup_websocket_connection_get_extensions (c->conn) == NULL,
      "the server accepted a compression extension");
  client_free (c);
  stt_check_stop_server (server);
}

GST_END_TEST;

/* Sends GET /health on a new connection; TRUE if it is answered 200 within 2 s. */
static gboolean
health_served (guint port)
{
  static const gchar request[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  GSocket *sock = raw_connect (port, 2);
  gchar status[13] = "";
  gboolean ok;

  ok = raw_send_all (sock, (const guint8 *) request, strlen (request)) &&
      raw_receive_all (sock, (guint8 *) status, sizeof (status) - 1) &&
      g_str_has_prefix (status, "HTTP/1.1 200");
  GST_INFO ("/health: \"%s\"", status);
  g_object_unref (sock);
  return ok;
}

/* A connection to hold open. If none can be made, says whether the server is still
 * running: a full listen queue makes a client wait, so a refusal means the listener is
 * gone. */
static GSocket *
hold_connection (GSubprocess * server, guint port)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *state = NULL;
  GSocket *sock = try_connect (port, 2, &error);

  if (sock)
    return sock;
  /* The identifier is gone once the child has exited. */
  if (g_subprocess_get_identifier (server) != NULL)
    state = g_strdup ("still running");
  else if (g_subprocess_wait (server, NULL, NULL)
      && g_subprocess_get_if_signaled (server))
    state = g_strdup_printf ("killed by signal %d", g_subprocess_get_term_sig (server));
  else
    state = g_strdup_printf ("exited with status %d",
        g_subprocess_get_exit_status (server));
  fail ("cannot connect: %s (stt-local-server %s)", error->message, state);
  return NULL;
}

/* Out of file descriptors (a limit of 64), held by connections that send nothing: new
 * requests are refused, and once those connections have gone, served again. libsoup's
 * own listener stopped accepting for good at the first failed accept(). */
GST_START_TEST (test_out_of_descriptors)
{
  guint port, i;
  GSubprocess *server = start_server (&port, 64, NULL);
  GPtrArray *held = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean refused = FALSE, served = FALSE;

  fail_unless (health_served (port));
  while (held->len < 300 && !refused) {
    for (i = 0; i < 8; i++)
      g_ptr_array_add (held, hold_connection (server, port));
    refused = !health_served (port);
  }
  GST_INFO ("refused with %u connections open", held->len);
  fail_unless (refused, "300 connections served under a limit of 64 descriptors");
  g_ptr_array_unref (held);

  for (i = 0; i < 10 && !served; i++) {
    pause_ms (200);
    served = health_served (port);
  }
  fail_unless (served, "no request served after the connections closed");
  stt_check_stop_server (server);
}

GST_END_TEST;

/* --pool 3: three decoders are loaded before any client comes, and three clients
 * decoding at once load no more. */
GST_START_TEST (test_decoders_preloaded)
{
  guint port, i;
  GSubprocess *server = start_server (&port, 0, "--pool", "3", "--max-clients", "3",
      NULL);
  g_autoptr (GBytes) noise = make_noise (250, 3);
  Client *c[3];

  for (i = 0; i < 100 && health_int (port, "decoders") < 3; i++)
    pause_ms (200);
  fail_unless_equals_int (health_int (port, "decoders"), 3);
  fail_unless_equals_int (health_int (port, "decoder_loads"), 3);

  for (i = 0; i < 3; i++) {
    c[i] = client_new (port, NULL);
    fail_unless (c[i]->conn != NULL);
    soup_websocket_connection_send_binary (c[i]->conn, g_bytes_get_data (noise, NULL),
        g_bytes_get_size (noise));
  }
  for (i = 0; i < 3; i++)
    fail_unless (wait_until (&c[i]->replied, 10000), "client %u got no reply", i);
  fail_unless_equals_int (health_int (port, "decoder_loads"), 3);
  for (i = 0; i < 3; i++)
    client_free (c[i]);
  stt_check_stop_server (server);
}

GST_END_TEST;

static Suite *
local_server_suite (void)
{
  Suite *s = suite_create ("local-server");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_nesting_bomb);
  tcase_add_test (tc, test_message_too_big);
  tcase_add_test (tc, test_fragmented_message_too_big);
  tcase_add_test (tc, test_max_clients);
  tcase_add_test (tc, test_max_clients_default);
  tcase_add_test (tc, test_backpressure);
  tcase_add_test (tc, test_idle_timeout);
  tcase_add_test (tc, test_origin);
  tcase_add_test (tc, test_no_compression);
  tcase_add_test (tc, test_out_of_descriptors);
  tcase_add_test (tc, test_decoders_preloaded);
  return s;
}

GST_CHECK_MAIN (local_server);
