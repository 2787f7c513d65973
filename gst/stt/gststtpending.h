/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttPending: the final captions a publisher keeps until the caption server says it
 * stored them (docs/caption-server.md): their `seq` numbers, what was sent on the current
 * connection, cumulative acks, the welcome's `last_seq`, and a bound on how many are kept.
 * A plain data structure: no lock, no thread, no GStreamer object (the caller locks). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A word of a revision. */
typedef struct
{
  gchar *text;
  guint64 start_ms, end_ms;     /* stream time, in milliseconds */
} GstSttCaptionWord;

typedef struct
{
  guint64 seq;
  gchar *text;
  guint64 start_ms, end_ms;     /* stream time, in milliseconds */
  gchar *speaker;               /* NULL: none */
  gchar *language;              /* NULL: none */
  gboolean sent;                /* sent on some connection (it may have been stored) */
  /* A revision (docs/caption-server.md): the words that replace the publisher's
   * captions in [start, end). Numbered, kept and acknowledged like a final. */
  gboolean revision;
  GArray *words;                /* GstSttCaptionWord; revisions only, may be empty */
} GstSttCaption;

/* @text, @speaker and @language are copied; seq 0 and not sent. */
GstSttCaption *gst_stt_caption_new (const gchar * text, guint64 start_ms, guint64 end_ms,
    const gchar * speaker, const gchar * language);
/* A revision of [@start_ms, @end_ms) with no words yet (@text copied). */
GstSttCaption *gst_stt_caption_new_revision (const gchar * text, guint64 start_ms,
    guint64 end_ms);
/* Appends a word (@text copied) to the revision @c. */
void gst_stt_caption_add_word (GstSttCaption * c, const gchar * text, guint64 start_ms,
    guint64 end_ms);
void gst_stt_caption_free (GstSttCaption * c);
/* The message of @c: for a revision its `revision` message (with `seq` and `words`);
 * else the `caption` message, with `seq` and "final":true when @final, else
 * "final":false and no seq. Times in seconds with at most three decimals
 * ("start":1.52). */
gchar *gst_stt_caption_to_json (const GstSttCaption * c, gboolean final);

typedef struct _GstSttPending GstSttPending;

/* Keeps at most @max captions (at least 1). */
GstSttPending *gst_stt_pending_new (guint max);
void gst_stt_pending_free (GstSttPending * p);

/* Appends @c (taken), numbered after the last one. When @max are already kept, the oldest
 * are dropped first: returns how many (they will never be confirmed). */
guint gst_stt_pending_add (GstSttPending * p, GstSttCaption * c);
/* The server stored every final up to @seq: forgets those already sent. Returns how many. */
guint gst_stt_pending_ack (GstSttPending * p, guint64 seq);
/* A new connection's welcome: the server has stored up to @last_seq. Forgets the captions
 * sent before with seq <= @last_seq (returns how many: they are confirmed), numbers the rest
 * @last_seq + 1, + 2, ... in order (so the server sees no gap and no caption is taken for a
 * duplicate, whatever it stored before: another run of the same publisher, a lost store,
 * a caption dropped here) and makes them all due to be sent again. */
guint gst_stt_pending_welcome (GstSttPending * p, guint64 last_seq);
/* The next caption not yet sent on this connection, marked sent; NULL when none. @first
 * (may be NULL): set when it was never sent before. */
const GstSttCaption *gst_stt_pending_next (GstSttPending * p, gboolean * first);
guint gst_stt_pending_length (GstSttPending * p);
/* The seq the next caption added will get. */
guint64 gst_stt_pending_next_seq (GstSttPending * p);

G_END_DECLS
