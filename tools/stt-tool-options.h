/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-tool-options: the command-line chores the programs in tools/ share: --version,
 * no arguments besides the options, range checks worded alike, and how a mistake on
 * the command line is reported. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses @argv with @ctx after adding --version to its main entries (last, so --help
 * lists it last). With --version, prints "@program @version" and exits 0. An argument
 * that is not an option is an error. */
gboolean stt_tool_parse_options (GOptionContext * ctx, const gchar * program,
    const gchar * version, int *argc, char ***argv, GError ** error);

/* FALSE with "--@name must be @min..@max" unless @value is in that range. */
gboolean stt_tool_check_range (const gchar * name, gint value, gint min, gint max,
    GError ** error);
/* FALSE with "--@name must be >= @min" unless @value is at least @min. */
gboolean stt_tool_check_min (const gchar * name, gint value, gint min, GError ** error);

/* Prints @error as a mistake on the command line, with where to read the options, on
 * stderr; returns the exit status for it (2). */
gint stt_tool_usage_error (const gchar * program, const GError * error);

G_END_DECLS
