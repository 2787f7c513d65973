#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The whole test suite, from a fresh Debian 12 machine: packages, build, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
status=0
if [ $# -gt 0 ]; then
  meson test -C build --print-errorlogs --num-processes 2 "$@" || status=$?
  logs=build/meson-logs/testlog.json
else
  meson test -C build --print-errorlogs --num-processes 2 --no-suite outage || status=$?
  # The outage cases wait on real time (up to 250 s of live audio each) and use little
  # CPU: six at once, after the rest.
  meson test -C build --print-errorlogs --num-processes 6 --no-rebuild --suite outage \
    --logbase outagelog || status=$?
  logs="build/meson-logs/testlog.json build/meson-logs/outagelog.json"
fi
# One closing line any CI can read.
python3 - $logs <<'PY' || true
import json, sys
ok = bad = skip = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): ok += 1
        elif r == "SKIP": skip += 1
        else: bad += 1
print(f"{ok} passed, {bad} failed, {skip} skipped")
PY
exit $status
