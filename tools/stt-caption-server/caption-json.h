/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-json: JSON text for what stt-caption-server sends (messages, /health, log
 * lines). json-glib parses what clients send; it writes doubles with 17 digits
 * (1.52 as 1.5200000000000000), so outgoing objects are written here, with the shortest
 * digits that read back as the same double.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One JSON object being written: cap_json_begin(), members, cap_json_end(). */
typedef struct
{
  GString *s;
  gboolean first;
} CapJson;

void cap_json_begin (CapJson * j);
void cap_json_add_string (CapJson * j, const gchar * name, const gchar * value);
void cap_json_add_int (CapJson * j, const gchar * name, gint64 value);
/* A non-finite value is written as null. */
void cap_json_add_double (CapJson * j, const gchar * name, gdouble value);
void cap_json_add_bool (CapJson * j, const gchar * name, gboolean value);
/* @json: a JSON value already written (an array). */
void cap_json_add_raw (CapJson * j, const gchar * name, const gchar * json);
/* Closes the object; the text is the caller's. */
gchar *cap_json_end (CapJson * j);
/* The same, as the bytes of a text frame (no trailing NUL). */
GBytes *cap_json_end_bytes (CapJson * j);

/* Appends @value as a quoted JSON string (valid UTF-8 expected). */
void cap_json_append_string (GString * s, const gchar * value);
/* Appends @value with the fewest digits that read back as it; null if not finite. */
void cap_json_append_double (GString * s, gdouble value);

G_END_DECLS
