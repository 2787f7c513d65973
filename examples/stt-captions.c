/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-captions: transcribe an audio file (or any URI) with stttranscribe, print the
 * captions as they arrive, and write them as WebVTT.
 *
 *   stt-captions [--provider vosk] [--url ws://127.0.0.1:2700] [--vtt out.vtt] FILE
 *
 * The key for cloud providers comes from --api-key-file or the environment
 * (DEEPGRAM_API_KEY, STT_API_KEY...), never from the command line history. */
#include <unistd.h>
#include <gst/gst.h>

typedef struct
{
  GMainLoop *loop;
  gint status;
  gboolean partial_shown;
  gboolean tty;
} App;

static void
print_time (GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t)) {
    g_print ("--:--.--");
    return;
  }
  g_print ("%02u:%02u.%02u", (guint) (t / (60 * GST_SECOND)),
      (guint) ((t / GST_SECOND) % 60), (guint) ((t / (10 * GST_MSECOND)) % 100));
}

static gboolean
on_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  App *app = data;
  const GstStructure *s = gst_message_get_structure (msg);

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_structure_has_name (s, "stt-transcript")) {
        gboolean final = FALSE;
        GstClockTime pts = GST_CLOCK_TIME_NONE, dur = GST_CLOCK_TIME_NONE;

        gst_structure_get_boolean (s, "is-final", &final);
        gst_structure_get_clock_time (s, "pts", &pts);
        gst_structure_get_clock_time (s, "duration", &dur);
        if (final) {
          /* Overwrite the partial line with the final caption. */
          g_print ("%s[", app->tty ? "\r\033[K" : "");
          print_time (pts);
          g_print (" --> ");
          print_time (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (dur) ?
              pts + dur : GST_CLOCK_TIME_NONE);
          g_print ("] %s\n", gst_structure_get_string (s, "text"));
          app->partial_shown = FALSE;
        } else if (app->tty) {
          /* Partials only where they can be overwritten in place. */
          g_print ("\r\033[K  ... %s", gst_structure_get_string (s, "text"));
          app->partial_shown = TRUE;
        }
      } else if (gst_structure_has_name (s, "stt-stats")) {
        gdouble progress;
        GstClockTime eta = GST_CLOCK_TIME_NONE;

        /* A file of known length: how far, and how long to go, on stderr. */
        if (gst_structure_get_double (s, "progress", &progress)) {
          gst_structure_get_clock_time (s, "eta", &eta);
          g_printerr ("(transcribed %.0f%%", progress * 100);
          if (GST_CLOCK_TIME_IS_VALID (eta) && progress < 1.0)
            g_printerr (", about %.0f s to go", (gdouble) eta / GST_SECOND);
          g_printerr (")\n");
        }
      } else if (gst_structure_has_name (s, "stt-connection")) {
        const gchar *state = gst_structure_get_string (s, "state");
        const gchar *reason = gst_structure_get_string (s, "reason");

        if (g_strcmp0 (state, "reconnecting") == 0)
          g_printerr ("(reconnecting: %s)\n", reason);
      }
      break;
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL;

      gst_message_parse_error (msg, &err, &dbg);
      g_printerr ("%sError: %s\n", app->partial_shown ? "\n" : "", err->message);
      if (dbg)
        g_printerr ("(%s)\n", dbg);
      g_clear_error (&err);
      g_free (dbg);
      app->status = 1;
      g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_WARNING:{
      /* Audio that will not be transcribed, an outage: the user must hear of it. */
      GError *err = NULL;

      gst_message_parse_warning (msg, &err, NULL);
      g_printerr ("%sWarning: %s\n", app->partial_shown ? "\n" : "", err->message);
      g_clear_error (&err);
      break;
    }
    case GST_MESSAGE_EOS:
      if (app->partial_shown)
        g_print ("\n");
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  gchar *provider = NULL, *url = NULL, *vtt = NULL, *key_file = NULL, *language = NULL;
  GOptionEntry entries[] = {
    {"provider", 'p', 0, G_OPTION_ARG_STRING, &provider, "Provider (default: vosk)", "NAME"},
    {"url", 'u', 0, G_OPTION_ARG_STRING, &url, "Service endpoint", "URL"},
    {"api-key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file, "File with the API key",
        "FILE"},
    {"language", 'l', 0, G_OPTION_ARG_STRING, &language, "Language code", "CODE"},
    {"vtt", 'o', 0, G_OPTION_ARG_FILENAME, &vtt, "Write WebVTT captions here", "FILE"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("FILE-OR-URI - print live captions");
  GError *err = NULL;
  App app = { 0, };
  GstElement *pipeline, *stt;
  gchar *uri, *desc;
  GstBus *bus;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc != 2) {
    g_printerr ("%s\n", err ? err->message : "give one file or URI");
    return 2;
  }
  g_option_context_free (ctx);

  uri = gst_uri_is_valid (argv[1]) ? g_strdup (argv[1]) :
      gst_filename_to_uri (argv[1], NULL);
  desc = g_strdup_printf ("uridecodebin uri=\"%s\" ! audioconvert ! audioresample ! "
      "stttranscribe name=stt ! %s", uri,
      vtt ? "webvttenc ! filesink name=out" : "fakesink");
  pipeline = gst_parse_launch (desc, &err);
  if (pipeline == NULL) {
    g_printerr ("Could not build the pipeline: %s\n", err->message);
    return 1;
  }
  stt = gst_bin_get_by_name (GST_BIN (pipeline), "stt");
  if (provider)
    g_object_set (stt, "provider", provider, NULL);
  if (url)
    g_object_set (stt, "url", url, NULL);
  if (key_file)
    g_object_set (stt, "api-key-file", key_file, NULL);
  if (language)
    g_object_set (stt, "language-code", language, NULL);
  if (vtt) {
    GstElement *out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
    g_object_set (out, "location", vtt, NULL);
    gst_object_unref (out);
  }
  gst_object_unref (stt);

  app.tty = isatty (STDOUT_FILENO);
  app.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_message, &app);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_main_loop_run (app.loop);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (vtt && app.status == 0)
    g_print ("Captions written to %s\n", vtt);

  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_main_loop_unref (app.loop);
  g_free (uri);
  g_free (desc);
  return app.status;
}
