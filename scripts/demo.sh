#!/usr/bin/env bash
# The main job: a FIX session over loopback io_uring with gaps injected and recovered.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo run --release -q -p fixeng -- demo "$@"
