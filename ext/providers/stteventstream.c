/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stteventstream.c: encoder and decoder of AWS event-stream messages (see the header).
 * The CRC32 is zlib's. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <zlib.h>

#include "stteventstream.h"

/* AWS's own limits: 16 MiB a message, 128 KiB of headers. */
#define MAX_MESSAGE (16 * 1024 * 1024)
#define MAX_HEADERS (128 * 1024)

static guint32
crc (const guint8 * data, gsize len)
{
  return (guint32) crc32 (0L, data, (uInt) len);
}

static guint32
get_u32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
put_u32 (guint8 * p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

GBytes *
stt_event_stream_encode (const gchar * const *headers, const guint8 * payload, gsize len)
{
  GByteArray *a = g_byte_array_sized_new (STT_EVENT_STREAM_OVERHEAD + len + 96);
  guint8 prelude[12], tail[4];
  gsize headers_len;
  guint i;

  g_byte_array_append (a, prelude, sizeof (prelude));
  for (i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
    gsize n = strlen (headers[i]), v = strlen (headers[i + 1]);
    guint8 b[3];

    g_return_val_if_fail (n > 0 && n < 256 && v < 65536, NULL);
    b[0] = n;
    g_byte_array_append (a, b, 1);
    g_byte_array_append (a, (const guint8 *) headers[i], n);
    b[0] = 7;                   /* string */
    b[1] = v >> 8;
    b[2] = v & 0xff;
    g_byte_array_append (a, b, 3);
    g_byte_array_append (a, (const guint8 *) headers[i + 1], v);
  }
  headers_len = a->len - sizeof (prelude);
  if (len)
    g_byte_array_append (a, payload, len);
  put_u32 (a->data, a->len + sizeof (tail));
  put_u32 (a->data + 4, headers_len);
  put_u32 (a->data + 8, crc (a->data, 8));
  put_u32 (tail, crc (a->data, a->len));
  g_byte_array_append (a, tail, sizeof (tail));
  return g_byte_array_free_to_bytes (a);
}

/* Size of a header value of @type at @p (at most @left bytes), or -1. */
static gssize
value_size (guint8 type, const guint8 * p, gsize left)
{
  switch (type) {
    case 0:
    case 1:
      return 0;
    case 2:
      return 1;
    case 3:
      return 2;
    case 4:
      return 4;
    case 5:
    case 8:
      return 8;
    case 9:
      return 16;
    case 6:
    case 7:
      if (left < 2)
        return -1;
      return 2 + ((p[0] << 8) | p[1]);
    default:
      return -1;
  }
}

gboolean
stt_event_stream_decode (const guint8 * data, gsize len, GHashTable ** headers,
    const guint8 ** payload, gsize * payload_len, gchar ** error)
{
  guint32 total, hlen;
  const guint8 *p, *end;
  GHashTable *h;

  *headers = NULL;
  if (len < STT_EVENT_STREAM_OVERHEAD) {
    *error = g_strdup_printf ("event-stream message of %" G_GSIZE_FORMAT " bytes", len);
    return FALSE;
  }
  total = get_u32 (data);
  hlen = get_u32 (data + 4);
  if (get_u32 (data + 8) != crc (data, 8)) {
    *error = g_strdup ("event-stream prelude CRC mismatch");
    return FALSE;
  }
  if (total != len || total > MAX_MESSAGE || hlen > MAX_HEADERS
      || hlen > total - STT_EVENT_STREAM_OVERHEAD) {
    *error = g_strdup_printf ("event-stream lengths %u/%u in a frame of %" G_GSIZE_FORMAT
        " bytes", total, hlen, len);
    return FALSE;
  }
  if (get_u32 (data + len - 4) != crc (data, len - 4)) {
    *error = g_strdup ("event-stream message CRC mismatch");
    return FALSE;
  }
  h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p = data + 12;
  end = p + hlen;
  while (p < end) {
    guint8 nlen = p[0], type;
    gssize vsize;
    const guint8 *name;

    if (nlen == 0 || (gsize) (end - p) < 2u + nlen) {
      *error = g_strdup ("truncated event-stream header");
      goto fail;
    }
    name = p + 1;
    p += 1 + nlen;
    type = *p++;
    vsize = value_size (type, p, end - p);
    if (vsize < 0 || vsize > end - p) {
      *error = vsize < 0 && type > 9 ?
          g_strdup_printf ("unknown event-stream header type %u", type) :
          g_strdup ("truncated event-stream header value");
      goto fail;
    }
    if (type == 7) {
      gchar *value = g_strndup ((const gchar *) p + 2, vsize - 2);

      if (g_utf8_validate (value, -1, NULL) && memchr (name, 0, nlen) == NULL)
        g_hash_table_replace (h, g_strndup ((const gchar *) name, nlen), value);
      else
        g_free (value);
    }
    p += vsize;
  }
  *headers = h;
  *payload = end;
  *payload_len = total - STT_EVENT_STREAM_OVERHEAD - hlen;
  return TRUE;

fail:
  g_hash_table_unref (h);
  return FALSE;
}
