/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-caption-jwt: HS256 verification (tools/stt-caption-jwt.c) against RFC 7515's
 * example A.1 and against tokens minted by gst/stt/gststtjwt.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtjwt.h"
#include "stt-caption-jwt.h"

/* RFC 7515 appendix A.1: the JWS Protected Header and Payload octets (with their CR LF
 * line breaks), the key (JWK "k"), and the complete JWS. */
static const gchar RFC_HEADER[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
static const gchar RFC_PAYLOAD[] = "{\"iss\":\"joe\",\r\n"
    " \"exp\":1300819380,\r\n" " \"http://example.com/is_root\":true}";
static const gchar RFC_KEY[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
    "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const gchar RFC_JWS[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9p"
    "c19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const gint64 RFC_EXP = 1300819380;

static const gchar SECRET[] = "caption-secret";

static guint8 *
rfc_key (gsize * len)
{
  guint8 *key = stt_caption_jwt_base64url_decode (RFC_KEY, strlen (RFC_KEY),
      len);

  g_assert_nonnull (key);
  g_assert_cmpuint (*len, ==, 64);
  return key;
}

/* Verifies @token with @key at @now, asserting it fails with @code. */
static void
assert_refused (const gchar * token, const guint8 * key, gsize key_len,
    gint64 now, SttCaptionJwtError code)
{
  g_autoptr (GError) error = NULL;
  JsonObject *claims = stt_caption_jwt_verify_hs256 (token, key, key_len, now,
      &error);

  g_assert_null (claims);
  g_assert_error (error, STT_CAPTION_JWT_ERROR, (gint) code);
  /* The message never quotes the token. */
  if (token && *token)
    g_assert_null (strstr (error->message, token));
}

static gchar *
sign (const gchar * header, const gchar * payload, const gchar * secret)
{
  gchar *token = gst_stt_jwt_sign_hs256 ((const guint8 *) header,
      strlen (header), (const guint8 *) payload, strlen (payload),
      (const guint8 *) secret, strlen (secret));

  g_assert_nonnull (token);
  return token;
}

static void
test_rfc7515_a1 (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) claims = NULL;
  g_autofree gchar *minted = NULL;
  g_autofree guint8 *key = NULL;
  gsize key_len;

  key = rfc_key (&key_len);

  /* The minting side gives the published JWS for the published octets. */
  minted = gst_stt_jwt_sign_hs256 ((const guint8 *) RFC_HEADER,
      strlen (RFC_HEADER), (const guint8 *) RFC_PAYLOAD, strlen (RFC_PAYLOAD),
      key, key_len);
  g_assert_cmpstr (minted, ==, RFC_JWS);

  /* A second before it expires, it verifies and gives its claims back. */
  claims = stt_caption_jwt_verify_hs256 (RFC_JWS, key, key_len, RFC_EXP - 1,
      &error);
  g_assert_no_error (error);
  g_assert_nonnull (claims);
  g_assert_cmpstr (json_object_get_string_member (claims, "iss"), ==, "joe");
  g_assert_cmpint (json_object_get_int_member (claims, "exp"), ==, RFC_EXP);
  g_assert_true (json_object_get_boolean_member (claims,
          "http://example.com/is_root"));

  /* At exp it has expired (RFC 7519 4.1.4: "on or after"), and today too. */
  assert_refused (RFC_JWS, key, key_len, RFC_EXP, STT_CAPTION_JWT_ERROR_EXPIRED);
  assert_refused (RFC_JWS, key, key_len, g_get_real_time () / G_USEC_PER_SEC,
      STT_CAPTION_JWT_ERROR_EXPIRED);
  /* Another key. */
  assert_refused (RFC_JWS, (const guint8 *) SECRET, strlen (SECRET),
      RFC_EXP - 1, STT_CAPTION_JWT_ERROR_SIGNATURE);
}

static void
test_minted (void)
{
  g_autoptr (JsonObject) claims = json_object_new ();
  g_autoptr (JsonObject) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *token = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  json_object_set_string_member (claims, "room", "main-hall");
  json_object_set_string_member (claims, "role", "publish");
  json_object_set_string_member (claims, "sub", "camera-7");
  token = gst_stt_jwt_mint ((const guint8 *) SECRET, strlen (SECRET), claims,
      now, 300);
  g_assert_nonnull (token);

  back = stt_caption_jwt_verify_hs256 (token, (const guint8 *) SECRET,
      strlen (SECRET), now, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (back, "room"), ==,
      "main-hall");
  g_assert_cmpstr (json_object_get_string_member (back, "role"), ==, "publish");
  g_assert_cmpstr (json_object_get_string_member (back, "sub"), ==, "camera-7");
  g_assert_cmpint (json_object_get_int_member (back, "iat"), ==, now);
  g_assert_cmpint (json_object_get_int_member (back, "exp"), ==, now + 300);
  g_assert_true (json_object_has_member (back, "jti"));

  /* Valid until its last second, not at exp. */
  json_object_unref (g_steal_pointer (&back));
  back = stt_caption_jwt_verify_hs256 (token, (const guint8 *) SECRET,
      strlen (SECRET), now + 299, &error);
  g_assert_no_error (error);
  assert_refused (token, (const guint8 *) SECRET, strlen (SECRET), now + 300,
      STT_CAPTION_JWT_ERROR_EXPIRED);
  /* The secret must match byte for byte: with a newline it is another key. */
  assert_refused (token, (const guint8 *) "caption-secret\n", 15, now,
      STT_CAPTION_JWT_ERROR_SIGNATURE);
  assert_refused (token, (const guint8 *) "", 0, now,
      STT_CAPTION_JWT_ERROR_SIGNATURE);
}

static void
test_tampered (void)
{
  g_autoptr (JsonObject) claims = json_object_new ();
  g_autofree gchar *token = NULL, *other = NULL, *spliced = NULL;
  g_autofree gchar *flipped = NULL, *cut = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const gchar *sig, *payload2, *payload2_end;
  gchar *p;

  json_object_set_string_member (claims, "room", "a");
  json_object_set_string_member (claims, "role", "watch");
  token = gst_stt_jwt_mint ((const guint8 *) SECRET, strlen (SECRET), claims,
      now, 300);
  json_object_set_string_member (claims, "room", "*");
  other = gst_stt_jwt_mint ((const guint8 *) SECRET, strlen (SECRET), claims,
      now, 300);

  /* The payload of one with the signature of the other. */
  sig = strrchr (token, '.');
  payload2 = strchr (other, '.');
  payload2_end = strrchr (other, '.');
  spliced = g_strdup_printf ("%.*s%.*s%s", (int) (strchr (token, '.') - token),
      token, (int) (payload2_end - payload2), payload2, sig);
  assert_refused (spliced, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_SIGNATURE);

  /* One character of the signature changed. */
  flipped = g_strdup (token);
  p = strrchr (flipped, '.') + 5;
  *p = *p == 'A' ? 'B' : 'A';
  assert_refused (flipped, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_SIGNATURE);

  /* A signature cut short. */
  cut = g_strndup (token, strlen (token) - 4);
  assert_refused (cut, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_SIGNATURE);
}

static void
test_algorithm (void)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *payload = g_strdup_printf ("{\"room\":\"a\",\"role\":"
      "\"watch\",\"exp\":%" G_GINT64_FORMAT "}", now + 60);
  g_autofree gchar *none = NULL, *hs512 = NULL, *crit = NULL, *unsigned_ = NULL;
  g_autofree gchar *h = NULL, *b = NULL;

  /* Correctly signed, but the header names another algorithm: the token does not
   * choose how it is checked. */
  none = sign ("{\"alg\":\"none\"}", payload, SECRET);
  assert_refused (none, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_ALGORITHM);
  hs512 = sign ("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, SECRET);
  assert_refused (hs512, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_ALGORITHM);
  crit = sign ("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload, SECRET);
  assert_refused (crit, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_ALGORITHM);

  /* "alg":"none" with no signature at all. */
  h = gst_stt_jwt_base64url ((const guint8 *) "{\"alg\":\"none\"}", 14);
  b = gst_stt_jwt_base64url ((const guint8 *) payload, strlen (payload));
  unsigned_ = g_strdup_printf ("%s.%s.", h, b);
  assert_refused (unsigned_, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_ALGORITHM);
}

static void
test_claims_checked (void)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *nbf_payload = g_strdup_printf ("{\"exp\":%" G_GINT64_FORMAT
      ",\"nbf\":%" G_GINT64_FORMAT "}", now + 600, now + 60);
  g_autofree gchar *early = sign (GST_STT_JWT_HEADER, nbf_payload, SECRET);
  g_autofree gchar *bad_exp = sign (GST_STT_JWT_HEADER,
      "{\"exp\":\"tomorrow\"}", SECRET);
  g_autofree gchar *array = sign (GST_STT_JWT_HEADER, "[1,2]", SECRET);
  g_autofree gchar *no_exp = sign (GST_STT_JWT_HEADER, "{\"room\":\"a\"}",
      SECRET);
  g_autoptr (JsonObject) claims = NULL;
  g_autoptr (GError) error = NULL;

  assert_refused (early, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_NOT_YET_VALID);
  assert_refused (bad_exp, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_MALFORMED);
  assert_refused (array, (const guint8 *) SECRET, strlen (SECRET), now,
      STT_CAPTION_JWT_ERROR_MALFORMED);
  /* exp is the caller's to require (the server does). */
  claims = stt_caption_jwt_verify_hs256 (no_exp, (const guint8 *) SECRET,
      strlen (SECRET), now, &error);
  g_assert_no_error (error);
  g_assert_false (json_object_has_member (claims, "exp"));
}

static void
test_malformed (void)
{
  static const gchar *const tokens[] = {
    "", "abc", "a.b", "a.b.c.d", "..", "e$J.e30.AAAA",
    /* padding is not base64url */
    "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA",
    /* the header is not JSON */
    "bm90IGpzb24.e30.AAAA",
  };
  g_autofree gchar *huge = NULL;
  gsize len;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (tokens); i++)
    assert_refused (tokens[i], (const guint8 *) SECRET, strlen (SECRET), 0,
        STT_CAPTION_JWT_ERROR_MALFORMED);
  assert_refused (NULL, (const guint8 *) SECRET, strlen (SECRET), 0,
      STT_CAPTION_JWT_ERROR_MALFORMED);

  huge = g_strnfill (STT_CAPTION_JWT_MAX_LENGTH + 1, 'A');
  huge[10] = '.';
  huge[20] = '.';
  assert_refused (huge, (const guint8 *) SECRET, strlen (SECRET), 0,
      STT_CAPTION_JWT_ERROR_MALFORMED);

  /* base64url: 4k+1 characters, and left-over bits that are not zero. */
  g_assert_null (stt_caption_jwt_base64url_decode ("AAAAA", 5, &len));
  g_assert_null (stt_caption_jwt_base64url_decode ("AB", 2, &len));
  g_free (stt_caption_jwt_base64url_decode ("AA", 2, &len));
  g_assert_cmpuint (len, ==, 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/caption-jwt/rfc7515-a1", test_rfc7515_a1);
  g_test_add_func ("/caption-jwt/minted", test_minted);
  g_test_add_func ("/caption-jwt/tampered", test_tampered);
  g_test_add_func ("/caption-jwt/algorithm", test_algorithm);
  g_test_add_func ("/caption-jwt/claims", test_claims_checked);
  g_test_add_func ("/caption-jwt/malformed", test_malformed);
  return g_test_run ();
}
