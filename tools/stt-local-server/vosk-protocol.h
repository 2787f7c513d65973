/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vosk-protocol: the clients of stt-local-server. HTTP requests (the Origin check,
 * /health, the --max-clients refusal) and the vosk-server WebSocket protocol.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "server.h"

G_BEGIN_DECLS

/* Serves the requests of server->soup: /health, and a WebSocket on any path. */
void vosk_protocol_add_handlers (Server * server);

/* Shutdown: closes every client with 1001. The main loop quits once the last
 * one is gone. */
void vosk_protocol_close_all (Server * server);
/* Shutdown, when clients took too long to close: drops those left. */
void vosk_protocol_drop_all (Server * server);

G_END_DECLS
