//! The only unsafe code of the fast path: the x86_64 block scanners (SSE2, the x86_64 baseline,
//! and AVX2 behind runtime detection) and one unchecked little-endian load.
//!
//! Every scanner implements [`Scanner`]: for 64 bytes, the SOH bitmask (bit `k` set when byte
//! `k` is SOH) and the running byte sum of the first `n` of them (`psadbw` against zero). The
//! portable scanner in `scan.rs` is the reference; `scan.rs`'s unit tests check all three agree.

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// `KEEP[64 - n..128 - n]` keeps the first `n` bytes of a 64-byte group (0xFF, then 0x00).
pub(super) static KEEP: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut k = 0;
    while k < 64 {
        t[k] = 0xFF;
        k += 1;
    }
    t
};

/// A 64-byte block scanner (see the module docs).
pub(super) trait Scanner {
    /// The running byte sum.
    type Acc: Copy;
    /// An empty sum.
    fn zero() -> Self::Acc;
    /// SOH bitmask of all 64 bytes of `g`; adds its first `n` bytes (`1..=64`) to `acc`.
    fn group(acc: &mut Self::Acc, g: &[u8; 64], n: usize) -> u64;
    /// The sum of every byte added, mod 2^32.
    fn total(acc: Self::Acc) -> u32;
}

/// Little-endian `u64` at `buf[i..i + 8]` without a bounds check in release builds.
///
/// # Safety
/// `i + 8 <= buf.len()`.
#[inline(always)]
pub(super) unsafe fn load8_unchecked(buf: &[u8], i: usize) -> u64 {
    debug_assert!(i + 8 <= buf.len(), "load8 at {i} of {}", buf.len());
    // SAFETY: the caller guarantees `buf[i..i + 8]` is in bounds; `read_unaligned` has no
    // alignment requirement.
    u64::from_le(unsafe { buf.as_ptr().add(i).cast::<u64>().read_unaligned() })
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{Avx2, Sse2};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Scanner, KEEP};
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi64, _mm256_and_si256, _mm256_castsi256_si128,
        _mm256_cmpeq_epi8, _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_sad_epu8, _mm256_set1_epi8, _mm256_setzero_si256, _mm_add_epi64, _mm_and_si128,
        _mm_cmpeq_epi8, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_movemask_epi8, _mm_sad_epu8,
        _mm_set1_epi8, _mm_setzero_si128, _mm_unpackhi_epi64,
    };

    /// SSE2 scanner: four 16-byte blocks per group.
    pub(in crate::fast) struct Sse2;

    impl Scanner for Sse2 {
        type Acc = __m128i;

        #[inline(always)]
        fn zero() -> __m128i {
            // SAFETY: SSE2 is part of the x86_64 baseline, so the target feature is present.
            unsafe { sse2_zero() }
        }

        #[inline(always)]
        fn group(acc: &mut __m128i, g: &[u8; 64], n: usize) -> u64 {
            // SAFETY: as in `zero`; `g` is 64 readable bytes and `n <= 64`.
            unsafe { sse2_group(acc, g, n) }
        }

        #[inline(always)]
        fn total(acc: __m128i) -> u32 {
            // SAFETY: as in `zero`.
            unsafe { sse2_total(acc) }
        }
    }

    #[target_feature(enable = "sse2")]
    #[inline]
    fn sse2_zero() -> __m128i {
        _mm_setzero_si128()
    }

    /// # Safety
    /// `n <= 64` (`g` is a reference to 64 bytes, so the loads are in bounds).
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn sse2_group(acc: &mut __m128i, g: &[u8; 64], n: usize) -> u64 {
        debug_assert!(n <= 64);
        let p = g.as_ptr().cast::<__m128i>();
        // SAFETY: `g` is 64 readable bytes; `_mm_loadu_si128` has no alignment requirement.
        let mut v = unsafe {
            [
                _mm_loadu_si128(p),
                _mm_loadu_si128(p.add(1)),
                _mm_loadu_si128(p.add(2)),
                _mm_loadu_si128(p.add(3)),
            ]
        };
        let soh = _mm_set1_epi8(1);
        let mut m = 0u64;
        for (k, x) in v.iter().enumerate() {
            m |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(*x, soh)) as u16) << (16 * k);
        }
        if n < 64 {
            let kp = KEEP[64 - n..128 - n].as_ptr().cast::<__m128i>();
            for (k, x) in v.iter_mut().enumerate() {
                // SAFETY: `KEEP[64 - n..128 - n]` is 64 readable bytes (n <= 64).
                *x = _mm_and_si128(*x, unsafe { _mm_loadu_si128(kp.add(k)) });
            }
        }
        let z = _mm_setzero_si128();
        let s01 = _mm_add_epi64(_mm_sad_epu8(v[0], z), _mm_sad_epu8(v[1], z));
        let s23 = _mm_add_epi64(_mm_sad_epu8(v[2], z), _mm_sad_epu8(v[3], z));
        *acc = _mm_add_epi64(*acc, _mm_add_epi64(s01, s23));
        m
    }

    #[target_feature(enable = "sse2")]
    #[inline]
    fn sse2_total(acc: __m128i) -> u32 {
        _mm_cvtsi128_si32(_mm_add_epi64(acc, _mm_unpackhi_epi64(acc, acc))) as u32
    }

    /// AVX2 scanner: two 32-byte blocks per group. Used only when the CPU has AVX2 (the fast
    /// path checks with `is_x86_feature_detected!` before it selects this kernel).
    pub(in crate::fast) struct Avx2;

    impl Scanner for Avx2 {
        type Acc = __m256i;

        #[inline(always)]
        fn zero() -> __m256i {
            // SAFETY: this scanner is only instantiated inside `scan::bulk_avx2`, which is
            // called only after AVX2 was detected at run time (`Kernel::Avx2` is selected only
            // when `Kernel::is_available` says so).
            unsafe { avx2_zero() }
        }

        #[inline(always)]
        fn group(acc: &mut __m256i, g: &[u8; 64], n: usize) -> u64 {
            // SAFETY: as in `zero`; `g` is 64 readable bytes and `n <= 64`.
            unsafe { avx2_group(acc, g, n) }
        }

        #[inline(always)]
        fn total(acc: __m256i) -> u32 {
            // SAFETY: as in `zero`.
            unsafe { avx2_total(acc) }
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn avx2_zero() -> __m256i {
        _mm256_setzero_si256()
    }

    /// # Safety
    /// `n <= 64` (`g` is a reference to 64 bytes, so the loads are in bounds).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn avx2_group(acc: &mut __m256i, g: &[u8; 64], n: usize) -> u64 {
        debug_assert!(n <= 64);
        let p = g.as_ptr().cast::<__m256i>();
        // SAFETY: `g` is 64 readable bytes; `_mm256_loadu_si256` has no alignment requirement.
        let (mut a, mut b) = unsafe { (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1))) };
        let soh = _mm256_set1_epi8(1);
        let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(a, soh)) as u32;
        let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(b, soh)) as u32;
        if n < 64 {
            let kp = KEEP[64 - n..128 - n].as_ptr().cast::<__m256i>();
            // SAFETY: `KEEP[64 - n..128 - n]` is 64 readable bytes (n <= 64).
            let (ka, kb) = unsafe { (_mm256_loadu_si256(kp), _mm256_loadu_si256(kp.add(1))) };
            a = _mm256_and_si256(a, ka);
            b = _mm256_and_si256(b, kb);
        }
        let z = _mm256_setzero_si256();
        *acc = _mm256_add_epi64(
            *acc,
            _mm256_add_epi64(_mm256_sad_epu8(a, z), _mm256_sad_epu8(b, z)),
        );
        u64::from(lo) | (u64::from(hi) << 32)
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn avx2_total(acc: __m256i) -> u32 {
        let s = _mm_add_epi64(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256::<1>(acc),
        );
        _mm_cvtsi128_si32(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s))) as u32
    }
}
