/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  GST_STT_TO_CEA608_MODE_ROLL_UP2,
  GST_STT_TO_CEA608_MODE_ROLL_UP3,
  GST_STT_TO_CEA608_MODE_POP_ON,
} GstSttToCea608Mode;

#define GST_TYPE_STT_TO_CEA608_MODE (gst_stt_to_cea608_mode_get_type ())
GType gst_stt_to_cea608_mode_get_type (void);

#define GST_TYPE_STT_TO_CEA608 (gst_stt_to_cea608_get_type ())
G_DECLARE_FINAL_TYPE (GstSttToCea608, gst_stt_to_cea608, GST, STT_TO_CEA608, GstElement)

GST_ELEMENT_REGISTER_DECLARE (stttocea608);

G_END_DECLS
