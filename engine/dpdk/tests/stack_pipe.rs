//! TcpStack over the in-memory pipe: runs everywhere (no DPDK, no root).

use std::net::{Ipv4Addr, SocketAddrV4};

use fixdpdk::pipe::{pipe_pair, PipeDevice};
use fixdpdk::{pattern_byte, Error, Handle, StackConfig, StreamState, TcpStack};

fn cfg(last: u8) -> StackConfig {
    StackConfig {
        mac: [0x02, 0, 0, 0, 0, last],
        ip: Ipv4Addr::new(10, 9, 0, last),
        random_seed: u64::from(last),
        rx_buffer: 64 * 1024,
        tx_buffer: 64 * 1024,
        ..StackConfig::default()
    }
}

struct Pair {
    a: TcpStack<PipeDevice>,
    b: TcpStack<PipeDevice>,
    now: u64,
}

impl Pair {
    fn new(loss_one_in: u64) -> Pair {
        let (mut da, db) = pipe_pair(1500);
        da.set_loss(loss_one_in, 42);
        Pair {
            a: TcpStack::new(da, cfg(1), 0).unwrap(),
            b: TcpStack::new(db, cfg(2), 0).unwrap(),
            now: 0,
        }
    }

    /// One step of simulated time (1 ms): both stacks poll.
    fn step(&mut self) {
        self.now += 1_000_000;
        self.a.poll(self.now);
        self.b.poll(self.now);
    }

    fn connect(&mut self) -> (Handle, Handle) {
        let lb = self.b.listen(9878).unwrap();
        let ca = self
            .a
            .connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878))
            .unwrap();
        assert_eq!(self.a.state(ca).unwrap(), StreamState::Connecting);
        assert_eq!(self.b.state(lb).unwrap(), StreamState::Listening);
        for _ in 0..5000 {
            self.step();
            if self.a.state(ca).unwrap() == StreamState::Established
                && self.b.state(lb).unwrap() == StreamState::Established
            {
                return (ca, lb);
            }
        }
        panic!(
            "handshake did not complete: a {:?} b {:?}",
            self.a.tcp_state(ca),
            self.b.tcp_state(lb)
        );
    }
}

/// Moves `n` pattern bytes each way at once and checks every byte.
fn exchange(p: &mut Pair, ha: Handle, hb: Handle, n: u64) {
    let (mut sa, mut sb, mut ra, mut rb) = (0u64, 0u64, 0u64, 0u64);
    let mut chunk = [0u8; 3000];
    let mut buf = [0u8; 4096];
    let mut steps = 0u64;
    while ra < n || rb < n {
        steps += 1;
        assert!(steps < 2_000_000, "stalled: a sent {sa} got {ra}, b sent {sb} got {rb}; a {:?} q {:?}, b {:?} q {:?}; now {}", p.a.tcp_state(ha), p.a.send_queue(ha), p.b.tcp_state(hb), p.b.recv_queue(hb), p.now);
        for (st, h, sent, seed) in [(&mut p.a, ha, &mut sa, 1u8), (&mut p.b, hb, &mut sb, 2u8)] {
            if *sent < n {
                let k = ((n - *sent) as usize).min(chunk.len());
                for (i, c) in chunk[..k].iter_mut().enumerate() {
                    *c = pattern_byte(seed, *sent + i as u64);
                }
                *sent += st.send(h, &chunk[..k]).unwrap() as u64;
            }
        }
        p.step();
        for (st, h, got, seed) in [(&mut p.a, ha, &mut ra, 2u8), (&mut p.b, hb, &mut rb, 1u8)] {
            loop {
                let k = st.recv(h, &mut buf).unwrap();
                if k == 0 {
                    break;
                }
                for (i, c) in buf[..k].iter().enumerate() {
                    assert_eq!(
                        *c,
                        pattern_byte(seed, *got + i as u64),
                        "byte {} from seed {seed}",
                        *got + i as u64
                    );
                }
                *got += k as u64;
            }
        }
    }
    assert_eq!((ra, rb), (n, n));
}

#[test]
fn handshake_exchange_and_orderly_close() {
    let mut p = Pair::new(0);
    let (ha, hb) = p.connect();
    assert_eq!(
        p.a.remote(ha).unwrap(),
        Some(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878))
    );
    assert_eq!(
        p.b.remote(hb).unwrap().unwrap().ip(),
        &Ipv4Addr::new(10, 9, 0, 1)
    );
    exchange(&mut p, ha, hb, 2_000_000);
    // a closes: b sees PeerClosed, reads the end of stream, and may still send.
    p.a.close(ha).unwrap();
    for _ in 0..100 {
        p.step();
    }
    assert_eq!(p.b.state(hb).unwrap(), StreamState::PeerClosed);
    let mut buf = [0u8; 16];
    assert_eq!(p.b.recv(hb, &mut buf), Err(Error::Closed));
    assert_eq!(p.b.send(hb, b"late").unwrap(), 4);
    p.step();
    p.step();
    assert_eq!(p.a.recv(ha, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"late");
    assert_eq!(p.a.send(ha, b"x"), Err(Error::Closed));
    p.b.close(hb).unwrap();
    for _ in 0..100 {
        p.step();
    }
    assert_eq!(p.b.state(hb).unwrap(), StreamState::Closed);
    p.b.release(hb).unwrap();
    assert_eq!(p.b.state(hb), Err(Error::InvalidHandle));
    assert_eq!(p.b.release(hb), Err(Error::InvalidHandle));
}

#[test]
fn every_byte_arrives_in_order_despite_frame_loss() {
    let mut p = Pair::new(10);
    let (ha, hb) = p.connect();
    exchange(&mut p, ha, hb, 300_000);
    assert!(
        p.a.device().dropped() > 10,
        "loss injection did not drop: {}",
        p.a.device().dropped()
    );
}

#[test]
fn small_message_leaves_without_nagle_delay() {
    let mut p = Pair::new(0);
    let (ha, hb) = p.connect();
    // Two small writes back to back, the first unacknowledged: with Nagle the second would wait
    // for the ACK. Poll a only (b never runs, so nothing is acknowledged) and count frames.
    let before = p.a.device().sent();
    p.a.send(ha, b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")
        .unwrap();
    p.a.poll(p.now + 1);
    p.a.send(ha, b"8=FIX.4.4\x019=5\x0135=1\x0110=000\x01")
        .unwrap();
    p.a.poll(p.now + 2);
    assert_eq!(
        p.a.device().sent() - before,
        2,
        "both small segments must leave before any ACK"
    );
    p.step();
    let mut buf = [0u8; 128];
    let n = p.b.recv(hb, &mut buf).unwrap();
    assert_eq!(n, 52);
}

#[test]
fn refused_connect_and_bad_handles_are_errors_not_panics() {
    let mut p = Pair::new(0);
    // Nobody listens on b: the SYN gets a RST and the stream closes.
    let h =
        p.a.connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 1))
            .unwrap();
    for _ in 0..100 {
        p.step();
    }
    assert_eq!(p.a.state(h).unwrap(), StreamState::Closed);
    let mut buf = [0u8; 4];
    assert_eq!(p.a.recv(h, &mut buf), Err(Error::Closed));
    // A handle of one stack used on the other is detected as invalid or names no live socket.
    p.a.release(h).unwrap();
    assert_eq!(p.a.send(h, b"x"), Err(Error::InvalidHandle));
    let h2 =
        p.a.connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 2))
            .unwrap();
    assert_ne!(h, h2, "a reused slot gets a new generation");
    assert_eq!(p.a.state(h), Err(Error::InvalidHandle));
}

#[test]
fn socket_slots_are_bounded() {
    let (da, _db) = pipe_pair(1500);
    let mut a = TcpStack::new(
        da,
        StackConfig {
            max_sockets: 2,
            ..cfg(1)
        },
        0,
    )
    .unwrap();
    a.listen(1).unwrap();
    a.listen(2).unwrap();
    assert_eq!(a.listen(3), Err(Error::NoFreeSocket));
}

#[test]
fn zero_mac_is_rejected() {
    let (da, _db) = pipe_pair(1500);
    let e = TcpStack::new(
        da,
        StackConfig {
            mac: [0; 6],
            ..cfg(1)
        },
        0,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("mac"), "{e}");
}

mod connection {
    use super::*;
    use fixdpdk::{CloseCause, ConnState, Connection};

    fn pair() -> (Connection<PipeDevice>, Connection<PipeDevice>, u64) {
        let (da, db) = pipe_pair(1500);
        let a = TcpStack::new(da, cfg(1), 0).unwrap();
        let b = TcpStack::new(db, cfg(2), 0).unwrap();
        let server = Connection::accept(b, 9878).unwrap();
        let client =
            Connection::connect(a, SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878)).unwrap();
        assert_eq!(client.state(), ConnState::Connecting);
        (client, server, 0)
    }

    fn run(
        c: &mut Connection<PipeDevice>,
        s: &mut Connection<PipeDevice>,
        now: &mut u64,
        steps: usize,
    ) -> usize {
        let mut work = 0;
        for _ in 0..steps {
            *now += 1_000_000;
            work += c.poll(*now) + s.poll(*now);
        }
        work
    }

    #[test]
    fn zero_copy_send_and_partial_recv() {
        let (mut c, mut s, mut now) = pair();
        // Before the handshake the send view is empty and the closure still runs once.
        assert_eq!(c.send(|b| (b.len(), b.len())), 0);
        assert!(
            run(&mut c, &mut s, &mut now, 10) > 0,
            "the handshake is work"
        );
        assert_eq!((c.state(), s.state()), (ConnState::Open, ConnState::Open));
        let msg = b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01";
        let view = c.send(|b| {
            b[..msg.len()].copy_from_slice(msg);
            (msg.len(), b.len())
        });
        assert_eq!(
            view,
            c.send_buffer(),
            "an idle connection lends its whole send buffer"
        );
        assert_eq!(c.send_queued(), msg.len());
        run(&mut c, &mut s, &mut now, 3);
        let first = s.recv(|b| {
            assert_eq!(b.len(), msg.len());
            (10, b[..10].to_vec())
        });
        assert_eq!(&first, &msg[..10]);
        let rest = s.recv(|b| (b.len(), b.to_vec()));
        assert_eq!(&rest, &msg[10..]);
        // Claiming more than the view is clamped, not a panic.
        c.send(|b| {
            b[..msg.len()].copy_from_slice(msg);
            (msg.len(), ())
        });
        run(&mut c, &mut s, &mut now, 3);
        assert_eq!(s.recv(|b| (usize::MAX, b.to_vec())), msg);
        assert_eq!(s.recv(|b| (usize::MAX, b.len())), 0);
        run(&mut c, &mut s, &mut now, 1000);
        assert_eq!(c.send_queued(), 0, "everything acknowledged");
        // Idle: no frames, no work.
        let mut idle = 0;
        for _ in 0..3 {
            now += 1;
            idle += c.poll(now);
        }
        assert!(idle <= 1, "idle polls did work: {idle}");
    }

    #[test]
    fn close_causes_are_reported() {
        let (mut c, mut s, mut now) = pair();
        run(&mut c, &mut s, &mut now, 10);
        c.send(|b| {
            b[..3].copy_from_slice(b"abc");
            (3, ())
        });
        c.close();
        assert_eq!(c.state(), ConnState::Closed(CloseCause::Local));
        assert_eq!(c.send(|b| (0, b.len())), 0, "no send space after close");
        run(&mut c, &mut s, &mut now, 50);
        assert_eq!(s.state(), ConnState::Closed(CloseCause::Peer));
        // Bytes that arrived before the FIN can still be read.
        assert_eq!(s.recv(|b| (b.len(), b.to_vec())), b"abc");
        assert_eq!(s.recv(|b| (b.len(), b.len())), 0);

        let (da, _db) = pipe_pair(1500);
        let (dx, dy) = (da, _db);
        let mut x = Connection::connect(
            TcpStack::new(dx, cfg(1), 0).unwrap(),
            SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 7),
        )
        .unwrap();
        let mut y = TcpStack::new(dy, cfg(2), 0).unwrap();
        for i in 1..50 {
            x.poll(i * 1_000_000);
            y.poll(i * 1_000_000);
        }
        assert_eq!(
            x.state(),
            ConnState::Closed(CloseCause::Reset),
            "refused connect is a reset"
        );
    }
}

/// After `idle_s` seconds of silence from the peer, the first frame a sends for new data: is it
/// the data (true) or an ARP request (false, the neighbour entry had expired)?
fn first_frame_after_idle_is_data(arp_refresh_ms: Option<u64>, idle_s: u64) -> bool {
    let (da, db) = pipe_pair(1500);
    let mut a = TcpStack::new(
        da,
        StackConfig {
            arp_refresh_ms,
            ..cfg(1)
        },
        0,
    )
    .unwrap();
    // b never refreshes: its ARP requests would refresh a's entry too (smoltcp learns from them).
    let b_cfg = StackConfig {
        arp_refresh_ms: None,
        ..cfg(2)
    };
    let mut b = TcpStack::new(db, b_cfg, 0).unwrap();
    let hb = b.listen(9878).unwrap();
    let ha = a
        .connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878))
        .unwrap();
    let mut now = 0;
    for _ in 0..20 {
        now += 1_000_000;
        a.poll(now);
        b.poll(now);
    }
    assert_eq!(a.state(ha).unwrap(), StreamState::Established);
    // Silence from b (it answers ARP, nothing else): 100 ms steps.
    for _ in 0..idle_s * 10 {
        now += 100_000_000;
        a.poll(now);
        b.poll(now);
    }
    a.send(ha, b"8=FIX.4.4\x01").unwrap();
    now += 1_000;
    a.poll(now);
    let frames = b.device().take_incoming();
    assert!(!frames.is_empty(), "a sent nothing");
    let first_is_ipv4 = frames[0][12..14] == [0x08, 0x00];
    for f in frames {
        b.device().inject(f);
    }
    for _ in 0..3000 {
        now += 1_000_000;
        a.poll(now);
        b.poll(now);
    }
    let mut buf = [0u8; 16];
    assert_eq!(
        b.recv(hb, &mut buf).unwrap(),
        10,
        "the message arrives either way"
    );
    first_is_ipv4
}

#[test]
fn arp_refresh_keeps_the_next_hop_resolved_under_an_idle_session() {
    assert!(
        first_frame_after_idle_is_data(Some(20_000), 150),
        "with refresh: no ARP before the message"
    );
    assert!(
        first_frame_after_idle_is_data(Some(59_000), 150),
        "refresh just inside the 60 s lifetime"
    );
    // Control: without the refresh, smoltcp forgets the neighbour after 60 s and the message
    // waits for an ARP round trip (this is what the refresh prevents).
    assert!(
        !first_frame_after_idle_is_data(None, 150),
        "without refresh the entry expires"
    );
}
