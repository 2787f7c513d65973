/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttSpool: audio the replay ring had to let go (live input during a long outage),
 * kept on disk instead of being dropped, to be sent when the service returns.
 *
 * A bounded file used as a circular buffer addressed by stream position: it holds the
 * newest @max_bytes of what was appended, contiguous, so what the ring and the spool
 * hold together is always one stretch [spool start, ring end). Appending only queues:
 * the file is written by the spool's own thread, never by the caller (the streaming
 * thread of a live source); that thread and the file are created when the first audio
 * comes (a stream whose ring never overflows costs neither), the file in @dir, and
 * removed once everything in it is released (accounted for) or the spool is freed. A
 * write error (disk full, a bad directory) breaks the spool for good: it then holds
 * nothing, takes nothing, and says why. Thread-safe. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstSttSpool GstSttSpool;

/* @dir: where the file goes (created if missing); @max_bytes > 0. */
GstSttSpool *gst_stt_spool_new (const gchar * dir, guint64 max_bytes, guint bytes_per_sample);
/* Stops the writer, removes the file. NULL-safe. */
void gst_stt_spool_free (GstSttSpool * spool);

/* Queues @n samples at stream position @pos, which must follow what was appended before
 * (or start anew once everything was released). FALSE if the spool is broken (nothing
 * queued). */
gboolean gst_stt_spool_append (GstSttSpool * spool, guint64 pos, const guint8 * data,
    gsize n);
/* What it holds: [*start, *end); start == end when nothing (or broken). */
void gst_stt_spool_get_range (GstSttSpool * spool, guint64 * start, guint64 * end);
/* Copies up to @max samples from @pos (inside the range) into @dest, waiting for the
 * writer to have written them. Returns the count (0 outside the range or broken). */
gsize gst_stt_spool_read (GstSttSpool * spool, guint64 pos, guint8 * dest, gsize max);
/* Everything before @pos is accounted for; once that is all of it, the file goes. */
void gst_stt_spool_release (GstSttSpool * spool, guint64 pos);
/* Why the spool broke (a copy, free it), or NULL. */
gchar *gst_stt_spool_get_error (GstSttSpool * spool);
/* The directory it writes in. */
const gchar *gst_stt_spool_get_dir (GstSttSpool * spool);

G_END_DECLS
