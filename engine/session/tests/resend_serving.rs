//! Serving the peer's ResendRequests incrementally (docs/session.md, "Serving the peer's
//! ResendRequests"): a resumable cursor sends at most `max_resend_range` numbers per call and at
//! most `max_resends_per_second` numbers per second, stops when the output is full
//! (`SessionOutput::can_send`) and continues on `on_timer`; what we send meanwhile waits behind
//! the resend, so our numbers stay in order on the wire; further requests merge into the one in
//! progress.

mod common;

use std::cell::Cell;
use std::collections::VecDeque;

use common::*;
use fixsession::store::MemoryStore;
use fixsession::{DisconnectReason, Event, SequencerOp, Session, SessionConfig, SessionOutput};
use hwsim::fast::FastPath;

/// An output that takes at most `room` more messages (then says no until refilled).
#[derive(Default)]
struct Limited {
    sent: VecDeque<Vec<u8>>,
    events: Vec<String>,
    room: Cell<usize>,
    disconnects: Vec<DisconnectReason>,
}

impl SessionOutput for Limited {
    fn send_bytes(&mut self, b: &[u8]) {
        self.sent.push_back(b.to_vec());
        self.room.set(self.room.get().saturating_sub(1));
    }
    fn sequencer(&mut self, _op: SequencerOp) {}
    fn event(&mut self, ev: &Event<'_>) {
        self.events.push(format!("{ev:?}"));
    }
    fn disconnect(&mut self, r: DisconnectReason) {
        self.disconnects.push(r);
    }
    fn can_send(&self, _len: usize) -> bool {
        self.room.get() > 0
    }
}

/// A logged-on acceptor that has sent `n` orders (MsgSeqNum 2..=n+1 after its Logon 1).
fn with_orders(cfg: SessionConfig, n: u32) -> Harness {
    let mut h = Harness::new(cfg);
    h.run("connect\nrecv 35=A 34=1 108=30\nexpect send 35=A 34=1");
    for i in 0..n {
        let id = format!("{i}");
        let now = h.now;
        h.s.send(
            now,
            b"D",
            |b| {
                b.field(11, id.as_bytes());
            },
            &mut h.out,
        )
        .unwrap();
    }
    h.out.sent.clear();
    h.out.events.clear();
    h
}

fn seqs(msgs: &[Vec<u8>]) -> Vec<u32> {
    msgs.iter()
        .map(|m| {
            String::from_utf8(get(m, 34).unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

fn cfg(range: u32, per_second: u32) -> SessionConfig {
    let mut c = default_config();
    c.max_resend_range = range;
    c.max_resends_per_second = per_second;
    c
}

#[test]
fn should_serve_a_large_resend_in_bounded_steps_continued_by_on_timer() {
    let mut h = with_orders(cfg(10, 0), 35);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    h.feed(&m);
    // First step: GapFill over our Logon (1) + orders 2..=10.
    assert_eq!(
        h.out.sent.len(),
        10,
        "one step covers max_resend_range numbers"
    );
    assert!(h.s.serving_resend());
    assert!(h.out.events.iter().any(|e| e.contains("ResendLimited")));
    // The session asks for its next step at once.
    assert!(h.s.next_deadline().unwrap() <= h.now);
    let mut steps = 1;
    while h.s.serving_resend() {
        let now = h.now;
        h.s.on_timer(now, &mut h.out);
        steps += 1;
        assert!(steps < 10, "did not finish");
    }
    assert_eq!(steps, 4);
    let sent: Vec<Vec<u8>> = h.out.sent.drain(..).collect();
    // Numbers 1..=36 covered exactly once, in order: GapFill(1->2) then 2..=36.
    let s = seqs(&sent);
    assert_eq!(s, (1..=36).collect::<Vec<_>>());
    assert_eq!(get(&sent[0], 35).as_deref(), Some(&b"4"[..]));
    for m in &sent[1..] {
        assert_eq!(get(m, 35).as_deref(), Some(&b"D"[..]));
        assert_eq!(get(m, 43).as_deref(), Some(&b"Y"[..]));
    }
    assert!(h.out.events.iter().any(|e| e.contains("ResendServed")));
}

#[test]
fn should_write_byte_for_byte_what_a_single_step_writes() {
    // Admin runs crossing step boundaries become the same single GapFill.
    let script = "
        send 35=D 11=a          # 2
        advance 30s             # Heartbeat 3
        recv 35=0 34=2
        advance 30s             # Heartbeat 4
        recv 35=0 34=3
        advance 30s             # Heartbeat 5
        send 35=D 11=b          # 6
        send 35=D 11=c          # 7
        drain
        recv 35=2 34=4 7=1 16=0";
    let run = |range: u32| {
        let mut h = Harness::new(cfg(range, 0));
        h.run("connect\nrecv 35=A 34=1 108=30");
        h.run(script);
        while h.s.serving_resend() {
            let now = h.now;
            h.s.on_timer(now, &mut h.out);
        }
        h.out.sent.drain(..).map(|m| show(&m)).collect::<Vec<_>>()
    };
    let whole = run(0);
    assert!(whole.len() >= 5, "{whole:#?}");
    for range in [1, 2, 3] {
        assert_eq!(run(range), whole, "max_resend_range {range}");
    }
}

#[test]
fn should_queue_our_sends_behind_the_resend_in_order() {
    let mut h = with_orders(cfg(5, 0), 20);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    h.feed(&m);
    assert!(h.s.serving_resend());
    // Application sends and a heartbeat while the resend is in progress: journaled, not written.
    for id in ["n1", "n2"] {
        let now = h.now;
        let seq =
            h.s.send(
                now,
                b"D",
                |b| {
                    b.field(11, id.as_bytes());
                },
                &mut h.out,
            )
            .unwrap();
        assert!(seq > 21);
    }
    let before = h.out.sent.len();
    assert!(h.out.events.iter().any(|e| e.contains("Queued")));
    while h.s.serving_resend() {
        let now = h.now;
        h.s.on_timer(now, &mut h.out);
    }
    let sent: Vec<Vec<u8>> = h.out.sent.drain(..).collect();
    assert!(sent.len() > before);
    let s = seqs(&sent);
    assert_eq!(
        s,
        (1..=23).collect::<Vec<_>>(),
        "numbers on the wire in order"
    );
    // The queued ones go out as journaled: no PossDupFlag.
    for m in &sent[21..] {
        assert_eq!(get(m, 43), None, "{}", show(m));
    }
    assert_eq!(get(&sent[21], 11).as_deref(), Some(&b"n1"[..]));
    assert_eq!(get(&sent[22], 11).as_deref(), Some(&b"n2"[..]));
    // Afterwards sends are written at once again.
    let now = h.now;
    h.s.send(
        now,
        b"D",
        |b| {
            b.field(11, b"n3");
        },
        &mut h.out,
    )
    .unwrap();
    assert_eq!(h.out.sent.len(), 1);
}

#[test]
fn should_pause_when_the_output_is_full_and_resume_exactly_once() {
    let cfg = cfg(0, 0);
    let mut fp = FastPath::new(1, cfg.window, cfg.max_message_size);
    let mut h = with_orders(cfg.clone(), 50);
    // Re-drive the same session through a back-pressured output.
    let mut out = Limited::default();
    out.room.set(7);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    fp.set_expected(0, 2);
    let mut s = std::mem::replace(
        &mut h.s,
        Session::new(default_config(), MemoryStore::new(), RecApp::default()),
    );
    fp.process(0, &m, |v, b| s.on_verdict(h.now, v, b, &mut out));
    assert_eq!(out.sent.len(), 7, "stops when the output says no");
    assert!(s.serving_resend());
    // Still full: nothing more.
    s.on_timer(h.now, &mut out);
    assert_eq!(out.sent.len(), 7);
    // A send from the application meanwhile waits too.
    s.send(
        h.now,
        b"D",
        |b| {
            b.field(11, b"late");
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(out.sent.len(), 7);
    let mut rounds = 0;
    while s.serving_resend() {
        out.room.set(3);
        s.on_timer(h.now, &mut out);
        rounds += 1;
        assert!(rounds < 100);
    }
    assert!(out.disconnects.is_empty());
    let sent: Vec<Vec<u8>> = out.sent.drain(..).collect();
    assert_eq!(seqs(&sent), (1..=52).collect::<Vec<_>>());
    assert_eq!(get(&sent[51], 11).as_deref(), Some(&b"late"[..]));
    assert!(out.events.iter().any(|e| e.contains("ResendServed")));
}

#[test]
fn should_bound_what_a_flood_of_requests_makes_us_send_per_second() {
    let mut h = with_orders(cfg(100, 300), 1000);
    // 1000 ResendRequests 1..0 in one second: at most 300 numbers resent.
    for seq in 2..1002u32 {
        let sq = format!("34={seq}");
        let m = h.peer_msg(&["35=2", &sq, "7=1", "16=0"]);
        h.feed(&m);
        let now = h.now;
        h.s.on_timer(now, &mut h.out);
    }
    let served = h.out.sent.len();
    assert!(
        (300..=303).contains(&served),
        "{served} messages for a flood limited to 300 numbers per second"
    );
    assert!(h
        .out
        .events
        .iter()
        .any(|e| e.contains("max_resends_per_second")));
    assert!(h.out.disconnects.is_empty());
    assert_eq!(
        h.s.next_target_seq(),
        1002,
        "every request consumed its number"
    );
    // Throttled: the next step is due when the second is over.
    assert_eq!(h.s.next_deadline(), Some(h.now + NS));
    // A second later the stream (merged: one per peer) continues, again at most 300.
    h.out.sent.clear();
    h.now += NS;
    let now = h.now;
    h.s.on_timer(now, &mut h.out);
    for _ in 0..10 {
        h.s.on_timer(now, &mut h.out);
    }
    let n = h.out.sent.len();
    assert!((100..=303).contains(&n), "{n}");
}

#[test]
fn should_restart_at_the_lower_number_when_the_peer_asks_again() {
    let mut h = with_orders(cfg(10, 0), 30);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    h.feed(&m);
    let first = seqs(&h.out.sent.drain(..).collect::<Vec<_>>());
    assert_eq!(first, (1..=10).collect::<Vec<_>>());
    // The peer asks again from 5 (it lost 5..): the stream goes back to 5.
    let m = h.peer_msg(&["35=2", "34=3", "7=5", "16=0"]);
    h.feed(&m);
    while h.s.serving_resend() {
        let now = h.now;
        h.s.on_timer(now, &mut h.out);
    }
    let rest = seqs(&h.out.sent.drain(..).collect::<Vec<_>>());
    assert_eq!(rest, (5..=31).collect::<Vec<_>>());
}

#[test]
fn should_drop_the_resend_on_disconnect_and_serve_again_after_logon() {
    let mut h = with_orders(cfg(10, 0), 30);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    h.feed(&m);
    let now = h.now;
    h.s.send(
        now,
        b"D",
        |b| {
            b.field(11, b"q");
        },
        &mut h.out,
    )
    .unwrap();
    h.run("disconnect");
    assert!(!h.s.serving_resend());
    h.out.sent.clear();
    // Reconnect: the peer's Logon at 3 and a new request; everything incl. the queued 32 arrives.
    h.run("connect\nrecv 35=A 34=3 108=30\nexpect send 35=A 34=33");
    let m = h.peer_msg(&["35=2", "34=4", "7=1", "16=0"]);
    h.feed(&m);
    while h.s.serving_resend() {
        let now = h.now;
        h.s.on_timer(now, &mut h.out);
    }
    let sent: Vec<Vec<u8>> = h.out.sent.drain(..).collect();
    assert_eq!(seqs(&sent), (1..=33).collect::<Vec<_>>());
    assert_eq!(get(&sent[31], 11).as_deref(), Some(&b"q"[..]));
    assert_eq!(get(&sent[31], 43).as_deref(), Some(&b"Y"[..]));
}

#[test]
fn should_write_a_reject_at_once_during_a_resend() {
    let mut h = with_orders(cfg(5, 0), 20);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    h.feed(&m);
    h.out.sent.clear();
    // A TestRequest without TestReqID: Reject 373=1, written at once (not queued).
    let m = h.peer_msg(&["35=1", "34=3"]);
    h.feed(&m);
    let r = h.out.sent.pop_back().expect("reject written");
    assert_eq!(get(&r, 35).as_deref(), Some(&b"3"[..]));
    assert_eq!(get(&r, 373).as_deref(), Some(&b"1"[..]));
}

#[test]
fn should_write_what_waits_before_a_logout_and_never_twice() {
    let mut h = with_orders(cfg(5, 0), 20);
    let m = h.peer_msg(&["35=2", "34=2", "7=1", "16=0"]);
    h.feed(&m);
    let now = h.now;
    h.s.send(
        now,
        b"D",
        |b| {
            b.field(11, b"w");
        },
        &mut h.out,
    )
    .unwrap();
    h.out.sent.clear();
    h.run("logout bye");
    // The waiting order (22) goes first, then the Logout (23).
    let sent: Vec<Vec<u8>> = h.out.sent.drain(..).collect();
    assert_eq!(seqs(&sent), vec![22, 23]);
    assert_eq!(get(&sent[1], 35).as_deref(), Some(&b"5"[..]));
    // The peer asks again for everything while our Logout waits for its answer: the whole
    // resend still goes out (continued by on_timer), 22 and 23 only as PossDup resends.
    let m = h.peer_msg(&["35=2", "34=3", "7=1", "16=0"]);
    h.feed(&m);
    while h.s.serving_resend() {
        let now = h.now;
        assert!(h.s.next_deadline().unwrap() <= now);
        h.s.on_timer(now, &mut h.out);
    }
    let sent: Vec<Vec<u8>> = h.out.sent.drain(..).collect();
    assert_eq!(seqs(&sent), (1..=23).collect::<Vec<_>>());
    for m in &sent {
        assert_eq!(get(m, 43).as_deref(), Some(&b"Y"[..]), "{}", show(m));
    }
    h.run("expect state LogoutSent");
}
