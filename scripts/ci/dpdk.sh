#!/usr/bin/env bash
# CI for the DPDK part (crate fixdpdk, and fixeng's Transport=dpdk). Run from anywhere, as root, after
#   apt-get install -y libdpdk-dev pkg-config iproute2 ethtool
# Works without hugepages (the EAL runs with --no-huge) and without a NIC (virtual devices:
# net_ring, net_memif, net_af_packet on a veth pair in network namespaces it creates and deletes).
#
#   FIXDPDK_LONG=1   move 64 MB each way per TCP scenario instead of 4 MB
#   CARGO_TARGET_DIR honoured (default: target/ of the workspace)
set -euo pipefail
cd "$(dirname "$0")/../.."

run() {
  echo "+ $*"
  "$@"
}

echo "== fixdpdk without DPDK (builds everywhere)"
run cargo build -p fixdpdk
run cargo test -p fixdpdk
echo "== fixeng's user-space TCP connectors on the in-memory frame pipe (no DPDK, no root)"
run cargo test -p fixeng --test dpdk_stack

if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the DPDK part of fixdpdk needs root (EAL, raw sockets, network namespaces)"
  exit 0
fi
if ! pkg-config --exists libdpdk; then
  echo "FAIL: libdpdk-dev (DPDK 22.11) is not installed: apt-get install -y libdpdk-dev pkg-config" >&2
  exit 1
fi
for tool in ip ethtool; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool missing: apt-get install -y iproute2 ethtool" >&2; exit 1; }
done
echo "DPDK $(pkg-config --modversion libdpdk); hugepages: $(grep -m1 HugePages_Total /proc/meminfo || echo none) (not needed)"

if command -v bindgen >/dev/null && command -v rustfmt >/dev/null; then
  echo "== committed bindings match the installed headers"
  tmp="$(mktemp --suffix=.rs)"
  trap 'rm -f "$tmp"' EXIT
  run scripts/gen-dpdk-bindings.sh "$tmp"
  run diff -u engine/dpdk/src/sys/bindings.rs "$tmp"
else
  echo "(bindgen not installed: not re-checking the committed bindings)"
fi

echo "== fixdpdk with DPDK: net_ring, af_packet+veth <-> Linux TCP (client and server), memif"
run cargo test -p fixdpdk --features dpdk -- --nocapture
run cargo clippy -p fixdpdk --all-targets --features dpdk -- -D warnings
run cargo clippy -p fixdpdk --all-targets -- -D warnings
echo "== fixeng Transport=dpdk: full FIX sessions (DPDK af_packet+veth <-> io_uring engine both ways,"
echo "   memif engine <-> engine, pipeline rebuilt from its store), each engine in its own process"
run cargo test -p fixeng --features dpdk --lib dpdk
run cargo test -p fixeng --features dpdk --test dpdk_engine -- --nocapture
run cargo clippy -p fixeng --no-deps --all-targets --features dpdk -- -D warnings
echo "== DPDK: all passed"
