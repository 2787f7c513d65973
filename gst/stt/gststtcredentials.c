/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtcredentials.c: where an attempt's key or token comes from, read again for every
 * attempt (a rotated key or secret file is picked up), and the wiping of every copy of
 * a secret. No session here: the caller keeps the GstSttCredentials of its attempt and
 * tells the failures apart (gststtretry.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gststtcredentials.h"
#include "gststtjwt.h"
#include "sttjson.h"

void
gst_stt_wipe_free (gchar * secret)
{
  if (secret) {
    memset (secret, 0, strlen (secret));
    g_free (secret);
  }
}

void
gst_stt_credentials_clear (GstSttCredentials * c)
{
  g_clear_pointer (&c->key, gst_stt_wipe_free);
  gst_stt_aws_credentials_clear (&c->aws);
}

gchar *
gst_stt_credentials_resolve_key (const SttProviderInfo * info, const gchar * api_key,
    const gchar * api_key_file, GError ** error)
{
  g_autofree gchar *env_name = stt_provider_env_key_name (info);
  const gchar *env;

  if (api_key && *api_key)
    return g_strdup (api_key);
  if (api_key_file && *api_key_file) {
    gchar *contents = NULL;
    GError *err = NULL;

    if (!g_file_get_contents (api_key_file, &contents, NULL, &err)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "Cannot read api-key-file %s: %s", api_key_file, err->message);
      g_error_free (err);
      return NULL;
    }
    return g_strstrip (contents);
  }
  env = g_getenv (env_name);
  if (env == NULL || *env == '\0')
    env = g_getenv ("STT_API_KEY");
  if (env && *env)
    return g_strdup (env);
  if (!info->keyless)
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
        "No key for %s: set api-key, api-key-file, $%s or $STT_API_KEY (or token-url)",
        info->display_name, env_name);
  return NULL;
}

gchar *
gst_stt_credentials_resolve_secret (const gchar * token_secret,
    const gchar * token_secret_file, GError ** error)
{
  gchar *contents = NULL;
  GError *err = NULL;

  if (token_secret && *token_secret)
    return g_strdup (token_secret);
  if (token_secret_file == NULL || *token_secret_file == '\0')
    return NULL;
  if (!g_file_get_contents (token_secret_file, &contents, NULL, &err)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "Cannot read token-secret-file %s: %s", token_secret_file, err->message);
    g_error_free (err);
    return NULL;
  }
  g_strstrip (contents);
  if (*contents == '\0') {
    g_free (contents);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "token-secret-file %s is empty", token_secret_file);
    return NULL;
  }
  return contents;
}

/* The key into @aws and its copy returned, or NULL (keyless service, or @error set). */
static gchar *
resolve_key (const GstSttCredentialSources * src, GstSttAwsCredentials * aws,
    GError ** error)
{
  if (src->provider->aws_credentials) {
    /* The secret access key stands for the key; the rest goes with it. */
    gst_stt_aws_credentials_clear (aws);
    if (!gst_stt_aws_credentials_resolve (src->access_key, src->secret_access_key,
            src->session_token, src->region, aws, error))
      return NULL;
    return g_strdup (aws->secret_key);
  }
  return gst_stt_credentials_resolve_key (src->provider, src->api_key,
      src->api_key_file, error);
}

gboolean
gst_stt_credentials_use_key (GstSttCredentials * c, const GstSttCredentialSources * src,
    GError ** error)
{
  GError *err = NULL;

  g_clear_pointer (&c->key, gst_stt_wipe_free);
  c->key = resolve_key (src, &c->aws, &err);
  c->is_token = FALSE;
  c->signed_token = FALSE;
  if (err) {
    g_propagate_error (error, err);
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_stt_credentials_has_secret (const GstSttCredentialSources * src)
{
  return (src->token_secret && *src->token_secret)
      || (src->token_secret_file && *src->token_secret_file);
}

gboolean
gst_stt_credentials_mint (GstSttCredentials * c, const GstSttCredentialSources * src,
    gint64 now, GError ** error)
{
  gchar *secret = gst_stt_credentials_resolve_secret (src->token_secret,
      src->token_secret_file, error);

  if (secret == NULL)
    return FALSE;
  gst_stt_credentials_clear (c);
  c->key = gst_stt_jwt_mint ((const guint8 *) secret, strlen (secret),
      src->token_claims, now, src->token_lifetime);
  gst_stt_wipe_free (secret);
  if (c->key == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "Could not sign a token for %s (OpenSSL failed)", src->provider->display_name);
    return FALSE;
  }
  c->is_token = TRUE;
  c->signed_token = TRUE;
  return TRUE;
}

SttHttp *
gst_stt_credentials_fetch_token (const GstSttCredentialSources * src,
    SttIoWorker * worker, GTlsDatabase * tls_database, SttHttpCallback callback,
    gpointer user_data)
{
  /* The token service may need no key of ours: only an unreadable key file is an error,
   * said by the token service's refusal if it needed one. */
  GstSttAwsCredentials aws = { 0, };
  g_autofree gchar *key = resolve_key (src, &aws, NULL);
  GPtrArray *headers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GBytes) body = NULL;
  SttHttp *http;
  guint i;

  gst_stt_aws_credentials_clear (&aws);
  for (i = 0; src->token_headers && src->token_headers[i]
      && src->token_headers[i + 1]; i += 2) {
    GString *v = g_string_new (src->token_headers[i + 1]);

    g_string_replace (v, "$API_KEY", key ? key : "", 0);
    g_ptr_array_add (headers, g_strdup (src->token_headers[i]));
    g_ptr_array_add (headers, g_string_free (v, FALSE));
  }
  g_ptr_array_add (headers, NULL);
  if (key)
    memset (key, 0, strlen (key));

  if (src->token_body)
    body = g_bytes_new (src->token_body, strlen (src->token_body));
  http = stt_http_request (worker, src->token_method ? src->token_method : "POST",
      src->token_url, (const gchar * const *) headers->pdata, body,
      body ? "application/json" : NULL, src->tls_validate, tls_database, callback,
      user_data);
  for (i = 0; i + 1 < headers->len; i += 2) {
    gchar *v = g_ptr_array_index (headers, i + 1);
    memset (v, 0, strlen (v));
  }
  g_ptr_array_unref (headers);
  return http;
}

const gchar *
gst_stt_credentials_find_token (JsonObject * o, const gchar * field)
{
  static const gchar *const fields[] = { "access_token", "token", "key_value", "value",
    NULL
  };
  guint i;

  if (field)
    return stt_json_get_string (o, field, NULL);
  for (i = 0; fields[i]; i++) {
    const gchar *v = stt_json_get_string (o, fields[i], NULL);
    if (v && *v)
      return v;
  }
  return NULL;
}

gboolean
gst_stt_credentials_take_token (GstSttCredentials * c,
    const GstSttCredentialSources * src, const gchar * data, gsize len, GError ** error)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = NULL;
  const gchar *token;

  if (data)
    o = stt_json_parse_object (data, len, &parser);
  token = gst_stt_credentials_find_token (o, src->token_field);
  if (token == NULL || *token == '\0') {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "The token service's answer has no %s field",
        src->token_field ? src->token_field : "access_token/token/key_value/value");
    return FALSE;
  }
  gst_stt_credentials_clear (c);
  c->key = g_strdup (token);
  c->is_token = TRUE;
  c->signed_token = FALSE;
  return TRUE;
}

gchar *
gst_stt_credentials_fill_url (const GstSttCredentials * c, const gchar * url)
{
  gchar *escaped, **parts, *filled;

  if (!c->is_token || c->key == NULL || url == NULL
      || strstr (url, GST_STT_TOKEN_PLACEHOLDER) == NULL)
    return NULL;
  escaped = g_uri_escape_string (c->key, NULL, FALSE);
  parts = g_strsplit (url, GST_STT_TOKEN_PLACEHOLDER, -1);
  filled = g_strjoinv (escaped, parts);
  g_strfreev (parts);
  gst_stt_wipe_free (escaped);
  return filled;
}

gchar *
gst_stt_credentials_scrub (const GstSttCredentials * c, const gchar * text)
{
  g_autofree gchar *escaped = NULL;
  GString *out;

  if (text == NULL)
    return NULL;
  if (!c->is_token || c->key == NULL || *c->key == '\0')
    return g_strdup (text);
  escaped = g_uri_escape_string (c->key, NULL, FALSE);
  out = g_string_new (text);
  g_string_replace (out, c->key, "***", 0);
  g_string_replace (out, escaped, "***", 0);
  return g_string_free (out, FALSE);
}
