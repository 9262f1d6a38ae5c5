//! Step throughput: each classic env on one core (raw `step`, reset when an episode ends, actions
//! precomputed), and CartPole vector envs on 1 and 2 worker threads.
//!
//! `cargo bench -p sparse-rl-envs --bench step`; criterion reports steps/s as "elem/s".
//! Gymnasium 1.4 on the same machine: CartPole-v1 ~110k steps/s, Pendulum-v1 ~25k, Acrobot-v1 ~21k,
//! MountainCar-v0 ~65k.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_envs::classic::{Acrobot, CartPole, ContinuousMountainCar, MountainCar, Pendulum};
use sparse_rl_envs::{Action, Env, ParallelVectorEnv, Space, SyncVectorEnv, VectorEnv};

const STEPS: usize = 10_000;
const VECTOR_STEPS: usize = 20;

fn random_actions(space: &Space, n: usize, seed: u64) -> Vec<Action> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| match space {
            Space::Discrete { n } => Action::Discrete(rng.random_range(0..*n)),
            Space::Box { low, high, .. } => Action::Continuous(
                low.iter()
                    .zip(high)
                    .map(|(l, h)| rng.random_range(*l..*h))
                    .collect(),
            ),
        })
        .collect()
}

/// `STEPS` steps of one unwrapped env, resetting when an episode ends.
fn bench_env<E: Env>(c: &mut Criterion, mut env: E) {
    let actions = random_actions(&env.action_space(), STEPS, 0);
    let mut group = c.benchmark_group("step");
    group.throughput(Throughput::Elements(STEPS as u64));
    group.bench_function(env.id().to_string(), |b| {
        env.reset(Some(0));
        b.iter(|| {
            for action in &actions {
                let step = env.step(action).expect("a valid action");
                if step.terminated {
                    env.reset(None);
                }
                black_box(step);
            }
        })
    });
    group.finish();
}

fn single_envs(c: &mut Criterion) {
    bench_env(c, CartPole::new());
    bench_env(c, Acrobot::new());
    bench_env(c, MountainCar::new());
    bench_env(c, ContinuousMountainCar::new());
    bench_env(c, Pendulum::new());
}

/// `VECTOR_STEPS` vector steps of all copies (with their time limit and autoreset).
fn bench_vector(c: &mut Criterion, name: &str, mut env: impl VectorEnv) {
    let copies = env.num_envs();
    let actions: Vec<Vec<Action>> = (0..VECTOR_STEPS)
        .map(|t| random_actions(env.single_action_space(), copies, t as u64))
        .collect();
    let mut group = c.benchmark_group(format!("vector {} x{copies}", env.id()));
    group.throughput(Throughput::Elements((copies * VECTOR_STEPS) as u64));
    env.reset(Some(0));
    group.bench_function(name, |b| {
        b.iter(|| {
            for acts in &actions {
                black_box(env.step(acts).expect("valid actions"));
            }
        })
    });
    group.finish();
}

/// CartPole (a step of ~0.1 µs: hand-over costs show) and its pixel version (~10 µs: compute-bound).
fn vector_envs(c: &mut Criterion) {
    for (id, copies) in [("CartPole-v1", 256), ("CartPolePixels-v1", 32)] {
        bench_vector(c, "sync", SyncVectorEnv::new(id, copies).unwrap());
        for threads in [1, 2] {
            let env = ParallelVectorEnv::new(id, copies, threads).unwrap();
            bench_vector(c, &format!("parallel {threads} threads"), env);
        }
    }
}

criterion_group!(benches, single_envs, vector_envs);
criterion_main!(benches);
