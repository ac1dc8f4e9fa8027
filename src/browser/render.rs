//! One page in one tab, blocking (`headless_chrome` is synchronous): run only
//! on tokio's blocking pool ([`super::BrowserPool`] does).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Emulation, Network, Page};
use headless_chrome::{Browser, Tab};
use url::Url;

use super::{BrowserError, NetworkEntry, Rendered};

/// The name our response handler is registered under on a tab.
const HANDLER: &str = "spotcheck-capture";

/// How long to wait, after the page settled, for the main document's
/// `loadingFinished` (delivered on the tab's event thread, possibly late).
const DOCUMENT_GRACE: Duration = Duration::from_secs(2);

/// Tallest screenshot taken (CSS px): Chromium's texture limit is 16384.
const MAX_SCREENSHOT_HEIGHT: u32 = 16_384;

/// What one page render needs besides its tab.
pub(super) struct RenderJob<'a> {
    pub url: &'a Url,
    pub wait_for: Option<&'a str>,
    pub timeout: Duration,
    pub viewport: (u32, u32),
    pub browser_version: &'a str,
    pub user_agent: &'a str,
}

/// A new tab with our viewport.
pub(super) fn open_tab(browser: &Browser, viewport: (u32, u32)) -> anyhow::Result<Arc<Tab>> {
    let tab = browser.new_tab()?;
    set_viewport(&tab, viewport.0, viewport.1)?;
    Ok(tab)
}

fn set_viewport(tab: &Tab, width: u32, height: u32) -> anyhow::Result<()> {
    // Built from JSON: the generated struct has a dozen optional fields.
    let metrics: Emulation::SetDeviceMetricsOverride = serde_json::from_value(serde_json::json!({
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
    }))?;
    tab.call_method(metrics)?;
    Ok(())
}

/// The main document as the network saw it.
struct Document {
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    remote: Option<String>,
}

#[derive(Default)]
struct Seen {
    network: Vec<NetworkEntry>,
    documents: Vec<Document>,
}

/// Renders `job.url` in `tab`. Errors name the URL; the caller decides
/// whether the browser itself is at fault (crash, hang) or only the page.
pub(super) fn render(tab: &Tab, job: &RenderJob<'_>) -> Result<Rendered, BrowserError> {
    let url = job.url.as_str();
    let fail = |e: anyhow::Error| BrowserError::Render { url: url.to_string(), reason: format!("{e:#}") };
    tab.set_default_timeout(job.timeout);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = Arc::clone(&seen);
    tab.register_response_handling(
        HANDLER,
        Box::new(move |params: Network::events::ResponseReceivedEventParams, fetch_body| {
            let body = fetch_body().ok().and_then(|b| {
                if b.base_64_encoded {
                    decode_base64(&b.body)
                } else {
                    Some(b.body.into_bytes())
                }
            });
            let r = &params.response;
            let status = u16::try_from(r.status).unwrap_or(0);
            let entry = NetworkEntry {
                url: r.url.clone(),
                status,
                mime: r.mime_type.clone(),
                bytes: body.as_ref().map_or(r.encoded_data_length.max(0.0) as u64, |b| b.len() as u64),
                sha256: body.as_deref().map(evidence::Digest::of),
            };
            let Ok(mut seen) = sink.lock() else { return };
            seen.network.push(entry);
            if params.Type == Network::ResourceType::Document {
                let remote = r.remote_ip_address.as_ref().map(|ip| match r.remote_port {
                    Some(port) if ip.contains(':') => format!("[{ip}]:{port}"),
                    Some(port) => format!("{ip}:{port}"),
                    None => ip.clone(),
                });
                seen.documents.push(Document {
                    url: r.url.clone(),
                    status,
                    headers: header_pairs(&r.headers),
                    body,
                    remote,
                });
            }
        }),
    )
    .map_err(fail)?;
    let result = render_inner(tab, job, &seen);
    // The handler would otherwise record the next page's traffic too.
    let _ = tab.deregister_response_handling(HANDLER);
    result
}

fn render_inner(tab: &Tab, job: &RenderJob<'_>, seen: &Arc<Mutex<Seen>>) -> Result<Rendered, BrowserError> {
    let url = job.url.as_str();
    let fail = |e: anyhow::Error| BrowserError::Render { url: url.to_string(), reason: format!("{e:#}") };
    let started_at = Utc::now();
    let clock = Instant::now();
    navigate(tab, job).map_err(fail)?;
    tracing::debug!("{url}: navigated in {:?}", clock.elapsed());
    if let Some(selector) = job.wait_for {
        wait_for(tab, selector, job.timeout).map_err(|_| BrowserError::WaitFor {
            url: url.to_string(),
            selector: selector.to_string(),
            secs: job.timeout.as_secs(),
        })?;
    }
    tracing::debug!("{url}: ready in {:?}", clock.elapsed());
    let final_url = Url::parse(&tab.get_url()).unwrap_or_else(|_| job.url.clone());
    let dom = evaluate_string(
        tab,
        "(document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '') + \
         (document.documentElement ? document.documentElement.outerHTML : '')",
    )
    .map_err(fail)?;
    let screenshot_png = full_page_png(tab, job.viewport).map_err(fail)?;
    let mhtml = tab
        .call_method(Page::CaptureSnapshot { format: Some(Page::CaptureSnapshotFormatOption::Mhtml) })
        .map_err(fail)?
        .data
        .into_bytes();

    tracing::debug!("{url}: dom, screenshot and mhtml taken in {:?}", clock.elapsed());
    // The main document's loadingFinished may still be on its way.
    let deadline = Instant::now() + DOCUMENT_GRACE;
    let document = loop {
        let found = seen.lock().ok().and_then(|mut s| {
            let i = s.documents.iter().rposition(|d| d.url == final_url.as_str()).or(match s.documents.len() {
                0 => None,
                n => Some(n - 1),
            })?;
            Some(s.documents.swap_remove(i))
        });
        if found.is_some() || Instant::now() >= deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    tracing::debug!(
        "{url}: main document {} after {:?}",
        if document.is_some() { "seen" } else { "not seen" },
        clock.elapsed()
    );
    let network = seen.lock().map(|s| s.network.clone()).unwrap_or_default();
    let (status, response_headers, body, remote_addr) = match document {
        Some(d) => (Some(d.status), d.headers, d.body, d.remote),
        None => (None, Vec::new(), None, None),
    };
    Ok(Rendered {
        requested_url: job.url.clone(),
        final_url,
        status,
        response_headers,
        document: body,
        dom,
        screenshot_png,
        mhtml,
        network,
        remote_addr,
        user_agent: job.user_agent.to_string(),
        started_at,
        finished_at: Utc::now(),
        browser_version: job.browser_version.to_string(),
    })
}

/// Navigates and waits for this navigation's `load` event (matched by loader
/// id, so an earlier page's events cannot end the wait). Not the network-idle
/// wait of `Tab::wait_until_navigated`: that idles 500 ms on every page, and
/// what scripts add after `load` is what `wait_for` is for.
fn navigate(tab: &Tab, job: &RenderJob<'_>) -> anyhow::Result<()> {
    let loaded: Arc<Mutex<HashSet<String>>> = Arc::default();
    let sink = Arc::clone(&loaded);
    let listener = tab.add_event_listener(Arc::new(move |event: &Event| {
        if let Event::PageLifecycleEvent(e) = event {
            if e.params.name == "load" {
                if let Ok(mut set) = sink.lock() {
                    set.insert(e.params.loader_id.clone());
                }
            }
        }
    }))?;
    let result = (|| {
        let nav = tab.call_method(Page::Navigate {
            url: job.url.to_string(),
            referrer: None,
            transition_Type: None,
            frame_id: None,
            referrer_policy: None,
        })?;
        if let Some(error) = nav.error_text {
            anyhow::bail!("navigation failed: {error}");
        }
        // No loader id: a same-document navigation, nothing to load.
        let Some(loader) = nav.loader_id else { return Ok(()) };
        let deadline = Instant::now() + job.timeout;
        while !loaded.lock().map(|set| set.contains(&loader)).unwrap_or(false) {
            if Instant::now() >= deadline {
                anyhow::bail!("no load event within {} s", job.timeout.as_secs());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    })();
    let _ = tab.remove_event_listener(&listener);
    result
}

/// Polls `document.querySelector(selector)` in the page until it matches
/// (a cheap script call; the DOM-domain lookups of `Tab::wait_for_element`
/// cost a document fetch per try).
fn wait_for(tab: &Tab, selector: &str, timeout: Duration) -> anyhow::Result<()> {
    let expression = format!("document.querySelector({}) !== null", serde_json::Value::from(selector));
    let deadline = Instant::now() + timeout;
    loop {
        if tab.evaluate(&expression, false)?.value == Some(serde_json::Value::Bool(true)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("`{selector}` did not match within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn evaluate_string(tab: &Tab, expression: &str) -> anyhow::Result<String> {
    let value = tab.evaluate(expression, false)?.value;
    match value {
        Some(serde_json::Value::String(s)) => Ok(s),
        other => Err(anyhow::anyhow!("page script returned {other:?} instead of a string")),
    }
}

/// A PNG of the whole page: the viewport is stretched to the content's
/// height for the shot, then put back, so what is below the fold is evidence too.
fn full_page_png(tab: &Tab, viewport: (u32, u32)) -> anyhow::Result<Vec<u8>> {
    let metrics = tab.call_method(Page::GetLayoutMetrics(None))?;
    let size = metrics.css_content_size;
    let width = (size.width.ceil() as u32).max(viewport.0);
    let height = (size.height.ceil() as u32).clamp(viewport.1, MAX_SCREENSHOT_HEIGHT);
    set_viewport(tab, width, height)?;
    let png = tab.capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true);
    set_viewport(tab, viewport.0, viewport.1)?;
    png
}

fn header_pairs(headers: &Network::Headers) -> Vec<(String, String)> {
    match &headers.0 {
        Some(serde_json::Value::Object(map)) => {
            map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
        }
        _ => Vec::new(),
    }
}

/// Standard base64 (with or without padding), as CDP sends binary bodies.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(super::decode_base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(super::decode_base64("aGVsbG8").as_deref(), Some(&b"hello"[..]));
        assert_eq!(super::decode_base64("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(super::decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(super::decode_base64("a"), None);
        assert_eq!(super::decode_base64("a*bc"), None);
    }
}
