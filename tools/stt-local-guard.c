/* stt-local-guard: see stt-local-guard.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "stt-local-guard.h"

/* Bytes read from the socket at a time. */
#define CHUNK 8192
/* A client frame header: 2 bytes, 8 of extended length, 4 of mask. */
#define MAX_HEADER 14
/* Reads that only discard before the main loop gets a turn. */
#define MAX_EMPTY_READS 64

static GQuark guard_quark;

typedef enum
{
  PHASE_HTTP,                   /* the HTTP request, up to its blank line */
  PHASE_HEADER,                 /* a frame header */
  PHASE_PAYLOAD,                /* a frame's payload, passed on */
  PHASE_DISCARD,                /* a refused frame's payload */
} Phase;

/* ---------- input: the client's bytes, filtered ---------- */

#define STT_TYPE_GUARD_INPUT (stt_guard_input_get_type ())
G_DECLARE_FINAL_TYPE (SttGuardInput, stt_guard_input, STT, GUARD_INPUT, GInputStream)

struct _SttGuardInput
{
  GInputStream parent;

  SttGuardStream *guard;        /* owns this stream */
  GInputStream *base;

  Phase phase;
  guint64 http_pos;
  guint8 prev1, prev2;          /* the two bytes before, in the request */
  guint8 header[MAX_HEADER];
  gsize header_len;
  guint64 left;                 /* payload bytes left in the current frame */
  guint64 message;              /* bytes so far of a fragmented data message */

  guint8 *staged;               /* passed bytes not yet given to the reader */
  gsize staged_len, staged_pos;
};

static void stt_guard_input_pollable_init (GPollableInputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (SttGuardInput, stt_guard_input, G_TYPE_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        stt_guard_input_pollable_init));

/* ---------- output: the server's bytes, watched for stalls ---------- */

#define STT_TYPE_GUARD_OUTPUT (stt_guard_output_get_type ())
G_DECLARE_FINAL_TYPE (SttGuardOutput, stt_guard_output, STT, GUARD_OUTPUT, GOutputStream)

struct _SttGuardOutput
{
  GOutputStream parent;

  SttGuardStream *guard;        /* owns this stream */
  GOutputStream *base;
};

static void stt_guard_output_pollable_init (GPollableOutputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (SttGuardOutput, stt_guard_output, G_TYPE_OUTPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
        stt_guard_output_pollable_init));

/* ---------- the connection ---------- */

struct _SttGuardStream
{
  GIOStream parent;

  GSocketConnection *base;
  GSocketAddress *remote;
  SttGuardInput *input;
  SttGuardOutput *output;
  GMainContext *context;
  guint64 max_message;

  gint64 last_read;
  gboolean paused;
  gboolean stalled;             /* the last write to the client would have blocked */
  gboolean shut;
  gboolean too_big;
  GPtrArray *waiting;           /* GSource: readers waiting for the input to resume */

  GSource *deadline;
  GSource *notify;
  SttGuardFunc too_big_func;
  gpointer too_big_data;

  guint64 written;              /* bytes written to the client */
  guint64 written_target;
  GSource *written_notify;
  SttGuardFunc written_func;
  gpointer written_data;
};

G_DEFINE_TYPE (SttGuardStream, stt_guard_stream, G_TYPE_IO_STREAM);

/* After a message over the limit nothing more is read: libsoup closes the
 * socket 5 s after its close frame, and reading on would only discard. */
static gboolean
input_held (SttGuardStream * guard)
{
  return (guard->paused || guard->stalled || guard->too_big) && !guard->shut;
}

/* Readers that waited for the input to resume try again. */
static void
wake_readers (SttGuardStream * guard)
{
  guint i;

  if (input_held (guard))
    return;
  for (i = 0; i < guard->waiting->len; i++) {
    GSource *source = g_ptr_array_index (guard->waiting, i);

    if (!g_source_is_destroyed (source))
      g_source_set_ready_time (source, 0);
  }
  g_ptr_array_set_size (guard->waiting, 0);
}

static gboolean
on_notify (gpointer user_data)
{
  SttGuardStream *guard = user_data;

  g_clear_pointer (&guard->notify, g_source_unref);
  if (guard->too_big_func)
    guard->too_big_func (guard, guard->too_big_data);
  return G_SOURCE_REMOVE;
}

/* Called inside a read: the owner hears of it from the main loop. */
static void
refuse_message (SttGuardStream * guard)
{
  if (guard->too_big)
    return;
  guard->too_big = TRUE;
  if (guard->too_big_func && !guard->notify) {
    guard->notify = g_idle_source_new ();
    g_source_set_callback (guard->notify, on_notify, g_object_ref (guard),
        g_object_unref);
    g_source_attach (guard->notify, guard->context);
  }
}

static void
stage (SttGuardInput * self, const guint8 * data, gsize len)
{
  memcpy (self->staged + self->staged_len, data, len);
  self->staged_len += len;
}

/* Length of the frame header whose first bytes are in self->header. */
static gsize
header_size (SttGuardInput * self)
{
  gsize size = 2;

  if (self->header_len < 2)
    return size;
  if ((self->header[1] & 0x7f) == 126)
    size += 2;
  else if ((self->header[1] & 0x7f) == 127)
    size += 8;
  if (self->header[1] & 0x80)
    size += 4;
  return size;
}

/* A complete frame header: decides whether its frame goes on to libsoup. */
static void
frame_header (SttGuardInput * self)
{
  SttGuardStream *guard = self->guard;
  const guint8 *h = self->header;
  gboolean fin = (h[0] & 0x80) != 0;
  guint opcode = h[0] & 0x0f;
  guint64 len = h[1] & 0x7f;
  guint i;

  if (len == 126) {
    len = ((guint64) h[2] << 8) | h[3];
  } else if (len == 127) {
    len = 0;
    for (i = 2; i < 10; i++)
      len = (len << 8) | h[i];
  }

  self->left = len;
  self->phase = len > 0 ? PHASE_PAYLOAD : PHASE_HEADER;

  /* Control frames (close, ping, pong) are libsoup's to check: they must carry
   * 125 bytes at most, and the close handshake needs them. */
  if (opcode >= 8) {
    stage (self, h, self->header_len);
    return;
  }

  /* A continuation adds to the message; any other data frame starts one. */
  if (opcode != 0)
    self->message = 0;
  if (guard->too_big || len > guard->max_message ||
      self->message + len > guard->max_message) {
    refuse_message (guard);
    self->phase = len > 0 ? PHASE_DISCARD : PHASE_HEADER;
    return;
  }
  self->message = fin ? 0 : self->message + len;
  stage (self, h, self->header_len);
}

/* The HTTP request ends where libsoup's header reader stops: a line that is "\n" or
 * "\r\n" right after a "\n", with at least 2 (3) bytes before that line. */
static void
http_byte (SttGuardInput * self, guint8 c)
{
  if (c == '\n' && ((self->prev1 == '\n' && self->http_pos >= 2) ||
          (self->prev1 == '\r' && self->prev2 == '\n' && self->http_pos >= 4)))
    self->phase = PHASE_HEADER;
  self->prev2 = self->prev1;
  self->prev1 = c;
  self->http_pos++;
}

/* Runs @len bytes from the socket through the parser; what libsoup may see is staged. */
static void
filter (SttGuardInput * self, const guint8 * data, gsize len)
{
  gsize i = 0;

  while (i < len) {
    gsize n;

    switch (self->phase) {
      case PHASE_HTTP:
        stage (self, data + i, 1);
        http_byte (self, data[i]);
        i++;
        break;
      case PHASE_HEADER:
        self->header[self->header_len++] = data[i++];
        if (self->header_len == header_size (self)) {
          frame_header (self);
          self->header_len = 0;
        }
        break;
      case PHASE_PAYLOAD:
      case PHASE_DISCARD:
        n = (gsize) MIN ((guint64) (len - i), self->left);
        if (self->phase == PHASE_PAYLOAD)
          stage (self, data + i, n);
        i += n;
        self->left -= n;
        if (self->left == 0)
          self->phase = PHASE_HEADER;
        break;
    }
  }
}

static gssize
guard_read (SttGuardInput * self, void *buffer, gsize count, gboolean blocking,
    GCancellable * cancellable, GError ** error)
{
  SttGuardStream *guard = self->guard;
  guint empty = 0;
  gsize n;

  while (self->staged_pos == self->staged_len) {
    guint8 data[CHUNK];
    gssize got;

    if (!blocking && (input_held (guard) || empty++ == MAX_EMPTY_READS)) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
          "input held back");
      return -1;
    }
    if (blocking)
      got = g_input_stream_read (self->base, data, sizeof (data), cancellable,
          error);
    else
      got = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM
          (self->base), data, sizeof (data), cancellable, error);
    if (got <= 0)
      return got;
    guard->last_read = g_get_monotonic_time ();
    self->staged_len = self->staged_pos = 0;
    filter (self, data, got);
  }
  n = MIN (count, self->staged_len - self->staged_pos);
  memcpy (buffer, self->staged + self->staged_pos, n);
  self->staged_pos += n;
  return n;
}

static gssize
stt_guard_input_read (GInputStream * stream, void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  return guard_read (STT_GUARD_INPUT (stream), buffer, count, TRUE, cancellable,
      error);
}

static gssize
stt_guard_input_read_nonblocking (GPollableInputStream * stream, void *buffer,
    gsize count, GError ** error)
{
  return guard_read (STT_GUARD_INPUT (stream), buffer, count, FALSE, NULL,
      error);
}

static gboolean
stt_guard_input_can_poll (GPollableInputStream * stream)
{
  return TRUE;
}

static gboolean
stt_guard_input_is_readable (GPollableInputStream * stream)
{
  SttGuardInput *self = STT_GUARD_INPUT (stream);

  if (self->staged_pos < self->staged_len)
    return TRUE;
  if (input_held (self->guard))
    return FALSE;
  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM
      (self->base));
}

static GSource *
stt_guard_input_create_source (GPollableInputStream * stream,
    GCancellable * cancellable)
{
  SttGuardInput *self = STT_GUARD_INPUT (stream);
  GSource *base_source, *source;

  if (self->staged_pos < self->staged_len || input_held (self->guard)) {
    /* Ready at once, or when the input resumes (wake_readers()). */
    source = g_pollable_source_new_full (stream, NULL, cancellable);
    if (self->staged_pos < self->staged_len)
      g_source_set_ready_time (source, 0);
    else
      g_ptr_array_add (self->guard->waiting, g_source_ref (source));
    return source;
  }
  base_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM
      (self->base), NULL);
  source = g_pollable_source_new_full (stream, base_source, cancellable);
  g_source_unref (base_source);
  return source;
}

/* The GIOStream closes the socket. */
static gboolean
stt_guard_input_close (GInputStream * stream, GCancellable * cancellable,
    GError ** error)
{
  return TRUE;
}

static void
stt_guard_input_finalize (GObject * object)
{
  SttGuardInput *self = STT_GUARD_INPUT (object);

  g_free (self->staged);
  g_clear_object (&self->base);
  G_OBJECT_CLASS (stt_guard_input_parent_class)->finalize (object);
}

static void
stt_guard_input_pollable_init (GPollableInputStreamInterface * iface)
{
  iface->can_poll = stt_guard_input_can_poll;
  iface->is_readable = stt_guard_input_is_readable;
  iface->create_source = stt_guard_input_create_source;
  iface->read_nonblocking = stt_guard_input_read_nonblocking;
}

static void
stt_guard_input_class_init (SttGuardInputClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = stt_guard_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = stt_guard_input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = stt_guard_input_close;
}

static void
stt_guard_input_init (SttGuardInput * self)
{
  /* One chunk, plus a frame header held back from the chunk before. */
  self->staged = g_malloc (CHUNK + MAX_HEADER);
}

/* ---------- output ---------- */

static gboolean
on_written_notify (gpointer user_data)
{
  SttGuardStream *guard = user_data;
  SttGuardFunc func = guard->written_func;

  g_clear_pointer (&guard->written_notify, g_source_unref);
  /* Cancelled, or replaced by a request not met yet, since it was scheduled. */
  if (!func || guard->written < guard->written_target)
    return G_SOURCE_REMOVE;
  guard->written_func = NULL;
  func (guard, guard->written_data);
  return G_SOURCE_REMOVE;
}

/* Called inside a write, or by the owner: the owner hears of it from the main loop. At
 * the default priority, as the sockets: an idle could wait behind a busy server. */
static void
check_written (SttGuardStream * guard)
{
  if (!guard->written_func || guard->written_notify ||
      guard->written < guard->written_target)
    return;
  guard->written_notify = g_timeout_source_new (0);
  g_source_set_priority (guard->written_notify, G_PRIORITY_DEFAULT);
  g_source_set_callback (guard->written_notify, on_written_notify,
      g_object_ref (guard), g_object_unref);
  g_source_attach (guard->written_notify, guard->context);
}

static void
note_write (SttGuardOutput * self, gssize written, GError * error)
{
  SttGuardStream *guard = self->guard;

  if (written >= 0) {
    guard->stalled = FALSE;
    guard->written += written;
    check_written (guard);
    wake_readers (guard);
  } else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
    guard->stalled = TRUE;
  }
}

static gssize
stt_guard_output_write (GOutputStream * stream, const void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  SttGuardOutput *self = STT_GUARD_OUTPUT (stream);
  gssize n = g_output_stream_write (self->base, buffer, count, cancellable,
      error);

  note_write (self, n, error ? *error : NULL);
  return n;
}

static gssize
stt_guard_output_write_nonblocking (GPollableOutputStream * stream,
    const void *buffer, gsize count, GError ** error)
{
  SttGuardOutput *self = STT_GUARD_OUTPUT (stream);
  GError *local = NULL;
  gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM
      (self->base), buffer, count, NULL, &local);

  note_write (self, n, local);
  if (local)
    g_propagate_error (error, local);
  return n;
}

static gboolean
stt_guard_output_flush (GOutputStream * stream, GCancellable * cancellable,
    GError ** error)
{
  return g_output_stream_flush (STT_GUARD_OUTPUT (stream)->base, cancellable,
      error);
}

static gboolean
stt_guard_output_close (GOutputStream * stream, GCancellable * cancellable,
    GError ** error)
{
  return TRUE;
}

static gboolean
stt_guard_output_can_poll (GPollableOutputStream * stream)
{
  return TRUE;
}

static gboolean
stt_guard_output_is_writable (GPollableOutputStream * stream)
{
  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM
      (STT_GUARD_OUTPUT (stream)->base));
}

static GSource *
stt_guard_output_create_source (GPollableOutputStream * stream,
    GCancellable * cancellable)
{
  GSource *base_source, *source;

  base_source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM
      (STT_GUARD_OUTPUT (stream)->base), NULL);
  source = g_pollable_source_new_full (stream, base_source, cancellable);
  g_source_unref (base_source);
  return source;
}

static void
stt_guard_output_finalize (GObject * object)
{
  g_clear_object (&STT_GUARD_OUTPUT (object)->base);
  G_OBJECT_CLASS (stt_guard_output_parent_class)->finalize (object);
}

static void
stt_guard_output_pollable_init (GPollableOutputStreamInterface * iface)
{
  iface->can_poll = stt_guard_output_can_poll;
  iface->is_writable = stt_guard_output_is_writable;
  iface->create_source = stt_guard_output_create_source;
  iface->write_nonblocking = stt_guard_output_write_nonblocking;
}

static void
stt_guard_output_class_init (SttGuardOutputClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = stt_guard_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = stt_guard_output_write;
  G_OUTPUT_STREAM_CLASS (klass)->flush = stt_guard_output_flush;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = stt_guard_output_close;
}

static void
stt_guard_output_init (SttGuardOutput * self)
{
}

/* ---------- the connection ---------- */

static GInputStream *
stt_guard_stream_get_input_stream (GIOStream * stream)
{
  return G_INPUT_STREAM (STT_GUARD_STREAM (stream)->input);
}

static GOutputStream *
stt_guard_stream_get_output_stream (GIOStream * stream)
{
  return G_OUTPUT_STREAM (STT_GUARD_STREAM (stream)->output);
}

static gboolean
stt_guard_stream_close (GIOStream * stream, GCancellable * cancellable,
    GError ** error)
{
  return g_io_stream_close (G_IO_STREAM (STT_GUARD_STREAM (stream)->base),
      cancellable, error);
}

/* Closing a socket does not block: done here rather than in GIO's default thread, so
 * the guard stays on its one thread. */
static void
stt_guard_stream_close_async (GIOStream * stream, int io_priority,
    GCancellable * cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  if (stt_guard_stream_close (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
stt_guard_stream_close_finish (GIOStream * stream, GAsyncResult * result,
    GError ** error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
stt_guard_stream_dispose (GObject * object)
{
  SttGuardStream *guard = STT_GUARD_STREAM (object);

  if (guard->deadline) {
    g_source_destroy (guard->deadline);
    g_clear_pointer (&guard->deadline, g_source_unref);
  }
  /* on_notify and on_written_notify hold a reference: nothing is pending here. */
  guard->too_big_func = NULL;
  guard->written_func = NULL;
  if (guard->remote) {
    g_object_set_qdata (G_OBJECT (guard->remote), guard_quark, NULL);
    g_clear_object (&guard->remote);
  }
  G_OBJECT_CLASS (stt_guard_stream_parent_class)->dispose (object);
}

static void
stt_guard_stream_finalize (GObject * object)
{
  SttGuardStream *guard = STT_GUARD_STREAM (object);

  g_ptr_array_unref (guard->waiting);
  g_clear_object (&guard->input);
  g_clear_object (&guard->output);
  g_clear_object (&guard->base);
  g_main_context_unref (guard->context);
  G_OBJECT_CLASS (stt_guard_stream_parent_class)->finalize (object);
}

static void
stt_guard_stream_class_init (SttGuardStreamClass * klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = stt_guard_stream_dispose;
  object_class->finalize = stt_guard_stream_finalize;
  stream_class->get_input_stream = stt_guard_stream_get_input_stream;
  stream_class->get_output_stream = stt_guard_stream_get_output_stream;
  stream_class->close_fn = stt_guard_stream_close;
  stream_class->close_async = stt_guard_stream_close_async;
  stream_class->close_finish = stt_guard_stream_close_finish;

  guard_quark = g_quark_from_static_string ("stt-guard-stream");
}

static void
stt_guard_stream_init (SttGuardStream * guard)
{
  guard->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_source_unref);
  guard->context = g_main_context_ref_thread_default ();
  guard->last_read = g_get_monotonic_time ();
}

SttGuardStream *
stt_guard_stream_new (GSocketConnection * base, GSocketAddress * remote,
    guint64 max_message)
{
  SttGuardStream *guard = g_object_new (STT_TYPE_GUARD_STREAM, NULL);

  guard->base = g_object_ref (base);
  guard->remote = g_object_ref (remote);
  guard->max_message = max_message;

  guard->input = g_object_new (STT_TYPE_GUARD_INPUT, NULL);
  guard->input->guard = guard;
  guard->input->base =
      g_object_ref (g_io_stream_get_input_stream (G_IO_STREAM (base)));
  guard->output = g_object_new (STT_TYPE_GUARD_OUTPUT, NULL);
  guard->output->guard = guard;
  guard->output->base =
      g_object_ref (g_io_stream_get_output_stream (G_IO_STREAM (base)));

  g_object_set_qdata (G_OBJECT (remote), guard_quark, guard);
  return guard;
}

SttGuardStream *
stt_guard_stream_lookup (SoupServerMessage * msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  if (!remote || !guard_quark)
    return NULL;
  return g_object_get_qdata (G_OBJECT (remote), guard_quark);
}

void
stt_guard_stream_set_context (SttGuardStream * guard, GMainContext * context)
{
  g_return_if_fail (!guard->deadline && !guard->notify &&
      !guard->written_notify);
  g_main_context_unref (guard->context);
  guard->context = g_main_context_ref (context);
}

static gboolean
on_deadline (gpointer user_data)
{
  SttGuardStream *guard = user_data;

  g_clear_pointer (&guard->deadline, g_source_unref);
  stt_guard_stream_shutdown (guard);
  return G_SOURCE_REMOVE;
}

void
stt_guard_stream_set_deadline (SttGuardStream * guard, guint seconds)
{
  if (guard->deadline) {
    g_source_destroy (guard->deadline);
    g_clear_pointer (&guard->deadline, g_source_unref);
  }
  if (seconds == 0)
    return;
  /* No reference: dispose removes the source. */
  guard->deadline = g_timeout_source_new_seconds (seconds);
  g_source_set_callback (guard->deadline, on_deadline, guard, NULL);
  g_source_attach (guard->deadline, guard->context);
}

void
stt_guard_stream_set_too_big_func (SttGuardStream * guard, SttGuardFunc func,
    gpointer user_data)
{
  guard->too_big_func = func;
  guard->too_big_data = user_data;
}

gboolean
stt_guard_stream_is_too_big (SttGuardStream * guard)
{
  return guard->too_big;
}

void
stt_guard_stream_set_paused (SttGuardStream * guard, gboolean paused)
{
  guard->paused = paused;
  wake_readers (guard);
}

gint64
stt_guard_stream_get_last_read (SttGuardStream * guard)
{
  return guard->last_read;
}

GSocket *
stt_guard_stream_get_socket (SttGuardStream * guard)
{
  return g_socket_connection_get_socket (guard->base);
}

guint64
stt_guard_stream_get_written (SttGuardStream * guard)
{
  return guard->written;
}

void
stt_guard_stream_notify_written (SttGuardStream * guard, guint64 target,
    SttGuardFunc func, gpointer user_data)
{
  guard->written_target = target;
  guard->written_func = func;
  guard->written_data = user_data;
  check_written (guard);
}

void
stt_guard_stream_shutdown (SttGuardStream * guard)
{
  GSocket *socket = g_socket_connection_get_socket (guard->base);

  guard->shut = TRUE;
  if (!g_socket_is_closed (socket))
    g_socket_shutdown (socket, TRUE, TRUE, NULL);
  wake_readers (guard);
}
