//! The sparse GAN of the ADAPT experiment (`run.algo = "gan"`, table `[gan]`, `run.env` the dataset):
//! the modules `generator` and `discriminator`. It runs its own loop ([`crate::gan_run`]): iterations,
//! not episodes, evaluated by mode coverage, and no checkpoints (a run on 2-D data takes minutes).

use anyhow::{anyhow, bail, Result};
use sparse_rl_agents::gan::mixture::Mixture;
use sparse_rl_agents::gan::trainer::GanConfig;

use super::{table, Algorithm};
use crate::config::Config;
use crate::driver::Learner;
use crate::memory::{networks, Need};
use crate::run::Start;

pub(super) struct Gan;

impl Algorithm for Gan {
    fn name(&self) -> &'static str {
        "gan"
    }

    fn modules(&self) -> &'static [&'static str] {
        &["generator", "discriminator"]
    }

    /// `run.env` names the dataset.
    fn check_env(&self, config: &Config) -> Result<()> {
        Mixture::by_name(&config.run.env).map_err(|e| anyhow!("run.env: {e}"))?;
        Ok(())
    }

    /// The table, with ADAPT's schedule filled in from `run.total_steps`.
    fn resolve(&self, config: &Config) -> Result<toml::Table> {
        let mut gan: GanConfig = table(config)?;
        gan.validate(config.run.total_steps, &config.policy("discriminator"))
            .map_err(|e| anyhow!("gan.{e}"))?;
        gan.adapt = Some(gan.adapt_config(config.run.total_steps));
        Ok(toml::Table::try_from(&gan)?)
    }

    fn memory(&self, config: &Config) -> Result<Vec<Need>> {
        let c: GanConfig = table(config)?;
        let generator = [&[c.latent_dim][..], &c.generator_hidden, &[2]].concat();
        let discriminator = [&[2][..], &c.discriminator_hidden, &[1]].concat();
        let widest = generator.iter().chain(&discriminator).copied().max().unwrap_or(1);
        // Activations of a batch through both networks, kept for the backward pass.
        let activations = c
            .batch_size
            .checked_mul(widest)
            .and_then(|x| x.checked_mul(generator.len() + discriminator.len()))
            .and_then(|x| x.checked_mul(4 * 4));
        Ok(vec![
            networks(
                "gan.generator_hidden, gan.discriminator_hidden",
                &[generator, discriminator],
            ),
            Need {
                what: "batch activations",
                keys: "gan.batch_size".into(),
                bytes: activations,
            },
        ])
    }

    fn learner(&self, _config: &Config) -> Result<Box<dyn Learner>> {
        bail!(
            "run.algo = \"gan\" runs write no checkpoints (nothing to resume, evaluate or export); their \
             evaluation is in summary.json"
        )
    }

    fn train(
        &self,
        config: &Config,
        start: Start,
        pause_at: Option<usize>,
    ) -> Result<Option<serde_json::Value>> {
        let Start::Fresh { out } = start else {
            bail!("--resume: run.algo = \"gan\" runs write no checkpoints");
        };
        if pause_at.is_some() {
            bail!("--pause-at: run.algo = \"gan\" runs write no checkpoints");
        }
        Ok(Some(serde_json::to_value(crate::gan_run::train(config, &out)?)?))
    }

    fn preflight(&self, config: &Config) -> Result<()> {
        crate::gan_run::preflight(config)
    }
}
