//! The page shell every console page shares: head (our stylesheet and
//! script only — the CSP allows nothing else), the navigation for the
//! viewer's role, the signed-in name and the sign-out form, and small helpers
//! pages use (times on the Asia/Shanghai clock, role names, badges).
//!
//! Everything is built with maud's `html!`, which escapes every `(value)`
//! spliced in: crawled titles, shop names and notes cannot become markup.
//! Nothing here or in any page uses `PreEscaped` on data.

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use super::auth::Viewer;
use crate::access::Role;

/// A top-level section, for the navigation's highlight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Plans,
    Findings,
    Cases,
    Notices,
    Shops,
    Reports,
}

/// (section, link, label, who sees it)
const SECTIONS: &[(Nav, &str, &str, &[Role])] = &[
    (Nav::Dashboard, "/console/", "总览", &[Role::Staff, Role::Admin]),
    (Nav::Plans, "/console/plans", "抽查计划", &[Role::Staff, Role::Admin]),
    (Nav::Findings, "/console/findings", "线索研判", &[Role::Staff, Role::Admin]),
    (Nav::Cases, "/console/cases", "案件", &[Role::Staff, Role::Admin, Role::Enforcement]),
    (Nav::Notices, "/console/notices", "下架通知", &[Role::Staff, Role::Admin, Role::Enforcement]),
    (Nav::Shops, "/console/shops", "店铺", &[Role::Staff, Role::Admin]),
    (Nav::Reports, "/console/reports", "抽查报告", &[Role::Staff, Role::Admin]),
];

/// The Chinese name of a role.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "管理员",
        Role::Staff => "监管人员",
        Role::Enforcement => "执法人员",
    }
}

/// Where a person of `role` lands after signing in.
pub fn home(role: Role) -> &'static str {
    match role {
        Role::Enforcement => "/console/cases",
        Role::Staff | Role::Admin => "/console/",
    }
}

/// `2026-11-23 09:30` on the Asia/Shanghai clock (the regulator's).
pub fn time(at: &DateTime<Utc>) -> String {
    at.with_timezone(&crate::plans::shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// `2026-11-23 09:30:05 (UTC+8)`, for evidence where seconds matter.
pub fn time_exact(at: &DateTime<Utc>) -> String {
    at.with_timezone(&crate::plans::shanghai()).format("%Y-%m-%d %H:%M:%S (UTC+8)").to_string()
}

/// A coloured label; `kind` is one of the stylesheet's badge classes
/// (`ok`, `warn`, `bad`, `info`, `muted`).
pub fn badge(kind: &str, text: &str) -> Markup {
    html! { span class={ "badge " (kind) } { (text) } }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · spotcheck 网络抽查" }
            link rel="stylesheet" href="/console/static/console.css";
            script src="/console/static/console.js" defer {}
        }
    }
}

/// A page without navigation (log-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body.bare { (body) }
        }
    }
}

/// A page with the navigation of `viewer`'s role, `active` highlighted.
pub fn page(viewer: &Viewer, active: Nav, title: &str, body: Markup) -> Markup {
    let role = viewer.user.role;
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body {
                header.top {
                    a.brand href=(home(role)) { "spotcheck" span { "网络交易产品质量抽查" } }
                    nav {
                        @for (nav, href, label, roles) in SECTIONS {
                            @if roles.contains(&role) {
                                a href=(href) class=[(*nav == active).then_some("active")] { (label) }
                            }
                        }
                    }
                    div.who {
                        span.name { (viewer.user.display) }
                        " " (badge("muted", role_name(role)))
                        @if let Some(bureau) = &viewer.user.bureau { " " span.bureau { (bureau) } }
                        form method="post" action="/console/logout" {
                            (viewer.csrf_field())
                            button.link type="submit" { "退出" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}
