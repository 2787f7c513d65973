/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststttimeline.c: stream sample positions to input time, across DISCONTs and gaps.
 * The service sees the audio without gaps; the anchors put the gaps back in. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststttimeline.h"

/* Like audio sinks' default alignment threshold: smaller drifts are jitter. */
#define ALIGNMENT_THRESHOLD (40 * GST_MSECOND)

typedef struct
{
  guint64 pos;
  GstClockTime time;
} Anchor;

struct _GstSttTimeline
{
  GMutex lock;
  guint rate;
  GArray *anchors;              /* Anchor, ascending pos */
};

GstSttTimeline *
gst_stt_timeline_new (guint rate)
{
  GstSttTimeline *tl = g_new0 (GstSttTimeline, 1);

  g_mutex_init (&tl->lock);
  tl->rate = rate;
  tl->anchors = g_array_new (FALSE, FALSE, sizeof (Anchor));
  return tl;
}

void
gst_stt_timeline_free (GstSttTimeline * tl)
{
  if (tl == NULL)
    return;
  g_mutex_clear (&tl->lock);
  g_array_unref (tl->anchors);
  g_free (tl);
}

void
gst_stt_timeline_reset (GstSttTimeline * tl)
{
  g_mutex_lock (&tl->lock);
  g_array_set_size (tl->anchors, 0);
  g_mutex_unlock (&tl->lock);
}

/* Call with the lock held. */
static GstClockTime
map_locked (GstSttTimeline * tl, guint64 pos)
{
  guint lo = 0, hi = tl->anchors->len;
  Anchor *a;

  if (hi == 0)
    return GST_CLOCK_TIME_NONE;
  /* The last anchor at or before @pos; positions before the first use the first. */
  while (hi - lo > 1) {
    guint mid = (lo + hi) / 2;
    if (g_array_index (tl->anchors, Anchor, mid).pos <= pos)
      lo = mid;
    else
      hi = mid;
  }
  a = &g_array_index (tl->anchors, Anchor, lo);
  if (pos >= a->pos)
    return a->time + gst_util_uint64_scale_int (pos - a->pos, GST_SECOND, tl->rate);
  else {
    GstClockTime back = gst_util_uint64_scale_int (a->pos - pos, GST_SECOND, tl->rate);
    return a->time > back ? a->time - back : 0;
  }
}

gboolean
gst_stt_timeline_observe (GstSttTimeline * tl, guint64 pos, GstClockTime pts,
    gboolean discont)
{
  gboolean add = FALSE;

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return FALSE;
  g_mutex_lock (&tl->lock);
  if (tl->anchors->len == 0) {
    add = TRUE;
  } else {
    GstClockTime expected = map_locked (tl, pos);
    GstClockTimeDiff diff = GST_CLOCK_DIFF (expected, pts);

    /* A DISCONT alone is no reason for a new anchor (nor for anything else): only a
     * timestamp that really moved is. */
    if (ABS (diff) > (discont ? GST_MSECOND : ALIGNMENT_THRESHOLD))
      add = TRUE;
  }
  if (add) {
    Anchor a = { pos, pts };
    Anchor *last = tl->anchors->len ?
        &g_array_index (tl->anchors, Anchor, tl->anchors->len - 1) : NULL;

    if (last && last->pos == pos)
      last->time = pts;
    else
      g_array_append_val (tl->anchors, a);
  }
  g_mutex_unlock (&tl->lock);
  return add;
}

GstClockTime
gst_stt_timeline_to_time (GstSttTimeline * tl, guint64 pos)
{
  GstClockTime t;

  g_mutex_lock (&tl->lock);
  t = map_locked (tl, pos);
  g_mutex_unlock (&tl->lock);
  return t;
}

void
gst_stt_timeline_prune (GstSttTimeline * tl, guint64 pos)
{
  guint i = 0;

  g_mutex_lock (&tl->lock);
  while (i + 1 < tl->anchors->len
      && g_array_index (tl->anchors, Anchor, i + 1).pos <= pos)
    i++;
  if (i > 0)
    g_array_remove_range (tl->anchors, 0, i);
  g_mutex_unlock (&tl->lock);
}

guint
gst_stt_timeline_get_n_anchors (GstSttTimeline * tl)
{
  guint n;

  g_mutex_lock (&tl->lock);
  n = tl->anchors->len;
  g_mutex_unlock (&tl->lock);
  return n;
}
