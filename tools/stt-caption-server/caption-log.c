/* caption-log: see caption-log.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "caption-log.h"

void
cap_log_begin (CapJson * j, const gchar * event)
{
  cap_json_begin (j);
  cap_json_add_string (j, "event", event);
}

void
cap_log_end (CapJson * j)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  g_autofree gchar *time = g_strdup_printf ("%s.%03dZ", stamp,
      g_date_time_get_microsecond (now) / 1000);
  g_autofree gchar *line = NULL;

  cap_json_add_string (j, "time", time);
  line = cap_json_end (j);
  /* One write per line, so lines of a pipe reader never interleave. */
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
}
