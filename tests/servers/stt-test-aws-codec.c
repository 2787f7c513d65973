/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-aws-codec: the AWS event-stream codec and SigV4 (query presigning, event
 * signing) for the "aws" test server and its tests.
 *
 * Facts: shared/providers.md section 9; the AWS developer guide (Transcribe
 * streaming-websocket, streaming-setting-up "event stream encoding"; the SigV4 pages on
 * canonical requests, query strings and signing keys); smithy-typescript's
 * @smithy/core event-streams (EventStreamCodec, HeaderMarshaller: the header types and
 * lengths) and @smithy/signature-v4 (presign, signEvent: the event string to sign), read
 * in @aws-sdk/client-transcribe-streaming 3.1141. Checked against the test vectors of
 * awslabs/aws-c-auth tests/aws-signing-test-suite/v4 (test-stt-test-server.c).
 * Hashes and MACs come from OpenSSL's libcrypto.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "stt-test-aws.h"

#define PRELUDE_LEN 12
#define MIN_MESSAGE_LEN 16
#define ALGORITHM "AWS4-HMAC-SHA256"
#define EVENT_ALGORITHM "AWS4-HMAC-SHA256-PAYLOAD"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* How far X-Amz-Date may be from the server's clock. */
#define CLOCK_SKEW_S (5 * 60)

/* --- CRC-32 -------------------------------------------------------------------------- */

static guint32 crc_table[256];

static gpointer
make_crc_table (gpointer data)
{
  guint32 n, k, c;

  for (n = 0; n < 256; n++) {
    c = n;
    for (k = 0; k < 8; k++)
      c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
  return NULL;
}

guint32
stt_test_aws_crc32 (guint32 crc, const guint8 * data, gsize len)
{
  static GOnce once = G_ONCE_INIT;
  gsize i;

  g_once (&once, make_crc_table, NULL);
  crc = ~crc;
  for (i = 0; i < len; i++)
    crc = crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* --- event-stream messages ----------------------------------------------------------- */

static guint32
read_u32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
write_u32 (guint8 * p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void
header_clear (gpointer data)
{
  g_free (((SttTestAwsHeader *) data)->name);
}

void
stt_test_aws_message_free (SttTestAwsMessage * message)
{
  if (message == NULL)
    return;
  g_array_unref (message->headers);
  g_bytes_unref (message->bytes);
  g_free (message);
}

static gboolean
invalid (GError ** error, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError ** error, const gchar * format, ...)
{
  va_list args;
  gchar *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, text);
  g_free (text);
  return FALSE;
}

/* Parses the headers block into message->headers. */
static gboolean
parse_headers (SttTestAwsMessage * message, GError ** error)
{
  const guint8 *p = message->raw_headers;
  const guint8 *end = p + message->raw_headers_len;

  while (p < end) {
    SttTestAwsHeader h = { 0, };
    guint name_len = p[0];
    gsize fixed;

    h.raw = p;
    if (name_len == 0)
      return invalid (error, "Empty header name");
    if ((gsize) (end - p) < 1 + name_len + 1)
      return invalid (error, "Header name runs past the headers");
    if (!g_utf8_validate ((const gchar *) p + 1, name_len, NULL))
      return invalid (error, "Header name is not UTF-8");
    p += 1 + name_len;
    h.type = *p++;
    switch (h.type) {
      case STT_TEST_AWS_HEADER_TRUE:
      case STT_TEST_AWS_HEADER_FALSE:
        fixed = 0;
        break;
      case STT_TEST_AWS_HEADER_BYTE:
        fixed = 1;
        break;
      case STT_TEST_AWS_HEADER_SHORT:
        fixed = 2;
        break;
      case STT_TEST_AWS_HEADER_INTEGER:
        fixed = 4;
        break;
      case STT_TEST_AWS_HEADER_LONG:
      case STT_TEST_AWS_HEADER_TIMESTAMP:
        fixed = 8;
        break;
      case STT_TEST_AWS_HEADER_UUID:
        fixed = 16;
        break;
      case STT_TEST_AWS_HEADER_BYTES:
      case STT_TEST_AWS_HEADER_STRING:
        if (end - p < 2)
          return invalid (error, "Header value length runs past the headers");
        fixed = ((gsize) p[0] << 8) | p[1];
        p += 2;
        break;
      default:
        return invalid (error, "Unknown header value type %u", h.type);
    }
    if ((gsize) (end - p) < fixed)
      return invalid (error, "Header value runs past the headers");
    if (h.type == STT_TEST_AWS_HEADER_STRING &&
        !g_utf8_validate ((const gchar *) p, fixed, NULL))
      return invalid (error, "String header value is not UTF-8");
    h.value = p;
    h.value_len = fixed;
    p += fixed;
    h.raw_len = p - h.raw;
    h.name = g_strndup ((const gchar *) h.raw + 1, name_len);
    g_array_append_val (message->headers, h);
  }
  return TRUE;
}

SttTestAwsMessage *
stt_test_aws_message_decode (const guint8 * data, gsize size, GError ** error)
{
  SttTestAwsMessage *message;
  guint32 total, headers_len;

  if (size < MIN_MESSAGE_LEN) {
    invalid (error, "Message of %" G_GSIZE_FORMAT " bytes is shorter than its prelude and "
        "checksum", size);
    return NULL;
  }
  total = read_u32 (data);
  headers_len = read_u32 (data + 4);
  if (total != size) {
    invalid (error, "Message length %u does not match the %" G_GSIZE_FORMAT
        " bytes received", total, size);
    return NULL;
  }
  if (stt_test_aws_crc32 (0, data, 8) != read_u32 (data + 8)) {
    invalid (error, "Prelude checksum mismatch");
    return NULL;
  }
  if (headers_len > total - MIN_MESSAGE_LEN) {
    invalid (error, "Headers length %u runs past the message", headers_len);
    return NULL;
  }
  if (stt_test_aws_crc32 (0, data, size - 4) != read_u32 (data + size - 4)) {
    invalid (error, "Message checksum mismatch");
    return NULL;
  }

  message = g_new0 (SttTestAwsMessage, 1);
  message->bytes = g_bytes_new (data, size);
  data = g_bytes_get_data (message->bytes, NULL);
  message->headers = g_array_new (FALSE, TRUE, sizeof (SttTestAwsHeader));
  g_array_set_clear_func (message->headers, header_clear);
  message->raw_headers = data + PRELUDE_LEN;
  message->raw_headers_len = headers_len;
  message->payload = data + PRELUDE_LEN + headers_len;
  message->payload_len = size - MIN_MESSAGE_LEN - headers_len;
  if (!parse_headers (message, error)) {
    stt_test_aws_message_free (message);
    return NULL;
  }
  return message;
}

const SttTestAwsHeader *
stt_test_aws_message_get_header (const SttTestAwsMessage * message, const gchar * name)
{
  guint i;

  for (i = 0; i < message->headers->len; i++) {
    const SttTestAwsHeader *h = &g_array_index (message->headers, SttTestAwsHeader, i);

    if (g_str_equal (h->name, name))
      return h;
  }
  return NULL;
}

gchar *
stt_test_aws_message_dup_string (const SttTestAwsMessage * message, const gchar * name)
{
  const SttTestAwsHeader *h = stt_test_aws_message_get_header (message, name);

  if (h == NULL || h->type != STT_TEST_AWS_HEADER_STRING)
    return NULL;
  return g_strndup ((const gchar *) h->value, h->value_len);
}

static void
append_name (GByteArray * headers, const gchar * name, guint8 type)
{
  gsize len = strlen (name);
  guint8 len_byte = (guint8) len;

  g_return_if_fail (len > 0 && len < 256);
  g_byte_array_append (headers, &len_byte, 1);
  g_byte_array_append (headers, (const guint8 *) name, len);
  g_byte_array_append (headers, &type, 1);
}

static void
append_sized (GByteArray * headers, const gchar * name, guint8 type,
    const guint8 * value, gsize len)
{
  guint8 size[2];

  g_return_if_fail (len <= G_MAXUINT16);
  append_name (headers, name, type);
  size[0] = len >> 8;
  size[1] = len & 0xff;
  g_byte_array_append (headers, size, 2);
  g_byte_array_append (headers, value, len);
}

void
stt_test_aws_append_string_header (GByteArray * headers, const gchar * name,
    const gchar * value)
{
  append_sized (headers, name, STT_TEST_AWS_HEADER_STRING, (const guint8 *) value,
      strlen (value));
}

void
stt_test_aws_append_bytes_header (GByteArray * headers, const gchar * name,
    const guint8 * value, gsize len)
{
  append_sized (headers, name, STT_TEST_AWS_HEADER_BYTES, value, len);
}

void
stt_test_aws_append_timestamp_header (GByteArray * headers, const gchar * name,
    gint64 ms)
{
  guint8 v[8];
  guint64 u = (guint64) ms;
  gint i;

  append_name (headers, name, STT_TEST_AWS_HEADER_TIMESTAMP);
  for (i = 7; i >= 0; i--, u >>= 8)
    v[i] = u & 0xff;
  g_byte_array_append (headers, v, 8);
}

GBytes *
stt_test_aws_encode_raw (const guint8 * headers, gsize headers_len,
    const guint8 * payload, gsize len)
{
  gsize total = MIN_MESSAGE_LEN + headers_len + len;
  guint8 *out = g_malloc (total);

  write_u32 (out, total);
  write_u32 (out + 4, headers_len);
  write_u32 (out + 8, stt_test_aws_crc32 (0, out, 8));
  if (headers_len > 0)
    memcpy (out + PRELUDE_LEN, headers, headers_len);
  if (len > 0)
    memcpy (out + PRELUDE_LEN + headers_len, payload, len);
  write_u32 (out + total - 4, stt_test_aws_crc32 (0, out, total - 4));
  return g_bytes_new_take (out, total);
}

GBytes *
stt_test_aws_encode_message (const gchar * const *header_names_and_string_values,
    const guint8 * payload, gsize len)
{
  g_autoptr (GByteArray) headers = g_byte_array_new ();
  const gchar *const *p;

  for (p = header_names_and_string_values; p != NULL && p[0] != NULL; p += 2) {
    g_return_val_if_fail (p[1] != NULL, NULL);
    stt_test_aws_append_string_header (headers, p[0], p[1]);
  }
  return stt_test_aws_encode_raw (headers->data, headers->len, payload, len);
}

/* --- SigV4 --------------------------------------------------------------------------- */

static gchar *
hex (const guint8 * data, gsize len)
{
  static const gchar digits[] = "0123456789abcdef";
  gchar *out = g_malloc (len * 2 + 1);
  gsize i;

  for (i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = '\0';
  return out;
}

static gchar *
sha256_hex (const guint8 * data, gsize len)
{
  guint8 md[SHA256_DIGEST_LENGTH];

  SHA256 (data != NULL ? data : (const guint8 *) "", len, md);
  return hex (md, sizeof md);
}

static void
hmac (const guint8 * key, gsize key_len, const gchar * data, guint8 out[32])
{
  unsigned int out_len = 32;

  HMAC (EVP_sha256 (), key, (int) key_len, (const guint8 *) data, strlen (data), out,
      &out_len);
}

gchar *
stt_test_aws_uri_encode (const gchar * data, gsize len)
{
  GString *s = g_string_sized_new (len * 3 / 2 + 1);
  gsize i;

  for (i = 0; i < len; i++) {
    guchar c = data[i];

    if (g_ascii_isalnum (c) || c == '-' || c == '_' || c == '.' || c == '~')
      g_string_append_c (s, c);
    else
      g_string_append_printf (s, "%%%02X", c);
  }
  return g_string_free (s, FALSE);
}

/* Decodes %XX escapes only ('+' stays a plus). NULL on a bad escape. */
static gchar *
percent_decode (const gchar * data, gsize len, gsize * out_len)
{
  gchar *out = g_malloc (len + 1);
  gsize i, n = 0;

  for (i = 0; i < len; i++) {
    if (data[i] != '%') {
      out[n++] = data[i];
      continue;
    }
    if (i + 2 >= len || !g_ascii_isxdigit (data[i + 1]) || !g_ascii_isxdigit (data[i + 2])) {
      g_free (out);
      return NULL;
    }
    out[n++] = (gchar) (g_ascii_xdigit_value (data[i + 1]) * 16 +
        g_ascii_xdigit_value (data[i + 2]));
    i += 2;
  }
  out[n] = '\0';
  *out_len = n;
  return out;
}

typedef struct
{
  gchar *key;                   /* encoded */
  gchar *value;                 /* encoded */
} Param;

static gint
param_cmp (gconstpointer a, gconstpointer b)
{
  const Param *pa = a, *pb = b;
  gint r = strcmp (pa->key, pb->key);

  return r != 0 ? r : strcmp (pa->value, pb->value);
}

static void
param_clear (gpointer data)
{
  Param *p = data;

  g_free (p->key);
  g_free (p->value);
}

gchar *
stt_test_aws_canonical_query (const gchar * raw_query)
{
  g_autoptr (GArray) params = g_array_new (FALSE, TRUE, sizeof (Param));
  g_auto (GStrv) parts = NULL;
  GString *out;
  guint i;

  g_array_set_clear_func (params, param_clear);
  parts = g_strsplit (raw_query != NULL ? raw_query : "", "&", -1);
  for (i = 0; parts[i] != NULL; i++) {
    const gchar *eq = strchr (parts[i], '=');
    gsize key_len = eq ? (gsize) (eq - parts[i]) : strlen (parts[i]);
    const gchar *value = eq ? eq + 1 : "";
    g_autofree gchar *key = NULL, *val = NULL;
    gsize klen, vlen;
    Param p;

    if (parts[i][0] == '\0')
      continue;
    key = percent_decode (parts[i], key_len, &klen);
    val = percent_decode (value, strlen (value), &vlen);
    if (key == NULL || val == NULL)
      return NULL;
    if (g_ascii_strcasecmp (key, "X-Amz-Signature") == 0)
      continue;
    p.key = stt_test_aws_uri_encode (key, klen);
    p.value = stt_test_aws_uri_encode (val, vlen);
    g_array_append_val (params, p);
  }
  g_array_sort (params, param_cmp);

  out = g_string_new (NULL);
  for (i = 0; i < params->len; i++) {
    const Param *p = &g_array_index (params, Param, i);

    g_string_append_printf (out, "%s%s=%s", i > 0 ? "&" : "", p->key, p->value);
  }
  return g_string_free (out, FALSE);
}

gchar *
stt_test_aws_format_amz_date (GDateTime * time)
{
  g_autoptr (GDateTime) utc = g_date_time_to_utc (time);

  return g_date_time_format (utc, "%Y%m%dT%H%M%SZ");
}

void
stt_test_aws_signing_key (const gchar * secret, const gchar * date,
    const gchar * region, const gchar * service, guint8 key[32])
{
  g_autofree gchar *first = g_strconcat ("AWS4", secret, NULL);
  guint8 k[32];

  hmac ((const guint8 *) first, strlen (first), date, k);
  hmac (k, 32, region, k);
  hmac (k, 32, service, k);
  hmac (k, 32, "aws4_request", key);
}

gchar *
stt_test_aws_signature (const gchar * secret, const gchar * date,
    const gchar * region, const gchar * service, const gchar * string_to_sign)
{
  guint8 key[32], sig[32];

  stt_test_aws_signing_key (secret, date, region, service, key);
  hmac (key, sizeof key, string_to_sign, sig);
  return hex (sig, sizeof sig);
}

gchar *
stt_test_aws_request_string_to_sign (const gchar * amz_date, const gchar * scope,
    const gchar * canonical_request)
{
  g_autofree gchar *hash = sha256_hex ((const guint8 *) canonical_request,
      strlen (canonical_request));

  return g_strdup_printf (ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
}

/* Header values as SigV4 canonicalises them: trimmed, runs of spaces made one. */
static gchar *
canonical_header_value (const gchar * value)
{
  GString *s = g_string_new (NULL);
  const gchar *p;
  gboolean space = FALSE;

  for (p = value; *p; p++) {
    gboolean is_space = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';

    if (is_space) {
      space = s->len > 0;
      continue;
    }
    if (space)
      g_string_append_c (s, ' ');
    space = FALSE;
    g_string_append_c (s, *p);
  }
  return g_string_free (s, FALSE);
}

/* The canonical request with the headers named in @signed_headers (';'-separated). */
static gchar *
canonical_request_full (const gchar * method, const gchar * path,
    const gchar * canonical_query, const gchar * signed_headers,
    SoupMessageHeaders * headers, const gchar * host)
{
  g_auto (GStrv) names = g_strsplit (signed_headers, ";", -1);
  GString *s = g_string_new (NULL);
  guint i;

  g_string_append_printf (s, "%s\n%s\n%s\n", method, path, canonical_query);
  for (i = 0; names[i] != NULL; i++) {
    const gchar *value = NULL;
    g_autofree gchar *canonical = NULL;

    if (host != NULL && g_str_equal (names[i], "host"))
      value = host;
    else if (headers != NULL)
      value = soup_message_headers_get_list (headers, names[i]);
    canonical = canonical_header_value (value != NULL ? value : "");
    g_string_append_printf (s, "%s:%s\n", names[i], canonical);
  }
  g_string_append_printf (s, "\n%s\n%s", signed_headers, EMPTY_SHA256);
  return g_string_free (s, FALSE);
}

gchar *
stt_test_aws_canonical_request (const gchar * method, const gchar * path,
    const gchar * canonical_query, const gchar * host)
{
  return canonical_request_full (method, path, canonical_query, "host", NULL, host);
}

gchar *
stt_test_aws_presign_url (const gchar * url, const gchar * host,
    const gchar * access_key_id, const gchar * secret, const gchar * session_token,
    const gchar * region, const gchar * service, GDateTime * date, guint expires)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  g_autoptr (GDateTime) now = NULL;
  g_autofree gchar *amz_date = NULL, *day = NULL, *scope = NULL, *credential = NULL;
  g_autofree gchar *signed_host = NULL, *canonical_query = NULL, *request = NULL;
  g_autofree gchar *to_sign = NULL, *signature = NULL, *enc = NULL, *base = NULL;
  GString *query;

  g_return_val_if_fail (uri != NULL, NULL);
  if (date == NULL)
    date = now = g_date_time_new_now_utc ();
  amz_date = stt_test_aws_format_amz_date (date);
  day = g_strndup (amz_date, 8);
  scope = g_strdup_printf ("%s/%s/%s/aws4_request", day, region, service);
  credential = g_strdup_printf ("%s/%s", access_key_id, scope);
  if (host != NULL)
    signed_host = g_strdup (host);
  else if (g_uri_get_port (uri) > 0)
    signed_host = g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
  else
    signed_host = g_strdup (g_uri_get_host (uri));

  query = g_string_new (g_uri_get_query (uri));
  if (query->len > 0)
    g_string_append_c (query, '&');
  enc = stt_test_aws_uri_encode (credential, strlen (credential));
  g_string_append_printf (query, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=%s"
      "&X-Amz-Date=%s&X-Amz-Expires=%u", enc, amz_date, expires);
  if (session_token != NULL) {
    g_free (enc);
    enc = stt_test_aws_uri_encode (session_token, strlen (session_token));
    g_string_append_printf (query, "&X-Amz-Security-Token=%s", enc);
  }
  g_string_append (query, "&X-Amz-SignedHeaders=host");
  canonical_query = stt_test_aws_canonical_query (query->str);
  g_string_free (query, TRUE);
  g_return_val_if_fail (canonical_query != NULL, NULL);

  request = stt_test_aws_canonical_request ("GET", g_uri_get_path (uri), canonical_query,
      signed_host);
  to_sign = stt_test_aws_request_string_to_sign (amz_date, scope, request);
  signature = stt_test_aws_signature (secret, day, region, service, to_sign);
  base = g_uri_to_string_partial (uri, G_URI_HIDE_QUERY | G_URI_HIDE_FRAGMENT);
  return g_strdup_printf ("%s?%s&X-Amz-Signature=%s", base, canonical_query, signature);
}

void
stt_test_aws_auth_clear (SttTestAwsAuth * auth)
{
  g_clear_pointer (&auth->access_key_id, g_free);
  g_clear_pointer (&auth->date, g_free);
  g_clear_pointer (&auth->region, g_free);
  g_clear_pointer (&auth->service, g_free);
  g_clear_pointer (&auth->amz_date, g_free);
  g_clear_pointer (&auth->signature, g_free);
  g_clear_pointer (&auth->session_token, g_free);
}

/* The decoded value of raw query parameter @name (exact case), or NULL. */
static gchar *
raw_query_get (const gchar * raw_query, const gchar * name)
{
  g_auto (GStrv) parts = g_strsplit (raw_query != NULL ? raw_query : "", "&", -1);
  gsize name_len = strlen (name);
  guint i;

  for (i = 0; parts[i] != NULL; i++) {
    gsize len;

    if (strncmp (parts[i], name, name_len) == 0 && parts[i][name_len] == '=')
      return percent_decode (parts[i] + name_len + 1, strlen (parts[i] + name_len + 1),
          &len);
  }
  return NULL;
}

static GDateTime *
parse_amz_date (const gchar * s)
{
  gint y, mo, d, h, mi, se;
  gchar z;

  if (s == NULL || strlen (s) != 16 || s[8] != 'T' ||
      sscanf (s, "%4d%2d%2dT%2d%2d%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7 || z != 'Z')
    return NULL;
  return g_date_time_new_utc (y, mo, d, h, mi, se);
}

static gboolean
is_lower_hex (const gchar * s, gsize len)
{
  gsize i;

  if (strlen (s) != len)
    return FALSE;
  for (i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

#define FORBIDDEN(...) G_STMT_START { \
    *message = g_strdup_printf (__VA_ARGS__); \
    return SOUP_STATUS_FORBIDDEN; \
  } G_STMT_END

guint
stt_test_aws_check_presigned (const gchar * method, const gchar * path,
    const gchar * raw_query, SoupMessageHeaders * headers, const gchar * host,
    const gchar * service, const gchar * secret, GDateTime * now, guint max_expires,
    SttTestAwsAuth * auth, gchar ** message)
{
  static const gchar *const required[] = {
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature",
  };
  g_autofree gchar *algorithm = raw_query_get (raw_query, "X-Amz-Algorithm");
  g_autofree gchar *credential = raw_query_get (raw_query, "X-Amz-Credential");
  g_autofree gchar *amz_date = raw_query_get (raw_query, "X-Amz-Date");
  g_autofree gchar *expires = raw_query_get (raw_query, "X-Amz-Expires");
  g_autofree gchar *signed_headers = raw_query_get (raw_query, "X-Amz-SignedHeaders");
  g_autofree gchar *signature = raw_query_get (raw_query, "X-Amz-Signature");
  g_autofree gchar *canonical_query = NULL, *request = NULL, *to_sign = NULL;
  g_autofree gchar *expected = NULL, *scope = NULL;
  g_autoptr (GDateTime) date = NULL;
  g_auto (GStrv) scope_parts = NULL;
  g_auto (GStrv) signed_list = NULL;
  guint64 expires_s;
  gint64 age;
  guint i;

  memset (auth, 0, sizeof *auth);
  if (algorithm == NULL && credential == NULL && signature == NULL)
    FORBIDDEN ("Missing Authentication Token");
  for (i = 0; i < G_N_ELEMENTS (required); i++) {
    g_autofree gchar *value = raw_query_get (raw_query, required[i]);

    if (value == NULL)
      FORBIDDEN ("AWS query-string parameters must include '%s'. Re-examine the "
          "query-string parameters.", required[i]);
  }
  if (!g_str_equal (algorithm, ALGORITHM))
    FORBIDDEN ("Unsupported AWS 'algorithm': '%s'.", algorithm);

  /* AKID/YYYYMMDD/region/service/aws4_request; the key id itself is not checked. */
  scope_parts = g_strsplit (credential, "/", -1);
  if (g_strv_length (scope_parts) != 5 || scope_parts[0][0] == '\0' ||
      scope_parts[2][0] == '\0')
    FORBIDDEN ("Credential should be scoped to a valid region. ");
  if (!g_str_equal (scope_parts[4], "aws4_request"))
    FORBIDDEN ("Credential should be scoped with a valid terminator: 'aws4_request', not "
        "'%s'.", scope_parts[4]);
  if (!g_str_equal (scope_parts[3], service))
    FORBIDDEN ("Credential should be scoped to correct service: '%s'. ", service);

  date = parse_amz_date (amz_date);
  if (date == NULL)
    FORBIDDEN ("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  if (strncmp (amz_date, scope_parts[1], 8) != 0 || strlen (scope_parts[1]) != 8)
    FORBIDDEN ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
        "of date from HTTP: '%s' != '%.8s', from '%s'.", scope_parts[1], amz_date,
        amz_date);
  if (!g_ascii_string_to_unsigned (expires, 10, 1, max_expires, &expires_s, NULL))
    FORBIDDEN ("X-Amz-Expires must be an integer from 1 to %u (seconds): '%s'.",
        max_expires, expires);
  age = g_date_time_difference (now, date) / G_TIME_SPAN_SECOND;
  if (age < -CLOCK_SKEW_S)
    FORBIDDEN ("Signature not yet current: %s is still later than the server's time + "
        "5 min.", amz_date);
  if (age > CLOCK_SKEW_S)
    FORBIDDEN ("Signature expired: %s is now earlier than the server's time - 5 min.",
        amz_date);
  if (age > (gint64) expires_s)
    FORBIDDEN ("Request has expired: %s + X-Amz-Expires %s s is earlier than the "
        "server's time.", amz_date, expires);

  signed_list = g_strsplit (signed_headers, ";", -1);
  if (!g_strv_contains ((const gchar * const *) signed_list, "host"))
    FORBIDDEN ("'Host' or ':authority' must be a 'SignedHeader' in the AWS "
        "Authorization.");
  if (!is_lower_hex (signature, 64))
    FORBIDDEN ("The request signature we calculated does not match the signature you "
        "provided. Check your AWS Secret Access Key and signing method. Consult the "
        "service documentation for details.");

  if (secret != NULL) {
    canonical_query = stt_test_aws_canonical_query (raw_query);
    if (canonical_query == NULL)
      FORBIDDEN ("The query string is not correctly percent-encoded.");
    request = canonical_request_full (method, path, canonical_query, signed_headers,
        headers, host);
    scope = g_strdup_printf ("%s/%s/%s/%s", scope_parts[1], scope_parts[2],
        scope_parts[3], scope_parts[4]);
    to_sign = stt_test_aws_request_string_to_sign (amz_date, scope, request);
    expected = stt_test_aws_signature (secret, scope_parts[1], scope_parts[2], service,
        to_sign);
    if (!g_str_equal (expected, signature))
      FORBIDDEN ("The request signature we calculated does not match the signature you "
          "provided. Check your AWS Secret Access Key and signing method. Consult the "
          "service documentation for details.");
  }

  auth->access_key_id = g_strdup (scope_parts[0]);
  auth->date = g_strdup (scope_parts[1]);
  auth->region = g_strdup (scope_parts[2]);
  auth->service = g_strdup (scope_parts[3]);
  auth->amz_date = g_steal_pointer (&amz_date);
  auth->signature = g_steal_pointer (&signature);
  auth->session_token = raw_query_get (raw_query, "X-Amz-Security-Token");
  return 0;
}

#undef FORBIDDEN

gchar *
stt_test_aws_event_signature (const gchar * secret, const gchar * region,
    const gchar * service, gint64 date_ms, const gchar * prior_signature,
    const guint8 * headers, gsize headers_len, const guint8 * body, gsize body_len)
{
  g_autoptr (GDateTime) date = g_date_time_new_from_unix_utc (date_ms / 1000);
  g_autofree gchar *amz_date = NULL, *day = NULL, *to_sign = NULL;
  g_autofree gchar *headers_hash = sha256_hex (headers, headers_len);
  g_autofree gchar *body_hash = sha256_hex (body, body_len);

  g_return_val_if_fail (date != NULL, NULL);
  amz_date = stt_test_aws_format_amz_date (date);
  day = g_strndup (amz_date, 8);
  to_sign = g_strdup_printf (EVENT_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s\n%s\n%s",
      amz_date, day, region, service, prior_signature, headers_hash, body_hash);
  return stt_test_aws_signature (secret, day, region, service, to_sign);
}

GBytes *
stt_test_aws_sign_event (const gchar * secret, const gchar * region, gint64 date_ms,
    gchar ** prior_signature, const guint8 * body, gsize body_len)
{
  g_autoptr (GByteArray) date_header = g_byte_array_new ();
  g_autoptr (GByteArray) headers = g_byte_array_new ();
  g_autofree gchar *signature = NULL;
  guint8 sig[32];
  guint i;

  stt_test_aws_append_timestamp_header (date_header, ":date", date_ms);
  signature = stt_test_aws_event_signature (secret, region, "transcribe", date_ms,
      *prior_signature, date_header->data, date_header->len, body, body_len);
  for (i = 0; i < 32; i++)
    sig[i] = g_ascii_xdigit_value (signature[2 * i]) * 16 +
        g_ascii_xdigit_value (signature[2 * i + 1]);
  g_byte_array_append (headers, date_header->data, date_header->len);
  stt_test_aws_append_bytes_header (headers, ":chunk-signature", sig, sizeof sig);
  g_free (*prior_signature);
  *prior_signature = g_steal_pointer (&signature);
  return stt_test_aws_encode_raw (headers->data, headers->len, body, body_len);
}
