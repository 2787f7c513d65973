/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtprobe.c: a handshake and a ping to a service, to know whether it answers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtprobe.h"
#include "sttws.h"

struct _GstSttProbe
{
  SttIoWorker *worker;
  GstSttTarget *target;
  GstSttCredentials cred;
  SttProviderConfig pcfg;
  SttProviderState pstate;
  SttWs *ws;
  GSource *timer;
  GstSttProbeDone done;
  gpointer user_data;
};

gboolean
gst_stt_probe_can (const GstSttTarget * t)
{
  return t->cfg.provider->build_init_request == NULL
      && (t->cfg.token_url == NULL || *t->cfg.token_url == '\0');
}

/* Reports once and stops everything; @p stays allocated for the caller to free. */
static void
finish (GstSttProbe * p, gboolean alive, const gchar * why)
{
  GstSttProbeDone done = p->done;

  p->done = NULL;
  if (p->timer) {
    g_source_destroy (p->timer);
    g_clear_pointer (&p->timer, g_source_unref);
  }
  g_clear_pointer (&p->ws, stt_ws_free);
  stt_provider_clear_priv (&p->pstate);
  gst_stt_credentials_clear (&p->cred);
  if (done)
    done (alive, why, p->user_data);
}

static void
on_opened (SttWs * ws, gpointer user_data)
{
  /* The ping follows on its own (keepalive of one second). */
}

static void
on_failed (SttWs * ws, guint status, gint retry_after, const GError * error,
    gpointer user_data)
{
  g_autofree gchar *why = status ? g_strdup_printf ("HTTP %u", status) :
      g_strdup (error ? error->message : "no answer");

  finish (user_data, FALSE, why);
}

static void
on_message (SttWs * ws, gboolean binary, GBytes * data, gpointer user_data)
{
}

static void
on_pong (SttWs * ws, gpointer user_data)
{
  finish (user_data, TRUE, NULL);
}

static void
on_closed (SttWs * ws, gushort code, const gchar * reason, gpointer user_data)
{
  g_autofree gchar *why = g_strdup_printf ("closed: %u %s", code, reason);

  finish (user_data, FALSE, why);
}

static const SttWsCallbacks probe_callbacks = {
  .opened = on_opened,
  .failed = on_failed,
  .message = on_message,
  .pong = on_pong,
  .closed = on_closed,
};

static gboolean
timeout_cb (gpointer data)
{
  GstSttProbe *p = data;

  g_clear_pointer (&p->timer, g_source_unref);
  finish (p, FALSE, "no answer to a ping");
  return G_SOURCE_REMOVE;
}

static gboolean
fail_later_cb (gpointer data)
{
  GstSttProbe *p = data;

  g_clear_pointer (&p->timer, g_source_unref);
  finish (p, FALSE, "no credentials or request for it");
  return G_SOURCE_REMOVE;
}

GstSttProbe *
gst_stt_probe_start (SttIoWorker * worker, GstSttTarget * t, GTlsDatabase * tls_database,
    GstSttProbeDone done, gpointer user_data)
{
  GstSttProbe *p = g_new0 (GstSttProbe, 1);
  SttRequest req = { 0, };
  SttWsOptions opts = { 0, };
  GPtrArray *headers;
  gboolean ok;
  guint i;

  p->worker = worker;
  p->target = t;
  p->done = done;
  p->user_data = user_data;
  ok = gst_stt_credentials_has_secret (&t->cred_src) ?
      gst_stt_credentials_mint (&p->cred, &t->cred_src, g_get_real_time () /
      G_USEC_PER_SEC, NULL) : gst_stt_credentials_use_key (&p->cred, &t->cred_src, NULL);
  p->pcfg = gst_stt_target_provider_config (t, NULL, &p->cred);
  p->pstate.info = t->cfg.provider;
  p->pstate.config = &p->pcfg;
  /* A URL template with {token} needs a token filled in: not probed. */
  if (!ok || (t->cfg.url && strstr (t->cfg.url, "{token}"))
      || !t->cfg.provider->build_request (&p->pstate, &req, NULL)) {
    stt_request_clear (&req);
    /* Reported from a fresh dispatch, never from inside the start. */
    p->timer = stt_io_worker_add_timeout (worker, 0, fail_later_cb, p, NULL);
    return p;
  }
  headers = g_ptr_array_new ();
  for (i = 0; req.headers && i < req.headers->len; i++)
    g_ptr_array_add (headers, g_ptr_array_index (req.headers, i));
  for (i = 0; t->extra_headers && t->extra_headers[i]; i++)
    g_ptr_array_add (headers, t->extra_headers[i]);
  g_ptr_array_add (headers, NULL);
  opts.url = req.url;
  opts.headers = (const gchar * const *) headers->pdata;
  opts.protocols = (const gchar * const *) req.protocols;
  opts.keepalive_interval = 1;
  opts.connect_timeout = GST_STT_PROBE_TIMEOUT / GST_SECOND;
  opts.tls_validate = t->cfg.tls_validate;
  opts.tls_database = tls_database;
  p->ws = stt_ws_connect (worker, &opts, &probe_callbacks, p);
  g_ptr_array_unref (headers);
  stt_request_clear (&req);
  /* The handshake and the first pong, together. */
  p->timer = stt_io_worker_add_timeout (worker,
      (guint) ((GST_STT_PROBE_TIMEOUT + 2 * GST_SECOND) / GST_MSECOND), timeout_cb, p,
      NULL);
  return p;
}

void
gst_stt_probe_free (GstSttProbe * p)
{
  if (p == NULL)
    return;
  p->done = NULL;
  finish (p, FALSE, NULL);
  g_free (p);
}
