//! `sparse-rl study`: a research question as one command. A study file names base configs
//! (experiments), the settings to vary (axes) and the seeds; the study trains the whole grid in parallel
//! as `sparse-rl train` child processes, resumably, and ends in `study.md` (tables of the interquartile
//! mean and the mean over seeds with 95% bootstrap confidence intervals, of each row's probability of
//! improvement over the first, and of the optimality gap where the metric has a best score; see [`stats`])
//! and two figures per
//! experiment (PNG and SVG): learning curves and final scores. `--emit slurm` writes the same grid as a job array and `--collect`
//! gathers results made elsewhere.
//!
//! # Study file
//!
//! ```toml
//! name = "pruning_criteria"      # optional: the file name without .toml
//! seeds = [1, 2, 3]
//! metric = "eval.return_mean"    # dotted path into each run's summary.json (the default)
//! metric_range = [0.0, 1.0]      # optional: the metric's bounds, which the figures' y axes stay inside;
//!                                # the upper one is the best score of study.md's optimality gap
//! x = "density"                  # the axis on the plot's x and the tables' columns
//! set = ["run.eval_episodes=10"] # optional overrides of every run
//!
//! [[experiment]]
//! name = "dqn_cartpole"
//! config = "../dqn_cartpole.toml"          # relative to the study file
//! set = ['sparsity.critic.kind="sparse-to-sparse"']
//! omit = ["sparsity.actor"]                # key prefixes dropped from `set` and the axes (DQN has no actor)
//! only = { density = [0.1, 0.02] }         # optional: the axis values this experiment runs
//!
//! [[axis]]                                 # scalar values: each sets every key of `keys`
//! name = "density"
//! keys = ["sparsity.critic.density", "sparsity.actor.density"]
//! values = [0.5, 0.2, 0.1]
//!
//! [[axis]]                                 # labelled values: each applies its own overrides
//! name = "method"
//! values = [
//!   { label = "set", set = ['sparsity.{module}.prune="set"'] },
//! ]
//! ```
//!
//! A run gets, in order: the study's `set`, the experiment's `set`, each axis value's overrides (axes in
//! file order), then the command line's `--set`; the experiment's `omit` drops keys from the study's `set`
//! and the axes'. `{axis}` in an
//! override stands for the label of that axis's value in the run, so an axis of module names (with no
//! `keys`) can steer which module another axis sets. The axes other than `x` make the plot's lines and
//! the tables' rows. Unknown keys are errors.
//!
//! # Layout
//!
//! `<out>/<study>/runs/<run>/` (a run directory as `sparse-rl train` writes it, plus `train.log`),
//! `<out>/<study>/manifest.json`, `study.md`, `<experiment>.png` and `.svg` (final scores),
//! `<experiment>_curves.png` and `.svg` (learning curves), and with `--emit slurm`,
//! `study.slurm`. Runs are named `<experiment>__<axis>=<label>__...__seed=<seed>`.

mod curves;
mod executor;
pub mod grid;
pub mod manifest;
mod plot;
mod profile;
mod report;
mod slurm;
pub mod spec;
pub mod stats;
pub mod table;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use grid::Selection;
use manifest::{Manifest, Status};
use spec::Study;

/// Where a study's grid goes instead of local execution.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Emit {
    /// A Slurm job-array script, `<out>/<study>/study.slurm`.
    Slurm,
}

/// The options of `sparse-rl study`.
#[derive(Debug, Clone, Args)]
pub struct StudyArgs {
    /// The study file (e.g. configs/studies/pruning_criteria.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// Runs trained at once (default: the available cores).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// The study goes to OUT/<study name>/.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Replaces the study's seeds: `--seeds 1,2`.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Only these values of an axis (or of `experiment` or `seed`): `--only density=0.1,0.02` (repeatable).
    #[arg(long, value_name = "AXIS=V1,V2")]
    pub only: Vec<String>,
    /// Overrides a config key of every run: `--set run.total_steps=20000` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Writes the grid for a cluster scheduler instead of running it.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Reads this dotted path of each run's summary.json instead of the study's `metric` (e.g.
    /// `evaluations.max`, the maximum over training of the mean evaluation return); with `--collect` and
    /// `--out` on a copy of a study's folder, the same runs reported on another metric.
    #[arg(long)]
    pub metric: Option<String>,
    /// Runs nothing: reads the runs' summary.json files (made elsewhere, e.g. by Slurm) into the manifest,
    /// study.md and plots.
    #[arg(long, conflicts_with = "emit")]
    pub collect: bool,
    /// The program run for each run with `train ...` arguments (default: this sparse-rl). For wrappers,
    /// and for the tests' stand-in trainer.
    #[arg(long, value_name = "PROGRAM")]
    pub trainer: Option<PathBuf>,
}

/// Runs `sparse-rl study`; an error when any run failed, after the report is written.
/// Every run's resolved config, memory, env and agent checked as `sparse-rl train` would, before any run
/// starts or any file is written: a grid with one bad cell fails at once, naming the run. (A `--trainer`
/// stand-in reads what it likes, so its runs are not checked.)
fn preflight(planned: &[grid::PlannedRun]) -> Result<()> {
    for run in planned {
        run.load_config()
            .and_then(|config| crate::run::preflight(&config))
            .with_context(|| format!("run {}", run.name))?;
    }
    Ok(())
}

pub fn main(args: StudyArgs) -> Result<()> {
    let mut study = Study::load(&args.config)?;
    if let Some(metric) = &args.metric {
        study = study.with_metric(metric)?;
    }
    let selection = Selection {
        seeds: args.seeds.clone(),
        only: args.only.clone(),
        set: args.overrides.clone(),
    };
    let planned = grid::expand(&study, &selection)?;
    if args.trainer.is_none() && !args.collect {
        preflight(&planned)?;
    }
    let study_dir = args.out.join(&study.name);
    let runs_dir = study_dir.join("runs");
    std::fs::create_dir_all(&runs_dir).with_context(|| format!("cannot create {}", runs_dir.display()))?;
    let trainer = match &args.trainer {
        Some(t) => t.clone(),
        None => std::env::current_exe().context("cannot find the sparse-rl executable")?,
    };

    if let Some(Emit::Slurm) = args.emit {
        let workdir = std::env::current_dir()?;
        let path = study_dir.join("study.slurm");
        std::fs::write(
            &path,
            slurm::script(&study.name, &planned, &workdir, &runs_dir, &trainer),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{} runs: sbatch {}", planned.len(), path.display());
        println!(
            "then: sparse-rl study --config {} --out {} --collect (with the same --seeds/--only/--set)",
            args.config.display(),
            args.out.display()
        );
        return Ok(());
    }

    let manifest_path = study_dir.join("manifest.json");
    let mut manifest = Manifest::scan(&study.name, &study.metric, &planned, &runs_dir);
    if manifest_path.is_file() {
        manifest.check_same_runs(&Manifest::load(&manifest_path)?)?;
    }
    manifest.save(&manifest_path)?;
    if !args.collect {
        let parallel = args
            .parallel
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        eprintln!(
            "study {}: {} runs, {} done already, {parallel} at a time",
            study.name,
            planned.len(),
            manifest.count(Status::Done)
        );
        executor::execute(
            &mut manifest,
            &planned,
            &runs_dir,
            &trainer,
            parallel,
            &manifest_path,
        )?;
    }
    write_report(&study, &manifest, &args.config, &study_dir)?;
    let failed = manifest.count(Status::Failed);
    println!(
        "{}: {} done, {failed} failed, {} not run",
        study_dir.join("study.md").display(),
        manifest.count(Status::Done),
        manifest.count(Status::Pending)
    );
    if failed > 0 {
        bail!(
            "{failed} of {} runs failed; their errors are in {}",
            planned.len(),
            manifest_path.display()
        );
    }
    Ok(())
}

/// study.md and, per experiment of the manifest, its learning curves and final scores.
fn write_report(study: &Study, manifest: &Manifest, source: &Path, study_dir: &Path) -> Result<()> {
    let tables = table::tables(study, manifest);
    let mut with_curves = Vec::new();
    let mut profiles = Vec::new();
    for t in &tables {
        let metric = plot::Metric {
            name: &study.metric,
            range: study.metric_range,
        };
        plot::write(study_dir, t, &metric)?;
        let curves = curves::curves(t, manifest, &study.x, &study_dir.join("runs"));
        if !curves.is_empty() {
            plot::write_curves(study_dir, &t.experiment, &study.x, &curves, &metric)?;
            with_curves.push(t.experiment.clone());
        }
        let table_profiles = report::profiles_of(t, study.metric_range);
        plot::write_profiles(
            study_dir,
            &t.experiment,
            &profile::as_curves(&table_profiles),
            &metric,
        )?;
        profiles.push(table_profiles);
    }
    let best = study.metric_range.map(|(_, hi)| hi);
    let md = report::markdown(
        manifest,
        &tables,
        &profiles,
        &with_curves,
        &source.display().to_string(),
        best,
    );
    let path = study_dir.join("study.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))
}
