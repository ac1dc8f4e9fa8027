//! The pool: one Chromium, up to `tabs` pages rendering at once, and recovery.
//!
//! A render that fails is blamed on the browser when the browser no longer
//! answers (`Browser.getVersion` within a few seconds) or its process is gone,
//! or when the page overran its deadline (a hung renderer looks the same from
//! here). Then the browser is relaunched — once per failure, however many
//! tabs saw it: the `generation` counter tells a tab whether someone already
//! did — and the page is tried once more. A page that fails on a healthy
//! browser (a bad URL, a selector that never shows) is the page's error and
//! is not retried.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::{Browser, LaunchOptions, Tab};
use url::Url;

use super::proxy::GuardProxy;
use super::render::{self, RenderJob};
use super::{procs, BrowserConfig, BrowserError, Rendered, CHROMIUM_FLAGS};

/// How long a health check may take before the browser counts as hung.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// Extra time past `page_timeout` before the blocking render is abandoned
/// (its own waits end at `page_timeout`; this only catches a browser that
/// stopped answering CDP calls).
const HANG_GRACE: Duration = Duration::from_secs(10);

/// A pool of tabs in one headless Chromium. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct BrowserPool {
    inner: Arc<Inner>,
}

struct Inner {
    config: BrowserConfig,
    chromium: PathBuf,
    permits: tokio::sync::Semaphore,
    /// Serialises relaunches so N tabs that saw one crash launch one browser.
    relaunching: tokio::sync::Mutex<()>,
    state: Mutex<Live>,
    relaunches: AtomicU64,
    /// Every connection of every browser this pool starts goes through it.
    proxy: GuardProxy,
}

struct Live {
    generation: u64,
    instance: Arc<Instance>,
    idle: Vec<Arc<Tab>>,
}

/// One running Chromium. Field order matters: the browser (and its process)
/// goes before its profile directory is removed.
struct Instance {
    browser: Browser,
    version: String,
    user_agent: String,
    pid: Option<u32>,
    _profile: tempfile::TempDir,
}

impl Instance {
    fn start(config: &BrowserConfig, chromium: &std::path::Path, proxy: &GuardProxy) -> Result<Instance, BrowserError> {
        let launch_error =
            |reason: String| BrowserError::Launch { path: chromium.to_path_buf(), reason: reason.to_lowercase() };
        let profile = tempfile::Builder::new()
            .prefix("spotcheck-chromium-")
            .tempdir()
            .map_err(|e| launch_error(format!("cannot create a profile directory: {e}")))?;
        let network = proxy_flags(proxy.addr());
        let args: Vec<&std::ffi::OsStr> = CHROMIUM_FLAGS
            .iter()
            .copied()
            .chain(network.iter().map(String::as_str))
            .map(std::ffi::OsStr::new)
            .collect();
        let options = LaunchOptions::default_builder()
            .path(Some(chromium.to_path_buf()))
            .user_data_dir(Some(profile.path().to_path_buf()))
            // Our flags carry --headless and --disable-gpu; do not add them twice.
            .headless(false)
            .enable_gpu(true)
            .sandbox(false)
            .disable_default_args(true)
            // Evidence: a bad certificate must fail the page, not be waved through.
            .ignore_certificate_errors(false)
            .window_size(Some(config.viewport))
            // The pool may sit idle for hours (the live watcher); hangs are
            // caught per page by our own deadline instead.
            .idle_browser_timeout(Duration::from_secs(7 * 24 * 3600))
            .args(args)
            .build()
            .map_err(|e| launch_error(e.to_string()))?;
        let browser = Browser::new(options).map_err(|e| launch_error(format!("{e:#}")))?;
        let version = browser.get_version().map_err(|e| launch_error(format!("{e:#}")))?;
        let pid = browser.get_process_id();
        Ok(Instance { browser, version: version.product, user_agent: version.user_agent, pid, _profile: profile })
    }
}

/// Why one attempt failed, and whether the browser is to blame.
struct Failed {
    error: BrowserError,
    generation: u64,
    browser_at_fault: bool,
}

impl BrowserPool {
    /// Starts Chromium (on the blocking pool) and returns the pool.
    pub async fn launch(config: BrowserConfig) -> Result<BrowserPool, BrowserError> {
        tokio::task::spawn_blocking(move || BrowserPool::launch_blocking(config))
            .await
            .map_err(|e| BrowserError::Task { url: "(launch)".to_string(), reason: e.to_string() })?
    }

    /// [`BrowserPool::launch`] for callers outside an async context (it blocks).
    pub fn launch_blocking(config: BrowserConfig) -> Result<BrowserPool, BrowserError> {
        let chromium =
            config.chromium.clone().or_else(evidence::report::find_chromium).ok_or(BrowserError::NoChromium)?;
        if !chromium.is_file() {
            return Err(BrowserError::Launch { path: chromium, reason: "no such file".to_string() });
        }
        let config = BrowserConfig { tabs: config.tabs.max(1), ..config };
        let proxy = GuardProxy::start(config.network.clone()).map_err(BrowserError::Proxy)?;
        let instance = Instance::start(&config, &chromium, &proxy)?;
        Ok(BrowserPool {
            inner: Arc::new(Inner {
                permits: tokio::sync::Semaphore::new(config.tabs),
                config,
                chromium,
                relaunching: tokio::sync::Mutex::new(()),
                state: Mutex::new(Live { generation: 0, instance: Arc::new(instance), idle: Vec::new() }),
                relaunches: AtomicU64::new(0),
                proxy,
            }),
        })
    }

    pub fn config(&self) -> &BrowserConfig {
        &self.inner.config
    }

    /// `HeadlessChrome/156.0…` of the running browser.
    pub fn browser_version(&self) -> String {
        self.live().1.version.clone()
    }

    /// The pid of the running browser process (tests kill it; the bench sums its tree's memory).
    pub fn browser_pid(&self) -> Option<u32> {
        self.live().1.pid
    }

    /// How many times the browser was relaunched after a crash or hang.
    pub fn relaunches(&self) -> u64 {
        self.inner.relaunches.load(Ordering::Relaxed)
    }

    fn live(&self) -> (u64, Arc<Instance>) {
        let state = self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.generation, Arc::clone(&state.instance))
    }

    /// Renders `url` in a pooled tab, waiting for `wait_for` (a CSS selector)
    /// when given. A crash or hang relaunches the browser and retries once.
    pub async fn render(&self, url: &Url, wait_for: Option<&str>) -> Result<Rendered, BrowserError> {
        // The proxy would refuse a blocked address too, but with a browser
        // error page for evidence. `data:` and `about:` pages reach no
        // network themselves (what they load goes through the proxy); any
        // other scheme (`file:`, `chrome:` …) is refused.
        if !matches!(url.scheme(), "data" | "about") {
            if let Err(b) = self.inner.config.network.check_url(url).await {
                return Err(BrowserError::Blocked { url: url.to_string(), reason: b.reason });
            }
        }
        let _permit = self.inner.permits.acquire().await.map_err(|_| BrowserError::Closed)?;
        match self.attempt(url, wait_for).await {
            Ok(rendered) => Ok(rendered),
            Err(failed) if failed.browser_at_fault => {
                tracing::warn!("{}; relaunching chromium", failed.error);
                self.relaunch(failed.generation).await?;
                self.attempt(url, wait_for).await.map_err(|again| match again.browser_at_fault {
                    true => BrowserError::Crashed { url: url.to_string(), reason: again.error.to_string() },
                    false => again.error,
                })
            }
            Err(failed) => Err(failed.error),
        }
    }

    async fn attempt(&self, url: &Url, wait_for: Option<&str>) -> Result<Rendered, Failed> {
        let (generation, instance, tab) = {
            let mut state = self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (state.generation, Arc::clone(&state.instance), state.idle.pop())
        };
        let config = self.inner.config.clone();
        let (url2, wait_for2, instance2) = (url.clone(), wait_for.map(str::to_string), Arc::clone(&instance));
        let task = tokio::task::spawn_blocking(move || {
            let tab = match tab {
                Some(tab) => tab,
                None => render::open_tab(&instance2.browser, config.viewport).map_err(|e| BrowserError::Render {
                    url: url2.to_string(),
                    reason: format!("cannot open a tab: {e:#}"),
                })?,
            };
            let job = RenderJob {
                url: &url2,
                wait_for: wait_for2.as_deref(),
                timeout: config.page_timeout,
                viewport: config.viewport,
                browser_version: &instance2.version,
                user_agent: &instance2.user_agent,
            };
            let result = render::render(&tab, &job);
            Ok::<_, BrowserError>((tab, result))
        });
        let deadline = self.inner.config.page_timeout + HANG_GRACE;
        let failed = |error, browser_at_fault| Failed { error, generation, browser_at_fault };
        let error = match tokio::time::timeout(deadline, task).await {
            Err(_) => {
                let secs = deadline.as_secs();
                return Err(failed(BrowserError::Timeout { url: url.to_string(), secs }, true));
            }
            Ok(Err(join)) => BrowserError::Task { url: url.to_string(), reason: join.to_string() },
            Ok(Ok(Err(e))) => e,
            Ok(Ok(Ok((tab, Ok(mut rendered))))) => {
                self.record_peer(&mut rendered);
                let mut state = self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if state.generation == generation {
                    state.idle.push(tab);
                }
                return Ok(rendered);
            }
            Ok(Ok(Ok((tab, Err(e))))) => {
                // The tab may be mid-navigation or wedged: do not reuse it.
                tokio::task::spawn_blocking(move || tab.close(false));
                e
            }
        };
        let healthy = is_healthy(&instance).await;
        Err(failed(error, !healthy))
    }

    /// Replaces the browser of `generation` (unless another tab already did).
    async fn relaunch(&self, generation: u64) -> Result<(), BrowserError> {
        let _one_at_a_time = self.inner.relaunching.lock().await;
        if self.live().0 != generation {
            return Ok(());
        }
        let (config, chromium) = (self.inner.config.clone(), self.inner.chromium.clone());
        let pool = self.clone();
        let fresh = tokio::task::spawn_blocking(move || Instance::start(&config, &chromium, &pool.inner.proxy))
            .await
            .map_err(|e| BrowserError::Task { url: "(relaunch)".to_string(), reason: e.to_string() })??;
        let old = {
            let mut state = self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            state.generation += 1;
            state.idle.clear();
            std::mem::replace(&mut state.instance, Arc::new(fresh))
        };
        self.inner.relaunches.fetch_add(1, Ordering::Relaxed);
        // A hung browser may never answer the polite Browser.close of its
        // drop: kill its whole tree first, and drop it off the async workers.
        if let Some(pid) = old.pid {
            kill_tree(pid);
        }
        tokio::task::spawn_blocking(move || drop(old));
        Ok(())
    }
}

impl BrowserPool {
    /// Chromium saw the proxy as the peer; the capture records the address
    /// the proxy connected to for the final URL.
    fn record_peer(&self, rendered: &mut Rendered) {
        let url = &rendered.final_url;
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return;
        };
        if let Some(peer) = self.inner.proxy.peer(host, port) {
            rendered.remote_addr = Some(peer.to_string());
        }
    }
}

/// Every connection through `proxy` (loopback too: `<-loopback>` removes
/// Chromium's implicit bypass), and no WebRTC UDP around it.
fn proxy_flags(proxy: std::net::SocketAddr) -> [String; 3] {
    [
        format!("--proxy-server=http://{proxy}"),
        "--proxy-bypass-list=<-loopback>".to_string(),
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp".to_string(),
    ]
}

async fn is_healthy(instance: &Arc<Instance>) -> bool {
    if instance.pid.is_some_and(procs::is_dead) {
        return false;
    }
    let probe = Arc::clone(instance);
    let check = tokio::task::spawn_blocking(move || probe.browser.get_version().is_ok());
    matches!(tokio::time::timeout(HEALTH_TIMEOUT, check).await, Ok(Ok(true)))
}

/// SIGKILL to `pid` and its descendants (via kill(1): this crate has no unsafe
/// and no libc binding of its own).
fn kill_tree(pid: u32) {
    let pids: Vec<String> = procs::process_tree(pid).iter().map(u32::to_string).collect();
    if pids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .args(&pids)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
