//! Measure 6 (sustained load, engine <-> engine over loopback io_uring) and measure 7 (the FPGA
//! block's figures, read from the fpga engineer's outputs, not measured here).

use std::path::Path;
use std::time::Duration;

use crate::latency::{engine, Plan};
use crate::report::{us, Run, Series};

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
            ("paced 10 000 orders/s", 10_000, 256, 10_000, 100_000),
            ("paced 100 000 orders/s", 100_000, 256, 50_000, 1_000_000),
            ("unthrottled, window 256", 0, 256, 100_000, 2_000_000),
        ]
    };
    let limit = if quick {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(30)
    };
    run.md("## 6. Sustained load\n");
    run.md(
        "Engine <-> engine over loopback io_uring as in measure 2 (one busy-spinning thread per \
         side, pinned), the initiator sending orders at a fixed rate (or as fast as 256 \
         unanswered orders allow), the acceptor answering each with an ExecutionReport. Round \
         trip per order, after the warm-up. Achieved: reports per second of wall time. No peer \
         or limit was measured for this one.\n",
    );
    run.md("| load | orders measured | achieved reports/s | p50 us | p90 us | p99 us | p99.9 us | max us |");
    run.md("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut hists = Vec::new();
    for &(label, rate, window, warmup, count) in cases {
        progress(&format!("load: {label}, {warmup} + {count} orders"));
        match engine(Plan { warmup, count }, limit, rate, window) {
            Ok(e) => {
                let h = &e.rtt;
                let achieved = e.acked as f64 / e.elapsed.as_secs_f64().max(1e-9);
                run.md(&format!(
                    "| {label} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    e.acked,
                    achieved,
                    us(h, 50.0),
                    us(h, 90.0),
                    us(h, 99.0),
                    us(h, 99.9),
                    h.max() as f64 / 1e3
                ));
                println!(
                    "load   {label:<28} {:>9.0} reports/s  p50 {:>9.2} us  p99 {:>9.2} us",
                    achieved,
                    us(h, 50.0),
                    us(h, 99.0)
                );
                hists.push((label, e.rtt));
            }
            Err(err) => run.md(&format!(
                "| {label} | not measured: {} | | | | | | |",
                err.replace('|', "/")
            )),
        }
    }
    if !hists.is_empty() {
        let series: Vec<Series<'_>> = hists
            .iter()
            .map(|(l, h)| Series {
                label: (*l).to_string(),
                hist: h,
            })
            .collect();
        let files = run.latency_files("load", "Round trip under sustained load (us)", &series);
        run.md(&format!("\nFiles: {}\n", files.join(", ")));
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
    run.md("\nTiming closure at 322 MHz has not been attempted (yosys does no timing analysis; docs/sequencer.md 6.1).\n");
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
