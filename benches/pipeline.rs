//! Micro-benchmarks of each pipeline stage's hot path (criterion):
//! `cargo bench --bench pipeline [FILTER]`.
//!
//! - `extract/*`: one page through an adapter (the sample marketplace's two
//!   platform styles, served on loopback once to get their HTML) and through
//!   the generic extractor (a real page from `../shared/realpages`, skipped
//!   when that folder is not beside the repository);
//! - `parse/*`: the value parsers adapters apply to every field;
//! - `rules/*`: the full shipped rule set over 1,000 sample listings;
//! - `evidence/*`: SHA-256, content-addressed writes, Merkle proofs.
//!
//! Whole-stage figures (pages/s, req/s, against the peers) are
//! `spotcheck bench all`; these are for finding out where time goes.

// A benchmark that cannot set itself up should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use url::Url;

use evidence::merkle::{self, MemoryTree};
use evidence::{BlobStore, Digest};
use spotcheck::adapters::{parsers, AdapterSet};
use spotcheck::market::{Market, MarketConfig};
use spotcheck::rules::workload::Workload;

/// The HTML of a few sample-marketplace pages, fetched once from a loopback server.
fn sample_pages() -> Vec<(&'static str, Url, Vec<u8>)> {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let market = Arc::new(Market::new(MarketConfig { seed: 1, listings: 200, count_hits: false }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let base = Url::parse(&format!("http://{}/", listener.local_addr().expect("an address"))).expect("a URL");
        let app = Arc::clone(&market).router();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut pages = Vec::new();
        for (adapter, shop) in [("sample-mall", false), ("sample-duo", false), ("sample-mall", true)] {
            let url = pick_url(&market, &base, adapter, shop);
            let body = reqwest::get(url.clone()).await.expect("the page").bytes().await.expect("its body");
            pages.push((adapter, url, body.to_vec()));
        }
        server.abort();
        pages
    })
}

/// The platform's first item page, or that item's shop page.
fn pick_url(market: &Market, base: &Url, platform: &str, shop: bool) -> Url {
    let truth = market.truth(base).find(|t| t.listing.platform == platform).expect("a listing of the platform");
    if shop {
        let url = truth.listing.shop.and_then(|s| s.url).expect("a shop URL");
        return Url::parse(&url).expect("a shop URL");
    }
    Url::parse(&truth.listing.url).expect("an item URL")
}

fn realpage() -> Option<(Url, Vec<u8>)> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/realpages/fathom_products/test/bandh/source.html");
    let body = std::fs::read(path).ok()?;
    Some((Url::parse("https://www.bhphotovideo.com/").ok()?, body))
}

fn extract(c: &mut Criterion) {
    let adapters = AdapterSet::builtin();
    let mut group = c.benchmark_group("extract");
    for (name, url, body) in sample_pages() {
        let adapter = adapters.get(name).expect("a built-in adapter");
        let kind = if url.path().contains("shop") { "shop" } else { "item" };
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(format!("{name}-{kind}"), |b| {
            b.iter(|| black_box(adapter.extract(&url, black_box(&body)).expect("extracts")))
        });
    }
    if let Some((url, body)) = realpage() {
        let generic = adapters.get("generic").expect("the generic adapter");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("generic-real-page-550KB", |b| {
            b.iter(|| black_box(generic.extract(&url, black_box(&body)).expect("extracts")))
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.bench_function("yuan", |b| b.iter(|| parsers::yuan(black_box("到手价 ￥1,299.00 起"))));
    group.bench_function("count", |b| b.iter(|| parsers::count(black_box("月销 1.2万+"))));
    group.bench_function("text", |b| b.iter(|| parsers::text(black_box("  美的\u{3000}电饭煲\n MB-FB40  "))));
    group.finish();
}

fn rules(c: &mut Criterion) {
    let workload = Workload::sample_market(1_000, 1).expect("the sample workload");
    let inputs = workload.inputs();
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("full-set-1000-listings", |b| {
        b.iter(|| inputs.iter().map(|i| workload.set.evaluate(i).len()).sum::<usize>())
    });
    group.finish();
}

fn evidence(c: &mut Criterion) {
    let mut group = c.benchmark_group("evidence");
    let body: Vec<u8> = (0..128 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("sha256-128KiB", |b| b.iter(|| Digest::of(black_box(&body))));

    let dir = tempfile::tempdir().expect("a temporary directory");
    let blobs = BlobStore::open(dir.path().join("blobs")).expect("a blob store").with_fsync(false);
    let mut n = 0u64;
    group.bench_function("blob-put-128KiB-no-fsync", |b| {
        b.iter_batched(
            || {
                n += 1;
                let mut page = body.clone();
                page[..8].copy_from_slice(&n.to_le_bytes());
                page
            },
            |page| blobs.put(&page).expect("stored"),
            BatchSize::LargeInput,
        )
    });

    let mut tree = MemoryTree::new();
    for i in 0..100_000u32 {
        tree.push(merkle::leaf_hash(&i.to_le_bytes()));
    }
    let size = tree.len();
    let root = merkle::root(&tree, size).expect("a root");
    let leaf = merkle::leaf_hash(&4_242u32.to_le_bytes());
    group.throughput(Throughput::Elements(1));
    group.bench_function("merkle-inclusion-proof-100k", |b| {
        b.iter(|| merkle::inclusion_proof(&tree, black_box(4_242), size).expect("a proof"))
    });
    let proof = merkle::inclusion_proof(&tree, 4_242, size).expect("a proof");
    group.bench_function("merkle-verify-inclusion-100k", |b| {
        b.iter(|| assert!(merkle::verify_inclusion(4_242, size, &leaf, black_box(&proof), &root)))
    });
    group.finish();
}

criterion_group!(benches, extract, parse, rules, evidence);
criterion_main!(benches);
