//! Measure 1: parse + verify throughput over one seeded stream of valid 150–350-byte messages
//! (`hwsim::gen::valid_stream`, seed 42, MsgSeqNum 1, 2, ...), the same bytes for every
//! contender:
//!
//! * engine: `hwsim::fast::FastPath::process` (framing, checksum, BodyLength, MsgSeqNum,
//!   classification; every verdict must be IN_ORDER), in 64 KiB chunks;
//! * engine: `fixcodec::Framer::feed` (framing + full validation) plus a MsgSeqNum lookup per
//!   message, in 64 KiB chunks;
//! * peer: fefix 0.7 `tagvalue::Decoder::decode` per message (checksum verified) plus MsgType
//!   and MsgSeqNum reads (fefix's buffered stream decoder panics in 0.7, so the messages are cut
//!   beforehand, outside the timing);
//! * peer: QuickFIX C++ 1.16 (feature `peers`, [`crate::qf::parse`]): `DataDictionary::
//!   try_build_message` per message (QuickFIX's `Message(string, dictionary, validate=true)`:
//!   BodyLength and CheckSum verified) plus MsgType and MsgSeqNum reads; the binding copies each
//!   message into a C string first (counted);
//! * limits: memchr's SOH count and a memcpy of the same buffer.
//!
//! Rates are per second of the measuring thread's on-CPU time (the machine is shared); wall-clock
//! rates are shown beside them.

use std::hint::black_box;

use fixcodec::{Frame, Framer, Message};
use hwsim::fast::FastPath;
use hwsim::Kind;

use crate::report::{ratio, Run};
use crate::util::{cut_messages, median_best, timed, Timing};

const CHUNK: usize = 64 * 1024;

/// One contender's result over one stream.
struct Row {
    name: String,
    role: &'static str,
    median: Timing,
    best: Timing,
}

fn fast_path(stream: &[u8], msgs: u64, reps: usize) -> Timing {
    let mut fp = FastPath::new(1, 256, 4096);
    let (t, (seen, bad)) = timed(|| {
        let (mut seen, mut bad) = (0u64, 0u64);
        for _ in 0..reps {
            fp.reset_stream(0);
            fp.set_expected(0, 1);
            for c in stream.chunks(CHUNK) {
                fp.process(0, c, |v, _| {
                    seen += 1;
                    bad += u64::from(v.kind != Kind::InOrder as u8);
                });
            }
        }
        (seen, bad)
    });
    assert_eq!(seen, msgs * reps as u64, "fast path: record count");
    assert_eq!(bad, 0, "fast path: non-IN_ORDER verdicts on a valid stream");
    t
}

fn framer(stream: &[u8], msgs: u64, reps: usize) -> Timing {
    let mut f = Framer::new(4096);
    let (t, (n, sum)) = timed(|| {
        let (mut n, mut sum) = (0u64, 0u64);
        for _ in 0..reps {
            f.reset();
            for c in stream.chunks(CHUNK) {
                f.feed(c, |fr| {
                    if let Frame::Message { bytes, .. } = fr {
                        n += 1;
                        let m = Message::new_unchecked(bytes);
                        sum += u64::from(m.get_u32(34).ok().flatten().unwrap_or(0));
                    }
                });
            }
        }
        (n, sum)
    });
    assert_eq!(n, msgs * reps as u64, "framer: message count");
    let per = msgs * (msgs + 1) / 2;
    assert_eq!(sum, per * reps as u64, "framer: MsgSeqNum sum");
    t
}

#[cfg(feature = "fefix")]
fn fefix(messages: &[&[u8]], reps: usize) -> Timing {
    use fefix::tagvalue::{Config, Decoder, FieldAccess};
    let mut dec = Decoder::<Config>::new(fefix::Dictionary::fix44());
    let (t, (ok, sum)) = timed(|| {
        let (mut ok, mut sum) = (0u64, 0u64);
        for _ in 0..reps {
            for m in messages {
                if let Ok(msg) = dec.decode(black_box(*m)) {
                    ok += 1;
                    sum += msg.fv_raw(&35u32).map_or(0, |v| u64::from(v[0]));
                    sum += msg.fv_raw(&34u32).map_or(0, |v| v.len() as u64);
                }
            }
        }
        (ok, sum)
    });
    assert_eq!(
        ok,
        (messages.len() * reps) as u64,
        "fefix rejected valid messages"
    );
    assert!(sum > 0);
    t
}

fn soh(stream: &[u8], reps: usize) -> Timing {
    let (t, n) = timed(|| {
        let mut n = 0usize;
        for _ in 0..reps {
            n += memchr::memchr_iter(1, black_box(stream)).count();
        }
        n
    });
    assert!(n > 0);
    t
}

fn memcpy(stream: &[u8], dst: &mut [u8], reps: usize) -> Timing {
    let (t, ()) = timed(|| {
        for _ in 0..reps {
            dst.copy_from_slice(black_box(stream));
            black_box(&mut *dst);
        }
    });
    assert_eq!(dst[..64], stream[..64]);
    t
}

fn passes_of(passes: usize, mut f: impl FnMut() -> Timing) -> (Timing, Timing) {
    f(); // warm-up: page faults, caches, branch predictors
    median_best((0..passes).map(|_| f()).collect())
}

/// Runs measure 1 and appends its tables to the report.
pub fn run(run: &mut Run, quick: bool, progress: &dyn Fn(&str)) {
    let passes = if quick { 1 } else { 5 };
    let big = if quick { 4 << 20 } else { 64 << 20 };
    let cached_reps = if quick { 4 } else { 32 };
    run.md("## 1. Parse + verify throughput\n");
    run.md(&format!(
        "Seeded stream of valid 150-350-byte NewOrderSingles (`hwsim::gen::valid_stream`, seed 42), \
         the same bytes for every row. GB/s and Mmsg/s per second of the measuring thread's \
         on-CPU time (median of {passes} pass(es) after one warm-up); wall-clock GB/s beside it. \
         \"engine / row\" is the fast path's rate divided by the row's.\n"
    ));
    for (label, size, reps) in [
        (
            if quick {
                "4 MiB stream (quick)"
            } else {
                "64 MiB stream (memory-bound)"
            },
            big,
            1usize,
        ),
        ("1 MiB stream, cache-resident", 1 << 20, cached_reps),
    ] {
        progress(&format!("parse: generating {label}"));
        let (stream, msgs) = hwsim::gen::valid_stream(42, size, 150, 350);
        let messages = cut_messages(&stream);
        assert_eq!(
            messages.len() as u64,
            msgs,
            "cut_messages disagrees with the generator"
        );
        let mut dst = vec![0u8; stream.len()];
        let mut rows = Vec::new();
        let mut add = |name: &str, role, (median, best): (Timing, Timing)| {
            rows.push(Row {
                name: name.to_string(),
                role,
                median,
                best,
            })
        };
        progress(&format!("parse: {label}: fast path"));
        add(
            "fixeng fast path (hwsim FastPath, 64 KiB chunks)",
            "engine",
            passes_of(passes, || fast_path(&stream, msgs, reps)),
        );
        progress(&format!("parse: {label}: framer"));
        add(
            "fixcodec Framer + MsgSeqNum lookup (64 KiB chunks)",
            "engine",
            passes_of(passes, || framer(&stream, msgs, reps)),
        );
        progress(&format!("parse: {label}: fefix"));
        #[cfg(feature = "fefix")]
        add(
            "fefix 0.7 Decoder per message (checksum on) + MsgType, MsgSeqNum",
            "peer",
            passes_of(passes, || fefix(&messages, reps)),
        );
        #[cfg(not(feature = "fefix"))]
        add(
            "fefix 0.7 (`fefix` feature not built)",
            "peer",
            (Timing::default(), Timing::default()),
        );
        progress(&format!("parse: {label}: QuickFIX"));
        #[cfg(feature = "peers")]
        {
            let text: Vec<&str> = messages
                .iter()
                .map(|m| std::str::from_utf8(m).unwrap_or(""))
                .collect();
            match crate::qf::parse(&text, reps) {
                Ok(_) => add(
                    "QuickFIX 1.16 DataDictionary::try_build_message (validate) + MsgType, MsgSeqNum",
                    "peer",
                    passes_of(passes, || {
                        crate::qf::parse(&text, reps).unwrap_or_default()
                    }),
                ),
                Err(e) => {
                    eprintln!("parse: QuickFIX: {e}");
                    add(
                        &format!("QuickFIX 1.16: failed: {}", e.replace('|', "/")),
                        "peer",
                        (Timing::default(), Timing::default()),
                    )
                }
            }
        }
        #[cfg(not(feature = "peers"))]
        add(
            "QuickFIX C++ (`peers` feature not built)",
            "peer",
            (Timing::default(), Timing::default()),
        );
        progress(&format!("parse: {label}: limits"));
        add(
            "memchr SOH count",
            "limit",
            passes_of(passes, || soh(&stream, reps)),
        );
        add(
            "memcpy of the buffer",
            "limit",
            passes_of(passes, || memcpy(&stream, &mut dst, reps)),
        );
        let total = (stream.len() * reps) as f64;
        let n = (msgs * reps as u64) as f64;
        let engine_gbs = total / rows[0].median.cpu.as_secs_f64() / 1e9;
        run.md(&format!(
            "\n### {label}: {:.1} MiB, {msgs} messages (avg {:.0} B){}\n",
            stream.len() as f64 / f64::from(1 << 20),
            stream.len() as f64 / msgs as f64,
            if reps > 1 {
                format!(", {reps} passes over it per timing")
            } else {
                String::new()
            }
        ));
        run.md("| contender | role | GB/s (CPU) | Mmsg/s | ns/msg | best GB/s | wall GB/s | engine / row |");
        run.md("|---|---|---:|---:|---:|---:|---:|---:|");
        for r in &rows {
            let s = r.median.cpu.as_secs_f64();
            if s == 0.0 {
                run.md(&format!(
                    "| {} | {} | not measured | | | | | |",
                    r.name, r.role
                ));
                continue;
            }
            let gbs = total / s / 1e9;
            let mps = n / s / 1e6;
            let ns = s * 1e9 / n;
            let best = total / r.best.cpu.as_secs_f64() / 1e9;
            let wall = total / r.median.wall.as_secs_f64() / 1e9;
            let (mps_s, ns_s) = if r.role == "limit" {
                ("-".to_string(), "-".to_string())
            } else {
                (format!("{mps:.2}"), format!("{ns:.1}"))
            };
            run.md(&format!(
                "| {} | {} | {gbs:.2} | {mps_s} | {ns_s} | {best:.2} | {wall:.2} | {} |",
                r.name,
                r.role,
                ratio(engine_gbs, gbs)
            ));
            println!(
                "parse  {label:<32} {:<66} {gbs:>7.2} GB/s {mps_s:>7} Mmsg/s",
                r.name
            );
        }
        run.md(&format!(
            "\nGoal >= 5 GB/s parse+verify (fast path): {:.2} GB/s on-CPU: {}.\n",
            engine_gbs,
            if engine_gbs >= 5.0 { "met" } else { "not met" }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contender_handles_the_stream() {
        let (stream, msgs) = hwsim::gen::valid_stream(3, 256 << 10, 150, 350);
        let messages = cut_messages(&stream);
        assert_eq!(messages.len() as u64, msgs);
        // Each function asserts its own counts (every message seen, all IN_ORDER, ...).
        fast_path(&stream, msgs, 2);
        framer(&stream, msgs, 2);
        #[cfg(feature = "fefix")]
        fefix(&messages, 1);
        soh(&stream, 1);
        let mut dst = vec![0u8; stream.len()];
        memcpy(&stream, &mut dst, 1);
        assert_eq!(dst, stream);
    }

    #[test]
    #[should_panic(expected = "record count")]
    fn fast_path_count_check_fires() {
        let (stream, msgs) = hwsim::gen::valid_stream(3, 16 << 10, 150, 350);
        fast_path(&stream, msgs + 1, 1);
    }
}
