//! One multi-agent training run (QMIX / MAST on the gridworlds), episode by episode as PyMARL's episode
//! runner: a [`Learner`] of the shared driver ([`crate::driver`]), so the run directory is that of
//! single-agent runs (`config.toml`, TensorBoard scalars, `episodes.csv`, `checkpoints/` latest and best
//! with `--resume`, `summary.json`), plus the win rate (episodes solved: all food collected, all prey
//! captured) and episodes per second.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use sparse_rl_agents::agent::Trainable;
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_envs::{MaObs, MultiAgentEnv};

use crate::config::Config;
use crate::driver::{Advanced, Episode, Learner, METRICS_EVERY};
use crate::log::tensorboard::Scalars;
use crate::run::{eval_seed, load_checkpoint, load_run_config, Evaluation};

/// A multi-agent run's learner and its training and evaluation envs, played episode by episode.
pub(crate) struct MultiAgentLearner {
    agent: Box<dyn MarlAgent>,
    env: Box<dyn MultiAgentEnv>,
    eval_env: Box<dyn MultiAgentEnv>,
}

impl MultiAgentLearner {
    pub(crate) fn new(config: &Config) -> Result<Self> {
        let env = sparse_rl_envs::make_multi_agent(&config.run.env)?;
        let eval_env = sparse_rl_envs::make_multi_agent(&config.run.env)?;
        let agent = config.algorithm().build_marl_agent(config, env.as_ref())?;
        Ok(Self { agent, env, eval_env })
    }
}

impl Learner for MultiAgentLearner {
    type Eval = Evaluation;

    /// A whole exploring episode, as PyMARL's episode runner plays it (past the step budget if it ends
    /// inside); the agent stores it and trains at its end. Its losses are logged whenever the episode passed
    /// a multiple of [`METRICS_EVERY`] env steps.
    fn advance(
        &mut self,
        seed: u64,
        step: &mut usize,
        _total: usize,
        scalars: &mut Scalars,
    ) -> Result<Option<Advanced>> {
        let mut obs = self.env.reset(Some(seed));
        self.agent.begin_episode();
        let (first, mut ret, mut len) = (*step, 0.0, 0);
        loop {
            let actions = self.agent.act(&obs, true, *step);
            let s = self.env.step(&actions)?;
            self.agent.observe(&obs, &actions, s.team_reward);
            *step += 1;
            ret += s.team_reward;
            len += 1;
            if s.terminated || s.truncated {
                let metrics = self.agent.end_episode(&s.obs, s.terminated, *step)?;
                if first / METRICS_EVERY != *step / METRICS_EVERY {
                    for (tag, value) in metrics {
                        scalars.scalar(tag, value, *step)?;
                    }
                }
                return Ok(Some(Advanced::Episode(Episode {
                    ret,
                    len,
                    solved: Some(self.env.solved()),
                })));
            }
            obs = s.obs;
        }
    }

    fn evaluate(&mut self, episodes: usize, seed: u64) -> Result<Evaluation> {
        evaluate(self.agent.as_mut(), self.eval_env.as_mut(), episodes, seed)
    }

    fn dormant_fractions(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    fn reports_episode_rate(&self) -> bool {
        true
    }

    fn agent(&self) -> &dyn Trainable {
        self.agent.as_ref()
    }

    fn agent_mut(&mut self) -> &mut dyn Trainable {
        self.agent.as_mut()
    }
}

/// Team returns and solved flags over `episodes` evaluation episodes (greedy, or ε-greedy with the
/// algorithm's evaluation ε) with the run's fixed evaluation seeds.
pub fn evaluate(
    agent: &mut dyn MarlAgent,
    env: &mut dyn MultiAgentEnv,
    episodes: usize,
    seed: u64,
) -> Result<Evaluation> {
    let mut ev = Evaluation {
        returns: Vec::with_capacity(episodes),
        solved: Vec::with_capacity(episodes),
    };
    for i in 0..episodes {
        let (total, solved) = evaluation_episode(agent, env, eval_seed(seed, i), |_, _| Ok(()))?;
        ev.returns.push(total);
        ev.solved.push(solved);
    }
    Ok(ev)
}

/// One evaluation episode, its env and ε draws seeded by `seed`; `show` sees the env before each step and at
/// the end, with the team return so far.
fn evaluation_episode(
    agent: &mut dyn MarlAgent,
    env: &mut dyn MultiAgentEnv,
    seed: u64,
    mut show: impl FnMut(&dyn MultiAgentEnv, f64) -> Result<()>,
) -> Result<(f64, bool)> {
    let mut obs: MaObs = env.reset(Some(seed));
    agent.begin_evaluation(seed);
    let mut total = 0.0;
    loop {
        show(env, total)?;
        let actions = agent.act(&obs, false, 0);
        let s = env.step(&actions)?;
        total += s.team_reward;
        if s.terminated || s.truncated {
            show(env, total)?;
            return Ok((total, env.solved()));
        }
        obs = s.obs;
    }
}

/// Plays the first evaluation episode of a run, writing the ASCII picture of every step to `out`.
pub fn render_run(run_dir: &Path, which: &str, out: &mut dyn Write) -> Result<Evaluation> {
    let (config, config_text) = load_run_config(run_dir)?;
    if !sparse_rl_envs::is_multi_agent(&config.run.env) {
        bail!(
            "--render: {} is not a multi-agent env (only gridworld runs render)",
            config.run.env
        );
    }
    let (mut agent, mut env) = load(&config, &config_text, run_dir, which)?;
    let mut t = 0;
    let (total, solved) = evaluation_episode(
        agent.as_mut(),
        env.as_mut(),
        eval_seed(config.run.seed, 0),
        |e, r| {
            writeln!(out, "step {t}  team return {r:.3}\n{}", e.render())?;
            t += 1;
            Ok(())
        },
    )?;
    Ok(Evaluation {
        returns: vec![total],
        solved: vec![solved],
    })
}

/// A multi-agent run's agent, loaded from checkpoint `which`, with a fresh env of the run.
pub fn load(
    config: &Config,
    config_text: &str,
    run_dir: &Path,
    which: &str,
) -> Result<(Box<dyn MarlAgent>, Box<dyn MultiAgentEnv>)> {
    let env = sparse_rl_envs::make_multi_agent(&config.run.env)?;
    let mut agent = config.algorithm().build_marl_agent(config, env.as_ref())?;
    load_checkpoint(agent.as_mut(), config_text, run_dir, which)?;
    Ok((agent, env))
}
