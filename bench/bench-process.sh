#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What a user pays for a file, whole process: gst-launch-1.0 transcribing a WAV through
# stttranscribe into a Deepgram-protocol server (the local test server, another process
# whose CPU is not counted), against the same gst-launch doing only the conversion the
# element does (48 kHz stereo -> 16 kHz mono S16LE) into fakesink, and for 16 kHz mono
# input against a bare passthrough. Also the element with the old fixed 100 ms frames
# (chunk-duration set), to show what frames sized to the input save, and with
# interim-results=false, to show what the interim results cost (the server answers each
# frame with one, each posted on the bus).
#   bench/bench-process.sh BUILD_DIR [MINUTES] [PAIRS]
# BUILD_DIR: a meson build dir of this project (plugin and tests/servers built).
# Prints user+system CPU seconds of each run and the median ratios; alternating runs.
set -euo pipefail
build=$(cd "$1" && pwd)
minutes=${2:-10}
pairs=${3:-3}
server_prog=$build/tests/servers/stt-test-server
export GST_PLUGIN_PATH=$build/gst/stt
export GST_REGISTRY=$build/bench-process-registry.bin
work=$(mktemp -d -t stt-bench-process-XXXXXX)
out=$work/server.log
"$server_prog" --protocol deepgram --port 0 --any-key >"$out" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(ws:\/\/[^ ]*\).*/\1/p' "$out" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start"; cat "$out"; exit 1; }

# The input is one continuous tone: the server hears one word as long as the file, and
# answers every frame with an interim result (one bus message each). It gives a final
# only when asked: each time the replay ring (max-buffer-time, 60 s) is full and has been
# sent, the element waits 2 s and asks, so the wall time is about 2 s per minute of audio,
# idle. The figures are CPU time, which that wait does not add to.
seconds=$((minutes * 60))
make_wav () {
  gst-launch-1.0 -q audiotestsrc wave=sine freq=440 volume=0.5 \
      num-buffers=$((seconds * 10)) samplesperbuffer=$(($1 / 10)) ! \
    "audio/x-raw,format=S16LE,rate=$1,channels=$2" ! wavenc ! filesink location="$3"
}
make_wav 48000 2 "$work/in48.wav"
make_wav 16000 1 "$work/in16.wav"

cpu () {
  # user+system CPU seconds of the command (and its children).
  /usr/bin/time -f "%U %S" -o "$work/t" "$@" >/dev/null 2>"$work/err" || {
    cat "$work/err"; exit 1; }
  awk '{printf "%.3f\n", $1 + $2}' "$work/t"
}

stt="stttranscribe provider=deepgram url=$url api-key=bench"
declare -A runs
run () {
  local name=$1; shift
  local t
  t=$(cpu gst-launch-1.0 -q "$@")
  runs[$name]="${runs[$name]:-} $t"
}

gst-launch-1.0 -q filesrc location="$work/in16.wav" ! wavparse ! $stt ! fakesink >/dev/null
for i in $(seq "$pairs"); do
  run conv48 filesrc location="$work/in48.wav" ! wavparse ! audioconvert ! audioresample ! \
    audio/x-raw,format=S16LE,rate=16000,channels=1 ! fakesink
  run stt48 filesrc location="$work/in48.wav" ! wavparse ! $stt ! fakesink
  run stt48_100ms filesrc location="$work/in48.wav" ! wavparse ! $stt \
    chunk-duration=100000000 ! fakesink
  run stt48_noint filesrc location="$work/in48.wav" ! wavparse ! $stt \
    interim-results=false ! fakesink
  run pass16 filesrc location="$work/in16.wav" ! wavparse ! fakesink
  run stt16 filesrc location="$work/in16.wav" ! wavparse ! $stt ! fakesink
  run stt16_100ms filesrc location="$work/in16.wav" ! wavparse ! $stt \
    chunk-duration=100000000 ! fakesink
  run stt16_noint filesrc location="$work/in16.wav" ! wavparse ! $stt \
    interim-results=false ! fakesink
done

median () { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "# whole process, $minutes min of audio, $pairs alternating runs each, CPU s (user+sys)"
for k in conv48 stt48 stt48_100ms stt48_noint pass16 stt16 stt16_100ms stt16_noint; do
  printf "%-12s median %6s   runs:%s\n" "$k" "$(echo "${runs[$k]}" | median)" "${runs[$k]}"
done
ratio () { python3 -c "print(f'{$1/$2:.2f}')"; }
c48=$(echo "${runs[conv48]}" | median); s48=$(echo "${runs[stt48]}" | median)
o48=$(echo "${runs[stt48_100ms]}" | median); n48=$(echo "${runs[stt48_noint]}" | median)
p16=$(echo "${runs[pass16]}" | median); s16=$(echo "${runs[stt16]}" | median)
o16=$(echo "${runs[stt16_100ms]}" | median); n16=$(echo "${runs[stt16_noint]}" | median)
echo "48 kHz stereo: stttranscribe / conversion = $(ratio "$s48" "$c48")" \
  "(with 100 ms frames: $(ratio "$o48" "$c48"); without interims: $(ratio "$n48" "$c48");" \
  "target <= 1.15)"
echo "16 kHz mono:   stttranscribe / passthrough = $(ratio "$s16" "$p16")" \
  "(with 100 ms frames: $(ratio "$o16" "$p16"); without interims: $(ratio "$n16" "$p16");" \
  "target <= 1.5)"
