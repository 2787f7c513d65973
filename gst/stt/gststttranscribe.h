/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gststtbase.h"

G_BEGIN_DECLS

#define GST_TYPE_STT_TRANSCRIBE (gst_stt_transcribe_get_type ())
G_DECLARE_FINAL_TYPE (GstSttTranscribe, gst_stt_transcribe, GST, STT_TRANSCRIBE, GstSttBase)

typedef enum
{
  GST_STT_OUTPUT_MODE_AUTO,     /* words for live input, segments otherwise */
  GST_STT_OUTPUT_MODE_WORDS,
  GST_STT_OUTPUT_MODE_SEGMENTS,
} GstSttOutputMode;

#define GST_TYPE_STT_OUTPUT_MODE (gst_stt_output_mode_get_type ())
GType gst_stt_output_mode_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (stttranscribe);

G_END_DECLS
