//! Shared test support: a recording output, a recording application, a peer message builder and
//! the scenario-script interpreter (see `scenarios.rs` for the script language).

#![allow(dead_code)]

use std::collections::VecDeque;

use fixsession::store::MemoryStore;
use fixsession::time::format_timestamp;
use fixsession::wire::Fields;
use fixsession::{
    Application, DeliverInfo, DisconnectReason, Event, Responder, Role, SequencerOp, Session,
    SessionConfig, SessionOutput,
};
use hwsim::fast::FastPath;
use hwsim::sequencer::Sequencer;
use hwsim::Verdict;

pub const NS: u64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z.
pub const T0: u64 = 1_700_000_000 * NS;

/// Records every output.
#[derive(Default)]
pub struct Rec {
    pub sent: VecDeque<Vec<u8>>,
    pub ops: Vec<SequencerOp>,
    pub events: VecDeque<String>,
    pub disconnects: VecDeque<DisconnectReason>,
}

impl SessionOutput for Rec {
    fn send_bytes(&mut self, bytes: &[u8]) {
        self.sent.push_back(bytes.to_vec());
    }
    fn sequencer(&mut self, op: SequencerOp) {
        self.ops.push(op);
    }
    fn event(&mut self, ev: &Event<'_>) {
        self.events.push_back(format!("{ev:?}"));
    }
    fn disconnect(&mut self, reason: DisconnectReason) {
        self.disconnects.push_back(reason);
    }
}

/// Records delivered messages; answers nothing. Message types in `unsupported` are refused.
pub struct RecApp {
    pub delivered: VecDeque<(Vec<u8>, DeliverInfo)>,
    pub unsupported: Vec<Vec<u8>>,
    pub refuse_password: Option<Vec<u8>>,
    pub decline_resend_of: Vec<Vec<u8>>,
}

impl Default for RecApp {
    fn default() -> Self {
        RecApp {
            delivered: VecDeque::new(),
            unsupported: vec![b"B".to_vec()],
            refuse_password: None,
            decline_resend_of: Vec::new(),
        }
    }
}

impl Application for RecApp {
    fn on_message(&mut self, msg: &[u8], info: &DeliverInfo, _r: &mut dyn Responder) {
        self.delivered.push_back((msg.to_vec(), *info));
    }
    fn supports(&self, t: &[u8]) -> bool {
        !self.unsupported.iter().any(|u| u == t)
    }
    fn authenticate(&mut self, _u: Option<&[u8]>, p: Option<&[u8]>) -> bool {
        match &self.refuse_password {
            Some(bad) => p != Some(bad.as_slice()),
            None => true,
        }
    }
    fn allow_resend(&mut self, _now: u64, _seq: u32, t: &[u8], _o: Option<u64>) -> bool {
        !self.decline_resend_of.iter().any(|u| u == t)
    }
}

/// Builds a complete message (BodyLength and CheckSum computed) from `fields`, which start
/// with 35 and do not include 8, 9 or 10.
pub fn build(begin: &str, fields: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in fields {
        body.extend_from_slice(t.to_string().as_bytes());
        body.push(b'=');
        body.extend_from_slice(v);
        body.push(1);
    }
    let mut m = format!("8={begin}\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(&body);
    let sum: u32 = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

pub fn ts(ns: u64) -> Vec<u8> {
    let mut b = [0u8; 32];
    let n = format_timestamp(ns, 3, &mut b);
    b[..n].to_vec()
}

/// First value of `tag`.
pub fn get(msg: &[u8], tag: u32) -> Option<Vec<u8>> {
    Fields::new(msg)
        .find(|(t, _)| *t == tag)
        .map(|(_, v)| v.to_vec())
}

pub fn show(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg).replace('\x01', "|")
}

/// The sequencer a harness drives: any [`Sequencer`] (the fast path by default; the
/// hardware-in-the-loop suite in `fpga/sim/tests` gives the verilated RTL), with the fast path's
/// calling convention.
pub struct TestSequencer(pub Box<dyn Sequencer>);

impl TestSequencer {
    pub fn process(&mut self, session: u16, chunk: &[u8], mut on: impl FnMut(&Verdict, &[u8])) {
        self.0.process(session, chunk, &mut on);
        if let Some(f) = self.0.failure() {
            panic!("sequencer {} failed: {f}", self.0.name());
        }
    }
    pub fn set_expected(&mut self, session: u16, e: u32) {
        self.0.set_expected(session, e)
    }
    pub fn clear_window(&mut self, session: u16) {
        self.0.clear_window(session)
    }
    pub fn reset_stream(&mut self, session: u16) {
        self.0.reset_stream(session)
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// A session under test with its sequencer and a fake clock.
pub struct Harness {
    pub s: Session<MemoryStore, RecApp>,
    pub fp: TestSequencer,
    pub out: Rec,
    pub now: u64,
    pub cfg: SessionConfig,
    applied_ops: usize,
    line: usize,
}

pub fn default_config() -> SessionConfig {
    let mut c = SessionConfig::new("FIX.4.4", "ENGINE", "PEER", Role::Acceptor);
    c.heart_bt_int = 30;
    c.max_latency = 120;
    c
}

impl Harness {
    /// A harness on the software fast path.
    pub fn new(cfg: SessionConfig) -> Self {
        let fp = Box::new(FastPath::new(1, cfg.window, cfg.max_message_size));
        Harness::with_sequencer(cfg, fp)
    }

    /// A harness on `seq` (built for `cfg.window` and `cfg.max_message_size`, session 0).
    pub fn with_sequencer(cfg: SessionConfig, seq: Box<dyn Sequencer>) -> Self {
        let fp = TestSequencer(seq);
        Harness {
            s: Session::new(cfg.clone(), MemoryStore::new(), RecApp::default()),
            fp,
            out: Rec::default(),
            now: T0,
            cfg,
            applied_ops: 0,
            line: 0,
        }
    }

    fn apply_ops(&mut self) {
        while self.applied_ops < self.out.ops.len() {
            match self.out.ops[self.applied_ops] {
                SequencerOp::SetExpected(e) => self.fp.set_expected(0, e),
                SequencerOp::ClearWindow => self.fp.clear_window(0),
                SequencerOp::ResetStream => self.fp.reset_stream(0),
            }
            self.applied_ops += 1;
        }
    }

    /// Feeds raw bytes through the sequencer into the session.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.apply_ops();
        let mut verdicts = Vec::new();
        self.fp
            .process(0, bytes, |v, m| verdicts.push((*v, m.to_vec())));
        for (v, m) in verdicts {
            self.s.on_verdict(self.now, &v, &m, &mut self.out);
            self.apply_ops();
        }
    }

    fn fail(&self, msg: String) -> ! {
        let sent: Vec<String> = self.out.sent.iter().map(|m| show(m)).collect();
        panic!(
            "script line {}: {msg}\n  pending sent: {sent:#?}\n  events: {:#?}\n  disconnects: {:?}",
            self.line, self.out.events, self.out.disconnects
        );
    }

    fn parse_time(&self, v: &str) -> u64 {
        // now, now+5s, now-200s
        let rest = v
            .strip_prefix("now")
            .unwrap_or_else(|| panic!("bad time {v}"));
        if rest.is_empty() {
            return self.now;
        }
        let (sign, d) = rest.split_at(1);
        let d = parse_dur(d);
        if sign == "+" {
            self.now + d
        } else {
            self.now - d
        }
    }

    /// Parses `tag=value` tokens into fields (values `now±Ns` become timestamps).
    fn fields(&self, toks: &[&str]) -> Vec<(u32, Vec<u8>)> {
        toks.iter()
            .map(|t| {
                let (tag, v) = t.split_once('=').unwrap_or_else(|| panic!("bad field {t}"));
                let tag: u32 = tag.parse().unwrap_or_else(|_| panic!("bad tag {t}"));
                let v = if v.starts_with("now") {
                    ts(self.parse_time(v))
                } else {
                    v.replace("\\s", " ").into_bytes()
                };
                (tag, v)
            })
            .collect()
    }

    /// A peer message: header defaults (49=PEER 56=ENGINE 52=now) unless given.
    pub fn peer_msg(&self, toks: &[&str]) -> Vec<u8> {
        let given = self.fields(toks);
        let mut begin = self.cfg.begin_string.clone();
        let mut f: Vec<(u32, Vec<u8>)> = Vec::new();
        let has = |t: u32| given.iter().any(|(x, _)| *x == t);
        let first = |t: u32| given.iter().find(|(x, _)| *x == t).map(|(_, v)| v.clone());
        if let Some(b) = first(8) {
            begin = String::from_utf8(b).unwrap();
        }
        f.push((35, first(35).expect("35 required")));
        f.push((
            49,
            first(49).unwrap_or(self.cfg.target_comp_id.clone().into_bytes()),
        ));
        f.push((
            56,
            first(56).unwrap_or(self.cfg.sender_comp_id.clone().into_bytes()),
        ));
        if let Some(s) = first(34) {
            f.push((34, s));
        }
        if !has(52) {
            f.push((52, ts(self.now)));
        }
        for (t, v) in given {
            if !matches!(t, 8 | 35 | 49 | 56 | 34) {
                f.push((t, v));
            }
        }
        build(&begin, &f)
    }

    fn check_fields(&self, what: &str, msg: &[u8], toks: &[&str]) {
        for t in toks {
            if let Some(tag) = t.strip_prefix('!') {
                let tag: u32 = tag.parse().unwrap();
                if get(msg, tag).is_some() {
                    self.fail(format!("{what} {} has tag {tag}", show(msg)));
                }
                continue;
            }
            let (tag, v) = t.split_once('=').unwrap();
            let tag: u32 = tag.parse().unwrap();
            let got = get(msg, tag);
            let ok = match (v, &got) {
                ("*", Some(_)) => true,
                (v, Some(g)) if v.starts_with("~") => {
                    String::from_utf8_lossy(g).contains(&v[1..].replace("\\s", " "))
                }
                (v, Some(g)) => g == v.replace("\\s", " ").as_bytes(),
                _ => false,
            };
            if !ok {
                self.fail(format!("{what} {}: expected {t}", show(msg)));
            }
        }
    }

    /// Runs a script (see `scenarios.rs`).
    pub fn run(&mut self, script: &str) {
        for (i, raw) in script.lines().enumerate() {
            self.line = i + 1;
            let line = raw.split('#').next().unwrap().trim();
            if line.is_empty() {
                continue;
            }
            let toks: Vec<&str> = line.split_whitespace().collect();
            match toks.as_slice() {
                ["connect"] => {
                    self.s.on_connect(self.now, &mut self.out);
                    self.apply_ops();
                }
                ["disconnect"] => {
                    self.s.on_disconnect(self.now, &mut self.out);
                    self.apply_ops();
                }
                ["logout", text @ ..] => {
                    self.s.logout(self.now, &text.join(" "), &mut self.out);
                }
                ["advance", d] => {
                    self.now += parse_dur(d);
                    self.s.on_timer(self.now, &mut self.out);
                    self.apply_ops();
                }
                ["recv", rest @ ..] => {
                    let m = self.peer_msg(rest);
                    self.feed(&m);
                }
                ["recv-badsum", rest @ ..] => {
                    let mut m = self.peer_msg(rest);
                    let n = m.len();
                    m[n - 2] = if m[n - 2] == b'9' { b'0' } else { m[n - 2] + 1 };
                    self.feed(&m);
                }
                ["recv-raw", rest @ ..] => {
                    let m = rest.join(" ").replace('|', "\x01");
                    self.feed(m.as_bytes());
                }
                ["send", rest @ ..] => {
                    let f = self.fields(rest);
                    let (t, body) = f.split_first().expect("35 first");
                    assert_eq!(t.0, 35);
                    let now = self.now;
                    if let Err(e) = self.s.send(
                        now,
                        &t.1,
                        |b| {
                            for (tag, v) in body {
                                b.field(*tag, v);
                            }
                        },
                        &mut self.out,
                    ) {
                        self.fail(format!("send failed: {e}"));
                    }
                }
                ["drain"] => self.out.sent.clear(),
                ["expect", "send", rest @ ..] => match self.out.sent.pop_front() {
                    Some(m) => self.check_fields("sent", &m, rest),
                    None => self.fail(format!("nothing sent, expected {rest:?}")),
                },
                ["expect", "nosend"] => {
                    if let Some(m) = self.out.sent.front() {
                        self.fail(format!("unexpected send {}", show(m)));
                    }
                }
                ["expect", "deliver", rest @ ..] => {
                    if let [one] = rest {
                        if let Some(r) = one.strip_prefix("34=") {
                            if let Some((a, b)) = r.split_once("..") {
                                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                                for seq in a..=b {
                                    let tok = format!("34={seq}");
                                    self.expect_deliver(&[tok.as_str()]);
                                }
                                continue;
                            }
                        }
                    }
                    self.expect_deliver(rest);
                }
                ["expect", "nodeliver"] => {
                    if let Some((m, _)) = self.s.app().delivered.front() {
                        self.fail(format!("unexpected delivery {}", show(m)));
                    }
                }
                ["expect", "disconnect", rest @ ..] => match self.out.disconnects.pop_front() {
                    Some(r) => {
                        if let [want] = rest {
                            if !format!("{r:?}").contains(want) {
                                self.fail(format!("disconnect {r:?}, expected {want}"));
                            }
                        }
                    }
                    None => self.fail("no disconnect".into()),
                },
                ["expect", "connected"] => {
                    if let Some(r) = self.out.disconnects.front() {
                        self.fail(format!("unexpected disconnect {r:?}"));
                    }
                }
                ["expect", "event", rest @ ..] => {
                    let want = rest.join(" ");
                    match self.out.events.iter().position(|e| e.contains(&want)) {
                        Some(p) => {
                            self.out.events.drain(..=p);
                        }
                        None => self.fail(format!("no event containing `{want}`")),
                    }
                }
                ["expect", "target", n] => {
                    let n: u32 = n.parse().unwrap();
                    if self.s.next_target_seq() != n {
                        self.fail(format!("next target {} != {n}", self.s.next_target_seq()));
                    }
                }
                ["expect", "sender", n] => {
                    let n: u32 = n.parse().unwrap();
                    if self.s.next_sender_seq() != n {
                        self.fail(format!("next sender {} != {n}", self.s.next_sender_seq()));
                    }
                }
                ["expect", "held", n] => {
                    let n: u32 = n.parse().unwrap();
                    if self.s.held_count() != n {
                        self.fail(format!("held {} != {n}", self.s.held_count()));
                    }
                }
                ["expect", "state", st] => {
                    let got = format!("{:?}", self.s.state());
                    if !got.starts_with(st) {
                        self.fail(format!("state {got}, expected {st}"));
                    }
                }
                _ => panic!("script line {}: unknown command `{line}`", i + 1),
            }
        }
    }

    fn expect_deliver(&mut self, toks: &[&str]) {
        let Some((m, _info)) = self.s.app_mut().delivered.pop_front() else {
            self.fail(format!("nothing delivered, expected {toks:?}"));
        };
        self.check_fields("delivered", &m, toks);
    }
}

pub fn parse_dur(d: &str) -> u64 {
    if let Some(x) = d.strip_suffix("ms") {
        x.parse::<u64>().unwrap() * 1_000_000
    } else if let Some(x) = d.strip_suffix('s') {
        x.parse::<u64>().unwrap() * NS
    } else {
        panic!("bad duration {d}")
    }
}

/// Runs `script` against a fresh acceptor with the default configuration.
pub fn scenario(script: &str) -> Harness {
    let mut h = Harness::new(default_config());
    h.run(script);
    h
}

/// Runs `script` against a fresh session with `cfg`.
pub fn scenario_with(cfg: SessionConfig, script: &str) -> Harness {
    let mut h = Harness::new(cfg);
    h.run(script);
    h
}

/// Fails if the session reported that its target and the sequencer's expected number disagree
/// (`Event::SequencerMismatch`): every later verdict would be misclassified.
pub fn assert_no_sequencer_mismatch(h: &Harness) {
    assert!(
        !h.out.events.iter().any(|e| e.contains("SequencerMismatch")),
        "the session and the sequencer disagreed: {:#?}",
        h.out.events
    );
}

/// What a session asked of its output, for tests that move the bytes themselves: the messages it
/// sent (one per entry), the sequencer operations, whether it asked to disconnect.
#[derive(Default)]
pub struct Out {
    pub sent: Vec<Vec<u8>>,
    pub ops: Vec<SequencerOp>,
    pub disconnected: bool,
}

impl SessionOutput for Out {
    fn send_bytes(&mut self, b: &[u8]) {
        self.sent.push(b.to_vec());
    }
    fn sequencer(&mut self, op: SequencerOp) {
        self.ops.push(op);
    }
    fn event(&mut self, _ev: &Event<'_>) {}
    fn disconnect(&mut self, _r: DisconnectReason) {
        self.disconnected = true;
    }
}

/// One end of a two-session test: a session behind its own software sequencer (`FastPath`, one
/// stream), wired as the runtime wires them: received bytes go through the sequencer, each verdict
/// to the session, and each sequencer operation the session asks for is applied at once (after
/// every call this type makes into the session), before the next verdict.
pub struct Endpoint<S: fixsession::store::MessageStore, A: Application> {
    pub s: Session<S, A>,
    pub fp: FastPath,
    pub out: Out,
    verdicts: Vec<(Verdict, Vec<u8>)>,
}

impl<S: fixsession::store::MessageStore, A: Application> Endpoint<S, A> {
    pub fn new(cfg: SessionConfig, store: S, app: A) -> Self {
        let fp = FastPath::new(1, cfg.window, cfg.max_message_size);
        Endpoint {
            s: Session::new(cfg, store, app),
            fp,
            out: Out::default(),
            verdicts: Vec::new(),
        }
    }

    /// A crash and restart: the store and the application survive; the session's memory (held
    /// messages, timers), the sequencer's state and the output do not.
    pub fn restart(self) -> Self {
        let (cfg, store, app) = self.s.into_parts();
        Endpoint::new(cfg, store, app)
    }

    pub fn apply_ops(&mut self) {
        for op in self.out.ops.drain(..) {
            match op {
                SequencerOp::SetExpected(e) => self.fp.set_expected(0, e),
                SequencerOp::ClearWindow => self.fp.clear_window(0),
                SequencerOp::ResetStream => self.fp.reset_stream(0),
            }
        }
    }

    /// Bytes from the peer (any chunking): through the sequencer, then each verdict to the session.
    pub fn recv(&mut self, now: u64, bytes: &[u8]) {
        let mut vs = std::mem::take(&mut self.verdicts);
        self.fp.process(0, bytes, |v, m| vs.push((*v, m.to_vec())));
        for (v, m) in vs.drain(..) {
            self.s.on_verdict(now, &v, &m, &mut self.out);
            self.apply_ops();
        }
        self.verdicts = vs;
    }

    /// The application sends `msg_type` with `fields` (journalled; sent when logged on). Returns its
    /// MsgSeqNum; a refused send fails the test.
    pub fn send(&mut self, now: u64, msg_type: &[u8], fields: &[(u32, &[u8])]) -> u32 {
        let seq = self
            .s
            .send(
                now,
                msg_type,
                |b| {
                    for (tag, value) in fields {
                        b.field(*tag, value);
                    }
                },
                &mut self.out,
            )
            .expect("application send");
        self.apply_ops();
        seq
    }

    pub fn connect(&mut self, now: u64) {
        self.s.on_connect(now, &mut self.out);
        self.apply_ops();
    }

    pub fn timer(&mut self, now: u64) {
        self.s.on_timer(now, &mut self.out);
        self.apply_ops();
    }

    /// The connection closed: tells the session and clears what the output held.
    pub fn disconnect(&mut self, now: u64) {
        self.s.on_disconnect(now, &mut self.out);
        self.apply_ops();
        self.out = Out::default();
    }
}
