/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttls.c: certificate checks on a SoupMessage, shared by sttws.c and stthttp.c. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stttls.h"

#define TLS_ERROR_KEY "stt-tls-error"

typedef struct
{
  gboolean validate;
  GTlsDatabase *database;       /* NULL: the system store */
  GCancellable *cancellable;
} Policy;

static void
policy_free (gpointer data, GClosure * closure)
{
  Policy *p = data;

  g_clear_object (&p->database);
  g_clear_object (&p->cancellable);
  g_free (p);
}

static gboolean
accept_any (SoupMessage * msg, GTlsCertificate * cert, GTlsCertificateFlags errors,
    gpointer data)
{
  /* Validation was turned off on purpose (the element warned). */
  return TRUE;
}

static void
on_network_event (SoupMessage * msg, GSocketClientEvent event, GIOStream * connection,
    gpointer data)
{
  Policy *p = data;
  GTlsConnection *tls;

  if (!G_IS_TLS_CONNECTION (connection))
    return;
  tls = G_TLS_CONNECTION (connection);
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && p->database) {
    /* libsoup 3.2 has no per-message database: set it on the connection before its
     * handshake. It replaces the system store: a certificate it does not vouch for
     * reaches accept-certificate, which nobody answers, and is refused. */
    g_tls_connection_set_database (tls, p->database);
  } else if (event == G_SOCKET_CLIENT_TLS_HANDSHAKED && p->validate) {
    /* A resumed session skipped the certificate checks (glib-networking checks the
     * certificate only afterwards, and accepts it whatever the result): the session
     * may have been accepted by a stream that checks nothing. Nothing of the request
     * has been written yet: refuse it now. */
    if (g_tls_connection_get_peer_certificate (tls) == NULL
        || g_tls_connection_get_peer_certificate_errors (tls) != 0) {
      g_object_set_data_full (G_OBJECT (msg), TLS_ERROR_KEY,
          g_error_new_literal (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
              "Unacceptable TLS certificate"), (GDestroyNotify) g_error_free);
      g_cancellable_cancel (p->cancellable);
    }
  }
}

SoupSession *
stt_tls_attach (SttIoWorker * worker, SoupMessage * msg, gboolean validate,
    GTlsDatabase * database, GCancellable * cancellable)
{
  Policy *p;

  g_return_val_if_fail (stt_io_worker_is_current (worker), NULL);
  g_return_val_if_fail (G_IS_CANCELLABLE (cancellable), NULL);
  if (!validate)
    database = NULL;
  p = g_new0 (Policy, 1);
  p->validate = validate;
  p->database = database ? g_object_ref (database) : NULL;
  p->cancellable = g_object_ref (cancellable);
  g_signal_connect_data (msg, "network-event", G_CALLBACK (on_network_event), p,
      policy_free, 0);
  if (validate && database == NULL)
    return stt_io_worker_get_session (worker);

  if (!validate)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any), NULL);
  /* A connection of its own: one checked under another policy is never reused. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NEW_CONNECTION);
  return stt_io_worker_get_isolated_session (worker);
}

GError *
stt_tls_take_error (SoupMessage * msg)
{
  return g_object_steal_data (G_OBJECT (msg), TLS_ERROR_KEY);
}

gboolean
stt_tls_is_error (const GError * error)
{
  return error && error->domain == G_TLS_ERROR;
}
