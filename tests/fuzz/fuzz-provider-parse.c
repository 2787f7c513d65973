/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-provider-parse: every registered provider against whatever a server may send.
 *
 * One target for all providers: the registry (stt_provider_names) is walked at run time,
 * so a provider added later is fuzzed with no change here. The provider state is driven
 * the way gst/stt/gststtsession.c drives it (HTTP set-up if any, build_request, start
 * message, parse, end of stream, reconnection with resume_point), and every result is
 * checked against what the engine relies on.
 *
 * Input:
 *   byte 0   bit 0: the server messages are binary frames (else text)
 *            bit 1: the rest is several messages separated by 0x1e (else one message)
 *            bits 2-7: the provider, index in stt_provider_names() modulo their number
 *                      (providers are appended to the registry, so indices stay put)
 *   byte 1   bit 0: interim-results off; bit 1: the key is a temporary token;
 *            bits 2-4: extra provider options, one of param_sets[] below
 *   rest     the message(s). With bit 1, a message starting with 0x1f is an event of
 *            the engine instead of a server message:
 *              1f 'E'            end of stream (end_message)
 *              1f 'F' / 1f 'K'   finalize_message / keepalive_message
 *              1f 'A' n          frame_audio of (n + 1) * 10 ms of audio
 *              1f 'R'            the connection is lost: reconnect
 *              1f 'C' hi lo ...  closed with code hi*256+lo and the rest as reason
 *              1f 'H' hi lo      the handshake (or HTTP set-up) answered status hi*256+lo
 *   For a provider with an HTTP set-up step, the message after each set-up request is
 *   its answer (status 200).
 *
 * Invariants (what handle_result in gststtsession.c and the bus schema need): texts are
 * valid UTF-8, a result with words has a text, every word has a text, times and
 * confidences are unknown (negative) or finite, failures are known values; nothing
 * leaks (ASan/LSan), nothing logs a critical or a warning.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "sttprovider.h"

#define SEPARATOR 0x1e
#define EVENT 0x1f
#define RATE 16000

/* Options users set through the `params` property, picked by byte 1. Names any provider
 * may read; the others ignore them. */
static const gchar *const param_sets[8][5] = {
  {NULL},
  {"enable_endpoint_detection", "false", NULL},
  {"commit_strategy", "manual", NULL},
  {"include_timestamps", "false", NULL},
  {"format_turns", "false", NULL},
  {"commit_strategy", "manual", "include_timestamps", "false", NULL},
  {"vad_silence_threshold_secs", "0.3", NULL},
  {"region", "eu-west", NULL},
};

typedef struct
{
  const SttProviderInfo *info;
  SttProviderConfig config;
  SttProviderState st;
  gboolean binary;
  gboolean open;                /* connected: server messages go to parse() */
  gboolean init_pending;        /* the next message answers the HTTP set-up */
  gboolean end_sent;
  gboolean dead;                /* the engine would have stopped (fatal failure) */
  guint64 session_samples;      /* audio framed since the service session began */
} Fuzz;

static void
check_utf8 (const gchar * what, const gchar * s, gboolean nullable)
{
  FUZZ_CHECK (nullable || s != NULL, "%s is NULL", what);
  FUZZ_CHECK (s == NULL || g_utf8_validate (s, -1, NULL), "%s is not UTF-8", what);
}

/* Negative means unknown; anything else must be a number the engine can scale. */
static void
check_number (const gchar * what, gdouble v)
{
  FUZZ_CHECK (v < 0 || isfinite (v), "%s is %g", what, v);
}

static void
check_output (const Fuzz * f, const SttParseOutput * out)
{
  guint i, j;

  FUZZ_CHECK (out->results != NULL, "%s: results array gone", f->info->name);
  FUZZ_CHECK (out->failure >= STT_FAILURE_NONE && out->failure <= STT_FAILURE_FATAL,
      "%s: failure %d", f->info->name, out->failure);
  for (i = 0; i < out->results->len; i++) {
    const SttResult *r = g_ptr_array_index (out->results, i);

    FUZZ_CHECK (r != NULL && r->words != NULL, "%s: result %u incomplete",
        f->info->name, i);
    /* handle_result dereferences the text of a result with words. */
    check_utf8 ("result text", r->text, r->words->len == 0);
    check_utf8 ("segment key", r->segment_key, TRUE);
    check_utf8 ("language", r->language, TRUE);
    check_number ("result start", r->start);
    check_number ("result end", r->end);
    check_number ("result confidence", r->confidence);
    for (j = 0; j < r->words->len; j++) {
      const SttWord *w = &g_array_index (r->words, SttWord, j);

      check_utf8 ("word text", w->text, FALSE);
      check_utf8 ("speaker", w->speaker, TRUE);
      check_number ("word start", w->start);
      check_number ("word end", w->end);
      check_number ("word confidence", w->confidence);
    }
  }
}

static void
check_failure (const Fuzz * f, SttFailure failure)
{
  FUZZ_CHECK (failure >= STT_FAILURE_NONE && failure <= STT_FAILURE_FATAL,
      "%s: failure %d", f->info->name, failure);
}

/* connect_ws: the WebSocket request, then (once open) the start message. */
static void
fuzz_open (Fuzz * f)
{
  SttRequest req = { 0, };
  GError *error = NULL;
  gchar *start;

  if (!f->info->build_request (&f->st, &req, &error)) {
    FUZZ_CHECK (error != NULL, "%s: build_request failed without an error",
        f->info->name);
    g_error_free (error);
    stt_request_clear (&req);
    f->dead = TRUE;
    return;
  }
  FUZZ_CHECK (req.url != NULL, "%s: no url", f->info->name);
  stt_request_clear (&req);
  f->open = TRUE;
  f->end_sent = FALSE;
  start = f->info->start_message ? f->info->start_message (&f->st) : NULL;
  g_free (start);
}

/* connect_with_key: the provider's HTTP step if it wants one, else the WebSocket. */
static void
fuzz_connect (Fuzz * f)
{
  SttHttpInit init = { 0, };

  if (f->info->build_init_request && f->info->build_init_request (&f->st, &init)) {
    FUZZ_CHECK (init.method != NULL && init.url != NULL, "%s: incomplete set-up request",
        f->info->name);
    f->init_pending = TRUE;
  }
  stt_http_init_clear (&init);
  if (!f->init_pending)
    fuzz_open (f);
}

/* teardown_connection. */
static void
fuzz_close (Fuzz * f)
{
  stt_provider_clear_priv (&f->st);
  f->st.frames_sent = 0;
  f->open = FALSE;
  f->init_pending = FALSE;
}

/* session_retry, then the next attempt (resume() in the engine). */
static void
fuzz_reconnect (Fuzz * f)
{
  guint64 acked = 0;

  fuzz_close (f);
  if (f->info->resume_point && f->info->resume_point (&f->st, &acked)) {
    /* What follows the acknowledged point was never sent: start over. */
    if (acked > f->session_samples && f->info->forget_session)
      f->info->forget_session (&f->st);
  } else {
    f->session_samples = 0;
  }
  fuzz_connect (f);
}

/* A failure classified by the provider: retried (reconnect) or fatal (stop). */
static void
fuzz_fail_with (Fuzz * f, SttFailure failure)
{
  check_failure (f, failure);
  if (failure == STT_FAILURE_AUTH || failure == STT_FAILURE_FATAL)
    f->dead = TRUE;
  else
    fuzz_reconnect (f);
}

static guint
be16 (const guint8 * p)
{
  return (p[0] << 8) | p[1];
}

static void
fuzz_event (Fuzz * f, const guint8 * p, gsize len)
{
  SttFrameType type = STT_FRAME_TEXT;
  GBytes *b;
  gchar *s;

  switch (len > 1 ? p[1] : 0) {
    case 'E':
      /* send_end: once per connection, only while open. */
      if (!f->open || f->end_sent || !f->info->end_message)
        break;
      b = f->info->end_message (&f->st, &type);
      FUZZ_CHECK (b != NULL, "%s: no end message", f->info->name);
      g_bytes_unref (b);
      f->end_sent = TRUE;
      break;
    case 'F':
      if (f->open && f->info->finalize_message) {
        s = f->info->finalize_message (&f->st);
        g_free (s);
      }
      break;
    case 'K':
      if (f->open && f->info->keepalive_message) {
        s = f->info->keepalive_message (&f->st);
        g_free (s);
      }
      break;
    case 'A':{
      gsize n = ((len > 2 ? p[2] : 0) + 1) * (f->config.sample_rate / 100) * 2;
      guint8 *audio;

      if (!f->open || f->end_sent)
        break;
      audio = g_malloc0 (n);
      b = f->info->frame_audio (&f->st, audio, n, &type);
      FUZZ_CHECK (b != NULL, "%s: no audio frame", f->info->name);
      /* The frame may point into the audio (frame_audio). */
      g_bytes_unref (b);
      g_free (audio);
      f->st.frames_sent++;
      f->session_samples += n / 2;
      break;
    }
    case 'R':
      fuzz_reconnect (f);
      break;
    case 'C':{
      gchar *reason;

      /* on_ws_closed: only an open connection closes. */
      if (!f->open || len < 4)
        break;
      reason = g_strndup ((const gchar *) p + 4, len - 4);
      if (!g_utf8_validate (reason, -1, NULL)) {
        /* libsoup hands over close reasons as UTF-8 text. */
        g_free (reason);
        reason = g_strdup ("");
      }
      {
        SttFailure failure = stt_provider_classify_close (&f->st, be16 (p + 2), reason);

        g_free (reason);
        if (failure == STT_FAILURE_NONE && f->end_sent)
          fuzz_close (f);
        else
          fuzz_fail_with (f, failure == STT_FAILURE_NONE ? STT_FAILURE_RETRY : failure);
      }
      break;
    }
    case 'H':
      /* on_ws_failed, or on_init for a refused set-up (no priv yet). */
      if (len < 4 || (!f->open && !f->init_pending))
        break;
      fuzz_fail_with (f, stt_provider_classify_http (&f->st, be16 (p + 2)));
      break;
    default:
      break;
  }
}

static void
fuzz_message (Fuzz * f, const guint8 * p, gsize len)
{
  static const guint8 empty[1] = { 0 };
  SttParseOutput out;

  if (f->init_pending) {
    GError *error = NULL;

    f->init_pending = FALSE;
    /* An empty HTTP body may come as a GBytes without data (on_init passes NULL). */
    if (!f->info->parse_init_response (&f->st, 200, len ? p : NULL, len, &error)) {
      FUZZ_CHECK (error != NULL, "%s: set-up answer refused without an error",
          f->info->name);
      g_error_free (error);
      f->dead = TRUE;
      return;
    }
    FUZZ_CHECK (error == NULL, "%s: set-up answer accepted with an error",
        f->info->name);
    fuzz_open (f);
    return;
  }
  if (!f->open)
    return;

  stt_parse_output_init (&out);
  /* libsoup hands over an empty frame as an empty, not a NULL, buffer. */
  f->info->parse (&f->st, f->binary, len ? p : empty, len, &out);
  check_output (f, &out);
  if (out.failure != STT_FAILURE_NONE)
    fuzz_fail_with (f, out.failure);
  else if (out.finished && f->end_sent)
    fuzz_close (f);             /* finish(): the stream is over until a reconnection */
  stt_parse_output_clear (&out);
}

static GHashTable *
make_params (guint set)
{
  const gchar *const *p = param_sets[set % G_N_ELEMENTS (param_sets)];
  GHashTable *params;

  if (p[0] == NULL)
    return NULL;
  params = g_hash_table_new (g_str_hash, g_str_equal);
  for (; p[0] && p[1]; p += 2)
    g_hash_table_insert (params, (gpointer) p[0], (gpointer) p[1]);
  return params;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  const gchar *const *names = stt_provider_names ();
  Fuzz f = { 0, };
  gboolean split;
  guint n_providers;
  const guint8 *p, *end;

  fuzz_init ();
  if (size < 2)
    return 0;
  n_providers = g_strv_length ((gchar **) names);
  FUZZ_CHECK (n_providers > 0, "no provider registered");
  f.info = stt_provider_lookup (names[(data[0] >> 2) % n_providers]);
  FUZZ_CHECK (f.info != NULL, "a registered name is not found");
  f.binary = data[0] & 1;
  split = (data[0] >> 1) & 1;

  f.config.api_key = "fuzz-key";
  /* AWS credentials, read only by the providers that take them. */
  f.config.access_key_id = "AKIDFUZZ";
  f.config.region = "us-west-2";
  f.config.key_is_token = (data[1] >> 1) & 1;
  f.config.language = "en";
  /* The provider's own rate, as the engine picks it (OpenAI takes 24 kHz only). */
  f.config.sample_rate = f.info->default_rate ? f.info->default_rate : RATE;
  f.config.interim_results = !(data[1] & 1);
  f.config.params = make_params (data[1] >> 2);
  f.st.info = f.info;
  f.st.config = &f.config;

  fuzz_connect (&f);
  p = data + 2;
  end = data + size;
  if (!split) {
    fuzz_message (&f, p, end - p);
  } else {
    while (!f.dead) {
      const guint8 *sep = memchr (p, SEPARATOR, end - p);
      const guint8 *stop = sep ? sep : end;

      if (stop > p && p[0] == EVENT)
        fuzz_event (&f, p, stop - p);
      else
        fuzz_message (&f, p, stop - p);
      if (sep == NULL)
        break;
      p = sep + 1;
    }
  }

  fuzz_close (&f);
  if (f.st.stream_priv && f.info->free_stream_priv)
    f.info->free_stream_priv (f.st.stream_priv);
  g_clear_pointer (&f.config.params, g_hash_table_unref);
  return 0;
}
