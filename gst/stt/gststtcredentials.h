/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtcredentials.h: an attempt's credentials, and where they come from: the key (the
 * api-key property, the key file, the environment), a token fetched from token-url, a
 * token signed here from token-secret, or the AWS chain (gststtawscreds.h). What it
 * returns is what the attempt needs; it knows nothing of the session that asks. Every
 * secret it hands out or holds is wiped before it is freed. */
#pragma once

#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include "sttprovider.h"
#include "stthttp.h"
#include "gststtawscreds.h"

G_BEGIN_DECLS

/* The placeholder in `url` that becomes the token (minted or fetched), URI-escaped, at
 * every attempt. */
#define GST_STT_TOKEN_PLACEHOLDER "{token}"

/* Where credentials come from: the configuration, borrowed (it outlives the users). */
typedef struct
{
  const SttProviderInfo *provider;
  const gchar *api_key;
  const gchar *api_key_file;
  /* AWS (providers with aws_credentials): NULL = from the environment or the files. */
  const gchar *access_key;
  const gchar *secret_access_key;
  const gchar *session_token;
  const gchar *region;
  /* Temporary tokens. */
  const gchar *token_url;
  const gchar *token_method;
  const gchar *const *token_headers;    /* name, value, ...; "$API_KEY" is the key */
  const gchar *token_field;     /* NULL: access_token, token, key_value or value */
  const gchar *token_body;
  /* Signed tokens. */
  const gchar *token_secret;
  const gchar *token_secret_file;
  JsonObject *token_claims;
  guint token_lifetime;
  gboolean tls_validate;
} GstSttCredentialSources;

/* One attempt's credentials. */
typedef struct
{
  gchar *key;                   /* the key or the token; wiped when cleared */
  gboolean is_token;            /* a temporary token (fetched or signed) */
  gboolean signed_token;        /* a JWT signed here (token-secret) */
  GstSttAwsCredentials aws;     /* aws_credentials providers: the rest of the key */
} GstSttCredentials;

/* Wipes and frees a string that holds a credential. */
void gst_stt_wipe_free (gchar * secret);

/* Forgets (wipes) the key and the AWS credentials; is_token and signed_token stay. */
void gst_stt_credentials_clear (GstSttCredentials * c);

/* The key from @api_key, @api_key_file, $<PROVIDER>_API_KEY or $STT_API_KEY, in that
 * order, or NULL: a key file that cannot be read, or no key for a service that needs one,
 * sets @error (RESOURCE NOT_FOUND / NOT_AUTHORIZED, the message says where keys come
 * from). */
gchar *gst_stt_credentials_resolve_key (const SttProviderInfo * info,
    const gchar * api_key, const gchar * api_key_file, GError ** error);

/* The signing secret: @token_secret, else the contents of @token_secret_file (surrounding
 * whitespace removed), or NULL when neither is set (no error). An unreadable or empty
 * file sets @error (RESOURCE NOT_FOUND / SETTINGS). Wipe the result before freeing. */
gchar *gst_stt_credentials_resolve_secret (const gchar * token_secret,
    const gchar * token_secret_file, GError ** error);

/* The key (not a token) for an attempt in @c, read again every time (a rotated key file
 * is picked up): the AWS chain for aws_credentials providers, else the key. FALSE with
 * @error set when there is none; TRUE with no key for a keyless service. */
gboolean gst_stt_credentials_use_key (GstSttCredentials * c,
    const GstSttCredentialSources * src, GError ** error);

/* Whether a signing secret is configured: every attempt then signs its own token. */
gboolean gst_stt_credentials_has_secret (const GstSttCredentialSources * src);

/* A fresh signed token in @c, issued at @now (seconds since the epoch): the secret read
 * again (a rotated secret file is picked up). FALSE with @error if there is none. */
gboolean gst_stt_credentials_mint (GstSttCredentials * c,
    const GstSttCredentialSources * src, gint64 now, GError ** error);

/* Asks token_url for a temporary token; "$API_KEY" in a header value becomes the key
 * (if one can be read: the token service may need none). @callback gets the answer for
 * gst_stt_credentials_take_token. */
SttHttp *gst_stt_credentials_fetch_token (const GstSttCredentialSources * src,
    SttIoWorker * worker, GTlsDatabase * tls_database, SttHttpCallback callback,
    gpointer user_data);

/* The token in a token service's answer @o (NULL: none): the member @field, else the
 * first non-empty of access_token, token, key_value and value. NULL if none. */
const gchar *gst_stt_credentials_find_token (JsonObject * o, const gchar * field);

/* The token in the token service's successful answer @data, into @c. FALSE with @error
 * (RESOURCE SETTINGS) when it has none. */
gboolean gst_stt_credentials_take_token (GstSttCredentials * c,
    const GstSttCredentialSources * src, const gchar * data, gsize len, GError ** error);

/* @url with @c's token, URI-escaped, in place of GST_STT_TOKEN_PLACEHOLDER; NULL when
 * the key is no token or @url has no placeholder. Wipe the result before freeing. */
gchar *gst_stt_credentials_fill_url (const GstSttCredentials * c, const gchar * url);

/* @text with the token (as is and URI-escaped) replaced by "***", or NULL for NULL: a
 * URL template or a server's words may quote it. */
gchar *gst_stt_credentials_scrub (const GstSttCredentials * c, const gchar * text);

G_END_DECLS
