#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fuzzes every target of tests/fuzz with libFuzzer (clang, ASan + UBSan), each for a
# bounded time, on a copy of its seed corpus; exits non-zero if any target found a
# crash, a leak, a broken invariant or a hang.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_WORK_DIR (default a new
# temporary directory: the grown corpus, logs and crash reproducers stay there; nothing
# is written into tests/fuzz), FUZZ_ARGS (more libFuzzer options).
# A finding is replayed with: $FUZZ_BUILD_DIR/tests/fuzz/TARGET CRASH-FILE
# and belongs, once fixed, in tests/fuzz/corpus/TARGET/ (the fuzz-corpus test suite
# replays that folder in every build).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
build=${FUZZ_BUILD_DIR:-build-fuzz}
work=${FUZZ_WORK_DIR:-$(mktemp -d -t stt-fuzz-XXXXXX)}

scripts/deps.sh
if ! command -v clang >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing clang and libFuzzer"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    clang libclang-rt-dev
fi

if [ ! -f "$build/build.ninja" ]; then
  # Coverage (fuzzer-no-link) and sanitizers in every library under test; only the
  # fuzz targets are built, so the GStreamer tests are not needed here.
  CC=clang meson setup "$build" -Dfuzzing=enabled -Dtests=disabled -Dlocal-server=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link \
    -Dbuildtype=debugoptimized >/dev/null
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in tests/fuzz/fuzz-*.c; do
    name=$(basename "$src" .c)
    case $name in fuzz-common|fuzz-replay) continue ;; esac
    targets+=("$name")
  done
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >/dev/null
build=$(cd "$build" && pwd)

# Errors of any sanitizer stop the run; leaks are checked after every input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export G_SLICE=always-malloc

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  cp -r "tests/fuzz/corpus/$t/." "$work/corpus/$t/"
  dict="$work/$t.dict"
  cp "tests/fuzz/$t.dict" "$dict" 2>/dev/null || : >"$dict"
  if [ "$t" = fuzz-provider-parse ]; then
    # Every name a provider compares or looks up, so new providers get theirs too.
    grep -ohE '"[A-Za-z_<][A-Za-z0-9_.<>-]{1,40}"' ext/providers/sttprovider-*.c | sort -u |
      sed 's/\\/\\\\/g; s/"/\\"/g; s/.*/"&"/' >>"$dict"
  fi
  echo "== $t: ${secs} s (work dir $work)"
  rc=0
  (cd "$work" && "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -dict="$dict" \
    -artifact_prefix="$work/artifacts/$t/" ${FUZZ_ARGS:-} "$work/corpus/$t") \
    >"$work/$t.log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1 || true)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/$t.log" | tail -1 || true)
  line="$t: ${runs:-?} runs, ${speed:-?} exec/s, ${cov:-no coverage line}, corpus $(ls "$work/corpus/$t" | wc -l) files"
  if [ $rc -ne 0 ]; then
    status=1
    line="$line: FINDING (exit $rc), see $work/$t.log and $work/artifacts/$t/"
    grep -E 'ERROR|invariant broken|CRITICAL|WARNING|runtime error|SUMMARY' "$work/$t.log" | head -5 >&2 || true
    echo "(whole stacks of a leak: ASAN_OPTIONS=fast_unwind_on_malloc=0 G_SLICE=always-malloc" \
      "$build/tests/fuzz/$t $work/artifacts/$t/*)" >&2
  fi
  echo "$line"
  summary+=("$line")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
