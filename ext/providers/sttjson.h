/* sttjson: small json-glib helpers shared by the providers' parsers.
 * Every getter is NULL-safe and type-checked: a missing or mistyped member gives the
 * fallback, so a malformed server message can never crash a parser. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Parses @data as a JSON object. Returns NULL (and logs nothing) when it is not one. */
JsonObject *stt_json_parse_object (const gchar * data, gsize len, JsonParser ** parser);

const gchar *stt_json_get_string (JsonObject * o, const gchar * name, const gchar * fallback);
gdouble stt_json_get_double (JsonObject * o, const gchar * name, gdouble fallback);
gint64 stt_json_get_int (JsonObject * o, const gchar * name, gint64 fallback);
gboolean stt_json_get_bool (JsonObject * o, const gchar * name, gboolean fallback);
JsonObject *stt_json_get_object (JsonObject * o, const gchar * name);
JsonArray *stt_json_get_array (JsonObject * o, const gchar * name);
/* Element @i of @a if it is an object, else NULL. */
JsonObject *stt_json_array_get_object (JsonArray * a, guint i);

/* Serialises a JSON object built with @builder (takes the builder's root). */
gchar *stt_json_builder_to_string (JsonBuilder * builder);

G_END_DECLS
