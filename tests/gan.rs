//! `run.algo = "gan"` end to end: the preset's keys with a short run write config.toml, TensorBoard scalars,
//! checkpoints and a summary.json with the mode-coverage evaluation; a paused run resumes on the same
//! curve; bad GAN keys give one-line errors naming them.

use std::path::Path;

use sparse_rl::config::Config;
use sparse_rl::log::events::read_scalars;
use sparse_rl::run::{train_any, Start};
use sparse_rl_agents::gan::trainer::GanConfig;

fn preset(overrides: &[&str]) -> anyhow::Result<Config> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/gan_adapt.toml");
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load(&path, &overrides)
}

#[test]
fn a_short_gan_run_writes_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let config = preset(&[
        "run.total_steps=300",
        "run.eval_interval=100",
        "gan.adapt.update_interval=100",
    ])
    .unwrap();
    let summary = train_any(config, Start::Fresh { out: out.clone() }, None)
        .unwrap()
        .unwrap();
    assert_eq!(summary["algo"], "gan");
    assert_eq!(summary["total_steps"], 300);
    assert_eq!(summary["eval"]["modes"], 8);
    assert_eq!(summary["eval"]["samples"], 2500);
    assert!(summary["eval"]["high_quality_fraction"].as_f64().unwrap() <= 1.0);
    assert!(summary["modules"]["generator"]["density"].as_f64().unwrap() < 0.25);
    assert_eq!(summary["modules"]["discriminator"]["policy"], "static");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(written["eval"]["modes_covered"], summary["eval"]["modes_covered"]);
    assert_eq!(written["modules"]["generator"]["policy"], "sparse-to-sparse");
    let resolved = Config::load(&out.join("config.toml"), &[]).unwrap();
    let gan: GanConfig = sparse_rl::algorithms::table(&resolved).unwrap();
    assert_eq!(gan.adapt.unwrap().total_steps, 300);
    let events = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .count();
    assert_eq!(events, 1);
    let again = train_any(preset(&[]).unwrap(), Start::Fresh { out: out.clone() }, None);
    assert!(again.unwrap_err().to_string().contains("not empty"));
}

#[test]
fn bad_gan_keys_are_one_line_errors_naming_the_key() {
    for (set, key) in [
        ("run.env=\"gaussians-9\"", "run.env"),
        (
            "sparsity.discriminator.kind=\"sparse-to-sparse\"",
            "sparsity.discriminator.kind",
        ),
        ("gan.batch_size=0", "gan.batch_size"),
        ("gan.adapt.lower_bound=0.9", "adapt.lower_bound"),
        ("gan.adapt.total_steps=5", "gan.adapt.total_steps"),
        ("sparsity.critic.density=0.5", "sparsity.critic"),
        ("gan.lr=0.1", "lr"),
    ] {
        let e = format!("{:#}", preset(&[set]).unwrap_err());
        assert!(e.contains(key) && !e.contains('\n'), "{set}: {e}");
    }
    let e = format!(
        "{:#}",
        preset(&["run.algo=\"dqn\"", "run.env=\"CartPole-v1\""]).unwrap_err()
    );
    assert!(e.contains("[gan] table"), "{e}");
}

/// A GAN run paused and resumed trains on as the uninterrupted one: the same batches, topology updates and
/// ADAPT decisions (the same final sampling RNG, module clocks, balance-ratio queue and controller, byte for
/// byte), evaluations at the same iterations with the same values, and the same summary (its mode coverage
/// measured on the final generator).
#[test]
fn a_paused_and_resumed_gan_run_equals_the_uninterrupted_run() {
    let config = || {
        preset(&[
            "run.total_steps=600",
            "run.eval_interval=200",
            "run.checkpoint_interval=200",
            "gan.adapt.update_interval=100",
            "sparsity.generator.update_interval=100",
        ])
        .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let whole = train_any(config(), Start::Fresh { out: a.clone() }, None)
        .unwrap()
        .unwrap();
    let paused = train_any(config(), Start::Fresh { out: b.clone() }, Some(250)).unwrap();
    assert!(paused.is_none() && !b.join("summary.json").exists());
    let latest = b.join("checkpoints/latest");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("loop.json")).unwrap()).unwrap();
    assert_eq!(
        state["step"], 300,
        "a pause falls at the end of a block of iterations"
    );
    let resumed = train_any(config(), Start::Resume { run: b.clone() }, None)
        .unwrap()
        .unwrap();
    let without_time = |mut s: serde_json::Value| {
        let o = s.as_object_mut().unwrap();
        o.remove("wall_seconds");
        o.remove("sps");
        s
    };
    assert_eq!(without_time(whole), without_time(resumed));
    let state = |run: &Path| std::fs::read(run.join("checkpoints/latest/gan.json")).unwrap();
    assert!(
        state(&a) == state(&b),
        "checkpoints/latest/gan.json differs after resuming"
    );
    let adapt = |run: &Path| read_scalars(run, "adapt/discriminator_density").unwrap();
    assert!(adapt(&a).len() == 6 && adapt(&a) == adapt(&b));
    let modes = |run: &Path| read_scalars(run, "eval/modes_covered").unwrap();
    let steps: Vec<u64> = modes(&a).iter().map(|&(s, _)| s).collect();
    assert_eq!(steps, [200, 400, 600]);
    assert_eq!(modes(&a), modes(&b));
    assert!(!a.join("episodes.csv").exists(), "a GAN run has no episodes");
}

#[test]
fn eval_and_export_refuse_a_gan_run_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let config = preset(&["run.total_steps=100"]).unwrap();
    train_any(config, Start::Fresh { out: out.clone() }, None).unwrap();
    let e = format!("{:#}", sparse_rl::run::eval_run(&out, "best", 1).unwrap_err());
    assert!(
        e.contains("run.algo = \"gan\"") && e.contains("summary.json"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        sparse_rl::export::export_run(&out, "best", &dir.path().join("p.bin")).unwrap_err()
    );
    assert!(e.contains("run.algo = \"gan\""), "{e}");
}
