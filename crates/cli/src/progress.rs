//! The progress bar: shown on a terminal only, hidden with `--quiet` or when stderr is
//! redirected.

use abforge_synth::Reporter;
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// A row-count progress bar.
#[derive(Debug)]
pub struct RowBar(ProgressBar);

impl RowBar {
    /// A bar for `total` rows.
    pub fn new(total: u64, quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({rate}, eta {eta})",
            )
            .expect("valid template")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{} rows/s", HumanCount(state.per_sec() as u64));
            }),
        );
        RowBar(bar)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Reporter for RowBar {
    fn on_rows(&self, rows: u64) {
        self.0.inc(rows);
    }
}
