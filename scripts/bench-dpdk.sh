#!/usr/bin/env bash
# Benchmark (not a test): FIX round trip engine <-> engine over DPDK memif vs over io_uring
# loopback, beside the raw DPDK memif ping-pong (the floor) and smoltcp over memif.
# Prints a percentile table (µs) and writes .hgrm files. Needs root and libdpdk-dev.
#
#   scripts/bench-dpdk.sh [ORDERS [WARMUP [OUTDIR]]]     defaults 20000 2000 target/bench-dpdk
#   CARGO_TARGET_DIR honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
orders="${1:-20000}"
warmup="${2:-2000}"
out="${3:-target/bench-dpdk}"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the DPDK benchmark needs root (EAL)"
  exit 0
fi
tgt="${CARGO_TARGET_DIR:-target}"
cargo build --release -p fixdpdk --features dpdk --example memif_pingpong
cargo build --release -p fixeng --features dpdk --example memif_rtt
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$tgt/release/examples/memif_rtt" --orders "$orders" --warmup "$warmup" --out "$out" \
  --pingpong "$tgt/release/examples/memif_pingpong"
