/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtsession.c: the session state machine. Everything below the public functions
 * runs on the stream's I/O worker thread, so the state needs no lock; the public
 * functions hand work over with stt_io_worker_invoke.
 *
 * Positions are stream samples at the wire rate. Connection n starts at stream sample
 * `conn_base` (the committed point when it opened) and the provider's times count from
 * there; gststtresults.c maps them back to stream samples and into messages. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtsession-private.h"

GST_DEBUG_CATEGORY (stt_session_debug);

static void session_connect (GstSttSession * s);
static void send_text (GstSttSession * s, gchar * text);
static void connect_ws (GstSttSession * s);
static void connect_with_key (GstSttSession * s);
static void session_pump (GstSttSession * s);
static void rotate_at_final (GstSttSession * s);
static void session_fail (GstSttSession * s, GQuark domain, gint code, const gchar * text,
    const gchar * debug, guint http_status, gint close_code);
static void give_up (GstSttSession * s, const gchar * why, guint http_status,
    gint close_code);

GstSttSession *
session_ref (GstSttSession * s)
{
  g_atomic_int_inc (&s->refcount);
  return s;
}


void
session_clear_source (GSource ** src)
{
  if (*src) {
    g_source_destroy (*src);
    g_source_unref (*src);
    *src = NULL;
  }
}

static void
clear_key (GstSttSession * s)
{
  gst_stt_credentials_clear (&s->cred);
  g_clear_pointer (&s->attempt_url, gst_stt_wipe_free);
  s->pcfg.api_key = NULL;
  s->pcfg.access_key_id = NULL;
  s->pcfg.session_token = NULL;
  s->pcfg.region = NULL;
  s->pcfg.url = s->cfg->url;
}

/* @text with the current attempt's token (as is and URI-escaped) replaced by "***", or
 * NULL for NULL. Whatever carries a URL or a server's words is passed through this before
 * it is logged or posted: a relay's URL template may put the token under a parameter name
 * stt_redact_url() does not know. */
static gchar *
scrub (GstSttSession * s, const gchar * text)
{
  return gst_stt_credentials_scrub (&s->cred, text);
}

/* @url made safe to log, post or put in an error: stt_redact_url(), then scrub(). */
static gchar *
redact_url (GstSttSession * s, const gchar * url)
{
  g_autofree gchar *redacted = stt_redact_url (url);

  return scrub (s, redacted);
}

void
gst_stt_session_unref (GstSttSession * s)
{
  if (s == NULL || !g_atomic_int_dec_and_test (&s->refcount))
    return;
  stt_io_worker_release (s->worker);
  if (s->pstate.stream_priv && s->cfg->provider->free_stream_priv)
    s->cfg->provider->free_stream_priv (s->pstate.stream_priv);
  gst_stt_targets_free (s->targets, s->n_targets);
  g_free (s->probe_why);
  g_free (s->backlog_failure);
  g_free (s->carried_by);
  g_free (s->rev_replaces);
  g_free (s->rev_failure);
  g_clear_pointer (&s->rev_finals, g_ptr_array_unref);
  g_queue_clear_full (&s->held, (GDestroyNotify) held_free);
  gst_stt_results_free (s->results);
  g_free (s->scratch);
  g_free (s->url_redacted);
  g_free (s->last_failure);
  g_clear_object (&s->tls_db);
  g_free (s->tls_db_error);
  g_mutex_clear (&s->stop_lock);
  g_cond_clear (&s->stop_cond);
  gst_object_unref (s->log_object);
  g_free (s);
}

gboolean
session_is_stopped (GstSttSession * s)
{
  gboolean stopped;

  g_mutex_lock (&s->stop_lock);
  stopped = s->stopped;
  g_mutex_unlock (&s->stop_lock);
  return stopped;
}

gint64
session_now_us (void)
{
  return g_get_monotonic_time ();
}

/* How long before max-session-duration a rotation may start, waiting for a final:
 * half of it, at most 30 s. */
static GstClockTime
rotate_window (GstClockTime max_session_duration)
{
  return MIN (max_session_duration / 2, 30 * GST_SECOND);
}

/* ------------------------------------------------------------------------------------ */
/* Connection bookkeeping */

void
session_post_connection (GstSttSession * s, GstSttConnectionState state,
    const gchar * reason,
    guint http_status, gint close_code, GstClockTime retry_in, guint64 replayed)
{
  /* Every message says how much audio the ring has lost so far. */
  guint64 dropped = gst_stt_stats_get (s->stats, GST_STT_STAT_SAMPLES_DROPPED);
  GstSttConnectionInfo info = {
    .state = state,
    .attempt = s->attempt,
    .retry_in = retry_in,
    .reason = reason,
    .http_status = http_status,
    .close_code = close_code,
    .replayed = gst_util_uint64_scale_int (replayed, GST_SECOND, s->cfg->rate),
    .dropped = gst_util_uint64_scale_int (dropped, GST_SECOND, s->cfg->rate),
    .connection = s->connection,
    .provider = s->n_targets > 1 ? s->cfg->provider->name : NULL,
  };

  if (s->cb.connection && !session_is_stopped (s))
    s->cb.connection (s, &info, s->user_data);
}

/* Audio between stream positions @from and @to will never be transcribed: counted once
 * (what was reported before is not counted again) and, with @warn, said on the bus. */
void
session_report_loss (GstSttSession * s, guint64 from, guint64 to, gboolean warn,
    const gchar * why)
{
  from = MAX (MAX (from, s->lost_upto), s->committed);
  if (to <= from)
    return;
  s->lost_upto = to;
  session_count_loss (s, from, to, warn, why);
}

/* The same for audio whose accounting is past already (behind the committed point: a
 * backlog given up for the live edge), counted as it is. */
void
session_count_loss (GstSttSession * s, guint64 from, guint64 to, gboolean warn,
    const gchar * why)
{
  s->loss_reported_at = session_now_us ();
  gst_stt_stats_add (s->stats, GST_STT_STAT_SAMPLES_UNTRANSCRIBED, to - from);
  GST_WARNING_OBJECT (s->log_object, "%.3f s of audio will not be transcribed: %s",
      (gdouble) (to - from) / s->cfg->rate, why);
  if (warn && s->cb.warning && !session_is_stopped (s))
    s->cb.warning (s, why, from, to, s->user_data);
}

/* The audio before stream position @start is gone from the ring and the spool: why. */
static void
report_loss_ring (GstSttSession * s, guint64 start)
{
  GstSttSpool *spool = gst_stt_ring_get_spool (s->ring);
  g_autofree gchar *error = spool ? gst_stt_spool_get_error (spool) : NULL;
  g_autofree gchar *why = NULL;

  if (error)
    why = g_strdup_printf ("the replay ring (max-buffer-time) overflowed while the "
        "service was out of reach, and the spool could not keep it (%s)", error);
  else if (spool)
    why = g_strdup_printf ("the replay ring (max-buffer-time) and the spool "
        "(spool-max-bytes, in %s) overflowed while the service was out of reach",
        gst_stt_spool_get_dir (spool));
  else
    why = g_strdup ("the replay ring (max-buffer-time) overflowed while the service was "
        "out of reach");
  session_report_loss (s, s->committed, start, TRUE, why);
}

/* A warning that loses nothing (yet). */
void
session_post_warning (GstSttSession * s, const gchar * text)
{
  GST_WARNING_OBJECT (s->log_object, "%s", text);
  if (s->cb.warning && !session_is_stopped (s))
    s->cb.warning (s, text, 0, 0, s->user_data);
}

/* Transcription moved on: the outage (if any) is over. */
static void
progress (GstSttSession * s)
{
  s->last_progress = session_now_us ();
}

/* This connection works: its token was accepted. */
static void
token_accepted (GstSttSession * s)
{
  s->auth_refusals = 0;
}

static void
outage_over (GstSttSession * s)
{
  s->attempt = 0;
  s->outage_since = 0;
  s->outage_warned = FALSE;
  s->refused_in_row = 0;
}

/* Live input: how far the element may promise downstream (GAP events) that no more text
 * comes, beyond the committed point. What vouches for audio on this connection:
 * - a pong: the server read everything sent before the ping (frames are read in order),
 *   so audio sent `latency`/2 before a pong (a margin for the ping's own trip) and at
 *   least `latency` ago counts; any other message proves nothing of the kind (a server
 *   may talk without reading);
 * - a result with text: the server heard the audio up to its end.
 * A stalled, deaf or dropped connection therefore promises nothing about what it
 * swallowed. Never past the start of a segment the service still has open: its final
 * will be placed there. With pings every second and the default 3 s latency, a healthy
 * connection promises what `latency` allows. */
static void
update_promised (GstSttSession * s)
{
  gint64 horizon = G_MININT64, latency_us = (gint64) (s->cfg->latency / GST_USECOND);
  guint64 p;

  /* Nothing is promised past the backlog's committed point while it works. */
  if (!s->cfg->live || s->state != STATE_OPEN || s->backlog)
    return;
  if (s->last_pong > 0)
    horizon = MIN (s->last_pong - latency_us / 2, session_now_us () - latency_us);
  p = gst_stt_results_vouched (s->results, horizon);
  if (p <= s->promised)
    return;
  s->promised = p;
  if (s->cb.promised && !session_is_stopped (s))
    s->cb.promised (s, p, s->user_data);
}

void
session_teardown_connection (GstSttSession * s)
{
  session_clear_source (&s->pace_timer);
  session_clear_source (&s->rotate_timer);
  session_clear_source (&s->finalize_timer);
  g_clear_pointer (&s->http, stt_http_free);
  g_clear_pointer (&s->ws, stt_ws_free);
  stt_provider_clear_priv (&s->pstate);
  s->pstate.frames_sent = 0;
  /* Send times, what the server vouched for and segment keys belong to the
   * connection. */
  gst_stt_results_end_connection (s->results);
  s->last_pong = 0;
  clear_key (s);
}

/* ------------------------------------------------------------------------------------ */
/* Results */

static void
commit (GstSttSession * s, guint64 pos)
{
  if (s->backlog) {
    /* Its own finals are past the split: the committed point is the backlog's. */
    if (pos <= s->live_committed)
      return;
    gst_stt_stats_add_carried (s->stats, s->cfg->provider->name, pos -
        MAX (s->live_committed, s->split));
    s->live_committed = pos;
    s->last_commit = session_now_us ();
    progress (s);
    outage_over (s);
    token_accepted (s);
    gst_stt_results_commit (s->results, pos);
    return;
  }
  if (pos <= s->committed)
    return;
  s->no_split = FALSE;
  gst_stt_stats_add_carried (s->stats, s->cfg->provider->name, pos - s->committed);
  s->switch_warned = FALSE;
  if (s->active == 0) {
    if (s->trial) {
      g_autofree gchar *t = g_strdup_printf ("%s (the primary) is back: it carries the "
          "audio again from %.3f s of the stream on", s->cfg->provider->display_name,
          (gdouble) s->committed / s->cfg->rate);

      session_post_warning (s, t);
    }
    /* What the backups carried, the primary transcribes again beside the live edge. */
    if (s->carried_from != G_MAXUINT64)
      session_revise_carried (s);
    s->failbacks = 0;
    s->trial = FALSE;
  }
  s->committed = pos;
  s->finalize_sent = FALSE;
  /* The service's own word moved the accounted point: it works. */
  s->last_commit = session_now_us ();
  progress (s);
  outage_over (s);
  token_accepted (s);
  /* A backlog session's audio is released by its live session. */
  if (s->parent == NULL)
    session_release_upto (s, pos);
  gst_stt_results_commit (s->results, pos);
}

/* Tells the element the committed point moved: call after the finals up to it are
 * handed over, so nothing promises "no text before here" ahead of that text. */
void
session_notify_committed (GstSttSession * s)
{
  if (s->cb.committed && !session_is_stopped (s))
    s->cb.committed (s, s->committed, s->user_data);
}

/* Hands a result on: a final releases its audio and moves the committed point. */
static void
handle_result (GstSttSession * s, SttResult * r)
{
  GstSttMapped m;

  gst_stt_results_set_sealed (s->results, s->end_sent || s->finalize_sent);
  if (!gst_stt_results_map (s->results, r, s->connection, s->conn_sent, s->send_pos,
          MAX (s->committed, gst_stt_split_live_floor (&s->bound)), session_now_us (),
          &m))
    return;
  if (m.is_final) {
    session_split_final (s, &m);
    /* Release the audio first: once a final is announced, its audio is done with. */
    commit (s, m.done);
    if (m.msg && s->backlog) {
      /* After the backlog's finals, in order. */
      Held *h = g_new (Held, 1);

      *h = (Held) {
      m.msg, m.pts, m.duration};
      g_queue_push_tail (&s->held, h);
      return;
    }
    if (m.msg && s->cb.transcript && !session_is_stopped (s))
      s->cb.transcript (s, m.msg, TRUE, m.pts, m.duration, s->user_data);
    else if (m.msg)
      gst_structure_free (m.msg);
    session_notify_committed (s);
  } else if (s->backlog) {
    /* The live edge's partials would run ahead of the backlog's text (their stable words
     * are text): dropped, their words come in its finals. */
    gst_structure_free (m.msg);
  } else {
    if (s->cb.transcript && !session_is_stopped (s))
      s->cb.transcript (s, m.msg, FALSE, m.pts, m.duration, s->user_data);
    else
      gst_structure_free (m.msg);
  }
}

/* ------------------------------------------------------------------------------------ */
/* WebSocket callbacks */

gboolean
session_rotate_connect_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  s->connection++;
  session_connect (s);
  return G_SOURCE_REMOVE;
}

/* The service sent everything for this connection's end of stream. */
static void
finish (GstSttSession * s)
{
  if (s->state == STATE_DONE)
    return;
  session_teardown_connection (s);
  if (s->rotating) {
    /* A planned rotation: every final of the old connection is in, the next one starts
     * at the committed point. Connect from a fresh dispatch, not from inside libsoup's
     * callback. */
    s->rotating = FALSE;
    if (s->switch_to != G_MAXUINT) {
      session_switch_target (s, s->switch_to, "time to try the primary again");
      return;
    }
    GST_INFO_OBJECT (s->log_object, "rotating to a new connection");
    s->state = STATE_WAITING;
    session_post_connection (s, GST_STT_CONNECTION_RECONNECTING, "session rotation", 0,
        1000, 0,
        0);
    if (session_is_stopped (s))
      return;
    session_clear_source (&s->retry_timer);
    s->retry_timer = stt_io_worker_add_timeout (s->worker, 0,
        session_rotate_connect_cb, s, NULL);
    return;
  }
  s->state = STATE_DONE;
  session_post_connection (s, GST_STT_CONNECTION_CLOSED, "end of stream", 0, 1000, 0, 0);
  if (s->backlog || s->revision) {
    /* Drained once the backlog and the revision are too. */
    s->drain_held = TRUE;
    return;
  }
  if (s->cb.drained && !session_is_stopped (s))
    s->cb.drained (s, s->user_data);
}

/* What the failure policy needs to know about a failure of this attempt. */
static GstSttFailure
failure_at (GstSttSession * s, GstSttFailedAt where, SttFailure failure,
    guint http_status,
    gint close_code)
{
  GstSttFailure f = {
    .where = where,
    .failure = failure,
    .http_status = http_status,
    .close_code = close_code,
    .end_sent = s->end_sent,
    .key_is_token = s->cred.is_token,
    .signed_token = s->cred.signed_token,
    .token_refusals = s->auth_refusals,
    .ever_connected = s->ever_connected,
    .attempt = s->attempt,
    .max_attempts = s->cfg->reconnect_max_attempts,
  };

  return f;
}

/* Acts on the failure policy's decision: @text says what failed. A refused token is
 * counted (auth_refusals, reset by a result or TOKEN_TRUSTED_US of connection) before
 * its one retry; refused again, it is fatal. */
static void
act_on (GstSttSession * s, GstSttDecision d, const gchar * text, const gchar * debug,
    guint http_status, gint close_code, gint retry_after)
{
  g_autofree gchar *t = NULL;

  switch (d.verdict) {
    case GST_STT_VERDICT_RETRY:
      session_retry (s, text, http_status, close_code, retry_after);
      return;
    case GST_STT_VERDICT_FRESH_TOKEN:
      s->auth_refusals++;
      GST_INFO_OBJECT (s->log_object, "token refused: retrying once with a fresh one");
      session_retry (s, text, http_status, close_code, -1);
      return;
    case GST_STT_VERDICT_FAIL:
    default:
      break;
  }
  if (d.why == GST_STT_FATAL_TOKEN_REFUSED)
    text = t = g_strdup_printf ("%s refused a fresh %s too (%s): check %s",
        s->cfg->provider->display_name,
            s->cred.signed_token ? "signed token" : "token", text,
        s->cred.signed_token ? "token-secret (or token-secret-file), token-claims and the "
        "relay's clock" : "token-url and the key it is given");
  session_fail (s, GST_RESOURCE_ERROR, d.code, text, debug, http_status, close_code);
}

static void
on_ws_message (SttWs * ws, gboolean binary, GBytes * data, gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);
  SttParseOutput out;
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  guint64 committed;
  guint i;

  s->last_recv = session_now_us ();
  gst_stt_stats_add (s->stats, GST_STT_STAT_MESSAGES_IN, 1);
  stt_parse_output_init (&out);
  s->pstate.info->parse (&s->pstate, binary, p, len, &out);
  if (out.ready && s->awaiting_ready) {
    GST_DEBUG_OBJECT (s->log_object, "the server acknowledged the start: audio goes out");
    s->awaiting_ready = FALSE;
    session_pump (s);
  }

  /* A result with text says the service works; an empty one (a server may send them
   * forever without hearing anything) says nothing. */
  for (i = 0; i < out.results->len; i++) {
    SttResult *r = g_ptr_array_index (out.results, i);

    if (r->text && *r->text) {
      outage_over (s);
      token_accepted (s);
      progress (s);
      break;
    }
  }
  committed = s->committed;
  for (i = 0; i < out.results->len && s->state == STATE_OPEN; i++)
    handle_result (s, g_ptr_array_index (out.results, i));
  if (out.processed >= 0 && s->state == STATE_OPEN && out.failure == STT_FAILURE_NONE) {
    /* The service's word that the audio before this point is done with. */
    commit (s, MIN (gst_stt_results_seconds_to_stream (s->results, out.processed,
                s->conn_sent), s->send_pos));
    if (s->committed > committed)
      session_notify_committed (s);
  }
  if ((s->rotate_wanted || s->failback_wanted) && s->committed > committed
      && s->state == STATE_OPEN
      && !s->end_sent && out.failure == STT_FAILURE_NONE) {
    rotate_at_final (s);
    stt_parse_output_clear (&out);
    return;
  }

  if (out.failure != STT_FAILURE_NONE && s->state == STATE_OPEN) {
    g_autofree gchar *text = g_strdup_printf ("%s reported an error: %s",
        s->cfg->provider->display_name, out.error ? out.error : "unknown");

    GstSttFailure f = failure_at (s, GST_STT_FAILED_IN_BAND, out.failure, 0, 0);

    act_on (s, gst_stt_retry_decide (&f), text, NULL, 0, 0, -1);
  } else if (out.error) {
    /* Malformed or unknown: log it, count it, go on. A flood is logged sparingly. */
    guint64 n = gst_stt_stats_get (s->stats, GST_STT_STAT_MALFORMED);

    gst_stt_stats_add (s->stats, GST_STT_STAT_MALFORMED, 1);
    if (n < 10 || n % 1000 == 0) {
      g_autofree gchar *shown = binary ? g_strdup ("<binary>") :
          g_utf8_make_valid ((const gchar *) p, MIN (len, 200));
      GST_WARNING_OBJECT (s->log_object, "skipping server message #%" G_GUINT64_FORMAT
          " (%s): %s", n + 1, out.error, shown);
    }
  }
  if (out.finished && s->state == STATE_OPEN && s->end_sent) {
    /* The end-of-audio acknowledgement: every result for what this connection was sent
     * is out, trailing silence included. */
    outage_over (s);
    commit (s, s->send_pos);
    session_notify_committed (s);
    if (s->state == STATE_OPEN)
      finish (s);
  } else {
    update_promised (s);
  }
  stt_parse_output_clear (&out);
}

static void
on_ws_pong (SttWs * ws, gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);

  s->last_recv = s->last_pong = session_now_us ();
  update_promised (s);
}

static void
keepalive_tick (GstSttSession * s)
{
  gint64 idle = session_now_us () - MAX (s->last_send, s->pace_start);

  /* The provider's own keepalive, only while no audio flows. */
  if (s->state == STATE_OPEN && s->pstate.info->keepalive_message
      && idle >= s->pstate.info->keepalive_interval * G_USEC_PER_SEC) {
    GST_LOG_OBJECT (s->log_object, "sending keepalive");
    send_text (s, s->pstate.info->keepalive_message (&s->pstate));
    s->last_send = session_now_us ();
  }
}

static void
watchdog_tick (GstSttSession * s)
{
  gint64 now = session_now_us ();
  gint64 limit = s->cfg->stall_timeout / GST_USECOND;

  /* The server said nothing for stall-timeout while we were sending: it is gone even
   * if the socket is open (libsoup 3.2 has no pong timeout). */
  /* Only while we expect something: audio flowing, audio not yet final, the end of
   * stream sent, or the start acknowledgement. Pings (keepalive-interval) keep a
   * healthy idle connection answering. */
  if (s->state == STATE_OPEN && limit > 0 && s->blocked_since
      && now - s->blocked_since > limit) {
    GST_WARNING_OBJECT (s->log_object,
        "the server has taken no audio for %" G_GINT64_FORMAT
        " ms: reconnecting", (now - s->blocked_since) / 1000);
    session_retry (s, "stalled: the server takes no audio", 0, 0, -1);
    return;
  }
  if (s->state == STATE_OPEN && limit > 0 && now - s->last_recv > limit
      && (now - s->last_audio < limit || s->send_pos > s->committed || s->end_sent
          || s->awaiting_ready)) {
    GST_WARNING_OBJECT (s->log_object, "no answer from the server for %" G_GINT64_FORMAT
        " ms: reconnecting", (now - s->last_recv) / 1000);
    session_retry (s, "stalled: the server stopped answering", 0, 0, -1);
  }
}

/* The outage clock: says on the bus when the service has been out of reach for a while,
 * and gives up when it has been for outage-timeout (non-live input, or a drain; live
 * input in mid-stream keeps trying). Returns TRUE if it gave up. */
static gboolean
outage_tick (GstSttSession * s, gint64 now)
{
  gint64 out = now - s->outage_since;

  if (!s->outage_since)
    return FALSE;
  /* Said while no connection is open: an open one that has nothing to say yet (a slow
   * start, a silence) is not out of reach, and the watchdog judges it. */
  if (!s->outage_warned && out >= OUTAGE_WARNING_US && s->state != STATE_OPEN) {
    g_autofree gchar *t = g_strdup_printf ("%s has been out of reach for %d s (%s): "
        "retrying, the audio is kept", s->cfg->provider->display_name,
        (gint) (out / G_USEC_PER_SEC), s->last_failure ? s->last_failure : "no answer");

    s->outage_warned = TRUE;
    session_post_warning (s, t);
    if (session_is_stopped (s))
      return TRUE;
  }
  if (s->cfg->outage_timeout > 0 && (s->draining || !s->cfg->live)
      && out >= (gint64) (s->cfg->outage_timeout / GST_USECOND)) {
    g_autofree gchar *t = g_strdup_printf ("Gave up on %s after %d s without a working "
        "connection (outage-timeout): %s", s->cfg->provider->display_name,
        (gint) (out / G_USEC_PER_SEC), s->last_failure ? s->last_failure : "no answer");

    give_up (s, t, 0, 0);
    return TRUE;
  }
  return FALSE;
}

/* Whether no audio will come before @end that this session is to send: a second
 * session's stretch runs to its range end (its post-roll may still be arriving at the
 * live edge), or to where the stream ended; any other session's when draining. */
static gboolean
session_at_end (GstSttSession * s, guint64 end)
{
  if (s->parent)
    return end >= s->range_end || s->parent->draining;
  return s->draining;
}

/* Once a second, from the worker's shared tick (not a timer per stream). */
static void
session_tick (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);
  gint64 now = session_now_us ();

  if (s->state == STATE_IDLE || s->state == STATE_DONE)
    return;
  if (s->stats_next && now >= s->stats_next) {
    gint64 every = (gint64) (s->cfg->stats_interval / GST_USECOND);

    s->stats_next = MAX (s->stats_next + every, now + every / 2);
    if (s->cb.stats && !session_is_stopped (s))
      s->cb.stats (s, s->user_data);
    if (session_is_stopped (s))
      return;
  }
  if (session_failover_tick (s, now))
    return;
  if (outage_tick (s, now))
    return;
  if (s->state != STATE_OPEN) {
    guint64 start;

    /* Audio the ring let go while no connection could take it is gone: say so now, not
     * only when (if ever) the service comes back. */
    gst_stt_ring_get_range (s->ring, &start, NULL);
    if (start > MAX (s->committed, s->lost_upto)
        && now - s->loss_reported_at >= LOSS_REPORT_US)
      report_loss_ring (s, start);
    return;
  }
  /* A second session waiting at the live edge for the rest of its stretch (its
   * post-roll) is not stalled: a live source that stops for longer than drain-timeout
   * would have it reconnect every drain-timeout. Its drain clock runs once its stretch
   * is all there; meanwhile the watchdog (stall-timeout) judges a server that stops
   * answering what was sent. */
  if (s->parent) {
    guint64 end;

    gst_stt_ring_get_range (s->ring, NULL, &end);
    if (!session_at_end (s, MIN (end, s->range_end)))
      progress (s);
  }
  if (s->draining && s->cfg->drain_timeout > 0
      && now - s->last_progress > (gint64) (s->cfg->drain_timeout / GST_USECOND)) {
    /* A drain is a stream like any other: a service that stopped making progress is
     * stalled, and the audio it has not accounted for is heard again elsewhere. */
    g_autofree gchar *t = g_strdup_printf ("no progress for %d s while draining",
        (gint) ((now - s->last_progress) / G_USEC_PER_SEC));

    GST_WARNING_OBJECT (s->log_object, "%s: reconnecting", t);
    session_retry (s, t, 0, 0, -1);
    return;
  }
  if (s->cfg->stall_timeout > 0)
    watchdog_tick (s);
  if (s->state != STATE_OPEN)
    return;
  /* A connection that held for stall-timeout works, even if it had nothing to say. */
  if (s->outage_since && now - s->opened_at >= (gint64) (MAX (s->cfg->stall_timeout,
              GST_SECOND) / GST_USECOND))
    outage_over (s);
  if (now - s->opened_at >= TOKEN_TRUSTED_US)
    token_accepted (s);
  if (s->pstate.info->keepalive_message && s->pstate.info->keepalive_interval > 0)
    keepalive_tick (s);
  update_promised (s);
}

/* Sends the provider's end-of-stream message; FALSE if the provider has none. */
static gboolean
send_end_message (GstSttSession * s)
{
  SttFrameType type = STT_FRAME_TEXT;
  GBytes *b;

  if (!s->pstate.info->end_message)
    return FALSE;
  b = s->pstate.info->end_message (&s->pstate, &type);
  stt_ws_send (s->ws, type == STT_FRAME_BINARY, b);
  g_bytes_unref (b);
  gst_stt_stats_add (s->stats, GST_STT_STAT_MESSAGES_OUT, 1);
  return TRUE;
}

/* Ends this connection on purpose: its end-of-audio acknowledgement accounts for what
 * it heard, then finish() opens the next one there. A resumable service session ends
 * with it. */
void
session_end_connection_on_purpose (GstSttSession * s)
{
  if (s->cfg->provider->forget_session)
    s->cfg->provider->forget_session (&s->pstate);
  s->rotating = TRUE;
  s->end_sent = TRUE;
  send_end_message (s);
}

/* Before the service's session limit: end this stream cleanly (its last finals commit
 * what it heard) and continue on a new connection from there. The last resort: a
 * finalize in mid-word splits that word across the two connections. */
static gboolean
rotate_deadline_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->rotate_timer, g_source_unref);
  if (s->state != STATE_OPEN || s->end_sent || !s->pstate.info->end_message)
    return G_SOURCE_REMOVE;
  GST_INFO_OBJECT (s->log_object, "max-session-duration reached with no final in sight: "
      "ending the connection");
  session_end_connection_on_purpose (s);
  return G_SOURCE_REMOVE;
}

/* The rotation window opens: the next final gives a clean cut (see rotate_at_final),
 * the deadline falls back to a finalize. */
static gboolean
rotate_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);
  guint window = (guint) (rotate_window (s->cfg->max_session_duration) / GST_MSECOND);

  g_clear_pointer (&s->rotate_timer, g_source_unref);
  if (s->state != STATE_OPEN || s->end_sent)
    return G_SOURCE_REMOVE;
  GST_DEBUG_OBJECT (s->log_object, "max-session-duration near: rotating after the next "
      "final, at the latest in %u ms", window);
  s->rotate_wanted = TRUE;
  s->rotate_timer = stt_io_worker_add_timeout (s->worker, window, rotate_deadline_cb, s,
      NULL);
  return G_SOURCE_REMOVE;
}

/* A final just moved the committed point: a word boundary. Ending the connection here
 * and opening the next one at the committed point loses nothing (the audio after it is
 * in the ring, and the new connection hears it whole) and splits no word. */
static void
rotate_at_final (GstSttSession * s)
{
  if (s->failback_wanted) {
    s->failback_wanted = FALSE;
    s->switch_to = 0;
  }
  GST_INFO_OBJECT (s->log_object, "rotating to a new connection after a final");
  /* Tell the service we are done; its answers to it are not waited for. */
  send_end_message (s);
  /* A resumable service session would carry on where it stood: start a new one. */
  if (s->cfg->provider->forget_session)
    s->cfg->provider->forget_session (&s->pstate);
  s->rotating = TRUE;
  finish (s);
}

static void
on_ws_opened (SttWs * ws, gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);
  guint64 start, end, replayed;
  gchar *startmsg;

  s->state = STATE_OPEN;
  s->ever_connected = TRUE;
  if (s->trial && !s->trial_free)
    s->trial_costly = TRUE;
  /* attempt is reset by the first result, not here: a service that accepts and then
   * fails at once (an in-band 429, a 503) must still back off. */
  s->last_recv = s->last_send = s->pace_start = session_now_us ();
  s->last_progress = s->opened_at = s->last_recv;
  s->blocked_since = 0;
  s->last_audio = 0;
  s->pace_sent = 0;
  if (s->disconnected_since) {
    gst_stt_stats_add (s->stats, GST_STT_STAT_DISCONNECTED_NS,
        (session_now_us () - s->disconnected_since) * GST_USECOND);
    s->disconnected_since = 0;
  }
  gst_stt_stats_add (s->stats, GST_STT_STAT_CONNECTIONS, 1);
  gst_stt_ring_get_range (s->ring, &start, &end);
  /* The service is back with more behind the live edge than a service paced at real
   * time could ever work off: the backlog gets a session of its own. Nothing was sent
   * on this connection yet, so it can still start elsewhere. */
  /* Measured from what the ring still holds: without a spool it never holds more than
   * max-buffer-time, so with the defaults only a spooled outage is given up. */
  if (s->parent == NULL && s->backlog == NULL && s->revision == NULL && s->cfg->live
      && s->cfg->max_lag > 0 && s->connection > 0 && s->conn_sent == 0
      && s->send_pos == s->conn_base
      && end > MAX (s->conn_base, start) + gst_util_uint64_scale (s->cfg->max_lag,
          s->cfg->rate, GST_SECOND) && session_live_edge_moves (s, end)) {
    /* More behind the live edge than max-lag: the text output gives it up (a GAP) and
     * captions the live edge at once; a second session transcribes it for a revision. */
    s->conn_base = s->send_pos = session_skip_backlog (s, s->conn_base, end);
    gst_stt_results_new_origin (s->results, s->conn_base);
  } else if (s->parent == NULL && s->backlog == NULL && !s->no_split && s->cfg->live
      && session_paced (s) && s->connection > 0 && s->conn_sent == 0
      && s->send_pos == s->conn_base
      && end > s->conn_base + s->cfg->rate * BACKLOG_SPLIT_MS / 1000
      && session_behind_real_time (s, s->conn_base) && session_live_edge_moves (s, end)) {
    s->conn_base = s->send_pos = session_start_backlog (s, s->conn_base, end);
    gst_stt_results_new_origin (s->results, s->conn_base);
  }
  replayed = end > s->send_pos ? end - s->send_pos : 0;
  if (s->connection > 0)
    gst_stt_stats_add (s->stats, GST_STT_STAT_SAMPLES_REPLAYED, replayed);

  GST_INFO_OBJECT (s->log_object, "connected to %s (connection %u)",
      s->cfg->provider->display_name, s->connection);
  session_post_connection (s, GST_STT_CONNECTION_CONNECTED, NULL, 101, 0, 0,
      s->connection > 0 ? replayed : 0);
  if (session_is_stopped (s))
    return;

  startmsg = s->pstate.info->start_message ?
      s->pstate.info->start_message (&s->pstate) : NULL;
  /* Audio waits for the start acknowledgement where the protocol asks it (the watchdog
   * bounds a server that never gives it: audio awaits its results). */
  s->awaiting_ready = startmsg != NULL && s->pstate.info->wait_ready;
  if (startmsg) {
    GBytes *b = g_bytes_new_take (startmsg, strlen (startmsg));
    stt_ws_send (s->ws, FALSE, b);
    g_bytes_unref (b);
    gst_stt_stats_add (s->stats, GST_STT_STAT_MESSAGES_OUT, 1);
  }
  if (s->cfg->max_session_duration > 0)
    s->rotate_timer = stt_io_worker_add_timeout (s->worker,
        (guint) ((s->cfg->max_session_duration -
                rotate_window (s->cfg->max_session_duration)) / GST_MSECOND),
                    rotate_cb, s,
        NULL);
  session_pump (s);
}

static void
on_ws_failed (SttWs * ws, guint status, gint retry_after, const GError * error,
    gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);
  SttFailure f = status ? stt_provider_classify_http (&s->pstate, status) :
      STT_FAILURE_RETRY;
  GstSttFailure c = failure_at (s, GST_STT_FAILED_CONNECT, f, status, 0);
  GstSttDecision d;
  g_autofree gchar *text = NULL;
  g_autofree gchar *debug = NULL;

  c.tls_error = !status && stt_tls_is_error (error);
  d = gst_stt_retry_decide (&c);
  if (d.verdict == GST_STT_VERDICT_FAIL && d.why == GST_STT_FATAL_TLS) {
    /* A certificate does not fix itself: say so instead of retrying. */
    g_autofree gchar *t = g_strdup_printf ("TLS failure connecting to %s at %s: %s. For "
        "a private CA set tls-ca-file", s->cfg->provider->display_name, s->url_redacted,
        error->message);
    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, t, NULL,
        0, 0);
    return;
  }
  if (d.verdict == GST_STT_VERDICT_FAIL && d.why == GST_STT_FATAL_UNREACHABLE) {
    /* Never reached at all: most likely the wrong place, or a server not started. Say
     * what was tried rather than retrying forever in silence. The provider's hint (e.g.
     * "start stt-local-server") fits only when nothing listens there. */
    const gchar *hint = error && g_error_matches (error, G_IO_ERROR,
        G_IO_ERROR_CONNECTION_REFUSED) ? s->cfg->provider->unreachable_hint : NULL;
    g_autofree gchar *t = g_strdup_printf ("Could not connect to %s at %s: %s.%s%s",
        s->cfg->provider->display_name, s->url_redacted,
        error ? error->message : "no answer", hint ? " " : "", hint ? hint : "");

    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, t, NULL,
        0, 0);
    return;
  }
  if (status >= 300 && status < 400)
    text = g_strdup_printf ("%s answered with a redirect: %s",
        s->cfg->provider->display_name,
        error ? error->message : "HTTP 3xx");
  else if (status)
    text = g_strdup_printf ("%s refused the connection: HTTP %u",
        s->cfg->provider->display_name,
        status);
  else
    text = g_strdup_printf ("Could not connect to %s: %s", s->cfg->provider->display_name,
        error ? error->message : "unknown error");
  debug = g_strdup_printf ("failure class: %s", stt_failure_name (f));

  if (d.verdict == GST_STT_VERDICT_FAIL && d.code == GST_RESOURCE_ERROR_NOT_AUTHORIZED) {
    g_autofree gchar *env = stt_provider_env_key_name (s->cfg->provider);
    /* A token minted a moment ago is refused for what it says, not for its age: a new
     * one would be refused too. */
    g_autofree gchar *t = s->cred.signed_token ?
        g_strdup_printf ("%s rejected the signed token (HTTP %u): check token-secret "
        "(or token-secret-file) and token-claims", s->cfg->provider->display_name,
            status) :
        s->cfg->provider->aws_credentials ?
        g_strdup_printf ("%s rejected the credentials (HTTP %u) from %s: check "
        "access-key, secret-access-key and session-token (or $AWS_ACCESS_KEY_ID, "
        "$AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN, the AWS profile), and the clock",
        s->cfg->provider->display_name, status,
            s->cred.aws.source ? s->cred.aws.source : "?") :
        g_strdup_printf ("%s rejected the credentials (HTTP %u): check "
        "api-key, api-key-file, %s or STT_API_KEY",
        s->cfg->provider->display_name, status, env);
    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, t, debug,
        status, 0);
    return;
  }
  act_on (s, d, text, debug, status, 0, retry_after);
}

static void
on_ws_closed (SttWs * ws, gushort code, const gchar * reason, gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);
  SttFailure f = stt_provider_classify_close (&s->pstate, code, reason);
  GstSttFailure c;
  g_autofree gchar *text = NULL;

  GST_INFO_OBJECT (s->log_object, "connection closed: %u '%s'", code, reason);
  if (s->end_sent && code == 1000 && s->pstate.info->end_ack_is_close
      && gst_stt_results_open_segments (s->results) == 0) {
    /* The service's end-of-audio acknowledgement is its normal close: every result
     * for what this connection was sent is out, trailing silence included. It sends
     * the final of every segment it opened before it closes, so a close with a
     * partial still open is a connection lost before its last results (below). */
    outage_over (s);
    commit (s, s->send_pos);
    session_notify_committed (s);
    finish (s);
    return;
  }
  if (s->end_sent && s->committed >= s->send_pos) {
    /* Every result for what was sent is in: nothing to wait for. */
    finish (s);
    return;
  }
  text = g_strdup_printf ("%s closed the connection: %u%s%s%s",
      s->cfg->provider->display_name, code, *reason ? " " : "", reason,
      s->end_sent ? " (before its last results)" : "");
  c = failure_at (s, GST_STT_FAILED_CLOSE, f, 0, code);
  act_on (s, gst_stt_retry_decide (&c), text, NULL, 0, code, -1);
}

static const SttWsCallbacks ws_callbacks = {
  .opened = on_ws_opened,
  .failed = on_ws_failed,
  .message = on_ws_message,
  .pong = on_ws_pong,
  .closed = on_ws_closed,
};

/* ------------------------------------------------------------------------------------ */
/* Connecting, failing, retrying */

gchar *
gst_stt_session_resolve_key (const SttProviderInfo * info, const gchar * api_key,
    const gchar * api_key_file, GError ** error)
{
  return gst_stt_credentials_resolve_key (info, api_key, api_key_file, error);
}

gchar *
gst_stt_session_resolve_secret (const gchar * token_secret,
    const gchar * token_secret_file, GError ** error)
{
  return gst_stt_credentials_resolve_secret (token_secret, token_secret_file, error);
}

gboolean
gst_stt_session_check_url (const gchar * property, const gchar * url,
    const gchar * const *schemes, gboolean * cleartext, GError ** error)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *redacted = NULL;
  const gchar *host;
  guint i;

  if (cleartext)
    *cleartext = FALSE;
  if (url == NULL || *url == '\0')
    return TRUE;
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  host = uri ? g_uri_get_host (uri) : NULL;
  for (i = 0; uri && schemes[i]; i++) {
    if (g_ascii_strcasecmp (g_uri_get_scheme (uri), schemes[i]) == 0)
      break;
  }
  if (uri == NULL || schemes[i] == NULL || host == NULL || *host == '\0') {
    g_autofree gchar *list = g_strjoinv ("://, ", (gchar **) schemes);

    redacted = stt_redact_url (url);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s '%s' is not a usable URL: it needs %s:// and a host", property, redacted,
        list);
    return FALSE;
  }
  if (cleartext && (g_ascii_strcasecmp (g_uri_get_scheme (uri), "ws") == 0
          || g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") == 0)) {
    g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (host);

    *cleartext = !(addr ? g_inet_address_get_is_loopback (addr)
        : g_ascii_strcasecmp (host, "localhost") == 0);
  }
  return TRUE;
}

/* Second half of an attempt: the WebSocket handshake, with the key settled. */
static void
connect_ws (GstSttSession * s)
{
  SttRequest req = { 0, };
  GError *err = NULL;
  g_autofree gchar *redacted = NULL;
  GPtrArray *headers;
  SttWsOptions opts = { 0, };
  guint i;

  if (!s->cfg->provider->build_request (&s->pstate, &req, &err)) {
    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, err->message,
        NULL, 0,
        0);
    g_error_free (err);
    stt_request_clear (&req);
    return;
  }

  headers = g_ptr_array_new ();
  for (i = 0; req.headers && i < req.headers->len; i++)
    g_ptr_array_add (headers, g_ptr_array_index (req.headers, i));
  for (i = 0; s->tgt->extra_headers && s->tgt->extra_headers[i]; i++)
    g_ptr_array_add (headers, s->tgt->extra_headers[i]);
  g_ptr_array_add (headers, NULL);

  redacted = redact_url (s, req.url);
  g_free (s->url_redacted);
  s->url_redacted = g_strdup (redacted);
  GST_INFO_OBJECT (s->log_object, "connecting to %s (attempt %u)", redacted,
      s->attempt + 1);
  session_post_connection (s, GST_STT_CONNECTION_CONNECTING, redacted, 0, 0, 0, 0);
  if (session_is_stopped (s)) {
    g_ptr_array_unref (headers);
    stt_request_clear (&req);
    return;
  }

  opts.url = req.url;
  opts.headers = (const gchar * const *) headers->pdata;
  opts.protocols = (const gchar * const *) req.protocols;
  opts.keepalive_interval = (guint) (s->cfg->keepalive_interval / GST_SECOND);
  /* Live: the pongs tell how far the server can be vouched for (update_promised), so
   * ping often enough for the promise to keep up with `latency`. */
  if (s->cfg->live && opts.keepalive_interval > 0)
    opts.keepalive_interval = MIN (opts.keepalive_interval,
        (guint) MAX (s->cfg->latency / 2 / GST_SECOND, 1));
  opts.tls_validate = s->cfg->tls_validate;
  opts.tls_database = s->tls_db;
  s->ws = stt_ws_connect (s->worker, &opts, &ws_callbacks, s);
  g_ptr_array_unref (headers);
  stt_request_clear (&req);
}

static void
on_init (SttHttp * http, guint status, GBytes * body, const GError * error,
    gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);
  gsize len = 0;
  const guint8 *data = body ? g_bytes_get_data (body, &len) : NULL;
  GError *err = NULL;
  g_autofree gchar *text = NULL;
  SttFailure f;
  GstSttFailure c;

  s->http = NULL;
  stt_http_free (http);
  if (status >= 200 && status < 300) {
    if (s->cfg->provider->parse_init_response (&s->pstate, status, data, len, &err)) {
      connect_ws (s);
      return;
    }
    text = g_strdup_printf ("%s's session set-up answer is unusable: %s",
        s->cfg->provider->display_name, err ? err->message : "unknown");
    g_clear_error (&err);
    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, text, NULL, status,
        0);
    return;
  }
  f = status ? stt_provider_classify_http (&s->pstate, status) : STT_FAILURE_RETRY;
  if (status >= 300 && status < 400)
    text = g_strdup_printf ("%s answered the session set-up with a redirect: %s",
        s->cfg->provider->display_name, error ? error->message : "HTTP 3xx");
  else if (status)
    text = g_strdup_printf ("%s refused the session set-up: HTTP %u",
        s->cfg->provider->display_name, status);
  else
    text = g_strdup_printf ("Could not reach %s for the session set-up: %s",
        s->cfg->provider->display_name, error ? error->message : "no answer");
  c = failure_at (s, GST_STT_FAILED_SETUP, f, status, 0);
  act_on (s, gst_stt_retry_decide (&c), text, NULL, status, 0, -1);
}

/* With the key settled: the provider's HTTP step if it has one, then the WebSocket. */
static void
connect_with_key (GstSttSession * s)
{
  SttHttpInit init = { 0, };
  GPtrArray *headers;
  g_autofree gchar *redacted = NULL;
  guint i;

  g_clear_pointer (&s->attempt_url, gst_stt_wipe_free);
  /* A relay's URL template names where the token goes. */
  s->attempt_url = gst_stt_credentials_fill_url (&s->cred, s->cfg->url);
  s->pcfg = gst_stt_target_provider_config (s->tgt, s->attempt_url, &s->cred);
  if (!s->cfg->provider->build_init_request
      || !s->cfg->provider->build_init_request (&s->pstate, &init)) {
    stt_http_init_clear (&init);
    connect_ws (s);
    return;
  }
  headers = g_ptr_array_new ();
  for (i = 0; init.headers && i < init.headers->len; i++)
    g_ptr_array_add (headers, g_ptr_array_index (init.headers, i));
  g_ptr_array_add (headers, NULL);
  redacted = redact_url (s, init.url);
  GST_INFO_OBJECT (s->log_object, "session set-up: %s %s", init.method, redacted);
  s->http = stt_http_request (s->worker, init.method, init.url,
      (const gchar * const *) headers->pdata, init.body, init.content_type,
      s->cfg->tls_validate, s->tls_db, on_init, s);
  g_ptr_array_unref (headers);
  stt_http_init_clear (&init);
}

/* The token service's answer: a temporary token for this attempt, or the failure. */
static void
on_token (SttHttp * http, guint status, GBytes * body, const GError * error,
    gpointer user_data)
{
  GstSttSession *s = user_data;
  HOLD (s);
  gsize len = 0;
  const gchar *data = body ? g_bytes_get_data (body, &len) : NULL;
  g_autofree gchar *text = NULL;
  GError *err = NULL;

  s->http = NULL;
  stt_http_free (http);
  if (status == 0 || status >= 300) {
    GstSttFailure c = failure_at (s, GST_STT_FAILED_TOKEN_SERVICE, STT_FAILURE_NONE,
        status, 0);
    GstSttDecision d;

    c.tls_error = status == 0 && stt_tls_is_error (error);
    d = gst_stt_retry_decide (&c);
    if (d.verdict == GST_STT_VERDICT_FAIL && d.why == GST_STT_FATAL_TLS)
      text = g_strdup_printf ("TLS failure reaching the token service: %s. For a private "
          "CA set tls-ca-file", error->message);
    else if (d.verdict == GST_STT_VERDICT_RETRY)
      text = g_strdup_printf ("The token service failed: %s", status ?
          soup_status_get_phrase (status) : (error ? error->message : "no answer"));
    else
      text = g_strdup_printf ("The token service refused the request: HTTP %u%s%s",
          status,
          error ? ": " : "", error ? error->message : "");
    act_on (s, d, text, NULL, status, 0, -1);
    return;
  }
  clear_key (s);
  if (!gst_stt_credentials_take_token (&s->cred, &s->tgt->cred_src, data, len, &err)) {
    session_fail (s, err->domain, err->code, err->message, NULL, status, 0);
    g_error_free (err);
    return;
  }
  GST_DEBUG_OBJECT (s->log_object, "got a temporary token");
  connect_with_key (s);
}

/* Fetches a temporary token for this attempt. */
static void
fetch_token (GstSttSession * s)
{
  g_autofree gchar *redacted = stt_redact_url (s->cfg->token_url);

  GST_INFO_OBJECT (s->log_object, "fetching a token from %s", redacted);
  s->http = gst_stt_credentials_fetch_token (&s->tgt->cred_src, s->worker, s->tls_db,
      on_token,
      s);
}

/* A provider whose service session outlives a connection continues it: same time
 * origin (conn_base and the map stay), sending from what the service acknowledged.
 * Returns FALSE for a new session. */
static gboolean
resume (GstSttSession * s, guint64 ring_start)
{
  guint64 acked = 0, pos;

  if (s->connection == 0 || !s->cfg->provider->resume_point
      || !s->cfg->provider->resume_point (&s->pstate, &acked))
    return FALSE;
  pos = gst_stt_results_conn_to_stream (s->results, acked);
  if (pos < ring_start || acked > s->conn_sent) {
    /* What follows the acknowledged point is gone (or was never sent): start over. */
    GST_INFO_OBJECT (s->log_object, "cannot resume the service session: starting anew");
    if (s->cfg->provider->forget_session)
      s->cfg->provider->forget_session (&s->pstate);
    return FALSE;
  }
  GST_INFO_OBJECT (s->log_object, "resuming the service session at %" G_GUINT64_FORMAT
      " samples", acked);
  s->send_pos = pos;
  s->conn_sent = acked;
  return TRUE;
}

/* A fresh signed token for this attempt, iat now. FALSE with @error if there is none. */
static gboolean
mint_token (GstSttSession * s, GError ** error)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  clear_key (s);
  if (!gst_stt_credentials_mint (&s->cred, &s->tgt->cred_src, now, error))
    return FALSE;
  GST_DEBUG_OBJECT (s->log_object, "signed a token: iat %" G_GINT64_FORMAT ", exp %"
      G_GINT64_FORMAT, now, now + (gint64) s->cfg->token_lifetime);
  return TRUE;
}

/* Starts an attempt: a new connection at the committed point (or, for a resumable
 * service session, where the service stands). */
static void
session_connect (GstSttSession * s)
{
  guint64 start, end;
  GError *err = NULL;

  if (s->state == STATE_DONE || session_is_stopped (s))
    return;
  session_teardown_connection (s);
  session_clear_source (&s->retry_timer);
  if (s->tls_db_error) {
    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, s->tls_db_error,
        NULL,
        0, 0);
    return;
  }

  s->pstate.info = s->cfg->provider;
  s->pstate.config = &s->pcfg;
  gst_stt_ring_get_range (s->ring, &start, &end);
  if (!resume (s, start)) {
    /* A new service session: everything after the committed point is sent again, as
     * far as the ring still has it. */
    if (start > s->committed)
      report_loss_ring (s, start);
    if (session_is_stopped (s))
      return;
    s->conn_base = MAX (s->committed, start);
    if (s->backlog)
      /* A reconnect while the backlog works: on from this session's own part. */
      s->conn_base = MAX (s->conn_base, MAX (s->split - s->cfg->rate * BACKLOG_PRE_MS /
              1000, s->live_committed));
    s->send_pos = s->conn_base;
    s->conn_sent = 0;
    gst_stt_results_new_origin (s->results, s->conn_base);
  }
  s->end_sent = FALSE;
  s->finalize_sent = FALSE;
  s->rotating = FALSE;
  s->rotate_wanted = FALSE;
  s->state = STATE_CONNECTING;

  if (gst_stt_credentials_has_secret (&s->tgt->cred_src)) {
    if (!mint_token (s, &err)) {
      session_fail (s, err->domain, err->code, err->message, NULL, 0, 0);
      g_error_free (err);
      return;
    }
    connect_with_key (s);
    return;
  }
  if (s->cfg->token_url && *s->cfg->token_url) {
    fetch_token (s);
    return;
  }
  if (!gst_stt_credentials_use_key (&s->cred, &s->tgt->cred_src, &err)) {
    session_fail (s, err->domain, err->code, err->message, NULL, 0, 0);
    g_error_free (err);
    return;
  }
  connect_with_key (s);
}

static void
session_fail (GstSttSession * s, GQuark domain, gint code, const gchar * error_text,
    const gchar * error_debug, guint http_status, gint close_code)
{
  /* Before the teardown forgets the token (a server's words may quote it). */
  g_autofree gchar *text = scrub (s, error_text);
  g_autofree gchar *debug = scrub (s, error_debug);
  guint64 end;

  if (s->state == STATE_DONE)
    return;
  if (session_fail_over (s, text, TRUE))
    return;
  GST_WARNING_OBJECT (s->log_object, "fatal: %s", text);
  /* The error says it; the stats count what it leaves untranscribed. */
  gst_stt_ring_get_range (s->ring, NULL, &end);
  if (s->range_end)
    end = MIN (end, s->range_end);
  session_stop_backlog (s);
  /* A backlog session's audio is its live session's to account for. */
  if (s->parent == NULL)
    session_report_loss (s, s->committed, end, FALSE, text);
  session_teardown_connection (s);
  session_clear_source (&s->retry_timer);
  s->state = STATE_DONE;
  session_post_connection (s, GST_STT_CONNECTION_FAILED, text, http_status, close_code,
      0, 0);
  if (s->cb.error && !session_is_stopped (s))
    s->cb.error (s, domain, code, text, debug, http_status, close_code, s->user_data);
}

/* No more attempts. What the service never transcribed is said on the bus; then a drain
 * ends (the stream goes on to EOS with what arrived) and a stream in mid-flight fails. */
static void
give_up (GstSttSession * s, const gchar * why, guint http_status, gint close_code)
{
  guint64 end;

  if (s->state == STATE_DONE)
    return;
  if (session_fail_over (s, why, TRUE))
    return;
  gst_stt_ring_get_range (s->ring, NULL, &end);
  if (s->parent == NULL)
    session_report_loss (s, s->committed, end, TRUE, why);
  if (!s->draining || s->parent) {
    session_fail (s, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, why, NULL,
        http_status, close_code);
    return;
  }
  GST_WARNING_OBJECT (s->log_object, "giving up the drain: %s", why);
  session_teardown_connection (s);
  session_clear_source (&s->retry_timer);
  s->state = STATE_DONE;
  session_post_connection (s, GST_STT_CONNECTION_FAILED, why, http_status, close_code,
      0, 0);
  if (s->cb.drained && !session_is_stopped (s))
    s->cb.drained (s, s->user_data);
}

static gboolean
retry_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->retry_timer, g_source_unref);
  s->connection++;
  gst_stt_stats_add (s->stats, GST_STT_STAT_RECONNECTS, 1);
  session_connect (s);
  return G_SOURCE_REMOVE;
}

/* GNetworkMonitor says the network is back: a backoff wait ends now. */
static void
on_network_back (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  if (s->state != STATE_WAITING || s->retry_timer == NULL)
    return;
  GST_INFO_OBJECT (s->log_object, "network available again: reconnecting now");
  session_clear_source (&s->retry_timer);
  retry_cb (s);
}

static gdouble
random_double (gpointer data)
{
  return g_random_double ();
}

/* Another attempt after the backoff (gst_stt_retry_backoff), or the end of the tries. */
void
session_retry (GstSttSession * s, const gchar * why, guint http_status, gint close_code,
    gint retry_after)
{
  /* Before the teardown forgets the token (a server's words may quote it). */
  g_autofree gchar *reason = scrub (s, why);
  GstClockTime delay = 0;
  GstSttBackoff backoff = {
    .initial_delay = s->cfg->reconnect_initial_delay,
    .max_delay = s->cfg->reconnect_max_delay,
    .max_attempts = s->cfg->reconnect_max_attempts,
  };

  if (s->state == STATE_DONE)
    return;
  /* The primary on trial failed: the backup carries on at once, it is not waited for. */
  if (s->trial && session_fail_over (s, reason, FALSE))
    return;
  /* Once told to stop, a service session is over: what it had not finished is heard by
   * a new one, never by the old one resumed. */
  if (s->end_sent && s->cfg->provider->forget_session)
    s->cfg->provider->forget_session (&s->pstate);
  session_teardown_connection (s);
  s->attempt++;
  if (!s->disconnected_since)
    s->disconnected_since = session_now_us ();
  if (!s->outage_since)
    s->outage_since = session_now_us ();
  g_free (s->last_failure);
  s->last_failure = g_strdup (reason);
  if (!gst_stt_retry_backoff (&backoff, s->attempt, retry_after, random_double, NULL,
          &delay)) {
    g_autofree gchar *t = g_strdup_printf ("Gave up on %s after %u attempt(s) "
        "(reconnect-max-attempts): %s", s->cfg->provider->display_name, s->attempt,
            reason);
    give_up (s, t, http_status, close_code);
    return;
  }
  GST_INFO_OBJECT (s->log_object, "retrying in %" GST_TIME_FORMAT ": %s",
      GST_TIME_ARGS (delay), reason);
  s->state = STATE_WAITING;
  __atomic_store_n (&s->wake_at, G_MAXUINT64, __ATOMIC_RELEASE);
  session_post_connection (s, GST_STT_CONNECTION_RECONNECTING, reason, http_status,
      close_code,
      delay, 0);
  if (session_is_stopped (s))
    return;
  s->retry_timer = stt_io_worker_add_timeout (s->worker, (guint) (delay / GST_MSECOND),
      retry_cb, s, NULL);
}

/* ------------------------------------------------------------------------------------ */
/* Sending */

static gboolean
pace_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->pace_timer, g_source_unref);
  session_pump (s);
  return G_SOURCE_REMOVE;
}

gboolean
session_paced (GstSttSession * s)
{
  switch (s->cfg->pacing) {
    case GST_STT_PACING_REALTIME:
      return TRUE;
    case GST_STT_PACING_NONE:
      return FALSE;
    default:
      return s->cfg->provider->realtime_only;
  }
}

static void
send_chunk (GstSttSession * s, gsize n)
{
  SttFrameType type;
  GBytes *frame;
  gint64 arrival, now = session_now_us ();
  guint64 before = s->send_pos;

  n = gst_stt_ring_read (s->ring, &s->send_pos, s->scratch, n);
  GST_LOG_OBJECT (s->log_object, "sending %" G_GSIZE_FORMAT " samples at %"
      G_GUINT64_FORMAT, n, s->send_pos);
  if (s->send_pos != before) {
    /* The ring dropped audio we had not sent: remember the seam for the timeline. */
    gst_stt_results_add_seam (s->results, s->conn_sent, s->send_pos);
    session_report_loss (s, before, s->send_pos, TRUE,
        "the replay ring (max-buffer-time) "
        "overflowed before the audio could be sent");
    if (session_is_stopped (s))
      return;
  }
  if (n == 0)
    return;
  frame = s->pstate.info->frame_audio (&s->pstate, s->scratch, n * s->bps, &type);
  stt_ws_send (s->ws, type == STT_FRAME_BINARY, frame);
  gst_stt_stats_add (s->stats, GST_STT_STAT_BYTES_SENT, g_bytes_get_size (frame));
  g_bytes_unref (frame);

  arrival = gst_stt_ring_get_arrival (s->ring, s->send_pos);
  /* The element's own delay: audio that came while this connection was open (what
   * waited for a connection is told by time-disconnected and audio-replayed). */
  if (arrival > 0 && s->cfg->live && arrival >= s->opened_at)
    gst_stt_stats_observe (s->stats, GST_STT_HIST_SEND_DELAY,
        (now - arrival) * GST_USECOND);
  s->send_pos += n;
  s->conn_sent += n;
  s->pace_sent += n;
  s->last_send = s->last_audio = now;
  progress (s);
  s->pstate.frames_sent++;
  gst_stt_results_mark_sent (s->results, s->send_pos, now);
  gst_stt_stats_add (s->stats, GST_STT_STAT_SAMPLES_SENT, n);
  gst_stt_stats_add (s->stats, GST_STT_STAT_MESSAGES_OUT, 1);
}

static void
send_text (GstSttSession * s, gchar * text)
{
  GBytes *b = g_bytes_new_take (text, strlen (text));

  stt_ws_send (s->ws, FALSE, b);
  g_bytes_unref (b);
  gst_stt_stats_add (s->stats, GST_STT_STAT_MESSAGES_OUT, 1);
}

#define FINALIZE_GRACE_MS 2000
#define FINALIZE_WAIT_MS 2000

static gboolean
finalize_grace_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->finalize_timer, g_source_unref);
  if (s->state == STATE_OPEN && s->finalize_sent && !s->end_sent
      && s->pstate.info->end_message) {
    /* No final (a service that answers a finalize in silence with nothing): only the
     * service's word may release the audio, so ask for its end-of-audio acknowledgement
     * and go on with a new connection. */
    GST_DEBUG_OBJECT (s->log_object, "no final after finalize: ending the connection");
    session_end_connection_on_purpose (s);
  }
  return G_SOURCE_REMOVE;
}

static void
session_pump (GstSttSession * s)
{
  guint64 start, end;
  gboolean at_end = FALSE;

  if (s->state != STATE_OPEN || s->end_sent || s->awaiting_ready
      || session_is_stopped (s))
    return;

  for (;;) {
    guint64 avail, n;

    gst_stt_ring_get_range (s->ring, &start, &end);
    if (s->range_end)
      end = MIN (end, s->range_end);
    avail = end > s->send_pos ? end - s->send_pos : 0;
    at_end = session_at_end (s, end);
    /* Whole chunks only, except for the tail at end of stream, and of a non-live ring
     * that is full: nothing more comes before a commit, and asking for finals (below)
     * waits for all of it to be out. */
    if (avail == 0 || (avail < s->chunk_samples && !at_end && (s->cfg->live
                || s->range_end || !gst_stt_ring_is_full (s->ring)))) {
      /* A second session at the live edge: the ring's writer wakes only its live
       * session, so look again in a chunk's time. */
      if (s->parent && !at_end && !s->pace_timer)
        s->pace_timer = stt_io_worker_add_timeout (s->worker,
            (guint) MAX (gst_util_uint64_scale (s->chunk_samples, 1000, s->cfg->rate),
                20), pace_cb, s, NULL);
      break;
    }
    n = MIN (avail, s->chunk_samples);
    if (!stt_ws_can_send (s->ws)) {
      /* The server reads no more: keep the audio in the ring (its rules apply: live
       * drops the oldest, non-live waits), not in libsoup's queue; look again soon. The
       * watchdog takes a server that takes nothing for stall-timeout as stalled. */
      if (!s->blocked_since)
        s->blocked_since = session_now_us ();
      if (!s->pace_timer)
        s->pace_timer = stt_io_worker_add_timeout (s->worker, 50, pace_cb, s, NULL);
      return;
    }
    s->blocked_since = 0;
    if (session_paced (s)) {
      gint64 elapsed = session_now_us () - s->pace_start;
      guint64 allowed = gst_util_uint64_scale (elapsed, s->cfg->rate, G_USEC_PER_SEC) +
          s->chunk_samples;

      if (s->pace_sent + n > allowed) {
        guint64 wait_us = gst_util_uint64_scale (s->pace_sent + n - allowed,
            G_USEC_PER_SEC, s->cfg->rate);
        if (!s->pace_timer)
          s->pace_timer = stt_io_worker_add_timeout (s->worker,
              (guint) MAX (wait_us / 1000, 1), pace_cb, s, NULL);
        return;
      }
    }
    send_chunk (s, n);
    if (s->state != STATE_OPEN)
      return;
  }

  if (at_end && !s->end_sent && s->send_pos >= end) {
    GST_DEBUG_OBJECT (s->log_object, "all audio sent, ending the stream");
    s->end_sent = TRUE;
    session_post_connection (s, GST_STT_CONNECTION_DRAINING, NULL, 0, 0, 0, 0);
    if (session_is_stopped (s))
      return;
    if (!send_end_message (s))
      finish (s);
    return;
  }

  /* A blocked upstream (non-live, ring full) waits for finals that may only come when
   * the service is told to finalize: tell it, once per commit, but only once the
   * service has had FINALIZE_WAIT_MS to answer what it was sent (a finalize cuts the
   * word in progress in two: not while finals are still coming). A service that has no
   * words to finalize (silence) may answer nothing: see finalize_grace_cb. */
  if (!s->cfg->live && s->parent == NULL && !s->finalize_sent && s->send_pos >= end
      && gst_stt_ring_is_full (s->ring)) {
    gint64 quiet = session_now_us () - MAX (s->last_commit, s->last_send);

    if (quiet < FINALIZE_WAIT_MS * 1000) {
      if (!s->pace_timer)
        s->pace_timer = stt_io_worker_add_timeout (s->worker,
            (guint) (FINALIZE_WAIT_MS - quiet / 1000) + 1, pace_cb, s, NULL);
      return;
    }
    GST_DEBUG_OBJECT (s->log_object, "replay ring full: asking for finals");
    s->finalize_sent = TRUE;
    if (s->pstate.info->finalize_message)
      send_text (s, s->pstate.info->finalize_message (&s->pstate));
    session_clear_source (&s->finalize_timer);
    s->finalize_timer = stt_io_worker_add_timeout (s->worker, FINALIZE_GRACE_MS,
        finalize_grace_cb, s, NULL);
  }

  __atomic_store_n (&s->wake_at, s->send_pos + s->wake_batch, __ATOMIC_RELEASE);
  /* A write may have landed between our look at the ring and publishing wake_at. */
  gst_stt_ring_get_range (s->ring, NULL, &end);
  if (end >= s->send_pos + s->wake_batch && !s->pace_timer)
    session_pump (s);
}

/* ------------------------------------------------------------------------------------ */
/* Public, any thread */

GstSttSession *
gst_stt_session_new (GstSttSettings * config, GstSttRing * ring,
    GstSttTimeline * timeline, GstSttStats * stats, const GstSttSessionCallbacks * cb,
    gpointer user_data, GstObject * log_object)
{
  return session_new_on (config, ring, timeline, stats, cb, user_data, log_object, NULL);
}

/* A session on @worker (NULL: the least loaded). */
GstSttSession *
session_new_on (GstSttSettings * config, GstSttRing * ring, GstSttTimeline * timeline,
    GstSttStats * stats, const GstSttSessionCallbacks * cb, gpointer user_data,
    GstObject * log_object, SttIoWorker * worker)
{
  static gsize cat = 0;
  GstSttSession *s = g_new0 (GstSttSession, 1);
  GError *err = NULL;

  if (g_once_init_enter (&cat)) {
    GST_DEBUG_CATEGORY_INIT (stt_session_debug, "sttsession", 0,
        "speech-to-text session state machine");
    g_once_init_leave (&cat, 1);
  }
  s->refcount = 1;
  s->targets = gst_stt_targets_new (config, &s->n_targets, &err);
  if (s->targets == NULL) {
    /* The engine checked the backups at start: only the primary is left. */
    GST_ERROR_OBJECT (log_object, "%s", err->message);
    g_clear_error (&err);
    g_clear_pointer (&config->backups, g_ptr_array_unref);
    s->targets = gst_stt_targets_new (config, &s->n_targets, NULL);
  }
  s->tgt = &s->targets[0];
  s->cfg = &s->tgt->cfg;
  s->switch_to = G_MAXUINT;
  s->carried_from = s->keep = G_MAXUINT64;
  gst_stt_split_init (&s->bound, G_MAXUINT64);
  s->ring = ring;
  s->timeline = timeline;
  s->stats = stats;
  s->cb = *cb;
  s->user_data = user_data;
  s->log_object = gst_object_ref (log_object);
  s->worker = worker ? stt_io_worker_retain (worker) : stt_io_pool_acquire ();
  s->bps = 2;
  s->chunk_samples = MAX (gst_util_uint64_scale (s->cfg->chunk_duration, s->cfg->rate,
          GST_SECOND), 1);
  if (!s->cfg->live && !s->cfg->chunk_duration_set && !session_paced (s)
      && s->cfg->provider->file_frame_ms) {
    /* Audio sent as fast as the service reads it: the largest frames it takes, at most
     * a quarter of the ring. */
    guint64 big = gst_util_uint64_scale (s->cfg->provider->file_frame_ms, s->cfg->rate,
        1000);

    big = MIN (big, gst_stt_ring_get_capacity (ring) / 4);
    s->chunk_samples = MAX (s->chunk_samples, big);
  }
  s->scratch = g_malloc (s->chunk_samples * s->bps);
  /* Live audio leaves as soon as a chunk is complete. Non-live: batched, but never more
   * than a quarter of the ring, so a filling ring is still drained in time. */
  s->wake_batch = s->chunk_samples;
  if (!s->cfg->live) {
    guint64 batch = gst_util_uint64_scale (WAKE_BATCH_MS, s->cfg->rate, 1000);

    batch = MIN (batch, gst_stt_ring_get_capacity (ring) / 4);
    s->wake_batch = MAX (batch, s->chunk_samples);
  }
  s->results = gst_stt_results_new (s->cfg->rate, s->cfg->provider->name, timeline, stats,
      log_object);
  s->wake_at = G_MAXUINT64;
  if (s->cfg->tls_ca_file && *s->cfg->tls_ca_file) {
    GError *err = NULL;

    s->tls_db = g_tls_file_database_new (s->cfg->tls_ca_file, &err);
    if (s->tls_db == NULL) {
      s->tls_db_error = g_strdup_printf ("Cannot load tls-ca-file %s: %s",
          s->cfg->tls_ca_file, err->message);
      g_error_free (err);
    }
  }
  g_mutex_init (&s->stop_lock);
  g_cond_init (&s->stop_cond);
  return s;
}

static gboolean
stats_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  if (s->cb.stats && !session_is_stopped (s))
    s->cb.stats (s, s->user_data);
  return G_SOURCE_CONTINUE;
}

gboolean
session_start_cb (gpointer data)
{
  GstSttSession *s = data;

  if (s->state == STATE_IDLE) {
    s->network_watch = stt_io_worker_watch_network (s->worker, on_network_back, s);
    s->tick_watch = stt_io_worker_watch_tick (s->worker, session_tick, s);
    if (s->n_targets > 1 && s->cfg->live && s->cfg->failover_after > 0)
      s->failover_timer = stt_io_worker_add_timeout (s->worker, FAILOVER_CHECK_MS,
          session_failover_timer_cb, s, NULL);
    if (s->cfg->stats_interval > 0 && s->cfg->stats_interval % GST_SECOND == 0)
      s->stats_next = session_now_us () + (gint64) (s->cfg->stats_interval / GST_USECOND);
    else if (s->cfg->stats_interval > 0)
      s->stats_timer = stt_io_worker_add_timeout (s->worker,
          (guint) MAX (s->cfg->stats_interval / GST_MSECOND, 10), stats_cb, s, NULL);
    session_connect (s);
  }
  return G_SOURCE_REMOVE;
}

void
gst_stt_session_start (GstSttSession * s)
{
  stt_io_worker_invoke (s->worker, session_start_cb, session_ref (s),
      (GDestroyNotify) gst_stt_session_unref);
}

static gboolean
wake_cb (gpointer data)
{
  GstSttSession *s = data;

  g_atomic_int_set (&s->wake_pending, 0);
  session_pump (s);
  return G_SOURCE_REMOVE;
}

void
gst_stt_session_wake (GstSttSession * s)
{
  guint64 start, end;

  gst_stt_ring_get_range (s->ring, &start, &end);
  if (end < __atomic_load_n (&s->wake_at, __ATOMIC_ACQUIRE)
      /* Non-live, a ring about to fill is drained at once: a writer blocked on a full
       * ring cannot wake us. */
      && (s->cfg->live
          || end - start + s->wake_batch < gst_stt_ring_get_capacity (s->ring)))
    return;
  if (g_atomic_int_compare_and_exchange (&s->wake_pending, 0, 1))
    stt_io_worker_invoke_batched (s->worker, wake_cb, session_ref (s),
        (GDestroyNotify) gst_stt_session_unref);
}

static gboolean
drain_cb (gpointer data)
{
  GstSttSession *s = data;

  if (s->state == STATE_DONE)
    return G_SOURCE_REMOVE;
  s->draining = TRUE;
  /* If we are between connections, the next one sends the rest. */
  session_pump (s);
  return G_SOURCE_REMOVE;
}

void
gst_stt_session_drain (GstSttSession * s)
{
  stt_io_worker_invoke (s->worker, drain_cb, session_ref (s),
      (GDestroyNotify) gst_stt_session_unref);
}

static gboolean
stop_cb (gpointer data)
{
  GstSttSession *s = data;

  session_teardown_connection (s);
  session_clear_source (&s->retry_timer);
  session_clear_source (&s->stats_timer);
  session_clear_source (&s->failback_timer);
  session_clear_source (&s->failover_timer);
  g_clear_pointer (&s->probe, gst_stt_probe_free);
  if (s->backlog) {
    gst_stt_session_stop (s->backlog);
    g_clear_pointer (&s->backlog, gst_stt_session_unref);
  }
  if (s->revision) {
    gst_stt_session_stop (s->revision);
    g_clear_pointer (&s->revision, gst_stt_session_unref);
  }
  g_queue_clear_full (&s->held, (GDestroyNotify) held_free);
  if (s->network_watch)
    stt_io_worker_unwatch_network (s->worker, s->network_watch);
  s->network_watch = 0;
  if (s->tick_watch)
    stt_io_worker_unwatch_tick (s->worker, s->tick_watch);
  s->tick_watch = 0;
  s->state = STATE_DONE;
  g_mutex_lock (&s->stop_lock);
  s->stopped = TRUE;
  g_cond_broadcast (&s->stop_cond);
  g_mutex_unlock (&s->stop_lock);
  return G_SOURCE_REMOVE;
}

void
gst_stt_session_stop (GstSttSession * s)
{
  g_mutex_lock (&s->stop_lock);
  if (s->stopped) {
    g_mutex_unlock (&s->stop_lock);
    return;
  }
  g_mutex_unlock (&s->stop_lock);

  if (stt_io_worker_is_current (s->worker)) {
    stop_cb (s);
    return;
  }
  stt_io_worker_invoke (s->worker, stop_cb, session_ref (s),
      (GDestroyNotify) gst_stt_session_unref);
  g_mutex_lock (&s->stop_lock);
  while (!s->stopped)
    g_cond_wait (&s->stop_cond, &s->stop_lock);
  g_mutex_unlock (&s->stop_lock);
}
