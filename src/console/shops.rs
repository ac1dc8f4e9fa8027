//! 店铺: the shops that have findings, one row per operator — grouped across
//! platforms by the USCC when the shop page shows one, else per platform
//! shop — and one operator with its shop on each platform, its findings and
//! cases over time, its past spot-checks and whether it is on the key list
//! (重点监管名单: failed in at least 2 of the last 3 calendar years), read
//! from the history table imported into the data directory.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use evidence::finding::FindingRecord;
use maud::{html, Markup};

use super::auth::Viewer;
use super::cases::status_badge as case_badge;
use super::error::ConsoleError;
use super::findings::{listing_of, status_badge};
use super::layout::{badge, page, time, Nav};
use super::listing::{page_of, path_id, Params};
use super::text::{cell, clip};
use super::ConsoleState;
use crate::findings::Status;
use crate::model::Shop;
use crate::rules::CheckHistory;
use crate::sampling::RiskFactors;

pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/shops", get(list)).route("/console/shops/{key}", get(detail))
}

/// Where the imported spot-check history is read from, under the data directory.
pub const HISTORY_FILE: &str = "reference/history.csv";

/// One operator (or one platform shop when no USCC is known) with its findings.
#[derive(Default)]
struct Operator {
    uscc: Option<String>,
    /// `platform/shop_id` → the latest stored version.
    shops: BTreeMap<String, Option<Shop>>,
    findings: Vec<(FindingRecord, Status)>,
}

impl Operator {
    fn name(&self) -> String {
        let names: BTreeSet<&str> = self.shops.values().flatten().filter_map(|s| s.name.as_deref()).collect();
        names.into_iter().collect::<Vec<_>>().join("、")
    }

    fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|(_, s)| *s == status).count()
    }
}

/// Every operator with a finding, by group key (`u:USCC` or `s:platform/shop_id`).
fn operators(state: &ConsoleState) -> Result<BTreeMap<String, Operator>, ConsoleError> {
    let mut shops: BTreeMap<String, Option<Shop>> = BTreeMap::new();
    let mut out: BTreeMap<String, Operator> = BTreeMap::new();
    let findings = &state.api.triage.findings;
    for f in findings.all() {
        let f = f?;
        let Some(listing) = listing_of(state, &f.listing, None)? else { continue };
        let Some(shop_ref) = &listing.shop else { continue };
        let shop_key = format!("{}/{}", listing.platform, shop_ref.shop_id);
        if !shops.contains_key(&shop_key) {
            let shop = state.api.store.shop_versions(&listing.platform, &shop_ref.shop_id)?.pop();
            shops.insert(shop_key.clone(), shop);
        }
        let shop = shops.get(&shop_key).cloned().flatten();
        let uscc =
            shop.as_ref().and_then(|s| s.uscc.as_deref()).map(|u| u.trim().to_uppercase()).filter(|u| !u.is_empty());
        let key = match &uscc {
            Some(u) => format!("u:{u}"),
            None => format!("s:{shop_key}"),
        };
        let status = findings.triage(&f.id)?.status;
        let op = out.entry(key).or_default();
        op.uscc = uscc;
        op.shops.insert(shop_key, shop);
        op.findings.push((f, status));
    }
    Ok(out)
}

fn href(key: &str) -> String {
    format!("/console/shops/{}", url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>())
}

async fn list(State(state): State<ConsoleState>, viewer: Viewer, params: Params) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    let mut ops: Vec<(String, Operator)> = operators(&state)?.into_iter().collect();
    ops.sort_by(|a, b| b.1.findings.len().cmp(&a.1.findings.len()).then(a.0.cmp(&b.0)));
    let found = page_of(ops.into_iter().map(Ok::<_, ConsoleError>), params.page()?, |_| Ok(true))?;
    let body = html! {
        p.hint { "同一统一社会信用代码的店铺跨平台合并为一行；未公示代码的店铺按平台店铺单列。" }
        table {
            thead { tr { th { "经营者 / 店铺" } th { "统一社会信用代码" } th { "平台店铺" } th.num { "待研判" } th.num { "已确认" } th.num { "已排除" } } }
            tbody { @for (key, op) in &found.rows {
                tr {
                    td.crawled { a href=(href(key)) { (cell(&op.name())) @if op.name().is_empty() { "（无店名）" } } }
                    td { @if let Some(u) = &op.uscc { code { (clip(u, 30)) } } @else { "—" } }
                    td { (op.shops.len()) }
                    td.num { (op.count(Status::Open)) }
                    td.num { (op.count(Status::Confirmed)) }
                    td.num { (op.count(Status::Dismissed)) }
                }
            } }
        }
        (found.pager("/console/shops", &params))
    };
    Ok(page(&viewer, Nav::Shops, "店铺", body).into_response())
}

/// The imported history table, if there is one; an unreadable one is an error to fix.
fn history(state: &ConsoleState) -> Result<Option<CheckHistory>, ConsoleError> {
    let path = state.data.root().join(HISTORY_FILE);
    match std::fs::File::open(&path) {
        Ok(file) => CheckHistory::from_csv(file).map(Some).map_err(ConsoleError::internal),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConsoleError::internal(format!("{}: {e}", path.display()))),
    }
}

fn history_panel(state: &ConsoleState, uscc: Option<&str>) -> Result<Markup, ConsoleError> {
    let Some(uscc) = uscc else {
        return Ok(html! { p.muted { "店铺未公示统一社会信用代码，无法对照抽查历史。" } });
    };
    let Some(table) = history(state)? else {
        return Ok(html! {
            p { (badge("muted", "未载入抽查历史表")) " 数据目录下没有 " code { (HISTORY_FILE) } "，无法判定是否列入重点监管名单。" }
        });
    };
    let today = Utc::now().with_timezone(&crate::plans::shanghai()).date_naive();
    let risk = RiskFactors::from_history(&table, uscc, today);
    let rows = table.for_uscc(uscc);
    Ok(html! {
        p {
            @if risk.key_list { (badge("bad", "重点监管名单")) " 近三个自然年内至少两年抽查不合格。" }
            @else { (badge("ok", "未列入重点监管名单")) }
            " 历史不合格 " (risk.past_failures) " 次。"
        }
        @if rows.is_empty() { p.muted { "历史表中没有该经营者的抽查记录。" } } @else {
            table {
                thead { tr { th { "日期" } th { "产品" } th { "结果" } } }
                tbody { @for r in rows.iter().take(100) {
                    tr { td { (clip(&r.date, 20)) } td.crawled { (cell(&r.product)) } td { (clip(&r.result, 10)) } }
                } }
            }
        }
    })
}

async fn detail(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(key): Path<String>,
) -> Result<Response, ConsoleError> {
    viewer.require_staff()?;
    path_id(&key, "店铺")?;
    let op = operators(&state)?.remove(&key).ok_or(ConsoleError::not_found("店铺"))?;
    let mut rows = Vec::new();
    let mut cases = BTreeSet::new();
    for (f, status) in op.findings.iter().take(200) {
        let at = listing_of(&state, &f.listing, f.capture.as_deref())?.and_then(|l| l.captured_at);
        let case = state.api.triage.cases.case_of(&f.id)?;
        cases.extend(case.clone());
        rows.push((f, *status, at, case));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    let mut case_rows = Vec::new();
    for id in &cases {
        case_rows.extend(state.api.triage.cases.get(id)?);
    }
    case_rows.sort_by_key(|c| std::cmp::Reverse(c.opened_at));
    let name = op.name();
    let body = html! {
        div.grid2 {
            div.panel {
                h2 { "各平台店铺" }
                dl.facts { @for (shop_key, shop) in &op.shops {
                    dt { code { (clip(shop_key, 120)) } }
                    dd.crawled { @match shop {
                        Some(s) => {
                            (cell(s.name.as_deref().unwrap_or("—")))
                            @if let Some(n) = &s.operator_name { br; "经营者 " (cell(n)) }
                            @if let Some(a) = &s.address { br; "地址 " (cell(a)) }
                            br; "店铺网址 " code.url { (clip(&s.url, 300)) }
                        }
                        None => "未存储店铺页",
                    } }
                } }
                h2 { "抽查历史与重点监管名单" }
                (history_panel(&state, op.uscc.as_deref())?)
            }
            div.panel {
                h2 { "案件" }
                @if case_rows.is_empty() { p.muted { "暂无案件。" } }
                ul { @for c in &case_rows {
                    li { a href={ "/console/cases/" (c.id) } { (c.id) } " " (time(&c.opened_at)) " " (case_badge(c.status)) }
                } }
                h2 { "线索（" (op.findings.len()) "）" }
                @if op.findings.len() > rows.len() { p.muted { "仅列出前 " (rows.len()) " 条。" } }
                table {
                    thead { tr { th { "采集时间" } th { "规则" } th { "商品" } th { "状态" } } }
                    tbody { @for (f, status, at, _) in &rows {
                        tr {
                            td { @if let Some(at) = at { (time(at)) } @else { "—" } }
                            td { a href={ "/console/findings/" (f.id) } { (cell(&f.title)) } }
                            td { code { (clip(&f.listing, 80)) } }
                            td { (status_badge(*status)) }
                        }
                    } }
                }
            }
        }
    };
    let title = if name.is_empty() { "店铺".to_string() } else { clip(&name, 60) };
    Ok(page(&viewer, Nav::Shops, &title, body).into_response())
}
