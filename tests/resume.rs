//! A run paused and resumed continues the same curve as an uninterrupted run (same seed, same backend),
//! evaluates at the same steps and keeps the same `best`; every finished run ends with a checkpoint.

mod common;

use sparse_rl::config::Config;
use sparse_rl::run::{eval_run, train, Start};

/// The loop state of checkpoint `which`, without its wall time (which differs between processes).
fn loop_state(run: &std::path::Path, which: &str) -> serde_json::Value {
    let path = run.join("checkpoints").join(which).join("loop.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("wall_seconds");
    v
}

/// Trains `config()` whole and, in another directory, paused at `pause_at` and resumed; the episode logs
/// and the final evaluations must be identical. The two tests may run on parallel threads: each agent
/// construction holds `seed_backend`'s lock, and training never draws from burn's generator.
fn assert_resume_equals_whole(config: impl Fn() -> Config, pause_at: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let whole = train(config(), Start::Fresh { out: a.clone() }, None)
        .unwrap()
        .unwrap();
    let paused = train(config(), Start::Fresh { out: b.clone() }, Some(pause_at)).unwrap();
    assert!(paused.is_none(), "the run pauses before its end");
    let csv_b = std::fs::read_to_string(b.join("episodes.csv")).unwrap();
    let first_half = csv_b.lines().count();
    assert!(first_half > 0 && !b.join("summary.json").exists());
    let resumed = train(config(), Start::Resume { run: b.clone() }, None)
        .unwrap()
        .unwrap();
    let csv_a = std::fs::read_to_string(a.join("episodes.csv")).unwrap();
    let csv_b = std::fs::read_to_string(b.join("episodes.csv")).unwrap();
    assert!(csv_b.lines().count() > first_half);
    assert_eq!(csv_a, csv_b, "episode returns differ after resuming");
    assert_eq!(whole.eval, resumed.eval);
    assert_eq!(whole.evaluations, resumed.evaluations);
    assert!(whole.evaluations.is_some_and(|e| e.count > 1));
    assert_eq!(whole.total_steps, resumed.total_steps);
    for which in ["best", "latest"] {
        assert_eq!(
            loop_state(&a, which),
            loop_state(&b, which),
            "checkpoints/{which}"
        );
        assert_eq!(
            eval_run(&a, which, 3).unwrap(),
            eval_run(&b, which, 3).unwrap(),
            "eval --run --checkpoint {which}"
        );
    }
}

#[test]
fn paused_and_resumed_run_equals_uninterrupted_run() {
    assert_resume_equals_whole(|| common::tiny_dqn(""), 1200);
}

/// A Gymnasium env through the bridge: each episode's reset seed reaches `env.reset(seed=...)`, so the
/// resumed run replays the same episodes.
#[cfg(feature = "gym")]
#[test]
fn paused_and_resumed_gym_run_equals_uninterrupted_run() {
    let text = common::tiny_dqn_text("").replace("\"CartPole-v1\"", "\"gym:CartPole-v1\"");
    assert_resume_equals_whole(|| Config::parse(&text, &[]).unwrap(), 1200);
}

/// Sparse QMIX with both MAST corrections: the resumed run must also restore the episode buffer with its
/// recent-episode queue, the ε schedule, the masks and the topology schedule.
#[test]
fn paused_and_resumed_mast_run_equals_uninterrupted_run() {
    let text = "[run]\nalgo = \"qmix\"\nenv = \"Foraging-5x5-2p-1f\"\ntotal_steps = 3000\nseed = 4\n\
        eval_interval = 1000\neval_episodes = 5\ncheckpoint_interval = 1000\n\
        [qmix]\nbatch_size = 8\nepsilon_anneal_time = 2000\ntarget_update_interval = 20\n\
        [qmix.mast]\nhybrid_target = true\nhybrid_switch_step = 1000\nsoft_mellowmax = true\n\
        dual_replay = true\nrecent_capacity = 10\n\
        [sparsity.agent]\nkind = \"sparse-to-sparse\"\ndensity = 0.2\nupdate_interval = 10\n";
    assert_resume_equals_whole(|| Config::parse(text, &[]).unwrap(), 1500);
}

/// A run whose end falls inside an episode, with no evaluation before the end, still leaves `latest` and
/// `best` (the final evaluation), which `eval --run` reads.
#[test]
fn a_run_ending_mid_episode_ends_with_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let config = common::tiny_dqn("").resolved().unwrap();
    let text = config
        .to_toml()
        .unwrap()
        .replace("total_steps = 3000", "total_steps = 777")
        .replace("eval_interval = 1000", "eval_interval = 0");
    let summary = train(
        Config::parse(&text, &[]).unwrap(),
        Start::Fresh { out: out.clone() },
        None,
    )
    .unwrap()
    .unwrap();
    let csv = std::fs::read_to_string(out.join("episodes.csv")).unwrap();
    let last_episode_end: usize = csv
        .lines()
        .last()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(last_episode_end < 777, "the run must end inside an episode");
    assert_eq!(loop_state(&out, "latest")["step"], 777);
    assert_eq!(loop_state(&out, "best")["best_eval"], summary.eval.return_mean);
    assert_eq!(eval_run(&out, "best", 2).unwrap().returns.len(), 2);
}

/// `checkpoint_interval = 0` schedules no checkpoint during training: the only `latest` is the one the end
/// writes, and its loop state never recorded a scheduled one (with an interval it records the last).
#[test]
fn an_interval_of_zero_checkpoints_only_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let last_scheduled = |interval: usize| {
        let out = dir.path().join(format!("run{interval}"));
        let text = common::tiny_dqn_text("")
            .replace("total_steps = 3000", "total_steps = 800")
            .replace(
                "checkpoint_interval = 500",
                &format!("checkpoint_interval = {interval}"),
            );
        train(
            Config::parse(&text, &[]).unwrap(),
            Start::Fresh { out: out.clone() },
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(loop_state(&out, "latest")["step"], 800);
        loop_state(&out, "latest")["last_checkpoint"].as_u64().unwrap()
    };
    assert!(last_scheduled(500) >= 500);
    assert_eq!(last_scheduled(0), 0);
}

/// SAC with SimBa networks for both modules, running observation normalisation and a dynamic sparse
/// critic: the resumed run must also restore the observation statistics bit for bit.
#[test]
fn paused_and_resumed_simba_sac_run_equals_uninterrupted_run() {
    let text = "[run]\nalgo = \"sac\"\nenv = \"Pendulum-v1\"\ntotal_steps = 1000\nseed = 3\n\
        eval_interval = 400\neval_episodes = 2\ncheckpoint_interval = 400\n\
        [sac]\nlearning_starts = 200\nbatch_size = 16\nbuffer_size = 1000\nhidden = [16, 16]\n\
        normalize_observations = true\ncritic_network = \"simba\"\nactor_network = \"simba\"\n\
        [sparsity.critic]\nkind = \"sparse-to-sparse\"\ndensity = 0.3\nupdate_interval = 50\n";
    assert_resume_equals_whole(|| Config::parse(text, &[]).unwrap(), 500);
}

/// `agent.json` of a SAC checkpoint holds the RNG and one list of the modules' states, named, in the
/// order encoder, critic, actor: a format that does not depend on which optimizer trains which module.
#[test]
fn a_sac_checkpoint_lists_its_modules_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[run]\nalgo = \"sac\"\nenv = \"Pendulum-v1\"\ntotal_steps = 300\neval_interval = 0\n\
        eval_episodes = 1\n[sac]\nlearning_starts = 100\nbatch_size = 8\nbuffer_size = 300\nhidden = [8, 8]\n\
        [sparsity.actor]\nkind = \"static\"\ndensity = 0.5\n";
    let run = dir.path().join("run");
    train(
        Config::parse(text, &[]).unwrap(),
        Start::Fresh { out: run.clone() },
        None,
    )
    .unwrap()
    .unwrap();
    let path = run.join("checkpoints/latest/agent.json");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let modules = saved[1].as_array().expect("[rng, modules]");
    let names: Vec<&str> = modules.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["encoder", "critic", "actor"]);
    assert_eq!(
        modules[2]["steps"], 200,
        "the actor's clock: one step per env step after learning_starts"
    );
}
