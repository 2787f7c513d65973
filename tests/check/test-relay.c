/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed tokens for a self-hosted relay (token-secret): a relay in front of Deepgram that
 * verifies every token itself (GLib's GHmac, not the element's OpenSSL path), in the
 * Authorization header or in the URL where the url template puts {token}. Every attempt
 * brings a freshly minted token with the claims asked for, iat now and exp = iat +
 * token-lifetime; a refused token (4001, 1008) gets one fresh token and one retry, then
 * RESOURCE/NOT_AUTHORIZED; a 401 at the handshake is fatal at once. Neither the secret nor
 * a token shows in the debug log (every category at level 6) or on the bus. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "stt-check-utils.h"

#define SECRET "relay-SECRET-4f2a9c"
#define LIFETIME 120
#define RATE 16000
#define DURATION 1.5
/* The relay drops a connection (1011) once it has this much audio. */
#define DROP_AFTER_BYTES (RATE * 2 / 2)

static const SttTone tones[] = { {0.3, 0.6, 440}, {0.9, 1.2, 700} };

/* --- tokens, checked as a relay would ---------------------------------------------------- */

/* NULL when @token is an HS256 JWT signed with SECRET carrying the test's claims, iat
 * between @not_before and now, exp = iat + LIFETIME and a jti; else what is wrong. Sets
 * @iat and @jti. */
static gchar *
verify_token (const gchar * token, gint64 not_before, gint64 * iat, gchar ** jti)
{
  gchar *why = NULL;
  g_autoptr (JsonObject) p = stt_check_jwt_verify (token, SECRET, &why);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  *iat = 0;
  *jti = NULL;
  if (p == NULL)
    return why;
  if (g_strcmp0 (json_object_get_string_member_with_default (p, "sub", ""), "camera-7")
      || g_strcmp0 (json_object_get_string_member_with_default (p, "aud", ""), "relay-eu")
      || json_object_get_int_member_with_default (p, "tier", 0) != 3
      || json_object_get_double_member_with_default (p, "ratio", 0) != 0.25
      || !json_object_get_boolean_member_with_default (p, "live", FALSE))
    return g_strdup ("claims differ");
  *iat = json_object_get_int_member_with_default (p, "iat", 0);
  if (*iat < not_before || *iat > now)
    return g_strdup_printf ("iat %" G_GINT64_FORMAT " outside [%" G_GINT64_FORMAT ", %"
        G_GINT64_FORMAT "]", *iat, not_before, now);
  if (json_object_get_int_member_with_default (p, "exp", 0) != *iat + LIFETIME)
    return g_strdup ("exp is not iat + token-lifetime");
  if (*json_object_get_string_member_with_default (p, "jti", "") == '\0')
    return g_strdup ("no jti");
  *jti = g_strdup (json_object_get_string_member (p, "jti"));
  return NULL;
}

/* --- the relay ------------------------------------------------------------------------- */

typedef struct
{
  GMutex lock;
  /* Set up by the test before the run. */
  gboolean in_query;            /* the token is the query's "access", not the header */
  gushort refuse_code;          /* close every connection with it at once (0: none) */
  guint refuse_status;          /* answer every handshake with it (0: none) */
  gboolean drop_first;          /* close the first connection (1011) after some audio */
  gchar *rotate_file;           /* a refused token makes the test write SECRET there */
  gint64 not_before;
  /* What happened, one entry per handshake. */
  GPtrArray *tokens;            /* gchar* */
  GPtrArray *verdicts;          /* gchar*, NULL = valid */
  GPtrArray *jtis;              /* gchar* */
  GArray *iats;                 /* gint64 */
  GPtrArray *conns;             /* RelayConn* of the accepted ones */
} Relay;

typedef struct
{
  Relay *relay;
  SoupWebsocketConnection *conn;
  guint index;                  /* handshake index */
  gboolean valid;
  GByteArray *audio;            /* under relay->lock */
  gboolean dropped;
} RelayConn;

static void
relay_conn_free (RelayConn * c)
{
  g_signal_handlers_disconnect_by_data (c->conn, c);
  g_object_unref (c->conn);
  g_byte_array_unref (c->audio);
  g_free (c);
}

static Relay *
relay_new (void)
{
  Relay *r = g_new0 (Relay, 1);

  g_mutex_init (&r->lock);
  r->tokens = g_ptr_array_new_with_free_func (g_free);
  r->verdicts = g_ptr_array_new_with_free_func (g_free);
  r->jtis = g_ptr_array_new_with_free_func (g_free);
  r->iats = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_conn_free);
  r->not_before = g_get_real_time () / G_USEC_PER_SEC;
  return r;
}

/* Call once the server thread is gone. */
static void
relay_free (Relay * r)
{
  g_ptr_array_unref (r->tokens);
  g_ptr_array_unref (r->verdicts);
  g_ptr_array_unref (r->jtis);
  g_array_unref (r->iats);
  g_ptr_array_unref (r->conns);
  g_free (r->rotate_file);
  g_mutex_clear (&r->lock);
  g_free (r);
}

/* Every handshake, before the upgrade: the token checked and recorded; a refusal at the
 * HTTP level stops the upgrade. */
static void
on_handshake (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  Relay *r = data;
  SoupMessageHeaders *hdrs = soup_server_message_get_request_headers (msg);
  const gchar *auth = soup_message_headers_get_one (hdrs, "Authorization");
  g_autoptr (GHashTable) params = NULL;
  gchar *token = NULL, *verdict, *jti;
  const gchar *q = g_uri_get_query (soup_server_message_get_uri (msg));
  gint64 iat;
  guint index;

  if (r->in_query) {
    params = q ? g_uri_parse_params (q, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
    token = g_strdup (params ? g_hash_table_lookup (params, "access") : NULL);
  } else if (auth && g_str_has_prefix (auth, "Bearer ")) {
    token = g_strdup (auth + 7);
  }
  verdict = token ? verify_token (token, r->not_before, &iat, &jti) :
      g_strdup ("no token where expected");
  if (token == NULL) {
    iat = 0;
    jti = NULL;
  }
  g_mutex_lock (&r->lock);
  index = r->tokens->len;
  g_ptr_array_add (r->tokens, token ? token : g_strdup (""));
  g_ptr_array_add (r->verdicts, verdict);
  g_ptr_array_add (r->jtis, jti);
  g_array_append_val (r->iats, iat);
  if (verdict && r->rotate_file)
    g_file_set_contents (r->rotate_file, SECRET "\n", -1, NULL);
  g_mutex_unlock (&r->lock);
  g_object_set_data (G_OBJECT (msg), "relay-index", GUINT_TO_POINTER (index + 1));
  g_object_set_data (G_OBJECT (msg), "relay-valid", GINT_TO_POINTER (verdict == NULL));
  if (r->refuse_status)
    soup_server_message_set_status (msg, r->refuse_status, NULL);
}

static void
send_text (SoupWebsocketConnection * conn, const gchar * text)
{
  if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (conn, text);
}

/* Enough of Deepgram for a clean end of stream: audio taken, CloseStream answered with one
 * final, Metadata, and a normal close. */
static void
on_relay_message (SoupWebsocketConnection * conn, gint type, GBytes * message,
    gpointer data)
{
  RelayConn *c = data;
  Relay *r = c->relay;
  gsize len;
  const gchar *p = g_bytes_get_data (message, &len);
  gboolean drop;

  if (type == SOUP_WEBSOCKET_DATA_BINARY) {
    g_mutex_lock (&r->lock);
    g_byte_array_append (c->audio, (const guint8 *) p, len);
    drop = r->drop_first && c->index == 0 && !c->dropped
        && c->audio->len >= DROP_AFTER_BYTES;
    if (drop)
      c->dropped = TRUE;
    g_mutex_unlock (&r->lock);
    if (drop)
      soup_websocket_connection_close (conn, 1011, "relay restarting");
    return;
  }
  if (len && g_strstr_len (p, len, "CloseStream")) {
    gdouble seconds;

    g_mutex_lock (&r->lock);
    seconds = c->audio->len / 2.0 / RATE;
    g_mutex_unlock (&r->lock);
    {
      g_autofree gchar *results = g_strdup_printf ("{\"type\":\"Results\",\"is_final\":true,"
          "\"start\":0,\"duration\":%.3f,\"channel\":{\"alternatives\":[{\"transcript\":"
          "\"relay ok\",\"confidence\":0.9,\"words\":[{\"word\":\"relay\",\"start\":0.3,"
          "\"end\":0.6,\"confidence\":0.9},{\"word\":\"ok\",\"start\":0.9,\"end\":1.2,"
          "\"confidence\":0.9}]}]}}", seconds);

      send_text (conn, results);
    }
    send_text (conn, "{\"type\":\"Metadata\",\"request_id\":\"relay\"}");
    if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
}

static void
on_relay_ws (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * conn, gpointer data)
{
  Relay *r = data;
  RelayConn *c = g_new0 (RelayConn, 1);
  gushort refuse;

  c->relay = r;
  c->conn = g_object_ref (conn);
  c->index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (msg), "relay-index")) - 1;
  c->valid = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (msg), "relay-valid"));
  c->audio = g_byte_array_new ();
  g_signal_connect (conn, "message", G_CALLBACK (on_relay_message), c);
  g_mutex_lock (&r->lock);
  g_ptr_array_add (r->conns, c);
  refuse = r->refuse_code;
  g_mutex_unlock (&r->lock);
  /* As relays do: the upgrade is accepted, the token judged, a refusal is a close. */
  if (refuse || !c->valid)
    soup_websocket_connection_close (conn, refuse ? refuse : 4001, "token refused");
}

static void
relay_setup (gpointer soup, gpointer data)
{
  soup_server_add_early_handler (soup, "/v1/listen", on_handshake, data, NULL);
  soup_server_add_websocket_handler (soup, "/v1/listen", NULL, NULL, on_relay_ws, data,
      NULL);
}

/* --- runs ------------------------------------------------------------------------------ */

typedef struct
{
  Relay *relay;
  SttCheckSoup *soup;
  GstHarness *h;
  GstBus *bus;
  GBytes *input;
  GString *posted;              /* every bus message, as text */
  GstStructure *error;          /* the error's details plus message, domain, code */
  gboolean eos;
  GString *text;                /* the text buffers' contents */
  GString *finals;              /* the stt-transcript finals' text */
  GString *connecting;          /* the reasons of the connecting stt-connection */
} Run;

static Run *
run_new (Relay * relay, const gchar * url_template, const gchar * secret_file)
{
  Run *r = g_new0 (Run, 1);
  g_autofree gchar *base = NULL;
  g_autofree gchar *url = NULL;
  GstStructure *claims = gst_structure_new ("claims", "sub", G_TYPE_STRING, "camera-7",
      "aud", G_TYPE_STRING, "relay-eu", "tier", G_TYPE_INT, 3, "ratio", G_TYPE_DOUBLE,
      0.25, "live", G_TYPE_BOOLEAN, TRUE, NULL);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1, DURATION, tones,
      G_N_ELEMENTS (tones), 0);
  GstMapInfo map;

  stt_check_log_capture_start ("*:6", TRUE);
  r->relay = relay;
  r->soup = stt_check_soup_new (NULL, relay_setup, relay);
  base = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen", stt_check_soup_get_port (r->soup));
  url = url_template ? g_strconcat (base, url_template, NULL) : g_strdup (base);
  r->posted = g_string_new (NULL);
  r->text = g_string_new (NULL);
  r->finals = g_string_new (NULL);
  r->connecting = g_string_new (NULL);
  gst_buffer_map (all, &map, GST_MAP_READ);
  r->input = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (all, &map);
  gst_buffer_unref (all);

  r->h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  r->bus = gst_bus_new ();
  gst_element_set_bus (r->h->element, r->bus);
  g_object_set (r->h->element, "provider", "deepgram", "url", url, "token-claims", claims,
      "token-lifetime", LIFETIME, "latency", (guint) 60000, "drain-timeout",
      5 * GST_SECOND, "outage-timeout", 20 * GST_SECOND, NULL);
  if (secret_file)
    g_object_set (r->h->element, "token-secret-file", secret_file, NULL);
  else
    g_object_set (r->h->element, "token-secret", SECRET, NULL);
  gst_structure_free (claims);
  gst_harness_set_src_caps (r->h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, RATE, 1));
  return r;
}

static void
post_error (Run * r, GstMessage * msg)
{
  GError *err = NULL;
  gchar *dbg = NULL;
  const GstStructure *details = NULL;

  gst_message_parse_error (msg, &err, &dbg);
  gst_message_parse_error_details (msg, &details);
  g_string_append_printf (r->posted, "error: %s (%s)\n", err->message, dbg ? dbg : "");
  if (r->error == NULL) {
    r->error = details ? gst_structure_copy (details) : gst_structure_new_empty ("details");
    gst_structure_set (r->error, "message", G_TYPE_STRING, err->message, "domain",
        G_TYPE_UINT, err->domain, "code", G_TYPE_INT, err->code, NULL);
  }
  g_error_free (err);
  g_free (dbg);
}

/* Pushes the audio and EOS (the drain, or the failure, ends that wait: the session bounds
 * it), then takes what came out: bus messages, text, EOS. */
static void
run_stream (Run * r)
{
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1, DURATION, tones,
      G_N_ELEMENTS (tones), 0);
  GList *bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, RATE, 1, 20), *l;
  GstFlowReturn ret = GST_FLOW_OK;
  gint64 deadline;
  GstMessage *msg;
  GstBuffer *buf;
  GstEvent *ev;

  for (l = bufs; l && ret == GST_FLOW_OK; l = l->next)
    ret = gst_harness_push (r->h, gst_buffer_ref (l->data));
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  gst_buffer_unref (all);
  if (ret == GST_FLOW_OK)
    gst_harness_push_event (r->h, gst_event_new_eos ());

  /* The messages posted so far, and any still on the way (bounded). */
  deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while ((msg = gst_bus_timed_pop_filtered (r->bus, MAX (deadline -
                  g_get_monotonic_time (), 0) * GST_USECOND, GST_MESSAGE_ANY)) != NULL) {
    const GstStructure *s = gst_message_get_structure (msg);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      post_error (r, msg);
    } else if (s) {
      gchar *str = gst_structure_to_string (s);
      gboolean is_final = FALSE;

      /* JWTs and the secret have no character GStreamer escapes. */
      g_string_append_printf (r->posted, "%s\n", str);
      g_free (str);
      if (gst_structure_has_name (s, "stt-transcript")
          && gst_structure_get_boolean (s, "is-final", &is_final) && is_final)
        g_string_append_printf (r->finals, "%s\n", gst_structure_get_string (s, "text"));
      if (gst_structure_has_name (s, "stt-connection")
          && !g_strcmp0 (gst_structure_get_string (s, "state"), "connecting"))
        g_string_append_printf (r->connecting, "%s\n", gst_structure_get_string (s,
                "reason"));
    }
    gst_message_unref (msg);
  }
  while ((buf = gst_harness_try_pull (r->h)) != NULL) {
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_READ);
    g_string_append_len (r->text, (const gchar *) map.data, map.size);
    g_string_append_c (r->text, ' ');
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  while ((ev = gst_harness_try_pull_event (r->h)) != NULL) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS)
      r->eos = TRUE;
    gst_event_unref (ev);
  }
}

/* The element posted the stt-connection state "failed" once: the session's final state.
 * It tears down the connection and cancels the retry timer before it posts it and
 * starts no attempt after it (gststtsession.c, session_fail), so the tokens the relay
 * has seen by the time the error was read are all it will ever see. */
static void
assert_failed (Run * r)
{
  g_auto (GStrv) lines = g_strsplit (r->posted->str, "\n", -1);
  guint i, failed = 0;

  for (i = 0; lines[i]; i++)
    failed += g_str_has_prefix (lines[i], "stt-connection,")
        && strstr (lines[i], "state=(string)failed") != NULL;
  fail_unless_equals_int (failed, 1);
}

/* Neither the secret nor any token the relay saw (nor its signature part) shows in the
 * debug log or in a bus message. */
static void
assert_clean (Run * r)
{
  const GString *logged = stt_check_log_lock ();
  guint i;

  fail_unless (logged->len > 10000, "the debug log is suspiciously short");
  fail_unless (strstr (logged->str, SECRET) == NULL, "the secret shows in the log");
  fail_unless (strstr (r->posted->str, SECRET) == NULL, "the secret shows on the bus");
  g_mutex_lock (&r->relay->lock);
  fail_unless (r->relay->tokens->len > 0);
  for (i = 0; i < r->relay->tokens->len; i++) {
    const gchar *token = g_ptr_array_index (r->relay->tokens, i);
    const gchar *sig = strrchr (token, '.');

    fail_unless (sig != NULL && strlen (sig) > 20, "token %u is no JWT", i);
    fail_unless (strstr (logged->str, token) == NULL, "token %u shows in the log", i);
    fail_unless (strstr (logged->str, sig + 1) == NULL, "token %u's signature shows in "
        "the log", i);
    fail_unless (strstr (r->posted->str, token) == NULL, "token %u shows on the bus", i);
    fail_unless (strstr (r->posted->str, sig + 1) == NULL, "token %u's signature shows "
        "on the bus", i);
  }
  g_mutex_unlock (&r->relay->lock);
  stt_check_log_unlock ();
}

/* Every handshake carried a valid token of its own: none alike, no jti twice. */
static void
assert_fresh_tokens (Relay * relay, guint n)
{
  guint i, j;

  g_mutex_lock (&relay->lock);
  fail_unless_equals_int (relay->tokens->len, n);
  for (i = 0; i < n; i++) {
    const gchar *verdict = g_ptr_array_index (relay->verdicts, i);

    fail_unless (verdict == NULL, "token %u: %s", i, verdict);
    for (j = 0; j < i; j++) {
      fail_if (g_str_equal (g_ptr_array_index (relay->tokens, i),
              g_ptr_array_index (relay->tokens, j)), "tokens %u and %u are alike", j, i);
      fail_if (g_str_equal (g_ptr_array_index (relay->jtis, i),
              g_ptr_array_index (relay->jtis, j)), "jti %u and %u are alike", j, i);
    }
  }
  g_mutex_unlock (&relay->lock);
}

static void
run_free (Run * r)
{
  gst_element_set_bus (r->h->element, NULL);
  gst_bus_set_flushing (r->bus, TRUE);
  gst_object_unref (r->bus);
  gst_harness_teardown (r->h);
  stt_check_soup_free (r->soup);
  relay_free (r->relay);
  g_bytes_unref (r->input);
  g_string_free (r->posted, TRUE);
  g_string_free (r->text, TRUE);
  g_string_free (r->finals, TRUE);
  g_string_free (r->connecting, TRUE);
  if (r->error)
    gst_structure_free (r->error);
  g_free (r);
  stt_check_log_capture_stop ();
}

/* The audio connection @index received is the whole input: nothing lost in the retry. */
static void
assert_audio_whole (Run * r, guint index)
{
  RelayConn *c = NULL;
  guint i;

  g_mutex_lock (&r->relay->lock);
  for (i = 0; i < r->relay->conns->len; i++) {
    RelayConn *ci = g_ptr_array_index (r->relay->conns, i);
    if (ci->index == index)
      c = ci;
  }
  fail_unless (c != NULL, "no connection %u", index);
  fail_unless_equals_int (c->audio->len, g_bytes_get_size (r->input));
  fail_unless (memcmp (c->audio->data, g_bytes_get_data (r->input, NULL),
          c->audio->len) == 0, "connection %u heard other audio", index);
  g_mutex_unlock (&r->relay->lock);
}

/* A clean run: a final, its text out, EOS, no error, nothing leaked. */
static void
assert_clean_eos (Run * r)
{
  fail_unless (r->error == NULL, "error: %" GST_PTR_FORMAT, r->error);
  fail_unless_equals_string (r->finals->str, "relay ok\n");
  fail_unless (strstr (r->text->str, "relay ok") != NULL, "text out: '%s'", r->text->str);
  fail_unless (r->eos, "no EOS downstream");
  assert_clean (r);
}

/* --- tests ----------------------------------------------------------------------------- */

/* provider=deepgram puts the token in `Authorization: Bearer`. The relay drops the first
 * connection (1011): the second brings a fresh token and hears the whole input. */
GST_START_TEST (test_header_token)
{
  Relay *relay = relay_new ();
  Run *r;
  gchar *readback = NULL;

  relay->drop_first = TRUE;
  r = run_new (relay, NULL, NULL);
  run_stream (r);
  assert_clean_eos (r);
  assert_fresh_tokens (relay, 2);
  assert_audio_whole (r, 1);
  g_object_get (r->h->element, "token-secret", &readback, NULL);
  fail_unless_equals_string (readback, "***");
  g_free (readback);
  run_free (r);
}

GST_END_TEST;

/* The url template names where the token goes: ?access={token}. The relay reads it there;
 * the stt-connection messages show the URL with the token redacted. */
GST_START_TEST (test_url_template)
{
  Relay *relay = relay_new ();
  Run *r;

  relay->in_query = TRUE;
  relay->drop_first = TRUE;
  r = run_new (relay, "?access={token}", NULL);
  run_stream (r);
  assert_clean_eos (r);
  assert_fresh_tokens (relay, 2);
  assert_audio_whole (r, 1);
  /* Both attempts, the token redacted in the URL they name. */
  fail_unless (g_regex_match_simple ("^ws://127\\.0\\.0\\.1:[0-9]+/v1/listen\\?access=\\*\\*\\*&"
          "model=nova-3&.*\n.*access=\\*\\*\\*&.*\n$", r->connecting->str, 0, 0),
      "the URLs posted: %s", r->connecting->str);
  run_free (r);
}

GST_END_TEST;

/* A relay that keeps refusing: one fresh token and one retry, then NOT_AUTHORIZED naming
 * the provider and the close code; no third attempt. */
static void
check_refused (gushort code)
{
  Relay *relay = relay_new ();
  Run *r;
  g_autofree gchar *code_str = g_strdup_printf ("%u", code);
  const gchar *text, *provider;
  gint close_code = 0, err_code = 0;
  guint domain = 0;

  relay->refuse_code = code;
  r = run_new (relay, NULL, NULL);
  /* A loop would end here, quickly, with another error and more tokens. */
  g_object_set (r->h->element, "reconnect-max-attempts", 5, NULL);
  run_stream (r);
  fail_unless (r->error != NULL, "no error; connection attempts:\n%s", r->connecting->str);
  text = gst_structure_get_string (r->error, "message");
  provider = gst_structure_get_string (r->error, "provider");
  gst_structure_get_int (r->error, "close-code", &close_code);
  gst_structure_get_uint (r->error, "domain", &domain);
  gst_structure_get_int (r->error, "code", &err_code);
  fail_unless_equals_int (domain, GST_RESOURCE_ERROR);
  fail_unless_equals_int (err_code, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  fail_unless_equals_string (provider, "deepgram");
  fail_unless_equals_int (close_code, code);
  fail_unless (strstr (text, "Deepgram") && strstr (text, code_str), "%s", text);
  /* Nothing more is tried afterwards: the session reached its final state. */
  assert_failed (r);
  assert_fresh_tokens (relay, 2);
  assert_clean (r);
  run_free (r);
}

GST_START_TEST (test_refused_4001)
{
  check_refused (4001);
}

GST_END_TEST;

GST_START_TEST (test_refused_1008)
{
  check_refused (1008);
}

GST_END_TEST;

/* A token minted a moment ago refused at the handshake (HTTP 401): fatal at once. */
GST_START_TEST (test_handshake_401)
{
  Relay *relay = relay_new ();
  Run *r;
  guint status = 0;
  gint err_code = 0;

  relay->refuse_status = 401;
  r = run_new (relay, NULL, NULL);
  run_stream (r);
  fail_unless (r->error != NULL, "no error; connection attempts:\n%s", r->connecting->str);
  gst_structure_get_uint (r->error, "http-status", &status);
  gst_structure_get_int (r->error, "code", &err_code);
  fail_unless_equals_int (status, 401);
  fail_unless_equals_int (err_code, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  fail_unless (strstr (gst_structure_get_string (r->error, "message"), "signed token"),
      "%s", gst_structure_get_string (r->error, "message"));
  /* Nothing more is tried afterwards: the session reached its final state. */
  assert_failed (r);
  assert_fresh_tokens (relay, 1);
  assert_clean (r);
  run_free (r);
}

GST_END_TEST;

/* token-secret-file is read before every attempt: the relay refuses the token of the old
 * secret (4001) and the file is rotated meanwhile; the retry signs with the new one. */
GST_START_TEST (test_secret_file_rotated)
{
  Relay *relay = relay_new ();
  g_autofree gchar *dir = g_dir_make_tmp ("stt-relay-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "secret", NULL);
  Run *r;

  fail_unless (g_file_set_contents (path, "an-old-secret\n", -1, NULL));
  relay->rotate_file = g_strdup (path);
  r = run_new (relay, NULL, path);
  run_stream (r);
  assert_clean_eos (r);
  g_mutex_lock (&relay->lock);
  fail_unless_equals_int (relay->tokens->len, 2);
  fail_unless_equals_string (g_ptr_array_index (relay->verdicts, 0), "bad signature");
  fail_unless (g_ptr_array_index (relay->verdicts, 1) == NULL, "%s",
      (gchar *) g_ptr_array_index (relay->verdicts, 1));
  g_mutex_unlock (&relay->lock);
  assert_audio_whole (r, 1);
  run_free (r);
  g_unlink (path);
  g_rmdir (dir);
}

GST_END_TEST;

/* Both elements have the properties; the secret never reads back; token-secret with
 * token-url, {token} with nothing to put there, or a claim JSON cannot carry are errors
 * at start, naming what to fix. */
static gchar *
start_error (GstElement * e)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *text = NULL;

  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, GST_SECOND, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error");
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (err->domain == GST_RESOURCE_ERROR);
  text = g_strdup (err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  return text;
}

GST_START_TEST (test_settings)
{
  static const gchar *const elements[] = { "stttranscribe", "sttsink" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (elements); i++) {
    GstElement *e = gst_element_factory_make (elements[i], NULL);
    GstStructure *claims = gst_structure_new ("c", "when", GST_TYPE_FRACTION, 1, 2, NULL);
    gchar *v = NULL, *text;
    guint lifetime = 0;

    fail_unless (e != NULL);
    g_object_get (e, "token-secret", &v, "token-lifetime", &lifetime, NULL);
    fail_unless (v == NULL);
    fail_unless_equals_int (lifetime, 300);
    g_object_set (e, "provider", "deepgram", "token-secret", SECRET, NULL);
    g_object_get (e, "token-secret", &v, NULL);
    fail_unless_equals_string (v, "***");
    g_free (v);

    g_object_set (e, "token-url", "http://127.0.0.1:9/token", NULL);
    text = start_error (e);
    fail_unless (strstr (text, "token-secret and token-url"), "%s", text);
    g_free (text);

    g_object_set (e, "token-url", NULL, "token-claims", claims, NULL);
    text = start_error (e);
    fail_unless (strstr (text, "token-claims field 'when'"), "%s", text);
    g_free (text);

    g_object_set (e, "token-claims", NULL, "token-secret", NULL, "api-key", "k", "url",
        "ws://127.0.0.1:9/v1/listen?access={token}", NULL);
    text = start_error (e);
    fail_unless (strstr (text, "{token}") && strstr (text, "token-secret"), "%s", text);
    g_free (text);

    g_object_set (e, "token-secret-file", "/nonexistent/stt-secret", NULL);
    text = start_error (e);
    fail_unless (strstr (text, "token-secret-file"), "%s", text);
    g_free (text);

    gst_structure_free (claims);
    gst_object_unref (e);
  }
}

GST_END_TEST;

static Suite *
relay_suite (void)
{
  Suite *s = suite_create ("relay");
  TCase *tc = tcase_create ("general");

  /* GLib's debug output too (libsoup logs there). */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_header_token);
  tcase_add_test (tc, test_url_template);
  tcase_add_test (tc, test_refused_4001);
  tcase_add_test (tc, test_refused_1008);
  tcase_add_test (tc, test_handshake_401);
  tcase_add_test (tc, test_secret_file_rotated);
  tcase_add_test (tc, test_settings);
  return s;
}

GST_CHECK_MAIN (relay);
