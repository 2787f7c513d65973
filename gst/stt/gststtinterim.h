/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtinterim: interim (partial) text as events, beside the final text buffers.
 *
 * Text buffers of stttranscribe are finals only, so textoverlay, webvttenc, srtenc and
 * stttocea608 never see text that is taken back. A downstream element that wants the
 * interim text too (sttpublish) sends the upstream custom event "stt-want-interim";
 * from then on stttranscribe sends each partial, coalesced to at most a few a second, as
 * a serialized custom downstream event "stt-interim" in the text stream, in order with
 * the buffers. Elements that do not know it pass it on or drop it. Fields in
 * docs/messages.md. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_STT_INTERIM_EVENT "stt-interim"
#define GST_STT_WANT_INTERIM_EVENT "stt-want-interim"

/* The upstream request (GST_EVENT_CUSTOM_UPSTREAM). */
GstEvent *gst_stt_want_interim_event_new (void);
gboolean gst_stt_is_want_interim_event (GstEvent * event);

/* The structure of an interim text event: @text so far, from @start to @end in the text
 * stream's time (what the final's PTS would be); @speaker and @language may be NULL or
 * empty (then left out). */
GstStructure *gst_stt_interim_new (const gchar * text, GstClockTime start,
    GstClockTime end, const gchar * speaker, const gchar * language);
/* The event (GST_EVENT_CUSTOM_DOWNSTREAM, serialized) carrying @s (taken). */
GstEvent *gst_stt_interim_event_new (GstStructure * s);
/* The event's structure when @event is an interim text event, else NULL. */
const GstStructure *gst_stt_interim_event_get (GstEvent * event);

G_END_DECLS
