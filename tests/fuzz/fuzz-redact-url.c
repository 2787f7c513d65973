/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-redact-url: stt_redact_url (ext/soup/sttredact.h), which every URL goes through
 * before it is logged, posted on the bus or put in an error.
 *
 * Input: the URL (up to its first NUL byte).
 * Invariants: it returns a string; a URL without '?', '#' or '@' is returned as it is;
 * and no secret survives:
 * - the password of "scheme://user:password@host" (or "//user:password@host"), as an
 *   RFC 3986 scan finds it and as GLib's own URI parser finds it;
 * - the value of every parameter of the query or the fragment (separated by '&' or ';')
 *   whose name, percent-decoded and case ignored, is one of secret_names below. Such a
 *   parameter also reads "name=***" in the output.
 * The oracle is written independently of the implementation (its own scans, its own
 * decoding, its own copy of the list from the issue), so a mistake in one is not
 * copied into the other.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "fuzz.h"
#include "sttredact.h"

/* The parameters that carry secrets, as the issue names them. */
static const gchar *const secret_names[] = { "token", "key", "api_key", "apikey", "jwt",
  "access_token", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Credential",
  "api-key", "x-api-key", "auth", "authorization", "sig", "signature", "client_secret",
  "password", "access_key", NULL
};

static gint
hex_value (gchar c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = g_ascii_tolower (c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* @name as a server reads it: valid %XX escapes decoded, an invalid one kept as it is;
 * a decoded NUL ends the name, as it does for a server written in C. */
static gchar *
decode_name (const gchar * name, gsize len)
{
  GString *s = g_string_new (NULL);
  gsize i;

  for (i = 0; i < len; i++) {
    if (name[i] == '%' && i + 2 < len && hex_value (name[i + 1]) >= 0
        && hex_value (name[i + 2]) >= 0) {
      gchar c = (gchar) (hex_value (name[i + 1]) * 16 + hex_value (name[i + 2]));

      if (c == '\0')
        break;
      g_string_append_c (s, c);
      i += 2;
    } else {
      g_string_append_c (s, name[i]);
    }
  }
  return g_string_free (s, FALSE);
}

static gboolean
is_secret_name (const gchar * name, gsize len)
{
  g_autofree gchar *n = decode_name (name, len);
  guint i;

  for (i = 0; secret_names[i]; i++) {
    if (g_ascii_strcasecmp (n, secret_names[i]) == 0)
      return TRUE;
  }
  return FALSE;
}

/* Occurrences of @needle in @haystack, overlapping ones included. */
static guint
count_occurrences (const gchar * haystack, const gchar * needle)
{
  guint n = 0;
  const gchar *p = haystack;

  while ((p = strstr (p, needle)) != NULL) {
    n++;
    p++;
  }
  return n;
}

/* @value (@len bytes) was a secret in @url: its occurrence there must be gone from @out.
 * The output is the input with secrets replaced by "***", so every occurrence of a
 * value without '*' in @out lies in text copied from @url, never across a "***": the
 * value must occur in @out fewer times than in @url. */
static void
check_hidden (const gchar * url, const gchar * out, const gchar * value, gsize len,
    const gchar * what)
{
  g_autofree gchar *v = g_strndup (value, len);

  /* Not in @url as it is (GLib's parser escapes bytes it finds invalid): the scan of
   * check_userinfo_scan sees the text as it is. */
  if (*v == '\0' || strchr (v, '*') || strstr (url, v) == NULL)
    return;
  FUZZ_CHECK (count_occurrences (out, v) < count_occurrences (url, v),
      "%s \"%s\" of \"%s\" left in \"%s\"", what, v, url, out);
}

/* Calls @func on every "name=value" of the parameter list [@start, @end). */
typedef void (*ParamFunc) (const gchar * name, gsize name_len, const gchar * value,
    gsize value_len, gpointer data);

static void
foreach_param (const gchar * start, const gchar * end, ParamFunc func, gpointer data)
{
  const gchar *p = start;

  while (p < end) {
    const gchar *sep = p;
    const gchar *eq;

    while (sep < end && *sep != '&' && *sep != ';')
      sep++;
    eq = memchr (p, '=', sep - p);
    if (eq)
      func (p, eq - p, eq + 1, sep - eq - 1, data);
    p = sep + 1;
  }
}

/* Calls @func on the parameters of the query and of the fragment of @url. The query
 * runs from the first '?' to the first '#' after it; the fragment from the first '#'. */
static void
foreach_url_param (const gchar * url, ParamFunc func, gpointer data)
{
  const gchar *end = url + strlen (url);
  const gchar *hash = strchr (url, '#');
  const gchar *q = strchr (url, '?');

  if (q && (hash == NULL || q < hash))
    foreach_param (q + 1, hash ? hash : end, func, data);
  if (hash)
    foreach_param (hash + 1, end, func, data);
}

typedef struct
{
  const gchar *url, *out;
} Pair;

static void
check_input_param (const gchar * name, gsize name_len, const gchar * value,
    gsize value_len, gpointer data)
{
  Pair *pair = data;

  if (is_secret_name (name, name_len))
    check_hidden (pair->url, pair->out, value, value_len, "secret parameter value");
}

static void
check_output_param (const gchar * name, gsize name_len, const gchar * value,
    gsize value_len, gpointer data)
{
  const gchar *out = data;

  if (is_secret_name (name, name_len))
    FUZZ_CHECK (value_len == 3 && strncmp (value, "***", 3) == 0,
        "secret parameter not redacted in \"%s\"", out);
}

/* The password as RFC 3986 puts it: "scheme://" (scheme = ALPHA *( ALPHA / DIGIT / "+" /
 * "-" / "." )) or "//", then the authority up to the first '/', '?' or '#'; the user
 * information ends at its last '@', the user name at the first ':' of it. */
static gchar *
raw_password (const gchar * url)
{
  const gchar *p = url, *auth, *auth_end, *at = NULL, *colon, *c;

  if (g_ascii_isalpha (*p)) {
    while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
      p++;
    if (*p != ':')
      return NULL;
    p++;
  }
  if (strncmp (p, "//", 2) != 0)
    return NULL;
  auth = p + 2;
  auth_end = auth;
  while (*auth_end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
    auth_end++;
  for (c = auth; c < auth_end; c++) {
    if (*c == '@')
      at = c;
  }
  if (at == NULL)
    return NULL;
  colon = memchr (auth, ':', at - auth);
  return colon ? g_strndup (colon + 1, at - colon - 1) : NULL;
}

static void
check_userinfo_scan (const gchar * url, const gchar * out)
{
  g_autofree gchar *password = raw_password (url);

  if (password)
    check_hidden (url, out, password, strlen (password), "password");
}

/* The password as GLib parses it, strictly, like libsoup and the element do. (Relaxed
 * parsing also drops tabs and line breaks anywhere in the URL, which libsoup refuses.)
 * Only when it is the URL's own text: GLib escapes bytes it finds invalid ("\377"
 * becomes "%FF"), and that text elsewhere in the URL (a user name, a query value) is no
 * secret; check_userinfo_scan covers the bytes as written. */
static void
check_userinfo_glib (const gchar * url, const gchar * out)
{
  g_autofree gchar *password = NULL;
  g_autofree gchar *raw = raw_password (url);

  if (g_uri_split_with_user (url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED, NULL,
          NULL, &password, NULL, NULL, NULL, NULL, NULL, NULL, NULL) && password
      && g_strcmp0 (raw, password) == 0)
    check_hidden (url, out, password, strlen (password), "password");
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *url = g_strndup ((const gchar *) data, size);
  g_autofree gchar *out = NULL;
  Pair pair;

  fuzz_init ();
  out = stt_redact_url (url);
  FUZZ_CHECK (out != NULL, "NULL for \"%s\"", url);
  if (strpbrk (url, "?#@") == NULL)
    FUZZ_CHECK (strcmp (out, url) == 0, "\"%s\" became \"%s\"", url, out);
  pair.url = url;
  pair.out = out;
  foreach_url_param (url, check_input_param, &pair);
  foreach_url_param (out, check_output_param, out);
  check_userinfo_scan (url, out);
  check_userinfo_glib (url, out);
  FUZZ_CHECK (stt_redact_url (NULL) == NULL, "NULL in, not NULL out");
  return 0;
}
