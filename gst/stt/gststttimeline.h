/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttTimeline: maps stream sample positions (wire rate, counted since the element
 * started) to the input's time domain, through anchors recorded as buffers arrived:
 * the first timestamp, then every DISCONT or timestamp jump.
 * Thread-safe: the streaming thread records, the I/O thread maps. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstSttTimeline GstSttTimeline;

GstSttTimeline *gst_stt_timeline_new (guint rate);
void gst_stt_timeline_free (GstSttTimeline * tl);
void gst_stt_timeline_reset (GstSttTimeline * tl);

/* A buffer whose first wire sample is @pos arrived with @pts (may be NONE).
 * A new anchor is recorded when @discont and the time is off, or the time is off by more
 * than the alignment threshold (40 ms). Returns TRUE if it recorded one. */
gboolean gst_stt_timeline_observe (GstSttTimeline * tl, guint64 pos, GstClockTime pts,
    gboolean discont);
/* Input time of stream sample @pos, or NONE before the first timestamp. */
GstClockTime gst_stt_timeline_to_time (GstSttTimeline * tl, guint64 pos);
/* Forgets anchors wholly before @pos (keeps the one covering it). */
void gst_stt_timeline_prune (GstSttTimeline * tl, guint64 pos);
guint gst_stt_timeline_get_n_anchors (GstSttTimeline * tl);

G_END_DECLS
