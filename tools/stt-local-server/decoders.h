/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decoders: the pocketsphinx decoders of stt-local-server, loaded before the
 * clients that use them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * pocketsphinx 5prealpha cannot share a loaded model between decoders: ps_init() loads
 * its own acoustic model, dictionary and language model, and the language model's
 * trie keeps a history cache that scoring writes to, so two threads may not decode
 * with one model. A decoder costs about 90 MB and 0.4-1 s of CPU to load.
 *
 * So decoders are loaded ahead of need by a loader thread: @ready of them at start-up
 * (the first one before stt_decoders_new() returns, which also checks the model), and
 * while clients hold decoders, one spare more than they hold, never more than @max
 * in all. A client takes a decoder that is already loaded; only when clients arrive
 * faster than decoders load does one wait, for the decoder being loaded. Idle
 * decoders beyond that are freed. Each client starts from the same state: the
 * model's initial cepstral means, frame count at zero. */
#pragma once

#include <glib.h>
#include <pocketsphinx.h>

G_BEGIN_DECLS

typedef struct _SttDecoders SttDecoders;
typedef struct _SttDecoder SttDecoder;

/* Gets a decoder that was not at hand when asked for, or NULL if loading it failed. */
typedef void (*SttDecoderFunc) (SttDecoder * dec, gpointer user_data);

/* @ps_args: extra "-name", "value" pairs, NULL-terminated. Loads one decoder before
 * returning; FALSE with @error if pocketsphinx cannot load the model. */
SttDecoders *stt_decoders_new (const gchar * hmm, const gchar * lm,
    const gchar * dict, gchar ** ps_args, guint ready, guint max,
    GError ** error);

/* Any thread. Returns an idle decoder, or NULL and calls @func (from the thread that
 * loads or releases one) once one is free. */
SttDecoder *stt_decoders_take (SttDecoders * decoders, SttDecoderFunc func,
    gpointer user_data);
/* Withdraws the wait of @user_data; TRUE if it was waiting (@func will not be
 * called), FALSE if it was not or has its decoder already. */
gboolean stt_decoders_cancel (SttDecoders * decoders, gpointer user_data);
/* Any thread; @dec out of any utterance. */
void stt_decoders_release (SttDecoders * decoders, SttDecoder * dec);

/* Decoders loaded now, and loads since start-up. */
void stt_decoders_get_counts (SttDecoders * decoders, guint * loaded,
    guint * loads);

/* Every decoder must have been released. For use at exit: with a load in
 * progress, the loader thread is left to finish it and nothing is freed. */
void stt_decoders_free (SttDecoders * decoders);

ps_decoder_t *stt_decoder_get_ps (SttDecoder * dec);

G_END_DECLS
