//! The training driver of every run (single-agent, multi-agent, the GAN): it owns everything a run writes
//! (the locked run directory, TensorBoard scalars, `episodes.csv`, the progress bar, the evaluation and
//! checkpoint cadence, pause and resume, the stop on a failed step, `summary.json`). An algorithm family
//! plugs in as a [`Learner`]: it trains for an episode (or, without episodes, a block of iterations),
//! evaluates, reports its modules and saves and loads its state; the driver does the rest at the end of
//! each.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use rand::{RngCore, SeedableRng};
use serde::Serialize;
use sparse_rl_agents::agent::{FlopsRatio, ModuleStats, Trainable};

use crate::checkpoint::{self, Cadence, LoopState};
use crate::config::{Config, RunConfig};
use crate::log::progress::Progress;
use crate::log::summary::{module_summaries, Summary};
use crate::log::tensorboard::Scalars;
use crate::run::Start;
use crate::run_dir::{truncate_episodes, RunDir};

/// Env steps between two loggings of a learner's losses.
pub(crate) const METRICS_EVERY: usize = 100;

/// What one call of [`Learner::advance`] finished.
pub enum Advanced {
    /// A training episode.
    Episode(Episode),
    /// Training iterations of a learner without episodes (the GAN's), ending where its scalars are due.
    Iterations,
}

/// One finished training episode.
pub struct Episode {
    pub ret: f64,
    pub len: usize,
    /// Multi-agent tasks: whether the team solved it (logged as `charts/solved`).
    pub solved: Option<bool>,
}

/// An evaluation as the driver logs it, ranks it for the `best` checkpoint and writes it into
/// `summary.json`.
pub trait Evaluated {
    /// The `eval` entry of `summary.json`.
    type Summary: Serialize;
    /// The number `best` keeps the highest of.
    fn score(&self) -> f64;
    /// Its scalars at `step`.
    fn log(&self, scalars: &mut Scalars, step: usize) -> Result<()>;
    fn summary(&self) -> Self::Summary;
}

/// What an algorithm family does inside the driver's loop.
pub trait Learner {
    /// What [`Learner::evaluate`] measures: episodic returns for the RL algorithms.
    type Eval: Evaluated;

    /// Trains for one episode (reset seed `seed`) or, without episodes, one block of iterations, counting
    /// env steps (iterations) in `step`; `None` when the step budget `total` ends an episode first.
    /// `scalars` takes the losses.
    fn advance(
        &mut self,
        seed: u64,
        step: &mut usize,
        total: usize,
        scalars: &mut Scalars,
    ) -> Result<Option<Advanced>>;

    /// Greedy evaluation over `episodes` episodes with the run's fixed evaluation seeds (a learner without
    /// episodes has its own fixed evaluation sample).
    fn evaluate(&mut self, episodes: usize, seed: u64) -> Result<Self::Eval>;

    /// Each module's fraction of dormant neurons, logged at evaluations (none where not measured).
    fn dormant_fractions(&self) -> Vec<(&'static str, f64)>;

    /// Whether the run reports training episodes per second (multi-agent runs, as EPyMARL's logs do).
    fn reports_episode_rate(&self) -> bool;

    /// The agent: its modules, FLOPs, and checkpointed state.
    fn agent(&self) -> &dyn Trainable;
    fn agent_mut(&mut self) -> &mut dyn Trainable;
}

/// The summary of a run of learner `L`.
pub type SummaryOf<L> = Summary<<<L as Learner>::Eval as Evaluated>::Summary>;

/// Runs `learner` as the (resolved) config says; see [`crate::run::train`] for `start` and `pause_at`.
/// The learner is built, and the memory checked, before this writes anything.
pub(crate) fn drive<L: Learner + ?Sized>(
    config: &Config,
    start: Start,
    pause_at: Option<usize>,
    learner: &mut L,
) -> Result<Option<SummaryOf<L>>> {
    let run = &config.run;
    let run_dir = open_run_dir(config, start)?;
    let dir = run_dir.path();
    let mut state = start_state(&run_dir, run.seed, |d| learner.agent_mut().load(d))?;
    let mut scalars = Scalars::new(dir)?;
    // Opened at the first episode: a learner without episodes writes no `episodes.csv`.
    let mut episodes = None;
    let progress = Progress::new(run.total_steps, state.step);
    let cadence = Cadence::new(dir, run_dir.config_text().into(), run, pause_at, &state);
    let (step_at_start, episodes_at_start) = (state.step, state.episodes);
    let mut recent: Vec<f64> = Vec::new();

    while state.step < run.total_steps {
        let seed = state.seed_rng.next_u64();
        let advanced = learner.advance(seed, &mut state.step, run.total_steps, &mut scalars);
        let advanced = match advanced {
            Ok(Some(advanced)) => advanced,
            Ok(None) => break,
            Err(e) => {
                progress.finish();
                let _ = scalars.flush();
                return Err(cadence.stopped(e));
            }
        };
        let step = state.step;
        if let Advanced::Episode(episode) = advanced {
            state.episodes += 1;
            scalars.scalar("charts/episodic_return", episode.ret, step)?;
            scalars.scalar("charts/episodic_length", episode.len as f64, step)?;
            if let Some(solved) = episode.solved {
                scalars.scalar("charts/solved", f64::from(u8::from(solved)), step)?;
            }
            let log = match &mut episodes {
                Some(log) => log,
                None => episodes.insert(run_dir.episodes_log()?),
            };
            log.row(step, episode.ret, episode.len)?;
            recent.push(episode.ret);
            if recent.len() > 20 {
                recent.remove(0);
            }
        }
        let elapsed = cadence.elapsed();
        let sps = (step - step_at_start) as f64 / elapsed;
        scalars.scalar("charts/SPS", sps, step)?;
        if learner.reports_episode_rate() {
            let rate = (state.episodes - episodes_at_start) as f64 / elapsed;
            scalars.scalar("charts/episodes_per_second", rate, step)?;
        }
        let recent_mean = (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64);
        progress.update(step, sps, recent_mean);
        log_modules(&mut scalars, &learner.agent().modules(), step)?;
        let mut evaluated = None;
        if cadence.eval_due(&mut state) {
            let ev = learner.evaluate(run.eval_episodes, run.seed)?;
            log_evaluation(&mut scalars, &ev, &learner.dormant_fractions(), step)?;
            evaluated = Some(ev.score());
        }
        if cadence.episode_end(&mut state, evaluated, |d| Ok(learner.agent().save(d)?))? {
            progress.finish();
            scalars.flush()?;
            return Ok(None);
        }
    }
    progress.finish();
    let (train_seconds, wall) = (cadence.elapsed(), cadence.wall());
    let ev = learner.evaluate(run.eval_episodes, run.seed)?;
    let dormant = learner.dormant_fractions();
    log_evaluation(&mut scalars, &ev, &dormant, state.step)?;
    let flops = learner.agent().flops();
    scalars.scalar("flops/train_relative_to_dense", flops.train, state.step)?;
    scalars.flush()?;
    cadence.close(&mut state, ev.score(), |d| Ok(learner.agent().save(d)?))?;
    let mut summary = summary(run, &state, wall, &ev, learner.agent().modules(), flops);
    for (module, fraction) in dormant {
        if let Some(m) = summary.modules.get_mut(module) {
            m.dormant_fraction = Some(fraction);
        }
    }
    if learner.reports_episode_rate() {
        let rate = (state.episodes - episodes_at_start) as f64 / train_seconds.max(1e-9);
        summary.episodes_per_second = Some(rate);
    }
    write_summary(dir, &summary)?;
    Ok(Some(summary))
}

/// An evaluation's scalars and each module's dormant fraction.
fn log_evaluation(
    scalars: &mut Scalars,
    ev: &impl Evaluated,
    dormant: &[(&str, f64)],
    step: usize,
) -> Result<()> {
    ev.log(scalars, step)?;
    for (module, fraction) in dormant {
        scalars.scalar(&format!("plasticity/{module}/dormant_fraction"), *fraction, step)?;
    }
    Ok(())
}

/// Writes `summary.json` of a finished run.
fn write_summary(run_dir: &Path, summary: &impl serde::Serialize) -> Result<()> {
    let path = run_dir.join("summary.json");
    fs::write(&path, serde_json::to_string_pretty(summary)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The `summary.json` of a run finished at `state`, in `wall` seconds.
fn summary<E: Evaluated>(
    run: &RunConfig,
    state: &LoopState,
    wall: f64,
    ev: &E,
    modules: Vec<ModuleStats>,
    flops: FlopsRatio,
) -> Summary<E::Summary> {
    Summary {
        algo: run.algo.clone(),
        env: run.env.clone(),
        seed: run.seed,
        total_steps: state.step,
        wall_seconds: wall,
        sps: state.step as f64 / wall.max(1e-9),
        episodes_per_second: None,
        eval: ev.summary(),
        evaluations: state.evaluations.map(Into::into),
        modules: module_summaries(modules),
        flops: flops.into(),
    }
}

/// Each module's density and topology change at env step `step`.
fn log_modules(scalars: &mut Scalars, modules: &[ModuleStats], step: usize) -> Result<()> {
    for m in modules {
        scalars.scalar(&format!("sparsity/{}/density", m.name), m.density, step)?;
        scalars.scalar(
            &format!("sparsity/{}/topology_change", m.name),
            m.topology_change,
            step,
        )?;
    }
    Ok(())
}

/// The locked run directory: a fresh one (new or empty, gets `config.toml`) or the one to resume.
fn open_run_dir(config: &Config, start: Start) -> Result<RunDir> {
    match start {
        Start::Fresh { out } => RunDir::fresh(&out, config),
        Start::Resume { run } => RunDir::resume(&run),
    }
}

/// The loop's state at the start: fresh from the run seed, or read from the latest checkpoint (put back
/// in place if a kill interrupted its last write), whose learner state `load` restores, with
/// `episodes.csv` cut back to it.
fn start_state(
    run_dir: &RunDir,
    seed: u64,
    load: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<LoopState> {
    if !run_dir.resumed() {
        return Ok(LoopState::fresh(rand_pcg::Pcg64Mcg::seed_from_u64(seed)));
    }
    let dir = run_dir.path();
    let (chosen, state) = checkpoint::open(dir, "latest", run_dir.config_text())?;
    let chosen = checkpoint::restore(dir, "latest", &chosen)?;
    load(&chosen).with_context(|| format!("cannot load checkpoint {}", chosen.display()))?;
    truncate_episodes(dir, state.episodes)?;
    Ok(state)
}
