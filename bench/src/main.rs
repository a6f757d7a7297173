//! `cargo run -p bench --release -- <measure> [--quick] [--out DIR]`
//!
//! Measures: `all` (default), `parse`, `latency`, `resend`, `gap`, `load`, `fpga`; plus the
//! detailed tables of the codec's and hwsim's own modules: `framing`, `fastpath` (printed only).
//!
//! A run writes `bench/results/<UTC timestamp>/`: `report.md`, one `.hgrm` file per latency
//! series (HdrHistogram percentile distribution, microseconds) and one SVG percentile plot per
//! latency measure. See docs/benchmarks.md.

mod fastpath;
mod fpga;
mod framing;
mod gap;
mod latency;
mod load;
mod load16;
mod parse;
mod probe;
#[cfg(feature = "peers")]
mod qf;
mod report;
mod resend;
mod sys;
mod sysinfo;
mod util;

use std::path::PathBuf;
use std::time::Instant;

const MEASURES: &str = "all, parse, latency, resend, gap, load, fpga, framing, fastpath";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut out: Option<PathBuf> = None;
    let mut what: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--out" {
            i += 1;
            match args.get(i) {
                Some(d) => out = Some(PathBuf::from(d)),
                None => {
                    eprintln!("--out needs a directory");
                    std::process::exit(2);
                }
            }
        } else if a == "--help" || a == "-h" {
            println!("usage: bench [{MEASURES}] [--quick] [--out DIR]");
            return;
        } else if !a.starts_with("--") {
            what = Some(a);
        } else if a != "--quick" {
            eprintln!("unknown option {a:?}; usage: bench [{MEASURES}] [--quick] [--out DIR]");
            std::process::exit(2);
        }
        i += 1;
    }
    let what = what.unwrap_or("all");
    match what {
        "framing" => return framing::run(quick),
        "fastpath" => return fastpath::run(quick),
        "all" | "parse" | "latency" | "resend" | "gap" | "load" | "fpga" => {}
        _ => {
            eprintln!("unknown measure {what:?}; measures: {MEASURES}");
            std::process::exit(2);
        }
    }
    let root = out.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"));
    let name = report::utc_stamp();
    let mut run = match report::Run::create(&root, &name) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot create {}: {e}", root.join(&name).display());
            std::process::exit(1);
        }
    };
    let start = Instant::now();
    let progress = |s: &str| util::progress(start, s);
    progress(&format!(
        "bench {what}{}: writing {}",
        if quick { " --quick" } else { "" },
        run.dir.display()
    ));
    let load_before = sysinfo::loadavg();
    run.md(&format!("# fixeng benchmark report: {name}\n"));
    run.md(&format!(
        "Command: `cargo run -p bench --release{} -- {what}{}`{}.\n",
        features(),
        if quick { " --quick" } else { "" },
        if quick {
            " (quick: smoke-run sizes, figures not representative)"
        } else {
            ""
        }
    ));
    run.md(&sysinfo::summary());
    let all = what == "all";
    if all || what == "parse" {
        parse::run(&mut run, quick, &progress);
    }
    if all || what == "latency" {
        latency::run(&mut run, quick, &progress);
    }
    if all || what == "resend" {
        resend::run(&mut run, quick, &progress);
    }
    if all || what == "gap" {
        gap::run(&mut run, quick, &progress);
    }
    if all || what == "load" {
        load::run(&mut run, quick, &progress);
    }
    if all || what == "fpga" {
        fpga::run(&mut run, quick, &progress);
    }
    run.md(&format!(
        "\n---\nLoad average (1/5/15 min) at start: {}; at end: {}. Run took {:.0} s.\n",
        load_before,
        sysinfo::loadavg(),
        start.elapsed().as_secs_f64()
    ));
    let md = run.md.clone();
    run.write("report.md", &md);
    progress(&format!(
        "done: {} ({} files: {})",
        run.dir.display(),
        run.files.len(),
        run.files.join(", ")
    ));
}

/// The optional peers this binary was built with, as a cargo `--features` argument.
fn features() -> String {
    let mut f = Vec::new();
    if cfg!(feature = "fefix") {
        f.push("fefix");
    }
    if cfg!(feature = "peers") {
        f.push("peers");
    }
    if f.is_empty() {
        String::new()
    } else {
        format!(" --features {}", f.join(","))
    }
}

/// Measure 2's rows from the DPDK engineer's `scripts/bench-dpdk.sh` (engine <-> engine over
/// DPDK memif, and the raw memif ping-pong floor): run when it exists, the process is root and
/// this is not a `--quick` run (it builds fixeng with the `dpdk` feature and needs the EAL);
/// otherwise one row saying why not. Rows are markdown in measure 2's column layout.
pub fn memif_rows(quick: bool) -> Vec<String> {
    let name = "fixeng <-> fixeng over DPDK memif (scripts/bench-dpdk.sh)";
    let missing = |why: &str| {
        vec![format!(
            "| {name} | engine | not measured: {why} | | | | | | | |"
        )]
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("scripts/bench-dpdk.sh");
    if !script.exists() {
        return missing(
            "the engine<->engine memif benchmark (scripts/bench-dpdk.sh) has not landed",
        );
    }
    if quick {
        return missing("--quick does not run the DPDK benchmark");
    }
    // Root check: the effective uid in /proc/self/status.
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        });
    if euid.as_deref() != Some("0") {
        return missing("needs root (DPDK EAL)");
    }
    let out = std::env::temp_dir().join(format!("fixbench-dpdk-{}", std::process::id()));
    let res = std::process::Command::new("timeout")
        .arg("600")
        .arg(&script)
        .args(["5000", "500"])
        .arg(&out)
        .current_dir(&root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_dir_all(&out);
    let text = match res {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            return missing(&format!(
                "scripts/bench-dpdk.sh failed ({}), run it by hand",
                o.status
            ))
        }
        Err(e) => return missing(&format!("cannot run scripts/bench-dpdk.sh: {e}")),
    };
    let rows = parse_dpdk_rows(&text);
    if rows.is_empty() {
        return missing("scripts/bench-dpdk.sh printed no memif row");
    }
    rows
}

/// Picks the memif rows out of `memif_rtt`'s table (`| path | p50 | p90 | p99 | p99.9 | max |
/// samples |`, microseconds) and lays them out as measure 2's rows (no ratio: a different run).
pub fn parse_dpdk_rows(text: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for l in text.lines() {
        let c: Vec<&str> = l
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if c.len() != 7 || !c[0].contains("memif") || c[1].parse::<f64>().is_err() {
            continue;
        }
        let role = if c[0].contains("FIX engine") {
            "engine"
        } else if c[0].starts_with("raw DPDK") {
            "limit (DPDK)"
        } else {
            "reference"
        };
        rows.push(format!(
            "| {} (scripts/bench-dpdk.sh, its own run) | {role} | {} | {} | {} | {} | {} | {} | - | - |",
            c[0], c[6], c[1], c[2], c[3], c[4], c[5]
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpdk_rows_are_picked_from_the_table() {
        let t = "machine: 2 CPUs\n| path | p50 | p90 | p99 | p99.9 | max | samples |\n|---|---:|---:|---:|---:|---:|---:|\n| raw DPDK memif ping-pong (64 B frame) | 0.7 | 0.9 | 1.5 | 3.0 | 20.1 | 20000 |\n| smoltcp over memif ping-pong (200 B) | 5.7 | 19.1 | 108.6 | 280.3 | 355.0 | 20000 |\n| FIX engine <-> engine, DPDK memif + smoltcp | 9.5 | 11.0 | 15.2 | 40.0 | 90.3 | 20000 |\n| FIX engine <-> engine, io_uring loopback (kernel TCP) | 20.0 | 22.0 | 30.0 | 50.0 | 99.0 | 20000 |\n";
        let r = parse_dpdk_rows(t);
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(
            r[0].contains("| limit (DPDK) | 20000 | 0.7 | 0.9 | 1.5 | 3.0 | 20.1 |"),
            "{}",
            r[0]
        );
        assert!(r[1].contains("| reference | 20000 | 5.7 |"), "{}", r[1]);
        assert!(r[2].contains("| engine | 20000 | 9.5 |"), "{}", r[2]);
        assert!(parse_dpdk_rows("| path | p50 |\n").is_empty());
    }
}
