/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtspool.c: the on-disk overflow of the replay ring (see gststtspool.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "gststtspool.h"

GST_DEBUG_CATEGORY_STATIC (stt_spool_debug);
#define GST_CAT_DEFAULT stt_spool_debug

typedef struct
{
  guint64 pos;
  GBytes *data;
} Chunk;

struct _GstSttSpool
{
  GMutex lock;
  GCond cond;                   /* the writer wrote, or was asked to stop */
  gchar *dir;
  guint bps;
  guint64 cap;                  /* samples the file holds */
  /* Under the lock. */
  guint64 start, end;           /* positions held (end: appended, queued or written) */
  guint64 written;              /* positions before this are in the file */
  gchar *path;                  /* the file, NULL until the first append */
  gint fd;
  gchar *error;                 /* broken: why */
  GQueue queue;                 /* Chunk, for the writer */
  gboolean stop;
  GThread *writer;              /* started by the first append: a stream whose ring never
                                 * overflows costs no thread */
};

static void
chunk_free (Chunk * c)
{
  g_bytes_unref (c->data);
  g_free (c);
}

/* Writes @n samples at stream position @pos into the circular file. No lock needed:
 * only the writer writes, and the reader reads only what it wrote. */
static gboolean
write_at (GstSttSpool * sp, guint64 pos, const guint8 * data, gsize n, GError ** error)
{
  while (n > 0) {
    guint64 off = pos % sp->cap;
    gsize chunk = MIN (n, sp->cap - off);
    gsize done = 0;

    while (done < chunk * sp->bps) {
      gssize w = pwrite (sp->fd, data + done, chunk * sp->bps - done,
          (off * sp->bps) + done);

      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        gint e = errno;
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s",
            w < 0 ? g_strerror (e) : "nothing written");
        return FALSE;
      }
      done += w;
    }
    pos += chunk;
    data += chunk * sp->bps;
    n -= chunk;
  }
  return TRUE;
}

/* Breaks the spool: call with the lock held. */
static void
spool_break_locked (GstSttSpool * sp, const gchar * what, const gchar * why)
{
  if (sp->error == NULL)
    sp->error = g_strdup_printf ("%s %s: %s", what, sp->path ? sp->path : sp->dir, why);
  GST_WARNING ("spool broken: %s", sp->error);
  g_queue_clear_full (&sp->queue, (GDestroyNotify) chunk_free);
  sp->start = sp->end = sp->written;
  g_cond_broadcast (&sp->cond);
}

/* Creates the file in @dir: its descriptor and @path, or -1 with @why set. No lock
 * held: only the writer calls it. */
static gint
create_file (const gchar * dir, gchar ** path, const gchar ** why)
{
  gchar *tmpl = g_build_filename (dir, "gst-stt-spool-XXXXXX", NULL);
  gint fd;

  if (g_mkdir_with_parents (dir, 0700) != 0) {
    *why = "cannot create the spool directory";
    g_free (tmpl);
    return -1;
  }
  fd = g_mkstemp_full (tmpl, O_RDWR, 0600);
  if (fd < 0) {
    *why = "cannot create a spool file in";
    g_free (tmpl);
    return -1;
  }
  *path = tmpl;
  return fd;
}

static void
close_and_remove (gint fd, gchar * path)
{
  if (fd >= 0)
    close (fd);
  if (path) {
    GST_DEBUG ("removing %s", path);
    g_unlink (path);
  }
  g_free (path);
}

/* The spool's own thread: it creates the file, writes what was appended and removes
 * the file once all of it is released, so that neither the streaming thread (which
 * appends) nor the I/O thread (which releases, under the ring's lock) ever waits on
 * the disk. */
static gpointer
writer_thread (gpointer data)
{
  GstSttSpool *sp = data;

  g_mutex_lock (&sp->lock);
  while (!sp->stop) {
    Chunk *c;
    GError *err = NULL;
    gsize len;
    const guint8 *bytes;
    gboolean ok;

    if (sp->path && sp->start == sp->end && g_queue_is_empty (&sp->queue)) {
      gint fd = sp->fd;
      gchar *path = g_steal_pointer (&sp->path);

      /* All of it accounted for: the file goes. */
      sp->fd = -1;
      g_mutex_unlock (&sp->lock);
      close_and_remove (fd, path);
      g_mutex_lock (&sp->lock);
      continue;
    }
    c = g_queue_pop_head (&sp->queue);
    if (c == NULL) {
      g_cond_wait (&sp->cond, &sp->lock);
      continue;
    }
    if (sp->fd < 0) {
      const gchar *why = NULL;
      gchar *path = NULL;
      gint fd, e;

      g_mutex_unlock (&sp->lock);
      fd = create_file (sp->dir, &path, &why);
      e = errno;
      g_mutex_lock (&sp->lock);
      if (fd < 0) {
        spool_break_locked (sp, why, g_strerror (e));
        chunk_free (c);
        continue;
      }
      sp->fd = fd;
      sp->path = path;
      GST_INFO ("spooling to %s (at most %" G_GUINT64_FORMAT " bytes)", sp->path,
          sp->cap * sp->bps);
    }
    g_mutex_unlock (&sp->lock);
    bytes = g_bytes_get_data (c->data, &len);
    ok = write_at (sp, c->pos, bytes, len / sp->bps, &err);
    g_mutex_lock (&sp->lock);
    if (!ok) {
      spool_break_locked (sp, "cannot write the spool", err->message);
      g_error_free (err);
    } else if (sp->error == NULL && c->pos == sp->written) {
      sp->written = c->pos + len / sp->bps;
      g_cond_broadcast (&sp->cond);
    }
    chunk_free (c);
  }
  g_mutex_unlock (&sp->lock);
  return NULL;
}

GstSttSpool *
gst_stt_spool_new (const gchar * dir, guint64 max_bytes, guint bytes_per_sample)
{
  GstSttSpool *sp = g_new0 (GstSttSpool, 1);
  static gsize cat = 0;

  if (g_once_init_enter (&cat)) {
    GST_DEBUG_CATEGORY_INIT (stt_spool_debug, "sttspool", 0, "speech-to-text spool");
    g_once_init_leave (&cat, 1);
  }
  g_mutex_init (&sp->lock);
  g_cond_init (&sp->cond);
  sp->dir = g_strdup (dir);
  sp->bps = bytes_per_sample;
  sp->cap = MAX (max_bytes / bytes_per_sample, 1);
  sp->fd = -1;
  g_queue_init (&sp->queue);
  return sp;
}


void
gst_stt_spool_free (GstSttSpool * sp)
{
  if (sp == NULL)
    return;
  g_mutex_lock (&sp->lock);
  sp->stop = TRUE;
  g_cond_broadcast (&sp->cond);
  g_mutex_unlock (&sp->lock);
  if (sp->writer)
    g_thread_join (sp->writer);
  g_queue_clear_full (&sp->queue, (GDestroyNotify) chunk_free);
  close_and_remove (sp->fd, g_steal_pointer (&sp->path));
  g_free (sp->error);
  g_free (sp->dir);
  g_mutex_clear (&sp->lock);
  g_cond_clear (&sp->cond);
  g_free (sp);
}


gboolean
gst_stt_spool_append (GstSttSpool * sp, guint64 pos, const guint8 * data, gsize n)
{
  Chunk *c;

  g_mutex_lock (&sp->lock);
  if (sp->error) {
    g_mutex_unlock (&sp->lock);
    return FALSE;
  }
  if (sp->start == sp->end) {
    /* Empty: a new stretch starts here. */
    sp->start = sp->end = sp->written = pos;
  } else if (pos != sp->end) {
    spool_break_locked (sp, "audio out of order for the spool", "internal error");
    g_mutex_unlock (&sp->lock);
    return FALSE;
  }
  if (sp->writer == NULL)
    sp->writer = g_thread_new ("stt-spool", writer_thread, sp);
  c = g_new (Chunk, 1);
  c->pos = pos;
  c->data = g_bytes_new (data, n * sp->bps);
  g_queue_push_tail (&sp->queue, c);
  sp->end = pos + n;
  /* The newest cap samples are kept: the oldest are overwritten. */
  if (sp->end - sp->start > sp->cap)
    sp->start = sp->end - sp->cap;
  g_cond_broadcast (&sp->cond);
  g_mutex_unlock (&sp->lock);
  return TRUE;
}

void
gst_stt_spool_get_range (GstSttSpool * sp, guint64 * start, guint64 * end)
{
  g_mutex_lock (&sp->lock);
  if (start)
    *start = sp->start;
  if (end)
    *end = sp->end;
  g_mutex_unlock (&sp->lock);
}

gsize
gst_stt_spool_read (GstSttSpool * sp, guint64 pos, guint8 * dest, gsize max)
{
  gsize n, done = 0;
  guint64 at;

  g_mutex_lock (&sp->lock);
  if (sp->error || pos < sp->start || pos >= sp->end) {
    g_mutex_unlock (&sp->lock);
    return 0;
  }
  n = MIN (max, sp->end - pos);
  /* The writer is a disk write away: wait for it. */
  while (!sp->error && !sp->stop && sp->written < pos + n)
    g_cond_wait (&sp->cond, &sp->lock);
  /* Overwritten meanwhile, or broken: nothing to give. */
  if (sp->error || sp->stop || pos < sp->start) {
    g_mutex_unlock (&sp->lock);
    return 0;
  }
  g_mutex_unlock (&sp->lock);

  at = pos;
  while (done < n) {
    guint64 off = at % sp->cap;
    gsize chunk = MIN (n - done, sp->cap - off);
    gssize r = pread (sp->fd, dest + done * sp->bps, chunk * sp->bps, off * sp->bps);

    if (r < 0 && errno == EINTR)
      continue;
    if (r < (gssize) (chunk * sp->bps)) {
      gint e = errno;

      g_mutex_lock (&sp->lock);
      spool_break_locked (sp, "cannot read the spool", r < 0 ? g_strerror (e) :
          "short read");
      g_mutex_unlock (&sp->lock);
      return 0;
    }
    done += chunk;
    at += chunk;
  }
  /* Appended meanwhile far enough to overwrite it: what was read may be newer audio. */
  g_mutex_lock (&sp->lock);
  if (pos < sp->start)
    n = 0;
  g_mutex_unlock (&sp->lock);
  return n;
}

void
gst_stt_spool_release (GstSttSpool * sp, guint64 pos)
{
  g_mutex_lock (&sp->lock);
  if (pos > sp->start && sp->start < sp->end) {
    sp->start = MIN (pos, sp->end);
    /* All accounted for: the writer removes the file once it has written the rest. */
    if (sp->start == sp->end)
      g_cond_broadcast (&sp->cond);
  }
  g_mutex_unlock (&sp->lock);
}

gchar *
gst_stt_spool_get_error (GstSttSpool * sp)
{
  gchar *e;

  g_mutex_lock (&sp->lock);
  e = g_strdup (sp->error);
  g_mutex_unlock (&sp->lock);
  return e;
}

const gchar *
gst_stt_spool_get_dir (GstSttSpool * sp)
{
  return sp->dir;
}
