//! Store measurements (not a test of timing: it prints figures). Run in release:
//! `cargo test --release -p fixsession --test store_bench -- --ignored --nocapture`

use std::time::Instant;

use fixsession::store::{FlushPolicy, MessageStore, MmapStore, MmapStoreConfig};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn append_run(flush: FlushPolicy, n: u32, label: &str, prefault: bool) {
    let d =
        tempfile::tempdir_in(std::env::var("FIXENG_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .unwrap();
    let cfg = MmapStoreConfig {
        segment_bytes: 256 << 20,
        flush,
        max_message: 4096,
    };
    let mut s = MmapStore::open(d.path(), "FIX.4.4:BENCH->PEER", cfg).unwrap();
    let msg = [b'x'; 200];
    let mut lat = Vec::with_capacity(n as usize);
    let t0 = Instant::now();
    let mut idle = std::time::Duration::ZERO;
    for seq in 1..=n {
        if prefault && seq % 16 == 0 {
            // What the runtime's idle loop would do between messages (not timed).
            let t = Instant::now();
            s.prefault(64 << 10);
            idle += t.elapsed();
        }
        let t = Instant::now();
        s.append(seq, &msg).unwrap();
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let total = t0.elapsed() - idle;
    lat.sort_unstable();
    let suffix = if prefault {
        " + prefault(64 KiB) every 16"
    } else {
        ""
    };
    println!(
        "append 200 B, {label}{suffix}: {n} appends, mean {:.0} ns (incl. timer), p50 {} ns, \
         p99 {} ns, p99.9 {} ns, max {} ns",
        total.as_nanos() as f64 / f64::from(n),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        lat[lat.len() - 1]
    );
    if flush == FlushPolicy::None && !prefault {
        let t = Instant::now();
        for i in 0..n {
            s.set_next_target_seq(i + 1).unwrap();
        }
        println!(
            "set_next_target_seq, {label}: mean {:.0} ns",
            t.elapsed().as_nanos() as f64 / f64::from(n)
        );
        // Resend of 100 000 messages straight from the map.
        let t = Instant::now();
        let mut bytes = 0usize;
        s.for_each_in_range(1, 100_000, &mut |_, m| {
            bytes += m.len();
            true
        })
        .unwrap();
        let el = t.elapsed();
        println!(
            "for_each_in_range 100000 x 200 B: {:.2} ms ({:.0} ns/message, {:.2} GB/s)",
            el.as_secs_f64() * 1e3,
            el.as_nanos() as f64 / 100_000.0,
            bytes as f64 / el.as_secs_f64() / 1e9
        );
        drop(s);
        let t = Instant::now();
        let s = MmapStore::open(d.path(), "FIX.4.4:BENCH->PEER", cfg).unwrap();
        println!(
            "reopen (validate + index) of {} messages: {:.1} ms",
            s.last_stored_seq(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn store_figures() {
    println!(
        "store directory: {} (FIXENG_BENCH_DIR)",
        std::env::var("FIXENG_BENCH_DIR").unwrap_or_else(|_| "/tmp".into())
    );
    append_run(FlushPolicy::None, 1_000_000, "FlushPolicy::None", false);
    append_run(FlushPolicy::None, 1_000_000, "FlushPolicy::None", true);
    append_run(
        FlushPolicy::Batched { every_messages: 64 },
        100_000,
        "FlushPolicy::Batched(64)",
        false,
    );
    append_run(
        FlushPolicy::EveryMessage,
        5_000,
        "FlushPolicy::EveryMessage",
        false,
    );
}

/// Segment rollover: 200-byte appends into 4 MiB segments (about 19 400 per segment).
fn rollover_run(housekeeping: bool) {
    let d =
        tempfile::tempdir_in(std::env::var("FIXENG_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
            .unwrap();
    let cfg = MmapStoreConfig {
        segment_bytes: 4 << 20,
        flush: FlushPolicy::None,
        max_message: 4096,
    };
    let mut s = MmapStore::open(d.path(), "FIX.4.4:BENCH->PEER", cfg).unwrap();
    let msg = [b'x'; 200];
    let n = 400_000u32;
    let mut lat = Vec::with_capacity(n as usize);
    for seq in 1..=n {
        if housekeeping && seq % 16 == 0 {
            s.housekeeping(64 << 10).unwrap();
        }
        let segs = s.segment_count();
        let t = Instant::now();
        s.append(seq, &msg).unwrap();
        let el = t.elapsed().as_nanos() as u64;
        if s.segment_count() != segs {
            lat.push(el);
        }
    }
    lat.sort_unstable();
    println!(
        "rollover{}: {} rollovers in {n} appends to 4 MiB segments: the rolling append took p50 {} ns, max {} ns",
        if housekeeping { " with housekeeping(64 KiB) every 16 appends" } else { "" },
        lat.len(),
        percentile(&lat, 0.5),
        lat[lat.len() - 1]
    );
}

#[test]
#[ignore = "measurement; run with --release --ignored --nocapture"]
fn rollover_figures() {
    rollover_run(false);
    rollover_run(true);
}
