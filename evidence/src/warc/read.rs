//! A bounded reader for uncompressed WARC files and a digest re-check.
//!
//! The verifier runs this on bundles it did not make, so every length is
//! checked before it is used, header sections and field counts are capped, and
//! malformed input is an error naming the offset — never a panic.

use sha2::{Digest as _, Sha256};

use super::WarcError;

/// Caps applied while reading.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Bytes of one record's header section (version line to blank line).
    pub max_header_bytes: usize,
    /// Fields in one record's header section.
    pub max_header_fields: usize,
    /// Records in one file.
    pub max_records: usize,
    /// Bytes of an HTTP header section inside a block (to find the payload).
    pub max_http_header_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits {
            max_header_bytes: 64 * 1024,
            max_header_fields: 256,
            max_records: 1_000_000,
            max_http_header_bytes: 1024 * 1024,
        }
    }
}

/// One record: its header fields (in order, names as written) and its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarcRecord<'a> {
    /// Offset of the `WARC/…` line in the file.
    pub offset: u64,
    /// `WARC/1.1` or `WARC/1.0`.
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub block: &'a [u8],
    /// Bytes of the whole record including the trailing CRLF CRLF.
    pub length: u64,
    max_http_header_bytes: usize,
}

impl<'a> WarcRecord<'a> {
    /// The first field with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `WARC-Type`, or "" when absent.
    pub fn record_type(&self) -> &str {
        self.header("WARC-Type").unwrap_or("")
    }

    /// `WARC-Record-ID` without angle brackets, or "" when absent.
    pub fn record_id(&self) -> &str {
        let id = self.header("WARC-Record-ID").unwrap_or("");
        id.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(id)
    }

    /// `WARC-Target-URI` (angle brackets removed), if any.
    pub fn target_uri(&self) -> Option<&str> {
        let t = self.header("WARC-Target-URI")?;
        Some(t.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(t))
    }

    /// Where the payload starts in the block, as warcio decides it: after the
    /// HTTP header section for `request`/`response`/`revisit` records with an
    /// http(s) target and a non-empty block; the whole block otherwise.
    pub fn payload_offset(&self) -> Result<usize, WarcError> {
        let http_kind = matches!(self.record_type(), "request" | "response" | "revisit");
        let http_uri = self.target_uri().is_some_and(|u| u.starts_with("http:") || u.starts_with("https:"));
        if !http_kind || !http_uri || self.block.is_empty() {
            return Ok(0);
        }
        http_header_end(self.block, self.max_http_header_bytes).ok_or_else(|| WarcError::Malformed {
            offset: self.offset,
            reason: format!("record {}: HTTP header section has no end (blank line)", self.record_id()),
        })
    }

    /// The payload bytes (see [`WarcRecord::payload_offset`]).
    pub fn payload(&self) -> Result<&'a [u8], WarcError> {
        let at = self.payload_offset()?;
        Ok(self.block.get(at..).unwrap_or(&[]))
    }

    /// The HTTP status line and header pairs of a request/response block.
    pub fn http_head(&self) -> Result<(String, Vec<(String, String)>), WarcError> {
        let end = self.payload_offset()?;
        let head = String::from_utf8_lossy(self.block.get(..end).unwrap_or(&[]));
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let status = lines.next().unwrap_or("").to_string();
        let headers = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok((status, headers))
    }
}

/// Offset just past the first empty line (`\r\n` or `\n`) of an HTTP message.
fn http_header_end(block: &[u8], limit: usize) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in block.iter().enumerate().take(limit) {
        if b == b'\n' {
            let line = &block[line_start..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() && line_start > 0 {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// Reads every record with the default [`ReadLimits`].
pub fn read_records(bytes: &[u8]) -> Result<Vec<WarcRecord<'_>>, WarcError> {
    read_records_with(bytes, &ReadLimits::default())
}

/// Reads every record of an uncompressed WARC file.
pub fn read_records_with<'a>(bytes: &'a [u8], limits: &ReadLimits) -> Result<Vec<WarcRecord<'a>>, WarcError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        if records.len() >= limits.max_records {
            return Err(WarcError::TooManyRecords { limit: limits.max_records });
        }
        let record = read_one(bytes, pos, limits)?;
        pos = pos.saturating_add(usize::try_from(record.length).unwrap_or(usize::MAX));
        records.push(record);
    }
    Ok(records)
}

fn read_one<'a>(bytes: &'a [u8], start: usize, limits: &ReadLimits) -> Result<WarcRecord<'a>, WarcError> {
    let offset = start as u64;
    let malformed = |reason: String| WarcError::Malformed { offset, reason };
    let rest = bytes.get(start..).unwrap_or(&[]);
    let window = &rest[..rest.len().min(limits.max_header_bytes)];
    let head_end = find(window, b"\r\n\r\n").ok_or_else(|| {
        if rest.len() > limits.max_header_bytes {
            WarcError::HeaderTooLarge { offset, limit: limits.max_header_bytes }
        } else {
            WarcError::Malformed {
                offset,
                reason: "header section has no blank line before the end of the file (truncated?)".into(),
            }
        }
    })?;
    let head =
        std::str::from_utf8(&window[..head_end]).map_err(|_| malformed("header section is not UTF-8".to_string()))?;
    let mut lines = head.split("\r\n");
    let version = lines.next().unwrap_or("");
    if version != "WARC/1.1" && version != "WARC/1.0" {
        let shown: String = version.chars().take(40).collect();
        return Err(malformed(format!("expected `WARC/1.1` or `WARC/1.0`, found `{shown}`")));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // A continuation line (folded field) extends the previous value.
            let last = headers.last_mut().ok_or_else(|| malformed("continuation line before any field".into()))?;
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        if headers.len() >= limits.max_header_fields {
            return Err(WarcError::TooManyFields { offset, limit: limits.max_header_fields });
        }
        let (name, value) =
            line.split_once(':').ok_or_else(|| malformed(format!("field line without `:`: `{}`", short(line))))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(malformed(format!("bad field name `{}`", short(name))));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let length_field = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| malformed("no Content-Length field".into()))?;
    let block_len: u64 = length_field
        .parse()
        .map_err(|_| malformed(format!("Content-Length `{}` is not a number", short(length_field))))?;
    let block_start = head_end + 4;
    let available = (rest.len() - block_start) as u64;
    let needed = block_len.saturating_add(4);
    if needed > available {
        return Err(WarcError::Truncated { offset, needed, available });
    }
    // needed <= available <= usize::MAX, so these conversions are exact.
    let block_end = block_start + block_len as usize;
    let block = &rest[block_start..block_end];
    if &rest[block_end..block_end + 4] != b"\r\n\r\n" {
        return Err(malformed(format!("block of {block_len} bytes is not followed by CRLF CRLF")));
    }
    Ok(WarcRecord {
        offset,
        version: version.to_string(),
        headers,
        block,
        length: (block_end + 4) as u64,
        max_http_header_bytes: limits.max_http_header_bytes,
    })
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Recomputes `WARC-Block-Digest` (required) and `WARC-Payload-Digest` (when
/// present) and names the record if either does not match.
///
/// Digests may be `sha256:` + hex or base32 (any case, padding optional).
pub fn check_digests(record: &WarcRecord<'_>) -> Result<(), WarcError> {
    let block_label = record
        .header("WARC-Block-Digest")
        .ok_or_else(|| WarcError::MissingDigest { record_id: record.record_id().to_string(), offset: record.offset })?;
    compare(record, "WARC-Block-Digest", block_label, record.block)?;
    if let Some(label) = record.header("WARC-Payload-Digest") {
        if record.record_type() != "revisit" {
            compare(record, "WARC-Payload-Digest", label, record.payload()?)?;
        }
    }
    Ok(())
}

fn compare(record: &WarcRecord<'_>, field: &'static str, label: &str, content: &[u8]) -> Result<(), WarcError> {
    let unsupported = || WarcError::UnsupportedDigest {
        record_id: record.record_id().to_string(),
        offset: record.offset,
        field,
        value: short(label),
    };
    let (algo, value) = label.split_once(':').ok_or_else(unsupported)?;
    if !algo.eq_ignore_ascii_case("sha256") {
        return Err(unsupported());
    }
    let expected = decode_sha256(value).ok_or_else(unsupported)?;
    let actual: [u8; 32] = Sha256::digest(content).into();
    if expected != actual {
        return Err(WarcError::DigestMismatch {
            record_id: record.record_id().to_string(),
            offset: record.offset,
            field,
            expected: format!("sha256:{}", hex::encode(expected)),
            actual: format!("sha256:{}", hex::encode(actual)),
        });
    }
    Ok(())
}

/// A SHA-256 value in hex (64 digits) or RFC 4648 base32 (52 digits, or 56 padded).
fn decode_sha256(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if value.len() == 64 {
        hex::decode_to_slice(value, &mut out).ok()?;
        return Some(out);
    }
    let digits = value.trim_end_matches('=');
    if digits.len() != 52 || value.len() > 56 {
        return None;
    }
    let (mut acc, mut bits, mut n) = (0u64, 0u32, 0usize);
    for c in digits.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (n == 32 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_and_hex_digests_decode_to_the_same_value() {
        let d: [u8; 32] = Sha256::digest(b"abc").into();
        let hex = hex::encode(d);
        // RFC 4648 base32 of SHA-256("abc"), as warcio writes it.
        let b32 = "XJ4BNP4PAHH6UQKBIDPF3LRCEOYAGYNDSYLXVHFUCD7WD4QACWWQ====";
        assert_eq!(decode_sha256(&hex), Some(d));
        assert_eq!(decode_sha256(b32), Some(d));
        assert_eq!(decode_sha256(b32.trim_end_matches('=')), Some(d));
        assert_eq!(decode_sha256("XYZ"), None);
    }

    #[test]
    fn http_header_end_finds_the_blank_line() {
        assert_eq!(http_header_end(b"HTTP/1.1 200 \r\nA: b\r\n\r\nbody", 1024), Some(23));
        assert_eq!(http_header_end(b"HTTP/1.1 200 \nA: b\n\nbody", 1024), Some(20));
        assert_eq!(http_header_end(b"HTTP/1.1 200 \r\nA: b\r\n", 1024), None);
    }
}
