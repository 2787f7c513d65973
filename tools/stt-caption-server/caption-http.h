/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-http: the plain HTTP side of stt-caption-server. The Origin check (403 before
 * any WebSocket upgrade), GET /health, GET /metrics, the viewer page GET /rooms/ROOM
 * (a GResource) and the transcripts GET /rooms/ROOM/transcript.vtt and .srt.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The SoupServer handler for every path (@user_data: the CapServer). WebSocket paths
 * (/publish/, /watch/) are left unanswered so libsoup goes on with the handshake. */
void cap_http_on_request (SoupServer * soup, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data);

G_END_DECLS
