//! QMIX through the CLI's library and binary: a small fixed-seed learning check on an easy gridworld, and a
//! bad `[qmix]` key rejected with a one-line error.

mod common;

use rand::{Rng, SeedableRng};
use sparse_rl::config::Config;
use sparse_rl::run::{train, Start};

const QMIX_5X5: &str =
    "[run]\nalgo = \"qmix\"\nenv = \"Foraging-5x5-2p-1f\"\ntotal_steps = 10000\nseed = 2\n\
    eval_interval = 0\neval_episodes = 50\n[qmix]\nepsilon_anneal_time = 5000\n";

/// Mean team return of uniformly random available actions on Foraging-5x5-2p-1f.
fn random_return(episodes: usize) -> f64 {
    let mut env = sparse_rl_envs::make_multi_agent("Foraging-5x5-2p-1f").unwrap();
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
    let mut total = 0.0;
    for i in 0..episodes {
        let mut obs = env.reset(Some(i as u64));
        loop {
            let actions: Vec<usize> = obs
                .avail_actions
                .iter()
                .map(|avail| {
                    let ok: Vec<usize> = (0..avail.len()).filter(|&a| avail[a]).collect();
                    ok[rng.random_range(0..ok.len())]
                })
                .collect();
            let s = env.step(&actions).unwrap();
            total += s.team_reward;
            if s.terminated || s.truncated {
                break;
            }
            obs = s.obs;
        }
    }
    total / episodes as f64
}

#[test]
fn dense_qmix_learns_the_easy_foraging_task_in_10k_steps() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(QMIX_5X5, &[]).unwrap();
    let summary = train(
        config,
        Start::Fresh {
            out: dir.path().join("run"),
        },
        None,
    )
    .unwrap()
    .unwrap();
    let random = random_return(200);
    let greedy = summary.eval.return_mean;
    assert!(
        greedy >= 0.5 && greedy > random + 0.2,
        "greedy return {greedy} vs random {random}"
    );
    assert!(summary.eval.win_rate.is_some() && summary.episodes_per_second.is_some());
    let json = std::fs::read_to_string(dir.path().join("run/summary.json")).unwrap();
    assert!(json.contains("\"win_rate\"") && json.contains("\"episodes_per_second\""));
    // The learner's losses reach TensorBoard about every 100 env steps once training has begun.
    let run = dir.path().join("run");
    for tag in ["losses/td_loss", "losses/grad_norm", "charts/epsilon"] {
        let series = sparse_rl::log::events::read_scalars(&run, tag).unwrap();
        assert!(series.len() >= 50, "{tag}: {} points", series.len());
        assert!(series.windows(2).all(|w| w[1].0 - w[0].0 <= 200), "{tag}: gaps");
    }
}

/// `sparse-rl train --config CONFIG --out OUT`: the exit code and stderr.
fn train_cli(config: &std::path::Path, out: &std::path::Path) -> (i32, String) {
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_sparse-rl"))
        .args([
            "train",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let code = result.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&result.stderr).into_owned())
}

#[test]
fn bad_qmix_key_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, format!("{QMIX_5X5}learning_rte = 0.1\n")).unwrap();
    let out = dir.path().join("run");
    let (code, err) = train_cli(&path, &out);
    common::assert_one_line_error(code, &err, &["learning_rte", "qmix"]);
    assert!(!out.exists());
    // A single-agent env for QMIX names run.env.
    std::fs::write(&path, QMIX_5X5.replace("Foraging-5x5-2p-1f", "CartPole-v1")).unwrap();
    let (code, err) = train_cli(&path, &out);
    common::assert_one_line_error(code, &err, &["run.env", "multi-agent"]);
}

/// `qmix.evaluation_epsilon` (EPyMARL's evaluation ε): evaluations act ε-greedily with draws of their own,
/// reproducibly, and never from training's random stream, so training is the same whatever ε they use.
#[test]
fn evaluation_epsilon_changes_evaluations_but_not_training() {
    let dir = tempfile::tempdir().unwrap();
    let base = QMIX_5X5
        .replace("total_steps = 10000", "total_steps = 2000")
        .replace("eval_interval = 0", "eval_interval = 500");
    let runs: Vec<std::path::PathBuf> = ["0.0", "1.0"]
        .iter()
        .map(|epsilon| {
            let out = dir.path().join(format!("eps{epsilon}"));
            let text = format!("{base}evaluation_epsilon = {epsilon}\n");
            let config = Config::parse(&text, &[]).unwrap();
            train(config, Start::Fresh { out: out.clone() }, None)
                .unwrap()
                .unwrap();
            out
        })
        .collect();
    let episodes = |run: &std::path::Path| std::fs::read_to_string(run.join("episodes.csv")).unwrap();
    assert_eq!(episodes(&runs[0]), episodes(&runs[1]));
    let greedy = sparse_rl::run::eval_run(&runs[0], "latest", 40).unwrap();
    let random = sparse_rl::run::eval_run(&runs[1], "latest", 40).unwrap();
    assert_ne!(greedy.returns, random.returns);
    let again = sparse_rl::run::eval_run(&runs[1], "latest", 40).unwrap();
    assert_eq!(random.returns, again.returns);
}
