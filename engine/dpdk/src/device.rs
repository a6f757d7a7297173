//! smoltcp `phy::Device` over a DPDK port: burst receive, batched transmit, no allocation.
//!
//! Received frames are read in place from their mbufs (the RX token owns the mbuf and frees it
//! after smoltcp has copied the TCP payload into the socket buffer). Transmitted frames are built
//! in place in freshly allocated mbufs and sent in bursts of up to [`BURST`] at the end of each
//! `TcpStack::poll` (or earlier when a burst fills).

use smoltcp::phy::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken,
};
use smoltcp::time::Instant;

use crate::config::BURST;
use crate::config::{MempoolConfig, PortConfig, StackConfig};
use crate::error::Result;
use crate::stack::{FrameDevice, TcpStack};
use crate::sys::{Eal, Mbuf, Mempool, Port};

/// Minimum Ethernet frame length without the FCS; shorter frames are padded with zeros.
pub const MIN_FRAME: usize = 60;

/// Counters of the device layer (the port has its own, see [`Port::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Frames handed to smoltcp.
    pub rx_frames: u64,
    /// Frames dropped on receive because they span several mbufs (larger than one buffer).
    pub rx_multiseg_dropped: u64,
    /// Frames handed to the driver.
    pub tx_frames: u64,
    /// Frames dropped on transmit because the pool had no free mbuf (TCP retransmits them).
    pub tx_no_mbuf: u64,
    /// Frames dropped on transmit because the frame did not fit one mbuf.
    pub tx_too_big: u64,
    /// Times the driver refused part of a TX burst (its ring was full); the rest is retried.
    pub tx_ring_full: u64,
    /// Frames smoltcp built (sent, queued or dropped).
    pub tx_built: u64,
}

struct TxSide {
    port: Port,
    pool: Mempool,
    burst: [Option<Mbuf>; BURST],
    len: usize,
    scratch: Vec<u8>,
    stats: DeviceStats,
}

impl TxSide {
    /// Sends the queued burst; unsent mbufs move to the front.
    fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        let sent = self.port.tx_burst(&mut self.burst[..self.len]);
        self.stats.tx_frames += sent as u64;
        if sent < self.len {
            self.stats.tx_ring_full += 1;
            self.burst[..self.len].rotate_left(sent);
        }
        self.len -= sent;
    }
}

/// A DPDK port as a smoltcp Ethernet device.
pub struct DpdkDevice {
    tx: TxSide,
    rx: [Option<Mbuf>; BURST],
    rx_next: usize,
    rx_len: usize,
    ip_mtu: usize,
    verify_rx_checksums: bool,
}

impl DpdkDevice {
    /// Wraps a started port. `ip_mtu` is the IP MTU (frames are up to `ip_mtu + 14` bytes);
    /// `verify_rx_checksums` as in [`StackConfig::verify_rx_checksums`].
    pub fn new(port: Port, ip_mtu: usize, verify_rx_checksums: bool) -> DpdkDevice {
        let pool = port.pool();
        DpdkDevice {
            tx: TxSide {
                port,
                pool,
                burst: Default::default(),
                len: 0,
                scratch: vec![0u8; ip_mtu + 14],
                stats: DeviceStats::default(),
            },
            rx: Default::default(),
            rx_next: 0,
            rx_len: 0,
            ip_mtu,
            verify_rx_checksums,
        }
    }

    /// The device's counters.
    pub fn stats(&self) -> DeviceStats {
        self.tx.stats
    }

    /// The port.
    pub fn port(&self) -> &Port {
        &self.tx.port
    }
}

/// Receive token: owns one received mbuf.
pub struct DpdkRx(Mbuf);

/// Transmit token: builds one frame in an mbuf of the device's pool.
pub struct DpdkTx<'a>(&'a mut TxSide);

impl RxToken for DpdkRx {
    #[inline]
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0.data())
    }
}

impl TxToken for DpdkTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let tx = self.0;
        tx.stats.tx_built += 1;
        if tx.len == BURST {
            tx.flush();
        }
        let mut m = tx.pool.alloc();
        if m.is_none() {
            // Completed TX descriptors return mbufs to the pool: push the burst and retry once.
            tx.flush();
            m = tx.pool.alloc();
        }
        let slot_free = tx.len < BURST;
        if let (Some(mut m), true) = (m, slot_free) {
            // Frames shorter than Ethernet's 60-byte minimum (ARP, bare ACKs) are zero-padded:
            // not every NIC pads in hardware.
            if let Some(buf) = m.append(len.max(MIN_FRAME)) {
                buf[len..].fill(0);
                let r = f(&mut buf[..len]);
                tx.burst[tx.len] = Some(m);
                tx.len += 1;
                return r;
            }
            tx.stats.tx_too_big += 1;
        } else {
            tx.stats.tx_no_mbuf += 1;
        }
        // Dropped frame: smoltcp still needs a buffer to write into; TCP recovers the loss.
        if tx.scratch.len() < len {
            tx.scratch.resize(len, 0);
        }
        f(&mut tx.scratch[..len])
    }
}

impl Device for DpdkDevice {
    type RxToken<'a> = DpdkRx;
    type TxToken<'a> = DpdkTx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(DpdkRx, DpdkTx<'_>)> {
        loop {
            if self.rx_next == self.rx_len {
                self.rx_next = 0;
                self.rx_len = self.tx.port.rx_burst(&mut self.rx);
                if self.rx_len == 0 {
                    return None;
                }
            }
            let m = self.rx[self.rx_next].take();
            self.rx_next += 1;
            let Some(m) = m else { continue };
            if m.segments() != 1 {
                self.tx.stats.rx_multiseg_dropped += 1;
                continue;
            }
            self.tx.stats.rx_frames += 1;
            return Some((DpdkRx(m), DpdkTx(&mut self.tx)));
        }
    }

    fn transmit(&mut self, _: Instant) -> Option<DpdkTx<'_>> {
        if self.tx.len == BURST {
            self.tx.flush();
            if self.tx.len == BURST {
                return None;
            }
        }
        Some(DpdkTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = self.ip_mtu + 14;
        c.max_burst_size = Some(BURST);
        let mode = if self.verify_rx_checksums {
            Checksum::Both
        } else {
            Checksum::Tx
        };
        let mut cs = ChecksumCapabilities::default();
        cs.ipv4 = mode;
        cs.tcp = mode;
        c.checksum = cs;
        c
    }
}

impl Drop for DpdkDevice {
    fn drop(&mut self) {
        // Return held mbufs to the pool while the port is still open (the port closes when the
        // fields drop, after this).
        for m in self.rx.iter_mut().chain(self.tx.burst.iter_mut()) {
            *m = None;
        }
    }
}

impl FrameDevice for DpdkDevice {
    fn flush(&mut self) {
        self.tx.flush();
    }

    fn frames(&self) -> u64 {
        self.tx.stats.rx_frames + self.tx.stats.tx_built
    }
}

impl TcpStack<DpdkDevice> {
    /// The stack on a started port. A zero `cfg.mac` takes the port's MAC. Checks that the
    /// port's pool can feed it ([`MempoolConfig::check_for_port`]): an undersized pool makes the
    /// device drop frames and TCP crawl through retransmissions.
    pub fn on_port(port: Port, mut cfg: StackConfig, now_ns: u64) -> Result<Self> {
        port.pool()
            .config()
            .check_for_port(port.config(), cfg.mtu)?;
        if cfg.mac == [0; 6] {
            cfg.mac = port.mac()?;
        }
        let dev = DpdkDevice::new(port, cfg.mtu, cfg.verify_rx_checksums);
        TcpStack::new(dev, cfg, now_ns)
    }

    /// Everything from scratch on one port: checks the pool sizing against the port, creates
    /// the pool on the port's NUMA node, opens port `port_id` and builds the stack.
    pub fn open(
        eal: &Eal,
        port_id: u16,
        pool: &MempoolConfig,
        port: &PortConfig,
        cfg: StackConfig,
        now_ns: u64,
    ) -> Result<Self> {
        pool.check_for_port(port, cfg.mtu)?;
        let mp = match eal.port_socket(port_id) {
            Some(socket) => Mempool::create_on(eal, pool, socket)?,
            None => Mempool::create(eal, pool)?,
        };
        let p = Port::open(eal, port_id, port, mp)?;
        TcpStack::on_port(p, cfg, now_ns)
    }
}
