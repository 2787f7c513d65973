/* caption-http: see caption-http.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <unistd.h>

#include "caption-auth.h"
#include "caption-bridge.h"
#include "caption-json.h"
#include "caption-log.h"
#include "caption-room.h"
#include "caption-store.h"
#include "caption-transcript.h"
#include "caption-conn.h"
#include "caption-http.h"

#define VIEWER_RESOURCE "/org/gst-stt/caption-server/viewer.html"

static gboolean
origin_allowed (CapServer * server, const gchar * origin)
{
  guint i;

  /* Without --allow-origin every page may connect. */
  if (!server->opts.allow_origins)
    return TRUE;
  for (i = 0; server->opts.allow_origins[i]; i++)
    if (g_ascii_strcasecmp (server->opts.allow_origins[i], origin) == 0)
      return TRUE;
  return FALSE;
}

static void
respond (SoupServerMessage * msg, guint status, const gchar * content_type,
    gchar * body)
{
  soup_server_message_set_status (msg, status, NULL);
  if (!body)
    body = g_strdup_printf ("%s\n", soup_status_get_phrase (status));
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body,
      strlen (body));
}

static gint64
rss_bytes (void)
{
  g_autofree gchar *statm = NULL;
  g_auto (GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    return 0;
  fields = g_strsplit (statm, " ", 3);
  if (!fields[0] || !fields[1])
    return 0;
  return g_ascii_strtoll (fields[1], NULL, 10) * sysconf (_SC_PAGESIZE);
}

static gchar *
health_json (CapServer * server)
{
  CapJson j;

  cap_json_begin (&j);
  cap_json_add_string (&j, "status", "ok");
  cap_json_add_int (&j, "uptime",
      (g_get_monotonic_time () - server->started) / G_USEC_PER_SEC);
  cap_json_add_int (&j, "rooms", g_hash_table_size (server->rooms));
  cap_json_add_int (&j, "viewers", server->n_viewers);
  cap_json_add_int (&j, "publishers", server->n_publishers);
  cap_json_add_int (&j, "rss_bytes", rss_bytes ());
  if (server->bridge)
    cap_json_add_string (&j, "redis", cap_bridge_state_name (server->bridge));
  return cap_json_end (&j);
}

static void
serve_viewer_page (SoupServerMessage * msg)
{
  g_autoptr (GBytes) page = g_resources_lookup_data (VIEWER_RESOURCE,
      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  SoupMessageHeaders *headers =
      soup_server_message_get_response_headers (msg);

  if (!page) {
    respond (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", NULL);
    return;
  }
  /* The page takes its token from its own URL: it must not leave in a Referer. */
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Content-Security-Policy",
      "default-src 'none'; script-src 'unsafe-inline'; "
      "style-src 'unsafe-inline'; connect-src 'self' ws: wss:; "
      "base-uri 'none'; frame-ancestors 'none'");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8",
      SOUP_MEMORY_COPY, g_bytes_get_data (page, NULL), g_bytes_get_size (page));
}

static void
add_cue (CapCaption * c, gpointer user_data)
{
  cap_cues_add (user_data, c);
}

static void
serve_transcript (CapServer * server, SoupServerMessage * msg,
    const gchar * room_name, CapTranscriptFormat format)
{
  g_autoptr (GHashTable) params = cap_auth_request_params (msg);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *publisher = NULL;
  CapRoom *room = cap_room_lookup (server, room_name);
  CapStore *own = NULL;
  CapStore *store;
  const gchar *reason = NULL;
  CapCues *cues;
  GString *out;
  gboolean ok;

  /* Whoever may watch the room may read its transcript. */
  if (!cap_auth_check (server, cap_auth_request_token (msg, params),
          room_name, CAP_ROLE_VIEWER, &publisher, &reason)) {
    cap_metrics_count (&server->metrics.drops[CAP_DROP_AUTH]);
    respond (msg, SOUP_STATUS_UNAUTHORIZED, "text/plain; charset=utf-8",
        g_strdup_printf ("%s\n", reason));
    return;
  }
  store = room ? room->store : NULL;
  if (!store)
    store = own = cap_store_open (server->opts.store_dir, room_name, FALSE,
        &error);
  if (!store) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
      respond (msg, SOUP_STATUS_NOT_FOUND, "text/plain", NULL);
    else
      respond (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", NULL);
    return;
  }
  /* Revisions replace what they cover: the whole room is read before a cue is
   * written. */
  cues = cap_cues_new ();
  ok = cap_store_foreach (store, 0, add_cue, cues, &error);
  cap_store_close (own);
  if (!ok) {
    cap_cues_free (cues);
    respond (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", NULL);
    return;
  }
  out = cap_transcript_new (format);
  cap_cues_write (cues, out, format);
  cap_cues_free (cues);
  respond (msg, SOUP_STATUS_OK, format == CAP_TRANSCRIPT_VTT ?
      "text/vtt; charset=utf-8" : "application/x-subrip; charset=utf-8",
      g_string_free (out, FALSE));
}

/* /rooms/ROOM, /rooms/ROOM/transcript.vtt or .srt. */
static void
serve_room (CapServer * server, SoupServerMessage * msg, const gchar * rest)
{
  const gchar *slash = strchr (rest, '/');
  g_autofree gchar *room = slash ? g_strndup (rest, slash - rest) :
      g_strdup (rest);

  if (!cap_room_name_is_valid (room))
    respond (msg, SOUP_STATUS_NOT_FOUND, "text/plain", NULL);
  else if (!slash)
    serve_viewer_page (msg);
  else if (strcmp (slash, "/transcript.vtt") == 0)
    serve_transcript (server, msg, room, CAP_TRANSCRIPT_VTT);
  else if (strcmp (slash, "/transcript.srt") == 0)
    serve_transcript (server, msg, room, CAP_TRANSCRIPT_SRT);
  else
    respond (msg, SOUP_STATUS_NOT_FOUND, "text/plain", NULL);
}

static void
on_upgraded (SoupServerMessage * msg, gpointer user_data)
{
  GIOStream *stream;

  g_object_ref (msg);
  stream = soup_server_message_steal_connection (msg);
  cap_conn_on_upgrade (user_data, msg, stream);
  g_object_unref (stream);
  g_object_unref (msg);
}

/* The WebSocket handshake, done here rather than by a SoupServer WebSocket handler:
 * that one makes the SoupWebsocketConnection on the main thread, and a viewer's must
 * be made on its worker's (caption-workers.h). No extension is offered: a small
 * compressed frame could inflate past --max-message unseen by the guard, and the
 * send queue counts bytes on the wire. */
static void
upgrade (CapServer * server, SoupServerMessage * msg)
{
  /* Not a handshake: the status (400) is set. */
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    return;
  g_signal_connect (msg, "wrote-informational", G_CALLBACK (on_upgraded),
      server);
}

void
cap_http_on_request (SoupServer * soup, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data)
{
  CapServer *server = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (request, "Origin");
  const char *length = soup_message_headers_get_one (request, "Content-Length");

  /* A browser sends Origin with every WebSocket handshake: a page elsewhere must not
   * use a viewer's cookies or network position to read captions. */
  if (origin && !origin_allowed (server, origin)) {
    const char *ip = soup_server_message_get_remote_host (msg);
    CapJson j;

    cap_metrics_count (&server->metrics.drops[CAP_DROP_ORIGIN]);
    cap_log_begin (&j, "refused");
    cap_json_add_string (&j, "path", path);
    cap_json_add_string (&j, "ip", ip ? ip : "?");
    cap_json_add_int (&j, "status", SOUP_STATUS_FORBIDDEN);
    cap_json_add_string (&j, "reason", "origin not allowed");
    cap_log_end (&j);
    respond (msg, SOUP_STATUS_FORBIDDEN, "text/plain", NULL);
    return;
  }

  if (g_str_has_prefix (path, "/publish/") || g_str_has_prefix (path,
          "/watch/")) {
    /* A handshake has no body; the guard takes what follows the request's headers
     * for WebSocket frames. */
    if ((length && g_ascii_strtoull (length, NULL, 10) > 0) ||
        soup_message_headers_get_one (request, "Transfer-Encoding"))
      respond (msg, SOUP_STATUS_BAD_REQUEST, "text/plain", NULL);
    else
      upgrade (server, msg);
    return;
  }

  /* One request per connection: the guard reads what follows a request's headers
   * as WebSocket frames. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
      "Connection", "close");
  if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0) {
    respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "text/plain", NULL);
    return;
  }
  if (strcmp (path, "/health") == 0) {
    respond (msg, SOUP_STATUS_OK, "application/json", health_json (server));
  } else if (strcmp (path, "/metrics") == 0) {
    respond (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
        cap_metrics_render (&server->metrics, server->n_publishers,
            server->n_viewers, g_hash_table_size (server->rooms)));
  } else if (g_str_has_prefix (path, "/rooms/")) {
    serve_room (server, msg, path + strlen ("/rooms/"));
  } else {
    respond (msg, SOUP_STATUS_NOT_FOUND, "text/plain", NULL);
  }
}
