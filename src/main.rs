//! The `sparse-rl` command line: `train`, `eval`, `export`, `envs`, `study`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use sparse_rl::config::{BackendName, Config};
use sparse_rl::run::{self, Start};

/// burn allocates a fresh buffer for every tensor op; with glibc's malloc, buffers of a few hundred KiB
/// (a 256 × 256 activation) round-trip through `mmap` and page faults each step. mimalloc reuses them:
/// +4 % steps/s for dense SAC, +6 % for 90 %-sparse SAC on the sparse kernels (measured with the speed series of the README).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "sparse-rl", version, about = "Deep RL with dynamic sparse training")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Device {
    Cpu,
    Cuda,
}

#[derive(Subcommand)]
enum Command {
    /// Trains an agent; writes config.toml, TensorBoard events, checkpoints and summary.json to the run dir.
    Train {
        /// The TOML config (e.g. configs/dqn_cartpole.toml).
        #[arg(long, required_unless_present = "resume")]
        config: Option<PathBuf>,
        /// Overrides a config key: `--set dqn.learning_rate=1e-3` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[arg(long)]
        seed: Option<u64>,
        /// Run directory (default runs/<config-name>-<seed>-<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// `cpu` keeps run.backend (flex or ndarray); `cuda` needs the `cuda` feature.
        #[arg(long, value_enum)]
        device: Option<Device>,
        /// Continues the run in this directory from its latest checkpoint.
        #[arg(long, conflicts_with_all = ["config", "overrides", "seed", "out"])]
        resume: Option<PathBuf>,
        /// Pauses at the first episode end at or after this env step, with a checkpoint to `--resume` from.
        #[arg(long, value_name = "STEP")]
        pause_at: Option<usize>,
    },
    /// Greedy evaluation of a trained run; prints JSON.
    Eval {
        #[arg(long)]
        run: PathBuf,
        #[arg(long, default_value_t = 10)]
        episodes: usize,
        #[arg(long, default_value = "best", value_parser = ["best", "latest"])]
        checkpoint: String,
        /// Multi-agent runs: plays the first evaluation episode, printing the ASCII grid at every step.
        #[arg(long, conflicts_with = "episodes")]
        render: bool,
    },
    /// Writes a trained run's greedy acting network as a policy file (dense, CSR or diagonal layers) that
    /// `sparse_rl_dst::inference::Policy::load` acts with; prints what each layer became.
    Export {
        #[arg(long)]
        run: PathBuf,
        #[arg(long, default_value = "best", value_parser = ["best", "latest"])]
        checkpoint: String,
        /// The policy file to write (e.g. policy.srlp).
        #[arg(long)]
        out: PathBuf,
    },
    /// Lists the built-in environments with their observation and action spaces.
    Envs,
    /// Trains a grid of runs (configs × varied keys × seeds) into IQM and mean tables with bootstrap CIs,
    /// and plots.
    Study(sparse_rl::study::StudyArgs),
}

fn main() {
    sparse_rl::denormals::flush_denormals();
    let cli = Cli::parse();
    if let Err(e) = dispatch(cli.command) {
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(2);
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Train {
            config,
            overrides,
            seed,
            out,
            device,
            resume,
            pause_at,
        } => {
            let summary = if let Some(run_dir) = resume {
                let config = Config::load(&run_dir.join("config.toml"), &[])
                    .with_context(|| format!("cannot resume {}", run_dir.display()))?;
                run::train_any(config, Start::Resume { run: run_dir }, pause_at)?
            } else {
                let path = config.expect("clap requires --config without --resume");
                let mut overrides = overrides;
                if let Some(s) = seed {
                    overrides.push(format!("run.seed={s}"));
                }
                if let Some(Device::Cuda) = device {
                    overrides.push("run.backend=\"cuda\"".into());
                }
                let config = Config::load(&path, &overrides)?;
                let out = out.unwrap_or_else(|| default_out(&path, config.run.seed));
                if matches!(device, Some(Device::Cpu)) && config.run.backend == BackendName::Cuda {
                    anyhow::bail!(
                        "--device cpu contradicts run.backend = \"cuda\" in {}",
                        path.display()
                    );
                }
                run::train_any(config, Start::Fresh { out }, pause_at)?
            };
            match summary {
                Some(s) => println!("{}", serde_json::to_string_pretty(&s)?),
                None => eprintln!("paused; continue with --resume"),
            }
        }
        Command::Eval {
            run,
            episodes,
            checkpoint,
            render,
        } => {
            let ev = if render {
                sparse_rl::marl_run::render_run(&run, &checkpoint, &mut std::io::stdout())?
            } else {
                run::eval_run(&run, &checkpoint, episodes)?
            };
            let mut json = serde_json::json!({
                "run": run, "checkpoint": checkpoint, "episodes": ev.returns.len(),
                "return_mean": ev.mean(), "return_std": ev.std(), "returns": ev.returns,
            });
            if let Some(w) = ev.win_rate() {
                json["win_rate"] = w.into();
            }
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Command::Export { run, checkpoint, out } => {
            let report = sparse_rl::export::export_run(&run, &checkpoint, &out)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Envs => {
            println!("{:<32} {:<13} {:<44} action", "id", "kind", "observation");
            for spec in sparse_rl_envs::registered() {
                println!(
                    "{:<32} {:<13} {:<44} {}",
                    spec.id, spec.kind, spec.observation, spec.action
                );
            }
        }
        Command::Study(args) => sparse_rl::study::main(args)?,
    }
    Ok(())
}

fn default_out(config: &std::path::Path, seed: u64) -> PathBuf {
    let name = config
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy().into_owned());
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from("runs").join(format!("{name}-{seed}-{stamp}"))
}
