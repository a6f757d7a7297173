#!/usr/bin/env bash
# Long fuzzing campaign over every reliability fuzz target (and the codec's framer), one after
# the other, then corpus minimisation. Prints each target's execution count.
#
#   scripts/fuzz-long.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default 3600 s per target. Targets: session_pair session_hostile fast_cycle_ref framer
# (rtl too when FIXENG_FUZZ_RTL=1: needs verilator). Parallel jobs: FIXENG_FUZZ_JOBS (default 1).
# Logs: $FUZZ_LOG_DIR (default target/fuzz-logs). Needs nightly and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-3600}
shift || true
JOBS=${FIXENG_FUZZ_JOBS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/fuzz}
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
  mkdir -p "$d/corpus/$t"
  par=()
  [ "$JOBS" -gt 1 ] && par=(-jobs="$JOBS" -workers="$JOBS")
  echo "== $t: ${SECS}s, $JOBS job(s), log $LOGS/$t.log"
  (cd "$d" && cargo +nightly fuzz run -O "${feat[@]}" "$t" "corpus/$t" -- \
      -max_total_time="$SECS" -print_final_stats=1 "${par[@]}" \
      "${dict[@]}" >"$LOGS/$t.log" 2>&1) || { echo "!! $t FAILED, see $LOGS/$t.log"; tail -40 "$LOGS/$t.log"; exit 1; }
  # With -jobs the stats are in fuzz-N.log files; sum what every worker reported.
  runs=$(cat "$LOGS/$t.log" "$d"/fuzz-*.log 2>/dev/null | awk '/stat::number_of_executed_units/ {s+=$2} END {print s+0}' || true)
  rm -f "$d"/fuzz-*.log
  echo "$(date -u +%FT%TZ) $t ${SECS}s $runs" >>"$LOGS/runs.txt"
  echo "   $t: $runs executions"
  (cd "$d" && cargo +nightly fuzz cmin -O "${feat[@]}" "$t" "corpus/$t" >"$LOGS/$t.cmin.log" 2>&1) || echo "   (cmin failed, see $LOGS/$t.cmin.log)"
  echo "   corpus: $(ls "$d/corpus/$t" | wc -l) files, $(du -sh "$d/corpus/$t" | cut -f1)"
done
