/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststttarget.c: the primary and backup services of a stream, built from the settings. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststttarget.h"
#include "gststtjwt.h"

void
gst_stt_target_init (GstSttTarget * t, GstSttSettings * cfg)
{
  memset (t, 0, sizeof (*t));
  t->cfg = *cfg;
  memset (cfg, 0, sizeof (*cfg));
  t->params = gst_stt_settings_structure_to_table (t->cfg.params);
  t->extra_headers = gst_stt_settings_structure_to_strv (t->cfg.extra_headers);
  t->token_headers = gst_stt_settings_structure_to_strv (t->cfg.token_headers);
  /* Checked at start: a bad field cannot be there any more. */
  t->token_claims = gst_stt_jwt_claims_from_structure (t->cfg.token_claims, NULL);
  t->cred_src = (GstSttCredentialSources) {
    .provider = t->cfg.provider,
    .api_key = t->cfg.api_key,
    .api_key_file = t->cfg.api_key_file,
    .access_key = t->cfg.access_key,
    .secret_access_key = t->cfg.secret_access_key,
    .session_token = t->cfg.session_token,
    .region = t->cfg.region,
    .token_url = t->cfg.token_url,
    .token_method = t->cfg.token_method,
    .token_headers = (const gchar * const *) t->token_headers,
    .token_field = t->cfg.token_field,
    .token_body = t->cfg.token_body,
    .token_secret = t->cfg.token_secret,
    .token_secret_file = t->cfg.token_secret_file,
    .token_claims = t->token_claims,
    .token_lifetime = t->cfg.token_lifetime,
    .tls_validate = t->cfg.tls_validate,
  };
}

SttProviderConfig
gst_stt_target_provider_config (const GstSttTarget * t, const gchar * url,
    const GstSttCredentials * cred)
{
  return (SttProviderConfig) {
    .url = url ? url : t->cfg.url,
    .api_key = cred->key,
    .key_is_token = cred->is_token,
    .language = t->cfg.language,
    .model = t->cfg.model,
    .sample_rate = t->cfg.rate,
    .interim_results = t->cfg.interim_results,
    .access_key_id = cred->aws.access_key_id,
    .session_token = cred->aws.session_token,
    .region = cred->aws.region,
    .params = t->params,
  };
}

void
gst_stt_target_clear (GstSttTarget * t)
{
  gst_stt_settings_clear (&t->cfg);
  g_clear_pointer (&t->params, g_hash_table_unref);
  g_clear_pointer (&t->extra_headers, g_strfreev);
  g_clear_pointer (&t->token_headers, g_strfreev);
  g_clear_pointer (&t->token_claims, json_object_unref);
  memset (&t->cred_src, 0, sizeof (t->cred_src));
}

GstSttTarget *
gst_stt_targets_new (GstSttSettings * primary, guint * n, GError ** error)
{
  guint n_backups = primary->backups ? primary->backups->len : 0;
  GstSttTarget *targets = g_new0 (GstSttTarget, 1 + n_backups);
  guint i;

  for (i = 0; i < n_backups; i++) {
    GstSttSettings b;

    if (!gst_stt_settings_for_backup (&b, primary, g_ptr_array_index (primary->backups,
                i), error)) {
      gst_stt_targets_free (targets, i + 1);
      return NULL;
    }
    b.provider = stt_provider_lookup (b.provider_name);
    b.rate = primary->rate;
    b.live = primary->live;
    gst_stt_target_init (&targets[1 + i], &b);
  }
  gst_stt_target_init (&targets[0], primary);
  *n = 1 + n_backups;
  return targets;
}

void
gst_stt_targets_free (GstSttTarget * targets, guint n)
{
  guint i;

  for (i = 0; targets && i < n; i++)
    gst_stt_target_clear (&targets[i]);
  g_free (targets);
}

GstClockTime
gst_stt_failback_delay (guint tries, GstClockTime cap)
{
  GstClockTime d = GST_STT_FAILBACK_FIRST;

  cap = MAX (cap, GST_STT_FAILBACK_FIRST);
  while (tries-- > 1 && d < cap)
    d *= 2;
  return MIN (d, cap);
}
