//! The Gymnasium bridge against the real Gymnasium (`pip install -r requirements-gym.txt`): the bridged
//! classic-control envs step exactly as the native ports from the same states and actions, a MuJoCo env
//! resets reproducibly and truncates at its registered limit, and every failure names what is missing.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_envs::gym::GymEnv;
use sparse_rl_envs::{make, Action, Env, Space};

fn bridged(id: &str) -> GymEnv {
    GymEnv::new(id).unwrap_or_else(|e| panic!("{e}"))
}

/// Steps the bridged and the native env side by side from the bridged env's reset states, with actions
/// from `act`, and returns how many episodes ended terminated and truncated.
fn assert_parity(
    id: &str,
    episodes: u64,
    mut act: impl FnMut(&[f32], &mut StdRng) -> Action,
) -> (usize, usize) {
    let mut gym = bridged(id);
    let mut native = make(id).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let (mut terminated, mut truncated) = (0, 0);
    for episode in 0..episodes {
        let (mut obs, _) = gym.reset(Some(100 + episode));
        native.reset(Some(0));
        let state = gym.try_state().unwrap();
        native.set_state(&state).unwrap();
        assert_eq!(native.state(), state);
        for t in 0.. {
            let action = act(&obs, &mut rng);
            let g = gym.step(&action).unwrap();
            let n = native.step(&action).unwrap();
            let at = format!("{id} episode {episode} step {t} action {action:?}");
            assert_eq!(g.obs, n.obs, "observation at {at}");
            assert!(
                (g.reward - n.reward).abs() <= 1e-9,
                "reward {} vs {} at {at}",
                g.reward,
                n.reward
            );
            assert_eq!(
                (g.terminated, g.truncated),
                (n.terminated, n.truncated),
                "episode end at {at}"
            );
            obs = g.obs;
            if g.terminated || g.truncated {
                terminated += usize::from(g.terminated);
                truncated += usize::from(g.truncated && !g.terminated);
                break;
            }
        }
    }
    (terminated, truncated)
}

#[test]
fn bridged_cartpole_steps_as_the_native_port() {
    // Random pushes end episodes early; a pole-balancing rule reaches the 500-step limit.
    let (terminated, _) = assert_parity("CartPole-v1", 6, |_, rng| {
        Action::Discrete(rng.random_range(0..2))
    });
    assert_eq!(terminated, 6);
    let balance = |obs: &[f32], _: &mut StdRng| Action::Discrete(usize::from(obs[2] + 0.5 * obs[3] > 0.0));
    let (_, truncated) = assert_parity("CartPole-v1", 2, balance);
    assert_eq!(truncated, 2, "the balancing rule holds the pole for 500 steps");
}

#[test]
fn bridged_pendulum_steps_as_the_native_port() {
    // Torques beyond the ±2 bound too (both clip them); f32 values, as an agent's actions are.
    let (_, truncated) = assert_parity("Pendulum-v1", 3, |_, rng| {
        Action::Continuous(vec![f64::from(rng.random_range(-3.0f32..3.0))])
    });
    assert_eq!(truncated, 3, "every Pendulum episode ends at its 200-step limit");
}

#[test]
fn mujoco_env_resets_reproducibly_and_truncates_at_its_limit() {
    let mut env = bridged("HalfCheetah-v5");
    assert_eq!(env.max_episode_steps(), Some(1000));
    let Space::Box { shape, low, high } = env.action_space() else {
        panic!("HalfCheetah acts in a Box")
    };
    assert_eq!((shape, low, high), (vec![6], vec![-1.0; 6], vec![1.0; 6]));
    assert_eq!(env.observation_space().flat_dim(), 17);

    let actions: Vec<Action> = (0..1000)
        .map(|t| {
            Action::Continuous(
                (0..6)
                    .map(|j| ((t * 7 + j * 3) % 11) as f64 / 5.0 - 1.0)
                    .collect(),
            )
        })
        .collect();
    let rollout = |env: &mut GymEnv, seed| {
        let (first, _) = env.reset(Some(seed));
        let mut observations = vec![first];
        for (t, action) in actions.iter().enumerate() {
            let step = env.step(action).unwrap();
            assert!(!step.terminated, "HalfCheetah never terminates");
            assert_eq!(step.truncated, t == 999, "truncated at step {} only", 1000);
            observations.push(step.obs);
        }
        observations
    };
    let a = rollout(&mut env, 3);
    assert_eq!(rollout(&mut env, 3), a, "the same seed gives the same episode");
    assert_eq!(
        rollout(&mut bridged("HalfCheetah-v5"), 3),
        a,
        "in another worker too"
    );
    assert_ne!(rollout(&mut env, 4)[0], a[0], "another seed starts elsewhere");
    let err = env.step(&actions[0]).unwrap_err().to_string();
    assert!(err.contains("after the episode ended"), "{err}");

    // The MuJoCo state (qpos, qvel) goes back and forth: setting it replays the same next step.
    env.reset(Some(5));
    let state = env.try_state().unwrap();
    assert_eq!(state.len(), 9 + 9);
    let next = env.step(&actions[1]).unwrap();
    env.set_state(&state).unwrap();
    assert_eq!(env.try_state().unwrap(), state);
    assert_eq!(env.step(&actions[1]).unwrap().obs, next.obs);
}

#[test]
fn discrete_observations_arrive_one_hot() {
    let mut env = bridged("FrozenLake-v1");
    assert_eq!(
        env.observation_space(),
        Space::Box {
            low: vec![0.0; 16],
            high: vec![1.0; 16],
            shape: vec![16]
        }
    );
    assert_eq!(env.action_space(), Space::Discrete { n: 4 });
    let (obs, _) = env.reset(Some(0));
    assert_eq!(obs.iter().sum::<f32>(), 1.0);
    assert_eq!(obs[0], 1.0, "FrozenLake starts in cell 0");
    let step = env.step(&Action::Discrete(2)).unwrap();
    assert_eq!(step.obs.iter().filter(|&&x| x == 1.0).count(), 1);
}

#[test]
fn make_routes_gym_ids_to_the_bridge() {
    let mut env = make("gym:Acrobot-v1").unwrap();
    assert_eq!(env.id(), "gym:Acrobot-v1");
    assert_eq!(env.action_space(), Space::Discrete { n: 3 });
    let (obs, _) = env.reset(Some(1));
    assert_eq!(obs.len(), 6);
    let err = env.step(&Action::Discrete(3)).unwrap_err().to_string();
    assert!(
        err.starts_with("gym:Acrobot-v1: action 3 is outside Discrete(3)"),
        "{err}"
    );
}

#[test]
fn failures_name_what_is_missing() {
    let err = GymEnv::new("NoSuchEnv-v0").unwrap_err().to_string();
    assert!(
        err.starts_with("gym:NoSuchEnv-v0: gymnasium.make failed: NameNotFound"),
        "{err}"
    );

    // One's own env by `module:id`: a module that is not installed is named.
    let err = GymEnv::new("no_such_package_xyz:Foo-v0").unwrap_err().to_string();
    assert!(
        err.contains("ModuleNotFoundError") && err.contains("no_such_package_xyz"),
        "{err}"
    );

    let err = GymEnv::new("Blackjack-v1").unwrap_err().to_string();
    assert!(
        err.contains("observation space Tuple(") && err.contains("FlattenObservation"),
        "{err}"
    );

    let mut env = bridged("CartPole-v1");
    let err = env.step(&Action::Discrete(0)).unwrap_err().to_string();
    assert!(err.contains("step() before reset()"), "{err}");
    let err = env.set_state(&[1.0, 2.0]).unwrap_err().to_string();
    assert!(
        err.ends_with("set_state: ValueError: the env has no state before reset(): call reset() first"),
        "{err}"
    );
    env.reset(Some(0));
    let err = env.set_state(&[1.0, 2.0]).unwrap_err().to_string();
    assert!(
        err.starts_with("gym:CartPole-v1: set_state: ValueError: the state has 4 values, got 2"),
        "{err}"
    );
}
