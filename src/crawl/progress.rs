//! Showing a job's progress: a live bar on a terminal, a line every few
//! seconds otherwise (CI logs, pipes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::JobRecord;

pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    started: Instant,
    start_pages: u64,
    last_line: Instant,
}

impl Progress {
    /// `quiet` shows nothing (machine-readable output was asked for, or tests).
    pub fn new(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
            let style =
                ProgressStyle::with_template("{spinner} {pos}/{len} pages  {msg}  [{elapsed_precise}, ETA {eta}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress { bar, quiet, started: Instant::now(), start_pages: 0, last_line: Instant::now() }
    }

    pub fn start(&mut self, job: &JobRecord, resumed: bool) {
        self.started = Instant::now();
        self.start_pages = job.counters.pages;
        let verb = if resumed { "resuming" } else { "starting" };
        let line = format!(
            "{verb} job {} ({} adapter, {} pages done, {} pending)",
            job.id,
            job.spec.adapter,
            job.counters.pages,
            job.counters.queued.saturating_sub(job.counters.pages)
        );
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !self.quiet => eprintln!("{line}"),
            None => {}
        }
    }

    pub fn update(&mut self, job: &JobRecord) {
        let c = &job.counters;
        let rate = self.rate(job);
        let msg = format!(
            "{} listings, {} shops, {} errors, {rate:.0} pages/s",
            c.listings(),
            c.shops_new + c.shops_changed + c.shops_unchanged,
            c.errors
        );
        if let Some(bar) = &self.bar {
            bar.set_length(c.queued);
            bar.set_position(c.pages);
            bar.set_message(msg);
        } else if !self.quiet && self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = Instant::now();
            // Known work only: more pages may be discovered, so this is a lower bound.
            let remaining = c.queued.saturating_sub(c.pages);
            let eta = if rate > 0.0 {
                humantime::format_duration(Duration::from_secs((remaining as f64 / rate).ceil() as u64)).to_string()
            } else {
                "unknown".to_string()
            };
            eprintln!("{}/{} pages, {msg}, ETA {eta} for the pages known so far", c.pages, c.queued);
        }
    }

    /// Pages per second in this run.
    pub fn rate(&self, job: &JobRecord) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            (job.counters.pages - self.start_pages) as f64 / secs
        } else {
            0.0
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
