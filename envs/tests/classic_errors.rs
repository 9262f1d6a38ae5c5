//! Bad inputs to the classic-control envs come back as `EnvError`s that name the env and the value;
//! nothing panics.

use sparse_rl_envs::classic::{self, IDS};
use sparse_rl_envs::{make, Action, Env};

/// Steps `env` and returns the error message, failing the test if the step succeeded.
fn step_error(env: &mut dyn Env, action: &Action) -> String {
    match env.step(action) {
        Ok(step) => panic!("{}: {action:?} was accepted: {step:?}", env.id()),
        Err(e) => e.to_string(),
    }
}

fn valid_action(env: &dyn Env) -> Action {
    match env.action_space() {
        sparse_rl_envs::Space::Discrete { .. } => Action::Discrete(0),
        sparse_rl_envs::Space::Box { low, .. } => Action::Continuous(vec![0.0; low.len()]),
    }
}

#[test]
fn step_before_reset_is_an_error() {
    for id in IDS {
        let mut env = make(id).unwrap();
        let action = valid_action(env.as_ref());
        let message = step_error(env.as_mut(), &action);
        assert!(message.starts_with(id) && message.contains("reset"), "{message}");
    }
}

#[test]
fn actions_outside_the_space_are_errors_naming_the_value() {
    for id in IDS {
        let mut env = make(id).unwrap();
        env.reset(Some(1));
        let bad: Vec<Action> = match env.action_space() {
            sparse_rl_envs::Space::Discrete { n } => vec![
                Action::Discrete(n),
                Action::Discrete(usize::MAX),
                Action::Continuous(vec![0.0]),
            ],
            sparse_rl_envs::Space::Box { .. } => vec![
                Action::Continuous(vec![]),
                Action::Continuous(vec![0.0, 0.0]),
                Action::Continuous(vec![f64::NAN]),
                Action::Continuous(vec![f64::INFINITY]),
                Action::Discrete(0),
            ],
        };
        for action in &bad {
            let message = step_error(env.as_mut(), action);
            assert!(message.starts_with(id), "{message}");
            let value = match action {
                Action::Discrete(a) => a.to_string(),
                Action::Continuous(v) if v.len() == 1 => v[0].to_string(),
                Action::Continuous(v) => v.len().to_string(),
            };
            assert!(message.contains(&value), "{message} does not name {value}");
        }
        // A rejected action leaves the episode running.
        let action = valid_action(env.as_ref());
        assert!(
            env.step(&action).is_ok(),
            "{id}: a valid step after rejected ones failed"
        );
    }
}

#[test]
fn step_after_termination_is_an_error_until_reset() {
    // CartPole with the pole beyond 12 degrees terminates on the next step.
    let mut env = make("CartPole-v1").unwrap();
    env.reset(Some(0));
    env.set_state(&[0.0, 0.0, 0.3, 0.0]).unwrap();
    assert!(env.step(&Action::Discrete(1)).unwrap().terminated);
    let message = step_error(env.as_mut(), &Action::Discrete(1));
    assert!(
        message.starts_with("CartPole-v1") && message.contains("terminated"),
        "{message}"
    );
    env.reset(None);
    assert!(env.step(&Action::Discrete(1)).is_ok());
}

#[test]
fn step_after_truncation_is_an_error_until_reset() {
    let mut env = make("Pendulum-v1").unwrap();
    env.reset(Some(0));
    let action = Action::Continuous(vec![0.0]);
    for t in 1..=200 {
        let step = env.step(&action).unwrap();
        assert_eq!(step.truncated, t == 200, "step {t}");
        assert!(!step.terminated);
    }
    let message = step_error(env.as_mut(), &action);
    assert!(
        message.starts_with("Pendulum-v1") && message.contains("200"),
        "{message}"
    );
    env.reset(None);
    assert!(env.step(&action).is_ok());
}

#[test]
fn out_of_range_continuous_actions_are_clipped_like_gymnasium() {
    for (id, bound) in [("Pendulum-v1", 2.0), ("MountainCarContinuous-v0", 1.0)] {
        let (mut clipped, mut edge) = (
            classic::make_unwrapped(id).unwrap(),
            classic::make_unwrapped(id).unwrap(),
        );
        for env in [&mut clipped, &mut edge] {
            env.reset(Some(3));
        }
        let big = clipped.step(&Action::Continuous(vec![10.0 * bound])).unwrap();
        let at_edge = edge.step(&Action::Continuous(vec![bound])).unwrap();
        assert_eq!(clipped.state(), edge.state(), "{id}");
        assert_eq!(big.obs, at_edge.obs, "{id}");
        if id == "Pendulum-v1" {
            // Pendulum's cost uses the clipped torque...
            assert_eq!(big.reward, at_edge.reward);
        } else {
            // ...MountainCarContinuous charges the action as given: 0.1 * 10².
            assert!(
                (big.reward - at_edge.reward + 0.1 * 100.0 - 0.1).abs() < 1e-9,
                "{}",
                big.reward
            );
        }
    }
}

#[test]
fn set_state_rejects_wrong_lengths_and_non_finite_values() {
    for id in [
        "CartPole-v1",
        "Acrobot-v1",
        "MountainCar-v0",
        "MountainCarContinuous-v0",
        "Pendulum-v1",
    ] {
        let mut env = classic::make_unwrapped(id).unwrap();
        let n = env.state().len();
        let message = env.set_state(&vec![0.0; n + 1]).unwrap_err().to_string();
        assert!(
            message.starts_with(id) && message.contains(&(n + 1).to_string()),
            "{message}"
        );
        let mut bad = vec![0.0; n];
        bad[n - 1] = f64::NAN;
        let message = env.set_state(&bad).unwrap_err().to_string();
        assert!(message.starts_with(id) && message.contains("NaN"), "{message}");
    }
}

#[test]
fn unknown_ids_are_errors_naming_the_id_and_the_known_ones() {
    let message = make("CartPole-v0").err().expect("unknown id").to_string();
    assert!(
        message.starts_with("CartPole-v0") && message.contains("CartPole-v1"),
        "{message}"
    );
}
