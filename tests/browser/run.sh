#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The viewer page in a real browser:
#   tests/browser/run.sh STT_CAPTION_SERVER STT_LOCAL_SERVER PLUGIN_DIR OUT_DIR
# Installs puppeteer-core (tests/browser/package.json, pinned) once into OUT_DIR/node and
# runs viewer.mjs, which drives Debian's Chromium (/usr/bin/chromium, or $CHROMIUM; no
# browser is downloaded). Exits 77 (skipped) with a message when chromium, node, npm,
# flite or gst-launch-1.0 is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
caption_server=$1
local_server=$2
plugin_dir=$3
out_dir=$4
chromium=${CHROMIUM:-/usr/bin/chromium}

skip() {
  echo "SKIP: $* (the browser test needs chromium, node, npm, flite and gst-launch-1.0;" \
    "Debian: apt-get install chromium nodejs npm flite gstreamer1.0-tools)"
  exit 77
}
[ -x "$chromium" ] || skip "no Chromium at $chromium"
command -v node >/dev/null || skip "no node"
command -v npm >/dev/null || skip "no npm"
command -v flite >/dev/null || skip "no flite"
command -v gst-launch-1.0 >/dev/null || skip "no gst-launch-1.0"

mkdir -p "$out_dir/node"
node_dir=$(cd "$out_dir/node" && pwd)
(
  flock 9
  if [ ! -f "$node_dir/.installed" ] || ! cmp -s "$here/package.json" "$node_dir/package.json"; then
    cp "$here/package.json" "$node_dir/package.json"
    (cd "$node_dir" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$node_dir/.installed"
  fi
) 9>"$node_dir/.lock"

export STT_CAPTION_SERVER=$caption_server STT_LOCAL_SERVER=$local_server
# A registry of our own: the plugin of this build, not another one's.
export GST_PLUGIN_PATH=$plugin_dir GST_REGISTRY=$out_dir/registry.bin
export CHROMIUM=$chromium NODE_DIR=$node_dir
export OUT_DIR=$(cd "$out_dir" && pwd)
exec timeout 300 node "$here/viewer.mjs"
