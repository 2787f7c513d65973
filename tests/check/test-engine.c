/* Unit tests of the engine's pieces: the replay ring and the timeline. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include "gststtring.h"
#include "gststttimeline.h"
#include "gststtstats.h"

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
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 5000, FALSE, 1, &dropped));
  fill (in, 5000, 5000);
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 5000, FALSE, 2, &dropped));
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
  /* Capacity 20000 samples; write 50000 in odd-sized pieces without blocking. */
  GstSttRing *ring = gst_stt_ring_new (2, 20000);
  gint16 in[3333], out[20000];
  guint64 written = 0, dropped = 0, pos = 0, start, end;
  gsize n, i;

  while (written < 50000) {
    gsize k = MIN (3333, 50000 - written);
    fill (in, k, (gint16) (written % 30000));
    for (i = 0; i < k; i++)
      in[i] = (gint16) ((written + i) % 30000);
    fail_unless (gst_stt_ring_write (ring, (guint8 *) in, k, FALSE, 0, &dropped));
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

GST_END_TEST;

/* Growing while the content does not start at offset 0 keeps every sample in place. */
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
    fail_unless (gst_stt_ring_write (ring, (guint8 *) (in + written), k, FALSE, 0, NULL));
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
    fail_unless (gst_stt_ring_write (ring, (guint8 *) buf, 320, FALSE, 0, NULL)); \
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

  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 10000, TRUE, 0, NULL));
  t = g_thread_new ("commit", commit_later, ring);
  /* Non-live: waits for room instead of dropping. */
  fail_unless (gst_stt_ring_write (ring, (guint8 *) in, 4000, TRUE, 0, NULL));
  g_thread_join (t);
  gst_stt_ring_get_range (ring, &start, &end);
  fail_unless_equals_uint64 (start, 5000);
  fail_unless_equals_uint64 (end, 14000);

  /* Flushing releases a blocked writer with FALSE. */
  gst_stt_ring_set_flushing (ring, TRUE);
  fail_if (gst_stt_ring_write (ring, (guint8 *) in, 9000, TRUE, 0, NULL));
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

static Suite *
engine_suite (void)
{
  Suite *s = suite_create ("engine");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ring_read_commit);
  tcase_add_test (tc, test_ring_wraps_and_drops_oldest);
  tcase_add_test (tc, test_ring_blocks_until_commit);
  tcase_add_test (tc, test_ring_grows_after_commit);
  tcase_add_test (tc, test_ring_outage_pattern);
  tcase_add_test (tc, test_timeline_anchors);
  tcase_add_test (tc, test_stats_percentiles);
  return s;
}

GST_CHECK_MAIN (engine);
