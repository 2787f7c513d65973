/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-check-utils.c: audio and bus helpers for the tests. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <gst/check/gstcheck.h>
#include <gst/app/app.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

GstCaps *
stt_check_audio_caps (GstAudioFormat format, guint rate, guint channels)
{
  GstAudioInfo info;

  gst_audio_info_set_format (&info, format, rate, channels, NULL);
  return gst_audio_info_to_caps (&info);
}

GstBuffer *
stt_check_make_audio (GstAudioFormat format, guint rate, guint channels,
    gdouble duration, const SttTone * tones, guint n_tones, GstClockTime pts)
{
  gsize frames = (gsize) (duration * rate + 0.5), i;
  guint bps = format == GST_AUDIO_FORMAT_S16LE ? 2 : 4;
  GstBuffer *buf = gst_buffer_new_allocate (NULL, frames * channels * bps, NULL);
  GstMapInfo map;

  g_assert (format == GST_AUDIO_FORMAT_S16LE || format == GST_AUDIO_FORMAT_F32LE);
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (i = 0; i < frames; i++) {
    gdouble t = (gdouble) i / rate, v;
    guint k, c;
    /* Faint deterministic noise (about -60 dBFS, far below what counts as speech) makes
     * every stretch of audio unique, so tests can find where a server's audio came from. */
    guint32 x = (guint32) i * 2654435761u;

    x ^= x >> 15;
    v = ((gdouble) (x % 2001) - 1000.0) / 1000.0 * 0.001;

    for (k = 0; k < n_tones; k++) {
      if (t >= tones[k].start && t < tones[k].end)
        v += 0.5 * sin (2 * G_PI * tones[k].freq * (t - tones[k].start));
    }
    for (c = 0; c < channels; c++) {
      if (format == GST_AUDIO_FORMAT_S16LE) {
        gint16 s = GINT16_TO_LE ((gint16) (v * 32767));
        memcpy (map.data + (i * channels + c) * 2, &s, 2);
      } else {
        gfloat f = (gfloat) v;
        memcpy (map.data + (i * channels + c) * 4, &f, 4);
      }
    }
  }
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (frames, GST_SECOND, rate);
  return buf;
}

gchar *
stt_check_tone_word (const SttTone * t)
{
  return g_strdup_printf ("w%d", (gint) floor (t->freq / 100 + 0.5) * 100);
}

SttTone *
stt_check_make_speech (gdouble duration, gdouble tail, guint * n_tones)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (SttTone));
  SttTone *tones;
  gdouble t = 0, shift;
  guint i;

  for (i = 0;; i++) {
    SttTone tone;

    /* Lengths repeat every 4 words, gaps every 7, frequencies every 17 (7 is prime to
     * 17, so neighbours differ): varied, yet the same sequence on every run. */
    tone.start = t;
    tone.end = t + 0.25 + 0.05 * (i % 4);
    tone.freq = 420 + 100 * ((i * 7) % 17);
    if (tone.end > duration - tail - 0.5)
      break;
    g_array_append_val (a, tone);
    t = tone.end + ((i + 1) % 8 == 0 ? 2.5 : 0.5 + 0.05 * ((i * 5) % 7));
  }
  /* Shifted so the last word ends exactly @tail before the end (at least 0.5 s of
   * silence before the first). */
  tones = (SttTone *) a->data;
  shift = a->len ? duration - tail - tones[a->len - 1].end : 0;
  for (i = 0; i < a->len; i++) {
    tones[i].start += shift;
    tones[i].end += shift;
  }
  *n_tones = a->len;
  return (SttTone *) g_array_free (a, FALSE);
}

gboolean
stt_check_write_wav (const gchar * path, guint rate, guint channels, gdouble duration,
    const SttTone * tones, guint n_tones, GError ** error)
{
  GstBuffer *buf = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, rate, channels,
      duration, tones, n_tones, 0);
  GstMapInfo map;
  guint8 header[44];
  GByteArray *file;
  gboolean ok;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  /* The canonical 44-byte header of PCM WAV; every field little-endian. */
  memcpy (header, "RIFF", 4);
  GST_WRITE_UINT32_LE (header + 4, 36 + map.size);
  memcpy (header + 8, "WAVEfmt ", 8);
  GST_WRITE_UINT32_LE (header + 16, 16);
  GST_WRITE_UINT16_LE (header + 20, 1);     /* PCM */
  GST_WRITE_UINT16_LE (header + 22, channels);
  GST_WRITE_UINT32_LE (header + 24, rate);
  GST_WRITE_UINT32_LE (header + 28, rate * channels * 2);
  GST_WRITE_UINT16_LE (header + 32, channels * 2);
  GST_WRITE_UINT16_LE (header + 34, 16);
  memcpy (header + 36, "data", 4);
  GST_WRITE_UINT32_LE (header + 40, map.size);
  file = g_byte_array_sized_new (sizeof (header) + map.size);
  g_byte_array_append (file, header, sizeof (header));
  g_byte_array_append (file, map.data, map.size);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  ok = g_file_set_contents (path, (const gchar *) file->data, file->len, error);
  g_byte_array_unref (file);
  return ok;
}

GList *
stt_check_split (GstBuffer * buf, GstAudioFormat format, guint rate, guint channels,
    guint chunk_ms)
{
  guint bpf = channels * (format == GST_AUDIO_FORMAT_S16LE ? 2 : 4);
  gsize size = gst_buffer_get_size (buf), off = 0;
  gsize chunk = (gsize) rate * chunk_ms / 1000 * bpf;
  GstClockTime pts0 = GST_BUFFER_PTS (buf);
  GList *out = NULL;

  while (off < size) {
    gsize n = MIN (chunk, size - off);
    GstBuffer *b = gst_buffer_copy_region (buf, GST_BUFFER_COPY_ALL, off, n);

    GST_BUFFER_PTS (b) = pts0 + gst_util_uint64_scale (off / bpf, GST_SECOND, rate);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale (n / bpf, GST_SECOND, rate);
    if (off == 0)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT);
    else
      GST_BUFFER_FLAG_UNSET (b, GST_BUFFER_FLAG_DISCONT);
    out = g_list_append (out, b);
    off += n;
  }
  return out;
}

struct _SttCheckFeeder
{
  GstElement *src;
  GList *buffers;
  gboolean realtime;
  gint64 start;
  GMutex lock;
  gint64 delay;                 /* under lock: the pauses so far, in us */
  gint stop;                    /* atomic */
  GThread *thread;
};

static gint64
feeder_delay (SttCheckFeeder * f)
{
  gint64 d;

  g_mutex_lock (&f->lock);
  d = f->delay;
  g_mutex_unlock (&f->lock);
  return d;
}

static gpointer
feeder_thread (gpointer data)
{
  SttCheckFeeder *f = data;
  gint64 start = f->start ? f->start : g_get_monotonic_time ();
  GList *l;

  for (l = f->buffers; l; l = l->next) {
    gint64 due = start + (gint64) (GST_BUFFER_PTS (l->data) / GST_USECOND);
    gint64 now = g_get_monotonic_time ();

    if (g_atomic_int_get (&f->stop))
      break;
    /* A pause may come while it sleeps: sleep in steps, and look again. */
    while (f->realtime && !g_atomic_int_get (&f->stop)
        && (now = g_get_monotonic_time ()) < due + feeder_delay (f))
      g_usleep (MIN (due + feeder_delay (f) - now, 10000));
    if (g_atomic_int_get (&f->stop))
      break;
    if (gst_app_src_push_buffer (GST_APP_SRC (f->src), gst_buffer_copy (l->data))
        != GST_FLOW_OK)
      break;
  }
  if (l == NULL)
    gst_app_src_end_of_stream (GST_APP_SRC (f->src));
  return NULL;
}

SttCheckFeeder *
stt_check_feeder_start (GstElement * src, GList * buffers, gboolean realtime,
    gint64 start)
{
  SttCheckFeeder *f = g_new0 (SttCheckFeeder, 1);

  f->src = gst_object_ref (src);
  f->buffers = buffers;
  f->realtime = realtime;
  f->start = start;
  g_mutex_init (&f->lock);
  f->thread = g_thread_new ("stt-check-feeder", feeder_thread, f);
  return f;
}

void
stt_check_feeder_stop (SttCheckFeeder * f)
{
  g_atomic_int_set (&f->stop, 1);
  g_thread_join (f->thread);
  gst_object_unref (f->src);
  g_mutex_clear (&f->lock);
  g_free (f);
}

void
stt_check_feeder_pause (SttCheckFeeder * f, gint64 us)
{
  g_mutex_lock (&f->lock);
  f->delay += us;
  g_mutex_unlock (&f->lock);
}

static void
cue_clear (SttCheckCue * cue)
{
  g_free (cue->text);
}

GArray *
stt_check_cues_new (void)
{
  GArray *cues = g_array_new (FALSE, TRUE, sizeof (SttCheckCue));

  g_array_set_clear_func (cues, (GDestroyNotify) cue_clear);
  return cues;
}

typedef struct
{
  GMutex *lock;
  GArray *cues;
} CueSink;

static void
cue_sink_free (CueSink * cs)
{
  g_array_unref (cs->cues);
  g_free (cs);
}

/* The appsink's streaming thread. */
static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer data)
{
  CueSink *cs = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  GstMapInfo map;
  SttCheckCue cue;

  if (sample == NULL)
    return GST_FLOW_EOS;
  buf = gst_sample_get_buffer (sample);
  cue.pts = GST_BUFFER_PTS (buf);
  cue.duration = GST_BUFFER_DURATION (buf);
  cue.arrived = g_get_monotonic_time ();
  gst_buffer_map (buf, &map, GST_MAP_READ);
  cue.text = g_strndup ((const gchar *) map.data, map.size);
  gst_buffer_unmap (buf, &map);
  gst_sample_unref (sample);
  g_mutex_lock (cs->lock);
  g_array_append_val (cs->cues, cue);
  g_mutex_unlock (cs->lock);
  return GST_FLOW_OK;
}

void
stt_check_collect_cues (GstElement * sink, GMutex * lock, GArray * cues)
{
  GstAppSinkCallbacks callbacks = {.new_sample = on_new_sample };
  CueSink *cs = g_new0 (CueSink, 1);

  cs->lock = lock;
  cs->cues = g_array_ref (cues);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, cs,
      (GDestroyNotify) cue_sink_free);
}

static GString *logged;         /* under log_lock */
static GMutex log_lock;
static gboolean log_quiet;
static GLogFunc glib_log_before;

static void
capture_gst (GstDebugCategory * cat, GstDebugLevel level, const gchar * file,
    const gchar * function, gint line, GObject * object, GstDebugMessage * message,
    gpointer data)
{
  const gchar *text = gst_debug_message_get (message);

  g_mutex_lock (&log_lock);
  /* GStreamer 1.22 may still call a log function just removed, from another thread. */
  if (logged)
    g_string_append_printf (logged, "%s %s:%d %s\n", gst_debug_category_get_name (cat),
        function, line, text ? text : "");
  g_mutex_unlock (&log_lock);
}

static void
capture_glib (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer data)
{
  g_mutex_lock (&log_lock);
  if (logged)
    g_string_append_printf (logged, "%s: %s\n", domain ? domain : "", message);
  g_mutex_unlock (&log_lock);
}

void
stt_check_log_capture_start (const gchar * threshold, gboolean quiet)
{
  g_mutex_lock (&log_lock);
  logged = g_string_new (NULL);
  g_mutex_unlock (&log_lock);
  gst_debug_set_active (TRUE);
  log_quiet = quiet;
  if (quiet)
    gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_set_threshold_from_string (threshold, TRUE);
  gst_debug_add_log_function (capture_gst, NULL, NULL);
  glib_log_before = g_log_set_default_handler (capture_glib, NULL);
}

const GString *
stt_check_log_lock (void)
{
  g_mutex_lock (&log_lock);
  return logged;
}

void
stt_check_log_unlock (void)
{
  g_mutex_unlock (&log_lock);
}

void
stt_check_log_capture_stop (void)
{
  gst_debug_remove_log_function (capture_gst);
  if (log_quiet)
    gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  g_log_set_default_handler (glib_log_before, NULL);
  g_mutex_lock (&log_lock);
  g_string_free (logged, TRUE);
  logged = NULL;
  g_mutex_unlock (&log_lock);
}

GList *
stt_check_collect (GstBus * bus, const gchar * name, guint timeout_ms,
    SttCheckDoneFunc done, gpointer user_data)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  GList *list = NULL;

  for (;;) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;
    const GstStructure *s;

    if (done && done (list, user_data))
      break;
    if (left <= 0)
      break;
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
    if (msg == NULL)
      break;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *err = NULL;
      const GstStructure *details = NULL;
      GstStructure *w;

      gst_message_parse_warning (msg, &err, NULL);
      gst_message_parse_warning_details (msg, &details);
      w = details ? gst_structure_copy (details) : gst_structure_new_empty ("details");
      gst_structure_set_name (w, "warning");
      gst_structure_set (w, "message", G_TYPE_STRING, err->message, NULL);
      if (name == NULL || g_str_equal (name, "warning"))
        list = g_list_append (list, w);
      else
        gst_structure_free (w);
      g_error_free (err);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gchar *dbg = NULL;

      gst_message_parse_error (msg, &err, &dbg);
      list = g_list_append (list, gst_structure_new ("error", "message", G_TYPE_STRING,
              err->message, "debug", G_TYPE_STRING, dbg, "code", G_TYPE_INT, err->code,
              "domain", G_TYPE_UINT, err->domain, NULL));
      g_error_free (err);
      g_free (dbg);
    } else {
      s = gst_message_get_structure (msg);
      if (s && (name == NULL || gst_structure_has_name (s, name)))
        list = g_list_append (list, gst_structure_copy (s));
    }
    gst_message_unref (msg);
  }
  return list;
}

GList *
stt_check_filter_final (GList * list, gboolean is_final)
{
  GList *out = NULL, *l;

  for (l = list; l; l = l->next) {
    gboolean f;

    if (gst_structure_get_boolean (l->data, "is-final", &f) && f == is_final)
      out = g_list_append (out, l->data);
  }
  return out;
}


gssize
stt_check_find_audio (GBytes * haystack, GBytes * needle)
{
  gsize hlen, nlen;
  const guint8 *h = g_bytes_get_data (haystack, &hlen);
  const guint8 *n = g_bytes_get_data (needle, &nlen);
  gsize probe = MIN (nlen, 256 * 2), off;

  if (probe == 0 || probe > hlen)
    return -1;
  for (off = 0; off + probe <= hlen; off += 2) {
    if (memcmp (h + off, n, probe) == 0)
      return (gssize) (off / 2);
  }
  return -1;
}

/* The non-empty space-separated words of @text. */
static gchar **
words_of (const gchar * text)
{
  gchar **all = g_strsplit (text, " ", -1);
  GPtrArray *out = g_ptr_array_new ();
  guint i;

  for (i = 0; all[i]; i++) {
    if (*all[i])
      g_ptr_array_add (out, g_strdup (all[i]));
  }
  g_ptr_array_add (out, NULL);
  g_strfreev (all);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

gdouble
stt_check_wer (const gchar * ref, const gchar * hyp)
{
  gchar *r_low = g_ascii_strdown (ref, -1), *h_low = g_ascii_strdown (hyp, -1);
  gchar **r = words_of (r_low);
  gchar **h = words_of (h_low);
  guint nr = g_strv_length (r), nh = g_strv_length (h), i, j;
  guint *prev = g_new (guint, nh + 1), *cur = g_new (guint, nh + 1);
  gdouble wer;

  /* Levenshtein distance over words, two rows. */
  for (j = 0; j <= nh; j++)
    prev[j] = j;
  for (i = 1; i <= nr; i++) {
    cur[0] = i;
    for (j = 1; j <= nh; j++) {
      guint sub = prev[j - 1] + (g_strcmp0 (r[i - 1], h[j - 1]) != 0);
      cur[j] = MIN (sub, MIN (prev[j] + 1, cur[j - 1] + 1));
    }
    memcpy (prev, cur, (nh + 1) * sizeof (guint));
  }
  wer = nr ? (gdouble) prev[nh] / nr : (nh ? 1.0 : 0.0);
  g_free (prev);
  g_free (cur);
  g_strfreev (r);
  g_strfreev (h);
  g_free (r_low);
  g_free (h_low);
  return wer;
}

GSubprocess *
stt_check_spawn_server (const gchar * const *argv, guint timeout_ms, guint * port)
{
  GError *err = NULL;
  GSubprocess *proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err);
  GDataInputStream *in;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (proc == NULL) {
    g_printerr ("cannot start %s: %s\n", argv[0], err->message);
    g_error_free (err);
    return NULL;
  }
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  *port = 0;
  /* The server prints its address once listening; reading blocks until a line comes,
   * and the deadline is checked between lines. */
  while (*port == 0 && g_get_monotonic_time () < deadline) {
    gchar *line = g_data_input_stream_read_line (in, NULL, NULL, NULL);
    const gchar *colon;

    if (line == NULL)
      break;
    if (g_str_has_prefix (line, "listening on ws://")
        && (colon = strrchr (line, ':')) != NULL)
      *port = (guint) atoi (colon + 1);
    g_free (line);
  }
  g_object_unref (in);
  if (*port == 0) {
    stt_check_stop_server (proc);
    return NULL;
  }
  return proc;
}

static void
wait_done (GObject * source, GAsyncResult * res, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  *(gboolean *) data = TRUE;
}

void
stt_check_stop_server (GSubprocess * proc)
{
  GMainContext *ctx;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean done = FALSE;

  if (proc == NULL)
    return;
  ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait_async (proc, NULL, wait_done, &done);
  while (!done && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (ctx, FALSE))
      g_usleep (10000);
  }
  if (!done) {
    g_subprocess_force_exit (proc);
    while (!done)
      g_main_context_iteration (ctx, TRUE);
  }
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_object_unref (proc);
}

struct _SttCheckSoup
{
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GTlsCertificate *cert;
  SttCheckSoupSetup setup;
  gpointer user_data;
  GMutex lock;
  GCond cond;
  guint port;                   /* asked for, then listened on (0: failed) */
  gboolean started;
};

static gpointer
soup_thread (gpointer data)
{
  SttCheckSoup *s = data;
  SoupServer *server;
  GSList *uris;
  GError *err = NULL;

  g_main_context_push_thread_default (s->context);
  server = soup_server_new ("tls-certificate", s->cert, NULL);
  s->setup (server, s->user_data);
  if (soup_server_listen_local (server, s->port, SOUP_SERVER_LISTEN_IPV4_ONLY |
          (s->cert ? SOUP_SERVER_LISTEN_HTTPS : 0), &err)) {
    uris = soup_server_get_uris (server);
    g_mutex_lock (&s->lock);
    s->port = g_uri_get_port (uris->data);
    g_mutex_unlock (&s->lock);
    g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  } else {
    g_printerr ("test server: %s\n", err->message);
    g_error_free (err);
    s->port = 0;
  }
  g_mutex_lock (&s->lock);
  s->started = TRUE;
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
  if (s->port)
    g_main_loop_run (s->loop);
  soup_server_disconnect (server);
  g_object_unref (server);
  g_main_context_pop_thread_default (s->context);
  return NULL;
}

SttCheckSoup *
stt_check_soup_new_on_port (GTlsCertificate * cert, guint port, SttCheckSoupSetup setup,
    gpointer user_data)
{
  SttCheckSoup *s = g_new0 (SttCheckSoup, 1);

  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->cert = cert ? g_object_ref (cert) : NULL;
  s->port = port;
  s->setup = setup;
  s->user_data = user_data;
  s->context = g_main_context_new ();
  s->loop = g_main_loop_new (s->context, FALSE);
  s->thread = g_thread_new ("check-soup", soup_thread, s);
  g_mutex_lock (&s->lock);
  while (!s->started)
    g_cond_wait (&s->cond, &s->lock);
  g_mutex_unlock (&s->lock);
  if (s->port == 0) {
    stt_check_soup_free (s);
    return NULL;
  }
  return s;
}

SttCheckSoup *
stt_check_soup_new (GTlsCertificate * cert, SttCheckSoupSetup setup, gpointer user_data)
{
  return stt_check_soup_new_on_port (cert, 0, setup, user_data);
}

guint
stt_check_soup_get_port (SttCheckSoup * s)
{
  return s->port;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
stt_check_soup_free (SttCheckSoup * s)
{
  if (s == NULL)
    return;
  g_main_context_invoke (s->context, quit_cb, s->loop);
  g_thread_join (s->thread);
  g_main_loop_unref (s->loop);
  g_main_context_unref (s->context);
  g_clear_object (&s->cert);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
}

/* --- runs ------------------------------------------------------------------------------ */

void
stt_check_set_test_credentials (GstElement * stt, const gchar * provider)
{
  if (g_str_equal (provider, "aws"))
    g_object_set (stt, "access-key", STT_CHECK_AWS_KEY_ID, "secret-access-key", "test-key",
        "region", STT_CHECK_AWS_REGION, NULL);
  else
    g_object_set (stt, "api-key", "test-key", NULL);
}

gboolean
stt_check_wait_server_audio (SttTestServer * server, guint index, gdouble seconds)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    GBytes *audio = stt_test_server_get_audio (server, index);
    gsize size = audio ? g_bytes_get_size (audio) : 0;

    g_clear_pointer (&audio, g_bytes_unref);
    if (size >= seconds * STT_CHECK_RUN_RATE * 2)
      return TRUE;
    g_usleep (10 * 1000);
  }
  return FALSE;
}

SttCheckRun *
stt_check_run_new (const gchar * provider, const gchar * url, const SttTone * tones,
    guint n_tones, gdouble duration)
{
  SttCheckRun *r = g_new0 (SttCheckRun, 1);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, STT_CHECK_RUN_RATE, 1,
      duration, tones, n_tones, 0);
  GstMapInfo map;

  r->tones = tones;
  r->n_tones = n_tones;
  gst_buffer_map (all, &map, GST_MAP_READ);
  r->input = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (all, &map);
  r->buffers = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, STT_CHECK_RUN_RATE, 1, 20);
  gst_buffer_unref (all);
  r->audio = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  r->h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  r->bus = gst_bus_new ();
  gst_element_set_bus (r->h->element, r->bus);
  g_object_set (r->h->element, "provider", provider, "url", url, NULL);
  stt_check_set_test_credentials (r->h->element, provider);
  g_object_set (r->h->element, "latency", (guint) 60000, "reconnect-initial-delay", 50 * GST_MSECOND,
      "reconnect-max-delay", 300 * GST_MSECOND, NULL);
  /* The text buffers checked here are the segments of a file (the harness only says
   * it is live). */
  gst_util_set_object_arg (G_OBJECT (r->h->element), "output-mode", "segments");
  gst_harness_set_src_caps (r->h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE,
          STT_CHECK_RUN_RATE, 1));
  return r;
}

void
stt_check_run_free (SttCheckRun * r)
{
  gst_element_set_bus (r->h->element, NULL);
  gst_bus_set_flushing (r->bus, TRUE);
  gst_object_unref (r->bus);
  gst_harness_teardown (r->h);
  g_list_free_full (r->buffers, (GDestroyNotify) gst_buffer_unref);
  g_bytes_unref (r->input);
  g_ptr_array_unref (r->audio);
  g_free (r);
}

gint64
stt_check_run_push (SttCheckRun * r, gdouble from, gdouble to, gboolean realtime)
{
  GList *l;
  gint64 longest = 0, start = g_get_monotonic_time ();

  for (l = r->buffers; l; l = l->next) {
    GstClockTime pts = GST_BUFFER_PTS (l->data);
    gint64 t0;

    if (pts < from * GST_SECOND - 1 || pts >= to * GST_SECOND - 1)
      continue;
    if (realtime) {
      gint64 due = start + (gint64) ((pts / GST_USECOND) - from * G_USEC_PER_SEC);
      gint64 now = g_get_monotonic_time ();
      if (due > now)
        g_usleep (due - now);
    }
    t0 = g_get_monotonic_time ();
    fail_unless_equals_int (gst_harness_push (r->h, gst_buffer_ref (l->data)), GST_FLOW_OK);
    longest = MAX (longest, g_get_monotonic_time () - t0);
  }
  return longest;
}

gchar *
stt_check_bare_word (const gchar * text)
{
  GString *s = g_string_new (NULL);

  for (; *text; text++) {
    if (g_ascii_isalnum (*text))
      g_string_append_c (s, g_ascii_tolower (*text));
  }
  return g_string_free (s, FALSE);
}

gdouble
stt_check_run_tone_start (SttCheckRun * r, const gchar * word)
{
  g_autofree gchar *bare = stt_check_bare_word (word);
  guint i;

  for (i = 0; i < r->n_tones; i++) {
    g_autofree gchar *name = stt_check_tone_word (&r->tones[i]);

    if (g_str_equal (name, bare))
      return r->tones[i].start;
  }
  return -1;
}

static guint
count_final_words (GList * list)
{
  GList *f = stt_check_filter_final (list, TRUE), *l;
  guint words = 0;

  for (l = f; l; l = l->next) {
    gchar **w = g_strsplit (gst_structure_get_string (l->data, "text"), " ", -1);
    words += g_strv_length (w);
    g_strfreev (w);
  }
  g_list_free (f);
  return words;
}

gboolean
stt_check_enough_final_words (GList * collected, gpointer user_data)
{
  return count_final_words (collected) >= GPOINTER_TO_UINT (user_data);
}

void
stt_check_foreach_final_word (GList * msgs, SttCheckWordFunc func, gpointer user_data)
{
  GList *finals = stt_check_filter_final (msgs, TRUE), *l;
  guint i;

  for (l = finals; l; l = l->next) {
    const GValue *words = gst_structure_get_value (l->data, "words");

    for (i = 0; i < gst_value_array_get_size (words); i++) {
      const GstStructure *w =
          gst_value_get_structure (gst_value_array_get_value (words, i));
      GstClockTime start = GST_CLOCK_TIME_NONE;

      gst_structure_get_clock_time (w, "start", &start);
      func (gst_structure_get_string (w, "text"), start, user_data);
    }
  }
  g_list_free (finals);
}

typedef struct
{
  SttCheckRun *r;
  GPtrArray *got;
} FinishCtx;

static void
finish_word (const gchar * text, GstClockTime start, gpointer data)
{
  FinishCtx *ctx = data;

  g_ptr_array_add (ctx->got, stt_check_bare_word (text));
  /* Timestamps stay right across connections. */
  fail_unless (ABS (GST_CLOCK_DIFF (start, (GstClockTime) (stt_check_run_tone_start (ctx->r,
                      text) * GST_SECOND))) <= 30 * GST_MSECOND, "%s at %"
      GST_TIME_FORMAT, text, GST_TIME_ARGS (start));
}

GList *
stt_check_run_finish (SttCheckRun * r, const gchar * const *expected, GList * prior)
{
  GList *msgs, *l;
  FinishCtx ctx = { r, g_ptr_array_new_with_free_func (g_free) };
  guint n = g_strv_length ((gchar **) expected), before = count_final_words (prior);

  gst_harness_push_event (r->h, gst_event_new_eos ());
  /* The words still to come: @prior may hold finals already. */
  msgs = g_list_concat (prior, stt_check_collect (r->bus, NULL, 15000,
          stt_check_enough_final_words, GUINT_TO_POINTER (n > before ? n - before : 0)));
  for (l = msgs; l; l = l->next) {
    fail_if (gst_structure_has_name (l->data, "error"), "unexpected error: %s",
        gst_structure_get_string (l->data, "message"));
  }
  stt_check_foreach_final_word (msgs, finish_word, &ctx);
  g_ptr_array_add (ctx.got, NULL);
  {
    g_autofree gchar *a = g_strjoinv (" ", (gchar **) ctx.got->pdata);
    g_autofree gchar *b = g_strjoinv (" ", (gchar **) expected);
    fail_unless_equals_string (a, b);
  }
  g_ptr_array_unref (ctx.got);
  return msgs;
}

void
stt_check_assert_time (GstClockTime got, GstClockTime want, const gchar * what)
{
  GstClockTimeDiff d = GST_CLOCK_DIFF (want, got);

  fail_unless (GST_CLOCK_TIME_IS_VALID (got) && ABS (d) <= 30 * GST_MSECOND,
      "%s: got %" GST_TIME_FORMAT ", want %" GST_TIME_FORMAT, what, GST_TIME_ARGS (got),
      GST_TIME_ARGS (want));
}

gboolean
stt_check_has_error (GList * collected, gpointer user_data)
{
  for (; collected; collected = collected->next) {
    if (gst_structure_has_name (collected->data, "error"))
      return TRUE;
  }
  return FALSE;
}

guint
stt_check_count_state (GList * msgs, const gchar * state)
{
  guint n = 0;

  for (; msgs; msgs = msgs->next) {
    if (gst_structure_has_name (msgs->data, "stt-connection")
        && !g_strcmp0 (gst_structure_get_string (msgs->data, "state"), state))
      n++;
  }
  return n;
}

GstStructure *
stt_check_wait_error (GstBus * bus, guint timeout_ms)
{
  GList *msgs = stt_check_collect (bus, NULL, timeout_ms,
      stt_check_has_error, NULL), *l;
  GstStructure *err = NULL;

  for (l = msgs; l && err == NULL; l = l->next) {
    if (gst_structure_has_name (l->data, "error"))
      err = gst_structure_copy (l->data);
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  return err;
}

gboolean
stt_check_n_finals (GList * collected, gpointer user_data)
{
  GList *f = stt_check_filter_final (collected, TRUE);
  gboolean done = g_list_length (f) >= GPOINTER_TO_UINT (user_data);

  g_list_free (f);
  return done;
}

void
stt_check_final (const GstStructure * s, const gchar * text, const SttTone * t, guint n,
    GstClockTime offset)
{
  stt_check_final_words (s, text, NULL, t, n, offset);
}

void
stt_check_word_confidence (const GstStructure * s, gdouble want)
{
  const GValue *words = gst_structure_get_value (s, "words");
  guint i;

  fail_unless (words && GST_VALUE_HOLDS_ARRAY (words));
  for (i = 0; i < gst_value_array_get_size (words); i++) {
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (words, i));
    gdouble conf;

    fail_unless (gst_structure_get_double (w, "confidence", &conf));
    fail_unless (conf > want - 0.01 && conf < want + 0.01, "confidence %f", conf);
  }
}

void
stt_check_final_words (const GstStructure * s, const gchar * text,
    const gchar * const *word_texts, const SttTone * t, guint n, GstClockTime offset)
{
  const GValue *words = gst_structure_get_value (s, "words");
  GstClockTime pts, dur;
  guint i;

  fail_unless_equals_string (gst_structure_get_string (s, "text"), text);
  fail_unless (gst_structure_get_clock_time (s, "pts", &pts));
  fail_unless (gst_structure_get_clock_time (s, "duration", &dur));
  stt_check_assert_time (pts, offset + t[0].start * GST_SECOND, "final pts");
  stt_check_assert_time (pts + dur, offset + t[n - 1].end * GST_SECOND, "final end");
  fail_unless (words && GST_VALUE_HOLDS_ARRAY (words));
  fail_unless_equals_int (gst_value_array_get_size (words), n);
  for (i = 0; i < n; i++) {
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (words, i));
    g_autofree gchar *want = word_texts ? g_strdup (word_texts[i]) :
        stt_check_tone_word (&t[i]);
    GstClockTime ws, we;
    gdouble conf;

    fail_unless (gst_structure_has_name (w, "stt-word"));
    fail_unless_equals_string (gst_structure_get_string (w, "text"), want);
    fail_unless (gst_structure_get_clock_time (w, "start", &ws));
    fail_unless (gst_structure_get_clock_time (w, "end", &we));
    fail_unless (gst_structure_get_double (w, "confidence", &conf));
    stt_check_assert_time (ws, offset + t[i].start * GST_SECOND, "word start");
    stt_check_assert_time (we, offset + t[i].end * GST_SECOND, "word end");
  }
}

/* --- tokens ---------------------------------------------------------------------------- */

static guint8 *
b64url_decode (const gchar * text, gsize * len)
{
  GString *s = g_string_new (text);
  guint8 *out;

  g_strdelimit (s->str, "-", '+');
  g_strdelimit (s->str, "_", '/');
  while (s->len % 4)
    g_string_append_c (s, '=');
  out = g_base64_decode (s->str, len);
  g_string_free (s, TRUE);
  return out;
}

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

/* The JSON object in the base64url @part, or NULL; owned by the caller. */
static JsonObject *
decode_json (const gchar * part)
{
  gsize len;
  g_autofree guint8 *json = b64url_decode (part, &len);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (json == NULL || !json_parser_load_from_data (parser, (const gchar *) json, len,
          NULL))
    return NULL;
  root = json_parser_get_root (parser);
  return root && JSON_NODE_HOLDS_OBJECT (root) ?
      json_object_ref (json_node_get_object (root)) : NULL;
}

JsonObject *
stt_check_jwt_verify (const gchar * token, const gchar * secret, gchar ** why)
{
  g_auto (GStrv) parts = token ? g_strsplit (token, ".", -1) : NULL;
  g_autofree gchar *input = NULL, *sig = NULL;
  g_autoptr (JsonObject) h = NULL;
  JsonObject *p;
  guint8 digest[32];
  gsize digest_len = sizeof (digest);
  GHmac *hmac;

  *why = NULL;
  if (parts == NULL || g_strv_length (parts) != 3) {
    *why = g_strdup ("not a compact JWS");
    return NULL;
  }
  input = g_strconcat (parts[0], ".", parts[1], NULL);
  hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *) input, -1);
  g_hmac_get_digest (hmac, digest, &digest_len);
  g_hmac_unref (hmac);
  sig = b64url_encode (digest, digest_len);
  if (strcmp (sig, parts[2]) != 0) {
    *why = g_strdup ("bad signature");
    return NULL;
  }
  h = decode_json (parts[0]);
  if (h == NULL || g_strcmp0 (json_object_get_string_member_with_default (h, "alg", ""),
          "HS256") || g_strcmp0 (json_object_get_string_member_with_default (h, "typ",
              ""), "JWT")) {
    *why = g_strdup ("bad header");
    return NULL;
  }
  p = decode_json (parts[1]);
  if (p == NULL)
    *why = g_strdup ("bad payload");
  return p;
}

static GstClockTime
seconds (gdouble s)
{
  return (GstClockTime) (s * GST_SECOND + 0.5);
}

GstEvent *
stt_check_revision_event (gdouble start, gdouble end, const SttCheckWord * words,
    guint n_words)
{
  GValue arr = G_VALUE_INIT;
  GString *text = g_string_new (NULL);
  GstStructure *s;
  guint i;

  g_value_init (&arr, GST_TYPE_ARRAY);
  for (i = 0; i < n_words; i++) {
    GValue v = G_VALUE_INIT;

    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, gst_structure_new ("stt-word",
            "text", G_TYPE_STRING, words[i].text,
            "start", GST_TYPE_CLOCK_TIME, seconds (words[i].start),
            "end", GST_TYPE_CLOCK_TIME, seconds (words[i].end),
            "confidence", G_TYPE_DOUBLE, -1.0, "speaker", G_TYPE_STRING, "",
            "stable", G_TYPE_BOOLEAN, TRUE, NULL));
    gst_value_array_append_and_take_value (&arr, &v);
    g_string_append_printf (text, "%s%s", i ? " " : "", words[i].text);
  }
  s = gst_structure_new ("stt-revision", "schema", G_TYPE_UINT, 1,
      "provider", G_TYPE_STRING, "deepgram", "replaces", G_TYPE_STRING, "vosk",
      "reason", G_TYPE_STRING, "failover", "text", G_TYPE_STRING, text->str,
      "pts", GST_TYPE_CLOCK_TIME, seconds (start),
      "duration", GST_TYPE_CLOCK_TIME, seconds (end) - seconds (start),
      "running-time", GST_TYPE_CLOCK_TIME, seconds (start),
      "stream-time", GST_TYPE_CLOCK_TIME, seconds (start),
      "finals", G_TYPE_UINT, 1, NULL);
  gst_structure_take_value (s, "words", &arr);
  g_string_free (text, TRUE);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, s);
}
