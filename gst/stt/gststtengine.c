/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtengine.c: the engine behind stttranscribe and sttsink.
 *
 * Streaming thread: convert each buffer with GstAudioConverter to the provider's wire
 * format (S16LE mono), record the timeline, append to the replay ring, wake the session.
 * It never waits on the network: live input that outruns the service drops the oldest
 * audio (counted); non-live input waits for room in the ring (backpressure).
 * I/O thread: the session sends, receives and calls back here; this file turns the
 * callbacks into bus messages and hands results to the element.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <string.h>

#include "gststtengine.h"
#include "gststtring.h"
#include "gststttimeline.h"
#include "gststtsession.h"
#include "gststtmessage.h"
#include "gststtjwt.h"
#include "sttprovider.h"
#include "gststtawscreds.h"

GST_DEBUG_CATEGORY_STATIC (stt_engine_debug);
#define GST_CAT_DEFAULT stt_engine_debug

/* The engine's own properties, after the settings' (gststtsettings.c): read-only
 * figures of the running stream. Ids relative to the element's first engine property. */
enum
{
  PROP_MAX_OBSERVED_DELAY,
  PROP_STATS,
  N_OWN_PROPS
};

struct _GstSttEngine
{
  GstElement *element;          /* the owner: its object lock guards what says so */
  GstPad *sinkpad;
  GstSttEngineCallbacks cb;

  GstSttSettings set;           /* the properties: under the object lock */
  GstClockTime max_observed_delay;      /* object lock: see gst_stt_engine_observe_delay */

  /* Stream state: under the stream lock (streaming thread) unless said otherwise. */
  GstAudioInfo in_info;
  GstAudioConverter *converter;
  guint rate;                   /* wire rate */
  const SttProviderInfo *info;
  guint8 *convbuf;
  gsize convbuf_size;
  GByteArray *pending;          /* input too small to convert yet */
  guint64 written;              /* wire samples written to the ring */
  GstSttRing *ring;             /* created and freed under drain_lock too */
  GstSttTimeline *timeline;
  GstSttStats *stats;
  GstSttSession *session;
  GstSegment segment;           /* object lock: read from the I/O thread */
  gboolean live;                /* object lock */
  GstClockTime input_end;       /* object lock: end of the newest input buffer */
  GstClockTime committed_time;  /* object lock */
  GstClockTime promised_time;   /* object lock: see GstSttSessionCallbacks.promised */
  /* Non-live input of known length: `progress` and `eta` in stt-stats. Object lock. */
  GstClockTime duration;        /* NONE: unknown */
  gint64 started;               /* monotonic time the session started */
  gint progress_tenth;          /* the last tenth of progress posted */
  guint64 overflow;              /* samples dropped in the current overflow */
  guint64 spooling;             /* samples spooled in the current overflow */

  /* Drain, interruption and failure: under drain_lock. The ring is set flushing while
   * flushing or failed, so a writer waiting for room wakes. */
  GMutex drain_lock;
  GCond drain_cond;
  gboolean drained;
  gboolean flushing;
  gboolean failed;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) " GST_AUDIO_FORMATS_ALL ", "
        "rate = (int) [ 1, MAX ], channels = (int) [ 1, MAX ], "
        "layout = (string) interleaved"));

/* Sets the ring flushing while the engine is flushing or failed, so that a writer
 * waiting for room wakes. Call with drain_lock held. */
static void
update_ring_flushing_locked (GstSttEngine * e)
{
  if (e->ring)
    gst_stt_ring_set_flushing (e->ring, e->flushing || e->failed);
}

/* ------------------------------------------------------------------------------------ */
/* Session callbacks: I/O thread, no lock held on entry. */

static void
add_times (GstSttEngine * e, GstStructure * s, GstClockTime pts)
{
  GstClockTime rt = GST_CLOCK_TIME_NONE, st = GST_CLOCK_TIME_NONE;

  GST_OBJECT_LOCK (e->element);
  if (GST_CLOCK_TIME_IS_VALID (pts) && e->segment.format == GST_FORMAT_TIME) {
    rt = gst_segment_to_running_time (&e->segment, GST_FORMAT_TIME, pts);
    st = gst_segment_to_stream_time (&e->segment, GST_FORMAT_TIME, pts);
  }
  GST_OBJECT_UNLOCK (e->element);
  gst_structure_set (s, "running-time", GST_TYPE_CLOCK_TIME, rt,
      "stream-time", GST_TYPE_CLOCK_TIME, st, NULL);
}

static void
on_transcript (GstSttSession * session, GstStructure * s, gboolean is_final,
    GstClockTime pts, GstClockTime duration, gpointer user_data)
{
  GstSttEngine *e = user_data;

  add_times (e, s, pts);
  GST_DEBUG_OBJECT (e->element, "%s: %" GST_PTR_FORMAT, is_final ? "final" : "partial",
      s);
  if (e->cb.transcript)
    e->cb.transcript (e->element, s, is_final, pts, duration);
  gst_element_post_message (e->element,
      gst_message_new_element (GST_OBJECT (e->element), s));
}

static void
on_revision (GstSttSession * session, GstStructure * s, GstClockTime pts,
    gpointer user_data)
{
  GstSttEngine *e = user_data;

  add_times (e, s, pts);
  GST_INFO_OBJECT (e->element, "revision: %" GST_PTR_FORMAT, s);
  if (e->cb.revision)
    e->cb.revision (e->element, s);
  gst_element_post_message (e->element,
      gst_message_new_element (GST_OBJECT (e->element), s));
}

static void
on_connection (GstSttSession * session, const GstSttConnectionInfo * info,
    gpointer user_data)
{
  GstSttEngine *e = user_data;

  gst_element_post_message (e->element,
      gst_message_new_element (GST_OBJECT (e->element),
          gst_stt_message_connection_new (info->provider ?
              info->provider : e->info->name, info)));
}

static void
on_error (GstSttSession * session, GQuark domain, gint code, const gchar * text,
    const gchar * debug, guint http_status, gint close_code, gpointer user_data)
{
  GstSttEngine *e = user_data;

  /* Ours first: the flow error the streaming thread returns once it sees the failure
   * makes upstream post its own "Internal data stream error", which must come second. */
  gst_element_message_full_with_details (e->element, GST_MESSAGE_ERROR, domain,
      code, g_strdup (text), g_strdup (debug), __FILE__, GST_FUNCTION, __LINE__,
      gst_structure_new ("details", "provider", G_TYPE_STRING, e->info->name,
          "http-status", G_TYPE_UINT, http_status, "close-code", G_TYPE_INT, close_code,
          NULL));

  g_mutex_lock (&e->drain_lock);
  e->failed = TRUE;
  g_cond_broadcast (&e->drain_cond);
  /* A blocked chain function must see the failure. */
  update_ring_flushing_locked (e);
  g_mutex_unlock (&e->drain_lock);
}

/* A warning for the user; @from < @to names audio that will never be transcribed. */
static void
on_warning (GstSttSession * session, const gchar * text, guint64 from, guint64 to,
    gpointer user_data)
{
  GstSttEngine *e = user_data;
  GstStructure *details = gst_structure_new ("details", "provider", G_TYPE_STRING,
      e->info->name, NULL);
  gchar *msg;
  GQuark domain = GST_RESOURCE_ERROR;
  gint code = GST_RESOURCE_ERROR_OPEN_READ_WRITE;

  if (from < to) {
    GstClockTime t0 = gst_stt_timeline_to_time (e->timeline, from);
    GstClockTime t1 = gst_stt_timeline_to_time (e->timeline, to);
    GstClockTime lost = gst_util_uint64_scale_int (to - from, GST_SECOND, e->rate);

    msg = g_strdup_printf ("%.1f s of audio will not be transcribed (%" GST_TIME_FORMAT
        " to %" GST_TIME_FORMAT "): %s", (gdouble) lost / GST_SECOND, GST_TIME_ARGS (t0),
        GST_TIME_ARGS (t1), text);
    gst_structure_set (details, "untranscribed", GST_TYPE_CLOCK_TIME, lost,
        "from", GST_TYPE_CLOCK_TIME, t0, "to", GST_TYPE_CLOCK_TIME, t1, NULL);
    code = GST_RESOURCE_ERROR_WRITE;
  } else {
    msg = g_strdup (text);
  }
  gst_element_message_full_with_details (e->element, GST_MESSAGE_WARNING, domain,
      code, msg, NULL, __FILE__, GST_FUNCTION, __LINE__, details);
}

static void
position_changed (GstSttEngine * e)
{
  if (e->cb.position_changed)
    e->cb.position_changed (e->element);
}

/* Stores the input time of stream position @pos in *@field (under the object lock) and
 * tells the element: where text can no longer come has moved. */
static void
position_moved (GstSttEngine * e, GstClockTime * field, guint64 pos)
{
  GstClockTime t = gst_stt_timeline_to_time (e->timeline, pos);

  GST_OBJECT_LOCK (e->element);
  *field = t;
  GST_OBJECT_UNLOCK (e->element);
  position_changed (e);
}

static void
on_promised (GstSttSession * session, guint64 pos, gpointer user_data)
{
  GstSttEngine *e = user_data;

  position_moved (e, &e->promised_time, pos);
}

static void
on_drained (GstSttSession * session, gpointer user_data)
{
  GstSttEngine *e = user_data;

  g_mutex_lock (&e->drain_lock);
  e->drained = TRUE;
  g_cond_broadcast (&e->drain_cond);
  g_mutex_unlock (&e->drain_lock);
}

/* Posts `stt-stats`; for non-live input of known length with `progress` (0-1, the
 * accounted point over the duration) and `eta` (at the pace so far). */
static void
post_stats (GstSttEngine * e)
{
  GstStructure *st = gst_stt_stats_to_structure (e->stats, e->info->name,
      e->rate);
  GstClockTime duration, done, start;
  gint64 started;

  GST_OBJECT_LOCK (e->element);
  duration = e->duration;
  done = e->committed_time;
  start = e->segment.format == GST_FORMAT_TIME ? e->segment.start : 0;
  started = e->started;
  GST_OBJECT_UNLOCK (e->element);
  if (GST_CLOCK_TIME_IS_VALID (duration) && duration > 0) {
    gdouble progress = GST_CLOCK_TIME_IS_VALID (done) && done > start ?
        MIN ((gdouble) (done - start) / duration, 1.0) : 0.0;
    GstClockTime eta = GST_CLOCK_TIME_NONE;

    if (progress > 0) {
      gdouble elapsed = (gdouble) (g_get_monotonic_time () - started) * GST_USECOND;

      eta = (GstClockTime) (elapsed * (1.0 - progress) / progress);
    }
    gst_structure_set (st, "progress", G_TYPE_DOUBLE, progress, "eta",
        GST_TYPE_CLOCK_TIME, eta, NULL);
  }
  gst_element_post_message (e->element,
      gst_message_new_element (GST_OBJECT (e->element), st));
}

static void
on_stats (GstSttSession * session, gpointer user_data)
{
  post_stats (user_data);
}

static void
on_committed (GstSttSession * session, guint64 pos, gpointer user_data)
{
  GstSttEngine *e = user_data;
  gint tenth = -1;

  position_moved (e, &e->committed_time, pos);
  /* A long file: stt-stats at least every tenth of it. */
  GST_OBJECT_LOCK (e->element);
  if (GST_CLOCK_TIME_IS_VALID (e->duration) && e->duration > 0
      && GST_CLOCK_TIME_IS_VALID (e->committed_time)) {
    tenth = (gint) MIN (gst_util_uint64_scale (e->committed_time, 10,
            e->duration), 10);
    if (tenth > e->progress_tenth)
      e->progress_tenth = tenth;
    else
      tenth = -1;
  }
  GST_OBJECT_UNLOCK (e->element);
  if (tenth >= 0)
    post_stats (e);
}

static const GstSttSessionCallbacks session_callbacks = {
  .transcript = on_transcript,
  .connection = on_connection,
  .error = on_error,
  .drained = on_drained,
  .stats = on_stats,
  .committed = on_committed,
  .warning = on_warning,
  .promised = on_promised,
  .revision = on_revision,
};

/* ------------------------------------------------------------------------------------ */
/* Streaming thread */

static gboolean
query_live (GstSttEngine * e)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (e->sinkpad, q))
    gst_query_parse_latency (q, &live, NULL, NULL);
  gst_query_unref (q);
  return live;
}

/* Settings that act on live input only. Set away from their defaults on non-live
 * input (a file), they do nothing: the user is told once, with what happens instead. */
static void
warn_live_only (GstSttEngine * e)
{
  static const gchar *const names[] = { "failover-after", "max-lag", "spool-dir",
    "spool-max-bytes"
  };
  GObjectClass *klass = G_OBJECT_GET_CLASS (e->element);
  g_autoptr (GString) set = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    GParamSpec *pspec = g_object_class_find_property (klass, names[i]);
    GValue v = G_VALUE_INIT;

    if (pspec == NULL)
      continue;
    g_value_init (&v, pspec->value_type);
    g_object_get_property (G_OBJECT (e->element), names[i], &v);
    if (!g_param_value_defaults (pspec, &v))
      g_string_append_printf (set, "%s%s", set->len ? ", " : "", names[i]);
    g_value_unset (&v);
  }
  if (set->len > 0)
    GST_ELEMENT_WARNING (e->element, LIBRARY, SETTINGS, ("%s act%s on live input only, "
            "and this input is not live: it waits for the service instead (no audio "
            "is dropped, none spooled, nothing given up for a live edge), and fails "
            "over to a backup only when the primary refuses or gives up", set->str,
            strchr (set->str, ',') ? "" : "s"), (NULL));
}

static gboolean
start_session (GstSttEngine * e)
{
  GstSttSettings config;
  gboolean live = query_live (e);
  g_autofree gchar *spool_dir = NULL;
  guint64 spool_max_bytes;
  gint64 duration = -1;
  guint64 capacity;

  /* A file's length, for progress in stt-stats. */
  if (!live && !gst_pad_peer_query_duration (e->sinkpad, GST_FORMAT_TIME, &duration))
    duration = -1;
  GST_OBJECT_LOCK (e->element);
  e->live = live;
  e->duration = duration > 0 ? (GstClockTime) duration : GST_CLOCK_TIME_NONE;
  e->started = g_get_monotonic_time ();
  e->progress_tenth = 0;
  gst_stt_settings_copy (&config, &e->set);
  config.provider = e->info;
  config.rate = e->rate;
  config.live = live;
  capacity = gst_util_uint64_scale (e->set.max_buffer_time, e->rate, GST_SECOND);
  spool_dir = e->set.spool_dir && *e->set.spool_dir ? g_strdup (e->set.spool_dir) :
      g_build_filename (g_get_user_cache_dir (), "gst-stt", NULL);
  spool_max_bytes = e->set.spool_max_bytes;
  GST_OBJECT_UNLOCK (e->element);

  if (!live)
    warn_live_only (e);
  /* The ring is sized when the stream starts, with the max-buffer-time of then. A
   * flush or state change already under way keeps it flushing. */
  /* A spool that cannot be written is said now, not when an outage needs it. */
  if (live && spool_max_bytes > 0 && (g_mkdir_with_parents (spool_dir, 0700) != 0
          || g_access (spool_dir, W_OK) != 0)) {
    gint err = errno;

    GST_ELEMENT_WARNING (e->element, RESOURCE, OPEN_WRITE, ("spool-dir %s cannot be "
            "written (%s): in an outage longer than max-buffer-time the oldest audio "
            "will be dropped", spool_dir, g_strerror (err)), (NULL));
  }
  g_mutex_lock (&e->drain_lock);
  if (e->ring == NULL) {
    e->ring = gst_stt_ring_new (2, capacity);
    /* Non-live input is read faster than any service transcribes it, so its ring fills
     * to the capacity: allocate that at once rather than through every size on the way
     * (each growth copies what is held into fresh memory, page faults included). */
    if (!live)
      gst_stt_ring_reserve (e->ring);
    /* Only live input lets audio go: non-live input waits for room instead. */
    if (live && spool_max_bytes > 0)
      gst_stt_ring_set_spool (e->ring, gst_stt_spool_new (spool_dir, spool_max_bytes, 2));
  }
  update_ring_flushing_locked (e);
  g_mutex_unlock (&e->drain_lock);

  GST_INFO_OBJECT (e->element, "starting %s session, %s input, %u Hz", e->info->name,
      live ? "live" : "non-live", e->rate);
  e->session = gst_stt_session_new (&config, e->ring, e->timeline, e->stats,
      &session_callbacks, e, GST_OBJECT (e->element));
  gst_stt_session_start (e->session);
  return TRUE;
}

/* Stops and frees the session; the ring and timeline start over. Streaming thread or
 * state change (pads deactivated). */
static void
stop_session (GstSttEngine * e)
{
  if (e->session) {
    gst_stt_session_stop (e->session);
    g_clear_pointer (&e->session, gst_stt_session_unref);
  }
}

/* Call with the session stopped or never started. */
static void
free_ring (GstSttEngine * e)
{
  g_mutex_lock (&e->drain_lock);
  g_clear_pointer (&e->ring, gst_stt_ring_free);
  g_mutex_unlock (&e->drain_lock);
}

static void
free_stream (GstSttEngine * e)
{
  stop_session (e);
  g_clear_pointer (&e->converter, gst_audio_converter_free);
  free_ring (e);
  g_clear_pointer (&e->timeline, gst_stt_timeline_free);
  g_clear_pointer (&e->convbuf, g_free);
  e->convbuf_size = 0;
  g_byte_array_set_size (e->pending, 0);
  e->written = 0;
  e->overflow = 0;
  e->spooling = 0;
  gst_audio_info_init (&e->in_info);
  GST_OBJECT_LOCK (e->element);
  e->input_end = GST_CLOCK_TIME_NONE;
  e->committed_time = GST_CLOCK_TIME_NONE;
  e->promised_time = GST_CLOCK_TIME_NONE;
  e->duration = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (e->element);
  g_mutex_lock (&e->drain_lock);
  e->drained = FALSE;
  e->failed = FALSE;
  g_mutex_unlock (&e->drain_lock);
}

/* Resolves the provider and wire rate, creates the timeline. Streaming thread. */
static gboolean
ensure_stream (GstSttEngine * e)
{
  g_autofree gchar *provider = NULL;
  guint rate;

  if (e->timeline)
    return TRUE;
  GST_OBJECT_LOCK (e->element);
  provider = g_strdup (e->set.provider_name);
  rate = e->set.sample_rate;
  GST_OBJECT_UNLOCK (e->element);

  e->info = stt_provider_lookup (provider);
  if (e->info == NULL) {
    g_autofree gchar *known = g_strjoinv (", ", (gchar **) stt_provider_names ());
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("Unknown provider '%s'",
            provider), ("known providers: %s", known));
    return FALSE;
  }
  e->rate = rate ? rate : e->info->default_rate;
  e->timeline = gst_stt_timeline_new (e->rate);
  return TRUE;
}

static void
drain_converter (GstSttEngine * e);

gboolean
gst_stt_engine_set_caps (GstSttEngine * e, GstCaps * caps)
{
  GstAudioInfo in, out;

  if (!gst_audio_info_from_caps (&in, caps))
    goto invalid_caps;
  if (!ensure_stream (e))
    return FALSE;
  if (e->converter && gst_audio_info_is_equal (&in, &e->in_info))
    return TRUE;

  /* Caps changed mid-stream: what the old converter holds belongs to the old format (a
   * few pending input frames of it are dropped). */
  if (e->converter)
    drain_converter (e);
  g_byte_array_set_size (e->pending, 0);
  g_clear_pointer (&e->converter, gst_audio_converter_free);

  gst_audio_info_set_format (&out, GST_AUDIO_FORMAT_S16LE, e->rate, 1, NULL);
  e->converter = gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE, &in, &out,
      NULL);
  if (e->converter == NULL)
    goto no_converter;
  e->in_info = in;
  GST_INFO_OBJECT (e->element, "converting %s %d Hz %d ch to S16LE %u Hz mono%s",
      gst_audio_format_to_string (GST_AUDIO_INFO_FORMAT (&in)), GST_AUDIO_INFO_RATE (&in),
      GST_AUDIO_INFO_CHANNELS (&in), e->rate,
      gst_audio_converter_is_passthrough (e->converter) ? " (passthrough)" : "");
  return TRUE;

  /* ERRORS */
invalid_caps:
  {
    GST_ELEMENT_ERROR (e->element, STREAM, FORMAT, (NULL), ("invalid caps %"
            GST_PTR_FORMAT, caps));
    return FALSE;
  }
no_converter:
  {
    GST_ELEMENT_ERROR (e->element, CORE, NEGOTIATION, (NULL),
        ("cannot convert %" GST_PTR_FORMAT " to S16LE mono", caps));
    return FALSE;
  }
}

static gboolean
is_failed (GstSttEngine * e)
{
  gboolean failed;

  g_mutex_lock (&e->drain_lock);
  failed = e->failed;
  g_mutex_unlock (&e->drain_lock);
  return failed;
}

/* A wait of the streaming thread ended without what it waited for: a failure is an
 * error; a flush or state change asks the element whether to wait on (GST_FLOW_OK). */
static GstFlowReturn
interrupted (GstSttEngine * e)
{
  if (is_failed (e))
    return GST_FLOW_ERROR;
  if (e->cb.interrupted == NULL)
    return GST_FLOW_FLUSHING;
  return e->cb.interrupted (e->element);
}

/* Appends converted audio to the ring. Streaming thread. */
static GstFlowReturn
write_ring (GstSttEngine * e, const guint8 * data, gsize frames)
{
  guint64 dropped = 0, spooled = 0, start, before, after, room;
  gboolean live;
  GstFlowReturn ret;

  if (frames == 0)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK (e->element);
  live = e->live;
  GST_OBJECT_UNLOCK (e->element);

  gst_stt_ring_get_range (e->ring, &start, &before);
  room = gst_stt_ring_get_capacity (e->ring) - (before - start);
  if (!live && frames > room && e->session) {
    /* This write fills the ring and then waits for room. The session looks at the ring
     * only when woken, and a writer waiting for room cannot wake it: fill the ring to
     * the brim first and wake it, so that it sends all of it and asks the service for
     * the finals that make room. (Room there is, so this does not wait.) */
    if (room > 0 && gst_stt_ring_write (e->ring, data, room, TRUE,
            g_get_monotonic_time (), NULL, NULL)) {
      e->written += room;
      data += room * 2;
      frames -= room;
      before += room;
    }
    gst_stt_session_wake (e->session);
  }
  while (!gst_stt_ring_write (e->ring, data, frames, !live, g_get_monotonic_time (),
          &dropped, &spooled)) {
    /* Interrupted while waiting for room, part of it written (only this thread writes,
     * so the ring's end says how much): the rest follows if the element goes on. */
    gst_stt_ring_get_range (e->ring, NULL, &after);
    e->written += after - before;
    data += (after - before) * 2;
    frames -= after - before;
    before = after;
    if ((ret = interrupted (e)) != GST_FLOW_OK)
      return ret;
  }
  e->written += frames;
  if (spooled) {
    gst_stt_stats_add (e->stats, GST_STT_STAT_SAMPLES_SPOOLED, spooled);
    if (e->spooling == 0)
      GST_INFO_OBJECT (e->element, "replay ring full (max-buffer-time): the oldest audio "
          "goes to the spool until the service catches up");
    e->spooling += spooled;
  } else if (e->spooling && !dropped) {
    GST_INFO_OBJECT (e->element, "spooling over: %" GST_TIME_FORMAT " of audio spooled",
        GST_TIME_ARGS (gst_util_uint64_scale_int (e->spooling, GST_SECOND, e->rate)));
    e->spooling = 0;
  }
  if (dropped) {
    gst_stt_stats_add (e->stats, GST_STT_STAT_SAMPLES_DROPPED, dropped);
    /* One warning per overflow, not one per buffer. */
    if (e->overflow == 0)
      GST_WARNING_OBJECT (e->element, "replay ring full (max-buffer-time): dropping the "
          "oldest audio until the service catches up");
    e->overflow += dropped;
  } else if (e->overflow) {
    GST_WARNING_OBJECT (e->element, "replay ring overflow over: %" GST_TIME_FORMAT
        " of audio dropped", GST_TIME_ARGS (gst_util_uint64_scale_int (e->overflow,
                GST_SECOND, e->rate)));
    e->overflow = 0;
  }
  if (e->session)
    gst_stt_session_wake (e->session);
  return GST_FLOW_OK;
}

static guint8 *
ensure_convbuf (GstSttEngine * e, gsize frames)
{
  if (e->convbuf_size < frames * 2) {
    e->convbuf_size = frames * 2;
    e->convbuf = g_realloc (e->convbuf, e->convbuf_size);
  }
  return e->convbuf;
}

static void
drain_converter (GstSttEngine * e)
{
  gsize in = gst_audio_converter_get_max_latency (e->converter);
  gsize out;
  gpointer outp[1];

  if (in == 0 || e->ring == NULL)
    return;
  out = gst_audio_converter_get_out_frames (e->converter, in);
  if (out == 0)
    return;
  outp[0] = ensure_convbuf (e, out);
  if (gst_audio_converter_samples (e->converter, GST_AUDIO_CONVERTER_FLAG_NONE, NULL,
          in, outp, out))
    write_ring (e, e->convbuf, out);
}

GstFlowReturn
gst_stt_engine_render (GstSttEngine * e, GstBuffer * buf)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;
  gsize in_frames, out_frames;
  GstClockTime pts = GST_BUFFER_PTS (buf);

  if (is_failed (e))
    goto failed;
  if (e->converter == NULL)
    goto not_negotiated;
  if (e->session == NULL && !start_session (e))
    goto failed;

  /* Untimestamped input: the first buffer is at the segment's start, the rest follow
   * by sample count. */
  if (!GST_CLOCK_TIME_IS_VALID (pts)
      && gst_stt_timeline_get_n_anchors (e->timeline) == 0) {
    GST_OBJECT_LOCK (e->element);
    pts = e->segment.format == GST_FORMAT_TIME ? e->segment.start : 0;
    GST_OBJECT_UNLOCK (e->element);
  }
  gst_stt_timeline_observe (e->timeline, e->written, pts,
      GST_BUFFER_IS_DISCONT (buf));

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    goto map_failed;
  in_frames = map.size / GST_AUDIO_INFO_BPF (&e->in_info);
  if (gst_audio_converter_is_passthrough (e->converter)) {
    ret = write_ring (e, map.data, in_frames);
  } else {
    const guint8 *data = map.data;
    gpointer in[1], out[1];

    /* A buffer too small to give one output frame (a few samples at a high rate) is
     * kept and put in front of the next one: the resampler cannot take it alone. */
    if (e->pending->len > 0) {
      g_byte_array_append (e->pending, map.data, in_frames *
          GST_AUDIO_INFO_BPF (&e->in_info));
      data = e->pending->data;
      in_frames = e->pending->len / GST_AUDIO_INFO_BPF (&e->in_info);
    }
    out_frames = gst_audio_converter_get_out_frames (e->converter, in_frames);
    if (out_frames == 0) {
      if (data == map.data)
        g_byte_array_append (e->pending, map.data, in_frames *
            GST_AUDIO_INFO_BPF (&e->in_info));
    } else {
      in[0] = (gpointer) data;
      out[0] = ensure_convbuf (e, out_frames);
      if (gst_audio_converter_samples (e->converter, GST_AUDIO_CONVERTER_FLAG_NONE, in,
              in_frames, out, out_frames))
        ret = write_ring (e, e->convbuf, out_frames);
      g_byte_array_set_size (e->pending, 0);
    }
  }
  gst_buffer_unmap (buf, &map);

  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    GstClockTime end = pts + gst_util_uint64_scale_int (in_frames, GST_SECOND,
        GST_AUDIO_INFO_RATE (&e->in_info));

    GST_OBJECT_LOCK (e->element);
    e->input_end = end;
    GST_OBJECT_UNLOCK (e->element);
    position_changed (e);
  }
  return ret;

  /* ERRORS */
failed:
  {
    return GST_FLOW_ERROR;
  }
not_negotiated:
  {
    return GST_FLOW_NOT_NEGOTIATED;
  }
map_failed:
  {
    GST_ELEMENT_ERROR (e->element, RESOURCE, READ, (NULL), ("cannot map input buffer"));
    return GST_FLOW_ERROR;
  }
}

/* End of stream: send the rest and wait until the service has accounted for all of it.
 * The session bounds that wait (drain-timeout makes a silent service a stall,
 * outage-timeout ends the retries, both with a warning naming what was lost); a flush or
 * a state change to READY ends it at once (the interrupted callback may wait on). */
static void
drain (GstSttEngine * e)
{
  gboolean stop = TRUE;

  if (e->session == NULL)
    return;
  if (e->converter && !gst_audio_converter_is_passthrough (e->converter))
    drain_converter (e);

  g_mutex_lock (&e->drain_lock);
  e->drained = FALSE;
  g_mutex_unlock (&e->drain_lock);
  gst_stt_session_drain (e->session);

  g_mutex_lock (&e->drain_lock);
  while (!e->drained && !e->failed) {
    GstFlowReturn ret = GST_FLOW_FLUSHING;

    if (!e->flushing) {
      g_cond_wait (&e->drain_cond, &e->drain_lock);
      continue;
    }
    g_mutex_unlock (&e->drain_lock);
    if (e->cb.interrupted)
      ret = e->cb.interrupted (e->element);
    g_mutex_lock (&e->drain_lock);
    if (ret != GST_FLOW_OK) {
      stop = FALSE;
      break;
    }
    if (e->flushing)
      g_cond_wait (&e->drain_cond, &e->drain_lock);
  }
  if (e->flushing)
    stop = FALSE;
  g_mutex_unlock (&e->drain_lock);
  /* Nothing may arrive after EOS. A flush or a state change stops the session itself:
   * waiting here for the I/O thread could deadlock with a state change made on it (a
   * bus sync handler). */
  if (stop)
    stop_session (e);
}

/* A flush starts the stream over: new connection, new timeline. */
static void
flush_stop (GstSttEngine * e)
{
  stop_session (e);
  if (e->converter)
    gst_audio_converter_reset (e->converter);
  free_ring (e);
  if (e->timeline)
    gst_stt_timeline_reset (e->timeline);
  e->written = 0;
  GST_OBJECT_LOCK (e->element);
  e->committed_time = GST_CLOCK_TIME_NONE;
  e->promised_time = GST_CLOCK_TIME_NONE;
  e->input_end = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (e->element);
  g_mutex_lock (&e->drain_lock);
  e->flushing = FALSE;
  e->failed = FALSE;
  g_cond_broadcast (&e->drain_cond);
  g_mutex_unlock (&e->drain_lock);
}

void
gst_stt_engine_event (GstSttEngine * e, GstEvent * event)
{
  GST_LOG_OBJECT (e->element, "event %" GST_PTR_FORMAT, event);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_SEGMENT:
      GST_OBJECT_LOCK (e->element);
      gst_event_copy_segment (event, &e->segment);
      GST_OBJECT_UNLOCK (e->element);
      break;
    case GST_EVENT_GAP:{
      GstClockTime ts, dur;

      /* No audio for a while: the next buffer's timestamp anchors the timeline. */
      gst_event_parse_gap (event, &ts, &dur);
      if (GST_CLOCK_TIME_IS_VALID (ts)) {
        GST_OBJECT_LOCK (e->element);
        e->input_end = ts + (GST_CLOCK_TIME_IS_VALID (dur) ? dur : 0);
        GST_OBJECT_UNLOCK (e->element);
        position_changed (e);
      }
      break;
    }
    case GST_EVENT_EOS:
      drain (e);
      break;
    case GST_EVENT_FLUSH_START:
      gst_stt_engine_set_flushing (e, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
      flush_stop (e);
      break;
    default:
      break;
  }
}

void
gst_stt_engine_set_flushing (GstSttEngine * e, gboolean flushing)
{
  g_mutex_lock (&e->drain_lock);
  e->flushing = flushing;
  g_cond_broadcast (&e->drain_cond);
  update_ring_flushing_locked (e);
  g_mutex_unlock (&e->drain_lock);
}

/* ------------------------------------------------------------------------------------ */

GstClockTime
gst_stt_engine_get_safe_position (GstSttEngine * e)
{
  GstClockTime pos;

  GST_OBJECT_LOCK (e->element);
  pos = e->committed_time;
  /* Live: also as far as `latency` allows, but never past what the service can still
   * be vouched for (a stalled, dropped or replaying connection, an open segment). */
  if (e->live && GST_CLOCK_TIME_IS_VALID (e->input_end)
      && e->input_end > e->set.latency && GST_CLOCK_TIME_IS_VALID (e->promised_time)) {
    GstClockTime p = MIN (e->input_end - e->set.latency, e->promised_time);
    if (!GST_CLOCK_TIME_IS_VALID (pos) || p > pos)
      pos = p;
  }
  GST_OBJECT_UNLOCK (e->element);
  return pos;
}

gboolean
gst_stt_engine_is_live (GstSttEngine * e)
{
  gboolean live;

  GST_OBJECT_LOCK (e->element);
  live = e->live;
  GST_OBJECT_UNLOCK (e->element);
  return live;
}

GstClockTime
gst_stt_engine_get_latency (GstSttEngine * e)
{
  GstClockTime l;

  GST_OBJECT_LOCK (e->element);
  l = e->set.latency;
  GST_OBJECT_UNLOCK (e->element);
  return l;
}

GstClockTime
gst_stt_engine_get_lateness (GstSttEngine * e)
{
  GstClockTime l;

  GST_OBJECT_LOCK (e->element);
  l = e->set.lateness;
  GST_OBJECT_UNLOCK (e->element);
  return l;
}

GstClockTime
gst_stt_engine_observe_delay (GstSttEngine * e, GstClockTime pts)
{
  GstClockTime delay = 0;
  gboolean notify = FALSE;

  GST_OBJECT_LOCK (e->element);
  if (e->live && GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (e->input_end)
      && e->input_end > pts) {
    delay = e->input_end - pts;
    if (delay > e->max_observed_delay) {
      e->max_observed_delay = delay;
      notify = TRUE;
    }
  }
  GST_OBJECT_UNLOCK (e->element);
  if (notify)
    g_object_notify (G_OBJECT (e->element), "max-observed-delay");
  return delay;
}

GstSttStats *
gst_stt_engine_get_stats (GstSttEngine * e)
{
  return e->stats;
}

/* Posts @err as the element's error (with the provider in the details) and frees it. */
static void
post_settings_error (GstSttEngine * e, const SttProviderInfo * info, GError * err)
{
  gst_element_message_full_with_details (e->element, GST_MESSAGE_ERROR,
      err->domain, err->code, g_strdup (err->message), NULL, __FILE__, GST_FUNCTION,
      __LINE__, gst_structure_new ("details", "provider", G_TYPE_STRING,
          info ? info->name : "", NULL));
  g_error_free (err);
}

/* check_settings() for AWS credentials: a complete key pair somewhere in the chain, and
 * a region unless the url names the service's host. */
static gboolean
check_aws_settings (GstSttEngine * e, const SttProviderInfo * info, const gchar * url)
{
  GstSttAwsCredentials creds;
  g_autofree gchar *access_key = NULL, *secret = NULL, *token = NULL, *region = NULL;
  GError *err = NULL;
  gboolean ok;

  GST_OBJECT_LOCK (e->element);
  access_key = g_strdup (e->set.access_key);
  secret = g_strdup (e->set.secret_access_key);
  token = g_strdup (e->set.session_token);
  region = g_strdup (e->set.region);
  GST_OBJECT_UNLOCK (e->element);
  ok = gst_stt_aws_credentials_resolve (access_key, secret, token, region, &creds, &err);
  if (secret)
    memset (secret, 0, strlen (secret));
  if (token)
    memset (token, 0, strlen (token));
  if (!ok) {
    post_settings_error (e, info, err);
    return FALSE;
  }
  if (creds.region == NULL && (url == NULL || strstr (url, "transcribestreaming.") == NULL)) {
    gst_stt_aws_credentials_clear (&creds);
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("No AWS region: set region, "
            "$AWS_REGION or a region in the AWS profile"), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (e->element, "AWS credentials from %s, region %s", creds.source,
      GST_STR_NULL (creds.region));
  gst_stt_aws_credentials_clear (&creds);
  return TRUE;
}

/* check_settings() for signed tokens (token-secret or token-secret-file set): not with
 * token-url, a readable secret file, claims JSON can carry. api-key, api-key-file and the
 * claims the element sets itself are ignored, with a warning. */
static gboolean
check_signed_token_settings (GstSttEngine * e, const SttProviderInfo * info,
    const gchar * url, const gchar * token_url, gboolean secret_set,
    const gchar * secret_file, const GstStructure * claims, const gchar * key,
    const gchar * key_file)
{
  g_autoptr (JsonObject) json = NULL;
  const gchar *bad = NULL;
  GError *err = NULL;
  gchar *secret;
  guint i;

  if (token_url && *token_url) {
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("token-secret and token-url "
            "cannot be used together: set token-secret (or token-secret-file) to sign "
            "tokens here, or token-url to fetch them from a token service"), (NULL));
    return FALSE;
  }
  if (!secret_set) {
    secret = gst_stt_session_resolve_secret (NULL, secret_file, &err);
    if (secret == NULL) {
      post_settings_error (e, info, err);
      return FALSE;
    }
    memset (secret, 0, strlen (secret));
    g_free (secret);
  }
  json = gst_stt_jwt_claims_from_structure (claims, &bad);
  if (claims && json == NULL) {
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("token-claims field '%s' is of "
            "type %s: claims are strings, integers, doubles or booleans", bad,
            g_type_name (gst_structure_get_field_type (claims, bad))), (NULL));
    return FALSE;
  }
  for (i = 0; claims && i < (guint) gst_structure_n_fields (claims); i++) {
    const gchar *name = gst_structure_nth_field_name (claims, i);

    if (gst_stt_jwt_is_reserved_claim (name))
      GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("token-claims field '%s' is "
              "ignored: every signed token gets iat (now), exp (iat + token-lifetime) "
              "and jti (unique) from the element", name), (NULL));
  }
  if ((key && *key) || (key_file && *key_file))
    GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("%s is ignored: with "
            "token-secret every connection uses a signed token instead",
            key && *key ? "api-key" : "api-key-file"), (NULL));
  GST_DEBUG_OBJECT (e->element, "signed tokens for %s%s", info->display_name,
      url && strstr (url, GST_STT_TOKEN_PLACEHOLDER) ? ", in the URL template" : "");
  return TRUE;
}

/* Settings that cannot work are said at start, before any connection: an unknown
 * provider, a URL that is not one, an unreadable key file, no key for a service that
 * needs one, a ring smaller than a chunk. What works but is unsafe or ignored is a
 * warning: credentials in cleartext, no TLS validation, a setting the protocol cannot
 * carry. */
static gboolean
check_target (GstSttEngine * e, const GstSttSettings * set)
{
  static const gchar *const ws_schemes[] = { "wss", "ws", "https", "http", NULL };
  static const gchar *const http_schemes[] = { "https", "http", NULL };
  const gchar *provider = set->provider_name, *key = set->api_key;
  const gchar *key_file = set->api_key_file, *token_url = set->token_url;
  const gchar *language = set->language, *url = set->url, *model = set->model;
  const gchar *secret_file = set->token_secret_file;
  const GstStructure *claims = set->token_claims;
  GstClockTime ring = set->max_buffer_time, chunk = set->chunk_duration;
  gboolean tls_validate = set->tls_validate, url_clear = FALSE, token_clear = FALSE;
  gboolean secret_set = set->token_secret && *set->token_secret;
  g_autofree gchar *found = NULL;
  const SttProviderInfo *info;
  GError *err = NULL;

  info = stt_provider_lookup (provider);
  if (info == NULL) {
    g_autofree gchar *known = g_strjoinv (", ", (gchar **) stt_provider_names ());
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("Unknown provider '%s'",
            provider), ("known providers: %s", known));
    return FALSE;
  }
  if (!gst_stt_session_check_url ("url", url, ws_schemes, &url_clear, &err)
      || !gst_stt_session_check_url ("token-url", token_url, http_schemes, &token_clear,
          &err)) {
    post_settings_error (e, info, err);
    return FALSE;
  }
  if (ring < chunk) {
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("max-buffer-time (%"
            GST_TIME_FORMAT ") is shorter than chunk-duration (%" GST_TIME_FORMAT "): the "
            "replay ring must hold at least one chunk", GST_TIME_ARGS (ring),
            GST_TIME_ARGS (chunk)), (NULL));
    return FALSE;
  }
  if (info->aws_credentials && (secret_set || (secret_file && *secret_file)
          || (token_url && *token_url))) {
    /* The request is signed with the key pair: a token would stand for nothing. */
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("%s signs each connection with "
            "AWS credentials: %s does not apply (set access-key and secret-access-key, "
            "or use the AWS environment or profile)", info->display_name,
            token_url && *token_url ? "token-url" : "token-secret"), (NULL));
    return FALSE;
  }
  if (secret_set || (secret_file && *secret_file)) {
    if (!check_signed_token_settings (e, info, url, token_url, secret_set, secret_file,
            claims, key, key_file))
      return FALSE;
    /* The signed token stands for the key: api-key and the environment are not read. */
    found = g_strdup ("");
  } else if (url && strstr (url, GST_STT_TOKEN_PLACEHOLDER)
      && (token_url == NULL || *token_url == '\0')) {
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("url contains %s but no token "
            "is made or fetched: set token-secret (or token-secret-file) or token-url",
            GST_STT_TOKEN_PLACEHOLDER), (NULL));
    return FALSE;
  } else if (info->aws_credentials) {
    if ((key && *key) || (key_file && *key_file))
      GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("%s takes AWS credentials: "
              "%s is ignored (set access-key and secret-access-key)", info->display_name,
              key && *key ? "api-key" : "api-key-file"), (NULL));
    if (!check_aws_settings (e, info, url))
      return FALSE;
    found = g_strdup ("");
  } else {
    found = gst_stt_session_resolve_key (info, key, key_file, &err);
  }
  /* With token-url the token service decides what it needs. */
  if (err && (token_url == NULL || *token_url == '\0'
          || err->code == GST_RESOURCE_ERROR_NOT_FOUND)) {
    post_settings_error (e, info, err);
    return FALSE;
  }
  g_clear_error (&err);
  if ((found && url_clear) || token_clear)
    GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("Credentials for %s will "
            "travel in cleartext (%s is ws:// or http:// to another machine): use wss:// "
            "or https://", info->display_name, token_clear ? "token-url" : "url"), (NULL));
  if (found)
    memset (found, 0, strlen (found));
  if (!tls_validate)
    GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("tls-validate=false: the "
            "server's certificate is not checked, anyone on the path can read the audio "
            "and the credentials"), (NULL));
  if (model && *model && info->no_model)
    GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("%s has no model setting: "
            "model=%s is ignored", info->display_name, model), (NULL));
  if (language && *language && info->no_language)
    GST_ELEMENT_WARNING (e->element, RESOURCE, SETTINGS, ("%s has no language setting: "
            "language-code=%s is ignored (the server's model decides)", info->display_name,
            language), (NULL));
  return TRUE;
}

/* Every target: the primary, then each backup as it will run (the primary's settings
 * with its own where and how). A copy of the settings, so no lock is held while files
 * are read. */
static gboolean
check_settings (GstSttEngine * e)
{
  GstSttSettings primary;
  gboolean ok;
  guint i;

  GST_OBJECT_LOCK (e->element);
  gst_stt_settings_copy (&primary, &e->set);
  GST_OBJECT_UNLOCK (e->element);
  ok = check_target (e, &primary);
  for (i = 0; ok && primary.backups && i < primary.backups->len; i++) {
    GstSttSettings backup;
    GError *err = NULL;

    if (!gst_stt_settings_for_backup (&backup, &primary,
            g_ptr_array_index (primary.backups, i), &err)) {
      GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("%s", err->message), (NULL));
      g_error_free (err);
      ok = FALSE;
      break;
    }
    ok = check_target (e, &backup);
    gst_stt_settings_clear (&backup);
  }
  gst_stt_settings_clear (&primary);
  return ok;
}

gboolean
gst_stt_engine_start (GstSttEngine * e)
{
  if (!check_settings (e))
    return FALSE;
  gst_stt_stats_reset (e->stats);
  GST_OBJECT_LOCK (e->element);
  e->max_observed_delay = 0;
  GST_OBJECT_UNLOCK (e->element);
  gst_segment_init (&e->segment, GST_FORMAT_TIME);
  gst_stt_engine_set_flushing (e, FALSE);
  return TRUE;
}

void
gst_stt_engine_stop (GstSttEngine * e)
{
  free_stream (e);
}

/* ------------------------------------------------------------------------------------ */
/* Properties */

gboolean
gst_stt_engine_set_property (GstSttEngine * e, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  if (prop_id >= gst_stt_settings_n_properties ())
    return FALSE;
  GST_OBJECT_LOCK (e->element);
  gst_stt_settings_set_property (&e->set, prop_id, value);
  GST_OBJECT_UNLOCK (e->element);
  return TRUE;
}

gboolean
gst_stt_engine_get_property (GstSttEngine * e, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  guint n = gst_stt_settings_n_properties ();

  if (prop_id < n) {
    GST_OBJECT_LOCK (e->element);
    gst_stt_settings_get_property (&e->set, prop_id, value);
    GST_OBJECT_UNLOCK (e->element);
    return TRUE;
  }
  switch (prop_id - n) {
    case PROP_STATS:
      /* Built outside the object lock: the stats have their own. */
      g_value_take_boxed (value, gst_stt_stats_to_structure (e->stats,
              e->info ? e->info->name : e->set.provider_name, e->rate ? e->rate : 16000));
      return TRUE;
    case PROP_MAX_OBSERVED_DELAY:
      GST_OBJECT_LOCK (e->element);
      g_value_set_uint (value, MIN (e->max_observed_delay / GST_MSECOND, G_MAXUINT));
      GST_OBJECT_UNLOCK (e->element);
      return TRUE;
    default:
      return FALSE;
  }
}

GstSttEngine *
gst_stt_engine_new (GstElement * element, GstPad * sinkpad,
    const GstSttEngineCallbacks * callbacks)
{
  GstSttEngine *e = g_new0 (GstSttEngine, 1);

  e->element = element;
  e->sinkpad = sinkpad;
  if (callbacks)
    e->cb = *callbacks;
  gst_stt_settings_init (&e->set);
  e->stats = gst_stt_stats_new ();
  e->pending = g_byte_array_new ();
  e->input_end = GST_CLOCK_TIME_NONE;
  e->committed_time = GST_CLOCK_TIME_NONE;
  e->promised_time = GST_CLOCK_TIME_NONE;
  e->duration = GST_CLOCK_TIME_NONE;
  g_mutex_init (&e->drain_lock);
  g_cond_init (&e->drain_cond);
  gst_audio_info_init (&e->in_info);
  gst_segment_init (&e->segment, GST_FORMAT_TIME);
  return e;
}

void
gst_stt_engine_free (GstSttEngine * e)
{
  if (e == NULL)
    return;
  free_stream (e);
  gst_stt_settings_clear (&e->set);
  gst_stt_stats_free (e->stats);
  g_byte_array_unref (e->pending);
  g_mutex_clear (&e->drain_lock);
  g_cond_clear (&e->drain_cond);
  g_free (e);
}

void
gst_stt_engine_add_pad_template (GstElementClass * klass)
{
  gst_element_class_add_static_pad_template (klass, &sink_template);
}

/* One table of properties for every element that embeds the engine: the settings'
 * (gststtsettings.c), then the engine's read-only figures. */
guint
gst_stt_engine_install_properties (GObjectClass * gobject_class, guint first_id)
{
  guint id;

  /* Class init of the first element that embeds the engine: before any engine runs. */
  GST_DEBUG_CATEGORY_INIT (stt_engine_debug, "sttengine", 0, "speech-to-text engine");

  id = gst_stt_settings_install_properties (gobject_class, first_id);
  g_object_class_install_property (gobject_class, id + PROP_MAX_OBSERVED_DELAY,
      g_param_spec_uint ("max-observed-delay", "Max observed delay", "Live input: the "
          "largest delay seen, in milliseconds, between the newest audio and the start of "
          "text as it became available (to compare with latency + lateness)", 0, G_MAXUINT,
          0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, id + PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics", "Current statistics (the fields of the "
          "stt-stats message)", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  return id + N_OWN_PROPS;
}
