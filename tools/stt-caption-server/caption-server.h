/* stt-caption-server: what its files share. The server, its options and its lists.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threads: the main thread runs the GMainLoop that owns the SoupServer, the
 * publishers' connections, the rooms and their stores; everything here is its own.
 * The viewers' connections live on --threads workers (caption-workers.h), which
 * reach the main thread only through queues and atomic counters. */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>

#include "stt-local-listener.h"
#include "caption-limits.h"
#include "caption-metrics.h"

G_BEGIN_DECLS

#define CAP_PROGRAM "stt-caption-server"

#define CAP_DEFAULT_HOST "127.0.0.1"
#define CAP_DEFAULT_PORT 8080
#define CAP_DEFAULT_STORE "./caption-store"
#define CAP_DEFAULT_HISTORY 100
#define CAP_DEFAULT_ROOM_TTL 300
#define CAP_DEFAULT_MAX_ROOMS 1000
#define CAP_DEFAULT_MAX_PER_IP 50
#define CAP_DEFAULT_MAX_RATE 50
#define CAP_DEFAULT_MAX_MESSAGE 65536
#define CAP_DEFAULT_MAX_VIEWERS 10000
#define CAP_DEFAULT_MAX_QUEUE (1024 * 1024)
#define CAP_DEFAULT_HEARTBEAT 15
#define CAP_DEFAULT_HEARTBEAT_TIMEOUT 45
/* Viewer threads per CPU by default. More than one: every wake-up of a thread (a pong,
 * a final) costs GLib a walk of all the sockets of its context, so the fewer each
 * holds the less that costs, while the fan-out is spread over the CPUs all the same
 * (bench/README.md, "Caption fan-out": --heartbeat 2, 5000 viewers on 2 CPUs, server
 * CPU 109 % with 2 threads, 99 % with 4, 82-90 % with 8, 76 % with 16). */
#define CAP_THREADS_PER_CPU 4

/* WebSocket close codes of docs/caption-server.md beyond RFC 6455's. */
#define CAP_CLOSE_AUTH 4001
#define CAP_CLOSE_ROOM 4004
#define CAP_CLOSE_HEARTBEAT 4008
#define CAP_CLOSE_ROOM_FULL 4009
#define CAP_CLOSE_SLOW 4010
#define CAP_CLOSE_LIMIT 4029

typedef struct
{
  gchar *host;
  gint port;
  gchar *secret_file;
  gchar *store_dir;
  gint history;                 /* finals held per room */
  gint room_ttl;                /* seconds an empty room is kept */
  gint max_rooms;
  gint max_per_ip;
  gint max_rate;                /* messages a second per connection */
  gint max_message;             /* bytes */
  gint max_viewers;             /* per room */
  gint max_queue;               /* unsent bytes per connection */
  gint heartbeat;               /* seconds between pings, 0 for none */
  gint heartbeat_timeout;       /* seconds without a byte from a client, 0 for none */
  gchar **public_rooms;
  gchar **allow_origins;
  gchar *redis_url;             /* --redis, NULL without */
  gint threads;                 /* viewer threads, 0 for CAP_THREADS_PER_CPU per CPU */
} CapOptions;

typedef enum
{
  CAP_ROLE_PUBLISHER,           /* /publish/ROOM */
  CAP_ROLE_VIEWER,              /* /watch/ROOM */
} CapRole;

typedef struct _CapRoom CapRoom;
typedef struct _CapConn CapConn;
typedef struct _CapBridge CapBridge;
typedef struct _CapWorker CapWorker;
typedef struct _CapShard CapShard;

typedef struct
{
  CapOptions opts;
  GBytes *secret;               /* the HMAC key; wiped when freed */
  GMainLoop *loop;
  SoupServer *soup;
  SttListener *listener;
  gint64 started;               /* g_get_monotonic_time() at start */

  GHashTable *rooms;            /* name -> CapRoom*, rooms held in memory */
  GQueue conns;                 /* CapConn*, every WebSocket of this thread not yet
                                 * closed (publishers, refused connections) */
  guint n_publishers;           /* open (accepted) connections per role */
  guint n_viewers;              /* on the workers, until they say it has gone */
  CapWorker **workers;
  guint n_workers;
  GMainContext *context;        /* the main thread's */
  guint next_conn_id;
  CapIpLimit *ip_limit;
  CapMetrics metrics;
  CapBridge *bridge;            /* --redis (caption-bridge.c), else NULL */

  gboolean shutting_down;
  guint sweep_id;
  guint grace_id;
} CapServer;

/* The server has stopped serving and its last connection is gone. */
void cap_server_maybe_quit (CapServer * server);

G_END_DECLS
