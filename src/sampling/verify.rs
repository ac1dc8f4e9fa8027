//! Redoing a recorded draw and saying what differs.

use std::fmt;

use super::candidate::Candidate;
use super::draw::{draw, Draw, StratumDraw};
use super::SamplingError;

/// Relative tolerance on recorded rank keys: `ln` may differ in the last bit
/// between math libraries, and a JSON reader may round the last digit.
const RANK_KEY_TOLERANCE: f64 = 1e-12;

/// One way a recorded draw differs from the draw recomputed from the candidates.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    Method {
        recorded: String,
        recomputed: String,
    },
    Population {
        recorded: usize,
        recomputed: usize,
    },
    CandidatesDigest {
        recorded: String,
        recomputed: String,
    },
    Total {
        recorded: usize,
        recomputed: usize,
    },
    /// A stratum only one side has.
    Stratum {
        class: String,
        platform: String,
        recorded: bool,
    },
    Allocation {
        class: String,
        platform: String,
        recorded: usize,
        recomputed: usize,
    },
    /// Drawn in the record but not by the recomputation.
    NotDrawn {
        class: String,
        platform: String,
        key: String,
    },
    /// Drawn by the recomputation but missing from the record.
    Missing {
        class: String,
        platform: String,
        key: String,
    },
    /// The same items, in another order, or with other weights or rank keys.
    Item {
        class: String,
        platform: String,
        position: usize,
        recorded: String,
        recomputed: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Method { recorded, recomputed } => {
                write!(f, "method: recorded `{recorded}`, this build uses `{recomputed}`")
            }
            Difference::Population { recorded, recomputed } => {
                write!(f, "population: recorded {recorded} candidates, given {recomputed}")
            }
            Difference::CandidatesDigest { recorded, recomputed } => {
                write!(f, "candidates digest: recorded {recorded}, given candidates hash to {recomputed}")
            }
            Difference::Total { recorded, recomputed } => {
                write!(f, "total: recorded {recorded}, recomputed {recomputed}")
            }
            Difference::Stratum { class, platform, recorded: true } => {
                write!(f, "stratum `{class}` on `{platform}`: recorded, absent from the candidates")
            }
            Difference::Stratum { class, platform, recorded: false } => {
                write!(f, "stratum `{class}` on `{platform}`: in the candidates, absent from the record")
            }
            Difference::Allocation { class, platform, recorded, recomputed } => {
                write!(f, "stratum `{class}` on `{platform}`: recorded {recorded} allocated, recomputed {recomputed}")
            }
            Difference::NotDrawn { class, platform, key } => {
                write!(f, "stratum `{class}` on `{platform}`: `{key}` is recorded as drawn but is not drawn")
            }
            Difference::Missing { class, platform, key } => {
                write!(f, "stratum `{class}` on `{platform}`: `{key}` is drawn but missing from the record")
            }
            Difference::Item { class, platform, position, recorded, recomputed } => write!(
                f,
                "stratum `{class}` on `{platform}`, position {position}: recorded {recorded}, recomputed {recomputed}"
            ),
        }
    }
}

impl Draw {
    /// Recomputes the draw from its plan and `candidates`; `Ok` when the record
    /// matches, else every difference found.
    pub fn verify(&self, candidates: &[Candidate]) -> Result<(), SamplingError> {
        let again = draw(&self.plan, candidates)?;
        let mut diffs = Vec::new();
        let mut field = |recorded: usize, recomputed: usize, make: fn(usize, usize) -> Difference| {
            if recorded != recomputed {
                diffs.push(make(recorded, recomputed));
            }
        };
        field(self.population, again.population, |recorded, recomputed| Difference::Population {
            recorded,
            recomputed,
        });
        field(self.total, again.total, |recorded, recomputed| Difference::Total { recorded, recomputed });
        if self.method != again.method {
            diffs.push(Difference::Method { recorded: self.method.clone(), recomputed: again.method.clone() });
        }
        if self.candidates_digest != again.candidates_digest {
            diffs.push(Difference::CandidatesDigest {
                recorded: self.candidates_digest.clone(),
                recomputed: again.candidates_digest.clone(),
            });
        }
        let find = |strata: &'_ [StratumDraw], s: &StratumDraw| {
            strata.iter().position(|t| t.class == s.class && t.platform == s.platform)
        };
        for recorded in &self.strata {
            match find(&again.strata, recorded) {
                Some(i) => compare_stratum(recorded, &again.strata[i], &mut diffs),
                None => diffs.push(Difference::Stratum {
                    class: recorded.class.clone(),
                    platform: recorded.platform.clone(),
                    recorded: true,
                }),
            }
        }
        for recomputed in &again.strata {
            if find(&self.strata, recomputed).is_none() {
                diffs.push(Difference::Stratum {
                    class: recomputed.class.clone(),
                    platform: recomputed.platform.clone(),
                    recorded: false,
                });
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(SamplingError::DoesNotVerify(diffs))
        }
    }
}

fn compare_stratum(recorded: &StratumDraw, again: &StratumDraw, diffs: &mut Vec<Difference>) {
    let (class, platform) = (recorded.class.clone(), recorded.platform.clone());
    if recorded.allocated != again.allocated {
        diffs.push(Difference::Allocation {
            class: class.clone(),
            platform: platform.clone(),
            recorded: recorded.allocated,
            recomputed: again.allocated,
        });
    }
    let has = |s: &StratumDraw, key: &str| s.drawn.iter().any(|i| i.key == key);
    let before = diffs.len();
    for item in recorded.drawn.iter().filter(|i| !has(again, &i.key)) {
        diffs.push(Difference::NotDrawn { class: class.clone(), platform: platform.clone(), key: item.key.clone() });
    }
    for item in again.drawn.iter().filter(|i| !has(recorded, &i.key)) {
        diffs.push(Difference::Missing { class: class.clone(), platform: platform.clone(), key: item.key.clone() });
    }
    if diffs.len() > before {
        return;
    }
    for (position, (r, a)) in recorded.drawn.iter().zip(&again.drawn).enumerate() {
        let close = (r.rank_key - a.rank_key).abs() <= RANK_KEY_TOLERANCE * a.rank_key.abs();
        if r.key != a.key || r.shop != a.shop || r.weight != a.weight || !close {
            let show =
                |i: &super::draw::DrawnItem| format!("`{}` (weight {}, rank key {})", i.key, i.weight, i.rank_key);
            diffs.push(Difference::Item {
                class: class.clone(),
                platform: platform.clone(),
                position: position + 1,
                recorded: show(r),
                recomputed: show(a),
            });
        }
    }
}
