//! Multi-agent gridworlds for cooperative MARL (QMIX and its sparse variants):
//!
//! - [`Foraging`]: Level-Based Foraging, the rules of `lbforaging` 2.0 (Papoudakis et al. 2021, "Benchmarking
//!   Multi-Agent Deep Reinforcement Learning Algorithms in Cooperative Tasks"), ids as lbforaging's gym ids
//!   without the `-v3` suffix, e.g. `Foraging-8x8-2p-2f-coop`, `Foraging-2s-8x8-2p-2f-coop`.
//! - [`PredatorPrey`]: toroidal pursuit where a capture needs two predators acting together, with the optional
//!   miscoordination penalty of Böhmer et al. 2020 ("Deep Coordination Graphs"), e.g.
//!   `PredatorPrey-7x7-4p-2prey-penalty`.
//!
//! Both share the action layout NONE, NORTH, SOUTH, WEST, EAST and a sixth, game-specific action (LOAD /
//! CAPTURE), the joint-action checks (`check_joint_action`) and the ASCII frame (`ascii`).

mod ascii;
mod foraging;
mod predator_prey;

pub use foraging::{Foraging, ForagingConfig, ForagingLayout, GridItem};
pub use predator_prey::{Cell, PredatorPrey, PredatorPreyConfig};

use crate::{EnvError, MaObs, MultiAgentEnv, Result};

/// The registered Level-Based Foraging tasks (lbforaging's naming: `Foraging[-Ns]-SxS-Pp-Ff[-coop][-pen]`).
const FORAGING_IDS: &[&str] = &[
    "Foraging-5x5-2p-1f",
    "Foraging-8x8-2p-2f",
    "Foraging-8x8-2p-2f-coop",
    "Foraging-2s-8x8-2p-2f-coop",
    "Foraging-8x8-2p-2f-coop-pen",
    "Foraging-8x8-2p-3f",
    "Foraging-10x10-3p-3f",
    "Foraging-2s-10x10-3p-3f",
    "Foraging-15x15-3p-4f",
];

/// The registered pursuit tasks (`PredatorPrey-SxS-Np-Mprey[-penalty]`).
const PREDATOR_PREY_IDS: &[&str] = &[
    "PredatorPrey-7x7-4p-2prey",
    "PredatorPrey-7x7-4p-2prey-penalty",
    "PredatorPrey-10x10-8p-8prey-penalty",
];

/// Registered multi-agent ids.
pub fn ids() -> Vec<String> {
    FORAGING_IDS
        .iter()
        .chain(PREDATOR_PREY_IDS)
        .map(|s| s.to_string())
        .collect()
}

/// Builds a registered gridworld, seeded from the OS until the first `reset(Some(seed))`.
pub fn make(id: &str) -> Option<Box<dyn MultiAgentEnv>> {
    if FORAGING_IDS.contains(&id) {
        let config = ForagingConfig::from_id(id).expect("registered foraging ids parse");
        return Some(Box::new(
            Foraging::new(config).expect("registered foraging configs are valid"),
        ));
    }
    if PREDATOR_PREY_IDS.contains(&id) {
        let config = PredatorPreyConfig::from_id(id).expect("registered pursuit ids parse");
        return Some(Box::new(
            PredatorPrey::new(config).expect("registered pursuit configs are valid"),
        ));
    }
    None
}

/// Number of actions of both games: NONE, NORTH, SOUTH, WEST, EAST and the game's own sixth action.
pub const N_ACTIONS: usize = 6;

/// The four moves as (row, column) steps, indexed by action - 1 (NORTH, SOUTH, WEST, EAST).
const MOVES: [(isize, isize); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];

/// Refuses a joint action that the game cannot play: a step after the episode ended, a wrong number of
/// actions, an index outside `0..N_ACTIONS` or an action the agent does not have available.
/// The joint observation of a gridworld: each agent's observation written by `observe_agent` into a
/// zeroed buffer of `obs_dim`, the global state and the available-action masks.
fn joint_obs(
    obs_dim: usize,
    observe_agent: impl Fn(usize, &mut [f32]),
    state: Vec<f32>,
    avail: &[[bool; N_ACTIONS]],
) -> MaObs {
    let obs = (0..avail.len())
        .map(|i| {
            let mut o = vec![0.0; obs_dim];
            observe_agent(i, &mut o);
            o
        })
        .collect();
    MaObs {
        obs,
        state,
        avail_actions: avail.iter().map(|a| a.to_vec()).collect(),
    }
}

fn check_joint_action(id: &str, done: bool, avail: &[[bool; N_ACTIONS]], actions: &[usize]) -> Result<()> {
    if done {
        return Err(EnvError::new(
            id,
            "step called after the episode ended; call reset first",
        ));
    }
    if actions.len() != avail.len() {
        return Err(EnvError::new(
            id,
            format!(
                "got {} actions, the env has {} agents",
                actions.len(),
                avail.len()
            ),
        ));
    }
    for (agent, (&a, ok)) in actions.iter().zip(avail).enumerate() {
        if a >= N_ACTIONS {
            return Err(EnvError::new(
                id,
                format!("action {a} of agent {agent} is outside Discrete({N_ACTIONS})"),
            ));
        }
        if !ok[a] {
            return Err(EnvError::new(
                id,
                format!("action {a} of agent {agent} is not available"),
            ));
        }
    }
    Ok(())
}

/// Parses the `SxS` part of an id into the side length.
fn parse_square(id: &str, part: &str) -> Result<usize> {
    let (a, b) = part
        .split_once('x')
        .ok_or_else(|| EnvError::new(id, format!("expected a grid size like 8x8, got '{part}'")))?;
    let (a, b) = (parse_count(id, a, "")?, parse_count(id, b, "")?);
    if a != b {
        return Err(EnvError::new(
            id,
            format!("only square grids are named, got '{part}'"),
        ));
    }
    Ok(a)
}

/// Parses a count with its suffix, e.g. `3p` with suffix `p`.
fn parse_count(id: &str, part: &str, suffix: &str) -> Result<usize> {
    part.strip_suffix(suffix)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            EnvError::new(
                id,
                format!("expected a number followed by '{suffix}', got '{part}'"),
            )
        })
}
