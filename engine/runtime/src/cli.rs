//! `fixeng acceptor|initiator --config FILE`: one session from a QuickFIX-style settings file,
//! run over io_uring with all agents on one thread (shared) or one pinned thread each
//! (dedicated). Ctrl-C logs out, flushes the store and prints the session's counters.

use crate::agent::Agent;
use crate::apps::{EchoApp, LoadApp};
use crate::clock::{Clock, Nanos};
use crate::connect::{Connector, UringAcceptor, UringInitiator};
use crate::idle::{AnyIdle, IdleStrategy};
use crate::pipeline::{pipeline, AppLogic, Pipeline, RingSizes};
use crate::runner::cycle;
use crate::sys;
use crate::transport::uring::UringOptions;
use fixsession::settings::{ConnectionType, SessionSettings, Settings};
use fixsession::store::{MemoryStore, MessageStore, MmapStore};
use fixsession::SessionConfig;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
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
    /// Session key (`BeginString:Sender->Target`) when the file has several of this role.
    pub session: Option<String>,
    /// The application.
    pub app: AppKind,
    /// Idle strategy (`busy`, `yield`, `backoff`).
    pub idle: String,
    /// Lock memory (mlockall).
    pub mlock: bool,
    /// Dedicated threading mode: each agent on its own thread, pinned to these cores in turn
    /// (IO, sequencer, session, application). `None`: shared mode (one thread).
    pub dedicated: Option<Vec<usize>>,
}

/// Runs one session until Ctrl-C (or, for `load`, until every order is acknowledged).
/// Returns a message for the user on error.
pub fn run(opts: &RunOptions) -> Result<(), String> {
    let settings = Settings::load(&opts.config).map_err(|e| e.to_string())?;
    let s = settings
        .sessions
        .iter()
        .find(|s| {
            s.connection_type == opts.role
                && opts.session.as_ref().is_none_or(|k| *k == s.session_key())
        })
        .ok_or_else(|| {
            format!(
                "{}: no {} session{}",
                opts.config.display(),
                match opts.role {
                    ConnectionType::Acceptor => "acceptor",
                    ConnectionType::Initiator => "initiator",
                },
                opts.session
                    .as_ref()
                    .map_or(String::new(), |k| format!(" with key {k}"))
            )
        })?
        .clone();
    if s.transport != "io_uring" {
        return Err(format!(
            "Transport={} is not available in this binary (io_uring only; dpdk is wired in \
             behind the `dpdk` feature later, memory is for tests and the demo)",
            s.transport
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
    let cfg = SessionConfig::from_settings(&s);
    let uo = UringOptions::default();
    match s.connection_type {
        ConnectionType::Acceptor => {
            let port = s
                .socket_accept_port
                .ok_or("acceptor session without SocketAcceptPort")?;
            let host = s.socket_accept_address.as_deref().unwrap_or("0.0.0.0");
            let addr = resolve(host, port)?;
            let c = UringAcceptor::bind(addr, uo).map_err(|e| e.to_string())?;
            println!("{}: listening on {}", s.session_key(), c.local_addr());
            with_store(&s, cfg, c, opts, idle)
        }
        ConnectionType::Initiator => {
            let host = s
                .socket_connect_host
                .as_deref()
                .ok_or("initiator session without SocketConnectHost")?;
            let port = s
                .socket_connect_port
                .ok_or("initiator session without SocketConnectPort")?;
            let addr = resolve(host, port)?;
            crate::transport::uring::probe().map_err(|e| e.to_string())?;
            let c = UringInitiator::new(
                addr,
                uo,
                Duration::from_secs(u64::from(s.reconnect_interval.max(1))),
            );
            println!("{}: connecting to {addr}", s.session_key());
            with_store(&s, cfg, c, opts, idle)
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}:{port} resolves to nothing"))
}

fn with_store<C: Connector + Send + 'static>(
    s: &SessionSettings,
    cfg: SessionConfig,
    c: C,
    opts: &RunOptions,
    idle: AnyIdle,
) -> Result<(), String>
where
    C::T: Send,
{
    match &s.file_store_path {
        Some(dir) => {
            let store = MmapStore::open(dir, &s.session_key(), s.store_config())
                .map_err(|e| format!("message store: {e}"))?;
            println!(
                "{}: store {} (next sender {}, next target {})",
                s.session_key(),
                dir.display(),
                store.next_sender_seq(),
                store.next_target_seq()
            );
            with_app(s, cfg, c, store, opts, idle)
        }
        None => with_app(s, cfg, c, MemoryStore::new(), opts, idle),
    }
}

fn with_app<C: Connector + Send + 'static, S: MessageStore + Send + 'static>(
    s: &SessionSettings,
    cfg: SessionConfig,
    c: C,
    store: S,
    opts: &RunOptions,
    idle: AnyIdle,
) -> Result<(), String>
where
    C::T: Send,
{
    let key = s.session_key();
    let cores = opts.dedicated.clone();
    match opts.app {
        AppKind::Echo => {
            let p = pipeline(&key, cfg, c, store, EchoApp::new(), RingSizes::default());
            drive(
                &key,
                p,
                idle,
                cores,
                |_| false,
                |l: &EchoApp| {
                    format!(
                        "echo: {} orders answered, {} out of sequence",
                        l.orders, l.anomalies
                    )
                },
            )
        }
        AppKind::Load { rate, count } => {
            let p = pipeline(
                &key,
                cfg,
                c,
                store,
                LoadApp::new(count, rate),
                RingSizes::default(),
            );
            drive(&key, p, idle, cores, LoadApp::complete, |l: &LoadApp| {
                let mut o = format!(
                    "load: {} sent, {} acknowledged in order, {} out of sequence",
                    l.sent, l.acked, l.anomalies
                );
                for (name, h) in [("round trip", &l.rtt), ("internal", &l.internal)] {
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
            })
        }
    }
}

fn drive<C, S, L>(
    key: &str,
    p: Pipeline<C, S, L>,
    idle: AnyIdle,
    cores: Option<Vec<usize>>,
    finished: fn(&L) -> bool,
    summary: impl Fn(&L) -> String + Send + Sync + 'static,
) -> Result<(), String>
where
    C: Connector + Send + 'static,
    C::T: Send,
    S: MessageStore + Send + 'static,
    L: AppLogic + Send + 'static,
{
    match cores {
        None => drive_shared(key, p, idle, finished, summary),
        Some(cores) => drive_dedicated(key, p, idle, &cores, finished, summary),
    }
}

fn print_counters<C: Connector, S: MessageStore, L: AppLogic>(
    key: &str,
    io: &crate::pipeline::IoAgent<C>,
    session: &crate::pipeline::SessionAgent<S>,
) {
    let st = session.stats;
    println!(
        "{key}: received {}, app sent {} ({} journaled at close, sent on the peer's next ResendRequest), gap events {}, duplicates {}, garbled {}, resend requests {}, resends served {} ({} messages), rejects {}, logons {}, disconnects {}; bytes in {}, out {}",
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
        io.stats.bytes_out
    );
    let s = session.session();
    println!(
        "{key}: store flushed; next sender seq {}, next target seq {}",
        s.next_sender_seq(),
        s.next_target_seq()
    );
    let _ = std::marker::PhantomData::<L>;
}

/// Dedicated mode: the four agents each on its own pinned thread. The main thread watches for
/// Ctrl-C (or the end of a load run) and tells the agents through atomics; the agents come back
/// when their threads end, and their counters are printed.
fn drive_dedicated<C, S, L>(
    key: &str,
    p: Pipeline<C, S, L>,
    idle: AnyIdle,
    cores: &[usize],
    finished: fn(&L) -> bool,
    summary: impl Fn(&L) -> String,
) -> Result<(), String>
where
    C: Connector + Send + 'static,
    C::T: Send,
    S: MessageStore + Send + 'static,
    L: AppLogic + Send + 'static,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let logout = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicBool::new(false));
    let app_finished = Arc::new(AtomicBool::new(false));
    let stop = crate::runner::StopFlag::new();
    let Pipeline {
        io,
        seq,
        session,
        app,
    } = p;
    // One thread per agent; each thread gives back its own agent type.
    let core = |i: usize| cores.get(i % cores.len().max(1)).copied();
    let clock = Clock::new();
    let (lo, st) = (logout.clone(), stop.clone());
    let pin = |i: usize| {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        core(i).and_then(|c| ids.into_iter().find(|x| x.id == c))
    };
    let (p0, p1, p2, p3) = (pin(0), pin(1), pin(2), pin(3));
    let mut idle0 = idle;
    let h_io = std::thread::spawn(move || {
        let mut io = io;
        if let Some(c) = p0 {
            core_affinity::set_for_current(c);
        }
        while !st.is_stopped() {
            if lo.load(Ordering::Relaxed) {
                io.stop_connecting();
            }
            let w = io.do_work(clock.now());
            if io.fatal().is_some() {
                break;
            }
            idle0.idle(w);
        }
        io.on_close();
        io
    });
    let st = stop.clone();
    let mut idle1 = idle;
    let h_seq = std::thread::spawn(move || {
        let mut seq = seq;
        if let Some(c) = p1 {
            core_affinity::set_for_current(c);
        }
        while !st.is_stopped() {
            let w = seq.do_work(clock.now());
            idle1.idle(w);
        }
        seq
    });
    let (st, lo, cn) = (stop.clone(), logout.clone(), connected.clone());
    let mut idle2 = idle;
    let h_session = std::thread::spawn(move || {
        let mut session = session;
        if let Some(c) = p2 {
            core_affinity::set_for_current(c);
        }
        let mut logged_out = false;
        while !st.is_stopped() {
            let now = clock.now();
            let w = session.do_work(now);
            if lo.load(Ordering::Relaxed) && !logged_out {
                logged_out = true;
                session.logout(now, "shutting down");
            }
            cn.store(session.is_connected(), Ordering::Relaxed);
            idle2.idle(w);
        }
        session.on_close();
        session
    });
    let (st, af) = (stop.clone(), app_finished.clone());
    let mut idle3 = idle;
    let h_app = std::thread::spawn(move || {
        let mut app = app;
        if let Some(c) = p3 {
            core_affinity::set_for_current(c);
        }
        while !st.is_stopped() {
            let w = app.do_work(clock.now());
            if finished(app.logic()) {
                af.store(true, Ordering::Relaxed);
            }
            idle3.idle(w);
        }
        app
    });
    let mut was_connected = false;
    let mut logout_at: Option<std::time::Instant> = None;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(1));
        let c = connected.load(Ordering::Relaxed);
        if c != was_connected {
            was_connected = c;
            println!("{key}: {}", if c { "connected" } else { "disconnected" });
        }
        if h_io.is_finished() {
            break;
        }
        match logout_at {
            None if sys::stop_requested() || app_finished.load(Ordering::Relaxed) => {
                println!("{key}: logging out");
                logout.store(true, Ordering::Relaxed);
                logout_at = Some(std::time::Instant::now());
            }
            Some(t) if (!c && t.elapsed().as_millis() > 5) || t.elapsed().as_secs() >= 3 => break,
            _ => {}
        }
    }
    stop.stop();
    let io = h_io.join().map_err(|_| "IO agent thread panicked")?;
    let _seq = h_seq
        .join()
        .map_err(|_| "sequencer agent thread panicked")?;
    let session = h_session
        .join()
        .map_err(|_| "session agent thread panicked")?;
    let app = h_app
        .join()
        .map_err(|_| "application agent thread panicked")?;
    if let Some(e) = io.fatal() {
        return Err(e.to_string());
    }
    println!("{key}: {}", summary(app.logic()));
    print_counters::<C, S, L>(key, &io, &session);
    Ok(())
}

fn drive_shared<C: Connector, S: MessageStore, L: AppLogic>(
    key: &str,
    mut p: Pipeline<C, S, L>,
    mut idle: AnyIdle,
    finished: fn(&L) -> bool,
    summary: impl Fn(&L) -> String,
) -> Result<(), String> {
    let clock = Clock::new();
    let mut logout_at: Option<Nanos> = None;
    let mut connected = false;
    loop {
        let work = {
            let mut agents: [&mut dyn Agent; 4] =
                [&mut p.io, &mut p.seq, &mut p.session, &mut p.app];
            cycle(&mut agents, &clock)
        };
        let now = clock.now();
        if let Some(e) = p.io.fatal() {
            return Err(e.to_string());
        }
        if p.session.is_connected() != connected {
            connected = !connected;
            println!(
                "{key}: {}",
                if connected {
                    "connected".to_string()
                } else {
                    format!(
                        "disconnected{}",
                        p.session
                            .last_disconnect()
                            .map_or(String::new(), |r| format!(" ({})", r.describe()))
                    )
                }
            );
        }
        match logout_at {
            None if sys::stop_requested() || finished(p.app.logic()) => {
                println!("{key}: logging out");
                logout_at = Some(now);
                p.session.logout(now, "shutting down");
                p.io.stop_connecting();
            }
            Some(t) if !p.session.is_connected() || now > t + 3_000_000_000 => break,
            _ => {}
        }
        idle.idle(work);
    }
    p.io.on_close();
    p.session.on_close();
    println!("{key}: {}", summary(p.app.logic()));
    print_counters::<C, S, L>(key, &p.io, &p.session);
    Ok(())
}
