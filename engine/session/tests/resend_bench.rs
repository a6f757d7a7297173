//! Resend speed, measured the way `cargo run -p bench --release -- resend` (bench/src/resend.rs)
//! does, inside this crate so it runs without the bench crate: a `Session` with an `MmapStore`
//! (FlushPolicy::None) has journaled 100 000 ExecutionReports; the peer's ResendRequest for the
//! last N goes through the FastPath sequencer into `Session::on_verdict`, then `on_timer` is
//! called until the resend is complete (large ranges are served in steps of `max_resend_range`).
//! Rates are per second of on-CPU time of the serving thread (median of the repetitions).
//!
//! Ignored (a measurement, not a test):
//! `cargo test --release -p fixsession --test resend_bench -- --ignored --nocapture`

mod common;

use common::*;
use fixsession::store::{FlushPolicy, MessageStore, MmapStore, MmapStoreConfig};
use fixsession::{
    Application, DeliverInfo, DisconnectReason, Event, Responder, SequencerOp, Session,
    SessionOutput,
};
use hwsim::fast::FastPath;

/// On-CPU time of this thread in ns.
fn cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(r, 0, "clock_gettime");
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

struct Sink {
    msgs: u64,
    bytes: u64,
    disconnect: Option<DisconnectReason>,
}

impl SessionOutput for Sink {
    fn send_bytes(&mut self, b: &[u8]) {
        self.msgs += 1;
        self.bytes += b.len() as u64;
    }
    fn sequencer(&mut self, _op: SequencerOp) {}
    fn event(&mut self, _ev: &Event<'_>) {}
    fn disconnect(&mut self, r: DisconnectReason) {
        self.disconnect = Some(r);
    }
}

struct Quiet;

impl Application for Quiet {
    fn on_message(&mut self, _m: &[u8], _i: &DeliverInfo, _r: &mut dyn Responder) {}
}

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn resend_rate() {
    let dir = tempfile::tempdir().unwrap();
    let store = MmapStore::open(
        dir.path(),
        "FIX.4.4:ENGINE->PEER",
        MmapStoreConfig {
            segment_bytes: 256 << 20,
            flush: FlushPolicy::None,
            ..MmapStoreConfig::default()
        },
    )
    .unwrap();
    let cfg = default_config();
    let mut fp = FastPath::new(1, cfg.window, cfg.max_message_size);
    let mut s = Session::new(cfg, store, Quiet);
    let mut out = Sink {
        msgs: 0,
        bytes: 0,
        disconnect: None,
    };
    let mut now = T0;
    s.on_connect(now, &mut out);
    let peer = |fields: &[(u32, &[u8])], now: u64| {
        let mut f: Vec<(u32, Vec<u8>)> = vec![
            (35, fields[0].1.to_vec()),
            (49, b"PEER".to_vec()),
            (56, b"ENGINE".to_vec()),
        ];
        f.extend(fields[1..].iter().map(|(t, v)| (*t, v.to_vec())));
        f.push((52, ts(now)));
        build("FIX.4.4", &f)
    };
    let logon = peer(&[(35, b"A"), (34, b"1"), (98, b"0"), (108, b"30")], now);
    fp.process(0, &logon, |v, b| s.on_verdict(now, v, b, &mut out));
    assert!(s.is_logged_on());
    let stored = 100_000u32;
    for _ in 0..stored {
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
                    .field_u64(38, 1_000_000)
                    .field_u64(151, 1_000_000)
                    .field(14, b"0")
                    .field(6, b"0");
            },
            &mut out,
        )
        .unwrap();
    }
    let last = s.next_sender_seq() - 1;
    let mut peer_seq = 2u32;
    for (n, reps) in [(50u32, 2000usize), (1_000, 200), (100_000, 5)] {
        let begin = last - n + 1;
        let (b_s, e_s) = (begin.to_string(), last.to_string());
        let mut cpu = Vec::new();
        let mut bytes = 0;
        for _ in 0..reps {
            // A second apart, so that no per-second limit applies across repetitions.
            now += 1_000_000_000;
            let ps = peer_seq.to_string();
            let rr = peer(
                &[
                    (35, b"2"),
                    (34, ps.as_bytes()),
                    (7, b_s.as_bytes()),
                    (16, e_s.as_bytes()),
                ],
                now,
            );
            peer_seq += 1;
            out.msgs = 0;
            out.bytes = 0;
            let c0 = cpu_ns();
            fp.process(0, &rr, |v, b| s.on_verdict(now, v, b, &mut out));
            let mut guard = 0;
            while out.msgs < u64::from(n) && guard < 1_000_000 {
                s.on_timer(now, &mut out);
                guard += 1;
            }
            let c1 = cpu_ns();
            assert_eq!(out.msgs, u64::from(n), "disconnect: {:?}", out.disconnect);
            bytes = out.bytes;
            cpu.push(c1 - c0);
        }
        cpu.sort_unstable();
        let med = cpu[cpu.len() / 2] as f64;
        // The limit: the store alone.
        let mut copy = vec![0u8; 8192];
        let mut scpu = Vec::new();
        for _ in 0..reps.min(50) {
            let c0 = cpu_ns();
            s.store()
                .for_each_in_range(begin, last, &mut |_, m| {
                    let l = m.len().min(copy.len());
                    copy[..l].copy_from_slice(&m[..l]);
                    std::hint::black_box(&mut copy);
                    true
                })
                .unwrap();
            scpu.push(cpu_ns() - c0);
        }
        scpu.sort_unstable();
        let smed = scpu[scpu.len() / 2] as f64;
        println!(
            "resend {n:>6} msgs: {:>10.1} us median on-CPU, {:>6.2} M msgs/s, {:>7.0} MB/s \
             (store alone {:>6.2} M msgs/s)",
            med / 1e3,
            f64::from(n) / med * 1e3,
            bytes as f64 / med * 1e3,
            f64::from(n) / smed * 1e3
        );
    }
}
