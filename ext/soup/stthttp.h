/* stthttp: one HTTP request over the worker's SoupSession (token fetches, session
 * init steps). Call from the worker's thread; the callback runs there too. */
#pragma once

#include "sttiopool.h"

G_BEGIN_DECLS

typedef struct _SttHttp SttHttp;

/* @status is 0 when no HTTP answer came (@error says why). @body may be NULL. */
typedef void (*SttHttpCallback) (SttHttp * http, guint status, GBytes * body,
    const GError * error, gpointer user_data);

/* @headers: name, value, ..., NULL. @body with @content_type, or NULL.
 * @tls_database: a private CA to trust, or NULL. */
SttHttp *stt_http_request (SttIoWorker * worker, const gchar * method, const gchar * url,
    const gchar * const *headers, GBytes * body, const gchar * content_type,
    gboolean tls_validate, GTlsDatabase * tls_database, SttHttpCallback callback,
    gpointer user_data);
/* Cancels: the callback never runs after this. */
void stt_http_free (SttHttp * http);

G_END_DECLS
