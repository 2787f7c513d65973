/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-local-server: an offline speech recognizer that speaks the
 * vosk-server WebSocket protocol, backed by pocketsphinx. tools/README.md
 * says how to run it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Files:
 *   main.c            options, start-up, signals, shutdown
 *   server.h          what the files share: the options and the server's state
 *   vosk-protocol.c   HTTP requests and WebSocket messages: the vosk protocol,
 *                     /health, the limits on clients
 *   worker.c          each client's jobs, run on a thread pool; replies back to
 *                     the main thread
 *   recognizer.c      pocketsphinx: a client's audio to vosk results, resampling,
 *                     finding the model
 *   decoders.c        decoders loaded ahead of the clients (--pool)
 * The listening socket and each connection's guard (message size, backpressure)
 * are ../stt-local-listener.c and ../stt-local-guard.c, the command line's
 * chores ../stt-tool-options.c, shared with stt-caption-server.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <gst/gst.h>

#include <sphinxbase/err.h>

#include "stt-tool-options.h"
#include "recognizer.h"
#include "server.h"
#include "vosk-protocol.h"
#include "worker.h"

#ifndef STT_DEFAULT_MODEL_DIR
#define STT_DEFAULT_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
#endif
#ifndef VERSION
#define VERSION "dev"
#endif

#define DEFAULT_PORT 2700
#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_POOL 2
#define DEFAULT_IDLE_TIMEOUT 60
/* --max-clients is this many per core: live streams of speech decoded in real time
 * without the results falling behind. Measured by bench/bench-local-capacity on a
 * 2-core AMD EPYC VM (bench/README.md, "Local recognizer capacity"): 8 streams showed
 * no growth of lag, 12 kept up but their lag grew in the last seconds (0.10-0.11 CPU s
 * per audio s each, 1.2 cores), 16 did not (their lag grew to 8 s in a minute). 5 per
 * core leaves room below 12 for the clients and the system. More clients than the cores
 * decode would make every client's text late; refused ones retry (503, Retry-After) or
 * go to another server. */
#define STREAMS_PER_CORE 5

#define SHUTDOWN_GRACE_MS 3000
/* Seconds for a connection to complete its WebSocket handshake. */
#define HANDSHAKE_TIMEOUT 10

void
log_info (Server * server, const gchar * format, ...)
{
  g_autofree gchar *text = NULL;
  va_list args;

  if (server->opts.quiet)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr (PROGRAM ": %s\n", text);
}

/* ---------- signals ---------- */

/* Clients that did not answer our close frame in time are dropped. */
static gboolean
on_grace_timeout (gpointer user_data)
{
  Server *server = user_data;

  server->grace_id = 0;
  vosk_protocol_drop_all (server);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
  Server *server = user_data;

  if (server->shutting_down) {
    /* Second signal: do not wait for clients. */
    on_grace_timeout (server);
    return G_SOURCE_CONTINUE;
  }
  server->shutting_down = TRUE;
  log_info (server, "shutting down (%u active connection%s)",
      server->active_connections,
      server->active_connections == 1 ? "" : "s");

  g_clear_pointer (&server->listener, stt_listener_free);
  /* Connections still in their HTTP request. */
  soup_server_disconnect (server->soup);
  server->grace_id = g_timeout_add (SHUTDOWN_GRACE_MS, on_grace_timeout,
      server);
  vosk_protocol_close_all (server);
  return G_SOURCE_CONTINUE;
}

/* ---------- options ---------- */

static void
options_clear (Options * opts)
{
  g_clear_pointer (&opts->host, g_free);
  g_clear_pointer (&opts->model_dir, g_free);
  g_clear_pointer (&opts->hmm, g_free);
  g_clear_pointer (&opts->lm, g_free);
  g_clear_pointer (&opts->dict, g_free);
  g_clear_pointer (&opts->ps_args, g_strfreev);
  g_clear_pointer (&opts->allow_origins, g_strfreev);
}

static gboolean
parse_options (Options * opts, int *argc, char ***argv, GError ** error)
{
  g_auto (GStrv) raw_ps_args = NULL;
  GOptionEntry entries[] = {
    {"port", 'p', 0, G_OPTION_ARG_INT, &opts->port,
        "TCP port to listen on, 0 for any free port (default 2700)", "N"},
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opts->host,
        "Address to listen on (default 127.0.0.1)", "ADDR"},
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &opts->model_dir,
          "pocketsphinx model directory (default " STT_DEFAULT_MODEL_DIR ")",
        "DIR"},
    {"lm", 0, 0, G_OPTION_ARG_FILENAME, &opts->lm,
        "Language model (default DIR/<name>.lm.bin)", "FILE"},
    {"dict", 0, 0, G_OPTION_ARG_FILENAME, &opts->dict,
        "Pronunciation dictionary (default DIR/cmudict-<name>.dict)", "FILE"},
    {"pool", 0, 0, G_OPTION_ARG_INT, &opts->pool_size,
          "Decoders loaded at start-up and kept for new clients, about 90 MB "
          "each; while clients are connected, one spare beyond theirs "
          "(default 2)", "N"},
    {"max-clients", 0, 0, G_OPTION_ARG_INT, &opts->max_clients,
          "Clients served at once, each with its own decoder; more are "
          "answered 503 (default " G_STRINGIFY (STREAMS_PER_CORE) " per core: "
          "below what one core decodes in real time)", "N"},
    {"idle-timeout", 0, 0, G_OPTION_ARG_INT, &opts->idle_timeout,
          "Close a client that sends nothing for this long, in seconds; 0 "
          "for never (default 60)", "SECONDS"},
    {"allow-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->allow_origins,
          "Serve web pages from ORIGIN (e.g. http://localhost:8000, or * for "
          "any); requests with another Origin header get 403 (repeatable)",
        "ORIGIN"},
    {"ps-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &raw_ps_args,
        "Extra pocketsphinx argument, e.g. lw=6.5 (repeatable)", "NAME=VALUE"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opts->quiet,
        "Only print the listening line and errors", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &opts->verbose,
        "Log every message and pocketsphinx's own log", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx =
      g_option_context_new ("- local speech recognizer (vosk protocol)");

  g_option_context_set_summary (ctx,
      "Serves the vosk-server WebSocket protocol on ws://HOST:PORT/ using "
      "pocketsphinx,\nand GET /health with counters as JSON. Messages are "
      "limited to 1 MiB, and a client\nthat sends faster than it is decoded "
      "is slowed down (1 MiB queued at most).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!stt_tool_parse_options (ctx, PROGRAM, VERSION, argc, argv, error) ||
      !stt_tool_check_range ("port", opts->port, 0, 65535, error) ||
      !stt_tool_check_min ("pool", opts->pool_size, 0, error) ||
      !stt_tool_check_min ("max-clients", opts->max_clients, 1, error) ||
      !stt_tool_check_min ("idle-timeout", opts->idle_timeout, 0, error))
    return FALSE;
  if (opts->quiet && opts->verbose)
    opts->quiet = FALSE;
  if (!opts->host)
    opts->host = g_strdup (DEFAULT_HOST);
  if (!opts->model_dir)
    opts->model_dir = g_strdup (STT_DEFAULT_MODEL_DIR);
  return recognizer_split_ps_args (raw_ps_args, &opts->ps_args, error);
}

/* ---------- main ---------- */

/* Prints the line scripts wait for; call once clients can be served. */
static void
server_announce (Server * server)
{
  g_autofree gchar *url = stt_listener_get_url (server->listener, "ws");

  printf ("listening on %s\n", url);
  fflush (stdout);
}

/* Messages of the other files (g_message, g_warning), in the same form as
 * log_info(); --quiet keeps only warnings. */
static void
on_log (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer user_data)
{
  Options *opts = user_data;

  if (level & G_LOG_LEVEL_DEBUG) {
    /* libsoup logs every frame. */
    if (!opts->verbose || domain)
      return;
  } else if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) {
    if (opts->quiet)
      return;
  }
  g_printerr (PROGRAM ": %s%s%s\n", domain ? domain : "", domain ? ": " : "",
      message);
}

int
main (int argc, char *argv[])
{
  Server server = { 0 };
  g_autoptr (GError) error = NULL;

  server.opts.port = DEFAULT_PORT;
  server.opts.pool_size = DEFAULT_POOL;
  server.opts.max_clients = STREAMS_PER_CORE * g_get_num_processors ();
  server.opts.idle_timeout = DEFAULT_IDLE_TIMEOUT;

  if (!parse_options (&server.opts, &argc, &argv, &error))
    return stt_tool_usage_error (PROGRAM, error);
  g_log_set_default_handler (on_log, &server.opts);
  /* Only the audio library is used (resampling): no plugin registry to scan. */
  g_setenv ("GST_REGISTRY_DISABLE", "yes", FALSE);
  gst_init (NULL, NULL);

  if (!recognizer_find_model (server.opts.model_dir, &server.opts.hmm,
          &server.opts.lm, &server.opts.dict, &error)) {
    g_printerr (PROGRAM ": %s\n", error->message);
    g_printerr (PROGRAM ": the Debian package pocketsphinx-en-us provides "
        "the default model (apt-get install pocketsphinx-en-us), or pass "
        "--model DIR / --lm FILE / --dict FILE\n");
    return 1;
  }

  /* pocketsphinx logs every step of model loading to stderr. */
  if (!server.opts.verbose)
    err_set_logfp (NULL);

  server.context = g_main_context_ref_thread_default ();
  server.loop = g_main_loop_new (server.context, FALSE);
  server.soup = soup_server_new ("server-header", PROGRAM "/" VERSION, NULL);
  vosk_protocol_add_handlers (&server);
  server.workers = worker_pool_new (&server);

  /* Bind before loading the model so a busy port fails at once; clients
   * wait in the backlog until the loop runs. */
  server.listener = stt_listener_new_on_host (server.soup, server.opts.host,
      server.opts.port, MAX_MESSAGE_SIZE, HANDSHAKE_TIMEOUT, &error);
  if (!server.listener)
    goto failed;

  /* Loads one decoder now (checking the model), the others in the
   * background. */
  server.decoders = stt_decoders_new (server.opts.hmm, server.opts.lm,
      server.opts.dict, server.opts.ps_args, server.opts.pool_size,
      server.opts.max_clients, &error);
  if (!server.decoders)
    goto failed;

  log_info (&server, "model %s, lm %s, dict %s", server.opts.hmm,
      server.opts.lm, server.opts.dict);
  server_announce (&server);

  g_unix_signal_add (SIGINT, on_signal, &server);
  g_unix_signal_add (SIGTERM, on_signal, &server);
  g_main_loop_run (server.loop);

  if (server.grace_id)
    g_source_remove (server.grace_id);
  goto out;

failed:
  g_printerr (PROGRAM ": %s\n", error->message);
  server.exit_code = 1;

out:
  /* Every session is done here, so no worker will queue more work. */
  g_thread_pool_free (server.workers, FALSE, TRUE);
  while (g_main_context_pending (server.context))
    g_main_context_iteration (server.context, FALSE);
  g_clear_pointer (&server.listener, stt_listener_free);
  g_clear_object (&server.soup);
  g_clear_pointer (&server.decoders, stt_decoders_free);
  g_main_loop_unref (server.loop);
  g_main_context_unref (server.context);
  options_clear (&server.opts);
  if (server.exit_code == 0)
    log_info (&server, "stopped");
  return server.exit_code;
}
