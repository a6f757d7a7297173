//! `Session::prefault` touches the held-message queue up front, so that holding out-of-order
//! messages during a gap recovery takes no page fault (a slot is `max_message_size` bytes: one
//! fresh page per held message otherwise). Minor faults are read from this thread's
//! `/proc/thread-self/stat`; the file holds one test so that nothing else runs on the thread.
//! The same sessions without `prefault` fault on (nearly) every held message, which shows the
//! check can fail.

mod common;

use common::{build, ts, Out, T0};
use fixsession::store::MemoryStore;
use fixsession::{Application, DeliverInfo, Responder, Role, SequencerOp, Session, SessionConfig};
use hwsim::fast::FastPath;

#[derive(Default)]
struct Seqs(Vec<u32>);

impl Application for Seqs {
    fn on_message(&mut self, _m: &[u8], info: &DeliverInfo, _r: &mut dyn Responder) {
        self.0.push(info.seq);
    }
}

fn peer(seq: u32, fields: &[(u32, &[u8])]) -> Vec<u8> {
    let mut f = vec![
        (35, fields[0].1.to_vec()),
        (49, b"PEER".to_vec()),
        (56, b"ENGINE".to_vec()),
        (34, seq.to_string().into_bytes()),
        (52, ts(T0)),
    ];
    for (t, v) in &fields[1..] {
        f.push((*t, v.to_vec()));
    }
    build("FIX.4.4", &f)
}

/// Minor page faults of this thread so far.
fn minflt() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // Fields after the command (which is in parentheses and may hold spaces): state is field 3,
    // minflt field 10.
    let rest = &s[s.rfind(')').expect("comm") + 2..];
    rest.split(' ')
        .nth(7)
        .expect("minflt")
        .parse()
        .expect("number")
}

/// Logs on, then receives message 3 .. 3 + held (2 is lost): all held. Returns the minor faults
/// taken while holding them, and the numbers delivered once 2 arrives.
fn hold(prefault: bool, held: u32) -> (u64, Vec<u32>) {
    let mut cfg = SessionConfig::new("FIX.4.4", "ENGINE", "PEER", Role::Acceptor);
    cfg.window = 512;
    cfg.max_message_size = 4096;
    let mut fp = FastPath::new(1, cfg.window, cfg.max_message_size);
    let mut s = Session::new(cfg, MemoryStore::new(), Seqs::default());
    if prefault {
        let n = s.prefault();
        assert_eq!(
            n,
            512 * 4096 + 2 * 4096,
            "held queue and both encode buffers"
        );
    }
    let mut out = Out::default();
    let apply = |fp: &mut FastPath, out: &mut Out| {
        for op in out.ops.drain(..) {
            match op {
                SequencerOp::SetExpected(e) => fp.set_expected(0, e),
                SequencerOp::ClearWindow => fp.clear_window(0),
                SequencerOp::ResetStream => fp.reset_stream(0),
            }
        }
    };
    s.on_connect(T0, &mut out);
    apply(&mut fp, &mut out);
    let mut feed = |s: &mut Session<MemoryStore, Seqs>, out: &mut Out, m: &[u8]| {
        fp.process(0, m, |v, b| s.on_verdict(T0, v, b, out));
        apply(&mut fp, out);
    };
    feed(
        &mut s,
        &mut out,
        &peer(1, &[(35, b"A"), (98, b"0"), (108, b"30")]),
    );
    assert!(s.is_logged_on());
    let msgs: Vec<Vec<u8>> = (3..3 + held)
        .map(|n| peer(n, &[(35, b"D"), (11, b"ORDER-1"), (55, b"EURUSD")]))
        .collect();
    // Warm the paths once (the first gap message: request sent, store and encoders touched).
    feed(&mut s, &mut out, &msgs[0]);
    let f0 = minflt();
    for m in &msgs[1..] {
        feed(&mut s, &mut out, m);
    }
    let faults = minflt() - f0;
    assert_eq!(s.held_count(), held);
    feed(
        &mut s,
        &mut out,
        &peer(2, &[(35, b"D"), (11, b"ORDER-1"), (55, b"EURUSD")]),
    );
    (faults, s.app().0.clone())
}

#[test]
fn prefaulted_sessions_hold_messages_without_page_faults() {
    let held = 200;
    let want: Vec<u32> = (2..3 + held).collect();
    let (cold, got) = hold(false, held);
    assert_eq!(got, want, "held messages are delivered in order");
    let (warm, got) = hold(true, held);
    assert_eq!(got, want, "and after prefault too");
    println!("minor faults holding {held} messages: {cold} without prefault, {warm} with");
    assert!(
        cold >= u64::from(held) / 2,
        "without prefault each held message touches a fresh page ({cold} faults)"
    );
    assert!(
        warm < 10,
        "prefault leaves no page fault on the held path ({warm} faults)"
    );
}
