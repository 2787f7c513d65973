/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Caption shaping: a final transcript cut into cues a viewer can read (WebVTT, SRT,
 * textoverlay), at word boundaries, with the words' own times. Pure functions. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct
{
  guint max_line_length;        /* characters per line; 0 = no limit */
  guint max_lines;              /* lines per cue; 0 = no limit */
  GstClockTime max_duration;    /* per cue; 0 or NONE = no limit */
} GstSttCueLimits;

typedef struct
{
  gchar *text;                  /* lines joined by '\n' */
  GstClockTime pts;
  GstClockTime duration;
} GstSttCue;

void gst_stt_cue_free (GstSttCue * cue);

/* Cuts @text, spanning [@pts, @pts + @duration], into cues within @limits. @words (may
 * be NULL) is the transcript's `words` value (array of stt-word structures): their times
 * place the cuts; when @text's words are the same in number (formatting may differ), the
 * formatted ones are shown. Without usable word times, times are shared out by length.
 * A single word longer than a line gets a line of its own. Returns GstSttCue*, owned. */
GPtrArray *gst_stt_cues_shape (const gchar * text, GstClockTime pts, GstClockTime duration,
    const GValue * words, const GstSttCueLimits * limits);

G_END_DECLS
