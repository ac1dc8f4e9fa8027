//! Content decoding (`Content-Encoding: gzip, deflate, br`) done by us, so the
//! raw body stays exactly as received for the capture and the decoded body is
//! bounded: decoding stops as soon as the output passes the size or ratio
//! limit, without ever holding more than the limit in memory.

use std::io::Read;

/// Below this many decoded bytes the ratio limit does not apply: small
/// repetitive pages legitimately compress 100:1 or more.
pub(crate) const RATIO_FLOOR: u64 = 1 << 20;

/// How decoding a body can fail (turned into a [`super::FetchError`] by the caller).
#[derive(Debug)]
pub(crate) enum DecodeFailure {
    /// The named coding is not one we implement.
    Unsupported(String),
    /// The body is not valid for the coding.
    Corrupt { encoding: String, source: std::io::Error },
    /// The output passed a limit; `detail` says which.
    Bomb { encoding: String, detail: String },
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeFailure::Unsupported(coding) => write!(f, "content encoding `{coding}` is not supported"),
            DecodeFailure::Corrupt { encoding, source } => write!(f, "corrupt {encoding} body: {source}"),
            DecodeFailure::Bomb { encoding, detail } => write!(f, "{encoding} body refused: {detail}"),
        }
    }
}

/// Limits on decoded output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodeLimits {
    pub max_decoded_bytes: u64,
    pub max_ratio: u64,
}

/// Undoes every coding listed in `Content-Encoding` (applied in order, so
/// undone in reverse). `identity` and an empty header leave the body as is.
pub(crate) fn decode_body(
    raw: bytes::Bytes,
    content_encoding: Option<&str>,
    limits: DecodeLimits,
) -> Result<bytes::Bytes, DecodeFailure> {
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    let raw_len = raw.len() as u64;
    let mut body = raw;
    for coding in codings.iter().rev() {
        body = decode_one(&body, coding, raw_len, limits)?.into();
    }
    Ok(body)
}

fn decode_one(input: &[u8], coding: &str, raw_len: u64, limits: DecodeLimits) -> Result<Vec<u8>, DecodeFailure> {
    match coding {
        "gzip" | "x-gzip" => bounded_read(flate2::read::MultiGzDecoder::new(input), coding, raw_len, limits),
        "deflate" if looks_like_zlib(input) => {
            bounded_read(flate2::read::ZlibDecoder::new(input), coding, raw_len, limits)
        }
        // Some servers send raw DEFLATE for `deflate`; browsers accept it, so do we.
        "deflate" => bounded_read(flate2::read::DeflateDecoder::new(input), coding, raw_len, limits),
        "br" => bounded_read(brotli::Decompressor::new(input, 64 * 1024), coding, raw_len, limits),
        other => Err(DecodeFailure::Unsupported(other.to_string())),
    }
}

/// A zlib stream starts with a CMF/FLG pair: method 8 and a header checksum.
fn looks_like_zlib(b: &[u8]) -> bool {
    b.len() >= 2 && b[0] & 0x0f == 8 && (u16::from(b[0]) << 8 | u16::from(b[1])) % 31 == 0
}

/// Reads a decoder to the end, stopping with [`DecodeFailure::Bomb`] as soon as
/// the output would pass a limit.
fn bounded_read(mut r: impl Read, coding: &str, raw_len: u64, limits: DecodeLimits) -> Result<Vec<u8>, DecodeFailure> {
    let ratio_cap = raw_len.saturating_mul(limits.max_ratio).max(RATIO_FLOOR);
    let mut out = Vec::with_capacity((raw_len as usize).saturating_mul(4).min(1 << 20));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(DecodeFailure::Corrupt { encoding: coding.to_string(), source }),
        };
        let total = out.len() as u64 + n as u64;
        if total > limits.max_decoded_bytes {
            return Err(DecodeFailure::Bomb {
                encoding: coding.to_string(),
                detail: format!(
                    "it expands past {} (from {} on the wire)",
                    super::error::human_bytes(limits.max_decoded_bytes),
                    super::error::human_bytes(raw_len)
                ),
            });
        }
        if total > ratio_cap {
            return Err(DecodeFailure::Bomb {
                encoding: coding.to_string(),
                detail: format!(
                    "it expands more than {}:1 (past {} from {} on the wire)",
                    limits.max_ratio,
                    super::error::human_bytes(ratio_cap),
                    super::error::human_bytes(raw_len)
                ),
            });
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    const LIMITS: DecodeLimits = DecodeLimits { max_decoded_bytes: 1 << 20, max_ratio: 100 };

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_deflate_raw_deflate_and_br_roundtrip() {
        let text = "价格 ¥199.00 <b>充电宝</b> ".repeat(50);
        let g = gzip(text.as_bytes());
        assert_eq!(decode_body(g.into(), Some("gzip"), LIMITS).unwrap(), text.as_bytes());

        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(text.as_bytes()).unwrap();
        assert_eq!(decode_body(z.finish().unwrap().into(), Some("deflate"), LIMITS).unwrap(), text.as_bytes());

        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(text.as_bytes()).unwrap();
        assert_eq!(decode_body(d.finish().unwrap().into(), Some("Deflate"), LIMITS).unwrap(), text.as_bytes());

        let mut b = Vec::new();
        brotli::CompressorWriter::new(&mut b, 4096, 5, 22).write_all(text.as_bytes()).unwrap();
        assert_eq!(decode_body(b.into(), Some("br"), LIMITS).unwrap(), text.as_bytes());
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        let twice = gzip(&gzip(b"hello"));
        assert_eq!(decode_body(twice.into(), Some("gzip, gzip"), LIMITS).unwrap(), &b"hello"[..]);
        assert_eq!(decode_body("x".into(), Some("identity"), LIMITS).unwrap(), &b"x"[..]);
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let bomb = gzip(&vec![0u8; 4 << 20]);
        assert!(matches!(decode_body(bomb.clone().into(), Some("gzip"), LIMITS), Err(DecodeFailure::Bomb { .. })));
        let ratio_only = DecodeLimits { max_decoded_bytes: u64::MAX, max_ratio: 100 };
        assert!(matches!(decode_body(bomb.into(), Some("gzip"), ratio_only), Err(DecodeFailure::Bomb { .. })));
        assert!(matches!(
            decode_body("not gzip at all".into(), Some("gzip"), LIMITS),
            Err(DecodeFailure::Corrupt { .. })
        ));
        assert!(matches!(decode_body("x".into(), Some("zstd"), LIMITS), Err(DecodeFailure::Unsupported(_))));
    }
}
