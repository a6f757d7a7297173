//! Seeded generators of FIX session traffic for tests, fuzzing, benchmarks and co-simulation.
//!
//! * [`build_message`] / [`push_message`]: one message with correct BodyLength and CheckSum.
//! * [`valid_stream`]: an in-order single-session stream of valid messages of chosen sizes.
//! * [`Traffic`]: hostile multi-session traffic: in-order runs, gaps, duplicates, PossDup
//!   resends, gap fills in and out of order, hard resets, ResetSeqNumFlag logons, invalid
//!   MsgSeqNums, repeated tags, garbled messages of every reason, truncated messages and junk;
//!   chopped into chunks of random sizes with sessions interleaved at chunk boundaries.
//!
//! Everything is a pure function of the seed and the configuration. Allocation is fine here.
//!
//! ```
//! use hwsim::fast::FastPath;
//! use hwsim::gen::{GenConfig, Traffic};
//!
//! let cfg = GenConfig { sessions: 2, events: 200, ..GenConfig::default() };
//! let t = Traffic::new(7, cfg);
//! let mut fp = FastPath::new(2, 256, 4096);
//! let mut records = 0;
//! for (session, bytes) in t.chunks() {
//!     fp.process(session, &bytes, |_verdict, _msg| records += 1);
//! }
//! assert!(records > 100);
//! let one = hwsim::gen::build_message(b"D", &[(34, b"1"), (49, b"S")]);
//! assert!(one.starts_with(b"8=FIX.4.4\x019=") && one.ends_with(b"\x01"));
//! ```

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::frame::SOH;

/// Appends one FIX message: `8=<begin>`, `9=<len>`, `35=<msg_type>`, the given fields in order,
/// `10=<checksum>`, with BodyLength and CheckSum computed.
pub fn push_message(out: &mut Vec<u8>, begin: &[u8], msg_type: &[u8], fields: &[(u32, &[u8])]) {
    let mut body = Vec::with_capacity(64 + fields.iter().map(|f| f.1.len() + 8).sum::<usize>());
    body.extend_from_slice(b"35=");
    body.extend_from_slice(msg_type);
    body.push(SOH);
    for (tag, value) in fields {
        body.extend_from_slice(tag.to_string().as_bytes());
        body.push(b'=');
        body.extend_from_slice(value);
        body.push(SOH);
    }
    push_raw(out, begin, &body);
}

/// Appends `8=<begin> SOH 9=<body.len()> SOH <body> 10=<checksum> SOH` for an arbitrary body.
pub fn push_raw(out: &mut Vec<u8>, begin: &[u8], body: &[u8]) {
    let start = out.len();
    out.extend_from_slice(b"8=");
    out.extend_from_slice(begin);
    out.push(SOH);
    out.extend_from_slice(b"9=");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.push(SOH);
    out.extend_from_slice(body);
    let sum = checksum(&out[start..]);
    out.extend_from_slice(format!("10={sum:03}").as_bytes());
    out.push(SOH);
}

/// The FIX checksum of `bytes`: their sum mod 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// One message as a new vector (see [`push_message`]), BeginString `FIX.4.4`.
pub fn build_message(msg_type: &[u8], fields: &[(u32, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    push_message(&mut v, b"FIX.4.4", msg_type, fields);
    v
}

/// Seeded in-order stream of valid application messages of `min_len ..= max_len` bytes
/// (approximately; each is padded with a text field), MsgSeqNum 1, 2, …, about `bytes` long
/// (it stops at the first message that reaches `bytes`). Returns the stream and its message
/// count.
pub fn valid_stream(seed: u64, bytes: usize, min_len: usize, max_len: usize) -> (Vec<u8>, u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(bytes + max_len + 64);
    let mut seq = 1u64;
    let mut pad = vec![b'x'; max_len];
    while out.len() < bytes {
        let target = rng.gen_range(min_len..=max_len.max(min_len));
        let before = out.len();
        let s = seq.to_string();
        let px = format!("{}.{:02}", rng.gen_range(100..200), rng.gen_range(0..100));
        let qty = rng.gen_range(1..10_000).to_string();
        let mut fields: [(u32, &[u8]); 12] = [
            (49, b"SENDER"),
            (56, b"TARGET"),
            (34, s.as_bytes()),
            (52, b"20261124-03:41:07.123456"),
            (11, b"ORD-000000001"),
            (55, b"ESZ6"),
            (54, b"1"),
            (38, qty.as_bytes()),
            (44, px.as_bytes()),
            (40, b"2"),
            (59, b"0"),
            (58, b""),
        ];
        // Measure without the text, then pad it to the target (BodyLength may gain a digit).
        push_message(&mut out, b"FIX.4.4", b"D", &fields);
        let base = out.len() - before;
        out.truncate(before);
        let pad_len = target.saturating_sub(base).min(max_len);
        for b in pad.iter_mut().take(pad_len) {
            *b = rng.gen_range(b'a'..=b'z');
        }
        fields[11].1 = &pad[..pad_len];
        push_message(&mut out, b"FIX.4.4", b"D", &fields);
        seq += 1;
    }
    (out, seq - 1)
}

/// Configuration of [`Traffic`].
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Number of sessions (1 ..= 65536), indices `0 .. sessions`.
    pub sessions: u16,
    /// Number of events (messages, faults, junk runs) over all sessions.
    pub events: usize,
    /// Chunk sizes are uniform in `1 ..= max_chunk`.
    pub max_chunk: usize,
    /// Probability that an event is a fault (anything but the next in-order message), 0..=1.
    pub fault_rate: f64,
    /// The `MAX_MSG` the traffic is meant for (`TOO_LONG` faults exceed it; valid messages stay
    /// well below it).
    pub max_msg: usize,
    /// The window `W` the traffic is meant for (some gaps jump past it).
    pub window: u32,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            sessions: 4,
            events: 2000,
            max_chunk: 300,
            fault_rate: 0.3,
            max_msg: 4096,
            window: 256,
        }
    }
}

/// Seeded hostile multi-session traffic (see the module docs).
#[derive(Clone, Debug)]
pub struct Traffic {
    streams: Vec<Vec<u8>>,
    chunks: Vec<(u16, std::ops::Range<usize>)>,
}

/// Per-session generator state: the sender's next MsgSeqNum and the recent messages.
struct Sender {
    next: u32,
    sent: Vec<(u32, Vec<u8>)>,
}

impl Traffic {
    /// Generates the traffic for `seed` and `cfg`.
    pub fn new(seed: u64, cfg: GenConfig) -> Traffic {
        let mut rng = SmallRng::seed_from_u64(seed);
        let n = usize::from(cfg.sessions.max(1));
        let mut streams = vec![Vec::new(); n];
        let mut senders: Vec<Sender> = (0..n)
            .map(|_| Sender {
                next: 1,
                sent: Vec::new(),
            })
            .collect();
        for _ in 0..cfg.events {
            let s = rng.gen_range(0..n);
            let fault = rng.gen_bool(cfg.fault_rate.clamp(0.0, 1.0));
            event(&mut rng, &cfg, &mut senders[s], &mut streams[s], fault);
        }
        // Chop each stream into chunks, then interleave sessions at chunk boundaries while
        // keeping each session's chunks in order.
        let mut per: Vec<Vec<std::ops::Range<usize>>> = streams
            .iter()
            .map(|st| {
                let mut v = Vec::new();
                let mut p = 0;
                while p < st.len() {
                    let c = rng.gen_range(1..=cfg.max_chunk.max(1)).min(st.len() - p);
                    v.push(p..p + c);
                    p += c;
                }
                v.reverse();
                v
            })
            .collect();
        let mut chunks = Vec::new();
        let mut live: Vec<usize> = (0..n).filter(|&i| !per[i].is_empty()).collect();
        while !live.is_empty() {
            let li = rng.gen_range(0..live.len());
            let s = live[li];
            let r = per[s].pop().expect("live session has chunks");
            chunks.push((s as u16, r));
            if per[s].is_empty() {
                live.swap_remove(li);
            }
        }
        Traffic { streams, chunks }
    }

    /// The chunks in delivery order: `(session, bytes)`.
    pub fn chunks(&self) -> impl Iterator<Item = (u16, Vec<u8>)> + '_ {
        self.chunks
            .iter()
            .map(|(s, r)| (*s, self.streams[usize::from(*s)][r.clone()].to_vec()))
    }

    /// The chunks in delivery order as borrowed slices.
    pub fn chunk_slices(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        self.chunks
            .iter()
            .map(|(s, r)| (*s, &self.streams[usize::from(*s)][r.clone()]))
    }

    /// Each session's whole byte stream (index = session).
    pub fn streams(&self) -> &[Vec<u8>] {
        &self.streams
    }

    /// Total bytes over all sessions.
    pub fn total_bytes(&self) -> usize {
        self.streams.iter().map(Vec::len).sum()
    }
}

const BEGINS: [&[u8]; 6] = [
    b"FIX.4.4",
    b"FIX.4.2",
    b"FIXT.1.1",
    b"FIX.4.0",
    b"FIX.4.1",
    b"FIX.4.3",
];
const APP_TYPES: [&[u8]; 7] = [b"D", b"8", b"AE", b"W", b"X", b"BE", b"UXYZW"];
const ADMIN_TYPES: [&[u8]; 4] = [b"0", b"1", b"2", b"5"];

fn begin(rng: &mut SmallRng) -> &'static [u8] {
    if rng.gen_bool(0.8) {
        BEGINS[0]
    } else {
        BEGINS[rng.gen_range(0..BEGINS.len())]
    }
}

/// A message with MsgSeqNum `seq` and optional extra fields (before the filler).
fn message(rng: &mut SmallRng, msg_type: &[u8], seq: &[u8], extra: &[(u32, &[u8])]) -> Vec<u8> {
    let mut fields: Vec<(u32, &[u8])> = vec![(49, b"S"), (56, b"T"), (34, seq)];
    if rng.gen_bool(0.2) {
        // Tag order does not matter for extraction: move 34 after the others.
        fields.rotate_left(1);
    }
    fields.extend_from_slice(extra);
    fields.push((52, b"20261124-03:41:07.123"));
    let filler_len = rng.gen_range(0..120);
    let filler: Vec<u8> = (0..filler_len)
        .map(|_| rng.gen_range(b' '..=b'~'))
        .collect();
    fields.push((58, &filler));
    let mut v = Vec::new();
    push_message(&mut v, begin(rng), msg_type, &fields);
    v
}

fn seq_bytes(s: u32) -> Vec<u8> {
    s.to_string().into_bytes()
}

/// Sends the next in-order message.
fn next_message(rng: &mut SmallRng, tx: &mut Sender, out: &mut Vec<u8>) {
    let seq = tx.next;
    let mt = if rng.gen_bool(0.2) {
        ADMIN_TYPES[rng.gen_range(0..ADMIN_TYPES.len())]
    } else {
        APP_TYPES[rng.gen_range(0..APP_TYPES.len())]
    };
    let m = message(rng, mt, &seq_bytes(seq), &[]);
    out.extend_from_slice(&m);
    remember(tx, seq, m);
    tx.next = seq.saturating_add(1).min(0x7FFF_FFFF);
}

fn remember(tx: &mut Sender, seq: u32, m: Vec<u8>) {
    if tx.sent.len() >= 64 {
        tx.sent.remove(0);
    }
    tx.sent.push((seq, m));
}

fn event(rng: &mut SmallRng, cfg: &GenConfig, tx: &mut Sender, out: &mut Vec<u8>, fault: bool) {
    if !fault {
        next_message(rng, tx, out);
        return;
    }
    match rng.gen_range(0..22) {
        // Gap: skip a few numbers, sometimes past the window.
        0 | 1 => {
            let skip = if rng.gen_bool(0.1) {
                cfg.window + rng.gen_range(0..4)
            } else {
                rng.gen_range(1..8)
            };
            tx.next = tx.next.saturating_add(skip).min(0x7FFF_FFF0);
            next_message(rng, tx, out);
        }
        // Out of order pair: next+1 then next.
        2 => {
            let a = tx.next;
            let m1 = message(rng, b"D", &seq_bytes(a + 1), &[]);
            let m0 = message(rng, b"D", &seq_bytes(a), &[]);
            out.extend_from_slice(&m1);
            out.extend_from_slice(&m0);
            tx.next = a + 2;
        }
        // Resend of an earlier message, with or without PossDup / PossResend.
        3 | 4 => {
            if tx.sent.is_empty() {
                return next_message(rng, tx, out);
            }
            let i = rng.gen_range(0..tx.sent.len());
            let (seq, ref m) = tx.sent[i];
            if rng.gen_bool(0.5) {
                out.extend_from_slice(m);
            } else {
                let flag: (u32, &[u8]) = if rng.gen_bool(0.7) {
                    (43, b"Y")
                } else {
                    (97, b"Y")
                };
                let m = message(
                    rng,
                    b"D",
                    &seq_bytes(seq),
                    &[flag, (122, b"20261124-03:41:00")],
                );
                out.extend_from_slice(&m);
            }
        }
        // Gap fill in order: 4 with 123=Y at next, NewSeqNo ahead (sometimes not greater/missing).
        5 => {
            let seq = tx.next;
            let nsn = match rng.gen_range(0..6) {
                0 => None,
                1 => Some(seq),
                _ => Some(seq + rng.gen_range(1..20)),
            };
            let nsn_b = nsn.map(seq_bytes);
            let mut extra: Vec<(u32, &[u8])> = vec![(123, b"Y"), (43, b"Y")];
            if let Some(b) = &nsn_b {
                extra.push((36, b));
            }
            let m = message(rng, b"4", &seq_bytes(seq), &extra);
            out.extend_from_slice(&m);
            tx.next = nsn.filter(|&n| n > seq).unwrap_or(seq + 1);
        }
        // Gap fill out of order: the fill for [next+1, n) arrives before next itself.
        6 => {
            let a = tx.next;
            let nsn = a + 1 + rng.gen_range(1..10);
            let nb = seq_bytes(nsn);
            let fill = message(rng, b"4", &seq_bytes(a + 1), &[(123, b"Y"), (36, &nb)]);
            out.extend_from_slice(&fill);
            let m = message(rng, b"D", &seq_bytes(a), &[]);
            out.extend_from_slice(&m);
            tx.next = nsn;
        }
        // Hard reset: lower, equal or greater NewSeqNo, or missing.
        7 => {
            let e = tx.next;
            let nsn = match rng.gen_range(0..5) {
                0 => None,
                1 => Some(e.saturating_sub(rng.gen_range(1..5)).max(1)),
                2 => Some(e),
                _ => Some(e + rng.gen_range(1..50)),
            };
            let nsn_b = nsn.map(seq_bytes);
            let mut extra: Vec<(u32, &[u8])> = Vec::new();
            if let Some(b) = &nsn_b {
                extra.push((36, b));
            }
            let any_seq = seq_bytes(rng.gen_range(1..100));
            let m = message(rng, b"4", &any_seq, &extra);
            out.extend_from_slice(&m);
            if let Some(n) = nsn {
                if n > e {
                    tx.next = n;
                }
            }
        }
        // Logon with ResetSeqNumFlag (or 141=N).
        8 => {
            let yes = rng.gen_bool(0.8);
            let m = message(
                rng,
                b"A",
                b"1",
                &[
                    (98, b"0"),
                    (108, b"30"),
                    (141, if yes { b"Y" } else { b"N" }),
                ],
            );
            out.extend_from_slice(&m);
            if yes {
                tx.next = 2;
            }
        }
        // Invalid or missing MsgSeqNum, and repeated tags (first occurrence wins).
        9 => {
            let bad: &[u8] = match rng.gen_range(0..7) {
                0 => b"0",
                1 => b"2147483648",
                2 => b"00000000001",
                3 => b"",
                4 => b"12a",
                5 => b"-5",
                _ => b"99999999999",
            };
            let mut body = Vec::new();
            body.extend_from_slice(b"35=D\x0149=S\x01");
            if rng.gen_bool(0.8) {
                body.extend_from_slice(b"34=");
                body.extend_from_slice(bad);
                body.push(SOH);
            }
            // A valid second 34 must not repair the first.
            body.extend_from_slice(format!("34={}\x01", tx.next).as_bytes());
            push_raw(out, begin(rng), &body);
        }
        10 => {
            // Odd but valid fields: leading-zero tags, 43=N/YY, first-occurrence repeats,
            // 0000000005-style seq, tags without '=', long tags.
            let seq = tx.next;
            let mut body = Vec::new();
            body.extend_from_slice(b"35=D\x01");
            match rng.gen_range(0..4) {
                0 => body.extend_from_slice(format!("0034={seq}\x0143=N\x0143=Y\x01").as_bytes()),
                1 => body.extend_from_slice(format!("34={seq:010}\x0143=YY\x01").as_bytes()),
                2 => body.extend_from_slice(
                    format!("123456=1\x0134\x0134={seq}\x0197=Y\x01141=y\x01").as_bytes(),
                ),
                _ => body.extend_from_slice(format!("34={seq}\x01=5\x01a=b\x0136=\x01").as_bytes()),
            }
            push_raw(out, begin(rng), &body);
            tx.next = seq + 1;
        }
        // Garbled messages, one per reason.
        11..=19 => garbled(rng, cfg, tx, out),
        // Truncated message followed directly by the next one.
        20 => {
            let m = message(rng, b"D", &seq_bytes(tx.next), &[]);
            let cut = rng.gen_range(1..m.len());
            out.extend_from_slice(&m[..cut]);
            next_message(rng, tx, out);
        }
        // Junk.
        _ => {
            let n = rng.gen_range(1..64);
            for _ in 0..n {
                let b = match rng.gen_range(0..8) {
                    0 => SOH,
                    1 => b'8',
                    2 => b'=',
                    3 => b'F',
                    _ => rng.gen(),
                };
                out.push(b);
            }
            if rng.gen_bool(0.2) {
                out.extend_from_slice(b"\x018=FI");
            }
        }
    }
}

/// A message broken in one of the nine ways of section 2.
fn garbled(rng: &mut SmallRng, cfg: &GenConfig, tx: &mut Sender, out: &mut Vec<u8>) {
    let seq = seq_bytes(tx.next);
    let good = message(rng, b"D", &seq, &[]);
    let body_start = good.iter().position(|&b| b == b'3').unwrap_or(0);
    let mut m = good.clone();
    match rng.gen_range(0..10) {
        // BAD_BEGIN_STRING
        0 => {
            let bad: &[&[u8]] = &[
                b"8=FIX.4.5",
                b"8=FIX.5.0",
                b"8=FIXT.1.2",
                b"8=FIXX",
                b"8=FIX4.4",
            ];
            let b = bad[rng.gen_range(0..bad.len())];
            m = b.to_vec();
            m.extend_from_slice(&good[good.iter().position(|&c| c == SOH).unwrap_or(0)..]);
        }
        // BODY_LENGTH_MISSING
        1 => {
            let p = good.iter().position(|&c| c == SOH).unwrap_or(0) + 1;
            m[p] = b'7';
        }
        // BODY_LENGTH_INVALID
        2 => {
            let p = good.iter().position(|&c| c == SOH).unwrap_or(0) + 3;
            m.insert(p, if rng.gen_bool(0.5) { b'x' } else { b'=' });
        }
        // MSG_TYPE_NOT_THIRD
        3 => {
            let body = b"49=S\x0135=D\x0134=5\x01";
            m.clear();
            push_raw(&mut m, b"FIX.4.4", body);
        }
        // BODY_LENGTH_MISMATCH: declared length off by a little
        4 => {
            let body = &good[body_start..good.len() - 7];
            m.clear();
            m.extend_from_slice(b"8=FIX.4.4\x019=");
            let delta: i64 = if rng.gen_bool(0.5) { 3 } else { -2 };
            let l = (body.len() as i64 + delta).max(6);
            m.extend_from_slice(l.to_string().as_bytes());
            m.push(SOH);
            m.extend_from_slice(body);
            m.extend_from_slice(b"10=000\x01");
        }
        // CHECKSUM_MALFORMED
        5 => {
            let n = m.len();
            m[n - 2] = b'x';
        }
        // CHECKSUM_MISMATCH
        6 => {
            let n = m.len();
            m[n - 2] = if m[n - 2] == b'9' { b'0' } else { m[n - 2] + 1 };
        }
        // TOO_LONG
        7 => {
            let l = cfg.max_msg + rng.gen_range(0..100);
            m = format!("8=FIX.4.4\x019={l}\x0135=D\x01").into_bytes();
        }
        // INTERRUPTED: SOH 8=FIX inside
        8 => {
            let p = body_start + 6;
            m.truncate(p);
            m.extend_from_slice(b"\x01");
        }
        // Raw-data field with SOH 8=FIX inside (known limitation: interrupts)
        _ => {
            m.clear();
            push_raw(&mut m, b"FIX.4.4", b"35=D\x0195=6\x0196=\x018=FIX\x01");
        }
    }
    out.extend_from_slice(&m);
}
