/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttiopool: the process-wide pool of I/O threads shared by every stream.
 *
 * Each worker thread runs its own GMainContext and owns the SoupSessions created on it
 * (a shared one, and an isolated one for requests under their own certificate checks);
 * libsoup calls for a stream happen only on the worker that stream is bound to.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _SttIoWorker SttIoWorker;

/* Binds a new stream to the least loaded worker (the pool starts on first use, with
 * one thread per CPU core, or $STT_IO_THREADS). Release with stt_io_worker_release. */
SttIoWorker *stt_io_pool_acquire (void);
void stt_io_worker_release (SttIoWorker * worker);
/* One more stream on @worker (a stream's second session, bound to the same thread). */
SttIoWorker *stt_io_worker_retain (SttIoWorker * worker);

GMainContext *stt_io_worker_get_context (SttIoWorker * worker);
/* The worker's session: call only from the worker's thread. */
SoupSession *stt_io_worker_get_session (SttIoWorker * worker);
/* The worker's second session, created on first use, for requests whose certificates are
 * not checked against the system store (tls-validate=false, tls-ca-file): their
 * connections never carry the shared session's requests. Worker thread only. */
SoupSession *stt_io_worker_get_isolated_session (SttIoWorker * worker);
gboolean stt_io_worker_is_current (SttIoWorker * worker);

/* Runs @func on the worker's thread (at once if already there). */
void stt_io_worker_invoke (SttIoWorker * worker, GSourceFunc func, gpointer data,
    GDestroyNotify notify);
/* Like stt_io_worker_invoke, but coalesced: calls made within a few milliseconds are run
 * together by one wakeup of the worker (the return value of @func is ignored). For
 * frequent, latency-tolerant work such as "audio is waiting in the ring". */
void stt_io_worker_invoke_batched (SttIoWorker * worker, GSourceFunc func, gpointer data,
    GDestroyNotify notify);
/* A timeout source attached to the worker's context. Returns the source (a new ref). */
GSource *stt_io_worker_add_timeout (SttIoWorker * worker, guint ms, GSourceFunc func,
    gpointer data, GDestroyNotify notify);
/* The same with whole-second granularity: GLib fires all such timers of a context
 * together (g_timeout_source_new_seconds), so many streams cost one wakeup. */
GSource *stt_io_worker_add_timeout_seconds (SttIoWorker * worker, guint seconds,
    GSourceFunc func, gpointer data, GDestroyNotify notify);

/* Called on the worker's thread when the network comes back (GNetworkMonitor). */
typedef void (*SttIoNetworkFunc) (gpointer data);
/* Worker thread only. Returns an id for stt_io_worker_unwatch_network. */
guint stt_io_worker_watch_network (SttIoWorker * worker, SttIoNetworkFunc func,
    gpointer data);
void stt_io_worker_unwatch_network (SttIoWorker * worker, guint id);
/* Worker thread only: @func is called on the worker's thread about once a second (one
 * timer per worker, shared by its streams). Returns an id for stt_io_worker_unwatch_tick. */
guint stt_io_worker_watch_tick (SttIoWorker * worker, SttIoNetworkFunc func, gpointer data);
void stt_io_worker_unwatch_tick (SttIoWorker * worker, guint id);
/* Any thread: tells every watcher that the network is available again. The pool calls
 * it on GNetworkMonitor's "network-changed"; tests may call it directly. */
void stt_io_pool_network_available (void);

/* Number of threads the pool runs (0 before first use). */
guint stt_io_pool_get_n_threads (void);

G_END_DECLS
