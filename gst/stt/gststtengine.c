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

#include <math.h>
#include <string.h>

#include "gststtengine.h"
#include "gststtring.h"
#include "gststttimeline.h"
#include "gststtsession.h"
#include "gststtmessage.h"
#include "gststtjwt.h"
#include "sttprovider.h"
#include "gststtawscreds.h"

/* Wipes and frees a string that holds a credential. */
static void
wipe_free (gchar * secret)
{
  if (secret) {
    memset (secret, 0, strlen (secret));
    g_free (secret);
  }
}

GST_DEBUG_CATEGORY_STATIC (stt_engine_debug);
#define GST_CAT_DEFAULT stt_engine_debug

#define DEFAULT_PROVIDER "vosk"
#define DEFAULT_URL NULL
#define DEFAULT_API_KEY NULL
#define DEFAULT_API_KEY_FILE NULL
#define DEFAULT_LANGUAGE NULL
#define DEFAULT_MODEL NULL
#define DEFAULT_SAMPLE_RATE 0
#define DEFAULT_CHUNK_DURATION (100 * GST_MSECOND)
#define DEFAULT_INTERIM_RESULTS TRUE
#define DEFAULT_LATENCY_MS 3000
#define DEFAULT_LATENESS_MS 0
#define MAX_LATENCY_MS 600000
#define DEFAULT_MAX_BUFFER_TIME (60 * GST_SECOND)
#define DEFAULT_RECONNECT_MAX_ATTEMPTS -1
#define DEFAULT_RECONNECT_INITIAL_DELAY (500 * GST_MSECOND)
#define DEFAULT_RECONNECT_MAX_DELAY (30 * GST_SECOND)
#define DEFAULT_KEEPALIVE_INTERVAL (5 * GST_SECOND)
#define DEFAULT_STALL_TIMEOUT (15 * GST_SECOND)
#define DEFAULT_DRAIN_TIMEOUT (10 * GST_SECOND)
#define DEFAULT_OUTAGE_TIMEOUT (120 * GST_SECOND)
#define DEFAULT_PACING GST_STT_PACING_AUTO
#define DEFAULT_STATS_INTERVAL (10 * GST_SECOND)
#define DEFAULT_TLS_VALIDATE TRUE
#define DEFAULT_TOKEN_METHOD "POST"
#define DEFAULT_MAX_SESSION_DURATION 0
#define DEFAULT_TOKEN_LIFETIME 300

/* Property ids relative to the element's first engine property; the order is the
 * order gst-inspect-1.0 lists them in. */
enum
{
  PROP_PROVIDER,
  PROP_URL,
  PROP_API_KEY,
  PROP_API_KEY_FILE,
  PROP_LANGUAGE,
  PROP_MODEL,
  PROP_SAMPLE_RATE,
  PROP_CHUNK_DURATION,
  PROP_INTERIM_RESULTS,
  PROP_LATENCY,
  PROP_MAX_BUFFER_TIME,
  PROP_RECONNECT_MAX_ATTEMPTS,
  PROP_RECONNECT_INITIAL_DELAY,
  PROP_RECONNECT_MAX_DELAY,
  PROP_KEEPALIVE_INTERVAL,
  PROP_STALL_TIMEOUT,
  PROP_DRAIN_TIMEOUT,
  PROP_PACING,
  PROP_STATS_INTERVAL,
  PROP_STATS,
  PROP_TLS_CA_FILE,
  PROP_TLS_VALIDATE,
  PROP_EXTRA_HEADERS,
  PROP_PARAMS,
  PROP_TOKEN_URL,
  PROP_TOKEN_METHOD,
  PROP_TOKEN_HEADERS,
  PROP_TOKEN_FIELD,
  PROP_MAX_SESSION_DURATION,
  PROP_OUTAGE_TIMEOUT,
  PROP_LANGUAGE_CODE,
  PROP_LATENESS,
  PROP_MAX_OBSERVED_DELAY,
  PROP_TOKEN_SECRET,
  PROP_TOKEN_SECRET_FILE,
  PROP_TOKEN_CLAIMS,
  PROP_TOKEN_LIFETIME,
  PROP_ACCESS_KEY,
  PROP_SECRET_ACCESS_KEY,
  PROP_SESSION_TOKEN,
  PROP_REGION,
  PROP_TOKEN_BODY,
  N_PROPS
};

struct _GstSttEngine
{
  GstElement *element;          /* the owner: its object lock guards what says so */
  GstPad *sinkpad;
  GstSttEngineCallbacks cb;

  /* Properties: under the object lock. */
  gchar *provider;
  gchar *url;
  gchar *api_key;
  gchar *api_key_file;
  gchar *language;
  gchar *model;
  guint sample_rate;
  GstClockTime chunk_duration;
  gboolean chunk_duration_set;  /* by the user: no larger frames for files */
  gboolean interim_results;
  GstClockTime latency;
  GstClockTime lateness;
  GstClockTime max_observed_delay;      /* live: see gst_stt_engine_observe_delay */
  GstClockTime max_buffer_time;
  gint reconnect_max_attempts;
  GstClockTime reconnect_initial_delay;
  GstClockTime reconnect_max_delay;
  GstClockTime keepalive_interval;
  GstClockTime stall_timeout;
  GstClockTime drain_timeout;
  GstSttPacing pacing;
  GstClockTime stats_interval;
  gchar *tls_ca_file;
  gboolean tls_validate;
  GstStructure *extra_headers;
  GstStructure *params;
  gchar *token_url;
  gchar *token_method;
  GstStructure *token_headers;
  gchar *token_field;
  gchar *token_body;
  gchar *token_secret;          /* wiped when replaced or freed */
  gchar *token_secret_file;
  /* AWS credentials (provider=aws); the secret and the token are wiped when replaced. */
  gchar *access_key;
  gchar *secret_access_key;
  gchar *session_token;
  gchar *region;
  GstStructure *token_claims;
  guint token_lifetime;         /* seconds */
  GstClockTime max_session_duration;
  GstClockTime outage_timeout;

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

GType
gst_stt_pacing_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_STT_PACING_AUTO, "Let the provider decide (real time only where the service "
          "requires it)", "auto"},
    {GST_STT_PACING_REALTIME, "Never send faster than real time", "realtime"},
    {GST_STT_PACING_NONE, "Send as fast as the service accepts", "none"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSttPacing", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

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
on_connection (GstSttSession * session, const GstSttConnectionInfo * info,
    gpointer user_data)
{
  GstSttEngine *e = user_data;

  gst_element_post_message (e->element,
      gst_message_new_element (GST_OBJECT (e->element),
          gst_stt_message_connection_new (e->info->name, info)));
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

static gboolean
structure_to_strv_cb (GQuark field, const GValue * value, gpointer data)
{
  GPtrArray *arr = data;

  g_ptr_array_add (arr, g_strdup (g_quark_to_string (field)));
  g_ptr_array_add (arr, G_VALUE_HOLDS_STRING (value) ? g_value_dup_string (value) :
      gst_value_serialize (value));
  return TRUE;
}

/* name, value, ..., NULL from a structure's fields, or NULL. */
static gchar **
structure_to_strv (const GstStructure * s)
{
  GPtrArray *kv;

  if (s == NULL)
    return NULL;
  kv = g_ptr_array_new ();
  gst_structure_foreach (s, structure_to_strv_cb, kv);
  g_ptr_array_add (kv, NULL);
  return (gchar **) g_ptr_array_free (kv, FALSE);
}

/* Call with the object lock held. */
static void
build_config (GstSttEngine * e, GstSttSessionConfig * c)
{
  memset (c, 0, sizeof (*c));
  c->provider = e->info;
  c->url = g_strdup (e->url);
  c->api_key = g_strdup (e->api_key);
  c->api_key_file = g_strdup (e->api_key_file);
  c->access_key = g_strdup (e->access_key);
  c->secret_access_key = g_strdup (e->secret_access_key);
  c->session_token = g_strdup (e->session_token);
  c->region = g_strdup (e->region);
  c->language = g_strdup (e->language);
  c->model = g_strdup (e->model);
  if (e->params) {
    GPtrArray *kv = g_ptr_array_new ();
    guint i;

    gst_structure_foreach (e->params, structure_to_strv_cb, kv);
    c->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    for (i = 0; i + 1 < kv->len; i += 2)
      g_hash_table_replace (c->params, kv->pdata[i], kv->pdata[i + 1]);
    g_ptr_array_free (kv, TRUE);
  }
  c->extra_headers = structure_to_strv (e->extra_headers);
  c->token_headers = structure_to_strv (e->token_headers);
  c->token_url = g_strdup (e->token_url);
  c->token_method = g_strdup (e->token_method);
  c->token_field = g_strdup (e->token_field);
  c->token_body = g_strdup (e->token_body);
  c->token_secret = g_strdup (e->token_secret);
  c->token_secret_file = g_strdup (e->token_secret_file);
  /* Checked at start: a bad field cannot be there any more. */
  c->token_claims = gst_stt_jwt_claims_from_structure (e->token_claims, NULL);
  c->token_lifetime = e->token_lifetime;
  c->max_session_duration = e->max_session_duration;
  c->drain_timeout = e->drain_timeout;
  c->outage_timeout = e->outage_timeout;
  c->latency = e->latency;
  c->rate = e->rate;
  c->interim_results = e->interim_results;
  c->live = e->live;
  c->pacing = e->pacing;
  c->chunk_duration = e->chunk_duration;
  c->chunk_auto = !e->chunk_duration_set;
  c->keepalive_interval = e->keepalive_interval;
  c->stall_timeout = e->stall_timeout;
  c->stats_interval = e->stats_interval;
  c->reconnect_max_attempts = e->reconnect_max_attempts;
  c->reconnect_initial_delay = e->reconnect_initial_delay;
  c->reconnect_max_delay = e->reconnect_max_delay;
  c->tls_validate = e->tls_validate;
  c->tls_ca_file = g_strdup (e->tls_ca_file);
}

static gboolean
start_session (GstSttEngine * e)
{
  GstSttSessionConfig config;
  gboolean live = query_live (e);
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
  build_config (e, &config);
  capacity = gst_util_uint64_scale (e->max_buffer_time, e->rate, GST_SECOND);
  GST_OBJECT_UNLOCK (e->element);

  /* The ring is sized when the stream starts, with the max-buffer-time of then. A
   * flush or state change already under way keeps it flushing. */
  g_mutex_lock (&e->drain_lock);
  if (e->ring == NULL)
    e->ring = gst_stt_ring_new (2, capacity);
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
  provider = g_strdup (e->provider);
  rate = e->sample_rate;
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
  guint64 dropped = 0, before, after;
  gboolean live;
  GstFlowReturn ret;

  if (frames == 0)
    return GST_FLOW_OK;
  GST_OBJECT_LOCK (e->element);
  live = e->live;
  GST_OBJECT_UNLOCK (e->element);

  gst_stt_ring_get_range (e->ring, NULL, &before);
  while (!gst_stt_ring_write (e->ring, data, frames, !live, g_get_monotonic_time (),
          &dropped)) {
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
      && e->input_end > e->latency && GST_CLOCK_TIME_IS_VALID (e->promised_time)) {
    GstClockTime p = MIN (e->input_end - e->latency, e->promised_time);
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
  l = e->latency;
  GST_OBJECT_UNLOCK (e->element);
  return l;
}

GstClockTime
gst_stt_engine_get_lateness (GstSttEngine * e)
{
  GstClockTime l;

  GST_OBJECT_LOCK (e->element);
  l = e->lateness;
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
  access_key = g_strdup (e->access_key);
  secret = g_strdup (e->secret_access_key);
  token = g_strdup (e->session_token);
  region = g_strdup (e->region);
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
check_settings (GstSttEngine * e)
{
  static const gchar *const ws_schemes[] = { "wss", "ws", "https", "http", NULL };
  static const gchar *const http_schemes[] = { "https", "http", NULL };
  g_autofree gchar *provider = NULL, *key = NULL, *key_file = NULL, *token_url = NULL;
  g_autofree gchar *language = NULL, *found = NULL, *url = NULL, *model = NULL;
  g_autofree gchar *secret_file = NULL;
  g_autoptr (GstStructure) claims = NULL;
  GstClockTime ring, chunk;
  gboolean tls_validate, url_clear = FALSE, token_clear = FALSE, secret_set;
  const SttProviderInfo *info;
  GError *err = NULL;

  GST_OBJECT_LOCK (e->element);
  provider = g_strdup (e->provider);
  url = g_strdup (e->url);
  key = g_strdup (e->api_key);
  key_file = g_strdup (e->api_key_file);
  token_url = g_strdup (e->token_url);
  secret_set = e->token_secret && *e->token_secret;
  secret_file = g_strdup (e->token_secret_file);
  claims = e->token_claims ? gst_structure_copy (e->token_claims) : NULL;
  language = g_strdup (e->language);
  model = g_strdup (e->model);
  ring = e->max_buffer_time;
  chunk = e->chunk_duration;
  tls_validate = e->tls_validate;
  GST_OBJECT_UNLOCK (e->element);

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
    if (key)
      memset (key, 0, strlen (key));
    return FALSE;
  }
  if (secret_set || (secret_file && *secret_file)) {
    if (!check_signed_token_settings (e, info, url, token_url, secret_set, secret_file,
            claims, key, key_file)) {
      if (key)
        memset (key, 0, strlen (key));
      return FALSE;
    }
    /* The signed token stands for the key: api-key and the environment are not read. */
    found = g_strdup ("");
  } else if (url && strstr (url, GST_STT_TOKEN_PLACEHOLDER)
      && (token_url == NULL || *token_url == '\0')) {
    GST_ELEMENT_ERROR (e->element, RESOURCE, SETTINGS, ("url contains %s but no token "
            "is made or fetched: set token-secret (or token-secret-file) or token-url",
            GST_STT_TOKEN_PLACEHOLDER), (NULL));
    if (key)
      memset (key, 0, strlen (key));
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
  if (key)
    memset (key, 0, strlen (key));
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
  gboolean ok = TRUE;

  if (prop_id >= N_PROPS)
    return FALSE;
  GST_OBJECT_LOCK (e->element);
  switch (prop_id) {
    case PROP_PROVIDER:
      g_free (e->provider);
      e->provider = g_value_dup_string (value);
      if (e->provider == NULL)
        e->provider = g_strdup (DEFAULT_PROVIDER);
      break;
    case PROP_URL:
      g_free (e->url);
      e->url = g_value_dup_string (value);
      break;
    case PROP_API_KEY:
      if (e->api_key)
        memset (e->api_key, 0, strlen (e->api_key));
      g_free (e->api_key);
      e->api_key = g_value_dup_string (value);
      break;
    case PROP_API_KEY_FILE:
      g_free (e->api_key_file);
      e->api_key_file = g_value_dup_string (value);
      break;
    case PROP_LANGUAGE:
    case PROP_LANGUAGE_CODE:
      g_free (e->language);
      e->language = g_value_dup_string (value);
      break;
    case PROP_MODEL:
      g_free (e->model);
      e->model = g_value_dup_string (value);
      break;
    case PROP_SAMPLE_RATE:
      e->sample_rate = g_value_get_uint (value);
      break;
    case PROP_CHUNK_DURATION:
      e->chunk_duration = g_value_get_uint64 (value);
      e->chunk_duration_set = TRUE;
      break;
    case PROP_INTERIM_RESULTS:
      e->interim_results = g_value_get_boolean (value);
      break;
    case PROP_LATENCY:
      e->latency = g_value_get_uint (value) * GST_MSECOND;
      break;
    case PROP_LATENESS:
      e->lateness = g_value_get_uint (value) * GST_MSECOND;
      break;
    case PROP_MAX_BUFFER_TIME:
      e->max_buffer_time = g_value_get_uint64 (value);
      break;
    case PROP_RECONNECT_MAX_ATTEMPTS:
      e->reconnect_max_attempts = g_value_get_int (value);
      break;
    case PROP_RECONNECT_INITIAL_DELAY:
      e->reconnect_initial_delay = g_value_get_uint64 (value);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      e->reconnect_max_delay = g_value_get_uint64 (value);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      e->keepalive_interval = g_value_get_uint64 (value);
      break;
    case PROP_STALL_TIMEOUT:
      e->stall_timeout = g_value_get_uint64 (value);
      break;
    case PROP_DRAIN_TIMEOUT:
      e->drain_timeout = g_value_get_uint64 (value);
      break;
    case PROP_PACING:
      e->pacing = g_value_get_enum (value);
      break;
    case PROP_STATS_INTERVAL:
      e->stats_interval = g_value_get_uint64 (value);
      break;
    case PROP_TLS_CA_FILE:
      g_free (e->tls_ca_file);
      e->tls_ca_file = g_value_dup_string (value);
      break;
    case PROP_TLS_VALIDATE:
      e->tls_validate = g_value_get_boolean (value);
      break;
    case PROP_EXTRA_HEADERS:
      g_clear_pointer (&e->extra_headers, gst_structure_free);
      e->extra_headers = g_value_dup_boxed (value);
      break;
    case PROP_PARAMS:
      g_clear_pointer (&e->params, gst_structure_free);
      e->params = g_value_dup_boxed (value);
      break;
    case PROP_TOKEN_URL:
      g_free (e->token_url);
      e->token_url = g_value_dup_string (value);
      break;
    case PROP_TOKEN_METHOD:
      g_free (e->token_method);
      e->token_method = g_value_dup_string (value);
      break;
    case PROP_TOKEN_HEADERS:
      g_clear_pointer (&e->token_headers, gst_structure_free);
      e->token_headers = g_value_dup_boxed (value);
      break;
    case PROP_TOKEN_FIELD:
      g_free (e->token_field);
      e->token_field = g_value_dup_string (value);
      break;
    case PROP_TOKEN_BODY:
      g_free (e->token_body);
      e->token_body = g_value_dup_string (value);
      break;
    case PROP_TOKEN_SECRET:
      if (e->token_secret)
        memset (e->token_secret, 0, strlen (e->token_secret));
      g_free (e->token_secret);
      e->token_secret = g_value_dup_string (value);
      break;
    case PROP_TOKEN_SECRET_FILE:
      g_free (e->token_secret_file);
      e->token_secret_file = g_value_dup_string (value);
      break;
    case PROP_TOKEN_CLAIMS:
      g_clear_pointer (&e->token_claims, gst_structure_free);
      e->token_claims = g_value_dup_boxed (value);
      break;
    case PROP_TOKEN_LIFETIME:
      e->token_lifetime = g_value_get_uint (value);
      break;
    case PROP_ACCESS_KEY:
      g_free (e->access_key);
      e->access_key = g_value_dup_string (value);
      break;
    case PROP_SECRET_ACCESS_KEY:
      wipe_free (e->secret_access_key);
      e->secret_access_key = g_value_dup_string (value);
      break;
    case PROP_SESSION_TOKEN:
      wipe_free (e->session_token);
      e->session_token = g_value_dup_string (value);
      break;
    case PROP_REGION:
      g_free (e->region);
      e->region = g_value_dup_string (value);
      break;
    case PROP_OUTAGE_TIMEOUT:
      e->outage_timeout = g_value_get_uint64 (value);
      break;
    case PROP_MAX_SESSION_DURATION:
      e->max_session_duration = g_value_get_uint64 (value);
      break;
    default:
      ok = FALSE;
      break;
  }
  GST_OBJECT_UNLOCK (e->element);
  return ok;
}

gboolean
gst_stt_engine_get_property (GstSttEngine * e, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  gboolean ok = TRUE;

  if (prop_id >= N_PROPS)
    return FALSE;
  if (prop_id == PROP_STATS) {
    /* Built outside the object lock: the stats have their own. */
    g_value_take_boxed (value, gst_stt_stats_to_structure (e->stats,
            e->info ? e->info->name : e->provider, e->rate ? e->rate : 16000));
    return TRUE;
  }

  GST_OBJECT_LOCK (e->element);
  switch (prop_id) {
    case PROP_PROVIDER:
      g_value_set_string (value, e->provider);
      break;
    case PROP_URL:
      g_value_set_string (value, e->url);
      break;
    case PROP_API_KEY:
      /* Never readable in clear. */
      g_value_set_string (value, e->api_key ? "***" : NULL);
      break;
    case PROP_API_KEY_FILE:
      g_value_set_string (value, e->api_key_file);
      break;
    case PROP_LANGUAGE:
    case PROP_LANGUAGE_CODE:
      g_value_set_string (value, e->language);
      break;
    case PROP_MODEL:
      g_value_set_string (value, e->model);
      break;
    case PROP_SAMPLE_RATE:
      g_value_set_uint (value, e->sample_rate);
      break;
    case PROP_CHUNK_DURATION:
      g_value_set_uint64 (value, e->chunk_duration);
      break;
    case PROP_INTERIM_RESULTS:
      g_value_set_boolean (value, e->interim_results);
      break;
    case PROP_LATENCY:
      g_value_set_uint (value, e->latency / GST_MSECOND);
      break;
    case PROP_LATENESS:
      g_value_set_uint (value, e->lateness / GST_MSECOND);
      break;
    case PROP_MAX_OBSERVED_DELAY:
      g_value_set_uint (value, MIN (e->max_observed_delay / GST_MSECOND, G_MAXUINT));
      break;
    case PROP_MAX_BUFFER_TIME:
      g_value_set_uint64 (value, e->max_buffer_time);
      break;
    case PROP_RECONNECT_MAX_ATTEMPTS:
      g_value_set_int (value, e->reconnect_max_attempts);
      break;
    case PROP_RECONNECT_INITIAL_DELAY:
      g_value_set_uint64 (value, e->reconnect_initial_delay);
      break;
    case PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint64 (value, e->reconnect_max_delay);
      break;
    case PROP_KEEPALIVE_INTERVAL:
      g_value_set_uint64 (value, e->keepalive_interval);
      break;
    case PROP_STALL_TIMEOUT:
      g_value_set_uint64 (value, e->stall_timeout);
      break;
    case PROP_DRAIN_TIMEOUT:
      g_value_set_uint64 (value, e->drain_timeout);
      break;
    case PROP_PACING:
      g_value_set_enum (value, e->pacing);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint64 (value, e->stats_interval);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, e->tls_ca_file);
      break;
    case PROP_TLS_VALIDATE:
      g_value_set_boolean (value, e->tls_validate);
      break;
    case PROP_EXTRA_HEADERS:
      g_value_set_boxed (value, e->extra_headers);
      break;
    case PROP_PARAMS:
      g_value_set_boxed (value, e->params);
      break;
    case PROP_TOKEN_URL:
      g_value_set_string (value, e->token_url);
      break;
    case PROP_TOKEN_METHOD:
      g_value_set_string (value, e->token_method);
      break;
    case PROP_TOKEN_HEADERS:
      g_value_set_boxed (value, e->token_headers);
      break;
    case PROP_TOKEN_FIELD:
      g_value_set_string (value, e->token_field);
      break;
    case PROP_TOKEN_BODY:
      g_value_set_string (value, e->token_body);
      break;
    case PROP_TOKEN_SECRET:
      /* Never readable in clear. */
      g_value_set_string (value, e->token_secret ? "***" : NULL);
      break;
    case PROP_TOKEN_SECRET_FILE:
      g_value_set_string (value, e->token_secret_file);
      break;
    case PROP_TOKEN_CLAIMS:
      g_value_set_boxed (value, e->token_claims);
      break;
    case PROP_TOKEN_LIFETIME:
      g_value_set_uint (value, e->token_lifetime);
      break;
    case PROP_ACCESS_KEY:
      g_value_set_string (value, e->access_key);
      break;
    case PROP_SECRET_ACCESS_KEY:
      /* Never readable in clear. */
      g_value_set_string (value, e->secret_access_key ? "***" : NULL);
      break;
    case PROP_SESSION_TOKEN:
      g_value_set_string (value, e->session_token ? "***" : NULL);
      break;
    case PROP_REGION:
      g_value_set_string (value, e->region);
      break;
    case PROP_OUTAGE_TIMEOUT:
      g_value_set_uint64 (value, e->outage_timeout);
      break;
    case PROP_MAX_SESSION_DURATION:
      g_value_set_uint64 (value, e->max_session_duration);
      break;
    default:
      ok = FALSE;
      break;
  }
  GST_OBJECT_UNLOCK (e->element);
  return ok;
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
  e->provider = g_strdup (DEFAULT_PROVIDER);
  e->sample_rate = DEFAULT_SAMPLE_RATE;
  e->chunk_duration = DEFAULT_CHUNK_DURATION;
  e->interim_results = DEFAULT_INTERIM_RESULTS;
  e->latency = DEFAULT_LATENCY_MS * GST_MSECOND;
  e->lateness = DEFAULT_LATENESS_MS * GST_MSECOND;
  e->max_buffer_time = DEFAULT_MAX_BUFFER_TIME;
  e->reconnect_max_attempts = DEFAULT_RECONNECT_MAX_ATTEMPTS;
  e->reconnect_initial_delay = DEFAULT_RECONNECT_INITIAL_DELAY;
  e->reconnect_max_delay = DEFAULT_RECONNECT_MAX_DELAY;
  e->keepalive_interval = DEFAULT_KEEPALIVE_INTERVAL;
  e->stall_timeout = DEFAULT_STALL_TIMEOUT;
  e->drain_timeout = DEFAULT_DRAIN_TIMEOUT;
  e->pacing = DEFAULT_PACING;
  e->stats_interval = DEFAULT_STATS_INTERVAL;
  e->tls_validate = DEFAULT_TLS_VALIDATE;
  e->token_method = g_strdup (DEFAULT_TOKEN_METHOD);
  e->token_lifetime = DEFAULT_TOKEN_LIFETIME;
  e->max_session_duration = DEFAULT_MAX_SESSION_DURATION;
  e->outage_timeout = DEFAULT_OUTAGE_TIMEOUT;
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
  g_free (e->provider);
  g_free (e->url);
  if (e->api_key)
    memset (e->api_key, 0, strlen (e->api_key));
  g_free (e->api_key);
  g_free (e->api_key_file);
  g_free (e->language);
  g_free (e->model);
  g_free (e->tls_ca_file);
  g_clear_pointer (&e->extra_headers, gst_structure_free);
  g_clear_pointer (&e->params, gst_structure_free);
  g_free (e->token_url);
  g_free (e->token_method);
  g_clear_pointer (&e->token_headers, gst_structure_free);
  g_free (e->token_field);
  g_free (e->token_body);
  if (e->token_secret)
    memset (e->token_secret, 0, strlen (e->token_secret));
  g_free (e->token_secret);
  g_free (e->token_secret_file);
  g_free (e->access_key);
  wipe_free (e->secret_access_key);
  wipe_free (e->session_token);
  g_free (e->region);
  g_clear_pointer (&e->token_claims, gst_structure_free);
  gst_stt_stats_free (e->stats);
  g_byte_array_unref (e->pending);
  g_mutex_clear (&e->drain_lock);
  g_cond_clear (&e->drain_cond);
  g_free (e);
}

#define TIME_PROP(id, name, nick, blurb, def, flags) \
  g_object_class_install_property (gobject_class, first_id + (id), \
      g_param_spec_uint64 (name, nick, blurb, 0, G_MAXUINT64, def, \
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | flags))
#define STRING_PROP(id, name, nick, blurb, flags) \
  g_object_class_install_property (gobject_class, first_id + (id), \
      g_param_spec_string (name, nick, blurb, NULL, \
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | flags))

void
gst_stt_engine_add_pad_template (GstElementClass * klass)
{
  gst_element_class_add_static_pad_template (klass, &sink_template);
}

/* One table of properties for every element that embeds the engine. */
guint
gst_stt_engine_install_properties (GObjectClass * gobject_class, guint first_id)
{
  const GParamFlags ready = GST_PARAM_MUTABLE_READY;
  const GParamFlags playing = GST_PARAM_MUTABLE_PLAYING;
  g_autofree gchar *providers = g_strjoinv (", ", (gchar **) stt_provider_names ());
  g_autofree gchar *provider_blurb = g_strdup_printf ("Speech-to-text service protocol: %s",
      providers);

  /* Class init of the first element that embeds the engine: before any engine runs. */
  GST_DEBUG_CATEGORY_INIT (stt_engine_debug, "sttengine", 0, "speech-to-text engine");

  g_object_class_install_property (gobject_class, first_id + PROP_PROVIDER,
      g_param_spec_string ("provider", "Provider", g_intern_string (provider_blurb),
          DEFAULT_PROVIDER, G_PARAM_READWRITE | G_PARAM_STATIC_NAME |
          G_PARAM_STATIC_NICK | G_PARAM_STATIC_BLURB | ready));
  STRING_PROP (PROP_URL, "url", "URL", "Endpoint replacing the provider's default "
      "(scheme, host, port and path, e.g. ws://127.0.0.1:8080/v1/listen); the element "
      "adds the query. {token} in it is replaced by the token of each attempt "
      "(token-secret or token-url). NULL = the provider's default", ready);
  STRING_PROP (PROP_API_KEY, "api-key", "API key", "Key or token for the service. Reads "
      "back as *** when set. Falls back to api-key-file, then $<PROVIDER>_API_KEY, "
      "then $STT_API_KEY", ready);
  STRING_PROP (PROP_API_KEY_FILE, "api-key-file", "API key file", "File holding the key, "
      "read again before every connection attempt (so a rotated key is picked up)", ready);
  STRING_PROP (PROP_LANGUAGE_CODE, "language-code", "Language code", "Language code "
      "such as en or en-US; NULL = the provider's default", ready);
  g_object_class_install_property (gobject_class, first_id + PROP_LANGUAGE,
      g_param_spec_string ("language", "Language", "Deprecated alias of language-code",
          NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_DEPRECATED | ready));
  STRING_PROP (PROP_MODEL, "model", "Model", "Recognition model; NULL = the provider's "
      "default (e.g. nova-3 for Deepgram)", ready);
  g_object_class_install_property (gobject_class, first_id + PROP_SAMPLE_RATE,
      g_param_spec_uint ("sample-rate", "Sample rate", "Rate of the audio sent to the "
          "service, in Hz; 0 = the provider's rate (16000 for most)", 0, 192000,
          DEFAULT_SAMPLE_RATE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  g_object_class_install_property (gobject_class, first_id + PROP_CHUNK_DURATION,
      g_param_spec_uint64 ("chunk-duration", "Chunk duration", "Audio per WebSocket "
          "frame, in nanoseconds (10 ms to 10 s). Left unset, non-live input sent as fast "
          "as the service reads it goes in the largest frames the provider takes (e.g. "
          "1 s; 250 ms for Deepgram)", 10 * GST_MSECOND, 10 * GST_SECOND,
          DEFAULT_CHUNK_DURATION, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  g_object_class_install_property (gobject_class, first_id + PROP_INTERIM_RESULTS,
      g_param_spec_boolean ("interim-results", "Interim results", "Ask the service for "
          "partial results (posted as stt-transcript with is-final=false)",
          DEFAULT_INTERIM_RESULTS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  g_object_class_install_property (gobject_class, first_id + PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency", "Time the service may take to return "
          "text for live input, in milliseconds; added to the latency query. Text "
          "arriving later is pushed late (counted in late-results, with a WARNING)", 0,
          MAX_LATENCY_MS, DEFAULT_LATENCY_MS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          ready));
  g_object_class_install_property (gobject_class, first_id + PROP_LATENESS,
      g_param_spec_uint ("lateness", "Lateness", "Extra delay given to the text, in "
          "milliseconds: added to the output segment's base and to the latency query "
          "(for a live pipeline whose sinks can wait longer than latency)", 0,
          MAX_LATENCY_MS, DEFAULT_LATENESS_MS, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | ready));
  g_object_class_install_property (gobject_class, first_id + PROP_MAX_OBSERVED_DELAY,
      g_param_spec_uint ("max-observed-delay", "Max observed delay", "Live input: the "
          "largest delay seen, in milliseconds, between the newest audio and the start of "
          "text as it became available (to compare with latency + lateness)", 0, G_MAXUINT,
          0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  TIME_PROP (PROP_MAX_BUFFER_TIME, "max-buffer-time", "Max buffer time", "Audio kept for "
      "replay after a reconnect (audio not yet final), in nanoseconds. When full, live "
      "input drops its oldest audio; non-live input waits", DEFAULT_MAX_BUFFER_TIME, ready);
  g_object_class_install_property (gobject_class, first_id + PROP_RECONNECT_MAX_ATTEMPTS,
      g_param_spec_int ("reconnect-max-attempts", "Reconnect max attempts", "Consecutive "
          "failed connection attempts before giving up with an error; -1 = never give up",
          -1, G_MAXINT, DEFAULT_RECONNECT_MAX_ATTEMPTS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | playing));
  TIME_PROP (PROP_RECONNECT_INITIAL_DELAY, "reconnect-initial-delay",
      "Reconnect initial delay", "Backoff before the second retry (the first is "
      "immediate), doubled after each failure, in nanoseconds",
      DEFAULT_RECONNECT_INITIAL_DELAY, ready);
  TIME_PROP (PROP_RECONNECT_MAX_DELAY, "reconnect-max-delay", "Reconnect max delay",
      "Longest backoff between attempts, in nanoseconds", DEFAULT_RECONNECT_MAX_DELAY,
      ready);
  TIME_PROP (PROP_KEEPALIVE_INTERVAL, "keepalive-interval", "Keepalive interval",
      "WebSocket ping interval, in nanoseconds (whole seconds); 0 = no pings",
      DEFAULT_KEEPALIVE_INTERVAL, ready);
  TIME_PROP (PROP_STALL_TIMEOUT, "stall-timeout", "Stall timeout", "Reconnect when the "
      "server has sent nothing (no message, no pong) for this long while audio flows, in "
      "nanoseconds; 0 = never", DEFAULT_STALL_TIMEOUT, ready);
  TIME_PROP (PROP_DRAIN_TIMEOUT, "drain-timeout", "Drain timeout", "At end of stream, "
      "the longest the service may make no progress (takes no audio, sends no result) "
      "before the connection counts as stalled and the audio it has not acknowledged is "
      "sent again on a new one, in nanoseconds; 0 = never. It bounds a silence, not the "
      "drain", DEFAULT_DRAIN_TIMEOUT, ready);
  TIME_PROP (PROP_OUTAGE_TIMEOUT, "outage-timeout", "Outage timeout", "How long the "
      "service may be without a working connection before the element gives up, in "
      "nanoseconds; 0 = never. Non-live input then fails with an error; at end of stream "
      "the element ends the stream with a warning. Either way a warning names the audio "
      "not transcribed. Live input never gives up in mid-stream",
      DEFAULT_OUTAGE_TIMEOUT, ready);
  g_object_class_install_property (gobject_class, first_id + PROP_PACING,
      g_param_spec_enum ("pacing", "Pacing", "How fast non-live audio is sent",
          GST_TYPE_STT_PACING, DEFAULT_PACING,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  TIME_PROP (PROP_STATS_INTERVAL, "stats-interval", "Stats interval", "Period of the "
      "stt-stats bus message, in nanoseconds; 0 = none", DEFAULT_STATS_INTERVAL, ready);
  g_object_class_install_property (gobject_class, first_id + PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics", "Current statistics (the fields of the "
          "stt-stats message)", GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  STRING_PROP (PROP_TLS_CA_FILE, "tls-ca-file", "TLS CA file", "PEM file of the CA(s) "
      "to trust for wss:// and https:// instead of the system store", ready);
  g_object_class_install_property (gobject_class, first_id + PROP_TLS_VALIDATE,
      g_param_spec_boolean ("tls-validate", "TLS validate", "Validate the server's TLS "
          "certificate. Turning this off is insecure", DEFAULT_TLS_VALIDATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  g_object_class_install_property (gobject_class, first_id + PROP_EXTRA_HEADERS,
      g_param_spec_boxed ("extra-headers", "Extra headers", "Extra HTTP headers for the "
          "handshake, e.g. \"headers, X-Team=(string)news\"", GST_TYPE_STRUCTURE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  g_object_class_install_property (gobject_class, first_id + PROP_PARAMS,
      g_param_spec_boxed ("params", "Provider parameters", "Extra provider options, added "
          "to the query or configuration message, e.g. \"p, endpointing=300, "
          "smart_format=true\"", GST_TYPE_STRUCTURE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));

  STRING_PROP (PROP_TOKEN_URL, "token-url", "Token URL", "HTTP(S) URL that returns a "
      "temporary token as JSON, fetched again before every connection attempt; the token "
      "is used instead of api-key. NULL = no token service", ready);
  g_object_class_install_property (gobject_class, first_id + PROP_TOKEN_METHOD,
      g_param_spec_string ("token-method", "Token method", "HTTP method of the token "
          "request", DEFAULT_TOKEN_METHOD, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          ready));
  g_object_class_install_property (gobject_class, first_id + PROP_TOKEN_HEADERS,
      g_param_spec_boxed ("token-headers", "Token headers", "Headers of the token request; "
          "$API_KEY in a value is replaced by the key (api-key, api-key-file or "
          "environment), e.g. \"h, Authorization=\\\"Token $API_KEY\\\"\"",
          GST_TYPE_STRUCTURE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  STRING_PROP (PROP_TOKEN_FIELD, "token-field", "Token field", "Member of the token "
      "service's JSON answer holding the token. NULL = the first of access_token, token, "
      "key_value, value", ready);
  STRING_PROP (PROP_TOKEN_SECRET, "token-secret", "Token secret", "Shared secret (its "
      "UTF-8 bytes are the HMAC key) for a self-hosted relay: a fresh HS256 JWT is signed "
      "for every connection attempt and used instead of api-key (as a token: e.g. "
      "Authorization: Bearer for Deepgram) and in place of {token} in url. Not with "
      "token-url. Reads back as *** when set", ready);
  STRING_PROP (PROP_TOKEN_SECRET_FILE, "token-secret-file", "Token secret file", "File "
      "holding token-secret (surrounding whitespace removed), read again before every "
      "connection attempt", ready);
  g_object_class_install_property (gobject_class, first_id + PROP_TOKEN_CLAIMS,
      g_param_spec_boxed ("token-claims", "Token claims", "Claims of the signed token, "
          "one JSON claim per field (strings, integers, doubles, booleans), e.g. "
          "\"claims, sub=camera-7, aud=relay\". iat, exp and jti are always the "
          "element's", GST_TYPE_STRUCTURE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          ready));
  g_object_class_install_property (gobject_class, first_id + PROP_TOKEN_LIFETIME,
      g_param_spec_uint ("token-lifetime", "Token lifetime", "Validity of each signed "
          "token, in seconds: exp = iat + this", 1, G_MAXUINT, DEFAULT_TOKEN_LIFETIME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | ready));
  STRING_PROP (PROP_TOKEN_BODY, "token-body", "Token request body", "JSON body of the "
      "token-url request (Content-Type: application/json), e.g. {\"ttl\": 3600} for "
      "Speechmatics' temporary keys or {\"session\": {...}} for OpenAI's client "
      "secrets; NULL = no body", ready);
  STRING_PROP (PROP_ACCESS_KEY, "access-key", "AWS access key ID", "AWS access key ID "
      "(provider=aws). NULL = $AWS_ACCESS_KEY_ID, then the profile ($AWS_PROFILE or "
      "default) in ~/.aws/credentials or ~/.aws/config", ready);
  STRING_PROP (PROP_SECRET_ACCESS_KEY, "secret-access-key", "AWS secret access key",
      "AWS secret access key, with access-key (provider=aws). Reads back as *** when set",
      ready);
  STRING_PROP (PROP_SESSION_TOKEN, "session-token", "AWS session token", "AWS session "
      "token of temporary credentials, with access-key (provider=aws). Reads back as *** "
      "when set", ready);
  STRING_PROP (PROP_REGION, "region", "AWS region", "AWS region such as us-west-2 "
      "(provider=aws). NULL = $AWS_REGION, $AWS_DEFAULT_REGION, then the profile's "
      "region in ~/.aws/config", ready);
  TIME_PROP (PROP_MAX_SESSION_DURATION, "max-session-duration", "Max session duration",
      "Rotate to a new connection before this long (at the first final in its last "
      "half, at most 30 s before it), losing and doubling no audio; set it below the "
      "service's session limit, in nanoseconds; 0 = never", DEFAULT_MAX_SESSION_DURATION,
      ready);

  gst_type_mark_as_plugin_api (GST_TYPE_STT_PACING, 0);
  return first_id + N_PROPS;
}
