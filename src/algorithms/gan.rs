//! The sparse GAN of the ADAPT experiment (`run.algo = "gan"`, table `[gan]`, `run.env` the dataset):
//! the modules `generator` and `discriminator`. Its learner ([`crate::gan_run`]) trains iterations, not
//! episodes, and is evaluated by mode coverage, not returns; `eval` and `export`, which load an RL policy,
//! do not take a GAN run.

use anyhow::{anyhow, bail, Result};
use sparse_rl_agents::gan::mixture::Mixture;
use sparse_rl_agents::gan::trainer::GanConfig;

use super::{table, Algorithm};
use crate::config::Config;
use crate::memory::{networks, Need};
use crate::run::{EpisodicLearner, Start};

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

    fn learner(&self, _config: &Config) -> Result<Box<EpisodicLearner>> {
        bail!(
            "run.algo = \"gan\": `eval` and `export` load an RL agent's policy; a GAN run's evaluations \
             (mode coverage) are in its TensorBoard scalars and summary.json"
        )
    }

    fn train(
        &self,
        config: &Config,
        start: Start,
        pause_at: Option<usize>,
    ) -> Result<Option<serde_json::Value>> {
        super::json(crate::gan_run::train(config, start, pause_at)?)
    }

    fn preflight(&self, config: &Config) -> Result<()> {
        crate::gan_run::preflight(config)
    }
}
