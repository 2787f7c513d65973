/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttTarget: one service a session can talk to, the primary or a backup: its
 * settings and what is built from them once (the wire forms of the structures, the
 * credential sources). */
#pragma once

#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include "gststtsettings.h"
#include "gststtcredentials.h"

G_BEGIN_DECLS

typedef struct
{
  GstSttSettings cfg;
  GHashTable *params;           /* provider options, name -> value */
  gchar **extra_headers;        /* name, value, ..., NULL */
  gchar **token_headers;
  JsonObject *token_claims;
  GstSttCredentialSources cred_src;     /* borrows from the above */
  guint64 carried;              /* samples committed while it was the active one */
} GstSttTarget;

/* Takes @cfg (left zeroed); its provider must be resolved. */
void gst_stt_target_init (GstSttTarget * t, GstSttSettings * cfg);
void gst_stt_target_clear (GstSttTarget * t);

/* What a provider sees of @t for one attempt: @url (NULL: the target's) and the
 * attempt's credentials @cred; borrows from both. */
SttProviderConfig gst_stt_target_provider_config (const GstSttTarget * t,
    const gchar * url, const GstSttCredentials * cred);

/* The targets of a stream: @primary (taken, left zeroed) then one per backup in its
 * `backups`, each with @primary's provider-independent settings, rate and liveness.
 * Sets @n. NULL with @error (RESOURCE SETTINGS) if a backup is not usable. */
GstSttTarget *gst_stt_targets_new (GstSttSettings * primary, guint * n, GError ** error);
void gst_stt_targets_free (GstSttTarget * targets, guint n);

/* Failback: the wait before the primary is tried again after the @tries-th switch away
 * from it in a row (1, 2, ...): FAILBACK_FIRST doubling, at most @cap. */
#define GST_STT_FAILBACK_FIRST (5 * GST_SECOND)
#define GST_STT_FAILBACK_MAX (300 * GST_SECOND)
GstClockTime gst_stt_failback_delay (guint tries, GstClockTime cap);

G_END_DECLS
