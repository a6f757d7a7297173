//! `fixdpdk-selftest`: DPDK scenarios, one per process (the EAL initialises once per process).
//! Driven by `tests/dpdk.rs` and `scripts/ci/dpdk.sh`; also a smoke test on a deployment host.
//!
//! ```text
//! fixdpdk-selftest ring-raw                      # Port/Mbuf/Mempool over a net_ring pair
//! fixdpdk-selftest ring-tcp [--bytes N] [--ring R --mbufs M --expect-pressure]
//!                                                # smoltcp <-> smoltcp over a net_ring pair
//! fixdpdk-selftest ring-arp                      # ARP refresh frame, padded to 60 bytes, on the wire
//! fixdpdk-selftest eal-reinit                    # second EAL init: same args ok, others error
//! fixdpdk-selftest eal-bad-args                  # failed EAL init: error text, no retry
//! fixdpdk-selftest kernel --iface IF --peer-netns NS --role dpdk-client|dpdk-server [--bytes N]
//!                                                # DPDK+smoltcp (af_packet on IF) <-> Linux TCP in NS
//! fixdpdk-selftest kernel-peer --role server|client --addr IP:PORT --bytes N
//!                                                # the Linux side (std::net), run inside NS
//! fixdpdk-selftest memif --role server|client --socket NAME [--bytes N] [--lcore L]
//! ```
//!
//! Prints `OK <scenario> ...` and exits 0 on success; prints `FAIL: ...` and exits 1 otherwise.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fixdpdk::sys::{Eal, Mbuf, Mempool, Port};
use fixdpdk::{
    pattern_byte, DpdkSettings, DpdkStack, EalConfig, Error, Handle, MempoolConfig, PortConfig,
    StackConfig, StreamState,
};

type Res<T> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let r = match args.get(1).map(String::as_str) {
        Some("ring-raw") => ring_raw(),
        Some("ring-tcp") => ring_tcp(&args),
        Some("ring-arp") => ring_arp(),
        Some("eal-reinit") => eal_reinit(),
        Some("eal-bad-args") => eal_bad_args(),
        Some("kernel") => kernel(&args),
        Some("kernel-peer") => kernel_peer(&args),
        Some("memif") => memif(&args),
        _ => Err(
            "usage: fixdpdk-selftest ring-raw|ring-tcp|ring-arp|eal-reinit|eal-bad-args|kernel|kernel-peer|memif [options]".into(),
        ),
    };
    if let Err(e) = r {
        eprintln!("FAIL: {e}");
        std::process::exit(1);
    }
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn req(args: &[String], name: &str) -> Res<String> {
    opt(args, name).ok_or_else(|| format!("missing {name}"))
}

fn bytes_opt(args: &[String], default: u64) -> Res<u64> {
    opt(args, "--bytes").map_or(Ok(default), |s| {
        s.parse().map_err(|e| format!("--bytes {s}: {e}"))
    })
}

fn e2s(e: Error) -> String {
    e.to_string()
}

/// Runtime files of a --no-huge EAL stay in `/var/run/dpdk/<prefix>`: remove them at exit.
struct PrefixDir(String);

impl Drop for PrefixDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.0));
    }
}

fn eal(tag: &str, lcore: u32, vdevs: &[String]) -> Res<(&'static Eal, PrefixDir)> {
    let prefix = format!("fxd-{tag}-{}", std::process::id());
    let mut c = EalConfig::virtual_only(&prefix, lcore);
    c.program = format!("fixdpdk-selftest-{tag}");
    c.vdevs = vdevs.to_vec();
    let e = Eal::init(&c.args()).map_err(e2s)?;
    // Not needed after init (single-process EAL); removed now so a crash leaves nothing behind.
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    Ok((e, PrefixDir(prefix)))
}

fn pool(eal: &Eal, name: &str) -> Res<Mempool> {
    Mempool::create(
        eal,
        &MempoolConfig {
            name: name.into(),
            mbufs: 4095,
            cache: 64,
            data_room: 2176,
        },
    )
    .map_err(e2s)
}

fn small_ports() -> PortConfig {
    PortConfig {
        rx_ring: 512,
        tx_ring: 512,
        promiscuous: false,
    }
}

fn ring_raw() -> Res<()> {
    let (eal, _d) = eal("raw", 0, &[])?;
    let mp = pool(eal, "raw")?;
    let (mut a, mut b) = Port::ring_pair(eal, &small_ports(), mp).map_err(e2s)?;
    let base = mp.in_use();
    // Build 8 frames with append/prepend, send them as one burst, receive them on b.
    let mut tx: [Option<Mbuf>; 8] = Default::default();
    for (i, slot) in tx.iter_mut().enumerate() {
        let mut m = mp.alloc().ok_or("pool empty")?;
        if m.data_len() != 0 || m.headroom() != 128 {
            return Err(format!(
                "fresh mbuf: len {} headroom {}",
                m.data_len(),
                m.headroom()
            ));
        }
        m.append(100).ok_or("append failed")?.fill(i as u8);
        m.prepend(14).ok_or("prepend failed")?.fill(0xEE);
        if !m.trim(10) || m.data_len() != 104 || m.pkt_len() != 104 {
            return Err(format!("trim: len {}", m.data_len()));
        }
        if m.append(65_536).is_some() || m.prepend(1000).is_some() {
            return Err("oversized append/prepend must fail".into());
        }
        *slot = Some(m);
    }
    let sent = a.tx_burst(&mut tx);
    if sent != 8 || tx.iter().any(Option::is_some) {
        return Err(format!(
            "tx_burst sent {sent} of 8, slots left {:?}",
            tx.iter().filter(|s| s.is_some()).count()
        ));
    }
    let mut rx: [Option<Mbuf>; 32] = Default::default();
    let got = b.rx_burst(&mut rx);
    if got != 8 {
        return Err(format!("rx_burst got {got} of 8"));
    }
    for (i, m) in rx[..got].iter().enumerate() {
        let m = m.as_ref().ok_or("hole in rx burst")?;
        let d = m.data();
        if d.len() != 104
            || d[..14].iter().any(|&x| x != 0xEE)
            || d[14..].iter().any(|&x| x != i as u8)
        {
            return Err(format!("frame {i} corrupted: len {}", d.len()));
        }
    }
    // A None in the middle stops the burst at the run of Some.
    let mut partial: [Option<Mbuf>; 3] = [mp.alloc(), None, mp.alloc()];
    for m in partial.iter_mut().flatten() {
        m.append(60).ok_or("append")?.fill(1);
    }
    if a.tx_burst(&mut partial) != 1 || partial[2].is_none() {
        return Err("tx_burst must stop at the first empty slot".into());
    }
    drop(partial);
    let got = b.rx_burst(&mut rx); // frees the previous 8
    if got != 1 {
        return Err(format!("second rx_burst got {got}"));
    }
    for s in rx.iter_mut() {
        *s = None;
    }
    if mp.in_use() != base {
        return Err(format!("mbuf leak: in use {} (was {base})", mp.in_use()));
    }
    if a.stats().map_err(e2s)?.tx_packets != 9 || b.stats().map_err(e2s)?.rx_packets != 9 {
        return Err(format!("port stats: {:?} {:?}", a.stats(), b.stats()));
    }
    // Errors name the call and the errno text.
    let e = Port::open(eal, 999, &small_ports(), mp)
        .unwrap_err()
        .to_string();
    if !e.contains("rte_eth_dev_configure failed") || !e.contains("port 999") {
        return Err(format!("bad-port error text: {e}"));
    }
    let e = Mempool::create(
        eal,
        &MempoolConfig {
            name: "raw".into(),
            ..MempoolConfig::default()
        },
    )
    .unwrap_err();
    if !e.to_string().contains("rte_pktmbuf_pool_create failed") {
        return Err(format!("duplicate pool error text: {e}"));
    }
    println!("OK ring-raw: 9 frames, burst semantics, no leak; errors: {e}");
    Ok(())
}

fn ring_arp() -> Res<()> {
    let (eal, _d) = eal("arp", 0, &[])?;
    let mp = pool(eal, "arp")?;
    let (pa, mut pb) = Port::ring_pair(eal, &small_ports(), mp).map_err(e2s)?;
    let cfg = StackConfig {
        mac: [2, 0, 0, 0, 0, 1],
        gateway: Some(Ipv4Addr::new(10, 0, 0, 254)),
        ..stack_cfg(Ipv4Addr::new(10, 0, 0, 1), 1)
    };
    let mut a = DpdkStack::on_port(pa, cfg, 0).map_err(e2s)?;
    a.poll(1);
    let mut rx: [Option<Mbuf>; 32] = Default::default();
    let n = pb.rx_burst(&mut rx);
    if n != 1 || a.arp_requests_sent() != 1 {
        return Err(format!(
            "expected one ARP request, got {n} frames, {} sent",
            a.arp_requests_sent()
        ));
    }
    let f = rx[0].as_ref().ok_or("empty slot")?.data();
    let ok = f.len() == 60
        && f[..6] == [0xff; 6]
        && f[6..12] == [2, 0, 0, 0, 0, 1]
        && f[12..14] == [0x08, 0x06]
        && f[20..22] == [0, 1]
        && f[38..42] == [10, 0, 0, 254]
        && f[42..].iter().all(|&b| b == 0);
    if !ok {
        return Err(format!("bad ARP frame ({} bytes): {f:02x?}", f.len()));
    }
    // Not again before the refresh period.
    a.poll(1_000_000_000);
    if pb.rx_burst(&mut rx) != 0 {
        return Err("ARP refresh repeated before its period".into());
    }
    a.poll(20_000_000_001);
    if pb.rx_burst(&mut rx) != 1 {
        return Err("no ARP refresh after its period".into());
    }
    println!("OK ring-arp: gateway ARP request, 60 bytes zero-padded, refreshed every 20 s");
    Ok(())
}

fn eal_reinit() -> Res<()> {
    let (e1, _d) = eal("reinit", 0, &[])?;
    let again = Eal::init(e1.args()).map_err(e2s)?;
    if !std::ptr::eq(e1, again) {
        return Err("same args must return the same Eal".into());
    }
    let mut other = e1.args().to_vec();
    other.push("--vdev=net_null0".into());
    match Eal::init(&other) {
        Err(Error::EalAlreadyInitialized { .. }) => {}
        r => {
            return Err(format!(
                "other args: expected EalAlreadyInitialized, got {r:?}"
            ))
        }
    }
    println!("OK eal-reinit");
    Ok(())
}

fn eal_bad_args() -> Res<()> {
    let prefix = format!("fxd-badargs-{}", std::process::id());
    let _d = PrefixDir(prefix.clone());
    let mut c = EalConfig::virtual_only(&prefix, 0);
    c.vdevs.push("net_nosuchdriver0".into());
    let e = Eal::init(&c.args())
        .err()
        .ok_or("EAL init with an unknown vdev must fail")?;
    let text = e.to_string();
    if !text.starts_with("rte_eal_init failed") || !text.contains("net_nosuchdriver0") {
        return Err(format!(
            "error text does not name the call and args: {text}"
        ));
    }
    match Eal::init(&EalConfig::virtual_only(&prefix, 0).args()) {
        Err(Error::EalInitFailedEarlier(_)) => {}
        r => {
            return Err(format!(
                "retry after failure: expected EalInitFailedEarlier, got {r:?}"
            ))
        }
    }
    if Eal::get().is_some() {
        return Err("no EAL may be recorded after a failure".into());
    }
    println!("OK eal-bad-args: {text}");
    Ok(())
}

/// Time allowed for moving `n` bytes each way: generous, for debug builds on a loaded machine.
fn limit(n: u64) -> Duration {
    Duration::from_secs(60 + n / 200_000)
}

fn now_ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

/// Sends `n` pattern bytes (seed `tx_seed`) and receives `n` (seed `rx_seed`) at once, checking
/// every byte; then closes and waits for the orderly end of the connection.
fn exchange(
    st: &mut DpdkStack,
    h: Handle,
    n: u64,
    tx_seed: u8,
    rx_seed: u8,
    t0: Instant,
    limit: Duration,
) -> Res<()> {
    let (mut sent, mut got) = (0u64, 0u64);
    let mut chunk = vec![0u8; 16384];
    let mut buf = vec![0u8; 16384];
    let mut closed_by_peer = false;
    while got < n || sent < n {
        if t0.elapsed() > limit {
            return Err(format!(
                "timeout: sent {sent}/{n} got {got}/{n}, state {:?}, dev {:?}",
                st.tcp_state(h),
                st.device().stats()
            ));
        }
        st.poll(now_ns(t0));
        if sent < n {
            let k = ((n - sent) as usize).min(chunk.len());
            for (i, c) in chunk[..k].iter_mut().enumerate() {
                *c = pattern_byte(tx_seed, sent + i as u64);
            }
            sent += st.send(h, &chunk[..k]).map_err(e2s)? as u64;
        }
        loop {
            match st.recv(h, &mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    for (i, &c) in buf[..k].iter().enumerate() {
                        if c != pattern_byte(rx_seed, got + i as u64) {
                            return Err(format!("byte {} wrong", got + i as u64));
                        }
                    }
                    got += k as u64;
                    if got > n {
                        return Err(format!("received {got} > {n} bytes"));
                    }
                }
                Err(Error::Closed) => {
                    closed_by_peer = true;
                    if got < n {
                        return Err(format!("peer closed after {got}/{n} bytes"));
                    }
                    break;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    // Everything sent must be acknowledged before the FIN.
    st.close(h).map_err(e2s)?;
    let deadline = t0.elapsed() + Duration::from_secs(10);
    loop {
        st.poll(now_ns(t0));
        let s = st.state(h).map_err(e2s)?;
        let mut b = [0u8; 1];
        if !closed_by_peer && matches!(st.recv(h, &mut b), Err(Error::Closed)) {
            closed_by_peer = true;
        }
        if (s == StreamState::Closed
            || st.tcp_state(h).map_err(e2s)? == smoltcp::socket::tcp::State::TimeWait)
            && closed_by_peer
        {
            return Ok(());
        }
        if t0.elapsed() > deadline {
            return Err(format!(
                "close did not finish: {:?}, peer closed {closed_by_peer}",
                st.tcp_state(h)
            ));
        }
    }
}

fn stack_cfg(ip: Ipv4Addr, seed: u64) -> StackConfig {
    StackConfig {
        ip,
        random_seed: seed,
        ..StackConfig::default()
    }
}

fn ring_tcp(args: &[String]) -> Res<()> {
    let n = bytes_opt(args, 4_000_000)?;
    // --ring 64 --mbufs 200 squeezes the port rings and the pool: frames back up in the device
    // (TX burst partly refused) and mbuf allocation fails; TCP must still deliver every byte.
    let ring: u16 =
        opt(args, "--ring").map_or(Ok(512), |s| s.parse().map_err(|e| format!("--ring: {e}")))?;
    let mbufs: u32 = opt(args, "--mbufs")
        .map_or(Ok(4095), |s| s.parse().map_err(|e| format!("--mbufs: {e}")))?;
    let pressure = args.iter().any(|a| a == "--expect-pressure");
    let (eal, _d) = eal("ringtcp", 0, &[])?;
    let cache = if mbufs < 1000 { 0 } else { 64 };
    let mp = Mempool::create(
        eal,
        &MempoolConfig {
            name: "ringtcp".into(),
            mbufs,
            cache,
            data_room: 2176,
        },
    )
    .map_err(e2s)?;
    let ports = PortConfig {
        rx_ring: ring,
        tx_ring: ring,
        promiscuous: false,
    };
    let (pa, pb) = Port::ring_pair(eal, &ports, mp).map_err(e2s)?;
    let t0 = Instant::now();
    let mut cfg_a = stack_cfg(Ipv4Addr::new(10, 0, 0, 1), 1);
    cfg_a.mac = [2, 0, 0, 0, 0, 1];
    let mut cfg_b = stack_cfg(Ipv4Addr::new(10, 0, 0, 2), 2);
    cfg_b.mac = [2, 0, 0, 0, 0, 2];
    let mut a = DpdkStack::on_port(pa, cfg_a, 0).map_err(e2s)?;
    let mut b = DpdkStack::on_port(pb, cfg_b, 0).map_err(e2s)?;
    let lb = b.listen(9878).map_err(e2s)?;
    let ca = a
        .connect(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 9878))
        .map_err(e2s)?;
    // Both stacks in one thread: interleave their exchanges step by step.
    let (mut sa, mut sb, mut ra, mut rb) = (0u64, 0u64, 0u64, 0u64);
    let mut chunk = vec![0u8; 8192];
    let mut buf = vec![0u8; 8192];
    while ra < n || rb < n {
        if t0.elapsed() > limit(n) {
            return Err(format!(
                "timeout: a sent {sa} got {ra}, b sent {sb} got {rb}; {:?} {:?}; a {:?} b {:?}; pool in use {} of {mbufs}",
                a.tcp_state(ca),
                b.tcp_state(lb),
                a.device().stats(),
                b.device().stats(),
                mp.in_use()
            ));
        }
        let now = now_ns(t0);
        a.poll(now);
        b.poll(now);
        // Fill the send buffers (whole windows leave in one poll: bursts larger than the rings).
        for (st, h, sent, seed) in [(&mut a, ca, &mut sa, 1u8), (&mut b, lb, &mut sb, 2u8)] {
            while *sent < n {
                let k = ((n - *sent) as usize).min(chunk.len());
                for (i, c) in chunk[..k].iter_mut().enumerate() {
                    *c = pattern_byte(seed, *sent + i as u64);
                }
                let w = st.send(h, &chunk[..k]).map_err(e2s)?;
                *sent += w as u64;
                if w < k {
                    break;
                }
            }
        }
        for (st, h, got, seed) in [(&mut a, ca, &mut ra, 2u8), (&mut b, lb, &mut rb, 1u8)] {
            loop {
                let k = st.recv(h, &mut buf).map_err(e2s)?;
                if k == 0 {
                    break;
                }
                for (i, &c) in buf[..k].iter().enumerate() {
                    if c != pattern_byte(seed, *got + i as u64) {
                        return Err(format!("byte {} from seed {seed} wrong", *got + i as u64));
                    }
                }
                *got += k as u64;
            }
        }
    }
    let (da, db) = (a.device().stats(), b.device().stats());
    if pressure && da.tx_ring_full + db.tx_ring_full == 0 {
        return Err(format!(
            "expected TX back-pressure, saw none: a {da:?}; b {db:?}"
        ));
    }
    println!(
        "OK ring-tcp: {n} bytes each way in {:.3} s; a {da:?}; b {db:?}",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn wait_link(st: &DpdkStack, limit: Duration) -> Res<()> {
    let t = Instant::now();
    while !st.device().port().link_up().map_err(e2s)? {
        if t.elapsed() > limit {
            return Err("link did not come up".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn kernel(args: &[String]) -> Res<()> {
    let iface = req(args, "--iface")?;
    let peer_ns = req(args, "--peer-netns")?;
    let role = req(args, "--role")?;
    let n = bytes_opt(args, 8_000_000)?;
    let local: Ipv4Addr = req(args, "--local-ip")?
        .parse()
        .map_err(|e| format!("--local-ip: {e}"))?;
    let peer: Ipv4Addr = req(args, "--peer-ip")?
        .parse()
        .map_err(|e| format!("--peer-ip: {e}"))?;
    let vdev = format!("net_af_packet0,iface={iface},qpairs=1");
    let (eal, _d) = eal("kernel", 0, &[vdev])?;
    let port_cfg = PortConfig {
        rx_ring: 512,
        tx_ring: 512,
        promiscuous: false,
    };
    let pool_cfg = MempoolConfig {
        name: "kernel".into(),
        mbufs: 4095,
        cache: 64,
        data_room: 2176,
    };
    let port_id = eal.port_by_name("net_af_packet0").map_err(e2s)?;
    let t0 = Instant::now();
    let cfg = stack_cfg(local, std::process::id().into());
    let mut st = DpdkStack::open(eal, port_id, &pool_cfg, &port_cfg, cfg, 0).map_err(e2s)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let spawn_peer = |peer_role: &str, addr: SocketAddrV4| -> Res<Child> {
        Command::new("ip")
            .args(["netns", "exec", &peer_ns])
            .arg(&exe)
            .args([
                "kernel-peer",
                "--role",
                peer_role,
                "--addr",
                &addr.to_string(),
                "--bytes",
                &n.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn kernel peer: {e}"))
    };
    let (h, mut child) = match role.as_str() {
        "dpdk-client" => {
            let addr = SocketAddrV4::new(peer, 9101);
            let mut child = spawn_peer("server", addr)?;
            let mut line = String::new();
            let out = child.stdout.take().ok_or("no peer stdout")?;
            BufReader::new(out)
                .read_line(&mut line)
                .map_err(|e| e.to_string())?;
            if line.trim() != "READY" {
                let _ = child.wait();
                return Err(format!("kernel peer did not start listening: {line:?}"));
            }
            (st.connect(addr).map_err(e2s)?, child)
        }
        "dpdk-server" => {
            let h = st.listen(9102).map_err(e2s)?;
            (h, spawn_peer("client", SocketAddrV4::new(local, 9102))?)
        }
        r => return Err(format!("--role {r}: expected dpdk-client or dpdk-server")),
    };
    let r = exchange(&mut st, h, n, 1, 2, t0, limit(n));
    // Keep answering (ACKs, FIN) while the peer finishes.
    let status = loop {
        st.poll(now_ns(t0));
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if t0.elapsed() > limit(n) + Duration::from_secs(30) {
            let _ = child.kill();
            return Err("kernel peer did not finish".into());
        }
    };
    r?;
    if !status.success() {
        return Err(format!("kernel peer failed: {status}"));
    }
    println!(
        "OK kernel {role}: {n} bytes each way with Linux TCP in {:.3} s; {:?}; port {:?}",
        t0.elapsed().as_secs_f64(),
        st.device().stats(),
        st.device().port().stats()
    );
    Ok(())
}

fn kernel_peer(args: &[String]) -> Res<()> {
    let role = req(args, "--role")?;
    let addr: SocketAddrV4 = req(args, "--addr")?
        .parse()
        .map_err(|e| format!("--addr: {e}"))?;
    let n = bytes_opt(args, 0)?;
    let s = match role.as_str() {
        "server" => {
            let l = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
            println!("READY");
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            l.accept().map_err(|e| format!("accept: {e}"))?.0
        }
        "client" => {
            let t = Instant::now();
            loop {
                match TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2)) {
                    Ok(s) => break s,
                    Err(e) if t.elapsed() > Duration::from_secs(20) => {
                        return Err(format!("connect {addr}: {e}"))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        r => return Err(format!("--role {r}")),
    };
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(limit(n)))
        .map_err(|e| e.to_string())?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let writer = std::thread::spawn(move || -> Res<()> {
        let mut chunk = vec![0u8; 65536];
        let mut sent = 0u64;
        while sent < n {
            let k = ((n - sent) as usize).min(chunk.len());
            for (i, c) in chunk[..k].iter_mut().enumerate() {
                *c = pattern_byte(2, sent + i as u64);
            }
            w.write_all(&chunk[..k])
                .map_err(|e| format!("write: {e}"))?;
            sent += k as u64;
        }
        w.shutdown(std::net::Shutdown::Write)
            .map_err(|e| e.to_string())
    });
    let mut r = s;
    let mut buf = vec![0u8; 65536];
    let mut got = 0u64;
    loop {
        let k = r
            .read(&mut buf)
            .map_err(|e| format!("read after {got}: {e}"))?;
        if k == 0 {
            break;
        }
        for (i, &c) in buf[..k].iter().enumerate() {
            if c != pattern_byte(1, got + i as u64) {
                return Err(format!("kernel peer: byte {} wrong", got + i as u64));
            }
        }
        got += k as u64;
    }
    writer.join().map_err(|_| "writer panicked")??;
    if got != n {
        return Err(format!("kernel peer got {got} of {n} bytes before EOF"));
    }
    Ok(())
}

fn memif(args: &[String]) -> Res<()> {
    let role = req(args, "--role")?;
    let socket = req(args, "--socket")?;
    let n = bytes_opt(args, 8_000_000)?;
    let lcore: u32 =
        opt(args, "--lcore").map_or(Ok(0), |s| s.parse().map_err(|e| format!("--lcore: {e}")))?;
    let (mac, ip, peer) = match role.as_str() {
        "server" => (
            "02:fd:00:00:00:01",
            Ipv4Addr::new(10, 88, 0, 1),
            Ipv4Addr::new(10, 88, 0, 2),
        ),
        "client" => (
            "02:fd:00:00:00:02",
            Ipv4Addr::new(10, 88, 0, 2),
            Ipv4Addr::new(10, 88, 0, 1),
        ),
        r => return Err(format!("--role {r}")),
    };
    // Configured through the settings-file keys, as the engine would be.
    let prefix = format!("fxd-memif-{role}-{}", std::process::id());
    let _d = PrefixDir(prefix.clone());
    let device = format!("net_memif0,role={role},socket={socket},mac={mac},id=0");
    let lcores = lcore.to_string();
    let local = format!("{ip}/24");
    let settings = DpdkSettings::from_pairs([
        ("DpdkDevice", device.as_str()),
        ("DpdkLcores", lcores.as_str()),
        ("DpdkFilePrefix", prefix.as_str()),
        ("DpdkNoHuge", "Y"),
        ("DpdkMbufs", "4095"),
        ("DpdkMbufCache", "64"),
        ("DpdkRxRing", "512"),
        ("DpdkTxRing", "512"),
        ("DpdkLocalIP", local.as_str()),
    ])
    .map_err(e2s)?;
    let t0 = Instant::now();
    let mut st = settings.open(0).map_err(e2s)?;
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
    let h = if role == "server" {
        let h = st.listen(9200).map_err(e2s)?;
        println!("READY");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        wait_link(&st, Duration::from_secs(20))?;
        h
    } else {
        wait_link(&st, Duration::from_secs(20))?;
        st.connect(SocketAddrV4::new(peer, 9200)).map_err(e2s)?
    };
    let (tx_seed, rx_seed) = if role == "server" { (2, 1) } else { (1, 2) };
    exchange(&mut st, h, n, tx_seed, rx_seed, t0, limit(n))?;
    // Linger so the peer's last ACK/FIN exchange completes on its side too.
    let end = t0.elapsed() + Duration::from_millis(300);
    while t0.elapsed() < end {
        st.poll(now_ns(t0));
    }
    println!(
        "OK memif {role}: {n} bytes each way in {:.3} s; {:?}",
        t0.elapsed().as_secs_f64(),
        st.device().stats()
    );
    Ok(())
}
