//! One pass of `FastPath::process` over a seeded stream of valid 150–350-byte messages, for
//! instruction counting under callgrind (the bench's `fastpath` measure is too long for it):
//!
//! ```text
//! cargo build --release -p hwsim --example fast_profile
//! valgrind --tool=callgrind --toggle-collect='fast_profile::pass' \
//!     target/release/examples/fast_profile [MiB=4] [chunk=65536] [portable|sse2|avx2]
//! ```
//!
//! Instructions per message = callgrind's "Collected" / the printed message count.
//!
//! A fourth argument `N` times `N` passes (after a warm-up pass) and prints the best and
//! median rate per second of on-CPU time (`/proc/thread-self/schedstat`, else wall time); the
//! bench's `fastpath` measure is the reference figure, this is for quick comparisons.

use hwsim::fast::{FastPath, Kernel};
use hwsim::Kind;

/// The measured part: one pass over `stream` in `chunk`-byte pieces; returns the record count.
#[inline(never)]
fn pass(fp: &mut FastPath, stream: &[u8], chunk: usize) -> u64 {
    let mut seen = 0u64;
    let mut bad = 0u64;
    for c in stream.chunks(chunk) {
        fp.process(0, c, |v, b| {
            seen += 1;
            bad += u64::from(v.kind != Kind::InOrder as u8);
            std::hint::black_box(b);
        });
    }
    assert_eq!(bad, 0, "non-IN_ORDER records on a valid stream");
    seen
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(4);
    let chunk: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(65536);
    let kernel = match args.get(2).map(String::as_str) {
        Some("portable") => Kernel::Portable,
        Some("sse2") => Kernel::Sse2,
        Some("avx2") => Kernel::Avx2,
        _ => Kernel::best(),
    };
    let timed_passes: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(0);
    let (stream, msgs) = hwsim::gen::valid_stream(42, mib << 20, 150, 350);
    let mut fp = FastPath::with_kernel(1, 256, 4096, kernel);
    let seen = pass(&mut fp, &stream, chunk.max(1));
    assert_eq!(seen, msgs, "record count");
    println!(
        "kernel {:?}, {} bytes, chunk {chunk}: {msgs} messages",
        fp.kernel(),
        stream.len()
    );
    if timed_passes == 0 {
        return;
    }
    // Each timed pass repeats the stream until it covers at least 256 MiB, so it lasts longer
    // than the on-CPU clock's tick.
    let reps = (256usize << 20).div_ceil(stream.len()).max(1);
    let mut ns: Vec<u64> = (0..timed_passes)
        .map(|_| {
            let t = (cpu_ns(), std::time::Instant::now());
            for _ in 0..reps {
                fp.reset_stream(0);
                fp.set_expected(0, 1);
                assert_eq!(pass(&mut fp, &stream, chunk.max(1)), msgs, "record count");
            }
            match (t.0, cpu_ns()) {
                (Some(a), Some(b)) if b > a => b - a,
                _ => t.1.elapsed().as_nanos() as u64,
            }
        })
        .collect();
    ns.sort_unstable();
    let bytes = (stream.len() * reps) as f64;
    let n = (msgs as usize * reps) as f64;
    for (what, t) in [("best", ns[0]), ("median", ns[ns.len() / 2])] {
        println!(
            "{what}: {:.2} GB/s, {:.2} M msgs/s, {:.1} ns/msg",
            bytes / t as f64,
            n / t as f64 * 1e3,
            t as f64 / n
        );
    }
}

/// This thread's on-CPU time in ns, if the kernel exposes it.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}
