/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Caption shaping: see gststtcues.h.
 *
 * Greedy at word boundaries: a word goes on the current line if the line stays within
 * max_line_length, else on a new line if the cue has room for one and stays within
 * max_duration, else it starts the next cue. A two-line cue is then re-balanced (the cut
 * that makes the longer line shortest), as broadcast captions are. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtcues.h"

typedef struct
{
  gchar *text;
  glong len;                    /* characters */
  GstClockTime start, end;
} Token;

void
gst_stt_cue_free (GstSttCue * cue)
{
  g_free (cue->text);
  g_free (cue);
}

static void
token_clear (Token * t)
{
  g_free (t->text);
}

/* The words' times, or FALSE if any is missing. */
static gboolean
word_times (const GValue * words, guint i, GstClockTime * start, GstClockTime * end)
{
  const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (words, i));

  return gst_structure_get_clock_time (w, "start", start)
      && gst_structure_get_clock_time (w, "end", end)
      && GST_CLOCK_TIME_IS_VALID (*start) && GST_CLOCK_TIME_IS_VALID (*end);
}

/* @text's words, timed by @words where they match one to one, else spread over
 * [@from, @to] by their length. */
static GArray *
tokens_new (const gchar * text, GstClockTime from, GstClockTime to, const GValue * words)
{
  g_auto (GStrv) parts = g_strsplit_set (text, " \t\r\n", -1);
  GArray *toks = g_array_new (FALSE, TRUE, sizeof (Token));
  guint n_words = words ? gst_value_array_get_size (words) : 0, i;
  gboolean timed = n_words > 0;
  glong total = 0, at = 0;

  g_array_set_clear_func (toks, (GDestroyNotify) token_clear);
  for (i = 0; parts[i]; i++) {
    Token t = { 0, };

    if (*parts[i] == '\0')
      continue;
    t.text = g_strdup (parts[i]);
    t.len = g_utf8_strlen (t.text, -1);
    total += t.len + (toks->len ? 1 : 0);
    g_array_append_val (toks, t);
  }

  for (i = 0; timed && i < n_words; i++) {
    GstClockTime s, e;

    timed = word_times (words, i, &s, &e);
    if (timed && i == 0)
      from = s;
    if (timed && i == n_words - 1)
      to = MAX (e, from);
  }
  if (timed && n_words == toks->len) {
    for (i = 0; i < n_words; i++) {
      Token *t = &g_array_index (toks, Token, i);

      word_times (words, i, &t->start, &t->end);
      t->end = MAX (t->end, t->start);
    }
    return toks;
  }

  /* Formatting changed the number of words (or there are no times): share the span out
   * by characters. */
  for (i = 0; i < toks->len; i++) {
    Token *t = &g_array_index (toks, Token, i);
    GstClockTime span = to > from ? to - from : 0;

    if (i > 0)
      at++;
    t->start = from + gst_util_uint64_scale (span, at, MAX (total, 1));
    at += t->len;
    t->end = from + gst_util_uint64_scale (span, at, MAX (total, 1));
  }
  return toks;
}

static glong
span_len (GArray * toks, guint a, guint b)
{
  glong n = 0;
  guint i;

  for (i = a; i < b; i++)
    n += g_array_index (toks, Token, i).len + (i > a ? 1 : 0);
  return n;
}

static void
append_span (GString * s, GArray * toks, guint a, guint b)
{
  guint i;

  for (i = a; i < b; i++) {
    if (i > a)
      g_string_append_c (s, ' ');
    g_string_append (s, g_array_index (toks, Token, i).text);
  }
}

/* Tokens [@a, @b) with line starts @breaks (the first is @a) as one cue. */
static GstSttCue *
make_cue (GArray * toks, guint a, guint b, GArray * breaks, guint max_len)
{
  GstSttCue *cue = g_new0 (GstSttCue, 1);
  GString *s = g_string_new (NULL);
  GstClockTime end = 0;
  guint i;

  if (breaks->len == 2) {
    /* Two lines: the cut that makes the longer one shortest, within the limit. */
    guint best = g_array_index (breaks, guint, 1), k;
    glong best_max = MAX (span_len (toks, a, best), span_len (toks, best, b));

    for (k = a + 1; k < b; k++) {
      glong l1 = span_len (toks, a, k), l2 = span_len (toks, k, b), m = MAX (l1, l2);

      if ((max_len == 0 || (l1 <= max_len && l2 <= max_len)) && m < best_max) {
        best = k;
        best_max = m;
      }
    }
    g_array_index (breaks, guint, 1) = best;
  }
  for (i = 0; i < breaks->len; i++) {
    guint from = g_array_index (breaks, guint, i);
    guint to = i + 1 < breaks->len ? g_array_index (breaks, guint, i + 1) : b;

    if (i > 0)
      g_string_append_c (s, '\n');
    append_span (s, toks, from, to);
  }
  for (i = a; i < b; i++)
    end = MAX (end, g_array_index (toks, Token, i).end);
  cue->text = g_string_free (s, FALSE);
  cue->pts = g_array_index (toks, Token, a).start;
  cue->duration = end > cue->pts ? end - cue->pts : 0;
  return cue;
}

GPtrArray *
gst_stt_cues_shape (const gchar * text, GstClockTime pts, GstClockTime duration,
    const GValue * words, const GstSttCueLimits * limits)
{
  GPtrArray *cues = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_stt_cue_free);
  GArray *toks, *breaks;
  GstClockTime max_dur = GST_CLOCK_TIME_IS_VALID (limits->max_duration) ?
      limits->max_duration : 0;
  guint max_len = limits->max_line_length, max_lines = limits->max_lines;
  guint start = 0, i;
  glong line = 0;

  if (!GST_CLOCK_TIME_IS_VALID (pts) || !GST_CLOCK_TIME_IS_VALID (duration)) {
    /* Nothing to place cuts with: as it came. */
    GstSttCue *cue = g_new0 (GstSttCue, 1);

    cue->text = g_strdup (text);
    cue->pts = pts;
    cue->duration = duration;
    g_ptr_array_add (cues, cue);
    return cues;
  }

  toks = tokens_new (text, pts, pts + duration, words);
  breaks = g_array_new (FALSE, FALSE, sizeof (guint));
  for (i = 0; i < toks->len; i++) {
    const Token *t = &g_array_index (toks, Token, i);

    if (i > start) {
      const Token *first = &g_array_index (toks, Token, start);
      gboolean too_long = max_dur > 0 && t->end > first->start + max_dur;

      if (!too_long && (max_len == 0 || line + 1 + t->len <= max_len)) {
        line += 1 + t->len;
        continue;
      }
      if (!too_long && (max_lines == 0 || breaks->len < max_lines)) {
        g_array_append_val (breaks, i);
        line = t->len;
        continue;
      }
      g_ptr_array_add (cues, make_cue (toks, start, i, breaks, max_len));
    }
    start = i;
    g_array_set_size (breaks, 0);
    g_array_append_val (breaks, i);
    line = t->len;
  }
  if (toks->len > start)
    g_ptr_array_add (cues, make_cue (toks, start, toks->len, breaks, max_len));
  g_array_unref (breaks);
  g_array_unref (toks);
  return cues;
}
