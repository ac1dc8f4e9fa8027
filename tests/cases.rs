//! Triage, routing (属地) and merging (并案) on the sample marketplace: each
//! test runs the real `spotcheck demo` (crawl, flag, seal) into a temporary
//! data directory and works on what it stored, in process and through the
//! real binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, Utc};
use spotcheck::cases::{merge, Basis, CaseError, MergeReason, RoutingTable, Subject, Triage};
use spotcheck::config::{DataDir, Identity};
use spotcheck::findings::{Change, Status, TriageError};
use spotcheck::model::Shop;
use spotcheck::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_spotcheck");

#[path = "support/open_demo.rs"]
mod open_demo;
use open_demo::open_findings_demo as demo;

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
        .args(["--data-dir", data.to_str().unwrap(), "--operator", "王伟", "--operator", "李娜"])
        .args(args)
        .output()
        .unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn window() -> Duration {
    merge::window_days(merge::DEFAULT_WINDOW_DAYS)
}

/// Every stored finding's subject (listing, shop, routing, merge keys), by shop.
fn subjects_by_shop(t: &Triage) -> BTreeMap<String, Vec<Subject>> {
    let mut by_shop: BTreeMap<String, Vec<Subject>> = BTreeMap::new();
    for record in t.findings.all() {
        let s = t.subject(&record.unwrap().id, Utc::now()).unwrap();
        by_shop.entry(s.shop_key.clone().unwrap()).or_default().push(s);
    }
    by_shop
}

#[test]
fn routing_takes_the_address_then_the_uscc_then_the_default_bureau() {
    let (_dir, data) = demo();
    let store = Store::open(&data.join("db")).unwrap();
    let table = RoutingTable::builtin().unwrap();
    let shops: Vec<Shop> = store.latest_shops().collect::<Result<_, _>>().unwrap();
    assert!(shops.len() >= 5, "{} shops", shops.len());
    for shop in &shops {
        // Every sample shop's address names a known district with its own bureau.
        let r = table.route(shop);
        assert_eq!(r.basis, Basis::Address, "{}: {}", shop.key(), r.reason);
        let area = r.area_code.clone().unwrap();
        assert_eq!(area.len(), 6, "{}: {area}", shop.key());
        assert!(area.starts_with(&r.bureau.code) && r.bureau.code.len() >= 4, "{}: {:?}", shop.key(), r.bureau);
    }
    let shop = &shops[0];
    let registered = spotcheck::cases::routing::uscc_area(shop.uscc.as_deref().unwrap()).unwrap().to_string();

    // The operating address beats the place of registration.
    let elsewhere = if registered == "330106" {
        "北京市朝阳区建国路1号"
    } else {
        "浙江省杭州市西湖区文三路1号"
    };
    let moved = Shop { address: Some(elsewhere.into()), ..shop.clone() };
    let r = table.route(&moved);
    assert_eq!(r.basis, Basis::Address);
    assert_ne!(r.area_code.as_deref(), Some(registered.as_str()));
    assert!(elsewhere.contains(&r.matched.join("")), "{:?}", r.matched);

    // An address naming no known place: the USCC's area code decides.
    let vague = Shop { address: Some("中山路88号3栋".into()), ..shop.clone() };
    let r = table.route(&vague);
    assert_eq!(r.basis, Basis::Uscc, "{}", r.reason);
    assert_eq!(r.area_code.as_deref(), Some(registered.as_str()));
    assert!(registered.starts_with(&r.bureau.code));

    // Neither: the default bureau.
    let unknown = Shop { address: None, uscc: Some("not a uscc".into()), ..shop.clone() };
    let r = table.route(&unknown);
    assert_eq!((r.basis, &r.bureau), (Basis::Default, table.default_bureau()));
}

#[test]
fn confirmed_findings_merge_by_shop_and_product_within_the_window() {
    let (_dir, data) = demo();
    let store = Store::open(&data.join("db")).unwrap();
    let t = Triage::open(&store, RoutingTable::builtin().unwrap(), window()).unwrap();
    let by_shop = subjects_by_shop(&t);
    let now = Utc::now();

    // Two findings of one shop: one case, the second joined as the same operator.
    let (shop_a, a) = by_shop.iter().find(|(_, v)| v.len() >= 3).expect("a shop with three findings");
    let first = t.confirm(&a[0].finding.id, "tester", "", now).unwrap();
    assert!(first.case.opened);
    let second = t.confirm(&a[1].finding.id, "tester", "", now).unwrap();
    assert!(!second.case.opened);
    assert_eq!(second.case.case, first.case.case);
    let uscc = a[0].keys.uscc.clone().unwrap();
    assert_eq!(second.case.reason, Some(MergeReason::SameUscc(uscc.clone())));
    let case = t.cases.get(&first.case.case).unwrap().unwrap();
    assert_eq!((case.findings.len(), case.shops.len(), case.merges.len()), (2, 1, 1));
    assert_eq!(case.routing.basis, Basis::Address);
    let stored_shop = case.shops[0].shop.as_ref().unwrap();
    assert_eq!(stored_shop.region_code, case.routing.area_code, "region code filled from routing");

    // Two shops selling the same product (brand + model, spelled differently):
    // the sample market gives every listing its own model, so the second
    // listing's model is set to the first's in another spelling.
    let (shop_b, b) = by_shop
        .iter()
        .find(|(k, v)| *k != shop_a && v[0].keys.uscc.as_ref() != Some(&uscc))
        .expect("a second operator with findings");
    let (shop_c, c) = by_shop
        .iter()
        .find(|(k, v)| {
            *k != shop_a && *k != shop_b && v[0].keys.uscc != b[0].keys.uscc && v[0].keys.uscc.as_ref() != Some(&uscc)
        })
        .expect("a third operator with findings");
    let listing_b = store
        .listing_versions(shop_b.split('/').next().unwrap(), b[0].finding.listing.split_once('/').unwrap().1)
        .unwrap()
        .pop()
        .unwrap();
    let (brand, model) = (listing_b.brand.clone().unwrap(), listing_b.model.clone().unwrap());
    let product = merge::product_key(Some(&format!(" {} ", brand)), Some(&model.to_lowercase().replace('-', " ")));
    assert_eq!(product, b[0].keys.product, "normalised spellings agree");
    t.findings.set_status(&b[0].finding.id, Status::Confirmed, "tester", "", now).unwrap();
    let opened = t.cases.assign(&b[0], "tester", now, window()).unwrap();
    assert!(opened.opened);
    let mut same_product = c[0].clone();
    same_product.keys.product = product.clone();
    same_product.finding.product = product.clone();
    t.findings.set_status(&c[0].finding.id, Status::Confirmed, "tester", "", now).unwrap();
    let joined = t.cases.assign(&same_product, "tester", now, window()).unwrap();
    assert_eq!(joined.case, opened.case, "{shop_c} joined {shop_b}'s case");
    assert_eq!(joined.reason, Some(MergeReason::SameProduct(product.unwrap())));
    let case = t.cases.get(&opened.case).unwrap().unwrap();
    assert_eq!(case.shops.len(), 2);
    assert_eq!(case.merges[0].finding, c[0].finding.id);

    // The same shop again, but after the window: a new case.
    let late = now + window() + Duration::days(1);
    let third = t.confirm(&a[2].finding.id, "tester", "", late).unwrap();
    assert!(third.case.opened, "{:?}", third.case);
    assert_ne!(third.case.case, first.case.case);

    let station = spotcheck::sealing::Station::open(&DataDir::new(&data), &store, &Identity::default()).unwrap();
    station.verify_ledger().unwrap();
}

#[test]
fn triage_needs_reasons_counts_false_positives_and_keeps_the_ledger_verifiable() {
    let (_dir, data) = demo();
    let store = Store::open(&data.join("db")).unwrap();
    let t = Triage::open(&store, RoutingTable::builtin().unwrap(), window()).unwrap();
    let records: Vec<_> = t.findings.all().collect::<Result<_, _>>().unwrap();
    let mut by_rule: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &records {
        by_rule.entry(r.rule.clone()).or_default().push(r.id.clone());
    }
    let (rule, ids) = by_rule.iter().find(|(_, v)| v.len() >= 2).expect("a rule with two findings");
    let rate = |t: &Triage| t.findings.rule_stats().unwrap().into_iter().find(|r| &r.rule == rule).unwrap();
    assert_eq!(rate(&t).false_positive_rate, None);

    // A dismissal needs a reason.
    let e = t.dismiss(&ids[0], "tester", "  ", Utc::now()).unwrap_err();
    assert!(matches!(e, CaseError::Triage(TriageError::NoReason(_))), "{e}");
    assert!(e.to_string().contains(&ids[0]), "{e}");
    assert_eq!(t.findings.triage(&ids[0]).unwrap().status, Status::Open);
    let sealed_before = t.findings.get(&ids[0]).unwrap();

    assert_eq!(
        t.dismiss(&ids[0], "tester", "the product is not in the catalogue", Utc::now()).unwrap(),
        Change::Changed
    );
    let after = rate(&t);
    assert_eq!((after.dismissed, after.false_positive_rate), (1, Some(1.0)));
    assert_eq!(t.findings.get(&ids[0]).unwrap(), sealed_before, "the sealed record never changes");
    let triage = t.findings.triage(&ids[0]).unwrap();
    assert_eq!(triage.history[0].reason, "the product is not in the catalogue");

    // Confirming is idempotent: the second time writes nothing.
    let ledger_before = store.ledger().len().unwrap();
    let first = t.confirm(&ids[1], "tester", "seen on the page", Utc::now()).unwrap();
    assert_eq!(first.change, Change::Changed);
    let ledger_after_first = store.ledger().len().unwrap();
    assert_eq!(ledger_after_first, ledger_before + 2, "one status event, one case event");
    let again = t.confirm(&ids[1], "tester", "seen on the page", Utc::now()).unwrap();
    assert_eq!(again.change, Change::Unchanged);
    assert!(again.case.already);
    assert_eq!(again.case.case, first.case.case);
    assert_eq!(store.ledger().len().unwrap(), ledger_after_first);
    assert_eq!(rate(&t).false_positive_rate, Some(0.5));

    // A finding in a case cannot be dismissed; an unknown one is named.
    assert!(matches!(t.dismiss(&ids[1], "tester", "x", Utc::now()), Err(CaseError::InCase { .. })));
    let e = t.confirm("fnope", "tester", "", Utc::now()).unwrap_err().to_string();
    assert!(e.contains("`fnope`"), "{e}");

    let station = spotcheck::sealing::Station::open(&DataDir::new(&data), &store, &Identity::default()).unwrap();
    let report = station.verify_ledger().unwrap();
    assert!(report.entries >= ledger_after_first, "{report:?}");
}

#[test]
fn the_cli_flags_triages_and_records_case_outcomes() {
    let (_dir, data) = demo();
    let flagged = ok(&data, &["flag"]);
    assert!(flagged.starts_with("flagged 300 listings") || flagged.starts_with("flagged "), "{flagged}");
    assert!(flagged.contains(" new, "), "{flagged}");
    let again = ok(&data, &["flag", "--rule", "ccc.missing"]);
    assert!(again.contains(", 0 new,"), "recording is idempotent: {again}");
    assert!(!run(&data, &["flag", "--rule", "no.such"]).status.success());
    // With the registry and history the demo used (its market: seed 1, 300
    // listings) and its date, `flag` finds exactly what the demo sealed.
    let market =
        spotcheck::market::Market::new(spotcheck::market::MarketConfig { seed: 1, listings: 300, count_hits: false });
    let (registry, history) = (data.join("registry.csv"), data.join("history.csv"));
    market.write_registry(&mut std::fs::File::create(&registry).unwrap()).unwrap();
    market.write_history(&mut std::fs::File::create(&history).unwrap()).unwrap();
    let stored = spotcheck::findings::FindingStore::open(&Store::open(&data.join("db")).unwrap()).unwrap().len();
    let full = ok(
        &data,
        &[
            "flag",
            "--registry",
            registry.to_str().unwrap(),
            "--history",
            history.to_str().unwrap(),
            "--today",
            "2025-11-20",
        ],
    );
    assert!(full.contains(&format!(": {stored} findings, 0 new, {stored} already recorded")), "{full}");

    let open: Vec<serde_json::Value> = ok(&data, &["findings", "list", "--status", "open", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(open.len() >= 3);
    let id = |i: usize| open[i]["finding"]["id"].as_str().unwrap().to_string();
    let (a, b) = (id(0), id(1));

    let confirmed = ok(&data, &["findings", "confirm", &a, "--note", "价格明显偏低，已核实"]);
    assert!(confirmed.contains(&format!("{a} confirmed; opened case C")), "{confirmed}");
    let bad_table = data.join("bad-routing.toml");
    std::fs::write(&bad_table, "source = \"x\"\n").unwrap();
    let refused = run(&data, &["findings", "confirm", &id(2), "--routing", bad_table.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("bad-routing.toml"), "{refused:?}");
    let twice = ok(&data, &["findings", "confirm", &a]);
    assert!(twice.contains("was confirmed; already in case"), "{twice}");

    let no_reason = run(&data, &["findings", "dismiss", &b]);
    assert!(!no_reason.status.success());
    assert!(String::from_utf8_lossy(&no_reason.stderr).contains("--reason"));
    let empty = run(&data, &["findings", "dismiss", &b, "--reason", ""]);
    assert!(String::from_utf8_lossy(&empty.stderr).contains("needs a reason"), "{empty:?}");
    ok(&data, &["findings", "dismiss", &b, "--reason", "规格页已显示证书"]);
    let shown: serde_json::Value = serde_json::from_str(&ok(&data, &["findings", "show", &b])).unwrap();
    assert_eq!(shown["status"], "dismissed");
    assert_eq!(shown["triage"][0]["by"], "station-1 for 王伟, 李娜");
    let stats: Vec<serde_json::Value> = serde_json::from_str(&ok(&data, &["findings", "stats", "--json"])).unwrap();
    let rule_b = open[1]["finding"]["rule"].as_str().unwrap();
    let row = stats.iter().find(|r| r["rule"] == rule_b).unwrap();
    assert!(row["dismissed"].as_u64().unwrap() >= 1 && row["false_positive_rate"].as_f64().unwrap() > 0.0, "{row}");
    let listed = ok(&data, &["findings", "list", "--status", "dismissed"]);
    assert!(listed.contains(&b) && listed.contains("false-positive rate"), "{listed}");

    let cases: Vec<serde_json::Value> =
        ok(&data, &["cases", "list", "--json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(cases.len(), 1);
    let case = cases[0]["id"].as_str().unwrap().to_string();
    let bureau = cases[0]["bureau"]["code"].as_str().unwrap().to_string();
    assert!(ok(&data, &["cases", "list", "--bureau", &bureau]).contains(&case));
    assert!(ok(&data, &["cases", "list", "--bureau", "99"]).contains("0 cases"));
    let show = ok(&data, &["cases", "show", &case]);
    for part in ["routing  by address", "shops", &a, "merged", "audit", "王伟"] {
        assert!(show.contains(part), "`{part}` missing from:\n{show}");
    }

    let skipped = run(&data, &["cases", "outcome", &case, "--set", "penalised", "--note", "罚款"]);
    assert!(String::from_utf8_lossy(&skipped.stderr).contains("cannot become penalised"), "{skipped:?}");
    assert!(ok(&data, &["cases", "outcome", &case, "--set", "filed", "--note", "立案审批表 2026-001"])
        .contains("filed (立案)"));
    assert!(ok(&data, &["cases", "outcome", &case, "--set", "penalised", "--note", "罚款5万元"]).contains("处罚"));
    let json: serde_json::Value = serde_json::from_str(&ok(&data, &["cases", "show", &case, "--json"])).unwrap();
    assert_eq!(json["status"], "penalised");
    assert_eq!(json["audit"].as_array().unwrap().len(), 3);

    let verified = run(&data, &["evidence", "ledger", "verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
}

#[test]
fn two_shops_of_one_operator_on_two_platforms_are_one_case() {
    let (_dir, data) = demo();
    let store = Store::open(&data.join("db")).unwrap();
    let t = Triage::open(&store, RoutingTable::builtin().unwrap(), window()).unwrap();
    let mut by_uscc: BTreeMap<String, Vec<Subject>> = BTreeMap::new();
    for (_, subjects) in subjects_by_shop(&t) {
        by_uscc.entry(subjects[0].keys.uscc.clone().unwrap()).or_default().push(subjects[0].clone());
    }
    let (uscc, pair) = by_uscc
        .iter()
        .find(|(_, v)| {
            let platforms: std::collections::BTreeSet<&str> =
                v.iter().filter_map(|s| s.shop_key.as_deref()?.split('/').next()).collect();
            platforms.len() >= 2
        })
        .expect("an operator behind two shops with findings");
    let now = Utc::now();
    let other =
        pair.iter().find(|s| s.finding.listing.split('/').next() != pair[0].finding.listing.split('/').next()).unwrap();
    let pair = [pair[0].clone(), other.clone()];
    let first = t.confirm(&pair[0].finding.id, "tester", "", now).unwrap();
    let second = t.confirm(&pair[1].finding.id, "tester", "", now).unwrap();
    assert_eq!(second.case.case, first.case.case);
    assert_eq!(second.case.reason, Some(MergeReason::SameUscc(uscc.clone())));
    let case = t.cases.get(&first.case.case).unwrap().unwrap();
    let keys: Vec<&str> = case.shops.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, [pair[0].shop_key.as_deref().unwrap(), pair[1].shop_key.as_deref().unwrap()]);
}
