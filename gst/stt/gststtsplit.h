/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtsplit.h: the boundary between two sessions that transcribe the two sides of a
 * split point S at once: a second session (the backlog, or a max-lag revision) the
 * audio before S, the live session the audio after it. Each hears some audio past S on
 * the other's side, and each has its own recognition of a word near S: their times of
 * one word differ by a few milliseconds, so "the word's middle against S", decided by
 * each alone, can give that word to both (doubled) or to neither (lost). Whichever
 * session decides first fixes the boundary for the other:
 * - the live session's first word it keeps: the second session keeps only what lies
 *   before that word's start;
 * - the second session's last word it keeps: the live session keeps only what lies
 *   after that word's end; once the second session has given a word up to the live
 *   session (its middle past S), the live session keeps everything after that end;
 * - a word the live session gave up to the second session (its middle before S): the
 *   second session keeps it, even if it puts that word's middle a little past S.
 * Pure functions of stream positions (samples), unit-tested in test-engine. */
#ifndef __GST_STT_SPLIT_H__
#define __GST_STT_SPLIT_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 at;                   /* S; G_MAXUINT64: no split */
  guint64 child_end;            /* the end of the second session's last word; 0: none */
  gboolean crossed;             /* the second session gave a word up (middle past S) */
  guint64 live_start;           /* the start of the live session's first word past the
                                 * boundary; G_MAXUINT64: none yet */
  guint64 live_gave_end;        /* the end of the last word it gave up; 0: none */
} GstSttSplit;

/* A split at @at (G_MAXUINT64: none). */
void gst_stt_split_init (GstSttSplit * b, guint64 at);
gboolean gst_stt_split_active (const GstSttSplit * b);
/* The live session drops its words whose middle lies before this (0: none). */
guint64 gst_stt_split_live_floor (const GstSttSplit * b);
/* The second session drops its words whose middle lies at or after this. */
guint64 gst_stt_split_child_end (const GstSttSplit * b);
/* A final of the second session kept words up to @words_end (G_MAXUINT64: it kept
 * none) and gave words up past the boundary if @crossed. */
void gst_stt_split_child_final (GstSttSplit * b, guint64 words_end, gboolean crossed);
/* A final of the live session, with the floor from gst_stt_split_live_floor, kept words
 * from @words_start on (G_MAXUINT64: none) and dropped words up to @dropped_end
 * (G_MAXUINT64: none). TRUE if that moved the second session's end
 * (gst_stt_split_child_end). */
gboolean gst_stt_split_live_final (GstSttSplit * b, guint64 words_start,
    guint64 dropped_end);

G_END_DECLS
#endif /* __GST_STT_SPLIT_H__ */
