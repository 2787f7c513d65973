/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttpublish against a small publisher-side peer of the test's own that follows
 * docs/caption-server.md (welcome with last_seq, finals stored once by seq and acked,
 * duplicates acked again, interims recorded, 4001 for a bad token, 1003 for a malformed
 * message), with faults: a dropped socket, no acks, a server not up yet, refusals. Also
 * GstSttPending alone, the settings checked at start, and a real upstream: stttranscribe
 * on the local Deepgram-protocol server, its partials published as interim captions. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsrc.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"
#include "gststtpending.h"
#include "gststtjwt.h"

#define SECRET "caption-SECRET-91c3"
#define ROOM "demo"
#define LIFETIME 90
#define META "GstSttTextMeta"

/* ------------------------------------------------------------------------------------ */
/* The peer: the publisher side of a caption server */

typedef struct _Peer Peer;

typedef struct
{
  Peer *peer;
  SoupWebsocketConnection *conn;
  GSocket *socket;
  guint index;
  gboolean dropped;             /* the socket was shut: nothing more is read */
  guint stored;                 /* finals stored from this connection */
} PeerConn;

struct _Peer
{
  GMutex lock;
  GCond cond;
  /* Set by the test (before or during the run, under lock). */
  gboolean verify;              /* check every token (SECRET, room, role, exp) */
  gushort refuse_code;          /* close every connection with it at once */
  gboolean no_ack;              /* store, never ack */
  gboolean no_ack_first;        /* the same, on the first connection only */
  guint ack_delay_ms;
  guint drop_first_after;       /* shut the first connection's socket after storing N */
  gboolean drop_after_interim;  /* close (1001) the first connection after an interim */
  gboolean mute_first;          /* no welcome on the first connection */
  gboolean drop_first_at_revision;      /* shut the first connection when a revision
                                         * comes, without storing it */
  /* The room's state. */
  guint64 last_seq;
  GPtrArray *stored;            /* gchar*: the stored finals' JSON, in order */
  guint64 acked;                /* the highest ack decided */
  gint64 last_ack_at;           /* monotonic time the last ack left */
  /* What happened. */
  GPtrArray *received;          /* gchar*: "<conn> <json>" of every text message */
  GPtrArray *interims;          /* gchar*: their JSON */
  GPtrArray *tokens;            /* gchar*: the bearer token of each handshake, or "" */
  GPtrArray *queries;           /* gchar*: the query of each handshake, or "" */
  GPtrArray *token_auth;        /* gchar*: Authorization of each token request (/token) */
  GPtrArray *verdicts;          /* gchar*: why a token was refused, or "" */
  GArray *close_codes;          /* gushort: what the client closed each connection with */
  guint handshakes;
  guint duplicates;             /* finals received again with seq <= last stored */
  GPtrArray *violations;        /* gchar*: where the publisher broke the protocol */
  GPtrArray *conns;             /* PeerConn* */
  SttCheckSoup *soup;
};

static void
peer_conn_free (PeerConn * c)
{
  g_signal_handlers_disconnect_by_data (c->conn, c);
  g_object_unref (c->conn);
  g_clear_object (&c->socket);
  g_free (c);
}

static Peer *
peer_new (void)
{
  Peer *p = g_new0 (Peer, 1);

  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  p->stored = g_ptr_array_new_with_free_func (g_free);
  p->received = g_ptr_array_new_with_free_func (g_free);
  p->interims = g_ptr_array_new_with_free_func (g_free);
  p->tokens = g_ptr_array_new_with_free_func (g_free);
  p->queries = g_ptr_array_new_with_free_func (g_free);
  p->token_auth = g_ptr_array_new_with_free_func (g_free);
  p->verdicts = g_ptr_array_new_with_free_func (g_free);
  p->violations = g_ptr_array_new_with_free_func (g_free);
  p->close_codes = g_array_new (FALSE, TRUE, sizeof (gushort));
  p->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_conn_free);
  return p;
}

static void peer_setup (gpointer soup, gpointer data);

/* Listens (again) on @port (0: any). */
static void
peer_listen (Peer * p, guint port)
{
  p->soup = stt_check_soup_new_on_port (NULL, port, peer_setup, p);
  fail_unless (p->soup != NULL, "the peer cannot listen on port %u", port);
}

static guint
peer_port (Peer * p)
{
  return stt_check_soup_get_port (p->soup);
}

static gchar *
peer_url (Peer * p)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/publish/" ROOM, peer_port (p));
}

static void
peer_free (Peer * p)
{
  /* The server thread is gone before its connections are freed. */
  stt_check_soup_free (p->soup);
  g_ptr_array_unref (p->conns);
  g_ptr_array_unref (p->stored);
  g_ptr_array_unref (p->received);
  g_ptr_array_unref (p->interims);
  g_ptr_array_unref (p->tokens);
  g_ptr_array_unref (p->queries);
  g_ptr_array_unref (p->token_auth);
  g_ptr_array_unref (p->verdicts);
  g_ptr_array_unref (p->violations);
  g_array_unref (p->close_codes);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_free (p);
}

/* Call with the lock held. */
static void
violation (Peer * p, const gchar * what, const gchar * json)
{
  g_ptr_array_add (p->violations, g_strdup_printf ("%s: %s", what, json));
}

static void
send_text (SoupWebsocketConnection * conn, const gchar * text)
{
  if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (conn, text);
}

typedef struct
{
  Peer *peer;
  SoupWebsocketConnection *conn;
  guint64 seq;
} LateAck;

static gboolean
late_ack_cb (gpointer data)
{
  LateAck *a = data;
  g_autofree gchar *ack = g_strdup_printf ("{\"type\":\"ack\",\"seq\":%" G_GUINT64_FORMAT
      "}", a->seq);

  send_text (a->conn, ack);
  g_mutex_lock (&a->peer->lock);
  a->peer->last_ack_at = g_get_monotonic_time ();
  g_mutex_unlock (&a->peer->lock);
  g_object_unref (a->conn);
  g_free (a);
  return G_SOURCE_REMOVE;
}

static void
ack (PeerConn * c, guint64 seq, guint delay_ms)
{
  LateAck *a = g_new0 (LateAck, 1);
  GSource *src;

  a->peer = c->peer;
  a->conn = g_object_ref (c->conn);
  a->seq = seq;
  if (delay_ms == 0) {
    late_ack_cb (a);
    return;
  }
  src = g_timeout_source_new (delay_ms);
  g_source_set_callback (src, late_ack_cb, a, NULL);
  g_source_attach (src, g_main_context_get_thread_default ());
  g_source_unref (src);
}

static gboolean
has_member (JsonObject * o, const gchar * name, JsonNodeType type)
{
  JsonNode *n = json_object_get_member (o, name);

  return n && json_node_get_node_type (n) == type;
}

/* A revision as the doc says a server takes it: words, each with text, start and end. */
static gboolean
revision_is_valid (JsonObject * o)
{
  JsonArray *words;
  guint i;

  if (!has_member (o, "words", JSON_NODE_ARRAY))
    return FALSE;
  words = json_object_get_array_member (o, "words");
  for (i = 0; i < json_array_get_length (words); i++) {
    JsonNode *n = json_array_get_element (words, i);
    JsonObject *w = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;

    if (w == NULL || !has_member (w, "text", JSON_NODE_VALUE)
        || !has_member (w, "start", JSON_NODE_VALUE)
        || !has_member (w, "end", JSON_NODE_VALUE))
      return FALSE;
  }
  return TRUE;
}

/* Shuts the socket down: the client sees the connection end without a close frame. */
static void
drop (PeerConn * c)
{
  c->dropped = TRUE;
  g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
}

/* A caption, as the doc says a server takes it. */
static void
on_peer_message (SoupWebsocketConnection * conn, gint type, GBytes * message,
    gpointer data)
{
  PeerConn *c = data;
  Peer *p = c->peer;
  gsize len;
  const gchar *text = g_bytes_get_data (message, &len);
  g_autofree gchar *json = g_strndup (text, len);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = NULL;
  gboolean final, store = FALSE, send_ack = FALSE, close_1003 = FALSE, drop_now = FALSE;
  gboolean close_1001 = FALSE, revision;
  guint64 seq = 0;
  guint delay;

  if (json_parser_load_from_data (parser, json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    o = json_node_get_object (json_parser_get_root (parser));
  g_mutex_lock (&p->lock);
  if (c->dropped) {
    g_mutex_unlock (&p->lock);
    return;
  }
  g_ptr_array_add (p->received, g_strdup_printf ("%u %s", c->index, json));
  revision = o && g_strcmp0 (json_object_get_string_member_with_default (o, "type", ""),
      "revision") == 0;
  if (revision && c->index == 0 && p->drop_first_at_revision) {
    g_mutex_unlock (&p->lock);
    drop (c);
    return;
  }
  if (type != SOUP_WEBSOCKET_DATA_TEXT || o == NULL
      || (!revision && (g_strcmp0 (json_object_get_string_member_with_default (o,
                      "type", ""), "caption") != 0
              || !has_member (o, "final", JSON_NODE_VALUE)))
      || (revision && !revision_is_valid (o))
      || !has_member (o, "text", JSON_NODE_VALUE) || !has_member (o, "start",
          JSON_NODE_VALUE) || !has_member (o, "end", JSON_NODE_VALUE)) {
    violation (p, "malformed", json);
    close_1003 = TRUE;
  } else if ((final = revision || json_object_get_boolean_member (o, "final"))) {
    if (!has_member (o, "seq", JSON_NODE_VALUE)) {
      violation (p, "final without seq", json);
      close_1003 = TRUE;
    } else {
      seq = (guint64) json_object_get_int_member (o, "seq");
      if (seq <= p->last_seq) {
        /* A duplicate: acknowledged again, not stored. */
        p->duplicates++;
        send_ack = !p->no_ack && !(p->no_ack_first && c->index == 0);
      } else {
        if (seq != p->last_seq + 1)
          violation (p, "a gap in seq", json);
        p->last_seq = seq;
        g_ptr_array_add (p->stored, g_strdup (json));
        store = TRUE;
        c->stored++;
        send_ack = !p->no_ack && !(p->no_ack_first && c->index == 0);
        drop_now = c->index == 0 && p->drop_first_after
            && c->stored == p->drop_first_after;
      }
    }
  } else {
    if (has_member (o, "seq", JSON_NODE_VALUE))
      violation (p, "an interim with a seq", json);
    g_ptr_array_add (p->interims, g_strdup (json));
    close_1001 = c->index == 0 && p->drop_after_interim;
  }
  if (send_ack && seq > p->acked)
    p->acked = seq;
  delay = p->ack_delay_ms;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);

  if (drop_now) {
    drop (c);
    return;
  }
  if (send_ack)
    ack (c, store ? seq : p->last_seq, delay);
  if (close_1003)
    soup_websocket_connection_close (conn, 1003, "malformed message");
  if (close_1001)
    soup_websocket_connection_close (conn, 1001, "server restarting");
}

static void
on_peer_closed (SoupWebsocketConnection * conn, gpointer data)
{
  PeerConn *c = data;
  Peer *p = c->peer;

  g_mutex_lock (&p->lock);
  g_array_index (p->close_codes, gushort, c->index) =
      soup_websocket_connection_get_close_code (conn);
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
}

/* Why @token (a JWT) would be refused for the room: NULL if it is fine. Sets @sub. */
static gchar *
judge_token (const gchar * token, const gchar * room, gchar ** sub)
{
  gchar *why = NULL;
  g_autoptr (JsonObject) claims = stt_check_jwt_verify (token, SECRET, &why);
  const gchar *r;

  *sub = NULL;
  if (claims == NULL)
    return why;
  if (json_object_get_int_member_with_default (claims, "exp", 0) <=
      g_get_real_time () / G_USEC_PER_SEC)
    return g_strdup ("token expired");
  r = json_object_get_string_member_with_default (claims, "room", "");
  if (g_strcmp0 (r, room) != 0 && g_strcmp0 (r, "*") != 0)
    return g_strdup ("token for another room");
  if (g_strcmp0 (json_object_get_string_member_with_default (claims, "role", ""),
          "publish") != 0)
    return g_strdup ("not a publish token");
  *sub = g_strdup (json_object_get_string_member_with_default (claims, "sub", ""));
  return NULL;
}

static void
on_peer_handshake (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  Peer *p = data;
  const gchar *auth = soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");
  const gchar *q = g_uri_get_query (soup_server_message_get_uri (msg));
  GSocket *sock = soup_server_message_get_socket (msg);

  g_mutex_lock (&p->lock);
  p->handshakes++;
  g_ptr_array_add (p->tokens, g_strdup (auth && g_str_has_prefix (auth, "Bearer ") ?
          auth + 7 : ""));
  g_ptr_array_add (p->queries, g_strdup (q ? q : ""));
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  if (sock)
    g_object_set_data_full (G_OBJECT (msg), "peer-socket", g_object_ref (sock),
        g_object_unref);
}

static void
on_peer_ws (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * conn, gpointer data)
{
  Peer *p = data;
  PeerConn *c = g_new0 (PeerConn, 1);
  const gchar *room = path + strlen ("/publish/");
  g_autofree gchar *verdict = NULL, *sub = NULL, *welcome = NULL;
  gushort refuse, zero = 0;
  gboolean mute;
  const gchar *token;

  c->peer = p;
  c->conn = g_object_ref (conn);
  c->socket = g_object_get_data (G_OBJECT (msg), "peer-socket");
  if (c->socket)
    g_object_ref (c->socket);
  g_signal_connect (conn, "message", G_CALLBACK (on_peer_message), c);
  g_signal_connect (conn, "closed", G_CALLBACK (on_peer_closed), c);
  g_mutex_lock (&p->lock);
  c->index = p->conns->len;
  g_ptr_array_add (p->conns, c);
  g_array_append_val (p->close_codes, zero);
  token = g_ptr_array_index (p->tokens, p->tokens->len - 1);
  if (p->verify)
    verdict = judge_token (token, room, &sub);
  g_ptr_array_add (p->verdicts, g_strdup (verdict ? verdict : ""));
  refuse = p->refuse_code;
  mute = p->mute_first && c->index == 0;
  welcome = g_strdup_printf ("{\"type\":\"welcome\",\"room\":\"%s\",\"publisher\":\"%s\","
      "\"last_seq\":%" G_GUINT64_FORMAT "}", room, sub && *sub ? sub : "default",
      p->last_seq);
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  /* As the doc says: accepted, then closed with a reason a client can tell apart. */
  if (verdict)
    soup_websocket_connection_close (conn, 4001, verdict);
  else if (refuse)
    soup_websocket_connection_close (conn, refuse, "refused by the test");
  else if (!mute)
    send_text (conn, welcome);
}

/* A token service: a fresh token for the room at every request. */
static void
on_token_request (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  Peer *p = data;
  const gchar *auth = soup_message_headers_get_one (soup_server_message_get_request_headers
      (msg), "Authorization");
  g_autoptr (JsonObject) claims = json_object_new ();
  g_autofree gchar *token = NULL, *body = NULL;

  g_mutex_lock (&p->lock);
  g_ptr_array_add (p->token_auth, g_strdup (auth ? auth : ""));
  g_mutex_unlock (&p->lock);
  json_object_set_string_member (claims, "room", ROOM);
  json_object_set_string_member (claims, "role", "publish");
  json_object_set_string_member (claims, "sub", "from-service");
  token = gst_stt_jwt_mint ((const guint8 *) SECRET, strlen (SECRET), claims,
      g_get_real_time () / G_USEC_PER_SEC, 60);
  body = g_strdup_printf ("{\"expires_in\":60,\"token\":\"%s\"}", token);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body,
      strlen (body));
}

static void
peer_setup (gpointer soup, gpointer data)
{
  soup_server_add_early_handler (soup, "/publish", on_peer_handshake, data, NULL);
  soup_server_add_websocket_handler (soup, "/publish", NULL, NULL, on_peer_ws, data, NULL);
  soup_server_add_handler (soup, "/token", on_token_request, data, NULL);
}

typedef gboolean (*PeerDone) (Peer * p, gpointer data);

/* Waits up to @timeout_ms for @done (called with the lock held). */
static gboolean
peer_wait (Peer * p, PeerDone done, gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean ok;

  g_mutex_lock (&p->lock);
  while (!(ok = done (p, data)) && g_cond_wait_until (&p->cond, &p->lock, deadline));
  g_mutex_unlock (&p->lock);
  return ok;
}

static gboolean
n_stored (Peer * p, gpointer n)
{
  return p->stored->len >= GPOINTER_TO_UINT (n);
}

static gboolean
n_interims (Peer * p, gpointer n)
{
  return p->interims->len >= GPOINTER_TO_UINT (n);
}

static gboolean
n_handshakes (Peer * p, gpointer n)
{
  return p->handshakes >= GPOINTER_TO_UINT (n);
}

/* The seq of every final received on connection @index, in order, as "1 2 3". */
static gchar *
finals_on (Peer * p, guint index)
{
  GString *out = g_string_new (NULL);
  guint i;

  g_mutex_lock (&p->lock);
  for (i = 0; i < p->received->len; i++) {
    const gchar *line = g_ptr_array_index (p->received, i);
    g_autofree gchar *prefix = g_strdup_printf ("%u ", index);
    const gchar *seq;

    if (!g_str_has_prefix (line, prefix) || !(seq = strstr (line, "\"seq\":")))
      continue;
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT, out->len ? " " : "",
        g_ascii_strtoull (seq + 6, NULL, 10));
  }
  g_mutex_unlock (&p->lock);
  return g_string_free (out, FALSE);
}

static void
assert_no_violation (Peer * p)
{
  g_mutex_lock (&p->lock);
  fail_unless (p->violations->len == 0, "the publisher broke the protocol: %s",
      p->violations->len ? (gchar *) g_ptr_array_index (p->violations, 0) : "");
  g_mutex_unlock (&p->lock);
}

/* Stored final @i (from 0) parsed. */
static JsonObject *
stored_caption (Peer * p, guint i)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;

  g_mutex_lock (&p->lock);
  fail_unless (i < p->stored->len);
  fail_unless (json_parser_load_from_data (parser, g_ptr_array_index (p->stored, i), -1,
          NULL));
  g_mutex_unlock (&p->lock);
  o = json_node_get_object (json_parser_get_root (parser));
  return json_object_ref (o);
}

/* ------------------------------------------------------------------------------------ */
/* appsrc ! sttpublish */

typedef struct
{
  GstElement *pipe, *src, *sink;
  GstBus *bus;
  GPtrArray *conn;              /* GstStructure*: sttpublish-connection */
  GPtrArray *warnings;          /* GstStructure*: details plus "message" */
  GstStructure *error;          /* details plus "message", "domain", "code" */
  gboolean eos;
} Run;

static Run *
run_new (const gchar * url, const gchar * props)
{
  Run *r = g_new0 (Run, 1);
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src format=time "
      "caps=text/x-raw,format=utf8 ! sttpublish name=pub url=%s token-secret=" SECRET
      " reconnect-initial-delay=100000000 reconnect-max-delay=300000000 %s", url,
      props ? props : "");

  r->pipe = gst_parse_launch (desc, NULL);
  fail_unless (r->pipe != NULL);
  r->src = gst_bin_get_by_name (GST_BIN (r->pipe), "src");
  r->sink = gst_bin_get_by_name (GST_BIN (r->pipe), "pub");
  r->bus = gst_element_get_bus (r->pipe);
  r->conn = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  r->warnings = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  return r;
}

static void
run_free (Run * r)
{
  gst_element_set_state (r->pipe, GST_STATE_NULL);
  gst_object_unref (r->src);
  gst_object_unref (r->sink);
  gst_object_unref (r->bus);
  gst_object_unref (r->pipe);
  g_ptr_array_unref (r->conn);
  g_ptr_array_unref (r->warnings);
  g_clear_pointer (&r->error, gst_structure_free);
  g_free (r);
}

static GstStructure *
parse_problem (GstMessage * msg)
{
  GError *err = NULL;
  gchar *debug = NULL;
  const GstStructure *details = NULL;
  GstStructure *s;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &err, &debug);
    gst_message_parse_error_details (msg, &details);
  } else {
    gst_message_parse_warning (msg, &err, &debug);
    gst_message_parse_warning_details (msg, &details);
  }
  s = details ? gst_structure_copy (details) : gst_structure_new_empty ("details");
  gst_structure_set (s, "message", G_TYPE_STRING, err->message, "domain", G_TYPE_STRING,
      g_quark_to_string (err->domain), "code", G_TYPE_INT, err->code, NULL);
  g_error_free (err);
  g_free (debug);
  return s;
}

typedef gboolean (*RunDone) (Run * r, gpointer data);

/* Reads the bus until @done (NULL: EOS or an error) or @timeout_ms. */
static gboolean
run_poll (Run * r, RunDone done, gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    GstMessage *msg;

    if (done ? done (r, data) : (r->eos || r->error != NULL))
      return TRUE;
    if (g_get_monotonic_time () > deadline)
      return FALSE;
    msg = gst_bus_timed_pop (r->bus, 20 * GST_MSECOND);
    if (msg == NULL)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        r->eos = TRUE;
        break;
      case GST_MESSAGE_ERROR:
        if (r->error == NULL)
          r->error = parse_problem (msg);
        break;
      case GST_MESSAGE_WARNING:
        g_ptr_array_add (r->warnings, parse_problem (msg));
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_structure_has_name (gst_message_get_structure (msg),
                "sttpublish-connection"))
          g_ptr_array_add (r->conn, gst_structure_copy (gst_message_get_structure (msg)));
        break;
      default:
        break;
    }
    gst_message_unref (msg);
  }
}

static void
run_play (Run * r)
{
  fail_if (gst_element_set_state (r->pipe, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
}

static GstBuffer *
text_buffer (const gchar * text, gdouble start, gdouble end)
{
  GstBuffer *buf = gst_buffer_new_memdup (text, strlen (text));

  GST_BUFFER_PTS (buf) = (GstClockTime) (start * GST_SECOND + 0.5);
  GST_BUFFER_DURATION (buf) = (GstClockTime) ((end - start) * GST_SECOND + 0.5);
  return buf;
}

/* An interim caption, or one with a speaker and a language: the custom meta. */
static GstBuffer *
meta_buffer (const gchar * text, gdouble start, gdouble end, gboolean final,
    const gchar * speaker, const gchar * language)
{
  GstBuffer *buf = text_buffer (text, start, end);
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buf, META);
  GstStructure *s;

  fail_unless (meta != NULL, "the plugin registers " META);
  s = gst_custom_meta_get_structure (meta);
  gst_structure_set (s, "final", G_TYPE_BOOLEAN, final, NULL);
  if (speaker)
    gst_structure_set (s, "speaker", G_TYPE_STRING, speaker, NULL);
  if (language)
    gst_structure_set (s, "language", G_TYPE_STRING, language, NULL);
  return buf;
}

static void
push (Run * r, GstBuffer * buf)
{
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (r->src), buf),
      GST_FLOW_OK);
}

/* Five words as stttranscribe's words mode pushes them. */
static const struct
{
  const gchar *text;
  gdouble start, end;
} words[] = {
  {"Hello", 0.52, 0.9},
  {"world.", 1.0, 1.37},
  {"Captions", 2.5, 3.1},
  {"über", 3.2, 3.5},
  {"alles", 3.6, 4.25},
};

static void
push_words (Run * r, guint from, guint to)
{
  guint i;

  for (i = from; i < to; i++)
    push (r, text_buffer (words[i].text, words[i].start, words[i].end));
}

static void
end_stream (Run * r)
{
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (r->src)), GST_FLOW_OK);
}

static guint64
get_count (Run * r, const gchar * name)
{
  guint64 v = 0;

  g_object_get (r->sink, name, &v, NULL);
  return v;
}

/* How many connection messages in state @state so far. */
static guint
n_state (Run * r, const gchar * state)
{
  guint i, n = 0;

  for (i = 0; i < r->conn->len; i++)
    n += g_strcmp0 (gst_structure_get_string (g_ptr_array_index (r->conn, i), "state"),
        state) == 0;
  return n;
}

static gboolean
reconnecting_twice (Run * r, gpointer data)
{
  return n_state (r, "reconnecting") >= 2 || r->error;
}

/* Stored final @i is words[@w]: text, seq i + 1, times from PTS and DURATION. */
static void
check_stored_word (Peer * p, guint i, guint w)
{
  g_autoptr (JsonObject) o = stored_caption (p, i);

  fail_unless_equals_string (json_object_get_string_member (o, "text"), words[w].text);
  fail_unless_equals_int (json_object_get_int_member (o, "seq"), i + 1);
  fail_unless (json_object_get_boolean_member (o, "final"));
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "start"),
          words[w].start, 1e-9), "start %f", json_object_get_double_member (o, "start"));
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "end"), words[w].end,
          1e-9), "end %f", json_object_get_double_member (o, "end"));
}

/* ------------------------------------------------------------------------------------ */
/* GstSttPending alone */

static gchar *
seqs (GstSttPending * q)
{
  GString *out = g_string_new (NULL);
  const GstSttCaption *c;

  while ((c = gst_stt_pending_next (q, NULL)))
    g_string_append_printf (out, "%s%" G_GUINT64_FORMAT ":%s", out->len ? " " : "",
        c->seq, c->text);
  return g_string_free (out, FALSE);
}

GST_START_TEST (test_pending)
{
  GstSttPending *q = gst_stt_pending_new (4);
  g_autofree gchar *a = NULL, *b = NULL, *c = NULL, *d = NULL, *json = NULL;
  GstSttCaption *cap;
  gboolean first = FALSE;

  /* Numbered in order; acks forget only what was sent. */
  gst_stt_pending_add (q, gst_stt_caption_new ("a", 0, 1000, NULL, NULL));
  gst_stt_pending_add (q, gst_stt_caption_new ("b", 1000, 2000, NULL, NULL));
  fail_unless_equals_int (gst_stt_pending_ack (q, 5), 0);
  fail_unless (gst_stt_pending_next (q, &first) != NULL && first);
  gst_stt_pending_add (q, gst_stt_caption_new ("c", 2000, 3000, NULL, NULL));
  fail_unless_equals_int (gst_stt_pending_ack (q, 5), 1);
  a = seqs (q);
  fail_unless_equals_string (a, "2:b 3:c");
  fail_unless_equals_int (gst_stt_pending_length (q), 2);

  /* A reconnect: the server stored 2; 3 goes again, the same number. */
  fail_unless_equals_int (gst_stt_pending_welcome (q, 2), 1);
  fail_unless (gst_stt_pending_next (q, &first) != NULL && !first);
  fail_unless_equals_int (gst_stt_pending_welcome (q, 2), 0);
  b = seqs (q);
  fail_unless_equals_string (b, "3:c");

  /* Full: the oldest goes; after a welcome the rest follow the server's last_seq with no
   * gap, and new ones after them. */
  gst_stt_pending_add (q, gst_stt_caption_new ("d", 3000, 4000, NULL, NULL));
  gst_stt_pending_add (q, gst_stt_caption_new ("e", 4000, 5000, NULL, NULL));
  gst_stt_pending_add (q, gst_stt_caption_new ("f", 5000, 6000, NULL, NULL));
  fail_unless_equals_int (gst_stt_pending_add (q, gst_stt_caption_new ("g", 6, 7, NULL,
              NULL)), 1);
  fail_unless_equals_int (gst_stt_pending_welcome (q, 2), 0);
  c = seqs (q);
  fail_unless_equals_string (c, "3:d 4:e 5:f 6:g");
  fail_unless_equals_int (gst_stt_pending_next_seq (q), 7);

  /* Another run of the same publisher: the server holds 100 already. Captions never sent
   * are not taken for stored ones: numbered after it. */
  fail_unless_equals_int (gst_stt_pending_ack (q, 6), 4);
  gst_stt_pending_add (q, gst_stt_caption_new ("h", 7000, 8000, NULL, NULL));
  fail_unless_equals_int (gst_stt_pending_welcome (q, 100), 0);
  d = seqs (q);
  fail_unless_equals_string (d, "101:h");
  /* ... and once sent, a welcome at or past it means stored. */
  fail_unless_equals_int (gst_stt_pending_welcome (q, 101), 1);
  fail_unless_equals_int (gst_stt_pending_length (q), 0);
  gst_stt_pending_free (q);

  /* The wire format. */
  cap = gst_stt_caption_new ("Hello \"world\"", 1520, 2900, "S1", "en");
  cap->seq = 7;
  json = gst_stt_caption_to_json (cap, TRUE);
  fail_unless_equals_string (json, "{\"type\":\"caption\",\"seq\":7,\"final\":true,"
      "\"text\":\"Hello \\\"world\\\"\",\"start\":1.52,\"end\":2.9,\"speaker\":\"S1\","
      "\"language\":\"en\"}");
  g_free (json);
  g_clear_pointer (&cap->speaker, g_free);
  g_clear_pointer (&cap->language, g_free);
  json = gst_stt_caption_to_json (cap, FALSE);
  fail_unless_equals_string (json, "{\"type\":\"caption\",\"final\":false,"
      "\"text\":\"Hello \\\"world\\\"\",\"start\":1.52,\"end\":2.9}");
  g_free (json);
  cap->start_ms = 500;
  cap->end_ms = 62000;
  json = gst_stt_caption_to_json (cap, FALSE);
  fail_unless (strstr (json, "\"start\":0.5,\"end\":62}") != NULL, "%s", json);
  gst_stt_caption_free (cap);
}

GST_END_TEST;

/* ------------------------------------------------------------------------------------ */
/* Publishing */

/* Finals in order, numbered from 1, with the buffers' times; speaker and language from
 * the meta; every one acknowledged before EOS; a normal close. */
GST_START_TEST (test_finals_in_order)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  g_autoptr (JsonObject) with_meta = NULL;
  g_autoptr (JsonObject) without = NULL;
  Run *r;
  guint i;

  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 4);
  push (r, meta_buffer (words[4].text, words[4].start, words[4].end, TRUE, "S2", "de"));
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL, "%s", r->error ? gst_structure_to_string (r->error) : "");
  fail_unless (r->eos);

  fail_unless_equals_int (p->stored->len, 5);
  for (i = 0; i < 5; i++)
    check_stored_word (p, i, i);
  with_meta = stored_caption (p, 4);
  fail_unless_equals_string (json_object_get_string_member (with_meta, "speaker"), "S2");
  fail_unless_equals_string (json_object_get_string_member (with_meta, "language"), "de");
  without = stored_caption (p, 0);
  fail_if (json_object_has_member (without, "speaker"));
  fail_if (json_object_has_member (without, "language"));
  assert_no_violation (p);
  fail_unless_equals_int (p->duplicates, 0);
  fail_unless_equals_int (get_count (r, "published"), 5);
  fail_unless_equals_int (get_count (r, "acknowledged"), 5);
  fail_unless_equals_int (get_count (r, "dropped"), 0);
  fail_unless_equals_int (r->warnings->len, 0);
  /* Connected once, welcomed with last_seq 0; closed with 1000 at the end. */
  fail_unless_equals_int (n_state (r, "connected"), 1);
  fail_unless_equals_int (n_state (r, "closed"), 1);
  fail_unless (peer_wait (p, n_handshakes, GUINT_TO_POINTER (1), 100));
  run_free (r);
  g_mutex_lock (&p->lock);
  fail_unless_equals_int (g_array_index (p->close_codes, gushort, 0), 1000);
  g_mutex_unlock (&p->lock);
  peer_free (p);
}

GST_END_TEST;

/* An interim goes out marked, without seq, is never stored, and is not sent again on the
 * next connection; the finals around it are published once each. */
GST_START_TEST (test_interim)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *on0 = NULL, *on1 = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;
  Run *r;

  p->drop_after_interim = TRUE;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 1);
  push (r, meta_buffer ("world and", 1.0, 1.6, FALSE, NULL, NULL));
  /* The peer closes the connection (1001) on the interim. */
  fail_unless (peer_wait (p, n_interims, GUINT_TO_POINTER (1), 5000));
  fail_unless (peer_wait (p, n_handshakes, GUINT_TO_POINTER (2), 5000));
  push_words (r, 1, 2);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  fail_unless_equals_int (p->interims->len, 1);
  fail_unless (json_parser_load_from_data (parser, g_ptr_array_index (p->interims, 0), -1,
          NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  fail_unless (!json_object_get_boolean_member (o, "final"));
  fail_if (json_object_has_member (o, "seq"));
  fail_unless_equals_string (json_object_get_string_member (o, "text"), "world and");
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "end"), 1.6, 1e-9));
  fail_unless_equals_int (p->stored->len, 2);
  check_stored_word (p, 0, 0);
  check_stored_word (p, 1, 1);
  on0 = finals_on (p, 0);
  on1 = finals_on (p, 1);
  fail_unless_equals_string (on0, "1");
  fail_unless_equals_string (on1, "2");
  fail_unless_equals_int (p->duplicates, 0);
  assert_no_violation (p);
  fail_unless_equals_int (n_state (r, "reconnecting"), 1);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* The server drops the socket after storing 3 of 5 finals, none acknowledged: the next
 * connection's welcome says last_seq 3 and exactly 4 and 5 are sent, each once. */
GST_START_TEST (test_drop_resend)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *on1 = NULL;
  Run *r;
  guint i;

  p->no_ack_first = TRUE;
  p->drop_first_after = 3;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 5);
  fail_unless (peer_wait (p, n_handshakes, GUINT_TO_POINTER (2), 5000));
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  on1 = finals_on (p, 1);
  fail_unless_equals_string (on1, "4 5");
  fail_unless_equals_int (p->stored->len, 5);
  for (i = 0; i < 5; i++)
    check_stored_word (p, i, i);
  fail_unless_equals_int (p->duplicates, 0);
  assert_no_violation (p);
  fail_unless_equals_int (get_count (r, "published"), 5);
  fail_unless_equals_int (get_count (r, "acknowledged"), 5);
  /* The reconnect said where the server stood. */
  for (i = 0; i < r->conn->len; i++) {
    GstStructure *s = g_ptr_array_index (r->conn, i);
    guint64 last = 0;
    guint resent = 0;

    if (g_strcmp0 (gst_structure_get_string (s, "state"), "connected") != 0)
      continue;
    gst_structure_get_uint64 (s, "last-seq", &last);
    gst_structure_get_uint (s, "resent", &resent);
    if (last == 3)
      fail_unless_equals_int (resent, 2);
  }
  fail_unless_equals_int (n_state (r, "connected"), 2);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* The primary's words for [2.5, 4.25), in place of the backup's "Captions über alles". */
static const SttCheckWord revised[] = {
  {"Caption", 2.5, 3.05},
  {"is", 3.2, 3.4},
  {"über", 3.5, 3.9},
};

#define REVISION_JSON "{\"type\":\"revision\",\"seq\":4,\"start\":2.5,\"end\":4.25," \
  "\"text\":\"Caption is über\",\"words\":[{\"text\":\"Caption\",\"start\":2.5," \
  "\"end\":3.05},{\"text\":\"is\",\"start\":3.2,\"end\":3.4},{\"text\":\"über\"," \
  "\"start\":3.5,\"end\":3.9}]}"

/* Finals 1 to 3, then the revision once they are stored (so that it cannot overtake
 * them whatever appsrc does with events). */
static void
publish_then_revise (Run * r, Peer * p)
{
  push_words (r, 0, 3);
  fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (3), 5000));
  fail_unless (gst_element_send_event (r->src, stt_check_revision_event (2.5, 4.25,
              revised, G_N_ELEMENTS (revised))));
}

static void
check_revision_stored (Peer * p, Run * r)
{
  g_mutex_lock (&p->lock);
  fail_unless_equals_int (p->stored->len, 4);
  fail_unless_equals_string (g_ptr_array_index (p->stored, 3), REVISION_JSON);
  g_mutex_unlock (&p->lock);
  fail_unless_equals_int (p->duplicates, 0);
  assert_no_violation (p);
  fail_unless_equals_int (get_count (r, "published"), 4);
  fail_unless_equals_int (get_count (r, "acknowledged"), 4);
}

/* A revision event becomes a revision message, numbered after the finals. The server
 * drops the connection as it arrives (not stored): the next connection's welcome says
 * last_seq 3, and the revision goes out again, once. */
GST_START_TEST (test_revision_resend)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *on0 = NULL, *on1 = NULL;
  Run *r;

  p->drop_first_at_revision = TRUE;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  publish_then_revise (r, p);
  fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (4), 5000));
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  on0 = finals_on (p, 0);
  fail_unless_equals_string (on0, "1 2 3 4");
  on1 = finals_on (p, 1);
  fail_unless_equals_string (on1, "4");
  check_revision_stored (p, r);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* The server stores the revision and drops the connection before any ack: the welcome
 * says last_seq 4, and nothing is sent again. */
GST_START_TEST (test_revision_stored_unacked)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *on1 = NULL;
  Run *r;

  p->no_ack_first = TRUE;
  p->drop_first_after = 4;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  publish_then_revise (r, p);
  fail_unless (peer_wait (p, n_handshakes, GUINT_TO_POINTER (2), 5000));
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  on1 = finals_on (p, 1);
  fail_unless_equals_string (on1, "");
  check_revision_stored (p, r);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* A revision of 900 words goes as three (400, 400, 100) that together cover its
 * stretch: each from its first word (the first from the stretch's start) to the next
 * one's first word (the last to the stretch's end), numbered in order. */
GST_START_TEST (test_revision_split)
{
  Peer *p = peer_new ();
  SttCheckWord many[900];
  g_autofree gchar *url = NULL;
  gchar *texts[900];
  Run *r;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (many); i++) {
    texts[i] = g_strdup_printf ("w%u", i);
    many[i].text = texts[i];
    many[i].start = 10 + i * 0.5;
    many[i].end = many[i].start + 0.25;
  }
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 1);
  fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (1), 5000));
  fail_unless (gst_element_send_event (r->src, stt_check_revision_event (9, 500, many,
              G_N_ELEMENTS (many))));
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  fail_unless_equals_int (p->stored->len, 4);
  for (i = 0; i < 3; i++) {
    g_autoptr (JsonObject) o = stored_caption (p, i + 1);
    JsonArray *words = json_object_get_array_member (o, "words");
    guint first = i * 400, n = i < 2 ? 400 : 100;
    gdouble start = i == 0 ? 9 : many[first].start;
    gdouble end = i == 2 ? 500 : many[first + n].start;
    g_autofree gchar *last = g_strdup_printf ("w%u", first + n - 1);

    fail_unless_equals_string (json_object_get_string_member (o, "type"), "revision");
    fail_unless_equals_int (json_object_get_int_member (o, "seq"), i + 2);
    fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "start"), start, 1e-9));
    fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "end"), end, 1e-9));
    fail_unless_equals_int (json_array_get_length (words), n);
    fail_unless_equals_string (json_object_get_string_member (json_array_get_object_element
            (words, n - 1), "text"), last);
    fail_unless (g_str_has_suffix (json_object_get_string_member (o, "text"), last));
  }
  assert_no_violation (p);
  fail_unless_equals_int (get_count (r, "acknowledged"), 4);
  for (i = 0; i < G_N_ELEMENTS (many); i++)
    g_free (texts[i]);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* Nothing listens at first: the captions wait, nothing is lost when the server comes. */
GST_START_TEST (test_unreachable_then_up)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  guint port, i;
  Run *r;

  peer_listen (p, 0);
  port = peer_port (p);
  url = peer_url (p);
  stt_check_soup_free (p->soup);
  p->soup = NULL;

  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 3);
  fail_unless (run_poll (r, reconnecting_twice, NULL, 5000));
  fail_unless (r->error == NULL);
  peer_listen (p, port);
  push_words (r, 3, 5);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  fail_unless_equals_int (p->stored->len, 5);
  for (i = 0; i < 5; i++)
    check_stored_word (p, i, i);
  fail_unless_equals_int (p->duplicates, 0);
  assert_no_violation (p);
  fail_unless_equals_int (r->warnings->len, 0);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

static gboolean
has_error (Run * r, gpointer data)
{
  return r->error != NULL;
}

/* A token the server refuses: NOT_AUTHORIZED naming the server and its reason, at once,
 * with no retry. */
GST_START_TEST (test_refused_token)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *where = NULL;
  const gchar *text;
  gint code = 0;
  Run *r;

  p->verify = TRUE;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, "token-secret=not-the-server-secret");
  run_play (r);
  push_words (r, 0, 2);
  fail_unless (run_poll (r, has_error, NULL, 5000));
  text = gst_structure_get_string (r->error, "message");
  fail_unless_equals_string (gst_structure_get_string (r->error, "domain"),
      g_quark_to_string (GST_RESOURCE_ERROR));
  gst_structure_get_int (r->error, "code", &code);
  fail_unless_equals_int (code, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  where = g_strdup_printf ("127.0.0.1:%u/publish/" ROOM, peer_port (p));
  fail_unless (strstr (text, where) != NULL, "%s", text);
  fail_unless (strstr (text, "4001") != NULL && strstr (text, "bad signature"), "%s",
      text);
  gst_structure_get_int (r->error, "close-code", &code);
  fail_unless_equals_int (code, 4001);
  /* No loop: one handshake, however long we wait. The element said "failed" before its
   * error (run_poll read the messages in order): the publisher's final state, with its
   * connection gone and its retry timer cancelled before it is posted, after which it
   * starts no attempt (gststtpublisher.c, publisher_fail). So the handshakes the peer has
   * counted by now are all it will ever count. */
  fail_unless_equals_int (n_state (r, "failed"), 1);
  g_mutex_lock (&p->lock);
  fail_unless_equals_int (p->handshakes, 1);
  g_mutex_unlock (&p->lock);
  fail_unless_equals_int (n_state (r, "reconnecting"), 0);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* 4004 and 1003 are errors too; 4029 (rate limit) and 4008 (heartbeat) are retried. */
GST_START_TEST (test_close_codes)
{
  static const struct
  {
    gushort code;
    gint error;                 /* -1: retried */
  } cases[] = {
    {4004, GST_RESOURCE_ERROR_SETTINGS},
    {1003, GST_RESOURCE_ERROR_FAILED},
    {4029, -1},
    {4008, -1},
    {1001, -1},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    Peer *p = peer_new ();
    g_autofree gchar *url = NULL;
    Run *r;
    gint code = 0;

    p->refuse_code = cases[i].code;
    peer_listen (p, 0);
    url = peer_url (p);
    r = run_new (url, NULL);
    run_play (r);
    if (cases[i].error >= 0) {
      fail_unless (run_poll (r, has_error, NULL, 5000), "close %u", cases[i].code);
      gst_structure_get_int (r->error, "code", &code);
      fail_unless_equals_int (code, cases[i].error);
      gst_structure_get_int (r->error, "close-code", &code);
      fail_unless_equals_int (code, cases[i].code);
      /* Not retried: "failed" came before the error, the publisher's final state (see
       * test_refused_token). */
      fail_unless_equals_int (n_state (r, "failed"), 1);
      fail_unless_equals_int (n_state (r, "reconnecting"), 0);
      g_mutex_lock (&p->lock);
      fail_unless_equals_int (p->handshakes, 1);
      g_mutex_unlock (&p->lock);
    } else {
      push_words (r, 0, 1);
      fail_unless (peer_wait (p, n_handshakes, GUINT_TO_POINTER (3), 5000),
          "close %u is retried", cases[i].code);
      g_mutex_lock (&p->lock);
      p->refuse_code = 0;
      g_mutex_unlock (&p->lock);
      fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (1), 5000));
      fail_unless (r->error == NULL);
    }
    run_free (r);
    peer_free (p);
  }
}

GST_END_TEST;

/* reconnect-max-attempts used up: an error in mid-stream naming the attempts; during the
 * drain, the warning of what was not confirmed instead. */
GST_START_TEST (test_give_up)
{
  guint at_eos;

  for (at_eos = 0; at_eos < 2; at_eos++) {
    Peer *p = peer_new ();
    g_autofree gchar *url = NULL;
    gint code = 0;
    guint unconfirmed = 0;
    Run *r;

    peer_listen (p, 0);
    url = peer_url (p);
    stt_check_soup_free (p->soup);
    p->soup = NULL;
    /* At the end: slow enough a backoff for EOS to be there before it gives up. */
    r = run_new (url, at_eos ? "reconnect-max-attempts=2 "
        "reconnect-initial-delay=1000000000" : "reconnect-max-attempts=2");
    run_play (r);
    push_words (r, 0, 2);
    if (at_eos)
      end_stream (r);
    fail_unless (run_poll (r, NULL, NULL, 10000));
    if (!at_eos) {
      fail_unless (r->error != NULL);
      gst_structure_get_int (r->error, "code", &code);
      fail_unless_equals_int (code, GST_RESOURCE_ERROR_OPEN_READ_WRITE);
      fail_unless (strstr (gst_structure_get_string (r->error, "message"),
              "after 3 attempt(s)") != NULL, "%s",
          gst_structure_get_string (r->error, "message"));
    } else {
      fail_unless (r->error == NULL && r->eos);
      fail_unless_equals_int (r->warnings->len, 1);
      gst_structure_get_uint (g_ptr_array_index (r->warnings, 0), "unconfirmed",
          &unconfirmed);
      fail_unless_equals_int (unconfirmed, 2);
    }
    fail_unless_equals_int (n_state (r, "failed"), 1);
    run_free (r);
    peer_free (p);
  }
}

GST_END_TEST;

/* --- the token, and nothing secret in the log --- */

/* Every attempt brings a fresh token in the Authorization header (never in the URL),
 * HS256 with the server's secret: room, role publish, exp = iat + token-lifetime, the
 * claims asked for; the welcome names the publisher by its sub. */
GST_START_TEST (test_token)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  GstStructure *claims = gst_structure_new ("claims", "sub", G_TYPE_STRING, "studio-a",
      "room", G_TYPE_STRING, "*", NULL);
  g_autofree gchar *log = NULL;
  Run *r;
  guint i;

  p->verify = TRUE;
  p->drop_first_after = 1;
  peer_listen (p, 0);
  url = peer_url (p);
  /* The launch line (which holds the secret) is logged by gst_parse_launch, as
   * README warns: the capture starts after it. */
  r = run_new (url, "token-lifetime=" G_STRINGIFY (LIFETIME));
  g_object_set (r->sink, "token-claims", claims, NULL);
  gst_structure_free (claims);
  stt_check_log_capture_start ("*:6", TRUE);
  run_play (r);
  push_words (r, 0, 2);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  gst_debug_set_threshold_from_string ("*:2", TRUE);
  log = g_strdup (stt_check_log_lock ()->str);
  stt_check_log_unlock ();
  stt_check_log_capture_stop ();
  fail_unless (r->error == NULL && r->eos);
  fail_unless_equals_int (p->stored->len, 2);

  /* A room claim of the user's is not taken (a warning says so). */
  fail_unless (r->warnings->len >= 1);
  fail_unless (strstr (gst_structure_get_string (g_ptr_array_index (r->warnings, 0),
              "message"), "'room'") != NULL);
  fail_unless_equals_int (p->tokens->len, 2);
  for (i = 0; i < p->tokens->len; i++) {
    const gchar *token = g_ptr_array_index (p->tokens, i);
    gchar *why = NULL;
    g_autoptr (JsonObject) c = stt_check_jwt_verify (token, SECRET, &why);
    gint64 iat;

    fail_unless (c != NULL, "token %u: %s", i, why);
    fail_unless_equals_string (g_ptr_array_index (p->verdicts, i), "");
    fail_unless_equals_string (json_object_get_string_member (c, "room"), ROOM);
    fail_unless_equals_string (json_object_get_string_member (c, "role"), "publish");
    fail_unless_equals_string (json_object_get_string_member (c, "sub"), "studio-a");
    iat = json_object_get_int_member (c, "iat");
    fail_unless (ABS (iat - g_get_real_time () / G_USEC_PER_SEC) < 30);
    fail_unless_equals_int64 (json_object_get_int_member (c, "exp"), iat + LIFETIME);
    fail_unless (json_object_has_member (c, "jti"));
    fail_unless_equals_string (g_ptr_array_index (p->queries, i), "");
    /* Neither the token nor the secret in the debug log. */
    fail_unless (strstr (log, token) == NULL, "the token was logged");
  }
  fail_if (g_str_equal (g_ptr_array_index (p->tokens, 0), g_ptr_array_index (p->tokens,
              1)));
  fail_unless (strstr (log, SECRET) == NULL, "the secret was logged");
  fail_unless (strstr (log, "welcomed") != NULL, "the log is captured");
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* --- the end of the stream --- */

static gboolean
got_eos (Run * r, gpointer data)
{
  if (r->eos && data)
    *(gint64 *) data = g_get_monotonic_time ();
  return r->eos || r->error;
}

/* EOS waits for the acks (sent a second late by the server). */
GST_START_TEST (test_eos_waits_for_acks)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  gint64 eos_at = 0, acked_at;
  Run *r;

  p->ack_delay_ms = 1000;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 3);
  fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (3), 5000));
  end_stream (r);
  fail_unless (run_poll (r, got_eos, &eos_at, 10000));
  fail_unless (r->error == NULL && r->eos);
  /* EOS only after the last ack left the server. */
  g_mutex_lock (&p->lock);
  acked_at = p->last_ack_at;
  g_mutex_unlock (&p->lock);
  fail_unless (acked_at > 0 && eos_at > acked_at, "EOS %" G_GINT64_FORMAT " ms after the "
      "last ack", (eos_at - acked_at) / 1000);
  fail_unless_equals_int (get_count (r, "acknowledged"), 3);
  fail_unless_equals_int (r->warnings->len, 0);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* A server that never acks: EOS within drain-timeout, after a warning naming the
 * captions not confirmed. */
GST_START_TEST (test_eos_without_acks)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  gint64 eos_at = 0, ended;
  GstStructure *w;
  guint unconfirmed = 0;
  Run *r;

  p->no_ack = TRUE;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, "drain-timeout=1000000000");
  run_play (r);
  push_words (r, 0, 2);
  fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (2), 5000));
  ended = g_get_monotonic_time ();
  end_stream (r);
  fail_unless (run_poll (r, got_eos, &eos_at, 10000));
  fail_unless (r->error == NULL && r->eos);
  fail_unless (eos_at - ended >= 900 * 1000 && eos_at - ended < 4000 * 1000,
      "EOS %" G_GINT64_FORMAT " ms after the end", (eos_at - ended) / 1000);
  fail_unless_equals_int (r->warnings->len, 1);
  w = g_ptr_array_index (r->warnings, 0);
  fail_unless (gst_structure_get_uint (w, "unconfirmed", &unconfirmed));
  fail_unless_equals_int (unconfirmed, 2);
  fail_unless (strstr (gst_structure_get_string (w, "message"), "2 caption(s)") != NULL);
  fail_unless_equals_int (get_count (r, "acknowledged"), 0);
  fail_unless_equals_int (get_count (r, "published"), 2);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* max-pending full while the server is out of reach: the oldest go, a warning says how
 * many; the rest reach the server numbered from 1, with no gap. */
GST_START_TEST (test_max_pending)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  guint port, i;
  guint64 dropped = 0;
  Run *r;

  peer_listen (p, 0);
  port = peer_port (p);
  url = peer_url (p);
  stt_check_soup_free (p->soup);
  p->soup = NULL;

  r = run_new (url, "max-pending=3");
  run_play (r);
  push_words (r, 0, 5);
  fail_unless (run_poll (r, reconnecting_twice, NULL, 5000));
  peer_listen (p, port);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);

  fail_unless_equals_int (get_count (r, "dropped"), 2);
  fail_unless (r->warnings->len >= 1);
  for (i = 0; i < r->warnings->len; i++) {
    guint64 n = 0;

    gst_structure_get_uint64 (g_ptr_array_index (r->warnings, i), "dropped", &n);
    dropped += n;
  }
  fail_unless_equals_int (dropped, 2);
  fail_unless_equals_int (p->stored->len, 3);
  for (i = 0; i < 3; i++) {
    g_autoptr (JsonObject) o = stored_caption (p, i);

    fail_unless_equals_string (json_object_get_string_member (o, "text"),
        words[i + 2].text);
    fail_unless_equals_int (json_object_get_int_member (o, "seq"), i + 1);
  }
  assert_no_violation (p);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* A publisher started again (same room, same publisher): the server holds 7 already; the
 * new run's captions follow, none taken for a duplicate. */
GST_START_TEST (test_second_run)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  g_autoptr (JsonObject) a = NULL;
  g_autoptr (JsonObject) b = NULL;
  Run *r;

  p->last_seq = 7;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, NULL);
  run_play (r);
  push_words (r, 0, 2);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);
  fail_unless_equals_int (p->stored->len, 2);
  a = stored_caption (p, 0);
  b = stored_caption (p, 1);
  fail_unless_equals_int (json_object_get_int_member (a, "seq"), 8);
  fail_unless_equals_int (json_object_get_int_member (b, "seq"), 9);
  fail_unless_equals_int (p->duplicates, 0);
  assert_no_violation (p);
  fail_unless_equals_int (get_count (r, "acknowledged"), 2);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* Times are stream time: a segment starting at 2 s that is stream time 60 s. */
GST_START_TEST (test_stream_time)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  g_autoptr (JsonObject) o = NULL;
  g_autofree gchar *desc = NULL;
  GstHarness *h;
  GstSegment seg;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  peer_listen (p, 0);
  url = peer_url (p);
  /* Not prerolling (async=false): the harness wants its state change done at once. */
  desc = g_strdup_printf ("sttpublish async=false url=%s token-secret=" SECRET, url);
  h = gst_harness_new_parse (desc);
  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = 2 * GST_SECOND;
  seg.time = 60 * GST_SECOND;
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("late", 3.25, 3.5)),
      GST_FLOW_OK);
  /* No PTS: it follows the one before. */
  {
    GstBuffer *b = gst_buffer_new_memdup ("untimed", 7);

    fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless (peer_wait (p, n_stored, GUINT_TO_POINTER (2), 5000));
  o = stored_caption (p, 0);
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "start"), 61.25, 1e-9));
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "end"), 61.5, 1e-9));
  g_clear_pointer (&o, json_object_unref);
  o = stored_caption (p, 1);
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "start"), 61.5, 1e-9));
  fail_unless (G_APPROX_VALUE (json_object_get_double_member (o, "end"), 61.5, 1e-9));
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
    fail ("error: %" GST_PTR_FORMAT, msg);
    gst_message_unref (msg);
  }
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  peer_free (p);
}

GST_END_TEST;

/* Settings that cannot work fail the state change with RESOURCE/SETTINGS. */
GST_START_TEST (test_settings)
{
  static const struct
  {
    const gchar *url;
    const gchar *props;
    const gchar *says;
  } cases[] = {
    {"http://127.0.0.1:1/publish/demo", "", "ws://"},
    {"ws://127.0.0.1:1/watch/demo", "", "/publish/ROOM"},
    {"ws://127.0.0.1:1/publish/bad%20room", "", "/publish/ROOM"},
    {"ws://127.0.0.1:1/publish/", "", "/publish/ROOM"},
    {"ws://127.0.0.1:1/publish/a/b", "", "/publish/ROOM"},
    {"ws:///publish/demo", "", "host"},
    {"ws://127.0.0.1:1/publish/demo", "token-secret=\"\"", "No token"},
    {"ws://127.0.0.1:1/publish/demo?token=abc", "", "Choose one"},
    {"ws://127.0.0.1:1/publish/demo", "token-url=http://127.0.0.1:1/t", "Choose one"},
    {"ws://127.0.0.1:1/publish/demo", "token-secret=\"\" token-secret-file=/nonexistent/s",
        "/nonexistent/s"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    Run *r = run_new (cases[i].url, cases[i].props);
    gint code = 0;

    fail_unless (gst_element_set_state (r->pipe, GST_STATE_PAUSED) ==
        GST_STATE_CHANGE_FAILURE, "%s %s", cases[i].url, cases[i].props);
    fail_unless (run_poll (r, has_error, NULL, 2000), "%s", cases[i].url);
    gst_structure_get_int (r->error, "code", &code);
    fail_unless (code == GST_RESOURCE_ERROR_SETTINGS || code ==
        GST_RESOURCE_ERROR_NOT_FOUND, "%s: code %d", cases[i].url, code);
    fail_unless (strstr (gst_structure_get_string (r->error, "message"),
            cases[i].says) != NULL, "%s: %s", cases[i].url,
        gst_structure_get_string (r->error, "message"));
    run_free (r);
  }
}

GST_END_TEST;

/* A valid ?token= in the url is used as it is (no Authorization header). */
GST_START_TEST (test_url_token)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL;
  Run *r;

  peer_listen (p, 0);
  url = g_strdup_printf ("ws://127.0.0.1:%u/publish/" ROOM "?token=static-tok",
      peer_port (p));
  r = run_new (url, "token-secret=\"\"");
  run_play (r);
  push_words (r, 0, 1);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);
  fail_unless_equals_string (g_ptr_array_index (p->queries, 0), "token=static-tok");
  fail_unless_equals_string (g_ptr_array_index (p->tokens, 0), "");
  fail_unless_equals_int (p->stored->len, 1);
  /* Redacted wherever the element says where it connects. */
  fail_unless (strstr (gst_structure_get_string (g_ptr_array_index (r->conn, 0),
              "reason"), "static-tok") == NULL);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* A connection that never gets its welcome is given up after stall-timeout: the next
 * one carries the captions. */
GST_START_TEST (test_no_welcome)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *on0 = NULL;
  Run *r;

  p->mute_first = TRUE;
  peer_listen (p, 0);
  url = peer_url (p);
  r = run_new (url, "stall-timeout=1000000000");
  run_play (r);
  push_words (r, 0, 2);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL && r->eos);
  fail_unless_equals_int (p->handshakes, 2);
  on0 = finals_on (p, 0);
  fail_unless_equals_string (on0, "");
  fail_unless_equals_int (p->stored->len, 2);
  fail_unless (strstr (gst_structure_get_string (g_ptr_array_index (r->conn, 1),
              "reason"), "no welcome") != NULL);
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* token-url: a token fetched (with token-headers) before every attempt, sent as the
 * bearer token. */
GST_START_TEST (test_token_url)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *props = NULL;
  Run *r;
  guint i;

  p->verify = TRUE;
  p->drop_first_after = 1;
  peer_listen (p, 0);
  url = peer_url (p);
  props = g_strdup_printf ("token-secret=\"\" token-url=http://127.0.0.1:%u/token "
      "token-headers=\"h, Authorization=(string)\\\"Basic dGVzdDp0ZXN0\\\"\"",
      peer_port (p));
  r = run_new (url, props);
  run_play (r);
  push_words (r, 0, 2);
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 10000));
  fail_unless (r->error == NULL, "%s", r->error ? gst_structure_to_string (r->error) : "");
  fail_unless (r->eos);
  fail_unless_equals_int (p->stored->len, 2);
  fail_unless_equals_int (p->handshakes, 2);
  fail_unless_equals_int (p->token_auth->len, 2);
  for (i = 0; i < 2; i++) {
    fail_unless_equals_string (g_ptr_array_index (p->token_auth, i),
        "Basic dGVzdDp0ZXN0");
    fail_unless_equals_string (g_ptr_array_index (p->verdicts, i), "");
  }
  run_free (r);
  peer_free (p);
}

GST_END_TEST;

/* A flush after EOS (a seek): the stream goes on, on a new connection, numbered on. */
GST_START_TEST (test_flush_after_eos)
{
  Peer *p = peer_new ();
  g_autofree gchar *url = NULL, *desc = NULL, *on0 = NULL, *on1 = NULL;
  GstHarness *h;
  GstSegment seg;

  peer_listen (p, 0);
  url = peer_url (p);
  desc = g_strdup_printf ("sttpublish async=false url=%s token-secret=" SECRET, url);
  h = gst_harness_new_parse (desc);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("one", 1, 2)), GST_FLOW_OK);
  /* Returns once acknowledged and closed. */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (p->stored->len, 1);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  fail_unless_equals_int (gst_harness_push (h, text_buffer ("two", 3, 4)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (p->stored->len, 2);
  on0 = finals_on (p, 0);
  on1 = finals_on (p, 1);
  fail_unless_equals_string (on0, "1");
  fail_unless_equals_string (on1, "2");
  gst_harness_teardown (h);
  peer_free (p);
}

GST_END_TEST;

/* ------------------------------------------------------------------------------------ */
/* A real upstream: stttranscribe on the local Deepgram-protocol server */

static const SttTone tones[] = {
  {0.5, 0.9, 440},
  {1.0, 1.3, 700},
  {2.5, 2.8, 1000},
};

#define TONES_DURATION 3.6
#define RATE 16000

/* The captions stored for @mode (words: one per word; segments: cues). @live: an appsrc
 * fed at real-time pace (the partials then come at the pace of speech), else as fast as
 * it takes the audio. */
static Peer *
transcribe_and_publish (const gchar * mode, gboolean live)
{
  GError *err = NULL;
  SttTestServer *server = stt_test_server_new ("deepgram", &err);
  g_autofree gchar *stt_url = NULL, *url = NULL, *desc = NULL;
  GstCaps *caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, RATE, 1);
  GstBuffer *all;
  GList *bufs, *l;
  Peer *p = peer_new ();
  Run *r = g_new0 (Run, 1);
  gint64 t0;

  fail_unless (server != NULL, "server: %s", err ? err->message : "");
  stt_url = stt_test_server_get_url (server);
  peer_listen (p, 0);
  url = peer_url (p);
  desc = g_strdup_printf ("appsrc name=src format=time is-live=%d ! stttranscribe "
      "provider=deepgram url=%s api-key=test-key output-mode=%s latency=60000 ! "
      "sttpublish name=pub url=%s token-secret=" SECRET, live, stt_url, mode, url);
  r->pipe = gst_parse_launch (desc, NULL);
  fail_unless (r->pipe != NULL);
  r->src = gst_bin_get_by_name (GST_BIN (r->pipe), "src");
  r->sink = gst_bin_get_by_name (GST_BIN (r->pipe), "pub");
  r->bus = gst_element_get_bus (r->pipe);
  r->conn = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  r->warnings = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  g_object_set (r->src, "caps", caps, "max-bytes", (guint64) 0, NULL);
  gst_caps_unref (caps);
  all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, RATE, 1, TONES_DURATION, tones,
      G_N_ELEMENTS (tones), 0);
  bufs = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, RATE, 1, 20);
  gst_buffer_unref (all);

  run_play (r);
  t0 = g_get_monotonic_time ();
  for (l = bufs; l; l = l->next) {
    gint64 due = t0 + (gint64) (GST_BUFFER_PTS (l->data) / GST_USECOND);

    if (live && due > g_get_monotonic_time ())
      g_usleep (due - g_get_monotonic_time ());
    push (r, gst_buffer_ref (l->data));
  }
  end_stream (r);
  fail_unless (run_poll (r, NULL, NULL, 30000));
  fail_unless (r->error == NULL, "%s", r->error ? gst_structure_to_string (r->error) : "");
  fail_unless (r->eos);
  fail_unless_equals_int (get_count (r, "acknowledged"), p->stored->len);
  run_free (r);
  g_list_free_full (bufs, (GDestroyNotify) gst_buffer_unref);
  stt_test_server_free (server);
  assert_no_violation (p);
  return p;
}

/* One final per word, each once, in order, at its tone's times. */
static void
check_stored_tones (Peer * p)
{
  guint i;

  fail_unless_equals_int (p->stored->len, G_N_ELEMENTS (tones));
  for (i = 0; i < G_N_ELEMENTS (tones); i++) {
    g_autoptr (JsonObject) o = stored_caption (p, i);
    g_autofree gchar *word = stt_check_tone_word (&tones[i]);
    g_autofree gchar *bare = stt_check_bare_word (json_object_get_string_member (o,
            "text"));

    fail_unless_equals_string (bare, word);
    fail_unless_equals_int (json_object_get_int_member (o, "seq"), i + 1);
    stt_check_assert_time (json_object_get_double_member (o, "start") * GST_SECOND,
        tones[i].start * GST_SECOND, "start");
    stt_check_assert_time (json_object_get_double_member (o, "end") * GST_SECOND,
        tones[i].end * GST_SECOND, "end");
  }
}

GST_START_TEST (test_transcribe_words)
{
  Peer *p = transcribe_and_publish ("words", FALSE);

  check_stored_tones (p);
  peer_free (p);
}

GST_END_TEST;

/* Live: stttranscribe's partials go out as interim captions (final:false, no seq), each
 * received before the final of its first word and starting where that final starts; the
 * finals are the same as without them. */
GST_START_TEST (test_transcribe_interims)
{
  Peer *p = transcribe_and_publish ("words", TRUE);
  guint i, j, n = 0, finals_seen = 0;

  check_stored_tones (p);
  fail_unless (p->interims->len >= 2, "%u interims", p->interims->len);
  for (i = 0; i < p->received->len; i++) {
    const gchar *line = strchr (g_ptr_array_index (p->received, i), ' ') + 1;
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_auto (GStrv) words = NULL;
    JsonObject *o;
    gdouble start;

    fail_unless (json_parser_load_from_data (parser, line, -1, NULL));
    o = json_node_get_object (json_parser_get_root (parser));
    if (json_object_get_boolean_member (o, "final")) {
      finals_seen++;
      continue;
    }
    n++;
    fail_if (json_object_has_member (o, "seq"));
    start = json_object_get_double_member (o, "start");
    fail_unless (json_object_get_double_member (o, "end") >= start);
    /* Its words are the next finals', in order. */
    words = g_strsplit (json_object_get_string_member (o, "text"), " ", -1);
    for (j = 0; words[j]; j++) {
      g_autoptr (JsonObject) f = NULL;
      g_autofree gchar *bare = NULL;

      fail_unless (finals_seen + j < p->stored->len, "interim '%s' after the last "
          "final", json_object_get_string_member (o, "text"));
      f = stored_caption (p, finals_seen + j);
      bare = stt_check_bare_word (json_object_get_string_member (f, "text"));
      fail_unless_equals_string (words[j], bare);
      if (j == 0)
        fail_unless (G_APPROX_VALUE (start, json_object_get_double_member (f, "start"),
                1e-9), "interim at %f, its final at %f", start,
            json_object_get_double_member (f, "start"));
    }
  }
  fail_unless_equals_int (n, p->interims->len);
  peer_free (p);
}

GST_END_TEST;

GST_START_TEST (test_transcribe_segments)
{
  Peer *p = transcribe_and_publish ("segments", FALSE);
  GString *all = g_string_new (NULL);
  g_autoptr (JsonObject) first = NULL;
  g_autoptr (JsonObject) last = NULL;
  g_auto (GStrv) got = NULL;
  guint i;

  fail_unless (p->stored->len >= 1);
  for (i = 0; i < p->stored->len; i++) {
    g_autoptr (JsonObject) o = stored_caption (p, i);

    g_string_append_printf (all, "%s%s", all->len ? " " : "",
        json_object_get_string_member (o, "text"));
  }
  got = g_strsplit_set (all->str, " \n", -1);
  fail_unless_equals_int (g_strv_length (got), G_N_ELEMENTS (tones));
  for (i = 0; i < G_N_ELEMENTS (tones); i++) {
    g_autofree gchar *word = stt_check_tone_word (&tones[i]);
    g_autofree gchar *bare = stt_check_bare_word (got[i]);

    fail_unless_equals_string (bare, word);
  }
  first = stored_caption (p, 0);
  last = stored_caption (p, p->stored->len - 1);
  stt_check_assert_time (json_object_get_double_member (first, "start") * GST_SECOND,
      tones[0].start * GST_SECOND, "first cue's start");
  stt_check_assert_time (json_object_get_double_member (last, "end") * GST_SECOND,
      tones[G_N_ELEMENTS (tones) - 1].end * GST_SECOND, "last cue's end");
  g_string_free (all, TRUE);
  peer_free (p);
}

GST_END_TEST;

static Suite *
publish_suite (void)
{
  Suite *s = suite_create ("sttpublish");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_pending);
  tcase_add_test (tc, test_finals_in_order);
  tcase_add_test (tc, test_interim);
  tcase_add_test (tc, test_drop_resend);
  tcase_add_test (tc, test_revision_resend);
  tcase_add_test (tc, test_revision_stored_unacked);
  tcase_add_test (tc, test_revision_split);
  tcase_add_test (tc, test_unreachable_then_up);
  tcase_add_test (tc, test_refused_token);
  tcase_add_test (tc, test_close_codes);
  tcase_add_test (tc, test_give_up);
  tcase_add_test (tc, test_token);
  tcase_add_test (tc, test_eos_waits_for_acks);
  tcase_add_test (tc, test_eos_without_acks);
  tcase_add_test (tc, test_max_pending);
  tcase_add_test (tc, test_second_run);
  tcase_add_test (tc, test_stream_time);
  tcase_add_test (tc, test_settings);
  tcase_add_test (tc, test_url_token);
  tcase_add_test (tc, test_no_welcome);
  tcase_add_test (tc, test_token_url);
  tcase_add_test (tc, test_flush_after_eos);
  tcase_add_test (tc, test_transcribe_words);
  tcase_add_test (tc, test_transcribe_segments);
  tcase_add_test (tc, test_transcribe_interims);
  return s;
}

GST_CHECK_MAIN (publish);
