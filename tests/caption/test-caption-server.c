/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-caption-server: the real stt-caption-server, as a subprocess, against the
 * contract of docs/caption-server.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "caption-test-utils.h"

#define ARGS(...) ((const gchar * const[]) { __VA_ARGS__, NULL })

/* Connects to @path and asserts the server closes it with @code (and @reason when not
 * NULL) without a welcome. */
static void
assert_refused (CapTestServer * s, const gchar * path, const gchar * bearer,
    gushort code, const gchar * reason)
{
  CapTestClient *c = cap_test_client_connect (s, path, NULL, bearer);
  JsonObject *m;

  g_assert_no_error (c->error);
  m = cap_test_client_next (c, CAP_TEST_WAIT_MS);
  g_assert_null (m);
  g_assert_cmpuint (cap_test_client_wait_closed (c, CAP_TEST_WAIT_MS), ==,
      code);
  if (reason)
    g_assert_cmpstr (c->close_reason, ==, reason);
  cap_test_client_free (c);
}

static void
stop_server (CapTestServer * s)
{
  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  cap_test_server_free (s, FALSE);
}

/* ---------- publishing ---------- */

static void
test_welcome_ack_dedup (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  CapTestClient *viewer = cap_test_open_viewer (s, "hall", "", 0);
  CapTestClient *late = NULL;
  CapTestClient *pub = cap_test_open_publisher (s, "hall", "cam-1", 0);
  g_autoptr (JsonObject) first = NULL;
  gint64 seq;

  /* Stored 1..3, then the connection drops before the publisher saw more. */
  cap_test_publish_range (pub, 1, 3);
  first = cap_test_expect (viewer, "final");
  g_assert_cmpint (json_object_get_int_member (first, "id"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (first, "seq"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (first, "publisher"), ==,
      "cam-1");
  g_assert_cmpstr (json_object_get_string_member (first, "text"), ==, "line 1");
  g_assert_cmpfloat (json_object_get_double_member (first, "start"), ==, 1.0);
  g_assert_cmpfloat (json_object_get_double_member (first, "end"), ==, 1.5);
  /* time: the server's wall clock when it stored it, in ms. */
  g_assert_cmpint (ABS (json_object_get_int_member (first, "time") -
          g_get_real_time () / 1000), <, 60000);
  cap_test_expect_final (viewer, 2, "line 2");
  cap_test_expect_final (viewer, 3, "line 3");
  cap_test_client_free (pub);

  /* It comes back: last_seq says 3, and it sends 1..5 again anyway. */
  pub = cap_test_open_publisher (s, "hall", "cam-1", 3);
  for (seq = 1; seq <= 5; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_client_send_final (pub, seq, text, seq, seq + 0.5);
  }
  /* Duplicates are acknowledged again, the rest stored; all in order. */
  for (seq = 1; seq <= 5; seq++)
    cap_test_expect_ack (pub, seq);
  /* The viewer sees 4 and 5 once; nothing of 1..3 again. */
  cap_test_expect_final (viewer, 4, "line 4");
  cap_test_expect_final (viewer, 5, "line 5");
  cap_test_expect_nothing (viewer, 300);

  /* A viewer joining now gets each final once, in order. */
  late = cap_test_open_viewer (s, "hall", "", 5);
  for (seq = 1; seq <= 5; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_expect_final (late, seq, text);
  }
  cap_test_expect_nothing (late, 100);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"duplicate\"}"), ==, 3);

  /* Another publisher in the same room has its own seqs; ids are the room's. */
  {
    CapTestClient *other = cap_test_open_publisher (s, "hall", "cam-2", 0);

    cap_test_client_send_final (other, 1, "second camera", 0, 1);
    cap_test_expect_ack (other, 1);
    cap_test_expect_final (viewer, 6, "second camera");
    cap_test_client_free (other);
  }

  cap_test_client_free (late);
  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

static void
test_interim (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  CapTestClient *viewer = cap_test_open_viewer (s, "r", "", 0);
  CapTestClient *pub = cap_test_open_publisher (s, "r", NULL, 0);
  CapTestClient *late;
  g_autoptr (JsonObject) i1 = NULL, i2 = NULL;
  g_autofree gchar *vtt = NULL;
  g_autofree gchar *token = cap_test_token (s, NULL, "r", "watch", NULL, 0,
      60);
  g_autofree gchar *path = g_strdup_printf ("/rooms/r/transcript.vtt?token=%s",
      token);
  guint status = 0;

  cap_test_client_send (pub, "{\"type\":\"caption\",\"final\":false,"
      "\"text\":\"and the\",\"start\":3.1,\"end\":3.5}");
  cap_test_client_send (pub, "{\"type\":\"caption\",\"final\":false,"
      "\"text\":\"and then\",\"start\":3.1,\"end\":3.9,\"speaker\":\"Ann\"}");
  i1 = cap_test_expect (viewer, "interim");
  g_assert_cmpstr (json_object_get_string_member (i1, "publisher"), ==,
      "default");
  g_assert_cmpstr (json_object_get_string_member (i1, "text"), ==, "and the");
  g_assert_cmpfloat (json_object_get_double_member (i1, "start"), ==, 3.1);
  g_assert_cmpfloat (json_object_get_double_member (i1, "end"), ==, 3.5);
  g_assert_false (json_object_has_member (i1, "id"));
  i2 = cap_test_expect (viewer, "interim");
  g_assert_cmpstr (json_object_get_string_member (i2, "text"), ==, "and then");
  g_assert_cmpstr (json_object_get_string_member (i2, "speaker"), ==, "Ann");

  /* Interims get no ack: the first thing the publisher hears is the final's. */
  cap_test_client_send_final (pub, 1, "and then some.", 3.1, 4.2);
  cap_test_expect_ack (pub, 1);
  cap_test_expect_final (viewer, 1, "and then some.");

  /* Not stored: a later viewer and the transcript have the final only. */
  late = cap_test_open_viewer (s, "r", "", 1);
  cap_test_expect_final (late, 1, "and then some.");
  cap_test_expect_nothing (late, 200);
  vtt = cap_test_http_get (s, path, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_null (strstr (vtt, "and the\n"));
  g_assert_nonnull (strstr (vtt, "and then some."));

  cap_test_client_free (late);
  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

/* ---------- history ---------- */

static void
test_history_since_gap (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--history", "3"));
  CapTestClient *pub = cap_test_open_publisher (s, "h", NULL, 0);
  CapTestClient *v, *v1, *v4, *v6;
  g_autoptr (JsonObject) gap = NULL;

  cap_test_publish_range (pub, 1, 6);

  /* Without since: the last 3. */
  v = cap_test_open_viewer (s, "h", "", 6);
  cap_test_expect_final (v, 4, "line 4");
  cap_test_expect_final (v, 5, "line 5");
  cap_test_expect_final (v, 6, "line 6");
  cap_test_expect_nothing (v, 100);

  /* since=1: 2 and 3 are no longer held. */
  v1 = cap_test_open_viewer (s, "h", "&since=1", 6);
  gap = cap_test_expect (v1, "gap");
  g_assert_cmpint (json_object_get_int_member (gap, "from"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (gap, "to"), ==, 3);
  cap_test_expect_final (v1, 4, "line 4");
  cap_test_expect_final (v1, 5, "line 5");
  cap_test_expect_final (v1, 6, "line 6");

  /* since=4: what it missed, no gap. */
  v4 = cap_test_open_viewer (s, "h", "&since=4", 6);
  cap_test_expect_final (v4, 5, "line 5");
  cap_test_expect_final (v4, 6, "line 6");
  cap_test_expect_nothing (v4, 100);

  /* since=6: nothing missed. */
  v6 = cap_test_open_viewer (s, "h", "&since=6", 6);
  cap_test_expect_nothing (v6, 100);

  /* Then everyone gets the next one live. */
  cap_test_publish_range (pub, 7, 7);
  cap_test_expect_final (v, 7, "line 7");
  cap_test_expect_final (v1, 7, "line 7");
  cap_test_expect_final (v4, 7, "line 7");
  cap_test_expect_final (v6, 7, "line 7");

  /* since must be a number. */
  {
    g_autofree gchar *token = cap_test_token (s, NULL, "h", "watch", NULL, 0,
        60);
    g_autofree gchar *path = g_strdup_printf ("/watch/h?token=%s&since=x",
        token);

    assert_refused (s, path, NULL, 1003, NULL);
  }

  cap_test_client_free (v);
  cap_test_client_free (v1);
  cap_test_client_free (v4);
  cap_test_client_free (v6);
  cap_test_client_free (pub);
  stop_server (s);
}

static void
test_restart (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "keep", "cam", 0);
  CapTestClient *viewer = cap_test_open_viewer (s, "keep", "", 0);
  CapTestClient *v2;
  CapTestServer *s2;

  cap_test_publish_range (pub, 1, 3);
  cap_test_expect_final (viewer, 1, "line 1");
  cap_test_expect_final (viewer, 2, "line 2");
  cap_test_expect_final (viewer, 3, "line 3");

  /* SIGTERM: every client hears 1001, and the server exits 0. */
  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  g_assert_cmpuint (cap_test_client_wait_closed (pub, CAP_TEST_WAIT_MS), ==,
      1001);
  g_assert_cmpuint (cap_test_client_wait_closed (viewer, CAP_TEST_WAIT_MS), ==,
      1001);
  g_assert_cmpstr (viewer->close_reason, ==, "server shutting down");
  cap_test_client_free (pub);
  cap_test_client_free (viewer);
  /* The store was closed: its write-ahead log is folded into the database. */
  {
    g_autofree gchar *db = g_build_filename (s->store, "keep.sqlite", NULL);
    g_autofree gchar *wal = g_build_filename (s->store, "keep.sqlite-wal",
        NULL);

    g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
    g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  }

  /* Another server on the same store: the publisher's last_seq, and what a viewer
   * that saw up to id 2 missed, come from the disk. */
  s2 = cap_test_server_restart (s, NULL);
  cap_test_server_free (s, TRUE);
  pub = cap_test_open_publisher (s2, "keep", "cam", 3);
  viewer = cap_test_open_viewer (s2, "keep", "&since=2", 3);
  cap_test_expect_final (viewer, 3, "line 3");
  cap_test_expect_nothing (viewer, 100);
  cap_test_publish_range (pub, 4, 4);
  cap_test_expect_final (viewer, 4, "line 4");

  /* And a new viewer gets the whole history back. */
  v2 = cap_test_open_viewer (s2, "keep", "", 4);
  cap_test_expect_final (v2, 1, "line 1");
  cap_test_expect_final (v2, 2, "line 2");
  cap_test_expect_final (v2, 3, "line 3");
  cap_test_expect_final (v2, 4, "line 4");

  cap_test_client_free (v2);
  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s2);
}

static void
test_room_ttl (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--room-ttl", "1"));
  CapTestClient *pub = cap_test_open_publisher (s, "brief", NULL, 0);
  CapTestClient *viewer;
  g_autoptr (JsonObject) health = NULL;
  gint64 rooms = -1;
  guint i;

  cap_test_publish_range (pub, 1, 2);
  cap_test_client_free (pub);
  health = cap_test_health (s);
  g_assert_cmpint (json_object_get_int_member (health, "rooms"), ==, 1);
  /* Freed a second after its last connection left. */
  for (i = 0; i < 30 && rooms != 0; i++) {
    g_autoptr (JsonObject) h = NULL;

    cap_test_sleep (200);
    h = cap_test_health (s);
    rooms = json_object_get_int_member (h, "rooms");
  }
  g_assert_cmpint (rooms, ==, 0);
  /* Its finals stay on disk. */
  viewer = cap_test_open_viewer (s, "brief", "", 2);
  cap_test_expect_final (viewer, 1, "line 1");
  cap_test_expect_final (viewer, 2, "line 2");
  cap_test_client_free (viewer);
  stop_server (s);
}

/* ---------- authentication ---------- */

static void
test_auth (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  g_autofree gchar *expired = cap_test_token (s, NULL, "a", "publish", NULL,
      -3600, 60);
  g_autofree gchar *forged = cap_test_token (s, "another-secret", "a",
      "publish", NULL, 0, 60);
  g_autofree gchar *other_room = cap_test_token (s, NULL, "b", "publish", NULL,
      0, 60);
  g_autofree gchar *watch = cap_test_token (s, NULL, "a", "watch", NULL, 0, 60);
  g_autofree gchar *any_room = cap_test_token (s, NULL, "*", "publish", "p",
      0, 60);
  g_autofree gchar *log = NULL;
  const gchar *tokens[] = { expired, forged, other_room, watch, any_room };
  CapTestClient *c;
  JsonObject *w = NULL;
  guint i;

#define REFUSED(path_fmt, token, reason) G_STMT_START { \
    g_autofree gchar *p = g_strdup_printf (path_fmt, token); \
    assert_refused (s, p, NULL, 4001, reason); \
  } G_STMT_END

  assert_refused (s, "/publish/a", NULL, 4001, "token missing");
  REFUSED ("/publish/a?token=%s", expired, "token expired");
  REFUSED ("/publish/a?token=%s", forged, "bad signature");
  REFUSED ("/publish/a?token=%s", other_room, "token for another room");
  REFUSED ("/publish/a?token=%s", watch, "token does not allow publishing");
  REFUSED ("/publish/a?token=%s", "not.a.token", "malformed token");
  assert_refused (s, "/watch/a", NULL, 4001, "token missing");
  REFUSED ("/watch/a?token=%s", expired, "token expired");
  REFUSED ("/watch/a?token=%s", forged, "bad signature");
  REFUSED ("/watch/a?token=%s", other_room, "token for another room");
  /* The header works as well as the query, for publishers. */
  assert_refused (s, "/publish/a", forged, 4001, "bad signature");
#undef REFUSED

  c = cap_test_client_connect (s, "/publish/a", NULL, any_room);
  w = cap_test_client_next (c, CAP_TEST_WAIT_MS);
  g_assert_nonnull (w);
  g_assert_cmpstr (json_object_get_string_member (w, "publisher"), ==, "p");
  json_object_unref (w);
  cap_test_client_free (c);
  /* A publish token may watch. */
  {
    g_autofree gchar *path = g_strdup_printf ("/watch/a?token=%s", any_room);

    c = cap_test_client_open (s, path, NULL);
    cap_test_client_free (c);
  }
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"auth\"}"), ==, 11);

  /* Refusals are logged, tokens never. */
  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  log = cap_test_server_log (s);
  g_assert_nonnull (strstr (log, "\"event\":\"refused\""));
  g_assert_nonnull (strstr (log, "{\"event\":\"open\",\"conn\":"));
  g_assert_nonnull (strstr (log, "\"role\":\"publisher\",\"room\":\"a\","
          "\"ip\":\"127.0.0.1\",\"publisher\":\"p\",\"code\":1000,"));
  g_assert_nonnull (strstr (log, "\"reason\":\"bad signature\""));
  for (i = 0; i < G_N_ELEMENTS (tokens); i++) {
    g_assert_null (strstr (log, tokens[i]));
    /* Not even the signature. */
    g_assert_null (strstr (log, strrchr (tokens[i], '.') + 1));
  }
  g_assert_null (strstr (log, s->secret));
  cap_test_server_free (s, FALSE);
}

static void
test_public_room (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "lobby"));
  CapTestClient *viewer = cap_test_client_open (s, "/watch/lobby", NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "lobby", NULL, 0);
  guint status = 0;
  g_autofree gchar *srt = NULL;

  cap_test_publish_range (pub, 1, 1);
  cap_test_expect_final (viewer, 1, "line 1");
  /* Public for viewers only. */
  assert_refused (s, "/publish/lobby", NULL, 4001, "token missing");
  assert_refused (s, "/watch/private", NULL, 4001, "token missing");
  /* The transcript follows the viewer rules. */
  srt = cap_test_http_get (s, "/rooms/lobby/transcript.srt", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_free (cap_test_http_get (s, "/rooms/private/transcript.srt", NULL,
          &status));
  g_assert_cmpuint (status, ==, 401);

  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

static void
test_origin (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "o",
          "--allow-origin", "https://good.example"));
  CapTestClient *c;
  guint status = 0;

  /* Refused before the upgrade. */
  c = cap_test_client_connect (s, "/watch/o", "https://evil.example", NULL);
  g_assert_null (c->ws);
  g_assert_nonnull (c->error);
  g_assert_cmpuint (c->status, ==, 403);
  cap_test_client_free (c);
  g_free (cap_test_http_get (s, "/health", "https://evil.example", &status));
  g_assert_cmpuint (status, ==, 403);

  c = cap_test_client_connect (s, "/watch/o", "https://good.example", NULL);
  g_assert_nonnull (c->ws);
  cap_test_client_free (c);
  /* No Origin: not a browser. */
  c = cap_test_client_open (s, "/watch/o", NULL);
  cap_test_client_free (c);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"origin\"}"), ==, 2);
  stop_server (s);
}

/* ---------- limits ---------- */

static gboolean
viewers_are (CapTestServer * s, gint64 n)
{
  guint i;

  for (i = 0; i < 25; i++) {
    g_autoptr (JsonObject) h = cap_test_health (s);

    if (json_object_get_int_member (h, "viewers") == n)
      return TRUE;
    cap_test_sleep (200);
  }
  return FALSE;
}

static void
test_per_ip (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "r",
          "--max-per-ip", "2"));
  CapTestClient *a = cap_test_client_open (s, "/watch/r", NULL);
  CapTestClient *b = cap_test_client_open (s, "/watch/r", NULL);
  CapTestClient *c;

  assert_refused (s, "/watch/r", NULL, 4029,
      "too many connections from this address");
  /* One leaves: there is room again. */
  cap_test_client_free (a);
  g_assert_true (viewers_are (s, 1));
  c = cap_test_client_open (s, "/watch/r", NULL);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"per_ip\"}"), ==, 1);
  cap_test_client_free (b);
  cap_test_client_free (c);
  stop_server (s);
}

static void
test_rate_limit (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "r",
          "--max-rate", "5"));
  CapTestClient *viewer = cap_test_client_open (s, "/watch/r", NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "r", NULL, 0);
  guint i;

  for (i = 0; i < 20; i++)
    cap_test_client_send (pub, "{\"type\":\"caption\",\"final\":false,"
        "\"text\":\"x\"}");
  g_assert_cmpuint (cap_test_client_wait_closed (pub, CAP_TEST_WAIT_MS), ==,
      4029);
  g_assert_cmpstr (pub->close_reason, ==, "message rate over --max-rate");
  /* The burst allowance (5) went through; the viewer is still served. */
  for (i = 0; i < 5; i++)
    json_object_unref (cap_test_expect (viewer, "interim"));
  cap_test_client_free (pub);
  pub = cap_test_open_publisher (s, "r", NULL, 0);
  cap_test_publish_range (pub, 1, 1);
  cap_test_expect_final (viewer, 1, "line 1");
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"rate\"}"), ==, 1);
  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

/* A final of exactly @size bytes of JSON. */
static gchar *
final_of_size (gint64 seq, gsize size)
{
  g_autofree gchar *head = g_strdup_printf ("{\"type\":\"caption\",\"seq\":%"
      G_GINT64_FORMAT ",\"final\":true,\"start\":0,\"end\":1,\"text\":\"", seq);
  gsize fill = size - strlen (head) - 2;
  g_autofree gchar *text = g_strnfill (fill, 'a');

  return g_strconcat (head, text, "\"}", NULL);
}

static void
test_oversized (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--max-message", "1024",
          "--public-room", "r"));
  CapTestClient *viewer = cap_test_client_open (s, "/watch/r", NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "r", NULL, 0);
  g_autofree gchar *exact = final_of_size (1, 1024);
  g_autofree gchar *over = final_of_size (2, 1025);

  g_assert_cmpuint (strlen (exact), ==, 1024);
  /* At the limit: taken. One byte over: 1009. */
  cap_test_client_send (pub, exact);
  cap_test_expect_ack (pub, 1);
  cap_test_client_send (pub, over);
  g_assert_cmpuint (cap_test_client_wait_closed (pub, CAP_TEST_WAIT_MS), ==,
      1009);
  json_object_unref (cap_test_expect (viewer, "final"));
  cap_test_expect_nothing (viewer, 200);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"too_big\"}"), ==, 1);
  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

static void
test_malformed (void)
{
  static const gchar *const bad[] = {
    "not json",
    "[1,2]",
    "{\"type\":\"subtitle\",\"final\":true}",
    "{\"final\":true,\"seq\":1,\"text\":\"x\",\"start\":0,\"end\":1}",
    "{\"type\":\"caption\",\"seq\":1,\"text\":\"x\",\"start\":0,\"end\":1}",
    "{\"type\":\"caption\",\"final\":true,\"text\":\"x\",\"start\":0,\"end\":1}",
    "{\"type\":\"caption\",\"final\":true,\"seq\":\"1\",\"text\":\"x\","
        "\"start\":0,\"end\":1}",
    "{\"type\":\"caption\",\"final\":true,\"seq\":0,\"text\":\"x\","
        "\"start\":0,\"end\":1}",
    "{\"type\":\"caption\",\"final\":true,\"seq\":1,\"start\":0,\"end\":1}",
    "{\"type\":\"caption\",\"final\":true,\"seq\":1,\"text\":\"x\"}",
    "{\"type\":\"caption\",\"final\":false,\"text\":7}",
    "{\"type\":\"caption\",\"final\":false,\"text\":\"x\",\"start\":\"0\"}",
    "{\"type\":\"caption\",\"final\":false,\"text\":\"x\",\"speaker\":1}",
  };
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "r"));
  CapTestClient *viewer = cap_test_client_open (s, "/watch/r", NULL);
  CapTestClient *good = cap_test_open_publisher (s, "r", "good", 0);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    CapTestClient *pub = cap_test_open_publisher (s, "r", "bad", 0);
    g_autofree gchar *text = g_strdup_printf ("good %u", i + 1);

    cap_test_client_send (pub, bad[i]);
    if (cap_test_client_wait_closed (pub, CAP_TEST_WAIT_MS) != 1003)
      g_error ("message %u (%s): closed with %u, not 1003", i, bad[i],
          pub->close_code);
    cap_test_client_free (pub);
    /* The others are still served. */
    cap_test_client_send_final (good, i + 1, text, i, i + 1);
    cap_test_expect_ack (good, i + 1);
    cap_test_expect_final (viewer, i + 1, text);
  }
  /* Binary is not a caption. */
  {
    CapTestClient *pub = cap_test_open_publisher (s, "r", "bad", 0);

    soup_websocket_connection_send_binary (pub->ws, "\x01\x02", 2);
    g_assert_cmpuint (cap_test_client_wait_closed (pub, CAP_TEST_WAIT_MS), ==,
        1003);
    cap_test_client_free (pub);
  }
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"malformed\"}"), ==,
      G_N_ELEMENTS (bad) + 1);
  cap_test_client_free (viewer);
  cap_test_client_free (good);
  stop_server (s);
}

static void
test_room_limits (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "a",
          "--public-room", "b", "--max-viewers", "2", "--max-rooms", "1"));
  CapTestClient *v1 = cap_test_client_open (s, "/watch/a", NULL);
  CapTestClient *v2 = cap_test_client_open (s, "/watch/a", NULL);

  assert_refused (s, "/watch/a", NULL, 4009, "room full");
  assert_refused (s, "/watch/b", NULL, 4004, "too many rooms");
  assert_refused (s, "/watch/bad.name", NULL, 4004, "invalid room name");
  {
    g_autofree gchar *long_name = g_strnfill (65, 'x');
    g_autofree gchar *path = g_strconcat ("/watch/", long_name, NULL);

    assert_refused (s, path, NULL, 4004, "invalid room name");
  }
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"room_full\"}"), ==, 1);
  cap_test_client_free (v1);
  cap_test_client_free (v2);
  stop_server (s);
}

/* A store that cannot be opened: 1011 for that room, and the server goes on. */
static void
test_store_failure (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "r",
          "--store", "/dev/null/store"));
  g_autoptr (JsonObject) h = NULL;
  g_autofree gchar *log = NULL;

  assert_refused (s, "/watch/r", NULL, 1011, "store failed");
  h = cap_test_health (s);
  g_assert_cmpint (json_object_get_int_member (h, "rooms"), ==, 0);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"store\"}"), ==, 1);
  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  log = cap_test_server_log (s);
  g_assert_nonnull (strstr (log, "\"event\":\"store_error\""));
  cap_test_server_free (s, FALSE);
}

/* ---------- slow viewers ---------- */

static void
test_zombie_viewer (void)
{
  /* 4 KiB messages, 64 KiB of queue per client. */
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "z",
          "--max-message", "8192", "--max-queue", "65536",
          "--max-rate", "1000"));
  CapTestClient *viewer = cap_test_client_open (s, "/watch/z", NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "z", NULL, 0);
  /* A small receive buffer, so the kernel holds little of what it never reads. */
  CapRawClient *zombie = cap_raw_client_connect (s, "/watch/z", 4096);
  g_autofree gchar *text = g_strnfill (4000, 'z');
  gint64 seq, dropped_at = 0;
  gint code;

  g_assert_true (viewers_are (s, 2));
  for (seq = 1; seq <= 400 && !dropped_at; seq++) {
    g_autoptr (JsonObject) m = NULL;
    gint64 sent = g_get_monotonic_time ();

    cap_test_client_send_final (pub, seq, text, seq, seq + 1);
    cap_test_expect_ack (pub, seq);
    /* The reading viewer gets each final at once, zombie or not. */
    m = cap_test_client_next (viewer, 2000);
    g_assert_nonnull (m);
    g_assert_cmpint (json_object_get_int_member (m, "id"), ==, seq);
    g_assert_cmpint (g_get_monotonic_time () - sent, <, 2 * G_USEC_PER_SEC);
    if (seq % 10 == 0 && cap_test_metric (s,
            "stt_caption_drops_total{reason=\"slow_viewer\"}") == 1)
      dropped_at = seq;
  }
  /* Dropped once its queue passed 64 KiB, plus what the kernel buffers hold (the
   * server fixes its socket's send buffer): well before 1 MB. */
  g_assert_cmpint (dropped_at, >, 0);
  g_assert_cmpint (dropped_at, <, 250);
  g_test_message ("zombie dropped after %" G_GINT64_FORMAT " finals of 4 KB",
      dropped_at);
  g_assert_true (viewers_are (s, 1));
  /* What reached its socket ends with our 4010, or the connection was cut. */
  code = cap_raw_client_read_until_close (zombie, CAP_TEST_WAIT_MS, NULL);
  g_assert_true (code == 4010 || code == 0);

  cap_raw_client_free (zombie);
  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

/* ---------- heartbeat ---------- */

typedef struct
{
  CapRawClient *client;
  guint pings;
  gint code;
  gint done;                    /* atomic */
} MuteRead;

static gpointer
mute_read (gpointer data)
{
  MuteRead *r = data;

  r->code = cap_raw_client_read_until_close (r->client, 6000, &r->pings);
  g_atomic_int_set (&r->done, 1);
  return NULL;
}

static gboolean
mute_done (gpointer data)
{
  return g_atomic_int_get (&((MuteRead *) data)->done);
}

static void
test_heartbeat_timeout (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "hb",
          "--heartbeat", "1", "--heartbeat-timeout", "2"));
  CapTestClient *alive = cap_test_client_open (s, "/watch/hb", NULL);
  MuteRead r = { 0 };
  GThread *thread;

  /* It reads the pings but never answers; the libsoup client of this thread's
   * main loop answers them meanwhile. */
  r.client = cap_raw_client_connect (s, "/watch/hb", 0);
  thread = g_thread_new ("mute", mute_read, &r);
  g_assert_true (cap_test_wait (mute_done, &r, 8000));
  g_thread_join (thread);
  g_assert_cmpint (r.code, ==, 4008);
  g_assert_cmpuint (r.pings, >=, 1);
  /* The viewer that answers stays, past the timeout. */
  cap_test_sleep (2500);
  g_assert_false (alive->closed);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"heartbeat\"}"), ==, 1);
  cap_raw_client_free (r.client);
  cap_test_client_free (alive);
  stop_server (s);
}

/* The defaults in --help and in the start line are the ones the doc's option table
 * gives. */
static void
test_defaults (void)
{
  g_autofree gchar *doc_text = NULL, *help = NULL, *log = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *argv[] = { g_getenv ("STT_CAPTION_SERVER"), "--help", NULL };
  CapTestServer *s;
  guint i, checked = 0;
  gint status;

  g_assert_true (g_file_get_contents (g_getenv ("STT_CAPTION_DOC"), &doc_text,
          NULL, &error));
  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &help, NULL, &status,
          &error));
  s = cap_test_server_start (NULL);
  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  log = cap_test_server_log (s);

  /* Rows "| `--name N` | default | ..." of the doc's options table. */
  lines = g_strsplit (doc_text, "\n", -1);
  for (i = 0; lines[i]; i++) {
    g_auto (GStrv) cells = NULL;
    g_autofree gchar *name = NULL, *key = NULL, *in_help = NULL;
    g_autofree gchar *in_log = NULL;
    const gchar *value;

    if (!g_str_has_prefix (lines[i], "| `--"))
      continue;
    cells = g_strsplit (lines[i], "|", -1);
    g_assert_cmpuint (g_strv_length (cells), >=, 3);
    g_strstrip (cells[1]);
    g_strstrip (cells[2]);
    /* "`--heartbeat SECONDS`" -> "heartbeat" */
    name = g_strndup (cells[1] + 3, strcspn (cells[1] + 3, " `="));
    value = cells[2];
    /* Numbers only (not 127.0.0.1, not "(required)"). */
    if (!*value || value[strspn (value, "0123456789")] != '\0')
      continue;
    in_help = g_strdup_printf ("--%s=", name);
    g_assert_nonnull (strstr (help, in_help));
    {
      /* The help line of that option says "(default VALUE)". */
      const gchar *line = strstr (help, in_help);
      g_autofree gchar *to_eol = g_strndup (line, strcspn (line, "\n"));
      g_autofree gchar *says = g_strdup_printf ("default %s", value);

      if (!strstr (to_eol, says))
        g_error ("--help for --%s does not say \"%s\": %s", name, says,
            to_eol);
    }
    key = g_strdelimit (g_strdup (name), "-", '_');
    in_log = g_strdup_printf ("\"%s\":%s,", key, value);
    if (strcmp (name, "port") != 0 && !strstr (log, in_log))
      g_error ("the start line does not say %s", in_log);
    checked++;
  }
  /* port, history, room-ttl, max-rooms, max-per-ip, max-rate, max-message,
   * max-viewers, max-queue, heartbeat, heartbeat-timeout */
  g_assert_cmpuint (checked, ==, 11);
  cap_test_server_free (s, FALSE);
}

/* ---------- HTTP ---------- */

static void
test_health_metrics (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "m"));
  CapTestClient *v1 = cap_test_client_open (s, "/watch/m", NULL);
  CapTestClient *v2 = cap_test_client_open (s, "/watch/m", NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "m", NULL, 0);
  g_autoptr (JsonObject) h = NULL;
  g_autofree gchar *metrics = NULL;
  guint status = 0;

  cap_test_publish_range (pub, 1, 2);
  cap_test_expect_final (v1, 1, "line 1");
  cap_test_expect_final (v2, 1, "line 1");
  cap_test_expect_final (v1, 2, "line 2");
  cap_test_expect_final (v2, 2, "line 2");

  h = cap_test_health (s);
  g_assert_cmpstr (json_object_get_string_member (h, "status"), ==, "ok");
  g_assert_cmpint (json_object_get_int_member (h, "uptime"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (h, "rooms"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (h, "viewers"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (h, "publishers"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (h, "rss_bytes"), >, 1 << 20);

  metrics = cap_test_http_get (s, "/metrics", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (metrics,
          "# TYPE stt_caption_fanout_seconds histogram\n"));
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_connections{role=\"viewer\"}"), ==, 2);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_connections{role=\"publisher\"}"), ==, 1);
  /* In: the publisher's 2 finals. Out: 3 welcomes, 2 acks, 2 x 2 finals. */
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_messages_in_total"), ==,
      2);
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_messages_out_total"), ==,
      9);
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_fanout_seconds_count"),
      ==, 2);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_fanout_seconds_bucket{le=\"+Inf\"}"), ==, 2);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_fanout_seconds_bucket{le=\"1\"}"), ==, 2);
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_fanout_seconds_sum"), <,
      1);
  g_assert_cmpfloat (cap_test_metric (s,
          "stt_caption_drops_total{reason=\"slow_viewer\"}"), ==, 0);

  /* Unknown paths. */
  g_free (cap_test_http_get (s, "/nothing", NULL, &status));
  g_assert_cmpuint (status, ==, 404);
  g_free (cap_test_http_get (s, "/rooms/m/other", NULL, &status));
  g_assert_cmpuint (status, ==, 404);

  cap_test_client_free (v1);
  cap_test_client_free (v2);
  cap_test_client_free (pub);
  stop_server (s);
}

static void
test_transcripts (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "t", NULL, 0);
  g_autofree gchar *token = cap_test_token (s, NULL, "t", "watch", NULL, 0, 60);
  g_autofree gchar *vtt_path = g_strdup_printf ("/rooms/t/transcript.vtt?"
      "token=%s", token);
  g_autofree gchar *srt_path = g_strdup_printf ("/rooms/t/transcript.srt?"
      "token=%s", token);
  g_autofree gchar *vtt = NULL, *srt = NULL;
  guint status = 0;

  cap_test_client_send_final (pub, 1, "Hello world.", 1.52, 2.9);
  cap_test_expect_ack (pub, 1);
  cap_test_client_send (pub, "{\"type\":\"caption\",\"seq\":2,\"final\":true,"
      "\"text\":\"a <b> & c\\n\\nnext\",\"start\":3725.004,\"end\":3727.5,"
      "\"speaker\":\"Ann\"}");
  cap_test_expect_ack (pub, 2);

  vtt = cap_test_http_get (s, vtt_path, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (vtt, ==, "WEBVTT\n\n"
      "1\n00:00:01.520 --> 00:00:02.900\nHello world.\n\n"
      "2\n01:02:05.004 --> 01:02:07.500\n<v Ann>a &lt;b&gt; &amp; c\nnext\n\n");
  srt = cap_test_http_get (s, srt_path, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (srt, ==,
      "1\n00:00:01,520 --> 00:00:02,900\nHello world.\n\n"
      "2\n01:02:05,004 --> 01:02:07,500\nAnn: a <b> & c\nnext\n\n");

  /* Viewer rules: a token for the room. */
  g_free (cap_test_http_get (s, "/rooms/t/transcript.vtt", NULL, &status));
  g_assert_cmpuint (status, ==, 401);
  {
    g_autofree gchar *any = cap_test_token (s, NULL, "*", "watch", NULL, 0, 60);
    g_autofree gchar *path = g_strdup_printf ("/rooms/none/transcript.vtt?"
        "token=%s", any);

    g_free (cap_test_http_get (s, path, NULL, &status));
    g_assert_cmpuint (status, ==, 404);
  }
  cap_test_client_free (pub);
  stop_server (s);
}

/* ---------- revisions ---------- */

/* Asserts the next message of @c is the revision with @id, @text, [@start, @end) and
 * @n_words words. */
static void
expect_revision (CapTestClient * c, gint64 id, const gchar * text, gdouble start,
    gdouble end, guint n_words)
{
  g_autoptr (JsonObject) m = cap_test_expect (c, "revision");

  g_assert_cmpint (json_object_get_int_member (m, "id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (m, "text"), ==, text);
  g_assert_cmpfloat (json_object_get_double_member (m, "start"), ==, start);
  g_assert_cmpfloat (json_object_get_double_member (m, "end"), ==, end);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (m,
              "words")), ==, n_words);
}

#define REVISED_VTT "WEBVTT\n\n" \
  "1\n00:00:01.000 --> 00:00:01.400\none\n\n" \
  "2\n00:00:02.000 --> 00:00:02.400\ntwo\n\n" \
  "3\n00:00:03.000 --> 00:00:04.350\nthree four\n\n" \
  "4\n00:00:05.000 --> 00:00:05.400\nfive\n\n" \
  "5\n00:00:03.500 --> 00:00:03.900\naside\n\n" \
  "6\n00:00:06.000 --> 00:00:06.400\nsix\n\n" \
  "7\n00:00:07.000 --> 00:00:08.400\nseven eight\n\n" \
  "8\n00:00:10.000 --> 00:00:10.400\nten\n\n"

/* The history a joining viewer gets: the finals a revision replaced are left out, the
 * revision comes at its id. */
static void
expect_revised_history (CapTestClient * v)
{
  cap_test_expect_final (v, 1, "one");
  cap_test_expect_final (v, 2, "two");
  cap_test_expect_final (v, 5, "five");
  cap_test_expect_final (v, 6, "aside");
  expect_revision (v, 7, "three four", 3, 5, 2);
  cap_test_expect_final (v, 8, "six");
  cap_test_expect_final (v, 9, "ten");
  expect_revision (v, 10, "seven eight", 7, 9, 2);
}

/* A revision is numbered, stored and acknowledged like a final (a duplicate is acked
 * again and not fanned out), reaches live viewers, and takes the place of its
 * publisher's finals that start in its stretch in the transcripts and in a joining
 * viewer's history, also after a restart; another publisher's captions stay. */
static void
test_revision (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  CapTestClient *viewer = cap_test_open_viewer (s, "rev", "", 0);
  CapTestClient *pub = cap_test_open_publisher (s, "rev", "cam", 0);
  CapTestClient *other = cap_test_open_publisher (s, "rev", "other", 0);
  CapTestClient *v2, *bad;
  CapTestServer *s2;
  g_autofree gchar *vtt = NULL, *srt = NULL, *vtt2 = NULL;
  static const struct
  {
    const gchar *text;
    gdouble start;
  } finals[] = {
    {"one", 1}, {"two", 2}, {"tree", 3}, {"for", 4}, {"five", 5},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (finals); i++) {
    cap_test_client_send_final (pub, i + 1, finals[i].text, finals[i].start,
        finals[i].start + 0.4);
    cap_test_expect_ack (pub, i + 1);
    cap_test_expect_final (viewer, i + 1, finals[i].text);
  }
  cap_test_client_send_final (other, 1, "aside", 3.5, 3.9);
  cap_test_expect_ack (other, 1);
  cap_test_expect_final (viewer, 6, "aside");

  /* Failover: the primary's words for [3, 5). */
  cap_test_client_send_revision (pub, 6, 3, 5, "three 3 3.3 four 4 4.35");
  cap_test_expect_ack (pub, 6);
  expect_revision (viewer, 7, "three four", 3, 5, 2);
  /* Sent again (the ack was lost): acked, not stored nor fanned out again. */
  cap_test_client_send_revision (pub, 6, 3, 5, "three 3 3.3 four 4 4.35");
  cap_test_expect_ack (pub, 6);
  cap_test_client_send_final (pub, 7, "six", 6, 6.4);
  cap_test_expect_ack (pub, 7);
  cap_test_expect_final (viewer, 8, "six");
  /* max-lag: a gap in the text output [7, 9), the live edge went on at 10. */
  cap_test_client_send_final (pub, 8, "ten", 10, 10.4);
  cap_test_expect_ack (pub, 8);
  cap_test_expect_final (viewer, 9, "ten");
  cap_test_client_send_revision (pub, 9, 7, 9, "seven 7 7.4 eight 8 8.4");
  cap_test_expect_ack (pub, 9);
  expect_revision (viewer, 10, "seven eight", 7, 9, 2);

  vtt = cap_test_transcript (s, "rev", "vtt");
  g_assert_cmpstr (vtt, ==, REVISED_VTT);
  srt = cap_test_transcript (s, "rev", "srt");
  g_assert_cmpstr (srt, ==,
      "1\n00:00:01,000 --> 00:00:01,400\none\n\n"
      "2\n00:00:02,000 --> 00:00:02,400\ntwo\n\n"
      "3\n00:00:03,000 --> 00:00:04,350\nthree four\n\n"
      "4\n00:00:05,000 --> 00:00:05,400\nfive\n\n"
      "5\n00:00:03,500 --> 00:00:03,900\naside\n\n"
      "6\n00:00:06,000 --> 00:00:06,400\nsix\n\n"
      "7\n00:00:07,000 --> 00:00:08,400\nseven eight\n\n"
      "8\n00:00:10,000 --> 00:00:10,400\nten\n\n");

  v2 = cap_test_open_viewer (s, "rev", "", 10);
  expect_revised_history (v2);
  cap_test_client_free (v2);
  v2 = cap_test_open_viewer (s, "rev", "&since=4", 10);
  cap_test_expect_final (v2, 5, "five");
  cap_test_expect_final (v2, 6, "aside");
  expect_revision (v2, 7, "three four", 3, 5, 2);
  cap_test_client_free (v2);

  /* A revision without words is malformed. */
  bad = cap_test_open_publisher (s, "rev", "bad", 0);
  cap_test_client_send (bad, "{\"type\":\"revision\",\"seq\":1,\"start\":0,"
      "\"end\":1,\"text\":\"x\"}");
  g_assert_cmpuint (cap_test_client_wait_closed (bad, CAP_TEST_WAIT_MS), ==, 1003);
  g_assert_cmpstr (bad->close_reason, ==, "missing or invalid field: words");
  cap_test_client_free (bad);

  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  cap_test_client_free (other);
  g_assert_cmpint (cap_test_server_stop (s), ==, 0);

  /* From the disk: the publisher's last_seq counts the revisions, the history and
   * the transcript are the same. */
  s2 = cap_test_server_restart (s, NULL);
  cap_test_server_free (s, TRUE);
  pub = cap_test_open_publisher (s2, "rev", "cam", 9);
  cap_test_client_free (pub);
  v2 = cap_test_open_viewer (s2, "rev", "", 10);
  expect_revised_history (v2);
  cap_test_client_free (v2);
  vtt2 = cap_test_transcript (s2, "rev", "vtt");
  g_assert_cmpstr (vtt2, ==, REVISED_VTT);
  stop_server (s2);
}

/* A long revision is cut into cues of at most two lines of 42 characters and 7 s. */
static void
test_revision_cues (void)
{
  /* Words of 10 characters: three to a line, so six to a cue by length, then a
   * cue cut by its duration (the fifth word would end it 8.5 s after its start). */
  static const gdouble starts[] = { 0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 15 };
  CapTestServer *s = cap_test_server_start (NULL);
  CapTestClient *pub = cap_test_open_publisher (s, "cues", NULL, 0);
  GString *words = g_string_new (NULL);
  g_autofree gchar *vtt = NULL;
  guint i;

  cap_test_client_send_final (pub, 1, "backup words", 0, 20);
  cap_test_expect_ack (pub, 1);
  for (i = 0; i < G_N_ELEMENTS (starts); i++)
    g_string_append_printf (words, "%sword%06u %g %g", i ? " " : "", i, starts[i],
        starts[i] + 0.5);
  cap_test_client_send_revision (pub, 2, 0, 20, words->str);
  g_string_free (words, TRUE);
  cap_test_expect_ack (pub, 2);

  vtt = cap_test_transcript (s, "cues", "vtt");
  g_assert_cmpstr (vtt, ==, "WEBVTT\n\n"
      "1\n00:00:00.000 --> 00:00:05.500\n"
      "word000000 word000001 word000002\nword000003 word000004 word000005\n\n"
      "2\n00:00:06.000 --> 00:00:12.500\n"
      "word000006 word000007 word000008\nword000009\n\n"
      "3\n00:00:14.000 --> 00:00:15.500\nword000010 word000011\n\n");

  /* The text shows the words when it has as many (punctuation, capitals); a revision
   * with text and no words is one cue over its stretch. */
  cap_test_client_send (pub, "{\"type\":\"revision\",\"seq\":3,\"start\":20,"
      "\"end\":22,\"text\":\"Hello, world.\",\"words\":[{\"text\":\"hello\","
      "\"start\":20,\"end\":20.4},{\"text\":\"world\",\"start\":20.5,\"end\":21}]}");
  cap_test_expect_ack (pub, 3);
  cap_test_client_send (pub, "{\"type\":\"revision\",\"seq\":4,\"start\":23,"
      "\"end\":24.5,\"text\":\"no times\",\"words\":[]}");
  cap_test_expect_ack (pub, 4);
  g_free (vtt);
  vtt = cap_test_transcript (s, "cues", "vtt");
  g_assert_nonnull (g_strrstr (vtt, "\n\n"
          "4\n00:00:20.000 --> 00:00:21.000\nHello, world.\n\n"
          "5\n00:00:23.000 --> 00:00:24.500\nno times\n\n"));
  cap_test_client_free (pub);
  stop_server (s);
}

/* A store written by a server of schema 1 (no revisions): opened by this one, its
 * finals are all there, and it takes revisions from then on. */
static void
test_store_upgrade (void)
{
  static const gchar V1[] = "PRAGMA journal_mode=WAL;"
      "CREATE TABLE finals (id INTEGER PRIMARY KEY, publisher TEXT NOT NULL,"
      " seq INTEGER NOT NULL, text TEXT NOT NULL, start REAL NOT NULL,"
      " \"end\" REAL NOT NULL, speaker TEXT, language TEXT, time INTEGER NOT NULL,"
      " UNIQUE (publisher, seq));"
      "PRAGMA user_version=1;"
      "INSERT INTO finals VALUES (1, 'cam', 1, 'old one', 1, 1.5, NULL, NULL, 0);"
      "INSERT INTO finals VALUES (2, 'cam', 2, 'old two', 2, 2.5, NULL, NULL, 0);";
  CapTestServer *s = cap_test_server_start (NULL), *s2;
  g_autofree gchar *db = g_build_filename (s->store, "old.sqlite", NULL);
  g_autofree gchar *vtt = NULL;
  CapTestClient *pub;
  sqlite3 *sql = NULL;

  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (s->store, 0700), ==, 0);
  g_assert_cmpint (sqlite3_open (db, &sql), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (sql, V1, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (sql);

  s2 = cap_test_server_restart (s, NULL);
  cap_test_server_free (s, TRUE);
  pub = cap_test_open_publisher (s2, "old", "cam", 2);
  cap_test_client_send_revision (pub, 3, 2, 3, "two 2 2.4");
  cap_test_expect_ack (pub, 3);
  vtt = cap_test_transcript (s2, "old", "vtt");
  g_assert_cmpstr (vtt, ==, "WEBVTT\n\n"
      "1\n00:00:01.000 --> 00:00:01.500\nold one\n\n"
      "2\n00:00:02.000 --> 00:00:02.400\ntwo\n\n");
  cap_test_client_free (pub);
  stop_server (s2);
}

/* The page: self-contained, for phones, and (when node is there) valid JavaScript that
 * applies revisions as the protocol says (viewer-revision.js). */
static void
test_viewer_page (void)
{
  CapTestServer *s = cap_test_server_start (NULL);
  g_autofree gchar *page = NULL;
  const gchar *node = g_getenv ("NODE");
  guint status = 0;

  page = cap_test_http_get (s, "/rooms/any-room", NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_true (g_str_has_prefix (page, "<!doctype html>"));
  g_assert_nonnull (strstr (page, "<meta name=\"viewport\""));
  g_assert_nonnull (strstr (page, "/watch/"));
  g_assert_nonnull (strstr (page, "since"));
  /* Nothing loaded from elsewhere. */
  g_assert_null (strstr (page, "src=\"http"));
  g_assert_null (strstr (page, "href=\"http"));
  g_free (cap_test_http_get (s, "/rooms/bad.room", NULL, &status));
  g_assert_cmpuint (status, ==, 404);

  if (node && *node) {
    const gchar *start = strstr (page, "<script>");
    const gchar *end = strstr (page, "</script>");
    g_autofree gchar *script = NULL;
    g_autofree gchar *file = g_build_filename (s->dir, "viewer.js", NULL);
    g_autofree gchar *err = NULL;
    const gchar *argv[] = { node, "--check", file, NULL };
    g_autoptr (GError) error = NULL;
    gint wait_status;

    g_assert_nonnull (start);
    g_assert_nonnull (end);
    script = g_strndup (start + 8, end - start - 8);
    g_file_set_contents (file, script, -1, &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL,
            G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &wait_status,
            &error));
    g_assert_no_error (error);
    if (!g_spawn_check_wait_status (wait_status, NULL))
      g_error ("node --check: %s", err);

    /* And what it does with revisions, on a DOM of the test's own. */
    {
      const gchar *check[] = { node, g_getenv ("STT_CAPTION_VIEWER_CHECK"), file,
        NULL
      };
      g_autofree gchar *err2 = NULL;

      g_assert_nonnull (check[1]);
      g_assert_true (g_spawn_sync (NULL, (gchar **) check, NULL,
              G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err2, &wait_status,
              &error));
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (wait_status, NULL))
        g_error ("viewer-revision.js: %s", err2);
    }
  } else {
    g_test_message ("node not found: the page's script is not checked");
  }
  stop_server (s);
}

/* ---------- viewer threads ---------- */

static gint64
health_viewers (CapTestServer * s)
{
  g_autoptr (JsonObject) h = cap_test_health (s);

  return json_object_get_int_member (h, "viewers");
}

/* Viewers spread over several threads (--threads 3): each gets every final once, in
 * order, also one that joins while finals are being fanned out (its history, then
 * what follows, with no gap and no duplicate); /health counts the viewers of every
 * thread; SIGTERM closes them all with 1001. */
static void
test_threads (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "t",
          "--threads", "3"));
  CapTestClient *viewers[8] = { NULL };
  CapTestClient *pub;
  g_autoptr (JsonObject) welcome = NULL;
  g_autofree gchar *log = NULL;
  gint64 seq, deadline;
  guint i;

  for (i = 0; i < 7; i++)
    viewers[i] = cap_test_client_open (s, "/watch/t", NULL);
  pub = cap_test_open_publisher (s, "t", "cam", 0);
  /* Not waiting for the acks: the last viewer joins while these go out. */
  for (seq = 1; seq <= 10; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_client_send_final (pub, seq, text, seq, seq + 0.5);
  }
  viewers[7] = cap_test_client_open (s, "/watch/t", &welcome);
  g_assert_cmpint (json_object_get_int_member (welcome, "last_id"), <=, 10);
  for (seq = 11; seq <= 20; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_client_send_final (pub, seq, text, seq, seq + 0.5);
  }
  for (seq = 1; seq <= 20; seq++)
    cap_test_expect_ack (pub, seq);
  for (i = 0; i < 8; i++) {
    for (seq = 1; seq <= 20; seq++) {
      g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

      cap_test_expect_final (viewers[i], seq, text);
    }
  }
  for (i = 0; i < 8; i++)
    cap_test_expect_nothing (viewers[i], i == 0 ? 200 : 0);
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_fanout_seconds_count"),
      ==, 20);
  /* 8 welcomes, 20 acks, 8 x 20 finals, the publisher's welcome. */
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_messages_out_total"), ==,
      8 + 20 + 160 + 1);

  /* Counted across the threads, and released when they go. */
  g_assert_cmpint (health_viewers (s), ==, 8);
  for (i = 0; i < 3; i++)
    g_clear_pointer (&viewers[i], cap_test_client_free);
  deadline = g_get_monotonic_time () + CAP_TEST_WAIT_MS * 1000;
  while (health_viewers (s) != 5 && g_get_monotonic_time () < deadline)
    cap_test_sleep (20);
  g_assert_cmpint (health_viewers (s), ==, 5);

  g_assert_cmpint (cap_test_server_stop (s), ==, 0);
  for (i = 3; i < 8; i++) {
    g_assert_cmpuint (cap_test_client_wait_closed (viewers[i],
            CAP_TEST_WAIT_MS), ==, 1001);
    g_assert_cmpstr (viewers[i]->close_reason, ==, "server shutting down");
    cap_test_client_free (viewers[i]);
  }
  g_assert_cmpuint (cap_test_client_wait_closed (pub, CAP_TEST_WAIT_MS), ==,
      1001);
  cap_test_client_free (pub);
  log = cap_test_server_log (s);
  g_assert_nonnull (strstr (log, "\"threads\":3"));
  cap_test_server_free (s, FALSE);
}

/* A thread whose last viewer of a room left is sent none of the room's finals; the
 * next viewer there still gets the whole history, then what follows. */
static void
test_thread_rejoin (void)
{
  CapTestServer *s = cap_test_server_start (ARGS ("--public-room", "u",
          "--threads", "1"));
  CapTestClient *pub = cap_test_open_publisher (s, "u", "cam", 0);
  CapTestClient *viewer = cap_test_client_open (s, "/watch/u", NULL);
  g_autoptr (JsonObject) welcome = NULL;
  gint64 seq, deadline;

  cap_test_publish_range (pub, 1, 3);
  for (seq = 1; seq <= 3; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_expect_final (viewer, seq, text);
  }
  cap_test_client_free (viewer);
  deadline = g_get_monotonic_time () + CAP_TEST_WAIT_MS * 1000;
  while (health_viewers (s) != 0 && g_get_monotonic_time () < deadline)
    cap_test_sleep (20);
  g_assert_cmpint (health_viewers (s), ==, 0);

  cap_test_publish_range (pub, 4, 6);
  viewer = cap_test_client_open (s, "/watch/u", &welcome);
  g_assert_cmpint (json_object_get_int_member (welcome, "last_id"), ==, 6);
  cap_test_publish_range (pub, 7, 7);
  for (seq = 1; seq <= 7; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_expect_final (viewer, seq, text);
  }
  cap_test_expect_nothing (viewer, 100);
  /* Every final was timed, also those that reached no viewer. */
  g_assert_cmpfloat (cap_test_metric (s, "stt_caption_fanout_seconds_count"),
      ==, 7);

  cap_test_client_free (viewer);
  cap_test_client_free (pub);
  stop_server (s);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/caption-server/welcome-ack-dedup", test_welcome_ack_dedup);
  g_test_add_func ("/caption-server/interim", test_interim);
  g_test_add_func ("/caption-server/history-since-gap",
      test_history_since_gap);
  g_test_add_func ("/caption-server/restart", test_restart);
  g_test_add_func ("/caption-server/room-ttl", test_room_ttl);
  g_test_add_func ("/caption-server/auth", test_auth);
  g_test_add_func ("/caption-server/public-room", test_public_room);
  g_test_add_func ("/caption-server/origin", test_origin);
  g_test_add_func ("/caption-server/per-ip", test_per_ip);
  g_test_add_func ("/caption-server/rate-limit", test_rate_limit);
  g_test_add_func ("/caption-server/oversized", test_oversized);
  g_test_add_func ("/caption-server/malformed", test_malformed);
  g_test_add_func ("/caption-server/room-limits", test_room_limits);
  g_test_add_func ("/caption-server/store-failure", test_store_failure);
  g_test_add_func ("/caption-server/zombie-viewer", test_zombie_viewer);
  g_test_add_func ("/caption-server/heartbeat-timeout",
      test_heartbeat_timeout);
  g_test_add_func ("/caption-server/defaults", test_defaults);
  g_test_add_func ("/caption-server/health-metrics", test_health_metrics);
  g_test_add_func ("/caption-server/transcripts", test_transcripts);
  g_test_add_func ("/caption-server/revision", test_revision);
  g_test_add_func ("/caption-server/revision-cues", test_revision_cues);
  g_test_add_func ("/caption-server/store-upgrade", test_store_upgrade);
  g_test_add_func ("/caption-server/viewer-page", test_viewer_page);
  g_test_add_func ("/caption-server/threads", test_threads);
  g_test_add_func ("/caption-server/thread-rejoin", test_thread_rejoin);
  return g_test_run ();
}
