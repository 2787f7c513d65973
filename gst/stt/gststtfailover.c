/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtfailover.c: part of the session state machine (gststtsession-private.h):
 * switching between the primary and its backups (gststttarget.h): failover-after, the
 * probe of the primary, the try at the next final. I/O worker thread. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtsession-private.h"

/* ------------------------------------------------------------------------------------ */
/* Failover: the primary, then each backup in turn (gststttarget.h) */

/* The backup found no final to stop at within FAILBACK_WAIT: end its connection on
 * purpose; its last finals account for what it heard, then the primary takes over. */
static gboolean
failback_deadline_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->rotate_timer, g_source_unref);
  if (!s->failback_wanted)
    return G_SOURCE_REMOVE;
  s->failback_wanted = FALSE;
  if (s->state != STATE_OPEN || s->end_sent || !s->pstate.info->end_message) {
    session_switch_target (s, 0, "time to try the primary again");
    return G_SOURCE_REMOVE;
  }
  s->switch_to = 0;
  session_end_connection_on_purpose (s);
  return G_SOURCE_REMOVE;
}

static void try_primary (GstSttSession * s);
static void schedule_failback (GstSttSession * s);

/* The probe's answer, from a fresh dispatch (the probe is freed here). */
static gboolean
probe_result_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->failback_timer, g_source_unref);
  g_clear_pointer (&s->probe, gst_stt_probe_free);
  if (s->active == 0 || s->state == STATE_DONE || s->draining)
    return G_SOURCE_REMOVE;
  if (s->probe_alive) {
    try_primary (s);
    return G_SOURCE_REMOVE;
  }
  /* Still gone, and finding out cost nothing: ask again at the pace of reconnects. */
  GST_INFO_OBJECT (s->log_object, "%s does not answer yet (%s)",
      s->targets[0].cfg.provider->display_name, s->probe_why ? s->probe_why : "?");
  s->failbacks++;
  schedule_failback (s);
  return G_SOURCE_REMOVE;
}

static void
on_probe_done (gboolean alive, const gchar * why, gpointer user_data)
{
  GstSttSession *s = user_data;

  s->probe_alive = alive;
  g_free (s->probe_why);
  s->probe_why = g_strdup (why);
  session_clear_source (&s->failback_timer);
  s->failback_timer = stt_io_worker_add_timeout (s->worker, 0, probe_result_cb, s, NULL);
}

static gboolean
failback_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  g_clear_pointer (&s->failback_timer, g_source_unref);
  if (s->active == 0 || s->state == STATE_DONE || s->draining)
    return G_SOURCE_REMOVE;
  /* Where it can, ask the primary first (a handshake and a ping, no audio): a try costs
   * the captions of a switch, a probe nothing. */
  if (gst_stt_probe_can (&s->targets[0])) {
    g_clear_pointer (&s->probe, gst_stt_probe_free);
    s->probe = gst_stt_probe_start (s->worker, &s->targets[0], s->tls_db, on_probe_done,
        s);
    return G_SOURCE_REMOVE;
  }
  try_primary (s);
  return G_SOURCE_REMOVE;
}

/* The primary takes over at the backup's next final. */
static void
try_primary (GstSttSession * s)
{
  if (s->state != STATE_OPEN || s->end_sent) {
    /* The backup is not carrying anything right now: no final to wait for. */
    session_switch_target (s, 0, "time to try the primary again");
    return;
  }
  /* At the next final: a word boundary, nothing split or doubled. A backup with no
   * final in sight (a long silence) is ended on purpose at the rotation deadline. */
  GST_INFO_OBJECT (s->log_object, "trying %s again after the next final",
      s->targets[0].cfg.provider->display_name);
  s->failback_wanted = TRUE;
  session_clear_source (&s->rotate_timer);
  s->rotate_timer = stt_io_worker_add_timeout (s->worker,
      (guint) (FAILBACK_WAIT / GST_MSECOND), failback_deadline_cb, s, NULL);
}

/* The next look at the primary. A primary that refuses at once (or a probe) costs
 * nothing: it is looked at again at the pace of reconnects. A try that cost captions (the
 * primary accepted, or hung, and then failed): less and less often. */
static void
schedule_failback (GstSttSession * s)
{
  session_clear_source (&s->failback_timer);
  s->failback_timer = stt_io_worker_add_timeout (s->worker,
      (guint) (gst_stt_failback_delay (s->failbacks, s->trial_costly ?
              GST_STT_FAILBACK_MAX : s->cfg->reconnect_max_delay) / GST_MSECOND),
      failback_cb, s, NULL);
}

/* Makes target @to the active one and connects to it at the committed point: the
 * audio the old one had not accounted for is heard again, none twice. */
void
session_switch_target (GstSttSession * s, guint to, const gchar * why)
{
  const SttProviderInfo *from = s->cfg->provider;
  g_autofree gchar *text = NULL;
  /* A WARNING when a working service is left, once per outage: trying the primary
   * again, and leaving it when that trial fails, are said in the log and the connection
   * message only (its return is a WARNING of its own, at its first final), and so is
   * each turn of a round of services that are all gone. */
  gboolean warn = to != 0 && !s->trial && !s->switch_warned;

  session_teardown_connection (s);
  session_clear_source (&s->retry_timer);
  session_clear_source (&s->failback_timer);
  g_clear_pointer (&s->probe, gst_stt_probe_free);
  if (to != 0 && s->carried_from == G_MAXUINT64 && s->parent == NULL) {
    /* What the backups carry from here, the primary transcribes again when it is back:
     * the ring (and the spool) keep it. */
    s->carried_from = s->committed;
    s->keep = MIN (s->keep, s->carried_from);
    gst_stt_ring_keep (s->ring, s->keep);
  }
  if (to != 0 && s->carried_from != G_MAXUINT64) {
    const gchar *name = s->targets[to].cfg.provider->name;

    if (s->carried_by == NULL)
      s->carried_by = g_strdup (name);
    else {
      g_auto (GStrv) names = g_strsplit (s->carried_by, ",", -1);

      if (!g_strv_contains ((const gchar * const *) names, name)) {
        gchar *t = g_strconcat (s->carried_by, ",", name, NULL);

        g_free (s->carried_by);
        s->carried_by = t;
      }
    }
  }
  if (to == 0)
    s->carried_to = s->committed;
  /* The old service's session state means nothing to the next one. */
  if (s->pstate.stream_priv && from->free_stream_priv)
    from->free_stream_priv (s->pstate.stream_priv);
  s->pstate.stream_priv = NULL;
  s->active = to;
  s->tgt = &s->targets[to];
  s->cfg = &s->tgt->cfg;
  s->switch_to = G_MAXUINT;
  s->failback_wanted = FALSE;
  s->attempt = 0;
  s->auth_refusals = 0;
  /* The next one gets failover-after of its own. */
  s->outage_since = session_now_us ();
  s->outage_warned = FALSE;
  if (warn)
    s->switch_warned = TRUE;
  /* Back to the primary from a backup: on trial until it carries audio. */
  s->trial_costly = s->trial && s->trial_costly;
  s->trial = to == 0 && s->n_targets > 1;
  s->trial_free = FALSE;
  gst_stt_results_set_provider (s->results, s->cfg->provider->name);
  gst_stt_stats_add (s->stats, GST_STT_STAT_FAILOVERS, 1);
  text = g_strdup_printf ("Switching from %s to %s%s, which hears the audio again from "
      "%.3f s of the stream on: %s", from->display_name, s->cfg->provider->display_name,
      to == 0 ? " (the primary)" : " (a backup)", (gdouble) s->committed / s->cfg->rate,
      why);
  if (warn)
    session_post_warning (s, text);
  else
    GST_INFO_OBJECT (s->log_object, "%s", text);
  if (session_is_stopped (s))
    return;
  s->state = STATE_WAITING;
  session_post_connection (s, GST_STT_CONNECTION_RECONNECTING, text, 0, 0, 0, 0);
  if (session_is_stopped (s))
    return;
  if (to != 0) {
    s->failbacks++;
    schedule_failback (s);
    s->trial_costly = FALSE;
  }
  s->retry_timer = stt_io_worker_add_timeout (s->worker, 0, session_rotate_connect_cb,
      s, NULL);
}

/* The active target cannot carry the audio (@why): the next one takes over, if there is
 * one to take. With @for_good (a refusal, or attempts used up) and every target having
 * failed so in a row, there is none: FALSE, the caller fails. */
gboolean
session_fail_over (GstSttSession * s, const gchar * why, gboolean for_good)
{
  guint to;

  if (s->n_targets < 2 || s->state == STATE_DONE || session_is_stopped (s))
    return FALSE;
  to = (s->active + 1) % s->n_targets;
  if (for_good && ++s->refused_in_row >= s->n_targets)
    return FALSE;
  session_switch_target (s, to, why);
  /* Round to the primary because the backup cannot carry the audio either: no captions
   * are lost by trying it, so its failing does not slow the next looks at it. */
  if (to == 0)
    s->trial_free = TRUE;
  return TRUE;
}

/* Live input with backups: a target that has carried no audio for failover-after (no
 * connection, or an open one that stopped answering while audio waits on it) hands over
 * to the next. Returns TRUE if it did. */
gboolean
session_failover_tick (GstSttSession * s, gint64 now)
{
  gint64 limit = (gint64) (s->cfg->failover_after / GST_USECOND);
  gint64 since;

  if (s->n_targets < 2 || !s->cfg->live || s->draining || limit <= 0)
    return FALSE;
  if (s->state == STATE_OPEN) {
    if (!(now - s->last_audio < limit || s->send_pos > s->committed
            || s->awaiting_ready))
      return FALSE;
    since = s->last_recv;
  } else {
    since = s->outage_since;
  }
  if (!since || now - since < limit)
    return FALSE;
  if (s->trial && !s->trial_free)
    s->trial_costly = TRUE;
  {
    g_autofree gchar *why = g_strdup_printf ("%s carried no audio for %.1f s "
        "(failover-after): %s", s->cfg->provider->display_name,
        (gdouble) (now - since) / G_USEC_PER_SEC, s->state == STATE_OPEN ?
        "no answer on an open connection" : s->last_failure ? s->last_failure :
        "no connection");

    return session_fail_over (s, why, FALSE);
  }
}

/* failover-after is checked more often than the shared tick (once a second) for a live
 * stream with backups: the switch comes at most a quarter of a second late. */
gboolean
session_failover_timer_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  if (s->state != STATE_IDLE && s->state != STATE_DONE)
    session_failover_tick (s, session_now_us ());
  return G_SOURCE_CONTINUE;
}
