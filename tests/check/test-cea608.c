/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stttocea608: text in, CEA-608 byte pairs out, read back by a decoder written here from
 * the standard's tables (not from the element's), checking what a viewer would see and
 * when, and what a receiver needs on the wire: odd parity, doubled control codes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/app/app.h>

#define FRAME_NS(n, d) gst_util_uint64_scale (GST_SECOND, (d), (n))

/* ------------------------------------------------------------------------------------ */
/* A CEA-608 decoder, channel 1 field 1. */

typedef struct
{
  gunichar cell[16][32];        /* rows 1-15, 0 = empty */
} Memory;

typedef struct
{
  gchar *text;                  /* what the screen shows, rows joined by '\n' */
  GstClockTime pts;             /* from the frame that made it so */
} Shown;

typedef struct
{
  gunichar c;                   /* '\n' for a roll-up carriage return */
  GstClockTime pts;
} Typed;

typedef struct
{
  Memory mem[2];
  guint displayed;              /* index of displayed memory */
  enum
  { MODE_NONE, MODE_POP_ON, MODE_ROLL_UP } mode;
  guint rollup_rows;
  guint row, col;
  guint16 last_control;         /* previous pair when it was a control, else 0 */
  gboolean last_was_copy;
  guint control_run;            /* consecutive frames with the same control pair */
  guint16 run_code;
  guint odd_runs;               /* control codes not sent exactly twice */
  guint bad_parity;
  guint frames;
  GstClockTime next_pts;        /* the grid must be continuous */
  guint grid_breaks;
  GPtrArray *shown;             /* Shown*, each change of the screen */
  GArray *typed;                /* Typed, what roll-up wrote on screen, in order */
  GstClockTime pts;             /* of the pair being decoded */
} Decoder;

static const gunichar basic_overrides[128] = {
  [0x2a] = 0xe1,[0x5c] = 0xe9,[0x5e] = 0xed,[0x5f] = 0xf3,[0x60] = 0xfa,
  [0x7b] = 0xe7,[0x7c] = 0xf7,[0x7d] = 0xd1,[0x7e] = 0xf1,[0x7f] = 0x2588,
};

static const gunichar special_chars[16] = {
  0xae, 0xb0, 0xbd, 0xbf, 0x2122, 0xa2, 0xa3, 0x266a, 0xe0, 0xa0, 0xe8, 0xe2, 0xea,
  0xee, 0xf4, 0xfb
};

static const gunichar extended_12[32] = {
  0xc1, 0xc9, 0xd3, 0xda, 0xdc, 0xfc, 0x2018, 0xa1, '*', '\'', 0x2014, 0xa9, 0x2120,
  0x2022, 0x201c, 0x201d, 0xc0, 0xc2, 0xc7, 0xc8, 0xca, 0xcb, 0xeb, 0xce, 0xcf, 0xef,
  0xd4, 0xd9, 0xf9, 0xdb, 0xab, 0xbb
};

static const gunichar extended_13[32] = {
  0xc3, 0xe3, 0xcd, 0xcc, 0xec, 0xd2, 0xf2, 0xd5, 0xf5, '{', '}', '\\', '^', '_', '|',
  '~', 0xc4, 0xe4, 0xd6, 0xf6, 0xdf, 0xa5, 0xa4, 0x2502, 0xc5, 0xe5, 0xd8, 0xf8,
  0x250c, 0x2510, 0x2514, 0x2518
};

/* PAC first byte and bit 0x20 of the second -> row (CEA-608 table 53). */
static guint
pac_row (guint8 hi, guint8 lo)
{
  static const guint rows[8][2] = {
    {11, 0}, {1, 2}, {3, 4}, {12, 13}, {14, 15}, {5, 6}, {7, 8}, {9, 10}
  };
  return rows[hi & 0x07][(lo & 0x20) ? 1 : 0];
}

static gboolean
odd_parity_ok (guint8 b)
{
  return __builtin_popcount (b) % 2 == 1;
}

static Memory *
writing_memory (Decoder * d)
{
  return &d->mem[d->mode == MODE_POP_ON ? 1 - d->displayed : d->displayed];
}

static void
put_char (Decoder * d, gunichar c)
{
  if (d->row < 1 || d->row > 15)
    return;
  if (d->col < 32) {
    writing_memory (d)->cell[d->row][d->col] = c;
    if (d->mode == MODE_ROLL_UP) {
      Typed t = { c, d->pts };
      g_array_append_val (d->typed, t);
    }
  }
  if (d->col < 31)
    d->col++;
  else
    d->col = 32;
}

static gchar *
screen_text (Decoder * d)
{
  GString *s = g_string_new (NULL);
  Memory *m = &d->mem[d->displayed];
  guint r, c;

  for (r = 1; r <= 15; r++) {
    GString *line = g_string_new (NULL);

    for (c = 0; c < 32; c++)
      if (m->cell[r][c])
        g_string_append_unichar (line, m->cell[r][c]);
    g_strchomp (line->str);
    if (line->str[0]) {
      if (s->len)
        g_string_append_c (s, '\n');
      g_string_append (s, line->str);
    }
    g_string_free (line, TRUE);
  }
  return g_string_free (s, FALSE);
}

static void
control (Decoder * d, guint8 hi, guint8 lo)
{
  if (hi == 0x14 && lo >= 0x20 && lo <= 0x2f) {
    switch (lo) {
      case 0x20:               /* RCL */
        d->mode = MODE_POP_ON;
        break;
      case 0x21:               /* BS */
        if (d->col > 0)
          writing_memory (d)->cell[d->row][--d->col] = 0;
        break;
      case 0x25:               /* RU2 */
      case 0x26:               /* RU3 */
      case 0x27:               /* RU4 */
        if (d->mode != MODE_ROLL_UP)
          memset (&d->mem[d->displayed], 0, sizeof (Memory));
        d->mode = MODE_ROLL_UP;
        d->rollup_rows = lo - 0x23;
        d->row = 15;
        d->col = 0;
        break;
      case 0x2c:               /* EDM */
        memset (&d->mem[d->displayed], 0, sizeof (Memory));
        break;
      case 0x2d:               /* CR */
        if (d->mode == MODE_ROLL_UP) {
          Memory *m = &d->mem[d->displayed];
          guint top = d->row + 1 - d->rollup_rows, r;

          for (r = 1; r < 16; r++)
            if (r < top || r > d->row)
              memset (m->cell[r], 0, sizeof (m->cell[r]));
          for (r = top; r < d->row; r++)
            memcpy (m->cell[r], m->cell[r + 1], sizeof (m->cell[r]));
          memset (m->cell[d->row], 0, sizeof (m->cell[d->row]));
          d->col = 0;
          {
            Typed t = { '\n', d->pts };
            g_array_append_val (d->typed, t);
          }
        }
        break;
      case 0x2e:               /* ENM */
        memset (&d->mem[1 - d->displayed], 0, sizeof (Memory));
        break;
      case 0x2f:               /* EOC */
        d->displayed = 1 - d->displayed;
        d->mode = MODE_POP_ON;
        break;
      default:
        break;
    }
  } else if (hi == 0x11 && lo >= 0x30 && lo <= 0x3f) {
    put_char (d, special_chars[lo - 0x30]);
  } else if ((hi == 0x12 || hi == 0x13) && lo >= 0x20 && lo <= 0x3f) {
    const gunichar *table = hi == 0x12 ? extended_12 : extended_13;

    /* Replaces the basic fallback before it. */
    if (d->col > 0) {
      d->col--;
      if (d->mode == MODE_ROLL_UP && d->typed->len > 0
          && g_array_index (d->typed, Typed, d->typed->len - 1).c != '\n')
        g_array_set_size (d->typed, d->typed->len - 1);
    }
    put_char (d, table[lo - 0x20]);
  } else if (lo >= 0x40 && lo <= 0x7f) {
    guint row = pac_row (hi, lo);

    if (d->mode == MODE_ROLL_UP && row != d->row) {
      /* The window moves with the base row; the test only uses row 15. */
    }
    d->row = row;
    d->col = (lo & 0x10) ? ((lo & 0x0e) >> 1) * 4 : 0;
  } else if (hi == 0x17 && lo >= 0x21 && lo <= 0x23) {
    d->col = MIN (d->col + (lo - 0x20), 31);
  } else if (hi == 0x11 && lo >= 0x20 && lo <= 0x2f) {
    put_char (d, ' ');          /* mid-row code: a space */
  }
}

static void
decoder_init (Decoder * d)
{
  memset (d, 0, sizeof (*d));
  d->row = 15;
  d->next_pts = GST_CLOCK_TIME_NONE;
  d->shown = g_ptr_array_new ();
  d->typed = g_array_new (FALSE, FALSE, sizeof (Typed));
}

static void
decoder_clear (Decoder * d)
{
  guint i;

  for (i = 0; i < d->shown->len; i++) {
    Shown *s = g_ptr_array_index (d->shown, i);
    g_free (s->text);
    g_free (s);
  }
  g_ptr_array_unref (d->shown);
  g_array_unref (d->typed);
}

static void
end_run (Decoder * d)
{
  if (d->control_run % 2 != 0) {
    GST_INFO ("control %04x sent %u times", d->run_code, d->control_run);
    d->odd_runs++;
  }
  d->control_run = 0;
}

static void
decode_pair (Decoder * d, guint8 b0, guint8 b1, GstClockTime pts)
{
  guint8 hi = b0 & 0x7f, lo = b1 & 0x7f;
  guint16 code = (hi << 8) | lo;
  g_autofree gchar *before = screen_text (d);
  gchar *after;

  d->frames++;
  d->pts = pts;
  if (!odd_parity_ok (b0) || !odd_parity_ok (b1))
    d->bad_parity++;

  if (hi >= 0x10 && hi <= 0x1f) {
    if (d->control_run && d->run_code == code) {
      d->control_run++;
    } else {
      end_run (d);
      d->control_run = 1;
      d->run_code = code;
    }
    /* A receiver ignores the second copy of a control pair. */
    if (d->last_control == code && !d->last_was_copy) {
      d->last_was_copy = TRUE;
    } else {
      d->last_was_copy = FALSE;
      control (d, hi, lo);
    }
    d->last_control = code;
  } else {
    end_run (d);
    d->last_control = 0;
    if (hi >= 0x20)
      put_char (d, basic_overrides[hi] ? basic_overrides[hi] : hi);
    if (lo >= 0x20)
      put_char (d, basic_overrides[lo] ? basic_overrides[lo] : lo);
  }

  after = screen_text (d);
  if (strcmp (before, after) != 0) {
    Shown *s = g_new0 (Shown, 1);
    s->text = after;
    s->pts = pts;
    g_ptr_array_add (d->shown, s);
  } else {
    g_free (after);
  }
}

static void
decode_buffer (Decoder * d, GstBuffer * buf)
{
  GstMapInfo map;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless_equals_int (map.size, 2);
  if (GST_CLOCK_TIME_IS_VALID (d->next_pts) && GST_BUFFER_PTS (buf) != d->next_pts)
    d->grid_breaks++;
  fail_unless (GST_BUFFER_DURATION_IS_VALID (buf));
  d->next_pts = GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf);
  decode_pair (d, map.data[0], map.data[1], GST_BUFFER_PTS (buf));
  gst_buffer_unmap (buf, &map);
}

/* The first time the screen shows @text (exactly, or as a row when @row). */
static GstClockTime
first_shown (Decoder * d, const gchar * text, gboolean as_row)
{
  guint i;

  for (i = 0; i < d->shown->len; i++) {
    Shown *s = g_ptr_array_index (d->shown, i);
    if (as_row ? strstr (s->text, text) != NULL : strcmp (s->text, text) == 0)
      return s->pts;
  }
  return GST_CLOCK_TIME_NONE;
}

/* The first time after @from that the screen shows exactly @text. */
static GstClockTime
shown_after (Decoder * d, const gchar * text, GstClockTime from)
{
  guint i;

  for (i = 0; i < d->shown->len; i++) {
    Shown *s = g_ptr_array_index (d->shown, i);
    if (s->pts > from && strcmp (s->text, text) == 0)
      return s->pts;
  }
  return GST_CLOCK_TIME_NONE;
}

static const gchar *
last_shown (Decoder * d)
{
  if (d->shown->len == 0)
    return "";
  return ((Shown *) g_ptr_array_index (d->shown, d->shown->len - 1))->text;
}

/* The rows roll-up wrote, in order, each as it was when the next carriage return rolled
 * it up (the stream's first carriage return opens the first row). */
static gchar **
typed_rows (Decoder * d)
{
  g_autoptr (GString) s = g_string_new (NULL);
  guint i = 0;

  if (d->typed->len > 0 && g_array_index (d->typed, Typed, 0).c == '\n')
    i = 1;
  for (; i < d->typed->len; i++)
    g_string_append_unichar (s, g_array_index (d->typed, Typed, i).c);
  return g_strsplit (s->str, "\n", -1);
}

static void
assert_rows (Decoder * d, const gchar * const *want)
{
  g_auto (GStrv) rows = typed_rows (d);
  g_autofree gchar *got = g_strjoinv ("|", rows);
  g_autofree gchar *wanted = g_strjoinv ("|", (gchar **) want);

  fail_unless_equals_string (got, wanted);
}

static gboolean
is_break (Decoder * d, guint i)
{
  gunichar c = g_array_index (d->typed, Typed, i).c;
  return c == ' ' || c == '\n';
}

/* When the first character of @word (ASCII) showed: its first occurrence as a whole word
 * at or after @from in what roll-up wrote; @from moves past it. */
static GstClockTime
typed_word_time (Decoder * d, const gchar * word, guint * from)
{
  guint n = strlen (word), i, k;

  for (i = *from; i + n <= d->typed->len; i++) {
    for (k = 0; k < n && g_array_index (d->typed, Typed, i + k).c == (gunichar) word[k];
        k++);
    if (k < n || (i > 0 && !is_break (d, i - 1))
        || (i + n < d->typed->len && !is_break (d, i + n)))
      continue;
    *from = i + n;
    return g_array_index (d->typed, Typed, i).pts;
  }
  return GST_CLOCK_TIME_NONE;
}

/* ------------------------------------------------------------------------------------ */

static GstHarness *
new_harness (const gchar * mode)
{
  GstHarness *h = gst_harness_new ("stttocea608");

  gst_util_set_object_arg (G_OBJECT (h->element), "mode", mode);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  return h;
}

static void
push_text (GstHarness * h, const gchar * text, GstClockTime pts, GstClockTime dur)
{
  GstBuffer *buf = gst_buffer_new_memdup (text, strlen (text));

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = dur;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
}

/* Ends the stream at @end and decodes everything pushed. */
static void
finish (GstHarness * h, Decoder * d, GstClockTime end)
{
  GstBuffer *buf;

  fail_unless (gst_harness_push_event (h, gst_event_new_gap (end, 0)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((buf = gst_harness_try_pull (h))) {
    decode_buffer (d, buf);
    gst_buffer_unref (buf);
  }
  end_run (d);
  fail_unless_equals_int (d->bad_parity, 0);
  fail_unless_equals_int (d->odd_runs, 0);
  fail_unless_equals_int (d->grid_breaks, 0);
}

#define FRAME FRAME_NS (30000, 1001)

#define MS(ms) ((GstClockTime) (ms) * GST_MSECOND)

typedef struct
{
  const gchar *text;            /* NULL: the custom event @event instead */
  GstClockTime pts, dur;
  const gchar *event;
} Item;

/* Pushes @items, then ends the stream at @end and decodes it. */
static void
push_items (GstHarness * h, Decoder * d, const Item * items, guint n, GstClockTime end)
{
  guint i;

  for (i = 0; i < n; i++) {
    if (items[i].text) {
      push_text (h, items[i].text, items[i].pts, items[i].dur);
    } else {
      fail_unless (gst_harness_push_event (h,
              gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM,
                  gst_structure_new_empty (items[i].event))));
    }
  }
  finish (h, d, end);
}

/* The first character of @word shows in the frame at or after @pts, two frames at most
 * later (frames are 33.4 ms; a word has its own frames when nothing is queued). */
static void
assert_word_time (Decoder * d, const gchar * word, guint * from, GstClockTime pts)
{
  GstClockTime got = typed_word_time (d, word, from);

  fail_unless (GST_CLOCK_TIME_IS_VALID (got), "'%s' never shown", word);
  fail_unless (got >= pts && got <= pts + 2 * FRAME,
      "'%s' shown at %" GST_TIME_FORMAT ", its PTS is %" GST_TIME_FORMAT, word,
      GST_TIME_ARGS (got), GST_TIME_ARGS (pts));
}

static void
assert_near (GstClockTime got, GstClockTime want, guint frames)
{
  fail_unless (GST_CLOCK_TIME_IS_VALID (got), "never shown (wanted at %" GST_TIME_FORMAT
      ")", GST_TIME_ARGS (want));
  fail_unless (got + frames * FRAME >= want && got <= want + frames * FRAME,
      "shown at %" GST_TIME_FORMAT ", wanted %" GST_TIME_FORMAT, GST_TIME_ARGS (got),
      GST_TIME_ARGS (want));
}

GST_START_TEST (test_pop_on)
{
  GstHarness *h = new_harness ("pop-on");
  Decoder d;
  GstCaps *caps;
  gint n, dd;
  guint i;

  decoder_init (&d);
  push_text (h, "Hello world", 1 * GST_SECOND, GST_SECOND);
  push_text (h, "A second caption", 3 * GST_SECOND, GST_SECOND);
  finish (h, &d, 5 * GST_SECOND);

  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (caps, 0),
          "closedcaption/x-cea-608"));
  fail_unless_equals_string (gst_structure_get_string (gst_caps_get_structure (caps, 0),
          "format"), "raw");
  fail_unless (gst_structure_get_fraction (gst_caps_get_structure (caps, 0), "framerate",
          &n, &dd));
  fail_unless (n == 30000 && dd == 1001);
  gst_caps_unref (caps);

  /* Shown whole at its time, erased at its end, then the next. */
  for (i = 0; i < d.shown->len; i++) {
    Shown *s = g_ptr_array_index (d.shown, i);
    GST_INFO ("%" GST_TIME_FORMAT " '%s'", GST_TIME_ARGS (s->pts), s->text);
  }
  fail_unless_equals_int (d.shown->len, 4);
  assert_near (first_shown (&d, "Hello world", FALSE), 1 * GST_SECOND, 2);
  fail_unless_equals_string (((Shown *) g_ptr_array_index (d.shown, 1))->text, "");
  assert_near (((Shown *) g_ptr_array_index (d.shown, 1))->pts, 2 * GST_SECOND, 2);
  assert_near (first_shown (&d, "A second caption", FALSE), 3 * GST_SECOND, 2);
  assert_near (((Shown *) g_ptr_array_index (d.shown, 3))->pts, 4 * GST_SECOND, 2);
  /* Padding up to the GAP: the stream reaches 5 s. */
  fail_unless (d.next_pts >= 5 * GST_SECOND - FRAME);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_roll_up)
{
  GstHarness *h = new_harness ("roll-up2");
  Decoder d;

  /* Captions 1.5 s apart (more than roll-up-pause): each starts a new row. */
  decoder_init (&d);
  push_text (h, "one", 1 * GST_SECOND, 500 * GST_MSECOND);
  push_text (h, "two", 3 * GST_SECOND, 500 * GST_MSECOND);
  push_text (h, "three", 5 * GST_SECOND, 500 * GST_MSECOND);
  finish (h, &d, 6 * GST_SECOND);

  /* Each line starts at its time and the window keeps two rows. */
  /* Two characters a frame: the first pair of each line. */
  assert_near (first_shown (&d, "on", FALSE), 1 * GST_SECOND, 2);
  assert_near (first_shown (&d, "one\ntw", FALSE), 3 * GST_SECOND, 2);
  assert_near (first_shown (&d, "two\nth", FALSE), 5 * GST_SECOND, 2);
  fail_unless_equals_string (last_shown (&d), "two\nthree");
  decoder_clear (&d);
  gst_harness_teardown (h);

  h = new_harness ("roll-up3");
  decoder_init (&d);
  push_text (h, "one", 1 * GST_SECOND, 500 * GST_MSECOND);
  push_text (h, "two", 3 * GST_SECOND, 500 * GST_MSECOND);
  push_text (h, "three", 5 * GST_SECOND, 500 * GST_MSECOND);
  push_text (h, "four", 7 * GST_SECOND, 500 * GST_MSECOND);
  finish (h, &d, 8 * GST_SECOND);
  fail_unless_equals_string (last_shown (&d), "two\nthree\nfour");
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* One buffer per word (stttranscribe output-mode=words): the words fill the row, a
 * carriage return only when the next word does not fit, each word out at its time. */
GST_START_TEST (test_roll_up_words)
{
  static const gchar *const words[] = { "Captions", "for", "live", "speech", "arrive",
    "one", "word", "at", "a", "time", "and", "must", "fill", "each", "row", NULL
  };
  /* 31 columns ("one" would make 35), exactly 32, the rest. */
  static const gchar *const rows[] = { "Captions for live speech arrive",
    "one word at a time and must fill", "each row", NULL
  };
  GstHarness *h = new_harness ("roll-up2");
  Decoder d;
  guint i, from = 0;

  decoder_init (&d);
  for (i = 0; words[i]; i++)
    push_text (h, words[i], GST_SECOND + i * MS (500), MS (400));
  finish (h, &d, 10 * GST_SECOND);

  assert_rows (&d, rows);
  for (i = 0; words[i]; i++)
    assert_word_time (&d, words[i], &from, GST_SECOND + i * MS (500));
  fail_unless_equals_string (last_shown (&d), "one word at a time and must fill\n"
      "each row");
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A pause longer than roll-up-pause (default 1 s) starts a new row; a shorter one does
 * not. */
GST_START_TEST (test_roll_up_pause)
{
  static const Item items[] = {
    {"Before", MS (1000), MS (300)}, {"the", MS (1400), MS (300)},
    {"pause", MS (1800), MS (400)},
    {"after", MS (3500), MS (300)},     /* 1.3 s after "pause" ends */
    {"it", MS (3900), MS (300)},
    {"again", MS (5100), MS (300)},     /* 0.9 s after "it" ends */
  };
  static const struct
  {
    guint64 pause;              /* 0: the default */
    const gchar *rows[4];
  } cases[] = {
    {0, {"Before the pause", "after it again", NULL}},
    {2 * GST_SECOND, {"Before the pause after it again", NULL}},
    {500 * GST_MSECOND, {"Before the pause", "after it", "again", NULL}},
  };
  guint c;

  for (c = 0; c < G_N_ELEMENTS (cases); c++) {
    GstHarness *h = new_harness ("roll-up2");
    Decoder d;
    guint64 pause = 0;
    guint from = 0;

    g_object_get (h->element, "roll-up-pause", &pause, NULL);
    fail_unless_equals_uint64 (pause, GST_SECOND);
    if (cases[c].pause) {
      g_object_set (h->element, "roll-up-pause", cases[c].pause, NULL);
      g_object_get (h->element, "roll-up-pause", &pause, NULL);
      fail_unless_equals_uint64 (pause, cases[c].pause);
    }
    decoder_init (&d);
    push_items (h, &d, items, G_N_ELEMENTS (items), 7 * GST_SECOND);
    assert_rows (&d, cases[c].rows);
    /* The new row's carriage return goes out before the word's time. */
    assert_word_time (&d, "after", &from, MS (3500));
    assert_word_time (&d, "again", &from, MS (5100));
    decoder_clear (&d);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Whole sentences (output-mode=segments) continue the row too; punctuation sent as a
 * word of its own sticks to the previous word; the gst-plugins-rs transcribers' end of
 * utterance and change of speaker start a new row. */
GST_START_TEST (test_roll_up_joins)
{
  static const Item items[] = {
    {"Short one.", MS (1000), MS (1000)},
    {"And another sentence.", MS (2200), MS (1500)},
    /* Blanks around the punctuation change nothing. */
    {"Hello", MS (3900), MS (300)}, {" , ", MS (4200), 0},
    {"world", MS (4300), MS (300)}, {".", MS (4600), 0},
    {NULL, 0, 0, "rstranscribe/final-transcript"},
    {"Next", MS (4800), MS (200)},
    {NULL, 0, 0, "rstranscribe/speaker-change"},
    {"Other", MS (5100), MS (200)},
  };
  static const gchar *const rows[] = { "Short one. And another sentence.",
    "Hello, world.", "Next", "Other", NULL
  };
  GstHarness *h = new_harness ("roll-up3");
  Decoder d;
  guint from = 0;

  decoder_init (&d);
  push_items (h, &d, items, G_N_ELEMENTS (items), 6 * GST_SECOND);
  assert_rows (&d, rows);
  assert_word_time (&d, "And", &from, MS (2200));
  assert_word_time (&d, "Next", &from, MS (4800));
  fail_unless_equals_string (last_shown (&d), "Hello, world.\nNext\nOther");
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* "\n" in the text: a new row in roll-up, a new line in pop-on. */
GST_START_TEST (test_newline)
{
  static const Item items[] = {
    {"First line\nsecond", MS (1000), MS (1000)},
    {"part", MS (2100), MS (300)},
    {"ends here.\n", MS (2500), MS (400)},
    {"next", MS (3000), MS (300)},
  };
  static const gchar *const rows[] = { "First line", "second part ends here.", "next",
    NULL
  };
  GstHarness *h = new_harness ("roll-up2");
  Decoder d;

  decoder_init (&d);
  push_items (h, &d, items, G_N_ELEMENTS (items), 4 * GST_SECOND);
  assert_rows (&d, rows);
  decoder_clear (&d);
  gst_harness_teardown (h);

  h = new_harness ("pop-on");
  decoder_init (&d);
  push_text (h, "Top line\nbottom", GST_SECOND, GST_SECOND);
  push_text (h, "\nAlpha\n\nBeta\n", 3 * GST_SECOND, GST_SECOND);
  finish (h, &d, 5 * GST_SECOND);
  assert_near (first_shown (&d, "Top line\nbottom", FALSE), GST_SECOND, 2);
  assert_near (first_shown (&d, "Alpha\nBeta", FALSE), 3 * GST_SECOND, 2);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

static const gchar *long_text = "The quick brown fox jumps over the lazy dog while "
    "captions wrap at thirty-two columns on word boundaries";
/* Filled up to 32 columns, never beyond, cut only between words. */
static const gchar *long_rows[] = { "The quick brown fox jumps over",
  "the lazy dog while captions wrap", "at thirty-two columns on word", "boundaries"
};

GST_START_TEST (test_wrap)
{
  const gchar *modes[] = { "pop-on", "roll-up3" };
  guint m;

  for (m = 0; m < G_N_ELEMENTS (modes); m++) {
    GstHarness *h = new_harness (modes[m]);
    Decoder d;
    g_autofree gchar *want = NULL;
    GstBuffer *buf;

    decoder_init (&d);
    /* Four full rows take 2.6 s of pairs: pop-on loads them before its time. */
    push_text (h, long_text, 4 * GST_SECOND, 3 * GST_SECOND);
    /* Stop before the pop-on erase. */
    fail_unless (gst_harness_push_event (h, gst_event_new_gap (6 * GST_SECOND, 0)));
    while ((buf = gst_harness_try_pull (h))) {
      decode_buffer (&d, buf);
      gst_buffer_unref (buf);
    }
    if (m == 0) {
      want = g_strjoin ("\n", long_rows[0], long_rows[1], long_rows[2], long_rows[3],
          NULL);
      /* Pop-on: all at once, at its time. */
      assert_near (first_shown (&d, want, FALSE), 4 * GST_SECOND, 2);
    } else {
      /* Roll-up: the window keeps the last three rows. */
      want = g_strjoin ("\n", long_rows[1], long_rows[2], long_rows[3], NULL);
      assert_near (first_shown (&d, "Th", FALSE), 4 * GST_SECOND, 2);
      fail_unless (first_shown (&d, "The quick brown fox jumps over", FALSE) !=
          GST_CLOCK_TIME_NONE);
    }
    fail_unless_equals_string (last_shown (&d), want);
    fail_unless_equals_int (d.bad_parity, 0);
    decoder_clear (&d);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* More rows than pop-on shows (4): pages that share the caption's time. */
GST_START_TEST (test_pages)
{
  GstHarness *h = new_harness ("pop-on");
  g_autofree gchar *text = g_strjoin (" ", long_text, long_text, NULL);
  g_autofree gchar *page1 = g_strjoin ("\n", long_rows[0], long_rows[1], long_rows[2],
      "boundaries The quick brown fox", NULL);
  Decoder d;

  decoder_init (&d);
  /* Seven rows: a page of four at 4 s, one of three at 7 s, erased at 10 s. */
  push_text (h, text, 4 * GST_SECOND, 6 * GST_SECOND);
  finish (h, &d, 11 * GST_SECOND);
  assert_near (first_shown (&d, page1, FALSE), 4 * GST_SECOND, 2);
  assert_near (first_shown (&d, "jumps over the lazy dog while\ncaptions wrap at "
          "thirty-two\ncolumns on word boundaries", FALSE), 7 * GST_SECOND, 2);
  fail_unless_equals_string (last_shown (&d), "");
  assert_near (((Shown *) g_ptr_array_index (d.shown, d.shown->len - 1))->pts,
      10 * GST_SECOND, 2);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_characters)
{
  GstHarness *h = new_harness ("pop-on");
  Decoder d;

  decoder_init (&d);
  /* Basic-set positions, special characters, extended sets, a letter that loses its
   * accent, and characters with no equivalent (dropped). */
  push_text (h, "¿Qué? año, café, çà ñÑ É ½ 50° ♪ Öl ă 日本x", GST_SECOND,
      2 * GST_SECOND);
  finish (h, &d, 4 * GST_SECOND);
  fail_unless (d.shown->len >= 1);
  fail_unless_equals_string (((Shown *) g_ptr_array_index (d.shown, 0))->text,
      "¿Qué? año, café, çà ñÑ É ½ 50° ♪\nÖl a x");
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A word longer than a row is cut where the row ends; the grid starts at the first GAP;
 * text without a PTS goes out at once. */
GST_START_TEST (test_odd_input)
{
  GstHarness *h = new_harness ("pop-on");
  Decoder d;
  GstBuffer *buf;

  decoder_init (&d);
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (10 * GST_SECOND,
              GST_SECOND)));
  buf = gst_harness_pull (h);
  /* The first frame is the GAP's start, not the segment's. */
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), 10 * GST_SECOND);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  decode_buffer (&d, buf);
  gst_buffer_unref (buf);
  while ((buf = gst_harness_try_pull (h))) {
    decode_buffer (&d, buf);
    gst_buffer_unref (buf);
  }
  fail_unless_equals_int (d.frames, 30);
  push_text (h, "Supercalifragilisticexpialidocious-and-more ok", 12 * GST_SECOND,
      2 * GST_SECOND);
  push_text (h, "now", GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE);
  finish (h, &d, 16 * GST_SECOND);
  assert_near (first_shown (&d, "Supercalifragilisticexpialidocio\nus-and-more ok", FALSE),
      12 * GST_SECOND, 2);
  fail_unless_equals_string (last_shown (&d), "now");
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Captions that come faster than they can be sent wait their turn and keep order. */
GST_START_TEST (test_late)
{
  GstHarness *h = new_harness ("pop-on");
  Decoder d;

  decoder_init (&d);
  push_text (h, "first caption of some length", GST_SECOND, 100 * GST_MSECOND);
  push_text (h, "second", GST_SECOND + 50 * GST_MSECOND, GST_SECOND);
  finish (h, &d, 3 * GST_SECOND);
  fail_unless (first_shown (&d, "first caption of some length", FALSE) <
      first_shown (&d, "second", FALSE));
  assert_near (first_shown (&d, "first caption of some length", FALSE), GST_SECOND, 2);
  /* As soon as its bytes fit after the first's: well under half a second. */
  fail_unless (first_shown (&d, "second", FALSE) < GST_SECOND + 500 * GST_MSECOND);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The mode changes at the next caption, and nothing of the old mode stays on screen. */
GST_START_TEST (test_mode_switch)
{
  GstHarness *h = new_harness ("roll-up2");
  Decoder d;

  decoder_init (&d);
  push_text (h, "rolling", GST_SECOND, GST_SECOND);
  gst_util_set_object_arg (G_OBJECT (h->element), "mode", "pop-on");
  push_text (h, "popped", 2 * GST_SECOND, 5 * GST_SECOND);
  gst_util_set_object_arg (G_OBJECT (h->element), "mode", "roll-up3");
  push_text (h, "rolling again", 3 * GST_SECOND, GST_SECOND);
  finish (h, &d, 4 * GST_SECOND);
  assert_near (first_shown (&d, "ro", FALSE), GST_SECOND, 2);
  assert_near (first_shown (&d, "popped", FALSE), 2 * GST_SECOND, 2);
  /* RU3 and EDM clear the pop-on caption; the new line starts at its time. */
  assert_near (shown_after (&d, "ro", 2 * GST_SECOND), 3 * GST_SECOND, 2);
  fail_unless_equals_string (last_shown (&d), "rolling again");
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_framerate)
{
  GstHarness *h = gst_harness_new ("stttocea608");
  GstBuffer *buf;
  guint count = 0;

  gst_harness_set_sink_caps_str (h, "closedcaption/x-cea-608, format=raw, "
      "framerate=25/1");
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  push_text (h, "hi", 0, GST_SECOND);
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (GST_SECOND, 0)));
  while ((buf = gst_harness_try_pull (h))) {
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), count * 40 * GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), 40 * GST_MSECOND);
    count++;
    gst_buffer_unref (buf);
  }
  fail_unless_equals_int (count, 25);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_flush)
{
  GstHarness *h = new_harness ("pop-on");
  Decoder d;
  GstBuffer *buf;

  push_text (h, "before the seek", 10 * GST_SECOND, GST_SECOND);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    seg.start = seg.time = 2 * GST_SECOND;
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  }
  while ((buf = gst_harness_try_pull (h)))
    gst_buffer_unref (buf);

  /* After the flush the grid restarts with the new data. */
  decoder_init (&d);
  push_text (h, "after", 3 * GST_SECOND, GST_SECOND);
  finish (h, &d, 5 * GST_SECOND);
  assert_near (first_shown (&d, "after", FALSE), 3 * GST_SECOND, 2);
  /* The grid starts at the new segment, not at the old stream's frames. */
  fail_unless (d.frames <= 3 * 30 + 2, "%u frames", d.frames);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* ------------------------------------------------------------------------------------ */
/* Downstream elements accept the output. */

static gboolean
have_elements (const gchar * const *names)
{
  for (; *names; names++) {
    if (!gst_registry_check_feature_version (gst_registry_get (), *names, 1, 16, 0)) {
      GST_WARNING ("no %s: skipped", *names);
      return FALSE;
    }
  }
  return TRUE;
}

GST_START_TEST (test_ccconverter)
{
  GstHarness *h;
  Decoder d;
  GstBuffer *buf;
  guint cdps = 0;

  if (!have_elements ((const gchar *[]) { "ccconverter", NULL}))
    return;
  h = gst_harness_new_parse ("stttocea608 mode=pop-on ! ccconverter ! "
      "capsfilter caps=closedcaption/x-cea-708,format=cdp");
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  decoder_init (&d);
  push_text (h, "Through ccconverter", GST_SECOND, GST_SECOND);
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (3 * GST_SECOND, 0)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  /* The 608 pairs ride in the CDP's cc_data as field 1 triplets (0xfc). */
  while ((buf = gst_harness_try_pull (h))) {
    GstMapInfo map;
    guint i, n;

    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    fail_unless (map.size > 11 && map.data[0] == 0x96 && map.data[1] == 0x69);
    fail_unless_equals_int (map.data[7], 0x72);
    n = map.data[8] & 0x1f;
    for (i = 0; i < n; i++) {
      const guint8 *t = map.data + 9 + 3 * i;
      if (t[0] == 0xfc)
        decode_pair (&d, t[1], t[2], GST_BUFFER_PTS (buf));
    }
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    cdps++;
  }
  fail_unless (cdps >= 55, "%u CDP packets", cdps);
  fail_unless_equals_int (d.bad_parity, 0);
  assert_near (first_shown (&d, "Through ccconverter", FALSE), GST_SECOND, 2);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Broadcast's own path: the pairs ride on video through cccombiner, are drawn as the
 * line 21 waveform by line21encoder, and are read back from the picture by
 * line21decoder (zvbi) before our decoder looks at them. */
GST_START_TEST (test_line21)
{
  static const gchar *const needed[] = { "cccombiner", "line21encoder", "line21decoder",
    "videotestsrc", NULL
  };
  GstHarness *h;
  Decoder d;
  guint i, metas = 0;

  if (!have_elements (needed))
    return;
  h = gst_harness_new_parse ("stttocea608 mode=pop-on ! c.caption "
      "videotestsrc num-buffers=150 pattern=black ! video/x-raw,format=UYVY,width=720,"
      "height=525,framerate=30000/1001,interlace-mode=interleaved ! "
      "cccombiner name=c ! line21encoder ! line21decoder");
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  decoder_init (&d);
  push_text (h, "Drawn on line 21", GST_SECOND, 2 * GST_SECOND);
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (5 * GST_SECOND, 0)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  for (i = 0; i < 150; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    GstVideoCaptionMeta *meta;

    fail_unless (buf != NULL, "video frame %u missing", i);
    meta = gst_buffer_get_video_caption_meta (buf);
    if (meta && meta->caption_type == GST_VIDEO_CAPTION_TYPE_CEA608_RAW
        && meta->size >= 2) {
      decode_pair (&d, meta->data[0], meta->data[1], GST_BUFFER_PTS (buf));
      metas++;
    }
    gst_buffer_unref (buf);
  }
  fail_unless (metas >= 140, "%u frames with captions", metas);
  fail_unless_equals_int (d.bad_parity, 0);
  assert_near (first_shown (&d, "Drawn on line 21", FALSE), GST_SECOND, 2);
  fail_unless_equals_string (last_shown (&d), "");
  assert_near (((Shown *) g_ptr_array_index (d.shown, d.shown->len - 1))->pts,
      3 * GST_SECOND, 2);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* @frame (@caps) with @text drawn at the bottom, as PNG (a pipeline: textoverlay's
 * text pad stays unlinked, its `text` is drawn). */
static GstBuffer *
render_png (GstCaps * caps, GstBuffer * frame, const gchar * text)
{
  GstElement *pipe = gst_parse_launch ("appsrc name=src format=time ! videoconvert ! "
      "textoverlay name=ov valignment=bottom halignment=center font-desc=\"Sans 28\" "
      "shaded-background=true ! videoconvert ! pngenc snapshot=false ! "
      "appsink name=sink sync=false", NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstElement *ov = gst_bin_get_by_name (GST_BIN (pipe), "ov");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstSample *sample;
  GstBuffer *png = NULL;

  fail_unless (pipe != NULL);
  g_object_set (ov, "text", text, NULL);
  gst_app_src_set_caps (GST_APP_SRC (src), caps);
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src),
          gst_buffer_copy (frame)), GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
  fail_unless (sample != NULL, "no PNG within 10 s");
  png = gst_buffer_ref (gst_sample_get_buffer (sample));
  gst_sample_unref (sample);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (ov);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return png;
}

/* The picture a viewer sees. The captions ride on the video (cccombiner), are drawn as the
 * line 21 waveform (line21encoder) and read back from the picture (line21decoder); our
 * decoder turns the pairs into the screen's text, which is drawn over that very frame
 * (textoverlay: GStreamer 1.22 has no C element that renders 608 itself, cc708overlay
 * draws 708 services only) and saved as cea608-frame.png in the test's directory. */
GST_START_TEST (test_rendered_frame)
{
  static const gchar *const needed[] = { "cccombiner", "line21encoder", "line21decoder",
    "videotestsrc", "textoverlay", "videoconvert", "pngenc", "pngdec", NULL
  };
  const gchar *text = "Captions over the video";
  GstHarness *h;
  GstBuffer *frame = NULL, *png, *plain;
  GstCaps *caps;
  Decoder d;
  guint i;
  g_autofree gchar *shown = NULL, *path = NULL;
  GstMapInfo a, b;

  if (!have_elements (needed))
    return;
  h = gst_harness_new_parse ("stttocea608 mode=pop-on ! c.caption "
      "videotestsrc num-buffers=150 pattern=smpte ! video/x-raw,format=UYVY,width=720,"
      "height=525,framerate=30000/1001,interlace-mode=interleaved ! "
      "cccombiner name=c ! line21encoder ! line21decoder");
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  decoder_init (&d);
  push_text (h, text, GST_SECOND, 2 * GST_SECOND);
  fail_unless (gst_harness_push_event (h, gst_event_new_gap (5 * GST_SECOND, 0)));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  /* The caption shows from 1 s (frame 30): look at the first 2 s. */
  for (i = 0; i < 60; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    GstVideoCaptionMeta *meta;

    fail_unless (buf != NULL, "video frame %u missing", i);
    meta = gst_buffer_get_video_caption_meta (buf);
    if (meta && meta->caption_type == GST_VIDEO_CAPTION_TYPE_CEA608_RAW
        && meta->size >= 2)
      decode_pair (&d, meta->data[0], meta->data[1], GST_BUFFER_PTS (buf));
    /* The first frame whose screen shows the caption. */
    if (frame == NULL && d.shown->len > 0 && g_str_equal (last_shown (&d), text)) {
      frame = gst_buffer_ref (buf);
      shown = g_strdup (last_shown (&d));
    }
    gst_buffer_unref (buf);
  }
  fail_unless (frame != NULL, "the caption never showed");
  assert_near (GST_BUFFER_PTS (frame), GST_SECOND, 2);
  caps = gst_pad_get_current_caps (h->sinkpad);

  /* The decoded screen drawn over the frame, as a PNG; and the frame without it. */
  png = render_png (caps, frame, shown);
  plain = render_png (caps, frame, "");
  fail_unless (png != NULL && plain != NULL);
  fail_unless (gst_buffer_map (png, &a, GST_MAP_READ));
  fail_unless (gst_buffer_map (plain, &b, GST_MAP_READ));
  fail_unless (a.size > 8 && memcmp (a.data, "\x89PNG\r\n\x1a\n", 8) == 0);
  /* The caption changed the picture. */
  fail_unless (a.size != b.size || memcmp (a.data, b.data, a.size) != 0);
  {
    g_autofree gchar *dir = g_get_current_dir ();

    path = g_build_filename (dir, "cea608-frame.png", NULL);
  }
  fail_unless (g_file_set_contents (path, (const gchar *) a.data, a.size, NULL));
  g_print ("CEA-608 caption \"%s\" rendered over frame %" GST_TIME_FORMAT ": %s\n", shown,
      GST_TIME_ARGS (GST_BUFFER_PTS (frame)), path);
  gst_buffer_unmap (png, &a);
  gst_buffer_unmap (plain, &b);
  gst_buffer_unref (png);
  gst_buffer_unref (plain);
  gst_buffer_unref (frame);
  gst_caps_unref (caps);
  decoder_clear (&d);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
cea608_suite (void)
{
  Suite *s = suite_create ("stttocea608");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_pop_on);
  tcase_add_test (tc, test_roll_up);
  tcase_add_test (tc, test_roll_up_words);
  tcase_add_test (tc, test_roll_up_pause);
  tcase_add_test (tc, test_roll_up_joins);
  tcase_add_test (tc, test_newline);
  tcase_add_test (tc, test_wrap);
  tcase_add_test (tc, test_pages);
  tcase_add_test (tc, test_characters);
  tcase_add_test (tc, test_late);
  tcase_add_test (tc, test_odd_input);
  tcase_add_test (tc, test_mode_switch);
  tcase_add_test (tc, test_framerate);
  tcase_add_test (tc, test_flush);
  tcase_add_test (tc, test_ccconverter);
  tcase_add_test (tc, test_line21);
  tcase_add_test (tc, test_rendered_frame);
  return s;
}

GST_CHECK_MAIN (cea608);
