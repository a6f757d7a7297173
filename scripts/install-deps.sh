#!/usr/bin/env bash
# Installs what the build, the tests and the demo need on a fresh Debian machine (as root).
# Idempotent: packages already present are not reinstalled.
set -euo pipefail

PKGS=(pkg-config clang libclang-dev verilator yosys iverilog libdpdk-dev dpdk liburing-dev
      iproute2 ethtool tshark python3 cmake g++)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing packages ${missing[*]}; run as root or install them" >&2
        exit 1
    fi
    echo "install-deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "install-deps: system packages present"
fi

if ! command -v cargo >/dev/null; then
    echo "install-deps: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi
