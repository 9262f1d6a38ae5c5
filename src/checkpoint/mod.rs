//! Checkpoints: `checkpoints/latest` and `checkpoints/best`. Each is a directory written whole into a
//! temporary sibling, sealed with a manifest of every file's size and CRC-32 ([`manifest`]), and switched
//! into place by two renames (the old one aside, the new one in). A kill at any point of that sequence
//! leaves at least one sealed checkpoint: the loader takes the named one when it is intact, else the newest
//! sealed one of the temporary and the set-aside sibling, and a resumed run puts that one back in place.
//! Loading verifies the seal and that the run's `config.toml` is the one the checkpoint was written with.

mod cadence;
pub mod manifest;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use cadence::Cadence;

/// The training loop's own state, saved beside the agent's files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
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
    /// The env step of the last evaluation and of the last scheduled `latest`: the schedules continue
    /// from them after a resume, so a resumed run evaluates and keeps `best` where the straight run does.
    pub last_eval: usize,
    pub last_checkpoint: usize,
    /// Every evaluation's score so far, the final one included (absent in a checkpoint written before
    /// runs kept it: a run resumed from one reports no [`Evaluations`]).
    #[serde(default)]
    pub evaluations: Option<Evaluations>,
}

/// The scores of a run's evaluations taken together: the protocol of the EPyMARL benchmark (Papoudakis et
/// al. 2021), which reports each run's maximum and its average over training of the mean evaluation
/// return, beside the final one.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Evaluations {
    pub count: usize,
    pub sum: f64,
    /// The highest score (0 before the first evaluation).
    pub max: f64,
}

impl Evaluations {
    /// Counts one more evaluation scoring `score`.
    pub fn add(&mut self, score: f64) {
        self.max = if self.count == 0 {
            score
        } else {
            self.max.max(score)
        };
        self.count += 1;
        self.sum += score;
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }
}

impl LoopState {
    /// The state of a run that has not started, with the RNG of its reset seeds.
    pub fn fresh(seed_rng: rand_pcg::Pcg64Mcg) -> Self {
        Self {
            step: 0,
            episodes: 0,
            seed_rng,
            best_eval: None,
            wall_seconds: 0.0,
            last_eval: 0,
            last_checkpoint: 0,
            evaluations: Some(Evaluations::default()),
        }
    }
}

const STATE_FILE: &str = "loop.json";
/// The run's config as the checkpoint was written with it.
const CONFIG_FILE: &str = "config.toml";

pub fn dir(run: &Path, which: &str) -> PathBuf {
    run.join("checkpoints").join(which)
}

fn tmp_dir(run: &Path, which: &str) -> PathBuf {
    run.join("checkpoints").join(format!(".{which}.tmp"))
}

fn old_dir(run: &Path, which: &str) -> PathBuf {
    run.join("checkpoints").join(format!(".{which}.old"))
}

/// Writes a checkpoint named `which` (`latest` or `best`) atomically: `fill` writes the agent's files into
/// a fresh temporary directory, which is sealed and then replaces the old checkpoint. On error the old
/// checkpoint is kept and the error names the path.
pub fn write(
    run: &Path,
    which: &str,
    state: &LoopState,
    config_text: &str,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    write_steps(run, which, state, config_text, fill, None)
}

/// The steps of [`write`] in order, numbered for `stop_after`, which returns right after step k as a kill
/// would (nothing cleaned up): the test of every interruption point. 0: clear a stale temporary;
/// 1: create it and fill it; 2: loop state and config; 3: seal; 4: set the old checkpoint aside;
/// 5: move the new one in; 6: delete the old one.
fn write_steps(
    run: &Path,
    which: &str,
    state: &LoopState,
    config_text: &str,
    fill: impl FnOnce(&Path) -> Result<()>,
    stop_after: Option<usize>,
) -> Result<()> {
    let stop = |k: usize| stop_after == Some(k);
    let root = run.join("checkpoints");
    let (tmp, target, old) = (tmp_dir(run, which), dir(run, which), old_dir(run, which));
    let cannot = |what: &str, path: &Path| format!("checkpoint {which}: cannot {what} {}", path.display());
    fs::create_dir_all(&root).with_context(|| cannot("create", &root))?;
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| cannot("remove", &tmp))?;
    }
    if stop(0) {
        return Ok(());
    }
    fs::create_dir_all(&tmp).with_context(|| cannot("create", &tmp))?;
    let filled = fill(&tmp)
        .and_then(|()| {
            if stop(1) {
                return Ok(());
            }
            fs::write(tmp.join(STATE_FILE), serde_json::to_string_pretty(state)?)?;
            fs::write(tmp.join(CONFIG_FILE), config_text)?;
            if stop(2) {
                return Ok(());
            }
            manifest::seal(&tmp, state.step)
        })
        .with_context(|| {
            format!(
                "checkpoint {which} at step {} not written to {}",
                state.step,
                tmp.display()
            )
        });
    if let Err(e) = filled {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if stop(1) || stop(2) || stop(3) {
        return Ok(());
    }
    if target.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| cannot("remove", &old))?;
        }
        fs::rename(&target, &old).with_context(|| cannot("move aside", &target))?;
    }
    if stop(4) {
        return Ok(());
    }
    fs::rename(&tmp, &target).with_context(|| cannot("move into place", &target))?;
    if stop(5) {
        return Ok(());
    }
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| cannot("remove", &old))?;
    }
    Ok(())
}

/// The intact checkpoint `which` of `run` with its manifest: the named directory when its seal verifies,
/// else the newest sealed one of its temporary and set-aside siblings (what a kill during a write leaves).
fn resolve_sealed(run: &Path, which: &str) -> Result<(PathBuf, manifest::Manifest)> {
    let target = dir(run, which);
    let named = match manifest::verify(&target) {
        Ok(m) => return Ok((target, m)),
        Err(e) => e,
    };
    let newest = [tmp_dir(run, which), old_dir(run, which)]
        .into_iter()
        .filter_map(|d| manifest::verify(&d).ok().map(|m| (d, m)))
        .max_by_key(|(_, m)| m.step);
    match newest {
        Some((d, m)) => {
            if target.exists() {
                eprintln!("warning: {named:#}; using {} (step {})", d.display(), m.step);
            }
            Ok((d, m))
        }
        None if target.exists() => Err(named),
        None => bail!("no checkpoint {which} in {}", run.join("checkpoints").display()),
    }
}

/// Resolves checkpoint `which` of `run` and reads its loop state, after checking that `config_text` (the
/// run's `config.toml` now) is the config it was written with. The caller loads the agent from the
/// returned directory.
pub fn open(run: &Path, which: &str, config_text: &str) -> Result<(PathBuf, LoopState)> {
    let (dir, sealed) = resolve_sealed(run, which)?;
    let saved = fs::read_to_string(dir.join(CONFIG_FILE))
        .with_context(|| format!("cannot read {}", dir.join(CONFIG_FILE).display()))?;
    let differ = crate::config::differing_keys(&saved, config_text)
        .with_context(|| format!("config of checkpoint {}", dir.display()))?;
    if !differ.is_empty() {
        bail!(
            "{} differs from the config checkpoint {} was written with, at {}",
            run.join("config.toml").display(),
            dir.display(),
            differ.join(", ")
        );
    }
    let path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let state: LoopState =
        serde_json::from_str(&text).with_context(|| format!("corrupt checkpoint {}", path.display()))?;
    if state.step != sealed.step {
        bail!(
            "checkpoint {} is inconsistent: its manifest says step {}, {} says {}",
            dir.display(),
            sealed.step,
            STATE_FILE,
            state.step
        );
    }
    Ok((dir, state))
}

/// Before a resumed run writes again: puts the checkpoint [`resolve`] chose back in place as `which`
/// (a damaged named one is kept beside it as `.which.damaged`).
pub fn restore(run: &Path, which: &str, chosen: &Path) -> Result<PathBuf> {
    let target = dir(run, which);
    if chosen == target {
        return Ok(target);
    }
    if target.exists() {
        let damaged = run.join("checkpoints").join(format!(".{which}.damaged"));
        if damaged.exists() {
            fs::remove_dir_all(&damaged)?;
        }
        fs::rename(&target, &damaged)
            .with_context(|| format!("cannot move the damaged {} aside", target.display()))?;
    }
    fs::rename(chosen, &target).with_context(|| format!("cannot restore {}", target.display()))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const CONFIG: &str = "[run]\nseed = 1\n";

    fn state(step: usize) -> LoopState {
        LoopState {
            step,
            ..LoopState::fresh(rand_pcg::Pcg64Mcg::seed_from_u64(1))
        }
    }

    fn put(run: &Path, step: usize, text: &str, stop_after: Option<usize>) -> Result<()> {
        let text = text.to_string();
        write_steps(
            run,
            "latest",
            &state(step),
            CONFIG,
            move |d| Ok(fs::write(d.join("a"), text)?),
            stop_after,
        )
    }

    /// What `open` gives: the step and the agent file of the checkpoint it resolves.
    fn read(run: &Path) -> (usize, String) {
        let (d, s) = open(run, "latest", CONFIG).unwrap();
        (s.step, fs::read_to_string(d.join("a")).unwrap())
    }

    /// The tally's maximum is the highest score even when every score is negative (Pendulum's returns).
    #[test]
    fn evaluations_count_the_highest_and_the_mean_score() {
        let mut e = Evaluations::default();
        for score in [-300.0, -150.0, -240.0] {
            e.add(score);
        }
        assert_eq!((e.count, e.max, e.mean()), (3, -150.0, -230.0));
    }

    /// A checkpoint written before runs kept their evaluations loads; its run reports none.
    #[test]
    fn a_loop_state_without_evaluations_loads() {
        let old = LoopState {
            evaluations: None,
            ..state(7)
        };
        let text = serde_json::to_string(&old).unwrap();
        let text = text.replace(r#","evaluations":null"#, "");
        assert!(!text.contains("evaluations"), "{text}");
        let back: LoopState = serde_json::from_str(&text).unwrap();
        assert_eq!((back.step, back.evaluations), (7, None));
    }

    #[test]
    fn a_failed_write_keeps_the_previous_checkpoint() {
        let run = tempfile::tempdir().unwrap();
        put(run.path(), 5, "first", None).unwrap();
        let failed = write(run.path(), "latest", &state(9), CONFIG, |_| {
            anyhow::bail!("disk full")
        });
        let err = format!("{:#}", failed.unwrap_err());
        assert!(
            err.contains("not written to") && err.contains("disk full"),
            "{err}"
        );
        assert_eq!(read(run.path()), (5, "first".into()));
        put(run.path(), 9, "second", None).unwrap();
        assert_eq!(read(run.path()), (9, "second".into()));
    }

    /// A kill after any step of the write leaves a checkpoint that opens, holding the old or the new
    /// state whole; restoring it and writing again works.
    #[test]
    fn a_kill_at_every_step_of_a_write_leaves_an_intact_checkpoint() {
        for k in 0..=6 {
            let run = tempfile::tempdir().unwrap();
            put(run.path(), 5, "first", None).unwrap();
            put(run.path(), 9, "second", Some(k)).unwrap();
            let got = read(run.path());
            let want_new = k >= 4;
            assert!(
                got == (5, "first".into()) && !want_new || got == (9, "second".into()) && want_new,
                "killed after step {k}: {got:?}"
            );
            let (chosen, _) = resolve_sealed(run.path(), "latest").unwrap();
            restore(run.path(), "latest", &chosen).unwrap();
            assert!(manifest::verify(&dir(run.path(), "latest")).is_ok(), "step {k}");
            put(run.path(), 12, "third", None).unwrap();
            assert_eq!(read(run.path()), (12, "third".into()), "after step {k}");
        }
    }

    #[test]
    fn a_damaged_checkpoint_or_another_config_is_an_error() {
        let run = tempfile::tempdir().unwrap();
        put(run.path(), 5, "first", None).unwrap();
        let err = format!(
            "{:#}",
            open(run.path(), "latest", "[run]\nseed = 2\n").unwrap_err()
        );
        assert!(err.contains("run.seed"), "{err}");
        fs::write(dir(run.path(), "latest").join("a"), "firsT").unwrap();
        let err = format!("{:#}", open(run.path(), "latest", CONFIG).unwrap_err());
        assert!(err.contains("is damaged"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = format!("{:#}", open(empty.path(), "latest", CONFIG).unwrap_err());
        assert!(err.contains("no checkpoint latest"), "{err}");
    }
}
