//! Fuzzing of the two inputs a user hands the toolkit: configs and checkpoints. No mutation may panic.
//! - Config mutations: presets with one to three keys set to awkward values (zero, negative, huge,
//!   non-finite, wrong types, empty and zero-width layer lists) must either be refused with an error or
//!   pass every check a run makes before it writes (validation, memory, env and agent construction).
//! - Checkpoint damage: a bit flip, a truncation, garbage or a deleted file anywhere in a checkpoint must
//!   be refused by `eval` and `--resume`; the same damage with the seal recomputed (a checksum that cannot
//!   catch it) must still give an error or a result, never a panic or an abort.
//!
//! The case counts fit CI; `PROPTEST_CASES=N` runs a longer campaign.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use sparse_rl::checkpoint;
use sparse_rl::config::Config;
use sparse_rl::run::{eval_run, preflight, train, Start};

/// Presets with their algorithm's table and modules: the keys a mutation may touch.
const PRESETS: &[(&str, &str, &[&str])] = &[
    ("configs/dqn_cartpole.toml", "dqn", &["encoder", "critic"]),
    ("configs/dqn_cartpole_mst.toml", "dqn", &["encoder", "critic"]),
    (
        "configs/dqn_cartpole_dynadiag.toml",
        "dqn",
        &["encoder", "critic"],
    ),
    (
        "configs/sac_pendulum_mst.toml",
        "sac",
        &["encoder", "critic", "actor"],
    ),
    ("configs/mast_foraging90.toml", "qmix", &["agent", "mixer"]),
    ("configs/gan_adapt.toml", "gan", &["generator", "discriminator"]),
];

/// The keys of a preset's run: `run.*`, its algorithm's table and its modules' policies.
fn keys_of(preset: usize) -> Vec<&'static str> {
    let (_, algo, modules) = PRESETS[preset];
    KEYS.iter()
        .copied()
        .filter(|k| {
            k.starts_with("run.")
                || k.strip_prefix(algo).is_some_and(|r| r.starts_with('.'))
                || k.strip_prefix("sparsity.")
                    .is_some_and(|r| modules.iter().any(|m| r.split('.').next() == Some(m)))
        })
        .collect()
}

const KEYS: &[&str] = &[
    "run.total_steps",
    "run.eval_interval",
    "run.eval_episodes",
    "run.checkpoint_interval",
    "run.seed",
    "run.env",
    "dqn.buffer_size",
    "dqn.batch_size",
    "dqn.learning_starts",
    "dqn.train_frequency",
    "dqn.target_network_frequency",
    "dqn.encoder_hidden",
    "dqn.head_hidden",
    "dqn.adam_eps",
    "dqn.tau",
    "sac.buffer_size",
    "sac.batch_size",
    "sac.learning_starts",
    "sac.policy_frequency",
    "sac.hidden",
    "sac.encoder_hidden",
    "qmix.batch_size",
    "qmix.buffer_size",
    "qmix.hidden_dim",
    "qmix.hypernet_layers",
    "qmix.mast.recent_capacity",
    "qmix.mast.lambda",
    "gan.batch_size",
    "gan.latent_dim",
    "gan.generator_hidden",
    "sparsity.critic.kind",
    "sparsity.critic.density",
    "sparsity.critic.init_density",
    "sparsity.critic.update_interval",
    "sparsity.critic.update_end",
    "sparsity.critic.structure",
    "sparsity.critic.scope",
    "sparsity.critic.prune",
    "sparsity.critic.grow",
    "sparsity.encoder.kind",
    "sparsity.encoder.density",
    "sparsity.actor.kind",
    "sparsity.actor.density",
    "sparsity.agent.kind",
    "sparsity.agent.density",
    "sparsity.agent.update_interval",
    "sparsity.mixer.kind",
    "sparsity.mixer.density",
    "sparsity.generator.kind",
    "sparsity.generator.density",
    "sparsity.discriminator.kind",
    "sparsity.discriminator.density",
    "gan.balance",
];

const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "0.5",
    "0.1",
    "64",
    "[64]",
    "[16, 16]",
    "1e-9",
    "1.5",
    "nan",
    "inf",
    "9223372036854775807",
    "1099511627776",
    "true",
    "\"x\"",
    "[]",
    "[0]",
    "[3, 1099511627776]",
    "[1099511627776]",
    "\"dense\"",
    "\"static\"",
    "\"sparse-to-sparse\"",
    "\"dense-to-sparse\"",
    "\"sparse-to-dense\"",
    "\"diagonal\"",
    "\"global\"",
    "\"magnitude\"",
    "\"gradient\"",
    "\"adapt\"",
    "\"uniform\"",
];

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn config_mutations_never_panic(
        preset in 0..PRESETS.len(),
        sets in prop::collection::vec((any::<prop::sample::Index>(), 0..VALUES.len()), 1..4),
    ) {
        let keys = keys_of(preset);
        let overrides: Vec<String> =
            sets.iter().map(|(k, v)| format!("{}={}", k.get(&keys), VALUES[*v])).collect();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PRESETS[preset].0);
        if let Ok(config) = Config::load(&path, &overrides) {
            // A run this short of steps is not trained here; what matters is that the checks do not panic.
            let _ = preflight(&config);
        }
    }
}

/// One small run of each kind, trained once and shared: DQN (replay buffer) and MAST-QMIX (episode buffer).
fn trained_runs() -> &'static [(PathBuf, tempfile::TempDir)] {
    static RUNS: OnceLock<Vec<(PathBuf, tempfile::TempDir)>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let qmix = "[run]\nalgo = \"qmix\"\nenv = \"Foraging-5x5-2p-1f\"\ntotal_steps = 600\nseed = 4\n\
            eval_interval = 0\neval_episodes = 2\n\
            [qmix]\nbatch_size = 4\nbuffer_size = 50\nepsilon_anneal_time = 500\ntarget_update_interval = 5\n\
            [qmix.mast]\ndual_replay = true\nrecent_capacity = 10\n\
            [sparsity.agent]\nkind = \"sparse-to-sparse\"\ndensity = 0.3\nupdate_interval = 5\n";
        let dqn = common::tiny_dqn("[sparsity.critic]\nkind = \"static\"\ndensity = 0.3\n");
        let dqn_text = dqn
            .to_toml()
            .unwrap()
            .replace("total_steps = 3000", "total_steps = 700");
        [
            Config::parse(&dqn_text, &[]).unwrap(),
            Config::parse(qmix, &[]).unwrap(),
        ]
        .into_iter()
        .map(|config| {
            let dir = tempfile::tempdir().unwrap();
            let run = dir.path().join("run");
            train(config, Start::Fresh { out: run.clone() }, None)
                .unwrap()
                .unwrap();
            (run, dir)
        })
        .collect()
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

/// Damage of one file: flip a bit, cut it short, overwrite bytes with garbage, or delete it.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: f64, bit: u8 },
    Truncate { at: f64 },
    Garbage { at: f64, bytes: Vec<u8> },
    Delete,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64, 0u8..8).prop_map(|(at, bit)| Damage::Flip { at, bit }),
        (0.0..1.0f64).prop_map(|at| Damage::Truncate { at }),
        (0.0..1.0f64, prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Damage::Garbage { at, bytes }),
        Just(Damage::Delete),
    ]
}

/// Applies `damage` to `file`; false if it changed nothing (garbage equal to what was there).
fn apply(file: &Path, damage: &Damage) -> bool {
    let mut bytes = std::fs::read(file).unwrap();
    let before = bytes.clone();
    let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
    match damage {
        Damage::Flip { at: f, bit } => {
            if bytes.is_empty() {
                return false;
            }
            let i = at(*f, bytes.len());
            bytes[i] ^= 1 << bit;
        }
        Damage::Truncate { at: f } => bytes.truncate(at(*f, bytes.len())),
        Damage::Garbage { at: f, bytes: g } => {
            let i = at(*f, bytes.len());
            for (k, b) in g.iter().enumerate() {
                if i + k < bytes.len() {
                    bytes[i + k] = *b;
                } else {
                    bytes.push(*b);
                }
            }
        }
        Damage::Delete => {
            std::fs::remove_file(file).unwrap();
            return true;
        }
    }
    if bytes == before {
        return false;
    }
    std::fs::write(file, bytes).unwrap();
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn damaged_checkpoints_are_refused_and_never_panic(
        kind in 0usize..2,
        file in any::<prop::sample::Index>(),
        damage in damage(),
        reseal in prop::bool::ANY,
    ) {
        let (run, _) = &trained_runs()[kind];
        let scratch = tempfile::tempdir().unwrap();
        let copy = scratch.path().join("run");
        copy_dir(run, &copy);
        let latest = copy.join("checkpoints/latest");
        let all = files(&latest);
        let target = file.get(&all);
        let is_manifest = target.ends_with(checkpoint::manifest::FILE);
        if !apply(target, &damage) {
            return Ok(());
        }
        if reseal && !is_manifest {
            // A seal that agrees with the damage: the loaders' own checks are all that stands.
            let step = checkpoint::open(run, "latest", &std::fs::read_to_string(run.join("config.toml")).unwrap())
                .unwrap()
                .1
                .step;
            checkpoint::manifest::seal(&latest, step).unwrap();
            let _ = eval_run(&copy, "latest", 1);
        } else {
            let evaluated = eval_run(&copy, "latest", 1);
            prop_assert!(evaluated.is_err(), "damage {damage:?} of {} was accepted", target.display());
            let resumed = train(
                Config::load(&copy.join("config.toml"), &[]).unwrap(),
                Start::Resume { run: copy.clone() },
                None,
            );
            prop_assert!(resumed.is_err(), "resume accepted damage {damage:?} of {}", target.display());
        }
    }
}
