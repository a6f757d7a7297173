//! Timing helpers shared by the measures.

use std::time::{Duration, Instant};

/// This thread's on-CPU time in ns, if the kernel exposes it.
pub fn cpu_ns() -> Option<u64> {
    crate::sys::thread_cpu_ns()
}

/// One timed run: on-CPU time (wall time where schedstat is unavailable) and wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timing {
    /// This thread's on-CPU time.
    pub cpu: Duration,
    /// Wall-clock time.
    pub wall: Duration,
}

/// Times `f`.
pub fn timed<R>(f: impl FnOnce() -> R) -> (Timing, R) {
    let c0 = cpu_ns();
    let t0 = Instant::now();
    let r = f();
    let wall = t0.elapsed();
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => Duration::from_nanos(b - a),
        _ => wall,
    };
    (Timing { cpu, wall }, r)
}

/// Median (by on-CPU time) and best of `v` (not empty).
pub fn median_best(mut v: Vec<Timing>) -> (Timing, Timing) {
    assert!(!v.is_empty());
    v.sort();
    (v[v.len() / 2], v[0])
}

/// Median of `v` (not empty).
pub fn median_f64(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints a progress line to stderr with the elapsed time of the run.
pub fn progress(start: Instant, what: &str) {
    eprintln!("[{:>6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// Length of the complete FIX message at the start of `rest`, using BeginString and BodyLength
/// only; `None` when it is incomplete or malformed.
pub fn message_len(rest: &[u8]) -> Option<usize> {
    let p = memchr::memmem::find(rest, b"\x019=")?;
    let len_start = p + 3;
    let q = memchr::memchr(1, &rest[len_start..])?;
    let body_len = std::str::from_utf8(&rest[len_start..len_start + q])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())?;
    let end = len_start + q + 1 + body_len + 7;
    (end <= rest.len()).then_some(end)
}

/// Splits a stream of valid FIX messages into message slices, using BeginString and BodyLength
/// only (set-up for peers that need one message at a time). Stops at the first malformed one.
pub fn cut_messages(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(end) = message_len(&stream[at..]) {
        out.push(&stream[at..at + end]);
        at += end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_matches_generator() {
        let (stream, n) = hwsim::gen::valid_stream(7, 64 << 10, 150, 350);
        let msgs = cut_messages(&stream);
        assert_eq!(msgs.len() as u64, n);
        assert_eq!(msgs.iter().map(|m| m.len()).sum::<usize>(), stream.len());
        for m in &msgs {
            assert!(m.starts_with(b"8=FIX.4.4\x01"));
            assert!(m.ends_with(b"\x01"));
            assert_eq!(&m[m.len() - 7..m.len() - 4], b"10=");
        }
    }

    #[test]
    fn cut_stops_at_garbage() {
        let mut s = hwsim::gen::build_message(b"0", &[(49, b"A"), (56, b"B"), (34, b"1")]);
        s.extend_from_slice(b"8=FIX.4.4\x019=zz\x01");
        assert_eq!(cut_messages(&s).len(), 1);
    }

    #[test]
    fn timing_orders_by_cpu() {
        let (a, _) = timed(|| std::hint::black_box((0..10_000u64).sum::<u64>()));
        let (m, b) = median_best(vec![a, a, a]);
        assert_eq!(m, a);
        assert_eq!(b, a);
        assert_eq!(median_f64(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
