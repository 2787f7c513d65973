/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-stttocea608
 * @title: stttocea608
 *
 * Turns timestamped `text/x-raw, format=utf8` buffers (the words or segments of
 * `stttranscribe`) into CEA-608 closed captions: `closedcaption/x-cea-608, format=raw`,
 * one byte pair (field 1, channel CC1) per video frame, odd parity on every byte.
 *
 * The output is a continuous stream of frame-sized buffers on the grid of the
 * negotiated framerate (the `framerate` property unless downstream wants another one),
 * padding (0x80 0x80) when there is nothing to say. A caption's bytes are placed so that
 * it shows at its input PTS, or as soon as possible after it when the previous caption's
 * bytes are still going out. Control codes are sent twice, in consecutive frames, as the
 * standard asks.
 *
 * Modes (`mode`):
 * - `roll-up2`, `roll-up3`: text is spelled out on the bottom row, older rows roll up in
 *   a window of 2 or 3 rows. Consecutive buffers continue the current row, separated by a
 *   space, so one buffer per word (`stttranscribe output-mode=words`, the default for
 *   live input, or the gst-plugins-rs transcribers) fills rows as the words come; a
 *   carriage return rolls the window up when the next word does not fit in the 32
 *   columns. A buffer made of punctuation only (",", ".") sticks to the previous word.
 *   A new row starts instead:
 *   - at a "\n" in the text (a buffer ending with "\n" closes its row);
 *   - when the buffer's PTS is more than `roll-up-pause` (1 s by default) after the end
 *     (PTS + DURATION) of the previous text: a pause in speech;
 *   - after a `rstranscribe/final-transcript` or `rstranscribe/speaker-change` custom
 *     downstream event (end of utterance, change of speaker: what gst-plugins-rs
 *     transcribers send), which the element consumes;
 *   - at the first text, and after a change of mode or a flush.
 *   Whole sentences (`output-mode=segments`) work the same way: they continue the row
 *   unless one of the above comes first.
 * - `pop-on`: each buffer is one caption, loaded off screen and shown at once at its PTS;
 *   it is erased at PTS + DURATION unless the next caption replaces it first. A "\n" in
 *   the text forces a line break. Captions longer than 4 rows are shown as successive
 *   pages sharing the caption's duration. Pop-on wants whole captions upstream
 *   (`stttranscribe output-mode=segments`): with one buffer per word, each word would
 *   pop on alone.
 *
 * In every mode a word goes out as soon as possible at or after its PTS, two characters
 * per frame: the control codes a caption needs (a carriage return, a preamble) are placed
 * before it, and text that comes faster than it can be sent waits its turn, in order.
 *
 * Text is wrapped at word boundaries to 32 columns (a longer word is cut where the row
 * ends) and mapped to the North American character sets: the basic set (ASCII, with the
 * positions the standard gives to á é í ó ú ç ñ Ñ ÷), the special characters
 * (® ° ½ ¿ ™ ¢ £ ♪ à è â ê î ô û) and the extended Spanish/French/Portuguese/German sets
 * (sent after a basic fallback that decoders without them keep). Other accented letters
 * lose their accent; characters with no equivalent are dropped.
 *
 * GAP events are filled with padding up to their end; EOS sends what is still due (the
 * pop-on erase) before it goes on. A flush starts a new frame grid. The element posts no
 * bus messages.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 pulsesrc ! stttranscribe output-mode=words ! \
 *     stttocea608 mode=roll-up3 ! ccconverter ! \
 *     closedcaption/x-cea-708,format=cdp ! fakesink dump=true
 * ]| Live roll-up captions, one word at a time, as CEA-708 CDP packets (608 inside) for
 * an SDI or MXF muxer.
 * |[
 * gst-launch-1.0 filesrc location=talk.wav ! wavparse ! \
 *     stttranscribe provider=vosk output-mode=segments ! \
 *     stttocea608 mode=pop-on ! ccconverter ! \
 *     closedcaption/x-cea-708,format=cdp ! fakesink dump=true
 * ]| Pop-on captions of a file, one caption per segment.
 * |[
 * gst-launch-1.0 pulsesrc ! stttranscribe ! \
 *     stttocea608 mode=roll-up2 roll-up-pause=2000000000 ! ccconverter ! \
 *     closedcaption/x-cea-708,format=cdp ! fakesink dump=true
 * ]| Roll-up that starts a new row only after 2 s without speech.
 *
 * ## Properties
 * - `mode`: roll-up2 (default), roll-up3 or pop-on.
 * - `framerate`: the video framerate the byte pairs are paced at when downstream leaves
 *   it open (default 30000/1001).
 * - `roll-up-pause`: in roll-up modes, the silence in nanoseconds between two texts
 *   (from the end of one to the PTS of the next) above which the next starts a new row
 *   (default 1000000000, 1 s; 0: any gap; 18446744073709551615: never, only "\n" and
 *   end-of-utterance events do).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststttocea608.h"

GST_DEBUG_CATEGORY_STATIC (stt_to_cea608_debug);
#define GST_CAT_DEFAULT stt_to_cea608_debug

#define DEFAULT_MODE GST_STT_TO_CEA608_MODE_ROLL_UP2
#define DEFAULT_FPS_N 30000
#define DEFAULT_FPS_D 1001
#define DEFAULT_ROLL_UP_PAUSE GST_SECOND

#define COLUMNS 32
#define POP_ON_ROWS 4
#define BASE_ROW 15

/* Miscellaneous control codes, channel 1 field 1: first byte 0x14. */
#define CTRL 0x14
#define RCL 0x20
#define RU2 0x25
#define RU3 0x26
#define EDM 0x2c
#define CR 0x2d
#define ENM 0x2e
#define EOC 0x2f

enum
{
  PROP_0,
  PROP_MODE,
  PROP_FRAMERATE,
  PROP_ROLL_UP_PAUSE,
};

struct _GstSttToCea608
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* Properties, under the object lock. */
  GstSttToCea608Mode mode;
  gint fps_n, fps_d;
  GstClockTime roll_up_pause;

  /* Streaming thread only. */
  gint out_fps_n, out_fps_d;    /* 0/0 until negotiated */
  GstSegment segment;
  GstClockTime origin;          /* time of frame 0; NONE until the first data */
  guint64 next_frame;           /* the next frame to push */
  gint64 erase_frame;           /* pop-on: frame where the shown caption ends, or -1 */
  gint decoder_mode;            /* the mode the receiver is in, -1 unknown */
  guint col;                    /* roll-up: columns taken on the bottom row */
  gboolean new_row;             /* roll-up: the next text starts a new row */
  GstClockTime last_end;        /* roll-up: end of the latest text, NONE before any */
  gboolean discont;
};

G_DEFINE_TYPE (GstSttToCea608, gst_stt_to_cea608, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (stttocea608, "stttocea608", GST_RANK_NONE,
    GST_TYPE_STT_TO_CEA608);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format = (string) utf8"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("closedcaption/x-cea-608, format = (string) raw, "
        "framerate = (fraction) [ 1/1, 120/1 ]"));

GType
gst_stt_to_cea608_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_STT_TO_CEA608_MODE_ROLL_UP2, "Roll-up captions, 2 rows", "roll-up2"},
    {GST_STT_TO_CEA608_MODE_ROLL_UP3, "Roll-up captions, 3 rows", "roll-up3"},
    {GST_STT_TO_CEA608_MODE_POP_ON, "Pop-on captions, shown whole at their time",
        "pop-on"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstSttToCea608Mode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ------------------------------------------------------------------------------------ */
/* Characters */

typedef enum
{
  UNIT_BASIC,                   /* one byte of the basic set */
  UNIT_SPECIAL,                 /* 0x11 code: a column of its own */
  UNIT_EXTENDED,                /* basic fallback, then a 0x12/0x13 code that replaces it */
} UnitKind;

typedef struct
{
  guint8 kind, hi, lo, fallback;
} Unit;

typedef struct
{
  gunichar c;
  guint8 kind, hi, lo, fallback;
} CharEntry;

/* What is not plain ASCII 0x20-0x7e (nor one of the ASCII characters the basic set
 * gives away, listed here too). */
static const CharEntry char_table[] = {
  /* The basic set's own positions. */
  {0x00e1, UNIT_BASIC, 0, 0x2a, 0},     /* á */
  {0x00e9, UNIT_BASIC, 0, 0x5c, 0},     /* é */
  {0x00ed, UNIT_BASIC, 0, 0x5e, 0},     /* í */
  {0x00f3, UNIT_BASIC, 0, 0x5f, 0},     /* ó */
  {0x00fa, UNIT_BASIC, 0, 0x60, 0},     /* ú */
  {0x00e7, UNIT_BASIC, 0, 0x7b, 0},     /* ç */
  {0x00f7, UNIT_BASIC, 0, 0x7c, 0},     /* ÷ */
  {0x00d1, UNIT_BASIC, 0, 0x7d, 0},     /* Ñ */
  {0x00f1, UNIT_BASIC, 0, 0x7e, 0},     /* ñ */
  {0x2588, UNIT_BASIC, 0, 0x7f, 0},     /* solid block */
  {0x2019, UNIT_BASIC, 0, 0x27, 0},     /* ’ */
  {0x2018, UNIT_BASIC, 0, 0x27, 0},     /* ‘ */
  {'`', UNIT_BASIC, 0, 0x27, 0},
  {0x201c, UNIT_BASIC, 0, 0x22, 0},     /* “ */
  {0x201d, UNIT_BASIC, 0, 0x22, 0},     /* ” */
  {0x00a0, UNIT_BASIC, 0, 0x20, 0},     /* no-break space */
  {0x2013, UNIT_BASIC, 0, 0x2d, 0},     /* – */
  {0x2026, UNIT_BASIC, 0, 0x2e, 0},     /* … as one dot (one column) */
  /* Special characters, 0x11 0x30-0x3f. */
  {0x00ae, UNIT_SPECIAL, 0x11, 0x30, 0},        /* ® */
  {0x00b0, UNIT_SPECIAL, 0x11, 0x31, 0},        /* ° */
  {0x00bd, UNIT_SPECIAL, 0x11, 0x32, 0},        /* ½ */
  {0x00bf, UNIT_SPECIAL, 0x11, 0x33, 0},        /* ¿ */
  {0x2122, UNIT_SPECIAL, 0x11, 0x34, 0},        /* ™ */
  {0x00a2, UNIT_SPECIAL, 0x11, 0x35, 0},        /* ¢ */
  {0x00a3, UNIT_SPECIAL, 0x11, 0x36, 0},        /* £ */
  {0x266a, UNIT_SPECIAL, 0x11, 0x37, 0},        /* ♪ */
  {0x00e0, UNIT_SPECIAL, 0x11, 0x38, 0},        /* à */
  {0x00e8, UNIT_SPECIAL, 0x11, 0x3a, 0},        /* è */
  {0x00e2, UNIT_SPECIAL, 0x11, 0x3b, 0},        /* â */
  {0x00ea, UNIT_SPECIAL, 0x11, 0x3c, 0},        /* ê */
  {0x00ee, UNIT_SPECIAL, 0x11, 0x3d, 0},        /* î */
  {0x00f4, UNIT_SPECIAL, 0x11, 0x3e, 0},        /* ô */
  {0x00fb, UNIT_SPECIAL, 0x11, 0x3f, 0},        /* û */
  /* Extended Spanish, French and miscellaneous, 0x12 0x20-0x3f. */
  {0x00c1, UNIT_EXTENDED, 0x12, 0x20, 'A'},     /* Á */
  {0x00c9, UNIT_EXTENDED, 0x12, 0x21, 'E'},     /* É */
  {0x00d3, UNIT_EXTENDED, 0x12, 0x22, 'O'},     /* Ó */
  {0x00da, UNIT_EXTENDED, 0x12, 0x23, 'U'},     /* Ú */
  {0x00dc, UNIT_EXTENDED, 0x12, 0x24, 'U'},     /* Ü */
  {0x00fc, UNIT_EXTENDED, 0x12, 0x25, 'u'},     /* ü */
  {0x00a1, UNIT_EXTENDED, 0x12, 0x27, '!'},     /* ¡ */
  {'*', UNIT_EXTENDED, 0x12, 0x28, '.'},
  {0x2014, UNIT_EXTENDED, 0x12, 0x2a, '-'},     /* — */
  {0x00a9, UNIT_EXTENDED, 0x12, 0x2b, 'c'},     /* © */
  {0x2120, UNIT_EXTENDED, 0x12, 0x2c, 's'},     /* ℠ */
  {0x00c0, UNIT_EXTENDED, 0x12, 0x30, 'A'},     /* À */
  {0x00c2, UNIT_EXTENDED, 0x12, 0x31, 'A'},     /* Â */
  {0x00c7, UNIT_EXTENDED, 0x12, 0x32, 'C'},     /* Ç */
  {0x00c8, UNIT_EXTENDED, 0x12, 0x33, 'E'},     /* È */
  {0x00ca, UNIT_EXTENDED, 0x12, 0x34, 'E'},     /* Ê */
  {0x00cb, UNIT_EXTENDED, 0x12, 0x35, 'E'},     /* Ë */
  {0x00eb, UNIT_EXTENDED, 0x12, 0x36, 'e'},     /* ë */
  {0x00ce, UNIT_EXTENDED, 0x12, 0x37, 'I'},     /* Î */
  {0x00cf, UNIT_EXTENDED, 0x12, 0x38, 'I'},     /* Ï */
  {0x00ef, UNIT_EXTENDED, 0x12, 0x39, 'i'},     /* ï */
  {0x00d4, UNIT_EXTENDED, 0x12, 0x3a, 'O'},     /* Ô */
  {0x00d9, UNIT_EXTENDED, 0x12, 0x3b, 'U'},     /* Ù */
  {0x00f9, UNIT_EXTENDED, 0x12, 0x3c, 'u'},     /* ù */
  {0x00db, UNIT_EXTENDED, 0x12, 0x3d, 'U'},     /* Û */
  {0x00ab, UNIT_EXTENDED, 0x12, 0x3e, '"'},     /* « */
  {0x00bb, UNIT_EXTENDED, 0x12, 0x3f, '"'},     /* » */
  /* Extended Portuguese, German and Danish, 0x13 0x20-0x3f. */
  {0x00c3, UNIT_EXTENDED, 0x13, 0x20, 'A'},     /* Ã */
  {0x00e3, UNIT_EXTENDED, 0x13, 0x21, 'a'},     /* ã */
  {0x00cd, UNIT_EXTENDED, 0x13, 0x22, 'I'},     /* Í */
  {0x00cc, UNIT_EXTENDED, 0x13, 0x23, 'I'},     /* Ì */
  {0x00ec, UNIT_EXTENDED, 0x13, 0x24, 'i'},     /* ì */
  {0x00d2, UNIT_EXTENDED, 0x13, 0x25, 'O'},     /* Ò */
  {0x00f2, UNIT_EXTENDED, 0x13, 0x26, 'o'},     /* ò */
  {0x00d5, UNIT_EXTENDED, 0x13, 0x27, 'O'},     /* Õ */
  {0x00f5, UNIT_EXTENDED, 0x13, 0x28, 'o'},     /* õ */
  {'{', UNIT_EXTENDED, 0x13, 0x29, '['},
  {'}', UNIT_EXTENDED, 0x13, 0x2a, ']'},
  {'\\', UNIT_EXTENDED, 0x13, 0x2b, '/'},
  {'^', UNIT_EXTENDED, 0x13, 0x2c, ' '},
  {'_', UNIT_EXTENDED, 0x13, 0x2d, '-'},
  {'|', UNIT_EXTENDED, 0x13, 0x2e, '!'},
  {'~', UNIT_EXTENDED, 0x13, 0x2f, '-'},
  {0x00c4, UNIT_EXTENDED, 0x13, 0x30, 'A'},     /* Ä */
  {0x00e4, UNIT_EXTENDED, 0x13, 0x31, 'a'},     /* ä */
  {0x00d6, UNIT_EXTENDED, 0x13, 0x32, 'O'},     /* Ö */
  {0x00f6, UNIT_EXTENDED, 0x13, 0x33, 'o'},     /* ö */
  {0x00df, UNIT_EXTENDED, 0x13, 0x34, 's'},     /* ß */
  {0x00a5, UNIT_EXTENDED, 0x13, 0x35, 'Y'},     /* ¥ */
  {0x00a4, UNIT_EXTENDED, 0x13, 0x36, 'C'},     /* ¤ */
  {0x00c5, UNIT_EXTENDED, 0x13, 0x38, 'A'},     /* Å */
  {0x00e5, UNIT_EXTENDED, 0x13, 0x39, 'a'},     /* å */
  {0x00d8, UNIT_EXTENDED, 0x13, 0x3a, 'O'},     /* Ø */
  {0x00f8, UNIT_EXTENDED, 0x13, 0x3b, 'o'},     /* ø */
};

/* Maps one character; FALSE when it has no equivalent at all. */
static gboolean
map_char (gunichar c, Unit * u)
{
  guint i;
  gunichar d[G_UNICHAR_MAX_DECOMPOSITION_LENGTH];

  for (i = 0; i < G_N_ELEMENTS (char_table); i++) {
    if (char_table[i].c == c) {
      u->kind = char_table[i].kind;
      u->hi = char_table[i].hi;
      u->lo = char_table[i].lo;
      u->fallback = char_table[i].fallback;
      return TRUE;
    }
  }
  if (c >= 0x20 && c < 0x7f) {
    u->kind = UNIT_BASIC;
    u->lo = c;
    return TRUE;
  }
  /* An accented letter the sets lack keeps its base letter (ă -> a). */
  if (g_unichar_fully_decompose (c, FALSE, d, G_N_ELEMENTS (d)) > 1 && d[0] != c)
    return map_char (d[0], u);
  return FALSE;
}

/* Cuts the text into rows of at most COLUMNS units at word boundaries (a word longer than
 * a row is cut where the row ends); "\n" ends a row. The first row continues one that
 * already holds @start units (0: the text starts a new row), after a space when @space;
 * it holds the new units only and stays empty when the first word does not fit there.
 * Sets @closed when the text ends with "\n". Returns a GPtrArray of GArray of Unit. */
static GPtrArray *
wrap_text (const gchar * text, gsize len, guint start, gboolean space, gboolean * closed)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  GArray *line = NULL, *word = g_array_new (FALSE, FALSE, sizeof (Unit));
  const gchar *p = text, *end = text + len;
  guint used = 0;               /* columns taken on the row of @line */
  gboolean done = FALSE;

  *closed = FALSE;
  if (start > 0) {
    line = g_array_new (FALSE, FALSE, sizeof (Unit));
    g_ptr_array_add (lines, line);
    used = MIN (start, COLUMNS);
  }

  while (!done) {
    gunichar c = ' ';
    Unit u = { 0, };

    /* The end of the text (or of its valid UTF-8) completes the last word. */
    if (p < end)
      c = g_utf8_get_char_validated (p, end - p);
    if (p >= end || c == (gunichar) - 1 || c == (gunichar) - 2) {
      c = ' ';
      done = TRUE;
    } else {
      p = g_utf8_next_char (p);
    }

    if (!g_unichar_isspace (c)) {
      if (map_char (c, &u))
        g_array_append_val (word, u);
      continue;
    }
    /* A word is complete. */
    if (word->len > 0) {
      *closed = FALSE;
      while (word->len > 0) {
        guint take, gap = space ? 1 : 0;

        if (line != NULL && used + gap + MIN (word->len, COLUMNS) > COLUMNS)
          line = NULL;
        if (line == NULL) {
          line = g_array_new (FALSE, FALSE, sizeof (Unit));
          g_ptr_array_add (lines, line);
          used = gap = 0;
        }
        if (gap) {
          Unit blank = { UNIT_BASIC, 0, ' ', 0 };
          g_array_append_val (line, blank);
          used++;
        }
        take = MIN (word->len, COLUMNS - used);
        g_array_append_vals (line, word->data, take);
        used += take;
        g_array_remove_range (word, 0, take);
        if (word->len > 0)
          line = NULL;
      }
      /* The text's own words are separated by a space. */
      space = TRUE;
    }
    if (c == '\n') {
      line = NULL;
      *closed = TRUE;
    }
  }
  g_array_unref (word);
  return lines;
}

/* ------------------------------------------------------------------------------------ */
/* Byte pairs: 7-bit values, hi << 8 | lo; parity is added when they are pushed. */

static void
add_pair (GArray * pairs, guint8 hi, guint8 lo)
{
  guint16 v = (hi << 8) | lo;
  g_array_append_val (pairs, v);
}

/* Control codes go out twice in consecutive frames: a receiver that loses one to a
 * transmission error still acts, one that gets both ignores the copy. */
static void
add_control (GArray * pairs, guint8 hi, guint8 lo)
{
  add_pair (pairs, hi, lo);
  add_pair (pairs, hi, lo);
}

/* Preamble address code: cursor to @row (1-15), column 0, white. */
static void
add_pac (GArray * pairs, guint row)
{
  static const guint8 row_hi[16] = { 0, 0x11, 0x11, 0x12, 0x12, 0x15, 0x15, 0x16,
    0x16, 0x17, 0x17, 0x10, 0x13, 0x13, 0x14, 0x14
  };
  static const guint8 row_lo[16] = { 0, 0x40, 0x60, 0x40, 0x60, 0x40, 0x60, 0x40,
    0x60, 0x40, 0x60, 0x40, 0x40, 0x60, 0x40, 0x60
  };

  add_control (pairs, row_hi[row], row_lo[row]);
}

static void
add_line (GArray * pairs, GArray * line)
{
  gint pending = -1;
  guint i;

  for (i = 0; i < line->len; i++) {
    const Unit *u = &g_array_index (line, Unit, i);
    guint8 basic = u->kind == UNIT_BASIC ? u->lo : u->fallback;

    if (u->kind != UNIT_SPECIAL) {
      if (pending < 0) {
        pending = basic;
      } else {
        add_pair (pairs, pending, basic);
        pending = -1;
      }
    }
    if (u->kind == UNIT_BASIC)
      continue;
    /* A code must not share its frame: the basic bytes before it go out first. */
    if (pending >= 0) {
      add_pair (pairs, pending, 0);
      pending = -1;
    }
    add_control (pairs, u->hi, u->lo);
  }
  if (pending >= 0)
    add_pair (pairs, pending, 0);
}

/* Builds the pairs of one caption of @lines (pop-on: at most POP_ON_ROWS) and sets
 * @shown to the index of the pair at which it becomes visible. In roll-up, the first line
 * continues the row on screen when @continues (no carriage return); every other line
 * rolls the window up first. Streaming thread. */
static GArray *
encode_caption (GstSttToCea608 * self, GstSttToCea608Mode mode, GPtrArray * lines,
    guint first, guint n, gboolean continues, guint * shown)
{
  GArray *pairs = g_array_new (FALSE, FALSE, sizeof (guint16));
  gboolean seen = FALSE;
  guint i;

  if (mode == GST_STT_TO_CEA608_MODE_POP_ON) {
    add_control (pairs, CTRL, RCL);
    add_control (pairs, CTRL, ENM);
    for (i = 0; i < n; i++) {
      add_pac (pairs, BASE_ROW - (n - 1) + i);
      add_line (pairs, g_ptr_array_index (lines, first + i));
    }
    *shown = pairs->len;
    add_control (pairs, CTRL, EOC);
  } else {
    if (self->decoder_mode != (gint) mode) {
      add_control (pairs, CTRL, mode == GST_STT_TO_CEA608_MODE_ROLL_UP2 ? RU2 : RU3);
      /* Nothing of a previous mode or stream stays on screen. */
      add_control (pairs, CTRL, EDM);
      continues = FALSE;
    }
    *shown = 0;
    for (i = 0; i < n; i++) {
      GArray *line = g_ptr_array_index (lines, first + i);

      if (i > 0 || !continues) {
        add_control (pairs, CTRL, CR);
        add_pac (pairs, BASE_ROW);
      }
      /* Only a continued row can be empty (its first word did not fit). */
      if (!seen && line->len > 0) {
        *shown = pairs->len;
        seen = TRUE;
      }
      add_line (pairs, line);
    }
  }
  self->decoder_mode = mode;
  return pairs;
}

/* ------------------------------------------------------------------------------------ */
/* The frame grid. Streaming thread. */

static guint8
odd_parity (guint8 b)
{
  guint8 x = b & 0x7f;

  x ^= x >> 4;
  x ^= x >> 2;
  x ^= x >> 1;
  /* Bit 7 makes the count of ones odd. */
  return (x & 1) ? (b & 0x7f) : ((b & 0x7f) | 0x80);
}

static GstClockTime
frame_time (GstSttToCea608 * self, guint64 n)
{
  return self->origin + gst_util_uint64_scale (n, GST_SECOND * self->out_fps_d,
      self->out_fps_n);
}

/* The first frame starting at or after @t. */
static guint64
frame_at (GstSttToCea608 * self, GstClockTime t)
{
  if (t <= self->origin)
    return 0;
  return gst_util_uint64_scale_ceil (t - self->origin, self->out_fps_n,
      GST_SECOND * self->out_fps_d);
}

static GstFlowReturn
push_pair (GstSttToCea608 * self, guint16 pair)
{
  GstBuffer *buf;
  guint8 data[2];
  GstClockTime t = frame_time (self, self->next_frame);

  data[0] = odd_parity (pair >> 8);
  data[1] = odd_parity (pair & 0xff);
  buf = gst_buffer_new_memdup (data, 2);
  GST_BUFFER_PTS (buf) = t;
  GST_BUFFER_DURATION (buf) = frame_time (self, self->next_frame + 1) - t;
  GST_BUFFER_OFFSET (buf) = self->next_frame;
  if (self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }
  self->next_frame++;
  return gst_pad_push (self->srcpad, buf);
}

/* Pushes every frame before @end: padding, and the pop-on erase when it is due. */
static GstFlowReturn
advance (GstSttToCea608 * self, guint64 end)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK && self->next_frame < end) {
    if (self->erase_frame >= 0 && self->next_frame >= (guint64) self->erase_frame) {
      self->erase_frame = -1;
      ret = push_pair (self, (CTRL << 8) | EDM);
      if (ret == GST_FLOW_OK)
        ret = push_pair (self, (CTRL << 8) | EDM);
    } else {
      ret = push_pair (self, 0);
    }
  }
  return ret;
}

static gboolean
negotiate (GstSttToCea608 * self)
{
  g_autoptr (GstCaps) templ = gst_pad_get_pad_template_caps (self->srcpad);
  g_autoptr (GstCaps) peer = gst_pad_peer_query_caps (self->srcpad, templ);
  g_autoptr (GstCaps) preferred = NULL;
  GstCaps *caps;
  GstStructure *s;
  gint n, d;

  GST_OBJECT_LOCK (self);
  n = self->fps_n;
  d = self->fps_d;
  GST_OBJECT_UNLOCK (self);

  preferred = gst_caps_new_simple ("closedcaption/x-cea-608", "format", G_TYPE_STRING,
      "raw", "framerate", GST_TYPE_FRACTION, n, d, NULL);
  caps = gst_caps_intersect (peer, preferred);
  if (gst_caps_is_empty (caps)) {
    gst_caps_unref (caps);
    caps = gst_caps_copy (peer);
  }
  if (gst_caps_is_empty (caps))
    goto not_negotiated;
  caps = gst_caps_truncate (caps);
  caps = gst_caps_make_writable (caps);
  s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_has_field (s, "framerate"))
    gst_structure_set (s, "framerate", GST_TYPE_FRACTION, n, d, NULL);
  else
    gst_structure_fixate_field_nearest_fraction (s, "framerate", n, d);
  caps = gst_caps_fixate (caps);
  s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_get_fraction (s, "framerate", &n, &d) || n <= 0 || d <= 0) {
    gst_caps_unref (caps);
    goto not_negotiated;
  }
  GST_DEBUG_OBJECT (self, "output caps %" GST_PTR_FORMAT, caps);
  self->out_fps_n = n;
  self->out_fps_d = d;
  gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  return TRUE;

  /* ERRORS */
not_negotiated:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("Downstream does not accept CEA-608 "
            "byte pairs at any framerate."), ("peer caps %" GST_PTR_FORMAT, peer));
    return FALSE;
  }
}

/* Anchors the grid at @t unless it is anchored: a live stream's first caption may be
 * hours after the segment start, and padding all that time is pointless. */
static void
ensure_origin (GstSttToCea608 * self, GstClockTime t, guint frames_before)
{
  GstClockTime back;

  if (GST_CLOCK_TIME_IS_VALID (self->origin))
    return;
  back = gst_util_uint64_scale (frames_before, GST_SECOND * self->out_fps_d,
      self->out_fps_n);
  if (!GST_CLOCK_TIME_IS_VALID (t))
    t = self->segment.start;
  self->origin = t;
  if (t >= back && t - back >= self->segment.start)
    self->origin = t - back;
  else if (t >= self->segment.start)
    self->origin = self->segment.start;
}

/* ------------------------------------------------------------------------------------ */
/* Pads */

static GstFlowReturn
schedule (GstSttToCea608 * self, GstSttToCea608Mode mode, GPtrArray * lines,
    guint first, guint n, gboolean continues, GstClockTime pts, GstClockTime duration)
{
  g_autoptr (GArray) pairs = NULL;
  guint shown, i;
  guint64 at, start;
  GstFlowReturn ret;

  pairs = encode_caption (self, mode, lines, first, n, continues, &shown);
  ensure_origin (self, pts, shown);
  at = GST_CLOCK_TIME_IS_VALID (pts) ? frame_at (self, pts) : self->next_frame;
  start = at > shown ? at - shown : 0;
  start = MAX (start, self->next_frame);
  /* A caption that replaces the shown one before its end makes the erase pointless. */
  if (self->erase_frame >= 0 && (guint64) self->erase_frame >= start)
    self->erase_frame = -1;

  ret = advance (self, start);
  GST_LOG_OBJECT (self, "caption of %u pairs from frame %" G_GUINT64_FORMAT
      " (shown at %" G_GUINT64_FORMAT ", due %" G_GUINT64_FORMAT ")", pairs->len,
      self->next_frame, self->next_frame + shown, at);
  for (i = 0; ret == GST_FLOW_OK && i < pairs->len; i++)
    ret = push_pair (self, g_array_index (pairs, guint16, i));

  if (mode == GST_STT_TO_CEA608_MODE_POP_ON && GST_CLOCK_TIME_IS_VALID (pts)
      && GST_CLOCK_TIME_IS_VALID (duration))
    self->erase_frame = MAX (frame_at (self, pts + duration), self->next_frame);
  return ret;
}

/* TRUE when the text opens with a word made of punctuation only, that sticks to the
 * previous word: transcribers that send "," or "." as items of their own. */
static gboolean
starts_with_punctuation (const gchar * text, gsize len)
{
  gsize i = 0, first;

  while (i < len && (text[i] == ' ' || text[i] == '\t'))
    i++;
  first = i;
  while (i < len && text[i] != '\0' && strchr (".,?!;:", text[i]) != NULL)
    i++;
  return i > first && (i == len || g_ascii_isspace (text[i]));
}

/* Roll-up: the text continues the row on screen after a space unless a pause longer than
 * @pause, a "\n" or an end of utterance upstream came before it. Streaming thread. */
static GstFlowReturn
roll_up (GstSttToCea608 * self, GstSttToCea608Mode mode, const gchar * text, gsize len,
    GstClockTime pts, GstClockTime duration, GstClockTime pause)
{
  g_autoptr (GPtrArray) lines = NULL;
  GArray *last;
  guint start = 0, i;
  gboolean closed, empty = TRUE;
  GstFlowReturn ret;

  if (self->decoder_mode == (gint) mode && !self->new_row && self->col > 0) {
    start = self->col;
    if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (self->last_end)
        && pts > self->last_end && pts - self->last_end > pause) {
      GST_DEBUG_OBJECT (self, "pause of %" GST_TIME_FORMAT ": new row",
          GST_TIME_ARGS (pts - self->last_end));
      start = 0;
    }
  }
  lines = wrap_text (text, len, start, !starts_with_punctuation (text, len), &closed);
  for (i = 0; i < lines->len; i++)
    empty = empty && ((GArray *) g_ptr_array_index (lines, i))->len == 0;
  if (empty) {
    /* Nothing to show, but a "\n" still ends the row. */
    self->new_row = self->new_row || closed;
    return GST_FLOW_OK;
  }

  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    GstClockTime end = pts + (GST_CLOCK_TIME_IS_VALID (duration) ? duration : 0);

    if (!GST_CLOCK_TIME_IS_VALID (self->last_end) || end > self->last_end)
      self->last_end = end;
  }
  ret = schedule (self, mode, lines, 0, lines->len, start > 0, pts, duration);
  last = g_ptr_array_index (lines, lines->len - 1);
  self->col = (lines->len == 1 ? start : 0) + last->len;
  self->new_row = closed;
  return ret;
}

static GstFlowReturn
gst_stt_to_cea608_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstSttToCea608 *self = GST_STT_TO_CEA608 (parent);
  g_autoptr (GPtrArray) lines = NULL;
  GstSttToCea608Mode mode;
  GstClockTime pts = GST_BUFFER_PTS (buf), duration = GST_BUFFER_DURATION (buf), pause;
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;
  gboolean closed;
  guint first, n;

  if (self->out_fps_n == 0 && !negotiate (self)) {
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }

  GST_OBJECT_LOCK (self);
  mode = self->mode;
  pause = self->roll_up_pause;
  GST_OBJECT_UNLOCK (self);

  if (mode != GST_STT_TO_CEA608_MODE_POP_ON) {
    ret = roll_up (self, mode, (const gchar *) map.data, map.size, pts, duration, pause);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return ret;
  }

  lines = wrap_text ((const gchar *) map.data, map.size, 0, FALSE, &closed);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  if (lines->len == 0)
    return GST_FLOW_OK;

  /* Pop-on pages share the caption's time. */
  n = (lines->len + POP_ON_ROWS - 1) / POP_ON_ROWS;
  for (first = 0; ret == GST_FLOW_OK && first < lines->len; first += POP_ON_ROWS) {
    guint page = first / POP_ON_ROWS;
    GstClockTime page_pts = pts, page_dur = duration;

    if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (duration)) {
      page_pts = pts + gst_util_uint64_scale (duration, page, n);
      page_dur = gst_util_uint64_scale (duration, page + 1, n) -
          gst_util_uint64_scale (duration, page, n);
    }
    ret = schedule (self, mode, lines, first, MIN (POP_ON_ROWS, lines->len - first),
        FALSE, page_pts, page_dur);
  }
  return ret;
}

static void
reset (GstSttToCea608 * self)
{
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->origin = GST_CLOCK_TIME_NONE;
  self->next_frame = 0;
  self->erase_frame = -1;
  self->decoder_mode = -1;
  self->col = 0;
  self->new_row = FALSE;
  self->last_end = GST_CLOCK_TIME_NONE;
  self->discont = TRUE;
}

static gboolean
gst_stt_to_cea608_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstSttToCea608 *self = GST_STT_TO_CEA608 (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      /* Our caps depend on downstream only. */
      gst_event_unref (event);
      return negotiate (self);
    case GST_EVENT_SEGMENT:{
      const GstSegment *seg;

      gst_event_parse_segment (event, &seg);
      if (seg->format != GST_FORMAT_TIME)
        goto not_time;
      gst_segment_copy_into (seg, &self->segment);
      return gst_pad_event_default (pad, parent, event);
    }
    case GST_EVENT_GAP:{
      GstClockTime ts, dur;

      gst_event_parse_gap (event, &ts, &dur);
      gst_event_unref (event);
      if (self->out_fps_n == 0 && !negotiate (self))
        return FALSE;
      if (!GST_CLOCK_TIME_IS_VALID (ts))
        return TRUE;
      ensure_origin (self, ts, 0);
      if (GST_CLOCK_TIME_IS_VALID (dur))
        ts += dur;
      return advance (self, frame_at (self, ts)) == GST_FLOW_OK;
    }
    case GST_EVENT_EOS:
      /* A pop-on caption still shown is erased at its end. */
      if (self->erase_frame >= 0 && self->out_fps_n != 0)
        advance (self, MAX ((guint64) self->erase_frame, self->next_frame) + 2);
      return gst_pad_event_default (pad, parent, event);
    case GST_EVENT_CUSTOM_DOWNSTREAM:{
      const GstStructure *s = gst_event_get_structure (event);

      /* The gst-plugins-rs transcribers' end of utterance and change of speaker: a new
       * row in roll-up. They mean nothing to consumers of byte pairs. */
      if (s != NULL && (gst_structure_has_name (s, "rstranscribe/final-transcript")
              || gst_structure_has_name (s, "rstranscribe/speaker-change"))) {
        GST_DEBUG_OBJECT (self, "%s: new row", gst_structure_get_name (s));
        self->new_row = TRUE;
        gst_event_unref (event);
        return TRUE;
      }
      return gst_pad_event_default (pad, parent, event);
    }
    case GST_EVENT_FLUSH_STOP:
      reset (self);
      return gst_pad_event_default (pad, parent, event);
    default:
      return gst_pad_event_default (pad, parent, event);
  }

  /* ERRORS */
not_time:
  {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Text without time stamps cannot be "
            "placed on the frame grid."), (NULL));
    gst_event_unref (event);
    return FALSE;
  }
}

static GstStateChangeReturn
gst_stt_to_cea608_change_state (GstElement * element, GstStateChange transition)
{
  GstSttToCea608 *self = GST_STT_TO_CEA608 (element);

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    reset (self);
    self->out_fps_n = self->out_fps_d = 0;
  }
  return GST_ELEMENT_CLASS (gst_stt_to_cea608_parent_class)->change_state (element,
      transition);
}

static void
gst_stt_to_cea608_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstSttToCea608 *self = GST_STT_TO_CEA608 (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODE:
      self->mode = g_value_get_enum (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_ROLL_UP_PAUSE:
      self->roll_up_pause = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_stt_to_cea608_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstSttToCea608 *self = GST_STT_TO_CEA608 (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODE:
      g_value_set_enum (value, self->mode);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_ROLL_UP_PAUSE:
      g_value_set_uint64 (value, self->roll_up_pause);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_stt_to_cea608_class_init (GstSttToCea608Class * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (stt_to_cea608_debug, "stttocea608", 0,
      "text to CEA-608 closed captions");

  gobject_class->set_property = gst_stt_to_cea608_set_property;
  gobject_class->get_property = gst_stt_to_cea608_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_stt_to_cea608_change_state);

  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode", "How captions reach the screen: rolling up in a "
          "window of 2 or 3 rows as they are spelled out, or popping on whole at their "
          "time (takes effect at the next caption)", GST_TYPE_STT_TO_CEA608_MODE,
          DEFAULT_MODE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Framerate", "Video frames per second, one "
          "CEA-608 byte pair each, when downstream does not fix it (read when the "
          "stream starts)", 1, 1, 120, 1, DEFAULT_FPS_N, DEFAULT_FPS_D,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_ROLL_UP_PAUSE,
      g_param_spec_uint64 ("roll-up-pause", "Roll-up pause", "Roll-up modes: text that "
          "starts more than this after the end of the previous text begins a new row "
          "instead of continuing the current one (nanoseconds; 18446744073709551615 = "
          "only at a \"\\n\" or at an end of utterance upstream)", 0, G_MAXUINT64,
          DEFAULT_ROLL_UP_PAUSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Text to CEA-608 captions",
      "Generic", "Converts timestamped text into CEA-608 closed caption byte pairs "
      "(roll-up or pop-on)", "gst-stt developers");

  gst_type_mark_as_plugin_api (GST_TYPE_STT_TO_CEA608_MODE, 0);
}

static void
gst_stt_to_cea608_init (GstSttToCea608 * self)
{
  self->mode = DEFAULT_MODE;
  self->fps_n = DEFAULT_FPS_N;
  self->fps_d = DEFAULT_FPS_D;
  self->roll_up_pause = DEFAULT_ROLL_UP_PAUSE;
  reset (self);

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_stt_to_cea608_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_stt_to_cea608_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
