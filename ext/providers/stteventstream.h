/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stteventstream: the AWS event-stream binary message format (application/
 * vnd.amazon.eventstream), as AWS's streaming services frame their events:
 *
 *   total length u32 | headers length u32 | prelude CRC32 (of the 8 bytes before)
 *   headers | payload | message CRC32 (of everything before it)
 *
 * big-endian, CRC32 as in zlib/gzip. A header is: name length u8, name, value type u8,
 * value (types 0 true, 1 false, 2 byte, 3 short, 4 int, 5 long, 6 bytes with a u16
 * length, 7 string with a u16 length, 8 timestamp (i64 ms), 9 UUID (16 bytes)).
 * Sources: providers.md section 9, checked against smithy-typescript's eventstream codec
 * (EventStreamCodec, HeaderMarshaller). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Prelude (12 bytes) and message CRC (4). */
#define STT_EVENT_STREAM_OVERHEAD 16

/* One message: string headers (@headers: name, value, ..., NULL) and @len bytes of
 * @payload. */
GBytes *stt_event_stream_encode (const gchar * const *headers, const guint8 * payload,
    gsize len);

/* Parses one whole message. On success: TRUE, @headers (name -> value) holding every
 * string header (the other types are checked and skipped), @payload pointing into
 * @data. FALSE with @error (a short reason) on any length or CRC mismatch, a truncated
 * header or an unknown header type. */
gboolean stt_event_stream_decode (const guint8 * data, gsize len, GHashTable ** headers,
    const guint8 ** payload, gsize * payload_len, gchar ** error);

G_END_DECLS
