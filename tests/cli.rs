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

#[cfg(not(feature = "gym"))]
#[test]
fn gym_env_without_the_bridge_names_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = train_with(&GOOD.replace("CartPole-v1", "gym:CartPole-v1"), dir.path());
    assert_one_line_error(code, &err, &["run.env", "gym:CartPole-v1", "--features gym"]);
}

#[cfg(feature = "gym")]
#[test]
fn unknown_gym_env_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = train_with(&GOOD.replace("CartPole-v1", "gym:CartPole-v9"), dir.path());
    assert_one_line_error(code, &err, &["run.env", "gym:CartPole-v9", "VersionNotFound"]);
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

const SAC: &str = "[run]\nalgo = \"sac\"\nenv = \"Pendulum-v1\"\ntotal_steps = 1000\n";

/// Sizes that overflow or cannot be allocated, and values that would train on garbage, are refused before
/// anything is written, each naming its key.
#[test]
fn impossible_sizes_and_values_are_named_before_anything_is_written() {
    let cases: &[(&str, &str, &[&str])] = &[
        (GOOD, "dqn.buffer_size = 9223372036854775807", &["dqn.buffer_size"]),
        (GOOD, "dqn.head_hidden = [1099511627776]", &["dqn.head_hidden", "GiB"]),
        (SAC, "sac.hidden = [3, 1099511627776, 1099511627776]", &["sac.hidden"]),
        (GOOD, "dqn.adam_eps = -1.0", &["dqn.adam_eps", "-1"]),
        (SAC, "sac.adam_eps = 0.0", &["sac.adam_eps"]),
        (GOOD, "dqn.batch_size = 20000", &["dqn.batch_size", "buffer_size"]),
        (SAC, "sac.buffer_size = 100", &["sac.batch_size", "buffer_size"]),
        (GOOD, "dqn.encoder_hidden = [0]", &["dqn.encoder_hidden"]),
        (GOOD, "dqn.head_hidden = [0]", &["dqn.head_hidden"]),
        (SAC, "sac.hidden = [0]", &["sac.hidden"]),
        (SAC, "sac.critic_network = \"resnet\"", &["critic_network", "resnet", "simba"]),
        (
            SAC,
            "sac.hidden = [64, 32]\nsac.actor_network = \"simba\"",
            &["sac.hidden", "one width"],
        ),
        (
            SAC,
            // Fits as an MLP; a SimBa critic's 4x-wide inner layers make it 3.2e9 weights per Q network.
            "sac.hidden = [20000]\nsac.critic_network = \"simba\"",
            &["sac.hidden", "GiB"],
        ),
        (
            GOOD,
            "sparsity.encoder.kind = \"static\"\nsparsity.encoder.density = 0.5\nsparsity.encoder.structure = \"diagonal\"",
            &["sparsity.encoder", "diagonal"],
        ),
        (
            GOOD,
            "sparsity.critic.kind = \"static\"\nsparsity.critic.density = 0.00001",
            &["sparsity.critic", "at least 1"],
        ),
    ];
    for (base, extra, needles) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (code, err) = train_with(&format!("{base}{}\n", dotted_to_tables(extra)), dir.path());
        assert_one_line_error(code, &err, needles);
    }
}

/// `a.b = v` lines as TOML under their tables (`[a]\nb = v`), so each case reads as the key it sets.
fn dotted_to_tables(lines: &str) -> String {
    let mut out = String::new();
    let mut current = "";
    for l in lines.lines() {
        let (key, value) = l.split_once(" = ").unwrap();
        let (table, leaf) = key.rsplit_once('.').unwrap();
        if table != current {
            out.push_str(&format!("[{table}]\n"));
            current = table;
        }
        out.push_str(&format!("{leaf} = {value}\n"));
    }
    out
}

#[test]
fn eval_with_no_episodes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = sparse_rl(&["eval", "--run", dir.path().to_str().unwrap(), "--episodes", "0"]);
    assert_one_line_error(code, &err, &["--episodes", "0"]);
}

#[test]
fn export_of_a_directory_that_is_no_run_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("policy.srlp");
    let (code, _, err) = sparse_rl(&[
        "export",
        "--run",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_one_line_error(code, &err, &["config.toml"]);
    assert!(!out.exists());
}
