/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-common: what the benchmark programs share: the bench-server child process,
 * process measurements (CPU, RSS, threads), the machine line, deterministic audio,
 * percentiles, and a set of live streams with chain-function timing. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* gst_init, the plugin of the build tree (unless GST_PLUGIN_PATH is set), RLIMIT_NOFILE
 * raised to its hard limit. Prints the machine line. */
void bench_init (int *argc, char ***argv, const gchar * name);
/* "nproc 2, AMD EPYC, load 1.2 0.9 0.6" */
gchar *bench_machine_line (void);

/* ---- the server: bench-server in a child process ---------------------------------- */
typedef struct
{
  GPid pid;
  gchar *url;                   /* ws://127.0.0.1:PORT/v1/listen */
  guint port;
} BenchServer;

/* Starts bench-server with @args (NULL-terminated, may be NULL); NULL on failure. */
BenchServer *bench_server_start (const gchar * const *args);
/* The same for another program that prints "... ws://127.0.0.1:PORT..." as its first line
 * (e.g. tests/servers' stt-test-server); bench_server_stats() is bench-server's only. */
BenchServer *bench_server_start_program (const gchar * prog, const gchar * const *args);
void bench_server_signal (BenchServer * server, int sig);
void bench_server_stop (BenchServer * server);
/* Bytes received per connection tag (tag -> guint64*); @n_open: connections open. */
GHashTable *bench_server_stats (BenchServer * server, guint * n_open, guint * n_conns);

/* ---- measurements ------------------------------------------------------------------ */
gdouble bench_cpu_seconds (void);       /* user + system of this process */
void bench_cpu_split (gdouble * user, gdouble * sys);
/* User and system CPU seconds of another process (/proc/PID/stat); FALSE if it is gone. */
gboolean bench_pid_cpu (GPid pid, gdouble * user, gdouble * sys);
gdouble bench_now (void);       /* monotonic seconds */
guint64 bench_rss_bytes (void);
/* Threads of this process; with @by_kind, a summary such as "src 100, stt 100, stt-io 2,
 * other 5" (thread names grouped by their prefix before a digit). */
guint bench_n_threads (gchar ** by_kind);
/* @p in 0..100 of @values (sorted in place). NAN when empty. */
gdouble bench_percentile (GArray * values, gdouble p);

/* ---- audio ------------------------------------------------------------------------- */
/* @seconds of deterministic speech-like S16LE interleaved audio: voiced syllables
 * (harmonic tones with envelopes), noise bursts, short and long pauses. */
gint16 *bench_speechlike (guint rate, guint channels, guint seconds, gsize * n_frames);

/* ---- word slots: tones the test servers of tests/servers hear as words ------------- */
/* Slot k (0 <= k < n, n = 0: no end) is a sine tone from first + k * period for length
 * seconds, at 420 + 100 * ((7k) mod 17) Hz (neighbours differ), amplitude 0.5; silence
 * elsewhere. The test servers' analyzer hears it as the word "w" + its frequency rounded
 * to 100 Hz, starting and ending with the tone (10 ms). */
typedef struct
{
  gdouble first, period, length;
  guint64 n;
} BenchSlots;

gchar *bench_slot_word (guint64 k);     /* "w400" ... */
gdouble bench_slot_start (const BenchSlots * slots, guint64 k);
/* The slot whose tone starts nearest @t seconds; -1 if none is within half a period. */
gint64 bench_slot_nearest (const BenchSlots * slots, gdouble t);
/* @n S16 mono samples at @rate, from sample @first_sample of the stream. */
void bench_slots_fill (const BenchSlots * slots, guint rate, guint64 first_sample,
    gint16 * out, gsize n);

/* ---- one live stream of word slots, fed in real time ------------------------------ */
/* `appsrc is-live=true format=time ! stttranscribe name=stt ! fakesink`: 20 ms buffers of
 * S16LE mono 16 kHz made on the fly (nothing kept) by a feeder thread at the pace of
 * the monotonic clock, from PTS 0, for @seconds (0: until stopped), then EOS. The
 * element keeps its defaults: set what is wanted on @stt before bench_live_start(). */
typedef struct
{
  GstElement *pipeline, *stt;
  GstBus *bus;
  BenchSlots slots;
  /* Instead of the slots (bench_live_new_sample): a sample looped, not owned. */
  const gint16 *sample;
  gsize sample_len, sample_offset;
  guint chunk;                  /* samples per buffer */
  gdouble seconds;
  gint64 start_us;              /* monotonic time of PTS 0 */
  GThread *feeder;
  gint stop;
  guint64 samples;              /* pushed so far */
} BenchLive;

BenchLive *bench_live_new (const BenchSlots * slots, gdouble seconds);
/* The same with @sample (@len S16 mono 16 kHz samples, kept by the caller until
 * bench_live_free()) looped from sample @offset, in buffers of @chunk_ms. */
BenchLive *bench_live_new_sample (const gint16 * sample, gsize len, gsize offset,
    guint chunk_ms, gdouble seconds);
void bench_live_start (BenchLive * live);
/* Seconds of stream time now (wall clock since PTS 0). */
gdouble bench_live_time (BenchLive * live);
/* Stops the feeder at once (no EOS); NULL state; frees. */
void bench_live_free (BenchLive * live);

/* For a final `stt-transcript` element message: calls @func for each of its words (text
 * in lower case without punctuation) and returns its `provider`; NULL for any other
 * message. */
typedef void (*BenchWordFunc) (const gchar * text, GstClockTime start, GstClockTime end,
    gpointer data);
const gchar *bench_final_words (GstMessage * msg, BenchWordFunc func, gpointer data);

/* ---- live streams ------------------------------------------------------------------ */
typedef struct _BenchStream BenchStream;
typedef void (*BenchMessageFunc) (BenchStream * stream, GstMessage * msg, gpointer data);

struct _BenchStream
{
  guint index;
  GstElement *pipeline;
  GstElement *stt;              /* the element under test (or the baseline's sink) */
  /* Streaming thread writes, others read/reset atomically. */
  guint64 in_bytes;
  guint64 buffers;
  gint64 last_arrival_us;
  gint64 chain_max_ns;          /* since the last reset */
  gint64 gap_max_us;            /* largest time between two buffers, since the last reset */
  gint64 chain_max_total_ns;
  gint64 gap_max_total_us;
  gint eos;
  gint error;
  BenchMessageFunc on_element;
  gpointer on_element_data;
};

typedef struct
{
  const gchar *element;         /* "stttranscribe", "sttsink" or NULL (baseline) */
  const gchar *url;
  guint rate;
  guint samples_per_buffer;
  const gchar *extra;           /* more properties for the element, or NULL */
  BenchMessageFunc on_element;  /* element messages, in the posting thread */
  gpointer on_element_data;
} BenchStreamConfig;

/* A live pipeline `audiotestsrc is-live=true ! S16LE mono @rate ! <element> [! fakesink]`,
 * the element's chain function timed; tag "s<index>" in the server's stats. */
BenchStream *bench_stream_new (guint index, const BenchStreamConfig * config);
void bench_stream_free (BenchStream * stream);
/* Sends EOS to every stream and waits up to @timeout_s for all of them. Returns how
 * many reached EOS. */
guint bench_streams_eos (GPtrArray * streams, gdouble timeout_s);
/* The element's `stats` structure (NULL for the baseline). */
GstStructure *bench_stream_stats (BenchStream * stream);

G_END_DECLS
