/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtjwt: HS256 JSON Web Tokens (RFC 7519, compact JWS of RFC 7515) for relays and
 * caption servers that take a token signed with a shared secret. Pure functions: no
 * GStreamer object, no global state but OpenSSL's random generator.
 *
 * Returned tokens are bearer credentials: callers wipe them (memset) before freeing. */
#pragma once

#include <gst/gst.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The JOSE header of every token minted here, byte for byte. */
#define GST_STT_JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* base64url (RFC 7515 section 2) of @len bytes of @data, without padding. */
gchar *gst_stt_jwt_base64url (const guint8 * data, gsize len);

/* The compact JWS of the exact octets @header and @payload, signed with HMAC-SHA256
 * under @key (@key_len bytes): base64url (header) "." base64url (payload) "."
 * base64url (signature). NULL if OpenSSL failed. */
gchar *gst_stt_jwt_sign_hs256 (const guint8 * header, gsize header_len,
    const guint8 * payload, gsize payload_len, const guint8 * key, gsize key_len);

/* The claims set (JSON text): every member of @claims (may be NULL) but "iat", "exp"
 * and "jti", in their order, then "iat" = @iat, "exp" = @iat + @lifetime, and "jti" =
 * @jti when it is not NULL. Those three are always ours: a token's times and identity
 * are the element's to say. */
gchar *gst_stt_jwt_claims (JsonObject * claims, gint64 iat, guint lifetime,
    const gchar * jti);

/* A fresh token: GST_STT_JWT_HEADER, the claims of gst_stt_jwt_claims() with @iat (seconds
 * since the epoch) and a random 128-bit "jti" (so that no two tokens are alike, even
 * within one second), signed with @secret (@secret_len bytes). NULL if OpenSSL failed. */
gchar *gst_stt_jwt_mint (const guint8 * secret, gsize secret_len, JsonObject * claims,
    gint64 iat, guint lifetime);

/* Whether @name is a claim every token minted here sets itself (iat, exp, jti). */
gboolean gst_stt_jwt_is_reserved_claim (const gchar * name);

/* The fields of @s (a `token-claims` property) as JSON claims (strings, integers, doubles,
 * booleans), in their order, or NULL for NULL. A field of another type: NULL, and its
 * name in @bad_field. */
JsonObject *gst_stt_jwt_claims_from_structure (const GstStructure * s,
    const gchar ** bad_field);

G_END_DECLS
