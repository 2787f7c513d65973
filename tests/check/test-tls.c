/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* wss:// with certificates made at test time by the openssl command (OPENSSL names it):
 * rejected by default with a clear error naming the TLS failure, accepted with
 * tls-ca-file (a private CA, which replaces the system store), accepted with
 * tls-validate=false (insecure, warned) without weakening the other streams of the
 * process. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <libsoup/soup.h>

#include "stt-check-fixture.h"

static gchar *dir;
static gint n_upgrades;

static void
openssl (const gchar * args)
{
  g_autofree gchar *cmd = g_strdup_printf ("%s %s", g_getenv ("OPENSSL"), args);
  gint status;

  fail_unless (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "openssl %s", args);
}

/* CA @ca (ca.pem and ca.key in dir), and a certificate for 127.0.0.1 signed by it
 * (@server.pem, @server.key). */
static void
make_ca_and_server (const gchar * ca, const gchar * server)
{
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *ext = NULL;

  a = g_strdup_printf ("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stt-test-%s "
      "-keyout %s/%s.key -out %s/%s.pem", ca, dir, ca, dir, ca);
  openssl (a);
  b = g_strdup_printf ("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "
      "%s/%s.key -out %s/%s.csr", dir, server, dir, server);
  openssl (b);
  ext = g_build_filename (dir, "ext.cnf", NULL);
  fail_unless (g_file_set_contents (ext, "subjectAltName=IP:127.0.0.1\n", -1, NULL));
  c = g_strdup_printf ("x509 -req -in %s/%s.csr -CA %s/%s.pem -CAkey %s/%s.key "
      "-CAcreateserial -days 2 -extfile %s -out %s/%s.pem", dir, server, dir, ca, dir, ca,
      ext, dir, server);
  openssl (c);
}

/* CA "ca" signing "server", and a second CA "ca-b" signing "server-b". */
static void
make_certificates (void)
{
  dir = g_dir_make_tmp ("stt-tls-XXXXXX", NULL);
  make_ca_and_server ("ca", "server");
  make_ca_and_server ("ca-b", "server-b");
}

static void
remove_certificates (void)
{
  g_autofree gchar *cmd = g_strdup_printf ("rm -rf %s", dir);
  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
  g_free (dir);
}

static void
on_websocket (SoupServer * server, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * conn, gpointer data)
{
  g_atomic_int_inc (&n_upgrades);
  /* Keep it open until the client goes. */
  g_object_set_data_full (G_OBJECT (server), "conn", g_object_ref (conn),
      g_object_unref);
}

static gint n_tokens;

static void
on_token (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  static const gchar body[] = "{\"access_token\":\"tls-token\"}";

  g_atomic_int_inc (&n_tokens);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
      strlen (body));
}

static void
setup (gpointer server, gpointer data)
{
  soup_server_add_websocket_handler (server, "/v1/listen", NULL, NULL, on_websocket,
      NULL, NULL);
  soup_server_add_handler (server, "/token", on_token, NULL, NULL);
}

static gboolean
connected_or_failed (GList * collected, gpointer data)
{
  for (; collected; collected = collected->next) {
    const gchar *state = gst_structure_get_string (collected->data, "state");
    if (gst_structure_has_name (collected->data, "error") || !g_strcmp0 (state,
            "connected"))
      return TRUE;
  }
  return FALSE;
}

/* Connects to @url with tls-ca-file @ca_file and tls-validate @validate; with
 * @max_attempts >= 0, reconnect-max-attempts too; with @token_url, a token fetched from
 * there first. Returns the messages seen. */
static GList *
run_url (const gchar * url, const gchar * ca_file, gboolean validate, gint max_attempts,
    const gchar * token_url)
{
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GList *msgs;

  h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "provider", "deepgram", "url", url, "api-key", "test-key",
      "tls-validate", validate, "tls-ca-file", ca_file, NULL);
  if (max_attempts >= 0)
    g_object_set (h->element, "reconnect-max-attempts", max_attempts, NULL);
  if (token_url)
    g_object_set (h->element, "token-url", token_url, "token-method", "GET", NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 0.5, NULL,
          0, 0));
  msgs = stt_check_collect (bus, NULL, 10000, connected_or_failed, NULL);
  /* No retry loop after a TLS failure: its error comes after the session's final state
   * (stt_check_wait_fatal tells why that rules a retry out). */
  if (stt_check_has_error (msgs, NULL))
    fail_unless_equals_int (stt_check_count_state (msgs, "failed"), 1);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  return msgs;
}

/* Connects to a WebSocket server with certificate @server_name (server or server-b);
 * with @token, fetches a token over https from it first. */
static GList *
run_with (const gchar * server_name, const gchar * ca_file, gboolean validate,
    gboolean token)
{
  g_autofree gchar *cert_file = g_strconcat (server_name, ".pem", NULL);
  g_autofree gchar *key_file = g_strconcat (server_name, ".key", NULL);
  g_autofree gchar *cert_path = g_build_filename (dir, cert_file, NULL);
  g_autofree gchar *key_path = g_build_filename (dir, key_file, NULL);
  GTlsCertificate *cert = g_tls_certificate_new_from_files (cert_path, key_path, NULL);
  SttCheckSoup *server;
  g_autofree gchar *url = NULL;
  g_autofree gchar *token_url = NULL;
  GList *msgs;

  fail_unless (cert != NULL);
  server = stt_check_soup_new (cert, setup, NULL);
  url = g_strdup_printf ("wss://127.0.0.1:%u/v1/listen", stt_check_soup_get_port (server));
  if (token)
    token_url = g_strdup_printf ("https://127.0.0.1:%u/token",
        stt_check_soup_get_port (server));
  /* The session retries a failed token fetch: once is enough here. */
  msgs = run_url (url, ca_file, validate, token ? 0 : -1, token_url);
  stt_check_soup_free (server);
  g_object_unref (cert);
  return msgs;
}

static GList *
run (const gchar * ca_file, gboolean validate)
{
  return run_with ("server", ca_file, validate, FALSE);
}

static const gchar *
error_text (GList * msgs)
{
  for (; msgs; msgs = msgs->next)
    if (gst_structure_has_name (msgs->data, "error"))
      return gst_structure_get_string (msgs->data, "message");
  return NULL;
}

static guint
count_state (GList * msgs, const gchar * state)
{
  guint n = 0;

  for (; msgs; msgs = msgs->next)
    n += !g_strcmp0 (gst_structure_get_string (msgs->data, "state"), state);
  return n;
}

GST_START_TEST (test_untrusted_rejected)
{
  GList *msgs = run (NULL, TRUE);
  const gchar *err = error_text (msgs);

  fail_unless (err != NULL, "no error for an untrusted certificate");
  fail_unless (strstr (err, "TLS") != NULL && strstr (err, "tls-ca-file") != NULL, "%s",
      err);
  fail_unless_equals_int (count_state (msgs, "connected"), 0);
  fail_unless_equals_int (count_state (msgs, "reconnecting"), 0);
  fail_unless_equals_int (g_atomic_int_get (&n_upgrades), 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
}

GST_END_TEST;

GST_START_TEST (test_private_ca)
{
  g_autofree gchar *ca = g_build_filename (dir, "ca.pem", NULL);
  GList *msgs = run (ca, TRUE);

  fail_unless (error_text (msgs) == NULL, "%s", error_text (msgs));
  fail_unless_equals_int (count_state (msgs, "connected"), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
}

GST_END_TEST;

/* The token fetch (https) follows the same certificate checks as the WebSocket. */
GST_START_TEST (test_private_ca_token_url)
{
  g_autofree gchar *ca = g_build_filename (dir, "ca.pem", NULL);
  GList *msgs = run_with ("server", ca, TRUE, TRUE);
  gint tokens;

  fail_unless (error_text (msgs) == NULL, "%s", error_text (msgs));
  fail_unless_equals_int (count_state (msgs, "connected"), 1);
  tokens = g_atomic_int_get (&n_tokens);
  fail_unless (tokens >= 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  /* Without the CA the token service is never asked. */
  msgs = run_with ("server", NULL, TRUE, TRUE);
  fail_unless (error_text (msgs) && strstr (error_text (msgs), "TLS"), "%s",
      error_text (msgs));
  fail_unless_equals_int (count_state (msgs, "connected"), 0);
  fail_unless_equals_int (g_atomic_int_get (&n_tokens), tokens);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
}

GST_END_TEST;

GST_START_TEST (test_wrong_ca_rejected)
{
  /* A CA file that does not sign the server's certificate: still rejected. */
  g_autofree gchar *other = g_build_filename (dir, "other.pem", NULL);
  g_autofree gchar *args = g_strdup_printf ("req -x509 -newkey rsa:2048 -nodes -days 2 "
      "-subj /CN=other -keyout %s/other.key -out %s", dir, other);
  GList *msgs;

  openssl (args);
  msgs = run (other, TRUE);
  fail_unless (error_text (msgs) != NULL);
  fail_unless_equals_int (count_state (msgs, "connected"), 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
}

GST_END_TEST;

GST_START_TEST (test_validation_off)
{
  GList *msgs = run (NULL, FALSE);

  fail_unless (error_text (msgs) == NULL, "%s", error_text (msgs));
  fail_unless_equals_int (count_state (msgs, "connected"), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
}

GST_END_TEST;

/* tls-ca-file replaces the system store. A test cannot add a CA to the real store, so
 * the process's default database (what libsoup and glib-networking call the system
 * store) is made to trust CA B: a certificate from B must still be refused with a
 * tls-ca-file holding CA A only, and accepted with CA B. */
GST_START_TEST (test_ca_file_replaces_system_store)
{
  g_autofree gchar *ca_a = g_build_filename (dir, "ca.pem", NULL);
  g_autofree gchar *ca_b = g_build_filename (dir, "ca-b.pem", NULL);
  GTlsBackend *backend = g_tls_backend_get_default ();
  GTlsDatabase *system_b = g_tls_file_database_new (ca_b, NULL);
  GList *msgs;
  const gchar *err;

  fail_unless (system_b != NULL);
  g_tls_backend_set_default_database (backend, system_b);

  /* The "system store" accepts server-b: the test would see the store added to. */
  msgs = run_with ("server-b", NULL, TRUE, FALSE);
  fail_unless (error_text (msgs) == NULL, "%s", error_text (msgs));
  fail_unless_equals_int (count_state (msgs, "connected"), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  msgs = run_with ("server-b", ca_a, TRUE, FALSE);
  err = error_text (msgs);
  fail_unless (err != NULL && strstr (err, "TLS") != NULL,
      "a certificate the tls-ca-file does not vouch for was accepted: %s", err);
  fail_unless_equals_int (count_state (msgs, "connected"), 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  msgs = run_with ("server-b", ca_b, TRUE, FALSE);
  fail_unless (error_text (msgs) == NULL, "%s", error_text (msgs));
  fail_unless_equals_int (count_state (msgs, "connected"), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  g_tls_backend_set_default_database (backend, NULL);
  g_object_unref (system_b);
}

GST_END_TEST;

/* An `openssl s_server -www` with the certificate of CA "ca": unlike SoupServer, it
 * issues TLS 1.3 session tickets, which glib-networking caches for the whole process.
 * Returns the process and sets @url. */
static GSubprocess *
start_ticket_server (gchar ** url)
{
  g_autofree gchar *cert = g_build_filename (dir, "server.pem", NULL);
  g_autofree gchar *key = g_build_filename (dir, "server.key", NULL);
  const gchar *argv[] = { g_getenv ("OPENSSL"), "s_server", "-accept", "127.0.0.1:0",
    "-cert", cert, "-key", key, "-www", NULL
  };
  GSubprocess *proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  GDataInputStream *out;
  gchar *line;
  const gchar *port = NULL;

  fail_unless (proc != NULL);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  /* "ACCEPT 127.0.0.1:PORT", at once (EOF if openssl failed). */
  while (port == NULL && (line = g_data_input_stream_read_line (out, NULL, NULL, NULL))) {
    if (g_str_has_prefix (line, "ACCEPT 127.0.0.1:"))
      *url = g_strdup_printf ("wss://127.0.0.1:%s/v1/listen", port = line + 17);
    g_free (line);
  }
  g_object_unref (out);
  fail_unless (port != NULL, "openssl s_server did not start");
  return proc;
}

/* A stream that checks less (@ca_file, or no validation) first, then a stream that
 * validates against the system store, to the same untrusted server in one process: the
 * second must be refused with the TLS error, not resume the session the first accepted. */
static void
check_no_weakening (const gchar * ca_file, gboolean validate)
{
  g_autofree gchar *url = NULL;
  GSubprocess *proc = start_ticket_server (&url);
  GList *msgs;
  const gchar *err;

  /* s_server answers the upgrade with a status page: this stream fails, but only after
   * its TLS handshake succeeded (and a session ticket came). */
  msgs = run_url (url, ca_file, validate, 0, NULL);
  err = error_text (msgs);
  fail_unless (err != NULL && strstr (err, "TLS") == NULL, "%s", err);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  msgs = run_url (url, NULL, TRUE, 0, NULL);
  err = error_text (msgs);
  fail_unless (err != NULL, "a validating stream reached an untrusted server");
  fail_unless (strstr (err, "TLS") != NULL && strstr (err, "tls-ca-file") != NULL,
      "a validating stream resumed a TLS session another accepted: %s", err);
  fail_unless_equals_int (count_state (msgs, "connected"), 0);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
  g_object_unref (proc);
}

GST_START_TEST (test_validation_off_isolated)
{
  check_no_weakening (NULL, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_private_ca_isolated)
{
  g_autofree gchar *ca = g_build_filename (dir, "ca.pem", NULL);

  check_no_weakening (ca, TRUE);
}

GST_END_TEST;

static Suite *
tls_suite (void)
{
  Suite *s = suite_create ("tls");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_unchecked_fixture (tc, make_certificates, remove_certificates);
  tcase_add_test (tc, test_untrusted_rejected);
  tcase_add_test (tc, test_private_ca);
  tcase_add_test (tc, test_private_ca_token_url);
  tcase_add_test (tc, test_wrong_ca_rejected);
  tcase_add_test (tc, test_validation_off);
  tcase_add_test (tc, test_ca_file_replaces_system_store);
  tcase_add_test (tc, test_validation_off_isolated);
  tcase_add_test (tc, test_private_ca_isolated);
  return s;
}

GST_CHECK_MAIN (tls);
