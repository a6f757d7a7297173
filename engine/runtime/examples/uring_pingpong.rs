//! Ping-pong round trip over loopback TCP through two io_uring transports on one thread:
//! the ring flags (`SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG` vs a default ring) and
//! `Send` vs `SendZc` (zero-copy), for a FIX-sized message and a large one.
//!
//! `cargo run --release -p fixeng --example uring_pingpong [ITERATIONS]`

use fixeng::transport::uring::{probe, UringListener, UringOptions, UringTransport};
use fixeng::Transport;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

fn pair(o: UringOptions) -> (UringTransport, UringTransport) {
    let l = UringListener::bind("127.0.0.1:0".parse().unwrap(), o).unwrap();
    let c = UringTransport::connect(l.local_addr(), Duration::from_secs(2), o).unwrap();
    loop {
        if let Some(s) = l.accept().unwrap() {
            return (c, s);
        }
    }
}

fn run(name: &str, o: UringOptions, size: usize, iters: usize) {
    let (mut c, mut s) = pair(o);
    let msg = vec![b'x'; size];
    let mut buf = vec![0u8; size];
    let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let t_all = Instant::now();
    for i in 0..iters + 1000 {
        let t0 = Instant::now();
        let mut sent = 0;
        let mut echoed = 0;
        let mut at_server = 0;
        while echoed < size {
            if sent < size {
                sent += c.send_bytes(&msg[sent..]);
            }
            c.poll(0);
            s.poll(0);
            // The server echoes what it has.
            let n = s.recv_into(&mut buf[at_server..]);
            at_server += n;
            if at_server > 0 {
                let m = s.send_bytes(&buf[..at_server]);
                buf.copy_within(m..at_server, 0);
                at_server -= m;
            }
            s.poll(0);
            c.poll(0);
            let mut tmp = [0u8; 65536];
            echoed += c.recv_into(&mut tmp);
        }
        if i >= 1000 {
            h.record(t0.elapsed().as_nanos() as u64).unwrap();
        }
    }
    println!(
        "{name:<44} {size:>6} B  p50={:>6.1}us p90={:>6.1}us p99={:>6.1}us max={:>8.1}us  ({} round trips in {:.2}s, {} enters)",
        h.value_at_quantile(0.5) as f64 / 1e3,
        h.value_at_quantile(0.9) as f64 / 1e3,
        h.value_at_quantile(0.99) as f64 / 1e3,
        h.max() as f64 / 1e3,
        iters,
        t_all.elapsed().as_secs_f64(),
        c.enters + s.enters
    );
}

fn main() {
    if let Err(e) = probe() {
        println!("{e}");
        return;
    }
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let base = UringOptions::default();
    for size in [200, 64 * 1024] {
        run("defer_taskrun + Send (default)", base, size, iters);
        run(
            "defer_taskrun + SendZc",
            UringOptions {
                zero_copy_send: true,
                ..base
            },
            size,
            iters,
        );
        run(
            "default ring + Send",
            UringOptions {
                defer_taskrun: false,
                ..base
            },
            size,
            iters,
        );
    }
}
