/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-replay.c: main() for builds without libFuzzer. Feeds every file named on the
 * command line, and every file of every directory named, to LLVMFuzzerTestOneInput()
 * once: the seed corpus and past findings become a quick regression test with any
 * compiler (meson test --suite fuzz-corpus). A broken invariant aborts. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static guint replayed;

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
replay_file (const gchar * path)
{
  gchar *data = NULL;
  gsize len = 0;
  GError *error = NULL;

  if (!g_file_get_contents (path, &data, &len, &error)) {
    fprintf (stderr, "%s: %s\n", path, error->message);
    exit (EXIT_FAILURE);
  }
  /* Named before, so the file that crashed is the last one printed. */
  if (g_getenv ("FUZZ_REPLAY_VERBOSE"))
    fprintf (stderr, "%s\n", path);
  /* A copy of exactly @len bytes, so that a read past the end shows under ASan; never
   * NULL, as with libFuzzer, even for an empty file. */
  {
    guint8 *copy = g_malloc (MAX (len, 1));

    memcpy (copy, data, len);

    LLVMFuzzerTestOneInput (copy, len);
    g_free (copy);
  }
  g_free (data);
  replayed++;
}

static void
replay_path (const gchar * path)
{
  GDir *dir;
  GPtrArray *names;
  const gchar *name;
  guint i;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
    replay_file (path);
    return;
  }
  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL) {
    fprintf (stderr, "%s: cannot open\n", path);
    exit (EXIT_FAILURE);
  }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_dir_close (dir);
  /* A stable order, for reproducible runs. */
  g_ptr_array_sort (names, compare_names);
  for (i = 0; i < names->len; i++) {
    const gchar *p = g_ptr_array_index (names, i);

    if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
      replay_file (p);
  }
  g_ptr_array_unref (names);
}

int
main (int argc, char **argv)
{
  int i;

  if (argc < 2) {
    fprintf (stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
    return EXIT_FAILURE;
  }
  for (i = 1; i < argc; i++)
    replay_path (argv[i]);
  /* An empty corpus would make this test pass without testing anything. */
  if (replayed == 0) {
    fprintf (stderr, "no input found\n");
    return EXIT_FAILURE;
  }
  printf ("%u input(s) replayed without a finding\n", replayed);
  return EXIT_SUCCESS;
}
