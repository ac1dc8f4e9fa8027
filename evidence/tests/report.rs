//! The evidence report: what the HTML must show, that untrusted text can never
//! become markup, and that printing to PDF works and cannot hang.

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use evidence::report::{
    escape_html, find_chromium, find_chromium_in, render_html, render_pdf, CaptureSummary, CheckpointSummary,
    CustodyEvent, FileEntry, FindingSummary, MatchedText, ReportError, ReportInput, Screenshot, TimestampSummary,
};

/// A valid 1×1 PNG.
const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, h, m, s).unwrap()
}

fn hash(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn file(path: &str, c: char, bytes: u64, role: &str) -> FileEntry {
    FileEntry { path: path.to_string(), sha256: hash(c), bytes, role: role.to_string() }
}

/// A realistic report: two captures (one with a screenshot and a redirect),
/// two findings, a checkpoint, a timestamp and a custody log.
fn sample() -> ReportInput {
    let shot_file = file("screenshots/1.png", 'c', 70, "screenshot");
    ReportInput {
        title: "2026年第1批网络抽检：儿童玩具".to_string(),
        bundle_id: "bundle-20260314-0001".to_string(),
        created_at: t(9, 30, 0),
        station: "station-hz-03".to_string(),
        operators: vec!["张三 (执法证 33010001)".to_string(), "李四 (执法证 33010002)".to_string()],
        purpose: Some("杭市监网抽〔2026〕1号".to_string()),
        tool: "spotcheck/0.1.0".to_string(),
        key_fingerprint: "ed25519:SHA256:9f86d081884c7d659a2feaa0c55ad015".to_string(),
        checkpoint: Some(CheckpointSummary { tree_size: 4711, root_hex: hash('e'), signed_at: t(9, 29, 58) }),
        timestamps: vec![TimestampSummary {
            gen_time: t(9, 30, 2),
            tsa: "CN=National Time Service Center TSA".to_string(),
            serial: "0x5A3F0019".to_string(),
        }],
        captures: vec![
            CaptureSummary {
                capture_id: hash('1'),
                url: "https://shop.example.cn/item?id=1001".to_string(),
                final_url: "https://m.shop.example.cn/item/1001".to_string(),
                redirect_chain: vec!["https://shop.example.cn/r/1001".to_string()],
                platform: Some("示例商城".to_string()),
                shop: Some("快乐玩具旗舰店".to_string()),
                uscc: Some("91330100MA2XXXXX0X".to_string()),
                resolved_ip: Some("203.0.113.7:443".to_string()),
                started_at: t(9, 1, 2),
                finished_at: t(9, 1, 3),
                time_source: "ntp:ntp.ntsc.ac.cn".to_string(),
                status: 200,
                method: "HTTP GET (raw response kept as received)".to_string(),
                files: vec![file("warc/1.warc.gz", 'a', 123_456, "warc"), shot_file.clone()],
                screenshot: Some(Screenshot {
                    path_in_bundle: "screenshots/1.png".to_string(),
                    png_base64: PNG_1X1.to_string(),
                }),
            },
            CaptureSummary {
                capture_id: hash('2'),
                url: "https://shop.example.cn/item?id=1002".to_string(),
                final_url: "https://shop.example.cn/item?id=1002".to_string(),
                redirect_chain: vec![],
                platform: None,
                shop: None,
                uscc: None,
                resolved_ip: None,
                started_at: t(9, 5, 0),
                finished_at: t(9, 5, 1),
                time_source: "system".to_string(),
                status: 200,
                method: "HTTP GET (raw response kept as received)".to_string(),
                files: vec![file("warc/2.warc.gz", 'b', 98_765, "warc")],
                screenshot: None,
            },
        ],
        findings: vec![
            FindingSummary {
                finding_id: "f-0001".to_string(),
                rule: "CCC-MISSING-TOY".to_string(),
                rule_version: "3".to_string(),
                title: "玩具未标注CCC认证".to_string(),
                severity: "high".to_string(),
                legal_basis: vec![
                    "《中华人民共和国认证认可条例》第二十七条".to_string(),
                    "《强制性产品认证管理规定》第二条".to_string(),
                ],
                message: "列入强制性认证目录的玩具未展示CCC证书编号".to_string(),
                listing: "listing-1001".to_string(),
                capture_id: hash('1'),
                evidence: vec![MatchedText {
                    field: "title".to_string(),
                    text: "无需3C认证 出口转内销".to_string(),
                    note: Some("标题自述".to_string()),
                }],
            },
            FindingSummary {
                finding_id: "f-0002".to_string(),
                rule: "ABSOLUTE-TERMS".to_string(),
                rule_version: "1".to_string(),
                title: "使用绝对化用语".to_string(),
                severity: "medium".to_string(),
                legal_basis: vec!["《中华人民共和国广告法》第九条第（三）项".to_string()],
                message: "商品描述使用“国家级”“最佳”等用语".to_string(),
                listing: "listing-1002".to_string(),
                capture_id: hash('2'),
                evidence: vec![MatchedText {
                    field: "description".to_string(),
                    text: "全网最佳".to_string(),
                    note: None,
                }],
            },
        ],
        files: vec![
            file("manifest.json", 'd', 2_048, "manifest"),
            file("warc/1.warc.gz", 'a', 123_456, "warc"),
            file("warc/2.warc.gz", 'b', 98_765, "warc"),
            shot_file,
            file("ledger/checkpoint.json", 'f', 512, "checkpoint"),
        ],
        custody: vec![
            CustodyEvent {
                at: t(9, 1, 3),
                actor: "station-hz-03".to_string(),
                action: "capture".to_string(),
                detail: "2 pages fetched".to_string(),
            },
            CustodyEvent {
                at: t(9, 30, 0),
                actor: "张三".to_string(),
                action: "seal".to_string(),
                detail: "bundle signed and timestamped".to_string(),
            },
        ],
    }
}

/// The same report with hostile strings in every free-text field.
fn hostile() -> ReportInput {
    const SCRIPT: &str = "<script>alert(1)</script>";
    const BREAKOUT: &str = "\"><img src=x onerror=alert(1)>";
    let mut r = sample();
    r.title = format!("{SCRIPT}{BREAKOUT}");
    // The bundle id also reaches the print footer's CSS.
    r.bundle_id = format!("x\"; }}</style>{SCRIPT}\\");
    r.purpose = Some(format!("'{SCRIPT}'"));
    r.station = BREAKOUT.to_string();
    r.operators = vec![SCRIPT.to_string(), "a\u{0}b\u{7}c".to_string()];
    r.tool = format!("tool{SCRIPT}");
    let c = &mut r.captures[0];
    c.url = "javascript:alert(document.cookie)".to_string();
    c.final_url = format!("https://x.example/{BREAKOUT}");
    c.redirect_chain = vec![format!("javascript:{SCRIPT}")];
    c.shop = Some(BREAKOUT.to_string());
    c.platform = Some("\u{202E}gnp.exe".to_string());
    c.uscc = Some("9133\u{200B}0100".to_string());
    c.screenshot = Some(Screenshot { path_in_bundle: BREAKOUT.to_string(), png_base64: PNG_1X1.to_string() });
    let f = &mut r.findings[0];
    f.title = SCRIPT.to_string();
    f.message = BREAKOUT.to_string();
    f.legal_basis = vec![SCRIPT.to_string()];
    f.evidence = vec![MatchedText {
        field: BREAKOUT.to_string(),
        text: format!("{SCRIPT}\u{1b}[31m\r\n"),
        note: Some(SCRIPT.to_string()),
    }];
    r.files[0].path = SCRIPT.to_string();
    r.custody[0].detail = BREAKOUT.to_string();
    r
}

/// Every tag name the renderer itself emits.
const OWN_TAGS: &[&str] = &[
    "!DOCTYPE",
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "footer",
    "section",
    "h1",
    "h2",
    "h3",
    "p",
    "br",
    "span",
    "div",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "ol",
    "ul",
    "li",
    "mark",
    "figure",
    "figcaption",
    "img",
];

/// Asserts every `<` in `html` opens one of the renderer's own tags, so no
/// input string has turned into markup.
fn assert_only_own_tags(html: &str) {
    for (i, _) in html.match_indices('<') {
        let rest = html[i + 1..].trim_start_matches('/');
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '!' || *c == '-').collect();
        assert!(
            OWN_TAGS.contains(&name.as_str()),
            "unexpected tag <{name}> at byte {i}: {}",
            &html[i..(i + 60).min(html.len())]
        );
    }
}

#[test]
fn html_shows_every_required_field() {
    let r = sample();
    let html = render_html(&r);

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    for heading in [
        "电子数据提取笔录",
        "Electronic data extraction record",
        "基本信息",
        "提取对象",
        "发现的问题",
        "文件清单与哈希",
        "完整性",
        "保管记录",
        "提取人签名",
        "见证人签名",
        "日期",
    ] {
        assert!(html.contains(heading), "missing heading {heading}");
    }
    // Who, why, with what.
    for s in [
        &r.title,
        &r.bundle_id,
        &r.station,
        &r.tool,
        "杭市监网抽〔2026〕1号",
        "张三 (执法证 33010001)",
        "李四 (执法证 33010002)",
        &r.key_fingerprint,
    ] {
        assert!(html.contains(s), "missing {s}");
    }
    assert!(html.contains("2026-03-14 09:30:00.000 UTC"), "created_at");
    // Every file hash, in the bundle list and per capture.
    for f in r.files.iter().chain(r.captures.iter().flat_map(|c| c.files.iter())) {
        assert!(html.contains(&f.sha256), "missing hash of {}", f.path);
        assert!(html.contains(&f.path), "missing path {}", f.path);
    }
    assert!(html.contains("123,456"), "file sizes shown");
    // Every capture: where, when (in UTC), how.
    for c in &r.captures {
        for s in [&c.capture_id, &c.url, &c.final_url, &c.time_source, &c.method] {
            assert!(html.contains(s.as_str()), "missing {s}");
        }
        for u in &c.redirect_chain {
            assert!(html.contains(u.as_str()), "missing redirect {u}");
        }
        for at in [c.started_at, c.finished_at] {
            let shown = at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string();
            assert!(html.contains(&shown), "missing time {shown}");
        }
    }
    for s in ["示例商城", "快乐玩具旗舰店", "91330100MA2XXXXX0X", "203.0.113.7:443"] {
        assert!(html.contains(s), "missing {s}");
    }
    assert!(html.contains("北京时间 2026-03-14 17:01:02.000"), "Beijing time");
    // Every finding: rule, version, legal basis, message, matched text and field.
    for f in &r.findings {
        for s in [&f.finding_id, &f.rule, &f.title, &f.severity, &f.message] {
            assert!(html.contains(s.as_str()), "missing {s}");
        }
        assert!(html.contains(&format!("v</span>{}", f.rule_version)));
        for b in &f.legal_basis {
            assert!(html.contains(b.as_str()), "missing legal basis {b}");
        }
        for m in &f.evidence {
            assert!(html.contains(&format!("<mark>{}</mark>", m.text)), "matched text {} not highlighted", m.text);
            assert!(html.contains(&m.field), "missing field {}", m.field);
        }
    }
    // Integrity anchors.
    assert!(html.contains("4711"));
    assert!(html.contains(&hash('e')));
    assert!(html.contains("2026-03-14 09:30:02.000 UTC"), "timestamp gen time");
    assert!(html.contains("National Time Service Center TSA"));
    assert!(html.contains("0x5A3F0019"));
    // Custody.
    assert!(html.contains("bundle signed and timestamped"));
    assert!(html.contains("2026-03-14 09:01:03 UTC"));
    // Screenshot embedded as inline PNG, with its hash.
    assert!(html.contains(&format!("src=\"data:image/png;base64,{PNG_1X1}\"")));
    // Self-contained: nothing loaded, nothing run, no links.
    assert_only_own_tags(&html);
    for banned in ["<script", "<link", "href=", "http-equiv=\"refresh\"", "<iframe", "@import", "url("] {
        assert!(!html.to_lowercase().contains(banned), "page contains {banned}");
    }
    // Two officers: no warning.
    assert!(!html.contains("fewer than two officers"));
}

#[test]
fn hostile_strings_are_only_shown_escaped() {
    let html = render_html(&hostile());

    assert!(!html.to_lowercase().contains("<script"), "raw <script> in page");
    assert_eq!(html.matches("</style").count(), 1, "style element broken out of");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<img src=x"), "attribute breakout became a tag");
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("&#39;&lt;script&gt;"));
    // URLs are text, never links.
    assert!(!html.contains("href="));
    assert!(html.contains("javascript:alert(document.cookie)"));
    // Control and invisible characters never reach the page raw but are shown.
    for c in html.chars() {
        assert!(!c.is_control() || c == '\n', "raw control character U+{:04X} in page", u32::from(c));
        assert!(!matches!(c, '\u{202E}' | '\u{200B}'), "raw invisible U+{:04X}", u32::from(c));
    }
    for marker in ["U+0000", "U+0007", "U+001B", "U+000D", "U+202E", "U+200B"] {
        assert!(html.contains(marker), "control char {marker} not made visible");
    }
    // Every img is an inline PNG; the hostile path only reaches alt as text.
    for (i, _) in html.match_indices("<img ") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        assert!(tag.contains("src=\"data:image/png;base64,"), "{tag}");
        assert!(!tag.contains("onerror"), "{tag}");
    }
    assert_only_own_tags(&html);
}

#[test]
fn escape_html_escapes_the_five_and_marks_invisibles() {
    assert_eq!(
        escape_html("<a href=\"x\" title='y'>&</a>"),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(escape_html("中文\tok\n"), "中文\tok\n");
    assert_eq!(escape_html("a\u{7}"), "a<span class=\"cc\">U+0007</span>");
    assert_eq!(escape_html("\u{202E}"), "<span class=\"cc\">U+202E</span>");
}

#[test]
fn bad_screenshots_are_not_embedded() {
    let not_png = base64_of(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>");
    for bad in [
        format!("{PNG_1X1}\" onerror=\"alert(1)"),
        "not base64 at all!".to_string(),
        "iVBORw0KGgo=\"><script>alert(1)</script>".to_string(),
        not_png,
        String::new(),
    ] {
        let mut r = sample();
        r.captures[0].screenshot =
            Some(Screenshot { path_in_bundle: "screenshots/1.png".to_string(), png_base64: bad.clone() });
        let html = render_html(&r);
        assert!(!html.contains("<img"), "embedded bad screenshot {bad:?}");
        assert!(!html.contains("data:image"), "embedded bad screenshot {bad:?}");
        assert!(!html.to_lowercase().contains("<script"));
        assert!(html.contains("not a valid PNG"), "no notice for {bad:?}");
        assert_only_own_tags(&html);
    }
}

#[test]
fn wrapped_base64_is_reencoded_on_one_line() {
    let mut r = sample();
    let wrapped = format!("{}\n{}", &PNG_1X1[..20], &PNG_1X1[20..]);
    r.captures[0].screenshot =
        Some(Screenshot { path_in_bundle: "screenshots/1.png".to_string(), png_base64: wrapped });
    assert!(render_html(&r).contains(&format!("base64,{PNG_1X1}\"")));
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn output_is_deterministic_and_survives_a_json_round_trip() {
    let r = sample();
    let a = render_html(&r);
    let b = render_html(&r.clone());
    assert_eq!(a, b);
    let json = serde_json::to_string(&r).unwrap();
    let back: ReportInput = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(render_html(&back), a);
    let h = render_html(&hostile());
    assert_eq!(h, render_html(&hostile()));
}

#[test]
fn fewer_than_two_officers_is_flagged_and_two_signature_lines_remain() {
    let mut r = sample();
    r.operators = vec!["张三".to_string()];
    let html = render_html(&r);
    assert!(html.contains("fewer than two officers recorded"));
    assert_eq!(html.matches("提取人签名").count(), 2);
    r.operators.clear();
    r.purpose = None;
    r.checkpoint = None;
    r.timestamps.clear();
    r.findings.clear();
    r.custody.clear();
    let html = render_html(&r);
    assert_eq!(html.matches("提取人签名").count(), 2);
    assert!(html.contains("not recorded"));
    assert!(html.contains("No findings"));
    assert_only_own_tags(&html);
}

// ---------- PDF ----------

/// Writes an executable shell script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Names in `dir` other than the ones given.
fn leftovers(dir: &Path, expected: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !expected.contains(&n.as_str()))
        .collect()
}

#[test]
fn renders_a_real_pdf_with_chromium() {
    let Some(chromium) = find_chromium() else {
        panic!(
            "chromium not found: the PDF report needs it. Install it \
             (apt-get install -y chromium fonts-noto-cjk) or set SPOTCHECK_CHROMIUM"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    // A name with a space and CJK checks the file:// URL encoding.
    let html_path = dir.path().join("提取 笔录.html");
    let pdf_path = dir.path().join("report.pdf");
    let r = sample();
    fs::write(&html_path, render_html(&r)).unwrap();
    render_pdf(&html_path, &pdf_path, &chromium, Duration::from_secs(120)).unwrap();
    // To look at the result: SPOTCHECK_REPORT_KEEP=<dir> keeps a copy.
    if let Some(keep) = std::env::var_os("SPOTCHECK_REPORT_KEEP") {
        let keep = Path::new(&keep);
        fs::copy(&html_path, keep.join("report.html")).unwrap();
        fs::copy(&pdf_path, keep.join("report.pdf")).unwrap();
    }

    let pdf = fs::read(&pdf_path).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.len() > 5_000, "suspiciously small pdf: {} bytes", pdf.len());
    assert!(pdf.len() < 20_000_000, "suspiciously large pdf: {} bytes", pdf.len());
    let mut names = leftovers(dir.path(), &["提取 笔录.html", "report.pdf"]);
    names.sort();
    assert!(names.is_empty(), "temporary files left behind: {names:?}");

    match Command::new("pdftotext").arg(&pdf_path).arg("-").output() {
        Ok(out) if out.status.success() => {
            // Hashes may wrap inside their table cell, so compare without whitespace.
            let text: String = String::from_utf8_lossy(&out.stdout).chars().filter(|c| !c.is_whitespace()).collect();
            assert!(
                text.contains("电子数据提取笔录"),
                "pdf text lacks 电子数据提取笔录 — is a CJK font installed \
                 (apt-get install -y fonts-noto-cjk)?"
            );
            assert!(text.contains(&hash('a')), "pdf text lacks a file hash");
            assert!(text.contains("CCC-MISSING-TOY"), "pdf text lacks a rule id");
            assert!(text.contains("页/共"), "pdf lacks page numbers");
        }
        _ => {
            eprintln!("pdftotext unavailable (apt-get install -y poppler-utils); counting pages");
            let pages = count_pages(&pdf);
            assert!((1..=20).contains(&pages), "{pages} pages");
        }
    }
}

/// Page objects in a PDF (Chromium writes them uncompressed).
fn count_pages(pdf: &[u8]) -> usize {
    pdf.windows(b"/Type /Page".len() + 1).filter(|w| w.starts_with(b"/Type /Page") && w[w.len() - 1] != b's').count()
}

#[test]
fn a_hung_chromium_is_killed_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let fake = script(dir.path(), "hang.sh", &format!("echo $$ > '{}'\nexec sleep 1000", pidfile.display()));
    let html_path = dir.path().join("r.html");
    fs::write(&html_path, "<!DOCTYPE html><p>x</p>").unwrap();
    let pdf_path = dir.path().join("r.pdf");

    let start = Instant::now();
    let err = render_pdf(&html_path, &pdf_path, &fake, Duration::from_millis(800)).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, ReportError::Timeout { .. }), "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(err.to_string().contains("hang.sh"), "{err}");
    assert!(err.to_string().contains("killed"), "{err}");
    // The sleeping process is gone (killed and reaped, not left as a zombie).
    let pid = fs::read_to_string(&pidfile).unwrap();
    assert!(!Path::new(&format!("/proc/{}", pid.trim())).exists(), "process {pid} still exists");
    assert!(!pdf_path.exists());
    assert!(leftovers(dir.path(), &["hang.sh", "pid", "r.html"]).is_empty());
}

/// A stand-in for Chromium that records its arguments and writes `content`
/// wherever `--print-to-pdf=` points.
fn fake_printer(dir: &Path, content: &str) -> PathBuf {
    let args = dir.join("args");
    script(
        dir,
        "fake-chromium",
        &format!(
            "for a in \"$@\"; do echo \"$a\" >> '{}'; case \"$a\" in --print-to-pdf=*) printf '{content}' > \"${{a#--print-to-pdf=}}\";; esac; done",
            args.display()
        ),
    )
}

#[test]
fn chromium_gets_exactly_the_documented_flags_and_the_pdf_is_renamed_into_place() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_printer(dir.path(), "%%PDF-1.7 fake");
    let html_path = dir.path().join("a b.html");
    fs::write(&html_path, "<p>x</p>").unwrap();
    let pdf_path = dir.path().join("out.pdf");
    render_pdf(&html_path, &pdf_path, &fake, Duration::from_secs(30)).unwrap();
    assert_eq!(fs::read(&pdf_path).unwrap(), b"%PDF-1.7 fake");

    let args = fs::read_to_string(dir.path().join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args[..8],
        [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-quic",
        ]
    );
    assert_eq!(args.len(), 12, "{args:?}");
    assert!(args[8].starts_with("--user-data-dir="), "{args:?}");
    let profile = args[8].trim_start_matches("--user-data-dir=");
    assert!(!Path::new(profile).exists(), "profile dir not cleaned up");
    assert_eq!(args[9], "--no-pdf-header-footer");
    assert!(args[10].starts_with("--print-to-pdf="), "{args:?}");
    assert!(!args[10].ends_with("/out.pdf"), "must print to a temporary name");
    let canonical = fs::canonicalize(&html_path).unwrap();
    let expected_url = format!("file://{}", canonical.to_str().unwrap().replace(' ', "%20"));
    assert_eq!(args[11], expected_url);
    assert!(leftovers(dir.path(), &["fake-chromium", "args", "a b.html", "out.pdf"]).is_empty());
}

#[test]
fn output_that_is_not_a_pdf_is_refused_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = fake_printer(dir.path(), "<html>oops</html>");
    let html_path = dir.path().join("r.html");
    fs::write(&html_path, "<p>x</p>").unwrap();
    let pdf_path = dir.path().join("r.pdf");
    let err = render_pdf(&html_path, &pdf_path, &fake, Duration::from_secs(30)).unwrap_err();
    assert!(matches!(err, ReportError::NotPdf { .. }), "{err}");
    assert!(err.to_string().contains("not a pdf"), "{err}");
    assert!(!pdf_path.exists());
    assert!(leftovers(dir.path(), &["fake-chromium", "args", "r.html"]).is_empty());
}

#[test]
fn failures_name_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let html_path = dir.path().join("r.html");
    fs::write(&html_path, "<p>x</p>").unwrap();
    let pdf_path = dir.path().join("r.pdf");

    let missing = dir.path().join("no-such-chromium");
    let err = render_pdf(&html_path, &pdf_path, &missing, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, ReportError::Spawn { .. }), "{err}");
    assert!(err.to_string().starts_with("cannot start chromium"), "{err}");
    assert!(err.to_string().contains("no-such-chromium"), "{err}");

    let failing = script(dir.path(), "fail.sh", "echo 'boom: no display' >&2; exit 3");
    let err = render_pdf(&html_path, &pdf_path, &failing, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, ReportError::Failed { .. }), "{err}");
    assert!(err.to_string().contains("boom: no display"), "{err}");

    let silent = script(dir.path(), "silent.sh", "exit 0");
    let err = render_pdf(&html_path, &pdf_path, &silent, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, ReportError::NoOutput { .. }), "{err}");

    let err = render_pdf(&dir.path().join("missing.html"), &pdf_path, &silent, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, ReportError::HtmlPath { .. }), "{err}");
    assert!(err.to_string().contains("missing.html"), "{err}");
    assert!(!pdf_path.exists());
}

#[test]
fn chromium_lookup_prefers_the_override_then_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let over = dir.path().join("my-chrome");
    assert_eq!(find_chromium_in(Some(over.as_os_str()), None), Some(over.clone()));
    // An empty override counts as unset.
    let bin = tempfile::tempdir().unwrap();
    let fake = script(bin.path(), "chromium-browser", "exit 0");
    // A non-executable file of an earlier name is skipped.
    fs::write(bin.path().join("chromium"), "").unwrap();
    let found = find_chromium_in(Some("".as_ref()), Some(bin.path().as_os_str()));
    if Path::new("/usr/bin/chromium").exists() {
        assert_eq!(found, Some(PathBuf::from("/usr/bin/chromium")));
    } else {
        assert_eq!(found, Some(fake));
    }
}
