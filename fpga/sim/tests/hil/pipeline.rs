//! Hardware in the loop: the engine end to end with the verilated RTL as the sequencer of both
//! sides. Two runtime pipelines (IO, sequencer, session and application agents) talk over the
//! in-memory link with drops, a duplicate without PossDup (logout and reconnect), reorders, a
//! cut and random losses; every order and every report must arrive exactly once and in order.
//! Also through the card seam: each side's sequencer is a `CardSequencer` over a map file, and
//! a card emulation thread runs the RTL behind the command and verdict rings.
//!
//! Without the `verilator` feature both run on the cycle model through its pins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::seq_link::{assert_exactly_once_in_order, run_over_memory_link};
use hwsim::card::CardEmulator;
use hwsim::cycle::Config;

const ORDERS: u32 = 400;

fn want_name() -> &'static str {
    if fpga_sim::HAVE_RTL {
        "rtl"
    } else {
        "model"
    }
}

#[test]
fn rtl_sequencer_end_to_end_with_faults() {
    let r = run_over_memory_link(
        ORDERS,
        &mut |_, w, m| fpga_sim::hil_sequencer(w, m).expect("HIL sequencer"),
        Duration::from_secs(120),
    );
    assert_eq!(r.sequencers, (want_name(), want_name()));
    assert_exactly_once_in_order(&r, ORDERS);
    println!("hil pipeline ({}): {r:?}", want_name());
}

#[cfg(feature = "verilator")]
fn card_sim() -> fpga_sim::Rtl {
    fpga_sim::Rtl::new()
}

#[cfg(not(feature = "verilator"))]
fn card_sim() -> hwsim::cycle::CycleModel {
    hwsim::cycle::CycleModel::new(Config::default())
}

#[test]
fn rtl_behind_the_card_seam_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut paths = Vec::new();
    for side in ["acceptor", "initiator"] {
        let path = dir.path().join(side);
        let mut emu =
            CardEmulator::create(&path, card_sim(), Config::default(), 8, 16).expect("card map");
        let s = stop.clone();
        threads.push(std::thread::spawn(move || {
            emu.run(&s).map(|()| (emu.commands, emu.driver().cycles()))
        }));
        paths.push(path);
    }
    let mut k = 0;
    let r = run_over_memory_link(
        ORDERS,
        &mut |_, w, m| {
            let spec = format!("card:{}", paths[k].display());
            k += 1;
            fixeng::seqsel::from_spec(&spec, w, m).expect("card")
        },
        Duration::from_secs(120),
    );
    stop.store(true, Ordering::Release);
    let work: Vec<(u64, u64)> = threads
        .into_iter()
        .map(|t| t.join().expect("card thread").expect("card emulation"))
        .collect();
    assert_eq!(r.sequencers, ("card", "card"));
    assert_exactly_once_in_order(&r, ORDERS);
    assert!(
        work.iter().all(|&(c, _)| c > 10),
        "both cards worked: {work:?}"
    );
    println!(
        "hil card ({}): {r:?}; card commands and cycles {work:?}",
        want_name()
    );
}
