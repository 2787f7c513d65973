/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-local-server: what its files share. The options, the server's state, and its
 * log lines. main.c says what each file does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include "stt-local-listener.h"
#include "decoders.h"

G_BEGIN_DECLS

#define PROGRAM "stt-local-server"

/* vosk clients send 0.1-0.5 s of audio per message (3-16 KB at 16 kHz). */
#define MAX_MESSAGE_SIZE (1024 * 1024)

typedef struct
{
  gchar *host;
  gint port;
  gchar *model_dir;
  gchar *hmm;
  gchar *lm;
  gchar *dict;
  gchar **ps_args;              /* "-name", "value" pairs, NULL-terminated */
  gint pool_size;
  gint max_clients;
  gint idle_timeout;            /* seconds, 0 for none */
  gchar **allow_origins;
  gboolean quiet;
  gboolean verbose;
} Options;

typedef struct
{
  Options opts;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *soup;
  SttListener *listener;
  SttDecoders *decoders;
  GThreadPool *workers;         /* worker.c */
  gint exit_code;

  /* main thread only */
  GList *clients;               /* vosk-protocol.c's, until their worker side is done */
  guint n_clients;              /* length of clients: what --max-clients bounds */
  guint next_id;
  guint active_connections;
  guint total_connections;
  guint refused_busy;           /* 503 (or 1001) for --max-clients */
  gboolean full;                /* at --max-clients since the last refusal logged */
  gdouble audio_seconds;
  gboolean shutting_down;
  guint grace_id;
} Server;

/* "stt-local-server: " and the text, on stderr, unless --quiet. Any thread. */
void log_info (Server * server, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
