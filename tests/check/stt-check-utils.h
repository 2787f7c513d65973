/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the gst-check tests: tone-burst audio with known word times, bus
 * collection, pipelines, a live appsrc feeder, the text an appsink receives. */
#pragma once

#include <gst/gst.h>
#include <gst/audio/audio.h>
#include <gio/gio.h>
#include <gst/check/gstharness.h>

/* tests/servers/stt-test-server.h */
typedef struct _SttTestServer SttTestServer;

G_BEGIN_DECLS

/* A tone from @start to @end seconds at @freq Hz: the test servers hear it as the word
 * "w<freq rounded to 100>" with those times. */
typedef struct
{
  gdouble start, end, freq;
} SttTone;

/* A word of a revision event: @text from @start to @end seconds. */
typedef struct
{
  const gchar *text;
  gdouble start, end;
} SttCheckWord;

/* The serialized custom downstream event stt-revision (docs/messages.md) stttranscribe
 * pushes for a revision of [@start, @end) seconds (as its pts and duration) made of
 * @words, as the primary "deepgram" replacing the backup "vosk". */
GstEvent *stt_check_revision_event (gdouble start, gdouble end, const SttCheckWord * words,
    guint n_words);

/* The word the test servers hear for @t: "w" + its frequency rounded to 100 Hz. */
gchar *stt_check_tone_word (const SttTone * t);
/* @text in lower case without punctuation: how words are compared ("W400," is w400). */
gchar *stt_check_bare_word (const gchar * text);

/* Speech-like tones for @duration seconds: words of 0.25-0.4 s (420..2020 Hz in 100 Hz
 * steps, a known sequence), 0.5-0.8 s apart, a 2.5 s pause after every 8 words (so a
 * VAD that needs a long silence commits now and then), the last word ending @tail
 * seconds before the end. Free with g_free. */
SttTone *stt_check_make_speech (gdouble duration, gdouble tail, guint * n_tones);

/* Writes @duration seconds of @tones (as stt_check_make_audio()) to @path as a WAV
 * file, S16LE, @rate, @channels. */
gboolean stt_check_write_wav (const gchar * path, guint rate, guint channels,
    gdouble duration, const SttTone * tones, guint n_tones, GError ** error);

/* @duration seconds of audio in @format (S16LE or F32LE), @rate, @channels, silent but
 * for @tones, as one buffer with PTS @pts. */
GstBuffer *stt_check_make_audio (GstAudioFormat format, guint rate, guint channels,
    gdouble duration, const SttTone * tones, guint n_tones, GstClockTime pts);
GstCaps *stt_check_audio_caps (GstAudioFormat format, guint rate, guint channels);

/* Splits @buf into buffers of @chunk_ms with running PTS (for pushing like a source). */
GList *stt_check_split (GstBuffer * buf, GstAudioFormat format, guint rate,
    guint channels, guint chunk_ms);

/* A thread that pushes @buffers (PTS from 0) into the appsrc @src: with @realtime at the
 * pace of a live source, from @start (monotonic time in us; 0: when the thread starts),
 * else all at once; then EOS, unless a push failed or stt_check_feeder_stop() came
 * first. It pushes copies, which share the samples but not the metadata, so feeders may
 * share @buffers; they must outlive it. */
typedef struct _SttCheckFeeder SttCheckFeeder;
SttCheckFeeder *stt_check_feeder_start (GstElement * src, GList * buffers,
    gboolean realtime, gint64 start);
/* Stops the feeder if it is still pushing, joins its thread and frees it. */
void stt_check_feeder_stop (SttCheckFeeder * f);
/* A realtime feeder pushes nothing for @us from now, then goes on where it was: the
 * buffers keep their PTS (a live source that stalls, not one that skips), so they come
 * @us later than their time. */
void stt_check_feeder_pause (SttCheckFeeder * f, gint64 us);

/* A text buffer as an appsink received it. */
typedef struct
{
  GstClockTime pts, duration;
  gchar *text;
  gint64 arrived;               /* monotonic time */
} SttCheckCue;

/* An empty array of SttCheckCue that frees their text. */
GArray *stt_check_cues_new (void);
/* Appends every buffer the appsink @sink receives to @cues (from stt_check_cues_new())
 * as an SttCheckCue, under @lock: read @cues under @lock, or once the sink stopped. */
void stt_check_collect_cues (GstElement * sink, GMutex * lock, GArray * cues);

/* Captures GStreamer's debug log at @threshold ("*:6") and GLib's log (its default
 * handler) into one text, lines "category function:line message" and "domain:
 * message", until stt_check_log_capture_stop(). With @quiet, GStreamer's log no longer
 * goes to stderr too. */
void stt_check_log_capture_start (const gchar * threshold, gboolean quiet);
/* The text captured so far, held against the threads that log until
 * stt_check_log_unlock(). */
const GString *stt_check_log_lock (void);
void stt_check_log_unlock (void);
/* Stops the capture, puts back what it replaced (GStreamer's log on stderr, GLib's
 * default handler; not the threshold) and frees the text. */
void stt_check_log_capture_stop (void);

/* Pops element messages named @name (and the error, if any, as an "error" structure,
 * and warnings as "warning" structures: their details plus "message") from @bus until
 * @done
 * returns TRUE for the list collected so far, or @timeout_ms passes. Returns the list of
 * GstStructure copies (free with g_list_free_full (l, gst_structure_free)). */
typedef gboolean (*SttCheckDoneFunc) (GList * collected, gpointer user_data);
GList *stt_check_collect (GstBus * bus, const gchar * name, guint timeout_ms,
    SttCheckDoneFunc done, gpointer user_data);

/* Structures in @list whose "is-final" is @is_final. */
GList *stt_check_filter_final (GList * list, gboolean is_final);

/* Where (in samples) the S16LE audio @needle starts inside @haystack, matching its first
 * 256 samples exactly; -1 if nowhere. */
gssize stt_check_find_audio (GBytes * haystack, GBytes * needle);

/* Word error rate of @hyp against @ref (space-separated words, case-insensitive):
 * (substitutions + insertions + deletions) / words in @ref. */
gdouble stt_check_wer (const gchar * ref, const gchar * hyp);

/* Starts the program @argv (NULL-terminated) and waits up to @timeout_ms for it to print
 * a line "listening on ws://HOST:PORT"; returns the process and sets @port, or NULL. */
GSubprocess *stt_check_spawn_server (const gchar * const *argv, guint timeout_ms,
    guint * port);
/* SIGTERM, then waits for the process to exit (bounded). */
void stt_check_stop_server (GSubprocess * proc);

/* A SoupServer on 127.0.0.1 port 0, run by its own thread and main context, for small
 * HTTP/WebSocket peers in tests. @setup adds handlers (on that thread). With @cert the
 * server speaks TLS. */
typedef struct _SttCheckSoup SttCheckSoup;
typedef void (*SttCheckSoupSetup) (gpointer soup_server, gpointer user_data);
SttCheckSoup *stt_check_soup_new (GTlsCertificate * cert, SttCheckSoupSetup setup,
    gpointer user_data);
/* The same on @port (0: any free port); NULL if it cannot listen there. */
SttCheckSoup *stt_check_soup_new_on_port (GTlsCertificate * cert, guint port,
    SttCheckSoupSetup setup, gpointer user_data);
guint stt_check_soup_get_port (SttCheckSoup * s);
void stt_check_soup_free (SttCheckSoup * s);

/* A run through stttranscribe for the fault and provider tests: @tones in @duration
 * seconds of S16LE mono 16 kHz, cut into 20 ms buffers, a harness on @provider at @url
 * (the test credentials, 60 s latency, quick reconnects) with a bus. */
typedef struct
{
  GstHarness *h;
  GstBus *bus;
  GBytes *input;                /* the whole input, S16LE mono 16 kHz */
  GList *buffers;               /* 20 ms buffers */
  GPtrArray *audio;             /* GBytes: what each server connection received */
  const SttTone *tones;
  guint n_tones;
} SttCheckRun;

#define STT_CHECK_RUN_RATE 16000

/* The credentials the local servers take: api-key "test-key", or for aws the key pair
 * (STT_CHECK_AWS_KEY_ID, secret "test-key") and a region. */
#define STT_CHECK_AWS_KEY_ID "AKIDTESTEXAMPLE"
#define STT_CHECK_AWS_REGION "us-west-2"
void stt_check_set_test_credentials (GstElement * stt, const gchar * provider);
/* Waits (up to 10 s) until connection @index of @server received @seconds of 16 kHz
 * mono S16 audio. */
gboolean stt_check_wait_server_audio (SttTestServer * server, guint index,
    gdouble seconds);

SttCheckRun *stt_check_run_new (const gchar * provider, const gchar * url,
    const SttTone * tones, guint n_tones, gdouble duration);
void stt_check_run_free (SttCheckRun * r);
/* Pushes the input from @from to @to seconds. With @realtime, at the pace of a live
 * source; returns the longest a push took (a live source must never block). */
gint64 stt_check_run_push (SttCheckRun * r, gdouble from, gdouble to, gboolean realtime);
/* Ends the stream and checks the words: exactly @expected (NULL-terminated), in order,
 * once each, at their tones' start (30 ms), and no error. Words compare without case and
 * punctuation ("W400," is w400). Returns the messages (@prior, then the new ones,
 * connection ones too; free with g_list_free_full (l, gst_structure_free)). */
GList *stt_check_run_finish (SttCheckRun * r, const gchar * const *expected,
    GList * prior);
/* Calls @func for every word of the finals in @msgs, in order, with its start time. */
typedef void (*SttCheckWordFunc) (const gchar * text, GstClockTime start,
    gpointer user_data);
void stt_check_foreach_final_word (GList * msgs, SttCheckWordFunc func,
    gpointer user_data);
/* Where the tone heard as @word starts, in seconds; -1 if none. */
gdouble stt_check_run_tone_start (SttCheckRun * r, const gchar * word);
/* An SttCheckDoneFunc: the finals collected hold at least GPOINTER_TO_UINT (@user_data)
 * words. */
gboolean stt_check_enough_final_words (GList * collected, gpointer user_data);

/* Fails unless @got is within 30 ms of @want; @what names it in the message. */
void stt_check_assert_time (GstClockTime got, GstClockTime want, const gchar * what);
/* An SttCheckDoneFunc: an error was collected. */
gboolean stt_check_has_error (GList * collected, gpointer user_data);
/* How many stt-connection structures in @msgs are in @state ("reconnecting", ...). */
guint stt_check_count_state (GList * msgs, const gchar * state);

/* Waits up to @timeout_ms for an error on @bus: the "error" structure of
 * stt_check_collect() (message, debug, domain, code), or NULL. */
GstStructure *stt_check_wait_error (GstBus * bus, guint timeout_ms);

/* An SttCheckDoneFunc: at least GPOINTER_TO_UINT (@user_data) finals collected. */
gboolean stt_check_n_finals (GList * collected, gpointer user_data);
/* Checks the final transcript @s: its text, and its pts, duration and words (text "w<f>",
 * start, end, confidence) against the @n tones @t (30 ms), input times from @offset. */
void stt_check_final (const GstStructure * s, const gchar * text, const SttTone * t,
    guint n, GstClockTime offset);
/* stt_check_final() with the texts the service gives the words: @word_texts (NULL: the
 * tones' "w<f>"), such as "W400" and "w700." where it writes capitals and punctuation. */
void stt_check_final_words (const GstStructure * s, const gchar * text,
    const gchar * const *word_texts, const SttTone * t, guint n, GstClockTime offset);
/* Fails unless every word of the transcript @s has a confidence within 0.01 of @want. */
void stt_check_word_confidence (const GstStructure * s, gdouble want);

/* json-glib's object, declared here so that tests without json-glib need not find its
 * headers (C11 allows the same typedef twice). */
typedef struct _JsonObject JsonObject;

/* The claims of @token when it is a compact JWS with the header alg HS256 and typ JWT
 * whose HMAC-SHA256 signature under @secret verifies (checked with GLib's GHmac, not
 * the plugin's OpenSSL path); else NULL and @why (free it) says what is wrong. */
JsonObject *stt_check_jwt_verify (const gchar * token, const gchar * secret,
    gchar ** why);

G_END_DECLS
