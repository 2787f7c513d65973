/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recognizer: pocketsphinx for stt-local-server. Where the model files are, which
 * arguments pocketsphinx takes, and one client's audio turned into vosk's replies.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "decoders.h"

G_BEGIN_DECLS

/* The en-us acoustic model is trained on 16 kHz audio. Clients may send any rate
 * from MIN_CLIENT_RATE to MAX_CLIENT_RATE; it is resampled. */
#define MODEL_RATE 16000
#define MIN_CLIENT_RATE 4000
#define MAX_CLIENT_RATE 192000

/* Finds the acoustic model (@hmm), language model (@lm) and dictionary (@dict) from
 * --model DIR; @lm and @dict already set (--lm, --dict) are kept. FALSE with @error
 * naming the file that is missing. */
gboolean recognizer_find_model (const gchar * model_dir, gchar ** hmm,
    gchar ** lm, gchar ** dict, GError ** error);

/* --ps-arg values, "name=value", into the "-name", "value" pairs (NULL-terminated)
 * that stt_decoders_new() takes. FALSE with a G_OPTION_ERROR for a malformed one or
 * a name pocketsphinx does not know. */
gboolean recognizer_split_ps_args (gchar ** in, gchar *** out, GError ** error);

/* One client's recognition: a decoder, the resampler for its rate and the utterance
 * in progress. Used by one thread at a time. */
typedef struct _Recognizer Recognizer;

/* At MODEL_RATE, with word times in the results, without a decoder. */
Recognizer *recognizer_new (void);
/* It must have no decoder (recognizer_take_decoder()). */
void recognizer_free (Recognizer * rec);

/* The client's sample rate (MIN_CLIENT_RATE..MAX_CLIENT_RATE) and whether results
 * list their words with times. */
void recognizer_configure (Recognizer * rec, gint rate, gboolean words);

gboolean recognizer_has_decoder (Recognizer * rec);
void recognizer_set_decoder (Recognizer * rec, SttDecoder * dec);
/* Ends any utterance in progress (its words are lost) and hands the decoder back, or
 * NULL if it had none. */
SttDecoder *recognizer_take_decoder (Recognizer * rec);

/* Needs a decoder. Decodes @audio (S16LE mono at the client's rate) and returns the
 * reply: a result if an endpoint was reached, the partial result otherwise. Stops
 * early once *@cancelled (read atomically) is set. */
gchar *recognizer_accept (Recognizer * rec, GBytes * audio,
    const gint * cancelled);
/* The partial result of the utterance in progress ({"partial":""} without one). */
gchar *recognizer_partial (Recognizer * rec);
/* Ends the utterance in progress, if any: the final result ({"text":""} without
 * one). */
gchar *recognizer_final (Recognizer * rec);

/* Seconds of audio decoded so far, and seconds spent decoding it. */
void recognizer_get_times (Recognizer * rec, gdouble * audio,
    gdouble * decoding);

G_END_DECLS
