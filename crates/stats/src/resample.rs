//! Seeded random streams and uniform indices shared by the resampling methods
//! ([`crate::bootstrap`], [`crate::permutation`]).
//!
//! Resamples are cut into blocks of [`BLOCK`]; block `k` draws from its own
//! `Xoshiro256++` stream, seeded by SplitMix64 from a mix of `(seed, k)`. Blocks run in
//! parallel and their results are put back in block order, so a result depends on the seed
//! only, never on the thread count.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Resamples per block (the unit of seeding and of parallel work).
pub(crate) const BLOCK: u32 = 64;

/// SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream of block `block` of a resampling run seeded with `seed` (`salt` separates
/// methods, so a bootstrap and a permutation test with the same seed do not share draws).
pub(crate) fn block_rng(seed: u64, salt: u64, block: u64) -> Xoshiro256PlusPlus {
    const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
    let key = mix(mix(seed ^ GOLDEN).wrapping_add(salt.wrapping_mul(GOLDEN)) ^ mix(block));
    Xoshiro256PlusPlus::seed_from_u64(key)
}

/// Uniform integers in `0..n` for a fixed `n < 2^32`, by Lemire's multiply-and-shift with
/// rejection ("Fast random integer generation in an interval", ACM TOMACS 2019): exact, and
/// two indices per 64-bit draw.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Indices {
    n: u64,
    /// `2^32 mod n`: low products below it are rejected.
    threshold: u32,
}

impl Indices {
    pub(crate) fn new(n: usize) -> Self {
        debug_assert!(n > 0 && (n as u64) <= u64::from(u32::MAX));
        let n32 = n as u32;
        Indices {
            n: n as u64,
            threshold: n32.wrapping_neg() % n32,
        }
    }

    /// One index from 32 random bits, or `None` (rarely, probability `n / 2^32`) when the
    /// bits must be rejected.
    #[inline(always)]
    fn index_of(&self, bits: u32) -> Option<usize> {
        let m = u64::from(bits) * self.n;
        if (m as u32) < self.threshold {
            None
        } else {
            Some((m >> 32) as usize)
        }
    }

    /// One index.
    #[inline]
    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        loop {
            if let Some(i) = self.index_of(rng.next_u32()) {
                return i;
            }
        }
    }

    /// The sum of `xs[i]` over `xs.len()` indices drawn with replacement (one bootstrap
    /// resample's sum), `xs.len()` being this sampler's `n`.
    #[inline]
    pub(crate) fn resample_sum<R: Rng + ?Sized>(&self, xs: &[f64], rng: &mut R) -> f64 {
        debug_assert_eq!(xs.len() as u64, self.n);
        let (mut s0, mut s1) = (0.0, 0.0);
        for _ in 0..xs.len() / 2 {
            let r = rng.next_u64();
            let i = self.index_of(r as u32).unwrap_or_else(|| self.draw(rng));
            let j = self
                .index_of((r >> 32) as u32)
                .unwrap_or_else(|| self.draw(rng));
            s0 += xs[i];
            s1 += xs[j];
        }
        if xs.len() % 2 == 1 {
            s0 += xs[self.draw(rng)];
        }
        s0 + s1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_uniform_and_in_range() {
        let idx = Indices::new(7);
        let mut rng = block_rng(1, 0, 0);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[idx.draw(&mut rng)] += 1;
        }
        // Each count is Binomial(70000, 1/7): mean 10000, sd ≈ 93.
        assert!(
            counts.iter().all(|&c| (9_600..10_400).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn blocks_and_salts_differ() {
        let a = block_rng(5, 1, 0).next_u64();
        assert_ne!(a, block_rng(5, 1, 1).next_u64());
        assert_ne!(a, block_rng(5, 2, 0).next_u64());
        assert_ne!(a, block_rng(6, 1, 0).next_u64());
        assert_eq!(a, block_rng(5, 1, 0).next_u64());
    }
}
