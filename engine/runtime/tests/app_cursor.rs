//! A crash between the session agent (which persists the next target number when it hands a
//! message to the application ring) and the application agent: the messages in the ring are
//! lost to the application unless it restarts from its own cursor. With
//! `Pipeline::rewind_target(last + 1)` the peer resends them and the application sees every
//! message exactly once, in order.

use fixeng::connect::MemoryConnector;
use fixeng::pipeline::{pipeline, AppLogic, AppOut, Delivery, RingSizes};
use fixeng::transport::memory::MemoryTransport;
use fixeng::{Agent, Nanos};
use fixsession::store::{MemoryStore, MmapStore, MmapStoreConfig};
use fixsession::{Role, SessionConfig};

const N: u32 = 2_000;

fn cfg(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    SessionConfig::new("FIX.4.4", s, t, role)
}

/// Sends `N` orders once logged on.
struct Sender {
    sent: u32,
}

impl AppLogic for Sender {
    fn on_message(&mut self, _now: Nanos, _msg: &[u8], _d: &Delivery, _out: &mut AppOut<'_>) {}

    fn poll(&mut self, _now: Nanos, logged_on: bool, out: &mut AppOut<'_>) -> usize {
        let mut n = 0;
        while logged_on && self.sent < N && n < 64 {
            let body = format!("11=ORD{}\x0155=EUR/USD\x01", self.sent + 1);
            if !out.send(b"D", body.as_bytes()) {
                break;
            }
            self.sent += 1;
            n += 1;
        }
        n
    }
}

/// Checks that orders arrive as ORD1, ORD2, ... and remembers the last MsgSeqNum finished.
struct Receiver {
    got: u32,
    last_seq: u32,
    anomalies: u32,
}

impl AppLogic for Receiver {
    fn on_message(&mut self, _now: Nanos, msg: &[u8], d: &Delivery, _out: &mut AppOut<'_>) {
        let want = format!("\x0111=ORD{}\x01", self.got + 1);
        if msg.windows(want.len()).any(|w| w == want.as_bytes()) && d.seq > self.last_seq {
            self.got += 1;
            self.last_seq = d.seq;
        } else {
            self.anomalies += 1;
        }
    }

    fn poll(&mut self, _now: Nanos, _logged_on: bool, _out: &mut AppOut<'_>) -> usize {
        0
    }
}

#[test]
fn messages_in_the_application_ring_at_a_crash_are_recovered_from_the_app_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let (a1, i1) = MemoryTransport::pair(1 << 20);
    let (a2, i2) = MemoryTransport::pair(1 << 20);
    let mut a = pipeline(
        "acc",
        cfg(Role::Acceptor),
        MemoryConnector::new(vec![a1, a2]),
        MemoryStore::new(),
        Sender { sent: 0 },
        RingSizes::default(),
    );
    let open = || MmapStore::open(dir.path(), "ini", MmapStoreConfig::default()).unwrap();
    let mut i = pipeline(
        "ini",
        cfg(Role::Initiator),
        MemoryConnector::new(vec![i1]),
        open(),
        Receiver {
            got: 0,
            last_seq: 0,
            anomalies: 0,
        },
        RingSizes::default(),
    );
    let mut now: Nanos = 1_700_000_000_000_000_000;
    // Run normally until the application has a quarter of the orders, then starve the
    // application agent (it stops getting duty cycles) while the session keeps processing.
    let mut app_runs = true;
    for _ in 0..1_000_000 {
        now += 1_000;
        a.step(now);
        i.io.do_work(now);
        i.seq.do_work(now);
        i.session.do_work(now);
        if app_runs {
            i.app.do_work(now);
            app_runs = i.app.logic().got < N / 4;
        }
        if !app_runs && i.session.session().next_target_seq() > N / 2 {
            break;
        }
    }
    let (got, last_seq) = (i.app.logic().got, i.app.logic().last_seq);
    assert!((N / 4..N / 2).contains(&got), "got {got}");
    let persisted = i.session.session().next_target_seq();
    assert!(
        persisted > last_seq + 1,
        "the store must be ahead of the application for this test (store {persisted}, app {last_seq})"
    );
    // Crash: everything of the initiator process is dropped; only its store files remain.
    drop(i);

    let mut i = pipeline(
        "ini",
        cfg(Role::Initiator),
        MemoryConnector::new(vec![i2]),
        open(),
        Receiver {
            got,
            last_seq,
            anomalies: 0,
        },
        RingSizes::default(),
    );
    assert_eq!(i.session.session().next_target_seq(), persisted);
    assert!(i.rewind_target(last_seq + 1).unwrap(), "store was ahead");
    assert_eq!(i.session.session().next_target_seq(), last_seq + 1);
    assert!(
        !i.rewind_target(last_seq + 5).unwrap(),
        "never moves forward"
    );
    for _ in 0..1_000_000 {
        now += 1_000;
        a.step(now);
        i.step(now);
        if i.app.logic().got == N {
            break;
        }
    }
    let r = i.app.logic();
    assert_eq!(
        r.anomalies, 0,
        "duplicate or out-of-order delivery after restart"
    );
    assert_eq!(
        r.got, N,
        "every order delivered exactly once across the crash"
    );
    assert!(i.rewind_target(1).is_err(), "refused while connected");
}
