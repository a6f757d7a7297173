//! Hostile wire input: corrupted, truncated, extended and random Ethernet frames must never panic
//! the stack, and with checksum verification on they must never corrupt the byte stream.
//! `FIXDPDK_LONG=1` runs them 5 to 100 times longer.

use std::net::{Ipv4Addr, SocketAddrV4};

use fixdpdk::pipe::{pipe_pair, PipeDevice};
use fixdpdk::{pattern_byte, StackConfig, StreamState, TcpStack};

/// `FIXDPDK_LONG=1`: 5x to 100x longer randomized runs.
fn long() -> bool {
    std::env::var_os("FIXDPDK_LONG").is_some()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn cfg(last: u8) -> StackConfig {
    StackConfig {
        mac: [0x02, 0, 0, 0, 0, last],
        ip: Ipv4Addr::new(10, 9, 0, last),
        random_seed: u64::from(last),
        rx_buffer: 32 * 1024,
        tx_buffer: 32 * 1024,
        ..StackConfig::default()
    }
}

/// Damages a frame in one of several ways; returns the damaged frame (or a random one).
/// With `detectable`, only damage the IPv4/TCP checksums always catch (or catch but for a
/// 2^-16 chance): not the byte swap, which the Internet checksum cannot see when both bytes
/// sit at offsets of the same parity (the one's-complement sum of 16-bit words is unchanged).
fn damage(rng: &mut Rng, mut f: Vec<u8>, detectable: bool) -> Vec<u8> {
    match rng.below(if detectable { 5 } else { 6 }) {
        0 if !f.is_empty() => {
            // One byte changed (never undetectable by the Internet checksum).
            let i = rng.below(f.len() as u64) as usize;
            f[i] ^= (rng.below(255) + 1) as u8;
        }
        1 => f.truncate(rng.below(f.len() as u64 + 1) as usize),
        2 => f.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
        3 => {
            let n = rng.below(1600) as usize;
            f = (0..n).map(|_| rng.next() as u8).collect();
        }
        4 if f.len() > 34 => {
            // Keep Ethernet+IP header, randomise the rest.
            for b in &mut f[34..] {
                *b = rng.next() as u8;
            }
        }
        _ => {
            let n = f.len();
            if n > 1 {
                let i = rng.below(n as u64) as usize;
                let j = rng.below(n as u64) as usize;
                f.swap(i, j);
            }
        }
    }
    f
}

/// Moves the frames queued for `dev`, damaging about one in `one_in` (and duplicating a few).
fn tamper(dev: &PipeDevice, rng: &mut Rng, one_in: u64, detectable: bool) -> u64 {
    let mut damaged = 0;
    for f in dev.take_incoming() {
        if rng.below(one_in) == 0 {
            damaged += 1;
            dev.inject(damage(rng, f, detectable));
        } else {
            if rng.below(50) == 0 {
                dev.inject(f.clone());
            }
            dev.inject(f);
        }
    }
    damaged
}

#[test]
fn corrupted_frames_never_corrupt_the_stream() {
    let (da, db) = pipe_pair(1500);
    let mut a = TcpStack::new(da, cfg(1), 0).unwrap();
    let mut b = TcpStack::new(db, cfg(2), 0).unwrap();
    let hb = b.listen(9878).unwrap();
    let ha = a
        .connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878))
        .unwrap();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let n = if long() { 1_000_000u64 } else { 200_000u64 };
    let (mut sa, mut sb, mut ra, mut rb, mut now, mut damaged) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut chunk = [0u8; 2000];
    let mut buf = [0u8; 4096];
    let mut steps = 0;
    while ra < n || rb < n {
        steps += 1;
        assert!(steps < 5 * n, "stalled: a {sa}/{ra} b {sb}/{rb}");
        for (st, h, sent, seed) in [(&mut a, ha, &mut sa, 1u8), (&mut b, hb, &mut sb, 2u8)] {
            if *sent < n {
                let k = ((n - *sent) as usize).min(chunk.len());
                for (i, c) in chunk[..k].iter_mut().enumerate() {
                    *c = pattern_byte(seed, *sent + i as u64);
                }
                *sent += st.send(h, &chunk[..k]).unwrap() as u64;
            }
        }
        now += 1_000_000;
        a.poll(now);
        damaged += tamper(b.device(), &mut rng, 4, true);
        b.poll(now);
        damaged += tamper(a.device(), &mut rng, 4, true);
        for (st, h, got, seed) in [(&mut a, ha, &mut ra, 2u8), (&mut b, hb, &mut rb, 1u8)] {
            loop {
                let k = st.recv(h, &mut buf).unwrap();
                if k == 0 {
                    break;
                }
                for (i, c) in buf[..k].iter().enumerate() {
                    assert_eq!(
                        *c,
                        pattern_byte(seed, *got + i as u64),
                        "corrupted byte {}",
                        *got + i as u64
                    );
                }
                *got += k as u64;
            }
        }
    }
    assert!(
        damaged > 100,
        "too little damage to mean anything: {damaged}"
    );
    assert_eq!(a.state(ha).unwrap(), StreamState::Established);
}

/// One round: a connection under heavy damage and noise, checksums not verified, so damaged
/// frames reach TCP's own parsing. Ends after `steps` or when garbage has reset the connection
/// (then the freed slot must be reusable).
fn garbage_round(seed: u64, steps: u64) {
    let (mut da, mut db) = pipe_pair(1500);
    da.set_verify_checksums(false);
    db.set_verify_checksums(false);
    let mut a = TcpStack::new(da, cfg(1), 0).unwrap();
    let mut b = TcpStack::new(db, cfg(2), 0).unwrap();
    let _listener = b.listen(9878).unwrap();
    let _spare = b.listen(9879).unwrap();
    let ha = a
        .connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9878))
        .unwrap();
    let mut rng = Rng(seed | 1);
    let mut buf = [0u8; 4096];
    let mut now = 0;
    for step in 0..steps {
        now += 1_000_000;
        let _ = a.send(ha, &[step as u8; 700]);
        a.poll(now);
        tamper(b.device(), &mut rng, 2, false);
        b.poll(now);
        tamper(a.device(), &mut rng, 2, false);
        // Pure noise too.
        let n = rng.below(1600) as usize;
        b.device()
            .inject((0..n).map(|_| rng.next() as u8).collect());
        let _ = a.recv(ha, &mut buf);
        if step % 1000 == 999 && a.state(ha).unwrap() == StreamState::Closed {
            // Reset by garbage: the slot is reusable and the stale handle is detected.
            a.release(ha).unwrap();
            let h = a
                .connect(SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 9879))
                .unwrap();
            assert_ne!(h, ha);
            assert!(a.state(ha).is_err());
            return;
        }
    }
}

#[test]
fn garbage_without_checksum_verification_never_panics() {
    let rounds = if long() { 100 } else { 1 };
    for r in 0..rounds {
        garbage_round(0xfeed_beef_cafe_f00d ^ (r * 0x9E37_79B9), 20_000);
    }
}
