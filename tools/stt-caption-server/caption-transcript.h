/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-transcript: a room's stored finals as WebVTT or SubRip text
 * (GET /rooms/ROOM/transcript.vtt and .srt). Cue times are the finals' start and end
 * on the publisher's stream clock; cues are in id order, a revision's cues where the
 * finals it replaced were.
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

/* A room's cues, built from its stored finals and revisions in id order: a final is
 * a cue; a revision takes out its publisher's cues that start in its [start, end)
 * and puts in their place cues cut from its words (CAP_CUE_* below). */
typedef struct _CapCues CapCues;

/* A revision's words are cut into cues as stttranscribe's segment output does by
 * default: at most two lines of 42 characters, broken between words, and 7 s. */
#define CAP_CUE_LINE_LENGTH 42
#define CAP_CUE_LINES 2
#define CAP_CUE_DURATION 7.0

CapCues *cap_cues_new (void);
/* Adds the final or applies the revision @c; may take @c's contents
 * (cap_caption_clear() follows all the same). */
void cap_cues_add (CapCues * cues, CapCaption * c);
/* Appends every cue to @out, numbered from 1. */
void cap_cues_write (CapCues * cues, GString * out, CapTranscriptFormat format);
void cap_cues_free (CapCues * cues);

G_END_DECLS
