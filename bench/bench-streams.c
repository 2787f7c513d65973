/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-streams: K live streams in one process (README.md, "Concurrency").
 *
 * For each K of --streams: K pipelines `audiotestsrc is-live=true wave=ticks ! S16LE
 * 16 kHz mono ! stttranscribe provider=deepgram ! fakesink`, each on its own connection
 * to one bench-server process (Deepgram-shaped answers: an interim Results per second of
 * audio, a final every 3 s). After they are all connected and a warm-up, a window of
 * --duration seconds measures this process: CPU %, RSS, threads (by name), the element's
 * chain function (longest call) and the source (longest time between two buffers).
 * Then EOS: every stream sends the rest and closes; the audio each stream produced is
 * compared with what the server received on its connection (tag s<index>), and the
 * elements' stt-stats give the send delay (arrival in the chain function to the frame
 * handed to the socket).
 *
 * --element none runs the same sources into fakesink: GStreamer's own cost, to subtract.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-common.h"

static gdouble
ms (GstClockTime t)
{
  return GST_CLOCK_TIME_IS_VALID (t) ? t / 1e6 : NAN;
}

static void
run (guint k, gdouble duration, const gchar * element, const gchar * extra, guint spb,
    gint server_threads)
{
  g_autofree gchar *threads_arg = g_strdup_printf ("%d", server_threads);
  const gchar *server_args[] = { "--interim-ms", "1000", "--final-ms", "3000", "--threads",
    threads_arg, NULL
  };
  BenchServer *server = NULL;
  GPtrArray *streams = g_ptr_array_new ();
  BenchStreamConfig cfg = { 0, };
  guint64 rss0, rss1, rss_max = 0;
  guint threads0, threads1, i, n_eos, n_open = 0, n_conns = 0;
  gdouble cpu0, cpu1, t0, t1, t_start, next;
  g_autofree gchar *kinds = NULL;
  gint64 chain_max = 0, gap_max = 0;
  GArray *p50 = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *p95 = g_array_new (FALSE, FALSE, sizeof (gdouble));
  GArray *p99 = g_array_new (FALSE, FALSE, sizeof (gdouble));
  guint64 produced = 0, received = 0, lost = 0, dropped_ns = 0, reconnects = 0;
  guint streams_losing = 0, over = 0;
  gboolean baseline = element == NULL;
  GHashTable *stats;

  if (!baseline) {
    server = bench_server_start (server_args);
    if (server == NULL)
      exit (1);
  }
  rss0 = bench_rss_bytes ();
  threads0 = bench_n_threads (NULL);
  cfg.element = element;
  cfg.extra = extra;
  cfg.url = server ? server->url : NULL;
  cfg.rate = 16000;
  cfg.samples_per_buffer = spb;
  t_start = bench_now ();
  for (i = 0; i < k; i++) {
    BenchStream *st = bench_stream_new (i, &cfg);

    g_ptr_array_add (streams, st);
    if (gst_element_set_state (st->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      g_error ("stream %u does not start", i);
  }
  /* All connected (bounded), then 5 s of warm-up. */
  if (server) {
    gdouble deadline = bench_now () + 60 + k / 20.0;

    do {
      GHashTable *h;

      g_usleep (200000);
      h = bench_server_stats (server, &n_open, &n_conns);
      g_hash_table_unref (h);
    } while (n_open < k && bench_now () < deadline);
    if (n_open < k)
      g_printerr ("K=%u: only %u connections open after %.0f s\n", k, n_open,
          bench_now () - t_start);
  }
  printf ("# K=%u: started in %.1f s (%u connections)\n", k, bench_now () - t_start,
      n_open);
  g_usleep (5 * G_USEC_PER_SEC);

  for (i = 0; i < k; i++) {
    BenchStream *st = g_ptr_array_index (streams, i);
    __atomic_store_n (&st->chain_max_ns, 0, __ATOMIC_RELAXED);
    __atomic_store_n (&st->gap_max_us, 0, __ATOMIC_RELAXED);
  }
  cpu0 = bench_cpu_seconds ();
  t0 = bench_now ();
  next = t0 + 10;
  while ((t1 = bench_now ()) < t0 + duration) {
    g_usleep (100000);
    if (bench_now () >= next || bench_now () >= t0 + duration) {
      guint64 rss = bench_rss_bytes ();

      rss_max = MAX (rss_max, rss);
      printf ("#   t=%5.0f s  cpu %5.1f %%  rss %7.1f MiB  threads %u\n", bench_now () - t0,
          100 * (bench_cpu_seconds () - cpu0) / (bench_now () - t0), rss / 1048576.0,
          bench_n_threads (NULL));
      fflush (stdout);
      next += 10;
    }
  }
  cpu1 = bench_cpu_seconds ();
  t1 = bench_now ();
  rss1 = bench_rss_bytes ();
  threads1 = bench_n_threads (&kinds);
  for (i = 0; i < k; i++) {
    BenchStream *st = g_ptr_array_index (streams, i);
    GstStructure *s = bench_stream_stats (st);

    chain_max = MAX (chain_max, __atomic_load_n (&st->chain_max_ns, __ATOMIC_RELAXED));
    gap_max = MAX (gap_max, __atomic_load_n (&st->gap_max_us, __ATOMIC_RELAXED));
    if (s) {
      GstClockTime a, b, c, d;
      guint64 r;
      gdouble x;

      gst_structure_get (s, "send-delay-p50", GST_TYPE_CLOCK_TIME, &a, "send-delay-p95",
          GST_TYPE_CLOCK_TIME, &b, "send-delay-p99", GST_TYPE_CLOCK_TIME, &c,
          "audio-dropped", GST_TYPE_CLOCK_TIME, &d, "reconnects", G_TYPE_UINT64, &r, NULL);
      x = ms (a);
      g_array_append_val (p50, x);
      x = ms (b);
      g_array_append_val (p95, x);
      x = ms (c);
      g_array_append_val (p99, x);
      dropped_ns += d;
      reconnects += r;
      gst_structure_free (s);
    }
  }

  n_eos = bench_streams_eos (streams, 60 + k / 20.0);
  stats = server ? bench_server_stats (server, NULL, NULL) : NULL;
  for (i = 0; i < k; i++) {
    BenchStream *st = g_ptr_array_index (streams, i);
    g_autofree gchar *tag = g_strdup_printf ("s%u", i);
    guint64 *v = stats ? g_hash_table_lookup (stats, tag) : NULL;
    guint64 in = __atomic_load_n (&st->in_bytes, __ATOMIC_RELAXED);

    produced += in;
    if (stats) {
      received += v ? *v : 0;
      if (!v || *v < in) {
        lost += in - (v ? *v : 0);
        streams_losing++;
      }
    }
  }

  printf ("K=%u %s: cpu %.1f %% (%.3f %%/stream)  rss %.1f MiB (+%.1f MiB, %.0f KiB/stream; "
      "max %.1f MiB)  threads %u (+%u: %s)\n", k, baseline ? "baseline" : element,
      100 * (cpu1 - cpu0) / (t1 - t0), 100 * (cpu1 - cpu0) / (t1 - t0) / k, rss1 / 1048576.0,
      (rss1 - rss0) / 1048576.0, (rss1 - rss0) / 1024.0 / k, rss_max / 1048576.0, threads1,
      threads1 - threads0, kinds);
  printf ("K=%u %s: chain max %.2f ms, source max gap %.1f ms (buffer %.0f ms), EOS %u/%u\n",
      k, baseline ? "baseline" : element, chain_max / 1e6, gap_max / 1e3,
      spb * 1000.0 / 16000, n_eos, k);
  if (!baseline) {
    printf ("K=%u %s: audio produced %.1f s, server received %.1f s, lost %.3f s in %u "
        "stream(s); ring dropped %.3f s; reconnects %" G_GUINT64_FORMAT "\n", k, element,
        produced / 32000.0, received / 32000.0, lost / 32000.0, streams_losing,
        dropped_ns / 1e9, reconnects);
    for (i = 0; i < p99->len; i++)
      over += g_array_index (p99, gdouble, i) >= 50.0;
    printf ("K=%u %s: send delay ms: p50 median %.2f max %.2f | p95 median %.2f max %.2f | "
        "p99 median %.2f p90-of-streams %.2f max %.2f | streams with p99 >= 50 ms: %u\n", k,
        element, bench_percentile (p50, 50), bench_percentile (p50, 100),
        bench_percentile (p95, 50), bench_percentile (p95, 100), bench_percentile (p99, 50),
        bench_percentile (p99, 90), bench_percentile (p99, 100), over);
  }
  fflush (stdout);

  for (i = 0; i < k; i++)
    bench_stream_free (g_ptr_array_index (streams, i));
  g_ptr_array_unref (streams);
  if (stats)
    g_hash_table_unref (stats);
  bench_server_stop (server);
  g_array_unref (p50);
  g_array_unref (p95);
  g_array_unref (p99);
}

static void
warm_up (const gchar * element)
{
  BenchServer *server = bench_server_start (NULL);
  BenchStreamConfig cfg = { 0, };
  GPtrArray *one = g_ptr_array_new ();
  BenchStream *st;

  if (server == NULL)
    exit (1);
  cfg.element = element;
  cfg.url = server->url;
  cfg.rate = 16000;
  cfg.samples_per_buffer = 1600;
  st = bench_stream_new (999999, &cfg);
  g_ptr_array_add (one, st);
  gst_element_set_state (st->pipeline, GST_STATE_PLAYING);
  g_usleep (2 * G_USEC_PER_SEC);
  bench_streams_eos (one, 20);
  bench_stream_free (st);
  g_ptr_array_unref (one);
  bench_server_stop (server);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *list = g_strdup ("10,100,500,1000");
  g_autofree gchar *element = g_strdup ("stttranscribe");
  g_autofree gchar *extra = NULL;
  gdouble duration = 60;
  gint spb = 1600, server_threads = 1;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  gchar **ks, **kp;
  GOptionEntry entries[] = {
    {"streams", 0, 0, G_OPTION_ARG_STRING, &list, "Stream counts (default 10,100,500,1000)",
        "K,K,..."},
    {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration,
        "Measured window per K, in seconds (default 60)", "S"},
    {"element", 0, 0, G_OPTION_ARG_STRING, &element,
        "stttranscribe (default), sttsink, or none (sources into fakesink: the baseline)",
        "NAME"},
    {"properties", 0, 0, G_OPTION_ARG_STRING, &extra,
        "More properties of the element, as in gst-launch (e.g. \"keepalive-interval=0\")",
        "PROPS"},
    {"samples-per-buffer", 0, 0, G_OPTION_ARG_INT, &spb,
        "Source buffer size (default 1600 = 100 ms, one chunk)", "N"},
    {"server-threads", 0, 0, G_OPTION_ARG_INT, &server_threads,
        "bench-server threads (default 1)", "N"},
    {NULL}
  };

  ctx = g_option_context_new ("- K live streams in one process");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  bench_init (&argc, &argv, "bench-streams");
  /* One short stream first: libraries, the I/O pool and GLib's own threads start here, so
   * the figures below are per stream. */
  if (!g_str_equal (element, "none"))
    warm_up (element);
  printf ("# %.0f s window per K, %d-sample buffers (%.0f ms), 16 kHz mono S16LE, "
      "I/O threads %s\n", duration, spb, spb / 16.0,
      g_getenv ("STT_IO_THREADS") ? g_getenv ("STT_IO_THREADS") : "= nproc");
  ks = g_strsplit (list, ",", -1);
  for (kp = ks; *kp; kp++) {
    guint k = (guint) atoi (*kp);

    if (k > 0)
      run (k, duration, g_str_equal (element, "none") ? NULL : element, extra, (guint) spb,
          server_threads);
  }
  g_strfreev (ks);
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  return 0;
}
