/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_STT_PUBLISH (gst_stt_publish_get_type ())
G_DECLARE_FINAL_TYPE (GstSttPublish, gst_stt_publish, GST, STT_PUBLISH, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (sttpublish);

/* The GstCustomMeta (registered with the element) a text buffer may carry to tell
 * sttpublish more than its text: `final` (b: FALSE for an interim caption; a buffer
 * without the meta is final), `speaker` (s), `language` (s). Applications add it with
 * gst_buffer_add_custom_meta (buf, GST_STT_TEXT_META_NAME) once the plugin is loaded. */
#define GST_STT_TEXT_META_NAME "GstSttTextMeta"

/* The bus message of connection changes. */
#define GST_STT_PUBLISH_MESSAGE_CONNECTION "sttpublish-connection"

G_END_DECLS
