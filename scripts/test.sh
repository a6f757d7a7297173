#!/usr/bin/env bash
# Runs every check and test of the project: the README's second command and what .ci/run calls.
#
#   scripts/test.sh            everything (installs missing apt packages first; root needed for that
#                              and for the DPDK/namespace tests, which skip with a message otherwise)
#   SKIP_LINT=1 scripts/test.sh   without fmt/clippy
#
# Each step's output is shown; a summary with the number of tests passed and failed closes the run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOG_DIR=${LOG_DIR:-$ROOT/target/test-logs}
mkdir -p "$LOG_DIR"
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1
# The Verilated RTL is compiled once and shared by the builds that link it (the co-simulation
# tests, the rtl fuzz target): fpga/sim/build.rs keys it by RTL, Verilator version and flags.
export FPGA_SIM_CACHE=${FPGA_SIM_CACHE:-${CARGO_TARGET_DIR:-$ROOT/target}/verilated-cache}
mkdir -p "$FPGA_SIM_CACHE"

declare -a STEP_NAMES=() STEP_RESULTS=() STEP_SECS=()
TOTAL_PASSED=0
TOTAL_FAILED=0

# step NAME CMD...: runs CMD, tees its output to a log, counts cargo/libtest results in it.
step() {
    local name=$1; shift
    local log="$LOG_DIR/${name//[^A-Za-z0-9_.-]/_}.log"
    echo
    echo "=== [$name] $*"
    local t0=$SECONDS
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local dt=$((SECONDS - t0))
    # libtest closing lines: "test result: ok. 12 passed; 0 failed; ...". A test binary whose
    # threads print while the harness writes can split that line ("test result: test x ... ok.
    # 1 passed; ..."), so the counts are read from the "ok. N passed; M failed" part wherever it is.
    local p f counts
    counts=$(grep -F 'test result: ' "$log" | grep -Eo '(ok|FAILED)\. [0-9]+ passed; [0-9]+ failed' || true)
    p=$(grep -Eo '[0-9]+ passed' <<<"$counts" | awk '{s+=$1} END {print s+0}')
    f=$(grep -Eo '[0-9]+ failed' <<<"$counts" | awk '{s+=$1} END {print s+0}')
    TOTAL_PASSED=$((TOTAL_PASSED + p))
    TOTAL_FAILED=$((TOTAL_FAILED + f))
    STEP_NAMES+=("$name"); STEP_SECS+=("$dt")
    if [[ $rc -eq 0 ]]; then STEP_RESULTS+=("ok"); else STEP_RESULTS+=("FAILED (exit $rc)"); fi
    echo "=== [$name] exit $rc after ${dt}s"
    return 0
}

step install-deps scripts/install-deps.sh
if [[ -z "${SKIP_LINT:-}" ]]; then
    step fmt cargo fmt --all --check
    step clippy cargo clippy --workspace --all-targets --locked -- -D warnings
fi
step unit-and-integration cargo test --workspace --locked
for part in scripts/ci/*.sh; do
    [[ -e "$part" ]] || continue
    step "$(basename "$part" .sh)" bash "$part"
done

echo
echo "=== summary"
failed_steps=0
for i in "${!STEP_NAMES[@]}"; do
    printf '  %-24s %-20s %5ss\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_SECS[$i]}"
    [[ ${STEP_RESULTS[$i]} == ok ]] || failed_steps=$((failed_steps + 1))
done
echo "steps: $(( ${#STEP_NAMES[@]} - failed_steps )) ok, $failed_steps failed; total ${SECONDS}s"
echo "tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
[[ $failed_steps -eq 0 && $TOTAL_FAILED -eq 0 ]]
