/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-tones: audio the test servers recognise, for the tests that feed them.
 *
 * Silence with sine tones: the analyzer hears each tone as one word named after its
 * frequency rounded to 100 Hz ("w400" for 440 Hz), from its start to its end (±10 ms).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gdouble freq;                 /* Hz */
  gdouble start;                /* seconds */
  gdouble end;
  gdouble amplitude;            /* of full scale 32767; 0 means 0.5 (about -6 dBFS) */
} SttTestTone;

/* @seconds of S16 mono samples in host endianness; each tone starts at phase 0. */
gint16 *stt_test_tones_render (guint rate, gdouble seconds, const SttTestTone * tones,
    guint n_tones, gsize * n_samples);
/* The same as S16LE bytes, as sent on the wire. */
GBytes *stt_test_tones_render_le (guint rate, gdouble seconds, const SttTestTone * tones,
    guint n_tones);

G_END_DECLS
