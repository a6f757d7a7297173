#!/usr/bin/env bash
# Long fuzzing campaign over every reliability fuzz target (and the codec's framer), one after
# the other, then corpus minimisation and a replay of the minimised corpus under AddressSanitizer.
# Prints each target's execution count.
#
#   scripts/fuzz-long.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default 3600 s per target; FIXENG_FUZZ_RUNS=N stops a target after N executions instead (e.g.
# FIXENG_FUZZ_RUNS=10000000 with a large SECONDS). Targets: session_pair session_hostile
# fast_cycle_ref framer (rtl too when FIXENG_FUZZ_RTL=1: needs verilator). Parallel jobs:
# FIXENG_FUZZ_JOBS (default 1).
#
# Speed: the campaign runs without a sanitizer (FIXENG_FUZZ_SANITIZER, default none): the session
# and sequencer targets are 4-12x faster that way, and safe Rust gains nothing from ASan. The
# unsafe code they reach (SIMD scans in fixcodec and hwsim) is then checked by replaying the
# minimised corpus under ASan (the last step), and by scripts/ci/fuzz.sh, which fuzzes with ASan.
# The sanitizer-free build goes to $CARGO_TARGET_DIR-nosan so that it does not evict the ASan one.
# Inputs are capped at 1024 bytes (-max_len) except for the framer (4096: messages above its
# largest MAX_MSG).
# Logs: $FUZZ_LOG_DIR (default target/fuzz-logs). Needs nightly and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-3600}
shift || true
JOBS=${FIXENG_FUZZ_JOBS:-1}
SAN=${FIXENG_FUZZ_SANITIZER:-none}
BASE_TARGET=${CARGO_TARGET_DIR:-$ROOT/target/fuzz}
FUZZ_TARGET_DIR=$BASE_TARGET
[ "$SAN" = none ] && FUZZ_TARGET_DIR=$BASE_TARGET-nosan
LOGS=${FUZZ_LOG_DIR:-$ROOT/target/fuzz-logs}
mkdir -p "$LOGS"

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(session_pair session_hostile fast_cycle_ref)
  [ -d engine/codec/fuzz ] && TARGETS+=(framer)
  [ "${FIXENG_FUZZ_RTL:-0}" = 1 ] && TARGETS+=(rtl)
fi

dir_of() {
  case $1 in
    session_*) echo engine/session/fuzz ;;
    fast_cycle_ref|rtl) echo hwsim/fuzz ;;
    framer) echo engine/codec/fuzz ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

for t in "${TARGETS[@]}"; do
  d=$(dir_of "$t")
  feat=()
  [ "$t" = rtl ] && feat=(--features rtl)
  dict=()
  [ -f "$d/fix.dict" ] && dict=(-dict=fix.dict)
  [ "$t" = framer ] && [ -f "$d/framer.dict" ] && dict=(-dict=framer.dict)
  maxlen=(-max_len=1024)
  [ "$t" = framer ] && maxlen=(-max_len=4096)
  runs=()
  [ -n "${FIXENG_FUZZ_RUNS:-}" ] && runs=(-runs="$FIXENG_FUZZ_RUNS")
  mkdir -p "$d/corpus/$t"
  par=()
  [ "$JOBS" -gt 1 ] && par=(-jobs="$JOBS" -workers="$JOBS")
  echo "== $t: ${SECS}s${FIXENG_FUZZ_RUNS:+ or $FIXENG_FUZZ_RUNS executions}, $JOBS job(s), sanitizer $SAN, log $LOGS/$t.log"
  (cd "$d" && CARGO_TARGET_DIR=$FUZZ_TARGET_DIR cargo +nightly fuzz run -O -s "$SAN" "${feat[@]}" "$t" "corpus/$t" -- \
      -max_total_time="$SECS" "${runs[@]}" "${maxlen[@]}" -print_final_stats=1 "${par[@]}" \
      "${dict[@]}" >"$LOGS/$t.log" 2>&1) || { echo "!! $t FAILED, see $LOGS/$t.log"; tail -40 "$LOGS/$t.log"; exit 1; }
  # With -jobs the stats are in fuzz-N.log files; sum what every worker reported.
  n=$(cat "$LOGS/$t.log" "$d"/fuzz-*.log 2>/dev/null | awk '/stat::number_of_executed_units/ {s+=$2} END {print s+0}' || true)
  rm -f "$d"/fuzz-*.log
  echo "$(date -u +%FT%TZ) $t ${SECS}s $n sanitizer=$SAN" >>"$LOGS/runs.txt"
  echo "   $t: $n executions"
  (cd "$d" && CARGO_TARGET_DIR=$FUZZ_TARGET_DIR cargo +nightly fuzz cmin -O -s "$SAN" "${feat[@]}" "$t" "corpus/$t" -- "${maxlen[@]}" >"$LOGS/$t.cmin.log" 2>&1) || echo "   (cmin failed, see $LOGS/$t.cmin.log)"
  echo "   corpus: $(ls "$d/corpus/$t" | wc -l) files, $(du -sh "$d/corpus/$t" | cut -f1)"
  if [ "$SAN" != address ]; then
    # Every input of the minimised corpus once under ASan (-runs=0: no mutation).
    (cd "$d" && CARGO_TARGET_DIR=$BASE_TARGET cargo +nightly fuzz run -O "${feat[@]}" "$t" "corpus/$t" -- \
        -runs=0 "${maxlen[@]}" >"$LOGS/$t.asan.log" 2>&1) || { echo "!! $t: ASan replay FAILED, see $LOGS/$t.asan.log"; tail -40 "$LOGS/$t.asan.log"; exit 1; }
    echo "   corpus replayed under ASan: OK"
  fi
done
