/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-analyzer: the deterministic "recognizer" behind every test server.
 *
 * It turns S16 mono samples into "words": runs of non-silence, named after their tone
 * ("w" + zero-crossing frequency rounded to 100 Hz). The same audio always gives the same
 * words, whatever the chunking and wherever the connection started. Rules: README.md.
 * Not thread-safe: one analyzer per connection, used from one thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _SttTestAnalyzer SttTestAnalyzer;

typedef struct
{
  gchar *text;                  /* "w400" */
  gdouble start;                /* seconds since the first sample fed */
  gdouble end;
  gdouble confidence;
} SttTestWord;

typedef enum
{
  /* Interim view of the open segment (completed words + the word in progress). */
  STT_TEST_ANALYZER_PARTIAL,
  /* The segment is closed: by endpointing, or by stt_test_analyzer_finalize(). */
  STT_TEST_ANALYZER_FINAL,
  /* The first word of a segment was recognised; start == end == its start time. */
  STT_TEST_ANALYZER_SPEECH_STARTED,
} SttTestAnalyzerEvent;

typedef struct
{
  SttTestAnalyzerEvent event;
  gboolean is_final;
  /* FINAL only: TRUE when closed by stt_test_analyzer_finalize(), FALSE by endpointing. */
  gboolean from_finalize;
  const SttTestWord *words;
  guint n_words;
  /* The segment window, seconds since the first sample fed. Windows tile the stream:
   * start is the end of the previous FINAL (0 at first); end is the audio position when the
   * result was produced. */
  gdouble start;
  gdouble end;
} SttTestAnalyzerResult;

typedef void (*SttTestAnalyzerCallback) (const SttTestAnalyzerResult * result,
    gpointer user_data);

SttTestAnalyzer *stt_test_analyzer_new (guint rate);
void stt_test_analyzer_free (SttTestAnalyzer * analyzer);

/* Silence after a word that closes the segment, in ms (default 300, 0 = never). Values
 * under 50 ms act as 50 ms: a word only ends after 50 ms of silence. */
void stt_test_analyzer_set_endpointing (SttTestAnalyzer * analyzer, guint ms);
/* TRUE: the endpoint is checked once at the end of each push (the whole message decoded
 * first, as vosk-api's KaldiRecognizer does), not at every frame. */
void stt_test_analyzer_set_endpoint_on_push_end (SttTestAnalyzer * analyzer,
    gboolean on_push_end);
/* Audio between interim results, in ms (default 250, 0 = no PARTIAL results). */
void stt_test_analyzer_set_interim_interval (SttTestAnalyzer * analyzer, guint ms);

/* Feeds @n_samples samples (host endianness); @callback runs for every result due, in
 * order, before this returns. */
void stt_test_analyzer_push (SttTestAnalyzer * analyzer, const gint16 * samples,
    gsize n_samples, SttTestAnalyzerCallback callback, gpointer user_data);
/* Closes the open segment now, including a word in progress: always exactly one FINAL
 * result (with from_finalize set, possibly without words) whose end is the last sample fed. */
void stt_test_analyzer_finalize (SttTestAnalyzer * analyzer,
    SttTestAnalyzerCallback callback, gpointer user_data);

/* Calls @callback once, now, with a PARTIAL view of the open segment as of the last sample
 * fed: its completed words and the word in progress (no words when none), window as for a
 * PARTIAL. Changes nothing: the scheduled PARTIALs and the FINAL come as without it. For
 * protocols that answer every message rather than on the 250 ms grid (vosk). */
void stt_test_analyzer_peek (SttTestAnalyzer * analyzer, SttTestAnalyzerCallback callback,
    gpointer user_data);

/* Samples fed so far. */
guint64 stt_test_analyzer_get_n_samples (SttTestAnalyzer * analyzer);
guint stt_test_analyzer_get_rate (SttTestAnalyzer * analyzer);

G_END_DECLS
