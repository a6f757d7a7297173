//! `fixeng acceptor|initiator --config FILE`: every session of that role in a QuickFIX-style
//! settings file (or the one `--session KEY` names), each with its own pipeline (IO, sequencer,
//! session and application agents), run over io_uring (or DPDK) with all agents of all sessions
//! on one thread (shared) or one pinned thread per agent (dedicated).
//!
//! Acceptor sessions that listen on the same address share one listening socket: a [`Router`]
//! hands each connection to the session its Logon names (BeginString, SenderCompID,
//! TargetCompID), as QuickFIX does; unknown CompIDs are closed without an answer.
//!
//! Ctrl-C (SIGINT/SIGTERM) logs every session out, waits for the Logout answers (3 s at most),
//! flushes every store and prints each session's counters.

use crate::agent::Agent;
use crate::apps::{EchoApp, LoadApp};
use crate::clock::{Clock, Nanos};
use crate::connect::{Connector, RouteKey, Router, UringInitiator};
use crate::idle::{AnyIdle, IdleStrategy};
use crate::pipeline::{
    pipeline_with_sequencer, sequencer_max_msg, sequencer_window, AppLogic, IoAgent, Pipeline,
    RingSizes, SessionAgent,
};
use crate::runner::StopFlag;
use crate::sys;
use crate::transport::uring::UringOptions;
use fixsession::settings::{ConnectionType, SessionSettings, Settings};
use fixsession::store::{MemoryStore, MessageStore, MmapStore};
use fixsession::SessionConfig;
use hwsim::sequencer::Sequencer;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which application to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// Answer orders with ExecutionReports.
    Echo,
    /// Send orders and measure round trips.
    Load {
        /// Orders per second (0 = unthrottled).
        rate: u64,
        /// Orders to send.
        count: u32,
    },
}

/// Options of `fixeng acceptor` / `fixeng initiator`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Settings file.
    pub config: PathBuf,
    /// Acceptor or initiator.
    pub role: ConnectionType,
    /// Session key (`BeginString:Sender->Target`): run only this session. `None`: every
    /// session of `role` in the file.
    pub session: Option<String>,
    /// The application (every session runs its own instance).
    pub app: AppKind,
    /// Idle strategy (`busy`, `yield`, `backoff`).
    pub idle: String,
    /// Lock memory (mlockall).
    pub mlock: bool,
    /// Dedicated threading mode: each agent on its own thread, pinned to these cores in turn
    /// (session 1's IO, sequencer, session, application, then session 2's, ...; round-robin
    /// over the list). `None`: shared mode (one thread for every agent of every session).
    pub dedicated: Option<Vec<usize>>,
    /// Transport for every session (`io_uring` or `dpdk`), overriding `Transport=` of the
    /// settings file. `None`: the file's.
    pub transport: Option<String>,
    /// Sequencer of every session (`fast`, `model`, `rtl`, `card:<path>`: see
    /// [`crate::seqsel`]), overriding `Sequencer=` of the settings file (`hwsim` = `fast`,
    /// `verilated` = `rtl`). `None`: the file's.
    pub sequencer: Option<String>,
}

/// Runs the sessions until Ctrl-C (or, for `load`, until every order of every session is
/// acknowledged). Returns a message for the user on error.
pub fn run(opts: &RunOptions) -> Result<(), String> {
    let settings = Settings::load(&opts.config).map_err(|e| e.to_string())?;
    let chosen: Vec<SessionSettings> = settings
        .sessions
        .iter()
        .filter(|s| {
            s.connection_type == opts.role
                && opts.session.as_ref().is_none_or(|k| *k == s.session_key())
        })
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "{}: no {} session{}",
            opts.config.display(),
            role_name(opts.role),
            opts.session
                .as_ref()
                .map_or(String::new(), |k| format!(" with key {k}"))
        ));
    }
    let idle = AnyIdle::parse(&opts.idle).ok_or_else(|| {
        format!(
            "unknown idle strategy {:?} (busy, yield, backoff)",
            opts.idle
        )
    })?;
    if opts.mlock {
        sys::mlockall().map_err(|e| format!("mlockall: {e}"))?;
    }
    sys::install_stop_handler().map_err(|e| format!("signal handler: {e}"))?;
    if chosen.len() > 1
        && opts
            .sequencer
            .as_deref()
            .is_some_and(|s| s.starts_with("card:"))
    {
        // Every session would open the card's map as its session 0.
        return Err(format!(
            "--sequencer card:PATH serves one session per process; the file has {} {} \
             sessions: choose one with --session KEY",
            chosen.len(),
            role_name(opts.role)
        ));
    }
    let mut routers: Vec<(SocketAddr, Router)> = Vec::new();
    let mut sessions: Vec<Box<dyn Running>> = Vec::new();
    for s in &chosen {
        let transport = opts.transport.as_deref().unwrap_or(&s.transport);
        let cfg = SessionConfig::from_settings(s);
        let seq = sequencer(s, &cfg, opts)?;
        let run = match (transport, s.connection_type) {
            ("io_uring", ConnectionType::Acceptor) => {
                let c = routed_acceptor(s, &chosen, &mut routers)?;
                build::<_, Sendable>(s, cfg, c, seq, opts)?
            }
            ("io_uring", ConnectionType::Initiator) => {
                let c = uring_initiator(s)?;
                build::<_, Sendable>(s, cfg, c, seq, opts)?
            }
            ("dpdk", _) => dpdk_session(s, cfg, seq, opts)?,
            (other, _) => {
                return Err(format!(
                    "{}: Transport={other} is not available in fixeng (io_uring, or dpdk in a \
                     build with `--features dpdk`; memory is for tests and the demo)",
                    s.session_key()
                ))
            }
        };
        sessions.push(run);
    }
    let routers: Vec<Router> = routers.into_iter().map(|(_, r)| r).collect();
    match &opts.dedicated {
        None => drive_shared(sessions, routers, idle),
        Some(cores) => drive_dedicated(sessions, routers, idle, cores),
    }
}

fn role_name(r: ConnectionType) -> &'static str {
    match r {
        ConnectionType::Acceptor => "acceptor",
        ConnectionType::Initiator => "initiator",
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}:{port} resolves to nothing"))
}

/// The connector of an io_uring acceptor session: one [`Router`] per listening address, shared
/// by every session of the file that listens there.
fn routed_acceptor(
    s: &SessionSettings,
    all: &[SessionSettings],
    routers: &mut Vec<(SocketAddr, Router)>,
) -> Result<crate::connect::RoutedAcceptor, String> {
    let key = s.session_key();
    let port = s
        .socket_accept_port
        .ok_or_else(|| format!("{key}: acceptor session without SocketAcceptPort"))?;
    let host = s.socket_accept_address.as_deref().unwrap_or("0.0.0.0");
    let addr = resolve(host, port)?;
    let i = match routers.iter().position(|(a, _)| *a == addr) {
        Some(i) => i,
        None => {
            crate::transport::uring::probe().map_err(|e| e.to_string())?;
            // The Logon awaited on this port may be for any session of the file.
            let max_msg = all.iter().map(|s| s.max_message_size).max().unwrap_or(0);
            let timeout = all
                .iter()
                .map(|s| s.logon_timeout)
                .max()
                .unwrap_or(10)
                .max(1);
            let r = Router::bind(addr, max_msg, Duration::from_secs(u64::from(timeout)))
                .map_err(|e| e.to_string())?;
            routers.push((addr, r));
            routers.len() - 1
        }
    };
    let r = &mut routers[i].1;
    println!(
        "{key}: listening on {} (connections routed by the Logon's CompIDs)",
        r.local_addr()
    );
    Ok(r.add_session(
        RouteKey {
            begin_string: s.begin_string.clone(),
            sender_comp_id: s.sender_comp_id.clone(),
            target_comp_id: s.target_comp_id.clone(),
        },
        UringOptions::default(),
    ))
}

fn uring_initiator(s: &SessionSettings) -> Result<UringInitiator, String> {
    let key = s.session_key();
    let host = s
        .socket_connect_host
        .as_deref()
        .ok_or_else(|| format!("{key}: initiator session without SocketConnectHost"))?;
    let port = s
        .socket_connect_port
        .ok_or_else(|| format!("{key}: initiator session without SocketConnectPort"))?;
    let addr = resolve(host, port)?;
    crate::transport::uring::probe().map_err(|e| e.to_string())?;
    println!("{key}: connecting to {addr}");
    Ok(UringInitiator::new(
        addr,
        UringOptions::default(),
        Duration::from_secs(u64::from(s.reconnect_interval.max(1))),
    ))
}

#[cfg(feature = "dpdk")]
fn dpdk_session(
    s: &SessionSettings,
    cfg: SessionConfig,
    seq: Box<dyn Sequencer>,
    opts: &RunOptions,
) -> Result<Box<dyn Running>, String> {
    println!("{}: Transport=dpdk", s.session_key());
    match s.connection_type {
        ConnectionType::Acceptor => {
            build::<_, ThreadBound>(s, cfg, crate::dpdk::acceptor(s)?, seq, opts)
        }
        ConnectionType::Initiator => {
            build::<_, ThreadBound>(s, cfg, crate::dpdk::initiator(s)?, seq, opts)
        }
    }
}

#[cfg(not(feature = "dpdk"))]
fn dpdk_session(
    s: &SessionSettings,
    _cfg: SessionConfig,
    _seq: Box<dyn Sequencer>,
    _opts: &RunOptions,
) -> Result<Box<dyn Running>, String> {
    Err(format!(
        "{}: Transport=dpdk needs a fixeng built with the dpdk feature \
         (cargo build --release -p fixeng --features dpdk; needs libdpdk-dev)",
        s.session_key()
    ))
}

/// The session's sequencer: `--sequencer`, else the file's `Sequencer=` (`hwsim` = `fast`,
/// `verilated` = `rtl`).
fn sequencer(
    s: &SessionSettings,
    cfg: &SessionConfig,
    opts: &RunOptions,
) -> Result<Box<dyn Sequencer>, String> {
    let key = s.session_key();
    let spec = match opts.sequencer.as_deref() {
        Some(spec) => spec.to_string(),
        None => match s.sequencer.as_str() {
            "hwsim" => "fast".to_string(),
            "verilated" => "rtl".to_string(),
            other => {
                return Err(format!(
                    "{key}: Sequencer={other} needs --sequencer card:<path> (the card's ring map)"
                ))
            }
        },
    };
    let seq = crate::seqsel::from_spec(&spec, sequencer_window(cfg), sequencer_max_msg(cfg))
        .map_err(|e| format!("{key}: sequencer {spec}: {e}"))?;
    if seq.name() != "fast" {
        println!("{key}: sequencer {}", seq.name());
    }
    Ok(seq)
}

/// Opens the session's store and builds its pipeline with the chosen application and
/// sequencer; `M` says whether its agents may move to other threads (dedicated mode).
fn build<C: Connector + 'static, M: MakeRun<C>>(
    s: &SessionSettings,
    cfg: SessionConfig,
    c: C,
    seq: Box<dyn Sequencer>,
    opts: &RunOptions,
) -> Result<Box<dyn Running>, String> {
    let key = s.session_key();
    match &s.file_store_path {
        Some(dir) => {
            let store = MmapStore::open(dir, &key, s.store_config())
                .map_err(|e| format!("{key}: message store: {e}"))?;
            println!(
                "{key}: store {} (next sender {}, next target {})",
                dir.display(),
                store.next_sender_seq(),
                store.next_target_seq()
            );
            Ok(with_app::<C, _, M>(key, cfg, c, store, seq, opts))
        }
        None => Ok(with_app::<C, _, M>(
            key,
            cfg,
            c,
            MemoryStore::new(),
            seq,
            opts,
        )),
    }
}

fn with_app<C, S, M>(
    key: String,
    cfg: SessionConfig,
    c: C,
    store: S,
    seq: Box<dyn Sequencer>,
    opts: &RunOptions,
) -> Box<dyn Running>
where
    C: Connector + 'static,
    S: MessageStore + Send + 'static,
    M: MakeRun<C>,
{
    let sizes = RingSizes::default();
    match opts.app {
        AppKind::Echo => {
            let p = pipeline_with_sequencer(&key, cfg, c, store, EchoApp::new(), sizes, seq);
            M::make(key, p, |_| false, echo_summary)
        }
        AppKind::Load { rate, count } => {
            let logic = LoadApp::new(count, rate);
            let p = pipeline_with_sequencer(&key, cfg, c, store, logic, sizes, seq);
            let summary = match opts.dedicated {
                Some(_) => load_summary as fn(&LoadApp) -> String,
                None => load_summary_shared,
            };
            M::make(key, p, LoadApp::complete, summary)
        }
    }
}

/// Boxes a session's pipeline for the supervising loop.
trait MakeRun<C: Connector> {
    fn make<S: MessageStore + Send + 'static, L: AppLogic + Send + 'static>(
        key: String,
        p: Pipeline<C, S, L>,
        finished: fn(&L) -> bool,
        summary: fn(&L) -> String,
    ) -> Box<dyn Running>;
}

/// The connector and its connections may move to another thread: dedicated mode is possible.
struct Sendable;

/// The connector must stay on the thread that built it (DPDK: the EAL pins that thread):
/// shared mode only.
#[cfg_attr(not(feature = "dpdk"), allow(dead_code))]
struct ThreadBound;

impl<C: Connector + Send + 'static> MakeRun<C> for Sendable
where
    C::T: Send,
{
    fn make<S: MessageStore + Send + 'static, L: AppLogic + Send + 'static>(
        key: String,
        p: Pipeline<C, S, L>,
        finished: fn(&L) -> bool,
        summary: fn(&L) -> String,
    ) -> Box<dyn Running> {
        Box::new(Run {
            key,
            p,
            finished,
            summary,
            spawn: Some(spawn_dedicated::<C, S, L> as Spawn<C, S, L>),
        })
    }
}

impl<C: Connector + 'static> MakeRun<C> for ThreadBound {
    fn make<S: MessageStore + Send + 'static, L: AppLogic + Send + 'static>(
        key: String,
        p: Pipeline<C, S, L>,
        finished: fn(&L) -> bool,
        summary: fn(&L) -> String,
    ) -> Box<dyn Running> {
        Box::new(Run {
            key,
            p,
            finished,
            summary,
            spawn: None,
        })
    }
}

fn echo_summary(l: &EchoApp) -> String {
    format!(
        "echo: {} orders answered, {} out of sequence",
        l.orders, l.anomalies
    )
}

/// Dedicated mode: the internal latency (IO agent receives -> application gets the message)
/// spans threads that each read the clock.
fn load_summary(l: &LoadApp) -> String {
    latency_summary(l, "internal")
}

/// Shared mode reads the clock once per round, so "internal" counts only the rounds a message
/// waited between IO agent and application (0 when it crossed within one round).
fn load_summary_shared(l: &LoadApp) -> String {
    latency_summary(l, "internal (rounds waited; one clock reading per round)")
}

fn latency_summary(l: &LoadApp, internal: &str) -> String {
    let mut o = format!(
        "load: {} sent, {} acknowledged in order, {} out of sequence",
        l.sent, l.acked, l.anomalies
    );
    for (name, h) in [("round trip", &l.rtt), (internal, &l.internal)] {
        if !h.is_empty() {
            o += &format!(
                "\n  {name:<10} p50={:.1}us p90={:.1}us p99={:.1}us p99.9={:.1}us max={:.1}us",
                h.value_at_quantile(0.5) as f64 / 1e3,
                h.value_at_quantile(0.9) as f64 / 1e3,
                h.value_at_quantile(0.99) as f64 / 1e3,
                h.value_at_quantile(0.999) as f64 / 1e3,
                h.max() as f64 / 1e3
            );
        }
    }
    o
}

/// The exit report of one session: its application's summary, then its counters.
fn report<C: Connector, S: MessageStore, L: AppLogic>(
    key: &str,
    summary: fn(&L) -> String,
    app: &L,
    io: &IoAgent<C>,
    session: &SessionAgent<S>,
) -> String {
    let st = session.stats;
    let s = session.session();
    format!(
        "{key}: {}\n\
         {key}: received {}, app sent {} ({} journaled at close, sent on the peer's next \
         ResendRequest), gap events {}, duplicates {}, garbled {}, resend requests {}, resends \
         served {} ({} messages), rejects {}, logons {}, disconnects {}; bytes in {}, out {}\n\
         {key}: store flushed; next sender seq {}, next target seq {}",
        summary(app),
        st.received,
        st.app_sent,
        st.journaled_at_close,
        st.gap_events,
        st.duplicates,
        st.garbled,
        st.resend_requests,
        st.resends_served,
        st.resent,
        st.rejects,
        st.logons,
        st.disconnects,
        io.stats.bytes_in,
        io.stats.bytes_out,
        s.next_sender_seq(),
        s.next_target_seq()
    )
}

/// One session's pipeline, type-erased, as the supervising loop sees it.
trait Running {
    /// Session key.
    fn key(&self) -> &str;
    /// Shared mode: one duty cycle of each of the four agents at `now`.
    fn do_work(&mut self, now: Nanos) -> usize;
    /// Logged on (Connected record seen and not yet Disconnected).
    fn connected(&self) -> bool;
    /// Why the last connection ended, if the session knows.
    fn last_disconnect(&self) -> Option<&'static str>;
    /// A fatal transport error (the session cannot continue).
    fn fatal(&self) -> Option<String>;
    /// The application has finished (a load run is acknowledged).
    fn app_finished(&self) -> bool;
    /// Starts the Logout and stops making or accepting connections.
    fn logout(&mut self, now: Nanos);
    /// Closes the connection, journals queued sends and flushes the store.
    fn close(&mut self);
    /// Exit report.
    fn report(&self) -> String;
    /// Dedicated mode: moves the four agents to their own threads.
    fn start_dedicated(
        self: Box<Self>,
        cores: [Option<core_affinity::CoreId>; 4],
        idle: AnyIdle,
        clock: Clock,
    ) -> Result<Dedicated, String>;
}

type Spawn<C, S, L> = fn(
    Box<Run<C, S, L>>,
    [Option<core_affinity::CoreId>; 4],
    AnyIdle,
    Clock,
) -> Result<Dedicated, String>;

struct Run<C: Connector, S: MessageStore, L: AppLogic> {
    key: String,
    p: Pipeline<C, S, L>,
    finished: fn(&L) -> bool,
    summary: fn(&L) -> String,
    /// Dedicated mode (set only where the agents may move to other threads).
    spawn: Option<Spawn<C, S, L>>,
}

impl<C: Connector + 'static, S: MessageStore + 'static, L: AppLogic + 'static> Running
    for Run<C, S, L>
{
    fn key(&self) -> &str {
        &self.key
    }
    fn do_work(&mut self, now: Nanos) -> usize {
        self.p.io.do_work(now)
            + self.p.seq.do_work(now)
            + self.p.session.do_work(now)
            + self.p.app.do_work(now)
    }
    fn connected(&self) -> bool {
        self.p.session.is_connected()
    }
    fn last_disconnect(&self) -> Option<&'static str> {
        self.p.session.last_disconnect().map(|r| r.describe())
    }
    fn fatal(&self) -> Option<String> {
        self.p.io.fatal().map(str::to_string)
    }
    fn app_finished(&self) -> bool {
        (self.finished)(self.p.app.logic())
    }
    fn logout(&mut self, now: Nanos) {
        self.p.session.logout(now, "shutting down");
        self.p.io.stop_connecting();
    }
    fn close(&mut self) {
        self.p.io.on_close();
        self.p.session.on_close();
    }
    fn report(&self) -> String {
        report(
            &self.key,
            self.summary,
            self.p.app.logic(),
            &self.p.io,
            &self.p.session,
        )
    }
    fn start_dedicated(
        self: Box<Self>,
        cores: [Option<core_affinity::CoreId>; 4],
        idle: AnyIdle,
        clock: Clock,
    ) -> Result<Dedicated, String> {
        match self.spawn {
            Some(f) => f(self, cores, idle, clock),
            None => Err(format!(
                "{}: this transport runs in shared mode only (its connections stay on one \
                 thread); use --threading shared",
                self.key
            )),
        }
    }
}

/// Flags between a session's agent threads and the supervising thread (dedicated mode).
#[derive(Default)]
struct Ctl {
    logout: AtomicBool,
    connected: AtomicBool,
    app_finished: AtomicBool,
    io_exited: AtomicBool,
}

/// A session whose agents run on their own threads.
struct Dedicated {
    key: String,
    ctl: Arc<Ctl>,
    stop: StopFlag,
    /// Joins the threads and returns the report (or the fatal error).
    join: Box<dyn FnOnce() -> Result<String, String>>,
}

fn spawn_named<T: Send + 'static>(
    name: String,
    core: Option<core_affinity::CoreId>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, String> {
    std::thread::Builder::new()
        .name(name.chars().take(15).collect())
        .spawn(move || {
            if let Some(c) = core {
                core_affinity::set_for_current(c);
            }
            f()
        })
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

/// Dedicated mode for one session: IO, sequencer, session and application agents each on its
/// own thread (pinned to `cores[i]` when given). Each thread reads the clock once per iteration
/// of its loop.
#[allow(clippy::boxed_local)] // called as a `Spawn` with the `Box<Self>` of `start_dedicated`
fn spawn_dedicated<C, S, L>(
    run: Box<Run<C, S, L>>,
    cores: [Option<core_affinity::CoreId>; 4],
    idle: AnyIdle,
    clock: Clock,
) -> Result<Dedicated, String>
where
    C: Connector + Send + 'static,
    C::T: Send,
    S: MessageStore + Send + 'static,
    L: AppLogic + Send + 'static,
{
    let Run {
        key,
        p,
        finished,
        summary,
        ..
    } = *run;
    let Pipeline {
        io,
        seq,
        session,
        app,
    } = p;
    let ctl = Arc::new(Ctl::default());
    let stop = StopFlag::new();
    let (c, st) = (ctl.clone(), stop.clone());
    let mut idle0 = idle;
    let h_io = spawn_named(format!("io-{key}"), cores[0], move || {
        let mut io = io;
        loop {
            let now = clock.now();
            if c.logout.load(Ordering::Relaxed) {
                io.stop_connecting();
            }
            let w = io.do_work(now);
            if io.fatal().is_some() || st.is_stopped() {
                break;
            }
            idle0.idle(w);
        }
        io.on_close();
        c.io_exited.store(true, Ordering::Release);
        io
    })?;
    let st = stop.clone();
    let mut idle1 = idle;
    let h_seq = spawn_named(format!("seq-{key}"), cores[1], move || {
        let mut seq = seq;
        while !st.is_stopped() {
            let w = seq.do_work(clock.now());
            idle1.idle(w);
        }
        seq
    })?;
    let (c, st) = (ctl.clone(), stop.clone());
    let mut idle2 = idle;
    let h_session = spawn_named(format!("ses-{key}"), cores[2], move || {
        let mut session = session;
        let mut logged_out = false;
        while !st.is_stopped() {
            let now = clock.now();
            let w = session.do_work(now);
            if c.logout.load(Ordering::Relaxed) && !logged_out {
                logged_out = true;
                session.logout(now, "shutting down");
            }
            c.connected.store(session.is_connected(), Ordering::Relaxed);
            idle2.idle(w);
        }
        session.on_close();
        session
    })?;
    let (c, st) = (ctl.clone(), stop.clone());
    let mut idle3 = idle;
    let h_app = spawn_named(format!("app-{key}"), cores[3], move || {
        let mut app = app;
        while !st.is_stopped() {
            let w = app.do_work(clock.now());
            if finished(app.logic()) {
                c.app_finished.store(true, Ordering::Relaxed);
            }
            idle3.idle(w);
        }
        app
    })?;
    let k = key.clone();
    let join = Box::new(move || {
        let io = h_io.join().map_err(|_| format!("{k}: IO agent panicked"))?;
        h_seq
            .join()
            .map_err(|_| format!("{k}: sequencer agent panicked"))?;
        let session = h_session
            .join()
            .map_err(|_| format!("{k}: session agent panicked"))?;
        let app = h_app
            .join()
            .map_err(|_| format!("{k}: application agent panicked"))?;
        let r = report(&k, summary, app.logic(), &io, &session);
        match io.fatal() {
            Some(e) => Err(format!("{r}\n{k}: {e}")),
            None => Ok(r),
        }
    });
    Ok(Dedicated {
        key,
        ctl,
        stop,
        join,
    })
}

/// Per-session shutdown state of the supervising loop.
#[derive(Clone, Copy, Default)]
struct Shutdown {
    logout_at: Option<Nanos>,
    done: bool,
    connected: bool,
}

/// How long a session waits for the peer's Logout answer.
const LOGOUT_WAIT: Nanos = 3_000_000_000;

/// Shared mode: every agent of every session, and the routers, on this thread. The clock is
/// read once per round and the same `now` goes to every agent of the round.
fn drive_shared(
    mut sessions: Vec<Box<dyn Running>>,
    mut routers: Vec<Router>,
    mut idle: AnyIdle,
) -> Result<(), String> {
    let clock = Clock::new();
    let mut state = vec![Shutdown::default(); sessions.len()];
    let mut errors = Vec::new();
    let mut stopping = false;
    while state.iter().any(|s| !s.done) {
        let now = clock.now();
        let mut work = 0;
        for r in routers.iter_mut() {
            work += r.do_work(now);
            r.take_events(|e| println!("{e}"));
        }
        for (run, st) in sessions.iter_mut().zip(state.iter_mut()) {
            if st.done {
                continue;
            }
            work += run.do_work(now);
            if run.connected() != st.connected {
                st.connected = !st.connected;
                print_link(run.key(), st.connected, run.last_disconnect());
            }
            if let Some(e) = run.fatal() {
                let e = format!("{}: {e}", run.key());
                eprintln!("fixeng: {e}");
                errors.push(e);
                st.done = true;
            }
            stopping |= sys::stop_requested();
            match st.logout_at {
                None if stopping || run.app_finished() => {
                    println!("{}: logging out", run.key());
                    st.logout_at = Some(now);
                    run.logout(now);
                }
                Some(t) if !run.connected() || now > t + LOGOUT_WAIT => st.done = true,
                _ => {}
            }
            if st.done {
                run.close();
                println!("{}", run.report());
            }
        }
        idle.idle(work);
    }
    print_routers(&routers);
    finish(errors)
}

fn print_link(key: &str, connected: bool, why: Option<&str>) {
    if connected {
        println!("{key}: connected");
    } else {
        println!(
            "{key}: disconnected{}",
            why.map_or(String::new(), |r| format!(" ({r})"))
        );
    }
}

fn print_routers(routers: &[Router]) {
    for r in routers {
        let s = r.stats;
        println!(
            "listener {}: accepted {}, routed {}, dropped: unknown CompIDs {}, bad or missing \
             Logon {}, Logon timeout {}, session busy {}, too many pending {}",
            r.local_addr(),
            s.accepted,
            s.routed,
            s.unknown,
            s.bad_logon,
            s.timeouts,
            s.busy,
            s.overflow
        );
    }
}

fn finish(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Dedicated mode: session `i`'s IO, sequencer, session and application agents run on threads
/// pinned to `cores[(4i + j) % cores.len()]` (j = 0..3, in that order); this (unpinned) thread
/// runs the routers and watches for Ctrl-C, polling every millisecond.
fn drive_dedicated(
    sessions: Vec<Box<dyn Running>>,
    mut routers: Vec<Router>,
    idle: AnyIdle,
    cores: &[usize],
) -> Result<(), String> {
    let clock = Clock::new();
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    let pin = |n: usize| {
        let c = *cores.get(n % cores.len().max(1))?;
        ids.iter().find(|x| x.id == c).copied()
    };
    let mut running = Vec::with_capacity(sessions.len());
    for (i, s) in sessions.into_iter().enumerate() {
        let pins = [pin(4 * i), pin(4 * i + 1), pin(4 * i + 2), pin(4 * i + 3)];
        let where_ = pins
            .iter()
            .map(|p| p.map_or("-".to_string(), |c| c.id.to_string()))
            .collect::<Vec<_>>()
            .join(",");
        let key = s.key().to_string();
        match s.start_dedicated(pins, idle, clock) {
            Ok(d) => {
                println!("{key}: agents io,seq,session,app on cores {where_}");
                running.push(d);
            }
            Err(e) => {
                // Stop what started.
                for d in running {
                    d.stop.stop();
                    let _ = (d.join)();
                }
                return Err(e);
            }
        }
    }
    let mut state = vec![Shutdown::default(); running.len()];
    let mut errors = Vec::new();
    let mut stopping = false;
    while state.iter().any(|s| !s.done) {
        std::thread::sleep(Duration::from_millis(1));
        let now = clock.now();
        for r in routers.iter_mut() {
            r.do_work(now);
            r.take_events(|e| println!("{e}"));
        }
        stopping |= sys::stop_requested();
        for (d, st) in running.iter_mut().zip(state.iter_mut()) {
            if st.done {
                continue;
            }
            let c = d.ctl.connected.load(Ordering::Relaxed);
            if c != st.connected {
                st.connected = c;
                print_link(&d.key, c, None);
            }
            let mut end = d.ctl.io_exited.load(Ordering::Acquire);
            match st.logout_at {
                None if stopping || d.ctl.app_finished.load(Ordering::Relaxed) => {
                    println!("{}: logging out", d.key);
                    d.ctl.logout.store(true, Ordering::Relaxed);
                    st.logout_at = Some(now);
                }
                // 5 ms after the Logout for the disconnect to settle (the session thread
                // publishes `connected` once per duty cycle).
                Some(t) if (!c && now > t + 5_000_000) || now > t + LOGOUT_WAIT => end = true,
                _ => {}
            }
            if end {
                st.done = true;
                d.stop.stop();
                let join = std::mem::replace(&mut d.join, Box::new(|| Ok(String::new())));
                match join() {
                    Ok(r) => println!("{r}"),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    print_routers(&routers);
    finish(errors)
}
