/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recognizer: see recognizer.h. pocketsphinx decoding of one client's audio, the
 * vosk result messages, and finding the model.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Recognition:
 *   - Client audio at another rate is resampled to 16 kHz (GstAudioConverter)
 *     because the en-us model is a 16 kHz model.
 *   - Endpoints come from pocketsphinx's own VAD (-remove_silence yes): audio
 *     is fed in 20 ms slices and an utterance ends when ps_get_in_speech()
 *     drops after speech (after -vad_postspeech frames of silence).
 *   - Word times come from ps_seg_frames(), which counts 10 ms frames from
 *     ps_start_stream() (called once per connection), silence included.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <gst/audio/audio.h>

#include <pocketsphinx.h>
#include <sphinxbase/logmath.h>

#include "sttjson.h"
#include "recognizer.h"

#define FRAMES_PER_SECOND 100.0
/* Feeding 20 ms at a time keeps each VAD transition (it needs >= 10 frames
 * to flip) inside one slice, so an endpoint ends the right utterance. */
#define SLICE_SAMPLES 320

typedef struct
{
  gdouble start;
  gdouble end;
  gdouble conf;
  gchar *word;
} Word;

/* Client audio at another rate, converted to MODEL_RATE by GStreamer's audio
 * converter (its resampler keeps the filter state across messages). */
typedef struct
{
  gint in_rate;
  GstAudioConverter *conv;      /* NULL at MODEL_RATE */
} Resampler;

struct _Recognizer
{
  SttDecoder *dec;
  gboolean in_utt;
  gboolean speech_seen;
  gboolean words;
  Resampler rs;
  gboolean have_carry;
  guint8 carry;
  guint64 samples_in;           /* 16 kHz samples fed */
  gint64 decode_us;
};

/* ---------- JSON ---------- */

static gchar *
json_partial (const gchar * text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "partial");
  json_builder_add_string_value (b, text ? text : "");
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

/* Words in @words make one result; an empty array gives {"text":""}. */
static gchar *
json_result (GArray * words, gboolean with_words)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GString) text = g_string_new (NULL);
  guint i;

  json_builder_begin_object (b);
  if (with_words && words->len > 0) {
    json_builder_set_member_name (b, "result");
    json_builder_begin_array (b);
    for (i = 0; i < words->len; i++) {
      Word *w = &g_array_index (words, Word, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "conf");
      json_builder_add_double_value (b, w->conf);
      json_builder_set_member_name (b, "end");
      json_builder_add_double_value (b, w->end);
      json_builder_set_member_name (b, "start");
      json_builder_add_double_value (b, w->start);
      json_builder_set_member_name (b, "word");
      json_builder_add_string_value (b, w->word);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
  }
  for (i = 0; i < words->len; i++) {
    if (i > 0)
      g_string_append_c (text, ' ');
    g_string_append (text, g_array_index (words, Word, i).word);
  }
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text->str);
  json_builder_end_object (b);
  return stt_json_builder_to_string (b);
}

/* ---------- audio ---------- */

static void
resampler_clear (Resampler * rs)
{
  g_clear_pointer (&rs->conv, gst_audio_converter_free);
}

static void
resampler_reset (Resampler * rs, gint in_rate)
{
  GstAudioInfo in, out;

  resampler_clear (rs);
  rs->in_rate = in_rate;
  if (in_rate == MODEL_RATE)
    return;
  gst_audio_info_set_format (&in, GST_AUDIO_FORMAT_S16, in_rate, 1, NULL);
  gst_audio_info_set_format (&out, GST_AUDIO_FORMAT_S16, MODEL_RATE, 1, NULL);
  rs->conv = gst_audio_converter_new (GST_AUDIO_CONVERTER_FLAG_NONE, &in, &out, NULL);
}

/* Returns a newly allocated MODEL_RATE buffer for @n input samples. */
static gint16 *
resampler_process (Resampler * rs, const gint16 * in, gsize n, gsize * out_n)
{
  gsize cap = gst_audio_converter_get_out_frames (rs->conv, n);
  gint16 *out = g_new (gint16, MAX (cap, 1));
  gpointer inp[1] = { (gpointer) in }, outp[1] = { out };

  if (cap == 0 || !gst_audio_converter_samples (rs->conv, GST_AUDIO_CONVERTER_FLAG_NONE,
          inp, n, outp, cap))
    cap = 0;
  *out_n = cap;
  return out;
}

static void
word_clear (gpointer data)
{
  Word *w = data;

  g_free (w->word);
}

/* Fillers (<s>, <sil>, [NOISE], +NSN+...) are not words for a client. */
static gboolean
is_filler (const gchar * word)
{
  return word[0] == '<' || word[0] == '[' || word[0] == '+';
}

/* Drops "(2)" alternate-pronunciation suffixes: "the(2)" -> "the". */
static gchar *
base_word (const gchar * word)
{
  const gchar *paren = strchr (word, '(');

  if (paren && paren != word && g_str_has_suffix (word, ")"))
    return g_strndup (word, paren - word);
  return g_strdup (word);
}

/* Ends the open utterance and appends its words to @words. */
static void
end_utt (Recognizer * rec, GArray * words)
{
  ps_decoder_t *ps = stt_decoder_get_ps (rec->dec);
  logmath_t *lmath = ps_get_logmath (ps);
  ps_seg_t *seg;

  ps_end_utt (ps);
  rec->in_utt = FALSE;
  rec->speech_seen = FALSE;

  for (seg = ps_seg_iter (ps); seg; seg = ps_seg_next (seg)) {
    const gchar *name = ps_seg_word (seg);
    Word w;
    int sf, ef;

    if (is_filler (name))
      continue;
    ps_seg_frames (seg, &sf, &ef);
    w.start = sf / FRAMES_PER_SECOND;
    w.end = (ef + 1) / FRAMES_PER_SECOND;
    w.conf = CLAMP (logmath_exp (lmath, ps_seg_prob (seg, NULL, NULL, NULL)),
        0.0, 1.0);
    w.word = base_word (name);
    g_array_append_val (words, w);
  }
}

/* Feeds 16 kHz audio; every endpoint found closes an utterance whose words go
 * to @words. Returns TRUE if an endpoint was reached. */
static gboolean
feed (Recognizer * rec, const gint16 * pcm, gsize n, GArray * words,
    const gint * cancelled)
{
  ps_decoder_t *ps = stt_decoder_get_ps (rec->dec);
  gboolean endpoint = FALSE;

  /* A message can hold half a minute of audio: stop if the client left. */
  while (n > 0 && !g_atomic_int_get (cancelled)) {
    gsize k = MIN (n, SLICE_SAMPLES);

    if (!rec->in_utt) {
      ps_start_utt (ps);
      rec->in_utt = TRUE;
      rec->speech_seen = FALSE;
    }
    ps_process_raw (ps, pcm, k, FALSE, FALSE);
    rec->samples_in += k;
    if (ps_get_in_speech (ps)) {
      rec->speech_seen = TRUE;
    } else if (rec->speech_seen) {
      end_utt (rec, words);
      endpoint = TRUE;
    }
    pcm += k;
    n -= k;
  }
  return endpoint;
}

gchar *
recognizer_partial (Recognizer * rec)
{
  const gchar *hyp = NULL;
  int32 score;

  if (rec->in_utt && rec->speech_seen)
    hyp = ps_get_hyp (stt_decoder_get_ps (rec->dec), &score);
  return json_partial (hyp);
}

/* One audio message in, one reply out. */
gchar *
recognizer_accept (Recognizer * rec, GBytes * bytes, const gint * cancelled)
{
  g_autoptr (GArray) words = g_array_new (FALSE, FALSE, sizeof (Word));
  g_autofree gint16 *pcm = NULL;
  g_autofree gint16 *resampled = NULL;
  const guint8 *data;
  gsize size, n, i, o = 0;
  gboolean endpoint;
  gint64 t0;

  g_array_set_clear_func (words, word_clear);
  data = g_bytes_get_data (bytes, &size);

  /* A sample may straddle two messages: carry the odd byte over. */
  n = (size + (rec->have_carry ? 1 : 0)) / 2;
  pcm = g_new (gint16, MAX (n, 1));
  i = 0;
  if (rec->have_carry && size > 0) {
    pcm[o++] = (gint16) (rec->carry | (data[0] << 8));
    i = 1;
    rec->have_carry = FALSE;
  }
  for (; i + 1 < size; i += 2)
    pcm[o++] = (gint16) (data[i] | (data[i + 1] << 8));
  if (i < size) {
    rec->carry = data[i];
    rec->have_carry = TRUE;
  }

  t0 = g_get_monotonic_time ();
  if (rec->rs.in_rate != MODEL_RATE) {
    gsize out_n;

    resampled = resampler_process (&rec->rs, pcm, o, &out_n);
    endpoint = feed (rec, resampled, out_n, words, cancelled);
  } else {
    endpoint = feed (rec, pcm, o, words, cancelled);
  }
  rec->decode_us += g_get_monotonic_time () - t0;

  if (endpoint)
    return json_result (words, rec->words);
  return recognizer_partial (rec);
}

/* The final result of whatever is left. */
gchar *
recognizer_final (Recognizer * rec)
{
  g_autoptr (GArray) words = g_array_new (FALSE, FALSE, sizeof (Word));
  gint64 t0 = g_get_monotonic_time ();

  g_array_set_clear_func (words, word_clear);
  if (rec->in_utt)
    end_utt (rec, words);
  rec->decode_us += g_get_monotonic_time () - t0;
  return json_result (words, rec->words);
}

/* ---------- the recognizer ---------- */

Recognizer *
recognizer_new (void)
{
  Recognizer *rec = g_new0 (Recognizer, 1);

  rec->words = TRUE;
  resampler_reset (&rec->rs, MODEL_RATE);
  return rec;
}

void
recognizer_free (Recognizer * rec)
{
  g_assert (rec->dec == NULL);
  resampler_clear (&rec->rs);
  g_free (rec);
}

void
recognizer_configure (Recognizer * rec, gint rate, gboolean words)
{
  if (rate != rec->rs.in_rate)
    resampler_reset (&rec->rs, rate);
  rec->words = words;
}

gboolean
recognizer_has_decoder (Recognizer * rec)
{
  return rec->dec != NULL;
}

void
recognizer_set_decoder (Recognizer * rec, SttDecoder * dec)
{
  rec->dec = dec;
}

SttDecoder *
recognizer_take_decoder (Recognizer * rec)
{
  SttDecoder *dec = rec->dec;

  if (dec && rec->in_utt)
    ps_end_utt (stt_decoder_get_ps (dec));
  rec->in_utt = FALSE;
  rec->dec = NULL;
  return dec;
}

void
recognizer_get_times (Recognizer * rec, gdouble * audio, gdouble * decoding)
{
  *audio = (gdouble) rec->samples_in / MODEL_RATE;
  *decoding = rec->decode_us / 1e6;
}

/* ---------- model ---------- */

static gboolean
file_exists (const gchar * path)
{
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

/* The model dir is laid out like Debian's and upstream's en-us:
 *   DIR/<name>/mdef, DIR/<name>.lm.bin, DIR/cmudict-<name>.dict
 * DIR may also be the acoustic model directory itself. */
gboolean
recognizer_find_model (const gchar * model_dir, gchar ** hmm, gchar ** lm,
    gchar ** dict, GError ** error)
{
  g_autofree gchar *mdef = g_build_filename (model_dir, "mdef", NULL);
  g_autofree gchar *name = NULL;
  g_autofree gchar *top = NULL;

  if (!g_file_test (model_dir, G_FILE_TEST_IS_DIR))
    goto no_model_dir;

  if (file_exists (mdef)) {
    *hmm = g_strdup (model_dir);
    top = g_path_get_dirname (model_dir);
  } else {
    top = g_strdup (model_dir);
    name = g_path_get_basename (model_dir);
    *hmm = g_build_filename (top, name, NULL);
    g_free (mdef);
    mdef = g_build_filename (*hmm, "mdef", NULL);
    if (!file_exists (mdef))
      goto no_hmm;
  }
  g_clear_pointer (&name, g_free);
  name = g_path_get_basename (*hmm);

  if (!*lm) {
    g_autofree gchar *file = g_strdup_printf ("%s.lm.bin", name);

    *lm = g_build_filename (top, file, NULL);
  }
  if (!*dict) {
    g_autofree gchar *file = g_strdup_printf ("cmudict-%s.dict", name);

    *dict = g_build_filename (top, file, NULL);
  }
  if (!file_exists (*lm))
    goto no_lm;
  if (!file_exists (*dict))
    goto no_dict;
  return TRUE;

  /* ERRORS */
no_model_dir:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "model directory %s not found", model_dir);
    return FALSE;
  }
no_hmm:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "no acoustic model in %s (looked for %s/mdef and %s)",
        model_dir, model_dir, mdef);
    return FALSE;
  }
no_lm:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "language model %s not found", *lm);
    return FALSE;
  }
no_dict:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "pronunciation dictionary %s not found", *dict);
    return FALSE;
  }
}

static gboolean
is_ps_arg (const gchar * name)
{
  const arg_t *defs = ps_args ();
  guint i;

  for (i = 0; defs[i].name; i++)
    if (g_strcmp0 (defs[i].name, name) == 0)
      return TRUE;
  return FALSE;
}

/* "name=value" -> "-name", "value"; values are checked by pocketsphinx when
 * the first decoder is built. */
gboolean
recognizer_split_ps_args (gchar ** in, gchar *** out, GError ** error)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; in && in[i]; i++) {
    const gchar *arg = in[i];
    const gchar *eq;

    while (*arg == '-')
      arg++;
    eq = strchr (arg, '=');
    if (!eq || eq == arg) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--ps-arg expects NAME=VALUE, got \"%s\"", in[i]);
      return FALSE;
    }
    g_ptr_array_add (args, g_strdup_printf ("-%.*s", (int) (eq - arg), arg));
    if (!is_ps_arg (g_ptr_array_index (args, args->len - 1))) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--ps-arg: pocketsphinx has no argument %s",
          (gchar *) g_ptr_array_index (args, args->len - 1));
      return FALSE;
    }
    g_ptr_array_add (args, g_strdup (eq + 1));
  }
  g_ptr_array_add (args, NULL);
  *out = (gchar **) g_ptr_array_steal (args, NULL);
  return TRUE;
}

