//! Shared helpers for the hwsim integration tests.
#![allow(dead_code)]

use hwsim::fast::FastPath;
use hwsim::frame::{FrameState, Framed};
use hwsim::seq::SeqState;
use hwsim::Verdict;

/// Each session's records: the verdict and the message bytes (empty for GARBLED).
pub type Records = Vec<Vec<(Verdict, Vec<u8>)>>;

/// Every message the reference framer reports on `bytes`, byte by byte. Also checks that the
/// fast path gives the same verdicts on `bytes` whole, byte by byte and split in two.
pub fn frame_all(bytes: &[u8], max_msg: u32) -> Vec<Framed> {
    let mut fs = FrameState::new();
    let mut out = Vec::new();
    fs.feed(bytes, max_msg, |f| out.push(f));
    let want = reference(&[bytes.to_vec()], 256, max_msg);
    let mid = bytes.len() / 2;
    let splits: [Vec<&[u8]>; 3] = [
        vec![bytes],
        bytes.chunks(1).collect(),
        vec![&bytes[..mid], &bytes[mid..]],
    ];
    for chunks in splits {
        let (got, _) = fast(
            1,
            256,
            max_msg as usize,
            chunks.into_iter().map(|c| (0u16, c)),
        );
        assert_eq!(
            got,
            want,
            "fast path differs on {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    out
}

/// The byte-serial reference (FrameState + SeqState, the RTL's semantics) over whole
/// per-session streams: each session's verdicts with the message bytes taken from the stream.
pub fn reference(streams: &[Vec<u8>], window: u32, max_msg: u32) -> Records {
    streams
        .iter()
        .enumerate()
        .map(|(s, st)| {
            let mut fs = FrameState::new();
            let mut sq = SeqState::new(window);
            let mut out = Vec::new();
            fs.feed(st, max_msg, |f| {
                let v = sq.classify(s as u16, &f);
                let bytes = if f.garbled == 0 {
                    st[f.offset as usize..f.offset as usize + f.length as usize].to_vec()
                } else {
                    Vec::new()
                };
                out.push((v, bytes));
            });
            out
        })
        .collect()
}

/// The fast path over a sequence of `(session, chunk)`.
pub fn fast<'a>(
    sessions: usize,
    window: u32,
    max_msg: usize,
    chunks: impl IntoIterator<Item = (u16, &'a [u8])>,
) -> (Records, FastPath) {
    let mut fp = FastPath::new(sessions, window, max_msg);
    let mut out = vec![Vec::new(); sessions];
    for (s, c) in chunks {
        fp.process(s, c, |v, b| {
            assert_eq!(v.session, s, "verdict for another session");
            out[s as usize].push((*v, b.to_vec()));
        });
    }
    (out, fp)
}

/// A message with BeginString FIX.4.4, the given MsgType and fields.
pub fn msg(msg_type: &str, fields: &[(u32, &str)]) -> Vec<u8> {
    let f: Vec<(u32, &[u8])> = fields.iter().map(|(t, v)| (*t, v.as_bytes())).collect();
    hwsim::gen::build_message(msg_type.as_bytes(), &f)
}

/// `8=FIX.4.4 SOH 9=<len> SOH <body> 10=<ck> SOH` for a raw body given with `|` as SOH.
pub fn raw(body: &str) -> Vec<u8> {
    let mut v = Vec::new();
    hwsim::gen::push_raw(&mut v, b"FIX.4.4", &soh(body));
    v
}

/// Replaces `|` with SOH.
pub fn soh(s: &str) -> Vec<u8> {
    s.bytes().map(|b| if b == b'|' { 1 } else { b }).collect()
}
