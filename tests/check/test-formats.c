/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every common input format reaches the service as S16LE mono at 16 kHz, of the right
 * duration, and is still heard as the same words at the same times. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"

static const SttTone tones[] = { {0.3, 0.7, 440} };

#define DURATION 1.0

static void
run_format (SttTestServer * server, guint index, GstAudioFormat format, guint rate,
    guint channels)
{
  g_autofree gchar *url = stt_test_server_get_url (server);
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  GBytes *audio;
  GstBuffer *text;
  GstMapInfo map;
  gsize samples;
  const gint16 *s;
  gsize i, peak_at = 0;
  gint peak = 0;
  GList *bufs, *l;
  GstBuffer *all;

  g_object_set (h->element, "provider", "deepgram", "url", url, "api-key", "test-key",
      NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (format, rate, channels));
  all = stt_check_make_audio (format, rate, channels, DURATION, tones, 1, 0);
  bufs = stt_check_split (all, format, rate, channels, 10);
  gst_buffer_unref (all);
  for (l = bufs; l; l = l->next)
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  g_list_free (bufs);
  gst_harness_push_event (h, gst_event_new_eos ());

  fail_unless (stt_test_server_wait_connections (server, index + 1, TRUE, 10000));
  audio = stt_test_server_get_audio (server, index);
  samples = g_bytes_get_size (audio) / 2;
  /* 16 kHz for DURATION seconds, give or take the resampler's rounding. */
  fail_unless (ABS ((gssize) samples - (gssize) (16000 * DURATION)) <= 2,
      "%s %u Hz %u ch: server got %" G_GSIZE_FORMAT " samples",
      gst_audio_format_to_string (format), rate, channels, samples);
  s = g_bytes_get_data (audio, NULL);
  for (i = 0; i < samples; i++) {
    if (ABS (s[i]) > peak) {
      peak = ABS (s[i]);
      peak_at = i;
    }
  }
  /* Amplitude 0.5 of full scale survives the conversion, inside the tone. */
  fail_unless (peak > 14000 && peak < 18000, "peak %d", peak);
  fail_unless (peak_at >= 0.3 * 16000 && peak_at < 0.7 * 16000);
  g_bytes_unref (audio);

  text = gst_harness_pull (h);
  fail_unless (text != NULL);
  gst_buffer_map (text, &map, GST_MAP_READ);
  fail_unless (map.size == 4 && memcmp (map.data, "w400", 4) == 0);
  gst_buffer_unmap (text, &map);
  fail_unless (ABS (GST_CLOCK_DIFF (GST_BUFFER_PTS (text), 300 * GST_MSECOND)) <=
      30 * GST_MSECOND);
  gst_buffer_unref (text);
  gst_harness_teardown (h);
}

GST_START_TEST (test_formats)
{
  static const GstAudioFormat formats[] = { GST_AUDIO_FORMAT_S16LE,
    GST_AUDIO_FORMAT_F32LE
  };
  static const guint rates[] = { 8000, 16000, 44100, 48000 };
  GError *err = NULL;
  SttTestServer *server = stt_test_server_new ("deepgram", &err);
  guint f, r, c, index = 0;

  fail_unless (server != NULL);
  for (f = 0; f < G_N_ELEMENTS (formats); f++)
    for (r = 0; r < G_N_ELEMENTS (rates); r++)
      for (c = 1; c <= 2; c++)
        run_format (server, index++, formats[f], rates[r], c);
  stt_test_server_free (server);
}

GST_END_TEST;

static Suite *
formats_suite (void)
{
  Suite *s = suite_create ("formats");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats);
  return s;
}

GST_CHECK_MAIN (formats);
