//! Deterministic randomness for the generator.
//!
//! Every generated thing (listing `i`, shop `j`, operator `k` …) draws from its
//! own [`Rng`] seeded by `(market seed, stream, index)`, so any one of them can be
//! built on demand, in any order, without generating the others. SplitMix64 is
//! used rather than `rand`'s distributions because its output is fixed forever:
//! the same seed gives the same bytes on every machine and every crate version.

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

/// One SplitMix64 step: a good 64-bit mixing function on its own.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Independent random streams: one per kind of generated thing.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stream {
    /// Which shop a listing belongs to.
    Assign = 1,
    /// A listing's content.
    Item = 2,
    /// A shop's content.
    Shop = 3,
    /// An operator (company) behind one or more shops.
    Operator = 4,
    /// Keys of the id permutations.
    Ids = 6,
}

impl Rng {
    pub(crate) fn new(seed: u64, stream: Stream, index: u64) -> Rng {
        Rng(mix64(mix64(seed ^ mix64(stream as u64)) ^ index))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0.wrapping_sub(0x9E37_79B9_7F4A_7C15))
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift (bias < 2^-32 for our n).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn per_mille(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A keyed bijection on `u32` (a 4-round Feistel network on 16-bit halves).
///
/// Turns dense indexes into realistic-looking, non-sequential ids that can be
/// mapped back in O(1) without a table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permutation {
    keys: [u64; 4],
}

impl Permutation {
    pub(crate) fn new(seed: u64, purpose: u64) -> Permutation {
        let mut rng = Rng::new(seed, Stream::Ids, purpose);
        Permutation { keys: [rng.next_u64(), rng.next_u64(), rng.next_u64(), rng.next_u64()] }
    }

    fn round(key: u64, half: u32) -> u32 {
        (mix64(key ^ u64::from(half)) & 0xFFFF) as u32
    }

    pub(crate) fn forward(&self, x: u32) -> u32 {
        let (mut l, mut r) = (x >> 16, x & 0xFFFF);
        for key in self.keys {
            (l, r) = (r, l ^ Self::round(key, r));
        }
        (l << 16) | r
    }

    pub(crate) fn backward(&self, y: u32) -> u32 {
        let (mut l, mut r) = (y >> 16, y & 0xFFFF);
        for key in self.keys.iter().rev() {
            (l, r) = (r ^ Self::round(*key, l), l);
        }
        (l << 16) | r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_round_trips() {
        let p = Permutation::new(7, 1);
        for x in (0..2_000_000u32).step_by(997).chain([0, 1, u32::MAX]) {
            assert_eq!(p.backward(p.forward(x)), x);
        }
        assert_ne!(p.forward(1), 1);
    }

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a = Rng::new(1, Stream::Item, 5).next_u64();
        assert_eq!(a, Rng::new(1, Stream::Item, 5).next_u64());
        assert_ne!(a, Rng::new(1, Stream::Shop, 5).next_u64());
        assert_ne!(a, Rng::new(2, Stream::Item, 5).next_u64());
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(3, Stream::Item, 0);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
    }
}
