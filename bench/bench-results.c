/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-results: the result path (README.md, "Result path").
 *
 * K live streams into stttranscribe; bench-server --stamp writes its CLOCK_MONOTONIC
 * time (us) into every transcript just before it sends the message ("t<16 digits>").
 * A bus sync handler (it runs in the posting thread, at the post) times each
 * stt-transcript message, and a pad probe on the element's src pad times each text
 * buffer as it is pushed; both match the message by its text. The figure is therefore
 * from the server's send, through loopback TCP and libsoup's read (the message
 * arriving), to the post / the push: an upper bound of our part.
 * (The element's own `latency` field is something else: last audio sent -> result.)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libsoup/soup.h>

#include "bench-common.h"

static GMutex lock;
static GArray *posted_partial, *posted_final, *pushed;

static gint64
stamp_of (const gchar * text)
{
  const gchar *t = text ? strchr (text, 't') : NULL;

  return t && g_ascii_isdigit (t[1]) ? g_ascii_strtoll (t + 1, NULL, 10) : -1;
}

static void
on_element (BenchStream * st, GstMessage * msg, gpointer data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  gint64 now = g_get_monotonic_time (), t;
  gboolean is_final = FALSE;
  gdouble ms;

  if (!gst_structure_has_name (s, "stt-transcript"))
    return;
  t = stamp_of (gst_structure_get_string (s, "text"));
  if (t < 0)
    return;
  gst_structure_get_boolean (s, "is-final", &is_final);
  ms = (now - t) / 1000.0;
  g_mutex_lock (&lock);
  g_array_append_val (is_final ? posted_final : posted_partial, ms);
  g_mutex_unlock (&lock);
}

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gint64 now = g_get_monotonic_time (), t;
  GstMapInfo map;
  gchar text[64] = { 0 };
  gdouble ms;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  memcpy (text, map.data, MIN (map.size, sizeof (text) - 1));
  gst_buffer_unmap (buf, &map);
  t = stamp_of (text);
  if (t >= 0) {
    ms = (now - t) / 1000.0;
    g_mutex_lock (&lock);
    g_array_append_val (pushed, ms);
    g_mutex_unlock (&lock);
  }
  return GST_PAD_PROBE_OK;
}

/* The transport floor: a bare libsoup WebSocket client on its own thread, streaming
 * like the others and timing the same stamped messages when libsoup hands them over. */
typedef struct
{
  gchar *url;
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  SoupWebsocketConnection *ws;
  GArray *received;             /* under lock */
} Floor;

static void
floor_message (SoupWebsocketConnection * ws, gint type, GBytes * message, Floor * f)
{
  gint64 now = g_get_monotonic_time ();
  const gchar *text = g_bytes_get_data (message, NULL);
  const gchar *p = text ? strstr (text, "\"transcript\":\"t") : NULL;
  gint64 t = p ? g_ascii_strtoll (p + strlen ("\"transcript\":\"t"), NULL, 10) : -1;
  gdouble ms;

  if (t > 0) {
    ms = (now - t) / 1000.0;
    g_mutex_lock (&lock);
    g_array_append_val (f->received, ms);
    g_mutex_unlock (&lock);
  }
}

static gboolean
floor_tick (gpointer data)
{
  Floor *f = data;
  static const guint8 silence[3200];

  if (f->ws && soup_websocket_connection_get_state (f->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_binary (f->ws, silence, sizeof (silence));
  return G_SOURCE_CONTINUE;
}

static void
floor_connected (GObject * source, GAsyncResult * res, gpointer data)
{
  Floor *f = data;
  g_autoptr (GError) error = NULL;

  f->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &error);
  if (f->ws == NULL) {
    g_printerr ("floor client: %s\n", error->message);
    return;
  }
  g_signal_connect (f->ws, "message", G_CALLBACK (floor_message), f);
}

static gpointer
floor_main (gpointer data)
{
  Floor *f = data;
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autofree gchar *uri = g_strdup_printf ("%s?model=nova-3&encoding=linear16&"
      "sample_rate=16000&channels=1&interim_results=true&tag=floor", f->url);
  GSource *timer;

  g_main_context_push_thread_default (f->context);
  session = soup_session_new ();
  msg = soup_message_new ("GET", uri);
  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization",
      "Token bench");
  soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
      floor_connected, f);
  timer = g_timeout_source_new (100);
  g_source_set_callback (timer, floor_tick, f, NULL);
  g_source_attach (timer, f->context);
  g_main_loop_run (f->loop);
  g_source_destroy (timer);
  g_source_unref (timer);
  if (f->ws) {
    g_signal_handlers_disconnect_by_data (f->ws, f);
    soup_websocket_connection_close (f->ws, 1000, NULL);
    g_clear_object (&f->ws);
  }
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static Floor *
floor_start (const gchar * url)
{
  Floor *f = g_new0 (Floor, 1);

  f->url = g_strdup (url);
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->received = g_array_new (FALSE, FALSE, sizeof (gdouble));
  f->thread = g_thread_new ("floor", floor_main, f);
  return f;
}

static void
floor_stop (Floor * f)
{
  g_main_loop_quit (f->loop);
  g_thread_join (f->thread);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_free (f->url);
}

static void
report (const gchar * what, GArray * v)
{
  printf ("%-34s n=%-6u p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", what, v->len,
      bench_percentile (v, 50), bench_percentile (v, 99), bench_percentile (v, 100));
}

int
main (int argc, char **argv)
{
  gint k = 20;
  gdouble duration = 60;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *server_args[] = { "--stamp", "--interim-ms", "250", "--final-ms", "1000",
    NULL
  };
  BenchServer *server;
  BenchStreamConfig cfg = { 0, };
  GPtrArray *streams = g_ptr_array_new ();
  Floor *floor;
  gdouble cpu0, t0;
  guint i;
  GOptionEntry entries[] = {
    {"streams", 0, 0, G_OPTION_ARG_INT, &k, "Live streams (default 20)", "K"},
    {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "Seconds (default 60)", "S"},
    {NULL}
  };

  ctx = g_option_context_new ("- result path latency");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  bench_init (&argc, &argv, "bench-results");
  posted_partial = g_array_new (FALSE, FALSE, sizeof (gdouble));
  posted_final = g_array_new (FALSE, FALSE, sizeof (gdouble));
  pushed = g_array_new (FALSE, FALSE, sizeof (gdouble));
  server = bench_server_start (server_args);
  if (server == NULL)
    return 1;
  printf ("# %d live streams for %.0f s; server sends an interim every 250 ms of audio "
      "and a final every 1 s\n", k, duration);

  cfg.element = "stttranscribe";
  cfg.url = server->url;
  cfg.rate = 16000;
  cfg.samples_per_buffer = 1600;
  cfg.on_element = on_element;
  for (i = 0; i < (guint) k; i++) {
    BenchStream *st = bench_stream_new (i, &cfg);
    GstPad *src = gst_element_get_static_pad (st->stt, "src");

    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, NULL, NULL);
    gst_object_unref (src);
    g_ptr_array_add (streams, st);
    gst_element_set_state (st->pipeline, GST_STATE_PLAYING);
  }
  floor = floor_start (server->url);
  cpu0 = bench_cpu_seconds ();
  t0 = bench_now ();
  g_usleep ((gulong) (duration * G_USEC_PER_SEC));
  floor_stop (floor);
  printf ("# cpu %.1f %% over the run\n", 100 * (bench_cpu_seconds () - cpu0) /
      (bench_now () - t0));
  bench_streams_eos (streams, 60);
  for (i = 0; i < streams->len; i++)
    bench_stream_free (g_ptr_array_index (streams, i));

  g_mutex_lock (&lock);
  report ("server send -> bus post (partial)", posted_partial);
  report ("server send -> bus post (final)", posted_final);
  report ("server send -> text buffer pushed", pushed);
  report ("floor: server send -> bare libsoup client", floor->received);
  g_mutex_unlock (&lock);
  {
    g_autofree gchar *machine = bench_machine_line ();
    printf ("# end: %s\n", machine);
  }
  bench_server_stop (server);
  return 0;
}
