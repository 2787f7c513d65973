/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* worker: the decoding side of each client of stt-local-server. A client's messages
 * are jobs in its Session; a thread pool runs them, in order, with a decoder of
 * decoders.c, and the replies come back to the main context, in order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "server.h"

G_BEGIN_DECLS

typedef struct _Session Session;

typedef enum
{
  REPLY_TEXT,                   /* a message for the client */
  REPLY_CLOSE,                  /* close the connection with this code and reason */
  REPLY_RESUME,                 /* the inbox has room again: read the client */
  REPLY_DONE,                   /* the worker side is done with the session; last */
} ReplyKind;

/* Main context. @text: the message, or the close reason (may be NULL). */
typedef void (*SessionReplyFunc) (ReplyKind kind, const gchar * text,
    gushort code, gpointer user_data);

/* The pool that runs the sessions of @server. */
GThreadPool *worker_pool_new (Server * server);

/* Main thread. Replies go to @func until REPLY_DONE. The caller owns the one
 * reference. */
Session *session_new (Server * server, guint id, SessionReplyFunc func,
    gpointer user_data);
void session_unref (Session * s);

/* Main thread: a client's message. Each returns TRUE when the client's queue is
 * full: read nothing more from it until REPLY_RESUME. Each gets one reply but
 * config; eof also closes the connection (1000). */
gboolean session_push_audio (Session * s, GBytes * audio);
gboolean session_push_config (Session * s, gint rate, gboolean words);
gboolean session_push_eof (Session * s);
gboolean session_push_reset (Session * s);
/* Any other text message: answered with the partial result. */
gboolean session_push_text (Session * s);
/* The client is gone: drops its queued jobs, stops any decoding and hands the
 * decoder back; REPLY_DONE follows. Returns TRUE as the pushes do. */
gboolean session_stop (Session * s);

/* Any thread. Input received and not yet answered (what backpressure bounds). */
gint64 session_get_queued (Session * s);

G_END_DECLS
