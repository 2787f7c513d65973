/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtjwt.c: HS256 JSON Web Tokens. HMAC-SHA256 and the random jti come from OpenSSL;
 * base64url is GLib's base64 with the URL-safe alphabet and no padding. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "gststtjwt.h"

#define JTI_BYTES 16

gchar *
gst_stt_jwt_base64url (const guint8 * data, gsize len)
{
  gchar *s = g_base64_encode (data, len);
  gchar *p;

  for (p = s; *p; p++) {
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
    else if (*p == '=') {
      *p = '\0';
      break;
    }
  }
  return s;
}

/* Wipes and frees a string holding part of a credential. */
static void
wipe_free (gchar * s)
{
  if (s) {
    memset (s, 0, strlen (s));
    g_free (s);
  }
}

gchar *
gst_stt_jwt_sign_hs256 (const guint8 * header, gsize header_len,
    const guint8 * payload, gsize payload_len, const guint8 * key, gsize key_len)
{
  /* HMAC() wants a key pointer even for an empty key. */
  static const guint8 empty = 0;
  guint8 mac[EVP_MAX_MD_SIZE];
  guint mac_len = 0;
  gchar *h = gst_stt_jwt_base64url (header, header_len);
  gchar *p = gst_stt_jwt_base64url (payload, payload_len);
  gchar *input = g_strconcat (h, ".", p, NULL);
  gchar *sig = NULL, *token = NULL;

  g_free (h);
  g_free (p);
  if (HMAC (EVP_sha256 (), key_len ? key : &empty, (int) key_len,
          (const guint8 *) input, strlen (input), mac, &mac_len) != NULL
      && mac_len == 32) {
    sig = gst_stt_jwt_base64url (mac, mac_len);
    token = g_strconcat (input, ".", sig, NULL);
  }
  memset (mac, 0, sizeof (mac));
  wipe_free (sig);
  g_free (input);
  return token;
}

gchar *
gst_stt_jwt_claims (JsonObject * claims, gint64 iat, guint lifetime, const gchar * jti)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  GList *members = claims ? json_object_get_members (claims) : NULL, *l;

  json_builder_begin_object (b);
  /* json-glib lists members in the order they were added. */
  for (l = members; l; l = l->next) {
    const gchar *name = l->data;

    if (g_str_equal (name, "iat") || g_str_equal (name, "exp")
        || g_str_equal (name, "jti"))
      continue;
    json_builder_set_member_name (b, name);
    json_builder_add_value (b, json_node_copy (json_object_get_member (claims, name)));
  }
  g_list_free (members);
  json_builder_set_member_name (b, "iat");
  json_builder_add_int_value (b, iat);
  json_builder_set_member_name (b, "exp");
  json_builder_add_int_value (b, iat + (gint64) lifetime);
  if (jti) {
    json_builder_set_member_name (b, "jti");
    json_builder_add_string_value (b, jti);
  }
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

gchar *
gst_stt_jwt_mint (const guint8 * secret, gsize secret_len, JsonObject * claims,
    gint64 iat, guint lifetime)
{
  guint8 nonce[JTI_BYTES];
  g_autofree gchar *jti = NULL, *payload = NULL;

  if (RAND_bytes (nonce, sizeof (nonce)) != 1)
    return NULL;
  jti = gst_stt_jwt_base64url (nonce, sizeof (nonce));
  payload = gst_stt_jwt_claims (claims, iat, lifetime, jti);
  return gst_stt_jwt_sign_hs256 ((const guint8 *) GST_STT_JWT_HEADER,
      strlen (GST_STT_JWT_HEADER), (const guint8 *) payload, strlen (payload), secret,
      secret_len);
}

gboolean
gst_stt_jwt_is_reserved_claim (const gchar * name)
{
  return g_str_equal (name, "iat") || g_str_equal (name, "exp")
      || g_str_equal (name, "jti");
}

typedef struct
{
  JsonObject *claims;
  const gchar *bad;             /* the first field JSON cannot carry */
} ClaimsBuild;

static gboolean
claim_to_json_cb (GQuark field, const GValue * v, gpointer data)
{
  ClaimsBuild *b = data;
  const gchar *name = g_quark_to_string (field);
  GType t = G_VALUE_TYPE (v);

  if (t == G_TYPE_STRING && g_value_get_string (v))
    json_object_set_string_member (b->claims, name, g_value_get_string (v));
  else if (t == G_TYPE_BOOLEAN)
    json_object_set_boolean_member (b->claims, name, g_value_get_boolean (v));
  else if (t == G_TYPE_INT)
    json_object_set_int_member (b->claims, name, g_value_get_int (v));
  else if (t == G_TYPE_UINT)
    json_object_set_int_member (b->claims, name, g_value_get_uint (v));
  else if (t == G_TYPE_INT64)
    json_object_set_int_member (b->claims, name, g_value_get_int64 (v));
  else if (t == G_TYPE_UINT64 && g_value_get_uint64 (v) <= G_MAXINT64)
    json_object_set_int_member (b->claims, name, (gint64) g_value_get_uint64 (v));
  else if (t == G_TYPE_DOUBLE && isfinite (g_value_get_double (v)))
    json_object_set_double_member (b->claims, name, g_value_get_double (v));
  else if (t == G_TYPE_FLOAT && isfinite (g_value_get_float (v)))
    json_object_set_double_member (b->claims, name, g_value_get_float (v));
  else {
    b->bad = name;
    return FALSE;
  }
  return TRUE;
}

JsonObject *
gst_stt_jwt_claims_from_structure (const GstStructure * s, const gchar ** bad_field)
{
  ClaimsBuild b = { NULL, NULL };

  if (bad_field)
    *bad_field = NULL;
  if (s == NULL)
    return NULL;
  b.claims = json_object_new ();
  if (!gst_structure_foreach (s, claim_to_json_cb, &b)) {
    if (bad_field)
      *bad_field = b.bad;
    g_clear_pointer (&b.claims, json_object_unref);
  }
  return b.claims;
}
