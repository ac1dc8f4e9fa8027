//! Identifier checkers: 统一社会信用代码 (USCC, GB 32100-2015), CCC certificate
//! numbers (16 digits), production-licence (XK) and food-licence (SC) numbers.
//!
//! Facts and their certainty are in `/work/shared/domain-facts.md`:
//! - USCC [S]: dept(1) + category(1) + area(6, GB/T 2260) + organisation code(9, GB 11714) +
//!   check(1); charset `0123456789ABCDEFGHJKLMNPQRTUWXY`; weights 3^i mod 31;
//!   check = charset[(31 − Σ mod 31) mod 31] (as dromara/hutool `CreditCodeUtil`).
//! - CCC number [S]: year(4) + certification body(2, `01` = CQC) + catalogue code(4) + serial(6).
//! - XK [S]: national `XK##-###-#####`, provincial `(鄂)XK12-001-00018`.
//! - SC [S]: `SC` + 14 digits = kind(1) + food category(2, 01–31) + area(6) + serial(4) + check(1);
//!   the check digit's algorithm is unpublished, so it is not checked.

/// GB 32100-2015 character set (no I, O, S, V, Z).
pub const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// 3^i mod 31 for positions 1..=17.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a USCC is not valid (`None` from [`uscc_problem`] means valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsccProblem {
    Length,
    Charset,
    CheckCharacter,
    /// The area code's province prefix is not a GB/T 2260 province.
    Area,
}

impl UsccProblem {
    pub fn describe(self) -> &'static str {
        match self {
            UsccProblem::Length => "not 18 characters",
            UsccProblem::Charset => "a character outside the GB 32100 set",
            UsccProblem::CheckCharacter => "wrong check character",
            UsccProblem::Area => "unknown province in the area code",
        }
    }
}

/// The check character for the first 17 characters, or `None` if they are not 17 charset characters.
pub fn uscc_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (byte, weight) in first17.iter().zip(USCC_WEIGHTS) {
        sum += charset_value(*byte)? * weight;
    }
    Some(USCC_CHARSET[((31 - sum % 31) % 31) as usize])
}

fn charset_value(byte: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|c| *c == byte).map(|p| p as u32)
}

/// What is wrong with `code` as a USCC; `provinces` are the 2-digit GB/T 2260
/// province codes (empty: the area is not checked).
pub fn uscc_problem(code: &str, provinces: &[String]) -> Option<UsccProblem> {
    let bytes = code.trim().as_bytes();
    if bytes.len() != 18 {
        return Some(UsccProblem::Length);
    }
    if bytes.iter().any(|b| charset_value(*b).is_none()) {
        return Some(UsccProblem::Charset);
    }
    if uscc_check_char(&bytes[..17]) != Some(bytes[17]) {
        return Some(UsccProblem::CheckCharacter);
    }
    let province = &bytes[2..4];
    if !provinces.is_empty() && !provinces.iter().any(|p| p.as_bytes() == province) {
        return Some(UsccProblem::Area);
    }
    None
}

/// The parts of a well-formed CCC certificate number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CccNumber<'a> {
    pub year: u32,
    pub body: &'a str,
    pub catalogue_code: &'a str,
    pub serial: &'a str,
}

/// Splits a CCC number; `None` when it is not 16 ASCII digits with a year in
/// 2002 (the first CCC certificates) ..= `max_year`.
pub fn parse_ccc(number: &str, max_year: u32) -> Option<CccNumber<'_>> {
    let n = number.trim();
    if n.len() != 16 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: u32 = n[..4].parse().ok()?;
    if !(2002..=max_year).contains(&year) || &n[4..6] == "00" {
        return None;
    }
    Some(CccNumber { year, body: &n[4..6], catalogue_code: &n[6..10], serial: &n[10..] })
}

/// Whether `number` is a well-formed XK production-licence number (national or provincial form).
pub fn xk_is_well_formed(number: &str) -> bool {
    let n = number.trim();
    // Optional provincial prefix: one CJK character in ASCII or full-width brackets.
    let rest = strip_province_prefix(n);
    let b = rest.as_bytes();
    b.len() == 14
        && b.starts_with(b"XK")
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..].iter().all(u8::is_ascii_digit)
}

fn strip_province_prefix(n: &str) -> &str {
    for (open, close) in [('(', ')'), ('（', '）')] {
        if let Some(inner) = n.strip_prefix(open) {
            let mut chars = inner.chars();
            if let (Some(c), Some(cl)) = (chars.next(), chars.next()) {
                if cl == close && !c.is_ascii() {
                    return chars.as_str();
                }
            }
        }
    }
    n
}

/// Whether `number` is a well-formed SC food-production licence: `SC` + 14 digits,
/// food category 01–31, a known province (when `provinces` is not empty).
pub fn sc_is_well_formed(number: &str, provinces: &[String]) -> bool {
    let n = number.trim();
    let b = n.as_bytes();
    if b.len() != 16 || !b.starts_with(b"SC") || !b[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let category: u32 = n[3..5].parse().unwrap_or(0);
    let province_ok = provinces.is_empty() || provinces.iter().any(|p| p.as_bytes() == &b[5..7]);
    (1..=31).contains(&category) && province_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: [&str; 5] =
        ["91330100716105852F", "9144030071526726XG", "914403001922038216", "91110000802100433B", "91350200MA2YJ1XR9G"];

    fn provinces() -> Vec<String> {
        ["11", "31", "32", "33", "35", "37", "42", "44", "51"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn domain_facts_examples_are_valid() {
        for code in VALID {
            assert_eq!(uscc_problem(code, &provinces()), None, "{code}");
        }
        assert_eq!(uscc_problem("91330100716105852", &[]), Some(UsccProblem::Length));
        assert_eq!(uscc_problem("9133010071610585IF", &[]), Some(UsccProblem::Charset));
        assert_eq!(uscc_problem("91330100716105852G", &[]), Some(UsccProblem::CheckCharacter));
    }

    #[test]
    fn ccc_examples() {
        let n = parse_ccc("2016010706840003", 2025).map(|c| c.catalogue_code);
        assert_eq!(n, Some("0706"));
        assert!(parse_ccc("201601070684000", 2025).is_none());
        assert!(parse_ccc("2016O10706840003", 2025).is_none());
        assert!(parse_ccc("20160107068400031", 2025).is_none());
        assert!(parse_ccc("1999010706840003", 2025).is_none());
    }

    #[test]
    fn xk_and_sc_examples() {
        assert!(xk_is_well_formed("XK16-204-01234"));
        assert!(xk_is_well_formed("(鄂)XK12-001-00018"));
        assert!(xk_is_well_formed("（鄂）XK12-001-00018"));
        assert!(!xk_is_well_formed("XK16-204-0123"));
        assert!(sc_is_well_formed("SC11244030512345", &provinces()));
        assert!(!sc_is_well_formed("SC1124403051234", &provinces()));
        assert!(!sc_is_well_formed("SC13244030512345", &provinces()), "category 32");
    }

    proptest! {
        #[test]
        fn uscc_with_its_check_char_is_valid_and_any_other_is_not(body in "[0-9A-HJ-NP-RTUW-Y]{17}", other in 0usize..31) {
            let check = uscc_check_char(body.as_bytes()).unwrap_or(b'?');
            let good = format!("{body}{}", check as char);
            prop_assert_eq!(uscc_problem(&good, &[]), None);
            let wrong = USCC_CHARSET[other];
            prop_assume!(wrong != check);
            let bad = format!("{body}{}", wrong as char);
            prop_assert_eq!(uscc_problem(&bad, &[]), Some(UsccProblem::CheckCharacter));
        }

        #[test]
        fn uscc_single_substitution_is_caught(body in "[0-9A-HJ-NP-RTUW-Y]{17}", pos in 0usize..17, delta in 1usize..31) {
            let check = uscc_check_char(body.as_bytes()).unwrap_or(b'?');
            let mut bytes = body.into_bytes();
            let v = charset_value(bytes[pos]).unwrap_or(0) as usize;
            bytes[pos] = USCC_CHARSET[(v + delta) % 31];
            bytes.push(check);
            let changed = String::from_utf8(bytes).unwrap_or_default();
            prop_assert_eq!(uscc_problem(&changed, &[]), Some(UsccProblem::CheckCharacter));
        }

        #[test]
        fn ccc_parse_roundtrips(year in 2002u32..=2025, body in 1u32..100, code in "[0-9]{4}", serial in 0u32..1_000_000) {
            let n = format!("{year:04}{body:02}{code}{serial:06}");
            let parsed = parse_ccc(&n, 2025);
            prop_assert!(parsed.is_some());
            let p = parsed.unwrap_or(CccNumber { year: 0, body: "", catalogue_code: "", serial: "" });
            prop_assert_eq!(p.catalogue_code, code.as_str());
            prop_assert_eq!(p.year, year);
        }

        #[test]
        fn ccc_wrong_length_or_letters_are_rejected(s in "[0-9O]{10,20}") {
            let ok = s.len() == 16 && !s.contains('O');
            if !ok {
                prop_assert!(parse_ccc(&s, 2100).is_none());
            }
        }

        #[test]
        fn checkers_never_panic(s in "\\PC{0,40}") {
            let _ = uscc_problem(&s, &provinces());
            let _ = parse_ccc(&s, 2025);
            let _ = xk_is_well_formed(&s);
            let _ = sc_is_well_formed(&s, &provinces());
        }
    }
}
