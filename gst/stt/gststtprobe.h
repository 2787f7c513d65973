/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttProbe: is a service answering again? One WebSocket handshake to it, as a
 * connection of its own would make it (its credentials, its request), then one ping:
 * alive when the pong comes back within GST_STT_PROBE_TIMEOUT. It sends no audio and
 * posts nothing; the connection is closed at once.
 *
 * A service that is refused, unreachable, hung before or after the handshake, or that
 * stopped reading (no pong) is not alive; one that reads and pongs but has stopped
 * transcribing looks alive (the caller's try then finds out). Services whose connection
 * needs an HTTP step first (a session set-up, token-url) cannot be probed this way:
 * gst_stt_probe_can () says so. Runs on @worker; @done runs there, once, unless
 * cancelled first. */
#pragma once

#include <gst/gst.h>

#include "gststttarget.h"
#include "sttiopool.h"

G_BEGIN_DECLS

#define GST_STT_PROBE_TIMEOUT (5 * GST_SECOND)

typedef struct _GstSttProbe GstSttProbe;
typedef void (*GstSttProbeDone) (gboolean alive, const gchar * why, gpointer user_data);

gboolean gst_stt_probe_can (const GstSttTarget * target);
/* Call on @worker's thread. */
GstSttProbe *gst_stt_probe_start (SttIoWorker * worker, GstSttTarget * target,
    GTlsDatabase * tls_database, GstSttProbeDone done, gpointer user_data);
/* Stops it (no @done after this) and frees it. Call on @worker's thread. NULL-safe. */
void gst_stt_probe_free (GstSttProbe * probe);

G_END_DECLS
