//! Raw DPDK ping-pong over memif between two processes: the machine's floor for a round trip
//! through DPDK (no TCP, no FIX), to compare the engine's round trips against.
//!
//! ```text
//! cargo run --release -p fixdpdk --features dpdk --example memif_pingpong -- [--iters N] [--warmup N] [--size BYTES] [--tcp] [--hgrm FILE]
//! ```
//!
//! With `--tcp` the same, but through this crate's TCP stack on both sides (smoltcp over
//! `DpdkDevice`, `Connection` zero-copy send/recv): `--size` bytes of payload per message.
//! `FIXDPDK_ACK_DELAY_US=N` sets `StackConfig::ack_delay_us` on both sides (default: ACK at once).
//!
//! Needs root. Spawns itself as the echo server (lcore 0) and runs the client (lcore 1); the
//! client sends one frame, busy-polls for its echo, and records the round trip in an
//! HdrHistogram. Both sides busy-poll: on a machine shared with other work the tail shows it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::net::{Ipv4Addr, SocketAddrV4};

use fixdpdk::sys::{Eal, Mbuf, Mempool, Port};
use fixdpdk::{
    ConnState, DpdkConnection, DpdkStack, EalConfig, MempoolConfig, PortConfig, StackConfig,
};
use hdrhistogram::Histogram;

const ETHERTYPE: [u8; 2] = [0x88, 0xB5]; // IEEE local experimental
const STOP: u64 = u64::MAX;

fn opt(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .map_or(default, |w| w[1].parse().expect(name))
}

/// Writes `hist` (nanoseconds) as HdrHistogram percentile text (`.hgrm`, values in µs) to the
/// file named by `--hgrm`, if given.
fn write_hgrm(hist: &Histogram<u64>) {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args
        .windows(2)
        .find(|w| w[0] == "--hgrm")
        .map(|w| w[1].clone())
    else {
        return;
    };
    std::fs::write(&path, fixhgrm::hgrm(hist, 1e3)).expect("write --hgrm file");
}

fn setup(role: &str, socket: &str, lcore: u32) -> (Port, Mempool) {
    let mac = if role == "server" {
        "02:fd:00:00:01:01"
    } else {
        "02:fd:00:00:01:02"
    };
    let prefix = format!("fxd-pp-{role}-{}", std::process::id());
    let mut c = EalConfig::virtual_only(&prefix, lcore);
    c.vdevs.push(format!(
        "net_memif0,role={role},socket={socket},mac={mac},id=0"
    ));
    let eal = Eal::init(&c.args()).expect("EAL init");
    // The runtime files of a --no-huge EAL are not needed after init; do not leave them behind.
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    let pool = Mempool::create(
        eal,
        &MempoolConfig {
            name: "pp".into(),
            mbufs: 4095,
            cache: 64,
            data_room: 2176,
        },
    )
    .expect("mempool");
    let port = Port::open_by_name(
        eal,
        "net_memif0",
        &PortConfig {
            rx_ring: 512,
            tx_ring: 512,
            promiscuous: false,
        },
        pool,
    )
    .expect("port");
    (port, pool)
}

fn wait_link(port: &Port) {
    let t = Instant::now();
    while !port.link_up().expect("link") {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "memif link did not come up"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn server(socket: &str) {
    let (mut port, _pool) = setup("server", socket, 0);
    println!("READY");
    std::io::stdout().flush().expect("stdout");
    wait_link(&port);
    let mut rx: [Option<Mbuf>; 32] = Default::default();
    let mut last = Instant::now();
    loop {
        let n = port.rx_burst(&mut rx);
        if n == 0 {
            if last.elapsed() > Duration::from_secs(30) {
                eprintln!("server: idle 30 s, exiting");
                return;
            }
            continue;
        }
        last = Instant::now();
        let stop = rx[..n]
            .iter()
            .flatten()
            .any(|m| m.data().get(14..22) == Some(&STOP.to_le_bytes()[..]));
        // Echo in place: the received mbufs go straight back out.
        let mut off = 0;
        while off < n {
            off += port.tx_burst(&mut rx[off..n]);
        }
        if stop {
            return;
        }
    }
}

fn client(socket: &str, iters: u64, warmup: u64, size: usize) {
    let (mut port, pool) = setup("client", socket, 1);
    wait_link(&port);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram");
    let mut rx: [Option<Mbuf>; 32] = Default::default();
    let mut lost = 0u64;
    let t_start = Instant::now();
    let send = |port: &mut Port, seq: u64| {
        let mut m = pool.alloc().expect("mbuf");
        let f = m.append(size).expect("append");
        f.fill(0);
        f[0..6].copy_from_slice(&[0x02, 0xfd, 0, 0, 1, 1]);
        f[6..12].copy_from_slice(&[0x02, 0xfd, 0, 0, 1, 2]);
        f[12..14].copy_from_slice(&ETHERTYPE);
        f[14..22].copy_from_slice(&seq.to_le_bytes());
        let mut b = [Some(m)];
        while port.tx_burst(&mut b) == 0 {}
    };
    for seq in 0..warmup + iters {
        let t0 = Instant::now();
        send(&mut port, seq);
        'wait: loop {
            let n = port.rx_burst(&mut rx);
            for m in rx[..n].iter().flatten() {
                if m.data().get(14..22) == Some(&seq.to_le_bytes()[..]) {
                    break 'wait;
                }
            }
            if t0.elapsed() > Duration::from_millis(100) {
                lost += 1;
                break;
            }
        }
        let rtt = t0.elapsed().as_nanos() as u64;
        if seq >= warmup {
            hist.saturating_record(rtt.max(1));
        }
    }
    let wall = t_start.elapsed();
    send(&mut port, STOP);
    println!("memif raw ping-pong, {size}-byte frames, {iters} round trips after {warmup} warm-up, {lost} lost (100 ms timeout), {:.2} s", wall.as_secs_f64());
    println!(
        "round trip ns: min {} p50 {} p90 {} p99 {} p99.9 {} p99.99 {} max {} mean {:.0}",
        hist.min(),
        hist.value_at_quantile(0.50),
        hist.value_at_quantile(0.90),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.value_at_quantile(0.9999),
        hist.max(),
        hist.mean()
    );
    write_hgrm(&hist);
}

fn tcp_conn(role: &str, socket: &str) -> (DpdkConnection, Instant) {
    let lcore = if role == "server" { 0 } else { 1 };
    let (port, _pool) = setup(role, socket, lcore);
    if role == "server" {
        println!("READY");
        std::io::stdout().flush().expect("stdout");
    }
    wait_link(&port);
    let t0 = Instant::now();
    let last = if role == "server" { 1 } else { 2 };
    let ack_delay_us = std::env::var("FIXDPDK_ACK_DELAY_US")
        .ok()
        .and_then(|v| v.parse().ok());
    let cfg = StackConfig {
        ip: Ipv4Addr::new(10, 99, 0, last),
        random_seed: u64::from(last),
        ack_delay_us,
        ..StackConfig::default()
    };
    let stack = DpdkStack::on_port(port, cfg, 0).expect("stack");
    let conn = if role == "server" {
        fixdpdk::Connection::accept(stack, 9300).expect("listen")
    } else {
        fixdpdk::Connection::connect(stack, SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 1), 9300))
            .expect("connect")
    };
    (conn, t0)
}

fn ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

fn tcp_server(socket: &str) {
    let (mut c, t0) = tcp_conn("server", socket);
    let mut buf = vec![0u8; 65536];
    let mut last = Instant::now();
    loop {
        if c.poll(ns(t0)) > 0 {
            last = Instant::now();
        }
        let n = c.recv(|b| {
            let n = b.len().min(buf.len());
            buf[..n].copy_from_slice(&b[..n]);
            (n, n)
        });
        let mut off = 0;
        while off < n {
            off += c.send(|b| {
                let k = b.len().min(n - off);
                b[..k].copy_from_slice(&buf[off..off + k]);
                (k, k)
            });
            c.poll(ns(t0));
        }
        if matches!(c.state(), ConnState::Closed(_)) || last.elapsed() > Duration::from_secs(30) {
            c.close();
            let end = Instant::now();
            while end.elapsed() < Duration::from_millis(200) {
                c.poll(ns(t0));
            }
            return;
        }
    }
}

fn tcp_client(socket: &str, iters: u64, warmup: u64, size: usize) {
    let (mut c, t0) = tcp_conn("client", socket);
    while c.state() != ConnState::Open {
        c.poll(ns(t0));
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "TCP connect over memif timed out: {:?}",
            c.state()
        );
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram");
    let msg: Vec<u8> = (0..size).map(|i| b'A' + (i % 26) as u8).collect();
    let t_start = Instant::now();
    for i in 0..warmup + iters {
        let start = Instant::now();
        let mut sent = 0;
        while sent < size {
            sent += c.send(|b| {
                let k = b.len().min(size - sent);
                b[..k].copy_from_slice(&msg[sent..sent + k]);
                (k, k)
            });
            c.poll(ns(t0));
        }
        let mut got = 0;
        while got < size {
            c.poll(ns(t0));
            got += c.recv(|b| {
                let k = b.len().min(size - got);
                assert_eq!(&b[..k], &msg[got..got + k], "echo corrupted");
                (k, k)
            });
            assert!(start.elapsed() < Duration::from_secs(5), "echo {i} lost");
        }
        if i >= warmup {
            hist.saturating_record((start.elapsed().as_nanos() as u64).max(1));
        }
    }
    let wall = t_start.elapsed();
    c.close();
    let end = Instant::now();
    while end.elapsed() < Duration::from_millis(300) {
        c.poll(ns(t0));
    }
    println!(
        "memif TCP (smoltcp both sides) ping-pong, {size}-byte messages, {iters} round trips after {warmup} warm-up, {:.2} s",
        wall.as_secs_f64()
    );
    println!(
        "round trip ns: min {} p50 {} p90 {} p99 {} p99.9 {} p99.99 {} max {} mean {:.0}",
        hist.min(),
        hist.value_at_quantile(0.50),
        hist.value_at_quantile(0.90),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.value_at_quantile(0.9999),
        hist.max(),
        hist.mean()
    );
    println!("client device {:?}", c.stack().device().stats());
    write_hgrm(&hist);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !fixdpdk::is_root() {
        eprintln!("memif_pingpong needs root (DPDK EAL); skipped");
        return;
    }
    let default_sock = format!("/run/fixdpdk-pp-{}.sock", std::process::id());
    let socket = args
        .windows(2)
        .find(|w| w[0] == "--socket")
        .map_or(default_sock, |w| w[1].clone());
    let tcp = args.iter().any(|a| a == "--tcp");
    let iters = opt(&args, "--iters", 200_000);
    let warmup = opt(&args, "--warmup", 10_000);
    let size = opt(&args, "--size", 64) as usize;
    let raw_size = size.clamp(60, 1514);
    let role = args
        .windows(2)
        .find(|w| w[0] == "--role")
        .map(|w| w[1].clone());
    match role.as_deref() {
        Some("server") if tcp => tcp_server(&socket),
        Some("server") => server(&socket),
        Some("client") if tcp => tcp_client(&socket, iters, warmup, size),
        Some("client") => client(&socket, iters, warmup, raw_size),
        Some(r) => panic!("--role {r}: server or client"),
        None => {
            let exe = std::env::current_exe().expect("exe");
            let mut srv = Command::new(exe)
                .args(["--role", "server", "--socket", &socket])
                .args(if tcp { &["--tcp"][..] } else { &[][..] })
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn server");
            let mut line = String::new();
            BufReader::new(srv.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("read");
            assert_eq!(line.trim(), "READY", "server did not start");
            if tcp {
                tcp_client(&socket, iters, warmup, size);
            } else {
                client(&socket, iters, warmup, raw_size);
            }
            let st = srv.wait().expect("server");
            assert!(st.success(), "server: {st}");
        }
    }
}
