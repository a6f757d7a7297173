//! Full FIX sessions over DPDK (`Transport=dpdk`): the whole engine (IO, sequencer, session and
//! application agents, MmapStore) on fixdpdk's user-space TCP over a DPDK port, against
//!
//! * the engine on kernel TCP (`Transport=io_uring`) over a veth pair between two network
//!   namespaces this test creates (DPDK on `net_af_packet`), with the DPDK side as acceptor and
//!   as initiator, FIX-level faults (drops, reorder, delay, a cut) injected on both sides;
//! * another DPDK engine process over `net_memif`, with faults;
//! * and a restart: the DPDK initiator drops its whole pipeline mid-stream and rebuilds it from
//!   its MmapStore on the same port.
//!
//! Every side checks that every application message arrived exactly once and in order (echo:
//! orders `O1..ON`; load: reports `O1..ON`). The EAL initialises once per process, so each
//! engine runs in its own child process: this test binary re-executed with the ignored test
//! `child_peer` (arguments in `FIXENG_DPDK_PEER`). Needs the `dpdk` feature and root; prints
//! SKIP and passes otherwise.

#![cfg(feature = "dpdk")]

use fixdpdk::testnet::Netns;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The scenarios busy-poll on a small machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const ORDERS: u32 = 2000;
const ENV: &str = "FIXENG_DPDK_PEER";

/// The child: one engine process (see `fixeng::dpdk::peer`).
#[test]
#[ignore = "run by the other tests in a child process"]
fn child_peer() {
    let Ok(args) = std::env::var(ENV) else {
        println!("SKIP: child_peer runs only as a child of the dpdk_engine tests");
        return;
    };
    let args: Vec<String> = args.split('\u{1f}').map(str::to_string).collect();
    let code = fixeng::dpdk::peer::main_with(&args);
    assert_eq!(code, 0, "peer {args:?} failed");
}

fn skip_unless_root(test: &str) -> bool {
    if fixdpdk::is_root() {
        return false;
    }
    println!("SKIP {test}: DPDK tests need root (EAL, raw sockets, network namespaces)");
    true
}

/// Spawns the child peer, inside network namespace `ns` when given.
fn spawn(ns: Option<&str>, args: &[String]) -> Child {
    let exe = std::env::current_exe().expect("test binary");
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    c.args([
        "--ignored",
        "--exact",
        "child_peer",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ENV, args.join("\u{1f}"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn child peer")
}

/// The child's verdict line (`OK ...` or `FAIL ...`); libtest may print `test child_peer ... `
/// before it on the same line.
fn verdict(l: &str) -> Option<&str> {
    ["OK ", "FAIL "]
        .iter()
        .filter_map(|v| l.find(v).filter(|&i| i == 0 || l[..i].ends_with("... ")))
        .min()
        .map(|i| &l[i..])
}

/// Waits for both children (killing them after `limit`); returns their stdout, checking each
/// printed its `OK` line.
fn wait_both(mut kids: Vec<(&str, Child)>, limit: Duration) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        let done = kids
            .iter_mut()
            .all(|(_, c)| c.try_wait().ok().flatten().is_some());
        if done || t0.elapsed() > limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut outs = Vec::new();
    let mut failed = Vec::new();
    for (name, mut c) in kids {
        let timed_out = c.try_wait().ok().flatten().is_none();
        if timed_out {
            let _ = c.kill();
        }
        let out = c.wait_with_output().expect("child output");
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        let ok = so.lines().filter_map(verdict).any(|v| v.starts_with("OK "));
        println!("--- {name}: {} (timed out: {timed_out})", out.status);
        for v in so.lines().filter_map(verdict) {
            println!("{v}");
        }
        if !(out.status.success() && ok) {
            failed.push(format!(
                "{name}: {} timed_out={timed_out}\nstdout:\n{so}\nstderr:\n{se}",
                out.status
            ));
        }
        outs.push(so);
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    outs
}

/// The `OK` line's `key=value` number.
fn field(out: &str, key: &str) -> u64 {
    let line = out
        .lines()
        .filter_map(verdict)
        .find(|v| v.starts_with("OK "))
        .unwrap_or_else(|| panic!("no OK line in {out}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

fn args(cfg: &Path, app: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--config".into(),
        cfg.display().to_string(),
        "--app".into(),
        app.into(),
        "--timeout".into(),
        "80".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

struct Side<'a> {
    role: &'a str,
    sender: &'a str,
    target: &'a str,
    /// `Transport=...` plus its keys.
    transport: String,
    /// SocketAcceptPort=... or SocketConnectHost/Port lines.
    socket: String,
}

fn write_cfg(dir: &Path, name: &str, s: &Side) -> PathBuf {
    let store = dir.join(format!("store-{name}"));
    let text = format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nHeartBtInt=1\nReconnectInterval=1\nCheckLatency=N\n\
         FileStorePath={}\n[SESSION]\nSenderCompID={}\nTargetCompID={}\nConnectionType={}\n{}\n{}\n",
        store.display(),
        s.sender,
        s.target,
        s.role,
        s.socket,
        s.transport
    );
    let p = dir.join(format!("{name}.cfg"));
    std::fs::write(&p, text).expect("write settings");
    p
}

fn dpdk_keys(device: &str, prefix: &str, lcore: u32, ip: &str) -> String {
    format!(
        "Transport=dpdk\nDpdkDevice={device}\nDpdkNoHuge=Y\nDpdkFilePrefix={prefix}\n\
         DpdkLcores={lcore}\nDpdkMbufs=4095\nDpdkMbufCache=64\nDpdkRxRing=512\nDpdkTxRing=512\n\
         DpdkLocalIP={ip}/24"
    )
}

/// Removes the EAL runtime directories of the children.
struct Prefixes(Vec<String>);

impl Drop for Prefixes {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{p}"));
        }
    }
}

/// DPDK engine in namespace `a` against the kernel-TCP engine in `b`.
fn veth_scenario(tag: char, dpdk_acceptor: bool, dpdk_extra: &[&str], kernel_extra: &[&str]) {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ns = match Netns::create("fxe", tag) {
        Ok(ns) => ns,
        Err(e) => {
            println!("SKIP: cannot create namespaces/veth here: {e}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = format!("fxe-{}-{tag}", std::process::id());
    let _p = Prefixes(vec![prefix.clone()]);
    let device = format!("net_af_packet0,iface={},qpairs=1", ns.veth_a);
    let dpdk_transport = dpdk_keys(&device, &prefix, 0, "10.77.0.1");
    let (dpdk, kernel) = if dpdk_acceptor {
        (
            Side {
                role: "acceptor",
                sender: "EXCHANGE",
                target: "CLIENT",
                transport: dpdk_transport,
                socket: "SocketAcceptPort=9878".into(),
            },
            Side {
                role: "initiator",
                sender: "CLIENT",
                target: "EXCHANGE",
                transport: "Transport=io_uring".into(),
                socket: "SocketConnectHost=10.77.0.1\nSocketConnectPort=9878".into(),
            },
        )
    } else {
        (
            Side {
                role: "initiator",
                sender: "CLIENT",
                target: "EXCHANGE",
                transport: dpdk_transport,
                socket: "SocketConnectHost=10.77.0.2\nSocketConnectPort=9878".into(),
            },
            Side {
                role: "acceptor",
                sender: "EXCHANGE",
                target: "CLIENT",
                transport: "Transport=io_uring".into(),
                socket: "SocketAcceptPort=9878".into(),
            },
        )
    };
    let dcfg = write_cfg(dir.path(), "dpdk", &dpdk);
    let kcfg = write_cfg(dir.path(), "kernel", &kernel);
    let n = ORDERS.to_string();
    let (dapp, kapp) = if dpdk_acceptor {
        (["echo", "--expect"], ["load", "--orders"])
    } else {
        (["load", "--orders"], ["echo", "--expect"])
    };
    let mut da = vec![dapp[1], n.as_str()];
    da.extend_from_slice(dpdk_extra);
    let mut ka = vec![kapp[1], n.as_str()];
    ka.extend_from_slice(kernel_extra);
    // The acceptor first; the initiator retries until it listens.
    let (first, second) = if dpdk_acceptor {
        (
            ("dpdk", Some(ns.a.as_str()), args(&dcfg, dapp[0], &da)),
            ("kernel", Some(ns.b.as_str()), args(&kcfg, kapp[0], &ka)),
        )
    } else {
        (
            ("kernel", Some(ns.b.as_str()), args(&kcfg, kapp[0], &ka)),
            ("dpdk", Some(ns.a.as_str()), args(&dcfg, dapp[0], &da)),
        )
    };
    let c1 = spawn(first.1, &first.2);
    std::thread::sleep(Duration::from_millis(300));
    let c2 = spawn(second.1, &second.2);
    let outs = wait_both(
        vec![(first.0, c1), (second.0, c2)],
        Duration::from_secs(100),
    );
    let (dout, kout) = if dpdk_acceptor {
        (&outs[0], &outs[1])
    } else {
        (&outs[1], &outs[0])
    };
    let (echo, load) = if dpdk_acceptor {
        (dout, kout)
    } else {
        (kout, dout)
    };
    assert_eq!(field(echo, "orders"), u64::from(ORDERS));
    assert_eq!(field(echo, "anomalies"), 0);
    assert_eq!(field(load, "acked"), u64::from(ORDERS));
    assert_eq!(field(load, "anomalies"), 0);
    if dpdk_extra.contains(&"--restart-at") {
        assert!(
            field(dout, "sent_before_restart") > field(dout, "restarted_after_acked"),
            "orders were in flight when the pipeline was dropped"
        );
        assert_eq!(
            field(kout, "logons"),
            2,
            "the rebuilt engine logged on again"
        );
    }
    if dpdk_extra.contains(&"--faults") {
        assert!(
            field(dout, "dropped") >= 3,
            "faults injected on the DPDK side"
        );
        assert!(field(kout, "gaps") >= 1, "the kernel side recovered gaps");
    }
    if kernel_extra.contains(&"--faults") {
        assert!(
            field(kout, "dropped") >= 3,
            "faults injected on the kernel side"
        );
        assert!(field(dout, "gaps") >= 1, "the DPDK side recovered gaps");
        assert!(field(dout, "connects") >= 2, "reconnected after the cut");
    }
}

#[test]
fn dpdk_acceptor_against_kernel_tcp_initiator_with_gaps() {
    if skip_unless_root("dpdk acceptor vs kernel initiator") {
        return;
    }
    veth_scenario('a', true, &["--faults"], &["--faults"]);
}

#[test]
fn dpdk_initiator_against_kernel_tcp_acceptor_with_gaps() {
    if skip_unless_root("dpdk initiator vs kernel acceptor") {
        return;
    }
    veth_scenario('i', false, &["--faults"], &["--faults"]);
}

#[test]
fn dpdk_initiator_rebuilt_from_its_store_mid_stream() {
    if skip_unless_root("dpdk restart") {
        return;
    }
    let k = (ORDERS / 3).to_string();
    veth_scenario('r', false, &["--restart-at", &k], &[]);
}

#[test]
fn two_dpdk_engines_over_memif_with_gaps() {
    if skip_unless_root("memif engines") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let pid = std::process::id();
    let sock = format!("/run/fixeng-memif-{pid}.sock");
    let (pa, pi) = (format!("fxe-{pid}-ma"), format!("fxe-{pid}-mi"));
    let _p = Prefixes(vec![pa.clone(), pi.clone()]);
    let acc = Side {
        role: "acceptor",
        sender: "EXCHANGE",
        target: "CLIENT",
        transport: dpdk_keys(
            &format!("net_memif0,role=server,socket={sock},mac=02:fe:00:00:00:01,id=0"),
            &pa,
            0,
            "10.88.0.1",
        ),
        socket: "SocketAcceptPort=9878".into(),
    };
    let ini = Side {
        role: "initiator",
        sender: "CLIENT",
        target: "EXCHANGE",
        transport: dpdk_keys(
            &format!("net_memif0,role=client,socket={sock},mac=02:fe:00:00:00:02,id=0"),
            &pi,
            1,
            "10.88.0.2",
        ),
        socket: "SocketConnectHost=10.88.0.1\nSocketConnectPort=9878".into(),
    };
    let (ac, ic) = (
        write_cfg(dir.path(), "acc", &acc),
        write_cfg(dir.path(), "ini", &ini),
    );
    let n = ORDERS.to_string();
    let a = spawn(None, &args(&ac, "echo", &["--expect", &n, "--faults"]));
    std::thread::sleep(Duration::from_millis(500));
    let i = spawn(None, &args(&ic, "load", &["--orders", &n, "--faults"]));
    let outs = wait_both(
        vec![("acceptor", a), ("initiator", i)],
        Duration::from_secs(100),
    );
    let _ = std::fs::remove_file(&sock);
    assert_eq!(field(&outs[0], "orders"), u64::from(ORDERS));
    assert_eq!(field(&outs[0], "anomalies"), 0);
    assert_eq!(field(&outs[1], "acked"), u64::from(ORDERS));
    assert_eq!(field(&outs[1], "anomalies"), 0);
    assert!(field(&outs[0], "gaps") >= 1 && field(&outs[1], "gaps") >= 1);
    assert!(
        field(&outs[1], "connects") >= 2,
        "reconnected after the cut"
    );
}

/// The `fixeng` binary itself with `--transport dpdk`: an acceptor process (echo) and an
/// initiator process (load) over memif; the initiator's run completes and logs out, SIGINT stops
/// the acceptor, and both print their counters.
#[test]
fn fixeng_cli_transport_dpdk_over_memif() {
    if skip_unless_root("fixeng --transport dpdk") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let pid = std::process::id();
    let sock = format!("/run/fixeng-cli-{pid}.sock");
    let (pa, pi) = (format!("fxe-{pid}-ca"), format!("fxe-{pid}-ci"));
    let _p = Prefixes(vec![pa.clone(), pi.clone()]);
    // The files say io_uring; `--transport dpdk` overrides it (the Dpdk* keys are accepted either way).
    let keys = |role: &str, prefix: &str, lcore: u32, mac: &str, ip: &str| {
        dpdk_keys(
            &format!("net_memif0,role={role},socket={sock},mac={mac},id=0"),
            prefix,
            lcore,
            ip,
        )
        .replace("Transport=dpdk", "Transport=io_uring")
    };
    let acc = write_cfg(
        dir.path(),
        "cli-acc",
        &Side {
            role: "acceptor",
            sender: "EXCHANGE",
            target: "CLIENT",
            transport: keys("server", &pa, 0, "02:fe:00:00:00:01", "10.88.0.1"),
            socket: "SocketAcceptPort=9878".into(),
        },
    );
    let ini = write_cfg(
        dir.path(),
        "cli-ini",
        &Side {
            role: "initiator",
            sender: "CLIENT",
            target: "EXCHANGE",
            transport: keys("client", &pi, 1, "02:fe:00:00:00:02", "10.88.0.2"),
            socket: "SocketConnectHost=10.88.0.1\nSocketConnectPort=9878".into(),
        },
    );
    let exe = env!("CARGO_BIN_EXE_fixeng");
    let a = Command::new(exe)
        .arg("acceptor")
        .arg("--config")
        .arg(&acc)
        .args(["--transport", "dpdk", "--app", "echo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixeng acceptor");
    std::thread::sleep(Duration::from_millis(500));
    let n = ORDERS.to_string();
    let i = Command::new(exe)
        .arg("initiator")
        .arg("--config")
        .arg(&ini)
        .args([
            "--transport",
            "dpdk",
            "--app",
            "load",
            "--rate",
            "0",
            "--count",
            &n,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixeng initiator");
    let mut kids = vec![("acceptor", a), ("initiator", i)];
    let t0 = Instant::now();
    while kids[1].1.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The initiator is done (or timed out): stop the acceptor with Ctrl-C.
    let apid = kids[0].1.id() as i32;
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill")
        .args(["-INT", &apid.to_string()])
        .status();
    let mut outs = Vec::new();
    for (name, c) in kids.drain(..) {
        let mut c = c;
        let t1 = Instant::now();
        while c.try_wait().ok().flatten().is_none() && t1.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if c.try_wait().ok().flatten().is_none() {
            let _ = c.kill();
        }
        let out = c.wait_with_output().expect("output");
        let so = String::from_utf8_lossy(&out.stdout).into_owned();
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        println!("--- fixeng {name}: {}\n{so}{se}", out.status);
        assert!(
            out.status.success(),
            "fixeng {name}: {}\n{so}{se}",
            out.status
        );
        outs.push(so);
    }
    let _ = std::fs::remove_file(&sock);
    assert!(
        outs[0].contains(&format!("echo: {n} orders answered, 0 out of sequence")),
        "{}",
        outs[0]
    );
    assert!(
        outs[1].contains(&format!(
            "load: {n} sent, {n} acknowledged in order, 0 out of sequence"
        )),
        "{}",
        outs[1]
    );
    assert!(outs[0].contains("Transport=dpdk") && outs[1].contains("Transport=dpdk"));
}

/// The DPDK engine process (initiator, load) is SIGKILLed mid-stream, with orders and reports in
/// flight, and a new process takes over from its MmapStore on the same port (its sending
/// application continues after the last order in the store). The kernel-TCP engine on the
/// other side gets every order exactly once and in order; the new process gets every report
/// from the first one after the restart to the last, exactly once and in order.
#[test]
fn dpdk_initiator_killed_mid_stream_restarts_from_its_store() {
    if skip_unless_root("dpdk SIGKILL restart") {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let ns = match Netns::create("fxe", 'k') {
        Ok(ns) => ns,
        Err(e) => {
            println!("SKIP: cannot create namespaces/veth here: {e}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pid = std::process::id();
    let (p1, p2) = (format!("fxe-{pid}-k1"), format!("fxe-{pid}-k2"));
    let _p = Prefixes(vec![p1.clone(), p2.clone()]);
    let device = format!("net_af_packet0,iface={},qpairs=1", ns.veth_a);
    let dpdk_cfg = |prefix: &str| {
        write_cfg(
            dir.path(),
            "dpdk",
            &Side {
                role: "initiator",
                sender: "CLIENT",
                target: "EXCHANGE",
                transport: dpdk_keys(&device, prefix, 0, "10.77.0.1"),
                socket: "SocketConnectHost=10.77.0.2\nSocketConnectPort=9878".into(),
            },
        )
    };
    let kcfg = write_cfg(
        dir.path(),
        "kernel",
        &Side {
            role: "acceptor",
            sender: "EXCHANGE",
            target: "CLIENT",
            transport: "Transport=io_uring".into(),
            socket: "SocketAcceptPort=9878".into(),
        },
    );
    let n = ORDERS.to_string();
    let kernel = spawn(Some(&ns.b), &args(&kcfg, "echo", &["--expect", &n]));
    std::thread::sleep(Duration::from_millis(300));
    let k = (ORDERS / 3).to_string();
    let cfg1 = dpdk_cfg(&p1);
    let mut first = spawn(
        Some(&ns.a),
        &args(&cfg1, "load", &["--orders", &n, "--progress-at", &k]),
    );
    // Kill it as soon as it reports progress (it keeps sending meanwhile).
    let out = first.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let t0 = Instant::now();
    let mut seen = Vec::new();
    let mut progressed = false;
    while t0.elapsed() < Duration::from_secs(60) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => {
                progressed = l.contains("PROGRESS acked=");
                seen.push(l);
                if progressed {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    let _ = first.kill(); // SIGKILL
    let st = first.wait().expect("wait");
    let _ = reader.join();
    seen.extend(rx.try_iter());
    assert!(
        progressed,
        "the first DPDK process never reported progress: {st}\n{}",
        seen.join("\n")
    );
    assert!(
        !seen.iter().any(|l| verdict(l).is_some()),
        "the first process finished before the kill: {}",
        seen.join("\n")
    );
    println!(
        "first DPDK process killed ({st}) after: {}",
        seen.join(" | ")
    );
    // A new process (new EAL prefix, same store) continues.
    let cfg2 = dpdk_cfg(&p2);
    let second = spawn(
        Some(&ns.a),
        &args(&cfg2, "load", &["--orders", &n, "--resume"]),
    );
    let outs = wait_both(
        vec![("kernel", kernel), ("dpdk (restarted)", second)],
        Duration::from_secs(100),
    );
    let (echo, load) = (&outs[0], &outs[1]);
    assert_eq!(field(echo, "orders"), u64::from(ORDERS), "every order once");
    assert_eq!(field(echo, "anomalies"), 0, "orders in order, no duplicate");
    assert_eq!(field(echo, "logons"), 2, "the new process logged on again");
    assert_eq!(field(load, "acked"), u64::from(ORDERS));
    assert_eq!(
        field(load, "anomalies"),
        0,
        "reports in order, no duplicate"
    );
    assert!(field(load, "resumed_after_order") >= u64::from(ORDERS / 3));
    assert!(
        field(load, "first_report_after_resume") <= field(load, "resumed_after_order") + 1,
        "no report was skipped after the restart"
    );
}
