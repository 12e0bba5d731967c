//! The live progress line: elapsed, ops/s, ok/info/fail, active fault.
//!
//! indicatif hides itself when stderr is not a terminal, so CI logs and the
//! end-to-end tests see only the closing summary.

use crate::clients::ClientStats;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Set by `converge sweep`: each run's line is drawn under the sweep's own
/// bar instead of fighting it for the last terminal line.
static DRAW_UNDER: OnceLock<MultiProgress> = OnceLock::new();

/// Draws every later run's progress line inside `multi` (once per process).
pub fn draw_under(multi: MultiProgress) {
    let _ = DRAW_UNDER.set(multi);
}

/// Redraws the line until aborted; `active` names the faults in effect.
pub fn spawn(
    stats: Arc<ClientStats>,
    time_limit: Duration,
    active: Arc<dyn Fn() -> String + Send + Sync>,
) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = ProgressBar::new(time_limit.as_secs().max(1));
    let bar = match DRAW_UNDER.get() {
        Some(multi) => multi.add(bar),
        None => bar,
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:20} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let mut last_total = 0;
        let mut last_at = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let total = stats.total();
            let rate = (total - last_total) as f64 / last_at.elapsed().as_secs_f64().max(1e-3);
            last_total = total;
            last_at = Instant::now();
            shown.set_position(started.elapsed().as_secs());
            shown.set_message(format!(
                "{rate:>7.0} ops/s  ok {} info {} fail {}  fault: {}",
                stats.ok.load(Ordering::Relaxed),
                stats.info.load(Ordering::Relaxed),
                stats.fail.load(Ordering::Relaxed),
                active(),
            ));
        }
    });
    (bar, task)
}
