/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-common.c: helpers shared by the fuzz targets. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void
fuzz_init (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL |
        G_LOG_LEVEL_WARNING);
    g_once_init_leave (&done, 1);
  }
}

void
fuzz_fail (const gchar * where, const gchar * cond, const gchar * format, ...)
{
  va_list ap;

  fprintf (stderr, "%s: invariant broken: %s: ", where, cond);
  va_start (ap, format);
  vfprintf (stderr, format, ap);
  va_end (ap);
  fputc ('\n', stderr);
  abort ();
}
