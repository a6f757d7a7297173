//! The acceptor's CompID router (`connect::Router`), driven with chosen times: a Logon that
//! arrives in pieces is routed once complete and reaches the session whole (peeked, not
//! consumed); a second connection for a connected session and a connection that never logs on
//! are closed without an answer; after the session's connection ends, a new Logon is routed;
//! hostile first messages (unknown CompIDs, bad checksum, oversized, random bytes) are closed
//! without an answer.

use fixeng::connect::{Connector, RouteKey, Router, ROUTER_POLL};
use fixeng::msg::write_message;
use fixeng::transport::uring::{probe, UringOptions};
use fixeng::{Agent, Nanos, Transport};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn key(target: &str) -> RouteKey {
    RouteKey {
        begin_string: "FIX.4.4".into(),
        sender_comp_id: "EXCHANGE".into(),
        target_comp_id: target.into(),
    }
}

fn logon(sender: &str) -> Vec<u8> {
    let mut out = [0u8; 512];
    let fields =
        format!("49={sender}\x0156=EXCHANGE\x0152=20260101-00:00:00.000\x0198=0\x01108=30\x01");
    let n = write_message(&mut out, "FIX.4.4", "A", 1, fields.as_bytes()).unwrap();
    out[..n].to_vec()
}

/// Runs the router (advancing `now` by a poll interval per step) until `done` or 5 s.
fn run_until(r: &mut Router, now: &mut Nanos, mut done: impl FnMut(&Router) -> bool) {
    let t0 = Instant::now();
    while !done(r) {
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", r.stats);
        *now += ROUTER_POLL;
        r.do_work(*now);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// True once the peer sees the connection closed (EOF or reset) with nothing sent to it.
fn closed_silently(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn router_routes_by_compids_and_drops_the_rest() {
    if let Err(e) = probe() {
        println!("SKIP: {e}");
        return;
    }
    let mut r = Router::bind(
        "127.0.0.1:0".parse().unwrap(),
        4096,
        Duration::from_secs(10),
    )
    .unwrap();
    let mut c1 = r.add_session(key("CLIENT1"), UringOptions::default());
    let mut c2 = r.add_session(key("CLIENT2"), UringOptions::default());
    let addr = r.local_addr();
    let mut now: Nanos = 1_700_000_000_000_000_000;

    // A Logon in two pieces: nothing happens until it is complete.
    let l2 = logon("CLIENT2");
    let mut s2 = TcpStream::connect(addr).unwrap();
    s2.write_all(&l2[..25]).unwrap();
    run_until(&mut r, &mut now, |r| r.stats.accepted == 1);
    for _ in 0..20 {
        now += ROUTER_POLL;
        r.do_work(now);
    }
    assert_eq!(r.stats.routed, 0, "half a Logon must not be routed");
    assert!(c2.poll_connect(now).unwrap().is_none());
    s2.write_all(&l2[25..]).unwrap();
    run_until(&mut r, &mut now, |r| r.stats.routed == 1);
    let mut ev = Vec::new();
    r.take_events(|e| ev.push(e.to_string()));
    assert!(
        ev.iter()
            .any(|e| e.contains("routed to FIX.4.4:EXCHANGE->CLIENT2")),
        "{ev:?}"
    );
    assert!(c1.poll_connect(now).unwrap().is_none(), "not CLIENT1's");
    let mut t = c2.poll_connect(now).unwrap().expect("CLIENT2's connection");
    // The session reads the whole Logon itself.
    let mut got = Vec::new();
    let t0 = Instant::now();
    while got.len() < l2.len() {
        assert!(t0.elapsed() < Duration::from_secs(5), "Logon not received");
        t.poll(now);
        let mut b = [0u8; 1024];
        let n = t.recv_into(&mut b);
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(got, l2);

    // A second connection for CLIENT2 while it is connected: closed without an answer.
    let mut dup = TcpStream::connect(addr).unwrap();
    dup.write_all(&l2).unwrap();
    run_until(&mut r, &mut now, |r| r.stats.busy == 1);
    assert!(closed_silently(&mut dup));

    // A connection that never sends its Logon: closed after the logon timeout.
    let mut mute = TcpStream::connect(addr).unwrap();
    run_until(&mut r, &mut now, |r| r.stats.accepted == 3);
    now += 10_000_000_000 + 2 * ROUTER_POLL;
    r.do_work(now);
    assert_eq!(r.stats.timeouts, 1, "{:?}", r.stats);
    assert!(closed_silently(&mut mute));

    // Once CLIENT2's connection has ended, a new Logon for it is routed again.
    t.close();
    c2.on_closed(&t);
    drop(t);
    let mut again = TcpStream::connect(addr).unwrap();
    again.write_all(&l2).unwrap();
    run_until(&mut r, &mut now, |r| r.stats.routed == 2);
    assert!(c2.poll_connect(now).unwrap().is_some());
    assert_eq!(
        (r.stats.unknown, r.stats.bad_logon, r.stats.overflow),
        (0, 0, 0)
    );

    // Hostile first messages: each closed without an answer, none routed.
    let mut bad_checksum = logon("CLIENT1");
    let n = bad_checksum.len();
    bad_checksum[n - 2] = if bad_checksum[n - 2] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..3000)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect();
    let cases: [(&str, Vec<u8>); 4] = [
        ("unknown CompIDs", logon("NOBODY")),
        ("bad checksum", bad_checksum),
        (
            "declared longer than MaxMessageSize",
            b"8=FIX.4.4\x019=99999\x0135=A\x01".to_vec(),
        ),
        ("random bytes", noise),
    ];
    for (i, (what, bytes)) in cases.into_iter().enumerate() {
        let before = r.stats;
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&bytes).unwrap();
        run_until(&mut r, &mut now, |r| {
            r.stats.unknown + r.stats.bad_logon == before.unknown + before.bad_logon + 1
        });
        assert_eq!(r.stats.routed, 2, "{what}");
        assert!(closed_silently(&mut s), "{what}");
        assert_eq!(r.stats.accepted, 4 + i as u64 + 1, "{what}");
    }
    assert_eq!((r.stats.unknown, r.stats.bad_logon), (1, 3));
    assert!(c1.poll_connect(now).unwrap().is_none());
}
