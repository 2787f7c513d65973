/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the test servers themselves, with a libsoup WebSocket client: the Deepgram,
 * vosk, Speechmatics and AWS protocols as the servers behave (AWS's SigV4 against AWS's
 * published test vectors), the handshake checks, the faults (CLOSE_AT_END for several
 * protocols) and the accessors. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "stt-test-aws.h"
#include "stt-test-client.h"
#include "stt-test-server.h"
#include "stt-test-tones.h"

#define RATE 16000
#define WAIT_MS 5000
#define QUERY "model=nova-3&encoding=linear16&sample_rate=16000&channels=1"

static const SttTestTone two_tones[] = {
  {440.0, 0.5, 0.9, 0.5},
  {700.0, 1.0, 1.3, 0.5},
};

/* A client of @server's URL with @query (NULL: none), see stt_test_client_new(). */
static SttTestClient *
client_connect_full (SttTestServer * server, const gchar * query, const gchar * auth,
    const gchar * const *protocols)
{
  g_autofree gchar *base = stt_test_server_get_url (server);
  g_autofree gchar *url = query ? g_strdup_printf ("%s?%s", base, query) : g_strdup (base);

  return stt_test_client_new (url, auth, protocols);
}

static SttTestClient *
client_connect (SttTestServer * server)
{
  SttTestClient *client = client_connect_full (server, QUERY, "Token test-key", NULL);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  return client;
}

static void
send_audio (SttTestClient * client, GBytes * audio, gsize chunk)
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
message_object (SttTestClient * client, guint i)
{
  return json_node_get_object (g_ptr_array_index (client->messages, i));
}

static const gchar *
message_type (SttTestClient * client, guint i)
{
  return json_object_get_string_member (message_object (client, i), "type");
}

/* The index of the @nth (0-based) message of @type, or -1. */
static gint
find_message (SttTestClient * client, const gchar * type, guint nth)
{
  guint i;

  for (i = 0; i < client->messages->len; i++)
    if (g_str_equal (message_type (client, i), type) && nth-- == 0)
      return (gint) i;
  return -1;
}

static guint
count_messages (SttTestClient * client, const gchar * type)
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
  SttTestClient *client = client_connect_full (server, QUERY
      "&interim_results=true&utterance_end_ms=1000&vad_events=true", "Token test-key",
      NULL);
  JsonObject *final, *alternative, *metadata;
  gint i;

  g_assert_no_error (client->error);
  send_audio (client, audio, 3200);
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"CloseStream\"}");
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
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

  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* Finalize flushes the word in progress; no interims without interim_results=true. */
static void
test_finalize (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 0.7, two_tones, 1);
  SttTestClient *client = client_connect (server);
  JsonObject *results;

  send_audio (client, audio, 1601);     /* odd sizes split samples across frames */
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"KeepAlive\"}");
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"Finalize\"}");
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, 1, WAIT_MS));
  stt_test_client_spin (100);
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

  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* An empty binary frame ends the stream like CloseStream (the deprecated way). */
static void
test_empty_frame (void)
{
  SttTestServer *server = server_new ();
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 0.8, two_tones, 1);
  SttTestClient *client = client_connect (server);

  send_audio (client, audio, 3200);
  soup_websocket_connection_send_binary (client->ws, NULL, 0);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpstr (message_type (client, client->messages->len - 1), ==, "Metadata");
  g_assert_cmpstr (json_object_get_string_member (results_alternative (message_object
              (client, client->messages->len - 2)), "transcript"), ==, "w400");

  stt_test_client_free (client);
  stt_test_server_free (server);
}

static void
test_bad_text (void)
{
  static const gchar *const texts[] = { "hello", "{\"type\":\"Nope\"}", "[1]" };
  SttTestServer *server = server_new ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (texts); i++) {
    SttTestClient *client = client_connect (server);

    soup_websocket_connection_send_text (client->ws, texts[i]);
    g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
    g_assert_cmpuint (client->close_code, ==, 1011);
    g_assert_nonnull (client->close_reason);
    stt_test_client_free (client);
  }
  stt_test_server_free (server);
}

/* --- handshake ----------------------------------------------------------------------- */

static void
assert_refused (SttTestServer * server, const gchar * query, const gchar * auth,
    guint status)
{
  SttTestClient *client = client_connect_full (server, query, auth, NULL);
  SoupMessageHeaders *headers = soup_message_get_response_headers (client->msg);

  g_assert_null (client->ws);
  g_assert_error (client->error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_ERROR_NOT_WEBSOCKET);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, status);
  g_assert_nonnull (soup_message_headers_get_one (headers, "dg-request-id"));
  g_assert_nonnull (soup_message_headers_get_one (headers, "dg-error"));
  stt_test_client_free (client);
}

static void
assert_accepted (SttTestServer * server, const gchar * auth,
    const gchar * const *protocols)
{
  SttTestClient *client = client_connect_full (server, QUERY, auth, protocols);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  stt_test_client_free (client);
}

static void
test_handshake (void)
{
  static const gchar *const subprotocols[] = { "token", "test-key", NULL };
  SttTestServer *server = server_new ();
  SttTestClient *client;
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
  stt_test_client_free (client);
  assert_refused (server, QUERY, "Token test-key", 429);
  stt_test_server_fail_handshakes (server, 503, 1, NULL);
  client = client_connect_full (server, QUERY, "Token test-key", NULL);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 503);
  g_assert_null (soup_message_headers_get_one (soup_message_get_response_headers
          (client->msg), "Retry-After"));
  stt_test_client_free (client);

  stt_test_server_set_api_key (server, "other");
  assert_refused (server, QUERY, "Token test-key", 401);
  client = client_connect_full (server, QUERY, "Token wrong", NULL);
  body = soup_message_headers_get_one (soup_message_get_response_headers (client->msg),
      "Content-Type");
  g_assert_cmpstr (body, ==, "application/json");
  stt_test_client_free (client);
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
static SttTestClient *
vosk_connect (SttTestServer * server, const gchar * config)
{
  SttTestClient *client = client_connect_full (server, NULL, NULL, NULL);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  if (config != NULL)
    soup_websocket_connection_send_text (client->ws, config);
  return client;
}

/* Sends @audio in @chunk-byte frames and waits for the one answer to each. */
static void
vosk_send_audio (SttTestClient * client, GBytes * audio, gsize chunk)
{
  guint n = client->messages->len + (g_bytes_get_size (audio) + chunk - 1) / chunk;

  send_audio (client, audio, chunk);
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, n, WAIT_MS));
}

/* Sends @text and waits for its one answer. */
static void
vosk_send_text (SttTestClient * client, const gchar * text)
{
  guint n = client->messages->len + 1;

  soup_websocket_connection_send_text (client->ws, text);
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, n, WAIT_MS));
}

static const gchar *
member_string (SttTestClient * client, guint i, const gchar * name)
{
  return json_object_get_string_member_with_default (message_object (client, i), name,
      NULL);
}

static void
assert_vosk_partial (SttTestClient * client, guint i, const gchar * text)
{
  g_assert_cmpstr (member_string (client, i, "partial"), ==, text);
  g_assert_false (json_object_has_member (message_object (client, i), "text"));
}

/* Answer @i is a final with @text and @n_words words in "result". */
static void
assert_vosk_final (SttTestClient * client, guint i, const gchar * text, guint n_words)
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
assert_vosk_word (SttTestClient * client, guint i, guint w, const gchar * text,
    gdouble start, gdouble end)
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
  SttTestClient *client = vosk_connect (server, VOSK_CONFIG);
  guint i;

  vosk_send_audio (client, audio, VOSK_CHUNK);
  stt_test_client_spin (100);
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
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
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

  stt_test_client_free (client);
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
  SttTestClient *client = vosk_connect (server, VOSK_CONFIG);

  vosk_send_audio (client, audio1, VOSK_CHUNK);
  assert_vosk_partial (client, 3, "w400");
  vosk_send_text (client, VOSK_RESET);
  assert_vosk_final (client, 4, "w400", 1);
  assert_vosk_word (client, 4, 0, "w400", 0.5, 0.8);
  /* Nothing heard since: vosk-api's fixed empty result. */
  vosk_send_text (client, VOSK_RESET);
  g_assert_cmpstr (g_ptr_array_index (client->texts, 5), ==, "{\"text\": \"\"}");
  stt_test_client_spin (50);
  g_assert_false (client->closed);

  vosk_send_audio (client, audio2, VOSK_CHUNK);
  assert_vosk_partial (client, 6, "");
  assert_vosk_partial (client, 7, "w700");
  assert_vosk_partial (client, 9, "w700");
  soup_websocket_connection_send_text (client->ws, VOSK_EOF);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpuint (client->messages->len, ==, 11);
  assert_vosk_final (client, 10, "w700", 1);
  assert_vosk_word (client, 10, 0, "w700", 1.0, 1.3);

  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* Two segments end within one frame: one answer, their words merged in order. */
static void
test_vosk_merged_finals (void)
{
  const SttTestTone tones[] = { {440.0, 0.2, 0.4, 0.5}, {700.0, 1.3, 1.5, 0.5} };
  SttTestServer *server = server_new_for ("vosk");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.2, tones, 2);
  SttTestClient *client = vosk_connect (server, VOSK_CONFIG);

  vosk_send_audio (client, audio, g_bytes_get_size (audio));
  stt_test_client_spin (50);
  g_assert_cmpuint (client->messages->len, ==, 1);
  assert_vosk_final (client, 0, "w400 w700", 2);
  assert_vosk_word (client, 0, 0, "w400", 0.2, 0.4);
  assert_vosk_word (client, 0, 1, "w700", 1.3, 1.5);
  stt_test_client_free (client);
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
  SttTestClient *client = vosk_connect (server, NULL);

  vosk_send_audio (client, head, 3200);
  soup_websocket_connection_send_text (client->ws, VOSK_CONFIG);
  vosk_send_audio (client, tail, 3200);
  g_assert_cmpuint (client->messages->len, ==, 6);
  /* The frame of 0.8-1.0 s: 500 ms after the end of the word. */
  assert_vosk_final (client, 4, "w400", 1);
  assert_vosk_word (client, 4, 0, "w400", 0.2, 0.5);
  stt_test_client_free (client);

  client = vosk_connect (server, "{\"config\" : {\"sample_rate\" : 8000, \"words\" : 0}}");
  vosk_send_audio (client, audio, 3200);
  assert_vosk_final (client, 4, "w400", 0);
  stt_test_client_free (client);
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
  SttTestClient *client =
      vosk_connect (server, "{\"config\" : {\"sample_rate\" : \"16000\"}}");
  guint i;

  soup_websocket_connection_send_text (client->ws, VOSK_EOF);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpuint (client->messages->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (client->texts, 0), ==, "{\"text\": \"\"}");
  stt_test_client_free (client);

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    client = vosk_connect (server, NULL);
    soup_websocket_connection_send_text (client->ws, bad[i]);
    g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
    g_assert_cmpuint (client->close_code, ==, 1011);
    g_assert_cmpuint (client->messages->len, ==, 0);
    stt_test_client_free (client);
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
  SttTestClient *client;
  gint64 sent;

  /* The frame reaching 0.5 s (0.4-0.6) is not answered. */
  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE, 0.5, 4000, "Restart");
  client = vosk_connect (server, VOSK_CONFIG);
  send_audio (client, audio, VOSK_CHUNK);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 4000);
  g_assert_cmpstr (client->close_reason, ==, "Restart");
  g_assert_cmpuint (client->messages->len, ==, 2);
  stt_test_client_free (client);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 0.5, 0, NULL);
  client = vosk_connect (server, VOSK_CONFIG);
  send_audio (client, audio, VOSK_CHUNK);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 0);
  g_assert_cmpuint (client->messages->len, ==, 2);
  stt_test_client_free (client);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_STALL, 0.5, 0, NULL);
  client = vosk_connect (server, VOSK_CONFIG);
  send_audio (client, audio, VOSK_CHUNK);
  stt_test_client_spin (1000);
  g_assert_cmpuint (client->messages->len, ==, 2);
  g_assert_false (client->closed);
  soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, 7000));
  stt_test_client_free (client);

  stt_test_server_set_reply_delay (server, 300);
  client = vosk_connect (server, VOSK_CONFIG);
  sent = g_get_monotonic_time ();
  vosk_send_audio (client, head, VOSK_CHUNK);
  g_assert_cmpint (client->first_message_time - sent, >=, 300 * 1000);
  stt_test_client_free (client);

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
  SttTestClient *client = client_connect (server);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE, 0.5, code, "Service restart");
  send_audio (client, audio, 1600);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, code);
  g_assert_cmpstr (client->close_reason, ==, "Service restart");
  /* Closed at the frame that reached 0.5 s: no results yet (the first word is at 0.5). */
  g_assert_cmpuint (count_messages (client, "Results"), ==, 0);
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_cmpuint (g_bytes_get_size (received), ==, RATE * 2 / 2);

  /* One-shot: the next connection is not affected. */
  stt_test_client_free (client);
  client = client_connect (server);
  send_audio (client, audio, 1600);
  soup_websocket_connection_send_text (client->ws, "{\"type\":\"CloseStream\"}");
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  stt_test_client_free (client);
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
  SttTestClient *client = client_connect (server);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_DROP, 1.0, 0, NULL);
  send_audio (client, audio, 1600);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  /* No close frame was received. */
  g_assert_cmpuint (client->close_code, ==, 0);
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  g_assert_cmpuint (stt_test_server_get_client_close_code (server, 0), ==, 0);
  stt_test_client_free (client);
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
  SttTestClient *client = client_connect_full (server, QUERY "&interim_results=true",
      "Token test-key", NULL);
  guint n_pongs, n_messages;

  soup_websocket_connection_set_keepalive_interval (client->ws, 1);
  g_assert_true (stt_test_client_wait (stt_test_client_has_pongs, client, 1, WAIT_MS));

  stt_test_server_inject_fault (server, STT_TEST_FAULT_STALL, 0.6, 0, NULL);
  send_audio (client, audio, 1600);
  stt_test_client_spin (2500);
  n_pongs = client->n_pongs;
  n_messages = client->messages->len;
  g_assert_cmpuint (count_messages (client, "Results"), ==, 0);
  g_assert_false (client->closed);
  stt_test_client_spin (1500);
  g_assert_cmpuint (client->n_pongs, ==, n_pongs);
  g_assert_cmpuint (client->messages->len, ==, n_messages);
  g_assert_false (stt_test_server_wait_connections (server, 1, TRUE, 0));
  received = stt_test_server_get_audio (server, 0);
  g_assert_cmpuint (g_bytes_get_size (received), ==, (gsize) (0.6 * RATE * 2));

  /* The client gives up: the server notices and closes its side. */
  soup_websocket_connection_set_keepalive_interval (client->ws, 0);
  soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, 7000));
  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  stt_test_client_free (client);
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
final_transcript (SttTestClient * client, const gchar * protocol)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < client->messages->len; i++)
    append_finals (s, protocol, message_object (client, i));
  return g_string_free (s, FALSE);
}

static gboolean
client_received (SttTestClient * client, const gchar * needle)
{
  guint i;

  for (i = 0; i < client->texts->len; i++)
    if (strstr (g_ptr_array_index (client->texts, i), needle) != NULL)
      return TRUE;
  return FALSE;
}

static gboolean
has_awaited (SttTestClient * client, guint n)
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
sm_name (SttTestClient * client, guint i)
{
  return json_object_get_string_member_with_default (message_object (client, i), "message",
      "");
}

/* The index of the @nth (0-based) message named @name, or -1. */
static gint
sm_find (SttTestClient * client, const gchar * name, guint nth)
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
  SttTestClient *client = client_connect_full (server, NULL, "Bearer test-key", NULL);
  gint error;

  g_assert_nonnull (client->ws);
  if (first)
    soup_websocket_connection_send_text (client->ws, first);
  if (audio)
    send_audio (client, audio, RATE / 10 * 2);
  if (then)
    soup_websocket_connection_send_text (client->ws, then);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  error = sm_find (client, "Error", 0);
  g_assert_cmpint (error, >=, 0);
  g_assert_cmpstr (json_object_get_string_member (message_object (client, error), "type"),
      ==, type);
  g_assert_cmpuint (client->close_code, ==, code);
  g_assert_cmpstr (client->close_reason, ==, type);
  stt_test_client_free (client);
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
  SttTestClient *client;

  client = client_connect_full (server, NULL, "Bearer wrong", NULL);
  g_assert_null (client->ws);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 401);
  stt_test_client_free (client);
  client = client_connect_full (server, NULL, NULL, NULL);
  g_assert_null (client->ws);
  g_assert_cmpuint (soup_message_get_status (client->msg), ==, 401);
  stt_test_client_free (client);
  /* A temporary key in the query, as the JS SDK sends it. */
  client = client_connect_full (server, "jwt=test-key", NULL, NULL);
  g_assert_nonnull (client->ws);
  /* Info on connect, before anything is sent. */
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, 1, WAIT_MS));
  g_assert_cmpstr (sm_name (client, 0), ==, "Info");
  stt_test_client_free (client);

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
  SttTestClient *client = client_connect_full (server, NULL, "Bearer test-key", NULL);
  gint started, w400_final = -1, ack19, last_final = -1;
  gdouble window_end = 0;
  guint i, seq = 0, partials = 0;

  soup_websocket_connection_send_text (client->ws, start);
  send_audio (client, audio, RATE / 10 * 2);
  soup_websocket_connection_send_text (client->ws,
      "{\"message\":\"EndOfStream\",\"last_seq_no\":25}");
  client->awaited = "EndOfTranscript";
  g_assert_true (stt_test_client_wait (has_awaited, client, 0, WAIT_MS));
  /* Audio after the end: a warning, no acknowledgement, no error. */
  send_audio (client, audio, RATE / 10 * 2);
  client->awaited = "add_audio_after_eos";
  g_assert_true (stt_test_client_wait (has_awaited, client, 0, WAIT_MS));
  stt_test_client_spin (100);
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
  stt_test_client_free (client);
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
send_audio_base64 (SttTestClient * client, GBytes * audio, gsize chunk)
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
static SttTestClient *
run_to_end (SttTestServer * server, const EndCase * c, GBytes * audio)
{
  g_autofree gchar *query = c->gladia_setup ? gladia_session_query (server) :
      g_strdup (c->query);
  SttTestClient *client = client_connect_full (server, query, c->auth, NULL);
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
  SttTestClient *client;

  g_test_message ("%s", c->protocol);
  /* after_seconds is ignored: the audio does not fire it, the end message does. */
  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE_AT_END, 0.1, c->code,
      END_REASON);
  client = run_to_end (server, c, audio);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
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
  stt_test_client_free (client);

  /* One-shot; without it the same stream ends with the flush's final and a normal close. */
  client = run_to_end (server, c, audio);
  if (c->stays_open) {
    client->awaited = c->flushed;
    g_assert_true (stt_test_client_wait (has_awaited, client, 0, WAIT_MS));
  } else {
    g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
    g_assert_cmpuint (client->close_code, ==, 1000);
  }
  whole = final_transcript (client, c->protocol);
  g_assert_cmpstr (whole, ==, "w400 w700");
  g_assert_true (client_received (client, c->flushed));
  stt_test_client_free (client);
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
  SttTestClient *client = client_connect (server);
  gint64 sent;

  stt_test_server_set_reply_delay (server, 300);
  sent = g_get_monotonic_time ();
  stt_test_server_send_text (server, "{\"type\":\"Hello\",\"n\":1}");
  g_assert_true (stt_test_client_wait (stt_test_client_has_messages, client, 1, WAIT_MS));
  stt_test_client_spin (50);
  g_assert_cmpuint (client->messages->len, ==, 1);
  g_assert_cmpstr (message_type (client, 0), ==, "Hello");
  g_assert_cmpint (client->first_message_time - sent, >=, 300 * 1000);

  stt_test_client_free (client);
  stt_test_server_free (server);
}

static void
test_idle_timeout (void)
{
  SttTestServer *server = server_new ();
  SttTestClient *client;

  stt_test_server_set_idle_timeout (server, 300);
  client = client_connect (server);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1011);
  g_assert_nonnull (strstr (client->close_reason, "net0001"));
  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* Freeing the server closes open connections with 1001 and returns promptly. */
static void
test_free_with_clients (void)
{
  SttTestServer *server = server_new ();
  SttTestClient *client = client_connect (server);
  SttTestClient *other = client_connect (server);
  gint64 start;

  g_assert_true (stt_test_server_wait_connections (server, 2, FALSE, WAIT_MS));
  g_assert_cmpuint (stt_test_server_get_n_connections (server), ==, 2);
  /* The clients' context is not running: the server waits its grace time, then drops. */
  start = g_get_monotonic_time ();
  stt_test_server_free (server);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, other, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1001);
  stt_test_client_free (client);
  stt_test_client_free (other);
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

/* --- AWS Transcribe streaming --------------------------------------------------------- */

#define AWS_PARAMS "language-code=en-US&media-encoding=pcm&sample-rate=16000"
#define AWS_AKID "AKIDTEST"
#define AWS_REGION "us-west-2"
#define AWS_SDK_HOST "transcribestreaming.us-west-2.amazonaws.com:8443"
#define AWS_CHUNK (RATE / 10 * 2)
/* awslabs/aws-c-auth tests/aws-signing-test-suite/v4: the credentials and the time of
 * every case. */
#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_SCOPE "20150830/us-east-1/service/aws4_request"
#define SUITE_CREDENTIAL "X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice" \
    "%2Faws4_request"
#define SUITE_AUTH_SIGNED "X-Amz-Algorithm=AWS4-HMAC-SHA256&" SUITE_CREDENTIAL \
    "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600"
#define SUITE_AUTH_CANONICAL "X-Amz-Algorithm=AWS4-HMAC-SHA256&" SUITE_CREDENTIAL \
    "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600"

/* The query-signed (presigned) cases of the suite: the request's query as signed, the
 * canonical query, the hash in the string to sign, the signature. */
static const struct
{
  const gchar *name;
  const gchar *signed_query;
  const gchar *canonical_query;
  const gchar *request_hash;
  const gchar *signature;
} sigv4_cases[] = {
  {"get-vanilla",
        SUITE_AUTH_SIGNED,
        SUITE_AUTH_CANONICAL "&X-Amz-SignedHeaders=host",
        "bb7705b4aa3cb8e8f5e1e0b3d4c0b64030797a313c8ceee43e33117cc43eadc5",
      "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d"},
  {"get-vanilla-query-order-key-case",
        "Param2=value2&Param1=value1&" SUITE_AUTH_SIGNED,
        "Param1=value1&Param2=value2&" SUITE_AUTH_CANONICAL "&X-Amz-SignedHeaders=host",
        "b82878ecb2ab7ad194b9fe79b2946c2a36ee1627a219408089b2d774c1a0cedb",
      "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5"},
  {"get-vanilla-query-unreserved",
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&"
        SUITE_AUTH_SIGNED,
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz&"
        SUITE_AUTH_CANONICAL "&X-Amz-SignedHeaders=host",
        "c77f27ef2b499fbfee3f0b3c88bba7057b2b31ee9b62047078a5e0d6be91fd58",
      "8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf"},
  /* The request has the raw UTF-8 name; on the wire it is percent-encoded. */
  {"get-vanilla-utf8-query",
        "%E1%88%B4=bar&" SUITE_AUTH_SIGNED,
        "%E1%88%B4=bar&" SUITE_AUTH_CANONICAL "&X-Amz-SignedHeaders=host",
        "b2e8ae8e48ec880defebc6f6dc1d9fbc9f1856b33146f2943060ca71a50a7a77",
      "0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600"},
  {"get-vanilla-with-session-token",
        SUITE_AUTH_SIGNED "&X-Amz-Security-Token="
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
        SUITE_AUTH_CANONICAL "&X-Amz-Security-Token="
        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        "&X-Amz-SignedHeaders=host",
        "cb30434103085aa9e73780fc60dc9a9df818fd2a7b1de12a9f6f4d791f898761",
      "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c"},
};

/* SigV4 against AWS's published test suite (aws-c-auth's copy): canonical query,
 * canonical request, string to sign, signature, and the server's check of the presigned
 * request; the event signature against @smithy/signature-v4's signMessage. */
static void
test_aws_sigv4 (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_utc (2015, 8, 30, 12, 36, 0);
  g_autoptr (GDateTime) later = g_date_time_add_hours (now, 2);
  g_autoptr (GByteArray) date_header = g_byte_array_new ();
  g_autofree gchar *sts = NULL, *sig = NULL, *hexed = NULL, *amz = NULL;
  guint i;

  /* get-vanilla signed in the Authorization header: its canonical request as the suite
   * gives it, then the string to sign and the signature. */
  sts = stt_test_aws_request_string_to_sign ("20150830T123600Z", SUITE_SCOPE,
      "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
      "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_assert_cmpstr (sts, ==, "AWS4-HMAC-SHA256\n20150830T123600Z\n" SUITE_SCOPE "\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  sig = stt_test_aws_signature (SUITE_SECRET, "20150830", "us-east-1", "service", sts);
  g_assert_cmpstr (sig, ==,
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  amz = stt_test_aws_format_amz_date (now);
  g_assert_cmpstr (amz, ==, "20150830T123600Z");

  for (i = 0; i < G_N_ELEMENTS (sigv4_cases); i++) {
    g_autofree gchar *query = g_strdup_printf ("%s&X-Amz-Signature=%s",
        sigv4_cases[i].signed_query, sigv4_cases[i].signature);
    g_autofree gchar *canonical = stt_test_aws_canonical_query (query);
    g_autofree gchar *request = NULL, *to_sign = NULL, *signature = NULL;
    g_autofree gchar *expected_request = NULL, *expected_sts = NULL, *message = NULL;
    SttTestAwsAuth auth;

    g_test_message ("%s", sigv4_cases[i].name);
    g_assert_cmpstr (canonical, ==, sigv4_cases[i].canonical_query);
    request = stt_test_aws_canonical_request ("GET", "/", canonical,
        "example.amazonaws.com");
    expected_request = g_strdup_printf ("GET\n/\n%s\nhost:example.amazonaws.com\n\nhost\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        sigv4_cases[i].canonical_query);
    g_assert_cmpstr (request, ==, expected_request);
    to_sign = stt_test_aws_request_string_to_sign ("20150830T123600Z", SUITE_SCOPE,
        request);
    expected_sts = g_strdup_printf ("AWS4-HMAC-SHA256\n20150830T123600Z\n" SUITE_SCOPE
        "\n%s", sigv4_cases[i].request_hash);
    g_assert_cmpstr (to_sign, ==, expected_sts);
    signature = stt_test_aws_signature (SUITE_SECRET, "20150830", "us-east-1", "service",
        to_sign);
    g_assert_cmpstr (signature, ==, sigv4_cases[i].signature);

    /* The server's check of the whole request. */
    g_assert_cmpuint (stt_test_aws_check_presigned ("GET", "/", query, NULL,
            "example.amazonaws.com", "service", SUITE_SECRET, now, 3600, &auth, &message),
        ==, 0);
    g_assert_cmpstr (auth.access_key_id, ==, SUITE_AKID);
    g_assert_cmpstr (auth.region, ==, "us-east-1");
    g_assert_cmpstr (auth.signature, ==, sigv4_cases[i].signature);
    if (strstr (query, "Security-Token") != NULL)
      g_assert_cmpstr (auth.session_token, ==,
          "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
    else
      g_assert_null (auth.session_token);
    stt_test_aws_auth_clear (&auth);
    /* Another secret, another host, another service, two hours later. */
    g_assert_cmpuint (stt_test_aws_check_presigned ("GET", "/", query, NULL,
            "example.amazonaws.com", "service", "other", now, 3600, &auth, &message), ==,
        403);
    g_assert_true (g_str_has_prefix (message, "The request signature we calculated"));
    g_clear_pointer (&message, g_free);
    g_assert_cmpuint (stt_test_aws_check_presigned ("GET", "/", query, NULL,
            "example.amazonaws.com:8443", "service", SUITE_SECRET, now, 3600, &auth,
            &message), ==, 403);
    g_clear_pointer (&message, g_free);
    g_assert_cmpuint (stt_test_aws_check_presigned ("GET", "/", query, NULL,
            "example.amazonaws.com", "transcribe", SUITE_SECRET, now, 3600, &auth,
            &message), ==, 403);
    g_assert_true (g_str_has_prefix (message, "Credential should be scoped to correct "
            "service"));
    g_clear_pointer (&message, g_free);
    g_assert_cmpuint (stt_test_aws_check_presigned ("GET", "/", query, NULL,
            "example.amazonaws.com", "service", SUITE_SECRET, later, 3600, &auth,
            &message), ==, 403);
    g_assert_true (g_str_has_prefix (message, "Signature expired"));
    g_clear_pointer (&message, g_free);
    /* Transcribe takes X-Amz-Expires up to 300 only. */
    g_assert_cmpuint (stt_test_aws_check_presigned ("GET", "/", query, NULL,
            "example.amazonaws.com", "service", SUITE_SECRET, now, 300, &auth,
            &message), ==, 403);
  }

  /* Event signing, as @smithy/signature-v4 3.x signMessage computes it (values it
   * produced for these inputs): the :date header of 2015-08-30T12:36:00.123Z, the chain
   * going on from get-vanilla's signature, the scope of the credential's region. */
  stt_test_aws_append_timestamp_header (date_header, ":date", G_GINT64_CONSTANT
      (1440938160123));
  hexed = g_malloc0 (date_header->len * 2 + 1);
  for (i = 0; i < date_header->len; i++)
    g_snprintf (hexed + 2 * i, 3, "%02x", date_header->data[i]);
  g_assert_cmpstr (hexed, ==, "053a64617465080000014f7e9b6ffb");
  g_free (sig);
  sig = stt_test_aws_event_signature (SUITE_SECRET, "us-east-1", "transcribe",
      G_GINT64_CONSTANT (1440938160123), sigv4_cases[0].signature, date_header->data,
      date_header->len, (const guint8 *) "hello", 5);
  g_assert_cmpstr (sig, ==,
      "7df719d7a7fe39700bf36f381fd6189bcf2f3358b681afa1379de9181f5f4472");
  g_free (sig);
  sig = stt_test_aws_event_signature (SUITE_SECRET, "us-east-1", "transcribe",
      G_GINT64_CONSTANT (1440938160123), sigv4_cases[0].signature, date_header->data,
      date_header->len, NULL, 0);
  g_assert_cmpstr (sig, ==,
      "eb5ec7c135144afd49a6a979475585fc6600e87a0db82cd383aef17a9be24d6b");

  /* Encoding: '+' stays a plus, spaces and '/' are escaped, %xx comes out upper-case. */
  g_free (hexed);
  hexed = stt_test_aws_canonical_query ("b=a+b%2fc&a=x%20y&X-Amz-Signature=00&a=w");
  g_assert_cmpstr (hexed, ==, "a=w&a=x%20y&b=a%2Bb%2Fc");
  g_assert_null (stt_test_aws_canonical_query ("a=%zz"));
  g_assert_null (stt_test_aws_canonical_query ("a=%2"));
}

/* The event-stream codec: CRC-32 check value, a round trip, every header type, and the
 * malformed messages the decoder refuses. */
static void
test_aws_codec (void)
{
  static const gchar *const headers[] = {
    ":content-type", "application/octet-stream",
    ":event-type", "AudioEvent",
    ":message-type", "event",
    NULL
  };
  /* One header of each type 0..9, as HeaderMarshaller writes them. */
  static const guint8 all_types[] = {
    1, 'a', 0,
    1, 'b', 1,
    1, 'c', 2, 0xfe,
    1, 'd', 3, 0x01, 0x02,
    1, 'e', 4, 0, 0, 1, 0,
    1, 'f', 5, 0, 0, 0, 0, 0, 0, 0, 7,
    1, 'g', 6, 0, 2, 0xde, 0xad,
    1, 'h', 7, 0, 3, 'x', 'y', 'z',
    1, 'i', 8, 0, 0, 1, 0x4f, 0x7e, 0x9b, 0x6f, 0xfb,
    1, 'j', 9, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78,
    0x12, 0x34, 0x56, 0x78,
  };
  static const guint8 bad_type[] = { 1, 'a', 10 };
  static const guint8 bad_length[] = { 1, 'h', 7, 0, 9, 'x' };
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  SttTestAwsMessage *m;
  gchar *value;
  guint8 *copy;
  gsize size;

  g_assert_cmphex (stt_test_aws_crc32 (0, (const guint8 *) "123456789", 9), ==,
      0xcbf43926);

  bytes = stt_test_aws_encode_message (headers, (const guint8 *) "pcm!", 4);
  m = stt_test_aws_message_decode (g_bytes_get_data (bytes, NULL),
      g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->headers->len, ==, 3);
  value = stt_test_aws_message_dup_string (m, ":event-type");
  g_assert_cmpstr (value, ==, "AudioEvent");
  g_free (value);
  g_assert_cmpmem (m->payload, m->payload_len, "pcm!", 4);
  g_assert_cmpuint (g_bytes_get_size (bytes), ==, 16 + m->raw_headers_len + 4);
  stt_test_aws_message_free (m);
  g_clear_pointer (&bytes, g_bytes_unref);

  bytes = stt_test_aws_encode_raw (all_types, sizeof all_types, NULL, 0);
  m = stt_test_aws_message_decode (g_bytes_get_data (bytes, NULL),
      g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->headers->len, ==, 10);
  g_assert_cmpuint (stt_test_aws_message_get_header (m, "a")->type, ==,
      STT_TEST_AWS_HEADER_TRUE);
  g_assert_cmpuint (stt_test_aws_message_get_header (m, "g")->value_len, ==, 2);
  g_assert_cmpuint (stt_test_aws_message_get_header (m, "j")->value_len, ==, 16);
  value = stt_test_aws_message_dup_string (m, "h");
  g_assert_cmpstr (value, ==, "xyz");
  g_free (value);
  g_assert_null (stt_test_aws_message_dup_string (m, "g"));
  g_assert_cmpuint (m->payload_len, ==, 0);
  stt_test_aws_message_free (m);

  /* A flipped payload byte (message CRC), a flipped length (prelude CRC), a short or
   * long buffer, an unknown type, a value past the headers. */
  size = g_bytes_get_size (bytes);
  copy = g_memdup2 (g_bytes_get_data (bytes, NULL), size);
  copy[size - 5] ^= 1;
  g_assert_null (stt_test_aws_message_decode (copy, size, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  copy[size - 5] ^= 1;
  copy[3] ^= 1;
  g_assert_null (stt_test_aws_message_decode (copy, size, &error));
  g_clear_error (&error);
  copy[3] ^= 1;
  g_assert_null (stt_test_aws_message_decode (copy, size - 1, &error));
  g_clear_error (&error);
  g_assert_null (stt_test_aws_message_decode (copy, 10, &error));
  g_clear_error (&error);
  g_free (copy);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = stt_test_aws_encode_raw (bad_type, sizeof bad_type, NULL, 0);
  g_assert_null (stt_test_aws_message_decode (g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), &error));
  g_clear_error (&error);
  g_clear_pointer (&bytes, g_bytes_unref);
  bytes = stt_test_aws_encode_raw (bad_length, sizeof bad_length, NULL, 0);
  g_assert_null (stt_test_aws_message_decode (g_bytes_get_data (bytes, NULL),
          g_bytes_get_size (bytes), &error));
}

/* The presigned query for @params, signed with @secret for the server's host (or
 * @host), at @date (NULL: now). */
static gchar *
aws_query (SttTestServer * server, const gchar * params, const gchar * secret,
    const gchar * host, GDateTime * date, guint expires, const gchar * token)
{
  g_autofree gchar *base = stt_test_server_get_url (server);
  g_autofree gchar *url = g_strdup_printf ("%s?%s", base, params);
  g_autofree gchar *signed_url = stt_test_aws_presign_url (url, host, AWS_AKID, secret,
      token, AWS_REGION, "transcribe", date, expires);

  return g_strdup (strchr (signed_url, '?') + 1);
}

static SttTestClient *
aws_connect_full (SttTestServer * server, const gchar * params, gchar ** signature)
{
  g_autofree gchar *query = aws_query (server, params, "test-key", NULL, NULL, 300, NULL);
  SttTestClient *client = client_connect_full (server, query, NULL, NULL);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  if (signature != NULL)
    *signature = g_strdup (strstr (query, "X-Amz-Signature=") + 16);
  return client;
}

static SttTestClient *
aws_connect (SttTestServer * server)
{
  return aws_connect_full (server, AWS_PARAMS, NULL);
}

/* A plain GET of the presigned @query: the status, the body and an error type. */
static gchar *
aws_http_get (SttTestServer * server, const gchar * query, guint * status,
    gchar ** error_type)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *base = stt_test_server_get_url (server);
  /* ws://... -> http://..., same path and query. */
  g_autofree gchar *url = g_strdup_printf ("http%s?%s", base + 2, query);
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  msg = soup_message_new ("GET", url);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  if (error_type != NULL)
    *error_type = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers
            (msg), "x-amzn-ErrorType"));
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* @query is refused with @status and a JSON body whose message starts with @prefix. */
static void
assert_aws_refused (SttTestServer * server, const gchar * query, guint status,
    const gchar * prefix)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree gchar *error_type = NULL;
  g_autofree gchar *body = NULL;
  JsonObject *o;
  guint got;

  body = aws_http_get (server, query, &got, &error_type);
  g_assert_cmpuint (got, ==, status);
  g_assert_true (json_parser_load_from_data (parser, body, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (o, status == 403 ?
              "message" : "Message"), prefix));
  if (status == 403)
    g_assert_cmpstr (error_type, ==, g_str_has_prefix (prefix, "Missing") ?
        "MissingAuthenticationTokenException" : "InvalidSignatureException");
  else
    g_assert_cmpstr (error_type, ==, status == 400 ? "BadRequestException" :
        "ServiceUnavailableException");
}

static void
assert_aws_params_refused (SttTestServer * server, const gchar * params)
{
  g_autofree gchar *query = aws_query (server, params, "test-key", NULL, NULL, 300, NULL);

  g_test_message ("refused: %s", params);
  assert_aws_refused (server, query, 400, "");
}

static void
assert_aws_accepted (SttTestServer * server, const gchar * query)
{
  SttTestClient *client = client_connect_full (server, query, NULL, NULL);

  g_assert_no_error (client->error);
  g_assert_nonnull (client->ws);
  g_assert_nonnull (soup_message_headers_get_one (soup_message_get_response_headers
          (client->msg), "x-amzn-RequestId"));
  stt_test_client_free (client);
}

/* The presigned handshake: the signature with the key as the secret, the dates, the
 * transcription parameters, the signed host, --any-key. */
static void
test_aws_handshake (void)
{
  SttTestServer *server = server_new_for ("aws");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) stale = g_date_time_add_minutes (now, -10);
  g_autoptr (GDateTime) early = g_date_time_add_minutes (now, 10);
  g_autoptr (GDateTime) old = g_date_time_add_seconds (now, -100);
  g_autofree gchar *akid = NULL, *token = NULL;
  gchar *query;
  guint status;

  /* Accepted; the key id and the session token are recorded. */
  query = aws_query (server, AWS_PARAMS "&show-speaker-label=true&session-id="
      "0f8fad5b-d9cb-469f-a165-70867728950e&vocabulary-name=my.words-1", "test-key", NULL,
      NULL, 300, "tok/en+=");
  assert_aws_accepted (server, query);
  g_free (query);
  akid = stt_test_aws_get_access_key_id (server, 0);
  g_assert_cmpstr (akid, ==, AWS_AKID);
  token = stt_test_server_get_query (server, 0, "X-Amz-Security-Token");
  g_assert_cmpstr (token, ==, "tok/en+=");
  query = aws_query (server, "language-code=en-GB&media-encoding=pcm&sample-rate=8000",
      "test-key", NULL, NULL, 1, NULL);
  assert_aws_accepted (server, query);
  g_free (query);
  query = aws_query (server, "identify-language=true&language-options=en-US,es-US"
      "&media-encoding=pcm&sample-rate=48000", "test-key", NULL, NULL, 60, NULL);
  assert_aws_accepted (server, query);
  g_free (query);

  /* Signature refusals (403). */
  query = aws_query (server, AWS_PARAMS, "wrong", NULL, NULL, 300, NULL);
  assert_aws_refused (server, query, 403, "The request signature we calculated does not "
      "match the signature you provided.");
  g_free (query);
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, stale, 300, NULL);
  assert_aws_refused (server, query, 403, "Signature expired");
  g_free (query);
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, early, 300, NULL);
  assert_aws_refused (server, query, 403, "Signature not yet current");
  g_free (query);
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, old, 60, NULL);
  assert_aws_refused (server, query, 403, "Request has expired");
  g_free (query);
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, NULL, 301, NULL);
  assert_aws_refused (server, query, 403, "X-Amz-Expires");
  g_free (query);
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, NULL, 300, NULL);
  *strstr (query, "&X-Amz-Signature=") = '\0';
  assert_aws_refused (server, query, 403, "AWS query-string parameters must include "
      "'X-Amz-Signature'");
  g_free (query);
  assert_aws_refused (server, AWS_PARAMS, 403, "Missing Authentication Token");
  /* A parameter added after signing. */
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, NULL, 300, NULL);
  {
    gchar *more = g_strconcat (query, "&vocabulary-name=x", NULL);

    assert_aws_refused (server, more, 403, "The request signature we calculated");
    g_free (more);
  }
  g_free (query);

  /* Parameter refusals (400), signed right. */
  assert_aws_params_refused (server, "media-encoding=pcm&sample-rate=16000");
  assert_aws_params_refused (server, "language-code=english&media-encoding=pcm"
      "&sample-rate=16000");
  assert_aws_params_refused (server, "language-code=en-US&sample-rate=16000");
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=flac"
      "&sample-rate=16000");
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=ogg-opus"
      "&sample-rate=16000");
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=mp3"
      "&sample-rate=16000");
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=pcm");
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=pcm"
      "&sample-rate=11025");
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=pcm"
      "&sample-rate=96000");
  assert_aws_params_refused (server, AWS_PARAMS "&show-speaker-label=yes");
  assert_aws_params_refused (server, AWS_PARAMS "&partial-results-stability=max");
  assert_aws_params_refused (server, AWS_PARAMS "&session-id=nope");
  assert_aws_params_refused (server, AWS_PARAMS "&vocabulary-name=a%20b");
  assert_aws_params_refused (server, AWS_PARAMS "&show-speaker-label=true"
      "&enable-channel-identification=true");
  assert_aws_params_refused (server, AWS_PARAMS "&number-of-channels=2");
  assert_aws_params_refused (server, "identify-language=true&media-encoding=pcm"
      "&sample-rate=16000");
  assert_aws_params_refused (server, AWS_PARAMS "&identify-language=true"
      "&language-options=en-US,es-US");
  g_assert_cmpuint (stt_test_server_get_n_connections (server), ==, 3);

  /* The SDK signs the service's host: refused until the server checks against it. */
  query = aws_query (server, AWS_PARAMS, "test-key", AWS_SDK_HOST, NULL, 300, NULL);
  assert_aws_refused (server, query, 403, "The request signature we calculated");
  stt_test_aws_set_signed_host (server, AWS_SDK_HOST);
  assert_aws_accepted (server, query);
  stt_test_aws_set_signed_host (server, NULL);
  assert_aws_refused (server, query, 403, "The request signature we calculated");
  g_free (query);

  /* Any key: the signature is not checked, the rest is. */
  stt_test_server_set_api_key (server, NULL);
  query = aws_query (server, AWS_PARAMS, "wrong", NULL, NULL, 300, NULL);
  assert_aws_accepted (server, query);
  g_free (query);
  query = aws_query (server, AWS_PARAMS, "wrong", NULL, stale, 300, NULL);
  assert_aws_refused (server, query, 403, "Signature expired");
  g_free (query);
  assert_aws_params_refused (server, "language-code=en-US&media-encoding=pcm");

  /* Handshake faults come first. */
  stt_test_server_fail_handshakes (server, 503, 1, NULL);
  query = aws_query (server, AWS_PARAMS, "test-key", NULL, NULL, 300, NULL);
  assert_aws_refused (server, query, 503, "");
  g_free (aws_http_get (server, query, &status, NULL));
  /* A plain GET that passes the checks is no WebSocket handshake. */
  g_assert_cmpuint (status, ==, 400);
  g_free (query);

  g_assert_cmpuint (stt_test_server_get_n_connections (server), ==, 5);
  stt_test_server_free (server);
}

static gboolean
has_binaries (SttTestClient * client, guint n)
{
  return client->binaries->len >= n;
}

typedef struct
{
  gchar *message_type;          /* event, exception */
  gchar *type;                  /* :event-type or :exception-type */
  JsonNode *body;
} AwsEvent;

static void
aws_event_free (gpointer data)
{
  AwsEvent *e = data;

  g_free (e->message_type);
  g_free (e->type);
  json_node_unref (e->body);
  g_free (e);
}

/* The client's binary messages, decoded: every one must be a well-formed event-stream
 * message with a JSON payload. */
static GPtrArray *
aws_events (SttTestClient * client)
{
  GPtrArray *events = g_ptr_array_new_with_free_func (aws_event_free);
  guint i;

  for (i = 0; i < client->binaries->len; i++) {
    GBytes *b = g_ptr_array_index (client->binaries, i);
    g_autoptr (GError) error = NULL;
    g_autoptr (SttTestAwsMessage) m = stt_test_aws_message_decode (g_bytes_get_data (b,
            NULL), g_bytes_get_size (b), &error);
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autofree gchar *content_type = NULL;
    AwsEvent *e = g_new0 (AwsEvent, 1);

    g_assert_no_error (error);
    content_type = stt_test_aws_message_dup_string (m, ":content-type");
    g_assert_cmpstr (content_type, ==, "application/json");
    e->message_type = stt_test_aws_message_dup_string (m, ":message-type");
    e->type = stt_test_aws_message_dup_string (m, g_strcmp0 (e->message_type,
            "exception") == 0 ? ":exception-type" : ":event-type");
    g_assert_cmpuint (m->headers->len, ==, 3);
    g_assert_true (json_parser_load_from_data (parser, (const gchar *) m->payload,
            m->payload_len, NULL));
    e->body = json_node_copy (json_parser_get_root (parser));
    g_ptr_array_add (events, e);
  }
  return events;
}

/* The Results of every TranscriptEvent, in order (JsonObject, owned by @events). */
static GPtrArray *
aws_results (GPtrArray * events)
{
  GPtrArray *results = g_ptr_array_new ();
  guint i, j;

  for (i = 0; i < events->len; i++) {
    AwsEvent *e = g_ptr_array_index (events, i);
    JsonArray *a;

    g_assert_cmpstr (e->message_type, ==, "event");
    g_assert_cmpstr (e->type, ==, "TranscriptEvent");
    a = json_object_get_array_member (json_object_get_object_member
        (json_node_get_object (e->body), "Transcript"), "Results");
    for (j = 0; j < json_array_get_length (a); j++)
      g_ptr_array_add (results, json_array_get_object_element (a, j));
  }
  return results;
}

static JsonObject *
aws_alternative (JsonObject * result)
{
  return json_array_get_object_element (json_object_get_array_member (result,
          "Alternatives"), 0);
}

static JsonObject *
aws_item (JsonObject * result, guint i)
{
  return json_array_get_object_element (json_object_get_array_member (aws_alternative
          (result), "Items"), i);
}

static void
assert_aws_item (JsonObject * item, const gchar * content, gdouble start, gdouble end,
    const gchar * type)
{
  g_assert_cmpstr (json_object_get_string_member (item, "Content"), ==, content);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (item, "StartTime"),
      start, 0.0101);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (item, "EndTime"), end,
      0.0101);
  g_assert_cmpstr (json_object_get_string_member (item, "Type"), ==, type);
  g_assert_false (json_object_get_boolean_member (item, "VocabularyFilterMatch"));
}

/* The exception that ends the stream: its type and message, then close 1000. */
static void
assert_aws_exception (SttTestClient * client, const gchar * type, const gchar * prefix)
{
  g_autoptr (GPtrArray) events = NULL;
  AwsEvent *e;

  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  events = aws_events (client);
  g_assert_cmpuint (events->len, >, 0);
  e = g_ptr_array_index (events, events->len - 1);
  g_assert_cmpstr (e->message_type, ==, "exception");
  g_assert_cmpstr (e->type, ==, type);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_node_get_object
              (e->body), "Message"), prefix));
}

static GBytes *
aws_audio_event (const guint8 * data, gsize len)
{
  static const gchar *const headers[] = {
    ":content-type", "application/octet-stream",
    ":event-type", "AudioEvent",
    ":message-type", "event",
    NULL
  };

  return stt_test_aws_encode_message (headers, data, len);
}

static void
aws_send (SttTestClient * client, GBytes * message)
{
  if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_message (client->ws, SOUP_WEBSOCKET_DATA_BINARY,
        message);
}

/* @audio in @chunk-byte AudioEvents, then the empty one that ends the stream (@end). As
 * the SDK does with @signature (the URL's, then each event's): every event in a signed
 * envelope, and an empty envelope at the end. */
static void
aws_send_audio (SttTestClient * client, GBytes * audio, gsize chunk, gchar ** signature,
    gboolean end)
{
  gsize size, off;
  const guint8 *data = g_bytes_get_data (audio, &size);

  for (off = 0; off <= size; off += chunk) {
    gsize len = MIN (chunk, size - off);
    g_autoptr (GBytes) event = NULL;
    g_autoptr (GBytes) envelope = NULL;

    if (len == 0 && !end)
      break;
    event = aws_audio_event (data + off, len);
    if (signature == NULL) {
      aws_send (client, event);
    } else {
      /* The end: an envelope with nothing inside. */
      envelope = stt_test_aws_sign_event ("test-key", AWS_REGION,
          g_get_real_time () / 1000, signature, len > 0 ?
          g_bytes_get_data (event, NULL) : NULL, len > 0 ? g_bytes_get_size (event) : 0);
      aws_send (client, envelope);
    }
    if (len == 0)
      break;
  }
}

/* One segment's results: partials then a final, one ResultId; the final is the words
 * and a full stop. Returns the index after the final. */
static guint
check_aws_segment (GPtrArray * results, guint from, const gchar * transcript,
    gboolean stable, gboolean speaker)
{
  g_autofree gchar *final_text = g_strdup_printf ("%s.", transcript);
  const gchar *id = json_object_get_string_member (g_ptr_array_index (results, from),
      "ResultId");
  guint i, j, n_partials = 0;

  g_assert_cmpuint (strlen (id), ==, 36);
  for (i = from; i < results->len; i++) {
    JsonObject *r = g_ptr_array_index (results, i);
    JsonArray *items = json_object_get_array_member (aws_alternative (r), "Items");
    gboolean is_partial = json_object_get_boolean_member (r, "IsPartial");

    g_assert_cmpstr (json_object_get_string_member (r, "ResultId"), ==, id);
    g_assert_false (json_object_has_member (r, "ChannelId"));
    g_assert_cmpfloat (json_object_get_double_member (r, "EndTime"), >=,
        json_object_get_double_member (r, "StartTime"));
    for (j = 0; j < json_array_get_length (items); j++) {
      JsonObject *item = json_array_get_object_element (items, j);
      gboolean word = g_str_equal (json_object_get_string_member (item, "Type"),
          "pronunciation");

      g_assert_cmpint (json_object_has_member (item, "Stable"), ==, stable);
      g_assert_cmpint (json_object_has_member (item, "Speaker"), ==, speaker && word);
      /* Confidence only on the words of a final. */
      g_assert_cmpint (json_object_has_member (item, "Confidence"), ==, word
          && !is_partial);
      if (stable && !is_partial)
        g_assert_true (json_object_get_boolean_member (item, "Stable"));
    }
    if (is_partial) {
      n_partials++;
      continue;
    }
    g_assert_cmpuint (n_partials, >, 0);
    g_assert_cmpstr (json_object_get_string_member (aws_alternative (r), "Transcript"), ==,
        final_text);
    return i + 1;
  }
  g_assert_not_reached ();
  return 0;
}

/* Plain AudioEvents (the developer guide's form): partials and finals of two segments,
 * the first event's empty Results, the empty AudioEvent ending with the last final and
 * close 1000; the audio recorded as sent. */
static void
test_aws_plain (void)
{
  static const SttTestTone tones[] = {
    {440.0, 0.5, 0.9, 0.5},
    {700.0, 1.0, 1.3, 0.5},
    {1000.0, 2.0, 2.4, 0.5},
  };
  SttTestServer *server = server_new_for ("aws");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.5, tones, 3);
  g_autoptr (GBytes) received = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GPtrArray) results = NULL;
  SttTestClient *client = aws_connect (server);
  JsonObject *final;
  AwsEvent *first;
  guint next;

  aws_send_audio (client, audio, AWS_CHUNK, NULL, TRUE);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  g_assert_cmpuint (client->messages->len, ==, 0);

  events = aws_events (client);
  first = g_ptr_array_index (events, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member
          (json_object_get_object_member (json_node_get_object (first->body),
                  "Transcript"), "Results")), ==, 0);
  results = aws_results (events);
  next = check_aws_segment (results, 0, "w400 w700", FALSE, FALSE);
  final = g_ptr_array_index (results, next - 1);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (final, "StartTime"), 0.5,
      0.0101);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (final, "EndTime"), 1.6,
      0.0101);
  g_assert_false (json_object_has_member (final, "LanguageCode"));
  assert_aws_item (aws_item (final, 0), "w400", 0.5, 0.9, "pronunciation");
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (aws_item (final, 0),
          "Confidence"), 0.9, 1e-9);
  assert_aws_item (aws_item (final, 1), "w700", 1.0, 1.3, "pronunciation");
  assert_aws_item (aws_item (final, 2), ".", 1.3, 1.3, "punctuation");
  /* The last segment is still open at the end: the end makes it final. */
  next = check_aws_segment (results, next, "w1000", FALSE, FALSE);
  g_assert_cmpuint (next, ==, results->len);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (g_ptr_array_index
          (results, next - 1), "EndTime"), 2.5, 1e-6);

  g_assert_true (stt_test_server_wait_connections (server, 1, TRUE, WAIT_MS));
  received = stt_test_server_get_audio (server, 0);
  g_assert_true (g_bytes_equal (received, audio));
  g_assert_cmpuint (stt_test_server_get_n_binary_messages (server, 0), ==, 25 + 1);
  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* The SDK's form: signed envelopes chained from the URL's signature, the empty envelope
 * at the end; with stabilization and speaker labels. Then a broken chain. */
static void
test_aws_envelope (void)
{
  SttTestServer *server = server_new_for ("aws");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 2.0, two_tones, 2);
  g_autoptr (GBytes) received = NULL;
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GPtrArray) results = NULL;
  g_autofree gchar *signature = NULL;
  SttTestClient *client = aws_connect_full (server, AWS_PARAMS
      "&enable-partial-results-stabilization=true&partial-results-stability=medium"
      "&show-speaker-label=true", &signature);
  gboolean seen_unstable = FALSE, seen_stable = FALSE;
  guint i;

  aws_send_audio (client, audio, AWS_CHUNK, &signature, TRUE);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1000);
  events = aws_events (client);
  results = aws_results (events);
  g_assert_cmpuint (check_aws_segment (results, 0, "w400 w700", TRUE, TRUE), ==,
      results->len);
  g_assert_cmpstr (json_object_get_string_member (aws_item (g_ptr_array_index (results,
                  0), 0), "Speaker"), ==, "0");
  /* medium: a word is stable 0.5 s after its end. */
  for (i = 0; i + 1 < results->len; i++) {
    JsonObject *r = g_ptr_array_index (results, i);
    JsonObject *item = aws_item (r, 0);
    gboolean stable = json_object_get_boolean_member (item, "Stable");

    g_assert_cmpint (stable, ==, json_object_get_double_member (item, "EndTime") <=
        json_object_get_double_member (r, "EndTime") - 0.5 + 1e-6);
    seen_stable |= stable;
    seen_unstable |= !stable;
  }
  g_assert_true (seen_stable && seen_unstable);
  received = stt_test_server_get_audio (server, 0);
  g_assert_true (g_bytes_equal (received, audio));
  stt_test_client_free (client);

  /* A chunk signed from the wrong signature: refused, its audio not taken. */
  g_free (signature);
  client = aws_connect_full (server, AWS_PARAMS, NULL);
  signature = g_strdup ("0000000000000000000000000000000000000000000000000000000000000000");
  aws_send_audio (client, audio, AWS_CHUNK, &signature, FALSE);
  assert_aws_exception (client, "BadRequestException", "The request signature we "
      "calculated does not match");
  g_clear_pointer (&received, g_bytes_unref);
  received = stt_test_server_get_audio (server, 1);
  g_assert_cmpuint (g_bytes_get_size (received), ==, 0);
  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* Frames the server refuses: an exception (BadRequestException), then close 1000. */
static void
test_aws_bad_frames (void)
{
  static const gchar *const config_event[] = {
    ":event-type", "ConfigurationEvent", ":message-type", "event", NULL
  };
  static const gchar *const no_message_type[] = { ":event-type", "AudioEvent", NULL };
  static const gchar *const json_content[] = {
    ":content-type", "application/json", ":event-type", "AudioEvent",
    ":message-type", "event", NULL
  };
  static const guint8 unknown_type[] = { 1, 'x', 12 };
  SttTestServer *server = server_new_for ("aws");
  g_autoptr (GBytes) silence = g_bytes_new_take (g_malloc0 (RATE * 2 + 2), RATE * 2 + 2);
  g_autoptr (GBytes) one = aws_audio_event (g_bytes_get_data (silence, NULL), 3200);
  g_autoptr (GBytes) big = aws_audio_event (g_bytes_get_data (silence, NULL),
      g_bytes_get_size (silence));
  g_autoptr (GBytes) exact = aws_audio_event (g_bytes_get_data (silence, NULL), RATE * 2);
  g_autoptr (GByteArray) two = g_byte_array_new ();
  GBytes *frames[7];
  const gchar *prefixes[7] = {
    "Could not decode", "Could not decode", "Could not decode", "An audio chunk holds",
    "Expected an :event-type", "Expected a :message-type", "Expected a :content-type",
  };
  guint8 *corrupt;
  SttTestClient *client;
  guint i;

  corrupt = g_memdup2 (g_bytes_get_data (one, NULL), g_bytes_get_size (one));
  corrupt[g_bytes_get_size (one) - 1] ^= 0x80;
  frames[0] = g_bytes_new_take (corrupt, g_bytes_get_size (one));
  g_byte_array_append (two, g_bytes_get_data (one, NULL), g_bytes_get_size (one));
  g_byte_array_append (two, g_bytes_get_data (one, NULL), g_bytes_get_size (one));
  frames[1] = g_bytes_new (two->data, two->len);
  frames[2] = stt_test_aws_encode_raw (unknown_type, sizeof unknown_type, NULL, 0);
  frames[3] = g_bytes_ref (big);
  frames[4] = stt_test_aws_encode_message (config_event, NULL, 0);
  frames[5] = stt_test_aws_encode_message (no_message_type, NULL, 0);
  frames[6] = stt_test_aws_encode_message (json_content, NULL, 0);

  for (i = 0; i < G_N_ELEMENTS (frames); i++) {
    g_test_message ("bad frame %u", i);
    client = aws_connect (server);
    aws_send (client, exact);   /* 1 s: the most an event may hold */
    aws_send (client, frames[i]);
    assert_aws_exception (client, "BadRequestException", prefixes[i]);
    stt_test_client_free (client);
    g_bytes_unref (frames[i]);
  }

  client = aws_connect (server);
  soup_websocket_connection_send_text (client->ws, "{\"AudioEvent\":{}}");
  assert_aws_exception (client, "BadRequestException", "Text frames are not supported");
  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* No audio for the idle timeout: BadRequestException with the service's message. */
static void
test_aws_idle (void)
{
  SttTestServer *server = server_new_for ("aws");
  SttTestClient *client;

  stt_test_server_set_idle_timeout (server, 300);
  client = aws_connect (server);
  assert_aws_exception (client, "BadRequestException", "Your request timed out because "
      "no new audio was received for 15 seconds.");
  stt_test_client_free (client);
  stt_test_server_free (server);
}

/* The faults and injections: a raw binary message, CLOSE_AT_END (the end's final
 * missing), CLOSE, and the ConflictException of a reused session id. */
static void
test_aws_faults (void)
{
  static const gchar *const limit[] = {
    ":content-type", "application/json", ":exception-type", "LimitExceededException",
    ":message-type", "exception", NULL
  };
  SttTestServer *server = server_new_for ("aws");
  g_autoptr (GBytes) audio = stt_test_tones_render_le (RATE, 1.0, end_tones, 2);
  g_autoptr (GBytes) injected = stt_test_aws_encode_message (limit,
      (const guint8 *) "{\"Message\":\"slow down\"}", 23);
  g_autoptr (GPtrArray) events = NULL;
  g_autoptr (GPtrArray) results = NULL;
  SttTestClient *client, *other;
  guint i;

  client = aws_connect (server);
  g_assert_true (stt_test_server_wait_connections (server, 1, FALSE, WAIT_MS));
  stt_test_server_send_binary (server, injected);
  g_assert_true (stt_test_client_wait (has_binaries, client, 1, WAIT_MS));
  g_assert_true (g_bytes_equal (g_ptr_array_index (client->binaries, 0), injected));
  stt_test_client_free (client);

  /* w400 ends its segment by itself; w700 needs the end, which the fault takes. */
  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE_AT_END, 0, 4000, "end");
  client = aws_connect (server);
  aws_send_audio (client, audio, AWS_CHUNK, NULL, TRUE);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 4000);
  events = aws_events (client);
  results = aws_results (events);
  for (i = 0; i < results->len; i++)
    if (!json_object_get_boolean_member (g_ptr_array_index (results, i), "IsPartial"))
      g_assert_cmpstr (json_object_get_string_member (aws_alternative (g_ptr_array_index
                  (results, i)), "Transcript"), ==, "w400.");
  stt_test_client_free (client);

  stt_test_server_inject_fault (server, STT_TEST_FAULT_CLOSE, 0.5, 1011, "gone");
  client = aws_connect (server);
  aws_send_audio (client, audio, AWS_CHUNK, NULL, FALSE);
  g_assert_true (stt_test_client_wait (stt_test_client_is_closed, client, 0, WAIT_MS));
  g_assert_cmpuint (client->close_code, ==, 1011);
  stt_test_client_free (client);

  client = aws_connect_full (server, AWS_PARAMS
      "&session-id=0f8fad5b-d9cb-469f-a165-70867728950e", NULL);
  other = aws_connect_full (server, AWS_PARAMS
      "&session-id=0f8fad5b-d9cb-469f-a165-70867728950e", NULL);
  assert_aws_exception (client, "ConflictException", "A new stream started with the same "
      "session ID.");
  g_assert_false (other->closed);
  stt_test_client_free (client);
  stt_test_client_free (other);
  stt_test_server_free (server);
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
  g_test_add_func ("/aws/sigv4", test_aws_sigv4);
  g_test_add_func ("/aws/codec", test_aws_codec);
  g_test_add_func ("/aws/handshake", test_aws_handshake);
  g_test_add_func ("/aws/plain", test_aws_plain);
  g_test_add_func ("/aws/envelope", test_aws_envelope);
  g_test_add_func ("/aws/bad-frames", test_aws_bad_frames);
  g_test_add_func ("/aws/idle", test_aws_idle);
  g_test_add_func ("/aws/faults", test_aws_faults);
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
