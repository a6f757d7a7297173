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
//!
//! The optional **command ring** (section 6.5, `CMD_LOG2 ≠ 0`) carries the host's payload chunks
//! and register writes to the card, in stream order: [`CmdWriter`] (host), [`CmdReader`] (card),
//! with `CMD_DONE` telling the host which commands' verdicts are all published.
//! [`CardEmulator`] is a card made of the two rings and a pin-level sequencer, for tests.

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
    /// `CMD_LOG2` (RO): log2 of the command ring's size in bytes; 0 = no command ring.
    pub const CMD_LOG2: usize = 0x18;
    /// `CMD_PROD` (RW, host): command bytes written by the host, free-running.
    pub const CMD_PROD: usize = 0x1C;
    /// `CMD_CONS` (RO for the host): command bytes consumed by the card, free-running.
    pub const CMD_CONS: usize = 0x20;
    /// `CMD_DONE` (RO for the host): commands (DATA and CSR) completed, free-running. A DATA
    /// command is complete when the record of every message that ends in it is published.
    pub const CMD_DONE: usize = 0x24;
    /// Byte offset of the sequencer's CSR window: CSR byte address `a` is at `CSR_BASE + a`
    /// (section 5), for a card that exposes it in the same BAR.
    pub const CSR_BASE: usize = 0x800;
}

/// Command ring opcodes (byte 0 of a command header).
pub mod cmd {
    /// Payload bytes of one session: header `len` = byte count, the bytes follow.
    pub const DATA: u8 = 1;
    /// A sequencer register write: header `len` = 8, then `addr` (u32) and `data` (u32).
    pub const CSR_WRITE: u8 = 2;
    /// Padding to the end of the ring: header `len` = bytes after the header; skipped.
    pub const PAD: u8 = 3;
    /// Header size; records start 8-aligned and take `8 + round_up(len, 8)` bytes.
    pub const HEADER: usize = 8;
}

/// Smallest and largest `CMD_LOG2` (4 KiB … 16 MiB).
pub const CMD_LOG2_RANGE: std::ops::RangeInclusive<u32> = 12..=24;

/// `CONTROL.ENABLE`.
pub const CONTROL_ENABLE: u32 = 1;

/// Size of a map with a ring of `2^ring_log2` records (and no command ring).
pub const fn map_len(ring_log2: u32) -> usize {
    RING_OFFSET + (RECORD_BYTES << ring_log2)
}

/// Size of a map with a verdict ring of `2^ring_log2` records and a command ring of
/// `2^cmd_log2` bytes (`cmd_log2` 0: none). The command ring starts at [`map_len`]`(ring_log2)`.
pub const fn map_len_with_cmd(ring_log2: u32, cmd_log2: u32) -> usize {
    map_len(ring_log2) + if cmd_log2 == 0 { 0 } else { 1 << cmd_log2 }
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
        RingWriter::create_with_cmd(path, ring_log2, 0, params)
    }

    /// As [`RingWriter::create`], with a command ring of `2^cmd_log2` bytes (0: none) after the
    /// verdict ring.
    pub fn create_with_cmd(
        path: &Path,
        ring_log2: u32,
        cmd_log2: u32,
        params: u32,
    ) -> io::Result<RingWriter> {
        if ring_log2 > MAX_RING_LOG2 {
            return Err(invalid(format!(
                "RING_LOG2 {ring_log2} above {MAX_RING_LOG2}"
            )));
        }
        if cmd_log2 != 0 && !CMD_LOG2_RANGE.contains(&cmd_log2) {
            return Err(invalid(format!(
                "CMD_LOG2 {cmd_log2} outside {CMD_LOG2_RANGE:?}"
            )));
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        f.set_len(map_len_with_cmd(ring_log2, cmd_log2) as u64)?;
        let map = map_file(&f)?;
        mmio::reg(&map, reg::CMD_LOG2).store(cmd_log2, Ordering::Relaxed);
        for r in [reg::CMD_PROD, reg::CMD_CONS, reg::CMD_DONE] {
            mmio::reg(&map, r).store(0, Ordering::Relaxed);
        }
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

/// Maps an existing card map and checks its header; returns the map, `RING_LOG2` and
/// `CMD_LOG2`.
fn open_map(path: &Path) -> io::Result<(MmapMut, u32, u32)> {
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
    let cmd_log2 = mmio::reg(&map, reg::CMD_LOG2).load(Ordering::Relaxed);
    if log2 > MAX_RING_LOG2
        || (cmd_log2 != 0 && !CMD_LOG2_RANGE.contains(&cmd_log2))
        || (map.len() as u64) < map_len_with_cmd(log2, cmd_log2) as u64
    {
        return Err(invalid(format!(
            "card map RING_LOG2 {log2} / CMD_LOG2 {cmd_log2} do not fit the {} byte map",
            map.len()
        )));
    }
    Ok((map, log2, cmd_log2))
}

/// Bytes a command with `len` payload bytes takes in the command ring.
const fn cmd_record_bytes(len: usize) -> usize {
    cmd::HEADER + len.div_ceil(8) * 8
}

/// The host side of the command ring (section 6.5): payload chunks and register writes to the
/// card, in stream order. Single producer; no allocation after [`CmdWriter::open`].
pub struct CmdWriter {
    map: MmapMut,
    base: usize,
    size: u32,
    prod: u32,
    pushed: u32,
}

impl CmdWriter {
    /// Ring bytes a register-write command takes.
    pub const CSR_BYTES: usize = cmd_record_bytes(8);

    /// Ring bytes a DATA command of `len` payload bytes takes (without padding at the end).
    pub const fn data_bytes(len: usize) -> usize {
        cmd_record_bytes(len)
    }

    /// Maps the card at `path` and checks that it has a command ring.
    pub fn open(path: &Path) -> io::Result<CmdWriter> {
        let (map, log2, cmd_log2) = open_map(path)?;
        if cmd_log2 == 0 {
            return Err(invalid(format!(
                "card map {} has no command ring (CMD_LOG2 = 0)",
                path.display()
            )));
        }
        let prod = mmio::reg(&map, reg::CMD_PROD).load(Ordering::Relaxed);
        let pushed = mmio::reg(&map, reg::CMD_DONE).load(Ordering::Acquire);
        Ok(CmdWriter {
            map,
            base: map_len(log2),
            size: 1 << cmd_log2,
            prod,
            pushed,
        })
    }

    /// Largest payload of one DATA command (half the ring less a header, so a record always
    /// fits after padding).
    pub fn max_data(&self) -> usize {
        self.size as usize / 2 - cmd::HEADER
    }

    /// Commands pushed so far (DATA and CSR, free-running): the `CMD_DONE` value at which the
    /// last one is complete.
    pub fn pushed(&self) -> u32 {
        self.pushed
    }

    /// The card's `CMD_DONE`.
    pub fn done(&self) -> u32 {
        mmio::reg(&self.map, reg::CMD_DONE).load(Ordering::Acquire)
    }

    /// Ring bytes needed at the current position for a record of `rec` bytes (with the padding
    /// record when it does not fit before the end).
    fn need(&self, rec: usize) -> usize {
        let pos = (self.prod & (self.size - 1)) as usize;
        let tail = self.size as usize - pos;
        if rec > tail {
            tail + rec
        } else {
            rec
        }
    }

    /// True when a record of `rec` ring bytes fits now.
    pub fn fits(&self, rec: usize) -> bool {
        let cons = mmio::reg(&self.map, reg::CMD_CONS).load(Ordering::Acquire);
        let used = self.prod.wrapping_sub(cons) as usize;
        rec <= self.size as usize / 2
            && self.need(rec) <= self.size as usize - used.min(self.size as usize)
    }

    fn put(&mut self, op: u8, session: u16, len: u32, parts: &[&[u8]]) -> bool {
        let rec = cmd_record_bytes(len as usize);
        if !self.fits(rec) {
            return false;
        }
        let mut pos = (self.prod & (self.size - 1)) as usize;
        let tail = self.size as usize - pos;
        if rec > tail {
            let at = self.base + pos;
            self.map[at..at + cmd::HEADER].copy_from_slice(&header(
                cmd::PAD,
                0,
                (tail - cmd::HEADER) as u32,
            ));
            self.prod = self.prod.wrapping_add(tail as u32);
            pos = 0;
        }
        let mut at = self.base + pos;
        self.map[at..at + cmd::HEADER].copy_from_slice(&header(op, session, len));
        at += cmd::HEADER;
        for p in parts {
            self.map[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.prod = self.prod.wrapping_add(rec as u32);
        self.pushed = self.pushed.wrapping_add(1);
        mmio::reg(&self.map, reg::CMD_PROD).store(self.prod, Ordering::Release);
        true
    }

    /// Queues `bytes` of `session`'s stream. False (nothing queued) when the ring has no room
    /// or `bytes` is longer than [`CmdWriter::max_data`].
    pub fn push_data(&mut self, session: u16, bytes: &[u8]) -> bool {
        bytes.len() <= self.max_data() && self.put(cmd::DATA, session, bytes.len() as u32, &[bytes])
    }

    /// Queues a register write of `data` to CSR byte address `addr`. False when no room.
    pub fn push_csr(&mut self, addr: u32, data: u32) -> bool {
        self.put(
            cmd::CSR_WRITE,
            0,
            8,
            &[&addr.to_le_bytes(), &data.to_le_bytes()],
        )
    }
}

fn header(op: u8, session: u16, len: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = op;
    h[2..4].copy_from_slice(&session.to_le_bytes());
    h[4..8].copy_from_slice(&len.to_le_bytes());
    h
}

/// One command as the card reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Cmd<'a> {
    /// Payload bytes of a session.
    Data(u16, &'a [u8]),
    /// A register write `(addr, data)`.
    CsrWrite(u32, u32),
}

/// The card side of the command ring (the card emulation's DMA engine).
pub struct CmdReader {
    map: MmapMut,
    base: usize,
    size: u32,
    cons: u32,
    done: u32,
}

impl CmdReader {
    /// Maps the card at `path` (created by [`RingWriter::create_with_cmd`] with a command ring).
    pub fn open(path: &Path) -> io::Result<CmdReader> {
        let (map, log2, cmd_log2) = open_map(path)?;
        if cmd_log2 == 0 {
            return Err(invalid(format!(
                "card map {} has no command ring",
                path.display()
            )));
        }
        let cons = mmio::reg(&map, reg::CMD_CONS).load(Ordering::Relaxed);
        let done = mmio::reg(&map, reg::CMD_DONE).load(Ordering::Relaxed);
        Ok(CmdReader {
            map,
            base: map_len(log2),
            size: 1 << cmd_log2,
            cons,
            done,
        })
    }

    /// Takes the next command, if the host published one, and calls `f` with it; then releases
    /// its ring bytes. PAD records are skipped. The command is not complete until
    /// [`CmdReader::complete`].
    ///
    /// # Errors
    /// `InvalidData` for a malformed record or `CMD_PROD − CMD_CONS` above the ring size: the
    /// host broke the protocol.
    pub fn next<R>(&mut self, f: impl FnOnce(Cmd<'_>) -> R) -> io::Result<Option<R>> {
        let mut f = Some(f);
        loop {
            let prod = mmio::reg(&self.map, reg::CMD_PROD).load(Ordering::Acquire);
            let avail = prod.wrapping_sub(self.cons);
            if avail > self.size {
                return Err(invalid(format!(
                    "command ring PROD {prod} CONS {} differ by more than {}",
                    self.cons, self.size
                )));
            }
            if avail == 0 {
                return Ok(None);
            }
            let pos = (self.cons & (self.size - 1)) as usize;
            let at = self.base + pos;
            let h = &self.map[at..at + cmd::HEADER];
            let op = h[0];
            let session = u16::from_le_bytes([h[2], h[3]]);
            let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
            let rec = cmd_record_bytes(len);
            if pos + rec > self.size as usize || rec > avail as usize {
                return Err(invalid(format!(
                    "command at {pos}: length {len} overruns the ring"
                )));
            }
            let body = &self.map[at + cmd::HEADER..at + cmd::HEADER + len];
            let r = match op {
                cmd::PAD => None,
                cmd::DATA => f.take().map(|f| f(Cmd::Data(session, body))),
                cmd::CSR_WRITE if len == 8 => {
                    let w = |o: usize| {
                        u32::from_le_bytes([body[o], body[o + 1], body[o + 2], body[o + 3]])
                    };
                    f.take().map(|f| f(Cmd::CsrWrite(w(0), w(4))))
                }
                _ => {
                    return Err(invalid(format!(
                        "command at {pos}: opcode {op} length {len} unknown"
                    )))
                }
            };
            self.cons = self.cons.wrapping_add(rec as u32);
            mmio::reg(&self.map, reg::CMD_CONS).store(self.cons, Ordering::Release);
            if r.is_some() {
                return Ok(r);
            }
        }
    }

    /// Marks the oldest incomplete command complete (`CMD_DONE + 1`, release): for a DATA
    /// command, call it after the records of every message that ended in it are published.
    pub fn complete(&mut self) {
        self.done = self.done.wrapping_add(1);
        mmio::reg(&self.map, reg::CMD_DONE).store(self.done, Ordering::Release);
    }
}

/// Emulates a card on a map file: takes commands from the command ring, drives a pin-level
/// sequencer (the cycle model, or the Verilated RTL in `fpga-sim`) with them, and writes the
/// verdicts into the verdict ring with `m_axis_tready` = ring not full. This is what a card's
/// DMA engines and glue around `fix_sequencer` do; tests run it on a thread.
pub struct CardEmulator<S> {
    drv: crate::sequencer::PinDriver<S>,
    ring: RingWriter,
    cmds: CmdReader,
    /// Commands completed.
    pub commands: u64,
}

struct RingSink<'a>(&'a mut RingWriter);

impl crate::sequencer::PinSink for RingSink<'_> {
    fn ready(&mut self) -> bool {
        let ok = self.0.free() > 0 && self.0.enabled();
        if !ok {
            // The host is behind: let it run (it copies verdicts while it waits).
            std::thread::yield_now();
        }
        ok
    }
    fn accept(&mut self, v: &Verdict) {
        let ok = self.0.push(v);
        debug_assert!(ok, "ready said there was room");
    }
}

impl<S: crate::cycle::SequencerSim> CardEmulator<S> {
    /// Creates the map file at `path` (verdict ring `2^ring_log2` records, command ring
    /// `2^cmd_log2` bytes, `PARAMS` from `cfg`) and resets `sim`.
    ///
    /// # Errors
    /// If the file cannot be created or the model does not leave reset.
    pub fn create(
        path: &Path,
        sim: S,
        cfg: crate::cycle::Config,
        ring_log2: u32,
        cmd_log2: u32,
    ) -> io::Result<CardEmulator<S>> {
        if cmd_log2 == 0 {
            return Err(invalid("a card emulation needs a command ring".into()));
        }
        let ring = RingWriter::create_with_cmd(path, ring_log2, cmd_log2, cfg.params_reg())?;
        let cmds = CmdReader::open(path)?;
        let drv = crate::sequencer::PinDriver::new(sim, cfg).map_err(io::Error::other)?;
        Ok(CardEmulator {
            drv,
            ring,
            cmds,
            commands: 0,
        })
    }

    /// The pin driver (cycle counts).
    pub fn driver(&self) -> &crate::sequencer::PinDriver<S> {
        &self.drv
    }

    /// Executes every command published so far; returns how many.
    ///
    /// # Errors
    /// A command-ring protocol error, or a hung simulation.
    pub fn step(&mut self) -> Result<usize, String> {
        let mut n = 0;
        loop {
            let (drv, ring) = (&mut self.drv, &mut self.ring);
            let r = self
                .cmds
                .next(|c| {
                    let mut sink = RingSink(ring);
                    match c {
                        Cmd::Data(s, bytes) => drv
                            .feed(s, bytes, &mut sink)
                            .and_then(|()| drv.drain(&mut sink)),
                        Cmd::CsrWrite(a, d) => drv.csr_write(a, d, &mut sink),
                    }
                })
                .map_err(|e| e.to_string())?;
            match r {
                None => return Ok(n),
                Some(Err(e)) => return Err(e),
                Some(Ok(())) => {
                    self.cmds.complete();
                    self.commands += 1;
                    n += 1;
                }
            }
        }
    }

    /// Runs [`CardEmulator::step`] until `stop` is set (yielding, then sleeping 50 µs, while
    /// idle).
    ///
    /// # Errors
    /// As [`CardEmulator::step`].
    pub fn run(&mut self, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
        let mut idle = 0u32;
        while !stop.load(Ordering::Acquire) {
            if self.step()? > 0 {
                idle = 0;
            } else {
                idle = idle.saturating_add(1);
                if idle < 64 {
                    std::hint::spin_loop();
                } else if idle < 1024 {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
        }
        Ok(())
    }
}
