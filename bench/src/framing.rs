//! Framing throughput: `fixcodec::Framer` (framing + full validation: BeginString, BodyLength,
//! MsgType, CheckSum, interrupt scan) over a seeded stream of 150–350-byte NewOrderSingle and
//! ExecutionReport messages, beside memchr's SOH count over the same buffer.
//!
//! Full run: 64 MiB, median of 5 passes. `--quick`: 4 MiB, 1 pass.

use fixcodec::{ByteFramer, Frame, Framer, Message};
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Nanoseconds of CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID`), if available. On a
/// shared machine this excludes time spent waiting for a core, which wall time does not.
#[cfg(target_os = "linux")]
fn cpu_ns() -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `clock_gettime` is the C library's (std links it on Linux); `ts` is a valid,
    // writable `struct timespec` (two 64-bit fields on 64-bit Linux) for the call's duration.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0 && cfg!(target_pointer_width = "64"))
        .then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn cpu_ns() -> Option<u64> {
    None
}

/// Runs `f` `passes` times; returns (median wall seconds, median on-CPU seconds, last result).
fn measure(passes: usize, mut f: impl FnMut() -> usize) -> (f64, f64, usize) {
    let mut wall = Vec::with_capacity(passes);
    let mut cpu = Vec::with_capacity(passes);
    let mut r = 0;
    for _ in 0..passes {
        let c = cpu_ns();
        let t = Instant::now();
        r = black_box(f());
        let w = t.elapsed().as_secs_f64();
        wall.push(w);
        cpu.push(match (c, cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => w,
        });
    }
    (median(wall), median(cpu), r)
}

fn frame_chunks(f: &mut Framer, bytes: &[u8], chunk: usize) -> usize {
    f.reset();
    let mut n = 0usize;
    for c in bytes.chunks(chunk) {
        f.feed(c, |fr| {
            if let Frame::Message { bytes, .. } = fr {
                black_box(bytes);
                n += 1;
            }
        });
    }
    n
}

/// Prints the framing table.
pub fn run(quick: bool) {
    let size = if quick { 4 << 20 } else { 64 << 20 };
    let passes = if quick { 1 } else { 5 };
    let flow = fixcodec::testgen::order_flow(0x5EED, size);
    let bytes = &flow.bytes[..];
    let msgs = flow.messages.len();
    let avg = bytes.len() as f64 / msgs as f64;
    println!(
        "framing: {:.1} MiB, {} messages (avg {:.0} B), median of {} pass(es)",
        bytes.len() as f64 / (1 << 20) as f64,
        msgs,
        avg,
        passes
    );
    println!(
        "{:<44} {:>9} {:>10} {:>9} {:>12}",
        "measure (medians; wall clock, then on-CPU)", "GB/s", "Mmsg/s", "ns/msg", "CPU GB/s"
    );
    let row = |name: &str, (secs, cpu, count): (f64, f64, usize)| {
        let gbs = bytes.len() as f64 / secs / 1e9;
        let mps = msgs as f64 / secs / 1e6;
        let ns = secs * 1e9 / msgs as f64;
        let cgbs = bytes.len() as f64 / cpu / 1e9;
        println!("{name:<44} {gbs:>9.2} {mps:>10.2} {ns:>9.1} {cgbs:>12.2}   (count {count})");
    };

    row(
        "memchr SOH count (baseline)",
        measure(passes, || memchr::memchr_iter(fixcodec::SOH, bytes).count()),
    );

    let mut f = Framer::new(4096);
    for (name, chunk) in [
        ("Framer, whole buffer in one feed", bytes.len()),
        ("Framer, 64 KiB chunks", 64 << 10),
        ("Framer, 1460-byte chunks (TCP MSS)", 1460),
        ("Framer, 256-byte chunks", 256),
    ] {
        let r = measure(passes, || frame_chunks(&mut f, bytes, chunk));
        assert_eq!(r.2, msgs, "{name}: framer lost messages");
        row(name, r);
    }

    // The same framer on a 1 MiB prefix fed 64 times: the stream stays in cache, so this shows
    // the framer's own cost without DRAM bandwidth (shared with other processes here).
    let small = &bytes[..flow.messages[flow.messages.partition_point(|m| m.end <= 1 << 20)].start];
    let small_msgs = flow.messages.partition_point(|m| m.end <= small.len());
    let r = measure(passes, || {
        let mut n = 0;
        for _ in 0..64 {
            n += frame_chunks(&mut f, small, small.len());
        }
        n
    });
    assert_eq!(r.2, 64 * small_msgs);
    let scale = bytes.len() as f64 / (64 * small.len()) as f64;
    row(
        "Framer, 1 MiB in cache, x64, one feed",
        (r.0 * scale, r.1 * scale, r.2),
    );

    let r = measure(passes, || {
        f.reset();
        let mut sum = 0u64;
        f.feed(bytes, |fr| {
            if let Frame::Message { bytes, .. } = fr {
                let m = Message::new_unchecked(bytes);
                sum += u64::from(m.get_u32(34).ok().flatten().unwrap_or(0));
                sum += u64::from(m.msg_type()[0]);
            }
        });
        sum as usize
    });
    row("Framer + MsgType + MsgSeqNum(34) lookup", r);

    let slice = &bytes[..bytes.len().min(8 << 20)];
    let (_, t, n) = measure(1, || {
        let mut r = ByteFramer::new(4096);
        slice.iter().filter(|&&b| r.push(b).is_some()).count()
    });
    let gbs = slice.len() as f64 / t / 1e9;
    println!(
        "{:<44} {:>9} {:>10} {:>9} {:>12.2}   (count {}, first {} MiB only)",
        "ByteFramer (byte-serial reference)",
        "-",
        "-",
        "-",
        gbs,
        n,
        slice.len() >> 20
    );
}
