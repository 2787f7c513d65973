/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-local-guard: one client connection of stt-local-server, as a GIOStream handed to
 * libsoup, that looks at what the client sends before libsoup buffers it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libsoup 3.2 reads a whole WebSocket frame into memory before it compares its length
 * with max-incoming-payload-size, does not bound a message sent in many fragments, and
 * drops the TCP connection without a close frame when a frame is too big. The guard
 * follows the client's frame headers (after the HTTP request) and discards frames that
 * would make a data message longer than its limit, so libsoup never sees them, and
 * tells its owner, who closes with 1009.
 *
 * It can also hold back what the client sends (backpressure: the client's data waits
 * in the kernel and TCP slows the client down), and does so by itself while a write to
 * the client would block, so a client that does not read the replies cannot make the
 * server queue them without end. It notes when the client last sent a byte, and counts
 * the bytes written to the client, so an owner can tell how much of what it gave libsoup
 * is still unsent.
 *
 * Everything here runs on the thread of the context that libsoup uses for the
 * connection (stt_guard_stream_set_context()). */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define STT_TYPE_GUARD_STREAM (stt_guard_stream_get_type ())
G_DECLARE_FINAL_TYPE (SttGuardStream, stt_guard_stream, STT, GUARD_STREAM, GIOStream)

typedef void (*SttGuardFunc) (SttGuardStream * guard, gpointer user_data);

/* Wraps @base, the connection of the peer at @remote; data messages of more than
 * @max_message bytes are refused. @remote is how stt_guard_stream_lookup() finds the
 * guard of a request (libsoup keeps the address it is given with the connection). */
SttGuardStream *stt_guard_stream_new (GSocketConnection * base,
    GSocketAddress * remote, guint64 max_message);

/* The guard of the connection @msg came on, or NULL. Transfer none. */
SttGuardStream *stt_guard_stream_lookup (SoupServerMessage * msg);

/* The guard's own sources (deadline, notifications) go to @context from now on: for
 * a connection handed to another thread, called from that thread while none is
 * pending (no deadline, no notification function). */
void stt_guard_stream_set_context (SttGuardStream * guard,
    GMainContext * context);

/* Shuts the connection down unless stt_guard_stream_set_deadline (guard, 0) is called
 * within @seconds (0: no deadline). */
void stt_guard_stream_set_deadline (SttGuardStream * guard, guint seconds);

/* @func is called (from the main context, never inside a read) once the client has
 * sent a message over the limit. Every data frame after that is discarded. */
void stt_guard_stream_set_too_big_func (SttGuardStream * guard,
    SttGuardFunc func, gpointer user_data);
gboolean stt_guard_stream_is_too_big (SttGuardStream * guard);

/* While paused, nothing more is read from the client. */
void stt_guard_stream_set_paused (SttGuardStream * guard, gboolean paused);

/* g_get_monotonic_time() of the last byte received, or of the guard's creation. */
gint64 stt_guard_stream_get_last_read (SttGuardStream * guard);

/* The client's socket. Transfer none. */
GSocket *stt_guard_stream_get_socket (SttGuardStream * guard);

/* Bytes written to the client so far (frames libsoup sent, control frames included). */
guint64 stt_guard_stream_get_written (SttGuardStream * guard);

/* @func is called once (from the main context, never inside a write) when the bytes
 * written reach @target: at the next main loop turn if they already have. A new call
 * replaces the pending one; @func NULL cancels it. */
void stt_guard_stream_notify_written (SttGuardStream * guard, guint64 target,
    SttGuardFunc func, gpointer user_data);

/* Ends the connection under libsoup's feet: its reads see the end of the stream and
 * its writes fail, so it drops the connection the way it does when a client leaves. */
void stt_guard_stream_shutdown (SttGuardStream * guard);

G_END_DECLS
