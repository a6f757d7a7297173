//! A small allocation-free FIX message writer for tests, the load generator and the demo
//! (header, body fields, BodyLength and CheckSum computed).

use std::io::Write;

/// Writes `8=<begin>|9=<len>|35=<msg_type>|34=<seq>|<fields>10=<sum>|` into `out` and returns
/// its length, or `None` if `out` is too small. `fields` is pre-encoded `tag=value\x01...`.
pub fn write_message(
    out: &mut [u8],
    begin: &str,
    msg_type: &str,
    seq: u32,
    fields: &[u8],
) -> Option<usize> {
    // Body: 35=..|34=..|fields
    let mut seq_buf = [0u8; 10];
    let seq_len = fmt_u32(seq, &mut seq_buf);
    let body_len = 3 + msg_type.len() + 1 + 3 + seq_len + 1 + fields.len();
    let mut len_buf = [0u8; 10];
    let len_len = fmt_u32(body_len as u32, &mut len_buf);
    let head = 2 + begin.len() + 1 + 2 + len_len + 1;
    let total = head + body_len + 7;
    if out.len() < total {
        return None;
    }
    let mut w = &mut out[..];
    let ok = (|| -> std::io::Result<()> {
        w.write_all(b"8=")?;
        w.write_all(begin.as_bytes())?;
        w.write_all(b"\x019=")?;
        w.write_all(&len_buf[..len_len])?;
        w.write_all(b"\x0135=")?;
        w.write_all(msg_type.as_bytes())?;
        w.write_all(b"\x0134=")?;
        w.write_all(&seq_buf[..seq_len])?;
        w.write_all(b"\x01")?;
        w.write_all(fields)?;
        Ok(())
    })();
    ok.ok()?;
    let sum = out[..head + body_len]
        .iter()
        .fold(0u8, |a, &b| a.wrapping_add(b));
    let t = &mut out[head + body_len..total];
    t[..3].copy_from_slice(b"10=");
    t[3] = b'0' + sum / 100;
    t[4] = b'0' + (sum / 10) % 10;
    t[5] = b'0' + sum % 10;
    t[6] = 1;
    Some(total)
}

/// Formats `v` in decimal into `buf`; returns the digit count.
pub fn fmt_u32(mut v: u32, buf: &mut [u8; 10]) -> usize {
    let mut tmp = [0u8; 10];
    let mut n = 0;
    loop {
        tmp[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n {
        buf[i] = tmp[n - 1 - i];
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::framing::{next_frame, seq_num, Frame};

    #[test]
    fn writes_a_framable_message_with_correct_checksum() {
        let mut b = [0u8; 256];
        let n = write_message(&mut b, "FIX.4.4", "D", 42, b"11=abc\x01").unwrap();
        let m = &b[..n];
        assert_eq!(next_frame(m, 4096), Frame::Message(n));
        assert_eq!(seq_num(m), Some(42));
        let body_end = n - 7;
        let sum = m[..body_end].iter().fold(0u8, |a, &x| a.wrapping_add(x));
        assert_eq!(
            &m[body_end + 3..body_end + 6],
            format!("{sum:03}").as_bytes()
        );
        assert!(write_message(&mut b[..10], "FIX.4.4", "D", 1, b"").is_none());
    }
}
