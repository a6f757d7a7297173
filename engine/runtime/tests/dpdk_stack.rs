//! The DPDK transport's connectors (`StackAcceptor` / `StackInitiator`, which `fixeng::dpdk`
//! builds on a DPDK port) on `fixdpdk::pipe`'s in-memory frame link: full pipelines with
//! injected FIX-level faults and a cut connection, so the acceptor must listen again and the
//! initiator reconnect on the same stacks. Runs everywhere (no DPDK, no root); the same
//! connectors over real DPDK devices are exercised by `tests/dpdk_engine.rs`.

use fixdpdk::pipe::{pipe_pair, PipeDevice};
use fixdpdk::{StackConfig, TcpStack};
use fixeng::apps::{EchoApp, LoadApp};
use fixeng::connect::{Connector, FaultConnector};
use fixeng::pipeline::{pipeline, RingSizes};
use fixeng::transport::fault::{Action, Direction, Fault, Select};
use fixeng::transport::tcpstack::{StackAcceptor, StackInitiator};
use fixeng::Transport;
use fixsession::store::MemoryStore;
use fixsession::{Role, SessionConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

fn stack_cfg(last: u8) -> StackConfig {
    StackConfig {
        mac: [0x02, 0, 0, 0, 0, last],
        ip: Ipv4Addr::new(10, 9, 0, last),
        random_seed: u64::from(last),
        ..StackConfig::default()
    }
}

fn cfg(role: Role) -> SessionConfig {
    let (s, t) = match role {
        Role::Acceptor => ("EXCHANGE", "CLIENT"),
        Role::Initiator => ("CLIENT", "EXCHANGE"),
    };
    let mut c = SessionConfig::new("FIX.4.4", s, t, role);
    c.check_latency = false;
    c.heart_bt_int = 1;
    c
}

const T0: u64 = 1_700_000_000_000_000_000;

fn stacks() -> (TcpStack<PipeDevice>, TcpStack<PipeDevice>) {
    let (da, db) = pipe_pair(1500);
    (
        TcpStack::new(da, stack_cfg(1), T0).unwrap(),
        TcpStack::new(db, stack_cfg(2), T0).unwrap(),
    )
}

#[test]
fn acceptor_listens_again_and_initiator_reconnects_on_the_same_stacks() {
    let (a, b) = stacks();
    let mut acc = StackAcceptor::new(b, 9878, T0).unwrap();
    let mut ini = StackInitiator::new(
        a,
        SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878),
        Duration::from_millis(10),
        Duration::from_millis(500),
        T0,
    );
    let mut now = T0;
    for round in 1..=3u64 {
        let (mut la, mut li) = (None, None);
        for _ in 0..10_000 {
            now += 20_000;
            if li.is_none() {
                li = ini.poll_connect(now).unwrap();
            }
            if la.is_none() {
                la = acc.poll_connect(now).unwrap();
            }
            if la.is_some() && li.is_some() {
                break;
            }
        }
        let (mut la, mut li) = (la.expect("accepted"), li.expect("connected"));
        assert_eq!(acc.accepted, round);
        assert_eq!(ini.connected, round);
        // While a link holds the stack, the connector cannot reach it.
        assert!(acc.with_stack(|_| ()).is_none());
        // Bytes flow both ways.
        assert_eq!(li.send_bytes(b"hello"), 5);
        let mut got = [0u8; 16];
        let mut n = 0;
        for _ in 0..1000 {
            now += 20_000;
            li.poll(now);
            la.poll(now);
            n += la.recv_into(&mut got[n..]);
            if n == 5 {
                break;
            }
        }
        assert_eq!(&got[..n], b"hello");
        // The initiator closes; the acceptor sees the peer's FIN; both links are dropped.
        li.close();
        for _ in 0..1000 {
            now += 20_000;
            li.poll(now);
            la.poll(now);
            if la.is_closed() {
                break;
            }
        }
        assert!(la.is_closed(), "acceptor saw the close");
        ini.on_closed(&li);
        acc.on_closed(&la);
        drop((la, li));
        assert!(acc.with_stack(|_| ()).is_some(), "the stack came back");
    }
}

#[test]
fn acceptor_holds_one_waiting_connection_while_a_session_is_connected() {
    let (a, b) = stacks();
    let mut acc = StackAcceptor::new(b, 9878, T0).unwrap();
    let remote = SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878);
    let mut ini = StackInitiator::new(
        a,
        remote,
        Duration::from_millis(10),
        Duration::from_millis(500),
        T0,
    );
    let mut now = T0;
    let (mut la, mut li) = (None, None);
    for _ in 0..10_000 {
        now += 20_000;
        if li.is_none() {
            li = ini.poll_connect(now).unwrap();
        }
        if la.is_none() {
            la = acc.poll_connect(now).unwrap();
        }
        if la.is_some() && li.is_some() {
            break;
        }
    }
    let (mut la, mut li) = (la.expect("accepted"), li.expect("connected"));
    // A second connection from the same peer while the first is up: its handshake completes
    // against the acceptor's backlog, driven by the links' polls.
    let stack = li.connection_mut().unwrap().stack_mut();
    let h2 = stack.connect(remote).unwrap();
    for _ in 0..1000 {
        now += 20_000;
        li.poll(now);
        la.poll(now);
    }
    let st = li.connection().unwrap().stack().state(h2).unwrap();
    assert_eq!(
        st,
        fixdpdk::StreamState::Established,
        "the waiting peer got in"
    );
    // The first connection ends; the waiting one is handed out at the next poll, no new SYN.
    la.close();
    acc.on_closed(&la);
    drop(la);
    now += 20_000;
    let second = acc.poll_connect(now).unwrap();
    assert!(
        second.is_some(),
        "the waiting connection is handed out at once"
    );
    assert_eq!(acc.accepted, 2);
    drop(li);
}

#[test]
fn initiator_retries_until_the_acceptor_listens() {
    let (a, b) = stacks();
    let mut ini = StackInitiator::new(
        a,
        SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878),
        Duration::from_millis(10),
        Duration::from_millis(500),
        T0,
    );
    // Nobody listens on the other stack yet: it answers the SYN with a reset.
    let mut other = b;
    let mut now = T0;
    for _ in 0..2000 {
        now += 20_000;
        assert!(ini.poll_connect(now).unwrap().is_none());
        other.poll(now);
    }
    assert!(
        ini.failures >= 2,
        "refused attempts counted: {}",
        ini.failures
    );
    assert!(
        ini.last_error.as_deref().unwrap_or("").contains("refused"),
        "{:?}",
        ini.last_error
    );
    let mut acc = StackAcceptor::new(other, 9878, now).unwrap();
    let mut links = (None, None);
    for _ in 0..10_000 {
        now += 20_000;
        if links.0.is_none() {
            links.0 = ini.poll_connect(now).unwrap();
        }
        if links.1.is_none() {
            links.1 = acc.poll_connect(now).unwrap();
        }
        if links.0.is_some() && links.1.is_some() {
            break;
        }
    }
    assert!(
        links.0.is_some() && links.1.is_some(),
        "connected after retries"
    );
}

fn at(n: u32) -> u32 {
    n
}

#[test]
fn fix_session_with_gaps_and_a_cut_over_the_stack_connectors() {
    const N: u32 = 600;
    let (a, b) = stacks();
    let acc = StackAcceptor::new(b, 9878, T0).unwrap();
    let ini = StackInitiator::new(
        a,
        SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878),
        Duration::from_millis(10),
        Duration::from_millis(500),
        T0,
    );
    // Acceptor drops reports and cuts the first connection; initiator drops and reorders orders.
    let acc = FaultConnector::new(
        acc,
        vec![
            vec![
                Fault::new(Direction::Tx, Select::Seq(at(20)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(60)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(61)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(150)), Action::Cut),
            ],
            vec![Fault::new(
                Direction::Tx,
                Select::Seq(at(300)),
                Action::Drop,
            )],
        ],
        4096,
    );
    let ini = FaultConnector::new(
        ini,
        vec![
            vec![
                Fault::new(Direction::Tx, Select::Seq(at(30)), Action::Drop),
                Fault::new(Direction::Tx, Select::Seq(at(40)), Action::Reorder(1)),
            ],
            vec![Fault::new(
                Direction::Tx,
                Select::Seq(at(250)),
                Action::Drop,
            )],
        ],
        4096,
    );
    let mut ap = pipeline(
        "a",
        cfg(Role::Acceptor),
        acc,
        MemoryStore::new(),
        EchoApp::new(),
        RingSizes::default(),
    );
    let mut ip = pipeline(
        "i",
        cfg(Role::Initiator),
        ini,
        MemoryStore::new(),
        LoadApp::new(N, 0),
        RingSizes::default(),
    );
    let mut now = T0;
    let mut steps = 0u64;
    while !(ip.app.logic().complete()
        && ap.app.logic().orders == u64::from(N)
        && ip.session.gaps().1.is_none()
        && ap.session.gaps().1.is_none())
    {
        now += 20_000;
        ap.step(now);
        ip.step(now);
        steps += 1;
        assert!(
            steps < 2_000_000,
            "stalled: acked {} acceptor {} connects {}/{}",
            ip.app.logic().acked,
            ap.app.logic().orders,
            ip.io.stats.connects,
            ap.io.stats.connects
        );
    }
    let (l, e) = (ip.app.logic(), ap.app.logic());
    assert_eq!(
        (l.acked, l.anomalies),
        (N, 0),
        "reports exactly once, in order"
    );
    assert_eq!(
        (e.orders, e.next_order, e.anomalies),
        (u64::from(N), N + 1, 0),
        "orders exactly once, in order"
    );
    assert!(
        ap.io.stats.connects >= 2 && ip.io.stats.connects >= 2,
        "reconnected after the cut"
    );
    assert!(
        !ip.session.gaps().0.is_empty(),
        "lost reports were recovered"
    );
    assert!(
        !ap.session.gaps().0.is_empty(),
        "lost orders were recovered"
    );
    assert_eq!(ap.io.connector().inner().accepted, ap.io.stats.connects);
}
