//! "双随机" sampling (issue 8): reproducibility (same seed and candidates in any
//! order → the same draw, byte for byte), stratification by class × platform,
//! risk weighting measured over many seeds, verification of a recorded draw,
//! and a draw over the sample marketplace's listings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use proptest::prelude::*;
use spotcheck::market::{Market, MarketConfig, REFERENCE_DATE};
use spotcheck::model::{Listing, Shop};
use spotcheck::rules::{CheckHistory, RuleSet};
use spotcheck::sampling::{
    draw, gather, Allocation, Candidate, Difference, Draw, Quota, RiskFactors, SamplePlan, SamplingError, Seed,
    Weighting,
};
use url::Url;

fn candidate(key: &str, platform: &str, class: &str, risk: RiskFactors) -> Candidate {
    Candidate { key: key.into(), platform: platform.into(), class: class.into(), shop: format!("shop-{key}"), risk }
}

/// `n` candidates over classes a, b, c × platforms mall, duo, with varied risk.
fn population(n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            let platform = ["mall", "duo"][i % 2];
            let class = ["a", "b", "c"][(i / 2) % 3];
            let risk = RiskFactors {
                past_failures: (i % 5) as u32,
                clearly_low_price: i % 7 == 0,
                key_list: i % 11 == 0,
                years_clean: (i % 4 == 0).then_some(4),
            };
            candidate(&format!("{platform}/{i}"), platform, class, risk)
        })
        .collect()
}

fn plan(size: usize, seed: u64, weighting: Weighting) -> SamplePlan {
    SamplePlan { size, seed: Seed::from_u64(seed), allocation: Allocation::Proportional, weighting }
}

fn keys(d: &Draw) -> Vec<String> {
    d.items().map(|(_, item)| item.key.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// The candidates in any order give the same draw: the same JSON and CSV, byte for byte.
    #[test]
    fn any_order_gives_the_identical_draw(
        shuffled in Just(population(120)).prop_shuffle(),
        seed in any::<u64>(),
        risk in any::<bool>(),
    ) {
        let weighting = if risk { Weighting::Risk } else { Weighting::Off };
        let p = plan(17, seed, weighting);
        let base = draw(&p, &population(120)).unwrap();
        let again = draw(&p, &shuffled).unwrap();
        prop_assert_eq!(base.to_json().unwrap(), again.to_json().unwrap());
        prop_assert_eq!(base.to_csv().unwrap(), again.to_csv().unwrap());
    }
}

proptest! {
    /// Any keys, strata and risks: the draw either fails with an error (a
    /// duplicate or empty key) or draws exactly `size`, each stratum its allocation.
    #[test]
    fn any_candidate_list_draws_or_says_why(
        rows in proptest::collection::vec(("\\PC{0,6}", 0usize..3, 0usize..2, any::<u32>(), any::<bool>(), any::<Option<u32>>()), 1..60),
        size in 1usize..60,
        seed in any::<u64>(),
    ) {
        let candidates: Vec<Candidate> = rows
            .iter()
            .map(|(key, class, platform, failures, low, clean)| {
                let risk = RiskFactors { past_failures: *failures, clearly_low_price: *low, key_list: !*low, years_clean: *clean };
                candidate(key, ["mall", "duo"][*platform], ["a", "b", "c"][*class], risk)
            })
            .collect();
        match draw(&plan(size, seed, Weighting::Risk), &candidates) {
            Ok(d) => {
                prop_assert_eq!(d.items().count(), size);
                prop_assert!(d.strata.iter().all(|s| s.drawn.len() == s.allocated && s.allocated <= s.population));
                prop_assert!(d.items().all(|(_, i)| i.weight > 0.0 && i.rank_key.is_finite() && i.rank_key > 0.0));
                prop_assert!(d.verify(&candidates).is_ok());
            }
            Err(e) => prop_assert!(
                size > candidates.len() || e.to_string().contains("more than once") || e.to_string().contains("empty key"),
                "{}", e
            ),
        }
    }
}

#[test]
fn a_different_seed_gives_a_different_draw() {
    let candidates = population(600);
    let base = keys(&draw(&plan(30, 1, Weighting::Off), &candidates).unwrap());
    for seed in 2..50 {
        let other = keys(&draw(&plan(30, seed, Weighting::Off), &candidates).unwrap());
        // 30 of 600 in 6 strata: two seeds agreeing on every item has probability
        // far below 10⁻³⁰; they share a few items by chance.
        assert_ne!(base, other, "seed {seed}");
    }
}

#[test]
fn strata_are_respected_and_allocation_is_largest_remainder() {
    // Strata of 50, 30 and 20 (class a, b, c on one platform): 7 × (.5, .3, .2)
    // = 3.5, 2.1, 1.4 → whole parts 3 + 2 + 1 = 6, the seat left goes to .5.
    let mut candidates = Vec::new();
    for (class, n) in [("a", 50), ("b", 30), ("c", 20)] {
        for i in 0..n {
            candidates.push(candidate(&format!("mall/{class}{i}"), "mall", class, RiskFactors::default()));
        }
    }
    let by_key: HashMap<&str, &Candidate> = candidates.iter().map(|c| (c.key.as_str(), c)).collect();
    for seed in 0..20 {
        let d = draw(&plan(7, seed, Weighting::Risk), &candidates).unwrap();
        let allocated: Vec<(&str, usize, usize)> =
            d.strata.iter().map(|s| (s.class.as_str(), s.population, s.allocated)).collect();
        assert_eq!(allocated, [("a", 50, 4), ("b", 30, 2), ("c", 20, 1)]);
        assert_eq!(d.total, 7);
        for s in &d.strata {
            assert_eq!(s.drawn.len(), s.allocated);
            for item in &s.drawn {
                let c = by_key[item.key.as_str()];
                assert_eq!((c.class.as_str(), c.platform.as_str()), (s.class.as_str(), s.platform.as_str()));
            }
        }
    }
}

#[test]
fn explicit_quotas_are_drawn_exactly() {
    let candidates = population(120);
    let quotas = vec![
        Quota { class: "a".into(), platform: "duo".into(), count: 5 },
        Quota { class: "c".into(), platform: "mall".into(), count: 20 },
    ];
    let p = SamplePlan { allocation: Allocation::Quotas(quotas), ..plan(25, 3, Weighting::Off) };
    let d = draw(&p, &candidates).unwrap();
    let got: Vec<(String, String, usize)> =
        d.strata.iter().map(|s| (s.class.clone(), s.platform.clone(), s.drawn.len())).collect();
    assert_eq!(got.len(), 6, "every non-empty stratum is reported, drawn or not");
    for (class, platform, n) in got {
        let want = match (class.as_str(), platform.as_str()) {
            ("a", "duo") => 5,
            ("c", "mall") => 20,
            _ => 0,
        };
        assert_eq!(n, want, "{class} {platform}");
    }
}

/// How often each key is drawn as the single item of a one-stratum draw, over `seeds` seeds.
fn frequencies(candidates: &[Candidate], seeds: u64) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for seed in 0..seeds {
        let d = draw(&plan(1, seed, Weighting::Risk), candidates).unwrap();
        for key in keys(&d) {
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn a_weight_4_candidate_is_drawn_about_four_times_as_often() {
    // One candidate of weight 4 (clearly-low price × key list = 2 × 2) among 9 of
    // weight 1, one drawn: Efraimidis–Spirakis draws the first item with
    // probability w / Σw, so 4/13 ≈ 0.308 for the heavy one and 1/13 ≈ 0.077 for
    // each light one. Over 2,000 seeds the heavy count has mean 615 and standard
    // deviation ≈ 21; the bounds 555..=675 are about ±3 sd, so a correct weighting
    // fails them with probability < 0.3 %, and no seed here is random: the test
    // is deterministic. A broken weighting (ignored: 200; inverted: 1/37·2000 ≈ 54;
    // `u·w` instead of `u^(1/w)`: ≈ 0.67·2000) lands far outside.
    let heavy = RiskFactors { clearly_low_price: true, key_list: true, ..RiskFactors::default() };
    let mut candidates = vec![candidate("mall/heavy", "mall", "a", heavy)];
    candidates.extend((0..9).map(|i| candidate(&format!("mall/light{i}"), "mall", "a", RiskFactors::default())));
    let counts = frequencies(&candidates, 2000);
    let heavy = counts.get("mall/heavy").copied().unwrap_or(0);
    assert!((555..=675).contains(&heavy), "heavy drawn {heavy} times of 2000: {counts:?}");
    let light_mean = f64::from(2000 - heavy) / 9.0;
    assert!(f64::from(heavy) > 3.0 * light_mean, "heavy {heavy}, light mean {light_mean}");
}

#[test]
fn shops_clean_for_three_years_are_drawn_less_often() {
    // Five candidates of shops clean for ≥ 3 years (weight ½) and five others
    // (weight 1), one drawn: a clean one with probability 2.5 / 7.5 = ⅓. Over
    // 2,000 seeds: mean 667, sd ≈ 21; bounds 600..=733 are about ±3 sd, while
    // an ignored factor gives 1,000 and an inverted one 1,333.
    let clean = RiskFactors { years_clean: Some(3), ..RiskFactors::default() };
    let recent = RiskFactors { years_clean: Some(2), ..RiskFactors::default() };
    let mut candidates: Vec<Candidate> =
        (0..5).map(|i| candidate(&format!("duo/clean{i}"), "duo", "b", clean)).collect();
    candidates.extend((0..5).map(|i| candidate(&format!("duo/other{i}"), "duo", "b", recent)));
    let counts = frequencies(&candidates, 2000);
    let clean: u32 = counts.iter().filter(|(k, _)| k.contains("clean")).map(|(_, n)| n).sum();
    assert!((600..=733).contains(&clean), "clean shops drawn {clean} times of 2000: {counts:?}");
}

#[test]
fn a_recorded_draw_verifies_and_a_tampered_one_does_not() {
    let candidates = population(200);
    let d = draw(&plan(24, 99, Weighting::Risk), &candidates).unwrap();
    // The JSON record verifies against the candidates, in another order too.
    let record = Draw::from_json(&d.to_json().unwrap()).unwrap();
    let mut reversed = candidates.clone();
    reversed.reverse();
    record.verify(&reversed).unwrap();

    // Swap a drawn item for an undrawn one of the same stratum.
    let mut tampered = record.clone();
    let stratum = tampered.strata.iter_mut().find(|s| !s.drawn.is_empty()).unwrap();
    let (class, platform) = (stratum.class.clone(), stratum.platform.clone());
    let outsider = candidates
        .iter()
        .find(|c| c.class == class && c.platform == platform && !stratum.drawn.iter().any(|i| i.key == c.key))
        .unwrap();
    let swapped_out = std::mem::replace(&mut stratum.drawn[0].key, outsider.key.clone());
    let Err(SamplingError::DoesNotVerify(diffs)) = tampered.verify(&candidates) else {
        panic!("a swapped item verified")
    };
    assert!(
        diffs.contains(&Difference::NotDrawn {
            class: class.clone(),
            platform: platform.clone(),
            key: outsider.key.clone()
        }),
        "{diffs:?}"
    );
    assert!(diffs.contains(&Difference::Missing { class, platform, key: swapped_out }), "{diffs:?}");

    // A changed candidate list: one candidate's risk raised, one candidate removed.
    let mut changed = candidates.clone();
    changed[5].risk.past_failures += 1;
    let message = record.verify(&changed).unwrap_err().to_string();
    assert!(message.contains("candidates digest"), "{message}");
    changed.pop();
    let Err(SamplingError::DoesNotVerify(diffs)) = record.verify(&changed) else { panic!("a shorter list verified") };
    assert!(diffs.contains(&Difference::Population { recorded: 200, recomputed: 199 }), "{diffs:?}");
}

#[test]
fn bad_plans_and_candidate_lists_are_clear_errors() {
    let candidates = population(10);
    let message = |p: &SamplePlan, c: &[Candidate]| draw(p, c).unwrap_err().to_string();
    assert_eq!(message(&plan(0, 1, Weighting::Off), &candidates), "sample size is 0: draw at least one");
    assert_eq!(message(&plan(11, 1, Weighting::Off), &candidates), "sample size 11 exceeds the 10 candidates");
    assert!(draw(&plan(10, 1, Weighting::Off), &candidates).is_ok(), "the whole population may be drawn");
    let mut twice = candidates.clone();
    twice.push(candidates[3].clone());
    assert_eq!(message(&plan(2, 1, Weighting::Off), &twice), "candidate `duo/3` appears more than once");
    let quota = Quota { class: "a".into(), platform: "mall".into(), count: 3 };
    let p = SamplePlan { allocation: Allocation::Quotas(vec![quota]), ..plan(3, 1, Weighting::Off) };
    assert_eq!(message(&p, &candidates), "quota 3 for stratum `a` on `mall` exceeds its 2 candidates");
    assert!(draw(&plan(1, 1, Weighting::Off), &[]).is_err());
}

#[test]
fn the_csv_export_lists_every_drawn_item_with_its_seed() {
    let d = draw(&plan(9, 5, Weighting::Risk), &population(60)).unwrap();
    let csv = d.to_csv().unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "seed,class,platform,position,key,shop,weight,rank_key");
    assert_eq!(lines.len(), 1 + 9);
    assert!(lines[1..].iter().all(|l| l.starts_with(&d.seed_hex())), "{csv}");
}

#[test]
fn the_method_is_pinned() {
    // An auditor must be able to redo an old draw: a change of the hash, the
    // uniform mapping, the ranking or the allocation changes these keys, and
    // then `METHOD` must change too.
    let d = draw(&plan(6, 2026, Weighting::Risk), &population(60)).unwrap();
    assert_eq!(d.seed_hex(), format!("{}{:016x}", "0".repeat(48), 2026));
    assert_eq!(keys(&d), PINNED);
    assert_eq!(d.candidates_digest, PINNED_DIGEST);
}

const PINNED: [&str; 6] = ["duo/43", "mall/54", "duo/3", "mall/14", "duo/47", "mall/46"];
const PINNED_DIGEST: &str = "71bcd5264e13ced20439f1233d2f0f1bf692be71391dcb6b583b3fa572df8806";

/// The sample marketplace's 2,000 listings as candidates (classes from the
/// builtin catalogue, risk from the market's spot-check history and the price
/// baselines of the listings themselves), with each listing's planted violations.
fn market_candidates() -> (Vec<Candidate>, HashMap<String, Vec<String>>) {
    let market = Market::new(MarketConfig { seed: 7, listings: 2000, ..MarketConfig::default() });
    let base = Url::parse("http://127.0.0.1:8080/").unwrap();
    let records: Vec<_> = market.truth(&base).collect();
    let listings: Vec<Listing> = records.iter().map(|r| r.listing.clone()).collect();
    let shops: Vec<Shop> = market.shops_truth(&base).collect();
    let history = CheckHistory::new(market.history());
    let today = NaiveDate::parse_from_str(REFERENCE_DATE, "%Y-%m-%d").unwrap();
    let candidates = gather(&listings, &shops, &RuleSet::builtin().unwrap(), &history, today);
    let violations = records.into_iter().map(|r| (r.listing.key(), r.violations)).collect();
    (candidates, violations)
}

#[test]
fn a_draw_over_the_sample_marketplace_stratifies_by_class_and_platform() {
    let (candidates, violations) = market_candidates();
    assert_eq!(candidates.len(), 2000);

    // Risk factors agree with the market's ground truth where both speak.
    for c in &candidates {
        let v = &violations[&c.key];
        assert_eq!(c.risk.key_list, v.iter().any(|r| r == "shop.repeat_offender"), "{c:?} {v:?}");
        assert_eq!(c.risk.clearly_low_price, v.iter().any(|r| r == "price.clearly_low"), "{c:?} {v:?}");
    }

    let mut populations: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in &candidates {
        *populations.entry((c.class.clone(), c.platform.clone())).or_default() += 1;
    }
    assert!(populations.len() >= 10, "{populations:?}");
    let by_key: HashMap<&str, &Candidate> = candidates.iter().map(|c| (c.key.as_str(), c)).collect();
    let p = plan(200, 20251120, Weighting::Risk);
    let d = draw(&p, &candidates).unwrap();
    assert_eq!(d.strata.len(), populations.len());
    assert_eq!(d.strata.iter().map(|s| s.allocated).sum::<usize>(), 200);
    for s in &d.strata {
        assert_eq!(s.population, populations[&(s.class.clone(), s.platform.clone())]);
        assert_eq!(s.drawn.len(), s.allocated);
        assert!(s.allocated >= 1, "every stratum is sampled: {s:?}");
        // Proportional: within one seat of the exact quota, or the floor of one.
        let exact = 200.0 * s.population as f64 / 2000.0;
        assert!((s.allocated as f64 - exact).abs() < 1.0 || s.allocated == 1, "{} {}: {exact}", s.class, s.platform);
        for item in &s.drawn {
            let c = by_key[item.key.as_str()];
            assert_eq!((&c.class, &c.platform), (&s.class, &s.platform));
        }
    }
    d.verify(&candidates).unwrap();
    // Risk weighting over-represents key-list shops relative to their share.
    let share = |pred: &dyn Fn(&Candidate) -> bool, among: &mut dyn Iterator<Item = &Candidate>| {
        let all: Vec<bool> = among.map(pred).collect();
        all.iter().filter(|b| **b).count() as f64 / all.len() as f64
    };
    let risky = |c: &Candidate| c.risk.key_list || c.risk.clearly_low_price;
    let in_population = share(&risky, &mut candidates.iter());
    let in_sample = share(&risky, &mut d.items().map(|(_, i)| by_key[i.key.as_str()]));
    assert!(in_sample > 1.5 * in_population, "risky share: sample {in_sample}, population {in_population}");
}

fn spotcheck(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spotcheck")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn write_jsonl(path: &std::path::Path, candidates: &[Candidate]) {
    let lines: Vec<String> = candidates.iter().map(|c| serde_json::to_string(c).unwrap()).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn the_cli_draws_exports_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (forward, backward) = (dir.path().join("forward.jsonl"), dir.path().join("backward.jsonl"));
    let mut candidates = population(120);
    write_jsonl(&forward, &candidates);
    candidates.reverse();
    write_jsonl(&backward, &candidates);
    let run = |input: &std::path::Path, out: &str| {
        let out = dir.path().join(out);
        let args = ["--data-dir", data, "sample", "draw", "--size", "12", "--seed", "42", "--weighting", "risk"];
        let (ok, text) = spotcheck(
            &[&args[..], &["--candidates", input.to_str().unwrap(), "--out", out.to_str().unwrap()]].concat(),
        );
        assert!(ok, "{text}");
        assert!(text.contains(&Seed::from_u64(42).to_hex()), "the seed is shown: {text}");
        out
    };
    let (a, b) = (run(&forward, "a"), run(&backward, "b"));
    let read = |dir: &std::path::Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    assert_eq!(read(&a, "draw.json"), read(&b, "draw.json"), "input order does not matter");
    assert_eq!(read(&a, "draw.csv"), read(&b, "draw.csv"));
    assert_eq!(String::from_utf8(read(&a, "draw.csv")).unwrap().lines().count(), 13);

    let (ok, text) = spotcheck(&["--data-dir", data, "sample", "verify", a.to_str().unwrap()]);
    assert!(ok && text.contains("verified: 12 of 120"), "{text}");
    let mut fewer = population(120);
    fewer.retain(|c| c.key != "mall/0");
    write_jsonl(&a.join("candidates.jsonl"), &fewer);
    let (ok, text) = spotcheck(&["--data-dir", data, "sample", "verify", a.to_str().unwrap()]);
    assert!(!ok && text.contains("population: recorded 120 candidates, given 119"), "{text}");

    let (ok, text) = spotcheck(&[
        "--data-dir",
        data,
        "sample",
        "draw",
        "--size",
        "500",
        "--candidates",
        forward.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(!ok && text.contains("sample size 500 exceeds the 120 candidates"), "{text}");
}
