/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtmessage.c: builders for the schema-1 bus message structures. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtmessage.h"

const gchar *
gst_stt_connection_state_name (GstSttConnectionState state)
{
  static const gchar *const names[] = { "connecting", "connected", "reconnecting",
    "draining", "closed", "failed"
  };

  g_return_val_if_fail (state <= GST_STT_CONNECTION_FAILED, "unknown");
  return names[state];
}

GstStructure *
gst_stt_message_connection_new (const gchar * provider, const GstSttConnectionInfo * info)
{
  return gst_structure_new (GST_STT_MESSAGE_CONNECTION,
      "schema", G_TYPE_UINT, GST_STT_SCHEMA_VERSION,
      "provider", G_TYPE_STRING, provider,
      "state", G_TYPE_STRING, gst_stt_connection_state_name (info->state),
      "attempt", G_TYPE_UINT, info->attempt,
      "connection", G_TYPE_UINT, info->connection,
      "retry-in", GST_TYPE_CLOCK_TIME, info->retry_in,
      "reason", G_TYPE_STRING, info->reason ? info->reason : "",
      "http-status", G_TYPE_UINT, info->http_status,
      "close-code", G_TYPE_INT, info->close_code,
      "replayed", GST_TYPE_CLOCK_TIME, info->replayed,
      "dropped", GST_TYPE_CLOCK_TIME, info->dropped, NULL);
}

GstStructure *
gst_stt_message_word_new (const gchar * text, GstClockTime start, GstClockTime end,
    gdouble confidence, const gchar * speaker, gboolean stable)
{
  return gst_structure_new (GST_STT_WORD,
      "text", G_TYPE_STRING, text,
      "start", GST_TYPE_CLOCK_TIME, start,
      "end", GST_TYPE_CLOCK_TIME, end,
      "confidence", G_TYPE_DOUBLE, confidence,
      "speaker", G_TYPE_STRING, speaker ? speaker : "",
      "stable", G_TYPE_BOOLEAN, stable, NULL);
}

GstStructure *
gst_stt_message_transcript_new (const gchar * provider, gboolean is_final,
    const gchar * text, guint64 segment_id, guint revision, GstClockTime pts,
    GstClockTime duration, GPtrArray * words, const gchar * language, gdouble confidence,
    guint connection, GstClockTime latency)
{
  GstStructure *s;
  GValue arr = G_VALUE_INIT;
  gsize i, n = 0;
  gpointer *taken = words ? g_ptr_array_steal (words, &n) : NULL;

  g_value_init (&arr, GST_TYPE_ARRAY);
  for (i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;

    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, taken[i]);
    gst_value_array_append_and_take_value (&arr, &v);
  }
  g_free (taken);

  s = gst_structure_new (GST_STT_MESSAGE_TRANSCRIPT,
      "schema", G_TYPE_UINT, GST_STT_SCHEMA_VERSION,
      "provider", G_TYPE_STRING, provider,
      "is-final", G_TYPE_BOOLEAN, is_final,
      "text", G_TYPE_STRING, text,
      "segment-id", G_TYPE_UINT64, segment_id,
      "revision", G_TYPE_UINT, revision,
      "pts", GST_TYPE_CLOCK_TIME, pts,
      "duration", GST_TYPE_CLOCK_TIME, duration,
      "language", G_TYPE_STRING, language ? language : "",
      "confidence", G_TYPE_DOUBLE, confidence,
      "connection", G_TYPE_UINT, connection,
      "latency", GST_TYPE_CLOCK_TIME, latency, NULL);
  gst_structure_take_value (s, "words", &arr);
  return s;
}

GstStructure *
gst_stt_message_revision_new (const gchar * provider, const gchar * replaces,
    const gchar * reason, GstClockTime pts, GstClockTime duration, GPtrArray * finals)
{
  GstStructure *s;
  GValue arr = G_VALUE_INIT;
  GString *text = g_string_new (NULL);
  guint i, j;

  g_value_init (&arr, GST_TYPE_ARRAY);
  for (i = 0; finals && i < finals->len; i++) {
    const GstStructure *f = g_ptr_array_index (finals, i);
    const gchar *t = gst_structure_get_string (f, "text");
    const GValue *words = gst_structure_get_value (f, "words");

    if (t && *t)
      g_string_append_printf (text, "%s%s", text->len ? " " : "", t);
    for (j = 0; words && j < gst_value_array_get_size (words); j++)
      gst_value_array_append_value (&arr, gst_value_array_get_value (words, j));
  }
  s = gst_structure_new (GST_STT_MESSAGE_REVISION,
      "schema", G_TYPE_UINT, GST_STT_SCHEMA_VERSION,
      "provider", G_TYPE_STRING, provider,
      "replaces", G_TYPE_STRING, replaces ? replaces : "",
      "reason", G_TYPE_STRING, reason,
      "text", G_TYPE_STRING, text->str,
      "pts", GST_TYPE_CLOCK_TIME, pts,
      "duration", GST_TYPE_CLOCK_TIME, duration,
      "finals", G_TYPE_UINT, finals ? finals->len : 0, NULL);
  gst_structure_take_value (s, "words", &arr);
  g_string_free (text, TRUE);
  return s;
}

GstEvent *
gst_stt_revision_event_new (const GstStructure * s)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_copy (s));
}

const GstStructure *
gst_stt_revision_event_get (GstEvent * event)
{
  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM
      || !gst_event_has_name (event, GST_STT_MESSAGE_REVISION))
    return NULL;
  return gst_event_get_structure (event);
}
