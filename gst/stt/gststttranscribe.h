#pragma once

#include "gststtbase.h"

G_BEGIN_DECLS

#define GST_TYPE_STT_TRANSCRIBE (gst_stt_transcribe_get_type ())
G_DECLARE_FINAL_TYPE (GstSttTranscribe, gst_stt_transcribe, GST, STT_TRANSCRIBE, GstSttBase)

GST_ELEMENT_REGISTER_DECLARE (stttranscribe);

G_END_DECLS
