//! The card driver seam: verdicts from the FPGA card through memory-mapped registers and a
//! verdict ring (`docs/sequencer.md` section 6.4).
//!
//! The engine maps a device file (a PCIe BAR exposed through UIO/VFIO, or for tests and the
//! co-simulation an ordinary file) with `memmap2`. The map is one header page of 32-bit
//! registers followed by the ring of `2^RING_LOG2` records of 32 bytes
//! ([`Verdict::to_bytes`], `w0` first).
//!
//! Ring protocol (single producer = the card, single consumer = the engine):
//!
//! * `PROD` and `CONS` are free-running 32-bit counts of records written / consumed; record
//!   number `i` lives at `RING_OFFSET + (i mod N) * 32` (`N = 2^RING_LOG2`).
//! * The ring holds `PROD − CONS` (wrapping) records, `0 ..= N`. The card writes a record only
//!   when `PROD − CONS < N`; it writes the 32 bytes, then publishes `PROD + 1` (release).
//!   While the ring is full the card holds `m_axis_tready` low, which back-pressures the
//!   sequencer and then the payload input: a verdict is never dropped.
//! * The engine reads `PROD` (acquire), copies the records `CONS … PROD − 1`, then publishes the
//!   new `CONS` (release). A `PROD − CONS` above `N` means a corrupt map and is reported.
//!
//! [`RingWriter`] is the card side (used by the co-simulation to emulate the card);
//! [`RingReader`] is the engine side. Neither allocates or locks after it is opened.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use memmap2::MmapMut;

use crate::contract::Verdict;

/// `ID` register value: magic `0xF1C5` and layout version 1.
pub const MAGIC: u32 = 0xF1C5_0001;
/// Byte offset of the ring (the header page is 4 KiB).
pub const RING_OFFSET: usize = 4096;
/// Size of one record in bytes.
pub const RECORD_BYTES: usize = 32;
/// Largest supported `RING_LOG2` (16 Mi records, 512 MiB).
pub const MAX_RING_LOG2: u32 = 24;

/// Register byte offsets in the header page (32-bit little-endian registers).
pub mod reg {
    /// `ID` (RO): [`super::MAGIC`].
    pub const ID: usize = 0x00;
    /// `PARAMS` (RO): the sequencer's `PARAMS` CSR (`0xF1C5 << 16 | WINDOW_W << 8 | SESSION_W`).
    pub const PARAMS: usize = 0x04;
    /// `RING_LOG2` (RO): log2 of the ring's record count.
    pub const RING_LOG2: usize = 0x08;
    /// `CONTROL` (RW, host): bit 0 `ENABLE` (the card writes records only while set).
    pub const CONTROL: usize = 0x0C;
    /// `PROD` (RO for the host): records written by the card, free-running.
    pub const PROD: usize = 0x10;
    /// `CONS` (RW, host): records consumed by the host, free-running.
    pub const CONS: usize = 0x14;
    /// Byte offset of the sequencer's CSR window: CSR byte address `a` is at `CSR_BASE + a`
    /// (section 5), for a card that exposes it in the same BAR.
    pub const CSR_BASE: usize = 0x800;
}

/// `CONTROL.ENABLE`.
pub const CONTROL_ENABLE: u32 = 1;

/// Size of a map with a ring of `2^ring_log2` records.
pub const fn map_len(ring_log2: u32) -> usize {
    RING_OFFSET + (RECORD_BYTES << ring_log2)
}

mod mmio {
    //! The only unsafe code of the card seam: 32-bit atomics inside the mapping.
    use std::sync::atomic::AtomicU32;

    use memmap2::MmapMut;

    /// The 32-bit register at byte offset `off` of the map as an atomic.
    ///
    /// # Panics
    /// If `off` is not 4-aligned or the register is outside the map.
    pub fn reg(map: &MmapMut, off: usize) -> &AtomicU32 {
        assert!(
            off.is_multiple_of(4) && off + 4 <= map.len(),
            "register offset {off:#x}"
        );
        let p = map.as_ptr().wrapping_add(off);
        // SAFETY: `p` is inside the mapping (checked above) and 4-aligned (the map is
        // page-aligned and `off` is a multiple of 4); the mapping lives as long as `map`,
        // which bounds the returned reference; AtomicU32 has the size and alignment of u32 and
        // every bit pattern is valid. Other processes only touch it atomically too.
        unsafe { &*p.cast::<AtomicU32>() }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn map_file(file: &File) -> io::Result<MmapMut> {
    // SAFETY: a shared writable mapping of a file the caller opened read/write; its contents
    // are only accessed through atomics (registers) and byte copies of slots the ring protocol
    // hands over, so concurrent writers in other processes cannot break Rust's invariants for
    // the types we read (plain bytes and AtomicU32).
    unsafe { MmapMut::map_mut(file) }
}

/// The card side of the ring: writes verdict records (the co-simulation's card emulation).
pub struct RingWriter {
    map: MmapMut,
    entries: u32,
    prod: u32,
}

impl RingWriter {
    /// Creates (or truncates) `path` as a card map with a ring of `2^ring_log2` records and
    /// `params` in `PARAMS`; `CONTROL.ENABLE` is set and both indices are 0.
    pub fn create(path: &Path, ring_log2: u32, params: u32) -> io::Result<RingWriter> {
        if ring_log2 > MAX_RING_LOG2 {
            return Err(invalid(format!(
                "RING_LOG2 {ring_log2} above {MAX_RING_LOG2}"
            )));
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        f.set_len(map_len(ring_log2) as u64)?;
        let map = map_file(&f)?;
        mmio::reg(&map, reg::PARAMS).store(params, Ordering::Relaxed);
        mmio::reg(&map, reg::RING_LOG2).store(ring_log2, Ordering::Relaxed);
        mmio::reg(&map, reg::CONTROL).store(CONTROL_ENABLE, Ordering::Relaxed);
        mmio::reg(&map, reg::PROD).store(0, Ordering::Relaxed);
        mmio::reg(&map, reg::CONS).store(0, Ordering::Relaxed);
        mmio::reg(&map, reg::ID).store(MAGIC, Ordering::Release);
        Ok(RingWriter {
            map,
            entries: 1 << ring_log2,
            prod: 0,
        })
    }

    /// Free record slots (what the card's `m_axis_tready` is computed from).
    pub fn free(&self) -> u32 {
        let cons = mmio::reg(&self.map, reg::CONS).load(Ordering::Acquire);
        self.entries - self.prod.wrapping_sub(cons).min(self.entries)
    }

    /// True when the host enabled the ring.
    pub fn enabled(&self) -> bool {
        mmio::reg(&self.map, reg::CONTROL).load(Ordering::Acquire) & CONTROL_ENABLE != 0
    }

    /// Writes one record and publishes it. Returns false (nothing written) when the ring is
    /// full or disabled: the card must then hold the verdict (back-pressure).
    pub fn push(&mut self, v: &Verdict) -> bool {
        if self.free() == 0 || !self.enabled() {
            return false;
        }
        let slot = RING_OFFSET + (self.prod & (self.entries - 1)) as usize * RECORD_BYTES;
        self.map[slot..slot + RECORD_BYTES].copy_from_slice(&v.to_bytes());
        self.prod = self.prod.wrapping_add(1);
        mmio::reg(&self.map, reg::PROD).store(self.prod, Ordering::Release);
        true
    }

    /// Records written so far (the `PROD` register).
    pub fn produced(&self) -> u32 {
        self.prod
    }

    /// Flushes the map to its file (for a reader in another process that opens it later).
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

/// The engine side of the ring: reads verdict records the card published.
pub struct RingReader {
    map: MmapMut,
    entries: u32,
    cons: u32,
}

impl RingReader {
    /// Maps `path` (a UIO/VFIO BAR or a file written by [`RingWriter`]) and checks its header.
    pub fn open(path: &Path) -> io::Result<RingReader> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        let len = f.metadata()?.len();
        if len < RING_OFFSET as u64 {
            return Err(invalid(format!(
                "card map {} too short: {len} bytes",
                path.display()
            )));
        }
        let map = map_file(&f)?;
        let id = mmio::reg(&map, reg::ID).load(Ordering::Acquire);
        if id != MAGIC {
            return Err(invalid(format!(
                "card map ID {id:#010x}, expected {MAGIC:#010x}"
            )));
        }
        let log2 = mmio::reg(&map, reg::RING_LOG2).load(Ordering::Relaxed);
        if log2 > MAX_RING_LOG2 || (map.len() as u64) < map_len(log2) as u64 {
            return Err(invalid(format!(
                "card map RING_LOG2 {log2} does not fit the {} byte map",
                map.len()
            )));
        }
        let cons = mmio::reg(&map, reg::CONS).load(Ordering::Relaxed);
        Ok(RingReader {
            map,
            entries: 1 << log2,
            cons,
        })
    }

    /// The card's `PARAMS` register.
    pub fn params(&self) -> u32 {
        mmio::reg(&self.map, reg::PARAMS).load(Ordering::Relaxed)
    }

    /// Records published and not yet consumed.
    ///
    /// # Errors
    /// `InvalidData` when `PROD − CONS` exceeds the ring size (a corrupt map or card).
    pub fn pending(&self) -> io::Result<u32> {
        let prod = mmio::reg(&self.map, reg::PROD).load(Ordering::Acquire);
        let n = prod.wrapping_sub(self.cons);
        if n > self.entries {
            return Err(invalid(format!(
                "ring PROD {prod} CONS {} differ by more than {} entries",
                self.cons, self.entries
            )));
        }
        Ok(n)
    }

    /// Copies up to `out.len()` published records into `out`, in order, releases their slots
    /// to the card, and returns how many were copied.
    ///
    /// # Errors
    /// As [`RingReader::pending`].
    pub fn poll(&mut self, out: &mut [Verdict]) -> io::Result<usize> {
        let n = (self.pending()? as usize).min(out.len());
        for o in out.iter_mut().take(n) {
            let slot = RING_OFFSET + (self.cons & (self.entries - 1)) as usize * RECORD_BYTES;
            let mut rec = [0u8; RECORD_BYTES];
            rec.copy_from_slice(&self.map[slot..slot + RECORD_BYTES]);
            *o = Verdict::from_bytes(&rec);
            self.cons = self.cons.wrapping_add(1);
        }
        if n > 0 {
            mmio::reg(&self.map, reg::CONS).store(self.cons, Ordering::Release);
        }
        Ok(n)
    }

    /// Records consumed so far (the `CONS` register).
    pub fn consumed(&self) -> u32 {
        self.cons
    }
}
