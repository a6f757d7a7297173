#!/usr/bin/env bash
# CI smoke run of every fuzz target: a short run each from the committed corpus (a crash fails
# the step and leaves the input under <crate>/fuzz/artifacts/<target>/).
#
#   scripts/ci/fuzz.sh [SECONDS_PER_TARGET]     default 20
#
# Targets: session_pair, session_hostile (engine/session/fuzz), fast_cycle_ref (hwsim/fuzz),
# framer (engine/codec/fuzz, when present), rtl (hwsim/fuzz, when verilator is installed;
# FIXENG_FUZZ_RTL=0 leaves it out: with FPGA_SIM_CACHE set, as scripts/test.sh does, it reuses
# the Verilated model the fpga step compiled, else it verilates the RTL itself). Uses nightly (installed if missing and reachable; else stable with RUSTC_BOOTSTRAP=1); installs cargo-fuzz if missing.
# Runs with AddressSanitizer (cargo-fuzz's default): loading the committed corpus executes every
# input under ASan first, which checks the unsafe SIMD code on everything the long, sanitizer-free
# campaigns (scripts/fuzz-long.sh) found. Inputs are capped like the long runs (-max_len).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/fuzz}

# cargo-fuzz needs nightly's -Z flags. Without a nightly toolchain (and none to fetch), stable
# accepts them under RUSTC_BOOTSTRAP=1 (its standard library ships the sanitizer runtimes).
TC=+nightly
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  if rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
    echo "fuzz: installed the nightly toolchain"
  else
    echo "fuzz: no nightly toolchain: fuzzing with stable under RUSTC_BOOTSTRAP=1"
    TC=+stable
    export RUSTC_BOOTSTRAP=1
  fi
fi
if ! cargo $TC fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  t0=$SECONDS
  cargo install cargo-fuzz --locked
  echo "fuzz: cargo-fuzz installed in $((SECONDS - t0)) s"
fi

run() { # dir target [features...]
  local d=$1 t=$2; shift 2
  local dict=()
  [ -f "$d/fix.dict" ] && dict=(-dict=fix.dict)
  [ "$t" = framer ] && [ -f "$d/framer.dict" ] && dict=(-dict=framer.dict)
  local maxlen=-max_len=1024
  [ "$t" = framer ] && maxlen=-max_len=4096
  mkdir -p "$d/corpus/$t"
  local t0=$SECONDS
  # A scratch copy of the corpus, so CI does not grow the committed one.
  local scratch
  scratch=$(mktemp -d)
  echo "== fuzz $t (${SECS}s)"
  if ! (cd "$d" && cargo $TC fuzz run -O "$@" "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$SECS" "$maxlen" -print_final_stats=1 "${dict[@]}" >"$scratch.log" 2>&1); then
    tail -60 "$scratch.log"
    echo "fuzz: $t FAILED (build error above, or a crashing input in $d/artifacts/$t/)"
    exit 1
  fi
  echo "   $t: $(awk '/stat::number_of_executed_units/ {print $2}' "$scratch.log") executions, $((SECONDS - t0)) s with the build"
  rm -rf "$scratch" "$scratch.log"
}

run engine/session/fuzz session_pair
run engine/session/fuzz session_hostile
run hwsim/fuzz fast_cycle_ref
[ -d engine/codec/fuzz ] && run engine/codec/fuzz framer
if [ "${FIXENG_FUZZ_RTL:-1}" = 1 ]; then
  if command -v verilator >/dev/null; then
    # The rtl target's premise first: a reset or snapshot-restored RTL behaves like a fresh one.
    echo "== fuzz rtl: reset and restore checks (hwsim/fuzz/tests/rtl_reset.rs)"
    cargo test --manifest-path hwsim/fuzz/Cargo.toml --features rtl --release -- --nocapture
    run hwsim/fuzz rtl --features rtl
  else
    echo "fuzz: rtl SKIP: no verilator (apt install verilator)"
  fi
fi
echo "fuzz: OK"
