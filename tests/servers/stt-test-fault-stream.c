/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stt-test-fault-stream: a GIOStream that can stall or end on command (see header). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "stt-test-fault-stream.h"

/* The mode, shared by the stream and its two halves. */
typedef struct
{
  SttTestFaultStreamMode mode;
} Shared;

/* --- input half ---------------------------------------------------------------------- */

#define STT_TEST_TYPE_FAULT_INPUT (stt_test_fault_input_get_type ())
G_DECLARE_FINAL_TYPE (SttTestFaultInput, stt_test_fault_input, STT_TEST, FAULT_INPUT,
    GInputStream)

struct _SttTestFaultInput
{
  GInputStream parent;
  GInputStream *base;
  Shared *shared;
  GSource *last_source;         /* the source libsoup waits on, to wake it for EOF */
};

static void stt_test_fault_input_pollable_init (GPollableInputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (SttTestFaultInput, stt_test_fault_input, G_TYPE_INPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
        stt_test_fault_input_pollable_init))

static gssize
input_read_nonblocking (GPollableInputStream * stream, void *buffer, gsize count,
    GError ** error)
{
  SttTestFaultInput *self = STT_TEST_FAULT_INPUT (stream);

  switch (self->shared->mode) {
    case STT_TEST_FAULT_STREAM_EOF:
      return 0;
    case STT_TEST_FAULT_STREAM_STALL:
    case STT_TEST_FAULT_STREAM_DEAF:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "stalled");
      return -1;
    default:
      return g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM
          (self->base), buffer, count, NULL, error);
  }
}

static gssize
input_read (GInputStream * stream, void *buffer, gsize count, GCancellable * cancellable,
    GError ** error)
{
  SttTestFaultInput *self = STT_TEST_FAULT_INPUT (stream);

  if (self->shared->mode != STT_TEST_FAULT_STREAM_PASS)
    return input_read_nonblocking (G_POLLABLE_INPUT_STREAM (stream), buffer, count, error);
  return g_input_stream_read (self->base, buffer, count, cancellable, error);
}

/* The base is closed with the whole stream. The kept source refs the stream: drop it
 * (nothing waits on a closed stream). */
static gboolean
input_close (GInputStream * stream, GCancellable * cancellable, GError ** error)
{
  g_clear_pointer (&STT_TEST_FAULT_INPUT (stream)->last_source, g_source_unref);
  return TRUE;
}

static gboolean
input_can_poll (GPollableInputStream * stream)
{
  return g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM
      (STT_TEST_FAULT_INPUT (stream)->base));
}

static gboolean
input_is_readable (GPollableInputStream * stream)
{
  SttTestFaultInput *self = STT_TEST_FAULT_INPUT (stream);

  switch (self->shared->mode) {
    case STT_TEST_FAULT_STREAM_EOF:
      return TRUE;
    case STT_TEST_FAULT_STREAM_STALL:
    case STT_TEST_FAULT_STREAM_DEAF:
      return FALSE;
    default:
      return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base));
  }
}

/* With @base_source: ready when the base is; without: never, or at once for EOF (a read
 * then returns 0).
 * The source is kept in @last so that switching to EOF can wake it; that is a reference
 * cycle (the source refs the stream) broken when the stream is closed. */
static GSource *
mode_source (gpointer stream, SttTestFaultStreamMode mode, GSource * base_source,
    GCancellable * cancellable, GSource ** last)
{
  GSource *source = g_pollable_source_new_full (stream, base_source, cancellable);

  if (base_source != NULL)
    g_source_unref (base_source);
  if (mode == STT_TEST_FAULT_STREAM_EOF)
    g_source_set_ready_time (source, 0);
  g_clear_pointer (last, g_source_unref);
  *last = g_source_ref (source);
  return source;
}

static void
wake_source (GSource * source)
{
  if (source != NULL && !g_source_is_destroyed (source))
    g_source_set_ready_time (source, 0);
}

static GSource *
input_create_source (GPollableInputStream * stream, GCancellable * cancellable)
{
  SttTestFaultInput *self = STT_TEST_FAULT_INPUT (stream);
  GSource *base_source = NULL;

  if (self->shared->mode == STT_TEST_FAULT_STREAM_PASS)
    base_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM
        (self->base), NULL);
  return mode_source (stream, self->shared->mode, base_source, cancellable,
      &self->last_source);
}

static void
stt_test_fault_input_pollable_init (GPollableInputStreamInterface * iface)
{
  iface->can_poll = input_can_poll;
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
stt_test_fault_input_finalize (GObject * object)
{
  SttTestFaultInput *self = STT_TEST_FAULT_INPUT (object);

  g_clear_pointer (&self->last_source, g_source_unref);
  g_clear_object (&self->base);
  g_rc_box_release (self->shared);
  G_OBJECT_CLASS (stt_test_fault_input_parent_class)->finalize (object);
}

static void
stt_test_fault_input_class_init (SttTestFaultInputClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = stt_test_fault_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = input_close;
}

static void
stt_test_fault_input_init (SttTestFaultInput * self)
{
}

/* --- output half --------------------------------------------------------------------- */

#define STT_TEST_TYPE_FAULT_OUTPUT (stt_test_fault_output_get_type ())
G_DECLARE_FINAL_TYPE (SttTestFaultOutput, stt_test_fault_output, STT_TEST, FAULT_OUTPUT,
    GOutputStream)

struct _SttTestFaultOutput
{
  GOutputStream parent;
  GOutputStream *base;
  Shared *shared;
  GSource *last_source;
};

static void stt_test_fault_output_pollable_init (GPollableOutputStreamInterface * iface);

G_DEFINE_TYPE_WITH_CODE (SttTestFaultOutput, stt_test_fault_output, G_TYPE_OUTPUT_STREAM,
    G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
        stt_test_fault_output_pollable_init))

static gssize
output_write_nonblocking (GPollableOutputStream * stream, const void *buffer, gsize count,
    GError ** error)
{
  SttTestFaultOutput *self = STT_TEST_FAULT_OUTPUT (stream);

  switch (self->shared->mode) {
    case STT_TEST_FAULT_STREAM_EOF:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "connection dropped");
      return -1;
    case STT_TEST_FAULT_STREAM_STALL:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "stalled");
      return -1;
    default:
      return g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM
          (self->base), buffer, count, NULL, error);
  }
}

static gssize
output_write (GOutputStream * stream, const void *buffer, gsize count,
    GCancellable * cancellable, GError ** error)
{
  SttTestFaultOutput *self = STT_TEST_FAULT_OUTPUT (stream);

  if (self->shared->mode != STT_TEST_FAULT_STREAM_PASS
      && self->shared->mode != STT_TEST_FAULT_STREAM_DEAF)
    return output_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), buffer, count,
        error);
  return g_output_stream_write (self->base, buffer, count, cancellable, error);
}

static gboolean
output_flush (GOutputStream * stream, GCancellable * cancellable, GError ** error)
{
  SttTestFaultOutput *self = STT_TEST_FAULT_OUTPUT (stream);

  if (self->shared->mode != STT_TEST_FAULT_STREAM_PASS)
    return TRUE;
  return g_output_stream_flush (self->base, cancellable, error);
}

static gboolean
output_close (GOutputStream * stream, GCancellable * cancellable, GError ** error)
{
  g_clear_pointer (&STT_TEST_FAULT_OUTPUT (stream)->last_source, g_source_unref);
  return TRUE;
}

static gboolean
output_can_poll (GPollableOutputStream * stream)
{
  return g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM
      (STT_TEST_FAULT_OUTPUT (stream)->base));
}

static gboolean
output_is_writable (GPollableOutputStream * stream)
{
  SttTestFaultOutput *self = STT_TEST_FAULT_OUTPUT (stream);

  switch (self->shared->mode) {
    case STT_TEST_FAULT_STREAM_EOF:
      return TRUE;
    case STT_TEST_FAULT_STREAM_STALL:
      return FALSE;
    default:
      return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (self->base));
  }
}

static GSource *
output_create_source (GPollableOutputStream * stream, GCancellable * cancellable)
{
  SttTestFaultOutput *self = STT_TEST_FAULT_OUTPUT (stream);
  GSource *base_source = NULL;

  /* A deaf stream still writes. */
  if (self->shared->mode == STT_TEST_FAULT_STREAM_PASS
      || self->shared->mode == STT_TEST_FAULT_STREAM_DEAF)
    base_source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM
        (self->base), NULL);
  return mode_source (stream, self->shared->mode, base_source, cancellable,
      &self->last_source);
}

static void
stt_test_fault_output_pollable_init (GPollableOutputStreamInterface * iface)
{
  iface->can_poll = output_can_poll;
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void
stt_test_fault_output_finalize (GObject * object)
{
  SttTestFaultOutput *self = STT_TEST_FAULT_OUTPUT (object);

  g_clear_pointer (&self->last_source, g_source_unref);
  g_clear_object (&self->base);
  g_rc_box_release (self->shared);
  G_OBJECT_CLASS (stt_test_fault_output_parent_class)->finalize (object);
}

static void
stt_test_fault_output_class_init (SttTestFaultOutputClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = stt_test_fault_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = output_write;
  G_OUTPUT_STREAM_CLASS (klass)->flush = output_flush;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = output_close;
}

static void
stt_test_fault_output_init (SttTestFaultOutput * self)
{
}

/* --- the stream ---------------------------------------------------------------------- */

struct _SttTestFaultStream
{
  GIOStream parent;
  GIOStream *base;
  Shared *shared;
  SttTestFaultInput *input;
  SttTestFaultOutput *output;
};

G_DEFINE_TYPE (SttTestFaultStream, stt_test_fault_stream, G_TYPE_IO_STREAM)

static GInputStream *
stream_get_input_stream (GIOStream * stream)
{
  return G_INPUT_STREAM (STT_TEST_FAULT_STREAM (stream)->input);
}

static GOutputStream *
stream_get_output_stream (GIOStream * stream)
{
  return G_OUTPUT_STREAM (STT_TEST_FAULT_STREAM (stream)->output);
}

static gboolean
stream_close (GIOStream * stream, GCancellable * cancellable, GError ** error)
{
  SttTestFaultStream *self = STT_TEST_FAULT_STREAM (stream);

  g_output_stream_close (G_OUTPUT_STREAM (self->output), NULL, NULL);
  g_input_stream_close (G_INPUT_STREAM (self->input), NULL, NULL);
  return g_io_stream_close (self->base, cancellable, error);
}

/* Closing a socket does not block: do it here rather than in GIO's worker thread. */
static void
stream_close_async (GIOStream * stream, int io_priority, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  if (stream_close (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static gboolean
stream_close_finish (GIOStream * stream, GAsyncResult * result, GError ** error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
stt_test_fault_stream_finalize (GObject * object)
{
  SttTestFaultStream *self = STT_TEST_FAULT_STREAM (object);

  g_clear_object (&self->input);
  g_clear_object (&self->output);
  g_clear_object (&self->base);
  g_rc_box_release (self->shared);
  G_OBJECT_CLASS (stt_test_fault_stream_parent_class)->finalize (object);
}

static void
stt_test_fault_stream_class_init (SttTestFaultStreamClass * klass)
{
  GIOStreamClass *io_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = stt_test_fault_stream_finalize;
  io_class->get_input_stream = stream_get_input_stream;
  io_class->get_output_stream = stream_get_output_stream;
  io_class->close_fn = stream_close;
  io_class->close_async = stream_close_async;
  io_class->close_finish = stream_close_finish;
}

static void
stt_test_fault_stream_init (SttTestFaultStream * self)
{
}

SttTestFaultStream *
stt_test_fault_stream_new (GIOStream * base)
{
  SttTestFaultStream *self = g_object_new (STT_TEST_TYPE_FAULT_STREAM, NULL);

  self->base = g_object_ref (base);
  self->shared = g_rc_box_new0 (Shared);
  self->input = g_object_new (STT_TEST_TYPE_FAULT_INPUT, NULL);
  self->input->base = g_object_ref (g_io_stream_get_input_stream (base));
  self->input->shared = g_rc_box_acquire (self->shared);
  self->output = g_object_new (STT_TEST_TYPE_FAULT_OUTPUT, NULL);
  self->output->base = g_object_ref (g_io_stream_get_output_stream (base));
  self->output->shared = g_rc_box_acquire (self->shared);
  return self;
}

void
stt_test_fault_stream_set_mode (SttTestFaultStream * self, SttTestFaultStreamMode mode)
{
  self->shared->mode = mode;
  if (mode == STT_TEST_FAULT_STREAM_EOF) {
    wake_source (self->input->last_source);
    wake_source (self->output->last_source);
  }
}

SttTestFaultStreamMode
stt_test_fault_stream_get_mode (SttTestFaultStream * self)
{
  return self->shared->mode;
}

GIOStream *
stt_test_fault_stream_get_base (SttTestFaultStream * self)
{
  return self->base;
}
