//! DPDK scenarios, each in its own process (`fixdpdk-selftest`, since the EAL initialises once
//! per process). Need the `dpdk` feature and root; without root they print SKIP and pass.
//!
//! `FIXDPDK_LONG=1` moves 64 MB each way instead of 4 MB.

#![cfg(feature = "dpdk")]

use fixdpdk::testnet::Netns;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

const SELFTEST: &str = env!("CARGO_BIN_EXE_fixdpdk-selftest");

/// The scenarios busy-poll; run them one at a time so they do not starve each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn bytes() -> String {
    if std::env::var_os("FIXDPDK_LONG").is_some() {
        "64000000"
    } else {
        "4000000"
    }
    .into()
}

fn skip_unless_root(test: &str) -> bool {
    if fixdpdk::is_root() {
        return false;
    }
    println!("SKIP {test}: DPDK tests need root (raw sockets, namespaces, /var/run/dpdk)");
    true
}

fn check(what: &str, out: &Output) -> String {
    let so = String::from_utf8_lossy(&out.stdout).into_owned();
    let se = String::from_utf8_lossy(&out.stderr);
    println!("{what}: {}\n{so}{se}", out.status);
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout:\n{so}\nstderr:\n{se}",
        out.status
    );
    assert!(so.contains("OK "), "{what}: no OK line:\n{so}");
    so
}

fn selftest(args: &[&str]) -> String {
    let out = Command::new(SELFTEST)
        .args(args)
        .output()
        .expect("run fixdpdk-selftest");
    check(&args.join(" "), &out)
}

#[test]
fn ring_raw_bursts_and_error_texts() {
    if skip_unless_root("ring_raw") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = selftest(&["ring-raw"]);
    assert!(
        out.contains("rte_pktmbuf_pool_create failed: File exists"),
        "{out}"
    );
}

#[test]
fn arp_refresh_frames_are_padded_on_the_wire() {
    if skip_unless_root("ring_arp") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    selftest(&["ring-arp"]);
}

#[test]
fn eal_second_init_with_other_args_is_an_error() {
    if skip_unless_root("eal_reinit") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    selftest(&["eal-reinit"]);
}

#[test]
fn failed_eal_init_names_the_call_and_is_not_retried() {
    if skip_unless_root("eal_bad_args") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = selftest(&["eal-bad-args"]);
    assert!(out.contains("rte_eal_init failed"), "{out}");
}

#[test]
fn smoltcp_to_smoltcp_over_net_ring() {
    if skip_unless_root("ring_tcp") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    selftest(&["ring-tcp", "--bytes", &bytes()]);
}

#[test]
fn full_tx_rings_back_pressure_without_losing_bytes() {
    if skip_unless_root("ring_tcp back-pressure") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // 15-slot rings against 32-frame bursts: the driver refuses part of most bursts.
    selftest(&[
        "ring-tcp",
        "--bytes",
        &bytes(),
        "--ring",
        "16",
        "--mbufs",
        "200",
        "--expect-pressure",
    ]);
}

#[test]
fn undersized_pool_is_rejected_with_the_sizes() {
    if skip_unless_root("ring_tcp small pool") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = Command::new(SELFTEST)
        .args(["ring-tcp", "--ring", "16", "--mbufs", "40"])
        .output()
        .expect("run fixdpdk-selftest");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a 40-mbuf pool must be refused");
    assert!(
        err.contains("40 mbufs < rx_ring 16 + tx_ring 16 + 64 held by the device"),
        "{err}"
    );
}

fn kernel(role: &str, tag: char) {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ns = match Netns::create("fxd", tag) {
        Ok(ns) => ns,
        Err(e) => {
            println!("SKIP kernel {role}: cannot create namespaces/veth here: {e}");
            return;
        }
    };
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.a,
            SELFTEST,
            "kernel",
            "--iface",
            &ns.veth_a,
            "--peer-netns",
            &ns.b,
        ])
        .args([
            "--role",
            role,
            "--local-ip",
            "10.77.0.1",
            "--peer-ip",
            "10.77.0.2",
            "--bytes",
            &bytes(),
        ])
        .output()
        .expect("run ip netns exec");
    check(&format!("kernel {role}"), &out);
}

#[test]
fn dpdk_client_to_linux_tcp_server_over_veth() {
    if skip_unless_root("kernel dpdk-client") {
        return;
    }
    kernel("dpdk-client", 'c');
}

#[test]
fn linux_tcp_client_to_dpdk_server_over_veth() {
    if skip_unless_root("kernel dpdk-server") {
        return;
    }
    kernel("dpdk-server", 's');
}

#[test]
fn two_processes_over_memif() {
    if skip_unless_root("memif") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let sock = format!("/run/fixdpdk-test-{}.sock", std::process::id());
    let n = bytes();
    let mut server = Command::new(SELFTEST)
        .args([
            "memif", "--role", "server", "--socket", &sock, "--lcore", "0", "--bytes", &n,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn memif server");
    let mut first = String::new();
    let mut so = BufReader::new(server.stdout.take().expect("server stdout"));
    so.read_line(&mut first).expect("read server");
    if first.trim() != "READY" {
        let out = server.wait_with_output().expect("server output");
        panic!(
            "memif server did not start: {first:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let client = Command::new(SELFTEST)
        .args([
            "memif", "--role", "client", "--socket", &sock, "--lcore", "1", "--bytes", &n,
        ])
        .output()
        .expect("run memif client");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut so, &mut rest).expect("read server");
    let status = server.wait().expect("server exit");
    let mut err = String::new();
    if let Some(mut e) = server.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    check("memif client", &client);
    println!("memif server: {status}\n{rest}{err}");
    assert!(
        status.success() && rest.contains("OK memif server"),
        "memif server failed: {status}\n{rest}{err}"
    );
    let _ = std::fs::remove_file(&sock);
}
