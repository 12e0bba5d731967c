//! splitmix64's finaliser, the one bit-mixing step the node uses wherever it
//! needs well-spread 64-bit values without a generator crate.
//!
//! Why it exists: ring tokens, Merkle salts, background jitter and read
//! repair's coin each need a cheap, fixed mixing of 64 bits. The constants
//! are Stafford's "Mix13" as splitmix64 uses them; keeping them in one place
//! means a typo in one copy cannot silently change ring placement, which
//! must stay identical across builds and versions.

/// The increment splitmix64 adds to its state per draw (2^64 / φ).
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Mixes `z` so that every input bit affects every output bit.
pub fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 generator: a tiny, well-known stream, enough to expand a
/// salt or drive a test.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next value of the stream.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        finalize(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64_stream() {
        // The first outputs of splitmix64 seeded with 0, from Vigna's
        // reference implementation (prng.di.unimi.it/splitmix64.c).
        let mut g = SplitMix64(0);
        assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(g.next_u64(), 0x06c4_5d18_8009_454f);
    }
}
