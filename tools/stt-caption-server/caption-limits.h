/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* caption-limits: what one client may take of stt-caption-server. Connections per
 * address (--max-per-ip) and messages per second per connection (--max-rate, a token
 * bucket). The other bounds live where they are enforced: message size in the guard
 * (tools/stt-local-guard.c), viewers and rooms in caption-room.c, a viewer's send queue
 * in caption-conn.c. Main thread only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CapIpLimit CapIpLimit;

CapIpLimit *cap_ip_limit_new (guint max_per_ip);
void cap_ip_limit_free (CapIpLimit * limit);
/* Counts one more connection from @ip; FALSE (and nothing counted) when @ip already
 * has max_per_ip. */
gboolean cap_ip_limit_take (CapIpLimit * limit, const gchar * ip);
/* A connection counted by cap_ip_limit_take() has gone. */
void cap_ip_limit_release (CapIpLimit * limit, const gchar * ip);

/* A token bucket: @rate messages a second on average, bursts of @rate. */
typedef struct
{
  gdouble tokens;
  gint64 last;                  /* g_get_monotonic_time() of the last refill */
} CapBucket;

void cap_bucket_init (CapBucket * bucket, guint rate, gint64 now);
/* Takes one token at @now (monotonic µs); FALSE when the bucket is empty. */
gboolean cap_bucket_take (CapBucket * bucket, guint rate, gint64 now);

G_END_DECLS
