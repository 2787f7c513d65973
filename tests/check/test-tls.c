/* wss:// with certificates made at test time by the openssl command (OPENSSL names it):
 * rejected by default with a clear error naming the TLS failure, accepted with
 * tls-ca-file (a private CA), accepted with tls-validate=false (insecure, warned). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <libsoup/soup.h>

#include "stt-check-utils.h"

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

/* A CA, and a server certificate for 127.0.0.1 signed by it. */
static void
make_certificates (void)
{
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *ext = NULL;

  dir = g_dir_make_tmp ("stt-tls-XXXXXX", NULL);
  a = g_strdup_printf ("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stt-test-ca "
      "-keyout %s/ca.key -out %s/ca.pem", dir, dir);
  openssl (a);
  b = g_strdup_printf ("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "
      "%s/server.key -out %s/server.csr", dir, dir);
  openssl (b);
  ext = g_build_filename (dir, "ext.cnf", NULL);
  fail_unless (g_file_set_contents (ext, "subjectAltName=IP:127.0.0.1\n", -1, NULL));
  c = g_strdup_printf ("x509 -req -in %s/server.csr -CA %s/ca.pem -CAkey %s/ca.key "
      "-CAcreateserial -days 2 -extfile %s -out %s/server.pem", dir, dir, dir, ext, dir);
  openssl (c);
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

static void
setup (gpointer server, gpointer data)
{
  soup_server_add_websocket_handler (server, "/v1/listen", NULL, NULL, on_websocket,
      NULL, NULL);
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

/* Connects to a TLS server with @props set; returns the messages seen. */
static GList *
run (const gchar * ca_file, gboolean validate)
{
  g_autofree gchar *cert_path = g_build_filename (dir, "server.pem", NULL);
  g_autofree gchar *key_path = g_build_filename (dir, "server.key", NULL);
  GTlsCertificate *cert = g_tls_certificate_new_from_files (cert_path, key_path, NULL);
  SttCheckSoup *server;
  g_autofree gchar *url = NULL;
  GstHarness *h;
  GstBus *bus = gst_bus_new ();
  GList *msgs;

  fail_unless (cert != NULL);
  server = stt_check_soup_new (cert, setup, NULL);
  url = g_strdup_printf ("wss://127.0.0.1:%u/v1/listen", stt_check_soup_get_port (server));
  h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "provider", "deepgram", "url", url, "api-key", "test-key",
      "tls-validate", validate, "tls-ca-file", ca_file, NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 0.5, NULL,
          0, 0));
  msgs = stt_check_collect (bus, NULL, 10000, connected_or_failed, NULL);
  /* No retry loop after a TLS failure. */
  g_usleep (500 * 1000);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  stt_check_soup_free (server);
  g_object_unref (cert);
  return msgs;
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

static Suite *
tls_suite (void)
{
  Suite *s = suite_create ("tls");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_unchecked_fixture (tc, make_certificates, remove_certificates);
  tcase_add_test (tc, test_untrusted_rejected);
  tcase_add_test (tc, test_private_ca);
  tcase_add_test (tc, test_wrong_ca_rejected);
  tcase_add_test (tc, test_validation_off);
  return s;
}

GST_CHECK_MAIN (tls);
