//! Turning a decoded body into text: byte-order mark, then the Content-Type
//! `charset`, then a `<meta charset>` / `<meta http-equiv>` near the top of
//! the page, then UTF-8. GBK and GB18030 are common on Chinese sites.
//! Decoding is lossy: bad bytes become U+FFFD, never an error.

use encoding_rs::{Encoding, UTF_8};

/// How far into the body to look for a `<meta>` charset declaration. The HTML
/// spec says 1024 bytes; Chinese pages often put long scripts first.
const META_SNIFF_BYTES: usize = 4096;

/// Decodes `body` to a string using the best charset information available.
pub fn decode_text(body: &[u8], content_type: Option<&str>) -> String {
    let encoding = Encoding::for_bom(body)
        .map(|(e, _)| e)
        .or_else(|| content_type.and_then(charset_param).and_then(|l| Encoding::for_label(l.as_bytes())))
        .or_else(|| meta_charset(body))
        .unwrap_or(UTF_8);
    // `decode` strips a BOM of the chosen encoding and replaces bad sequences.
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// The `charset` parameter of a Content-Type value, unquoted.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}

/// The first `charset=` in the head of the page (covers both
/// `<meta charset="gbk">` and `<meta http-equiv=Content-Type content="text/html; charset=gbk">`).
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = &body[..body.len().min(META_SNIFF_BYTES)];
    let lower = head.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = find(&lower[from..], b"charset") {
        let mut j = from + i + b"charset".len();
        from = j;
        while lower.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
            j += 1;
        }
        if lower.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while lower.get(j).is_some_and(|c| c.is_ascii_whitespace() || *c == b'"' || *c == b'\'') {
            j += 1;
        }
        let end = lower[j..]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':')))
            .map_or(lower.len(), |p| j + p);
        if let Some(e) = Encoding::for_label(&lower[j..end]) {
            // A page that claims UTF-16 in ASCII-compatible bytes is really UTF-8 (HTML spec).
            return Some(if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE { UTF_8 } else { e });
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn content_type_charset_wins_over_meta() {
        let (gbk, _, _) = encoding_rs::GBK.encode("充电宝");
        assert_eq!(decode_text(&gbk, Some("text/html; charset=\"GBK\"")), "充电宝");
    }

    #[test]
    fn meta_charset_is_found_in_both_forms() {
        let (gbk, _, _) = encoding_rs::GBK.encode("<meta charset=gbk><p>品牌：小米</p>");
        assert!(decode_text(&gbk, Some("text/html")).contains("品牌：小米"));
        let page = "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"><p>型号</p>";
        let (bytes, _, _) = encoding_rs::GB18030.encode(page);
        assert!(decode_text(&bytes, None).contains("型号"));
    }

    #[test]
    fn default_is_lossy_utf8_and_bom_is_honoured() {
        assert_eq!(decode_text(b"ok \xff", None), "ok \u{fffd}");
        assert_eq!(decode_text(b"\xef\xbb\xbfhi", Some("text/html; charset=gbk")), "hi");
    }
}
