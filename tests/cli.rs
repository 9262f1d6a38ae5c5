//! The CLI on bad input: a one-line error naming the key, file or value, a non-zero exit code, and no run
//! directory written.

mod common;

use common::assert_one_line_error;
use std::path::Path;
use std::process::Command;

fn sparse_rl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sparse-rl"))
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn train_with(config: &str, dir: &Path) -> (i32, String) {
    let path = dir.join("c.toml");
    std::fs::write(&path, config).unwrap();
    let out = dir.join("run");
    let (code, _, err) = sparse_rl(&[
        "train",
        "--config",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !out.exists(),
        "a rejected config must not create the run directory"
    );
    (code, err)
}

const GOOD: &str = "[run]\nalgo = \"dqn\"\nenv = \"CartPole-v1\"\ntotal_steps = 1000\n";

#[test]
fn unknown_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = train_with(&format!("{GOOD}learning_rte = 0.1\n"), dir.path());
    assert_one_line_error(code, &err, &["learning_rte"]);
}

#[test]
fn unknown_env_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = train_with(&GOOD.replace("CartPole-v1", "CartPole-v9"), dir.path());
    assert_one_line_error(code, &err, &["CartPole-v9", "run.env"]);
}

#[test]
fn bad_density_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{GOOD}[sparsity.critic]\nkind = \"static\"\ndensity = 1.5\n");
    let (code, err) = train_with(&config, dir.path());
    assert_one_line_error(code, &err, &["sparsity.critic", "density", "1.5"]);
}

#[test]
fn bad_override_and_missing_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, GOOD).unwrap();
    let (code, _, err) = sparse_rl(&[
        "train",
        "--config",
        path.to_str().unwrap(),
        "--set",
        "dqn.gamma=2.0",
    ]);
    assert_one_line_error(code, &err, &["dqn.gamma", "2"]);
    let (code, _, err) = sparse_rl(&["train", "--config", "no/such.toml"]);
    assert_one_line_error(code, &err, &["no/such.toml"]);
}

#[test]
fn envs_lists_the_registered_environments() {
    let (code, out, _) = sparse_rl(&["envs"]);
    assert_eq!(code, 0);
    for id in [
        "CartPole-v1",
        "Pendulum-v1",
        "Acrobot-v1",
        "MountainCar-v0",
        "MountainCarContinuous-v0",
    ] {
        assert!(out.contains(id), "{id} missing from:\n{out}");
    }
    assert!(out.contains("Discrete(2)"));
}

#[test]
fn cuda_without_the_feature_is_rejected_before_anything_is_written() {
    if cfg!(feature = "cuda") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = train_with(&format!("{GOOD}backend = \"cuda\"\n"), dir.path());
    assert_one_line_error(code, &err, &["run.backend", "cuda"]);
}
