/* caption-transcript: see caption-transcript.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "caption-transcript.h"

GString *
cap_transcript_new (CapTranscriptFormat format)
{
  return g_string_new (format == CAP_TRANSCRIPT_VTT ? "WEBVTT\n\n" : "");
}

/* HH:MM:SS.mmm (WebVTT) or HH:MM:SS,mmm (SRT); negative times are 0. */
static void
append_time (GString * out, CapTranscriptFormat format, gdouble seconds)
{
  guint64 ms = seconds > 0 && isfinite (seconds) ?
      (guint64) llround (seconds * 1000.0) : 0;

  g_string_append_printf (out, "%02" G_GUINT64_FORMAT ":%02u:%02u%c%03u",
      ms / 3600000, (guint) (ms / 60000 % 60), (guint) (ms / 1000 % 60),
      format == CAP_TRANSCRIPT_VTT ? '.' : ',', (guint) (ms % 1000));
}

/* Cue text: a blank line would end the cue, so empty lines are dropped; in WebVTT
 * "&", "<" and ">" are escaped (they start tags and entities, and "-->" ends the
 * timing line). */
static void
append_text (GString * out, CapTranscriptFormat format, const gchar * text)
{
  g_auto (GStrv) lines = g_strsplit_set (text, "\r\n", -1);
  gboolean any = FALSE;
  const gchar *p;
  guint i;

  for (i = 0; lines[i]; i++) {
    g_strstrip (lines[i]);
    if (!*lines[i])
      continue;
    if (any)
      g_string_append_c (out, '\n');
    any = TRUE;
    if (format == CAP_TRANSCRIPT_SRT) {
      g_string_append (out, lines[i]);
      continue;
    }
    for (p = lines[i]; *p; p++) {
      if (*p == '&')
        g_string_append (out, "&amp;");
      else if (*p == '<')
        g_string_append (out, "&lt;");
      else if (*p == '>')
        g_string_append (out, "&gt;");
      else
        g_string_append_c (out, *p);
    }
  }
}

void
cap_transcript_add (GString * out, CapTranscriptFormat format, guint index,
    const CapCaption * c)
{
  gdouble end = MAX (c->start, c->end);
  g_autofree gchar *speaker = g_strdup (c->speaker);

  /* The name stays on the line of the text. */
  if (speaker)
    g_strdelimit (speaker, "\r\n", ' ');

  g_string_append_printf (out, "%u\n", index);
  append_time (out, format, c->start);
  g_string_append (out, " --> ");
  append_time (out, format, end);
  g_string_append_c (out, '\n');
  if (speaker && format == CAP_TRANSCRIPT_VTT) {
    /* A voice span: the speaker's name as an annotation, escaped like text. */
    g_string_append (out, "<v ");
    append_text (out, format, speaker);
    g_string_append_c (out, '>');
  } else if (speaker) {
    append_text (out, format, speaker);
    g_string_append (out, ": ");
  }
  append_text (out, format, c->text);
  g_string_append (out, "\n\n");
}
