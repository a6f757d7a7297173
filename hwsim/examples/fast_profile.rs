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
    let (stream, msgs) = hwsim::gen::valid_stream(42, mib << 20, 150, 350);
    let mut fp = FastPath::with_kernel(1, 256, 4096, kernel);
    let seen = pass(&mut fp, &stream, chunk.max(1));
    assert_eq!(seen, msgs, "record count");
    println!(
        "kernel {:?}, {} bytes, chunk {chunk}: {msgs} messages",
        fp.kernel(),
        stream.len()
    );
}
