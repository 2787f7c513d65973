/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-server: a lean Deepgram-shaped WebSocket server for the benchmarks.
 *
 *   bench-server [--threads N] [--interim-ms MS] [--final-ms MS] [--stamp]
 *   listening on ws://127.0.0.1:PORT/v1/listen
 *
 * It answers like Deepgram's listen v1 live API (Results with is_final, words and
 * times in seconds since the connection's first audio; Finalize; CloseStream answered
 * by a final, Metadata and close 1000), but decides by audio position alone, not by
 * content: an interim Results every --interim-ms of audio received, a final covering
 * everything since the previous final every --final-ms. It records nothing but a byte
 * count per connection, so a thousand connections cost little, and it reads as fast as
 * the client sends, so a benchmark measures the client, not the server.
 *
 * --threads N runs N SoupServers on N threads sharing the port (SO_REUSEPORT); the
 * kernel spreads the connections. --stamp puts the server's CLOCK_MONOTONIC time in
 * microseconds at the moment of sending into each transcript ("t<us>"), so a client in
 * another process on the same machine can time the result path.
 *
 * GET /stats answers one line per connection: "tag bytes frames closed", where tag is
 * the connection's `tag` query parameter (the benchmarks set it with the element's
 * `params`), and a first line "connections N open M".
 *
 * 127.0.0.1 only; any credential is accepted. Quits on SIGINT/SIGTERM. A SIGSTOP makes
 * it a stalled server (no reads, no answers, sockets open).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <glib-unix.h>
#include <libsoup/soup.h>

#define STAMP_PLACEHOLDER "t0000000000000000"

typedef struct
{
  gchar *tag;
  guint64 bytes;
  guint64 frames;
  gboolean closed;
} Record;

typedef struct
{
  SoupWebsocketConnection *ws;
  Record *record;
  guint rate;
  guint64 samples;
  guint64 next_interim;
  guint64 next_final;
  guint64 last_final;           /* samples */
  guint seq;
  gboolean ended;
} Conn;

static gint interim_ms = 1000;
static gint final_ms = 3000;
static gboolean stamp = FALSE;

static GMutex records_lock;
static GPtrArray *records;      /* Record, under records_lock */
static guint n_open;            /* under records_lock */

/* Sends @json, first writing the current monotonic time over the stamp placeholder. */
static void
send_json (Conn * c, GString * json)
{
  if (stamp) {
    gchar *p = strstr (json->str, STAMP_PLACEHOLDER);
    gchar digits[32];

    g_snprintf (digits, sizeof (digits), "t%016" G_GINT64_FORMAT, g_get_monotonic_time ());
    while (p) {
      memcpy (p, digits, strlen (STAMP_PLACEHOLDER));
      p = strstr (p + 1, STAMP_PLACEHOLDER);
    }
  }
  soup_websocket_connection_send_text (c->ws, json->str);
}

static void
send_results (Conn * c, guint64 from, guint64 to, gboolean is_final, gboolean from_finalize)
{
  gdouble start = (gdouble) from / c->rate, end = (gdouble) to / c->rate;
  gdouble ws = start + (end - start) * 0.25, we = start + (end - start) * 0.75;
  g_autofree gchar *word = stamp ? g_strdup (STAMP_PLACEHOLDER) :
      g_strdup_printf ("w%u", c->seq % 1000);
  GString *j = g_string_sized_new (768);

  c->seq++;
  if (to <= from) {
    /* Nothing heard: Deepgram sends an empty transcript. */
    g_string_append_printf (j, "{\"type\":\"Results\",\"channel_index\":[0,1],"
        "\"duration\":%.3f,\"start\":%.3f,\"is_final\":%s,\"speech_final\":false,"
        "\"from_finalize\":%s,\"channel\":{\"alternatives\":[{\"transcript\":\"\","
        "\"confidence\":0,\"words\":[]}]},\"metadata\":{\"request_id\":"
        "\"00000000-0000-0000-0000-000000000000\",\"model_info\":{\"name\":\"general-nova-3\","
        "\"version\":\"2025-01-01.0\",\"arch\":\"nova-3\"},\"model_uuid\":"
        "\"00000000-0000-0000-0000-000000000001\"}}", end - start, start,
        is_final ? "true" : "false", from_finalize ? "true" : "false");
  } else {
    g_string_append_printf (j, "{\"type\":\"Results\",\"channel_index\":[0,1],"
        "\"duration\":%.3f,\"start\":%.3f,\"is_final\":%s,\"speech_final\":%s,"
        "\"from_finalize\":%s,\"channel\":{\"alternatives\":[{\"transcript\":\"%s\","
        "\"confidence\":0.9,\"words\":[{\"word\":\"%s\",\"start\":%.3f,\"end\":%.3f,"
        "\"confidence\":0.9,\"punctuated_word\":\"%s\"}]}]},\"metadata\":{\"request_id\":"
        "\"00000000-0000-0000-0000-000000000000\",\"model_info\":{\"name\":\"general-nova-3\","
        "\"version\":\"2025-01-01.0\",\"arch\":\"nova-3\"},\"model_uuid\":"
        "\"00000000-0000-0000-0000-000000000001\"}}", end - start, start,
        is_final ? "true" : "false", is_final && !from_finalize ? "true" : "false",
        from_finalize ? "true" : "false", word, word, ws, we, word);
  }
  send_json (c, j);
  g_string_free (j, TRUE);
}

static void
end_stream (Conn * c)
{
  g_autofree gchar *meta = NULL;

  send_results (c, c->last_final, c->samples, TRUE, TRUE);
  meta = g_strdup_printf ("{\"type\":\"Metadata\",\"transaction_key\":\"deprecated\","
      "\"request_id\":\"00000000-0000-0000-0000-000000000000\",\"sha256\":\"\","
      "\"created\":\"2025-01-01T00:00:00.000Z\",\"duration\":%.3f,\"channels\":1,"
      "\"models\":[\"00000000-0000-0000-0000-000000000001\"],\"model_info\":{}}",
      (gdouble) c->samples / c->rate);
  soup_websocket_connection_send_text (c->ws, meta);
  c->ended = TRUE;
  soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * message, Conn * c)
{
  gsize size;
  const gchar *data = g_bytes_get_data (message, &size);

  if (c->ended)
    return;
  if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    if (data && strstr (data, "CloseStream"))
      end_stream (c);
    else if (data && strstr (data, "Finalize")) {
      send_results (c, c->last_final, c->samples, TRUE, TRUE);
      c->last_final = c->samples;
    }
    return;
  }
  if (size == 0) {
    end_stream (c);
    return;
  }
  g_mutex_lock (&records_lock);
  c->record->bytes += size;
  c->record->frames++;
  g_mutex_unlock (&records_lock);
  c->samples = c->record->bytes / 2;

  if (final_ms > 0 && c->samples >= c->next_final) {
    send_results (c, c->last_final, c->samples, TRUE, FALSE);
    c->last_final = c->samples;
    c->next_final = c->samples + (guint64) final_ms * c->rate / 1000;
    c->next_interim = c->samples + (guint64) interim_ms * c->rate / 1000;
  } else if (interim_ms > 0 && c->samples >= c->next_interim) {
    send_results (c, c->last_final, c->samples, FALSE, FALSE);
    c->next_interim = c->samples + (guint64) interim_ms * c->rate / 1000;
  }
}

static void
conn_free (Conn * c)
{
  g_free (c);
}

static void
on_closed (SoupWebsocketConnection * ws, Conn * c)
{
  g_mutex_lock (&records_lock);
  c->record->closed = TRUE;
  n_open--;
  g_mutex_unlock (&records_lock);
  g_signal_handlers_disconnect_by_data (ws, c);
  g_object_unref (ws);
  conn_free (c);
}

static void
on_websocket (SoupServer * server, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * ws, gpointer data)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const gchar *query = g_uri_get_query (uri);
  g_autoptr (GHashTable) params = query ? g_uri_parse_params (query, -1, "&",
      G_URI_PARAMS_NONE, NULL) : NULL;
  const gchar *rate = params ? g_hash_table_lookup (params, "sample_rate") : NULL;
  const gchar *tag = params ? g_hash_table_lookup (params, "tag") : NULL;
  Conn *c = g_new0 (Conn, 1);
  Record *r = g_new0 (Record, 1);

  r->tag = g_strdup (tag ? tag : "-");
  c->ws = g_object_ref (ws);
  c->record = r;
  c->rate = rate ? (guint) atoi (rate) : 16000;
  if (c->rate == 0)
    c->rate = 16000;
  c->next_interim = (guint64) interim_ms * c->rate / 1000;
  c->next_final = (guint64) final_ms * c->rate / 1000;
  g_mutex_lock (&records_lock);
  g_ptr_array_add (records, r);
  n_open++;
  g_mutex_unlock (&records_lock);
  soup_websocket_connection_set_max_incoming_payload_size (ws, 8 * 1024 * 1024);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), c);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), c);
}

static void
on_stats (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  GString *out = g_string_new (NULL);
  guint i;

  g_mutex_lock (&records_lock);
  g_string_append_printf (out, "connections %u open %u\n", records->len, n_open);
  for (i = 0; i < records->len; i++) {
    Record *r = g_ptr_array_index (records, i);
    g_string_append_printf (out, "%s %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %d\n",
        r->tag, r->bytes, r->frames, r->closed);
  }
  g_mutex_unlock (&records_lock);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_TAKE, out->str,
      out->len);
  g_string_free (out, FALSE);
}

typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GSocket *socket;
  GMutex lock;
  GCond cond;
  gboolean ready;
} Worker;

static GSocket *
listen_socket (guint16 port, GError ** error)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  g_autoptr (GInetAddress) lo = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  struct sockaddr_storage native;
  gint one = 1;

  if (s == NULL)
    return NULL;
  if (setsockopt (g_socket_get_fd (s), SOL_SOCKET, SO_REUSEPORT, &one, sizeof (one)) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "SO_REUSEPORT: %s",
        g_strerror (errno));
    g_object_unref (s);
    return NULL;
  }
  lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  addr = g_inet_socket_address_new (lo, port);
  /* Not g_socket_bind(): it sets SO_REUSEPORT again, off for a stream socket. */
  if (!g_socket_address_to_native (addr, &native, sizeof (native), error))
    goto fail;
  if (bind (g_socket_get_fd (s), (struct sockaddr *) &native,
          g_socket_address_get_native_size (addr)) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "bind to port %u: %s",
        port, g_strerror (errno));
    goto fail;
  }
  g_socket_set_listen_backlog (s, 4096);
  if (g_socket_listen (s, error))
    return s;
fail:
  g_object_unref (s);
  return NULL;
}

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  SoupServer *server;
  GError *error = NULL;

  g_main_context_push_thread_default (w->context);
  server = soup_server_new ("server-header", "bench-server", NULL);
  /* Deepgram-like: no permessage-deflate (the test server does not offer it either). */
  soup_server_remove_websocket_extension (server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_websocket_handler (server, "/v1/listen", NULL, NULL, on_websocket, NULL,
      NULL);
  soup_server_add_handler (server, "/stats", on_stats, NULL, NULL);
  if (!soup_server_listen_socket (server, w->socket, 0, &error))
    g_error ("listen: %s", error->message);
  g_mutex_lock (&w->lock);
  w->ready = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  g_main_loop_run (w->loop);
  soup_server_disconnect (server);
  g_object_unref (server);
  g_main_context_pop_thread_default (w->context);
  return NULL;
}

/* After a SIGSTOP, libsoup warns about every connection whose client left meanwhile. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField * fields, gsize n_fields, gpointer data)
{
  gsize i;

  for (i = 0; i < n_fields; i++) {
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0
        && strstr (fields[i].value, "could not get remote address"))
      return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gint n_threads = 1, port = 0, i;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GMainLoop *loop;
  Worker *workers;
  struct rlimit rl;
  GOptionEntry entries[] = {
    {"port", 0, 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (default: any free)", "N"},
    {"threads", 0, 0, G_OPTION_ARG_INT, &n_threads, "Server threads (default 1)", "N"},
    {"interim-ms", 0, 0, G_OPTION_ARG_INT, &interim_ms,
        "Audio between interim Results, ms (0 = none; default 1000)", "MS"},
    {"final-ms", 0, 0, G_OPTION_ARG_INT, &final_ms,
        "Audio between final Results, ms (0 = only on Finalize/CloseStream; default 3000)",
        "MS"},
    {"stamp", 0, 0, G_OPTION_ARG_NONE, &stamp,
        "Put the send time (CLOCK_MONOTONIC us) in every transcript", NULL},
    {NULL}
  };

  ctx = g_option_context_new ("- Deepgram-shaped server for the benchmarks");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  n_threads = CLAMP (n_threads, 1, 16);
  g_log_set_writer_func (log_writer, NULL, NULL);
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
  records = g_ptr_array_new ();
  workers = g_new0 (Worker, n_threads);
  for (i = 0; i < n_threads; i++) {
    Worker *w = &workers[i];

    w->socket = listen_socket ((guint16) port, &error);
    if (w->socket == NULL) {
      g_printerr ("bench-server: %s\n", error->message);
      return 1;
    }
    if (port == 0) {
      g_autoptr (GSocketAddress) a = g_socket_get_local_address (w->socket, NULL);
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a));
    }
    g_mutex_init (&w->lock);
    g_cond_init (&w->cond);
    w->context = g_main_context_new ();
    w->loop = g_main_loop_new (w->context, FALSE);
    w->thread = g_thread_new ("bench-server", worker_main, w);
    g_mutex_lock (&w->lock);
    while (!w->ready)
      g_cond_wait (&w->cond, &w->lock);
    g_mutex_unlock (&w->lock);
  }
  printf ("listening on ws://127.0.0.1:%d/v1/listen\n", port);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  for (i = 0; i < n_threads; i++) {
    g_main_loop_quit (workers[i].loop);
    g_thread_join (workers[i].thread);
  }
  return 0;
}
