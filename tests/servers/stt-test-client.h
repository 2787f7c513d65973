/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-client: a libsoup WebSocket client for the tests of this folder
 * (test-stt-test-server.c, test-stt-fault-proxy.c), run on the default main context of
 * the test thread. It keeps every message it receives; text messages must be JSON. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* How long stt_test_client_new() waits for the handshake's end, and
 * stt_test_client_free() for the close's. */
#define STT_TEST_CLIENT_WAIT_MS 5000

typedef struct
{
  SoupSession *session;
  SoupMessage *msg;
  SoupWebsocketConnection *ws;
  GError *error;
  gboolean connect_done;
  GPtrArray *messages;          /* of JsonNode, in order */
  GPtrArray *texts;             /* the same messages as received (gchar *) */
  GPtrArray *binaries;          /* binary messages (GBytes), in order */
  gint64 first_message_time;
  guint n_pongs;
  const gchar *awaited;         /* for a test's own SttTestClientDone */
  gboolean closed;
  gushort close_code;
  gchar *close_reason;
} SttTestClient;

typedef gboolean (*SttTestClientDone) (SttTestClient * client, guint n);

/* Runs the default main context until @done returns TRUE or @timeout_ms passes; returns
 * what @done says then. */
gboolean stt_test_client_wait (SttTestClientDone done, SttTestClient * client, guint n,
    guint timeout_ms);
/* Runs the default main context for @ms. */
void stt_test_client_spin (guint ms);

/* SttTestClientDone: closed; the handshake ended; at least @n messages; @n pongs. */
gboolean stt_test_client_is_closed (SttTestClient * client, guint n);
gboolean stt_test_client_is_connected (SttTestClient * client, guint n);
gboolean stt_test_client_has_messages (SttTestClient * client, guint n);
gboolean stt_test_client_has_pongs (SttTestClient * client, guint n);

/* Connects to @url with the Authorization header @auth (NULL: none), offering
 * @protocols as sub-protocols, and waits for the handshake's end: check client->ws and
 * client->error. */
SttTestClient *stt_test_client_new (const gchar * url, const gchar * auth,
    const gchar * const *protocols);
/* Closes the connection normally if it is open (waiting for the close), and frees. */
void stt_test_client_free (SttTestClient * client);

G_END_DECLS
