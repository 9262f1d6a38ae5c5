//! The terminal progress bar: steps, steps per second and the recent episodic return.

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` env steps starting at `done` (a resumed run); hidden when stderr is not a terminal.
    pub fn new(total: usize, done: usize) -> Self {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]",
            )
            .expect("valid template"),
        );
        bar.set_position(done as u64);
        Self { bar }
    }

    pub fn update(&self, step: usize, sps: f64, recent_return: Option<f64>) {
        self.bar.set_position(step as u64);
        let ret = recent_return.map_or("-".to_string(), |r| format!("{r:.1}"));
        self.bar.set_message(format!("SPS {sps:.0}  return {ret}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
