//! One multi-agent training run (QMIX / MAST on the gridworlds), episode by episode as PyMARL's episode
//! runner: the same run-directory contract as single-agent runs ([`crate::run`]: `config.toml`, TensorBoard
//! scalars, `episodes.csv`, `checkpoints/` latest and best with `--resume`, `summary.json`), plus the
//! win rate (episodes solved: all food collected, all prey captured) and episodes per second.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use rand::RngCore;
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_envs::{MaObs, MultiAgentEnv};

use crate::backend::build_marl_agent;
use crate::checkpoint::{self, Cadence};
use crate::config::Config;
use crate::log::progress::Progress;
use crate::log::summary::Summary;
use crate::log::tensorboard::Scalars;
use crate::run::{
    eval_seed, load_run_config, log_modules, open_run_dir, start_state, summary, write_summary, Evaluation,
    Start,
};

/// Trains a multi-agent config; see [`crate::run::train`] for `start` and `pause_at`.
pub fn train(config: Config, start: Start, pause_at: Option<usize>) -> Result<Option<Summary>> {
    let config = config.resolved();
    let run = &config.run;
    let mut env = sparse_rl_envs::make_multi_agent(&run.env)?;
    let mut eval_env = sparse_rl_envs::make_multi_agent(&run.env)?;
    crate::memory::check(&config)?;
    let mut agent = build_marl_agent(&config, env.as_ref())?;
    let run_dir = open_run_dir(&config, start)?;
    let dir = run_dir.path();
    let mut state = start_state(&run_dir, run.seed, |d| agent.load(d))?;
    let mut scalars = Scalars::new(dir)?;
    let mut episodes = run_dir.episodes_log()?;
    let progress = Progress::new(run.total_steps, state.step);
    let cadence = Cadence::new(dir, run_dir.config_text().into(), run, pause_at, &state);
    let (step_at_start, episodes_at_start) = (state.step, state.episodes);
    let mut recent: Vec<f64> = Vec::new();
    let stop = |e: anyhow::Error, scalars: &mut Scalars| {
        progress.finish();
        let _ = scalars.flush();
        cadence.stopped(e)
    };

    while state.step < run.total_steps {
        let (ep_return, ep_len, won) = play_training_episode(
            agent.as_mut(),
            env.as_mut(),
            state.seed_rng.next_u64(),
            &mut state.step,
        )
        .map_err(|e| stop(e, &mut scalars))?;
        state.episodes += 1;
        let step = state.step;
        scalars.scalar("charts/episodic_return", ep_return, step)?;
        scalars.scalar("charts/episodic_length", ep_len as f64, step)?;
        scalars.scalar("charts/solved", f64::from(u8::from(won)), step)?;
        episodes.row(step, ep_return, ep_len)?;
        recent.push(ep_return);
        if recent.len() > 20 {
            recent.remove(0);
        }
        let elapsed = cadence.elapsed();
        let sps = (step - step_at_start) as f64 / elapsed;
        scalars.scalar("charts/SPS", sps, step)?;
        scalars.scalar(
            "charts/episodes_per_second",
            (state.episodes - episodes_at_start) as f64 / elapsed,
            step,
        )?;
        progress.update(step, sps, Some(recent.iter().sum::<f64>() / recent.len() as f64));
        log_modules(&mut scalars, &agent.modules(), step)?;
        let mut evaluated = None;
        if cadence.eval_due(&mut state) {
            let ev = evaluate(agent.as_mut(), eval_env.as_mut(), run.eval_episodes, run.seed)?;
            log_eval(&mut scalars, &ev, step)?;
            evaluated = Some(ev.mean());
        }
        if cadence.episode_end(&mut state, evaluated, |d| Ok(agent.save(d)?))? {
            progress.finish();
            scalars.flush()?;
            return Ok(None);
        }
    }
    progress.finish();
    let (train_seconds, wall) = (cadence.elapsed(), cadence.wall());
    let ev = evaluate(agent.as_mut(), eval_env.as_mut(), run.eval_episodes, run.seed)?;
    log_eval(&mut scalars, &ev, state.step)?;
    let flops = agent.flops();
    scalars.scalar("flops/train_relative_to_dense", flops.train, state.step)?;
    scalars.flush()?;
    cadence.close(&mut state, ev.mean(), |d| Ok(agent.save(d)?))?;
    let mut summary = summary(run, state.step, wall, &ev, agent.modules(), flops);
    summary.episodes_per_second = Some((state.episodes - episodes_at_start) as f64 / train_seconds.max(1e-9));
    write_summary(dir, &summary)?;
    Ok(Some(summary))
}

/// Plays one exploring episode from reset seed `seed`, counting env steps in `step`, and lets the agent
/// store it and train; returns (team return, length, solved).
fn play_training_episode(
    agent: &mut dyn MarlAgent,
    env: &mut dyn MultiAgentEnv,
    seed: u64,
    step: &mut usize,
) -> Result<(f64, usize, bool)> {
    let mut obs = env.reset(Some(seed));
    agent.begin_episode();
    let (mut total, mut len) = (0.0, 0);
    loop {
        let actions = agent.act(&obs, true, *step);
        let s = env.step(&actions)?;
        agent.observe(&obs, &actions, s.team_reward);
        *step += 1;
        total += s.team_reward;
        len += 1;
        if s.terminated || s.truncated {
            agent.end_episode(&s.obs, s.terminated, *step)?;
            return Ok((total, len, env.solved()));
        }
        obs = s.obs;
    }
}

fn log_eval(scalars: &mut Scalars, ev: &Evaluation, step: usize) -> Result<()> {
    scalars.scalar("eval/return_mean", ev.mean(), step)?;
    scalars.scalar("eval/win_rate", ev.win_rate().unwrap_or(0.0), step)
}

/// Greedy team returns and solved flags over `episodes` episodes with the run's fixed evaluation seeds.
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
        let (total, solved) = greedy_episode(agent, env, eval_seed(seed, i), |_, _| Ok(()))?;
        ev.returns.push(total);
        ev.solved.push(solved);
    }
    Ok(ev)
}

/// One greedy episode; `show` sees the env before each step and at the end, with the team return so far.
fn greedy_episode(
    agent: &mut dyn MarlAgent,
    env: &mut dyn MultiAgentEnv,
    seed: u64,
    mut show: impl FnMut(&dyn MultiAgentEnv, f64) -> Result<()>,
) -> Result<(f64, bool)> {
    let mut obs: MaObs = env.reset(Some(seed));
    agent.begin_episode();
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

/// Loads a checkpoint of a multi-agent run with its `config` (whose text is `config_text`) and evaluates it
/// greedily.
pub fn eval_run(
    config: &Config,
    config_text: &str,
    run_dir: &Path,
    which: &str,
    episodes: usize,
) -> Result<Evaluation> {
    let (mut agent, mut env) = load(config, config_text, run_dir, which)?;
    evaluate(agent.as_mut(), env.as_mut(), episodes, config.run.seed)
}

/// Plays the first evaluation episode of a run greedily, writing the ASCII picture of every step to `out`.
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
    let (total, solved) = greedy_episode(
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
    let mut agent = build_marl_agent(config, env.as_ref())?;
    let (dir, _) = checkpoint::open(run_dir, which, config_text)?;
    agent
        .load(&dir)
        .with_context(|| format!("cannot load checkpoint {}", dir.display()))?;
    Ok((agent, env))
}
