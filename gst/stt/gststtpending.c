/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtpending.c: the captions waiting for the server's acknowledgement, oldest first,
 * in a GQueue; `cursor` is the first one not yet sent on the current connection. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <json-glib/json-glib.h>

#include "gststtpending.h"

struct _GstSttPending
{
  GQueue queue;                 /* GstSttCaption*, seq increasing by 1 */
  GList *cursor;                /* NULL: everything was sent on this connection */
  guint max;
  guint64 next_seq;
};

GstSttCaption *
gst_stt_caption_new (const gchar * text, guint64 start_ms, guint64 end_ms,
    const gchar * speaker, const gchar * language)
{
  GstSttCaption *c = g_new0 (GstSttCaption, 1);

  c->text = g_strdup (text);
  c->start_ms = start_ms;
  c->end_ms = end_ms;
  c->speaker = g_strdup (speaker);
  c->language = g_strdup (language);
  return c;
}

static void
word_clear (GstSttCaptionWord * w)
{
  g_free (w->text);
}

GstSttCaption *
gst_stt_caption_new_revision (const gchar * text, guint64 start_ms, guint64 end_ms)
{
  GstSttCaption *c = gst_stt_caption_new (text, start_ms, end_ms, NULL, NULL);

  c->revision = TRUE;
  c->words = g_array_new (FALSE, TRUE, sizeof (GstSttCaptionWord));
  g_array_set_clear_func (c->words, (GDestroyNotify) word_clear);
  return c;
}

void
gst_stt_caption_add_word (GstSttCaption * c, const gchar * text, guint64 start_ms,
    guint64 end_ms)
{
  GstSttCaptionWord w = { g_strdup (text), start_ms, end_ms };

  g_array_append_val (c->words, w);
}

void
gst_stt_caption_free (GstSttCaption * c)
{
  if (c == NULL)
    return;
  if (c->words)
    g_array_unref (c->words);
  g_free (c->text);
  g_free (c->speaker);
  g_free (c->language);
  g_free (c);
}

/* Appends "name":value with @value a JSON string (and the comma before it, unless
 * @first). */
static void
append_member (GString * out, gboolean first, const gchar * name, const gchar * value)
{
  JsonNode *n = json_node_init_string (json_node_alloc (), value);
  gchar *quoted = json_to_string (n, FALSE);

  g_string_append_printf (out, "%s\"%s\":%s", first ? "" : ",", name, quoted);
  g_free (quoted);
  json_node_unref (n);
}

static void
append_string (GString * out, const gchar * name, const gchar * value)
{
  append_member (out, FALSE, name, value);
}

/* Appends "name":seconds, written as the shortest decimal of the milliseconds (1.52, not
 * json-glib's 1.5200000000000000178). */
static void
append_seconds (GString * out, const gchar * name, guint64 ms)
{
  g_string_append_printf (out, ",\"%s\":%" G_GUINT64_FORMAT, name, ms / 1000);
  if (ms % 1000) {
    gchar frac[5];
    gint i = 3;

    g_snprintf (frac, sizeof (frac), ".%03u", (guint) (ms % 1000));
    while (frac[i] == '0')
      frac[i--] = '\0';
    g_string_append (out, frac);
  }
}

static gchar *
revision_to_json (const GstSttCaption * c)
{
  GString *out = g_string_new ("{\"type\":\"revision\"");
  guint i;

  g_string_append_printf (out, ",\"seq\":%" G_GUINT64_FORMAT, c->seq);
  append_seconds (out, "start", c->start_ms);
  append_seconds (out, "end", c->end_ms);
  append_string (out, "text", c->text);
  g_string_append (out, ",\"words\":[");
  for (i = 0; i < c->words->len; i++) {
    const GstSttCaptionWord *w = &g_array_index (c->words, GstSttCaptionWord, i);

    g_string_append (out, i ? ",{" : "{");
    append_member (out, TRUE, "text", w->text);
    append_seconds (out, "start", w->start_ms);
    append_seconds (out, "end", w->end_ms);
    g_string_append_c (out, '}');
  }
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}

gchar *
gst_stt_caption_to_json (const GstSttCaption * c, gboolean final)
{
  GString *out;

  if (c->revision)
    return revision_to_json (c);
  out = g_string_new ("{\"type\":\"caption\"");

  if (final)
    g_string_append_printf (out, ",\"seq\":%" G_GUINT64_FORMAT, c->seq);
  g_string_append_printf (out, ",\"final\":%s", final ? "true" : "false");
  append_string (out, "text", c->text);
  append_seconds (out, "start", c->start_ms);
  append_seconds (out, "end", c->end_ms);
  if (c->speaker)
    append_string (out, "speaker", c->speaker);
  if (c->language)
    append_string (out, "language", c->language);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

GstSttPending *
gst_stt_pending_new (guint max)
{
  GstSttPending *p = g_new0 (GstSttPending, 1);

  g_queue_init (&p->queue);
  p->max = MAX (max, 1);
  p->next_seq = 1;
  return p;
}

void
gst_stt_pending_free (GstSttPending * p)
{
  if (p == NULL)
    return;
  g_queue_clear_full (&p->queue, (GDestroyNotify) gst_stt_caption_free);
  g_free (p);
}

static void
drop_head (GstSttPending * p)
{
  if (p->cursor == p->queue.head)
    p->cursor = p->cursor->next;
  gst_stt_caption_free (g_queue_pop_head (&p->queue));
}

guint
gst_stt_pending_add (GstSttPending * p, GstSttCaption * c)
{
  guint dropped = 0;

  while (p->queue.length >= p->max) {
    drop_head (p);
    dropped++;
  }
  c->seq = p->next_seq++;
  c->sent = FALSE;
  g_queue_push_tail (&p->queue, c);
  if (p->cursor == NULL)
    p->cursor = p->queue.tail;
  return dropped;
}

guint
gst_stt_pending_ack (GstSttPending * p, guint64 seq)
{
  guint n = 0;

  /* Only what left on this connection can be acknowledged on it. */
  while (p->queue.head && p->queue.head != p->cursor) {
    GstSttCaption *c = p->queue.head->data;

    if (c->seq > seq)
      break;
    drop_head (p);
    n++;
  }
  return n;
}

guint
gst_stt_pending_welcome (GstSttPending * p, guint64 last_seq)
{
  guint n = 0;
  guint64 seq = last_seq;
  GList *l;

  /* Sent in order, so the stored ones are at the head. A caption never sent cannot have
   * been stored, whatever its number says. */
  while (p->queue.head) {
    GstSttCaption *c = p->queue.head->data;

    if (!c->sent || c->seq > last_seq)
      break;
    drop_head (p);
    n++;
  }
  for (l = p->queue.head; l; l = l->next)
    ((GstSttCaption *) l->data)->seq = ++seq;
  p->next_seq = seq + 1;
  p->cursor = p->queue.head;
  return n;
}

const GstSttCaption *
gst_stt_pending_next (GstSttPending * p, gboolean * first)
{
  GstSttCaption *c;

  if (p->cursor == NULL)
    return NULL;
  c = p->cursor->data;
  if (first)
    *first = !c->sent;
  c->sent = TRUE;
  p->cursor = p->cursor->next;
  return c;
}

guint
gst_stt_pending_length (GstSttPending * p)
{
  return p->queue.length;
}

guint64
gst_stt_pending_next_seq (GstSttPending * p)
{
  return p->next_seq;
}
