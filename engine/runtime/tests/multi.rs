//! Several sessions per process: one `fixeng acceptor` (shared mode: every agent on one thread)
//! runs three sessions — two on one port, routed by the Logon's CompIDs, and one (another
//! BeginString) on a second port — and one `fixeng initiator` (dedicated mode: a thread per
//! agent) runs the three matching initiator sessions with a load run each. A
//! connection whose Logon names unknown CompIDs, and one that sends garbage, are closed without
//! an answer. Ctrl-C stops the acceptor: every session logs out, flushes its store and prints its
//! counters.

#[path = "support/proc.rs"]
mod proc;
use fixeng::msg::write_message;
use proc::{free_port, Child};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Connects to `port` (retrying while the acceptor starts), sends `bytes`, and returns what
/// came back before the acceptor closed the connection (None: still open after 5 s).
fn send_and_read(port: u16, bytes: &[u8]) -> Option<Vec<u8>> {
    let t0 = Instant::now();
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(10), "connect: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    s.write_all(bytes).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(got),
            Err(_) => return None,
        }
    }
}

fn logon(begin: &str, sender: &str, target: &str) -> Vec<u8> {
    let mut out = [0u8; 512];
    let fields =
        format!("49={sender}\x0156={target}\x0152=20260101-00:00:00.000\x0198=0\x01108=30\x01");
    let n = write_message(&mut out, begin, "A", 1, fields.as_bytes()).unwrap();
    out[..n].to_vec()
}

#[test]
fn several_sessions_per_process_routed_by_compids() {
    if let Err(e) = fixeng::transport::uring::probe() {
        println!("SKIP: {e}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let acc = dir.path().join("acc.cfg");
    let ini = dir.path().join("ini.cfg");
    std::fs::write(
        &acc,
        format!(
            "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={p1}\nHeartBtInt=5\n\
             FileStorePath={}\nSenderCompID=EXCHANGE\n\
             [SESSION]\nBeginString=FIX.4.4\nTargetCompID=CLIENT1\n\
             [SESSION]\nBeginString=FIX.4.4\nTargetCompID=CLIENT2\n\
             [SESSION]\nBeginString=FIX.4.2\nTargetCompID=CLIENT3\nSocketAcceptPort={p2}\n",
            dir.path().join("sa").display()
        ),
    )
    .unwrap();
    std::fs::write(
        &ini,
        format!(
            "[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\n\
             SocketConnectPort={p1}\nHeartBtInt=5\nReconnectInterval=1\nFileStorePath={}\n\
             TargetCompID=EXCHANGE\n\
             [SESSION]\nBeginString=FIX.4.4\nSenderCompID=CLIENT1\n\
             [SESSION]\nBeginString=FIX.4.4\nSenderCompID=CLIENT2\n\
             [SESSION]\nBeginString=FIX.4.2\nSenderCompID=CLIENT3\nSocketConnectPort={p2}\n",
            dir.path().join("si").display()
        ),
    )
    .unwrap();
    let exe = env!("CARGO_BIN_EXE_fixeng");
    let mut a = Child(
        Command::new(exe)
            .args(["acceptor", "--config"])
            .arg(&acc)
            .args(["--idle", "backoff"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Unknown CompIDs, a wrong BeginString for the port's sessions, garbage, and a message
    // other than Logon: each connection is closed and nothing is sent back.
    for (what, bytes) in [
        ("unknown CompIDs", logon("FIX.4.4", "INTRUDER", "EXCHANGE")),
        (
            "CLIENT3 on the FIX.4.4 port",
            logon("FIX.4.2", "CLIENT3", "EXCHANGE"),
        ),
        ("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("heartbeat first", {
            let mut out = [0u8; 256];
            let n = write_message(
                &mut out,
                "FIX.4.4",
                "0",
                1,
                b"49=CLIENT1\x0156=EXCHANGE\x01",
            )
            .unwrap();
            out[..n].to_vec()
        }),
    ] {
        let got = send_and_read(p1, &bytes);
        assert_eq!(got, Some(Vec::new()), "{what}: closed without an answer");
    }

    // The initiator process runs its three sessions in dedicated mode (12 agent threads).
    let out = Command::new(exe)
        .args(["initiator", "--config"])
        .arg(&ini)
        .args([
            "--app", "load", "--rate", "0", "--count", "300", "--idle", "backoff",
        ])
        .args(["--threading", "dedicated"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "initiator failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (begin, client) in [
        ("FIX.4.4", "CLIENT1"),
        ("FIX.4.4", "CLIENT2"),
        ("FIX.4.2", "CLIENT3"),
    ] {
        let key = format!("{begin}:{client}->EXCHANGE");
        assert!(
            text.contains(&format!(
                "{key}: load: 300 sent, 300 acknowledged in order, 0 out of sequence"
            )),
            "{key}: {text}"
        );
        assert!(
            text.contains(&format!("{key}: store flushed; next sender seq 303")),
            "{key}: Logon + 300 orders + Logout journaled: {text}"
        );
    }

    // Ctrl-C the acceptor (our own child, by its id).
    let (status, atext) = a.interrupt(Duration::from_secs(10));
    assert!(status.success(), "{atext}");
    for (begin, client) in [
        ("FIX.4.4", "CLIENT1"),
        ("FIX.4.4", "CLIENT2"),
        ("FIX.4.2", "CLIENT3"),
    ] {
        let key = format!("{begin}:EXCHANGE->{client}");
        assert!(
            atext.contains(&format!(
                "{key}: echo: 300 orders answered, 0 out of sequence"
            )),
            "{key}: {atext}"
        );
        assert!(
            atext.contains(&format!("{key}: store flushed; next sender seq 303")),
            "{key}: Logon + 300 reports + Logout journaled: {atext}"
        );
    }
    assert!(
        atext.contains(&format!(
            "listener 0.0.0.0:{p1}: accepted 6, routed 2, dropped: unknown CompIDs 2, bad or \
             missing Logon 2"
        )),
        "{atext}"
    );
    assert!(
        atext.contains(&format!("listener 0.0.0.0:{p2}: accepted 1, routed 1")),
        "{atext}"
    );
}
