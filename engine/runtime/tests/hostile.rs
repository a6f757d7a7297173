//! Hostile wire input through a whole acceptor pipeline (IO, sequencer, session, application):
//! random bytes, truncated and corrupted FIX messages, oversized BodyLength. Nothing panics,
//! every garbled message gets a verdict, memory stays bounded, and the session then drops the
//! connection because the first message was not a valid Logon (the FIX-correct answer).

use fixeng::apps::EchoApp;
use fixeng::connect::MemoryConnector;
use fixeng::msg::write_message;
use fixeng::pipeline::{pipeline, RingSizes};
use fixeng::transport::memory::MemoryTransport;
use fixeng::Transport;
use fixsession::store::MemoryStore;
use fixsession::{Role, SessionConfig};

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn garbage_and_corrupt_messages_do_not_break_the_pipeline() {
    let (mut peer, link) = MemoryTransport::pair(1 << 20);
    let cfg = SessionConfig::new("FIX.4.4", "EXCHANGE", "CLIENT", Role::Acceptor);
    let mut a = pipeline(
        "a",
        cfg,
        MemoryConnector::new(vec![link]),
        MemoryStore::new(),
        EchoApp::new(),
        RingSizes::default(),
    );
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut wire = Vec::new();
    let mut m = [0u8; 512];
    for k in 0..3000u32 {
        match xorshift(&mut rng) % 6 {
            0 => wire.extend((0..(xorshift(&mut rng) % 64)).map(|_| xorshift(&mut rng) as u8)),
            1 => {
                let n = write_message(&mut m, "FIX.4.4", "D", k + 2, b"11=x\x01").unwrap();
                let cut = (xorshift(&mut rng) as usize) % n;
                wire.extend_from_slice(&m[..cut]);
            }
            2 => {
                let n = write_message(&mut m, "FIX.4.4", "D", k + 2, b"11=x\x01").unwrap();
                let at = (xorshift(&mut rng) as usize) % n;
                m[at] ^= 1 + (xorshift(&mut rng) as u8 % 200);
                wire.extend_from_slice(&m[..n]);
            }
            3 => wire.extend_from_slice(b"8=FIX.4.4\x019=99999999\x0135=D\x01"),
            4 => wire.extend_from_slice(b"8=FIX.4.4\x019=5\x0135=0\x018=FIX.4.4\x01"),
            _ => wire.extend_from_slice(b"\x018=FIX\x01\x01=="),
        }
    }
    let mut sent = 0;
    let mut now = 1_000_000_000u64;
    for _ in 0..20_000 {
        now += 10_000;
        if sent < wire.len() {
            sent += peer.send_bytes(&wire[sent..]);
        }
        peer.poll(now);
        let mut sink = [0u8; 4096];
        while peer.recv_into(&mut sink) > 0 {}
        a.step(now);
        if a.io.stats.disconnects > 0 && sent == wire.len() {
            break;
        }
    }
    assert!(a.seq.stats.verdicts > 0, "garbled input produced verdicts");
    assert_eq!(a.seq.stats.overflows, 0);
    assert_eq!(a.app.logic().orders, 0, "nothing delivered without a Logon");
    assert!(
        a.io.stats.disconnects == 1,
        "the session dropped the connection: first message not a valid Logon ({:?})",
        a.session.last_disconnect()
    );
}
