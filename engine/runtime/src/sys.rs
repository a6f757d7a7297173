//! The only module with `unsafe`: raw memory for io_uring's provided buffer ring, page
//! pre-faulting, `mlockall`, and the Ctrl-C (SIGINT/SIGTERM) flag.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

/// Touches every page of `buf` so that later use does not page-fault.
pub fn prefault(buf: &mut [u8]) {
    let mut i = 0;
    while i < buf.len() {
        // SAFETY: `i < buf.len()`, so the pointer is inside the slice; a volatile write keeps
        // the compiler from eliding the touch.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 0) };
        i += 4096;
    }
}

/// Locks all current and future pages in memory (`mlockall(MCL_CURRENT | MCL_FUTURE)`).
pub fn mlockall() -> io::Result<()> {
    // SAFETY: mlockall takes flags only and touches no Rust-visible memory.
    let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    // Async-signal-safe: a single atomic store.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGINT and SIGTERM handlers that set the flag read by [`stop_requested`].
pub fn install_stop_handler() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is an `extern "C"` function that only performs an atomic store,
        // which is async-signal-safe; `signal` has no other memory effects.
        let r = unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
        if r == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// True once SIGINT or SIGTERM was received (after [`install_stop_handler`]).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Page-aligned anonymous memory from `mmap`, freed on drop.
struct Mmap {
    ptr: *mut u8,
    len: usize,
}

impl Mmap {
    fn new(len: usize) -> io::Result<Mmap> {
        // SAFETY: anonymous private mapping with no fixed address: no existing memory is
        // affected; the result is checked for MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` come from a successful mmap and are unmapped exactly once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A provided-buffer ring (`IORING_REGISTER_PBUF_RING`): `count` ring entries and `count`
/// buffers of `size` bytes, all in one page-aligned, pre-faulted mapping.
///
/// The kernel picks a buffer for each multishot receive completion and reports its id; the
/// owner reads it with [`BufRing::buf`] and gives it back with [`BufRing::recycle`].
pub struct BufRing {
    ring: Mmap,
    bufs: Mmap,
    count: u16,
    size: u32,
    tail: u16,
}

// SAFETY: the mapping is owned exclusively by this value; moving it to another thread moves
// that exclusive ownership (the kernel side is tied to the io_uring instance, moved with it).
unsafe impl Send for BufRing {}

const ENTRY: usize = 16; // sizeof(struct io_uring_buf)

impl BufRing {
    /// Allocates the ring (`count` a power of two, at most 32768) and fills it with every buffer.
    pub fn new(count: u16, size: u32) -> io::Result<BufRing> {
        if !count.is_power_of_two() || count > 32768 || size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer ring: count must be a power of two <= 32768 and size > 0",
            ));
        }
        let ring = Mmap::new(usize::from(count) * ENTRY)?;
        let bufs = Mmap::new(usize::from(count) * size as usize)?;
        let mut r = BufRing {
            ring,
            bufs,
            count,
            size,
            tail: 0,
        };
        for bid in 0..count {
            r.put(bid);
        }
        r.publish();
        Ok(r)
    }

    /// Address of the ring entries, for registration.
    pub fn ring_addr(&self) -> u64 {
        self.ring.ptr as u64
    }

    /// Number of entries.
    pub fn count(&self) -> u16 {
        self.count
    }

    /// Size of each buffer.
    pub fn buf_size(&self) -> u32 {
        self.size
    }

    fn put(&mut self, bid: u16) {
        let idx = usize::from(self.tail & (self.count - 1));
        let addr = self.bufs.ptr as u64 + u64::from(bid) * u64::from(self.size);
        // SAFETY: `idx < count`, so the 16-byte entry lies inside the ring mapping; the entry is
        // not visible to the kernel until the tail is published past it. The layout is
        // `struct io_uring_buf { u64 addr; u32 len; u16 bid; u16 resv; }` (resv of entry 0 is
        // the shared tail, which is not written here).
        unsafe {
            let e = self.ring.ptr.add(idx * ENTRY);
            std::ptr::write(e.cast::<u64>(), addr);
            std::ptr::write(e.add(8).cast::<u32>(), self.size);
            std::ptr::write(e.add(12).cast::<u16>(), bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail is the u16 at byte 14 of entry 0, inside the mapping and 2-byte
        // aligned; the kernel reads it concurrently, so it is written atomically with Release
        // ordering, which orders the entry writes before it.
        let tail = unsafe { &*(self.ring.ptr.add(14) as *const AtomicU16) };
        tail.store(self.tail, Ordering::Release);
    }

    /// Gives buffer `bid` back to the kernel.
    pub fn recycle(&mut self, bid: u16) {
        self.put(bid % self.count);
        self.publish();
    }

    /// The first `len` bytes of buffer `bid` (clamped to the buffer size).
    pub fn buf(&self, bid: u16, len: usize) -> &[u8] {
        let bid = bid % self.count;
        let len = len.min(self.size as usize);
        // SAFETY: `bid < count` and `len <= size`, so the range lies inside the buffer mapping;
        // the kernel wrote this buffer before posting the completion that gave us `bid`, and it
        // does not touch it again until `recycle(bid)` (which needs `&mut self`, so no borrow
        // from here can outlive it).
        unsafe {
            std::slice::from_raw_parts(
                self.bufs.ptr.add(usize::from(bid) * self.size as usize),
                len,
            )
        }
    }
}

/// Shuts a socket down in both directions (wakes any pending operation on it).
pub fn shutdown(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown on a descriptor we own; no memory is passed.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
