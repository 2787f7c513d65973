/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Secrets never show: a full run with every debug category at level 9 (and GLib's own
 * debug output) with a known API key, a known temporary token and a known password in the
 * URL; none may appear in anything logged or posted. The key also never reads back in
 * clear. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <libsoup/soup.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

#define KEY "sk-SECRET-KEY-8d1f0c"
#define TOKEN "tok-TEMPORARY-5e7a91"
#define PASSWORD "HUNTER2-pw-77d3"

static void
token_handler (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  static const gchar body[] = "{\"access_token\":\"" TOKEN "\",\"expires_in\":30}";
  const gchar *auth = soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");

  if (g_strcmp0 (auth, "Token " KEY) != 0) {
    soup_server_message_set_status (msg, 401, NULL);
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
      strlen (body));
}

static void
token_setup (gpointer soup, gpointer data)
{
  soup_server_add_handler (soup, "/token", token_handler, NULL, NULL);
}

static void
assert_clean (const gchar * where, const gchar * text)
{
  fail_unless (strstr (text, KEY) == NULL, "the API key shows in %s", where);
  fail_unless (strstr (text, TOKEN) == NULL, "the token shows in %s", where);
  fail_unless (strstr (text, PASSWORD) == NULL, "the URL's password shows in %s", where);
  /* Not even partly (a prefix long enough to be useful). */
  fail_unless (strstr (text, "SECRET-KEY") == NULL, "part of the key shows in %s", where);
  fail_unless (strstr (text, "TEMPORARY-5e7a") == NULL, "part of the token in %s", where);
}

/* With @password, the URL is ws://alice:PASSWORD@127.0.0.1:PORT/... */
static void
run (gboolean with_token, gboolean reject, gboolean password)
{
  static const SttTone tones[] = { {0.5, 0.9, 440} };
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  SttCheckSoup *tokens = stt_check_soup_new (NULL, token_setup, NULL);
  g_autofree gchar *plain_url = stt_test_server_get_url (server);
  g_autofree gchar *url = password && g_str_has_prefix (plain_url, "ws://") ?
      g_strconcat ("ws://alice:" PASSWORD "@", plain_url + 5, NULL) :
      g_strdup (plain_url);
  g_autofree gchar *token_url = g_strdup_printf ("http://127.0.0.1:%u/token",
      stt_check_soup_get_port (tokens));
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  GstBus *bus = gst_bus_new ();
  GString *posted = g_string_new (NULL);
  const GString *logged;
  GList *msgs, *l;
  gchar *readback = NULL;

  stt_test_server_set_api_key (server, reject ? "something-else" : with_token ? TOKEN : KEY);
  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "provider", "deepgram", "url", url, "api-key", KEY,
      "latency", (guint) 60000, "reconnect-max-attempts", 0, NULL);
  if (with_token) {
    GstStructure *headers = gst_structure_new ("h", "Authorization", G_TYPE_STRING,
        "Token $API_KEY", NULL);
    g_object_set (h->element, "token-url", token_url, "token-headers", headers, NULL);
    gst_structure_free (headers);
  }
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 1.5, tones,
          1, 0));
  gst_harness_push_event (h, gst_event_new_eos ());
  msgs = stt_check_collect (bus, NULL, 10000,
      reject ? stt_check_has_error : stt_check_n_finals, GUINT_TO_POINTER (1));
  for (l = msgs; l; l = l->next) {
    gchar *s = gst_structure_to_string (l->data);
    g_string_append_printf (posted, "%s\n", s);
    g_free (s);
  }
  g_object_get (h->element, "api-key", &readback, NULL);
  fail_unless_equals_string (readback, "***");
  g_free (readback);

  if (reject)
    fail_unless (strstr (posted->str, "error") != NULL, "no error: %s", posted->str);
  else
    fail_unless (strstr (posted->str, "is-final=(boolean)true") != NULL, "no final");
  /* The server really got the secret: the test would catch a leak. */
  if (!reject) {
    g_autofree gchar *auth = stt_test_server_get_header (server, 0, "Authorization");
    fail_unless (strstr (auth, with_token ? TOKEN : KEY) != NULL);
  }
  assert_clean ("a bus message", posted->str);
  logged = stt_check_log_lock ();
  fail_unless (logged->len > 10000, "the debug log is suspiciously short");
  assert_clean ("the debug log", logged->str);
  stt_check_log_unlock ();

  g_string_free (posted, TRUE);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  stt_check_soup_free (tokens);
  stt_test_server_free (server);
}

static void
setup (void)
{
  /* Everything, whatever GST_DEBUG says. */
  stt_check_log_capture_start ("*:9", FALSE);
}

GST_START_TEST (test_key_never_shows)
{
  setup ();
  run (FALSE, FALSE, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_token_never_shows)
{
  setup ();
  run (TRUE, FALSE, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_rejected_key_never_shows)
{
  setup ();
  run (FALSE, TRUE, FALSE);
}

GST_END_TEST;

GST_START_TEST (test_url_password_never_shows)
{
  /* In the stt-connection messages, the INFO log and any error naming the URL. */
  setup ();
  run (FALSE, FALSE, TRUE);
}

GST_END_TEST;

GST_START_TEST (test_url_password_rejected_never_shows)
{
  setup ();
  run (FALSE, TRUE, TRUE);
}

GST_END_TEST;

static Suite *
secrets_suite (void)
{
  Suite *s = suite_create ("secrets");
  TCase *tc = tcase_create ("general");

  /* GLib's debug output too (libsoup logs there). */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_key_never_shows);
  tcase_add_test (tc, test_token_never_shows);
  tcase_add_test (tc, test_rejected_key_never_shows);
  tcase_add_test (tc, test_url_password_never_shows);
  tcase_add_test (tc, test_url_password_rejected_never_shows);
  return s;
}

GST_CHECK_MAIN (secrets);
