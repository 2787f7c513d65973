/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttRing: the replay ring. Holds every wire-format sample after the committed point
 * (the end of the last final result), addressed by stream sample position, so a new
 * connection can replay what the service has not yet turned into finals.
 * Thread-safe: the streaming thread writes, the I/O thread reads and commits. */
#pragma once

#include <gst/gst.h>

#include "gststtspool.h"

G_BEGIN_DECLS

typedef struct _GstSttRing GstSttRing;

GstSttRing *gst_stt_ring_new (guint bytes_per_sample, guint64 capacity_samples);
void gst_stt_ring_free (GstSttRing * ring);

/* Allocates the whole capacity now instead of growing on demand (each growth copies
 * what is held into fresh memory). For a stream known to fill the ring: non-live input
 * read faster than the service. Pages are only touched as audio is written. */
void gst_stt_ring_reserve (GstSttRing * ring);

/* Gives the ring a spool (taken): what it lets go when full is kept there instead of
 * dropped, and still read and committed through the ring. */
void gst_stt_ring_set_spool (GstSttRing * ring, GstSttSpool * spool);
GstSttSpool *gst_stt_ring_get_spool (GstSttRing * ring);

/* Appends @n samples. When the ring is full: with @block, waits for room (returns FALSE
 * if set flushing meanwhile); without, lets the oldest samples go: into the spool if
 * there is one that takes them (their count added to *@spooled), else dropped (added to
 * *@dropped). @arrival is the monotonic time the audio reached the element. */
gboolean gst_stt_ring_write (GstSttRing * ring, const guint8 * data, gsize n,
    gboolean block, gint64 arrival, guint64 * dropped, guint64 * spooled);

/* Copies up to @max samples from stream position *@pos into @dest (from the spool for
 * what it holds). If *@pos is older than the start (dropped), it is moved to the start
 * first. Returns the count. */
gsize gst_stt_ring_read (GstSttRing * ring, guint64 * pos, guint8 * dest, gsize max);

/* Releases every sample before @pos (clamped to what was written), the spool's too,
 * unless a keep holds it. */
void gst_stt_ring_commit (GstSttRing * ring, guint64 pos);

/* Keeps the samples from @from on even once committed, for a revision (a second
 * transcription of audio already accounted for); G_MAXUINT64 stops keeping. Kept audio
 * goes to the spool when room is needed, and is let go when it does not fit there: that
 * is no loss (it was transcribed), and never waits: the newest audio comes first. */
void gst_stt_ring_keep (GstSttRing * ring, guint64 from);

/* Start (oldest kept, in the spool or in memory) and end (next to be written)
 * positions. */
void gst_stt_ring_get_range (GstSttRing * ring, guint64 * start, guint64 * end);
gboolean gst_stt_ring_is_full (GstSttRing * ring);
/* The most samples it holds (fixed at creation). */
guint64 gst_stt_ring_get_capacity (GstSttRing * ring);
/* Monotonic arrival time of the audio at @pos, or -1 if unknown. */
gint64 gst_stt_ring_get_arrival (GstSttRing * ring, guint64 pos);

/* Wakes and fails blocked writers while @flushing. */
void gst_stt_ring_set_flushing (GstSttRing * ring, gboolean flushing);

G_END_DECLS
