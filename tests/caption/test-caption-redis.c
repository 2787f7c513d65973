/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-caption-redis: two stt-caption-server instances sharing rooms over a real
 * redis-server on loopback (docs/caption-server.md, "Scale-out"), started by the test
 * and stopped after. Skipped when redis-server is not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib/gstdio.h>

#include "caption-test-utils.h"

/* Bound for the servers to reach Redis: the first retry after a loss comes 1 s
 * later. */
#define REDIS_WAIT_MS 10000

typedef struct
{
  CapTestRedis *redis;
  CapTestServer *a, *b;
} Pair;

static gboolean
server_built_with_redis (void)
{
  return g_strcmp0 (g_getenv ("STT_CAPTION_REDIS"), "1") == 0;
}

/* What /health says of Redis. */
static gchar *
redis_state (CapTestServer * s)
{
  g_autoptr (JsonObject) h = cap_test_health (s);

  return g_strdup (json_object_get_string_member_with_default (h, "redis",
          ""));
}

static void
wait_redis_state (CapTestServer * s, const gchar * state)
{
  gint64 deadline = g_get_monotonic_time () + REDIS_WAIT_MS * 1000;
  g_autofree gchar *now = NULL;

  while (TRUE) {
    g_free (now);
    now = redis_state (s);
    if (g_strcmp0 (now, state) == 0)
      return;
    if (g_get_monotonic_time () > deadline)
      g_error ("/health says redis \"%s\", not \"%s\", after %d ms", now,
          state, REDIS_WAIT_MS);
    cap_test_sleep (50);
  }
}

/* Waits until @s's log has a line with every one of @parts. */
static void
wait_log (CapTestServer * s, const gchar * const *parts)
{
  gint64 deadline = g_get_monotonic_time () + REDIS_WAIT_MS * 1000;

  while (TRUE) {
    g_autofree gchar *log = cap_test_server_log (s);
    g_auto (GStrv) lines = g_strsplit (log, "\n", -1);
    guint i, k;

    for (i = 0; lines[i]; i++) {
      for (k = 0; parts[k] && strstr (lines[i], parts[k]); k++);
      if (!parts[k])
        return;
    }
    if (g_get_monotonic_time () > deadline)
      g_error ("no log line with %s ... in:\n%s", parts[0], log);
    cap_test_sleep (50);
  }
}

/* redis-server, then servers A and B on it, both connected; NULL (the test skipped)
 * without redis-server or hiredis. */
static Pair *
pair_start (void)
{
  const gchar *args[] = { "--redis", NULL, NULL };
  Pair *p;

  if (!server_built_with_redis ()) {
    g_test_skip ("stt-caption-server was built without hiredis "
        "(libhiredis-dev): --redis is not tested");
    return NULL;
  }
  p = g_new0 (Pair, 1);
  p->redis = cap_test_redis_start ();
  if (!p->redis) {
    g_free (p);
    g_test_skip ("redis-server is not installed (Debian: redis-server, in "
        "scripts/deps.sh): --redis is not tested");
    return NULL;
  }
  args[1] = p->redis->url;
  p->a = cap_test_server_start (args);
  p->b = cap_test_server_start (args);
  wait_redis_state (p->a, "up");
  wait_redis_state (p->b, "up");
  return p;
}

static void
pair_stop (Pair * p)
{
  g_assert_cmpint (cap_test_server_stop (p->a), ==, 0);
  g_assert_cmpint (cap_test_server_stop (p->b), ==, 0);
  cap_test_server_free (p->a, FALSE);
  cap_test_server_free (p->b, FALSE);
  cap_test_redis_free (p->redis);
  g_free (p);
}

/* The next message of @c, a final: "publisher/seq" (its id in *id). */
static gchar *
next_final (CapTestClient * c, gint64 * id)
{
  g_autoptr (JsonObject) m = cap_test_expect (c, "final");

  *id = json_object_get_int_member (m, "id");
  return g_strdup_printf ("%s/%" G_GINT64_FORMAT,
      json_object_get_string_member (m, "publisher"),
      json_object_get_int_member (m, "seq"));
}

/* ---------- tests ---------- */

/* A publisher on A, viewers on A and B: each final once, in order, with the same ids
 * on both; interims too; publishers on both servers get one room-wide order. */
static void
test_fan_out (void)
{
  Pair *p = pair_start ();
  CapTestClient *va, *vb, *pa, *pb, *late;
  g_autoptr (JsonObject) ia = NULL, ib = NULL;
  g_autofree gchar *token = NULL, *path = NULL, *vtt = NULL;
  guint status = 0, i;
  gint64 id;

  if (!p)
    return;
  va = cap_test_open_viewer (p->a, "hall", "", 0);
  vb = cap_test_open_viewer (p->b, "hall", "", 0);
  pa = cap_test_open_publisher (p->a, "hall", "cam-a", 0);

  cap_test_client_send (pa, "{\"type\":\"caption\",\"final\":false,"
      "\"text\":\"and the\",\"start\":0.5,\"end\":0.9}");
  ia = cap_test_expect (va, "interim");
  ib = cap_test_expect (vb, "interim");
  g_assert_cmpstr (json_object_get_string_member (ib, "text"), ==, "and the");
  g_assert_cmpstr (json_object_get_string_member (ib, "publisher"), ==,
      "cam-a");
  g_assert_cmpfloat (json_object_get_double_member (ib, "end"), ==, 0.9);

  cap_test_publish_range (pa, 1, 5);
  for (i = 1; i <= 5; i++) {
    g_autofree gchar *text = g_strdup_printf ("line %u", i);

    cap_test_expect_final (va, i, text);
    cap_test_expect_final (vb, i, text);
  }
  cap_test_expect_nothing (va, 200);
  cap_test_expect_nothing (vb, 0);

  /* A publisher on each server, sending at once: Redis decides the order, and both
   * servers' viewers see that one order with the same ids. */
  pb = cap_test_open_publisher (p->b, "hall", "cam-b", 0);
  for (i = 0; i < 4; i++) {
    g_autofree gchar *ta = g_strdup_printf ("a %u", 6 + i);
    g_autofree gchar *tb = g_strdup_printf ("b %u", 1 + i);

    cap_test_client_send_final (pa, 6 + i, ta, 10 + i, 10.5 + i);
    cap_test_client_send_final (pb, 1 + i, tb, 10 + i, 10.5 + i);
  }
  for (i = 0; i < 4; i++) {
    cap_test_expect_ack (pa, 6 + i);
    cap_test_expect_ack (pb, 1 + i);
  }
  for (i = 0; i < 8; i++) {
    gint64 id_a, id_b;
    g_autofree gchar *fa = next_final (va, &id_a);
    g_autofree gchar *fb = next_final (vb, &id_b);

    g_assert_cmpint (id_a, ==, 6 + i);
    g_assert_cmpint (id_b, ==, id_a);
    g_assert_cmpstr (fb, ==, fa);
  }
  cap_test_expect_nothing (va, 200);
  cap_test_expect_nothing (vb, 0);

  /* A viewer that saw up to id 3 on A comes back on B. */
  late = cap_test_open_viewer (p->b, "hall", "&since=3", 13);
  for (i = 4; i <= 13; i++) {
    g_autofree gchar *f = next_final (late, &id);

    g_assert_cmpint (id, ==, i);
  }
  cap_test_expect_nothing (late, 100);

  /* B stored every final: its transcript has them all. */
  token = cap_test_token (p->b, NULL, "hall", "watch", NULL, 0, 60);
  path = g_strdup_printf ("/rooms/hall/transcript.vtt?token=%s", token);
  vtt = cap_test_http_get (p->b, path, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (vtt, "line 1"));
  g_assert_nonnull (strstr (vtt, "a 9"));
  g_assert_nonnull (strstr (vtt, "b 4"));

  /* Out: A's interim and 9 finals. In, on B: every caption of the room, its own
   * publisher's included (they come back through Redis). */
  g_assert_cmpfloat (cap_test_metric (p->a,
          "stt_caption_redis_messages_total{direction=\"out\"}"), ==, 10);
  g_assert_cmpfloat (cap_test_metric (p->b,
          "stt_caption_redis_messages_total{direction=\"out\"}"), ==, 4);
  g_assert_cmpfloat (cap_test_metric (p->b,
          "stt_caption_redis_messages_total{direction=\"in\"}"), ==, 14);
  g_assert_cmpfloat (cap_test_metric (p->a, "stt_caption_redis_up"), ==, 1);
  g_assert_cmpfloat (cap_test_metric (p->a,
          "stt_caption_redis_unshared_total"), ==, 0);
  g_assert_cmpfloat (cap_test_metric (p->b,
          "stt_caption_redis_missed_total"), ==, 0);

  cap_test_client_free (late);
  cap_test_client_free (pa);
  cap_test_client_free (pb);
  cap_test_client_free (va);
  cap_test_client_free (vb);
  pair_stop (p);
}

/* A publisher acked 1..3 on A comes back on B, which has never held the room: its
 * welcome says last_seq 3, 1..3 are duplicates, and a viewer sees 4 and 5 once. */
static void
test_publisher_moves (void)
{
  Pair *p = pair_start ();
  CapTestClient *va, *vb, *pub;
  gint64 seq;

  if (!p)
    return;
  va = cap_test_open_viewer (p->a, "moving", "", 0);
  pub = cap_test_open_publisher (p->a, "moving", "cam", 0);
  cap_test_publish_range (pub, 1, 3);
  cap_test_client_free (pub);

  pub = cap_test_open_publisher (p->b, "moving", "cam", 3);
  for (seq = 1; seq <= 5; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_client_send_final (pub, seq, text, seq, seq + 0.5);
  }
  for (seq = 1; seq <= 5; seq++)
    cap_test_expect_ack (pub, seq);
  for (seq = 1; seq <= 5; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_expect_final (va, seq, text);
  }
  cap_test_expect_nothing (va, 300);
  g_assert_cmpfloat (cap_test_metric (p->b,
          "stt_caption_drops_total{reason=\"duplicate\"}"), ==, 3);

  /* B caught up from Redis when the room opened: a viewer joining there gets the
   * history, ids as on A. */
  vb = cap_test_open_viewer (p->b, "moving", "", 5);
  for (seq = 1; seq <= 5; seq++) {
    g_autofree gchar *text = g_strdup_printf ("line %" G_GINT64_FORMAT, seq);

    cap_test_expect_final (vb, seq, text);
  }
  cap_test_expect_nothing (vb, 100);

  cap_test_client_free (pub);
  cap_test_client_free (va);
  cap_test_client_free (vb);
  pair_stop (p);
}

/* A revision published on A goes through Redis like a final: a viewer on B gets it
 * with A's id, B's store has it (its transcript has the revision's words in place of
 * the finals it replaced), the publisher's last_seq counts it on B, and a viewer
 * joining B from its catch-up gets the history without the replaced finals. */
static void
test_revision (void)
{
  Pair *p = pair_start ();
  CapTestClient *vb, *pub, *late;
  g_autofree gchar *vtt = NULL;
  g_autoptr (JsonObject) rev = NULL;

  if (!p)
    return;
  vb = cap_test_open_viewer (p->b, "revised", "", 0);
  pub = cap_test_open_publisher (p->a, "revised", "cam", 0);
  cap_test_publish_range (pub, 1, 3);
  cap_test_client_send_revision (pub, 4, 2, 3, "two 2 2.4");
  cap_test_expect_ack (pub, 4);
  cap_test_client_free (pub);

  cap_test_expect_final (vb, 1, "line 1");
  cap_test_expect_final (vb, 2, "line 2");
  cap_test_expect_final (vb, 3, "line 3");
  rev = cap_test_expect (vb, "revision");
  g_assert_cmpint (json_object_get_int_member (rev, "id"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (rev, "seq"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (rev, "publisher"), ==, "cam");
  g_assert_cmpstr (json_object_get_string_member (rev, "text"), ==, "two");

  vtt = cap_test_transcript (p->b, "revised", "vtt");
  g_assert_cmpstr (vtt, ==, "WEBVTT\n\n"
      "1\n00:00:01.000 --> 00:00:01.500\nline 1\n\n"
      "2\n00:00:02.000 --> 00:00:02.400\ntwo\n\n"
      "3\n00:00:03.000 --> 00:00:03.500\nline 3\n\n");
  pub = cap_test_open_publisher (p->b, "revised", "cam", 4);
  late = cap_test_open_viewer (p->b, "revised", "", 4);
  cap_test_expect_final (late, 1, "line 1");
  cap_test_expect_final (late, 3, "line 3");
  g_clear_pointer (&rev, json_object_unref);
  rev = cap_test_expect (late, "revision");
  g_assert_cmpint (json_object_get_int_member (rev, "id"), ==, 4);

  cap_test_client_free (late);
  cap_test_client_free (pub);
  cap_test_client_free (vb);
  pair_stop (p);
}

/* The publishers' seqs are kept apart from the history: with the room's stream
 * gone (trimmed, or deleted as here), a publisher moving to B still gets last_seq 3,
 * and B counts the ids it never got. */
static void
test_seq_without_history (void)
{
  const gchar *del[] = { "DEL", "stt-caption:{bare}:finals", NULL };
  Pair *p = pair_start ();
  CapTestClient *va, *vb, *pub;
  g_autofree gchar *deleted = NULL;

  if (!p)
    return;
  va = cap_test_open_viewer (p->a, "bare", "", 0);
  pub = cap_test_open_publisher (p->a, "bare", "cam", 0);
  cap_test_publish_range (pub, 1, 3);
  cap_test_client_free (pub);
  deleted = cap_test_redis_call (p->redis, del);
  g_assert_cmpstr (deleted, ==, ":1");

  /* B opens the room now: nothing to catch up on, but the seqs and the last id. */
  pub = cap_test_open_publisher (p->b, "bare", "cam", 3);
  cap_test_publish_range (pub, 4, 4);
  vb = cap_test_open_viewer (p->b, "bare", "", 4);
  cap_test_expect_final (vb, 4, "line 4");
  cap_test_expect_nothing (vb, 100);
  g_assert_cmpfloat (cap_test_metric (p->b, "stt_caption_redis_missed_total"),
      ==, 3);
  cap_test_expect_final (va, 1, "line 1");
  cap_test_expect_final (va, 2, "line 2");
  cap_test_expect_final (va, 3, "line 3");
  cap_test_expect_final (va, 4, "line 4");

  cap_test_client_free (pub);
  cap_test_client_free (va);
  cap_test_client_free (vb);
  pair_stop (p);
}

/* redis-server is killed and started again (empty): both servers log the loss and
 * reconnect; meanwhile A's room runs alone (its final stays on A, counted), and
 * after, captions from either server reach viewers on both with the same ids. */
static void
test_redis_restart (void)
{
  const gchar *down[] = { "\"event\":\"redis\"", "\"level\":\"warning\"",
    "\"state\":\"down\"", NULL
  };
  const gchar *up_again[] = { "\"event\":\"redis\"", "\"state\":\"up\"",
    "\"reconnects\":1", NULL
  };
  const gchar *unshared[] = { "\"event\":\"redis_unshared\"",
    "\"room\":\"live\"", "\"id\":3", NULL
  };
  const gchar *missed[] = { "\"event\":\"redis_missed\"",
    "\"level\":\"warning\"", "\"room\":\"live\"", "\"from\":3",
    "\"to\":3", NULL
  };
  Pair *p = pair_start ();
  CapTestClient *va, *vb, *pa, *pb;
  g_autoptr (JsonObject) i = NULL;
  g_autofree gchar *fa = NULL, *fb = NULL;
  gint64 id_a, id_b;

  if (!p)
    return;
  va = cap_test_open_viewer (p->a, "live", "", 0);
  vb = cap_test_open_viewer (p->b, "live", "", 0);
  pa = cap_test_open_publisher (p->a, "live", "cam-a", 0);
  cap_test_publish_range (pa, 1, 2);
  cap_test_expect_final (va, 1, "line 1");
  cap_test_expect_final (vb, 1, "line 1");
  cap_test_expect_final (va, 2, "line 2");
  cap_test_expect_final (vb, 2, "line 2");

  cap_test_redis_kill (p->redis);
  wait_log (p->a, down);
  wait_log (p->b, down);
  g_assert_cmpfloat (cap_test_metric (p->a, "stt_caption_redis_up"), ==, 0);
  {
    g_autofree gchar *state = redis_state (p->b);

    g_assert_true (g_strcmp0 (state, "down") == 0 ||
        g_strcmp0 (state, "connecting") == 0);
  }

  /* Alone, A goes on: its viewer gets the final (numbered by A's store) and the
   * publisher its ack; B's viewer does not get it, and A counts and logs it. */
  cap_test_publish_range (pa, 3, 3);
  cap_test_expect_final (va, 3, "line 3");
  cap_test_expect_nothing (vb, 300);
  g_assert_cmpfloat (cap_test_metric (p->a,
          "stt_caption_redis_unshared_total"), ==, 1);
  wait_log (p->a, unshared);

  cap_test_redis_restart (p->redis);
  wait_redis_state (p->a, "up");
  wait_redis_state (p->b, "up");
  wait_log (p->a, up_again);
  wait_log (p->b, up_again);
  g_assert_cmpfloat (cap_test_metric (p->a,
          "stt_caption_redis_reconnects_total"), ==, 1);
  g_assert_cmpfloat (cap_test_metric (p->b,
          "stt_caption_redis_reconnects_total"), ==, 1);

  /* Redis came back empty; the servers told it the room's last id and seqs again.
   * The next final is 4 on both (B never gets A's 3, and counts it). */
  cap_test_publish_range (pa, 4, 4);
  cap_test_expect_final (va, 4, "line 4");
  cap_test_expect_final (vb, 4, "line 4");
  g_assert_cmpfloat (cap_test_metric (p->b, "stt_caption_redis_missed_total"),
      ==, 1);
  wait_log (p->b, missed);

  /* From B too, interim and final. A publisher moving to B keeps its seqs. */
  pb = cap_test_open_publisher (p->b, "live", "cam-a", 4);
  cap_test_client_send (pb, "{\"type\":\"caption\",\"final\":false,"
      "\"text\":\"five\"}");
  i = cap_test_expect (va, "interim");
  g_assert_cmpstr (json_object_get_string_member (i, "text"), ==, "five");
  g_clear_pointer (&i, json_object_unref);
  i = cap_test_expect (vb, "interim");
  cap_test_publish_range (pb, 5, 5);
  fa = next_final (va, &id_a);
  fb = next_final (vb, &id_b);
  g_assert_cmpint (id_a, ==, 5);
  g_assert_cmpint (id_b, ==, 5);
  g_assert_cmpstr (fa, ==, "cam-a/5");
  g_assert_cmpstr (fb, ==, fa);
  cap_test_expect_nothing (va, 200);
  cap_test_expect_nothing (vb, 0);

  cap_test_client_free (pa);
  cap_test_client_free (pb);
  cap_test_client_free (va);
  cap_test_client_free (vb);
  pair_stop (p);
}

/* Drops @s's two connections to Redis (named stt-caption-server:PID): only @s is
 * cut off, for the second it takes to reconnect. */
static void
cut_off (CapTestRedis * r, CapTestServer * s)
{
  const gchar *list[] = { "CLIENT", "LIST", NULL };
  g_autofree gchar *clients = cap_test_redis_call (r, list);
  g_autofree gchar *name = g_strdup_printf (" name=stt-caption-server:%s ",
      g_subprocess_get_identifier (s->proc));
  g_auto (GStrv) lines = g_strsplit (clients, "\n", -1);
  guint i, found = 0, killed = 0;

  for (i = 0; lines[i]; i++) {
    g_autofree gchar *id = NULL;
    g_autofree gchar *reply = NULL;
    const gchar *kill[] = { "CLIENT", "KILL", "ID", NULL, NULL };

    if (!strstr (lines[i], name) || !g_str_has_prefix (lines[i], "id="))
      continue;
    id = g_strndup (lines[i] + 3, strcspn (lines[i] + 3, " "));
    kill[3] = id;
    reply = cap_test_redis_call (r, kill);
    found++;
    /* The second may be gone already: losing one, the server drops both. */
    if (g_strcmp0 (reply, ":1") == 0)
      killed++;
  }
  g_assert_cmpuint (found, ==, 2);
  g_assert_cmpuint (killed, >=, 1);
}

/* Only A loses Redis, for a second: a final published on A meanwhile gets id 3 from
 * A's store, one published on B gets id 3 from Redis. Each server's viewers keep
 * their own 3; A logs and counts B's as missed when it comes back; from the next
 * final on, the ids agree. */
static void
test_cut_off (void)
{
  const gchar *down[] = { "\"event\":\"redis\"", "\"state\":\"down\"",
    NULL
  };
  const gchar *up_again[] = { "\"event\":\"redis\"", "\"state\":\"up\"",
    "\"reconnects\":1", NULL
  };
  const gchar *missed[] = { "\"event\":\"redis_missed\"",
    "\"room\":\"split\"", "\"from\":3", "\"to\":3",
    "\"reason\":\"id given here while redis was down\"", NULL
  };
  Pair *p = pair_start ();
  CapTestClient *va, *vb, *pa, *pb;
  g_autoptr (JsonObject) f = NULL;

  if (!p)
    return;
  va = cap_test_open_viewer (p->a, "split", "", 0);
  vb = cap_test_open_viewer (p->b, "split", "", 0);
  pa = cap_test_open_publisher (p->a, "split", "cam-a", 0);
  pb = cap_test_open_publisher (p->b, "split", "cam-b", 0);
  cap_test_publish_range (pa, 1, 2);
  cap_test_expect_final (va, 1, "line 1");
  cap_test_expect_final (va, 2, "line 2");
  cap_test_expect_final (vb, 1, "line 1");
  cap_test_expect_final (vb, 2, "line 2");

  cut_off (p->redis, p->a);
  wait_log (p->a, down);
  cap_test_publish_range (pa, 3, 3);
  cap_test_publish_range (pb, 1, 1);
  cap_test_expect_final (va, 3, "line 3");
  f = cap_test_expect (vb, "final");
  g_assert_cmpint (json_object_get_int_member (f, "id"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (f, "publisher"), ==,
      "cam-b");

  wait_log (p->a, up_again);
  wait_log (p->a, missed);
  g_assert_cmpfloat (cap_test_metric (p->a, "stt_caption_redis_missed_total"),
      ==, 1);
  g_assert_cmpfloat (cap_test_metric (p->a,
          "stt_caption_redis_unshared_total"), ==, 1);
  g_assert_cmpfloat (cap_test_metric (p->b,
          "stt_caption_redis_reconnects_total"), ==, 0);

  cap_test_publish_range (pa, 4, 4);
  cap_test_expect_final (va, 4, "line 4");
  cap_test_expect_final (vb, 4, "line 4");
  cap_test_expect_nothing (va, 200);
  cap_test_expect_nothing (vb, 0);

  cap_test_client_free (pa);
  cap_test_client_free (pb);
  cap_test_client_free (va);
  cap_test_client_free (vb);
  pair_stop (p);
}

/* --redis takes redis://HOST[:PORT] only, and never echoes a password. Without
 * hiredis it says the server was built without it. */
static void
test_bad_url (void)
{
  const gchar *urls[] = { "http://127.0.0.1:6379", "redis://",
    "redis://127.0.0.1:6379/2", "redis://:hunter2@127.0.0.1:6379",
  };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("stt-redis-url-XXXXXX", &error);
  g_autofree gchar *secret = g_build_filename (dir, "secret", NULL);
  guint i;

  g_assert_no_error (error);
  g_file_set_contents (secret, "s3cret-for-url-test", -1, &error);
  g_assert_no_error (error);
  for (i = 0; i < G_N_ELEMENTS (urls); i++) {
    const gchar *argv[] = { g_getenv ("STT_CAPTION_SERVER"), "--secret-file",
      secret, "--port", "0", "--redis", urls[i], NULL
    };
    g_autofree gchar *out = NULL, *err = NULL;
    gint wait_status;

    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL,
            G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &wait_status, &error));
    g_assert_no_error (error);
    g_assert_false (g_spawn_check_wait_status (wait_status, &error));
    g_assert_error (error, G_SPAWN_EXIT_ERROR, 2);
    g_clear_error (&error);
    g_assert_cmpstr (out, ==, "");
    g_assert_nonnull (strstr (err, "--redis"));
    g_assert_null (strstr (err, "hunter2"));
    if (!server_built_with_redis ())
      g_assert_nonnull (strstr (err, "built without hiredis"));
  }
  g_unlink (secret);
  g_rmdir (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/caption-redis/fan-out", test_fan_out);
  g_test_add_func ("/caption-redis/publisher-moves", test_publisher_moves);
  g_test_add_func ("/caption-redis/revision", test_revision);
  g_test_add_func ("/caption-redis/seq-without-history",
      test_seq_without_history);
  g_test_add_func ("/caption-redis/redis-restart", test_redis_restart);
  g_test_add_func ("/caption-redis/cut-off", test_cut_off);
  g_test_add_func ("/caption-redis/bad-url", test_bad_url);
  return g_test_run ();
}
