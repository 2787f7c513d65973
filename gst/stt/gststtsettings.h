/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttSettings: what the user configured on stttranscribe or sttsink, in one struct
 * that is also the session's configuration.
 *
 * One table (gststtsettings.c) drives every property of it: install with its doc
 * string, set, get, copy, clear, and setting by name from a string (a backup's
 * configuration). Adding a property is one row of the table, one field here, and the
 * code that uses it. */
#pragma once

#include <gst/gst.h>

#include "sttprovider.h"

G_BEGIN_DECLS

typedef enum
{
  GST_STT_PACING_AUTO,
  GST_STT_PACING_REALTIME,
  GST_STT_PACING_NONE,
} GstSttPacing;

GType gst_stt_pacing_get_type (void);
#define GST_TYPE_STT_PACING (gst_stt_pacing_get_type ())

typedef struct
{
  /* ---- Properties: one row each in the table. Strings and structures may be NULL. */
  gchar *provider_name;
  gchar *url;
  gchar *api_key;               /* a secret: wiped, reads back as *** */
  gchar *api_key_file;
  gchar *language;              /* language-code (and its deprecated alias) */
  gchar *model;
  guint sample_rate;            /* 0: the provider's rate */
  GstClockTime chunk_duration;
  gboolean chunk_duration_set;  /* set by the user: no larger frames for files */
  gboolean interim_results;
  /* Live: text for audio older than this is promised to have come (GAP events). */
  GstClockTime latency;
  GstClockTime lateness;
  /* Audio kept for replay: the ring's size when a stream starts. */
  GstClockTime max_buffer_time;
  gint reconnect_max_attempts;
  GstClockTime reconnect_initial_delay;
  GstClockTime reconnect_max_delay;
  GstClockTime keepalive_interval;
  GstClockTime stall_timeout;
  /* During a drain: the longest the service may make no progress (no audio taken, no
   * result) before the connection counts as stalled. */
  GstClockTime drain_timeout;
  /* The longest the service may be without a working connection before the session
   * gives up (non-live input, or any drain); 0 = never. */
  GstClockTime outage_timeout;
  GstSttPacing pacing;
  GstClockTime stats_interval;
  gchar *tls_ca_file;
  gboolean tls_validate;
  GstStructure *extra_headers;  /* one field per header */
  GstStructure *params;         /* provider options, one field each */
  /* Temporary credentials, fetched again before every attempt. */
  gchar *token_url;
  gchar *token_method;
  GstStructure *token_headers;  /* "$API_KEY" in a value is the key */
  gchar *token_field;           /* NULL: access_token, token, key_value or value */
  gchar *token_body;            /* JSON body of the token request, or NULL */
  /* Signed tokens: with a secret (token_secret, else token_secret_file read again before
   * every attempt) a fresh HS256 JWT is minted for every attempt. */
  gchar *token_secret;          /* a secret */
  gchar *token_secret_file;
  GstStructure *token_claims;
  guint token_lifetime;         /* seconds: exp = iat + this */
  /* AWS credentials (providers with aws_credentials): NULL = from the environment or
   * the shared files (gststtawscreds.h). */
  gchar *access_key;
  gchar *secret_access_key;     /* a secret */
  gchar *session_token;         /* a secret */
  gchar *region;
  GstClockTime max_session_duration;    /* 0 = none */
  /* Failover: each backup a GstStructure named after its provider, its fields settings
   * by name; NULL = none. Secrets in them are wiped when freed. */
  GPtrArray *backups;
  GstClockTime failover_after;  /* live: no audio carried for this long; 0 = never */
  /* Live: audio past max-buffer-time goes to a file in spool_dir (NULL: the user's cache
   * directory), at most spool_max_bytes (0: dropped, as without a spool). */
  gchar *spool_dir;
  guint64 spool_max_bytes;
  /* Live: a backlog longer than this is given up in the text output, its words come as
   * an stt-revision; 0 = never. */
  GstClockTime max_lag;

  /* ---- Not properties: filled when a stream starts. */
  const SttProviderInfo *provider;      /* provider_name resolved */
  guint rate;                   /* wire rate, Hz */
  gboolean live;
} GstSttSettings;

/* The defaults of every property (the provider's name included). */
void gst_stt_settings_init (GstSttSettings * s);

/* @dst becomes a deep copy of @src (initialised or not: it is overwritten). */
void gst_stt_settings_copy (GstSttSettings * dst, const GstSttSettings * src);

/* Frees what @s holds, wiping the secrets; @s can be initialised again. */
void gst_stt_settings_clear (GstSttSettings * s);

/* Installs one property per row from @first_id on; returns the next free id. */
guint gst_stt_settings_install_properties (GObjectClass * klass, guint first_id);

/* The number of properties installed. */
guint gst_stt_settings_n_properties (void);

/* Property @id (0-based among the settings' own) from or into @value. */
void gst_stt_settings_set_property (GstSttSettings * s, guint id, const GValue * value);
void gst_stt_settings_get_property (const GstSttSettings * s, guint id, GValue * value);

/* Sets the property named @name (e.g. "api-key-file") from @value, of the property's
 * type or a string to parse as one (gst_value_deserialize). FALSE with @error (RESOURCE
 * SETTINGS) for an unknown name, a value that does not parse or is out of range, or
 * "provider" (not a setting of its own here). Needs the properties installed. */
gboolean gst_stt_settings_set_by_name (GstSttSettings * s, const gchar * name,
    const GValue * value, GError ** error);

/* @dst becomes the settings of @backup (a "backups" entry): @primary's, except where and
 * how to reach the service (url, credentials, model, params, headers, tokens: rows
 * marked per provider), which are @backup's fields or the defaults. FALSE with @error
 * (RESOURCE SETTINGS; @dst untouched) for an unknown provider or a field that is not a
 * setting or does not parse. @dst's provider and rate are left to the caller. */
gboolean gst_stt_settings_for_backup (GstSttSettings * dst, const GstSttSettings * primary,
    const GstStructure * backup, GError ** error);

/* A structure's fields as name, value, ..., NULL (values not strings serialized), or
 * NULL for NULL: headers on the wire. */
gchar **gst_stt_settings_structure_to_strv (const GstStructure * s);
/* The same as a table of strings (name -> value), or NULL for NULL: provider options. */
GHashTable *gst_stt_settings_structure_to_table (const GstStructure * s);

G_END_DECLS
