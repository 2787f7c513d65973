/* caption-transcript: see caption-transcript.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

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

/* ---------- a room's cues ---------- */

struct _CapCues
{
  GPtrArray *cues;              /* CapCaption*, in transcript order */
};

static void
caption_free (gpointer c)
{
  cap_caption_clear (c);
  g_free (c);
}

CapCues *
cap_cues_new (void)
{
  CapCues *cues = g_new0 (CapCues, 1);

  cues->cues = g_ptr_array_new_with_free_func (caption_free);
  return cues;
}

void
cap_cues_free (CapCues * cues)
{
  g_ptr_array_unref (cues->cues);
  g_free (cues);
}

/* A cue of @rev's publisher (and id) from @text, [@start, @end]. */
static CapCaption *
cue_new (const CapCaption * rev, GString * text, gdouble start, gdouble end)
{
  CapCaption *c = g_new0 (CapCaption, 1);

  c->final = TRUE;
  c->has_times = TRUE;
  c->id = rev->id;
  c->seq = rev->seq;
  c->time = rev->time;
  c->publisher = g_strdup (rev->publisher);
  c->speaker = g_strdup (rev->speaker);
  c->language = g_strdup (rev->language);
  c->text = g_strdup (text->str);
  c->start = start;
  c->end = MAX (start, end);
  return c;
}

/* Cuts @rev's words into cues (CAP_CUE_*), inserted from @pos on, each word
 * shown as @rev's text has it when the text has as many words (punctuation,
 * capitals). A word longer than a line gets a line of its own. A revision with
 * text but no words is one cue over its stretch. */
static void
insert_words (CapCues * cues, const CapCaption * rev, guint pos)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = g_strsplit_set (rev->text ? rev->text : "",
      " \t\r\n", -1);
  gdouble start = 0, end = 0;
  guint n = rev->words ? rev->words->len : 0, lines = 0, line_len = 0, i;

  for (i = 0; parts[i]; i++)
    if (*parts[i])
      g_ptr_array_add (tokens, g_strdup (parts[i]));
  if (n == 0) {
    if (tokens->len > 0) {
      g_string_assign (text, rev->text);
      g_strstrip (text->str);
      g_ptr_array_insert (cues->cues, pos, cue_new (rev, text, rev->start,
              rev->end));
    }
    return;
  }
  for (i = 0; i < n; i++) {
    const CapWord *w = &g_array_index (rev->words, CapWord, i);
    const gchar *shown = tokens->len == n ? g_ptr_array_index (tokens, i) :
        w->text;
    glong len = g_utf8_strlen (shown, -1);
    gboolean same_line = text->len > 0 &&
        line_len + 1 + len <= CAP_CUE_LINE_LENGTH;

    if (text->len > 0 && ((!same_line && lines >= CAP_CUE_LINES) ||
            w->end - start > CAP_CUE_DURATION)) {
      g_ptr_array_insert (cues->cues, pos++, cue_new (rev, text, start, end));
      g_string_truncate (text, 0);
    }
    if (text->len == 0) {
      start = w->start;
      lines = 1;
      line_len = 0;
    } else if (line_len + 1 + len <= CAP_CUE_LINE_LENGTH) {
      g_string_append_c (text, ' ');
      line_len++;
    } else {
      g_string_append_c (text, '\n');
      lines++;
      line_len = 0;
    }
    g_string_append (text, shown);
    line_len += len;
    end = MAX (end, w->end);
  }
  if (text->len > 0)
    g_ptr_array_insert (cues->cues, pos, cue_new (rev, text, start, end));
}

void
cap_cues_add (CapCues * cues, CapCaption * c)
{
  GPtrArray *a = cues->cues;
  guint i, pos = G_MAXUINT;

  if (!c->revision) {
    g_ptr_array_add (a, g_memdup2 (c, sizeof (*c)));
    memset (c, 0, sizeof (*c));
    return;
  }
  /* Out: the publisher's cues that start in [start, end). In: the words, where the
   * first of them was, else before the publisher's first cue after the stretch (a
   * revision of a gap comes after the live finals that followed it). */
  for (i = 0; i < a->len;) {
    CapCaption *old = g_ptr_array_index (a, i);

    if (g_strcmp0 (old->publisher, c->publisher) != 0 || old->start < c->start) {
      i++;
      continue;
    }
    if (pos == G_MAXUINT)
      pos = i;
    if (old->start < c->end)
      g_ptr_array_remove_index (a, i);
    else
      i++;
  }
  insert_words (cues, c, pos == G_MAXUINT ? a->len : pos);
}

void
cap_cues_write (CapCues * cues, GString * out, CapTranscriptFormat format)
{
  guint i;

  for (i = 0; i < cues->cues->len; i++)
    cap_transcript_add (out, format, i + 1, g_ptr_array_index (cues->cues, i));
}
