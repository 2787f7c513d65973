/* decoders: see decoders.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gio/gio.h>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>

#include "decoders.h"

#define PROGRAM "stt-local-server"
/* After failed loads, the loader waits before the next one: 1 s, doubling up to 30 s. */
#define RETRY_MIN_US (1 * G_USEC_PER_SEC)
#define RETRY_MAX_US (30 * G_USEC_PER_SEC)

struct _SttDecoder
{
  ps_decoder_t *ps;
  mfcc_t *cmn_init;             /* live CMN means right after ps_init() */
  gint cmn_len;
};

typedef struct
{
  SttDecoderFunc func;
  gpointer user_data;
} Waiter;

struct _SttDecoders
{
  /* cmd_ln keeps pointers into these for the decoder's life. */
  gchar *hmm, *lm, *dict;
  gchar **ps_args;
  guint ready;
  guint max;

  GMutex init_lock;             /* serializes ps_init() and ps_free() */

  GMutex lock;                  /* protects what follows */
  GCond cond;
  GQueue idle;                  /* SttDecoder* */
  GQueue waiters;               /* Waiter* */
  guint loaded;                 /* idle or in use */
  gboolean loading;
  guint loads;
  gint64 retry_at;              /* no load before this (after a failure) */
  gint64 retry_us;
  gboolean stopping;
  GThread *loader;
};

static void
decoder_free (SttDecoders * decoders, SttDecoder * dec)
{
  g_mutex_lock (&decoders->init_lock);
  ps_free (dec->ps);
  g_mutex_unlock (&decoders->init_lock);
  g_free (dec->cmn_init);
  g_free (dec);
}

/* Any thread, no lock held. */
static SttDecoder *
decoder_load (SttDecoders * decoders, GError ** error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  cmd_ln_t *config;
  ps_decoder_t *ps;
  SttDecoder *dec;
  feat_t *feat;
  gint64 t0;
  guint i;

  g_ptr_array_add (argv, (gpointer) PROGRAM);
  g_ptr_array_add (argv, (gpointer) "-hmm");
  g_ptr_array_add (argv, decoders->hmm);
  g_ptr_array_add (argv, (gpointer) "-lm");
  g_ptr_array_add (argv, decoders->lm);
  g_ptr_array_add (argv, (gpointer) "-dict");
  g_ptr_array_add (argv, decoders->dict);
  for (i = 0; decoders->ps_args && decoders->ps_args[i]; i++)
    g_ptr_array_add (argv, decoders->ps_args[i]);

  g_mutex_lock (&decoders->init_lock);
  t0 = g_get_monotonic_time ();
  config = cmd_ln_parse_r (NULL, ps_args (), argv->len, (char **) argv->pdata,
      TRUE);
  ps = config ? ps_init (config) : NULL;
  if (config)
    cmd_ln_free_r (config);
  g_mutex_unlock (&decoders->init_lock);

  if (!config)
    goto bad_args;
  if (!ps)
    goto init_failed;

  g_message ("loaded a decoder in %.2f s", (g_get_monotonic_time () - t0) / 1e6);
  dec = g_new0 (SttDecoder, 1);
  dec->ps = ps;
  /* Saved so that each client starts from the model's initial CMN, not from the
   * previous client's channel estimate. */
  feat = ps_get_feat (ps);
  if (feat && feat->cmn_struct) {
    dec->cmn_len = feat->cmn_struct->veclen;
    dec->cmn_init = g_new (mfcc_t, dec->cmn_len);
    cmn_live_get (feat->cmn_struct, dec->cmn_init);
  }
  return dec;

  /* ERRORS */
bad_args:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "pocketsphinx rejected the decoder arguments (check the --ps-arg "
        "values; --verbose shows its log)");
    return NULL;
  }
init_failed:
  {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "pocketsphinx could not load the model (hmm %s, lm %s, dict %s); "
        "run with --verbose to see its log", decoders->hmm, decoders->lm,
        decoders->dict);
    return NULL;
  }
}

/* Any thread, no lock held: the state every client starts from. */
static void
decoder_prepare (SttDecoder * dec)
{
  feat_t *feat = ps_get_feat (dec->ps);

  /* Set the CMN even on a fresh decoder: cmn_live_set() does not give quite the
   * state ps_init() leaves, and every client should start from the same state
   * whichever decoder it gets. */
  if (dec->cmn_init && feat && feat->cmn_struct)
    cmn_live_set (feat->cmn_struct, dec->cmn_init);
  /* Restarts frame counting, so word times are relative to this client. */
  ps_start_stream (dec->ps);
}

/* Expects lock held. How many decoders there should be: @ready at least; while
 * clients hold or wait for some, one spare more; @max at most. */
static guint
wanted (SttDecoders * decoders)
{
  guint in_use = decoders->loaded - decoders->idle.length;
  guint need = in_use + decoders->waiters.length + (decoders->ready > 0 ? 1 : 0);

  return MIN (decoders->max, MAX (decoders->ready, need));
}

static gpointer
loader_func (gpointer data)
{
  SttDecoders *decoders = data;

#ifdef __linux__
  /* Loading ahead must not slow down the clients being decoded; on Linux the
   * nice value is per thread. */
  if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10) != 0)
    g_debug ("loader priority unchanged");
#endif

  g_mutex_lock (&decoders->lock);
  for (;;) {
    g_autoptr (GError) error = NULL;
    SttDecoder *dec, *surplus = NULL;
    Waiter *waiter;

    if (decoders->stopping)
      break;
    if (decoders->loaded >= wanted (decoders)) {
      g_cond_wait (&decoders->cond, &decoders->lock);
      continue;
    }
    if (g_get_monotonic_time () < decoders->retry_at) {
      g_cond_wait_until (&decoders->cond, &decoders->lock, decoders->retry_at);
      continue;
    }
    decoders->loading = TRUE;
    g_mutex_unlock (&decoders->lock);

    dec = decoder_load (decoders, &error);

    g_mutex_lock (&decoders->lock);
    decoders->loading = FALSE;
    if (dec) {
      decoders->loaded++;
      decoders->loads++;
      decoders->retry_us = 0;
    } else {
      decoders->retry_us = CLAMP (decoders->retry_us * 2, RETRY_MIN_US,
          RETRY_MAX_US);
      decoders->retry_at = g_get_monotonic_time () + decoders->retry_us;
    }
    /* A failure fails the longest wait; the others wait for the next try. */
    waiter = g_queue_pop_head (&decoders->waiters);
    if (!waiter && dec) {
      g_queue_push_tail (&decoders->idle, dec);
      /* Clients left while it loaded. */
      if (decoders->loaded > wanted (decoders)) {
        surplus = g_queue_pop_head (&decoders->idle);
        decoders->loaded--;
      }
    }
    g_mutex_unlock (&decoders->lock);

    if (surplus)
      decoder_free (decoders, surplus);
    if (!dec)
      g_warning ("%s", error->message);
    if (waiter) {
      if (dec)
        decoder_prepare (dec);
      waiter->func (dec, waiter->user_data);
      g_free (waiter);
    }
    g_mutex_lock (&decoders->lock);
  }
  g_mutex_unlock (&decoders->lock);
  return NULL;
}

SttDecoders *
stt_decoders_new (const gchar * hmm, const gchar * lm, const gchar * dict,
    gchar ** ps_args, guint ready, guint max, GError ** error)
{
  SttDecoders *decoders = g_new0 (SttDecoders, 1);
  SttDecoder *first;

  decoders->hmm = g_strdup (hmm);
  decoders->lm = g_strdup (lm);
  decoders->dict = g_strdup (dict);
  decoders->ps_args = g_strdupv (ps_args);
  decoders->ready = ready;
  decoders->max = MAX (max, 1);
  g_mutex_init (&decoders->init_lock);
  g_mutex_init (&decoders->lock);
  g_cond_init (&decoders->cond);
  g_queue_init (&decoders->idle);
  g_queue_init (&decoders->waiters);

  /* The first one checks the model and makes the first client fast. */
  first = decoder_load (decoders, error);
  if (!first) {
    stt_decoders_free (decoders);
    return NULL;
  }
  g_queue_push_tail (&decoders->idle, first);
  decoders->loaded = 1;
  decoders->loads = 1;
  decoders->loader = g_thread_new ("decoder-loader", loader_func, decoders);
  return decoders;
}

SttDecoder *
stt_decoders_take (SttDecoders * decoders, SttDecoderFunc func,
    gpointer user_data)
{
  SttDecoder *dec;

  g_mutex_lock (&decoders->lock);
  dec = g_queue_pop_head (&decoders->idle);
  if (!dec) {
    Waiter *waiter = g_new (Waiter, 1);

    waiter->func = func;
    waiter->user_data = user_data;
    g_queue_push_tail (&decoders->waiters, waiter);
  }
  /* One more in use (or waiting) may call for a spare. */
  g_cond_signal (&decoders->cond);
  g_mutex_unlock (&decoders->lock);

  if (dec)
    decoder_prepare (dec);
  return dec;
}

gboolean
stt_decoders_cancel (SttDecoders * decoders, gpointer user_data)
{
  GList *l;
  Waiter *waiter = NULL;

  g_mutex_lock (&decoders->lock);
  for (l = decoders->waiters.head; l; l = l->next) {
    if (((Waiter *) l->data)->user_data == user_data) {
      waiter = l->data;
      g_queue_delete_link (&decoders->waiters, l);
      break;
    }
  }
  g_mutex_unlock (&decoders->lock);
  g_free (waiter);
  return waiter != NULL;
}

void
stt_decoders_release (SttDecoders * decoders, SttDecoder * dec)
{
  SttDecoder *surplus = NULL;
  Waiter *waiter;

  g_mutex_lock (&decoders->lock);
  waiter = g_queue_pop_head (&decoders->waiters);
  if (!waiter) {
    g_queue_push_tail (&decoders->idle, dec);
    if (decoders->loaded > wanted (decoders)) {
      surplus = g_queue_pop_head (&decoders->idle);
      decoders->loaded--;
    }
  }
  g_mutex_unlock (&decoders->lock);

  if (waiter) {
    decoder_prepare (dec);
    waiter->func (dec, waiter->user_data);
    g_free (waiter);
  }
  if (surplus)
    decoder_free (decoders, surplus);
}

void
stt_decoders_get_counts (SttDecoders * decoders, guint * loaded, guint * loads)
{
  g_mutex_lock (&decoders->lock);
  *loaded = decoders->loaded;
  *loads = decoders->loads;
  g_mutex_unlock (&decoders->lock);
}

void
stt_decoders_free (SttDecoders * decoders)
{
  SttDecoder *dec;

  if (!decoders)
    return;
  if (decoders->loader) {
    gboolean loading;

    g_mutex_lock (&decoders->lock);
    decoders->stopping = TRUE;
    loading = decoders->loading;
    g_cond_signal (&decoders->cond);
    g_mutex_unlock (&decoders->lock);
    /* ps_init() cannot be interrupted and takes up to a second: at exit, the
     * loader is left to finish with everything it uses. */
    if (loading) {
      g_thread_unref (decoders->loader);
      return;
    }
    g_thread_join (decoders->loader);
  }
  g_assert (decoders->waiters.length == 0);
  while ((dec = g_queue_pop_head (&decoders->idle)))
    decoder_free (decoders, dec);
  g_mutex_clear (&decoders->lock);
  g_cond_clear (&decoders->cond);
  g_mutex_clear (&decoders->init_lock);
  g_free (decoders->hmm);
  g_free (decoders->lm);
  g_free (decoders->dict);
  g_strfreev (decoders->ps_args);
  g_free (decoders);
}

ps_decoder_t *
stt_decoder_get_ps (SttDecoder * dec)
{
  return dec->ps;
}
