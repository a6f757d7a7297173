//! The `fixeng` binary: an acceptor process (shared mode) and an initiator process (dedicated
//! mode: one thread per agent) from QuickFIX-style settings files; the initiator's load run
//! completes, Ctrl-C (SIGINT) stops the acceptor cleanly with its counters printed and its store
//! flushed.

#[path = "support/proc.rs"]
mod proc;
use proc::{free_port, Child};

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn acceptor_and_initiator_processes() {
    if let Err(e) = fixeng::transport::uring::probe() {
        println!("SKIP: {e}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let acc = dir.path().join("acc.cfg");
    let ini = dir.path().join("ini.cfg");
    std::fs::write(
        &acc,
        format!(
            "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={port}\nHeartBtInt=5\n\
             FileStorePath={}\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=EXCHANGE\nTargetCompID=CLIENT\n",
            dir.path().join("sa").display()
        ),
    )
    .unwrap();
    std::fs::write(
        &ini,
        format!(
            "[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\nSocketConnectPort={port}\n\
             HeartBtInt=5\nReconnectInterval=1\nFileStorePath={}\n[SESSION]\nBeginString=FIX.4.4\n\
             SenderCompID=CLIENT\nTargetCompID=EXCHANGE\n",
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
    let out = Command::new(exe)
        .args(["initiator", "--config"])
        .arg(&ini)
        .args([
            "--app", "load", "--rate", "0", "--count", "500", "--idle", "yield",
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
    assert!(
        text.contains("500 sent, 500 acknowledged in order, 0 out of sequence"),
        "{text}"
    );
    assert!(
        text.contains("next sender seq 503"),
        "Logon + 500 orders + Logout journaled: {text}"
    );
    // Ctrl-C the acceptor (our own child, by its id).
    let (status, atext) = a.interrupt(Duration::from_secs(10));
    assert!(status.success(), "{atext}");
    assert!(
        atext.contains("echo: 500 orders answered, 0 out of sequence"),
        "{atext}"
    );
    assert!(atext.contains("store flushed"), "{atext}");

    // A bad settings file gets an error naming the problem.
    std::fs::write(&ini, "[SESSION]\nBeginString=FIX.4.4\n").unwrap();
    let out = Command::new(exe)
        .args(["initiator", "--config"])
        .arg(&ini)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("settings"),
        "{out:?}"
    );
}
