#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The launch lines of examples/README.md, run against the local recognizer so that they
# are known to work: WebVTT, SRT, and bus messages. Needs a build (scripts/build.sh).
#   examples/launch-lines.sh [AUDIO.wav]
set -euo pipefail
cd "$(dirname "$0")/.."
export GST_PLUGIN_PATH=$PWD/build/gst/stt
out=build/examples
mkdir -p "$out"
wav=${1:-$out/sample.wav}
[ -f "$wav" ] || flite -voice slt -t "Captions for everyone. No account needed." -o "$wav"

build/tools/stt-local-server --port 0 >"$out/server.out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on ws:\/\/[^:]*:\([0-9]*\).*/\1/p' "$out/server.out")
  [ -n "$port" ] && break
  sleep 0.1
done
url=ws://127.0.0.1:$port

set -x
gst-launch-1.0 -q filesrc location="$wav" ! wavparse ! audioconvert ! \
  stttranscribe provider=vosk url=$url ! webvttenc ! filesink location="$out/captions.vtt"
gst-launch-1.0 -q filesrc location="$wav" ! wavparse ! audioconvert ! \
  stttranscribe provider=vosk url=$url ! srtenc ! filesink location="$out/captions.srt"
gst-launch-1.0 -m filesrc location="$wav" ! wavparse ! audioconvert ! \
  sttsink provider=vosk url=$url | grep -E "stt-transcript.*is-final=\(boolean\)true" | head -3
set +x
cat "$out/captions.vtt" "$out/captions.srt"
