//! Planted violations: which listing, shop and operator breaks which rule of
//! issue 4, at what rate, and how the breach shows on the page. This is the
//! only file that decides violations; the generator renders what it says and
//! [`rule_ids`] turns it into the ground truth.
//!
//! # Rates (per mille of the population the rule applies to)
//!
//! | rule id | population | rate ‰ | how it shows |
//! |---|---|---|---|
//! | `ccc.missing` | listings of CCC classes | 80 | no CCC number (includes every `ccc.mark_misleading`) |
//! | `ccc.mark_misleading` | listings of CCC classes | 30 | no number; spec `认证` = `CQC认证` or a bare `3C` |
//! | `ccc.malformed` | listings of CCC classes | 30 | 15 or 17 digits, or a letter `O` among the digits |
//! | `ccc.category_mismatch` | listings of CCC classes | 30 | well-formed number whose catalogue code is another class's (registered 有效) |
//! | `ccc.invalid` | listings of CCC classes | 40 | well-formed, right code, but 暂停/撤销/注销/过期 in the registry, or absent from it |
//! | `ccc.new_category_deadline` | listings of classes with `mandatory_from` | 80 | = `ccc.missing` there (all deadlines are before [`REFERENCE_DATE`]) |
//! | `xk.invalid` | listings of XK classes | 100 | 生产许可证编号 missing (50) or malformed (50) |
//! | `sc.invalid` | listings of food classes | 120 | SC missing (40), malformed (40), or the abolished QS shown instead (40) |
//! | `label.sanwu` | all listings | 50 | 生产厂家 or 厂址 (or both) missing from the spec table |
//! | `ad.absolute_terms` | all listings | 50 | an absolute phrase in the title or the description |
//! | `ad.medical_claims` | listings of classes with `claims_plausible` | 60 | a medical claim in the description |
//! | `price.clearly_low` | all listings | 30 | price 0.12–0.25 × class median (normal: 0.6–1.6 ×) |
//! | `price.fake_was_price` | listings showing an original price (600 ‰ of all) | 80 | original price above the lowest price of the 7-day history |
//! | `licence.missing` | shops | 40 | no 营业执照 block |
//! | `uscc.invalid` | operators (companies) | 50 | the USCC's check character is wrong |
//! | `shop.repeat_offender` | operators | 40 | 不合格 spot checks in 2 or 3 of the years 2023–2025 in the exported history |
//!
//! Conventions the rule engine must share to agree with this truth:
//! - a malformed CCC number is only `ccc.malformed` (not also `ccc.invalid`);
//!   `ccc.invalid` and `ccc.category_mismatch` apply to well-formed numbers only;
//! - shop-level rules (`licence.missing`, `uscc.invalid`, `shop.repeat_offender`) are
//!   listed on every listing of the shop; a shop without a licence block shows no
//!   USCC, so it is neither `uscc.invalid` nor `shop.repeat_offender`;
//! - `shop.repeat_offender` = failures in ≥ 2 distinct years of the 3 years before
//!   [`REFERENCE_DATE`]; near-misses have one recent failure, or failures before 2022;
//! - `price.clearly_low`: any ratio threshold in (0.25, 0.55) of the class median works;
//! - the page's date is [`REFERENCE_DATE`] (the 7-day history ends the day before).
//!
//! Near-misses that must NOT be flagged: "3C数码" in phone-case titles and
//! categories, "第一步"/"最佳使用时间" usage tips ([`NEAR_MISS_LINES`]), every
//! listing with a clean, registered certificate.
//!
//! [`NEAR_MISS_LINES`]: super::catalogue::NEAR_MISS_LINES

use super::catalogue::{ProductClass, Regime};
use super::rng::Rng;

/// The marketplace's "today" (UTC date): what the pages and the registry are as of.
pub const REFERENCE_DATE: &str = "2025-11-20";

/// Advertising absolutes (广告法 第九条(三)); the term a rule should find is in each phrase.
pub(crate) static ABSOLUTE_PHRASES: &[&str] =
    &["全网最佳品质", "国家级品质", "销量第一", "最高级工艺", "顶级用料", "全网最低价", "史上最强"];

/// Medical or guaranteed-effect claims on ordinary goods.
pub(crate) static MEDICAL_CLAIMS: &[&str] = &[
    "可治疗失眠。",
    "消炎杀菌，祛痘祛斑。",
    "长期使用可降血压。",
    "防癌抗癌。",
    "根治湿疹。",
    "增强免疫力，预防感冒。",
];

/// How a CCC-catalogue listing's certification shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CccFlaw {
    Clean,
    Missing,
    /// No number; `认证` says `CQC认证` (`cqc`) or a bare `3C`.
    MarkMisleading {
        cqc: bool,
    },
    Malformed(Malformation),
    /// The number carries this other class's catalogue code.
    Mismatch {
        code: &'static str,
    },
    Invalid(Registration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformation {
    Short,
    Long,
    Letter,
}

/// A certificate's entry in the exported registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registration {
    Valid,
    Suspended,
    Revoked,
    Cancelled,
    Expired,
    /// Not in the registry at all.
    Unknown,
}

impl Registration {
    /// The status word cx.cnca.cn uses; `None` for [`Registration::Unknown`].
    pub(crate) fn status(self) -> Option<&'static str> {
        match self {
            Registration::Valid => Some("有效"),
            Registration::Suspended => Some("暂停"),
            Registration::Revoked => Some("撤销"),
            Registration::Cancelled => Some("注销"),
            Registration::Expired => Some("过期"),
            Registration::Unknown => None,
        }
    }
}

/// An XK or SC licence number's flaw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LicenceFlaw {
    Clean,
    Missing,
    Malformed,
    /// The abolished QS mark instead of an SC number (food only).
    Qs,
}

/// Which maker details a "三无" listing leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sanwu {
    NoName,
    NoAddress,
    Neither,
}

/// Everything planted on one listing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemFlaws {
    pub ccc: CccFlaw,
    pub licence: LicenceFlaw,
    pub sanwu: Option<Sanwu>,
    /// The phrase, and whether it goes in the title (else the description).
    pub absolute: Option<(&'static str, bool)>,
    pub medical: Option<&'static str>,
    pub clearly_low: bool,
    pub shows_original_price: bool,
    pub fake_was_price: bool,
    pub near_miss: bool,
}

impl ItemFlaws {
    /// Draws a listing's flaws. Consumes a fixed number of draws so the rest of
    /// the listing does not shift when rates change.
    pub(crate) fn draw(rng: &mut Rng, class: &ProductClass) -> ItemFlaws {
        let (u_ccc, u_kind, u_lic) = (rng.below(1000), rng.below(1000), rng.below(1000));
        let ccc = match class.regime {
            Regime::Ccc { code, .. } => match u_ccc {
                0..50 => CccFlaw::Missing,
                50..80 => CccFlaw::MarkMisleading { cqc: u_kind.is_multiple_of(2) },
                80..110 => CccFlaw::Malformed(match u_kind % 3 {
                    0 => Malformation::Short,
                    1 => Malformation::Long,
                    _ => Malformation::Letter,
                }),
                110..140 => {
                    let others: Vec<&'static str> = MISMATCH_CODES.iter().copied().filter(|c| *c != code).collect();
                    CccFlaw::Mismatch { code: others[(u_kind as usize) % others.len()] }
                }
                140..180 => CccFlaw::Invalid(match u_kind % 5 {
                    0 => Registration::Suspended,
                    1 => Registration::Revoked,
                    2 => Registration::Cancelled,
                    3 => Registration::Expired,
                    _ => Registration::Unknown,
                }),
                _ => CccFlaw::Clean,
            },
            _ => CccFlaw::Clean,
        };
        let licence = match class.regime {
            Regime::Xk { .. } => match u_lic {
                0..50 => LicenceFlaw::Missing,
                50..100 => LicenceFlaw::Malformed,
                _ => LicenceFlaw::Clean,
            },
            Regime::Sc { .. } => match u_lic {
                0..40 => LicenceFlaw::Missing,
                40..80 => LicenceFlaw::Malformed,
                80..120 => LicenceFlaw::Qs,
                _ => LicenceFlaw::Clean,
            },
            _ => LicenceFlaw::Clean,
        };
        let sanwu = match rng.below(1000) {
            0..20 => Some(Sanwu::NoName),
            20..40 => Some(Sanwu::NoAddress),
            40..50 => Some(Sanwu::Neither),
            _ => None,
        };
        let absolute_draw = rng.below(1000);
        let absolute = (absolute_draw < 50)
            .then(|| (ABSOLUTE_PHRASES[absolute_draw as usize % 7], absolute_draw.is_multiple_of(2)));
        let medical_draw = rng.below(1000);
        let medical = (class.claims_plausible && medical_draw < 60)
            .then(|| MEDICAL_CLAIMS[medical_draw as usize % MEDICAL_CLAIMS.len()]);
        let clearly_low = rng.per_mille(30);
        let shows_original_price = rng.per_mille(600);
        let fake_was_price = rng.per_mille(80) && shows_original_price;
        let near_miss = rng.per_mille(100);
        ItemFlaws {
            ccc,
            licence,
            sanwu,
            absolute,
            medical,
            clearly_low,
            shows_original_price,
            fake_was_price,
            near_miss,
        }
    }
}

/// Catalogue codes used for `ccc.category_mismatch` (only codes of [S] classes).
static MISMATCH_CODES: &[&str] = &["0914", "0807", "0201", "0709", "0707", "0706", "0713"];

/// Shop-level flaw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShopFlaws {
    pub licence_missing: bool,
}

impl ShopFlaws {
    pub(crate) fn draw(rng: &mut Rng) -> ShopFlaws {
        ShopFlaws { licence_missing: rng.per_mille(40) }
    }
}

/// What the exported spot-check history says about an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum History {
    None,
    /// Checked and passed.
    Passed,
    /// One failure in the window: a near-miss.
    OneRecentFailure,
    /// Failures only before the window: a near-miss.
    OldFailures,
    /// Failures in 2 or 3 of the window's years: `shop.repeat_offender`.
    Repeat {
        years: u8,
    },
}

/// Operator-level flaws (an operator is the company behind one or more shops).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OperatorFlaws {
    pub uscc_invalid: bool,
    pub history: History,
}

impl OperatorFlaws {
    pub(crate) fn draw(rng: &mut Rng) -> OperatorFlaws {
        let uscc_invalid = rng.per_mille(50);
        let u = rng.below(1000);
        // Repeat offenders have valid USCCs, so the two rules never mask each other.
        let history = match u {
            0..40 if !uscc_invalid => History::Repeat { years: 2 + (u % 2) as u8 },
            40..100 => History::OneRecentFailure,
            100..140 => History::OldFailures,
            140..300 => History::Passed,
            _ => History::None,
        };
        OperatorFlaws { uscc_invalid, history }
    }
}

/// The price in fen: normal 0.6–1.6 × the class median, clearly low 0.12–0.25 ×,
/// rounded to whole yuan, sometimes minus 0.10.
pub(crate) fn price_fen(rng: &mut Rng, class: &ProductClass, clearly_low: bool) -> u64 {
    let per_mille = if clearly_low { rng.range(120, 250) } else { rng.range(600, 1600) };
    let raw = class.median_fen * per_mille / 1000;
    let whole = (raw / 100).max(1) * 100;
    if rng.per_mille(400) {
        whole - 10
    } else {
        whole
    }
}

/// The struck-through original price: 1.2–1.8 × the price, in whole yuan.
pub(crate) fn original_price_fen(rng: &mut Rng, price: u64) -> u64 {
    (price * rng.range(1200, 1800) / 1000 / 100).max(price / 100 + 1) * 100
}

/// The prices of the 7 days before [`REFERENCE_DATE`], oldest first.
///
/// Honest: every day at or above the original price (or the price, when no
/// original is shown). Fake was-price: every day at the current price, which
/// is below the original.
pub(crate) fn price_history(rng: &mut Rng, price: u64, original: Option<u64>, fake: bool) -> [u64; 7] {
    let mut days = [0u64; 7];
    for day in &mut days {
        *day = match (original, fake) {
            (Some(_), true) => price,
            (Some(was), false) => was + rng.below(3) * 500,
            (None, _) => price + rng.below(3) * 100,
        };
    }
    days
}

/// The rule ids a listing breaks, in a fixed order.
pub(crate) fn rule_ids(
    class: &ProductClass,
    item: &ItemFlaws,
    shop: &ShopFlaws,
    operator: &OperatorFlaws,
) -> Vec<&'static str> {
    let mut ids = Vec::new();
    let new_category = matches!(class.regime, Regime::Ccc { mandatory_from: Some(from), .. } if from <= REFERENCE_DATE);
    match item.ccc {
        CccFlaw::Clean => {}
        CccFlaw::Missing | CccFlaw::MarkMisleading { .. } => {
            ids.push("ccc.missing");
            if matches!(item.ccc, CccFlaw::MarkMisleading { .. }) {
                ids.push("ccc.mark_misleading");
            }
            if new_category {
                ids.push("ccc.new_category_deadline");
            }
        }
        CccFlaw::Malformed(_) => ids.push("ccc.malformed"),
        CccFlaw::Mismatch { .. } => ids.push("ccc.category_mismatch"),
        CccFlaw::Invalid(_) => ids.push("ccc.invalid"),
    }
    if item.licence != LicenceFlaw::Clean {
        ids.push(if matches!(class.regime, Regime::Xk { .. }) { "xk.invalid" } else { "sc.invalid" });
    }
    if item.sanwu.is_some() {
        ids.push("label.sanwu");
    }
    if item.absolute.is_some() {
        ids.push("ad.absolute_terms");
    }
    if item.medical.is_some() {
        ids.push("ad.medical_claims");
    }
    if item.clearly_low {
        ids.push("price.clearly_low");
    }
    if item.fake_was_price {
        ids.push("price.fake_was_price");
    }
    if shop.licence_missing {
        ids.push("licence.missing");
    } else {
        if operator.uscc_invalid {
            ids.push("uscc.invalid");
        }
        if matches!(operator.history, History::Repeat { .. }) {
            ids.push("shop.repeat_offender");
        }
    }
    ids
}

/// Every rule id the marketplace plants, for tests and reports.
pub const PLANTED_RULES: &[&str] = &[
    "ccc.missing",
    "ccc.malformed",
    "ccc.category_mismatch",
    "ccc.invalid",
    "ccc.mark_misleading",
    "ccc.new_category_deadline",
    "uscc.invalid",
    "licence.missing",
    "xk.invalid",
    "sc.invalid",
    "label.sanwu",
    "ad.absolute_terms",
    "ad.medical_claims",
    "price.clearly_low",
    "price.fake_was_price",
    "shop.repeat_offender",
];

/// Substrings that clean generated text must never contain.
#[cfg(test)]
pub(crate) static FORBIDDEN_IN_CLEAN_TEXT: &[&str] = &[
    "最",
    "第一",
    "顶级",
    "国家级",
    "极",
    "首",
    "唯一",
    "独家",
    "绝对",
    "永久",
    "万能",
    "全网",
    "世界",
    "冠军",
    "领先",
    "100%",
    "治",
    "疗",
    "药",
    "癌",
    "炎",
    "菌",
    "免疫",
    "血压",
    "湿疹",
    "医",
    "CQC",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::catalogue::{CLASSES, GENERIC_LINES, NAME_PARTS, STREETS};

    #[test]
    fn clean_pools_hold_no_red_flag_words() {
        let mut pools: Vec<&str> = GENERIC_LINES.iter().chain(NAME_PARTS).chain(STREETS).copied().collect();
        for class in CLASSES {
            pools.extend([class.name, class.category, class.standard, class.maker_kind]);
            for list in [class.brands, class.nouns, class.variants, class.points] {
                pools.extend(list.iter().copied());
            }
        }
        for text in pools {
            for bad in FORBIDDEN_IN_CLEAN_TEXT {
                assert!(!text.contains(bad), "`{text}` contains `{bad}`");
            }
        }
    }

    #[test]
    fn planted_phrases_are_red_flags() {
        assert!(ABSOLUTE_PHRASES.iter().all(|p| FORBIDDEN_IN_CLEAN_TEXT.iter().any(|w| p.contains(w))));
        assert!(MEDICAL_CLAIMS.iter().all(|p| FORBIDDEN_IN_CLEAN_TEXT.iter().any(|w| p.contains(w))));
    }

    #[test]
    fn price_bands_leave_a_gap() {
        let class = &CLASSES[0];
        let mut rng = Rng::new(1, crate::market::rng::Stream::Item, 0);
        for _ in 0..5000 {
            let low = price_fen(&mut rng, class, true);
            let normal = price_fen(&mut rng, class, false);
            assert!(low * 1000 <= class.median_fen * 250, "{low}");
            assert!(normal * 1000 >= class.median_fen * 590, "{normal}");
        }
    }

    #[test]
    fn honest_history_never_undercuts_the_original_price() {
        let mut rng = Rng::new(1, crate::market::rng::Stream::Item, 1);
        let honest = price_history(&mut rng, 1000, Some(1500), false);
        assert!(honest.iter().all(|&p| p >= 1500));
        let fake = price_history(&mut rng, 1000, Some(1500), true);
        assert!(fake.iter().any(|&p| p < 1500));
    }
}
