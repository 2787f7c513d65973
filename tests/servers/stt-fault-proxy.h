/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-fault-proxy: a TCP proxy on 127.0.0.1 that injects network faults, for tests.
 *
 * It forwards every accepted connection byte for byte to 127.0.0.1:target, both ways, and
 * knows nothing of WebSocket or HTTP: put it between a client and an SttTestServer to see
 * what the client does when the network (not the service) misbehaves.
 *
 * Each proxy runs its own thread and GMainContext (all I/O is non-blocking on that thread,
 * no thread per connection). Every function here is thread-safe and may be called from the
 * test thread; a fault setter returns once the proxy thread has applied it (waiting at most
 * 5 s), so data sent after the call already meets the fault.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SttFaultProxy SttFaultProxy;

/* Listens on 127.0.0.1, any free port, and forwards to 127.0.0.1:@target_port. Returns
 * NULL and sets @error if it could not listen. */
SttFaultProxy *stt_fault_proxy_new (guint target_port, GError ** error);
/* Resets every open connection (RST), stops the thread, frees everything. NULL-safe. */
void stt_fault_proxy_free (SttFaultProxy * proxy);

guint stt_fault_proxy_get_port (SttFaultProxy * proxy);
/* The port connections accepted from now on are forwarded to. A client whose connection
 * the target refuses is reset (RST) and not counted. */
void stt_fault_proxy_set_target (SttFaultProxy * proxy, guint target_port);

/* --- faults: they apply to current and future connections until changed ------------ */
/* Adds @ms of latency to each direction (data and end of stream), order kept. 0 = none.
 * Data already read keeps the delay it was read with. */
void stt_fault_proxy_set_delay (SttFaultProxy * proxy, guint ms);
/* Kills every current connection abruptly: both sockets closed with SO_LINGER 0 (an RST
 * to each peer), no FIN, no WebSocket close frame. Data the proxy held is lost. */
void stt_fault_proxy_drop_all (SttFaultProxy * proxy);
/* TRUE: stop forwarding and stop reading in both directions, sockets kept open (peers see
 * silence, then TCP backpressure, never an error). FALSE resumes: held data then flows. */
void stt_fault_proxy_set_blackhole (SttFaultProxy * proxy, gboolean on);
/* TRUE: new connections are accepted and at once closed with an RST, like a server that
 * is down. Open connections are not touched. */
void stt_fault_proxy_set_refuse (SttFaultProxy * proxy, gboolean on);
/* Reads from the client at most @bytes_per_sec (bursts of at most 100 ms), so that a fast
 * sender meets TCP backpressure. 0 = unlimited. */
void stt_fault_proxy_set_upstream_rate (SttFaultProxy * proxy, guint bytes_per_sec);

/* --- counters ----------------------------------------------------------------------- */
/* Connections accepted and connected to the target (refused ones are not counted). */
guint stt_fault_proxy_get_n_connections (SttFaultProxy * proxy);
/* Bytes written to the target (client -> server), over all connections. */
guint64 stt_fault_proxy_get_bytes_up (SttFaultProxy * proxy);

G_END_DECLS
