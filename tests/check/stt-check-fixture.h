/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture of the provider tests (test-deepgram.c, test-assemblyai.c, ...): a local
 * test server of the provider's protocol, new for every test, and what those tests do
 * against it the same way: runs and harnesses on it, the file-like push that ends in EOS,
 * the fatal error that must end every attempt, the full replay ring, replays after a
 * reconnection. What is left in a provider's file is what is its own. */
#pragma once

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "stt-check-utils.h"

G_BEGIN_DECLS

typedef struct
{
  const gchar *provider;        /* the provider property, and the test server's protocol */
  SttTestServer *server;        /* tests/servers/stt-test-server.h; new for every test */
  gchar *url;                   /* where the element finds the server */
} SttCheckFixture;

/* The fixture of the test that runs (one test at a time in a process). */
extern SttCheckFixture stt_fx;

/* The words the provider tests send (test servers hear a tone as "w<f>", f rounded to
 * 100 Hz). Three: w400 and w700 0.1 s apart, w1000 1.2 s later, from 0.5 to 2.8 s;
 * how a service parts them into segments is said where they are used. */
extern const SttTone stt_fx_tones[3];
extern const gchar *const stt_fx_words[4];      /* NULL-terminated */
/* Four, from 0.5 to 3.3 s, for a fault in the middle of the third (2.2 s). */
extern const SttTone stt_fx_four[4];
extern const gchar *const stt_fx_four_words[5];
/* Eight, one a second from 0.5 to 7.3 s. */
extern const SttTone stt_fx_eight[8];
extern const gchar *const stt_fx_eight_words[9];

/* Adds to @tc the checked fixture that starts a test server for @provider before each
 * test (stt_fx.server, at stt_fx.url) and stops it after. A provider whose url property
 * is not the server's WebSocket address adds a checked fixture of its own after this one
 * that sets stt_fx.url. */
void stt_check_fixture_add (TCase * tc, const gchar * provider);

/* stt_check_run_new() on the fixture's provider and server. */
SttCheckRun *stt_fx_run_new (const SttTone * tones, guint n_tones, gdouble duration);
/* The same with stt_fx_tones in @duration seconds. */
SttCheckRun *stt_fx_run_tones (gdouble duration);

/* stttranscribe in a harness on the fixture's provider and server, with the test
 * credentials and its own bus (*@bus; free both with stt_check_harness_free()). The
 * harness says it is live but pushes faster than real time: the latency of 60 s gives
 * the service all the time it wants, so no text is late. */
GstHarness *stt_fx_harness_new (GstBus ** bus);
/* The text buffers a test checks are the segments of a file: output-mode=segments (the
 * harness only says it is live; words: test-captions.c). */
void stt_check_harness_segments (GstHarness * h);
/* Sets the caps and pushes @duration seconds of @tones as @format (S16LE or F32LE),
 * @rate, @channels from @offset in 20 ms buffers, each GST_FLOW_OK. */
void stt_check_harness_push_audio (GstHarness * h, GstAudioFormat format, guint rate,
    guint channels, gdouble duration, const SttTone * tones, guint n_tones,
    GstClockTime offset);
/* Waits (bounded by the harness' own timeout) until EOS came out of @h: every text
 * buffer is out by then. */
void stt_check_harness_wait_eos (GstHarness * h);
/* Pushes EOS, then stt_check_harness_wait_eos(). */
void stt_check_harness_finish (GstHarness * h);
void stt_check_harness_free (GstHarness * h, GstBus * bus);

/* The transcript messages of a run. */
typedef struct
{
  GList *msgs;                  /* the stt-transcript structures, owned */
  GList *finals;                /* those of @msgs that are final, in order */
  GList *partials;              /* the others */
} SttCheckTranscripts;

/* Collects the stt-transcript messages on @bus until @n_finals finals came (10 s at
 * most); fails unless exactly @n_finals and at least @min_partials partials came. */
void stt_check_transcripts_collect (SttCheckTranscripts * t, GstBus * bus,
    guint n_finals, guint min_partials);
void stt_check_transcripts_clear (SttCheckTranscripts * t);

/* The transcripts tests' file: @duration seconds of stt_fx_tones (S16LE, 16 kHz, mono)
 * from @offset into @h (from stt_fx_harness_new(), its bus @bus), then EOS. Fails unless
 * @n_finals text buffers came out before EOS, and collects the transcripts into @t
 * (stt_check_transcripts_collect(): @n_finals finals, at least @min_partials partials). */
void stt_fx_transcribe_tones (GstHarness * h, GstBus * bus, gdouble duration,
    GstClockTime offset, guint n_finals, guint min_partials, SttCheckTranscripts * t);

/* Waits up to @timeout_ms for the session on @bus to end in an error, and returns it (an
 * "error" structure as stt_check_wait_error()). Fails unless an stt-connection in state
 * "failed" came before it, and none "reconnecting". "failed" is the session's final
 * state: it tears down the connection and cancels the retry timer before it posts it,
 * and starts no attempt after it (gststtsession.c, session_fail), so what a server has
 * counted by the time the error is read is all it will ever count: no sleep is needed
 * to see that no retry follows. */
GstStructure *stt_check_wait_fatal (GstBus * bus, guint timeout_ms);
/* Pushes @seconds of @r's input and returns stt_check_wait_fatal() (10 s). */
GstStructure *stt_check_run_until_fatal (SttCheckRun * r, gdouble seconds);
/* Fails unless @err is GST_RESOURCE_ERROR @code and its message names @service and
 * holds @want, but never @secret (NULL: none but the test key) nor the test key. */
void stt_check_error_says (const GstStructure * err, gint code, const gchar * service,
    const gchar * want, const gchar * secret);

/* A full replay ring: appsrc ! stttranscribe (max-buffer-time 1 s, the test key) !
 * fakesink on the fixture's server, non-live: one word of 2 s (500 Hz from 0.3 to 2.3 s)
 * in 2.6 s, to EOS. The element must ask the service for finals with the text message
 * @request (on connection 0); the finals are @text each, the pieces of the word following
 * each other from 0.3 to 2.3 s; no error. (The harness is live, so this runs in a
 * pipeline.) */
void stt_fx_check_full_ring (const gchar * request, const gchar * text);

/* After one reconnection: connection 0 heard the input from its start; connection 1
 * from between @from seconds (the end of the last final) and @cut (where the first was
 * cut, plus a frame of 100 ms), to the end of the input, with no gap between them. */
void stt_fx_check_replay (SttCheckRun * r, gdouble from, gdouble cut);

/* The @i-th text message of connection @conn as a JSON object (@parser keeps it). */
typedef struct _JsonParser JsonParser;
JsonObject *stt_fx_text_message (guint conn, guint i, JsonParser * parser);

/* @s seconds as a clock time, rounded. */
GstClockTime stt_check_secs (gdouble s);

G_END_DECLS
