/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end with a real recognizer: speech made by flite, transcribed by
 * stt-local-server (pocketsphinx, the vosk-server protocol) through stttranscribe.
 * Asserts what a user checks: the words (word error rate), their times inside the
 * speech, and that a server restart mid-sentence loses nothing said afterwards.
 * STT_LOCAL_SERVER and FLITE name the programs (set by meson). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "stt-check-fixture.h"
#include "stt-fault-proxy.h"

static const gchar *const sentences[] = {
  "please call my mother tomorrow afternoon and tell her that i will be late for dinner",
  "turn on the kitchen light and set the temperature to twenty degrees please",
  NULL
};

static gchar *wav_path;
static gchar *spoken;
static GstClockTime speech_duration;

static void
make_speech (void)
{
  const gchar *argv[] = { g_getenv ("FLITE"), "-voice", "slt", "-t", NULL, "-o", NULL,
    NULL
  };
  gint status = -1;
  GError *err = NULL;
  gint fd;

  spoken = g_strjoinv (". ", (gchar **) sentences);
  fd = g_file_open_tmp ("stt-speech-XXXXXX.wav", &wav_path, NULL);
  close (fd);
  argv[4] = spoken;
  argv[6] = wav_path;
  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &err),
      "flite: %s", err ? err->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL));
  {
    /* The spoken text as a recognizer would write it: no punctuation. */
    gchar *p;
    for (p = spoken; *p; p++)
      if (*p == '.')
        *p = ' ';
  }
}

static GSubprocess *
start_server (guint * port)
{
  const gchar *argv[] = { g_getenv ("STT_LOCAL_SERVER"), "--port", "0", "--quiet", NULL };
  GSubprocess *proc = stt_check_spawn_server (argv, 30000, port);

  fail_unless (proc != NULL, "stt-local-server did not start");
  return proc;
}

/* The WAV file's samples as 16 kHz mono S16LE buffers of 20 ms. */
static GList *
speech_buffers (void)
{
  gchar *contents;
  gsize len, off;
  GList *bufs = NULL;
  const guint8 *data;
  guint32 rate, data_len = 0;
  gsize pos = 12;

  fail_unless (g_file_get_contents (wav_path, &contents, &len, NULL));
  /* flite writes a plain PCM WAV: find the "fmt " rate and the "data" chunk. */
  rate = GUINT32_FROM_LE (*(guint32 *) (contents + 24));
  fail_unless_equals_int (rate, 16000);
  while (pos + 8 <= len) {
    guint32 size = GUINT32_FROM_LE (*(guint32 *) (contents + pos + 4));
    if (memcmp (contents + pos, "data", 4) == 0) {
      data_len = MIN (size, len - pos - 8);
      break;
    }
    pos += 8 + size;
  }
  fail_unless (data_len > 0);
  data = (const guint8 *) contents + pos + 8;
  for (off = 0; off < data_len; off += 640) {
    gsize n = MIN (640, data_len - off);
    GstBuffer *b = gst_buffer_new_memdup (data + off, n);

    GST_BUFFER_PTS (b) = gst_util_uint64_scale (off / 2, GST_SECOND, 16000);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale (n / 2, GST_SECOND, 16000);
    bufs = g_list_append (bufs, b);
  }
  speech_duration = gst_util_uint64_scale (data_len / 2, GST_SECOND, 16000);
  g_free (contents);
  return bufs;
}

static GstHarness *
new_harness (guint port, GstBus ** bus)
{
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u", port);

  g_object_set (h->element, "url", url, "latency", (guint) 120000,
      "reconnect-initial-delay", 50 * GST_MSECOND, "reconnect-max-delay",
      300 * GST_MSECOND, "drain-timeout", 30 * GST_SECOND, NULL);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  gst_harness_set_src_caps_str (h, "audio/x-raw, format=S16LE, rate=16000, channels=1, "
      "layout=interleaved");
  return h;
}

/* Pulls the text buffers until EOS; checks their times lie inside the speech, returns
 * the transcript. */
static gchar *
pull_transcript (GstHarness * h)
{
  GString *text = g_string_new (NULL);
  GstBuffer *b;

  stt_check_harness_wait_eos (h);
  while ((b = gst_harness_try_pull (h))) {
    GstMapInfo map;

    fail_unless (GST_BUFFER_PTS_IS_VALID (b) && GST_BUFFER_DURATION_IS_VALID (b));
    fail_unless (GST_BUFFER_PTS (b) + GST_BUFFER_DURATION (b) <= speech_duration,
        "cue ends at %" GST_TIME_FORMAT " after the speech (%" GST_TIME_FORMAT ")",
        GST_TIME_ARGS (GST_BUFFER_PTS (b) + GST_BUFFER_DURATION (b)),
        GST_TIME_ARGS (speech_duration));
    gst_buffer_map (b, &map, GST_MAP_READ);
    if (text->len)
      g_string_append_c (text, ' ');
    g_string_append_len (text, (const gchar *) map.data, map.size);
    gst_buffer_unmap (b, &map);
    gst_buffer_unref (b);
  }
  return g_string_free (text, FALSE);
}

/* The flite speech through the local server with audio sent at @wire_rate (0: the
 * provider's 16 kHz): the words at most 15 % wrong, the cues inside the speech. */
static void
transcribe_speech (guint wire_rate)
{
  guint port;
  GSubprocess *server = start_server (&port);
  GstBus *bus;
  GstHarness *h = new_harness (port, &bus);
  GList *bufs = speech_buffers (), *l;
  g_autofree gchar *text = NULL;
  gdouble wer;

  if (wire_rate)
    g_object_set (h->element, "sample-rate", wire_rate, NULL);
  for (l = bufs; l; l = l->next)
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  g_list_free (bufs);
  gst_harness_push_event (h, gst_event_new_eos ());
  text = pull_transcript (h);
  wer = stt_check_wer (spoken, text);
  g_print ("spoken:      %s\nrecognized:  %s\nWER %.1f%%\n", spoken, text, wer * 100);
  fail_unless (wer <= 0.15, "word error rate %.1f%%: \"%s\"", wer * 100, text);
  stt_check_harness_free (h, bus);
  stt_check_stop_server (server);
}

GST_START_TEST (test_transcribe_speech)
{
  transcribe_speech (0);
}

GST_END_TEST;

/* A client that sends 48 kHz (sample_rate in the config message): the local server
 * resamples it to its model's 16 kHz. */
GST_START_TEST (test_transcribe_speech_48k)
{
  transcribe_speech (48000);
}

GST_END_TEST;

/* The server is killed in the middle of the second sentence and a new one starts: the
 * words of the second sentence all arrive (replayed), none twice. */
GST_START_TEST (test_restart_mid_sentence)
{
  guint port, port2;
  GSubprocess *server = start_server (&port);
  SttFaultProxy *proxy = stt_fault_proxy_new (port, NULL);
  GstBus *bus;
  GstHarness *h = new_harness (stt_fault_proxy_get_port (proxy), &bus);
  GList *bufs = speech_buffers (), *l;
  GstClockTime cut = speech_duration * 3 / 4;
  g_autofree gchar *text = NULL;
  gdouble wer;

  for (l = bufs; l; l = l->next) {
    if (GST_BUFFER_PTS (l->data) >= cut)
      break;
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  }
  /* Let the server hear it all, then kill it mid-sentence. */
  g_usleep (2 * G_USEC_PER_SEC);
  stt_fault_proxy_set_refuse (proxy, TRUE);
  stt_check_stop_server (server);
  for (; l; l = l->next)
    fail_unless_equals_int (gst_harness_push (h, l->data), GST_FLOW_OK);
  server = start_server (&port2);
  stt_fault_proxy_set_target (proxy, port2);
  stt_fault_proxy_set_refuse (proxy, FALSE);
  g_list_free (bufs);
  gst_harness_push_event (h, gst_event_new_eos ());
  text = pull_transcript (h);
  wer = stt_check_wer (spoken, text);
  g_print ("spoken:      %s\nrecognized:  %s\nWER %.1f%%\n", spoken, text, wer * 100);
  fail_unless (wer <= 0.15, "word error rate %.1f%%: \"%s\"", wer * 100, text);
  fail_unless (stt_fault_proxy_get_n_connections (proxy) >= 2);
  stt_check_harness_free (h, bus);
  stt_fault_proxy_free (proxy);
  stt_check_stop_server (server);
}

GST_END_TEST;

static Suite *
vosk_suite (void)
{
  Suite *s = suite_create ("vosk");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_unchecked_fixture (tc, make_speech, NULL);
  tcase_add_test (tc, test_transcribe_speech);
  tcase_add_test (tc, test_transcribe_speech_48k);
  tcase_add_test (tc, test_restart_mid_sentence);
  return s;
}

GST_CHECK_MAIN (vosk);
