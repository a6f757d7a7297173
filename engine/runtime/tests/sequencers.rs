//! The engine end to end on each sequencer `fixeng::seqsel` offers: two pipelines over the
//! in-memory link with drops, a duplicate, reorders and a cut deliver every order and every
//! report exactly once and in order whether the sequencer is the fast path, the cycle model
//! driven through its pins (`model`), or a card (`card:<path>`) — here a card emulation on its
//! own thread running the cycle model behind the memory-mapped command and verdict rings.
//! The same run with the verilated RTL is `fpga/sim/tests/hil/pipeline.rs`.

#[path = "support/seq_link.rs"]
mod seq_link;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fixeng::seqsel::{block_config, from_spec};
use hwsim::card::CardEmulator;
use hwsim::cycle::CycleModel;
use seq_link::{assert_exactly_once_in_order, run_over_memory_link};

const ORDERS: u32 = 400;

#[test]
fn fast_path_end_to_end_with_faults() {
    let r = run_over_memory_link(
        ORDERS,
        &mut |_, w, m| from_spec("fast", w, m).expect("fast"),
        Duration::from_secs(60),
    );
    assert_eq!(r.sequencers, ("fast", "fast"));
    assert_exactly_once_in_order(&r, ORDERS);
}

#[test]
fn cycle_model_end_to_end_with_faults() {
    let r = run_over_memory_link(
        ORDERS,
        &mut |_, w, m| from_spec("model", w, m).expect("model"),
        Duration::from_secs(60),
    );
    assert_eq!(r.sequencers, ("model", "model"));
    assert_exactly_once_in_order(&r, ORDERS);
    println!("model: {r:?}");
}

/// A card emulation thread per side, serving a map file in a temp dir.
struct Cards {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Result<u64, String>>>,
    _dir: tempfile::TempDir,
    paths: Vec<std::path::PathBuf>,
}

impl Cards {
    fn start(n: usize, window: u32, max_msg: usize) -> Cards {
        let dir = tempfile::tempdir().expect("tempdir");
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut paths = Vec::new();
        for k in 0..n {
            let path = dir.path().join(format!("card{k}"));
            let cfg = block_config(window, max_msg);
            let mut emu =
                CardEmulator::create(&path, CycleModel::new(cfg), cfg, 8, 16).expect("card map");
            let s = stop.clone();
            threads.push(std::thread::spawn(move || {
                emu.run(&s).map(|()| emu.commands)
            }));
            paths.push(path);
        }
        Cards {
            stop,
            threads,
            _dir: dir,
            paths,
        }
    }

    fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Release);
        self.threads
            .into_iter()
            .map(|t| t.join().expect("card thread").expect("card emulation"))
            .collect()
    }
}

#[test]
fn card_end_to_end_with_faults() {
    let cards = Cards::start(2, 256, 4096);
    let mut next = 0;
    let paths = cards.paths.clone();
    let r = run_over_memory_link(
        ORDERS,
        &mut |_, w, m| {
            let spec = format!("card:{}", paths[next].display());
            next += 1;
            from_spec(&spec, w, m).expect("card")
        },
        Duration::from_secs(90),
    );
    let commands = cards.stop();
    assert_eq!(r.sequencers, ("card", "card"));
    assert_exactly_once_in_order(&r, ORDERS);
    assert!(
        commands.iter().all(|&c| c > 10),
        "both cards worked: {commands:?}"
    );
    println!("card: {r:?}, commands {commands:?}");
}

#[test]
fn a_card_that_stops_answering_stops_the_sequencer_agent() {
    use fixeng::connect::MemoryConnector;
    use fixeng::pipeline::{pipeline_with_sequencer, RingSizes};
    use fixeng::transport::memory::MemoryTransport;
    use fixeng::Transport;
    use fixsession::store::MemoryStore;
    use fixsession::{Role, SessionConfig};
    use hwsim::card::RingWriter;
    use hwsim::sequencer::CardSequencer;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dead-card");
    // A card map with nothing behind it.
    let _map = RingWriter::create_with_cmd(&path, 4, 14, block_config(256, 4096).params_reg())
        .expect("map");
    let mut card = CardSequencer::open(&path, 1, 4096).expect("open");
    card.set_timeout(Duration::from_millis(20));
    let (a, mut b) = MemoryTransport::pair(1 << 16);
    let cfg = SessionConfig::new("FIX.4.4", "EXCHANGE", "CLIENT", Role::Acceptor);
    let mut p = pipeline_with_sequencer(
        "acceptor",
        cfg,
        MemoryConnector::new(vec![a]),
        MemoryStore::new(),
        fixeng::apps::EchoApp::new(),
        RingSizes::default(),
        Box::new(card),
    );
    let logon = hwsim::gen::build_message(b"A", &[(34, b"1"), (49, b"CLIENT"), (56, b"EXCHANGE")]);
    let clock = fixeng::clock::Clock::new();
    let t0 = std::time::Instant::now();
    let mut sent = false;
    while p.seq.failure().is_none() {
        p.step(clock.now());
        if !sent && p.session.is_connected() {
            assert_eq!(b.send_bytes(&logon), logon.len());
            sent = true;
        }
        b.poll(clock.now());
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no failure reported"
        );
    }
    let f = p.seq.failure().expect("failed").to_string();
    assert!(f.contains("did not complete"), "{f}");
    assert_eq!(p.seq.stats.verdicts, 0);
    // It takes no more input.
    let before = p.seq.stats.bytes;
    assert_eq!(b.send_bytes(&logon), logon.len());
    for _ in 0..10 {
        p.step(clock.now());
    }
    assert_eq!(
        p.seq.stats.bytes, before,
        "a failed sequencer consumes nothing"
    );
}
