/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttls: the certificate checks of our WebSocket and HTTP requests.
 * - The default: the system store, on the worker's shared session.
 * - tls-ca-file: that file's CAs replace the system store for the connection.
 * - tls-validate=false: any certificate (the element warned).
 * The last two run on the worker's isolated session, each request on a connection of its
 * own, so that a connection accepted under one policy never carries another's request.
 * glib-networking keeps one TLS session cache for the whole process and checks no
 * certificate when it resumes a session: every resumed handshake is checked again here,
 * against the request's own policy. */
#pragma once

#include <libsoup/soup.h>

#include "sttiopool.h"

G_BEGIN_DECLS

/* Applies the certificate policy to @msg and returns the session of @worker to send it
 * on. @database: the CAs to trust instead of the system store, or NULL. @cancellable is
 * the request's: it is cancelled when a handshake skipped the checks the policy asks for
 * (see stt_tls_take_error). Worker thread only. */
SoupSession *stt_tls_attach (SttIoWorker * worker, SoupMessage * msg, gboolean validate,
    GTlsDatabase * database, GCancellable * cancellable);

/* After @msg failed: the TLS error that stopped it when stttls cancelled it, or NULL.
 * Transfer full. */
GError *stt_tls_take_error (SoupMessage * msg);

/* TRUE if @error is a TLS failure (bad certificate, handshake). */
gboolean stt_tls_is_error (const GError * error);

G_END_DECLS
