//! How many to draw from each stratum.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::SamplingError;

/// A stratum: one catalogue class on one platform.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stratum {
    pub class: String,
    pub platform: String,
}

impl std::fmt::Display for Stratum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` on `{}`", self.class, self.platform)
    }
}

/// One stratum's explicit quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub class: String,
    pub platform: String,
    pub count: usize,
}

/// How the sample size is shared among the strata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "quotas")]
pub enum Allocation {
    /// In proportion to the strata's populations, by the largest-remainder
    /// (Hamilton) method; when the size is at least the number of non-empty
    /// strata, each of them gets at least one (see [`proportional`]).
    #[default]
    Proportional,
    /// Exactly these counts; strata not named get none. They must sum to the
    /// plan's size, and none may exceed its stratum's population.
    Quotas(Vec<Quota>),
}

impl Allocation {
    /// The count of every stratum of `populations` (same keys, same order).
    pub fn allocate(
        &self,
        size: usize,
        populations: &BTreeMap<Stratum, usize>,
    ) -> Result<BTreeMap<Stratum, usize>, SamplingError> {
        match self {
            Allocation::Proportional => Ok(proportional(size, populations)),
            Allocation::Quotas(quotas) => explicit(size, quotas, populations),
        }
    }
}

fn explicit(
    size: usize,
    quotas: &[Quota],
    populations: &BTreeMap<Stratum, usize>,
) -> Result<BTreeMap<Stratum, usize>, SamplingError> {
    let mut counts: BTreeMap<Stratum, usize> = populations.keys().map(|s| (s.clone(), 0)).collect();
    let mut named = BTreeSet::new();
    for q in quotas {
        let stratum = Stratum { class: q.class.clone(), platform: q.platform.clone() };
        let population = populations.get(&stratum).copied().unwrap_or(0);
        if q.count > population {
            return Err(SamplingError::QuotaExceedsPopulation { stratum, quota: q.count, population });
        }
        if !named.insert(stratum.clone()) {
            return Err(SamplingError::DuplicateQuota { stratum });
        }
        if let Some(count) = counts.get_mut(&stratum) {
            *count = q.count;
        }
    }
    let sum: usize = counts.values().sum();
    if sum != size {
        return Err(SamplingError::QuotasDoNotSumToSize { sum, size });
    }
    Ok(counts)
}

/// Proportional allocation by largest remainders, with a floor of one.
///
/// Exact quotas are `size × population / total`. A stratum whose quota is below
/// one gets exactly one (when `size` ≥ the number of non-empty strata) and
/// leaves the computation; the rest is recomputed over the remaining strata
/// until every quota left is at least one. Each remaining stratum then gets the
/// whole part of its quota, and the seats left over go one each to the largest
/// fractional parts (ties: larger population first, then stratum order). All
/// arithmetic is on integers, so the result is exact and platform-independent.
/// A `size` above the total population is capped at it.
pub fn proportional(size: usize, populations: &BTreeMap<Stratum, usize>) -> BTreeMap<Stratum, usize> {
    let mut counts: BTreeMap<Stratum, usize> = populations.keys().map(|s| (s.clone(), 0)).collect();
    let mut free: Vec<(&Stratum, u128)> =
        populations.iter().filter(|(_, n)| **n > 0).map(|(s, n)| (s, *n as u128)).collect();
    let size = size.min(populations.values().sum());
    let mut seats = size as u128;
    if size >= free.len() {
        // Fix strata whose exact quota is below one at one, until none is.
        loop {
            let total: u128 = free.iter().map(|(_, n)| n).sum();
            let (small, large): (Vec<_>, Vec<_>) = free.iter().partition(|(_, n)| seats * n < total);
            if small.is_empty() {
                break;
            }
            for (s, _) in small {
                counts.insert((*s).clone(), 1);
                seats -= 1;
            }
            free = large;
        }
    }
    let total: u128 = free.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return counts;
    }
    let mut remainders: Vec<(u128, u128, &Stratum)> = Vec::with_capacity(free.len());
    let mut given = 0u128;
    for (s, n) in &free {
        let whole = seats * n / total;
        given += whole;
        counts.insert((*s).clone(), whole as usize);
        remainders.push((seats * n % total, *n, s));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
    for (_, _, s) in remainders.into_iter().take((seats - given) as usize) {
        if let Some(c) = counts.get_mut(s) {
            *c += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strata(pops: &[usize]) -> BTreeMap<Stratum, usize> {
        pops.iter()
            .enumerate()
            .map(|(i, n)| (Stratum { class: format!("c{i:02}"), platform: "p".into() }, *n))
            .collect()
    }

    fn counts(size: usize, pops: &[usize]) -> Vec<usize> {
        proportional(size, &strata(pops)).into_values().collect()
    }

    #[test]
    fn largest_remainder_by_hand() {
        // 7 × (50, 30, 20) / 100 = 3.5, 2.1, 1.4 → 3 + 2 + 1 = 6; one seat left → largest part .5.
        assert_eq!(counts(7, &[50, 30, 20]), [4, 2, 1]);
        // 5 × (6, 3, 1) / 10 = 3, 1.5, .5 → the last is fixed at 1; 4 × (6, 3) / 9 = 2.67, 1.33 → 3, 1.
        assert_eq!(counts(5, &[6, 3, 1]), [3, 1, 1]);
        // Too small to give every stratum one: plain Hamilton, ties to the larger population.
        assert_eq!(counts(2, &[6, 3, 1]), [1, 1, 0]);
        assert_eq!(counts(10, &[6, 3, 1, 0]), [6, 3, 1, 0], "all of it; empty strata get none");
    }

    #[test]
    fn sums_to_size_and_never_exceeds_a_population() {
        let pops = [1, 1, 2, 97, 13, 5, 400, 1, 0, 3];
        let total: usize = pops.iter().sum();
        for size in 0..=total {
            let c = counts(size, &pops);
            assert_eq!(c.iter().sum::<usize>(), size);
            assert!(c.iter().zip(pops).all(|(c, n)| *c <= n), "{size}: {c:?}");
            if size >= 9 {
                assert!(c.iter().zip(pops).all(|(c, n)| n == 0 || *c >= 1), "{size}: {c:?}");
            }
        }
    }

    proptest::proptest! {
        /// Any populations and size: the counts sum to the size (capped at the
        /// total), never exceed a population, and give every non-empty stratum
        /// one when the size allows.
        #[test]
        fn allocation_is_total_and_bounded(pops in proptest::collection::vec(0usize..60, 0..12), size in 0usize..400) {
            let c = counts(size, &pops);
            let total: usize = pops.iter().sum();
            proptest::prop_assert_eq!(c.iter().sum::<usize>(), size.min(total));
            proptest::prop_assert!(c.iter().zip(&pops).all(|(c, n)| c <= n));
            let non_empty = pops.iter().filter(|n| **n > 0).count();
            if size >= non_empty {
                proptest::prop_assert!(c.iter().zip(&pops).all(|(c, n)| *n == 0 || *c >= 1));
            }
        }
    }

    #[test]
    fn quotas_are_checked() {
        let pops = strata(&[5, 3]);
        let q = |class: &str, count| Quota { class: class.into(), platform: "p".into(), count };
        let ok = Allocation::Quotas(vec![q("c00", 2), q("c01", 3)]).allocate(5, &pops).unwrap();
        assert_eq!(ok.into_values().collect::<Vec<_>>(), [2, 3]);
        let e = Allocation::Quotas(vec![q("c01", 4)]).allocate(4, &pops).unwrap_err().to_string();
        assert!(e.contains("`c01` on `p`") && e.contains('4') && e.contains('3'), "{e}");
        let e = Allocation::Quotas(vec![q("c09", 1)]).allocate(1, &pops).unwrap_err().to_string();
        assert!(e.contains("`c09`"), "{e}");
        let e = Allocation::Quotas(vec![q("c00", 1)]).allocate(2, &pops).unwrap_err().to_string();
        assert!(e.contains("sum to 1") && e.contains('2'), "{e}");
    }
}
