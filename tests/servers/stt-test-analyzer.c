/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-analyzer: deterministic word finder for the test servers (rules in README.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "stt-test-analyzer.h"

#define FRAME_MS 10
/* -30 dBFS of a full-scale (32768) signal. */
#define VOICED_RMS 1036.2
#define MIN_WORD_FRAMES 3       /* 30 ms */
#define WORD_END_FRAMES 5       /* 50 ms */
#define DEFAULT_ENDPOINTING_MS 300
#define DEFAULT_INTERIM_MS 250
#define WORD_CONFIDENCE 0.9

struct _SttTestAnalyzer
{
  guint rate;
  guint frame_len;              /* samples per 10 ms frame */
  guint endpoint_frames;        /* 0 = no endpointing */
  gboolean endpoint_on_push_end;        /* checked once per push, not per frame */
  guint interim_frames;         /* 0 = no interim results */

  guint64 n_samples;
  guint64 n_frames;

  /* The frame being filled. */
  guint frame_fill;
  gdouble frame_energy;
  guint frame_crossings;
  gboolean prev_negative;

  /* The current voiced run: a word once it has MIN_WORD_FRAMES voiced frames. */
  gboolean in_run;
  guint64 run_start;
  guint64 run_end;
  guint run_frames;
  guint64 run_crossings;
  guint unvoiced_after;

  /* The open segment. */
  GArray *words;
  guint64 seg_start;
  guint silence_frames;
  gboolean changed;
  gboolean speech_started;
};

static void
word_clear (gpointer data)
{
  SttTestWord *word = data;

  g_clear_pointer (&word->text, g_free);
}

SttTestAnalyzer *
stt_test_analyzer_new (guint rate)
{
  SttTestAnalyzer *a;

  g_return_val_if_fail (rate > 0, NULL);

  a = g_new0 (SttTestAnalyzer, 1);
  a->rate = rate;
  a->frame_len = MAX (1, rate * FRAME_MS / 1000);
  a->words = g_array_new (FALSE, TRUE, sizeof (SttTestWord));
  g_array_set_clear_func (a->words, word_clear);
  stt_test_analyzer_set_endpointing (a, DEFAULT_ENDPOINTING_MS);
  stt_test_analyzer_set_interim_interval (a, DEFAULT_INTERIM_MS);
  return a;
}

void
stt_test_analyzer_free (SttTestAnalyzer * a)
{
  if (a == NULL)
    return;
  g_array_unref (a->words);
  g_free (a);
}

void
stt_test_analyzer_set_endpointing (SttTestAnalyzer * a, guint ms)
{
  a->endpoint_frames = ms == 0 ? 0 :
      MAX (WORD_END_FRAMES, (ms + FRAME_MS - 1) / FRAME_MS);
}

void
stt_test_analyzer_set_interim_interval (SttTestAnalyzer * a, guint ms)
{
  a->interim_frames = ms == 0 ? 0 : MAX (1, (ms + FRAME_MS / 2) / FRAME_MS);
}

guint64
stt_test_analyzer_get_n_samples (SttTestAnalyzer * a)
{
  return a->n_samples;
}

guint
stt_test_analyzer_get_rate (SttTestAnalyzer * a)
{
  return a->rate;
}

static gdouble
to_seconds (SttTestAnalyzer * a, guint64 samples)
{
  return (gdouble) samples / a->rate;
}

/* The word the current run stands for, as far as it has been heard. */
static SttTestWord
run_to_word (SttTestAnalyzer * a)
{
  SttTestWord word;
  gdouble voiced_samples = (gdouble) a->run_frames * a->frame_len;
  gdouble freq = a->run_crossings * (gdouble) a->rate / (2.0 * voiced_samples);
  guint rounded = (guint) (floor (freq / 100.0 + 0.5) * 100.0);

  word.text = g_strdup_printf ("w%u", rounded);
  word.start = to_seconds (a, a->run_start);
  word.end = to_seconds (a, a->run_end);
  word.confidence = WORD_CONFIDENCE;
  return word;
}

static gboolean
word_in_progress (SttTestAnalyzer * a)
{
  return a->in_run && a->run_frames >= MIN_WORD_FRAMES;
}

static void
emit (SttTestAnalyzer * a, SttTestAnalyzerEvent event, gboolean from_finalize,
    guint64 end, gboolean with_progress, SttTestAnalyzerCallback callback,
    gpointer user_data)
{
  SttTestAnalyzerResult result = { 0, };
  SttTestWord progress = { 0, };
  g_autoptr (GArray) words = NULL;

  result.event = event;
  result.is_final = event == STT_TEST_ANALYZER_FINAL;
  result.from_finalize = from_finalize;
  result.start = to_seconds (a, a->seg_start);
  result.end = to_seconds (a, end);

  if (event == STT_TEST_ANALYZER_SPEECH_STARTED) {
    result.start = result.end = to_seconds (a, a->run_start);
  } else {
    /* A shallow copy: the texts stay owned by a->words (and progress). */
    words = g_array_sized_new (FALSE, TRUE, sizeof (SttTestWord), a->words->len + 1);
    g_array_append_vals (words, a->words->data, a->words->len);
    if (with_progress) {
      progress = run_to_word (a);
      g_array_append_val (words, progress);
    }
    result.words = (const SttTestWord *) words->data;
    result.n_words = words->len;
  }

  callback (&result, user_data);
  g_free (progress.text);
}

static void
close_segment (SttTestAnalyzer * a, gboolean from_finalize, guint64 end,
    SttTestAnalyzerCallback callback, gpointer user_data)
{
  emit (a, STT_TEST_ANALYZER_FINAL, from_finalize, end, FALSE, callback, user_data);
  g_array_set_size (a->words, 0);
  a->seg_start = end;
  a->changed = FALSE;
  a->speech_started = FALSE;
}

static void
end_run (SttTestAnalyzer * a)
{
  if (a->run_frames >= MIN_WORD_FRAMES) {
    SttTestWord word = run_to_word (a);

    g_array_append_val (a->words, word);
    a->changed = TRUE;
  }
  a->in_run = FALSE;
}

static void
process_frame (SttTestAnalyzer * a, SttTestAnalyzerCallback callback,
    gpointer user_data)
{
  guint64 frame_end = a->n_samples;
  guint64 frame_start = frame_end - a->frame_len;
  gboolean voiced = sqrt (a->frame_energy / a->frame_len) > VOICED_RMS;

  a->n_frames++;

  if (voiced) {
    a->silence_frames = 0;
    a->unvoiced_after = 0;
    if (!a->in_run) {
      a->in_run = TRUE;
      /* A finalize in the middle of this frame started a new segment there. */
      a->run_start = MAX (frame_start, a->seg_start);
      a->run_frames = 0;
      a->run_crossings = 0;
    }
    a->run_frames++;
    a->run_crossings += a->frame_crossings;
    a->run_end = frame_end;
    if (a->run_frames == MIN_WORD_FRAMES && a->words->len == 0 && !a->speech_started) {
      a->speech_started = TRUE;
      emit (a, STT_TEST_ANALYZER_SPEECH_STARTED, FALSE, frame_end, FALSE, callback,
          user_data);
    }
  } else {
    a->silence_frames++;
    if (a->in_run && ++a->unvoiced_after >= WORD_END_FRAMES)
      end_run (a);
    if (a->endpoint_frames > 0 && !a->endpoint_on_push_end && a->words->len > 0
        && !a->in_run && a->silence_frames >= a->endpoint_frames)
      close_segment (a, FALSE, frame_end, callback, user_data);
  }

  if (a->interim_frames > 0 && a->n_frames % a->interim_frames == 0) {
    gboolean progress = word_in_progress (a);

    if (progress || (a->changed && a->words->len > 0)) {
      emit (a, STT_TEST_ANALYZER_PARTIAL, FALSE, frame_end, progress, callback,
          user_data);
      a->changed = FALSE;
    }
  }

  a->frame_fill = 0;
  a->frame_energy = 0.0;
  a->frame_crossings = 0;
}

void
stt_test_analyzer_push (SttTestAnalyzer * a, const gint16 * samples, gsize n_samples,
    SttTestAnalyzerCallback callback, gpointer user_data)
{
  gsize i;

  for (i = 0; i < n_samples; i++) {
    gint16 s = samples[i];
    gboolean negative = s < 0;

    if (a->n_samples > 0 && negative != a->prev_negative)
      a->frame_crossings++;
    a->prev_negative = negative;
    a->frame_energy += (gdouble) s * s;
    a->n_samples++;
    if (++a->frame_fill == a->frame_len)
      process_frame (a, callback, user_data);
  }
  /* Kaldi decodes the whole chunk, then asks whether the trailing silence is long
   * enough: speech at the chunk's end means no endpoint. */
  if (a->endpoint_on_push_end && a->endpoint_frames > 0 && a->words->len > 0 && !a->in_run
      && a->silence_frames >= a->endpoint_frames)
    close_segment (a, FALSE, a->n_samples, callback, user_data);
}

void
stt_test_analyzer_set_endpoint_on_push_end (SttTestAnalyzer * a, gboolean on_push_end)
{
  a->endpoint_on_push_end = on_push_end;
}

void
stt_test_analyzer_finalize (SttTestAnalyzer * a, SttTestAnalyzerCallback callback,
    gpointer user_data)
{
  if (a->in_run)
    end_run (a);
  close_segment (a, TRUE, a->n_samples, callback, user_data);
}

void
stt_test_analyzer_peek (SttTestAnalyzer * a, SttTestAnalyzerCallback callback,
    gpointer user_data)
{
  /* emit() only reads the state; a->changed is left for the next scheduled PARTIAL. */
  emit (a, STT_TEST_ANALYZER_PARTIAL, FALSE, a->n_samples, word_in_progress (a), callback,
      user_data);
}
