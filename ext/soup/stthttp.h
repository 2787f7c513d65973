/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stthttp: one HTTP request over the worker's SoupSession (token fetches, session
 * init steps). Call from the worker's thread; the callback runs there too, always from
 * the worker's main loop: never before stt_http_request has returned. */
#pragma once

#include "sttiopool.h"

G_BEGIN_DECLS

typedef struct _SttHttp SttHttp;

/* The largest answer read: token and init answers are small. */
#define STT_HTTP_MAX_BODY (256 * 1024)

/* @status is 0 when no usable HTTP answer came (@error says why: a network or TLS
 * failure, an invalid URL, an answer over STT_HTTP_MAX_BODY). A redirect (3xx) is never
 * followed, as the request carries credentials: @status is the 3xx and @error names the
 * new location, redacted. @body may be NULL. The callback may free @http. */
typedef void (*SttHttpCallback) (SttHttp * http, guint status, GBytes * body,
    const GError * error, gpointer user_data);

/* @headers: name, value, ..., NULL. @body with @content_type, or NULL.
 * @tls_database: the CAs to trust instead of the system store (tls-ca-file), or NULL.
 * Never returns NULL for a valid @worker; free with stt_http_free (also after the
 * callback ran). */
SttHttp *stt_http_request (SttIoWorker * worker, const gchar * method, const gchar * url,
    const gchar * const *headers, GBytes * body, const gchar * content_type,
    gboolean tls_validate, GTlsDatabase * tls_database, SttHttpCallback callback,
    gpointer user_data);
/* Cancels: the callback never runs after this. */
void stt_http_free (SttHttp * http);

/* The error for a redirect answer to @msg: it names the new location, redacted. NULL
 * unless @msg's status is 3xx. */
GError *stt_http_redirect_error (SoupMessage * msg);

G_END_DECLS
