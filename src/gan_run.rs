//! One GAN run (`run.algo = "gan"`, the ADAPT experiment) as a [`Learner`] of the shared driver
//! ([`crate::driver`]): the run directory of every algorithm (`config.toml`, TensorBoard scalars with
//! iterations as the x axis, `checkpoints/` latest and best with `--pause-at` and `--resume`,
//! `summary.json` whose `eval` holds the mode-coverage metrics), without `episodes.csv`. The driver's
//! steps are iterations, taken in blocks that end where the losses are logged; evaluations and
//! checkpoints fall at block ends, as an RL run's fall at episode ends.

use anyhow::Result;
use burn::tensor::backend::AutodiffBackend;
use sparse_rl_agents::agent::Trainable;
use sparse_rl_agents::gan::mixture::Mixture;
use sparse_rl_agents::gan::trainer::Gan;

use crate::backend::on_backend;
use crate::config::Config;
use crate::driver::{drive, Advanced, Evaluated, Learner};
use crate::log::summary::{GanEvalSummary, Summary};
use crate::log::tensorboard::Scalars;
use crate::run::Start;

/// Iterations in a block: between two loggings of the losses, balance ratio and densities.
const LOG_INTERVAL: usize = 100;

/// Trains the GAN the config describes through the driver (`start` and `pause_at` as in
/// [`crate::run::train`]); returns the summary also written to `summary.json`.
pub fn train(
    config: &Config,
    start: Start,
    pause_at: Option<usize>,
) -> Result<Option<Summary<GanEvalSummary>>> {
    let config = config.clone().resolved()?;
    crate::memory::check(&config)?;
    on_backend!(config.run.backend, |B, device| {
        let mut learner = GanLearner {
            gan: build::<B>(&config, device)?,
        };
        drive(&config, start, pause_at, &mut learner)
    })
}

/// The GAN of a run, trained and evaluated by the driver.
pub struct GanLearner<B: AutodiffBackend> {
    gan: Gan<B>,
}

impl<B: AutodiffBackend> Learner for GanLearner<B> {
    type Eval = GanEvalSummary;

    /// Iterations up to the next multiple of [`LOG_INTERVAL`] (or the budget), then their last losses
    /// and the balance-ratio metrics.
    fn advance(
        &mut self,
        _seed: u64,
        step: &mut usize,
        total: usize,
        scalars: &mut Scalars,
    ) -> Result<Option<Advanced>> {
        let end = ((*step / LOG_INTERVAL + 1) * LOG_INTERVAL).min(total);
        while *step < end {
            let losses = self.gan.train_step(*step + 1)?;
            *step += 1;
            if *step == end {
                scalars.scalar("losses/g_loss", losses.g_loss, end)?;
                scalars.scalar("losses/d_loss", losses.d_loss, end)?;
                for (tag, value) in self.gan.metrics() {
                    scalars.scalar(tag, value, end)?;
                }
            }
        }
        Ok(Some(Advanced::Iterations))
    }

    /// Mode coverage of the generator's samples from latents fixed by the run seed.
    fn evaluate(&mut self, _episodes: usize, _seed: u64) -> Result<GanEvalSummary> {
        let coverage = self.gan.evaluate();
        Ok(GanEvalSummary {
            samples: coverage.samples,
            modes_covered: coverage.modes_covered(),
            modes: coverage.counts.len(),
            high_quality_fraction: coverage.high_quality_fraction(),
            reverse_kl: coverage.reverse_kl(),
        })
    }

    fn dormant_fractions(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    fn reports_episode_rate(&self) -> bool {
        false
    }

    fn agent(&self) -> &dyn Trainable {
        &self.gan
    }

    fn agent_mut(&mut self) -> &mut dyn Trainable {
        &mut self.gan
    }
}

/// Ranked by the modes covered; logs them, the high-quality fraction and the reverse KL.
impl Evaluated for GanEvalSummary {
    type Summary = Self;

    fn score(&self) -> f64 {
        self.modes_covered as f64
    }

    fn log(&self, scalars: &mut Scalars, step: usize) -> Result<()> {
        scalars.scalar("eval/modes_covered", self.modes_covered as f64, step)?;
        scalars.scalar("eval/high_quality_fraction", self.high_quality_fraction, step)?;
        if let Some(kl) = self.reverse_kl {
            scalars.scalar("eval/reverse_kl", kl, step)?;
        }
        Ok(())
    }

    fn summary(&self) -> Self {
        self.clone()
    }
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
