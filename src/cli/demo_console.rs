//! The demo's last step: console accounts for each role, so the console can
//! be opened at once with a ready log-in (printed, and kept in
//! `console-logins.txt`, mode 0600, in the demo's data directory), and with
//! `demo --serve` the console itself over the demo's data while the sample
//! marketplace stays up for plan runs.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use crate::access::Role;
use crate::config::DataDir;
use crate::console::users::{generate_password, ConsoleUsers};
use crate::store::Store;

/// The demo's bureau for its enforcement account when no case was opened.
const FALLBACK_BUREAU: &str = "330100";

/// One ready log-in.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub name: String,
    pub role: Role,
    pub bureau: Option<String>,
    pub password: String,
}

/// The demo's accounts and where they are written down.
#[derive(Debug, Clone, Serialize)]
pub struct DemoLogins {
    pub logins: Vec<Login>,
    pub file: PathBuf,
}

impl DemoLogins {
    /// The staff log-in: the one to start with.
    pub fn staff(&self) -> Option<&Login> {
        self.logins.iter().find(|l| l.role == Role::Staff)
    }
}

/// Makes `staff`, `zhifa` (enforcement, the bureau of the first case) and
/// `admin` with fresh passwords, and writes them to `console-logins.txt`.
pub fn accounts(dir: &DataDir, store: &Store, first_bureau: Option<String>) -> anyhow::Result<DemoLogins> {
    let users = ConsoleUsers::open(store.db())?;
    let bureau = first_bureau.unwrap_or_else(|| FALLBACK_BUREAU.to_string());
    let wanted = [
        ("staff", "张伟（网监）", Role::Staff, None),
        ("zhifa", "李娜（执法）", Role::Enforcement, Some(bureau)),
        ("admin", "系统管理员", Role::Admin, None),
    ];
    let mut logins = Vec::new();
    for (name, display, role, bureau) in wanted {
        let password = generate_password();
        users.add(name, Some(display), role, bureau.as_deref(), &password, Utc::now())?;
        logins.push(Login { name: name.into(), role, bureau, password });
    }
    let file = dir.root().join("console-logins.txt");
    let mut text =
        String::from("# spotcheck demo console accounts (generated; change with `spotcheck users passwd`)\n");
    for l in &logins {
        text += &format!("{} {} {} {}\n", l.name, l.role, l.bureau.as_deref().unwrap_or("-"), l.password);
    }
    write_private(&file, &text)?;
    Ok(DemoLogins { logins, file })
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write `{}`", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("cannot write `{}`", path.display()))
}

/// The console line printed when the demo ends without `--serve`.
pub fn how_to_open(dir: &DataDir, logins: &DemoLogins) -> String {
    let staff = logins.staff().map_or(String::new(), |l| format!("  log in: {} / {}", l.name, l.password));
    format!(
        "  console  spotcheck --data-dir {} serve  →  http://127.0.0.1:8090/console/{staff}\n           (all accounts in {}; `spotcheck demo --serve` keeps the marketplace up for plan runs)",
        dir.root().display(),
        logins.file.display()
    )
}

/// The console line printed once `demo --serve` is listening.
pub fn listening_line(addr: SocketAddr, logins: &DemoLogins) -> String {
    let staff = logins.staff().map_or(String::new(), |l| format!("  log in: {} / {}", l.name, l.password));
    format!("console: http://{addr}/console/{staff}  (Ctrl-C stops)")
}

/// The demo's example plan: both sample platforms, the 双11 campaign, run by
/// hand, 60 listings drawn by risk. Written through the plan book (so it is
/// validated like any plan) into the demo's `plans/`.
pub fn example_plan(dir: &DataDir, market: &url::Url) -> anyhow::Result<String> {
    let id = "demo-double11";
    let text = format!(
        "id = \"{id}\"\ntitle = \"双11 样品市场网络抽查（示例）\"\nclasses = []\nplatforms = [\"sample-mall\", \"sample-duo\"]\n\
         seed_urls = [\"{market}mall/\", \"{market}duo/\"]\ncampaign = \"双11\"\nschedule = \"manual\"\nmissed = \"skip\"\n\n\
         [sample]\nsize = 60\nweighting = \"risk\"\n"
    );
    let names = crate::adapters::AdapterSet::builtin().names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::plans::PlanBook::open(dir).save(id, &text, &names).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the demo's example plan does not compile: {}", list.join("; "))
    })?;
    Ok(id.to_string())
}

/// Writes the marketplace's spot-check history where the console and plan
/// runs look for an imported one (`reference/history.csv`).
pub fn write_history(market: &crate::market::Market, path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let file = std::fs::File::create(path).with_context(|| format!("cannot write `{}`", path.display()))?;
    market.write_history(std::io::BufWriter::new(file))?;
    Ok(())
}
