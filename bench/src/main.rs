//! `cargo run -p bench --release -- <measure> [--quick]`
//!
//! Each measure lives in its own module and prints its own table.

mod fastpath;
mod framing;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let what = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
        .unwrap_or("all");
    let run_all = what == "all";
    let mut ran = false;
    if run_all || what == "framing" {
        framing::run(quick);
        ran = true;
    }
    if run_all || what == "fastpath" {
        fastpath::run(quick);
        ran = true;
    }
    if !ran {
        eprintln!("unknown measure {what:?}; measures: all, framing, fastpath");
        std::process::exit(2);
    }
}
