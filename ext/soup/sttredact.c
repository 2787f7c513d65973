/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttredact.c: the redaction of secrets in URLs, one scan of the URL's parts. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "sttredact.h"

static const gchar *const secret_params[] = { "token", "key", "api_key", "apikey",
  "api-key", "x-api-key", "jwt", "access_token", "auth", "authorization", "sig",
  "signature", "client_secret", "password", "access_key", "X-Amz-Signature",
  "X-Amz-Security-Token", "X-Amz-Credential", NULL
};

/* Longer than any name of secret_params. */
#define MAX_NAME 32

/* Whether the parameter name @name (@len bytes) carries a secret, compared as the server
 * reads it: percent-decoded ("%74oken" is "token"), case ignored, and ending at a decoded
 * NUL, as it does for a server written in C. */
static gboolean
is_secret_param (const gchar * name, gsize len)
{
  gchar decoded[MAX_NAME + 1];
  gsize i, n = 0;
  guint k;

  for (i = 0; i < len && n < MAX_NAME; i++, n++) {
    if (name[i] == '%' && i + 2 < len && g_ascii_isxdigit (name[i + 1])
        && g_ascii_isxdigit (name[i + 2])) {
      decoded[n] = (gchar) (g_ascii_xdigit_value (name[i + 1]) * 16 +
          g_ascii_xdigit_value (name[i + 2]));
      i += 2;
      if (decoded[n] == '\0')
        break;
    } else {
      decoded[n] = name[i];
    }
  }
  /* Too long to be one of ours. */
  if (i < len && n == MAX_NAME)
    return FALSE;
  decoded[n] = '\0';
  for (k = 0; secret_params[k]; k++) {
    if (g_ascii_strcasecmp (decoded, secret_params[k]) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Appends the parameter list [@p, @end) to @out, secret values replaced. */
static void
append_params (GString * out, const gchar * p, const gchar * end)
{
  while (p < end) {
    const gchar *sep = p;
    const gchar *eq;

    while (sep < end && *sep != '&' && *sep != ';')
      sep++;
    eq = memchr (p, '=', sep - p);
    if (eq && is_secret_param (p, eq - p)) {
      g_string_append_len (out, p, eq + 1 - p);
      g_string_append (out, "***");
    } else {
      g_string_append_len (out, p, sep - p);
    }
    if (sep < end)
      g_string_append_c (out, *sep);
    p = sep + 1;
  }
}

/* Where the authority of @url starts ("scheme://" or "//" before it), or NULL. */
static const gchar *
find_authority (const gchar * url)
{
  const gchar *p = url;

  /* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
  if (g_ascii_isalpha (*p)) {
    while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
      p++;
    if (*p != ':')
      return NULL;
    p++;
  }
  return strncmp (p, "//", 2) == 0 ? p + 2 : NULL;
}

gchar *
stt_redact_url (const gchar * url)
{
  GString *out;
  const gchar *p = url, *auth, *rest, *end;

  if (url == NULL)
    return NULL;
  out = g_string_sized_new (strlen (url) + 8);
  end = url + strlen (url);

  /* The password: the user information ends at the authority's last '@' (an unescaped
   * '@' in a password is wrong, but seen), the user name at its first ':'. */
  auth = find_authority (url);
  if (auth) {
    const gchar *auth_end = auth + strcspn (auth, "/?#");
    const gchar *at = NULL, *c, *colon;

    for (c = auth; c < auth_end; c++) {
      if (*c == '@')
        at = c;
    }
    colon = at ? memchr (auth, ':', at - auth) : NULL;
    if (colon) {
      g_string_append_len (out, url, colon + 1 - url);
      g_string_append (out, "***");
      p = at;
    }
  }

  /* The query runs from the first '?' to the '#' of the fragment. */
  rest = p + strcspn (p, "?#");
  g_string_append_len (out, p, rest - p);
  if (*rest == '?') {
    const gchar *q_end = rest + 1 + strcspn (rest + 1, "#");

    g_string_append_c (out, '?');
    append_params (out, rest + 1, q_end);
    rest = q_end;
  }
  /* Fragments carry tokens too (OAuth's "#access_token="). */
  if (*rest == '#') {
    g_string_append_c (out, '#');
    append_params (out, rest + 1, end);
  }
  return g_string_free (out, FALSE);
}
