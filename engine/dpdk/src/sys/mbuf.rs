//! Packet buffer pools and mbufs.

use std::ffi::CString;
use std::ptr::NonNull;

use super::bindings::{self, rte_mbuf, rte_mempool};
use super::Eal;
use crate::config::MempoolConfig;
use crate::error::{Error, Result};

/// A DPDK mbuf pool. Pools live until the process exits (DPDK drivers and in-flight mbufs may
/// point into them at any time), so a `Mempool` is a `Copy` handle.
#[derive(Clone, Copy, Debug)]
pub struct Mempool {
    ptr: NonNull<rte_mempool>,
    mbufs: u32,
    cache: u32,
    data_room: u16,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe (the default ring ops); the pointer
// is never freed.
unsafe impl Send for Mempool {}
// SAFETY: as above, every operation on a pool is thread-safe.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool on the calling thread's NUMA socket (`rte_pktmbuf_pool_create`).
    pub fn create(eal: &Eal, cfg: &MempoolConfig) -> Result<Mempool> {
        Mempool::create_on(eal, cfg, eal.socket_id())
    }

    /// Creates a pool on NUMA socket `socket` (use the port's, [`Eal::port_socket`]).
    pub fn create_on(eal: &Eal, cfg: &MempoolConfig, socket: u32) -> Result<Mempool> {
        let name = CString::new(cfg.name.as_str())
            .map_err(|_| Error::InvalidConfig(format!("mempool name {:?} has a NUL", cfg.name)))?;
        if cfg.mbufs == 0 || u32::from(cfg.data_room) <= bindings::RTE_PKTMBUF_HEADROOM {
            return Err(Error::InvalidConfig(format!(
                "mempool {:?}: need mbufs > 0 and data_room > headroom {}",
                cfg.name,
                bindings::RTE_PKTMBUF_HEADROOM
            )));
        }
        let _ = eal;
        // SOCKET_ID_ANY (-1) round-trips through u32 unchanged.
        let socket = socket as i32;
        // SAFETY: name is a valid C string; EAL is initialised (eal exists); numeric args are
        // validated by DPDK, which reports bad ones through rte_errno and NULL.
        let p = unsafe {
            bindings::rte_pktmbuf_pool_create(
                name.as_ptr(),
                cfg.mbufs,
                cfg.cache,
                0,
                cfg.data_room,
                socket,
            )
        };
        let ptr = NonNull::new(p).ok_or_else(|| {
            super::err_errno(
                "rte_pktmbuf_pool_create",
                &format!(
                    "{:?}: {} mbufs, cache {}, data room {}",
                    cfg.name, cfg.mbufs, cfg.cache, cfg.data_room
                ),
            )
        })?;
        Ok(Mempool {
            ptr,
            mbufs: cfg.mbufs,
            cache: cfg.cache,
            data_room: cfg.data_room,
        })
    }

    /// Takes one mbuf from the pool (`rte_pktmbuf_alloc`), `None` when the pool is empty.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: ptr is a live pktmbuf pool (never freed).
        NonNull::new(unsafe { bindings::fixdpdk_pktmbuf_alloc(self.ptr.as_ptr()) }).map(Mbuf)
    }

    /// The sizes the pool was created with (`name` is not kept).
    pub fn config(&self) -> MempoolConfig {
        MempoolConfig {
            name: String::new(),
            mbufs: self.mbufs,
            cache: self.cache,
            data_room: self.data_room,
        }
    }

    /// Free mbufs in the pool (including per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: ptr is a live pool.
        unsafe { bindings::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Mbufs taken from the pool and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: ptr is a live pool.
        unsafe { bindings::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut rte_mempool {
        self.ptr.as_ptr()
    }
}

/// An owned mbuf (single- or multi-segment packet); returned to its pool on drop.
///
/// `#[repr(transparent)]` over a non-null pointer, so `[Option<Mbuf>]` has the layout of a C
/// `struct rte_mbuf *[]` and bursts need no conversion.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf(NonNull<rte_mbuf>);

// SAFETY: an mbuf is exclusively owned by this value; DPDK allows freeing it from any thread.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Bytes of the first segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let p = self.0.as_ptr();
        // SAFETY: we own the mbuf; mtod points at data_len initialised bytes of its first segment,
        // valid while we hold &self.
        unsafe {
            let len = bindings::fixdpdk_pktmbuf_data_len(p) as usize;
            std::slice::from_raw_parts(bindings::fixdpdk_pktmbuf_mtod(p), len)
        }
    }

    /// Bytes of the first segment, mutably.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let p = self.0.as_ptr();
        // SAFETY: as in data(); &mut self gives exclusive access.
        unsafe {
            let len = bindings::fixdpdk_pktmbuf_data_len(p) as usize;
            std::slice::from_raw_parts_mut(bindings::fixdpdk_pktmbuf_mtod(p), len)
        }
    }

    /// Length of the first segment.
    #[inline]
    pub fn data_len(&self) -> usize {
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_data_len(self.0.as_ptr()) as usize }
    }

    /// Length of the whole packet (all segments).
    #[inline]
    pub fn pkt_len(&self) -> usize {
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_pkt_len(self.0.as_ptr()) as usize }
    }

    /// Number of segments.
    #[inline]
    pub fn segments(&self) -> u16 {
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_nb_segs(self.0.as_ptr()) }
    }

    /// Free bytes before the data.
    pub fn headroom(&self) -> usize {
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_headroom(self.0.as_ptr()) as usize }
    }

    /// Free bytes after the data of the last segment.
    pub fn tailroom(&self) -> usize {
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_tailroom(self.0.as_ptr()) as usize }
    }

    /// Extends the data by `len` bytes at the end and returns them (uninitialised contents are
    /// whatever the buffer held: write all of them). `None` when the tailroom is too small.
    #[inline]
    pub fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        // SAFETY: we own a valid mbuf; on success DPDK returns a pointer to len bytes inside the
        // buffer that now belong to the data, borrowed mutably through &mut self.
        unsafe {
            let p = bindings::fixdpdk_pktmbuf_append(self.0.as_ptr(), len16);
            (!p.is_null()).then(|| std::slice::from_raw_parts_mut(p, len))
        }
    }

    /// Extends the data by `len` bytes at the front and returns them. `None` when the headroom is
    /// too small.
    pub fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        let len16 = u16::try_from(len).ok()?;
        // SAFETY: as in append().
        unsafe {
            let p = bindings::fixdpdk_pktmbuf_prepend(self.0.as_ptr(), len16);
            (!p.is_null()).then(|| std::slice::from_raw_parts_mut(p, len))
        }
    }

    /// Removes `len` bytes from the end. False (nothing changed) when the last segment is shorter.
    pub fn trim(&mut self, len: usize) -> bool {
        let Ok(len16) = u16::try_from(len) else {
            return false;
        };
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_trim(self.0.as_ptr(), len16) == 0 }
    }

    /// Resets the mbuf to empty (default headroom, one segment).
    pub fn reset(&mut self) {
        // SAFETY: we own a valid mbuf.
        unsafe { bindings::fixdpdk_pktmbuf_reset(self.0.as_ptr()) }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; it is freed exactly once, here.
        unsafe { bindings::fixdpdk_pktmbuf_free(self.0.as_ptr()) }
    }
}
