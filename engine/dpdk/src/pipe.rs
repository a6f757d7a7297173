//! An in-memory Ethernet link between two [`PipeDevice`]s: lets [`crate::TcpStack`] (and any
//! transport built on it) run in tests without DPDK, root or a NIC.
//!
//! Not for production: frames are heap buffers behind a mutex. It can drop frames on purpose
//! ([`PipeDevice::set_loss`], pseudo-random and reproducible) so tests can show that TCP still delivers every byte.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use smoltcp::phy::{
    Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken,
};
use smoltcp::time::Instant;

use crate::stack::FrameDevice;

type Queue = Arc<Mutex<VecDeque<Vec<u8>>>>;

/// Frames queued per direction at most; further frames are dropped (like a full NIC ring).
pub const PIPE_CAPACITY: usize = 4096;

/// One end of an in-memory Ethernet link.
pub struct PipeDevice {
    rx: Queue,
    tx: Queue,
    mtu: usize,
    loss_one_in: u64,
    rng: u64,
    verify_checksums: bool,
    sent: u64,
    received: u64,
    dropped: u64,
}

/// Two connected devices with IP MTU `mtu`: what one transmits, the other receives.
pub fn pipe_pair(mtu: usize) -> (PipeDevice, PipeDevice) {
    let a: Queue = Arc::default();
    let b: Queue = Arc::default();
    let mk = |rx: &Queue, tx: &Queue| PipeDevice {
        rx: rx.clone(),
        tx: tx.clone(),
        mtu,
        loss_one_in: 0,
        verify_checksums: true,
        rng: 0x9E37_79B9_7F4A_7C15,
        sent: 0,
        received: 0,
        dropped: 0,
    };
    (mk(&a, &b), mk(&b, &a))
}

impl PipeDevice {
    /// Drops on average one transmitted frame in `one_in` (0 = none), pseudo-randomly from
    /// `seed` (xorshift), so a failing run can be repeated exactly. Random rather than periodic:
    /// periodic loss can lock onto TCP's retransmission rounds and starve one segment forever.
    pub fn set_loss(&mut self, one_in: u64, seed: u64) {
        self.loss_one_in = one_in;
        self.rng = seed | 1;
    }

    fn lose(&mut self) -> bool {
        if self.loss_one_in == 0 {
            return false;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng.is_multiple_of(self.loss_one_in)
    }

    /// Whether the stack on this device verifies received IPv4/TCP checksums (default true).
    /// Off lets corrupted frames reach TCP's own checks (for hostile-input tests).
    pub fn set_verify_checksums(&mut self, on: bool) {
        self.verify_checksums = on;
    }

    /// Removes and returns every frame waiting to be received by this device (to inspect or
    /// tamper with them, then [`PipeDevice::inject`]).
    pub fn take_incoming(&self) -> Vec<Vec<u8>> {
        self.rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    /// Queues `frame` for this device to receive (any bytes: the stack must cope).
    pub fn inject(&self, frame: Vec<u8>) {
        let mut q = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() < PIPE_CAPACITY {
            q.push_back(frame);
        }
    }

    /// Frames dropped so far (on purpose or because the queue was full).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames transmitted so far (including dropped ones).
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// Receive token: owns one frame.
pub struct PipeRx(Vec<u8>);

/// Transmit token.
pub struct PipeTx<'a>(&'a mut PipeDevice);

impl RxToken for PipeRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for PipeTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        let d = self.0;
        d.sent += 1;
        let lose = d.lose();
        let mut q = d.tx.lock().unwrap_or_else(|p| p.into_inner());
        if lose || q.len() >= PIPE_CAPACITY {
            d.dropped += 1;
        } else {
            q.push_back(frame);
        }
        r
    }
}

impl Device for PipeDevice {
    type RxToken<'a> = PipeRx;
    type TxToken<'a> = PipeTx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(PipeRx, PipeTx<'_>)> {
        let f = self
            .rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()?;
        self.received += 1;
        Some((PipeRx(f), PipeTx(self)))
    }

    fn transmit(&mut self, _: Instant) -> Option<PipeTx<'_>> {
        Some(PipeTx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = self.mtu + 14;
        let mode = if self.verify_checksums {
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

impl FrameDevice for PipeDevice {
    fn flush(&mut self) {}

    fn frames(&self) -> u64 {
        self.sent + self.received
    }
}
