//! One training run of a single-agent algorithm (DQN, SAC): the agent and its envs as a
//! [`Learner`] of the shared driver ([`crate::driver`]), which writes the run directory, evaluates,
//! checkpoints at episode boundaries (so a resumed run continues the same curve) and writes `summary.json`;
//! greedy evaluation and `eval --run`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sparse_rl_agents::agent::{Agent, Trainable};
use sparse_rl_dst::inference::{Policy, PolicyAction};
use sparse_rl_envs::{Action, Env};

use crate::checkpoint;
use crate::config::Config;
use crate::driver::{drive, Advanced, Episode, Evaluated, Learner, METRICS_EVERY};
use crate::log::summary::{EvalSummary, Summary};
use crate::log::tensorboard::Scalars;

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

/// Ranked by the mean return; logs it and, where episodes can be solved, the win rate.
impl Evaluated for Evaluation {
    type Summary = EvalSummary;

    fn score(&self) -> f64 {
        self.mean()
    }

    fn log(&self, scalars: &mut Scalars, step: usize) -> Result<()> {
        scalars.scalar("eval/return_mean", self.mean(), step)?;
        if let Some(rate) = self.win_rate() {
            scalars.scalar("eval/win_rate", rate, step)?;
        }
        Ok(())
    }

    fn summary(&self) -> EvalSummary {
        EvalSummary {
            episodes: self.returns.len(),
            return_mean: self.mean(),
            return_std: self.std(),
            win_rate: self.win_rate(),
        }
    }
}

/// The learner of an RL algorithm: evaluated by episodic returns (what `eval` and `export` load).
pub type EpisodicLearner = dyn Learner<Eval = Evaluation>;

/// Trains any algorithm ([`crate::algorithms`]) through the driver; returns the summary as JSON.
pub fn train_any(config: Config, start: Start, pause_at: Option<usize>) -> Result<Option<serde_json::Value>> {
    let config = config.resolved()?;
    if let Some(notice) = config.sparse_kernel_notice() {
        eprintln!("{notice}");
    }
    config.algorithm().train(&config, start, pause_at)
}

/// Trains as the config says; returns the summary also written to `summary.json`. With `pause_at`, the run
/// stops at the first episode end at or after that step, writes `checkpoints/latest` and returns `None`
/// (a preemptible job's time slice); `--resume` continues it on the same curve. The env and the agent are
/// built (and the memory they will need checked) before anything is written, so a config that cannot run
/// leaves no directory behind.
pub fn train(config: Config, start: Start, pause_at: Option<usize>) -> Result<Option<Summary>> {
    let config = config.resolved()?;
    crate::memory::check(&config)?;
    let mut learner = config.algorithm().learner(&config)?;
    drive(&config, start, pause_at, learner.as_mut())
}

/// A single-agent run's agent with its training and evaluation envs.
pub(crate) struct SingleAgentLearner {
    agent: Box<dyn Agent>,
    env: Box<dyn Env>,
    eval_env: Box<dyn Env>,
}

impl SingleAgentLearner {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let env = sparse_rl_envs::make(&config.run.env)?;
        let eval_env = sparse_rl_envs::make(&config.run.env)?;
        let agent = config.algorithm().build_agent(config, env.as_ref())?;
        Ok(Self { agent, env, eval_env })
    }
}

impl Learner for SingleAgentLearner {
    type Eval = Evaluation;

    /// Plays one episode, acting, storing and training at every env step (the agent's losses logged
    /// every [`METRICS_EVERY`] steps).
    fn advance(
        &mut self,
        seed: u64,
        step: &mut usize,
        total: usize,
        scalars: &mut Scalars,
    ) -> Result<Option<Advanced>> {
        let (mut obs, _) = self.env.reset(Some(seed));
        let (mut ret, mut len) = (0.0, 0usize);
        while *step < total {
            let action = self.agent.act(&obs, true, *step);
            let s = self.env.step(&action)?;
            self.agent.observe(&obs, &action, s.reward, &s.obs, s.terminated);
            *step += 1;
            ret += s.reward;
            len += 1;
            let metrics = self.agent.train(*step).map_err(|e| anyhow::anyhow!("{e}"))?;
            if step.is_multiple_of(METRICS_EVERY) {
                for (tag, value) in metrics {
                    scalars.scalar(tag, value, *step)?;
                }
            }
            if s.terminated || s.truncated {
                return Ok(Some(Advanced::Episode(Episode {
                    ret,
                    len,
                    solved: None,
                })));
            }
            obs = s.obs;
        }
        Ok(None)
    }

    fn evaluate(&mut self, episodes: usize, seed: u64) -> Result<Evaluation> {
        evaluate(self.agent.as_mut(), self.eval_env.as_mut(), episodes, seed)
    }

    fn dormant_fractions(&self) -> Vec<(&'static str, f64)> {
        self.agent.dormant_fractions()
    }

    fn reports_episode_rate(&self) -> bool {
        false
    }

    fn agent(&self) -> &dyn Trainable {
        self.agent.as_ref()
    }

    fn agent_mut(&mut self) -> &mut dyn Trainable {
        self.agent.as_mut()
    }
}

/// Everything a run checks before it writes a file, without training: the config (validated when it was
/// parsed), the memory it will need, and its env and agent, built and dropped. A study runs this for every
/// run before it starts any.
pub fn preflight(config: &Config) -> Result<()> {
    let config = config.clone().resolved()?;
    crate::memory::check(&config)?;
    config.algorithm().preflight(&config)
}

/// Greedy returns over `episodes` episodes whose reset seeds are fixed by the run seed, so every evaluation
/// of a run sees the same start states. The agent acts through its greedy network in plain-Rust inference
/// form ([`Trainable::policy`], what `export` writes: sparse layers in CSR or diagonal form, no autodiff
/// graph), built once per evaluation: the same actions (bit for bit for an argmax, to float rounding for
/// SAC's means) at a fraction of burn's per-call cost. An agent without one (a conv encoder, observation
/// normalisation) acts itself.
pub fn evaluate(agent: &mut dyn Agent, env: &mut dyn Env, episodes: usize, seed: u64) -> Result<Evaluation> {
    let policy = agent.policy().ok();
    let mut scratch = policy.as_ref().map(Policy::scratch);
    let mut returns = Vec::with_capacity(episodes);
    for i in 0..episodes {
        let (mut obs, _) = env.reset(Some(eval_seed(seed, i)));
        let mut total = 0.0;
        loop {
            let action = match (&policy, &mut scratch) {
                (Some(policy), Some(scratch)) => match policy.act(&obs, scratch)? {
                    PolicyAction::Discrete(a) => Action::Discrete(a),
                    PolicyAction::Continuous(a) => Action::Continuous(a.into_iter().map(f64::from).collect()),
                },
                _ => agent.act(&obs, false, 0),
            };
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
pub fn eval_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(1_000_000 + i as u64)
}

/// Loads a run's config and a checkpoint, and evaluates it greedily over `episodes` (≥ 1) episodes.
pub fn eval_run(run_dir: &Path, which: &str, episodes: usize) -> Result<Evaluation> {
    if episodes == 0 {
        bail!("--episodes must be positive, got 0");
    }
    let (config, config_text) = load_run_config(run_dir)?;
    let mut learner = config.algorithm().learner(&config).context("eval")?;
    load_checkpoint(learner.agent_mut(), &config_text, run_dir, which)?;
    learner.evaluate(episodes, config.run.seed)
}

/// A single-agent run's agent, loaded from checkpoint `which`, with a fresh env of the run.
pub fn load(
    config: &Config,
    config_text: &str,
    run_dir: &Path,
    which: &str,
) -> Result<(Box<dyn Agent>, Box<dyn Env>)> {
    let env = sparse_rl_envs::make(&config.run.env)?;
    let mut agent = config.algorithm().build_agent(config, env.as_ref())?;
    load_checkpoint(agent.as_mut(), config_text, run_dir, which)?;
    Ok((agent, env))
}

/// Loads checkpoint `which` of `run_dir` (checked against the run's config text) into `agent`.
pub(crate) fn load_checkpoint(
    agent: &mut dyn Trainable,
    config_text: &str,
    run_dir: &Path,
    which: &str,
) -> Result<()> {
    let (dir, _) = checkpoint::open(run_dir, which, config_text)?;
    agent
        .load(&dir)
        .with_context(|| format!("cannot load checkpoint {}", dir.display()))
}

/// A run directory's config, parsed, and its text (to check against a checkpoint's).
pub(crate) fn load_run_config(run_dir: &Path) -> Result<(Config, String)> {
    let path = run_dir.join("config.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = Config::parse(&text, &[]).with_context(|| format!("config {}", path.display()))?;
    Ok((config, text))
}
