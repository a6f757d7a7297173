//! A non-blocking TCP byte stream over any Ethernet frame device, on smoltcp.
//!
//! [`TcpStack`] owns the device, one smoltcp interface and a fixed number of socket slots.
//! Everything is driven by [`TcpStack::poll`] with the time passed in; nothing blocks and
//! nothing reads a clock. After [`TcpStack::send`] call `poll` to put the bytes on the wire;
//! after `poll` read what arrived with [`TcpStack::recv`].
//!
//! Allocation happens only when a socket is opened (its buffers); polling, sending and receiving
//! do not allocate.

use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::{Device, TxToken};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Cidr,
};

use crate::config::StackConfig;
use crate::error::{Error, Result};

/// Extra egress passes per [`TcpStack::poll`] (each emits up to one segment per socket).
pub const MAX_EGRESS_PASSES: usize = 32;

/// A smoltcp device that may queue transmitted frames and send them in bursts.
pub trait FrameDevice: Device {
    /// Hands every queued frame to the wire (called at the end of each [`TcpStack::poll`]).
    fn flush(&mut self);

    /// Frames received plus frames built for transmission so far (monotonic; a frame counts
    /// when smoltcp writes it, before `flush`): measures the work a poll did.
    fn frames(&self) -> u64;
}

/// Names one socket of a [`TcpStack`]. Stale handles (after [`TcpStack::release`]) are detected:
/// operations on them return [`Error::InvalidHandle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    slot: u32,
    gen: u32,
}

/// Coarse state of a stream, for a transport's state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Waiting for a peer to connect (`listen`).
    Listening,
    /// Handshake in progress.
    Connecting,
    /// Both directions open.
    Established,
    /// The peer closed its direction (FIN received); we may still send. `recv` returns the rest
    /// of the data, then [`Error::Closed`].
    PeerClosed,
    /// We closed our direction; the connection is shutting down.
    Closing,
    /// Closed (orderly, reset, or timed out). Release the handle.
    Closed,
}

impl StreamState {
    fn of(s: tcp::State) -> StreamState {
        use tcp::State as S;
        match s {
            S::Listen => StreamState::Listening,
            S::SynSent | S::SynReceived => StreamState::Connecting,
            S::Established => StreamState::Established,
            S::CloseWait => StreamState::PeerClosed,
            S::FinWait1 | S::FinWait2 | S::Closing | S::LastAck | S::TimeWait => {
                StreamState::Closing
            }
            S::Closed => StreamState::Closed,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    socket: Option<SocketHandle>,
    gen: u32,
}

fn instant(now_ns: u64) -> Instant {
    Instant::from_micros((now_ns / 1000) as i64)
}

/// TCP over one Ethernet device, with static addressing.
pub struct TcpStack<D: FrameDevice> {
    device: D,
    iface: Interface,
    sockets: SocketSet<'static>,
    slots: Vec<Slot>,
    cfg: StackConfig,
    next_port: u16,
    subnet: Ipv4Cidr,
    next_arp_ns: u64,
    arp_targets: Vec<Ipv4Addr>,
    arp_sent: u64,
}

impl<D: FrameDevice> TcpStack<D> {
    /// Builds the stack on `device` with `cfg` (validated; `cfg.mac` must be set). `now_ns` is the
    /// current time on the clock later passed to [`TcpStack::poll`].
    pub fn new(mut device: D, cfg: StackConfig, now_ns: u64) -> Result<Self> {
        cfg.validate()?;
        if cfg.mac == [0; 6] {
            return Err(Error::InvalidConfig(
                "mac is all zero (set StackConfig::mac)".into(),
            ));
        }
        let mut icfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(cfg.mac)));
        icfg.random_seed = cfg.random_seed;
        let mut iface = Interface::new(icfg, &mut device, instant(now_ns));
        let cidr = IpCidr::new(IpAddress::Ipv4(cfg.ip), cfg.prefix_len);
        iface.update_ip_addrs(|a| {
            // Cannot fail: the list is empty and holds at least one address.
            let _ = a.push(cidr);
        });
        if let Some(gw) = cfg.gateway {
            iface
                .routes_mut()
                .add_default_ipv4_route(gw)
                .map_err(|_| Error::InvalidConfig(format!("gateway {gw}: route table full")))?;
        }
        let sockets = SocketSet::new(Vec::with_capacity(cfg.max_sockets));
        let slots = vec![
            Slot {
                socket: None,
                gen: 0
            };
            cfg.max_sockets
        ];
        let next_port = cfg.ephemeral_ports.0;
        let subnet = Ipv4Cidr::new(cfg.ip, cfg.prefix_len);
        let arp_targets = Vec::with_capacity(cfg.max_sockets + 1);
        Ok(TcpStack {
            device,
            iface,
            sockets,
            slots,
            cfg,
            next_port,
            subnet,
            next_arp_ns: now_ns,
            arp_targets,
            arp_sent: 0,
        })
    }

    /// Processes received frames, runs timers and transmits what is due. Returns true when
    /// something may have changed (data arrived, a state changed, frames left).
    ///
    /// smoltcp emits at most one segment per socket per egress pass. The first pass's frames go
    /// to the wire at once (a lone FIX message pays for nothing more); then further passes run,
    /// up to [`MAX_EGRESS_PASSES`], while they still emit, so a full window leaves as bursts.
    pub fn poll(&mut self, now_ns: u64) -> bool {
        let t = instant(now_ns);
        let first = self.iface.poll(t, &mut self.device, &mut self.sockets);
        let mut changed = first == PollResult::SocketStateChanged;
        self.device.flush();
        for _ in 0..MAX_EGRESS_PASSES {
            let before = self.device.frames();
            let r = self
                .iface
                .poll_egress(t, &mut self.device, &mut self.sockets);
            changed |= r == PollResult::SocketStateChanged;
            if self.device.frames() == before {
                break;
            }
        }
        self.device.flush();
        if self.cfg.arp_refresh_ms.is_some() && now_ns >= self.next_arp_ns {
            self.refresh_arp(now_ns);
        }
        changed
    }

    /// The next hop towards `ip`: itself on our subnet, else the gateway.
    fn next_hop(&self, ip: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.subnet.contains_addr(&ip) {
            Some(ip)
        } else {
            self.cfg.gateway
        }
    }

    /// Asks the gateway and every connected peer's next hop for its MAC (broadcast ARP request),
    /// so smoltcp's neighbour cache (60 s lifetime, refreshed only by ARP and by packets *from*
    /// the neighbour) never expires under a live session: an expired entry would hold the next
    /// message for an ARP round trip.
    fn refresh_arp(&mut self, now_ns: u64) {
        let every = self.cfg.arp_refresh_ms.unwrap_or(0).max(1);
        self.next_arp_ns = now_ns.saturating_add(every.saturating_mul(1_000_000));
        self.arp_targets.clear();
        if let Some(gw) = self.cfg.gateway {
            self.arp_targets.push(gw);
        }
        for (_, sock) in self.sockets.iter() {
            let smoltcp::socket::Socket::Tcp(t) = sock;
            let Some(IpAddress::Ipv4(remote)) = t.remote_endpoint().map(|e| e.addr) else {
                continue;
            };
            if let Some(hop) = self.next_hop(remote) {
                if !self.arp_targets.contains(&hop)
                    && self.arp_targets.len() < self.arp_targets.capacity()
                {
                    self.arp_targets.push(hop);
                }
            }
        }
        let mac = EthernetAddress(self.cfg.mac);
        let ip = self.cfg.ip;
        let t = instant(now_ns);
        for i in 0..self.arp_targets.len() {
            let target = self.arp_targets[i];
            let arp = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Request,
                source_hardware_addr: mac,
                source_protocol_addr: ip,
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: target,
            };
            let eth = EthernetRepr {
                src_addr: mac,
                dst_addr: EthernetAddress::BROADCAST,
                ethertype: EthernetProtocol::Arp,
            };
            let Some(tx) = self.device.transmit(t) else {
                break;
            };
            tx.consume(eth.buffer_len() + arp.buffer_len(), |buf| {
                let mut frame = EthernetFrame::new_unchecked(buf);
                eth.emit(&mut frame);
                arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
            });
            self.arp_sent += 1;
        }
        self.device.flush();
    }

    /// ARP refresh requests sent so far (see [`StackConfig::arp_refresh_ms`]).
    pub fn arp_requests_sent(&self) -> u64 {
        self.arp_sent
    }

    /// Nanoseconds until `poll` must run again for timers (retransmission, delayed ACK,
    /// keep-alive, ARP refresh); `None` when no timer is pending. Received frames need a poll regardless.
    pub fn poll_delay_ns(&mut self, now_ns: u64) -> Option<u64> {
        let tcp = self
            .iface
            .poll_delay(instant(now_ns), &self.sockets)
            .map(|d| d.total_micros() * 1000);
        let arp = self
            .cfg
            .arp_refresh_ms
            .map(|_| self.next_arp_ns.saturating_sub(now_ns));
        match (tcp, arp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn new_socket(&mut self) -> Result<(usize, tcp::Socket<'static>)> {
        let free = self
            .slots
            .iter()
            .position(|s| s.socket.is_none())
            .ok_or(Error::NoFreeSocket)?;
        let rx = tcp::SocketBuffer::new(vec![0u8; self.cfg.rx_buffer]);
        let tx = tcp::SocketBuffer::new(vec![0u8; self.cfg.tx_buffer]);
        let mut s = tcp::Socket::new(rx, tx);
        s.set_nagle_enabled(self.cfg.nagle);
        s.set_ack_delay(self.cfg.ack_delay_us.map(Duration::from_micros));
        s.set_keep_alive(self.cfg.keep_alive_ms.map(Duration::from_millis));
        s.set_timeout(self.cfg.timeout_ms.map(Duration::from_millis));
        Ok((free, s))
    }

    fn install(&mut self, slot: usize, s: tcp::Socket<'static>) -> Handle {
        let sh = self.sockets.add(s);
        let e = &mut self.slots[slot];
        e.gen = e.gen.wrapping_add(1);
        e.socket = Some(sh);
        Handle {
            slot: slot as u32,
            gen: e.gen,
        }
    }

    fn port_in_use(&self, port: u16) -> bool {
        self.sockets.iter().any(|(_, s)| match s {
            smoltcp::socket::Socket::Tcp(t) => {
                t.local_endpoint().map(|e| e.port) == Some(port) || t.listen_endpoint().port == port
            }
            #[allow(unreachable_patterns)]
            _ => false,
        })
    }

    fn ephemeral_port(&mut self) -> Result<u16> {
        let (lo, hi) = self.cfg.ephemeral_ports;
        let span = u32::from(hi - lo) + 1;
        for _ in 0..span {
            let p = self.next_port;
            self.next_port = if p >= hi { lo } else { p + 1 };
            if !self.port_in_use(p) {
                return Ok(p);
            }
        }
        Err(Error::NoFreePort)
    }

    /// Opens a connection to `remote` from an ephemeral local port. The handshake proceeds in
    /// `poll`; [`TcpStack::state`] turns `Established` (or `Closed` when refused).
    pub fn connect(&mut self, remote: SocketAddrV4) -> Result<Handle> {
        let local = self.ephemeral_port()?;
        let (slot, mut s) = self.new_socket()?;
        let ep = IpEndpoint::new(IpAddress::Ipv4(*remote.ip()), remote.port());
        s.connect(self.iface.context(), ep, local)
            .map_err(|e| Error::Tcp(format!("connect to {remote} from port {local}: {e}")))?;
        Ok(self.install(slot, s))
    }

    /// Listens on `port` (any local address). The returned socket becomes the connection of the
    /// first peer that connects (smoltcp has no accept queue): to serve another peer, listen
    /// again.
    pub fn listen(&mut self, port: u16) -> Result<Handle> {
        let (slot, mut s) = self.new_socket()?;
        s.listen(IpListenEndpoint { addr: None, port })
            .map_err(|e| Error::Tcp(format!("listen on port {port}: {e}")))?;
        Ok(self.install(slot, s))
    }

    fn handle(&self, h: Handle) -> Result<SocketHandle> {
        match self.slots.get(h.slot as usize) {
            Some(Slot {
                socket: Some(sh),
                gen,
            }) if *gen == h.gen => Ok(*sh),
            _ => Err(Error::InvalidHandle),
        }
    }

    fn sock(&self, h: Handle) -> Result<&tcp::Socket<'static>> {
        let sh = self.handle(h)?;
        Ok(self.sockets.get::<tcp::Socket>(sh))
    }

    fn sock_mut(&mut self, h: Handle) -> Result<&mut tcp::Socket<'static>> {
        let sh = self.handle(h)?;
        Ok(self.sockets.get_mut::<tcp::Socket>(sh))
    }

    /// Copies received bytes into `buf`. `Ok(0)`: nothing available now (or still connecting).
    /// [`Error::Closed`]: the peer's FIN has been reached, or the connection is gone.
    pub fn recv(&mut self, h: Handle, buf: &mut [u8]) -> Result<usize> {
        let s = self.sock_mut(h)?;
        match s.recv_slice(buf) {
            Ok(n) => Ok(n),
            Err(tcp::RecvError::Finished) => Err(Error::Closed),
            Err(tcp::RecvError::InvalidState) => match StreamState::of(s.state()) {
                StreamState::Listening | StreamState::Connecting => Ok(0),
                _ => Err(Error::Closed),
            },
        }
    }

    /// Queues bytes for sending; returns how many fit (`Ok(0)` when the send buffer is full or
    /// the handshake has not finished). [`Error::Closed`] once our direction is closed.
    pub fn send(&mut self, h: Handle, data: &[u8]) -> Result<usize> {
        let s = self.sock_mut(h)?;
        match s.send_slice(data) {
            Ok(n) => Ok(n),
            Err(tcp::SendError::InvalidState) => match StreamState::of(s.state()) {
                StreamState::Listening | StreamState::Connecting => Ok(0),
                _ => Err(Error::Closed),
            },
        }
    }

    /// Zero-copy receive: lends the contiguous received bytes (empty when there are none, the
    /// stream is closed or the handle is invalid) to `f`, which returns how many it consumed
    /// (clamped to the slice) and a value passed back. `f` runs exactly once. This is the shape
    /// of the runtime's `Transport::recv`.
    pub fn recv_with<R>(&mut self, h: Handle, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        let Ok(sh) = self.handle(h) else {
            return f(&[]).1;
        };
        let s = self.sockets.get_mut::<tcp::Socket>(sh);
        let (n, r) = match s.peek(usize::MAX) {
            Ok(buf) => {
                let len = buf.len();
                let (n, r) = f(buf);
                (n.min(len), r)
            }
            Err(_) => return f(&[]).1,
        };
        if n > 0 {
            // Dequeues the same contiguous region peek lent (n <= its length).
            let _ = s.recv(|b| (n.min(b.len()), ()));
        }
        r
    }

    /// Zero-copy send: lends free space of the send buffer (empty under back-pressure, before
    /// the handshake completes, after close, or for an invalid handle) to `f`, which writes from
    /// the start and returns how many bytes it wrote (clamped) and a value passed back. `f` runs
    /// exactly once. The bytes leave on the next [`TcpStack::poll`].
    pub fn send_with<R>(&mut self, h: Handle, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        let Ok(sh) = self.handle(h) else {
            return f(&mut []).1;
        };
        let s = self.sockets.get_mut::<tcp::Socket>(sh);
        if !s.may_send() {
            return f(&mut []).1;
        }
        let mut pending = Some(f);
        let mut out = None;
        let _ = s.send(|b| match pending.take() {
            Some(g) => {
                let len = b.len();
                let (n, r) = g(b);
                out = Some(r);
                (n.min(len), ())
            }
            None => (0, ()),
        });
        if let Some(g) = pending {
            // smoltcp refused (cannot happen after may_send, but never lose the call).
            return g(&mut []).1;
        }
        match out {
            Some(r) => r,
            // `pending` was taken, so the closure above ran and set `out`.
            None => unreachable!("send closure ran without a result"),
        }
    }

    /// The stream's state.
    pub fn state(&self, h: Handle) -> Result<StreamState> {
        Ok(StreamState::of(self.sock(h)?.state()))
    }

    /// smoltcp's exact TCP state.
    pub fn tcp_state(&self, h: Handle) -> Result<tcp::State> {
        Ok(self.sock(h)?.state())
    }

    /// True once socket `h` needs nothing more from us: closed, in TIME-WAIT (both FINs
    /// exchanged and acknowledged), or the handle is stale. A connector releases a finished
    /// connection's socket at this point.
    pub fn close_done(&self, h: Handle) -> bool {
        match self.sock(h) {
            Ok(s) => matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait),
            Err(_) => true,
        }
    }

    /// Bytes queued for sending and not yet acknowledged.
    pub fn send_queue(&self, h: Handle) -> Result<usize> {
        Ok(self.sock(h)?.send_queue())
    }

    /// Bytes received and not yet read.
    pub fn recv_queue(&self, h: Handle) -> Result<usize> {
        Ok(self.sock(h)?.recv_queue())
    }

    /// The remote end once connected.
    pub fn remote(&self, h: Handle) -> Result<Option<SocketAddrV4>> {
        Ok(self.sock(h)?.remote_endpoint().and_then(v4))
    }

    /// The local end once connected.
    pub fn local(&self, h: Handle) -> Result<Option<SocketAddrV4>> {
        Ok(self.sock(h)?.local_endpoint().and_then(v4))
    }

    /// Orderly close of our direction (FIN after the queued bytes).
    pub fn close(&mut self, h: Handle) -> Result<()> {
        self.sock_mut(h)?.close();
        Ok(())
    }

    /// Abortive close (RST on the next poll).
    pub fn abort(&mut self, h: Handle) -> Result<()> {
        self.sock_mut(h)?.abort();
        Ok(())
    }

    /// Frees the socket slot; the handle becomes invalid. Releasing an open connection drops it
    /// without telling the peer: close or abort and poll first.
    pub fn release(&mut self, h: Handle) -> Result<()> {
        let sh = self.handle(h)?;
        self.sockets.remove(sh);
        self.slots[h.slot as usize].socket = None;
        Ok(())
    }

    /// Our IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.cfg.ip
    }

    /// The configuration in force.
    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    /// The device (e.g. for its counters).
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device, mutably.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }
}

fn v4(e: IpEndpoint) -> Option<SocketAddrV4> {
    match e.addr {
        IpAddress::Ipv4(a) => Some(SocketAddrV4::new(a, e.port)),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
