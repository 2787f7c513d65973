/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-common.c: see bench-common.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gst/app/app.h>
#include <libsoup/soup.h>

#include "bench-common.h"

/* ------------------------------------------------------------------------------------ */

gchar *
bench_machine_line (void)
{
  g_autofree gchar *cpuinfo = NULL, *loadavg = NULL, *model = NULL;
  gchar **lines, **l;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL)) {
    lines = g_strsplit (cpuinfo, "\n", -1);
    for (l = lines; *l && model == NULL; l++) {
      if (g_str_has_prefix (*l, "model name")) {
        const gchar *c = strchr (*l, ':');
        model = g_strstrip (g_strdup (c ? c + 1 : *l));
      }
    }
    g_strfreev (lines);
  }
  g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL);
  if (loadavg) {
    gchar **f = g_strsplit (loadavg, " ", 4);
    gchar *s = g_strdup_printf ("%s %s %s", f[0], f[1] ? f[1] : "", f[1] && f[2] ? f[2] : "");
    g_strfreev (f);
    g_free (loadavg);
    loadavg = s;
  }
  return g_strdup_printf ("nproc %u, %s, load average %s, %s, build %s",
      g_get_num_processors (), model ? model : "unknown CPU", loadavg ? loadavg : "?",
      gst_version_string (), BENCH_BUILDTYPE);
}

void
bench_init (int *argc, char ***argv, const gchar * name)
{
  struct rlimit rl;
  g_autofree gchar *machine = NULL;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  /* Keys from the environment are not wanted; the bench server accepts any. */
  g_unsetenv ("DEEPGRAM_API_KEY");
  g_unsetenv ("STT_API_KEY");
  gst_init (argc, argv);
  if (g_getenv ("GST_PLUGIN_PATH") == NULL)
    gst_registry_scan_path (gst_registry_get (), STT_PLUGIN_DIR);
  if (gst_element_factory_find ("stttranscribe") == NULL)
    g_error ("the stt plugin was not found (looked in %s)", STT_PLUGIN_DIR);
  machine = bench_machine_line ();
  printf ("# %s: %s\n", name, machine);
  fflush (stdout);
}

/* ------------------------------------------------------------------------------------ */

BenchServer *
bench_server_start (const gchar * const *args)
{
  return bench_server_start_program (g_getenv ("BENCH_SERVER") ?
      g_getenv ("BENCH_SERVER") : BENCH_SERVER_PATH, args);
}

BenchServer *
bench_server_start_program (const gchar * prog, const gchar * const *args)
{
  GPtrArray *argv = g_ptr_array_new ();
  BenchServer *server = g_new0 (BenchServer, 1);
  GError *error = NULL;
  gint out_fd = -1;
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  const gchar *p;

  g_ptr_array_add (argv, (gpointer) prog);
  for (; args && *args; args++)
    g_ptr_array_add (argv, (gpointer) * args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv->pdata, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &server->pid, NULL, &out_fd, NULL, &error)) {
    g_printerr ("cannot start %s: %s\n", prog, error->message);
    g_error_free (error);
    goto fail;
  }
  /* The first line says where it listens. */
  while (g_get_monotonic_time () < deadline && !strchr (line->str, '\n')) {
    struct pollfd pfd = { out_fd, POLLIN, 0 };
    gchar c;

    if (poll (&pfd, 1, 100) > 0) {
      if (read (out_fd, &c, 1) != 1)
        break;
      g_string_append_c (line, c);
    }
  }
  close (out_fd);
  p = strstr (line->str, "ws://");
  if (p == NULL) {
    g_printerr ("%s did not start: '%s'\n", prog, line->str);
    kill (server->pid, SIGKILL);
    waitpid (server->pid, NULL, 0);
    goto fail;
  }
  server->url = g_strstrip (g_strdup (p));
  server->port = (guint) atoi (strrchr (server->url, ':') + 1);
  g_string_free (line, TRUE);
  g_ptr_array_unref (argv);
  return server;

fail:
  g_string_free (line, TRUE);
  g_ptr_array_unref (argv);
  g_free (server);
  return NULL;
}

void
bench_server_signal (BenchServer * server, int sig)
{
  kill (server->pid, sig);
}

void
bench_server_stop (BenchServer * server)
{
  gint i;

  if (server == NULL)
    return;
  kill (server->pid, SIGCONT);
  kill (server->pid, SIGTERM);
  for (i = 0; i < 50; i++) {
    if (waitpid (server->pid, NULL, WNOHANG) == server->pid)
      goto done;
    g_usleep (100000);
  }
  kill (server->pid, SIGKILL);
  waitpid (server->pid, NULL, 0);
done:
  g_spawn_close_pid (server->pid);
  g_free (server->url);
  g_free (server);
}

GHashTable *
bench_server_stats (BenchServer * server, guint * n_open, guint * n_conns)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", 10, NULL);
  g_autofree gchar *uri = g_strdup_printf ("http://127.0.0.1:%u/stats", server->port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gchar **lines, **l;

  body = soup_session_send_and_read (session, msg, NULL, &error);
  if (body == NULL) {
    g_printerr ("server stats: %s\n", error->message);
    return h;
  }
  lines = g_strsplit (g_bytes_get_data (body, NULL) ? (const gchar *) g_bytes_get_data (body,
          NULL) : "", "\n", -1);
  for (l = lines; *l; l++) {
    gchar tag[64];
    guint64 bytes, frames;
    gint closed;
    guint a, b;

    if (sscanf (*l, "connections %u open %u", &a, &b) == 2) {
      if (n_conns)
        *n_conns = a;
      if (n_open)
        *n_open = b;
    } else if (sscanf (*l, "%63s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d", tag, &bytes,
            &frames, &closed) == 4) {
      guint64 *v = g_hash_table_lookup (h, tag);

      /* A tag seen on several connections (reconnects): the bytes add up. */
      if (v == NULL) {
        v = g_new0 (guint64, 1);
        g_hash_table_insert (h, g_strdup (tag), v);
      }
      *v += bytes;
    }
  }
  g_strfreev (lines);
  return h;
}

/* ------------------------------------------------------------------------------------ */

gdouble
bench_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
      ru.ru_stime.tv_usec / 1e6;
}

void
bench_cpu_split (gdouble * user, gdouble * sys)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

gboolean
bench_pid_cpu (GPid pid, gdouble * user, gdouble * sys)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid), *stat = NULL;
  const gchar *p;
  gchar **f;
  gboolean ok;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || !(p = strrchr (stat, ')')))
    return FALSE;
  /* After the command: field 3 (state) on; utime and stime are fields 14 and 15. */
  f = g_strsplit (p + 2, " ", 16);
  ok = g_strv_length (f) >= 13;
  if (ok) {
    *user = g_ascii_strtod (f[11], NULL) / sysconf (_SC_CLK_TCK);
    *sys = g_ascii_strtod (f[12], NULL) / sysconf (_SC_CLK_TCK);
  }
  g_strfreev (f);
  return ok;
}

gdouble
bench_now (void)
{
  return g_get_monotonic_time () / 1e6;
}

guint64
bench_rss_bytes (void)
{
  g_autofree gchar *statm = NULL;
  guint64 size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &size, &resident);
  return resident * (guint64) sysconf (_SC_PAGESIZE);
}

guint
bench_n_threads (gchar ** by_kind)
{
  GDir *dir = g_dir_open ("/proc/self/task", 0, NULL);
  const gchar *name;
  guint n = 0;
  GHashTable *kinds = by_kind ? g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL) : NULL;

  if (dir == NULL)
    return 0;
  while ((name = g_dir_read_name (dir))) {
    n++;
    if (kinds) {
      g_autofree gchar *path = g_strdup_printf ("/proc/self/task/%s/comm", name);
      g_autofree gchar *comm = NULL;
      gchar *d;

      if (!g_file_get_contents (path, &comm, NULL, NULL))
        continue;
      g_strstrip (comm);
      /* "src12:src" -> "src", "stt-io-1" -> "stt-io-", "bench-streams" stays. */
      for (d = comm; *d && !g_ascii_isdigit (*d) && *d != ':'; d++);
      if (d != comm)
        *d = '\0';
      g_hash_table_replace (kinds, g_strdup (comm), GUINT_TO_POINTER (GPOINTER_TO_UINT
              (g_hash_table_lookup (kinds, comm)) + 1));
    }
  }
  g_dir_close (dir);
  if (kinds) {
    GString *s = g_string_new (NULL);
    GList *keys = g_list_sort (g_hash_table_get_keys (kinds), (GCompareFunc) g_strcmp0), *k;

    for (k = keys; k; k = k->next)
      g_string_append_printf (s, "%s%s %u", s->len ? ", " : "", (gchar *) k->data,
          GPOINTER_TO_UINT (g_hash_table_lookup (kinds, k->data)));
    g_list_free (keys);
    g_hash_table_unref (kinds);
    *by_kind = g_string_free (s, FALSE);
  }
  return n;
}

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return x < y ? -1 : x > y;
}

gdouble
bench_percentile (GArray * values, gdouble p)
{
  gsize i;

  if (values->len == 0)
    return NAN;
  g_array_sort (values, cmp_double);
  i = (gsize) ceil (values->len * p / 100.0);
  i = CLAMP (i, 1, values->len) - 1;
  return g_array_index (values, gdouble, i);
}

/* ------------------------------------------------------------------------------------ */

static guint32
lcg (guint32 * s)
{
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static gdouble
uniform (guint32 * s, gdouble lo, gdouble hi)
{
  return lo + (hi - lo) * (lcg (s) & 0xffffff) / (gdouble) 0x1000000;
}

gint16 *
bench_speechlike (guint rate, guint channels, guint seconds, gsize * n_frames)
{
  gsize n = (gsize) rate * seconds, i = 0;
  gint16 *out = g_new0 (gint16, n * channels);
  guint32 seed = 12345;
  guint syllables = 0;

  while (i < n) {
    gdouble r = uniform (&seed, 0, 1);
    gsize len, j, c;

    if (r < 0.6) {
      /* A voiced syllable: f0 with two harmonics, 10 ms attack and release. */
      gdouble f0 = uniform (&seed, 100, 280), amp = uniform (&seed, 0.15, 0.35);
      gsize ramp = rate / 100;

      len = (gsize) (uniform (&seed, 0.12, 0.35) * rate);
      for (j = 0; j < len && i + j < n; j++) {
        gdouble t = (gdouble) j / rate;
        gdouble env = MIN (1.0, MIN ((gdouble) j / ramp, (gdouble) (len - j) / ramp));
        gdouble v = amp * env * (sin (2 * G_PI * f0 * t) + 0.5 * sin (4 * G_PI * f0 * t) +
            0.25 * sin (6 * G_PI * f0 * t)) / 1.75;
        for (c = 0; c < channels; c++)
          out[(i + j) * channels + c] = (gint16) (v * (c ? 0.9 : 1.0) * 32767);
      }
      syllables++;
    } else if (r < 0.8) {
      /* A fricative: noise. */
      gdouble amp = uniform (&seed, 0.03, 0.12);

      len = (gsize) (uniform (&seed, 0.06, 0.18) * rate);
      for (j = 0; j < len && i + j < n; j++) {
        gdouble v = amp * uniform (&seed, -1, 1);
        for (c = 0; c < channels; c++)
          out[(i + j) * channels + c] = (gint16) (v * (c ? 0.9 : 1.0) * 32767);
      }
    } else {
      /* A pause: short between syllables, long between phrases. */
      len = (gsize) (uniform (&seed, 0.04, 0.15) * rate);
      if (syllables >= 6) {
        len = (gsize) (uniform (&seed, 0.3, 0.9) * rate);
        syllables = 0;
      }
    }
    i += len;
  }
  *n_frames = n;
  return out;
}

/* ------------------------------------------------------------------------------------ */

static GQuark chain_quark, stream_quark;

static inline gint64
mono_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
atomic_max (gint64 * p, gint64 v)
{
  gint64 cur = __atomic_load_n (p, __ATOMIC_RELAXED);

  while (v > cur && !__atomic_compare_exchange_n (p, &cur, v, FALSE, __ATOMIC_RELAXED,
          __ATOMIC_RELAXED));
}

/* The element's own chain function, timed. */
static GstFlowReturn
timed_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPadChainFunction chain = g_object_get_qdata (G_OBJECT (pad), chain_quark);
  BenchStream *st = g_object_get_qdata (G_OBJECT (pad), stream_quark);
  gsize size = gst_buffer_get_size (buf);
  gint64 t0 = mono_ns (), dt, last;
  GstFlowReturn ret;

  last = st->last_arrival_us;
  if (last) {
    atomic_max (&st->gap_max_us, t0 / 1000 - last);
    atomic_max (&st->gap_max_total_us, t0 / 1000 - last);
  }
  st->last_arrival_us = t0 / 1000;
  ret = chain (pad, parent, buf);
  dt = mono_ns () - t0;
  atomic_max (&st->chain_max_ns, dt);
  atomic_max (&st->chain_max_total_ns, dt);
  __atomic_add_fetch (&st->in_bytes, size, __ATOMIC_RELAXED);
  __atomic_add_fetch (&st->buffers, 1, __ATOMIC_RELAXED);
  return ret;
}

static GstBusSyncReply
bus_sync (GstBus * bus, GstMessage * msg, gpointer data)
{
  BenchStream *st = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      g_atomic_int_set (&st->eos, 1);
      break;
    case GST_MESSAGE_ERROR:{
      g_autoptr (GError) err = NULL;
      g_autofree gchar *dbg = NULL;

      gst_message_parse_error (msg, &err, &dbg);
      g_printerr ("stream %u: error: %s (%s)\n", st->index, err->message, dbg ? dbg : "");
      g_atomic_int_set (&st->error, 1);
      break;
    }
    case GST_MESSAGE_ELEMENT:
      if (st->on_element)
        st->on_element (st, msg, st->on_element_data);
      break;
    default:
      break;
  }
  /* Nobody pops these buses: drop everything, so nothing piles up (a sync handler that
   * drops a message owns it). */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

BenchStream *
bench_stream_new (guint index, const BenchStreamConfig * cfg)
{
  BenchStream *st = g_new0 (BenchStream, 1);
  g_autofree gchar *desc = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;
  GstPad *pad;

  if (chain_quark == 0) {
    chain_quark = g_quark_from_static_string ("bench-chain");
    stream_quark = g_quark_from_static_string ("bench-stream");
  }
  st->index = index;
  st->on_element = cfg->on_element;
  st->on_element_data = cfg->on_element_data;
  /* Tones from 300 to 1200 Hz, one per stream; names give the threads their names. */
  if (cfg->element == NULL)
    desc = g_strdup_printf ("audiotestsrc name=src%u is-live=true wave=ticks freq=%u "
        "volume=0.3 samplesperbuffer=%u ! audio/x-raw,format=S16LE,rate=%u,channels=1 ! "
        "fakesink name=stt%u sync=false", index, 300 + (index * 37) % 900,
        cfg->samples_per_buffer, cfg->rate, index);
  else
    desc = g_strdup_printf ("audiotestsrc name=src%u is-live=true wave=ticks freq=%u "
        "volume=0.3 samplesperbuffer=%u ! audio/x-raw,format=S16LE,rate=%u,channels=1 ! "
        "%s name=stt%u provider=deepgram api-key=bench %s %s", index,
        300 + (index * 37) % 900, cfg->samples_per_buffer, cfg->rate, cfg->element, index,
        cfg->extra ? cfg->extra : "", g_str_equal (cfg->element, "stttranscribe") ?
        "! fakesink sync=false async=false" : "");
  st->pipeline = gst_parse_launch (desc, &error);
  if (st->pipeline == NULL)
    g_error ("%s: %s", desc, error->message);
  {
    g_autofree gchar *name = g_strdup_printf ("stt%u", index);
    st->stt = gst_bin_get_by_name (GST_BIN (st->pipeline), name);
  }
  if (cfg->element) {
    g_autofree gchar *tag = g_strdup_printf ("s%u", index);
    GstStructure *params = gst_structure_new ("p", "tag", G_TYPE_STRING, tag, NULL);

    g_object_set (st->stt, "url", cfg->url, "params", params, NULL);
    gst_structure_free (params);
  }
  pad = gst_element_get_static_pad (st->stt, "sink");
  g_object_set_qdata (G_OBJECT (pad), chain_quark, GST_PAD_CHAINFUNC (pad));
  g_object_set_qdata (G_OBJECT (pad), stream_quark, st);
  gst_pad_set_chain_function (pad, timed_chain);
  gst_object_unref (pad);

  bus = gst_element_get_bus (st->pipeline);
  gst_bus_set_sync_handler (bus, bus_sync, st, NULL);
  return st;
}

void
bench_stream_free (BenchStream * st)
{
  gst_element_set_state (st->pipeline, GST_STATE_NULL);
  gst_object_unref (st->stt);
  gst_object_unref (st->pipeline);
  g_free (st);
}

guint
bench_streams_eos (GPtrArray * streams, gdouble timeout_s)
{
  gdouble deadline = bench_now () + timeout_s;
  guint i, n = 0;

  for (i = 0; i < streams->len; i++) {
    BenchStream *st = g_ptr_array_index (streams, i);
    gst_element_send_event (st->pipeline, gst_event_new_eos ());
  }
  while (bench_now () < deadline) {
    n = 0;
    for (i = 0; i < streams->len; i++) {
      BenchStream *st = g_ptr_array_index (streams, i);
      n += g_atomic_int_get (&st->eos) || g_atomic_int_get (&st->error);
    }
    if (n == streams->len)
      break;
    g_usleep (50000);
  }
  n = 0;
  for (i = 0; i < streams->len; i++)
    n += g_atomic_int_get (&((BenchStream *) g_ptr_array_index (streams, i))->eos);
  return n;
}

GstStructure *
bench_stream_stats (BenchStream * st)
{
  GstStructure *s = NULL;

  if (g_object_class_find_property (G_OBJECT_GET_CLASS (st->stt), "stats"))
    g_object_get (st->stt, "stats", &s, NULL);
  return s;
}

/* ------------------------------------------------------------------------------------ */

gchar *
bench_slot_word (guint64 k)
{
  /* 420 + 100 m Hz rounds to 400 + 100 m. */
  return g_strdup_printf ("w%u", 400 + 100 * (guint) ((k * 7) % 17));
}

gdouble
bench_slot_start (const BenchSlots * slots, guint64 k)
{
  return slots->first + k * slots->period;
}

gint64
bench_slot_nearest (const BenchSlots * slots, gdouble t)
{
  gdouble k = floor ((t - slots->first) / slots->period + 0.5);

  if (k < 0 || (slots->n && k >= slots->n))
    return -1;
  return (gint64) k;
}

void
bench_slots_fill (const BenchSlots * slots, guint rate, guint64 first_sample,
    gint16 * out, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++) {
    gdouble t = (gdouble) (first_sample + i) / rate;
    gint64 k = (gint64) floor ((t - slots->first) / slots->period);
    gdouble in = t - bench_slot_start (slots, k);

    out[i] = 0;
    if (k >= 0 && (slots->n == 0 || (guint64) k < slots->n) && in < slots->length)
      out[i] = (gint16) (0.5 * 32767 * sin (2 * G_PI * (420 + 100 * ((k * 7) % 17)) * in));
  }
}

#define LIVE_RATE 16000
#define LIVE_CHUNK (LIVE_RATE / 50)     /* 20 ms */

/* @n samples of the looped sample, from sample @first of the stream. */
static void
live_fill_sample (BenchLive * live, guint64 first, gint16 * out, gsize n)
{
  gsize pos = (live->sample_offset + first) % live->sample_len;

  while (n > 0) {
    gsize take = MIN (n, live->sample_len - pos);

    memcpy (out, live->sample + pos, take * sizeof (gint16));
    out += take;
    n -= take;
    pos = 0;
  }
}

static gpointer
live_feed (gpointer data)
{
  BenchLive *live = data;
  GstElement *src = gst_bin_get_by_name (GST_BIN (live->pipeline), "src");
  guint64 end = (guint64) (live->seconds * LIVE_RATE);
  guint chunk = live->chunk;

  while (!g_atomic_int_get (&live->stop) && (end == 0 || live->samples < end)) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, chunk * 2, NULL);
    GstClockTime pts = gst_util_uint64_scale (live->samples, GST_SECOND, LIVE_RATE);
    gint64 due = live->start_us + (gint64) (pts / GST_USECOND), now;
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    if (live->sample)
      live_fill_sample (live, live->samples, (gint16 *) map.data, chunk);
    else
      bench_slots_fill (&live->slots, LIVE_RATE, live->samples, (gint16 *) map.data,
          chunk);
    gst_buffer_unmap (buf, &map);
    GST_BUFFER_PTS (buf) = pts;
    GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (chunk, GST_SECOND, LIVE_RATE);
    now = g_get_monotonic_time ();
    if (due > now)
      g_usleep (due - now);
    if (gst_app_src_push_buffer (GST_APP_SRC (src), buf) != GST_FLOW_OK)
      break;
    live->samples += chunk;
  }
  if (!g_atomic_int_get (&live->stop))
    gst_app_src_end_of_stream (GST_APP_SRC (src));
  gst_object_unref (src);
  return NULL;
}

BenchLive *
bench_live_new (const BenchSlots * slots, gdouble seconds)
{
  BenchLive *live = g_new0 (BenchLive, 1);
  g_autoptr (GError) error = NULL;
  GstElement *src;
  GstCaps *caps;

  live->slots = *slots;
  live->seconds = seconds;
  live->chunk = LIVE_CHUNK;
  live->pipeline = gst_parse_launch ("appsrc name=src is-live=true format=time ! "
      "stttranscribe name=stt ! fakesink sync=false async=false", &error);
  if (live->pipeline == NULL)
    g_error ("pipeline: %s", error->message);
  live->stt = gst_bin_get_by_name (GST_BIN (live->pipeline), "stt");
  live->bus = gst_element_get_bus (live->pipeline);
  src = gst_bin_get_by_name (GST_BIN (live->pipeline), "src");
  caps = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE",
      "layout", G_TYPE_STRING, "interleaved", "rate", G_TYPE_INT, LIVE_RATE,
      "channels", G_TYPE_INT, 1, NULL);
  gst_app_src_set_caps (GST_APP_SRC (src), caps);
  gst_caps_unref (caps);
  gst_object_unref (src);
  return live;
}

BenchLive *
bench_live_new_sample (const gint16 * sample, gsize len, gsize offset, guint chunk_ms,
    gdouble seconds)
{
  BenchSlots none = { 0, 1, 0, 0 };
  BenchLive *live = bench_live_new (&none, seconds);

  g_return_val_if_fail (len > 0, live);
  live->sample = sample;
  live->sample_len = len;
  live->sample_offset = offset % len;
  live->chunk = LIVE_RATE / 1000 * chunk_ms;
  return live;
}

void
bench_live_start (BenchLive * live)
{
  if (gst_element_set_state (live->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    g_error ("the live pipeline did not start");
  live->start_us = g_get_monotonic_time ();
  live->feeder = g_thread_new ("bench-feeder", live_feed, live);
}

gdouble
bench_live_time (BenchLive * live)
{
  return (g_get_monotonic_time () - live->start_us) / 1e6;
}

void
bench_live_free (BenchLive * live)
{
  g_atomic_int_set (&live->stop, 1);
  if (live->feeder)
    g_thread_join (live->feeder);
  gst_element_set_state (live->pipeline, GST_STATE_NULL);
  gst_object_unref (live->bus);
  gst_object_unref (live->stt);
  gst_object_unref (live->pipeline);
  g_free (live);
}

const gchar *
bench_final_words (GstMessage * msg, BenchWordFunc func, gpointer data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  const GValue *words;
  gboolean final = FALSE;
  guint k;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT || s == NULL
      || !gst_structure_has_name (s, "stt-transcript")
      || !gst_structure_get_boolean (s, "is-final", &final) || !final)
    return NULL;
  words = gst_structure_get_value (s, "words");
  for (k = 0; words && func && k < gst_value_array_get_size (words); k++) {
    const GstStructure *ws =
        gst_value_get_structure (gst_value_array_get_value (words, k));
    const gchar *text = gst_structure_get_string (ws, "text");
    GstClockTime start = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;
    GString *bare = g_string_new (NULL);

    for (; text && *text; text++) {
      if (g_ascii_isalnum (*text))
        g_string_append_c (bare, g_ascii_tolower (*text));
    }
    gst_structure_get_clock_time (ws, "start", &start);
    gst_structure_get_clock_time (ws, "end", &end);
    func (bare->str, start, end, data);
    g_string_free (bare, TRUE);
  }
  return gst_structure_get_string (s, "provider");
}
