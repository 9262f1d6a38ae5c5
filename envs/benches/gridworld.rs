//! Steps per second of the multi-agent gridworlds under uniform random available actions, resets
//! included: `cargo bench -p sparse-rl-envs --bench gridworld`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_envs::{make_multi_agent, MaObs};

/// A uniformly random available action per agent, into `actions`.
fn random_actions(rng: &mut StdRng, obs: &MaObs, actions: &mut Vec<usize>) {
    actions.clear();
    for avail in &obs.avail_actions {
        let n = avail.iter().filter(|&&ok| ok).count();
        let pick = rng.random_range(0..n);
        actions.push(
            avail
                .iter()
                .enumerate()
                .filter(|(_, &ok)| ok)
                .nth(pick)
                .unwrap()
                .0,
        );
    }
}

fn random_play(c: &mut Criterion) {
    const STEPS: u64 = 10_000;
    let mut group = c.benchmark_group("gridworld_random_play");
    group.throughput(Throughput::Elements(STEPS));
    for id in [
        "Foraging-8x8-2p-2f-coop",
        "Foraging-10x10-3p-3f",
        "PredatorPrey-7x7-4p-2prey",
    ] {
        let mut env = make_multi_agent(id).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        let mut obs = env.reset(Some(0));
        let mut actions = Vec::new();
        group.bench_function(id, |b| {
            b.iter(|| {
                for _ in 0..STEPS {
                    random_actions(&mut rng, &obs, &mut actions);
                    let step = env.step(&actions).unwrap();
                    obs = if step.terminated || step.truncated {
                        env.reset(None)
                    } else {
                        step.obs
                    };
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, random_play);
criterion_main!(benches);
