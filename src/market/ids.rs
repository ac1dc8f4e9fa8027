//! Identifier formats the marketplace prints: the 统一社会信用代码 (USCC), CCC
//! certificate numbers, production-licence (XK) and food-licence (SC/QS) numbers.
//!
//! Sources are in `/work/shared/domain-facts.md` (GB 32100-2015 for the USCC,
//! GB 11714 for the organisation code inside it, the 16-digit CCC layout).

use super::rng::Rng;

/// GB 32100-2015 character set (no I, O, S, V, Z).
pub const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100-2015 weights: 3^i mod 31 for positions 1..=17.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// The check character (18th) for the first 17 characters of a USCC, or `None`
/// when the input is not 17 characters of the GB 32100 set.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (byte, weight) in bytes.iter().zip(USCC_WEIGHTS) {
        let value = USCC_CHARSET.iter().position(|c| c == byte)? as u32;
        sum += value * weight;
    }
    Some(USCC_CHARSET[((31 - sum % 31) % 31) as usize] as char)
}

/// Whether `code` is an 18-character USCC whose check character is right.
pub fn uscc_is_valid(code: &str) -> bool {
    code.len() == 18 && code.is_char_boundary(17) && uscc_check_char(&code[..17]).is_some_and(|c| code.ends_with(c))
}

/// GB 11714 check character for an 8-digit organisation-code body
/// (weights 3,7,9,10,5,8,4,2; 10 → `X`, 11 → `0`).
fn org_code_check(body: &[u8; 8]) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).unwrap_or('0'),
    }
}

/// A company USCC registered in `area` (GB/T 2260, 6 digits): `91` (enterprise,
/// company) + area + a GB 11714 organisation code + the check character.
/// With `valid == false` the check character is deliberately wrong.
pub(crate) fn make_uscc(rng: &mut Rng, area: &str, valid: bool) -> String {
    let mut body = [0u8; 8];
    for b in &mut body {
        *b = b'0' + rng.below(10) as u8;
    }
    let mut code = String::with_capacity(18);
    code.push_str("91");
    code.push_str(area);
    code.extend(body.iter().map(|&b| b as char));
    code.push(org_code_check(&body));
    let right = uscc_check_char(&code).unwrap_or('0');
    if valid {
        code.push(right);
    } else {
        let wrong = USCC_CHARSET
            [(USCC_CHARSET.iter().position(|&c| c as char == right).unwrap_or(0) + 1 + rng.below(29) as usize) % 31];
        code.push(wrong as char);
    }
    code
}

/// A CCC certificate number: year(4) + body(2, `01` = CQC) + catalogue code(4) + serial(6).
pub(crate) fn ccc_number(year: u64, catalogue_code: &str, serial: u64) -> String {
    format!("{year:04}01{catalogue_code}{:06}", serial % 1_000_000)
}

/// Whether `number` has the 16-digit CCC layout (the shape the `ccc.malformed` rule checks).
pub fn ccc_is_well_formed(number: &str) -> bool {
    number.len() == 16 && number.bytes().all(|b| b.is_ascii_digit())
}

/// A national production-licence number `XK##-###-#####`.
pub(crate) fn xk_number(prefix: &str, serial: u64) -> String {
    format!("{prefix}-{:05}", serial % 100_000)
}

/// An SC food-production licence: `SC` + kind(1) + food category(2) + area(6) + serial(4) + check(1).
/// The check digit's algorithm is unpublished, so any digit is accepted by the rules.
pub(crate) fn sc_number(category: &str, area: &str, rng: &mut Rng) -> String {
    format!("SC1{category}{area}{:04}{}", rng.below(10_000), rng.below(10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::rng::Stream;

    /// The valid examples listed in domain-facts.md (GB 32100-2015).
    const VALID: [&str; 5] =
        ["91330100716105852F", "9144030071526726XG", "914403001922038216", "91110000802100433B", "91350200MA2YJ1XR9G"];

    #[test]
    fn uscc_examples_from_domain_facts_are_valid() {
        for code in VALID {
            assert!(uscc_is_valid(code), "{code}");
        }
    }

    #[test]
    fn uscc_with_a_changed_check_char_is_invalid() {
        for code in VALID {
            let last = code.as_bytes()[17];
            let other = if last == b'0' { '1' } else { '0' };
            let bad = format!("{}{other}", &code[..17]);
            assert!(!uscc_is_valid(&bad), "{bad}");
        }
        assert!(!uscc_is_valid("91330100716105852"));
        assert!(!uscc_is_valid("9133010071610585IF"), "I is outside the charset");
    }

    #[test]
    fn generated_usccs_check_as_intended() {
        let mut rng = Rng::new(1, Stream::Operator, 0);
        for _ in 0..500 {
            let good = make_uscc(&mut rng, "440305", true);
            let bad = make_uscc(&mut rng, "440305", false);
            assert!(uscc_is_valid(&good), "{good}");
            assert!(!uscc_is_valid(&bad), "{bad}");
            assert_eq!(&good[2..8], "440305");
        }
    }

    #[test]
    fn org_code_check_matches_known_example() {
        // 91330100716105852F: organisation code 71610585-2.
        assert_eq!(org_code_check(b"71610585"), '2');
    }

    #[test]
    fn ccc_numbers_have_the_documented_layout() {
        let n = ccc_number(2016, "0706", 840_003);
        assert_eq!(n, "2016010706840003", "the water-heater example in domain-facts.md");
        assert!(ccc_is_well_formed(&n));
        assert!(!ccc_is_well_formed("201601070684000"));
        assert!(!ccc_is_well_formed("2016010706840O03"));
    }
}
