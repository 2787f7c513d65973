/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-redis: hiredis' asynchronous context driven by a GMainContext. A GSource
 * polls the context's socket for what hiredis asks (its addRead/addWrite hooks) and
 * calls redisAsyncHandleRead/Write from the main loop; nothing blocks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * hiredis frees a context by itself when its connection fails or closes, and runs the
 * pending reply callbacks with a NULL reply first. Its cleanup hook is where this
 * adapter learns it: the source is destroyed and @freed is called, the one place an
 * owner learns that its redisAsyncContext pointer is gone (ac->errstr is still
 * readable then). */
#pragma once

#include <glib.h>
#include <hiredis/async.h>

G_BEGIN_DECLS

typedef void (*CapRedisFreedFunc) (const redisAsyncContext * ac,
    gpointer user_data);

/* Attaches @ac (just made by redisAsyncConnect, without error) to @context (NULL: the
 * default one). FALSE when @ac is already attached to an event library. */
gboolean cap_redis_attach (redisAsyncContext * ac, GMainContext * context,
    CapRedisFreedFunc freed, gpointer user_data);

G_END_DECLS
