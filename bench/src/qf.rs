//! The QuickFIX C++ peers (feature `peers`), through the `quickfix` crate 0.2 (QuickFIX 1.16
//! built from source with cmake):
//!
//! * [`parse`]: `DataDictionary::try_build_message` per message (QuickFIX's
//!   `Message(string, dictionary, validate=true)`: parse, BodyLength and CheckSum checked) plus
//!   reads of MsgType and MsgSeqNum. Both fields are in every message, so no read throws
//!   (QuickFIX's `getField` of an absent field throws `FieldNotFound`, which costs microseconds;
//!   the binding has no `isSetField`, so the bench reads only fields it knows are present);
//! * [`load`]: QuickFIX initiator <-> QuickFIX acceptor over loopback TCP, NewOrderSingle ->
//!   ExecutionReport, either in poll mode (`SocketInitiator`/`SocketAcceptor` driven by `poll()`
//!   on one pinned thread each, idling with [`SpinYield`]) or in QuickFIX's default threaded mode
//!   (`ThreadedSocketInitiator`/`ThreadedSocketAcceptor` started with `start()`, the measuring
//!   thread sending with `sendToTarget` and waiting on the report);
//! * [`resend`]: a QuickFIX acceptor (poll mode, `FileStore`) that has sent 100 000
//!   ExecutionReports serves a ResendRequest for the last N from its store; timed inside
//!   QuickFIX from the ResendRequest's arrival (its incoming-log callback) to the last resent
//!   message being handed to its socket (its outgoing-log callback).
//!
//! Every session uses QuickFIX's `FileStore` (persistent, like the engine's `MmapStore`), its
//! FIX44 data dictionary validation (`UseDataDictionary=Y`, the default), `SocketNodelay=Y`, and
//! a log factory whose callbacks do nothing (measure 4: count).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use quickfix::{
    send_to_target, Acceptor, Application, ApplicationCallback, ConnectionHandler, DataDictionary,
    FieldMap, FileMessageStoreFactory, FixSocketServerKind, Initiator, LogCallback, LogFactory,
    Message, MsgFromAppError, SessionContainer, SessionId, SessionSettings,
};

use crate::latency::{pin, Plan, SpinYield};
use crate::report::histogram;
use crate::util::{timed, Timing};

/// The FIX 4.4 data dictionary QuickFIX validates with (QuickFIX's own FIX44.xml, as shipped
/// with the session crate).
pub fn dictionary_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/session/dict/FIX44.xml")
}

/// QuickFIX's log: silent unless `FIXBENCH_QF_LOG=1`, then every message and event to stderr.
struct QfLog {
    on: bool,
}

impl QfLog {
    fn new() -> QfLog {
        QfLog {
            on: std::env::var("FIXBENCH_QF_LOG").is_ok_and(|v| v == "1"),
        }
    }
}

impl LogCallback for QfLog {
    fn on_incoming(&self, _s: Option<&SessionId>, msg: &str) {
        if self.on {
            eprintln!("qf in : {}", msg.replace('\x01', "|"));
        }
    }
    fn on_outgoing(&self, _s: Option<&SessionId>, msg: &str) {
        if self.on {
            eprintln!("qf out: {}", msg.replace('\x01', "|"));
        }
    }
    fn on_event(&self, _s: Option<&SessionId>, msg: &str) {
        if self.on {
            eprintln!("qf evt: {msg}");
        }
    }
}

/// QuickFIX keeps one process-wide registry of sessions by SessionID: two runs with the same
/// session at once (parallel tests) would steal each other's sessions. Every run holds this.
static ONE_RUN: Mutex<()> = Mutex::new(());

fn one_run() -> std::sync::MutexGuard<'static, ()> {
    ONE_RUN.lock().unwrap_or_else(|p| p.into_inner())
}

fn qe(e: impl std::fmt::Debug) -> String {
    format!("QuickFIX: {e:?}")
}

/// Parses and verifies every message `reps` times; returns the timing. Errors if QuickFIX
/// rejects one or reads a wrong MsgSeqNum.
pub fn parse(messages: &[&str], reps: usize) -> Result<Timing, String> {
    let dd = DataDictionary::try_from_path(dictionary_path()).map_err(qe)?;
    let (t, r) = timed(|| -> Result<u64, String> {
        let mut sum = 0u64;
        for _ in 0..reps {
            for m in messages {
                let msg = dd.try_build_message(std::hint::black_box(m)).map_err(qe)?;
                let (ty, seq) = msg.with_header(|h| (h.get_field(35), h.get_field(34)));
                sum += ty.map_or(0, |t| u64::from(t.as_bytes()[0]));
                sum += seq.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
            }
        }
        Ok(sum)
    });
    let sum = r?;
    let n = messages.len() as u64;
    // MsgSeqNum 1..=n in every pass plus one MsgType byte ('D') per message.
    let want = reps as u64 * (n * (n + 1) / 2 + n * u64::from(b'D'));
    if sum != want {
        return Err(format!(
            "QuickFIX read wrong fields (checksum {sum}, want {want})"
        ));
    }
    Ok(t)
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Writes a QuickFIX settings file for one session and returns its path.
fn settings_file(
    dir: &Path,
    acceptor: bool,
    sender: &str,
    target: &str,
    port: u16,
) -> Result<PathBuf, String> {
    let store = dir.join(format!("store-{sender}"));
    std::fs::create_dir_all(&store).map_err(|e| e.to_string())?;
    let mut s = format!(
        "[DEFAULT]\nConnectionType={}\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=60\n\
         ReconnectInterval=1\nFileStorePath={}\nUseDataDictionary=Y\nDataDictionary={}\n\
         CheckLatency=N\nSocketNodelay=Y\nPersistMessages=Y\nResetOnLogon=Y\n\n[SESSION]\n\
         BeginString=FIX.4.4\nSenderCompID={sender}\nTargetCompID={target}\n",
        if acceptor { "acceptor" } else { "initiator" },
        store.display(),
        dictionary_path().display()
    );
    if acceptor {
        s.push_str(&format!("SocketAcceptPort={port}\n"));
    } else {
        s.push_str(&format!(
            "SocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n"
        ));
    }
    let p = dir.join(format!("{sender}.cfg"));
    std::fs::write(&p, s).map_err(|e| e.to_string())?;
    Ok(p)
}

fn set(m: &mut Message, tag: i32, v: &str) -> Result<(), String> {
    m.set_field(tag, v).map_err(qe)
}

fn order(n: u32) -> Result<Message, String> {
    let mut m = Message::new();
    m.with_header_mut(|h| h.set_field(35, "D")).map_err(qe)?;
    set(&mut m, 11, &format!("O{n}"))?;
    set(&mut m, 55, "EUR/USD")?;
    set(&mut m, 54, "1")?;
    set(&mut m, 60, "20261124-07:00:00.000")?;
    set(&mut m, 38, "100")?;
    set(&mut m, 40, "2")?;
    set(&mut m, 44, "1.2345")?;
    Ok(m)
}

/// The acceptor's application: answers every NewOrderSingle with an ExecutionReport (New).
struct EchoCallbacks {
    next_exec: AtomicU64,
    activity: AtomicU64,
    failures: AtomicU64,
}

impl EchoCallbacks {
    fn new() -> EchoCallbacks {
        EchoCallbacks {
            next_exec: AtomicU64::new(1),
            activity: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn report(&self, cl: &str) -> Result<Message, String> {
        let e = self.next_exec.fetch_add(1, Ordering::Relaxed).to_string();
        let mut r = Message::new();
        r.with_header_mut(|h| h.set_field(35, "8")).map_err(qe)?;
        set(&mut r, 37, cl)?;
        set(&mut r, 11, cl)?;
        set(&mut r, 17, &e)?;
        set(&mut r, 150, "0")?;
        set(&mut r, 39, "0")?;
        set(&mut r, 55, "EUR/USD")?;
        set(&mut r, 54, "1")?;
        set(&mut r, 38, "100")?;
        set(&mut r, 151, "100")?;
        set(&mut r, 14, "0")?;
        set(&mut r, 6, "0")?;
        Ok(r)
    }
}

impl ApplicationCallback for EchoCallbacks {
    fn on_msg_from_app(&self, msg: &Message, session: &SessionId) -> Result<(), MsgFromAppError> {
        self.activity.fetch_add(1, Ordering::Relaxed);
        let cl = msg.get_field(11).ok_or(MsgFromAppError::FieldNotFound)?;
        let r = self
            .report(&cl)
            .and_then(|r| send_to_target(r, session).map_err(qe));
        if let Err(e) = r {
            if self.failures.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("QuickFIX echo acceptor: cannot answer {cl}: {e}");
            }
        }
        Ok(())
    }
}

/// The initiator's application: records each report's round trip.
struct LoadCallbacks {
    epoch: Instant,
    send_ns: Vec<AtomicU64>,
    acked: AtomicU32,
    anomalies: AtomicU64,
    measure_from: AtomicU32,
    hist: Mutex<Histogram<u64>>,
    last_ack_ns: AtomicU64,
}

impl ApplicationCallback for LoadCallbacks {
    fn on_msg_from_app(&self, msg: &Message, _s: &SessionId) -> Result<(), MsgFromAppError> {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let n = msg
            .get_field(11)
            .and_then(|c| c.strip_prefix('O').and_then(|d| d.parse::<u32>().ok()));
        // The histogram's lock also orders each acknowledgement against the warm-up switch
        // (which reads `acked` and sets `measure_from` under it), so no report is lost.
        let Ok(mut h) = self.hist.lock() else {
            self.anomalies.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let acked = self.acked.load(Ordering::Relaxed);
        match n {
            Some(n) if n == acked + 1 && (n as usize) < self.send_ns.len() => {
                let t = self.send_ns[n as usize].load(Ordering::Acquire);
                if n >= self.measure_from.load(Ordering::Relaxed) && t > 0 && now >= t {
                    let _ = h.record((now - t).max(1));
                    self.last_ack_ns.store(now, Ordering::Relaxed);
                }
                self.acked.store(n, Ordering::Release);
            }
            _ => {
                self.anomalies.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// QuickFIX's threading model for [`load`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `SocketInitiator`/`SocketAcceptor` driven by `poll()`, one pinned thread per side.
    Poll,
    /// `ThreadedSocketInitiator`/`ThreadedSocketAcceptor` with `start()` (QuickFIX's threads).
    Threaded,
}

/// What a [`load`] run produced.
pub struct LoadResult {
    /// Round trip per order after the warm-up (ns).
    pub rtt: Histogram<u64>,
    /// Reports measured.
    pub acked: u64,
    /// Wall time from the end of the warm-up to the last measured report.
    pub elapsed: Duration,
}

/// QuickFIX <-> QuickFIX over loopback: `plan.warmup + plan.count` orders at `rate` per second
/// (0 = as fast as `window` unanswered orders allow). Stops once `limit` has passed after the
/// warm-up.
pub fn load(
    mode: Mode,
    plan: Plan,
    limit: Duration,
    rate: u64,
    window: u32,
) -> Result<LoadResult, String> {
    let _one = one_run();
    let dir = std::env::temp_dir().join(format!(
        "fixbench-qf-{}-{:?}-{rate}",
        std::process::id(),
        mode
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let acc_cfg = settings_file(&dir, true, "EXCHANGE", "CLIENT", port)?;
    let ini_cfg = settings_file(&dir, false, "CLIENT", "EXCHANGE", port)?;
    let total = plan.warmup + plan.count;
    let cb = Arc::new(LoadCallbacks {
        epoch: Instant::now(),
        send_ns: (0..total as usize + 2).map(|_| AtomicU64::new(0)).collect(),
        acked: AtomicU32::new(0),
        anomalies: AtomicU64::new(0),
        measure_from: AtomicU32::new(if plan.warmup == 0 { 1 } else { u32::MAX }),
        hist: Mutex::new(histogram()),
        last_ack_ns: AtomicU64::new(0),
    });
    let r = match mode {
        Mode::Poll => load_poll(&acc_cfg, &ini_cfg, &cb, plan, limit, rate, window),
        Mode::Threaded => load_threaded(&acc_cfg, &ini_cfg, &cb, plan, limit, rate, window),
    };
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// The sending loop shared by both modes: sends due orders, calls `drive` between them (poll
/// or wait), handles the warm-up; returns when done.
fn drive_orders(
    cb: &LoadCallbacks,
    plan: Plan,
    limit: Duration,
    rate: u64,
    window: u32,
    mut drive: impl FnMut() -> Result<(), String>,
) -> Result<LoadResult, String> {
    let total = plan.warmup + plan.count;
    let ini_id = SessionId::try_new("FIX.4.4", "CLIENT", "EXCHANGE", "").map_err(qe)?;
    let start = Instant::now();
    let mut sent = 0u32;
    let mut measuring = plan.warmup == 0;
    let mut t_meas = start;
    let mut t_meas_ns = 0u64;
    let mut idle = SpinYield::default();
    let mut last_acked = 0u32;
    loop {
        let acked = cb.acked.load(Ordering::Acquire);
        let mut work = acked != last_acked;
        last_acked = acked;
        if cb.anomalies.load(Ordering::Relaxed) > 0 {
            return Err("QuickFIX reports out of sequence".into());
        }
        while sent < total && sent - acked < window {
            if let Some(after) = (u64::from(sent) * 1_000_000_000).checked_div(rate) {
                if (start.elapsed().as_nanos() as u64) < after {
                    break;
                }
            }
            let n = sent + 1;
            let m = order(n)?;
            cb.send_ns[n as usize].store(cb.epoch.elapsed().as_nanos() as u64, Ordering::Release);
            send_to_target(m, &ini_id).map_err(qe)?;
            sent = n;
            work = true;
        }
        if !measuring && (acked >= plan.warmup || start.elapsed() > limit / 4) {
            measuring = true;
            if let Ok(mut h) = cb.hist.lock() {
                let now_acked = cb.acked.load(Ordering::Acquire);
                cb.measure_from.store(now_acked + 1, Ordering::Relaxed);
                h.reset();
            }
            t_meas = Instant::now();
            t_meas_ns = cb.epoch.elapsed().as_nanos() as u64;
        }
        if acked >= total || (measuring && t_meas.elapsed() > limit) {
            break;
        }
        if start.elapsed() > limit * 2 + Duration::from_secs(30) {
            return Err(format!("QuickFIX timed out: sent {sent}, acked {acked}"));
        }
        drive()?;
        idle.idle(work);
    }
    let rtt = cb
        .hist
        .lock()
        .map(|h| h.clone())
        .map_err(|e| e.to_string())?;
    if rtt.is_empty() {
        return Err("QuickFIX: no report measured".into());
    }
    let last = cb.last_ack_ns.load(Ordering::Relaxed);
    Ok(LoadResult {
        acked: rtt.len(),
        rtt,
        elapsed: Duration::from_nanos(last.saturating_sub(t_meas_ns)),
    })
}

fn wait_logged_on(mut is_on: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let t = Instant::now();
    while !is_on()? {
        if t.elapsed() > Duration::from_secs(15) {
            return Err("QuickFIX sessions did not log on within 15 s".into());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

/// Runs a QuickFIX acceptor with `callbacks` in poll mode on a new thread pinned to core 1
/// until `stop` is set and its session has logged out (or 5 s after `stop`).
fn spawn_poll_acceptor<C: ApplicationCallback + Send + Sync + 'static, L>(
    cfg: PathBuf,
    callbacks: Arc<C>,
    logger: Arc<L>,
    activity: impl Fn(&C) -> u64 + Send + 'static,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<(), String>>
where
    L: LogCallback + Send + Sync + 'static,
{
    std::thread::spawn(move || -> Result<(), String> {
        pin(1);
        let settings = SessionSettings::try_from_path(&cfg).map_err(qe)?;
        let store = FileMessageStoreFactory::try_new(&settings).map_err(qe)?;
        let log = LogFactory::try_new(&*logger).map_err(qe)?;
        let app = Application::try_new(&*callbacks).map_err(qe)?;
        let mut acc = Acceptor::try_new(
            &settings,
            &app,
            &store,
            &log,
            FixSocketServerKind::SingleThreaded,
        )
        .map_err(qe)?;
        acc.poll().map_err(qe)?;
        ready.store(true, Ordering::Release);
        let mut idle = SpinYield::default();
        let mut last = 0u64;
        let mut stopping: Option<Instant> = None;
        loop {
            acc.poll().map_err(qe)?;
            let a = activity(&callbacks);
            idle.idle(a != last);
            last = a;
            if stop.load(Ordering::Relaxed) {
                let t = *stopping.get_or_insert_with(Instant::now);
                if !acc.is_logged_on().map_err(qe)? || t.elapsed() > Duration::from_secs(5) {
                    break;
                }
            }
        }
        Ok(())
    })
}

fn load_poll(
    acc_cfg: &Path,
    ini_cfg: &Path,
    cb: &Arc<LoadCallbacks>,
    plan: Plan,
    limit: Duration,
    rate: u64,
    window: u32,
) -> Result<LoadResult, String> {
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let echo = Arc::new(EchoCallbacks::new());
    let acc = spawn_poll_acceptor(
        acc_cfg.to_path_buf(),
        echo.clone(),
        Arc::new(QfLog::new()),
        |e: &EchoCallbacks| e.activity.load(Ordering::Relaxed),
        ready.clone(),
        stop.clone(),
    );
    pin(0);
    let res = (|| -> Result<LoadResult, String> {
        let t = Instant::now();
        while !ready.load(Ordering::Acquire) {
            if acc.is_finished() || t.elapsed() > Duration::from_secs(10) {
                return Err("QuickFIX acceptor did not start".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let settings = SessionSettings::try_from_path(ini_cfg).map_err(qe)?;
        let store = FileMessageStoreFactory::try_new(&settings).map_err(qe)?;
        let log_cb = QfLog::new();
        let log = LogFactory::try_new(&log_cb).map_err(qe)?;
        let app = Application::try_new(&**cb).map_err(qe)?;
        let mut ini = Initiator::try_new(
            &settings,
            &app,
            &store,
            &log,
            FixSocketServerKind::SingleThreaded,
        )
        .map_err(qe)?;
        wait_logged_on(|| {
            ini.poll().map_err(qe)?;
            ini.is_logged_on().map_err(qe)
        })?;
        let r = drive_orders(cb, plan, limit, rate, window, || {
            ini.poll().map(|_| ()).map_err(qe)
        });
        // Log out while still polling, so that stop() does not wait for it (10 s).
        let id = SessionId::try_new("FIX.4.4", "CLIENT", "EXCHANGE", "").map_err(qe)?;
        if let Ok(mut s) = ini.session(id) {
            let _ = s.logout();
        }
        let t = Instant::now();
        while ini.is_logged_on().unwrap_or(false) && t.elapsed() < Duration::from_secs(5) {
            let _ = ini.poll();
        }
        r
    })();
    stop.store(true, Ordering::Relaxed);
    let a = acc
        .join()
        .map_err(|_| "QuickFIX acceptor thread panicked".to_string())?;
    let r = res?;
    a?;
    if echo.failures.load(Ordering::Relaxed) > 0 {
        return Err("QuickFIX acceptor failed to send reports".into());
    }
    Ok(r)
}

fn load_threaded(
    acc_cfg: &Path,
    ini_cfg: &Path,
    cb: &Arc<LoadCallbacks>,
    plan: Plan,
    limit: Duration,
    rate: u64,
    window: u32,
) -> Result<LoadResult, String> {
    let echo = EchoCallbacks::new();
    let log_cb = QfLog::new();
    let a_settings = SessionSettings::try_from_path(acc_cfg).map_err(qe)?;
    let a_store = FileMessageStoreFactory::try_new(&a_settings).map_err(qe)?;
    let a_log = LogFactory::try_new(&log_cb).map_err(qe)?;
    let a_app = Application::try_new(&echo).map_err(qe)?;
    let mut acc = Acceptor::try_new(
        &a_settings,
        &a_app,
        &a_store,
        &a_log,
        FixSocketServerKind::MultiThreaded,
    )
    .map_err(qe)?;
    acc.start().map_err(qe)?;
    let i_settings = SessionSettings::try_from_path(ini_cfg).map_err(qe)?;
    let i_store = FileMessageStoreFactory::try_new(&i_settings).map_err(qe)?;
    let i_log = LogFactory::try_new(&log_cb).map_err(qe)?;
    let i_app = Application::try_new(&**cb).map_err(qe)?;
    let mut ini = Initiator::try_new(
        &i_settings,
        &i_app,
        &i_store,
        &i_log,
        FixSocketServerKind::MultiThreaded,
    )
    .map_err(qe)?;
    ini.start().map_err(qe)?;
    let r = wait_logged_on(|| ini.is_logged_on().map_err(qe))
        .and_then(|()| drive_orders(cb, plan, limit, rate, window, || Ok(())));
    let id = SessionId::try_new("FIX.4.4", "CLIENT", "EXCHANGE", "").map_err(qe)?;
    if let Ok(mut s) = ini.session(id) {
        let _ = s.logout();
    }
    let t = Instant::now();
    while (ini.is_logged_on().unwrap_or(false) || acc.is_logged_on().unwrap_or(false))
        && t.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = ini.stop();
    let _ = acc.stop();
    let r = r?;
    if echo.failures.load(Ordering::Relaxed) > 0 {
        return Err("QuickFIX acceptor failed to send reports".into());
    }
    Ok(r)
}

/// Log callbacks that time a resend: the ResendRequest's arrival and the moment the resent
/// message with MsgSeqNum `target` is handed to the socket.
struct ResendClock {
    epoch: Instant,
    rr_in_ns: AtomicU64,
    target: AtomicU32,
    last_out_ns: AtomicU64,
    resent: AtomicU64,
    debug: QfLog,
}

fn seq_of(msg: &str) -> Option<u32> {
    let b = msg.as_bytes();
    let at = memchr::memmem::find(b, b"\x0134=")? + 4;
    let end = memchr::memchr(1, &b[at..])? + at;
    msg.get(at..end)?.parse().ok()
}

impl LogCallback for ResendClock {
    fn on_event(&self, s: Option<&SessionId>, msg: &str) {
        self.debug.on_event(s, msg);
    }
    fn on_incoming(&self, s: Option<&SessionId>, msg: &str) {
        self.debug.on_incoming(s, msg);
        if msg.contains("\x0135=2\x01") {
            self.rr_in_ns
                .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Release);
        }
    }
    fn on_outgoing(&self, s: Option<&SessionId>, msg: &str) {
        self.debug.on_outgoing(s, msg);
        // Resent messages carry PossDupFlag=Y (43=Y) in the header.
        if memchr::memmem::find(msg.as_bytes(), b"\x0143=Y\x01").is_some() {
            self.resent.fetch_add(1, Ordering::Relaxed);
            if seq_of(msg) == Some(self.target.load(Ordering::Relaxed)) {
                self.last_out_ns
                    .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Release);
            }
        }
    }
}

/// The acceptor's application in the resend run: does nothing but count.
struct Quiet {
    activity: AtomicU64,
}

impl ApplicationCallback for Quiet {
    fn on_msg_from_app(&self, _m: &Message, _s: &SessionId) -> Result<(), MsgFromAppError> {
        self.activity.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One range's result of [`resend`].
pub struct ResendResult {
    /// Messages in the range.
    pub n: u32,
    /// Inside QuickFIX: ResendRequest in -> last resent message out (ns), per repetition.
    pub inside: Histogram<u64>,
    /// At the client: ResendRequest written -> last resent message read (ns), per repetition.
    pub wire: Histogram<u64>,
}

fn utc_now() -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut b = [0u8; 32];
    let l = fixsession::time::format_timestamp(now, 3, &mut b);
    b[..l].to_vec()
}

fn client_msg(msg_type: &[u8], seq: u32, extra: &[(u32, &[u8])]) -> Vec<u8> {
    let s = seq.to_string();
    let ts = utc_now();
    let mut f: Vec<(u32, &[u8])> = vec![
        (49, b"CLIENT"),
        (56, b"EXCHANGE"),
        (34, s.as_bytes()),
        (52, &ts),
    ];
    f.extend_from_slice(extra);
    hwsim::gen::build_message(msg_type, &f)
}

/// Reads messages from `s` into `buf` until `done(msg)` returns true for one; errors after
/// `timeout`.
fn read_until(
    s: &mut std::net::TcpStream,
    buf: &mut Vec<u8>,
    timeout: Duration,
    mut done: impl FnMut(&[u8]) -> bool,
) -> Result<(), String> {
    use std::io::Read;
    let t = Instant::now();
    let mut chunk = vec![0u8; 256 << 10];
    loop {
        let mut at = 0;
        let mut hit = false;
        while let Some(l) = crate::util::message_len(&buf[at..]) {
            let m = &buf[at..at + l];
            at += l;
            if done(m) {
                hit = true;
                break;
            }
        }
        buf.drain(..at);
        if hit {
            return Ok(());
        }
        if t.elapsed() > timeout {
            return Err(format!("QuickFIX resend: nothing more within {timeout:?}"));
        }
        match s.read(&mut chunk) {
            Ok(0) => return Err("QuickFIX closed the connection".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn field_is(m: &[u8], tag_eq: &[u8], v: &[u8]) -> bool {
    let mut pat = Vec::with_capacity(tag_eq.len() + v.len() + 2);
    pat.push(1);
    pat.extend_from_slice(tag_eq);
    pat.extend_from_slice(v);
    pat.push(1);
    memchr::memmem::find(m, &pat).is_some()
}

/// A QuickFIX acceptor (poll mode, FileStore) sends `stored` ExecutionReports to a raw TCP
/// client, which then asks, `reps` times per range, for the last `n` again.
pub fn resend(stored: u32, ranges: &[(u32, u32)]) -> Result<Vec<ResendResult>, String> {
    use std::io::Write;
    let _one = one_run();
    let dir = std::env::temp_dir().join(format!("fixbench-qfresend-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let cfg = settings_file(&dir, true, "EXCHANGE", "CLIENT", port)?;
    let clock = Arc::new(ResendClock {
        epoch: Instant::now(),
        rr_in_ns: AtomicU64::new(0),
        target: AtomicU32::new(0),
        last_out_ns: AtomicU64::new(0),
        resent: AtomicU64::new(0),
        debug: QfLog::new(),
    });
    let quiet = Arc::new(Quiet {
        activity: AtomicU64::new(0),
    });
    let ready = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let fill = Arc::new(AtomicU32::new(0));
    // The acceptor thread: polls; sends the `stored` reports itself when `fill` is set.
    let acc = {
        let (cfg, clock, quiet, ready, stop, fill) = (
            cfg.clone(),
            clock.clone(),
            quiet.clone(),
            ready.clone(),
            stop.clone(),
            fill.clone(),
        );
        std::thread::spawn(move || -> Result<(), String> {
            pin(1);
            let settings = SessionSettings::try_from_path(&cfg).map_err(qe)?;
            let store = FileMessageStoreFactory::try_new(&settings).map_err(qe)?;
            let log = LogFactory::try_new(&*clock).map_err(qe)?;
            let app = Application::try_new(&*quiet).map_err(qe)?;
            let mut acc = Acceptor::try_new(
                &settings,
                &app,
                &store,
                &log,
                FixSocketServerKind::SingleThreaded,
            )
            .map_err(qe)?;
            acc.poll().map_err(qe)?;
            ready.store(true, Ordering::Release);
            let id = SessionId::try_new("FIX.4.4", "EXCHANGE", "CLIENT", "").map_err(qe)?;
            let echo = EchoCallbacks::new();
            let mut idle = SpinYield::default();
            let mut stopping: Option<Instant> = None;
            let mut last = (0u64, 0u64);
            loop {
                let n = fill.swap(0, Ordering::AcqRel);
                for k in 0..n {
                    send_to_target(echo.report(&format!("O{}", k + 1))?, &id).map_err(qe)?;
                    if k % 64 == 63 {
                        acc.poll().map_err(qe)?;
                    }
                }
                acc.poll().map_err(qe)?;
                let a = (
                    quiet.activity.load(Ordering::Relaxed),
                    clock.rr_in_ns.load(Ordering::Relaxed),
                );
                idle.idle(a != last || n > 0);
                last = a;
                if stop.load(Ordering::Relaxed) {
                    let t = *stopping.get_or_insert_with(Instant::now);
                    if !acc.is_logged_on().map_err(qe)? || t.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
            }
            Ok(())
        })
    };
    pin(0);
    let res = (|| -> Result<Vec<ResendResult>, String> {
        let t = Instant::now();
        while !ready.load(Ordering::Acquire) {
            if acc.is_finished() || t.elapsed() > Duration::from_secs(10) {
                return Err("QuickFIX acceptor did not start".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut seq = 1u32;
        s.write_all(&client_msg(
            b"A",
            seq,
            &[(98, b"0"), (108, b"60"), (141, b"Y")],
        ))
        .map_err(|e| e.to_string())?;
        seq += 1;
        read_until(&mut s, &mut buf, Duration::from_secs(10), |m| {
            field_is(m, b"35=", b"A")
        })?;
        // QuickFIX's next MsgSeqNum after its Logon is 2: the reports are 2..=stored+1.
        fill.store(stored, Ordering::Release);
        let last = stored + 1;
        let last_s = last.to_string();
        read_until(&mut s, &mut buf, Duration::from_secs(120), |m| {
            field_is(m, b"34=", last_s.as_bytes())
        })?;
        let mut out = Vec::new();
        for &(n, reps) in ranges {
            let n = n.min(stored);
            let begin = last - n + 1;
            let (b_s, e_s) = (begin.to_string(), last.to_string());
            let mut inside = histogram();
            let mut wire = histogram();
            for _ in 0..reps {
                clock.target.store(last, Ordering::Relaxed);
                clock.last_out_ns.store(0, Ordering::Relaxed);
                clock.rr_in_ns.store(0, Ordering::Relaxed);
                let rr = client_msg(b"2", seq, &[(7, b_s.as_bytes()), (16, e_s.as_bytes())]);
                seq += 1;
                let t0 = Instant::now();
                s.write_all(&rr).map_err(|e| e.to_string())?;
                read_until(&mut s, &mut buf, Duration::from_secs(60), |m| {
                    field_is(m, b"34=", e_s.as_bytes()) && field_is(m, b"43=", b"Y")
                })?;
                let dt = t0.elapsed();
                let _ = wire.record((dt.as_nanos() as u64).max(1));
                let (a, b) = (
                    clock.rr_in_ns.load(Ordering::Acquire),
                    clock.last_out_ns.load(Ordering::Acquire),
                );
                if a > 0 && b > a {
                    let _ = inside.record(b - a);
                }
            }
            out.push(ResendResult { n, inside, wire });
        }
        let _ = s.write_all(&client_msg(b"5", seq, &[]));
        let _ = read_until(&mut s, &mut buf, Duration::from_secs(2), |m| {
            field_is(m, b"35=", b"5")
        });
        Ok(out)
    })();
    stop.store(true, Ordering::Relaxed);
    let a = acc
        .join()
        .map_err(|_| "QuickFIX acceptor thread panicked".to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let r = res?;
    a?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quickfix_parses_the_stream() {
        let (stream, msgs) = hwsim::gen::valid_stream(5, 64 << 10, 150, 350);
        let cut = crate::util::cut_messages(&stream);
        let text: Vec<&str> = cut
            .iter()
            .map(|m| std::str::from_utf8(m).unwrap())
            .collect();
        assert_eq!(text.len() as u64, msgs);
        parse(&text, 2).expect("QuickFIX parse");
        // A corrupted checksum is rejected.
        let mut bad = cut[0].to_vec();
        let l = bad.len();
        bad[l - 2] = if bad[l - 2] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(parse(&[bad.as_str()], 1).is_err());
    }

    #[test]
    fn quickfix_round_trips_in_both_modes() {
        for mode in [Mode::Poll, Mode::Threaded] {
            let r = load(
                mode,
                Plan {
                    warmup: 10,
                    count: 100,
                },
                Duration::from_secs(20),
                0,
                1,
            )
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            // Measuring starts after the last report acknowledged at the warm-up switch; in
            // threaded mode one more may arrive while the switch happens, so 99 or 100 of the
            // 110 orders are measured, each exactly once.
            assert!((99..=100).contains(&r.acked), "{mode:?}: {}", r.acked);
        }
    }

    #[test]
    fn quickfix_serves_resend_requests() {
        let r = resend(300, &[(50, 3), (300, 1)]).expect("QuickFIX resend");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].wire.len(), 3);
        assert_eq!(r[0].inside.len(), 3);
        assert_eq!(r[1].n, 300);
    }
}
