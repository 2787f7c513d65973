/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-test-utils: the real stt-caption-server as a subprocess (port 0, a temporary
 * store and secret), WebSocket clients (libsoup), raw TCP clients that do the
 * handshake by hand, and HTTP GETs. Everything runs on the test thread's default main
 * context; every wait is bounded.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Bound of one wait for something that should happen at once. */
#define CAP_TEST_WAIT_MS 5000

typedef struct
{
  GSubprocess *proc;
  gchar *dir;                   /* temporary: secret, store/, server.log */
  gchar *store;
  gchar *secret_file;
  gchar *secret;
  gchar *log_path;              /* the server's stderr */
  guint16 port;
  gchar *base;                  /* http://127.0.0.1:PORT */
} CapTestServer;

/* Starts the server with a fresh directory and the given extra arguments
 * (NULL-terminated, may be NULL), and waits for its listening line. */
CapTestServer *cap_test_server_start (const gchar * const *args);
/* Starts it again on @old's directory (store and secret), once @old has stopped. */
CapTestServer *cap_test_server_restart (CapTestServer * old,
    const gchar * const *args);
/* SIGTERM, then waits for the exit: its exit status (-1 when it did not exit or died
 * of a signal). */
gint cap_test_server_stop (CapTestServer * s);
/* Kills it if still running; removes the directory unless @keep_dir. */
void cap_test_server_free (CapTestServer * s, gboolean keep_dir);
/* The server's stderr so far. */
gchar *cap_test_server_log (CapTestServer * s);

/* A token signed with the server's secret (or @secret when not NULL): claims room,
 * role and sub (when not NULL), valid from @iat_offset seconds from now for
 * @lifetime seconds. */
gchar *cap_test_token (CapTestServer * s, const gchar * secret,
    const gchar * room, const gchar * role, const gchar * sub,
    gint64 iat_offset, guint lifetime);

typedef struct
{
  SoupSession *session;
  SoupMessage *msg;
  SoupWebsocketConnection *ws;
  GQueue messages;              /* JsonObject*, in arrival order */
  GQueue times;                 /* gint64 monotonic arrival times, parallel */
  gboolean done;                /* connect finished (ws or error) */
  GError *error;
  guint status;                 /* HTTP status of a refused handshake */
  gboolean closed;
  gushort close_code;
  gchar *close_reason;
} CapTestClient;

/* Connects to ws://127.0.0.1:PORT@path (with its query). @origin and @bearer (a
 * token for the Authorization header) may be NULL. Returns when the handshake is over:
 * check ->ws, or ->error and ->status. */
CapTestClient *cap_test_client_connect (CapTestServer * s, const gchar * path,
    const gchar * origin, const gchar * bearer);
/* The same, asserting it is open and its first message is a welcome (returned). */
CapTestClient *cap_test_client_open (CapTestServer * s, const gchar * path,
    JsonObject ** welcome);
/* The next message (transfer full), or NULL after @timeout_ms or once closed. */
JsonObject *cap_test_client_next (CapTestClient * c, guint timeout_ms);
/* The close code, or 0 when it is still open after @timeout_ms. */
gushort cap_test_client_wait_closed (CapTestClient * c, guint timeout_ms);
void cap_test_client_send (CapTestClient * c, const gchar * text);
void cap_test_client_send_final (CapTestClient * c, gint64 seq,
    const gchar * text, gdouble start, gdouble end);
/* A revision of [@start, @end) with @seq; @words: "text start end text start end ..."
 * (seconds), its text their texts joined by spaces. */
void cap_test_client_send_revision (CapTestClient * c, gint64 seq, gdouble start,
    gdouble end, const gchar * words);
/* Closes (1000) when open, waits a moment for the close, frees. */
void cap_test_client_free (CapTestClient * c);

/* Asserts the next message of @c is of @type; returns it (transfer full). */
JsonObject *cap_test_expect (CapTestClient * c, const gchar * type);
/* Asserts the next message of @c is the final with @id and @text. */
void cap_test_expect_final (CapTestClient * c, gint64 id, const gchar * text);
/* Asserts the next message of @c is {"type":"ack","seq":@seq}. */
void cap_test_expect_ack (CapTestClient * c, gint64 seq);
/* Asserts nothing arrives on @c for @ms. */
void cap_test_expect_nothing (CapTestClient * c, guint ms);

/* /publish/ROOM with a publish token for @sub (NULL: no sub), asserting its welcome
 * says @expect_last_seq. */
CapTestClient *cap_test_open_publisher (CapTestServer * s, const gchar * room,
    const gchar * sub, gint64 expect_last_seq);
/* /watch/ROOM with a watch token and @query ("" or "&since=N"), asserting its
 * welcome says @expect_last_id. */
CapTestClient *cap_test_open_viewer (CapTestServer * s, const gchar * room,
    const gchar * query, gint64 expect_last_id);
/* Sends finals @from..@to ("line N") and waits for each ack. */
void cap_test_publish_range (CapTestClient * pub, gint64 from, gint64 to);

/* GET @path_and_query (with an Origin header when not NULL): the body, and the status
 * in *status. */
gchar *cap_test_http_get (CapTestServer * s, const gchar * path,
    const gchar * origin, guint * status);
/* GET /rooms/@room/transcript.@ext ("vtt" or "srt") with a watch token, asserting
 * 200: the body. */
gchar *cap_test_transcript (CapTestServer * s, const gchar * room,
    const gchar * ext);
/* GET /health, parsed. */
JsonObject *cap_test_health (CapTestServer * s);
/* The value of the sample @name (with its labels, e.g.
 * stt_caption_drops_total{reason="rate"}) in GET /metrics; -1 when absent. */
gdouble cap_test_metric (CapTestServer * s, const gchar * name);

/* Runs the main context until @done (@data) is TRUE or @timeout_ms passed. */
gboolean cap_test_wait (gboolean (*done) (gpointer data), gpointer data,
    guint timeout_ms);
/* Runs the main context for @ms. */
void cap_test_sleep (guint ms);

/* A client that speaks WebSocket by hand on a plain blocking socket, for peers
 * libsoup will not play: one that never reads, one that never answers pings. */
typedef struct
{
  GSocket *socket;
  GByteArray *buffer;           /* read, not yet parsed */
} CapRawClient;

/* Connects and does the handshake to @path; @rcvbuf (bytes, 0 for the default) is
 * set on the socket before it connects. */
CapRawClient *cap_raw_client_connect (CapTestServer * s, const gchar * path,
    gint rcvbuf);
/* Reads frames until a close frame (its code returned), the end of the stream
 * (returns 0), or @timeout_ms (returns -1). Pings are not answered; *pings counts
 * them when not NULL. */
gint cap_raw_client_read_until_close (CapRawClient * c, guint timeout_ms,
    guint * pings);
void cap_raw_client_free (CapRawClient * c);

/* A redis-server of the test's own ($REDIS_SERVER): loopback, a free port, no
 * persistence. */
typedef struct
{
  GSubprocess *proc;
  gchar *path;
  gchar *dir;                   /* its working directory (temporary) */
  guint16 port;
  gchar *url;                   /* redis://127.0.0.1:PORT */
} CapTestRedis;

/* Starts it and waits for its PONG; NULL when $REDIS_SERVER is empty (not
 * installed). */
CapTestRedis *cap_test_redis_start (void);
/* SIGKILL, and waits for it to exit. */
void cap_test_redis_kill (CapTestRedis * r);
/* Starts it again on the same port, empty. */
void cap_test_redis_restart (CapTestRedis * r);
/* Runs one command (@argv, NULL-terminated) on a connection of its own: the first
 * line of the reply (":1" for an integer 1), or a bulk string's content. */
gchar *cap_test_redis_call (CapTestRedis * r, const gchar * const *argv);
void cap_test_redis_free (CapTestRedis * r);

G_END_DECLS
