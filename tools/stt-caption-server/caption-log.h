/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-log: one JSON line per event on stderr, for log collectors:
 *   {"event":"open","role":"viewer","room":"r","ip":"127.0.0.1","conn":3,"time":"..."}
 * Tokens and the secret never go in: callers pass names, addresses and reasons only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "caption-json.h"

G_BEGIN_DECLS

/* Starts the line of @event in @j; add members with cap_json_add_*(). */
void cap_log_begin (CapJson * j, const gchar * event);
/* Adds "time" (UTC, ISO 8601 with ms), writes the line and frees @j's text. */
void cap_log_end (CapJson * j);

G_END_DECLS
