//! When a training loop evaluates and checkpoints. Both schedules run on env steps kept in the
//! checkpoint ([`LoopState::last_eval`], [`LoopState::last_checkpoint`]), so a paused or killed run that
//! resumes evaluates, keeps `best` and writes `latest` at exactly the steps of the uninterrupted run.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{write, LoopState};

/// What both training loops (single- and multi-agent) do at an episode end besides logging: decide whether
/// an evaluation is due, keep `best` when an evaluation beats the best so far, write `latest` every
/// `checkpoint_interval` steps, at a `--pause-at` step and at the end, and keep the wall time that a
/// resumed run adds to.
pub struct Cadence {
    run_dir: PathBuf,
    /// The run's `config.toml`, stored in every checkpoint.
    config_text: String,
    eval_interval: usize,
    checkpoint_interval: usize,
    total_steps: usize,
    pause_at: Option<usize>,
    wall_before: f64,
    started: std::time::Instant,
}

impl Cadence {
    /// Starts counting at `state` (fresh or resumed).
    pub fn new(
        run_dir: &Path,
        config_text: String,
        run: &crate::config::RunConfig,
        pause_at: Option<usize>,
        state: &LoopState,
    ) -> Self {
        Self {
            run_dir: run_dir.to_path_buf(),
            config_text,
            eval_interval: run.eval_interval,
            checkpoint_interval: run.checkpoint_interval,
            total_steps: run.total_steps,
            pause_at,
            wall_before: state.wall_seconds,
            started: std::time::Instant::now(),
        }
    }

    /// Seconds since this process started the loop.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Wall seconds of the whole run so far, earlier processes included.
    pub fn wall(&self) -> f64 {
        self.wall_before + self.elapsed()
    }

    /// Whether an evaluation is due at `state.step` (then counted as done).
    pub fn eval_due(&self, state: &mut LoopState) -> bool {
        let due = self.eval_interval > 0 && state.step - state.last_eval >= self.eval_interval;
        if due {
            state.last_eval = state.step;
        }
        due
    }

    /// After an evaluation returning `mean`: counts it, and writes `best` (with `save`) when it beats the
    /// best so far.
    fn keep_best(
        &self,
        state: &mut LoopState,
        mean: f64,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        if let Some(evaluations) = &mut state.evaluations {
            evaluations.add(mean);
        }
        if state.best_eval.is_none_or(|b| mean > b) {
            state.best_eval = Some(mean);
            self.write(state, "best", save)?;
        }
        Ok(())
    }

    /// Writes `latest` (with `save`) when one is due at `state.step`; returns whether the run pauses here.
    /// A pause writes `latest` outside the schedule, which goes on from the last scheduled one. An
    /// interval of 0 schedules none: `latest` is then written only at a pause and at the end.
    fn checkpoint(&self, state: &mut LoopState, save: impl FnOnce(&Path) -> Result<()>) -> Result<bool> {
        let step = state.step;
        let pause = self.pause_at.is_some_and(|p| step >= p) && step < self.total_steps;
        let due = self.checkpoint_interval > 0
            && step - state.last_checkpoint >= self.checkpoint_interval
            && step < self.total_steps;
        if due {
            state.last_checkpoint = step;
        }
        if pause || due {
            self.write(state, "latest", save)?;
        }
        Ok(pause)
    }

    /// At an episode end, after the evaluation that [`Cadence::eval_due`] asked for (its mean, if one
    /// ran): keeps `best`, then writes `latest` when due; returns whether the run pauses here. A failed
    /// write (a non-finite parameter, a full disk) stops the run, saying where its last good checkpoint is.
    pub fn episode_end(
        &self,
        state: &mut LoopState,
        evaluated: Option<f64>,
        save: impl Fn(&Path) -> Result<()>,
    ) -> Result<bool> {
        if let Some(mean) = evaluated {
            self.keep_best(state, mean, &save).map_err(|e| self.stopped(e))?;
        }
        self.checkpoint(state, &save).map_err(|e| self.stopped(e))
    }

    /// The end of a run, after its final evaluation (mean `evaluated`): keeps `best` and writes the last
    /// `latest`, so every finished run ends with both, wherever its end falls in an episode or a schedule.
    pub fn close(
        &self,
        state: &mut LoopState,
        evaluated: f64,
        save: impl Fn(&Path) -> Result<()>,
    ) -> Result<()> {
        self.keep_best(state, evaluated, &save)
            .and_then(|()| self.write(state, "latest", &save))
            .map_err(|e| self.stopped(e))
    }

    /// The error of a run stopped by `e`, saying where its last good checkpoint is.
    pub fn stopped(&self, e: anyhow::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "training stopped: {e:#}; the last good checkpoint is in {}",
            self.run_dir.join("checkpoints").display()
        )
    }

    fn write(
        &self,
        state: &mut LoopState,
        which: &str,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        state.wall_seconds = self.wall();
        write(&self.run_dir, which, state, &self.config_text, save)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cadence(dir: &Path, checkpoint_interval: usize, pause_at: Option<usize>) -> Cadence {
        Cadence {
            run_dir: dir.to_path_buf(),
            config_text: String::new(),
            eval_interval: 0,
            checkpoint_interval,
            total_steps: 1000,
            pause_at,
            wall_before: 0.0,
            started: std::time::Instant::now(),
        }
    }

    /// The steps, among episode ends every 50 steps, at which `latest` is written (the end excluded).
    fn written(cadence: &Cadence) -> Vec<usize> {
        let mut state = LoopState::fresh(rand_pcg::Pcg64Mcg::seed_from_u64(0));
        let mut steps = Vec::new();
        for step in (50..1000).step_by(50) {
            state.step = step;
            let wrote = std::cell::Cell::new(false);
            let pause = cadence
                .episode_end(&mut state, None, |_| {
                    wrote.set(true);
                    Ok(())
                })
                .unwrap();
            if wrote.get() {
                steps.push(step);
            }
            if pause {
                break;
            }
        }
        steps
    }

    #[test]
    fn latest_follows_the_interval_and_an_interval_of_zero_schedules_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(written(&cadence(dir.path(), 300, None)), [300, 600, 900]);
        assert_eq!(written(&cadence(dir.path(), 0, None)), Vec::<usize>::new());
        // A pause still writes one, with or without a schedule.
        assert_eq!(written(&cadence(dir.path(), 0, Some(420))), [450]);
    }
}
