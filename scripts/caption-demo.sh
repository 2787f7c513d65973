#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Captions in a browser, the first of the README's three commands:
#   scripts/caption-demo.sh
# Installs what is missing and builds (as demo.sh), makes a secret and a spoken sample in
# build/caption-demo/, starts the local recognizer (ws://127.0.0.1:2700) and the caption
# server (http://127.0.0.1:8080, room "demo" open to viewers without a token), prints the
# viewer page's URL and the pipeline that publishes to it, and waits: Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null

out=build/caption-demo
mkdir -p "$out"
# A new room history for every demo.
rm -rf "$out/store"
# The secret the caption server checks tokens with, and sttpublish signs them with.
[ -s "$out/secret" ] || (umask 077 && openssl rand -hex 32 >"$out/secret")

# Three sentences spoken by flite, 1.5 s of silence after each (the recognizer ends an
# utterance after 0.5 s of silence: one caption line each).
if [ ! -s "$out/talk.wav" ]; then
  caps=audio/x-raw,format=S16LE,rate=16000,channels=1
  parts=()
  i=0
  for s in "The quick brown fox jumps over the lazy dog." \
      "Please turn on the kitchen light." "Captions reach every viewer at once."; do
    flite -voice slt -t "$s" -o "$out/s$i.wav"
    parts+=(filesrc location="$out/s$i.wav" ! wavparse ! audioconvert ! audioresample !
      "$caps" ! c. audiotestsrc wave=silence num-buffers=15 samplesperbuffer=1600 !
      "$caps" ! c.)
    i=$((i + 1))
  done
  gst-launch-1.0 -q concat name=c ! audioconvert ! wavenc ! \
    filesink location="$out/talk.wav" "${parts[@]}"
  rm -f "$out"/s[0-9].wav
fi

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

# Starts "$@" with its stdout in $out/$name.out and waits for its listening line.
start() {
  local name=$1
  shift
  "$@" >"$out/$name.out" 2>"$out/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q '^listening on ' "$out/$name.out" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$out/$name.log" >&2
  exit 1
}

start recognizer build/tools/stt-local-server --port 2700 --quiet
start captions build/tools/stt-caption-server/stt-caption-server --port 8080 \
  --secret-file "$out/secret" --store "$out/store" --public-room demo
url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$out/captions.out")

cat <<EOF
Local recognizer: ws://127.0.0.1:2700 (stt-local-server)
Caption server:   $url (log: $out/captions.log)

Captions of room "demo": $url/rooms/demo

Publish to it (another terminal):
  GST_PLUGIN_PATH=\$PWD/build/gst/stt gst-launch-1.0 filesrc location=$out/talk.wav ! \\
      wavparse ! audioconvert ! audioresample ! identity sync=true ! \\
      stttranscribe output-mode=segments latency=10000 ! \\
      sttpublish url=ws://127.0.0.1:8080/publish/demo token-secret-file=$out/secret

Ctrl-C stops both servers.
EOF
wait
