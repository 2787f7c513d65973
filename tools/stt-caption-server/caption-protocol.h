/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-protocol: the messages of docs/caption-server.md. Parses what a publisher
 * sends and writes what the server sends. Pure functions.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A word of a revision. */
typedef struct
{
  gchar *text;
  gdouble start, end;           /* seconds, publisher's stream clock */
} CapWord;

/* A caption: parsed from a publisher, or read back from the store (then with id,
 * publisher and time). A revision is a final too (numbered, stored, acknowledged,
 * with an id), whose words replace its publisher's finals that start in
 * [start, end). */
typedef struct
{
  gboolean final;
  gboolean revision;
  GArray *words;                /* CapWord: revisions only (may be empty) */
  gint64 seq;                   /* finals: >= 1 */
  gchar *text;
  gboolean has_times;           /* always for finals */
  gdouble start, end;           /* seconds, publisher's stream clock */
  gchar *speaker;               /* optional */
  gchar *language;              /* optional */
  /* set by the server */
  gint64 id;                    /* room-wide order of finals, from 1 */
  gchar *publisher;
  gint64 time;                  /* ms since the Unix epoch, when stored */
} CapCaption;

void cap_caption_clear (CapCaption * c);

/* Room names: 1 to 64 characters of [A-Za-z0-9_-]. */
gboolean cap_room_name_is_valid (const gchar * name);

/* A revision's words as a JSON array, [{"text":...,"start":S,"end":E},...]. */
gchar *cap_words_to_json (GArray * words);
/* The words of such an array (@len bytes, -1: NUL-terminated); NULL when it is not
 * one. */
GArray *cap_words_parse (const gchar * data, gssize len);

/* Parses a publisher's text message (@len bytes) into @c: a caption, or a revision
 * (c->final and c->revision set). FALSE with @reason (a close reason, static text)
 * when it is malformed: not a JSON object, an unknown "type", a missing or mistyped
 * field. */
gboolean cap_caption_parse (const gchar * data, gsize len, CapCaption * c,
    const gchar ** reason);

GBytes *cap_msg_publisher_welcome (const gchar * room, const gchar * publisher,
    gint64 last_seq);
GBytes *cap_msg_viewer_welcome (const gchar * room, gint64 last_id);
GBytes *cap_msg_ack (gint64 seq);
GBytes *cap_msg_gap (gint64 from, gint64 to);
/* {"type":"final",...} for a stored final (id, publisher and time set), or
 * {"type":"revision",...} for a revision. */
GBytes *cap_msg_final (const CapCaption * c);
/* A final's frame is CAP_MSG_FINAL_HEAD (a revision's CAP_MSG_REVISION_HEAD:
 * cap_msg_final_head()), its id, then this text (every member after "id", and the
 * closing brace): the Redis bridge has the id put in by Redis. */
#define CAP_MSG_FINAL_HEAD "{\"type\":\"final\",\"id\":"
#define CAP_MSG_REVISION_HEAD "{\"type\":\"revision\",\"id\":"
const gchar *cap_msg_final_head (const CapCaption * c);
gchar *cap_msg_final_after_id (const CapCaption * c);

/* Parses a final's (or a revision's) frame as cap_msg_final() writes it (relayed by
 * another server through Redis, or held in a room's history) into @c; FALSE when it
 * is not one. */
gboolean cap_final_parse (const gchar * data, gsize len, CapCaption * c);
/* An interim's frame as cap_msg_interim() writes it. */
gboolean cap_interim_frame_is_valid (const gchar * data, gsize len);
/* {"type":"interim",...}; @c->publisher set. */
GBytes *cap_msg_interim (const CapCaption * c);

G_END_DECLS
