/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sttprovider.c: the provider registry and the chores every provider shares. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <string.h>

#include "sttprovider.h"
#include "sttproviders-list.h"

/* In the order of sttproviders.def. */
static const SttProviderInfo *const providers[] = {
#define STT_PROVIDER(name) &stt_provider_##name,
#include "sttproviders.def"
#undef STT_PROVIDER
  NULL
};

static const gchar *provider_names[G_N_ELEMENTS (providers)];

const SttProviderInfo *
stt_provider_lookup (const gchar * name)
{
  guint i;

  if (name == NULL)
    return NULL;
  for (i = 0; providers[i] != NULL; i++) {
    if (g_ascii_strcasecmp (providers[i]->name, name) == 0)
      return providers[i];
  }
  return NULL;
}

const gchar *const *
stt_provider_names (void)
{
  static gsize init = 0;

  if (g_once_init_enter (&init)) {
    guint i;
    for (i = 0; providers[i] != NULL; i++)
      provider_names[i] = providers[i]->name;
    provider_names[i] = NULL;
    g_once_init_leave (&init, 1);
  }
  return provider_names;
}

gchar *
stt_provider_env_key_name (const SttProviderInfo * info)
{
  gchar *upper = g_ascii_strup (info->name, -1);
  gchar *ret = g_strdup_printf ("%s_API_KEY", upper);

  g_free (upper);
  return ret;
}

SttFailure
stt_provider_classify_close (SttProviderState * st, gushort code, const gchar * reason)
{
  if (st->info->classify_close)
    return st->info->classify_close (st, code, reason);
  return stt_failure_from_close (code);
}

SttFailure
stt_provider_classify_http (SttProviderState * st, guint status)
{
  if (st->info->classify_http)
    return st->info->classify_http (st, status);
  return stt_failure_from_http (status);
}

void
stt_provider_clear_priv (SttProviderState * st)
{
  if (st->priv == NULL)
    return;
  if (st->info->free_priv)
    st->info->free_priv (st->priv);
  else
    g_free (st->priv);
  st->priv = NULL;
}

/* SttRequest's and SttHttpInit's header lists: name, value, name, value... */
static void
headers_add (GPtrArray ** headers, const gchar * name, const gchar * value)
{
  if (*headers == NULL)
    *headers = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (*headers, g_strdup (name));
  g_ptr_array_add (*headers, g_strdup (value));
}

void
stt_request_clear (SttRequest * req)
{
  g_clear_pointer (&req->url, g_free);
  g_clear_pointer (&req->headers, g_ptr_array_unref);
  g_clear_pointer (&req->protocols, g_strfreev);
}

void
stt_request_add_header (SttRequest * req, const gchar * name, const gchar * value)
{
  headers_add (&req->headers, name, value);
}

void
stt_http_init_clear (SttHttpInit * init)
{
  g_clear_pointer (&init->method, g_free);
  g_clear_pointer (&init->url, g_free);
  g_clear_pointer (&init->headers, g_ptr_array_unref);
  g_clear_pointer (&init->body, g_bytes_unref);
  g_clear_pointer (&init->content_type, g_free);
}

void
stt_http_init_add_header (SttHttpInit * init, const gchar * name, const gchar * value)
{
  headers_add (&init->headers, name, value);
}

static void
stt_word_clear (gpointer p)
{
  SttWord *w = p;

  g_free (w->text);
  g_free (w->speaker);
}

GBytes *
stt_frame_audio_binary (SttProviderState * st, const guint8 * data, gsize len,
    SttFrameType * type)
{
  *type = STT_FRAME_BINARY;
  return g_bytes_new_static (data, len);
}

SttResult *
stt_result_new (void)
{
  SttResult *r = g_new0 (SttResult, 1);

  r->start = r->end = -1;
  r->confidence = -1;
  r->words = g_array_new (FALSE, TRUE, sizeof (SttWord));
  g_array_set_clear_func (r->words, stt_word_clear);
  return r;
}

void
stt_result_free (SttResult * r)
{
  if (r == NULL)
    return;
  g_free (r->segment_key);
  g_free (r->text);
  g_free (r->language);
  g_array_unref (r->words);
  g_free (r);
}

void
stt_parse_output_init (SttParseOutput * out)
{
  memset (out, 0, sizeof (*out));
  out->results = g_ptr_array_new_with_free_func ((GDestroyNotify) stt_result_free);
  out->processed = -1;
}

void
stt_parse_output_clear (SttParseOutput * out)
{
  g_clear_pointer (&out->results, g_ptr_array_unref);
  g_clear_pointer (&out->error, g_free);
}

SttFailure
stt_failure_from_http (guint status)
{
  if (status == 401 || status == 403)
    return STT_FAILURE_AUTH;
  /* 408 (timeout) and 429 (rate limit) are transient; so is every server error. */
  if (status == 408 || status == 429 || status >= 500)
    return STT_FAILURE_RETRY;
  /* A redirect is not followed (credentials would go with it): it would come again. */
  if (status >= 300)
    return STT_FAILURE_FATAL;
  /* No status at all: the network failed before an answer. */
  return STT_FAILURE_RETRY;
}

SttFailure
stt_failure_from_close (gushort code)
{
  switch (code) {
    case 1000:                 /* normal */
      return STT_FAILURE_NONE;
    case 1002:                 /* protocol error */
    case 1003:                 /* unsupported data */
    case 1007:                 /* invalid payload */
    case 1010:                 /* missing extension */
      return STT_FAILURE_FATAL;
    case 1008:                 /* policy violation: how services say "not authorised" */
      return STT_FAILURE_AUTH;
    default:
      /* 1001 going away, 1005 no status, 1006 abnormal, 1009 (we closed on a server
       * message over our size limit: the server's fault, and backoff bounds a repeat),
       * 1011 internal error, 1012 service restart, 1013 try again later, and anything
       * unknown: try again. */
      return STT_FAILURE_RETRY;
  }
}

const gchar *
stt_failure_name (SttFailure f)
{
  switch (f) {
    case STT_FAILURE_NONE:
      return "none";
    case STT_FAILURE_RETRY:
      return "retryable";
    case STT_FAILURE_AUTH:
      return "authentication";
    case STT_FAILURE_FATAL:
      return "fatal";
  }
  return "unknown";
}

static void
append_param (GString * s, gboolean * first, const gchar * k, const gchar * v)
{
  g_string_append_c (s, *first ? '?' : '&');
  *first = FALSE;
  g_string_append_uri_escaped (s, k, NULL, FALSE);
  g_string_append_c (s, '=');
  g_string_append_uri_escaped (s, v, NULL, FALSE);
}

gchar *
stt_build_url (const gchar * base, const SttProviderConfig * config, ...)
{
  GString *s = g_string_new (base);
  gboolean first = strchr (base, '?') == NULL;
  const gchar *k;
  va_list ap;

  va_start (ap, config);
  while ((k = va_arg (ap, const gchar *)) != NULL) {
    const gchar *v = va_arg (ap, const gchar *);

    /* A user-given param of the same name wins. */
    if (v == NULL || (config->params && g_hash_table_contains (config->params, k)))
      continue;
    append_param (s, &first, k, v);
  }
  va_end (ap);

  if (config->params) {
    GHashTableIter it;
    gpointer hk, hv;
    GList *keys = NULL, *l;

    /* Sorted, so that URLs are stable and testable. */
    g_hash_table_iter_init (&it, config->params);
    while (g_hash_table_iter_next (&it, &hk, &hv))
      keys = g_list_prepend (keys, hk);
    keys = g_list_sort (keys, (GCompareFunc) g_strcmp0);
    for (l = keys; l; l = l->next)
      append_param (s, &first, l->data, g_hash_table_lookup (config->params, l->data));
    g_list_free (keys);
  }
  return g_string_free (s, FALSE);
}
