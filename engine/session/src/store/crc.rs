//! CRC-32C (Castagnoli), the checksum of every journal record, segment header and
//! sequence-number slot. SSE4.2's `crc32` instruction when the CPU has it, a slice-by-8 table
//! otherwise; both give the same values (tested).

const POLY: u32 = 0x82F6_3B78; // reflected Castagnoli polynomial

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut n = 1;
    while n < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[n - 1][i];
            t[n][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        n += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

/// Software update of a raw (non-inverted) CRC state.
pub(crate) fn update_soft(mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ crc;
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = TABLES[7][(lo & 0xFF) as usize]
            ^ TABLES[6][((lo >> 8) & 0xFF) as usize]
            ^ TABLES[5][((lo >> 16) & 0xFF) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xFF) as usize]
            ^ TABLES[2][((hi >> 8) & 0xFF) as usize]
            ^ TABLES[1][((hi >> 16) & 0xFF) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ TABLES[0][((crc ^ b as u32) & 0xFF) as usize];
    }
    crc
}

/// Update of a raw CRC state, with the fastest implementation this CPU has.
#[inline]
pub(crate) fn update(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        super::sys::crc32c_update_sse42(crc, data)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        update_soft(crc, data)
    }
}

/// CRC-32C of `parts` concatenated, starting from `seed` (0 gives the standard CRC-32C).
#[inline]
pub fn crc32c(seed: u32, parts: &[&[u8]]) -> u32 {
    let mut s = !seed;
    for p in parts {
        s = update(s, p);
    }
    !s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 (iSCSI) test vectors and the classic "123456789" check value.
        assert_eq!(crc32c(0, &[b"123456789"]), 0xE306_9283);
        assert_eq!(crc32c(0, &[&[0u8; 32]]), 0x8A91_36AA);
        assert_eq!(crc32c(0, &[&[0xFFu8; 32]]), 0x62A8_AB43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(0, &[&inc]), 0x46DD_794E);
        assert_eq!(crc32c(0, &[]), 0);
    }

    #[test]
    fn soft_matches_dispatch_and_parts() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 999, 1000] {
            let d = &data[..len];
            assert_eq!(!update_soft(!0, d), crc32c(0, &[d]), "len {len}");
            let (a, b) = d.split_at(len / 3);
            assert_eq!(crc32c(5, &[a, b]), crc32c(5, &[d]), "len {len}");
        }
        assert_ne!(crc32c(1, &[b"x"]), crc32c(2, &[b"x"]));
    }
}
