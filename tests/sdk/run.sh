#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cross-check of a local protocol server against the provider's official SDK:
#   tests/sdk/run.sh PROVIDER STT_TEST_SERVER_PROGRAM [SERVER ARGUMENTS...]
# Installs the SDKs (tests/sdk/package.json) once into $SDK_DIR (default build/sdk),
# starts the server on a free port and runs tests/sdk/PROVIDER.mjs against it; that
# script exits 0 only if the SDK connected, sent audio and parsed partial and final
# results with the expected words.
set -euo pipefail
provider=$1
server_prog=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
sdk_dir=${SDK_DIR:-$here/../../build/sdk}
mkdir -p "$sdk_dir"
sdk_dir=$(cd "$sdk_dir" && pwd)

# One install for every check, even when meson runs them in parallel.
(
  flock 9
  if [ ! -f "$sdk_dir/.installed" ] || ! cmp -s "$here/package.json" "$sdk_dir/package.json"; then
    cp "$here/package.json" "$sdk_dir/package.json"
    (cd "$sdk_dir" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$sdk_dir/.installed"
  fi
) 9>"$sdk_dir/.lock"

out=$(mktemp)
"$server_prog" --protocol "$provider" --port 0 "$@" >"$out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(ws:\/\/[^ ]*\).*/\1/p' "$out" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start"; cat "$out"; exit 1; }
SDK_DIR="$sdk_dir" timeout 60 node "$here/$provider.mjs" "$url"
