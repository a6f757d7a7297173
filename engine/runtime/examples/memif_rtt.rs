//! Benchmark (not a test): FIX round-trip latency engine <-> engine over DPDK memif (both
//! engines on DPDK + smoltcp) vs engine <-> engine over io_uring on loopback (kernel TCP), beside
//! the raw DPDK memif ping-pong (the floor: no TCP, no FIX) and the smoltcp-over-memif
//! ping-pong (TCP, no FIX) from fixdpdk's `memif_pingpong` example.
//!
//! ```text
//! memif_rtt [--orders N] [--warmup W] [--out DIR] [--pingpong PATH/TO/memif_pingpong]
//! ```
//!
//! One round trip = a NewOrderSingle from the load application to an ExecutionReport back in it,
//! through both engines' full pipelines (IO, sequencer, session with its MmapStore, application),
//! one order at a time (window 1). Each engine is its own process with its four agents on one
//! thread (shared mode, busy-polling). Prints a table of percentiles (µs) and writes one `.hgrm`
//! file per row into `--out` (default `target/bench-dpdk`). `scripts/bench-dpdk.sh` builds and
//! runs everything. Needs root (DPDK EAL).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn opt(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

/// One row: name and p50, p90, p99, p99.9, max in ns, and the sample count.
struct Row {
    name: String,
    ns: [u64; 5],
    n: u64,
}

fn kv(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
}

fn write_cfg(dir: &Path, name: &str, body: &str) -> PathBuf {
    let store = dir.join(format!("store-{name}"));
    let text = format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nHeartBtInt=30\nReconnectInterval=1\nCheckLatency=N\n\
         FileStorePath={}\n[SESSION]\n{body}\n",
        store.display()
    );
    let p = dir.join(format!("{name}.cfg"));
    std::fs::write(&p, text).expect("write settings");
    p
}

fn peer(cfg: &Path, extra: &[String]) -> std::process::Child {
    let exe = std::env::current_exe().expect("exe");
    Command::new(exe)
        .arg("--peer")
        .arg("--config")
        .arg(cfg)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn peer")
}

/// Runs an echo acceptor and a load initiator (window 1); returns the load side's row.
fn engines(
    name: &str,
    dir: &Path,
    acc: &str,
    ini: &str,
    orders: u32,
    warmup: u32,
    hgrm: &Path,
) -> Option<Row> {
    let (ac, ic) = (
        write_cfg(dir, &format!("{name}-acc"), acc),
        write_cfg(dir, &format!("{name}-ini"), ini),
    );
    let total = (orders + warmup).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let a = peer(
        &ac,
        &s(&["--app", "echo", "--expect", &total, "--timeout", "300"]),
    );
    std::thread::sleep(Duration::from_millis(500));
    let i = peer(
        &ic,
        &s(&[
            "--app",
            "load",
            "--orders",
            &total,
            "--window",
            "1",
            "--warmup",
            &warmup.to_string(),
            "--timeout",
            "300",
            "--hgrm",
            &hgrm.display().to_string(),
        ]),
    );
    let io = i.wait_with_output().expect("initiator");
    let ao = a.wait_with_output().expect("acceptor");
    let (is, as_) = (
        String::from_utf8_lossy(&io.stdout).into_owned(),
        String::from_utf8_lossy(&ao.stdout).into_owned(),
    );
    let line = is.lines().find(|l| l.starts_with("OK "));
    let Some(line) = line else {
        eprintln!("{name}: initiator failed:\n{is}\nacceptor:\n{as_}");
        return None;
    };
    if !as_.lines().any(|l| l.starts_with("OK ")) {
        eprintln!("{name}: acceptor failed:\n{as_}");
    }
    Some(Row {
        name: name.into(),
        ns: [
            kv(line, "p50=")?,
            kv(line, "p90=")?,
            kv(line, "p99=")?,
            kv(line, "p99.9=")?,
            kv(line, "max=")?,
        ],
        n: kv(line, "n=")?,
    })
}

/// Runs fixdpdk's `memif_pingpong` and parses its "round trip ns:" line.
fn pingpong(
    name: &str,
    exe: &str,
    extra: &[&str],
    orders: u32,
    warmup: u32,
    hgrm: &Path,
) -> Option<Row> {
    let out = Command::new(exe)
        .args([
            "--iters",
            &orders.to_string(),
            "--warmup",
            &warmup.to_string(),
        ])
        .args(extra)
        .arg("--hgrm")
        .arg(hgrm)
        .output()
        .ok()?;
    let so = String::from_utf8_lossy(&out.stdout);
    let Some(line) = so.lines().find(|l| l.starts_with("round trip ns:")) else {
        eprintln!(
            "{name}: {exe} failed: {so}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    };
    let w: Vec<&str> = line.split_whitespace().collect();
    let after = |k: &str| -> Option<u64> {
        w.iter()
            .position(|x| *x == k)
            .and_then(|i| w.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    Some(Row {
        name: name.into(),
        ns: [
            after("p50")?,
            after("p90")?,
            after("p99")?,
            after("p99.9")?,
            after("max")?,
        ],
        n: u64::from(orders),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--peer") {
        std::process::exit(fixeng::dpdk::peer::main_with(&args[1..]));
    }
    if !fixdpdk::is_root() {
        eprintln!("memif_rtt needs root (DPDK EAL); skipped");
        return;
    }
    let orders: u32 = opt(&args, "--orders").map_or(20_000, |v| v.parse().expect("--orders"));
    let warmup: u32 = opt(&args, "--warmup").map_or(2_000, |v| v.parse().expect("--warmup"));
    let out = PathBuf::from(opt(&args, "--out").unwrap_or_else(|| "target/bench-dpdk".into()));
    std::fs::create_dir_all(&out).expect("create --out");
    let dir = tempfile::tempdir().expect("tempdir");
    let pid = std::process::id();
    let mut rows = Vec::new();

    if let Some(pp) = opt(&args, "--pingpong") {
        rows.extend(pingpong(
            "raw DPDK memif ping-pong (64 B frame, no TCP, no FIX)",
            &pp,
            &[],
            orders,
            warmup,
            &out.join("raw_memif.hgrm"),
        ));
        rows.extend(pingpong(
            "smoltcp over memif ping-pong (200 B, TCP, no FIX)",
            &pp,
            &["--tcp", "--size", "200"],
            orders,
            warmup,
            &out.join("tcp_memif.hgrm"),
        ));
    }

    let sock = format!("/run/fixeng-rtt-{pid}.sock");
    let dpdk = |role: &str, mac: &str, ip: &str, lcore: u32| {
        format!(
            "Transport=dpdk\nDpdkDevice=net_memif0,role={role},socket={sock},mac={mac},id=0\n\
             DpdkNoHuge=Y\nDpdkFilePrefix=fxrtt-{role}-{pid}\nDpdkLcores={lcore}\n\
             DpdkMbufs=4095\nDpdkMbufCache=64\nDpdkRxRing=512\nDpdkTxRing=512\n\
             DpdkLocalIP={ip}/24"
        )
    };
    let acc_ids = "SenderCompID=EXCHANGE\nTargetCompID=CLIENT\nConnectionType=acceptor";
    let ini_ids = "SenderCompID=CLIENT\nTargetCompID=EXCHANGE\nConnectionType=initiator";
    rows.extend(engines(
        "FIX engine <-> engine, DPDK memif + smoltcp",
        dir.path(),
        &format!(
            "{acc_ids}\nSocketAcceptPort=9878\n{}",
            dpdk("server", "02:fe:00:00:00:01", "10.88.0.1", 0)
        ),
        &format!(
            "{ini_ids}\nSocketConnectHost=10.88.0.1\nSocketConnectPort=9878\n{}",
            dpdk("client", "02:fe:00:00:00:02", "10.88.0.2", 1)
        ),
        orders,
        warmup,
        &out.join("engine_memif.hgrm"),
    ));
    for p in ["server", "client"] {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/fxrtt-{p}-{pid}"));
    }
    let _ = std::fs::remove_file(&sock);
    let port = 20_000 + (pid % 20_000) as u16;
    rows.extend(engines(
        "FIX engine <-> engine, io_uring loopback (kernel TCP)",
        dir.path(),
        &format!(
            "{acc_ids}\nSocketAcceptAddress=127.0.0.1\nSocketAcceptPort={port}\nTransport=io_uring"
        ),
        &format!(
            "{ini_ids}\nSocketConnectHost=127.0.0.1\nSocketConnectPort={port}\nTransport=io_uring"
        ),
        orders,
        warmup,
        &out.join("engine_uring.hgrm"),
    ));

    println!(
        "\nround trip, {orders} samples after {warmup} warm-up, one at a time; µs (.hgrm files in {})\n",
        out.display()
    );
    println!(
        "| path | p50 | p90 | p99 | p99.9 | max | samples |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for r in &rows {
        let us = |v: u64| format!("{:.1}", v as f64 / 1e3);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            us(r.ns[0]),
            us(r.ns[1]),
            us(r.ns[2]),
            us(r.ns[3]),
            us(r.ns[4]),
            r.n
        );
    }
}
