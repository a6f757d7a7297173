//! Seeded generators of valid FIX order flow, for tests and benchmarks (no dependencies).
//!
//! [`order_flow`] builds a stream of back-to-back NewOrderSingle (35=D) and ExecutionReport
//! (35=8) messages of 150–350 bytes each, with correct BodyLength and CheckSum and MsgSeqNum
//! counting up from 1. The same seed always gives the same bytes.

use crate::encode::{HeaderTemplate, MessageBuilder};
use crate::time::{TimePrecision, UtcTimestamp};
use core::ops::Range;

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// A generated stream and where each message is in it.
#[derive(Clone, Debug, Default)]
pub struct OrderFlow {
    /// The concatenated messages.
    pub bytes: Vec<u8>,
    /// Byte range of each message in `bytes`, in order.
    pub messages: Vec<Range<usize>>,
}

/// Shortest and longest generated message.
pub const MIN_LEN: usize = 150;
/// Longest generated message.
pub const MAX_LEN: usize = 350;

const SYMBOLS: [&[u8]; 8] = [
    b"AAPL", b"MSFT", b"ESZ6", b"EUR/USD", b"VOD.L", b"7203.T", b"BRK.B", b"NQH7",
];

fn alnum(rng: &mut Rng, out: &mut [u8]) {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for b in out {
        *b = A[(rng.next_u64() % A.len() as u64) as usize];
    }
}

/// Builds one order-flow message (`seq` as MsgSeqNum) of about `target` bytes into `buf`
/// (at least 512 bytes) and returns its range. Text(58) pads the message to exactly `target`
/// when `target` is between the natural size and [`MAX_LEN`].
pub fn order_message(
    rng: &mut Rng,
    header: &HeaderTemplate,
    seq: u32,
    target: usize,
    buf: &mut [u8],
) -> Range<usize> {
    let exec = rng.next_u64() & 1 == 1;
    let sym = SYMBOLS[(rng.next_u64() % SYMBOLS.len() as u64) as usize];
    let now = UtcTimestamp::from_unix_nanos(1_700_000_000_000_000_000 + u64::from(seq) * 1_000_317);
    let mut id = [0u8; 12];
    alnum(rng, &mut id);
    let qty = rng.range(1, 100_000);
    let px = rng.range(1, 5_000_000) as i64;
    let side = if rng.next_u64() & 1 == 1 { b'1' } else { b'2' };
    let mut text = [b'x'; MAX_LEN];
    alnum(rng, &mut text);
    let build = |buf: &mut [u8], pad: usize| {
        let mut m = MessageBuilder::new(
            buf,
            header,
            if exec { b"8" } else { b"D" },
            seq,
            now,
            TimePrecision::Micros,
        );
        if exec {
            let mut oid = id;
            oid.reverse();
            m.field(37, &oid)
                .field(11, &id)
                .field(17, &id[..8])
                .field_char(150, b'F')
                .field_char(39, b'1');
            m.field(55, sym)
                .field_char(54, side)
                .field_u64(38, qty)
                .field_i64(44, px);
            m.field_u64(32, qty / 2 + 1)
                .field_i64(31, px)
                .field_u64(151, qty - qty / 2 - 1);
            m.field_u64(14, qty / 2 + 1).field_i64(6, px);
        } else {
            m.field(11, &id)
                .field(1, b"ACCT-7")
                .field(55, sym)
                .field_char(54, side);
            m.field_u64(38, qty)
                .field_char(40, b'2')
                .field_i64(44, px)
                .field_char(59, b'0');
        }
        m.field_timestamp(60, now, TimePrecision::Micros);
        if pad > 0 {
            m.field(58, &text[..pad]);
        }
        m.finish()
    };
    let natural = build(buf, 0).map(|r| r.len()).unwrap_or(0);
    // `58=` + text + SOH adds pad + 4 bytes; BodyLength keeps 3 digits in this size range.
    if target >= natural + 5 {
        let pad = (target - natural - 4).min(MAX_LEN);
        if let Ok(r) = build(buf, pad) {
            return r;
        }
    }
    build(buf, 0).unwrap_or(0..0)
}

/// A stream of at least `target_bytes` bytes of valid order flow (whole messages), seeded.
pub fn order_flow(seed: u64, target_bytes: usize) -> OrderFlow {
    let mut rng = Rng::new(seed);
    let header = HeaderTemplate::new("FIX.4.4", "BANZAI-GW01", "EXCHANGE");
    let mut flow = OrderFlow {
        bytes: Vec::with_capacity(target_bytes + MAX_LEN),
        messages: Vec::with_capacity(target_bytes / 200 + 1),
    };
    let mut buf = [0u8; 1024];
    let mut seq = 1u32;
    while flow.bytes.len() < target_bytes {
        let target = rng.range(MIN_LEN as u64, MAX_LEN as u64) as usize;
        let r = order_message(&mut rng, &header, seq, target, &mut buf);
        let start = flow.bytes.len();
        flow.bytes.extend_from_slice(&buf[r.clone()]);
        flow.messages.push(start..flow.bytes.len());
        seq = seq.wrapping_add(1);
    }
    flow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn generated_messages_are_valid_and_sized() {
        let flow = order_flow(7, 200_000);
        assert!(flow.bytes.len() >= 200_000);
        assert_eq!(flow.messages.last().unwrap().end, flow.bytes.len());
        let mut types = [0usize; 2];
        for (i, r) in flow.messages.iter().enumerate() {
            let m = Message::new_checked(&flow.bytes[r.clone()]).unwrap();
            assert!((MIN_LEN..=MAX_LEN).contains(&r.len()), "len {}", r.len());
            assert_eq!(m.get_u32(34).unwrap(), Some(i as u32 + 1));
            types[usize::from(m.msg_type() == b"8")] += 1;
        }
        assert!(types[0] > 100 && types[1] > 100);
        assert_eq!(order_flow(7, 10_000).bytes, order_flow(7, 10_000).bytes);
        assert_ne!(order_flow(7, 10_000).bytes, order_flow(8, 10_000).bytes);
    }
}
