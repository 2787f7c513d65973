/* stttls: certificate checks for our WebSocket and HTTP requests. libsoup validates
 * against the system store; this adds a private CA (tls-ca-file) and the explicit,
 * logged opt-out (tls-validate=false). */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Makes @msg accept a certificate the system store rejects when @database (a private
 * CA) validates it for the request's host, or always when !@validate. */
void stt_tls_attach (SoupMessage * msg, gboolean validate, GTlsDatabase * database);

/* TRUE if @error is a TLS failure (bad certificate, handshake). */
gboolean stt_tls_is_error (const GError * error);

G_END_DECLS
