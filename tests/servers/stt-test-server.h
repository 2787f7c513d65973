/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-server: local servers that speak speech-to-text provider protocols, for tests.
 *
 * Each server runs its own thread and GMainContext, listens on 127.0.0.1 port 0 and turns
 * the audio it receives into deterministic results (see README.md beside this file).
 * Every function here is thread-safe and may be called from the test thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SttTestServer SttTestServer;

/* Starts a server for @protocol (one of stt_test_server_list_protocols()). Returns NULL
 * and sets @error if it could not listen. */
SttTestServer *stt_test_server_new (const gchar * protocol, GError ** error);
/* Like stt_test_server_new(), on @port (0 = any free port), for stt-test-server --port. */
SttTestServer *stt_test_server_new_on_port (const gchar * protocol, guint port,
    GError ** error);
/* The protocols stt_test_server_new() accepts, NULL-terminated (static). */
const gchar *const *stt_test_server_list_protocols (void);
/* Stops the thread, closes every connection, frees everything. NULL-safe. */
void stt_test_server_free (SttTestServer * server);

guint stt_test_server_get_port (SttTestServer * server);
/* "ws://127.0.0.1:PORT" + the provider's path (e.g. "/v1/listen"). Free with g_free. */
gchar *stt_test_server_get_url (SttTestServer * server);

/* --- request validation ------------------------------------------------------------- */
/* The key the server accepts (default "test-key"). A handshake with another key, or none,
 * is answered with HTTP 401 like the real service. NULL accepts any key. */
void stt_test_server_set_api_key (SttTestServer * server, const gchar * key);

/* --- fault injection ---------------------------------------------------------------- */
/* The next @count handshakes are refused with HTTP @status (e.g. 503, 429); a non-NULL
 * @retry_after adds a Retry-After header. */
void stt_test_server_fail_handshakes (SttTestServer * server, guint status, guint count,
    const gchar * retry_after);
/* When the current connection has received @after_seconds of audio, do @action:
 * CLOSE: close frame with @code/@reason; DROP: shut the TCP socket down without a close
 * frame; STALL: stop answering and stop reading, socket kept open.
 * CLOSE_AT_END (@after_seconds ignored): when a connection receives the client's
 * end-of-stream message, close frame with @code/@reason at once, before any result that
 * message would produce. One-shot. */
typedef enum
{
  STT_TEST_FAULT_CLOSE,
  STT_TEST_FAULT_DROP,
  STT_TEST_FAULT_STALL,
  STT_TEST_FAULT_CLOSE_AT_END,
  /* The server stops reading (the client's audio backs up on the socket) but goes on
   * talking: it sends @reason as a text message every @code ms. */
  STT_TEST_FAULT_DEAF,
} SttTestFault;
void stt_test_server_inject_fault (SttTestServer * server, SttTestFault fault,
    gdouble after_seconds, gushort code, const gchar * reason);
/* Sends @message as a text frame on every open connection. */
void stt_test_server_send_text (SttTestServer * server, const gchar * message);
/* Sends @message as a binary frame on every open connection (e.g. an AWS event-stream
 * message made with stt_test_aws_encode_message()). */
void stt_test_server_send_binary (SttTestServer * server, GBytes * message);
/* Delays every message the server sends by @ms (0 = none). */
void stt_test_server_set_reply_delay (SttTestServer * server, guint ms);
/* A connection that receives no message (audio or text) for @ms is closed the way the
 * provider does it (Deepgram: 1011 "NET-0001" after 10 s, the default). 0 disables. */
void stt_test_server_set_idle_timeout (SttTestServer * server, guint ms);

/* --- observation -------------------------------------------------------------------- */
/* Number of WebSocket connections accepted so far (refused handshakes not counted). */
guint stt_test_server_get_n_connections (SttTestServer * server);
/* The most connections that were open at once. */
guint stt_test_server_get_max_open (SttTestServer * server);
/* Number of handshakes attempted so far, accepted or refused. */
guint stt_test_server_get_n_handshakes (SttTestServer * server);
/* Waits until @n connections have been accepted and have closed (or @n accepted when
 * @closed is FALSE). Returns FALSE on timeout. */
gboolean stt_test_server_wait_connections (SttTestServer * server, guint n, gboolean closed,
    guint timeout_ms);
/* The audio bytes received on connection @index (0-based), S16LE as sent. */
GBytes *stt_test_server_get_audio (SttTestServer * server, guint index);
/* The number of binary messages received on connection @index (empty ones included). */
guint stt_test_server_get_n_binary_messages (SttTestServer * server, guint index);
/* The text (control) messages received on connection @index, in order; free with g_strfreev. */
gchar **stt_test_server_get_text_messages (SttTestServer * server, guint index);
/* Value of query parameter @name in connection @index's request URL, or NULL. */
gchar *stt_test_server_get_query (SttTestServer * server, guint index, const gchar * name);
/* Value of request header @name of connection @index, or NULL. */
gchar *stt_test_server_get_header (SttTestServer * server, guint index, const gchar * name);
/* The close code the client sent on connection @index: 0 while none was received (or the
 * connection ended without a close frame), 1005 for a close frame without a code. */
gushort stt_test_server_get_client_close_code (SttTestServer * server, guint index);

/* Plain HTTP requests the protocol answered (e.g. Gladia's session set-up POST), in order,
 * refused ones included: how many, and the body / a header of request @index (or NULL). */
guint stt_test_server_get_n_http_requests (SttTestServer * server);
gchar *stt_test_server_get_http_body (SttTestServer * server, guint index);
gchar *stt_test_server_get_http_header (SttTestServer * server, guint index,
    const gchar * name);

G_END_DECLS
