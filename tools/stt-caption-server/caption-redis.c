/* caption-redis: see caption-redis.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "caption-redis.h"

typedef struct
{
  GSource source;
  redisAsyncContext *ac;        /* NULL once hiredis freed it */
  gpointer tag;                 /* the socket's entry in the source */
  GIOCondition events;          /* what hiredis wants to hear about */
  CapRedisFreedFunc freed;
  gpointer user_data;
} RedisSource;

static void
set_events (RedisSource * rs, GIOCondition add, GIOCondition remove)
{
  GIOCondition events = (rs->events | add) & ~remove;

  if (events == rs->events || !rs->ac)
    return;
  rs->events = events;
  g_source_modify_unix_fd (&rs->source, rs->tag, events);
}

static void
add_read (void *data)
{
  set_events (data, G_IO_IN, 0);
}

static void
del_read (void *data)
{
  set_events (data, 0, G_IO_IN);
}

static void
add_write (void *data)
{
  set_events (data, G_IO_OUT, 0);
}

static void
del_write (void *data)
{
  set_events (data, 0, G_IO_OUT);
}

/* hiredis is freeing the context (from its own read/write handling, or from
 * redisAsyncFree). */
static void
cleanup (void *data)
{
  RedisSource *rs = data;
  const redisAsyncContext *ac = rs->ac;

  rs->ac = NULL;
  if (rs->freed)
    rs->freed (ac, rs->user_data);
  /* Safe from inside our own dispatch: GLib holds a reference until it returns. */
  g_source_destroy (&rs->source);
  g_source_unref (&rs->source);
}

static gboolean
redis_dispatch (GSource * source, GSourceFunc callback, gpointer user_data)
{
  RedisSource *rs = (RedisSource *) source;
  GIOCondition revents;

  if (!rs->ac)
    return G_SOURCE_REMOVE;
  revents = g_source_query_unix_fd (source, rs->tag);
  /* An error or hang-up is read too: hiredis sees the failed connect or the end of
   * the stream there, and frees the context. */
  if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    redisAsyncHandleRead (rs->ac);
  if (rs->ac && (revents & G_IO_OUT))
    redisAsyncHandleWrite (rs->ac);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs redis_source_funcs = {
  NULL, NULL, redis_dispatch, NULL, NULL, NULL,
};

gboolean
cap_redis_attach (redisAsyncContext * ac, GMainContext * context,
    CapRedisFreedFunc freed, gpointer user_data)
{
  RedisSource *rs;

  if (ac->ev.data)
    return FALSE;
  rs = (RedisSource *) g_source_new (&redis_source_funcs, sizeof (RedisSource));
  g_source_set_static_name (&rs->source, "hiredis");
  rs->ac = ac;
  rs->freed = freed;
  rs->user_data = user_data;
  rs->tag = g_source_add_unix_fd (&rs->source, ac->c.fd, 0);

  ac->ev.data = rs;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;

  /* The main context takes its own reference; ours (from g_source_new) is the
   * hiredis context's, dropped in cleanup(). */
  g_source_attach (&rs->source, context);
  return TRUE;
}
