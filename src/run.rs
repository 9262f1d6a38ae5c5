//! One training run: env + agent + loop, with TensorBoard scalars, periodic greedy evaluation, checkpoints
//! at episode boundaries (so a resumed run continues the same curve) and `summary.json` at the end.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rand::{RngCore, SeedableRng};
use sparse_rl_agents::agent::{Agent, FlopsRatio, ModuleStats};
use sparse_rl_envs::{Action, Env};

use crate::backend::build_agent;
use crate::checkpoint::{self, Cadence, LoopState};
use crate::config::{Algo, Config, RunConfig};
use crate::log::progress::Progress;
use crate::log::summary::{module_summaries, EvalSummary, Summary};
use crate::log::tensorboard::Scalars;
use crate::run_dir::{truncate_episodes, RunDir};

/// Where a run starts from.
pub enum Start {
    /// A new run directory (must not exist yet, or be empty).
    Fresh { out: PathBuf },
    /// Continue the run in this directory from `checkpoints/latest`.
    Resume { run: PathBuf },
}

/// Greedy evaluation result.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub returns: Vec<f64>,
    /// Multi-agent runs: whether each episode was solved (empty for single-agent runs).
    pub solved: Vec<bool>,
}

impl Evaluation {
    /// Fraction of solved episodes (multi-agent runs only).
    pub fn win_rate(&self) -> Option<f64> {
        (!self.solved.is_empty())
            .then(|| self.solved.iter().filter(|&&w| w).count() as f64 / self.solved.len() as f64)
    }

    pub fn mean(&self) -> f64 {
        self.returns.iter().sum::<f64>() / self.returns.len() as f64
    }
    pub fn std(&self) -> f64 {
        let m = self.mean();
        (self.returns.iter().map(|r| (r - m).powi(2)).sum::<f64>() / self.returns.len() as f64).sqrt()
    }
}

/// Trains any algorithm: the RL loop below, or the GAN loop ([`crate::gan_run`]) for `run.algo = "gan"`;
/// returns the summary as JSON.
pub fn train_any(config: Config, start: Start, pause_at: Option<usize>) -> Result<Option<serde_json::Value>> {
    if let Some(notice) = config.clone().resolved().sparse_kernel_notice() {
        eprintln!("{notice}");
    }
    if config.run.algo == Algo::Gan {
        let Start::Fresh { out } = start else {
            bail!("--resume: run.algo = \"gan\" runs write no checkpoints");
        };
        if pause_at.is_some() {
            bail!("--pause-at: run.algo = \"gan\" runs write no checkpoints");
        }
        return Ok(Some(serde_json::to_value(crate::gan_run::train(config, &out)?)?));
    }
    train(config, start, pause_at)?
        .map(serde_json::to_value)
        .transpose()
        .map_err(Into::into)
}

/// Trains as the config says; returns the summary also written to `summary.json`. With `pause_at`, the run
/// stops at the first episode end at or after that step, writes `checkpoints/latest` and returns `None`
/// (a preemptible job's time slice); `--resume` continues it on the same curve. The env and the agent are
/// built (and the memory they will need checked) before anything is written, so a config that cannot run
/// leaves no directory behind.
pub fn train(config: Config, start: Start, pause_at: Option<usize>) -> Result<Option<Summary>> {
    if config.run.algo == Algo::Qmix {
        return crate::marl_run::train(config, start, pause_at);
    }
    let config = config.resolved();
    let run = &config.run;
    let mut env = sparse_rl_envs::make(&run.env)?;
    let mut eval_env = sparse_rl_envs::make(&run.env)?;
    crate::memory::check(&config)?;
    let mut agent = build_agent(&config, env.as_ref())?;
    let run_dir = open_run_dir(&config, start)?;
    let dir = run_dir.path();
    let mut state = start_state(&run_dir, run.seed, |d| agent.load(d))?;
    let mut scalars = Scalars::new(dir)?;
    let mut episodes = run_dir.episodes_log()?;
    let progress = Progress::new(run.total_steps, state.step);
    let cadence = Cadence::new(dir, run_dir.config_text().into(), run, pause_at, &state);
    let step_at_start = state.step;
    let mut recent: Vec<f64> = Vec::new();
    let stop = |e: anyhow::Error, scalars: &mut Scalars| {
        progress.finish();
        let _ = scalars.flush();
        cadence.stopped(e)
    };

    let (mut obs, _) = env.reset(Some(state.seed_rng.next_u64()));
    let (mut ep_return, mut ep_len) = (0.0, 0usize);
    while state.step < run.total_steps {
        let action = agent.act(&obs, true, state.step);
        let s = env.step(&action)?;
        agent.observe(&obs, &action, s.reward, &s.obs, s.terminated);
        state.step += 1;
        ep_return += s.reward;
        ep_len += 1;
        let metrics = match agent.train(state.step) {
            Ok(m) => m,
            Err(e) => return Err(stop(anyhow::anyhow!("{e}"), &mut scalars)),
        };
        if state.step.is_multiple_of(100) {
            for (tag, value) in metrics {
                scalars.scalar(tag, value, state.step)?;
            }
        }
        obs = s.obs;
        if s.terminated || s.truncated {
            state.episodes += 1;
            scalars.scalar("charts/episodic_return", ep_return, state.step)?;
            scalars.scalar("charts/episodic_length", ep_len as f64, state.step)?;
            episodes.row(state.step, ep_return, ep_len)?;
            recent.push(ep_return);
            if recent.len() > 20 {
                recent.remove(0);
            }
            (ep_return, ep_len) = (0.0, 0);
            let sps = (state.step - step_at_start) as f64 / cadence.elapsed();
            scalars.scalar("charts/SPS", sps, state.step)?;
            progress.update(
                state.step,
                sps,
                Some(recent.iter().sum::<f64>() / recent.len() as f64),
            );
            log_modules(&mut scalars, &agent.modules(), state.step)?;
            let mut evaluated = None;
            if cadence.eval_due(&mut state) {
                let ev = evaluate(agent.as_mut(), eval_env.as_mut(), run.eval_episodes, run.seed)?;
                scalars.scalar("eval/return_mean", ev.mean(), state.step)?;
                log_dormant(&mut scalars, &agent.dormant_fractions(), state.step)?;
                evaluated = Some(ev.mean());
            }
            if cadence.episode_end(&mut state, evaluated, |d| Ok(agent.save(d)?))? {
                progress.finish();
                scalars.flush()?;
                return Ok(None);
            }
            (obs, _) = env.reset(Some(state.seed_rng.next_u64()));
        }
    }
    progress.finish();
    let wall = cadence.wall();
    let ev = evaluate(agent.as_mut(), eval_env.as_mut(), run.eval_episodes, run.seed)?;
    scalars.scalar("eval/return_mean", ev.mean(), state.step)?;
    let dormant = agent.dormant_fractions();
    log_dormant(&mut scalars, &dormant, state.step)?;
    let flops = agent.flops();
    scalars.scalar("flops/train_relative_to_dense", flops.train, state.step)?;
    scalars.flush()?;
    cadence.close(&mut state, ev.mean(), |d| Ok(agent.save(d)?))?;
    let mut summary = summary(run, state.step, wall, &ev, agent.modules(), flops);
    for (module, fraction) in dormant {
        if let Some(m) = summary.modules.get_mut(module) {
            m.dormant_fraction = Some(fraction);
        }
    }
    write_summary(dir, &summary)?;
    Ok(Some(summary))
}

/// Everything a run checks before it writes a file, without training: the config (validated when it was
/// parsed), the memory it will need, and its env and agent, built and dropped. A study runs this for every
/// run before it starts any.
pub fn preflight(config: &Config) -> Result<()> {
    let config = config.clone().resolved();
    crate::memory::check(&config)?;
    match config.run.algo {
        Algo::Gan => crate::gan_run::preflight(&config),
        Algo::Qmix => {
            let env = sparse_rl_envs::make_multi_agent(&config.run.env)?;
            crate::backend::build_marl_agent(&config, env.as_ref()).map(drop)
        }
        Algo::Dqn | Algo::Sac => {
            let env = sparse_rl_envs::make(&config.run.env)?;
            build_agent(&config, env.as_ref()).map(drop)
        }
    }
}

/// Writes `summary.json` of a finished run.
pub(crate) fn write_summary(run_dir: &Path, summary: &impl serde::Serialize) -> Result<()> {
    let path = run_dir.join("summary.json");
    fs::write(&path, serde_json::to_string_pretty(summary)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The `summary.json` of a finished run of `steps` env steps in `wall` seconds.
pub(crate) fn summary(
    run: &RunConfig,
    steps: usize,
    wall: f64,
    ev: &Evaluation,
    modules: Vec<ModuleStats>,
    flops: FlopsRatio,
) -> Summary {
    Summary {
        algo: run.algo.name().to_string(),
        env: run.env.clone(),
        seed: run.seed,
        total_steps: steps,
        wall_seconds: wall,
        sps: steps as f64 / wall.max(1e-9),
        episodes_per_second: None,
        eval: EvalSummary {
            episodes: ev.returns.len(),
            return_mean: ev.mean(),
            return_std: ev.std(),
            win_rate: ev.win_rate(),
        },
        modules: module_summaries(modules),
        flops: flops.into(),
    }
}

/// Each module's fraction of dormant neurons at env step `step` (at evaluations).
fn log_dormant(scalars: &mut Scalars, fractions: &[(&str, f64)], step: usize) -> Result<()> {
    for (module, fraction) in fractions {
        scalars.scalar(&format!("plasticity/{module}/dormant_fraction"), *fraction, step)?;
    }
    Ok(())
}

/// Each module's density and topology change at env step `step`.
pub(crate) fn log_modules(scalars: &mut Scalars, modules: &[ModuleStats], step: usize) -> Result<()> {
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
pub(crate) fn open_run_dir(config: &Config, start: Start) -> Result<RunDir> {
    match start {
        Start::Fresh { out } => RunDir::fresh(&out, config),
        Start::Resume { run } => RunDir::resume(&run),
    }
}

/// The loop's state at the start: fresh from the run seed, or read from the latest checkpoint (put back
/// in place if a kill interrupted its last write), whose agent state `load` restores, with `episodes.csv`
/// cut back to it.
pub(crate) fn start_state(
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

/// Greedy returns over `episodes` episodes whose reset seeds are fixed by the run seed, so every evaluation
/// of a run sees the same start states.
pub fn evaluate(agent: &mut dyn Agent, env: &mut dyn Env, episodes: usize, seed: u64) -> Result<Evaluation> {
    let mut returns = Vec::with_capacity(episodes);
    for i in 0..episodes {
        let (mut obs, _) = env.reset(Some(eval_seed(seed, i)));
        let mut total = 0.0;
        loop {
            let action: Action = agent.act(&obs, false, 0);
            let s = env.step(&action)?;
            total += s.reward;
            if s.terminated || s.truncated {
                break;
            }
            obs = s.obs;
        }
        returns.push(total);
    }
    Ok(Evaluation {
        returns,
        solved: Vec::new(),
    })
}

/// The reset seed of evaluation episode `i` of a run with seed `seed`.
pub(crate) fn eval_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(1_000_000 + i as u64)
}

/// Loads a run's config and a checkpoint, and evaluates it greedily over `episodes` (≥ 1) episodes.
pub fn eval_run(run_dir: &Path, which: &str, episodes: usize) -> Result<Evaluation> {
    if episodes == 0 {
        bail!("--episodes must be positive, got 0");
    }
    let (config, config_text) = load_run_config(run_dir)?;
    if config.run.algo == Algo::Qmix {
        return crate::marl_run::eval_run(&config, &config_text, run_dir, which, episodes);
    }
    if config.run.algo == Algo::Gan {
        bail!("eval: run.algo = \"gan\" runs write no checkpoints; their evaluation is in summary.json");
    }
    let (mut agent, mut env) = load(&config, &config_text, run_dir, which)?;
    evaluate(agent.as_mut(), env.as_mut(), episodes, config.run.seed)
}

/// A single-agent run's agent, loaded from checkpoint `which`, with a fresh env of the run.
pub fn load(
    config: &Config,
    config_text: &str,
    run_dir: &Path,
    which: &str,
) -> Result<(Box<dyn Agent>, Box<dyn Env>)> {
    let env = sparse_rl_envs::make(&config.run.env)?;
    let mut agent = build_agent(config, env.as_ref())?;
    let (dir, _) = checkpoint::open(run_dir, which, config_text)?;
    agent
        .load(&dir)
        .with_context(|| format!("cannot load checkpoint {}", dir.display()))?;
    Ok((agent, env))
}

/// A run directory's config, parsed, and its text (to check against a checkpoint's).
pub(crate) fn load_run_config(run_dir: &Path) -> Result<(Config, String)> {
    let path = run_dir.join("config.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = Config::parse(&text, &[]).with_context(|| format!("config {}", path.display()))?;
    Ok((config, text))
}
