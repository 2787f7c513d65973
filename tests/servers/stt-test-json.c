/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-json: a small JSON writer for the test servers' messages. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "stt-test-json.h"

#define MAX_DEPTH 64

struct _SttTestJson
{
  GString *str;
  guint depth;
  /* Bit n set: the container at depth n already holds a value (next one needs a comma). */
  guint64 has_items;
};

SttTestJson *
stt_test_json_new (void)
{
  SttTestJson *json = g_new0 (SttTestJson, 1);

  json->str = g_string_new (NULL);
  return json;
}

gchar *
stt_test_json_free_to_string (SttTestJson * json)
{
  gchar *text;

  g_warn_if_fail (json->depth == 0);
  text = g_string_free (json->str, FALSE);
  g_free (json);
  return text;
}

static void
append_escaped (GString * str, const gchar * value)
{
  const guchar *p;

  g_string_append_c (str, '"');
  for (p = (const guchar *) value; *p; p++) {
    switch (*p) {
      case '"':
        g_string_append (str, "\\\"");
        break;
      case '\\':
        g_string_append (str, "\\\\");
        break;
      case '\n':
        g_string_append (str, "\\n");
        break;
      case '\r':
        g_string_append (str, "\\r");
        break;
      case '\t':
        g_string_append (str, "\\t");
        break;
      default:
        if (*p < 0x20)
          g_string_append_printf (str, "\\u%04x", *p);
        else
          g_string_append_c (str, *p);
        break;
    }
  }
  g_string_append_c (str, '"');
}

/* Comma and member name before a value. */
static void
prefix (SttTestJson * json, const gchar * key)
{
  guint64 bit = G_GUINT64_CONSTANT (1) << json->depth;

  if (json->has_items & bit)
    g_string_append_c (json->str, ',');
  json->has_items |= bit;
  if (key != NULL) {
    append_escaped (json->str, key);
    g_string_append_c (json->str, ':');
  }
}

static void
open_container (SttTestJson * json, const gchar * key, gchar c)
{
  g_return_if_fail (json->depth + 1 < MAX_DEPTH);
  prefix (json, key);
  g_string_append_c (json->str, c);
  json->depth++;
  json->has_items &= ~(G_GUINT64_CONSTANT (1) << json->depth);
}

static void
close_container (SttTestJson * json, gchar c)
{
  g_return_if_fail (json->depth > 0);
  json->depth--;
  g_string_append_c (json->str, c);
}

void
stt_test_json_begin_object (SttTestJson * json, const gchar * key)
{
  open_container (json, key, '{');
}

void
stt_test_json_end_object (SttTestJson * json)
{
  close_container (json, '}');
}

void
stt_test_json_begin_array (SttTestJson * json, const gchar * key)
{
  open_container (json, key, '[');
}

void
stt_test_json_end_array (SttTestJson * json)
{
  close_container (json, ']');
}

void
stt_test_json_add_string (SttTestJson * json, const gchar * key, const gchar * value)
{
  prefix (json, key);
  if (value == NULL)
    g_string_append (json->str, "null");
  else
    append_escaped (json->str, value);
}

void
stt_test_json_add_double (SttTestJson * json, const gchar * key, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  gsize len;

  prefix (json, key);
  g_ascii_formatd (buf, sizeof (buf), "%.6f", value);
  len = strlen (buf);
  while (len > 2 && buf[len - 1] == '0' && buf[len - 2] != '.')
    buf[--len] = '\0';
  g_string_append (json->str, buf);
}

void
stt_test_json_add_int (SttTestJson * json, const gchar * key, gint64 value)
{
  prefix (json, key);
  g_string_append_printf (json->str, "%" G_GINT64_FORMAT, value);
}

void
stt_test_json_add_boolean (SttTestJson * json, const gchar * key, gboolean value)
{
  prefix (json, key);
  g_string_append (json->str, value ? "true" : "false");
}
