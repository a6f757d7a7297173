//! A peer's ResendRequest for far more than the send ring holds is served in paced steps
//! (`SessionOutput::can_send`): the acceptor's 20 000 journaled orders (about 2 MB) go through a
//! 256 KiB send ring without a ring-overflow disconnect, and the initiator's application gets
//! every one exactly once, in order, PossDup.

use fixeng::connect::MemoryConnector;
use fixeng::pipeline::{pipeline, AppLogic, AppOut, Delivery, RingSizes};
use fixeng::transport::memory::MemoryTransport;
use fixeng::{Agent, Nanos};
use fixsession::store::{MessageStore, MmapStore, MmapStoreConfig};
use fixsession::{Role, SessionConfig};

const N: u32 = 20_000;

fn cfg(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    SessionConfig::new("FIX.4.4", s, t, role)
}

/// Hands `n` orders to the session at its first duty cycle.
struct Burst {
    n: u32,
    queued: bool,
}

impl AppLogic for Burst {
    fn on_message(&mut self, _now: Nanos, _msg: &[u8], _d: &Delivery, _out: &mut AppOut<'_>) {}

    fn poll(&mut self, _now: Nanos, _logged_on: bool, out: &mut AppOut<'_>) -> usize {
        if self.queued {
            return 0;
        }
        self.queued = true;
        for i in 1..=self.n {
            let body = format!("11=ORD{i}\x0155=EUR/USD\x01");
            assert!(out.send(b"D", body.as_bytes()), "app ring full at {i}");
        }
        self.n as usize
    }
}

/// Counts the orders it receives and checks their order.
#[derive(Default)]
struct Count {
    got: u32,
    poss_dup: u32,
    anomalies: u32,
}

impl AppLogic for Count {
    fn on_message(&mut self, _now: Nanos, msg: &[u8], d: &Delivery, _out: &mut AppOut<'_>) {
        let want = format!("\x0111=ORD{}\x01", self.got + 1);
        if msg.windows(want.len()).any(|w| w == want.as_bytes()) {
            self.got += 1;
        } else {
            self.anomalies += 1;
        }
        self.poss_dup += u32::from(d.poss_dup);
    }

    fn poll(&mut self, _now: Nanos, _logged_on: bool, _out: &mut AppOut<'_>) -> usize {
        0
    }
}

#[test]
fn resend_larger_than_the_send_ring_is_paced_not_overflowed() {
    let dir = tempfile::tempdir().unwrap();
    let t0: Nanos = 1_700_000_000_000_000_000;
    // Journal N orders in the acceptor's store (never sent: no connection).
    {
        let store = MmapStore::open(dir.path(), "acc", MmapStoreConfig::default()).unwrap();
        let sizes = RingSizes {
            app: 8 << 20,
            ..RingSizes::default()
        };
        let mut p = pipeline(
            "acc",
            cfg(Role::Acceptor),
            MemoryConnector::new(Vec::new()),
            store,
            Burst {
                n: N,
                queued: false,
            },
            sizes,
        );
        p.app.do_work(t0);
        p.session.on_close();
        assert_eq!(p.session.session().store().last_stored_seq(), N);
    }
    let store = MmapStore::open(dir.path(), "acc", MmapStoreConfig::default()).unwrap();
    assert_eq!(store.next_sender_seq(), N + 1);
    let (la, li) = MemoryTransport::pair(1 << 20);
    let small_tx = RingSizes {
        tx: 256 << 10,
        ..RingSizes::default()
    };
    let mut a = pipeline(
        "acc",
        cfg(Role::Acceptor),
        MemoryConnector::new(vec![la]),
        store,
        Burst { n: 0, queued: true },
        small_tx,
    );
    let mut i = pipeline(
        "ini",
        cfg(Role::Initiator),
        MemoryConnector::new(vec![li]),
        fixsession::store::MemoryStore::new(),
        Count::default(),
        RingSizes::default(),
    );
    let mut now = t0;
    for _ in 0..2_000_000 {
        now += 1_000;
        a.step(now);
        i.step(now);
        if i.app.logic().got == N {
            break;
        }
    }
    let c = i.app.logic();
    assert_eq!(c.anomalies, 0, "orders out of order or unexpected messages");
    assert_eq!(c.got, N, "every journaled order must arrive");
    assert_eq!(c.poss_dup, N, "every order arrives as a PossDup resend");
    assert_eq!(
        a.io.stats.disconnects, 0,
        "the acceptor must not drop the link"
    );
    assert_eq!(
        i.io.stats.disconnects, 0,
        "the initiator must not drop the link"
    );
    assert!(a.session.is_connected() && i.session.is_connected());
}
