//! Property test of the product's promise: two sessions (initiator A, acceptor B), each behind its
//! own software sequencer (`hwsim::fast::FastPath`), exchange application messages over a link
//! that loses, duplicates and reorders messages. Recovery (gap detection, ResendRequest, resends
//! from the store, gap fills, reconnects after protocol violations the faults cause) must give each
//! application every message of the other exactly once and in order, whatever the interleaving.
//!
//! `FIXENG_LONG=1` runs 2000 cases instead of 48.

mod common;

use std::collections::VecDeque;

use common::*;
use fixsession::store::MemoryStore;
use fixsession::{Role, State};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

type Side = Endpoint<MemoryStore, RecApp>;

fn side(role: Role, me: &str, peer: &str, opts: Opts) -> Side {
    let mut cfg = default_config();
    cfg.resend_request_chunk_size = opts.chunk;
    cfg.enable_next_expected_msg_seq_num = opts.use_789;
    cfg.closed_resend_interval = opts.closed;
    cfg.max_resend_range = opts.range;
    cfg.role = role;
    cfg.sender_comp_id = me.into();
    cfg.target_comp_id = peer.into();
    cfg.heart_bt_int = 5;
    cfg.logon_timeout = 5;
    Endpoint::new(cfg, MemoryStore::new(), RecApp::default())
}

#[derive(Clone, Copy, Debug, Default)]
struct Opts {
    /// ResendRequestChunkSize of both sides.
    chunk: u32,
    /// NextExpectedMsgSeqNum on Logon, both sides.
    use_789: bool,
    /// Probability per step that one side crashes and restarts over its store.
    crash: f64,
    /// ClosedResendInterval of both sides.
    closed: bool,
    /// MaxResendRange of both sides (numbers per resend step; 0 = whole range at once).
    range: u32,
}

#[derive(Clone, Copy, Debug)]
struct Faults {
    drop: f64,
    dup: f64,
    reorder: f64,
}

/// Puts what `from` sent on the link, applying faults (never to Logons, so reconnects finish).
fn transmit(out: &mut Out, link: &mut VecDeque<Vec<u8>>, f: Option<Faults>, rng: &mut SmallRng) {
    for m in out.sent.drain(..) {
        let is_logon = get(&m, 35).as_deref() == Some(b"A");
        match f {
            Some(f) if !is_logon => {
                if rng.gen_bool(f.drop) {
                    continue;
                }
                let dup = rng.gen_bool(f.dup);
                if rng.gen_bool(f.reorder) && !link.is_empty() {
                    let at = link.len() - 1;
                    link.insert(at, m.clone());
                } else {
                    link.push_back(m.clone());
                }
                if dup {
                    link.push_back(m);
                }
            }
            _ => link.push_back(m),
        }
    }
}

fn app_ids(side: &Side) -> Vec<u64> {
    side.s
        .app()
        .delivered
        .iter()
        .map(|(m, _)| {
            String::from_utf8(get(m, 11).unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

/// Runs one simulation; returns (ids delivered to B, ids delivered to A, reconnects).
fn simulate(
    seed: u64,
    n_ab: u64,
    n_ba: u64,
    faults: Faults,
    opts: Opts,
) -> (Vec<u64>, Vec<u64>, u32) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut a = side(Role::Initiator, "A", "B", opts);
    let mut b = side(Role::Acceptor, "B", "A", opts);
    let mut ab: VecDeque<Vec<u8>> = VecDeque::new();
    let mut ba: VecDeque<Vec<u8>> = VecDeque::new();
    let mut now = T0;
    let (mut sent_ab, mut sent_ba) = (0u64, 0u64);
    let mut reconnects = 0;
    let mut connected = false;
    let max_steps = 20_000;
    for step in 0..max_steps {
        let faulty = sent_ab < n_ab || sent_ba < n_ba;
        let f = faulty.then_some(faults);
        if !connected {
            b.connect(now);
            a.connect(now);
            connected = true;
        }
        // Applications send (also while not logged on: journaled, resent on request).
        if sent_ab < n_ab && rng.gen_bool(0.5) {
            sent_ab += 1;
            let id = sent_ab.to_string();
            a.send(now, b"D", &[(11, id.as_bytes())]);
        }
        if sent_ba < n_ba && rng.gen_bool(0.3) {
            sent_ba += 1;
            let id = sent_ba.to_string();
            b.send(now, b"8", &[(11, id.as_bytes())]);
        }
        transmit(&mut a.out, &mut ab, f, &mut rng);
        transmit(&mut b.out, &mut ba, f, &mut rng);
        // The link delivers a few messages each way.
        for _ in 0..rng.gen_range(1..4) {
            if let Some(m) = ab.pop_front() {
                b.recv(now, &m);
                transmit(&mut b.out, &mut ba, f, &mut rng);
            }
            if let Some(m) = ba.pop_front() {
                a.recv(now, &m);
                transmit(&mut a.out, &mut ab, f, &mut rng);
            }
        }
        now += 100_000_000;
        a.timer(now);
        b.timer(now);
        transmit(&mut a.out, &mut ab, f, &mut rng);
        transmit(&mut b.out, &mut ba, f, &mut rng);
        // A crash (only while faults are on, so the run can finish).
        let mut crashed = false;
        if faulty && opts.crash > 0.0 && rng.gen_bool(opts.crash) {
            if rng.gen_bool(0.5) {
                a = a.restart();
            } else {
                b = b.restart();
            }
            crashed = true;
        }
        // A dropped connection (either side asked for it): both see it, the link is emptied.
        if crashed
            || a.out.disconnected
            || b.out.disconnected
            || a.s.state() == State::Disconnected
            || b.s.state() == State::Disconnected
        {
            a.disconnect(now);
            b.disconnect(now);
            ab.clear();
            ba.clear();
            connected = false;
            reconnects += 1;
            now += 1_000_000_000;
        }
        let done = sent_ab == n_ab
            && sent_ba == n_ba
            && b.s.app().delivered.len() as u64 >= n_ab
            && a.s.app().delivered.len() as u64 >= n_ba
            && ab.is_empty()
            && ba.is_empty();
        if done && step > 10 {
            break;
        }
    }
    (app_ids(&b), app_ids(&a), reconnects)
}

fn cases() -> u32 {
    if std::env::var("FIXENG_LONG").is_ok() {
        2000
    } else {
        48
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_message_exactly_once_in_order(
        seed in any::<u64>(),
        n_ab in 1u64..120,
        n_ba in 0u64..40,
        drop in 0.0f64..0.25,
        dup in 0.0f64..0.1,
        reorder in 0.0f64..0.25,
        chunk in prop_oneof![Just(0u32), 1u32..20],
        use_789 in any::<bool>(),
        crash in prop_oneof![Just(0.0f64), 0.0f64..0.02],
        closed in any::<bool>(),
        range in prop_oneof![Just(0u32), Just(1024u32), 1u32..6],
    ) {
        let opts = Opts { chunk, use_789, crash, closed, range };
        let (to_b, to_a, reconnects) =
            simulate(seed, n_ab, n_ba, Faults { drop, dup, reorder }, opts);
        let want_b: Vec<u64> = (1..=n_ab).collect();
        let want_a: Vec<u64> = (1..=n_ba).collect();
        prop_assert_eq!(&to_b, &want_b, "A->B (reconnects {})", reconnects);
        prop_assert_eq!(&to_a, &want_a, "B->A (reconnects {})", reconnects);
    }
}

#[test]
fn clean_link_needs_no_reconnect() {
    let (to_b, to_a, reconnects) = simulate(
        7,
        100,
        30,
        Faults {
            drop: 0.0,
            dup: 0.0,
            reorder: 0.0,
        },
        Opts::default(),
    );
    assert_eq!(to_b, (1..=100).collect::<Vec<_>>());
    assert_eq!(to_a, (1..=30).collect::<Vec<_>>());
    assert_eq!(reconnects, 0);
}

#[test]
fn heavy_loss_recovers() {
    for seed in 0..8 {
        let (to_b, to_a, reconnects) = simulate(
            seed,
            150,
            10,
            Faults {
                drop: 0.3,
                dup: 0.05,
                reorder: 0.2,
            },
            Opts {
                chunk: if seed % 2 == 0 { 0 } else { 7 },
                use_789: seed % 3 == 0,
                crash: 0.01,
                closed: seed % 4 >= 2,
                range: [0, 3, 1024][seed as usize % 3],
            },
        );
        println!("seed {seed}: {reconnects} reconnects");
        assert_eq!(to_b, (1..=150).collect::<Vec<_>>(), "seed {seed}");
        assert_eq!(to_a, (1..=10).collect::<Vec<_>>(), "seed {seed}");
    }
}
