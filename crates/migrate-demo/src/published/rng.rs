//! A tiny seeded generator (SplitMix64) with our own range helpers.
//!
//! Not `rand`: its value-to-range algorithms may change between versions, which would silently change every
//! generated fixture. This one is fixed forever, and each part of a recording draws from its own stream (seed +
//! label), so adding a cursor move never shifts the shapes.

pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: &str) -> Self {
        let mut state = seed ^ 0x6A09_E667_F3BC_C908;
        for byte in stream.bytes() {
            state = mix(state ^ u64::from(byte));
        }
        Self(state)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n == 0`); the modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..hi`, or `lo` when the range is empty.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.below(hi - lo) }
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_and_independent() {
        // Pinned: changing these values changes every generated recording.
        assert_eq!(Rng::new(1, "a").next_u64(), Rng::new(1, "a").next_u64());
        assert_ne!(Rng::new(1, "a").next_u64(), Rng::new(1, "b").next_u64());
        assert_ne!(Rng::new(1, "a").next_u64(), Rng::new(2, "a").next_u64());
        let mut r = Rng::new(7, "x");
        for _ in 0..1000 {
            let v = r.range(3, 9);
            assert!((3..9).contains(&v));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
