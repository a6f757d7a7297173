//! No allocation on the hot path: a counting global allocator watches a steady-state run of
//! orders and reports through both pipelines over loopback io_uring (and the transport path on
//! its own, over the in-memory link with fault injection).

use fixeng::apps::{EchoApp, LoadApp};
use fixeng::clock::Clock;
use fixeng::connect::{UringAcceptor, UringInitiator};
use fixeng::msg::write_message;
use fixeng::pipeline::{pipeline, RingSizes};
use fixeng::transport::fault::{Action, Direction, Fault, FaultLink, Select};
use fixeng::transport::memory::MemoryTransport;
use fixeng::transport::uring::{probe, UringOptions};
use fixeng::Transport;
use fixsession::store::{MmapStore, MmapStoreConfig};
use fixsession::{Role, SessionConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

fn cfg(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    let mut c = SessionConfig::new("FIX.4.4", s, t, role);
    // No heartbeats during the measured window.
    c.heart_bt_int = 30;
    c
}

/// Both tests run in one function: the counter is process-wide and tests run in parallel.
#[test]
fn hot_path_does_not_allocate() {
    transport_path_with_faults();
    full_pipeline_over_uring();
}

fn transport_path_with_faults() {
    let (a, mut b) = MemoryTransport::pair(1 << 16);
    let mut a = FaultLink::new(
        a,
        &[
            Fault::new(Direction::Tx, Select::Seq(5000), Action::Drop),
            Fault::new(Direction::Tx, Select::Seq(5001), Action::Reorder(2)),
        ],
        4096,
    );
    let mut msgs = vec![0u8; 256];
    let mut sink = vec![0u8; 1 << 16];
    let mut seq = 1;
    let mut step = |a: &mut FaultLink<MemoryTransport>, b: &mut MemoryTransport, seq: &mut u32| {
        for _ in 0..50 {
            let n = write_message(&mut msgs, "FIX.4.4", "D", *seq, b"11=x\x01").unwrap();
            if a.send_bytes(&msgs[..n]) == n {
                *seq += 1;
            }
        }
        a.poll(0);
        b.poll(0);
        while b.recv_into(&mut sink) > 0 {}
    };
    for _ in 0..20 {
        step(&mut a, &mut b, &mut seq);
    }
    let before = allocs();
    for _ in 0..400 {
        step(&mut a, &mut b, &mut seq);
    }
    assert!(seq > 10_000, "{seq} messages went through");
    assert_eq!(
        a.stats().dropped + a.stats().reordered,
        2,
        "faults fired in the window"
    );
    assert_eq!(allocs() - before, 0, "allocations on the transport path");
}

fn full_pipeline_over_uring() {
    if let Err(e) = probe() {
        println!("SKIP (pipeline part): {e}");
        return;
    }
    const N: u32 = 3000;
    let clock = Clock::new();
    let acc = UringAcceptor::bind("127.0.0.1:0".parse().unwrap(), UringOptions::default()).unwrap();
    let ini = UringInitiator::new(
        acc.local_addr(),
        UringOptions::default(),
        Duration::from_millis(5),
    );
    // The production store (MemoryStore grows a Vec by design).
    let dir = tempfile::tempdir().unwrap();
    let sa = MmapStore::open(dir.path(), "a", MmapStoreConfig::default()).unwrap();
    let si = MmapStore::open(dir.path(), "i", MmapStoreConfig::default()).unwrap();
    let mut a = pipeline(
        "a",
        cfg(Role::Acceptor),
        acc,
        sa,
        EchoApp::new(),
        RingSizes::default(),
    );
    let mut i = pipeline(
        "i",
        cfg(Role::Initiator),
        ini,
        si,
        LoadApp::new(N, 0),
        RingSizes::default(),
    );
    let t0 = Instant::now();
    // Warm up: connect, log on, first 500 orders (lazily grown structures reach their size).
    while i.app.logic().acked < 500 {
        a.step(clock.now());
        i.step(clock.now());
        assert!(t0.elapsed() < Duration::from_secs(20), "warm-up stalled");
    }
    let before = allocs();
    while i.app.logic().acked < N - 100 {
        a.step(clock.now());
        i.step(clock.now());
        assert!(t0.elapsed() < Duration::from_secs(30), "run stalled");
    }
    let n = allocs() - before;
    let acked = i.app.logic().acked;
    assert!(acked >= N - 100);
    assert_eq!(
        n,
        0,
        "{n} allocations while {} orders round-tripped",
        acked - 500
    );
}
