//! Measure 7: the FPGA sequencer block.
//!
//! Throughput and verdict latency in cycles are measured here, on the bench's own traffic, with
//! `hwsim::cycle::CycleModel`: the cycle-level model of `fix_sequencer` that the co-simulation
//! (`fpga/sim`, run in CI) proves equal to the Verilated RTL cycle for cycle, pin for pin. The
//! resources, logic depth and the Fmax estimate are read from the synthesis results
//! (`fpga/synth/results.txt`, committed, written by `scripts/synth.sh`).

use std::collections::VecDeque;
use std::path::Path;

use hdrhistogram::Histogram;
use hwsim::contract::{Kind, Verdict};
use hwsim::cycle::{Config, CycleModel, PinsIn, PinsOut, SequencerSim};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::report::Run;

/// The hypothetical clock the issue names (10GBASE-R's 64-bit datapath at 322.27 MHz).
pub const MHZ_322: f64 = 322.0;

/// What one cycle-model run measured.
#[derive(Debug)]
pub struct CycleRun {
    /// Sessions interleaved.
    pub sessions: u16,
    /// Payload bytes fed (every byte of every message).
    pub bytes: u64,
    /// Messages fed (each got exactly one verdict, checked).
    pub msgs: u64,
    /// Beats accepted.
    pub beats: u64,
    /// Cycles from the first beat offered to the last beat accepted, inclusive.
    pub input_cycles: u64,
    /// Cycles in which `s_axis_tready` was low while a beat was offered.
    pub stalled: u64,
    /// Verdict latency in cycles: from the cycle that accepted the beat holding a message's last
    /// byte to the first cycle its verdict is on `m_axis` (2 = the pipeline's minimum).
    pub latency: Histogram<u64>,
}

impl CycleRun {
    /// Payload bytes per cycle of input.
    pub fn bytes_per_cycle(&self) -> f64 {
        self.bytes as f64 / self.input_cycles.max(1) as f64
    }

    /// Messages per cycle of input.
    pub fn msgs_per_cycle(&self) -> f64 {
        self.msgs as f64 / self.input_cycles.max(1) as f64
    }
}

/// End offsets (exclusive) of the messages of a stream of valid messages: each ends with
/// `SOH 10=ddd SOH`.
fn message_ends(stream: &[u8]) -> Vec<usize> {
    memchr::memmem::find_iter(stream, b"\x0110=")
        .map(|i| i + 8)
        .filter(|&e| e <= stream.len() && stream[e - 1] == 1)
        .collect()
}

/// Feeds `sessions` interleaved seeded streams of valid 150-350-byte NewOrderSingles (about
/// `bytes` in all) to the cycle model, in chunks of 64-1 460 bytes (one TCP segment each, cut
/// into 8-byte beats, the last one partial), every beat offered back to back (no idle beat).
/// With `backpressure` > 0, `m_axis_tready` is low in that fraction of cycles (seeded). Checks
/// that every message gets exactly one IN_ORDER verdict of its session and number, in order.
pub fn cycle_run(
    seed: u64,
    sessions: u16,
    bytes: usize,
    backpressure: f64,
) -> Result<CycleRun, String> {
    let cfg = Config::default();
    if u32::from(sessions) > cfg.sessions || sessions == 0 {
        return Err(format!("sessions must be 1..={}", cfg.sessions));
    }
    let per = bytes / usize::from(sessions);
    let streams: Vec<Vec<u8>> = (0..sessions)
        .map(|s| hwsim::gen::valid_stream(seed + u64::from(s), per.max(400), 150, 350).0)
        .collect();
    let ends: Vec<Vec<usize>> = streams.iter().map(|s| message_ends(s)).collect();
    let total_msgs: u64 = ends.iter().map(|e| e.len() as u64).sum();
    let total_bytes: u64 = streams.iter().map(|s| s.len() as u64).sum();
    // Chunks in delivery order: (session, start, end).
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED);
    let mut pos = vec![0usize; streams.len()];
    let mut chunks = Vec::new();
    let mut live: Vec<usize> = (0..streams.len()).collect();
    while !live.is_empty() {
        let li = rng.gen_range(0..live.len());
        let s = live[li];
        let c = rng.gen_range(64..=1460).min(streams[s].len() - pos[s]);
        chunks.push((s, pos[s], pos[s] + c));
        pos[s] += c;
        if pos[s] == streams[s].len() {
            live.swap_remove(li);
        }
    }
    let mut m = CycleModel::new(cfg);
    let idle = PinsIn {
        m_tready: true,
        ..PinsIn::default()
    };
    // Reset sweep.
    let mut guard = 0u32;
    while !m.tick(&idle).s_tready {
        guard += 1;
        if guard > cfg.sessions + 8 {
            return Err("the model never left its reset sweep".into());
        }
    }
    let mut out = Outputs::new();
    let mut next_end = vec![0usize; streams.len()];
    let mut cycle = 0u64;
    let (mut beats, mut stalled, mut last_accept) = (0u64, 0u64, 0u64);
    let mut bp_rng = SmallRng::seed_from_u64(seed ^ 0xB4C4);
    let mut m_tready = || backpressure <= 0.0 || !bp_rng.gen_bool(backpressure.min(0.99));
    let mut seqs = vec![0u32; streams.len()];
    for &(s, a, e) in &chunks {
        let mut p = a;
        while p < e {
            let n = (e - p).min(8);
            let mut data = 0u64;
            for (i, &b) in streams[s][p..p + n].iter().enumerate() {
                data |= u64::from(b) << (8 * i);
            }
            let inp = PinsIn {
                s_tdata: data,
                s_tkeep: ((1u16 << n) - 1) as u8,
                s_tvalid: true,
                s_tlast: p + n == e,
                s_tuser: s as u16,
                m_tready: m_tready(),
                ..PinsIn::default()
            };
            let o = m.tick(&inp);
            out.observe(&o, inp.m_tready, cycle)?;
            if o.s_tready {
                beats += 1;
                last_accept = cycle;
                while next_end[s] < ends[s].len() && ends[s][next_end[s]] <= p + n {
                    next_end[s] += 1;
                    seqs[s] += 1;
                    out.waiting.push_back((cycle, s as u16, seqs[s]));
                }
                p += n;
            } else {
                stalled += 1;
            }
            cycle += 1;
        }
    }
    // Drain.
    let limit = cycle + 1_000 + 4 * out.waiting.len() as u64 * (1 + (backpressure * 100.0) as u64);
    while out.verdicts < total_msgs && cycle < limit {
        let inp = PinsIn {
            m_tready: m_tready(),
            ..PinsIn::default()
        };
        let o = m.tick(&inp);
        out.observe(&o, inp.m_tready, cycle)?;
        cycle += 1;
    }
    if out.verdicts != total_msgs || !out.waiting.is_empty() {
        return Err(format!(
            "{} verdicts for {total_msgs} messages ({} waiting)",
            out.verdicts,
            out.waiting.len()
        ));
    }
    Ok(CycleRun {
        sessions,
        bytes: total_bytes,
        msgs: total_msgs,
        beats,
        input_cycles: last_accept + 1,
        stalled,
        latency: out.latency,
    })
}

/// What the verdict output has shown so far, against the messages whose last beat went in.
struct Outputs {
    /// (cycle the ending beat was accepted, session, MsgSeqNum) per message, in verdict order.
    waiting: VecDeque<(u64, u16, u32)>,
    latency: Histogram<u64>,
    verdicts: u64,
    /// `m_axis_tvalid` and `m_axis_tready` of the previous cycle.
    prev: (bool, bool),
}

impl Outputs {
    fn new() -> Self {
        Outputs {
            waiting: VecDeque::new(),
            latency: Histogram::new_with_bounds(1, 1 << 20, 3).expect("bounds"),
            verdicts: 0,
            prev: (false, true),
        }
    }

    /// One cycle's outputs `o` (with the `m_tready` offered in it): a new verdict on `m_axis`
    /// (valid, and the previous cycle's was empty or taken) is checked against the oldest
    /// waiting message and its latency recorded.
    fn observe(&mut self, o: &PinsOut, m_tready: bool, cycle: u64) -> Result<(), String> {
        let (prev_valid, prev_ready) = std::mem::replace(&mut self.prev, (o.m_tvalid, m_tready));
        if !o.m_tvalid || (prev_valid && !prev_ready) {
            return Ok(());
        }
        let v = Verdict::from_words(o.m_tdata);
        let Some((t, s, seq)) = self.waiting.pop_front() else {
            return Err(format!("a verdict with no message: {v:?}"));
        };
        if v.kind() != Some(Kind::InOrder) || v.session != s || v.seq != seq {
            return Err(format!(
                "verdict {v:?} for message {seq} of session {s} (expected IN_ORDER)"
            ));
        }
        self.latency.record(cycle - t).map_err(|e| e.to_string())?;
        self.verdicts += 1;
        Ok(())
    }
}

/// The synthesis results: resource lines and logic-depth lines, with their source.
#[derive(Debug, Default, PartialEq)]
pub struct SynthResults {
    /// `(name, value)` of each resource line (`LUT (logic) 25653` -> `("LUT (logic)",
    /// "25653")`; `LUTRAM cells 574 (2296 LUTs)` -> `("LUTRAM cells", "574 (2296 LUTs)")`).
    pub resources: Vec<(String, String)>,
    /// `(path, levels and cells, estimate)` per `longest ...:` line, in file order.
    pub depth: Vec<(String, String, String)>,
    /// The estimated Fmax range of the longest register-to-register path (MHz).
    pub fmax: Option<(f64, f64)>,
    /// Where the figures came from.
    pub source: String,
}

/// `(A-B MHz)` at the end of an estimate line.
fn mhz_range(l: &str) -> Option<(f64, f64)> {
    let i = l.rfind('(')?;
    let r = l[i + 1..].trim_end().strip_suffix("MHz)")?.trim();
    let (a, b) = r.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Parses `scripts/synth.sh`'s summary (and depth) text.
pub fn parse_synth(text: &str, source: &str) -> SynthResults {
    let mut r = SynthResults {
        source: source.to_string(),
        ..SynthResults::default()
    };
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if l.starts_with(char::is_whitespace) || l.trim().is_empty() {
            continue;
        }
        if let Some((path, rest)) = l.split_once(':') {
            if path.starts_with("longest") {
                let mut est = String::new();
                while let Some(n) = lines.peek() {
                    if !n.starts_with(char::is_whitespace) {
                        break;
                    }
                    let n = lines.next().unwrap_or_default().trim();
                    if n.starts_with("estimate") {
                        est = n.split_once(": ").map_or(n, |x| x.1).to_string();
                        if path == "longest register-to-register path" {
                            r.fmax = mhz_range(n);
                        }
                    }
                }
                r.depth
                    .push((path.to_string(), rest.trim().to_string(), est));
                continue;
            }
        }
        let w: Vec<&str> = l.split_whitespace().collect();
        if let Some(k) = w.iter().position(|t| t.parse::<u64>().is_ok()) {
            if k > 0 {
                r.resources.push((w[..k].join(" "), w[k..].join(" ")));
            }
        }
    }
    r
}

/// Reads the synthesis results: `fpga/synth/results.txt`, or else the uncommitted output of a
/// local `scripts/synth.sh` run (`fpga/synth/out/summary.txt` + `depth.txt`).
pub fn read_synth(root: &Path) -> Option<SynthResults> {
    let committed = root.join("fpga/synth/results.txt");
    if let Ok(t) = std::fs::read_to_string(&committed) {
        return Some(parse_synth(
            &t,
            "fpga/synth/results.txt (committed output of scripts/synth.sh)",
        ));
    }
    let out = root.join("fpga/synth/out");
    let s = std::fs::read_to_string(out.join("summary.txt")).ok()?;
    // Newer runs of scripts/synth.sh append the depth lines to summary.txt themselves.
    let d = if s.contains("\nlongest ") {
        String::new()
    } else {
        std::fs::read_to_string(out.join("depth.txt")).unwrap_or_default()
    };
    Some(parse_synth(
        &format!("{s}\n{d}"),
        "fpga/synth/out/summary.txt and depth.txt (fpga/synth/results.txt is absent: the \
         output of a local scripts/synth.sh run, which may be older than the RTL)",
    ))
}

/// Nanoseconds for `cycles` at `mhz`.
fn ns(cycles: f64, mhz: f64) -> f64 {
    cycles * 1e3 / mhz
}

/// Appends measure 7.
pub fn run(run: &mut Run, quick: bool, progress: &dyn Fn(&str)) {
    let bytes = if quick { 256 << 10 } else { 4 << 20 };
    run.md("## 7. FPGA sequencer block\n");
    run.md(&format!(
        "Cycles measured by this bench with `hwsim::cycle::CycleModel`, the cycle-level model of \
         `fix_sequencer` (default parameters: 64 sessions, W = 256, MAX_MSG = 4 096, FQ_DEPTH = \
         16), which the co-simulation (`fpga/sim`, Verilator, run in CI) proves equal to the RTL \
         cycle for cycle on every output pin. Traffic: about {} KiB of seeded valid \
         150-350-byte NewOrderSingles per run, split over the sessions, delivered in chunks of \
         64-1 460 bytes (one TCP segment each: 8-byte beats, the last beat of a chunk partial), \
         sessions interleaved at chunk boundaries, a beat offered in every cycle (no idle beat). \
         Every message is checked to get exactly one IN_ORDER verdict of its session and \
         number, in order. Bytes (messages) per cycle: payload bytes (messages) / cycles from \
         the first beat offered to the last beat accepted. Verdict latency: from the cycle that \
         accepts the beat holding a message's last byte to the first cycle its verdict is on \
         `m_axis` (the pipeline's minimum, 2 cycles in this RTL, when no verdict waits ahead of it).\n",
        bytes >> 10
    ));
    let cases: [(u16, f64, &str); 4] = [
        (1, 0.0, "1 session, no back-pressure"),
        (16, 0.0, "16 sessions interleaved, no back-pressure"),
        (
            16,
            0.25,
            "16 sessions, m_axis_tready low in 25 % of cycles (random)",
        ),
        (
            16,
            0.95,
            "16 sessions, m_axis_tready low in 95 % of cycles (random)",
        ),
    ];
    run.md("| traffic | messages | beats | cycles | stalled cycles | bytes / cycle | messages / cycle | latency p50 (cycles) | p99 | max |");
    run.md("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut first: Option<(f64, u64, u64)> = None;
    for (k, &(sessions, bp, label)) in cases.iter().enumerate() {
        progress(&format!("fpga: cycle model, {label}"));
        match cycle_run(42 + k as u64, sessions, bytes, bp) {
            Ok(r) => {
                let (p50, p99, max) = (
                    r.latency.value_at_quantile(0.5),
                    r.latency.value_at_quantile(0.99),
                    r.latency.max(),
                );
                run.md(&format!(
                    "| {label} | {} | {} | {} | {} | {:.3} | {:.4} | {p50} | {p99} | {max} |",
                    r.msgs,
                    r.beats,
                    r.input_cycles,
                    r.stalled,
                    r.bytes_per_cycle(),
                    r.msgs_per_cycle()
                ));
                println!(
                    "fpga   {label}: {:.3} bytes/cycle, verdict latency p50 {p50} max {max} cycles",
                    r.bytes_per_cycle()
                );
                if first.is_none() && r.sessions > 1 && bp == 0.0 {
                    first = Some((r.bytes_per_cycle(), p50, max));
                }
            }
            Err(e) => run.md(&format!("| {label} | not measured: {e} | | | | | | | | |")),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    progress("fpga: reading the synthesis results");
    let synth = read_synth(&root);
    run.md("");
    match &synth {
        None => run.md(
            "Resources and logic depth: not available (neither fpga/synth/results.txt nor \
             fpga/synth/out/summary.txt exists; run scripts/synth.sh).\n",
        ),
        Some(s) => {
            run.md(&format!(
                "Resources and logic depth from {} (yosys `synth_xilinx`, 7-series cells, \
                 default parameters):\n",
                s.source
            ));
            run.md("| resource | count |");
            run.md("|---|---:|");
            for (k, v) in &s.resources {
                run.md(&format!("| {k} | {v} |"));
            }
            run.md("\n| path | logic depth | estimate |");
            run.md("|---|---|---|");
            for (p, d, e) in &s.depth {
                run.md(&format!("| {p} | {d} | {e} |"));
            }
            run.md(
                "\nThe Fmax figures are an estimate from logic depth, not a timing-closed \
                 result: yosys has no delay model (docs/sequencer.md 6.3).\n",
            );
        }
    }
    // Implied latency and line rate.
    if let Some((bpc, p50, max)) = first {
        run.md("Implied by the measured cycles (16 sessions, no back-pressure):\n");
        run.md("| clock | verdict latency p50 | max | line rate (bytes/cycle x f) |");
        run.md("|---|---:|---:|---:|");
        if let Some((lo, hi)) = synth.as_ref().and_then(|s| s.fmax) {
            run.md(&format!(
                "| estimated Fmax {lo:.0}-{hi:.0} MHz (logic depth; not timing-closed) | {:.1}-{:.1} ns | {:.1}-{:.1} ns | {:.2}-{:.2} Gbit/s |",
                ns(p50 as f64, hi),
                ns(p50 as f64, lo),
                ns(max as f64, hi),
                ns(max as f64, lo),
                bpc * lo * 8e-3,
                bpc * hi * 8e-3
            ));
        } else {
            run.md("| estimated Fmax | not available (no synthesis results) | | |");
        }
        let fmax = synth.as_ref().and_then(|s| s.fmax);
        let below = fmax.is_some_and(|(_, hi)| hi < MHZ_322);
        run.md(&format!(
            "| 322 MHz, IF the block closed timing there{} | {:.1} ns | {:.1} ns | {:.2} Gbit/s |",
            if below {
                " (its estimated Fmax is below)"
            } else {
                ""
            },
            ns(p50 as f64, MHZ_322),
            ns(max as f64, MHZ_322),
            bpc * MHZ_322 * 8e-3
        ));
        run.md(&format!(
            "\nThe 322 MHz row is what the issue asks for: hypothetical. No timing closure has \
             been attempted{}.\n",
            match fmax {
                Some((_, hi)) if hi < MHZ_322 => format!(
                    ", and the logic-depth estimate puts the RTL as written at {hi:.0} MHz at \
                     most (docs/sequencer.md 6.3 says where pipeline registers would go; each \
                     adds a cycle of latency, which the cycle model and so this table would show)"
                ),
                Some(_) => ", although the logic-depth estimate reaches it".to_string(),
                None => String::new(),
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_model_run_checks_every_verdict() {
        let r = cycle_run(7, 4, 24 << 10, 0.0).expect("run");
        assert!(r.msgs > 50, "{r:?}");
        // Valid traffic never fills the frame queue without back-pressure.
        assert_eq!(r.stalled, 0);
        // At most one valid message ends per beat, so no message waits behind another: every
        // verdict comes after the pipeline's fixed latency (2 cycles in today's RTL).
        assert!(r.latency.min() >= 2);
        assert_eq!(r.latency.min(), r.latency.max());
        assert_eq!(r.latency.len(), r.msgs);
        // Partial last beats: fewer than 8 bytes per cycle, more than 7 with segments of 64+.
        let bpc = r.bytes_per_cycle();
        assert!(bpc <= 8.0 && bpc > 6.0, "{bpc}");
        // m_axis_tready low in 95 % of cycles: a verdict waits in the register for ~20 cycles,
        // longer than a message takes to arrive.
        let b = cycle_run(7, 4, 24 << 10, 0.95).expect("run with back-pressure");
        assert_eq!(b.msgs, r.msgs);
        assert!(
            b.latency.max() > r.latency.max(),
            "back-pressure delays some verdicts"
        );
    }

    #[test]
    fn message_ends_of_a_stream() {
        let (s, n) = hwsim::gen::valid_stream(1, 2_000, 150, 350);
        let e = message_ends(&s);
        assert_eq!(e.len() as u64, n);
        assert_eq!(*e.last().unwrap(), s.len());
    }

    #[test]
    fn synth_results_are_parsed() {
        let t = "LUT (logic) 25653\nLUTRAM cells 574 (2296 LUTs)\nFF 310\nBRAM 0\nDSP 0\nMUXF7/8 5491\nCARRY4 940\nlongest register-to-register path: 53 LUT levels (incl. 1 LUT-RAM reads) + 16 MUXF7/8 + 41 CARRY4\n    estimate from logic depth, not a timing-closed result: 20.1-34.3 ns (29-49 MHz)\n    from a via b > c\nlongest path through u_seq: 30 LUT levels (incl. 2 LUT-RAM reads) + 15 MUXF7/8 + 64 CARRY4\n    estimate from logic depth, not a timing-closed result: 14.2-24.9 ns (40-70 MHz)\n    from x via y\n";
        let r = parse_synth(t, "src");
        assert_eq!(r.resources.len(), 7);
        assert_eq!(r.resources[0], ("LUT (logic)".into(), "25653".into()));
        assert_eq!(
            r.resources[1],
            ("LUTRAM cells".into(), "574 (2296 LUTs)".into())
        );
        assert_eq!(r.resources[5], ("MUXF7/8".into(), "5491".into()));
        assert_eq!(r.fmax, Some((29.0, 49.0)));
        assert_eq!(r.depth.len(), 2);
        assert_eq!(r.depth[1].0, "longest path through u_seq");
        assert!(r.depth[1].1.starts_with("30 LUT levels"));
        assert_eq!(r.depth[1].2, "14.2-24.9 ns (40-70 MHz)");
        assert_eq!(mhz_range("x (29-49 MHz)"), Some((29.0, 49.0)));
        assert_eq!(mhz_range("x (29 MHz)"), None);
        assert!(parse_synth("", "s").resources.is_empty());
    }
}
