/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transport of ext/soup, driven directly and through stttranscribe, against local
 * servers: a request carrying credentials never follows a redirect (the new host never
 * sees the key, and the error names the new location, redacted); an answer over 256 KiB
 * is refused while it streams in, without buffering it; a callback never runs before the
 * call that started the request has returned. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <libsoup/soup.h>

#include "stt-check-utils.h"
#include "stthttp.h"
#include "sttws.h"

#define KEY "sk-REDIRECT-KEY-51c2"
#define LOCATION_TOKEN "loc-TOKEN-9f3e"
#define BIG_BODY (64 * 1024 * 1024)
#define CHUNK (64 * 1024)

/* --- local peers ----------------------------------------------------------------------- */

/* An HTTP server that records every request it gets and answers 302 to @location, or
 * 404 without one. Under /big it streams BIG_BODY bytes, made as it goes. */
typedef struct
{
  SttCheckSoup *soup;
  gchar *location;
  GMutex lock;
  guint requests;
  GString *seen;                /* method, path and headers of every request */
  gint streamed;                /* atomic: bytes of /big written */
} Peer;

static GBytes *chunk_bytes;

static void
write_next_chunk (SoupServerMessage * msg, Peer * peer)
{
  SoupMessageBody *body = soup_server_message_get_response_body (msg);

  if (g_atomic_int_get (&peer->streamed) >= BIG_BODY) {
    soup_message_body_complete (body);
    return;
  }
  soup_message_body_append_bytes (body, chunk_bytes);
  g_atomic_int_add (&peer->streamed, CHUNK);
}

static void
peer_handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  Peer *peer = data;
  SoupMessageHeadersIter iter;
  const char *name, *value;

  g_mutex_lock (&peer->lock);
  peer->requests++;
  g_string_append_printf (peer->seen, "%s %s\n", soup_server_message_get_method (msg),
      path);
  soup_message_headers_iter_init (&iter, soup_server_message_get_request_headers (msg));
  while (soup_message_headers_iter_next (&iter, &name, &value))
    g_string_append_printf (peer->seen, "%s: %s\n", name, value);
  g_mutex_unlock (&peer->lock);

  if (peer->location) {
    soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, peer->location);
  } else if (g_strcmp0 (path, "/big") == 0) {
    /* Chunk by chunk, nothing kept: the server's memory stays flat too. */
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
        SOUP_ENCODING_CHUNKED);
    soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
    g_signal_connect (msg, "wrote-headers", G_CALLBACK (write_next_chunk), peer);
    g_signal_connect (msg, "wrote-chunk", G_CALLBACK (write_next_chunk), peer);
  } else if (g_strcmp0 (path, "/small") == 0) {
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
        "{\"a\":1}", 7);
  } else {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  }
}

static void
peer_setup (gpointer server, gpointer data)
{
  soup_server_add_handler (server, NULL, peer_handler, data, NULL);
}

/* A peer redirecting to @to (a path and query on @to's port), or a plain one. */
static Peer *
peer_new (Peer * to, const gchar * path_and_query)
{
  Peer *peer = g_new0 (Peer, 1);

  if (chunk_bytes == NULL)
    chunk_bytes = g_bytes_new_take (g_malloc0 (CHUNK), CHUNK);
  g_mutex_init (&peer->lock);
  peer->seen = g_string_new (NULL);
  if (to)
    peer->location = g_strdup_printf ("http://127.0.0.1:%u%s",
        stt_check_soup_get_port (to->soup), path_and_query);
  peer->soup = stt_check_soup_new (NULL, peer_setup, peer);
  return peer;
}

static guint
peer_port (Peer * peer)
{
  return stt_check_soup_get_port (peer->soup);
}

static guint
peer_requests (Peer * peer)
{
  guint n;

  g_mutex_lock (&peer->lock);
  n = peer->requests;
  g_mutex_unlock (&peer->lock);
  return n;
}

static gboolean
peer_saw (Peer * peer, const gchar * text)
{
  gboolean saw;

  g_mutex_lock (&peer->lock);
  saw = strstr (peer->seen->str, text) != NULL;
  g_mutex_unlock (&peer->lock);
  return saw;
}

static void
peer_free (Peer * peer)
{
  stt_check_soup_free (peer->soup);
  g_string_free (peer->seen, TRUE);
  g_free (peer->location);
  g_mutex_clear (&peer->lock);
  g_free (peer);
}

/* A redirector to a recorder: the pair of every redirect test. */
typedef struct
{
  Peer *target, *redirector;
} Redirect;

static Redirect
redirect_new (void)
{
  Redirect r;

  r.target = peer_new (NULL, NULL);
  r.redirector = peer_new (r.target, "/elsewhere?token=" LOCATION_TOKEN);
  return r;
}

static void
redirect_check_and_free (Redirect r)
{
  /* The key reached the server it was meant for (so the test would see a leak)... */
  fail_unless (peer_saw (r.redirector, KEY), "the key never reached the endpoint");
  /* ...and the new location never heard from us. */
  fail_unless_equals_int (peer_requests (r.target), 0);
  fail_if (peer_saw (r.target, KEY));
  peer_free (r.redirector);
  peer_free (r.target);
}

/* The redacted location a redirect error must name. */
static gchar *
redirect_expected_location (Redirect r)
{
  return g_strdup_printf ("http://127.0.0.1:%u/elsewhere?token=***", peer_port (r.target));
}

/* --- requests on an I/O worker ---------------------------------------------------------- */

typedef struct
{
  SttIoWorker *worker;
  const gchar *method;
  gchar *url;
  const gchar *const *headers;
  gboolean free_at_once;        /* free the request right after starting it */
  SttHttp *http;
  SttWs *ws;

  GMutex lock;
  GCond cond;
  gboolean returned;            /* the starting call returned */
  gboolean freed;               /* job_free: the worker freed the requests */
  gboolean done;
  gboolean early;               /* the callback ran before the starting call returned */
  gboolean opened;
  guint status;
  gsize body_len;
  gchar *error;
} Job;

static void
job_done (Job * job, guint status, gsize body_len, const GError * error)
{
  g_mutex_lock (&job->lock);
  job->early = !job->returned;
  job->status = status;
  job->body_len = body_len;
  job->error = g_strdup (error ? error->message : NULL);
  job->done = TRUE;
  g_cond_signal (&job->cond);
  g_mutex_unlock (&job->lock);
}

static void
on_http (SttHttp * http, guint status, GBytes * body, const GError * error,
    gpointer user_data)
{
  Job *job = user_data;

  job_done (job, status, body ? g_bytes_get_size (body) : 0, error);
}

static gboolean
start_http (gpointer data)
{
  Job *job = data;
  static const gchar body[] = "{\"encoding\":\"wav/pcm\"}";
  g_autoptr (GBytes) b = g_bytes_new_static (body, strlen (body));
  gboolean post = g_strcmp0 (job->method, "POST") == 0;

  job->http = stt_http_request (job->worker, job->method, job->url, job->headers,
      post ? b : NULL, post ? "application/json" : NULL, TRUE, NULL, on_http, job);
  g_mutex_lock (&job->lock);
  job->returned = TRUE;
  g_mutex_unlock (&job->lock);
  if (job->free_at_once)
    g_clear_pointer (&job->http, stt_http_free);
  return G_SOURCE_REMOVE;
}

static void
on_ws_opened (SttWs * ws, gpointer user_data)
{
  Job *job = user_data;

  job->opened = TRUE;
  job_done (job, 101, 0, NULL);
}

static void
on_ws_failed (SttWs * ws, guint status, gint retry_after, const GError * error,
    gpointer user_data)
{
  job_done (user_data, status, 0, error);
}

static gboolean
start_ws (gpointer data)
{
  static const SttWsCallbacks callbacks = {.opened = on_ws_opened,.failed = on_ws_failed };
  Job *job = data;
  SttWsOptions opts = { 0, };

  opts.url = job->url;
  opts.headers = job->headers;
  opts.tls_validate = TRUE;
  job->ws = stt_ws_connect (job->worker, &opts, &callbacks, job);
  g_mutex_lock (&job->lock);
  job->returned = TRUE;
  g_mutex_unlock (&job->lock);
  if (job->free_at_once)
    g_clear_pointer (&job->ws, stt_ws_free);
  return G_SOURCE_REMOVE;
}

static gboolean
free_job_requests (gpointer data)
{
  Job *job = data;

  g_clear_pointer (&job->http, stt_http_free);
  g_clear_pointer (&job->ws, stt_ws_free);
  g_mutex_lock (&job->lock);
  job->freed = TRUE;
  g_cond_signal (&job->cond);
  g_mutex_unlock (&job->lock);
  return G_SOURCE_REMOVE;
}

static Job *
job_new (const gchar * method, gchar * url, const gchar * const *headers)
{
  Job *job = g_new0 (Job, 1);

  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);
  job->worker = stt_io_pool_acquire ();
  job->method = method;
  job->url = url;
  job->headers = headers;
  return job;
}

/* Runs @start on the worker and waits (at most @timeout_ms) for the callback. */
static gboolean
job_run (Job * job, GSourceFunc start, guint timeout_ms)
{
  gint64 until = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean done;

  stt_io_worker_invoke (job->worker, start, job, NULL);
  g_mutex_lock (&job->lock);
  while (!job->done && g_cond_wait_until (&job->cond, &job->lock, until));
  done = job->done;
  g_mutex_unlock (&job->lock);
  return done;
}

static void
job_free (Job * job)
{
  gint64 until = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  /* Requests are freed on their worker, like the element does. */
  stt_io_worker_invoke (job->worker, free_job_requests, job, NULL);
  g_mutex_lock (&job->lock);
  while (!job->freed && g_cond_wait_until (&job->cond, &job->lock, until));
  fail_unless (job->freed, "the worker did not free the request");
  g_mutex_unlock (&job->lock);
  stt_io_worker_release (job->worker);
  g_free (job->url);
  g_free (job->error);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
  g_free (job);
}

/* --- redirects ------------------------------------------------------------------------- */

GST_START_TEST (test_ws_redirect_not_followed)
{
  static const gchar *const headers[] = { "xi-api-key", KEY, NULL };
  Redirect r = redirect_new ();
  g_autofree gchar *expected = redirect_expected_location (r);
  Job *job = job_new ("GET", g_strdup_printf ("ws://127.0.0.1:%u/v1/speech-to-text",
          peer_port (r.redirector)), headers);

  fail_unless (job_run (job, start_ws, 10000), "no answer");
  fail_if (job->opened);
  fail_unless_equals_int (job->status, 302);
  fail_unless (job->error && strstr (job->error, expected), "%s", job->error);
  fail_if (strstr (job->error, LOCATION_TOKEN), "%s", job->error);
  job_free (job);
  redirect_check_and_free (r);
}

GST_END_TEST;

GST_START_TEST (test_http_redirect_not_followed)
{
  /* Gladia's init step: a POST with the key in a header. */
  static const gchar *const headers[] = { "x-gladia-key", KEY, NULL };
  Redirect r = redirect_new ();
  g_autofree gchar *expected = redirect_expected_location (r);
  Job *job = job_new ("POST", g_strdup_printf ("http://127.0.0.1:%u/v2/live",
          peer_port (r.redirector)), headers);

  fail_unless (job_run (job, start_http, 10000), "no answer");
  fail_unless_equals_int (job->status, 302);
  fail_unless (job->error && strstr (job->error, expected), "%s", job->error);
  fail_if (strstr (job->error, LOCATION_TOKEN), "%s", job->error);
  job_free (job);
  redirect_check_and_free (r);
}

GST_END_TEST;

/* Through the element: the WebSocket endpoint (ElevenLabs: xi-api-key), Gladia's init
 * POST (x-gladia-key) and a token-url (a header made from the key) answer 302. */
static void
run_element_redirect (const gchar * provider, gboolean token)
{
  Redirect r = redirect_new ();
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/v1/endpoint",
      peer_port (r.redirector));
  g_autofree gchar *token_url = g_strdup_printf ("http://127.0.0.1:%u/token",
      peer_port (r.redirector));
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  GstBus *bus = gst_bus_new ();
  GstStructure *err;

  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "provider", provider, "url", url, "api-key", KEY, NULL);
  if (token) {
    GstStructure *headers = gst_structure_new ("h", "X-Api-Key", G_TYPE_STRING,
        "$API_KEY", NULL);

    g_object_set (h->element, "token-url", token_url, "token-headers", headers, NULL);
    gst_structure_free (headers);
  }
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 0.5, NULL,
          0, 0));
  /* At default settings: one error at once (a redirect would come again), naming it. */
  err = stt_check_wait_error (bus, 10000);
  fail_unless (err != NULL, "no error after a redirect");
  fail_unless (strstr (gst_structure_get_string (err, "message"), "redirect") != NULL,
      "%s", gst_structure_get_string (err, "message"));
  fail_unless (strstr (gst_structure_get_string (err, "message"), KEY) == NULL);
  fail_unless_equals_int (peer_requests (r.redirector), 1);
  gst_structure_free (err);
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  redirect_check_and_free (r);
}

GST_START_TEST (test_element_endpoint_redirect)
{
  run_element_redirect ("elevenlabs", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_element_init_redirect)
{
  run_element_redirect ("gladia", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_element_token_redirect)
{
  run_element_redirect ("deepgram", TRUE);
}

GST_END_TEST;

/* --- bounded answers ------------------------------------------------------------------- */

/* VmRSS of this process, in bytes. */
static gsize
read_rss (void)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, "VmRSS:");
  return line ? (gsize) g_ascii_strtoull (line + 6, NULL, 10) * 1024 : 0;
}

/* Samples VmRSS every millisecond until stopped: the peak while the answer streams. */
typedef struct
{
  gint stop;
  gsize peak;
} Sampler;

static gpointer
sample_rss (gpointer data)
{
  Sampler *s = data;

  while (!g_atomic_int_get (&s->stop)) {
    s->peak = MAX (s->peak, read_rss ());
    g_usleep (1000);
  }
  return NULL;
}

GST_START_TEST (test_answer_too_large)
{
  Peer *server = peer_new (NULL, NULL);
  Job *warm = job_new ("GET", g_strdup_printf ("http://127.0.0.1:%u/small",
          peer_port (server)), NULL);
  Job *job;
  Sampler sampler = { 0, 0 };
  GThread *thread;
  gsize before;

  /* A small answer first: the pool, libsoup and the connection code are set up. */
  fail_unless (job_run (warm, start_http, 10000));
  fail_unless_equals_int (warm->status, 200);
  fail_unless_equals_int (warm->body_len, 7);
  job_free (warm);

  before = read_rss ();
  thread = g_thread_new ("rss", sample_rss, &sampler);
  job = job_new ("GET", g_strdup_printf ("http://127.0.0.1:%u/big", peer_port (server)),
      NULL);
  fail_unless (job_run (job, start_http, 30000), "no answer");
  g_atomic_int_set (&sampler.stop, 1);
  g_thread_join (thread);

  fail_unless_equals_int (job->status, 0);
  fail_unless (job->error && strstr (job->error, "answer too large"), "%s", job->error);
  /* Buffering the answer would take 64 MiB; reading stops at 256 KiB. */
  fail_unless (sampler.peak < before + 8 * 1024 * 1024, "RSS grew by %" G_GSIZE_FORMAT
      " KiB while a 64 MiB answer was refused", (sampler.peak - before) / 1024);
  job_free (job);
  /* The client hung up: the server stopped long before the end. */
  g_usleep (200 * 1000);
  fail_unless (g_atomic_int_get (&server->streamed) < BIG_BODY / 2, "%d bytes streamed",
      g_atomic_int_get (&server->streamed));
  peer_free (server);
}

GST_END_TEST;

/* --- callbacks never before the call returns ---------------------------------------------- */

GST_START_TEST (test_http_invalid_url_later)
{
  Job *job = job_new ("GET", g_strdup ("not a URL"), NULL);

  fail_unless (job_run (job, start_http, 5000), "no callback for an invalid URL");
  fail_if (job->early, "the callback ran before stt_http_request returned");
  fail_unless_equals_int (job->status, 0);
  fail_unless_equals_string (job->error, "invalid URL");
  job_free (job);
}

GST_END_TEST;

GST_START_TEST (test_ws_invalid_url_later)
{
  Job *job = job_new ("GET", g_strdup ("not a URL"), NULL);

  fail_unless (job_run (job, start_ws, 5000), "no callback for an invalid URL");
  fail_if (job->early, "the callback ran before stt_ws_connect returned");
  fail_unless_equals_int (job->status, 0);
  fail_unless_equals_string (job->error, "invalid URL");
  job_free (job);
}

GST_END_TEST;

GST_START_TEST (test_invalid_url_freed_at_once)
{
  /* Freed before the loop ran: the error is never reported. */
  Job *http = job_new ("GET", g_strdup ("not a URL"), NULL);
  Job *ws = job_new ("GET", g_strdup ("not a URL"), NULL);

  http->free_at_once = ws->free_at_once = TRUE;
  fail_if (job_run (http, start_http, 300), "a callback after stt_http_free");
  fail_if (job_run (ws, start_ws, 300), "a callback after stt_ws_free");
  job_free (http);
  job_free (ws);
}

GST_END_TEST;

static Suite *
transport_suite (void)
{
  Suite *s = suite_create ("transport");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ws_redirect_not_followed);
  tcase_add_test (tc, test_http_redirect_not_followed);
  tcase_add_test (tc, test_element_endpoint_redirect);
  tcase_add_test (tc, test_element_init_redirect);
  tcase_add_test (tc, test_element_token_redirect);
  tcase_add_test (tc, test_answer_too_large);
  tcase_add_test (tc, test_http_invalid_url_later);
  tcase_add_test (tc, test_ws_invalid_url_later);
  tcase_add_test (tc, test_invalid_url_freed_at_once);
  return s;
}

GST_CHECK_MAIN (transport);
