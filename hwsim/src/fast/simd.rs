//! The only unsafe code of the fast path: the x86_64 block scanners (SSE2, the x86_64 baseline,
//! and AVX2 behind runtime detection) and the AVX2 entry point of `FastPath::process`.
//!
//! Every scanner implements [`Scanner`]: for 64 bytes, the SOH bitmask (bit `k` set when byte
//! `k` is SOH) and the running byte sum of the first `n` of them (`psadbw` against zero); and,
//! for the body scan, the SOH bits that may start a field of interest (AVX2 filters them by the
//! two bytes after the SOH with two `pshufb` lookups; the others return every SOH, which is
//! always a correct answer because each bit is then tested exactly). The portable scanner in
//! `scan.rs` is the reference; `scan.rs`'s unit tests check all three agree.
//!
//! The AVX2 scanner type is private to this module: the only way to run it is
//! [`process_avx2`] (or, in the unit tests, `bulk_avx2` and `test_avx2_scanner`), which takes
//! an [`Avx2Cpu`], a token only [`Avx2Cpu::detect`] makes after the CPU features were
//! confirmed at run time. Its helpers are `#[inline(always)]` without `#[target_feature]`, so
//! they inline (intrinsics included) into the functions compiled for AVX2; the rare paths
//! (`group_fields_padded`) get their own out-of-line AVX2 copies.

#[cfg(test)]
use super::scan::{bulk_with, Bulk};
use super::FastPath;
use crate::contract::Verdict;

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
    /// As [`Scanner::group`] over `g[..64]`, but the mask may leave out SOHs whose next two
    /// bytes cannot begin a field of interest: it is a subset of the SOH bits and a superset of
    /// the SOHs at `k` where `g[k + 1..k + 3]` is `0` and a digit (a tag with leading zeros) or
    /// one of `34`, `36`, `43`, `97`, `12`, `14`, `8=`. The default keeps every SOH.
    #[inline(always)]
    fn group_fields(acc: &mut Self::Acc, g: &[u8; 66], n: usize) -> u64 {
        let [g64 @ .., _, _] = g;
        Self::group(acc, g64, n)
    }
    /// The sum of every byte added, mod 2^32.
    fn total(acc: Self::Acc) -> u32;
    /// `scan::group_fields_padded` with this scanner, out of line (the last group of a buffer
    /// with fewer than 66 bytes left).
    #[inline(never)]
    fn group_fields_padded(acc: &mut Self::Acc, buf: &[u8], i: usize, n: usize) -> u64
    where
        Self: Sized,
    {
        super::scan::group_fields_padded::<Self>(acc, buf, i, n)
    }
}

/// Proof that this CPU runs the AVX2 kernel (AVX2, BMI1, BMI2, LZCNT, POPCNT): only
/// [`Avx2Cpu::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Avx2Cpu(());

impl Avx2Cpu {
    /// A token when the CPU has every feature the AVX2 kernel is compiled for.
    pub(super) fn detect() -> Option<Avx2Cpu> {
        #[cfg(target_arch = "x86_64")]
        {
            let ok = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("lzcnt")
                && std::arch::is_x86_feature_detected!("popcnt");
            ok.then_some(Avx2Cpu(()))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            None
        }
    }
}

/// The bulk check with the AVX2 scanner (for the unit tests); the token proves the CPU can run
/// it.
#[cfg(all(test, target_arch = "x86_64"))]
#[inline]
pub(super) fn bulk_avx2(_cpu: Avx2Cpu, buf: &[u8], max_msg: u32) -> Bulk {
    // SAFETY: an `Avx2Cpu` exists only after `Avx2Cpu::detect` confirmed every feature
    // `bulk_avx2_unchecked` is compiled for.
    unsafe { bulk_avx2_unchecked(buf, max_msg) }
}

/// [`FastPath::process`] with the AVX2 scanner, the whole loop compiled for AVX2; the token
/// proves the CPU can run it.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn process_avx2(
    _cpu: Avx2Cpu,
    fp: &mut FastPath,
    session: u16,
    chunk: &[u8],
    on: impl FnMut(&Verdict, &[u8]),
) {
    // SAFETY: an `Avx2Cpu` exists only after `Avx2Cpu::detect` confirmed every feature
    // `process_avx2_unchecked` is compiled for.
    unsafe { process_avx2_unchecked(fp, session, chunk, on) }
}

/// Off x86_64 no token can exist; the portable kernel runs instead.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(super) fn process_avx2(
    _cpu: Avx2Cpu,
    fp: &mut FastPath,
    session: u16,
    chunk: &[u8],
    on: impl FnMut(&Verdict, &[u8]),
) {
    fp.process_with::<super::scan::Portable>(session, chunk, on)
}

/// `FastPath::process_with` compiled for AVX2 (as [`bulk_avx2_unchecked`]).
///
/// # Safety
/// The CPU must support AVX2, BMI1, BMI2, LZCNT and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn process_avx2_unchecked(
    fp: &mut FastPath,
    session: u16,
    chunk: &[u8],
    on: impl FnMut(&Verdict, &[u8]),
) {
    fp.process_with::<x86::Avx2>(session, chunk, on)
}

/// Off x86_64 no token can exist; the portable kernel runs instead.
#[cfg(all(test, not(target_arch = "x86_64")))]
pub(super) fn bulk_avx2(_cpu: Avx2Cpu, buf: &[u8], max_msg: u32) -> Bulk {
    bulk_with::<super::scan::Portable>(buf, max_msg)
}

/// [`bulk_with`] compiled for AVX2 (and the BMI bit operations that come with every AVX2 CPU
/// the detection accepts).
///
/// # Safety
/// The CPU must support AVX2, BMI1, BMI2, LZCNT and POPCNT.
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn bulk_avx2_unchecked(buf: &[u8], max_msg: u32) -> Bulk {
    bulk_with::<x86::Avx2>(buf, max_msg)
}

/// Runs `f` with the AVX2 scanner's checks for the unit tests (the token proves the CPU).
#[cfg(all(test, target_arch = "x86_64"))]
pub(super) fn test_avx2_scanner(_cpu: Avx2Cpu) {
    // SAFETY: as in `bulk_avx2`: the token proves the CPU features.
    unsafe { test_avx2_scanner_unchecked() }
}

/// # Safety
/// As [`bulk_avx2_unchecked`].
#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn test_avx2_scanner_unchecked() {
    super::scan::check_scanner::<x86::Avx2>("avx2", Some(x86::pair_model));
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::Sse2;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Scanner, KEEP};
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi64, _mm256_and_si256, _mm256_castsi256_si128,
        _mm256_cmpeq_epi8, _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_sad_epu8, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8,
        _mm_add_epi64, _mm_and_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si32, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_sad_epu8, _mm_set1_epi8, _mm_setzero_si128, _mm_unpackhi_epi64,
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

    /// AVX2 scanner: two 32-byte blocks per group. Private to `simd`: it runs only inside
    /// `bulk_avx2_unchecked` (and the unit tests' `test_avx2_scanner_unchecked`), which are
    /// reached only through an `Avx2Cpu` token, i.e. after AVX2 was detected at run time.
    pub(super) struct Avx2;

    impl Scanner for Avx2 {
        type Acc = __m256i;

        #[inline(always)]
        fn zero() -> __m256i {
            // SAFETY: this scanner is private to `simd` and only instantiated inside functions
            // reached through an `Avx2Cpu` token, i.e. after AVX2 was detected at run time.
            unsafe { avx2_zero() }
        }

        #[inline(always)]
        fn group(acc: &mut __m256i, g: &[u8; 64], n: usize) -> u64 {
            // SAFETY: as in `zero`; `g` is 64 readable bytes and `n <= 64`.
            unsafe { avx2_group(acc, g, n) }
        }

        #[inline(always)]
        fn group_fields(acc: &mut __m256i, g: &[u8; 66], n: usize) -> u64 {
            // SAFETY: as in `zero`; `g` is 66 readable bytes and `n <= 64`.
            unsafe { avx2_group_fields(acc, g, n) }
        }

        #[inline(always)]
        fn total(acc: __m256i) -> u32 {
            // SAFETY: as in `zero`.
            unsafe { avx2_total(acc) }
        }

        #[inline(always)]
        fn group_fields_padded(acc: &mut __m256i, buf: &[u8], i: usize, n: usize) -> u64 {
            // SAFETY: as in `zero`.
            unsafe { avx2_group_fields_padded(acc, buf, i, n) }
        }
    }

    /// `scan::group_fields_padded` with this scanner, out of line but compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2, BMI1, BMI2, LZCNT and POPCNT.
    #[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
    #[inline(never)]
    unsafe fn avx2_group_fields_padded(acc: &mut __m256i, buf: &[u8], i: usize, n: usize) -> u64 {
        crate::fast::scan::group_fields_padded::<Avx2>(acc, buf, i, n)
    }

    // The AVX2 helpers below carry no `#[target_feature]` of their own: they are
    // `#[inline(always)]` into `process_avx2_unchecked` and the other functions compiled with
    // AVX2, where the intrinsics inline too (a `#[target_feature]` function is not reliably
    // inlined into every caller). Outside such a function they would still be correct, but
    // every intrinsic would become a call.

    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn avx2_zero() -> __m256i {
        // SAFETY: the caller guarantees AVX2.
        unsafe { _mm256_setzero_si256() }
    }

    /// Adds the first `n` bytes of the 64 bytes `a`, `b` to `acc`.
    ///
    /// # Safety
    /// The CPU must have AVX2; `n <= 64`.
    #[inline(always)]
    unsafe fn avx2_sum(acc: &mut __m256i, mut a: __m256i, mut b: __m256i, n: usize) {
        debug_assert!(n <= 64);
        // SAFETY: the caller guarantees AVX2; `KEEP[64 - n..128 - n]` is 64 readable bytes
        // (n <= 64) and `_mm256_loadu_si256` has no alignment requirement.
        unsafe {
            if n < 64 {
                let kp = KEEP[64 - n..128 - n].as_ptr().cast::<__m256i>();
                a = _mm256_and_si256(a, _mm256_loadu_si256(kp));
                b = _mm256_and_si256(b, _mm256_loadu_si256(kp.add(1)));
            }
            let z = _mm256_setzero_si256();
            *acc = _mm256_add_epi64(
                *acc,
                _mm256_add_epi64(_mm256_sad_epu8(a, z), _mm256_sad_epu8(b, z)),
            );
        }
    }

    /// # Safety
    /// The CPU must have AVX2; `n <= 64` (`g` is a reference to 64 bytes, so the loads are in
    /// bounds).
    #[inline(always)]
    unsafe fn avx2_group(acc: &mut __m256i, g: &[u8; 64], n: usize) -> u64 {
        let p = g.as_ptr().cast::<__m256i>();
        // SAFETY: the caller guarantees AVX2 and `n <= 64`; `g` is 64 readable bytes and
        // `_mm256_loadu_si256` has no alignment requirement.
        unsafe {
            let (a, b) = (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)));
            let soh = _mm256_set1_epi8(1);
            let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(a, soh)) as u32;
            let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(b, soh)) as u32;
            avx2_sum(acc, a, b, n);
            u64::from(lo) | (u64::from(hi) << 32)
        }
    }

    /// First byte after an SOH -> bits of the pairs it can begin (`0` any, `1` 2/4, `3` 4/6,
    /// `4` 3, `8` `=`, `9` 7), by its low nibble alone (a superset: after an SOH comes a tag,
    /// whose bytes are digits in any sane message; bytes from 0x80 give 0).
    const FIRST_CLASS: [i8; 16] = [
        0x20, 0x08, 0, 0x01, 0x02, 0, 0, 0, 0x10, 0x04, 0, 0, 0, 0, 0, 0,
    ];
    /// Second byte after an SOH -> the pairs it can end, by its low nibble alone (a superset:
    /// the exact test follows); bit 0x20 (after a `0`) for every byte below 0x80.
    const SECOND_CLASS: [i8; 16] = [
        0x20,
        0x20,
        0x20 | 0x08,
        0x20 | 0x02,
        0x20 | 0x01 | 0x08,
        0x20,
        0x20 | 0x01,
        0x20 | 0x04,
        0x20,
        0x20,
        0x20,
        0x20,
        0x20,
        0x20 | 0x10,
        0x20,
        0x20,
    ];

    /// The byte-serial model of [`pairs`] for one position (the unit tests compare the two).
    #[cfg(test)]
    pub(super) fn pair_model(f: u8, s: u8) -> bool {
        let first = if f < 0x80 {
            FIRST_CLASS[usize::from(f & 15)]
        } else {
            0
        };
        let second = if s < 0x80 {
            SECOND_CLASS[usize::from(s & 15)]
        } else {
            0
        };
        first & second != 0
    }

    /// `t` in both 128-bit lanes (`vpshufb` looks up within each lane).
    const fn both_lanes(t: [i8; 16]) -> [i8; 32] {
        let mut out = [0i8; 32];
        let mut k = 0;
        while k < 32 {
            out[k] = t[k % 16];
            k += 1;
        }
        out
    }
    static FIRST_TABLE: [i8; 32] = both_lanes(FIRST_CLASS);
    static SECOND_TABLE: [i8; 32] = both_lanes(SECOND_CLASS);

    /// A 32-byte table as a vector (one load).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn table(t: &'static [i8; 32]) -> __m256i {
        // SAFETY: the caller guarantees AVX2; `t` is 32 readable bytes and
        // `_mm256_loadu_si256` has no alignment requirement.
        unsafe { _mm256_loadu_si256(t.as_ptr().cast::<__m256i>()) }
    }

    /// Bit `k` set when bytes `f[k]`, `s[k]` (the two bytes after position `k`) may begin a
    /// field of interest (see `Scanner::group_fields`).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn pairs(f: __m256i, s: __m256i) -> u32 {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            let a = _mm256_shuffle_epi8(table(&FIRST_TABLE), f);
            let x = _mm256_and_si256(a, _mm256_shuffle_epi8(table(&SECOND_TABLE), s));
            !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_setzero_si256())) as u32)
        }
    }

    /// # Safety
    /// The CPU must have AVX2; `n <= 64` (`g` is a reference to 66 bytes, so the loads are in
    /// bounds).
    #[inline(always)]
    unsafe fn avx2_group_fields(acc: &mut __m256i, g: &[u8; 66], n: usize) -> u64 {
        let p = g.as_ptr();
        // SAFETY: the caller guarantees AVX2 and `n <= 64`; the six 32-byte loads end at most
        // at byte 2 + 32 + 32 = 66 of `g`; `_mm256_loadu_si256` has no alignment requirement.
        unsafe {
            let a = _mm256_loadu_si256(p.cast::<__m256i>());
            let b = _mm256_loadu_si256(p.add(32).cast::<__m256i>());
            let f0 = _mm256_loadu_si256(p.add(1).cast::<__m256i>());
            let f1 = _mm256_loadu_si256(p.add(33).cast::<__m256i>());
            let s0 = _mm256_loadu_si256(p.add(2).cast::<__m256i>());
            let s1 = _mm256_loadu_si256(p.add(34).cast::<__m256i>());
            let soh = _mm256_set1_epi8(1);
            let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(a, soh)) as u32 & pairs(f0, s0);
            let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(b, soh)) as u32 & pairs(f1, s1);
            avx2_sum(acc, a, b, n);
            u64::from(lo) | (u64::from(hi) << 32)
        }
    }

    /// # Safety
    /// The CPU must have AVX2.
    #[inline(always)]
    unsafe fn avx2_total(acc: __m256i) -> u32 {
        // SAFETY: the caller guarantees AVX2.
        unsafe {
            let s = _mm_add_epi64(
                _mm256_castsi256_si128(acc),
                _mm256_extracti128_si256::<1>(acc),
            );
            _mm_cvtsi128_si32(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s))) as u32
        }
    }
}
