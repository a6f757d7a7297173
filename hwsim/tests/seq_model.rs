//! SeqState against a literal transcription of section 4 (window as a bit vector that is
//! shifted, exactly as the text says) on random message sequences.

use hwsim::contract::reason;
use hwsim::frame::Framed;
use hwsim::seq::SeqState;
use hwsim::{Flags, Kind, Verdict};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Section 4 word for word: `h[i]` means seq `e + i` is held; "shift down" moves the vector.
struct Model {
    e: u32,
    h: Vec<bool>,
}

impl Model {
    fn advance(&mut self, x: u32) {
        let d = (x - self.e) as usize;
        for _ in 0..d.min(self.h.len()) {
            self.h.remove(0);
            self.h.push(false);
        }
        self.e = x;
        while self.h[0] {
            self.h.remove(0);
            self.h.push(false);
            self.e += 1;
        }
    }

    fn classify(&mut self, f: &Framed) -> (Kind, u8, u32) {
        let w = self.h.len() as u64;
        if f.garbled != 0 {
            return (Kind::Garbled, f.garbled, self.e);
        }
        if f.seq_status != 0 {
            return (Kind::InvalidSeq, f.seq_status, self.e);
        }
        let s = f.seq;
        let n = f.new_seq_no;
        let has_n = f.flags & Flags::HAS_NEW_SEQ_NO != 0;
        let gf = f.flags & Flags::GAP_FILL != 0;
        let admin = f.flags & Flags::ADMIN != 0;
        let (four, logon) = (
            admin && f.msg_type[0] == b'4',
            admin && f.msg_type[0] == b'A',
        );
        let r = if logon && f.flags & Flags::RESET_SEQ_NUM != 0 {
            self.h.iter_mut().for_each(|b| *b = false);
            self.e = s;
            self.advance(s + 1);
            (Kind::InOrder, 0)
        } else if four && !gf {
            if !has_n {
                (Kind::Reset, reason::NEW_SEQ_NO_MISSING)
            } else if n < self.e {
                (Kind::Reset, reason::NEW_SEQ_NO_LOWER)
            } else if n == self.e {
                (Kind::Reset, reason::NEW_SEQ_NO_EQUAL)
            } else {
                self.advance(n);
                (Kind::Reset, 0)
            }
        } else if s < self.e {
            if f.flags & Flags::POSS_DUP != 0 {
                (Kind::Duplicate, 0)
            } else {
                (Kind::TooLow, 0)
            }
        } else if s == self.e && four {
            if !has_n {
                self.advance(s + 1);
                (Kind::GapFill, reason::NEW_SEQ_NO_MISSING)
            } else if n <= s {
                self.advance(s + 1);
                (Kind::GapFill, reason::NEW_SEQ_NO_NOT_GREATER)
            } else {
                self.advance(n);
                (Kind::GapFill, 0)
            }
        } else if s == self.e {
            self.advance(s + 1);
            (Kind::InOrder, 0)
        } else if u64::from(s) < u64::from(self.e) + w {
            let i = (s - self.e) as usize;
            if self.h[i] {
                (Kind::Duplicate, 0)
            } else {
                self.h[i] = true;
                if four && has_n && n > s {
                    let top = (u64::from(n)).min(u64::from(self.e) + w);
                    for q in u64::from(s) + 1..top {
                        self.h[(q - u64::from(self.e)) as usize] = true;
                    }
                }
                (Kind::Gap, 0)
            }
        } else {
            (Kind::BeyondWindow, 0)
        };
        (r.0, r.1, self.e)
    }
}

fn random_framed(rng: &mut SmallRng, e: u32, w: u32) -> Framed {
    let mut f = Framed {
        offset: rng.gen_range(0..1 << 42),
        length: rng.gen_range(20..4096),
        ..Framed::default()
    };
    if rng.gen_bool(0.03) {
        f.garbled = rng.gen_range(1..=9);
        return f;
    }
    let near = |rng: &mut SmallRng| -> u32 {
        let d: i64 = match rng.gen_range(0..10) {
            0 => rng.gen_range(-20..0),
            1 => i64::from(w) + rng.gen_range(-3..3),
            2 => rng.gen_range(0..i64::from(w) * 2),
            _ => rng.gen_range(0..6),
        };
        (i64::from(e) + d).clamp(1, 0x7FFF_FFFF) as u32
    };
    f.seq = near(rng);
    if rng.gen_bool(0.03) {
        f.seq = 0;
        f.seq_status = rng.gen_range(1..=2);
    }
    let mt: &[u8] = match rng.gen_range(0..10) {
        0..=2 => b"4",
        3 => b"A",
        4 => b"0",
        _ => b"D",
    };
    f.msg_type[..mt.len()].copy_from_slice(mt);
    if mt != b"D" {
        f.flags |= Flags::ADMIN;
    }
    for bit in [Flags::POSS_DUP, Flags::GAP_FILL, Flags::RESET_SEQ_NUM] {
        if rng.gen_bool(0.3) {
            f.flags |= bit;
        }
    }
    if rng.gen_bool(0.8) {
        f.flags |= Flags::HAS_NEW_SEQ_NO;
        f.new_seq_no = near(rng);
    }
    f
}

#[test]
fn seq_state_matches_the_literal_model() {
    let iters = if std::env::var_os("FIXENG_LONG").is_some() {
        400
    } else {
        40
    };
    for seed in 0..iters {
        let mut rng = SmallRng::seed_from_u64(seed);
        let w = [256u32, 512][rng.gen_range(0..2)];
        let mut s = SeqState::new(w);
        let mut m = Model {
            e: 1,
            h: vec![false; w as usize],
        };
        if rng.gen_bool(0.3) {
            let e = rng.gen_range(1..0x7FFF_FF00);
            s.set_expected(e);
            m.e = e;
        }
        for i in 0..2000 {
            let f = random_framed(&mut rng, m.e, w);
            let before = m.e;
            let (k, r, after) = m.classify(&f);
            let v: Verdict = s.classify(9, &f);
            assert_eq!(
                (v.kind(), v.reason, v.expected_before, v.expected_after),
                (Some(k), r, before, after),
                "seed {seed} step {i}: {f:?}"
            );
            if i % 16 != 0 {
                continue;
            }
            for d in 1..w {
                let q = u64::from(m.e) + u64::from(d);
                if q <= u64::from(u32::MAX) {
                    assert_eq!(
                        s.is_held(q as u32),
                        m.h[d as usize],
                        "seed {seed} step {i} seq {q}"
                    );
                }
            }
            assert_eq!(s.held_count() as usize, m.h.iter().filter(|&&b| b).count());
        }
    }
}
