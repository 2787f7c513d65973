/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttPublisher: one stream's connection to a caption fan-out server room, the publisher
 * side of docs/caption-server.md, driven on one shared I/O worker thread: a token for
 * every attempt, the welcome, captions out in order, cumulative acks, reconnects with
 * backoff, a closing handshake at the end.
 *
 * Public functions may be called from any thread (push and the waits from the streaming
 * thread). Callbacks run on the I/O thread with no lock held, and never after
 * gst_stt_publisher_stop() returned. */
#pragma once

#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include "gststtpending.h"
#include "gststtmessage.h"

G_BEGIN_DECLS

typedef struct
{
  gchar *url;                   /* ws(s)://host[:port]/publish/ROOM[?token=...] */
  gchar *room;
  /* Signed tokens (a fresh one for every attempt), else token_url, else the url's own
   * ?token=. */
  gchar *token_secret;          /* wiped when cleared */
  gchar *token_secret_file;
  JsonObject *token_claims;     /* the user's claims, may be NULL; room and role added */
  guint token_lifetime;
  gchar *token_url;
  gchar *token_method;
  gchar **token_headers;        /* name, value, ..., NULL */
  gchar *token_field;           /* NULL: access_token, token, key_value or value */
  gboolean tls_validate;
  gchar *tls_ca_file;
  gint reconnect_max_attempts;  /* -1: forever */
  GstClockTime reconnect_initial_delay;
  GstClockTime reconnect_max_delay;
  GstClockTime keepalive_interval;
  GstClockTime stall_timeout;   /* 0: never */
  guint max_pending;
} GstSttPublisherConfig;

void gst_stt_publisher_config_clear (GstSttPublisherConfig * config);

/* What a `sttpublish-connection` message says. */
typedef struct
{
  GstSttConnectionState state;
  guint attempt;                /* consecutive failed attempts */
  guint connection;             /* index of the connection, from 0 */
  GstClockTime retry_in;
  const gchar *reason;          /* secrets redacted */
  guint http_status;
  gint close_code;
  guint64 last_seq;             /* connected: the welcome's last_seq */
  guint resent;                 /* connected: captions sent again on this connection */
  guint pending;                /* captions not yet acknowledged */
} GstSttPublisherConnectionInfo;

typedef struct _GstSttPublisher GstSttPublisher;

typedef struct
{
  void (*connection) (GstSttPublisher * p, const GstSttPublisherConnectionInfo * info,
      gpointer user_data);
  /* A fatal failure (a close code or an answer a user must act on, reconnect-max-attempts
   * used up): no more connections. */
  void (*error) (GstSttPublisher * p, GQuark domain, gint code, const gchar * text,
      guint http_status, gint close_code, gpointer user_data);
  /* Something the user must hear about that loses nothing yet (the server has been out of
   * reach for a while). */
  void (*warning) (GstSttPublisher * p, const gchar * text, gpointer user_data);
} GstSttPublisherCallbacks;

typedef struct
{
  guint64 published;            /* finals sent at least once */
  guint64 acknowledged;         /* finals the server said it stored */
  guint64 dropped;              /* finals dropped unconfirmed (max-pending) */
  guint pending;                /* finals kept, not yet acknowledged */
} GstSttPublisherCounts;

typedef enum
{
  GST_STT_PUBLISHER_DRAINED,    /* every final acknowledged */
  GST_STT_PUBLISHER_TIMEOUT,    /* the deadline passed first */
  GST_STT_PUBLISHER_INTERRUPTED,        /* set_flushing (TRUE) */
  GST_STT_PUBLISHER_GAVE_UP,    /* no more connections (fatal failure, attempts used up) */
} GstSttPublisherDrain;

/* Takes @config. */
GstSttPublisher *gst_stt_publisher_new (GstSttPublisherConfig * config,
    const GstSttPublisherCallbacks * cb, gpointer user_data, GstObject * log_object);
/* Connects. */
void gst_stt_publisher_start (GstSttPublisher * p);
/* A caption (taken) to publish: a final, or a revision (whatever @final says), is kept
 * until acknowledged; an interim replaces the one not yet sent (a final drops it too). Never blocks on the network. Returns how
 * many finals were dropped unconfirmed to make room (max-pending). */
guint gst_stt_publisher_push (GstSttPublisher * p, GstSttCaption * c, gboolean final);
/* Waits until every final is acknowledged, @deadline (monotonic time, µs) passes,
 * set_flushing (TRUE) or the publisher gives up. Reconnects go on meanwhile. */
GstSttPublisherDrain gst_stt_publisher_drain (GstSttPublisher * p, gint64 deadline);
/* Ends the connection with a normal close (1000) and waits for the server's close frame
 * until @deadline; no more attempts after this. */
void gst_stt_publisher_close (GstSttPublisher * p, gint64 deadline);
/* After close (or giving up a drain): connect again, for a stream that goes on (a flush
 * after EOS). Nothing after a fatal failure. */
void gst_stt_publisher_reopen (GstSttPublisher * p);
/* TRUE: interrupts the waits above; FALSE: lets them wait again. */
void gst_stt_publisher_set_flushing (GstSttPublisher * p, gboolean flushing);
/* Whether a fatal failure ended the publisher. */
gboolean gst_stt_publisher_failed (GstSttPublisher * p);
void gst_stt_publisher_get_counts (GstSttPublisher * p, GstSttPublisherCounts * counts);
/* Cancels everything and waits until the I/O thread let go. No callback after this. */
void gst_stt_publisher_stop (GstSttPublisher * p);
void gst_stt_publisher_unref (GstSttPublisher * p);

G_END_DECLS
