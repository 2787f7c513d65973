/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-docs-cache: writes the plugin's documentation cache, docs/plugins/
 * gst_plugins_cache.json, from the plugin itself: every element's metadata, pad
 * templates and properties (type, default, flags, doc string), and the enums they use.
 * The test suite runs it and compares with the file in the repository, so a property
 * changed without its documentation fails, as GStreamer's own modules check theirs.
 *   stt-docs-cache [OUTPUT]        (stdout without OUTPUT)
 * It loads the plugin from GST_PLUGIN_PATH like any GStreamer program. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include <gst/gst.h>
#include <json-glib/json-glib.h>

static gint
by_template_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (((const GstStaticPadTemplate *) a)->name_template,
      ((const GstStaticPadTemplate *) b)->name_template);
}

static gint
by_pspec_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(GParamSpec * const *) a)->name, (*(GParamSpec * const *) b)->name);
}

static const gchar *
presence_name (GstPadPresence p)
{
  return p == GST_PAD_ALWAYS ? "always" : p == GST_PAD_SOMETIMES ? "sometimes" : "request";
}

static gchar *
default_string (GParamSpec * pspec)
{
  const GValue *v = g_param_spec_get_default_value (pspec);

  if (G_VALUE_HOLDS_STRING (v))
    return g_strdup (g_value_get_string (v) ? g_value_get_string (v) : "NULL");
  if (G_VALUE_HOLDS_BOXED (v) && g_value_get_boxed (v) == NULL)
    return g_strdup ("NULL");
  if (G_VALUE_HOLDS_ENUM (v)) {
    GEnumValue *e = g_enum_get_value (G_ENUM_CLASS (g_type_class_peek (G_VALUE_TYPE (v))),
        g_value_get_enum (v));
    return g_strdup (e ? e->value_nick : "?");
  }
  return gst_value_serialize (v);
}

static void
add_enum (JsonObject * types, GType type)
{
  GEnumClass *klass = g_type_class_ref (type);
  JsonArray *values = json_array_new ();
  JsonObject *o = json_object_new ();
  guint i;

  for (i = 0; i < klass->n_values; i++) {
    JsonObject *v = json_object_new ();

    json_object_set_string_member (v, "name", klass->values[i].value_name);
    json_object_set_string_member (v, "nick", klass->values[i].value_nick);
    json_object_set_int_member (v, "value", klass->values[i].value);
    json_array_add_object_element (values, v);
  }
  json_object_set_string_member (o, "kind", "enum");
  json_object_set_array_member (o, "values", values);
  json_object_set_object_member (types, g_type_name (type), o);
  g_type_class_unref (klass);
}

static JsonObject *
describe_properties (GstElementFactory * factory, JsonObject * types)
{
  GstElement *element = gst_element_factory_create (factory, NULL);
  JsonObject *props = json_object_new ();
  GParamSpec **specs;
  guint n, i;

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (element), &n);
  qsort (specs, n, sizeof (GParamSpec *), by_pspec_name);
  for (i = 0; i < n; i++) {
    GParamSpec *p = specs[i];
    JsonObject *o;
    gchar *def;

    /* GstObject's and GstElement's own (name, parent) are GStreamer's to document. */
    if (p->owner_type == GST_TYPE_OBJECT || p->owner_type == GST_TYPE_ELEMENT
        || p->owner_type == G_TYPE_OBJECT)
      continue;
    o = json_object_new ();
    def = default_string (p);
    json_object_set_string_member (o, "blurb", g_param_spec_get_blurb (p));
    json_object_set_string_member (o, "type", g_type_name (p->value_type));
    json_object_set_string_member (o, "default", def);
    json_object_set_boolean_member (o, "readable", (p->flags & G_PARAM_READABLE) != 0);
    json_object_set_boolean_member (o, "writable", (p->flags & G_PARAM_WRITABLE) != 0);
    json_object_set_boolean_member (o, "construct-only",
        (p->flags & G_PARAM_CONSTRUCT_ONLY) != 0);
    json_object_set_boolean_member (o, "deprecated", (p->flags & G_PARAM_DEPRECATED) != 0);
    json_object_set_string_member (o, "mutable", (p->flags & GST_PARAM_MUTABLE_PLAYING) ?
        "playing" : (p->flags & GST_PARAM_MUTABLE_PAUSED) ? "paused" :
        (p->flags & GST_PARAM_MUTABLE_READY) ? "ready" : "null");
    if (G_IS_PARAM_SPEC_UINT (p)) {
      json_object_set_int_member (o, "min", G_PARAM_SPEC_UINT (p)->minimum);
      json_object_set_int_member (o, "max", G_PARAM_SPEC_UINT (p)->maximum);
    } else if (G_IS_PARAM_SPEC_INT (p)) {
      json_object_set_int_member (o, "min", G_PARAM_SPEC_INT (p)->minimum);
      json_object_set_int_member (o, "max", G_PARAM_SPEC_INT (p)->maximum);
    } else if (G_IS_PARAM_SPEC_UINT64 (p)) {
      gchar *min = g_strdup_printf ("%" G_GUINT64_FORMAT, G_PARAM_SPEC_UINT64 (p)->minimum);
      gchar *max = g_strdup_printf ("%" G_GUINT64_FORMAT, G_PARAM_SPEC_UINT64 (p)->maximum);

      json_object_set_string_member (o, "min", min);
      json_object_set_string_member (o, "max", max);
      g_free (min);
      g_free (max);
    } else if (G_IS_PARAM_SPEC_ENUM (p)) {
      add_enum (types, p->value_type);
    }
    json_object_set_object_member (props, p->name, o);
    g_free (def);
  }
  g_free (specs);
  gst_object_unref (element);
  return props;
}

static JsonObject *
describe_element (GstElementFactory * factory, JsonObject * types)
{
  JsonObject *o = json_object_new ();
  JsonObject *pads = json_object_new ();
  GList *templates, *l;

  json_object_set_string_member (o, "author", gst_element_factory_get_metadata (factory,
          GST_ELEMENT_METADATA_AUTHOR));
  json_object_set_string_member (o, "description",
      gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_DESCRIPTION));
  json_object_set_string_member (o, "klass", gst_element_factory_get_metadata (factory,
          GST_ELEMENT_METADATA_KLASS));
  json_object_set_string_member (o, "long-name",
      gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_LONGNAME));
  /* By name: the registry's order is not the class's. */
  templates = g_list_sort (g_list_copy ((GList *)
          gst_element_factory_get_static_pad_templates (factory)), by_template_name);
  for (l = templates; l; l = l->next) {
    GstStaticPadTemplate *t = l->data;
    JsonObject *p = json_object_new ();

    json_object_set_string_member (p, "caps", t->static_caps.string);
    json_object_set_string_member (p, "direction", t->direction == GST_PAD_SRC ? "src" :
        "sink");
    json_object_set_string_member (p, "presence", presence_name (t->presence));
    json_object_set_object_member (pads, t->name_template, p);
  }
  g_list_free (templates);
  json_object_set_object_member (o, "pad-templates", pads);
  json_object_set_object_member (o, "properties", describe_properties (factory, types));
  json_object_set_int_member (o, "rank", gst_plugin_feature_get_rank
      (GST_PLUGIN_FEATURE (factory)));
  return o;
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (gst_plugin_feature_get_name (GST_PLUGIN_FEATURE (a)),
      gst_plugin_feature_get_name (GST_PLUGIN_FEATURE (b)));
}

int
main (int argc, char **argv)
{
  GstPlugin *plugin;
  GList *features, *l;
  JsonObject *root, *p, *elements, *types;
  JsonNode *node;
  JsonGenerator *gen;
  gchar *text;

  gst_init (&argc, &argv);
  plugin = gst_registry_find_plugin (gst_registry_get (), "stt");
  if (plugin == NULL) {
    g_printerr ("the stt plugin is not found: set GST_PLUGIN_PATH to the build's gst/stt\n");
    return 1;
  }
  root = json_object_new ();
  p = json_object_new ();
  elements = json_object_new ();
  types = json_object_new ();
  features = gst_registry_get_feature_list_by_plugin (gst_registry_get (), "stt");
  features = g_list_sort (features, by_name);
  for (l = features; l; l = l->next) {
    if (GST_IS_ELEMENT_FACTORY (l->data)) {
      GstElementFactory *f = GST_ELEMENT_FACTORY (gst_plugin_feature_load (l->data));

      json_object_set_object_member (elements, gst_plugin_feature_get_name (l->data),
          describe_element (f, types));
      gst_object_unref (f);
    }
  }
  gst_plugin_feature_list_free (features);
  json_object_set_string_member (p, "description", gst_plugin_get_description (plugin));
  json_object_set_object_member (p, "elements", elements);
  json_object_set_string_member (p, "filename", "gststt");
  json_object_set_string_member (p, "license", gst_plugin_get_license (plugin));
  json_object_set_object_member (p, "other-types", types);
  json_object_set_string_member (p, "package", gst_plugin_get_package (plugin));
  json_object_set_string_member (p, "source", gst_plugin_get_source (plugin));
  json_object_set_object_member (root, "stt", p);
  gst_object_unref (plugin);

  node = json_node_init_object (json_node_alloc (), root);
  gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  if (argc > 1) {
    GError *err = NULL;
    gchar *with_nl = g_strconcat (text, "\n", NULL);

    if (!g_file_set_contents (argv[1], with_nl, -1, &err)) {
      g_printerr ("%s\n", err->message);
      return 1;
    }
    g_free (with_nl);
  } else {
    g_print ("%s\n", text);
  }
  g_free (text);
  g_object_unref (gen);
  json_node_unref (node);
  json_object_unref (root);
  gst_deinit ();
  return 0;
}
