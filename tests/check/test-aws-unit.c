/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pieces of the AWS Transcribe provider, without a server: Signature Version 4
 * against AWS's published examples (the SigV4 test suite's get-vanilla and
 * get-vanilla-query-order-key-case, and the S3 presigned-URL example of "Authenticating
 * Requests: Using Query Parameters"), the event-stream codec (the empty-message vector
 * of the format's test suite, round trips, every corruption refused), the credential
 * chain (properties, environment, shared files, profiles, regions), and the provider's
 * request and parser. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <zlib.h>
#include <gst/check/gstcheck.h>

#include "sttsigv4.h"
#include "stteventstream.h"
#include "sttprovider.h"
#include "gststtawscreds.h"

/* The SigV4 test suite's credentials and time. */
static const SttSigV4Credentials suite = {
  .access_key_id = "AKIDEXAMPLE",
  .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  .region = "us-east-1",
  .service = "service",
};

#define SUITE_DATE "20150830T123600Z"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

GST_START_TEST (test_sigv4_get_vanilla)
{
  g_autofree gchar *empty = stt_sigv4_sha256_hex ("", 0);
  g_autofree gchar *canonical = g_strdup_printf ("GET\n/\n\nhost:example.amazonaws.com\n"
      "x-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n%s", empty);
  g_autofree gchar *sts = stt_sigv4_string_to_sign (&suite, SUITE_DATE, canonical);
  g_autofree gchar *sig = stt_sigv4_signature (&suite, SUITE_DATE, sts);

  fail_unless_equals_string (empty, EMPTY_SHA256);
  fail_unless_equals_string (sts, "AWS4-HMAC-SHA256\n" SUITE_DATE "\n"
      "20150830/us-east-1/service/aws4_request\n"
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  fail_unless_equals_string (sig,
      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

GST_END_TEST;

GST_START_TEST (test_sigv4_query_order)
{
  g_autoptr (GPtrArray) pairs = g_ptr_array_new ();
  g_autofree gchar *query = NULL, *canonical = NULL, *sts = NULL, *sig = NULL;

  g_ptr_array_add (pairs, (gpointer) "Param2");
  g_ptr_array_add (pairs, (gpointer) "value2");
  g_ptr_array_add (pairs, (gpointer) "Param1");
  g_ptr_array_add (pairs, (gpointer) "value1");
  query = stt_sigv4_canonical_query (pairs);
  fail_unless_equals_string (query, "Param1=value1&Param2=value2");
  canonical = g_strdup_printf ("GET\n/\n%s\nhost:example.amazonaws.com\n"
      "x-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n" EMPTY_SHA256, query);
  sts = stt_sigv4_string_to_sign (&suite, SUITE_DATE, canonical);
  sig = stt_sigv4_signature (&suite, SUITE_DATE, sts);
  fail_unless_equals_string (sig,
      "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

GST_END_TEST;

GST_START_TEST (test_sigv4_uri_encode)
{
  g_autofree gchar *a = stt_sigv4_uri_encode ("AKID/20260101/us-west-2 x~._-+=é");

  fail_unless_equals_string (a, "AKID%2F20260101%2Fus-west-2%20x~._-%2B%3D%C3%A9");
}

GST_END_TEST;

/* The whole presigning path against the S3 documentation's example URL. */
GST_START_TEST (test_sigv4_presign_s3_example)
{
  const SttSigV4Credentials c = {
    .access_key_id = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
  };
  g_autoptr (GDateTime) t = g_date_time_new_utc (2013, 5, 24, 0, 0, 0);
  g_autofree gchar *url = stt_sigv4_presign_url (&c,
      "https://examplebucket.s3.amazonaws.com/test.txt", t, 86400, "UNSIGNED-PAYLOAD");

  fail_unless_equals_string (url, "https://examplebucket.s3.amazonaws.com/test.txt?"
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
      "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
      "&X-Amz-SignedHeaders=host&X-Amz-Signature="
      "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

GST_END_TEST;

/* The parameters a URL already has are signed with the X-Amz ones, sorted; the port is
 * part of the signed host unless it is the scheme's default. */
GST_START_TEST (test_sigv4_presign_transcribe)
{
  const SttSigV4Credentials c = {
    .access_key_id = "AKIDEXAMPLE",
    .secret_key = "secret",
    .session_token = "tok/en+=",
    .region = "us-west-2",
    .service = "transcribe",
  };
  g_autoptr (GDateTime) t = g_date_time_new_utc (2026, 1, 1, 12, 0, 0);
  g_autofree gchar *url = stt_sigv4_presign_url (&c,
      "wss://transcribestreaming.us-west-2.amazonaws.com:8443/stream-transcription-"
      "websocket?sample-rate=16000&language-code=en-US&media-encoding=pcm", t, 300, NULL);
  g_autofree gchar *query = NULL, *canonical = NULL, *sts = NULL, *sig = NULL;
  g_autoptr (GPtrArray) pairs = g_ptr_array_new ();
  const gchar *at;

  fail_unless (g_str_has_prefix (url, "wss://transcribestreaming.us-west-2.amazonaws.com"
          ":8443/stream-transcription-websocket?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
          "X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-west-2%2Ftranscribe%2F"
          "aws4_request&X-Amz-Date=20260101T120000Z&X-Amz-Expires=300&"
          "X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&"
          "language-code=en-US&media-encoding=pcm&sample-rate=16000&X-Amz-Signature="),
      "%s", url);
  /* The signature, recomputed from the documented canonical request. */
  at = strstr (url, "X-Amz-Signature=") + strlen ("X-Amz-Signature=");
  query = g_strndup (strchr (url, '?') + 1, at - strlen ("&X-Amz-Signature=") -
      (strchr (url, '?') + 1));
  canonical = g_strdup_printf ("GET\n/stream-transcription-websocket\n%s\n"
      "host:transcribestreaming.us-west-2.amazonaws.com:8443\n\nhost\n" EMPTY_SHA256,
      query);
  sts = stt_sigv4_string_to_sign (&c, "20260101T120000Z", canonical);
  sig = stt_sigv4_signature (&c, "20260101T120000Z", sts);
  fail_unless_equals_string (at, sig);
  fail_unless_equals_int (strlen (sig), 64);

  /* The default port is not in the signed host. */
  {
    g_autofree gchar *u1 = stt_sigv4_presign_url (&c, "wss://h.example/p", t, 300, NULL);
    g_autofree gchar *u2 = stt_sigv4_presign_url (&c, "wss://h.example:443/p", t, 300,
        NULL);
    g_autofree gchar *u3 = stt_sigv4_presign_url (&c, "ws://h.example:8080/p", t, 300,
        NULL);
    fail_unless_equals_string (strstr (u1, "Signature="), strstr (u2, "Signature="));
    fail_if (g_str_equal (strstr (u1, "Signature="), strstr (u3, "Signature=")));
  }
  fail_unless (stt_sigv4_presign_url (&c, "not a url", t, 300, NULL) == NULL);
}

GST_END_TEST;

/* --- event stream ------------------------------------------------------------------- */

GST_START_TEST (test_event_stream_empty_vector)
{
  static const guint8 empty[] = { 0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb,
    0x7d, 0x98, 0xc8, 0xff
  };
  g_autoptr (GBytes) b = stt_event_stream_encode (NULL, NULL, 0);
  g_autoptr (GHashTable) headers = NULL;
  const guint8 *payload;
  gsize len;
  gchar *err = NULL;

  fail_unless_equals_int (g_bytes_get_size (b), sizeof (empty));
  fail_unless (memcmp (g_bytes_get_data (b, NULL), empty, sizeof (empty)) == 0);
  fail_unless (stt_event_stream_decode (empty, sizeof (empty), &headers, &payload, &len,
          &err));
  fail_unless_equals_int (len, 0);
  fail_unless_equals_int (g_hash_table_size (headers), 0);
}

GST_END_TEST;

GST_START_TEST (test_event_stream_round_trip)
{
  static const gchar *const h[] = { ":message-type", "event", ":event-type",
    "AudioEvent", ":content-type", "application/octet-stream", NULL
  };
  guint8 pcm[3200];
  g_autoptr (GBytes) b = NULL;
  g_autoptr (GHashTable) headers = NULL;
  const guint8 *data, *payload;
  gsize size, len, i;
  gchar *err = NULL;

  for (i = 0; i < sizeof (pcm); i++)
    pcm[i] = i * 7;
  b = stt_event_stream_encode (h, pcm, sizeof (pcm));
  data = g_bytes_get_data (b, &size);
  /* 16 bytes of framing, 3 headers of (1 + name + 1 + 2 + value) bytes. */
  fail_unless_equals_int (size, 16 + (1 + 13 + 3 + 5) + (1 + 11 + 3 + 10) +
      (1 + 13 + 3 + 24) + sizeof (pcm));
  fail_unless (stt_event_stream_decode (data, size, &headers, &payload, &len, &err));
  fail_unless_equals_int (len, sizeof (pcm));
  fail_unless (memcmp (payload, pcm, len) == 0);
  fail_unless_equals_string (g_hash_table_lookup (headers, ":event-type"), "AudioEvent");
  fail_unless_equals_string (g_hash_table_lookup (headers, ":content-type"),
      "application/octet-stream");

  /* Every flipped byte is caught by a CRC or a length check. */
  for (i = 0; i < size; i += 97) {
    g_autofree guint8 *bad = g_memdup2 (data, size);
    GHashTable *hh = NULL;

    bad[i] ^= 0x5a;
    fail_if (stt_event_stream_decode (bad, size, &hh, &payload, &len, &err),
        "byte %" G_GSIZE_FORMAT " flipped and accepted", i);
    fail_unless (err != NULL && hh == NULL);
    g_clear_pointer (&err, g_free);
  }
  /* Truncated, or with bytes after the message. */
  g_clear_pointer (&headers, g_hash_table_unref);
  fail_if (stt_event_stream_decode (data, size - 1, &headers, &payload, &len, &err));
  g_clear_pointer (&err, g_free);
  fail_if (stt_event_stream_decode (data, 10, &headers, &payload, &len, &err));
  g_clear_pointer (&err, g_free);
}

GST_END_TEST;

/* A header of every type: only strings are kept, the rest skipped. */
GST_START_TEST (test_event_stream_header_types)
{
  GByteArray *a = g_byte_array_new ();
  static const guint8 hdrs[] = {
    1, 't', 0,                  /* true */
    1, 'f', 1,                  /* false */
    1, 'b', 2, 0x7f,
    1, 's', 3, 0, 1,
    1, 'i', 4, 0, 0, 0, 1,
    1, 'l', 5, 0, 0, 0, 0, 0, 0, 0, 1,
    1, 'y', 6, 0, 2, 0xde, 0xad,
    1, 'n', 7, 0, 3, 'a', 'b', 'c',
    1, 'd', 8, 0, 0, 1, 0x7f, 0, 0, 0, 0,
    1, 'u', 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
  };
  guint8 prelude[12] = { 0 };
  g_autoptr (GHashTable) headers = NULL;
  const guint8 *payload;
  gsize len;
  gchar *err = NULL;
  guint32 total = 16 + sizeof (hdrs) + 2, crc;
  prelude[3] = total;
  prelude[7] = sizeof (hdrs);
  g_byte_array_append (a, prelude, 12);
  g_byte_array_append (a, hdrs, sizeof (hdrs));
  g_byte_array_append (a, (const guint8 *) "hi", 2);
  g_byte_array_append (a, prelude, 4);
  /* The CRCs, with zlib's CRC32 (the gzip one the format uses). */
  crc = crc32 (0, a->data, 8);
  a->data[8] = crc >> 24;
  a->data[9] = crc >> 16;
  a->data[10] = crc >> 8;
  a->data[11] = crc;
  crc = crc32 (0, a->data, a->len - 4);
  a->data[a->len - 4] = crc >> 24;
  a->data[a->len - 3] = crc >> 16;
  a->data[a->len - 2] = crc >> 8;
  a->data[a->len - 1] = crc;
  fail_unless (stt_event_stream_decode (a->data, a->len, &headers, &payload, &len, &err),
      "%s", err);
  fail_unless_equals_int (g_hash_table_size (headers), 1);
  fail_unless_equals_string (g_hash_table_lookup (headers, "n"), "abc");
  fail_unless_equals_int (len, 2);
  fail_unless (memcmp (payload, "hi", 2) == 0);
  g_byte_array_unref (a);
}

GST_END_TEST;

/* --- credentials -------------------------------------------------------------------- */

static gchar *tmpdir;

static void
clear_env (void)
{
  const gchar *const names[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", NULL
  };
  guint i;
  g_autofree gchar *none = g_build_filename (tmpdir, "none", NULL);

  for (i = 0; names[i]; i++)
    g_unsetenv (names[i]);
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", none, TRUE);
  g_setenv ("AWS_CONFIG_FILE", none, TRUE);
}

static void
creds_setup (void)
{
  tmpdir = g_dir_make_tmp ("stt-aws-XXXXXX", NULL);
  clear_env ();
}

static void
creds_teardown (void)
{
  g_autofree gchar *c = g_build_filename (tmpdir, "credentials", NULL);
  g_autofree gchar *f = g_build_filename (tmpdir, "config", NULL);

  g_unlink (c);
  g_unlink (f);
  g_rmdir (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

GST_START_TEST (test_creds_properties_first)
{
  GstSttAwsCredentials c;
  GError *err = NULL;

  g_setenv ("AWS_ACCESS_KEY_ID", "ENVID", TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", "envsecret", TRUE);
  g_setenv ("AWS_REGION", "eu-west-1", TRUE);
  fail_unless (gst_stt_aws_credentials_resolve ("PROPID", "propsecret", NULL,
          "us-west-2", &c, &err));
  fail_unless_equals_string (c.access_key_id, "PROPID");
  fail_unless_equals_string (c.secret_key, "propsecret");
  fail_unless (c.session_token == NULL);
  fail_unless_equals_string (c.region, "us-west-2");
  gst_stt_aws_credentials_clear (&c);

  /* Then the environment, token and region included. */
  g_setenv ("AWS_SESSION_TOKEN", "envtoken", TRUE);
  fail_unless (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless_equals_string (c.access_key_id, "ENVID");
  fail_unless_equals_string (c.secret_key, "envsecret");
  fail_unless_equals_string (c.session_token, "envtoken");
  fail_unless_equals_string (c.region, "eu-west-1");
  gst_stt_aws_credentials_clear (&c);

  /* Half a pair is a settings error, not a fallback. */
  fail_if (gst_stt_aws_credentials_resolve ("PROPID", NULL, NULL, NULL, &c, &err));
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (err->message, "secret-access-key") != NULL);
  g_clear_error (&err);
  g_unsetenv ("AWS_SECRET_ACCESS_KEY");
  fail_if (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless (strstr (err->message, "$AWS_SECRET_ACCESS_KEY") != NULL);
  g_clear_error (&err);
}

GST_END_TEST;

GST_START_TEST (test_creds_files)
{
  g_autofree gchar *cred = g_build_filename (tmpdir, "credentials", NULL);
  g_autofree gchar *conf = g_build_filename (tmpdir, "config", NULL);
  GstSttAwsCredentials c;
  GError *err = NULL;

  /* Nothing anywhere: the error names where to put them. */
  fail_if (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED));
  fail_unless (strstr (err->message, "access-key") && strstr (err->message,
          "$AWS_ACCESS_KEY_ID") && strstr (err->message, "profile 'default'"));
  g_clear_error (&err);

  fail_unless (g_file_set_contents (cred, "# comment\n[default]\naws_access_key_id = "
          "DEFID\naws_secret_access_key = defsecret\n\n[work]\naws_access_key_id=WORKID\n"
          "aws_secret_access_key=worksecret\naws_session_token=worktoken\n", -1, NULL));
  fail_unless (g_file_set_contents (conf, "[default]\nregion = us-east-2\n"
          "[profile work]\nregion=ap-southeast-2\n[profile other]\n"
          "aws_access_key_id=OTHERID\naws_secret_access_key=othersecret\n", -1, NULL));
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", cred, TRUE);
  g_setenv ("AWS_CONFIG_FILE", conf, TRUE);

  fail_unless (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless_equals_string (c.access_key_id, "DEFID");
  fail_unless_equals_string (c.secret_key, "defsecret");
  fail_unless_equals_string (c.region, "us-east-2");
  fail_unless (strstr (c.source, "[default]") != NULL);
  gst_stt_aws_credentials_clear (&c);

  g_setenv ("AWS_PROFILE", "work", TRUE);
  fail_unless (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless_equals_string (c.access_key_id, "WORKID");
  fail_unless_equals_string (c.session_token, "worktoken");
  fail_unless_equals_string (c.region, "ap-southeast-2");
  gst_stt_aws_credentials_clear (&c);

  /* A profile with its keys in the config file; $AWS_DEFAULT_REGION over the file. */
  g_setenv ("AWS_PROFILE", "other", TRUE);
  g_setenv ("AWS_DEFAULT_REGION", "sa-east-1", TRUE);
  fail_unless (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless_equals_string (c.access_key_id, "OTHERID");
  fail_unless_equals_string (c.region, "sa-east-1");
  gst_stt_aws_credentials_clear (&c);

  g_setenv ("AWS_PROFILE", "missing", TRUE);
  fail_if (gst_stt_aws_credentials_resolve (NULL, NULL, NULL, NULL, &c, &err));
  fail_unless (strstr (err->message, "profile 'missing'") != NULL);
  g_clear_error (&err);
}

GST_END_TEST;

/* --- the provider ------------------------------------------------------------------- */

static GBytes *
server_event (const gchar * mtype, const gchar * type_header, const gchar * type,
    const gchar * json)
{
  const gchar *h[] = { ":message-type", mtype, type_header, type, ":content-type",
    "application/json", NULL
  };
  return stt_event_stream_encode (h, (const guint8 *) json, strlen (json));
}

static void
parse (SttProviderState * st, GBytes * b, SttParseOutput * out)
{
  gsize n;
  const guint8 *d = g_bytes_get_data (b, &n);

  stt_parse_output_init (out);
  st->info->parse (st, TRUE, d, n, out);
}

GST_START_TEST (test_provider_request)
{
  const SttProviderInfo *info = stt_provider_lookup ("aws");
  SttProviderConfig config = {
    .api_key = "secret",
    .access_key_id = "AKIDTEST",
    .region = "eu-central-1",
    .language = "en",
    .sample_rate = 16000,
    .interim_results = TRUE,
  };
  SttProviderState st = { info, &config };
  SttRequest req = { 0, };
  GError *err = NULL;

  fail_unless (info != NULL && info->aws_credentials && info->end_ack_is_close);
  fail_unless (info->build_request (&st, &req, &err));
  fail_unless (g_str_has_prefix (req.url, "wss://transcribestreaming.eu-central-1."
          "amazonaws.com:8443/stream-transcription-websocket?X-Amz-Algorithm="));
  fail_unless (strstr (req.url, "&language-code=en-US&") != NULL, "%s", req.url);
  fail_unless (strstr (req.url, "&media-encoding=pcm&") != NULL);
  fail_unless (strstr (req.url, "&sample-rate=16000&") != NULL);
  fail_unless (strstr (req.url, "enable-partial-results-stabilization=true") != NULL);
  fail_unless (strstr (req.url, "%2Feu-central-1%2Ftranscribe%2Faws4_request") != NULL);
  fail_if (strstr (req.url, "secret") != NULL);
  fail_unless (req.headers == NULL);
  stt_request_clear (&req);

  /* Several languages: identification among them. A custom URL names no region, so
   * the region comes from the config. */
  config.language = "en-US, es";
  config.url = "ws://127.0.0.1:9/stream-transcription-websocket";
  fail_unless (info->build_request (&st, &req, &err));
  fail_unless (g_str_has_prefix (req.url, "ws://127.0.0.1:9/stream-transcription-"
          "websocket?"));
  fail_unless (strstr (req.url, "identify-language=true") != NULL, "%s", req.url);
  fail_unless (strstr (req.url, "language-options=en-US%2Ces-US") != NULL, "%s",
      req.url);
  fail_if (strstr (req.url, "language-code=") != NULL);
  stt_request_clear (&req);

  config.region = NULL;
  fail_if (info->build_request (&st, &req, &err));
  fail_unless (strstr (err->message, "region") != NULL);
  g_clear_error (&err);
  stt_request_clear (&req);
}

GST_END_TEST;

GST_START_TEST (test_provider_parse)
{
  const SttProviderInfo *info = stt_provider_lookup ("aws");
  SttProviderConfig config = { .api_key = "s",.access_key_id = "A",.region = "r",
    .sample_rate = 16000,.interim_results = TRUE
  };
  SttProviderState st = { info, &config };
  SttParseOutput out;
  g_autoptr (GBytes) partial = server_event ("event", ":event-type", "TranscriptEvent",
      "{\"Transcript\":{\"Results\":[{\"ResultId\":\"r-7\",\"StartTime\":0.51,"
      "\"EndTime\":1.2,\"IsPartial\":true,\"Alternatives\":[{\"Transcript\":\"Hello wor\","
      "\"Items\":[{\"Content\":\"Hello\",\"StartTime\":0.51,\"EndTime\":0.9,\"Type\":"
      "\"pronunciation\",\"Stable\":true},{\"Content\":\"wor\",\"StartTime\":1.0,"
      "\"EndTime\":1.2,\"Type\":\"pronunciation\",\"Stable\":false}]}]}]}}");
  g_autoptr (GBytes) final = server_event ("event", ":event-type", "TranscriptEvent",
      "{\"Transcript\":{\"Results\":[{\"ResultId\":\"r-7\",\"StartTime\":0.51,"
      "\"EndTime\":1.9,\"IsPartial\":false,\"Alternatives\":[{\"Transcript\":\"Hello "
      "world.\",\"Items\":[{\"Content\":\"Hello\",\"StartTime\":0.51,\"EndTime\":0.9,"
      "\"Type\":\"pronunciation\",\"Confidence\":0.97,\"Speaker\":\"0\"},{\"Content\":"
      "\"world\",\"StartTime\":1.0,\"EndTime\":1.9,\"Type\":\"pronunciation\","
      "\"Confidence\":0.91,\"Speaker\":\"1\"},{\"Content\":\".\",\"StartTime\":1.9,"
      "\"EndTime\":1.9,\"Type\":\"punctuation\"}]}]}]}}");
  g_autoptr (GBytes) empty = server_event ("event", ":event-type", "TranscriptEvent",
      "{\"Transcript\":{\"Results\":[]}}");
  SttResult *r;
  SttWord *w;

  parse (&st, partial, &out);
  fail_unless_equals_int (out.results->len, 1);
  r = g_ptr_array_index (out.results, 0);
  fail_if (r->is_final);
  fail_unless_equals_string (r->segment_key, "r-7");
  fail_unless_equals_string (r->text, "Hello wor");
  fail_unless_equals_int (r->words->len, 2);
  fail_unless (g_array_index (r->words, SttWord, 0).stable);
  fail_if (g_array_index (r->words, SttWord, 1).stable);
  stt_parse_output_clear (&out);

  parse (&st, final, &out);
  fail_unless_equals_int (out.results->len, 1);
  r = g_ptr_array_index (out.results, 0);
  fail_unless (r->is_final);
  fail_unless_equals_string (r->segment_key, "r-7");
  fail_unless_equals_string (r->text, "Hello world.");
  fail_unless_equals_float (r->start, 0.51);
  fail_unless_equals_float (r->end, 1.9);
  fail_unless_equals_int (r->words->len, 2);
  w = &g_array_index (r->words, SttWord, 1);
  fail_unless_equals_string (w->text, "world.");
  fail_unless_equals_string (w->speaker, "1");
  fail_unless_equals_float (w->end, 1.9);
  fail_unless (r->confidence > 0.93 && r->confidence < 0.95);
  stt_parse_output_clear (&out);

  parse (&st, empty, &out);
  fail_unless_equals_int (out.results->len, 0);
  fail_unless (out.error == NULL && out.failure == STT_FAILURE_NONE);
  stt_parse_output_clear (&out);

  /* Without interim results, partials are not passed on. */
  config.interim_results = FALSE;
  parse (&st, partial, &out);
  fail_unless_equals_int (out.results->len, 0);
  stt_parse_output_clear (&out);
}

GST_END_TEST;

GST_START_TEST (test_provider_exceptions)
{
  const SttProviderInfo *info = stt_provider_lookup ("aws");
  SttProviderConfig config = { .sample_rate = 16000 };
  SttProviderState st = { info, &config };
  static const struct
  {
    const gchar *type, *message;
    SttFailure failure;
  } cases[] = {
    {"BadRequestException", "The language code is not valid.", STT_FAILURE_FATAL},
    {"BadRequestException", "Your request timed out because no new audio was received "
          "for 15 seconds.", STT_FAILURE_RETRY},
    {"UnrecognizedClientException", "The security token included in the request is "
          "invalid.", STT_FAILURE_AUTH},
    {"LimitExceededException", "You have reached your limit.", STT_FAILURE_RETRY},
    {"InternalFailureException", "oops", STT_FAILURE_RETRY},
    {"ServiceUnavailableException", "busy", STT_FAILURE_RETRY},
    {"ConflictException", "same session id", STT_FAILURE_FATAL},
    {"SomethingNewException", "?", STT_FAILURE_RETRY},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *json = g_strdup_printf ("{\"Message\":\"%s\"}", cases[i].message);
    g_autoptr (GBytes) b = server_event ("exception", ":exception-type", cases[i].type,
        json);
    SttParseOutput out;

    parse (&st, b, &out);
    fail_unless_equals_int (out.failure, cases[i].failure);
    fail_unless (strstr (out.error, cases[i].type) && strstr (out.error,
            cases[i].message), "%s", out.error);
    stt_parse_output_clear (&out);
  }

  /* Malformed: logged and skipped (an error text, no failure). */
  {
    SttParseOutput out;
    g_autoptr (GBytes) other = server_event ("event", ":event-type", "Unknown", "{}");
    g_autoptr (GBytes) notjson = server_event ("event", ":event-type",
        "TranscriptEvent", "nope");

    stt_parse_output_init (&out);
    info->parse (&st, FALSE, (const guint8 *) "{}", 2, &out);
    fail_unless (out.error != NULL && out.failure == STT_FAILURE_NONE);
    stt_parse_output_clear (&out);
    stt_parse_output_init (&out);
    info->parse (&st, TRUE, (const guint8 *) "\0\0\0\x10garbage!", 16, &out);
    fail_unless (out.error != NULL && out.failure == STT_FAILURE_NONE);
    stt_parse_output_clear (&out);
    parse (&st, other, &out);
    fail_unless (out.error != NULL && out.failure == STT_FAILURE_NONE);
    stt_parse_output_clear (&out);
    parse (&st, notjson, &out);
    fail_unless (out.error != NULL && out.failure == STT_FAILURE_NONE);
    stt_parse_output_clear (&out);
  }
}

GST_END_TEST;

/* Audio events and the end: the documented three headers, the PCM as the payload. */
GST_START_TEST (test_provider_framing)
{
  const SttProviderInfo *info = stt_provider_lookup ("aws");
  SttProviderConfig config = { .sample_rate = 16000 };
  SttProviderState st = { info, &config };
  const guint8 pcm[] = { 1, 2, 3, 4 };
  SttFrameType type = STT_FRAME_TEXT;
  g_autoptr (GBytes) audio = info->frame_audio (&st, pcm, sizeof (pcm), &type);
  g_autoptr (GBytes) end = NULL;
  g_autoptr (GHashTable) h = NULL;
  g_autoptr (GHashTable) h2 = NULL;
  const guint8 *payload;
  gsize len, size;
  const guint8 *d = g_bytes_get_data (audio, &size);
  gchar *err = NULL;

  fail_unless_equals_int (type, STT_FRAME_BINARY);
  fail_unless (stt_event_stream_decode (d, size, &h, &payload, &len, &err));
  fail_unless_equals_int (g_hash_table_size (h), 3);
  fail_unless_equals_string (g_hash_table_lookup (h, ":message-type"), "event");
  fail_unless_equals_string (g_hash_table_lookup (h, ":event-type"), "AudioEvent");
  fail_unless_equals_string (g_hash_table_lookup (h, ":content-type"),
      "application/octet-stream");
  fail_unless (len == sizeof (pcm) && memcmp (payload, pcm, len) == 0);

  type = STT_FRAME_TEXT;
  end = info->end_message (&st, &type);
  d = g_bytes_get_data (end, &size);
  fail_unless_equals_int (type, STT_FRAME_BINARY);
  fail_unless (stt_event_stream_decode (d, size, &h2, &payload, &len, &err));
  fail_unless_equals_string (g_hash_table_lookup (h2, ":event-type"), "AudioEvent");
  fail_unless_equals_int (len, 0);
}

GST_END_TEST;

static Suite *
aws_unit_suite (void)
{
  Suite *s = suite_create ("aws-unit");
  TCase *tc = tcase_create ("sigv4");
  TCase *es = tcase_create ("event-stream");
  TCase *cr = tcase_create ("credentials");
  TCase *pr = tcase_create ("provider");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_sigv4_get_vanilla);
  tcase_add_test (tc, test_sigv4_query_order);
  tcase_add_test (tc, test_sigv4_uri_encode);
  tcase_add_test (tc, test_sigv4_presign_s3_example);
  tcase_add_test (tc, test_sigv4_presign_transcribe);
  suite_add_tcase (s, es);
  tcase_add_test (es, test_event_stream_empty_vector);
  tcase_add_test (es, test_event_stream_round_trip);
  tcase_add_test (es, test_event_stream_header_types);
  suite_add_tcase (s, cr);
  tcase_add_checked_fixture (cr, creds_setup, creds_teardown);
  tcase_add_test (cr, test_creds_properties_first);
  tcase_add_test (cr, test_creds_files);
  suite_add_tcase (s, pr);
  tcase_add_test (pr, test_provider_request);
  tcase_add_test (pr, test_provider_parse);
  tcase_add_test (pr, test_provider_exceptions);
  tcase_add_test (pr, test_provider_framing);
  return s;
}

GST_CHECK_MAIN (aws_unit);
