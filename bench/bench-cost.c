/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-cost: CPU seconds per audio hour of one stream (README.md, "Cost per stream").
 *
 * File case (as fast as accepted): pushes --hours of deterministic speech-like audio
 * through, alternately,
 *   conversion: appsrc ! audioconvert ! audioresample ! S16LE 16 kHz mono ! fakesink
 *   stt:        appsrc ! stttranscribe provider=deepgram url=<bench-server> ! fakesink
 * for 48 kHz stereo and 16 kHz mono input, --repeat times, and (with --sdk) the official
 * Node SDK streaming the same 16 kHz audio to the same server: each in its natural
 * framing (the element's frames for a file, the SDK fed by a 64 KiB file stream), and
 * both in 100 ms frames (the element with chunk-duration=100 ms).
 *
 * Live case (--live-seconds S): S seconds of a live 16 kHz source (audiotestsrc
 * is-live=true, 100 ms buffers) into fakesink (the source alone) and into stttranscribe,
 * and the Node SDK sending 100 ms chunks in real time for S seconds.
 *
 * The server is a separate process (bench-server), so getrusage() of this process is the
 * pipeline's CPU alone; the Node process is measured with wait4() (its whole life) and by
 * itself (process.cpuUsage() from connecting to the close).
 *
 * The file audio is a 60 s block (bench_speechlike) repeated; buffers wrap it, no copies.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/app/gstappsrc.h>

#include "bench-common.h"

#define BLOCK_SECONDS 60

typedef struct
{
  guint rate, channels;
  gint16 *block;
  gsize block_frames;
  guint64 total_frames;
  guint64 pushed;
  guint buffer_frames;
} Feed;

typedef struct
{
  gdouble cpu, user, sys, wall;
  gboolean ok;
} RunResult;

static void
need_data (GstAppSrc * src, guint length, gpointer data)
{
  Feed *f = data;
  guint64 off = f->pushed % f->block_frames;
  guint64 n = MIN (f->buffer_frames, f->block_frames - off);
  gsize bpf = f->channels * sizeof (gint16);
  GstBuffer *buf;

  if (f->pushed >= f->total_frames) {
    gst_app_src_end_of_stream (src);
    return;
  }
  n = MIN (n, f->total_frames - f->pushed);
  buf = gst_buffer_new_wrapped_full (GST_MEMORY_FLAG_READONLY, f->block,
      f->block_frames * bpf, off * bpf, n * bpf, NULL, NULL);
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale_int (f->pushed, GST_SECOND, f->rate);
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale_int (f->pushed + n, GST_SECOND,
      f->rate) - GST_BUFFER_PTS (buf);
  f->pushed += n;
  gst_app_src_push_buffer (src, buf);
}

/* Runs @desc to EOS; with @feed, its appsrc "src" is fed from it. */
static RunResult
run_pipeline (const gchar * desc, Feed * feed, gdouble timeout_s)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstBus *bus;
  GstMessage *msg;
  RunResult r = { 0, };
  gdouble u0, s0, u1, s1, wall0;

  if (pipeline == NULL)
    g_error ("%s: %s", desc, error->message);
  if (feed) {
    GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
    GstAppSrcCallbacks cb = { need_data, NULL, NULL };
    g_autoptr (GstCaps) caps = gst_caps_new_simple ("audio/x-raw", "format",
        G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT, feed->rate, "channels", G_TYPE_INT,
        feed->channels, "layout", G_TYPE_STRING, "interleaved", NULL);

    if (feed->channels == 2)
      gst_caps_set_simple (caps, "channel-mask", GST_TYPE_BITMASK, (guint64) 0x3, NULL);
    g_object_set (src, "caps", caps, "format", GST_FORMAT_TIME, "max-bytes",
        (guint64) feed->buffer_frames * feed->channels * 2 * 4, NULL);
    gst_app_src_set_callbacks (GST_APP_SRC (src), &cb, feed, NULL);
    feed->pushed = 0;
    gst_object_unref (src);
  }

  bus = gst_element_get_bus (pipeline);
  bench_cpu_split (&u0, &s0);
  wall0 = bench_now ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime) (timeout_s * GST_SECOND),
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  bench_cpu_split (&u1, &s1);
  r.wall = bench_now () - wall0;
  r.user = u1 - u0;
  r.sys = s1 - s0;
  r.cpu = r.user + r.sys;
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    r.ok = TRUE;
  } else if (msg) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("error: %s\n", err->message);
  } else {
    g_printerr ("timeout after %.0f s\n", timeout_s);
  }
  if (msg)
    gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return r;
}

/* Runs the Node SDK script: @proc is the child's whole life (wait4), @self what the
 * script measured itself. */
static gboolean
run_sdk (const gchar * script, const gchar * sdk_dir, const gchar * url,
    const gchar * pcm, gdouble hours, const gchar * mode, RunResult * proc,
    RunResult * self, gdouble timeout_s)
{
  g_autofree gchar *hours_s = g_strdup_printf ("%g", hours);
  const gchar *argv[] = { "node", script, url, pcm, hours_s, mode, NULL };
  gchar **envp = g_environ_setenv (g_get_environ (), "SDK_DIR", sdk_dir, TRUE);
  GError *error = NULL;
  GPid pid;
  gint out_fd, status = 0;
  struct rusage ru;
  gdouble wall0 = bench_now ();
  GString *out = g_string_new (NULL);
  gchar buf[4096];
  gssize n;
  const gchar *p;

  memset (proc, 0, sizeof (*proc));
  memset (self, 0, sizeof (*self));
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv, envp, G_SPAWN_SEARCH_PATH |
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL, &out_fd, NULL, &error)) {
    g_printerr ("node: %s\n", error->message);
    g_error_free (error);
    g_strfreev (envp);
    g_string_free (out, TRUE);
    return FALSE;
  }
  g_strfreev (envp);
  /* The script bounds itself (it exits on its own deadline); this ends when it exits. */
  while ((n = read (out_fd, buf, sizeof (buf))) > 0)
    g_string_append_len (out, buf, n);
  close (out_fd);
  wait4 (pid, &status, 0, &ru);
  g_spawn_close_pid (pid);
  proc->wall = bench_now () - wall0;
  proc->user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  proc->sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  proc->cpu = proc->user + proc->sys;
  p = strstr (out->str, "cpu ");
  if (p && sscanf (p, "cpu %lf user %lf system %lf wall %lf", &self->cpu, &self->user,
          &self->sys, &self->wall) == 4)
    self->ok = TRUE;
  proc->ok = self->ok && WIFEXITED (status) && WEXITSTATUS (status) == 0
      && proc->wall < timeout_s;
  if (!proc->ok)
    g_printerr ("node failed (status %d): %s\n", status, out->str);
  g_string_free (out, TRUE);
  return proc->ok;
}

static void
write_pcm (const gchar * path)
{
  gsize frames;
  g_autofree gint16 *block = bench_speechlike (16000, 1, BLOCK_SECONDS, &frames);
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents (path, (const gchar *) block, frames * 2, &error))
    g_error ("%s", error->message);
}

/* One row: the run and its figures per audio hour. */
static void
row (gint run, const gchar * input, const gchar * what, const RunResult * r, gdouble hours)
{
  printf ("%-4d %-14s %-22s %8.2f %8.2f %9.2f %8.2f %8.2f\n", run, input, what, r->cpu,
      r->wall, r->cpu / hours, r->user / hours, r->sys / hours);
  fflush (stdout);
}

typedef struct
{
  const gchar *name;
  GArray *v;
} Series;

static GArray *
series (GPtrArray * all, const gchar * name)
{
  guint i;
  Series *s;

  for (i = 0; i < all->len; i++) {
    s = g_ptr_array_index (all, i);
    if (g_str_equal (s->name, name))
      return s->v;
  }
  s = g_new0 (Series, 1);
  s->name = g_intern_string (name);
  s->v = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_ptr_array_add (all, s);
  return s->v;
}

static void
add (GPtrArray * all, const gchar * name, gdouble x)
{
  g_array_append_val (series (all, name), x);
}

static void
summary (GPtrArray * all)
{
  guint i, j;

  for (i = 0; i < all->len; i++) {
    Series *s = g_ptr_array_index (all, i);
    gdouble mn = INFINITY, mx = -INFINITY;

    for (j = 0; j < s->v->len; j++) {
      mn = MIN (mn, g_array_index (s->v, gdouble, j));
      mx = MAX (mx, g_array_index (s->v, gdouble, j));
    }
    printf ("%-52s median %7.2f  min %7.2f  max %7.2f  (n=%u)\n", s->name,
        bench_percentile (s->v, 50), mn, mx, s->v->len);
  }
}

int
main (int argc, char **argv)
{
  gdouble hours = 1.0, live_seconds = 0;
  gint repeat = 3, buffer_frames = 1024;
  g_autofree gchar *sdk_script = NULL, *sdk_dir = NULL, *pcm_out = NULL, *only = NULL;
  g_autofree gchar *pcm_path = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    {"hours", 0, 0, G_OPTION_ARG_DOUBLE, &hours, "File case: audio per run, in hours "
          "(default 1; 0 = skip)", "H"},
    {"live-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &live_seconds,
        "Live case: seconds per run (default 0 = skip)", "S"},
    {"repeat", 0, 0, G_OPTION_ARG_INT, &repeat, "Runs of each (default 3)", "N"},
    {"buffer-frames", 0, 0, G_OPTION_ARG_INT, &buffer_frames,
        "File case: frames per input buffer (default 1024)", "N"},
    {"sdk", 0, 0, G_OPTION_ARG_FILENAME, &sdk_script,
        "Also run this Node script (bench-sdk.mjs) with the official SDK", "FILE"},
    {"sdk-dir", 0, 0, G_OPTION_ARG_FILENAME, &sdk_dir,
        "Where npm installed @deepgram/sdk (has node_modules/)", "DIR"},
    {"only", 0, 0, G_OPTION_ARG_STRING, &only,
        "File case, one pipeline only, for profiling: conv48, stt48, conv16 or stt16",
        "NAME"},
    {"write-pcm", 0, 0, G_OPTION_ARG_FILENAME, &pcm_out,
        "Only write the 60 s 16 kHz mono S16LE block to FILE", "FILE"},
    {NULL}
  };
  struct
  {
    guint rate, channels;
    const gchar *name;
  } cases[] = { {48000, 2, "48kHz-stereo"}, {16000, 1, "16kHz-mono"} };
  GPtrArray *all = g_ptr_array_new ();
  Feed feeds[2];
  BenchServer *server;
  const gchar *server_args[] = { "--interim-ms", "1000", "--final-ms", "3000", NULL };
  gdouble timeout;
  gint r;
  guint c, k;

  ctx = g_option_context_new ("- CPU per audio hour: stttranscribe vs. bare conversion "
      "vs. the Node SDK");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  if (pcm_out) {
    write_pcm (pcm_out);
    return 0;
  }
  bench_init (&argc, &argv, "bench-cost");
  /* A file goes at least 5x real time, or something is wrong. */
  timeout = 600 + hours * 3600 / 5;

  server = bench_server_start (server_args);
  if (server == NULL)
    return 1;
  printf ("# file case: %g h of audio per run, %d-frame buffers; live case: %g s; %d runs "
      "each; server %s\n", hours, buffer_frames, live_seconds, repeat, server->url);

  for (c = 0; c < 2; c++) {
    feeds[c].rate = cases[c].rate;
    feeds[c].channels = cases[c].channels;
    feeds[c].block = bench_speechlike (cases[c].rate, cases[c].channels, BLOCK_SECONDS,
        &feeds[c].block_frames);
    feeds[c].total_frames = (guint64) llround (hours * 3600 * cases[c].rate);
    feeds[c].buffer_frames = buffer_frames;
  }
  if (sdk_script) {
    pcm_path = g_build_filename (g_get_tmp_dir (), "bench-cost-16k.pcm", NULL);
    write_pcm (pcm_path);
  }

  printf ("%-4s %-14s %-22s %8s %8s %9s %8s %8s\n", "run", "input", "client", "cpu_s",
      "wall_s", "cpu_s/h", "user/h", "sys/h");
  for (r = 1; r <= repeat; r++) {
    /* The file case. */
    for (c = 0; hours > 0 && c < 2; c++) {
      g_autofree gchar *tag = g_strdup_printf ("cost%d-%u", r, c);
      g_autofree gchar *stt = g_strdup_printf ("appsrc name=src ! stttranscribe "
          "provider=deepgram url=%s api-key=bench params=\"p, tag=(string)%s\" ! fakesink "
          "sync=false", server->url, tag);
      gdouble x[2] = { NAN, NAN };
      GHashTable *stats;
      guint64 *v, expect;

      for (k = 0; k < 2; k++) {
        const gchar *desc = k == 0 ? "appsrc name=src ! audioconvert ! audioresample ! "
            "audio/x-raw,format=S16LE,rate=16000,channels=1 ! fakesink sync=false" : stt;
        g_autofree gchar *name = g_strdup_printf ("%s%u", k == 0 ? "conv" : "stt",
            cases[c].rate / 1000);
        g_autofree gchar *key = g_strdup_printf ("file %s %s (cpu s/audio h)",
            cases[c].name, k == 0 ? "conversion" : "stttranscribe");
        RunResult res;

        if (only && !g_str_equal (only, name))
          continue;
        res = run_pipeline (desc, &feeds[c], timeout);
        if (!res.ok)
          return 1;
        x[k] = res.cpu / hours;
        add (all, key, x[k]);
        row (r, cases[c].name, k == 0 ? "conversion" : "stttranscribe", &res, hours);
      }
      if (!isnan (x[0]) && !isnan (x[1])) {
        g_autofree gchar *key = g_strdup_printf ("file %s ratio stt/conversion",
            cases[c].name);
        add (all, key, x[1] / x[0]);
      }
      if (isnan (x[1]))
        continue;
      /* Everything reached the server? (the resampler may hold a few samples) */
      stats = bench_server_stats (server, NULL, NULL);
      v = g_hash_table_lookup (stats, tag);
      expect = (guint64) llround (hours * 3600 * 16000) * 2;
      printf ("     server received %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " bytes (%+.3f ms)\n", v ? *v : 0, expect, ((gdouble) (v ? *v : 0) - expect) /
          32.0);
      g_hash_table_unref (stats);
      if (c == 1 && sdk_script) {
        g_autofree gchar *stt100 = g_strdup_printf ("appsrc name=src ! stttranscribe "
            "provider=deepgram url=%s api-key=bench chunk-duration=100000000 ! fakesink "
            "sync=false", server->url);
        RunResult proc, self, fixed;
        gdouble x100;

        /* Natural framing: each as a user would run it. */
        if (!run_sdk (sdk_script, sdk_dir ? sdk_dir : ".", server->url, pcm_path, hours,
                "natural", &proc, &self, timeout))
          return 1;
        row (r, cases[c].name, "node-sdk 64KiB (proc)", &proc, hours);
        row (r, cases[c].name, "node-sdk 64KiB (script)", &self, hours);
        add (all, "file 16kHz-mono node-sdk natural process (cpu s/audio h)",
            proc.cpu / hours);
        add (all, "file ratio node-sdk natural process / stttranscribe",
            proc.cpu / hours / x[1]);
        add (all, "file ratio node-sdk natural in-script / stttranscribe",
            self.cpu / hours / x[1]);
        /* The same 100 ms frames on both sides. */
        fixed = run_pipeline (stt100, &feeds[c], timeout);
        if (!fixed.ok)
          return 1;
        x100 = fixed.cpu / hours;
        row (r, cases[c].name, "stttranscribe 100ms", &fixed, hours);
        add (all, "file 16kHz-mono stttranscribe 100 ms frames (cpu s/audio h)", x100);
        if (!run_sdk (sdk_script, sdk_dir ? sdk_dir : ".", server->url, pcm_path, hours,
                "fast", &proc, &self, timeout))
          return 1;
        row (r, cases[c].name, "node-sdk 100ms (proc)", &proc, hours);
        row (r, cases[c].name, "node-sdk 100ms (script)", &self, hours);
        add (all, "file 16kHz-mono node-sdk 100 ms process (cpu s/audio h)",
            proc.cpu / hours);
        add (all, "file ratio node-sdk 100 ms process / stttranscribe 100 ms",
            proc.cpu / hours / x100);
        add (all, "file ratio node-sdk 100 ms in-script / stttranscribe 100 ms",
            self.cpu / hours / x100);
      }
    }

    /* The live case. */
    if (live_seconds > 0) {
      gdouble h = live_seconds / 3600;
      guint nbuf = (guint) llround (live_seconds * 10);
      g_autofree gchar *src = g_strdup_printf ("audiotestsrc is-live=true wave=ticks "
          "samplesperbuffer=1600 num-buffers=%u ! audio/x-raw,format=S16LE,rate=16000,"
          "channels=1", nbuf);
      g_autofree gchar *base = g_strdup_printf ("%s ! fakesink sync=false", src);
      g_autofree gchar *stt = g_strdup_printf ("%s ! stttranscribe provider=deepgram "
          "url=%s api-key=bench ! fakesink sync=false", src, server->url);
      RunResult b, s;

      b = run_pipeline (base, NULL, live_seconds + 60);
      s = run_pipeline (stt, NULL, live_seconds + 60);
      if (!b.ok || !s.ok)
        return 1;
      row (r, "live-16kHz", "source alone", &b, h);
      row (r, "live-16kHz", "source+stttranscribe", &s, h);
      add (all, "live stttranscribe minus source (cpu s/audio h)", (s.cpu - b.cpu) / h);
      add (all, "live source+stttranscribe (cpu s/audio h)", s.cpu / h);
      if (sdk_script) {
        RunResult proc, self;

        if (!run_sdk (sdk_script, sdk_dir ? sdk_dir : ".", server->url, pcm_path, h,
                "paced", &proc, &self, live_seconds * 2 + 120))
          return 1;
        row (r, "live-16kHz", "node-sdk paced (proc)", &proc, h);
        row (r, "live-16kHz", "node-sdk paced (script)", &self, h);
        add (all, "live node-sdk process (cpu s/audio h)", proc.cpu / h);
        add (all, "live node-sdk in-script (cpu s/audio h)", self.cpu / h);
        add (all, "live ratio node in-script / (stttranscribe minus source)",
            self.cpu / (s.cpu - b.cpu));
        add (all, "live ratio node process / (source+stttranscribe)", proc.cpu / s.cpu);
      }
    }
  }

  printf ("\n# summary: CPU seconds per audio hour (this process; the server excluded), "
      "and ratios\n");
  summary (all);
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  bench_server_stop (server);
  if (pcm_path)
    g_unlink (pcm_path);
  return 0;
}
