/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-aws: helpers for tests of AWS Transcribe streaming over WebSocket (the "aws"
 * test server, stt-test-aws.c): the event-stream codec, SigV4 query presigning and event
 * signing, written from the published rules (README.md beside this file lists the
 * sources). Everything here is stateless and thread-safe except the two functions taking
 * a server, which are thread-safe like the rest of stt-test-server.h.
 */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include "stt-test-server.h"

G_BEGIN_DECLS

/* The event-stream header value types (the byte after the header name). */
typedef enum
{
  STT_TEST_AWS_HEADER_TRUE = 0,
  STT_TEST_AWS_HEADER_FALSE = 1,
  STT_TEST_AWS_HEADER_BYTE = 2,
  STT_TEST_AWS_HEADER_SHORT = 3,
  STT_TEST_AWS_HEADER_INTEGER = 4,
  STT_TEST_AWS_HEADER_LONG = 5,
  STT_TEST_AWS_HEADER_BYTES = 6,
  STT_TEST_AWS_HEADER_STRING = 7,
  STT_TEST_AWS_HEADER_TIMESTAMP = 8,
  STT_TEST_AWS_HEADER_UUID = 9,
} SttTestAwsHeaderType;

typedef struct
{
  gchar *name;
  SttTestAwsHeaderType type;
  /* Into the message: the value's bytes (after the u16 length of BYTES and STRING;
   * big-endian numbers; none for TRUE/FALSE). */
  const guint8 *value;
  gsize value_len;
  /* The whole encoded header, from its name length byte to its value's end. */
  const guint8 *raw;
  gsize raw_len;
} SttTestAwsHeader;

/* A decoded event-stream message; it keeps its bytes. */
typedef struct
{
  GBytes *bytes;
  GArray *headers;              /* SttTestAwsHeader, in the order received */
  const guint8 *raw_headers;    /* the headers block */
  gsize raw_headers_len;
  const guint8 *payload;
  gsize payload_len;
} SttTestAwsMessage;

/* IEEE CRC-32 (zlib's crc32()), continued from @crc (0 to start). */
guint32 stt_test_aws_crc32 (guint32 crc, const guint8 * data, gsize len);

/* Decodes exactly one message filling @data: total length, prelude and message CRCs,
 * header lengths and types (0..9) are checked. NULL and @error (G_IO_ERROR_INVALID_DATA)
 * when it is not one well-formed message. */
SttTestAwsMessage *stt_test_aws_message_decode (const guint8 * data, gsize size,
    GError ** error);
void stt_test_aws_message_free (SttTestAwsMessage * message);
/* The first header named @name, or NULL. */
const SttTestAwsHeader *stt_test_aws_message_get_header (const SttTestAwsMessage * message,
    const gchar * name);
/* A copy of string header @name's value, or NULL when absent or not a string. */
gchar *stt_test_aws_message_dup_string (const SttTestAwsMessage * message,
    const gchar * name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SttTestAwsMessage, stt_test_aws_message_free)

/* A message whose headers are the string headers of @header_names_and_string_values
 * (NULL-terminated name, value pairs; NULL for none), in that order, with @payload. For
 * tests that inject exceptions or events with stt_test_server_send_binary(). */
GBytes *stt_test_aws_encode_message (const gchar * const *header_names_and_string_values,
    const guint8 * payload, gsize len);
/* A message from already encoded @headers (e.g. other types, or malformed ones). */
GBytes *stt_test_aws_encode_raw (const guint8 * headers, gsize headers_len,
    const guint8 * payload, gsize len);
/* Appends one encoded header to @headers: a string (type 7), bytes (type 6) or a
 * timestamp (type 8, ms since 1970). */
void stt_test_aws_append_string_header (GByteArray * headers, const gchar * name,
    const gchar * value);
void stt_test_aws_append_bytes_header (GByteArray * headers, const gchar * name,
    const guint8 * value, gsize len);
void stt_test_aws_append_timestamp_header (GByteArray * headers, const gchar * name,
    gint64 ms);

/* --- SigV4 --------------------------------------------------------------------------- */

/* RFC 3986 encoding as SigV4 wants it: unreserved characters kept, every other byte
 * %XX with upper-case hex (a space is %20, '/' is %2F). */
gchar *stt_test_aws_uri_encode (const gchar * data, gsize len);
/* The canonical query of a raw (percent-encoded) query string: each name and value
 * decoded ('+' is a plus, not a space) and re-encoded, X-Amz-Signature left out, sorted
 * by name then value, joined with '&'. NULL when a %XX escape is invalid. */
gchar *stt_test_aws_canonical_query (const gchar * raw_query);
/* "YYYYMMDDTHHMMSSZ" of @time (UTC). */
gchar *stt_test_aws_format_amz_date (GDateTime * time);
/* The derived key: HMAC chain "AWS4" + @secret -> @date (YYYYMMDD) -> @region ->
 * @service -> "aws4_request". */
void stt_test_aws_signing_key (const gchar * secret, const gchar * date,
    const gchar * region, const gchar * service, guint8 key[32]);
/* Lower-case hex HMAC-SHA256 of @string_to_sign with the derived key. */
gchar *stt_test_aws_signature (const gchar * secret, const gchar * date,
    const gchar * region, const gchar * service, const gchar * string_to_sign);
/* "AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256(canonical request)>". */
gchar *stt_test_aws_request_string_to_sign (const gchar * amz_date, const gchar * scope,
    const gchar * canonical_request);
/* The canonical request of a GET whose only signed header is host. */
gchar *stt_test_aws_canonical_request (const gchar * method, const gchar * path,
    const gchar * canonical_query, const gchar * host);

/* Presigns @url (ws://HOST:PORT/path?the service's own parameters, raw) the way the
 * developer guide and the SDKs do: X-Amz-Algorithm, -Credential (@access_key_id/<date>/
 * @region/@service/aws4_request), -Date (@date, NULL = now), -Expires, -Security-Token
 * (when @session_token is set), -SignedHeaders=host, then -Signature last. @host is the
 * host signed (NULL: HOST:PORT of @url, what a client sends in Host). */
gchar *stt_test_aws_presign_url (const gchar * url, const gchar * host,
    const gchar * access_key_id, const gchar * secret, const gchar * session_token,
    const gchar * region, const gchar * service, GDateTime * date, guint expires);

/* What a presigned request carried. */
typedef struct
{
  gchar *access_key_id;
  gchar *date;                  /* YYYYMMDD of the credential scope */
  gchar *region;
  gchar *service;
  gchar *amz_date;              /* X-Amz-Date */
  gchar *signature;             /* X-Amz-Signature: the seed of the event chain */
  gchar *session_token;         /* X-Amz-Security-Token, or NULL */
} SttTestAwsAuth;

void stt_test_aws_auth_clear (SttTestAwsAuth * auth);

/* Checks a SigV4-presigned request as the service does (README.md: the order and the
 * messages): the X-Amz-* parameters, the scope (@service), X-Amz-Expires from 1 to
 * @max_expires (Transcribe: 300), X-Amz-Date within 5 minutes of @now and not expired,
 * then the signature recomputed with @secret (NULL: not checked). @host replaces the Host
 * header in the canonical request when not NULL; other signed headers come from
 * @headers. Returns 0 and fills @auth, or 403 with *@message. */
guint stt_test_aws_check_presigned (const gchar * method, const gchar * path,
    const gchar * raw_query, SoupMessageHeaders * headers, const gchar * host,
    const gchar * service, const gchar * secret, GDateTime * now, guint max_expires,
    SttTestAwsAuth * auth, gchar ** message);

/* The signature of one event of the chain: the string to sign is
 * "AWS4-HMAC-SHA256-PAYLOAD\n<amz date of @date_ms>\n<date>/@region/@service/aws4_request\n
 * @prior_signature\n<hex sha256(@headers)>\n<hex sha256(@body)>", @headers being the
 * encoded headers signed (the SDK signs its :date header alone). Lower-case hex. */
gchar *stt_test_aws_event_signature (const gchar * secret, const gchar * region,
    const gchar * service, gint64 date_ms, const gchar * prior_signature,
    const guint8 * headers, gsize headers_len, const guint8 * body, gsize body_len);
/* The SDK's signed envelope around @body (an encoded message, or nothing for the end
 * frame): headers :date (@date_ms) and :chunk-signature (32 bytes) signed on from
 * *@prior_signature, which is replaced by the new signature. Service "transcribe". */
GBytes *stt_test_aws_sign_event (const gchar * secret, const gchar * region,
    gint64 date_ms, gchar ** prior_signature, const guint8 * body, gsize body_len);

/* --- the "aws" server ------------------------------------------------------------------ */

/* Verify signatures against @host (e.g. "transcribestreaming.us-west-2.amazonaws.com:8443",
 * what the SDK signs) instead of each request's Host header; NULL restores that. */
void stt_test_aws_set_signed_host (SttTestServer * server, const gchar * host);
/* The access key id of connection @index's X-Amz-Credential, or NULL. */
gchar *stt_test_aws_get_access_key_id (SttTestServer * server, guint index);

G_END_DECLS
