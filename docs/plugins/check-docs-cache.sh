#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The docs-cache test: the documentation cache the built plugin describes must be the
# one in the repository.   check-docs-cache.sh STT_DOCS_CACHE_PROGRAM CACHE_FILE
set -euo pipefail
now=$(mktemp)
trap 'rm -f "$now"' EXIT
"$1" "$now"
if ! diff -u "$2" "$now"; then
  echo "docs/plugins/gst_plugins_cache.json is out of date: the plugin's elements," \
    "pads or properties changed. Run: ninja -C <build> update-docs-cache, and commit it."
  exit 1
fi
echo "docs cache up to date"
