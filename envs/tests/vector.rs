//! Vector envs: same-step autoreset, agreement with N single envs, parallel == sequential, errors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_envs::{make, Action, Env, ParallelVectorEnv, Space, SyncVectorEnv, VectorEnv};

/// A fixed stream of random actions for `n` copies.
fn actions(space: &Space, n: usize, rng: &mut StdRng) -> Vec<Action> {
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

#[test]
fn sync_vector_env_equals_single_envs_with_autoreset() {
    for id in ["CartPole-v1", "MountainCar-v0", "Pendulum-v1"] {
        let n = 4;
        let mut vector = SyncVectorEnv::new(id, n).unwrap();
        let mut singles: Vec<Box<dyn Env>> = (0..n).map(|_| make(id).unwrap()).collect();
        let (obs, _) = vector.reset(Some(10));
        for (i, env) in singles.iter_mut().enumerate() {
            assert_eq!(
                obs[i],
                env.reset(Some(10 + i as u64)).0,
                "{id}: copy {i} seeded with seed + i"
            );
        }
        let mut rng = StdRng::seed_from_u64(0);
        let mut episodes_ended = 0;
        for _ in 0..450 {
            let acts = actions(vector.single_action_space(), n, &mut rng);
            let steps = vector.step(&acts).unwrap();
            for (i, (env, step)) in singles.iter_mut().zip(&steps).enumerate() {
                let single = env.step(&acts[i]).unwrap();
                assert_eq!(step.reward, single.reward);
                assert_eq!(
                    (step.terminated, step.truncated),
                    (single.terminated, single.truncated)
                );
                assert_eq!(step.next_obs(), &single.obs);
                if single.terminated || single.truncated {
                    episodes_ended += 1;
                    // Same-step autoreset: `obs` is the new episode's first observation.
                    let (reset_obs, reset_info) = env.reset(None);
                    assert_eq!(step.obs, reset_obs);
                    assert_eq!(step.final_obs.as_ref(), Some(&single.obs));
                    assert_eq!(step.reset_info.as_ref(), Some(&reset_info));
                } else {
                    assert_eq!(step.obs, single.obs);
                    assert!(step.final_obs.is_none() && step.reset_info.is_none());
                }
            }
        }
        assert!(
            episodes_ended >= n,
            "{id}: only {episodes_ended} episodes ended, autoreset untested"
        );
    }
}

#[test]
fn autoreset_starts_a_fresh_episode() {
    let mut vector = SyncVectorEnv::new("CartPole-v1", 3).unwrap();
    vector.reset(Some(0));
    let mut ended = 0;
    for _ in 0..200 {
        // Always pushing right topples every pole within a few dozen steps.
        for step in vector
            .step(&[Action::Discrete(1), Action::Discrete(1), Action::Discrete(1)])
            .unwrap()
        {
            if let Some(last) = &step.final_obs {
                ended += 1;
                assert!(step.terminated);
                assert!(
                    last[2].abs() > 0.2 || last[0].abs() > 2.4,
                    "a terminal obs {last:?}"
                );
                assert!(
                    step.obs.iter().all(|x| x.abs() <= 0.05),
                    "not a reset obs: {:?}",
                    step.obs
                );
            }
        }
    }
    assert!(ended >= 6, "only {ended} episodes ended");
}

#[test]
fn parallel_equals_sequential_for_any_thread_count() {
    let (id, n) = ("Acrobot-v1", 7);
    let mut reference = SyncVectorEnv::new(id, n).unwrap();
    let mut parallels: Vec<ParallelVectorEnv> = [1, 2, 3, 16]
        .iter()
        .map(|&t| ParallelVectorEnv::new(id, n, t).unwrap())
        .collect();
    assert_eq!(parallels[3].num_threads(), n, "at most one thread per copy");
    let (obs, _) = reference.reset(Some(5));
    for p in &mut parallels {
        assert_eq!(p.reset(Some(5)).0, obs);
    }
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..120 {
        let acts = actions(reference.single_action_space(), n, &mut rng);
        let want = reference.step(&acts).unwrap();
        for p in &mut parallels {
            assert_eq!(p.step(&acts).unwrap(), want, "{} threads", p.num_threads());
        }
    }
}

#[test]
fn bad_actions_are_refused_before_any_copy_moves() {
    let mut sync = SyncVectorEnv::new("CartPole-v1", 3).unwrap();
    let mut parallel = ParallelVectorEnv::new("CartPole-v1", 3, 2).unwrap();
    let (obs, _) = sync.reset(Some(0));
    parallel.reset(Some(0));
    let states: Vec<Vec<f64>> = sync.envs().iter().map(|e| e.state()).collect();
    let wrong_count = vec![Action::Discrete(0); 2];
    let out_of_range = vec![Action::Discrete(0), Action::Discrete(2), Action::Discrete(0)];
    for env in [&mut sync as &mut dyn VectorEnv, &mut parallel] {
        let message = env.step(&wrong_count).unwrap_err().to_string();
        assert!(message.starts_with("CartPole-v1") && message.contains('2') && message.contains('3'));
        let message = env.step(&out_of_range).unwrap_err().to_string();
        assert!(message.contains("action 2"), "{message}");
    }
    assert_eq!(sync.envs().iter().map(|e| e.state()).collect::<Vec<_>>(), states);
    // Both continue in lockstep from where they were.
    let good = vec![Action::Discrete(1); 3];
    let (a, b) = (sync.step(&good).unwrap(), parallel.step(&good).unwrap());
    assert_eq!(a, b);
    assert_ne!(a[0].obs, obs[0]);
}

#[test]
fn construction_errors() {
    assert!(SyncVectorEnv::new("CartPole-v1", 0).is_err());
    assert!(ParallelVectorEnv::new("CartPole-v1", 2, 0).is_err());
    assert!(SyncVectorEnv::new("NoSuchEnv-v0", 2).is_err());
    let mixed = vec![make("CartPole-v1").unwrap(), make("Acrobot-v1").unwrap()];
    let message = SyncVectorEnv::from_envs(mixed).err().unwrap().to_string();
    assert!(
        message.contains("copy 1") && message.contains("Acrobot-v1"),
        "{message}"
    );
}
