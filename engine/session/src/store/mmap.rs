//! [`MmapStore`]: the crash-safe, memory-mapped message store.
//!
//! Layout of a store directory `<dir>/<session dir>/` (see `docs/session.md`, "Store"):
//!
//! * `seqnums`: the sequence-number file ([`super::seqfile`]), also the store's lock.
//! * `NNNNNNNNNNNNNNNNNNNN.seg`: journal segments, numbered from 1 and never reused, each
//!   preallocated to `segment_bytes`. A 64-byte header, then records, each a 16-byte header
//!   (commit marker, length, MsgSeqNum, CRC-32C) and the message padded to 8 bytes.
//!
//! An append writes the record's length, number, checksum and bytes, and the commit marker last.
//! A record without its marker, or whose checksum fails, at the end of the last segment is a torn
//! write: it is dropped (and zeroed) on open. The same damage anywhere else is reported as
//! [`StoreError::Corrupt`].

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, Ordering};

use memmap2::MmapMut;

use super::crc::crc32c;
use super::seqfile::{SeqFile, SeqState};
use super::{
    check_append, check_set_sender, check_set_target, FlushPolicy, MessageStore, StoreError,
    DEFAULT_MAX_MESSAGE,
};

const SEG_HDR: usize = 64;
const REC_HDR: usize = 16;
const SEG_MAGIC: [u8; 8] = *b"FIXJRNL1";
const SEG_VERSION: u32 = 1;
const COMMIT: u32 = 0x544D_4F43; // "COMT" little-endian
const SEQ_FILE: &str = "seqnums";

/// Configuration of an [`MmapStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapStoreConfig {
    /// Size of each preallocated journal segment file, in bytes (default 64 MiB). At least
    /// `64 + 16 + max_message` rounded up to 8, at most 4 GiB - 1.
    pub segment_bytes: u64,
    /// When writes are forced to stable storage (default [`FlushPolicy::None`]: safe against a
    /// killed process, not against a power loss).
    pub flush: FlushPolicy,
    /// Largest message accepted, in bytes (default [`DEFAULT_MAX_MESSAGE`]).
    pub max_message: usize,
}

impl Default for MmapStoreConfig {
    fn default() -> Self {
        MmapStoreConfig {
            segment_bytes: 64 << 20,
            flush: FlushPolicy::None,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

#[inline]
fn align8(n: usize) -> usize {
    (n + 7) & !7
}

#[inline]
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

#[inline]
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

/// The directory name used for a session key: its file-name-safe characters plus a hash of the
/// whole key (so that keys differing only in unsafe characters do not collide).
pub(crate) fn session_dir_name(session_key: &str) -> String {
    let safe: String = session_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("{safe}-{:08x}", crc32c(0, &[session_key.as_bytes()]))
}

fn segment_file_name(no: u64) -> String {
    format!("{no:020}.seg")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Writes the record of `msg` under `seq` into `r` (exactly `REC_HDR + align8(msg.len())`
/// bytes, all zero before): length, MsgSeqNum, message, zero padding, CRC-32C (salted), and the
/// commit marker last, so that a record is only valid once everything else is written.
fn write_record(r: &mut [u8], seq: u32, msg: &[u8], salt: u32) {
    r[4..8].copy_from_slice(&(msg.len() as u32).to_le_bytes());
    r[8..12].copy_from_slice(&seq.to_le_bytes());
    r[REC_HDR..REC_HDR + msg.len()].copy_from_slice(msg);
    r[REC_HDR + msg.len()..].fill(0);
    let c = crc32c(salt, &[&r[4..12], msg]);
    r[12..16].copy_from_slice(&c.to_le_bytes());
    fence(Ordering::Release);
    r[0..4].copy_from_slice(&COMMIT.to_le_bytes());
}

/// Checks the record at `p`; returns (seq, message length).
fn check_record(map: &[u8], p: usize, salt: u32) -> Result<(u32, usize), String> {
    let marker = u32_at(map, p);
    if marker != COMMIT {
        return Err(format!("bad commit marker {marker:#010x}"));
    }
    let len = u32_at(map, p + 4) as usize;
    if len > map.len() - p - REC_HDR {
        return Err(format!("length {len} runs past the end of the segment"));
    }
    let seq = u32_at(map, p + 8);
    let want = u32_at(map, p + 12);
    let got = crc32c(
        salt,
        &[&map[p + 4..p + 12], &map[p + REC_HDR..p + REC_HDR + len]],
    );
    if want != got {
        return Err(format!(
            "checksum mismatch (stored {want:#010x}, computed {got:#010x})"
        ));
    }
    if seq == 0 {
        return Err("MsgSeqNum 0".to_string());
    }
    Ok((seq, len))
}

/// One journal segment, mapped.
struct Segment {
    no: u64,
    path: PathBuf,
    _file: File,
    map: MmapMut,
    salt: u32,
    /// (MsgSeqNum, record offset), in increasing MsgSeqNum order.
    index: Vec<(u32, u32)>,
    /// Offset just past the last record: where the next one goes.
    end: usize,
    /// Offset of the first byte written since the last msync.
    dirty_from: usize,
}

impl Segment {
    /// Writes a zero into every page of `[end, end + bytes)` (all zeros already) that starts in
    /// that range; returns how many.
    fn touch(&mut self, bytes: usize) -> usize {
        const PAGE: usize = 4096;
        let start = self.end.div_ceil(PAGE) * PAGE;
        let stop = self.end.saturating_add(bytes).min(self.map.len());
        let mut n = 0;
        let mut p = start;
        while p < stop {
            self.map[p] = 0;
            n += 1;
            p += PAGE;
        }
        n
    }

    fn flush_dirty(&mut self) -> Result<(), StoreError> {
        if self.end > self.dirty_from {
            let (from, len) = (self.dirty_from, self.end - self.dirty_from);
            self.map
                .flush_range(from, len)
                .map_err(|source| StoreError::Io {
                    path: self.path.clone(),
                    op: "msync journal segment",
                    source,
                })?;
            self.dirty_from = self.end;
        }
        Ok(())
    }

    /// The message of the record at `off`, which the index says holds `seq`.
    fn message(&self, off: u32, seq: u32) -> Result<&[u8], StoreError> {
        let p = off as usize;
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        };
        if p + REC_HDR > self.map.len() {
            return Err(corrupt(format!("index points past the segment end ({p})")));
        }
        let len = u32_at(&self.map, p + 4) as usize;
        if u32_at(&self.map, p) != COMMIT
            || u32_at(&self.map, p + 8) != seq
            || len > self.map.len() - p - REC_HDR
        {
            return Err(corrupt(format!(
                "record at offset {p} (MsgSeqNum {seq}) changed after it was validated"
            )));
        }
        Ok(&self.map[p + REC_HDR..p + REC_HDR + len])
    }
}

/// The memory-mapped message store: see the module documentation and `docs/session.md`.
///
/// `append` writes into the mapped segment (no allocation, no syscall) and msyncs only as the
/// [`FlushPolicy`] says; a segment rollover creates and preallocates the next file.
/// `for_each_in_range` hands out slices of the map. One `MmapStore` at a time may have a session
/// directory open (an exclusive `flock` on its `seqnums` file).
pub struct MmapStore {
    dir: PathBuf,
    cfg: MmapStoreConfig,
    key_hash: u32,
    seq: SeqFile,
    segments: Vec<Segment>,
    next_sender: u32,
    next_target: u32,
    last_seq: u32,
    pending: u32,
    torn_tail: Option<(PathBuf, usize)>,
    /// The next segment, created (empty) ahead of need by `housekeeping`.
    spare: Option<Segment>,
}

impl std::fmt::Debug for MmapStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmapStore")
            .field("dir", &self.dir)
            .field("cfg", &self.cfg)
            .field("segments", &self.segments.len())
            .field("next_sender", &self.next_sender)
            .field("next_target", &self.next_target)
            .field("last_seq", &self.last_seq)
            .finish()
    }
}

impl MmapStore {
    /// The directory `open(dir, session_key, ..)` keeps the session's files in.
    pub fn session_dir(dir: &Path, session_key: &str) -> PathBuf {
        dir.join(session_dir_name(session_key))
    }

    /// Opens (creating if needed) the store of `session_key` under `dir`, validating every record
    /// and dropping a torn last record. Errors: [`StoreError::Io`] (including the store being open
    /// elsewhere), [`StoreError::Corrupt`] for damage that is not a torn last write.
    pub fn open(dir: &Path, session_key: &str, cfg: MmapStoreConfig) -> Result<Self, StoreError> {
        let sdir = Self::session_dir(dir, session_key);
        let invalid = |msg: String| StoreError::Io {
            path: sdir.clone(),
            op: "check store configuration",
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, msg),
        };
        let min_seg = (SEG_HDR + REC_HDR + align8(cfg.max_message.min(u32::MAX as usize))) as u64;
        if cfg.max_message > u32::MAX as usize - 8 {
            return Err(invalid(format!(
                "max_message {} is above 4 GiB",
                cfg.max_message
            )));
        }
        if cfg.segment_bytes < min_seg || cfg.segment_bytes > u64::from(u32::MAX) {
            return Err(invalid(format!(
                "segment_bytes {} must be between {min_seg} (room for one message of \
                 max_message {} bytes) and {}",
                cfg.segment_bytes,
                cfg.max_message,
                u32::MAX
            )));
        }
        fs::create_dir_all(&sdir).map_err(|source| StoreError::Io {
            path: sdir.clone(),
            op: "create store directory",
            source,
        })?;
        let durable = cfg.flush != FlushPolicy::None;
        let seq = SeqFile::open(&sdir.join(SEQ_FILE), durable)?;
        let state = seq.state();

        let mut store = MmapStore {
            dir: sdir.clone(),
            cfg,
            key_hash: crc32c(0, &[session_key.as_bytes()]),
            seq,
            segments: Vec::new(),
            next_sender: 1,
            next_target: 1,
            last_seq: 0,
            pending: 0,
            torn_tail: None,
            spare: None,
        };

        // Find the segments; drop leftovers of an interrupted creation or reset.
        let mut nos = Vec::new();
        let rd = fs::read_dir(&sdir).map_err(|source| StoreError::Io {
            path: sdir.clone(),
            op: "list store directory",
            source,
        })?;
        for entry in rd {
            let entry = entry.map_err(|source| StoreError::Io {
                path: sdir.clone(),
                op: "list store directory",
                source,
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".seg.tmp") {
                store.remove(&entry.path())?;
            } else if let Some(no) = parse_segment_name(name) {
                if no < state.epoch_first_segment {
                    store.remove(&entry.path())?;
                } else {
                    nos.push(no);
                }
            }
        }
        nos.sort_unstable();
        if store.seq.created() && !nos.is_empty() {
            return Err(StoreError::Corrupt {
                path: sdir.join(SEQ_FILE),
                detail: format!(
                    "the sequence-number file was missing or empty but {} journal segment(s) \
                     exist: the next target number is lost (restore the file, or remove the \
                     directory to start the session afresh)",
                    nos.len()
                ),
            });
        }
        for (expect, &no) in (state.epoch_first_segment..).zip(nos.iter()) {
            if no != expect {
                return Err(StoreError::Corrupt {
                    path: sdir.join(segment_file_name(expect)),
                    detail: format!(
                        "journal segment {expect} is missing ({} segments found, numbered {} to \
                         {}; this epoch starts at {})",
                        nos.len(),
                        nos[0],
                        nos[nos.len() - 1],
                        state.epoch_first_segment
                    ),
                });
            }
        }
        // Empty segments at the end (a spare made ahead of need, or a rollover that wrote
        // nothing before the process died) hold nothing: drop them, so that the last segment
        // with records is the one whose tail may be torn.
        while nos.len() > 1 {
            let Some(&no) = nos.last() else { break };
            let path = sdir.join(segment_file_name(no));
            if !Self::segment_is_empty(&path) {
                break;
            }
            store.remove(&path)?;
            nos.pop();
        }
        for (i, &no) in nos.iter().enumerate() {
            let seg = store.open_segment(no, i + 1 == nos.len())?;
            store.segments.push(seg);
        }
        if store.segments.is_empty() {
            let seg = store.new_segment(state.epoch_first_segment)?;
            store.segments.push(seg);
        }
        store.next_target = state.target;
        store.next_sender = state.sender.max(store.last_seq.saturating_add(1));
        Ok(store)
    }

    /// The session's directory (its `seqnums` file and `*.seg` segments).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &MmapStoreConfig {
        &self.cfg
    }

    /// Where `open` found and dropped a torn last record (segment file, byte offset), if it did:
    /// worth a log line, since it means the previous process died in the middle of an append.
    pub fn torn_tail_dropped(&self) -> Option<(&Path, usize)> {
        self.torn_tail.as_ref().map(|(p, o)| (p.as_path(), *o))
    }

    /// Touches (writes a zero byte to) every page of the next `bytes` bytes of the current
    /// segment past the last record, so that the appends that fill them take no page fault.
    ///
    /// Meant for the runtime's idle loop (call it every few hundred microseconds with, say,
    /// 64 KiB): on a disk file system the kernel write-protects a mapped page until it is first
    /// written and again after each writeback, and that fault (a few microseconds) otherwise lands
    /// on an `append`. The bytes touched are beyond the journal's end, which is all zeros, so a
    /// crash at any point changes nothing. Returns the number of pages touched.
    pub fn prefault(&mut self, bytes: usize) -> usize {
        match self.segments.last_mut() {
            Some(seg) => seg.touch(bytes),
            None => 0,
        }
    }

    /// Idle-loop housekeeping, to keep the hot path free of page faults, file creation and
    /// allocation: [`prefault`](Self::prefault)s `prefault_bytes` ahead; once the current segment
    /// is half full, creates the next one ahead of need (preallocated, named and mapped, so that
    /// the rollover itself makes no syscall); and returns the unused index capacity of full
    /// segments. Cheap when there is nothing to do; call it whenever the session is idle.
    pub fn housekeeping(&mut self, prefault_bytes: usize) -> Result<(), StoreError> {
        self.prefault(prefault_bytes);
        let n = self.segments.len();
        for seg in self.segments.iter_mut().take(n.saturating_sub(1)) {
            if seg.index.capacity() > seg.index.len() {
                seg.index.shrink_to_fit();
            }
        }
        let want = match self.segments.last() {
            Some(cur) if self.spare.is_none() && cur.end > cur.map.len() / 2 => Some(cur.no + 1),
            _ => None,
        };
        if let Some(no) = want {
            self.spare = Some(self.create_spare(no)?);
            self.segments.reserve(1);
        }
        if let Some(sp) = self.spare.as_mut() {
            // The spare's first pages too (touch() covers pages 1.., the write at offset 64 page
            // 0), so that the append that rolls over takes no fault either.
            sp.touch(prefault_bytes);
            if let Some(first) = sp.map.get_mut(SEG_HDR) {
                *first = 0;
            }
        }
        Ok(())
    }

    /// Number of journal segments in the current epoch.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Paths of the current journal segments, oldest first.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    fn remove(&self, path: &Path) -> Result<(), StoreError> {
        fs::remove_file(path).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            op: "remove stale file",
            source,
        })
    }

    fn sync_dir(&self) -> Result<(), StoreError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| StoreError::Io {
                path: self.dir.clone(),
                op: "fsync store directory",
                source,
            })
    }

    /// True when the segment file has a whole header and no record at all (its first record
    /// header is all zeros). A file that cannot be read this way is not "empty": opening it
    /// reports what is wrong.
    fn segment_is_empty(path: &Path) -> bool {
        let Ok(f) = File::open(path) else {
            return false;
        };
        let mut b = [0u8; SEG_HDR + REC_HDR];
        if f.read_exact_at(&mut b, 0).is_err() {
            return false;
        }
        b[0..8] == SEG_MAGIC
            && u32_at(&b, 60) == crc32c(0, &[&b[..60]])
            && b[SEG_HDR..].iter().all(|&x| x == 0)
    }

    /// Index entries reserved for a segment of `len` bytes: one per 64 bytes, i.e. every record
    /// of a message of 48 bytes or more (any FIX message with its standard header). Only the
    /// pages used become resident. Smaller messages still work; the index then grows by
    /// reallocation.
    fn index_capacity(len: usize) -> usize {
        len.saturating_sub(SEG_HDR) / 64
    }

    /// Creates segment `no`: preallocated and given its header under a temporary name, then
    /// renamed into place (so a segment file always has a complete header) and mapped. An empty
    /// segment is harmless to a reopen (trailing empty segments are pruned), so a spare made
    /// ahead of need can carry its final name.
    fn create_spare(&self, no: u64) -> Result<Segment, StoreError> {
        let tmp = self.dir.join(format!("{}.tmp", segment_file_name(no)));
        let io = |op: &'static str| {
            let path = tmp.clone();
            move |source| StoreError::Io { path, op, source }
        };
        let durable = self.cfg.flush != FlushPolicy::None;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io("create journal segment"))?;
        super::sys::preallocate(&file, self.cfg.segment_bytes)
            .map_err(io("preallocate journal segment"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let salt = crc32c(
            self.key_hash,
            &[
                &nanos.to_le_bytes(),
                &no.to_le_bytes(),
                &std::process::id().to_le_bytes(),
            ],
        );
        let mut hdr = [0u8; SEG_HDR];
        hdr[0..8].copy_from_slice(&SEG_MAGIC);
        hdr[8..12].copy_from_slice(&SEG_VERSION.to_le_bytes());
        hdr[12..16].copy_from_slice(&(SEG_HDR as u32).to_le_bytes());
        hdr[16..24].copy_from_slice(&no.to_le_bytes());
        hdr[24..28].copy_from_slice(&salt.to_le_bytes());
        hdr[28..32].copy_from_slice(&self.key_hash.to_le_bytes());
        let c = crc32c(0, &[&hdr[..60]]);
        hdr[60..64].copy_from_slice(&c.to_le_bytes());
        file.write_all_at(&hdr, 0)
            .map_err(io("write journal segment header"))?;
        if durable {
            file.sync_all().map_err(io("fsync journal segment"))?;
        }
        let path = self.dir.join(segment_file_name(no));
        fs::rename(&tmp, &path).map_err(io("rename journal segment"))?;
        if durable {
            self.sync_dir()?;
        }
        let map = super::sys::map_file(&file).map_err(|source| StoreError::Io {
            path: path.clone(),
            op: "map journal segment",
            source,
        })?;
        let cap = Self::index_capacity(map.len());
        Ok(Segment {
            no,
            path,
            _file: file,
            map,
            salt,
            index: Vec::with_capacity(cap),
            end: SEG_HDR,
            dirty_from: SEG_HDR,
        })
    }

    /// Segment `no`, from the spare when it is that one, else created now.
    fn new_segment(&mut self, no: u64) -> Result<Segment, StoreError> {
        match self.spare.take() {
            Some(sp) if sp.no == no => Ok(sp),
            other => {
                if let Some(sp) = other {
                    let path = sp.path.clone();
                    drop(sp);
                    self.remove(&path)?;
                }
                self.create_spare(no)
            }
        }
    }

    fn open_segment(&mut self, no: u64, is_last: bool) -> Result<Segment, StoreError> {
        let path = self.dir.join(segment_file_name(no));
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| StoreError::Io { path, op, source }
        };
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.clone(),
            detail,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io("open journal segment"))?;
        let len = file.metadata().map_err(io("stat journal segment"))?.len();
        if len < SEG_HDR as u64 {
            return Err(corrupt(format!(
                "segment file is {len} bytes, shorter than its {SEG_HDR}-byte header"
            )));
        }
        if len > u64::from(u32::MAX) {
            return Err(corrupt(format!("segment file is {len} bytes, above 4 GiB")));
        }
        let mut map = super::sys::map_file(&file).map_err(io("map journal segment"))?;
        let h = &map[..SEG_HDR];
        if h[0..8] != SEG_MAGIC {
            return Err(corrupt("segment header: bad magic number".to_string()));
        }
        if u32_at(h, 60) != crc32c(0, &[&h[..60]]) {
            return Err(corrupt("segment header: checksum mismatch".to_string()));
        }
        let version = u32_at(h, 8);
        if version != SEG_VERSION || u32_at(h, 12) != SEG_HDR as u32 {
            return Err(corrupt(format!(
                "segment header: unsupported version {version}"
            )));
        }
        let hno = u64_at(h, 16);
        if hno != no {
            return Err(corrupt(format!(
                "segment header says segment {hno}, file name says {no}"
            )));
        }
        if u32_at(h, 28) != self.key_hash {
            return Err(corrupt(
                "segment belongs to another session key (key hash differs)".to_string(),
            ));
        }
        let salt = u32_at(h, 24);

        // Scan the records.
        let mut index = Vec::new();
        let mut p = SEG_HDR;
        let mut last = self.last_seq;
        let mut bad: Option<String> = None;
        while p + REC_HDR <= map.len() {
            if u32_at(&map, p) == 0 {
                if map[p..p + REC_HDR].iter().all(|&b| b == 0) {
                    break;
                }
                bad = Some("record has no commit marker (interrupted write)".to_string());
                break;
            }
            match check_record(&map, p, salt) {
                Ok((seq, mlen)) => {
                    if seq <= last {
                        return Err(corrupt(format!(
                            "record at offset {p} has MsgSeqNum {seq}, not above the previous \
                             {last}"
                        )));
                    }
                    index.push((seq, p as u32));
                    last = seq;
                    p += REC_HDR + align8(mlen);
                }
                Err(why) => {
                    bad = Some(why);
                    break;
                }
            }
        }
        let end = p.min(map.len());
        if let Some(why) = bad {
            if !is_last {
                return Err(corrupt(format!(
                    "record at offset {p} is damaged ({why}) and later segments follow"
                )));
            }
            // A torn tail has nothing valid after it; anything valid there means real damage.
            let mut q = p + 8;
            while q + REC_HDR <= map.len() {
                if u32_at(&map, q) == COMMIT {
                    if let Ok((s, _)) = check_record(&map, q, salt) {
                        return Err(corrupt(format!(
                            "record at offset {p} is damaged ({why}) but a valid record \
                             (MsgSeqNum {s}) follows at offset {q}"
                        )));
                    }
                }
                q += 8;
            }
            // Torn last write: drop it, and zero its bytes so that nothing of it survives.
            for chunk in map[p..].chunks_mut(4096) {
                if chunk.iter().any(|&b| b != 0) {
                    chunk.fill(0);
                }
            }
            map.flush_range(p, map.len() - p)
                .map_err(io("msync journal segment"))?;
            self.torn_tail = Some((path.clone(), p));
        }
        if is_last {
            let cap = Self::index_capacity(map.len());
            index.reserve_exact(cap.saturating_sub(index.len()));
        } else {
            index.shrink_to_fit();
        }
        self.last_seq = last;
        Ok(Segment {
            no,
            path,
            _file: file,
            map,
            salt,
            index,
            end,
            dirty_from: end,
        })
    }

    /// Seals the current segment and starts the next one.
    fn roll(&mut self) -> Result<(), StoreError> {
        let durable = self.cfg.flush != FlushPolicy::None;
        let no = match self.segments.last_mut() {
            Some(cur) => {
                if durable {
                    cur.flush_dirty()?;
                }
                cur.no + 1
            }
            None => self.seq.state().epoch_first_segment,
        };
        let seg = self.new_segment(no)?;
        self.segments.push(seg);
        Ok(())
    }

    fn after_write(&mut self, journal: bool) -> Result<(), StoreError> {
        match self.cfg.flush {
            FlushPolicy::None => Ok(()),
            FlushPolicy::EveryMessage => {
                if journal {
                    if let Some(cur) = self.segments.last_mut() {
                        cur.flush_dirty()?;
                    }
                    Ok(())
                } else {
                    self.seq.flush()
                }
            }
            FlushPolicy::Batched { every_messages } => {
                self.pending += 1;
                if self.pending >= every_messages.max(1) {
                    self.flush_all()
                } else {
                    Ok(())
                }
            }
        }
    }

    fn flush_all(&mut self) -> Result<(), StoreError> {
        for seg in &mut self.segments {
            seg.flush_dirty()?;
        }
        self.seq.flush()?;
        self.pending = 0;
        Ok(())
    }

    fn persist_numbers(&mut self) -> Result<(), StoreError> {
        let epoch = self.seq.state().epoch_first_segment;
        self.seq.write(SeqState {
            sender: self.next_sender,
            target: self.next_target,
            epoch_first_segment: epoch,
        });
        self.after_write(false)
    }
}

impl MessageStore for MmapStore {
    fn next_sender_seq(&self) -> u32 {
        self.next_sender
    }

    fn next_target_seq(&self) -> u32 {
        self.next_target
    }

    fn set_next_sender_seq(&mut self, seq: u32) -> Result<(), StoreError> {
        check_set_sender(seq, self.last_seq)?;
        self.next_sender = seq;
        self.persist_numbers()
    }

    fn set_next_target_seq(&mut self, seq: u32) -> Result<(), StoreError> {
        check_set_target(seq)?;
        self.next_target = seq;
        self.persist_numbers()
    }

    fn append(&mut self, seq: u32, msg: &[u8]) -> Result<(), StoreError> {
        check_append(
            seq,
            msg.len(),
            self.cfg.max_message,
            self.next_sender,
            self.last_seq,
        )?;
        let rec = REC_HDR + align8(msg.len());
        let fits = self
            .segments
            .last()
            .is_some_and(|s| s.end + rec <= s.map.len());
        if !fits {
            self.roll()?;
        }
        let Some(seg) = self.segments.last_mut() else {
            unreachable!("roll() leaves a current segment");
        };
        let p = seg.end;
        write_record(&mut seg.map[p..p + rec], seq, msg, seg.salt);
        seg.index.push((seq, p as u32));
        seg.end = p + rec;
        self.last_seq = seq;
        self.next_sender = seq + 1;
        self.after_write(true)
    }

    fn for_each_in_range(
        &self,
        begin: u32,
        end: u32,
        f: &mut dyn FnMut(u32, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if begin > end {
            return Ok(());
        }
        for seg in &self.segments {
            match seg.index.last() {
                Some(&(last, _)) if last >= begin => {}
                _ => continue,
            }
            let start = seg.index.partition_point(|e| e.0 < begin);
            for &(s, off) in &seg.index[start..] {
                if s > end {
                    return Ok(());
                }
                if !f(s, seg.message(off, s)?) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn last_stored_seq(&self) -> u32 {
        self.last_seq
    }

    fn reset(&mut self) -> Result<(), StoreError> {
        let durable = self.cfg.flush != FlushPolicy::None;
        let first = self.segments.last().map_or(1, |s| s.no + 1);
        // 1. The new epoch is recorded: from now on older segments are stale, whatever happens.
        self.seq.write(SeqState {
            sender: 1,
            target: 1,
            epoch_first_segment: first,
        });
        if durable {
            self.seq.flush()?;
        }
        self.next_sender = 1;
        self.next_target = 1;
        self.last_seq = 0;
        self.pending = 0;
        // 2. Old segments go (open() removes them too if we die before this).
        let old = std::mem::take(&mut self.segments);
        for seg in old {
            let path = seg.path.clone();
            drop(seg);
            self.remove(&path)?;
        }
        // 3. The new epoch's first segment, created now rather than on the next append.
        let seg = self.new_segment(first)?;
        self.segments.push(seg);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.flush_all()
    }

    fn idle_work(&mut self) -> Result<(), StoreError> {
        self.housekeeping(super::IDLE_PREFAULT_BYTES)
    }
}

impl Drop for MmapStore {
    fn drop(&mut self) {
        if self.cfg.flush != FlushPolicy::None {
            let _ = self.flush_all();
        }
        if let Some(sp) = self.spare.take() {
            let path = sp.path.clone();
            drop(sp);
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_segment_name(&segment_file_name(42)), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.seg"), None);
        let a = session_dir_name("FIX.4.4:A->B");
        let b = session_dir_name("FIX.4.4_A-_B");
        assert!(a.starts_with("FIX.4.4_A-_B-"), "{a}");
        assert_ne!(a, b);
        assert!(!session_dir_name("../../etc").contains('/'));
    }

    /// A segment-sized buffer holding `msgs` as consecutive records (what `append` writes).
    fn journal(msgs: &[(u32, &[u8])], salt: u32) -> (Vec<u8>, Vec<usize>) {
        let mut map = vec![0u8; 512];
        let mut offs = Vec::new();
        let mut p = SEG_HDR;
        for &(seq, m) in msgs {
            let rec = REC_HDR + align8(m.len());
            write_record(&mut map[p..p + rec], seq, m, salt);
            offs.push(p);
            p += rec;
        }
        (map, offs)
    }

    // Pure byte-level code: also runs under miri (`scripts/ci/miri.sh`).
    #[test]
    fn records_round_trip_and_every_damage_is_detected() {
        let msgs: [(u32, &[u8]); 4] =
            [(1, b""), (2, b"8=FIX.4.4\x01"), (7, &[0xAB; 13]), (9, b"x")];
        let salt = 0x1234_5678;
        let (map, offs) = journal(&msgs, salt);
        for (&(seq, m), &p) in msgs.iter().zip(&offs) {
            assert_eq!(check_record(&map, p, salt), Ok((seq, m.len())));
            assert_eq!(&map[p + REC_HDR..p + REC_HDR + m.len()], m);
            // Padding is zero: a later record never starts inside this one.
            assert!(map[p + REC_HDR + m.len()..p + REC_HDR + align8(m.len())]
                .iter()
                .all(|&b| b == 0));
            // Another segment's salt: the record does not belong here.
            assert!(check_record(&map, p, salt ^ 1).is_err());
        }
        // Every single-bit flip in a record (header, message, CRC) is caught.
        let p = offs[2];
        for i in 0..REC_HDR + 13 {
            for bit in 0..8 {
                let mut d = map.clone();
                d[p + i] ^= 1 << bit;
                assert!(
                    check_record(&d, p, salt).is_err(),
                    "flip of bit {bit} at byte {i}"
                );
            }
        }
        // A torn write: everything but the commit marker (written last) is not a record.
        let mut torn = vec![0u8; 64];
        write_record(&mut torn[..REC_HDR + 8], 3, b"abc", salt);
        torn[0..4].fill(0);
        assert!(check_record(&torn, 0, salt).is_err());
    }

    #[test]
    fn record_length_past_the_segment_end_is_refused_without_reading_it() {
        let (mut map, offs) = journal(&[(5, b"hello")], 9);
        let p = offs[0];
        for len in [u32::MAX, (map.len() - p - REC_HDR + 1) as u32, 1 << 31] {
            map[p + 4..p + 8].copy_from_slice(&len.to_le_bytes());
            let e = check_record(&map, p, 9).unwrap_err();
            assert!(e.contains("past the end"), "{e}");
        }
        // MsgSeqNum 0 is never a record, even with a correct CRC.
        let (map, offs) = journal(&[(0, b"zero")], 9);
        assert_eq!(check_record(&map, offs[0], 9).unwrap_err(), "MsgSeqNum 0");
    }
}
