//! A progress bar on stderr for long runs: drawn only on a terminal, and
//! only once a run has taken about a second, so quick runs and CI logs
//! stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Clone)]
pub struct Progress(Option<ProgressBar>);

const SHOW_AFTER: Duration = Duration::from_secs(1);

impl Progress {
    pub fn hidden() -> Self {
        Progress(None)
    }

    /// A bar that appears after a second if stderr is a terminal.
    pub fn on_terminal() -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<12} [{bar:30}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let delayed = bar.clone();
        std::thread::spawn(move || {
            std::thread::sleep(SHOW_AFTER);
            if !delayed.is_finished() {
                delayed.set_draw_target(ProgressDrawTarget::stderr());
                delayed.enable_steady_tick(Duration::from_millis(120));
            }
        });
        Progress(Some(bar))
    }

    pub fn stage(&self, message: &'static str, total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
            bar.set_length(total as u64);
            bar.set_position(0);
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
