//! Dedicated threading mode: the 8 agents of an acceptor and an initiator pipeline each on its
//! own thread (pinned round-robin to the available cores), talking through the SPSC rings and
//! loopback io_uring; every order and report arrives exactly once and in order.

use fixeng::agent::Agent;
use fixeng::apps::{EchoApp, LoadApp};
use fixeng::clock::{Clock, Nanos};
use fixeng::connect::{UringAcceptor, UringInitiator};
use fixeng::idle::Yield;
use fixeng::pipeline::{pipeline, AppAgent, AppLogic, RingSizes};
use fixeng::runner::{Dedicated, StopFlag};
use fixeng::transport::uring::{probe, UringOptions};
use fixsession::store::MemoryStore;
use fixsession::{Role, SessionConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Publishes an application's progress to the test thread: (in-order count, anomalies).
struct Watch<L: AppLogic> {
    inner: AppAgent<L>,
    progress: fn(&L) -> (u64, u64),
    out: Arc<[AtomicU64; 2]>,
}

impl<L: AppLogic> Agent for Watch<L> {
    fn name(&self) -> &str {
        "watch"
    }
    fn do_work(&mut self, now: Nanos) -> usize {
        let w = self.inner.do_work(now);
        let (n, bad) = (self.progress)(self.inner.logic());
        self.out[0].store(n, Ordering::Release);
        self.out[1].store(bad, Ordering::Release);
        w
    }
}

fn cfg(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    SessionConfig::new("FIX.4.4", s, t, role)
}

#[test]
fn pipelines_in_dedicated_threads() {
    if let Err(e) = probe() {
        println!("SKIP: {e}");
        return;
    }
    const N: u32 = 800;
    let acc = UringAcceptor::bind("127.0.0.1:0".parse().unwrap(), UringOptions::default()).unwrap();
    let ini = UringInitiator::new(
        acc.local_addr(),
        UringOptions::default(),
        Duration::from_millis(5),
    );
    let a = pipeline(
        "a",
        cfg(Role::Acceptor),
        acc,
        MemoryStore::new(),
        EchoApp::new(),
        RingSizes::default(),
    );
    let i = pipeline(
        "i",
        cfg(Role::Initiator),
        ini,
        MemoryStore::new(),
        LoadApp::new(N, 0),
        RingSizes::default(),
    );
    let echo = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let load = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let agents: Vec<Box<dyn Agent + Send>> = vec![
        Box::new(a.io),
        Box::new(a.seq),
        Box::new(a.session),
        Box::new(Watch {
            inner: a.app,
            progress: |l: &EchoApp| (u64::from(l.next_order - 1), l.anomalies),
            out: echo.clone(),
        }),
        Box::new(i.io),
        Box::new(i.seq),
        Box::new(i.session),
        Box::new(Watch {
            inner: i.app,
            progress: |l: &LoadApp| (u64::from(l.acked), l.anomalies),
            out: load.clone(),
        }),
    ];
    let cores: Vec<usize> = (0..8).map(|k| k % 2).collect();
    let d = Dedicated::start(agents, &cores, Yield, Clock::new(), StopFlag::new()).unwrap();
    let t0 = Instant::now();
    while load[0].load(Ordering::Acquire) < u64::from(N) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "stalled at {:?}",
            load
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let agents = d.stop_and_join();
    assert_eq!(agents.len(), 8);
    assert_eq!(load[0].load(Ordering::Acquire), u64::from(N));
    assert_eq!(echo[0].load(Ordering::Acquire), u64::from(N));
    assert_eq!(
        load[1].load(Ordering::Acquire) + echo[1].load(Ordering::Acquire),
        0
    );
}
