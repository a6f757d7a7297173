//! `cargo run -p bench --release -- <measure> [--quick] [--out DIR]`
//!
//! Measures: `all` (default), `parse`, `latency`, `resend`, `gap`, `load`, `fpga`; plus the
//! detailed tables of the codec's and hwsim's own modules: `framing`, `fastpath` (printed only).
//!
//! A run writes `bench/results/<UTC timestamp>/`: `report.md`, one `.hgrm` file per latency
//! series (HdrHistogram percentile distribution, microseconds) and one SVG percentile plot per
//! latency measure. See docs/benchmarks.md.

mod fastpath;
mod framing;
mod gap;
mod latency;
mod load;
mod parse;
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
        "Command: `cargo run -p bench --release -- {what}{}`{}.\n",
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
        load::fpga(&mut run, &progress);
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
