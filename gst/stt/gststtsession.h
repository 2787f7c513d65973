/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstSttSession: one stream's conversation with a speech-to-text service, driven on one
 * shared I/O worker thread: connect, send the ring in chunks, keepalive, parse results,
 * reconnect with backoff and replay, drain at end of stream.
 *
 * Public functions may be called from any thread. Callbacks run on the I/O thread with
 * no lock held, and never after gst_stt_session_stop() returned. */
#pragma once

#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include "gststtring.h"
#include "gststttimeline.h"
#include "gststtstats.h"
#include "gststtmessage.h"
#include "sttprovider.h"
#include "gststtcredentials.h"
#include "gststtsettings.h"

G_BEGIN_DECLS

/* Whether @url (a value of the property @property; NULL or "" is fine: the default) has
 * one of @schemes (NULL-terminated, e.g. "wss", "ws") and a host. Sets @error (RESOURCE
 * SETTINGS, the URL redacted) if not; sets @cleartext when it is ws:// or http:// to a
 * host that is not this machine. */
gboolean gst_stt_session_check_url (const gchar * property, const gchar * url,
    const gchar * const *schemes, gboolean * cleartext, GError ** error);

/* gst_stt_credentials_resolve_key() and gst_stt_credentials_resolve_secret()
 * (gststtcredentials.h), under their earlier names. */
gchar *gst_stt_session_resolve_key (const SttProviderInfo * info, const gchar * api_key,
    const gchar * api_key_file, GError ** error);
gchar *gst_stt_session_resolve_secret (const gchar * token_secret,
    const gchar * token_secret_file, GError ** error);

typedef struct _GstSttSession GstSttSession;

typedef struct
{
  /* A transcript message (without running/stream time; taken) and its span in the
   * input's time domain. */
  void (*transcript) (GstSttSession * s, GstStructure * msg, gboolean is_final,
      GstClockTime pts, GstClockTime duration, gpointer user_data);
  void (*connection) (GstSttSession * s, const GstSttConnectionInfo * info,
      gpointer user_data);
  /* A fatal failure: the session is over. */
  void (*error) (GstSttSession * s, GQuark domain, gint code, const gchar * text,
      const gchar * debug, guint http_status, gint close_code, gpointer user_data);
  /* Everything was sent and the service sent its last results (or gave up). */
  void (*drained) (GstSttSession * s, gpointer user_data);
  /* Time to post `stt-stats`. */
  void (*stats) (GstSttSession * s, gpointer user_data);
  /* The committed point moved: finals are out up to @pos. */
  void (*committed) (GstSttSession * s, guint64 pos, gpointer user_data);
  /* Something the user must hear about. @from < @to: the audio between those stream
   * positions will never be transcribed (already counted in the stats); @from == @to: no
   * audio is lost (yet), e.g. the service has been unreachable for a while. */
  void (*warning) (GstSttSession * s, const gchar * text, guint64 from, guint64 to,
      gpointer user_data);
  /* Live input: no text will come for audio before stream position @pos beyond what the
   * committed point says, as far as the service's liveness tells (see update_promised). */
  void (*promised) (GstSttSession * s, guint64 pos, gpointer user_data);
  /* An stt-revision message (taken; without running/stream time) for the stretch from
   * @pts on: a second transcription of audio whose text is already out (or a GAP). */
  void (*revision) (GstSttSession * s, GstStructure * msg, GstClockTime pts,
      gpointer user_data);
} GstSttSessionCallbacks;

/* Takes @config. @ring, @timeline and @stats must outlive the session. */
GstSttSession *gst_stt_session_new (GstSttSettings * config, GstSttRing * ring,
    GstSttTimeline * timeline, GstSttStats * stats, const GstSttSessionCallbacks * cb,
    gpointer user_data, GstObject * log_object);
/* Connects. */
void gst_stt_session_start (GstSttSession * s);
/* New audio is in the ring (cheap: wakes the I/O thread only when a chunk is ready). */
void gst_stt_session_wake (GstSttSession * s);
/* End of stream: send the rest and the provider's end message; `drained` follows. */
void gst_stt_session_drain (GstSttSession * s);
/* Cancels everything and waits until the I/O thread let go. No callback after this. */
void gst_stt_session_stop (GstSttSession * s);
void gst_stt_session_unref (GstSttSession * s);

G_END_DECLS
