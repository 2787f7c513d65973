/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttRing: the replay ring. Holds every wire-format sample after the committed point
 * (the end of the last final result), addressed by stream sample position, so a new
 * connection can replay what the service has not yet turned into finals.
 * Thread-safe: the streaming thread writes, the I/O thread reads and commits. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstSttRing GstSttRing;

GstSttRing *gst_stt_ring_new (guint bytes_per_sample, guint64 capacity_samples);
void gst_stt_ring_free (GstSttRing * ring);

/* Appends @n samples. When the ring is full: with @block, waits for room (returns FALSE
 * if set flushing meanwhile); without, drops the oldest samples and adds their count to
 * *@dropped. @arrival is the monotonic time the audio reached the element. */
gboolean gst_stt_ring_write (GstSttRing * ring, const guint8 * data, gsize n,
    gboolean block, gint64 arrival, guint64 * dropped);

/* Copies up to @max samples from stream position *@pos into @dest. If *@pos is older
 * than the ring's start (dropped), it is moved to the start first. Returns the count. */
gsize gst_stt_ring_read (GstSttRing * ring, guint64 * pos, guint8 * dest, gsize max);

/* Releases every sample before @pos (clamped to what was written). */
void gst_stt_ring_commit (GstSttRing * ring, guint64 pos);

/* Start (oldest kept) and end (next to be written) positions. */
void gst_stt_ring_get_range (GstSttRing * ring, guint64 * start, guint64 * end);
gboolean gst_stt_ring_is_full (GstSttRing * ring);
/* The most samples it holds (fixed at creation). */
guint64 gst_stt_ring_get_capacity (GstSttRing * ring);
/* Monotonic arrival time of the audio at @pos, or -1 if unknown. */
gint64 gst_stt_ring_get_arrival (GstSttRing * ring, guint64 pos);

/* Wakes and fails blocked writers while @flushing. */
void gst_stt_ring_set_flushing (GstSttRing * ring, gboolean flushing);

G_END_DECLS
