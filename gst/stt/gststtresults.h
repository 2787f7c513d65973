/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtresults.h: from the provider's times to stream positions to transcript messages.
 * It keeps what that takes, for one stream: where, within a connection, audio was
 * skipped (map points), when each chunk left (send marks, for the latency and for how
 * far the service is vouched to have heard), and the segments the service has open
 * (its keys to our ids and revisions). It commits nothing and calls nobody: the session
 * hands the messages on and moves the committed point. */
#pragma once

#include <gst/gst.h>

#include "sttprovider.h"
#include "gststttimeline.h"
#include "gststtstats.h"

G_BEGIN_DECLS

typedef struct _GstSttResults GstSttResults;

/* @timeline and @stats must outlive it; @log_object is for debug output only. */
/* The provider named in the messages from now on (after a failover). */
void gst_stt_results_set_provider (GstSttResults * r, const gchar * provider_name);
GstSttResults *gst_stt_results_new (guint rate, const gchar * provider_name,
    GstSttTimeline * timeline, GstSttStats * stats, GstObject * log_object);
void gst_stt_results_free (GstSttResults * r);
/* A live backlog's session: words whose middle lies at or after stream position @pos
 * are dropped (the live edge's session has them). */
void gst_stt_results_set_range_end (GstSttResults * r, guint64 pos);
/* Whether the end of the audio, or a finalize, was sent on this connection: then a
 * final that reaches the edge of what was sent covers all of it (otherwise its last
 * EDGE_MS are done with only where a word of it lies: a word may be starting there). */
void gst_stt_results_set_sealed (GstSttResults * r, gboolean sealed);
/* Segment ids from @id on (a second session's, apart from the first's). */
void gst_stt_results_set_first_segment_id (GstSttResults * r, guint64 id);

/* A new service session: its time origin (connection sample 0) is stream position
 * @base. */
void gst_stt_results_new_origin (GstSttResults * r, guint64 base);
/* The ring dropped audio not yet sent: connection sample @conn is stream position
 * @stream. */
void gst_stt_results_add_seam (GstSttResults * r, guint64 conn, guint64 stream);
/* Where connection sample @c lies in the stream. */
guint64 gst_stt_results_conn_to_stream (GstSttResults * r, guint64 c);
/* Stream position of a provider time, clamped to the @conn_sent samples the
 * connection was sent (a result can only speak of audio it was sent). */
guint64 gst_stt_results_seconds_to_stream (GstSttResults * r, gdouble t,
    guint64 conn_sent);

/* A chunk ending at stream position @end left at monotonic time @sent. */
void gst_stt_results_mark_sent (GstSttResults * r, guint64 end, gint64 sent);
/* How far the service is vouched to have heard: the end of the last chunk sent at or
 * before @horizon (G_MININT64: no such word), or the end of its results if further, but
 * never past the start of a segment it still has open. */
guint64 gst_stt_results_vouched (GstSttResults * r, gint64 horizon);
/* The connection is gone: its send marks, what it heard and its keyed segments go (the
 * open keyless segment goes on, so its replayed partials and final keep its id). */
void gst_stt_results_end_connection (GstSttResults * r);
/* The committed point moved to @pos: segments that started before it and send marks
 * before it (but one) are forgotten. */
void gst_stt_results_commit (GstSttResults * r, guint64 pos);
guint gst_stt_results_open_segments (GstSttResults * r);

typedef struct
{
  gboolean is_final;
  GstStructure *msg;            /* the transcript (taken by the caller); NULL: none */
  GstClockTime pts;
  GstClockTime duration;
  guint64 done;                 /* a final: commit up to here */
  /* Where the words kept lie in the stream: the first's start, the last's end
   * (G_MAXUINT64: none kept). */
  guint64 words_start;
  guint64 words_end;
  guint64 trimmed_end;          /* the end of the last word dropped before the committed
                                 * point; G_MAXUINT64: none */
  gboolean past_range;          /* words were dropped past the range end */
} GstSttMapped;

/* Maps @result (on connection @connection, @conn_sent samples sent on it, the stream
 * sent up to @send_pos, committed up to @committed) at monotonic time @now. FALSE: a
 * partial with nothing to say. A final always returns TRUE: its msg is NULL when all of
 * its words were emitted before, and the audio up to @done is done with anyway. */
gboolean gst_stt_results_map (GstSttResults * r, SttResult * result, guint connection,
    guint64 conn_sent, guint64 send_pos, guint64 committed, gint64 now,
    GstSttMapped * out);

G_END_DECLS
