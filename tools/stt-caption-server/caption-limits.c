/* caption-limits: see caption-limits.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "caption-limits.h"

struct _CapIpLimit
{
  guint max_per_ip;
  GHashTable *counts;           /* address -> count (GUINT_TO_POINTER), > 0 */
};

CapIpLimit *
cap_ip_limit_new (guint max_per_ip)
{
  CapIpLimit *limit = g_new0 (CapIpLimit, 1);

  limit->max_per_ip = max_per_ip;
  limit->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  return limit;
}

void
cap_ip_limit_free (CapIpLimit * limit)
{
  if (!limit)
    return;
  g_hash_table_unref (limit->counts);
  g_free (limit);
}

gboolean
cap_ip_limit_take (CapIpLimit * limit, const gchar * ip)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (limit->counts, ip));

  if (count >= limit->max_per_ip)
    return FALSE;
  g_hash_table_insert (limit->counts, g_strdup (ip),
      GUINT_TO_POINTER (count + 1));
  return TRUE;
}

void
cap_ip_limit_release (CapIpLimit * limit, const gchar * ip)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (limit->counts, ip));

  g_return_if_fail (count > 0);
  /* An address with no connection takes no memory. */
  if (count == 1)
    g_hash_table_remove (limit->counts, ip);
  else
    g_hash_table_insert (limit->counts, g_strdup (ip),
        GUINT_TO_POINTER (count - 1));
}

void
cap_bucket_init (CapBucket * bucket, guint rate, gint64 now)
{
  bucket->tokens = rate;
  bucket->last = now;
}

gboolean
cap_bucket_take (CapBucket * bucket, guint rate, gint64 now)
{
  if (now > bucket->last) {
    bucket->tokens = MIN ((gdouble) rate, bucket->tokens +
        (gdouble) (now - bucket->last) * rate / G_USEC_PER_SEC);
    bucket->last = now;
  }
  if (bucket->tokens < 1.0)
    return FALSE;
  bucket->tokens -= 1.0;
  return TRUE;
}
