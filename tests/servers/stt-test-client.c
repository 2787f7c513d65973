/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-client: see stt-test-client.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stt-test-client.h"

gboolean
stt_test_client_wait (SttTestClientDone done, SttTestClient * client, guint n,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!done (client, n) && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return done (client, n);
}

gboolean
stt_test_client_is_closed (SttTestClient * client, guint n)
{
  return client->closed;
}

gboolean
stt_test_client_is_connected (SttTestClient * client, guint n)
{
  return client->connect_done;
}

gboolean
stt_test_client_has_messages (SttTestClient * client, guint n)
{
  return client->messages->len >= n;
}

gboolean
stt_test_client_has_pongs (SttTestClient * client, guint n)
{
  return client->n_pongs >= n;
}

static gboolean
never (SttTestClient * client, guint n)
{
  return FALSE;
}

void
stt_test_client_spin (guint ms)
{
  stt_test_client_wait (never, NULL, 0, ms);
}

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    SttTestClient * client)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize size;
  const gchar *data = g_bytes_get_data (message, &size);

  if (type == SOUP_WEBSOCKET_DATA_BINARY) {
    g_ptr_array_add (client->binaries, g_bytes_ref (message));
    return;
  }
  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_assert_true (json_parser_load_from_data (parser, data, size, &error));
  if (client->messages->len == 0)
    client->first_message_time = g_get_monotonic_time ();
  g_ptr_array_add (client->messages, json_node_copy (json_parser_get_root (parser)));
  g_ptr_array_add (client->texts, g_strndup (data, size));
}

static void
on_pong (SoupWebsocketConnection * ws, GBytes * message, SttTestClient * client)
{
  client->n_pongs++;
}

static void
on_closed (SoupWebsocketConnection * ws, SttTestClient * client)
{
  client->closed = TRUE;
  client->close_code = soup_websocket_connection_get_close_code (ws);
  client->close_reason = g_strdup (soup_websocket_connection_get_close_data (ws));
}

static void
connected_cb (GObject * source, GAsyncResult * result, gpointer user_data)
{
  SttTestClient *client = user_data;

  client->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      &client->error);
  client->connect_done = TRUE;
  if (client->ws != NULL) {
    g_signal_connect (client->ws, "message", G_CALLBACK (on_message), client);
    g_signal_connect (client->ws, "pong", G_CALLBACK (on_pong), client);
    g_signal_connect (client->ws, "closed", G_CALLBACK (on_closed), client);
  }
}

SttTestClient *
stt_test_client_new (const gchar * url, const gchar * auth,
    const gchar * const *protocols)
{
  SttTestClient *client = g_new0 (SttTestClient, 1);

  client->session = soup_session_new ();
  client->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  client->texts = g_ptr_array_new_with_free_func (g_free);
  client->binaries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  client->msg = soup_message_new ("GET", url);
  if (auth != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (client->msg),
        "Authorization", auth);
  soup_session_websocket_connect_async (client->session, client->msg, NULL,
      (char **) protocols, G_PRIORITY_DEFAULT, NULL, connected_cb, client);
  g_assert_true (stt_test_client_wait (stt_test_client_is_connected, client, 0,
          STT_TEST_CLIENT_WAIT_MS));
  return client;
}

void
stt_test_client_free (SttTestClient * client)
{
  if (client->ws != NULL) {
    if (!client->closed) {
      soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      stt_test_client_wait (stt_test_client_is_closed, client, 0,
          STT_TEST_CLIENT_WAIT_MS);
    }
    g_signal_handlers_disconnect_by_data (client->ws, client);
    g_object_unref (client->ws);
  }
  g_clear_error (&client->error);
  g_object_unref (client->msg);
  g_object_unref (client->session);
  g_ptr_array_unref (client->messages);
  g_ptr_array_unref (client->texts);
  g_ptr_array_unref (client->binaries);
  g_free (client->close_reason);
  g_free (client);
}
