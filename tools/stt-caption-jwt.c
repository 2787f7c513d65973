/* stt-caption-jwt: see stt-caption-jwt.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sttjson.h"
#include "stt-caption-jwt.h"

#define SHA256_LEN 32

G_DEFINE_QUARK (stt-caption-jwt-error-quark, stt_caption_jwt_error);

static gint
b64url_value (gchar c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

guint8 *
stt_caption_jwt_base64url_decode (const gchar * text, gsize len,
    gsize * out_len)
{
  g_autofree guint8 *out = NULL;
  guint32 acc = 0;
  guint bits = 0;
  gsize i, n = 0;

  /* 4k+1 characters carry 6 bits that cannot make a byte. */
  if (len % 4 == 1)
    return NULL;
  out = g_malloc (len * 3 / 4 + 1);
  for (i = 0; i < len; i++) {
    gint v = b64url_value (text[i]);

    if (v < 0)
      return NULL;
    acc = (acc << 6) | (guint32) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (guint8) (acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  /* The left-over bits of a canonical encoding are zero. */
  if (acc != 0)
    return NULL;
  *out_len = n;
  return g_steal_pointer (&out);
}

/* Part @text (@len bytes) decoded and parsed as a JSON object, or NULL. */
static JsonObject *
decode_object (const gchar * text, gsize len)
{
  g_autofree guint8 *json = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *object;
  gsize json_len;

  json = stt_caption_jwt_base64url_decode (text, len, &json_len);
  if (!json)
    return NULL;
  object = stt_json_parse_object ((const gchar *) json, json_len, &parser);
  return object ? json_object_ref (object) : NULL;
}

/* A numeric date claim (RFC 7519 section 2): TRUE with *value when @name is absent
 * (*present FALSE) or a finite number; FALSE for another type. */
static gboolean
get_date (JsonObject * claims, const gchar * name, gboolean * present,
    gdouble * value)
{
  JsonNode *node = json_object_get_member (claims, name);

  *present = node != NULL;
  if (!node)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node)) {
    case G_TYPE_INT64:
      *value = (gdouble) json_node_get_int (node);
      return TRUE;
    case G_TYPE_DOUBLE:
      *value = json_node_get_double (node);
      return isfinite (*value);
    default:
      return FALSE;
  }
}

JsonObject *
stt_caption_jwt_verify_hs256 (const gchar * token, const guint8 * key,
    gsize key_len, gint64 now, GError ** error)
{
  /* HMAC() wants a key pointer even for an empty key. */
  static const guint8 empty = 0;
  g_autoptr (JsonObject) header = NULL;
  g_autoptr (JsonObject) claims = NULL;
  g_autofree guint8 *sig = NULL;
  guint8 mac[EVP_MAX_MD_SIZE];
  guint mac_len = 0;
  const gchar *dot1, *dot2, *alg;
  gsize len, sig_len = 0;
  gboolean present, match;
  gdouble when = 0;

  if (!token)
    goto malformed;
  len = strnlen (token, STT_CAPTION_JWT_MAX_LENGTH + 1);
  if (len > STT_CAPTION_JWT_MAX_LENGTH)
    goto malformed;
  dot1 = strchr (token, '.');
  dot2 = dot1 ? strchr (dot1 + 1, '.') : NULL;
  if (!dot1 || !dot2 || strchr (dot2 + 1, '.'))
    goto malformed;

  header = decode_object (token, dot1 - token);
  if (!header)
    goto malformed;
  alg = stt_json_get_string (header, "alg", NULL);
  /* "none" or another algorithm would let the token choose how it is checked. */
  if (g_strcmp0 (alg, "HS256") != 0 || json_object_has_member (header, "crit"))
    goto bad_algorithm;

  sig = stt_caption_jwt_base64url_decode (dot2 + 1, token + len - (dot2 + 1),
      &sig_len);
  if (!sig || sig_len != SHA256_LEN)
    goto bad_signature;
  if (HMAC (EVP_sha256 (), key_len ? key : &empty, (int) key_len,
          (const guint8 *) token, dot2 - token, mac, &mac_len) == NULL
      || mac_len != SHA256_LEN)
    goto bad_signature;
  match = CRYPTO_memcmp (mac, sig, SHA256_LEN) == 0;
  OPENSSL_cleanse (mac, sizeof (mac));
  if (!match)
    goto bad_signature;

  claims = decode_object (dot1 + 1, dot2 - (dot1 + 1));
  if (!claims)
    goto malformed;
  if (!get_date (claims, "exp", &present, &when))
    goto malformed;
  if (present && (gdouble) now >= when)
    goto expired;
  if (!get_date (claims, "nbf", &present, &when))
    goto malformed;
  if (present && (gdouble) now < when)
    goto early;
  return g_steal_pointer (&claims);

  /* ERRORS */
malformed:
  {
    g_set_error_literal (error, STT_CAPTION_JWT_ERROR,
        STT_CAPTION_JWT_ERROR_MALFORMED, "malformed token");
    return NULL;
  }
bad_algorithm:
  {
    g_set_error_literal (error, STT_CAPTION_JWT_ERROR,
        STT_CAPTION_JWT_ERROR_ALGORITHM, "token algorithm is not HS256");
    return NULL;
  }
bad_signature:
  {
    OPENSSL_cleanse (mac, sizeof (mac));
    g_set_error_literal (error, STT_CAPTION_JWT_ERROR,
        STT_CAPTION_JWT_ERROR_SIGNATURE, "bad signature");
    return NULL;
  }
expired:
  {
    g_set_error_literal (error, STT_CAPTION_JWT_ERROR,
        STT_CAPTION_JWT_ERROR_EXPIRED, "token expired");
    return NULL;
  }
early:
  {
    g_set_error_literal (error, STT_CAPTION_JWT_ERROR,
        STT_CAPTION_JWT_ERROR_NOT_YET_VALID, "token not yet valid");
    return NULL;
  }
}
