/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttsigv4.c: AWS Signature Version 4 query-string presigning.
 *
 * The rules (AWS General Reference, "Signature Version 4 signing process" and "Create a
 * presigned URL"; providers.md section 9 for Transcribe): the canonical request is
 *   METHOD \n PATH \n CANONICAL-QUERY \n host:HOST \n \n SIGNED-HEADERS \n PAYLOAD-HASH
 * with every query parameter but X-Amz-Signature in the canonical query; the string to
 * sign is the algorithm, the date, the scope and the hash of the canonical request; the
 * key is the HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sttsigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"

static gchar *
to_hex (const guint8 * data, gsize len)
{
  static const gchar digits[] = "0123456789abcdef";
  gchar *hex = g_malloc (len * 2 + 1);
  gsize i;

  for (i = 0; i < len; i++) {
    hex[2 * i] = digits[data[i] >> 4];
    hex[2 * i + 1] = digits[data[i] & 0xf];
  }
  hex[2 * len] = '\0';
  return hex;
}

gchar *
stt_sigv4_sha256_hex (const void *data, gsize len)
{
  guint8 md[EVP_MAX_MD_SIZE];
  guint md_len = 0;

  if (!EVP_Digest (data, len, md, &md_len, EVP_sha256 (), NULL))
    g_error ("SHA-256 failed");
  return to_hex (md, md_len);
}

static void
hmac (const guint8 * key, gsize key_len, const gchar * msg, guint8 out[32])
{
  guint out_len = 32;

  if (HMAC (EVP_sha256 (), key, (int) key_len, (const guint8 *) msg, strlen (msg), out,
          &out_len) == NULL)
    g_error ("HMAC-SHA256 failed");
}

gchar *
stt_sigv4_uri_encode (const gchar * s)
{
  GString *out = g_string_sized_new (strlen (s) + 8);

  for (; *s; s++) {
    guchar ch = (guchar) * s;

    if (g_ascii_isalnum (ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
      g_string_append_c (out, ch);
    else
      g_string_append_printf (out, "%%%02X", ch);
  }
  return g_string_free (out, FALSE);
}

typedef struct
{
  gchar *name, *value;          /* encoded */
} Pair;

static gint
compare_pairs (gconstpointer a, gconstpointer b)
{
  const Pair *x = a, *y = b;
  gint c = strcmp (x->name, y->name);

  return c ? c : strcmp (x->value, y->value);
}

gchar *
stt_sigv4_canonical_query (const GPtrArray * pairs)
{
  guint n = pairs->len / 2, i;
  Pair *sorted = g_new (Pair, n ? n : 1);
  GString *out = g_string_new (NULL);

  for (i = 0; i < n; i++) {
    sorted[i].name = stt_sigv4_uri_encode (pairs->pdata[2 * i]);
    sorted[i].value = stt_sigv4_uri_encode (pairs->pdata[2 * i + 1]);
  }
  qsort (sorted, n, sizeof (Pair), compare_pairs);
  for (i = 0; i < n; i++) {
    g_string_append_printf (out, "%s%s=%s", i ? "&" : "", sorted[i].name, sorted[i].value);
    g_free (sorted[i].name);
    g_free (sorted[i].value);
  }
  g_free (sorted);
  return g_string_free (out, FALSE);
}

gchar *
stt_sigv4_scope (const SttSigV4Credentials * c, const gchar * amz_date)
{
  return g_strdup_printf ("%.8s/%s/%s/aws4_request", amz_date, c->region, c->service);
}

gchar *
stt_sigv4_string_to_sign (const SttSigV4Credentials * c, const gchar * amz_date,
    const gchar * canonical_request)
{
  g_autofree gchar *scope = stt_sigv4_scope (c, amz_date);
  g_autofree gchar *hash = stt_sigv4_sha256_hex (canonical_request,
      strlen (canonical_request));

  return g_strdup_printf (ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
}

gchar *
stt_sigv4_signature (const SttSigV4Credentials * c, const gchar * amz_date,
    const gchar * string_to_sign)
{
  g_autofree gchar *secret = g_strconcat ("AWS4", c->secret_key, NULL);
  g_autofree gchar *day = g_strndup (amz_date, 8);
  guint8 k[32], sig[32];
  gchar *hex;

  hmac ((const guint8 *) secret, strlen (secret), day, k);
  hmac (k, sizeof (k), c->region, k);
  hmac (k, sizeof (k), c->service, k);
  hmac (k, sizeof (k), "aws4_request", k);
  hmac (k, sizeof (k), string_to_sign, sig);
  hex = to_hex (sig, sizeof (sig));
  memset (k, 0, sizeof (k));
  memset (secret, 0, strlen (secret));
  return hex;
}

/* The Host header libsoup sends for @uri: the port only when it is not the default. */
static gchar *
host_header (GUri * uri)
{
  const gchar *scheme = g_uri_get_scheme (uri);
  gint port = g_uri_get_port (uri);
  gint def = (g_ascii_strcasecmp (scheme, "wss") == 0
      || g_ascii_strcasecmp (scheme, "https") == 0) ? 443 : 80;
  const gchar *host = g_uri_get_host (uri);
  gboolean v6 = strchr (host, ':') != NULL;

  if (port < 0 || port == def)
    return v6 ? g_strdup_printf ("[%s]", host) : g_ascii_strdown (host, -1);
  return v6 ? g_strdup_printf ("[%s]:%d", host, port) :
      g_strdup_printf ("%s:%d", host, port);
}

static void
add_pair (GPtrArray * pairs, const gchar * name, const gchar * value)
{
  g_ptr_array_add (pairs, g_strdup (name));
  g_ptr_array_add (pairs, g_strdup (value));
}

gchar *
stt_sigv4_presign_url (const SttSigV4Credentials * c, const gchar * url,
    GDateTime * now, guint expires, const gchar * payload_hash)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_autoptr (GPtrArray) pairs = NULL;
  g_autofree gchar *amz_date = NULL, *scope = NULL, *credential = NULL;
  g_autofree gchar *host = NULL, *query = NULL, *canonical = NULL, *sts = NULL;
  g_autofree gchar *signature = NULL, *empty_hash = NULL, *expires_s = NULL;
  g_autofree gchar *base = NULL;
  const gchar *path;
  g_autoptr (GDateTime) utc = NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  pairs = g_ptr_array_new_with_free_func (g_free);
  if (g_uri_get_query (uri)) {
    GUriParamsIter it;
    gchar *name, *value;

    g_uri_params_iter_init (&it, g_uri_get_query (uri), -1, "&", G_URI_PARAMS_NONE);
    while (g_uri_params_iter_next (&it, &name, &value, NULL)) {
      g_ptr_array_add (pairs, name);
      g_ptr_array_add (pairs, value);
    }
  }
  utc = g_date_time_to_utc (now);
  amz_date = g_date_time_format (utc, "%Y%m%dT%H%M%SZ");
  scope = stt_sigv4_scope (c, amz_date);
  credential = g_strdup_printf ("%s/%s", c->access_key_id, scope);
  expires_s = g_strdup_printf ("%u", expires);
  add_pair (pairs, "X-Amz-Algorithm", ALGORITHM);
  add_pair (pairs, "X-Amz-Credential", credential);
  add_pair (pairs, "X-Amz-Date", amz_date);
  add_pair (pairs, "X-Amz-Expires", expires_s);
  if (c->session_token && *c->session_token)
    add_pair (pairs, "X-Amz-Security-Token", c->session_token);
  add_pair (pairs, "X-Amz-SignedHeaders", "host");

  host = host_header (uri);
  query = stt_sigv4_canonical_query (pairs);
  path = *g_uri_get_path (uri) ? g_uri_get_path (uri) : "/";
  if (payload_hash == NULL)
    payload_hash = empty_hash = stt_sigv4_sha256_hex ("", 0);
  canonical = g_strdup_printf ("GET\n%s\n%s\nhost:%s\n\nhost\n%s", path, query, host,
      payload_hash);
  sts = stt_sigv4_string_to_sign (c, amz_date, canonical);
  signature = stt_sigv4_signature (c, amz_date, sts);

  base = g_uri_to_string_partial (uri, G_URI_HIDE_QUERY | G_URI_HIDE_FRAGMENT);
  return g_strdup_printf ("%s?%s&X-Amz-Signature=%s", base, query, signature);
}
