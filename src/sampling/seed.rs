//! The recorded seed and the per-candidate uniform number derived from it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::SamplingError;

/// Domain separation of the keyed hash: a new method gets a new tag.
pub const METHOD: &str = "spotcheck/sample/v1";

/// The seed of a draw: 32 bytes, written as 64 lowercase hex digits.
///
/// A `u64` seed (as `crawl --sample-seed` takes) is the same number big-endian
/// in the last 8 bytes, so its hex form ends with the number's hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    pub fn from_u64(n: u64) -> Seed {
        let mut bytes = [0u8; 32];
        bytes[24..].copy_from_slice(&n.to_be_bytes());
        Seed(bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The uniform number in (0, 1) of candidate `key` under this seed: the first
    /// 8 bytes (big-endian) of `SHA-256(METHOD ‖ 0x00 ‖ seed ‖ key)`, top 53 bits,
    /// plus one half, over 2^53. It depends on the seed and the key only.
    pub fn uniform(&self, key: &str) -> f64 {
        let mut hash = Sha256::new();
        hash.update(METHOD.as_bytes());
        hash.update([0u8]);
        hash.update(self.0);
        hash.update(key.as_bytes());
        let digest = hash.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let top = u64::from_be_bytes(first) >> 11;
        (top as f64 + 0.5) / (1u64 << 53) as f64
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// 64 hex digits, or a decimal `u64` (see [`Seed::from_u64`]).
impl FromStr for Seed {
    type Err = SamplingError;

    fn from_str(s: &str) -> Result<Seed, SamplingError> {
        let s = s.trim();
        if s.len() == 64 {
            let mut bytes = [0u8; 32];
            if hex::decode_to_slice(s, &mut bytes).is_ok() {
                return Ok(Seed(bytes));
            }
        } else if let Ok(n) = s.parse::<u64>() {
            return Ok(Seed::from_u64(n));
        }
        Err(SamplingError::BadSeed(s.to_string()))
    }
}

impl Serialize for Seed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Seed, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_from_hex_and_decimal_and_round_trip() {
        let s = Seed::from_u64(0xdead_beef);
        assert!(s.to_hex().ends_with("00000000deadbeef"), "{s}");
        assert_eq!(s.to_hex().parse::<Seed>().unwrap(), s);
        assert_eq!("3735928559".parse::<Seed>().unwrap(), s);
        assert!("xyz".parse::<Seed>().is_err());
        assert!("g".repeat(64).parse::<Seed>().is_err());
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Seed>(&json).unwrap(), s);
    }

    #[test]
    fn uniforms_are_strictly_inside_the_unit_interval_and_keyed() {
        let s = Seed::from_u64(7);
        for i in 0..1000 {
            let u = s.uniform(&format!("mall/{i}"));
            assert!(u > 0.0 && u < 1.0, "{u}");
        }
        assert_ne!(s.uniform("mall/1"), Seed::from_u64(8).uniform("mall/1"));
        assert_eq!(s.uniform("mall/1"), s.uniform("mall/1"));
    }
}
