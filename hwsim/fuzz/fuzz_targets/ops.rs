//! Shared input decoding: the fuzz input as a script of chunks and register writes.

use fpga_sim::{DriveOpts, Op};
use hwsim::cycle::csr;

/// Sessions the scripts use (of the model's 64).
pub const SESSIONS: u16 = 3;

/// One step of the script, in the order every implementation sees it.
#[derive(Clone, Debug)]
pub enum Step {
    /// Bytes of one session's stream.
    Chunk(u16, Vec<u8>),
    /// `EXPECTED := value` (also clears the window).
    SetExpected(u16, u32),
    /// `CONTROL` with `CLEAR_WINDOW` and/or `RESET_STREAM`.
    Control(u16, u32),
}

/// Parameters taken from the first two bytes.
pub struct Params {
    /// `MAX_MSG` (the `rtl` target ignores it: the RTL is built with the default 4096).
    #[allow(dead_code)]
    pub max_msg: u32,
    /// Bench drive options (idle beats, verdict back-pressure).
    pub drive: DriveOpts,
}

/// Decodes `data`: byte 0 picks `MAX_MSG` and the drive options, then records
/// `[header][payload]`: header bits 7..6 = session (3 = register write), 5..0 = length.
pub fn decode(data: &[u8]) -> Option<(Params, Vec<Step>)> {
    let (&cfg, mut rest) = data.split_first()?;
    let max_msg = [4096, 300, 64, 1024][usize::from(cfg & 3)];
    let drive = DriveOpts {
        seed: u64::from(cfg),
        idle_pct: [0, 0, 10, 50][usize::from((cfg >> 2) & 3)],
        backpressure_pct: [0, 0, 30, 80][usize::from((cfg >> 4) & 3)],
        keep_verdicts: true,
        ..DriveOpts::default()
    };
    let mut steps = Vec::new();
    while let Some((&h, r)) = rest.split_first() {
        rest = r;
        let s = u16::from(h >> 6);
        let n = usize::from(h & 0x3F);
        if s == 3 {
            // A register write: 5 more bytes (session, value).
            if rest.len() < 5 {
                break;
            }
            let sess = u16::from(rest[0]) % SESSIONS;
            let v = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]);
            rest = &rest[5..];
            if n & 1 == 0 {
                steps.push(Step::SetExpected(sess, v));
            } else {
                steps.push(Step::Control(sess, v & 3));
            }
            continue;
        }
        // A chunk; length 63 means "the rest of the input" (big messages).
        let n = if n == 63 {
            rest.len()
        } else {
            n.min(rest.len())
        };
        steps.push(Step::Chunk(s, rest[..n].to_vec()));
        rest = &rest[n..];
    }
    Some((Params { max_msg, drive }, steps))
}

/// The script for [`fpga_sim::Bench`].
pub fn bench_ops(steps: &[Step]) -> Vec<Op> {
    steps
        .iter()
        .map(|s| match s {
            Step::Chunk(sess, b) => Op::Chunk(*sess, b.clone()),
            Step::SetExpected(sess, v) => Op::Write(csr::addr(u32::from(*sess), csr::EXPECTED), *v),
            Step::Control(sess, v) => Op::Write(csr::addr(u32::from(*sess), csr::CONTROL), *v),
        })
        .collect()
}
