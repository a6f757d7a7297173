#!/usr/bin/env bash
# CI step for the reliability suite (docs/reliability.md). The reliability tests of the session
# layer run in the workspace test step and the fuzz smoke run is scripts/ci/fuzz.sh, both called
# by scripts/test.sh; this step adds:
#   1. the wire check (scripts/wirecheck.sh: the demo captured on loopback and checked by tshark's
#      FIX dissector; skips when not root or without tshark)
#   2. QuickFIX interop (tests/interop/run.sh; skips when the quickfix module is missing), only with
#      FIXENG_INTEROP=1: `pip install quickfix` builds QuickFIX from source (48 min here)
# (miri on the ring and store code is its own step, scripts/ci/miri.sh, also run by
# scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
echo "== wire check"
scripts/wirecheck.sh "${WIRECHECK_ORDERS:-5000}"
if [ "${FIXENG_INTEROP:-0}" = 1 ]; then
  echo "== QuickFIX interop"
  tests/interop/run.sh "${INTEROP_COUNT:-100000}"
fi
echo "reliability: OK"
