/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-captions: K viewers in one room of stt-caption-server (README.md, "Caption
 * fan-out"; issue 14).
 *
 * For each K of --viewers: a fresh stt-caption-server (port 0, a temporary store, the
 * room "bench" public, --max-per-ip raised above K since every client is 127.0.0.1),
 * then --procs client processes (this program again, in its viewers mode), each holding
 * its share of the K viewer WebSockets on one thread: raw sockets doing the upgrade and
 * reading frames with epoll (--client raw, the default) or libsoup on one GMainContext
 * (--client soup). When every viewer has its welcome, a publisher (this process,
 * libsoup) sends --rate finals a second for --duration seconds. Each final's text
 * carries its send time (CLOCK_MONOTONIC, one clock for every process of the machine)
 * and its number, so a viewer takes the latency of each final it receives and counts
 * the ones it missed. Reported per K: join time; fan-out latency p50/p99/max over every
 * (viewer, final) pair; finals lost; the server's RSS before the viewers, after they
 * joined and after the window (and per viewer); its CPU over the window from
 * /proc/PID/stat (percent of one core); the client processes' CPU over the same window;
 * the server's own fan-out histogram (/metrics: a final's arrival to its frame queued
 * to every viewer).
 *
 * Then the zombie run (--zombies Z; 0 for none): --zombie-viewers live viewers and
 * finals of --zombie-bytes, once without and once with Z zombies (raw connections that
 * do the upgrade, read their welcome and never read again), with --zombie-queue as the
 * server's --max-queue in both. Reported: the live viewers' latency in both runs and
 * the ratio, the server's RSS growth over the window against --max-queue x Z, and how
 * the zombies ended, as the server counts it (4010 in /metrics) and as their sockets
 * show it (drained after the window: a close frame, EOF, a reset, or still open).
 *
 * Everything is on 127.0.0.1. Every process started here dies with this one
 * (PR_SET_PDEATHSIG) and is stopped at the end of its run; every wait is bounded.
 * Prints figures, asserts nothing about speed.
 */
#define _GNU_SOURCE             /* memmem */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "bench-common.h"

#define ROOM "bench"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static const gchar *
server_path (void)
{
  return g_getenv ("BENCH_CAPTION_SERVER") ? g_getenv ("BENCH_CAPTION_SERVER") :
      CAPTION_SERVER_PATH;
}

static void
raise_fd_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
  }
}

static guint64
fd_limit (void)
{
  struct rlimit rl;

  return getrlimit (RLIMIT_NOFILE, &rl) == 0 ? (guint64) rl.rlim_cur : 1024;
}

/* ====================================================================================
 * What a viewer makes of a text message (both client kinds)
 * ==================================================================================== */

typedef struct
{
  gboolean welcomed;
  gint64 last_seq;
  guint64 finals, dups, gaps;
} Tally;

typedef enum
{
  TEXT_OTHER,
  TEXT_WELCOME,
  TEXT_FINAL,
} TextKind;

static gint64
parse_digits (const gchar * p, const gchar * end, const gchar ** after)
{
  gint64 v = 0;
  gboolean any = FALSE;

  for (; p < end && g_ascii_isdigit (*p) && v < G_MAXINT64 / 10 - 10; p++) {
    v = v * 10 + (*p - '0');
    any = TRUE;
  }
  *after = p;
  return any ? v : -1;
}

/* A final's text starts "t=SEND_TIME_US n=SEQ ". (seq, latency in microseconds) pairs
 * go to @lat when it is not NULL. */
static TextKind
on_text (Tally * t, GArray * lat, const guint8 * data, gsize len)
{
  static const gchar welcome[] = "{\"type\":\"welcome\"";
  static const gchar final[] = "{\"type\":\"final\"";
  static const gchar marker[] = "\"text\":\"t=";
  const gchar *s = (const gchar *) data, *end = s + len, *p;
  gint64 now = g_get_monotonic_time (), sent, seq;

  if (len >= sizeof (welcome) - 1 && memcmp (s, welcome, sizeof (welcome) - 1) == 0) {
    t->welcomed = TRUE;
    return TEXT_WELCOME;
  }
  if (len < sizeof (final) - 1 || memcmp (s, final, sizeof (final) - 1) != 0)
    return TEXT_OTHER;
  p = memmem (s, len, marker, sizeof (marker) - 1);
  if (!p)
    return TEXT_OTHER;
  sent = parse_digits (p + sizeof (marker) - 1, end, &p);
  if (sent < 0 || end - p < 3 || memcmp (p, " n=", 3) != 0)
    return TEXT_OTHER;
  seq = parse_digits (p + 3, end, &p);
  if (seq <= 0)
    return TEXT_OTHER;
  if (seq <= t->last_seq) {
    t->dups++;
    return TEXT_FINAL;
  }
  t->gaps += seq - t->last_seq - 1;
  t->last_seq = seq;
  t->finals++;
  if (lat) {
    gint32 pair[2] = { (gint32) seq, (gint32) CLAMP (now - sent, 0, G_MAXINT32) };

    g_array_append_vals (lat, pair, 2);
  }
  return TEXT_FINAL;
}

/* ====================================================================================
 * Viewers mode: one client process holding --count viewers (or zombies)
 * ==================================================================================== */

typedef struct _Viewers Viewers;

typedef enum
{
  ST_CONNECTING,
  ST_UPGRADING,
  ST_OPEN,
  ST_PARKED,                    /* a zombie after its welcome: not read */
  ST_DONE,
} ConnState;

typedef enum
{
  END_NONE,
  END_CLOSE,                    /* a close frame from the server */
  END_EOF,
  END_RESET,
  END_ERROR,
} ConnEnd;

typedef struct
{
  Viewers *v;
  int fd;
  ConnState state;
  guint32 events;               /* registered with epoll; 0 when not */
  GByteArray *in, *out;
  gchar accept[32];             /* the Sec-WebSocket-Accept we expect */
  Tally tally;
  gint close_code;
  ConnEnd end;
  guint64 drained;              /* zombies: bytes read once the window was over */
  SoupWebsocketConnection *ws;  /* --client soup */
} Conn;

struct _Viewers
{
  gboolean zombie, soup;
  guint count, pace, port;
  const gchar *out_path;
  Conn *conns;
  guint started, in_flight, welcomed, failed;
  gboolean said_joined;
  GArray *lat;                  /* gint32 (seq, microseconds), every final of every viewer */
  int ep;
  gdouble cpu0, t0;
  gboolean draining;
  gint64 drain_until;
  SoupSession *session;
  gchar *url;
  GString *cmd;
};

static void viewers_start_more (Viewers * v);

static void
viewers_check_joined (Viewers * v)
{
  if (!v->said_joined && v->welcomed + v->failed == v->count) {
    v->said_joined = TRUE;
    printf ("joined %u %u\n", v->welcomed, v->failed);
    fflush (stdout);
  }
}

static void
conn_set_events (Conn * c, guint32 events)
{
  struct epoll_event ev = { 0 };
  int op;

  if (events == c->events)
    return;
  ev.events = events;
  ev.data.ptr = c;
  op = c->events == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl (c->v->ep, op, c->fd, &ev) < 0)
    g_error ("epoll_ctl: %s", g_strerror (errno));
  c->events = events;
}

static void
conn_update_events (Conn * c)
{
  guint32 ev = 0;

  if (c->state == ST_DONE)
    return;
  if (c->state == ST_CONNECTING) {
    ev = EPOLLOUT;
  } else {
    if (c->state != ST_PARKED || c->v->draining)
      ev |= EPOLLIN;
    if (c->out->len)
      ev |= EPOLLOUT;
  }
  conn_set_events (c, ev);
}

static void
conn_end (Conn * c, ConnEnd end)
{
  Viewers *v = c->v;

  if (c->state == ST_DONE)
    return;
  if (!c->tally.welcomed) {
    v->failed++;
    v->in_flight--;
  }
  if (c->end == END_NONE)
    c->end = end;
  if (c->fd >= 0) {
    conn_set_events (c, 0);
    close (c->fd);
  }
  c->fd = -1;
  c->state = ST_DONE;
  if (!c->tally.welcomed) {
    viewers_start_more (v);
    viewers_check_joined (v);
  }
}

static void
conn_flush (Conn * c)
{
  while (c->out->len > 0) {
    ssize_t n = send (c->fd, c->out->data, c->out->len, MSG_NOSIGNAL);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      conn_end (c, errno == ECONNRESET || errno == EPIPE ? END_RESET : END_ERROR);
      return;
    }
    g_byte_array_remove_range (c->out, 0, (guint) n);
  }
  conn_update_events (c);
}

/* A masked client frame (control frames only here: at most 125 bytes). */
static void
conn_send_frame (Conn * c, guint8 opcode, const guint8 * payload, gsize len)
{
  guint8 hdr[6];
  guint32 mask = g_random_int ();
  gsize i, at;

  len = MIN (len, 125);
  hdr[0] = 0x80 | opcode;
  hdr[1] = 0x80 | (guint8) len;
  memcpy (hdr + 2, &mask, 4);
  g_byte_array_append (c->out, hdr, 6);
  at = c->out->len;
  g_byte_array_append (c->out, payload, (guint) len);
  for (i = 0; i < len; i++)
    c->out->data[at + i] ^= hdr[2 + i % 4];
  conn_flush (c);
}

static void
viewer_welcomed (Viewers * v, Conn * c)
{
  v->welcomed++;
  v->in_flight--;
  if (v->zombie) {
    /* From now on nobody reads this socket. */
    c->state = ST_PARKED;
    conn_update_events (c);
  }
  viewers_start_more (v);
  viewers_check_joined (v);
}

/* Takes the complete frames off c->in. */
static void
conn_frames (Conn * c)
{
  Viewers *v = c->v;
  gsize pos = 0;

  while (c->state == ST_OPEN || (c->state == ST_PARKED && v->draining)) {
    const guint8 *d = c->in->data + pos, *payload;
    gsize avail = c->in->len - pos, hdr = 2, i;
    guint64 len;
    guint8 op;

    if (avail < 2)
      break;
    op = d[0] & 0x0f;
    len = d[1] & 0x7f;
    if (d[1] & 0x80) {
      /* A server never masks. */
      conn_end (c, END_ERROR);
      break;
    }
    if (len == 126) {
      if (avail < 4)
        break;
      len = ((guint64) d[2] << 8) | d[3];
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10)
        break;
      for (len = 0, i = 0; i < 8; i++)
        len = (len << 8) | d[2 + i];
      hdr = 10;
    }
    if (avail - hdr < len)
      break;
    pos += hdr + len;
    payload = d + hdr;
    switch (op) {
      case 0x1:
        if (on_text (&c->tally, v->zombie ? NULL : v->lat, payload, len) == TEXT_WELCOME)
          viewer_welcomed (v, c);
        break;
      case 0x8:
        c->close_code = len >= 2 ? (payload[0] << 8) | payload[1] : 1005;
        c->end = END_CLOSE;
        conn_send_frame (c, 0x8, payload, MIN (len, 2));
        conn_end (c, END_CLOSE);
        break;
      case 0x9:
        conn_send_frame (c, 0xA, payload, len);
        break;
      default:
        break;
    }
  }
  if (pos)
    g_byte_array_remove_range (c->in, 0, (guint) pos);
}

static void
conn_upgrade (Conn * c)
{
  static const gchar name[] = "\r\nsec-websocket-accept:";
  const guint8 *end = memmem (c->in->data, c->in->len, "\r\n\r\n", 4);
  g_autofree gchar *lower = NULL;
  const gchar *h, *val;
  gsize hlen;
  gboolean ok;

  if (!end) {
    if (c->in->len > 16384)
      conn_end (c, END_ERROR);
    return;
  }
  hlen = end - c->in->data + 4;
  lower = g_ascii_strdown ((const gchar *) c->in->data, hlen);
  h = strstr (lower, name);
  ok = g_str_has_prefix (lower, "http/1.1 101 ") && h;
  if (ok) {
    val = (const gchar *) c->in->data + (h - lower) + strlen (name);
    while (*val == ' ')
      val++;
    ok = strncmp (val, c->accept, 28) == 0;
  }
  if (!ok) {
    g_printerr ("upgrade refused: %.*s\n", (int) MIN (hlen, 200), lower);
    conn_end (c, END_ERROR);
    return;
  }
  g_byte_array_remove_range (c->in, 0, (guint) hlen);
  c->state = ST_OPEN;
  conn_update_events (c);
}

static void
conn_read (Conn * c)
{
  static guint8 buf[65536];
  Viewers *v = c->v;
  guint i;

  for (i = 0; i < 16; i++) {
    ssize_t n = recv (c->fd, buf, sizeof (buf), 0);

    if (n > 0) {
      if (c->state == ST_PARKED)
        c->drained += n;
      g_byte_array_append (c->in, buf, (guint) n);
      if (c->state == ST_UPGRADING)
        conn_upgrade (c);
      conn_frames (c);
      if (c->state == ST_DONE || (c->state == ST_PARKED && !v->draining) ||
          (gsize) n < sizeof (buf))
        return;
      continue;
    }
    if (n == 0) {
      conn_end (c, END_EOF);
      return;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      conn_end (c, errno == ECONNRESET ? END_RESET : END_ERROR);
    return;
  }
}

static void
conn_event (Conn * c, guint32 events)
{
  if (c->state == ST_DONE)
    return;
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t l = sizeof (err);

    getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
      conn_end (c, END_ERROR);
      return;
    }
    c->state = ST_UPGRADING;
    conn_flush (c);
    return;
  }
  if (events & EPOLLOUT) {
    conn_flush (c);
    if (c->state == ST_DONE)
      return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
    conn_read (c);
}

static void
conn_start_raw (Viewers * v, Conn * c)
{
  struct sockaddr_in sa;
  guint8 nonce[16], digest[20];
  gsize dlen = sizeof (digest), i;
  g_autofree gchar *key = NULL, *accept = NULL, *req = NULL;
  GChecksum *sum;

  for (i = 0; i < sizeof (nonce); i++)
    nonce[i] = (guint8) g_random_int_range (0, 256);
  key = g_base64_encode (nonce, sizeof (nonce));
  sum = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sum, (const guchar *) key, -1);
  g_checksum_update (sum, (const guchar *) WS_GUID, -1);
  g_checksum_get_digest (sum, digest, &dlen);
  g_checksum_free (sum);
  accept = g_base64_encode (digest, dlen);
  g_strlcpy (c->accept, accept, sizeof (c->accept));
  req = g_strdup_printf ("GET /watch/" ROOM " HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", v->port, key);
  g_byte_array_append (c->out, (const guint8 *) req, (guint) strlen (req));

  c->state = ST_CONNECTING;
  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    g_printerr ("socket: %s\n", g_strerror (errno));
    conn_end (c, END_ERROR);
    return;
  }
  memset (&sa, 0, sizeof (sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((guint16) v->port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (c->fd, (struct sockaddr *) &sa, sizeof (sa)) < 0 && errno != EINPROGRESS) {
    g_printerr ("connect: %s\n", g_strerror (errno));
    conn_end (c, END_ERROR);
    return;
  }
  conn_update_events (c);
}

/* ---- --client soup ----------------------------------------------------------------- */

static void
soup_on_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    gpointer user_data)
{
  Conn *c = user_data;
  gsize len;
  const guint8 *d = g_bytes_get_data (message, &len);

  if (type == SOUP_WEBSOCKET_DATA_TEXT &&
      on_text (&c->tally, c->v->lat, d, len) == TEXT_WELCOME)
    viewer_welcomed (c->v, c);
}

static void
soup_on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  Conn *c = user_data;
  Viewers *v = c->v;

  c->close_code = soup_websocket_connection_get_close_code (ws);
  c->end = c->close_code ? END_CLOSE : END_EOF;
  c->state = ST_DONE;
  if (!c->tally.welcomed) {
    v->failed++;
    v->in_flight--;
    viewers_start_more (v);
    viewers_check_joined (v);
  }
}

static void
soup_on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Conn *c = user_data;
  Viewers *v = c->v;
  g_autoptr (GError) error = NULL;

  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (!c->ws) {
    g_printerr ("websocket: %s\n", error->message);
    c->state = ST_DONE;
    c->end = END_ERROR;
    v->failed++;
    v->in_flight--;
    viewers_start_more (v);
    viewers_check_joined (v);
    return;
  }
  c->state = ST_OPEN;
  g_signal_connect (c->ws, "message", G_CALLBACK (soup_on_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (soup_on_closed), c);
}

static void
conn_start_soup (Viewers * v, Conn * c)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", v->url);

  c->state = ST_CONNECTING;
  soup_session_websocket_connect_async (v->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
      NULL, soup_on_connected, c);
}

/* ---- both -------------------------------------------------------------------------- */

/* At most --pace handshakes at once: the server's accept backlog is 128. */
static void
viewers_start_more (Viewers * v)
{
  while (v->in_flight < v->pace && v->started < v->count) {
    Conn *c = &v->conns[v->started++];

    v->in_flight++;
    if (v->soup)
      conn_start_soup (v, c);
    else
      conn_start_raw (v, c);
  }
}

static void G_GNUC_NORETURN
viewers_finish (Viewers * v)
{
  gdouble cpu = bench_cpu_seconds () - v->cpu0, secs = bench_now () - v->t0;
  guint64 finals = 0, dups = 0, gaps = 0, drained = 0;
  guint ended = 0, c4010 = 0, cother = 0, eof = 0, reset = 0, err = 0, open = 0, i;
  g_autoptr (GError) error = NULL;

  for (i = 0; i < v->started; i++) {
    Conn *c = &v->conns[i];

    if (!c->tally.welcomed)
      continue;
    finals += c->tally.finals;
    dups += c->tally.dups;
    gaps += c->tally.gaps;
    drained += c->drained;
    switch (c->end) {
      case END_NONE:
        open++;
        break;
      case END_CLOSE:
        if (c->close_code == 4010)
          c4010++;
        else
          cother++;
        break;
      case END_EOF:
        eof++;
        break;
      case END_RESET:
        reset++;
        break;
      case END_ERROR:
        err++;
        break;
    }
    ended += c->end != END_NONE;
  }
  if (v->out_path && !g_file_set_contents (v->out_path, (const gchar *) v->lat->data,
          (gssize) v->lat->len * sizeof (gint32), &error))
    g_printerr ("%s\n", error->message);
  printf ("result conns=%u welcomed=%u failed=%u finals=%" G_GUINT64_FORMAT " dups=%"
      G_GUINT64_FORMAT " gaps=%" G_GUINT64_FORMAT " ended=%u close4010=%u closeother=%u "
      "eof=%u reset=%u error=%u open=%u drained=%" G_GUINT64_FORMAT " cpu=%.3f secs=%.3f\n",
      v->count, v->welcomed, v->failed, finals, dups, gaps, ended, c4010, cother, eof,
      reset, err, open, drained, cpu, secs);
  fflush (stdout);
  _exit (0);
}

static void
viewers_command (Viewers * v, const gchar * line)
{
  guint i;

  if (g_str_equal (line, "start")) {
    v->cpu0 = bench_cpu_seconds ();
    v->t0 = bench_now ();
  } else if (g_str_equal (line, "stop")) {
    if (!v->zombie || v->soup)
      viewers_finish (v);
    /* Zombies: read what the server left in their sockets, for up to 1.5 s. */
    v->draining = TRUE;
    v->drain_until = g_get_monotonic_time () + 1500 * 1000;
    for (i = 0; i < v->started; i++) {
      Conn *c = &v->conns[i];

      if (c->state == ST_PARKED) {
        conn_frames (c);
        conn_update_events (c);
      }
    }
  }
}

/* FALSE once our parent has gone. */
static gboolean
viewers_read_commands (Viewers * v)
{
  gchar buf[256], *nl;
  ssize_t n = read (0, buf, sizeof (buf));

  if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
    return FALSE;
  if (n > 0)
    g_string_append_len (v->cmd, buf, n);
  while ((nl = memchr (v->cmd->str, '\n', v->cmd->len))) {
    *nl = '\0';
    viewers_command (v, v->cmd->str);
    g_string_erase (v->cmd, 0, nl - v->cmd->str + 1);
  }
  return TRUE;
}

static gboolean
soup_on_stdin (gint fd, GIOCondition cond, gpointer user_data)
{
  if (!viewers_read_commands (user_data))
    _exit (3);
  return G_SOURCE_CONTINUE;
}

static int
viewers_main (gboolean zombie, gboolean soup, guint port, guint count, guint pace,
    const gchar * out_path)
{
  Viewers v = { 0 };
  struct epoll_event evs[256], ev = { 0 };

  raise_fd_limit ();
  if (fd_limit () < count + 32) {
    g_printerr ("fd limit %" G_GUINT64_FORMAT " is too low for %u connections\n",
        fd_limit (), count);
    return 1;
  }
  v.zombie = zombie;
  v.soup = soup && !zombie;
  v.port = port;
  v.count = count;
  v.pace = MAX (pace, 1);
  v.out_path = out_path;
  v.conns = g_new0 (Conn, count);
  v.lat = g_array_sized_new (FALSE, FALSE, sizeof (gint32), count * 256);
  v.cmd = g_string_new (NULL);
  for (guint i = 0; i < count; i++) {
    v.conns[i].v = &v;
    v.conns[i].fd = -1;
    v.conns[i].in = g_byte_array_new ();
    v.conns[i].out = g_byte_array_new ();
  }

  if (v.soup) {
    GMainLoop *loop = g_main_loop_new (NULL, FALSE);

    v.url = g_strdup_printf ("ws://127.0.0.1:%u/watch/" ROOM, port);
    v.session = soup_session_new_with_options ("max-conns", v.pace * 2 + 8,
        "max-conns-per-host", v.pace * 2 + 8, NULL);
    g_unix_fd_add (0, G_IO_IN | G_IO_HUP | G_IO_ERR, soup_on_stdin, &v);
    viewers_start_more (&v);
    g_main_loop_run (loop);
    return 0;
  }

  v.ep = epoll_create1 (EPOLL_CLOEXEC);
  if (v.ep < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  epoll_ctl (v.ep, EPOLL_CTL_ADD, 0, &ev);
  viewers_start_more (&v);
  viewers_check_joined (&v);
  while (TRUE) {
    int n = epoll_wait (v.ep, evs, G_N_ELEMENTS (evs), 50), i;

    if (n < 0 && errno != EINTR)
      g_error ("epoll_wait: %s", g_strerror (errno));
    for (i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        if (!viewers_read_commands (&v))
          _exit (3);
      } else {
        conn_event (evs[i].data.ptr, evs[i].events);
      }
    }
    if (v.draining && g_get_monotonic_time () >= v.drain_until)
      viewers_finish (&v);
  }
  return 0;
}

/* ====================================================================================
 * The server, the client processes and the publisher, seen from the main process
 * ==================================================================================== */

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GPid
spawn (const gchar * const *argv, int stderr_fd, int *in_fd, int *out_fd)
{
  g_autoptr (GError) error = NULL;
  GPid pid = 0;

  if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
          die_with_parent, NULL, -1, -1, stderr_fd, NULL, NULL, 0, &pid, in_fd, out_fd,
          NULL, &error)) {
    g_printerr ("cannot start %s: %s\n", argv[0], error->message);
    return 0;
  }
  return pid;
}

/* Waits up to @timeout_s for @pid, then kills it. */
static void
reap (GPid pid, gdouble timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < deadline) {
    pid_t r = waitpid (pid, NULL, WNOHANG);

    if (r == pid || (r < 0 && errno == ECHILD))
      return;
    g_usleep (20000);
  }
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
}

static guint64
proc_rss (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/statm", pid), *statm = NULL;
  guint64 size = 0, resident = 0;

  if (g_file_get_contents (path, &statm, NULL, NULL))
    sscanf (statm, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &size, &resident);
  return resident * (guint64) sysconf (_SC_PAGESIZE);
}

/* Voluntary context switches of @pid: the times its main loop slept in poll(). */
static guint64
proc_sleeps (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid), *status = NULL;
  const gchar *p;

  if (!g_file_get_contents (path, &status, NULL, NULL) ||
      !(p = strstr (status, "\nvoluntary_ctxt_switches:")))
    return 0;
  return g_ascii_strtoull (p + strlen ("\nvoluntary_ctxt_switches:"), NULL, 10);
}

/* Still running (not even a zombie: /proc says so without reaping it). */
static gboolean
alive (GPid pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid), *stat = NULL;
  const gchar *p;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || !(p = strrchr (stat, ')')))
    return FALSE;
  return p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void
rm_rf (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      g_autofree gchar *p = g_build_filename (path, name, NULL);

      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        rm_rf (p);
      else
        g_unlink (p);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

/* ---- the server -------------------------------------------------------------------- */

typedef struct
{
  GPid pid;
  int out_fd;
  guint port;
  gchar *dir;
  gchar *token;                 /* publish token */
} Server;

static gboolean opt_keep = FALSE;
static gchar **opt_server_args = NULL;

static void
server_stop (Server * s)
{
  if (!s)
    return;
  if (s->pid) {
    kill (s->pid, SIGTERM);
    reap (s->pid, 10);
  }
  if (s->out_fd >= 0)
    close (s->out_fd);
  if (opt_keep)
    printf ("# kept %s (server.log, store)\n", s->dir);
  else
    rm_rf (s->dir);
  g_free (s->dir);
  g_free (s->token);
  g_free (s);
}

static Server *
server_start (guint max_per_ip, guint max_queue)
{
  Server *s = g_new0 (Server, 1);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *secret = NULL, *store = NULL, *log = NULL, *per_ip = NULL,
      *queue = NULL, *out = NULL, *err = NULL;
  GString *line = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  const gchar *argv[64];
  guint n = 0, i;
  gint status = 0;
  int log_fd;
  const gchar *p;

  s->out_fd = -1;
  s->dir = g_dir_make_tmp ("bench-captions-XXXXXX", &error);
  if (!s->dir)
    g_error ("%s", error->message);
  secret = g_build_filename (s->dir, "secret", NULL);
  store = g_build_filename (s->dir, "store", NULL);
  log = g_build_filename (s->dir, "server.log", NULL);
  {
    g_autofree gchar *key = g_strdup_printf ("%08x%08x%08x%08x", g_random_int (),
        g_random_int (), g_random_int (), g_random_int ());

    if (!g_file_set_contents (secret, key, -1, &error))
      g_error ("%s", error->message);
  }

  /* The publisher's token. */
  argv[0] = server_path ();
  argv[1] = "--secret-file";
  argv[2] = secret;
  argv[3] = "--print-token";
  argv[4] = ROOM;
  argv[5] = "--token-role";
  argv[6] = "publish";
  argv[7] = "--token-sub";
  argv[8] = "bench";
  argv[9] = NULL;
  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
          &status, &error) || !g_spawn_check_wait_status (status, NULL)) {
    g_printerr ("%s --print-token failed: %s%s\n", server_path (),
        error ? error->message : "", err ? err : "");
    goto fail;
  }
  s->token = g_strstrip (g_strdup (out));

  per_ip = g_strdup_printf ("%u", max_per_ip);
  argv[n++] = server_path ();
  argv[n++] = "--port";
  argv[n++] = "0";
  argv[n++] = "--host";
  argv[n++] = "127.0.0.1";
  argv[n++] = "--secret-file";
  argv[n++] = secret;
  argv[n++] = "--store";
  argv[n++] = store;
  argv[n++] = "--public-room";
  argv[n++] = ROOM;
  argv[n++] = "--max-per-ip";
  argv[n++] = per_ip;
  if (max_queue) {
    queue = g_strdup_printf ("%u", max_queue);
    argv[n++] = "--max-queue";
    argv[n++] = queue;
  }
  for (i = 0; opt_server_args && opt_server_args[i] && n < G_N_ELEMENTS (argv) - 1; i++)
    argv[n++] = opt_server_args[i];
  argv[n] = NULL;
  /* Its log (a JSON line per connection) goes to a file: a pipe nobody read would stop
   * it. */
  log_fd = open (log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0)
    g_error ("%s: %s", log, g_strerror (errno));
  s->pid = spawn (argv, log_fd, NULL, &s->out_fd);
  close (log_fd);
  if (!s->pid)
    goto fail;
  while (g_get_monotonic_time () < deadline && !strchr (line->str, '\n')) {
    struct pollfd pfd = { s->out_fd, POLLIN, 0 };
    gchar c;

    if (poll (&pfd, 1, 100) > 0) {
      if (read (s->out_fd, &c, 1) != 1)
        break;
      g_string_append_c (line, c);
    }
  }
  p = strstr (line->str, "http://127.0.0.1:");
  if (!p) {
    g_printerr ("stt-caption-server did not start: '%s' (log in %s)\n", line->str, log);
    opt_keep = TRUE;
    goto fail;
  }
  s->port = (guint) atoi (p + strlen ("http://127.0.0.1:"));
  g_string_free (line, TRUE);
  return s;

fail:
  g_string_free (line, TRUE);
  server_stop (s);
  return NULL;
}

static gchar *
http_get (guint port, const gchar * path)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", 10, NULL);
  g_autofree gchar *uri = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  body = soup_session_send_and_read (session, msg, NULL, &error);
  if (!body) {
    g_printerr ("GET %s: %s\n", path, error->message);
    return g_strdup ("");
  }
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* The value of the Prometheus sample @name (with its labels), or NAN. */
static gdouble
metric (const gchar * text, const gchar * name)
{
  gsize len = strlen (name);
  const gchar *p = text;

  while ((p = strstr (p, name))) {
    if ((p == text || p[-1] == '\n') && p[len] == ' ')
      return g_ascii_strtod (p + len + 1, NULL);
    p += len;
  }
  return NAN;
}

/* ---- client processes -------------------------------------------------------------- */

typedef struct
{
  GPid pid;
  int in_fd, out_fd;
  guint watch;
  GString *buf;
  gboolean zombie;
  guint count;
  gboolean joined, eof;
  guint welcomed, failed;
  gchar *result;
  gchar *out_path;
} Child;

static void
child_line (Child * ch, const gchar * line)
{
  if (sscanf (line, "joined %u %u", &ch->welcomed, &ch->failed) == 2) {
    ch->joined = TRUE;
  } else if (g_str_has_prefix (line, "result ")) {
    g_free (ch->result);
    ch->result = g_strdup (line + strlen ("result "));
  } else {
    g_printerr ("client process %d: %s\n", ch->pid, line);
  }
}

static gboolean
on_child_out (gint fd, GIOCondition cond, gpointer user_data)
{
  Child *ch = user_data;
  gchar buf[4096], *nl;
  ssize_t n = read (fd, buf, sizeof (buf));

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    ch->eof = TRUE;
    ch->watch = 0;
    return G_SOURCE_REMOVE;
  }
  g_string_append_len (ch->buf, buf, n);
  while ((nl = memchr (ch->buf->str, '\n', ch->buf->len))) {
    *nl = '\0';
    child_line (ch, ch->buf->str);
    g_string_erase (ch->buf, 0, nl - ch->buf->str + 1);
  }
  return G_SOURCE_CONTINUE;
}

static Child *
child_start (const gchar * self, gboolean zombie, gboolean soup, guint port, guint count,
    guint pace, const gchar * dir, guint index)
{
  Child *ch = g_new0 (Child, 1);
  g_autofree gchar *port_s = g_strdup_printf ("%u", port);
  g_autofree gchar *count_s = g_strdup_printf ("%u", count);
  g_autofree gchar *pace_s = g_strdup_printf ("%u", pace);
  g_autofree gchar *name = g_strdup_printf ("lat-%u.bin", index);
  const gchar *argv[] = { self, "--role", zombie ? "zombies" : "viewers", "--port", port_s,
    "--count", count_s, "--pace", pace_s, "--client", soup ? "soup" : "raw", "--out",
    NULL, NULL
  };

  ch->zombie = zombie;
  ch->count = count;
  ch->buf = g_string_new (NULL);
  ch->out_path = g_build_filename (dir, name, NULL);
  argv[12] = ch->out_path;
  ch->in_fd = ch->out_fd = -1;
  ch->pid = spawn (argv, -1, &ch->in_fd, &ch->out_fd);
  if (ch->pid)
    ch->watch = g_unix_fd_add (ch->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_child_out,
        ch);
  return ch;
}

static void
child_send (Child * ch, const gchar * cmd)
{
  if (ch->in_fd >= 0 && write (ch->in_fd, cmd, strlen (cmd)) < 0)
    g_printerr ("client process %d: %s\n", ch->pid, g_strerror (errno));
}

static void
child_free (Child * ch)
{
  if (ch->watch)
    g_source_remove (ch->watch);
  if (ch->in_fd >= 0)
    close (ch->in_fd);
  if (ch->pid)
    reap (ch->pid, 5);
  if (ch->out_fd >= 0)
    close (ch->out_fd);
  g_string_free (ch->buf, TRUE);
  g_free (ch->result);
  g_free (ch->out_path);
  g_free (ch);
}

/* key=value from a result line; 0 when absent. */
static gdouble
result_value (const gchar * result, const gchar * key)
{
  g_autofree gchar *k = g_strdup_printf (" %s=", key);
  g_autofree gchar *padded = g_strconcat (" ", result ? result : "", NULL);
  const gchar *p = strstr (padded, k);

  return p ? g_ascii_strtod (p + strlen (k), NULL) : 0;
}

static gdouble
children_sum (GPtrArray * children, gboolean zombie, const gchar * key)
{
  gdouble sum = 0;
  guint i;

  for (i = 0; i < children->len; i++) {
    Child *ch = g_ptr_array_index (children, i);

    if (ch->zombie == zombie)
      sum += result_value (ch->result, key);
  }
  return sum;
}

static gboolean
all_joined (gpointer data)
{
  GPtrArray *children = data;
  guint i;

  for (i = 0; i < children->len; i++) {
    Child *ch = g_ptr_array_index (children, i);

    if (!ch->joined && !ch->eof)
      return FALSE;
  }
  return TRUE;
}

static gboolean
all_results (gpointer data)
{
  GPtrArray *children = data;
  guint i;

  for (i = 0; i < children->len; i++) {
    Child *ch = g_ptr_array_index (children, i);

    if (!ch->result && !ch->eof)
      return FALSE;
  }
  return TRUE;
}

/* ---- the publisher ----------------------------------------------------------------- */

typedef struct
{
  SoupSession *session;
  SoupWebsocketConnection *ws;
  gboolean welcomed, closed;
  guint n, acked;
  gint64 *sent;                 /* by seq */
  GArray *ack_ms;
  guint text_bytes;
  GString *msg;
} Publisher;

static void
pub_on_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    gpointer user_data)
{
  static const gchar ack[] = "{\"type\":\"ack\",\"seq\":";
  Publisher *p = user_data;
  gsize len;
  const gchar *s = g_bytes_get_data (message, &len);
  g_autofree gchar *text = g_strndup (s, len);

  if (g_str_has_prefix (text, "{\"type\":\"welcome\"")) {
    p->welcomed = TRUE;
  } else if (g_str_has_prefix (text, ack)) {
    gint64 seq = g_ascii_strtoll (text + strlen (ack), NULL, 10);

    if (seq >= 1 && seq <= p->n && p->sent[seq]) {
      gdouble ms = (g_get_monotonic_time () - p->sent[seq]) / 1000.0;

      g_array_append_val (p->ack_ms, ms);
      p->acked++;
    }
  }
}

static void
pub_on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  Publisher *p = user_data;

  p->closed = TRUE;
  g_printerr ("publisher closed: %u %s\n", soup_websocket_connection_get_close_code (ws),
      soup_websocket_connection_get_close_data (ws) ?
      soup_websocket_connection_get_close_data (ws) : "");
}

static void
pub_on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Publisher *p = user_data;
  g_autoptr (GError) error = NULL;

  p->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (!p->ws) {
    g_printerr ("publisher: %s\n", error->message);
    p->closed = TRUE;
    return;
  }
  g_signal_connect (p->ws, "message", G_CALLBACK (pub_on_message), p);
  g_signal_connect (p->ws, "closed", G_CALLBACK (pub_on_closed), p);
}

static Publisher *
pub_new (guint port, const gchar * token, guint n, guint text_bytes)
{
  Publisher *p = g_new0 (Publisher, 1);
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/publish/" ROOM, port);
  g_autofree gchar *auth = g_strdup_printf ("Bearer %s", token);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);

  p->n = n;
  p->sent = g_new0 (gint64, n + 1);
  p->ack_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  p->text_bytes = text_bytes;
  p->msg = g_string_new (NULL);
  p->session = soup_session_new ();
  soup_message_headers_append (soup_message_get_request_headers (msg), "Authorization",
      auth);
  soup_session_websocket_connect_async (p->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
      NULL, pub_on_connected, p);
  return p;
}

static gboolean
pub_ready (gpointer data)
{
  Publisher *p = data;

  return p->welcomed || p->closed;
}

static void
pub_send (Publisher * p, guint seq)
{
  static const gchar words[] = "and this is what the caption says in the fan-out bench ";
  gint64 now = g_get_monotonic_time ();
  gsize text_start, i = 0;

  g_string_printf (p->msg, "{\"type\":\"caption\",\"seq\":%u,\"final\":true,\"text\":\"",
      seq);
  text_start = p->msg->len;
  g_string_append_printf (p->msg, "t=%" G_GINT64_FORMAT " n=%u ", now, seq);
  while (p->msg->len - text_start < p->text_bytes)
    g_string_append_c (p->msg, words[i++ % (sizeof (words) - 1)]);
  g_string_append_printf (p->msg, "\",\"start\":%u,\"end\":%u}", seq - 1, seq);
  p->sent[seq] = now;
  soup_websocket_connection_send_text (p->ws, p->msg->str);
}

static void
pub_free (Publisher * p)
{
  if (p->ws) {
    g_signal_handlers_disconnect_by_data (p->ws, p);
    if (soup_websocket_connection_get_state (p->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (p->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_object_unref (p->ws);
  }
  g_object_unref (p->session);
  g_array_unref (p->ack_ms);
  g_string_free (p->msg, TRUE);
  g_free (p->sent);
  g_free (p);
}

/* ---- the main loop ----------------------------------------------------------------- */

static gboolean
on_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* SIGINT or SIGTERM (bench/run.sh's timeout): every wait ends, the run stops its
 * processes and removes its directory. */
static gboolean interrupted = FALSE;

static gboolean
on_signal (gpointer user_data)
{
  interrupted = TRUE;
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @until (monotonic microseconds), or until @cond is TRUE. */
static void
run_until (gint64 until, gboolean (*cond) (gpointer), gpointer data)
{
  while (!interrupted && !(cond && cond (data))) {
    gint64 now = g_get_monotonic_time ();
    gboolean fired = FALSE;
    guint id;

    if (now >= until) {
      while (g_main_context_iteration (NULL, FALSE));
      return;
    }
    id = g_timeout_add_full (G_PRIORITY_HIGH, (guint) MIN ((until - now + 999) / 1000,
            100), on_flag, &fired, NULL);
    g_main_context_iteration (NULL, TRUE);
    if (!fired)
      g_source_remove (id);
  }
}

/* ---- one run ----------------------------------------------------------------------- */

/* The server, once a second during the window. */
typedef struct
{
  GPid pid;
  guint64 rss_max;
  gdouble last_cpu;
  GArray *cpu;                  /* gdouble: percent of one core in each second */
} Sampler;

static gboolean
on_sample (gpointer user_data)
{
  Sampler *s = user_data;
  gdouble u, sy, pct;

  s->rss_max = MAX (s->rss_max, proc_rss (s->pid));
  if (bench_pid_cpu (s->pid, &u, &sy)) {
    pct = 100 * (u + sy - s->last_cpu);
    s->last_cpu = u + sy;
    g_array_append_val (s->cpu, pct);
  }
  return G_SOURCE_CONTINUE;
}

typedef struct
{
  const gchar *label;
  guint k, z, procs, pace;
  gdouble rate, duration;
  guint text_bytes, max_queue;
  gboolean soup;
} RunConfig;

typedef struct
{
  gboolean ok;
  gdouble join_s, p50, p99, max;
  guint64 pairs;
  gint64 lost;
  guint64 rss_before, rss_joined, rss_end, rss_max;
  gdouble server_cpu, clients_cpu, zombies_cpu;
} RunResult;

static const gchar *self_exe;

static gdouble
mib (guint64 bytes)
{
  return bytes / 1048576.0;
}

static gboolean
run_once (const RunConfig * cfg, RunResult * r)
{
  const gchar *l = cfg->label;
  GPtrArray *children = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  GArray *lat = g_array_new (FALSE, FALSE, sizeof (gdouble));
  guint n_finals = (guint) llround (cfg->rate * cfg->duration), sent = 0, i;
  gint64 t_spawn, t_first, period = (gint64) (G_USEC_PER_SEC / cfg->rate);
  gdouble u0 = 0, s0 = 0, u1 = 0, s1 = 0, t0, t1, welcomed = 0, failed = 0;
  g_autofree gchar *metrics = NULL;
  g_autofree gdouble *worst = g_new0 (gdouble, n_finals + 1);
  guint64 wake0 = 0, wake1 = 0;
  Sampler sampler = { 0 };
  guint sample_id = 0;
  Publisher *pub = NULL;
  Server *server;

  memset (r, 0, sizeof (*r));
  if (fd_limit () < cfg->k + cfg->z + 64) {
    printf ("%s: skipped: the fd limit (%" G_GUINT64_FORMAT ") is below %u\n", l,
        fd_limit (), cfg->k + cfg->z + 64);
    goto out;
  }
  server = server_start (cfg->k + cfg->z + 16, cfg->max_queue);
  if (!server)
    goto out;
  g_usleep (300000);
  r->rss_before = proc_rss (server->pid);

  /* The viewers, then the zombies. */
  t_spawn = g_get_monotonic_time ();
  for (i = 0; i < cfg->procs; i++) {
    guint count = cfg->k / cfg->procs + (i < cfg->k % cfg->procs);

    if (count)
      g_ptr_array_add (children, child_start (self_exe, FALSE, cfg->soup, server->port,
              count, cfg->pace, server->dir, i));
  }
  if (cfg->z)
    g_ptr_array_add (children, child_start (self_exe, TRUE, FALSE, server->port, cfg->z,
            cfg->pace, server->dir, i));
  run_until (t_spawn + (gint64) ((30 + (cfg->k + cfg->z) / 100.0) * G_USEC_PER_SEC),
      all_joined, children);
  if (interrupted)
    goto stop;
  for (i = 0; i < children->len; i++) {
    Child *ch = g_ptr_array_index (children, i);

    if (!ch->joined) {
      printf ("%s: FAILED: client process %u did not join all its %u %s in time (%s)\n", l,
          i, ch->count, ch->zombie ? "zombies" : "viewers", ch->eof ? "it exited" :
          "timeout");
      goto stop;
    }
    if (!ch->zombie) {
      welcomed += ch->welcomed;
      failed += ch->failed;
    }
  }
  r->join_s = (g_get_monotonic_time () - t_spawn) / 1e6;
  if (failed)
    printf ("%s: %.0f viewers could not join (of %u)\n", l, failed, cfg->k);

  pub = pub_new (server->port, server->token, n_finals, cfg->text_bytes);
  run_until (g_get_monotonic_time () + 10 * G_USEC_PER_SEC, pub_ready, pub);
  if (interrupted)
    goto stop;
  if (!pub->welcomed) {
    printf ("%s: FAILED: the publisher was not welcomed\n", l);
    goto stop;
  }
  /* A second for the server to settle after the joins. */
  run_until (g_get_monotonic_time () + G_USEC_PER_SEC, NULL, NULL);
  r->rss_joined = r->rss_max = proc_rss (server->pid);

  /* The window. */
  for (i = 0; i < children->len; i++)
    child_send (g_ptr_array_index (children, i), "start\n");
  bench_pid_cpu (server->pid, &u0, &s0);
  wake0 = proc_sleeps (server->pid);
  t0 = bench_now ();
  t_first = g_get_monotonic_time ();
  sampler.pid = server->pid;
  sampler.rss_max = r->rss_joined;
  sampler.last_cpu = u0 + s0;
  sampler.cpu = g_array_new (FALSE, FALSE, sizeof (gdouble));
  sample_id = g_timeout_add_full (G_PRIORITY_HIGH, 1000, on_sample, &sampler, NULL);
  for (i = 1; i <= n_finals; i++) {
    run_until (t_first + (gint64) (i - 1) * period, NULL, NULL);
    if (interrupted || pub->closed || !alive (server->pid))
      break;
    pub_send (pub, i);
    sent++;
  }
  run_until (t_first + (gint64) n_finals * period, NULL, NULL);
  bench_pid_cpu (server->pid, &u1, &s1);
  wake1 = proc_sleeps (server->pid);
  t1 = bench_now ();
  g_source_remove (sample_id);
  sample_id = 0;
  r->rss_end = proc_rss (server->pid);
  r->rss_max = MAX (sampler.rss_max, r->rss_end);
  r->server_cpu = 100 * ((u1 + s1) - (u0 + s0)) / (t1 - t0);
  if (interrupted)
    goto stop;
  if (sent < n_finals)
    printf ("%s: FAILED: %u finals of %u sent (%s)\n", l, sent, n_finals,
        pub->closed ? "publisher closed" : "server exited");
  /* Stragglers. */
  run_until (g_get_monotonic_time () + 2 * G_USEC_PER_SEC, NULL, NULL);
  metrics = http_get (server->port, "/metrics");

  for (i = 0; i < children->len; i++)
    child_send (g_ptr_array_index (children, i), "stop\n");
  run_until (g_get_monotonic_time () + 20 * G_USEC_PER_SEC, all_results, children);
  if (interrupted)
    goto stop;

  /* Figures. */
  for (i = 0; i < children->len; i++) {
    Child *ch = g_ptr_array_index (children, i);
    g_autofree gchar *data = NULL;
    gsize len = 0, j;

    if (!ch->result) {
      printf ("%s: FAILED: client process %u gave no result\n", l, i);
      goto stop;
    }
    if (!ch->zombie && g_file_get_contents (ch->out_path, &data, &len, NULL)) {
      for (j = 0; j + 2 * sizeof (gint32) <= len; j += 2 * sizeof (gint32)) {
        gint32 pair[2];
        gdouble ms;

        memcpy (pair, data + j, sizeof (pair));
        ms = pair[1] / 1000.0;
        g_array_append_val (lat, ms);
        if (pair[0] >= 1 && (guint) pair[0] <= n_finals)
          worst[pair[0]] = MAX (worst[pair[0]], ms);
      }
    }
  }
  r->pairs = lat->len;
  r->p50 = bench_percentile (lat, 50);
  r->p99 = bench_percentile (lat, 99);
  r->max = bench_percentile (lat, 100);
  r->lost = (gint64) (sent * welcomed) - (gint64) children_sum (children, FALSE, "finals");
  r->clients_cpu = 100 * children_sum (children, FALSE, "cpu") /
      (children_sum (children, FALSE, "secs") / MAX (1, children->len - (cfg->z ? 1 : 0)));
  if (cfg->z)
    r->zombies_cpu = 100 * children_sum (children, TRUE, "cpu") /
        children_sum (children, TRUE, "secs");

  printf ("%s: %u viewers + %u zombies joined in %.1f s (%u processes, %s clients); %u "
      "finals of %u text bytes at %.0f/s over %.0f s\n", l, cfg->k, cfg->z, r->join_s,
      cfg->procs,
      cfg->soup ? "libsoup" : "raw-socket", sent, cfg->text_bytes, cfg->rate,
      cfg->duration);
  printf ("%s: fan-out latency ms: p50 %.2f  p99 %.2f  max %.2f  (%" G_GUINT64_FORMAT
      " viewer-final pairs); lost %" G_GINT64_FORMAT ", duplicates %.0f, gaps %.0f, "
      "viewers closed %.0f\n", l, r->p50, r->p99, r->max, r->pairs, r->lost,
      children_sum (children, FALSE, "dups"), children_sum (children, FALSE, "gaps"),
      children_sum (children, FALSE, "ended"));
  printf ("%s: server RSS %.1f MiB before, %.1f MiB joined (+%.1f KiB/viewer), %.1f MiB "
      "after the window (max %.1f MiB)\n", l, mib (r->rss_before), mib (r->rss_joined),
      ((gdouble) r->rss_joined - r->rss_before) / 1024.0 / MAX (1, cfg->k + cfg->z),
      mib (r->rss_end), mib (r->rss_max));
  printf ("%s: server CPU %.1f %% of one core (user %.1f, system %.1f); client processes "
      "%.1f %% (sum of %u), zombie process %.1f %%; server main-loop sleeps %.0f/s\n", l,
      r->server_cpu, 100 * (u1 - u0) / (t1 - t0), 100 * (s1 - s0) / (t1 - t0),
      r->clients_cpu, cfg->procs, r->zombies_cpu, (wake1 - wake0) / (t1 - t0));
  {
    GString *tl = g_string_new (NULL);
    guint per_s = MAX (1, (guint) llround (cfg->rate)), first;

    /* The worst viewer of each final, the worst final of each second of the window. */
    for (first = 1; first <= sent; first += per_s) {
      gdouble m = 0;

      for (i = first; i < first + per_s && i <= sent; i++)
        m = MAX (m, worst[i]);
      g_string_append_printf (tl, " %.0f", m);
    }
    printf ("%s: max latency in each second of the window, ms:%s\n", l, tl->str);
    g_string_truncate (tl, 0);
    for (i = 0; i < sampler.cpu->len; i++)
      g_string_append_printf (tl, " %.0f", g_array_index (sampler.cpu, gdouble, i));
    printf ("%s: server CPU in each second of the window, %% of one core:%s\n", l, tl->str);
    g_string_free (tl, TRUE);
  }
  {
    gdouble count = metric (metrics, "stt_caption_fanout_seconds_count");
    gdouble sum = metric (metrics, "stt_caption_fanout_seconds_sum");

    printf ("%s: server fan-out (arrival to queued for every viewer, /metrics): mean "
        "%.2f ms, <= 10 ms %.0f%%, <= 50 ms %.0f%%, <= 100 ms %.0f%%; publisher ack "
        "p50 %.2f ms p99 %.2f ms\n", l, 1000 * sum / count,
        100 * metric (metrics, "stt_caption_fanout_seconds_bucket{le=\"0.01\"}") / count,
        100 * metric (metrics, "stt_caption_fanout_seconds_bucket{le=\"0.05\"}") / count,
        100 * metric (metrics, "stt_caption_fanout_seconds_bucket{le=\"0.1\"}") / count,
        bench_percentile (pub->ack_ms, 50), bench_percentile (pub->ack_ms, 99));
  }
  if (cfg->z) {
    printf ("%s: zombies: server closed %.0f as slow (4010, /metrics); viewers left at "
        "the end of the window (/metrics): %.0f; their sockets, drained after the window: close frame "
        "4010 %.0f, other close %.0f, EOF %.0f, reset %.0f, error %.0f, still open %.0f "
        "(%.1f MiB drained)\n", l,
        metric (metrics, "stt_caption_drops_total{reason=\"slow_viewer\"}"),
        metric (metrics, "stt_caption_connections{role=\"viewer\"}"),
        children_sum (children, TRUE, "close4010"),
        children_sum (children, TRUE, "closeother"), children_sum (children, TRUE, "eof"),
        children_sum (children, TRUE, "reset"), children_sum (children, TRUE, "error"),
        children_sum (children, TRUE, "open"),
        mib ((guint64) children_sum (children, TRUE, "drained")));
  }
  fflush (stdout);
  r->ok = TRUE;

stop:
  if (sample_id)
    g_source_remove (sample_id);
  if (sampler.cpu)
    g_array_unref (sampler.cpu);
  g_ptr_array_set_size (children, 0);
  if (pub)
    pub_free (pub);
  server_stop (server);
out:
  g_ptr_array_unref (children);
  g_array_unref (lat);
  return r->ok;
}

/* ====================================================================================
 * main
 * ==================================================================================== */

int
main (int argc, char **argv)
{
  g_autofree gchar *list = g_strdup ("100,1000,5000");
  g_autofree gchar *client = g_strdup ("raw");
  g_autofree gchar *role = NULL, *out = NULL;
  gint procs = 4, pace = 32, text_bytes = 80, zombies = 50, zombie_viewers = 1000,
      zombie_bytes = 4096, zombie_queue = 131072, port = 0, count = 0;
  gdouble rate = 5, duration = 20, zombie_duration = 30;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GArray *ks = g_array_new (FALSE, FALSE, sizeof (RunResult));
  g_autofree gchar *machine = NULL;
  gchar **parts, **kp;
  guint j = 0;
  GOptionEntry entries[] = {
    {"viewers", 0, 0, G_OPTION_ARG_STRING, &list,
        "Viewer counts (default 100,1000,5000)", "K,K,..."},
    {"procs", 0, 0, G_OPTION_ARG_INT, &procs, "Client processes (default 4)", "P"},
    {"client", 0, 0, G_OPTION_ARG_STRING, &client,
        "raw (epoll, default) or soup (libsoup, one GMainContext per process)", "KIND"},
    {"rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate, "Finals per second (default 5)", "N"},
    {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration,
        "Seconds of finals per K (default 20)", "S"},
    {"text-bytes", 0, 0, G_OPTION_ARG_INT, &text_bytes,
        "Bytes of text per final (default 80)", "N"},
    {"pace", 0, 0, G_OPTION_ARG_INT, &pace,
        "Handshakes in flight per client process (default 32)", "N"},
    {"zombies", 0, 0, G_OPTION_ARG_INT, &zombies,
        "Zombies in the zombie run, 0 for no zombie run (default 50)", "Z"},
    {"zombie-viewers", 0, 0, G_OPTION_ARG_INT, &zombie_viewers,
        "Live viewers in the zombie run (default 1000)", "K"},
    {"zombie-bytes", 0, 0, G_OPTION_ARG_INT, &zombie_bytes,
        "Bytes of text per final in the zombie run (default 4096)", "N"},
    {"zombie-queue", 0, 0, G_OPTION_ARG_INT, &zombie_queue,
        "The server's --max-queue in the zombie run (default 131072)", "BYTES"},
    {"zombie-duration", 0, 0, G_OPTION_ARG_DOUBLE, &zombie_duration,
        "Seconds of finals in the zombie run (default 30)", "S"},
    {"server-arg", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_server_args,
        "One more argument for the server (repeatable), e.g. --server-arg=--heartbeat=0",
        "ARG"},
    {"keep", 0, 0, G_OPTION_ARG_NONE, &opt_keep,
        "Keep each run's server directory (log, store)", NULL},
    /* The client processes. */
    {"role", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &role, NULL, NULL},
    {"port", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &port, NULL, NULL},
    {"count", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &count, NULL, NULL},
    {"out", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &out, NULL, NULL},
    {NULL}
  };

  ctx = g_option_context_new ("- K caption viewers in one room of stt-caption-server");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 1;
  }
  if (!g_str_equal (client, "raw") && !g_str_equal (client, "soup")) {
    g_printerr ("--client is raw or soup\n");
    return 1;
  }
  if (role)
    return viewers_main (g_str_equal (role, "zombies"), g_str_equal (client, "soup"),
        (guint) port, (guint) count, (guint) pace, out);

  if (procs < 1 || rate <= 0 || duration <= 0 || text_bytes < 32 || zombie_bytes < 32) {
    g_printerr ("bad arguments\n");
    return 1;
  }
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  raise_fd_limit ();
  signal (SIGPIPE, SIG_IGN);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  machine = bench_machine_line ();
  printf ("# bench-captions: %s\n", machine);
  printf ("# server %s: --public-room " ROOM ", --max-per-ip raised to K + Z + 16 (every "
      "client is 127.0.0.1; the default is 50), other options default (--max-queue 1 MiB, "
      "--heartbeat 15 s)%s%s; fd limit %" G_GUINT64_FORMAT "\n", server_path (),
      opt_server_args ? "; more: " : "", opt_server_args ?
      g_strjoinv (" ", opt_server_args) : "", fd_limit ());
  fflush (stdout);

  parts = g_strsplit (list, ",", -1);
  for (kp = parts; *kp && !interrupted; kp++) {
    RunConfig cfg = { 0 };
    RunResult r;
    g_autofree gchar *label = NULL;

    cfg.k = (guint) atoi (*kp);
    if (cfg.k == 0)
      continue;
    label = g_strdup_printf ("K=%u", cfg.k);
    cfg.label = label;
    cfg.procs = (guint) procs;
    cfg.pace = (guint) pace;
    cfg.rate = rate;
    cfg.duration = duration;
    cfg.text_bytes = (guint) text_bytes;
    cfg.soup = g_str_equal (client, "soup");
    printf ("\n");
    run_once (&cfg, &r);
    g_array_append_val (ks, r);
  }

  printf ("\n# summary (%s clients, %u processes, %.0f finals/s of %d bytes over %.0f s)\n",
      client, procs, rate, text_bytes, duration);
  printf ("# %6s %7s %8s %8s %8s %5s %12s %12s %12s\n", "K", "join_s", "p50_ms",
      "p99_ms", "max_ms", "lost", "KiB/viewer", "server_cpu%", "clients_cpu%");
  for (kp = parts; *kp; kp++) {
    guint k = (guint) atoi (*kp);
    RunResult *r;

    if (k == 0 || j >= ks->len)
      continue;
    r = &g_array_index (ks, RunResult, j++);
    if (!r->ok) {
      printf ("  %6u  failed\n", k);
      continue;
    }
    printf ("  %6u %7.1f %8.2f %8.2f %8.2f %5" G_GINT64_FORMAT " %12.1f %12.1f %12.1f\n",
        k, r->join_s, r->p50, r->p99, r->max, r->lost,
        ((gdouble) r->rss_joined - r->rss_before) / 1024.0 / k, r->server_cpu,
        r->clients_cpu);
  }
  g_strfreev (parts);

  if (zombies > 0 && !interrupted) {
    RunConfig cfg = { 0 };
    RunResult without, with;

    cfg.k = (guint) zombie_viewers;
    cfg.procs = (guint) procs;
    cfg.pace = (guint) pace;
    cfg.rate = rate;
    cfg.duration = zombie_duration;
    cfg.text_bytes = (guint) zombie_bytes;
    cfg.max_queue = (guint) zombie_queue;
    cfg.soup = g_str_equal (client, "soup");
    printf ("\n# zombies: %d live viewers, finals of %d bytes, server --max-queue %d; "
        "without, then with %d zombies\n", zombie_viewers, zombie_bytes, zombie_queue,
        zombies);
    cfg.label = "zombies Z=0";
    run_once (&cfg, &without);
    printf ("\n");
    if (interrupted)
      return 1;
    {
      g_autofree gchar *label = g_strdup_printf ("zombies Z=%d", zombies);

      cfg.label = label;
      cfg.z = (guint) zombies;
      run_once (&cfg, &with);
    }
    if (without.ok && with.ok) {
      printf ("\n# zombies: live viewers' latency ms, without / with %d zombies: p50 %.2f / "
          "%.2f (x%.2f), p99 %.2f / %.2f (x%.2f), max %.2f / %.2f; lost %" G_GINT64_FORMAT
          " / %" G_GINT64_FORMAT "\n", zombies, without.p50, with.p50, with.p50 / without.p50,
          without.p99, with.p99, with.p99 / without.p99, without.max, with.max, without.lost,
          with.lost);
      printf ("# zombies: server RSS growth over the window (max - joined): %.2f MiB "
          "without, %.2f MiB with (difference %.2f MiB); the bound --max-queue x Z is "
          "%.2f MiB\n", mib (without.rss_max - without.rss_joined),
          mib (with.rss_max - with.rss_joined),
          ((gdouble) (with.rss_max - with.rss_joined) -
              (gdouble) (without.rss_max - without.rss_joined)) / 1048576.0,
          mib ((guint64) zombie_queue * (guint64) zombies));
    }
  }
  g_free (machine);
  machine = bench_machine_line ();
  printf ("# end: %s\n", machine);
  g_array_unref (ks);
  return interrupted ? 1 : 0;
}
