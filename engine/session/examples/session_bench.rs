//! Session-layer throughput, single thread: prints ns per message for
//!
//! * receive: in-order NewOrderSingle bytes -> `FastPath` -> `Session::on_verdict` -> application;
//! * send: `Session::send` (encode + journal + hand to the transport);
//! * gap release: a full window of held messages released when the missing one arrives;
//! * resend: serving one ResendRequest for N application messages from the store.
//!
//! Run: `cargo run --release -p fixsession --example session_bench [N]` (default N = 200000).
//! The store is the mmap store (FlushPolicy::None) in a temporary directory.

use std::time::Instant;

use fixsession::store::{FlushPolicy, MessageStore, MmapStore, MmapStoreConfig, StoreError};
use fixsession::time::format_timestamp;
use fixsession::{
    Application, DeliverInfo, DisconnectReason, Event, Responder, Role, SequencerOp, Session,
    SessionConfig, SessionOutput,
};
use hwsim::fast::FastPath;

struct Sink {
    bytes: u64,
    msgs: u64,
}

impl SessionOutput for Sink {
    fn send_bytes(&mut self, b: &[u8]) {
        self.bytes += b.len() as u64;
        self.msgs += 1;
    }
    fn sequencer(&mut self, _op: SequencerOp) {}
    fn event(&mut self, _ev: &Event<'_>) {}
    fn disconnect(&mut self, r: DisconnectReason) {
        panic!("unexpected disconnect: {}", r.describe());
    }
}

#[derive(Default)]
struct Count(u64);

impl Application for Count {
    fn on_message(&mut self, _m: &[u8], _i: &DeliverInfo, _r: &mut dyn Responder) {
        self.0 += 1;
    }
}

fn msg(out: &mut Vec<u8>, fields: &[(u32, &[u8])]) {
    let mut body = Vec::new();
    for (t, v) in fields {
        body.extend_from_slice(format!("{t}=").as_bytes());
        body.extend_from_slice(v);
        body.push(1);
    }
    let start = out.len();
    out.extend_from_slice(format!("8=FIX.4.4\x019={}\x01", body.len()).as_bytes());
    out.extend_from_slice(&body);
    let sum: u32 = out[start..].iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
}

fn peer(out: &mut Vec<u8>, t: &[u8], seq: u32, ts: &[u8], extra: &[(u32, &[u8])]) {
    let s = seq.to_string();
    let mut f: Vec<(u32, &[u8])> = vec![
        (35, t),
        (49, b"PEER"),
        (56, b"ENGINE"),
        (34, s.as_bytes()),
        (52, ts),
    ];
    f.extend_from_slice(extra);
    msg(out, &f);
}

/// Keeps only the numbers: isolates the session layer's own cost (resends gap-fill everything).
struct NullStore {
    sender: u32,
    target: u32,
}

impl MessageStore for NullStore {
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
        self.sender - 1
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

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!("== session layer alone (store keeps only the numbers)");
    run(
        NullStore {
            sender: 1,
            target: 1,
        },
        n,
        false,
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MmapStore::open(
        dir.path(),
        "FIX.4.4:ENGINE->PEER",
        MmapStoreConfig {
            segment_bytes: 1 << 30,
            flush: FlushPolicy::None,
            ..MmapStoreConfig::default()
        },
    )
    .expect("store");
    println!("== with the mmap store (FlushPolicy::None, fresh 1 GiB segment)");
    run(store, n, true);
}

fn run<S: MessageStore>(store: S, n: u32, check_resend: bool) {
    let cfg = SessionConfig::new("FIX.4.4", "ENGINE", "PEER", Role::Acceptor);
    let w = cfg.window;
    let mut fp = FastPath::new(1, cfg.window, cfg.max_message_size);
    let mut s = Session::new(cfg, store, Count::default());
    let mut out = Sink { bytes: 0, msgs: 0 };
    let now = 1_700_000_000_000_000_000u64;
    let mut tsb = [0u8; 32];
    let tl = format_timestamp(now, 3, &mut tsb);
    let ts = &tsb[..tl];
    s.on_connect(now, &mut out);
    let mut logon = Vec::new();
    peer(&mut logon, b"A", 1, ts, &[(108, b"30")]);
    fp.process(0, &logon, |v, b| s.on_verdict(now, v, b, &mut out));
    assert!(s.is_logged_on());

    // Receive.
    let order: &[(u32, &[u8])] = &[
        (11, b"ORD-000000001"),
        (55, b"EURUSD"),
        (54, b"1"),
        (60, b"20231114-22:13:20.000"),
        (40, b"2"),
        (44, b"1.08450"),
        (38, b"1000000"),
    ];
    let mut stream = Vec::new();
    for i in 0..n {
        peer(&mut stream, b"D", 2 + i, ts, order);
    }
    let t = Instant::now();
    for chunk in stream.chunks(64 * 1024) {
        fp.process(0, chunk, |v, b| s.on_verdict(now, v, b, &mut out));
    }
    let dt = t.elapsed();
    assert_eq!(s.app().0, u64::from(n));
    println!(
        "receive  : {n} msgs ({} B each) in {:?}: {:.0} ns/msg, {:.2} M msg/s",
        stream.len() / n as usize,
        dt,
        dt.as_nanos() as f64 / f64::from(n),
        f64::from(n) / dt.as_secs_f64() / 1e6
    );

    // Send.
    let t = Instant::now();
    for _ in 0..n {
        s.send(
            now,
            b"8",
            |b| {
                b.field(37, b"O-1")
                    .field(11, b"ORD-000000001")
                    .field(17, b"E-1")
                    .field(150, b"0")
                    .field(39, b"0")
                    .field(55, b"EURUSD")
                    .field(54, b"1")
                    .field_u64(151, 1_000_000);
            },
            &mut out,
        )
        .expect("send");
    }
    let dt = t.elapsed();
    println!(
        "send     : {n} msgs in {:?}: {:.0} ns/msg, {:.2} M msg/s",
        dt,
        dt.as_nanos() as f64 / f64::from(n),
        f64::from(n) / dt.as_secs_f64() / 1e6
    );

    // Gap release: lose one message, hold W-1, then the missing one arrives.
    let base = s.next_target_seq();
    let mut held = Vec::new();
    for i in 1..w {
        peer(&mut held, b"D", base + i, ts, order);
    }
    let mut missing = Vec::new();
    let seq_s = base.to_string();
    msg(
        &mut missing,
        &[
            (35, b"D"),
            (49, b"PEER"),
            (56, b"ENGINE"),
            (34, seq_s.as_bytes()),
            (43, b"Y"),
            (122, ts),
            (52, ts),
            (11, b"ORD"),
            (55, b"EURUSD"),
        ],
    );
    fp.process(0, &held, |v, b| s.on_verdict(now, v, b, &mut out));
    assert_eq!(s.held_count(), w - 1);
    let before = s.app().0;
    let t = Instant::now();
    fp.process(0, &missing, |v, b| s.on_verdict(now, v, b, &mut out));
    let dt = t.elapsed();
    assert_eq!(s.app().0 - before, u64::from(w));
    println!(
        "release  : {w} msgs (1 arriving + {} held) in {:?}: {:.0} ns/msg",
        w - 1,
        dt,
        dt.as_nanos() as f64 / f64::from(w)
    );

    // Resend: the peer asks for our N ExecutionReports.
    let first = s.next_sender_seq() - n;
    let seq_s = (base + w).to_string();
    let first_s = first.to_string();
    let last_s = (first + n - 1).to_string();
    let mut rr = Vec::new();
    msg(
        &mut rr,
        &[
            (35, b"2"),
            (49, b"PEER"),
            (56, b"ENGINE"),
            (34, seq_s.as_bytes()),
            (52, ts),
            (7, first_s.as_bytes()),
            (16, last_s.as_bytes()),
        ],
    );
    let (m0, b0) = (out.msgs, out.bytes);
    let t = Instant::now();
    fp.process(0, &rr, |v, b| s.on_verdict(now, v, b, &mut out));
    // A large range is served in steps of `max_resend_range`, continued by the timer.
    while s.serving_resend() {
        s.on_timer(now, &mut out);
    }
    let dt = t.elapsed();
    if !check_resend {
        println!("resend   : (gap fill only: nothing stored) {:?}", dt);
        return;
    }
    assert_eq!(out.msgs - m0, u64::from(n));
    println!(
        "resend   : {n} msgs ({} MB) streamed from the mmap store in {:?}: {:.0} ns/msg",
        (out.bytes - b0) / 1_000_000,
        dt,
        dt.as_nanos() as f64 / f64::from(n)
    );
    s.store_mut().flush().expect("flush");
}
