//! SPSC record rings between agents, over rtrb's lock-free byte ring.
//!
//! A record is an 8-byte header (`u32` payload length, `u16` kind, `u16` aux) and its payload,
//! padded to 8 bytes. A record is always contiguous in memory: when it would wrap around the end
//! of the ring, the producer fills the tail with a skip record and writes it at the start. So the
//! consumer always sees a record as one `&[u8]`, with no copy.
//!
//! A full ring is back-pressure: [`RecordProducer::push`] returns false and writes nothing, and
//! the producer retries later. No allocation after [`record_ring`].

const HDR: usize = 8;
const KIND_SKIP: u16 = u16::MAX;

/// Bytes a record with `payload` bytes occupies in the ring.
pub const fn record_size(payload: usize) -> usize {
    HDR + ((payload + 7) & !7)
}

/// Creates a ring of `capacity` bytes (rounded up to a multiple of 8).
pub fn record_ring(capacity: usize) -> (RecordProducer, RecordConsumer) {
    let cap = (capacity.max(64) + 7) & !7;
    let (p, c) = rtrb::RingBuffer::new(cap);
    (RecordProducer { p, cap }, RecordConsumer { c, skips: 0 })
}

/// The writing end.
pub struct RecordProducer {
    p: rtrb::Producer<u8>,
    cap: usize,
}

fn write_hdr(dst: &mut [u8], len: usize, kind: u16, aux: u16) {
    dst[..4].copy_from_slice(&(len as u32).to_le_bytes());
    dst[4..6].copy_from_slice(&kind.to_le_bytes());
    dst[6..8].copy_from_slice(&aux.to_le_bytes());
}

impl RecordProducer {
    /// Ring capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Free bytes (a record of `n` payload bytes needs [`record_size`]`(n)`, plus up to the
    /// record size again when it has to skip the ring's tail).
    pub fn free(&self) -> usize {
        self.p.slots()
    }

    /// True if a record of `payload` bytes is guaranteed to fit now (worst case: a skip).
    pub fn fits(&self, payload: usize) -> bool {
        self.p.slots() >= 2 * record_size(payload)
    }

    /// True when the consumer is gone.
    pub fn is_abandoned(&self) -> bool {
        self.p.is_abandoned()
    }

    /// Appends one record whose payload is the concatenation of `parts`. All or nothing: false
    /// (nothing written) when it does not fit.
    pub fn push(&mut self, kind: u16, aux: u16, parts: &[&[u8]]) -> bool {
        debug_assert!(kind != KIND_SKIP);
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let total = record_size(len);
        if total > self.cap {
            return false;
        }
        let tail_room = {
            let Ok(mut chunk) = self.p.write_chunk(total.min(self.p.slots())) else {
                return false;
            };
            let (a, _) = chunk.as_mut_slices();
            let room = a.len();
            // Dropping the chunk without commit writes nothing.
            room
        };
        if self.p.slots() < total {
            return false;
        }
        if tail_room >= total {
            let Ok(mut chunk) = self.p.write_chunk(total) else {
                return false;
            };
            let (a, _) = chunk.as_mut_slices();
            Self::fill(a, kind, aux, len, parts);
            chunk.commit_all();
        } else {
            // Skip the tail (a multiple of 8, at least 8 since indices are 8-aligned).
            let Ok(mut chunk) = self.p.write_chunk(tail_room + total) else {
                return false;
            };
            let (a, b) = chunk.as_mut_slices();
            if a.len() != tail_room || b.len() < total {
                return false;
            }
            write_hdr(a, tail_room - HDR, KIND_SKIP, 0);
            Self::fill(&mut b[..total], kind, aux, len, parts);
            chunk.commit_all();
        }
        true
    }

    fn fill(dst: &mut [u8], kind: u16, aux: u16, len: usize, parts: &[&[u8]]) {
        write_hdr(dst, len, kind, aux);
        let mut o = HDR;
        for p in parts {
            dst[o..o + p.len()].copy_from_slice(p);
            o += p.len();
        }
    }
}

/// The reading end.
pub struct RecordConsumer {
    c: rtrb::Consumer<u8>,
    skips: u64,
}

impl RecordConsumer {
    /// True when nothing is readable.
    pub fn is_empty(&self) -> bool {
        self.c.slots() < HDR
    }

    /// True when the producer is gone.
    pub fn is_abandoned(&self) -> bool {
        self.c.is_abandoned()
    }

    /// Skip records passed over so far (each is one wrap of the ring).
    pub fn skips(&self) -> u64 {
        self.skips
    }

    /// Lends the next record to `f(kind, aux, payload)`; the record is consumed only if `f`
    /// returns true (false leaves it for a later call: back-pressure downstream). Returns
    /// `None` when the ring is empty, else `Some(consumed)`.
    pub fn peek(&mut self, f: impl FnOnce(u16, u16, &[u8]) -> bool) -> Option<bool> {
        loop {
            let n = self.c.slots();
            if n < HDR {
                return None;
            }
            let chunk = self.c.read_chunk(n).ok()?;
            let (a, _) = chunk.as_slices();
            let len = u32::from_le_bytes([a[0], a[1], a[2], a[3]]) as usize;
            let kind = u16::from_le_bytes([a[4], a[5]]);
            let aux = u16::from_le_bytes([a[6], a[7]]);
            let total = record_size(len);
            if kind == KIND_SKIP {
                chunk.commit(HDR + len);
                self.skips += 1;
                continue;
            }
            let consumed = f(kind, aux, &a[HDR..HDR + len]);
            if consumed {
                chunk.commit(total);
            }
            return Some(consumed);
        }
    }

    /// Pops the next record into `f` unconditionally.
    pub fn pop(&mut self, f: impl FnOnce(u16, u16, &[u8])) -> bool {
        self.peek(|k, a, p| {
            f(k, a, p);
            true
        })
        .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_across_wraps_in_order() {
        let (mut p, mut c) = record_ring(256);
        let mut next_in = 0u32;
        let mut next_out = 0u32;
        // Fewer rounds under miri (`scripts/ci/miri.sh`): still dozens of wraps of the 256-byte ring.
        let rounds = if cfg!(miri) { 200 } else { 2000u32 };
        for round in 0..rounds {
            // Variable sizes force wraps and skips.
            let len = (round * 37 % 90) as usize;
            let payload: Vec<u8> = (0..len).map(|i| (i as u32 + next_in) as u8).collect();
            while !p.push(
                1,
                (next_in % 65535) as u16,
                &[&next_in.to_le_bytes(), &payload],
            ) {
                // Full: consume one.
                assert!(c.pop(|k, aux, d| {
                    assert_eq!(k, 1);
                    let v = u32::from_le_bytes(d[..4].try_into().unwrap());
                    assert_eq!(v, next_out, "in order, none lost");
                    assert_eq!(aux, (v % 65535) as u16);
                    for (i, &b) in d[4..].iter().enumerate() {
                        assert_eq!(b, (i as u32 + v) as u8);
                    }
                    next_out += 1;
                }));
            }
            next_in += 1;
        }
        while c.pop(|_, _, d| {
            assert_eq!(u32::from_le_bytes(d[..4].try_into().unwrap()), next_out);
            next_out += 1;
        }) {}
        assert_eq!(next_out, next_in);
    }

    #[test]
    fn peek_false_keeps_the_record_and_oversize_is_refused() {
        let (mut p, mut c) = record_ring(64);
        assert!(!p.push(2, 0, &[&[0u8; 100]]), "larger than the ring");
        assert!(p.push(2, 7, &[b"abc"]));
        assert_eq!(c.peek(|_, _, _| false), Some(false));
        assert_eq!(
            c.peek(|k, a, d| k == 2 && a == 7 && d == b"abc"),
            Some(true)
        );
        assert_eq!(c.peek(|_, _, _| true), None);
    }

    // Producer and consumer on two threads, as the agents use the ring: every record arrives
    // once, in order, intact, across wraps and skips. Under miri (`scripts/ci/miri.sh`) this also
    // checks the ring's unsafe code (rtrb) for data races and undefined behaviour.
    #[test]
    fn two_threads_deliver_every_record_once_in_order() {
        let n: u32 = if cfg!(miri) { 300 } else { 5_000 };
        let (mut p, mut c) = record_ring(512);
        let producer = std::thread::spawn(move || {
            for i in 0..n {
                let len = (i * 13 % 61) as usize;
                let payload: Vec<u8> = (0..len).map(|k| (k as u32 ^ i) as u8).collect();
                while !p.push(3, (i % 65_000) as u16, &[&i.to_le_bytes(), &payload]) {
                    std::thread::yield_now();
                }
            }
        });
        let mut next = 0u32;
        while next < n {
            let got = c.pop(|k, aux, d| {
                assert_eq!(k, 3);
                let i = u32::from_le_bytes(d[..4].try_into().unwrap());
                assert_eq!(i, next, "in order, none lost or repeated");
                assert_eq!(aux, (i % 65_000) as u16);
                assert_eq!(d.len(), 4 + (i * 13 % 61) as usize);
                for (k, &b) in d[4..].iter().enumerate() {
                    assert_eq!(b, (k as u32 ^ i) as u8);
                }
                next += 1;
            });
            if !got {
                std::thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert!(c.is_empty());
        assert!(c.skips() > 0, "the test must wrap the ring");
    }
}
