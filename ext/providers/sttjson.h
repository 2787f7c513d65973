/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttjson: small json-glib helpers shared by the providers' parsers.
 * Every getter is NULL-safe and type-checked: a missing or mistyped member (or a string
 * that is not valid UTF-8) gives the fallback, so a malformed server message can never
 * crash a parser. */
#pragma once

#include <json-glib/json-glib.h>

#include "sttprovider.h"

G_BEGIN_DECLS

/* Parses @data as a JSON object. Returns NULL (and logs nothing) when it is not one. */
JsonObject *stt_json_parse_object (const gchar * data, gsize len, JsonParser ** parser);
/* The start of a JSON protocol's parse hook: the server message (@binary, @data, @len)
 * as a JSON object, owned by *@parser (unref it, e.g. with g_autoptr). NULL when it is a
 * binary frame ("unexpected binary message") or not a JSON object ("message is not a
 * JSON object"): that text is then set in @out->error, and parse has nothing else to
 * do. */
JsonObject *stt_json_parse_message (gboolean binary, const guint8 * data, gsize len,
    JsonParser ** parser, SttParseOutput * out);

const gchar *stt_json_get_string (JsonObject * o, const gchar * name, const gchar * fallback);
gdouble stt_json_get_double (JsonObject * o, const gchar * name, gdouble fallback);
gint64 stt_json_get_int (JsonObject * o, const gchar * name, gint64 fallback);
gboolean stt_json_get_bool (JsonObject * o, const gchar * name, gboolean fallback);
JsonObject *stt_json_get_object (JsonObject * o, const gchar * name);
JsonArray *stt_json_get_array (JsonObject * o, const gchar * name);
/* Element @i of @a if it is an object, else NULL. */
JsonObject *stt_json_array_get_object (JsonArray * a, guint i);
/* Element @i of @a if it is a number (an integer, or a double in range), else @fallback. */
gint64 stt_json_array_get_int (JsonArray * a, guint i, gint64 fallback);

/* Serialises a JSON object built with @builder (takes the builder's root). */
gchar *stt_json_builder_to_string (JsonBuilder * builder);
/* The same, as the bytes of a text frame. */
GBytes *stt_json_builder_to_bytes (JsonBuilder * builder);

/* Adds member @name to the object being built: @len bytes of @data in base64, for
 * services that take audio inside JSON text frames. Nest it where the service wants it
 * (`{"audio": ...}`, `{"data": {"chunk": ...}}`) with the builder's own calls. */
void stt_json_builder_add_base64 (JsonBuilder * builder, const gchar * name,
    const guint8 * data, gsize len);

/* Sets the extra provider options @params ("name" -> "value", may be NULL) on @o for a
 * configuration message, replacing members already there. A value that is JSON (number,
 * true, false, null, object, array, "quoted string") is set as that JSON, anything else
 * as a string. A dotted name ("messages_config.receive_speech_events") sets a member of
 * a nested object, created if missing. */
void stt_json_object_set_params (JsonObject * o, GHashTable * params);
/* Serialises @o. */
gchar *stt_json_object_to_string (JsonObject * o);
/* Language codes for a configuration message from a `language` property value:
 * "en-US, es" -> ["en", "es"] (the primary subtags, lower case). NULL for NULL/empty. */
JsonArray *stt_json_language_codes (const gchar * language);

G_END_DECLS
