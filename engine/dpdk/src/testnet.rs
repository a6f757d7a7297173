//! Test networks: two network namespaces joined by a veth pair, for running a DPDK port
//! (`net_af_packet` or `net_af_xdp` on the veth end in namespace `a`) against the Linux kernel's
//! TCP (namespace `b`, address [`Netns::KERNEL_IP`]/24). Needs root and `ip`/`ethtool`
//! (iproute2, ethtool). Everything is deleted on drop, also when a test fails.

use std::process::{Command, Stdio};

/// Two namespaces and the veth pair between them.
pub struct Netns {
    /// Namespace of the DPDK side (the veth end has no kernel address).
    pub a: String,
    /// Namespace of the kernel-TCP side.
    pub b: String,
    /// The veth end in `a` (the interface the DPDK port opens).
    pub veth_a: String,
}

/// Runs `ip ARGS`; an error says which command failed and what it printed.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// Address of the kernel side in namespace `b`.
    pub const KERNEL_IP: &'static str = "10.77.0.2";

    /// Creates the namespaces `<prefix>A<pid><tag>` and `<prefix>B<pid><tag>` and the veth pair
    /// (names stay within the kernel's 15-byte interface limit for 3-byte prefixes and pids up
    /// to 7 digits).
    ///
    /// # Errors
    /// When a command fails (not root, iproute2 or ethtool missing, name in use).
    pub fn create(prefix: &str, tag: char) -> Result<Netns, String> {
        let pid = std::process::id();
        let n = Netns {
            a: format!("{prefix}A{pid}{tag}"),
            b: format!("{prefix}B{pid}{tag}"),
            veth_a: format!("{prefix}a{pid}{tag}"),
        };
        let veth_b = format!("{prefix}b{pid}{tag}");
        ip(&["netns", "add", &n.a])?;
        ip(&["netns", "add", &n.b])?;
        ip(&[
            "link", "add", &n.veth_a, "type", "veth", "peer", "name", &veth_b,
        ])?;
        ip(&["link", "set", &n.veth_a, "netns", &n.a])?;
        ip(&["link", "set", &veth_b, "netns", &n.b])?;
        ip(&["-n", &n.a, "link", "set", &n.veth_a, "up"])?;
        let addr = format!("{}/24", Self::KERNEL_IP);
        ip(&["-n", &n.b, "addr", "add", &addr, "dev", &veth_b])?;
        ip(&["-n", &n.b, "link", "set", &veth_b, "up"])?;
        ip(&["-n", &n.b, "link", "set", "lo", "up"])?;
        // The kernel must put complete, MTU-sized frames on the veth: no checksum offload, no
        // segmentation offload (af_packet would hand DPDK partial checksums and 64 KB frames).
        for (ns, dev) in [(&n.a, &n.veth_a), (&n.b, &veth_b)] {
            let st = Command::new("ip")
                .args([
                    "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso",
                    "off", "gso", "off", "gro", "off",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("ethtool: {e}"))?;
            if !st.success() {
                return Err(format!("ethtool -K {dev} failed"));
            }
        }
        Ok(n)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the pair.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}
