/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-transcript: a room's stored finals as WebVTT or SubRip text
 * (GET /rooms/ROOM/transcript.vtt and .srt). Cue times are the finals' start and end
 * on the publisher's stream clock; cues are in id order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "caption-protocol.h"

G_BEGIN_DECLS

typedef enum
{
  CAP_TRANSCRIPT_VTT,
  CAP_TRANSCRIPT_SRT,
} CapTranscriptFormat;

/* Starts a transcript: the WebVTT header, or nothing for SRT. */
GString *cap_transcript_new (CapTranscriptFormat format);
/* Appends the cue of the final @c, numbered @index (from 1). */
void cap_transcript_add (GString * out, CapTranscriptFormat format,
    guint index, const CapCaption * c);

G_END_DECLS
