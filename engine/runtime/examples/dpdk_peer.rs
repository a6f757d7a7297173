//! One FIX engine process for `Transport=dpdk` tests and benchmarks (see `fixeng::dpdk::peer`):
//!
//! ```text
//! dpdk_peer --config FILE --app echo|load [--orders N] [--expect N] [--window W] [--warmup W]
//!           [--faults] [--restart-at K] [--hgrm FILE] [--timeout SECS]
//! ```
//!
//! Prints `OK ...` (exit 0) or `FAIL ...` (exit 1).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(fixeng::dpdk::peer::main_with(&args));
}
