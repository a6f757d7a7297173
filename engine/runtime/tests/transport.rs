//! Transport backends and fault injection: io_uring echo over loopback, fault scenarios over the
//! in-memory link and over io_uring.

use fixeng::msg::write_message;
use fixeng::transport::fault::{Action, Direction, Fault, FaultLink, Select};
use fixeng::transport::framing::{next_frame, seq_num, Frame};
use fixeng::transport::memory::MemoryTransport;
use fixeng::transport::uring::{probe, UringListener, UringOptions, UringTransport};
use fixeng::{LinkState, Transport};
use std::time::{Duration, Instant};

fn uring_pair() -> Option<(UringTransport, UringTransport)> {
    if let Err(e) = probe() {
        println!("SKIP: {e}");
        return None;
    }
    let l = UringListener::bind("127.0.0.1:0".parse().unwrap(), UringOptions::default()).unwrap();
    let c = UringTransport::connect(
        l.local_addr(),
        Duration::from_secs(2),
        UringOptions::default(),
    )
    .unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(s) = l.accept().unwrap() {
            return Some((c, s));
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "accept timed out");
        std::thread::yield_now();
    }
}

/// Runs both ends until `done` or a 10 s guard; returns false on timeout.
fn pump<A: Transport, B: Transport>(
    a: &mut A,
    b: &mut B,
    mut step: impl FnMut(&mut A, &mut B) -> bool,
) -> bool {
    let t0 = Instant::now();
    let mut now = 0;
    while t0.elapsed() < Duration::from_secs(10) {
        now += 1000;
        a.poll(now);
        b.poll(now);
        if step(a, b) {
            return true;
        }
    }
    false
}

#[test]
fn uring_echo_over_loopback_both_directions() {
    let Some((mut c, mut s)) = uring_pair() else {
        return;
    };
    assert_eq!(c.capabilities().name, "io_uring");
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut tmp = vec![0u8; 65536];
    // Echo: client -> server -> client.
    let mut sent = 0;
    let mut echoed = Vec::with_capacity(data.len());
    let mut pending: Vec<u8> = Vec::new();
    let ok = pump(&mut c, &mut s, |c, s| {
        sent += c.send_bytes(&data[sent..]);
        let n = s.recv_into(&mut tmp);
        pending.extend_from_slice(&tmp[..n]);
        let m = s.send_bytes(&pending);
        pending.drain(..m);
        let n = c.recv_into(&mut tmp);
        echoed.extend_from_slice(&tmp[..n]);
        echoed.len() == data.len()
    });
    assert!(
        ok,
        "echo timed out at {} of {} bytes",
        echoed.len(),
        data.len()
    );
    assert!(echoed == data, "echoed bytes differ");
    // Close: the peer sees EOF.
    c.close();
    assert_eq!(c.state(), LinkState::Closed(fixeng::CloseReason::Local));
    assert!(
        pump(&mut c, &mut s, |_, s| s.is_closed()),
        "peer never saw the close"
    );
    assert_eq!(s.state(), LinkState::Closed(fixeng::CloseReason::Peer));
}

fn messages(n: u32) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|i| {
            let mut b = [0u8; 256];
            let len = write_message(&mut b, "FIX.4.4", "D", i, b"11=order\x01").unwrap();
            b[..len].to_vec()
        })
        .collect()
}

/// Sends `msgs` through `a` (with `faults` on a's side), collects the seqs `b` receives until
/// `b` is closed or `want` messages arrived.
fn run_faults<T: Transport>(a: T, b: T, faults: &[Fault], msgs: &[Vec<u8>]) -> (Vec<u32>, bool) {
    let (got, closed, stats) = run_faults_stats(a, b, faults, msgs);
    if !closed {
        // Every rule of the standard scenario fired once.
        assert_eq!(
            (
                stats.dropped,
                stats.duplicated,
                stats.reordered,
                stats.delayed
            ),
            (1, 1, 1, 1),
            "{stats:?}"
        );
    }
    (got, closed)
}

fn run_faults_stats<T: Transport>(
    a: T,
    mut b: T,
    faults: &[Fault],
    msgs: &[Vec<u8>],
) -> (Vec<u32>, bool, fixeng::transport::fault::FaultStats) {
    let mut a = FaultLink::new(a, faults, 4096);
    let wire: Vec<u8> = msgs.concat();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut tmp = vec![0u8; 65536];
    let t0 = Instant::now();
    let mut now = 0u64;
    let mut quiet = 0;
    while t0.elapsed() < Duration::from_secs(10) {
        now += 100_000;
        sent += a.send_bytes(&wire[sent..]);
        let w = a.poll(now) + b.poll(now);
        let n = b.recv_into(&mut tmp);
        buf.extend_from_slice(&tmp[..n]);
        while let Frame::Message(len) = next_frame(&buf, 4096) {
            got.push(seq_num(&buf[..len]).unwrap());
            buf.drain(..len);
        }
        if b.is_closed() {
            return (got, true, a.stats());
        }
        quiet = if w + n == 0 && sent == wire.len() {
            quiet + 1
        } else {
            0
        };
        if quiet > 2000 {
            break;
        }
    }
    (got, false, a.stats())
}

fn scenario() -> Vec<Fault> {
    vec![
        Fault::new(Direction::Tx, Select::Seq(3), Action::Drop),
        Fault::new(Direction::Tx, Select::Seq(5), Action::Duplicate),
        Fault::new(Direction::Tx, Select::Seq(7), Action::Reorder(2)),
        Fault::new(Direction::Tx, Select::Seq(12), Action::Delay(1_000_000)),
    ]
}

const EXPECTED: &[u32] = &[
    1, 2, 4, 5, 5, 6, 8, 9, 7, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20,
];

#[test]
fn faults_over_memory_link() {
    let (a, b) = MemoryTransport::pair(1 << 16);
    let (mut got, closed) = run_faults(a, b, &scenario(), &messages(20));
    assert!(!closed);
    // The 1 ms delay of seq 12 lets later ones overtake it; it arrives later.
    let pos12 = got
        .iter()
        .position(|&s| s == 12)
        .expect("delayed message arrives");
    assert!(
        pos12 > got.iter().position(|&s| s == 13).unwrap(),
        "12 was overtaken: {got:?}"
    );
    got.remove(pos12);
    assert_eq!(got, EXPECTED);
}

#[test]
fn cut_on_message_boundary_over_memory_link() {
    let (a, b) = MemoryTransport::pair(1 << 16);
    let faults = [Fault::new(Direction::Tx, Select::Nth(6), Action::Cut)];
    let (got, closed) = run_faults(a, b, &faults, &messages(20));
    assert!(closed, "receiver sees the connection closed");
    assert_eq!(
        got,
        [1, 2, 3, 4, 5],
        "everything before the cut, nothing after"
    );
}

#[test]
fn rx_faults_apply_on_the_receiving_side() {
    let (a, b) = MemoryTransport::pair(1 << 16);
    let mut b = FaultLink::new(
        b,
        &[
            Fault::new(Direction::Rx, Select::Seq(2), Action::Drop),
            Fault::new(Direction::Rx, Select::Nth(4), Action::Cut),
        ],
        4096,
    );
    let mut a = a;
    let wire = messages(6).concat();
    assert_eq!(a.send_bytes(&wire), wire.len());
    let mut got = Vec::new();
    let mut tmp = vec![0u8; 4096];
    for now in 0..100 {
        a.poll(now);
        b.poll(now);
        let n = b.recv_into(&mut tmp);
        let mut off = 0;
        while let Frame::Message(len) = next_frame(&tmp[off..n], 4096) {
            got.push(seq_num(&tmp[off..off + len]).unwrap());
            off += len;
        }
    }
    assert_eq!(got, [1, 3]);
    assert_eq!(b.state(), LinkState::Closed(fixeng::CloseReason::Cut));
    assert_eq!(b.stats().dropped, 1);
    assert_eq!(b.stats().cuts, 1);
    // The sending side sees its peer closed.
    assert!(a.is_closed());
}

#[test]
fn garbage_passes_through_untouched() {
    let (a, b) = MemoryTransport::pair(1 << 16);
    let mut a = FaultLink::new(
        a,
        &[Fault::new(Direction::Tx, Select::Nth(1), Action::Drop)],
        4096,
    );
    let mut b = b;
    let mut wire = b"garbage!".to_vec();
    wire.extend_from_slice(&messages(2).concat());
    a.send_bytes(&wire);
    let mut out = Vec::new();
    let mut tmp = vec![0u8; 4096];
    for now in 0..50 {
        a.poll(now);
        b.poll(now);
        let n = b.recv_into(&mut tmp);
        out.extend_from_slice(&tmp[..n]);
    }
    let m = messages(2);
    let mut want = b"garbage!".to_vec();
    want.extend_from_slice(&m[1]);
    assert_eq!(out, want, "first message dropped, garbage kept");
}

#[test]
fn faults_over_uring() {
    let Some((c, s)) = uring_pair() else {
        return;
    };
    let (mut got, closed) = run_faults(c, s, &scenario(), &messages(20));
    assert!(!closed);
    let pos12 = got
        .iter()
        .position(|&s| s == 12)
        .expect("delayed message arrives");
    got.remove(pos12);
    assert_eq!(got, EXPECTED);
}

#[test]
fn cut_over_uring() {
    let Some((c, s)) = uring_pair() else {
        return;
    };
    let faults = [Fault::new(Direction::Tx, Select::Seq(9), Action::Cut)];
    let (got, closed) = run_faults(c, s, &faults, &messages(20));
    assert!(closed, "peer sees EOF after the cut");
    assert_eq!(got, (1..=8).collect::<Vec<_>>());
}

#[test]
fn uring_zero_copy_send_and_default_ring_deliver_in_order() {
    if let Err(e) = probe() {
        println!("SKIP: {e}");
        return;
    }
    for opts in [
        UringOptions {
            zero_copy_send: true,
            ..UringOptions::default()
        },
        UringOptions {
            defer_taskrun: false,
            ..UringOptions::default()
        },
    ] {
        let l = UringListener::bind("127.0.0.1:0".parse().unwrap(), opts).unwrap();
        let mut c = UringTransport::connect(l.local_addr(), Duration::from_secs(2), opts).unwrap();
        let mut s = loop {
            if let Some(s) = l.accept().unwrap() {
                break s;
            }
        };
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut sent = 0;
        let mut got = Vec::new();
        let mut tmp = vec![0u8; 65536];
        let ok = pump(&mut c, &mut s, |c, s| {
            sent += c.send_bytes(&data[sent..(sent + 1000).min(data.len())]);
            let n = s.recv_into(&mut tmp);
            got.extend_from_slice(&tmp[..n]);
            got.len() == data.len()
        });
        assert!(ok, "{opts:?}: {} of {}", got.len(), data.len());
        assert!(got == data, "{opts:?}: bytes differ");
    }
}
