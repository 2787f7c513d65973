/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-failover: from a primary failure to the first caption from the backup (issue 18;
 * README.md, "Failover to a backup").
 *
 * The primary is tests/servers' Deepgram-protocol test server behind an stt-fault-proxy,
 * the backup a vosk-protocol test server (both in this process); stttranscribe has its
 * default settings but for provider, url, api-key "test-key" and backups (so
 * failover-after is 8 s). The input is a live appsrc fed in real time (20 ms buffers)
 * with a word every second (a 0.3 s tone: each word is a final of its own on both
 * servers, whose endpointing is 300 ms and 0.5 s).
 *
 * Each failover is a fresh pipeline on the same servers: once the primary has given its
 * first final, and at a time drawn uniformly in a 1 s window (so that the failure falls
 * anywhere between two words), the primary fails:
 *   drop:  the proxy refuses new connections and resets the open one (refuse, drop_all);
 *   stall: the proxy stops forwarding and reading, the socket stays open (blackhole).
 * The sample is the wall time from the failure to the first final from the backup with a
 * word ending after the failure (its audio is after the failure; earlier words replayed
 * from the committed point do not count). Then the primary is made whole again (accept,
 * blackhole off) and the bench waits for a final from the primary again (the element
 * tries it 5 s after the switch, at the backup's next final): the time from the repair
 * to that final is printed as "back", a second figure. A failover with no backup caption
 * within 40 s, or no return within 40 s, is counted as missed.
 *
 * Kinds alternate with --kind both. Figures: n, p50, p99, max per kind, against the
 * target p99 < failover-after + 1 s; --verbose prints each sample. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-common.h"
#include "stt-test-server.h"
#include "stt-fault-proxy.h"

#define WAIT_MAX 40.0

typedef enum
{
  KIND_DROP,
  KIND_STALL,
} Kind;

static const gchar *kind_names[] = { "drop", "stall" };

typedef struct
{
  SttTestServer *primary, *backup;
  SttFaultProxy *proxy;
  gchar *primary_url, *backup_url;
  GRand *rand;
  gboolean verbose;
} Bench;

typedef struct
{
  gdouble after;                /* stream time of the failure, s */
  gboolean seen;
} WordAfter;

static void
word_after (const gchar * text, GstClockTime start, GstClockTime end, gpointer data)
{
  WordAfter *w = data;

  if (GST_CLOCK_TIME_IS_VALID (end) && end / 1e9 > w->after)
    w->seen = TRUE;
}

static void
set_backups (GstElement * stt, const gchar * backup_url)
{
  GValue backups = G_VALUE_INIT, item = G_VALUE_INIT;

  g_value_init (&backups, GST_TYPE_ARRAY);
  g_value_init (&item, GST_TYPE_STRUCTURE);
  g_value_take_boxed (&item, gst_structure_new ("vosk", "url", G_TYPE_STRING, backup_url,
          NULL));
  gst_value_array_append_and_take_value (&backups, &item);
  g_object_set_property (G_OBJECT (stt), "backups", &backups);
  g_value_unset (&backups);
}

/* One failover; returns FALSE on an ERROR. @latency and @back are NAN when missed. */
static gboolean
failover (Bench * b, Kind kind, guint index, gdouble * latency, gdouble * back)
{
  BenchSlots slots = { 0.5, 1.0, 0.3, 0 };
  BenchLive *live = bench_live_new (&slots, 0);
  enum
  { WARM, FAILED, REPAIRED, DONE } phase = WARM;
  gdouble fail_at = 0, failed_wall = 0, repaired_wall = 0, switched = NAN, deadline;
  gboolean ok = TRUE;

  *latency = *back = NAN;
  g_object_set (live->stt, "provider", "deepgram", "url", b->primary_url, "api-key",
      "test-key", NULL);
  set_backups (live->stt, b->backup_url);
  bench_live_start (live);
  deadline = bench_now () + WAIT_MAX;
  while (phase != DONE && bench_now () < deadline) {
    GstMessage *msg = gst_bus_timed_pop (live->bus, 10 * GST_MSECOND);
    const GstStructure *s = msg ? gst_message_get_structure (msg) : NULL;
    WordAfter w = { fail_at, FALSE };
    const gchar *provider;

    if (phase == WARM && fail_at > 0 && bench_live_time (live) >= fail_at) {
      if (kind == KIND_DROP) {
        stt_fault_proxy_set_refuse (b->proxy, TRUE);
        stt_fault_proxy_drop_all (b->proxy);
      } else {
        stt_fault_proxy_set_blackhole (b->proxy, TRUE);
      }
      failed_wall = bench_now ();
      fail_at = bench_live_time (live);
      deadline = failed_wall + WAIT_MAX;
      phase = FAILED;
    }
    if (msg == NULL)
      continue;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *e = NULL;

      gst_message_parse_error (msg, &e, NULL);
      printf ("# %s %u: ERROR %s\n", kind_names[kind], index, e->message);
      g_error_free (e);
      ok = FALSE;
      phase = DONE;
    } else if (phase == FAILED && s && gst_structure_has_name (s, "stt-connection")
        && isnan (switched) && g_strcmp0 (gst_structure_get_string (s, "provider"),
            "vosk") == 0) {
      switched = bench_now () - failed_wall;
    } else if ((provider = bench_final_words (msg, word_after, &w))) {
      if (phase == WARM && fail_at == 0 && g_str_equal (provider, "deepgram")) {
        /* The primary works: fail it within the next second. */
        fail_at = bench_live_time (live) + g_rand_double_range (b->rand, 0.0, 1.0);
      } else if (phase == FAILED && g_str_equal (provider, "vosk") && w.seen) {
        *latency = bench_now () - failed_wall;
        if (kind == KIND_DROP)
          stt_fault_proxy_set_refuse (b->proxy, FALSE);
        else
          stt_fault_proxy_set_blackhole (b->proxy, FALSE);
        repaired_wall = bench_now ();
        deadline = repaired_wall + WAIT_MAX;
        phase = REPAIRED;
      } else if (phase == REPAIRED && g_str_equal (provider, "deepgram")) {
        *back = bench_now () - repaired_wall;
        phase = DONE;
      }
    }
    gst_message_unref (msg);
  }
  bench_live_free (live);
  /* Whatever happened, the primary is whole for the next one. */
  stt_fault_proxy_set_refuse (b->proxy, FALSE);
  stt_fault_proxy_set_blackhole (b->proxy, FALSE);
  if (b->verbose)
    printf ("%-5s %3u  failed at %5.2f s  switch %6.3f s  first backup caption %6.3f s  "
        "back on the primary %6.3f s after the repair\n", kind_names[kind], index,
        fail_at, switched, *latency, *back);
  fflush (stdout);
  return ok;
}

static void
print_figures (const gchar * what, GArray * values, guint missed, gdouble target)
{
  gdouble p50 = bench_percentile (values, 50), p99 = bench_percentile (values, 99);
  gdouble max = bench_percentile (values, 100), min = bench_percentile (values, 0);

  printf ("%-22s n %3u  missed %u  min %6.3f  p50 %6.3f  p99 %6.3f  max %6.3f s", what,
      values->len, missed, min, p50, p99, max);
  if (target > 0)
    printf ("  (target p99 < %.1f s: %s)", target, missed == 0 && p99 < target ? "met" :
        "missed");
  printf ("\n");
}

int
main (int argc, char **argv)
{
  gint count = 50;
  gboolean verbose = FALSE;
  g_autofree gchar *kind_arg = g_strdup ("both");
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  Bench b = { 0, };
  GArray *lat[2], *back[2];
  guint missed[2] = { 0, 0 }, missed_back[2] = { 0, 0 }, errors = 0;
  GstClockTime failover_after = 0;
  gdouble target;
  gint i, k;
  GOptionEntry entries[] = {
    {"count", 0, 0, G_OPTION_ARG_INT, &count, "Failovers of each kind (default 50)", "N"},
    {"kind", 0, 0, G_OPTION_ARG_STRING, &kind_arg, "drop, stall or both (default)",
        "KIND"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print each failover", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("- time from a primary failure to the backup's first caption");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  if (!g_str_equal (kind_arg, "drop") && !g_str_equal (kind_arg, "stall")
      && !g_str_equal (kind_arg, "both")) {
    g_printerr ("--kind: drop, stall or both\n");
    return 1;
  }
  bench_init (&argc, &argv, "bench-failover");
  b.verbose = verbose;
  b.rand = g_rand_new_with_seed (18);
  b.primary = stt_test_server_new ("deepgram", &error);
  b.backup = b.primary ? stt_test_server_new ("vosk", &error) : NULL;
  b.proxy = b.backup ? stt_fault_proxy_new (stt_test_server_get_port (b.primary),
      &error) : NULL;
  if (b.proxy == NULL) {
    g_printerr ("test servers: %s\n", error->message);
    return 1;
  }
  b.primary_url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen",
      stt_fault_proxy_get_port (b.proxy));
  b.backup_url = stt_test_server_get_url (b.backup);
  {
    GstElement *stt = gst_element_factory_make ("stttranscribe", NULL);

    g_object_get (stt, "failover-after", &failover_after, NULL);
    gst_object_unref (gst_object_ref_sink (stt));
  }
  target = failover_after / 1e9 + 1;
  printf ("# %s, %d each; primary deepgram (test server behind a fault proxy), backup "
      "vosk (test server); element defaults (failover-after %.1f s); a word every 1 s "
      "(0.3 s tones), a fresh live pipeline per failover\n", kind_arg, count,
      failover_after / 1e9);
  fflush (stdout);

  for (k = 0; k < 2; k++) {
    lat[k] = g_array_new (FALSE, FALSE, sizeof (gdouble));
    back[k] = g_array_new (FALSE, FALSE, sizeof (gdouble));
  }
  for (i = 0; i < count; i++) {
    for (k = 0; k < 2; k++) {
      gdouble l, r;

      if (!g_str_equal (kind_arg, "both") && !g_str_equal (kind_arg, kind_names[k]))
        continue;
      if (!failover (&b, (Kind) k, i, &l, &r))
        errors++;
      if (isnan (l))
        missed[k]++;
      else
        g_array_append_val (lat[k], l);
      if (isnan (r))
        missed_back[k]++;
      else
        g_array_append_val (back[k], r);
    }
  }

  printf ("\n");
  for (k = 0; k < 2; k++) {
    g_autofree gchar *a = g_strdup_printf ("%s: first caption", kind_names[k]);
    g_autofree gchar *c = g_strdup_printf ("%s: back on primary", kind_names[k]);

    if (lat[k]->len + missed[k] > 0) {
      print_figures (a, lat[k], missed[k], target);
      print_figures (c, back[k], missed_back[k], 0);
    }
    g_array_unref (lat[k]);
    g_array_unref (back[k]);
  }
  if (errors)
    printf ("ERRORs: %u\n", errors);
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  stt_fault_proxy_free (b.proxy);
  stt_test_server_free (b.primary);
  stt_test_server_free (b.backup);
  g_free (b.primary_url);
  g_free (b.backup_url);
  g_rand_free (b.rand);
  return 0;
}
