//! The algorithms the CLI trains: one file each, listed once in [`ALGORITHMS`]. An entry says what the
//! config cannot: the algorithm's name (`run.algo` and its table `[<name>]`), its modules (each with a
//! `[sparsity.<module>]` table), how its table is checked and completed, the memory its run will need, and
//! how to build its learner on the config's backend. Everything else (the run directory, logging,
//! evaluation and checkpoint cadence, resume, `summary.json`, `eval`, `export`) is shared.
//!
//! Adding an algorithm: its agent in `agents/src/<name>.rs` (implementing `Agent` or `MarlAgent`), its
//! entry here in `src/algorithms/<name>.rs`, and one line in [`ALGORITHMS`].

mod dqn;
mod gan;
mod qmix;
mod sac;

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sparse_rl_agents::agent::Agent;
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_dst::policy::SparsityPolicy;
use sparse_rl_envs::{Env, MultiAgentEnv};

use crate::config::{one_line, Config};
use crate::memory::Need;
use crate::run::{EpisodicLearner, Start};

/// Every algorithm the CLI trains.
pub const ALGORITHMS: &[&dyn Algorithm] = &[&dqn::Dqn, &sac::Sac, &qmix::Qmix, &gan::Gan];

/// What distinguishes one algorithm in the CLI.
pub trait Algorithm: Sync {
    /// `run.algo`'s value and the name of the algorithm's table.
    fn name(&self) -> &'static str;

    /// The modules of its networks; a `[sparsity.<module>]` table naming another is an error.
    fn modules(&self) -> &'static [&'static str];

    /// Checks that `run.env` is an env (or dataset) the algorithm runs on; the error names `run.env` or
    /// the algorithm. Run once, when the config is validated: it may build the env.
    fn check_env(&self, config: &Config) -> Result<()>;

    /// Checks the algorithm's table (errors name the key) and returns it with every default filled in,
    /// as the run's `config.toml` states it.
    fn resolve(&self, config: &Config) -> Result<toml::Table>;

    /// What its run will need in memory: networks, replay, activations.
    fn memory(&self, config: &Config) -> Result<Vec<Need>>;

    /// The learner of a (resolved) config: the agent on the config's backend and its envs.
    fn learner(&self, config: &Config) -> Result<Box<EpisodicLearner>>;

    /// A single-agent algorithm's agent for `env` on the config's backend.
    fn build_agent(&self, config: &Config, _env: &dyn Env) -> Result<Box<dyn Agent>> {
        bail!("run.algo = {:?} is not a single-agent algorithm", config.run.algo)
    }

    /// A multi-agent algorithm's learner for `env` on the config's backend.
    fn build_marl_agent(&self, config: &Config, _env: &dyn MultiAgentEnv) -> Result<Box<dyn MarlAgent>> {
        bail!("run.algo = {:?} is not a multi-agent algorithm", config.run.algo)
    }

    /// Trains a (resolved) config through the shared driver; returns the summary as JSON (`None` when
    /// paused).
    fn train(
        &self,
        config: &Config,
        start: Start,
        pause_at: Option<usize>,
    ) -> Result<Option<serde_json::Value>> {
        json(crate::run::train(config.clone(), start, pause_at)?)
    }

    /// Builds (and drops) what a run builds before it writes anything.
    fn preflight(&self, config: &Config) -> Result<()> {
        self.learner(config).map(drop)
    }
}

/// A run's summary (`None`: paused) as JSON, what [`Algorithm::train`] returns.
pub fn json(summary: Option<impl Serialize>) -> Result<Option<serde_json::Value>> {
    summary.map(serde_json::to_value).transpose().map_err(Into::into)
}

/// The algorithm `run.algo` names.
pub fn by_name(name: &str) -> Result<&'static dyn Algorithm> {
    ALGORITHMS
        .iter()
        .copied()
        .find(|a| a.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = ALGORITHMS.iter().map(|a| a.name()).collect();
            anyhow!(
                "run.algo = {name:?}: unknown algorithm; algorithms are {}",
                names.join(", ")
            )
        })
}

/// The algorithm's table of `config` as its typed config `T` (serde defaults for absent keys, unknown
/// keys rejected); errors name `<algo>.<key>`.
pub fn table<T: DeserializeOwned>(config: &Config) -> Result<T> {
    toml::Value::Table(config.algorithm.clone())
        .try_into()
        .map_err(|e: toml::de::Error| anyhow!("{}.{}", config.run.algo, one_line(&e)))
}

/// `config`'s table as `T`, checked by `validate` (whose message names the key inside the table), then
/// written back with every default filled in: the usual [`Algorithm::resolve`].
pub fn resolve_table<T: DeserializeOwned + Serialize>(
    config: &Config,
    validate: impl FnOnce(&T) -> std::result::Result<(), String>,
) -> Result<toml::Table> {
    let typed: T = table(config)?;
    validate(&typed).map_err(|e| anyhow!("{}.{e}", config.run.algo))?;
    Ok(toml::Table::try_from(&typed)?)
}

/// The sparsity policy of each module of the run's algorithm (dense where the config names none).
pub fn policies(config: &Config) -> BTreeMap<String, SparsityPolicy> {
    config
        .algorithm()
        .modules()
        .iter()
        .map(|m| (m.to_string(), config.policy(m)))
        .collect()
}

/// The single-agent agent `$agent` (DQN's or SAC's type: `new(config, policies, observation space,
/// action space, total steps, seed, device)`) with its typed table, for env `$env`, on the backend of
/// `$config`: a macro, as the agent's type is generic over a backend chosen at run time.
macro_rules! single_agent {
    ($agent:ident, $config:expr, $env:expr) => {{
        let (config, env) = ($config, $env);
        let (run, table, policies) = (
            &config.run,
            $crate::algorithms::table(config)?,
            $crate::algorithms::policies(config),
        );
        $crate::backend::on_backend!(run.backend, |B, device| {
            let agent = $agent::<B>::new(
                table,
                &policies,
                &env.observation_space(),
                &env.action_space(),
                run.total_steps,
                run.seed,
                device,
            )
            .map_err(anyhow::Error::msg)?;
            Ok(Box::new(agent) as Box<dyn sparse_rl_agents::agent::Agent>)
        })
    }};
}
pub(crate) use single_agent;

/// An error unless `env` is a single-agent env whose action space is discrete (`discrete`) or continuous.
pub fn single_agent_env(config: &Config, discrete: bool) -> Result<()> {
    let run = &config.run;
    let env = sparse_rl_envs::make(&run.env).map_err(|e| anyhow!("run.env: {e}"))?;
    let is_discrete = matches!(env.action_space(), sparse_rl_envs::Space::Discrete { .. });
    if is_discrete != discrete {
        bail!(
            "run.algo = {:?} needs a {} action space, {} has {}",
            run.algo,
            if discrete { "discrete" } else { "continuous" },
            run.env,
            env.action_space()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for (i, a) in ALGORITHMS.iter().enumerate() {
            assert!(
                ALGORITHMS[..i].iter().all(|b| b.name() != a.name()),
                "{}",
                a.name()
            );
            assert_eq!(by_name(a.name()).unwrap().name(), a.name());
        }
        let e = by_name("td3").err().unwrap().to_string();
        assert!(e.contains("\"td3\"") && e.contains("dqn, sac, qmix, gan"), "{e}");
    }
}
