//! The terminal's view of the operations layer's progress: an indicatif bar on standard error,
//! hidden with `--json` (and when standard error is not a terminal, as indicatif does).

use indicatif::{ProgressBar, ProgressStyle};
use music_rag_ops::Progress;

/// A progress bar counting `unit` (tracks, files).
pub struct Bar {
    bar: ProgressBar,
    unit: &'static str,
}

impl Bar {
    pub fn new(unit: &'static str, hidden: bool) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        Self { bar, unit }
    }
}

impl Progress for Bar {
    fn begin(&self, total: u64, stage: &str) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        let template = format!(
            "{{spinner}} {stage} [{{bar:30}}] {{pos}}/{{len}} {}, {{per_sec}}, eta {{eta}} {{msg}}",
            self.unit
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
    }

    fn advance(&self, steps: u64) {
        self.bar.inc(steps);
    }

    fn working_on(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    fn note(&self, line: &str) {
        self.bar.println(line);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
