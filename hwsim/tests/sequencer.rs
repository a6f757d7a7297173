//! The `Sequencer` trait's implementations agree: the fast path, the cycle model driven through
//! its pins (`PinSequencer<CycleModel>`) and a card (`CardSequencer` over a map file served by a
//! `CardEmulator<CycleModel>` thread) hand the same `(Verdict, message bytes)` sequence to the
//! session layer after the same chunks, over hostile generated traffic chunked at random, with
//! register operations between chunks and random output back-pressure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hwsim::card::{map_len, reg, Cmd, CmdReader, CmdWriter, RingWriter};
use hwsim::cycle::{Config, CycleModel};
use hwsim::fast::FastPath;
use hwsim::gen::{build_message, GenConfig, Traffic};
use hwsim::sequencer::{CardSequencer, PinSequencer, Sequencer, StreamBuf};
use hwsim::{Kind, Verdict};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One step the engine can take.
#[derive(Clone, Debug)]
enum Step {
    Chunk(u16, Vec<u8>),
    SetExpected(u16, u32),
    ClearWindow(u16),
    ResetStream(u16),
}

/// The generated traffic re-chunked at random (1 byte … 3× MAX_MSG, so pieces longer than a
/// sequencer's stream buffer occur too), with register operations between chunks.
fn script(seed: u64, sessions: u16, events: usize, ops: bool) -> Vec<Step> {
    let t = Traffic::new(
        seed,
        GenConfig {
            sessions,
            events,
            ..GenConfig::default()
        },
    );
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EC);
    let mut pos = vec![0usize; usize::from(sessions)];
    let mut steps = Vec::new();
    loop {
        let live: Vec<u16> = (0..sessions)
            .filter(|&s| pos[usize::from(s)] < t.streams()[usize::from(s)].len())
            .collect();
        if live.is_empty() {
            return steps;
        }
        let s = live[rng.gen_range(0..live.len())];
        let st = &t.streams()[usize::from(s)];
        let p = pos[usize::from(s)];
        let n = match rng.gen_range(0..10) {
            0 => 1,
            1..=6 => rng.gen_range(1..=400),
            7 | 8 => rng.gen_range(1..=5000),
            _ => rng.gen_range(4000..=12_500),
        }
        .min(st.len() - p);
        steps.push(Step::Chunk(s, st[p..p + n].to_vec()));
        pos[usize::from(s)] += n;
        if ops && rng.gen_range(0..100) < 3 {
            steps.push(match rng.gen_range(0..3) {
                0 => Step::SetExpected(s, rng.gen_range(1..2000)),
                1 => Step::ClearWindow(s),
                _ => Step::ResetStream(s),
            });
        }
    }
}

/// Runs `steps`; returns, per step, the records handed out during it.
fn run(q: &mut dyn Sequencer, steps: &[Step]) -> Vec<Vec<(Verdict, Vec<u8>)>> {
    steps
        .iter()
        .map(|st| {
            let mut got = Vec::new();
            match st {
                Step::Chunk(s, b) => q.process(*s, b, &mut |v, m| got.push((*v, m.to_vec()))),
                Step::SetExpected(s, e) => q.set_expected(*s, *e),
                Step::ClearWindow(s) => q.clear_window(*s),
                Step::ResetStream(s) => q.reset_stream(*s),
            }
            assert_eq!(q.failure(), None, "{} failed", q.name());
            got
        })
        .collect()
}

fn assert_same(name: &str, want: &[Vec<(Verdict, Vec<u8>)>], got: &[Vec<(Verdict, Vec<u8>)>]) {
    assert_eq!(want.len(), got.len());
    let mut records = 0;
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        assert_eq!(w.len(), g.len(), "{name}: step {i}: record count");
        for (j, (a, b)) in w.iter().zip(g).enumerate() {
            assert_eq!(a.0, b.0, "{name}: step {i} record {j}: verdict");
            assert!(
                a.1 == b.1,
                "{name}: step {i} record {j}: message bytes differ"
            );
        }
        records += w.len();
    }
    assert!(
        records > 500,
        "the traffic must produce records ({records})"
    );
}

fn model(sessions: usize) -> PinSequencer<CycleModel> {
    let cfg = Config::default();
    PinSequencer::new(CycleModel::new(cfg), cfg, sessions, "model").expect("model")
}

#[test]
fn pin_model_equals_fast_path_over_random_chunks() {
    for seed in 1..=3 {
        let steps = script(seed, 8, 2500, false);
        let want = run(&mut FastPath::new(8, 256, 4096), &steps);
        let mut m = model(8);
        let got = run(&mut m, &steps);
        assert_same(&format!("seed {seed}"), &want, &got);
        assert_eq!(m.lost(), 0);
        let kinds: std::collections::HashSet<_> =
            want.iter().flatten().map(|(v, _)| v.kind).collect();
        assert!(
            kinds.len() >= 7,
            "the traffic exercises most kinds: {kinds:?}"
        );
    }
}

#[test]
fn pin_model_equals_fast_path_with_register_ops_and_backpressure() {
    let steps = script(7, 6, 2500, true);
    assert!(steps.iter().any(|s| matches!(s, Step::ResetStream(_))));
    assert!(steps.iter().any(|s| matches!(s, Step::SetExpected(..))));
    let want = run(&mut FastPath::new(6, 256, 4096), &steps);
    let mut m = model(6).with_backpressure(9, 95);
    let got = run(&mut m, &steps);
    assert_same("backpressure", &want, &got);
    assert_eq!(m.lost(), 0);
    assert!(
        m.driver().stalls() > 0,
        "back-pressure on the verdicts reached the payload input"
    );
}

#[test]
fn one_byte_chunks_through_the_pins() {
    let mut st = Vec::new();
    for s in 1..=4u32 {
        st.extend(build_message(b"D", &[(34, s.to_string().as_bytes())]));
    }
    st.extend_from_slice(b"8=FIX.4.4\x019=x");
    st.extend(build_message(b"0", &[(34, b"6")]));
    let steps: Vec<Step> = st.iter().map(|&b| Step::Chunk(0, vec![b])).collect();
    let want = run(&mut FastPath::new(1, 256, 4096), &steps);
    let got = run(&mut model(1), &steps);
    assert_eq!(want, got);
    let all: Vec<_> = got.into_iter().flatten().collect();
    assert_eq!(all.len(), 6);
    assert_eq!(all[4].0.kind(), Some(Kind::Garbled));
    assert!(all[4].1.is_empty(), "garbled records carry no bytes");
    assert_eq!(all[5].0.kind(), Some(Kind::Gap));
    assert!(all[5].1.starts_with(b"8=FIX.4.4\x01") && all[5].1.ends_with(b"\x01"));
}

#[test]
fn pin_sequencer_rejects_sessions_the_block_does_not_have() {
    let cfg = Config::default();
    let e = PinSequencer::new(CycleModel::new(cfg), cfg, 65, "model")
        .err()
        .expect("65 sessions on a 64-session block");
    assert!(e.contains("65 sessions"), "{e}");
}

/// A card emulation on its own thread, serving `path`.
struct CardThread {
    stop: Arc<AtomicBool>,
    join: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl CardThread {
    fn start(path: &std::path::Path, cmd_log2: u32) -> CardThread {
        let cfg = Config::default();
        let mut emu =
            hwsim::card::CardEmulator::create(path, CycleModel::new(cfg), cfg, 6, cmd_log2)
                .expect("card map");
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let join = std::thread::spawn(move || emu.run(&s2).map(|()| emu.commands));
        CardThread {
            stop,
            join: Some(join),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Release);
        self.join
            .take()
            .expect("running")
            .join()
            .expect("card thread")
            .expect("card emulation")
    }
}

impl Drop for CardThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

#[test]
fn card_sequencer_equals_fast_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0");
    // A 64-record verdict ring and a 16 KiB command ring: both wrap and fill many times.
    let card = CardThread::start(&path, 14);
    let steps = script(5, 5, 2000, true);
    let want = run(&mut FastPath::new(5, 256, 4096), &steps);
    let mut c = CardSequencer::open(&path, 5, 4096).expect("open card");
    assert_eq!(c.params(), Config::default().params_reg());
    let got = run(&mut c, &steps);
    assert_same("card", &want, &got);
    assert_eq!(c.lost(), 0);
    let commands = card.stop();
    assert!(commands as usize >= steps.len(), "{commands} commands");
}

#[test]
fn card_that_does_not_answer_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0");
    let _map = RingWriter::create_with_cmd(&path, 4, 12, Config::default().params_reg())
        .expect("map without a card behind it");
    let mut c = CardSequencer::open(&path, 1, 1024).expect("open");
    c.set_timeout(Duration::from_millis(50));
    let m = build_message(b"0", &[(34, b"1")]);
    let mut n = 0;
    c.process(0, &m, &mut |_, _| n += 1);
    assert_eq!(n, 0);
    let f = c.failure().expect("a silent card is a failure");
    assert!(f.contains("did not complete"), "{f}");
}

#[test]
fn card_open_checks_the_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0");
    RingWriter::create(&path, 4, Config::default().params_reg()).expect("map");
    let e = CardSequencer::open(&path, 1, 4096)
        .err()
        .expect("no command ring");
    assert!(e.contains("no command ring"), "{e}");
    std::fs::write(&path, vec![0u8; map_len(4)]).expect("zeros");
    let e = CardSequencer::open(&path, 1, 4096).err().expect("no magic");
    assert!(e.contains("ID"), "{e}");
    let e = CardSequencer::open(&dir.path().join("missing"), 1, 4096)
        .err()
        .expect("missing file");
    assert!(e.contains("missing"), "{e}");
}

#[test]
fn command_ring_wraps_with_padding_and_keeps_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0");
    let _w = RingWriter::create_with_cmd(&path, 2, 12, 0).expect("map");
    let mut host = CmdWriter::open(&path).expect("host");
    let mut card = CmdReader::open(&path).expect("card");
    assert_eq!(host.max_data(), 2048 - 8);
    assert!(!host.push_data(0, &[0u8; 2041]), "above max_data");
    let mut rng = SmallRng::seed_from_u64(3);
    let mut sent: std::collections::VecDeque<(u16, Vec<u8>)> = Default::default();
    let mut got = 0usize;
    let mut pushed = 0u32;
    while got < 3000 {
        // Fill until the ring refuses, then take a few: exercises full, padding and wrap.
        loop {
            let len = rng.gen_range(0..=700);
            let s = rng.gen_range(0..64u16);
            let b: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if rng.gen_range(0..10) == 0 {
                if !host.push_csr(u32::from(s) << 6, len as u32) {
                    break;
                }
                sent.push_back((u16::MAX, (u32::from(s) << 6).to_le_bytes().to_vec()));
            } else {
                if !host.push_data(s, &b) {
                    break;
                }
                sent.push_back((s, b));
            }
            pushed += 1;
        }
        for _ in 0..rng.gen_range(1..6) {
            let Some(c) = card
                .next(|c| match c {
                    Cmd::Data(s, b) => (s, b.to_vec()),
                    Cmd::CsrWrite(a, _) => (u16::MAX, a.to_le_bytes().to_vec()),
                })
                .expect("well-formed")
            else {
                break;
            };
            assert_eq!(Some(c), sent.pop_front(), "command {got}");
            card.complete();
            got += 1;
        }
    }
    assert_eq!(host.pushed(), pushed);
    assert_eq!(host.done() as usize, got);
}

#[test]
fn command_ring_rejects_a_corrupt_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0");
    let _w = RingWriter::create_with_cmd(&path, 2, 12, 0).expect("map");
    let mut host = CmdWriter::open(&path).expect("host");
    assert!(host.push_data(1, b"abc"));
    // Corrupt the opcode in the file, as a broken host would.
    let mut bytes = std::fs::read(&path).expect("read");
    let at = map_len(2);
    bytes[at] = 9;
    std::fs::write(&path, &bytes).expect("write");
    let mut card = CmdReader::open(&path).expect("card");
    let e = card.next(|_| ()).expect_err("opcode 9");
    assert!(e.to_string().contains("opcode 9"), "{e}");
    // PROD beyond the ring.
    bytes[reg::CMD_PROD..reg::CMD_PROD + 4].copy_from_slice(&100_000u32.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    let mut card = CmdReader::open(&path).expect("card");
    let e = card.next(|_| ()).expect_err("PROD too far");
    assert!(e.to_string().contains("differ by more"), "{e}");
}

#[test]
fn stream_buf_keeps_the_last_bytes_and_wraps_offsets() {
    let mut b = StreamBuf::new(8);
    b.append(b"01234567");
    b.append(b"89abcdef");
    assert_eq!(b.slice(2, 4), Some(&b"2345"[..]));
    b.append(b"ghij");
    // 20 bytes > 16: the oldest 8 are gone.
    assert_eq!(b.slice(2, 4), None);
    assert_eq!(b.slice(8, 12), Some(&b"89abcdefghij"[..]));
    assert_eq!(b.end(), 20);
    assert_eq!(b.slice(18, 3), None, "past the end");
    let v = Verdict {
        kind: Kind::Garbled as u8,
        offset: 0,
        length: 5,
        ..Verdict::default()
    };
    assert_eq!(b.message(&v), Some(&[][..]), "garbled: no bytes");
    b.reset();
    assert_eq!(b.end(), 0);
    b.append(b"xy");
    assert_eq!(b.slice(0, 2), Some(&b"xy"[..]));
}

#[test]
fn a_record_for_bytes_not_sent_fails_the_card() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0");
    let mut ring =
        RingWriter::create_with_cmd(&path, 4, 12, Config::default().params_reg()).expect("map");
    let mut cmds = CmdReader::open(&path).expect("card side");
    // A broken card: answers each command with one record pointing past the bytes it got.
    let card = std::thread::spawn(move || {
        let mut answered = 0;
        let t0 = std::time::Instant::now();
        while answered < 1 && t0.elapsed() < Duration::from_secs(10) {
            if let Some(len) = cmds
                .next(|c| match c {
                    Cmd::Data(_, b) => b.len(),
                    Cmd::CsrWrite(..) => 0,
                })
                .expect("well-formed")
            {
                let v = Verdict {
                    kind: Kind::InOrder as u8,
                    seq: 1,
                    offset: 1000,
                    length: len as u32,
                    ..Verdict::default()
                };
                assert!(ring.push(&v));
                cmds.complete();
                answered += 1;
            }
        }
    });
    let mut c = CardSequencer::open(&path, 1, 1024).expect("open");
    let m = build_message(b"0", &[(34, b"1")]);
    let mut n = 0;
    c.process(0, &m, &mut |_, _| n += 1);
    card.join().expect("card thread");
    assert_eq!(n, 0, "a corrupt record is not handed on");
    assert_eq!(c.lost(), 1);
    let f = c.failure().expect("corrupt record fails the card");
    assert!(f.contains("not held"), "{f}");
}
