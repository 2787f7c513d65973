/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the engine's pieces: the replay ring, the timeline, the statistics, caption
 * cues and signed tokens (JWT). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "gststtring.h"
#include "gststttimeline.h"
#include "gststtstats.h"
#include "gststtcues.h"
#include "gststtmessage.h"
#include "gststtjwt.h"
#include "gststtretry.h"
#include "gststtcredentials.h"
#include "gststtresults.h"
#include "gststtsplit.h"
#include "gststtsettings.h"

static void
fill (gint16 * s, gsize n, gint16 first)
{
  gsize i;

  for (i = 0; i < n; i++)
    s[i] = first + (gint16) i;
}

GST_START_TEST (test_ring_read_commit)
{
  GstSttRing *ring = gst_stt_ring_new (2, 100000);
  gint16 in[5000], out[5000];
  guint64 pos = 0, start, end, dropped = 0;
  gsize n;

  fill (in, 5000, 0);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 5000, FALSE, 1, &dropped, NULL));
  fill (in, 5000, 5000);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 5000, FALSE, 2, &dropped, NULL));
  fail_unless_equals_int (dropped, 0);

  n = gst_stt_ring_read (ring, &pos, (guint8 *) out, 3000);
  fail_unless_equals_int (n, 3000);
  fail_unless_equals_int (out[0], 0);
  fail_unless_equals_int (out[2999], 2999);

  /* The audio before the committed point is released; reading there skips ahead. */
  gst_stt_ring_commit (ring, 6000);
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 6000);
  fail_unless_equals_uint64 (end, 10000);
  pos = 100;
  n = gst_stt_ring_read (ring, &pos, (guint8 *) out, 5000);
  fail_unless_equals_uint64 (pos, 6000);
  fail_unless_equals_int (n, 4000);
  fail_unless_equals_int (out[0], 6000);
  fail_unless_equals_int (out[3999], 9999);

  /* Arrival times are found by position. */
  fail_unless_equals_int64 (gst_stt_ring_get_arrival (ring, 7000), 2);
  gst_stt_ring_free (ring);
}

GST_END_TEST;

GST_START_TEST (test_ring_wraps_and_drops_oldest)
{
  guint reserve;

  /* Grown on demand, then allocated whole at once (as for non-live input). */
  for (reserve = 0; reserve < 2; reserve++) {
    /* Capacity 20000 samples; write 50000 in odd-sized pieces without blocking. */
    GstSttRing *ring = gst_stt_ring_new (2, 20000);
    gint16 in[3333], out[20000];
    guint64 written = 0, dropped = 0, pos = 0, start, end;
    gsize n, i;

    if (reserve)
      gst_stt_ring_reserve (ring);
    while (written < 50000) {
      gsize k = MIN (3333, 50000 - written);
      for (i = 0; i < k; i++)
        in[i] = (gint16) ((written + i) % 30000);
      fail_unless (gst_stt_ring_write (ring, (guint8 *) in, k, FALSE, 0, &dropped, NULL));
      written += k;
    }
    /* Exactly the overflow is dropped and counted, the newest audio is kept. */
    fail_unless_equals_uint64 (dropped, 30000);
    gst_stt_ring_get_range (ring, &start, &end);
    fail_unless_equals_uint64 (start, 30000);
    fail_unless_equals_uint64 (end, 50000);
    n = gst_stt_ring_read (ring, &pos, (guint8 *) out, 20000);
    fail_unless_equals_int (n, 20000);
    for (i = 0; i < n; i++)
      fail_unless_equals_int (out[i], (gint16) ((30000 + i) % 30000));
    fail_unless (gst_stt_ring_is_full (ring));
    gst_stt_ring_free (ring);
  }
}

GST_END_TEST;

/* Growing while the content does not start at offset 0 keeps every sample in place. */
/* The spool as the ring's overflow: what the ring lets go is read back in order through
 * the ring, the circular file keeps the newest, and the file goes once released. */
GST_START_TEST (test_ring_spool)
{
  g_autofree gchar *dir = g_dir_make_tmp ("stt-spool-XXXXXX", NULL);
  GstSttRing *ring = gst_stt_ring_new (2, 16000);
  gint16 *in = g_new (gint16, 64000), *out = g_new (gint16, 64000);
  guint64 dropped = 0, spooled = 0, start, end, pos = 0;
  gsize n, got = 0;
  GDir *d;
  guint files = 0, i;

  fill (in, 64000, 0);
  /* 20000 samples into a spool of 20000 bytes (10000 samples) behind a 16000 ring. */
  gst_stt_ring_set_spool (ring, gst_stt_spool_new (dir, 20000, 2));
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 16000, FALSE, 1, &dropped,
          &spooled));
  fail_unless (gst_stt_ring_write (ring, (guint8 *) (in + 16000), 8000, FALSE, 2,
          &dropped, &spooled));
  fail_unless_equals_uint64 (spooled, 8000);
  fail_unless_equals_uint64 (dropped, 0);
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 0);
  fail_unless_equals_uint64 (end, 24000);
  /* 6000 more: the spool keeps its newest 10000, from 4000 on. */
  fail_unless (gst_stt_ring_write (ring, (guint8 *) (in + 24000), 6000, FALSE, 3,
          &dropped, &spooled));
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 4000);
  fail_unless_equals_uint64 (end, 30000);
  /* Read from 0: moved to 4000, then all of it, in order, across spool and ring. */
  while ((n = gst_stt_ring_read (ring, &pos, (guint8 *) (out + got), 3000)) > 0) {
    if (got == 0)
      fail_unless_equals_uint64 (pos, 4000);
    pos += n;
    got += n;
  }
  fail_unless_equals_int (got, 26000);
  fail_unless (memcmp (out, in + 4000, 26000 * 2) == 0);
  d = g_dir_open (dir, 0, NULL);
  while (g_dir_read_name (d))
    files++;
  g_dir_close (d);
  fail_unless_equals_int (files, 1);
  /* Everything accounted for: the spool's thread removes the file (within 2 s). */
  gst_stt_ring_commit (ring, 20000);
  for (i = 0; i < 200; i++) {
    d = g_dir_open (dir, 0, NULL);
    files = 0;
    while (g_dir_read_name (d))
      files++;
    g_dir_close (d);
    if (files == 0)
      break;
    g_usleep (10 * 1000);
  }
  fail_unless_equals_int (files, 0);
  gst_stt_ring_free (ring);
  g_rmdir (dir);

  /* A spool that cannot be written: its thread finds out (within 2 s), what it had
   * taken is gone from the range, and the ring drops from then on. */
  ring = gst_stt_ring_new (2, 16000);
  gst_stt_ring_set_spool (ring, gst_stt_spool_new ("/proc/no-such-spool", 20000, 2));
  dropped = spooled = 0;
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 20000, FALSE, 1, &dropped,
          &spooled));
  {
    gchar *e = NULL;

    for (i = 0; i < 200 && e == NULL; i++) {
      e = gst_stt_spool_get_error (gst_stt_ring_get_spool (ring));
      if (e == NULL)
        g_usleep (10 * 1000);
    }
    fail_unless (e != NULL && strstr (e, "/proc/no-such-spool"), "%s", e);
    g_free (e);
  }
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 4000);
  dropped = spooled = 0;
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 1000, FALSE, 2, &dropped,
          &spooled));
  fail_unless_equals_uint64 (dropped, 1000);
  fail_unless_equals_uint64 (spooled, 0);
  gst_stt_ring_free (ring);
  g_free (in);
  g_free (out);
}

GST_END_TEST;

GST_START_TEST (test_ring_grows_after_commit)
{
  GstSttRing *ring = gst_stt_ring_new (2, 1000000);
  static gint16 in[100000], out[100000];
  guint64 written = 0, pos, start, end;
  gsize i, n;
  guint round;

  for (i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = (gint16) (i % 32000);
  for (round = 0; round < 5; round++) {
    gsize k = 3000 + round * 7000;
    fail_unless (gst_stt_ring_write (ring, (guint8 *) (in + written), k, FALSE, 0, NULL, NULL));
    written += k;
    gst_stt_ring_commit (ring, written - 2500);
  }
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (end, written);
  pos = start;
  n = gst_stt_ring_read (ring, &pos, (guint8 *) out, G_N_ELEMENTS (out));
  fail_unless_equals_uint64 (n, end - start);
  for (i = 0; i < n; i++)
    fail_unless_equals_int (out[i], in[start + i]);
  gst_stt_ring_free (ring);
}

GST_END_TEST;

/* The pattern of a reconnect after an outage: a reader that resumes from the committed
 * point must read exactly what was written, in order, while the ring grows. */
GST_START_TEST (test_ring_outage_pattern)
{
  GstSttRing *ring = gst_stt_ring_new (2, 960000);
  gint16 buf[320], out[1600];
  guint64 written = 0, pos = 0;
  guint i;

  /* Counter samples: sample p holds p mod 30000. */
#define WRITE_UNTIL(limit) \
  while (written < (limit)) { \
    for (i = 0; i < 320; i++) buf[i] = (gint16) ((written + i) % 30000); \
    fail_unless (gst_stt_ring_write (ring, (guint8 *) buf, 320, FALSE, 0, NULL, NULL)); \
    written += 320; \
  }
#define READ_UNTIL(limit) \
  while (pos < (limit)) { \
    guint64 p0 = pos; \
    gsize n = gst_stt_ring_read (ring, &pos, (guint8 *) out, 1600); \
    fail_unless_equals_uint64 (pos, p0); \
    fail_unless (n > 0); \
    for (i = 0; i < n; i++) \
      fail_unless_equals_int (out[i], (gint16) ((pos + i) % 30000)); \
    pos += n; \
  }

  WRITE_UNTIL (28800);
  READ_UNTIL (28800);
  gst_stt_ring_commit (ring, 25600);
  WRITE_UNTIL (108800);
  pos = 25600;
  READ_UNTIL (108800);
  gst_stt_ring_commit (ring, 40000);
  WRITE_UNTIL (128000);
  READ_UNTIL (128000);
  gst_stt_ring_commit (ring, 120000);
  WRITE_UNTIL (400000);
  READ_UNTIL (400000);
#undef WRITE_UNTIL
#undef READ_UNTIL
  gst_stt_ring_free (ring);
}

GST_END_TEST;

static gpointer
commit_later (gpointer data)
{
  g_usleep (50 * 1000);
  gst_stt_ring_commit (data, 5000);
  return NULL;
}

GST_START_TEST (test_ring_blocks_until_commit)
{
  GstSttRing *ring = gst_stt_ring_new (2, 10000);
  gint16 in[10000] = { 0, };
  GThread *t;
  guint64 start, end;

  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 10000, TRUE, 0, NULL, NULL));
  t = g_thread_new ("commit", commit_later, ring);
  /* Non-live: waits for room instead of dropping. */
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 4000, TRUE, 0, NULL, NULL));
  g_thread_join (t);
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 5000);
  fail_unless_equals_uint64 (end, 14000);

  /* Flushing releases a blocked writer with FALSE. */
  gst_stt_ring_set_flushing (ring, TRUE);
  fail_if (gst_stt_ring_write (ring, (guint8 *) in, 9000, TRUE, 0, NULL, NULL));
  gst_stt_ring_free (ring);
}

GST_END_TEST;

/* Audio kept for a revision: released by nothing but the keep, read back from there,
 * and, when room is needed, let go first, without counting as dropped and without making
 * a non-live writer wait. */
GST_START_TEST (test_ring_keep)
{
  GstSttRing *ring = gst_stt_ring_new (2, 10000);
  gint16 in[10000], out[10000];
  guint64 start, end, dropped = 0, pos = 2000;

  fill (in, 8000, 0);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 8000, FALSE, 0, &dropped, NULL));
  gst_stt_ring_keep (ring, 2000);
  gst_stt_ring_commit (ring, 6000);
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 2000);
  fail_unless_equals_int (gst_stt_ring_read (ring, &pos, (guint8 *) out, 100), 100);
  fail_unless_equals_int (out[0], 2000);

  /* 5000 more: 3000 kept samples go, the oldest first, none of them counted. */
  fill (in, 5000, 8000);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 5000, FALSE, 0, &dropped, NULL));
  fail_unless_equals_uint64 (dropped, 0);
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 3000);
  fail_unless_equals_uint64 (end, 13000);

  /* Non-live: kept audio never makes the writer wait; uncommitted audio still does not
   * go (6000 - 3000 kept samples make room for 3000). */
  fill (in, 3000, 13000);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 3000, TRUE, 0, NULL, NULL));
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 6000);
  fail_unless_equals_uint64 (end, 16000);

  /* Live past the committed point: dropped and counted as before. */
  fill (in, 1000, 16000);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 1000, FALSE, 0, &dropped, NULL));
  fail_unless_equals_uint64 (dropped, 1000);

  /* The keep moves on: what is committed before it goes. */
  gst_stt_ring_commit (ring, 12000);
  gst_stt_ring_keep (ring, 10000);
  gst_stt_ring_get_range (ring, &start, NULL);
  fail_unless_equals_uint64 (start, 10000);
  gst_stt_ring_keep (ring, G_MAXUINT64);
  gst_stt_ring_get_range (ring, &start, NULL);
  fail_unless_equals_uint64 (start, 12000);
  gst_stt_ring_free (ring);
}

GST_END_TEST;

GST_START_TEST (test_timeline_anchors)
{
  GstSttTimeline *tl = gst_stt_timeline_new (16000);

  fail_unless_equals_uint64 (gst_stt_timeline_to_time (tl, 0), GST_CLOCK_TIME_NONE);
  fail_unless (gst_stt_timeline_observe (tl, 0, 10 * GST_SECOND, TRUE));
  fail_unless_equals_uint64 (gst_stt_timeline_to_time (tl, 16000), 11 * GST_SECOND);

  /* Contiguous buffers and small jitter: no new anchor. A DISCONT alone: none either. */
  fail_if (gst_stt_timeline_observe (tl, 16000, 11 * GST_SECOND, FALSE));
  fail_if (gst_stt_timeline_observe (tl, 32000, 12 * GST_SECOND + 20 * GST_MSECOND,
          FALSE));
  fail_if (gst_stt_timeline_observe (tl, 48000, 13 * GST_SECOND, TRUE));
  fail_unless_equals_int (gst_stt_timeline_get_n_anchors (tl), 1);

  /* A gap of 5 s in the input: the service hears no gap, the timeline puts it back. */
  fail_unless (gst_stt_timeline_observe (tl, 64000, 19 * GST_SECOND, TRUE));
  fail_unless_equals_uint64 (gst_stt_timeline_to_time (tl, 56000),
      13 * GST_SECOND + GST_SECOND / 2);
  fail_unless_equals_uint64 (gst_stt_timeline_to_time (tl, 72000),
      19 * GST_SECOND + GST_SECOND / 2);

  gst_stt_timeline_prune (tl, 70000);
  fail_unless_equals_int (gst_stt_timeline_get_n_anchors (tl), 1);
  fail_unless_equals_uint64 (gst_stt_timeline_to_time (tl, 72000),
      19 * GST_SECOND + GST_SECOND / 2);
  gst_stt_timeline_free (tl);
}

GST_END_TEST;

GST_START_TEST (test_stats_percentiles)
{
  GstSttStats *st = gst_stt_stats_new ();
  GstClockTime p50, p99;
  guint i;

  fail_unless_equals_uint64 (gst_stt_stats_percentile (st, GST_STT_HIST_SEND_DELAY, 50),
      GST_CLOCK_TIME_NONE);
  for (i = 1; i <= 100; i++)
    gst_stt_stats_observe (st, GST_STT_HIST_SEND_DELAY, i * GST_MSECOND);
  p50 = gst_stt_stats_percentile (st, GST_STT_HIST_SEND_DELAY, 50);
  p99 = gst_stt_stats_percentile (st, GST_STT_HIST_SEND_DELAY, 99);
  /* Buckets are about 19% wide and report their upper bound. */
  fail_unless (p50 >= 50 * GST_MSECOND && p50 <= 60 * GST_MSECOND, "p50 %" G_GUINT64_FORMAT,
      p50);
  fail_unless (p99 >= 99 * GST_MSECOND && p99 <= 119 * GST_MSECOND);
  gst_stt_stats_free (st);
}

GST_END_TEST;

/* --- caption shaping ---------------------------------------------------------------- */

/* A words value as the transcript carries it: @n words "w<i>" (or @texts), each
 * @len s long, @gap s apart, from @t0. */
static void
make_words (GValue * arr, const gchar * const *texts, guint n, gdouble t0, gdouble len,
    gdouble gap)
{
  guint i;

  g_value_init (arr, GST_TYPE_ARRAY);
  for (i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_autofree gchar *text = texts ? g_strdup (texts[i]) : g_strdup_printf ("w%u", 100 + i);
    GstClockTime start = (t0 + i * (len + gap)) * GST_SECOND;

    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, gst_stt_message_word_new (text, start,
            start + len * GST_SECOND, 0.9, NULL, TRUE));
    gst_value_array_append_and_take_value (arr, &v);
  }
}

static gchar *
join_words (const GValue * arr)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < gst_value_array_get_size (arr); i++) {
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (arr, i));

    if (i)
      g_string_append_c (s, ' ');
    g_string_append (s, gst_structure_get_string (w, "text"));
  }
  return g_string_free (s, FALSE);
}

/* Every cue within @limits; the cues' words are @text's, in order, once each. */
static void
check_cues (GPtrArray * cues, const gchar * text, const GstSttCueLimits * limits)
{
  GString *all = g_string_new (NULL);
  guint i, k;

  for (i = 0; i < cues->len; i++) {
    GstSttCue *cue = g_ptr_array_index (cues, i);
    g_auto (GStrv) lines = g_strsplit (cue->text, "\n", -1);

    fail_unless (g_strv_length (lines) <= limits->max_lines, "'%s'", cue->text);
    for (k = 0; lines[k]; k++) {
      fail_if (*lines[k] == '\0', "an empty line in '%s'", cue->text);
      fail_unless (g_utf8_strlen (lines[k], -1) <= limits->max_line_length
          || strchr (lines[k], ' ') == NULL, "'%s' is too long", lines[k]);
      if (all->len)
        g_string_append_c (all, ' ');
      g_string_append (all, lines[k]);
    }
    fail_unless (cue->duration <= limits->max_duration, "'%s' lasts %" GST_TIME_FORMAT,
        cue->text, GST_TIME_ARGS (cue->duration));
    if (i > 0) {
      GstSttCue *prev = g_ptr_array_index (cues, i - 1);
      fail_unless (cue->pts >= prev->pts + prev->duration);
    }
  }
  fail_unless_equals_string (all->str, text);
  g_string_free (all, TRUE);
}

/* A 30-word segment (149 characters over 12 s) is cut into cues of at most 2 lines of
 * 42 characters and 7 s, at word boundaries, each from its first word's start to its
 * last word's end. */
GST_START_TEST (test_cues_long_segment)
{
  GstSttCueLimits limits = { 42, 2, 7 * GST_SECOND };
  GValue words = G_VALUE_INIT;
  g_autofree gchar *text = NULL;
  GPtrArray *cues;
  guint i;

  make_words (&words, NULL, 30, 1.0, 0.25, 0.15);
  text = join_words (&words);
  cues = gst_stt_cues_shape (text, GST_SECOND, 11.85 * GST_SECOND, &words, &limits);
  fail_unless_equals_int (cues->len, 2);
  check_cues (cues, text, &limits);
  /* The words' own times: the first cue starts with w100 at 1 s; each next one starts
   * with the word after the last of the one before. */
  for (i = 0; i < cues->len; i++) {
    GstSttCue *cue = g_ptr_array_index (cues, i);
    guint64 w_first = g_ascii_strtoull (cue->text + 1, NULL, 10) - 100;
    const gchar *last_sp = strrchr (cue->text, ' '), *last_nl = strrchr (cue->text, '\n');
    const gchar *lw = MAX (last_sp, last_nl) + 2;
    guint64 w_last = g_ascii_strtoull (lw, NULL, 10) - 100;

    fail_unless_equals_uint64 (cue->pts, (GstClockTime) ((1.0 + w_first * 0.4) *
            GST_SECOND + 0.5));
    fail_unless_equals_uint64 (cue->pts + cue->duration,
        (GstClockTime) ((1.0 + w_last * 0.4 + 0.25) * GST_SECOND + 0.5));
  }
  g_ptr_array_unref (cues);
  g_value_unset (&words);
}

GST_END_TEST;

/* Slow speech: 7 s is reached before the lines are full. */
GST_START_TEST (test_cues_max_duration)
{
  GstSttCueLimits limits = { 42, 2, 7 * GST_SECOND };
  GValue words = G_VALUE_INIT;
  g_autofree gchar *text = NULL;
  GPtrArray *cues;

  make_words (&words, NULL, 12, 0.0, 0.8, 0.4);
  text = join_words (&words);
  cues = gst_stt_cues_shape (text, 0, 14 * GST_SECOND, &words, &limits);
  /* 6 words in 6.8 s, 59 characters: the 7th word would end at 8 s. */
  fail_unless_equals_int (cues->len, 2);
  check_cues (cues, text, &limits);
  g_ptr_array_unref (cues);
  g_value_unset (&words);
}

GST_END_TEST;

/* Two lines are balanced; a word longer than a line stands alone; formatting that keeps
 * the number of words is shown with the words' times; without limits, one cue. */
GST_START_TEST (test_cues_lines)
{
  static const gchar *const raw[] = { "hello", "world", "this", "is", "a", "test", "of",
    "captions", "that", "wrap"
  };
  GstSttCueLimits limits = { 42, 2, 7 * GST_SECOND }, none = { 0, 0, 0 };
  GValue words = G_VALUE_INIT;
  const gchar *formatted = "Hello, world! This is a test of captions that wrap.";
  GPtrArray *cues;
  GstSttCue *cue;
  g_auto (GStrv) lines = NULL;
  g_autofree gchar *longword = g_strnfill (50, 'x');
  g_autofree gchar *longtext = g_strdup_printf ("a %s b", longword);

  make_words (&words, raw, 10, 2.0, 0.3, 0.1);
  cues = gst_stt_cues_shape (formatted, 2 * GST_SECOND, 4 * GST_SECOND, &words, &limits);
  fail_unless_equals_int (cues->len, 1);
  cue = g_ptr_array_index (cues, 0);
  lines = g_strsplit (cue->text, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 2);
  /* 51 characters: balanced 23 + 27 rather than 42 + 8. */
  fail_unless_equals_string (lines[0], "Hello, world! This is a");
  fail_unless_equals_string (lines[1], "test of captions that wrap.");
  fail_unless_equals_uint64 (cue->pts, 2 * GST_SECOND);
  fail_unless_equals_uint64 (cue->duration, 3.9 * GST_SECOND);
  g_ptr_array_unref (cues);

  cues = gst_stt_cues_shape (formatted, 2 * GST_SECOND, 4 * GST_SECOND, &words, &none);
  fail_unless_equals_int (cues->len, 1);
  fail_unless_equals_string (((GstSttCue *) g_ptr_array_index (cues, 0))->text,
      formatted);
  g_ptr_array_unref (cues);
  g_value_unset (&words);

  /* No words: times shared out by length; the long word on a line of its own. */
  cues = gst_stt_cues_shape (longtext, 0, 5 * GST_SECOND, NULL, &limits);
  fail_unless_equals_int (cues->len, 2);
  cue = g_ptr_array_index (cues, 0);
  fail_unless (g_str_has_prefix (cue->text, "a\n"));
  fail_unless_equals_string (cue->text + 2, longword);
  cue = g_ptr_array_index (cues, 1);
  fail_unless_equals_string (cue->text, "b");
  fail_unless_equals_uint64 (cue->pts + cue->duration, 5 * GST_SECOND);
  g_ptr_array_unref (cues);
}

GST_END_TEST;

/* --- signed tokens ------------------------------------------------------------------- */

/* The tests' own base64url (RFC 4648 section 5, no padding), both ways. */
static gchar *
b64url_encode (const guint8 * data, gsize len)
{
  gchar *s = g_base64_encode (data, len);
  gsize n = strlen (s);

  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  g_strdelimit (s, "+", '-');
  g_strdelimit (s, "/", '_');
  return s;
}

static guint8 *
b64url_decode (const gchar * text, gsize * len)
{
  GString *s = g_string_new (text);
  guint8 *out;

  fail_if (strpbrk (text, "+/=") != NULL, "not base64url without padding: %s", text);
  g_strdelimit (s->str, "-", '+');
  g_strdelimit (s->str, "_", '/');
  while (s->len % 4)
    g_string_append_c (s, '=');
  out = g_base64_decode (s->str, len);
  g_string_free (s, TRUE);
  return out;
}

/* The RFC 7515 appendix A.1 example: HS256 over its exact octets (CR LF included), with
 * the key of its JWK. */
#define RFC_HEADER "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"
#define RFC_CLAIMS "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n " \
  "\"http://example.com/is_root\":true}"
#define RFC_KEY "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwj" \
  "AzZr1Z9CAow"
#define RFC_HEADER_B64 "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
#define RFC_CLAIMS_B64 "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl" \
  "LmNvbS9pc19yb290Ijp0cnVlfQ"
#define RFC_SIGNATURE "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

GST_START_TEST (test_jwt_rfc7515_a1)
{
  gsize key_len;
  guint8 *key = b64url_decode (RFC_KEY, &key_len);
  gchar *jws;

  fail_unless_equals_int (key_len, 64);
  jws = gst_stt_jwt_sign_hs256 ((const guint8 *) RFC_HEADER, strlen (RFC_HEADER),
      (const guint8 *) RFC_CLAIMS, strlen (RFC_CLAIMS), key, key_len);
  fail_unless_equals_string (jws, RFC_HEADER_B64 "." RFC_CLAIMS_B64 "." RFC_SIGNATURE);
  g_free (jws);
  g_free (key);
}

GST_END_TEST;

/* RFC 7519 section 3.1: its claims set encodes as the RFC says; the same claims given to
 * the element come out as JSON with iat and exp ours (exp = iat + lifetime). */
GST_START_TEST (test_jwt_rfc7519_claims)
{
  JsonObject *claims = json_object_new ();
  g_autoptr (JsonParser) parser = json_parser_new ();
  gchar *b64 = gst_stt_jwt_base64url ((const guint8 *) RFC_CLAIMS, strlen (RFC_CLAIMS));
  gchar *json;
  JsonObject *o;

  fail_unless_equals_string (b64, RFC_CLAIMS_B64);
  g_free (b64);

  json_object_set_string_member (claims, "iss", "joe");
  json_object_set_boolean_member (claims, "http://example.com/is_root", TRUE);
  /* Given claims do not override the token's own times or identity. */
  json_object_set_int_member (claims, "exp", 1);
  json_object_set_int_member (claims, "iat", 2);
  json_object_set_string_member (claims, "jti", "mine");
  json = gst_stt_jwt_claims (claims, 1300819080, 300, NULL);
  fail_unless_equals_string (json, "{\"iss\":\"joe\",\"http://example.com/is_root\":true,"
      "\"iat\":1300819080,\"exp\":1300819380}");
  fail_unless (json_parser_load_from_data (parser, json, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (o, "iss"), "joe");
  fail_unless_equals_int64 (json_object_get_int_member (o, "exp"), 1300819380);
  fail_unless (json_object_get_boolean_member (o, "http://example.com/is_root"));
  fail_if (json_object_has_member (o, "jti"));
  g_free (json);

  json = gst_stt_jwt_claims (NULL, 10, 5, "n1");
  fail_unless_equals_string (json, "{\"iat\":10,\"exp\":15,\"jti\":\"n1\"}");
  g_free (json);
  json_object_unref (claims);
}

GST_END_TEST;

/* A minted token: our header, the claims plus iat/exp/jti, and a signature that GLib's
 * own HMAC (not the product's OpenSSL path) verifies. Two tokens of the same second
 * differ. */
GST_START_TEST (test_jwt_mint)
{
  static const gchar secret[] = "relay-shared-secret";
  JsonObject *claims = json_object_new ();
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gchar *token = NULL, *other, **parts, *input, *sig;
  g_autoptr (JsonParser) parser = json_parser_new ();
  GHmac *hmac;
  guint8 digest[32], *header, *payload;
  gsize digest_len = sizeof (digest), header_len, payload_len;
  JsonObject *o;

  json_object_set_string_member (claims, "sub", "camera-7");
  json_object_set_string_member (claims, "aud", "relay \"eu\"");
  json_object_set_int_member (claims, "tier", 3);
  json_object_set_double_member (claims, "ratio", 0.5);
  json_object_set_boolean_member (claims, "live", TRUE);
  token = gst_stt_jwt_mint ((const guint8 *) secret, strlen (secret), claims, now, 300);
  fail_unless (token != NULL);
  fail_if (strpbrk (token, "+/= ") != NULL, "not base64url: %s", token);
  parts = g_strsplit (token, ".", -1);
  fail_unless_equals_int (g_strv_length (parts), 3);

  header = b64url_decode (parts[0], &header_len);
  fail_unless (header_len == strlen (GST_STT_JWT_HEADER)
      && memcmp (header, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", header_len) == 0);
  payload = b64url_decode (parts[1], &payload_len);
  fail_unless (json_parser_load_from_data (parser, (const gchar *) payload, payload_len,
          NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  fail_unless_equals_string (json_object_get_string_member (o, "sub"), "camera-7");
  fail_unless_equals_string (json_object_get_string_member (o, "aud"), "relay \"eu\"");
  fail_unless_equals_int64 (json_object_get_int_member (o, "tier"), 3);
  fail_unless_equals_float (json_object_get_double_member (o, "ratio"), 0.5);
  fail_unless (json_object_get_boolean_member (o, "live"));
  fail_unless_equals_int64 (json_object_get_int_member (o, "iat"), now);
  fail_unless_equals_int64 (json_object_get_int_member (o, "exp"), now + 300);
  /* 128 random bits. */
  fail_unless_equals_int (strlen (json_object_get_string_member (o, "jti")), 22);

  input = g_strconcat (parts[0], ".", parts[1], NULL);
  hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *) input, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  g_hmac_unref (hmac);
  sig = b64url_encode (digest, digest_len);
  fail_unless_equals_string (parts[2], sig);

  other = gst_stt_jwt_mint ((const guint8 *) secret, strlen (secret), claims, now, 300);
  fail_unless (other != NULL && strcmp (other, token) != 0);

  g_free (other);
  g_free (sig);
  g_free (input);
  g_free (header);
  g_free (payload);
  g_strfreev (parts);
  g_free (token);
  json_object_unref (claims);
}

GST_END_TEST;

/* The jitter's random source, fixed: the value it returns is in @data. */
static gdouble
fixed_random (gpointer data)
{
  return *(gdouble *) data;
}

/* The backoff: the first retry at once, then doubling from the initial delay up to the
 * cap, each wait between half and all of it. */
GST_START_TEST (test_retry_backoff)
{
  GstSttBackoff b = { 1 * GST_SECOND, 8 * GST_SECOND, -1 };
  gdouble lo = 0.0, hi = 0.999999, mid = 0.5;
  GstClockTime delay = 12345;
  guint attempt;

  fail_unless (gst_stt_retry_backoff (&b, 1, -1, fixed_random, &hi, &delay));
  fail_unless_equals_uint64 (delay, 0);
  /* Attempt 2 waits about the initial delay; 3 twice that; 4 four times. */
  fail_unless (gst_stt_retry_backoff (&b, 2, -1, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, GST_SECOND / 2);
  fail_unless (gst_stt_retry_backoff (&b, 2, -1, fixed_random, &mid, &delay));
  fail_unless_equals_uint64 (delay, GST_SECOND / 2 + GST_SECOND / 4);
  fail_unless (gst_stt_retry_backoff (&b, 3, -1, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, GST_SECOND);
  fail_unless (gst_stt_retry_backoff (&b, 4, -1, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, 2 * GST_SECOND);
  /* The jitter stays within [d/2, d] whatever the random source says. */
  for (attempt = 2; attempt < 40; attempt++) {
    GstClockTime d = MIN (b.initial_delay << MIN (attempt - 2, 20), b.max_delay);

    fail_unless (gst_stt_retry_backoff (&b, attempt, -1, fixed_random, &lo, &delay));
    fail_unless (delay >= d / 2 && delay <= d);
    fail_unless (gst_stt_retry_backoff (&b, attempt, -1, fixed_random, &hi, &delay));
    fail_unless (delay >= d / 2 && delay <= d);
    /* Capped: never more than max_delay, however many attempts. */
    fail_unless (delay <= b.max_delay);
  }
  fail_unless (gst_stt_retry_backoff (&b, 30, -1, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, 4 * GST_SECOND);
}

GST_END_TEST;

/* Retry-After lengthens a wait, never shortens it; max attempts end the tries. */
GST_START_TEST (test_retry_after_and_max_attempts)
{
  GstSttBackoff b = { 1 * GST_SECOND, 8 * GST_SECOND, 3 };
  gdouble lo = 0.0;
  GstClockTime delay;

  /* Even the first retry, otherwise at once, waits what the service asked. */
  fail_unless (gst_stt_retry_backoff (&b, 1, 5, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, 5 * GST_SECOND);
  fail_unless (gst_stt_retry_backoff (&b, 3, 0, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, GST_SECOND);
  fail_unless (gst_stt_retry_backoff (&b, 3, 1, fixed_random, &lo, &delay));
  fail_unless_equals_uint64 (delay, GST_SECOND);

  fail_unless (gst_stt_retry_backoff (&b, 3, -1, fixed_random, &lo, &delay));
  fail_if (gst_stt_retry_backoff (&b, 4, -1, fixed_random, &lo, &delay));
  fail_if (gst_stt_retry_backoff (&b, 4, 5, fixed_random, &lo, &delay));
  /* 0: no retry at all. */
  b.max_attempts = 0;
  fail_if (gst_stt_retry_backoff (&b, 1, -1, fixed_random, &lo, &delay));
  /* -1: no limit. */
  b.max_attempts = -1;
  fail_unless (gst_stt_retry_backoff (&b, 100000, -1, fixed_random, &lo, &delay));
}

GST_END_TEST;

static GstSttFailure
failure (GstSttFailedAt where, SttFailure failure, guint http_status, gint close_code)
{
  GstSttFailure f = {
    .where = where,
    .failure = failure,
    .http_status = http_status,
    .close_code = close_code,
    .ever_connected = TRUE,
    .max_attempts = -1,
  };

  return f;
}

#define assert_retry(f) G_STMT_START { \
  GstSttDecision d_ = gst_stt_retry_decide (&(f)); \
  fail_unless_equals_int (d_.verdict, GST_STT_VERDICT_RETRY); \
} G_STMT_END
#define assert_fresh_token(f) G_STMT_START { \
  GstSttDecision d_ = gst_stt_retry_decide (&(f)); \
  fail_unless_equals_int (d_.verdict, GST_STT_VERDICT_FRESH_TOKEN); \
} G_STMT_END
#define assert_fail(f, c, w) G_STMT_START { \
  GstSttDecision d_ = gst_stt_retry_decide (&(f)); \
  fail_unless_equals_int (d_.verdict, GST_STT_VERDICT_FAIL); \
  fail_unless_equals_int (d_.code, (c)); \
  fail_unless_equals_int (d_.why, (w)); \
} G_STMT_END

/* The handshake: credentials and settings are fatal, the rest is retried; a certificate
 * failure is fatal; a service never reached gives up after a few attempts when retrying
 * would go on forever. */
GST_START_TEST (test_retry_decide_connect)
{
  GstSttFailure f = failure (GST_STT_FAILED_CONNECT, STT_FAILURE_AUTH, 401, 0);

  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_CLASS);
  /* A signed token refused at the handshake is not retried: a new one says the same. */
  f.key_is_token = f.signed_token = TRUE;
  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_CLASS);
  f = failure (GST_STT_FAILED_CONNECT, STT_FAILURE_FATAL, 400, 0);
  assert_fail (f, GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
  f = failure (GST_STT_FAILED_CONNECT, STT_FAILURE_RETRY, 503, 0);
  assert_retry (f);

  f = failure (GST_STT_FAILED_CONNECT, STT_FAILURE_RETRY, 0, 0);
  f.tls_error = TRUE;
  assert_fail (f, GST_RESOURCE_ERROR_OPEN_READ_WRITE, GST_STT_FATAL_TLS);

  f = failure (GST_STT_FAILED_CONNECT, STT_FAILURE_RETRY, 0, 0);
  f.ever_connected = FALSE;
  f.attempt = GST_STT_FIRST_CONNECT_ATTEMPTS - 2;
  assert_retry (f);
  f.attempt = GST_STT_FIRST_CONNECT_ATTEMPTS - 1;
  assert_fail (f, GST_RESOURCE_ERROR_OPEN_READ_WRITE, GST_STT_FATAL_UNREACHABLE);
  /* With a limit the limit decides; once connected, an outage is retried. */
  f.max_attempts = 10;
  assert_retry (f);
  f.max_attempts = -1;
  f.ever_connected = TRUE;
  assert_retry (f);
  /* An answer, even an error, is not "never reached". */
  f.ever_connected = FALSE;
  f.http_status = 502;
  assert_retry (f);
}

GST_END_TEST;

/* A refused token after the handshake (a close or an in-band error): one fresh token
 * and one retry, then fatal. A refused key (not a token) is fatal at once. */
GST_START_TEST (test_retry_decide_token_refusal)
{
  GstSttFailure f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_AUTH, 0, 4001);

  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_CLASS);
  f.key_is_token = TRUE;
  assert_fresh_token (f);
  f.token_refusals = 1;
  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_TOKEN_REFUSED);

  f = failure (GST_STT_FAILED_IN_BAND, STT_FAILURE_AUTH, 0, 0);
  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_CLASS);
  f.key_is_token = TRUE;
  assert_fresh_token (f);
  f.token_refusals = 1;
  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_TOKEN_REFUSED);

  /* A relay refuses a signed token with 4001 or 1008, whatever the provider's table
   * says of those codes. */
  f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_RETRY, 0, 4001);
  assert_retry (f);
  f.key_is_token = f.signed_token = TRUE;
  assert_fresh_token (f);
  f.close_code = 1008;
  f.failure = STT_FAILURE_FATAL;
  assert_fresh_token (f);
  f.close_code = 4002;
  assert_fail (f, GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
}

GST_END_TEST;

/* Closes and in-band errors: a normal close is a lost connection; after the end of
 * audio any close with code 1000 is too; bad requests are fatal. */
GST_START_TEST (test_retry_decide_close_and_in_band)
{
  GstSttFailure f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_NONE, 0, 1000);

  assert_retry (f);
  f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_RETRY, 0, 1011);
  assert_retry (f);
  f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_FATAL, 0, 1002);
  assert_fail (f, GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
  /* A provider may call its 1000 fatal; after the end of audio it is a drop. */
  f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_FATAL, 0, 1000);
  assert_fail (f, GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
  f.end_sent = TRUE;
  assert_retry (f);
  f = failure (GST_STT_FAILED_CLOSE, STT_FAILURE_AUTH, 0, 1000);
  f.end_sent = TRUE;
  assert_retry (f);

  f = failure (GST_STT_FAILED_IN_BAND, STT_FAILURE_RETRY, 0, 0);
  assert_retry (f);
  f = failure (GST_STT_FAILED_IN_BAND, STT_FAILURE_FATAL, 0, 0);
  f.key_is_token = TRUE;
  assert_fail (f, GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
}

GST_END_TEST;

/* The provider's set-up request and the token service: rate limits, timeouts and
 * server errors are retried, credentials and everything else fatal. The token
 * service's statuses follow the common table (stt_failure_from_http). */
GST_START_TEST (test_retry_decide_setup_and_token_service)
{
  static const struct
  {
    guint status;
    gint verdict;
    gint code;
  } token[] = {
    {0, GST_STT_VERDICT_RETRY, 0},
    {408, GST_STT_VERDICT_RETRY, 0},
    {429, GST_STT_VERDICT_RETRY, 0},
    {500, GST_STT_VERDICT_RETRY, 0},
    {503, GST_STT_VERDICT_RETRY, 0},
    {301, GST_STT_VERDICT_FAIL, GST_RESOURCE_ERROR_SETTINGS},
    {400, GST_STT_VERDICT_FAIL, GST_RESOURCE_ERROR_SETTINGS},
    {401, GST_STT_VERDICT_FAIL, GST_RESOURCE_ERROR_NOT_AUTHORIZED},
    {403, GST_STT_VERDICT_FAIL, GST_RESOURCE_ERROR_NOT_AUTHORIZED},
    {404, GST_STT_VERDICT_FAIL, GST_RESOURCE_ERROR_SETTINGS},
  };
  GstSttFailure f;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (token); i++) {
    GstSttDecision d;

    f = failure (GST_STT_FAILED_TOKEN_SERVICE, STT_FAILURE_NONE, token[i].status, 0);
    d = gst_stt_retry_decide (&f);
    fail_unless_equals_int (d.verdict, token[i].verdict);
    if (d.verdict == GST_STT_VERDICT_FAIL)
      fail_unless_equals_int (d.code, token[i].code);
  }
  f = failure (GST_STT_FAILED_TOKEN_SERVICE, STT_FAILURE_NONE, 0, 0);
  f.tls_error = TRUE;
  assert_fail (f, GST_RESOURCE_ERROR_OPEN_READ_WRITE, GST_STT_FATAL_TLS);

  f = failure (GST_STT_FAILED_SETUP, STT_FAILURE_RETRY, 503, 0);
  assert_retry (f);
  f = failure (GST_STT_FAILED_SETUP, STT_FAILURE_AUTH, 401, 0);
  assert_fail (f, GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_CLASS);
  f = failure (GST_STT_FAILED_SETUP, STT_FAILURE_FATAL, 400, 0);
  assert_fail (f, GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
}

GST_END_TEST;

/* A token service's answer: the named field, else the usual ones; none is an error. */
GST_START_TEST (test_credentials_take_token)
{
  static const gchar answer[] = "{\"expires_in\":60,\"token\":\"t/1 x\"}";
  GstSttCredentialSources src = { 0, };
  GstSttCredentials c = { 0, };
  GError *err = NULL;
  gchar *url, *text;

  c.key = g_strdup ("old");
  fail_unless (gst_stt_credentials_take_token (&c, &src, answer, strlen (answer), NULL));
  fail_unless_equals_string (c.key, "t/1 x");
  fail_unless (c.is_token && !c.signed_token);

  /* The token, URI-escaped, where the URL template says. */
  url = gst_stt_credentials_fill_url (&c, "wss://relay/{token}/x?t={token}");
  fail_unless_equals_string (url, "wss://relay/t%2F1%20x/x?t=t%2F1%20x");
  gst_stt_wipe_free (url);
  fail_unless (gst_stt_credentials_fill_url (&c, "wss://relay/x") == NULL);
  /* And never in a message, as it is or escaped. */
  text = gst_stt_credentials_scrub (&c, "closed: t/1 x at wss://relay/t%2F1%20x/x");
  fail_unless_equals_string (text, "closed: *** at wss://relay/***/x");
  g_free (text);

  src.token_field = "access";
  fail_if (gst_stt_credentials_take_token (&c, &src, answer, strlen (answer), &err));
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (err->message, "access") != NULL);
  g_clear_error (&err);
  fail_if (gst_stt_credentials_take_token (&c, &src, "not json", 8, &err));
  g_clear_error (&err);

  /* A key is no token: it is neither put in URLs nor scrubbed. */
  c.is_token = FALSE;
  fail_unless (gst_stt_credentials_fill_url (&c, "wss://relay/{token}") == NULL);
  gst_stt_credentials_clear (&c);
  fail_unless (c.key == NULL);
}

GST_END_TEST;

static void
add_word (SttResult * r, const gchar * text, gdouble start, gdouble end)
{
  SttWord w = { g_strdup (text), start, end, -1, NULL, FALSE };

  g_array_append_val (r->words, w);
}

/* The boundary between a live session and a second session at a split point S: each
 * recognizes the words near S with times of its own (a few ms apart), and their finals
 * come in any order; every word must be kept by exactly one of them. Simulated with one
 * final per word and every interleaving of the two sessions' finals. */
#define SPLIT_AT 100000
typedef struct
{
  guint64 start, end;           /* the word in the stream (samples at 16 kHz) */
} SplitWord;

static guint64
split_mid (const SplitWord * w, gint jitter)
{
  return (w->start + w->end) / 2 + jitter;
}

/* Plays @order (bit i set: the i-th final is the live session's) over @n words, with
 * each session's jitter; counts in @kept how often each word was kept. */
static void
split_play (const SplitWord * words, guint n, guint order, gint jit_child, gint jit_live,
    guint * kept)
{
  GstSttSplit b;
  guint ci = 0, li = 0, step;

  gst_stt_split_init (&b, SPLIT_AT);
  memset (kept, 0, n * sizeof (guint));
  for (step = 0; step < 2 * n; step++) {
    gboolean live = (order >> step) & 1;

    if (live ? li >= n : ci >= n)
      live = !live;
    if (live) {
      const SplitWord *w = &words[li++];
      gboolean keep = split_mid (w, jit_live) >= gst_stt_split_live_floor (&b);

      kept[w - words] += keep;
      gst_stt_split_live_final (&b, keep ? w->start + jit_live : G_MAXUINT64,
          keep ? G_MAXUINT64 : w->end + jit_live);
    } else {
      const SplitWord *w = &words[ci++];
      gboolean keep = split_mid (w, jit_child) < gst_stt_split_child_end (&b);

      kept[w - words] += keep;
      gst_stt_split_child_final (&b, keep ? w->end + jit_child : G_MAXUINT64, !keep);
    }
  }
}

GST_START_TEST (test_split_boundary)
{
  /* Words of 0.3-0.5 s with short pauses; the third one's middle lies within a few
   * samples of S, on either side. */
  const gint offsets[] = { -80, -8, -1, 0, 1, 8, 80, 3000 };
  const gint jitters[] = { -160, -16, 0, 16, 160 };
  guint o, jc, jl, order, i, cases = 0;

  for (o = 0; o < G_N_ELEMENTS (offsets); o++) {
    gint64 m = SPLIT_AT + offsets[o];
    const SplitWord words[] = {
      {m - 14000, m - 8000}, {m - 7000, m - 3200}, {m - 2400, m + 2400},
      {m + 3200, m + 9000}, {m + 10000, m + 16000},
    };
    guint kept[G_N_ELEMENTS (words)];

    for (jc = 0; jc < G_N_ELEMENTS (jitters); jc++)
      for (jl = 0; jl < G_N_ELEMENTS (jitters); jl++)
        for (order = 0; order < (1u << (2 * G_N_ELEMENTS (words))); order++) {
          split_play (words, G_N_ELEMENTS (words), order, jitters[jc], jitters[jl],
              kept);
          for (i = 0; i < G_N_ELEMENTS (words); i++)
            fail_unless (kept[i] == 1, "word %u kept %u times (middle %d from S, jitter "
                "%d/%d, order %x)", i, kept[i], offsets[o], jitters[jc], jitters[jl],
                order);
          cases++;
        }
  }
  /* Without a split nothing is dropped on either side. */
  {
    GstSttSplit b;

    gst_stt_split_init (&b, G_MAXUINT64);
    fail_unless_equals_uint64 (gst_stt_split_live_floor (&b), 0);
    fail_unless_equals_uint64 (gst_stt_split_child_end (&b), G_MAXUINT64);
    fail_if (gst_stt_split_live_final (&b, 5, 2));
  }
  GST_INFO ("%u interleavings, each word kept once", cases);
}

GST_END_TEST;

/* A results mapper at 16 kHz on a timeline that starts at 0, with what it needs. */
typedef struct
{
  GstSttTimeline *tl;
  GstSttStats *st;
  GstObject *log;
  GstSttResults *res;
  SttResult *r;
} ResultsFixture;

static ResultsFixture *
results_fixture_new (guint64 origin)
{
  ResultsFixture *f = g_new0 (ResultsFixture, 1);

  f->tl = gst_stt_timeline_new (16000);
  f->st = gst_stt_stats_new ();
  f->log = gst_object_ref_sink (gst_pad_new ("log", GST_PAD_SRC));
  f->res = gst_stt_results_new (16000, "test", f->tl, f->st, f->log);
  f->r = stt_result_new ();
  gst_stt_timeline_observe (f->tl, 0, 0, TRUE);
  gst_stt_results_new_origin (f->res, origin);
  return f;
}

static void
results_fixture_free (ResultsFixture * f)
{
  stt_result_free (f->r);
  gst_stt_results_free (f->res);
  gst_object_unref (f->log);
  gst_stt_stats_free (f->st);
  gst_stt_timeline_free (f->tl);
  g_free (f);
}

/* Provider times to stream positions across a seam the ring left, clamped to what was
 * sent; a partial and its final keep their segment id; a replayed final whose words
 * were all emitted says nothing but still moves the committed point; how far the
 * service is vouched to have heard. */
GST_START_TEST (test_results_map)
{
  /* The service session starts at stream sample 16000; after 1 s of it, the ring
   * dropped 0.5 s. */
  ResultsFixture *f = results_fixture_new (16000);
  GstSttResults *res = f->res;
  SttResult *r = f->r;
  GstSttMapped m;
  guint64 id, id2;
  guint rev;

  gst_stt_results_add_seam (res, 16000, 40000);
  fail_unless_equals_uint64 (gst_stt_results_conn_to_stream (res, 8000), 24000);
  fail_unless_equals_uint64 (gst_stt_results_conn_to_stream (res, 16000), 40000);
  fail_unless_equals_uint64 (gst_stt_results_conn_to_stream (res, 20000), 44000);
  fail_unless_equals_uint64 (gst_stt_results_seconds_to_stream (res, -1, 32000), 16000);
  fail_unless_equals_uint64 (gst_stt_results_seconds_to_stream (res, 1e300, 32000),
      56000);

  r->text = g_strdup ("hello world");
  add_word (r, "hello", 0.5, 0.9);
  add_word (r, "world", 1.1, 1.5);
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 56000, 16000, 0, &m));
  fail_if (m.is_final);
  fail_unless_equals_uint64 (m.pts, GST_SECOND + GST_SECOND / 2);
  fail_unless_equals_uint64 (m.duration, GST_SECOND + GST_SECOND / 2);
  fail_unless_equals_string (gst_structure_get_string (m.msg, "text"), "hello world");
  fail_unless (gst_structure_get_uint64 (m.msg, "segment-id", &id));
  gst_structure_free (m.msg);
  fail_unless_equals_int (gst_stt_results_open_segments (res), 1);
  /* Heard up to 48000, but the open segment's final will be placed at 24000. */
  fail_unless_equals_uint64 (gst_stt_results_vouched (res, G_MININT64), 24000);

  r->is_final = TRUE;
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 56000, 16000, 0, &m));
  fail_unless (m.is_final && m.msg != NULL);
  fail_unless_equals_uint64 (m.done, 48000);
  fail_unless (gst_structure_get_uint64 (m.msg, "segment-id", &id2));
  fail_unless (gst_structure_get_uint (m.msg, "revision", &rev));
  fail_unless_equals_uint64 (id2, id);
  fail_unless_equals_int (rev, 1);
  gst_structure_free (m.msg);
  fail_unless_equals_int (gst_stt_results_open_segments (res), 0);
  gst_stt_results_commit (res, 48000);

  /* The same final replayed: every word was emitted. */
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 56000, 48000, 0, &m));
  fail_unless (m.is_final && m.msg == NULL);
  fail_unless_equals_uint64 (m.done, 48000);
  /* A partial with nothing new says nothing. */
  r->is_final = FALSE;
  fail_if (gst_stt_results_map (res, r, 0, 32000, 56000, 48000, 0, &m));
  /* Beside a second session, measured against a floor (the split point, 52000) past
   * its words: they are dropped, and the final is done at their end, not at the floor
   * (a word across the floor may still come, and must not be placed late). */
  r->is_final = TRUE;
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 56000, 52000, 0, &m));
  fail_unless (m.is_final && m.msg == NULL);
  fail_unless_equals_uint64 (m.done, 48000);
  r->is_final = FALSE;

  /* Send marks: what left before the horizon, or what the results reached. */
  gst_stt_results_mark_sent (res, 40000, 100);
  gst_stt_results_mark_sent (res, 56000, 200);
  fail_unless_equals_uint64 (gst_stt_results_vouched (res, 150), 48000);
  fail_unless_equals_uint64 (gst_stt_results_vouched (res, 250), 56000);
  gst_stt_results_end_connection (res);
  fail_unless_equals_uint64 (gst_stt_results_vouched (res, 250), 0);

  results_fixture_free (f);
}

GST_END_TEST;

/* A final that reaches the edge of the audio sent: the last EDGE_MS (250 ms) of it are
 * done with only where a word of the final lies (a word may be starting there, to come in
 * the next final), unless the end of the audio was sent. */
GST_START_TEST (test_results_final_at_edge)
{
  ResultsFixture *f = results_fixture_new (0);
  GstSttResults *res = f->res;
  SttResult *r = f->r;
  GstSttMapped m;

  /* 2 s sent; a final up to there, its word ending at 1.5 s. */
  r->is_final = TRUE;
  r->end = 2.0;
  r->text = g_strdup ("hello");
  add_word (r, "hello", 1.0, 1.5);
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 32000, 0, 0, &m));
  fail_unless_equals_uint64 (m.done, 32000 - 4000);
  gst_structure_free (m.msg);
  /* Its word reaches into the last 250 ms: done up to the word's end. */
  g_array_index (r->words, SttWord, 0).end = 1.9;
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 32000, 0, 0, &m));
  fail_unless_equals_uint64 (m.done, 30400);
  gst_structure_free (m.msg);
  /* Not at the edge (3 s sent): all of it. */
  fail_unless (gst_stt_results_map (res, r, 0, 48000, 48000, 0, 0, &m));
  fail_unless_equals_uint64 (m.done, 32000);
  gst_structure_free (m.msg);
  /* Text without word times (OpenAI): where its words lie is unknown, all of it. */
  g_array_set_size (r->words, 0);
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 32000, 0, 0, &m));
  fail_unless_equals_uint64 (m.done, 32000);
  gst_structure_free (m.msg);
  add_word (r, "hello", 1.0, 1.5);
  /* The end of the audio was sent: all of it. */
  gst_stt_results_set_sealed (res, TRUE);
  fail_unless (gst_stt_results_map (res, r, 0, 32000, 32000, 0, 0, &m));
  fail_unless_equals_uint64 (m.done, 32000);
  gst_structure_free (m.msg);

  results_fixture_free (f);
}

GST_END_TEST;

/* An object with nothing but the settings' properties, to drive the table as an
 * element does. */
typedef struct
{
  GObject parent;
  GstSttSettings set;
} TestSettings;
typedef GObjectClass TestSettingsClass;

GType test_settings_get_type (void);
G_DEFINE_TYPE (TestSettings, test_settings, G_TYPE_OBJECT);

static void
test_settings_set (GObject * o, guint id, const GValue * v, GParamSpec * pspec)
{
  gst_stt_settings_set_property (&((TestSettings *) o)->set, id - 1, v);
}

static void
test_settings_get (GObject * o, guint id, GValue * v, GParamSpec * pspec)
{
  gst_stt_settings_get_property (&((TestSettings *) o)->set, id - 1, v);
}

static void
test_settings_finalize (GObject * o)
{
  gst_stt_settings_clear (&((TestSettings *) o)->set);
  G_OBJECT_CLASS (test_settings_parent_class)->finalize (o);
}

static void
test_settings_class_init (TestSettingsClass * klass)
{
  klass->set_property = test_settings_set;
  klass->get_property = test_settings_get;
  klass->finalize = test_settings_finalize;
  fail_unless_equals_int (gst_stt_settings_install_properties (klass, 1),
      1 + gst_stt_settings_n_properties ());
}

static void
test_settings_init (TestSettings * t)
{
  gst_stt_settings_init (&t->set);
}

/* Every property of the table reads back its spec's default on a fresh object, a value
 * set reads back (secrets as ***), a copy is deep, and set-by-name parses strings,
 * checks ranges and refuses what is not a setting. */
GST_START_TEST (test_settings_table)
{
  TestSettings *t = g_object_new (test_settings_get_type (), NULL);
  GParamSpec **specs;
  GstSttSettings copy;
  GValue v = G_VALUE_INIT;
  GError *err = NULL;
  guint n, i;

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (t), &n);
  fail_unless_equals_int (n, gst_stt_settings_n_properties ());
  for (i = 0; i < n; i++) {
    GValue got = G_VALUE_INIT;

    g_value_init (&got, specs[i]->value_type);
    g_object_get_property (G_OBJECT (t), specs[i]->name, &got);
    if (g_param_values_cmp (specs[i], &got, g_param_spec_get_default_value (specs[i])))
      fail ("%s: default %s, reads %s", specs[i]->name,
          g_strdup_value_contents (g_param_spec_get_default_value (specs[i])),
          g_strdup_value_contents (&got));
    fail_unless (specs[i]->flags & GST_PARAM_MUTABLE_READY, "%s", specs[i]->name);
    g_value_unset (&got);
  }
  g_free (specs);
  fail_unless_equals_string (t->set.provider_name, "vosk");
  fail_unless_equals_uint64 (t->set.latency, 3 * GST_SECOND);
  fail_unless_equals_int (t->set.reconnect_max_attempts, -1);

  {
    gchar *key = NULL, *provider = NULL;
    guint latency;
    GstStructure *params = gst_structure_new ("p", "endpointing", G_TYPE_INT, 300,
        NULL);

    g_object_set (t, "api-key", "sekrit", "latency", 1500, "params", params,
        "provider", NULL, "language", "de", NULL);
    gst_structure_free (params);
    g_object_get (t, "api-key", &key, "latency", &latency, "provider", &provider, NULL);
    fail_unless_equals_string (key, "***");
    fail_unless_equals_string (t->set.api_key, "sekrit");
    fail_unless_equals_string (provider, "vosk");
    fail_unless_equals_string (t->set.language, "de");
    fail_unless_equals_int (latency, 1500);
    fail_unless_equals_uint64 (t->set.latency, 1500 * GST_MSECOND);
    fail_if (t->set.chunk_duration_set);
    g_object_set (t, "chunk-duration", (guint64) (200 * GST_MSECOND), NULL);
    fail_unless (t->set.chunk_duration_set);
    g_free (key);
    g_free (provider);
  }

  gst_stt_settings_copy (&copy, &t->set);
  fail_if (copy.api_key == t->set.api_key);
  fail_if (copy.params == t->set.params);
  fail_unless_equals_string (copy.api_key, "sekrit");
  fail_unless (gst_structure_is_equal (copy.params, t->set.params));

  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, "2500000000");
  fail_unless (gst_stt_settings_set_by_name (&copy, "stall-timeout", &v, &err));
  fail_unless_equals_uint64 (copy.stall_timeout, 2500 * GST_MSECOND);
  /* The element's, not a backup's: one ring, one output. */
  g_value_set_string (&v, "2500");
  fail_if (gst_stt_settings_set_by_name (&copy, "latency", &v, &err));
  g_clear_error (&err);
  g_value_set_string (&v, "ws://127.0.0.1:2700");
  fail_unless (gst_stt_settings_set_by_name (&copy, "url", &v, &err));
  fail_unless_equals_string (copy.url, "ws://127.0.0.1:2700");
  g_value_set_string (&v, "realtime");
  fail_unless (gst_stt_settings_set_by_name (&copy, "pacing", &v, &err));
  fail_unless_equals_int (copy.pacing, GST_STT_PACING_REALTIME);
  g_value_set_string (&v, "p, smart_format=true");
  fail_unless (gst_stt_settings_set_by_name (&copy, "params", &v, &err));
  fail_unless (gst_structure_has_field (copy.params, "smart_format"));
  g_value_set_string (&v, "5");
  fail_unless (gst_stt_settings_set_by_name (&copy, "chunk-duration", &v, &err) == FALSE);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  g_clear_error (&err);
  g_value_set_string (&v, "not a number");
  fail_if (gst_stt_settings_set_by_name (&copy, "stall-timeout", &v, &err));
  g_clear_error (&err);
  fail_if (gst_stt_settings_set_by_name (&copy, "no-such-thing", &v, &err));
  g_clear_error (&err);
  g_value_set_string (&v, "deepgram");
  fail_if (gst_stt_settings_set_by_name (&copy, "provider", &v, &err));
  g_clear_error (&err);
  g_value_unset (&v);
  g_value_init (&v, G_TYPE_INT);
  g_value_set_int (&v, 4);
  fail_unless (gst_stt_settings_set_by_name (&copy, "reconnect-max-attempts", &v, &err));
  fail_unless_equals_int (copy.reconnect_max_attempts, 4);
  g_value_unset (&v);

  /* A backup: where and how to reach it is its own, the rest the element's; its
   * secrets read back as ***. */
  {
    GstStructure *b = gst_structure_from_string ("vosk, url=ws://127.0.0.1:2700, "
        "api-key=backup-secret, stall-timeout=(guint64)4000000000", NULL);
    GValue arr = G_VALUE_INIT, item = G_VALUE_INIT;
    GstSttSettings backup;
    const GstStructure *back;

    fail_unless (b != NULL);
    g_value_init (&arr, GST_TYPE_ARRAY);
    g_value_init (&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&item, b);
    gst_value_array_append_and_take_value (&arr, &item);
    g_object_set (t, "language-code", "fr", "model", "nova-3", NULL);
    g_object_set_property (G_OBJECT (t), "backups", &arr);
    g_value_unset (&arr);
    g_value_init (&arr, GST_TYPE_ARRAY);
    g_object_get_property (G_OBJECT (t), "backups", &arr);
    fail_unless_equals_int (gst_value_array_get_size (&arr), 1);
    back = gst_value_get_structure (gst_value_array_get_value (&arr, 0));
    fail_unless_equals_string (gst_structure_get_string (back, "api-key"), "***");
    fail_unless_equals_string (gst_structure_get_string (back, "url"),
        "ws://127.0.0.1:2700");
    g_value_unset (&arr);

    fail_unless (gst_stt_settings_for_backup (&backup, &t->set,
            g_ptr_array_index (t->set.backups, 0), &err));
    fail_unless_equals_string (backup.provider_name, "vosk");
    fail_unless_equals_string (backup.url, "ws://127.0.0.1:2700");
    fail_unless_equals_string (backup.api_key, "backup-secret");
    fail_unless (backup.model == NULL && backup.params == NULL);
    fail_unless (backup.backups == NULL);
    fail_unless_equals_string (backup.language, "fr");
    fail_unless_equals_uint64 (backup.latency, 1500 * GST_MSECOND);
    fail_unless_equals_uint64 (backup.stall_timeout, 4 * GST_SECOND);
    gst_stt_settings_clear (&backup);

    b = gst_structure_from_string ("nosuch, url=ws://x", NULL);
    fail_if (gst_stt_settings_for_backup (&backup, &t->set, b, &err));
    fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
    g_clear_error (&err);
    gst_structure_free (b);
    b = gst_structure_from_string ("deepgram, latency=100", NULL);
    fail_if (gst_stt_settings_for_backup (&backup, &t->set, b, &err));
    g_clear_error (&err);
    gst_structure_free (b);
  }

  /* The element's own settings did not move. */
  fail_unless_equals_uint64 (t->set.latency, 1500 * GST_MSECOND);
  fail_unless_equals_int (t->set.reconnect_max_attempts, -1);
  gst_stt_settings_clear (&copy);
  fail_unless (copy.api_key == NULL && copy.params == NULL && copy.url == NULL);
  g_object_unref (t);
}

GST_END_TEST;

static Suite *
engine_suite (void)
{
  Suite *s = suite_create ("engine");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ring_read_commit);
  tcase_add_test (tc, test_settings_table);
  tcase_add_test (tc, test_ring_wraps_and_drops_oldest);
  tcase_add_test (tc, test_ring_blocks_until_commit);
  tcase_add_test (tc, test_ring_keep);
  tcase_add_test (tc, test_ring_grows_after_commit);
  tcase_add_test (tc, test_ring_spool);
  tcase_add_test (tc, test_ring_outage_pattern);
  tcase_add_test (tc, test_timeline_anchors);
  tcase_add_test (tc, test_stats_percentiles);
  tcase_add_test (tc, test_cues_long_segment);
  tcase_add_test (tc, test_cues_max_duration);
  tcase_add_test (tc, test_cues_lines);
  tcase_add_test (tc, test_jwt_rfc7515_a1);
  tcase_add_test (tc, test_jwt_rfc7519_claims);
  tcase_add_test (tc, test_jwt_mint);
  tcase_add_test (tc, test_retry_backoff);
  tcase_add_test (tc, test_retry_after_and_max_attempts);
  tcase_add_test (tc, test_retry_decide_connect);
  tcase_add_test (tc, test_retry_decide_token_refusal);
  tcase_add_test (tc, test_retry_decide_close_and_in_band);
  tcase_add_test (tc, test_retry_decide_setup_and_token_service);
  tcase_add_test (tc, test_credentials_take_token);
  tcase_add_test (tc, test_results_map);
  tcase_add_test (tc, test_split_boundary);
  tcase_add_test (tc, test_results_final_at_edge);
  return s;
}

GST_CHECK_MAIN (engine);
