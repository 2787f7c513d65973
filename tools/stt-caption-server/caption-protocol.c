/* caption-protocol: see caption-protocol.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "sttjson.h"
#include "caption-json.h"
#include "caption-protocol.h"

#define MAX_ROOM_NAME 64
/* Integers a double carries exactly, as JavaScript does. */
#define MAX_SAFE_INTEGER ((gint64) 9007199254740991)

void
cap_caption_clear (CapCaption * c)
{
  g_clear_pointer (&c->text, g_free);
  g_clear_pointer (&c->speaker, g_free);
  g_clear_pointer (&c->language, g_free);
  g_clear_pointer (&c->publisher, g_free);
  g_clear_pointer (&c->words, g_array_unref);
  memset (c, 0, sizeof (*c));
}

gboolean
cap_room_name_is_valid (const gchar * name)
{
  gsize i;

  if (!name || !*name)
    return FALSE;
  for (i = 0; name[i]; i++) {
    if (i >= MAX_ROOM_NAME)
      return FALSE;
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return FALSE;
  }
  return TRUE;
}

/* The JSON value member @name of @o, or NULL (absent, null, object or array). */
static JsonNode *
get_value (JsonObject * o, const gchar * name)
{
  JsonNode *node = json_object_get_member (o, name);

  return node && JSON_NODE_HOLDS_VALUE (node) ? node : NULL;
}

static gboolean
get_number (JsonObject * o, const gchar * name, gdouble * out)
{
  JsonNode *node = get_value (o, name);

  if (!node)
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    *out = (gdouble) json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*out);
}

/* Optional string member: TRUE when absent or a string (copied to *out). */
static gboolean
get_optional_string (JsonObject * o, const gchar * name, gchar ** out)
{
  JsonNode *node = json_object_get_member (o, name);

  if (!node || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static void
word_clear (CapWord * w)
{
  g_free (w->text);
}

static GArray *
words_new (void)
{
  GArray *words = g_array_new (FALSE, TRUE, sizeof (CapWord));

  g_array_set_clear_func (words, (GDestroyNotify) word_clear);
  return words;
}

/* The words of @node, an array of {"text":s,"start":n,"end":n}; NULL when it is not
 * one. */
static GArray *
parse_words (JsonNode * node)
{
  JsonArray *array;
  GArray *words;
  guint i;

  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  array = json_node_get_array (node);
  words = words_new ();
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonNode *e = json_array_get_element (array, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
    JsonNode *text = o ? get_value (o, "text") : NULL;
    CapWord w = { 0 };

    if (!text || json_node_get_value_type (text) != G_TYPE_STRING ||
        !get_number (o, "start", &w.start) || !get_number (o, "end", &w.end)) {
      g_array_unref (words);
      return NULL;
    }
    w.text = g_strdup (json_node_get_string (text));
    g_array_append_val (words, w);
  }
  return words;
}

gchar *
cap_words_to_json (GArray * words)
{
  GString *s = g_string_new ("[");
  guint i;

  for (i = 0; words && i < words->len; i++) {
    const CapWord *w = &g_array_index (words, CapWord, i);
    CapJson j;
    g_autofree gchar *text = NULL;

    cap_json_begin (&j);
    cap_json_add_string (&j, "text", w->text);
    cap_json_add_double (&j, "start", w->start);
    cap_json_add_double (&j, "end", w->end);
    text = cap_json_end (&j);
    if (i > 0)
      g_string_append_c (s, ',');
    g_string_append (s, text);
  }
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

GArray *
cap_words_parse (const gchar * data, gssize len)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  if (!data || !json_parser_load_from_data (parser, data, len, NULL))
    return NULL;
  return parse_words (json_parser_get_root (parser));
}

gboolean
cap_caption_parse (const gchar * data, gsize len, CapCaption * c,
    const gchar ** reason)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  JsonNode *node;
  gboolean has_start, has_end;
  const gchar *type;

  memset (c, 0, sizeof (*c));
  o = stt_json_parse_object (data, len, &parser);
  if (!o)
    goto not_json;
  type = stt_json_get_string (o, "type", NULL);
  if (g_strcmp0 (type, "revision") == 0) {
    /* Numbered, stored and acknowledged as a final. */
    c->final = TRUE;
    c->revision = TRUE;
    c->words = parse_words (json_object_get_member (o, "words"));
    if (!c->words)
      goto bad_words;
  } else if (g_strcmp0 (type, "caption") != 0) {
    goto bad_type;
  } else {
    node = get_value (o, "final");
    if (!node || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
      goto no_final;
    c->final = json_node_get_boolean (node);
  }

  node = get_value (o, "text");
  if (!node || json_node_get_value_type (node) != G_TYPE_STRING)
    goto no_text;
  c->text = g_strdup (json_node_get_string (node));

  has_start = get_number (o, "start", &c->start);
  has_end = get_number (o, "end", &c->end);
  if ((json_object_has_member (o, "start") && !has_start) ||
      (json_object_has_member (o, "end") && !has_end))
    goto bad_times;
  c->has_times = has_start && has_end;

  if (!get_optional_string (o, "speaker", &c->speaker) ||
      !get_optional_string (o, "language", &c->language))
    goto bad_string;

  if (c->final) {
    node = get_value (o, "seq");
    if (!node || json_node_get_value_type (node) != G_TYPE_INT64 ||
        json_node_get_int (node) < 1 ||
        json_node_get_int (node) > MAX_SAFE_INTEGER)
      goto no_seq;
    c->seq = json_node_get_int (node);
    if (!c->has_times)
      goto no_times;
  }
  return TRUE;

  /* ERRORS */
not_json:
  {
    *reason = "not a JSON object";
    goto failed;
  }
bad_type:
  {
    *reason = "unknown or missing type";
    goto failed;
  }
no_final:
  {
    *reason = "missing or invalid field: final";
    goto failed;
  }
bad_words:
  {
    *reason = "missing or invalid field: words";
    goto failed;
  }
no_text:
  {
    *reason = "missing or invalid field: text";
    goto failed;
  }
bad_times:
  {
    *reason = "invalid field: start or end";
    goto failed;
  }
bad_string:
  {
    *reason = "invalid field: speaker or language";
    goto failed;
  }
no_seq:
  {
    *reason = "missing or invalid field: seq";
    goto failed;
  }
no_times:
  {
    *reason = "missing field: start or end";
    goto failed;
  }
failed:
  cap_caption_clear (c);
  return FALSE;
}

gboolean
cap_final_parse (const gchar * data, gsize len, CapCaption * c)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  JsonNode *node;
  gdouble time;

  memset (c, 0, sizeof (*c));
  o = stt_json_parse_object (data, len, &parser);
  if (!o)
    goto failed;
  if (g_strcmp0 (stt_json_get_string (o, "type", NULL), "revision") == 0) {
    c->revision = TRUE;
    c->words = parse_words (json_object_get_member (o, "words"));
    if (!c->words)
      goto failed;
  } else if (g_strcmp0 (stt_json_get_string (o, "type", NULL), "final") != 0) {
    goto failed;
  }
  c->final = TRUE;
  node = get_value (o, "id");
  if (!node || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 1)
    goto failed;
  c->id = json_node_get_int (node);
  node = get_value (o, "seq");
  if (!node || json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 1 ||
      json_node_get_int (node) > MAX_SAFE_INTEGER)
    goto failed;
  c->seq = json_node_get_int (node);
  node = get_value (o, "publisher");
  if (!node || json_node_get_value_type (node) != G_TYPE_STRING)
    goto failed;
  c->publisher = g_strdup (json_node_get_string (node));
  node = get_value (o, "text");
  if (!node || json_node_get_value_type (node) != G_TYPE_STRING)
    goto failed;
  c->text = g_strdup (json_node_get_string (node));
  if (!get_number (o, "start", &c->start) || !get_number (o, "end", &c->end) ||
      !get_number (o, "time", &time))
    goto failed;
  c->has_times = TRUE;
  c->time = (gint64) time;
  if (!get_optional_string (o, "speaker", &c->speaker) ||
      !get_optional_string (o, "language", &c->language))
    goto failed;
  return TRUE;

failed:
  cap_caption_clear (c);
  return FALSE;
}

gboolean
cap_interim_frame_is_valid (const gchar * data, gsize len)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = stt_json_parse_object (data, len, &parser);

  return o && g_strcmp0 (stt_json_get_string (o, "type", NULL),
      "interim") == 0 && stt_json_get_string (o, "publisher", NULL) &&
      stt_json_get_string (o, "text", NULL);
}

GBytes *
cap_msg_publisher_welcome (const gchar * room, const gchar * publisher,
    gint64 last_seq)
{
  CapJson j;

  cap_json_begin (&j);
  cap_json_add_string (&j, "type", "welcome");
  cap_json_add_string (&j, "room", room);
  cap_json_add_string (&j, "publisher", publisher);
  cap_json_add_int (&j, "last_seq", last_seq);
  return cap_json_end_bytes (&j);
}

GBytes *
cap_msg_viewer_welcome (const gchar * room, gint64 last_id)
{
  CapJson j;

  cap_json_begin (&j);
  cap_json_add_string (&j, "type", "welcome");
  cap_json_add_string (&j, "room", room);
  cap_json_add_int (&j, "last_id", last_id);
  return cap_json_end_bytes (&j);
}

GBytes *
cap_msg_ack (gint64 seq)
{
  CapJson j;

  cap_json_begin (&j);
  cap_json_add_string (&j, "type", "ack");
  cap_json_add_int (&j, "seq", seq);
  return cap_json_end_bytes (&j);
}

GBytes *
cap_msg_gap (gint64 from, gint64 to)
{
  CapJson j;

  cap_json_begin (&j);
  cap_json_add_string (&j, "type", "gap");
  cap_json_add_int (&j, "from", from);
  cap_json_add_int (&j, "to", to);
  return cap_json_end_bytes (&j);
}

/* The members a final and an interim share, after "publisher". */
static void
add_caption (CapJson * j, const CapCaption * c)
{
  cap_json_add_string (j, "text", c->text);
  if (c->has_times) {
    cap_json_add_double (j, "start", c->start);
    cap_json_add_double (j, "end", c->end);
  }
  if (c->speaker)
    cap_json_add_string (j, "speaker", c->speaker);
  if (c->language)
    cap_json_add_string (j, "language", c->language);
}

gchar *
cap_msg_final_after_id (const CapCaption * c)
{
  CapJson j;
  gchar *text;

  cap_json_begin (&j);
  /* Members after "id": each is written with its leading comma. */
  j.first = FALSE;
  cap_json_add_string (&j, "publisher", c->publisher);
  cap_json_add_int (&j, "seq", c->seq);
  add_caption (&j, c);
  if (c->revision) {
    g_autofree gchar *words = cap_words_to_json (c->words);

    cap_json_add_raw (&j, "words", words);
  }
  cap_json_add_int (&j, "time", c->time);
  text = cap_json_end (&j);
  /* Without the object's opening brace. */
  memmove (text, text + 1, strlen (text));
  return text;
}

const gchar *
cap_msg_final_head (const CapCaption * c)
{
  return c->revision ? CAP_MSG_REVISION_HEAD : CAP_MSG_FINAL_HEAD;
}

GBytes *
cap_msg_final (const CapCaption * c)
{
  g_autofree gchar *rest = cap_msg_final_after_id (c);
  gchar *text = g_strdup_printf ("%s%" G_GINT64_FORMAT "%s",
      cap_msg_final_head (c), c->id, rest);

  return g_bytes_new_take (text, strlen (text));
}

GBytes *
cap_msg_interim (const CapCaption * c)
{
  CapJson j;

  cap_json_begin (&j);
  cap_json_add_string (&j, "type", "interim");
  cap_json_add_string (&j, "publisher", c->publisher);
  add_caption (&j, c);
  return cap_json_end_bytes (&j);
}
