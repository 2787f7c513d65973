/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtawscreds.c: the AWS credential chain (see the header). The shared files are INI
 * files read with GKeyFile: `[default]` / `[NAME]` in the credentials file, `[default]` /
 * `[profile NAME]` in the config file, keys aws_access_key_id, aws_secret_access_key,
 * aws_session_token and region. Read again for every connection attempt, so rotated
 * temporary credentials are picked up. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtawscreds.h"

static void
wipe_free (gchar * s)
{
  if (s) {
    memset (s, 0, strlen (s));
    g_free (s);
  }
}

void
gst_stt_aws_credentials_clear (GstSttAwsCredentials * c)
{
  g_clear_pointer (&c->access_key_id, g_free);
  g_clear_pointer (&c->secret_key, wipe_free);
  g_clear_pointer (&c->session_token, wipe_free);
  g_clear_pointer (&c->region, g_free);
  g_clear_pointer (&c->source, g_free);
}

static gboolean
set (const gchar * s)
{
  return s && *s;
}

static gchar *
shared_file (const gchar * env, const gchar * name)
{
  const gchar *path = g_getenv (env);

  if (set (path))
    return g_strdup (path);
  return g_build_filename (g_get_home_dir (), ".aws", name, NULL);
}

/* @key of the profile's section in @file, or NULL. The config file names sections
 * "profile NAME" except for the default one. */
static gchar *
profile_value (const gchar * file, const gchar * profile, gboolean config,
    const gchar * key)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree gchar *section = NULL;
  gchar *v;

  if (!g_key_file_load_from_file (kf, file, G_KEY_FILE_NONE, NULL))
    return NULL;
  section = config && !g_str_equal (profile, "default") ?
      g_strdup_printf ("profile %s", profile) : g_strdup (profile);
  v = g_key_file_get_string (kf, section, key, NULL);
  if (v == NULL && config)
    v = g_key_file_get_string (kf, profile, key, NULL);
  if (v)
    g_strstrip (v);
  if (v && *v == '\0')
    g_clear_pointer (&v, g_free);
  return v;
}

/* The key pair of the profile in @file; TRUE when both halves are there. */
static gboolean
from_file (const gchar * file, const gchar * profile, gboolean config,
    GstSttAwsCredentials * out)
{
  gchar *id = profile_value (file, profile, config, "aws_access_key_id");
  gchar *secret = profile_value (file, profile, config, "aws_secret_access_key");

  if (id && secret) {
    out->access_key_id = id;
    out->secret_key = secret;
    out->session_token = profile_value (file, profile, config, "aws_session_token");
    out->source = g_strdup_printf ("%s [%s]", file, profile);
    return TRUE;
  }
  g_free (id);
  wipe_free (secret);
  return FALSE;
}

gboolean
gst_stt_aws_credentials_resolve (const gchar * access_key, const gchar * secret_key,
    const gchar * session_token, const gchar * region, GstSttAwsCredentials * out,
    GError ** error)
{
  const gchar *profile = set (g_getenv ("AWS_PROFILE")) ? g_getenv ("AWS_PROFILE") :
      "default";
  g_autofree gchar *cred_file = shared_file ("AWS_SHARED_CREDENTIALS_FILE",
      "credentials");
  g_autofree gchar *config_file = shared_file ("AWS_CONFIG_FILE", "config");

  memset (out, 0, sizeof (*out));
  if (set (access_key) || set (secret_key)) {
    if (!set (access_key) || !set (secret_key)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "AWS credentials need both access-key and secret-access-key (only %s is set)",
          set (access_key) ? "access-key" : "secret-access-key");
      return FALSE;
    }
    out->access_key_id = g_strdup (access_key);
    out->secret_key = g_strdup (secret_key);
    out->session_token = set (session_token) ? g_strdup (session_token) : NULL;
    out->source = g_strdup ("the element's properties");
  } else if (set (g_getenv ("AWS_ACCESS_KEY_ID")) || set (g_getenv
          ("AWS_SECRET_ACCESS_KEY"))) {
    if (!set (g_getenv ("AWS_ACCESS_KEY_ID")) || !set (g_getenv ("AWS_SECRET_ACCESS_KEY"))) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "AWS credentials in the environment need both $AWS_ACCESS_KEY_ID and "
          "$AWS_SECRET_ACCESS_KEY (only %s is set)",
          set (g_getenv ("AWS_ACCESS_KEY_ID")) ? "$AWS_ACCESS_KEY_ID" :
          "$AWS_SECRET_ACCESS_KEY");
      return FALSE;
    }
    out->access_key_id = g_strdup (g_getenv ("AWS_ACCESS_KEY_ID"));
    out->secret_key = g_strdup (g_getenv ("AWS_SECRET_ACCESS_KEY"));
    out->session_token = set (g_getenv ("AWS_SESSION_TOKEN")) ?
        g_strdup (g_getenv ("AWS_SESSION_TOKEN")) : NULL;
    out->source = g_strdup ("the environment");
  } else if (!from_file (cred_file, profile, FALSE, out)
      && !from_file (config_file, profile, TRUE, out)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
        "No AWS credentials: set access-key and secret-access-key, or "
        "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or profile '%s' in %s",
        profile, cred_file);
    return FALSE;
  }

  if (set (region))
    out->region = g_strdup (region);
  else if (set (g_getenv ("AWS_REGION")))
    out->region = g_strdup (g_getenv ("AWS_REGION"));
  else if (set (g_getenv ("AWS_DEFAULT_REGION")))
    out->region = g_strdup (g_getenv ("AWS_DEFAULT_REGION"));
  else
    out->region = profile_value (config_file, profile, TRUE, "region");
  return TRUE;
}
