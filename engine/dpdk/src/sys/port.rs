//! Ethernet ports: one RX and one TX queue, burst receive/transmit into caller-provided arrays.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};

use super::bindings;
use super::{Eal, Mbuf, Mempool};
use crate::config::PortConfig;
use crate::error::{Error, Result};

/// Port counters (`rte_eth_stats_get`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames the NIC dropped because the RX ring was full (the poll loop was too slow).
    pub rx_missed: u64,
    /// Erroneous received frames.
    pub rx_errors: u64,
    /// Failed transmissions.
    pub tx_errors: u64,
    /// RX mbuf allocation failures (pool too small).
    pub rx_nombuf: u64,
}

/// A started Ethernet port with queue 0 for RX and TX. Stopped and closed on drop.
///
/// Not `Sync`: a queue is polled by one thread. `Send`, so it can move to its polling thread.
#[derive(Debug)]
pub struct Port {
    id: u16,
    pool: Mempool,
    cfg: PortConfig,
}

static RING_SEQ: AtomicU32 = AtomicU32::new(0);

impl Port {
    /// Configures and starts port `id`: one RX queue fed from `pool`, one TX queue, ring sizes
    /// and promiscuous mode from `cfg`.
    pub fn open(eal: &Eal, id: u16, cfg: &PortConfig, pool: Mempool) -> Result<Port> {
        let ctx = format!("port {id}");
        // SAFETY: EAL is initialised; id is checked by DPDK (an unknown id gives -ENODEV).
        let rc = unsafe { bindings::fixdpdk_port_configure(id, 1, 1) };
        if rc < 0 {
            return Err(super::err_rc("rte_eth_dev_configure", rc, &ctx));
        }
        // The port's NUMA node, or SOCKET_ID_ANY (-1 as unsigned) for virtual devices, which the
        // queue setup calls accept.
        let socket = eal
            .port_socket(id)
            .unwrap_or(bindings::SOCKET_ID_ANY as u32);
        // SAFETY: port configured with one RX queue; NULL conf selects the driver defaults; the
        // pool is a live pktmbuf pool that outlives the port (pools are never freed).
        let rc = unsafe {
            bindings::rte_eth_rx_queue_setup(
                id,
                0,
                cfg.rx_ring,
                socket,
                std::ptr::null(),
                pool.as_ptr(),
            )
        };
        if rc < 0 {
            return Err(super::err_rc(
                "rte_eth_rx_queue_setup",
                rc,
                &format!("{ctx}, {} descriptors", cfg.rx_ring),
            ));
        }
        // SAFETY: as above for the TX queue.
        let rc = unsafe {
            bindings::rte_eth_tx_queue_setup(id, 0, cfg.tx_ring, socket, std::ptr::null())
        };
        if rc < 0 {
            return Err(super::err_rc(
                "rte_eth_tx_queue_setup",
                rc,
                &format!("{ctx}, {} descriptors", cfg.tx_ring),
            ));
        }
        if cfg.promiscuous {
            // SAFETY: valid configured port.
            let rc = unsafe { bindings::rte_eth_promiscuous_enable(id) };
            if rc < 0 && rc != -95 {
                // -ENOTSUP: the virtual device has no such mode; harmless.
                return Err(super::err_rc("rte_eth_promiscuous_enable", rc, &ctx));
            }
        }
        // SAFETY: queues are set up.
        let rc = unsafe { bindings::rte_eth_dev_start(id) };
        if rc < 0 {
            return Err(super::err_rc("rte_eth_dev_start", rc, &ctx));
        }
        Ok(Port {
            id,
            pool,
            cfg: cfg.clone(),
        })
    }

    /// Opens the port of the device named `name` (vdev name or PCI address).
    pub fn open_by_name(eal: &Eal, name: &str, cfg: &PortConfig, pool: Mempool) -> Result<Port> {
        let id = eal.port_by_name(name)?;
        Port::open(eal, id, cfg, pool)
    }

    /// Two ports wired back to back over two `rte_ring`s (DPDK's net_ring driver): what one sends
    /// the other receives. For tests and in-process pipelines.
    pub fn ring_pair(eal: &Eal, cfg: &PortConfig, pool: Mempool) -> Result<(Port, Port)> {
        let seq = RING_SEQ.fetch_add(1, Ordering::Relaxed);
        let size = u32::from(cfg.rx_ring.max(cfg.tx_ring))
            .next_power_of_two()
            .max(16);
        let mut rings = [std::ptr::null_mut(); 2];
        for (i, r) in rings.iter_mut().enumerate() {
            let name = CString::new(format!("fxr{seq}_{i}"))
                .map_err(|_| Error::InvalidConfig("ring name".into()))?;
            // SAFETY: EAL initialised; name valid; size is a power of two; SP/SC flags.
            *r = unsafe {
                bindings::rte_ring_create(
                    name.as_ptr(),
                    size,
                    bindings::SOCKET_ID_ANY,
                    bindings::RING_F_SP_ENQ | bindings::RING_F_SC_DEQ,
                )
            };
            if r.is_null() {
                return Err(super::err_errno(
                    "rte_ring_create",
                    &format!("ring of {size}"),
                ));
            }
        }
        let mut ids = [0u16; 2];
        for (i, id) in ids.iter_mut().enumerate() {
            let name = CString::new(format!("net_ringpair{seq}_{i}"))
                .map_err(|_| Error::InvalidConfig("port name".into()))?;
            let rx = [rings[i]];
            let tx = [rings[1 - i]];
            // SAFETY: the ring pointers are live rings created above (never freed while the
            // ports exist: ports and rings live to process exit); arrays hold 1 entry each.
            let rc = unsafe {
                bindings::rte_eth_from_rings(name.as_ptr(), rx.as_ptr(), 1, tx.as_ptr(), 1, 0)
            };
            if rc < 0 {
                return Err(super::err_errno(
                    "rte_eth_from_rings",
                    &format!("pair {seq} port {i}"),
                ));
            }
            *id = rc as u16;
        }
        let a = Port::open(eal, ids[0], cfg, pool)?;
        let b = Port::open(eal, ids[1], cfg, pool)?;
        Ok((a, b))
    }

    /// The DPDK port id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The configuration the port was opened with.
    pub fn config(&self) -> &PortConfig {
        &self.cfg
    }

    /// The pool RX buffers come from (and TX buffers should come from).
    pub fn pool(&self) -> Mempool {
        self.pool
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6]> {
        let mut a = bindings::rte_ether_addr { addr_bytes: [0; 6] };
        // SAFETY: valid port id; a is a valid out-pointer.
        let rc = unsafe { bindings::rte_eth_macaddr_get(self.id, &mut a) };
        if rc < 0 {
            return Err(super::err_rc(
                "rte_eth_macaddr_get",
                rc,
                &format!("port {}", self.id),
            ));
        }
        Ok(a.addr_bytes)
    }

    /// True when the link is up (without waiting).
    pub fn link_up(&self) -> Result<bool> {
        // SAFETY: valid port id.
        let rc = unsafe { bindings::fixdpdk_link_up(self.id) };
        if rc < 0 {
            return Err(super::err_rc(
                "rte_eth_link_get_nowait",
                rc,
                &format!("port {}", self.id),
            ));
        }
        Ok(rc == 1)
    }

    /// Sets the port's IP MTU.
    pub fn set_mtu(&self, mtu: u16) -> Result<()> {
        // SAFETY: valid port id.
        let rc = unsafe { bindings::rte_eth_dev_set_mtu(self.id, mtu) };
        if rc < 0 {
            return Err(super::err_rc(
                "rte_eth_dev_set_mtu",
                rc,
                &format!("port {} mtu {mtu}", self.id),
            ));
        }
        Ok(())
    }

    /// The port's counters.
    pub fn stats(&self) -> Result<PortStats> {
        // SAFETY: rte_eth_stats is plain integers; all-zero is a valid value.
        let mut s: bindings::rte_eth_stats = unsafe { std::mem::zeroed() };
        // SAFETY: valid port id; s is a valid out-pointer.
        let rc = unsafe { bindings::rte_eth_stats_get(self.id, &mut s) };
        if rc < 0 {
            return Err(super::err_rc(
                "rte_eth_stats_get",
                rc,
                &format!("port {}", self.id),
            ));
        }
        Ok(PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Receives up to `bufs.len()` frames into `bufs[0..n]` and returns `n`. Mbufs already in
    /// `bufs` are freed first. No allocation, no syscall.
    #[inline]
    pub fn rx_burst(&mut self, bufs: &mut [Option<Mbuf>]) -> usize {
        for b in bufs.iter_mut() {
            *b = None;
        }
        let n = bufs.len().min(usize::from(u16::MAX)) as u16;
        // SAFETY: Option<Mbuf> has the layout of `struct rte_mbuf *` (Mbuf is repr(transparent)
        // over NonNull); every slot is None (NULL), so the driver overwrites no owned mbuf, and
        // each pointer it writes becomes an owned Mbuf. &mut self: one poller per queue.
        let got = unsafe { bindings::fixdpdk_rx_burst(self.id, 0, bufs.as_mut_ptr().cast(), n) };
        usize::from(got)
    }

    /// Transmits the leading run of `Some` mbufs in `bufs`; returns how many the driver took.
    /// Taken slots become `None` (ownership passed to the driver); the rest stay with the
    /// caller, in place, to retry.
    #[inline]
    pub fn tx_burst(&mut self, bufs: &mut [Option<Mbuf>]) -> usize {
        let run = bufs
            .iter()
            .take(usize::from(u16::MAX))
            .take_while(|b| b.is_some())
            .count();
        if run == 0 {
            return 0;
        }
        // SAFETY: the first `run` slots hold owned mbufs (layout as in rx_burst). The driver takes
        // ownership of the first `sent`; we forget those below so they are not freed twice.
        let sent =
            unsafe { bindings::fixdpdk_tx_burst(self.id, 0, bufs.as_mut_ptr().cast(), run as u16) };
        for b in &mut bufs[..usize::from(sent)] {
            if let Some(m) = b.take() {
                std::mem::forget(m);
            }
        }
        usize::from(sent)
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        // SAFETY: valid started port; stop then close, errors ignored (nothing to do about them
        // at teardown).
        unsafe {
            bindings::rte_eth_dev_stop(self.id);
            bindings::rte_eth_dev_close(self.id);
        }
    }
}
