/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttranscribe against the local AWS Transcribe streaming server (tests/servers/
 * stt-test-aws.c, written apart from the provider, verifying SigV4 itself): the
 * presigned handshake (every query parameter, a fresh signature per attempt), audio in
 * event-stream AudioEvents, the empty AudioEvent at the end answered by the service's
 * last finals and its normal close, every word once at its time; credentials from the
 * properties, the environment and the shared file, a session token; failures: a wrong
 * secret (HTTP 403) and no credentials at all are one NOT_AUTHORIZED error, a
 * BadRequestException is fatal, a LimitExceededException and the "no new audio" timeout
 * are retried with the audio replayed, malformed frames are skipped. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"
#include "stt-test-aws.h"

#define DURATION 3.0

static gchar *
query (guint conn, const gchar * name)
{
  return stt_test_server_get_query (stt_fx.server, conn, name);
}

/* The handshake carries the documented parameters, signed by the server's own SigV4
 * check (it refuses a bad signature); the audio arrives whole; the end frame is answered
 * by the last finals and the server's close, which ends the stream with every word. */
GST_START_TEST (test_transcribe)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autofree gchar *id = NULL, *lang = NULL, *enc = NULL, *rate = NULL, *expires = NULL;
  g_autofree gchar *stab = NULL, *token = NULL, *credential = NULL;
  GList *msgs;
  GBytes *audio;

  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless (stt_test_server_wait_connections (stt_fx.server, 1, TRUE, 5000));
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);

  id = stt_test_aws_get_access_key_id (stt_fx.server, 0);
  fail_unless_equals_string (id, STT_CHECK_AWS_KEY_ID);
  credential = query (0, "X-Amz-Credential");
  fail_unless (credential && strstr (credential, "/" STT_CHECK_AWS_REGION
          "/transcribe/aws4_request"), "%s", credential);
  lang = query (0, "language-code");
  enc = query (0, "media-encoding");
  rate = query (0, "sample-rate");
  expires = query (0, "X-Amz-Expires");
  stab = query (0, "enable-partial-results-stabilization");
  token = query (0, "X-Amz-Security-Token");
  fail_unless_equals_string (lang, "en-US");
  fail_unless_equals_string (enc, "pcm");
  fail_unless_equals_string (rate, "16000");
  fail_unless_equals_string (expires, "300");
  fail_unless_equals_string (stab, "true");
  fail_unless (token == NULL);

  audio = stt_test_server_get_audio (stt_fx.server, 0);
  fail_unless (g_bytes_equal (audio, r->input), "the server got %" G_GSIZE_FORMAT
      " bytes of %" G_GSIZE_FORMAT, g_bytes_get_size (audio), g_bytes_get_size (r->input));
  g_bytes_unref (audio);

  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Temporary credentials from the environment: no property set, the session token in
 * X-Amz-Security-Token; a second attempt (after a drop) is signed again. */
GST_START_TEST (test_environment_and_token)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  g_autofree gchar *token0 = NULL, *token1 = NULL, *sig0 = NULL, *sig1 = NULL;
  g_autofree gchar *id = NULL;
  GList *msgs;

  g_object_set (r->h->element, "access-key", NULL, "secret-access-key", NULL, "region",
      NULL, NULL);
  g_setenv ("AWS_ACCESS_KEY_ID", "ASIAENVEXAMPLE", TRUE);
  g_setenv ("AWS_SECRET_ACCESS_KEY", "test-key", TRUE);
  g_setenv ("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLE/+=", TRUE);
  g_setenv ("AWS_REGION", "eu-west-1", TRUE);
  stt_test_server_inject_fault (stt_fx.server, STT_TEST_FAULT_DROP, 1.5, 0, NULL);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  g_unsetenv ("AWS_ACCESS_KEY_ID");
  g_unsetenv ("AWS_SECRET_ACCESS_KEY");
  g_unsetenv ("AWS_SESSION_TOKEN");
  g_unsetenv ("AWS_REGION");

  fail_unless (stt_test_server_get_n_connections (stt_fx.server) >= 2);
  id = stt_test_aws_get_access_key_id (stt_fx.server, 0);
  fail_unless_equals_string (id, "ASIAENVEXAMPLE");
  token0 = query (0, "X-Amz-Security-Token");
  token1 = query (1, "X-Amz-Security-Token");
  fail_unless_equals_string (token0, "FwoGZXIvYXdzEXAMPLE/+=");
  fail_unless_equals_string (token1, "FwoGZXIvYXdzEXAMPLE/+=");
  sig0 = query (0, "X-Amz-Signature");
  sig1 = query (1, "X-Amz-Signature");
  fail_unless (sig0 && sig1);
  {
    g_autofree gchar *cred = query (0, "X-Amz-Credential");
    fail_unless (strstr (cred, "/eu-west-1/transcribe/") != NULL, "%s", cred);
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A profile of the shared credentials file, its region from the config file. */
GST_START_TEST (test_shared_file)
{
  g_autofree gchar *dir = g_dir_make_tmp ("stt-aws-XXXXXX", NULL);
  g_autofree gchar *cred = g_build_filename (dir, "credentials", NULL);
  g_autofree gchar *conf = g_build_filename (dir, "config", NULL);
  g_autofree gchar *id = NULL, *credential = NULL;
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GList *msgs;

  fail_unless (g_file_set_contents (cred, "[default]\naws_access_key_id = WRONG\n"
          "aws_secret_access_key = wrong\n[captions]\naws_access_key_id = AKIDFILE\n"
          "aws_secret_access_key = test-key\n", -1, NULL));
  fail_unless (g_file_set_contents (conf, "[profile captions]\nregion = ca-central-1\n",
          -1, NULL));
  g_object_set (r->h->element, "access-key", NULL, "secret-access-key", NULL, "region",
      NULL, NULL);
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", cred, TRUE);
  g_setenv ("AWS_CONFIG_FILE", conf, TRUE);
  g_setenv ("AWS_PROFILE", "captions", TRUE);
  stt_check_run_push (r, 0, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  g_setenv ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials", TRUE);
  g_setenv ("AWS_CONFIG_FILE", "/nonexistent/aws-config", TRUE);
  g_unsetenv ("AWS_PROFILE");

  id = stt_test_aws_get_access_key_id (stt_fx.server, 0);
  fail_unless_equals_string (id, "AKIDFILE");
  credential = query (0, "X-Amz-Credential");
  fail_unless (strstr (credential, "/ca-central-1/") != NULL, "%s", credential);
  g_unlink (cred);
  g_unlink (conf);
  g_rmdir (dir);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

/* A wrong secret: the server's signature check answers 403; one error naming the
 * service, the status and where the keys came from, never the secret; no retry. */
GST_START_TEST (test_wrong_secret)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;
  const gchar *text;

  g_object_set (r->h->element, "secret-access-key", "not-the-secret", NULL);
  /* No retry: the session ended (stt_check_wait_fatal) after one handshake. */
  err = stt_check_run_until_fatal (r, 1.0);
  stt_check_error_says (err, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "AWS Transcribe", "403",
      "not-the-secret");
  text = gst_structure_get_string (err, "message");
  fail_unless (strstr (text, "properties") != NULL, "%s", text);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  fail_unless (stt_check_wait_error (r->bus, 200) == NULL, "a second error");
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* No credentials anywhere, or half a pair, or no region: an error at start, before any
 * connection. */
GST_START_TEST (test_no_credentials)
{
  static const gchar *const cases[][4] = {
    /* access-key, secret, region, what the message names */
    {NULL, NULL, "us-west-2", "No AWS credentials"},
    {"AKID", NULL, "us-west-2", "secret-access-key"},
    {"AKID", "test-key", NULL, "No AWS region"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstElement *stt = gst_element_factory_make ("stttranscribe", NULL);
    GstBus *bus = gst_bus_new ();
    GstMessage *m;
    GError *gerr = NULL;

    gst_element_set_bus (stt, bus);
    g_object_set (stt, "provider", "aws", "url", stt_fx.url, "access-key", cases[i][0],
        "secret-access-key", cases[i][1], "region", cases[i][2], NULL);
    fail_unless_equals_int (gst_element_set_state (stt, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (m != NULL, "case %u: no error", i);
    gst_message_parse_error (m, &gerr, NULL);
    fail_unless (strstr (gerr->message, cases[i][3]) != NULL, "case %u: %s", i,
        gerr->message);
    g_clear_error (&gerr);
    gst_message_unref (m);
    gst_element_set_state (stt, GST_STATE_NULL);
    gst_element_set_bus (stt, NULL);
    gst_object_unref (bus);
    gst_object_unref (stt);
  }
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 0);
}

GST_END_TEST;

/* What does not apply to AWS is said at start: a token source is an error (the request
 * is signed with the key pair), api-key and model are warned about and ignored. */
GST_START_TEST (test_settings_that_do_not_apply)
{
  static const gchar *const props[][2] = {
    {"token-url", "https://keys.example/aws"},
    {"token-secret", "s3cret"},
    {"api-key", "k"},
    {"model", "medical"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (props); i++) {
    GstElement *stt = gst_element_factory_make ("stttranscribe", NULL);
    GstBus *bus = gst_bus_new ();
    gboolean error_wanted = i < 2;
    GstMessage *m;
    GError *gerr = NULL;

    gst_element_set_bus (stt, bus);
    g_object_set (stt, "provider", "aws", "url", stt_fx.url, NULL);
    stt_check_set_test_credentials (stt, "aws");
    g_object_set (stt, props[i][0], props[i][1], NULL);
    fail_unless_equals_int (gst_element_set_state (stt, GST_STATE_PAUSED) ==
        GST_STATE_CHANGE_FAILURE, error_wanted);
    m = gst_bus_pop_filtered (bus, error_wanted ? GST_MESSAGE_ERROR : GST_MESSAGE_WARNING);
    fail_unless (m != NULL, "%s: nothing said", props[i][0]);
    if (error_wanted)
      gst_message_parse_error (m, &gerr, NULL);
    else
      gst_message_parse_warning (m, &gerr, NULL);
    fail_unless (strstr (gerr->message, props[i][0]) != NULL, "%s: %s", props[i][0],
        gerr->message);
    g_clear_error (&gerr);
    gst_message_unref (m);
    gst_element_set_state (stt, GST_STATE_NULL);
    gst_element_set_bus (stt, NULL);
    gst_object_unref (bus);
    gst_object_unref (stt);
  }
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 0);
}

GST_END_TEST;

static void
send_exception (const gchar * type, const gchar * message)
{
  const gchar *const h[] = { ":message-type", "exception", ":exception-type", type,
    ":content-type", "application/json", NULL
  };
  g_autofree gchar *json = g_strdup_printf ("{\"Message\":\"%s\"}", message);
  g_autoptr (GBytes) b = stt_test_aws_encode_message (h, (const guint8 *) json,
      strlen (json));

  stt_test_server_send_binary (stt_fx.server, b);
}

/* Retried exceptions: a new connection replays what had no final, every word once. */
static void
check_retried (const gchar * type, const gchar * message)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GList *msgs;

  stt_check_run_push (r, 0, 1.2, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 1.2));
  send_exception (type, message);
  stt_check_run_push (r, 1.2, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless (stt_test_server_get_n_connections (stt_fx.server) >= 2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_START_TEST (test_limit_exceeded)
{
  check_retried ("LimitExceededException", "You have reached your limit of concurrent "
      "streams.");
}

GST_END_TEST;

GST_START_TEST (test_no_new_audio)
{
  check_retried ("BadRequestException", "Your request timed out because no new audio "
      "was received for 15 seconds.");
}

GST_END_TEST;

/* A BadRequestException about the request: fatal, the service's words in the error. */
GST_START_TEST (test_bad_request)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  GstStructure *err;

  stt_check_run_push (r, 0, 0.6, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 0.6));
  send_exception ("BadRequestException", "A vocabulary named 'x' does not exist.");
  /* Nothing is pushed after the exception is sent: the failure it causes may already
   * refuse the next buffer. No retry: the session ended (stt_check_wait_fatal) after one
   * handshake. */
  err = stt_check_wait_fatal (r->bus, 10000);
  stt_check_error_says (err, GST_RESOURCE_ERROR_SETTINGS, "BadRequestException",
      "vocabulary", NULL);
  fail_unless_equals_int (stt_test_server_get_n_handshakes (stt_fx.server), 1);
  gst_structure_free (err);
  stt_check_run_free (r);
}

GST_END_TEST;

/* Frames that are no event-stream message, an unknown event and a transcript that is
 * not JSON are skipped; the stream goes on with every word. */
GST_START_TEST (test_malformed_skipped)
{
  SttCheckRun *r = stt_fx_run_tones (DURATION);
  const gchar *const unknown[] = { ":message-type", "event", ":event-type",
    "SomethingNew", NULL
  };
  const gchar *const transcript[] = { ":message-type", "event", ":event-type",
    "TranscriptEvent", ":content-type", "application/json", NULL
  };
  static const gchar junk[] = "\0\0\0\x1cnot an event stream!!!!";
  g_autoptr (GBytes) garbage = g_bytes_new_static (junk, sizeof (junk) - 1);
  g_autoptr (GBytes) other = stt_test_aws_encode_message (unknown, NULL, 0);
  g_autoptr (GBytes) notjson = stt_test_aws_encode_message (transcript,
      (const guint8 *) "{nope", 5);
  GList *msgs;

  stt_check_run_push (r, 0, 1.2, FALSE);
  fail_unless (stt_check_wait_server_audio (stt_fx.server, 0, 1.0));
  stt_test_server_send_binary (stt_fx.server, garbage);
  stt_test_server_send_binary (stt_fx.server, other);
  stt_test_server_send_binary (stt_fx.server, notjson);
  stt_test_server_send_text (stt_fx.server, "{\"text\":\"frame\"}");
  stt_check_run_push (r, 1.2, DURATION, FALSE);
  msgs = stt_check_run_finish (r, stt_fx_words, NULL);
  fail_unless_equals_int (stt_test_server_get_n_connections (stt_fx.server), 1);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  stt_check_run_free (r);
}

GST_END_TEST;

static Suite *
aws_suite (void)
{
  Suite *s = suite_create ("aws");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  stt_check_fixture_add (tc, "aws");
  tcase_add_test (tc, test_transcribe);
  tcase_add_test (tc, test_environment_and_token);
  tcase_add_test (tc, test_shared_file);
  tcase_add_test (tc, test_wrong_secret);
  tcase_add_test (tc, test_no_credentials);
  tcase_add_test (tc, test_settings_that_do_not_apply);
  tcase_add_test (tc, test_limit_exceeded);
  tcase_add_test (tc, test_no_new_audio);
  tcase_add_test (tc, test_bad_request);
  tcase_add_test (tc, test_malformed_skipped);
  return s;
}

GST_CHECK_MAIN (aws);
