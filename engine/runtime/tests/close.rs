//! Application sends still queued between the application and session agents when the pipeline
//! closes (held back, for instance, by a peer that stops reading) are journaled in the store, not
//! lost: the peer gets them by ResendRequest after the next Logon (docs/reliability.md, finding 4).

use fixeng::connect::MemoryConnector;
use fixeng::pipeline::{pipeline, AppLogic, AppOut, Delivery, RingSizes};
use fixeng::{Agent, Nanos};
use fixsession::store::{MemoryStore, MessageStore};
use fixsession::{Role, SessionConfig};

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
            assert!(
                out.send(b"D", body.as_bytes()),
                "app ring full at order {i}"
            );
        }
        self.n as usize
    }
}

#[test]
fn sends_queued_at_close_are_journaled_not_lost() {
    const N: u32 = 20;
    let cfg = SessionConfig::new("FIX.4.4", "CLIENT", "EXCHANGE", Role::Initiator);
    let mut p = pipeline(
        "ini",
        cfg,
        MemoryConnector::new(Vec::new()),
        MemoryStore::new(),
        Burst {
            n: N,
            queued: false,
        },
        RingSizes::default(),
    );
    // The application queues its orders; the session agent never gets a duty cycle before close.
    p.app.do_work(1_700_000_000_000_000_000);
    assert!(!p.session.app_queue_empty(), "the orders should be queued");
    p.session.on_close();

    assert!(
        p.session.app_queue_empty(),
        "close must take every queued send"
    );
    assert_eq!(p.session.stats.journaled_at_close, u64::from(N));
    let store = p.session.session().store();
    assert_eq!(store.last_stored_seq(), N);
    assert_eq!(store.next_sender_seq(), N + 1);
    let mut seen = Vec::new();
    store
        .for_each_in_range(1, N, &mut |seq, msg| {
            let text = String::from_utf8_lossy(msg).into_owned();
            assert!(text.contains("\x0135=D\x01"), "seq {seq}: {text}");
            assert!(
                text.contains(&format!("\x0134={seq}\x01")),
                "seq {seq}: {text}"
            );
            seen.push(text.contains(&format!("\x0111=ORD{seq}\x01")));
            true
        })
        .unwrap();
    assert_eq!(seen.len(), N as usize);
    assert!(seen.iter().all(|&ok| ok), "orders journaled out of order");
}
