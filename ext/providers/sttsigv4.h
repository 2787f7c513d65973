/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttsigv4: AWS Signature Version 4, as the WebSocket services of AWS need it: a GET
 * presigned in its query string (X-Amz-* parameters), plus the building blocks, kept
 * public so that tests can check each step against AWS's published examples.
 * HMAC-SHA256 and SHA-256 come from OpenSSL. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  const gchar *access_key_id;
  const gchar *secret_key;      /* never logged */
  const gchar *session_token;   /* temporary credentials; NULL otherwise */
  const gchar *region;          /* "us-west-2" */
  const gchar *service;         /* "transcribe" */
} SttSigV4Credentials;

/* Lower-case hex SHA-256 of @len bytes of @data. */
gchar *stt_sigv4_sha256_hex (const void *data, gsize len);

/* RFC 3986 encoding as SigV4 wants it: unreserved characters kept, every other byte
 * %XX with upper-case hex (a space is %20, a slash %2F). */
gchar *stt_sigv4_uri_encode (const gchar * s);

/* The canonical query string of @pairs (name, value, name, value... unencoded): each
 * encoded, sorted by encoded name then value, joined with '&'. */
gchar *stt_sigv4_canonical_query (const GPtrArray * pairs);

/* The credential scope "YYYYMMDD/region/service/aws4_request" for @amz_date
 * ("YYYYMMDDTHHMMSSZ"). */
gchar *stt_sigv4_scope (const SttSigV4Credentials * c, const gchar * amz_date);

/* The hex signature of @string_to_sign with the key derived from @c's secret for the day
 * of @amz_date. */
gchar *stt_sigv4_signature (const SttSigV4Credentials * c, const gchar * amz_date,
    const gchar * string_to_sign);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>" */
gchar *stt_sigv4_string_to_sign (const SttSigV4Credentials * c, const gchar * amz_date,
    const gchar * canonical_request);

/* @url (scheme://host[:port]/path[?query]) with the SigV4 query parameters added for a
 * GET signed with @c at @now, valid for @expires seconds; only `host` is signed (the
 * host as the HTTP client will send it: with the port unless it is the scheme's
 * default). @payload_hash: the hex SHA-256 of the body, or a marker such as
 * "UNSIGNED-PAYLOAD" (S3); NULL = the hash of an empty body. The query @url already has
 * is kept and signed; NULL when @url cannot be parsed. */
gchar *stt_sigv4_presign_url (const SttSigV4Credentials * c, const gchar * url,
    GDateTime * now, guint expires, const gchar * payload_hash);

G_END_DECLS
