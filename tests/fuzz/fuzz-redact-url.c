/* fuzz-redact-url: stt_redact_url (ext/soup/sttws.h), which every URL goes through before
 * it is logged or posted on the bus.
 *
 * Input: the URL (up to its first NUL byte).
 * Invariants: it returns a string; a URL without a query is returned as it is; and no
 * secret survives: for every query parameter whose name (percent-decoded, case
 * ignored, as a server reads it) is one of secret_names below, the output carries that
 * parameter with the value "***", and the value itself appears nowhere in the output.
 * The same holds for the password of a user:password@ part.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "fuzz.h"
#include "sttws.h"

/* Kept in step with the list in stt_redact_url. */
static const gchar *const secret_names[] = { "token", "key", "api_key", "apikey", "jwt",
  "access_token", "X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Credential", NULL
};

static gboolean
is_secret_name (const gchar * name, gsize len)
{
  g_autofree gchar *raw = g_strndup (name, len);
  g_autofree gchar *decoded = g_uri_unescape_string (raw, NULL);
  const gchar *n = decoded ? decoded : raw;
  guint i;

  for (i = 0; secret_names[i]; i++) {
    if (g_ascii_strcasecmp (n, secret_names[i]) == 0)
      return TRUE;
  }
  return FALSE;
}

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

/* @value was a secret in @url: it must not be in @out. A value that also appears
 * elsewhere in @url, or holds a '*', may show up in @out legitimately (the output is
 * the input with secret values replaced by "***"), so only values found once and
 * without '*' are checked; the fuzzer finds plenty of those. */
static void
check_hidden (const gchar * url, const gchar * out, const gchar * value, gsize len)
{
  g_autofree gchar *v = g_strndup (value, len);

  if (*v == '\0' || strchr (v, '*') || count_occurrences (url, v) != 1)
    return;
  FUZZ_CHECK (strstr (out, v) == NULL, "secret \"%s\" of \"%s\" left in \"%s\"", v, url,
      out);
}

/* Every secret parameter of the query of @url is hidden in @out. */
static void
check_query (const gchar * url, const gchar * out)
{
  const gchar *q = strchr (url, '?');
  const gchar *p;

  if (q == NULL)
    return;
  for (p = q + 1; *p;) {
    const gchar *amp = strchr (p, '&');
    const gchar *end = amp ? amp : p + strlen (p);
    const gchar *eq = memchr (p, '=', end - p);

    if (eq && is_secret_name (p, eq - p))
      check_hidden (url, out, eq + 1, end - eq - 1);
    p = amp ? amp + 1 : end;
  }
}

/* The output's own secret parameters all say "***". */
static void
check_output_query (const gchar * out)
{
  const gchar *q = strchr (out, '?');
  const gchar *p;

  if (q == NULL)
    return;
  for (p = q + 1; *p;) {
    const gchar *amp = strchr (p, '&');
    const gchar *end = amp ? amp : p + strlen (p);
    const gchar *eq = memchr (p, '=', end - p);

    if (eq && is_secret_name (p, eq - p))
      FUZZ_CHECK (end - eq - 1 == 3 && strncmp (eq + 1, "***", 3) == 0,
          "secret parameter not redacted in \"%s\"", out);
    p = amp ? amp + 1 : end;
  }
}

/* "scheme://user:password@host...": the password must go too. */
static void
check_userinfo (const gchar * url, const gchar * out)
{
  const gchar *auth = strstr (url, "://");
  const gchar *stop, *at, *colon;

  /* Only the scheme's: nothing of the path, query or fragment comes before it. */
  if (auth == NULL || (gsize) (auth - url) != strcspn (url, "/?#"))
    return;
  auth += 3;
  stop = auth + strcspn (auth, "/?#");
  at = memchr (auth, '@', stop - auth);
  if (at == NULL)
    return;
  /* The last '@' ends the user information. */
  while ((colon = memchr (at + 1, '@', stop - at - 1)) != NULL)
    at = colon;
  colon = memchr (auth, ':', at - auth);
  if (colon)
    check_hidden (url, out, colon + 1, at - colon - 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  g_autofree gchar *url = g_strndup ((const gchar *) data, size);
  g_autofree gchar *out = NULL;

  fuzz_init ();
  out = stt_redact_url (url);
  FUZZ_CHECK (out != NULL, "NULL for \"%s\"", url);
  if (strchr (url, '?') == NULL && strstr (url, "@") == NULL)
    FUZZ_CHECK (strcmp (out, url) == 0, "\"%s\" became \"%s\"", url, out);
  check_query (url, out);
  check_output_query (out);
  check_userinfo (url, out);
  FUZZ_CHECK (stt_redact_url (NULL) == NULL, "NULL in, not NULL out");
  return 0;
}
