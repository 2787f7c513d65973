/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the test servers' deterministic recognizer. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "stt-test-analyzer.h"
#include "stt-test-tones.h"

#define RATE 16000

typedef struct
{
  GString *log;
  GPtrArray *finals;            /* of gchar*: "text start end;..." */
  guint n_partials;
  guint n_speech_started;
  gboolean last_from_finalize;
  gdouble last_final_start;
  gdouble last_final_end;
} Collector;

static void
collector_init (Collector * c)
{
  c->log = g_string_new (NULL);
  c->finals = g_ptr_array_new_with_free_func (g_free);
  c->n_partials = 0;
  c->n_speech_started = 0;
}

static void
collector_clear (Collector * c)
{
  g_string_free (c->log, TRUE);
  g_ptr_array_unref (c->finals);
}

static void
collect (const SttTestAnalyzerResult * r, gpointer user_data)
{
  Collector *c = user_data;
  GString *words = g_string_new (NULL);
  guint i;

  for (i = 0; i < r->n_words; i++)
    g_string_append_printf (words, "%s %.4f %.4f %.2f;", r->words[i].text,
        r->words[i].start, r->words[i].end, r->words[i].confidence);
  g_string_append_printf (c->log, "%c %.4f %.4f %d [%s]\n",
      "PFS"[r->event], r->start, r->end, r->from_finalize, words->str);

  switch (r->event) {
    case STT_TEST_ANALYZER_PARTIAL:
      g_assert_false (r->is_final);
      c->n_partials++;
      break;
    case STT_TEST_ANALYZER_FINAL:
      g_assert_true (r->is_final);
      g_ptr_array_add (c->finals, g_strdup (words->str));
      c->last_from_finalize = r->from_finalize;
      c->last_final_start = r->start;
      c->last_final_end = r->end;
      break;
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      c->n_speech_started++;
      break;
  }
  g_string_free (words, TRUE);
}

static void
run (const gint16 * samples, gsize n, gsize chunk, gboolean finalize, Collector * c)
{
  SttTestAnalyzer *a = stt_test_analyzer_new (RATE);
  gsize off;

  collector_init (c);
  for (off = 0; off < n; off += chunk)
    stt_test_analyzer_push (a, samples + off, MIN (chunk, n - off), collect, c);
  if (finalize)
    stt_test_analyzer_finalize (a, collect, c);
  g_assert_cmpuint (stt_test_analyzer_get_n_samples (a), ==, n);
  stt_test_analyzer_free (a);
}

/* Parses "text start end conf;" entry @index of a final. */
static void
assert_word (const gchar * final, guint index, const gchar * text, gdouble start,
    gdouble end)
{
  g_auto (GStrv) entries = g_strsplit (final, ";", -1);
  g_auto (GStrv) fields = NULL;

  g_assert_cmpuint (g_strv_length (entries), >, index);
  fields = g_strsplit (entries[index], " ", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 4);
  g_assert_cmpstr (fields[0], ==, text);
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (fields[1], NULL), start, 0.0101);
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (fields[2], NULL), end, 0.0101);
  g_assert_cmpfloat_with_epsilon (g_ascii_strtod (fields[3], NULL), 0.9, 1e-9);
}

static guint
count_words (const gchar * final)
{
  guint n = 0;

  for (; *final; final++)
    n += *final == ';';
  return n;
}

static const SttTestTone two_tones[] = {
  {440.0, 0.5, 0.9, 0.5},
  {700.0, 1.0, 1.3, 0.5},
};

static void
test_two_tones (void)
{
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 2.0, two_tones, 2, &n);
  Collector c;

  run (samples, n, n, FALSE, &c);
  g_test_message ("%s", c.log->str);
  g_assert_cmpuint (c.finals->len, ==, 1);
  assert_word (c.finals->pdata[0], 0, "w400", 0.5, 0.9);
  assert_word (c.finals->pdata[0], 1, "w700", 1.0, 1.3);
  g_assert_cmpuint (count_words (c.finals->pdata[0]), ==, 2);
  /* Endpointing: 300 ms of silence after the last word. */
  g_assert_false (c.last_from_finalize);
  g_assert_cmpfloat_with_epsilon (c.last_final_start, 0.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (c.last_final_end, 1.6, 0.0101);
  g_assert_cmpuint (c.n_speech_started, ==, 1);
  g_assert_cmpuint (c.n_partials, >=, 3);
  collector_clear (&c);
}

static void
test_chunking (void)
{
  static const gsize chunks[] = { 1, 160, 3200, 7, 1601 };
  gsize n, i;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 2.0, two_tones, 2, &n);
  Collector ref;

  run (samples, n, n, TRUE, &ref);
  for (i = 0; i < G_N_ELEMENTS (chunks); i++) {
    Collector c;

    run (samples, n, chunks[i], TRUE, &c);
    g_assert_cmpstr (c.log->str, ==, ref.log->str);
    collector_clear (&c);
  }
  collector_clear (&ref);
}

/* Interims come every 250 ms of audio while a segment is open, with the word in progress. */
static void
test_partials (void)
{
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 2.0, two_tones, 2, &n);
  Collector c;

  run (samples, n, 160, FALSE, &c);
  g_assert_nonnull (strstr (c.log->str, "P 0.0000 0.7500 0 [w400 0.5000 0.7500 0.90;]"));
  g_assert_nonnull (strstr (c.log->str, "P 0.0000 1.0000 0 [w400 0.5000 0.9000 0.90;]"));
  g_assert_nonnull (strstr (c.log->str,
          "P 0.0000 1.2500 0 [w400 0.5000 0.9000 0.90;w700 1.0000 1.2500 0.90;]"));
  g_assert_nonnull (strstr (c.log->str, "S 0.5000 0.5000 0 []"));
  /* Nothing after the final: the segment is closed and silence follows. */
  g_assert_true (g_str_has_suffix (c.log->str,
          "F 0.0000 1.6000 0 [w400 0.5000 0.9000 0.90;w700 1.0000 1.3000 0.90;]\n"));
  collector_clear (&c);
}

/* The same sound gives the same word wherever the stream started. */
static void
test_offset_independent (void)
{
  const SttTestTone shifted[] = {
    {440.0, 0.123, 0.523, 0.35},
    {700.0, 0.6234, 0.9234, 0.6},
  };
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 1.5, shifted, 2, &n);
  Collector c;

  run (samples, n, 333, FALSE, &c);
  g_assert_cmpuint (c.finals->len, ==, 1);
  assert_word (c.finals->pdata[0], 0, "w400", 0.123, 0.523);
  assert_word (c.finals->pdata[0], 1, "w700", 0.6234, 0.9234);
  collector_clear (&c);
}

static void
test_finalize_mid_word (void)
{
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 0.7, two_tones, 1, &n);
  Collector c;

  run (samples, n, 160, TRUE, &c);
  g_assert_cmpuint (c.finals->len, ==, 1);
  g_assert_true (c.last_from_finalize);
  assert_word (c.finals->pdata[0], 0, "w400", 0.5, 0.7);
  g_assert_cmpfloat_with_epsilon (c.last_final_end, 0.7, 1e-9);
  collector_clear (&c);
}

/* A finalize with nothing open still yields one (empty) final covering the audio. */
static void
test_finalize_silence (void)
{
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 0.5, NULL, 0, &n);
  Collector c;

  run (samples, n, n, TRUE, &c);
  g_assert_cmpuint (c.finals->len, ==, 1);
  g_assert_cmpstr (c.finals->pdata[0], ==, "");
  g_assert_cmpfloat_with_epsilon (c.last_final_end, 0.5, 1e-9);
  g_assert_cmpuint (c.n_partials, ==, 0);
  collector_clear (&c);
}

/* Too quiet (-33.5 dBFS RMS) or too short (20 ms) is no word. */
static void
test_not_words (void)
{
  const SttTestTone tones[] = {
    {440.0, 0.2, 0.6, 0.03},
    {440.0, 0.8, 0.82, 0.5},
  };
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 1.5, tones, 2, &n);
  Collector c;

  run (samples, n, n, FALSE, &c);
  g_assert_cmpstr (c.log->str, ==, "");
  collector_clear (&c);
}

/* Gaps under 50 ms do not split a word; endpointing can be disabled. */
static void
test_gap_and_no_endpointing (void)
{
  const SttTestTone tones[] = {
    {1000.0, 0.1, 0.3, 0.5},
    {1000.0, 0.33, 0.5, 0.5},
  };
  gsize n;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 3.0, tones, 2, &n);
  SttTestAnalyzer *a = stt_test_analyzer_new (RATE);
  Collector c;

  collector_init (&c);
  stt_test_analyzer_set_endpointing (a, 0);
  stt_test_analyzer_set_interim_interval (a, 0);
  stt_test_analyzer_push (a, samples, n, collect, &c);
  g_assert_cmpuint (c.finals->len, ==, 0);
  g_assert_cmpuint (c.n_partials, ==, 0);
  stt_test_analyzer_finalize (a, collect, &c);
  g_assert_cmpuint (c.finals->len, ==, 1);
  assert_word (c.finals->pdata[0], 0, "w1000", 0.1, 0.5);
  g_assert_cmpuint (count_words (c.finals->pdata[0]), ==, 1);
  stt_test_analyzer_free (a);
  collector_clear (&c);
}

static void
peek_collect (const SttTestAnalyzerResult * r, gpointer user_data)
{
  GString *peeks = user_data;
  guint i;

  g_assert_cmpint (r->event, ==, STT_TEST_ANALYZER_PARTIAL);
  g_string_append_printf (peeks, "%.2f:", r->end);
  for (i = 0; i < r->n_words; i++)
    g_string_append_printf (peeks, " %s %.4f %.4f", r->words[i].text, r->words[i].start,
        r->words[i].end);
  g_string_append_c (peeks, '\n');
}

/* A peek shows the open segment now (the word in progress included) and changes nothing:
 * the results are those of a run without peeks. */
static void
test_peek (void)
{
  gsize n, off;
  g_autofree gint16 *samples = stt_test_tones_render (RATE, 2.0, two_tones, 2, &n);
  SttTestAnalyzer *a = stt_test_analyzer_new (RATE);
  GString *peeks = g_string_new (NULL);
  Collector ref, c;

  run (samples, n, 160, TRUE, &ref);
  collector_init (&c);
  for (off = 0; off < n; off += 3200) {
    stt_test_analyzer_push (a, samples + off, MIN (3200, n - off), collect, &c);
    stt_test_analyzer_peek (a, peek_collect, peeks);
  }
  stt_test_analyzer_finalize (a, collect, &c);
  g_assert_cmpstr (c.log->str, ==, ref.log->str);
  g_test_message ("%s", peeks->str);
  g_assert_nonnull (strstr (peeks->str, "0.40:\n"));
  g_assert_nonnull (strstr (peeks->str, "0.60: w400 0.5000 0.6000\n"));
  g_assert_nonnull (strstr (peeks->str,
          "1.20: w400 0.5000 0.9000 w700 1.0000 1.2000\n"));
  /* The segment closed at 1.6 s. */
  g_assert_nonnull (strstr (peeks->str, "1.80:\n"));
  stt_test_analyzer_free (a);
  g_string_free (peeks, TRUE);
  collector_clear (&ref);
  collector_clear (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/analyzer/two-tones", test_two_tones);
  g_test_add_func ("/analyzer/chunking", test_chunking);
  g_test_add_func ("/analyzer/partials", test_partials);
  g_test_add_func ("/analyzer/offset-independent", test_offset_independent);
  g_test_add_func ("/analyzer/finalize-mid-word", test_finalize_mid_word);
  g_test_add_func ("/analyzer/finalize-silence", test_finalize_silence);
  g_test_add_func ("/analyzer/not-words", test_not_words);
  g_test_add_func ("/analyzer/gap-and-no-endpointing", test_gap_and_no_endpointing);
  g_test_add_func ("/analyzer/peek", test_peek);
  return g_test_run ();
}
