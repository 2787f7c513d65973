/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttjson.c: type-checked json-glib access for provider parsers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "sttjson.h"

/* json-glib parses recursively: a hostile "[[[[..." could exhaust the stack. Real
 * provider messages nest a handful of levels. */
#define MAX_DEPTH 64

/* The value of the 4 hex digits at @data[@at], or -1. */
static gint
hex4 (const gchar * data, gsize len, gsize at)
{
  gint v = 0;
  gsize i;

  if (at + 4 > len)
    return -1;
  for (i = at; i < at + 4; i++) {
    gint d = g_ascii_xdigit_value (data[i]);

    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

static gboolean
is_json_space (gchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether @data is one JSON object that json-glib 1.6 can be given. It must not see:
 * nesting deeper than MAX_DEPTH; anything after the object ("{}{}": json-glib takes the
 * last value and leaks the others, so a server could make us grow without bound); a \u
 * escape of a UTF-16 surrogate that is not half of a pair (it leaks on "\ud800\u0041"
 * and turns "\ud800x" into a string that is not UTF-8), or a \u without 4 hex digits. */
static gboolean
object_ok (const gchar * data, gsize len)
{
  gsize i = 0;
  guint depth = 0;
  gboolean in_string = FALSE, ended = FALSE;

  while (i < len && is_json_space (data[i]))
    i++;
  if (i == len || data[i] != '{')
    return FALSE;
  for (; i < len; i++) {
    gchar c = data[i];

    if (ended) {
      if (!is_json_space (c))
        return FALSE;
    } else if (in_string) {
      if (c == '\\') {
        gboolean is_u = i + 1 < len && data[i + 1] == 'u';
        gint u = is_u ? hex4 (data, len, i + 2) : -1;

        /* Not JSON; and json-glib reads past the quote of "\u00", so where its
         * strings end would no longer be where ours do. */
        if (is_u && u < 0)
          return FALSE;
        if (u >= 0xdc00 && u <= 0xdfff)
          return FALSE;         /* a low surrogate on its own */
        if (u >= 0xd800 && u <= 0xdbff) {
          gint low = i + 7 < len && data[i + 6] == '\\' && data[i + 7] == 'u' ?
              hex4 (data, len, i + 8) : -1;

          if (low < 0xdc00 || low > 0xdfff)
            return FALSE;       /* a high surrogate without its low half */
          i += 11;
        } else {
          i += u >= 0 ? 5 : 1;
        }
      } else if (c == '"') {
        in_string = FALSE;
      }
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '\'' || c == '/') {
      /* json-glib also reads 'strings' and comments; JSON has neither, and their quotes
       * would set where strings end apart from what this scan sees. */
      return FALSE;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_DEPTH)
        return FALSE;
    } else if ((c == '}' || c == ']') && depth > 0) {
      ended = --depth == 0;
    }
  }
  return TRUE;
}

JsonObject *
stt_json_parse_object (const gchar * data, gsize len, JsonParser ** parser)
{
  JsonParser *p;
  JsonNode *root;

  *parser = NULL;
  if (!g_utf8_validate (data, len, NULL) || !object_ok (data, len))
    return NULL;
  p = json_parser_new_immutable ();
  if (!json_parser_load_from_data (p, data, len, NULL)) {
    g_object_unref (p);
    return NULL;
  }
  root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_object_unref (p);
    return NULL;
  }
  *parser = p;
  return json_node_get_object (root);
}

JsonObject *
stt_json_parse_message (gboolean binary, const guint8 * data, gsize len,
    JsonParser ** parser, SttParseOutput * out)
{
  JsonObject *o;

  *parser = NULL;
  if (binary) {
    out->error = g_strdup ("unexpected binary message");
    return NULL;
  }
  o = stt_json_parse_object ((const gchar *) data, len, parser);
  if (o == NULL)
    out->error = g_strdup ("message is not a JSON object");
  return o;
}

static JsonNode *
member (JsonObject * o, const gchar * name, JsonNodeType type)
{
  JsonNode *n;

  if (o == NULL)
    return NULL;
  n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_TYPE (n) != type)
    return NULL;
  return n;
}

const gchar *
stt_json_get_string (JsonObject * o, const gchar * name, const gchar * fallback)
{
  JsonNode *n = member (o, name, JSON_NODE_VALUE);
  const gchar *s;

  if (n == NULL || json_node_get_value_type (n) != G_TYPE_STRING)
    return fallback;
  s = json_node_get_string (n);
  /* json-glib 1.6 turns a lone surrogate escape ("\ud800x") into bytes that are not
   * UTF-8; such a string must not reach text buffers and bus messages. */
  return g_utf8_validate (s, -1, NULL) ? s : fallback;
}

gdouble
stt_json_get_double (JsonObject * o, const gchar * name, gdouble fallback)
{
  JsonNode *n = member (o, name, JSON_NODE_VALUE);
  gdouble v;

  if (n == NULL)
    return fallback;
  switch (json_node_get_value_type (n)) {
    case G_TYPE_DOUBLE:
      v = json_node_get_double (n);
      break;
    case G_TYPE_INT64:
      v = (gdouble) json_node_get_int (n);
      break;
    default:
      return fallback;
  }
  return isfinite (v) ? v : fallback;
}

static gint64
node_get_int (JsonNode * n, gint64 fallback)
{
  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE)
    return fallback;
  switch (json_node_get_value_type (n)) {
    case G_TYPE_INT64:
      return json_node_get_int (n);
    case G_TYPE_DOUBLE:{
      gdouble d = json_node_get_double (n);
      if (!isfinite (d) || d > (gdouble) G_MAXINT64 || d < (gdouble) G_MININT64)
        return fallback;
      return (gint64) d;
    }
    default:
      return fallback;
  }
}

gint64
stt_json_get_int (JsonObject * o, const gchar * name, gint64 fallback)
{
  return node_get_int (member (o, name, JSON_NODE_VALUE), fallback);
}

gint64
stt_json_array_get_int (JsonArray * a, guint i, gint64 fallback)
{
  if (a == NULL || i >= json_array_get_length (a))
    return fallback;
  return node_get_int (json_array_get_element (a, i), fallback);
}

gboolean
stt_json_get_bool (JsonObject * o, const gchar * name, gboolean fallback)
{
  JsonNode *n = member (o, name, JSON_NODE_VALUE);

  if (n == NULL || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean (n);
}

JsonObject *
stt_json_get_object (JsonObject * o, const gchar * name)
{
  JsonNode *n = member (o, name, JSON_NODE_OBJECT);

  return n ? json_node_get_object (n) : NULL;
}

JsonArray *
stt_json_get_array (JsonObject * o, const gchar * name)
{
  JsonNode *n = member (o, name, JSON_NODE_ARRAY);

  return n ? json_node_get_array (n) : NULL;
}

JsonObject *
stt_json_array_get_object (JsonArray * a, guint i)
{
  JsonNode *n;

  if (a == NULL || i >= json_array_get_length (a))
    return NULL;
  n = json_array_get_element (a, i);
  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

gchar *
stt_json_builder_to_string (JsonBuilder * builder)
{
  JsonNode *root = json_builder_get_root (builder);
  gchar *s = json_to_string (root, FALSE);

  json_node_unref (root);
  return s;
}

/* A parameter value as JSON when it is JSON, else as a string. */
static JsonNode *
param_value (const gchar * value)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  JsonNode *root;

  if (value && *value && json_parser_load_from_data (p, value, -1, NULL)
      && (root = json_parser_get_root (p)) != NULL)
    return json_node_copy (root);
  return json_node_init_string (json_node_alloc (), value ? value : "");
}

void
stt_json_object_set_params (JsonObject * o, GHashTable * params)
{
  GHashTableIter it;
  gpointer k, v;
  GList *keys = NULL, *l;

  if (params == NULL)
    return;
  /* Sorted, so that messages are stable and testable. */
  g_hash_table_iter_init (&it, params);
  while (g_hash_table_iter_next (&it, &k, &v))
    keys = g_list_prepend (keys, k);
  keys = g_list_sort (keys, (GCompareFunc) g_strcmp0);
  for (l = keys; l; l = l->next) {
    g_auto (GStrv) path = g_strsplit (l->data, ".", -1);
    JsonObject *target = o;
    guint i, n = g_strv_length (path);

    for (i = 0; i + 1 < n; i++) {
      JsonObject *next = stt_json_get_object (target, path[i]);

      if (next == NULL) {
        next = json_object_new ();
        json_object_set_object_member (target, path[i], next);
      }
      target = next;
    }
    if (n > 0)
      json_object_set_member (target, path[n - 1],
          param_value (g_hash_table_lookup (params, l->data)));
  }
  g_list_free (keys);
}

gchar *
stt_json_object_to_string (JsonObject * o)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);

  return json_to_string (node, FALSE);
}

JsonArray *
stt_json_language_codes (const gchar * language)
{
  g_auto (GStrv) items = NULL;
  JsonArray *a;
  guint i;

  if (language == NULL || *language == '\0')
    return NULL;
  a = json_array_new ();
  items = g_strsplit (language, ",", -1);
  for (i = 0; items[i]; i++) {
    gchar *code = g_strstrip (items[i]);
    g_autofree gchar *lower = NULL;

    code[strcspn (code, "-_")] = '\0';
    lower = g_ascii_strdown (code, -1);
    if (*lower)
      json_array_add_string_element (a, lower);
  }
  if (json_array_get_length (a) == 0)
    g_clear_pointer (&a, json_array_unref);
  return a;
}

GBytes *
stt_json_builder_to_bytes (JsonBuilder * builder)
{
  gchar *s = stt_json_builder_to_string (builder);

  return g_bytes_new_take (s, strlen (s));
}

void
stt_json_builder_add_base64 (JsonBuilder * builder, const gchar * name,
    const guint8 * data, gsize len)
{
  g_autofree gchar *b64 = g_base64_encode (data, len);

  json_builder_set_member_name (builder, name);
  json_builder_add_string_value (builder, b64);
}
