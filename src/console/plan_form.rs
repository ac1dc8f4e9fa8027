//! The plan form: what staff fill in, turned into plan TOML with the `toml`
//! crate (never by pasting their text into a template), and back from a
//! saved plan for editing. Validation is the plan compiler's; this module
//! only reports what cannot even be written (a sample size that is no number).

use maud::{html, Markup};
use toml::{Table, Value};

use super::auth::Viewer;
use crate::diagnostics::Problem;
use crate::plans::{MissedPolicy, Plan, Schedule};
use crate::rules::reference::Catalogue;
use crate::sampling::Weighting;

/// Campaign tags offered as suggestions (any other may be typed).
pub const CAMPAIGNS: &[&str] = &["双11", "618", "3·15", "年货节", "开学季"];

/// The form's values, as typed (kept as text so a bad value is shown back as it was).
#[derive(Debug, Clone, Default)]
pub struct PlanForm {
    pub id: String,
    pub title: String,
    /// Checked catalogue class ids.
    pub classes: Vec<String>,
    /// Other classes, one per line or separated by commas.
    pub classes_other: String,
    pub platforms: Vec<String>,
    pub keywords: String,
    pub seed_urls: String,
    /// Non-public hosts the plan may reach, one `HOST[:PORT]` per line.
    pub allow_hosts: String,
    pub sample_size: String,
    pub weighting: String,
    pub campaign: String,
    /// `cron` or `manual`.
    pub schedule_kind: String,
    pub cron: String,
    pub missed: String,
    pub rate: String,
    pub concurrency: String,
    /// The advanced editor's TOML; saved as it is when `advanced` is set.
    pub toml: String,
    pub advanced: bool,
}

/// Items of a textarea or a comma list: trimmed, empty ones dropped.
fn items(text: &str, commas: bool) -> Vec<String> {
    text.split(|c| c == '\n' || (commas && (c == ',' || c == '，' || c == '、')))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl PlanForm {
    /// A new plan's defaults.
    pub fn blank() -> PlanForm {
        PlanForm {
            sample_size: "50".into(),
            weighting: "risk".into(),
            schedule_kind: "manual".into(),
            cron: "0 2 * * *".into(),
            missed: "run_once".into(),
            ..PlanForm::default()
        }
    }

    /// The form from posted `name=value` pairs (checkboxes repeat their name).
    pub fn from_pairs(pairs: &[(String, String)]) -> PlanForm {
        let mut f = PlanForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "id" => f.id = v.trim().to_string(),
                "title" => f.title = v.clone(),
                "class" => f.classes.push(v.clone()),
                "classes_other" => f.classes_other = v.clone(),
                "platform" => f.platforms.push(v.clone()),
                "keywords" => f.keywords = v.clone(),
                "seed_urls" => f.seed_urls = v.clone(),
                "allow_hosts" => f.allow_hosts = v.clone(),
                "sample_size" => f.sample_size = v.trim().to_string(),
                "weighting" => f.weighting = v.clone(),
                "campaign" => f.campaign = v.clone(),
                "schedule_kind" => f.schedule_kind = v.clone(),
                "cron" => f.cron = v.clone(),
                "missed" => f.missed = v.clone(),
                "rate" => f.rate = v.trim().to_string(),
                "concurrency" => f.concurrency = v.trim().to_string(),
                "toml" => f.toml = v.clone(),
                "action" => f.advanced = v == "toml",
                _ => {}
            }
        }
        f
    }

    /// The form of a saved plan; `source` fills the advanced editor.
    pub fn from_plan(plan: &Plan, source: &str, catalogue: &Catalogue) -> PlanForm {
        let known = |c: &String| catalogue.classes.iter().any(|k| &k.id == c);
        let (checked, other): (Vec<String>, Vec<String>) = plan.classes.iter().cloned().partition(known);
        PlanForm {
            id: plan.id.clone(),
            title: plan.title.clone(),
            classes: checked,
            classes_other: other.join("\n"),
            platforms: plan.platforms.clone(),
            keywords: plan.keywords.join("\n"),
            seed_urls: plan.seed_urls.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("\n"),
            allow_hosts: plan.allow_hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("\n"),
            sample_size: plan.sample_size.to_string(),
            weighting: match plan.weighting {
                Weighting::Risk => "risk".into(),
                _ => "off".into(),
            },
            campaign: plan.campaign.clone().unwrap_or_default(),
            schedule_kind: if plan.schedule == Schedule::Manual { "manual".into() } else { "cron".into() },
            cron: match &plan.schedule {
                Schedule::Cron { expr, .. } => expr.clone(),
                Schedule::Manual => "0 2 * * *".into(),
            },
            missed: match plan.missed {
                MissedPolicy::RunOnce => "run_once".into(),
                MissedPolicy::Skip => "skip".into(),
            },
            rate: plan.politeness.rate.map(|r| r.to_string()).unwrap_or_default(),
            concurrency: plan.politeness.concurrency.map(|c| c.to_string()).unwrap_or_default(),
            toml: source.to_string(),
            advanced: false,
        }
    }

    /// The plan file for these values, or what keeps it from being written
    /// (field, message). Everything else is checked by the plan compiler.
    pub fn to_toml(&self) -> Result<String, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let mut root = Table::new();
        let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
        root.insert("id".into(), Value::String(self.id.clone()));
        root.insert("title".into(), Value::String(self.title.trim().to_string()));
        let mut classes = self.classes.clone();
        classes.extend(items(&self.classes_other, true));
        root.insert("classes".into(), strings(classes));
        root.insert("platforms".into(), strings(self.platforms.clone()));
        root.insert("keywords".into(), strings(items(&self.keywords, false)));
        root.insert("seed_urls".into(), strings(items(&self.seed_urls, false)));
        let allow_hosts = items(&self.allow_hosts, true);
        if !allow_hosts.is_empty() {
            root.insert("allow_hosts".into(), strings(allow_hosts));
        }
        if !self.campaign.trim().is_empty() {
            root.insert("campaign".into(), Value::String(self.campaign.trim().to_string()));
        }
        let schedule = if self.schedule_kind == "cron" { self.cron.trim() } else { "manual" };
        root.insert("schedule".into(), Value::String(schedule.to_string()));
        root.insert("missed".into(), Value::String(self.missed.clone()));
        let mut sample = Table::new();
        match self.sample_size.parse::<i64>() {
            Ok(n) => {
                sample.insert("size".into(), Value::Integer(n));
            }
            Err(_) => errors.push(("sample_size", "样本量应为正整数。".to_string())),
        }
        sample.insert("weighting".into(), Value::String(self.weighting.clone()));
        root.insert("sample".into(), Value::Table(sample));
        let mut politeness = Table::new();
        if !self.rate.is_empty() {
            match self.rate.parse::<f64>() {
                Ok(r) if r.is_finite() => {
                    politeness.insert("rate".into(), Value::Float(r));
                }
                _ => errors.push(("rate", "请求速率应为数字（每秒请求数）。".to_string())),
            }
        }
        if !self.concurrency.is_empty() {
            match self.concurrency.parse::<i64>() {
                Ok(n) => {
                    politeness.insert("concurrency".into(), Value::Integer(n));
                }
                Err(_) => errors.push(("concurrency", "并发数应为正整数。".to_string())),
            }
        }
        if !politeness.is_empty() {
            root.insert("politeness".into(), Value::Table(politeness));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        toml::to_string(&root).map_err(|e| vec![("toml", format!("无法生成计划文件：{e}"))])
    }
}

/// What a form shows above its fields when saving failed.
#[derive(Debug, Default)]
pub struct Problems {
    pub fields: Vec<(&'static str, String)>,
    pub compiled: Vec<Problem>,
}

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.compiled.is_empty()
    }
}

/// The create or edit form; `action` is where it posts, `editing` fixes the id.
pub fn render(
    viewer: &Viewer,
    f: &PlanForm,
    problems: &Problems,
    catalogue: &Catalogue,
    adapters: &[String],
    action: &str,
    editing: bool,
) -> Markup {
    let checked = |list: &[String], v: &str| list.iter().any(|x| x == v);
    html! {
        @if !problems.is_empty() {
            div.panel.problems role="alert" {
                h2.error { "计划未保存，请修改以下问题：" }
                ul {
                    @for (field, message) in &problems.fields { li.error { (field_label(field)) "：" (message) } }
                    @for p in &problems.compiled {
                        li.error { "计划文件第 " (p.line) " 行第 " (p.column) " 列：" (p.message) }
                    }
                }
                @if !problems.compiled.is_empty() { p.muted { "行列号指下方“高级：直接编辑 TOML”中的计划文件。" } }
            }
        }
        form.panel.plan-form method="post" action=(action) {
            (viewer.csrf_field())
            label for="id" { "计划编号（小写字母、数字、- 和 _）" }
            @if editing {
                input #id type="text" name="id" value=(f.id) readonly;
            } @else {
                input #id type="text" name="id" value=(f.id) required pattern="[a-z0-9][a-z0-9_-]{0,63}" maxlength="64";
            }
            label for="title" { "计划名称" }
            input #title type="text" name="title" value=(f.title) required maxlength="200";
            fieldset {
                legend { "产品类别（CCC 目录）" }
                @for class in &catalogue.classes {
                    label.check {
                        input type="checkbox" name="class" value=(class.id) checked[checked(&f.classes, &class.id)];
                        " " (class.name) " " span.muted { (class.id) }
                    }
                }
                label for="classes_other" { "其他类别（每行一个或以逗号分隔）" }
                input #classes_other type="text" name="classes_other" value=(f.classes_other);
            }
            fieldset {
                legend { "平台" }
                @for name in adapters {
                    label.check {
                        input type="checkbox" name="platform" value=(name) checked[checked(&f.platforms, name)];
                        " " (name)
                    }
                }
            }
            label for="keywords" { "搜索关键词（每行一个）" }
            textarea #keywords name="keywords" rows="3" { (f.keywords) }
            label for="seed_urls" { "起始网址（每行一个，http 或 https）" }
            textarea #seed_urls name="seed_urls" rows="3" { (f.seed_urls) }
            label for="allow_hosts" { "允许访问的非公网主机（每行一个 HOST 或 HOST:PORT；仅用于自建的测试站点，默认只访问公网地址）" }
            textarea #allow_hosts name="allow_hosts" rows="2" { (f.allow_hosts) }
            label for="sample_size" { "样本量" }
            input #sample_size type="text" inputmode="numeric" name="sample_size" value=(f.sample_size) required;
            label for="weighting" { "抽样加权" }
            select #weighting name="weighting" {
                option value="off" selected[f.weighting == "off"] { "不加权（等概率）" }
                option value="risk" selected[f.weighting == "risk"] { "按风险加权" }
            }
            label for="campaign" { "专项行动标签（可选）" }
            input #campaign type="text" name="campaign" value=(f.campaign) list="campaigns" maxlength="64";
            datalist #campaigns { @for c in CAMPAIGNS { option value=(c) {} } }
            fieldset {
                legend { "运行时间（北京时间）" }
                label.check { input type="radio" name="schedule_kind" value="manual" checked[f.schedule_kind != "cron"]; " 仅手动运行" }
                label.check { input type="radio" name="schedule_kind" value="cron" checked[f.schedule_kind == "cron"]; " 定时（cron 表达式：分 时 日 月 周）" }
                input #cron type="text" name="cron" value=(f.cron) aria-label="cron 表达式";
                label for="missed" { "停机期间错过的运行" }
                select #missed name="missed" {
                    option value="run_once" selected[f.missed == "run_once"] { "补运行一次" }
                    option value="skip" selected[f.missed == "skip"] { "跳过（记录在历史中）" }
                }
            }
            fieldset {
                legend { "访问频率（留空则用平台适配器的设置）" }
                label for="rate" { "每秒请求数" }
                input #rate type="text" inputmode="decimal" name="rate" value=(f.rate);
                label for="concurrency" { "并发请求数" }
                input #concurrency type="text" inputmode="numeric" name="concurrency" value=(f.concurrency);
            }
            div.actions { button type="submit" name="action" value="form" { "保存计划" } }
            details open[f.advanced] {
                summary { "高级：直接编辑 TOML" }
                textarea name="toml" rows="18" spellcheck="false" { (f.toml) }
                div.actions { button type="submit" name="action" value="toml" { "按 TOML 保存" } }
            }
        }
    }
}

fn field_label(field: &str) -> &'static str {
    match field {
        "sample_size" => "样本量",
        "rate" => "每秒请求数",
        "concurrency" => "并发请求数",
        "id" => "计划编号",
        _ => "计划文件",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_cannot_add_keys_or_tables_to_the_plan_file() {
        let form = PlanForm {
            id: "p".into(),
            title: "标题\"\nschedule = \"* * * * *\"\n[sample]\nsize = 1".into(),
            platforms: vec!["sample-mall".into()],
            keywords: "玩具\n\"]\nx = 1".into(),
            ..PlanForm::blank()
        };
        let text = form.to_toml().unwrap();
        let root: Table = toml::from_str(&text).unwrap();
        assert_eq!(root["title"].as_str(), Some(form.title.trim()));
        assert_eq!(root["schedule"].as_str(), Some("manual"));
        assert_eq!(root["sample"]["size"].as_integer(), Some(50));
        let keywords: Vec<&str> = root["keywords"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(keywords, ["玩具", "\"]", "x = 1"]);
        assert!(!root.contains_key("x"));
    }

    #[test]
    fn numbers_that_are_not_numbers_are_reported_per_field() {
        let form = PlanForm { sample_size: "二十".into(), rate: "fast".into(), ..PlanForm::blank() };
        let fields: Vec<&str> = form.to_toml().unwrap_err().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["sample_size", "rate"]);
    }
}
