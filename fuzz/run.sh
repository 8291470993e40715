#!/bin/sh
# Builds the libFuzzer targets with clang and fuzzes each of them for a
# while (docs/reliability.md, "Fuzzing"):
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]    (default: every target)
#
# `make fuzz` runs it on build-fuzz/ for FUZZ_SECONDS; the ctest test "fuzz"
# runs it on a directory inside its own build. For each target it first
# replays fuzz/regressions/TARGET/, then fuzzes from the seeds in
# fuzz/corpus/TARGET/, keeping new inputs in BUILD_DIR/corpus/TARGET/ (the
# committed corpus is never written). Exits 0 when nothing failed, 1 on a
# crash, leak, timeout (-timeout=25 s per input) or out-of-memory (the input
# is saved in BUILD_DIR/crashes/TARGET/), 77 when clang-14 is not
# installed. FUZZ_CC overrides the compiler, JOBS the build jobs.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2; exit 2; }
cc=${FUZZ_CC:-clang-14}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz: $cc is not installed (apt-get install clang libclang-rt-14-dev): skipped"
  exit 77
fi
mkdir -p "$1/logs"
build=$(cd "$1" && pwd)
seconds=$2
shift 2
targets=${*:-request response batch config}

binaries=""
for t in $targets; do binaries="$binaries fuzz_$t"; done
echo "fuzz: building$binaries in $build (log: $build/logs/build.log)"
# shellcheck disable=SC2086 # one --target argument per binary
{ cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLYQ_FUZZ=ON &&
  cmake --build "$build" -j "${JOBS:-2}" --target $binaries
} >"$build/logs/build.log" 2>&1 || { tail -n 50 "$build/logs/build.log"; exit 1; }

# The longest input worth trying, per target.
max_len() {
  case $1 in
    config) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# Extra libFuzzer flags, per target: the config target's Lua may print().
extra_flags() {
  dict="$src/fuzz/$1.dict"
  [ -f "$dict" ] && printf -- '-dict=%s ' "$dict"
  [ "$1" = config ] && printf -- '-close_fd_mask=1 '
  return 0
}

# Replays every committed regression input of target $1.
replay() {
  files=$(find "$src/fuzz/regressions/$1" -type f ! -name '.*' 2>/dev/null | sort)
  [ -n "$files" ] || return 0
  echo "fuzz_$1: replaying $(echo "$files" | wc -l) regression inputs"
  # shellcheck disable=SC2086 # one argument per file
  "$build/fuzz_$1" $files >"$build/logs/$1.replay.log" 2>&1 ||
    { tail -n 40 "$build/logs/$1.replay.log"; return 1; }
}

# Fuzzes target $1 for $seconds and prints libFuzzer's last status line.
fuzz() {
  mkdir -p "$build/corpus/$1" "$build/crashes/$1"
  log="$build/logs/$1.log"
  # shellcheck disable=SC2046 # extra_flags is a word list
  if ! "$build/fuzz_$1" -max_total_time="$seconds" -max_len="$(max_len "$1")" \
      -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$1/" $(extra_flags "$1") \
      "$build/corpus/$1" "$src/fuzz/corpus/$1" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz_$1: FAILED (crash, leak, timeout or out of memory); the input" \
      "is in $build/crashes/$1/. Fix it, then add it to fuzz/regressions/$1/."
    return 1
  fi
  status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  echo "fuzz_$1: ${seconds}s, $speed exec/s, last: $status"
}

failed=0
for t in $targets; do
  if replay "$t"; then fuzz "$t" || failed=1; else failed=1; fi
done
exit $failed
