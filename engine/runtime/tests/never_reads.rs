//! A peer that sends orders and never reads (docs/reliability.md, finding 4): `fixeng acceptor
//! --app echo` answers until every buffer between its application and the socket is full, then
//! Ctrl-C stops it. Every answer the application made must be in the store, exactly once and in
//! order: the ones the peer received are a prefix of them, the rest are journaled (and would be
//! resent after the next Logon). Nothing is lost.

#[path = "support/proc.rs"]
mod proc;
use fixeng::msg::write_message;
use fixeng::transport::framing::{field, msg_type, next_frame, seq_num, Frame};
use fixsession::store::{MessageStore, MmapStore, MmapStoreConfig};
use proc::{free_port, Child};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn message(msg_type: &str, seq: u32, body: &str) -> Vec<u8> {
    let mut out = [0u8; 512];
    let fields = format!("49=CLIENT\x0156=EXCHANGE\x0152=20260101-00:00:00.000\x01{body}");
    let n = write_message(&mut out, "FIX.4.4", msg_type, seq, fields.as_bytes()).unwrap();
    out[..n].to_vec()
}

/// The number in `<n>` of a ClOrdID `O<n>`.
fn order_no(msg: &[u8]) -> Option<u32> {
    let id = field(msg, 11)?;
    std::str::from_utf8(id.strip_prefix(b"O")?)
        .ok()?
        .parse()
        .ok()
}

/// A number printed as `<prefix><n>` in `text`.
fn number_after(text: &str, prefix: &str) -> u64 {
    let i = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} in {text}"))
        + prefix.len();
    text[i..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn peer_that_never_reads_loses_no_answer_at_shutdown() {
    if let Err(e) = fixeng::transport::uring::probe() {
        println!("SKIP: {e}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let acc = dir.path().join("acc.cfg");
    let store_dir = dir.path().join("sa");
    std::fs::write(
        &acc,
        format!(
            "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort={port}\nHeartBtInt=60\n\
             CheckLatency=N\nFileStorePath={}\n[SESSION]\nBeginString=FIX.4.4\n\
             SenderCompID=EXCHANGE\nTargetCompID=CLIENT\n",
            store_dir.display()
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
    s.write_all(&message("A", 1, "98=0\x01108=60\x01")).unwrap();
    // Orders until the acceptor has stopped taking them for a second (every buffer full).
    s.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut pending: Vec<u8> = Vec::new();
    let mut sent_orders = 0u32;
    let mut stalled_since: Option<Instant> = None;
    while sent_orders < 5_000_000 {
        if pending.is_empty() {
            sent_orders += 1;
            pending = message(
                "D",
                sent_orders + 1,
                &format!("11=O{sent_orders}\x0155=EUR/USD\x0154=1\x0138=100\x0140=1\x01"),
            );
        }
        match s.write(&pending) {
            Ok(n) => {
                pending.drain(..n);
                stalled_since = None;
            }
            Err(_) => {
                let t = *stalled_since.get_or_insert_with(Instant::now);
                if t.elapsed() > Duration::from_secs(1) {
                    break;
                }
            }
        }
    }
    assert!(stalled_since.is_some(), "the acceptor never pushed back");

    // Ctrl-C the acceptor (our own child, by its id).
    let (status, text) = a.interrupt(Duration::from_secs(20));
    assert!(status.success(), "{text}");
    let answered = number_after(&text, "echo: ");
    let app_sent = number_after(&text, "app sent ");
    let journaled = number_after(&text, &format!("app sent {app_sent} ("));
    assert!(text.contains("0 out of sequence"), "{text}");
    assert_eq!(
        answered, app_sent,
        "every answer reached the session: {text}"
    );

    // What the peer received: Logon, then reports O1..On in order.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut wire = Vec::new();
    let _ = s.read_to_end(&mut wire);
    let mut transmitted = 0u32;
    let mut rest = &wire[..];
    while let Frame::Message(n) = next_frame(rest, 4096) {
        let m = &rest[..n];
        if msg_type(m) == Some(b"8") {
            transmitted += 1;
            assert_eq!(
                order_no(m),
                Some(transmitted),
                "reports out of order on the wire"
            );
        }
        rest = &rest[n..];
    }

    // What the store holds: every answer, once, in order.
    let store = MmapStore::open(
        &store_dir,
        "FIX.4.4:EXCHANGE->CLIENT",
        MmapStoreConfig::default(),
    )
    .unwrap();
    let last = store.next_sender_seq() - 1;
    let mut stored = 0u32;
    store
        .for_each_in_range(1, last, &mut |seq, m| {
            assert_eq!(seq_num(m), Some(seq));
            if msg_type(m) == Some(b"8") {
                stored += 1;
                assert_eq!(order_no(m), Some(stored), "journal out of order at {seq}");
            }
            true
        })
        .unwrap();
    println!(
        "never-reads: {sent_orders} orders offered, {answered} answered by the application, \
         {stored} reports in the store ({journaled} journaled at close), {transmitted} received \
         by the peer"
    );
    assert_eq!(
        u64::from(stored),
        answered,
        "answers missing from the store"
    );
    assert!(transmitted <= stored);
    assert!(
        u64::from(stored - transmitted) >= journaled,
        "journaled-at-close answers cannot have been transmitted"
    );
}
