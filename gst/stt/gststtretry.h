/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtretry.h: the failure policy, as pure functions. Given what failed and where
 * (the failure class, HTTP status, close code, attempt number, Retry-After, the tokens
 * refused so far, what kind of key the attempt had, the reconnect settings), they say
 * what to do: retry after a delay, fail with a GstResourceError code, or retry once with
 * a fresh token. They touch no session: the session asks and acts on the answer. */
#pragma once

#include <gst/gst.h>
#include "sttprovider.h"

G_BEGIN_DECLS

/* With reconnect-max-attempts=-1, a service never reached since the start is given this
 * many attempts (about 4 s of backoff) before the error: retrying forever is for
 * connections that were working. */
#define GST_STT_FIRST_CONNECT_ATTEMPTS 5

/* Where a failure happened. */
typedef enum
{
  GST_STT_FAILED_CONNECT,       /* the WebSocket handshake: an HTTP status, or none */
  GST_STT_FAILED_CLOSE,         /* the service closed the connection */
  GST_STT_FAILED_IN_BAND,       /* the service reported an error on the connection */
  GST_STT_FAILED_SETUP,         /* the provider's HTTP session set-up step */
  GST_STT_FAILED_TOKEN_SERVICE, /* the token-url request */
} GstSttFailedAt;

/* What a failure is, and what the session knows around it. */
typedef struct
{
  GstSttFailedAt where;
  /* The provider's class for it (not read for GST_STT_FAILED_TOKEN_SERVICE, classified
   * by its HTTP status here). */
  SttFailure failure;
  guint http_status;            /* 0: no answer */
  gint close_code;              /* GST_STT_FAILED_CLOSE */
  gboolean tls_error;           /* no answer because of the certificate */
  gboolean end_sent;            /* the end of audio was sent on this connection */
  gboolean key_is_token;        /* the attempt's key is a temporary or signed token */
  gboolean signed_token;        /* ... minted here from token-secret */
  guint token_refusals;         /* tokens refused since a connection last worked */
  gboolean ever_connected;      /* a connection opened since the start */
  guint attempt;                /* consecutive failed attempts before this one */
  gint max_attempts;            /* reconnect-max-attempts; -1: no limit */
} GstSttFailure;

typedef enum
{
  GST_STT_VERDICT_RETRY,        /* another attempt (after the backoff) */
  GST_STT_VERDICT_FRESH_TOKEN,  /* count a refused token, and retry with a fresh one */
  GST_STT_VERDICT_FAIL,         /* an error with @code */
} GstSttVerdict;

/* Why a failure is fatal, where it is not just its class. */
typedef enum
{
  GST_STT_FATAL_CLASS,          /* the failure class says so (auth, settings) */
  GST_STT_FATAL_TLS,            /* a certificate does not fix itself */
  GST_STT_FATAL_UNREACHABLE,    /* never reached in GST_STT_FIRST_CONNECT_ATTEMPTS */
  GST_STT_FATAL_TOKEN_REFUSED,  /* a fresh token was refused too */
} GstSttFatal;

typedef struct
{
  GstSttVerdict verdict;
  GstResourceError code;        /* GST_STT_VERDICT_FAIL */
  GstSttFatal why;              /* GST_STT_VERDICT_FAIL */
} GstSttDecision;

GstSttDecision gst_stt_retry_decide (const GstSttFailure * f);

/* The reconnect settings. */
typedef struct
{
  GstClockTime initial_delay;
  GstClockTime max_delay;
  gint max_attempts;            /* -1: no limit */
} GstSttBackoff;

/* A random number in [0, 1): g_random_double, or a fixed one in tests. */
typedef gdouble (*GstSttRandomFunc) (gpointer data);

/* The wait before attempt @attempt + 1, @attempt being the consecutive failed attempts
 * counting this failure (>= 1): the first retry at once, then doubling from
 * initial_delay up to max_delay, with jitter (between half and all of it), and never
 * shorter than @retry_after seconds (-1: none). FALSE when max_attempts are spent. */
gboolean gst_stt_retry_backoff (const GstSttBackoff * b, guint attempt, gint retry_after,
    GstSttRandomFunc random, gpointer random_data, GstClockTime * delay);

G_END_DECLS
