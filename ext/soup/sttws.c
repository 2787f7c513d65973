/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttws.c: WebSocket client connections over libsoup 3.2. Every call happens on the
 * stream's I/O worker thread, where libsoup attaches its sources. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "sttws.h"
#include "stthttp.h"
#include "stttls.h"

struct _SttWs
{
  SttIoWorker *worker;
  SttWsCallbacks cb;
  gpointer user_data;
  GCancellable *cancellable;
  SoupMessage *msg;
  SoupWebsocketConnection *conn;
  guint keepalive_interval;
  gboolean closed_reported;
  GSource *report;              /* an invalid URL, reported from the loop */
  gsize unchecked;              /* bytes sent since the socket was last seen writable */
};

/* The socket is asked whether it takes more (a poll() system call) only once this much
 * was sent since it last said yes: asking before every audio frame cost a system call
 * per frame (ten thousand a second for a thousand live streams). What libsoup may queue
 * past a full socket meanwhile is bounded by this (two seconds of 16 kHz audio). */
#define UNCHECKED_MAX (64 * 1024)

/* The connect callback keeps this alive while the handshake may still complete. */
typedef struct
{
  SttWs *ws;                    /* NULL once stt_ws_free ran */
} ConnectCtx;

static void
on_ws_message (SoupWebsocketConnection * conn, gint type, GBytes * message, SttWs * ws)
{
  if (ws->cb.message)
    ws->cb.message (ws, type == SOUP_WEBSOCKET_DATA_BINARY, message, ws->user_data);
}

static void
on_ws_pong (SoupWebsocketConnection * conn, GBytes * message, SttWs * ws)
{
  if (ws->cb.pong)
    ws->cb.pong (ws, ws->user_data);
}

static void
on_ws_closed (SoupWebsocketConnection * conn, SttWs * ws)
{
  gushort code = soup_websocket_connection_get_close_code (conn);
  const gchar *reason = soup_websocket_connection_get_close_data (conn);

  if (ws->closed_reported)
    return;
  ws->closed_reported = TRUE;
  /* libsoup reports 0 when the peer vanished without a close frame. */
  if (code == 0)
    code = SOUP_WEBSOCKET_CLOSE_ABNORMAL;
  if (ws->cb.closed)
    ws->cb.closed (ws, code, reason ? reason : "", ws->user_data);
}

static void
on_ws_error (SoupWebsocketConnection * conn, GError * error, SttWs * ws)
{
  /* A protocol or I/O error: libsoup closes the connection next and `closed` follows. */
}

static gint
parse_retry_after (SoupMessage * msg)
{
  const gchar *v = soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Retry-After");
  gchar *end = NULL;
  glong secs;
  GDateTime *when, *now;

  if (v == NULL)
    return -1;
  secs = strtol (v, &end, 10);
  if (end != v && *end == '\0' && secs >= 0)
    return (gint) MIN (secs, 3600);
  /* An HTTP date. */
  when = soup_date_time_new_from_http_string (v);
  if (when == NULL)
    return -1;
  now = g_date_time_new_now_utc ();
  secs = (glong) (g_date_time_difference (when, now) / G_TIME_SPAN_SECOND);
  g_date_time_unref (when);
  g_date_time_unref (now);
  return (gint) CLAMP (secs, 0, 3600);
}

static void
on_connected (GObject * source, GAsyncResult * res, gpointer data)
{
  ConnectCtx *ctx = data;
  SttWs *ws = ctx->ws;
  GError *error = NULL;
  SoupWebsocketConnection *conn;

  conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &error);
  if (ws == NULL) {
    /* Freed while connecting: drop whatever came. */
    if (conn) {
      soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_object_unref (conn);
    }
    g_clear_error (&error);
    g_free (ctx);
    return;
  }
  ws->conn = conn;
  g_object_set_data (G_OBJECT (ws->msg), "stt-connect-ctx", NULL);
  g_free (ctx);

  if (conn == NULL) {
    guint status = soup_message_get_status (ws->msg);
    gint retry_after = parse_retry_after (ws->msg);
    GError *why = stt_tls_take_error (ws->msg);

    if (why) {
      /* stttls stopped a handshake that skipped the certificate checks. */
      status = 0;
    } else if (SOUP_STATUS_IS_REDIRECTION (status)) {
      /* Not followed (the request carries credentials): say where it pointed. */
      why = stt_http_redirect_error (ws->msg);
    } else if (status < 300) {
      /* 101 with a failed upgrade or a transport error: no usable HTTP answer. */
      status = 0;
    }
    if (why) {
      g_clear_error (&error);
      error = why;
    }
    ws->closed_reported = TRUE;
    if (ws->cb.failed)
      ws->cb.failed (ws, status, retry_after, error, ws->user_data);
    g_clear_error (&error);
    return;
  }

  g_signal_connect (conn, "message", G_CALLBACK (on_ws_message), ws);
  g_signal_connect (conn, "pong", G_CALLBACK (on_ws_pong), ws);
  g_signal_connect (conn, "closed", G_CALLBACK (on_ws_closed), ws);
  g_signal_connect (conn, "error", G_CALLBACK (on_ws_error), ws);
  if (ws->keepalive_interval)
    soup_websocket_connection_set_keepalive_interval (conn, ws->keepalive_interval);
  /* Provider results can be large (a long final with words); 4 MiB is ample and bounded. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, 4 * 1024 * 1024);
  if (ws->cb.opened)
    ws->cb.opened (ws, ws->user_data);
}

static gboolean
report_invalid_url (gpointer data)
{
  SttWs *ws = data;
  GError *err = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
      "invalid URL");

  g_clear_pointer (&ws->report, g_source_unref);
  if (ws->cb.failed)
    ws->cb.failed (ws, 0, -1, err, ws->user_data);
  g_error_free (err);
  return G_SOURCE_REMOVE;
}

SttWs *
stt_ws_connect (SttIoWorker * worker, const SttWsOptions * opts,
    const SttWsCallbacks * callbacks, gpointer user_data)
{
  SttWs *ws = g_new0 (SttWs, 1);
  ConnectCtx *ctx = g_new0 (ConnectCtx, 1);
  SoupMessageHeaders *h;
  SoupSession *session;
  guint i;

  g_return_val_if_fail (stt_io_worker_is_current (worker), NULL);

  ws->worker = worker;
  ws->cb = *callbacks;
  ws->user_data = user_data;
  ws->cancellable = g_cancellable_new ();
  ws->keepalive_interval = opts->keepalive_interval;
  ws->msg = soup_message_new (SOUP_METHOD_GET, opts->url);
  if (ws->msg == NULL) {
    /* From the loop: the caller stores the connection before hearing of it. */
    g_free (ctx);
    ws->closed_reported = TRUE;
    ws->report = g_idle_source_new ();
    g_source_set_callback (ws->report, report_invalid_url, ws, NULL);
    g_source_attach (ws->report, stt_io_worker_get_context (worker));
    return ws;
  }
  /* The upgrade carries credentials: a redirect must not take them elsewhere. */
  soup_message_add_flags (ws->msg, SOUP_MESSAGE_NO_REDIRECT);
  h = soup_message_get_request_headers (ws->msg);
  for (i = 0; opts->headers && opts->headers[i] && opts->headers[i + 1]; i += 2)
    soup_message_headers_replace (h, opts->headers[i], opts->headers[i + 1]);
  session = stt_tls_attach (worker, ws->msg, opts->tls_validate, opts->tls_database,
      ws->cancellable);

  ctx->ws = ws;
  g_object_set_data (G_OBJECT (ws->msg), "stt-connect-ctx", ctx);
  soup_session_websocket_connect_async (session, ws->msg, NULL,
      (gchar **) opts->protocols, G_PRIORITY_DEFAULT, ws->cancellable, on_connected, ctx);
  return ws;
}

void
stt_ws_send (SttWs * ws, gboolean binary, GBytes * data)
{
  gsize len;
  gconstpointer p;

  if (!stt_ws_is_open (ws))
    return;
  p = g_bytes_get_data (data, &len);
  ws->unchecked += len;
  if (binary)
    soup_websocket_connection_send_binary (ws->conn, p, len);
  else
    soup_websocket_connection_send_message (ws->conn, SOUP_WEBSOCKET_DATA_TEXT, data);
}

void
stt_ws_close (SttWs * ws, gushort code, const gchar * reason)
{
  if (stt_ws_is_open (ws))
    soup_websocket_connection_close (ws->conn, code, reason);
}

gboolean
stt_ws_is_open (SttWs * ws)
{
  return ws && ws->conn &&
      soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

gboolean
stt_ws_can_send (SttWs * ws)
{
  GOutputStream *out;

  if (!stt_ws_is_open (ws))
    return FALSE;
  if (ws->unchecked < UNCHECKED_MAX)
    return TRUE;
  out = g_io_stream_get_output_stream (soup_websocket_connection_get_io_stream (ws->conn));
  if (G_IS_POLLABLE_OUTPUT_STREAM (out)
      && g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (out))
      && !g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (out)))
    return FALSE;
  ws->unchecked = 0;
  return TRUE;
}

void
stt_ws_free (SttWs * ws)
{
  if (ws == NULL)
    return;
  g_return_if_fail (stt_io_worker_is_current (ws->worker));

  if (ws->report) {
    g_source_destroy (ws->report);
    g_clear_pointer (&ws->report, g_source_unref);
  }
  if (ws->msg) {
    ConnectCtx *ctx = g_object_get_data (G_OBJECT (ws->msg), "stt-connect-ctx");

    /* The handshake may still be running: it finishes later and finds no owner. */
    if (ctx && ws->conn == NULL && !ws->closed_reported)
      ctx->ws = NULL;
    g_signal_handlers_disconnect_by_data (ws->msg, ws);
  }
  g_cancellable_cancel (ws->cancellable);
  if (ws->conn) {
    g_signal_handlers_disconnect_by_data (ws->conn, ws);
    if (soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    g_object_unref (ws->conn);
  }
  g_clear_object (&ws->msg);
  g_clear_object (&ws->cancellable);
  g_free (ws);
}
