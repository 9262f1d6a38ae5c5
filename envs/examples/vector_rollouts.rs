//! The envs crate as a library for one's own agent: four Pendulum copies, each wrapped as CleanRL wraps a
//! continuous-control env (observation normalisation, actions in [-1, 1], episode statistics), stepped
//! together by a vector env with Gymnasium's same-step autoreset. A uniformly random policy plays 2,000
//! vector steps; the example prints each finished episode's return and length from the step info, and
//! the largest normalised observation among the transitions a replay buffer would store
//! (`next_obs()`: the episode's last observation where a step ended one, not the reset one).
//!
//! `cargo run --release -p sparse-rl-envs --example vector_rollouts`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_envs::wrappers::{
    EpisodeStatistics, NormalizeObservation, RescaleAction, EPISODE_LENGTH, EPISODE_RETURN,
};
use sparse_rl_envs::{make, Action, Env, Result, SyncVectorEnv, VectorEnv};

fn wrapped(id: &str) -> Result<Box<dyn Env>> {
    let env = RescaleAction::new(NormalizeObservation::new(make(id)?, 1e-8)?)?;
    Ok(Box::new(EpisodeStatistics::new(env)))
}

fn main() -> Result<()> {
    let envs = (0..4)
        .map(|_| wrapped("Pendulum-v1"))
        .collect::<Result<Vec<_>>>()?;
    let mut vector = SyncVectorEnv::from_envs(envs)?;
    let mut rng = StdRng::seed_from_u64(0);
    let (mut obs, _) = vector.reset(Some(0));
    let mut largest = 0.0f32;
    for _ in 0..2000 {
        let actions: Vec<Action> = (0..vector.num_envs())
            .map(|_| Action::Continuous(vec![rng.random_range(-1.0..=1.0)]))
            .collect();
        let steps = vector.step(&actions)?;
        for (copy, step) in steps.iter().enumerate() {
            // (obs[copy], actions[copy], step.reward, step.next_obs(), step.terminated): the transition.
            let seen = obs[copy].iter().chain(step.next_obs());
            largest = seen.fold(largest, |m, x| m.max(x.abs()));
            if let (Some(r), Some(l)) = (step.info.get(EPISODE_RETURN), step.info.get(EPISODE_LENGTH)) {
                println!("copy {copy}: episode return {r:.1} over {l} steps");
            }
        }
        obs = steps.into_iter().map(|s| s.obs).collect();
    }
    println!("largest |normalised observation|: {largest:.2}");
    Ok(())
}
