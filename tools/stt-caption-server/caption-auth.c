/* caption-auth: see caption-auth.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttjson.h"
#include "stt-caption-jwt.h"
#include "caption-auth.h"

GHashTable *
cap_auth_request_params (SoupServerMessage * msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const gchar *query = uri ? g_uri_get_query (uri) : NULL;
  GHashTable *params = NULL;

  if (query)
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
  if (!params)
    params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return params;
}

const gchar *
cap_auth_request_token (SoupServerMessage * msg, GHashTable * params)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *auth = soup_message_headers_get_one (headers, "Authorization");

  if (auth && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0) {
    auth += 7;
    while (*auth == ' ')
      auth++;
    return *auth ? auth : NULL;
  }
  return g_hash_table_lookup (params, "token");
}

static gboolean
is_public (CapServer * server, const gchar * room)
{
  return server->opts.public_rooms &&
      g_strv_contains ((const gchar * const *) server->opts.public_rooms, room);
}

gboolean
cap_auth_check (CapServer * server, const gchar * token, const gchar * room,
    CapRole role, gchar ** publisher, const gchar ** reason)
{
  g_autoptr (JsonObject) claims = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *claim_room, *claim_role, *sub;
  gsize key_len;
  const guint8 *key = g_bytes_get_data (server->secret, &key_len);

  *publisher = NULL;
  if (role == CAP_ROLE_VIEWER && is_public (server, room))
    return TRUE;
  if (!token || !*token)
    goto missing;

  claims = stt_caption_jwt_verify_hs256 (token, key, key_len,
      g_get_real_time () / G_USEC_PER_SEC, &error);
  if (!claims)
    goto refused;
  /* The verifier checks exp when it is there; here it must be. */
  if (!json_object_has_member (claims, "exp"))
    goto no_exp;

  claim_room = stt_json_get_string (claims, "room", NULL);
  if (!claim_room || (strcmp (claim_room, "*") != 0 &&
          strcmp (claim_room, room) != 0))
    goto wrong_room;

  claim_role = stt_json_get_string (claims, "role", NULL);
  if (g_strcmp0 (claim_role, "publish") != 0 &&
      g_strcmp0 (claim_role, "watch") != 0)
    goto bad_role;
  if (role == CAP_ROLE_PUBLISHER && strcmp (claim_role, "publish") != 0)
    goto not_publisher;

  sub = stt_json_get_string (claims, "sub", NULL);
  if (json_object_has_member (claims, "sub") && (!sub || !*sub ||
          strlen (sub) > CAP_MAX_PUBLISHER_NAME))
    goto bad_sub;
  *publisher = g_strdup (sub ? sub : "default");
  return TRUE;

  /* ERRORS */
missing:
  {
    *reason = "token missing";
    return FALSE;
  }
refused:
  {
    switch (error->code) {
      case STT_CAPTION_JWT_ERROR_SIGNATURE:
        *reason = "bad signature";
        break;
      case STT_CAPTION_JWT_ERROR_EXPIRED:
        *reason = "token expired";
        break;
      case STT_CAPTION_JWT_ERROR_NOT_YET_VALID:
        *reason = "token not yet valid";
        break;
      case STT_CAPTION_JWT_ERROR_ALGORITHM:
        *reason = "token algorithm is not HS256";
        break;
      default:
        *reason = "malformed token";
        break;
    }
    return FALSE;
  }
no_exp:
  {
    *reason = "token has no exp";
    return FALSE;
  }
wrong_room:
  {
    *reason = "token for another room";
    return FALSE;
  }
bad_role:
  {
    *reason = "token role must be publish or watch";
    return FALSE;
  }
not_publisher:
  {
    *reason = "token does not allow publishing";
    return FALSE;
  }
bad_sub:
  {
    *reason = "token sub must be a string of 1 to 128 bytes";
    return FALSE;
  }
}
