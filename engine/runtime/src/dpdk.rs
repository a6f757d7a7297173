//! `Transport=dpdk`: connectors over fixdpdk's user-space TCP stack (smoltcp) on a DPDK port.
//!
//! [`acceptor`] and [`initiator`] bring the port up from a session's `Dpdk*` settings
//! (`fixdpdk::DpdkSettings`: EAL arguments, device, mbuf pool, rings, IP/MAC/gateway, TCP
//! buffers) plus its `SocketAcceptPort` or `SocketConnectHost`/`SocketConnectPort`, and return
//! [`crate::connect::Connector`]s for the IO agent:
//!
//! * the acceptor listens and hands out one connection at a time, holding one more that
//!   connects meanwhile until the current one ends (a backlog of one);
//! * the initiator connects, retries every `ReconnectInterval` after a failed attempt and
//!   reconnects at once after a connection ends.
//!
//! The EAL initialises once per process (a second session with other EAL arguments is an
//! error). `rte_eal_init` pins the calling thread to the first core of `DpdkLcores`: call these
//! functions on the thread that will run the IO agent (in shared mode, the thread that runs all
//! agents). The stack is built here, so configuration errors appear before any agent starts.

use crate::clock::{Clock, Nanos};
use crate::transport::tcpstack::{StackAcceptor, StackInitiator};
use fixdpdk::device::DpdkDevice;
use fixdpdk::{DpdkSettings, DpdkStack};
use fixsession::settings::SessionSettings;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// Accepts FIX connections on a DPDK port (one at a time; listens again after each).
pub type DpdkAcceptor = StackAcceptor<DpdkDevice>;

/// Connects to a FIX acceptor over a DPDK port (with retry and reconnect).
pub type DpdkInitiator = StackInitiator<DpdkDevice>;

/// How long one connection attempt may wait for the handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The session's `Dpdk*` settings, checked by fixdpdk (errors name the session and the key).
pub fn dpdk_settings(s: &SessionSettings) -> Result<DpdkSettings, String> {
    DpdkSettings::from_pairs(s.dpdk.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| format!("{}: {e}", s.session_key()))
}

/// Initialises the EAL and opens the port and stack of `ds`. Returns the stack and the time it
/// was opened at, on the engine clock ([`Clock::now`], Unix-epoch nanoseconds).
pub fn open_stack(key: &str, ds: &DpdkSettings) -> Result<(DpdkStack, Nanos), String> {
    let mut ds = ds.clone();
    let now = Clock::new().now();
    // Initial TCP sequence numbers must differ between runs (a restarted engine reconnecting
    // from the same port must not look like the old connection).
    ds.stack.random_seed ^= now ^ (u64::from(std::process::id()) << 32);
    // Likewise the first local port of an initiator: a restarted engine must not reuse the
    // 4-tuple of its previous connection, which the peer may still hold open.
    let (lo, hi) = ds.stack.ephemeral_ports;
    if hi > lo {
        let span = u64::from(hi - lo) / 2;
        ds.stack.ephemeral_ports.0 = lo + (ds.stack.random_seed % span.max(1)) as u16;
    }
    let stack = ds
        .open(now)
        .map_err(|e| format!("{key}: DPDK device {}: {e}", ds.device))?;
    Ok((stack, now))
}

/// Builds the acceptor of session `s` from its `Dpdk*` settings and `SocketAcceptPort`
/// (`SocketAcceptAddress`, if set, must be `0.0.0.0` or `DpdkLocalIP`'s address).
pub fn acceptor(s: &SessionSettings) -> Result<DpdkAcceptor, String> {
    let key = s.session_key();
    let ds = dpdk_settings(s)?;
    let port = s
        .socket_accept_port
        .ok_or_else(|| format!("{key}: acceptor session without SocketAcceptPort"))?;
    if let Some(a) = s.socket_accept_address.as_deref() {
        let ok = a
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| ip.is_unspecified() || ip == ds.stack.ip);
        if !ok {
            return Err(format!(
                "{key}: SocketAcceptAddress={a} with Transport=dpdk must be 0.0.0.0 or \
                 DpdkLocalIP's address {}",
                ds.stack.ip
            ));
        }
    }
    let (stack, now) = open_stack(&key, &ds)?;
    StackAcceptor::new(stack, port, now).map_err(|e| format!("{key}: {e}"))
}

/// Builds the initiator of session `s` from its `Dpdk*` settings, `SocketConnectHost` (an IPv4
/// address: the user-space stack does no DNS), `SocketConnectPort` and `ReconnectInterval`.
pub fn initiator(s: &SessionSettings) -> Result<DpdkInitiator, String> {
    let key = s.session_key();
    let ds = dpdk_settings(s)?;
    let host = s
        .socket_connect_host
        .as_deref()
        .ok_or_else(|| format!("{key}: initiator session without SocketConnectHost"))?;
    let port = s
        .socket_connect_port
        .ok_or_else(|| format!("{key}: initiator session without SocketConnectPort"))?;
    let ip: Ipv4Addr = host.parse().map_err(|_| {
        format!(
            "{key}: SocketConnectHost={host} must be an IPv4 address with Transport=dpdk \
             (the user-space TCP stack does no DNS)"
        )
    })?;
    let (stack, now) = open_stack(&key, &ds)?;
    Ok(StackInitiator::new(
        stack,
        SocketAddrV4::new(ip, port),
        Duration::from_secs(u64::from(s.reconnect_interval.max(1))),
        CONNECT_TIMEOUT,
        now,
    ))
}

pub mod peer {
    //! A complete FIX engine process for tests and benchmarks of `Transport=dpdk`: one session
    //! from a settings file (`Transport=dpdk` or `io_uring`, acceptor or initiator), the full
    //! pipeline (IO, sequencer, session, application agents) in shared mode on one thread, the
    //! echo or the load application, optional fault injection, an optional in-process restart
    //! from the `MmapStore`, and a one-line verdict:
    //!
    //! ```text
    //! OK load role=initiator transport=dpdk acked=2000 anomalies=0 connects=2 gaps=3 ...
    //! FAIL ...
    //! ```
    //!
    //! Run by `examples/dpdk_peer.rs`, by `tests/dpdk_engine.rs` (in child processes, since the
    //! EAL initialises once per process) and by `scripts/bench-dpdk.sh`.

    use super::{acceptor, initiator, DpdkInitiator};
    use crate::agent::Agent;
    use crate::apps::{EchoApp, LoadApp};
    use crate::clock::{Clock, Nanos};
    use crate::connect::{Connector, FaultConnector, UringAcceptor, UringInitiator};
    use crate::pipeline::{pipeline, AppLogic, AppOut, Delivery, Pipeline, RingSizes};
    use crate::runner::cycle;
    use crate::transport::fault::{Action, Direction, Fault, FaultStats, Select};
    use crate::transport::framing::{field, msg_type};
    use crate::transport::tcpstack::StackInitiator;
    use crate::transport::uring::UringOptions;
    use fixsession::settings::{ConnectionType, SessionSettings, Settings};
    use fixsession::store::{MessageStore, MmapStore};
    use fixsession::SessionConfig;
    use std::net::ToSocketAddrs;
    use std::path::PathBuf;
    use std::time::Duration;

    /// Which application the peer runs.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum PeerApp {
        /// Answers orders; done when `expect` orders arrived and the peer logged out.
        Echo {
            /// Orders to expect.
            expect: u32,
        },
        /// Sends `orders` NewOrderSingles with at most `window` unanswered; logs out when every
        /// report arrived.
        Load {
            /// Orders to send.
            orders: u32,
            /// Most orders awaiting their report (1 = ping-pong, for latency).
            window: u32,
            /// Round trips not recorded at the start (warm-up).
            warmup: u32,
        },
    }

    /// Options of one peer process.
    #[derive(Clone, Debug)]
    pub struct PeerOptions {
        /// Settings file (one session of the chosen role is used; `FileStorePath` is required).
        pub config: PathBuf,
        /// The application.
        pub app: PeerApp,
        /// Inject FIX-level faults (drops, a reorder, a delay and a cut) on this side's sends.
        pub faults: bool,
        /// Load, `Transport=dpdk` initiator only: after this many reports, stop, close the
        /// connection, drop the whole pipeline and build a new one from the `MmapStore` on the
        /// same DPDK port, and continue.
        pub restart_at: Option<u32>,
        /// Load: write the round-trip histogram here (HdrHistogram percentile text, `.hgrm`).
        pub hgrm: Option<PathBuf>,
        /// Load: print `PROGRESS acked=K` (flushed) once this many reports have arrived, and go
        /// on (a test kills the process at that point).
        pub progress_at: Option<u32>,
        /// Load: this process replaces one that crashed: continue after the last order in the
        /// `MmapStore`, and take the first report that arrives as the point from which reports
        /// must be contiguous (reports the crashed process had received are not delivered again).
        pub resume: bool,
        /// Give up after this long.
        pub timeout: Duration,
    }

    /// Parses `--config FILE --app echo|load [--orders N] [--expect N] [--window W]
    /// [--warmup W] [--faults] [--restart-at K] [--progress-at K] [--resume] [--hgrm FILE]
    /// [--timeout SECS]`.
    pub fn parse_args(args: &[String]) -> Result<PeerOptions, String> {
        let get = |name: &str| -> Option<&str> {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .map(String::as_str)
        };
        let num = |name: &str, default: u32| -> Result<u32, String> {
            get(name).map_or(Ok(default), |v| {
                v.parse().map_err(|_| format!("{name} {v}: not a number"))
            })
        };
        let config = PathBuf::from(get("--config").ok_or("--config FILE is required")?);
        let app = match get("--app") {
            Some("echo") => PeerApp::Echo {
                expect: num("--expect", 0)?,
            },
            Some("load") => PeerApp::Load {
                orders: num("--orders", 1000)?,
                window: num("--window", 64)?.max(1),
                warmup: num("--warmup", 0)?,
            },
            other => return Err(format!("--app {other:?}: expected echo or load")),
        };
        let opt_num = |name: &str| -> Result<Option<u32>, String> {
            get(name)
                .map(|v| v.parse().map_err(|_| format!("{name} {v}: not a number")))
                .transpose()
        };
        let restart_at = opt_num("--restart-at")?;
        let progress_at = opt_num("--progress-at")?;
        Ok(PeerOptions {
            config,
            app,
            faults: args.iter().any(|a| a == "--faults"),
            restart_at,
            hgrm: get("--hgrm").map(PathBuf::from),
            progress_at,
            resume: args.iter().any(|a| a == "--resume"),
            timeout: Duration::from_secs(u64::from(num("--timeout", 60)?)),
        })
    }

    /// Fault plans for this side's sends, per connection: drops, a reorder and a delay on the
    /// first connection, which is then cut; drops on the next two.
    fn plans(role: ConnectionType) -> Vec<Vec<Fault>> {
        let tx = |n: u32, a: Action| Fault::new(Direction::Tx, Select::Seq(n), a);
        match role {
            ConnectionType::Initiator => vec![
                vec![
                    tx(30, Action::Drop),
                    tx(45, Action::Reorder(1)),
                    tx(80, Action::Drop),
                    tx(81, Action::Drop),
                    tx(120, Action::Delay(20_000)),
                    tx(400, Action::Cut),
                ],
                vec![tx(700, Action::Drop)],
                vec![tx(1200, Action::Drop)],
            ],
            ConnectionType::Acceptor => vec![
                vec![
                    tx(25, Action::Drop),
                    tx(26, Action::Drop),
                    tx(60, Action::Reorder(1)),
                    tx(200, Action::Drop),
                ],
                vec![tx(900, Action::Drop)],
                vec![tx(1500, Action::Drop)],
            ],
        }
    }

    /// Runs one peer; `Ok` carries the `OK ...` line, `Err` the reason for failure.
    pub fn run(o: &PeerOptions) -> Result<String, String> {
        let settings = Settings::load(&o.config).map_err(|e| e.to_string())?;
        let s = settings
            .sessions
            .first()
            .cloned()
            .ok_or_else(|| format!("{}: no session", o.config.display()))?;
        if s.file_store_path.is_none() {
            return Err("the peer needs FileStorePath (it runs on an MmapStore)".into());
        }
        let transport = s.transport.clone();
        match (transport.as_str(), s.connection_type) {
            ("dpdk", ConnectionType::Acceptor) => with_faults(acceptor(&s)?, &s, o),
            ("dpdk", ConnectionType::Initiator) => {
                let c = initiator(&s)?;
                match (o.restart_at, &o.app) {
                    (Some(k), PeerApp::Load { .. }) if !o.faults => restart_run(c, &s, o, k),
                    (Some(_), _) => {
                        Err("--restart-at needs --app load and no --faults".to_string())
                    }
                    (None, _) => with_faults(c, &s, o),
                }
            }
            ("io_uring", ConnectionType::Acceptor) => {
                let port = s.socket_accept_port.ok_or("no SocketAcceptPort")?;
                let host = s.socket_accept_address.as_deref().unwrap_or("0.0.0.0");
                let addr = (host, port)
                    .to_socket_addrs()
                    .map_err(|e| format!("{host}:{port}: {e}"))?
                    .next()
                    .ok_or("no address")?;
                let c = UringAcceptor::bind(addr, UringOptions::default())
                    .map_err(|e| e.to_string())?;
                with_faults(c, &s, o)
            }
            ("io_uring", ConnectionType::Initiator) => {
                let host = s
                    .socket_connect_host
                    .as_deref()
                    .ok_or("no SocketConnectHost")?;
                let port = s.socket_connect_port.ok_or("no SocketConnectPort")?;
                let addr = (host, port)
                    .to_socket_addrs()
                    .map_err(|e| format!("{host}:{port}: {e}"))?
                    .next()
                    .ok_or("no address")?;
                let c =
                    UringInitiator::new(addr, UringOptions::default(), Duration::from_millis(100));
                with_faults(c, &s, o)
            }
            (t, _) => Err(format!("Transport={t}: the peer runs dpdk or io_uring")),
        }
    }

    fn store(s: &SessionSettings) -> Result<MmapStore, String> {
        let dir = s.file_store_path.as_ref().ok_or("no FileStorePath")?;
        MmapStore::open(dir, &s.session_key(), s.store_config())
            .map_err(|e| format!("message store: {e}"))
    }

    fn config(s: &SessionSettings) -> SessionConfig {
        SessionConfig::from_settings(s)
    }

    fn with_faults<C: Connector>(
        c: C,
        s: &SessionSettings,
        o: &PeerOptions,
    ) -> Result<String, String> {
        let plans = if o.faults {
            plans(s.connection_type)
        } else {
            Vec::new()
        };
        let c = FaultConnector::new(c, plans, s.max_message_size);
        let key = s.session_key();
        let clock = Clock::new();
        let deadline = clock.now() + o.timeout.as_nanos() as Nanos;
        match o.app {
            PeerApp::Echo { expect } => {
                let mut p = pipeline(
                    &key,
                    config(s),
                    c,
                    store(s)?,
                    EchoApp::new(),
                    RingSizes::default(),
                );
                let r = run_echo(&mut p, expect, &clock, deadline);
                let f = p.io.connector().closed_stats;
                r.map(|l| format!("{l} {}", faults_text(f)))
            }
            PeerApp::Load {
                orders,
                window,
                warmup,
            } => {
                let mut l = LoadApp::new(orders, 0);
                l.window = window;
                let st = store(s)?;
                if o.resume {
                    let last = last_order_sent(&st)?;
                    l.sent = last;
                    l.acked = last;
                    let r = ResumedLoad {
                        inner: l,
                        first_report: None,
                    };
                    let mut p = pipeline(&key, config(s), c, st, r, RingSizes::default());
                    run_load(&mut p, warmup, o.progress_at, |_| false, &clock, deadline)?;
                    let line = finish_load(&mut p, &clock, o, s)?;
                    let first = p.app.logic().first_report.unwrap_or(0);
                    return Ok(format!(
                        "{line} resumed_after_order={last} first_report_after_resume={first}"
                    ));
                }
                let mut p = pipeline(&key, config(s), c, st, l, RingSizes::default());
                run_load(&mut p, warmup, o.progress_at, |_| false, &clock, deadline)?;
                let line = finish_load(&mut p, &clock, o, s)?;
                let f = p.io.connector().closed_stats;
                Ok(format!("{line} {}", faults_text(f)))
            }
        }
    }

    /// The load application, plain or resumed.
    trait Loader: AppLogic {
        fn load(&self) -> &LoadApp;
        fn load_mut(&mut self) -> &mut LoadApp;
    }

    impl Loader for LoadApp {
        fn load(&self) -> &LoadApp {
            self
        }
        fn load_mut(&mut self) -> &mut LoadApp {
            self
        }
    }

    /// [`LoadApp`] in a process that replaces a crashed one: reports the crashed process had
    /// already received are not delivered again, so the first report that arrives sets the point
    /// from which reports must be contiguous, exactly once and in order, up to the last order.
    pub struct ResumedLoad {
        /// The load application (its `sent` starts at the last order in the store).
        pub inner: LoadApp,
        /// Order number of the first report after the restart.
        pub first_report: Option<u32>,
    }

    impl AppLogic for ResumedLoad {
        fn on_message(&mut self, now: Nanos, msg: &[u8], d: &Delivery, out: &mut AppOut<'_>) {
            if self.first_report.is_none() && msg_type(msg) == Some(b"8") {
                if let Some(n) = field(msg, 11).and_then(order_no) {
                    self.first_report = Some(n);
                    self.inner.acked = n.saturating_sub(1).min(self.inner.sent);
                }
            }
            self.inner.on_message(now, msg, d, out);
        }
        fn on_logon(&mut self, now: Nanos) {
            self.inner.on_logon(now);
        }
        fn on_logout(&mut self, now: Nanos) {
            self.inner.on_logout(now);
        }
        fn poll(&mut self, now: Nanos, logged_on: bool, out: &mut AppOut<'_>) -> usize {
            self.inner.poll(now, logged_on, out)
        }
        fn is_done(&self) -> bool {
            self.inner.is_done()
        }
    }

    impl Loader for ResumedLoad {
        fn load(&self) -> &LoadApp {
            &self.inner
        }
        fn load_mut(&mut self) -> &mut LoadApp {
            &mut self.inner
        }
    }

    /// `O<n>` -> n.
    fn order_no(id: &[u8]) -> Option<u32> {
        let d = id.strip_prefix(b"O")?;
        if d.is_empty() || d.len() > 9 || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    }

    /// The highest order number among the NewOrderSingles journaled in `st` (0 if none).
    fn last_order_sent(st: &MmapStore) -> Result<u32, String> {
        let mut last = 0;
        st.for_each_in_range(1, st.last_stored_seq(), &mut |_, m| {
            if msg_type(m) == Some(b"D") {
                if let Some(n) = field(m, 11).and_then(order_no) {
                    last = last.max(n);
                }
            }
            true
        })
        .map_err(|e| format!("reading the store: {e}"))?;
        Ok(last)
    }

    fn faults_text(f: FaultStats) -> String {
        format!(
            "dropped={} reordered={} delayed={} cuts={}",
            f.dropped, f.reordered, f.delayed, f.cuts
        )
    }

    fn step<C: Connector, L: AppLogic>(
        p: &mut Pipeline<C, MmapStore, L>,
        clock: &Clock,
    ) -> Result<Nanos, String> {
        {
            let mut agents: [&mut dyn Agent; 4] =
                [&mut p.io, &mut p.seq, &mut p.session, &mut p.app];
            cycle(&mut agents, clock);
        }
        if let Some(e) = p.io.fatal() {
            return Err(format!("transport failed: {e}"));
        }
        Ok(clock.now())
    }

    fn counters<C: Connector, L: AppLogic>(p: &Pipeline<C, MmapStore, L>) -> String {
        let st = p.session.stats;
        format!(
            "connects={} gaps={} resend_requests={} resent={} received={} logons={}",
            p.io.stats.connects,
            p.session.gaps().0.len(),
            st.resend_requests,
            st.resent,
            st.received,
            st.logons
        )
    }

    fn run_echo<C: Connector>(
        p: &mut Pipeline<C, MmapStore, EchoApp>,
        expect: u32,
        clock: &Clock,
        deadline: Nanos,
    ) -> Result<String, String> {
        let mut was_connected = false;
        loop {
            let now = step(p, clock)?;
            let connected = p.session.is_connected();
            was_connected |= connected;
            let e = p.app.logic();
            if e.orders >= u64::from(expect) && was_connected && !connected && p.app.idle() {
                p.io.stop_connecting();
                break;
            }
            if now > deadline {
                return Err(format!(
                    "timed out: echo got {} of {expect} orders (anomalies {}); {}",
                    e.orders,
                    e.anomalies,
                    counters(p)
                ));
            }
        }
        p.io.on_close();
        p.session.on_close();
        let e = p.app.logic();
        let line = format!(
            "echo orders={} next_order={} anomalies={} answer_failures={} {}",
            e.orders,
            e.next_order,
            e.anomalies,
            e.answer_failures,
            counters(p)
        );
        if e.orders != u64::from(expect) || e.anomalies != 0 {
            return Err(line);
        }
        Ok(line)
    }

    /// Runs until every report arrived and no gap is open, or `stop_early` says so.
    fn run_load<C: Connector, L: Loader>(
        p: &mut Pipeline<C, MmapStore, L>,
        warmup: u32,
        progress_at: Option<u32>,
        stop_early: impl Fn(&LoadApp) -> bool,
        clock: &Clock,
        deadline: Nanos,
    ) -> Result<(), String> {
        let mut warm = warmup == 0;
        let mut progress = progress_at;
        loop {
            let now = step(p, clock)?;
            if !warm && p.app.logic().load().acked >= warmup {
                warm = true;
                let l = p.app.logic_mut().load_mut();
                l.rtt.reset();
                l.internal.reset();
            }
            let l = p.app.logic().load();
            if let Some(k) = progress {
                if l.acked >= k {
                    progress = None;
                    println!("PROGRESS acked={}", l.acked);
                    use std::io::Write;
                    let _ = std::io::stdout().flush();
                }
            }
            if stop_early(l) {
                return Ok(());
            }
            if l.complete() && p.session.gaps().1.is_none() {
                return Ok(());
            }
            if now > deadline {
                return Err(format!(
                    "timed out: {} sent, {} acknowledged (anomalies {}); {}",
                    l.sent,
                    l.acked,
                    l.anomalies,
                    counters(p)
                ));
            }
        }
    }

    fn finish_load<C: Connector, L: Loader>(
        p: &mut Pipeline<C, MmapStore, L>,
        clock: &Clock,
        o: &PeerOptions,
        s: &SessionSettings,
    ) -> Result<String, String> {
        let t = clock.now();
        p.session.logout(t, "done");
        p.io.stop_connecting();
        loop {
            let now = step(p, clock)?;
            if !p.session.is_connected() || now > t + 3_000_000_000 {
                break;
            }
        }
        p.io.on_close();
        p.session.on_close();
        let l = p.app.logic().load();
        let h = &l.rtt;
        let mut line = format!(
            "load role={} transport={} acked={} sent={} anomalies={} {}",
            match s.connection_type {
                ConnectionType::Acceptor => "acceptor",
                ConnectionType::Initiator => "initiator",
            },
            s.transport,
            l.acked,
            l.sent,
            l.anomalies,
            counters(p)
        );
        if !h.is_empty() {
            line += &format!(
                " rtt_ns p50={} p90={} p99={} p99.9={} max={} n={}",
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.9),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
                h.len()
            );
        }
        if let Some(path) = &o.hgrm {
            std::fs::write(path, fixhgrm::hgrm(h, 1e3))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if l.acked != l.count || l.anomalies != 0 {
            return Err(line);
        }
        Ok(line)
    }

    /// Load over a DPDK initiator with an in-process restart after `k` reports: the pipeline
    /// (sequencer, session, application state, store mapping) is dropped and rebuilt from the
    /// `MmapStore`; the DPDK port and its TCP stack carry over (the EAL initialises once).
    fn restart_run(
        c: DpdkInitiator,
        s: &SessionSettings,
        o: &PeerOptions,
        k: u32,
    ) -> Result<String, String> {
        let PeerApp::Load {
            orders,
            window,
            warmup,
        } = o.app
        else {
            return Err("--restart-at needs --app load".into());
        };
        let key = s.session_key();
        let clock = Clock::new();
        let deadline = clock.now() + o.timeout.as_nanos() as Nanos;
        let mut l = LoadApp::new(orders, 0);
        l.window = window;
        let mut p = pipeline(&key, config(s), c, store(s)?, l, RingSizes::default());
        run_load(&mut p, warmup, None, |l| l.acked >= k, &clock, deadline)?;
        // Stop generating, let queued sends reach the session's journal, then close.
        p.app.logic_mut().paused = true;
        while !p.session.app_queue_empty() {
            step(&mut p, &clock)?;
        }
        p.io.stop_connecting();
        if let Some(t) = p.io.link_mut() {
            crate::Transport::close(t);
        }
        while p.session.is_connected() || !p.app.idle() || p.io.link().is_some() {
            let now = step(&mut p, &clock)?;
            if now > deadline {
                return Err("restart: teardown stalled".into());
            }
        }
        // Let the FIN exchange finish before the stack moves on.
        while p.io.connector_mut().drive_closing(clock.now()) > 0 {
            if clock.now() > deadline {
                break;
            }
        }
        let sent_before = p.session.session().next_sender_seq();
        let retry = Duration::from_millis(100);
        let remote = p.io.connector().remote();
        let stack =
            p.io.connector_mut()
                .take_stack()
                .ok_or("restart: the stack is still held by a connection")?;
        let Pipeline {
            io,
            seq,
            session,
            app,
        } = p;
        let logic = app.into_logic();
        let (acked_before, sent_orders) = (logic.acked, logic.sent);
        drop((io, seq, session));

        // A new process state from the same store directory, on the same port.
        let c = StackInitiator::new(stack, remote, retry, super::CONNECT_TIMEOUT, clock.now());
        let mut p = pipeline(
            &key,
            config(s),
            c,
            store(s)?,
            LoadApp::resume(logic),
            RingSizes::default(),
        );
        let recovered = p.session.session().next_sender_seq();
        if recovered != sent_before {
            return Err(format!(
                "restart: store gave next sender seq {recovered}, expected {sent_before}"
            ));
        }
        run_load(&mut p, 0, None, |_| false, &clock, deadline)?;
        let line = finish_load(&mut p, &clock, o, s)?;
        Ok(format!(
            "{line} restarted_after_acked={acked_before} sent_before_restart={sent_orders} \
             next_sender_seq_recovered={recovered}"
        ))
    }

    /// Entry point of `examples/dpdk_peer.rs` and of the test children: parses `args`, runs,
    /// prints the verdict line; returns the process exit code.
    pub fn main_with(args: &[String]) -> i32 {
        let o = match parse_args(args) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("usage error: {e}");
                return 2;
            }
        };
        match run(&o) {
            Ok(line) => {
                println!("OK {line}");
                0
            }
            Err(e) => {
                println!("FAIL {e}");
                1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixsession::settings::Settings;

    #[test]
    fn connectors_and_links_can_move_to_the_io_thread() {
        fn send<T: Send>() {}
        send::<DpdkAcceptor>();
        send::<DpdkInitiator>();
        send::<crate::transport::tcpstack::StackLink<DpdkDevice>>();
    }

    #[test]
    fn session_keys_match_fixdpdk() {
        assert_eq!(
            fixsession::settings::DPDK_KEYS,
            fixdpdk::settings::KEYS,
            "fixsession's DPDK_KEYS and fixdpdk's KEYS must list the same keys"
        );
    }

    #[test]
    fn every_dpdk_key_is_documented_in_settings_md() {
        let docs = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/settings.md"
        ))
        .expect("docs/settings.md");
        for k in fixdpdk::settings::KEYS {
            assert!(
                docs.contains(&format!("| `{k}` (engine) |")),
                "{k} is not in docs/settings.md's DPDK table"
            );
        }
    }

    fn session(extra: &str) -> SessionSettings {
        Settings::parse(&format!(
            "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\nTransport=dpdk\n\
             DpdkDevice=net_memif0,role=server,socket=/run/x.sock\nDpdkNoHuge=Y\n\
             DpdkLocalIP=10.0.0.1/24\n{extra}[SESSION]\n"
        ))
        .unwrap()
        .sessions
        .remove(0)
    }

    #[test]
    fn settings_errors_name_the_session_and_the_key_before_touching_dpdk() {
        let s = session("ConnectionType=acceptor\nSocketAcceptPort=9878\nDpdkMtu=big\n");
        let e = acceptor(&s).err().unwrap();
        assert!(
            e.contains("FIX.4.4:S->T") && e.contains("DpdkMtu=big"),
            "{e}"
        );
        let s = session(
            "ConnectionType=acceptor\nSocketAcceptPort=9878\nSocketAcceptAddress=10.0.0.2\n",
        );
        let e = acceptor(&s).err().unwrap();
        assert!(e.contains("SocketAcceptAddress=10.0.0.2"), "{e}");
        let s = session(
            "ConnectionType=initiator\nSocketConnectHost=exchange.example\nSocketConnectPort=1\n",
        );
        let e = initiator(&s).err().unwrap();
        assert!(e.contains("must be an IPv4 address"), "{e}");
        let s = Settings::parse(
            "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\n\
             ConnectionType=acceptor\nSocketAcceptPort=1\nDpdkLocalIP=10.0.0.1/24\n[SESSION]\n",
        )
        .unwrap()
        .sessions
        .remove(0);
        let e = acceptor(&s).err().unwrap();
        assert!(e.contains("DpdkDevice is required"), "{e}");
        let s =
            session("ConnectionType=initiator\nSocketConnectHost=10.0.0.2\nSocketConnectPort=1\n");
        let d = dpdk_settings(&s).unwrap();
        assert_eq!(d.device, "net_memif0");
        assert_eq!(d.stack.ip, Ipv4Addr::new(10, 0, 0, 1));
    }
}
