#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job, from a fresh Debian 12 machine: install what is missing, build, start the
# local recognizer (no account, no internet), transcribe a spoken sample through
# stttranscribe, print the captions as they arrive, write a .vtt, stop the server.
#
#   scripts/demo.sh [AUDIO-FILE]      (default: a sentence spoken by flite)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null

out=build/demo
mkdir -p "$out"
if [ $# -ge 1 ]; then
  sample=$1
else
  sample=$out/sample.wav
  text="The quick brown fox jumps over the lazy dog. Please turn on the kitchen light."
  flite -voice slt -t "$text" -o "$sample"
  echo "Sample: \"$text\" (spoken by flite)"
fi

build/tools/stt-local-server --port 0 >"$out/server.out" 2>"$out/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on ws:\/\/[^:]*:\([0-9]*\).*/\1/p' "$out/server.out")
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "stt-local-server did not start" >&2; exit 1; }
echo "Local recognizer: ws://127.0.0.1:$port (stt-local-server, pocketsphinx)"
echo

GST_PLUGIN_PATH=$PWD/build/gst/stt build/examples/stt-captions --provider vosk \
  --url "ws://127.0.0.1:$port" --vtt "$out/captions.vtt" "$sample"
echo
cat "$out/captions.vtt"
