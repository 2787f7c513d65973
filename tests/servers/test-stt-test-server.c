/* Tests of the test servers themselves, with a libsoup WebSocket client: the Deepgram
 * protocol as the service behaves, the handshake checks, the faults and the accessors. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "stt-test-server.h"
#include "stt-test-tones.h"

#define RATE 16000
#define WAIT_MS 5000
#define QUERY "model=nova-3&encoding=linear16&sample_rate=16000&channels=1"

static const SttTestTone two_tones[] = {
  {440.0, 0.5, 0.9, 0.5},
  {700.0, 1.0, 1.3, 0.5},
};

typedef struct
{
  SoupSession *session;
  SoupMessage *msg;
  SoupWebsocketConnection *ws;
  GError *error;
  gboolean connect_done;
  GPtrArray *messages;          /* of JsonNode, in order */
  gint64 first_message_time;
  guint n_pongs;
  gboolean closed;
  gushort close_code;
  gchar *close_reason;
} Client;

typedef gboolean (*DoneFunc) (Client * client, guint n);

/* Runs the default main context until @done returns TRUE or @timeout_ms passes. */
static gboolean
wait_until (DoneFunc done, Client * client, guint n, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!done (client, n) && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return done (client, n);
}

static gboolean
is_closed (Client * client, guint n)
{
  return client->closed;
}

static gboolean
is_connected (Client * client, guint n)
{
  return client->connect_done;
}

static gboolean
has_messages (Client * client, guint n)
{
  return client->messages->len >= n;
}

static gboolean
has_pongs (Client * client, guint n)
{
  return client->n_pongs >= n;
}

static gboolean
never (Client * client, guint n)
{
  return FALSE;
}

/* Runs the default main context for @ms. */
static void
spin (guint ms)
{
  wait_until (never, NULL, 0, ms);
}

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * message, Client * client)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize size;
  const gchar *data = g_bytes_get_data (message, &size);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_assert_true (json_parser_load_from_data (parser, data, size, &error));
  if (client->messages->len == 0)
    client->first_message_time = g_get_monotonic_time ();
  g_ptr_array_add (client->messages, json_node_copy (json_parser_get_root (parser)));
}

static void
on_pong (SoupWebsocketConnection * ws, GBytes * message, Client * client)
{
  client->n_pongs++;
}

static void
on_closed (SoupWebsocketConnection * ws, Client * client)
{
  client->closed = TRUE;
  client->close_code = soup_websocket_connection_get_close_code (ws);
  client->close_reason = g_strdup (soup_websocket_connection_get_close_data (ws));
}

static void
connected_cb (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Client *client = user_data;

  client->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      &client->error);
  client->connect_done = TRUE;
  if (client->ws != NULL) {
    g_signal_connect (client->ws, "message", G_CALLBACK (on_message), client);
    g_signal_connect (client->ws, "pong", G_CALLBACK (on_pong), client);
    g_signal_connect (client->ws, "closed", G_CALLBACK (on_closed), client);
  }
}

/* Connects to @server with @query and the Authorization header @auth (NULL: none);
 * @protocols are offered as sub-protocols. Returns the client; check client->ws. */
static Client *
client_connect_full (SttTestServer * server, const gchar * query, const gchar * auth,
    const gchar * const *protocols)
{
  Client *client = g_new0 (Client, 1);
  g_autofree gchar *base = stt_test_server_get_url (server);
  g_autofree gchar *url = g_strdup_printf ("%s?%s", base, query);

  client->session = soup_session_new ();
  client->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  client->msg = soup_message_new ("GET", url);
  if (auth != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (client->msg),
        "Authorization", auth);
  soup_session_websocket_connect_async (client->session, client->msg, NULL,
      (char **) protocols, G_PRIORITY_DEFAULT, NULL, connected_cb, client);
  g_assert_true (wait_until (is_connected, client, 0, WAIT_MS));
  return client;
}

static Client *
client_connect (SttTestServer * server)
{
  Client *client = client_connect_full (server, QUERY, "Token test-key", NULL);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  return client;
}

static void
client_free (Client * client)
{
  if (client->ws != NULL) {
    if (!client->closed) {
      soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      wait_until (is_closed, client, 0, WAIT_MS);
    }
    g_signal_handlers_disconnect_by_data (client->ws, client);
    g_object_unref (client->ws);
  }
  g_clear_error (&client->error);
  g_object_unref (client->msg);
  g_object_unref (client->session);
  g_ptr_array_unref (client->messages);
  g_free (client->close_reason);
  g_free (client);
}

static void
send_audio (Client * client, GBytes * audio, gsize chunk)
{
  gsize size, off;
  const guint8 *data = g_bytes_get_data (audio, &size);

  /* A server fault may close the connection while we send. */
  for (off = 0; off < size &&
      soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN;
      off += chunk)
    soup_websocket_connection_send_binary (client->ws, data + off, MIN (chunk, size - off));
}

static JsonObject *
message_object (Client * client, guint i)
{
  return json_node_get_object (g_ptr_array_index (client->messages, i));
}

static const gchar *
message_type (Client * client, guint i)
{
  return json_object_get_string_member (message_object (client, i), "type");
}

/* The index of the @nth (0-based) message of @type, or -1. */
static gint
find_message (Client * client, const gchar * type, guint nth)
{
  guint i;

  for (i = 0; i < client->messages->len; i++)
    if (g_str_equal (message_type (client, i), type) && nth-- == 0)
      return (gint) i;
  return -1;
}

static guint
count_messages (Client * client, const gchar * type)
{
  guint i, n = 0;

  for (i = 0; i < client->messages->len; i++)
    n += g_str_equal (message_type (client, i), type);
  return n;
}

static JsonObject *
results_alternative (JsonObject * results)
{
  JsonArray *alternatives = json_object_get_array_member (json_object_get_object_member
      (results, "channel"), "alternatives");

  return json_array_get_object_element (alternatives, 0);
}

static void
assert_word (JsonObject * alternative, guint i, const gchar * text, gdouble start,
    gdouble end)
{
  JsonObject *word = json_array_get_object_element (json_object_get_array_member
      (alternative, "words"), i);

  g_assert_cmpstr (json_object_get_string_member (word, "word"), ==, text);
  g_assert_cmpstr (json_object_get_string_member (word, "punctuated_word"), ==, text);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (word, "start"), start,
      0.0101);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (word, "end"), end, 0.0101);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (word, "confidence"), 0.9,
      1e-9);
}

static SttTestServer *
server_new (void)
{
  g_autoptr (GError) error = NULL;
  SttTestServer *server = stt_test_server_new ("deepgram", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (stt_test_server_get_port (server), >, 0);
  return server;
}

/* --- Deepgram protocol --------------------------------------------------------------- */

static void
test_results (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.5, two_tones, 2);
  g_autoptr (GBytes) received = NULL;
  g_auto (GStrv) texts = NULL;
  g_autofree gchar *model = NULL, *auth = NULL;
  g_autofree gchar *sha256 = NULL;
  Client *client = client_connect_full (server, QUERY
      "&interim_results=true&utterance_end_ms=1000&vad_events=true", "Token test-key",
      NULL);
  JsonObject *final, *alternative, *metadata;
  gint i;

  g_assert_no_error (client->error);
  send_audio (client, audio, 3200);
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"CloseStream\"}");
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);

  /* SpeechStarted first, interims, one endpointed final, UtteranceEnd, the flush (empty:
   * nothing was open), Metadata last. */
  g_assert_cmpstr (message_type (client, 0), ==, "SpeechStarted");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (message_object (client,
              0), "timestamp"), 0.5, 0.0101);
  g_assert_cmpuint (count_messages (client, "Results"), >=, 4);
  for (i = 0; i < (gint) client->messages->len; i++)
    if (g_str_equal (message_type (client, i), "Results") &&
        json_object_get_boolean_member (message_object (client, i), "is_final"))
      break;
  final = message_object (client, i);
  g_assert_true (json_object_get_boolean_member (final, "speech_final"));
  g_assert_false (json_object_get_boolean_member (final, "from_finalize"));
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (final, "start"), 0.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (final, "duration"), 1.6,
      0.0101);
  alternative = results_alternative (final);
  g_assert_cmpstr (json_object_get_string_member (alternative, "transcript"), ==,
      "w400 w700");
  assert_word (alternative, 0, "w400", 0.5, 0.9);
  assert_word (alternative, 1, "w700", 1.0, 1.3);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (final,
              "metadata"), "model_uuid"), !=, "");

  i = find_message (client, "UtteranceEnd", 0);
  g_assert_cmpint (i, >, 0);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (message_object (client,
              i), "last_word_end"), 1.3, 0.0101);

  i = find_message (client, "Results", count_messages (client, "Results") - 1);
  g_assert_true (json_object_get_boolean_member (message_object (client, i),
          "from_finalize"));
  g_assert_cmpstr (json_object_get_string_member (results_alternative (message_object
              (client, i)), "transcript"), ==, "");

  g_assert_cmpstr (message_type (client, client->messages->len - 1), ==, "Metadata");
  metadata = message_object (client, client->messages->len - 1);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (metadata, "duration"), 2.5,
      1e-6);
  g_assert_cmpint (json_object_get_int_member (metadata, "channels"), ==, 1);
  sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, audio);
  g_assert_cmpstr (json_object_get_string_member (metadata, "sha256"), ==, sha256);

  /* What the server recorded. */
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_true (g_bytes_equal (received, audio));
  texts = stt_test_server_get_text_messages (server, 0);
  g_assert_cmpuint (g_strv_length (texts), ==, 1);
  g_assert_cmpstr (texts[0], ==, "{\"type\":\"CloseStream\"}");
  model = stt_test_server_get_query (server, 0, "model");
  g_assert_cmpstr (model, ==, "nova-3");
  auth = stt_test_server_get_header (server, 0, "authorization");
  g_assert_cmpstr (auth, ==, "Token test-key");
  g_assert_cmpuint (stt_test_server_get_client_close_code (server, 0), ==, 1000);
  g_assert_null (stt_test_server_get_audio (server, 1));

  client_free (client);
  stt_test_server_free (server);
}

/* Finalize flushes the word in progress; no interims without interim_results=true. */
static void
test_finalize (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 0.7, two_tones, 1);
  Client *client = client_connect (server);
  JsonObject *results;

  send_audio (client, audio, 1601);     /* odd sizes split samples across frames */
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"KeepAlive\"}");
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"Finalize\"}");
  g_assert_true (wait_until (has_messages, client, 1, WAIT_MS));
  spin (100);
  g_assert_cmpuint (client->messages->len, ==, 1);
  results = message_object (client, 0);
  g_assert_cmpstr (message_type (client, 0), ==, "Results");
  g_assert_true (json_object_get_boolean_member (results, "is_final"));
  g_assert_false (json_object_get_boolean_member (results, "speech_final"));
  g_assert_true (json_object_get_boolean_member (results, "from_finalize"));
  assert_word (results_alternative (results), 0, "w400", 0.5, 0.7);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (results, "duration"), 0.7,
      1e-6);
  /* Still open after a Finalize. */
  g_assert_false (client->closed);

  client_free (client);
  stt_test_server_free (server);
}

/* An empty binary frame ends the stream like CloseStream (the deprecated way). */
static void
test_empty_frame (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 0.8, two_tones, 1);
  Client *client = client_connect (server);

  send_audio (client, audio, 3200);
  soup_websocket_connection_send_binary (client->ws, NULL, 0);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpstr (message_type (client, client->messages->len - 1), ==, "Metadata");
  g_assert_cmpstr (json_object_get_string_member (results_alternative (message_object
              (client, client->messages->len - 2)), "transcript"), ==, "w400");

  client_free (client);
  stt_test_server_free (server);
}

static void
test_bad_text (void)
{
  static const gchar *const texts[] = { "hello", "{\"type\":\"Nope\"}", "[1]" };
  SttTestServer *server = server_new ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (texts); i++) {
    Client *client = client_connect (server);

    soup_websocket_connection_send_text (client->ws, texts[i]);
    g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
    g_assert_cmpuint (client->close_code, ==, 1011);
    g_assert_nonnull (client->close_reason);
    client_free (client);
  }
  stt_test_server_free (server);
}

/* --- handshake ----------------------------------------------------------------------- */

static void
assert_refused (SttTestServer * server, const gchar * query, const gchar * auth,
    guint status)
{
  Client *client = client_connect_full (server, query, auth, NULL);
  SoupMessageHeaders *headers = soup_message_get_response_headers (client->msg);

  g_assert_null (client->ws);
  g_assert_error (client->error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, status);
  g_assert_nonnull (soup_message_headers_get_one (headers, "dg-request-id"));
  g_assert_nonnull (soup_message_headers_get_one (headers, "dg-error"));
  client_free (client);
}

static void
assert_accepted (SttTestServer * server, const gchar * auth,
    const gchar * const *protocols)
{
  Client *client = client_connect_full (server, QUERY, auth, protocols);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  client_free (client);
}

static void
test_handshake (void)
{
  static const gchar *const subprotocols[] = { "token", "test-key", NULL };
  SttTestServer *server = server_new ();
  Client *client;
  const gchar *body;

  assert_refused (server, QUERY, NULL, 401);
  assert_refused (server, QUERY, "Token wrong", 401);
  assert_refused (server, QUERY, "test-key", 401);
  assert_refused (server, "encoding=linear16&sample_rate=16000", "Token test-key", 400);
  assert_refused (server, "model=nova-3&encoding=linear16", "Token test-key", 400);
  assert_refused (server, "model=nova-3&encoding=linear16&sample_rate=0", "Token test-key",
      400);
  assert_refused (server, "model=nova-3&sample_rate=16000", "Token test-key", 400);
  assert_refused (server, "model=nova-3&encoding=mulaw&sample_rate=8000", "Token test-key",
      400);
  assert_refused (server, QUERY "&channels=2", "Token test-key", 400);
  assert_refused (server, QUERY "&interim_results=yes", "Token test-key", 400);
  g_assert_cmpuint (stt_test_server_get_n_connections (server), ==, 0);
  g_assert_cmpuint (stt_test_server_get_n_handshakes (server), ==, 10);

  assert_accepted (server, "Token test-key", NULL);
  assert_accepted (server, "token test-key", NULL);
  assert_accepted (server, "Bearer test-key", NULL);
  assert_accepted (server, NULL, subprotocols);
  g_assert_true (stt_test_server_wait_connections (server, 4, TRUE, WAIT_MS));

  /* Faults come first; then another key; then any key. */
  stt_test_server_fail_handshakes (server, 429, 2, "7");
  client = client_connect_full (server, QUERY, "Token test-key", NULL);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 429);
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers
          (client->msg), "Retry-After"), ==, "7");
  client_free (client);
  assert_refused (server, QUERY, "Token test-key", 429);
  stt_test_server_fail_handshakes (server, 503, 1, NULL);
  client = client_connect_full (server, QUERY, "Token test-key", NULL);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 503);
  g_assert_null (soup_message_headers_get_one (soup_message_get_response_headers
          (client->msg), "Retry-After"));
  client_free (client);

  stt_test_server_set_api_key (server, "other");
  assert_refused (server, QUERY, "Token test-key", 401);
  client = client_connect_full (server, QUERY, "Token wrong", NULL);
  body = soup_message_headers_get_one (soup_message_get_response_headers (client->msg),
      "Content-Type");
  g_assert_cmpstr (body, ==, "application/json");
  client_free (client);
  assert_accepted (server, "Token other", NULL);
  stt_test_server_set_api_key (server, NULL);
  assert_accepted (server, NULL, NULL);

  g_assert_cmpuint (stt_test_server_get_n_connections (server), ==, 6);
  g_assert_cmpuint (stt_test_server_get_n_handshakes (server), ==, 10 + 4 + 3 + 2 + 2);
  stt_test_server_free (server);
}

/* --- faults and controls ------------------------------------------------------------- */

static void
check_close_fault (gushort code)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.0, two_tones, 2);
  g_autoptr (GBytes) received = NULL;
  Client *client = client_connect (server);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE, 0.5, code, "Service restart");
  send_audio (client, audio, 1600);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, code);
  g_assert_cmpstr (client->close_reason, ==, "Service restart");
  /* Closed at the frame that reached 0.5 s: no results yet (the first word is at 0.5). */
  g_assert_cmpuint (count_messages (client, "Results"), ==, 0);
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_cmpuint (g_bytes_get_size (received), ==, RATE * 2 / 2);

  /* One-shot: the next connection is not affected. */
  client_free (client);
  client = client_connect (server);
  send_audio (client, audio, 1600);
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"CloseStream\"}");
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  client_free (client);
  stt_test_server_free (server);
}

/* 1011 and 4000 go through libsoup; 1012/1013 are written raw (libsoup refuses them). */
static void
test_fault_close (void)
{
  check_close_fault (1011);
  check_close_fault (4000);
  check_close_fault (1012);
  check_close_fault (1013);
}

static void
test_fault_drop (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.0, two_tones, 2);
  Client *client = client_connect (server);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 1.0, 0, NULL);
  send_audio (client, audio, 1600);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  /* No close frame was received. */
  g_assert_cmpuint (client->close_code, ==, 0);
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  g_assert_cmpuint (stt_test_server_get_client_close_code (server, 0), ==, 0);
  client_free (client);
  stt_test_server_free (server);
}

/* A stalled server neither reads, nor answers (not even pings), nor closes, until the
 * client goes away. */
static void
test_fault_stall (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.0, two_tones, 2);
  g_autoptr (GBytes) received = NULL;
  Client *client = client_connect_full (server, QUERY "&interim_results=true",
      "Token test-key", NULL);
  guint n_pongs, n_messages;

  soup_websocket_connection_set_keepalive_interval (client->ws, 1);
  g_assert_true (wait_until (has_pongs, client, 1, WAIT_MS));

  stt_test_server_inject_fault (server, STT_TEST_FAULT_STALL, 0.6, 0, NULL);
  send_audio (client, audio, 1600);
  spin (2500);
  n_pongs = client->n_pongs;
  n_messages = client->messages->len;
  g_assert_cmpuint (count_messages (client, "Results"), ==, 0);
  g_assert_false (client->closed);
  spin (1500);
  g_assert_cmpuint (client->n_pongs, ==, n_pongs);
  g_assert_cmpuint (client->messages->len, ==, n_messages);
  g_assert_false (stt_test_server_wait_connections (server, 1, TRUE, 0));
  received = stt_test_server_get_audio (server, 0);
  g_assert_cmpuint (g_bytes_get_size (received), ==, (gsize) (0.6 * RATE * 2));

  /* The client gives up: the server notices and closes its side. */
  soup_websocket_connection_set_keepalive_interval (client->ws, 0);
  soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_assert_true (wait_until (is_closed, client, 0, 7000));
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  client_free (client);
  stt_test_server_free (server);
}

static void
test_send_text_and_delay (void)
{
  SttTestServer *server = server_new ();
  Client *client = client_connect (server);
  gint64 sent;

  stt_test_server_set_reply_delay (server, 300);
  sent = g_get_monotonic_time ();
  stt_test_server_send_text (server, "{\"type\":\"Hello\",\"n\":1}");
  g_assert_true (wait_until (has_messages, client, 1, WAIT_MS));
  spin (50);
  g_assert_cmpuint (client->messages->len, ==, 1);
  g_assert_cmpstr (message_type (client, 0), ==, "Hello");
  g_assert_cmpint (client->first_message_time - sent, >=, 300 * 1000);

  client_free (client);
  stt_test_server_free (server);
}

static void
test_idle_timeout (void)
{
  SttTestServer *server = server_new ();
  Client *client;

  stt_test_server_set_idle_timeout (server, 300);
  client = client_connect (server);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1011);
  g_assert_nonnull (strstr (client->close_reason, "net0001"));
  client_free (client);
  stt_test_server_free (server);
}

/* Freeing the server closes open connections with 1001 and returns promptly. */
static void
test_free_with_clients (void)
{
  SttTestServer *server = server_new ();
  Client *client = client_connect (server);
  Client *other = client_connect (server);
  gint64 start;

  g_assert_true (stt_test_server_wait_connections (server, 2, FALSE, WAIT_MS));
  g_assert_cmpuint (stt_test_server_get_n_connections (server), ==, 2);
  /* The clients' context is not running: the server waits its grace time, then drops. */
  start = g_get_monotonic_time ();
  stt_test_server_free (server);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_true (wait_until (is_closed, other, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1001);
  client_free (client);
  client_free (other);
}

static void
test_unknown_protocol (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (stt_test_server_new ("nope", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_true (g_strv_contains (stt_test_server_list_protocols (), "deepgram"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/deepgram/results", test_results);
  g_test_add_func ("/deepgram/finalize", test_finalize);
  g_test_add_func ("/deepgram/empty-frame", test_empty_frame);
  g_test_add_func ("/deepgram/bad-text", test_bad_text);
  g_test_add_func ("/deepgram/handshake", test_handshake);
  g_test_add_func ("/server/fault-close", test_fault_close);
  g_test_add_func ("/server/fault-drop", test_fault_drop);
  g_test_add_func ("/server/fault-stall", test_fault_stall);
  g_test_add_func ("/server/send-text-and-delay", test_send_text_and_delay);
  g_test_add_func ("/server/idle-timeout", test_idle_timeout);
  g_test_add_func ("/server/free-with-clients", test_free_with_clients);
  g_test_add_func ("/server/unknown-protocol", test_unknown_protocol);
  return g_test_run ();
}
