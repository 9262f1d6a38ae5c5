//! Builds registered environments by id, as `gymnasium.make` does (time limits included).

use crate::{Env, EnvError, MultiAgentEnv, Result, Space};

/// Builds a single-agent env by its Gymnasium id, with its time limit, e.g. `make("CartPole-v1")`.
/// An id `gym:<id>` makes a Gymnasium env through the bridge (cargo feature `gym`, module [`crate::gym`]).
pub fn make(id: &str) -> Result<Box<dyn Env>> {
    if let Some(gym_id) = id.strip_prefix(GYM_PREFIX) {
        return make_gym(id, gym_id);
    }
    crate::classic::make(id).ok_or_else(|| unknown(id))
}

/// The prefix of an id that names a Gymnasium env (`gym:HalfCheetah-v5`).
pub const GYM_PREFIX: &str = "gym:";

#[cfg(feature = "gym")]
fn make_gym(_id: &str, gym_id: &str) -> Result<Box<dyn Env>> {
    crate::gym::make(gym_id)
}

#[cfg(not(feature = "gym"))]
fn make_gym(id: &str, _gym_id: &str) -> Result<Box<dyn Env>> {
    Err(EnvError::new(
        id,
        "Gymnasium envs need the bridge: build with `--features gym` \
         (e.g. `cargo run --release --features gym -- train ...`)",
    ))
}

/// Builds a multi-agent gridworld by id, e.g. `make_multi_agent("Foraging-8x8-2p-2f-coop")`.
pub fn make_multi_agent(id: &str) -> Result<Box<dyn MultiAgentEnv>> {
    crate::gridworld::make(id).ok_or_else(|| unknown(id))
}

/// Whether `id` names a multi-agent env.
pub fn is_multi_agent(id: &str) -> bool {
    crate::gridworld::ids().iter().any(|k| k == id)
}

/// One line of `sparse-rl envs`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSpec {
    pub id: String,
    pub kind: &'static str,
    pub observation: String,
    pub action: String,
}

/// Every registered env with its spaces.
pub fn registered() -> Vec<EnvSpec> {
    let mut specs = Vec::new();
    for id in crate::classic::IDS {
        let env = crate::classic::make(id).expect("registered classic id builds");
        specs.push(EnvSpec {
            id: id.to_string(),
            kind: "single-agent",
            observation: env.observation_space().to_string(),
            action: env.action_space().to_string(),
        });
    }
    for id in crate::gridworld::ids() {
        let env = crate::gridworld::make(&id).expect("registered gridworld id builds");
        let action = Space::Discrete { n: env.n_actions() };
        specs.push(EnvSpec {
            observation: format!(
                "{} agents x Box({}), state Box({})",
                env.n_agents(),
                env.obs_dim(),
                env.state_dim()
            ),
            action: format!("{} agents x {action}", env.n_agents()),
            id,
            kind: "multi-agent",
        });
    }
    specs
}

fn unknown(id: &str) -> EnvError {
    let known: Vec<String> = registered().into_iter().map(|s| s.id).collect();
    EnvError::new(
        id,
        format!("unknown environment id; registered: {}", known.join(", ")),
    )
}
