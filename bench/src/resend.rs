//! Measure 4: resend rate from the store. A `fixsession::Session` with a
//! `fixsession::store::MmapStore` has sent (and journaled) 100 000 ExecutionReports; the peer's
//! ResendRequest for the last N of them goes through the FastPath sequencer into
//! `Session::on_verdict`, which streams them again (PossDupFlag=Y, OrigSendingTime) to the
//! output. Timed: from handing the ResendRequest's bytes to the sequencer to the last resent
//! message handed to the output (a counting sink). The limit is the store alone: reading the
//! same range with `MessageStore::for_each_in_range` and copying each record out.

use std::time::Instant;

use fixsession::store::{FlushPolicy, MessageStore, MmapStore, MmapStoreConfig};
use fixsession::time::format_timestamp;
use fixsession::{
    Application, DeliverInfo, DisconnectReason, Event, Responder, Role, SequencerOp, Session,
    SessionConfig, SessionOutput,
};
use hdrhistogram::Histogram;
use hwsim::fast::FastPath;

use crate::report::{histogram, ratio, Run, Series};
use crate::util::cpu_ns;

/// On-CPU ns between two readings (the wall time `wall` where unavailable), at least 1.
fn cpu_delta(a: Option<u64>, b: Option<u64>, wall: std::time::Duration) -> u64 {
    match (a, b) {
        (Some(a), Some(b)) if b >= a => (b - a).max(1),
        _ => (wall.as_nanos() as u64).max(1),
    }
}

/// Output that counts messages and stamps the time the `target`-th one was handed over.
pub struct Sink {
    /// Messages handed to the output.
    pub msgs: u64,
    /// Bytes handed to the output.
    pub bytes: u64,
    /// Count at which to stamp.
    pub target: u64,
    /// When message number `target` was handed over.
    pub at: Option<Instant>,
    /// Disconnect asked for by the session (must stay `None`).
    pub disconnect: Option<DisconnectReason>,
}

impl Sink {
    fn new() -> Sink {
        Sink {
            msgs: 0,
            bytes: 0,
            target: u64::MAX,
            at: None,
            disconnect: None,
        }
    }
}

impl SessionOutput for Sink {
    fn send_bytes(&mut self, b: &[u8]) {
        self.msgs += 1;
        self.bytes += b.len() as u64;
        if self.msgs == self.target {
            self.at = Some(Instant::now());
        }
    }
    fn sequencer(&mut self, _op: SequencerOp) {}
    fn event(&mut self, _ev: &Event<'_>) {}
    fn disconnect(&mut self, r: DisconnectReason) {
        self.disconnect = Some(r);
    }
}

/// Application that ignores everything.
pub struct Quiet;

impl Application for Quiet {
    fn on_message(&mut self, _m: &[u8], _i: &DeliverInfo, _r: &mut dyn Responder) {}
}

/// A message from PEER to ENGINE.
fn peer_msg(msg_type: &[u8], seq: u32, ts: &[u8], extra: &[(u32, &[u8])]) -> Vec<u8> {
    let s = seq.to_string();
    let mut f: Vec<(u32, &[u8])> =
        vec![(49, b"PEER"), (56, b"ENGINE"), (34, s.as_bytes()), (52, ts)];
    f.extend_from_slice(extra);
    hwsim::gen::build_message(msg_type, &f)
}

/// One range size's result.
pub struct RangeResult {
    /// Messages in the range.
    pub n: u32,
    /// Time ResendRequest -> last resent message (wall clock), ns, one sample per repetition.
    pub engine: Histogram<u64>,
    /// On-CPU time of serving the ResendRequest, ns.
    pub engine_cpu: Histogram<u64>,
    /// Store scan + copy of the same range (wall clock), ns.
    pub store: Histogram<u64>,
    /// On-CPU time of the store scan, ns.
    pub store_cpu: Histogram<u64>,
    /// Bytes resent per repetition.
    pub bytes: u64,
}

/// Measures resend of the last `n` messages for each `(n, reps)`.
pub fn measure(stored: u32, ranges: &[(u32, u32)]) -> Result<Vec<RangeResult>, String> {
    let dir = std::env::temp_dir().join(format!("fixbench-resend-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = MmapStore::open(
        &dir,
        "FIX.4.4:ENGINE->PEER",
        MmapStoreConfig {
            segment_bytes: 256 << 20,
            flush: FlushPolicy::None,
            ..MmapStoreConfig::default()
        },
    )
    .map_err(|e| format!("mmap store: {e}"))?;
    let r = measure_with(store, stored, ranges);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn measure_with(
    store: MmapStore,
    stored: u32,
    ranges: &[(u32, u32)],
) -> Result<Vec<RangeResult>, String> {
    let mut cfg = SessionConfig::new("FIX.4.4", "ENGINE", "PEER", Role::Acceptor);
    // The bench measures serving speed: no per-second cap (the default, 4 M/s, would cap the
    // repetitions, which all run at one `now`). `max_resend_range` keeps its default: a long
    // range is served in steps, continued by `on_timer`, as the session agent does.
    cfg.max_resends_per_second = 0;
    let mut fp = FastPath::new(1, cfg.window, cfg.max_message_size);
    let mut s = Session::new(cfg, store, Quiet);
    let mut out = Sink::new();
    let now = 1_700_000_000_000_000_000u64;
    let mut tsb = [0u8; 32];
    let tl = format_timestamp(now, 3, &mut tsb);
    let ts = &tsb[..tl];
    s.on_connect(now, &mut out);
    let logon = peer_msg(b"A", 1, ts, &[(98, b"0"), (108, b"30")]);
    fp.process(0, &logon, |v, b| s.on_verdict(now, v, b, &mut out));
    if !s.is_logged_on() {
        return Err("session did not log on".into());
    }
    for _ in 0..stored {
        s.send(
            now,
            b"8",
            |b| {
                b.field(37, b"O-1")
                    .field(11, b"ORD-000000001")
                    .field(17, b"E-1")
                    .field(150, b"0")
                    .field(39, b"0")
                    .field(55, b"EURUSD")
                    .field(54, b"1")
                    .field_u64(38, 1_000_000)
                    .field_u64(151, 1_000_000)
                    .field(14, b"0")
                    .field(6, b"0");
            },
            &mut out,
        )
        .map_err(|e| format!("send: {e}"))?;
    }
    let last = s.next_sender_seq() - 1;
    let mut peer_seq = 2u32;
    let mut results = Vec::new();
    let mut copy = vec![0u8; 8192];
    for &(n, reps) in ranges {
        let n = n.min(stored);
        let begin = last - n + 1;
        let (b_s, e_s) = (begin.to_string(), last.to_string());
        let mut eng = histogram();
        let mut st = histogram();
        let mut eng_cpu = histogram();
        let mut st_cpu = histogram();
        let mut bytes = 0;
        for _ in 0..reps {
            let rr = peer_msg(
                b"2",
                peer_seq,
                ts,
                &[(7, b_s.as_bytes()), (16, e_s.as_bytes())],
            );
            peer_seq += 1;
            out.msgs = 0;
            out.bytes = 0;
            out.target = u64::from(n);
            out.at = None;
            let c0 = cpu_ns();
            let t0 = Instant::now();
            fp.process(0, &rr, |v, b| s.on_verdict(now, v, b, &mut out));
            let mut steps = 0u32;
            while s.serving_resend() && steps < 1_000_000 {
                s.on_timer(now, &mut out);
                steps += 1;
            }
            let c1 = cpu_ns();
            let Some(t1) = out.at else {
                return Err(format!(
                    "resend of {n}: {} messages handed over, expected {n} (disconnect: {:?})",
                    out.msgs, out.disconnect
                ));
            };
            if out.msgs != u64::from(n) {
                return Err(format!("resend of {n}: {} messages handed over", out.msgs));
            }
            bytes = out.bytes;
            let _ = eng.record(((t1 - t0).as_nanos() as u64).max(1));
            let _ = eng_cpu.record(cpu_delta(c0, c1, t1 - t0));

            // The limit: the store alone.
            let c0 = cpu_ns();
            let t0 = Instant::now();
            let mut count = 0u32;
            s.store()
                .for_each_in_range(begin, last, &mut |_, m| {
                    let l = m.len().min(copy.len());
                    copy[..l].copy_from_slice(&m[..l]);
                    std::hint::black_box(&mut copy);
                    count += 1;
                    true
                })
                .map_err(|e| format!("store scan: {e}"))?;
            let dt = t0.elapsed();
            let _ = st_cpu.record(cpu_delta(c0, cpu_ns(), dt));
            if count != n {
                return Err(format!("store scan of {n} found {count}"));
            }
            let _ = st.record((dt.as_nanos() as u64).max(1));
        }
        results.push(RangeResult {
            n,
            engine: eng,
            engine_cpu: eng_cpu,
            store: st,
            store_cpu: st_cpu,
            bytes,
        });
    }
    Ok(results)
}

/// Runs measure 4 and appends its table.
pub fn run(run: &mut Run, quick: bool, progress: &dyn Fn(&str)) {
    let (stored, ranges): (u32, Vec<(u32, u32)>) = if quick {
        (100_000, vec![(50, 200), (1_000, 20), (100_000, 1)])
    } else {
        (100_000, vec![(50, 5_000), (1_000, 500), (100_000, 10)])
    };
    progress(&format!(
        "resend: journaling {stored} ExecutionReports, then serving ResendRequests"
    ));
    run.md("## 4. Resend from the store\n");
    run.md(
        "`fixsession::Session` (acceptor) with `MmapStore` (FlushPolicy::None) has journaled \
         100 000 ExecutionReports; a ResendRequest for the last N goes through the FastPath \
         sequencer into `Session::on_verdict`, which re-encodes each stored message \
         (PossDupFlag=Y, OrigSendingTime) in steps of `MaxResendRange` (default 1 024, each \
         continued by `Session::on_timer`, called back to back here; no per-second cap) and \
         hands it to the output (a counting sink, no \
         socket). Rates are per second of on-CPU time of serving the request (median of the \
         repetitions; the machine is shared, so wall time includes preemption by other \
         processes); wall time is from the ResendRequest bytes handed to the sequencer to the \
         last resent message handed to the output (its distribution is in the .hgrm files). \
         Limit: `for_each_in_range` over the same range copying each record out (the store \
         alone).\n",
    );
    let qf = quickfix_resend(stored, &ranges, progress);
    match measure(stored, &ranges) {
        Ok(res) => {
            run.md("| range | contender | role | reps | median on-CPU time | msgs/s (on-CPU) | MB/s (on-CPU) | median wall time | p99 wall time | engine / limit (on-CPU time) |");
            run.md("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|");
            let mut series_h = Vec::new();
            let mut qf_series: Vec<(String, Histogram<u64>)> = Vec::new();
            for r in &res {
                let med = r.engine_cpu.value_at_quantile(0.5) as f64;
                let lmed = r.store_cpu.value_at_quantile(0.5) as f64;
                let rate = f64::from(r.n) / (med / 1e9);
                let lrate = f64::from(r.n) / (lmed / 1e9);
                run.md(&format!(
                    "| {} | fixsession Session + MmapStore | engine | {} | {} | {:.0} | {:.0} | {} | {} | {} |",
                    r.n,
                    r.engine.len(),
                    fmt_ns(med),
                    rate,
                    r.bytes as f64 / (med / 1e9) / 1e6,
                    fmt_ns(r.engine.value_at_quantile(0.5) as f64),
                    fmt_ns(r.engine.value_at_quantile(0.99) as f64),
                    ratio(med, lmed)
                ));
                match qf.as_ref().map(|v| v.iter().find(|q| q.0 == r.n)) {
                    Ok(Some((_, inside, wire))) if !inside.is_empty() => {
                        let qmed = inside.value_at_quantile(0.5) as f64;
                        run.md(&format!(
                            "| {} | QuickFIX 1.16 acceptor, FileStore (poll mode) | peer | {} | - | {:.0} (wall) | - | {} | {} | peer / engine (median wall): {} (socket to socket: {}) |",
                            r.n,
                            inside.len(),
                            f64::from(r.n) / (qmed / 1e9),
                            fmt_ns(qmed),
                            fmt_ns(inside.value_at_quantile(0.99) as f64),
                            ratio(qmed, r.engine.value_at_quantile(0.5) as f64),
                            fmt_ns(wire.value_at_quantile(0.5) as f64),
                        ));
                        println!(
                            "resend {:>6} msgs: QuickFIX {:>12} median wall, {:>6.3} M msgs/s",
                            r.n,
                            fmt_ns(qmed),
                            f64::from(r.n) / (qmed / 1e9) / 1e6
                        );
                        qf_series.push((format!("QuickFIX resend {} msgs", r.n), inside.clone()));
                    }
                    Ok(_) => run.md(&format!(
                        "| {} | QuickFIX C++ | peer | - | not measured: no sample for this range | | | | | |",
                        r.n
                    )),
                    Err(e) => run.md(&format!(
                        "| {} | QuickFIX C++ | peer | - | not measured: {} | | | | | |",
                        r.n,
                        e.replace('|', "/")
                    )),
                }
                run.md(&format!(
                    "| {} | MmapStore scan + copy | limit | {} | {} | {:.0} | - | {} | {} | - |",
                    r.n,
                    r.store.len(),
                    fmt_ns(lmed),
                    lrate,
                    fmt_ns(r.store.value_at_quantile(0.5) as f64),
                    fmt_ns(r.store.value_at_quantile(0.99) as f64),
                ));
                println!(
                    "resend {:>6} msgs: {:>12} median on-CPU, {:>6.2} M msgs/s (store alone {:>6.2} M msgs/s)",
                    r.n,
                    fmt_ns(med),
                    rate / 1e6,
                    lrate / 1e6
                );
                series_h.push((format!("resend {} msgs", r.n), &r.engine));
            }
            if let Some(big) = res.iter().max_by_key(|r| r.n) {
                let rate = f64::from(big.n) / (big.engine_cpu.value_at_quantile(0.5) as f64 / 1e9);
                run.md(&format!(
                    "\nGoal >= 2 M msgs/s resend ({} messages, on-CPU): {:.2} M msgs/s: {}.\n",
                    big.n,
                    rate / 1e6,
                    if rate >= 2e6 { "met" } else { "not met" }
                ));
            }
            let mut series: Vec<Series<'_>> = series_h
                .iter()
                .map(|(l, h)| Series {
                    label: l.clone(),
                    hist: h,
                })
                .collect();
            series.extend(qf_series.iter().map(|(l, h)| Series {
                label: l.clone(),
                hist: h,
            }));
            let files = run.latency_files(
                "resend",
                "ResendRequest -> last resent message (us)",
                &series,
            );
            run.md(&format!("\nFiles: {}\n", files.join(", ")));
        }
        Err(e) => run.md(&format!("Not measured: {e}\n")),
    }
}

/// QuickFIX serving the same ResendRequests (feature `peers`): per range, the time inside
/// QuickFIX and at the client socket (ns), or why it was not measured.
#[allow(clippy::type_complexity)]
fn quickfix_resend(
    stored: u32,
    ranges: &[(u32, u32)],
    progress: &dyn Fn(&str),
) -> Result<Vec<(u32, Histogram<u64>, Histogram<u64>)>, String> {
    #[cfg(feature = "peers")]
    {
        // QuickFIX resends at about 0.1 M msgs/s: fewer repetitions keep the run short.
        let qranges: Vec<(u32, u32)> = ranges
            .iter()
            .map(|&(n, reps)| {
                let cap = match n {
                    0..=99 => 200,
                    100..=9_999 => 50,
                    _ => 2,
                };
                (n, reps.min(cap))
            })
            .collect();
        progress(&format!(
            "resend: QuickFIX acceptor sends {stored} ExecutionReports, then serves ResendRequests"
        ));
        crate::qf::resend(stored, &qranges)
            .map(|v| v.into_iter().map(|r| (r.n, r.inside, r.wire)).collect())
    }
    #[cfg(not(feature = "peers"))]
    {
        let _ = (stored, ranges, progress);
        Err("built without the `peers` feature (scripts/bench.sh enables it)".into())
    }
}

/// `ns` as text in a readable unit.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resend_serves_every_message() {
        let r = measure(300, &[(50, 3), (300, 1)]).expect("resend");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].n, 50);
        assert_eq!(r[0].engine.len(), 3);
        assert_eq!(r[1].store.len(), 1);
        // Every resent message carries PossDupFlag and OrigSendingTime: longer than stored.
        assert!(r[0].bytes > 50 * 150, "{}", r[0].bytes);
    }

    #[test]
    fn ns_units() {
        assert_eq!(fmt_ns(12.0), "12 ns");
        assert_eq!(fmt_ns(1_500.0), "1.50 us");
        assert_eq!(fmt_ns(2_500_000.0), "2.500 ms");
    }
}
