/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_STT_SINK (gst_stt_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstSttSink, gst_stt_sink, GST, STT_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (sttsink);

G_END_DECLS
