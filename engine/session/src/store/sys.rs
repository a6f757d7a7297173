//! The store's system-level pieces, and the only `unsafe` code in it: memory maps, the advisory
//! file lock, block preallocation and the SSE4.2 CRC-32C instruction.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use memmap2::{MmapMut, MmapOptions};

/// Maps the whole of `file` read-write and shared. Pages are not populated up front (that would
/// make a whole preallocated segment resident at once); the store prefaults the few pages its
/// next appends need instead (`MmapStore::housekeeping`).
pub(crate) fn map_file(file: &File) -> io::Result<MmapMut> {
    let opts = MmapOptions::new();
    // SAFETY: the store's files live in a directory owned by one store instance at a time (it
    // holds an exclusive `flock` on the session's sequence-number file for as long as it is
    // open), and the store never truncates a file it has mapped. Another process truncating the
    // files behind our back is outside the contract (documented: it would raise SIGBUS).
    unsafe { opts.map_mut(file) }
}

/// Takes an exclusive advisory lock on `file` without blocking; `WouldBlock` when another process
/// (or another open store in this one) holds it. Released when the file is closed.
pub(crate) fn lock_exclusive(file: &File) -> io::Result<()> {
    // SAFETY: flock only reads its integer arguments; the descriptor is valid while `file` lives.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes `file` `len` bytes long with its blocks allocated (fallocate), so that writing through a
/// map never fails for lack of space and allocates no blocks on the hot path. Falls back to a
/// sparse `set_len` on file systems without fallocate.
pub(crate) fn preallocate(file: &File, len: u64) -> io::Result<()> {
    let off_len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "segment too large"))?;
    // SAFETY: fallocate only reads its integer arguments; the descriptor is valid while `file`
    // lives.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, off_len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(len),
        _ => Err(err),
    }
}

/// CRC-32C update of a raw (non-inverted) state with the SSE4.2 instruction when this CPU has
/// it, the portable table otherwise.
#[cfg(target_arch = "x86_64")]
pub(crate) fn crc32c_update_sse42(crc: u32, data: &[u8]) -> u32 {
    if std::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU supports SSE4.2, checked on the line above.
        unsafe { crc32c_sse42(crc, data) }
    } else {
        super::crc::update_soft(crc, data)
    }
}

/// # Safety
/// The CPU must support SSE4.2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = crc as u64;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        c = _mm_crc32_u64(c, u64::from_le_bytes(w));
    }
    let mut c = c as u32;
    for &b in chunks.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    c
}
