/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-fault-proxy: a TCP proxy on 127.0.0.1 that injects network faults, for tests.
 *
 * One thread per proxy runs a GMainContext; every socket is a non-blocking GSocket whose
 * readiness sources are attached to that context, so there is no thread per connection.
 * Each connection is two pipes (client -> server "up", server -> client "down"). A pipe
 * reads its source socket into a queue of chunks stamped with the time they may leave
 * (delay), and writes due chunks to its destination. It stops reading when it holds
 * MAX_BUFFERED bytes, so a slow or blocked destination is felt by the source as TCP
 * backpressure and memory stays bounded. The end of stream travels as a chunk too, so a
 * FIN is forwarded in order (and delayed like the data).
 *
 * Fault settings are written under proxy->lock by the test thread, then copied to the
 * proxy thread's own fields by apply_cb(), which also pumps every connection; the setter
 * waits for that, so a fault is in force when its setter returns.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <string.h>

#include <gio/gio.h>

#include "stt-fault-proxy.h"

#define LOCALHOST "127.0.0.1"
/* Per direction and connection. */
#define MAX_BUFFERED (4 * 1024 * 1024)
#define READ_SIZE (64 * 1024)
/* Reads per wake-up before yielding to the other sources of the context. */
#define MAX_READS_PER_PUMP 16
/* How long a setter waits for the proxy thread (it never blocks, so only a bug waits). */
#define APPLY_TIMEOUT_US (5 * G_USEC_PER_SEC)

typedef struct _Conn Conn;

/* A piece of the stream waiting to be written; @eos marks the end of the stream. */
typedef struct
{
  gint64 due;                   /* monotonic time it may be written */
  gboolean eos;
  gsize len;
  gsize off;                    /* bytes already written */
  guint8 data[];
} Chunk;

/* One direction of a connection. Proxy thread only. */
typedef struct
{
  Conn *conn;
  gboolean up;                  /* client -> server */
  GSocket *src;                 /* borrowed from conn */
  GSocket *dst;
  GQueue chunks;
  gsize buffered;               /* data bytes in chunks, not yet written */
  gint64 last_due;
  gboolean src_eos;             /* end of stream read from src */
  gboolean dst_shut;            /* ... and forwarded to dst */
  GSource *read_source;         /* one-shot: set while waiting for src to be readable */
  GSource *write_source;        /* one-shot: set while waiting for dst to be writable */
  GSource *timer;               /* next chunk due, or next read allowance */
  gint64 timer_due;
  /* Token bucket limiting reads (up only). */
  guint rate;                   /* bytes per second, 0 = unlimited */
  gdouble tokens;
  gint64 refill_time;
} Pipe;

/* Proxy thread only. */
struct _Conn
{
  SttFaultProxy *proxy;
  guint id;
  GSocket *client;
  GSocket *server;
  GSource *connect_source;
  gboolean connected;
  Pipe up;
  Pipe down;
};

struct _SttFaultProxy
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  guint port;                   /* constant after new() */

  /* Proxy thread only. */
  GSocket *listener;
  GSource *accept_source;
  GList *conns;
  guint8 *scratch;              /* READ_SIZE, read buffer of every pipe */
  guint next_id;
  guint cur_delay_ms;
  gboolean cur_blackhole;
  guint cur_up_rate;

  GMutex lock;
  GCond cond;
  /* Under lock. */
  guint target_port;
  gboolean refuse;
  guint delay_ms;
  gboolean blackhole;
  guint up_rate;
  guint64 n_requested;          /* setters that asked apply_cb() to run ... */
  guint64 n_applied;            /* ... and how many of them it has served */
  guint64 drop_requested;
  guint64 drop_done;
  guint n_connections;
  guint64 bytes_up;
};

static void conn_pump (Conn * conn);

/* --- sockets ------------------------------------------------------------------------- */

static void
destroy_source (GSource ** source)
{
  if (*source != NULL) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

static GSource *
attach_socket_source (SttFaultProxy * proxy, GSocket * socket, GIOCondition condition,
    GSocketSourceFunc func, gpointer data)
{
  GSource *source = g_socket_create_source (socket, condition, NULL);

  g_source_set_callback (source, (GSourceFunc) func, data, NULL);
  g_source_attach (source, proxy->context);
  return source;
}

static GSource *
attach_timer (SttFaultProxy * proxy, guint ms, GSourceFunc func, gpointer data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, proxy->context);
  return source;
}

/* Small writes must leave at once: the delays are the proxy's to add, not Nagle's. */
static void
socket_set_nodelay (GSocket * socket)
{
  g_autoptr (GError) error = NULL;

  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("fault proxy: TCP_NODELAY: %s", error->message);
}

/* Closes @socket with an RST: SO_LINGER 0 discards unsent data and skips the FIN. */
static void
socket_abort (GSocket * socket)
{
  struct linger linger = { 1, 0 };

  if (socket == NULL || g_socket_is_closed (socket))
    return;
  if (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger,
          sizeof (linger)) != 0)
    g_debug ("fault proxy: SO_LINGER failed");
  g_socket_close (socket, NULL);
}

static gboolean
would_block (const GError * error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

/* --- pipes --------------------------------------------------------------------------- */

static void
pipe_init (Pipe * pipe, Conn * conn, gboolean up)
{
  pipe->conn = conn;
  pipe->up = up;
  pipe->src = up ? conn->client : conn->server;
  pipe->dst = up ? conn->server : conn->client;
  g_queue_init (&pipe->chunks);
  pipe->rate = up ? conn->proxy->cur_up_rate : 0;
  pipe->refill_time = g_get_monotonic_time ();
}

static void
pipe_clear (Pipe * pipe)
{
  destroy_source (&pipe->read_source);
  destroy_source (&pipe->write_source);
  destroy_source (&pipe->timer);
  g_queue_clear_full (&pipe->chunks, g_free);
  pipe->buffered = 0;
}

/* A read may take at most 100 ms worth of the rate at once. */
static gdouble
rate_burst (guint rate)
{
  return MAX (rate / 10.0, 1.0);
}

static void
pipe_refill (Pipe * pipe, gint64 now)
{
  if (pipe->rate > 0)
    pipe->tokens = MIN (pipe->tokens + (gdouble) (now - pipe->refill_time) * pipe->rate /
        G_USEC_PER_SEC, rate_burst (pipe->rate));
  pipe->refill_time = now;
}

static void
pipe_set_rate (Pipe * pipe, guint rate, gint64 now)
{
  if (rate == pipe->rate)
    return;
  pipe_refill (pipe, now);
  if (pipe->rate == 0)
    pipe->tokens = 0;
  pipe->rate = rate;
  pipe->tokens = MIN (pipe->tokens, rate_burst (rate));
}

static void
pipe_push (Pipe * pipe, const guint8 * data, gsize len, gint64 now)
{
  SttFaultProxy *proxy = pipe->conn->proxy;
  Chunk *chunk = g_malloc (sizeof (Chunk) + len);

  /* A delay shortened meanwhile must not let this chunk overtake the previous one. */
  chunk->due = MAX (now + (gint64) proxy->cur_delay_ms * 1000, pipe->last_due);
  chunk->eos = data == NULL;
  chunk->len = len;
  chunk->off = 0;
  if (len > 0)
    memcpy (chunk->data, data, len);
  pipe->last_due = chunk->due;
  pipe->buffered += len;
  g_queue_push_tail (&pipe->chunks, chunk);
}

static gboolean
pipe_readable_cb (GSocket * socket, GIOCondition condition, gpointer data)
{
  Pipe *pipe = data;

  g_clear_pointer (&pipe->read_source, g_source_unref);
  conn_pump (pipe->conn);
  return G_SOURCE_REMOVE;
}

static gboolean
pipe_writable_cb (GSocket * socket, GIOCondition condition, gpointer data)
{
  Pipe *pipe = data;

  g_clear_pointer (&pipe->write_source, g_source_unref);
  conn_pump (pipe->conn);
  return G_SOURCE_REMOVE;
}

static gboolean
pipe_timer_cb (gpointer data)
{
  Pipe *pipe = data;

  g_clear_pointer (&pipe->timer, g_source_unref);
  conn_pump (pipe->conn);
  return G_SOURCE_REMOVE;
}

/* Writes the chunks that are due. FALSE on a socket error (the connection must go). */
static gboolean
pipe_write (Pipe * pipe, gint64 now)
{
  SttFaultProxy *proxy = pipe->conn->proxy;
  g_autoptr (GError) error = NULL;
  Chunk *chunk;
  gssize n;

  while (!proxy->cur_blackhole && (chunk = g_queue_peek_head (&pipe->chunks)) != NULL &&
      chunk->due <= now) {
    if (chunk->eos) {
      if (!g_socket_shutdown (pipe->dst, FALSE, TRUE, &error))
        goto failed;
      pipe->dst_shut = TRUE;
    } else {
      n = g_socket_send (pipe->dst, (const gchar *) chunk->data + chunk->off,
          chunk->len - chunk->off, NULL, &error);
      if (n < 0 && would_block (error)) {
        if (pipe->write_source == NULL)
          pipe->write_source = attach_socket_source (proxy, pipe->dst, G_IO_OUT,
              pipe_writable_cb, pipe);
        return TRUE;
      }
      if (n < 0)
        goto failed;
      chunk->off += n;
      pipe->buffered -= n;
      if (pipe->up) {
        g_mutex_lock (&proxy->lock);
        proxy->bytes_up += n;
        g_mutex_unlock (&proxy->lock);
      }
      if (chunk->off < chunk->len)
        continue;
    }
    g_free (g_queue_pop_head (&pipe->chunks));
  }
  return TRUE;

  /* ERRORS */
failed:
  g_debug ("fault proxy: connection %u: %s write failed: %s", pipe->conn->id,
      pipe->up ? "server" : "client", error->message);
  return FALSE;
}

/* Reads what src has, within the buffer cap and the rate; sets @wake to when reading may
 * go on if only the rate stops it. FALSE on a socket error. */
static gboolean
pipe_read (Pipe * pipe, gint64 now, gint64 * wake)
{
  SttFaultProxy *proxy = pipe->conn->proxy;
  guint i;

  for (i = 0; i < MAX_READS_PER_PUMP; i++) {
    g_autoptr (GError) error = NULL;
    gsize max = MIN (READ_SIZE, MAX_BUFFERED - MIN (pipe->buffered, MAX_BUFFERED));
    gssize n;

    if (proxy->cur_blackhole || pipe->src_eos || max == 0)
      return TRUE;
    if (pipe->rate > 0) {
      /* Wait for at least 10 ms worth, not for each byte. */
      gdouble step = MIN (rate_burst (pipe->rate), MAX (1.0, pipe->rate / 100.0));

      pipe_refill (pipe, now);
      if (pipe->tokens < step) {
        *wake = MIN (*wake, now + 1 +
            (gint64) ((step - pipe->tokens) * G_USEC_PER_SEC / pipe->rate));
        return TRUE;
      }
      max = MIN (max, (gsize) pipe->tokens);
    }

    n = g_socket_receive (pipe->src, (gchar *) proxy->scratch, max, NULL, &error);
    if (n < 0 && would_block (error)) {
      if (pipe->read_source == NULL)
        pipe->read_source = attach_socket_source (proxy, pipe->src, G_IO_IN,
            pipe_readable_cb, pipe);
      return TRUE;
    }
    if (n < 0) {
      g_debug ("fault proxy: connection %u: %s read failed: %s", pipe->conn->id,
          pipe->up ? "client" : "server", error->message);
      return FALSE;
    }
    if (n == 0) {
      pipe->src_eos = TRUE;
      pipe_push (pipe, NULL, 0, now);
    } else {
      pipe_push (pipe, proxy->scratch, n, now);
      pipe->tokens -= n;
    }
    if (!pipe_write (pipe, now))
      return FALSE;
  }

  /* Still more to read, maybe: come back after the other sources had their turn. */
  if (pipe->read_source == NULL)
    pipe->read_source = attach_socket_source (proxy, pipe->src, G_IO_IN,
        pipe_readable_cb, pipe);
  return TRUE;
}

/* Arms the pipe's timer for @wake (G_MAXINT64: none), unless it fires earlier already. */
static void
pipe_schedule (Pipe * pipe, gint64 wake, gint64 now)
{
  if (wake == G_MAXINT64) {
    destroy_source (&pipe->timer);
    return;
  }
  if (pipe->timer != NULL && pipe->timer_due <= wake)
    return;
  destroy_source (&pipe->timer);
  pipe->timer_due = wake;
  pipe->timer = attach_timer (pipe->conn->proxy, (guint) ((wake - now + 999) / 1000),
      pipe_timer_cb, pipe);
}

static gboolean
pipe_pump (Pipe * pipe)
{
  gint64 now = g_get_monotonic_time ();
  gint64 wake = G_MAXINT64;
  Chunk *head;

  if (!pipe_write (pipe, now) || !pipe_read (pipe, now, &wake))
    return FALSE;
  head = g_queue_peek_head (&pipe->chunks);
  if (!pipe->conn->proxy->cur_blackhole && head != NULL && head->due > now)
    wake = MIN (wake, head->due);
  pipe_schedule (pipe, wake, now);
  return TRUE;
}

/* --- connections --------------------------------------------------------------------- */

static void
conn_free (Conn * conn)
{
  SttFaultProxy *proxy = conn->proxy;

  proxy->conns = g_list_remove (proxy->conns, conn);
  destroy_source (&conn->connect_source);
  pipe_clear (&conn->up);
  pipe_clear (&conn->down);
  g_clear_object (&conn->client);
  g_clear_object (&conn->server);
  g_free (conn);
}

static void
conn_abort (Conn * conn)
{
  g_debug ("fault proxy: connection %u: reset", conn->id);
  socket_abort (conn->client);
  socket_abort (conn->server);
  conn_free (conn);
}

static void
conn_pump (Conn * conn)
{
  if (!pipe_pump (&conn->up) || !pipe_pump (&conn->down)) {
    /* An error on one side: reset the other too, as the peer did (or as a cable would). */
    conn_abort (conn);
    return;
  }
  if (conn->up.dst_shut && conn->down.dst_shut) {
    g_debug ("fault proxy: connection %u: closed by both peers", conn->id);
    g_socket_close (conn->client, NULL);
    g_socket_close (conn->server, NULL);
    conn_free (conn);
  }
}

static void
conn_connected (Conn * conn)
{
  SttFaultProxy *proxy = conn->proxy;
  gint64 now = g_get_monotonic_time ();

  g_debug ("fault proxy: connection %u: forwarding", conn->id);
  conn->connected = TRUE;
  conn->up.refill_time = now;
  conn->down.refill_time = now;
  g_mutex_lock (&proxy->lock);
  proxy->n_connections++;
  g_mutex_unlock (&proxy->lock);
  conn_pump (conn);
}

static gboolean
connect_cb (GSocket * socket, GIOCondition condition, gpointer data)
{
  Conn *conn = data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&conn->connect_source, g_source_unref);
  if (!g_socket_check_connect_result (conn->server, &error)) {
    g_debug ("fault proxy: connection %u: target: %s", conn->id, error->message);
    conn_abort (conn);
  } else {
    conn_connected (conn);
  }
  return G_SOURCE_REMOVE;
}

/* Takes @client. */
static void
conn_start (SttFaultProxy * proxy, GSocket * client)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  gboolean refuse;
  guint target;
  Conn *conn;

  g_mutex_lock (&proxy->lock);
  refuse = proxy->refuse;
  target = proxy->target_port;
  g_mutex_unlock (&proxy->lock);

  g_socket_set_blocking (client, FALSE);
  if (refuse) {
    g_debug ("fault proxy: refusing a connection");
    socket_abort (client);
    g_object_unref (client);
    return;
  }

  conn = g_new0 (Conn, 1);
  conn->proxy = proxy;
  conn->id = proxy->next_id++;
  conn->client = client;
  proxy->conns = g_list_prepend (proxy->conns, conn);
  conn->server = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  if (conn->server == NULL)
    goto failed;
  g_socket_set_blocking (conn->server, FALSE);
  socket_set_nodelay (conn->client);
  socket_set_nodelay (conn->server);
  pipe_init (&conn->up, conn, TRUE);
  pipe_init (&conn->down, conn, FALSE);

  address = g_inet_socket_address_new_from_string (LOCALHOST, target);
  if (g_socket_connect (conn->server, address, NULL, &error)) {
    conn_connected (conn);
    return;
  }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    goto failed;
  conn->connect_source = attach_socket_source (proxy, conn->server, G_IO_OUT, connect_cb,
      conn);
  return;

  /* ERRORS */
failed:
  /* Like a server that is down: the client is reset. */
  g_debug ("fault proxy: connection %u: target port %u: %s", conn->id, target,
      error->message);
  conn_abort (conn);
}

static gboolean
accept_cb (GSocket * listener, GIOCondition condition, gpointer data)
{
  SttFaultProxy *proxy = data;

  for (;;) {
    g_autoptr (GError) error = NULL;
    GSocket *client = g_socket_accept (listener, NULL, &error);

    if (client == NULL) {
      if (!would_block (error))
        g_debug ("fault proxy: accept failed: %s", error->message);
      break;
    }
    conn_start (proxy, client);
  }
  return G_SOURCE_CONTINUE;
}

/* --- proxy thread -------------------------------------------------------------------- */

/* Copies the settings to the proxy thread's fields and acts on them. */
static gboolean
apply_cb (gpointer data)
{
  SttFaultProxy *proxy = data;
  gint64 now = g_get_monotonic_time ();
  gboolean drop;
  guint64 seq;
  GList *l, *next;

  g_mutex_lock (&proxy->lock);
  proxy->cur_delay_ms = proxy->delay_ms;
  proxy->cur_blackhole = proxy->blackhole;
  proxy->cur_up_rate = proxy->up_rate;
  drop = proxy->drop_done != proxy->drop_requested;
  proxy->drop_done = proxy->drop_requested;
  seq = proxy->n_requested;
  g_mutex_unlock (&proxy->lock);

  for (l = proxy->conns; l != NULL; l = next) {
    Conn *conn = l->data;

    /* conn_pump() and conn_abort() free no other connection than theirs. */
    next = l->next;
    if (drop) {
      conn_abort (conn);
      continue;
    }
    pipe_set_rate (&conn->up, proxy->cur_up_rate, now);
    if (conn->connected)
      conn_pump (conn);
  }

  g_mutex_lock (&proxy->lock);
  proxy->n_applied = MAX (proxy->n_applied, seq);
  g_cond_broadcast (&proxy->cond);
  g_mutex_unlock (&proxy->lock);
  return G_SOURCE_REMOVE;
}

/* Runs apply_cb() on the proxy thread and waits for it. Call without the lock. */
static void
proxy_apply (SttFaultProxy * proxy)
{
  gint64 end = g_get_monotonic_time () + APPLY_TIMEOUT_US;
  guint64 seq;

  g_mutex_lock (&proxy->lock);
  seq = ++proxy->n_requested;
  g_mutex_unlock (&proxy->lock);

  g_main_context_invoke_full (proxy->context, G_PRIORITY_DEFAULT, apply_cb, proxy, NULL);

  g_mutex_lock (&proxy->lock);
  while (proxy->n_applied < seq)
    if (!g_cond_wait_until (&proxy->cond, &proxy->lock, end)) {
      g_warning ("fault proxy: the proxy thread did not apply a setting within 5 s");
      break;
    }
  g_mutex_unlock (&proxy->lock);
}

static gboolean
shutdown_cb (gpointer data)
{
  SttFaultProxy *proxy = data;

  destroy_source (&proxy->accept_source);
  g_socket_close (proxy->listener, NULL);
  while (proxy->conns != NULL)
    conn_abort (proxy->conns->data);
  g_main_loop_quit (proxy->loop);
  return G_SOURCE_REMOVE;
}

static gpointer
proxy_thread (gpointer data)
{
  SttFaultProxy *proxy = data;

  g_main_context_push_thread_default (proxy->context);
  g_main_loop_run (proxy->loop);
  while (g_main_context_iteration (proxy->context, FALSE));
  g_main_context_pop_thread_default (proxy->context);
  return NULL;
}

/* --- public API ---------------------------------------------------------------------- */

static void
proxy_free_data (SttFaultProxy * proxy)
{
  destroy_source (&proxy->accept_source);
  g_clear_object (&proxy->listener);
  g_main_loop_unref (proxy->loop);
  g_main_context_unref (proxy->context);
  g_free (proxy->scratch);
  g_mutex_clear (&proxy->lock);
  g_cond_clear (&proxy->cond);
  g_free (proxy);
}

SttFaultProxy *
stt_fault_proxy_new (guint target_port, GError ** error)
{
  SttFaultProxy *proxy;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  g_return_val_if_fail (target_port > 0 && target_port <= G_MAXUINT16, NULL);

  proxy = g_new0 (SttFaultProxy, 1);
  proxy->context = g_main_context_new ();
  proxy->loop = g_main_loop_new (proxy->context, FALSE);
  proxy->scratch = g_malloc (READ_SIZE);
  proxy->target_port = target_port;
  g_mutex_init (&proxy->lock);
  g_cond_init (&proxy->cond);

  proxy->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  if (proxy->listener == NULL)
    goto failed;
  g_socket_set_blocking (proxy->listener, FALSE);
  address = g_inet_socket_address_new_from_string (LOCALHOST, 0);
  if (!g_socket_bind (proxy->listener, address, FALSE, error) ||
      !g_socket_listen (proxy->listener, error) ||
      (local = g_socket_get_local_address (proxy->listener, error)) == NULL)
    goto failed;
  proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  /* Attached before the thread runs the context: nothing is dispatched here. */
  proxy->accept_source = attach_socket_source (proxy, proxy->listener, G_IO_IN, accept_cb,
      proxy);
  proxy->thread = g_thread_new ("stt-fault-proxy", proxy_thread, proxy);
  return proxy;

  /* ERRORS */
failed:
  proxy_free_data (proxy);
  return NULL;
}

void
stt_fault_proxy_free (SttFaultProxy * proxy)
{
  if (proxy == NULL)
    return;
  g_main_context_invoke_full (proxy->context, G_PRIORITY_DEFAULT, shutdown_cb, proxy,
      NULL);
  g_thread_join (proxy->thread);
  proxy_free_data (proxy);
}

guint
stt_fault_proxy_get_port (SttFaultProxy * proxy)
{
  return proxy->port;
}

void
stt_fault_proxy_set_target (SttFaultProxy * proxy, guint target_port)
{
  g_return_if_fail (target_port > 0 && target_port <= G_MAXUINT16);

  g_mutex_lock (&proxy->lock);
  proxy->target_port = target_port;
  g_mutex_unlock (&proxy->lock);
}

void
stt_fault_proxy_set_delay (SttFaultProxy * proxy, guint ms)
{
  g_mutex_lock (&proxy->lock);
  proxy->delay_ms = ms;
  g_mutex_unlock (&proxy->lock);
  proxy_apply (proxy);
}

void
stt_fault_proxy_drop_all (SttFaultProxy * proxy)
{
  g_mutex_lock (&proxy->lock);
  proxy->drop_requested++;
  g_mutex_unlock (&proxy->lock);
  proxy_apply (proxy);
}

void
stt_fault_proxy_set_blackhole (SttFaultProxy * proxy, gboolean on)
{
  g_mutex_lock (&proxy->lock);
  proxy->blackhole = on;
  g_mutex_unlock (&proxy->lock);
  proxy_apply (proxy);
}

/* Read when a connection is accepted: nothing to apply to open ones. */
void
stt_fault_proxy_set_refuse (SttFaultProxy * proxy, gboolean on)
{
  g_mutex_lock (&proxy->lock);
  proxy->refuse = on;
  g_mutex_unlock (&proxy->lock);
}

void
stt_fault_proxy_set_upstream_rate (SttFaultProxy * proxy, guint bytes_per_sec)
{
  g_mutex_lock (&proxy->lock);
  proxy->up_rate = bytes_per_sec;
  g_mutex_unlock (&proxy->lock);
  proxy_apply (proxy);
}

guint
stt_fault_proxy_get_n_connections (SttFaultProxy * proxy)
{
  guint n;

  g_mutex_lock (&proxy->lock);
  n = proxy->n_connections;
  g_mutex_unlock (&proxy->lock);
  return n;
}

guint64
stt_fault_proxy_get_bytes_up (SttFaultProxy * proxy)
{
  guint64 n;

  g_mutex_lock (&proxy->lock);
  n = proxy->bytes_up;
  g_mutex_unlock (&proxy->lock);
  return n;
}
