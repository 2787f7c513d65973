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
gst_stt_caption_new (const gchar * text, gdouble start, gdouble end,
    const gchar * speaker, const gchar * language)
{
  GstSttCaption *c = g_new0 (GstSttCaption, 1);

  c->text = g_strdup (text);
  c->start = start;
  c->end = end;
  c->speaker = g_strdup (speaker);
  c->language = g_strdup (language);
  return c;
}

void
gst_stt_caption_free (GstSttCaption * c)
{
  if (c == NULL)
    return;
  g_free (c->text);
  g_free (c->speaker);
  g_free (c->language);
  g_free (c);
}

gchar *
gst_stt_caption_to_json (const GstSttCaption * c, gboolean final)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "caption");
  if (final) {
    json_builder_set_member_name (b, "seq");
    json_builder_add_int_value (b, (gint64) c->seq);
  }
  json_builder_set_member_name (b, "final");
  json_builder_add_boolean_value (b, final);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, c->text);
  json_builder_set_member_name (b, "start");
  json_builder_add_double_value (b, c->start);
  json_builder_set_member_name (b, "end");
  json_builder_add_double_value (b, c->end);
  if (c->speaker) {
    json_builder_set_member_name (b, "speaker");
    json_builder_add_string_value (b, c->speaker);
  }
  if (c->language) {
    json_builder_set_member_name (b, "language");
    json_builder_add_string_value (b, c->language);
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
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
