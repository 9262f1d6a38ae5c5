//! Picks the burn backend at run time (`run.backend`) and builds the agent on it.

use anyhow::{bail, Result};
use burn::backend::{Autodiff, Flex, NdArray};
use burn::tensor::backend::AutodiffBackend;
use sparse_rl_agents::agent::Agent;
use sparse_rl_agents::dqn::Dqn;
use sparse_rl_agents::sac::Sac;
use sparse_rl_envs::Env;

use crate::config::{modules_of, Algo, BackendName, Config};

/// The agent the config asks for, on the backend it names.
pub fn build_agent(config: &Config, env: &dyn Env) -> Result<Box<dyn Agent>> {
    match config.run.backend {
        BackendName::Flex => build::<Autodiff<Flex>>(config, env, Default::default()),
        BackendName::Ndarray => build::<Autodiff<NdArray>>(config, env, Default::default()),
        #[cfg(feature = "cuda")]
        BackendName::Cuda => build::<Autodiff<burn::backend::Cuda>>(config, env, Default::default()),
        #[cfg(not(feature = "cuda"))]
        BackendName::Cuda => {
            bail!("run.backend = \"cuda\" needs the `cuda` cargo feature (rejected by validation)")
        }
    }
}

fn build<B: AutodiffBackend>(config: &Config, env: &dyn Env, device: B::Device) -> Result<Box<dyn Agent>>
where
    B::InnerBackend: 'static,
{
    let run = &config.run;
    let policies = modules_of(run.algo)
        .iter()
        .map(|m| (m.to_string(), config.policy(m)))
        .collect();
    let obs_space = env.observation_space();
    let action_space = env.action_space();
    Ok(match run.algo {
        Algo::Dqn => Box::new(
            Dqn::<B>::new(
                config.dqn.clone().unwrap_or_default(),
                &policies,
                &obs_space,
                &action_space,
                run.total_steps,
                run.seed,
                device,
            )
            .map_err(anyhow::Error::msg)?,
        ),
        Algo::Sac => Box::new(
            Sac::<B>::new(
                config.sac.clone().unwrap_or_default(),
                &policies,
                &obs_space,
                &action_space,
                run.total_steps,
                run.seed,
                device,
            )
            .map_err(anyhow::Error::msg)?,
        ),
    })
}
