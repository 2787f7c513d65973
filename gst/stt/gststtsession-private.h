/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtsession-private.h: the session's state, shared by the files of the session
 * state machine: gststtsession.c (connections, results, failing and retrying, sending),
 * gststtfailover.c (switching between the primary and its backups) and
 * gststtbacklog.c (the live backlog's second session, and revisions). Everything here
 * runs on the stream's I/O worker thread unless it says otherwise. Not installed, not
 * for the element: it talks to gststtsession.h only. */
#pragma once

#include "gststtsession.h"
#include "sttws.h"
#include "stthttp.h"
#include "stttls.h"
#include "gststtcredentials.h"
#include "gststtretry.h"
#include "gststtresults.h"
#include "gststtsplit.h"
#include "gststtjwt.h"
#include "gststttarget.h"
#include "gststtprobe.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (stt_session_debug);

/* Non-live input wakes the I/O thread once per this much audio, not once per chunk: a
 * cross-thread wakeup costs more than sending a chunk, and nobody waits for the audio. */
#define WAKE_BATCH_MS 1000
/* An outage (no working connection) this long is said on the bus, once per outage. */
#define OUTAGE_WARNING_US (10 * G_USEC_PER_SEC)
/* Audio lost while disconnected is reported at most this often. */
#define LOSS_REPORT_US (10 * G_USEC_PER_SEC)
/* A connection that stayed open this long accepted its token: a later refusal (an expired
 * token) earns a fresh token and a retry again. So does one that produced a result. */
#define TOKEN_TRUSTED_US (10 * G_USEC_PER_SEC)
/* Live, a service paced at real time, a reconnect with more than this behind the live
 * edge: the backlog gets a session of its own (gststtbacklog below). */
#define BACKLOG_SPLIT_MS 2000
/* Around the split point S: the live session starts this much before it, the backlog
 * session hears this much past it, so each hears whole every word it keeps (a word is
 * the backlog's if its middle lies before S, the live session's otherwise). */
#define BACKLOG_PRE_MS 1000
#define BACKLOG_POST_MS 1500
/* How often failover-after is checked (live, with backups). */
#define FAILOVER_CHECK_MS 250
/* Switching back to the primary waits at most this long for the backup's next final. */
#define FAILBACK_WAIT (10 * GST_SECOND)
#define GST_CAT_DEFAULT stt_session_debug

typedef enum
{
  STATE_IDLE,
  STATE_CONNECTING,
  STATE_OPEN,
  STATE_WAITING,                /* backoff before the next attempt */
  STATE_DONE,
} State;

struct _GstSttSession
{
  gint refcount;
  /* The primary provider, then its backups. cfg and tgt are the active one's. */
  GstSttTarget *targets;
  guint n_targets;
  guint active;
  GstSttTarget *tgt;
  GstSttSettings *cfg;
  /* Failover, I/O thread. */
  guint switch_to;              /* the target of a switch at the end of this connection;
                                 * G_MAXUINT: none */
  guint failbacks;              /* switches away from the primary since it last worked */
  gboolean failback_wanted;     /* switch back to the primary at the next final */
  guint refused_in_row;         /* targets that failed for good one after the other */
  gboolean switch_warned;       /* a switch was said since audio was last committed */
  gboolean trial;               /* the primary is tried again and has carried nothing yet */
  gboolean trial_free;          /* ... because the backup could not carry either: trying
                                 * it costs no captions */
  gboolean trial_costly;        /* ... and it cost captions (it accepted a connection, or
                                 * hung for failover-after) */
  GSource *failback_timer;
  GSource *failover_timer;      /* live with backups: failover-after checked 4 times a s */
  /* The live backlog: a paced service cannot send faster than real time, so after an
   * outage a second session (same worker) transcribes the stretch behind the live edge
   * while this one takes the live edge; this one's finals wait for the backlog's. */
  GstSttSession *parent;        /* a backlog session: the live one */
  guint64 range_end;            /* a backlog session: it sends up to here; 0: no end */
  GstSttSession *backlog;       /* the live session: its backlog session,
      while it works */
  guint64 split;                /* the live session: the split point S */
  GstSttSplit bound;            /* the live session: the boundary at S between its
                                 * words and the backlog's (or a max-lag revision's) */
  guint64 live_committed;       /* the live session: its own accounted point meanwhile */
  GQueue held;                  /* the live session: its finals (Held), waiting */
  gboolean drain_held;          /* the live session's drain ended, the backlog's not */
  gchar *backlog_failure;
  gboolean no_split;            /* a backlog session failed: replay the old way until the
                                 * service works again */
  /* Revisions: what a backup carried is transcribed again by the primary once it is
   * back, and a live backlog past max-lag beside the live edge; the words come as an
   * stt-revision message. The ring keeps that audio meanwhile (gst_stt_ring_keep). */
  guint64 carried_from;         /* a backup carries the audio from here; G_MAXUINT64:
                                 * the primary does */
  guint64 carried_to;           /* ... up to here, where the primary took over again */
  gchar *carried_by;            /* the backups that carried it, comma-separated */
  guint64 keep;                 /* the ring and the timeline keep from here */
  GstSttSession *revision;      /* the revision session, while it works */
  guint64 rev_from, rev_to;     /* the stretch it transcribes */
  GstClockTime rev_pts, rev_end;
  gchar *rev_replaces;          /* whose words it replaces; NULL: a GAP (max-lag) */
  GPtrArray *rev_finals;        /* its finals (GstStructure) */
  gchar *rev_failure;           /* why it failed */
  GstSttProbe *probe;           /* is the primary answering again? */
  gboolean probe_alive;
  gchar *probe_why;
  GstSttRing *ring;
  GstSttTimeline *timeline;
  GstSttStats *stats;
  GstSttSessionCallbacks cb;
  gpointer user_data;
  GstObject *log_object;        /* for debug output only */
  SttIoWorker *worker;
  guint bps;
  guint64 chunk_samples;
  guint64 wake_batch;           /* samples written before the streaming thread wakes us */

  gchar *url_redacted;          /* I/O thread: the current attempt's URL, for messages */
  GTlsDatabase *tls_db;         /* tls-ca-file, loaded once */
  gchar *tls_db_error;          /* why it could not be loaded */

  /* Read by the streaming thread: a write that reaches this position wakes us. */
  guint64 wake_at;              /* atomic */
  gint wake_pending;            /* atomic */

  /* Stop handshake. */
  GMutex stop_lock;
  GCond stop_cond;
  gboolean stopped;             /* under stop_lock */

  /* ---- I/O thread only ---- */
  State state;
  gboolean draining;
  gboolean end_sent;
  gboolean awaiting_ready;      /* audio held until the start acknowledgement */
  gboolean finalize_sent;
  gboolean ever_connected;
  gboolean rotating;            /* ending this connection on purpose, to open a new one */
  gboolean rotate_wanted;       /* max-session-duration is near: rotate after a final */
  /* Tokens refused after the handshake since a connection last worked: the first earns
   * a fresh token and one retry, the second is fatal (gststtretry.c). */
  guint auth_refusals;
  SttWs *ws;
  SttHttp *http;                /* token request in flight */
  guint network_watch;
  guint tick_watch;             /* keepalive and stall watchdog, once a second */
  SttProviderConfig pcfg;
  GstSttCredentials cred;       /* the current attempt's key or token */
  gchar *attempt_url;           /* url with the token in place of {token}, or NULL */
  SttProviderState pstate;
  guint attempt;                /* consecutive failed attempts */
  guint connection;             /* index of the current connection, from 0 */
  guint64 conn_base;
  guint64 conn_sent;            /* samples sent on this connection */
  GstSttResults *results;       /* the map, send marks and open segments */
  guint64 send_pos;
  guint64 committed;
  guint8 *scratch;
  gint64 pace_start;
  guint64 pace_sent;
  gint64 last_send;
  gint64 last_audio;
  gint64 last_recv;
  gint64 disconnected_since;
  gint64 outage_since;          /* first failure of the current outage; 0: none */
  gboolean outage_warned;
  gchar *last_failure;          /* why the last attempt failed, for messages */
  gint64 last_progress;         /* audio taken, a result or an acknowledgement */
  gint64 opened_at;             /* the current connection opened */
  gint64 blocked_since;         /* the socket takes no more audio since; 0: it does */
  gint64 last_commit;           /* the committed point last moved */
  guint64 lost_upto;            /* loss reported up to this stream position */
  gint64 loss_reported_at;
  guint64 promised;             /* last promised position handed to the element */
  gint64 last_pong;             /* this connection's last pong; 0: none yet */
  GSource *pace_timer;
  GSource *retry_timer;
  GSource *stats_timer;
  gint64 stats_next;             /* whole-second stats-interval: due (us), on the tick */
  GSource *rotate_timer;
  GSource *finalize_timer;
};

/* A final of the live session waiting for the backlog's. */
typedef struct
{
  GstStructure *msg;
  GstClockTime pts, duration;
} Held;

static inline void
held_free (Held * h)
{
  if (h->msg)
    gst_structure_free (h->msg);
  g_free (h);
}

/* Entry points from the worker's main loop hold a reference while they run: a callback
 * may stop the session and drop the element's reference (a bus sync handler setting the
 * pipeline to NULL runs on this thread). After any callback, code checks
 * session_is_stopped() before it touches the ring, the timeline or the connection: the
 * element frees them once stop returned. */
typedef GstSttSession SessionHold;
static inline void
session_hold_release (SessionHold * s)
{
  gst_stt_session_unref (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SessionHold, session_hold_release);
#define HOLD(s) g_autoptr (SessionHold) G_PASTE (hold_, __LINE__) = session_ref (s)

/* gststtbacklog.c */
G_GNUC_INTERNAL gboolean session_behind_real_time (GstSttSession * s, guint64 pos);
G_GNUC_INTERNAL gboolean session_live_edge_moves (GstSttSession * s, guint64 end);
G_GNUC_INTERNAL guint64 session_start_backlog (GstSttSession * s, guint64 from,
    guint64 split);
G_GNUC_INTERNAL void session_stop_backlog (GstSttSession * s);
G_GNUC_INTERNAL guint64 session_skip_backlog (GstSttSession * s, guint64 from,
    guint64 split);
G_GNUC_INTERNAL void session_start_revision (GstSttSession * s, guint64 from,
    guint64 to, const gchar * replaces);
G_GNUC_INTERNAL void session_release_upto (GstSttSession * s, guint64 pos);
G_GNUC_INTERNAL void session_revise_carried (GstSttSession * s);
G_GNUC_INTERNAL void session_split_final (GstSttSession * s, const GstSttMapped * m);

/* gststtfailover.c */
G_GNUC_INTERNAL void session_switch_target (GstSttSession * s, guint to,
    const gchar * why);
G_GNUC_INTERNAL gboolean session_fail_over (GstSttSession * s, const gchar * why,
    gboolean for_good);
G_GNUC_INTERNAL gboolean session_failover_tick (GstSttSession * s, gint64 now);
G_GNUC_INTERNAL gboolean session_failover_timer_cb (gpointer data);

/* gststtsession.c */
G_GNUC_INTERNAL GstSttSession *session_ref (GstSttSession * s);
G_GNUC_INTERNAL GstSttSession *session_new_on (GstSttSettings * config,
    GstSttRing * ring, GstSttTimeline * timeline, GstSttStats * stats,
    const GstSttSessionCallbacks * cb, gpointer user_data, GstObject * log_object,
    SttIoWorker * worker);
G_GNUC_INTERNAL gboolean session_start_cb (gpointer data);
G_GNUC_INTERNAL gboolean session_is_stopped (GstSttSession * s);
G_GNUC_INTERNAL gint64 session_now_us (void);
G_GNUC_INTERNAL void session_clear_source (GSource ** src);
G_GNUC_INTERNAL gboolean session_paced (GstSttSession * s);
G_GNUC_INTERNAL void session_post_connection (GstSttSession * s,
    GstSttConnectionState state, const gchar * reason, guint http_status,
    gint close_code, GstClockTime retry_in, guint64 replayed);
G_GNUC_INTERNAL void session_post_warning (GstSttSession * s, const gchar * text);
G_GNUC_INTERNAL void session_report_loss (GstSttSession * s, guint64 from, guint64 to,
    gboolean warn, const gchar * why);
G_GNUC_INTERNAL void session_count_loss (GstSttSession * s, guint64 from, guint64 to,
    gboolean warn, const gchar * why);
G_GNUC_INTERNAL void session_notify_committed (GstSttSession * s);
G_GNUC_INTERNAL void session_teardown_connection (GstSttSession * s);
G_GNUC_INTERNAL gboolean session_rotate_connect_cb (gpointer data);
G_GNUC_INTERNAL void session_end_connection_on_purpose (GstSttSession * s);
G_GNUC_INTERNAL void session_retry (GstSttSession * s, const gchar * why,
    guint http_status, gint close_code, gint retry_after);

G_END_DECLS
