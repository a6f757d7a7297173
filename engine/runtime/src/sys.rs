//! System calls and raw memory behind safe functions: io_uring's provided buffer ring, page
//! pre-faulting, `mlockall`, socket shutdown and the Ctrl-C (SIGINT/SIGTERM) flag.
//!
//! With [`crate::transport::uring_sys`] (the io_uring submissions that lend memory to the kernel)
//! this is the only module of the crate with `unsafe`.

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
///
/// Which buffers the owner holds is tracked (one bit each): a buffer becomes readable only when
/// [`BufRing::claim`] says a completion handed it over, and only a held buffer can be recycled,
/// so no safe call can read a buffer the kernel may be writing or give one back twice.
pub struct BufRing {
    ring: Mmap,
    bufs: Mmap,
    count: u16,
    size: u32,
    tail: u16,
    /// Bit `bid` set: buffer `bid` is held by the owner (not the kernel).
    held: Box<[u64]>,
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
            held: vec![0u64; usize::from(count).div_ceil(64)].into_boxed_slice(),
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

    fn is_held(&self, bid: u16) -> bool {
        bid < self.count && self.held[usize::from(bid / 64)] & (1 << (bid % 64)) != 0
    }

    /// Records that a completion handed buffer `bid` to the owner; false (and nothing recorded)
    /// if `bid` is out of range or already held.
    ///
    /// # Safety
    /// The kernel must have posted a completion selecting buffer `bid` of this ring, and the
    /// buffer must not have been recycled since: from now on the kernel does not write it, so
    /// [`BufRing::buf`] may lend it.
    pub unsafe fn claim(&mut self, bid: u16) -> bool {
        if bid >= self.count || self.is_held(bid) {
            return false;
        }
        self.held[usize::from(bid / 64)] |= 1 << (bid % 64);
        true
    }

    /// Gives buffer `bid` back to the kernel (ignored unless the owner holds it).
    pub fn recycle(&mut self, bid: u16) {
        if !self.is_held(bid) {
            return;
        }
        self.held[usize::from(bid / 64)] &= !(1 << (bid % 64));
        self.put(bid);
        self.publish();
    }

    /// The first `len` bytes of buffer `bid` (clamped to the buffer size); empty unless the
    /// owner holds the buffer.
    pub fn buf(&self, bid: u16, len: usize) -> &[u8] {
        if !self.is_held(bid) {
            return &[];
        }
        let len = len.min(self.size as usize);
        // SAFETY: `bid < count` and `len <= size`, so the range lies inside the buffer mapping;
        // the buffer is held (`claim` was called for the completion that handed it over), so the
        // kernel wrote it before that completion and does not touch it again until
        // `recycle(bid)`, which needs `&mut self`, so no borrow from here can outlive it.
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

/// Starts a non-blocking TCP connect to `addr` (`socket(SOCK_NONBLOCK)` + `connect`, which
/// returns at once with the handshake in progress). Poll the result with [`connect_result`].
pub fn tcp_connect_start(addr: std::net::SocketAddr) -> io::Result<std::net::TcpStream> {
    use std::os::fd::FromRawFd;
    let (family, storage, len) = sockaddr(addr);
    // SAFETY: socket takes plain integers and returns a new descriptor or -1.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a descriptor we just created and own; the TcpStream takes ownership and
    // closes it on drop (also on the error path below).
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    // SAFETY: `storage` is a sockaddr_storage holding a sockaddr_in/sockaddr_in6 of `len` bytes,
    // valid for the duration of the call.
    let r = unsafe {
        libc::connect(
            fd,
            (&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
            len,
        )
    };
    if r == 0 {
        return Ok(stream);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        Ok(stream)
    } else {
        Err(e)
    }
}

/// State of a connect started by [`tcp_connect_start`]: `Ok(true)` connected, `Ok(false)` still
/// in progress, `Err` failed (refused, unreachable, ...).
pub fn connect_result(s: &std::net::TcpStream) -> io::Result<bool> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Ok(false),
        Err(e) => Err(e),
    }
}

fn sockaddr(addr: std::net::SocketAddr) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in is smaller than sockaddr_storage and both are plain data;
            // the write is in bounds and suitably aligned (storage is the most aligned).
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                )
            };
            (
                libc::AF_INET,
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    (&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
            (
                libc::AF_INET6,
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_ring_lends_only_held_buffers() {
        let mut r = BufRing::new(4, 64).unwrap();
        assert!(
            r.buf(1, 10).is_empty(),
            "the kernel owns every buffer at first"
        );
        r.recycle(1); // not held: ignored
        assert_eq!(r.tail, 4);
        // SAFETY: test only; no kernel is attached to this ring, nothing writes the buffers.
        assert!(unsafe { r.claim(1) });
        // SAFETY: as above.
        assert!(!unsafe { r.claim(1) }, "already held");
        // SAFETY: as above.
        assert!(!unsafe { r.claim(4) }, "out of range");
        assert_eq!(r.buf(1, 10).len(), 10);
        assert_eq!(r.buf(1, 1000).len(), 64, "clamped to the buffer size");
        r.recycle(1);
        assert_eq!(r.tail, 5);
        assert!(r.buf(1, 10).is_empty(), "given back");
        r.recycle(1);
        assert_eq!(r.tail, 5, "a second recycle is ignored");
    }

    #[test]
    fn nonblocking_connect_succeeds_and_fails() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = tcp_connect_start(l.local_addr().unwrap()).unwrap();
        let t0 = std::time::Instant::now();
        while !connect_result(&s).unwrap() {
            assert!(t0.elapsed().as_secs() < 5, "connect did not complete");
            std::thread::yield_now();
        }
        let (a, _) = l.accept().unwrap();
        assert_eq!(a.peer_addr().unwrap(), s.local_addr().unwrap());
        // Nobody listens on a port just freed: refused.
        let port = l.local_addr().unwrap().port();
        drop((l, a));
        let s = tcp_connect_start(([127, 0, 0, 1], port).into()).unwrap();
        let t0 = std::time::Instant::now();
        let r = loop {
            match connect_result(&s) {
                Ok(false) => {
                    assert!(t0.elapsed().as_secs() < 5, "refusal not seen");
                    std::thread::yield_now();
                }
                r => break r,
            }
        };
        assert!(r.is_err(), "{r:?}");
    }
}
