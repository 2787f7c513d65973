/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtring.c: the replay ring, a circular byte buffer that grows on demand up to its
 * capacity, so a stream that commits often costs only a few seconds of memory. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtring.h"

typedef struct
{
  guint64 end;                  /* stream position after the write */
  gint64 arrival;
} Arrival;

struct _GstSttRing
{
  GMutex lock;
  GCond cond;
  guint bps;
  guint64 capacity;             /* samples */
  guint8 *data;
  guint64 alloc;                /* samples allocated */
  guint64 start, end;           /* stream positions held: [start, end) */
  guint64 committed;            /* released by the session: before it, kept only for a
                                 * revision, let go without loss when room is needed */
  guint64 keep;                 /* kept from here on for a revision; G_MAXUINT64: none */
  gboolean flushing;
  GArray *arrivals;             /* Arrival, ascending end */
  GstSttSpool *spool;           /* what was let go, before start; NULL: none */
};

GstSttRing *
gst_stt_ring_new (guint bytes_per_sample, guint64 capacity_samples)
{
  GstSttRing *ring = g_new0 (GstSttRing, 1);

  g_mutex_init (&ring->lock);
  g_cond_init (&ring->cond);
  ring->bps = bytes_per_sample;
  ring->capacity = MAX (capacity_samples, 1);
  ring->arrivals = g_array_new (FALSE, FALSE, sizeof (Arrival));
  ring->keep = G_MAXUINT64;
  return ring;
}

void
gst_stt_ring_free (GstSttRing * ring)
{
  if (ring == NULL)
    return;
  g_mutex_clear (&ring->lock);
  g_cond_clear (&ring->cond);
  g_free (ring->data);
  g_array_unref (ring->arrivals);
  gst_stt_spool_free (ring->spool);
  g_free (ring);
}

/* Copies between the ring and a linear buffer. Call with the lock held. */
static void
ring_copy (GstSttRing * ring, guint64 pos, guint8 * buf, gsize n, gboolean to_ring)
{
  guint64 off = pos % ring->alloc;
  gsize first = MIN (n, ring->alloc - off);
  guint8 *p = ring->data + off * ring->bps;

  if (to_ring) {
    memcpy (p, buf, first * ring->bps);
    memcpy (ring->data, buf + first * ring->bps, (n - first) * ring->bps);
  } else {
    memcpy (buf, p, first * ring->bps);
    memcpy (buf + first * ring->bps, ring->data, (n - first) * ring->bps);
  }
}

/* Grows the allocation to hold @need samples (at most the capacity): the samples held
 * are copied once, straight into the new allocation at their new offsets. Call with the
 * lock held. */
static void
ring_grow (GstSttRing * ring, guint64 need)
{
  guint64 alloc = MAX (ring->alloc, 16000);
  guint64 used = ring->end - ring->start;
  guint8 *old = ring->data;
  guint64 old_alloc = ring->alloc;

  while (alloc < need)
    alloc *= 2;
  alloc = MIN (alloc, ring->capacity);
  if (alloc <= ring->alloc)
    return;
  ring->data = g_malloc (alloc * ring->bps);
  ring->alloc = alloc;
  if (used) {
    guint64 off = ring->start % old_alloc;
    gsize first = MIN (used, old_alloc - off);

    ring_copy (ring, ring->start, old + off * ring->bps, first, TRUE);
    ring_copy (ring, ring->start + first, old, used - first, TRUE);
  }
  g_free (old);
}

static void
prune_arrivals (GstSttRing * ring)
{
  guint i = 0;

  /* Keep the entry that covers ring->start. */
  while (i < ring->arrivals->len && g_array_index (ring->arrivals, Arrival, i).end <=
      ring->start)
    i++;
  if (i > 0)
    g_array_remove_range (ring->arrivals, 0, i);
}

void
gst_stt_ring_reserve (GstSttRing * ring)
{
  g_mutex_lock (&ring->lock);
  ring_grow (ring, ring->capacity);
  g_mutex_unlock (&ring->lock);
}

void
gst_stt_ring_set_spool (GstSttRing * ring, GstSttSpool * spool)
{
  g_mutex_lock (&ring->lock);
  gst_stt_spool_free (ring->spool);
  ring->spool = spool;
  g_mutex_unlock (&ring->lock);
}

GstSttSpool *
gst_stt_ring_get_spool (GstSttRing * ring)
{
  return ring->spool;
}

/* Where the spool's stretch starts if it runs on into the memory's (no gap), else the
 * memory's start. Call with the lock held. */
static guint64
ring_start_locked (GstSttRing * ring)
{
  guint64 s, e;

  if (ring->spool == NULL)
    return ring->start;
  gst_stt_spool_get_range (ring->spool, &s, &e);
  return s < e && e == ring->start ? s : ring->start;
}

/* The oldest @n samples go: to the spool if it takes them. Call with the lock held. */
static void
let_go_locked (GstSttRing * ring, gsize n, guint64 * dropped, guint64 * spooled)
{
  gboolean kept = FALSE;

  if (ring->spool) {
    guint8 *tmp = g_malloc (n * ring->bps);

    ring_copy (ring, ring->start, tmp, n, FALSE);
    kept = gst_stt_spool_append (ring->spool, ring->start, tmp, n);
    g_free (tmp);
  }
  /* Audio before the committed point was only kept for a revision: not a loss. */
  if (!kept && dropped && ring->start + n > ring->committed)
    *dropped += ring->start + n - MAX (ring->start, ring->committed);
  ring->start += n;
  if (kept && spooled)
    *spooled += n;
}

gboolean
gst_stt_ring_write (GstSttRing * ring, const guint8 * data, gsize n, gboolean block,
    gint64 arrival, guint64 * dropped, guint64 * spooled)
{
  g_mutex_lock (&ring->lock);
  while (n > 0) {
    guint64 used = ring->end - ring->start;
    gsize room, chunk;

    if (used + n > ring->alloc && ring->alloc < ring->capacity)
      ring_grow (ring, used + n);
    room = ring->alloc - used;
    if (room == 0 && ring->start < ring->committed) {
      /* Full of audio kept only for a revision: the newest audio comes first. */
      chunk = MIN (n, ring->committed - ring->start);
      let_go_locked (ring, chunk, dropped, spooled);
      prune_arrivals (ring);
      continue;
    }
    if (room == 0) {
      if (block) {
        if (ring->flushing) {
          g_mutex_unlock (&ring->lock);
          return FALSE;
        }
        g_cond_wait (&ring->cond, &ring->lock);
        continue;
      }
      /* Live: the oldest audio goes, so that the newest can be kept. */
      chunk = MIN (n, ring->alloc);
      let_go_locked (ring, chunk, dropped, spooled);
      prune_arrivals (ring);
      continue;
    }
    chunk = MIN (n, room);
    ring_copy (ring, ring->end, (guint8 *) data, chunk, TRUE);
    ring->end += chunk;
    data += chunk * ring->bps;
    n -= chunk;
  }
  {
    Arrival a = { ring->end, arrival };
    g_array_append_val (ring->arrivals, a);
  }
  g_mutex_unlock (&ring->lock);
  return TRUE;
}

gsize
gst_stt_ring_read (GstSttRing * ring, guint64 * pos, guint8 * dest, gsize max)
{
  gsize n = 0;

  g_mutex_lock (&ring->lock);
  if (*pos < ring_start_locked (ring))
    *pos = ring_start_locked (ring);
  if (*pos < ring->start) {
    /* From the spool: read without the lock (it may wait for its writer). */
    GstSttSpool *spool = ring->spool;
    gsize max_spool = MIN (max, ring->start - *pos);

    g_mutex_unlock (&ring->lock);
    n = gst_stt_spool_read (spool, *pos, dest, max_spool);
    if (n == 0) {
      /* Overwritten or broken meanwhile: on from what is still held. */
      g_mutex_lock (&ring->lock);
      if (*pos < ring_start_locked (ring))
        *pos = ring_start_locked (ring);
      g_mutex_unlock (&ring->lock);
    }
    return n;
  }
  if (*pos < ring->end) {
    n = MIN (max, ring->end - *pos);
    ring_copy (ring, *pos, dest, n, FALSE);
  }
  g_mutex_unlock (&ring->lock);
  return n;
}

/* Lets go what is neither uncommitted nor kept. Call with the lock held. */
static void
release_locked (GstSttRing * ring)
{
  guint64 pos = MIN (MIN (ring->committed, ring->keep), ring->end);

  if (ring->spool)
    gst_stt_spool_release (ring->spool, pos);
  if (pos > ring->start) {
    ring->start = pos;
    prune_arrivals (ring);
    g_cond_broadcast (&ring->cond);
  }
}

void
gst_stt_ring_commit (GstSttRing * ring, guint64 pos)
{
  g_mutex_lock (&ring->lock);
  ring->committed = MAX (ring->committed, MIN (pos, ring->end));
  release_locked (ring);
  g_mutex_unlock (&ring->lock);
}

void
gst_stt_ring_keep (GstSttRing * ring, guint64 from)
{
  g_mutex_lock (&ring->lock);
  ring->keep = from;
  release_locked (ring);
  g_mutex_unlock (&ring->lock);
}

void
gst_stt_ring_get_range (GstSttRing * ring, guint64 * start, guint64 * end)
{
  g_mutex_lock (&ring->lock);
  if (start)
    *start = ring_start_locked (ring);
  if (end)
    *end = ring->end;
  g_mutex_unlock (&ring->lock);
}

gboolean
gst_stt_ring_is_full (GstSttRing * ring)
{
  gboolean full;

  g_mutex_lock (&ring->lock);
  full = ring->end - ring->start >= ring->capacity;
  g_mutex_unlock (&ring->lock);
  return full;
}

guint64
gst_stt_ring_get_capacity (GstSttRing * ring)
{
  return ring->capacity;
}

gint64
gst_stt_ring_get_arrival (GstSttRing * ring, guint64 pos)
{
  gint64 t = -1;
  guint lo = 0, hi;

  g_mutex_lock (&ring->lock);
  /* The first write whose end lies past @pos contained it. */
  hi = ring->arrivals->len;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    if (g_array_index (ring->arrivals, Arrival, mid).end > pos)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (lo < ring->arrivals->len)
    t = g_array_index (ring->arrivals, Arrival, lo).arrival;
  g_mutex_unlock (&ring->lock);
  return t;
}

void
gst_stt_ring_set_flushing (GstSttRing * ring, gboolean flushing)
{
  g_mutex_lock (&ring->lock);
  ring->flushing = flushing;
  g_cond_broadcast (&ring->cond);
  g_mutex_unlock (&ring->lock);
}
