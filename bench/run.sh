#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the benchmarks and runs them all, each bounded in time; prints their figures.
#   bench/run.sh [--quick]
# BUILD (default /tmp/build-bench) is a meson build dir with -Dbench=enabled (made here if
# missing, buildtype debugoptimized). --quick runs everything short (about 5 minutes
# instead of about 30). The Node SDK comparison runs when node and npm are there.
# Environment: HOURS, LIVE, REPEAT, STREAMS, DURATION, STALL_DURATION, OUTAGE, VIEWERS,
# CAPTION_DURATION, ZOMBIES override the defaults below. Everything listens on 127.0.0.1
# only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD:-/tmp/build-bench}

if [ "${1:-}" = "--quick" ]; then
  : "${HOURS:=0.1}" "${LIVE:=20}" "${REPEAT:=2}" "${STREAMS:=10 100 1000}" "${DURATION:=15}"
  : "${STALL_DURATION:=120}" "${OUTAGE:=75}"
  : "${VIEWERS:=100 1000 5000}" "${CAPTION_DURATION:=10}" "${ZOMBIES:=50}"
else
  : "${HOURS:=1}" "${LIVE:=120}" "${REPEAT:=3}" "${STREAMS:=10 100 500 1000}" "${DURATION:=60}"
  : "${STALL_DURATION:=600}" "${OUTAGE:=180}"
  : "${VIEWERS:=100 1000 5000}" "${CAPTION_DURATION:=20}" "${ZOMBIES:=50}"
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" -Dbench=enabled -Dbuildtype=debugoptimized >/dev/null
fi
meson configure "$build" -Dbench=enabled >/dev/null
ninja -C "$build" >/dev/null
bench=$build/bench
echo "# gst-stt benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# buildtype $(meson introspect "$build" --buildoptions | python3 -c 'import json,sys;print([o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"][0])')"

# 1 and 2: cost per stream, and the official Node SDK doing the same.
sdk_args=()
if command -v node >/dev/null && command -v npm >/dev/null; then
  sdk_dir=$build/bench-sdk
  mkdir -p "$sdk_dir"
  # The same @deepgram/sdk version range as the SDK cross-checks (tests/sdk).
  node -e 'const p=require(process.argv[1]);console.log(JSON.stringify({name:"gst-stt-bench-sdk",
    private:true,type:"module",dependencies:{"@deepgram/sdk":p.dependencies["@deepgram/sdk"]}}))' \
    "$src/tests/sdk/package.json" >"$sdk_dir/package.json.new"
  if [ ! -d "$sdk_dir/node_modules/@deepgram/sdk" ] || ! cmp -s "$sdk_dir/package.json.new" "$sdk_dir/package.json"; then
    mv "$sdk_dir/package.json.new" "$sdk_dir/package.json"
    (cd "$sdk_dir" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  rm -f "$sdk_dir/package.json.new"
  sdk_args=(--sdk "$here/bench-sdk.mjs" --sdk-dir "$sdk_dir")
else
  echo "# node/npm not found: no SDK comparison"
fi
echo
echo "## 1-2. Cost per stream (bench-cost)"
timeout 3600 "$bench/bench-cost" --hours "$HOURS" --live-seconds "$LIVE" --repeat "$REPEAT" \
  "${sdk_args[@]}"

# 3: concurrency; one process per K (and per baseline) so that RSS and threads start clean.
echo
echo "## 3. Concurrency (bench-streams)"
for k in $STREAMS; do
  timeout $((300 + 2 * DURATION)) "$bench/bench-streams" --streams "$k" --duration "$DURATION" | grep -v '^# end'
  timeout $((300 + 2 * DURATION)) "$bench/bench-streams" --streams "$k" --duration "$DURATION" \
    --element none | grep '^K='
done

# 4: result path.
echo
echo "## 4. Result path (bench-results)"
timeout $((300 + 2 * DURATION)) "$bench/bench-results" --streams 20 --duration "$DURATION"

# 5: stalled server, long outage, long run.
echo
echo "## 5. Stalled server and long run (bench-stall)"
timeout $((300 + STALL_DURATION)) "$bench/bench-stall" --duration "$STALL_DURATION" \
  --outage-start 60 --outage "$OUTAGE"

# 6: caption fan-out (built with the caption server only).
if [ -x "$bench/bench-captions" ]; then
  echo
  echo "## 6. Caption fan-out (bench-captions)"
  timeout 900 "$bench/bench-captions" --viewers "${VIEWERS// /,}" \
    --duration "$CAPTION_DURATION" --zombies "$ZOMBIES"
else
  echo
  echo "# stt-caption-server not built: no caption fan-out bench"
fi
