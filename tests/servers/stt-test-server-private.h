/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-server-private: what a provider protocol file sees of the common server.
 *
 * A protocol is a table of hooks (SttTestProtocol) plus per-connection state. The common
 * part (stt-test-server.c) accepts the HTTP request, applies the handshake faults, upgrades
 * to WebSocket, records everything the client sends, runs the analyzer and the faults, and
 * sends through a per-connection outbox (reply delay, stall). Adding a provider is one new
 * file defining an SttTestProtocol and one line in stt-test-protocols.def.
 * Everything here runs on the server thread.
 */
#pragma once

#include <libsoup/soup.h>

#include "stt-test-analyzer.h"
#include "stt-test-json.h"
#include "stt-test-server.h"

G_BEGIN_DECLS

typedef struct _SttTestConn SttTestConn;

/* What a handshake hook decided about an accepted request. */
typedef struct
{
  /* In: the protocol's per-server state (new_server_state), or NULL. */
  gpointer server_state;
  /* Audio sample rate of the connection (S16LE mono). Required. */
  guint rate;
  /* Per-connection protocol state, freed with the protocol's free_state. */
  gpointer state;
} SttTestAccept;

typedef struct
{
  const gchar *name;            /* "deepgram" */
  const gchar *path;            /* "/v1/listen" */
  /* Sub-protocols the server may pick from the client's Sec-WebSocket-Protocol, or NULL. */
  const gchar *const *subprotocols;
  guint default_idle_timeout_ms;

  /* Checks the request (credentials against @api_key, NULL = any; query; headers).
   * Returns 0 and fills @accept to upgrade, or an HTTP status with *@message set to the
   * reason (refuse() then writes the response). */
  guint (*handshake) (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
      SttTestAccept * accept, gchar ** message);
  /* Writes the response of a refused handshake (@status already set; body, headers). */
  void (*refuse) (SoupServerMessage * msg, guint status, const gchar * message);
  /* The connection is open; configure the analyzer here. Optional. */
  void (*on_open) (SttTestConn * conn);
  void (*on_binary) (SttTestConn * conn, const guint8 * data, gsize size);
  /* The text was already recorded. */
  void (*on_text) (SttTestConn * conn, const gchar * text);
  /* A result of the analyzer, fed by stt_test_conn_push_audio(). */
  void (*on_result) (SttTestConn * conn, const SttTestAnalyzerResult * result);
  /* Nothing received for the idle timeout. Optional (default: close 1011). */
  void (*on_idle) (SttTestConn * conn);
  /* Every 100 ms while open and not stalled. Optional. */
  void (*on_tick) (SttTestConn * conn);
  GDestroyNotify free_state;

  /* --- optional --- */
  /* State shared by the connections of one server (e.g. service sessions that outlive a
   * connection): created on the server thread before it listens, freed after the last
   * connection. */
  gpointer (*new_server_state) (void);
  GDestroyNotify free_server_state;
  /* A request on the path that is not a WebSocket upgrade (e.g. a session set-up POST):
   * write the answer and return 0, or return an HTTP status with *@message set (refuse()
   * then writes the response). It is recorded, counted and faulted like a handshake.
   * Without this hook such requests go to handshake() like any other. */
  guint (*http_request) (SoupServerMessage * msg, GHashTable * query,
      const gchar * api_key, gpointer server_state, gchar ** message);
  /* Sends a harmless message with no result (what a deaf connection keeps saying, see
   * STT_TEST_FAULT_DEAF), for protocols whose messages are not text; without this hook
   * the fault's text is sent. */
  void (*send_harmless) (SttTestConn * conn);
} SttTestProtocol;

/* stt_test_protocol_<name>, one for each line of stt-test-protocols.def. */
#define STT_TEST_PROTOCOL(name) extern const SttTestProtocol stt_test_protocol_##name;
#include "stt-test-protocols.def"
#undef STT_TEST_PROTOCOL

/* The server's protocol, and its per-server state (new_server_state; NULL without one),
 * for a protocol's own test API. The state is made before stt_test_server_new() returns
 * and lives until stt_test_server_free(); what the test thread touches in it needs the
 * protocol's own lock. */
const SttTestProtocol *stt_test_server_get_protocol (SttTestServer * server);
gpointer stt_test_server_get_protocol_state (SttTestServer * server);

gpointer stt_test_conn_get_state (SttTestConn * conn);
gpointer stt_test_conn_get_server_state (SttTestConn * conn);
guint stt_test_conn_get_index (SttTestConn * conn);
guint stt_test_conn_get_rate (SttTestConn * conn);
SttTestAnalyzer *stt_test_conn_get_analyzer (SttTestConn * conn);
/* From the next audio on, feeds @analyzer (the protocol's own: one a service session keeps
 * across connections, or one made once a start message told the rate) instead of the
 * connection's; the connection's rate becomes @analyzer's. Not freed with the connection. */
void stt_test_conn_use_analyzer (SttTestConn * conn, SttTestAnalyzer * analyzer);
/* Seconds of audio received on this connection. */
gdouble stt_test_conn_get_audio_seconds (SttTestConn * conn);
/* The recorded query parameter @name, or NULL. */
const gchar *stt_test_conn_get_query (SttTestConn * conn, const gchar * name);

/* Records S16LE audio, applies a due fault, feeds the analyzer (results reach on_result
 * before this returns). Returns FALSE when a fault took the connection (stop handling). */
gboolean stt_test_conn_push_audio (SttTestConn * conn, const guint8 * data, gsize size);
/* stt_test_analyzer_finalize() with results to on_result. */
void stt_test_conn_finalize (SttTestConn * conn);
/* Call first when the client's end-of-stream message arrives (the one that flushes and
 * ends the session). Applies an armed CLOSE_AT_END fault; returns TRUE when it took the
 * connection: then send nothing and stop handling the message. */
gboolean stt_test_conn_end_received (SttTestConn * conn);

/* Queue a text frame / a JSON document (freed) / a close frame after what is queued;
 * sent once the reply delay has passed. Ignored once the connection is closing. */
void stt_test_conn_send_text (SttTestConn * conn, const gchar * text);
void stt_test_conn_send_json (SttTestConn * conn, SttTestJson * json);
/* A binary frame (a reference is taken), queued like text. */
void stt_test_conn_send_binary (SttTestConn * conn, GBytes * message);
void stt_test_conn_close (SttTestConn * conn, gushort code, const gchar * reason);
/* TRUE once a close was queued or the connection is going away. */
gboolean stt_test_conn_is_closing (SttTestConn * conn);

G_END_DECLS
