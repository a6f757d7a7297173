//! The card seam end to end: the co-simulated sequencer's verdict stream is written by a card
//! emulation into a mapped ring file (hwsim::card::RingWriter, m_axis_tready = ring not full),
//! and the engine side (hwsim::card::RingReader) reads it back from its own mapping of the
//! file, slower than the card writes, so the ring fills and back-pressure reaches the input.

use std::cell::RefCell;
use std::rc::Rc;

use fpga_sim::{new_dut, Bench, DriveOpts, Dut, VerdictSink};
use hwsim::card::{RingReader, RingWriter};
use hwsim::cycle::Config;
use hwsim::frame::FrameState;
use hwsim::gen::{GenConfig, Traffic};
use hwsim::seq::SeqState;
use hwsim::Verdict;

struct Card {
    ring: RingWriter,
    reader: RingReader,
    host: Rc<RefCell<Vec<Verdict>>>,
    tick: u64,
}

impl VerdictSink for Card {
    fn ready(&mut self) -> bool {
        // The host polls every 64th cycle, 2 records at a time: slower than the card.
        self.tick += 1;
        if self.tick.is_multiple_of(64) {
            let mut buf = [Verdict::default(); 2];
            let n = self.reader.poll(&mut buf).expect("ring readable");
            self.host.borrow_mut().extend_from_slice(&buf[..n]);
        }
        self.ring.free() > 0
    }
    fn accept(&mut self, _cycle: u64, v: &Verdict) {
        assert!(self.ring.push(v), "ready said there was room");
    }
}

#[test]
fn verdicts_through_the_card_ring_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bar0.bin");
    let cfg = Config::default();
    let ring = RingWriter::create(&path, 4, cfg.params_reg()).expect("create ring");
    let reader = RingReader::open(&path).expect("map ring");
    assert_eq!(reader.params(), cfg.params_reg());
    let host = Rc::new(RefCell::new(Vec::new()));
    let mut b: Bench<Dut> = Bench::new(new_dut(), DriveOpts::default()).expect("reset");
    b.set_sink(Box::new(Card {
        ring,
        reader,
        host: host.clone(),
        tick: 0,
    }));
    let t = Traffic::new(
        11,
        GenConfig {
            sessions: 8,
            events: 1500,
            ..GenConfig::default()
        },
    );
    let mut fr = vec![FrameState::new(); 64];
    let mut sq: Vec<SeqState> = (0..64).map(|_| SeqState::new(256)).collect();
    let mut want = Vec::new();
    for (s, c) in t.chunk_slices() {
        b.chunk(s, c).expect("chunk");
        for &x in c {
            if let Some(f) = fr[usize::from(s)].step(x, cfg.max_msg) {
                want.push(sq[usize::from(s)].classify(s, &f));
            }
        }
    }
    // Drain: keep ticking until the host has everything.
    for _ in 0..200_000 {
        if host.borrow().len() == want.len() {
            break;
        }
        b.run(&[fpga_sim::Op::Idle(1)]).expect("idle");
    }
    let got = host.borrow();
    assert_eq!(got.len(), want.len(), "every verdict reached the host");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {i}");
    }
    assert!(b.stalls > 0, "a slow host back-pressures the payload input");
}
