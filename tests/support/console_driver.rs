//! Driving the console in a real headless Chromium: a station (a demo's
//! data, a sample marketplace with a hostile seller, `spotcheck serve`) and
//! a [`Page`] wrapper over a `headless_chrome` tab that types, clicks, waits
//! for what the page shows (never for a fixed time) and keeps a screenshot
//! of each step under `target/tmp/console-screens/` (test artefacts, not
//! committed).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use spotcheck::market::{Market, MarketConfig};
use url::Url;

/// Longest any one wait may take before the test fails naming what it waited for.
pub const WAIT: Duration = Duration::from_secs(90);

/// A station to drive: the demo's data, a marketplace, the console.
pub struct Station {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub console: Url,
    pub market: Url,
    pub market_handle: Arc<Market>,
    pub staff_password: String,
    pub enforcement_password: String,
    serve: Child,
    _runtime: tokio::runtime::Runtime,
}

impl Drop for Station {
    fn drop(&mut self) {
        let _ = self.serve.kill();
        let _ = self.serve.wait();
    }
}

fn password_of(logins: &str, name: &str) -> String {
    logins.lines().find(|l| l.starts_with(&format!("{name} "))).and_then(|l| l.split(' ').nth(3)).unwrap().to_string()
}

impl Station {
    /// Runs the demo (300 listings, 2 pictures in Chromium, stopped before
    /// triage so every finding is open), starts a marketplace of the same seed
    /// whose first failing listing has a hostile title, and serves the console.
    pub fn start() -> Station {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_spotcheck"))
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(["demo", "--listings", "300", "--pictures", "2", "--live-seconds", "0", "--no-enforcement"])
            .output()
            .unwrap();
        let data = dir.path().join("demo");
        assert!(data.join("db").exists(), "demo stored nothing: {}", String::from_utf8_lossy(&out.stderr));
        let logins = std::fs::read_to_string(data.join("console-logins.txt")).unwrap();

        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let market =
            Arc::new(Market::new(MarketConfig { seed: 1, listings: 300, count_hits: false }).with_hostile_listing());
        let (addr, _task) =
            runtime.block_on(spotcheck::market::serve(Arc::clone(&market), ([127, 0, 0, 1], 0).into())).unwrap();
        let market_url = Url::parse(&format!("http://{addr}/")).unwrap();

        let mut serve = Command::new(env!("CARGO_BIN_EXE_spotcheck"))
            .env("SPOTCHECK_ALLOW_HOSTS", "127.0.0.1")
            .args(["--data-dir", data.to_str().unwrap()])
            .args(["serve", "--addr", "127.0.0.1:0", "--verify-every", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(serve.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let base = first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("serve said `{first}`"));
        Station {
            dir,
            console: Url::parse(&format!("{base}/console/")).unwrap(),
            market: market_url,
            market_handle: market,
            staff_password: password_of(&logins, "staff"),
            enforcement_password: password_of(&logins, "zhifa"),
            data,
            serve,
            _runtime: runtime,
        }
    }

    /// A console URL: `path` relative to `/console/`.
    pub fn url(&self, path: &str) -> String {
        self.console.join(path).unwrap().to_string()
    }
}

/// One headless Chromium for a test.
pub fn browser() -> Browser {
    let chromium = evidence::report::find_chromium()
        .expect("Chromium is required (scripts/test.sh installs it: apt-get install -y chromium)");
    let profile = tempfile::tempdir().unwrap().keep();
    let args: Vec<&std::ffi::OsStr> = spotcheck::browser::CHROMIUM_FLAGS.iter().map(std::ffi::OsStr::new).collect();
    let options = LaunchOptions::default_builder()
        .path(Some(chromium))
        .user_data_dir(Some(profile))
        .headless(false)
        .sandbox(false)
        .disable_default_args(true)
        .window_size(Some((1366, 900)))
        .idle_browser_timeout(Duration::from_secs(600))
        .args(args)
        .build()
        .unwrap();
    Browser::new(options).unwrap()
}

/// A tab and where its screenshots go.
pub struct Page {
    pub tab: Arc<Tab>,
    shots: PathBuf,
    step: usize,
}

impl Page {
    pub fn new(browser: &Browser, name: &str) -> Page {
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(WAIT);
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screens").join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Page { tab, shots, step: 0 }
    }

    pub fn goto(&self, url: &str) {
        self.eval("window.__old_document = true");
        self.tab.navigate_to(url).unwrap().wait_until_navigated().unwrap();
        self.wait_js(
            &format!("`{url}` loaded"),
            "window.__old_document !== true && document.readyState === 'complete' && document.querySelector('main') !== null",
        );
    }

    /// The document's own location (the tab's cached URL can lag a redirect).
    pub fn url(&self) -> String {
        self.eval("window.location.href").as_str().unwrap_or_default().to_string()
    }

    /// Clicks the first element matching `selector`, then waits until a new
    /// document at a path starting with `path` has replaced this one and
    /// finished loading (the old document is marked first, so a click whose
    /// navigation has not begun is not mistaken for one that ended). Steps
    /// still wait for the content they expect: on a loaded machine the page
    /// may take its time.
    pub fn click_to(&self, selector: &str, path: &str) {
        self.eval("window.__old_document = true");
        self.click(selector);
        self.wait_js(
            &format!("a page under `{path}` after clicking `{selector}`"),
            &format!(
                "window.__old_document !== true && location.pathname.startsWith({path:?}) \
                 && document.readyState === 'complete' && document.querySelector('main') !== null"
            ),
        );
    }

    /// Clicks the first element matching `selector` (no navigation expected).
    pub fn click(&self, selector: &str) {
        self.tab
            .wait_for_element(selector)
            .unwrap_or_else(|e| panic!("no `{selector}` on {}: {e}", self.url()))
            .click()
            .unwrap();
    }

    /// Types `text` into the field matching `selector` (after clearing it).
    pub fn fill(&self, selector: &str, text: &str) {
        let field =
            self.tab.wait_for_element(selector).unwrap_or_else(|e| panic!("no `{selector}` on {}: {e}", self.url()));
        field.call_js_fn("function() { this.value = ''; }", vec![], false).unwrap();
        field.click().unwrap();
        self.tab.type_str(text).unwrap();
    }

    /// Sets a field's value directly (long texts, selects, textareas).
    pub fn set(&self, selector: &str, value: &str) {
        let field =
            self.tab.wait_for_element(selector).unwrap_or_else(|e| panic!("no `{selector}` on {}: {e}", self.url()));
        field
            .call_js_fn(
                "function(v) { this.value = v; this.dispatchEvent(new Event('change')); }",
                vec![serde_json::json!(value)],
                false,
            )
            .unwrap();
    }

    /// The page's visible text.
    pub fn text(&self) -> String {
        self.eval("document.body.innerText").as_str().unwrap_or_default().to_string()
    }

    /// Evaluates `js` in the page and returns its value.
    pub fn eval(&self, js: &str) -> serde_json::Value {
        self.tab.evaluate(js, false).unwrap().value.unwrap_or(serde_json::Value::Null)
    }

    /// Waits until the page's text contains `needle` (reloading is the page's
    /// own business: live pages poll and reload themselves).
    pub fn wait_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "`{needle}` never appeared on {}; it shows:\n{text}", self.url());
            std::thread::sleep(Duration::from_millis(200)); // polling the page's state, not standing in for it
        }
    }

    /// Waits until `js` evaluates to true.
    pub fn wait_js(&self, what: &str, js: &str) {
        let deadline = Instant::now() + WAIT;
        while self.eval(js) != serde_json::Value::Bool(true) {
            assert!(Instant::now() < deadline, "{what}: never true on {}", self.url());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Keeps a full-page screenshot of this step.
    pub fn shot(&mut self, name: &str) -> PathBuf {
        self.step += 1;
        // Two animation frames after load: what is shown is what was painted.
        self.tab
            .evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))", true)
            .unwrap();
        let png = self.tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Signs in through the log-in form and waits to be let in.
    pub fn sign_in(&self, station: &Station, name: &str, password: &str) {
        self.goto(&station.url("login"));
        self.fill("#name", name);
        self.fill("#password", password);
        self.click_to("form button[type=submit]", "/console/");
        self.wait_signed_in();
    }

    /// Waits until the page is a console page past the log-in (the post, its
    /// redirect and the landing page can take a while on a loaded machine).
    pub fn wait_signed_in(&self) {
        self.wait_js(
            "a console page after signing in",
            "location.pathname !== '/console/login' && document.readyState === 'complete' && document.querySelector('header.top') !== null",
        );
    }
}

/// Waits until `dir` holds a finished download ending in `.{ext}` (Chromium
/// writes `.crdownload` until it is complete) and returns its path.
pub fn wait_for_file(dir: &std::path::Path, ext: &str) -> PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        let done = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == ext));
        if let Some(path) = done {
            return path;
        }
        assert!(Instant::now() < deadline, "no .{ext} download arrived in {}", dir.display());
        std::thread::sleep(Duration::from_millis(200));
    }
}
