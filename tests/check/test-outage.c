/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Outages, live, in real time, at the element's default settings (only provider, url,
 * credentials, backups and, for the spool cases, spool-dir are set): failover to a backup
 * provider, the spool past the replay ring, and the live backlog of a service paced at
 * real time.
 *
 * The primary is a test server (Deepgram's protocol unless a case says otherwise) reached
 * through a fault proxy (so it can be refused, dropped or stalled at will); the backup a
 * vosk-protocol test server behind a proxy of its own. Each
 * case checks what a captioning user would: every word once across both providers, on
 * the bus and in the text buffers, at its time (50 ms); captions never stop for longer
 * than failover-after + 2 s; the switches said (WARNING, provider of each final,
 * stt-stats); nothing untranscribed; and, when the primary returns, that it carries the
 * end of the stream again. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/app/app.h>

#include "stt-check-utils.h"
#include "stt-test-server.h"
#include "stt-fault-proxy.h"

#define TOLERANCE (50 * GST_MSECOND)
/* The element's default failover-after, in seconds (checked against the property). */
#define FAILOVER_AFTER 8.0
/* A word spoken while the service works reaches the bus within this (the servers' end
 * of segment after a pause, the delivery). */
#define NORMAL_DELAY 2.5
#define CHUNK_MS 20
#define TAIL 1.0

typedef enum
{
  ACT_REFUSE,                   /* the primary refuses new connections */
  ACT_ACCEPT,                   /* ... accepts them again */
  ACT_DROP,                     /* every open connection to the primary is reset */
  ACT_STALL,                    /* the primary stops reading and answering (blackhole) */
  ACT_RESUME,                   /* ... and comes back */
  ACT_BACKUP_REFUSE,            /* the same for the backup */
  ACT_BACKUP_ACCEPT,
  ACT_BACKUP_DROP,
} Action;

typedef struct
{
  gdouble at;                   /* seconds of stream time (wall clock since the start) */
  Action action;
} Step;

typedef struct
{
  gchar *text;
  GstClockTime start;
  gchar *provider;
  gdouble arrived;              /* seconds since the feed started */
} Word;

/* An stt-revision message. */
typedef struct
{
  GstClockTime pts, end;
  gchar *provider, *replaces, *reason;
  GArray *words;                /* Word */
} Revision;

typedef struct
{
  SttTestServer *primary, *backup;
  const gchar *provider;        /* the primary's */
  SttFaultProxy *proxy, *backup_proxy;
  GstElement *pipeline, *stt;
  gboolean live;
  GMutex lock;
  GArray *cues;                 /* SttCheckCue, from the appsink thread */
  GArray *words;                /* Word, from the bus, in order */
  GArray *revisions;            /* Revision, from the bus, in order */
  GPtrArray *warnings;          /* gchar* */
  GstClockTime lost;            /* the sum of the loss WARNINGs' untranscribed */
  GstClockTime lost_from, lost_to;      /* their first and last stretch */
  gchar *spool_dir;             /* set: its files are counted while the stream runs */
  guint spool_files_max, spool_files_at_eos;
  gdouble back;                 /* the first connection after 10 s, in seconds */
  gdouble pause_at_back;        /* > 0: the source pauses this long (s) at `back` */
  gchar *error;
  gboolean eos;
  GstStructure *stats;
  gint64 start;
  SttCheckFeeder *feeder;
  SttTone *tones;
  guint n_tones;
  gdouble duration;
  GList *buffers;
} Run;

static void
word_clear (Word * w)
{
  g_free (w->text);
  g_free (w->provider);
}

static void
revision_clear (Revision * v)
{
  g_free (v->provider);
  g_free (v->replaces);
  g_free (v->reason);
  g_array_unref (v->words);
}

static gdouble
since_start (Run * r)
{
  return (g_get_monotonic_time () - r->start) / (gdouble) G_USEC_PER_SEC;
}

/* A run of @duration seconds of speech, from a live source fed in real time or (not
 * @live) a non-live one that pushes everything at once; the vosk server as a backup if
 * @backed_up. */
static Run *
run_new_full (gdouble duration, gboolean live, gboolean backed_up,
    const gchar * provider)
{
  Run *r = g_new0 (Run, 1);
  g_autofree gchar *backup_url = NULL, *primary_url = NULL, *direct = NULL;
  const gchar *path;
  GError *err = NULL;
  GstElement *src, *sink;
  GstStructure *backup;
  GValue backups = G_VALUE_INIT, item = G_VALUE_INIT;
  GstCaps *caps;
  GstBuffer *all;
  GstClockTime failover_after = 0;

  g_mutex_init (&r->lock);
  r->duration = duration;
  r->cues = stt_check_cues_new ();
  r->words = g_array_new (FALSE, TRUE, sizeof (Word));
  g_array_set_clear_func (r->words, (GDestroyNotify) word_clear);
  r->revisions = g_array_new (FALSE, TRUE, sizeof (Revision));
  g_array_set_clear_func (r->revisions, (GDestroyNotify) revision_clear);
  r->warnings = g_ptr_array_new_with_free_func (g_free);
  r->lost_from = r->lost_to = GST_CLOCK_TIME_NONE;

  r->provider = provider;
  r->primary = stt_test_server_new (provider, &err);
  fail_unless (r->primary != NULL, "%s", err ? err->message : "?");
  r->backup = stt_test_server_new ("vosk", &err);
  fail_unless (r->backup != NULL, "%s", err ? err->message : "?");
  r->proxy = stt_fault_proxy_new (stt_test_server_get_port (r->primary), &err);
  fail_unless (r->proxy != NULL, "%s", err ? err->message : "?");
  r->backup_proxy = stt_fault_proxy_new (stt_test_server_get_port (r->backup), &err);
  fail_unless (r->backup_proxy != NULL, "%s", err ? err->message : "?");
  /* The server's own URL, on the proxy's port. */
  direct = stt_test_server_get_url (r->primary);
  path = strchr (direct + strlen ("ws://"), '/');
  primary_url = g_strdup_printf ("ws://127.0.0.1:%u%s",
      stt_fault_proxy_get_port (r->proxy), path ? path : "/");
  backup_url = g_strdup_printf ("ws://127.0.0.1:%u/",
      stt_fault_proxy_get_port (r->backup_proxy));
  r->live = live;

  r->tones = stt_check_make_speech (duration, TAIL, &r->n_tones);
  all = stt_check_make_audio (GST_AUDIO_FORMAT_S16LE, STT_CHECK_RUN_RATE, 1, duration,
      r->tones, r->n_tones, 0);
  r->buffers = stt_check_split (all, GST_AUDIO_FORMAT_S16LE, STT_CHECK_RUN_RATE, 1,
      CHUNK_MS);
  gst_buffer_unref (all);

  r->pipeline = gst_parse_launch (live ? "appsrc name=src is-live=true format=time ! "
      "stttranscribe name=stt ! appsink name=sink sync=false" :
      "appsrc name=src format=time ! stttranscribe name=stt ! appsink name=sink "
      "sync=false", &err);
  fail_unless (r->pipeline != NULL && err == NULL, "%s", err ? err->message : "?");
  r->stt = gst_bin_get_by_name (GST_BIN (r->pipeline), "stt");
  g_object_set (r->stt, "provider", provider, "url", primary_url, NULL);
  /* The default latency, unless the environment asks for more: scripts/sanitize.sh does,
   * as a margin for the in-process test server running about three times slower there
   * (the cases run at the default in scripts/test.sh). */
  if (g_getenv ("STT_CHECK_LATENCY_MS"))
    g_object_set (r->stt, "latency", (guint) g_ascii_strtoull (g_getenv
            ("STT_CHECK_LATENCY_MS"), NULL, 10), NULL);
  stt_check_set_test_credentials (r->stt, provider);
  if (backed_up) {
    backup = gst_structure_new ("vosk", "url", G_TYPE_STRING, backup_url, NULL);
    g_value_init (&backups, GST_TYPE_ARRAY);
    g_value_init (&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&item, backup);
    gst_value_array_append_and_take_value (&backups, &item);
    g_object_set_property (G_OBJECT (r->stt), "backups", &backups);
    g_value_unset (&backups);
  }
  g_object_get (r->stt, "failover-after", &failover_after, NULL);
  fail_unless_equals_uint64 (failover_after, FAILOVER_AFTER * GST_SECOND);

  src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  caps = stt_check_audio_caps (GST_AUDIO_FORMAT_S16LE, STT_CHECK_RUN_RATE, 1);
  gst_app_src_set_caps (GST_APP_SRC (src), caps);
  gst_caps_unref (caps);
  gst_object_unref (src);
  sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  stt_check_collect_cues (sink, &r->lock, r->cues);
  gst_object_unref (sink);
  return r;
}

static Run *
run_new (gdouble duration)
{
  return run_new_full (duration, TRUE, TRUE, "deepgram");
}

static void
run_free (Run * r)
{
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (r->stt);
  gst_object_unref (r->pipeline);
  stt_fault_proxy_free (r->proxy);
  stt_fault_proxy_free (r->backup_proxy);
  stt_test_server_free (r->primary);
  stt_test_server_free (r->backup);
  g_list_free_full (r->buffers, (GDestroyNotify) gst_buffer_unref);
  g_array_unref (r->cues);
  g_array_unref (r->words);
  g_array_unref (r->revisions);
  g_ptr_array_unref (r->warnings);
  g_clear_pointer (&r->stats, gst_structure_free);
  g_free (r->error);
  g_free (r->tones);
  if (r->spool_dir)
    g_rmdir (r->spool_dir);
  g_free (r->spool_dir);
  g_mutex_clear (&r->lock);
  g_free (r);
}

/* The words of a final or a revision @s, to @into. */
static void
record_words (Run * r, const GstStructure * s, GArray * into)
{
  const GValue *words = gst_structure_get_value (s, "words");
  const gchar *provider = gst_structure_get_string (s, "provider");
  gdouble arrived = since_start (r);
  guint k;

  for (k = 0; words && k < gst_value_array_get_size (words); k++) {
    const GstStructure *ws =
        gst_value_get_structure (gst_value_array_get_value (words, k));
    Word w = { stt_check_bare_word (gst_structure_get_string (ws, "text")),
      GST_CLOCK_TIME_NONE, g_strdup (provider), arrived
    };

    gst_structure_get_clock_time (ws, "start", &w.start);
    g_array_append_val (into, w);
  }
}

static void
record_final (Run * r, const GstStructure * s)
{
  record_words (r, s, r->words);
}

static void
record_revision (Run * r, const GstStructure * s)
{
  Revision v = { GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE,
    g_strdup (gst_structure_get_string (s, "provider")),
    g_strdup (gst_structure_get_string (s, "replaces")),
    g_strdup (gst_structure_get_string (s, "reason")),
    g_array_new (FALSE, TRUE, sizeof (Word))
  };
  GstClockTime duration = GST_CLOCK_TIME_NONE;

  g_array_set_clear_func (v.words, (GDestroyNotify) word_clear);
  fail_unless (gst_structure_get_clock_time (s, "pts", &v.pts));
  fail_unless (gst_structure_get_clock_time (s, "duration", &duration));
  fail_unless (GST_CLOCK_TIME_IS_VALID (v.pts) && GST_CLOCK_TIME_IS_VALID (duration));
  v.end = v.pts + duration;
  record_words (r, s, v.words);
  GST_INFO ("%.1f s: revision of %.3f-%.3f s by %s (%s, replaces '%s'): %u words",
      since_start (r), v.pts / 1e9, v.end / 1e9, v.provider, v.reason, v.replaces,
      v.words->len);
  g_array_append_val (r->revisions, v);
}

static guint
count_files (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  while (dir && g_dir_read_name (dir))
    n++;
  if (dir)
    g_dir_close (dir);
  return n;
}

static void
apply (Run * r, Action a)
{
  GST_INFO ("%.1f s: fault action %d", since_start (r), a);
  switch (a) {
    case ACT_REFUSE:
      stt_fault_proxy_set_refuse (r->proxy, TRUE);
      break;
    case ACT_ACCEPT:
      stt_fault_proxy_set_refuse (r->proxy, FALSE);
      break;
    case ACT_DROP:
      stt_fault_proxy_drop_all (r->proxy);
      break;
    case ACT_STALL:
      stt_fault_proxy_set_blackhole (r->proxy, TRUE);
      break;
    case ACT_RESUME:
      stt_fault_proxy_set_blackhole (r->proxy, FALSE);
      break;
    case ACT_BACKUP_REFUSE:
      stt_fault_proxy_set_refuse (r->backup_proxy, TRUE);
      break;
    case ACT_BACKUP_ACCEPT:
      stt_fault_proxy_set_refuse (r->backup_proxy, FALSE);
      break;
    case ACT_BACKUP_DROP:
      stt_fault_proxy_drop_all (r->backup_proxy);
      break;
  }
}

/* Plays the stream in real time with @steps applied at their times, until EOS, ERROR or
 * the input's length (and the source's pause) plus a minute. */
static void
run_play (Run * r, const Step * steps, guint n_steps)
{
  GstBus *bus = gst_element_get_bus (r->pipeline);
  GstElement *src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  gint64 deadline;
  guint next = 0;

  r->start = g_get_monotonic_time ();
  while (next < n_steps && steps[next].at <= 0)
    apply (r, steps[next++].action);
  fail_unless (gst_element_set_state (r->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  r->start = g_get_monotonic_time ();
  deadline = r->start + (gint64) ((r->duration + r->pause_at_back + 60) *
      G_USEC_PER_SEC);
  /* 20 ms buffers, at the pace of real time when live, then EOS. */
  r->feeder = stt_check_feeder_start (src, r->buffers, r->live, r->start);
  while (!r->eos && r->error == NULL && g_get_monotonic_time () < deadline) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT);
    const GstStructure *s;
    GError *err = NULL;
    gchar *debug = NULL;
    gboolean final = FALSE;

    while (next < n_steps && since_start (r) >= steps[next].at)
      apply (r, steps[next++].action);
    if (r->spool_dir)
      r->spool_files_max = MAX (r->spool_files_max, count_files (r->spool_dir));
    if (msg == NULL)
      continue;
    s = gst_message_get_structure (msg);
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        r->eos = TRUE;
        break;
      case GST_MESSAGE_ERROR:
        gst_message_parse_error (msg, &err, &debug);
        r->error = g_strdup_printf ("%s (%s)", err->message, debug ? debug : "");
        break;
      case GST_MESSAGE_WARNING:{
        const GstStructure *details = NULL;
        GstClockTime u, from, to;

        gst_message_parse_warning_details (msg, &details);
        if (details && gst_structure_get_clock_time (details, "untranscribed", &u)
            && gst_structure_get_clock_time (details, "from", &from)
            && gst_structure_get_clock_time (details, "to", &to)) {
          r->lost += u;
          if (!GST_CLOCK_TIME_IS_VALID (r->lost_from))
            r->lost_from = from;
          r->lost_to = to;
        }
        gst_message_parse_warning (msg, &err, NULL);
        GST_INFO ("%.1f s: WARNING %s", since_start (r), err->message);
        g_ptr_array_add (r->warnings, g_strdup (err->message));
        break;
      }
      case GST_MESSAGE_ELEMENT:
        if (s && gst_structure_has_name (s, "stt-transcript")
            && gst_structure_get_boolean (s, "is-final", &final) && final)
          record_final (r, s);
        if (s && gst_structure_has_name (s, "stt-revision"))
          record_revision (r, s);
        if (s && gst_structure_has_name (s, "stt-connection") && r->back == 0
            && since_start (r) > 10
            && !g_strcmp0 (gst_structure_get_string (s, "state"), "connected")) {
          r->back = since_start (r);
          if (r->pause_at_back > 0) {
            GST_INFO ("%.1f s: the source pauses for %.0f s", r->back, r->pause_at_back);
            stt_check_feeder_pause (r->feeder,
                (gint64) (r->pause_at_back * G_USEC_PER_SEC));
          }
        }
        break;
      default:
        break;
    }
    g_clear_error (&err);
    g_free (debug);
    gst_message_unref (msg);
  }
  g_object_get (r->stt, "stats", &r->stats, NULL);
  if (r->spool_dir)
    r->spool_files_at_eos = count_files (r->spool_dir);
  stt_check_feeder_stop (r->feeder);
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (bus);
}

/* The text buffers hold exactly the words of @want (Word: text and start), in order, each
 * buffer at its first word's time. */
static void
check_cues (Run * r, GArray * want)
{
  guint c, p, n = 0;

  for (c = 0; c < r->cues->len; c++) {
    SttCheckCue *cue = &g_array_index (r->cues, SttCheckCue, c);
    g_auto (GStrv) parts = g_strsplit_set (cue->text, " \n", -1);
    gboolean first = TRUE;

    for (p = 0; parts[p]; p++) {
      g_autofree gchar *bare = stt_check_bare_word (parts[p]);
      Word *w;

      if (*bare == '\0')
        continue;
      fail_unless (n < want->len, "more words in the text buffers than expected: %s",
          bare);
      w = &g_array_index (want, Word, n);
      fail_unless_equals_string (bare, w->text);
      if (first)
        fail_unless (cue->pts + TOLERANCE >= w->start && cue->pts <= w->start + TOLERANCE,
            "text buffer %u (%s) at %.3f s, its first word at %.3f s", c, cue->text,
            cue->pts / 1e9, w->start / 1e9);
      first = FALSE;
      n++;
    }
  }
  fail_unless_equals_int (n, want->len);
}

/* Every word once, in order, at its time, on the bus and in the text buffers; each word
 * on the bus within @max_delay of its end. Returns how many words each provider gave
 * (@primary_words, @backup_words) and the provider of the last word. */
static void
check_words (Run * r, gdouble max_delay, guint * primary_words, guint * backup_words,
    const gchar ** last_provider)
{
  guint i;
  gdouble worst = 0;
  guint worst_i = 0;

  fail_unless (r->error == NULL, "ERROR: %s", r->error);
  fail_unless (r->eos, "no EOS within the input's length and a minute");
  *primary_words = *backup_words = 0;
  for (i = 0; i < MIN (r->words->len, r->n_tones); i++) {
    Word *w = &g_array_index (r->words, Word, i);
    g_autofree gchar *want = stt_check_tone_word (&r->tones[i]);
    GstClockTime at = (GstClockTime) (r->tones[i].start * GST_SECOND);
    gdouble delay = w->arrived - r->tones[i].end;

    fail_unless_equals_string (w->text, want);
    fail_unless (w->start + TOLERANCE >= at && w->start <= at + TOLERANCE,
        "word %u (%s, from %s) at %.3f s, its tone at %.3f s", i, w->text, w->provider,
        w->start / 1e9, r->tones[i].start);
    if (delay > worst) {
      worst = delay;
      worst_i = i;
    }
    if (g_str_equal (w->provider, r->provider))
      (*primary_words)++;
    else if (g_str_equal (w->provider, "vosk"))
      (*backup_words)++;
  }
  fail_unless_equals_int (r->words->len, r->n_tones);
  *last_provider = g_array_index (r->words, Word, r->words->len - 1).provider;
  GST_INFO ("%u words: %u from the primary, %u from the backup; longest delay %.2f s "
      "(word %u at %.1f s)", r->words->len, *primary_words, *backup_words, worst, worst_i,
      r->tones[worst_i].start);
  fail_unless (worst <= max_delay, "word %u (tone at %.2f s) reached the bus %.2f s "
      "after its end (at most %.2f s)", worst_i, r->tones[worst_i].start, worst,
      max_delay);

  /* The text buffers: the same words, each at its tone's time. */
  {
    g_autoptr (GArray) spoken = g_array_new (FALSE, TRUE, sizeof (Word));

    g_array_set_clear_func (spoken, (GDestroyNotify) word_clear);
    for (i = 0; i < r->n_tones; i++) {
      Word w = { stt_check_tone_word (&r->tones[i]),
        (GstClockTime) (r->tones[i].start * GST_SECOND), NULL, 0
      };

      g_array_append_val (spoken, w);
    }
    check_cues (r, spoken);
  }
}

static guint64
stat_u64 (Run * r, const gchar * name)
{
  guint64 v = G_MAXUINT64;

  fail_unless (r->stats && gst_structure_get_uint64 (r->stats, name, &v), "no %s", name);
  return v;
}

static GstClockTime
stat_time (Run * r, const gchar * name)
{
  GstClockTime v = GST_CLOCK_TIME_NONE;

  fail_unless (r->stats && gst_structure_get_clock_time (r->stats, name, &v), "no %s",
      name);
  return v;
}

static guint
count_warnings (Run * r, const gchar * needle)
{
  guint i, n = 0;

  for (i = 0; i < r->warnings->len; i++)
    if (strstr (g_ptr_array_index (r->warnings, i), needle))
      n++;
  return n;
}

/* Both providers carried audio, as the stats say too. */
static void
check_both_carried (Run * r)
{
  const GValue *v = gst_structure_get_value (r->stats, "audio-by-provider");
  const GstStructure *by;
  GstClockTime dg = 0, vosk = 0;

  fail_unless (v != NULL && GST_VALUE_HOLDS_STRUCTURE (v), "no audio-by-provider");
  by = gst_value_get_structure (v);
  fail_unless (gst_structure_get_clock_time (by, "deepgram", &dg));
  fail_unless (gst_structure_get_clock_time (by, "vosk", &vosk));
  fail_unless (dg > 0 && vosk > 0);
  /* Between them, the whole input (the last final may stop short of its tail). */
  fail_unless (dg + vosk + (TAIL + 0.5) * GST_SECOND >= r->duration * GST_SECOND,
      "deepgram %.1f s + vosk %.1f s of %.1f s", dg / 1e9, vosk / 1e9, r->duration);
}

static gboolean
word_at (Word * w, const gchar * want, gdouble start, gdouble latest)
{
  return w && g_str_equal (w->text, want)
      && w->start + TOLERANCE >= (GstClockTime) (start * GST_SECOND)
      && w->start <= (GstClockTime) (latest * GST_SECOND) + TOLERANCE;
}

/* The primary's revision of what the backups carried: one, by the primary, of exactly
 * the stretch whose words the backup gave, with each of those words once, at its time.
 * Call after check_words. */
static void
check_failover_revision (Run * r)
{
  Revision *v;
  guint i, j = 0;

  fail_unless_equals_int (r->revisions->len, 1);
  v = &g_array_index (r->revisions, Revision, 0);
  fail_unless_equals_string (v->reason, "failover");
  fail_unless_equals_string (v->replaces, "vosk");
  fail_unless_equals_string (v->provider, r->provider);
  for (i = 0; i < r->n_tones; i++) {
    Word *w = &g_array_index (r->words, Word, i);
    g_autofree gchar *want = stt_check_tone_word (&r->tones[i]);
    gdouble mid = (r->tones[i].start + r->tones[i].end) / 2;
    gboolean inside = mid * GST_SECOND >= v->pts && mid * GST_SECOND < v->end;

    fail_unless (inside == g_str_equal (w->provider, "vosk"), "word %u (%s at %.2f s) "
        "came from %s; the revision covers %.3f-%.3f s", i, want, r->tones[i].start,
        w->provider, v->pts / 1e9, v->end / 1e9);
    if (!inside)
      continue;
    fail_unless (j < v->words->len, "the revision stops before word %u (%s at %.2f s)",
        i, want, r->tones[i].start);
    fail_unless (word_at (&g_array_index (v->words, Word, j), want, r->tones[i].start,
            r->tones[i].start), "revision word %u is %s at %.3f s, not %s at %.3f s", j,
        g_array_index (v->words, Word, j).text,
        g_array_index (v->words, Word, j).start / 1e9, want, r->tones[i].start);
    j++;
  }
  fail_unless_equals_int (j, v->words->len);
}

/* The revision's connection (the primary's connection whose audio starts within a
 * second of the revision's start: the ring may have let the first milliseconds go while
 * it connected) heard past the revision's end, by more than the longest word: a word
 * spoken across the split point reaches it whole, at the live edge too, where that audio
 * was still to come when the revision started (CI saw such a word cut short, given by
 * both sides). */
static void
check_revision_heard (Run * r, const Revision * v)
{
  g_autoptr (GByteArray) input = g_byte_array_new ();
  gsize from = gst_util_uint64_scale (v->pts, STT_CHECK_RUN_RATE, GST_SECOND) * 2;
  gsize want = gst_util_uint64_scale (v->end + GST_SECOND, STT_CHECK_RUN_RATE,
      GST_SECOND) * 2;
  gsize slack = STT_CHECK_RUN_RATE * 2;
  guint i, n = stt_test_server_get_n_connections (r->primary);
  GList *l;

  for (l = r->buffers; l; l = l->next) {
    GstMapInfo map;

    fail_unless (gst_buffer_map (l->data, &map, GST_MAP_READ));
    g_byte_array_append (input, map.data, map.size);
    gst_buffer_unmap (l->data, &map);
  }
  want = MIN (want, input->len);
  for (i = 0; i < n; i++) {
    g_autoptr (GBytes) audio = stt_test_server_get_audio (r->primary, i);
    gsize len = 0, probe, k, j;
    const guint8 *p = audio ? g_bytes_get_data (audio, &len) : NULL;

    /* Its first two seconds (or all of it), not silence only, which would match
     * anywhere. */
    probe = MIN (len, 2 * slack);
    for (j = 0; j < probe && p[j] == 0; j++);
    if (p == NULL || probe < slack / 10 || j == probe)
      continue;
    for (k = from; k <= from + slack && k + probe <= input->len; k += 2) {
      if (memcmp (p, input->data + k, probe) != 0)
        continue;
      /* A seam later on (audio the ring let go) would only make this lower. */
      fail_unless (k + len >= want, "the revision's connection (%u) heard %.3f-%.3f s, "
          "not past its end (%.3f s) by a second", i, k / 2.0 / STT_CHECK_RUN_RATE,
          (k + len) / 2.0 / STT_CHECK_RUN_RATE, v->end / 1e9);
      GST_INFO ("the revision's connection (%u) heard %.3f-%.3f s", i,
          k / 2.0 / STT_CHECK_RUN_RATE, (k + len) / 2.0 / STT_CHECK_RUN_RATE);
      return;
    }
  }
  fail ("no connection of the primary started within a second of the revision's start "
      "(%.3f s)", v->pts / 1e9);
}

/* A backlog given up for the live edge (max-lag): one revision, by the primary, and every
 * word once at its time: in the revision if its middle lies in the revision's stretch,
 * else in the text output (bus and text buffers); a word wholly inside a stretch said
 * lost nowhere (one cut by its edge either way). Returns the longest delay of a text word
 * spoken after @live_from seconds. */
static gdouble
check_words_revised (Run * r, gdouble live_from)
{
  gdouble lost_from = GST_CLOCK_TIME_IS_VALID (r->lost_from) ? r->lost_from / 1e9 : -1;
  gdouble lost_to = GST_CLOCK_TIME_IS_VALID (r->lost_to) ? r->lost_to / 1e9 : -1;
  gdouble worst = 0;
  Revision *v;
  guint i, j = 0, k = 0;

  fail_unless (r->error == NULL, "ERROR: %s", r->error);
  fail_unless (r->eos, "no EOS within the input's length and a minute");
  fail_unless_equals_int (r->revisions->len, 1);
  v = &g_array_index (r->revisions, Revision, 0);
  fail_unless_equals_string (v->reason, "max-lag");
  fail_unless_equals_string (v->replaces, "");
  fail_unless_equals_string (v->provider, r->provider);
  for (i = 0; i < r->n_tones; i++) {
    g_autofree gchar *want = stt_check_tone_word (&r->tones[i]);
    gdouble start = r->tones[i].start, end = r->tones[i].end, mid = (start + end) / 2;
    gboolean lost = start >= lost_from && end <= lost_to;
    gboolean cut = !lost && end > lost_from && start < lost_to;
    /* By the word's middle, as the element splits; one within the tolerance of an edge
     * may be on either side. */
    gboolean in_rev = mid * GST_SECOND >= v->pts && mid * GST_SECOND < v->end;
    gboolean edge = ABS (mid * GST_SECOND - (gdouble) v->pts) < TOLERANCE
        || ABS (mid * GST_SECOND - (gdouble) v->end) < TOLERANCE;
    gdouble latest = cut ? end : start;
    Word *tw = j < r->words->len ? &g_array_index (r->words, Word, j) : NULL;
    Word *rw = k < v->words->len ? &g_array_index (v->words, Word, k) : NULL;
    /* A word cut by the edge of a stretch lost is heard from where its audio starts
     * again: in the revision if that is where it starts. */
    gboolean in_text = (!in_rev || edge || cut) && word_at (tw, want, start, latest);
    gboolean in_revision = !in_text && (in_rev || edge || cut)
        && word_at (rw, want, start, latest);

    if (lost) {
      fail_if (in_text || in_revision, "word %u (%s at %.2f s) came, inside the stretch "
          "said lost (%.2f-%.2f s)", i, want, start, lost_from, lost_to);
      continue;
    }
    if (!cut)
      fail_unless (in_text || in_revision, "word %u (%s at %.2f s) missing or misplaced "
          "(expected in the %s; got %s at %.3f s); revision %.3f-%.3f s, "
          "lost %.2f-%.2f s",
          i, want, start, in_rev ? "revision" : "text", in_rev ? (rw ? rw->text : "-") :
          (tw ? tw->text : "-"), in_rev ? (rw ? rw->start / 1e9 : -1) : (tw ?
              tw->start / 1e9 : -1), v->pts / 1e9, v->end / 1e9, lost_from, lost_to);
    if (in_text) {
      if (start >= live_from)
        worst = MAX (worst, tw->arrived - end);
      j++;
    }
    if (in_revision)
      k++;
  }
  fail_unless (j == r->words->len, "%u words in the text, %u of them expected; the "
      "first unexpected: %s at %.3f s", r->words->len, j, j < r->words->len ?
      g_array_index (r->words, Word, j).text : "-", j < r->words->len ?
      g_array_index (r->words, Word, j).start / 1e9 : -1);
  fail_unless (k == v->words->len, "%u words in the revision of %.3f-%.3f s, %u of them "
      "expected; the first unexpected: %s at %.3f s", v->words->len, v->pts / 1e9,
      v->end / 1e9, k, k < v->words->len ? g_array_index (v->words, Word, k).text : "-",
      k < v->words->len ? g_array_index (v->words, Word, k).start / 1e9 : -1);
  fail_unless (k > 0, "an empty revision");
  check_revision_heard (r, v);

  /* The text buffers: the bus's words, none in the stretch given up (a GAP covers it). */
  check_cues (r, r->words);
  GST_INFO ("%u words in the text, %u in the revision of %.2f-%.2f s; lost %.2f-%.2f s; "
      "longest delay after %.1f s: %.2f s", j, k, v->pts / 1e9, v->end / 1e9, lost_from,
      lost_to, live_from, worst);
  return worst;
}

/* The primary refuses every connection from the start: the backup carries the whole
 * stream, the primary is tried again now and then, and the user is told. */
GST_START_TEST (test_primary_refused_from_start)
{
  Run *r = run_new (40);
  const Step steps[] = { {0, ACT_REFUSE} };
  guint pw, bw;
  const gchar *last;

  run_play (r, steps, G_N_ELEMENTS (steps));
  check_words (r, FAILOVER_AFTER + 2 + NORMAL_DELAY, &pw, &bw, &last);
  fail_unless_equals_int (pw, 0);
  fail_unless_equals_int (bw, r->n_tones);
  fail_unless (stat_u64 (r, "failovers") >= 1);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  fail_unless (count_warnings (r, "Switching from Deepgram to vosk-server") >= 1,
      "no WARNING says the switch");
  run_free (r);
}

GST_END_TEST;

/* The primary's connection drops at 20 s and it refuses until 80 s: the backup takes
 * over from the committed point within failover-after, the primary is tried again
 * in the background and carries the end of the stream. */
GST_START_TEST (test_primary_dropped_then_back)
{
  Run *r = run_new (120);
  const Step steps[] = { {20, ACT_REFUSE}, {20, ACT_DROP}, {80, ACT_ACCEPT} };
  guint pw, bw;
  const gchar *last;

  run_play (r, steps, G_N_ELEMENTS (steps));
  check_words (r, FAILOVER_AFTER + 2 + NORMAL_DELAY, &pw, &bw, &last);
  fail_unless (pw > 0 && bw > 0, "primary %u words, backup %u", pw, bw);
  fail_unless_equals_string (last, "deepgram");
  fail_unless (stat_u64 (r, "failovers") >= 2);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  check_both_carried (r);
  fail_unless (count_warnings (r, "Switching from Deepgram to vosk-server") == 1,
      "one outage, one WARNING for the switch");
  fail_unless (count_warnings (r, "Deepgram (the primary) is back") >= 1);
  check_failover_revision (r);
  run_free (r);
}

GST_END_TEST;

/* The longest a word spoken from @from seconds on and ended before @to took to reach
 * the bus (word i of the bus is tone i: call after check_words). */
static gdouble
longest_delay (Run * r, gdouble from, gdouble to)
{
  gdouble worst = 0;
  guint i;

  for (i = 0; i < MIN (r->words->len, r->n_tones); i++)
    if (r->tones[i].start >= from && r->tones[i].end < to)
      worst = MAX (worst, g_array_index (r->words, Word, i).arrived - r->tones[i].end);
  return worst;
}

/* The primary stops answering at 20 s (no read, no pong, connections kept open) and
 * comes back at 200 s, longer than the replay ring: the backup takes over within
 * failover-after, and looking at the primary while it is stalled costs no caption (a
 * probe, not a try). */
GST_START_TEST (test_primary_stalled_then_back)
{
  /* Probes every 30 s plus their 7 s wait: the primary is seen back by 240 s. */
  Run *r = run_new (250);
  const Step steps[] = { {20, ACT_STALL}, {200, ACT_RESUME} };
  guint pw, bw;
  const gchar *last;

  run_play (r, steps, G_N_ELEMENTS (steps));
  check_words (r, FAILOVER_AFTER + 2 + NORMAL_DELAY, &pw, &bw, &last);
  fail_unless (pw > 0 && bw > 0, "primary %u words, backup %u", pw, bw);
  fail_unless_equals_string (last, "deepgram");
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  check_both_carried (r);
  /* Once the backup carries (by 30 s), captions keep their normal pace to the end,
   * through the primary's return. */
  fail_unless (longest_delay (r, 32, G_MAXDOUBLE) <= NORMAL_DELAY + 1,
      "a word after 32 s took %.2f s", longest_delay (r, 32, G_MAXDOUBLE));
  fail_unless (count_warnings (r, "Switching from Deepgram to vosk-server") == 1);
  fail_unless (count_warnings (r, "Deepgram (the primary) is back") >= 1);
  check_failover_revision (r);
  run_free (r);
}

GST_END_TEST;

/* Primary and backup both gone for a while (the primary from 15 s to 70 s, the backup
 * from 15 s to 45 s): no ERROR, no crash, a WARNING for the outage rather than one per
 * turn, and every word once when the backup returns (the replay ring, 60 s, holds the
 * outage), then the primary carries the end. The primary is looked at again at most
 * reconnect-max-delay (30 s) apart, then tried at the backup's next final (at most 10 s):
 * 120 s of stream leave it room to return. */
GST_START_TEST (test_all_gone_then_back)
{
  Run *r = run_new (120);
  const Step steps[] = { {15, ACT_REFUSE}, {15, ACT_DROP}, {15, ACT_BACKUP_REFUSE},
    {45, ACT_BACKUP_ACCEPT}, {70, ACT_ACCEPT}
  };
  guint pw, bw;
  const gchar *last;

  run_play (r, steps, G_N_ELEMENTS (steps));
  /* Words of the outage come when a service returns: 30 s after, at most. */
  check_words (r, 30 + FAILOVER_AFTER + 2 + NORMAL_DELAY, &pw, &bw, &last);
  fail_unless (pw > 0 && bw > 0, "primary %u words, backup %u", pw, bw);
  fail_unless_equals_string (last, "deepgram");
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  fail_unless (count_warnings (r, "Switching from") <= 3, "%u switch WARNINGs",
      count_warnings (r, "Switching from"));
  check_failover_revision (r);
  run_free (r);
}

GST_END_TEST;

/* A file whose primary refuses the key (HTTP 401): without a backup an ERROR; with one,
 * the backup transcribes the whole file at once, and a WARNING says why. failover-after
 * and max-lag, set on a file, do nothing: a WARNING says so. */
GST_START_TEST (test_file_primary_refused)
{
  Run *r = run_new_full (30, FALSE, TRUE, "deepgram");
  guint pw, bw;
  const gchar *last;

  stt_test_server_set_api_key (r->primary, "another-key");
  g_object_set (r->stt, "failover-after", 2 * GST_SECOND, "max-lag", 10 * GST_SECOND,
      NULL);
  run_play (r, NULL, 0);
  fail_unless (count_warnings (r, "failover-after, max-lag act on live input only") == 1,
      "no WARNING says failover-after and max-lag do nothing on a file");
  check_words (r, 60, &pw, &bw, &last);
  fail_unless_equals_int (pw, 0);
  fail_unless_equals_int (bw, r->n_tones);
  fail_unless_equals_uint64 (stat_u64 (r, "failovers"), 1);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  fail_unless (count_warnings (r, "401") == 1, "the WARNING names the refusal");
  run_free (r);
}

GST_END_TEST;

/* Where the audio of a stretch went missing (the loss WARNINGs' [lost_from, lost_to)):
 * the words wholly inside it are absent, those wholly outside present once, in order, at
 * their time; one cut by an edge may be either. */
static void
check_words_except_lost (Run * r)
{
  guint i, j = 0, missing = 0;
  gdouble from = r->lost_from / 1e9, to = r->lost_to / 1e9;

  fail_unless (r->error == NULL, "ERROR: %s", r->error);
  fail_unless (r->eos, "no EOS within the input's length and a minute");
  for (i = 0; i < r->n_tones; i++) {
    g_autofree gchar *want = stt_check_tone_word (&r->tones[i]);
    GstClockTime at = (GstClockTime) (r->tones[i].start * GST_SECOND);
    Word *w = j < r->words->len ? &g_array_index (r->words, Word, j) : NULL;
    gboolean here = w && g_str_equal (w->text, want) && w->start + TOLERANCE >= at
        && w->start <= at + TOLERANCE;
    gboolean inside = r->tones[i].start >= from && r->tones[i].end <= to;
    gboolean outside = r->tones[i].end <= from || r->tones[i].start >= to;

    /* A word cut by an edge is heard from where its audio starts again. */
    if (!here && !inside && !outside && w && g_str_equal (w->text, want))
      here = w->start + TOLERANCE >= at
          && w->start <= (GstClockTime) (r->tones[i].end * GST_SECOND);

    if (inside) {
      fail_if (here, "word %u (%s at %.2f s) came, inside the stretch said lost "
          "(%.2f-%.2f s)", i, want, r->tones[i].start, from, to);
      missing++;
    } else if (outside) {
      fail_unless (here, "word %u (%s at %.2f s) missing or misplaced (got %s at %.3f s); "
          "lost: %.2f-%.2f s", i, want, r->tones[i].start, w ? w->text : "nothing",
          w ? w->start / 1e9 : -1.0, from, to);
    }
    if (here)
      j++;
  }
  fail_unless_equals_int (j, r->words->len);
  GST_INFO ("%u words, %u lost in %.2f-%.2f s", r->words->len, missing, from, to);
  fail_unless (missing > 0);
}

/* An outage of 5 minutes (longer than the 60 s replay ring and max-lag), no backup: what
 * no longer fits the ring goes to the spool; when the service is back the text output
 * gives the backlog up (a GAP) and captions the live edge at once, and every second of
 * the outage comes in one stt-revision; the spool file is gone by the end. */
GST_START_TEST (test_long_outage_spooled)
{
  Run *r = run_new_full (360, TRUE, FALSE, "deepgram");
  const Step steps[] = { {15, ACT_REFUSE}, {15, ACT_DROP}, {315, ACT_ACCEPT} };
  Revision *v;
  gdouble late;

  r->spool_dir = g_dir_make_tmp ("stt-spool-XXXXXX", NULL);
  g_object_set (r->stt, "spool-dir", r->spool_dir, NULL);
  run_play (r, steps, G_N_ELEMENTS (steps));
  fail_unless (r->back > 0, "no connection after the outage");
  /* Captions are back at the live edge 5 s after the service is (the reconnect, the
   * segments' ends). */
  late = check_words_revised (r, r->back + 5);
  fail_unless (late <= NORMAL_DELAY + 1, "words after %.1f s take %.2f s", r->back + 5,
      late);
  /* The revision covers the whole outage: from the last final before it to the live
   * edge at the return. */
  v = &g_array_index (r->revisions, Revision, 0);
  fail_unless (v->pts <= 15.5 * GST_SECOND && v->end >= 315 * GST_SECOND,
      "revision of %.2f-%.2f s", v->pts / 1e9, v->end / 1e9);
  fail_unless (v->end <= (r->back + 1) * GST_SECOND);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  fail_unless (stat_time (r, "audio-spooled") >= 200 * GST_SECOND, "spooled %.1f s",
      stat_time (r, "audio-spooled") / 1e9);
  fail_unless (count_warnings (r, "more than max-lag") == 1);
  fail_unless_equals_int (r->spool_files_max, 1);
  fail_unless_equals_int (r->spool_files_at_eos, 0);
  run_free (r);
}

GST_END_TEST;

/* The same outage with a spool of 20 s: the oldest 10 s or more cannot be kept. A WARNING
 * names the stretch, audio-untranscribed is exactly it, and every word outside it
 * comes. */
GST_START_TEST (test_spool_too_small)
{
  Run *r = run_new_full (150, TRUE, FALSE, "deepgram");
  const Step steps[] = { {15, ACT_REFUSE}, {15, ACT_DROP}, {105, ACT_ACCEPT} };

  r->spool_dir = g_dir_make_tmp ("stt-spool-XXXXXX", NULL);
  g_object_set (r->stt, "spool-dir", r->spool_dir, "spool-max-bytes",
      (guint64) (20 * STT_CHECK_RUN_RATE * 2), NULL);
  run_play (r, steps, G_N_ELEMENTS (steps));
  /* 90 s of outage against 80 s kept, and more until the finals of the backlog free
   * room (how much more depends on the machine's load): never the whole outage. */
  fail_unless (r->lost >= 5 * GST_SECOND && r->lost <= 60 * GST_SECOND,
      "%.1f s said lost", r->lost / 1e9);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), r->lost);
  fail_unless (count_warnings (r, "spool-max-bytes") >= 1);
  /* 80 s behind at the return, past max-lag: the rest of the outage is a revision. */
  check_words_revised (r, r->back + 5);
  fail_unless_equals_int (r->spool_files_at_eos, 0);
  run_free (r);
}

GST_END_TEST;

/* A spool directory that cannot be written: said at the start, and in the outage the
 * audio past the ring is lost with a WARNING that says why, exactly counted. */
GST_START_TEST (test_spool_dir_unwritable)
{
  Run *r = run_new_full (100, TRUE, FALSE, "deepgram");
  const Step steps[] = { {10, ACT_REFUSE}, {10, ACT_DROP}, {85, ACT_ACCEPT} };

  g_object_set (r->stt, "spool-dir", "/proc/gst-stt-spool", NULL);
  run_play (r, steps, G_N_ELEMENTS (steps));
  fail_unless (count_warnings (r, "spool-dir /proc/gst-stt-spool cannot be written") == 1);
  fail_unless (count_warnings (r, "the spool could not keep it") >= 1);
  fail_unless (r->lost >= 5 * GST_SECOND, "%.1f s said lost", r->lost / 1e9);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), r->lost);
  check_words_except_lost (r);
  run_free (r);
}

GST_END_TEST;

/* A live stream on @provider, no backup, out from 10 s to 30 s (refused and dropped, or
 * stalled): every word once, at its time, in the text buffers too; and once a time equal
 * to the backlog has passed after the service is back, finals are back within 1 s of
 * their usual delay from the live edge. A service paced at real time gets there with a
 * second connection for the backlog (the server sees two at once); an unpaced one by
 * speed. */
static void
check_backlog (const gchar * provider, gboolean stall)
{
  /* Reconnects back off up to 30 s: the service may be heard from again only at 60 s,
   * with 50 s behind it. */
  Run *r = run_new_full (130, TRUE, FALSE, provider);
  const Step outage[] = { {10, ACT_REFUSE}, {10, ACT_DROP}, {30, ACT_ACCEPT} };
  const Step stalled[] = { {10, ACT_STALL}, {30, ACT_RESUME} };
  gboolean paced = !g_str_equal (provider, "deepgram");
  gdouble usual, after, from;
  guint pw, bw;
  const gchar *last;

  run_play (r, stall ? stalled : outage, 2 + !stall);
  /* Back at `back` (the first connection after the outage), with at most back - 7 s
   * behind it (the last final came after 7 s): a word waits at most that long (the
   * backlog's words come at real time from the committed point, the live edge's wait
   * for them), and 5 s for the reconnect and the segments' ends. */
  fail_unless (r->back > 0, "no connection after the outage");
  check_words (r, r->back - 7 + 5, &pw, &bw, &last);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  usual = longest_delay (r, 0, 9);
  /* Worked off by 2 back - 7, and 2 s for the reconnect. */
  from = 2 * r->back - 7 + 2;
  fail_unless (from < r->duration - 10, "back too late (%.1f s) to see the catch-up",
      r->back);
  after = longest_delay (r, from, G_MAXDOUBLE);
  GST_INFO ("%s: back at %.1f s; usual delay %.2f s, from %.1f s on %.2f s; %u "
      "connections open at most", provider, r->back, usual, from, after,
      stt_test_server_get_max_open (r->primary));
  fail_unless (after <= usual + 1, "%s: words after %.1f s take %.2f s, %.2f s before "
      "the outage", provider, from, after, usual);
  if (paced)
    fail_unless (stt_test_server_get_max_open (r->primary) >= 2, "no backlog session");
  else
    fail_unless_equals_int (stt_test_server_get_max_open (r->primary), 1);
  run_free (r);
}

/* A live source that stops for 30 s as the service comes back, while the backlog's
 * session catches up and then waits at the live edge for the rest of its stretch (its
 * post-roll): waiting for audio is no stall, so the backlog's session does not reconnect
 * (drain-timeout, 10 s by default), and every word still comes once, at its time. */
GST_START_TEST (test_backlog_source_pauses)
{
  Run *r = run_new_full (60, TRUE, FALSE, "assemblyai");
  const Step outage[] = { {10, ACT_REFUSE}, {10, ACT_DROP}, {16, ACT_ACCEPT} };
  guint pw, bw;
  const gchar *last;

  r->pause_at_back = 30;
  run_play (r, outage, G_N_ELEMENTS (outage));
  fail_unless (r->back > 0, "no connection after the outage");
  GST_INFO ("back at %.1f s; %u connections, %u open at most", r->back,
      stt_test_server_get_n_connections (r->primary),
      stt_test_server_get_max_open (r->primary));
  /* The words after the pause come that much later than their time. */
  check_words (r, r->pause_at_back + 10, &pw, &bw, &last);
  fail_unless_equals_uint64 (stat_time (r, "audio-untranscribed"), 0);
  fail_unless (stt_test_server_get_max_open (r->primary) >= 2, "no backlog session");
  /* The first connection, the live edge's after the outage, the backlog's: no more. */
  fail_unless_equals_int (stt_test_server_get_n_connections (r->primary), 3);
  run_free (r);
}

GST_END_TEST;

GST_START_TEST (test_backlog_assemblyai_outage)
{
  check_backlog ("assemblyai", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_backlog_assemblyai_stall)
{
  check_backlog ("assemblyai", TRUE);
}

GST_END_TEST;

GST_START_TEST (test_backlog_soniox_outage)
{
  check_backlog ("soniox", FALSE);
}

GST_END_TEST;

GST_START_TEST (test_backlog_deepgram_outage)
{
  check_backlog ("deepgram", FALSE);
}

GST_END_TEST;

static Suite *
outage_suite (void)
{
  Suite *s = suite_create ("outage");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_primary_refused_from_start);
  tcase_add_test (tc, test_primary_dropped_then_back);
  tcase_add_test (tc, test_primary_stalled_then_back);
  tcase_add_test (tc, test_all_gone_then_back);
  tcase_add_test (tc, test_file_primary_refused);
  tcase_add_test (tc, test_long_outage_spooled);
  tcase_add_test (tc, test_spool_too_small);
  tcase_add_test (tc, test_spool_dir_unwritable);
  tcase_add_test (tc, test_backlog_assemblyai_outage);
  tcase_add_test (tc, test_backlog_source_pauses);
  tcase_add_test (tc, test_backlog_assemblyai_stall);
  tcase_add_test (tc, test_backlog_soniox_outage);
  tcase_add_test (tc, test_backlog_deepgram_outage);
  return s;
}

GST_CHECK_MAIN (outage);
