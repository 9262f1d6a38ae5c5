//! Replays the Gymnasium 1.4 transitions recorded by `fixtures/classic/generate.py`: every step must give
//! the recorded state (|Δ| ≤ 1e-9), reward (|Δ| ≤ 1e-12), flags and `f32` observation.

use serde_json::Value;
use sparse_rl_envs::{classic, make, Action, Env};

const STATE_TOLERANCE: f64 = 1e-9;
const REWARD_TOLERANCE: f64 = 1e-12;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn action(v: &Value) -> Action {
    match v.as_u64() {
        Some(a) => Action::Discrete(a as usize),
        None => Action::Continuous(vec![v.as_f64().expect("an action")]),
    }
}

/// Replays every segment of `<id>.json`; panics with the first few mismatches and their count.
fn replay(id: &str) {
    let path = format!("{}/tests/fixtures/classic/{id}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(fixture["env"], id);
    let mut mismatches = Vec::new();
    let (mut steps, mut terminated, mut truncated) = (0, 0, 0);
    for (s, segment) in fixture["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .enumerate()
    {
        let mut env: Box<dyn Env> = if segment["time_limit"].as_bool().expect("time_limit") {
            make(id).expect("registered")
        } else {
            classic::make_unwrapped(id).expect("a classic env")
        };
        env.reset(Some(0));
        env.set_state(&floats(&segment["state"])).expect("a valid state");
        for (k, record) in segment["steps"].as_array().expect("steps").iter().enumerate() {
            let step = env.step(&action(&record[0])).expect("a valid step");
            let want_state = floats(&record[4]);
            let want_obs: Vec<f32> = floats(&record[5]).iter().map(|&x| x as f32).collect();
            let got_state = env.state();
            let state_error = got_state
                .iter()
                .zip(&want_state)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let ok = state_error <= STATE_TOLERANCE
                && got_state.len() == want_state.len()
                && (step.reward - record[1].as_f64().unwrap()).abs() <= REWARD_TOLERANCE
                && step.terminated == record[2].as_bool().unwrap()
                && step.truncated == record[3].as_bool().unwrap()
                && step.obs == want_obs;
            if !ok {
                mismatches.push(format!(
                    "segment {s} step {k}: want {record}, got state {got_state:?} (max error {state_error:e}) \
                     reward {} terminated {} truncated {} obs {:?}",
                    step.reward, step.terminated, step.truncated, step.obs
                ));
            }
            steps += 1;
            terminated += usize::from(step.terminated);
            truncated += usize::from(step.truncated);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{id}: {} of {steps} steps differ from Gymnasium, e.g.\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(5)].join("\n")
    );
    // The fixture covers what it claims to cover.
    assert!(steps >= 2000, "{id}: only {steps} recorded steps");
    assert!(truncated >= 1, "{id}: no truncated step recorded");
    if id != "Pendulum-v1" {
        assert!(terminated >= 1, "{id}: no terminal step recorded");
    }
}

#[test]
fn cartpole_matches_gymnasium() {
    replay("CartPole-v1");
}

#[test]
fn acrobot_matches_gymnasium() {
    replay("Acrobot-v1");
}

#[test]
fn mountain_car_matches_gymnasium() {
    replay("MountainCar-v0");
}

#[test]
fn continuous_mountain_car_matches_gymnasium() {
    replay("MountainCarContinuous-v0");
}

#[test]
fn pendulum_matches_gymnasium() {
    replay("Pendulum-v1");
}
