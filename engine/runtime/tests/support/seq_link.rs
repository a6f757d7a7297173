//! End-to-end run of two engine pipelines (acceptor with the echo application, initiator with
//! the order generator) over the in-memory link with fault injection — drops, a duplicate without
//! PossDup (which forces a logout and a reconnect), reorders, a cut and random losses — with a
//! sequencer of the caller's choice on both sides. Shared by `engine/runtime/tests/sequencers.rs`
//! (fast path, cycle model, card) and `fpga/sim/tests/hil/pipeline.rs` (the verilated RTL).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use fixeng::apps::{EchoApp, LoadApp};
use fixeng::clock::Clock;
use fixeng::connect::{FaultConnector, MemoryConnector};
use fixeng::pipeline::{
    pipeline_with_sequencer, sequencer_max_msg, sequencer_window, GapRecord, RingSizes,
};
use fixeng::transport::fault::{Action, Direction, Fault, FaultStats, Select};
use fixeng::transport::memory::MemoryTransport;
use fixsession::store::MemoryStore;
use fixsession::{Role, SessionConfig};
use hwsim::sequencer::Sequencer;

/// What a run observed.
#[derive(Debug, Default)]
pub struct LinkReport {
    /// Sequencer names (acceptor, initiator).
    pub sequencers: (&'static str, &'static str),
    /// Reports the initiator received in order.
    pub acked: u32,
    /// Orders the acceptor received in order.
    pub orders: u64,
    /// Messages out of sequence, duplicated to the application or dropped by a full ring.
    pub anomalies: u64,
    /// Gaps recovered (initiator, acceptor).
    pub gaps: (usize, usize),
    /// Faults injected on both sides.
    pub faults: FaultStats,
    /// Initiator connections after the first.
    pub reconnects: u64,
    /// Verdicts produced (acceptor, initiator).
    pub verdicts: (u64, u64),
    /// Why the run failed, if it did.
    pub failure: Option<String>,
}

fn config(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    let mut c = SessionConfig::new("FIX.4.4", s, t, role);
    c.heart_bt_int = 1;
    c.check_latency = false;
    c
}

fn plans(orders: u32, acceptor: bool) -> Vec<Vec<Fault>> {
    let at = |pct: u32| (orders * pct / 100).max(3);
    let f = |seq: u32, a: Action| Fault::new(Direction::Tx, Select::Seq(seq), a);
    let random = |seed: u64| {
        vec![Fault::new(
            Direction::Tx,
            Select::Random {
                per_million: 5000,
                seed,
            },
            Action::Drop,
        )]
    };
    if acceptor {
        vec![
            vec![
                f(at(5), Action::Drop),
                f(at(12), Action::Reorder(1)),
                f(at(18), Action::Drop),
                f(at(18) + 1, Action::Drop),
            ],
            // A report repeated without PossDupFlag: MsgSeqNum too low, the initiator logs out.
            vec![f(at(60), Action::Duplicate)],
            random(7),
        ]
    } else {
        vec![
            vec![
                f(at(8), Action::Drop),
                f(at(15), Action::Reorder(1)),
                f(at(25), Action::Drop),
                f(at(25) + 3, Action::Drop),
                f(at(40), Action::Cut),
            ],
            vec![f(at(50), Action::Drop)],
            random(11),
        ]
    }
}

/// Runs `orders` orders through two pipelines whose sequencers `make` builds (called with the
/// side's name, window and MAX_MSG), stepping both in one thread, for at most `timeout`.
pub fn run_over_memory_link(
    orders: u32,
    make: &mut dyn FnMut(&str, u32, usize) -> Box<dyn Sequencer>,
    timeout: Duration,
) -> LinkReport {
    let links: Vec<(MemoryTransport, MemoryTransport)> =
        (0..8).map(|_| MemoryTransport::pair(1 << 20)).collect();
    let (acc_links, ini_links): (Vec<_>, Vec<_>) = links.into_iter().unzip();
    let acc = FaultConnector::new(MemoryConnector::new(acc_links), plans(orders, true), 4096);
    let ini = FaultConnector::new(MemoryConnector::new(ini_links), plans(orders, false), 4096);
    let (ca, ci) = (config(Role::Acceptor), config(Role::Initiator));
    let sa = make("acceptor", sequencer_window(&ca), sequencer_max_msg(&ca));
    let si = make("initiator", sequencer_window(&ci), sequencer_max_msg(&ci));
    let sizes = RingSizes::default();
    let mut a = pipeline_with_sequencer(
        "acceptor",
        ca,
        acc,
        MemoryStore::new(),
        EchoApp::new(),
        sizes,
        sa,
    );
    let mut i = pipeline_with_sequencer(
        "initiator",
        ci,
        ini,
        MemoryStore::new(),
        LoadApp::new(orders, 0),
        sizes,
        si,
    );
    let mut r = LinkReport {
        sequencers: (a.seq.sequencer_name(), i.seq.sequencer_name()),
        ..LinkReport::default()
    };
    let clock = Clock::new();
    let t0 = Instant::now();
    loop {
        let now = clock.now();
        a.step(now);
        i.step(now);
        if let Some(f) = a.seq.failure().or(i.seq.failure()) {
            r.failure = Some(format!("sequencer failed: {f}"));
            break;
        }
        let done = i.app.logic().complete()
            && a.app.logic().orders >= u64::from(orders)
            && i.session.gaps().1.is_none()
            && a.session.gaps().1.is_none();
        if done {
            break;
        }
        if t0.elapsed() > timeout {
            r.failure = Some(format!(
                "timed out after {timeout:?}: initiator sent {} acked {}, acceptor got {}",
                i.app.logic().sent,
                i.app.logic().acked,
                a.app.logic().orders
            ));
            break;
        }
    }
    let (l, e) = (i.app.logic(), a.app.logic());
    r.acked = l.acked;
    r.orders = e.orders;
    r.anomalies = l.anomalies
        + e.anomalies
        + a.session.deliver_overflows()
        + i.session.deliver_overflows()
        + a.seq.stats.overflows
        + i.seq.stats.overflows;
    let gaps = |g: (&[GapRecord], Option<GapRecord>)| g.0.len();
    r.gaps = (gaps(i.session.gaps()), gaps(a.session.gaps()));
    r.reconnects = i.io.stats.connects.saturating_sub(1);
    r.verdicts = (a.seq.stats.verdicts, i.seq.stats.verdicts);
    let mut f = a.io.connector().closed_stats;
    let fi = i.io.connector().closed_stats;
    let links = [
        a.io.link().map(|t| t.stats()),
        i.io.link().map(|t| t.stats()),
    ];
    for s in std::iter::once(fi).chain(links.into_iter().flatten()) {
        f.messages += s.messages;
        f.dropped += s.dropped;
        f.duplicated += s.duplicated;
        f.reordered += s.reordered;
        f.delayed += s.delayed;
        f.cuts += s.cuts;
    }
    r.faults = f;
    if r.failure.is_none() && e.next_order != orders + 1 {
        r.failure = Some(format!(
            "acceptor's next expected order is O{}, want O{}",
            e.next_order,
            orders + 1
        ));
    }
    r
}

/// The checks every sequencer must pass on a [`run_over_memory_link`] report.
pub fn assert_exactly_once_in_order(r: &LinkReport, orders: u32) {
    assert_eq!(r.failure, None, "{r:?}");
    assert_eq!((r.acked, r.orders), (orders, u64::from(orders)), "{r:?}");
    assert_eq!(r.anomalies, 0, "{r:?}");
    assert!(r.faults.dropped >= 4, "losses injected: {r:?}");
    assert!(r.faults.duplicated >= 1, "a duplicate injected: {r:?}");
    assert!(r.faults.reordered >= 1, "a reorder injected: {r:?}");
    assert!(r.faults.cuts >= 1, "a cut injected: {r:?}");
    assert!(r.gaps.0 > 0 && r.gaps.1 > 0, "gaps both ways: {r:?}");
    assert!(
        r.reconnects >= 2,
        "the cut and the duplicate reconnect: {r:?}"
    );
}
