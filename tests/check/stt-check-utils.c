/* stt-check-utils.c: audio and bus helpers for the tests. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libsoup/soup.h>

#include "stt-check-utils.h"

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
        GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    if (msg == NULL)
      break;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
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
  guint port;
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
  if (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY |
          (s->cert ? SOUP_SERVER_LISTEN_HTTPS : 0), &err)) {
    uris = soup_server_get_uris (server);
    g_mutex_lock (&s->lock);
    s->port = g_uri_get_port (uris->data);
    g_mutex_unlock (&s->lock);
    g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  } else {
    g_printerr ("test server: %s\n", err->message);
    g_error_free (err);
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
stt_check_soup_new (GTlsCertificate * cert, SttCheckSoupSetup setup, gpointer user_data)
{
  SttCheckSoup *s = g_new0 (SttCheckSoup, 1);

  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->cert = cert ? g_object_ref (cert) : NULL;
  s->setup = setup;
  s->user_data = user_data;
  s->context = g_main_context_new ();
  s->loop = g_main_loop_new (s->context, FALSE);
  s->thread = g_thread_new ("check-soup", soup_thread, s);
  g_mutex_lock (&s->lock);
  while (!s->started)
    g_cond_wait (&s->cond, &s->lock);
  g_mutex_unlock (&s->lock);
  return s;
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
