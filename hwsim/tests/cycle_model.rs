//! Timing rules of the cycle model (docs/sequencer.md section 6) that the RTL is co-simulated
//! against: reset sweep, tready rule, CSR write ordering, verdict latency.

use hwsim::cycle::{csr, Config, CycleModel, PinsIn, SequencerSim};
use hwsim::gen::build_message;
use hwsim::{Kind, Verdict};

fn idle() -> PinsIn {
    PinsIn {
        m_tready: true,
        ..PinsIn::default()
    }
}

fn beat(session: u16, bytes: &[u8]) -> PinsIn {
    let mut w = [0u8; 8];
    w[..bytes.len()].copy_from_slice(bytes);
    PinsIn {
        s_tdata: u64::from_le_bytes(w),
        s_tkeep: ((1u16 << bytes.len()) - 1) as u8,
        s_tvalid: true,
        s_tuser: session,
        m_tready: true,
        ..PinsIn::default()
    }
}

fn ready_model() -> CycleModel {
    let mut m = CycleModel::new(Config::default());
    m.reset();
    for i in 0..64 {
        assert!(!m.tick(&idle()).s_tready, "sweep cycle {i}: not ready");
    }
    assert!(m.tick(&idle()).s_tready);
    m
}

#[test]
fn reset_sweep_lasts_sessions_cycles() {
    let _ = ready_model();
}

#[test]
fn verdict_two_cycles_after_the_last_beat() {
    let mut m = ready_model();
    let msg = build_message(b"0", &[(34, b"1")]);
    let beats: Vec<&[u8]> = msg.chunks(8).collect();
    let mut seen = Vec::new();
    let mut cycle = 0u64;
    let mut last_beat = 0;
    for b in &beats {
        let o = m.tick(&beat(0, b));
        assert!(o.s_tready);
        last_beat = cycle;
        cycle += 1;
    }
    for _ in 0..5 {
        let o = m.tick(&idle());
        if o.m_tvalid {
            seen.push((cycle, Verdict::from_words(o.m_tdata)));
        }
        cycle += 1;
    }
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, last_beat + 2);
    assert_eq!(seen[0].1.kind(), Some(Kind::InOrder));
}

#[test]
fn tready_drops_when_the_queue_passes_depth_minus_eight() {
    let mut m = ready_model();
    // "8=FIX" repeated: a GARBLED message every 5 bytes; the verdict output is blocked.
    let junk = b"8=FIX".repeat(40);
    let mut blocked = PinsIn::default();
    let mut accepted = 0;
    for b in junk.chunks(8) {
        blocked = beat(1, b);
        blocked.m_tready = false;
        if !m.tick(&blocked).s_tready {
            break;
        }
        accepted += 1;
        assert!(m.queued() <= 16);
    }
    assert!(
        m.queued() > 8,
        "tready low only with more than FQ_DEPTH-8 queued"
    );
    assert!(accepted < 25, "the blocked output stopped the input");
    // Releasing the output lets it go again.
    blocked.m_tready = true;
    let mut resumed = false;
    for _ in 0..20 {
        if m.tick(&blocked).s_tready {
            resumed = true;
            break;
        }
    }
    assert!(resumed);
}

#[test]
fn csr_write_waits_for_an_empty_queue_and_blocks_the_input() {
    let mut m = ready_model();
    let msg = build_message(b"D", &[(34, b"1")]);
    for b in msg.chunks(8) {
        m.tick(&beat(2, b));
    }
    let w = PinsIn {
        csr_valid: true,
        csr_we: true,
        csr_addr: csr::addr(2, csr::EXPECTED),
        csr_wdata: 50,
        m_tready: true,
        ..beat(2, b"8=FIX")
    };
    let o = m.tick(&w);
    assert!(!o.s_tready, "a pending write blocks the input");
    assert!(!o.csr_ready, "the message of the last beat is still queued");
    let o = m.tick(&w);
    assert!(o.csr_ready, "queue empty: write accepted");
    assert_eq!(m.seq_state(2).expected(), 50);
    // A read returns the state before its edge, one cycle later.
    let r = PinsIn {
        csr_valid: true,
        csr_addr: csr::addr(2, csr::MSGS),
        ..idle()
    };
    assert!(m.tick(&r).csr_ready);
    let o = m.tick(&idle());
    assert!(o.csr_rvalid);
    assert_eq!(o.csr_rdata, 1);
}
