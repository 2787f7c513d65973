/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gststtawscreds: where AWS credentials come from, in the order of AWS's own tools:
 * the element's properties (access-key, secret-access-key, session-token), then the
 * environment ($AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN), then
 * the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials)
 * and the config file ($AWS_CONFIG_FILE, else ~/.aws/config), profile $AWS_PROFILE or
 * "default". The region: the region property, $AWS_REGION, $AWS_DEFAULT_REGION, then
 * the profile's `region` in the config file. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct
{
  gchar *access_key_id;
  gchar *secret_key;            /* wiped when cleared */
  gchar *session_token;         /* wiped when cleared; NULL when none */
  gchar *region;                /* NULL when none was found */
  gchar *source;                /* where the key pair came from, for messages */
} GstSttAwsCredentials;

/* Fills @out. FALSE with @error (GST_RESOURCE_ERROR NOT_AUTHORIZED, naming every place
 * looked at; SETTINGS for half a key pair) when no complete key pair is found. A missing
 * region is not an error here (the URL's host may name it). */
gboolean gst_stt_aws_credentials_resolve (const gchar * access_key,
    const gchar * secret_key, const gchar * session_token, const gchar * region,
    GstSttAwsCredentials * out, GError ** error);

void gst_stt_aws_credentials_clear (GstSttAwsCredentials * c);

G_END_DECLS
