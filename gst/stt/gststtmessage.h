/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtmessage: the bus message schema (version 1), built in one place.
 * Field by field documentation: docs/messages.md. Fields are only ever added. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_STT_SCHEMA_VERSION 1
#define GST_STT_MESSAGE_TRANSCRIPT "stt-transcript"
#define GST_STT_MESSAGE_CONNECTION "stt-connection"
#define GST_STT_MESSAGE_STATS "stt-stats"
#define GST_STT_MESSAGE_REVISION "stt-revision"
#define GST_STT_WORD "stt-word"

typedef enum
{
  GST_STT_CONNECTION_CONNECTING,
  GST_STT_CONNECTION_CONNECTED,
  GST_STT_CONNECTION_RECONNECTING,
  GST_STT_CONNECTION_DRAINING,
  GST_STT_CONNECTION_CLOSED,
  GST_STT_CONNECTION_FAILED,
} GstSttConnectionState;

const gchar *gst_stt_connection_state_name (GstSttConnectionState state);

/* What a connection message says; zero/NULL fields are left at their defaults. */
typedef struct
{
  GstSttConnectionState state;
  guint attempt;
  GstClockTime retry_in;
  const gchar *reason;
  guint http_status;
  gint close_code;
  GstClockTime replayed;
  GstClockTime dropped;
  guint connection;
  const gchar *provider;        /* the provider of this connection; NULL: the element's */
} GstSttConnectionInfo;

GstStructure *gst_stt_message_connection_new (const gchar * provider,
    const GstSttConnectionInfo * info);

/* A word with its times already in the input's time domain; @stable: the service will
 * not change it (every word of a final, marked words of a partial). */
GstStructure *gst_stt_message_word_new (const gchar * text, GstClockTime start,
    GstClockTime end, gdouble confidence, const gchar * speaker, gboolean stable);

/* The transcript message without running-time/stream-time (the element adds them from
 * its segment). @words: GstStructure* array, taken. */
GstStructure *gst_stt_message_transcript_new (const gchar * provider, gboolean is_final,
    const gchar * text, guint64 segment_id, guint revision, GstClockTime pts,
    GstClockTime duration, GPtrArray * words, const gchar * language, gdouble confidence,
    guint connection, GstClockTime latency);

/* A revision: @provider's words for the stretch [@pts, @pts + @duration), which replace
 * whatever the text output had there (@replaces' words, or a GAP when "" ). @finals:
 * the stt-transcript finals @provider made for it, in order (their words are taken
 * over, the array is not). @reason: "failover" or "max-lag". Without
 * running-time/stream-time (the element adds them). */
GstStructure *gst_stt_message_revision_new (const gchar * provider,
    const gchar * replaces, const gchar * reason, GstClockTime pts,
    GstClockTime duration, GPtrArray * finals);

/* The same revision in the text stream: a serialized GST_EVENT_CUSTOM_DOWNSTREAM event
 * named stt-revision carrying a copy of @s (stttranscribe pushes it, sttpublish
 * forwards it to its caption server). Times stay in the input's time domain, which is
 * the text stream's. */
GstEvent *gst_stt_revision_event_new (const GstStructure * s);
/* The event's structure when @event is a revision event, else NULL. */
const GstStructure *gst_stt_revision_event_get (GstEvent * event);

G_END_DECLS
