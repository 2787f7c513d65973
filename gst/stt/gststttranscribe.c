/**
 * SECTION:element-stttranscribe
 * @title: stttranscribe
 *
 * Streams raw audio to a speech-to-text service over a WebSocket and outputs the final
 * transcripts as timestamped `text/x-raw, format=utf8` buffers, one per final segment,
 * with PTS and DURATION in the input's time domain (first word start to last word end),
 * so `webvttenc`, `srtenc`, `textoverlay` and muxers line them up with the media.
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
 *
 * Audio that will never be transcribed is never silent: a WARNING whose details carry
 * `untranscribed`, `from` and `to` names it (the live replay ring overflowed during an
 * outage, or the element gave up after `outage-timeout`). At end of stream the element
 * waits until the service has accounted for all the audio (its end-of-audio
 * acknowledgement), reconnecting and replaying if a connection ends before that.
 *
 * For live input the latency query answers upstream latency plus `latency`, and GAP
 * events keep downstream moving while no text is due.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! wavparse ! stttranscribe provider=vosk ! \
 *     webvttenc ! filesink location=talk.vtt
 * ]| Transcribe a file with the local recognizer (`stt-local-server`) into WebVTT.
 * |[
 * gst-launch-1.0 pulsesrc ! stttranscribe provider=deepgram api-key-file=dg.key ! \
 *     fakesink dump=true
 * ]| Live captions from a microphone with Deepgram.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststttranscribe.h"

GST_DEBUG_CATEGORY_STATIC (stt_transcribe_debug);
#define GST_CAT_DEFAULT stt_transcribe_debug

/* Smaller gaps are not worth an event. */
#define MIN_GAP (100 * GST_MSECOND)

struct _GstSttTranscribe
{
  GstSttBase parent;

  GstPad *srcpad;

  /* The output queue, drained by the src pad task. */
  GMutex lock;
  GCond cond;
  GQueue queue;                 /* GstBuffer / GstEvent */
  gboolean flushing;
  gboolean segment_pushed;
  gboolean eos;
  GstClockTime out_pos;         /* task only: where the text stream stands */
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

static void
gst_stt_transcribe_transcript (GstSttBase * base, const GstStructure * s,
    gboolean is_final, GstClockTime pts, GstClockTime duration)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (base);
  const gchar *text;
  GstBuffer *buf;

  if (!is_final)
    return;
  text = gst_structure_get_string (s, "text");
  if (text == NULL || *text == '\0')
    return;
  buf = gst_buffer_new_memdup (text, strlen (text));
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  enqueue (self, buf);
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

/* The src pad task: pushes queued text and events, and GAP events up to the point where
 * no more text can come. */
static void
gst_stt_transcribe_loop (GstPad * pad)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (gst_pad_get_parent_element (pad));
  GstSttBase *base = GST_STT_BASE (self);
  gpointer item = NULL;
  GstFlowReturn ret = GST_FLOW_OK;

  if (self == NULL)
    return;

  g_mutex_lock (&self->lock);
  while (!self->flushing && g_queue_is_empty (&self->queue)) {
    GstClockTime safe = gst_stt_base_get_safe_position (base);

    if (self->segment_pushed && !self->eos && GST_CLOCK_TIME_IS_VALID (safe)
        && GST_CLOCK_TIME_IS_VALID (self->out_pos) && safe >= self->out_pos + MIN_GAP) {
      item = gst_event_new_gap (self->out_pos, safe - self->out_pos);
      self->out_pos = safe;
      break;
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

    /* Text that comes after we already promised (with a GAP) there would be none is
     * late: it is moved to where the stream stands, never backwards. */
    if (GST_CLOCK_TIME_IS_VALID (self->out_pos) && GST_BUFFER_PTS (buf) < self->out_pos) {
      GST_DEBUG_OBJECT (self, "late text by %" GST_TIME_FORMAT,
          GST_TIME_ARGS (self->out_pos - GST_BUFFER_PTS (buf)));
      gst_stt_stats_add (gst_stt_base_get_stats (base), GST_STT_STAT_LATE_RESULTS, 1);
      GST_BUFFER_PTS (buf) = self->out_pos;
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
  }
  g_mutex_unlock (&self->lock);

  if (GST_IS_BUFFER (item)) {
    GST_DEBUG_OBJECT (self, "pushing text %" GST_PTR_FORMAT, item);
    ret = gst_pad_push (pad, item);
  } else {
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
  } else {
    clear_queue_locked (self);
  }
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);

  if (active)
    return gst_pad_start_task (pad, (GstTaskFunction) gst_stt_transcribe_loop, pad, NULL);
  return gst_pad_stop_task (pad);
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
gst_stt_transcribe_finalize (GObject * object)
{
  GstSttTranscribe *self = GST_STT_TRANSCRIBE (object);

  clear_queue_locked (self);
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

  gobject_class->finalize = gst_stt_transcribe_finalize;
  base_class->transcript = gst_stt_transcribe_transcript;
  base_class->forward_event = gst_stt_transcribe_forward_event;
  base_class->position_changed = gst_stt_transcribe_position_changed;

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

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_stt_transcribe_src_activate_mode));
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_stt_transcribe_src_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
