/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-aws: Amazon Transcribe streaming over WebSocket
 * (wss://transcribestreaming.REGION.amazonaws.com:8443/stream-transcription-websocket).
 *
 * Facts: shared/providers.md section 9; awsdocs/amazon-transcribe-developer-guide
 * (streaming-websocket: the presigned URL, the frames, the end frame, "Handling WebSocket
 * streaming errors"; streaming-partial-results: Stable, ResultId, result times;
 * API_streaming_StartStreamTranscription: parameters, ranges, BadRequestException cases;
 * API_streaming_AudioEvent: at most 1 s of audio per chunk); @aws-sdk/middleware-websocket
 * 3.972 (WebsocketSignatureV4: only host signed, the x-amzn-transcribe-* headers as query
 * parameters, the signed envelope around every event with the chain seeded by the URL's
 * X-Amz-Signature, the empty end frame) and @smithy/signature-v4 (signEvent). The codec
 * and the signing live in stt-test-aws-codec.c. Choices where the service's behaviour is
 * not documented are listed in README.md.
 *
 * A segment is sent as partials (IsPartial true, every 250 ms of audio while it is open)
 * then one final, all with the segment's ResultId; the final ends with a full stop.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "stt-test-aws.h"
#include "stt-test-server-private.h"

#define PATH "/stream-transcription-websocket"
#define SERVICE "transcribe"
#define IDLE_TIMEOUT_MS 15000
/* The longest X-Amz-Expires the service takes for this URL (the SDK signs 60). */
#define MAX_EXPIRES 300
#define IDLE_MESSAGE "Your request timed out because no new audio was received for 15 " \
    "seconds."
#define SIGNATURE_MISMATCH "The request signature we calculated does not match the " \
    "signature you provided. Check your AWS Secret Access Key and signing method. " \
    "Consult the service documentation for details."
#define CONFIDENCE 0.9
/* Silence between two empty Results events while no segment is open (audio seconds). */
#define EMPTY_RESULTS_S 1.0
/* "the maximum audio length of 4 hours" (LimitExceededException). */
#define MAX_AUDIO_S (4 * 3600.0)
/* How far an event's :date may be from the server's clock. */
#define EVENT_SKEW_MS (5 * 60 * 1000)

typedef struct
{
  GMutex lock;
  gchar *signed_host;           /* under lock */
  /* Server thread only: session-id -> the Aws of the open connection using it. */
  GHashTable *sessions;
} AwsServer;

typedef struct
{
  AwsServer *server;
  SttTestConn *conn;            /* once open */
  gchar *request_id;
  gchar *session_id;
  gchar *secret;                /* the key at the handshake; NULL: no signature check */
  gchar *region;
  gchar *prior_signature;       /* the event chain */
  gboolean stabilize;
  gdouble stable_age;           /* a word this much older than the audio is Stable */
  gboolean speakers;
  gchar *language;              /* LanguageCode of results with language identification */
  gboolean audio_seen;
  gboolean ended;
  gdouble last_empty;           /* audio seconds of the last empty Results */
  gboolean segment_open;
  gchar *result_id;             /* of the open segment */
} Aws;

static gpointer
aws_server_new (void)
{
  AwsServer *as = g_new0 (AwsServer, 1);

  g_mutex_init (&as->lock);
  as->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return as;
}

static void
aws_server_free (gpointer data)
{
  AwsServer *as = data;

  g_mutex_clear (&as->lock);
  g_free (as->signed_host);
  g_hash_table_unref (as->sessions);
  g_free (as);
}

static void
aws_free (gpointer data)
{
  Aws *aws = data;

  if (aws->session_id != NULL &&
      g_hash_table_lookup (aws->server->sessions, aws->session_id) == aws)
    g_hash_table_remove (aws->server->sessions, aws->session_id);
  g_free (aws->request_id);
  g_free (aws->session_id);
  g_free (aws->secret);
  g_free (aws->region);
  g_free (aws->prior_signature);
  g_free (aws->language);
  g_free (aws->result_id);
  g_free (aws);
}

/* --- handshake ----------------------------------------------------------------------- */

static gboolean
parse_bool (GHashTable * query, const gchar * name, gboolean * value, gchar ** message)
{
  const gchar *v = g_hash_table_lookup (query, name);

  *value = FALSE;
  if (v == NULL || g_str_equal (v, "false"))
    return TRUE;
  if (g_str_equal (v, "true")) {
    *value = TRUE;
    return TRUE;
  }
  *message = g_strdup_printf ("1 validation error detected: Value '%s' at '%s' failed to "
      "satisfy constraint: Member must be true or false", v, name);
  return FALSE;
}

/* One of the NULL-terminated @values, or absent. */
static gboolean
check_enum (GHashTable * query, const gchar * name, const gchar * const *values,
    gchar ** message)
{
  const gchar *v = g_hash_table_lookup (query, name);
  g_autofree gchar *list = NULL;

  if (v == NULL || g_strv_contains (values, v))
    return TRUE;
  list = g_strjoinv (", ", (gchar **) values);
  *message = g_strdup_printf ("1 validation error detected: Value '%s' at '%s' failed to "
      "satisfy constraint: Member must satisfy enum value set: [%s]", v, name, list);
  return FALSE;
}

/* A name of a custom resource: ^[0-9a-zA-Z._-]+, 1 to 200 characters, or absent. */
static gboolean
check_name (GHashTable * query, const gchar * name, gchar ** message)
{
  const gchar *v = g_hash_table_lookup (query, name);
  const gchar *p;

  if (v == NULL)
    return TRUE;
  for (p = v; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
      break;
  if (*v != '\0' && *p == '\0' && strlen (v) <= 200)
    return TRUE;
  *message = g_strdup_printf ("1 validation error detected: Value '%s' at '%s' failed to "
      "satisfy constraint: Member must satisfy regular expression pattern: "
      "^[0-9a-zA-Z._-]+", v, name);
  return FALSE;
}

/* xx-XX (en-US, zh-CN, ...): the form of every code the service lists. */
static gboolean
is_language_code (const gchar * v)
{
  gsize len = strlen (v), i;

  if (len != 5 || v[2] != '-')
    return FALSE;
  for (i = 0; i < 2; i++)
    if (!g_ascii_islower (v[i]) || !g_ascii_isupper (v[3 + i]))
      return FALSE;
  return TRUE;
}

static gboolean
is_uuid (const gchar * v)
{
  gsize i;

  if (strlen (v) != 36)
    return FALSE;
  for (i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (v[i] != '-')
        return FALSE;
    } else if (!g_ascii_isxdigit (v[i])) {
      return FALSE;
    }
  }
  return TRUE;
}

/* The transcription parameters (the x-amzn-transcribe-* headers of the HTTP/2 API without
 * their prefix). Returns FALSE with *@message for a 400. */
static gboolean
check_params (GHashTable * query, Aws * aws, guint * rate, gchar ** message)
{
  static const gchar *const encodings[] = { "pcm", "ogg-opus", "flac", NULL };
  static const gchar *const stabilities[] = { "high", "medium", "low", NULL };
  static const gchar *const filter_methods[] = { "remove", "mask", "tag", NULL };
  const gchar *language = g_hash_table_lookup (query, "language-code");
  const gchar *options = g_hash_table_lookup (query, "language-options");
  const gchar *preferred = g_hash_table_lookup (query, "preferred-language");
  const gchar *encoding = g_hash_table_lookup (query, "media-encoding");
  const gchar *sample_rate = g_hash_table_lookup (query, "sample-rate");
  const gchar *session_id = g_hash_table_lookup (query, "session-id");
  const gchar *stability = g_hash_table_lookup (query, "partial-results-stability");
  gboolean identify, identify_multiple, channels, stabilize, speakers;
  guint64 r;

  if (!parse_bool (query, "identify-language", &identify, message) ||
      !parse_bool (query, "identify-multiple-languages", &identify_multiple, message) ||
      !parse_bool (query, "enable-channel-identification", &channels, message) ||
      !parse_bool (query, "enable-partial-results-stabilization", &stabilize, message) ||
      !parse_bool (query, "show-speaker-label", &speakers, message))
    return FALSE;

  if (identify || identify_multiple) {
    g_auto (GStrv) codes = NULL;
    guint i;

    if (language != NULL) {
      *message = g_strdup ("You can't include both LanguageCode and IdentifyLanguage or "
          "IdentifyMultipleLanguages in the same request.");
      return FALSE;
    }
    if (options == NULL || *options == '\0') {
      *message = g_strdup ("LanguageOptions is required with IdentifyLanguage or "
          "IdentifyMultipleLanguages.");
      return FALSE;
    }
    codes = g_strsplit (options, ",", -1);
    for (i = 0; codes[i] != NULL; i++) {
      if (!is_language_code (codes[i])) {
        *message = g_strdup_printf ("Invalid language code in LanguageOptions: '%s'.",
            codes[i]);
        return FALSE;
      }
    }
    if (preferred != NULL && !g_strv_contains ((const gchar * const *) codes, preferred)) {
      *message = g_strdup ("PreferredLanguage must be one of the LanguageOptions.");
      return FALSE;
    }
    aws->language = g_strdup (preferred != NULL ? preferred : codes[0]);
  } else if (language == NULL) {
    *message = g_strdup ("1 validation error detected: Value null at 'languageCode' failed "
        "to satisfy constraint: Member must not be null");
    return FALSE;
  } else if (!is_language_code (language)) {
    *message = g_strdup_printf ("1 validation error detected: Value '%s' at "
        "'languageCode' failed to satisfy constraint: Member must satisfy enum value set",
        language);
    return FALSE;
  }

  if (encoding == NULL) {
    *message = g_strdup ("1 validation error detected: Value null at 'mediaEncoding' "
        "failed to satisfy constraint: Member must not be null");
    return FALSE;
  }
  if (!check_enum (query, "media-encoding", encodings, message))
    return FALSE;
  if (!g_str_equal (encoding, "pcm")) {
    *message = g_strdup_printf ("This test server only decodes media-encoding=pcm, not "
        "'%s'.", encoding);
    return FALSE;
  }
  if (sample_rate == NULL ||
      !g_ascii_string_to_unsigned (sample_rate, 10, 8000, 48000, &r, NULL) ||
      (r > 8000 && r < 16000)) {
    *message = g_strdup_printf ("1 validation error detected: Value '%s' at "
        "'mediaSampleRateHertz' failed to satisfy constraint: Member must be 8000 or from "
        "16000 to 48000", sample_rate ? sample_rate : "null");
    return FALSE;
  }

  if (speakers && channels) {
    *message = g_strdup ("You can't set both ShowSpeakerLabel and "
        "EnableChannelIdentification in the same request.");
    return FALSE;
  }
  if (channels || g_hash_table_contains (query, "number-of-channels")) {
    *message = g_strdup ("This test server only decodes one channel: "
        "enable-channel-identification and number-of-channels are not supported.");
    return FALSE;
  }
  if (!check_enum (query, "partial-results-stability", stabilities, message) ||
      !check_enum (query, "vocabulary-filter-method", filter_methods, message) ||
      !check_name (query, "vocabulary-name", message) ||
      !check_name (query, "vocabulary-filter-name", message) ||
      !check_name (query, "language-model-name", message))
    return FALSE;
  if (session_id != NULL && !is_uuid (session_id)) {
    *message = g_strdup_printf ("1 validation error detected: Value '%s' at 'sessionId' "
        "failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}",
        session_id);
    return FALSE;
  }

  *rate = (guint) r;
  aws->stabilize = stabilize;
  if (stability == NULL || g_str_equal (stability, "medium"))
    aws->stable_age = 0.5;
  else if (g_str_equal (stability, "high"))
    aws->stable_age = 0.25;
  else
    aws->stable_age = 1.0;
  aws->speakers = speakers;
  aws->session_id = g_strdup (session_id);
  return TRUE;
}

static guint
aws_handshake (SoupServerMessage * msg, GHashTable * query, const gchar * api_key,
    SttTestAccept * accept, gchar ** message)
{
  AwsServer *as = accept->server_state;
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *request_id = g_uuid_string_random ();
  g_autofree gchar *signed_host = NULL;
  SttTestAwsAuth auth;
  Aws *aws;
  guint status, rate = 0;

  soup_message_headers_replace (response, "x-amzn-RequestId", request_id);

  g_mutex_lock (&as->lock);
  signed_host = g_strdup (as->signed_host);
  g_mutex_unlock (&as->lock);
  status = stt_test_aws_check_presigned ("GET", g_uri_get_path (uri), g_uri_get_query (uri),
      request, signed_host != NULL ? signed_host :
      soup_message_headers_get_one (request, "Host"), SERVICE, api_key, now, MAX_EXPIRES,
      &auth, message);
  if (status != 0) {
    soup_message_headers_replace (response, "x-amzn-ErrorType",
        g_str_has_prefix (*message, "Missing") ? "MissingAuthenticationTokenException" :
        "InvalidSignatureException");
    return status;
  }

  aws = g_new0 (Aws, 1);
  aws->server = as;
  if (!check_params (query, aws, &rate, message)) {
    aws_free (aws);
    stt_test_aws_auth_clear (&auth);
    soup_message_headers_replace (response, "x-amzn-ErrorType", "BadRequestException");
    return SOUP_STATUS_BAD_REQUEST;
  }
  aws->request_id = g_steal_pointer (&request_id);
  aws->secret = g_strdup (api_key);
  aws->region = g_steal_pointer (&auth.region);
  aws->prior_signature = g_steal_pointer (&auth.signature);
  stt_test_aws_auth_clear (&auth);
  if (aws->session_id == NULL)
    aws->session_id = g_uuid_string_random ();
  accept->rate = rate;
  accept->state = aws;
  return 0;
}

static const gchar *
error_type (guint status)
{
  switch (status) {
    case SOUP_STATUS_BAD_REQUEST:
      return "BadRequestException";
    case SOUP_STATUS_FORBIDDEN:
      return "InvalidSignatureException";
    case SOUP_STATUS_CONFLICT:
      return "ConflictException";
    case 429:
      return "LimitExceededException";
    case SOUP_STATUS_SERVICE_UNAVAILABLE:
      return "ServiceUnavailableException";
    default:
      return "InternalFailureException";
  }
}

/* A JSON body, and the error type in x-amzn-ErrorType. Authentication refusals say
 * "message", the service's own "Message". */
static void
aws_refuse (SoupServerMessage * msg, guint status, const gchar * message)
{
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  SttTestJson *json = stt_test_json_new ();
  gchar *body;

  if (soup_message_headers_get_one (response, "x-amzn-RequestId") == NULL) {
    g_autofree gchar *request_id = g_uuid_string_random ();

    soup_message_headers_replace (response, "x-amzn-RequestId", request_id);
  }
  if (soup_message_headers_get_one (response, "x-amzn-ErrorType") == NULL)
    soup_message_headers_replace (response, "x-amzn-ErrorType", error_type (status));

  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, status == SOUP_STATUS_FORBIDDEN ? "message" : "Message",
      message);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
      strlen (body));
}

/* --- messages ------------------------------------------------------------------------ */

static gdouble
ms (gdouble seconds)
{
  return round (seconds * 1000.0) / 1000.0;
}

/* An exception, then the close: "After sending the exception response, Amazon Transcribe
 * sends a close frame." */
static void
send_exception (SttTestConn * conn, const gchar * type, const gchar * text)
{
  const gchar *headers[] = {
    ":content-type", "application/json",
    ":exception-type", type,
    ":message-type", "exception",
    NULL
  };
  SttTestJson *json = stt_test_json_new ();
  g_autofree gchar *body = NULL;
  g_autoptr (GBytes) message = NULL;

  g_debug ("connection %u: %s: %s", stt_test_conn_get_index (conn), type, text);
  stt_test_json_begin_object (json, NULL);
  stt_test_json_add_string (json, "Message", text);
  stt_test_json_end_object (json);
  body = stt_test_json_free_to_string (json);
  message = stt_test_aws_encode_message (headers, (const guint8 *) body, strlen (body));
  stt_test_conn_send_binary (conn, message);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
send_transcript_event (SttTestConn * conn, SttTestJson * json)
{
  static const gchar *const headers[] = {
    ":content-type", "application/json",
    ":event-type", "TranscriptEvent",
    ":message-type", "event",
    NULL
  };
  g_autofree gchar *body = stt_test_json_free_to_string (json);
  g_autoptr (GBytes) message = stt_test_aws_encode_message (headers,
      (const guint8 *) body, strlen (body));

  stt_test_conn_send_binary (conn, message);
}

/* {"Transcript":{"Results":[]}}, as the service sends while nothing is heard. */
static void
send_empty_results (SttTestConn * conn)
{
  Aws *aws = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();

  aws->last_empty = stt_test_conn_get_audio_seconds (conn);
  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_object (json, "Transcript");
  stt_test_json_begin_array (json, "Results");
  stt_test_json_end_array (json);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  send_transcript_event (conn, json);
}

/* One item; members in the service's (alphabetical) order. */
static void
add_item (SttTestJson * json, Aws * aws, const gchar * content, gdouble start,
    gdouble end, gboolean word, gboolean is_final, gboolean stable)
{
  stt_test_json_begin_object (json, NULL);
  /* "Each word within a complete segment has an associated confidence score." */
  if (word && is_final)
    stt_test_json_add_double (json, "Confidence", CONFIDENCE);
  stt_test_json_add_string (json, "Content", content);
  stt_test_json_add_double (json, "EndTime", ms (end));
  if (word && aws->speakers)
    stt_test_json_add_string (json, "Speaker", "0");
  if (aws->stabilize)
    stt_test_json_add_boolean (json, "Stable", stable);
  stt_test_json_add_double (json, "StartTime", ms (start));
  stt_test_json_add_string (json, "Type", word ? "pronunciation" : "punctuation");
  stt_test_json_add_boolean (json, "VocabularyFilterMatch", FALSE);
  stt_test_json_end_object (json);
}

/* A partial or the final of the open segment: its words (a full stop after the last in
 * the final), StartTime the first word's start, EndTime the audio position. */
static void
send_result (SttTestConn * conn, const SttTestAnalyzerResult * r, gboolean is_final)
{
  Aws *aws = stt_test_conn_get_state (conn);
  SttTestJson *json = stt_test_json_new ();
  GString *transcript = g_string_new (NULL);
  gdouble last_end = r->words[r->n_words - 1].end;
  guint i;

  if (aws->result_id == NULL)
    aws->result_id = g_uuid_string_random ();
  for (i = 0; i < r->n_words; i++)
    g_string_append_printf (transcript, "%s%s", i > 0 ? " " : "", r->words[i].text);
  if (is_final)
    g_string_append_c (transcript, '.');

  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_object (json, "Transcript");
  stt_test_json_begin_array (json, "Results");
  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_array (json, "Alternatives");
  stt_test_json_begin_object (json, NULL);
  stt_test_json_begin_array (json, "Items");
  for (i = 0; i < r->n_words; i++) {
    const SttTestWord *w = &r->words[i];

    add_item (json, aws, w->text, w->start, w->end, TRUE, is_final,
        is_final || w->end <= r->end - aws->stable_age + 1e-9);
  }
  if (is_final)
    add_item (json, aws, ".", last_end, last_end, FALSE, TRUE, TRUE);
  stt_test_json_end_array (json);
  stt_test_json_add_string (json, "Transcript", transcript->str);
  stt_test_json_end_object (json);
  stt_test_json_end_array (json);
  stt_test_json_add_double (json, "EndTime", ms (r->end));
  stt_test_json_add_boolean (json, "IsPartial", !is_final);
  if (aws->language != NULL)
    stt_test_json_add_string (json, "LanguageCode", aws->language);
  stt_test_json_add_string (json, "ResultId", aws->result_id);
  stt_test_json_add_double (json, "StartTime", ms (r->words[0].start));
  stt_test_json_end_object (json);
  stt_test_json_end_array (json);
  stt_test_json_end_object (json);
  stt_test_json_end_object (json);
  g_string_free (transcript, TRUE);
  send_transcript_event (conn, json);
}

/* The end of the audio: every word heard becomes final, then close 1000. */
static void
end_of_stream (SttTestConn * conn)
{
  Aws *aws = stt_test_conn_get_state (conn);

  if (stt_test_conn_end_received (conn))
    return;
  aws->ended = TRUE;
  stt_test_conn_finalize (conn);
  stt_test_conn_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* An AudioEvent, plain or out of a signed envelope. */
static void
handle_event (SttTestConn * conn, const SttTestAwsMessage * m)
{
  Aws *aws = stt_test_conn_get_state (conn);
  g_autofree gchar *message_type = stt_test_aws_message_dup_string (m, ":message-type");
  g_autofree gchar *event_type = stt_test_aws_message_dup_string (m, ":event-type");
  g_autofree gchar *content_type = stt_test_aws_message_dup_string (m, ":content-type");
  g_autofree gchar *text = NULL;

  if (g_strcmp0 (message_type, "event") != 0) {
    text = g_strdup_printf ("Expected a :message-type header 'event', got '%s'.",
        message_type ? message_type : "(none)");
    send_exception (conn, "BadRequestException", text);
    return;
  }
  if (g_strcmp0 (event_type, "AudioEvent") != 0) {
    text = g_strdup_printf ("Expected an :event-type header 'AudioEvent', got '%s'.",
        event_type ? event_type : "(none)");
    send_exception (conn, "BadRequestException", text);
    return;
  }
  if (content_type != NULL && !g_str_equal (content_type, "application/octet-stream")) {
    text = g_strdup_printf ("Expected a :content-type header "
        "'application/octet-stream', got '%s'.", content_type);
    send_exception (conn, "BadRequestException", text);
    return;
  }
  if (aws->ended) {
    send_exception (conn, "BadRequestException", "Audio was received after the end of "
        "the stream.");
    return;
  }
  if (m->payload_len == 0) {
    end_of_stream (conn);
    return;
  }
  if (m->payload_len > 2 * stt_test_conn_get_rate (conn)) {
    text = g_strdup_printf ("An audio chunk holds at most 1 second of audio "
        "(%u bytes at %u Hz), not %" G_GSIZE_FORMAT " bytes.",
        2 * stt_test_conn_get_rate (conn), stt_test_conn_get_rate (conn), m->payload_len);
    send_exception (conn, "BadRequestException", text);
    return;
  }

  if (!aws->audio_seen) {
    aws->audio_seen = TRUE;
    send_empty_results (conn);
  }
  if (!stt_test_conn_push_audio (conn, m->payload, m->payload_len))
    return;
  if (stt_test_conn_get_audio_seconds (conn) > MAX_AUDIO_S) {
    send_exception (conn, "LimitExceededException", "You have reached the maximum audio "
        "length of 4 hours for a stream.");
    return;
  }
  if (!aws->segment_open &&
      stt_test_conn_get_audio_seconds (conn) - aws->last_empty >= EMPTY_RESULTS_S - 1e-9)
    send_empty_results (conn);
}

/* The SDK's form: :date and :chunk-signature around the encoded event (nothing at the
 * end), signed on from the previous signature. */
static void
handle_envelope (SttTestConn * conn, const SttTestAwsMessage * m)
{
  Aws *aws = stt_test_conn_get_state (conn);
  const SttTestAwsHeader *date = stt_test_aws_message_get_header (m, ":date");
  const SttTestAwsHeader *sig = stt_test_aws_message_get_header (m, ":chunk-signature");
  g_autoptr (GByteArray) signed_headers = g_byte_array_new ();
  g_autoptr (SttTestAwsMessage) inner = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *expected = NULL, *received = NULL, *text = NULL;
  gint64 date_ms = 0;
  guint i;

  if (date == NULL || date->type != STT_TEST_AWS_HEADER_TIMESTAMP ||
      sig->type != STT_TEST_AWS_HEADER_BYTES || sig->value_len != 32) {
    send_exception (conn, "BadRequestException", "A signed event needs a :date timestamp "
        "header and a 32-byte :chunk-signature header.");
    return;
  }
  for (i = 0; i < 8; i++)
    date_ms = (date_ms << 8) | date->value[i];
  received = g_malloc (65);
  for (i = 0; i < 32; i++)
    g_snprintf (received + 2 * i, 3, "%02x", sig->value[i]);

  if (aws->secret != NULL) {
    /* Every header but the signature, as received. */
    for (i = 0; i < m->headers->len; i++) {
      const SttTestAwsHeader *h = &g_array_index (m->headers, SttTestAwsHeader, i);

      if (h != sig)
        g_byte_array_append (signed_headers, h->raw, h->raw_len);
    }
    if (ABS (g_get_real_time () / 1000 - date_ms) > EVENT_SKEW_MS) {
      send_exception (conn, "BadRequestException", "Signature expired: the :date of the "
          "event is more than 5 minutes away from the server's time.");
      return;
    }
    expected = stt_test_aws_event_signature (aws->secret, aws->region, SERVICE, date_ms,
        aws->prior_signature, signed_headers->data, signed_headers->len, m->payload,
        m->payload_len);
    if (!g_str_equal (expected, received)) {
      send_exception (conn, "BadRequestException", SIGNATURE_MISMATCH);
      return;
    }
  }
  g_free (aws->prior_signature);
  aws->prior_signature = g_steal_pointer (&received);

  if (m->payload_len == 0) {
    if (aws->ended)
      send_exception (conn, "BadRequestException", "A second end frame was received.");
    else
      end_of_stream (conn);
    return;
  }
  inner = stt_test_aws_message_decode (m->payload, m->payload_len, &error);
  if (inner == NULL) {
    text = g_strdup_printf ("Could not decode the signed event: %s", error->message);
    send_exception (conn, "BadRequestException", text);
    return;
  }
  handle_event (conn, inner);
}

/* --- hooks --------------------------------------------------------------------------- */

static void
aws_on_open (SttTestConn * conn)
{
  Aws *aws = stt_test_conn_get_state (conn);
  Aws *other;

  aws->conn = conn;
  /* "A new stream started with the same session ID. The current stream has been
   * terminated." */
  other = g_hash_table_lookup (aws->server->sessions, aws->session_id);
  if (other != NULL && other->conn != NULL)
    send_exception (other->conn, "ConflictException", "A new stream started with the "
        "same session ID. The current stream has been terminated.");
  g_hash_table_replace (aws->server->sessions, g_strdup (aws->session_id), aws);
}

static void
aws_on_binary (SttTestConn * conn, const guint8 * data, gsize size)
{
  g_autoptr (SttTestAwsMessage) m = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;

  m = stt_test_aws_message_decode (data, size, &error);
  if (m == NULL) {
    text = g_strdup_printf ("Could not decode the event stream message: %s",
        error->message);
    send_exception (conn, "BadRequestException", text);
    return;
  }
  if (stt_test_aws_message_get_header (m, ":chunk-signature") != NULL)
    handle_envelope (conn, m);
  else
    handle_event (conn, m);
}

static void
aws_on_text (SttTestConn * conn, const gchar * text)
{
  send_exception (conn, "BadRequestException", "Text frames are not supported: send "
      "event stream encoded messages in binary frames.");
}

static void
aws_on_result (SttTestConn * conn, const SttTestAnalyzerResult * r)
{
  Aws *aws = stt_test_conn_get_state (conn);

  switch (r->event) {
    case STT_TEST_ANALYZER_SPEECH_STARTED:
      aws->segment_open = TRUE;
      break;
    case STT_TEST_ANALYZER_PARTIAL:
      if (r->n_words > 0)
        send_result (conn, r, FALSE);
      break;
    case STT_TEST_ANALYZER_FINAL:
      /* Nothing open (an end with silence before it): no result. */
      if (r->n_words > 0)
        send_result (conn, r, TRUE);
      aws->segment_open = FALSE;
      g_clear_pointer (&aws->result_id, g_free);
      aws->last_empty = r->end;
      break;
  }
}

static void
aws_on_idle (SttTestConn * conn)
{
  send_exception (conn, "BadRequestException", IDLE_MESSAGE);
}

const SttTestProtocol stt_test_protocol_aws = {
  .name = "aws",
  .path = PATH,
  .subprotocols = NULL,
  .default_idle_timeout_ms = IDLE_TIMEOUT_MS,
  .handshake = aws_handshake,
  .refuse = aws_refuse,
  .on_open = aws_on_open,
  .on_binary = aws_on_binary,
  .on_text = aws_on_text,
  .on_result = aws_on_result,
  .on_idle = aws_on_idle,
  .on_tick = NULL,
  .free_state = aws_free,
  .new_server_state = aws_server_new,
  .free_server_state = aws_server_free,
  .send_harmless = send_empty_results,
};

/* --- test API ------------------------------------------------------------------------ */

void
stt_test_aws_set_signed_host (SttTestServer * server, const gchar * host)
{
  AwsServer *as;

  g_return_if_fail (stt_test_server_get_protocol (server) == &stt_test_protocol_aws);
  as = stt_test_server_get_protocol_state (server);
  g_mutex_lock (&as->lock);
  g_free (as->signed_host);
  as->signed_host = g_strdup (host);
  g_mutex_unlock (&as->lock);
}

gchar *
stt_test_aws_get_access_key_id (SttTestServer * server, guint index)
{
  g_autofree gchar *credential = stt_test_server_get_query (server, index,
      "X-Amz-Credential");
  const gchar *slash;

  if (credential == NULL)
    return NULL;
  slash = strchr (credential, '/');
  return slash ? g_strndup (credential, slash - credential) : g_strdup (credential);
}
