//! Configuration of the EAL, mbuf pools, ports and the TCP stack. Plain data: builds without DPDK.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};

/// DPDK EAL arguments, built from named fields so deployment settings map 1:1 to EAL flags.
///
/// [`EalConfig::args`] renders them; `Eal::init` takes the rendered list. Fields that are
/// `None`/empty/false add nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EalConfig {
    /// argv\[0\] (only used in DPDK's log lines).
    pub program: String,
    /// `-l`: the lcore list, e.g. `"2"` or `"2-3"` (the main lcore is the first; it is pinned).
    pub lcores: Option<String>,
    /// `--no-huge`: anonymous memory instead of hugepages (tests, CI; not for production).
    pub no_huge: bool,
    /// `-m`: memory in MiB to preallocate (needed with `no_huge`).
    pub memory_mb: Option<u32>,
    /// `--no-pci`: do not scan PCI (virtual devices only).
    pub no_pci: bool,
    /// `--file-prefix`: unique per DPDK process on a host (runtime files under /var/run/dpdk).
    pub file_prefix: Option<String>,
    /// `-a`: PCI devices to use (allow list), e.g. `"0000:3b:00.0"`.
    pub allow: Vec<String>,
    /// `--vdev`: virtual devices, e.g. `"net_memif0,role=server,socket=/run/fix.sock"`.
    pub vdevs: Vec<String>,
    /// `--log-level`, e.g. `"*:warning"`.
    pub log_level: Option<String>,
    /// `--no-telemetry`: no telemetry socket thread.
    pub no_telemetry: bool,
    /// Anything else, appended verbatim.
    pub extra: Vec<String>,
}

impl Default for EalConfig {
    fn default() -> Self {
        EalConfig {
            program: "fixeng".into(),
            lcores: None,
            no_huge: false,
            memory_mb: None,
            no_pci: false,
            file_prefix: None,
            allow: Vec::new(),
            vdevs: Vec::new(),
            log_level: Some("*:warning".into()),
            no_telemetry: true,
            extra: Vec::new(),
        }
    }
}

impl EalConfig {
    /// Settings that work without hugepages, PCI devices or a NIC (tests, CI): `--no-huge -m 256
    /// --no-pci --file-prefix=<prefix>`, lcore `lcore`.
    pub fn virtual_only(prefix: &str, lcore: u32) -> Self {
        EalConfig {
            lcores: Some(lcore.to_string()),
            no_huge: true,
            memory_mb: Some(256),
            no_pci: true,
            file_prefix: Some(prefix.into()),
            ..EalConfig::default()
        }
    }

    /// Adds a `--vdev`.
    pub fn vdev(mut self, dev: impl Into<String>) -> Self {
        self.vdevs.push(dev.into());
        self
    }

    /// The EAL argument vector, argv\[0\] first.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![self.program.clone()];
        if let Some(l) = &self.lcores {
            a.push("-l".into());
            a.push(l.clone());
        }
        if self.no_huge {
            a.push("--no-huge".into());
        }
        if let Some(m) = self.memory_mb {
            a.push("-m".into());
            a.push(m.to_string());
        }
        if self.no_pci {
            a.push("--no-pci".into());
        }
        if let Some(p) = &self.file_prefix {
            a.push(format!("--file-prefix={p}"));
        }
        for d in &self.allow {
            a.push("-a".into());
            a.push(d.clone());
        }
        for v in &self.vdevs {
            a.push(format!("--vdev={v}"));
        }
        if let Some(l) = &self.log_level {
            a.push(format!("--log-level={l}"));
        }
        if self.no_telemetry {
            a.push("--no-telemetry".into());
        }
        a.extend(self.extra.iter().cloned());
        a
    }
}

/// A packet-buffer (mbuf) pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Pool name, unique in the process.
    pub name: String,
    /// Number of mbufs. Must cover every RX descriptor, every TX descriptor, the bursts held by
    /// the device and the per-lcore cache (checked by [`MempoolConfig::check_for_port`]).
    pub mbufs: u32,
    /// Per-lcore cache size (0 = none; at most 512 and at most `mbufs / 1.5`).
    pub cache: u32,
    /// Data room per mbuf, including the 128-byte headroom (2176 fits a 1500-byte MTU frame).
    pub data_room: u16,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            name: "fixdpdk_pool".into(),
            mbufs: 8191,
            cache: 256,
            data_room: 2176,
        }
    }
}

/// Mbufs the device layer can hold outside the NIC rings at once (RX burst + TX burst).
pub const DEVICE_HELD_MBUFS: u32 = 2 * crate::config::BURST as u32;

/// Burst size of the DPDK device layer (frames per rx/tx burst call).
pub const BURST: usize = 32;

impl MempoolConfig {
    /// Checks that the pool can feed `port`'s rings without starving RX: `mbufs >= rx_ring +
    /// tx_ring + 2 * BURST + cache`, data room fits one MTU-sized frame. Ports sharing one pool
    /// need the sum of their requirements.
    pub fn check_for_port(&self, port: &PortConfig, ip_mtu: usize) -> Result<()> {
        let need =
            u32::from(port.rx_ring) + u32::from(port.tx_ring) + DEVICE_HELD_MBUFS + self.cache;
        if self.mbufs < need {
            return Err(Error::InvalidConfig(format!(
                "mempool {:?}: {} mbufs < rx_ring {} + tx_ring {} + {} held by the device + cache {} = {need}",
                self.name, self.mbufs, port.rx_ring, port.tx_ring, DEVICE_HELD_MBUFS, self.cache
            )));
        }
        let frame = ip_mtu + 14 + 128;
        if usize::from(self.data_room) < frame {
            return Err(Error::InvalidConfig(format!(
                "mempool {:?}: data_room {} < headroom 128 + Ethernet header 14 + MTU {ip_mtu}",
                self.name, self.data_room
            )));
        }
        if self.cache > 512 || u64::from(self.cache) * 3 > u64::from(self.mbufs) * 2 {
            return Err(Error::InvalidConfig(format!(
                "mempool {:?}: cache {} must be <= 512 and <= mbufs/1.5",
                self.name, self.cache
            )));
        }
        Ok(())
    }
}

/// One Ethernet port, one RX and one TX queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// RX descriptors (power of two is usual).
    pub rx_ring: u16,
    /// TX descriptors.
    pub tx_ring: u16,
    /// Receive every frame whatever its destination MAC.
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_ring: 1024,
            tx_ring: 1024,
            promiscuous: false,
        }
    }
}

/// The TCP/IP stack: static addressing (no DHCP), ARP by smoltcp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackConfig {
    /// Our MAC; all zero means "the port's MAC" (DPDK) — a pipe device needs it set.
    pub mac: [u8; 6],
    /// Our IPv4 address.
    pub ip: Ipv4Addr,
    /// Prefix length of our subnet.
    pub prefix_len: u8,
    /// Default gateway, if peers are off-subnet.
    pub gateway: Option<Ipv4Addr>,
    /// IP MTU (1500 on a standard Ethernet).
    pub mtu: usize,
    /// Receive buffer per connection in bytes (also the advertised window; > 64 KiB uses window
    /// scaling).
    pub rx_buffer: usize,
    /// Send buffer per connection in bytes.
    pub tx_buffer: usize,
    /// Maximum simultaneous sockets (listening + connected).
    pub max_sockets: usize,
    /// Nagle's algorithm. Off by default: a small FIX message leaves at once.
    pub nagle: bool,
    /// Delayed ACK in microseconds; `None` acknowledges every segment at once (lowest latency for a
    /// peer that runs Nagle).
    pub ack_delay_us: Option<u64>,
    /// TCP keep-alive interval in milliseconds.
    pub keep_alive_ms: Option<u64>,
    /// Abort a connection after this many milliseconds without progress.
    pub timeout_ms: Option<u64>,
    /// Local ports for `connect`, inclusive range.
    pub ephemeral_ports: (u16, u16),
    /// Verify IPv4/TCP checksums of received frames in software. Turn off only when the NIC
    /// verifies them, or on a veth whose kernel side leaves them partial.
    pub verify_rx_checksums: bool,
    /// Seed of smoltcp's initial sequence numbers (use a different one per process).
    pub random_seed: u64,
    /// Re-resolve the gateway's and connected peers' MACs this often (milliseconds), so the
    /// ARP cache entry (60 s lifetime in smoltcp) never expires under a session and never costs
    /// a message an ARP round trip. `None` turns it off.
    pub arp_refresh_ms: Option<u64>,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            mac: [0; 6],
            ip: Ipv4Addr::new(10, 0, 0, 1),
            prefix_len: 24,
            gateway: None,
            mtu: 1500,
            rx_buffer: 256 * 1024,
            tx_buffer: 256 * 1024,
            max_sockets: 16,
            nagle: false,
            ack_delay_us: None,
            keep_alive_ms: None,
            timeout_ms: None,
            ephemeral_ports: (49152, 65535),
            verify_rx_checksums: true,
            random_seed: 0x5eed_f1c5,
            arp_refresh_ms: Some(20_000),
        }
    }
}

impl StackConfig {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: String| Err(Error::InvalidConfig(s));
        if self.prefix_len == 0 || self.prefix_len > 32 {
            return bad(format!("prefix_len {} not in 1..=32", self.prefix_len));
        }
        if !(576..=9000).contains(&self.mtu) {
            return bad(format!("mtu {} not in 576..=9000", self.mtu));
        }
        if self.rx_buffer < 1024 || self.rx_buffer > (1 << 30) {
            return bad(format!("rx_buffer {} not in 1 KiB..=1 GiB", self.rx_buffer));
        }
        if self.tx_buffer < 1024 || self.tx_buffer > (1 << 30) {
            return bad(format!("tx_buffer {} not in 1 KiB..=1 GiB", self.tx_buffer));
        }
        if self.max_sockets == 0 || self.max_sockets > 4096 {
            return bad(format!("max_sockets {} not in 1..=4096", self.max_sockets));
        }
        let (lo, hi) = self.ephemeral_ports;
        if lo == 0 || lo > hi {
            return bad(format!(
                "ephemeral_ports ({lo}, {hi}) empty or starting at 0"
            ));
        }
        if let Some(ms) = self.arp_refresh_ms {
            if ms == 0 || ms >= 60_000 {
                return bad(format!(
                    "arp_refresh_ms {ms} not in 1..60000 (smoltcp forgets a neighbour after 60 s)"
                ));
            }
        }
        if self.mac[0] & 1 != 0 {
            return bad(format!("mac {:02x?} is a multicast address", self.mac));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eal_args_render_in_order() {
        let c = EalConfig::virtual_only("fx1", 1).vdev("net_memif0,role=server");
        assert_eq!(
            c.args(),
            [
                "fixeng",
                "-l",
                "1",
                "--no-huge",
                "-m",
                "256",
                "--no-pci",
                "--file-prefix=fx1",
                "--vdev=net_memif0,role=server",
                "--log-level=*:warning",
                "--no-telemetry"
            ]
        );
    }

    #[test]
    fn mempool_sizing_is_checked() {
        let port = PortConfig {
            rx_ring: 1024,
            tx_ring: 1024,
            promiscuous: false,
        };
        let mut pool = MempoolConfig {
            mbufs: 1024,
            ..MempoolConfig::default()
        };
        let e = pool.check_for_port(&port, 1500).unwrap_err();
        assert!(e.to_string().contains("1024 mbufs < rx_ring 1024"), "{e}");
        pool.mbufs = 8191;
        pool.check_for_port(&port, 1500).unwrap();
        pool.data_room = 1500;
        assert!(pool
            .check_for_port(&port, 1500)
            .unwrap_err()
            .to_string()
            .contains("data_room"));
        pool.data_room = 2176;
        pool.cache = 600;
        assert!(pool
            .check_for_port(&port, 1500)
            .unwrap_err()
            .to_string()
            .contains("cache"));
    }

    #[test]
    fn stack_config_validation_names_the_field() {
        let ok = StackConfig::default();
        ok.validate().unwrap();
        let e = StackConfig {
            prefix_len: 33,
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("prefix_len 33"), "{e}");
        let e = StackConfig {
            mtu: 100,
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("mtu 100"), "{e}");
        let e = StackConfig {
            ephemeral_ports: (5, 4),
            ..ok.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("ephemeral_ports"), "{e}");
        let e = StackConfig {
            mac: [1, 0, 0, 0, 0, 1],
            ..ok
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("multicast"), "{e}");
    }
}
