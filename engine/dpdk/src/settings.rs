//! DPDK settings as `Key=Value` pairs (QuickFIX-style key names), for the engine's settings file.
//!
//! The settings parser of `fixsession` owns the file format; the runtime hands the `Dpdk*` pairs
//! of a session here. Every key is optional except `DpdkDevice` and `DpdkLocalIP`:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `DpdkDevice` | PCI address (`0000:3b:00.0`) or a vdev spec (`net_memif0,role=client,socket=/run/x.sock`) | required |
//! | `DpdkLcores` | EAL `-l`: the IO agent's core | `0` |
//! | `DpdkFilePrefix` | EAL `--file-prefix` | `fixeng` |
//! | `DpdkNoHuge` | `Y`: run without hugepages (`--no-huge`, tests only) | `N` |
//! | `DpdkMemoryMB` | EAL `-m` | unset (256 with `DpdkNoHuge=Y`) |
//! | `DpdkEalExtra` | more EAL arguments, space-separated | none |
//! | `DpdkMbufs`, `DpdkMbufCache`, `DpdkMbufDataRoom` | the mbuf pool | 8191, 256, 2176 |
//! | `DpdkRxRing`, `DpdkTxRing` | descriptors per queue | 1024, 1024 |
//! | `DpdkPromiscuous` | `Y`/`N` | `N` |
//! | `DpdkLocalIP` | our address with prefix length, `192.0.2.10/24` | required |
//! | `DpdkGateway` | default gateway | none |
//! | `DpdkMac` | our MAC, `02:00:00:00:00:01` | the port's |
//! | `DpdkMtu` | IP MTU | 1500 |
//! | `DpdkRxBuffer`, `DpdkTxBuffer` | TCP buffers per connection, bytes | 262144 |
//! | `DpdkNagle` | `Y`/`N` | `N` |
//! | `DpdkAckDelayUs` | delayed ACK in µs, `0` = ACK at once | 0 |
//! | `DpdkKeepAliveMs`, `DpdkTimeoutMs` | TCP keep-alive / abort timeout, `0` = off | 0 |
//! | `DpdkVerifyChecksums` | `Y`/`N`: check received IPv4/TCP checksums in software | `Y` |
//! | `DpdkArpRefreshMs` | re-resolve gateway/peer MACs this often, `0` = off | 20000 |
//!
//! Errors name the key and the value.

use std::net::Ipv4Addr;

use crate::config::{EalConfig, MempoolConfig, PortConfig, StackConfig};
use crate::error::{Error, Result};

/// Every key [`DpdkSettings::from_pairs`] accepts, in canonical spelling (matched without regard
/// to case).
pub const KEYS: &[&str] = &[
    "DpdkDevice",
    "DpdkLcores",
    "DpdkFilePrefix",
    "DpdkNoHuge",
    "DpdkMemoryMB",
    "DpdkEalExtra",
    "DpdkMbufs",
    "DpdkMbufCache",
    "DpdkMbufDataRoom",
    "DpdkRxRing",
    "DpdkTxRing",
    "DpdkPromiscuous",
    "DpdkLocalIP",
    "DpdkGateway",
    "DpdkMac",
    "DpdkMtu",
    "DpdkRxBuffer",
    "DpdkTxBuffer",
    "DpdkNagle",
    "DpdkAckDelayUs",
    "DpdkKeepAliveMs",
    "DpdkTimeoutMs",
    "DpdkVerifyChecksums",
    "DpdkArpRefreshMs",
];

/// Everything needed to bring up one DPDK port with a TCP stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpdkSettings {
    /// EAL arguments.
    pub eal: EalConfig,
    /// The port's device name as DPDK knows it (PCI address or vdev name).
    pub device: String,
    /// The mbuf pool.
    pub pool: MempoolConfig,
    /// The port.
    pub port: PortConfig,
    /// The TCP/IP stack.
    pub stack: StackConfig,
}

fn bad(key: &str, value: &str, why: &str) -> Error {
    Error::InvalidConfig(format!("{key}={value}: {why}"))
}

fn yes_no(key: &str, v: &str) -> Result<bool> {
    match v {
        "Y" | "y" => Ok(true),
        "N" | "n" => Ok(false),
        _ => Err(bad(key, v, "expected Y or N")),
    }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.parse().map_err(|_| bad(key, v, "not a number in range"))
}

fn mac(key: &str, v: &str) -> Result<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut parts = v.split(':');
    for b in &mut m {
        let p = parts
            .next()
            .ok_or_else(|| bad(key, v, "expected six hex bytes a:b:c:d:e:f"))?;
        if p.len() != 2 {
            return Err(bad(key, v, "expected six hex bytes a:b:c:d:e:f"));
        }
        *b = u8::from_str_radix(p, 16)
            .map_err(|_| bad(key, v, "expected six hex bytes a:b:c:d:e:f"))?;
    }
    if parts.next().is_some() {
        return Err(bad(key, v, "expected six hex bytes a:b:c:d:e:f"));
    }
    Ok(m)
}

fn is_pci(name: &str) -> bool {
    // dddd:bb:dd.f or bb:dd.f, hex digits.
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (dom_bus, devfn) = match name.rsplit_once(':') {
        Some(x) => x,
        None => return false,
    };
    let bus_ok = match dom_bus.split_once(':') {
        Some((d, b)) => hex(d, 4) && hex(b, 2),
        None => hex(dom_bus, 2),
    };
    let devfn_ok = matches!(devfn.split_once('.'), Some((d, f)) if hex(d, 2) && hex(f, 1));
    bus_ok && devfn_ok
}

impl DpdkSettings {
    /// Builds the settings from `(key, value)` pairs. Unknown keys, repeated keys, bad values and
    /// missing required keys are errors that name the key.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<DpdkSettings> {
        let mut seen: Vec<&'static str> = Vec::new();
        let mut s = DpdkSettings {
            eal: EalConfig {
                lcores: Some("0".into()),
                file_prefix: Some("fixeng".into()),
                ..EalConfig::default()
            },
            device: String::new(),
            pool: MempoolConfig::default(),
            port: PortConfig::default(),
            stack: StackConfig::default(),
        };
        let mut have_ip = false;
        for (k, v) in pairs {
            let v = v.trim();
            let key = KEYS
                .iter()
                .copied()
                .find(|c| c.eq_ignore_ascii_case(k.trim()))
                .ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "unknown DPDK setting {k:?} (known: {})",
                        KEYS.join(", ")
                    ))
                })?;
            if seen.contains(&key) {
                return Err(Error::InvalidConfig(format!("{key} given twice")));
            }
            seen.push(key);
            match key {
                "DpdkDevice" => {
                    if v.is_empty() {
                        return Err(bad(key, v, "empty"));
                    }
                    if is_pci(v) {
                        s.device = v.to_string();
                        s.eal.allow.push(v.to_string());
                    } else if v.starts_with("net_") {
                        s.device = v.split(',').next().unwrap_or(v).to_string();
                        s.eal.vdevs.push(v.to_string());
                        s.eal.no_pci = true;
                    } else {
                        return Err(bad(
                            key,
                            v,
                            "neither a PCI address (0000:3b:00.0) nor a vdev (net_...)",
                        ));
                    }
                }
                "DpdkLcores" => {
                    if v.is_empty()
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b == b',' || b == b'-')
                    {
                        return Err(bad(key, v, "expected a core list such as 2 or 2-3"));
                    }
                    s.eal.lcores = Some(v.to_string());
                }
                "DpdkFilePrefix" => {
                    if v.is_empty()
                        || !v
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    {
                        return Err(bad(key, v, "expected letters, digits, - or _"));
                    }
                    s.eal.file_prefix = Some(v.to_string());
                }
                "DpdkNoHuge" => {
                    s.eal.no_huge = yes_no(key, v)?;
                    if s.eal.no_huge && s.eal.memory_mb.is_none() {
                        s.eal.memory_mb = Some(256);
                    }
                }
                "DpdkMemoryMB" => s.eal.memory_mb = Some(num(key, v)?),
                "DpdkEalExtra" => s.eal.extra = v.split_whitespace().map(str::to_string).collect(),
                "DpdkMbufs" => s.pool.mbufs = num(key, v)?,
                "DpdkMbufCache" => s.pool.cache = num(key, v)?,
                "DpdkMbufDataRoom" => s.pool.data_room = num(key, v)?,
                "DpdkRxRing" => s.port.rx_ring = num(key, v)?,
                "DpdkTxRing" => s.port.tx_ring = num(key, v)?,
                "DpdkPromiscuous" => s.port.promiscuous = yes_no(key, v)?,
                "DpdkLocalIP" => {
                    let (ip, len) = v.split_once('/').ok_or_else(|| {
                        bad(key, v, "expected address/prefix, e.g. 192.0.2.10/24")
                    })?;
                    s.stack.ip = ip
                        .parse::<Ipv4Addr>()
                        .map_err(|_| bad(key, v, "not an IPv4 address"))?;
                    s.stack.prefix_len = num(key, len)?;
                    have_ip = true;
                }
                "DpdkGateway" => {
                    s.stack.gateway =
                        Some(v.parse().map_err(|_| bad(key, v, "not an IPv4 address"))?)
                }
                "DpdkMac" => s.stack.mac = mac(key, v)?,
                "DpdkMtu" => s.stack.mtu = num(key, v)?,
                "DpdkRxBuffer" => s.stack.rx_buffer = num(key, v)?,
                "DpdkTxBuffer" => s.stack.tx_buffer = num(key, v)?,
                "DpdkNagle" => s.stack.nagle = yes_no(key, v)?,
                "DpdkAckDelayUs" => {
                    s.stack.ack_delay_us = Some(num::<u64>(key, v)?).filter(|&d| d > 0)
                }
                "DpdkKeepAliveMs" => {
                    s.stack.keep_alive_ms = Some(num::<u64>(key, v)?).filter(|&d| d > 0)
                }
                "DpdkTimeoutMs" => {
                    s.stack.timeout_ms = Some(num::<u64>(key, v)?).filter(|&d| d > 0)
                }
                "DpdkVerifyChecksums" => s.stack.verify_rx_checksums = yes_no(key, v)?,
                "DpdkArpRefreshMs" => {
                    s.stack.arp_refresh_ms = Some(num::<u64>(key, v)?).filter(|&d| d > 0)
                }
                _ => return Err(Error::InvalidConfig(format!("{key}: not handled"))),
            }
        }
        if s.device.is_empty() {
            return Err(Error::InvalidConfig("DpdkDevice is required".into()));
        }
        if !have_ip {
            return Err(Error::InvalidConfig("DpdkLocalIP is required".into()));
        }
        s.stack.validate()?;
        s.pool.check_for_port(&s.port, s.stack.mtu)?;
        Ok(s)
    }
}

#[cfg(feature = "dpdk")]
impl DpdkSettings {
    /// Initialises the EAL (once per process; see [`crate::sys::Eal::init`]), creates the pool,
    /// opens the port and builds the stack. Call it on the IO agent's thread.
    pub fn open(&self, now_ns: u64) -> Result<crate::DpdkStack> {
        let eal = crate::sys::Eal::init(&self.eal.args())?;
        let id = eal.port_by_name(&self.device)?;
        crate::DpdkStack::open(eal, id, &self.pool, &self.port, self.stack.clone(), now_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_device_and_stack_keys() {
        let s = DpdkSettings::from_pairs([
            ("DpdkDevice", "0000:3b:00.0"),
            ("dpdklcores", "2"),
            ("DpdkLocalIP", "192.0.2.10/24"),
            ("DpdkGateway", "192.0.2.1"),
            ("DpdkMac", "02:00:00:aa:bb:cc"),
            ("DpdkAckDelayUs", "0"),
            ("DpdkRxBuffer", "1048576"),
        ])
        .unwrap();
        assert_eq!(s.device, "0000:3b:00.0");
        assert_eq!(s.eal.allow, ["0000:3b:00.0"]);
        assert!(!s.eal.no_pci);
        assert_eq!(s.eal.lcores.as_deref(), Some("2"));
        assert_eq!(s.stack.ip, Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(s.stack.prefix_len, 24);
        assert_eq!(s.stack.gateway, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(s.stack.mac, [2, 0, 0, 0xaa, 0xbb, 0xcc]);
        assert_eq!(s.stack.ack_delay_us, None);
        assert_eq!(s.stack.rx_buffer, 1 << 20);
        assert!(s.eal.args().contains(&"-a".to_string()));
    }

    #[test]
    fn vdev_device_names_the_port_and_skips_pci() {
        let s = DpdkSettings::from_pairs([
            ("DpdkDevice", "net_memif0,role=client,socket=/run/x.sock"),
            ("DpdkNoHuge", "Y"),
            ("DpdkLocalIP", "10.0.0.2/24"),
        ])
        .unwrap();
        assert_eq!(s.device, "net_memif0");
        assert_eq!(s.eal.vdevs, ["net_memif0,role=client,socket=/run/x.sock"]);
        assert!(s.eal.no_pci && s.eal.no_huge);
        assert_eq!(s.eal.memory_mb, Some(256));
    }

    #[test]
    fn errors_name_the_key_and_value() {
        let base = [
            ("DpdkDevice", "0000:3b:00.0"),
            ("DpdkLocalIP", "10.0.0.1/24"),
        ];
        let e = |extra: (&'static str, &'static str)| {
            DpdkSettings::from_pairs(base.iter().copied().chain([extra]))
                .unwrap_err()
                .to_string()
        };
        assert!(e(("DpdkMtu", "big")).contains("DpdkMtu=big"));
        assert!(e(("DpdkMtu", "100")).contains("mtu 100"));
        assert!(e(("DpdkMac", "02:00:00:00:00")).contains("DpdkMac=02:00:00:00:00"));
        assert!(e(("DpdkMac", "03:00:00:00:00:01")).contains("multicast"));
        assert!(e(("DpdkNagle", "yes")).contains("expected Y or N"));
        assert!(e(("DpdkLcores", "2;3")).contains("DpdkLcores=2;3"));
        assert!(e(("DpdkMbufs", "100")).contains("100 mbufs < rx_ring"));
        assert!(e(("DpdkDevice", "eth0")).contains("given twice"));
        assert!(e(("DpdkSpeed", "fast")).contains("unknown DPDK setting \"DpdkSpeed\""));
        let e = DpdkSettings::from_pairs([("DpdkDevice", "eth0"), ("DpdkLocalIP", "10.0.0.1/24")])
            .unwrap_err();
        assert!(e.to_string().contains("neither a PCI address"), "{e}");
        let e = DpdkSettings::from_pairs([("DpdkDevice", "0000:3b:00.0")]).unwrap_err();
        assert!(e.to_string().contains("DpdkLocalIP is required"), "{e}");
        let e = DpdkSettings::from_pairs([("DpdkLocalIP", "10.0.0.1/24")]).unwrap_err();
        assert!(e.to_string().contains("DpdkDevice is required"), "{e}");
        let e = DpdkSettings::from_pairs(base.iter().copied().chain([("DpdkLocalIP", "10.0.0.1")]))
            .unwrap_err();
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn pci_address_shapes() {
        assert!(is_pci("0000:3b:00.0"));
        assert!(is_pci("3b:00.1"));
        assert!(!is_pci("0000:3b:00"));
        assert!(!is_pci("net_ring0"));
        assert!(!is_pci("0000:3g:00.0"));
        assert!(!is_pci(""));
    }
}
