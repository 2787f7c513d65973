/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttws: one WebSocket client connection over libsoup 3, used from one I/O worker.
 * It knows nothing of providers: it moves frames and reports what happened. */
#pragma once

#include "sttiopool.h"
/* stt_redact_url, long declared here: its callers include this header. */
#include "sttredact.h"

G_BEGIN_DECLS

typedef struct _SttWs SttWs;

typedef struct
{
  void (*opened) (SttWs * ws, gpointer user_data);
  /* The handshake or the connection itself failed before opening. @http_status is 0
   * when no HTTP answer came; @retry_after is the Retry-After header in seconds, or -1.
   * A redirect is never followed (the upgrade carries credentials): @http_status is the
   * 3xx and @error names the new location, redacted. A certificate refused gives a
   * G_TLS_ERROR (stt_tls_is_error). Never called before stt_ws_connect returned. */
  void (*failed) (SttWs * ws, guint http_status, gint retry_after, const GError * error,
      gpointer user_data);
  void (*message) (SttWs * ws, gboolean binary, GBytes * data, gpointer user_data);
  void (*pong) (SttWs * ws, gpointer user_data);
  /* The connection closed (by either side) after opening. @code is 1006 when it ended
   * without a close frame. */
  void (*closed) (SttWs * ws, gushort code, const gchar * reason, gpointer user_data);
} SttWsCallbacks;

typedef struct
{
  const gchar *url;
  const gchar *const *headers;  /* name, value, ..., NULL */
  const gchar *const *protocols;
  guint keepalive_interval;     /* seconds between pings, 0 = none */
  guint connect_timeout;        /* seconds, 0 = libsoup's default */
  gboolean tls_validate;
  GTlsDatabase *tls_database;   /* NULL = system store */
} SttWsOptions;

SttWs *stt_ws_connect (SttIoWorker * worker, const SttWsOptions * opts,
    const SttWsCallbacks * callbacks, gpointer user_data);
void stt_ws_send (SttWs * ws, gboolean binary, GBytes * data);
/* Starts the closing handshake; `closed` follows. */
void stt_ws_close (SttWs * ws, gushort code, const gchar * reason);
/* Cancels everything and frees: no callback runs after this. */
void stt_ws_free (SttWs * ws);
gboolean stt_ws_is_open (SttWs * ws);
/* Whether the connection takes more data now: open, and its socket writable (a peer that
 * stops reading fills the socket's buffers; data sent past that would pile up in
 * libsoup's queue). The socket is asked only after 64 KiB were sent since it last said
 * yes, so at most that much piles up. */
gboolean stt_ws_can_send (SttWs * ws);

G_END_DECLS
