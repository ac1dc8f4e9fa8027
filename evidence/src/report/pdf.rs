//! Printing the report page to PDF with headless Chromium.
//!
//! Chromium is the only widely packaged engine that lays out CJK text and
//! print CSS well; it is run as a plain child process with networking,
//! updates, sync and the GPU switched off, in a throw-away profile, under a
//! hard time limit. The PDF is written under a temporary name and renamed into
//! place only once it is known to be a PDF, so a half-written file never sits
//! where the bundle expects the report.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why a report could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot resolve report html {path}: {source}")]
    HtmlPath { path: PathBuf, source: io::Error },
    #[error("cannot create temporary chromium profile under {path}: {source}")]
    TempDir { path: PathBuf, source: io::Error },
    #[error("cannot start chromium {path}: {source}")]
    Spawn { path: PathBuf, source: io::Error },
    #[error("cannot wait for chromium {path}: {source}")]
    Wait { path: PathBuf, source: io::Error },
    #[error("chromium {path} did not finish printing {html} within {timeout:?} and was killed")]
    Timeout { path: PathBuf, html: PathBuf, timeout: Duration },
    #[error("chromium {path} failed ({status}) printing {html}: {stderr}")]
    Failed { path: PathBuf, html: PathBuf, status: ExitStatus, stderr: String },
    #[error("chromium wrote no pdf at {path}: {source}")]
    NoOutput { path: PathBuf, source: io::Error },
    #[error("chromium output {path} is not a pdf (does not start with %PDF-)")]
    NotPdf { path: PathBuf },
    #[error("cannot move pdf {from} to {to}: {source}")]
    Rename { from: PathBuf, to: PathBuf, source: io::Error },
}

/// The fixed switches: headless, no sandbox (stations run it as a service
/// user, often root in containers), and nothing that phones home or fetches
/// updates while evidence is being printed.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
];

/// How often the child is polled while waiting for it.
const POLL: Duration = Duration::from_millis(25);

/// Prints the HTML file at `html_path` to `pdf_out` with the Chromium binary
/// `chromium`, killing it if it takes longer than `timeout`.
///
/// `pdf_out` appears only when Chromium succeeded and wrote something that
/// starts with `%PDF-`; on any error nothing is left at `pdf_out` or beside it.
pub fn render_pdf(html_path: &Path, pdf_out: &Path, chromium: &Path, timeout: Duration) -> Result<(), ReportError> {
    let html = fs::canonicalize(html_path)
        .map_err(|source| ReportError::HtmlPath { path: html_path.to_path_buf(), source })?;
    let work = TempDir::new()?;
    let profile = work.path.join("profile");
    let log = work.path.join("stderr.log");
    let partial = Partial(partial_name(pdf_out));
    let stderr = fs::File::create(&log).map_err(|source| ReportError::TempDir { path: log.clone(), source })?;

    let mut print_to = OsString::from("--print-to-pdf=");
    print_to.push(&partial.0);
    let mut user_data = OsString::from("--user-data-dir=");
    user_data.push(&profile);
    let mut cmd = Command::new(chromium);
    cmd.args(CHROMIUM_FLAGS)
        .arg(user_data)
        .arg("--no-pdf-header-footer")
        .arg(print_to)
        .arg(file_url(&html))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        // Its own process group, so a timeout can take down the renderer
        // and zygote helpers along with the browser process.
        .process_group(0);
    let mut child = cmd.spawn().map_err(|source| ReportError::Spawn { path: chromium.to_path_buf(), source })?;

    let status = match wait_with_timeout(&mut child, timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(&mut child);
            return Err(ReportError::Timeout { path: chromium.to_path_buf(), html, timeout });
        }
        Err(source) => {
            kill_group(&mut child);
            return Err(ReportError::Wait { path: chromium.to_path_buf(), source });
        }
    };
    if !status.success() {
        return Err(ReportError::Failed { path: chromium.to_path_buf(), html, status, stderr: tail(&log) });
    }
    check_pdf(&partial.0)?;
    fs::rename(&partial.0, pdf_out).map_err(|source| ReportError::Rename {
        from: partial.0.clone(),
        to: pdf_out.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// Waits for `child` up to `timeout`; `None` when it is still running.
/// A timeout too large to add to the clock means no limit.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now().checked_add(timeout);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => POLL,
        };
        if left.is_zero() {
            return Ok(None);
        }
        std::thread::sleep(POLL.min(left));
    }
}

/// Kills the child's whole process group, then the child itself, and reaps it
/// so no zombie is left behind.
///
/// The group kill goes through `kill(1)` because this crate has no signal
/// bindings; it is best effort, the direct kill of the child is not.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Errors unless the file at `path` starts with `%PDF-`.
fn check_pdf(path: &Path) -> Result<(), ReportError> {
    let mut head = [0u8; 5];
    let mut f = fs::File::open(path).map_err(|source| ReportError::NoOutput { path: path.to_path_buf(), source })?;
    match f.read_exact(&mut head) {
        Ok(()) if &head == b"%PDF-" => Ok(()),
        _ => Err(ReportError::NotPdf { path: path.to_path_buf() }),
    }
}

/// The last part of Chromium's stderr, for the error message.
fn tail(log: &Path) -> String {
    const MAX: usize = 2000;
    let text = fs::read(log).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let text = text.trim();
    let start = text.char_indices().map(|(i, _)| i).find(|&i| text.len() - i <= MAX).unwrap_or(text.len());
    text[start..].to_string()
}

/// A `file://` URL for an absolute path, percent-encoding every byte outside
/// the unreserved set (spaces, `#`, `?` and non-ASCII names stay intact).
fn file_url(abs: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &b in abs.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// A process-unique suffix for temporary names.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{n}-{nanos:08x}", std::process::id())
}

/// `dir/.report.pdf.<unique>.partial` beside `pdf_out`, so the final rename
/// stays on one file system and is atomic.
fn partial_name(pdf_out: &Path) -> PathBuf {
    let name =
        pdf_out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report.pdf".to_string());
    pdf_out.with_file_name(format!(".{name}.{}.partial", unique()))
}

/// The temporary PDF; removed on drop unless it was renamed away.
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A fresh directory for Chromium's profile and log, removed on drop, so no
/// state (cookies, caches) carries from one report to the next.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir, ReportError> {
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..16 {
            let path = base.join(format!("spotcheck-report-{}", unique()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(source) => return Err(ReportError::TempDir { path: base, source }),
            }
        }
        Err(ReportError::TempDir { path: base, source: last.unwrap_or_else(|| io::Error::other("no free name")) })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Finds a Chromium to print with: `$SPOTCHECK_CHROMIUM` if set, else
/// `/usr/bin/chromium`, else `chromium`, `chromium-browser` or
/// `google-chrome` on `$PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    find_chromium_in(std::env::var_os("SPOTCHECK_CHROMIUM").as_deref(), std::env::var_os("PATH").as_deref())
}

/// [`find_chromium`] with the environment passed in (so it can be tested
/// without touching the process environment).
///
/// An explicit override is returned as given even if nothing is there: a
/// configured path that is wrong should fail loudly naming that path, not be
/// silently replaced by some other browser.
pub fn find_chromium_in(override_path: Option<&OsStr>, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if let Some(p) = override_path.filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let fixed = Path::new("/usr/bin/chromium");
    if is_executable(fixed) {
        return Some(fixed.to_path_buf());
    }
    let dirs: Vec<PathBuf> = path_var.map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}
