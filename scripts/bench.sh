#!/usr/bin/env bash
# Runs every benchmark (docs/benchmarks.md) and writes bench/results/<UTC timestamp>/:
# report.md, one .hgrm per latency series, one SVG percentile plot per latency measure.
#
#   scripts/bench.sh              full run (about 8-10 minutes here, plus the release build)
#   scripts/bench.sh --quick      smoke-run sizes (figures not representative)
#   scripts/bench.sh parse        one measure: parse, latency, resend, gap, load, fpga
#
# Builds with the peers: fefix 0.7 (feature `fefix`) and QuickFIX C++ through the `quickfix`
# crate (feature `peers`; its first build compiles QuickFIX with cmake and a C++ compiler, about
# 5-10 minutes). Without cmake or a C++ compiler the QuickFIX rows say "not measured".
# Honours CARGO_TARGET_DIR. Progress goes to stderr, a summary to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
have_measure=0
for a in "${args[@]}"; do [[ $a != --* ]] && have_measure=1; done
[[ $have_measure == 1 ]] || args=(all "${args[@]}")
features=fefix
if command -v cmake >/dev/null && command -v c++ >/dev/null; then
  features=fefix,peers
else
  echo "bench.sh: cmake or a C++ compiler is missing: building without the QuickFIX peers" \
       "(apt-get install cmake g++)" >&2
fi
exec cargo run -p bench --release --features "$features" -- "${args[@]}"
