#!/bin/sh
# Runs FlyQ's benchmarks (the `bench` target, `make bench`).
#
#   bench/run.sh BENCH_STORAGE [bench_storage options...]
#
# The temporary data lives in a mktemp directory on the file system of
# $FLYQ_BENCH_DIR (default: the current directory, i.e. the build directory,
# which is the disk a broker would use) and is removed on exit, even on
# failure or interrupt. Results go to stdout.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: $0 BENCH_STORAGE [options...]" >&2
  exit 2
fi
bench_storage=$1
shift

tmp=$(mktemp -d "${FLYQ_BENCH_DIR:-$PWD}/flyq-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

echo "== storage (in-process): $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
     "$(df -hT "$tmp" | awk 'NR==2 {print $2 " on " $1}')"
"$bench_storage" --dir "$tmp" "$@"
