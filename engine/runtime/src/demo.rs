//! `fixeng demo`: an acceptor and an initiator in one process over loopback io_uring (falling
//! back to the in-memory link), all agents on one thread, with fault injection making gaps in
//! both directions; it checks that every order and every report arrived exactly once and in
//! order.

use crate::agent::Agent;
use crate::apps::{EchoApp, LoadApp};
use crate::clock::{Clock, Nanos};
use crate::connect::{Connector, FaultConnector, MemoryConnector, UringAcceptor, UringInitiator};
use crate::pipeline::{
    pipeline_with_sequencer, sequencer_max_msg, sequencer_window, GapRecord, Pipeline, RingSizes,
};
use crate::runner::cycle_at;
use crate::seqsel;
use crate::transport::fault::{Action, Direction, Fault, FaultEvent, FaultStats, Select};
use crate::transport::memory::MemoryTransport;
use crate::transport::uring::{self, UringOptions};
use fixsession::store::MemoryStore;
use fixsession::{Role, SessionConfig};
use hdrhistogram::Histogram;
use std::io::Write;
use std::time::Duration;

/// Demo options.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Orders the initiator sends.
    pub orders: u32,
    /// Orders per second (0 = unthrottled).
    pub rate: u64,
    /// Use the in-memory link even if io_uring works.
    pub memory: bool,
    /// Inject faults.
    pub faults: bool,
    /// Cut the connection once mid-stream (the initiator reconnects and recovers).
    pub cut: bool,
    /// Give up after this long.
    pub timeout: Duration,
    /// Print progress and the report.
    pub verbose: bool,
    /// Sequencer of both sides (`fast`, `model`, `rtl`, `card:PATH`; see [`crate::seqsel`]).
    pub sequencer: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            orders: 5000,
            rate: 2000,
            memory: false,
            faults: true,
            cut: true,
            timeout: Duration::from_secs(60),
            verbose: true,
            sequencer: "fast".to_string(),
        }
    }
}

/// What the demo observed.
#[derive(Debug)]
pub struct DemoReport {
    /// `io_uring` or `memory`.
    pub transport: &'static str,
    /// The sequencer both sides ran (`Sequencer::name`).
    pub sequencer: &'static str,
    /// Orders sent / acknowledged by the initiator.
    pub sent: u32,
    /// Reports received in order by the initiator.
    pub acked: u32,
    /// Orders received in order by the acceptor.
    pub orders_received: u64,
    /// Out-of-sequence orders or reports (must be 0).
    pub anomalies: u64,
    /// Gaps recovered by the initiator's session (reports lost on the way).
    pub initiator_gaps: Vec<GapRecord>,
    /// Gaps recovered by the acceptor's session (orders lost on the way).
    pub acceptor_gaps: Vec<GapRecord>,
    /// Faults injected (both sides).
    pub faults: FaultStats,
    /// Reconnections.
    pub reconnects: u64,
    /// True when every order and report arrived exactly once and in order.
    pub ok: bool,
    /// Why not, when `ok` is false.
    pub failure: Option<String>,
}

impl DemoReport {
    /// A demo that could not start.
    fn failed(transport: &'static str, why: String) -> DemoReport {
        DemoReport {
            transport,
            sequencer: "none",
            sent: 0,
            acked: 0,
            orders_received: 0,
            anomalies: 0,
            initiator_gaps: Vec::new(),
            acceptor_gaps: Vec::new(),
            faults: FaultStats::default(),
            reconnects: 0,
            ok: false,
            failure: Some(why),
        }
    }
}

fn plans(orders: u32, faults: bool, cut: bool, acceptor: bool) -> Vec<Vec<Fault>> {
    if !faults {
        return vec![];
    }
    // MsgSeqNum 1 is the Logon; application messages follow. Spread the faults over the run.
    let at = |f: u32| (orders * f / 100).max(3);
    // Connection 1: losses, reordering and a delay both ways, then the initiator's link is cut.
    // A reordered or delayed message arrives before the resend of it would: had it arrived
    // after (as a non-PossDup copy of a message already recovered), FIX would require a
    // disconnect ("MsgSeqNum too low"), as connection 2 shows on purpose.
    // Connection 2: the acceptor's link duplicates a report without PossDupFlag — a FIX protocol
    // violation ("MsgSeqNum too low"), so the initiator logs out and reconnects.
    // Connection 3: random losses both ways (seeded, 0.2% of application messages).
    let (mut first, second) = if acceptor {
        // Acceptor -> initiator: ExecutionReports.
        (
            vec![
                Fault::new(Direction::Tx, Select::Seq(at(5)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(12)), Action::Reorder(1)),
                Fault::new(Direction::Tx, Select::Seq(at(20) + 1), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(20) + 2), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(30)), Action::Delay(20_000)),
                Fault::new(Direction::Tx, Select::Seq(at(40)), Action::Drop),
            ],
            vec![Fault::new(
                Direction::Tx,
                Select::Seq(at(70)),
                Action::Duplicate,
            )],
        )
    } else {
        // Initiator -> acceptor: orders.
        (
            vec![
                Fault::new(Direction::Tx, Select::Seq(at(8)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(15)), Action::Reorder(1)),
                Fault::new(Direction::Tx, Select::Seq(at(25)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(25) + 5), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(35)), Action::Delay(20_000)),
            ],
            vec![Fault::new(Direction::Tx, Select::Seq(at(65)), Action::Drop)],
        )
    };
    if cut && !acceptor {
        first.push(Fault::new(Direction::Tx, Select::Seq(at(50)), Action::Cut));
    }
    let third = vec![Fault::new(
        Direction::Tx,
        Select::Random {
            per_million: 2000,
            seed: if acceptor { 7 } else { 11 },
        },
        Action::Drop,
    )];
    vec![first, second, third]
}

fn config(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    let mut c = SessionConfig::new("FIX.4.4", s, t, role);
    // Short heartbeats: a message lost at the end of a burst is detected by the next heartbeat.
    c.heart_bt_int = 1;
    c.check_latency = false;
    c
}

type Side<C, L> = Pipeline<FaultConnector<C>, MemoryStore, L>;

/// Runs the demo; prints progress and the report when `verbose`.
pub fn run(opts: &DemoOptions) -> DemoReport {
    let use_memory = opts.memory
        || match uring::probe() {
            Ok(()) => false,
            Err(e) => {
                println!("{e}");
                println!("falling back to the in-memory link (Transport=memory)");
                true
            }
        };
    if use_memory {
        let (a, b) = MemoryTransport::pair(1 << 20);
        // One connection each way (no reconnect over memory: no cut).
        let acc = FaultConnector::new(
            MemoryConnector::new(vec![a]),
            plans(opts.orders, opts.faults, false, true),
            4096,
        );
        let ini = FaultConnector::new(
            MemoryConnector::new(vec![b]),
            plans(opts.orders, opts.faults, false, false),
            4096,
        );
        drive("memory", acc, ini, opts)
    } else {
        let acc = match UringAcceptor::bind(
            "127.0.0.1:0".parse().expect("addr"),
            UringOptions::default(),
        ) {
            Ok(a) => a,
            Err(e) => {
                println!("cannot listen on loopback: {e}; falling back to the in-memory link");
                let mut o = opts.clone();
                o.memory = true;
                return run(&o);
            }
        };
        let addr = acc.local_addr();
        let ini = UringInitiator::new(addr, UringOptions::default(), Duration::from_millis(10));
        let acc = FaultConnector::new(acc, plans(opts.orders, opts.faults, opts.cut, true), 4096);
        let ini = FaultConnector::new(ini, plans(opts.orders, opts.faults, opts.cut, false), 4096);
        if opts.verbose {
            println!("acceptor listening on {addr} (io_uring), initiator connecting");
        }
        drive("io_uring", acc, ini, opts)
    }
}

fn drive<CA: Connector, CI: Connector>(
    transport: &'static str,
    acc: FaultConnector<CA>,
    ini: FaultConnector<CI>,
    opts: &DemoOptions,
) -> DemoReport {
    let clock = Clock::new();
    let (ca, ci) = (config(Role::Acceptor), config(Role::Initiator));
    let seq = |c: &SessionConfig| {
        seqsel::from_spec(&opts.sequencer, sequencer_window(c), sequencer_max_msg(c))
    };
    let (sa, si) = match (seq(&ca), seq(&ci)) {
        (Ok(a), Ok(i)) => (a, i),
        (Err(e), _) | (_, Err(e)) => {
            println!("sequencer: {e}");
            return DemoReport::failed(transport, e);
        }
    };
    let mut a: Side<CA, EchoApp> = pipeline_with_sequencer(
        "acceptor",
        ca,
        acc,
        MemoryStore::new(),
        EchoApp::new(),
        RingSizes::default(),
        sa,
    );
    let mut i: Side<CI, LoadApp> = pipeline_with_sequencer(
        "initiator",
        ci,
        ini,
        MemoryStore::new(),
        LoadApp::new(opts.orders, opts.rate),
        RingSizes::default(),
        si,
    );
    if opts.verbose {
        println!(
            "sending {} orders at {} (all agents on one thread, faults {})",
            opts.orders,
            if opts.rate == 0 {
                "full speed".to_string()
            } else {
                format!("{}/s", opts.rate)
            },
            if opts.faults { "on" } else { "off" }
        );
    }
    let start = clock.now();
    let deadline = start + opts.timeout.as_nanos() as Nanos;
    let mut next_print = start + 1_000_000_000;
    let mut printed_gaps = (0usize, 0usize);
    let mut failure = None;
    let mut logout_at: Option<Nanos> = None;
    let mut seen_disc = (0u64, 0u64);
    loop {
        // The one clock reading of this duty cycle: every agent and the report use it.
        let now = clock.now();
        {
            let mut agents: [&mut dyn Agent; 8] = [
                &mut i.io,
                &mut a.io,
                &mut a.seq,
                &mut a.session,
                &mut a.app,
                &mut i.seq,
                &mut i.session,
                &mut i.app,
            ];
            cycle_at(&mut agents, now);
        }
        if let Some(e) = a.io.fatal().or(i.io.fatal()) {
            failure = Some(format!("transport failed: {e}"));
            break;
        }
        if opts.verbose {
            i.io.connector_mut()
                .take_events(|e| print_fault("initiator", e));
            a.io.connector_mut()
                .take_events(|e| print_fault("acceptor", e));
            if let Some(l) = i.io.link_mut() {
                l.take_events(|e| print_fault("initiator", e));
            }
            if let Some(l) = a.io.link_mut() {
                l.take_events(|e| print_fault("acceptor", e));
            }
            printed_gaps.0 = print_gaps("initiator", &i.session.gaps().0[printed_gaps.0..], &clock)
                + printed_gaps.0;
            printed_gaps.1 = print_gaps("acceptor", &a.session.gaps().0[printed_gaps.1..], &clock)
                + printed_gaps.1;
            for (side, d, seen, why) in [
                (
                    "initiator",
                    i.io.stats.disconnects,
                    &mut seen_disc.0,
                    i.session.last_disconnect(),
                ),
                (
                    "acceptor",
                    a.io.stats.disconnects,
                    &mut seen_disc.1,
                    a.session.last_disconnect(),
                ),
            ] {
                if d > *seen && logout_at.is_none() {
                    *seen = d;
                    println!(
                        "  {side}: connection closed ({}); reconnecting",
                        why.map_or("by the peer or the link", |r| r.describe())
                    );
                }
            }
            if now >= next_print {
                next_print += 1_000_000_000;
                let l = i.app.logic();
                println!(
                    "  t={:>5.1}s sent {:>6}  acked {:>6}  acceptor got {:>6}  reconnects {}",
                    (now - start) as f64 / 1e9,
                    l.sent,
                    l.acked,
                    a.app.logic().orders,
                    i.io.stats.connects.saturating_sub(1)
                );
            }
        }
        let done = i.app.logic().complete()
            && a.app.logic().orders >= u64::from(opts.orders)
            && i.session.gaps().1.is_none()
            && a.session.gaps().1.is_none();
        match logout_at {
            None if done => {
                logout_at = Some(now);
                i.session.logout(now, "demo complete");
                i.io.stop_connecting();
                a.io.stop_connecting();
            }
            Some(t)
                if (!i.session.is_connected() && !a.session.is_connected())
                    || now > t + 3_000_000_000 =>
            {
                break
            }
            _ => {}
        }
        if now > deadline {
            failure = Some(format!(
                "timed out after {:?}: sent {}, acked {}, acceptor received {}",
                opts.timeout,
                i.app.logic().sent,
                i.app.logic().acked,
                a.app.logic().orders
            ));
            break;
        }
    }
    for ag in [
        &mut i.io as &mut dyn Agent,
        &mut a.io,
        &mut i.session,
        &mut a.session,
    ] {
        ag.on_close();
    }
    let l = i.app.logic();
    let e = a.app.logic();
    let mut faults = a.io.connector().closed_stats;
    let fi = i.io.connector().closed_stats;
    for (x, y) in [
        (&mut faults.messages, fi.messages),
        (&mut faults.dropped, fi.dropped),
        (&mut faults.duplicated, fi.duplicated),
        (&mut faults.reordered, fi.reordered),
        (&mut faults.delayed, fi.delayed),
        (&mut faults.cuts, fi.cuts),
    ] {
        *x += y;
    }
    for link in [
        a.io.link().map(|t| t.stats()),
        i.io.link().map(|t| t.stats()),
    ]
    .into_iter()
    .flatten()
    {
        faults.messages += link.messages;
        faults.dropped += link.dropped;
        faults.duplicated += link.duplicated;
        faults.reordered += link.reordered;
        faults.delayed += link.delayed;
        faults.cuts += link.cuts;
    }
    let anomalies = l.anomalies
        + e.anomalies
        + a.session.deliver_overflows()
        + i.session.deliver_overflows()
        + a.seq.stats.overflows
        + i.seq.stats.overflows;
    if failure.is_none() {
        if l.acked != opts.orders || l.sent != opts.orders {
            failure = Some(format!(
                "initiator: {} of {} orders acknowledged",
                l.acked, opts.orders
            ));
        } else if e.orders != u64::from(opts.orders) || e.next_order != opts.orders + 1 {
            failure = Some(format!(
                "acceptor: received {} orders, next expected O{} (want {} and O{})",
                e.orders,
                e.next_order,
                opts.orders,
                opts.orders + 1
            ));
        } else if anomalies > 0 {
            failure = Some(format!("{anomalies} messages out of sequence or lost"));
        }
    }
    let report = DemoReport {
        transport,
        sequencer: a.seq.sequencer_name(),
        sent: l.sent,
        acked: l.acked,
        orders_received: e.orders,
        anomalies,
        initiator_gaps: i.session.gaps().0.to_vec(),
        acceptor_gaps: a.session.gaps().0.to_vec(),
        faults,
        reconnects: i.io.stats.connects.saturating_sub(1),
        ok: failure.is_none(),
        failure,
    };
    if opts.verbose {
        print_report(&report, &i, &a, &clock, start);
    }
    report
}

fn print_fault(side: &str, e: &FaultEvent) {
    println!(
        "  fault: {side} {} MsgSeqNum {}: {}",
        if e.dir == Direction::Tx {
            "sends"
        } else {
            "receives"
        },
        e.seq,
        match e.action {
            Action::Drop => "dropped".to_string(),
            Action::Duplicate => "duplicated".to_string(),
            Action::Reorder(n) => format!("moved {n} messages later"),
            Action::Delay(ns) => format!("delayed {} us", ns / 1000),
            Action::Cut => "connection cut before it".to_string(),
        }
    );
}

fn print_gaps(side: &str, gaps: &[GapRecord], clock: &Clock) -> usize {
    for g in gaps {
        let took = g.recovered - g.detected;
        println!(
            "  {side}: gap at MsgSeqNum {}{} detected at t={:.3}s, {}",
            g.first,
            if g.highest > g.first {
                format!(" (held up to {})", g.highest)
            } else {
                String::new()
            },
            clock.since_start(g.detected) as f64 / 1e9,
            if took == 0 {
                "filled within the same duty cycle".to_string()
            } else {
                format!("recovered in {:.1} us", took as f64 / 1e3)
            }
        );
    }
    gaps.len()
}

fn hist_line(name: &str, h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return format!("  {name:<34} (no samples)");
    }
    format!(
        "  {name:<34} n={:<6} p50={:>8.1}us p90={:>8.1}us p99={:>8.1}us p99.9={:>8.1}us max={:>8.1}us",
        h.len(),
        h.value_at_quantile(0.5) as f64 / 1e3,
        h.value_at_quantile(0.9) as f64 / 1e3,
        h.value_at_quantile(0.99) as f64 / 1e3,
        h.value_at_quantile(0.999) as f64 / 1e3,
        h.max() as f64 / 1e3
    )
}

fn print_report<CA: Connector, CI: Connector>(
    r: &DemoReport,
    i: &Side<CI, LoadApp>,
    a: &Side<CA, EchoApp>,
    clock: &Clock,
    start: Nanos,
) {
    let l = i.app.logic();
    let secs = (l.last_ack_at.saturating_sub(l.started_at)) as f64 / 1e9;
    println!();
    println!(
        "transport: {} (fault injection around it), sequencer: {}, one thread for all 8 agents",
        r.transport, r.sequencer
    );
    println!(
        "faults injected: {} dropped, {} duplicated, {} reordered, {} delayed, {} connection cut(s) over {} messages",
        r.faults.dropped, r.faults.duplicated, r.faults.reordered, r.faults.delayed, r.faults.cuts, r.faults.messages
    );
    println!(
        "gaps recovered: initiator {} (ExecutionReports), acceptor {} (orders); reconnects {}",
        r.initiator_gaps.len(),
        r.acceptor_gaps.len(),
        r.reconnects
    );
    println!("latency ({} orders in {:.2}s):", l.acked, secs);
    println!("{}", hist_line("round trip order -> report", &l.rtt));
    println!(
        "{}",
        hist_line(
            "internal (socket rx -> app delivery; one clock reading per round, so 0 = same round)",
            &l.internal,
        )
    );
    for (name, s) in [
        ("initiator", &i.session.stats),
        ("acceptor", &a.session.stats),
    ] {
        println!(
            "session {name:<9}: received {} messages, app sent {}, gaps {}, dups {}, resend requests {}, resends served {} ({} msgs), logons {}, disconnects {}",
            s.received, s.app_sent, s.gap_events, s.duplicates, s.resend_requests, s.resends_served, s.resent, s.logons, s.disconnects
        );
    }
    let _ = clock;
    let _ = start;
    if r.ok {
        println!(
            "OK: all {} orders and {} reports arrived exactly once and in order",
            r.orders_received, r.acked
        );
    } else {
        println!("FAILED: {}", r.failure.as_deref().unwrap_or("?"));
    }
    let _ = std::io::stdout().flush();
}
