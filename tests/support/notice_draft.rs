//! The notice draft the notice-store and API tests issue (shared by both).

use chrono::{TimeZone, Utc};
use spotcheck::notices::{NoticeDraft, NoticeFinding, NoticeListing, NoticeShop};

/// Draft number `i` for `platform`: unique per (platform, i).
pub fn draft(platform: &str, i: usize) -> NoticeDraft {
    NoticeDraft {
        case_id: format!("C{i:05}"),
        platform: platform.into(),
        listings: vec![NoticeListing { url: format!("https://{platform}.example/item/{i}"), item_id: i.to_string() }],
        shop: NoticeShop { name: "某某电器专营店".into(), uscc: Some("91330000MA27XXXX1X".into()) },
        findings: vec![NoticeFinding { rule_id: "ccc-missing".into(), message: "未标注CCC认证".into() }],
        legal_basis: "《产品质量法》第二十七条".into(),
        authority: "某市市场监督管理局".into(),
        deadline: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        contest: "自收到通知之日起十五日内向本局书面提出异议".into(),
        evidence_sha256: "ab".repeat(32),
    }
}
