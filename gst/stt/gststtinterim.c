/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtinterim: see gststtinterim.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtinterim.h"

GstEvent *
gst_stt_want_interim_event_new (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new_empty (GST_STT_WANT_INTERIM_EVENT));
}

gboolean
gst_stt_is_want_interim_event (GstEvent * event)
{
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM
      && gst_event_has_name (event, GST_STT_WANT_INTERIM_EVENT);
}

GstStructure *
gst_stt_interim_new (const gchar * text, GstClockTime start, GstClockTime end,
    const gchar * speaker, const gchar * language)
{
  GstStructure *s = gst_structure_new (GST_STT_INTERIM_EVENT,
      "text", G_TYPE_STRING, text,
      "start", GST_TYPE_CLOCK_TIME, start,
      "end", GST_TYPE_CLOCK_TIME, end, NULL);

  if (speaker && *speaker)
    gst_structure_set (s, "speaker", G_TYPE_STRING, speaker, NULL);
  if (language && *language)
    gst_structure_set (s, "language", G_TYPE_STRING, language, NULL);
  return s;
}

GstEvent *
gst_stt_interim_event_new (GstStructure * s)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

const GstStructure *
gst_stt_interim_event_get (GstEvent * event)
{
  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_DOWNSTREAM
      || !gst_event_has_name (event, GST_STT_INTERIM_EVENT))
    return NULL;
  return gst_event_get_structure (event);
}
