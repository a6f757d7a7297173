//! Message boundaries and a few header fields, for fault injection and the demo's checks.
//!
//! This finds where a FIX message ends from BeginString and BodyLength (the same rule as the
//! sequencer's framer, `docs/sequencer.md` section 2, without the checksum check: the
//! middleware only needs boundaries; the sequencer judges validity downstream).

/// Result of looking for the next message at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed to decide.
    Incomplete,
    /// A message of this many bytes starts at offset 0.
    Message(usize),
    /// This many leading bytes are not the start of a message (pass them through as they are).
    Garbage(usize),
}

const START: &[u8] = b"8=FIX";

/// Finds the first message boundary in `buf`. Never reads past `buf`; messages declaring more
/// than `max_msg` bytes are treated as garbage (one byte is skipped and the hunt resumes).
pub fn next_frame(buf: &[u8], max_msg: usize) -> Frame {
    if buf.is_empty() {
        return Frame::Incomplete;
    }
    if !buf.starts_with(START) {
        if START.starts_with(buf) {
            return Frame::Incomplete;
        }
        // Skip to the next possible start.
        return match find(&buf[1..], START) {
            Some(p) => Frame::Garbage(p + 1),
            None => {
                // Keep a tail that may be the beginning of "8=FIX".
                let keep = (1..START.len().min(buf.len()))
                    .rev()
                    .find(|&k| START.starts_with(&buf[buf.len() - k..]))
                    .unwrap_or(0);
                Frame::Garbage(buf.len() - keep)
            }
        };
    }
    // BeginString value ends at the first SOH (at most 16 bytes in).
    let Some(soh) = buf.iter().take(16).position(|&b| b == 1) else {
        return if buf.len() < 16 {
            Frame::Incomplete
        } else {
            Frame::Garbage(1)
        };
    };
    let mut p = soh + 1;
    for &want in b"9=" {
        match buf.get(p) {
            None => return Frame::Incomplete,
            Some(&b) if b == want => p += 1,
            Some(_) => return Frame::Garbage(1),
        }
    }
    let mut len: usize = 0;
    let mut digits = 0;
    loop {
        match buf.get(p) {
            None => return Frame::Incomplete,
            Some(&b) if b.is_ascii_digit() && digits < 9 => {
                len = len * 10 + usize::from(b - b'0');
                digits += 1;
                p += 1;
            }
            Some(&1) if digits > 0 => {
                p += 1;
                break;
            }
            Some(_) => return Frame::Garbage(1),
        }
    }
    let total = p + len + 7;
    if total > max_msg {
        return Frame::Garbage(1);
    }
    if buf.len() < total {
        Frame::Incomplete
    } else {
        Frame::Message(total)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of the first `tag=` field of a message (after BeginString), if present.
pub fn field(msg: &[u8], tag: u32) -> Option<&[u8]> {
    let mut i = 0;
    while i < msg.len() {
        // Field starts at i: parse the tag.
        let eq = msg[i..].iter().position(|&b| b == b'=')? + i;
        let end = msg[eq..]
            .iter()
            .position(|&b| b == 1)
            .map_or(msg.len(), |e| e + eq);
        if parse_u32(&msg[i..eq]) == Some(tag) {
            return Some(&msg[eq + 1..end]);
        }
        i = end + 1;
    }
    None
}

/// Parses a decimal `u32` (1-10 digits, no sign); `None` otherwise.
pub fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    u32::try_from(v).ok()
}

/// MsgSeqNum(34) of a message.
pub fn seq_num(msg: &[u8]) -> Option<u32> {
    field(msg, 34).and_then(parse_u32)
}

/// MsgType(35) of a message.
pub fn msg_type(msg: &[u8]) -> Option<&[u8]> {
    field(msg, 35)
}

/// True for the session-level MsgTypes 0,1,2,3,4,5,A.
pub fn is_admin(msg_type: &[u8]) -> bool {
    matches!(msg_type, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A")
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[u8] = b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01";

    #[test]
    fn finds_boundaries_in_any_split() {
        assert_eq!(next_frame(M, 4096), Frame::Message(M.len()));
        for cut in 0..M.len() {
            assert_eq!(
                next_frame(&M[..cut], 4096),
                Frame::Incomplete,
                "cut at {cut}"
            );
        }
        let mut two = M.to_vec();
        two.extend_from_slice(M);
        assert_eq!(next_frame(&two, 4096), Frame::Message(M.len()));
    }

    #[test]
    fn garbage_is_skipped_to_the_next_start() {
        let mut g = b"xx8=FI".to_vec();
        assert_eq!(next_frame(&g, 4096), Frame::Garbage(2));
        g.extend_from_slice(M);
        assert_eq!(
            next_frame(&g[2..], 4096),
            Frame::Garbage(4),
            "8=FI8=FIX: skip"
        );
        assert_eq!(next_frame(b"8=FIX.4.4\x019=x", 4096), Frame::Garbage(1));
        assert_eq!(next_frame(M, 10), Frame::Garbage(1), "too long");
        assert_eq!(next_frame(b"abc", 4096), Frame::Garbage(3));
    }

    #[test]
    fn fields() {
        let m = b"8=FIX.4.4\x019=20\x0135=D\x0134=12\x0143=Y\x0110=000\x01";
        assert_eq!(seq_num(m), Some(12));
        assert_eq!(msg_type(m), Some(&b"D"[..]));
        assert_eq!(field(m, 43), Some(&b"Y"[..]));
        assert_eq!(field(m, 97), None);
        assert!(is_admin(b"A") && !is_admin(b"D"));
    }
}
