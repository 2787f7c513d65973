/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtpublisher.c: the publisher state machine. Everything below the public functions
 * runs on the stream's I/O worker thread and needs no lock for its connection state; the
 * captions (GstSttPending, the interim) and the counters are shared with the streaming
 * thread under `lock`.
 *
 * A connection is usable once the server's welcome arrived: its last_seq settles which
 * finals the server has (forgotten here) and the numbers of the rest, which are then sent
 * in order, followed by the latest interim not yet sent. Acks are cumulative. Any close
 * but 4001, 4004 and 1003 is retried with the engine's backoff (first retry at once, then
 * reconnect-initial-delay doubled up to reconnect-max-delay, half of it jitter:
 * gststtretry.c), and a token from token-url is read from its answer as the engine
 * does (gststtcredentials.c). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtpublisher.h"
#include "gststtsession.h"
#include "gststtcredentials.h"
#include "gststtretry.h"
#include "gststtjwt.h"
#include "sttws.h"
#include "stthttp.h"
#include "stttls.h"
#include "sttjson.h"

GST_DEBUG_CATEGORY_STATIC (stt_publisher_debug);
#define GST_CAT_DEFAULT stt_publisher_debug

/* An outage (no usable connection) this long is said on the bus, once per outage. */
#define OUTAGE_WARNING_US (10 * G_USEC_PER_SEC)
#define CLOSE_REASON "end of stream"

typedef enum
{
  STATE_IDLE,
  STATE_CONNECTING,             /* token, then the handshake */
  STATE_OPEN,                   /* waiting for the welcome */
  STATE_READY,                  /* welcomed: captions flow */
  STATE_WAITING,                /* backoff before the next attempt */
  STATE_CLOSING,                /* our close frame is out (end of stream) */
  STATE_DONE,
} State;

struct _GstSttPublisher
{
  gint refcount;
  GstSttPublisherConfig cfg;
  GstSttPublisherCallbacks cb;
  gpointer user_data;
  GstObject *log_object;        /* for debug output only */
  SttIoWorker *worker;
  JsonObject *claims;           /* the user's, then room and role */
  GTlsDatabase *tls_db;         /* tls-ca-file, loaded once */
  gchar *tls_db_error;          /* why it could not be loaded */
  gchar *url_redacted;
  gint flush_pending;           /* atomic: a flush is on its way to the I/O thread */

  GMutex lock;
  GCond cond;
  /* ---- under lock ---- */
  GstSttPending *pending;
  GstSttCaption *interim;       /* the latest interim not yet sent */
  GstSttPublisherCounts counts;
  gboolean flushing;
  gboolean draining;
  gboolean done;                /* no more connections */
  gboolean failed;              /* ... because of a fatal failure */
  gboolean closed;              /* the closing handshake ended (or there was none) */
  gboolean reopening;           /* a reopen is on its way: the end is not the end */
  gboolean stopped;

  /* ---- I/O thread only ---- */
  State state;
  SttWs *ws;
  SttHttp *http;                /* token request in flight */
  gchar *token;                 /* this attempt's, wiped when cleared */
  guint attempt;
  guint connection;
  gint64 attempt_started;       /* the token request or the handshake began */
  gint64 opened_at;
  gint64 last_recv;
  gint64 outage_since;          /* first failure of the current outage; 0: none */
  gboolean outage_warned;
  GSource *retry_timer;
  guint tick_watch;
  guint network_watch;
};

static void attempt_connect (GstSttPublisher * p);
static void flush_out (GstSttPublisher * p);
static void publisher_retry (GstSttPublisher * p, const gchar * why, guint http_status,
    gint close_code, gint retry_after);

void
gst_stt_publisher_config_clear (GstSttPublisherConfig * c)
{
  g_clear_pointer (&c->url, g_free);
  g_clear_pointer (&c->room, g_free);
  if (c->token_secret) {
    memset (c->token_secret, 0, strlen (c->token_secret));
    g_clear_pointer (&c->token_secret, g_free);
  }
  g_clear_pointer (&c->token_secret_file, g_free);
  g_clear_pointer (&c->token_claims, json_object_unref);
  g_clear_pointer (&c->token_url, g_free);
  g_clear_pointer (&c->token_method, g_free);
  g_clear_pointer (&c->token_headers, g_strfreev);
  g_clear_pointer (&c->token_field, g_free);
  g_clear_pointer (&c->tls_ca_file, g_free);
}

static GstSttPublisher *
publisher_ref (GstSttPublisher * p)
{
  g_atomic_int_inc (&p->refcount);
  return p;
}

/* Entry points from the worker's main loop hold a reference while they run: a callback
 * may stop the publisher and drop the element's reference (a bus sync handler setting
 * the pipeline to NULL runs on this thread). */
typedef GstSttPublisher PublisherHold;
static void
publisher_hold_release (PublisherHold * p)
{
  gst_stt_publisher_unref (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PublisherHold, publisher_hold_release);
#define HOLD(p) g_autoptr (PublisherHold) G_PASTE (hold_, __LINE__) = publisher_ref (p)


static void
clear_source (GSource ** src)
{
  if (*src) {
    g_source_destroy (*src);
    g_source_unref (*src);
    *src = NULL;
  }
}

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

GstSttPublisher *
gst_stt_publisher_new (GstSttPublisherConfig * config,
    const GstSttPublisherCallbacks * cb, gpointer user_data, GstObject * log_object)
{
  static gsize cat = 0;
  GstSttPublisher *p = g_new0 (GstSttPublisher, 1);
  GList *members, *l;

  if (g_once_init_enter (&cat)) {
    GST_DEBUG_CATEGORY_INIT (stt_publisher_debug, "sttpublisher", 0,
        "caption publisher connection");
    g_once_init_leave (&cat, 1);
  }
  p->refcount = 1;
  p->cfg = *config;
  memset (config, 0, sizeof (*config));
  p->cb = *cb;
  p->user_data = user_data;
  p->log_object = gst_object_ref (log_object);
  p->worker = stt_io_pool_acquire ();
  p->pending = gst_stt_pending_new (p->cfg.max_pending);
  p->url_redacted = stt_redact_url (p->cfg.url);

  /* Room and role are the element's to say, whatever token-claims holds. */
  p->claims = json_object_new ();
  members = p->cfg.token_claims ? json_object_get_members (p->cfg.token_claims) : NULL;
  for (l = members; l; l = l->next)
    json_object_set_member (p->claims, l->data,
        json_node_copy (json_object_get_member (p->cfg.token_claims, l->data)));
  g_list_free (members);
  json_object_set_string_member (p->claims, "room", p->cfg.room);
  json_object_set_string_member (p->claims, "role", "publish");

  if (p->cfg.tls_ca_file && *p->cfg.tls_ca_file) {
    GError *err = NULL;

    p->tls_db = g_tls_file_database_new (p->cfg.tls_ca_file, &err);
    if (p->tls_db == NULL) {
      p->tls_db_error = g_strdup_printf ("Cannot load tls-ca-file %s: %s",
          p->cfg.tls_ca_file, err->message);
      g_error_free (err);
    }
  }
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  return p;
}

void
gst_stt_publisher_unref (GstSttPublisher * p)
{
  if (p == NULL || !g_atomic_int_dec_and_test (&p->refcount))
    return;
  stt_io_worker_release (p->worker);
  gst_stt_publisher_config_clear (&p->cfg);
  json_object_unref (p->claims);
  gst_stt_pending_free (p->pending);
  gst_stt_caption_free (p->interim);
  g_clear_object (&p->tls_db);
  g_free (p->tls_db_error);
  g_free (p->url_redacted);
  gst_stt_wipe_free (p->token);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  gst_object_unref (p->log_object);
  g_free (p);
}

static gboolean
is_stopped (GstSttPublisher * p)
{
  gboolean stopped;

  g_mutex_lock (&p->lock);
  stopped = p->stopped;
  g_mutex_unlock (&p->lock);
  return stopped;
}

/* ------------------------------------------------------------------------------------ */
/* Bookkeeping */

/* @text with this attempt's token replaced by "***": a server's close reason or a URL
 * may quote it. NULL for NULL. */
static gchar *
scrub (GstSttPublisher * p, const gchar * text)
{
  GString *out;

  if (text == NULL)
    return NULL;
  if (p->token == NULL || *p->token == '\0')
    return g_strdup (text);
  out = g_string_new (text);
  g_string_replace (out, p->token, "***", 0);
  return g_string_free (out, FALSE);
}

static void
post_connection (GstSttPublisher * p, GstSttConnectionState state, const gchar * reason,
    guint http_status, gint close_code, GstClockTime retry_in, guint64 last_seq,
    guint resent)
{
  GstSttPublisherConnectionInfo info = {
    .state = state,
    .attempt = p->attempt,
    .connection = p->connection,
    .retry_in = retry_in,
    .reason = reason,
    .http_status = http_status,
    .close_code = close_code,
    .last_seq = last_seq,
    .resent = resent,
  };

  g_mutex_lock (&p->lock);
  info.pending = gst_stt_pending_length (p->pending);
  g_mutex_unlock (&p->lock);
  if (p->cb.connection && !is_stopped (p))
    p->cb.connection (p, &info, p->user_data);
}

static void
teardown_connection (GstSttPublisher * p)
{
  g_clear_pointer (&p->http, stt_http_free);
  g_clear_pointer (&p->ws, stt_ws_free);
  g_clear_pointer (&p->token, gst_stt_wipe_free);
}

/* No more connections. */
static void
end_connections (GstSttPublisher * p)
{
  teardown_connection (p);
  clear_source (&p->retry_timer);
  p->state = STATE_DONE;
}

/* Wakes the waits: no more connections. After the messages that say why, so that they
 * come before the EOS a drain lets go. */
static void
wake_done (GstSttPublisher * p, gboolean failed)
{
  g_mutex_lock (&p->lock);
  p->done = failed || !p->reopening;
  p->failed = failed;
  p->closed = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

static void
publisher_fail (GstSttPublisher * p, GQuark domain, gint code, const gchar * why,
    guint http_status, gint close_code)
{
  /* Before the teardown forgets the token. */
  g_autofree gchar *text = scrub (p, why);

  if (p->state == STATE_DONE)
    return;
  GST_WARNING_OBJECT (p->log_object, "fatal: %s", text);
  end_connections (p);
  post_connection (p, GST_STT_CONNECTION_FAILED, text, http_status, close_code, 0, 0, 0);
  if (p->cb.error && !is_stopped (p))
    p->cb.error (p, domain, code, text, http_status, close_code, p->user_data);
  wake_done (p, TRUE);
}

/* No more attempts: in mid-stream an error; during the drain the wait ends and the
 * element says what was not confirmed. */
static void
give_up (GstSttPublisher * p, const gchar * why, guint http_status, gint close_code)
{
  gboolean draining;

  g_mutex_lock (&p->lock);
  draining = p->draining;
  g_mutex_unlock (&p->lock);
  if (!draining) {
    publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, why,
        http_status, close_code);
    return;
  }
  GST_WARNING_OBJECT (p->log_object, "giving up the drain: %s", why);
  end_connections (p);
  post_connection (p, GST_STT_CONNECTION_FAILED, why, http_status, close_code, 0, 0, 0);
  wake_done (p, FALSE);
}

/* ------------------------------------------------------------------------------------ */
/* Retrying */

static gboolean
retry_cb (gpointer data)
{
  GstSttPublisher *p = data;
  HOLD (p);

  g_clear_pointer (&p->retry_timer, g_source_unref);
  p->connection++;
  attempt_connect (p);
  return G_SOURCE_REMOVE;
}

static gdouble
random_double (gpointer data)
{
  return g_random_double ();
}

static void
publisher_retry (GstSttPublisher * p, const gchar * why, guint http_status,
    gint close_code, gint retry_after)
{
  g_autofree gchar *reason = scrub (p, why);
  GstClockTime delay;
  GstSttBackoff backoff = {
    .initial_delay = p->cfg.reconnect_initial_delay,
    .max_delay = p->cfg.reconnect_max_delay,
    .max_attempts = p->cfg.reconnect_max_attempts,
  };

  if (p->state == STATE_DONE)
    return;
  teardown_connection (p);
  p->attempt++;
  if (!p->outage_since)
    p->outage_since = now_us ();
  if (!gst_stt_retry_backoff (&backoff, p->attempt, retry_after, random_double, NULL,
          &delay)) {
    g_autofree gchar *t = g_strdup_printf ("Gave up on the caption server %s after %u "
        "attempt(s) (reconnect-max-attempts): %s", p->url_redacted, p->attempt, reason);
    give_up (p, t, http_status, close_code);
    return;
  }
  GST_INFO_OBJECT (p->log_object, "retrying in %" GST_TIME_FORMAT ": %s",
      GST_TIME_ARGS (delay), reason);
  p->state = STATE_WAITING;
  post_connection (p, GST_STT_CONNECTION_RECONNECTING, reason, http_status, close_code,
      delay, 0, 0);
  if (is_stopped (p))
    return;
  p->retry_timer = stt_io_worker_add_timeout (p->worker, (guint) (delay / GST_MSECOND),
      retry_cb, p, NULL);
}

/* GNetworkMonitor says the network is back: a backoff wait ends now. */
static void
on_network_back (gpointer data)
{
  GstSttPublisher *p = data;
  HOLD (p);

  if (p->state != STATE_WAITING || p->retry_timer == NULL)
    return;
  GST_INFO_OBJECT (p->log_object, "network available again: reconnecting now");
  clear_source (&p->retry_timer);
  p->connection++;
  attempt_connect (p);
}

/* Once a second: the handshake, the welcome and the server's liveness (with pings on, a
 * pong at least every keepalive-interval; else acks for what was sent), all bounded by
 * stall-timeout; the outage warning. */
static void
publisher_tick (gpointer data)
{
  GstSttPublisher *p = data;
  HOLD (p);
  gint64 now = now_us (), stall = (gint64) (p->cfg.stall_timeout / GST_USECOND);
  gboolean awaiting;

  if (stall > 0 && p->state == STATE_CONNECTING && now - p->attempt_started > stall) {
    publisher_retry (p, "no answer from the caption server (or its token service) "
        "within stall-timeout", 0, 0, -1);
    return;
  }
  if (stall > 0 && p->state == STATE_OPEN && now - p->opened_at > stall) {
    publisher_retry (p, "no welcome from the caption server", 0, 0, -1);
    return;
  }
  if (stall > 0 && p->state == STATE_READY && now - p->last_recv > stall) {
    g_mutex_lock (&p->lock);
    awaiting = gst_stt_pending_length (p->pending) > 0;
    g_mutex_unlock (&p->lock);
    if (p->cfg.keepalive_interval > 0 || awaiting) {
      g_autofree gchar *t = g_strdup_printf ("the caption server sent nothing for %"
          GST_TIME_FORMAT " (stall-timeout)", GST_TIME_ARGS (p->cfg.stall_timeout));
      publisher_retry (p, t, 0, 0, -1);
      return;
    }
  }
  if (p->outage_since && !p->outage_warned && now - p->outage_since >= OUTAGE_WARNING_US
      && p->state != STATE_DONE && p->cb.warning) {
    g_autofree gchar *t = NULL;
    guint n;

    p->outage_warned = TRUE;
    g_mutex_lock (&p->lock);
    n = gst_stt_pending_length (p->pending);
    g_mutex_unlock (&p->lock);
    t = g_strdup_printf ("The caption server %s has been out of reach for %u s; %u "
        "caption(s) are kept and will be sent when it is back", p->url_redacted,
        (guint) ((now - p->outage_since) / G_USEC_PER_SEC), n);
    GST_WARNING_OBJECT (p->log_object, "%s", t);
    if (!is_stopped (p))
      p->cb.warning (p, t, p->user_data);
  }
}

/* ------------------------------------------------------------------------------------ */
/* The connection */

static void
send_text (GstSttPublisher * p, gchar * text)
{
  GBytes *b = g_bytes_new_take (text, strlen (text));

  stt_ws_send (p->ws, FALSE, b);
  g_bytes_unref (b);
}

/* Sends what the server has not had on this connection: the finals in order, then the
 * latest interim. Only once welcomed. */
static void
flush_out (GstSttPublisher * p)
{
  GstSttCaption *interim;

  if (p->state != STATE_READY)
    return;
  for (;;) {
    const GstSttCaption *c;
    gboolean first = FALSE;
    gchar *json = NULL;

    g_mutex_lock (&p->lock);
    c = gst_stt_pending_next (p->pending, &first);
    if (c) {
      json = gst_stt_caption_to_json (c, TRUE);
      if (first)
        p->counts.published++;
      GST_LOG_OBJECT (p->log_object, "%s %" G_GUINT64_FORMAT "%s",
          c->revision ? "revision" : "final", c->seq, first ? "" : " (again)");
    }
    g_mutex_unlock (&p->lock);
    if (json == NULL)
      break;
    send_text (p, json);
  }
  g_mutex_lock (&p->lock);
  interim = g_steal_pointer (&p->interim);
  g_mutex_unlock (&p->lock);
  if (interim) {
    send_text (p, gst_stt_caption_to_json (interim, FALSE));
    gst_stt_caption_free (interim);
  }
}

static void
on_welcome (GstSttPublisher * p, JsonObject * o)
{
  gint64 last = stt_json_get_int (o, "last_seq", -1);
  const gchar *room = stt_json_get_string (o, "room", NULL);
  guint confirmed, resent;

  if (last < 0) {
    publisher_retry (p, "the caption server's welcome has no last_seq", 0, 0, -1);
    return;
  }
  if (room && g_strcmp0 (room, p->cfg.room) != 0)
    GST_WARNING_OBJECT (p->log_object, "welcome names room '%s', not '%s'", room,
        p->cfg.room);
  g_mutex_lock (&p->lock);
  confirmed = gst_stt_pending_welcome (p->pending, (guint64) last);
  p->counts.acknowledged += confirmed;
  resent = gst_stt_pending_length (p->pending);
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);

  GST_INFO_OBJECT (p->log_object, "welcomed to room %s (connection %u): last_seq %"
      G_GINT64_FORMAT ", %u confirmed by it, %u to send", p->cfg.room, p->connection, last,
      confirmed, resent);
  p->state = STATE_READY;
  p->attempt = 0;
  p->outage_since = 0;
  p->outage_warned = FALSE;
  post_connection (p, GST_STT_CONNECTION_CONNECTED, NULL, 101, 0, 0, (guint64) last,
      resent);
  if (is_stopped (p))
    return;
  flush_out (p);
}

static void
on_ack (GstSttPublisher * p, JsonObject * o)
{
  gint64 seq = stt_json_get_int (o, "seq", -1);
  guint n;

  if (seq < 0)
    return;
  g_mutex_lock (&p->lock);
  n = gst_stt_pending_ack (p->pending, (guint64) seq);
  p->counts.acknowledged += n;
  if (n)
    g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  GST_LOG_OBJECT (p->log_object, "ack %" G_GINT64_FORMAT ": %u confirmed", seq, n);
}

static void
on_ws_message (SttWs * ws, gboolean binary, GBytes * data, gpointer user_data)
{
  GstSttPublisher *p = user_data;
  HOLD (p);
  g_autoptr (JsonParser) parser = NULL;
  gsize len = 0;
  const gchar *text = g_bytes_get_data (data, &len);
  JsonObject *o;
  const gchar *type;

  p->last_recv = now_us ();
  o = binary ? NULL : stt_json_parse_object (text, len, &parser);
  type = stt_json_get_string (o, "type", NULL);
  if (type == NULL) {
    GST_WARNING_OBJECT (p->log_object, "ignoring a server message that is not a JSON "
        "object with a type (%" G_GSIZE_FORMAT " bytes)", len);
    return;
  }
  if (g_str_equal (type, "welcome") && p->state == STATE_OPEN)
    on_welcome (p, o);
  else if (g_str_equal (type, "ack") && p->state == STATE_READY)
    on_ack (p, o);
  else
    GST_DEBUG_OBJECT (p->log_object, "ignoring a '%s' message", type);
}

static void
on_ws_pong (SttWs * ws, gpointer user_data)
{
  GstSttPublisher *p = user_data;

  p->last_recv = now_us ();
}

static void
on_ws_opened (SttWs * ws, gpointer user_data)
{
  GstSttPublisher *p = user_data;

  GST_INFO_OBJECT (p->log_object, "connection %u open, waiting for the welcome",
      p->connection);
  p->state = STATE_OPEN;
  p->opened_at = p->last_recv = now_us ();
}

static void
on_ws_failed (SttWs * ws, guint status, gint retry_after, const GError * error,
    gpointer user_data)
{
  GstSttPublisher *p = user_data;
  HOLD (p);
  g_autofree gchar *text = NULL;

  if (!status && stt_tls_is_error (error)) {
    /* A certificate does not fix itself: say so instead of retrying. */
    text = g_strdup_printf ("TLS failure connecting to the caption server %s: %s. For a "
        "private CA set tls-ca-file", p->url_redacted, error->message);
    publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, text, 0, 0);
    return;
  }
  if (status == 401 || status == 403) {
    text = g_strdup_printf ("The caption server %s refused the connection (HTTP %u): "
        "check the token (token-secret, token-secret-file, token-url) and its room",
        p->url_redacted, status);
    publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, text, status,
        0);
    return;
  }
  if (status >= 300 && status < 500 && status != 408 && status != 429) {
    /* A redirect (not followed: the request carries the token), a wrong path. */
    text = g_strdup_printf ("The caption server %s refused the connection: HTTP %u%s%s",
        p->url_redacted, status, error ? ": " : "", error ? error->message : "");
    publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, text, status, 0);
    return;
  }
  if (status)
    text = g_strdup_printf ("The caption server %s refused the connection: HTTP %u",
        p->url_redacted, status);
  else
    text = g_strdup_printf ("Could not connect to the caption server %s: %s",
        p->url_redacted, error ? error->message : "unknown error");
  publisher_retry (p, text, status, 0, retry_after);
}

static void
on_ws_closed (SttWs * ws, gushort code, const gchar * reason, gpointer user_data)
{
  GstSttPublisher *p = user_data;
  HOLD (p);
  g_autofree gchar *text = NULL;

  GST_INFO_OBJECT (p->log_object, "connection closed: %u", code);
  if (p->state == STATE_CLOSING) {
    end_connections (p);
    post_connection (p, GST_STT_CONNECTION_CLOSED, CLOSE_REASON, 0, code, 0, 0, 0);
    wake_done (p, FALSE);
    return;
  }
  switch (code) {
    case 4001:
      text = g_strdup_printf ("The caption server %s refused the token (close 4001: %s): "
          "check token-secret (or token-secret-file, token-url), token-claims and the "
          "room", p->url_redacted, *reason ? reason : "no reason given");
      publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, text, 0,
          code);
      return;
    case 4004:
      text = g_strdup_printf ("The caption server %s refused the room '%s' (close 4004: "
          "%s): the room name is invalid or the server has too many rooms",
          p->url_redacted, p->cfg.room, *reason ? reason : "no reason given");
      publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, text, 0, code);
      return;
    case 1003:
      text = g_strdup_printf ("The caption server %s found a message malformed (close "
          "1003: %s): it and sttpublish do not speak the same protocol version",
          p->url_redacted, *reason ? reason : "no reason given");
      publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED, text, 0, code);
      return;
    default:
      text = g_strdup_printf ("The caption server %s closed the connection: %u%s%s",
          p->url_redacted, code, *reason ? " " : "", reason);
      publisher_retry (p, text, 0, code, -1);
      return;
  }
}

static const SttWsCallbacks ws_callbacks = {
  .opened = on_ws_opened,
  .failed = on_ws_failed,
  .message = on_ws_message,
  .pong = on_ws_pong,
  .closed = on_ws_closed,
};

/* The handshake, with p->token settled (NULL: the url carries its own). */
static void
connect_ws (GstSttPublisher * p)
{
  SttWsOptions opts = { 0, };
  gchar *bearer = p->token ? g_strconcat ("Bearer ", p->token, NULL) : NULL;
  const gchar *headers[] = { "Authorization", bearer, NULL };

  GST_INFO_OBJECT (p->log_object, "connecting to %s (attempt %u)", p->url_redacted,
      p->attempt + 1);
  post_connection (p, GST_STT_CONNECTION_CONNECTING, p->url_redacted, 0, 0, 0, 0, 0);
  if (is_stopped (p) || p->state != STATE_CONNECTING) {
    gst_stt_wipe_free (bearer);
    return;
  }
  opts.url = p->cfg.url;
  opts.headers = bearer ? headers : NULL;
  if (p->cfg.keepalive_interval > 0)
    opts.keepalive_interval = MAX ((guint) (p->cfg.keepalive_interval / GST_SECOND), 1);
  opts.tls_validate = p->cfg.tls_validate;
  opts.tls_database = p->tls_db;
  p->ws = stt_ws_connect (p->worker, &opts, &ws_callbacks, p);
  gst_stt_wipe_free (bearer);
}

static void
on_token (SttHttp * http, guint status, GBytes * body, const GError * error,
    gpointer user_data)
{
  GstSttPublisher *p = user_data;
  HOLD (p);
  g_autoptr (JsonParser) parser = NULL;
  g_autofree gchar *text = NULL;
  gsize len = 0;
  const gchar *data = body ? g_bytes_get_data (body, &len) : NULL;
  JsonObject *o = data ? stt_json_parse_object (data, len, &parser) : NULL;
  const gchar *token = gst_stt_credentials_find_token (o, p->cfg.token_field);

  p->http = NULL;
  stt_http_free (http);
  if (status == 0 || status >= 300) {
    GstSttFailure f = {
      .where = GST_STT_FAILED_TOKEN_SERVICE,
      .http_status = status,
      .tls_error = status == 0 && stt_tls_is_error (error),
    };
    GstSttDecision d = gst_stt_retry_decide (&f);

    if (d.verdict == GST_STT_VERDICT_FAIL && d.why == GST_STT_FATAL_TLS) {
      text = g_strdup_printf ("TLS failure reaching the token service: %s. For a private "
          "CA set tls-ca-file", error->message);
      publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE, text, 0,
          0);
    } else if (d.verdict == GST_STT_VERDICT_RETRY) {
      text = g_strdup_printf ("The token service failed: %s", status ?
          soup_status_get_phrase (status) : (error ? error->message : "no answer"));
      publisher_retry (p, text, status, 0, -1);
    } else {
      text = g_strdup_printf ("The token service refused the request: HTTP %u", status);
      publisher_fail (p, GST_RESOURCE_ERROR, d.code, text, status, 0);
    }
    return;
  }
  if (token == NULL || *token == '\0') {
    text = g_strdup_printf ("The token service's answer has no %s field",
        p->cfg.token_field ? p->cfg.token_field : "access_token/token/key_value/value");
    publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, text, status, 0);
  } else {
    GST_DEBUG_OBJECT (p->log_object, "got a token from the token service");
    p->token = g_strdup (token);
    connect_ws (p);
  }
}

static void
fetch_token (GstSttPublisher * p)
{
  g_autofree gchar *redacted = stt_redact_url (p->cfg.token_url);

  GST_INFO_OBJECT (p->log_object, "fetching a token from %s", redacted);
  p->http = stt_http_request (p->worker, p->cfg.token_method ? p->cfg.token_method :
      "POST", p->cfg.token_url, (const gchar * const *) p->cfg.token_headers, NULL, NULL,
      p->cfg.tls_validate, p->tls_db, on_token, p);
}

/* A fresh signed token for this attempt: the secret read again (a rotated secret file is
 * picked up), iat now. */
static gboolean
mint_token (GstSttPublisher * p, GError ** error)
{
  gchar *secret = gst_stt_session_resolve_secret (p->cfg.token_secret,
      p->cfg.token_secret_file, error);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (secret == NULL)
    return FALSE;
  p->token = gst_stt_jwt_mint ((const guint8 *) secret, strlen (secret), p->claims, now,
      p->cfg.token_lifetime);
  gst_stt_wipe_free (secret);
  if (p->token == NULL) {
    g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "Could not sign a token for the caption server (OpenSSL failed)");
    return FALSE;
  }
  GST_DEBUG_OBJECT (p->log_object, "signed a token for room %s: iat %" G_GINT64_FORMAT
      ", exp %" G_GINT64_FORMAT, p->cfg.room, now, now + (gint64) p->cfg.token_lifetime);
  return TRUE;
}

static void
attempt_connect (GstSttPublisher * p)
{
  GError *err = NULL;

  if (p->state == STATE_DONE || p->state == STATE_CLOSING || is_stopped (p))
    return;
  teardown_connection (p);
  clear_source (&p->retry_timer);
  if (p->tls_db_error) {
    publisher_fail (p, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, p->tls_db_error, 0,
        0);
    return;
  }
  p->state = STATE_CONNECTING;
  p->attempt_started = now_us ();
  if ((p->cfg.token_secret && *p->cfg.token_secret)
      || (p->cfg.token_secret_file && *p->cfg.token_secret_file)) {
    if (!mint_token (p, &err)) {
      publisher_fail (p, err->domain, err->code, err->message, 0, 0);
      g_error_free (err);
      return;
    }
    connect_ws (p);
  } else if (p->cfg.token_url && *p->cfg.token_url) {
    fetch_token (p);
  } else {
    connect_ws (p);
  }
}

/* ------------------------------------------------------------------------------------ */
/* Public functions */

static gboolean
start_cb (gpointer data)
{
  GstSttPublisher *p = data;

  if (p->state == STATE_IDLE) {
    p->network_watch = stt_io_worker_watch_network (p->worker, on_network_back, p);
    p->tick_watch = stt_io_worker_watch_tick (p->worker, publisher_tick, p);
    attempt_connect (p);
  }
  return G_SOURCE_REMOVE;
}

void
gst_stt_publisher_start (GstSttPublisher * p)
{
  stt_io_worker_invoke (p->worker, start_cb, publisher_ref (p),
      (GDestroyNotify) gst_stt_publisher_unref);
}

static gboolean
flush_cb (gpointer data)
{
  GstSttPublisher *p = data;

  g_atomic_int_set (&p->flush_pending, 0);
  if (!is_stopped (p))
    flush_out (p);
  return G_SOURCE_REMOVE;
}

guint
gst_stt_publisher_push (GstSttPublisher * p, GstSttCaption * c, gboolean final)
{
  guint dropped = 0;

  g_mutex_lock (&p->lock);
  /* Whatever text comes, the interim not yet sent is out of date; a revision is about
   * a stretch before it. */
  if (!c->revision)
    g_clear_pointer (&p->interim, gst_stt_caption_free);
  if (final || c->revision) {
    dropped = gst_stt_pending_add (p->pending, c);
    p->counts.dropped += dropped;
  } else {
    p->interim = c;
  }
  g_mutex_unlock (&p->lock);
  if (!g_atomic_int_exchange (&p->flush_pending, 1))
    stt_io_worker_invoke (p->worker, flush_cb, publisher_ref (p),
        (GDestroyNotify) gst_stt_publisher_unref);
  return dropped;
}

GstSttPublisherDrain
gst_stt_publisher_drain (GstSttPublisher * p, gint64 deadline)
{
  GstSttPublisherDrain ret;

  g_mutex_lock (&p->lock);
  p->draining = TRUE;
  for (;;) {
    if (gst_stt_pending_length (p->pending) == 0) {
      ret = GST_STT_PUBLISHER_DRAINED;
      break;
    }
    if (p->flushing) {
      ret = GST_STT_PUBLISHER_INTERRUPTED;
      break;
    }
    if (p->done) {
      ret = GST_STT_PUBLISHER_GAVE_UP;
      break;
    }
    if (!g_cond_wait_until (&p->cond, &p->lock, deadline)) {
      ret = gst_stt_pending_length (p->pending) == 0 ? GST_STT_PUBLISHER_DRAINED :
          GST_STT_PUBLISHER_TIMEOUT;
      break;
    }
  }
  g_mutex_unlock (&p->lock);
  return ret;
}

static gboolean
close_cb (gpointer data)
{
  GstSttPublisher *p = data;

  if (p->state == STATE_DONE || p->state == STATE_CLOSING)
    return G_SOURCE_REMOVE;
  if (stt_ws_is_open (p->ws) && (p->state == STATE_OPEN || p->state == STATE_READY)) {
    GST_INFO_OBJECT (p->log_object, "closing: end of stream");
    p->state = STATE_CLOSING;
    stt_ws_close (p->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, CLOSE_REASON);
    return G_SOURCE_REMOVE;
  }
  end_connections (p);
  post_connection (p, GST_STT_CONNECTION_CLOSED, CLOSE_REASON, 0, 0, 0, 0, 0);
  wake_done (p, FALSE);
  return G_SOURCE_REMOVE;
}

void
gst_stt_publisher_close (GstSttPublisher * p, gint64 deadline)
{
  stt_io_worker_invoke (p->worker, close_cb, publisher_ref (p),
      (GDestroyNotify) gst_stt_publisher_unref);
  g_mutex_lock (&p->lock);
  while (!p->closed && !p->flushing && !p->stopped)
    if (!g_cond_wait_until (&p->cond, &p->lock, deadline))
      break;
  g_mutex_unlock (&p->lock);
}

static gboolean
reopen_cb (gpointer data)
{
  GstSttPublisher *p = data;
  gboolean again;

  g_mutex_lock (&p->lock);
  again = p->reopening && !p->failed && !p->stopped;
  p->reopening = FALSE;
  g_mutex_unlock (&p->lock);
  /* Still connected or retrying: nothing to do. Closing: the close goes on unheard. */
  if (!again || (p->state != STATE_DONE && p->state != STATE_CLOSING))
    return G_SOURCE_REMOVE;
  GST_INFO_OBJECT (p->log_object, "the stream goes on after its end: connecting again");
  teardown_connection (p);
  p->state = STATE_IDLE;
  p->attempt = 0;
  p->connection++;
  attempt_connect (p);
  return G_SOURCE_REMOVE;
}

void
gst_stt_publisher_reopen (GstSttPublisher * p)
{
  /* At once, not when the I/O thread gets to it: a drain that starts meanwhile must not
   * take the old end for its own. */
  g_mutex_lock (&p->lock);
  if (!p->failed && !p->stopped) {
    p->reopening = TRUE;
    p->done = p->closed = p->draining = FALSE;
  }
  g_mutex_unlock (&p->lock);
  stt_io_worker_invoke (p->worker, reopen_cb, publisher_ref (p),
      (GDestroyNotify) gst_stt_publisher_unref);
}

void
gst_stt_publisher_set_flushing (GstSttPublisher * p, gboolean flushing)
{
  g_mutex_lock (&p->lock);
  p->flushing = flushing;
  /* A drain interrupted for good is over; one that waits on calls drain again. */
  if (!flushing)
    p->draining = FALSE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

gboolean
gst_stt_publisher_failed (GstSttPublisher * p)
{
  gboolean failed;

  g_mutex_lock (&p->lock);
  failed = p->failed;
  g_mutex_unlock (&p->lock);
  return failed;
}

void
gst_stt_publisher_get_counts (GstSttPublisher * p, GstSttPublisherCounts * counts)
{
  g_mutex_lock (&p->lock);
  *counts = p->counts;
  counts->pending = gst_stt_pending_length (p->pending);
  g_mutex_unlock (&p->lock);
}

static gboolean
stop_cb (gpointer data)
{
  GstSttPublisher *p = data;

  teardown_connection (p);
  clear_source (&p->retry_timer);
  if (p->network_watch)
    stt_io_worker_unwatch_network (p->worker, p->network_watch);
  p->network_watch = 0;
  if (p->tick_watch)
    stt_io_worker_unwatch_tick (p->worker, p->tick_watch);
  p->tick_watch = 0;
  p->state = STATE_DONE;
  g_mutex_lock (&p->lock);
  p->stopped = TRUE;
  p->done = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  return G_SOURCE_REMOVE;
}

void
gst_stt_publisher_stop (GstSttPublisher * p)
{
  if (is_stopped (p))
    return;
  if (stt_io_worker_is_current (p->worker)) {
    stop_cb (p);
    return;
  }
  stt_io_worker_invoke (p->worker, stop_cb, publisher_ref (p),
      (GDestroyNotify) gst_stt_publisher_unref);
  g_mutex_lock (&p->lock);
  while (!p->stopped)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);
}
