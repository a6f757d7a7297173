//! Directed co-simulation tests. They run on [`fpga_sim::Dut`]: the cycle model and the RTL in
//! lockstep with `--features verilator` (every cycle compared), the cycle model alone without.
//! Each test also checks the verdicts against the contract (kinds, reasons, numbers, offsets),
//! and against the untimed reference (hwsim::frame + hwsim::seq) record by record.

use fpga_sim::{new_dut, write_failure, Bench, BenchError, DriveOpts, Dut, Op};
use hwsim::contract::reason;
use hwsim::cycle::csr;
use hwsim::frame::{FrameState, SOH};
use hwsim::gen::{build_message, push_message, push_raw};
use hwsim::seq::SeqState;
use hwsim::{Flags, Kind, Reason, Verdict};

const MAX_MSG: u32 = 4096;

fn bench(opts: DriveOpts) -> Bench<Dut> {
    if !fpga_sim::HAVE_RTL {
        eprintln!(
            "note: RTL not built; running on the cycle model only \
             (cargo test -p fpga-sim --features verilator to co-simulate)"
        );
    }
    Bench::new(new_dut(), opts).expect("reset")
}

/// Runs `ops`, drains, and panics with a written report on any mismatch.
fn run(name: &str, opts: DriveOpts, ops: &[Op]) -> Bench<Dut> {
    let mut b = bench(opts);
    let r = b.run(ops).and_then(|_| b.drain());
    if let Err(e) = r {
        if let BenchError::Mismatch(m) = &e {
            let p = write_failure(name, m, &format!("script: {ops:?}"));
            panic!("{name}: {e}\nreport: {}", p.display());
        }
        panic!("{name}: {e}");
    }
    let refv = reference(ops);
    let got: Vec<Verdict> = b.verdicts.iter().map(|v| v.1).collect();
    assert_eq!(got.len(), refv.len(), "{name}: verdict count vs reference");
    for (i, (g, r)) in got.iter().zip(&refv).enumerate() {
        assert_eq!(
            g, r,
            "{name}: verdict {i} differs from the untimed reference"
        );
    }
    b
}

/// The untimed reference: the script's bytes through hwsim::frame and hwsim::seq.
fn reference(ops: &[Op]) -> Vec<Verdict> {
    let mut fr = vec![FrameState::new(); 64];
    let mut sq: Vec<SeqState> = (0..64).map(|_| SeqState::new(256)).collect();
    let mut out = Vec::new();
    let mut feed = |fr: &mut Vec<FrameState>, sq: &mut Vec<SeqState>, s: u16, b: u8| {
        if let Some(f) = fr[usize::from(s)].step(b, MAX_MSG) {
            out.push(sq[usize::from(s)].classify(s, &f));
        }
    };
    for op in ops {
        match op {
            Op::Chunk(s, bytes) => {
                for &b in bytes {
                    feed(&mut fr, &mut sq, *s & 63, b);
                }
            }
            Op::Beat(s, d, k, _) => {
                for i in 0..8 {
                    if k & (1 << i) != 0 {
                        feed(&mut fr, &mut sq, *s & 63, (d >> (8 * i)) as u8);
                    }
                }
            }
            Op::Write(a, d) => {
                let s = ((a >> 6) & 63) as usize;
                match (a >> 2) & 15 {
                    csr::EXPECTED => sq[s].set_expected(*d),
                    csr::CONTROL => {
                        if d & csr::CLEAR_WINDOW != 0 {
                            sq[s].clear_window();
                        }
                        if d & csr::RESET_STREAM != 0 {
                            fr[s] = FrameState::new();
                        }
                    }
                    _ => {}
                }
            }
            Op::Read(_) | Op::Idle(_) => {}
        }
    }
    out
}

fn msg(seq: u32) -> Vec<u8> {
    build_message(
        b"D",
        &[
            (34, seq.to_string().as_bytes()),
            (49, b"SENDER"),
            (56, b"TARGET"),
        ],
    )
}

fn msg_f(mt: &[u8], seq: u32, extra: &[(u32, &[u8])]) -> Vec<u8> {
    let s = seq.to_string();
    let mut f: Vec<(u32, &[u8])> = vec![(34, s.as_bytes())];
    f.extend_from_slice(extra);
    build_message(mt, &f)
}

fn kinds(b: &Bench<Dut>) -> Vec<Kind> {
    b.verdicts
        .iter()
        .map(|v| v.1.kind().expect("kind"))
        .collect()
}

#[test]
fn in_order_messages_carry_offsets_lengths_and_numbers() {
    let mut stream = Vec::new();
    let mut bounds = Vec::new();
    for s in 1..=5 {
        let m = msg(s);
        bounds.push((stream.len() as u64, m.len() as u32));
        stream.extend_from_slice(&m);
    }
    let b = run("in_order", DriveOpts::default(), &[Op::Chunk(3, stream)]);
    assert_eq!(b.verdicts.len(), 5);
    for (i, (_, v)) in b.verdicts.iter().enumerate() {
        let s = i as u32 + 1;
        assert_eq!(v.kind(), Some(Kind::InOrder));
        assert_eq!(v.session, 3);
        assert_eq!(v.seq, s);
        assert_eq!(v.expected_before, s);
        assert_eq!(v.expected_after, s + 1);
        assert_eq!(v.msg_type(), b"D");
        assert_eq!((v.offset, v.length), bounds[i]);
        assert_eq!(v.flags.0, 0);
    }
    assert_eq!(b.stalls, 0, "no back-pressure: tready stays high");
}

#[test]
fn every_verdict_kind() {
    let mut st = Vec::new();
    st.extend(msg(1)); // IN_ORDER -> E=2
    st.extend(msg(3)); // GAP (held 3)
    st.extend(msg(3)); // DUPLICATE (already held)
    st.extend(msg(1)); // TOO_LOW
    st.extend(msg_f(b"D", 1, &[(43, b"Y")])); // DUPLICATE (PossDup)
    st.extend(msg(2)); // IN_ORDER, releases 3 -> E=4
    st.extend(msg_f(b"4", 4, &[(123, b"Y"), (36, b"10")])); // GAP_FILL -> E=10
    st.extend(msg_f(b"4", 1, &[(36, b"20")])); // RESET -> E=20
    st.extend(msg(20 + 256)); // BEYOND_WINDOW
    st.extend(build_message(b"D", &[(49, b"X")])); // INVALID_SEQ / SEQ_MISSING
    st.extend(build_message(b"D", &[(34, b"12a")])); // INVALID_SEQ / SEQ_INVALID
    st.extend(b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01"); // GARBLED checksum mismatch
    st.extend(msg_f(b"A", 7, &[(141, b"Y")])); // logon reset: IN_ORDER, E=8
    let b = run("every_kind", DriveOpts::default(), &[Op::Chunk(0, st)]);
    use Kind::*;
    assert_eq!(
        kinds(&b),
        vec![
            InOrder,
            Gap,
            Duplicate,
            TooLow,
            Duplicate,
            InOrder,
            GapFill,
            Reset,
            BeyondWindow,
            InvalidSeq,
            InvalidSeq,
            Garbled,
            InOrder
        ]
    );
    let v: Vec<Verdict> = b.verdicts.iter().map(|x| x.1).collect();
    assert_eq!(v[5].expected_after, 4, "in-order 2 releases the held 3");
    assert_eq!(v[6].expected_after, 10);
    assert_eq!(v[6].new_seq_no, 10);
    assert!(v[6]
        .flags
        .has(Flags::GAP_FILL | Flags::ADMIN | Flags::HAS_NEW_SEQ_NO));
    assert_eq!(v[7].expected_after, 20);
    assert_eq!(v[8].expected_after, 20);
    assert_eq!(v[9].reason, reason::SEQ_MISSING);
    assert_eq!(v[10].reason, reason::SEQ_INVALID);
    assert_eq!(v[11].reason, Reason::ChecksumMismatch as u8);
    assert_eq!((v[11].seq, v[11].flags.0, v[11].msg_type), (0, 0, [0; 4]));
    assert_eq!((v[12].expected_before, v[12].expected_after), (20, 8));
    assert!(v[4].flags.has(Flags::POSS_DUP));
}

#[test]
fn reset_and_gap_fill_reasons() {
    let mut st = Vec::new();
    st.extend(msg(1)); // E=2
    st.extend(msg_f(b"4", 9, &[])); // RESET, NEW_SEQ_NO_MISSING
    st.extend(msg_f(b"4", 9, &[(36, b"1")])); // RESET, LOWER
    st.extend(msg_f(b"4", 9, &[(36, b"2")])); // RESET, EQUAL
    st.extend(msg_f(b"4", 2, &[(123, b"Y")])); // GAP_FILL missing -> E=3
    st.extend(msg_f(b"4", 3, &[(123, b"Y"), (36, b"3")])); // NOT_GREATER -> E=4
    st.extend(msg_f(b"4", 6, &[(123, b"Y"), (36, b"9")])); // GAP at 6 covering 7,8
    st.extend(msg(4)); // IN_ORDER -> E=5
    st.extend(msg(5)); // IN_ORDER releases 6,7,8 -> E=9
    let b = run("reset_reasons", DriveOpts::default(), &[Op::Chunk(1, st)]);
    let v: Vec<(Kind, u8, u32)> = b
        .verdicts
        .iter()
        .map(|x| (x.1.kind().unwrap(), x.1.reason, x.1.expected_after))
        .collect();
    use Kind::*;
    assert_eq!(
        v,
        vec![
            (InOrder, 0, 2),
            (Reset, reason::NEW_SEQ_NO_MISSING, 2),
            (Reset, reason::NEW_SEQ_NO_LOWER, 2),
            (Reset, reason::NEW_SEQ_NO_EQUAL, 2),
            (GapFill, reason::NEW_SEQ_NO_MISSING, 3),
            (GapFill, reason::NEW_SEQ_NO_NOT_GREATER, 4),
            (Gap, 0, 4),
            (InOrder, 0, 5),
            (InOrder, 0, 9),
        ]
    );
}

/// One garbled message per reason, each followed by a valid one that must still frame.
#[test]
fn every_garbled_reason() {
    let good = msg(1);
    let mut cases: Vec<(Reason, Vec<u8>)> = vec![
        (Reason::BadBeginString, b"8=FIX.5.0\x01".to_vec()),
        (Reason::BodyLengthMissing, b"8=FIX.4.4\x0135=D\x01".to_vec()),
        (Reason::BodyLengthInvalid, b"8=FIX.4.4\x019=1x\x01".to_vec()),
        (
            Reason::MsgTypeNotThird,
            b"8=FIX.4.4\x019=10\x0134=1\x01".to_vec(),
        ),
        (
            Reason::BodyLengthMismatch,
            b"8=FIX.4.4\x019=6\x0135=D\x0110=000\x01".to_vec(),
        ),
        (
            Reason::ChecksumMalformed,
            b"8=FIX.4.4\x019=5\x0135=D\x0110=0a".to_vec(),
        ),
        (
            Reason::ChecksumMismatch,
            b"8=FIX.4.4\x019=5\x0135=D\x0110=999\x01".to_vec(),
        ),
        (Reason::TooLong, b"8=FIX.4.4\x019=5000\x01".to_vec()),
    ];
    // Interrupted: a message cut after an SOH, followed by a complete one.
    let mut cut = b"8=FIX.4.4\x019=40\x0135=D\x01".to_vec();
    cut.extend(&good);
    cases.push((Reason::Interrupted, cut));
    let mut st = Vec::new();
    for (_, c) in &cases {
        st.extend(c);
        st.extend(&good);
    }
    let b = run("garbled_reasons", DriveOpts::default(), &[Op::Chunk(2, st)]);
    let mut it = b.verdicts.iter().map(|x| x.1);
    for (why, _) in &cases {
        let g = it.next().expect("garbled verdict");
        assert_eq!(g.kind(), Some(Kind::Garbled), "{why:?}");
        assert_eq!(g.reason, *why as u8, "{why:?}");
        let v = it.next().expect("valid verdict after it");
        assert_ne!(v.kind(), Some(Kind::Garbled), "after {why:?}");
    }
}

/// A stream of messages split into two chunks at every byte offset, after 0..8 bytes of junk
/// so that every message boundary falls on every byte lane.
#[test]
fn split_at_every_byte_offset_and_lane() {
    let mut core = Vec::new();
    for s in 1..=3 {
        core.extend(msg(s));
    }
    let mut ops = Vec::new();
    for pad in 0..8usize {
        let mut st = vec![b'x'; pad];
        st.extend(&core);
        for cut in 1..st.len() {
            ops.push(Op::Write(csr::addr(5, csr::EXPECTED), 1));
            ops.push(Op::Write(csr::addr(5, csr::CONTROL), csr::RESET_STREAM));
            ops.push(Op::Chunk(5, st[..cut].to_vec()));
            ops.push(Op::Chunk(5, st[cut..].to_vec()));
        }
    }
    let b = run("split", DriveOpts::default(), &ops);
    let per = 3;
    let runs: usize = (0..8).map(|p| p + core.len() - 1).sum();
    assert_eq!(b.verdicts.len(), runs * per);
    for (i, (_, v)) in b.verdicts.iter().enumerate() {
        assert_eq!(v.kind(), Some(Kind::InOrder), "verdict {i}");
        assert_eq!(v.seq as usize, i % per + 1);
    }
}

/// Garbage that ends several messages in one beat, valid messages between, random
/// back-pressure: the queue fills, tready drops, nothing is lost.
#[test]
fn several_messages_per_beat_and_backpressure() {
    let mut st = Vec::new();
    for i in 0..40u32 {
        st.extend(b"8=FIX8=FIX8=FIX\x018=FIX.4.4\x018=FIX");
        st.extend(msg(i + 1));
        if i % 8 == 0 {
            // Pure "8=FIX" repeats: one GARBLED per 5 bytes, 1.6 verdicts per beat.
            st.extend(b"8=FIX".repeat(40));
        }
    }
    let b = run(
        "multi_per_beat",
        DriveOpts::default(),
        &[Op::Chunk(9, st.clone())],
    );
    assert!(
        b.stalls > 0,
        "more than one verdict per cycle must stall the input"
    );
    let opts = DriveOpts {
        seed: 7,
        backpressure_pct: 30,
        ..DriveOpts::default()
    };
    let b = run("multi_per_beat_bp", opts, &[Op::Chunk(9, st)]);
    let valid = b
        .verdicts
        .iter()
        .filter(|v| v.1.kind() == Some(Kind::InOrder))
        .count();
    assert_eq!(valid, 40);
    assert!(b.verdicts.len() > 40 * 4);
    assert!(b.stalls > 0);
}

/// Chunks of several sessions interleaved at chunk boundaries.
#[test]
fn interleaved_sessions() {
    let mut ops = Vec::new();
    let mut streams: Vec<Vec<u8>> = (0..8).map(|_| Vec::new()).collect();
    for st in streams.iter_mut() {
        for q in 1..=6 {
            st.extend(msg(q));
        }
    }
    let mut pos = [0usize; 8];
    let mut k = 0usize;
    loop {
        let mut any = false;
        for s in 0..8usize {
            let len = 1 + (k * 7 + s * 13) % 29;
            k += 1;
            let end = (pos[s] + len).min(streams[s].len());
            if pos[s] < end {
                ops.push(Op::Chunk(
                    s as u16 * 8 + 1,
                    streams[s][pos[s]..end].to_vec(),
                ));
                pos[s] = end;
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    let opts = DriveOpts {
        seed: 3,
        idle_pct: 20,
        backpressure_pct: 20,
        ..DriveOpts::default()
    };
    let b = run("interleaved", opts, &ops);
    assert_eq!(b.verdicts.len(), 48);
    for s in 0..8u16 {
        let seqs: Vec<u32> = b
            .verdicts
            .iter()
            .filter(|v| v.1.session == s * 8 + 1)
            .map(|v| {
                assert_eq!(v.1.kind(), Some(Kind::InOrder));
                v.1.seq
            })
            .collect();
        assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
    }
}

#[test]
fn window_edges_and_release() {
    let mut st = Vec::new();
    st.extend(msg(256)); // E=1: 256 < 1+256 -> GAP
    st.extend(msg(257)); // = E+W -> BEYOND_WINDOW
    st.extend(msg(2)); // GAP
    st.extend(msg_f(b"4", 3, &[(123, b"Y"), (36, b"300")])); // GAP at 3, fills 4..256
    st.extend(msg(1)); // IN_ORDER: releases 2..=256 -> E=257
    st.extend(msg(257)); // now IN_ORDER
    let b = run("window", DriveOpts::default(), &[Op::Chunk(0, st)]);
    use Kind::*;
    assert_eq!(
        kinds(&b),
        vec![Gap, BeyondWindow, Gap, Gap, InOrder, InOrder]
    );
    assert_eq!(b.verdicts[4].1.expected_after, 257);
    assert_eq!(b.verdicts[5].1.expected_after, 258);
}

#[test]
fn csr_expected_window_reset_stream_and_counters() {
    let s = 4u32;
    let mut ops = vec![
        Op::Read(csr::addr(0, csr::PARAMS)),
        Op::Write(csr::addr(s, csr::EXPECTED), 100),
        Op::Read(csr::addr(s, csr::EXPECTED)),
        Op::Chunk(s as u16, msg(100)), // IN_ORDER -> 101
        Op::Chunk(s as u16, msg(103)), // GAP
        Op::Write(csr::addr(s, csr::CONTROL), csr::CLEAR_WINDOW),
        Op::Chunk(s as u16, msg(101)), // IN_ORDER: 103 no longer held -> 102
        Op::Chunk(s as u16, msg(5)),   // TOO_LOW
    ];
    // A message cut by a stream reset: the partial one produces no record; offsets restart.
    let m = msg(102);
    ops.push(Op::Chunk(s as u16, m[..20].to_vec()));
    ops.push(Op::Write(csr::addr(s, csr::CONTROL), csr::RESET_STREAM));
    ops.push(Op::Chunk(s as u16, m.clone()));
    ops.push(Op::Chunk(s as u16, b"8=FIX.9".to_vec())); // GARBLED
    ops.push(Op::Idle(5));
    for r in [
        csr::MSGS,
        csr::GAPS,
        csr::DUPS,
        csr::GARBLED,
        csr::TOO_LOW,
        csr::EXPECTED,
    ] {
        ops.push(Op::Read(csr::addr(s, r)));
    }
    ops.push(Op::Read(csr::addr(s, csr::CONTROL)));
    let b = run("csr", DriveOpts::default(), &ops);
    use Kind::*;
    assert_eq!(
        kinds(&b),
        vec![InOrder, Gap, InOrder, TooLow, InOrder, Garbled]
    );
    assert_eq!(b.verdicts[2].1.expected_after, 102);
    assert_eq!(
        b.verdicts[4].1.offset, 0,
        "offset restarts after RESET_STREAM"
    );
    let reads: Vec<u32> = b.reads.iter().map(|r| r.1).collect();
    assert_eq!(reads, vec![0xF1C5_0806, 100, 6, 1, 0, 1, 1, 103, 0]);
}

/// Latency: with an empty queue and no back-pressure, the verdict of a message is on m_axis
/// two cycles after the beat holding its last byte.
#[test]
fn verdict_latency_is_two_cycles() {
    let opts = DriveOpts::default();
    let mut b = bench(opts);
    let m = msg(1);
    b.chunk(0, &m).expect("chunk");
    b.drain().expect("drain");
    let last_beat = *b.beat_cycles.last().expect("beats");
    assert_eq!(b.verdicts.len(), 1);
    assert_eq!(b.verdicts[0].0, last_beat + 2);
}

/// tkeep patterns other than full beats: bytes one at a time, in every lane count.
#[test]
fn partial_beats() {
    let m = msg(1);
    let mut ops = Vec::new();
    let mut p = 0;
    let mut n = 1;
    while p < m.len() {
        let e = (p + n).min(m.len());
        ops.push(Op::Chunk(0, m[p..e].to_vec()));
        p = e;
        n = n % 8 + 1;
    }
    let b = run("partial", DriveOpts::default(), &ops);
    assert_eq!(kinds(&b), vec![Kind::InOrder]);
}

/// Hostile bytes around FIX starts: SOH 8=FIX inside messages, BeginString variants, raw junk.
#[test]
fn start_matcher_corner_cases() {
    let mut st = Vec::new();
    st.extend(b"8=FI8=FIX.4.2\x01"); // restart of the k2 matcher
    let mut v = Vec::new();
    push_message(&mut v, b"FIXT.1.1", b"0", &[(34, b"1")]);
    st.extend(&v);
    st.extend(b"\x01\x01\x018=FIX.4.0");
    push_raw(&mut st, b"FIX.4.3", b"35=ABCDEF\x0134=00002\x01");
    st.push(SOH);
    let b = run("matchers", DriveOpts::default(), &[Op::Chunk(0, st)]);
    assert!(b
        .verdicts
        .iter()
        .any(|v| v.1.flags.has(Flags::MSG_TYPE_LONG)));
    assert!(b.verdicts.iter().any(|v| v.1.flags.has(Flags::ADMIN)));
}

/// Two messages ending in consecutive bytes (an INTERRUPTED one, then a BAD_BEGIN_STRING one)
/// at every byte lane, mixed with "8=FIX" runs, under back-pressure: the frame queue takes
/// several pushes per beat across its wrap point.
#[test]
fn adjacent_ends_in_every_lane() {
    let mut st = Vec::new();
    for pad in 0..24usize {
        st.extend(vec![b'z'; pad % 8]);
        st.extend(b"8=FIX.4.4\x019=99\x0135=D\x01\x018=FIXZ");
        st.extend(b"8=FIX".repeat(pad % 5));
        st.extend(msg(pad as u32 + 1));
    }
    for bp in [0, 40] {
        let opts = DriveOpts {
            seed: 5,
            backpressure_pct: bp,
            ..DriveOpts::default()
        };
        let b = run("adjacent_ends", opts, &[Op::Chunk(6, st.clone())]);
        let v: Vec<Verdict> = b.verdicts.iter().map(|x| x.1).collect();
        let interrupted: Vec<usize> = (0..v.len())
            .filter(|&i| {
                v[i].reason == Reason::Interrupted as u8 && v[i].kind() == Some(Kind::Garbled)
            })
            .collect();
        assert_eq!(interrupted.len(), 24);
        for &i in &interrupted {
            assert_eq!(v[i + 1].reason, Reason::BadBeginString as u8);
            assert_eq!(
                v[i + 1].offset + u64::from(v[i + 1].length),
                v[i].offset + u64::from(v[i].length) + 6
            );
        }
        assert_eq!(
            v.iter().filter(|x| x.kind() == Some(Kind::InOrder)).count(),
            24
        );
    }
}
