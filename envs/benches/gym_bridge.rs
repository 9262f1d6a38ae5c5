//! What the Gymnasium bridge adds to a step: the same loop (step, reset at each episode end) run in plain
//! Python in the embedded interpreter and from Rust through `gym:`, alternating, five times each; prints
//! the medians.
//!
//! `cargo bench -p sparse-rl-envs --features gym --bench gym_bridge` (needs `pip install -r requirements-gym.txt`).

use std::ffi::CString;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sparse_rl_envs::gym::GymEnv;
use sparse_rl_envs::{Action, Env};

const REPEATS: usize = 5;

/// The loop in Python, as a user of Gymnasium would write it; sets `us_per_step`.
const PYTHON_LOOP: &str = r#"
import time, numpy as np, gymnasium as gym
env = gym.make(env_id)
if not isinstance(action, int):
    action = np.asarray(action, dtype=env.action_space.dtype)
env.reset(seed=0)
for _ in range(200):
    _, _, te, tr, _ = env.step(action)
    if te or tr: env.reset()
start = time.perf_counter()
for _ in range(steps):
    _, _, te, tr, _ = env.step(action)
    if te or tr: env.reset()
us_per_step = (time.perf_counter() - start) / steps * 1e6
env.close()
"#;

fn python_loop(id: &str, steps: usize, action: &str) -> f64 {
    Python::with_gil(|py| {
        let vars = PyDict::new(py);
        vars.set_item("env_id", id)?;
        vars.set_item("steps", steps)?;
        vars.set_item("action", py.eval(&CString::new(action)?, None, None)?)?;
        py.run(&CString::new(PYTHON_LOOP)?, Some(&vars), None)?;
        vars.get_item("us_per_step")?.expect("the loop sets it").extract()
    })
    .expect("the Python loop runs")
}

fn bridge_loop(env: &mut GymEnv, steps: usize, action: &Action) -> f64 {
    env.reset(Some(0));
    let mut run = |n| {
        for _ in 0..n {
            let step = env.step(action).expect("bridged step");
            if step.terminated || step.truncated {
                env.reset(None);
            }
        }
    };
    run(200);
    let start = Instant::now();
    run(steps);
    start.elapsed().as_secs_f64() / steps as f64 * 1e6
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let cases = [
        ("CartPole-v1", 20_000, Action::Discrete(1), "1"),
        ("Pendulum-v1", 20_000, Action::Continuous(vec![0.5]), "[0.5]"),
        (
            "HalfCheetah-v5",
            5_000,
            Action::Continuous(vec![0.1; 6]),
            "[0.1]*6",
        ),
    ];
    println!("| env | Gymnasium's step (µs) | bridged step (µs) | bridge overhead (µs) |");
    println!("|---|---|---|---|");
    for (id, steps, action, python_action) in cases {
        let mut env = GymEnv::new(id).unwrap_or_else(|e| panic!("{e}"));
        let (mut plain, mut bridged, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            let p = python_loop(id, steps, python_action);
            let b = bridge_loop(&mut env, steps, &action);
            plain.push(p);
            bridged.push(b);
            overhead.push(b - p);
        }
        println!(
            "| {id} | {:.2} | {:.2} | {:.2} |",
            median(plain),
            median(bridged),
            median(overhead)
        );
    }
}
