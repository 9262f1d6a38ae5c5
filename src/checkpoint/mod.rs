//! Checkpoints: `checkpoints/latest` and `checkpoints/best`, each a directory written whole into a temporary
//! sibling and renamed into place, so a crash mid-write never leaves a half checkpoint behind.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The training loop's own state, saved beside the agent's files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoopState {
    /// Env steps done.
    pub step: usize,
    pub episodes: usize,
    /// The RNG that draws each episode's reset seed.
    pub seed_rng: rand_pcg::Pcg64Mcg,
    /// Best greedy evaluation return so far (for `best`).
    pub best_eval: Option<f64>,
    /// Wall seconds spent before this checkpoint (a resumed run adds to it).
    pub wall_seconds: f64,
}

pub fn dir(run: &Path, which: &str) -> PathBuf {
    run.join("checkpoints").join(which)
}

/// Writes a checkpoint named `which` (`latest` or `best`) atomically: `fill` writes into a fresh temporary
/// directory, which then replaces the old checkpoint by rename.
pub fn write(
    run: &Path,
    which: &str,
    state: &LoopState,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let root = run.join("checkpoints");
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let tmp = root.join(format!(".{which}.tmp"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    fill(&tmp)?;
    fs::write(tmp.join("loop.json"), serde_json::to_string_pretty(state)?)?;
    let target = root.join(which);
    let old = root.join(format!(".{which}.old"));
    if target.exists() {
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        fs::rename(&target, &old)?;
    }
    fs::rename(&tmp, &target).with_context(|| format!("cannot move checkpoint into {}", target.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Reads the loop state of a checkpoint; the caller then loads the agent from the same directory.
pub fn read_state(dir: &Path) -> Result<LoopState> {
    let path = dir.join("loop.json");
    let text = fs::read_to_string(&path).with_context(|| format!("no checkpoint at {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("corrupt checkpoint {}", path.display()))
}

/// What both training loops (single- and multi-agent) do at an episode end besides logging: decide whether
/// an evaluation is due, keep `best` when an evaluation beats the best so far, write `latest` every
/// `checkpoint_interval` steps, at the end and at a `--pause-at` step, and keep the wall time that a
/// resumed run adds to.
pub struct Cadence {
    run_dir: PathBuf,
    eval_interval: usize,
    checkpoint_interval: usize,
    total_steps: usize,
    pause_at: Option<usize>,
    last_eval: usize,
    last_checkpoint: usize,
    wall_before: f64,
    started: std::time::Instant,
}

impl Cadence {
    /// Starts counting at `state` (fresh or resumed).
    pub fn new(
        run_dir: &Path,
        run: &crate::config::RunConfig,
        pause_at: Option<usize>,
        state: &LoopState,
    ) -> Self {
        Self {
            run_dir: run_dir.to_path_buf(),
            eval_interval: run.eval_interval,
            checkpoint_interval: run.checkpoint_interval,
            total_steps: run.total_steps,
            pause_at,
            last_eval: state.step,
            last_checkpoint: state.step,
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

    /// Whether an evaluation is due at `step` (counted as done).
    pub fn eval_due(&mut self, step: usize) -> bool {
        let due = self.eval_interval > 0 && step - self.last_eval >= self.eval_interval;
        if due {
            self.last_eval = step;
        }
        due
    }

    /// After an evaluation returning `mean`: writes `best` (with `save`) when it beats the best so far.
    pub fn keep_best(
        &self,
        state: &mut LoopState,
        mean: f64,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        if state.best_eval.is_none_or(|b| mean > b) {
            state.best_eval = Some(mean);
            state.wall_seconds = self.wall();
            write(&self.run_dir, "best", state, save)?;
        }
        Ok(())
    }

    /// Writes `latest` (with `save`) when one is due at `state.step`; returns whether the run pauses here.
    pub fn checkpoint(
        &mut self,
        state: &mut LoopState,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<bool> {
        let step = state.step;
        let pause = self.pause_at.is_some_and(|p| step >= p) && step < self.total_steps;
        if pause || step - self.last_checkpoint >= self.checkpoint_interval || step >= self.total_steps {
            self.last_checkpoint = step;
            state.wall_seconds = self.wall();
            write(&self.run_dir, "latest", state, save)?;
        }
        Ok(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_failed_write_keeps_the_previous_checkpoint() {
        let run = tempfile::tempdir().unwrap();
        let state = LoopState {
            step: 5,
            episodes: 1,
            seed_rng: rand_pcg::Pcg64Mcg::seed_from_u64(1),
            best_eval: None,
            wall_seconds: 1.0,
        };
        write(run.path(), "latest", &state, |d| {
            Ok(fs::write(d.join("a"), "first")?)
        })
        .unwrap();
        let failed = write(
            run.path(),
            "latest",
            &LoopState {
                step: 9,
                ..state.clone()
            },
            |_| anyhow::bail!("disk full"),
        );
        assert!(failed.is_err());
        let d = dir(run.path(), "latest");
        assert_eq!(read_state(&d).unwrap().step, 5);
        assert_eq!(fs::read_to_string(d.join("a")).unwrap(), "first");
        write(run.path(), "latest", &LoopState { step: 9, ..state }, |d| {
            Ok(fs::write(d.join("a"), "second")?)
        })
        .unwrap();
        assert_eq!(read_state(&d).unwrap().step, 9);
        assert_eq!(fs::read_to_string(d.join("a")).unwrap(), "second");
    }
}
