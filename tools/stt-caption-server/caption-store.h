/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-store: the finals of one room on disk (SQLite), so that history, a
 * publisher's last_seq and transcripts survive a restart. Main thread only.
 *
 * One database file per room, DIR/ROOM.sqlite (room names are [A-Za-z0-9_-]), in WAL
 * mode with synchronous=NORMAL: a commit costs no fsync (the WAL is synced at
 * checkpoints), so storing a final does not hold the main loop for a disk flush. An
 * acknowledged final survives a crash of the server, not of the machine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "caption-protocol.h"

G_BEGIN_DECLS

typedef struct _CapStore CapStore;

/* Opens the store of @room in @dir. With @create, the directory and the file are made
 * when missing; without, a missing file is G_IO_ERROR_NOT_FOUND. */
CapStore *cap_store_open (const gchar * dir, const gchar * room,
    gboolean create, GError ** error);
/* Flushes and closes (NULL is fine). */
void cap_store_close (CapStore * store);

/* Stores the final @c (publisher, seq, text, times, time set; a revision with
 * its words) with its id when it has one (a room-wide id from Redis), else sets
 * @c->id to the store's next. */
gboolean cap_store_append (CapStore * store, CapCaption * c, GError ** error);

/* The highest seq stored from @publisher, 0 when none. */
gint64 cap_store_last_seq (CapStore * store, const gchar * publisher,
    GError ** error);
/* The highest id stored, 0 when none. */
gint64 cap_store_last_id (CapStore * store, GError ** error);

/* Calls @func, in id order, for every final (and revision) with id > @after.
 * @c is the store's: the function may steal its strings (cap_caption_clear()
 * follows). */
typedef void (*CapStoreFunc) (CapCaption * c, gpointer user_data);
gboolean cap_store_foreach (CapStore * store, gint64 after, CapStoreFunc func,
    gpointer user_data, GError ** error);

/* Calls @func for every publisher with finals in the store, with its highest seq. */
typedef void (*CapStorePublisherFunc) (const gchar * publisher, gint64 last_seq,
    gpointer user_data);
gboolean cap_store_foreach_publisher (CapStore * store,
    CapStorePublisherFunc func, gpointer user_data, GError ** error);

G_END_DECLS
