/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-sttsink
 * @title: sttsink
 *
 * The stttranscribe engine as a sink, for applications that only want the results:
 * every transcript is posted on the bus as an `stt-transcript` element message (see
 * stttranscribe and docs/messages.md for the fields) and emitted with the
 * #GstSttSink::transcript signal. Connection changes and statistics are posted as
 * `stt-connection` and `stt-stats`. At end of stream the element waits until the
 * service has accounted for all the audio (its end-of-audio acknowledgement; a silence
 * of `drain-timeout` is a stall, `outage-timeout` ends the retries with a WARNING naming
 * the audio not transcribed) before posting EOS.
 *
 * It is a #GstBaseSink: it prerolls (PAUSED completes when the first buffer arrives)
 * and has the base class's properties on top of stttranscribe's. `sync` defaults to
 * false: the audio goes to the service as fast as it comes (for a file, as fast as the
 * service takes it) and results arrive when they arrive; with `sync=true` the audio is
 * rendered against the clock, in real time.
 *
 * Having no text output, the sink ignores `latency` and `lateness` (they time
 * stttranscribe's text buffers); `max-observed-delay` measures the finals (live
 * input).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m uridecodebin uri=file:///tmp/talk.ogg ! audioconvert ! \
 *     sttsink provider=vosk
 * ]| Print every partial and final transcript on the bus (`-m`).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtsink.h"
#include "gststtengine.h"

GST_DEBUG_CATEGORY_STATIC (stt_sink_debug);
#define GST_CAT_DEFAULT stt_sink_debug

enum
{
  PROP_0,
  PROP_ENGINE,                  /* the engine's properties, from here on */
};

enum
{
  SIGNAL_TRANSCRIPT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

struct _GstSttSink
{
  GstBaseSink parent;

  GstSttEngine *engine;
};

G_DEFINE_TYPE (GstSttSink, gst_stt_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (sttsink, "sttsink", GST_RANK_NONE, GST_TYPE_STT_SINK);

/* Engine callbacks */

static void
engine_transcript (GstElement * element, const GstStructure * s, gboolean is_final,
    GstClockTime pts, GstClockTime duration)
{
  /* What the application gets is the final: its delay is what max-observed-delay says
   * (live input). */
  if (is_final)
    gst_stt_engine_observe_delay (GST_STT_SINK (element)->engine, pts);
  g_signal_emit (element, signals[SIGNAL_TRANSCRIPT], 0, s);
}

/* A wait in render (room in the ring) or in the EOS drain was unlocked: by a flush or a
 * state change to READY (give up), or by PLAYING to PAUSED (wait until playing again,
 * then go on where it stopped). Called with the preroll lock, as wait_preroll wants. */
static GstFlowReturn
engine_interrupted (GstElement * element)
{
  GstFlowReturn ret = gst_base_sink_wait_preroll (GST_BASE_SINK (element));

  /* A step unlocks the same way: the rest of the buffer still belongs to the stream
   * (render must not return for the base class to render it again). */
  return ret == GST_FLOW_CUSTOM_ERROR ? GST_FLOW_OK : ret;
}

static const GstSttEngineCallbacks engine_callbacks = {
  .transcript = engine_transcript,
  .interrupted = engine_interrupted,
};

/* GstBaseSink */

static gboolean
gst_stt_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  return gst_stt_engine_set_caps (GST_STT_SINK (sink)->engine, caps);
}

static GstFlowReturn
gst_stt_sink_render (GstBaseSink * sink, GstBuffer * buf)
{
  return gst_stt_engine_render (GST_STT_SINK (sink)->engine, buf);
}

static gboolean
gst_stt_sink_event (GstBaseSink * sink, GstEvent * event)
{
  /* At EOS the engine drains first: the base class posts the EOS message after. */
  gst_stt_engine_event (GST_STT_SINK (sink)->engine, event);
  /* A flush or a state change to READY that interrupted the drain waited for the
   * preroll lock this thread released in wait_preroll: as the base class does on entry
   * (it holds that lock again now), drop the event, or it would wait in preroll for a
   * signal already given. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && G_UNLIKELY (sink->flushing)) {
    gst_event_unref (event);
    return FALSE;
  }
  return GST_BASE_SINK_CLASS (gst_stt_sink_parent_class)->event (sink, event);
}

static gboolean
gst_stt_sink_unlock (GstBaseSink * sink)
{
  gst_stt_engine_set_flushing (GST_STT_SINK (sink)->engine, TRUE);
  return TRUE;
}

static gboolean
gst_stt_sink_unlock_stop (GstBaseSink * sink)
{
  gst_stt_engine_set_flushing (GST_STT_SINK (sink)->engine, FALSE);
  return TRUE;
}

/* GstBaseSink's start and stop are NULL<->READY; the engine's stream lives from READY
 * to PAUSED and back, as in stttranscribe. */
static GstStateChangeReturn
gst_stt_sink_change_state (GstElement * element, GstStateChange transition)
{
  GstSttSink *self = GST_STT_SINK (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED
      && !gst_stt_engine_start (self->engine))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (gst_stt_sink_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  /* The pad is deactivated: render and the drain were unlocked and have returned. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_stt_engine_stop (self->engine);
  return ret;
}

/* GObject */

static void
gst_stt_sink_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  if (!gst_stt_engine_set_property (GST_STT_SINK (object)->engine, prop_id - PROP_ENGINE,
          value, pspec))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_stt_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  if (!gst_stt_engine_get_property (GST_STT_SINK (object)->engine, prop_id - PROP_ENGINE,
          value, pspec))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_stt_sink_finalize (GObject * object)
{
  g_clear_pointer (&GST_STT_SINK (object)->engine, gst_stt_engine_free);
  G_OBJECT_CLASS (gst_stt_sink_parent_class)->finalize (object);
}

static void
gst_stt_sink_class_init (GstSttSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (stt_sink_debug, "sttsink", 0, "speech-to-text sink");

  gobject_class->set_property = gst_stt_sink_set_property;
  gobject_class->get_property = gst_stt_sink_get_property;
  gobject_class->finalize = gst_stt_sink_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_stt_sink_change_state);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_stt_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_stt_sink_render);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_stt_sink_event);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_stt_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_stt_sink_unlock_stop);

  gst_stt_engine_install_properties (gobject_class, PROP_ENGINE);

  /**
   * GstSttSink::transcript:
   * @sink: the element
   * @transcript: the `stt-transcript` structure (the bus message's content)
   *
   * Emitted for every partial and final transcript, from the element's I/O thread.
   */
  signals[SIGNAL_TRANSCRIPT] = g_signal_new ("transcript", G_TYPE_FROM_CLASS (klass),
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1,
      GST_TYPE_STRUCTURE | G_SIGNAL_TYPE_STATIC_SCOPE);

  gst_stt_engine_add_pad_template (element_class);
  gst_element_class_set_static_metadata (element_class, "Speech to text sink",
      "Sink/Audio/Text", "Streams audio to a speech-to-text service and posts the "
      "transcripts on the bus", "gst-stt developers");
}

static void
gst_stt_sink_init (GstSttSink * self)
{
  GstBaseSink *sink = GST_BASE_SINK (self);

  self->engine = gst_stt_engine_new (GST_ELEMENT (self), GST_BASE_SINK_PAD (sink),
      &engine_callbacks);
  /* Results arrive when they arrive: no reason to hold the audio back by default. */
  gst_base_sink_set_sync (sink, FALSE);
  /* Every buffer is audio to transcribe, as in stttranscribe: its times place the
   * words, in the segment or not. */
  gst_base_sink_set_drop_out_of_segment (sink, FALSE);
}
