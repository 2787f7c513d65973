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

GST_DEBUG_CATEGORY_STATIC (stt_sink_debug);
#define GST_CAT_DEFAULT stt_sink_debug

enum
{
  SIGNAL_TRANSCRIPT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

struct _GstSttSink
{
  GstSttBase parent;
};

G_DEFINE_TYPE (GstSttSink, gst_stt_sink, GST_TYPE_STT_BASE);
GST_ELEMENT_REGISTER_DEFINE (sttsink, "sttsink", GST_RANK_NONE, GST_TYPE_STT_SINK);

static void
gst_stt_sink_transcript (GstSttBase * base, const GstStructure * s, gboolean is_final,
    GstClockTime pts, GstClockTime duration)
{
  g_signal_emit (base, signals[SIGNAL_TRANSCRIPT], 0, s);
}

static gboolean
gst_stt_sink_forward_event (GstSttBase * base, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    GstMessage *msg = gst_message_new_eos (GST_OBJECT (base));

    /* The engine drained before this: every final is out. */
    gst_message_set_seqnum (msg, gst_event_get_seqnum (event));
    gst_element_post_message (GST_ELEMENT (base), msg);
  }
  gst_event_unref (event);
  return TRUE;
}

static void
gst_stt_sink_class_init (GstSttSinkClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstSttBaseClass *base_class = GST_STT_BASE_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (stt_sink_debug, "sttsink", 0, "speech-to-text sink");

  base_class->transcript = gst_stt_sink_transcript;
  base_class->forward_event = gst_stt_sink_forward_event;

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

  gst_element_class_set_static_metadata (element_class, "Speech to text sink",
      "Sink/Audio/Text", "Streams audio to a speech-to-text service and posts the "
      "transcripts on the bus", "gst-stt developers");
}

static void
gst_stt_sink_init (GstSttSink * self)
{
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}
