//! One GAN run (`run.algo = "gan"`): the ADAPT experiment's loop. Writes the run directory
//! (`config.toml`, TensorBoard scalars with iterations as the x axis, `summary.json` whose `eval` holds
//! the mode-coverage metrics); no checkpoints: a GAN run on 2-D data takes seconds to minutes.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use burn::tensor::backend::AutodiffBackend;
use sparse_rl_agents::gan::metrics::ModeCoverage;
use sparse_rl_agents::gan::mixture::Mixture;
use sparse_rl_agents::gan::trainer::Gan;

use crate::backend::on_backend;
use crate::config::Config;
use crate::driver::{log_modules, write_summary};
use crate::log::progress::Progress;
use crate::log::summary::{module_summaries, GanEvalSummary, Summary};
use crate::log::tensorboard::Scalars;
use crate::run_dir::RunDir;

/// Iterations between loss, balance-ratio and density scalars.
const LOG_INTERVAL: usize = 100;

/// Trains the GAN the config describes into the fresh directory `out` (locked for the run, as
/// [`crate::run_dir::RunDir`] does for every run); returns the summary also written to `summary.json`.
pub fn train(config: &Config, out: &Path) -> Result<Summary<GanEvalSummary>> {
    let config = config.clone().resolved()?;
    crate::memory::check(&config)?;
    on_backend!(config.run.backend, |B, device| gan_loop::<B>(
        &config, out, device
    ))
}

/// The training loop on backend `B`; the GAN is built before the run directory is written.
fn gan_loop<B: AutodiffBackend>(
    config: &Config,
    out: &Path,
    device: B::Device,
) -> Result<Summary<GanEvalSummary>> {
    let run = &config.run;
    let mut gan = build::<B>(config, device)?;
    let run_dir = RunDir::fresh(out, config)?;
    let mut scalars = Scalars::new(run_dir.path())?;
    let progress = Progress::new(run.total_steps, 0);
    let started = Instant::now();
    let mut eval = log_eval(&mut scalars, gan.evaluate(), 0)?;
    for step in 1..=run.total_steps {
        let losses = match gan.train_step(step) {
            Ok(l) => l,
            Err(e) => {
                progress.finish();
                let _ = scalars.flush();
                bail!("training stopped: {e}");
            }
        };
        if step.is_multiple_of(LOG_INTERVAL) || step == run.total_steps {
            scalars.scalar("losses/g_loss", losses.g_loss, step)?;
            scalars.scalar("losses/d_loss", losses.d_loss, step)?;
            for (tag, value) in gan.metrics() {
                scalars.scalar(tag, value, step)?;
            }
            log_modules(&mut scalars, &gan.modules(), step)?;
            progress.update(step, step as f64 / started.elapsed().as_secs_f64(), None);
        }
        let eval_due = run.eval_interval > 0 && step.is_multiple_of(run.eval_interval);
        if eval_due || step == run.total_steps {
            eval = log_eval(&mut scalars, gan.evaluate(), step)?;
        }
    }
    progress.finish();
    let wall = started.elapsed().as_secs_f64();
    let flops = gan.flops();
    scalars.scalar("flops/train_relative_to_dense", flops.train, run.total_steps)?;
    scalars.flush()?;
    let summary = Summary {
        algo: "gan".into(),
        env: run.env.clone(),
        seed: run.seed,
        total_steps: run.total_steps,
        wall_seconds: wall,
        sps: run.total_steps as f64 / wall.max(1e-9),
        episodes_per_second: None,
        eval,
        modules: module_summaries(gan.modules()),
        flops: flops.into(),
    };
    write_summary(run_dir.path(), &summary)?;
    Ok(summary)
}

/// The GAN of a (resolved) config on backend `B`.
fn build<B: AutodiffBackend>(config: &Config, device: B::Device) -> Result<Gan<B>> {
    let run = &config.run;
    let data = Mixture::by_name(&run.env).map_err(anyhow::Error::msg)?;
    Gan::<B>::new(
        crate::algorithms::table(config)?,
        data,
        |m| config.policy(m),
        run.total_steps,
        run.seed,
        device,
    )
    .map_err(anyhow::Error::msg)
}

/// Builds (and drops) the GAN of a resolved config: the checks a run makes before writing anything.
pub fn preflight(config: &Config) -> Result<()> {
    on_backend!(config.run.backend, |B, device| build::<B>(config, device)
        .map(drop))
}

/// Logs an evaluation at `step` and returns it as the summary's `eval`.
fn log_eval(scalars: &mut Scalars, coverage: ModeCoverage, step: usize) -> Result<GanEvalSummary> {
    let eval = GanEvalSummary {
        samples: coverage.samples,
        modes_covered: coverage.modes_covered(),
        modes: coverage.counts.len(),
        high_quality_fraction: coverage.high_quality_fraction(),
        reverse_kl: coverage.reverse_kl(),
    };
    scalars.scalar("eval/modes_covered", eval.modes_covered as f64, step)?;
    scalars.scalar("eval/high_quality_fraction", eval.high_quality_fraction, step)?;
    if let Some(kl) = eval.reverse_kl {
        scalars.scalar("eval/reverse_kl", kl, step)?;
    }
    Ok(eval)
}
