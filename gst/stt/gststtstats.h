/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttStats: a stream's counters and latency histograms, for `stt-stats`.
 * Thread-safe (its own lock). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  GST_STT_STAT_SAMPLES_SENT,
  GST_STT_STAT_BYTES_SENT,
  GST_STT_STAT_MESSAGES_IN,
  GST_STT_STAT_MESSAGES_OUT,
  GST_STT_STAT_CONNECTIONS,
  GST_STT_STAT_RECONNECTS,
  GST_STT_STAT_SAMPLES_DROPPED,
  GST_STT_STAT_SAMPLES_REPLAYED,
  GST_STT_STAT_DISCONNECTED_NS,
  GST_STT_STAT_MALFORMED,
  GST_STT_STAT_LATE_RESULTS,
  /* Audio that reached the element and that the service never transcribed. */
  GST_STT_STAT_SAMPLES_UNTRANSCRIBED,
  /* Audio the replay ring let go into the spool instead of dropping it. */
  GST_STT_STAT_SAMPLES_SPOOLED,
  /* Switches from one provider to another (backups). */
  GST_STT_STAT_FAILOVERS,
  GST_STT_STAT_LAST
} GstSttStat;

typedef enum
{
  GST_STT_HIST_SEND_DELAY,
  GST_STT_HIST_RESULT_LATENCY,
  GST_STT_HIST_LAST
} GstSttHist;

typedef struct _GstSttStats GstSttStats;

GstSttStats *gst_stt_stats_new (void);
void gst_stt_stats_free (GstSttStats * stats);
void gst_stt_stats_reset (GstSttStats * stats);
void gst_stt_stats_add (GstSttStats * stats, GstSttStat stat, guint64 value);
guint64 gst_stt_stats_get (GstSttStats * stats, GstSttStat stat);
/* Audio @provider transcribed (committed while it was the active one), in samples. */
void gst_stt_stats_add_carried (GstSttStats * stats, const gchar * provider,
    guint64 samples);
/* Records one observation of @hist, in nanoseconds. */
void gst_stt_stats_observe (GstSttStats * stats, GstSttHist hist, GstClockTime value);
/* Percentile @p (0..100) of @hist, or NONE with no observation. */
GstClockTime gst_stt_stats_percentile (GstSttStats * stats, GstSttHist hist, gdouble p);

/* The `stt-stats` structure (schema 1); sample counts are turned into time at @rate. */
GstStructure *gst_stt_stats_to_structure (GstSttStats * stats, const gchar * provider,
    guint rate);

G_END_DECLS
