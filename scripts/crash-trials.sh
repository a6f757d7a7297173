#!/usr/bin/env bash
# Session-level crash trials: a child process runs a session pair over MmapStores and is killed
# with SIGKILL at random instants; after each kill the stores are checked, and the final run must
# leave each application's durable record exactly 1..=N (engine/session/tests/reliability_crash.rs).
#
#   scripts/crash-trials.sh [TRIALS] [MESSAGES_EACH_WAY] [MAX_KILL_DELAY_MS]
#
# Defaults: 100 trials, 20000 messages each way, kills uniform in 0..2000 ms after each start.
# FIXENG_SEED=n repeats a run's kill delays. Release build (the child must be fast enough for
# kills to land everywhere in a long run).
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-100}
MESSAGES=${2:-20000}
DELAY=${3:-2000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
FIXENG_CRASH_TRIALS=$TRIALS FIXENG_CRASH_MESSAGES=$MESSAGES FIXENG_CRASH_MAX_DELAY_MS=$DELAY \
  cargo test --release -p fixsession --test reliability_crash -- --nocapture --test-threads=1 \
  session_pair_survives_sigkill
