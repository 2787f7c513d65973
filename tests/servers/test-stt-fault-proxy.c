/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the fault proxy: byte-for-byte forwarding and each fault, with a plain TCP echo
 * server behind it, and one WebSocket session with the Deepgram test server through it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "stt-fault-proxy.h"
#include "stt-test-client.h"
#include "stt-test-server.h"
#include "stt-test-tones.h"

#define WAIT_MS 5000
#define SILENCE_MS 500
#define RATE 16000
#define QUERY "model=nova-3&encoding=linear16&sample_rate=16000&channels=1"

static const SttTestTone tone = { 440.0, 0.2, 0.6, 0.5 };

typedef gboolean (*CheckFunc) (gpointer data);

/* Runs the default main context until @check returns TRUE or @timeout_ms passes. */
static gboolean
wait_until (CheckFunc check, gpointer data, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!check (data) && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return check (data);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

static guint8 *
pattern_new (gsize len, guint seed)
{
  guint8 *data = g_malloc (len);
  gsize i;

  for (i = 0; i < len; i++)
    data[i] = (guint8) ((i * 31 + seed * 7 + (i >> 8)) & 0xff);
  return data;
}

/* --- echo server: a GSocketService on its own thread and context --------------------- */

typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GSocketService *service;
  guint port;
  /* Echo thread only. */
  GList *conns;
  gboolean stopping;
  GMutex lock;
  /* Under lock. */
  guint n_connections;
  guint64 bytes_in;
} EchoServer;

typedef struct
{
  EchoServer *echo;
  GSocketConnection *connection;
  GCancellable *cancellable;
  guint8 buf[16384];
} EchoConn;

static void echo_read (EchoConn * conn);

static void
echo_conn_end (EchoConn * conn)
{
  EchoServer *echo = conn->echo;

  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  echo->conns = g_list_remove (echo->conns, conn);
  g_object_unref (conn->connection);
  g_object_unref (conn->cancellable);
  g_free (conn);
  if (echo->stopping && echo->conns == NULL)
    g_main_loop_quit (echo->loop);
}

static void
echo_write_cb (GObject * source, GAsyncResult * result, gpointer data)
{
  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    echo_read (data);
  else
    echo_conn_end (data);
}

static void
echo_read_cb (GObject * source, GAsyncResult * result, gpointer data)
{
  EchoConn *conn = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0) {
    echo_conn_end (conn);
    return;
  }
  g_mutex_lock (&conn->echo->lock);
  conn->echo->bytes_in += n;
  g_mutex_unlock (&conn->echo->lock);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM
          (conn->connection)), conn->buf, n, G_PRIORITY_DEFAULT, conn->cancellable,
      echo_write_cb, conn);
}

static void
echo_read (EchoConn * conn)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (conn->connection)),
      conn->buf, sizeof (conn->buf), G_PRIORITY_DEFAULT, conn->cancellable, echo_read_cb,
      conn);
}

static gboolean
echo_incoming (GSocketService * service, GSocketConnection * connection,
    GObject * source_object, gpointer data)
{
  EchoServer *echo = data;
  EchoConn *conn = g_new0 (EchoConn, 1);

  conn->echo = echo;
  conn->connection = g_object_ref (connection);
  conn->cancellable = g_cancellable_new ();
  echo->conns = g_list_prepend (echo->conns, conn);
  g_mutex_lock (&echo->lock);
  echo->n_connections++;
  g_mutex_unlock (&echo->lock);
  echo_read (conn);
  return TRUE;
}

static gpointer
echo_thread (gpointer data)
{
  EchoServer *echo = data;

  g_main_context_push_thread_default (echo->context);
  g_main_loop_run (echo->loop);
  while (g_main_context_iteration (echo->context, FALSE));
  g_main_context_pop_thread_default (echo->context);
  return NULL;
}

static EchoServer *
echo_server_new (void)
{
  EchoServer *echo = g_new0 (EchoServer, 1);
  g_autoptr (GSocketAddress) address =
      g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) effective = NULL;
  g_autoptr (GError) error = NULL;

  g_mutex_init (&echo->lock);
  echo->context = g_main_context_new ();
  echo->loop = g_main_loop_new (echo->context, FALSE);
  /* The service's accept sources go to the thread-default context of its creation. */
  g_main_context_push_thread_default (echo->context);
  echo->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (echo->service), address,
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
  g_assert_no_error (error);
  g_signal_connect (echo->service, "incoming", G_CALLBACK (echo_incoming), echo);
  g_socket_service_start (echo->service);
  g_main_context_pop_thread_default (echo->context);
  echo->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  echo->thread = g_thread_new ("echo-server", echo_thread, echo);
  return echo;
}

static void
echo_conn_cancel (gpointer data, gpointer unused)
{
  g_cancellable_cancel (((EchoConn *) data)->cancellable);
}

static gboolean
echo_stop_cb (gpointer data)
{
  EchoServer *echo = data;

  echo->stopping = TRUE;
  g_socket_service_stop (echo->service);
  g_socket_listener_close (G_SOCKET_LISTENER (echo->service));
  if (echo->conns == NULL)
    g_main_loop_quit (echo->loop);
  else                          /* their callbacks end them, the last one quits */
    g_list_foreach (echo->conns, echo_conn_cancel, NULL);
  return G_SOURCE_REMOVE;
}

static void
echo_server_free (EchoServer * echo)
{
  g_main_context_invoke (echo->context, echo_stop_cb, echo);
  g_thread_join (echo->thread);
  g_object_unref (echo->service);
  g_main_loop_unref (echo->loop);
  g_main_context_unref (echo->context);
  g_mutex_clear (&echo->lock);
  g_free (echo);
}

static guint64
echo_server_get_bytes_in (EchoServer * echo)
{
  guint64 n;

  g_mutex_lock (&echo->lock);
  n = echo->bytes_in;
  g_mutex_unlock (&echo->lock);
  return n;
}

static guint
echo_server_get_n_connections (EchoServer * echo)
{
  guint n;

  g_mutex_lock (&echo->lock);
  n = echo->n_connections;
  g_mutex_unlock (&echo->lock);
  return n;
}

/* --- plain TCP client, non-blocking, driven by the test thread ---------------------- */

typedef enum
{
  TCP_OPEN,
  TCP_EOF,                      /* a FIN: orderly close */
  TCP_ERROR,                    /* a reset or another error */
} TcpState;

typedef struct
{
  GSocket *socket;
  GByteArray *in;
  TcpState state;
  GError *error;
} TcpClient;

static gboolean
tcp_would_block (TcpClient * client, GError ** error)
{
  if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return TRUE;
  client->state = TCP_ERROR;
  g_clear_error (&client->error);
  g_propagate_error (&client->error, g_steal_pointer (error));
  return FALSE;
}

static TcpClient *
tcp_client_new (guint port)
{
  TcpClient *client = g_new0 (TcpClient, 1);
  g_autoptr (GSocketAddress) address =
      g_inet_socket_address_new_from_string ("127.0.0.1", port);
  g_autoptr (GError) error = NULL;

  client->in = g_byte_array_new ();
  client->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  /* On loopback the handshake completes at once, whether or not anyone accepts; a reset
   * right after it can still be reported by connect(). */
  g_socket_set_timeout (client->socket, WAIT_MS / 1000);
  if (!g_socket_connect (client->socket, address, NULL, &error))
    tcp_would_block (client, &error);
  g_socket_set_blocking (client->socket, FALSE);
  return client;
}

static void
tcp_client_free (TcpClient * client)
{
  g_socket_close (client->socket, NULL);
  g_object_unref (client->socket);
  g_byte_array_unref (client->in);
  g_clear_error (&client->error);
  g_free (client);
}

/* Sends @len bytes of @data while reading into client->in, until all is sent and @want
 * bytes were received, the connection ends, or @timeout_ms passes. TRUE if all done. */
static gboolean
tcp_client_run (TcpClient * client, const guint8 * data, gsize len, gsize want,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint8 buf[16384];
  gsize sent = 0;

  for (;;) {
    gint64 left;

    while (sent < len && client->state == TCP_OPEN) {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_send (client->socket, (const gchar *) data + sent, len - sent,
          NULL, &error);

      if (n < 0) {
        tcp_would_block (client, &error);
        break;
      }
      sent += n;
    }
    while (client->state == TCP_OPEN) {
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive (client->socket, (gchar *) buf, sizeof (buf), NULL,
          &error);

      if (n < 0) {
        tcp_would_block (client, &error);
        break;
      }
      if (n == 0)
        client->state = TCP_EOF;
      else
        g_byte_array_append (client->in, buf, n);
    }
    if ((sent == len && client->in->len >= want) || client->state != TCP_OPEN)
      break;
    left = end - g_get_monotonic_time ();
    if (left <= 0)
      break;
    g_socket_condition_timed_wait (client->socket, G_IO_IN | (sent < len ? G_IO_OUT : 0),
        MIN (left, 50 * 1000), NULL, NULL);
  }
  return sent == len && client->in->len >= want;
}

/* Sends @text and waits for its echo (appended to client->in). */
static void
tcp_client_echo (TcpClient * client, const gchar * text)
{
  gsize before = client->in->len;

  g_assert_true (tcp_client_run (client, (const guint8 *) text, strlen (text),
          before + strlen (text), WAIT_MS));
  g_assert_cmpmem (client->in->data + before, client->in->len - before, text,
      strlen (text));
}

/* --- fixture: an echo server behind a proxy ----------------------------------------- */

typedef struct
{
  EchoServer *echo;
  SttFaultProxy *proxy;
} Fixture;

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->echo = echo_server_new ();
  f->proxy = stt_fault_proxy_new (f->echo->port, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stt_fault_proxy_get_port (f->proxy), >, 0);
  g_assert_cmpuint (stt_fault_proxy_get_port (f->proxy), !=, f->echo->port);
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  stt_fault_proxy_free (f->proxy);
  echo_server_free (f->echo);
}

static TcpClient *
fixture_connect (Fixture * f)
{
  return tcp_client_new (stt_fault_proxy_get_port (f->proxy));
}

/* --- TCP tests ----------------------------------------------------------------------- */

/* Several connections at once, 1 MiB each way, then an orderly close travels through. */
static void
test_forward (Fixture * f, gconstpointer unused)
{
  const gsize len = 1024 * 1024;
  TcpClient *clients[3];
  guint8 *data[3];
  guint i;

  for (i = 0; i < G_N_ELEMENTS (clients); i++) {
    clients[i] = fixture_connect (f);
    data[i] = pattern_new (len, i);
  }
  for (i = 0; i < G_N_ELEMENTS (clients); i++) {
    g_assert_true (tcp_client_run (clients[i], data[i], len, len, WAIT_MS));
    g_assert_cmpmem (clients[i]->in->data, clients[i]->in->len, data[i], len);
  }
  g_assert_cmpuint (stt_fault_proxy_get_n_connections (f->proxy), ==, 3);
  g_assert_cmpuint (stt_fault_proxy_get_bytes_up (f->proxy), ==, 3 * len);
  g_assert_cmpuint (echo_server_get_bytes_in (f->echo), ==, 3 * len);

  /* FIN from the client -> the echo server closes -> FIN back to the client. */
  g_assert_true (g_socket_shutdown (clients[0]->socket, FALSE, TRUE, NULL));
  tcp_client_run (clients[0], NULL, 0, len + 1, WAIT_MS);
  g_assert_cmpint (clients[0]->state, ==, TCP_EOF);
  /* The others are not affected. */
  tcp_client_echo (clients[1], "still here");

  for (i = 0; i < G_N_ELEMENTS (clients); i++) {
    tcp_client_free (clients[i]);
    g_free (data[i]);
  }
}

static void
test_delay (Fixture * f, gconstpointer unused)
{
  TcpClient *client = fixture_connect (f);
  gint64 start;

  tcp_client_echo (client, "warm");
  stt_fault_proxy_set_delay (f->proxy, 200);
  start = g_get_monotonic_time ();
  tcp_client_echo (client, "ping");
  /* 200 ms on the way up, 200 ms on the way down. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 400 * 1000);

  /* Shortening the delay does not let later data overtake earlier data. */
  stt_fault_proxy_set_delay (f->proxy, 300);
  start = g_get_monotonic_time ();
  g_assert_true (tcp_client_run (client, (const guint8 *) "a", 1, 0, WAIT_MS));
  g_usleep (100 * 1000);
  stt_fault_proxy_set_delay (f->proxy, 0);
  g_assert_true (tcp_client_run (client, (const guint8 *) "b", 1, 10, WAIT_MS));
  g_assert_cmpmem (client->in->data + 8, 2, "ab", 2);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);

  tcp_client_free (client);
}

static void
test_drop_all (Fixture * f, gconstpointer unused)
{
  TcpClient *client = fixture_connect (f);
  TcpClient *other = fixture_connect (f);
  TcpClient *later;

  tcp_client_echo (client, "hello");
  tcp_client_echo (other, "hello");
  stt_fault_proxy_drop_all (f->proxy);
  /* An RST, not a FIN. */
  tcp_client_run (client, NULL, 0, 6, WAIT_MS);
  g_assert_cmpint (client->state, ==, TCP_ERROR);
  g_assert_error (client->error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  tcp_client_run (other, (const guint8 *) "x", 1, 6, WAIT_MS);
  g_assert_cmpint (other->state, ==, TCP_ERROR);

  /* New connections are forwarded again. */
  later = fixture_connect (f);
  tcp_client_echo (later, "again");
  g_assert_cmpuint (stt_fault_proxy_get_n_connections (f->proxy), ==, 3);

  tcp_client_free (client);
  tcp_client_free (other);
  tcp_client_free (later);
}

static void
test_blackhole (Fixture * f, gconstpointer unused)
{
  TcpClient *client = fixture_connect (f);
  guint64 echoed;

  tcp_client_echo (client, "hello");
  echoed = echo_server_get_bytes_in (f->echo);

  stt_fault_proxy_set_blackhole (f->proxy, TRUE);
  /* The write succeeds; nothing reaches the server, nothing comes back, no error. */
  g_assert_true (tcp_client_run (client, (const guint8 *) "world", 5, 0, WAIT_MS));
  g_assert_false (tcp_client_run (client, NULL, 0, 10, SILENCE_MS));
  g_assert_cmpint (client->state, ==, TCP_OPEN);
  g_assert_cmpuint (client->in->len, ==, 5);
  g_assert_cmpuint (echo_server_get_bytes_in (f->echo), ==, echoed);

  stt_fault_proxy_set_blackhole (f->proxy, FALSE);
  g_assert_true (tcp_client_run (client, NULL, 0, 10, WAIT_MS));
  g_assert_cmpmem (client->in->data, client->in->len, "helloworld", 10);
  tcp_client_free (client);
}

static void
test_refuse (Fixture * f, gconstpointer unused)
{
  TcpClient *open = fixture_connect (f);
  TcpClient *refused;
  TcpClient *later;

  tcp_client_echo (open, "before");
  stt_fault_proxy_set_refuse (f->proxy, TRUE);
  refused = fixture_connect (f);
  g_assert_false (tcp_client_run (refused, (const guint8 *) "x", 1, 1, WAIT_MS));
  g_assert_cmpint (refused->state, ==, TCP_ERROR);
  g_assert_cmpuint (refused->in->len, ==, 0);
  g_assert_cmpuint (stt_fault_proxy_get_n_connections (f->proxy), ==, 1);
  g_assert_cmpuint (echo_server_get_n_connections (f->echo), ==, 1);
  /* Open connections are not touched. */
  tcp_client_echo (open, "during");

  stt_fault_proxy_set_refuse (f->proxy, FALSE);
  later = fixture_connect (f);
  tcp_client_echo (later, "after");
  g_assert_cmpuint (stt_fault_proxy_get_n_connections (f->proxy), ==, 2);

  tcp_client_free (open);
  tcp_client_free (refused);
  tcp_client_free (later);
}

static void
test_upstream_rate (Fixture * f, gconstpointer unused)
{
  const gsize len = 64 * 1024;
  g_autofree guint8 *data = pattern_new (len, 7);
  TcpClient *client = fixture_connect (f);
  gint64 start, elapsed;

  tcp_client_echo (client, "x");
  stt_fault_proxy_set_upstream_rate (f->proxy, 32 * 1024);
  start = g_get_monotonic_time ();
  g_assert_true (tcp_client_run (client, data, len, 1 + len, 10000));
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpmem (client->in->data + 1, client->in->len - 1, data, len);
  g_assert_cmpint (elapsed, >=, 1500 * 1000);
  g_assert_cmpuint (stt_fault_proxy_get_bytes_up (f->proxy), ==, 1 + len);

  /* Unlimited again: the same amount comes back within the remaining bound. */
  stt_fault_proxy_set_upstream_rate (f->proxy, 0);
  g_assert_true (tcp_client_run (client, data, len, 1 + 2 * len, WAIT_MS));
  tcp_client_free (client);
}

/* A target that never reads: the proxy holds a bounded amount, then the client's writes
 * block (without the cap the proxy would swallow 64 MiB in well under a second). */
static void
test_backpressure (Fixture * f, gconstpointer unused)
{
  const gsize len = 64 * 1024 * 1024;
  g_autofree guint8 *data = g_malloc0 (len);
  g_autoptr (GSocketAddress) address =
      g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sink = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  TcpClient *client;

  /* Listening but never accepting: the kernel completes the handshake, nobody reads. */
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sink, address, FALSE, NULL));
  g_assert_true (g_socket_listen (sink, NULL));
  local = g_socket_get_local_address (sink, NULL);
  stt_fault_proxy_set_target (f->proxy,
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)));
  client = fixture_connect (f);
  g_assert_false (tcp_client_run (client, data, len, 0, 2000));
  g_assert_cmpint (client->state, ==, TCP_OPEN);
  g_assert_cmpuint (stt_fault_proxy_get_bytes_up (f->proxy), <, len);
  tcp_client_free (client);
}

/* New connections go to the new target; a target that is down resets the client. */
static void
test_target (Fixture * f, gconstpointer unused)
{
  EchoServer *second = echo_server_new ();
  EchoServer *gone = echo_server_new ();
  guint gone_port = gone->port;
  TcpClient *first = fixture_connect (f);
  TcpClient *moved, *down;

  echo_server_free (gone);
  tcp_client_echo (first, "one");
  stt_fault_proxy_set_target (f->proxy, second->port);
  moved = fixture_connect (f);
  tcp_client_echo (moved, "two");
  tcp_client_echo (first, "still one");
  g_assert_cmpuint (echo_server_get_n_connections (f->echo), ==, 1);
  g_assert_cmpuint (echo_server_get_n_connections (second), ==, 1);

  stt_fault_proxy_set_target (f->proxy, gone_port);
  down = fixture_connect (f);
  g_assert_false (tcp_client_run (down, NULL, 0, 1, WAIT_MS));
  g_assert_cmpint (down->state, ==, TCP_ERROR);
  g_assert_cmpuint (stt_fault_proxy_get_n_connections (f->proxy), ==, 2);

  tcp_client_free (first);
  tcp_client_free (moved);
  tcp_client_free (down);
  echo_server_free (second);
}

/* --- WebSocket through the proxy, to the Deepgram test server -------------------------- */

/* A client of the Deepgram path on @port; check client->ws / client->error. */
static SttTestClient *
ws_client_new (guint port)
{
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen?" QUERY, port);

  return stt_test_client_new (url, "Token test-key", NULL);
}

typedef struct
{
  SttTestServer *server;
  gsize size;
} AudioWait;

static gboolean
server_has_audio (gpointer data)
{
  AudioWait *wait = data;
  g_autoptr (GBytes) audio = stt_test_server_get_audio (wait->server, 0);

  return audio != NULL && g_bytes_get_size (audio) >= wait->size;
}

static void
test_websocket (void)
{
  g_autoptr (GError) error = NULL;
  SttTestServer *server = stt_test_server_new ("deepgram", &error);
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 1.0, &tone, 1);
  g_autoptr (GBytes) received = NULL;
  g_auto (GStrv) texts = NULL;
  SttFaultProxy *proxy;
  SttTestClient *client, *refused;
  AudioWait wait;
  gsize size, off;
  const guint8 *data = g_bytes_get_data (audio, &size);

  g_assert_no_error (error);
  proxy = stt_fault_proxy_new (stt_test_server_get_port (server), &error);
  g_assert_no_error (error);

  /* Audio and a control message reach the server intact. */
  client = ws_client_new (stt_fault_proxy_get_port (proxy));
  g_assert_no_error (client->error);
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"KeepAlive\"}");
  for (off = 0; off < size; off += 3200)
    soup_websocket_connection_send_binary (client->ws, data + off, MIN (3200, size - off));
  wait.server = server;
  wait.size = size;
  g_assert_true (wait_until (server_has_audio, &wait, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_true (g_bytes_equal (received, audio));
  texts = stt_test_server_get_text_messages (server, 0);
  g_assert_cmpuint (g_strv_length (texts), ==, 1);
  g_assert_cmpstr (texts[0], ==, "{\"type\":\"KeepAlive\"}");
  g_assert_cmpuint (stt_fault_proxy_get_n_connections (proxy), ==, 1);
  g_assert_cmpuint (stt_fault_proxy_get_bytes_up (proxy), >, size);
  /* The final for the tone comes back (endpointed 300 ms after its end at 0.6 s). */
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, 1, WAIT_MS));
  g_assert_nonnull (strstr (g_ptr_array_index (client->texts, 0), "\"transcript\":\"w400\""));

  /* Blackhole on the way down: the server's message waits, then arrives. */
  stt_fault_proxy_set_blackhole (proxy, TRUE);
  stt_test_server_send_text (server, "{\"type\":\"Hello\"}");
  wait_until (never, NULL, SILENCE_MS);
  g_assert_cmpuint (client->texts->len, ==, 1);
  g_assert_false (client->closed);
  stt_fault_proxy_set_blackhole (proxy, FALSE);
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, 2, WAIT_MS));
  g_assert_cmpstr (g_ptr_array_index (client->texts, 1), ==, "{\"type\":\"Hello\"}");

  /* Drop: both ends see the connection end without a close frame. */
  stt_fault_proxy_drop_all (proxy);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_true (client->close_code == 0 ||
      client->close_code == SOUP_WEBSOCKET_CLOSE_ABNORMAL);
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  g_assert_cmpuint (stt_test_server_get_client_close_code (server, 0), ==, 0);

  /* Refuse: the handshake fails and never reaches the server. */
  stt_fault_proxy_set_refuse (proxy, TRUE);
  refused = ws_client_new (stt_fault_proxy_get_port (proxy));
  g_assert_null (refused->ws);
  g_assert_nonnull (refused->error);
  g_assert_cmpuint (stt_test_server_get_n_handshakes (server), ==, 1);

  stt_test_client_free (refused);
  stt_test_client_free (client);
  stt_fault_proxy_free (proxy);
  stt_test_server_free (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add ("/fault-proxy/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("forward", test_forward);
  ADD ("delay", test_delay);
  ADD ("drop-all", test_drop_all);
  ADD ("blackhole", test_blackhole);
  ADD ("refuse", test_refuse);
  ADD ("upstream-rate", test_upstream_rate);
  ADD ("backpressure", test_backpressure);
  ADD ("target", test_target);
#undef ADD
  g_test_add_func ("/fault-proxy/websocket", test_websocket);
  return g_test_run ();
}
