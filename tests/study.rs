//! `sparse-rl study`: the grid, resumption after a kill, failed runs, the Slurm script, `--collect` and the
//! report's numbers. A stand-in trainer (a shell script given with `--trainer`) takes the place of
//! `sparse-rl train` so that nothing trains, except in one end-to-end run with the real trainer; the presets
//! are checked by loading every run's config.

mod common;

use common::assert_one_line_error;
use std::path::{Path, PathBuf};
use std::process::Command;

use sparse_rl::config::Config;
use sparse_rl::study::grid::{expand, PlannedRun, Selection};
use sparse_rl::study::manifest::{Manifest, Status};
use sparse_rl::study::spec::Study;

/// Stands in for `sparse-rl train`: appends the run's name to $FAKE_LOG, fails when an override contains
/// `fail=`, kills its parent (the study) once at the run named $FAKE_KILL_AT after leaving a partial run
/// directory, and otherwise writes a summary.json whose metric is the seed.
const FAKE_TRAINER: &str = r#"#!/bin/sh
out=""; seed=""; prev=""
for a in "$@"; do
  case "$prev" in --out) out="$a" ;; --seed) seed="$a" ;; esac
  prev="$a"
done
name=$(basename "$out")
echo "$name" >> "$FAKE_LOG"
mkdir -p "$out"
case "$*" in *fail=*) echo "loading config" >&2; echo "error: boom in $name" >&2; exit 3 ;; esac
if [ "$name" = "${FAKE_KILL_AT:-}" ] && [ ! -e "$FAKE_LOG.killed" ]; then
  touch "$FAKE_LOG.killed"
  echo partial > "$out/partial"
  kill -9 "$PPID"
  exit 1
fi
printf '{"eval": {"return_mean": %s}}\n' "$seed" > "$out/summary.json"
"#;

const STUDY: &str = r#"
seeds = [1, 2]
x = "density"

[[experiment]]
name = "dqn"
config = "base.toml"
set = ['sparsity.critic.kind="static"']
omit = ["sparsity.actor"]

[[experiment]]
name = "sac"
config = "base.toml"

[[axis]]
name = "density"
keys = ["sparsity.critic.density", "sparsity.actor.density"]
values = [0.5, 0.1, 0.02]

[[axis]]
name = "method"
values = [
  { label = "a", set = ['sparsity.critic.prune="magnitude"'] },
  { label = "b c", set = ['sparsity.critic.prune="snip"', "dqn.x=1"] },
]
"#;

struct Fixture {
    dir: tempfile::TempDir,
    trainer: PathBuf,
}

impl Fixture {
    /// A temp dir with the stand-in trainer, an (unread) base config and `study.toml` holding `study`.
    fn new(study: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let trainer = dir.path().join("fake-train.sh");
        std::fs::write(&trainer, FAKE_TRAINER).unwrap();
        let chmod = Command::new("chmod").arg("+x").arg(&trainer).status().unwrap();
        assert!(chmod.success());
        std::fs::write(dir.path().join("base.toml"), "# read by the real trainer only\n").unwrap();
        std::fs::write(dir.path().join("study.toml"), study).unwrap();
        Fixture { dir, trainer }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `sparse-rl study --config study.toml --out out --trainer fake ARGS` in the temp dir, with `env` set;
    /// returns (exit code, stdout, stderr).
    fn study(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sparse-rl"))
            .current_dir(self.dir.path())
            .args(["study", "--config", "study.toml", "--out", "out", "--trainer"])
            .arg(&self.trainer)
            .args(args)
            .env("FAKE_LOG", self.path("trainer.log"))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// The runs the stand-in trainer started, in order.
    fn trained(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("trainer.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn manifest(&self, study: &str) -> Manifest {
        Manifest::load(&self.path(&format!("out/{study}/manifest.json"))).unwrap()
    }

    fn planned(&self, selection: &Selection) -> Vec<PlannedRun> {
        expand(&Study::load(&self.path("study.toml")).unwrap(), selection).unwrap()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn grid_expands_every_combination_with_its_overrides() {
    let f = Fixture::new(STUDY);
    let runs = f.planned(&Selection::default());
    assert_eq!(
        runs.len(),
        2 * 3 * 2 * 2,
        "experiments x densities x methods x seeds"
    );
    let names: std::collections::BTreeSet<_> = runs.iter().map(|r| &r.name).collect();
    assert_eq!(names.len(), runs.len(), "run names are unique");

    let dqn = runs
        .iter()
        .find(|r| r.name == "dqn__density=0.1__method=b_c__seed=2")
        .unwrap();
    assert_eq!(
        dqn.overrides,
        strings(&[
            "sparsity.critic.kind=\"static\"",
            "sparsity.critic.density=0.1",
            "sparsity.critic.prune=\"snip\"",
            "dqn.x=1"
        ]),
        "experiment set, then axes in order; the actor density omitted"
    );
    assert_eq!((dqn.seed, dqn.config.clone()), (2, f.path("base.toml")));
    assert_eq!(dqn.label("method"), Some("b c"));
    let sac = runs
        .iter()
        .find(|r| r.name == "sac__density=0.02__method=a__seed=1")
        .unwrap();
    assert_eq!(
        sac.overrides,
        strings(&[
            "sparsity.critic.density=0.02",
            "sparsity.actor.density=0.02",
            "sparsity.critic.prune=\"magnitude\""
        ])
    );
    let args = sac.train_args();
    assert_eq!(
        &args[..3],
        &strings(&["train", "--config", &f.path("base.toml").display().to_string()])[..]
    );
    assert_eq!(&args[args.len() - 2..], &strings(&["--seed", "1"])[..]);
}

#[test]
fn command_line_selection_narrows_the_grid() {
    let f = Fixture::new(STUDY);
    let runs = f.planned(&Selection {
        seeds: Some(vec![7]),
        only: strings(&["density=0.5,0.1", "experiment=sac"]),
        set: strings(&["run.total_steps=5"]),
    });
    assert_eq!(
        runs.len(),
        2 * 2,
        "2 densities x 2 methods x 1 seed of one experiment"
    );
    for r in &runs {
        assert_eq!((r.experiment.as_str(), r.seed), ("sac", 7));
        assert_eq!(
            r.overrides.last().unwrap(),
            "run.total_steps=5",
            "--set comes last"
        );
        assert_ne!(r.label("density"), Some("0.02"));
    }
}

#[test]
fn a_killed_study_resumes_without_rerunning_finished_runs() {
    let f = Fixture::new(STUDY);
    let only = [
        "--only",
        "experiment=dqn",
        "--only",
        "method=a",
        "--parallel",
        "1",
    ];
    let order: Vec<String> = f
        .planned(&Selection {
            only: strings(&["experiment=dqn", "method=a"]),
            ..Selection::default()
        })
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(order.len(), 6);
    let victim = order[2].clone();

    let (code, _, _) = f.study(&only, &[("FAKE_KILL_AT", &victim)]);
    assert_ne!(code, 0, "the study was killed");
    assert_eq!(f.trained(), order[..3]);
    let partial = f.path(&format!("out/study/runs/{victim}/partial"));
    assert!(partial.exists(), "the killed run left a partial directory");
    let killed = f.manifest("study");
    assert_eq!(killed.count(Status::Done), 2);
    assert_eq!(
        killed.runs.iter().find(|r| r.name == victim).unwrap().status,
        Status::Running
    );

    let (code, _, err) = f.study(&only, &[("FAKE_KILL_AT", &victim)]);
    assert_eq!(code, 0, "{err}");
    let mut expected = order[..3].to_vec();
    expected.extend(order[2..].iter().cloned());
    assert_eq!(
        f.trained(),
        expected,
        "finished runs are not run again; the killed one is"
    );
    assert!(
        !partial.exists(),
        "the partial directory was deleted before the rerun"
    );
    let done = f.manifest("study");
    assert_eq!(done.count(Status::Done), 6);
    for r in &done.runs {
        assert_eq!(r.metric, Some(r.seed as f64), "{}", r.name);
    }

    let (code, _, _) = f.study(&only, &[]);
    assert_eq!(code, 0);
    assert_eq!(f.trained().len(), expected.len(), "a finished study runs nothing");
}

#[test]
fn failed_runs_are_recorded_and_do_not_stop_the_others() {
    let f = Fixture::new(&STUDY.replace("\"dqn.x=1\"", "\"dqn.fail=1\""));
    let (code, _, err) = f.study(&["--only", "experiment=dqn", "--only", "density=0.1"], &[]);
    assert_ne!(code, 0, "a failed run makes the study fail");
    let last = err.trim_end().lines().last().unwrap();
    assert!(last.contains("2 of 4 runs failed"), "{err}");
    let m = f.manifest("study");
    assert_eq!(f.trained().len(), 4, "every run was tried");
    for r in &m.runs {
        if r.axes["method"] == "b c" {
            assert_eq!(r.status, Status::Failed);
            let error = r.error.as_deref().unwrap();
            assert!(error.contains(&format!("boom in {}", r.name)), "{error}");
        } else {
            assert_eq!((r.status, r.metric), (Status::Done, Some(r.seed as f64)));
        }
    }
    let md = std::fs::read_to_string(f.path("out/study/study.md")).unwrap();
    assert!(
        md.contains("## Failed runs") && md.contains("dqn__density=0.1__method=b_c__seed=1"),
        "{md}"
    );
}

#[test]
fn slurm_script_names_every_run_once_and_runs_it() {
    let f = Fixture::new(STUDY);
    let (code, out, err) = f.study(&["--emit", "slurm"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("24 runs"), "{out}");
    assert!(f.trained().is_empty(), "emitting runs nothing");
    let script = std::fs::read_to_string(f.path("out/study/study.slurm")).unwrap();
    assert!(script.contains("#SBATCH --array=0-23\n"), "{script}");
    let runs = f.planned(&Selection::default());
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(script.matches(&run.name).count(), 1, "{} in\n{script}", run.name);
        assert!(script.contains(&format!("  {i}) RUN={};", run.name)));
    }
    assert_eq!(script.matches(" RUN=").count(), runs.len());

    // Array index 5 trains run 5 with the study's command line, and --collect then finds its result.
    let status = Command::new("bash")
        .arg(f.path("out/study/study.slurm"))
        .current_dir(f.dir.path())
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SPARSE_RL", &f.trainer)
        .env("FAKE_LOG", f.path("trainer.log"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(f.trained(), vec![runs[5].name.clone()]);
    let (code, _, err) = f.study(&["--collect"], &[]);
    assert_eq!(code, 0, "{err}");
    let m = f.manifest("study");
    assert_eq!((m.count(Status::Done), m.count(Status::Pending)), (1, 23));
    let collected = m.runs.iter().find(|r| r.status == Status::Done).unwrap();
    assert_eq!(
        (collected.name.as_str(), collected.metric),
        (runs[5].name.as_str(), Some(runs[5].seed as f64))
    );
    assert_eq!(f.trained().len(), 1, "--collect trains nothing");
}

#[test]
fn collect_tabulates_hand_made_summaries() {
    let study = STUDY
        .replace("seeds = [1, 2]", "seeds = [1, 2, 3]")
        .replace("values = [0.5, 0.1, 0.02]", "values = [0.5, 0.1]");
    let f = Fixture::new(&study);
    // (method, density) -> metric of seeds 1, 2, 3; b at 0.1 lacks seed 3.
    let cells: [(&str, &str, &[f64]); 4] = [
        ("a", "0.5", &[1.0, 2.0, 4.0]),
        ("a", "0.1", &[10.0, 20.0, 30.0]),
        ("b_c", "0.5", &[-100.0, -200.0, -300.0]),
        ("b_c", "0.1", &[0.5, 0.7]),
    ];
    for (method, density, values) in cells {
        for (i, v) in values.iter().enumerate() {
            let dir = f.path(&format!(
                "out/study/runs/dqn__density={density}__method={method}__seed={}",
                i + 1
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let json = format!(r#"{{"algo": "dqn", "eval": {{"episodes": 10, "return_mean": {v}}}}}"#);
            std::fs::write(dir.join("summary.json"), json).unwrap();
        }
    }
    let (code, _, err) = f.study(&["--collect", "--only", "experiment=dqn"], &[]);
    assert_eq!(code, 0, "{err}");
    let m = f.manifest("study");
    assert_eq!((m.count(Status::Done), m.count(Status::Pending)), (11, 1));
    let md = std::fs::read_to_string(f.path("out/study/study.md")).unwrap();
    // Below 4 runs the IQM is the mean. With 3 runs a resample's mean is the lowest or highest run's with
    // probability 1/27 > 2.5% each, so the 95% interval spans the runs; with 2 runs, 1/4 each.
    for line in [
        "| method \\ density | 0.5 | 0.1 |",
        "| a | IQM 2.33 [1.00, 4.00], mean 2.33 [1.00, 4.00], n=3 \
         | IQM 20.00 [10.00, 30.00], mean 20.00 [10.00, 30.00], n=3 |",
        "| b c | IQM -200.0 [-300.0, -100.0], mean -200.0 [-300.0, -100.0], n=3 \
         | IQM 0.600 [0.500, 0.700], mean 0.600 [0.500, 0.700], n=2 |",
    ] {
        assert!(md.lines().any(|l| l == line), "{line:?} not in\n{md}");
    }
    assert!(
        md.contains("95% stratified percentile bootstrap CIs, 2000 resamples, seed 0"),
        "{md}"
    );
    let png = std::fs::read(f.path("out/study/dqn.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG file");
    let svg = std::fs::read_to_string(f.path("out/study/dqn.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("<polyline"),
        "an SVG with lines"
    );

    // Without a font the plots are still drawn, without text.
    std::fs::remove_file(f.path("out/study/dqn.png")).unwrap();
    let (code, _, err) = f.study(&["--collect"], &[("SPARSE_RL_FONT", "/nonexistent/font.ttf")]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(f.path("out/study/dqn.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
}

#[test]
fn bad_input_is_a_one_line_error_naming_the_key() {
    let f = Fixture::new(&STUDY.replace("seeds = [1, 2]", "seed = [1, 2]"));
    let (code, _, err) = f.study(&[], &[]);
    assert_one_line_error(code, &err, &["study.toml", "seed"]);

    let f = Fixture::new(STUDY);
    let (code, _, err) = f.study(&["--only", "density=0.3"], &[]);
    assert_one_line_error(code, &err, &["--only density=0.3", "0.02"]);
    let (code, _, err) = f.study(&["--only", "densty=0.1"], &[]);
    assert_one_line_error(code, &err, &["densty", "method"]);

    let f = Fixture::new(&STUDY.replace("'sparsity.critic.prune=\"snip\"'", "'sparsity.{modul}.prune=1'"));
    let (code, _, err) = f.study(&[], &[]);
    assert_one_line_error(code, &err, &["axis `method`", "{modul}"]);
    assert!(f.trained().is_empty(), "nothing ran");
}

/// A one-seed study of a tiny static-sparse DQN over the critic densities `densities`, run with the real
/// trainer (this binary).
fn real_density_study(densities: &str) -> (Fixture, std::process::Output) {
    let f = Fixture::new(&format!(
        "seeds = [4]\nx = \"density\"\n[[experiment]]\nname = \"tiny\"\nconfig = \"tiny.toml\"\n\
         [[axis]]\nname = \"density\"\nkeys = [\"sparsity.critic.density\"]\nvalues = [{densities}]\n"
    ));
    std::fs::write(
        f.path("tiny.toml"),
        "[run]\nalgo = \"dqn\"\nenv = \"CartPole-v1\"\ntotal_steps = 400\neval_interval = 0\neval_episodes = 1\n\
         [dqn]\nlearning_starts = 100\nbatch_size = 16\ntrain_frequency = 4\n\
         [sparsity.critic]\nkind = \"static\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sparse-rl"))
        .current_dir(f.dir.path())
        .args(["study", "--config", "study.toml", "--out", "out"])
        .output()
        .unwrap();
    (f, out)
}

#[test]
fn a_study_trains_real_runs_end_to_end() {
    let (f, status) = real_density_study("0.5");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let run = f.path("out/study/runs/tiny__density=0.5__seed=4");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 4);
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    assert_eq!(
        config["sparsity"]["critic"]["density"].as_float(),
        Some(0.5),
        "the axis value reached the run"
    );
    let m = f.manifest("study");
    assert_eq!(m.runs[0].metric, summary["eval"]["return_mean"].as_f64());
    // The learning curves come from the run's event file, and study.md shows them first.
    assert!(f.path("out/study/tiny_curves.png").is_file());
    let md = std::fs::read_to_string(f.path("out/study/study.md")).unwrap();
    let curves = md.find("(tiny_curves.png)").expect("learning curves in study.md");
    assert!(curves < md.find("(tiny.png)").unwrap());
}

/// A run that a killed study left with a `latest` checkpoint continues from it, with the real trainer: the
/// rows of `episodes.csv` written before the kill stay (one is marked here to tell), the rest are those of
/// an uninterrupted run.
#[test]
fn a_killed_studys_unfinished_run_resumes_from_its_checkpoint() {
    let (f, _) = real_density_study("0.5");
    let run = f.path("out/study/runs/tiny__density=0.5__seed=4");
    let whole = std::fs::read_to_string(run.join("episodes.csv")).unwrap();
    // The state a kill leaves: the run paused at step 200 with its checkpoint, no summary, no manifest.
    std::fs::remove_dir_all(f.path("out")).unwrap();
    let paused = Command::new(env!("CARGO_BIN_EXE_sparse-rl"))
        .current_dir(f.dir.path())
        .args([
            "train",
            "--config",
            "tiny.toml",
            "--set",
            "sparsity.critic.density=0.5",
            "--seed",
            "4",
        ])
        .args(["--pause-at", "200", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    assert!(!run.join("summary.json").exists());
    let csv = std::fs::read_to_string(run.join("episodes.csv")).unwrap();
    let (first, rest) = csv.split_once('\n').unwrap();
    let (step, _) = first.split_once(',').unwrap();
    let marked = format!("{step},-1,0\n{rest}");
    std::fs::write(run.join("episodes.csv"), &marked).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_sparse-rl"))
        .current_dir(f.dir.path())
        .args(["study", "--config", "study.toml", "--out", "out"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resumed = std::fs::read_to_string(run.join("episodes.csv")).unwrap();
    assert!(
        resumed.starts_with(&marked),
        "the rows before the kill are kept:\n{resumed}"
    );
    let (_, whole_rest) = whole.split_once('\n').unwrap();
    assert_eq!(
        resumed.split_once('\n').unwrap().1,
        whole_rest,
        "the run continued where it stopped"
    );
    assert_eq!(f.manifest("study").count(Status::Done), 1);
}

/// A grid with one run that cannot train (a density that leaves a layer no connection) fails before any
/// run starts or any file is written, naming that run and the key.
#[test]
fn a_study_checks_every_run_before_starting_any() {
    let (f, out) = real_density_study("0.5, 0.000001");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("tiny__density=1e-6__seed=4") || err.contains("tiny__density=0.000001__seed=4"),
        "{err}"
    );
    assert!(
        err.contains("sparsity.critic") && err.contains("at least 1"),
        "{err}"
    );
    assert!(!f.path("out").exists(), "nothing may be written");
}

/// Every preset expands to its full grid, and every run's config loads and validates.
#[test]
fn presets_expand_to_valid_configs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/studies");
    for (file, runs) in [
        ("pruning_criteria.toml", 450),
        ("growth_criteria.toml", 90),
        ("mst_modules.toml", 80),
    ] {
        let study = Study::load(&dir.join(file)).unwrap();
        let planned = expand(&study, &Selection::default()).unwrap();
        assert_eq!(planned.len(), runs, "{file}");
        let mut checked = std::collections::BTreeSet::new();
        for run in planned.iter().filter(|r| r.seed == study.seeds[0]) {
            if checked.insert((run.config.clone(), run.overrides.clone())) {
                Config::load(&run.config, &run.overrides).unwrap_or_else(|e| panic!("{}: {e:#}", run.name));
            }
        }
    }
    let mst = Study::load(&dir.join("mst_modules.toml")).unwrap();
    let planned = expand(&mst, &Selection::default()).unwrap();
    let s2d = planned
        .iter()
        .find(|r| r.name == "sac_pendulum__module=actor__kind=sparse-to-dense__seed=1")
        .unwrap();
    assert!(
        s2d.overrides
            .contains(&"sparsity.actor.init_density=0.02".to_string()),
        "{:?}",
        s2d.overrides
    );
    assert!(planned
        .iter()
        .all(|r| r.experiment != "sac_pendulum" || r.label("module") != Some("encoder")));
}

/// The MuJoCo scaling grid (Gymnasium envs, so only where the bridge is built): 160 runs whose configs
/// load, each with its width and its architecture for both modules.
#[cfg(feature = "gym")]
#[test]
fn the_mujoco_scaling_preset_expands_to_valid_configs() {
    use sparse_rl_agents::networks::Architecture;
    use sparse_rl_agents::sac::SacConfig;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/studies/sac_mujoco_scaling.toml");
    let study = Study::load(&path).unwrap();
    let planned = expand(&study, &Selection::default()).unwrap();
    assert_eq!(planned.len(), 160);
    for run in planned.iter().filter(|r| r.seed == 1) {
        let config = run
            .load_config()
            .unwrap_or_else(|e| panic!("{}: {e:#}", run.name));
        let width: usize = run.label("width").unwrap().parse().unwrap();
        let sac: SacConfig = sparse_rl::algorithms::table(&config.resolved().unwrap()).unwrap();
        assert_eq!(sac.hidden, vec![width, width], "{}", run.name);
        let simba = run.label("network") == Some("simba");
        let network = if simba {
            Architecture::Simba
        } else {
            Architecture::Mlp
        };
        assert_eq!(
            (sac.critic_network, sac.actor_network),
            (network, network),
            "{}",
            run.name
        );
        assert_eq!(sac.normalize_observations, simba, "{}", run.name);
    }
}
