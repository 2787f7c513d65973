/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-stall: the streaming thread never waits on the network, and memory stays bounded
 * (README.md, "Stalled server, long outage, long run").
 *
 * K live streams (audiotestsrc is-live=true, 100 ms buffers) into stttranscribe for
 * --duration seconds (default 600). At --outage-start the bench-server process is
 * stopped with SIGSTOP: it no longer reads (TCP backpressure) nor answers, its sockets
 * stay open, new connections are never answered; after --outage seconds it gets SIGCONT.
 * Every 10 s: RSS, the longest chain-function call and the longest time between two
 * buffers reaching the element (a blocked streaming thread would show in both), buffers
 * received vs. expected, and the element's connections / reconnects / audio dropped.
 * At the end, EOS: the audio produced is compared with what the server received plus
 * what the ring dropped (max-buffer-time, default 60 s) during the outage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-common.h"

int
main (int argc, char **argv)
{
  gint k = 4;
  gdouble duration = 600, outage_start = 60, outage = 180;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  BenchServer *server;
  BenchStreamConfig cfg = { 0, };
  GPtrArray *streams = g_ptr_array_new ();
  gdouble t0, next, chain_all = 0, gap_all = 0;
  guint64 rss_min = G_MAXUINT64, rss_max = 0, rss_first = 0, rss_last = 0, rss_pre = 0;
  guint64 rss_outage_max = 0, rss_after_max = 0;
  guint64 produced = 0, received = 0, dropped_ns = 0;
  gboolean stopped = FALSE, resumed = FALSE;
  GHashTable *stats;
  guint i, n_eos;
  GOptionEntry entries[] = {
    {"streams", 0, 0, G_OPTION_ARG_INT, &k, "Live streams (default 4)", "K"},
    {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Run length, s (default 600)", "S"},
    {"outage-start", 0, 0, G_OPTION_ARG_DOUBLE, &outage_start,
        "When the server stops, s (default 60)", "S"},
    {"outage", 0, 0, G_OPTION_ARG_DOUBLE, &outage,
        "How long it stays stopped, s (default 180; 0 = no outage)", "S"},
    {NULL}
  };

  ctx = g_option_context_new ("- stalled server, long outage, long run");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  bench_init (&argc, &argv, "bench-stall");
  server = bench_server_start (NULL);
  if (server == NULL)
    return 1;
  printf ("# %d live streams, %.0f s; server stopped (SIGSTOP) at %.0f s for %.0f s; "
      "100 ms buffers; element defaults (max-buffer-time 60 s, stall-timeout 15 s)\n",
      k, duration, outage_start, outage);
  printf ("%6s %-8s %9s %11s %11s %9s %6s %6s %10s\n", "t_s", "server", "rss_MiB",
      "chain_max_ms", "gap_max_ms", "buffers", "conns", "recon", "dropped_s");

  cfg.element = "stttranscribe";
  cfg.url = server->url;
  cfg.rate = 16000;
  cfg.samples_per_buffer = 1600;
  for (i = 0; i < (guint) k; i++) {
    BenchStream *st = bench_stream_new (i, &cfg);

    g_ptr_array_add (streams, st);
    gst_element_set_state (st->pipeline, GST_STATE_PLAYING);
  }
  t0 = bench_now ();
  next = t0 + 10;
  while (bench_now () < t0 + duration) {
    gdouble t = bench_now () - t0;

    g_usleep (50000);
    if (outage > 0 && !stopped && t >= outage_start) {
      rss_pre = bench_rss_bytes ();
      bench_server_signal (server, SIGSTOP);
      stopped = TRUE;
    }
    if (stopped && !resumed && t >= outage_start + outage) {
      bench_server_signal (server, SIGCONT);
      resumed = TRUE;
    }
    if (bench_now () >= next) {
      guint64 rss = bench_rss_bytes (), buffers = 0, conns = 0, recon = 0, dropped = 0;
      gint64 chain = 0, gap = 0;

      for (i = 0; i < streams->len; i++) {
        BenchStream *st = g_ptr_array_index (streams, i);
        GstStructure *s = bench_stream_stats (st);
        guint64 c = 0, r = 0;
        GstClockTime d = 0;
        gint64 c_ns = __atomic_exchange_n (&st->chain_max_ns, 0, __ATOMIC_RELAXED);
        gint64 g_us = __atomic_exchange_n (&st->gap_max_us, 0, __ATOMIC_RELAXED);

        chain = MAX (chain, c_ns);
        gap = MAX (gap, g_us);
        buffers += __atomic_load_n (&st->buffers, __ATOMIC_RELAXED);
        gst_structure_get (s, "connections", G_TYPE_UINT64, &c, "reconnects", G_TYPE_UINT64,
            &r, "audio-dropped", GST_TYPE_CLOCK_TIME, &d, NULL);
        conns += c;
        recon += r;
        dropped += d;
        gst_structure_free (s);
      }
      chain_all = MAX (chain_all, chain / 1e6);
      gap_all = MAX (gap_all, gap / 1e3);
      rss_min = MIN (rss_min, rss);
      rss_max = MAX (rss_max, rss);
      if (rss_first == 0)
        rss_first = rss;
      rss_last = rss;
      if (stopped && !resumed)
        rss_outage_max = MAX (rss_outage_max, rss);
      if (resumed)
        rss_after_max = MAX (rss_after_max, rss);
      printf ("%6.0f %-8s %9.1f %11.2f %11.1f %4" G_GUINT64_FORMAT "/%-4.0f %6"
          G_GUINT64_FORMAT " %6" G_GUINT64_FORMAT " %10.1f\n", bench_now () - t0,
          stopped && !resumed ? "STOPPED" : "up", rss / 1048576.0, chain / 1e6, gap / 1e3,
          buffers / k, (bench_now () - t0) * 10, conns, recon, dropped / 1e9);
      fflush (stdout);
      next += 10;
    }
  }
  if (stopped && !resumed)
    bench_server_signal (server, SIGCONT);
  if (g_getenv ("BENCH_STALL_EXIT_EARLY")) {
    /* For heap profilers: what is alive now shows up as "leaked". */
    bench_server_stop (server);
    _exit (0);
  }

  n_eos = bench_streams_eos (streams, 120);
  stats = bench_server_stats (server, NULL, NULL);
  for (i = 0; i < streams->len; i++) {
    BenchStream *st = g_ptr_array_index (streams, i);
    g_autofree gchar *tag = g_strdup_printf ("s%u", i);
    guint64 *v = g_hash_table_lookup (stats, tag);
    GstStructure *s = bench_stream_stats (st);
    GstClockTime d = 0;

    gst_structure_get (s, "audio-dropped", GST_TYPE_CLOCK_TIME, &d, NULL);
    gst_structure_free (s);
    produced += st->in_bytes;
    received += v ? *v : 0;
    dropped_ns += d;
  }
  printf ("\nchain function: longest call %.2f ms; source: longest gap between buffers "
      "%.1f ms (buffers are 100 ms)\n", chain_all, gap_all);
  printf ("rss: first sample %.1f MiB, before the outage %.1f, max during it %.1f, max "
      "after it %.1f, last %.1f; min %.1f max %.1f MiB\n", rss_first / 1048576.0,
      rss_pre / 1048576.0, rss_outage_max / 1048576.0, rss_after_max / 1048576.0,
      rss_last / 1048576.0, rss_min / 1048576.0, rss_max / 1048576.0);
  printf ("audio: produced %.1f s, server received %.1f s (replays count twice), ring "
      "dropped %.1f s; EOS %u/%d\n", produced / 32000.0, received / 32000.0,
      dropped_ns / 1e9, n_eos, k);
  g_hash_table_unref (stats);
  for (i = 0; i < streams->len; i++)
    bench_stream_free (g_ptr_array_index (streams, i));
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  bench_server_stop (server);
  return 0;
}
