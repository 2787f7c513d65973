/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtbacklog.c: part of the session state machine (gststtsession-private.h):
 * the live backlog of a service paced at real time (a second session
 * for the stretch behind the live edge), and revisions (the primary transcribes again
 * what the backups carried; a backlog past max-lag). I/O worker thread. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtsession-private.h"

static void drained_unless_held (GstSttSession * s);

/* Calls @func on @s from a fresh dispatch of its worker (not from inside a callback of
 * the session that calls for it). */
static void
later (GstSttSession * s, GSourceFunc func)
{
  GSource *src = stt_io_worker_add_timeout (s->worker, 0, func, session_ref (s),
      (GDestroyNotify) gst_stt_session_unref);

  g_source_unref (src);
}

/* ------------------------------------------------------------------------------------ */
/* The live backlog */

/* Whether the audio at stream position @pos came more than BACKLOG_SPLIT_MS ago (or
 * so long ago that only the spool has it): a backlog of the past. */
gboolean
session_behind_real_time (GstSttSession * s, guint64 pos)
{
  gint64 arrival = gst_stt_ring_get_arrival (s->ring, pos);

  return arrival < 0 || session_now_us () - arrival > BACKLOG_SPLIT_MS * 1000;
}

/* Whether the newest audio, before @end, came within the last second: a live edge that
 * moves on (not a source that pushed everything, or stopped). */
gboolean
session_live_edge_moves (GstSttSession * s, guint64 end)
{
  gint64 arrival = end > 0 ? gst_stt_ring_get_arrival (s->ring, end - 1) : -1;

  return arrival >= 0 && session_now_us () - arrival < G_USEC_PER_SEC;
}

/* Hands the live session's held finals on, in order. */
static void
release_held (GstSttSession * s)
{
  Held *h;

  while ((h = g_queue_pop_head (&s->held))) {
    if (s->cb.transcript && !session_is_stopped (s)) {
      s->cb.transcript (s, h->msg, TRUE, h->pts, h->duration, s->user_data);
      h->msg = NULL;
    }
    held_free (h);
  }
}

/* The backlog is over (all of it accounted for, or given up): the committed point is
 * this session's own again, and its finals go out after the backlog's. */
void
session_stop_backlog (GstSttSession * s)
{
  GstSttSession *b = s->backlog;
  guint64 pos;

  if (b == NULL)
    return;
  s->backlog = NULL;
  gst_stt_session_stop (b);
  pos = MAX (s->committed, MAX (MIN (b->committed, s->split), s->live_committed));
  GST_INFO_OBJECT (s->log_object, "backlog done up to %.3f s; the live session goes on "
      "from %.3f s", (gdouble) b->committed / s->cfg->rate, (gdouble) pos / s->cfg->rate);
  gst_stt_session_unref (b);
  s->committed = pos;
  session_release_upto (s, pos);
  release_held (s);
  session_notify_committed (s);
}

static gboolean
backlog_done_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);

  session_stop_backlog (s);
  drained_unless_held (s);
  return G_SOURCE_REMOVE;
}

/* From the backlog session's callbacks: stop it from a fresh dispatch, not from inside
 * its own callback. */
static void
backlog_over (GstSttSession * s)
{
  later (s, backlog_done_cb);
}

static void
on_backlog_transcript (GstSttSession * b, GstStructure * msg, gboolean is_final,
    GstClockTime pts, GstClockTime duration, gpointer user_data)
{
  GstSttSession *s = user_data;

  /* Older than anything the live session holds: out at once. */
  if (s->cb.transcript && !session_is_stopped (s))
    s->cb.transcript (s, msg, is_final, pts, duration, s->user_data);
  else
    gst_structure_free (msg);
}

static void
on_backlog_committed (GstSttSession * b, guint64 pos, gpointer user_data)
{
  GstSttSession *s = user_data;
  /* The live session may start again from S - PRE: keep that in the ring. */
  guint64 keep = s->split - MIN (s->split, s->cfg->rate * BACKLOG_PRE_MS / 1000);

  /* Nor is anything promised past there: a word of the live session (its middle past
   * S) may start before S. */
  if (MIN (pos, keep) <= s->committed)
    return;
  s->committed = MIN (pos, keep);
  session_release_upto (s, s->committed);
  session_notify_committed (s);
}

static void
on_backlog_warning (GstSttSession * b, const gchar * text, guint64 from, guint64 to,
    gpointer user_data)
{
  GstSttSession *s = user_data;

  if (s->cb.warning && !session_is_stopped (s))
    s->cb.warning (s, text, from, to, s->user_data);
}

static gboolean
backlog_failed_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);
  GstSttSession *b = s->backlog;

  if (b == NULL)
    return G_SOURCE_REMOVE;
  if (s->state == STATE_DONE) {
    guint64 from = b->committed;

    /* This session's own drain is over: no replay can follow. What the backlog did not
     * transcribe is lost, said; this session's finals go out, and the drain ends. */
    s->backlog = NULL;
    gst_stt_session_stop (b);
    gst_stt_session_unref (b);
    session_report_loss (s, MAX (from, s->committed), s->split, TRUE, "the backlog's own "
        "connection failed at the end of the stream");
    s->committed = MAX (s->committed, MAX (s->split, s->live_committed));
    session_release_upto (s, s->committed);
    release_held (s);
    session_notify_committed (s);
    drained_unless_held (s);
    return G_SOURCE_REMOVE;
  }
  s->backlog = NULL;
  gst_stt_session_stop (b);
  gst_stt_session_unref (b);
  /* Its held finals come again from the replay: dropped, not doubled. */
  g_queue_clear_full (&s->held, (GDestroyNotify) held_free);
  s->live_committed = 0;
  gst_stt_split_init (&s->bound, G_MAXUINT64);
  s->no_split = TRUE;
  session_retry (s, s->backlog_failure ? s->backlog_failure : "the backlog failed", 0, 0,
      -1);
  return G_SOURCE_REMOVE;
}

static void
on_backlog_error (GstSttSession * b, GQuark domain, gint code, const gchar * text,
    const gchar * debug, guint http_status, gint close_code, gpointer user_data)
{
  GstSttSession *s = user_data;

  /* Nothing is lost: this session starts again from the committed point and sends the
   * backlog itself, the old way (it trails the live edge, but every word comes). */
  g_free (s->backlog_failure);
  s->backlog_failure = g_strdup_printf ("the backlog's own connection failed (%s): "
      "sending it again on this one", text);
  /* Nothing is lost, but the captions trail the live edge again until it is worked
   * off: the user is told why. */
  session_post_warning (s, s->backlog_failure);
  later (s, backlog_failed_cb);
}

static void
on_backlog_drained (GstSttSession * b, gpointer user_data)
{
  backlog_over (user_data);
}

static const GstSttSessionCallbacks backlog_callbacks = {
  .transcript = on_backlog_transcript,
  .warning = on_backlog_warning,
  .error = on_backlog_error,
  .drained = on_backlog_drained,
  .committed = on_backlog_committed,
};

/* A second session on this one's worker, ring and timeline, with the active provider:
 * it sends [@from, @to + POST) of the past and keeps the words whose middle lies before
 * @to; it never drops audio, never promises, and ends when it has sent its stretch.
 * Started from a fresh dispatch. */
static GstSttSession *
start_child (GstSttSession * s, guint64 from, guint64 to,
    const GstSttSessionCallbacks * cb, guint64 first_segment_id)
{
  GstSttSettings cfg;
  GstSttSession *c;

  gst_stt_settings_copy (&cfg, s->cfg);
  g_clear_pointer (&cfg.backups, g_ptr_array_unref);
  cfg.live = FALSE;
  cfg.stats_interval = 0;
  c = session_new_on (&cfg, s->ring, s->timeline, s->stats, cb, s, s->log_object,
      s->worker);
  c->parent = s;
  c->range_end = to + s->cfg->rate * BACKLOG_POST_MS / 1000;
  c->committed = c->lost_upto = from;
  c->draining = TRUE;
  gst_stt_results_set_range_end (c->results, to);
  gst_stt_results_set_first_segment_id (c->results, first_segment_id);
  later (c, session_start_cb);
  return c;
}

/* A reconnect found @split - @from behind the live edge on a service paced at real time,
 * which would never catch up: a backlog session takes [@from, S + POST) (words before
 * S) and this one the live edge from S - PRE (words from S on). Returns where this one
 * starts. */
guint64
session_start_backlog (GstSttSession * s, guint64 from, guint64 split)
{
  s->backlog = start_child (s, from, split, &backlog_callbacks,
      G_GUINT64_CONSTANT (1) << 32);
  s->split = split;
  gst_stt_split_init (&s->bound, split);
  s->live_committed = s->committed;
  GST_INFO_OBJECT (s->log_object, "%.3f s behind the live edge on a service paced at "
      "real time: a second session transcribes it while this one takes the live edge",
      (gdouble) (split - from) / s->cfg->rate);
  return split - MIN (split - from, s->cfg->rate * BACKLOG_PRE_MS / 1000);
}

/* The second session on the other side of @s's split point: the backlog, or a revision
 * of a backlog given up for the live edge; NULL: none (any more). */
static GstSttSession *
split_child (GstSttSession * s)
{
  if (!gst_stt_split_active (&s->bound))
    return NULL;
  if (s->backlog)
    return s->backlog;
  if (s->revision && s->rev_replaces == NULL)
    return s->revision;
  return NULL;
}

/* A final of @s, mapped as @m: where a live session and its second session meet, the
 * first of them to give words near the split point fixes the boundary for the other
 * (gststtsplit.h), so no word is doubled or lost there. */
void
session_split_final (GstSttSession * s, const GstSttMapped * m)
{
  GstSttSession *p = s->parent, *child;

  if (p && split_child (p) == s) {
    gst_stt_split_child_final (&p->bound, m->words_end, m->past_range);
    return;
  }
  if (p == NULL && gst_stt_split_live_final (&s->bound, m->words_start,
          m->trimmed_end)) {
    GST_INFO_OBJECT (s->log_object, "around the split at %.3f s, the other session's "
        "words now end at %.3f s", (gdouble) s->bound.at / s->cfg->rate,
        (gdouble) gst_stt_split_child_end (&s->bound) / s->cfg->rate);
    if ((child = split_child (s)))
      gst_stt_results_set_range_end (child->results,
          gst_stt_split_child_end (&s->bound));
  }
}

/* ------------------------------------------------------------------------------------ */
/* Revisions */

/* The committed point moved to @pos: the ring and the timeline let go what no revision
 * needs. */
void
session_release_upto (GstSttSession * s, guint64 pos)
{
  gst_stt_ring_commit (s->ring, pos);
  gst_stt_timeline_prune (s->timeline, MIN (pos, s->keep));
}

/* Keeps in the ring (and the timeline) what the backups carry and what the revision has
 * still to transcribe. */
static void
update_keep (GstSttSession * s)
{
  guint64 keep = s->carried_from;

  if (s->revision)
    keep = MIN (keep, s->revision->committed);
  s->keep = keep;
  gst_stt_ring_keep (s->ring, keep);
  gst_stt_timeline_prune (s->timeline, MIN (s->committed, keep));
}

/* The drain ended while a backlog or a revision worked: drained once both are over. */
static void
drained_unless_held (GstSttSession * s)
{
  if (!s->drain_held || s->backlog || s->revision || session_is_stopped (s))
    return;
  s->drain_held = FALSE;
  if (s->cb.drained)
    s->cb.drained (s, s->user_data);
}

/* Posts the revision of [rev_from, @upto) with the finals gathered. A whole revision of
 * a backlog given up for the live edge ends where the live session's words begin (the
 * split's boundary, gststtsplit.h), not at the split point itself: a word across it is
 * on one side only, and the stretch a consumer replaces holds the start of no live
 * word. */
static void
post_revision (GstSttSession * s, const gchar * provider, guint64 upto)
{
  GstClockTime end = upto >= s->rev_to ? s->rev_end :
      gst_stt_timeline_to_time (s->timeline, upto);
  GstStructure *msg;

  if (upto >= s->rev_to && s->rev_replaces == NULL && gst_stt_split_active (&s->bound)) {
    /* Not past the split point further than the revision's own words reach. */
    guint64 b = MIN (gst_stt_split_live_floor (&s->bound), MAX (s->bound.at,
            s->bound.child_end));

    if (b > s->rev_from)
      end = gst_stt_timeline_to_time (s->timeline, b);
  }

  if (!GST_CLOCK_TIME_IS_VALID (s->rev_pts) || !GST_CLOCK_TIME_IS_VALID (end))
    end = s->rev_pts;
  msg = gst_stt_message_revision_new (provider, s->rev_replaces,
      s->rev_replaces ? "failover" : "max-lag", s->rev_pts, end - s->rev_pts,
      s->rev_finals);
  GST_INFO_OBJECT (s->log_object, "revision of %.3f-%.3f s: %u finals by %s",
      (gdouble) s->rev_from / s->cfg->rate, (gdouble) upto / s->cfg->rate,
      s->rev_finals->len, provider);
  if (s->cb.revision && !session_is_stopped (s))
    s->cb.revision (s, msg, s->rev_pts, s->user_data);
  else
    gst_structure_free (msg);
}

static void
end_revision (GstSttSession * s)
{
  gst_stt_session_stop (s->revision);
  g_clear_pointer (&s->revision, gst_stt_session_unref);
  g_clear_pointer (&s->rev_finals, g_ptr_array_unref);
  g_clear_pointer (&s->rev_replaces, g_free);
  update_keep (s);
  drained_unless_held (s);
}

static gboolean
revision_done_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);
  GstSttSession *r = s->revision;

  if (r == NULL)
    return G_SOURCE_REMOVE;
  post_revision (s, r->cfg->provider->name, s->rev_to);
  end_revision (s);
  return G_SOURCE_REMOVE;
}

/* The revision session failed (why: rev_failure). */
static gboolean
revision_failed_cb (gpointer data)
{
  GstSttSession *s = data;
  HOLD (s);
  GstSttSession *r = s->revision;
  guint64 upto;
  g_autofree gchar *text = NULL;

  if (r == NULL)
    return G_SOURCE_REMOVE;
  upto = MIN (MAX (r->committed, s->rev_from), s->rev_to);
  /* What it did transcribe is not thrown away. */
  if (s->rev_finals->len > 0)
    post_revision (s, r->cfg->provider->name, upto);
  if (s->rev_replaces) {
    text = g_strdup_printf ("%s could not transcribe again the audio from %.3f to %.3f s "
        "of the stream (%s): the words of %s stand there", r->cfg->provider->display_name,
        (gdouble) upto / s->cfg->rate, (gdouble) s->rev_to / s->cfg->rate, s->rev_failure,
        s->rev_replaces);
    session_post_warning (s, text);
  } else {
    /* Given up in the text output for the live edge, and now not transcribed at all. */
    text = g_strdup_printf ("the backlog given up for the live edge (max-lag) could not "
        "be transcribed (%s)", s->rev_failure);
    if (upto < s->rev_to)
      session_count_loss (s, upto, s->rev_to, TRUE, text);
  }
  end_revision (s);
  return G_SOURCE_REMOVE;
}

static void
on_revision_transcript (GstSttSession * r, GstStructure * msg, gboolean is_final,
    GstClockTime pts, GstClockTime duration, gpointer user_data)
{
  GstSttSession *s = user_data;

  if (is_final && s->rev_finals)
    g_ptr_array_add (s->rev_finals, msg);
  else
    gst_structure_free (msg);
}

static void
on_revision_committed (GstSttSession * r, guint64 pos, gpointer user_data)
{
  update_keep (user_data);
}

static void
on_revision_error (GstSttSession * r, GQuark domain, gint code, const gchar * text,
    const gchar * debug, guint http_status, gint close_code, gpointer user_data)
{
  GstSttSession *s = user_data;

  g_free (s->rev_failure);
  s->rev_failure = g_strdup (text);
  later (s, revision_failed_cb);
}

static void
on_revision_drained (GstSttSession * r, gpointer user_data)
{
  later (user_data, revision_done_cb);
}

static const GstSttSessionCallbacks revision_callbacks = {
  .transcript = on_revision_transcript,
  .warning = on_backlog_warning,
  .error = on_revision_error,
  .drained = on_revision_drained,
  .committed = on_revision_committed,
};

/* A second session transcribes [@from, @to) (words whose middle lies there) with the
 * active provider, for a revision: of the words of @replaces (the backups that carried
 * it), or of a GAP (NULL: a backlog given up for the live edge). */
void
session_start_revision (GstSttSession * s, guint64 from, guint64 to,
    const gchar * replaces)
{
  guint64 start;

  gst_stt_ring_get_range (s->ring, &start, NULL);
  if (start > from) {
    g_autofree gchar *text = g_strdup_printf ("the audio from %.3f to %.3f s of the "
        "stream was no longer kept (max-buffer-time, spool-max-bytes): %s cannot "
        "transcribe it again, the words of %s stand there", (gdouble) from / s->cfg->rate,
        (gdouble) MIN (start, to) / s->cfg->rate, s->cfg->provider->display_name,
        replaces ? replaces : "nobody");

    if (replaces)
      session_post_warning (s, text);
    else
      /* A backlog given up for the live edge: audio the spool let go since the ring's
       * loss was reported is lost too. */
      session_report_loss (s, from, MIN (start, to), TRUE, "the replay ring "
          "(max-buffer-time) and the spool (spool-max-bytes) overflowed while the "
          "service was out of reach");
    from = start;
  }
  if (from >= to) {
    update_keep (s);
    return;
  }
  s->revision = start_child (s, from, to, &revision_callbacks,
      G_GUINT64_CONSTANT (2) << 32);
  s->rev_from = from;
  s->rev_to = to;
  s->rev_pts = gst_stt_timeline_to_time (s->timeline, from);
  s->rev_end = gst_stt_timeline_to_time (s->timeline, to);
  g_free (s->rev_replaces);
  s->rev_replaces = g_strdup (replaces);
  g_clear_pointer (&s->rev_finals, g_ptr_array_unref);
  s->rev_finals = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  update_keep (s);
  GST_INFO_OBJECT (s->log_object, "a second session of %s transcribes %.3f-%.3f s of the "
      "stream again, for a revision", s->cfg->provider->display_name,
      (gdouble) from / s->cfg->rate, (gdouble) to / s->cfg->rate);
}

/* The primary is back (its first final): it transcribes again what the backups carried
 * since it left, [carried_from, carried_to), for a revision. */
void
session_revise_carried (GstSttSession * s)
{
  g_autofree gchar *by = g_steal_pointer (&s->carried_by);
  guint64 from = s->carried_from, to = s->carried_to;

  s->carried_from = G_MAXUINT64;
  if (to <= from) {
    /* The backups carried nothing (the primary came back at once). */
    update_keep (s);
    return;
  }
  if (s->revision) {
    g_autofree gchar *t = g_strdup_printf ("the audio from %.3f to %.3f s of the stream, "
        "carried by %s, is not transcribed again by %s (another revision is under way): "
        "the backup's words stand", (gdouble) from / s->cfg->rate,
        (gdouble) to / s->cfg->rate, by, s->cfg->provider->display_name);

    session_post_warning (s, t);
    update_keep (s);
    return;
  }
  session_start_revision (s, from, to, by);
}

/* A reconnect found more than max-lag behind the live edge: the text output gives up
 * [@from, @split) (the committed point jumps, a GAP covers it) and captions the live edge
 * at once; a revision session transcribes the stretch for an stt-revision. Returns where
 * this one starts. */
guint64
session_skip_backlog (GstSttSession * s, guint64 from, guint64 split)
{
  guint64 live_from = split - MIN (split - from, s->cfg->rate * BACKLOG_PRE_MS / 1000);
  g_autofree gchar *text = g_strdup_printf ("%.3f s behind the live edge, more than "
      "max-lag: the captions go on from the live edge, and the audio from %.3f to %.3f s "
      "of the stream comes as an stt-revision message once a second connection has "
      "transcribed it", (gdouble) (split - from) / s->cfg->rate,
      (gdouble) from / s->cfg->rate, (gdouble) split / s->cfg->rate);

  session_post_warning (s, text);
  session_start_revision (s, from, split, NULL);
  gst_stt_split_init (&s->bound, split);
  if (live_from > s->committed) {
    s->committed = live_from;
    s->lost_upto = MAX (s->lost_upto, live_from);
    session_release_upto (s, live_from);
    session_notify_committed (s);
  }
  return live_from;
}
