/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-local-capacity: how many live streams stt-local-server decodes at once on this
 * machine before its results fall behind (issue 16; README.md, "Local recognizer
 * capacity"). What --max-clients' default follows from.
 *
 * For each N of --streams (default 1,2,3,4,6,8,12,16; at most 16): a fresh
 * stt-local-server of the build with --pool N --max-clients N (the bench waits until
 * /health counts N decoders, so no decoder is loaded during the run), and N live
 * pipelines in this process, `appsrc is-live=true ! stttranscribe provider=vosk !
 * fakesink` (bench_live_new_sample: 100 ms buffers pushed at the pace of the monotonic
 * clock, as a live source would). Each streams --duration s of speech: the sample
 * (--sample FILE, any format GStreamer decodes; by default the three sentences of
 * scripts/caption-demo.sh spoken by flite, each followed by 1.5 s of silence) looped,
 * stream k starting k/N of the way into it so that the streams' utterances do not all end
 * at once. Then EOS, and up to --drain s for every stream's last final and EOS.
 *
 * Per final (`stt-transcript` with is-final, timed in the posting thread by a sync
 * handler): lag = arrival - the wall time at which the end of its last word was pushed
 * (the stream's start + pts + duration): how far the text trails the speech, including
 * the recognizer's 0.5 s of silence that ends an utterance; and the element's `latency`
 * field (from the segment's last audio sent to the result; docs/messages.md).
 * Per N: lag p50 / p95 / max over every stream's finals, the server's CPU
 * (/proc/PID/stat) from the first audio to the last EOS, as real-time factor (CPU s per
 * audio s per stream) and in cores over the audio; this process's CPU; what the other
 * processes of the machine used meanwhile (/proc/stat's busy time minus the two) and
 * the load average before and after, since the machine may be shared.
 *
 * A stream falls behind when the mean lag of the finals of its last 15 s of audio exceeds
 * that of its first 15 s by more than 2 s, when it has no final for its last 15 s of
 * audio (finals stopped) or no EOS within --drain, or on an error. The first N at which a
 * stream falls behind ends the run (--all: go on); the capacity printed is the largest N
 * measured before it.
 *
 * --quiet-load L: before each N, wait (polling every 20 s, at most 40 minutes) until the
 * 1-minute load average is below L; --max-others C: run an N again (at most twice) when
 * the other processes used more than C cores during its audio. The load average after a
 * run counts this bench's own load, hence the other processes' CPU for that check.
 * Everything is on 127.0.0.1. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/app/app.h>
#include <libsoup/soup.h>

#include "bench-common.h"

#define RATE 16000
#define CHUNK_MS 100
#define MAX_STREAMS 16
/* The windows compared for growing lag, and the growth that counts as falling behind. */
#define EDGE_S 15.0
#define GROWTH_S 2.0

/* The sentences of scripts/caption-demo.sh. */
static const gchar *const sentences[] = {
  "The quick brown fox jumps over the lazy dog.",
  "Please turn on the kitchen light.",
  "Captions reach every viewer at once.",
};

typedef struct
{
  gdouble end;                  /* s of stream time: end of the final's last word */
  gdouble lag;                  /* s, arrival - when that end was pushed */
  gdouble latency;              /* s, the element's field */
} Final;

typedef struct
{
  BenchLive *live;
  GMutex lock;
  GArray *finals;               /* of Final, in arrival order */
  gboolean eos;
  gchar *error;
} Stream;

/* ---- the sample -------------------------------------------------------------------- */

/* Appends @path decoded to S16LE mono 16 kHz to @out. */
static gboolean
decode_append (const gchar * path, GArray * out)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch ("filesrc name=src ! decodebin ! audioconvert ! "
      "audioresample ! audio/x-raw,format=S16LE,rate=16000,channels=1,layout=interleaved ! "
      "appsink name=sink sync=false", &error);
  GstElement *src, *sink;
  gboolean ok = FALSE;

  if (pipeline == NULL) {
    g_printerr ("decoder: %s\n", error->message);
    return FALSE;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (src, "location", path, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstSample *s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
    GstMapInfo map;

    if (s == NULL) {
      ok = gst_app_sink_is_eos (GST_APP_SINK (sink)) && out->len > 0;
      break;
    }
    gst_buffer_map (gst_sample_get_buffer (s), &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / 2);
    gst_buffer_unmap (gst_sample_get_buffer (s), &map);
    gst_sample_unref (s);
  }
  if (!ok)
    g_printerr ("could not decode %s\n", path);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return ok;
}

/* The caption demo's talk.wav, made the same way: each sentence by flite, then 1.5 s of
 * silence (the recognizer ends an utterance after 0.5 s: one final each). */
static GArray *
make_sample (const gchar * path)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (gint16));
  g_autofree gchar *flite = NULL, *dir = NULL;
  guint i;

  if (path) {
    if (!decode_append (path, out))
      goto fail;
    return out;
  }
  flite = g_find_program_in_path ("flite");
  dir = g_dir_make_tmp ("stt-bench-capacity-XXXXXX", NULL);
  if (flite == NULL || dir == NULL) {
    g_printerr ("flite is needed for the default sample (or pass --sample FILE)\n");
    goto fail;
  }
  for (i = 0; i < G_N_ELEMENTS (sentences); i++) {
    g_autofree gchar *wav = g_build_filename (dir, "s.wav", NULL);
    const gchar *argv[] = { flite, "-voice", "slt", "-t", sentences[i], "-o", wav, NULL };
    gint status = 0;

    if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
            NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL)
        || !decode_append (wav, out)) {
      g_printerr ("flite failed\n");
      g_unlink (wav);
      goto fail;
    }
    g_unlink (wav);
    g_array_set_size (out, out->len + RATE * 3 / 2);
  }
  g_rmdir (dir);
  return out;

fail:
  if (dir)
    g_rmdir (dir);
  g_array_unref (out);
  return NULL;
}

/* ---- the machine ------------------------------------------------------------------- */

static gdouble
load1 (void)
{
  g_autofree gchar *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return NAN;
  return g_ascii_strtod (text, NULL);
}

/* Busy CPU seconds of the whole machine (every field of /proc/stat's "cpu" line but
 * idle and iowait; steal too, separately). */
static gdouble
machine_busy (gdouble * steal)
{
  g_autofree gchar *text = NULL;
  guint64 v[10] = { 0 };

  if (g_file_get_contents ("/proc/stat", &text, NULL, NULL))
    sscanf (text, "cpu %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
        " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
        G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
        &v[6], &v[7]);
  *steal = (gdouble) v[7] / sysconf (_SC_CLK_TCK);
  /* user nice system (idle) (iowait) irq softirq; not steal (time the VM did not run). */
  return (gdouble) (v[0] + v[1] + v[2] + v[5] + v[6]) / sysconf (_SC_CLK_TCK);
}

static gdouble
server_cpu (BenchServer * server)
{
  gdouble u = 0, s = 0;

  bench_pid_cpu (server->pid, &u, &s);
  return u + s;
}

static void
wait_quiet (gdouble below)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) 40 * 60 * G_USEC_PER_SEC;
  gdouble l;

  while ((l = load1 ()) >= below && g_get_monotonic_time () < deadline) {
    printf ("# load %.2f, waiting for < %.2f\n", l, below);
    fflush (stdout);
    g_usleep (20 * G_USEC_PER_SEC);
  }
}

/* Decoders loaded, from /health; -1 if it does not answer. */
static gint
health_decoders (guint port)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", 5, NULL);
  g_autofree gchar *uri = g_strdup_printf ("http://127.0.0.1:%u/health", port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, NULL);
  g_autofree gchar *text = NULL;
  const gchar *p;

  if (body == NULL)
    return -1;
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  p = strstr (text, "\"decoders\":");
  return p ? atoi (p + strlen ("\"decoders\":")) : -1;
}

/* ---- the streams ------------------------------------------------------------------- */

static GstBusSyncReply
on_sync (GstBus * bus, GstMessage * msg, gpointer data)
{
  Stream *st = data;
  const GstStructure *s = gst_message_get_structure (msg);
  gboolean final = FALSE;
  GstClockTime pts = GST_CLOCK_TIME_NONE, dur = 0, latency = GST_CLOCK_TIME_NONE;
  Final f;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT || s == NULL ||
      !gst_structure_has_name (s, "stt-transcript"))
    return GST_BUS_PASS;
  if (gst_structure_get_boolean (s, "is-final", &final) && final &&
      gst_structure_get_clock_time (s, "pts", &pts) && GST_CLOCK_TIME_IS_VALID (pts)) {
    gst_structure_get_clock_time (s, "duration", &dur);
    gst_structure_get_clock_time (s, "latency", &latency);
    f.end = (pts + (GST_CLOCK_TIME_IS_VALID (dur) ? dur : 0)) / 1e9;
    f.lag = bench_live_time (st->live) - f.end;
    f.latency = GST_CLOCK_TIME_IS_VALID (latency) ? latency / 1e9 : NAN;
    g_mutex_lock (&st->lock);
    g_array_append_val (st->finals, f);
    g_mutex_unlock (&st->lock);
  }
  return GST_BUS_DROP;
}

/* EOS and errors, from the bus queue (everything else was taken by on_sync). */
static void
poll_bus (Stream * st)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop (st->live->bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      st->eos = TRUE;
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && st->error == NULL) {
      GError *e = NULL;

      gst_message_parse_error (msg, &e, NULL);
      st->error = g_strdup (e->message);
      g_error_free (e);
    }
    gst_message_unref (msg);
  }
}

/* Mean lag of the finals whose audio ended in [from, to); NAN if none. */
static gdouble
mean_lag (Stream * st, gdouble from, gdouble to)
{
  gdouble sum = 0;
  guint n = 0, i;

  for (i = 0; i < st->finals->len; i++) {
    Final *f = &g_array_index (st->finals, Final, i);

    if (f->end >= from && f->end < to) {
      sum += f->lag;
      n++;
    }
  }
  return n ? sum / n : NAN;
}

/* Why @st fell behind, or NULL. */
static gchar *
behind (Stream * st, gdouble duration)
{
  gdouble first = mean_lag (st, 0, EDGE_S), last = mean_lag (st, duration - EDGE_S,
      G_MAXDOUBLE);

  if (st->error)
    return g_strdup_printf ("error: %s", st->error);
  if (!st->eos)
    return g_strdup ("no EOS within the drain time");
  if (isnan (last))
    return g_strdup_printf ("no final for the last %.0f s of audio", EDGE_S);
  if (!isnan (first) && last > first + GROWTH_S)
    return g_strdup_printf ("lag grew from %.2f s to %.2f s", first, last);
  return NULL;
}

/* Runs N streams; returns TRUE if none fell behind. @others: the cores the machine's
 * other processes used meanwhile. */
static gboolean
run (guint n, gdouble duration, gdouble drain, GArray * sample, gdouble quiet_load,
    gdouble * others)
{
  g_autofree gchar *n_arg = g_strdup_printf ("%u", n);
  const gchar *server_args[] = { "--port", "0", "--quiet", "--pool", n_arg,
    "--max-clients", n_arg, NULL
  };
  BenchServer *server;
  Stream *streams = g_new0 (Stream, n);
  g_autoptr (GArray) lags = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr (GArray) latencies = g_array_new (FALSE, FALSE, sizeof (gdouble));
  gdouble load_start, load_end, cpu0, cpu_audio, cpu1, self0, self1 = 0, busy0, busy1 = 0;
  gdouble steal0, steal1 = 0, t_end, next_report = 10, last_cpu;
  gint64 deadline;
  guint i, n_behind = 0, n_eos, reported = 0;
  gboolean ok;

  if (quiet_load > 0)
    wait_quiet (quiet_load);
  load_start = load1 ();
  server = bench_server_start_program (g_getenv ("STT_LOCAL_SERVER") ?
      g_getenv ("STT_LOCAL_SERVER") : STT_LOCAL_SERVER_PATH, server_args);
  if (server == NULL)
    exit (2);
  /* Every decoder loaded before the first audio (about 0.5 s of CPU each). */
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (health_decoders (server->port) < (gint) n) {
    if (g_get_monotonic_time () > deadline) {
      g_printerr ("the server did not load %u decoders within 120 s\n", n);
      bench_server_stop (server);
      exit (2);
    }
    g_usleep (200000);
  }

  for (i = 0; i < n; i++) {
    Stream *st = &streams[i];

    g_mutex_init (&st->lock);
    st->finals = g_array_new (FALSE, FALSE, sizeof (Final));
    st->live = bench_live_new_sample ((const gint16 *) sample->data, sample->len,
        sample->len / n * i, CHUNK_MS, duration);
    g_object_set (st->live->stt, "provider", "vosk", "url", server->url, NULL);
    gst_bus_set_sync_handler (st->live->bus, on_sync, st, NULL);
  }
  cpu0 = server_cpu (server);
  self0 = bench_cpu_seconds ();
  busy0 = machine_busy (&steal0);
  for (i = 0; i < n; i++)
    bench_live_start (streams[i].live);

  printf ("N=%u  %5s %10s %11s %9s\n", n, "t_s", "server_cpu", "finals", "max_lag_s");
  cpu_audio = last_cpu = cpu0;
  deadline = g_get_monotonic_time () + (gint64) ((duration + drain) * G_USEC_PER_SEC);
  for (;;) {
    gdouble t = bench_live_time (streams[0].live);

    n_eos = 0;
    for (i = 0; i < n; i++) {
      poll_bus (&streams[i]);
      n_eos += streams[i].eos || streams[i].error;
    }
    if (t >= next_report || n_eos == n) {
      /* The last 10 s: the server's CPU, finals, and their worst lag. */
      gdouble c = server_cpu (server), worst = 0;
      guint finals = 0;

      for (i = 0; i < n; i++) {
        g_mutex_lock (&streams[i].lock);
        finals += streams[i].finals->len;
        for (guint j = 0; j < streams[i].finals->len; j++) {
          Final *f = &g_array_index (streams[i].finals, Final, j);
          if (f->end + f->lag >= next_report - 10)
            worst = MAX (worst, f->lag);
        }
        g_mutex_unlock (&streams[i].lock);
      }
      printf ("      %5.0f %9.0f%% %5u (+%3u) %9.2f\n", t, (c - last_cpu) * 100 / 10,
          finals, finals - reported, worst);
      fflush (stdout);
      last_cpu = c;
      reported = finals;
      next_report += 10;
    }
    if (cpu_audio == cpu0 && t >= duration) {
      cpu_audio = server_cpu (server);
      self1 = bench_cpu_seconds ();
      busy1 = machine_busy (&steal1);
    }
    if (n_eos == n || g_get_monotonic_time () > deadline)
      break;
    g_usleep (100000);
  }
  if (cpu_audio == cpu0) {
    cpu_audio = server_cpu (server);
    self1 = bench_cpu_seconds ();
    busy1 = machine_busy (&steal1);
  }
  t_end = bench_live_time (streams[0].live);
  cpu1 = server_cpu (server);
  load_end = load1 ();

  for (i = 0; i < n; i++) {
    Stream *st = &streams[i];
    g_autofree gchar *why = NULL;
    GstStructure *stats = NULL;
    guint64 reconnects = 0;

    g_mutex_lock (&st->lock);
    for (guint j = 0; j < st->finals->len; j++) {
      Final *f = &g_array_index (st->finals, Final, j);
      g_array_append_val (lags, f->lag);
      if (!isnan (f->latency))
        g_array_append_val (latencies, f->latency);
    }
    why = behind (st, duration);
    g_object_get (st->live->stt, "stats", &stats, NULL);
    if (stats) {
      gst_structure_get_uint64 (stats, "reconnects", &reconnects);
      gst_structure_free (stats);
    }
    printf ("  stream %2u: %3u finals, lag first %.0f s %.2f s, last %.0f s %.2f s, "
        "reconnects %" G_GUINT64_FORMAT "%s%s\n", i, st->finals->len, EDGE_S,
        mean_lag (st, 0, EDGE_S), EDGE_S, mean_lag (st, duration - EDGE_S, G_MAXDOUBLE),
        reconnects, why ? ": BEHIND, " : "", why ? why : "");
    g_mutex_unlock (&st->lock);
    n_behind += why != NULL;
  }
  ok = n_behind == 0;
  *others = MAX (0, (busy1 - busy0) - (cpu_audio - cpu0) - (self1 - self0)) / duration;
  printf ("N=%u: %s; finals %u, lag p50 %.2f p95 %.2f max %.2f s; element latency p50 "
      "%.2f p95 %.2f max %.2f s; server CPU %.1f s from the first audio to the last EOS "
      "(%.1f s): RTF %.3f per stream, %.2f cores over the audio (%.0f s); this process "
      "%.2f cores; others %.2f cores, steal %.2f; load %.2f -> %.2f\n", n,
      ok ? "keeps up" : "FALLS BEHIND", lags->len, bench_percentile (lags, 50),
      bench_percentile (lags, 95), bench_percentile (lags, 100),
      bench_percentile (latencies, 50), bench_percentile (latencies, 95),
      bench_percentile (latencies, 100), cpu1 - cpu0, t_end,
      (cpu1 - cpu0) / (n * duration), (cpu_audio - cpu0) / duration, duration,
      (self1 - self0) / duration, *others, (steal1 - steal0) / duration, load_start, load_end);
  fflush (stdout);

  for (i = 0; i < n; i++) {
    bench_live_free (streams[i].live);
    g_array_unref (streams[i].finals);
    g_mutex_clear (&streams[i].lock);
    g_free (streams[i].error);
  }
  g_free (streams);
  bench_server_stop (server);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *list = g_strdup ("1,2,3,4,6,8,12,16"), *sample_path = NULL;
  gdouble duration = 60, drain = 60, quiet_load = 0, max_others = 0, others;
  gboolean all = FALSE;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ns = NULL;
  GArray *sample;
  guint capacity = 0, i;
  gint first_behind = -1;
  GOptionEntry entries[] = {
    {"streams", 0, 0, G_OPTION_ARG_STRING, &list,
        "Numbers of streams, in order (default 1,2,3,4,6,8,12,16; each at most 16)", "N,..."},
    {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration,
        "Seconds of audio per stream (default 60, at least 40)", "S"},
    {"drain", 0, 0, G_OPTION_ARG_DOUBLE, &drain,
        "Seconds to wait after the audio for the last finals (default 60)", "S"},
    {"sample", 0, 0, G_OPTION_ARG_FILENAME, &sample_path,
        "Speech to loop (default: the caption demo's sentences, by flite)", "FILE"},
    {"quiet-load", 0, 0, G_OPTION_ARG_DOUBLE, &quiet_load,
        "Before each N, wait (up to 40 min) for a 1-minute load below L", "L"},
    {"max-others", 0, 0, G_OPTION_ARG_DOUBLE, &max_others,
          "Repeat (at most twice) a run during which other processes used more than "
          "C cores on average (default 0: never)", "C"},
    {"all", 0, 0, G_OPTION_ARG_NONE, &all,
        "Go on after the first N that falls behind", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("- live streams stt-local-server keeps up with");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (duration < 3 * EDGE_S - 5 || drain < 1) {
    g_printerr ("--duration must be at least 40 s, --drain at least 1 s\n");
    return 2;
  }
  ns = g_strsplit (list, ",", -1);
  for (i = 0; ns[i]; i++) {
    gint n = atoi (ns[i]);
    if (n < 1 || n > MAX_STREAMS) {
      g_printerr ("--streams: each N from 1 to %d\n", MAX_STREAMS);
      return 2;
    }
  }
  bench_init (&argc, &argv, "bench-local-capacity");
  sample = make_sample (sample_path);
  if (sample == NULL)
    return 2;
  printf ("# %.0f s of speech per stream: a %.1f s sample looped, S16LE mono 16 kHz in "
      "%u ms buffers at the pace of real time; stt-local-server --pool N --max-clients N; "
      "behind: lag of the last %.0f s > first %.0f s + %.0f s, or finals stop\n",
      duration, (gdouble) sample->len / RATE, CHUNK_MS, EDGE_S, EDGE_S, GROWTH_S);
  fflush (stdout);

  for (i = 0; ns[i]; i++) {
    guint n = (guint) atoi (ns[i]), attempt;
    gboolean ok = FALSE;

    /* The machine may be shared: a run that other work took CPU from measures that
     * work too. */
    for (attempt = 0; attempt < 3; attempt++) {
      ok = run (n, duration, drain, sample, quiet_load, &others);
      if (max_others <= 0 || others <= max_others)
        break;
      printf ("# N=%u: other processes used %.2f cores (> %.2f): %s\n", n, others,
          max_others, attempt < 2 ? "again" : "kept, noisy");
    }
    if (ok) {
      if (first_behind < 0)
        capacity = MAX (capacity, n);
    } else {
      if (first_behind < 0)
        first_behind = (gint) n;
      if (!all)
        break;
    }
  }
  if (first_behind < 0)
    printf ("capacity: at least %u streams (none fell behind); %.1f per core\n",
        capacity, (gdouble) capacity / g_get_num_processors ());
  else
    printf ("capacity: %u streams (%d fell behind); %.1f per core\n", capacity,
        first_behind, (gdouble) capacity / g_get_num_processors ());
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  g_array_unref (sample);
  return 0;
}
