/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-server: the part shared by every protocol.
 *
 * One thread per server runs a GMainContext, pushed as thread-default before the SoupServer
 * is created so that every libsoup source (listener, requests, WebSocket connections) lives
 * there. Test-thread calls either touch the shared state under server->lock, or hand work to
 * the server thread with g_main_context_invoke_full().
 *
 * The WebSocket upgrade is done here rather than with soup_server_add_websocket_handler():
 * the stolen connection is wrapped in an SttTestFaultStream before SoupWebsocketConnection
 * sees it, which is what makes STALL (no read, no pong) and arbitrary close codes possible.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/* POLLRDHUP: a stalled connection still notices its client going away. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <string.h>

#include "stt-test-fault-stream.h"
#include "stt-test-server-private.h"

#define DEFAULT_API_KEY "test-key"
#define TICK_MS 100
/* How long stt_test_server_free() waits for clients to answer the close frame. */
#define SHUTDOWN_GRACE_MS 1000
#define MAX_INCOMING_PAYLOAD (8 * 1024 * 1024)
/* How long a raw close waits for the client's close frame. */
#define RAW_CLOSE_TIMEOUT_MS 2000

/* In the order of stt-test-protocols.def. */
static const SttTestProtocol *const protocols[] = {
#define STT_TEST_PROTOCOL(name) &stt_test_protocol_##name,
#include "stt-test-protocols.def"
#undef STT_TEST_PROTOCOL
};

/* What was received on one accepted connection; kept after it closed. Under server->lock. */
typedef struct
{
  GByteArray *audio;
  GPtrArray *texts;
  GHashTable *query;
  SoupMessageHeaders *headers;
  GBytes *body;                 /* plain HTTP requests only */
  guint n_binary;               /* binary messages, empty ones included */
  gboolean closed;
  gushort client_close_code;
} Record;

typedef struct
{
  gint64 due;                   /* monotonic time */
  gboolean is_close;
  gushort code;
  gchar *text;                  /* message, or close reason */
  GBytes *binary;               /* a binary message instead of text */
} OutItem;

struct _SttTestConn
{
  SttTestServer *server;
  guint index;
  Record *record;               /* owned by server->records */
  SoupWebsocketConnection *ws;
  SttTestFaultStream *stream;
  GSocket *socket;
  guint rate;
  gpointer state;
  SttTestAnalyzer *analyzer;    /* the one fed: own_analyzer or the protocol's */
  SttTestAnalyzer *own_analyzer;
  guint64 audio_bytes;
  gboolean have_odd_byte;       /* a sample split across two frames */
  guint8 odd_byte;
  GQueue outbox;
  GSource *outbox_timer;
  GSource *raw_close_timer;
  gboolean closing;
  gboolean stalled;
  gboolean deaf;                /* STT_TEST_FAULT_DEAF: reads nothing, keeps talking */
  GSource *deaf_timer;
  gchar *deaf_text;
  gboolean idle_fired;
  gint64 last_activity;
};

struct _SttTestServer
{
  const SttTestProtocol *protocol;
  guint requested_port;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* Server thread only. */
  SoupServer *soup;
  gpointer protocol_state;
  GList *conns;
  GSource *tick;
  GSource *shutdown_timer;
  gboolean shutting_down;

  GMutex lock;
  GCond cond;
  /* Under lock. */
  gboolean started;
  GError *start_error;
  guint port;
  gchar *api_key;
  guint fail_status;
  guint fail_count;
  gchar *fail_retry_after;
  gboolean fault_armed;
  SttTestFault fault;
  gdouble fault_after;
  gushort fault_code;
  gchar *fault_reason;
  guint reply_delay_ms;
  guint idle_timeout_ms;
  guint n_handshakes;
  guint n_closed;
  guint n_open;
  guint max_open;
  GPtrArray *records;
  GPtrArray *http_records;
};

/* A handshake accepted by the protocol, waiting for the 101 response to be written. */
typedef struct
{
  SttTestServer *server;
  GHashTable *query;
  SttTestAccept accept;
  GSocket *socket;
} Pending;

/* --- records ------------------------------------------------------------------------- */

static Record *
record_new (GHashTable * query, SoupMessageHeaders * request_headers)
{
  Record *record = g_new0 (Record, 1);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  record->audio = g_byte_array_new ();
  record->texts = g_ptr_array_new_with_free_func (g_free);
  record->query = g_hash_table_ref (query);
  record->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  soup_message_headers_iter_init (&iter, request_headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    soup_message_headers_append (record->headers, name, value);
  return record;
}

static void
record_free (gpointer data)
{
  Record *record = data;

  g_byte_array_unref (record->audio);
  g_ptr_array_unref (record->texts);
  g_hash_table_unref (record->query);
  soup_message_headers_unref (record->headers);
  g_clear_pointer (&record->body, g_bytes_unref);
  g_free (record);
}

/* --- outbox -------------------------------------------------------------------------- */

static void
out_item_free (gpointer data)
{
  OutItem *item = data;

  g_free (item->text);
  g_clear_pointer (&item->binary, g_bytes_unref);
  g_free (item);
}

static void
outbox_clear (SttTestConn * conn)
{
  if (conn->outbox_timer != NULL) {
    g_source_destroy (conn->outbox_timer);
    g_clear_pointer (&conn->outbox_timer, g_source_unref);
  }
  g_queue_clear_full (&conn->outbox, out_item_free);
}

/* libsoup 3.2 refuses to send close codes it does not know (it turns them into 1002). */
static gboolean
libsoup_sends_close_code (gushort code)
{
  switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1005:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
      return TRUE;
    default:
      return code >= 3000 && code < 5000;
  }
}

static void
conn_force_eof (SttTestConn * conn)
{
  stt_test_fault_stream_set_mode (conn->stream, STT_TEST_FAULT_STREAM_EOF);
}

static gboolean
raw_close_timeout_cb (gpointer data)
{
  SttTestConn *conn = data;

  g_clear_pointer (&conn->raw_close_timer, g_source_unref);
  conn_force_eof (conn);
  return G_SOURCE_REMOVE;
}

/* Writes the close frame on the base stream itself and ends the sending side (FIN), like a
 * closing peer. libsoup keeps reading, so the client's data is drained and the socket is
 * closed once the client answers (or after a timeout), without a reset that would lose the
 * close frame. */
static void
conn_close_raw (SttTestConn * conn, gushort code, const gchar * reason)
{
  guint8 frame[4 + 123];
  gsize reason_len = reason != NULL ? MIN (strlen (reason), 123) : 0;
  GOutputStream *out =
      g_io_stream_get_output_stream (stt_test_fault_stream_get_base (conn->stream));
  g_autoptr (GError) error = NULL;

  frame[0] = 0x88;              /* FIN + close */
  frame[1] = (guint8) (2 + reason_len);
  frame[2] = code >> 8;
  frame[3] = code & 0xff;
  if (reason_len > 0)
    memcpy (frame + 4, reason, reason_len);
  if (!g_output_stream_write_all (out, frame, 4 + reason_len, NULL, NULL, &error) ||
      !g_socket_shutdown (conn->socket, FALSE, TRUE, &error)) {
    g_debug ("connection %u: raw close failed: %s", conn->index, error->message);
    conn_force_eof (conn);
    return;
  }
  conn->raw_close_timer = g_timeout_source_new (RAW_CLOSE_TIMEOUT_MS);
  g_source_set_callback (conn->raw_close_timer, raw_close_timeout_cb, conn, NULL);
  g_source_attach (conn->raw_close_timer, conn->server->context);
}

static void
conn_close_now (SttTestConn * conn, gushort code, const gchar * reason)
{
  if (soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_debug ("connection %u: closing with %u \"%s\"", conn->index, code,
      reason ? reason : "");
  if (code == 0)
    code = SOUP_WEBSOCKET_CLOSE_NO_STATUS;
  if (libsoup_sends_close_code (code))
    soup_websocket_connection_close (conn->ws, code, reason);
  else
    conn_close_raw (conn, code, reason);
}

static void outbox_flush (SttTestConn * conn);

static gboolean
outbox_timer_cb (gpointer data)
{
  SttTestConn *conn = data;

  g_clear_pointer (&conn->outbox_timer, g_source_unref);
  outbox_flush (conn);
  return G_SOURCE_REMOVE;
}

/* Sends what is due, in order, then waits for the next item. */
static void
outbox_flush (SttTestConn * conn)
{
  gint64 now = g_get_monotonic_time ();
  OutItem *item;

  if (conn->outbox_timer != NULL) {
    g_source_destroy (conn->outbox_timer);
    g_clear_pointer (&conn->outbox_timer, g_source_unref);
  }
  if (conn->stalled)
    return;

  while ((item = g_queue_peek_head (&conn->outbox)) != NULL && item->due <= now) {
    g_queue_pop_head (&conn->outbox);
    if (item->is_close)
      conn_close_now (conn, item->code, item->text);
    else if (soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
      ;
    else if (item->binary != NULL)
      soup_websocket_connection_send_message (conn->ws, SOUP_WEBSOCKET_DATA_BINARY,
          item->binary);
    else
      soup_websocket_connection_send_text (conn->ws, item->text);
    out_item_free (item);
  }

  if (item != NULL) {
    conn->outbox_timer = g_timeout_source_new ((guint) ((item->due - now + 999) / 1000));
    g_source_set_callback (conn->outbox_timer, outbox_timer_cb, conn, NULL);
    g_source_attach (conn->outbox_timer, conn->server->context);
  }
}

static void
outbox_push (SttTestConn * conn, gboolean is_close, gushort code, gchar * text,
    GBytes * binary)
{
  OutItem *item = g_new0 (OutItem, 1);
  guint delay_ms;

  g_mutex_lock (&conn->server->lock);
  delay_ms = conn->server->reply_delay_ms;
  g_mutex_unlock (&conn->server->lock);

  item->due = g_get_monotonic_time () + (gint64) delay_ms * 1000;
  item->is_close = is_close;
  item->code = code;
  item->text = text;
  item->binary = binary;
  g_queue_push_tail (&conn->outbox, item);
  outbox_flush (conn);
}

/* --- connection helpers for the protocols ----------------------------------------------- */

gpointer
stt_test_conn_get_state (SttTestConn * conn)
{
  return conn->state;
}

guint
stt_test_conn_get_index (SttTestConn * conn)
{
  return conn->index;
}

guint
stt_test_conn_get_rate (SttTestConn * conn)
{
  return conn->rate;
}

SttTestAnalyzer *
stt_test_conn_get_analyzer (SttTestConn * conn)
{
  return conn->analyzer;
}

void
stt_test_conn_use_analyzer (SttTestConn * conn, SttTestAnalyzer * analyzer)
{
  conn->analyzer = analyzer;
  conn->rate = stt_test_analyzer_get_rate (analyzer);
}

gpointer
stt_test_conn_get_server_state (SttTestConn * conn)
{
  return conn->server->protocol_state;
}

gdouble
stt_test_conn_get_audio_seconds (SttTestConn * conn)
{
  return (gdouble) (conn->audio_bytes / 2) / conn->rate;
}

/* The record's query table is never modified after creation: no lock needed to read it. */
const gchar *
stt_test_conn_get_query (SttTestConn * conn, const gchar * name)
{
  return g_hash_table_lookup (conn->record->query, name);
}

gboolean
stt_test_conn_is_closing (SttTestConn * conn)
{
  return conn->closing || conn->stalled;
}

void
stt_test_conn_send_text (SttTestConn * conn, const gchar * text)
{
  if (stt_test_conn_is_closing (conn))
    return;
  outbox_push (conn, FALSE, 0, g_strdup (text), NULL);
}

void
stt_test_conn_send_json (SttTestConn * conn, SttTestJson * json)
{
  gchar *text = stt_test_json_free_to_string (json);

  if (stt_test_conn_is_closing (conn)) {
    g_free (text);
    return;
  }
  outbox_push (conn, FALSE, 0, text, NULL);
}

void
stt_test_conn_send_binary (SttTestConn * conn, GBytes * message)
{
  if (stt_test_conn_is_closing (conn))
    return;
  outbox_push (conn, FALSE, 0, NULL, g_bytes_ref (message));
}

void
stt_test_conn_close (SttTestConn * conn, gushort code, const gchar * reason)
{
  if (stt_test_conn_is_closing (conn))
    return;
  conn->closing = TRUE;
  outbox_push (conn, TRUE, code, g_strdup (reason), NULL);
}

static gboolean
deaf_talk_cb (gpointer data)
{
  SttTestConn *conn = data;

  if (conn->closing)
    return G_SOURCE_CONTINUE;
  if (conn->server->protocol->send_harmless)
    conn->server->protocol->send_harmless (conn);
  else
    stt_test_conn_send_text (conn, conn->deaf_text);
  return G_SOURCE_CONTINUE;
}

static void
conn_apply_fault (SttTestConn * conn, SttTestFault fault, gushort code,
    const gchar * reason)
{
  g_autoptr (GError) error = NULL;

  outbox_clear (conn);
  switch (fault) {
    case STT_TEST_FAULT_CLOSE:
    case STT_TEST_FAULT_CLOSE_AT_END:
      g_debug ("connection %u: fault: close %u", conn->index, code);
      conn->closing = TRUE;
      conn_close_now (conn, code, reason);
      break;
    case STT_TEST_FAULT_DROP:
      g_debug ("connection %u: fault: drop", conn->index);
      conn->closing = TRUE;
      /* libsoup then reads end-of-file and drops the connection without a close frame. */
      if (!g_socket_shutdown (conn->socket, TRUE, TRUE, &error))
        g_debug ("connection %u: shutdown failed: %s", conn->index, error->message);
      break;
    case STT_TEST_FAULT_STALL:
      g_debug ("connection %u: fault: stall", conn->index);
      conn->stalled = TRUE;
      stt_test_fault_stream_set_mode (conn->stream, STT_TEST_FAULT_STREAM_STALL);
      break;
    case STT_TEST_FAULT_DEAF:
      g_debug ("connection %u: fault: deaf, talking every %u ms", conn->index, code);
      conn->deaf = TRUE;
      conn->deaf_text = g_strdup (reason ? reason : "{}");
      stt_test_fault_stream_set_mode (conn->stream, STT_TEST_FAULT_STREAM_DEAF);
      conn->deaf_timer = g_timeout_source_new (MAX (code, 10));
      g_source_set_callback (conn->deaf_timer, deaf_talk_cb, conn, NULL);
      g_source_attach (conn->deaf_timer, g_main_context_get_thread_default ());
      break;
  }
}

static void
analyzer_cb (const SttTestAnalyzerResult * result, gpointer user_data)
{
  SttTestConn *conn = user_data;

  conn->server->protocol->on_result (conn, result);
}

gboolean
stt_test_conn_push_audio (SttTestConn * conn, const guint8 * data, gsize size)
{
  SttTestServer *server = conn->server;
  gboolean fire = FALSE;
  SttTestFault fault = STT_TEST_FAULT_CLOSE;
  gushort code = 0;
  g_autofree gchar *reason = NULL;
  g_autofree gint16 *samples = NULL;
  gsize n, i = 0;
  const guint8 *p = data;

  if (stt_test_conn_is_closing (conn))
    return FALSE;

  g_mutex_lock (&server->lock);
  g_byte_array_append (conn->record->audio, data, size);
  conn->audio_bytes += size;
  /* CLOSE_AT_END waits for the end message (stt_test_conn_end_received()). */
  if (server->fault_armed && server->fault != STT_TEST_FAULT_CLOSE_AT_END &&
      conn->audio_bytes >= server->fault_after * conn->rate * sizeof (gint16)) {
    server->fault_armed = FALSE;
    fire = TRUE;
    fault = server->fault;
    code = server->fault_code;
    reason = g_steal_pointer (&server->fault_reason);
  }
  g_mutex_unlock (&server->lock);

  /* The frame that reached the threshold is recorded but not recognised. */
  if (fire) {
    conn_apply_fault (conn, fault, code, reason);
    return FALSE;
  }

  n = (size + (conn->have_odd_byte ? 1 : 0)) / 2;
  samples = g_new (gint16, MAX (n, 1));
  if (conn->have_odd_byte && n > 0) {
    samples[i++] = (gint16) (conn->odd_byte | (p[0] << 8));
    p++;
  }
  for (; i < n; i++, p += 2)
    samples[i] = (gint16) (p[0] | (p[1] << 8));
  conn->have_odd_byte = (gsize) (p - data) < size;
  if (conn->have_odd_byte)
    conn->odd_byte = data[size - 1];

  stt_test_analyzer_push (conn->analyzer, samples, n, analyzer_cb, conn);
  return !stt_test_conn_is_closing (conn);
}

void
stt_test_conn_finalize (SttTestConn * conn)
{
  stt_test_analyzer_finalize (conn->analyzer, analyzer_cb, conn);
}

gboolean
stt_test_conn_end_received (SttTestConn * conn)
{
  SttTestServer *server = conn->server;
  gboolean fire = FALSE;
  gushort code = 0;
  g_autofree gchar *reason = NULL;

  g_mutex_lock (&server->lock);
  if (server->fault_armed && server->fault == STT_TEST_FAULT_CLOSE_AT_END) {
    server->fault_armed = FALSE;
    fire = TRUE;
    code = server->fault_code;
    reason = g_steal_pointer (&server->fault_reason);
  }
  g_mutex_unlock (&server->lock);

  /* Like CLOSE: what still waits for the reply delay is dropped too, so the client sees
   * the close where it expected the flush's results. */
  if (fire)
    conn_apply_fault (conn, STT_TEST_FAULT_CLOSE_AT_END, code, reason);
  return fire;
}

/* --- connections ------------------------------------------------------------------- */

static void
conn_free (SttTestConn * conn)
{
  outbox_clear (conn);
  if (conn->deaf_timer != NULL) {
    g_source_destroy (conn->deaf_timer);
    g_clear_pointer (&conn->deaf_timer, g_source_unref);
  }
  g_free (conn->deaf_text);
  if (conn->raw_close_timer != NULL) {
    g_source_destroy (conn->raw_close_timer);
    g_clear_pointer (&conn->raw_close_timer, g_source_unref);
  }
  g_signal_handlers_disconnect_by_data (conn->ws, conn);
  g_clear_object (&conn->ws);
  g_clear_object (&conn->stream);
  g_clear_object (&conn->socket);
  g_clear_pointer (&conn->own_analyzer, stt_test_analyzer_free);
  if (conn->state != NULL && conn->server->protocol->free_state != NULL)
    conn->server->protocol->free_state (conn->state);
  g_free (conn);
}

static void
on_ws_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    SttTestConn * conn)
{
  const SttTestProtocol *protocol = conn->server->protocol;
  gsize size;
  const guint8 *data = g_bytes_get_data (message, &size);

  conn->last_activity = g_get_monotonic_time ();

  if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    /* libsoup NUL-terminates text messages; an empty one may come without data. */
    const gchar *text = data != NULL ? (const gchar *) data : "";

    g_mutex_lock (&conn->server->lock);
    g_ptr_array_add (conn->record->texts, g_strndup (text, size));
    g_mutex_unlock (&conn->server->lock);
    if (!stt_test_conn_is_closing (conn))
      protocol->on_text (conn, text);
  } else {
    g_mutex_lock (&conn->server->lock);
    conn->record->n_binary++;
    g_mutex_unlock (&conn->server->lock);
    if (!stt_test_conn_is_closing (conn))
      protocol->on_binary (conn, data, size);
  }
}

static void
on_ws_closed (SoupWebsocketConnection * ws, SttTestConn * conn)
{
  SttTestServer *server = conn->server;

  g_debug ("connection %u: closed (client close code %u)", conn->index,
      soup_websocket_connection_get_close_code (ws));

  g_mutex_lock (&server->lock);
  conn->record->closed = TRUE;
  conn->record->client_close_code = soup_websocket_connection_get_close_code (ws);
  server->n_closed++;
  server->n_open--;
  g_cond_broadcast (&server->cond);
  g_mutex_unlock (&server->lock);

  server->conns = g_list_remove (server->conns, conn);
  conn_free (conn);

  if (server->shutting_down && server->conns == NULL)
    g_main_loop_quit (server->loop);
}

static void
pending_free (gpointer data, GClosure * closure)
{
  Pending *pending = data;

  if (pending->accept.state != NULL && pending->server->protocol->free_state != NULL)
    pending->server->protocol->free_state (pending->accept.state);
  g_clear_pointer (&pending->query, g_hash_table_unref);
  g_clear_object (&pending->socket);
  g_free (pending);
}

/* The 101 response is written: take the connection over from SoupServer. */
static void
complete_upgrade (SoupServerMessage * msg, Pending * pending)
{
  SttTestServer *server = pending->server;
  SoupMessageHeaders *request_headers = soup_server_message_get_request_headers (msg);
  g_autoptr (GIOStream) base = NULL;
  SttTestConn *conn;

  g_object_ref (msg);
  base = soup_server_message_steal_connection (msg);

  conn = g_new0 (SttTestConn, 1);
  conn->server = server;
  conn->rate = pending->accept.rate;
  conn->state = g_steal_pointer (&pending->accept.state);
  conn->socket = g_steal_pointer (&pending->socket);
  conn->stream = stt_test_fault_stream_new (base);
  conn->ws = soup_websocket_connection_new (G_IO_STREAM (conn->stream),
      soup_server_message_get_uri (msg), SOUP_WEBSOCKET_CONNECTION_SERVER,
      soup_message_headers_get_one (request_headers, "Origin"),
      soup_message_headers_get_one (soup_server_message_get_response_headers (msg),
          "Sec-WebSocket-Protocol"), NULL);
  soup_websocket_connection_set_max_incoming_payload_size (conn->ws, MAX_INCOMING_PAYLOAD);
  conn->analyzer = conn->own_analyzer = stt_test_analyzer_new (conn->rate);
  conn->last_activity = g_get_monotonic_time ();
  g_queue_init (&conn->outbox);

  g_mutex_lock (&server->lock);
  conn->record = record_new (pending->query, request_headers);
  conn->index = server->records->len;
  g_ptr_array_add (server->records, conn->record);
  server->n_open++;
  server->max_open = MAX (server->max_open, server->n_open);
  g_cond_broadcast (&server->cond);
  g_mutex_unlock (&server->lock);

  g_debug ("connection %u: open, %u Hz", conn->index, conn->rate);
  server->conns = g_list_append (server->conns, conn);
  g_signal_connect (conn->ws, "message", G_CALLBACK (on_ws_message), conn);
  g_signal_connect (conn->ws, "closed", G_CALLBACK (on_ws_closed), conn);

  if (server->shutting_down) {
    conn->closing = TRUE;
    conn_force_eof (conn);
  } else if (server->protocol->on_open != NULL) {
    server->protocol->on_open (conn);
  }
  g_object_unref (msg);
}

/* libsoup 3.2 has no phrase for 429. */
static const gchar *
status_phrase (guint status)
{
  return status == 429 ? "Too Many Requests" : soup_status_get_phrase (status);
}

static void
refuse (SttTestServer * server, SoupServerMessage * msg, guint status,
    const gchar * message, const gchar * retry_after)
{
  g_debug ("handshake refused: %u %s", status, message);
  soup_server_message_set_status (msg, status, status_phrase (status));
  if (retry_after != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
        "Retry-After", retry_after);
  server->protocol->refuse (msg, status, message);
}

static GHashTable *
parse_query (SoupServerMessage * msg)
{
  const gchar *query = g_uri_get_query (soup_server_message_get_uri (msg));
  GHashTable *params = NULL;

  if (query != NULL)
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
  if (params == NULL)
    params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return params;
}

/* A request on the protocol's path that is not a WebSocket upgrade: recorded, then
 * refused by a handshake fault or answered by the protocol. */
static void
answer_http (SttTestServer * server, SoupServerMessage * msg, GHashTable * query,
    const gchar * api_key, guint fail_status, const gchar * retry_after)
{
  Record *record = record_new (query, soup_server_message_get_request_headers (msg));
  g_autofree gchar *message = NULL;
  guint status;

  record->body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_mutex_lock (&server->lock);
  g_ptr_array_add (server->http_records, record);
  g_mutex_unlock (&server->lock);

  if (fail_status != 0) {
    refuse (server, msg, fail_status, status_phrase (fail_status), retry_after);
    return;
  }
  if (server->shutting_down) {
    refuse (server, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Server shutting down", NULL);
    return;
  }
  status = server->protocol->http_request (msg, query, api_key, server->protocol_state,
      &message);
  if (status != 0)
    refuse (server, msg, status, message, NULL);
}

static void
handle_request (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * soup_query, gpointer user_data)
{
  SttTestServer *server = user_data;
  const SttTestProtocol *protocol = server->protocol;
  guint fail_status = 0;
  g_autofree gchar *retry_after = NULL;
  g_autofree gchar *api_key = NULL;
  g_autofree gchar *message = NULL;
  g_autoptr (GHashTable) query = NULL;
  SttTestAccept accept = { 0, };
  guint status;
  Pending *pending;

  if (g_strcmp0 (path, protocol->path) != 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }

  g_mutex_lock (&server->lock);
  server->n_handshakes++;
  if (server->fail_count > 0) {
    server->fail_count--;
    fail_status = server->fail_status;
    retry_after = g_strdup (server->fail_retry_after);
  }
  api_key = g_strdup (server->api_key);
  g_mutex_unlock (&server->lock);

  query = parse_query (msg);
  if (protocol->http_request != NULL &&
      !soup_message_headers_header_contains (soup_server_message_get_request_headers (msg),
          "Upgrade", "websocket")) {
    answer_http (server, msg, query, api_key, fail_status, retry_after);
    return;
  }
  if (fail_status != 0) {
    refuse (server, msg, fail_status, status_phrase (fail_status), retry_after);
    return;
  }
  if (server->shutting_down) {
    refuse (server, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Server shutting down", NULL);
    return;
  }

  accept.server_state = server->protocol_state;
  status = protocol->handshake (msg, query, api_key, &accept, &message);
  if (status != 0) {
    refuse (server, msg, status, message, NULL);
    return;
  }
  g_return_if_fail (accept.rate > 0);

  pending = g_new0 (Pending, 1);
  pending->server = server;
  pending->query = g_steal_pointer (&query);
  pending->accept = accept;
  pending->socket = g_object_ref (soup_server_message_get_socket (msg));
  if (!soup_websocket_server_process_handshake (msg, NULL,
          (char **) protocol->subprotocols, NULL, NULL)) {
    g_debug ("not a WebSocket handshake: %u", soup_server_message_get_status (msg));
    pending_free (pending, NULL);
    return;
  }
  g_signal_connect_data (msg, "wrote-informational", G_CALLBACK (complete_upgrade),
      pending, pending_free, 0);
}

/* --- server thread ------------------------------------------------------------------- */

/* A stalled connection does not read: poll for its client going away. */
static gboolean
peer_hung_up (SttTestConn * conn)
{
  struct pollfd pfd = { 0, };

  pfd.fd = g_socket_get_fd (conn->socket);
#ifdef POLLRDHUP
  pfd.events = POLLRDHUP;
#endif
  if (poll (&pfd, 1, 0) <= 0)
    return FALSE;
#ifdef POLLRDHUP
  return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
#else
  return (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
#endif
}

static gboolean
tick_cb (gpointer data)
{
  SttTestServer *server = data;
  gint64 now = g_get_monotonic_time ();
  guint idle_ms;
  GList *l;

  g_mutex_lock (&server->lock);
  idle_ms = server->idle_timeout_ms;
  g_mutex_unlock (&server->lock);

  for (l = server->conns; l != NULL; l = l->next) {
    SttTestConn *conn = l->data;

    if (conn->stalled || conn->deaf) {
      if (peer_hung_up (conn)) {
        g_debug ("connection %u: client left while stalled", conn->index);
        conn_force_eof (conn);
      }
      continue;
    }
    if (conn->closing)
      continue;
    if (idle_ms > 0 && !conn->idle_fired &&
        now - conn->last_activity >= (gint64) idle_ms * 1000) {
      conn->idle_fired = TRUE;
      g_debug ("connection %u: idle for %u ms", conn->index, idle_ms);
      if (server->protocol->on_idle != NULL)
        server->protocol->on_idle (conn);
      else
        stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, "idle timeout");
      continue;
    }
    if (server->protocol->on_tick != NULL)
      server->protocol->on_tick (conn);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
force_close_all_cb (gpointer data)
{
  SttTestServer *server = data;

  g_list_foreach (server->conns, (GFunc) conn_force_eof, NULL);
  g_clear_pointer (&server->shutdown_timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

static gboolean
shutdown_cb (gpointer data)
{
  SttTestServer *server = data;
  GList *l;

  server->shutting_down = TRUE;
  soup_server_disconnect (server->soup);
  if (server->conns == NULL) {
    g_main_loop_quit (server->loop);
    return G_SOURCE_REMOVE;
  }

  for (l = server->conns; l != NULL; l = l->next) {
    SttTestConn *conn = l->data;

    outbox_clear (conn);
    conn->closing = TRUE;
    if (conn->stalled || conn->deaf)
      conn_force_eof (conn);
    else
      conn_close_now (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "Server shutting down");
  }
  server->shutdown_timer = g_timeout_source_new (SHUTDOWN_GRACE_MS);
  g_source_set_callback (server->shutdown_timer, force_close_all_cb, server, NULL);
  g_source_attach (server->shutdown_timer, server->context);
  return G_SOURCE_REMOVE;
}

static void
destroy_source (GSource ** source)
{
  if (*source != NULL) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

static gpointer
server_thread (gpointer data)
{
  SttTestServer *server = data;
  g_autoptr (GError) error = NULL;
  gboolean ok;
  guint port = 0;

  g_main_context_push_thread_default (server->context);

  if (server->protocol->new_server_state != NULL)
    server->protocol_state = server->protocol->new_server_state ();
  server->soup = soup_server_new ("server-header", "stt-test-server ", NULL);
  soup_server_add_handler (server->soup, server->protocol->path, handle_request, server,
      NULL);
  ok = soup_server_listen_local (server->soup, server->requested_port,
      SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  if (ok) {
    GSList *uris = soup_server_get_uris (server->soup);

    port = g_uri_get_port (uris->data);
    g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
    server->tick = g_timeout_source_new (TICK_MS);
    g_source_set_callback (server->tick, tick_cb, server, NULL);
    g_source_attach (server->tick, server->context);
  }

  g_mutex_lock (&server->lock);
  server->started = TRUE;
  server->port = port;
  server->start_error = g_steal_pointer (&error);
  g_cond_broadcast (&server->cond);
  g_mutex_unlock (&server->lock);

  if (ok)
    g_main_loop_run (server->loop);

  destroy_source (&server->tick);
  destroy_source (&server->shutdown_timer);
  /* Only reached with connections left if the loop was quit from elsewhere. */
  g_list_free_full (g_steal_pointer (&server->conns), (GDestroyNotify) conn_free);
  g_clear_object (&server->soup);
  while (g_main_context_iteration (server->context, FALSE));
  if (server->protocol_state != NULL && server->protocol->free_server_state != NULL)
    server->protocol->free_server_state (server->protocol_state);
  g_main_context_pop_thread_default (server->context);
  return NULL;
}

/* --- public API ---------------------------------------------------------------------- */

const gchar *const *
stt_test_server_list_protocols (void)
{
  static const gchar *names[G_N_ELEMENTS (protocols) + 1];
  static gsize init = 0;

  if (g_once_init_enter (&init)) {
    guint i;

    for (i = 0; i < G_N_ELEMENTS (protocols); i++)
      names[i] = protocols[i]->name;
    g_once_init_leave (&init, 1);
  }
  return names;
}

static void
server_free_data (SttTestServer * server)
{
  g_main_loop_unref (server->loop);
  g_main_context_unref (server->context);
  g_clear_error (&server->start_error);
  g_free (server->api_key);
  g_free (server->fail_retry_after);
  g_free (server->fault_reason);
  g_ptr_array_unref (server->records);
  g_ptr_array_unref (server->http_records);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  g_free (server);
}

SttTestServer *
stt_test_server_new_on_port (const gchar * protocol, guint port, GError ** error)
{
  SttTestServer *server;
  const SttTestProtocol *found = NULL;
  guint i;

  g_return_val_if_fail (protocol != NULL, NULL);

  for (i = 0; i < G_N_ELEMENTS (protocols); i++)
    if (g_str_equal (protocols[i]->name, protocol))
      found = protocols[i];
  if (found == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "Unknown test server protocol \"%s\"", protocol);
    return NULL;
  }

  server = g_new0 (SttTestServer, 1);
  server->protocol = found;
  server->requested_port = port;
  server->context = g_main_context_new ();
  server->loop = g_main_loop_new (server->context, FALSE);
  server->api_key = g_strdup (DEFAULT_API_KEY);
  server->idle_timeout_ms = found->default_idle_timeout_ms;
  server->records = g_ptr_array_new_with_free_func (record_free);
  server->http_records = g_ptr_array_new_with_free_func (record_free);
  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);

  server->thread = g_thread_new ("stt-test-server", server_thread, server);
  g_mutex_lock (&server->lock);
  while (!server->started)
    g_cond_wait (&server->cond, &server->lock);
  g_mutex_unlock (&server->lock);

  if (server->start_error != NULL) {
    g_thread_join (server->thread);
    g_propagate_error (error, g_steal_pointer (&server->start_error));
    server_free_data (server);
    return NULL;
  }
  return server;
}

SttTestServer *
stt_test_server_new (const gchar * protocol, GError ** error)
{
  return stt_test_server_new_on_port (protocol, 0, error);
}

void
stt_test_server_free (SttTestServer * server)
{
  if (server == NULL)
    return;
  g_main_context_invoke_full (server->context, G_PRIORITY_DEFAULT, shutdown_cb, server,
      NULL);
  g_thread_join (server->thread);
  server_free_data (server);
}

guint
stt_test_server_get_port (SttTestServer * server)
{
  return server->port;
}

gchar *
stt_test_server_get_url (SttTestServer * server)
{
  return g_strdup_printf ("ws://127.0.0.1:%u%s", server->port, server->protocol->path);
}

void
stt_test_server_set_api_key (SttTestServer * server, const gchar * key)
{
  g_mutex_lock (&server->lock);
  g_free (server->api_key);
  server->api_key = g_strdup (key);
  g_mutex_unlock (&server->lock);
}

void
stt_test_server_fail_handshakes (SttTestServer * server, guint status, guint count,
    const gchar * retry_after)
{
  g_mutex_lock (&server->lock);
  server->fail_status = status;
  server->fail_count = count;
  g_free (server->fail_retry_after);
  server->fail_retry_after = g_strdup (retry_after);
  g_mutex_unlock (&server->lock);
}

void
stt_test_server_inject_fault (SttTestServer * server, SttTestFault fault,
    gdouble after_seconds, gushort code, const gchar * reason)
{
  g_mutex_lock (&server->lock);
  server->fault_armed = TRUE;
  server->fault = fault;
  server->fault_after = after_seconds;
  server->fault_code = code;
  g_free (server->fault_reason);
  server->fault_reason = g_strdup (reason);
  g_mutex_unlock (&server->lock);
}

typedef struct
{
  SttTestServer *server;
  gchar *text;
  GBytes *binary;
} SendText;

static void
send_text_free (gpointer data)
{
  SendText *send = data;

  g_free (send->text);
  g_clear_pointer (&send->binary, g_bytes_unref);
  g_free (send);
}

static gboolean
send_text_cb (gpointer data)
{
  SendText *send = data;
  GList *l;

  for (l = send->server->conns; l != NULL; l = l->next) {
    if (send->binary != NULL)
      stt_test_conn_send_binary (l->data, send->binary);
    else
      stt_test_conn_send_text (l->data, send->text);
  }
  return G_SOURCE_REMOVE;
}

void
stt_test_server_send_text (SttTestServer * server, const gchar * message)
{
  SendText *send = g_new0 (SendText, 1);

  send->server = server;
  send->text = g_strdup (message);
  g_main_context_invoke_full (server->context, G_PRIORITY_DEFAULT, send_text_cb, send,
      send_text_free);
}

void
stt_test_server_send_binary (SttTestServer * server, GBytes * message)
{
  SendText *send = g_new0 (SendText, 1);

  send->server = server;
  send->binary = g_bytes_ref (message);
  g_main_context_invoke_full (server->context, G_PRIORITY_DEFAULT, send_text_cb, send,
      send_text_free);
}

const SttTestProtocol *
stt_test_server_get_protocol (SttTestServer * server)
{
  return server->protocol;
}

gpointer
stt_test_server_get_protocol_state (SttTestServer * server)
{
  return server->protocol_state;
}

void
stt_test_server_set_reply_delay (SttTestServer * server, guint ms)
{
  g_mutex_lock (&server->lock);
  server->reply_delay_ms = ms;
  g_mutex_unlock (&server->lock);
}

void
stt_test_server_set_idle_timeout (SttTestServer * server, guint ms)
{
  g_mutex_lock (&server->lock);
  server->idle_timeout_ms = ms;
  g_mutex_unlock (&server->lock);
}

guint
stt_test_server_get_n_connections (SttTestServer * server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->records->len;
  g_mutex_unlock (&server->lock);
  return n;
}

guint
stt_test_server_get_max_open (SttTestServer * server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->max_open;
  g_mutex_unlock (&server->lock);
  return n;
}

guint
stt_test_server_get_n_handshakes (SttTestServer * server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->n_handshakes;
  g_mutex_unlock (&server->lock);
  return n;
}

gboolean
stt_test_server_wait_connections (SttTestServer * server, guint n, gboolean closed,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean ok;

  g_mutex_lock (&server->lock);
  while (!(ok = (closed ? server->n_closed : server->records->len) >= n))
    if (!g_cond_wait_until (&server->cond, &server->lock, end)) {
      ok = (closed ? server->n_closed : server->records->len) >= n;
      break;
    }
  g_mutex_unlock (&server->lock);
  return ok;
}

/* Call with server->lock held. */
static Record *
get_record (SttTestServer * server, guint index)
{
  return index < server->records->len ? g_ptr_array_index (server->records, index) : NULL;
}

GBytes *
stt_test_server_get_audio (SttTestServer * server, guint index)
{
  GBytes *bytes = NULL;
  Record *record;

  g_mutex_lock (&server->lock);
  if ((record = get_record (server, index)) != NULL)
    bytes = g_bytes_new (record->audio->data, record->audio->len);
  g_mutex_unlock (&server->lock);
  return bytes;
}

guint
stt_test_server_get_n_binary_messages (SttTestServer * server, guint index)
{
  Record *record;
  guint n = 0;

  g_mutex_lock (&server->lock);
  record = get_record (server, index);
  if (record != NULL)
    n = record->n_binary;
  g_mutex_unlock (&server->lock);
  return n;
}

gchar **
stt_test_server_get_text_messages (SttTestServer * server, guint index)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  Record *record;
  gchar **texts;
  guint i;

  g_mutex_lock (&server->lock);
  if ((record = get_record (server, index)) != NULL)
    for (i = 0; i < record->texts->len; i++)
      g_strv_builder_add (builder, g_ptr_array_index (record->texts, i));
  g_mutex_unlock (&server->lock);
  texts = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return texts;
}

gchar *
stt_test_server_get_query (SttTestServer * server, guint index, const gchar * name)
{
  gchar *value = NULL;
  Record *record;

  g_mutex_lock (&server->lock);
  if ((record = get_record (server, index)) != NULL)
    value = g_strdup (g_hash_table_lookup (record->query, name));
  g_mutex_unlock (&server->lock);
  return value;
}

gchar *
stt_test_server_get_header (SttTestServer * server, guint index, const gchar * name)
{
  gchar *value = NULL;
  Record *record;

  g_mutex_lock (&server->lock);
  if ((record = get_record (server, index)) != NULL)
    value = g_strdup (soup_message_headers_get_list (record->headers, name));
  g_mutex_unlock (&server->lock);
  return value;
}

gushort
stt_test_server_get_client_close_code (SttTestServer * server, guint index)
{
  gushort code = 0;
  Record *record;

  g_mutex_lock (&server->lock);
  if ((record = get_record (server, index)) != NULL)
    code = record->client_close_code;
  g_mutex_unlock (&server->lock);
  return code;
}

guint
stt_test_server_get_n_http_requests (SttTestServer * server)
{
  guint n;

  g_mutex_lock (&server->lock);
  n = server->http_records->len;
  g_mutex_unlock (&server->lock);
  return n;
}

gchar *
stt_test_server_get_http_body (SttTestServer * server, guint index)
{
  gchar *body = NULL;

  g_mutex_lock (&server->lock);
  if (index < server->http_records->len) {
    Record *record = g_ptr_array_index (server->http_records, index);
    gsize size;
    const gchar *data = g_bytes_get_data (record->body, &size);

    body = g_strndup (data ? data : "", size);
  }
  g_mutex_unlock (&server->lock);
  return body;
}

gchar *
stt_test_server_get_http_header (SttTestServer * server, guint index, const gchar * name)
{
  gchar *value = NULL;

  g_mutex_lock (&server->lock);
  if (index < server->http_records->len) {
    Record *record = g_ptr_array_index (server->http_records, index);

    value = g_strdup (soup_message_headers_get_list (record->headers, name));
  }
  g_mutex_unlock (&server->lock);
  return value;
}
