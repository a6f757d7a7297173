//! HdrHistogram's percentile-distribution text, the `.hgrm` format that HdrHistogram's plotter
//! (<https://hdrhistogram.github.io/HdrHistogram/plotFiles.html>) and most latency tooling read.
//!
//! The Rust `hdrhistogram` crate records and serialises histograms but has no text writer; every
//! `.hgrm` this workspace writes (the benchmark reports, `fixeng`'s DPDK load run, fixdpdk's memif
//! ping-pong) goes through [`hgrm`], so they all have the same layout.

#![forbid(unsafe_code)]

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Percentile ticks per half-distance, as in Java's default `outputPercentileDistribution(out, 5, r)`.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The percentile distribution of `h` (values recorded in ns, say), printed in `unit_ratio`
/// units (`1e3` prints microseconds), exactly as Java's
/// `Histogram.outputPercentileDistribution(out, 5, unitRatio)` prints it: a header, one row per
/// percentile tick (value, percentile, cumulative count, `1/(1-percentile)`; the last row, at
/// percentile 1, without the last column), then the mean, standard deviation, maximum, count and
/// bucket layout. Values have as many decimals as `h` has significant digits.
pub fn hgrm(h: &Histogram<u64>, unit_ratio: f64) -> String {
    let d = usize::from(h.sigfig());
    let mut s = String::new();
    let _ = write!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        let mut total = 0u64;
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / unit_ratio;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    s,
                    "{:>12.d$} {:>2.12} {:>10} {:>14.2}",
                    value,
                    q,
                    total,
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(s, "{:>12.d$} {:>2.12} {:>10}", value, q, total);
            }
        }
        (
            h.mean() / unit_ratio,
            h.stdev() / unit_ratio,
            h.max() as f64 / unit_ratio,
        )
    };
    let _ = writeln!(
        s,
        "#[Mean    = {:>12.d$}, StdDeviation   = {:>12.d$}]",
        mean, stdev
    );
    let _ = writeln!(
        s,
        "#[Max     = {:>12.d$}, Total count    = {:>12}]",
        max,
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    );
    s
}

/// HdrHistogram's sub-bucket count for `sigfig` significant digits: the power of two at or above
/// `2 * 10^sigfig` (2048 for 3 digits), as Java computes it.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(sigfig: u8) -> Histogram<u64> {
        Histogram::new_with_bounds(1, 100_000_000_000, sigfig).unwrap()
    }

    #[test]
    fn java_layout() {
        let mut h = hist(3);
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let t = hgrm(&h, 1e3);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        // First row: the minimum at percentile 0.
        assert!(
            lines[2].starts_with("       1.000 0.000000000000 "),
            "{}",
            lines[2]
        );
        // Last data row: percentile 1.0, no 1/(1-p) column, full count.
        let last = lines[lines.len() - 4];
        let cols: Vec<&str> = last.split_whitespace().collect();
        assert_eq!(cols.len(), 3, "{last}");
        // Values print as the top of their bucket, as Java prints them.
        let top = h.highest_equivalent(1_000_000) as f64 / 1e3;
        assert_eq!(cols[0], format!("{top:.3}"));
        assert_eq!(cols[1], "1.000000000000");
        assert_eq!(cols[2], "1000");
        assert!(lines[lines.len() - 3].starts_with("#[Mean    =      500."));
        assert!(lines[lines.len() - 2].contains("Total count    =         1000]"));
        assert!(lines[lines.len() - 1].contains("SubBuckets     =         2048]"));
        // Counts never decrease; the percentile column is in [0, 1] and never decreases.
        let (mut prev_c, mut prev_q) = (0u64, 0f64);
        for l in &lines[2..lines.len() - 3] {
            let mut cols = l.split_whitespace();
            let q: f64 = cols.nth(1).unwrap().parse().unwrap();
            let c: u64 = cols.next().unwrap().parse().unwrap();
            assert!(c >= prev_c && (prev_q..=1.0).contains(&q), "{l}");
            (prev_c, prev_q) = (c, q);
        }
    }

    #[test]
    fn decimals_and_sub_buckets_follow_the_histograms_digits() {
        let mut h = hist(2);
        h.record(1_234_567).unwrap();
        let t = hgrm(&h, 1e3);
        // Two digits: two decimals, and 1 234 567 ns sits in the bucket topped by 1 236.99 µs.
        assert!(
            t.lines().nth(2).unwrap().starts_with("     1236.99 "),
            "{t}"
        );
        assert!(t.ends_with("SubBuckets     =          256]\n"), "{t}");
        assert_eq!(sub_buckets(3), 2048);
        assert_eq!(sub_buckets(5), 262_144);
    }

    #[test]
    fn empty_histogram_has_no_rows() {
        let t = hgrm(&hist(3), 1e3);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert_eq!(
            lines[2],
            "#[Mean    =        0.000, StdDeviation   =        0.000]"
        );
        assert_eq!(
            lines[3],
            "#[Max     =        0.000, Total count    =            0]"
        );
    }
}
