#!/usr/bin/env bash
# CI smoke test of the benchmarks: builds the bench crate (release), runs its unit tests, runs
# every measure in --quick mode into a temporary directory and checks that report.md, the .hgrm
# files and the SVG plots exist and are well formed. Asserts no timing.
#
# Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
run() { echo "+ $*"; "$@"; }

run cargo test -p bench --release
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run cargo run -p bench --release -- all --quick --out "$OUT"
DIR=$(find "$OUT" -mindepth 1 -maxdepth 1 -type d | head -n1)
fail=0
# check DESCRIPTION CMD...: runs CMD, records a failure if it fails.
check() { local d=$1; shift; if "$@"; then echo "ok: $d"; else echo "FAILED: $d"; fail=1; fi; }
check "report.md written" test -s "$DIR/report.md"
for section in "## 1. Parse" "## 2. Round trip" "## 3. Engine-internal" "## 4. Resend" "## 5. Gap recovery" "## 6. Sustained load" "## 7. FPGA"; do
  check "report.md has '$section'" grep -q "^$section" "$DIR/report.md"
done
check "report.md has the send-side internal row" grep -q '^| send: application -> bytes handed to the transport | shared | [0-9]' "$DIR/report.md"
check "report.md has the sustained-load limit rows" grep -q '^| paced .* | limit | [0-9]' "$DIR/report.md"
check "report.md has the FPGA block's measured cycles" grep -q '^| 16 sessions interleaved, no back-pressure | [0-9]' "$DIR/report.md"
check "report.md has both 50-message gap runs" test "$(grep -c '^### 50-message gap, ' "$DIR/report.md")" -eq 2
for f in rtt.svg resend.svg internal.svg load.svg; do
  check "$f written" test -s "$DIR/$f"
done
n_hgrm=$(find "$DIR" -name '*.hgrm' | wc -l)
check "at least 3 .hgrm files ($n_hgrm)" test "$n_hgrm" -ge 3
for f in "$DIR"/*.hgrm; do
  check "$(basename "$f") header" grep -q '^       Value     Percentile TotalCount 1/(1-Percentile)$' "$f"
  check "$(basename "$f") footer" grep -q '^#\[Max     = ' "$f"
done
for f in "$DIR"/*.svg; do
  check "$(basename "$f") is SVG" grep -q '<svg' "$f"
done
if grep -q 'not measured: ' "$DIR/report.md"; then
  echo "note: some rows were not measured:"; grep 'not measured: ' "$DIR/report.md" || true
fi
ls -l "$DIR"
if [[ $fail == 0 ]]; then echo "bench smoke: 1 passed, 0 failed"; else echo "bench smoke: 0 passed, 1 failed"; exit 1; fi
