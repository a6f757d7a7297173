//! A restart of the initiator mid-stream: its process state is dropped and rebuilt from its
//! MmapStore (in a tempdir); both sides recover every order and report exactly once, in order.

use fixeng::apps::{EchoApp, LoadApp};
use fixeng::clock::Clock;
use fixeng::connect::{UringAcceptor, UringInitiator};
use fixeng::pipeline::{pipeline, RingSizes};
use fixeng::transport::uring::{probe, UringOptions};
use fixeng::Transport;
use fixsession::store::{MessageStore, MmapStore, MmapStoreConfig};
use fixsession::{Role, SessionConfig};
use std::time::{Duration, Instant};

fn cfg(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    let mut c = SessionConfig::new("FIX.4.4", s, t, role);
    c.heart_bt_int = 1;
    c
}

#[test]
fn initiator_restart_recovers_from_mmap_store() {
    if let Err(e) = probe() {
        println!("SKIP: {e}");
        return;
    }
    const N: u32 = 1500;
    let dir_a = tempfile::tempdir().unwrap();
    let dir_i = tempfile::tempdir().unwrap();
    let clock = Clock::new();
    let acc = UringAcceptor::bind("127.0.0.1:0".parse().unwrap(), UringOptions::default()).unwrap();
    let addr = acc.local_addr();
    let store_a = MmapStore::open(dir_a.path(), "acc", MmapStoreConfig::default()).unwrap();
    let mut a = pipeline(
        "acc",
        cfg(Role::Acceptor),
        acc,
        store_a,
        EchoApp::new(),
        RingSizes::default(),
    );
    let new_initiator = |logic: LoadApp| {
        let store = MmapStore::open(dir_i.path(), "ini", MmapStoreConfig::default()).unwrap();
        let conn = UringInitiator::new(addr, UringOptions::default(), Duration::from_millis(5));
        pipeline(
            "ini",
            cfg(Role::Initiator),
            conn,
            store,
            logic,
            RingSizes::default(),
        )
    };
    let mut i = new_initiator(LoadApp::new(N, 0));
    let t0 = Instant::now();
    let guard = Duration::from_secs(30);

    // Phase 1: run until the acceptor has a third of the orders.
    while a.app.logic().orders < u64::from(N / 3) {
        a.step(clock.now());
        i.step(clock.now());
        assert!(t0.elapsed() < guard, "phase 1 stalled");
    }
    // Crash the initiator: stop generating, let queued sends reach the session (and its
    // journal), then kill the connection and drop every in-memory structure.
    i.app.logic_mut().paused = true;
    while !i.session.app_queue_empty() {
        a.step(clock.now());
        i.step(clock.now());
    }
    i.io.stop_connecting();
    i.io.link_mut().expect("connected").close();
    while i.session.is_connected() || !i.app.idle() {
        i.step(clock.now());
        assert!(t0.elapsed() < guard, "teardown stalled");
    }
    let sent_before = i.session.session().next_sender_seq();
    let logic = i.app.into_logic();
    let acked_before = logic.acked;
    assert!(
        logic.sent > acked_before,
        "reports still in flight at the crash"
    );
    drop((i.io, i.seq, i.session));

    // Phase 2: a new process state from the same store directory.
    let mut i = new_initiator(LoadApp::resume(logic));
    assert_eq!(
        i.session.session().next_sender_seq(),
        sent_before,
        "sequence numbers recovered from the store"
    );
    while !(i.app.logic().complete() && a.app.logic().orders == u64::from(N)) {
        a.step(clock.now());
        i.step(clock.now());
        assert!(
            t0.elapsed() < guard,
            "phase 2 stalled: acked {} acceptor {}",
            i.app.logic().acked,
            a.app.logic().orders
        );
    }
    let (l, e) = (i.app.logic(), a.app.logic());
    assert_eq!(
        (l.acked, l.anomalies),
        (N, 0),
        "reports exactly once, in order"
    );
    assert_eq!(
        (e.orders, e.next_order, e.anomalies),
        (u64::from(N), N + 1, 0)
    );
    assert!(
        i.session.stats.resend_requests >= 1,
        "the restarted side asked for the missed reports"
    );
    assert!(i.session.session().store().last_stored_seq() >= N);
    assert_eq!(a.io.stats.connects, 2);
    let _ = a.io.link().map(|t| t.send_queued());
}
