/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plugin.c: registers the stt plugin's elements. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gststttranscribe.h"
#include "gststtsink.h"
#include "gststttocea608.h"
#include "gststtpublish.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (stttranscribe, plugin);
  ret |= GST_ELEMENT_REGISTER (sttsink, plugin);
  ret |= GST_ELEMENT_REGISTER (stttocea608, plugin);
  ret |= GST_ELEMENT_REGISTER (sttpublish, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, stt,
    "Speech to text over WebSockets", plugin_init, VERSION, GST_LICENSE,
    GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
