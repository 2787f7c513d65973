/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-check-fixture.c: the provider tests' fixture and what they do alike. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <json-glib/json-glib.h>

#include "stt-check-fixture.h"
#include "stt-test-server.h"

SttCheckFixture stt_fx;

const SttTone stt_fx_tones[3] = {
  {0.5, 0.9, 440},
  {1.0, 1.3, 700},
  {2.5, 2.8, 1000},
};

const gchar *const stt_fx_words[4] = { "w400", "w700", "w1000", NULL };

const SttTone stt_fx_four[4] = {
  {0.5, 0.9, 400}, {1.0, 1.3, 700}, {2.0, 2.4, 500}, {3.0, 3.3, 600},
};

const gchar *const stt_fx_four_words[5] = { "w400", "w700", "w500", "w600", NULL };

const SttTone stt_fx_eight[8] = {
  {0.5, 0.9, 400}, {1.0, 1.3, 700}, {2.0, 2.4, 500}, {3.0, 3.3, 600},
  {4.0, 4.4, 800}, {5.0, 5.3, 900}, {6.0, 6.4, 1100}, {7.0, 7.3, 1200},
};

const gchar *const stt_fx_eight_words[9] = { "w400", "w700", "w500", "w600", "w800",
  "w900", "w1100", "w1200", NULL
};

/* The provider tcase_add_checked_fixture() cannot pass to its functions. */
static const gchar *fixture_provider;

static void
fixture_setup (void)
{
  GError *err = NULL;

  stt_fx.provider = fixture_provider;
  stt_fx.server = stt_test_server_new (stt_fx.provider, &err);
  fail_unless (stt_fx.server != NULL, "%s server: %s", stt_fx.provider,
      err ? err->message : "");
  stt_fx.url = stt_test_server_get_url (stt_fx.server);
}

static void
fixture_teardown (void)
{
  g_clear_pointer (&stt_fx.server, stt_test_server_free);
  g_clear_pointer (&stt_fx.url, g_free);
}

void
stt_check_fixture_add (TCase * tc, const gchar * provider)
{
  fixture_provider = provider;
  tcase_add_checked_fixture (tc, fixture_setup, fixture_teardown);
}

SttCheckRun *
stt_fx_run_new (const SttTone * tones, guint n_tones, gdouble duration)
{
  return stt_check_run_new (stt_fx.provider, stt_fx.url, tones, n_tones, duration);
}

SttCheckRun *
stt_fx_run_tones (gdouble duration)
{
  return stt_fx_run_new (stt_fx_tones, G_N_ELEMENTS (stt_fx_tones), duration);
}

GstClockTime
stt_check_secs (gdouble s)
{
  return (GstClockTime) (s * GST_SECOND + 0.5);
}

/* --- harnesses ---------------------------------------------------------------------- */

GstHarness *
stt_fx_harness_new (GstBus ** bus)
{
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");

  g_object_set (h->element, "provider", stt_fx.provider, "url", stt_fx.url,
      "latency", (guint) 60000, NULL);
  stt_check_set_test_credentials (h->element, stt_fx.provider);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  return h;
}

void
stt_check_harness_segments (GstHarness * h)
{
  gst_util_set_object_arg (G_OBJECT (h->element), "output-mode", "segments");
}

void
stt_check_harness_push_audio (GstHarness * h, GstAudioFormat format, guint rate,
    guint channels, gdouble duration, const SttTone * tones, guint n_tones,
    GstClockTime offset)
{
  GstBuffer *all;
  GList *bufs, *l;

  gst_harness_set_src_caps (h, stt_check_audio_caps (format, rate, channels));
  all = stt_check_make_audio (format, rate, channels, duration, tones, n_tones, offset);
  bufs = stt_check_split (all, format, rate, channels, 20);
  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next)
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  g_list_free (bufs);
}

void
stt_check_harness_finish (GstHarness * h)
{
  gst_harness_push_event (h, gst_event_new_eos ());
  stt_check_harness_wait_eos (h);
}

void
stt_check_harness_wait_eos (GstHarness * h)
{
  GstEvent *ev;

  while ((ev = gst_harness_pull_event (h)) && GST_EVENT_TYPE (ev) != GST_EVENT_EOS)
    gst_event_unref (ev);
  fail_unless (ev != NULL, "no EOS");
  gst_event_unref (ev);
}

void
stt_check_harness_free (GstHarness * h, GstBus * bus)
{
  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* --- transcripts ------------------------------------------------------------------- */

void
stt_check_transcripts_collect (SttCheckTranscripts * t, GstBus * bus, guint n_finals,
    guint min_partials)
{
  t->msgs = stt_check_collect (bus, "stt-transcript", 10000, stt_check_n_finals,
      GUINT_TO_POINTER (n_finals));
  t->finals = stt_check_filter_final (t->msgs, TRUE);
  t->partials = stt_check_filter_final (t->msgs, FALSE);
  fail_unless_equals_int (g_list_length (t->finals), n_finals);
  fail_unless (g_list_length (t->partials) >= min_partials, "only %u partials",
      g_list_length (t->partials));
}

void
stt_check_transcripts_clear (SttCheckTranscripts * t)
{
  g_clear_pointer (&t->finals, g_list_free);
  g_clear_pointer (&t->partials, g_list_free);
  g_list_free_full (g_steal_pointer (&t->msgs), (GDestroyNotify) gst_structure_free);
}

void
stt_fx_transcribe_tones (GstHarness * h, GstBus * bus, gdouble duration,
    GstClockTime offset, guint n_finals, guint min_partials, SttCheckTranscripts * t)
{
  stt_check_harness_push_audio (h, GST_AUDIO_FORMAT_S16LE, 16000, 1, duration,
      stt_fx_tones, G_N_ELEMENTS (stt_fx_tones), offset);
  stt_check_harness_finish (h);
  fail_unless_equals_int (gst_harness_buffers_received (h), n_finals);
  stt_check_transcripts_collect (t, bus, n_finals, min_partials);
}

/* --- fatal errors ------------------------------------------------------------------- */

GstStructure *
stt_check_wait_fatal (GstBus * bus, guint timeout_ms)
{
  GList *msgs = stt_check_collect (bus, NULL, timeout_ms,
      stt_check_has_error, NULL), *l;
  GstStructure *err = NULL;
  gboolean failed = FALSE;

  for (l = msgs; l && err == NULL; l = l->next) {
    const gchar *state = gst_structure_get_string (l->data, "state");

    if (gst_structure_has_name (l->data, "error"))
      err = gst_structure_copy (l->data);
    else if (gst_structure_has_name (l->data, "stt-connection")) {
      fail_if (g_strcmp0 (state, "reconnecting") == 0, "a retry: %s",
          gst_structure_get_string (l->data, "reason"));
      failed |= g_strcmp0 (state, "failed") == 0;
    }
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  fail_unless (err != NULL, "no error posted");
  fail_unless (failed, "an error, but the session did not reach its final state: %s",
      gst_structure_get_string (err, "message"));
  return err;
}

GstStructure *
stt_check_run_until_fatal (SttCheckRun * r, gdouble seconds)
{
  stt_check_run_push (r, 0, seconds, FALSE);
  return stt_check_wait_fatal (r->bus, 10000);
}

void
stt_check_error_says (const GstStructure * err, gint code, const gchar * service,
    const gchar * want, const gchar * secret)
{
  const gchar *text = gst_structure_get_string (err, "message");
  gint got;
  guint domain;

  fail_unless (gst_structure_get_int (err, "code", &got));
  fail_unless (gst_structure_get_uint (err, "domain", &domain));
  fail_unless_equals_int (domain, GST_RESOURCE_ERROR);
  fail_unless_equals_int (got, code);
  fail_unless (strstr (text, service) != NULL, "%s", text);
  fail_unless (strstr (text, want) != NULL, "%s", text);
  fail_unless (strstr (text, "test-key") == NULL, "the key shows: %s", text);
  fail_unless (secret == NULL || strstr (text, secret) == NULL, "the key shows: %s",
      text);
}

/* --- the full replay ring ----------------------------------------------------------- */

/* An SttCheckDoneFunc: the finals reach GPOINTER_TO_UINT (@user_data) ms (minus 30). */
static gboolean
reached (GList * collected, gpointer user_data)
{
  GList *f = stt_check_filter_final (collected, TRUE), *l;
  GstClockTime end = 0, pts, dur;

  for (l = f; l; l = l->next)
    if (gst_structure_get_clock_time (l->data, "pts", &pts)
        && gst_structure_get_clock_time (l->data, "duration", &dur))
      end = MAX (end, pts + dur);
  g_list_free (f);
  return end + 30 * GST_MSECOND >= GPOINTER_TO_UINT (user_data) * GST_MSECOND;
}

void
stt_fx_check_full_ring (const gchar * request, const gchar * text)
{
  static const SttTone long_word[] = { {0.3, 2.3, 500} };
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time ! "
      "stttranscribe provider=%s url=%s api-key=test-key max-buffer-time=1000000000 ! "
      "fakesink", stt_fx.provider, stt_fx.url);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstBus *bus = gst_element_get_bus (pipe);
  GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1);
  GstBuffer *all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 2.6, long_word,
      1, 0);
  GList *bufs, *l, *msgs, *finals;
  GstFlowReturn fr;
  GstMessage *eos;
  g_auto (GStrv) texts = NULL;
  gboolean asked = FALSE;
  guint i;

  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, 16000, 1, 20);
  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next) {
    g_signal_emit_by_name (src, "push-buffer", l->data, &fr);
    fail_unless_equals_int (fr, GST_FLOW_OK);
  }
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  g_signal_emit_by_name (src, "end-of-stream", &fr);

  msgs = stt_check_collect (bus, NULL, 15000, reached, GUINT_TO_POINTER (2300));
  eos = gst_bus_timed_pop_filtered (bus, 15 * GST_SECOND, GST_MESSAGE_EOS |
      GST_MESSAGE_ERROR);
  fail_unless (eos != NULL && GST_MESSAGE_TYPE (eos) == GST_MESSAGE_EOS);
  gst_message_unref (eos);
  texts = stt_test_server_get_text_messages (stt_fx.server, 0);
  for (i = 0; texts[i]; i++)
    asked |= g_str_equal (texts[i], request);
  fail_unless (asked, "no %s sent", request);
  /* The word, cut where each request came: the pieces follow each other. */
  finals = stt_check_filter_final (msgs, TRUE);
  fail_unless (g_list_length (finals) >= 2);
  {
    GstClockTime expect = 300 * GST_MSECOND, pts, dur;

    for (l = finals; l; l = l->next) {
      fail_unless_equals_string (gst_structure_get_string (l->data, "text"), text);
      fail_unless (gst_structure_get_clock_time (l->data, "pts", &pts));
      fail_unless (gst_structure_get_clock_time (l->data, "duration", &dur));
      stt_check_assert_time (pts, expect, "piece start");
      expect = pts + dur;
    }
    stt_check_assert_time (expect, 2300 * GST_MSECOND, "word end");
  }
  for (l = msgs; l; l = l->next)
    fail_if (gst_structure_has_name (l->data, "error"));
  g_list_free (finals);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

/* --- replays and messages ----------------------------------------------------------- */

void
stt_fx_check_replay (SttCheckRun * r, gdouble from, gdouble cut)
{
  GBytes *audio0 = stt_test_server_get_audio (stt_fx.server, 0);
  GBytes *audio1 = stt_test_server_get_audio (stt_fx.server, 1);
  gssize at = stt_check_find_audio (r->input, audio1);
  gsize n0 = g_bytes_get_size (audio0) / 2, n1 = g_bytes_get_size (audio1) / 2;

  fail_unless_equals_int (stt_check_find_audio (r->input, audio0), 0);
  fail_unless (at >= from * STT_CHECK_RUN_RATE
      && at <= cut * STT_CHECK_RUN_RATE + STT_CHECK_RUN_RATE / 10,
      "replay from %" G_GSSIZE_FORMAT, at);
  fail_unless ((gsize) at <= n0, "a gap at %" G_GSSIZE_FORMAT, at);
  fail_unless_equals_int (at + n1, g_bytes_get_size (r->input) / 2);
  g_bytes_unref (audio0);
  g_bytes_unref (audio1);
}

JsonObject *
stt_fx_text_message (guint conn, guint i, JsonParser * parser)
{
  g_auto (GStrv) texts = stt_test_server_get_text_messages (stt_fx.server, conn);
  JsonNode *root;

  fail_unless (texts != NULL && i < g_strv_length (texts));
  fail_unless (json_parser_load_from_data (parser, texts[i], -1, NULL), "%s", texts[i]);
  root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}
