/* stt-local-listener: the listening socket of stt-local-server.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libsoup 3.2's own listener stops accepting for good after the first failed accept()
 * (its source callback returns G_SOURCE_REMOVE on any error), so one moment without
 * a free file descriptor leaves the server deaf until it restarts. This one accepts
 * on the main context and hands each connection to the SoupServer
 * (soup_server_accept_iostream) wrapped in an SttGuardStream. When the process is out
 * of descriptors it frees a spare one to accept the waiting client, answers it "503
 * Service Unavailable" and closes it, so clients hear at once that they should retry;
 * if even that fails it pauses for a moment and tries again. It never stops. */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _SttListener SttListener;

/* Listens on @address for @soup. Connections get a guard with @max_message as its
 * limit, and are shut down if they are not claimed (stt_guard_stream_set_deadline
 * (guard, 0)) within @handshake_timeout seconds. */
SttListener *stt_listener_new (SoupServer * soup, GSocketAddress * address,
    guint64 max_message, guint handshake_timeout, GError ** error);
/* stt_listener_new() on @host (an address, or a name resolved first) and @port, as the
 * options --host and --port give them: the errors name those options. */
SttListener *stt_listener_new_on_host (SoupServer * soup, const gchar * host, gint port,
    guint64 max_message, guint handshake_timeout, GError ** error);
/* Where it listens (the port chosen for port 0). Transfer full. */
GSocketAddress *stt_listener_get_address (SttListener * listener);
/* Where it listens as "@scheme://HOST:PORT" ("[HOST]" for IPv6), for the line
 * "listening on URL" that scripts wait for. Free with g_free. */
gchar *stt_listener_get_url (SttListener * listener, const gchar * scheme);
/* Connections answered 503 for want of a file descriptor. */
guint stt_listener_get_refused (SttListener * listener);
/* Stops listening; connections already accepted go on. */
void stt_listener_free (SttListener * listener);

G_END_DECLS
