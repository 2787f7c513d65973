/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Captions a viewer can follow, checked in the text buffers as a caption tool sees them:
 * - live input, default settings: one buffer per word, at the word's time, each word
 *   once, for every provider; where the protocol marks final words in its partials
 *   (AssemblyAI, Soniox) or partials repeat them (Gladia, partial-stability), a word goes
 *   out before its segment's final;
 * - a file, default settings: long segments cut into cues of at most 2 lines of 42
 *   characters and 7 s, read back from webvttenc and srtenc cue by cue;
 * - text later than `latency` allows: moved, counted, one WARNING saying by how much,
 *   and max-observed-delay;
 * - the transcriber property names and types (latency and lateness in ms, language-code);
 * - interim text as "stt-interim" events, only for a downstream that asked for them, at
 *   most one per 250 ms, each placed where the final it becomes is placed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/app/app.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

/* How far a buffer's or a cue's time may be from its tone's. */
#define TOLERANCE (50 * GST_MSECOND)
#define RUN_LIMIT_S 50
#define RATE 16000

typedef struct
{
  SttTestServer *server;
  GstElement *pipeline, *stt, *src;
  const SttTone *tones;
  guint n_tones;
  gdouble duration;
  gchar *wav;

  GMutex lock;
  GArray *outs;                 /* SttCheckCue */
  GArray *final_times;          /* gint64: when each final with text was posted */
  GPtrArray *warnings;          /* gchar* */
  GPtrArray *warning_details;   /* GstStructure* */
  gchar *error;
  gboolean eos;
} Run;

static GstBusSyncReply
on_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Run *r = data;
  const GstStructure *s = gst_message_get_structure (msg);
  GError *err = NULL;
  gboolean final = FALSE;
  const gchar *text;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&r->lock);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_structure_has_name (s, "stt-transcript")
          && gst_structure_get_boolean (s, "is-final", &final) && final
          && (text = gst_structure_get_string (s, "text")) && *text)
        g_array_append_val (r->final_times, now);
      break;
    case GST_MESSAGE_WARNING:{
      const GstStructure *details = NULL;

      gst_message_parse_warning (msg, &err, NULL);
      gst_message_parse_warning_details (msg, &details);
      g_ptr_array_add (r->warnings, g_strdup (err->message));
      g_ptr_array_add (r->warning_details, details ? gst_structure_copy (details) :
          gst_structure_new_empty ("none"));
      g_error_free (err);
      break;
    }
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, NULL);
      if (r->error == NULL)
        r->error = g_strdup (err->message);
      g_error_free (err);
      break;
    case GST_MESSAGE_EOS:
      r->eos = TRUE;
      break;
    default:
      break;
  }
  g_mutex_unlock (&r->lock);
  /* Dropped messages are the handler's to unref. */
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

/* A run of @tones (@duration s) through stttranscribe on @provider's test server. @live:
 * an appsrc fed at real-time pace; else a WAV file. @tail goes between stttranscribe
 * and the appsink (NULL: nothing). */
static Run *
run_new (const gchar * provider, const SttTone * tones, guint n_tones, gdouble duration,
    gboolean live, const gchar * tail)
{
  Run *r = g_new0 (Run, 1);
  g_autofree gchar *desc = NULL, *url = NULL;
  GError *err = NULL;
  GstElement *sink;
  GstBus *bus;

  r->server = stt_test_server_new (provider, &err);
  fail_unless (r->server != NULL, "%s", err ? err->message : "?");
  r->tones = tones;
  r->n_tones = n_tones;
  r->duration = duration;
  g_mutex_init (&r->lock);
  r->outs = stt_check_cues_new ();
  r->final_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->warnings = g_ptr_array_new_with_free_func (g_free);
  r->warning_details = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);

  if (live) {
    desc = g_strdup_printf ("appsrc name=src is-live=true format=time ! stttranscribe "
        "name=stt ! %s%sappsink name=sink sync=false", tail ? tail : "", tail ? " ! " : "");
  } else {
    gint fd = g_file_open_tmp ("stt-captions-XXXXXX.wav", &r->wav, NULL);

    fail_unless (fd >= 0);
    close (fd);
    fail_unless (stt_check_write_wav (r->wav, RATE, 1, duration, tones, n_tones, NULL));
    desc = g_strdup_printf ("filesrc location=\"%s\" ! wavparse ! stttranscribe name=stt "
        "! %s%sappsink name=sink sync=false", r->wav, tail ? tail : "", tail ? " ! " : "");
  }
  r->pipeline = gst_parse_launch (desc, &err);
  fail_unless (r->pipeline != NULL && err == NULL, "%s", err ? err->message : "?");
  r->stt = gst_bin_get_by_name (GST_BIN (r->pipeline), "stt");
  url = stt_test_server_get_url (r->server);
  g_object_set (r->stt, "provider", provider, "url", url, NULL);
  stt_check_set_test_credentials (r->stt, provider);
  sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  stt_check_collect_cues (sink, &r->lock, r->outs);
  gst_object_unref (sink);
  if (live) {
    GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, RATE, 1);

    r->src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
    gst_app_src_set_caps (GST_APP_SRC (r->src), caps);
    gst_caps_unref (caps);
  }
  bus = gst_element_get_bus (r->pipeline);
  gst_bus_set_sync_handler (bus, on_message, r, NULL);
  gst_object_unref (bus);
  return r;
}

static void
run_free (Run * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_clear_object (&r->src);
  gst_object_unref (r->stt);
  gst_object_unref (r->pipeline);
  stt_test_server_free (r->server);
  if (r->wav) {
    g_unlink (r->wav);
    g_free (r->wav);
  }
  g_array_unref (r->outs);
  g_array_unref (r->final_times);
  g_ptr_array_unref (r->warnings);
  g_ptr_array_unref (r->warning_details);
  g_free (r->error);
  g_mutex_clear (&r->lock);
  g_free (r);
}

/* Plays the runs to their end (EOS or ERROR), bounded, at once; live inputs are fed in
 * 20 ms buffers at real-time pace. */
static void
run_play_all (Run ** runs, guint n)
{
  g_autofree SttCheckFeeder **feeders = g_new0 (SttCheckFeeder *, n);
  GList *bufs = NULL;
  gint64 start, deadline;
  guint i;

  for (i = 0; i < n; i++)
    fail_unless (gst_element_set_state (runs[i]->pipeline, GST_STATE_PLAYING) !=
        GST_STATE_CHANGE_FAILURE);
  start = g_get_monotonic_time ();
  deadline = start + RUN_LIMIT_S * G_USEC_PER_SEC;
  if (runs[0]->src) {
    GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1,
        runs[0]->duration, runs[0]->tones, runs[0]->n_tones, 0);

    bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, RATE, 1, 20);
    gst_buffer_unref (all);
    for (i = 0; i < n; i++)
      feeders[i] = stt_check_feeder_start (runs[i]->src, bufs, TRUE, start);
  }
  for (i = 0; i < n; i++) {
    Run *r = runs[i];

    for (;;) {
      gboolean done;

      g_mutex_lock (&r->lock);
      done = r->eos || r->error;
      g_mutex_unlock (&r->lock);
      if (done || g_get_monotonic_time () > deadline)
        break;
      g_usleep (20 * 1000);
    }
  }
  for (i = 0; i < n; i++)
    if (feeders[i])
      stt_check_feeder_stop (feeders[i]);
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  for (i = 0; i < n; i++) {
    fail_unless (runs[i]->error == NULL, "ERROR: %s", runs[i]->error);
    fail_unless (runs[i]->eos, "no EOS within %d s", RUN_LIMIT_S);
  }
}

static void
run_play (Run * r)
{
  run_play_all (&r, 1);
}

static void
assert_no_warning (Run * r)
{
  fail_unless (r->warnings->len == 0, "WARNING: %s", r->warnings->len ?
      (const gchar *) g_ptr_array_index (r->warnings, 0) : "");
}

static gboolean
near (GstClockTime got, gdouble want_s)
{
  GstClockTime want = (GstClockTime) (want_s * GST_SECOND + 0.5);

  return GST_CLOCK_TIME_IS_VALID (got)
      && (GstClockTime) ABS (GST_CLOCK_DIFF (got, want)) <= TOLERANCE;
}

/* --- live input: words -------------------------------------------------------------- */

static const gchar *const live_providers[] = { "deepgram", "assemblyai", "soniox",
  "gladia", "elevenlabs", "vosk", "speechmatics", "aws"
};

/* Where the protocol lets a word out before its segment's final at default settings. */
static gboolean
words_before_final (const gchar * provider)
{
  /* AWS: its partial results stabilization marks stable words. */
  return g_str_equal (provider, "assemblyai") || g_str_equal (provider, "soniox")
      || g_str_equal (provider, "aws");
}

/* Each buffer is one word, every word of the input once, in order, with its tone's start
 * as PTS and its tone's length as DURATION; PTS increase. */
static void
check_word_buffers (Run * r, const gchar * provider)
{
  guint i;

  fail_unless_equals_int (r->outs->len, r->n_tones);
  for (i = 0; i < r->outs->len; i++) {
    const SttCheckCue *o = &g_array_index (r->outs, SttCheckCue, i);
    const SttTone *t = &r->tones[i];
    g_autofree gchar *want = stt_check_tone_word (t);
    g_autofree gchar *bare = stt_check_bare_word (o->text);

    fail_if (strpbrk (o->text, " \n") != NULL, "%s: '%s' is not one word", provider,
        o->text);
    fail_unless_equals_string (bare, want);
    fail_unless (near (o->pts, t->start), "%s: %s at %" GST_TIME_FORMAT ", its tone at "
        "%.3f s", provider, o->text, GST_TIME_ARGS (o->pts), t->start);
    fail_unless (near (o->pts + o->duration, t->end), "%s: %s ends at %" GST_TIME_FORMAT
        ", its tone at %.3f s", provider, o->text, GST_TIME_ARGS (o->pts + o->duration),
        t->end);
    if (i > 0)
      fail_unless (o->pts > g_array_index (r->outs, SttCheckCue, i - 1).pts);
  }
}

/* Three phrases of four words (0.15 s apart: shorter than any endpoint), 1.5 s apart. */
static SttTone *
phrases (guint * n, gdouble * duration)
{
  SttTone *t = g_new0 (SttTone, 12);
  guint i;
  gdouble at = 0.6;

  for (i = 0; i < 12; i++) {
    if (i > 0 && i % 4 == 0)
      at += 1.5 - 0.15;
    t[i].start = at;
    t[i].end = at + 0.3;
    t[i].freq = 420 + 100 * ((i * 7) % 17);
    at = t[i].end + 0.15;
  }
  *n = 12;
  *duration = at + 1.0;
  return t;
}

/* Every provider at once (each its own server and pipeline), at default settings. */
GST_START_TEST (test_live_words)
{
  guint n_tones, i, n = G_N_ELEMENTS (live_providers);
  gdouble duration;
  g_autofree SttTone *tones = phrases (&n_tones, &duration);
  Run *runs[G_N_ELEMENTS (live_providers)];

  for (i = 0; i < n; i++)
    runs[i] = run_new (live_providers[i], tones, n_tones, duration, TRUE, NULL);
  run_play_all (runs, n);
  for (i = 0; i < n; i++) {
    Run *r = runs[i];
    const gchar *provider = live_providers[i];
    gint64 ahead;

    assert_no_warning (r);
    check_word_buffers (r, provider);
    /* The first word left well before the final of its phrase (which comes after the
     * phrase's last word and the endpoint silence, over 1.5 s later). */
    fail_unless (r->final_times->len > 0);
    ahead = g_array_index (r->final_times, gint64, 0) - g_array_index (r->outs, SttCheckCue,
        0).arrived;
    GST_INFO ("%s: the first word %" G_GINT64_FORMAT " ms before its final", provider,
        ahead / 1000);
    if (words_before_final (provider))
      fail_unless (ahead > 500 * 1000, "%s: the first word came %" G_GINT64_FORMAT
          " ms before its phrase's final, not before the phrase ended", provider,
          ahead / 1000);
  }
  for (i = 0; i < n; i++)
    run_free (runs[i]);
}

GST_END_TEST;

/* Gladia marks nothing in its partials: with utterances that end only after 3 s of
 * silence, the words that stayed the same in `partial-stability` (3) partials go out
 * long before the final. */
GST_START_TEST (test_partial_stability)
{
  guint n_tones;
  g_autofree SttTone *tones = stt_check_make_speech (8.0, 0.5, &n_tones);
  Run *r = run_new ("gladia", tones, n_tones, 8.0, TRUE, NULL);
  GstStructure *params = gst_structure_new ("p", "endpointing", G_TYPE_DOUBLE, 3.0, NULL);
  guint stability;

  g_object_get (r->stt, "partial-stability", &stability, NULL);
  fail_unless_equals_int (stability, 3);
  g_object_set (r->stt, "params", params, NULL);
  gst_structure_free (params);
  run_play (r);
  assert_no_warning (r);
  check_word_buffers (r, "gladia");
  fail_unless (r->final_times->len > 0);
  /* The first final comes 3 s after the 8th word; the first word, over 4 s before. */
  fail_unless (g_array_index (r->outs, SttCheckCue, 0).arrived + 2 * G_USEC_PER_SEC
      < g_array_index (r->final_times, gint64, 0));
  run_free (r);
}

GST_END_TEST;

/* A service 1.5 s slower than a 1 s latency: the words are moved later (PTS never
 * backwards), counted in late-results, one WARNING says by how much (rate-limited: one
 * per 10 s), and max-observed-delay shows it. */
GST_START_TEST (test_late_warning)
{
  guint n_tones, max_delay = 0;
  g_autofree SttTone *tones = stt_check_make_speech (8.0, 0.5, &n_tones);
  Run *r = run_new ("deepgram", tones, n_tones, 8.0, TRUE, NULL);
  GstStructure *stats, *details;
  GstClockTime late_by = 0;
  guint64 late = 0, in_warning = 0;
  guint latency = 0, i;

  g_object_set (r->stt, "latency", (guint) 1000, NULL);
  stt_test_server_set_reply_delay (r->server, 1500);
  run_play (r);

  fail_unless_equals_int (r->warnings->len, 1);
  fail_unless (strstr (g_ptr_array_index (r->warnings, 0), "latency (1000 ms)") != NULL,
      "%s", (gchar *) g_ptr_array_index (r->warnings, 0));
  details = g_ptr_array_index (r->warning_details, 0);
  fail_unless (gst_structure_get_clock_time (details, "late-by", &late_by));
  fail_unless (late_by > 0 && late_by < 3 * GST_SECOND, "late by %" GST_TIME_FORMAT,
      GST_TIME_ARGS (late_by));
  fail_unless (gst_structure_get_uint (details, "latency", &latency));
  fail_unless_equals_int (latency, 1000);
  fail_unless (gst_structure_get_uint64 (details, "late-results", &in_warning));
  fail_unless (in_warning >= 1);

  g_object_get (r->stt, "stats", &stats, "max-observed-delay", &max_delay, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "late-results", &late));
  fail_unless (late >= in_warning);
  gst_structure_free (stats);
  fail_unless (max_delay > 1000 && max_delay < 5000, "max-observed-delay %u", max_delay);

  /* Every word still there once, in order; none before its tone; PTS increase. */
  fail_unless_equals_int (r->outs->len, n_tones);
  for (i = 0; i < r->outs->len; i++) {
    const SttCheckCue *o = &g_array_index (r->outs, SttCheckCue, i);

    fail_unless (o->pts + TOLERANCE >= tones[i].start * GST_SECOND);
    if (i > 0)
      fail_unless (o->pts >= g_array_index (r->outs, SttCheckCue, i - 1).pts
          + g_array_index (r->outs, SttCheckCue, i - 1).duration);
  }
  run_free (r);
}

GST_END_TEST;

/* --- interim text events ----------------------------------------------------------- */

/* What left stttranscribe's src pad, in order: text buffers and interim events. */
typedef struct
{
  gboolean interim;
  gchar *text;
  GstClockTime start, end;
  gint64 at;                    /* monotonic time it left */
} Item;

typedef struct
{
  GMutex lock;
  GArray *items;                /* Item */
  guint other_custom;           /* custom downstream events that are not stt-interim */
} Seen;

static void
item_clear (Item * i)
{
  g_free (i->text);
}

static GstPadProbeReturn
on_src_item (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Seen *seen = data;
  Item it = { 0 };

  it.at = g_get_monotonic_time ();
  if (GST_IS_BUFFER (info->data)) {
    GstBuffer *buf = info->data;
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_READ);
    it.text = g_strndup ((const gchar *) map.data, map.size);
    gst_buffer_unmap (buf, &map);
    it.start = GST_BUFFER_PTS (buf);
    it.end = it.start + GST_BUFFER_DURATION (buf);
  } else {
    GstEvent *ev = info->data;
    const GstStructure *s = gst_event_get_structure (ev);

    if (GST_EVENT_TYPE (ev) != GST_EVENT_CUSTOM_DOWNSTREAM)
      return GST_PAD_PROBE_OK;
    g_mutex_lock (&seen->lock);
    if (!gst_structure_has_name (s, "stt-interim"))
      seen->other_custom++;
    g_mutex_unlock (&seen->lock);
    if (!gst_structure_has_name (s, "stt-interim"))
      return GST_PAD_PROBE_OK;
    it.interim = TRUE;
    it.text = g_strdup (gst_structure_get_string (s, "text"));
    fail_unless (it.text != NULL, "an interim without text");
    fail_unless (gst_structure_get_clock_time (s, "start", &it.start));
    fail_unless (gst_structure_get_clock_time (s, "end", &it.end));
  }
  g_mutex_lock (&seen->lock);
  g_array_append_val (seen->items, it);
  g_mutex_unlock (&seen->lock);
  return GST_PAD_PROBE_OK;
}

/* What sttpublish does: asks for interim text when the stream starts. */
static GstPadProbeReturn
ask_for_interims (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  if (GST_EVENT_TYPE (info->data) == GST_EVENT_STREAM_START)
    fail_unless (gst_pad_push_event (pad, gst_event_new_custom
            (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new_empty ("stt-want-interim"))));
  return GST_PAD_PROBE_OK;
}

static Seen *
watch_src (Run * r, gboolean ask)
{
  Seen *seen = g_new0 (Seen, 1);
  GstPad *src = gst_element_get_static_pad (r->stt, "src");

  g_mutex_init (&seen->lock);
  seen->items = g_array_new (FALSE, TRUE, sizeof (Item));
  g_array_set_clear_func (seen->items, (GDestroyNotify) item_clear);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      on_src_item, seen, NULL);
  if (ask) {
    GstPad *peer = gst_pad_get_peer (src);

    gst_pad_add_probe (peer, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, ask_for_interims, NULL,
        NULL);
    gst_object_unref (peer);
  }
  gst_object_unref (src);
  return seen;
}

static void
seen_free (Seen * seen)
{
  g_array_unref (seen->items);
  g_mutex_clear (&seen->lock);
  g_free (seen);
}

static guint
n_interims (Seen * seen)
{
  guint i, n = 0;

  for (i = 0; i < seen->items->len; i++)
    n += g_array_index (seen->items, Item, i).interim;
  return n;
}

/* Each interim event is the beginning of what comes next as final text: its words are
 * the next finals' first words, and it starts at the next buffer's PTS (the same
 * mapping). Interims leave at most one per 250 ms (a little
 * scheduling slack allowed), each with new text. */
static void
check_interims (Seen * seen, const gchar * mode)
{
  gint64 last_at = 0;
  const gchar *last_text = NULL;
  guint i, j;

  for (i = 0; i < seen->items->len; i++) {
    const Item *it = &g_array_index (seen->items, Item, i);
    g_auto (GStrv) words = NULL;
    g_auto (GStrv) finals = NULL;
    g_autoptr (GString) next = NULL;
    const Item *first = NULL;

    if (!it->interim) {
      last_text = NULL;         /* a final: the next interim may say the same again */
      continue;
    }
    fail_unless (it->end >= it->start);
    if (last_at)
      fail_unless (it->at - last_at >= 200 * 1000, "%s: interims %" G_GINT64_FORMAT
          " ms apart", mode, (it->at - last_at) / 1000);
    last_at = it->at;
    fail_if (last_text && g_str_equal (last_text, it->text), "%s: '%s' twice", mode,
        it->text);
    last_text = it->text;
    words = g_strsplit (it->text, " ", -1);
    next = g_string_new (NULL);
    for (j = i + 1; j < seen->items->len; j++) {
      const Item *b = &g_array_index (seen->items, Item, j);

      if (b->interim)
        continue;
      if (first == NULL)
        first = b;
      g_string_append_printf (next, "%s%s", next->len ? " " : "", b->text);
    }
    fail_unless (first != NULL, "%s: no final after the interim '%s'", mode, it->text);
    GST_INFO ("%s: interim '%s' at %" GST_TIME_FORMAT ", then '%s' at %" GST_TIME_FORMAT,
        mode, it->text, GST_TIME_ARGS (it->start), first->text,
        GST_TIME_ARGS (first->start));
    fail_unless (near (it->start, (gdouble) first->start / GST_SECOND), "%s: interim '%s' "
        "at %" GST_TIME_FORMAT ", its final '%s' at %" GST_TIME_FORMAT, mode, it->text,
        GST_TIME_ARGS (it->start), first->text, GST_TIME_ARGS (first->start));
    g_strdelimit (next->str, "\n", ' ');
    finals = g_strsplit (next->str, " ", -1);
    for (j = 0; words[j]; j++)
      fail_unless (j < g_strv_length (finals) && g_str_equal (words[j], finals[j]),
          "%s: interim '%s', then the finals '%s'", mode, it->text, next->str);
  }
}

/* Live input on the Deepgram protocol (partials every 250 ms of audio): word output with
 * and without a downstream that asks for interim text, and segment output that asks. The
 * text buffers are the same either way. */
GST_START_TEST (test_interim_events)
{
  guint n_tones, i;
  gdouble duration;
  g_autofree SttTone *tones = phrases (&n_tones, &duration);
  Run *runs[3];
  Seen *seen[3];

  runs[0] = run_new ("deepgram", tones, n_tones, duration, TRUE, NULL);
  runs[1] = run_new ("deepgram", tones, n_tones, duration, TRUE, NULL);
  runs[2] = run_new ("deepgram", tones, n_tones, duration, TRUE, NULL);
  g_object_set (runs[2]->stt, "output-mode", 2 /* segments */ , NULL);
  for (i = 0; i < 3; i++)
    seen[i] = watch_src (runs[i], i > 0);
  run_play_all (runs, 3);

  for (i = 0; i < 2; i++) {
    assert_no_warning (runs[i]);
    check_word_buffers (runs[i], "deepgram");
  }
  /* Nobody asked: no interim, nor any other custom event. */
  fail_unless_equals_int (n_interims (seen[0]), 0);
  fail_unless_equals_int (seen[0]->other_custom, 0);
  /* Asked: about one per phrase at least (each phrase is 1.65 s long). */
  fail_unless (n_interims (seen[1]) >= 3, "%u interims", n_interims (seen[1]));
  check_interims (seen[1], "words");
  fail_unless (n_interims (seen[2]) >= 3, "%u interims", n_interims (seen[2]));
  check_interims (seen[2], "segments");
  for (i = 0; i < 3; i++) {
    run_free (runs[i]);
    seen_free (seen[i]);
  }
}

GST_END_TEST;

/* --- files: shaped cues through webvttenc and srtenc ------------------------------- */

typedef struct
{
  GstClockTime start, end;
  gchar **lines;
} Cue;

static void
cue_clear (Cue * c)
{
  g_strfreev (c->lines);
}

/* "HH:MM:SS.mmm" or "HH:MM:SS,mmm" */
static GstClockTime
parse_time (const gchar * s)
{
  guint h, m, sec, ms;

  if (sscanf (s, "%u:%u:%u%*[.,]%u", &h, &m, &sec, &ms) != 4)
    return GST_CLOCK_TIME_NONE;
  return ((h * 60 + m) * 60 + sec) * GST_SECOND + ms * GST_MSECOND;
}

/* The cues of a WebVTT or SRT document: a time line ("A --> B") then text lines up to a
 * blank line. */
static GArray *
parse_cues (const gchar * doc)
{
  g_auto (GStrv) lines = g_strsplit (doc, "\n", -1);
  GArray *cues = g_array_new (FALSE, FALSE, sizeof (Cue));
  guint i;

  g_array_set_clear_func (cues, (GDestroyNotify) cue_clear);
  for (i = 0; lines[i]; i++) {
    const gchar *arrow = strstr (lines[i], "-->");
    GPtrArray *text;
    Cue c;

    if (arrow == NULL)
      continue;
    c.start = parse_time (g_strstrip (lines[i]));
    c.end = parse_time (arrow + 3 + strspn (arrow + 3, " "));
    text = g_ptr_array_new ();
    while (lines[i + 1] && *g_strchomp (lines[i + 1]) != '\0')
      g_ptr_array_add (text, g_strdup (lines[++i]));
    g_ptr_array_add (text, NULL);
    c.lines = (gchar **) g_ptr_array_free (text, FALSE);
    g_array_append_val (cues, c);
  }
  return cues;
}

/* 28 words close together (one segment of 12 s, 145 characters), 2 s of silence, then 3
 * more. */
static SttTone *
long_speech (guint * n, gdouble * duration)
{
  SttTone *t = g_new0 (SttTone, 31);
  guint i;
  gdouble at = 0.6;

  for (i = 0; i < 31; i++) {
    if (i == 28)
      at += 2.0;
    t[i].start = at;
    t[i].end = at + 0.3;
    t[i].freq = 420 + 100 * ((i * 7) % 17);
    at = t[i].end + 0.15;
  }
  *n = 31;
  *duration = at + 1.5;
  return t;
}

static void
check_shaped (const gchar * provider, const gchar * encoder)
{
  guint n_tones, i, k, word = 0;
  gdouble duration;
  g_autofree SttTone *tones = long_speech (&n_tones, &duration);
  Run *r = run_new (provider, tones, n_tones, duration, FALSE, encoder);
  GString *doc = g_string_new (NULL);
  GArray *cues;

  run_play (r);
  assert_no_warning (r);
  for (i = 0; i < r->outs->len; i++)
    g_string_append (doc, g_array_index (r->outs, SttCheckCue, i).text);
  cues = parse_cues (doc->str);
  /* The long segment was cut: more cues than finals. */
  fail_unless (cues->len > r->final_times->len, "%s: %u cues for %u finals:\n%s",
      provider, cues->len, r->final_times->len, doc->str);
  for (i = 0; i < cues->len; i++) {
    const Cue *c = &g_array_index (cues, Cue, i);
    guint n_lines = g_strv_length (c->lines), first = word;

    fail_unless (n_lines >= 1 && n_lines <= 2, "%s: cue %u has %u lines", encoder, i,
        n_lines);
    fail_unless (c->end - c->start <= 7 * GST_SECOND, "%s: cue %u lasts too long",
        encoder, i);
    for (k = 0; k < n_lines; k++) {
      g_auto (GStrv) ws = g_strsplit (c->lines[k], " ", -1);
      guint j;

      fail_unless (g_utf8_strlen (c->lines[k], -1) <= 42, "%s: '%s'", encoder,
          c->lines[k]);
      for (j = 0; ws[j]; j++) {
        g_autofree gchar *bare = stt_check_bare_word (ws[j]);
        g_autofree gchar *want = NULL;

        fail_unless (word < n_tones, "%s: an extra word '%s'", encoder, ws[j]);
        want = stt_check_tone_word (&tones[word]);
        fail_unless_equals_string (bare, want);
        word++;
      }
    }
    fail_unless (word > first, "%s: an empty cue", encoder);
    fail_unless (near (c->start, tones[first].start), "%s: cue %u at %" GST_TIME_FORMAT
        ", its first word at %.3f s", encoder, i, GST_TIME_ARGS (c->start),
        tones[first].start);
    fail_unless (near (c->end, tones[word - 1].end), "%s: cue %u ends at %"
        GST_TIME_FORMAT ", its last word at %.3f s", encoder, i, GST_TIME_ARGS (c->end),
        tones[word - 1].end);
  }
  fail_unless_equals_int (word, n_tones);
  g_array_unref (cues);
  g_string_free (doc, TRUE);
  run_free (r);
}

GST_START_TEST (test_webvtt_cues)
{
  check_shaped ("deepgram", "webvttenc");
}

GST_END_TEST;

GST_START_TEST (test_srt_cues)
{
  check_shaped ("vosk", "srtenc");
}

GST_END_TEST;

/* --- the names transcriber users know ----------------------------------------------- */

GST_START_TEST (test_properties)
{
  GstElement *e = gst_element_factory_make ("stttranscribe", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (e);
  GParamSpec *latency = g_object_class_find_property (klass, "latency");
  GParamSpec *lateness = g_object_class_find_property (klass, "lateness");
  GParamSpec *delay = g_object_class_find_property (klass, "max-observed-delay");
  GstHarness *h;
  g_autofree gchar *lang = NULL;
  guint lat = 0, late = 1, max_delay = 1;
  GstEvent *ev;
  const GstSegment *seg = NULL;

  fail_unless (latency && latency->value_type == G_TYPE_UINT);
  fail_unless (lateness && lateness->value_type == G_TYPE_UINT);
  fail_unless (delay && delay->value_type == G_TYPE_UINT
      && !(delay->flags & G_PARAM_WRITABLE));
  g_object_get (e, "latency", &lat, "lateness", &late, "max-observed-delay", &max_delay,
      NULL);
  fail_unless_equals_int (lat, 3000);
  fail_unless_equals_int (late, 0);
  fail_unless_equals_int (max_delay, 0);
  g_object_set (e, "language-code", "de-DE", NULL);
  g_object_get (e, "language", &lang, NULL);
  fail_unless_equals_string (lang, "de-DE");
  gst_object_unref (e);

  /* lateness: added to the latency query and to the text segment's base. */
  h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  g_object_set (h->element, "provider", "vosk", "url", "ws://127.0.0.1:9/", "latency",
      (guint) 2000, "lateness", (guint) 500, NULL);
  gst_harness_set_upstream_latency (h, 20 * GST_MSECOND);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, RATE, 1));
  fail_unless_equals_uint64 (gst_harness_query_latency (h), 2520 * GST_MSECOND);
  while ((ev = gst_harness_pull_event (h)) != NULL) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      gst_event_parse_segment (ev, &seg);
      fail_unless_equals_uint64 (seg->base, 500 * GST_MSECOND);
      gst_event_unref (ev);
      break;
    }
    gst_event_unref (ev);
  }
  fail_unless (seg != NULL, "no segment");
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
captions_suite (void)
{
  Suite *s = suite_create ("captions");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, RUN_LIMIT_S + 20);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_live_words);
  tcase_add_test (tc, test_partial_stability);
  tcase_add_test (tc, test_late_warning);
  tcase_add_test (tc, test_interim_events);
  tcase_add_test (tc, test_webvtt_cues);
  tcase_add_test (tc, test_srt_cues);
  return s;
}

GST_CHECK_MAIN (captions);
