/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stthttp.c: a cancellable HTTP request on an I/O worker. The body is read as a stream
 * with a running limit: an answer over STT_HTTP_MAX_BODY stops the reading at once, so a
 * hostile or broken server cannot make us buffer gigabytes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stthttp.h"
#include "sttredact.h"
#include "stttls.h"

#define READ_SIZE (16 * 1024)

struct _SttHttp
{
  /* Worker thread only: the caller's reference and one per operation in flight, so that
   * an operation finishing after stt_http_free finds its struct. */
  guint refs;
  gboolean freed;               /* stt_http_free ran: call nobody */
  SttIoWorker *worker;
  SoupMessage *msg;             /* NULL for an invalid URL */
  GCancellable *cancellable;
  GInputStream *stream;
  GByteArray *body;
  GSource *report;              /* the invalid URL, reported from the loop */
  SttHttpCallback callback;
  gpointer user_data;
};

static void
http_unref (SttHttp * http)
{
  if (--http->refs > 0)
    return;
  g_clear_object (&http->stream);
  g_clear_pointer (&http->body, g_byte_array_unref);
  g_clear_object (&http->msg);
  g_clear_object (&http->cancellable);
  g_free (http);
}

/* Ends the request: stops whatever is in flight, then tells the caller (who may free
 * @http; the calling operation still holds its reference). */
static void
finish (SttHttp * http, guint status, GBytes * body, const GError * error)
{
  if (error || body == NULL)
    g_cancellable_cancel (http->cancellable);
  /* Closing before the end skips the rest: libsoup drops the connection, reads nothing. */
  g_clear_object (&http->stream);
  g_clear_pointer (&http->body, g_byte_array_unref);
  if (!http->freed)
    http->callback (http, status, body, error, http->user_data);
}

static void
finish_with_error (SttHttp * http, guint status, GError * error)
{
  finish (http, status, NULL, error);
  g_error_free (error);
}

static gboolean
report_invalid_url (gpointer data)
{
  SttHttp *http = data;

  g_clear_pointer (&http->report, g_source_unref);
  finish_with_error (http, 0, g_error_new_literal (G_IO_ERROR,
          G_IO_ERROR_INVALID_ARGUMENT, "invalid URL"));
  http_unref (http);
  return G_SOURCE_REMOVE;
}

GError *
stt_http_redirect_error (SoupMessage * msg)
{
  guint status = soup_message_get_status (msg);
  const gchar *location;
  g_autoptr (GUri) target = NULL;
  g_autofree gchar *where = NULL;
  g_autofree gchar *redacted = NULL;

  if (!SOUP_STATUS_IS_REDIRECTION (status))
    return NULL;
  location = soup_message_headers_get_one (soup_message_get_response_headers (msg),
      "Location");
  if (location == NULL)
    return g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "HTTP %u redirect without a location", status);
  /* Relative locations are named in full. */
  target = g_uri_parse_relative (soup_message_get_uri (msg), location, G_URI_FLAGS_ENCODED,
      NULL);
  where = target ? g_uri_to_string (target) : g_strdup (location);
  redacted = stt_redact_url (where);
  return g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "HTTP %u redirect to %s not followed: a request carrying credentials never follows "
      "a redirect", status, redacted);
}

static void read_more (SttHttp * http);

static void
on_read (GObject * source, GAsyncResult * res, gpointer data)
{
  SttHttp *http = data;
  GError *error = NULL;
  GBytes *chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, &error);

  if (http->freed || http->stream == NULL) {
    /* Freed, or already finished: nobody is waiting. */
  } else if (chunk == NULL) {
    finish (http, 0, NULL, error);
  } else if (g_bytes_get_size (chunk) == 0) {
    GBytes *body = g_byte_array_free_to_bytes (g_steal_pointer (&http->body));

    finish (http, soup_message_get_status (http->msg), body, NULL);
    g_bytes_unref (body);
  } else if (http->body->len + g_bytes_get_size (chunk) > STT_HTTP_MAX_BODY) {
    finish_with_error (http, 0, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
            "answer too large: over %u KiB", STT_HTTP_MAX_BODY / 1024));
  } else {
    g_byte_array_append (http->body, g_bytes_get_data (chunk, NULL),
        g_bytes_get_size (chunk));
    read_more (http);
  }
  g_clear_pointer (&chunk, g_bytes_unref);
  g_clear_error (&error);
  http_unref (http);
}

static void
read_more (SttHttp * http)
{
  http->refs++;
  g_input_stream_read_bytes_async (http->stream, READ_SIZE, G_PRIORITY_DEFAULT,
      http->cancellable, on_read, http);
}

static void
on_sent (GObject * source, GAsyncResult * res, gpointer data)
{
  SttHttp *http = data;
  GError *error = NULL;
  GInputStream *stream = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  guint status;
  goffset length;

  if (http->freed) {
    g_clear_object (&stream);
    g_clear_error (&error);
    http_unref (http);
    return;
  }
  if (stream == NULL) {
    GError *tls_error = stt_tls_take_error (http->msg);

    finish (http, 0, NULL, tls_error ? tls_error : error);
    g_clear_error (&tls_error);
    g_clear_error (&error);
    http_unref (http);
    return;
  }

  http->stream = stream;
  status = soup_message_get_status (http->msg);
  length = soup_message_headers_get_content_length (soup_message_get_response_headers
      (http->msg));
  if (SOUP_STATUS_IS_REDIRECTION (status))
    finish_with_error (http, status, stt_http_redirect_error (http->msg));
  else if (length > STT_HTTP_MAX_BODY)
    finish_with_error (http, 0, g_error_new (G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
            "answer too large: %" G_GINT64_FORMAT " bytes announced, over %u KiB",
            (gint64) length, STT_HTTP_MAX_BODY / 1024));
  else {
    http->body = g_byte_array_new ();
    read_more (http);
  }
  http_unref (http);
}

SttHttp *
stt_http_request (SttIoWorker * worker, const gchar * method, const gchar * url,
    const gchar * const *headers, GBytes * body, const gchar * content_type,
    gboolean tls_validate, GTlsDatabase * tls_database, SttHttpCallback callback,
    gpointer user_data)
{
  SttHttp *http;
  SoupSession *session;
  SoupMessageHeaders *h;
  guint i;

  g_return_val_if_fail (stt_io_worker_is_current (worker), NULL);
  http = g_new0 (SttHttp, 1);
  http->refs = 1;
  http->worker = worker;
  http->callback = callback;
  http->user_data = user_data;
  http->cancellable = g_cancellable_new ();
  http->msg = soup_message_new (method, url);
  if (http->msg == NULL) {
    /* From the loop: the caller stores the request before hearing of it. */
    http->refs++;
    http->report = g_idle_source_new ();
    g_source_set_callback (http->report, report_invalid_url, http, NULL);
    g_source_attach (http->report, stt_io_worker_get_context (worker));
    return http;
  }
  /* The request carries credentials: a redirect must not take them elsewhere. */
  soup_message_add_flags (http->msg, SOUP_MESSAGE_NO_REDIRECT);
  h = soup_message_get_request_headers (http->msg);
  for (i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    soup_message_headers_replace (h, headers[i], headers[i + 1]);
  if (body)
    soup_message_set_request_body_from_bytes (http->msg, content_type, body);
  session = stt_tls_attach (worker, http->msg, tls_validate, tls_database,
      http->cancellable);
  /* On the isolated session every request has a connection of its own: close it after. */
  if (session != stt_io_worker_get_session (worker))
    soup_message_headers_replace (h, "Connection", "close");

  http->refs++;
  soup_session_send_async (session, http->msg, G_PRIORITY_DEFAULT, http->cancellable,
      on_sent, http);
  return http;
}

void
stt_http_free (SttHttp * http)
{
  if (http == NULL)
    return;
  g_return_if_fail (stt_io_worker_is_current (http->worker));
  g_return_if_fail (!http->freed);
  http->freed = TRUE;
  if (http->report) {
    g_source_destroy (http->report);
    g_clear_pointer (&http->report, g_source_unref);
    http->refs--;
  }
  g_cancellable_cancel (http->cancellable);
  http_unref (http);
}
