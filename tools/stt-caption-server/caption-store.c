/* caption-store: see caption-store.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "caption-store.h"

/* 2: revisions, rows whose words (a JSON array) are not NULL. */
#define SCHEMA_VERSION 2

static const gchar SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS finals ("
    " id INTEGER PRIMARY KEY,"
    " publisher TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " text TEXT NOT NULL,"
    " start REAL NOT NULL,"
    " \"end\" REAL NOT NULL,"
    " speaker TEXT,"
    " language TEXT,"
    " time INTEGER NOT NULL,"
    " words TEXT,"
    " UNIQUE (publisher, seq));";
/* A store of version 1 gets the column, in one transaction with its new version. */
static const gchar UPGRADE_1[] = "BEGIN;"
    "ALTER TABLE finals ADD COLUMN words TEXT;"
    "PRAGMA user_version=2;"
    "COMMIT;";

struct _CapStore
{
  sqlite3 *db;
  gchar *path;
  sqlite3_stmt *insert;
  sqlite3_stmt *last_seq;
  sqlite3_stmt *last_id;
  sqlite3_stmt *select;
  sqlite3_stmt *publishers;
};

static void
set_db_error (GError ** error, CapStore * store, const gchar * what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "store %s: %s: %s",
      store->path, what, sqlite3_errmsg (store->db));
}

static gboolean
prepare (CapStore * store, const gchar * sql, sqlite3_stmt ** stmt,
    GError ** error)
{
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt,
          NULL) != SQLITE_OK) {
    set_db_error (error, store, "prepare");
    return FALSE;
  }
  return TRUE;
}

CapStore *
cap_store_open (const gchar * dir, const gchar * room, gboolean create,
    GError ** error)
{
  g_autofree gchar *file = g_strconcat (room, ".sqlite", NULL);
  CapStore *store = g_new0 (CapStore, 1);
  gint flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  gint version = 0;
  sqlite3_stmt *stmt = NULL;

  store->path = g_build_filename (dir, file, NULL);
  if (!create && !g_file_test (store->path, G_FILE_TEST_IS_REGULAR))
    goto not_found;
  if (create) {
    /* Transcripts may be private: the directory is the owner's. */
    if (g_mkdir_with_parents (dir, 0700) != 0)
      goto no_dir;
    flags |= SQLITE_OPEN_CREATE;
  }
  if (sqlite3_open_v2 (store->path, &store->db, flags, NULL) != SQLITE_OK)
    goto db_failed;
  sqlite3_busy_timeout (store->db, 1000);

  if (!prepare (store, "PRAGMA user_version", &stmt, error))
    goto failed;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  if (version > SCHEMA_VERSION)
    goto too_new;
  if (sqlite3_exec (store->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
      (version == 1 && sqlite3_exec (store->db, UPGRADE_1, NULL, NULL,
              NULL) != SQLITE_OK) ||
      (version == 0 && sqlite3_exec (store->db, "PRAGMA user_version="
              G_STRINGIFY (SCHEMA_VERSION), NULL, NULL, NULL) != SQLITE_OK))
    goto db_failed;

  if (!prepare (store, "INSERT INTO finals (id, publisher, seq, text, start, "
          "\"end\", speaker, language, time, words) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
          "?, ?)",
          &store->insert, error) ||
      !prepare (store, "SELECT MAX(seq) FROM finals WHERE publisher = ?",
          &store->last_seq, error) ||
      !prepare (store, "SELECT MAX(id) FROM finals", &store->last_id, error) ||
      !prepare (store, "SELECT id, publisher, seq, text, start, \"end\", "
          "speaker, language, time, words FROM finals WHERE id > ? ORDER BY id",
          &store->select, error) ||
      !prepare (store, "SELECT publisher, MAX(seq) FROM finals GROUP BY "
          "publisher", &store->publishers, error))
    goto failed;
  return store;

  /* ERRORS */
not_found:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no store for "
        "room %s", room);
    goto failed;
  }
no_dir:
  {
    gint errsv = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
        "cannot create the store directory %s: %s", dir, g_strerror (errsv));
    goto failed;
  }
too_new:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "store %s has "
        "schema version %d, this server knows %d", store->path, version,
        SCHEMA_VERSION);
    goto failed;
  }
db_failed:
  {
    if (store->db)
      set_db_error (error, store, "open");
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "store %s: cannot "
          "open", store->path);
    goto failed;
  }
failed:
  cap_store_close (store);
  return NULL;
}

void
cap_store_close (CapStore * store)
{
  if (!store)
    return;
  sqlite3_finalize (store->insert);
  sqlite3_finalize (store->last_seq);
  sqlite3_finalize (store->last_id);
  sqlite3_finalize (store->select);
  sqlite3_finalize (store->publishers);
  /* The last connection checkpoints the WAL into the database and removes it. */
  sqlite3_close (store->db);
  g_free (store->path);
  g_free (store);
}

static void
bind_text_or_null (sqlite3_stmt * stmt, gint col, const gchar * text)
{
  if (text)
    sqlite3_bind_text (stmt, col, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (stmt, col);
}

gboolean
cap_store_append (CapStore * store, CapCaption * c, GError ** error)
{
  sqlite3_stmt *stmt = store->insert;
  g_autofree gchar *words = c->revision ? cap_words_to_json (c->words) : NULL;
  gint rc;

  /* NULL: the next id of this store. */
  if (c->id > 0)
    sqlite3_bind_int64 (stmt, 1, c->id);
  else
    sqlite3_bind_null (stmt, 1);
  sqlite3_bind_text (stmt, 2, c->publisher, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, c->seq);
  sqlite3_bind_text (stmt, 4, c->text, -1, SQLITE_STATIC);
  sqlite3_bind_double (stmt, 5, c->start);
  sqlite3_bind_double (stmt, 6, c->end);
  bind_text_or_null (stmt, 7, c->speaker);
  bind_text_or_null (stmt, 8, c->language);
  sqlite3_bind_int64 (stmt, 9, c->time);
  bind_text_or_null (stmt, 10, words);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    c->id = sqlite3_last_insert_rowid (store->db);
  else
    set_db_error (error, store, "insert");
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rc == SQLITE_DONE;
}

/* Runs @stmt, a one-value MAX() query: its value, 0 for NULL, -1 on error. */
static gint64
query_max (CapStore * store, sqlite3_stmt * stmt, GError ** error)
{
  gint64 value = -1;

  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = sqlite3_column_int64 (stmt, 0);
  else
    set_db_error (error, store, "query");
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return value;
}

gint64
cap_store_last_seq (CapStore * store, const gchar * publisher, GError ** error)
{
  sqlite3_bind_text (store->last_seq, 1, publisher, -1, SQLITE_STATIC);
  return query_max (store, store->last_seq, error);
}

gint64
cap_store_last_id (CapStore * store, GError ** error)
{
  return query_max (store, store->last_id, error);
}

static gchar *
column_dup (sqlite3_stmt * stmt, gint col)
{
  const guchar *text = sqlite3_column_text (stmt, col);

  return text ? g_strdup ((const gchar *) text) : NULL;
}

gboolean
cap_store_foreach (CapStore * store, gint64 after, CapStoreFunc func,
    gpointer user_data, GError ** error)
{
  sqlite3_stmt *stmt = store->select;
  gint rc;

  sqlite3_bind_int64 (stmt, 1, after);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    CapCaption c = { 0 };

    c.final = TRUE;
    c.has_times = TRUE;
    c.id = sqlite3_column_int64 (stmt, 0);
    c.publisher = column_dup (stmt, 1);
    c.seq = sqlite3_column_int64 (stmt, 2);
    c.text = column_dup (stmt, 3);
    c.start = sqlite3_column_double (stmt, 4);
    c.end = sqlite3_column_double (stmt, 5);
    c.speaker = column_dup (stmt, 6);
    c.language = column_dup (stmt, 7);
    c.time = sqlite3_column_int64 (stmt, 8);
    if (sqlite3_column_type (stmt, 9) != SQLITE_NULL) {
      c.revision = TRUE;
      c.words = cap_words_parse ((const gchar *) sqlite3_column_text (stmt, 9),
          sqlite3_column_bytes (stmt, 9));
      if (!c.words)
        c.words = cap_words_parse ("[]", -1);
    }
    if (!c.text)
      c.text = g_strdup ("");
    if (!c.publisher)
      c.publisher = g_strdup ("default");
    func (&c, user_data);
    cap_caption_clear (&c);
  }
  if (rc != SQLITE_DONE)
    set_db_error (error, store, "select");
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rc == SQLITE_DONE;
}

gboolean
cap_store_foreach_publisher (CapStore * store, CapStorePublisherFunc func,
    gpointer user_data, GError ** error)
{
  sqlite3_stmt *stmt = store->publishers;
  gint rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    const guchar *publisher = sqlite3_column_text (stmt, 0);

    if (publisher)
      func ((const gchar *) publisher, sqlite3_column_int64 (stmt, 1),
          user_data);
  }
  if (rc != SQLITE_DONE)
    set_db_error (error, store, "select");
  sqlite3_reset (stmt);
  return rc == SQLITE_DONE;
}
