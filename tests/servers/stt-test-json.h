/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-json: a small JSON writer for the test servers' messages.
 *
 * json-glib prints doubles with 17 significant digits ("0.90000000000000002"); services
 * print "0.9". This writer prints times and scores the way the services do.
 * @key is the member name inside an object and NULL inside an array or at the top.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SttTestJson SttTestJson;

SttTestJson *stt_test_json_new (void);
/* Returns the text and frees @json. */
gchar *stt_test_json_free_to_string (SttTestJson * json);

void stt_test_json_begin_object (SttTestJson * json, const gchar * key);
void stt_test_json_end_object (SttTestJson * json);
void stt_test_json_begin_array (SttTestJson * json, const gchar * key);
void stt_test_json_end_array (SttTestJson * json);

/* A NULL @value writes null. */
void stt_test_json_add_string (SttTestJson * json, const gchar * key, const gchar * value);
/* At most 6 decimals, trailing zeros dropped but one kept: 0.9, 3.0, 0.0625. */
void stt_test_json_add_double (SttTestJson * json, const gchar * key, gdouble value);
void stt_test_json_add_int (SttTestJson * json, const gchar * key, gint64 value);
void stt_test_json_add_boolean (SttTestJson * json, const gchar * key, gboolean value);

G_END_DECLS
