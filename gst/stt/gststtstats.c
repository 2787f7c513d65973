/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtstats.c: counters and log-scale histograms (about 19% per bucket), cheap enough
 * to update on every frame of every stream. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "gststtstats.h"
#include "gststtmessage.h"

/* Buckets of microseconds: bucket b holds values v with floor(4 * log2(v + 1)) == b. */
#define N_BUCKETS 160

struct _GstSttStats
{
  GMutex lock;
  guint64 counters[GST_STT_STAT_LAST];
  guint64 hist[GST_STT_HIST_LAST][N_BUCKETS];
  guint64 hist_count[GST_STT_HIST_LAST];
  GArray *carried;              /* Carried, by provider, in the order first seen */
};

typedef struct
{
  const gchar *provider;        /* interned */
  guint64 samples;
} Carried;

GstSttStats *
gst_stt_stats_new (void)
{
  GstSttStats *s = g_new0 (GstSttStats, 1);

  g_mutex_init (&s->lock);
  return s;
}

void
gst_stt_stats_free (GstSttStats * stats)
{
  if (stats == NULL)
    return;
  g_mutex_clear (&stats->lock);
  if (stats->carried)
    g_array_unref (stats->carried);
  g_free (stats);
}

void
gst_stt_stats_reset (GstSttStats * stats)
{
  g_mutex_lock (&stats->lock);
  memset (stats->counters, 0, sizeof (stats->counters));
  memset (stats->hist, 0, sizeof (stats->hist));
  memset (stats->hist_count, 0, sizeof (stats->hist_count));
  if (stats->carried)
    g_array_set_size (stats->carried, 0);
  g_mutex_unlock (&stats->lock);
}

void
gst_stt_stats_add_carried (GstSttStats * stats, const gchar * provider, guint64 samples)
{
  const gchar *name = g_intern_string (provider);
  guint i;

  g_mutex_lock (&stats->lock);
  if (stats->carried == NULL)
    stats->carried = g_array_new (FALSE, TRUE, sizeof (Carried));
  for (i = 0; i < stats->carried->len; i++)
    if (g_array_index (stats->carried, Carried, i).provider == name)
      break;
  if (i == stats->carried->len) {
    Carried c = { name, 0 };
    g_array_append_val (stats->carried, c);
  }
  g_array_index (stats->carried, Carried, i).samples += samples;
  g_mutex_unlock (&stats->lock);
}

void
gst_stt_stats_add (GstSttStats * stats, GstSttStat stat, guint64 value)
{
  g_mutex_lock (&stats->lock);
  stats->counters[stat] += value;
  g_mutex_unlock (&stats->lock);
}

guint64
gst_stt_stats_get (GstSttStats * stats, GstSttStat stat)
{
  guint64 v;

  g_mutex_lock (&stats->lock);
  v = stats->counters[stat];
  g_mutex_unlock (&stats->lock);
  return v;
}

void
gst_stt_stats_observe (GstSttStats * stats, GstSttHist hist, GstClockTime value)
{
  guint64 us = value / GST_USECOND;
  guint b = (guint) floor (4.0 * log2 ((gdouble) us + 1.0));

  b = MIN (b, N_BUCKETS - 1);
  g_mutex_lock (&stats->lock);
  stats->hist[hist][b]++;
  stats->hist_count[hist]++;
  g_mutex_unlock (&stats->lock);
}

/* Call with the lock held. */
static GstClockTime
percentile_locked (GstSttStats * stats, GstSttHist hist, gdouble p)
{
  guint64 total = stats->hist_count[hist], seen = 0, want;
  guint b;

  if (total == 0)
    return GST_CLOCK_TIME_NONE;
  want = (guint64) ceil (total * p / 100.0);
  want = MAX (want, 1);
  for (b = 0; b < N_BUCKETS; b++) {
    seen += stats->hist[hist][b];
    if (seen >= want)
      break;
  }
  /* The bucket's upper bound: a percentile never reads better than it was. */
  return (GstClockTime) ((exp2 ((b + 1) / 4.0) - 1.0) * GST_USECOND);
}

GstClockTime
gst_stt_stats_percentile (GstSttStats * stats, GstSttHist hist, gdouble p)
{
  GstClockTime t;

  g_mutex_lock (&stats->lock);
  t = percentile_locked (stats, hist, p);
  g_mutex_unlock (&stats->lock);
  return t;
}

static GstClockTime
samples_to_time (guint64 n, guint rate)
{
  return gst_util_uint64_scale_int (n, GST_SECOND, rate);
}

GstStructure *
gst_stt_stats_to_structure (GstSttStats * stats, const gchar * provider, guint rate)
{
  GstStructure *s;
  guint64 c[GST_STT_STAT_LAST];
  GstClockTime sd[3], rl[3];
  static const gdouble ps[3] = { 50, 95, 99 };
  guint i;

  g_mutex_lock (&stats->lock);
  memcpy (c, stats->counters, sizeof (c));
  for (i = 0; i < 3; i++) {
    sd[i] = percentile_locked (stats, GST_STT_HIST_SEND_DELAY, ps[i]);
    rl[i] = percentile_locked (stats, GST_STT_HIST_RESULT_LATENCY, ps[i]);
  }
  g_mutex_unlock (&stats->lock);

  s = gst_structure_new (GST_STT_MESSAGE_STATS,
      "schema", G_TYPE_UINT, GST_STT_SCHEMA_VERSION,
      "provider", G_TYPE_STRING, provider,
      "audio-sent", GST_TYPE_CLOCK_TIME, samples_to_time (c[GST_STT_STAT_SAMPLES_SENT], rate),
      "bytes-sent", G_TYPE_UINT64, c[GST_STT_STAT_BYTES_SENT],
      "messages-in", G_TYPE_UINT64, c[GST_STT_STAT_MESSAGES_IN],
      "messages-out", G_TYPE_UINT64, c[GST_STT_STAT_MESSAGES_OUT],
      "connections", G_TYPE_UINT64, c[GST_STT_STAT_CONNECTIONS],
      "reconnects", G_TYPE_UINT64, c[GST_STT_STAT_RECONNECTS],
      "time-disconnected", GST_TYPE_CLOCK_TIME, c[GST_STT_STAT_DISCONNECTED_NS],
      "audio-dropped", GST_TYPE_CLOCK_TIME,
      samples_to_time (c[GST_STT_STAT_SAMPLES_DROPPED], rate),
      "audio-replayed", GST_TYPE_CLOCK_TIME,
      samples_to_time (c[GST_STT_STAT_SAMPLES_REPLAYED], rate),
      "malformed-messages", G_TYPE_UINT64, c[GST_STT_STAT_MALFORMED],
      "late-results", G_TYPE_UINT64, c[GST_STT_STAT_LATE_RESULTS],
      "audio-untranscribed", GST_TYPE_CLOCK_TIME,
      samples_to_time (c[GST_STT_STAT_SAMPLES_UNTRANSCRIBED], rate),
      "send-delay-p50", GST_TYPE_CLOCK_TIME, sd[0],
      "send-delay-p95", GST_TYPE_CLOCK_TIME, sd[1],
      "send-delay-p99", GST_TYPE_CLOCK_TIME, sd[2],
      "latency-p50", GST_TYPE_CLOCK_TIME, rl[0],
      "latency-p95", GST_TYPE_CLOCK_TIME, rl[1],
      "latency-p99", GST_TYPE_CLOCK_TIME, rl[2],
      "failovers", G_TYPE_UINT64, c[GST_STT_STAT_FAILOVERS],
      "audio-spooled", GST_TYPE_CLOCK_TIME,
      samples_to_time (c[GST_STT_STAT_SAMPLES_SPOOLED], rate), NULL);
  /* Audio transcribed by each provider, once more than one has worked. */
  g_mutex_lock (&stats->lock);
  if (stats->carried && stats->carried->len > 1) {
    GstStructure *by = gst_structure_new_empty ("audio-by-provider");
    GValue v = G_VALUE_INIT;

    for (i = 0; i < stats->carried->len; i++) {
      Carried *cr = &g_array_index (stats->carried, Carried, i);

      gst_structure_set (by, cr->provider, GST_TYPE_CLOCK_TIME,
          samples_to_time (cr->samples, rate), NULL);
    }
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, by);
    gst_structure_take_value (s, "audio-by-provider", &v);
  }
  g_mutex_unlock (&stats->lock);
  return s;
}
