/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* soak: one live stream for hours through a connection cut every N seconds (issue 18;
 * README.md, "Soak").
 *
 * A live appsrc (is-live, 20 ms buffers made on the fly and pushed at the pace of real
 * time) into stttranscribe at its default settings (provider deepgram, url, api-key
 * only), to tests/servers' stt-test-server --protocol deepgram in a separate process
 * (it records every byte it receives, so it must not count in this process's memory),
 * reached through an in-process stt-fault-proxy that resets every connection (RST, no
 * close frame: drop_all) every --cut-every seconds.
 *
 * Speech: one word slot every 0.5 s, a --tone seconds long tone in each (0.15 s by
 * default, so that the server's 300 ms endpointing makes each word a final of its own),
 * frequencies such that neighbours differ. Every word of every final on the bus is
 * matched to the slot whose tone starts nearest its `start`: a slot heard exactly once
 * with the right word within 50 ms of its tone is right; none is lost, more than once
 * doubled (each extra counts), a word off by more than 50 ms mistimed, a word not the
 * slot's wrong. Only a count per slot is kept (one byte).
 *
 * Every minute: RSS (/proc/self/statm resident, the same as VmRSS), open fds
 * (/proc/self/fd), connections through the proxy, the element's reconnects and
 * audio dropped, and the word counts so far (slots more than 10 s old). At the end EOS,
 * then the figures: RSS at 10 minutes and at the end, cuts survived (the server's
 * connections - 1; the proxy's count, which is the server's since it refuses nothing),
 * words lost / doubled / mistimed / wrong. Exits 1 if any slot was lost or doubled. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-common.h"
#include "stt-fault-proxy.h"

#define TOLERANCE 0.050

typedef struct
{
  BenchSlots slots;
  guint8 *count;                /* words heard per slot (saturates at 255) */
  guint64 words, mistimed, wrong, stray;
  gdouble worst_off;            /* s, of the words matched to their slot */
} Tally;

static void
on_word (const gchar * text, GstClockTime start, GstClockTime end, gpointer data)
{
  Tally *t = data;
  gdouble at = GST_CLOCK_TIME_IS_VALID (start) ? start / 1e9 : -1;
  gint64 k = at < 0 ? -1 : bench_slot_nearest (&t->slots, at);
  g_autofree gchar *want = NULL;
  gdouble off;

  t->words++;
  if (k < 0) {
    t->stray++;
    return;
  }
  want = bench_slot_word ((guint64) k);
  if (!g_str_equal (text, want)) {
    t->wrong++;
    return;
  }
  if (t->count[k] < 255)
    t->count[k]++;
  off = fabs (at - bench_slot_start (&t->slots, (guint64) k));
  t->worst_off = MAX (t->worst_off, off);
  if (off > TOLERANCE)
    t->mistimed++;
}

/* Lost and doubled among the slots whose tone started before @upto seconds. */
static void
tally_slots (Tally * t, gdouble upto, guint64 * n, guint64 * lost, guint64 * doubled)
{
  guint64 k;

  *n = *lost = *doubled = 0;
  for (k = 0; k < t->slots.n && bench_slot_start (&t->slots, k) < upto; k++) {
    (*n)++;
    if (t->count[k] == 0)
      (*lost)++;
    else if (t->count[k] > 1)
      *doubled += t->count[k] - 1;
  }
}

static guint
n_fds (void)
{
  GDir *dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir))
    n++;
  g_dir_close (dir);
  return n - 1;                 /* the directory's own */
}

static void
element_stats (BenchLive * live, guint64 * reconnects, gdouble * dropped_s)
{
  GstStructure *s = NULL;
  GstClockTime d = 0;

  *reconnects = 0;
  g_object_get (live->stt, "stats", &s, NULL);
  if (s) {
    gst_structure_get (s, "reconnects", G_TYPE_UINT64, reconnects, "audio-dropped",
        GST_TYPE_CLOCK_TIME, &d, NULL);
    gst_structure_free (s);
  }
  *dropped_s = d / 1e9;
}

int
main (int argc, char **argv)
{
  gdouble hours = 1, minutes = 0, cut_every = 30, tone = 0.15, duration, t;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *server_args[] = { "--protocol", "deepgram", NULL };
  BenchServer *server;
  SttFaultProxy *proxy;
  BenchLive *live;
  Tally tally = { {0.5, 0.5, 0.15, 0}, NULL, 0, 0, 0, 0, 0 };
  g_autofree gchar *url = NULL;
  gdouble next_sample = 60, next_cut, end_wait;
  guint64 rss_10 = 0, rss_end, rss_min = G_MAXUINT64, rss_max = 0, cuts = 0;
  guint fds_first = 0, fds_end, fds_max = 0;
  guint64 n, lost, doubled, reconnects;
  gdouble dropped;
  gboolean eos = FALSE;
  gchar *err_text = NULL;
  guint conns;
  GOptionEntry entries[] = {
    {"hours", 0, 0, G_OPTION_ARG_DOUBLE, &hours, "Run length, hours (default 1)", "H"},
    {"minutes", 0, 0, G_OPTION_ARG_DOUBLE, &minutes,
        "Run length in minutes instead (for short runs)", "M"},
    {"cut-every", 0, 0, G_OPTION_ARG_DOUBLE, &cut_every,
        "Reset the connection every S seconds (default 30; 0 = never)", "S"},
    {"tone", 0, 0, G_OPTION_ARG_DOUBLE, &tone,
        "Tone length in each 0.5 s slot, s (default 0.15)", "S"},
    {NULL}
  };

  ctx = g_option_context_new ("- one live stream for hours, connection cut every N s");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  bench_init (&argc, &argv, "soak");
  duration = minutes > 0 ? minutes * 60 : hours * 3600;
  tally.slots.length = tone;
  /* The last tone ends at least 1 s before the end of the input. */
  tally.slots.n = (guint64) floor ((duration - 1.0 - tone - tally.slots.first) /
      tally.slots.period) + 1;
  tally.count = g_new0 (guint8, tally.slots.n);

  server = bench_server_start_program (STT_TEST_SERVER_PATH, server_args);
  if (server == NULL)
    return 2;
  proxy = stt_fault_proxy_new (server->port, &error);
  if (proxy == NULL) {
    g_printerr ("proxy: %s\n", error->message);
    return 2;
  }
  url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen", stt_fault_proxy_get_port (proxy));
  printf ("# %.0f s live (%.2f h), S16LE mono 16 kHz in 20 ms buffers; %" G_GUINT64_FORMAT
      " word slots of 0.5 s (tone %.2f s); connection reset (drop_all) every %g s; "
      "element defaults (provider deepgram, url, api-key)\n", duration, duration / 3600,
      tally.slots.n, tone, cut_every);
  printf ("%7s %8s %5s %6s %6s %9s %8s %6s %7s %8s %6s\n", "t_min", "rss_MiB", "fds",
      "conns", "recon", "dropped_s", "slots", "lost", "doubled", "mistimed", "wrong");
  fflush (stdout);

  live = bench_live_new (&tally.slots, duration);
  g_object_set (live->stt, "provider", "deepgram", "url", url, "api-key", "test-key", NULL);
  bench_live_start (live);
  next_cut = cut_every > 0 ? cut_every : G_MAXDOUBLE;
  end_wait = G_MAXDOUBLE;
  while (!eos && err_text == NULL) {
    GstMessage *msg = gst_bus_timed_pop (live->bus, 100 * GST_MSECOND);

    t = bench_live_time (live);
    if (msg) {
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
        eos = TRUE;
      } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        GError *e = NULL;
        gst_message_parse_error (msg, &e, NULL);
        err_text = g_strdup (e->message);
        g_error_free (e);
      } else {
        bench_final_words (msg, on_word, &tally);
      }
      gst_message_unref (msg);
    }
    if (t >= next_cut && t < duration) {
      stt_fault_proxy_drop_all (proxy);
      cuts++;
      next_cut += cut_every;
    }
    if (t >= next_sample) {
      guint64 rss = bench_rss_bytes ();
      guint fds = n_fds ();

      if (fds_first == 0)
        fds_first = fds;
      fds_max = MAX (fds_max, fds);
      rss_min = MIN (rss_min, rss);
      rss_max = MAX (rss_max, rss);
      if (rss_10 == 0 && t >= 600)
        rss_10 = rss;
      element_stats (live, &reconnects, &dropped);
      tally_slots (&tally, t - 10, &n, &lost, &doubled);
      printf ("%7.0f %8.2f %5u %6u %6" G_GUINT64_FORMAT " %9.1f %8" G_GUINT64_FORMAT
          " %6" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT " %6"
          G_GUINT64_FORMAT "\n", t / 60, rss / 1048576.0, fds,
          stt_fault_proxy_get_n_connections (proxy), reconnects, dropped, n, lost, doubled,
          tally.mistimed, tally.wrong);
      fflush (stdout);
      next_sample += 60;
    }
    if (t >= duration && end_wait == G_MAXDOUBLE)
      end_wait = t + 60;        /* EOS must come within a minute of the input's end */
    if (t >= end_wait)
      break;
  }
  rss_end = bench_rss_bytes ();
  fds_end = n_fds ();
  element_stats (live, &reconnects, &dropped);
  conns = stt_fault_proxy_get_n_connections (proxy);
  tally_slots (&tally, G_MAXDOUBLE, &n, &lost, &doubled);

  printf ("\nrun: %.1f min of live audio, %s\n", duration / 60, eos ? "EOS" :
      err_text ? err_text : "no EOS within a minute of the end");
  printf ("connections: %u (cuts made %" G_GUINT64_FORMAT ", survived %u), element "
      "reconnects %" G_GUINT64_FORMAT ", audio dropped %.1f s\n", conns, cuts,
      conns ? conns - 1 : 0, reconnects, dropped);
  printf ("words: %" G_GUINT64_FORMAT " slots, %" G_GUINT64_FORMAT " words in finals; "
      "lost %" G_GUINT64_FORMAT ", doubled %" G_GUINT64_FORMAT ", mistimed (> 50 ms) %"
      G_GUINT64_FORMAT ", wrong word %" G_GUINT64_FORMAT ", outside any slot %"
      G_GUINT64_FORMAT "; worst offset %.1f ms\n", n, tally.words, lost, doubled,
      tally.mistimed, tally.wrong, tally.stray, tally.worst_off * 1e3);
  if (rss_10)
    printf ("rss: at 10 min %.2f MiB, at the end %.2f MiB, growth %+.2f MiB; min %.2f "
        "max %.2f MiB (minute samples)\n", rss_10 / 1048576.0, rss_end / 1048576.0,
        ((gdouble) rss_end - rss_10) / 1048576.0, rss_min / 1048576.0,
        rss_max / 1048576.0);
  else
    printf ("rss: at the end %.2f MiB (run shorter than 10 min); min %.2f max %.2f MiB "
        "(minute samples)\n", rss_end / 1048576.0,
        rss_min == G_MAXUINT64 ? 0 : rss_min / 1048576.0, rss_max / 1048576.0);
  printf ("fds: first minute %u, at the end %u, max %u\n", fds_first, fds_end, fds_max);
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  bench_live_free (live);
  stt_fault_proxy_free (proxy);
  bench_server_stop (server);
  g_free (tally.count);
  g_free (err_text);
  return lost || doubled || !eos ? 1 : 0;
}
