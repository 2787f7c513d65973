/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-server: runs one of the test servers in the foreground, for manual runs and
 * demos. Quits on SIGINT/SIGTERM.
 *
 *   stt-test-server --protocol deepgram [--port N] [--api-key K | --any-key] [--verbose]
 *   stt-test-server --protocol aws --signed-host transcribestreaming.us-west-2.amazonaws.com:8443
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>

#include "stt-test-aws.h"
#include "stt-test-server.h"

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *protocol = NULL;
  g_autofree gchar *api_key = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *protocols = NULL;
  g_autofree gchar *summary = NULL;
  g_autofree gchar *signed_host = NULL;
  gint port = 0, idle_timeout = -1;
  gboolean any_key = FALSE, verbose = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  SttTestServer *server;
  GOptionEntry entries[] = {
    {"protocol", 0, 0, G_OPTION_ARG_STRING, &protocol, "Protocol to speak", "NAME"},
    {"port", 0, 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (default: any free port)",
        "N"},
    {"api-key", 0, 0, G_OPTION_ARG_STRING, &api_key,
        "Key the server accepts (default: test-key)", "KEY"},
    {"any-key", 0, 0, G_OPTION_ARG_NONE, &any_key, "Accept any key, or none", NULL},
    {"idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
        "Close a connection idle for MS milliseconds (0 = never; default: the provider's)",
        "MS"},
    {"signed-host", 0, 0, G_OPTION_ARG_STRING, &signed_host,
        "aws: check signatures against HOST (what the client signed, e.g. the SDK's "
          "HOST:8443) instead of the Host header", "HOST"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log connections and messages", NULL},
    {NULL}
  };

  protocols = g_strjoinv (", ", (gchar **) stt_test_server_list_protocols ());
  summary = g_strdup_printf ("Protocols: %s.", protocols);
  context = g_option_context_new ("- local speech-to-text test server");
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return EXIT_FAILURE;
  }
  if (protocol == NULL || port < 0 || port > 65535) {
    g_printerr ("Usage: %s --protocol NAME [--port N] [--api-key KEY]\n%s\n", argv[0],
        summary);
    return EXIT_FAILURE;
  }
  if (signed_host != NULL && !g_str_equal (protocol, "aws")) {
    g_printerr ("--signed-host is for --protocol aws\n");
    return EXIT_FAILURE;
  }
  if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", G_LOG_DOMAIN, TRUE);

  server = stt_test_server_new_on_port (protocol, (guint) port, &error);
  if (server == NULL) {
    g_printerr ("stt-test-server: %s\n", error->message);
    return EXIT_FAILURE;
  }
  if (any_key)
    stt_test_server_set_api_key (server, NULL);
  else if (api_key != NULL)
    stt_test_server_set_api_key (server, api_key);
  if (idle_timeout >= 0)
    stt_test_server_set_idle_timeout (server, (guint) idle_timeout);
  if (signed_host != NULL)
    stt_test_aws_set_signed_host (server, signed_host);

  url = stt_test_server_get_url (server);
  printf ("listening on %s\n", url);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);

  stt_test_server_free (server);
  return EXIT_SUCCESS;
}
