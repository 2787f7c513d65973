/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttEngine: the speech-to-text engine an element embeds (stttranscribe through
 * GstSttBase, and sttsink). It owns every property, the audio converter, the replay
 * ring, the timeline and the session, and posts the bus messages on its element. The
 * element owns the pads, calls in from its streaming thread and state changes, and
 * decides where results go (the callbacks). */
#pragma once

#include <gst/gst.h>
#include <gst/audio/audio.h>

#include "gststtstats.h"
#include "gststtsettings.h"

G_BEGIN_DECLS


typedef struct _GstSttEngine GstSttEngine;

typedef struct
{
  /* A transcript was posted on the bus (I/O thread, no lock held). For finals with
   * text, @pts/@duration are the text's span in the input's time domain. */
  void (*transcript) (GstElement * element, const GstStructure * s, gboolean is_final,
      GstClockTime pts, GstClockTime duration);
  /* The safe position moved (see gst_stt_engine_get_safe_position). Any thread. */
  void (*position_changed) (GstElement * element);
  /* An stt-revision (running and stream time set) is about to be posted on the bus (I/O
   * thread, no lock held). */
  void (*revision) (GstElement * element, const GstStructure * s);
  /* A wait of the streaming thread (room in the ring for non-live input, the drain at
   * EOS) was interrupted by gst_stt_engine_set_flushing (@element, TRUE), not by a
   * failure. Return GST_FLOW_OK to wait on (a sink paused in mid-render plays again;
   * set_flushing (FALSE) came meanwhile), anything else to give up with it. NULL: give
   * up with GST_FLOW_FLUSHING. Streaming thread, with the element's streaming locks. */
  GstFlowReturn (*interrupted) (GstElement * element);
} GstSttEngineCallbacks;

/* @element owns the engine and outlives it; @sinkpad is its audio input (queried for
 * liveness and duration). */
GstSttEngine *gst_stt_engine_new (GstElement * element, GstPad * sinkpad,
    const GstSttEngineCallbacks * callbacks);
void gst_stt_engine_free (GstSttEngine * engine);

/* Class setup: the engine's properties get ids @first_id, @first_id + 1, ...; returns
 * the first id after them. The element's set/get_property hand the engine
 * @prop_id - @first_id; they return FALSE for an id that is not the engine's. */
guint gst_stt_engine_install_properties (GObjectClass * klass, guint first_id);
gboolean gst_stt_engine_set_property (GstSttEngine * engine, guint id,
    const GValue * value, GParamSpec * pspec);
gboolean gst_stt_engine_get_property (GstSttEngine * engine, guint id, GValue * value,
    GParamSpec * pspec);
/* The "sink" pad template: raw interleaved audio of any format, rate and channels. */
void gst_stt_engine_add_pad_template (GstElementClass * klass);

/* READY to PAUSED: checks the settings (posting an error and returning FALSE for ones
 * that cannot work) and starts the statistics over. */
gboolean gst_stt_engine_start (GstSttEngine * engine);
/* PAUSED to READY, once the streaming thread is out: closes the session, frees the
 * stream. Never blocks on the network. */
void gst_stt_engine_stop (GstSttEngine * engine);
/* TRUE: wakes and interrupts the streaming thread's waits (see the interrupted
 * callback); FALSE: lets it wait again. Any thread. */
void gst_stt_engine_set_flushing (GstSttEngine * engine, gboolean flushing);

/* Streaming thread. */
gboolean gst_stt_engine_set_caps (GstSttEngine * engine, GstCaps * caps);
/* Converts @buf to the wire format and appends it to the ring (does not take @buf).
 * Non-live input waits for room; live input drops the oldest audio. */
GstFlowReturn gst_stt_engine_render (GstSttEngine * engine, GstBuffer * buf);
/* The engine's part of @event (does not take it): SEGMENT, GAP, FLUSH_START, FLUSH_STOP
 * (the stream starts over), EOS (waits until the service has accounted for all the
 * audio, or gave up; a flush or a state change ends the wait). */
void gst_stt_engine_event (GstSttEngine * engine, GstEvent * event);

/* The input time up to which no further text can appear, or NONE: for live input the
 * newest audio minus `latency` (text arriving later is late), else the committed point. */
GstClockTime gst_stt_engine_get_safe_position (GstSttEngine * engine);
/* Upstream live-ness as seen when the stream started. */
gboolean gst_stt_engine_is_live (GstSttEngine * engine);
/* The `latency` and `lateness` properties, as times. */
GstClockTime gst_stt_engine_get_latency (GstSttEngine * engine);
GstClockTime gst_stt_engine_get_lateness (GstSttEngine * engine);
/* Live input: text starting at @pts has just become available; returns how far the
 * newest audio is past @pts (0 for non-live) and keeps the largest in
 * `max-observed-delay`. Any thread. */
GstClockTime gst_stt_engine_observe_delay (GstSttEngine * engine, GstClockTime pts);
GstSttStats *gst_stt_engine_get_stats (GstSttEngine * engine);

G_END_DECLS
