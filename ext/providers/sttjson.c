/* sttjson.c: type-checked json-glib access for provider parsers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "sttjson.h"

/* json-glib parses recursively: a hostile "[[[[..." could exhaust the stack. Real
 * provider messages nest a handful of levels. */
#define MAX_DEPTH 64

static gboolean
depth_ok (const gchar * data, gsize len)
{
  gsize i;
  guint depth = 0;
  gboolean in_string = FALSE;

  for (i = 0; i < len; i++) {
    gchar c = data[i];

    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_DEPTH)
        return FALSE;
    } else if ((c == '}' || c == ']') && depth > 0) {
      depth--;
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
  if (!g_utf8_validate (data, len, NULL) || !depth_ok (data, len))
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

  if (n == NULL || json_node_get_value_type (n) != G_TYPE_STRING)
    return fallback;
  return json_node_get_string (n);
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

gint64
stt_json_get_int (JsonObject * o, const gchar * name, gint64 fallback)
{
  JsonNode *n = member (o, name, JSON_NODE_VALUE);

  if (n == NULL)
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
