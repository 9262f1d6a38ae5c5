//! `run.algo = "gan"` end to end: the preset's keys with a short run write config.toml, TensorBoard scalars
//! and a summary.json with the mode-coverage evaluation; bad GAN keys give one-line errors naming them.

use std::path::Path;

use sparse_rl::config::Config;
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
