//! Bulk byte scans for the framer and the encoder: the byte sum (FIX CheckSum) and the search
//! for `SOH 8=FIX` (the framer's interrupt rule).
//!
//! On x86_64 these use SSE2 (part of the x86_64 baseline, so no runtime detection): `psadbw`
//! sums 16 bytes per instruction, and two overlapping loads find every SOH followed by `8`.
//! Elsewhere a portable scalar version computes the same results. This is the crate's only
//! `unsafe` code: unaligned 16-byte loads whose bounds are checked by the loop conditions.

/// The byte sequence whose completion inside a message interrupts it.
pub(crate) const INTERRUPT: &[u8; 6] = b"\x018=FIX";

/// True if `b[j..]` begins with a complete `SOH 8=FIX`.
#[inline(always)]
fn interrupt_at(b: &[u8], j: usize) -> bool {
    b.get(j..j + 6) == Some(&INTERRUPT[..])
}

/// Sum of `b` modulo 256.
#[inline]
pub(crate) fn sum(b: &[u8]) -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::sum(b)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
    }
}

/// Sum of `b` modulo 256 and the index of the first complete `SOH 8=FIX` inside `b`. When an
/// occurrence is found the sum is not computed (callers discard it).
#[inline]
pub(crate) fn sum_find(b: &[u8]) -> (u8, Option<usize>) {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::sum_find(b)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        (sum(b), find_interrupt(b))
    }
}

/// Index of the first complete `SOH 8=FIX` inside `b`.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
pub(crate) fn find_interrupt(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(j) = memchr::memchr(crate::SOH, &b[from..]) {
        let j = from + j;
        if interrupt_at(b, j) {
            return Some(j);
        }
        from = j + 1;
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::interrupt_at;
    use core::arch::x86_64::{
        __m128i, _mm_add_epi64, _mm_and_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_sad_epu8, _mm_set1_epi8, _mm_setzero_si128, _mm_srli_si128,
    };

    /// Loads 16 bytes `b[i..i + 16]`; the caller guarantees `i + 16 <= b.len()`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn load(b: &[u8], i: usize) -> __m128i {
        assert!(i + 16 <= b.len());
        // SAFETY: the assertion above keeps the 16-byte read inside `b`; `_mm_loadu_si128`
        // has no alignment requirement, and SSE2 is part of the x86_64 baseline.
        unsafe { _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>()) }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn hsum(acc: __m128i) -> u8 {
        let lo = _mm_cvtsi128_si64(acc) as u64;
        let hi = _mm_cvtsi128_si64(_mm_srli_si128(acc, 8)) as u64;
        lo.wrapping_add(hi) as u8
    }

    pub(super) fn sum(b: &[u8]) -> u8 {
        // SAFETY: SSE2 is part of the x86_64 baseline, so the feature is always present.
        unsafe { sum_sse2(b) }
    }

    pub(super) fn sum_find(b: &[u8]) -> (u8, Option<usize>) {
        if b.len() >= 64 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 support was just detected at run time.
            return unsafe { avx2::sum_find(b) };
        }
        // SAFETY: SSE2 is part of the x86_64 baseline, so the feature is always present.
        unsafe { sum_find_sse2(b) }
    }

    #[target_feature(enable = "sse2")]
    fn sum_sse2(b: &[u8]) -> u8 {
        let zero = _mm_setzero_si128();
        let mut a0 = zero;
        let mut a1 = zero;
        let mut i = 0;
        while i + 32 <= b.len() {
            a0 = _mm_add_epi64(a0, _mm_sad_epu8(load(b, i), zero));
            a1 = _mm_add_epi64(a1, _mm_sad_epu8(load(b, i + 16), zero));
            i += 32;
        }
        if i + 16 <= b.len() {
            a0 = _mm_add_epi64(a0, _mm_sad_epu8(load(b, i), zero));
            i += 16;
        }
        let mut s = hsum(_mm_add_epi64(a0, a1));
        for &x in &b[i..] {
            s = s.wrapping_add(x);
        }
        s
    }

    mod avx2 {
        use super::super::interrupt_at;
        use core::arch::x86_64::{
            __m256i, _mm256_add_epi64, _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi8,
            _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_sad_epu8,
            _mm256_set1_epi8, _mm256_setzero_si256, _mm_add_epi64, _mm_cvtsi128_si64,
            _mm_srli_si128,
        };

        /// Loads 32 bytes `b[i..i + 32]`.
        #[inline]
        #[target_feature(enable = "avx2")]
        fn load(b: &[u8], i: usize) -> __m256i {
            assert!(i + 32 <= b.len());
            // SAFETY: the assertion keeps the 32-byte read inside `b`; the load is unaligned.
            unsafe { _mm256_loadu_si256(b.as_ptr().add(i).cast::<__m256i>()) }
        }

        /// 32-byte blocks, then one masked overlapping block; `b.len() >= 64`.
        #[target_feature(enable = "avx2")]
        pub(super) fn sum_find(b: &[u8]) -> (u8, Option<usize>) {
            let n = b.len();
            assert!(n >= 33);
            let zero = _mm256_setzero_si256();
            let soh = _mm256_set1_epi8(crate::SOH as i8);
            let eight = _mm256_set1_epi8(b'8' as i8);
            let mut acc = zero;
            let mut i = 0;
            while i + 33 <= n {
                let v0 = load(b, i);
                let v1 = load(b, i + 1);
                acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v0, zero));
                let hit =
                    _mm256_and_si256(_mm256_cmpeq_epi8(v0, soh), _mm256_cmpeq_epi8(v1, eight));
                let mut m = _mm256_movemask_epi8(hit) as u32;
                while m != 0 {
                    let j = i + m.trailing_zeros() as usize;
                    if interrupt_at(b, j) {
                        return (0, Some(j));
                    }
                    m &= m - 1;
                }
                i += 32;
            }
            if i < n {
                // The last 1..=32 bytes, with overlapping loads masked to positions >= i.
                let t = n - 32;
                let keep = i - t;
                let vt = load(b, t);
                let mask = load(&MASK, 32 - keep);
                acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_and_si256(vt, mask), zero));
                let vp = load(b, n - 33);
                let hit =
                    _mm256_and_si256(_mm256_cmpeq_epi8(vp, soh), _mm256_cmpeq_epi8(vt, eight));
                let lo = u32::MAX.checked_shl((i - (n - 33)) as u32).unwrap_or(0);
                let mut m = (_mm256_movemask_epi8(hit) as u32) & lo;
                while m != 0 {
                    let j = n - 33 + m.trailing_zeros() as usize;
                    if interrupt_at(b, j) {
                        return (0, Some(j));
                    }
                    m &= m - 1;
                }
            }
            let a = _mm_add_epi64(
                _mm256_castsi256_si128(acc),
                _mm256_extracti128_si256::<1>(acc),
            );
            let lo = _mm_cvtsi128_si64(a) as u64;
            let hi = _mm_cvtsi128_si64(_mm_srli_si128::<8>(a)) as u64;
            (lo.wrapping_add(hi) as u8, None)
        }

        /// `MASK[32 - k..64 - k]` zeroes the first `k` lanes of a vector.
        static MASK: [u8; 64] = {
            let mut m = [0u8; 64];
            let mut i = 32;
            while i < 64 {
                m[i] = 0xFF;
                i += 1;
            }
            m
        };
    }

    /// `MASK[16 - k..32 - k]` zeroes the first `k` lanes of a vector.
    static MASK: [u8; 32] = {
        let mut m = [0u8; 32];
        let mut i = 16;
        while i < 32 {
            m[i] = 0xFF;
            i += 1;
        }
        m
    };

    #[target_feature(enable = "sse2")]
    fn sum_find_sse2(b: &[u8]) -> (u8, Option<usize>) {
        sum_find_from(b, 0, _mm_setzero_si128())
    }

    /// Continues a scan at `i` with the partial sums in `acc` (all bytes before `i` summed and
    /// searched; `i == 0` or `i + 17 <= b.len() + 16`).
    #[target_feature(enable = "sse2")]
    fn sum_find_from(b: &[u8], mut i: usize, mut acc: __m128i) -> (u8, Option<usize>) {
        let n = b.len();
        if n < 17 {
            let mut s = 0u8;
            for (j, &x) in b.iter().enumerate() {
                s = s.wrapping_add(x);
                if x == crate::SOH && interrupt_at(b, j) {
                    return (s, Some(j));
                }
            }
            return (s, None);
        }
        let zero = _mm_setzero_si128();
        let soh = _mm_set1_epi8(crate::SOH as i8);
        let eight = _mm_set1_epi8(b'8' as i8);
        // Blocks: bytes i..i+16 summed; SOH at i..i+16 followed by `8` found.
        while i + 17 <= n {
            let v0 = load(b, i);
            let v1 = load(b, i + 1);
            acc = _mm_add_epi64(acc, _mm_sad_epu8(v0, zero));
            let hit = _mm_and_si128(_mm_cmpeq_epi8(v0, soh), _mm_cmpeq_epi8(v1, eight));
            let mut m = _mm_movemask_epi8(hit) as u32;
            while m != 0 {
                let j = i + m.trailing_zeros() as usize;
                if interrupt_at(b, j) {
                    return (0, Some(j));
                }
                m &= m - 1;
            }
            i += 16;
        }
        if i < n {
            // The last 1..=16 bytes, with overlapping loads masked to positions >= i.
            let t = n - 16;
            let keep = i - t;
            let vt = load(b, t);
            let mask = load(&MASK, 16 - keep);
            acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_and_si128(vt, mask), zero));
            let vp = load(b, n - 17);
            let hit = _mm_and_si128(_mm_cmpeq_epi8(vp, soh), _mm_cmpeq_epi8(vt, eight));
            let mut m = (_mm_movemask_epi8(hit) as u32) & (u32::MAX << (i - (n - 17)));
            while m != 0 {
                let j = n - 17 + m.trailing_zeros() as usize;
                if interrupt_at(b, j) {
                    return (0, Some(j));
                }
                m &= m - 1;
            }
        }
        (hsum(acc), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_find(b: &[u8]) -> Option<usize> {
        b.windows(6).position(|w| w == INTERRUPT)
    }

    #[test]
    fn sum_and_find_match_naive_on_every_length_and_position() {
        let mut data = Vec::new();
        for i in 0..300u32 {
            data.push((i.wrapping_mul(2654435761) >> 13) as u8 | 0x02);
        }
        for len in 0..data.len() {
            let b = &data[..len];
            let naive = b.iter().fold(0u8, |a, &x| a.wrapping_add(x));
            assert_eq!(sum(b), naive, "len {len}");
            assert_eq!(sum_find(b), (naive, None), "len {len}");
        }
        for pos in 0..150 {
            for len in pos..pos + 40 {
                let mut b = data[..len.max(pos + 6)].to_vec();
                b[pos..pos + 6].copy_from_slice(INTERRUPT);
                // A decoy SOH 8 that is not followed by =FIX, just before.
                if pos >= 3 {
                    b[pos - 3] = 1;
                    b[pos - 2] = b'8';
                }
                assert_eq!(naive_find(&b), Some(pos));
                assert_eq!(sum_find(&b).1, Some(pos), "pos {pos} len {}", b.len());
                assert_eq!(find_interrupt(&b), Some(pos));
                // Cut inside the pattern: not found.
                let cut = &b[..pos + 5];
                let naive = cut.iter().fold(0u8, |a, &x| a.wrapping_add(x));
                assert_eq!(sum_find(cut), (naive, None));
            }
        }
    }
}
