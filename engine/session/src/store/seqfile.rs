//! The sequence-number file: the next sender and target MsgSeqNums and the journal epoch, in two
//! alternating 64-byte slots with a generation counter and a CRC-32C each, so that a write torn
//! by a crash leaves the other slot (the previous state) intact and the torn one detectably bad.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::crc::crc32c;
use super::sys;
use super::StoreError;

/// Length of the file (one page; only the first two slots are used).
pub(crate) const FILE_LEN: u64 = 4096;
const SLOT: usize = 64;
const SLOT_MAGIC: u32 = 0x5153_5846; // "FXSQ" little-endian
const CRC_AT: usize = 60;

/// The state kept in a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeqState {
    /// Next MsgSeqNum we send (as last set explicitly; the journal may be ahead of it).
    pub sender: u32,
    /// Next MsgSeqNum we expect.
    pub target: u32,
    /// Journal segments numbered below this belong to before the last reset.
    pub epoch_first_segment: u64,
}

impl SeqState {
    pub(crate) const FRESH: SeqState = SeqState {
        sender: 1,
        target: 1,
        epoch_first_segment: 1,
    };
}

enum Slot {
    Empty,
    Valid(u64, SeqState),
    Bad(&'static str),
}

fn parse_slot(b: &[u8]) -> Slot {
    if b.iter().all(|&x| x == 0) {
        return Slot::Empty;
    }
    let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
    if u32_at(CRC_AT) != crc32c(0, &[&b[..CRC_AT]]) {
        return Slot::Bad("checksum mismatch");
    }
    if u32_at(24) != SLOT_MAGIC {
        return Slot::Bad("bad magic number");
    }
    let gen = u64_at(0);
    let st = SeqState {
        sender: u32_at(8),
        target: u32_at(12),
        epoch_first_segment: u64_at(16),
    };
    if gen == 0 || st.sender == 0 || st.target == 0 || st.epoch_first_segment == 0 {
        return Slot::Bad("zero generation, number or epoch");
    }
    Slot::Valid(gen, st)
}

fn encode_slot(gen: u64, st: &SeqState) -> [u8; SLOT] {
    let mut b = [0u8; SLOT];
    b[0..8].copy_from_slice(&gen.to_le_bytes());
    b[8..12].copy_from_slice(&st.sender.to_le_bytes());
    b[12..16].copy_from_slice(&st.target.to_le_bytes());
    b[16..24].copy_from_slice(&st.epoch_first_segment.to_le_bytes());
    b[24..28].copy_from_slice(&SLOT_MAGIC.to_le_bytes());
    let c = crc32c(0, &[&b[..CRC_AT]]);
    b[CRC_AT..].copy_from_slice(&c.to_le_bytes());
    b
}

/// Decides the current state from the two slots; `None` when the file holds no state yet.
fn decide(path: &Path, s0: Slot, s1: Slot) -> Result<Option<(u64, SeqState)>, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    // Generation g lives in slot g % 2; a crash can tear only the slot being written, which is
    // the one after the newest valid generation.
    match (s0, s1) {
        (Slot::Empty, Slot::Empty) => Ok(None),
        // The very first write (generation 1, slot 1) was torn.
        (Slot::Empty, Slot::Bad(_)) => Ok(None),
        (Slot::Bad(why), Slot::Empty) => Err(corrupt(format!(
            "sequence-number slot 0 is damaged ({why}) and slot 1 was never written"
        ))),
        (Slot::Bad(w0), Slot::Bad(w1)) => Err(corrupt(format!(
            "both sequence-number slots are damaged (slot 0: {w0}; slot 1: {w1})"
        ))),
        (Slot::Valid(g, st), other) | (other, Slot::Valid(g, st))
            if !matches!(other, Slot::Valid(..)) =>
        {
            let _ = other;
            Ok(Some((g, st)))
        }
        (Slot::Valid(g0, st0), Slot::Valid(g1, st1)) => {
            if g0 % 2 != 0 || g1 % 2 != 1 || g0.abs_diff(g1) != 1 {
                return Err(corrupt(format!(
                    "sequence-number slots hold generations {g0} and {g1}, which no sequence of \
                     writes produces"
                )));
            }
            Ok(Some(if g0 > g1 { (g0, st0) } else { (g1, st1) }))
        }
        _ => unreachable!("all slot combinations are covered above"),
    }
}

/// The open, locked, mapped sequence-number file.
pub(crate) struct SeqFile {
    path: PathBuf,
    _file: File,
    map: MmapMut,
    gen: u64,
    state: SeqState,
    dirty: bool,
    created: bool,
}

impl SeqFile {
    /// Opens (creating if needed) and locks the file; `durable` syncs a new file to disk.
    pub(crate) fn open(path: &Path, durable: bool) -> Result<SeqFile, StoreError> {
        let io = |op: &'static str| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, op, source }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("open sequence-number file"))?;
        sys::lock_exclusive(&file).map_err(io(
            "lock sequence-number file (is the store open in another process or handle?)",
        ))?;
        let len = file
            .metadata()
            .map_err(io("stat sequence-number file"))?
            .len();
        let created = len == 0;
        if created {
            file.set_len(FILE_LEN)
                .map_err(io("size sequence-number file"))?;
            if durable {
                file.sync_all().map_err(io("fsync sequence-number file"))?;
            }
        } else if len != FILE_LEN {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("sequence-number file is {len} bytes long, expected {FILE_LEN}"),
            });
        }
        let map = sys::map_file(&file).map_err(io("map sequence-number file"))?;
        let s0 = parse_slot(&map[..SLOT]);
        let s1 = parse_slot(&map[SLOT..2 * SLOT]);
        let (gen, state) = decide(path, s0, s1)?.unwrap_or((0, SeqState::FRESH));
        Ok(SeqFile {
            path: path.to_path_buf(),
            _file: file,
            map,
            gen,
            state,
            dirty: false,
            created,
        })
    }

    /// True when this open created the file (it was missing or empty).
    pub(crate) fn created(&self) -> bool {
        self.created
    }

    /// The state last written.
    pub(crate) fn state(&self) -> SeqState {
        self.state
    }

    /// Writes `st` into the next slot (no syscall).
    pub(crate) fn write(&mut self, st: SeqState) {
        self.gen += 1;
        let at = (self.gen % 2) as usize * SLOT;
        let bytes = encode_slot(self.gen, &st);
        self.map[at..at + SLOT].copy_from_slice(&bytes);
        self.state = st;
        self.dirty = true;
    }

    /// msyncs the slots if they changed since the last flush.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        if self.dirty {
            self.map
                .flush_range(0, 2 * SLOT)
                .map_err(|source| StoreError::Io {
                    path: self.path.clone(),
                    op: "msync sequence-number file",
                    source,
                })?;
            self.dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(s: u32, t: u32) -> SeqState {
        SeqState {
            sender: s,
            target: t,
            epoch_first_segment: 1,
        }
    }

    #[test]
    fn slot_roundtrip_and_damage() {
        let b = encode_slot(7, &st(5, 9));
        match parse_slot(&b) {
            Slot::Valid(7, s) => assert_eq!(s, st(5, 9)),
            _ => panic!("slot did not parse"),
        }
        for i in 0..SLOT {
            let mut d = b;
            d[i] ^= 0x10;
            assert!(matches!(parse_slot(&d), Slot::Bad(_)), "flip at byte {i}");
        }
        assert!(matches!(parse_slot(&[0u8; SLOT]), Slot::Empty));
    }

    #[test]
    fn decide_rules() {
        let p = Path::new("x");
        let v = |g, s| Slot::Valid(g, st(s, 1));
        assert_eq!(decide(p, Slot::Empty, Slot::Empty).unwrap(), None);
        assert_eq!(decide(p, Slot::Empty, Slot::Bad("t")).unwrap(), None);
        assert!(decide(p, Slot::Bad("t"), Slot::Empty).is_err());
        assert!(decide(p, Slot::Bad("a"), Slot::Bad("b")).is_err());
        assert_eq!(decide(p, v(2, 3), v(3, 4)).unwrap(), Some((3, st(4, 1))));
        assert_eq!(decide(p, v(4, 5), v(3, 4)).unwrap(), Some((4, st(5, 1))));
        assert_eq!(
            decide(p, v(4, 5), Slot::Bad("t")).unwrap(),
            Some((4, st(5, 1)))
        );
        assert_eq!(
            decide(p, Slot::Bad("t"), v(5, 6)).unwrap(),
            Some((5, st(6, 1)))
        );
        assert!(decide(p, v(2, 3), v(5, 4)).is_err());
        assert!(decide(p, v(3, 3), v(4, 4)).is_err());
    }
}
