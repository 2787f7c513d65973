/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-tones: tone audio for the tests (see header). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "stt-test-tones.h"

gint16 *
stt_test_tones_render (guint rate, gdouble seconds, const SttTestTone * tones,
    guint n_tones, gsize * n_samples)
{
  gsize n = (gsize) (seconds * rate + 0.5);
  gint16 *samples = g_new0 (gint16, MAX (n, 1));
  guint t;

  for (t = 0; t < n_tones; t++) {
    gsize first = (gsize) (tones[t].start * rate + 0.5);
    gsize last = MIN (n, (gsize) (tones[t].end * rate + 0.5));
    gdouble amplitude = tones[t].amplitude > 0 ? tones[t].amplitude : 0.5;
    gsize i;

    for (i = first; i < last; i++)
      samples[i] = (gint16) (amplitude * 32767.0 *
          sin (2.0 * G_PI * tones[t].freq * (gdouble) (i - first) / rate));
  }
  *n_samples = n;
  return samples;
}

GBytes *
stt_test_tones_render_le (guint rate, gdouble seconds, const SttTestTone * tones,
    guint n_tones)
{
  gsize n, i;
  gint16 *samples = stt_test_tones_render (rate, seconds, tones, n_tones, &n);

  for (i = 0; i < n; i++)
    samples[i] = GINT16_TO_LE (samples[i]);
  return g_bytes_new_take (samples, n * sizeof (gint16));
}
