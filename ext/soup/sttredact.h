/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttredact: URLs made safe to log, post on the bus or put in an error. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @url with the secrets replaced by "***": the password of "scheme://user:password@"
 * (or "//user:password@"), and the value of every parameter of the query and of the
 * fragment (separated by '&' or ';') whose name, percent-decoded and case ignored, carries
 * a secret: token, key, api_key, apikey, api-key, x-api-key, jwt, access_token, auth,
 * authorization, sig, signature, client_secret, password, access_key and AWS's
 * X-Amz-Signature, X-Amz-Security-Token, X-Amz-Credential. NULL for NULL. */
gchar *stt_redact_url (const gchar * url);

G_END_DECLS
