/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-auth: who may publish to or watch a room. HS256 tokens (verified by
 * tools/stt-caption-jwt.c) with claims room ("*" for any), role ("publish", which may
 * also watch, or "watch"), exp (required) and sub (optional, the publisher's name);
 * rooms named by --public-room need no viewer token.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

#include "caption-server.h"

G_BEGIN_DECLS

/* Publisher names (a token's sub) are at most this many bytes. */
#define CAP_MAX_PUBLISHER_NAME 128

/* The query parameters of @msg's URI, decoded (name -> value); never NULL. */
GHashTable *cap_auth_request_params (SoupServerMessage * msg);

/* The token of a request: "Authorization: Bearer JWT", else ?token=JWT in @params.
 * Transfer none; NULL when there is none. */
const gchar *cap_auth_request_token (SoupServerMessage * msg,
    GHashTable * params);

/* May the bearer of @token (may be NULL) act as @role in @room? TRUE, with
 * *publisher (the token's sub, else "default"; NULL without a token) for the caller
 * to free; or FALSE with *reason, static text for a close reason or an HTTP answer
 * ("token expired", "bad signature", ...). */
gboolean cap_auth_check (CapServer * server, const gchar * token,
    const gchar * room, CapRole role, gchar ** publisher,
    const gchar ** reason);

G_END_DECLS
