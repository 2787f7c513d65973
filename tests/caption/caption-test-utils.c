/* caption-test-utils: see caption-test-utils.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <glib/gstdio.h>

#include "gststtjwt.h"
#include "caption-test-utils.h"

/* ---------- waiting ---------- */

static gboolean
on_wait_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
cap_test_wait (gboolean (*done) (gpointer data), gpointer data,
    guint timeout_ms)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (timeout_ms, on_wait_timeout, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (id);
  return done (data);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

void
cap_test_sleep (guint ms)
{
  cap_test_wait (never, NULL, ms);
}

/* ---------- the server ---------- */

static const gchar *
server_path (void)
{
  const gchar *path = g_getenv ("STT_CAPTION_SERVER");

  g_assert_nonnull (path);
  return path;
}

typedef struct
{
  gchar *line;
  gboolean done;
} LineRead;

static void
on_line (GObject * source, GAsyncResult * result, gpointer data)
{
  LineRead *r = data;

  r->line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
      result, NULL, NULL);
  r->done = TRUE;
}

static gboolean
line_done (gpointer data)
{
  return ((LineRead *) data)->done;
}

/* In the child: it dies with the test, even when an assertion aborts the test. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static CapTestServer *
server_spawn (CapTestServer * s, const gchar * const *args)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GDataInputStream) out = NULL;
  g_autoptr (GError) error = NULL;
  LineRead r = { 0 };
  const gchar *colon;
  guint i;

  g_ptr_array_add (argv, (gpointer) server_path ());
  g_ptr_array_add (argv, (gpointer) "--port=0");
  g_ptr_array_add (argv, (gpointer) "--secret-file");
  g_ptr_array_add (argv, s->secret_file);
  g_ptr_array_add (argv, (gpointer) "--store");
  g_ptr_array_add (argv, s->store);
  for (i = 0; args && args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  /* Appended to: a restarted server's lines follow the first one's. */
  g_subprocess_launcher_set_stderr_file_path (launcher, NULL);
  {
    gint fd = g_open (s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

    g_assert_cmpint (fd, >=, 0);
    g_subprocess_launcher_take_stderr_fd (launcher, fd);
  }
  s->proc = g_subprocess_launcher_spawnv (launcher,
      (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  g_data_input_stream_read_line_async (out, G_PRIORITY_DEFAULT, NULL, on_line,
      &r);
  g_assert_true (cap_test_wait (line_done, &r, CAP_TEST_WAIT_MS));
  g_assert_nonnull (r.line);
  /* The first line, exactly: scripts read the port from it. */
  g_assert_true (g_str_has_prefix (r.line, "listening on http://127.0.0.1:"));
  colon = strrchr (r.line, ':');
  s->port = (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
  g_assert_cmpuint (s->port, >, 0);
  s->base = g_strdup_printf ("http://127.0.0.1:%u", s->port);
  g_free (r.line);
  return s;
}

CapTestServer *
cap_test_server_start (const gchar * const *args)
{
  CapTestServer *s = g_new0 (CapTestServer, 1);
  g_autoptr (GError) error = NULL;

  s->dir = g_dir_make_tmp ("stt-caption-XXXXXX", &error);
  g_assert_no_error (error);
  s->store = g_build_filename (s->dir, "store", NULL);
  s->secret_file = g_build_filename (s->dir, "secret", NULL);
  s->log_path = g_build_filename (s->dir, "server.log", NULL);
  /* Surrounding whitespace is not part of the secret. */
  s->secret = g_strdup ("test-secret-0123456789");
  g_file_set_contents (s->secret_file, "  test-secret-0123456789\n", -1,
      &error);
  g_assert_no_error (error);
  return server_spawn (s, args);
}

CapTestServer *
cap_test_server_restart (CapTestServer * old, const gchar * const *args)
{
  CapTestServer *s = g_new0 (CapTestServer, 1);

  g_assert_null (old->proc);
  s->dir = g_strdup (old->dir);
  s->store = g_strdup (old->store);
  s->secret_file = g_strdup (old->secret_file);
  s->log_path = g_strdup (old->log_path);
  s->secret = g_strdup (old->secret);
  return server_spawn (s, args);
}

typedef struct
{
  gboolean done;
} Exited;

static void
on_exited (GObject * source, GAsyncResult * result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  ((Exited *) data)->done = TRUE;
}

static gboolean
exited_done (gpointer data)
{
  return ((Exited *) data)->done;
}

gint
cap_test_server_stop (CapTestServer * s)
{
  Exited e = { 0 };
  gint status = -1;

  g_assert_nonnull (s->proc);
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait_async (s->proc, NULL, on_exited, &e);
  if (cap_test_wait (exited_done, &e, CAP_TEST_WAIT_MS) &&
      g_subprocess_get_if_exited (s->proc))
    status = g_subprocess_get_exit_status (s->proc);
  if (!e.done) {
    g_subprocess_force_exit (s->proc);
    cap_test_wait (exited_done, &e, CAP_TEST_WAIT_MS);
  }
  g_clear_object (&s->proc);
  return status;
}

static void
remove_tree (const gchar * path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

void
cap_test_server_free (CapTestServer * s, gboolean keep_dir)
{
  if (s->proc) {
    Exited e = { 0 };

    g_subprocess_force_exit (s->proc);
    g_subprocess_wait_async (s->proc, NULL, on_exited, &e);
    cap_test_wait (exited_done, &e, CAP_TEST_WAIT_MS);
    g_clear_object (&s->proc);
  }
  if (!keep_dir)
    remove_tree (s->dir);
  g_free (s->dir);
  g_free (s->store);
  g_free (s->secret_file);
  g_free (s->secret);
  g_free (s->log_path);
  g_free (s->base);
  g_free (s);
}

gchar *
cap_test_server_log (CapTestServer * s)
{
  gchar *text = NULL;

  g_file_get_contents (s->log_path, &text, NULL, NULL);
  return text ? text : g_strdup ("");
}

gchar *
cap_test_token (CapTestServer * s, const gchar * secret, const gchar * room,
    const gchar * role, const gchar * sub, gint64 iat_offset, guint lifetime)
{
  g_autoptr (JsonObject) claims = json_object_new ();
  const gchar *key = secret ? secret : s->secret;
  gchar *token;

  json_object_set_string_member (claims, "room", room);
  json_object_set_string_member (claims, "role", role);
  if (sub)
    json_object_set_string_member (claims, "sub", sub);
  token = gst_stt_jwt_mint ((const guint8 *) key, strlen (key), claims,
      g_get_real_time () / G_USEC_PER_SEC + iat_offset, lifetime);
  g_assert_nonnull (token);
  return token;
}

/* ---------- WebSocket clients ---------- */

static void
on_client_message (SoupWebsocketConnection * ws, SoupWebsocketDataType type,
    GBytes * message, gpointer data)
{
  CapTestClient *c = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize len;
  const gchar *text = g_bytes_get_data (message, &len);
  JsonNode *root;

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  json_parser_load_from_data (parser, text, len, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  g_queue_push_tail (&c->messages, json_object_ref (json_node_get_object (root)));
  g_queue_push_tail (&c->times, g_memdup2 ((gint64[]) {
          g_get_monotonic_time ()}, sizeof (gint64)));
}

static void
on_client_closed (SoupWebsocketConnection * ws, gpointer data)
{
  CapTestClient *c = data;

  c->closed = TRUE;
  c->close_code = soup_websocket_connection_get_close_code (ws);
  c->close_reason = g_strdup (soup_websocket_connection_get_close_data (ws));
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  CapTestClient *c = data;

  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      &c->error);
  if (c->ws) {
    g_signal_connect (c->ws, "message", G_CALLBACK (on_client_message), c);
    g_signal_connect (c->ws, "closed", G_CALLBACK (on_client_closed), c);
  } else {
    c->status = soup_message_get_status (c->msg);
  }
  c->done = TRUE;
}

static gboolean
client_done (gpointer data)
{
  return ((CapTestClient *) data)->done;
}

CapTestClient *
cap_test_client_connect (CapTestServer * s, const gchar * path,
    const gchar * origin, const gchar * bearer)
{
  CapTestClient *c = g_new0 (CapTestClient, 1);
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u%s", s->port,
      path);

  c->session = soup_session_new ();
  c->msg = soup_message_new (SOUP_METHOD_GET, url);
  g_assert_nonnull (c->msg);
  if (bearer) {
    g_autofree gchar *auth = g_strdup_printf ("Bearer %s", bearer);

    soup_message_headers_replace (soup_message_get_request_headers (c->msg),
        "Authorization", auth);
  }
  soup_session_websocket_connect_async (c->session, c->msg, origin, NULL,
      G_PRIORITY_DEFAULT, NULL, on_connected, c);
  g_assert_true (cap_test_wait (client_done, c, CAP_TEST_WAIT_MS));
  return c;
}

CapTestClient *
cap_test_client_open (CapTestServer * s, const gchar * path,
    JsonObject ** welcome)
{
  CapTestClient *c = cap_test_client_connect (s, path, NULL, NULL);
  JsonObject *w;

  g_assert_no_error (c->error);
  w = cap_test_client_next (c, CAP_TEST_WAIT_MS);
  if (!w)
    g_error ("no welcome on %s (closed %d: %s)", path, c->close_code,
        c->close_reason ? c->close_reason : "");
  g_assert_cmpstr (json_object_get_string_member (w, "type"), ==, "welcome");
  if (welcome)
    *welcome = w;
  else
    json_object_unref (w);
  return c;
}

static gboolean
client_has_message (gpointer data)
{
  CapTestClient *c = data;

  return c->messages.length > 0 || c->closed;
}

JsonObject *
cap_test_client_next (CapTestClient * c, guint timeout_ms)
{
  cap_test_wait (client_has_message, c, timeout_ms);
  if (c->messages.length == 0)
    return NULL;
  g_free (g_queue_pop_head (&c->times));
  return g_queue_pop_head (&c->messages);
}

static gboolean
client_closed (gpointer data)
{
  return ((CapTestClient *) data)->closed;
}

gushort
cap_test_client_wait_closed (CapTestClient * c, guint timeout_ms)
{
  if (!c->ws)
    return 0;
  cap_test_wait (client_closed, c, timeout_ms);
  return c->closed ? c->close_code : 0;
}

void
cap_test_client_send (CapTestClient * c, const gchar * text)
{
  g_assert_nonnull (c->ws);
  g_assert_cmpint (soup_websocket_connection_get_state (c->ws), ==,
      SOUP_WEBSOCKET_STATE_OPEN);
  soup_websocket_connection_send_text (c->ws, text);
}

void
cap_test_client_send_final (CapTestClient * c, gint64 seq, const gchar * text,
    gdouble start, gdouble end)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *json = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "caption");
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, seq);
  json_builder_set_member_name (b, "final");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "start");
  json_builder_add_double_value (b, start);
  json_builder_set_member_name (b, "end");
  json_builder_add_double_value (b, end);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, NULL);
  cap_test_client_send (c, json);
}

void
cap_test_client_free (CapTestClient * c)
{
  if (c->ws && !c->closed) {
    if (soup_websocket_connection_get_state (c->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
          NULL);
    cap_test_wait (client_closed, c, CAP_TEST_WAIT_MS);
  }
  if (c->ws)
    g_signal_handlers_disconnect_by_data (c->ws, c);
  g_clear_object (&c->ws);
  g_clear_object (&c->msg);
  g_clear_object (&c->session);
  g_queue_clear_full (&c->messages, (GDestroyNotify) json_object_unref);
  g_queue_clear_full (&c->times, g_free);
  g_clear_error (&c->error);
  g_free (c->close_reason);
  g_free (c);
}

JsonObject *
cap_test_expect (CapTestClient * c, const gchar * type)
{
  JsonObject *m = cap_test_client_next (c, CAP_TEST_WAIT_MS);

  if (!m)
    g_error ("expected a %s message, got none (closed: %d %s)", type,
        c->close_code, c->close_reason ? c->close_reason : "");
  g_assert_cmpstr (json_object_get_string_member (m, "type"), ==, type);
  return m;
}

void
cap_test_expect_final (CapTestClient * c, gint64 id, const gchar * text)
{
  g_autoptr (JsonObject) m = cap_test_expect (c, "final");

  g_assert_cmpint (json_object_get_int_member (m, "id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (m, "text"), ==, text);
}

void
cap_test_expect_ack (CapTestClient * c, gint64 seq)
{
  g_autoptr (JsonObject) m = cap_test_expect (c, "ack");

  g_assert_cmpint (json_object_get_int_member (m, "seq"), ==, seq);
}

void
cap_test_expect_nothing (CapTestClient * c, guint ms)
{
  g_autoptr (JsonObject) m = NULL;

  cap_test_sleep (ms);
  m = cap_test_client_next (c, 0);
  if (m) {
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), m);
    g_autofree gchar *text = NULL;

    json_generator_set_root (gen, node);
    text = json_generator_to_data (gen, NULL);
    g_error ("expected nothing, got %s", text);
  }
}

/* ---------- publishers and viewers ---------- */

/* /publish/ROOM with a publish token for @sub (NULL: no sub). */
CapTestClient *
cap_test_open_publisher (CapTestServer * s, const gchar * room, const gchar * sub,
    gint64 expect_last_seq)
{
  g_autofree gchar *token = cap_test_token (s, NULL, room, "publish", sub, 0,
      600);
  g_autofree gchar *path = g_strdup_printf ("/publish/%s?token=%s", room,
      token);
  JsonObject *w = NULL;
  CapTestClient *c = cap_test_client_open (s, path, &w);

  g_assert_cmpstr (json_object_get_string_member (w, "room"), ==, room);
  g_assert_cmpstr (json_object_get_string_member (w, "publisher"), ==,
      sub ? sub : "default");
  g_assert_cmpint (json_object_get_int_member (w, "last_seq"), ==,
      expect_last_seq);
  json_object_unref (w);
  return c;
}

/* /watch/ROOM with a watch token and @query ("" or "&since=N"). */
CapTestClient *
cap_test_open_viewer (CapTestServer * s, const gchar * room, const gchar * query,
    gint64 expect_last_id)
{
  g_autofree gchar *token = cap_test_token (s, NULL, room, "watch", NULL, 0,
      600);
  g_autofree gchar *path = g_strdup_printf ("/watch/%s?token=%s%s", room,
      token, query);
  JsonObject *w = NULL;
  CapTestClient *c = cap_test_client_open (s, path, &w);

  g_assert_cmpstr (json_object_get_string_member (w, "room"), ==, room);
  g_assert_cmpint (json_object_get_int_member (w, "last_id"), ==,
      expect_last_id);
  json_object_unref (w);
  return c;
}

/* Sends finals @from..@to ("line N") and waits for each ack. */
void
cap_test_publish_range (CapTestClient * pub, gint64 from, gint64 to)
{
  gint64 seq;

  for (seq = from; seq <= to; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_client_send_final (pub, seq, text, seq, seq + 0.5);
    cap_test_expect_ack (pub, seq);
  }
}

void
cap_test_client_send_revision (CapTestClient * c, gint64 seq, gdouble start,
    gdouble end, const gchar * words)
{
  g_auto (GStrv) w = g_strsplit (words, " ", -1);
  GString *json = g_string_new (NULL);
  GString *text = g_string_new (NULL);
  guint i;

  g_string_append (json, "[");
  for (i = 0; w[i] && w[i + 1] && w[i + 2]; i += 3) {
    g_string_append_printf (json, "%s{\"text\":\"%s\",\"start\":%s,\"end\":%s}",
        i ? "," : "", w[i], w[i + 1], w[i + 2]);
    g_string_append_printf (text, "%s%s", i ? " " : "", w[i]);
  }
  g_string_append (json, "]");
  {
    gchar s[G_ASCII_DTOSTR_BUF_SIZE], e[G_ASCII_DTOSTR_BUF_SIZE];
    g_autofree gchar *msg = g_strdup_printf ("{\"type\":\"revision\",\"seq\":%"
        G_GINT64_FORMAT ",\"start\":%s,\"end\":%s,\"text\":\"%s\",\"words\":%s}",
        seq, g_ascii_dtostr (s, sizeof (s), start), g_ascii_dtostr (e, sizeof (e), end),
        text->str, json->str);

    cap_test_client_send (c, msg);
  }
  g_string_free (json, TRUE);
  g_string_free (text, TRUE);
}

/* ---------- HTTP ---------- */

gchar *
cap_test_transcript (CapTestServer * s, const gchar * room, const gchar * ext)
{
  g_autofree gchar *token = cap_test_token (s, NULL, room, "watch", NULL, 0, 60);
  g_autofree gchar *path = g_strdup_printf ("/rooms/%s/transcript.%s?token=%s",
      room, ext, token);
  guint status = 0;
  gchar *body = cap_test_http_get (s, path, NULL, &status);

  g_assert_cmpuint (status, ==, 200);
  return body;
}

gchar *
cap_test_http_get (CapTestServer * s, const gchar * path, const gchar * origin,
    guint * status)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout",
      CAP_TEST_WAIT_MS / 1000, NULL);
  g_autofree gchar *url = g_strconcat (s->base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  if (origin)
    soup_message_headers_replace (soup_message_get_request_headers (msg),
        "Origin", origin);
  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

JsonObject *
cap_test_health (CapTestServer * s)
{
  guint status = 0;
  g_autofree gchar *body = cap_test_http_get (s, "/health", NULL, &status);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (status, ==, 200);
  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

gdouble
cap_test_metric (CapTestServer * s, const gchar * name)
{
  guint status = 0;
  g_autofree gchar *body = cap_test_http_get (s, "/metrics", NULL, &status);
  g_auto (GStrv) lines = g_strsplit (body, "\n", -1);
  gsize len = strlen (name);
  guint i;

  g_assert_cmpuint (status, ==, 200);
  for (i = 0; lines[i]; i++)
    if (strncmp (lines[i], name, len) == 0 && lines[i][len] == ' ')
      return g_ascii_strtod (lines[i] + len + 1, NULL);
  return -1;
}

/* ---------- raw clients ---------- */

CapRawClient *
cap_raw_client_connect (CapTestServer * s, const gchar * path, gint rcvbuf)
{
  CapRawClient *c = g_new0 (CapRawClient, 1);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, s->port);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *request = NULL;
  gchar buf[4096];
  const guint8 *end;

  c->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  if (rcvbuf > 0)
    g_assert_true (g_socket_set_option (c->socket, SOL_SOCKET, SO_RCVBUF,
            rcvbuf, NULL));
  g_socket_set_timeout (c->socket, CAP_TEST_WAIT_MS / 1000);
  g_socket_connect (c->socket, addr, NULL, &error);
  g_assert_no_error (error);

  request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", path, s->port);
  g_assert_cmpint (g_socket_send (c->socket, request, strlen (request), NULL,
          &error), ==, (gssize) strlen (request));
  g_assert_no_error (error);

  /* The response headers; what follows them is the first frames. */
  c->buffer = g_byte_array_new ();
  while (!(end = c->buffer->len ? (const guint8 *) g_strstr_len ((const gchar *)
              c->buffer->data, c->buffer->len, "\r\n\r\n") : NULL)) {
    gssize n = g_socket_receive (c->socket, buf, sizeof (buf), NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpint (n, >, 0);
    g_byte_array_append (c->buffer, (const guint8 *) buf, n);
  }
  g_assert_true (g_str_has_prefix ((const gchar *) c->buffer->data,
          "HTTP/1.1 101"));
  g_byte_array_remove_range (c->buffer, 0, end + 4 - c->buffer->data);
  return c;
}

/* Parses one frame at the start of the buffer: its opcode and payload, or FALSE
 * when the buffer does not hold all of it. */
static gboolean
parse_frame (CapRawClient * c, guint * opcode, GBytes ** payload)
{
  const guint8 *d = c->buffer->data;
  guint64 len;
  gsize header = 2, i;

  if (c->buffer->len < 2)
    return FALSE;
  len = d[1] & 0x7f;
  if (len == 126)
    header = 4;
  else if (len == 127)
    header = 10;
  if (c->buffer->len < header)
    return FALSE;
  if (len == 126) {
    len = ((guint64) d[2] << 8) | d[3];
  } else if (len == 127) {
    len = 0;
    for (i = 2; i < 10; i++)
      len = (len << 8) | d[i];
  }
  /* Server frames are not masked. */
  g_assert_false (d[1] & 0x80);
  if (c->buffer->len < header + len)
    return FALSE;
  *opcode = d[0] & 0x0f;
  *payload = g_bytes_new (d + header, len);
  g_byte_array_remove_range (c->buffer, 0, header + len);
  return TRUE;
}

gint
cap_raw_client_read_until_close (CapRawClient * c, guint timeout_ms,
    guint * pings)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gchar buf[16384];

  while (TRUE) {
    g_autoptr (GBytes) payload = NULL;
    g_autoptr (GError) error = NULL;
    guint opcode;
    gssize n;
    gint64 left;

    while (parse_frame (c, &opcode, &payload)) {
      if (opcode == 0x8) {
        gsize len;
        const guint8 *p = g_bytes_get_data (payload, &len);

        return len >= 2 ? (p[0] << 8) | p[1] : 1005;
      }
      if (opcode == 0x9 && pings)
        (*pings)++;
      g_clear_pointer (&payload, g_bytes_unref);
    }
    left = deadline - g_get_monotonic_time ();
    if (left <= 0)
      return -1;
    g_socket_set_timeout (c->socket, MAX (1, (guint) (left / G_USEC_PER_SEC)));
    n = g_socket_receive (c->socket, buf, sizeof (buf), NULL, &error);
    if (n == 0 || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
        || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
      return 0;
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
      continue;
    g_assert_no_error (error);
    g_byte_array_append (c->buffer, (const guint8 *) buf, n);
  }
}

void
cap_raw_client_free (CapRawClient * c)
{
  g_socket_close (c->socket, NULL);
  g_object_unref (c->socket);
  g_byte_array_unref (c->buffer);
  g_free (c);
}

/* ---------- redis-server ---------- */

/* A port nothing listens on now (the kernel's pick for port 0). */
static guint16
free_port (void)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;
  guint16 port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);
  return port;
}

/* One PING on a fresh connection: TRUE when it answers +PONG. */
static gboolean
redis_pings (guint16 port)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  gchar reply[16] = { 0 };
  gsize n = 0;

  g_socket_client_set_timeout (client, 1);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL,
      NULL);
  if (!conn)
    return FALSE;
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM
              (conn)), "PING\r\n", 6, NULL, NULL, NULL) ||
      !g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM
              (conn)), reply, 7, &n, NULL, NULL))
    return FALSE;
  return n == 7 && strncmp (reply, "+PONG\r\n", 7) == 0;
}

static void
redis_spawn (CapTestRedis * r)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autofree gchar *port = g_strdup_printf ("%u", r->port);
  g_autoptr (GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + CAP_TEST_WAIT_MS * 1000;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  /* Loopback only, no persistence: a restart starts from nothing. */
  r->proc = g_subprocess_launcher_spawn (launcher, &error,
      r->path, "--port", port, "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no", "--dir", r->dir, "--loglevel", "warning", NULL);
  g_assert_no_error (error);
  while (!redis_pings (r->port)) {
    if (g_get_monotonic_time () > deadline)
      g_error ("redis-server on port %u did not answer within %d ms",
          r->port, CAP_TEST_WAIT_MS);
    g_usleep (50 * 1000);
  }
}

CapTestRedis *
cap_test_redis_start (void)
{
  const gchar *path = g_getenv ("REDIS_SERVER");
  g_autoptr (GError) error = NULL;
  CapTestRedis *r;

  if (!path || !*path)
    return NULL;
  r = g_new0 (CapTestRedis, 1);
  r->path = g_strdup (path);
  r->dir = g_dir_make_tmp ("stt-redis-XXXXXX", &error);
  g_assert_no_error (error);
  r->port = free_port ();
  r->url = g_strdup_printf ("redis://127.0.0.1:%u", r->port);
  redis_spawn (r);
  return r;
}

void
cap_test_redis_kill (CapTestRedis * r)
{
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (r->proc);
  g_subprocess_force_exit (r->proc);
  g_subprocess_wait (r->proc, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&r->proc);
}

void
cap_test_redis_restart (CapTestRedis * r)
{
  g_assert_null (r->proc);
  redis_spawn (r);
}

gchar *
cap_test_redis_call (CapTestRedis * r, const gchar * const *argv)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = NULL;
  g_autoptr (GString) request = g_string_new (NULL);
  g_autoptr (GDataInputStream) in = NULL;
  g_autoptr (GError) error = NULL;
  gchar *line;
  guint i;

  g_socket_client_set_timeout (client, CAP_TEST_WAIT_MS / 1000);
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", r->port, NULL,
      &error);
  g_assert_no_error (error);
  g_string_append_printf (request, "*%u\r\n", g_strv_length ((gchar **) argv));
  for (i = 0; argv[i]; i++)
    g_string_append_printf (request, "$%zu\r\n%s\r\n", strlen (argv[i]),
        argv[i]);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
      request->str, request->len, NULL, NULL, &error);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM
          (conn)));
  g_data_input_stream_set_newline_type (in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  line = g_data_input_stream_read_line (in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  /* A bulk string: its content. */
  if (line[0] == '$' && line[1] != '-') {
    gsize len = g_ascii_strtoull (line + 1, NULL, 10), n = 0;
    gchar *bulk = g_malloc0 (len + 3);

    g_input_stream_read_all (G_INPUT_STREAM (in), bulk, len + 2, &n, NULL,
        &error);
    g_assert_no_error (error);
    g_assert_cmpuint (n, ==, len + 2);
    bulk[len] = '\0';
    g_free (line);
    line = bulk;
  }
  return line;
}

void
cap_test_redis_free (CapTestRedis * r)
{
  if (!r)
    return;
  if (r->proc)
    cap_test_redis_kill (r);
  remove_tree (r->dir);
  g_free (r->dir);
  g_free (r->path);
  g_free (r->url);
  g_free (r);
}
