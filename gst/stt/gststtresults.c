/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtresults.c: provider times to stream positions to transcript messages.
 *
 * Positions are stream samples at the wire rate. A service session starts at a stream
 * position (the committed point when it opened) and the provider's times count from
 * there; the map records where, within it, audio was skipped because the ring dropped
 * it, so provider times always map back to the right stream sample. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtresults.h"
#include "gststtmessage.h"

GST_DEBUG_CATEGORY_STATIC (stt_results_debug);
#define GST_CAT_DEFAULT stt_results_debug

/* Open segments (partials without their final) kept, and the longest provider segment
 * key: a server cannot make us hold more than this however many ids it invents. */
#define MAX_OPEN_SEGMENTS 64
#define MAX_SEGMENT_KEY 256
/* A final's end at the edge of the audio sent is not proof of silence up to there: a
 * word may be starting in the last of it, to come in the next final with a start before
 * this one's end. That much of it is done with only if a word of the final covers it. */
#define EDGE_MS 250

typedef struct
{
  guint64 conn;                 /* samples into the connection */
  guint64 stream;               /* stream position they correspond to */
} MapPoint;

typedef struct
{
  guint64 end;                  /* stream position after the chunk */
  gint64 sent;                  /* monotonic time it left */
} SendMark;

typedef struct
{
  guint64 id;
  guint revision;
  guint64 start;                /* stream position where its latest partial starts */
} SegInfo;

struct _GstSttResults
{
  guint rate;
  gchar *provider_name;
  GstSttTimeline *timeline;
  GstSttStats *stats;
  GstObject *log_object;
  GArray *map;                  /* MapPoint */
  GArray *marks;                /* SendMark */
  guint64 heard;                /* this connection's results reached this far */
  /* Segments: the provider's key (or "" for the open one) -> our id. */
  GHashTable *segments;
  guint64 next_segment_id;
  /* Words whose middle lies at or after this stream position are another session's
   * (a live backlog's split point); G_MAXUINT64: none. */
  guint64 range_end;
  /* The end of the audio (or a finalize) was sent: a final's end at the edge of what was
   * sent is the end of what there is to hear. */
  gboolean sealed;
};

GstSttResults *
gst_stt_results_new (guint rate, const gchar * provider_name, GstSttTimeline * timeline,
    GstSttStats * stats, GstObject * log_object)
{
  static gsize cat = 0;
  GstSttResults *r = g_new0 (GstSttResults, 1);

  if (g_once_init_enter (&cat)) {
    GST_DEBUG_CATEGORY_INIT (stt_results_debug, "sttresults", 0,
        "speech-to-text results to stream positions");
    g_once_init_leave (&cat, 1);
  }
  r->rate = rate;
  r->provider_name = g_strdup (provider_name);
  r->range_end = G_MAXUINT64;
  r->timeline = timeline;
  r->stats = stats;
  r->log_object = gst_object_ref (log_object);
  r->map = g_array_new (FALSE, FALSE, sizeof (MapPoint));
  r->marks = g_array_new (FALSE, FALSE, sizeof (SendMark));
  r->segments = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gst_stt_results_new_origin (r, 0);
  return r;
}

void
gst_stt_results_set_provider (GstSttResults * r, const gchar * provider_name)
{
  g_free (r->provider_name);
  r->provider_name = g_strdup (provider_name);
}

void
gst_stt_results_free (GstSttResults * r)
{
  if (r == NULL)
    return;
  g_array_unref (r->map);
  g_array_unref (r->marks);
  g_hash_table_unref (r->segments);
  gst_object_unref (r->log_object);
  g_free (r->provider_name);
  g_free (r);
}

void
gst_stt_results_new_origin (GstSttResults * r, guint64 base)
{
  MapPoint p = { 0, base };

  g_array_set_size (r->map, 0);
  g_array_append_val (r->map, p);
}

void
gst_stt_results_add_seam (GstSttResults * r, guint64 conn, guint64 stream)
{
  MapPoint p = { conn, stream };

  g_array_append_val (r->map, p);
}

guint64
gst_stt_results_conn_to_stream (GstSttResults * r, guint64 c)
{
  guint i;
  MapPoint *p = &g_array_index (r->map, MapPoint, 0);

  for (i = 1; i < r->map->len; i++) {
    MapPoint *q = &g_array_index (r->map, MapPoint, i);
    if (q->conn > c)
      break;
    p = q;
  }
  return p->stream + (c - p->conn);
}

guint64
gst_stt_results_seconds_to_stream (GstSttResults * r, gdouble t, guint64 conn_sent)
{
  gdouble samples = t * r->rate + 0.5;

  /* Hostile or broken times (huge, negative) are clamped. */
  if (!(samples > 0))
    samples = 0;
  if (samples > (gdouble) conn_sent)
    samples = (gdouble) conn_sent;
  return gst_stt_results_conn_to_stream (r, (guint64) samples);
}

void
gst_stt_results_mark_sent (GstSttResults * r, guint64 end, gint64 sent)
{
  SendMark m = { end, sent };

  g_array_append_val (r->marks, m);
}

/* Where the earliest segment still open (a partial without its final) starts, or
 * G_MAXUINT64. */
static guint64
open_segment_start (GstSttResults * r)
{
  GHashTableIter it;
  gpointer v;
  guint64 start = G_MAXUINT64;

  g_hash_table_iter_init (&it, r->segments);
  while (g_hash_table_iter_next (&it, NULL, &v))
    start = MIN (start, ((SegInfo *) v)->start);
  return start;
}

guint64
gst_stt_results_vouched (GstSttResults * r, gint64 horizon)
{
  guint lo = 0, hi;
  guint64 p = 0;

  if (horizon != G_MININT64 && r->marks->len > 0) {
    /* Marks are in send order: the last one sent before the horizon. */
    hi = r->marks->len;
    while (lo < hi) {
      guint mid = (lo + hi) / 2;

      if (g_array_index (r->marks, SendMark, mid).sent <= horizon)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo > 0)
      p = g_array_index (r->marks, SendMark, lo - 1).end;
  }
  p = MAX (p, r->heard);
  return MIN (p, open_segment_start (r));
}

static gboolean
is_stale_segment (gpointer key, gpointer value, gpointer data)
{
  return ((SegInfo *) value)->start < *(guint64 *) data;
}

static gboolean
is_keyed_segment (gpointer key, gpointer value, gpointer data)
{
  return *(const gchar *) key != '\0';
}

void
gst_stt_results_end_connection (GstSttResults * r)
{
  /* Send times and what the server vouched for belong to the connection: a replay is
   * timed anew. */
  g_array_set_size (r->marks, 0);
  r->heard = 0;
  g_hash_table_foreach_remove (r->segments, is_keyed_segment, NULL);
}

void
gst_stt_results_commit (GstSttResults * r, guint64 pos)
{
  guint i = 0;

  /* A partial from before the committed point has been overtaken (its final came under
   * another key, or a replay trimmed it): it holds nothing open any more. */
  g_hash_table_foreach_remove (r->segments, is_stale_segment, &pos);
  while (i < r->marks->len && g_array_index (r->marks, SendMark, i).end <= pos)
    i++;
  /* Keep one mark so latency can still be measured for a result ending right here. */
  if (i > 1)
    g_array_remove_range (r->marks, 0, i - 1);
}

guint
gst_stt_results_open_segments (GstSttResults * r)
{
  return g_hash_table_size (r->segments);
}

static gchar *
join_words (GArray * words, guint from, guint to)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = from; i < to; i++) {
    SttWord *w = &g_array_index (words, SttWord, i);
    if (str->len)
      g_string_append_c (str, ' ');
    g_string_append (str, w->text);
  }
  return g_string_free (str, FALSE);
}

static GstClockTime
latency_for (GstSttResults * r, guint64 end_pos, gint64 now)
{
  guint i;

  /* The chunk that carried the result's last sample. */
  for (i = 0; i < r->marks->len; i++) {
    SendMark *m = &g_array_index (r->marks, SendMark, i);
    if (m->end >= end_pos)
      return (now - m->sent) * GST_USECOND;
  }
  if (r->marks->len)
    return (now - g_array_index (r->marks, SendMark, r->marks->len - 1).sent) *
        GST_USECOND;
  return GST_CLOCK_TIME_NONE;
}

/* Forgets the oldest open segment (a server that opens segments and never ends them). */
static void
forget_oldest_segment (GstSttResults * r)
{
  GHashTableIter it;
  gpointer k, v, oldest = NULL;
  guint64 id = G_MAXUINT64;

  g_hash_table_iter_init (&it, r->segments);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    if (((SegInfo *) v)->id < id) {
      id = ((SegInfo *) v)->id;
      oldest = k;
    }
  }
  if (oldest)
    g_hash_table_remove (r->segments, oldest);
  if (gst_stt_stats_get (r->stats, GST_STT_STAT_MALFORMED) % 1000 == 0)
    GST_WARNING_OBJECT (r->log_object, "more than %d open segments: forgetting the "
        "oldest", MAX_OPEN_SEGMENTS);
  gst_stt_stats_add (r->stats, GST_STT_STAT_MALFORMED, 1);
}

gboolean
gst_stt_results_map (GstSttResults * r, SttResult * res, guint connection,
    guint64 conn_sent, guint64 send_pos, guint64 committed, gint64 now,
    GstSttMapped * out)
{
  g_autofree gchar *long_key = res->segment_key
      && strlen (res->segment_key) > MAX_SEGMENT_KEY
      ? g_strndup (res->segment_key, MAX_SEGMENT_KEY) : NULL;
  const gchar *key = long_key ? long_key : res->segment_key ? res->segment_key : "";
  guint64 start, end, trim_before = committed;
  guint first = 0, last, i;
  g_autofree gchar *text = NULL;
  GPtrArray *words;
  SegInfo *seg;
  GstClockTime pts, t_end, latency;

  memset (out, 0, sizeof (*out));
  out->is_final = res->is_final;
  out->words_start = out->words_end = out->trimmed_end = G_MAXUINT64;
  /* Words that lie in audio already covered by emitted finals were transcribed before
   * (a replay after reconnecting): drop them, so no word is doubled. */
  while (first < res->words->len) {
    SttWord *w = &g_array_index (res->words, SttWord, first);
    guint64 ws = gst_stt_results_seconds_to_stream (r, w->start, conn_sent);
    guint64 we = gst_stt_results_seconds_to_stream (r, w->end >= 0 ? w->end : w->start,
        conn_sent);

    if (w->start < 0 || (ws + we) / 2 >= trim_before)
      break;
    out->trimmed_end = we;
    first++;
  }
  if (first > 0)
    GST_DEBUG_OBJECT (r->log_object, "trimmed %u word(s) already emitted", first);
  /* A backlog session: the words past its split point are the live session's. */
  last = res->words->len;
  while (last > first && r->range_end != G_MAXUINT64) {
    SttWord *w = &g_array_index (res->words, SttWord, last - 1);
    guint64 ws = gst_stt_results_seconds_to_stream (r, w->start, conn_sent);
    guint64 we = gst_stt_results_seconds_to_stream (r, w->end >= 0 ? w->end : w->start,
        conn_sent);

    if (w->start >= 0 && (ws + we) / 2 < r->range_end)
      break;
    last--;
    out->past_range = TRUE;
  }

  if (last > first) {
    SttWord *w0 = &g_array_index (res->words, SttWord, first);
    SttWord *wn = &g_array_index (res->words, SttWord, last - 1);
    start = gst_stt_results_seconds_to_stream (r, w0->start, conn_sent);
    end = gst_stt_results_seconds_to_stream (r, wn->end >= 0 ? wn->end : wn->start,
        conn_sent);
    text = first > 0 || last < res->words->len ? join_words (res->words, first, last) :
        g_strdup (res->text);
    out->words_start = start;
    out->words_end = end;
  } else if (res->words->len > 0) {
    /* Every word was already emitted (or is another session's): the final reaches the
     * end of the last word it dropped, not the point they were measured against. Beside
     * a second session that point is the split's floor, and a word across it (its
     * middle past it) may still come in this connection's next final. */
    start = end = out->trimmed_end != G_MAXUINT64 ? out->trimmed_end : trim_before;
    text = g_strdup ("");
  } else {
    start = res->start >= 0 ? gst_stt_results_seconds_to_stream (r, res->start,
        conn_sent) : committed;
    end = res->end >= 0 ? gst_stt_results_seconds_to_stream (r, res->end, conn_sent) :
        send_pos;
    if (res->start >= 0 && end <= trim_before && trim_before > 0)
      text = g_strdup ("");     /* all of it was emitted */
    else
      text = g_strdup (res->text ? res->text : "");
  }
  if (end < start)
    end = start;

  if (res->is_final) {
    /* The audio up to the end of what this final covers is done with. */
    guint64 done = res->end >= 0 ? gst_stt_results_seconds_to_stream (r, res->end,
        conn_sent) : end;
    guint64 edge = (guint64) r->rate * EDGE_MS / 1000;

    /* Only where the final says where its words lie (or has none): without word times
     * a replay of that stretch could give a word of it again. */
    if (!r->sealed && done + edge > send_pos && (res->words->len > 0 || res->text == NULL
            || *res->text == '\0')) {
      guint64 words = out->words_end != G_MAXUINT64 ? out->words_end :
          out->trimmed_end != G_MAXUINT64 ? out->trimmed_end : 0;

      done = MIN (done, MAX (send_pos - MIN (send_pos, edge), words));
    }
    out->done = MIN (MAX (done, end), send_pos);
    if (*text == '\0') {
      g_hash_table_remove (r->segments, key);
      return TRUE;
    }
  } else if (*text == '\0') {
    return FALSE;
  }
  latency = latency_for (r, end, now);

  seg = g_hash_table_lookup (r->segments, key);
  if (seg == NULL) {
    if (g_hash_table_size (r->segments) >= MAX_OPEN_SEGMENTS)
      forget_oldest_segment (r);
    seg = g_new0 (SegInfo, 1);
    seg->id = r->next_segment_id++;
    g_hash_table_insert (r->segments, g_strdup (key), seg);
  } else {
    seg->revision++;
  }
  seg->start = start;
  /* Only a result that says where it ends tells how far the server heard. */
  if (res->end >= 0 || res->words->len > 0)
    r->heard = MAX (r->heard, end);

  words = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  for (i = first; i < last; i++) {
    SttWord *w = &g_array_index (res->words, SttWord, i);
    GstClockTime ws = gst_stt_timeline_to_time (r->timeline,
        gst_stt_results_seconds_to_stream (r, w->start, conn_sent));
    GstClockTime we = gst_stt_timeline_to_time (r->timeline,
        gst_stt_results_seconds_to_stream (r, w->end >= 0 ? w->end : w->start,
            conn_sent));

    g_ptr_array_add (words, gst_stt_message_word_new (w->text, ws, MAX (we, ws),
            w->confidence, w->speaker, res->is_final || w->stable));
  }

  pts = gst_stt_timeline_to_time (r->timeline, start);
  t_end = gst_stt_timeline_to_time (r->timeline, end);
  out->msg = gst_stt_message_transcript_new (r->provider_name, res->is_final, text,
      seg->id, seg->revision, pts, GST_CLOCK_TIME_IS_VALID (pts) ? t_end - pts :
      GST_CLOCK_TIME_NONE, words, res->language, res->confidence, connection, latency);
  g_ptr_array_unref (words);
  out->pts = pts;
  out->duration = t_end - pts;

  if (GST_CLOCK_TIME_IS_VALID (latency))
    gst_stt_stats_observe (r->stats, GST_STT_HIST_RESULT_LATENCY, latency);
  if (res->is_final)
    g_hash_table_remove (r->segments, key);
  return TRUE;
}

void
gst_stt_results_set_sealed (GstSttResults * r, gboolean sealed)
{
  r->sealed = sealed;
}

void
gst_stt_results_set_range_end (GstSttResults * r, guint64 pos)
{
  r->range_end = pos;
}

void
gst_stt_results_set_first_segment_id (GstSttResults * r, guint64 id)
{
  r->next_segment_id = id;
}
