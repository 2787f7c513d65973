/* caption-metrics: see caption-metrics.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "caption-json.h"
#include "caption-metrics.h"

/* Upper bounds (seconds) of the fan-out histogram: from an idle server (tens of µs)
 * to a store write on a busy disk. */
static const gdouble fanout_bounds[] = {
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
  0.25, 0.5, 1.0,
};

G_STATIC_ASSERT (G_N_ELEMENTS (fanout_bounds) <=
    G_N_ELEMENTS (((CapMetrics *) NULL)->fanout_buckets));

static const gchar *const drop_names[CAP_N_DROPS] = {
  [CAP_DROP_DUPLICATE] = "duplicate",
  [CAP_DROP_AUTH] = "auth",
  [CAP_DROP_ORIGIN] = "origin",
  [CAP_DROP_ROOM] = "room",
  [CAP_DROP_PER_IP] = "per_ip",
  [CAP_DROP_RATE] = "rate",
  [CAP_DROP_TOO_BIG] = "too_big",
  [CAP_DROP_MALFORMED] = "malformed",
  [CAP_DROP_ROOM_FULL] = "room_full",
  [CAP_DROP_SLOW_VIEWER] = "slow_viewer",
  [CAP_DROP_HEARTBEAT] = "heartbeat",
  [CAP_DROP_STORE] = "store",
  [CAP_DROP_SHUTDOWN] = "shutdown",
};

void
cap_metrics_observe_fanout (CapMetrics * m, gdouble seconds)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fanout_bounds); i++)
    if (seconds <= fanout_bounds[i])
      m->fanout_buckets[i]++;
  m->fanout_count++;
  m->fanout_sum += seconds;
}

static void
render_redis (GString * s, const CapMetrics * m)
{
  g_string_append_printf (s,
      "# HELP stt_caption_redis_up 1 while connected to Redis (--redis).\n"
      "# TYPE stt_caption_redis_up gauge\n"
      "stt_caption_redis_up %d\n"
      "# HELP stt_caption_redis_messages_total Captions sent to and received "
      "from Redis.\n"
      "# TYPE stt_caption_redis_messages_total counter\n"
      "stt_caption_redis_messages_total{direction=\"out\"} %" G_GUINT64_FORMAT
      "\n"
      "stt_caption_redis_messages_total{direction=\"in\"} %" G_GUINT64_FORMAT
      "\n", m->redis_up ? 1 : 0, m->redis_out, m->redis_in);
  g_string_append_printf (s,
      "# HELP stt_caption_redis_reconnects_total Connections to Redis made "
      "again after losing it.\n"
      "# TYPE stt_caption_redis_reconnects_total counter\n"
      "stt_caption_redis_reconnects_total %" G_GUINT64_FORMAT "\n"
      "# HELP stt_caption_redis_unshared_total Finals stored here while Redis "
      "was down: no other server gets them.\n"
      "# TYPE stt_caption_redis_unshared_total counter\n"
      "stt_caption_redis_unshared_total %" G_GUINT64_FORMAT "\n"
      "# HELP stt_caption_redis_missed_total Room ids this server never "
      "received (not in Redis' history when it caught up).\n"
      "# TYPE stt_caption_redis_missed_total counter\n"
      "stt_caption_redis_missed_total %" G_GUINT64_FORMAT "\n",
      m->redis_reconnects, m->redis_unshared, m->redis_missed);
}

gchar *
cap_metrics_render (const CapMetrics * m, guint publishers, guint viewers,
    guint rooms)
{
  GString *s = g_string_new (NULL);
  guint i;

  g_string_append_printf (s,
      "# HELP stt_caption_connections Open WebSocket connections.\n"
      "# TYPE stt_caption_connections gauge\n"
      "stt_caption_connections{role=\"publisher\"} %u\n"
      "stt_caption_connections{role=\"viewer\"} %u\n"
      "# HELP stt_caption_rooms Rooms held in memory.\n"
      "# TYPE stt_caption_rooms gauge\n"
      "stt_caption_rooms %u\n", publishers, viewers, rooms);
  g_string_append_printf (s,
      "# HELP stt_caption_messages_in_total Messages received from clients.\n"
      "# TYPE stt_caption_messages_in_total counter\n"
      "stt_caption_messages_in_total %" G_GUINT64_FORMAT "\n"
      "# HELP stt_caption_messages_out_total Messages queued to clients.\n"
      "# TYPE stt_caption_messages_out_total counter\n"
      "stt_caption_messages_out_total %" G_GUINT64_FORMAT "\n",
      cap_metrics_get (&m->messages_in), cap_metrics_get (&m->messages_out));

  g_string_append (s, "# HELP stt_caption_drops_total Messages and "
      "connections dropped, by reason.\n"
      "# TYPE stt_caption_drops_total counter\n");
  for (i = 0; i < CAP_N_DROPS; i++)
    g_string_append_printf (s, "stt_caption_drops_total{reason=\"%s\"} %"
        G_GUINT64_FORMAT "\n", drop_names[i], cap_metrics_get (&m->drops[i]));

  g_string_append (s, "# HELP stt_caption_fanout_seconds Time from a final's "
      "arrival to its frames being queued to every viewer.\n"
      "# TYPE stt_caption_fanout_seconds histogram\n");
  for (i = 0; i < G_N_ELEMENTS (fanout_bounds); i++) {
    g_string_append (s, "stt_caption_fanout_seconds_bucket{le=\"");
    cap_json_append_double (s, fanout_bounds[i]);
    g_string_append_printf (s, "\"} %" G_GUINT64_FORMAT "\n",
        m->fanout_buckets[i]);
  }
  g_string_append_printf (s, "stt_caption_fanout_seconds_bucket{le=\"+Inf\"} %"
      G_GUINT64_FORMAT "\n", m->fanout_count);
  g_string_append (s, "stt_caption_fanout_seconds_sum ");
  cap_json_append_double (s, m->fanout_sum);
  g_string_append_printf (s, "\nstt_caption_fanout_seconds_count %"
      G_GUINT64_FORMAT "\n", m->fanout_count);
  if (m->redis)
    render_redis (s, m);
  return g_string_free (s, FALSE);
}
