/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz.h: what every fuzz target of this folder shares.
 *
 * A target defines LLVMFuzzerTestOneInput(). Built with libFuzzer (clang,
 * -Dfuzzing=enabled) it is fuzzed; otherwise fuzz-replay.c supplies main() and feeds it
 * the files of the seed corpus (meson test --suite fuzz-corpus). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* Criticals and warnings are bugs, as under gst-check: make them abort. Call first in
 * every input (cheap after the first). */
void fuzz_init (void);

/* An invariant the code under test must keep; aborts with the message when broken, in
 * every build type (not compiled out like g_assert with G_DISABLE_ASSERT). */
#define FUZZ_CHECK(cond, ...) G_STMT_START {                                    \
    if (G_UNLIKELY (!(cond)))                                                   \
      fuzz_fail (G_STRLOC, #cond, __VA_ARGS__);                                 \
  } G_STMT_END

G_NORETURN void fuzz_fail (const gchar * where, const gchar * cond, const gchar * format,
    ...) G_GNUC_PRINTF (3, 4);

G_END_DECLS
