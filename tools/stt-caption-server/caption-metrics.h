/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-metrics: the counters of stt-caption-server and their Prometheus text
 * (GET /metrics). Main thread only, but for messages_in, messages_out and drops,
 * which the viewer threads (caption-workers.h) count too: those only through
 * cap_metrics_count() and cap_metrics_get().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Why a message or a connection was dropped: the `reason` label of
 * stt_caption_drops_total. */
typedef enum
{
  CAP_DROP_DUPLICATE,           /* a final already stored (acknowledged again) */
  CAP_DROP_AUTH,                /* 4001 */
  CAP_DROP_ORIGIN,              /* HTTP 403 */
  CAP_DROP_ROOM,                /* 4004 */
  CAP_DROP_PER_IP,              /* 4029, --max-per-ip */
  CAP_DROP_RATE,                /* 4029, --max-rate */
  CAP_DROP_TOO_BIG,             /* 1009 */
  CAP_DROP_MALFORMED,           /* 1003 */
  CAP_DROP_ROOM_FULL,           /* 4009 */
  CAP_DROP_SLOW_VIEWER,         /* 4010 */
  CAP_DROP_HEARTBEAT,           /* 4008 */
  CAP_DROP_STORE,               /* 1011: the store failed */
  CAP_DROP_SHUTDOWN,            /* 1001 to a connection refused while stopping */
  CAP_N_DROPS
} CapDrop;

typedef struct
{
  guint64 messages_in;          /* data messages received, every role */
  guint64 messages_out;         /* messages handed to a connection */
  guint64 drops[CAP_N_DROPS];
  guint64 fanout_buckets[16];   /* cumulative counts per upper bound */
  guint64 fanout_count;
  gdouble fanout_sum;

  /* --redis only (rendered when redis is set) */
  gboolean redis;
  gboolean redis_up;
  guint64 redis_in;             /* captions received from Redis */
  guint64 redis_out;            /* captions sent to Redis */
  guint64 redis_reconnects;     /* connected again after losing Redis */
  guint64 redis_unshared;       /* finals stored here while Redis was down */
  guint64 redis_missed;         /* room ids this server never received */
} CapMetrics;

/* One more on @counter (messages_in, messages_out, drops[]), from any thread. The
 * counters are independent figures: relaxed atomics are enough. */
static inline void
cap_metrics_count (guint64 * counter)
{
  __atomic_fetch_add (counter, 1, __ATOMIC_RELAXED);
}

static inline guint64
cap_metrics_get (const guint64 * counter)
{
  return __atomic_load_n (counter, __ATOMIC_RELAXED);
}

/* A final took @seconds from its arrival to being queued for every viewer. */
void cap_metrics_observe_fanout (CapMetrics * m, gdouble seconds);

/* The Prometheus text exposition (version 0.0.4) of @m and the gauges given. */
gchar *cap_metrics_render (const CapMetrics * m, guint publishers,
    guint viewers, guint rooms);

G_END_DECLS
