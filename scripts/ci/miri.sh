#!/usr/bin/env bash
# CI step: miri (undefined behaviour, data races, leaks) on the ring and store code, where it
# runs (docs/reliability.md, "Miri"):
#   * fixeng ring::       the SPSC record ring over rtrb (single-thread wraps/skips, and a
#                         producer and a consumer on two threads)
#   * fixsession store::  record encoding/decoding and CRC-32C of the mmap journal, the two-slot
#                         sequence-number file logic (the mmap/flock/fallocate calls themselves
#                         are FFI and cannot run under miri: no test here calls them)
#   * fixsession --test store memory_store_rules: MemoryStore against the shared store rules
# Installs the miri and rust-src components of nightly when missing; installs nightly when missing and reachable, else skips with a message.
#
#   scripts/ci/miri.sh            (CARGO_TARGET_DIR defaults to target/miri)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/miri}
t0=$SECONDS

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  if ! rustup toolchain install nightly --profile minimal --component miri,rust-src; then
    echo "miri: SKIP: no nightly toolchain and none can be installed (miri exists only on nightly)"
    exit 0
  fi
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri: installing the miri and rust-src components"
  rustup +nightly component add miri rust-src
fi
cargo +nightly miri setup >/dev/null 2>&1 || cargo +nightly miri setup

# Explore a few thread interleavings of the two-thread ring test (each seed is a schedule).
ring_flags=${MIRI_RING_FLAGS:--Zmiri-many-seeds=1..4}

echo "== miri: fixeng ring"
cargo +nightly miri test -p fixeng --lib ring::
echo "== miri: fixeng ring, two threads, more schedules ($ring_flags)"
MIRIFLAGS="${MIRIFLAGS:-} $ring_flags" cargo +nightly miri test -p fixeng --lib ring::tests::two_threads
echo "== miri: fixsession store (pure byte-level code)"
cargo +nightly miri test -p fixsession --lib store::
echo "== miri: fixsession MemoryStore rules"
cargo +nightly miri test -p fixsession --test store memory_store_rules
echo "miri: OK ($((SECONDS - t0)) s)"
