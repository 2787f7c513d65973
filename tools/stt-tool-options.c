/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-tool-options: see stt-tool-options.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>

#include "stt-tool-options.h"

gboolean
stt_tool_parse_options (GOptionContext * ctx, const gchar * program,
    const gchar * version, int *argc, char ***argv, GError ** error)
{
  gboolean print_version = FALSE;
  GOptionEntry entries[] = {
    {"version", 0, 0, G_OPTION_ARG_NONE, &print_version, "Print the version", NULL},
    {NULL}
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    return FALSE;
  if (print_version) {
    printf ("%s %s\n", program, version);
    exit (0);
  }
  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "unexpected argument \"%s\"", (*argv)[1]);
    return FALSE;
  }
  return TRUE;
}

gboolean
stt_tool_check_range (const gchar * name, gint value, gint min, gint max,
    GError ** error)
{
  if (value >= min && value <= max)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "--%s must be %d..%d", name, min, max);
  return FALSE;
}

gboolean
stt_tool_check_min (const gchar * name, gint value, gint min, GError ** error)
{
  if (value >= min)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
      "--%s must be >= %d", name, min);
  return FALSE;
}

gint
stt_tool_usage_error (const gchar * program, const GError * error)
{
  g_printerr ("%s: %s\n", program, error->message);
  g_printerr ("Run '%s --help' for the options.\n", program);
  return 2;
}
