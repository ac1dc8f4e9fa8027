//! Which discovered links a job follows.

use std::collections::HashSet;

use url::Url;

use crate::adapters::{Adapter, Link};
use crate::model::PageKind;
use crate::store::{FrontierEntry, JobSpec};

/// The boundaries of one job: the hosts it may visit, how deep it may go, and
/// whether item pages are sampled rather than all followed.
pub struct Scope {
    hosts: HashSet<String>,
    max_depth: Option<u32>,
    sampling: bool,
}

/// A link the job keeps: followed now, or held back as a sample candidate.
pub enum Admitted {
    Follow(FrontierEntry),
    Candidate(FrontierEntry),
}

impl Scope {
    pub fn new(spec: &JobSpec, seeds: &[Url]) -> Scope {
        Scope {
            hosts: seeds.iter().filter_map(host_key).collect(),
            max_depth: spec.max_depth,
            sampling: spec.sample.is_some(),
        }
    }

    /// Decides what to do with the links found on a page of `kind` at `depth`.
    /// A link to a page of the same kind (the next page of a search, of a shop)
    /// stays at the same depth; any other link is one hop deeper. Links to other
    /// hosts, to pages the adapter does not know, or beyond the depth limit are
    /// dropped; duplicates within the page are dropped here, across pages by the
    /// frontier's seen-set.
    pub fn admit(&self, adapter: &Adapter, kind: PageKind, depth: u32, links: Vec<Link>) -> Vec<Admitted> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for link in links {
            let mut url = link.url;
            url.set_fragment(None);
            if !matches!(url.scheme(), "http" | "https") {
                continue;
            }
            if !host_key(&url).is_some_and(|h| self.hosts.contains(&h)) {
                continue;
            }
            let Some(link_kind) = link.kind.or_else(|| adapter.page_kind(&url)) else {
                continue;
            };
            let depth = if link_kind == kind { depth } else { depth + 1 };
            if self.max_depth.is_some_and(|max| depth > max) {
                continue;
            }
            if !seen.insert(url.as_str().to_string()) {
                continue;
            }
            let entry = FrontierEntry { url: url.into(), depth, kind: Some(link_kind) };
            out.push(if self.sampling && link_kind == PageKind::Item {
                Admitted::Candidate(entry)
            } else {
                Admitted::Follow(entry)
            });
        }
        out
    }
}

/// `host:port`, the unit of scope (and of politeness).
fn host_key(url: &Url) -> Option<String> {
    Some(format!("{}:{}", url.host_str()?, url.port_or_known_default()?))
}
