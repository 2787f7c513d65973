/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-caption-jwt: verification of HS256 JSON Web Tokens (RFC 7519, compact JWS of
 * RFC 7515) for stt-caption-server. The counterpart of gst/stt/gststtjwt.c, which mints
 * them. Pure functions: no global state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define STT_CAPTION_JWT_ERROR (stt_caption_jwt_error_quark ())
GQuark stt_caption_jwt_error_quark (void);

typedef enum
{
  STT_CAPTION_JWT_ERROR_MALFORMED,      /* not three base64url parts of JSON objects */
  STT_CAPTION_JWT_ERROR_ALGORITHM,      /* "alg" is not "HS256", or "crit" is set */
  STT_CAPTION_JWT_ERROR_SIGNATURE,      /* the HMAC does not match */
  STT_CAPTION_JWT_ERROR_EXPIRED,        /* now >= "exp" */
  STT_CAPTION_JWT_ERROR_NOT_YET_VALID,  /* now < "nbf" */
} SttCaptionJwtError;

/* Tokens longer than this are refused unread. */
#define STT_CAPTION_JWT_MAX_LENGTH 8192

/* Decodes base64url without padding (RFC 7515 section 2). NULL if @text (@len bytes)
 * has a character outside the alphabet or a length no encoding gives. */
guint8 *stt_caption_jwt_base64url_decode (const gchar * text, gsize len,
    gsize * out_len);

/* Checks @token: its header says "alg":"HS256" (and no "crit"), its signature is the
 * HMAC-SHA256 under @key (@key_len bytes) of its first two parts, compared in constant
 * time, and at @now (seconds since the epoch) it is not expired ("exp", when present)
 * nor early ("nbf", when present). The payload is parsed only once the signature
 * matched. Returns its claims (unref with json_object_unref), or NULL with @error in
 * STT_CAPTION_JWT_ERROR; the message never quotes the token. */
JsonObject *stt_caption_jwt_verify_hs256 (const gchar * token, const guint8 * key,
    gsize key_len, gint64 now, GError ** error);

G_END_DECLS
