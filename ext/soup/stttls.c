/* stttls.c: certificate checks on a SoupMessage, shared by sttws.c and stthttp.c. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stttls.h"

static gboolean
on_accept_certificate (SoupMessage * msg, GTlsCertificate * cert,
    GTlsCertificateFlags errors, gpointer data)
{
  GTlsDatabase *db = data;
  g_autofree gchar *uri = NULL;
  g_autoptr (GSocketConnectable) identity = NULL;

  /* NULL: validation was turned off on purpose (the element warned). */
  if (db == NULL)
    return TRUE;
  /* libsoup 3.2 has no per-message TLS database: verify the chain against the private
   * CA ourselves, host name included. */
  uri = g_uri_to_string (soup_message_get_uri (msg));
  identity = g_network_address_parse_uri (uri, 443, NULL);
  return g_tls_database_verify_chain (db, cert, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
      identity, NULL, G_TLS_DATABASE_VERIFY_NONE, NULL, NULL) == 0;
}

void
stt_tls_attach (SoupMessage * msg, gboolean validate, GTlsDatabase * database)
{
  if (!validate)
    g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  else if (database)
    g_signal_connect_data (msg, "accept-certificate", G_CALLBACK (on_accept_certificate),
        g_object_ref (database), (GClosureNotify) g_object_unref, 0);
}

gboolean
stt_tls_is_error (const GError * error)
{
  return error && error->domain == G_TLS_ERROR;
}
