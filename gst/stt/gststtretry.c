/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtretry.c: the failure policy. Which failures are worth another attempt, which
 * are fatal and with what error, when a refused token earns a fresh one, and how long
 * to wait before the next attempt. Pure functions: no session, no clock, and the
 * randomness of the jitter comes from the caller. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststtretry.h"

static GstSttDecision
retry (void)
{
  GstSttDecision d = { GST_STT_VERDICT_RETRY, 0, GST_STT_FATAL_CLASS };

  return d;
}

static GstSttDecision
fail (GstResourceError code, GstSttFatal why)
{
  GstSttDecision d = { GST_STT_VERDICT_FAIL, code, why };

  return d;
}

/* Credentials rejected, or anything else fatal: a bad request or configuration. */
static GstSttDecision
fail_class (SttFailure failure)
{
  return fail (failure == STT_FAILURE_AUTH ? GST_RESOURCE_ERROR_NOT_AUTHORIZED :
      GST_RESOURCE_ERROR_SETTINGS, GST_STT_FATAL_CLASS);
}

/* The service (or a relay in front of it) refused the token of this connection after
 * the handshake. A temporary token may have expired and a signed one may have been
 * minted just before the relay's clock turned: one fresh token and one retry. Refused
 * again before a connection worked, it is fatal: a token that keeps being refused
 * never loops. */
static GstSttDecision
token_refused (const GstSttFailure * f)
{
  GstSttDecision d = { GST_STT_VERDICT_FRESH_TOKEN, 0, GST_STT_FATAL_CLASS };

  if (f->token_refusals == 0)
    return d;
  return fail (GST_RESOURCE_ERROR_NOT_AUTHORIZED, GST_STT_FATAL_TOKEN_REFUSED);
}

/* The class a close gets, the provider's @failure adjusted: a relay refuses a signed
 * token with 4001 (or 1008), whatever the provider behind it means by 4001. */
static SttFailure
close_class (SttFailure failure, gint close_code, gboolean signed_token)
{
  if (signed_token && (close_code == 4001 || close_code == 1008))
    return STT_FAILURE_AUTH;
  return failure;
}

static GstSttDecision
decide_connect (const GstSttFailure * f)
{
  if (!f->http_status && f->tls_error)
    return fail (GST_RESOURCE_ERROR_OPEN_READ_WRITE, GST_STT_FATAL_TLS);
  if (!f->http_status && !f->ever_connected
      && f->attempt + 1 >= GST_STT_FIRST_CONNECT_ATTEMPTS && f->max_attempts < 0)
    /* Never reached at all: most likely the wrong place, or a server not started. */
    return fail (GST_RESOURCE_ERROR_OPEN_READ_WRITE, GST_STT_FATAL_UNREACHABLE);
  /* A token minted a moment ago is refused for what it says, not for its age: a new
   * one would be refused too. */
  if (f->failure == STT_FAILURE_AUTH || f->failure == STT_FAILURE_FATAL)
    return fail_class (f->failure);
  return retry ();
}

static GstSttDecision
decide_close (const GstSttFailure * f)
{
  SttFailure c = close_class (f->failure, f->close_code, f->signed_token);

  /* A normal close before the end-of-audio acknowledgement: what it had not turned into
   * finals is heard again on a new connection, as after any other drop. */
  if (f->end_sent && (c == STT_FAILURE_NONE || f->close_code == 1000))
    return retry ();
  switch (c) {
    case STT_FAILURE_AUTH:
      /* A temporary token expired mid-stream, or a relay refused a signed one. */
      if (f->key_is_token)
        return token_refused (f);
      return fail_class (c);
    case STT_FAILURE_FATAL:
      return fail_class (c);
    default:
      /* A normal close in mid-stream is still a lost connection for us. */
      return retry ();
  }
}

static GstSttDecision
decide_in_band (const GstSttFailure * f)
{
  if (f->failure == STT_FAILURE_RETRY)
    return retry ();
  /* An expired token said in-band: a fresh one comes with the retry. */
  if (f->failure == STT_FAILURE_AUTH && f->key_is_token)
    return token_refused (f);
  return fail_class (f->failure);
}

GstSttDecision
gst_stt_retry_decide (const GstSttFailure * f)
{
  switch (f->where) {
    case GST_STT_FAILED_CONNECT:
      return decide_connect (f);
    case GST_STT_FAILED_CLOSE:
      return decide_close (f);
    case GST_STT_FAILED_IN_BAND:
      return decide_in_band (f);
    case GST_STT_FAILED_SETUP:
      if (f->failure == STT_FAILURE_RETRY)
        return retry ();
      return fail_class (f->failure);
    case GST_STT_FAILED_TOKEN_SERVICE:
    default:
      if (!f->http_status && f->tls_error)
        return fail (GST_RESOURCE_ERROR_OPEN_READ_WRITE, GST_STT_FATAL_TLS);
      if (stt_failure_from_http (f->http_status) == STT_FAILURE_RETRY)
        return retry ();
      return fail_class (stt_failure_from_http (f->http_status));
  }
}

gboolean
gst_stt_retry_backoff (const GstSttBackoff * b, guint attempt, gint retry_after,
    GstSttRandomFunc random, gpointer random_data, GstClockTime * delay)
{
  GstClockTime wait = 0;

  *delay = 0;
  if (b->max_attempts >= 0 && attempt > (guint) b->max_attempts)
    return FALSE;
  /* First retry at once; then exponential with jitter, capped. */
  if (attempt > 1) {
    guint shift = MIN (attempt - 2, 20);
    GstClockTime d = b->initial_delay << shift;

    d = MIN (d, b->max_delay);
    wait = d / 2 + (GstClockTime) (random (random_data) * (d / 2));
  }
  if (retry_after >= 0)
    wait = MAX (wait, (GstClockTime) retry_after * GST_SECOND);
  *delay = wait;
  return TRUE;
}
