//! A counting global allocator proves the hot path allocation-free: after warm-up, receiving
//! in-order messages (sequencer fast path + session + delivery) and sending messages (encode +
//! journal + write) allocate nothing, nor does serving a peer's ResendRequest 1..0 (spliced from
//! the store in steps). Run with the mmap store (a segment large enough that no
//! rollover happens inside the measured window) and with a fixed-capacity test store.
//!
//! This file holds a single test so no other test thread allocates while it measures.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{build, ts, T0};
use fixsession::store::{FlushPolicy, MessageStore, MmapStore, MmapStoreConfig, StoreError};
use fixsession::{
    Application, DeliverInfo, DisconnectReason, Event, Responder, Role, SequencerOp, Session,
    SessionConfig, SessionOutput,
};
use hwsim::fast::FastPath;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Output that only counts.
#[derive(Default)]
struct CountOut {
    bytes: u64,
    msgs: u64,
    ops: [Option<SequencerOp>; 4],
    n_ops: usize,
    disconnects: u32,
}

impl SessionOutput for CountOut {
    fn send_bytes(&mut self, b: &[u8]) {
        self.bytes += b.len() as u64;
        self.msgs += 1;
    }
    fn sequencer(&mut self, op: SequencerOp) {
        if self.n_ops < 4 {
            self.ops[self.n_ops] = Some(op);
        }
        self.n_ops += 1;
    }
    fn event(&mut self, _ev: &Event<'_>) {}
    fn disconnect(&mut self, _r: DisconnectReason) {
        self.disconnects += 1;
    }
}

/// Counts deliveries and answers every order (so the send path runs inside delivery too).
#[derive(Default)]
struct CountApp {
    delivered: u64,
    last_seq: u32,
}

impl Application for CountApp {
    fn on_message(&mut self, msg: &[u8], info: &DeliverInfo, r: &mut dyn Responder) {
        self.delivered += 1;
        self.last_seq = info.seq;
        let id = fixsession::wire::find(msg, 11).unwrap_or(b"");
        r.send(b"8", &mut |b| {
            b.field(11, id).field(150, b"0").field(39, b"0");
        })
        .unwrap();
    }
}

/// A store with fixed capacity that keeps only the numbers (the session's own allocation
/// behaviour, independent of any store).
struct FixedStore {
    sender: u32,
    target: u32,
    last: u32,
}

impl MessageStore for FixedStore {
    fn next_sender_seq(&self) -> u32 {
        self.sender
    }
    fn next_target_seq(&self) -> u32 {
        self.target
    }
    fn set_next_sender_seq(&mut self, s: u32) -> Result<(), StoreError> {
        self.sender = s;
        Ok(())
    }
    fn set_next_target_seq(&mut self, s: u32) -> Result<(), StoreError> {
        self.target = s;
        Ok(())
    }
    fn append(&mut self, seq: u32, _m: &[u8]) -> Result<(), StoreError> {
        self.sender = seq + 1;
        self.last = seq;
        Ok(())
    }
    fn for_each_in_range(
        &self,
        _b: u32,
        _e: u32,
        _f: &mut dyn FnMut(u32, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    fn last_stored_seq(&self) -> u32 {
        self.last
    }
    fn reset(&mut self) -> Result<(), StoreError> {
        self.sender = 1;
        self.target = 1;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn peer(seq: u32, now: u64, fields: &[(u32, &[u8])]) -> Vec<u8> {
    let mut f = vec![
        (35, fields[0].1.to_vec()),
        (49, b"PEER".to_vec()),
        (56, b"ENGINE".to_vec()),
        (34, seq.to_string().into_bytes()),
        (52, ts(now)),
    ];
    for (t, v) in &fields[1..] {
        f.push((*t, v.to_vec()));
    }
    build("FIX.4.4", &f)
}

/// Logs on, warms up, then measures `n` received orders (each answered) and `n` sends.
fn measure<S: MessageStore>(store: S) -> (u64, u64, u64) {
    let cfg = SessionConfig::new("FIX.4.4", "ENGINE", "PEER", Role::Acceptor);
    let mut fp = FastPath::new(1, cfg.window, cfg.max_message_size);
    let mut s = Session::new(cfg, store, CountApp::default());
    let mut out = CountOut::default();
    let now = T0;
    s.on_connect(now, &mut out);
    fp.reset_stream(0);
    fp.set_expected(0, s.next_target_seq());
    let first = s.next_target_seq();
    let n = 2000u32;
    let warm = 200u32;
    // All input bytes built before measuring.
    let mut stream = Vec::new();
    stream.push(peer(first, now, &[(35, b"A"), (108, b"30")]));
    for i in 1..=(warm + n) {
        stream.push(peer(
            first + i,
            now,
            &[(35, b"D"), (11, b"ORDER-1234"), (55, b"EURUSD")],
        ));
    }
    // Then the peer asks for everything again: served by splicing from the store, in steps.
    let resend_request = peer(
        first + warm + n + 1,
        now,
        &[(35, b"2"), (7, b"1"), (16, b"0")],
    );
    let feed = |s: &mut Session<S, CountApp>, fp: &mut FastPath, out: &mut CountOut, m: &[u8]| {
        fp.process(0, m, |v, b| s.on_verdict(now, v, b, out));
    };
    for m in &stream[..=warm as usize] {
        feed(&mut s, &mut fp, &mut out, m);
    }
    for _ in 0..warm {
        s.send(
            now,
            b"8",
            |b| {
                b.field(11, b"X").field(150, b"0");
            },
            &mut out,
        )
        .unwrap();
    }
    assert!(s.is_logged_on());
    assert_eq!(s.app().delivered, u64::from(warm));
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for m in &stream[warm as usize + 1..] {
        feed(&mut s, &mut fp, &mut out, m);
        s.send(
            now,
            b"8",
            |b| {
                b.field(11, b"UNSOLICITED").field(150, b"0");
            },
            &mut out,
        )
        .unwrap();
        s.on_timer(now, &mut out);
    }
    let before = out.msgs;
    feed(&mut s, &mut fp, &mut out, &resend_request);
    let mut steps = 0;
    while s.serving_resend() && steps < 100 {
        s.on_timer(now, &mut out);
        steps += 1;
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert!(!s.serving_resend(), "the resend did not finish");
    let resent = out.msgs - before;
    assert!(resent >= 1, "the ResendRequest was not answered");
    let allocs = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(s.app().delivered, u64::from(warm + n));
    assert_eq!(out.disconnects, 0);
    (allocs, s.app().delivered, resent)
}

#[test]
fn hot_path_does_not_allocate() {
    // The counter itself works.
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(64));
    COUNTING.store(false, Ordering::SeqCst);
    drop(v);
    assert!(ALLOCS.load(Ordering::SeqCst) >= 1);

    let (allocs, delivered, _) = measure(FixedStore {
        sender: 1,
        target: 1,
        last: 0,
    });
    assert_eq!(allocs, 0, "session hot path allocated {allocs} times");
    assert_eq!(delivered, 2200);

    let dir = tempfile::tempdir().unwrap();
    let store = MmapStore::open(
        dir.path(),
        "FIX.4.4:ENGINE->PEER",
        MmapStoreConfig {
            segment_bytes: 64 << 20,
            flush: FlushPolicy::None,
            ..MmapStoreConfig::default()
        },
    )
    .unwrap();
    let (allocs, _, resent) = measure(store);
    assert_eq!(allocs, 0, "session + mmap store allocated {allocs} times");
    // Logon + 200 + 2 x 2000 ExecutionReports and sends are in the store: all come back (as
    // PossDup copies, admin numbers as gap fills).
    assert!(resent >= 4200, "only {resent} messages resent");
}
