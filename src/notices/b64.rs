//! Base64 (RFC 4648) for keys, secrets, signatures and cursors: the `base64`
//! crate's engines behind four small names. Padding is written on the
//! standard alphabet (Standard Webhooks signatures and secrets use it) and
//! left off the URL-safe one (keys and cursors travel in URLs and headers);
//! either is accepted when reading.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

const STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_encode_padding(true).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn encode(bytes: &[u8]) -> String {
    STD.encode(bytes)
}

pub fn decode(text: &str) -> Option<Vec<u8>> {
    STD.decode(text).ok()
}

pub fn encode_url(bytes: &[u8]) -> String {
    URL.encode(bytes)
}

pub fn decode_url(text: &str) -> Option<Vec<u8>> {
    URL.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_round_trip() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")];
        for (plain, coded) in cases {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).as_deref(), Some(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode_url(&encode_url(&all)), Some(all));
        assert_eq!(decode("Zg=x"), None);
        assert_eq!(decode("Z"), None);
    }
}
