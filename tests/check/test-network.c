/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network-aware recovery: when GLib's GNetworkMonitor says the network is back, a
 * pending backoff wait is cut short. The test installs its own GNetworkMonitor
 * implementation (at GIO's extension point, before the plugin asks for the default one)
 * so it can say when the network goes and comes back. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gio/gio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"
#include "stt-fault-proxy.h"

/* --- a GNetworkMonitor the test controls ------------------------------------------ */

#define TEST_TYPE_MONITOR (test_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestMonitor, test_monitor, TEST, MONITOR, GObject);

struct _TestMonitor
{
  GObject parent;
  gboolean available;
};

enum
{
  PROP_0,
  PROP_AVAILABLE,
  PROP_METERED,
  PROP_CONNECTIVITY,
};

static void test_monitor_iface_init (GNetworkMonitorInterface * iface);
static void test_monitor_initable_init (GInitableIface * iface);

/* GInitable first: GNetworkMonitor requires it. */
G_DEFINE_TYPE_WITH_CODE (TestMonitor, test_monitor, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, test_monitor_initable_init)
    G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, test_monitor_iface_init));

static void
test_monitor_get_property (GObject * object, guint id, GValue * value, GParamSpec * pspec)
{
  TestMonitor *m = TEST_MONITOR (object);

  switch (id) {
    case PROP_AVAILABLE:
      g_value_set_boolean (value, m->available);
      break;
    case PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case PROP_CONNECTIVITY:
      g_value_set_enum (value, m->available ? G_NETWORK_CONNECTIVITY_FULL :
          G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
  }
}

static void
test_monitor_class_init (TestMonitorClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->get_property = test_monitor_get_property;
  g_object_class_override_property (oc, PROP_AVAILABLE, "network-available");
  g_object_class_override_property (oc, PROP_METERED, "network-metered");
  g_object_class_override_property (oc, PROP_CONNECTIVITY, "connectivity");
}

static void
test_monitor_init (TestMonitor * m)
{
  m->available = TRUE;
}

static void
test_monitor_iface_init (GNetworkMonitorInterface * iface)
{
}

static gboolean
test_monitor_initable (GInitable * initable, GCancellable * c, GError ** error)
{
  return TRUE;
}

static void
test_monitor_initable_init (GInitableIface * iface)
{
  iface->init = test_monitor_initable;
}

static void
set_network (gboolean available)
{
  TestMonitor *m = TEST_MONITOR (g_network_monitor_get_default ());

  m->available = available;
  g_signal_emit_by_name (m, "network-changed", available);
}

/* --------------------------------------------------------------------------------- */

static gboolean
connected (GList * collected, gpointer data)
{
  for (; collected; collected = collected->next) {
    if (!g_strcmp0 (gst_structure_get_string (collected->data, "state"), "connected"))
      return TRUE;
  }
  return FALSE;
}

static gboolean
waiting_long (GList * collected, gpointer data)
{
  for (; collected; collected = collected->next) {
    GstClockTime retry_in = 0;
    if (!g_strcmp0 (gst_structure_get_string (collected->data, "state"), "reconnecting")
        && gst_structure_get_clock_time (collected->data, "retry-in", &retry_in)
        && retry_in >= 10 * GST_SECOND)
      return TRUE;
  }
  return FALSE;
}

GST_START_TEST (test_network_back_cuts_backoff)
{
  static const SttTone tones[] = { {0.5, 0.9, 400} };
  SttTestServer *server = stt_test_server_new ("deepgram", NULL);
  SttFaultProxy *proxy = stt_fault_proxy_new (stt_test_server_get_port (server), NULL);
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/v1/listen",
      stt_fault_proxy_get_port (proxy));
  GstHarness *h = gst_harness_new_with_padnames ("stttranscribe", "sink", "src");
  GstBus *bus = gst_bus_new ();
  GList *msgs;
  gint64 t0;

  gst_element_set_bus (h->element, bus);
  g_object_set (h->element, "provider", "deepgram", "url", url, "api-key", "test-key",
      "reconnect-initial-delay", 30 * GST_SECOND, "reconnect-max-delay", 30 * GST_SECOND,
      NULL);
  gst_harness_set_src_caps (h, stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, 16000, 1));
  gst_harness_push (h, stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, 16000, 1, 1.0, tones,
          1, 0));
  fail_unless (stt_test_server_wait_connections (server, 1, FALSE, 5000));

  /* The network goes: connections drop and fail; the element waits 15-30 s. */
  set_network (FALSE);
  stt_fault_proxy_set_refuse (proxy, TRUE);
  stt_fault_proxy_drop_all (proxy);
  msgs = stt_check_collect (bus, "stt-connection", 10000, waiting_long, NULL);
  fail_unless (waiting_long (msgs, NULL), "no long backoff wait");
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  /* It comes back: the element reconnects now, not in 15 s. */
  stt_fault_proxy_set_refuse (proxy, FALSE);
  t0 = g_get_monotonic_time ();
  set_network (TRUE);
  msgs = stt_check_collect (bus, "stt-connection", 10000, connected, NULL);
  fail_unless (connected (msgs, NULL), "no reconnection");
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC);
  /* The server counts the connection on its own thread, maybe just after the client
   * saw the upgrade: wait for it (bounded), then make sure there was no other. */
  fail_unless (stt_test_server_wait_connections (server, 2, FALSE, 5000));
  fail_unless_equals_int (stt_test_server_get_n_connections (server), 2);
  g_list_free_full (msgs, (GDestroyNotify) gst_structure_free);

  gst_element_set_bus (h->element, NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  stt_fault_proxy_free (proxy);
  stt_test_server_free (server);
}

GST_END_TEST;

static Suite *
network_suite (void)
{
  Suite *s = suite_create ("network");
  TCase *tc = tcase_create ("general");

  /* Ours wins over GLib's own monitors (netlink, NetworkManager...). Registering the
   * point first is harmless: GIO's own registration finds it and sets its type. */
  g_io_extension_point_register (G_NETWORK_MONITOR_EXTENSION_POINT_NAME);
  g_io_extension_point_implement (G_NETWORK_MONITOR_EXTENSION_POINT_NAME,
      TEST_TYPE_MONITOR, "stt-test", G_MAXINT);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_network_back_cuts_backoff);
  return s;
}

GST_CHECK_MAIN (network);
