/* stt-local-listener: see stt-local-listener.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

/* accept4() */
#define _GNU_SOURCE

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "stt-local-listener.h"
#include "stt-local-guard.h"

#define BACKLOG 128
/* Connections taken per wake-up, so a flood cannot hold the main loop. */
#define ACCEPTS_PER_WAKEUP 32
/* Pause after an accept() error that a spare descriptor could not help. */
#define RETRY_MS 100

static const char REFUSAL[] = "HTTP/1.1 503 Service Unavailable\r\n"
    "Retry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

struct _SttListener
{
  SoupServer *soup;
  GSocket *socket;
  GMainContext *context;
  GSource *source;              /* waiting for connections, or */
  GSource *retry;               /* waiting RETRY_MS after an error */
  guint64 max_message;
  guint handshake_timeout;
  int spare_fd;                 /* given up to accept a client we must refuse */
  guint refused;
  gboolean starved;             /* out of descriptors since the last accept */
};

static void listener_watch (SttListener * listener);

static void
take_spare (SttListener * listener)
{
  if (listener->spare_fd < 0)
    listener->spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Out of descriptors: accepts one waiting client with the spare descriptor, answers
 * it 503 and closes it. FALSE if there was no spare or no client. */
static gboolean
refuse_one (SttListener * listener)
{
  char drain[4096];
  guint i;
  int fd;

  if (listener->spare_fd < 0)
    return FALSE;
  close (listener->spare_fd);
  listener->spare_fd = -1;
  fd = accept4 (g_socket_get_fd (listener->socket), NULL, NULL,
      SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd >= 0) {
    /* Best effort, on an empty socket buffer. Reading what the client already sent
     * makes close() end with a FIN rather than a reset that could discard the
     * answer. */
    if (send (fd, REFUSAL, strlen (REFUSAL), MSG_NOSIGNAL) < 0)
      g_debug ("refusal not sent: %s", g_strerror (errno));
    for (i = 0; i < 16 && recv (fd, drain, sizeof (drain), 0) > 0; i++);
    close (fd);
    listener->refused++;
  }
  take_spare (listener);
  return fd >= 0;
}

/* Hands a new client to the SoupServer behind a guard. */
static void
serve (SttListener * listener, GSocket * socket)
{
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (SttGuardStream) guard = NULL;
  g_autoptr (GError) error = NULL;

  /* Replies are small and each is awaited: do not hold them back. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  local = g_socket_get_local_address (socket, NULL);
  remote = g_socket_get_remote_address (socket, &error);
  if (!local || !remote) {
    /* It left before we got to it. */
    g_debug ("dropping a connection: %s", error ? error->message : "no address");
    return;
  }
  conn = g_socket_connection_factory_create_connection (socket);
  guard = stt_guard_stream_new (conn, remote, listener->max_message);
  stt_guard_stream_set_deadline (guard, listener->handshake_timeout);
  soup_server_accept_iostream (listener->soup, G_IO_STREAM (guard), local,
      remote, NULL);
}

static gboolean
on_retry (gpointer user_data)
{
  SttListener *listener = user_data;

  g_clear_pointer (&listener->retry, g_source_unref);
  take_spare (listener);
  listener_watch (listener);
  return G_SOURCE_REMOVE;
}

static void
pause_accepting (SttListener * listener)
{
  listener->retry = g_timeout_source_new (RETRY_MS);
  g_source_set_callback (listener->retry, on_retry, listener, NULL);
  g_source_attach (listener->retry, listener->context);
}

static gboolean
on_incoming (GSocket * socket, GIOCondition condition, gpointer user_data)
{
  SttListener *listener = user_data;
  guint i;

  for (i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
    g_autoptr (GError) error = NULL;
    GSocket *client = g_socket_accept (listener->socket, NULL, &error);

    if (client) {
      if (listener->starved)
        g_message ("accepting connections again (%u refused for want of file "
            "descriptors)", listener->refused);
      listener->starved = FALSE;
      serve (listener, client);
      g_object_unref (client);
      continue;
    }
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES)) {
      if (!listener->starved)
        g_message ("out of file descriptors: refusing new connections (503) "
            "until clients leave");
      listener->starved = TRUE;
      if (refuse_one (listener))
        continue;
    } else {
      /* ECONNABORTED, ENOMEM...: the next client may do better, a moment later. */
      g_debug ("accept failed: %s", error->message);
    }
    g_clear_pointer (&listener->source, g_source_unref);
    pause_accepting (listener);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
listener_watch (SttListener * listener)
{
  listener->source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
  g_source_set_callback (listener->source, (GSourceFunc) (GCallback) on_incoming,
      listener, NULL);
  g_source_attach (listener->source, listener->context);
}

SttListener *
stt_listener_new (SoupServer * soup, GSocketAddress * address,
    guint64 max_message, guint handshake_timeout, GError ** error)
{
  SttListener *listener;
  g_autoptr (GSocket) socket = NULL;

  socket = g_socket_new (g_socket_address_get_family (address),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (!socket)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) ||
      !g_socket_listen (socket, error))
    return NULL;

  listener = g_new0 (SttListener, 1);
  listener->soup = g_object_ref (soup);
  listener->socket = g_steal_pointer (&socket);
  listener->context = g_main_context_ref_thread_default ();
  listener->max_message = max_message;
  listener->handshake_timeout = handshake_timeout;
  listener->spare_fd = -1;
  take_spare (listener);
  listener_watch (listener);
  return listener;
}

/* An address as is, or the first that the name resolves to (blocking). */
static GInetAddress *
resolve_host (const gchar * host, GError ** error)
{
  GInetAddress *addr = g_inet_address_new_from_string (host);
  GList *list;

  if (addr)
    return addr;
  list = g_resolver_lookup_by_name (g_resolver_get_default (), host, NULL,
      error);
  if (!list) {
    g_prefix_error (error, "cannot resolve --host %s: ", host);
    return NULL;
  }
  addr = g_object_ref (list->data);
  g_resolver_free_addresses (list);
  return addr;
}

SttListener *
stt_listener_new_on_host (SoupServer * soup, const gchar * host, gint port,
    guint64 max_message, guint handshake_timeout, GError ** error)
{
  g_autoptr (GInetAddress) addr = NULL;
  g_autoptr (GSocketAddress) sockaddr = NULL;
  g_autoptr (GError) local = NULL;
  SttListener *listener;

  addr = resolve_host (host, error);
  if (!addr)
    return NULL;
  sockaddr = g_inet_socket_address_new (addr, port);
  listener = stt_listener_new (soup, sockaddr, max_message, handshake_timeout,
      &local);
  if (!listener)
    goto listen_failed;
  return listener;

  /* ERRORS */
listen_failed:
  {
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
          "port %d on %s is already in use; choose another with --port N "
          "(--port 0 picks a free one)", port, host);
    else
      g_set_error (error, local->domain, local->code,
          "cannot listen on %s port %d: %s", host, port, local->message);
    return NULL;
  }
}

GSocketAddress *
stt_listener_get_address (SttListener * listener)
{
  return g_socket_get_local_address (listener->socket, NULL);
}

gchar *
stt_listener_get_url (SttListener * listener, const gchar * scheme)
{
  g_autoptr (GSocketAddress) address = stt_listener_get_address (listener);
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
  g_autofree gchar *host =
      g_inet_address_to_string (g_inet_socket_address_get_address (inet));

  if (strchr (host, ':'))
    return g_strdup_printf ("%s://[%s]:%u", scheme, host,
        g_inet_socket_address_get_port (inet));
  return g_strdup_printf ("%s://%s:%u", scheme, host,
      g_inet_socket_address_get_port (inet));
}

guint
stt_listener_get_refused (SttListener * listener)
{
  return listener->refused;
}

void
stt_listener_free (SttListener * listener)
{
  if (!listener)
    return;
  if (listener->source) {
    g_source_destroy (listener->source);
    g_source_unref (listener->source);
  }
  if (listener->retry) {
    g_source_destroy (listener->retry);
    g_source_unref (listener->retry);
  }
  if (listener->spare_fd >= 0)
    close (listener->spare_fd);
  g_socket_close (listener->socket, NULL);
  g_object_unref (listener->socket);
  g_object_unref (listener->soup);
  g_main_context_unref (listener->context);
  g_free (listener);
}
