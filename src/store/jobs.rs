//! Crawl jobs and their frontiers, and the one transaction that commits a page.

use chrono::{DateTime, Utc};
use kv::transaction::{ConflictableTransactionError, TransactionalTree};
use kv::{Transactional, Tree};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::versioned::{self, Stored};
use super::{Store, StoreError};
use crate::model::{Listing, PageKind, Shop};

/// What a crawl job is asked to do. Two runs of the same spec are the same job:
/// an unfinished one is resumed rather than started again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    pub adapter: String,
    pub seeds: Vec<String>,
    /// Search keywords; each becomes a start URL through `search_url`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The platform's search URL with `{keyword}` where the (URL-encoded) keyword goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_url: Option<String>,
    pub max_pages: Option<u64>,
    pub max_depth: Option<u32>,
    /// Draw this many item pages at random from all the items the list pages show.
    pub sample: Option<u64>,
    /// The seed of that draw; when absent a random one is chosen and recorded.
    pub sample_seed: Option<u64>,
    /// Why robots.txt is overridden for this job (absent: robots.txt is honoured).
    pub robots_override: Option<String>,
    pub plan_id: Option<String>,
}

impl JobSpec {
    /// Where the job starts: the seed URLs, then one search URL per keyword.
    pub fn start_urls(&self) -> Vec<String> {
        let mut urls = self.seeds.clone();
        if let Some(template) = &self.search_url {
            for keyword in &self.keywords {
                let encoded: String = url::form_urlencoded::byte_serialize(keyword.trim().as_bytes()).collect();
                urls.push(template.replace("{keyword}", &encoded));
            }
        }
        urls
    }

    /// A short stable id of the spec (16 hex digits of its SHA-256).
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&Sha256::digest(&json)[..8])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Running,
    Completed,
}

/// What a job has done so far. Committed with each page, so it survives a crash exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Pages finished (fetched and committed, or failed).
    pub pages: u64,
    pub errors: u64,
    pub robots_skipped: u64,
    pub listings_new: u64,
    pub listings_changed: u64,
    pub listings_unchanged: u64,
    pub shops_new: u64,
    pub shops_changed: u64,
    pub shops_unchanged: u64,
    /// URLs ever put on the frontier (seeds included).
    pub queued: u64,
    /// Item links held back for the random sample, and how many were drawn.
    pub candidates: u64,
    pub sampled: u64,
}

impl Counters {
    pub fn listings(&self) -> u64 {
        self.listings_new + self.listings_changed + self.listings_unchanged
    }
}

/// One run of a job spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub spec: JobSpec,
    pub status: JobStatus,
    /// The seed actually used for the sample draw (recorded so the draw can be reproduced).
    pub sample_seed: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How many times this run was started (1 = never resumed).
    pub starts: u32,
    pub counters: Counters,
    /// The next frontier sequence number.
    pub next_seq: u64,
}

/// A URL waiting on the frontier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontierEntry {
    pub url: String,
    pub depth: u32,
    pub kind: Option<PageKind>,
}

/// The outcome of one page, handed to [`Store::commit_page`]. Serialisable:
/// a cluster's workers send it to the control plane that commits it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageResult {
    /// The frontier sequence number the page was dispatched under.
    pub seq: u64,
    pub url: String,
    pub outcome: PageOutcome,
    /// The capture the page was read from, for the evidence ledger (none when
    /// nothing was received).
    pub capture: Option<evidence::CaptureManifest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageOutcome {
    Fetched {
        listings: Vec<Listing>,
        shops: Vec<Shop>,
        /// Links to follow now.
        links: Vec<FrontierEntry>,
        /// Item links held back for the sample draw.
        candidates: Vec<FrontierEntry>,
    },
    Failed {
        error: String,
        robots: bool,
    },
}

/// Seen-set states.
const QUEUED: u8 = 0;
const DONE: u8 = 1;
const FAILED: u8 = 2;
const CANDIDATE: u8 = 3;

/// The per-job trees.
#[derive(Clone)]
pub struct JobFrontier {
    queue: Tree,
    seen: Tree,
    candidates: Tree,
    errors: Tree,
}

impl JobFrontier {
    /// Pending entries with sequence number ≥ `from`, in order.
    pub fn pending_from(&self, from: u64) -> impl Iterator<Item = Result<(u64, FrontierEntry), StoreError>> + '_ {
        self.queue.range(from.to_be_bytes()..).map(|entry| {
            let (key, value) = entry?;
            let seq = key
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt("queue", &key, "key is not a u64"))?;
            let entry = serde_json::from_slice(&value).map_err(|e| corrupt("queue", &key, &e.to_string()))?;
            Ok((seq, entry))
        })
    }

    /// Whether page `seq` is still waiting to be committed.
    pub fn is_pending(&self, seq: u64) -> Result<bool, StoreError> {
        Ok(self.queue.contains_key(seq.to_be_bytes())?)
    }

    /// The pending entry `seq`, if it is still pending.
    pub fn pending_entry(&self, seq: u64) -> Result<Option<FrontierEntry>, StoreError> {
        match self.pending_from(seq).next() {
            Some(Ok((at, entry))) if at == seq => Ok(Some(entry)),
            Some(Err(e)) => Err(e),
            _ => Ok(None),
        }
    }

    pub fn pending_len(&self) -> usize {
        self.queue.len()
    }

    /// URLs the job has ever admitted (queued, done, failed or held back as
    /// candidates): the seen-set's size. Counts by scanning the tree.
    pub fn seen_len(&self) -> usize {
        self.seen.len()
    }

    /// Every URL that failed, with its error.
    pub fn errors(&self) -> impl Iterator<Item = Result<(String, String), StoreError>> + '_ {
        self.errors.iter().map(|entry| {
            let (k, v) = entry?;
            Ok((String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
        })
    }

    /// Whether `url` was fetched (not failed) in this job.
    pub fn fetched(&self, url: &str) -> Result<bool, StoreError> {
        Ok(matches!(self.seen.get(url)?.as_deref(), Some([DONE])))
    }

    /// Whether `url` was already finished (fetched or failed) in this job.
    pub fn is_done(&self, url: &str) -> Result<bool, StoreError> {
        Ok(matches!(self.seen.get(url)?.as_deref(), Some([DONE]) | Some([FAILED])))
    }
}

fn corrupt(tree: &str, key: &[u8], detail: &str) -> StoreError {
    StoreError::Corrupt { tree: tree.into(), key: String::from_utf8_lossy(key).into_owned(), detail: detail.into() }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Puts `entry` on the frontier unless its URL was seen before. Returns whether it was added.
fn enqueue(
    queue: &TransactionalTree,
    seen: &TransactionalTree,
    next_seq: &mut u64,
    entry: &FrontierEntry,
) -> Result<bool, ConflictableTransactionError<StoreError>> {
    if seen.get(entry.url.as_bytes())?.is_some() {
        return Ok(false);
    }
    seen.insert(entry.url.as_bytes(), [QUEUED])?;
    queue.insert(next_seq.to_be_bytes(), to_json(entry))?;
    *next_seq += 1;
    Ok(true)
}

/// What [`Store::begin_job`] does with a spec: resume its unfinished run or start a run with this id.
enum NextJob {
    Resume(Box<JobRecord>),
    New(String),
}

/// The key of a sample candidate: a keyed hash of its URL (so the draw is a
/// uniform random choice reproducible from the seed), then the URL itself.
fn candidate_key(seed: u64, url: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    h.update(url.as_bytes());
    let digest = h.finalize();
    let mut key = digest[..8].to_vec();
    key.extend_from_slice(url.as_bytes());
    key
}

impl Store {
    /// Starts the job for `spec`, or resumes its unfinished run.
    /// Returns the run and whether it was resumed.
    pub fn begin_job(&self, spec: &JobSpec, random_seed: u64) -> Result<(JobRecord, bool), StoreError> {
        let fingerprint = spec.fingerprint();
        let id = match self.next_job_for(spec)? {
            NextJob::Resume(mut job) => {
                job.starts += 1;
                job.updated_at = Utc::now();
                self.jobs.insert(job.id.as_bytes(), to_json(&job))?;
                return Ok((*job, true));
            }
            NextJob::New(id) => id,
        };
        let now = Utc::now();
        let mut job = JobRecord {
            id,
            spec: spec.clone(),
            status: JobStatus::Running,
            sample_seed: spec.sample_seed.unwrap_or(random_seed),
            created_at: now,
            updated_at: now,
            finished_at: None,
            starts: 1,
            counters: Counters::default(),
            next_seq: 0,
        };
        let frontier = self.frontier(&job.id)?;
        let seeds: Vec<FrontierEntry> =
            spec.start_urls().into_iter().map(|url| FrontierEntry { url, depth: 0, kind: None }).collect();
        let committed = (&self.jobs, &self.job_runs, &frontier.queue, &frontier.seen).transaction(
            |(jobs, runs, queue, seen)| {
                let mut job = job.clone();
                for seed in &seeds {
                    if enqueue(queue, seen, &mut job.next_seq, seed)? {
                        job.counters.queued += 1;
                    }
                }
                jobs.insert(job.id.as_bytes(), to_json(&job))?;
                runs.insert(fingerprint.as_bytes(), job.id.as_bytes())?;
                Ok(job)
            },
        )?;
        job = committed;
        Ok((job, false))
    }

    /// The id [`Store::begin_job`] would give `spec`'s run now: its unfinished
    /// run's, or the next run's. Plan runs show a job's progress from its id
    /// before the crawl has begun it; only one caller may begin a spec at a time.
    pub fn job_id_for(&self, spec: &JobSpec) -> Result<String, StoreError> {
        Ok(match self.next_job_for(spec)? {
            NextJob::Resume(job) => job.id,
            NextJob::New(id) => id,
        })
    }

    fn next_job_for(&self, spec: &JobSpec) -> Result<NextJob, StoreError> {
        let fingerprint = spec.fingerprint();
        if let Some(id) = self.job_runs.get(fingerprint.as_bytes())? {
            let job = self.job(&String::from_utf8_lossy(&id))?;
            if job.status == JobStatus::Running {
                return Ok(NextJob::Resume(Box::new(job)));
            }
        }
        let run = self.jobs.scan_prefix(format!("{fingerprint}-").as_bytes()).count() + 1;
        Ok(NextJob::New(format!("{fingerprint}-{run}")))
    }

    pub fn job(&self, id: &str) -> Result<JobRecord, StoreError> {
        let bytes = self.jobs.get(id.as_bytes())?.ok_or_else(|| StoreError::JobNotFound(id.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt("jobs", id.as_bytes(), &e.to_string()))
    }

    /// Every job run, oldest id first.
    pub fn jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in self.jobs.iter() {
            let (k, v) = entry?;
            out.push(serde_json::from_slice(&v).map_err(|e| corrupt("jobs", &k, &e.to_string()))?);
        }
        Ok(out)
    }

    /// The frontier trees of job `id`.
    pub fn frontier(&self, id: &str) -> Result<JobFrontier, StoreError> {
        let tree = |name: &str| self.db.open_tree(format!("job/{id}/{name}"));
        Ok(JobFrontier {
            queue: tree("queue")?,
            seen: tree("seen")?,
            candidates: tree("candidates")?,
            errors: tree("errors")?,
        })
    }

    /// Commits everything one page produced, atomically: its listings and shops
    /// (new versions only when changed), the links it adds to the frontier, its
    /// removal from the queue, and the job's counters. `job` is updated on success.
    pub fn commit_page(
        &self,
        job: &mut JobRecord,
        frontier: &JobFrontier,
        page: &PageResult,
    ) -> Result<(), StoreError> {
        let trees = (
            &self.listing_versions,
            &self.listing_heads,
            &self.shop_versions,
            &self.shop_heads,
            &self.jobs,
            &frontier.queue,
            &frontier.seen,
            &frontier.candidates,
            &frontier.errors,
        );
        let updated = trees.transaction(|(lv, lh, sv, sh, jobs, queue, seen, candidates, errors)| {
            let mut job = job.clone();
            let c = &mut job.counters;
            if queue.remove(page.seq.to_be_bytes())?.is_none() {
                // Already committed (a duplicate result): nothing to do.
                return Ok(None);
            }
            c.pages += 1;
            match &page.outcome {
                PageOutcome::Failed { error, robots } => {
                    seen.insert(page.url.as_bytes(), [FAILED])?;
                    errors.insert(page.url.as_bytes(), error.as_bytes())?;
                    if *robots {
                        c.robots_skipped += 1;
                    } else {
                        c.errors += 1;
                    }
                }
                PageOutcome::Fetched { listings, shops, links, candidates: held } => {
                    seen.insert(page.url.as_bytes(), [DONE])?;
                    for listing in listings {
                        let id = versioned::identity(&listing.platform, &listing.item_id);
                        match versioned::put(lv, lh, &id, &to_json(&listing.content()), &to_json(listing))? {
                            Stored::New => c.listings_new += 1,
                            Stored::Changed(_) => c.listings_changed += 1,
                            Stored::Unchanged => c.listings_unchanged += 1,
                        }
                    }
                    for shop in shops {
                        let id = versioned::identity(&shop.platform, &shop.shop_id);
                        match versioned::put(sv, sh, &id, &to_json(&shop.content()), &to_json(shop))? {
                            Stored::New => c.shops_new += 1,
                            Stored::Changed(_) => c.shops_changed += 1,
                            Stored::Unchanged => c.shops_unchanged += 1,
                        }
                    }
                    let mut next_seq = job.next_seq;
                    for link in links {
                        if enqueue(queue, seen, &mut next_seq, link)? {
                            job.counters.queued += 1;
                        }
                    }
                    job.next_seq = next_seq;
                    for link in held {
                        if seen.get(link.url.as_bytes())?.is_none() {
                            seen.insert(link.url.as_bytes(), [CANDIDATE])?;
                            candidates.insert(candidate_key(job.sample_seed, &link.url), to_json(link))?;
                            job.counters.candidates += 1;
                        }
                    }
                }
            }
            job.updated_at = Utc::now();
            jobs.insert(job.id.as_bytes(), to_json(&job))?;
            Ok(Some(job))
        })?;
        if let Some(updated) = updated {
            *job = updated;
        }
        Ok(())
    }

    /// Moves up to `sample − already drawn` candidates, in the seed's random
    /// order, onto the frontier. Returns how many were drawn.
    pub fn draw_sample(&self, job: &mut JobRecord, frontier: &JobFrontier) -> Result<u64, StoreError> {
        let want = job.spec.sample.unwrap_or(0).saturating_sub(job.counters.sampled);
        if want == 0 {
            return Ok(0);
        }
        let mut picked = Vec::new();
        for entry in frontier.candidates.iter().take(want as usize) {
            let (key, value) = entry?;
            let link: FrontierEntry =
                serde_json::from_slice(&value).map_err(|e| corrupt("candidates", &key, &e.to_string()))?;
            picked.push((key, link));
        }
        let updated = (&self.jobs, &frontier.queue, &frontier.seen, &frontier.candidates).transaction(
            |(jobs, queue, seen, candidates)| {
                let mut job = job.clone();
                for (key, link) in &picked {
                    candidates.remove(key)?;
                    seen.remove(link.url.as_bytes())?;
                    if enqueue(queue, seen, &mut job.next_seq, link)? {
                        job.counters.queued += 1;
                        job.counters.sampled += 1;
                    }
                }
                jobs.insert(job.id.as_bytes(), to_json(&job))?;
                Ok(job)
            },
        )?;
        let drawn = updated.counters.sampled - job.counters.sampled;
        *job = updated;
        Ok(drawn)
    }

    /// Marks the job completed.
    pub fn finish_job(&self, job: &mut JobRecord) -> Result<(), StoreError> {
        let now = Utc::now();
        job.status = JobStatus::Completed;
        job.finished_at = Some(now);
        job.updated_at = now;
        self.jobs.insert(job.id.as_bytes(), to_json(job))?;
        self.flush()
    }
}
