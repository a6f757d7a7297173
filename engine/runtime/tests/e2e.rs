//! End to end: acceptor and initiator pipelines (IO, sequencer, session, application agents)
//! in shared mode over loopback io_uring and over the in-memory link, with and without faults.

use fixeng::demo::{run, DemoOptions};
use fixeng::transport::uring::probe;
use std::time::Duration;

fn opts(orders: u32, faults: bool, memory: bool) -> DemoOptions {
    DemoOptions {
        orders,
        rate: 0,
        memory,
        faults,
        cut: faults,
        timeout: Duration::from_secs(40),
        verbose: false,
        sequencer: "fast".to_string(),
    }
}

fn uring_ok() -> bool {
    match probe() {
        Ok(()) => true,
        Err(e) => {
            println!("SKIP: {e}");
            false
        }
    }
}

#[test]
fn orders_and_reports_over_uring_exactly_once_in_order() {
    if !uring_ok() {
        return;
    }
    let r = run(&opts(500, false, false));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.transport, "io_uring");
    assert_eq!((r.sent, r.acked, r.orders_received), (500, 500, 500));
    assert_eq!(r.anomalies, 0);
    assert!(r.initiator_gaps.is_empty() && r.acceptor_gaps.is_empty());
}

#[test]
fn faults_over_uring_are_recovered_both_directions() {
    if !uring_ok() {
        return;
    }
    let r = run(&opts(1000, true, false));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!((r.acked, r.orders_received), (1000, 1000));
    assert!(r.faults.dropped >= 4, "{:?}", r.faults);
    assert!(r.faults.reordered >= 1 && r.faults.delayed >= 1 && r.faults.cuts == 1);
    assert!(
        !r.initiator_gaps.is_empty(),
        "reports were lost and recovered"
    );
    assert!(
        !r.acceptor_gaps.is_empty(),
        "orders were lost and recovered"
    );
    assert!(
        r.reconnects >= 2,
        "cut and duplicate each force a reconnect"
    );
    for g in r.initiator_gaps.iter().chain(&r.acceptor_gaps) {
        assert!(g.recovered >= g.detected, "{g:?}");
    }
}

#[test]
fn faults_over_memory_link_are_recovered() {
    let r = run(&opts(600, true, true));
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.transport, "memory");
    assert_eq!((r.acked, r.orders_received), (600, 600));
    assert!(r.faults.dropped >= 4);
    assert!(!r.acceptor_gaps.is_empty() && !r.initiator_gaps.is_empty());
}

/// Long randomized run: `FIXENG_LONG=1 cargo test -p fixeng --release --test e2e -- long`.
#[test]
fn long_run_with_faults() {
    if std::env::var_os("FIXENG_LONG").is_none() {
        println!("SKIP: set FIXENG_LONG=1 for the long run");
        return;
    }
    if !uring_ok() {
        return;
    }
    let mut o = opts(100_000, true, false);
    o.timeout = Duration::from_secs(300);
    let r = run(&o);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!((r.acked, r.orders_received), (100_000, 100_000));
}

#[test]
fn demo_with_the_cycle_model_as_sequencer_delivers_exactly_once_in_order() {
    let mut o = opts(300, true, true);
    o.sequencer = "model".to_string();
    let r = run(&o);
    assert!(r.ok, "{:?}", r.failure);
    assert_eq!(r.acked, 300);
    assert_eq!(r.orders_received, 300);
    assert_eq!(r.anomalies, 0);
    assert!(
        !r.acceptor_gaps.is_empty() || !r.initiator_gaps.is_empty(),
        "faults made no gap"
    );
}

#[test]
fn demo_with_an_unknown_sequencer_fails_with_a_clear_error() {
    let mut o = opts(10, false, true);
    o.sequencer = "quantum".to_string();
    let r = run(&o);
    assert!(!r.ok);
    let why = r.failure.expect("a reason");
    assert!(why.contains("quantum"), "{why}");
}
