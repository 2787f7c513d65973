/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtbase.c: the element half of stttranscribe's parent: the sink pad, the state
 * changes and the property hooks, around the engine (gststtengine.c) that does the work.
 * Subclasses only decide where results go.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtbase.h"
#include "gststtengine.h"

enum
{
  PROP_0,
  PROP_ENGINE,                  /* the engine's properties, from here on */
};

typedef struct
{
  GstPad *sinkpad;
  GstSttEngine *engine;
} GstSttBasePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (GstSttBase, gst_stt_base, GST_TYPE_ELEMENT);

#define PRIV(b) \
  ((GstSttBasePrivate *) gst_stt_base_get_instance_private (GST_STT_BASE (b)))

/* Engine callbacks: to the subclass. */

static void
engine_transcript (GstElement * element, const GstStructure * s, gboolean is_final,
    GstClockTime pts, GstClockTime duration)
{
  GstSttBaseClass *klass = GST_STT_BASE_GET_CLASS (element);

  if (klass->transcript)
    klass->transcript (GST_STT_BASE (element), s, is_final, pts, duration);
}

static void
engine_position_changed (GstElement * element)
{
  GstSttBaseClass *klass = GST_STT_BASE_GET_CLASS (element);

  if (klass->position_changed)
    klass->position_changed (GST_STT_BASE (element));
}

static void
engine_revision (GstElement * element, const GstStructure * s)
{
  GstSttBaseClass *klass = GST_STT_BASE_GET_CLASS (element);

  if (klass->revision)
    klass->revision (GST_STT_BASE (element), s);
}

static const GstSttEngineCallbacks engine_callbacks = {
  .transcript = engine_transcript,
  .position_changed = engine_position_changed,
  .revision = engine_revision,
  /* A flush or a state change to READY ends a wait: no interrupted callback. */
};

/* Streaming thread */

static GstFlowReturn
gst_stt_base_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstFlowReturn ret = gst_stt_engine_render (PRIV (parent)->engine, buf);

  gst_buffer_unref (buf);
  return ret;
}

static gboolean
gst_stt_base_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstSttBase *base = GST_STT_BASE (parent);
  GstSttEngine *engine = PRIV (base)->engine;
  GstSttBaseClass *klass = GST_STT_BASE_GET_CLASS (base);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean ret;

      gst_event_parse_caps (event, &caps);
      ret = gst_stt_engine_set_caps (engine, caps);
      gst_event_unref (event);
      return ret;
    }
    case GST_EVENT_GAP:
      /* Subclasses keep downstream moving with their own GAPs. */
      gst_stt_engine_event (engine, event);
      gst_event_unref (event);
      return TRUE;
    default:
      /* The EOS goes on once drained; the flushes once the engine has started over. */
      gst_stt_engine_event (engine, event);
      return klass->forward_event (base, event);
  }
}

static gboolean
gst_stt_base_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  return gst_pad_query_default (pad, parent, query);
}

static GstStateChangeReturn
gst_stt_base_change_state (GstElement * element, GstStateChange transition)
{
  GstSttEngine *engine = PRIV (element)->engine;
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_stt_engine_start (engine))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* Unblock a chain function waiting for room and an EOS waiting for finals before
       * the pads are deactivated (which waits for the streaming thread). */
      gst_stt_engine_set_flushing (engine, TRUE);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (gst_stt_base_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_stt_engine_stop (engine);
      break;
    default:
      break;
  }
  return ret;
}

/* ------------------------------------------------------------------------------------ */

GstClockTime
gst_stt_base_get_safe_position (GstSttBase * base)
{
  return gst_stt_engine_get_safe_position (PRIV (base)->engine);
}

gboolean
gst_stt_base_is_live (GstSttBase * base)
{
  return gst_stt_engine_is_live (PRIV (base)->engine);
}

GstClockTime
gst_stt_base_get_latency (GstSttBase * base)
{
  return gst_stt_engine_get_latency (PRIV (base)->engine);
}

GstClockTime
gst_stt_base_get_lateness (GstSttBase * base)
{
  return gst_stt_engine_get_lateness (PRIV (base)->engine);
}

GstClockTime
gst_stt_base_observe_delay (GstSttBase * base, GstClockTime pts)
{
  return gst_stt_engine_observe_delay (PRIV (base)->engine, pts);
}

GstPad *
gst_stt_base_get_sinkpad (GstSttBase * base)
{
  return PRIV (base)->sinkpad;
}

GstSttStats *
gst_stt_base_get_stats (GstSttBase * base)
{
  return gst_stt_engine_get_stats (PRIV (base)->engine);
}

/* ------------------------------------------------------------------------------------ */

static void
gst_stt_base_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  if (!gst_stt_engine_set_property (PRIV (object)->engine, prop_id - PROP_ENGINE, value,
          pspec))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_stt_base_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  if (!gst_stt_engine_get_property (PRIV (object)->engine, prop_id - PROP_ENGINE, value,
          pspec))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_stt_base_finalize (GObject * object)
{
  g_clear_pointer (&PRIV (object)->engine, gst_stt_engine_free);
  G_OBJECT_CLASS (gst_stt_base_parent_class)->finalize (object);
}

static void
gst_stt_base_class_init (GstSttBaseClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_stt_base_set_property;
  gobject_class->get_property = gst_stt_base_get_property;
  gobject_class->finalize = gst_stt_base_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_stt_base_change_state);

  gst_stt_engine_install_properties (gobject_class, PROP_ENGINE);
  gst_stt_engine_add_pad_template (element_class);
  gst_type_mark_as_plugin_api (GST_TYPE_STT_BASE, 0);
}

static void
gst_stt_base_init (GstSttBase * base)
{
  GstSttBasePrivate *priv = PRIV (base);

  priv->sinkpad = gst_pad_new_from_template (gst_element_class_get_pad_template
      (GST_ELEMENT_GET_CLASS (base), "sink"), "sink");
  gst_pad_set_chain_function (priv->sinkpad, GST_DEBUG_FUNCPTR (gst_stt_base_chain));
  gst_pad_set_event_function (priv->sinkpad, GST_DEBUG_FUNCPTR (gst_stt_base_sink_event));
  gst_pad_set_query_function (priv->sinkpad, GST_DEBUG_FUNCPTR (gst_stt_base_sink_query));
  gst_element_add_pad (GST_ELEMENT (base), priv->sinkpad);
  priv->engine = gst_stt_engine_new (GST_ELEMENT (base), priv->sinkpad,
      &engine_callbacks);
}
