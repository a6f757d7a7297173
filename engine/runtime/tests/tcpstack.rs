//! The pipelines over the user-space TCP backend (`fixdpdk::Connection`, smoltcp) on
//! `fixdpdk::pipe`'s in-memory frame link with frame loss: the DPDK data path minus the NIC.
//! Runs everywhere (no DPDK, no root).

use fixdpdk::pipe::pipe_pair;
use fixdpdk::{Connection, StackConfig, TcpStack};
use fixeng::apps::{EchoApp, LoadApp};
use fixeng::connect::Prepared;
use fixeng::pipeline::{pipeline, RingSizes};
use fixeng::Transport;
use fixsession::store::MemoryStore;
use fixsession::{Role, SessionConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

fn stack_cfg(last: u8) -> StackConfig {
    StackConfig {
        mac: [0x02, 0, 0, 0, 0, last],
        ip: Ipv4Addr::new(10, 9, 0, last),
        random_seed: u64::from(last),
        rx_buffer: 256 * 1024,
        tx_buffer: 256 * 1024,
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
    c
}

#[test]
fn orders_over_user_space_tcp_with_frame_loss() {
    const N: u32 = 1000;
    let (mut da, db) = pipe_pair(1500);
    da.set_loss(50, 7); // one frame in 50 lost: TCP retransmits, the FIX stream stays intact
    let a = TcpStack::new(da, stack_cfg(1), 0).unwrap();
    let b = TcpStack::new(db, stack_cfg(2), 0).unwrap();
    let server = Connection::accept(b, 9878).unwrap();
    let client =
        Connection::connect(a, SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878)).unwrap();
    assert_eq!(client.capabilities().name, "tcpstack");
    let mut acc = pipeline(
        "a",
        cfg(Role::Acceptor),
        Prepared::new(vec![server]),
        MemoryStore::new(),
        EchoApp::new(),
        RingSizes::default(),
    );
    let mut ini = pipeline(
        "i",
        cfg(Role::Initiator),
        Prepared::new(vec![client]),
        MemoryStore::new(),
        LoadApp::new(N, 0),
        RingSizes::default(),
    );
    // Simulated time: 20 us per duty cycle (TCP retransmission timers run on it).
    let mut now = 1_700_000_000_000_000_000u64;
    let mut steps = 0u64;
    while !(ini.app.logic().complete() && acc.app.logic().orders == u64::from(N)) {
        now += 20_000;
        acc.step(now);
        ini.step(now);
        steps += 1;
        assert!(
            steps < 3_000_000,
            "stalled: acked {} acceptor {}",
            ini.app.logic().acked,
            acc.app.logic().orders
        );
    }
    let (l, e) = (ini.app.logic(), acc.app.logic());
    assert_eq!((l.acked, l.anomalies), (N, 0));
    assert_eq!(
        (e.orders, e.next_order, e.anomalies),
        (u64::from(N), N + 1, 0)
    );
    assert_eq!(
        ini.io.stats.connects, 1,
        "no reconnect needed: TCP recovered the lost frames"
    );
}
