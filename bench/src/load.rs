//! Measure 6 (sustained load: the engine, QuickFIX and raw TCP at the same offered load) and
//! measure 7 (the FPGA block's figures, read from the fpga engineer's outputs, not measured
//! here).

use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::latency::{engine, raw_tcp_load, Plan};
use crate::report::{ratio, us, Run, Series};

/// One contender's result at one offered load.
struct LoadRow {
    name: String,
    role: &'static str,
    r: Result<(Histogram<u64>, u64, Duration), String>,
}

/// Runs measure 6 and appends its table.
pub fn run(run: &mut Run, quick: bool, progress: &dyn Fn(&str)) {
    // (label, rate per second (0 = unthrottled), window, warm-up, count)
    let cases: &[(&str, u64, u32, u32, u32)] = if quick {
        &[
            ("paced 20 000 orders/s", 20_000, 256, 2_000, 20_000),
            ("unthrottled, window 256", 0, 256, 5_000, 50_000),
        ]
    } else {
        &[
            ("paced 10 000 orders/s", 10_000, 256, 10_000, 60_000),
            ("paced 100 000 orders/s", 100_000, 256, 50_000, 600_000),
            ("unthrottled, window 256", 0, 256, 50_000, 1_000_000),
        ]
    };
    let limit = if quick {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(8)
    };
    run.md("## 6. Sustained load\n");
    run.md(&format!(
        "One session over loopback TCP, the initiator sending NewOrderSingles at a fixed rate \
         (or as fast as 256 unanswered orders allow), the acceptor answering each with an \
         ExecutionReport; round trip per order after the warm-up, each run capped at {} s of \
         measuring. Achieved: reports per second of wall time. Engine: as in measure 2 (one \
         thread per side, pinned, spin-then-yield). Peer: QuickFIX <-> QuickFIX in poll mode at \
         the same offered load. Limit: raw TCP (non-blocking, TCP_NODELAY, busy-poll then ppoll) \
         sending the engine's order and report sizes at the same offered load and window. The \
         16-session run with injected gaps follows the table.\n",
        limit.as_secs()
    ));
    run.md("| offered load | contender | role | orders measured | achieved reports/s | p50 us | p90 us | p99 us | p99.9 us | max us | p50 / limit |");
    run.md("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut hists = Vec::new();
    let (mut req, mut resp) = (0usize, 0usize);
    for &(label, rate, window, warmup, count) in cases {
        let plan = Plan { warmup, count };
        let mut rows = Vec::new();
        progress(&format!("load: {label}: engine, {warmup} + {count} orders"));
        let e = engine(plan, limit, rate, window);
        if let Ok(e) = &e {
            if e.order_bytes > 0 && e.report_bytes > 0 {
                (req, resp) = (e.order_bytes, e.report_bytes);
            }
        }
        rows.push(LoadRow {
            name: "fixeng <-> fixeng (io_uring)".into(),
            role: "engine",
            r: e.map(|e| (e.rtt, e.acked, e.elapsed)),
        });
        progress(&format!("load: {label}: QuickFIX poll mode"));
        rows.push(LoadRow {
            name: "QuickFIX <-> QuickFIX (poll mode, FileStore)".into(),
            role: "peer",
            r: quickfix_load(plan, limit, rate, window),
        });
        progress(&format!("load: {label}: raw TCP"));
        if req == 0 {
            (req, resp) = (150, 200);
        }
        rows.push(LoadRow {
            name: format!("raw TCP, {req} B / {resp} B"),
            role: "limit",
            r: raw_tcp_load(req, resp, plan, limit, rate, window, true)
                .map(|r| (r.rtt, r.acked, r.elapsed)),
        });
        let lim50 = rows[2].r.as_ref().ok().map(|(h, _, _)| us(h, 50.0));
        for row in rows {
            match row.r {
                Ok((h, acked, elapsed)) => {
                    let achieved = acked as f64 / elapsed.as_secs_f64().max(1e-9);
                    run.md(&format!(
                        "| {label} | {} | {} | {acked} | {achieved:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                        row.name,
                        row.role,
                        us(&h, 50.0),
                        us(&h, 90.0),
                        us(&h, 99.0),
                        us(&h, 99.9),
                        h.max() as f64 / 1e3,
                        lim50.map_or("-".into(), |l| ratio(us(&h, 50.0), l))
                    ));
                    println!(
                        "load   {label:<26} {:<8} {achieved:>9.0} reports/s  p50 {:>9.2} us  p99 {:>9.2} us",
                        row.role,
                        us(&h, 50.0),
                        us(&h, 99.0)
                    );
                    hists.push((format!("{} {label}", row.role), h));
                }
                Err(err) => run.md(&format!(
                    "| {label} | {} | {} | not measured: {} | | | | | | | |",
                    row.name,
                    row.role,
                    err.replace('|', "/")
                )),
            }
        }
    }
    if !hists.is_empty() {
        let series: Vec<Series<'_>> = hists
            .iter()
            .map(|(l, h)| Series {
                label: l.clone(),
                hist: h,
            })
            .collect();
        let files = run.latency_files("load", "Round trip under sustained load (us)", &series);
        run.md(&format!("\nFiles: {}\n", files.join(", ")));
    }
    multi(run, quick, progress);
}

/// The 16-session half of measure 6 (see [`crate::load16`]).
fn multi(run: &mut Run, quick: bool, progress: &dyn Fn(&str)) {
    use crate::load16::{run_multi, MultiPlan};
    const SESSIONS: usize = 16;
    const DROP_EVERY: u32 = 1_000;
    // (label, rate per session per second (0 = unthrottled), window, warm-up, count per session)
    let cases: &[(&str, u64, u32, u32, u32)] = if quick {
        &[("unthrottled, window 64 per session", 0, 64, 200, 2_000)]
    } else {
        &[
            ("paced 1 000 orders/s per session", 1_000, 64, 1_000, 10_000),
            ("unthrottled, window 8 per session", 0, 8, 2_000, 30_000),
            ("unthrottled, window 64 per session", 0, 64, 2_000, 50_000),
        ]
    };
    let limit = Duration::from_secs(if quick { 5 } else { 10 });
    run.md(&format!("### 6b. {SESSIONS} sessions with injected gaps\n"));
    run.md(&format!(
        "{SESSIONS} initiator/acceptor session pairs in one process over loopback io_uring (one \
         port per pair), each side as in the table above (FastPath sequencer, mmap store), but \
         all {SESSIONS} initiator pipelines polled in turn by one thread (core 0) and all \
         {SESSIONS} acceptor pipelines by one other thread (core 1), each yielding its \
         core after every round of polls: this machine has 2 cores, shared with other work, so \
         one thread per side is what runs honestly here. (With spin-then-yield, as in the table \
         above, a thread serving 16 busy sessions never yields and the loopback TCP work the \
         kernel defers to ksoftirqd waits for a scheduler tick: window 8, 16 x 2 200 orders, \
         p50 8.0 ms spinning vs 1.28 ms yielding every round.) Each link drops every application message (not \
         admin, not a PossDup resend) with probability 1/{DROP_EVERY} from a seeded generator, \
         in both directions, so every session keeps recovering gaps by ResendRequest \
         (HeartBtInt 1 s, so a loss at the very end of a session's stream is noticed at the \
         next heartbeat). Round trip per order after the warm-up (every session past it), \
         merged over the sessions; achieved: reports per second of wall time over all \
         sessions, from the end of the warm-up to the last report and the last gap closed; \
         gaps recovered: the sessions' gap records (two losses close together make one gap); \
         gap recovery: gap detected -> every message up to its highest delivered. \
         Exactly once: every order reached its acceptor and every report its initiator, once \
         and in order (`EchoApp` and `LoadApp` count anomalies); a run that fails the check \
         reports FAILED and no figures. Each run stops sending after {} s of measuring (orders \
         measured below the planned count then), waits for every outstanding report and gap, \
         and checks what was sent.\n",
        limit.as_secs()
    ));
    run.md("| offered load | sessions x orders | orders measured | achieved reports/s | p50 us | p90 us | p99 us | p99.9 us | max us | messages dropped | gaps recovered (initiators + acceptors) | gap recovery p50 / max ms | exactly once, in order |");
    run.md("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut hists = Vec::new();
    for &(label, rate, window, warmup, count) in cases {
        progress(&format!(
            "load: {SESSIONS} sessions, {label}: {warmup} + {count} orders each, drop 1/{DROP_EVERY}"
        ));
        let plan = MultiPlan {
            sessions: SESSIONS,
            warmup,
            count,
            rate,
            window,
            drop_every: DROP_EVERY,
            limit,
            timeout: limit + Duration::from_secs(30),
        };
        let shape = format!("{SESSIONS} x {}", warmup + count);
        match run_multi(&plan) {
            Ok(r) => match r.failure() {
                None => {
                    let h = &r.rtt;
                    let achieved = r.acked as f64 / r.elapsed.as_secs_f64().max(1e-9);
                    let rec = &r.recovery;
                    run.md(&format!(
                        "| {label} | {shape} | {} | {achieved:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} ({} + {}) | {:.2} / {:.2} | yes |",
                        r.acked,
                        us(h, 50.0),
                        us(h, 90.0),
                        us(h, 99.0),
                        us(h, 99.9),
                        h.max() as f64 / 1e3,
                        r.faults.dropped,
                        r.initiator_gaps + r.acceptor_gaps,
                        r.initiator_gaps,
                        r.acceptor_gaps,
                        rec.value_at_percentile(50.0) as f64 / 1e6,
                        rec.max() as f64 / 1e6,
                    ));
                    println!(
                        "load16 {label:<36} {achieved:>9.0} reports/s  p50 {:>9.2} us  p99 {:>9.2} us  gaps {}",
                        us(h, 50.0),
                        us(h, 99.0),
                        r.initiator_gaps + r.acceptor_gaps
                    );
                    hists.push((format!("{SESSIONS} sessions {label}"), r.rtt));
                }
                Some(why) => {
                    println!("load16 {label}: FAILED: {why}");
                    run.md(&format!(
                        "| {label} | {shape} | FAILED: {} | | | | | | | {} | {} ({} + {}) | | no |",
                        why.replace('|', "/"),
                        r.faults.dropped,
                        r.initiator_gaps + r.acceptor_gaps,
                        r.initiator_gaps,
                        r.acceptor_gaps,
                    ));
                }
            },
            Err(err) => run.md(&format!(
                "| {label} | {shape} | not measured: {} | | | | | | | | | | |",
                err.replace('|', "/")
            )),
        }
    }
    if !hists.is_empty() {
        let series: Vec<Series<'_>> = hists
            .iter()
            .map(|(l, h)| Series {
                label: l.clone(),
                hist: h,
            })
            .collect();
        let files = run.latency_files(
            "load16",
            "Round trip, 16 sessions with injected gaps (us)",
            &series,
        );
        run.md(&format!("\nFiles: {}\n", files.join(", ")));
    }
}

fn quickfix_load(
    plan: Plan,
    limit: Duration,
    rate: u64,
    window: u32,
) -> Result<(Histogram<u64>, u64, Duration), String> {
    #[cfg(feature = "peers")]
    {
        crate::qf::load(crate::qf::Mode::Poll, plan, limit, rate, window)
            .map(|r| (r.rtt, r.acked, r.elapsed))
    }
    #[cfg(not(feature = "peers"))]
    {
        let _ = (plan, limit, rate, window);
        Err("built without the `peers` feature (scripts/bench.sh enables it)".into())
    }
}

/// What the FPGA engineer's documents and outputs say.
#[derive(Debug, Default, PartialEq)]
pub struct FpgaFigures {
    /// Verdict latency in cycles (docs/sequencer.md 6.1).
    pub latency_cycles: Option<u32>,
    /// Input bytes per cycle (docs/sequencer.md 6.1).
    pub bytes_per_cycle: Option<u32>,
    /// Resource lines from the synthesis summary (`fpga/synth/out/summary.txt`) or from
    /// docs/sequencer.md 6.3, with their source.
    pub resources: Vec<(String, String)>,
    /// Where the resources came from.
    pub resources_source: Option<String>,
}

/// Extracts the figures from docs/sequencer.md's text and the synthesis summary's text.
pub fn parse_fpga(doc: &str, summary: Option<&str>) -> FpgaFigures {
    let mut f = FpgaFigures::default();
    if let Some(i) = doc.find("Verdict latency: ") {
        let rest = &doc[i + "Verdict latency: ".len()..];
        f.latency_cycles = rest.split_whitespace().next().and_then(|w| w.parse().ok());
    }
    if let Some(i) = doc.find("one beat (") {
        let rest = &doc[i + "one beat (".len()..];
        f.bytes_per_cycle = rest.split_whitespace().next().and_then(|w| w.parse().ok());
    }
    if let Some(s) = summary {
        for l in s.lines() {
            let mut w = l.split_whitespace();
            if let (Some(k), Some(v), None) = (w.next(), w.next(), w.next()) {
                if v.parse::<u64>().is_ok() {
                    f.resources.push((k.to_string(), v.to_string()));
                }
            }
        }
        if !f.resources.is_empty() {
            f.resources_source = Some("fpga/synth/out/summary.txt (scripts/synth.sh)".into());
        }
    }
    if f.resources.is_empty() {
        if let Some(i) = doc.find("### 6.3") {
            let sec = &doc[i..];
            let end = sec[7..].find("\n### ").map_or(sec.len(), |e| e + 7);
            for l in sec[..end].lines() {
                let t = l.trim().trim_start_matches(['*', '-', '|', ' ']);
                for key in ["LUT", "FF", "BRAM"] {
                    if let Some(r) = t.strip_prefix(key) {
                        let v: String = r
                            .trim_start_matches([' ', ':', '|'])
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || *c == ',')
                            .collect();
                        if !v.is_empty() && !f.resources.iter().any(|(k, _)| k == key) {
                            f.resources.push((key.to_string(), v));
                        }
                    }
                }
            }
            if !f.resources.is_empty() {
                f.resources_source = Some("docs/sequencer.md section 6.3".into());
            }
        }
    }
    f
}

/// Appends measure 7.
pub fn fpga(run: &mut Run, progress: &dyn Fn(&str)) {
    progress("fpga: reading docs/sequencer.md and fpga/synth/out/summary.txt");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/sequencer.md")).unwrap_or_default();
    let summary = std::fs::read_to_string(root.join("fpga/synth/out/summary.txt")).ok();
    let f = parse_fpga(&doc, summary.as_deref());
    run.md("## 7. FPGA sequencer block\n");
    run.md(
        "Not measured by this bench: figures quoted from the fpga engineer's outputs, with their \
         source. Implied values at 322 MHz (3.106 ns per cycle) are computed here.\n",
    );
    run.md("| figure | value | at 322 MHz | source |");
    run.md("|---|---:|---:|---|");
    match f.latency_cycles {
        Some(c) => run.md(&format!(
            "| verdict latency | {c} cycles | {:.1} ns | docs/sequencer.md 6.1 (co-simulation test `verdict_latency_is_two_cycles`) |",
            f64::from(c) / 0.322
        )),
        None => run.md("| verdict latency | not available | | docs/sequencer.md 6.1 |"),
    }
    match f.bytes_per_cycle {
        Some(b) => run.md(&format!(
            "| input bytes per cycle (peak) | {b} | {:.2} GB/s | docs/sequencer.md 6.1 |",
            f64::from(b) * 0.322
        )),
        None => run.md("| input bytes per cycle | not available | | docs/sequencer.md 6.1 |"),
    }
    run.md("| bytes per cycle, random traffic | printed by `cargo test -p fpga-sim --release --test random` | | fpga/sim/tests/random.rs (not run by the bench) |");
    if f.resources.is_empty() {
        run.md("| LUT / FF | not available (run scripts/synth.sh) | | docs/sequencer.md 6.3 |");
    } else {
        let src = f.resources_source.clone().unwrap_or_default();
        for (k, v) in &f.resources {
            run.md(&format!("| {k} | {v} | | {src} |"));
        }
    }
    run.md("\nThe 322 MHz column is hypothetical: the RTL as written is estimated at 29-49 MHz from its logic depth (53 LUT levels on the framer path; `scripts/synth.sh`, docs/sequencer.md 6.3); no timing closure has been attempted.\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fpga_figures_from_texts() {
        let doc = "x\n**Verdict latency: 2 cycles** after\n**Input throughput: one beat (8 bytes) per cycle.**\n### 6.3 Resources\n\nRESOURCES_TBD\n\n### 6.4 Card\n";
        let f = parse_fpga(doc, Some("LUT 1234\nFF 567\nBRAM 2\n"));
        assert_eq!(f.latency_cycles, Some(2));
        assert_eq!(f.bytes_per_cycle, Some(8));
        assert_eq!(f.resources[0], ("LUT".to_string(), "1234".to_string()));
        assert_eq!(f.resources.len(), 3);
        let g = parse_fpga(doc, None);
        assert!(g.resources.is_empty());
        let doc2 = "### 6.3 Resources\n\n| LUT | 4321 |\n| FF | 99 |\n### 6.4\n";
        let h = parse_fpga(doc2, None);
        assert_eq!(
            h.resources,
            vec![("LUT".into(), "4321".into()), ("FF".into(), "99".into())]
        );
        assert_eq!(h.latency_cycles, None);
    }
}
