//! A run paused and resumed continues the same curve as an uninterrupted run (same seed, same backend).

mod common;

use sparse_rl::run::{train, Start};

#[test]
fn paused_and_resumed_run_equals_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let whole = train(common::tiny_dqn(""), Start::Fresh { out: a.clone() }, None)
        .unwrap()
        .unwrap();
    let paused = train(common::tiny_dqn(""), Start::Fresh { out: b.clone() }, Some(1200)).unwrap();
    assert!(paused.is_none(), "the run pauses before its end");
    let csv_b = std::fs::read_to_string(b.join("episodes.csv")).unwrap();
    let first_half = csv_b.lines().count();
    assert!(first_half > 0 && !b.join("summary.json").exists());
    let resumed = train(common::tiny_dqn(""), Start::Resume { run: b.clone() }, None)
        .unwrap()
        .unwrap();
    let csv_a = std::fs::read_to_string(a.join("episodes.csv")).unwrap();
    let csv_b = std::fs::read_to_string(b.join("episodes.csv")).unwrap();
    assert!(csv_b.lines().count() > first_half);
    assert_eq!(csv_a, csv_b, "episode returns differ after resuming");
    assert_eq!(whole.eval, resumed.eval);
    assert_eq!(whole.total_steps, resumed.total_steps);
}
