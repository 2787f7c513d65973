/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtsplit.c: the boundary between a live session and a second session on either
 * side of a split point (see gststtsplit.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtsplit.h"

void
gst_stt_split_init (GstSttSplit * b, guint64 at)
{
  b->at = at;
  b->child_end = 0;
  b->crossed = FALSE;
  b->live_start = G_MAXUINT64;
  b->live_gave_end = 0;
}

gboolean
gst_stt_split_active (const GstSttSplit * b)
{
  return b->at != G_MAXUINT64;
}

guint64
gst_stt_split_live_floor (const GstSttSplit * b)
{
  if (!gst_stt_split_active (b))
    return 0;
  /* Decided: everything after its first word is its own. */
  if (b->live_start != G_MAXUINT64)
    return b->live_start;
  /* The second session gave a word up: whatever lies after its last word is the live
   * session's, even a word whose middle the live session puts a little before S. */
  if (b->crossed)
    return b->child_end;
  /* Otherwise from S, but never a word whose middle lies inside a word the second
   * session already gave (one that ends past S). */
  return MAX (b->at, b->child_end);
}

guint64
gst_stt_split_child_end (const GstSttSplit * b)
{
  if (!gst_stt_split_active (b))
    return G_MAXUINT64;
  /* The live session's first word, and whatever follows, are its own; a word before it
   * is the second session's even if its middle lies a little past S. */
  if (b->live_start != G_MAXUINT64)
    return b->live_start;
  /* Otherwise up to S, and every word the live session gave up. */
  return MAX (b->at, b->live_gave_end);
}

void
gst_stt_split_child_final (GstSttSplit * b, guint64 words_end, gboolean crossed)
{
  if (words_end != G_MAXUINT64)
    b->child_end = MAX (b->child_end, words_end);
  b->crossed |= crossed;
}

gboolean
gst_stt_split_live_final (GstSttSplit * b, guint64 words_start, guint64 dropped_end)
{
  guint64 before = gst_stt_split_child_end (b);

  if (!gst_stt_split_active (b) || b->live_start != G_MAXUINT64)
    return FALSE;
  if (dropped_end != G_MAXUINT64)
    b->live_gave_end = MAX (b->live_gave_end, dropped_end);
  if (words_start != G_MAXUINT64)
    b->live_start = words_start;
  return gst_stt_split_child_end (b) != before;
}
