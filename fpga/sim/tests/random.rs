//! Random co-simulation: hostile multi-session traffic from `hwsim::gen` (gaps, duplicates,
//! resends, gap fills, resets, logons, invalid seqs, garbled and truncated messages, junk),
//! random idle beats, random verdict back-pressure and CSR operations, on [`fpga_sim::Dut`]
//! (model and RTL in lockstep with `--features verilator`: every cycle compared). Every verdict
//! is also compared, record by record, with the untimed reference (hwsim::frame + hwsim::seq).
//!
//! Size: `FPGA_COSIM_MSGS` messages (default 20 000; 1 000 000 with `FIXENG_LONG=1`).
//! `FPGA_COSIM_SEED` picks the seed (default 1). On a mismatch the report and a VCD of the
//! last cycles before it are written to `target/cosim-fail/`.

use std::time::Instant;

use fpga_sim::{fail_dir, new_dut, write_failure, Bench, BenchError, DriveOpts, Dut};
use hwsim::cycle::csr;
use hwsim::frame::FrameState;
use hwsim::gen::{GenConfig, Traffic};
use hwsim::seq::SeqState;
use hwsim::Verdict;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SESSIONS: u16 = 64;
const MAX_MSG: u32 = 4096;
const WINDOW: u32 = 256;

struct Stats {
    msgs: u64,
    cycles: u64,
    beats: u64,
    stalls: u64,
    bytes: u64,
}

/// The untimed reference for one batch.
struct Reference {
    fr: Vec<FrameState>,
    sq: Vec<SeqState>,
    out: Vec<Verdict>,
}

impl Reference {
    fn new() -> Reference {
        Reference {
            fr: vec![FrameState::new(); usize::from(SESSIONS)],
            sq: (0..SESSIONS).map(|_| SeqState::new(WINDOW)).collect(),
            out: Vec::new(),
        }
    }
    fn chunk(&mut self, s: u16, bytes: &[u8]) {
        for &b in bytes {
            if let Some(f) = self.fr[usize::from(s)].step(b, MAX_MSG) {
                self.out.push(self.sq[usize::from(s)].classify(s, &f));
            }
        }
    }
}

fn run_random(seed: u64, target: u64, trace_from: Option<u64>) -> Result<Stats, BenchError> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED);
    let opts = DriveOpts {
        seed,
        idle_pct: 10,
        backpressure_pct: 15,
        keep_verdicts: true,
        // Bursts of a blocked verdict output: the frame queue fills and s_axis_tready drops.
        burst_per_mille: 2,
        burst_max: 300,
    };
    let mut b: Bench<Dut> = Bench::new(new_dut(), opts)?;
    if let Some(c) = trace_from {
        b.trace_at(c, fail_dir().join(format!("random-seed{seed}.vcd")));
    }
    let mut bytes = 0u64;
    let mut batch = 0u64;
    while b.verdict_count < target {
        let mut reference = Reference::new();
        // Every session back to a fresh stream and E = 1 (the generator restarts at seq 1).
        for s in 0..u32::from(SESSIONS) {
            b.csr(true, csr::addr(s, csr::EXPECTED), 1)?;
            b.csr(
                true,
                csr::addr(s, csr::CONTROL),
                csr::RESET_STREAM | csr::CLEAR_WINDOW,
            )?;
        }
        let events = (target - b.verdict_count).clamp(200, 20_000) as usize;
        let t = Traffic::new(
            seed.wrapping_mul(1_000_003).wrapping_add(batch),
            GenConfig {
                sessions: SESSIONS,
                events,
                max_chunk: 300,
                fault_rate: 0.3,
                max_msg: MAX_MSG as usize,
                window: WINDOW,
            },
        );
        for (s, chunk) in t.chunk_slices() {
            b.chunk(s, chunk)?;
            reference.chunk(s, chunk);
            bytes += chunk.len() as u64;
            match rng.gen_range(0..400) {
                0 => {
                    let r = rng.gen_range(0..8);
                    b.csr(false, csr::addr(rng.gen_range(0..64), r), 0)?;
                }
                1 => {
                    // Clear a window mid-stream (model and RTL must agree on its effect).
                    let s = rng.gen_range(0..SESSIONS);
                    b.csr(
                        true,
                        csr::addr(u32::from(s), csr::CONTROL),
                        csr::CLEAR_WINDOW,
                    )?;
                    reference.sq[usize::from(s)].clear_window();
                }
                _ => {}
            }
        }
        b.drain()?;
        assert_eq!(
            b.verdicts.len(),
            reference.out.len(),
            "seed {seed} batch {batch}: verdict count vs untimed reference"
        );
        for (i, ((_, got), want)) in b.verdicts.iter().zip(&reference.out).enumerate() {
            assert_eq!(got, want, "seed {seed} batch {batch} verdict {i}");
        }
        b.verdicts.clear();
        b.beat_cycles.clear();
        batch += 1;
    }
    b.sim_trace_close();
    Ok(Stats {
        msgs: b.verdict_count,
        cycles: b.cycle,
        beats: b.beats,
        stalls: b.stalls,
        bytes,
    })
}

trait CloseTrace {
    fn sim_trace_close(&mut self);
}

impl CloseTrace for Bench<Dut> {
    fn sim_trace_close(&mut self) {
        fpga_sim::Sim::trace_close(&mut self.sim);
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn random_traffic_cosim() {
    let long = std::env::var("FIXENG_LONG").is_ok_and(|v| v == "1");
    let target = env_u64("FPGA_COSIM_MSGS").unwrap_or(if long { 1_000_000 } else { 20_000 });
    let seed = env_u64("FPGA_COSIM_SEED").unwrap_or(1);
    if !fpga_sim::HAVE_RTL {
        eprintln!(
            "note: RTL not built; random traffic runs on the cycle model only \
             (cargo test -p fpga-sim --features verilator to co-simulate)"
        );
    }
    let t0 = Instant::now();
    match run_random(seed, target, None) {
        Ok(s) => {
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "random cosim (rtl={}): seed {seed}: {} messages, {} bytes, {} cycles, {} beats, \
                 {} stalled beat-cycles, {:.2} bytes/cycle, {:.1} s, {:.0} cycles/s",
                fpga_sim::HAVE_RTL,
                s.msgs,
                s.bytes,
                s.cycles,
                s.beats,
                s.stalls,
                s.bytes as f64 / s.cycles as f64,
                secs,
                s.cycles as f64 / secs
            );
            assert!(s.msgs >= target);
        }
        Err(BenchError::Mismatch(m)) => {
            let report = write_failure(
                &format!("random-seed{seed}"),
                &m,
                &format!(
                    "reproduce: FPGA_COSIM_SEED={seed} FPGA_COSIM_MSGS={target} \
                     cargo test -p fpga-sim --features verilator --release --test random"
                ),
            );
            // Replay with a waveform of the last 2000 cycles before the mismatch.
            let _ = run_random(seed, target, Some(m.cycle.saturating_sub(2000)));
            panic!(
                "{m}\nreport: {}\nwaveform: {}",
                report.display(),
                fail_dir().join(format!("random-seed{seed}.vcd")).display()
            );
        }
        Err(e) => panic!("seed {seed}: {e}"),
    }
}
