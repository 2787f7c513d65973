/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-fault-stream: a GIOStream over a server connection that can stop, or end, on
 * command.
 *
 * SoupWebsocketConnection reads and writes its stream without pause: it answers pings on
 * its own and accepts only some close codes. Wrapping the stolen connection gives the
 * faults their meaning: STALL makes the stream never readable nor writable (no more reads,
 * no pong, TCP backpressure on the client), EOF makes it read end-of-file so libsoup drops
 * the connection at once. The base stream is reachable for raw writes (close frames with
 * any code). Server-thread only.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  STT_TEST_FAULT_STREAM_PASS,
  STT_TEST_FAULT_STREAM_STALL,
  STT_TEST_FAULT_STREAM_EOF,
  /* Reads nothing (the peer's writes back up), writes as usual. */
  STT_TEST_FAULT_STREAM_DEAF,
} SttTestFaultStreamMode;

#define STT_TEST_TYPE_FAULT_STREAM (stt_test_fault_stream_get_type ())
G_DECLARE_FINAL_TYPE (SttTestFaultStream, stt_test_fault_stream, STT_TEST, FAULT_STREAM,
    GIOStream)

/* @base must have pollable input and output streams. */
SttTestFaultStream *stt_test_fault_stream_new (GIOStream * base);
void stt_test_fault_stream_set_mode (SttTestFaultStream * stream, SttTestFaultStreamMode mode);
SttTestFaultStreamMode stt_test_fault_stream_get_mode (SttTestFaultStream * stream);
GIOStream *stt_test_fault_stream_get_base (SttTestFaultStream * stream);

G_END_DECLS
