/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-stttranscribe
 * @title: stttranscribe
 *
 * Streams raw audio to a speech-to-text service over a WebSocket and outputs the
 * transcript as timestamped `text/x-raw, format=utf8` buffers with PTS and DURATION in
 * the input's time domain, so `webvttenc`, `srtenc`, `textoverlay`, `stttocea608` and
 * muxers line them up with the media. `output-mode`:
 * - `words` (the default for live input): one buffer per word, PTS its start, DURATION
 *   its length, as soon as the service marks it final or stable (Deepgram `is_final`,
 *   AssemblyAI `word_is_final`, Soniox final tokens; for the others their finals and the
 *   words that stayed the same in `partial-stability` partials in a row). A word once
 *   pushed is never taken back nor repeated.
 * - `segments` (the default otherwise): each final segment cut into caption cues at word
 *   boundaries with the words' times, at most `max-lines` lines (joined by a newline) of
 *   `max-line-length` characters and `max-cue-duration` ms.
 *
 * Text buffers are finals only. A downstream element that also wants the interim text
 * (`sttpublish`) sends the upstream custom event `stt-want-interim`; the partials then
 * come as serialized custom downstream events `stt-interim` (`text`, `start`, `end` as
 * the finals' PTS would be, `speaker`, `language`), at most one per 250 ms. Elements
 * that do not know them pass them on. See docs/messages.md.
 *
 * `latency` and `lateness` are in milliseconds and `language-code` names the language,
 * as in the gst-plugins-rs transcribers.
 *
 * Audio in any format, rate and channel count is converted with GstAudioConverter to
 * what the provider wants (16 kHz mono S16LE by default). A dropped connection is
 * retried with backoff and the audio not yet final is replayed.
 *
 * Bus messages (element messages, schema 1, see docs/messages.md):
 * - `stt-transcript`: `schema` (u), `provider` (s), `is-final` (b), `text` (s),
 *   `segment-id` (u64), `revision` (u), `pts`, `duration`, `running-time`, `stream-time`
 *   (GstClockTime), `words` (array of `stt-word`: `text`, `start`, `end`, `confidence`,
 *   `speaker`), `language` (s), `confidence` (d), `connection` (u), `latency`
 *   (GstClockTime).
 * - `stt-connection`: `state` (connecting, connected, reconnecting, draining, closed,
 *   failed), `attempt`, `connection`, `retry-in`, `reason`, `http-status`, `close-code`,
 *   `replayed`, `dropped`.
 * - `stt-stats`: every `stats-interval`, with `audio-untranscribed`.
 * - `stt-revision`: `provider`, `replaces`, `reason` (failover, max-lag), `text`,
 *   `words`, `pts`, `duration`, `running-time`, `stream-time`, `finals`: a second
 *   transcription of a stretch whose text is already out (what a backup carried, by
 *   the primary once it is back; a live backlog past `max-lag`, given up in the text
 *   output for the live edge, a GAP covering it). The same structure also goes into the
 *   text stream as a serialized custom downstream event `stt-revision` (times in the
 *   text stream's, which is the input's, time domain), behind the text queued before it;
 *   always, with no request (one per outage or backlog): `sttpublish` forwards it to its
 *   caption server, elements that do not know it pass it on.
 *
 * Audio that will never be transcribed is never silent: a WARNING whose details carry
 * `untranscribed`, `from` and `to` names it (the live replay ring and its spool on disk,
 * `spool-dir`, overflowed during an outage, or the element gave up after
 * `outage-timeout`). With `backups`, another provider takes over from the committed
 * point when the active one cannot carry the audio, and the primary is probed and
 * taken back when it answers again; a service paced at real time that returns with a
 * backlog works it off on a second connection while the first takes the live edge. At end of stream the element
 * waits until the service has accounted for all the audio (its end-of-audio
 * acknowledgement), reconnecting and replaying if a connection ends before that.
 *
 * For live input the latency query answers upstream latency plus `latency` (plus
 * `lateness`, which also shifts the text segment's base), and GAP events keep downstream
 * moving while no text is due. Text later than that is moved later, never backwards,
 * counted in `late-results`, and a WARNING (at most one per 10 s, details `late-by`,
 * `late-results`, `latency`) says by how much; `max-observed-delay` keeps the largest
 * delay seen.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! wavparse ! stttranscribe provider=vosk ! \
 *     webvttenc ! filesink location=talk.vtt
 * ]| Transcribe a file with the local recognizer (`stt-local-server`) into WebVTT.
 * |[
 * gst-launch-1.0 pulsesrc ! stttranscribe provider=deepgram api-key-file=dg.key \
 *     latency=3000 ! fakesink dump=true
 * ]| Live captions from a microphone with Deepgram, word by word.
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! wavparse ! stttranscribe \
 *     max-line-length=32 max-cue-duration=6000 ! srtenc ! filesink location=talk.srt
 * ]| Subtitles with lines of at most 32 characters and cues of at most 6 s.
 * |[
 * gst-launch-1.0 pulsesrc ! stttranscribe provider=deepgram api-key-file=dg.key \
 *     'backups="<\"vosk, url=ws://127.0.0.1:2700\">"' ! fakesink dump=true
 * ]| Live captions with Deepgram, failing over to the local recognizer when Deepgram
 * cannot carry the audio (see docs/reconnect.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststttranscribe.h"
#include "gststtcues.h"
#include "gststtinterim.h"
#include "gststtmessage.h"
#include "sttprovider.h"

GST_DEBUG_CATEGORY_STATIC (stt_transcribe_debug);
#define GST_CAT_DEFAULT stt_transcribe_debug

/* Smaller gaps are not worth an event (nor a wake-up of the src pad task): a caption
 * does not change faster than this, and downstream learns the text stream moved on at
 * most this late, well within `latency`. */
#define MIN_GAP (500 * GST_MSECOND)
/* At most one late-text WARNING in this long (the count goes on in late-results). */
#define LATE_WARNING_INTERVAL_US (10 * G_USEC_PER_SEC)
/* At most one interim text event in this long: a caption server takes a few messages a
 * second from a publisher, and each interim replaces the last, so the newest wins. */
#define INTERIM_INTERVAL_US (G_USEC_PER_SEC / 4)

#define DEFAULT_OUTPUT_MODE GST_STT_OUTPUT_MODE_AUTO
#define DEFAULT_PARTIAL_STABILITY 3
#define DEFAULT_MAX_LINE_LENGTH 42
#define DEFAULT_MAX_LINES 2
#define DEFAULT_MAX_CUE_DURATION_MS 7000

enum
{
  PROP_0,
  PROP_OUTPUT_MODE,
  PROP_PARTIAL_STABILITY,
  PROP_MAX_LINE_LENGTH,
  PROP_MAX_LINES,
  PROP_MAX_CUE_DURATION,
};

struct _GstSttTranscribe
{
  GstSttBase parent;

  GstPad *srcpad;

  /* Properties: object lock. */
  GstSttOutputMode output_mode;
  guint partial_stability;
  GstSttCueLimits limits;

  /* Word output (I/O thread, under lock: reset from the streaming thread). */
  gboolean words_resolved;      /* the fields below are set for this stream */
  gboolean words;               /* one buffer per word */
  gboolean guess_stability;     /* partial-stability applies */
  GstClockTime words_end;       /* the end of the last word queued */
  guint64 stab_segment;         /* the segment whose partials are compared */
  GPtrArray *stab_words;        /* its last partial's words (gchar*) */
  GArray *stab_counts;          /* guint: in how many partials in a row each was there */

  /* Late text: task only. */
  GstClockTime promised_pos;    /* where the GAP events have reached */
  guint64 late_unwarned;
  GstClockTime late_max;
  gint64 late_warned_at;

  /* The output queue, drained by the src pad task. */
  GMutex lock;
  GCond cond;
  GQueue queue;                 /* GstBuffer / GstEvent */
  gboolean flushing;
  gboolean segment_pushed;
  gboolean eos;
  GstClockTime out_pos;         /* task only: where the text stream stands */

  /* Interim text events (under lock). */
  gboolean want_interim;        /* downstream asked for them (stt-want-interim) */
  GstStructure *interim;        /* the newest one not yet pushed, or NULL */
  gint64 interim_at;            /* monotonic time the last one left, 0 = never */
  gchar *interim_last;          /* its text, and start in interim_last_start */
  GstClockTime interim_last_start;
};

G_DEFINE_TYPE (GstSttTranscribe, gst_stt_transcribe, GST_TYPE_STT_BASE);
GST_ELEMENT_REGISTER_DEFINE (stttranscribe, "stttranscribe", GST_RANK_NONE,
    GST_TYPE_STT_TRANSCRIBE);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format = (string) utf8"));

static void gst_stt_transcribe_loop (GstPad * pad);

/* Call with the lock held. */
static void
enqueue_locked (GstSttTranscribe * self, gpointer item)
{
  g_queue_push_tail (&self->queue, item);
  g_cond_signal (&self->cond);
}

static void
enqueue (GstSttTranscribe * self, gpointer item)
{
  g_mutex_lock (&self->lock);
  if (self->flushing)
    gst_mini_object_unref (item);
  else
    enqueue_locked (self, item);
  g_mutex_unlock (&self->lock);
}

/* Call with the lock held. */
static void
clear_queue_locked (GstSttTranscribe * self)
{
  gpointer item;

  while ((item = g_queue_pop_head (&self->queue)))
    gst_mini_object_unref (item);
}

/* Call with the lock held: a new stream, or a flush; the request stays. */
static void
reset_interim_locked (GstSttTranscribe * self)
{
  g_clear_pointer (&self->interim, gst_structure_free);
  g_clear_pointer (&self->interim_last, g_free);
  self->interim_at = 0;
  self->interim_last_start = GST_CLOCK_TIME_NONE;
}

GType
gst_stt_output_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_STT_OUTPUT_MODE_AUTO, "Words for live input, segments otherwise", "auto"},
    {GST_STT_OUTPUT_MODE_WORDS, "One buffer per word, as soon as the service marks it "
          "final or stable", "words"},
    {GST_STT_OUTPUT_MODE_SEGMENTS, "One buffer per caption cue cut from each final "
          "segment (max-line-length, max-lines, max-cue-duration)", "segments"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSttOutputMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static GstBuffer *
text_buffer (const gchar * text, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *buf = gst_buffer_new_memdup (text, strlen (text));

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

/* Call with the lock held. */
static void
reset_words_locked (GstSttTranscribe * self)
{
  self->words_resolved = FALSE;
  self->words_end = GST_CLOCK_TIME_NONE;
  self->stab_segment = G_MAXUINT64;
  g_ptr_array_set_size (self->stab_words, 0);
  g_array_set_size (self->stab_counts, 0);
}

/* Call with the lock held: decides, once per stream, how text goes out. */
static void
resolve_output_locked (GstSttTranscribe * self)
{
  GstSttBase *base = GST_STT_BASE (self);
  gboolean live = gst_stt_base_is_live (base);
  g_autofree gchar *provider = NULL;
  const SttProviderInfo *info;
  GstSttOutputMode mode;
  guint stability;

  if (self->words_resolved)
    return;
  g_object_get (self, "provider", &provider, NULL);
  info = stt_provider_lookup (provider);
  GST_OBJECT_LOCK (self);
  mode = self->output_mode;
  stability = self->partial_stability;
  GST_OBJECT_UNLOCK (self);
  self->words = mode == GST_STT_OUTPUT_MODE_WORDS
      || (mode == GST_STT_OUTPUT_MODE_AUTO && live);
  self->guess_stability = self->words && live && stability > 0
      && !(info && info->marks_final_words);
  self->words_resolved = TRUE;
  GST_INFO_OBJECT (self, "output: %s%s", self->words ? "words" : "segments",
      self->guess_stability ? ", stability guessed from partials" : "");
}

/* Call with the lock held. How many partials in a row word @i of this partial (and every
 * word before it) has been the same. */
static void
track_stability_locked (GstSttTranscribe * self, guint64 segment, const GValue * words)
{
  guint n = gst_value_array_get_size (words), i;
  gboolean same = segment == self->stab_segment;

  if (!same) {
    g_ptr_array_set_size (self->stab_words, 0);
    g_array_set_size (self->stab_counts, 0);
    self->stab_segment = segment;
  }
  for (i = 0; i < n; i++) {
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (words, i));
    const gchar *text = gst_structure_get_string (w, "text");
    guint count = 1;

    text = text ? text : "";
    same = same && i < self->stab_words->len
        && g_str_equal (g_ptr_array_index (self->stab_words, i), text);
    if (same)
      count = g_array_index (self->stab_counts, guint, i) + 1;
    if (i < self->stab_words->len) {
      g_free (g_ptr_array_index (self->stab_words, i));
      g_ptr_array_index (self->stab_words, i) = g_strdup (text);
      g_array_index (self->stab_counts, guint, i) = count;
    } else {
      g_ptr_array_add (self->stab_words, g_strdup (text));
      g_array_append_val (self->stab_counts, count);
    }
  }
  g_ptr_array_set_size (self->stab_words, n);
  g_array_set_size (self->stab_counts, n);
}

/* Call with the lock held. Adds to @out the words of @s that are final or stable and were
 * not output before. A word is new if its middle lies after the end of the last word queued:
 * a word once out is never taken back nor repeated (not by the final that follows its
 * partials, nor by a replay after a reconnection). */
static void
words_locked (GstSttTranscribe * self, const GstStructure * s, gboolean is_final,
    GstClockTime pts, GstClockTime duration, GPtrArray * out)
{
  const GValue *words = gst_structure_get_value (s, "words");
  guint n = words ? gst_value_array_get_size (words) : 0, i, stability = 0;
  guint64 segment = 0;

  if (n == 0) {
    const gchar *text = gst_structure_get_string (s, "text");

    /* No words: a final's text as it is. */
    if (!is_final || text == NULL || *text == '\0' || !GST_CLOCK_TIME_IS_VALID (pts)
        || (GST_CLOCK_TIME_IS_VALID (self->words_end) && pts + duration <= self->words_end))
      return;
    g_ptr_array_add (out, text_buffer (text, pts, duration));
    self->words_end = pts + duration;
    return;
  }

  gst_structure_get_uint64 (s, "segment-id", &segment);
  if (!is_final && self->guess_stability) {
    track_stability_locked (self, segment, words);
    GST_OBJECT_LOCK (self);
    stability = self->partial_stability;
    GST_OBJECT_UNLOCK (self);
  }
  for (i = 0; i < n; i++) {
    const GstStructure *w = gst_value_get_structure (gst_value_array_get_value (words, i));
    const gchar *text = gst_structure_get_string (w, "text");
    gboolean stable = FALSE;
    GstClockTime start = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;

    gst_structure_get_boolean (w, "stable", &stable);
    if (!is_final && !stable && !(stability > 0
            && g_array_index (self->stab_counts, guint, i) >= stability))
      break;                    /* only the stable beginning of a partial */
    if (text == NULL || *text == '\0' || !gst_structure_get_clock_time (w, "start", &start)
        || !GST_CLOCK_TIME_IS_VALID (start))
      continue;
    if (!gst_structure_get_clock_time (w, "end", &end) || end < start)
      end = start;
    if (GST_CLOCK_TIME_IS_VALID (self->words_end)
        && start + (end - start) / 2 <= self->words_end)
      continue;
    g_ptr_array_add (out, text_buffer (text, start, end - start));
    self->words_end = end;
  }
  if (is_final && segment == self->stab_segment) {
    g_ptr_array_set_size (self->stab_words, 0);
    g_array_set_size (self->stab_counts, 0);
    self->stab_segment = G_MAXUINT64;
  }
}

/* Call with the lock held. A final segment as caption cues, added to @out. */
static void
cues_locked (GstSttTranscribe * self, const GstStructure * s, GstClockTime pts,
    GstClockTime duration, GPtrArray * out)
{
  const gchar *text = gst_structure_get_string (s, "text");
  GstSttCueLimits limits;
  GPtrArray *cues;
  guint i;

  if (text == NULL || *text == '\0')
    return;
  GST_OBJECT_LOCK (self);
  limits = self->limits;
  GST_OBJECT_UNLOCK (self);
  cues = gst_stt_cues_shape (text, pts, duration, gst_structure_get_value (s, "words"),
      &limits);
  for (i = 0; i < cues->len; i++) {
    GstSttCue *cue = g_ptr_array_index (cues, i);

    g_ptr_array_add (out, text_buffer (cue->text, cue->pts, cue->duration));
  }
  g_ptr_array_unref (cues);
}

/* Call with the lock held, after words_locked for word output. The interim text of the
 * partial @s, or NULL: in word output only its words not out yet (those that will come
 * as finals), from the first one's start; else all of its text from @pts. Times in the
 * input's time domain, as the finals' PTS. */
static GstStructure *
interim_locked (GstSttTranscribe * self, const GstStructure * s, GstClockTime pts,
    GstClockTime duration)
{
  const GValue *words = gst_structure_get_value (s, "words");
  guint n = words ? gst_value_array_get_size (words) : 0, i;
  const gchar *language = gst_structure_get_string (s, "language");
  const gchar *speaker = NULL;
  GstClockTime start = pts, end = pts + duration;
  g_autoptr (GString) text = NULL;

  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return NULL;
  if (n == 0 || !self->words) {
    text = g_string_new (gst_structure_get_string (s, "text"));
    if (n > 0)
      speaker = gst_structure_get_string (gst_value_get_structure
          (gst_value_array_get_value (words, 0)), "speaker");
  } else {
    text = g_string_new (NULL);
    start = GST_CLOCK_TIME_NONE;
    for (i = 0; i < n; i++) {
      const GstStructure *w =
          gst_value_get_structure (gst_value_array_get_value (words, i));
      const gchar *t = gst_structure_get_string (w, "text");
      GstClockTime ws = GST_CLOCK_TIME_NONE, we = GST_CLOCK_TIME_NONE;

      if (t == NULL || *t == '\0' || !gst_structure_get_clock_time (w, "start", &ws)
          || !GST_CLOCK_TIME_IS_VALID (ws))
        continue;
      if (!gst_structure_get_clock_time (w, "end", &we) || we < ws)
        we = ws;
      /* Out already as a final (the rule of words_locked). */
      if (GST_CLOCK_TIME_IS_VALID (self->words_end)
          && ws + (we - ws) / 2 <= self->words_end)
        continue;
      if (!GST_CLOCK_TIME_IS_VALID (start)) {
        start = ws;
        speaker = gst_structure_get_string (w, "speaker");
      }
      g_string_append_printf (text, "%s%s", text->len ? " " : "", t);
      end = we;
    }
  }
  g_strstrip (text->str);
  if (text->str[0] == '\0' || !GST_CLOCK_TIME_IS_VALID (start))
    return NULL;
  /* Nothing new for a viewer. */
  if (self->interim_last && g_str_equal (self->interim_last, text->str)
      && self->interim_last_start == start)
    return NULL;
  return gst_stt_interim_new (text->str, start, MAX (end, start), speaker, language);
}

static void
gst_stt_transcribe_transcript (GstSttBase * base, const GstStructure * s,
    gboolean is_final, GstClockTime pts, GstClockTime duration)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (base);
  GPtrArray *out = g_ptr_array_new ();
  GstStructure *interim = NULL;
  guint i;

  g_mutex_lock (&self->lock);
  if (!self->flushing) {
    resolve_output_locked (self);
    if (self->words)
      words_locked (self, s, is_final, pts, duration, out);
    else if (is_final)
      cues_locked (self, s, pts, duration, out);
    /* Final text replaces the interim text before it (a viewer drops it), so the next
     * interim goes out even if its text is the same. */
    if (is_final || out->len > 0) {
      g_clear_pointer (&self->interim, gst_structure_free);
      g_clear_pointer (&self->interim_last, g_free);
    }
    if (!is_final && self->want_interim)
      interim = interim_locked (self, s, pts, duration);
  }
  g_mutex_unlock (&self->lock);

  /* Outside the lock: observing may notify max-observed-delay. */
  for (i = 0; i < out->len; i++) {
    GstBuffer *buf = g_ptr_array_index (out, i);

    gst_stt_base_observe_delay (base, GST_BUFFER_PTS (buf));
    enqueue (self, buf);
  }
  g_ptr_array_unref (out);

  /* After the finals it follows; the task pushes it when due (INTERIM_INTERVAL_US). */
  if (interim) {
    g_mutex_lock (&self->lock);
    if (self->flushing) {
      gst_structure_free (interim);
    } else {
      if (self->interim)
        gst_structure_free (self->interim);
      self->interim = interim;
      g_cond_signal (&self->cond);
    }
    g_mutex_unlock (&self->lock);
  }
}

static void
gst_stt_transcribe_position_changed (GstSttBase * base)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (base);
  GstClockTime safe = gst_stt_base_get_safe_position (base);

  /* Called for every input buffer: wake the task only when it has a GAP to push (the
   * condition its loop waits for), not once per buffer. */
  g_mutex_lock (&self->lock);
  if (self->segment_pushed && !self->eos && GST_CLOCK_TIME_IS_VALID (safe)
      && GST_CLOCK_TIME_IS_VALID (self->out_pos) && safe >= self->out_pos + MIN_GAP)
    g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* A revision goes into the text stream behind the text already queued, for every
 * downstream element: revisions are rare (one per outage or backlog), and one that does
 * not know the event passes it on or drops it. */
static void
gst_stt_transcribe_revision (GstSttBase * base, const GstStructure * s)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (base);

  GST_DEBUG_OBJECT (self, "revision event in the text stream");
  enqueue (self, gst_stt_revision_event_new (s));
}

static gboolean
gst_stt_transcribe_forward_event (GstSttBase * base, GstEvent * event)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (base);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:{
      const gchar *upstream_id;
      g_autofree gchar *id = NULL;
      GstEvent *ev;
      guint group;

      /* Our own stream: text derived from upstream's audio stream. */
      gst_event_parse_stream_start (event, &upstream_id);
      id = g_strdup_printf ("%s/text", upstream_id ? upstream_id : "stt");
      ev = gst_event_new_stream_start (id);
      if (gst_event_parse_group_id (event, &group))
        gst_event_set_group_id (ev, group);
      gst_event_unref (event);
      g_mutex_lock (&self->lock);
      self->eos = FALSE;
      reset_words_locked (self);
      reset_interim_locked (self);
      g_mutex_unlock (&self->lock);
      enqueue (self, ev);
      enqueue (self, gst_event_new_caps (gst_static_pad_template_get_caps
              (&src_template)));
      return TRUE;
    }
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      clear_queue_locked (self);
      reset_interim_locked (self);
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      gst_pad_push_event (self->srcpad, event);
      gst_pad_pause_task (self->srcpad);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:{
      gboolean ret = gst_pad_push_event (self->srcpad, event);

      g_mutex_lock (&self->lock);
      self->flushing = FALSE;
      self->eos = FALSE;
      self->segment_pushed = FALSE;
      self->out_pos = GST_CLOCK_TIME_NONE;
      self->promised_pos = GST_CLOCK_TIME_NONE;
      reset_words_locked (self);
      reset_interim_locked (self);
      clear_queue_locked (self);
      g_mutex_unlock (&self->lock);
      gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_stt_transcribe_loop,
          self->srcpad, NULL);
      return ret;
    }
    case GST_EVENT_SEGMENT:{
      GstClockTime lateness = gst_stt_base_get_lateness (base);
      GstSegment seg;

      gst_event_copy_segment (event, &seg);
      if (lateness > 0 && seg.format == GST_FORMAT_TIME) {
        /* The text runs `lateness` behind the audio, in running time. */
        GstEvent *ev;

        seg.base += lateness;
        ev = gst_event_new_segment (&seg);
        gst_event_set_seqnum (ev, gst_event_get_seqnum (event));
        gst_event_unref (event);
        event = ev;
      }
      enqueue (self, event);
      return TRUE;
    }
    default:
      if (GST_EVENT_IS_SERIALIZED (event)) {
        enqueue (self, event);
        return TRUE;
      }
      return gst_pad_push_event (self->srcpad, event);
  }
}

/* Text came later than `latency` allows: a WARNING, at most one per
 * LATE_WARNING_INTERVAL_US, saying by how much (task only). */
static void
warn_late (GstSttTranscribe * self)
{
  GstSttBase *base = GST_STT_BASE (self);
  gint64 now = g_get_monotonic_time ();
  GstClockTime latency = gst_stt_base_get_latency (base);

  if (self->late_warned_at != 0 && now - self->late_warned_at < LATE_WARNING_INTERVAL_US)
    return;
  GST_ELEMENT_WARNING_WITH_DETAILS (self, STREAM, FAILED,
      ("Text came up to %.2f s later than latency (%u ms) allows (%" G_GUINT64_FORMAT
          " time(s)): it was moved later. Raise latency (or lateness) for this service "
          "and network.", (gdouble) self->late_max / GST_SECOND,
          (guint) (latency / GST_MSECOND), self->late_unwarned), (NULL),
      ("late-by", GST_TYPE_CLOCK_TIME, self->late_max, "late-results", G_TYPE_UINT64,
          self->late_unwarned, "latency", G_TYPE_UINT, (guint) (latency / GST_MSECOND),
          NULL));
  self->late_warned_at = now;
  self->late_unwarned = 0;
  self->late_max = 0;
}

/* Call with the lock held, once the pending interim is due: its event, placed as a final
 * pushed now would be (never before where the text stream stands). */
static GstEvent *
take_interim_locked (GstSttTranscribe * self)
{
  GstStructure *s = g_steal_pointer (&self->interim);
  GstClockTime start = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;

  gst_structure_get_clock_time (s, "start", &start);
  gst_structure_get_clock_time (s, "end", &end);
  g_free (self->interim_last);
  self->interim_last = g_strdup (gst_structure_get_string (s, "text"));
  self->interim_last_start = start;
  self->interim_at = g_get_monotonic_time ();
  if (GST_CLOCK_TIME_IS_VALID (self->out_pos) && start < self->out_pos) {
    start = self->out_pos;
    gst_structure_set (s, "start", GST_TYPE_CLOCK_TIME, start, "end",
        GST_TYPE_CLOCK_TIME, MAX (end, start), NULL);
  }
  return gst_stt_interim_event_new (s);
}

/* The src pad task: pushes queued text and events, GAP events up to the point where no
 * more text can come, and the newest interim text when due. */
static void
gst_stt_transcribe_loop (GstPad * pad)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (gst_pad_get_parent_element (pad));
  GstSttBase *base = GST_STT_BASE (self);
  gpointer item = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean late = FALSE;

  if (self == NULL)
    return;

  g_mutex_lock (&self->lock);
  while (!self->flushing && g_queue_is_empty (&self->queue)) {
    GstClockTime safe = gst_stt_base_get_safe_position (base);

    if (self->segment_pushed && !self->eos && GST_CLOCK_TIME_IS_VALID (safe)
        && GST_CLOCK_TIME_IS_VALID (self->out_pos) && safe >= self->out_pos + MIN_GAP) {
      item = gst_event_new_gap (self->out_pos, safe - self->out_pos);
      self->out_pos = safe;
      self->promised_pos = safe;
      break;
    }
    if (self->interim && self->segment_pushed && !self->eos) {
      gint64 due = self->interim_at ? self->interim_at + INTERIM_INTERVAL_US : 0;

      if (g_get_monotonic_time () >= due) {
        item = take_interim_locked (self);
        break;
      }
      g_cond_wait_until (&self->cond, &self->lock, due);
      continue;
    }
    g_cond_wait (&self->cond, &self->lock);
  }
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    gst_pad_pause_task (pad);
    gst_object_unref (self);
    return;
  }
  if (item == NULL)
    item = g_queue_pop_head (&self->queue);

  if (GST_IS_BUFFER (item)) {
    GstBuffer *buf = item;
    GstClockTime pts = GST_BUFFER_PTS (buf), end = pts + GST_BUFFER_DURATION (buf);

    /* Text that comes after we already promised (with a GAP) there would be none is
     * late: counted, and moved to where the stream stands, never backwards. Text that
     * merely overlaps the text before it is moved too. */
    if (GST_CLOCK_TIME_IS_VALID (self->promised_pos) && pts < self->promised_pos) {
      GstClockTime by = self->promised_pos - pts;

      GST_DEBUG_OBJECT (self, "late text by %" GST_TIME_FORMAT, GST_TIME_ARGS (by));
      gst_stt_stats_add (gst_stt_base_get_stats (base), GST_STT_STAT_LATE_RESULTS, 1);
      self->late_unwarned++;
      self->late_max = MAX (self->late_max, by);
      late = TRUE;
    }
    if (GST_CLOCK_TIME_IS_VALID (self->out_pos) && pts < self->out_pos) {
      GST_BUFFER_PTS (buf) = self->out_pos;
      GST_BUFFER_DURATION (buf) = end > self->out_pos ? end - self->out_pos : 0;
    }
    self->out_pos = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
  } else if (GST_EVENT_TYPE (item) == GST_EVENT_SEGMENT) {
    const GstSegment *seg;

    gst_event_parse_segment (item, &seg);
    self->segment_pushed = TRUE;
    if (!GST_CLOCK_TIME_IS_VALID (self->out_pos))
      self->out_pos = seg->format == GST_FORMAT_TIME ? seg->start : 0;
  } else if (GST_EVENT_TYPE (item) == GST_EVENT_EOS) {
    self->eos = TRUE;
    g_clear_pointer (&self->interim, gst_structure_free);
  }
  g_mutex_unlock (&self->lock);

  if (late)
    warn_late (self);
  if (GST_IS_BUFFER (item)) {
    GST_DEBUG_OBJECT (self, "pushing text %" GST_PTR_FORMAT, item);
    ret = gst_pad_push (pad, item);
  } else {
    if (GST_EVENT_TYPE (item) == GST_EVENT_CUSTOM_DOWNSTREAM)
      GST_LOG_OBJECT (self, "pushing %" GST_PTR_FORMAT, gst_event_get_structure (item));
    gst_pad_push_event (pad, item);
  }

  if (ret == GST_FLOW_FLUSHING || ret == GST_FLOW_EOS) {
    gst_pad_pause_task (pad);
  } else if (ret == GST_FLOW_NOT_LINKED) {
    /* Nobody wants the text: the bus messages are still posted. */
  } else if (ret < GST_FLOW_OK) {
    GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_pause_task (pad);
  }
  gst_object_unref (self);
}

static gboolean
gst_stt_transcribe_src_activate_mode (GstPad * pad, GstObject * parent, GstPadMode mode,
    gboolean active)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  self->flushing = !active;
  if (active) {
    self->segment_pushed = FALSE;
    self->eos = FALSE;
    self->out_pos = GST_CLOCK_TIME_NONE;
    self->promised_pos = GST_CLOCK_TIME_NONE;
    self->late_unwarned = 0;
    self->late_max = 0;
    self->late_warned_at = 0;
    /* A new stream: downstream asks again when it starts. */
    self->want_interim = FALSE;
    reset_words_locked (self);
  } else {
    clear_queue_locked (self);
  }
  reset_interim_locked (self);
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);

  if (active)
    return gst_pad_start_task (pad, (GstTaskFunction) gst_stt_transcribe_loop, pad, NULL);
  return gst_pad_stop_task (pad);
}

static gboolean
gst_stt_transcribe_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (parent);

  if (gst_stt_is_want_interim_event (event)) {
    GST_INFO_OBJECT (self, "downstream asked for interim text events");
    g_mutex_lock (&self->lock);
    self->want_interim = TRUE;
    g_mutex_unlock (&self->lock);
    gst_event_unref (event);
    return TRUE;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_stt_transcribe_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstSttBase *base = GST_STT_BASE (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:{
      gboolean live;
      GstClockTime min, max, ours = gst_stt_base_get_latency (base)
          + gst_stt_base_get_lateness (base);

      if (!gst_pad_peer_query (gst_stt_base_get_sinkpad (base), query))
        return FALSE;
      gst_query_parse_latency (query, &live, &min, &max);
      /* Text for audio at t leaves by t + latency (+ lateness, its running time
       * shifted by as much). */
      if (live) {
        min += ours;
        if (GST_CLOCK_TIME_IS_VALID (max))
          max += ours;
      }
      gst_query_set_latency (query, live, min, max);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static void
gst_stt_transcribe_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_OUTPUT_MODE:
      self->output_mode = g_value_get_enum (value);
      break;
    case PROP_PARTIAL_STABILITY:
      self->partial_stability = g_value_get_uint (value);
      break;
    case PROP_MAX_LINE_LENGTH:
      self->limits.max_line_length = g_value_get_uint (value);
      break;
    case PROP_MAX_LINES:
      self->limits.max_lines = g_value_get_uint (value);
      break;
    case PROP_MAX_CUE_DURATION:
      self->limits.max_duration = g_value_get_uint (value) * GST_MSECOND;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_stt_transcribe_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_OUTPUT_MODE:
      g_value_set_enum (value, self->output_mode);
      break;
    case PROP_PARTIAL_STABILITY:
      g_value_set_uint (value, self->partial_stability);
      break;
    case PROP_MAX_LINE_LENGTH:
      g_value_set_uint (value, self->limits.max_line_length);
      break;
    case PROP_MAX_LINES:
      g_value_set_uint (value, self->limits.max_lines);
      break;
    case PROP_MAX_CUE_DURATION:
      g_value_set_uint (value, self->limits.max_duration / GST_MSECOND);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_stt_transcribe_finalize (GObject * object)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (object);

  clear_queue_locked (self);
  reset_interim_locked (self);
  g_ptr_array_unref (self->stab_words);
  g_array_unref (self->stab_counts);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (gst_stt_transcribe_parent_class)->finalize (object);
}

static void
gst_stt_transcribe_class_init (GstSttTranscribeClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstSttBaseClass *base_class = GST_STT_BASE_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (stt_transcribe_debug, "stttranscribe", 0,
      "speech-to-text transcriber");

  gobject_class->set_property = gst_stt_transcribe_set_property;
  gobject_class->get_property = gst_stt_transcribe_get_property;
  gobject_class->finalize = gst_stt_transcribe_finalize;
  base_class->transcript = gst_stt_transcribe_transcript;
  base_class->forward_event = gst_stt_transcribe_forward_event;
  base_class->position_changed = gst_stt_transcribe_position_changed;
  base_class->revision = gst_stt_transcribe_revision;

  g_object_class_install_property (gobject_class, PROP_OUTPUT_MODE,
      g_param_spec_enum ("output-mode", "Output mode", "What a text buffer holds: a word "
          "(as soon as it is final or stable) or a caption cue cut from a final segment; "
          "auto: words for live input, segments otherwise", GST_TYPE_STT_OUTPUT_MODE,
          DEFAULT_OUTPUT_MODE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PARTIAL_STABILITY,
      g_param_spec_uint ("partial-stability", "Partial stability", "Word output, live "
          "input, services that do not mark final words in their partials (Gladia, "
          "ElevenLabs, vosk): a word is output once it has stayed the same in this many "
          "partials in a row; 0 = only finals", 0, 100, DEFAULT_PARTIAL_STABILITY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_LINE_LENGTH,
      g_param_spec_uint ("max-line-length", "Max line length", "Segment output: the "
          "longest caption line, in characters (32 for CEA-608, 42 for most broadcast "
          "subtitles); lines are cut between words; 0 = no limit", 0, 1000,
          DEFAULT_MAX_LINE_LENGTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MAX_LINES,
      g_param_spec_uint ("max-lines", "Max lines", "Segment output: lines per caption "
          "cue; a longer segment is cut into several cues with its words' times; 0 = no "
          "limit", 0, 100, DEFAULT_MAX_LINES, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MAX_CUE_DURATION,
      g_param_spec_uint ("max-cue-duration", "Max cue duration", "Segment output: the "
          "longest caption cue, in milliseconds; 0 = no limit", 0, G_MAXUINT,
          DEFAULT_MAX_CUE_DURATION_MS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  gst_type_mark_as_plugin_api (GST_TYPE_STT_OUTPUT_MODE, 0);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Speech to text transcriber",
      "Filter/Audio/Text", "Streams audio to a speech-to-text service and outputs "
      "timestamped transcripts", "gst-stt developers");
}

static void
gst_stt_transcribe_init (GstSttTranscribe * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
  self->flushing = TRUE;
  self->out_pos = GST_CLOCK_TIME_NONE;
  self->promised_pos = GST_CLOCK_TIME_NONE;
  self->interim_last_start = GST_CLOCK_TIME_NONE;
  self->output_mode = DEFAULT_OUTPUT_MODE;
  self->partial_stability = DEFAULT_PARTIAL_STABILITY;
  self->limits.max_line_length = DEFAULT_MAX_LINE_LENGTH;
  self->limits.max_lines = DEFAULT_MAX_LINES;
  self->limits.max_duration = DEFAULT_MAX_CUE_DURATION_MS * GST_MSECOND;
  self->stab_words = g_ptr_array_new_with_free_func (g_free);
  self->stab_counts = g_array_new (FALSE, TRUE, sizeof (guint));
  reset_words_locked (self);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_stt_transcribe_src_activate_mode));
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_stt_transcribe_src_query));
  gst_pad_set_event_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_stt_transcribe_src_event));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
