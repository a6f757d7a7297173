//! Build script: with the `dpdk` feature, compiles the C shim (src/sys/shim.c) with the raw
//! output of `pkg-config --cflags libdpdk` and links the DPDK libraries.
//!
//! The pkg-config crate is not used on purpose: it drops `-include rte_config.h` and `-march=...`,
//! which DPDK's headers need. Without the feature nothing is compiled or linked.

#[cfg(feature = "dpdk")]
fn pkg_config(args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("pkg-config")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("fixdpdk: cannot run pkg-config {args:?}: {e} (install pkg-config and libdpdk-dev, or build without the `dpdk` feature)"));
    if !out.status.success() {
        panic!(
            "fixdpdk: pkg-config {args:?} failed: {} (install libdpdk-dev 22.11, or build without the `dpdk` feature)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    #[cfg(feature = "dpdk")]
    build_dpdk();
}

#[cfg(feature = "dpdk")]
fn build_dpdk() {
    println!("cargo:rerun-if-changed=src/sys/shim.c");
    println!("cargo:rerun-if-changed=src/sys/shim.h");

    let mut build = cc::Build::new();
    build.file("src/sys/shim.c").opt_level(3).warnings(true);
    for flag in pkg_config(&["--cflags", "libdpdk"]) {
        build.flag(&flag);
    }
    build.compile("fixdpdk_shim");

    for tok in pkg_config(&["--libs", "libdpdk"]) {
        if let Some(dir) = tok.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = tok.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
    // rte_eth_from_rings (used for in-process port pairs) lives in the net_ring driver library,
    // which `pkg-config --libs libdpdk` leaves out in shared builds.
    println!("cargo:rustc-link-lib=rte_net_ring");
}
