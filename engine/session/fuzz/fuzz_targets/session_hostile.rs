//! One session (acceptor or initiator) behind its software sequencer, fed by a hostile peer:
//! raw bytes in arbitrary chunks, and well-formed messages (BodyLength and CheckSum right, so the
//! fuzzer gets past framing) with arbitrary MsgType, MsgSeqNum, flags and fields, interleaved
//! with clock advances, application sends, reconnects and restarts.
//!
//! Invariants checked:
//! * no panic;
//! * memory bounded: at most `window` held messages; what one input operation makes the session
//!   send is bounded (amplification: `max_resend_range` numbers, plus a few admin messages);
//! * every message the session sends frames as valid (BodyLength, CheckSum) under the
//!   byte-serial reference framer, carries our CompIDs, and our MsgSeqNums never repeat or go
//!   back except after a sequence reset;
//! * the application stream is in order: delivered MsgSeqNums strictly increase, except after
//!   the session's sequence numbers were reset.

#![no_main]

use fixsession::store::{MemoryStore, MessageStore};
use fixsession::{
    Application, DeliverInfo, DisconnectReason, Event, Responder, Role, SequencerOp, Session,
    SessionConfig, SessionOutput,
};
use hwsim::fast::FastPath;
use hwsim::frame::FrameState;
use libfuzzer_sys::fuzz_target;

const NS: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * NS;
const WINDOW: u32 = 256;
const MAX_MSG: usize = 1024;
const MAX_RANGE: u32 = 50;
const MAX_RESENDS_PER_SECOND: u32 = 4;

#[derive(Default)]
struct Out {
    sent: Vec<Vec<u8>>,
    ops: Vec<SequencerOp>,
}

impl SessionOutput for Out {
    fn send_bytes(&mut self, b: &[u8]) {
        self.sent.push(b.to_vec());
    }
    fn sequencer(&mut self, op: SequencerOp) {
        self.ops.push(op);
    }
    fn event(&mut self, ev: &Event<'_>) {
        // Formatting every event exercises the Debug/Display paths with hostile content.
        let _ = format!("{ev:?}");
    }
    fn disconnect(&mut self, _r: DisconnectReason) {}
}

#[derive(Default)]
struct App {
    seqs: Vec<u32>,
}

impl Application for App {
    fn on_message(&mut self, _msg: &[u8], info: &DeliverInfo, r: &mut dyn Responder) {
        self.seqs.push(info.seq);
        // Answer some messages from inside the callback (re-entrancy).
        if info.seq % 3 == 0 {
            let _ = r.send(b"8", &mut |b| {
                b.field(37, b"X");
            });
        }
    }
}

fn field<'a>(msg: &'a [u8], pat: &[u8]) -> Option<&'a [u8]> {
    let p = msg.windows(pat.len()).position(|w| w == pat)? + pat.len();
    let end = msg[p..].iter().position(|&b| b == 1)? + p;
    Some(&msg[p..end])
}

fn build(fields: &[u8]) -> Vec<u8> {
    let mut m = format!("8=FIX.4.4\x019={}\x01", fields.len()).into_bytes();
    m.extend_from_slice(fields);
    let sum = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

fn ts(ns: u64) -> String {
    let mut b = [0u8; 32];
    let n = fixsession::time::format_timestamp(ns, 3, &mut b);
    String::from_utf8_lossy(&b[..n]).into_owned()
}

struct Peer {
    s: Session<MemoryStore, App>,
    fp: FastPath,
    out: Out,
    now: u64,
    /// Lowest acceptable next outgoing MsgSeqNum (our numbers never repeat without a reset).
    min_sender: u32,
    last_delivered: u32,
    last_target: u32,
}

impl Peer {
    fn apply_ops(&mut self) {
        for op in self.out.ops.drain(..) {
            match op {
                SequencerOp::SetExpected(e) => self.fp.set_expected(0, e),
                SequencerOp::ClearWindow => self.fp.clear_window(0),
                SequencerOp::ResetStream => self.fp.reset_stream(0),
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let mut vs = Vec::new();
        self.fp.process(0, bytes, |v, m| vs.push((*v, m.to_vec())));
        for (v, m) in vs {
            self.s.on_verdict(self.now, &v, &m, &mut self.out);
            self.apply_ops();
        }
    }

    /// Checks what the last operation produced.
    fn check(&mut self) {
        assert!(
            self.s.held_count() <= WINDOW,
            "held {} > window",
            self.s.held_count()
        );
        let sent = std::mem::take(&mut self.out.sent);
        assert!(
            sent.len() as u32 <= MAX_RESENDS_PER_SECOND * (MAX_RANGE + 2) + 16,
            "amplification: {} messages sent for one input operation",
            sent.len()
        );
        // Our sender numbers: a reset shows as the store's next sender number going below.
        let next_sender = self.s.next_sender_seq();
        if next_sender < self.min_sender {
            self.min_sender = 1;
        }
        for m in &sent {
            let mut fs = FrameState::new();
            let mut framed = Vec::new();
            fs.feed(m, MAX_MSG as u32, |f| framed.push(f));
            assert!(
                framed.len() == 1 && framed[0].garbled == 0 && framed[0].length as usize == m.len(),
                "we sent a message that does not frame: {}",
                String::from_utf8_lossy(m).replace('\x01', "|")
            );
            assert_eq!(field(m, b"\x0149="), Some(&b"ENGINE"[..]), "SenderCompID");
            assert_eq!(field(m, b"\x0156="), Some(&b"PEER"[..]), "TargetCompID");
            let seq: u32 = std::str::from_utf8(field(m, b"\x0134=").expect("34"))
                .unwrap()
                .parse()
                .unwrap();
            let poss_dup = field(m, b"\x0143=") == Some(b"Y");
            if !poss_dup {
                assert!(
                    seq >= self.min_sender || seq == 1,
                    "sent MsgSeqNum {seq} again (next expected >= {})",
                    self.min_sender
                );
                self.min_sender = seq + 1;
            }
        }
        // Application stream in order (reset when our target number went back: a sequence reset).
        let t = self.s.next_target_seq();
        if t < self.last_target {
            self.last_delivered = 0;
        }
        self.last_target = t;
        let seqs = std::mem::take(&mut self.s.app_mut().seqs);
        for s in seqs {
            assert!(
                s > self.last_delivered,
                "delivered MsgSeqNum {s} after {}",
                self.last_delivered
            );
            self.last_delivered = s;
        }
    }
}

const TYPES: [&str; 12] = ["A", "0", "1", "2", "3", "4", "5", "D", "8", "B", "ZZ", "j"];

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let flags = data[0];
    let role = if flags & 1 == 0 {
        Role::Acceptor
    } else {
        Role::Initiator
    };
    let mut cfg = SessionConfig::new("FIX.4.4", "ENGINE", "PEER", role);
    cfg.heart_bt_int = 30;
    cfg.window = WINDOW;
    cfg.max_message_size = MAX_MSG;
    cfg.max_resend_range = MAX_RANGE;
    cfg.max_resends_per_second = MAX_RESENDS_PER_SECOND;
    cfg.resend_request_chunk_size = if flags & 2 != 0 { 5 } else { 0 };
    cfg.enable_next_expected_msg_seq_num = flags & 4 != 0;
    cfg.check_latency = flags & 8 == 0;
    let fp = FastPath::new(1, WINDOW, MAX_MSG);
    let mut p = Peer {
        s: Session::new(cfg, MemoryStore::new(), App::default()),
        fp,
        out: Out::default(),
        now: T0,
        min_sender: 1,
        last_delivered: 0,
        last_target: 1,
    };
    p.s.on_connect(p.now, &mut p.out);
    p.apply_ops();
    p.check();
    let mut rest = &data[1..];
    let mut ops = 0;
    while rest.len() >= 2 && ops < 2000 {
        ops += 1;
        let op = rest[0];
        let n = usize::from(rest[1]).min(rest.len() - 2);
        let arg = &rest[2..2 + n];
        rest = &rest[2 + n..];
        match op % 8 {
            0 => p.feed(arg),
            1 | 2 | 3 => {
                // A well-formed message: MsgType, MsgSeqNum and flags from the first bytes,
                // the rest as extra fields (SOH = '|').
                let (h, extra) = arg.split_at(arg.len().min(3));
                let t = TYPES[usize::from(h.first().copied().unwrap_or(0)) % TYPES.len()];
                let seq = match h.get(1).copied().unwrap_or(1) {
                    250 => "2147483647".to_string(),
                    251 => "0".to_string(),
                    252 => String::new(),
                    253 => "99999999999".to_string(),
                    x => (u32::from(x) % 40 + p.s.next_target_seq().saturating_sub(3)).to_string(),
                };
                let f = h.get(2).copied().unwrap_or(0);
                let mut body = format!("35={t}\x0149=PEER\x0156=ENGINE\x01");
                if f & 0x80 == 0 {
                    body += &format!("34={seq}\x01");
                }
                body += &format!("52={}\x01", ts(p.now));
                if f & 1 != 0 {
                    body += &format!("43=Y\x01122={}\x01", ts(p.now - NS));
                }
                if f & 2 != 0 {
                    body += "123=Y\x01";
                }
                if f & 4 != 0 {
                    body += &format!("36={}\x01", p.s.next_target_seq() + u32::from(f >> 4));
                }
                if f & 8 != 0 {
                    body += "141=Y\x01";
                }
                if t == "A" {
                    body += "98=0\x01108=30\x01";
                }
                let mut body = body.into_bytes();
                for &b in extra {
                    body.push(if b == b'|' { 1 } else { b });
                }
                if body.last() != Some(&1) {
                    body.push(1);
                }
                let m = build(&body);
                // Delivered in up to three pieces.
                let cut = usize::from(f & 0x70) * m.len() / 0x80;
                p.feed(&m[..cut]);
                p.feed(&m[cut..]);
            }
            4 => {
                p.now += u64::from(arg.first().copied().unwrap_or(1)) * 200_000_000;
                p.s.on_timer(p.now, &mut p.out);
                p.apply_ops();
            }
            5 => {
                let r = p.s.send(
                    p.now,
                    b"D",
                    |b| {
                        b.field(11, b"ORD");
                    },
                    &mut p.out,
                );
                let _ = r;
            }
            6 => {
                p.s.on_disconnect(p.now, &mut p.out);
                p.apply_ops();
                p.now += NS;
                p.s.on_connect(p.now, &mut p.out);
                p.apply_ops();
                p.last_delivered = 0;
                p.last_target = p.s.next_target_seq();
                p.last_delivered = p.last_target.saturating_sub(1);
            }
            _ => {
                // A ResendRequest with arbitrary bounds, from the first 8 bytes.
                let num = |i: usize| {
                    arg.get(i..i + 4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(0)
                };
                let (b, e) = (num(0) % 100, num(4));
                let e = if e & 0x100 != 0 { 0 } else { e % 120 };
                let body = format!(
                    "35=2\x0149=PEER\x0156=ENGINE\x0134={}\x0152={}\x017={b}\x0116={e}\x01",
                    p.s.next_target_seq(),
                    ts(p.now)
                );
                p.feed(&build(body.as_bytes()));
            }
        }
        p.check();
        // The store never holds more than we sent; cheap sanity of the store's own rules.
        assert!(p.s.store().next_sender_seq() >= 1);
    }
});
