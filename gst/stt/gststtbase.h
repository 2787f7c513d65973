/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttBase: stttranscribe's parent, an element around the engine it shares with
 * sttsink (gststtengine.h: every property, the audio converter, the replay ring, the
 * timeline and the session). It owns the sink pad; subclasses only decide where results
 * go. */
#pragma once

#include <gst/gst.h>
#include <gst/audio/audio.h>

#include "gststtring.h"
#include "gststttimeline.h"
#include "gststtstats.h"
#include "gststtsession.h"

G_BEGIN_DECLS

#define GST_TYPE_STT_BASE (gst_stt_base_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstSttBase, gst_stt_base, GST, STT_BASE, GstElement)

struct _GstSttBaseClass
{
  GstElementClass parent_class;

  /* A transcript was posted on the bus (I/O thread, no lock held). For finals with
   * text, @pts/@duration are the text's span in the input's time domain. */
  void (*transcript) (GstSttBase * base, const GstStructure * s, gboolean is_final,
      GstClockTime pts, GstClockTime duration);
  /* An event the engine does not consume (stream-start, segment, EOS after draining,
   * flushes, ...); takes @event. Streaming thread. */
  gboolean (*forward_event) (GstSttBase * base, GstEvent * event);
  /* The safe position moved (see gst_stt_base_get_safe_position). Any thread. */
  void (*position_changed) (GstSttBase * base);
  /* An stt-revision (docs/messages.md) is about to be posted on the bus (I/O thread, no
   * lock held). */
  void (*revision) (GstSttBase * base, const GstStructure * s);
};

/* The input time up to which no further text can appear, or NONE: for live input the
 * newest audio minus `latency` (text arriving later is late), else the committed point. */
GstClockTime gst_stt_base_get_safe_position (GstSttBase * base);
/* Upstream live-ness as seen when the stream started. */
gboolean gst_stt_base_is_live (GstSttBase * base);
/* The `latency` and `lateness` properties, as times. */
GstClockTime gst_stt_base_get_latency (GstSttBase * base);
GstClockTime gst_stt_base_get_lateness (GstSttBase * base);
/* Live input: text starting at @pts has just become available; returns how far the
 * newest audio is past @pts (0 for non-live) and keeps the largest in
 * `max-observed-delay`. Any thread. */
GstClockTime gst_stt_base_observe_delay (GstSttBase * base, GstClockTime pts);
GstPad *gst_stt_base_get_sinkpad (GstSttBase * base);
GstSttStats *gst_stt_base_get_stats (GstSttBase * base);

G_END_DECLS
