/* Tests of the test servers themselves, with a libsoup WebSocket client: the Deepgram and
 * vosk protocols as the servers behave, the handshake checks, the faults (CLOSE_AT_END for
 * several protocols) and the accessors. */
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
  GPtrArray *texts;             /* the same messages as received (gchar *) */
  gint64 first_message_time;
  guint n_pongs;
  const gchar *awaited;         /* for has_awaited() */
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
  g_ptr_array_add (client->texts, g_strndup (data, size));
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

/* Connects to @server with @query (NULL: none) and the Authorization header @auth (NULL:
 * none); @protocols are offered as sub-protocols. Returns the client; check client->ws. */
static Client *
client_connect_full (SttTestServer * server, const gchar * query, const gchar * auth,
    const gchar * const *protocols)
{
  Client *client = g_new0 (Client, 1);
  g_autofree gchar *base = stt_test_server_get_url (server);
  g_autofree gchar *url = query ? g_strdup_printf ("%s?%s", base, query) : g_strdup (base);

  client->session = soup_session_new ();
  client->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  client->texts = g_ptr_array_new_with_free_func (g_free);
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
  g_ptr_array_unref (client->texts);
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
server_new_for (const gchar * protocol)
{
  g_autoptr (GError) error = NULL;
  SttTestServer *server = stt_test_server_new (protocol, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (stt_test_server_get_port (server), >, 0);
  return server;
}

static SttTestServer *
server_new (void)
{
  return server_new_for ("deepgram");
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

/* --- vosk protocol ------------------------------------------------------------------- */

#define VOSK_CONFIG "{\"config\" : {\"sample_rate\" : 16000, \"words\" : 1}}"
#define VOSK_EOF "{\"eof\" : 1}"
#define VOSK_RESET "{\"reset\" : 1}"
/* 0.2 s at 16 kHz, as vosk-server's test.py sends. */
#define VOSK_CHUNK 6400

/* Connects (no path, query or key needed) and sends @config first unless NULL. */
static Client *
vosk_connect (SttTestServer * server, const gchar * config)
{
  Client *client = client_connect_full (server, NULL, NULL, NULL);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  if (config != NULL)
    soup_websocket_connection_send_text (client->ws, config);
  return client;
}

/* Sends @audio in @chunk-byte frames and waits for the one answer to each. */
static void
vosk_send_audio (Client * client, GBytes * audio, gsize chunk)
{
  guint n = client->messages->len + (g_bytes_get_size (audio) + chunk - 1) / chunk;

  send_audio (client, audio, chunk);
  g_assert_true (wait_until (has_messages, client, n, WAIT_MS));
}

/* Sends @text and waits for its one answer. */
static void
vosk_send_text (Client * client, const gchar * text)
{
  guint n = client->messages->len + 1;

  soup_websocket_connection_send_text (client->ws, text);
  g_assert_true (wait_until (has_messages, client, n, WAIT_MS));
}

static const gchar *
member_string (Client * client, guint i, const gchar * name)
{
  return json_object_get_string_member_with_default (message_object (client, i), name,
      NULL);
}

static void
assert_vosk_partial (Client * client, guint i, const gchar * text)
{
  g_assert_cmpstr (member_string (client, i, "partial"), ==, text);
  g_assert_false (json_object_has_member (message_object (client, i), "text"));
}

/* Answer @i is a final with @text and @n_words words in "result". */
static void
assert_vosk_final (Client * client, guint i, const gchar * text, guint n_words)
{
  JsonObject *o = message_object (client, i);

  g_assert_false (json_object_has_member (o, "partial"));
  g_assert_cmpstr (member_string (client, i, "text"), ==, text);
  if (n_words == 0)
    g_assert_false (json_object_has_member (o, "result"));
  else
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "result")),
        ==, n_words);
}

static void
assert_vosk_word (Client * client, guint i, guint w, const gchar * text, gdouble start,
    gdouble end)
{
  JsonObject *word = json_array_get_object_element (json_object_get_array_member
      (message_object (client, i), "result"), w);

  g_assert_cmpstr (json_object_get_string_member (word, "word"), ==, text);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (word, "start"), start,
      0.0101);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (word, "end"), end, 0.0101);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (word, "conf"), 0.9, 1e-9);
}

/* One answer per audio frame (none to the config): partials with the open segment, the
 * result in the answer to the frame where the segment ended (500 ms of silence), in
 * vosk-api's bytes. */
static void
test_vosk_results (void)
{
  static const gchar result[] = "{\n"
      "  \"result\" : [{\n"
      "      \"conf\" : 0.900000,\n"
      "      \"end\" : 0.900000,\n"
      "      \"start\" : 0.500000,\n"
      "      \"word\" : \"w400\"\n"
      "    }, {\n"
      "      \"conf\" : 0.900000,\n"
      "      \"end\" : 1.300000,\n"
      "      \"start\" : 1.000000,\n"
      "      \"word\" : \"w700\"\n"
      "    }],\n" "  \"text\" : \"w400 w700\"\n" "}";
  static const gchar *const partials[] = { "", "", "w400", "w400", "w400", "w400 w700",
    "w400 w700", "w400 w700", NULL, "", "", "", ""
  };
  SttTestServer *server = server_new_for ("vosk");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.5, two_tones, 2);
  g_autoptr (GBytes) received = NULL;
  g_auto (GStrv) texts = NULL;
  Client *client = vosk_connect (server, VOSK_CONFIG);
  guint i;

  vosk_send_audio (client, audio, VOSK_CHUNK);
  spin (100);
  g_assert_cmpuint (client->messages->len, ==, G_N_ELEMENTS (partials));
  g_assert_cmpstr (g_ptr_array_index (client->texts, 0), ==, "{\n  \"partial\" : \"\"\n}");
  for (i = 0; i < G_N_ELEMENTS (partials); i++)
    if (partials[i] != NULL)
      assert_vosk_partial (client, i, partials[i]);
  /* The frame of 1.6-1.8 s: 500 ms after the end of w700. */
  assert_vosk_final (client, 8, "w400 w700", 2);
  assert_vosk_word (client, 8, 0, "w400", 0.5, 0.9);
  assert_vosk_word (client, 8, 1, "w700", 1.0, 1.3);
  g_assert_cmpstr (g_ptr_array_index (client->texts, 8), ==, result);

  /* eof: the rest (silence) as a final without words, then close 1000. */
  soup_websocket_connection_send_text (client->ws, VOSK_EOF);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpuint (client->messages->len, ==, G_N_ELEMENTS (partials) + 1);
  assert_vosk_final (client, G_N_ELEMENTS (partials), "", 0);

  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_true (g_bytes_equal (received, audio));
  texts = stt_test_server_get_text_messages (server, 0);
  g_assert_cmpuint (g_strv_length (texts), ==, 2);
  g_assert_cmpstr (texts[0], ==, VOSK_CONFIG);
  g_assert_cmpstr (texts[1], ==, VOSK_EOF);
  g_assert_cmpuint (stt_test_server_get_client_close_code (server, 0), ==, 1000);

  client_free (client);
  stt_test_server_free (server);
}

/* reset: the open segment, the word still sounding included, is the answer, and the
 * session goes on with times from the first sample; eof does the same and closes. */
static void
test_vosk_reset_and_eof (void)
{
  const SttTestTone first[] = { {440.0, 0.5, 0.8, 0.5} };
  const SttTestTone second[] = { {700.0, 0.2, 0.5, 0.5} };
  SttTestServer *server = server_new_for ("vosk");
  g_autoptr (GBytes) audio1 = stt_test_tones_render_le (RATE, 0.8, first, 1);
  g_autoptr (GBytes) audio2 = stt_test_tones_render_le (RATE, 0.8, second, 1);
  Client *client = vosk_connect (server, VOSK_CONFIG);

  vosk_send_audio (client, audio1, VOSK_CHUNK);
  assert_vosk_partial (client, 3, "w400");
  vosk_send_text (client, VOSK_RESET);
  assert_vosk_final (client, 4, "w400", 1);
  assert_vosk_word (client, 4, 0, "w400", 0.5, 0.8);
  /* Nothing heard since: vosk-api's fixed empty result. */
  vosk_send_text (client, VOSK_RESET);
  g_assert_cmpstr (g_ptr_array_index (client->texts, 5), ==, "{\"text\": \"\"}");
  spin (50);
  g_assert_false (client->closed);

  vosk_send_audio (client, audio2, VOSK_CHUNK);
  assert_vosk_partial (client, 6, "");
  assert_vosk_partial (client, 7, "w700");
  assert_vosk_partial (client, 9, "w700");
  soup_websocket_connection_send_text (client->ws, VOSK_EOF);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpuint (client->messages->len, ==, 11);
  assert_vosk_final (client, 10, "w700", 1);
  assert_vosk_word (client, 10, 0, "w700", 1.0, 1.3);

  client_free (client);
  stt_test_server_free (server);
}

/* Two segments end within one frame: one answer, their words merged in order. */
static void
test_vosk_merged_finals (void)
{
  const SttTestTone tones[] = { {440.0, 0.2, 0.4, 0.5}, {700.0, 1.3, 1.5, 0.5} };
  SttTestServer *server = server_new_for ("vosk");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.2, tones, 2);
  Client *client = vosk_connect (server, VOSK_CONFIG);

  vosk_send_audio (client, audio, g_bytes_get_size (audio));
  spin (50);
  g_assert_cmpuint (client->messages->len, ==, 1);
  assert_vosk_final (client, 0, "w400 w700", 2);
  assert_vosk_word (client, 0, 0, "w400", 0.2, 0.4);
  assert_vosk_word (client, 0, 1, "w700", 1.3, 1.5);
  client_free (client);
  stt_test_server_free (server);
}

/* Without a config the rate is 8000 Hz; a config after the first audio changes nothing
 * (the recognizer is made at the first message that is not a config); words:0 drops
 * "result". */
static void
test_vosk_rate_and_words (void)
{
  const SttTestTone tone[] = { {440.0, 0.2, 0.5, 0.5} };
  SttTestServer *server = server_new_for ("vosk");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (8000, 1.2, tone, 1);
  g_autoptr (GBytes) head = g_bytes_new_from_bytes (audio, 0, 3200);
  g_autoptr (GBytes) tail = g_bytes_new_from_bytes (audio, 3200,
      g_bytes_get_size (audio) - 3200);
  Client *client = vosk_connect (server, NULL);

  vosk_send_audio (client, head, 3200);
  soup_websocket_connection_send_text (client->ws, VOSK_CONFIG);
  vosk_send_audio (client, tail, 3200);
  g_assert_cmpuint (client->messages->len, ==, 6);
  /* The frame of 0.8-1.0 s: 500 ms after the end of the word. */
  assert_vosk_final (client, 4, "w400", 1);
  assert_vosk_word (client, 4, 0, "w400", 0.2, 0.5);
  client_free (client);

  client = vosk_connect (server, "{\"config\" : {\"sample_rate\" : 8000, \"words\" : 0}}");
  vosk_send_audio (client, audio, 3200);
  assert_vosk_final (client, 4, "w400", 0);
  client_free (client);
  stt_test_server_free (server);
}

/* eof first: the fixed empty result, then close 1000. Other text (eof spaced otherwise
 * too) and configs that do not parse end the server's handler: close 1011. */
static void
test_vosk_text (void)
{
  static const gchar *const bad[] = { "{\"eof\":1}", "hello", "{\"type\":\"config\"}",
    "{\"config\" : 5}", "{\"config\" : {\"sample_rate\" : 0}}", "config"
  };
  SttTestServer *server = server_new_for ("vosk");
  Client *client = vosk_connect (server, "{\"config\" : {\"sample_rate\" : \"16000\"}}");
  guint i;

  soup_websocket_connection_send_text (client->ws, VOSK_EOF);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpuint (client->messages->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (client->texts, 0), ==, "{\"text\": \"\"}");
  client_free (client);

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    client = vosk_connect (server, NULL);
    soup_websocket_connection_send_text (client->ws, bad[i]);
    g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
    g_assert_cmpuint (client->close_code, ==, 1011);
    g_assert_cmpuint (client->messages->len, ==, 0);
    client_free (client);
  }
  stt_test_server_free (server);
}

/* The shared faults and the reply delay apply to vosk as to every protocol. */
static void
test_vosk_faults (void)
{
  SttTestServer *server = server_new_for ("vosk");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 1.0, two_tones, 1);
  g_autoptr (GBytes) head = g_bytes_new_from_bytes (audio, 0, VOSK_CHUNK);
  Client *client;
  gint64 sent;

  /* The frame reaching 0.5 s (0.4-0.6) is not answered. */
  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE, 0.5, 4000, "Restart");
  client = vosk_connect (server, VOSK_CONFIG);
  send_audio (client, audio, VOSK_CHUNK);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 4000);
  g_assert_cmpstr (client->close_reason, ==, "Restart");
  g_assert_cmpuint (client->messages->len, ==, 2);
  client_free (client);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 0.5, 0, NULL);
  client = vosk_connect (server, VOSK_CONFIG);
  send_audio (client, audio, VOSK_CHUNK);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 0);
  g_assert_cmpuint (client->messages->len, ==, 2);
  client_free (client);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_STALL, 0.5, 0, NULL);
  client = vosk_connect (server, VOSK_CONFIG);
  send_audio (client, audio, VOSK_CHUNK);
  spin (1000);
  g_assert_cmpuint (client->messages->len, ==, 2);
  g_assert_false (client->closed);
  soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_assert_true (wait_until (is_closed, client, 0, 7000));
  client_free (client);

  stt_test_server_set_reply_delay (server, 300);
  client = vosk_connect (server, VOSK_CONFIG);
  sent = g_get_monotonic_time ();
  vosk_send_audio (client, head, VOSK_CHUNK);
  g_assert_cmpint (client->first_message_time - sent, >=, 300 * 1000);
  client_free (client);

  g_assert_true (stt_test_server_wait_connections (server, 4, TRUE, WAIT_MS));
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

/* --- CLOSE_AT_END, for each protocol ------------------------------------------------- */

#define SONIOX_START "{\"api_key\":\"test-key\",\"model\":\"stt-rt-v3\"," \
    "\"audio_format\":\"pcm_s16le\",\"sample_rate\":16000,\"num_channels\":1}"
#define END_REASON "End not processed"
#define ELEVENLABS_QUERY "model_id=scribe_v2_realtime&audio_format=pcm_16000" \
    "&commit_strategy=vad&vad_silence_threshold_secs=0.3&token=test-key"
#define SPEECHMATICS_START "{\"message\":\"StartRecognition\",\"audio_format\":" \
    "{\"type\":\"raw\",\"encoding\":\"pcm_s16le\",\"sample_rate\":16000}," \
    "\"transcription_config\":{\"language\":\"en\",\"conversation_config\":" \
    "{\"end_of_utterance_silence_trigger\":0.3}}}"
#define ELEVENLABS_CHUNK "{\"message_type\":\"input_audio_chunk\",\"audio_base_64\":" \
    "\"%s\",\"commit\":%s,\"sample_rate\":16000}"

/* How a protocol's stream is started and ended. */
typedef struct
{
  const gchar *protocol;
  const gchar *query;           /* NULL: none */
  const gchar *auth;            /* Authorization, or NULL */
  const gchar *start;           /* a first text message, or NULL */
  const gchar *end;             /* the end-of-stream message (text) */
  const gchar *flushed;         /* text only the end message's answers contain */
  gushort code;                 /* for the fault: libsoup's codes and a raw one */
  gboolean base64;              /* audio in ELEVENLABS_CHUNK text messages */
  gboolean stays_open;          /* the server does not close after the end message */
  gboolean gladia_setup;        /* the query comes from POST /v2/live */
} EndCase;

static const EndCase end_cases[] = {
  {"deepgram", QUERY, "Token test-key", NULL, "{\"type\":\"CloseStream\"}",
      "\"type\":\"Metadata\"", 1011},
  {"assemblyai", "sample_rate=16000", "test-key", NULL, "{\"type\":\"Terminate\"}",
      "\"type\":\"Termination\"", 4000},
  {"soniox", NULL, NULL, SONIOX_START, "", "\"finished\":true", 1012},
  {"vosk", NULL, NULL, VOSK_CONFIG, VOSK_EOF, "\"text\" : \"w700\"", 1011},
  /* No end message: the SDK ends with an empty chunk that commits (the VAD commits w400
   * before), and the session stays open. */
  {"elevenlabs", ELEVENLABS_QUERY, NULL, NULL, NULL, "\"text\":\"w700\"", 4001, TRUE,
      TRUE},
  {"gladia", NULL, NULL, NULL, "{\"type\":\"stop_recording\"}", "\"text\":\"w700\"", 4400,
      FALSE, FALSE, TRUE},
  /* The end of utterance (0.3 s of silence) makes w400 final; after EndOfTranscript the
   * client closes, not the server. 9 frames of 100 ms. */
  {"speechmatics", NULL, "Bearer test-key", SPEECHMATICS_START,
      "{\"message\":\"EndOfStream\",\"last_seq_no\":9}", "EndOfTranscript", 4013, FALSE,
      TRUE},
};

/* w400 ends a segment for every protocol within the 0.9 s sent (the longest endpoint is
 * vosk's 500 ms); w700 is still open, only the end message's flush makes it final. */
static const SttTestTone end_tones[] = {
  {440.0, 0.1, 0.2, 0.5},
  {700.0, 0.75, 0.85, 0.5},
};

/* The finals' text of one message, appended to @s (soniox tokens carry their spaces). */
static void
append_finals (GString * s, const gchar * protocol, JsonObject * o)
{
  const gchar *type = json_object_get_string_member_with_default (o, "type", "");
  const gchar *text = NULL;
  JsonArray *tokens;
  guint i;

  if (g_str_equal (protocol, "speechmatics")) {
    JsonArray *results;

    if (!g_str_equal (json_object_get_string_member_with_default (o, "message", ""),
            "AddTranscript"))
      return;
    /* The words, without the capitals and full stops of the service's formatting. */
    results = json_object_get_array_member (o, "results");
    for (i = 0; i < json_array_get_length (results); i++) {
      JsonObject *r = json_array_get_object_element (results, i);
      JsonObject *alt = json_array_get_object_element (json_object_get_array_member (r,
              "alternatives"), 0);
      g_autofree gchar *word = g_ascii_strdown (json_object_get_string_member (alt,
              "content"), -1);

      if (g_str_equal (json_object_get_string_member (r, "type"), "word"))
        g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", word);
    }
    return;
  }
  if (g_str_equal (protocol, "deepgram") && g_str_equal (type, "Results")
      && json_object_get_boolean_member (o, "is_final"))
    text = json_object_get_string_member (results_alternative (o), "transcript");
  else if (g_str_equal (protocol, "assemblyai") && g_str_equal (type, "Turn")
      && json_object_get_boolean_member (o, "end_of_turn"))
    text = json_object_get_string_member (o, "transcript");
  else if (g_str_equal (protocol, "vosk"))
    text = json_object_get_string_member_with_default (o, "text", NULL);
  else if (g_str_equal (protocol, "elevenlabs")
      && g_str_equal (json_object_get_string_member (o, "message_type"),
          "committed_transcript"))
    text = json_object_get_string_member (o, "text");
  else if (g_str_equal (protocol, "gladia") && g_str_equal (type, "transcript")
      && json_object_get_boolean_member (json_object_get_object_member (o, "data"),
          "is_final"))
    text = json_object_get_string_member (json_object_get_object_member
        (json_object_get_object_member (o, "data"), "utterance"), "text");

  if (text != NULL && *text != '\0')
    g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", text);

  if (!g_str_equal (protocol, "soniox") || !json_object_has_member (o, "tokens"))
    return;
  tokens = json_object_get_array_member (o, "tokens");
  for (i = 0; i < json_array_get_length (tokens); i++) {
    JsonObject *token = json_array_get_object_element (tokens, i);

    text = json_object_get_string_member (token, "text");
    if (json_object_get_boolean_member (token, "is_final") && text[0] != '<')
      g_string_append (s, text);
  }
}

static gchar *
final_transcript (Client * client, const gchar * protocol)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < client->messages->len; i++)
    append_finals (s, protocol, message_object (client, i));
  return g_string_free (s, FALSE);
}

static gboolean
client_received (Client * client, const gchar * needle)
{
  guint i;

  for (i = 0; i < client->texts->len; i++)
    if (strstr (g_ptr_array_index (client->texts, i), needle) != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
has_awaited (Client * client, guint n)
{
  return client_received (client, client->awaited);
}

/* --- Speechmatics ------------------------------------------------------------------- */

#define SM_START_FMT "{\"message\":\"StartRecognition\",\"audio_format\":{\"type\":\"raw\"," \
    "\"encoding\":\"%s\",\"sample_rate\":16000},\"transcription_config\":{\"language\":" \
    "\"%s\",\"max_delay\":%s,\"enable_partials\":true%s}%s}"

static gchar *
sm_start (const gchar * encoding, const gchar * language, const gchar * max_delay,
    const gchar * config_extra, const gchar * root_extra)
{
  return g_strdup_printf (SM_START_FMT, encoding, language, max_delay, config_extra,
      root_extra);
}

static const gchar *
sm_name (Client * client, guint i)
{
  return json_object_get_string_member_with_default (message_object (client, i), "message",
      "");
}

/* The index of the @nth (0-based) message named @name, or -1. */
static gint
sm_find (Client * client, const gchar * name, guint nth)
{
  guint i;

  for (i = 0; i < client->messages->len; i++)
    if (g_str_equal (sm_name (client, i), name) && nth-- == 0)
      return (gint) i;
  return -1;
}

/* @first (then @audio frames, then @then, when not NULL) is refused: an Error of @type,
 * then the close @code with the type as its payload. */
static void
check_sm_refused (SttTestServer * server, const gchar * first, GBytes * audio,
    const gchar * then, const gchar * type, gushort code)
{
  Client *client = client_connect_full (server, NULL, "Bearer test-key", NULL);
  gint error;

  g_assert_nonnull (client->ws);
  if (first)
    soup_websocket_connection_send_text (client->ws, first);
  if (audio)
    send_audio (client, audio, RATE / 10 * 2);
  if (then)
    soup_websocket_connection_send_text (client->ws, then);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  error = sm_find (client, "Error", 0);
  g_assert_cmpint (error, >=, 0);
  g_assert_cmpstr (json_object_get_string_member (message_object (client, error), "type"),
      ==, type);
  g_assert_cmpuint (client->close_code, ==, code);
  g_assert_cmpstr (client->close_reason, ==, type);
  client_free (client);
}

/* The handshake (GET, Bearer key or jwt query) and what StartRecognition must be. */
static void
test_speechmatics_refusals (void)
{
  SttTestServer *server = server_new_for ("speechmatics");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 0.5, two_tones, 1);
  g_autofree gchar *good = sm_start ("pcm_s16le", "en", "1.0", "", "");
  g_autofree gchar *region = sm_start ("pcm_s16le", "en-US", "1.0", "", "");
  g_autofree gchar *slow = sm_start ("pcm_s16le", "en", "5", "", "");
  g_autofree gchar *unknown = sm_start ("pcm_s16le", "en", "1.0", ",\"speed\":2", "");
  g_autofree gchar *nested = sm_start ("pcm_s16le", "en", "1.0",
      ",\"conversation_config\":{\"end_of_utterance_silence_trigger\":3}", "");
  g_autofree gchar *f32 = sm_start ("pcm_f32le", "en", "1.0", "", "");
  g_autofree gchar *root = sm_start ("pcm_s16le", "en", "1.0", "", ",\"model\":\"x\"");
  g_autofree gchar *translate = sm_start ("pcm_s16le", "en", "1.0", "",
      ",\"translation_config\":{\"target_languages\":[\"de\"]}");
  Client *client;

  client = client_connect_full (server, NULL, "Bearer wrong", NULL);
  g_assert_null (client->ws);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 401);
  client_free (client);
  client = client_connect_full (server, NULL, NULL, NULL);
  g_assert_null (client->ws);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 401);
  client_free (client);
  /* A temporary key in the query, as the JS SDK sends it. */
  client = client_connect_full (server, "jwt=test-key", NULL, NULL);
  g_assert_nonnull (client->ws);
  /* Info on connect, before anything is sent. */
  g_assert_true (wait_until (has_messages, client, 1, WAIT_MS));
  g_assert_cmpstr (sm_name (client, 0), ==, "Info");
  client_free (client);

  check_sm_refused (server, NULL, audio, NULL, "protocol_error", 1003);
  check_sm_refused (server, "{\"message\":\"EndOfStream\",\"last_seq_no\":0}", NULL, NULL,
      "protocol_error", 1003);
  check_sm_refused (server, "not json", NULL, NULL, "invalid_message", 1003);
  check_sm_refused (server, region, NULL, NULL, "invalid_language", 4004);
  check_sm_refused (server, slow, NULL, NULL, "invalid_config", 1003);
  check_sm_refused (server, unknown, NULL, NULL, "invalid_config", 1003);
  check_sm_refused (server, nested, NULL, NULL, "invalid_config", 1003);
  check_sm_refused (server, translate, NULL, NULL, "invalid_config", 1003);
  check_sm_refused (server, f32, NULL, NULL, "invalid_audio_type", 1003);
  check_sm_refused (server, root, NULL, NULL, "invalid_message", 1003);
  check_sm_refused (server, good, NULL, good, "protocol_error", 1003);
  check_sm_refused (server, good, NULL, "{\"message\":\"KeepAlive\"}", "invalid_message",
      1003);
  /* 5 frames received: 6 is more than was sent. */
  check_sm_refused (server, good, audio, "{\"message\":\"EndOfStream\",\"last_seq_no\":6}",
      "protocol_error", 1003);
  check_sm_refused (server, good, audio, "{\"message\":\"EndOfStream\"}",
      "invalid_message", 1003);
  stt_test_server_free (server);
}

/* A session: RecognitionStarted, every frame acknowledged in order, incremental finals
 * (max_delay 0.7 s), partials of what is not final, the full stop attached to the last
 * word of a sentence, final windows that follow each other, EndOfTranscript last; audio
 * after EndOfStream is not taken. */
static void
test_speechmatics_session (void)
{
  SttTestServer *server = server_new_for ("speechmatics");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.5, two_tones, 2);
  g_autofree gchar *start = sm_start ("pcm_s16le", "en", "0.7", "", "");
  GString *words = g_string_new (NULL);
  Client *client = client_connect_full (server, NULL, "Bearer test-key", NULL);
  gint started, w400_final = -1, ack19, last_final = -1;
  gdouble window_end = 0;
  guint i, seq = 0, partials = 0;

  soup_websocket_connection_send_text (client->ws, start);
  send_audio (client, audio, RATE / 10 * 2);
  soup_websocket_connection_send_text (client->ws,
      "{\"message\":\"EndOfStream\",\"last_seq_no\":25}");
  client->awaited = "EndOfTranscript";
  g_assert_true (wait_until (has_awaited, client, 0, WAIT_MS));
  /* Audio after the end: a warning, no acknowledgement, no error. */
  send_audio (client, audio, RATE / 10 * 2);
  client->awaited = "add_audio_after_eos";
  g_assert_true (wait_until (has_awaited, client, 0, WAIT_MS));
  spin (100);
  g_assert_false (client->closed);

  started = sm_find (client, "RecognitionStarted", 0);
  g_assert_cmpint (started, >, 0);
  g_assert_nonnull (json_object_get_string_member (message_object (client, started),
          "id"));
  ack19 = sm_find (client, "AudioAdded", 18);
  for (i = 0; i < client->messages->len; i++) {
    JsonObject *o = message_object (client, i);
    const gchar *name = sm_name (client, i);

    if (g_str_equal (name, "AudioAdded")) {
      g_assert_cmpint (json_object_get_int_member (o, "seq_no"), ==, ++seq);
    } else if (g_str_equal (name, "AddPartialTranscript")) {
      partials++;
    } else if (g_str_equal (name, "AddTranscript")) {
      JsonObject *meta = json_object_get_object_member (o, "metadata");
      JsonArray *results = json_object_get_array_member (o, "results");
      guint k;

      last_final = (gint) i;
      g_assert_cmpfloat_with_epsilon (json_object_get_double_member (meta, "start_time"),
          window_end, 1e-6);
      window_end = json_object_get_double_member (meta, "end_time");
      for (k = 0; k < json_array_get_length (results); k++) {
        JsonObject *r = json_array_get_object_element (results, k);
        JsonObject *alt = json_array_get_object_element (json_object_get_array_member (r,
                "alternatives"), 0);
        const gchar *content = json_object_get_string_member (alt, "content");

        if (g_str_equal (json_object_get_string_member (r, "type"), "punctuation")) {
          g_assert_cmpstr (json_object_get_string_member (r, "attaches_to"), ==,
              "previous");
          g_assert_true (json_object_get_boolean_member (r, "is_eos"));
          g_string_append (words, content);
          continue;
        }
        if (g_str_equal (content, "W400")) {
          w400_final = (gint) i;
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (r, "start_time"),
              0.5, 0.0101);
        }
        g_string_append_printf (words, "%s%s", words->len ? " " : "", content);
      }
    }
  }
  g_assert_cmpuint (seq, ==, 25);
  g_assert_cmpuint (partials, >, 0);
  g_assert_cmpstr (words->str, ==, "W400 w700.");
  /* w400 (ends at 0.9 s) is final 0.7 s later, on the 250 ms grid: with the frame that
   * reached 1.75 s (the 18th), before the next one. */
  g_assert_cmpint (w400_final, >=, 0);
  g_assert_cmpint (w400_final, <, ack19);
  g_assert_cmpint (sm_find (client, "EndOfTranscript", 0), >, last_final);
  g_assert_cmpint (sm_find (client, "AudioAdded", 25), ==, -1);
  g_string_free (words, TRUE);
  client_free (client);
  stt_test_server_free (server);
}

/* The message @c ends with; free with g_free. */
static gchar *
end_message (const EndCase * c)
{
  return c->base64 ? g_strdup_printf (ELEVENLABS_CHUNK, "", "true") : g_strdup (c->end);
}

/* ElevenLabs: base64 in text messages, @chunk bytes each. */
static void
send_audio_base64 (Client * client, GBytes * audio, gsize chunk)
{
  gsize size, off;
  const guint8 *data = g_bytes_get_data (audio, &size);

  for (off = 0; off < size; off += chunk) {
    g_autofree gchar *b64 = g_base64_encode (data + off, MIN (chunk, size - off));
    g_autofree gchar *text = g_strdup_printf (ELEVENLABS_CHUNK, b64, "false");

    soup_websocket_connection_send_text (client->ws, text);
  }
}

/* Gladia's set-up step (POST /v2/live): the query of the WebSocket URL it returns. The
 * w700 segment must still be open at the end: endpointing 0.3 s rather than 0.05. */
static gchar *
gladia_session_query (SttTestServer * server)
{
  static const gchar config[] = "{\"encoding\":\"wav/pcm\",\"bit_depth\":16,"
      "\"sample_rate\":16000,\"channels\":1,\"endpointing\":0.3}";
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *base = stt_test_server_get_url (server);
  g_autofree gchar *url = g_strdup_printf ("http%s", base + 2);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GBytes) request = g_bytes_new_static (config, strlen (config));
  g_autoptr (GBytes) body = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) error = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "x-gladia-key",
      "test-key");
  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 201);
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
          g_bytes_get_size (body), &error));
  uri = g_uri_parse (json_object_get_string_member (json_node_get_object
          (json_parser_get_root (parser)), "url"), G_URI_FLAGS_ENCODED, &error);
  g_assert_no_error (error);
  return g_strdup (g_uri_get_query (uri));
}

/* Starts a stream, sends @audio in 100 ms frames (AssemblyAI's limits) and ends it. */
static Client *
run_to_end (SttTestServer * server, const EndCase * c, GBytes * audio)
{
  g_autofree gchar *query = c->gladia_setup ? gladia_session_query (server) :
      g_strdup (c->query);
  Client *client = client_connect_full (server, query, c->auth, NULL);
  g_autofree gchar *end = end_message (c);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  if (c->start != NULL)
    soup_websocket_connection_send_text (client->ws, c->start);
  if (c->base64)
    send_audio_base64 (client, audio, RATE / 10 * 2);
  else
    send_audio (client, audio, RATE / 10 * 2);
  soup_websocket_connection_send_text (client->ws, end);
  return client;
}

static void
check_close_at_end (const EndCase * c)
{
  SttTestServer *server = server_new_for (c->protocol);
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 0.9, end_tones, 2);
  g_autoptr (GBytes) received = NULL;
  g_auto (GStrv) texts = NULL;
  g_autofree gchar *cut = NULL, *whole = NULL, *end = end_message (c);
  Client *client;

  g_test_message ("%s", c->protocol);
  /* after_seconds is ignored: the audio does not fire it, the end message does. */
  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE_AT_END, 0.1, c->code,
      END_REASON);
  client = run_to_end (server, c, audio);
  g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, c->code);
  g_assert_cmpstr (client->close_reason, ==, END_REASON);
  cut = final_transcript (client, c->protocol);
  g_assert_cmpstr (cut, ==, "w400");
  g_assert_false (client_received (client, c->flushed));
  /* Everything sent was received, the end message included. */
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_true (g_bytes_equal (received, audio));
  texts = stt_test_server_get_text_messages (server, 0);
  g_assert_cmpstr (texts[g_strv_length (texts) - 1], ==, end);
  client_free (client);

  /* One-shot; without it the same stream ends with the flush's final and a normal close. */
  client = run_to_end (server, c, audio);
  if (c->stays_open) {
    client->awaited = c->flushed;
    g_assert_true (wait_until (has_awaited, client, 0, WAIT_MS));
  } else {
    g_assert_true (wait_until (is_closed, client, 0, WAIT_MS));
    g_assert_cmpuint (client->close_code, ==, 1000);
  }
  whole = final_transcript (client, c->protocol);
  g_assert_cmpstr (whole, ==, "w400 w700");
  g_assert_true (client_received (client, c->flushed));
  client_free (client);
  stt_test_server_free (server);
}

static void
test_fault_close_at_end (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (end_cases); i++)
    check_close_at_end (&end_cases[i]);
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
  g_assert_true (g_strv_contains (stt_test_server_list_protocols (), "vosk"));
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
  g_test_add_func ("/vosk/results", test_vosk_results);
  g_test_add_func ("/vosk/reset-and-eof", test_vosk_reset_and_eof);
  g_test_add_func ("/vosk/merged-finals", test_vosk_merged_finals);
  g_test_add_func ("/vosk/rate-and-words", test_vosk_rate_and_words);
  g_test_add_func ("/vosk/text", test_vosk_text);
  g_test_add_func ("/vosk/faults", test_vosk_faults);
  g_test_add_func ("/speechmatics/refusals", test_speechmatics_refusals);
  g_test_add_func ("/speechmatics/session", test_speechmatics_session);
  g_test_add_func ("/server/fault-close", test_fault_close);
  g_test_add_func ("/server/fault-drop", test_fault_drop);
  g_test_add_func ("/server/fault-stall", test_fault_stall);
  g_test_add_func ("/server/fault-close-at-end", test_fault_close_at_end);
  g_test_add_func ("/server/send-text-and-delay", test_send_text_and_delay);
  g_test_add_func ("/server/idle-timeout", test_idle_timeout);
  g_test_add_func ("/server/free-with-clients", test_free_with_clients);
  g_test_add_func ("/server/unknown-protocol", test_unknown_protocol);
  return g_test_run ();
}
