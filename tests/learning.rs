//! Small-budget learning checks with fixed seeds: each agent must do clearly better than a random policy.
//! (The full-budget results are in the README's results section, with the commands that produce them.)

use sparse_rl::config::Config;
use sparse_rl::run::{train, Start};

fn greedy_return(config: &str) -> f64 {
    summary(config).eval.return_mean
}

fn summary(config: &str) -> sparse_rl::log::summary::Summary {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(config, &[]).unwrap();
    train(
        config,
        Start::Fresh {
            out: dir.path().join("run"),
        },
        None,
    )
    .unwrap()
    .unwrap()
}

const DQN: &str =
    "[run]\nalgo = \"dqn\"\nenv = \"CartPole-v1\"\ntotal_steps = 15000\nseed = 1\neval_interval = 0\n\
    [dqn]\nlearning_starts = 1000\ntrain_frequency = 1\nexploration_fraction = 0.3\nbuffer_size = 15000\n";

/// A uniformly random CartPole policy averages about 22 steps.
#[test]
fn dqn_learns_cartpole_in_15k_steps() {
    let r = greedy_return(DQN);
    assert!(r >= 120.0, "greedy return {r} after 15k steps");
}

#[test]
fn dqn_with_a_90_percent_sparse_rigl_head_learns_cartpole() {
    let r = greedy_return(&format!(
        "{DQN}[sparsity.critic]\nkind = \"sparse-to-sparse\"\ndensity = 0.1\nprune = \"magnitude\"\ngrow = \"gradient\"\n\
         update_interval = 500\n"
    ));
    assert!(r >= 100.0, "greedy return {r} after 15k steps at 90% sparsity");
}

/// A random Pendulum policy scores about −1200 per 200-step episode.
#[test]
fn sac_learns_pendulum_in_7k_steps() {
    let r = greedy_return(
        "[run]\nalgo = \"sac\"\nenv = \"Pendulum-v1\"\ntotal_steps = 7000\nseed = 1\neval_interval = 0\neval_episodes = 5\n\
         [sac]\nlearning_starts = 1000\nhidden = [64, 64]\nbatch_size = 64\n",
    );
    assert!(r >= -700.0, "greedy return {r} after 7k steps");
}

/// DynaDiag in the Q head: the head learns, and once frozen each layer stores exactly K diagonals
/// (120 → 84: K = 12 of length 84; 84 → 2: K = ⌈0.1 · 168 / 2⌉ = 9 of length 2), so the reported density
/// is (12 · 84 + 9 · 2) / (84 · 120 + 2 · 84) and the FLOPs fall below dense.
#[test]
fn dqn_with_a_90_percent_diagonal_head_learns_cartpole() {
    let s = summary(&format!(
        "{DQN}[sparsity.critic]\nkind = \"sparse-to-sparse\"\nstructure = \"diagonal\"\ndensity = 0.1\n\
         distribution = \"uniform\"\nupdate_interval = 500\n"
    ));
    let critic = &s.modules["critic"];
    let expected = (12.0 * 84.0 + 9.0 * 2.0) / (84.0 * 120.0 + 2.0 * 84.0);
    assert!(
        (critic.density - expected).abs() < 1e-9,
        "density {}",
        critic.density
    );
    // Frozen: only the stored diagonals' values are non-zero, plus the 120 + 84 scores and 84 + 2 biases.
    let stored = 12 * 84 + 9 * 2;
    assert!(
        critic.nonzero <= stored + 204 + 86 && critic.nonzero > stored,
        "{} non-zero of {}",
        critic.nonzero,
        critic.params
    );
    assert!(
        s.flops.train_relative_to_dense < 1.0,
        "{:?}",
        s.flops.train_relative_to_dense
    );
    assert!(
        s.eval.return_mean >= 100.0,
        "greedy return {} after 15k steps",
        s.eval.return_mean
    );
}
