/* caption-json: see caption-json.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "caption-json.h"

void
cap_json_append_string (GString * s, const gchar * value)
{
  const guchar *p;

  g_string_append_c (s, '"');
  for (p = (const guchar *) value; *p; p++) {
    switch (*p) {
      case '"':
        g_string_append (s, "\\\"");
        break;
      case '\\':
        g_string_append (s, "\\\\");
        break;
      case '\n':
        g_string_append (s, "\\n");
        break;
      case '\r':
        g_string_append (s, "\\r");
        break;
      case '\t':
        g_string_append (s, "\\t");
        break;
      default:
        if (*p < 0x20)
          g_string_append_printf (s, "\\u%04x", *p);
        else
          g_string_append_c (s, *p);
    }
  }
  g_string_append_c (s, '"');
}

void
cap_json_begin (CapJson * j)
{
  j->s = g_string_new ("{");
  j->first = TRUE;
}

static void
add_name (CapJson * j, const gchar * name)
{
  if (!j->first)
    g_string_append_c (j->s, ',');
  j->first = FALSE;
  cap_json_append_string (j->s, name);
  g_string_append_c (j->s, ':');
}

void
cap_json_add_string (CapJson * j, const gchar * name, const gchar * value)
{
  add_name (j, name);
  cap_json_append_string (j->s, value);
}

void
cap_json_add_int (CapJson * j, const gchar * name, gint64 value)
{
  add_name (j, name);
  g_string_append_printf (j->s, "%" G_GINT64_FORMAT, value);
}

void
cap_json_append_double (GString * s, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gchar format[8];
  gint precision;

  if (!isfinite (value)) {
    g_string_append (s, "null");
    return;
  }
  /* The fewest digits that read back as @value: 1.52, not 1.5200000000000000. */
  for (precision = 1; precision <= 17; precision++) {
    g_snprintf (format, sizeof (format), "%%.%dg", precision);
    g_ascii_formatd (buf, sizeof (buf), format, value);
    if (g_ascii_strtod (buf, NULL) == value)
      break;
  }
  g_string_append (s, buf);
}

void
cap_json_add_double (CapJson * j, const gchar * name, gdouble value)
{
  add_name (j, name);
  cap_json_append_double (j->s, value);
}

void
cap_json_add_raw (CapJson * j, const gchar * name, const gchar * json)
{
  add_name (j, name);
  g_string_append (j->s, json);
}

void
cap_json_add_bool (CapJson * j, const gchar * name, gboolean value)
{
  add_name (j, name);
  g_string_append (j->s, value ? "true" : "false");
}

gchar *
cap_json_end (CapJson * j)
{
  g_string_append_c (j->s, '}');
  return g_string_free (g_steal_pointer (&j->s), FALSE);
}

GBytes *
cap_json_end_bytes (CapJson * j)
{
  g_string_append_c (j->s, '}');
  return g_string_free_to_bytes (g_steal_pointer (&j->s));
}
