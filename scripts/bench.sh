#!/usr/bin/env bash
# Runs every benchmark (docs/benchmarks.md) and writes bench/results/<UTC timestamp>/:
# report.md, one .hgrm per latency series, one SVG percentile plot per latency measure.
#
#   scripts/bench.sh              full run (about 5-8 minutes here, plus the release build)
#   scripts/bench.sh --quick      smoke-run sizes (figures not representative)
#   scripts/bench.sh parse        one measure: parse, latency, resend, gap, load, fpga
#
# Builds with the fefix peer (feature `fefix`). Honours CARGO_TARGET_DIR. Progress goes to stderr, a summary to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
args=("$@")
have_measure=0
for a in "${args[@]}"; do [[ $a != --* ]] && have_measure=1; done
[[ $have_measure == 1 ]] || args=(all "${args[@]}")
exec cargo run -p bench --release --features fefix -- "${args[@]}"
