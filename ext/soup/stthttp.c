/* stthttp.c: a cancellable HTTP request on an I/O worker, body read whole (bounded). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stthttp.h"
#include "stttls.h"

/* Token and init answers are small; anything bigger is not what we asked for. */
#define MAX_BODY (256 * 1024)

struct _SttHttp
{
  SttIoWorker *worker;
  SoupMessage *msg;
  GCancellable *cancellable;
  SttHttpCallback callback;
  gpointer user_data;
};

typedef struct
{
  SttHttp *http;                /* NULL once freed */
} Ctx;

static void
on_done (GObject * source, GAsyncResult * res, gpointer data)
{
  Ctx *ctx = data;
  SttHttp *http = ctx->http;
  GError *error = NULL;
  GBytes *body = soup_session_send_and_read_finish (SOUP_SESSION (source), res, &error);
  guint status = 0;

  g_free (ctx);
  if (http == NULL) {
    g_clear_pointer (&body, g_bytes_unref);
    g_clear_error (&error);
    return;
  }
  g_object_set_data (G_OBJECT (http->msg), "stt-http-ctx", NULL);
  if (body)
    status = soup_message_get_status (http->msg);
  if (body && g_bytes_get_size (body) > MAX_BODY) {
    g_clear_pointer (&body, g_bytes_unref);
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "answer too large");
    status = 0;
  }
  http->callback (http, status, body, error, http->user_data);
  g_clear_pointer (&body, g_bytes_unref);
  g_clear_error (&error);
}

SttHttp *
stt_http_request (SttIoWorker * worker, const gchar * method, const gchar * url,
    const gchar * const *headers, GBytes * body, const gchar * content_type,
    gboolean tls_validate, GTlsDatabase * tls_database, SttHttpCallback callback,
    gpointer user_data)
{
  SttHttp *http;
  Ctx *ctx;
  SoupMessageHeaders *h;
  guint i;

  g_return_val_if_fail (stt_io_worker_is_current (worker), NULL);
  http = g_new0 (SttHttp, 1);
  http->worker = worker;
  http->callback = callback;
  http->user_data = user_data;
  http->cancellable = g_cancellable_new ();
  http->msg = soup_message_new (method, url);
  if (http->msg == NULL) {
    GError *err = g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid URL");
    callback (http, 0, NULL, err, user_data);
    g_error_free (err);
    return http;
  }
  h = soup_message_get_request_headers (http->msg);
  for (i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    soup_message_headers_replace (h, headers[i], headers[i + 1]);
  if (body)
    soup_message_set_request_body_from_bytes (http->msg, content_type, body);
  stt_tls_attach (http->msg, tls_validate, tls_database);

  ctx = g_new0 (Ctx, 1);
  ctx->http = http;
  g_object_set_data (G_OBJECT (http->msg), "stt-http-ctx", ctx);
  soup_session_send_and_read_async (stt_io_worker_get_session (worker), http->msg,
      G_PRIORITY_DEFAULT, http->cancellable, on_done, ctx);
  return http;
}

void
stt_http_free (SttHttp * http)
{
  if (http == NULL)
    return;
  if (http->msg) {
    Ctx *ctx = g_object_get_data (G_OBJECT (http->msg), "stt-http-ctx");
    if (ctx)
      ctx->http = NULL;
  }
  g_cancellable_cancel (http->cancellable);
  g_clear_object (&http->cancellable);
  g_clear_object (&http->msg);
  g_free (http);
}
