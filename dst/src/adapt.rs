//! ADAPT: the balance ratio and the discriminator density controller of Wang, Wu, Hovakimyan and Sun,
//! "Balanced Training for Sparse GANs" (NeurIPS 2023, arXiv 2302.14670).
//!
//! Rules checked in the authors' code (YiteWang/ADAPT):
//! - `sparselearning/gan_functions.py`, `calculate_br` and `train`: every `br_freq` iterations the three
//!   batch means of D's raw outputs are queued, D taken after its update: `D(G_post(z))` with the
//!   generator after its update, `D(G_pre(z))` with the generator before it (same z), and `D(x_real)`.
//!   The queue keeps the last `da_iters / br_freq` = 100 tuples; the balance ratio is the mean of the
//!   per-tuple ratios `(D(G_post) − D(G_pre)) / (D(x_real) − D(G_pre))` (NumPy semantics: a zero
//!   denominator gives ±inf or NaN, and a NaN ratio makes the controller hold).
//! - `sparselearning/core.py`, `Masking.dst` and `dynamic_adjust_density`: at every ΔT-th iteration
//!   (never at the last one), and only once the queue is full: if BR ≥ B+ and the density is below the
//!   cap, grow D's density by Δd (capped, floor 0.05); if BR ≥ B+ at the cap of the strict variant
//!   (`doub_dst`, cap 0.5), do a constant-density prune-and-regrow step whose fraction decays by a cosine
//!   (`CosineDecay`, η_min = 0.005) from 0.5; if BR ≤ B− shrink by Δd down to the floor 0.05; else
//!   nothing. The code compares with ≥ and ≤ (docs/methods.md, after the paper, writes > and <); we follow the code.
//!
//! Shrinking is global magnitude pruning over D's layers, growing global gradient growth with zero
//! weights: the controller only decides; the masked layers and criteria do the work.

use crate::error::DstError;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The three batch means measured at one balance-ratio point (D's raw logits, D after its update).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BalanceSample {
    /// `E_x[D(x_real)]`.
    pub real: f64,
    /// `E_z[D(G_pre(z))]`, the generator before its update.
    pub fake_before: f64,
    /// `E_z[D(G_post(z))]`, the generator after its update, same z.
    pub fake_after: f64,
}

impl BalanceSample {
    /// `(D(G_post) − D(G_pre)) / (D(x_real) − D(G_pre))`: how far the generator's update moved its samples
    /// toward the real side of D, relative to D's real/fake gap. Small: D is too strong.
    pub fn ratio(&self) -> f64 {
        (self.fake_after - self.fake_before) / (self.real - self.fake_before)
    }
}

/// Queue of the last `capacity` samples; the balance ratio is the mean of their ratios.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BalanceRatio {
    capacity: usize,
    samples: VecDeque<BalanceSample>,
}

impl BalanceRatio {
    /// An empty queue holding up to `capacity` samples (the authors' 100).
    pub fn new(capacity: usize) -> Result<Self, DstError> {
        if capacity == 0 {
            return Err("balance ratio queue capacity must be ≥ 1, got 0".into());
        }
        Ok(Self {
            capacity,
            samples: VecDeque::with_capacity(capacity),
        })
    }

    /// Add a sample, dropping the oldest when full.
    pub fn push(&mut self, sample: BalanceSample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True when no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// True when the queue holds `capacity` samples (ADAPT acts only then).
    pub fn is_full(&self) -> bool {
        self.samples.len() == self.capacity
    }

    /// Mean of the per-sample ratios; `None` while empty.
    pub fn value(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        Some(self.samples.iter().map(BalanceSample::ratio).sum::<f64>() / self.samples.len() as f64)
    }
}

/// ADAPT's two variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdaptVariant {
    /// ADAPT_relax: D's density may grow up to 1.0; ΔT = 1000.
    Relaxed,
    /// ADAPT_strict: D's density is capped at 0.5, where a too-weak D gets a prune-and-regrow step
    /// instead; ΔT = 2000.
    Strict,
}

/// Configuration of [`AdaptController`]; every field has the paper's default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptConfig {
    /// `relaxed` or `strict`.
    #[serde(default = "default_variant")]
    pub variant: AdaptVariant,
    /// B−: at or below it D is too strong and shrinks.
    #[serde(default = "default_lower_bound")]
    pub lower_bound: f64,
    /// B+: at or above it D is too weak and grows.
    #[serde(default = "default_upper_bound")]
    pub upper_bound: f64,
    /// Δd, the density change of one grow or shrink.
    #[serde(default = "default_density_step")]
    pub density_step: f64,
    /// ΔT, iterations between decisions; default 1000 (relaxed) or 2000 (strict).
    #[serde(default)]
    pub update_interval: Option<u64>,
    /// Density floor.
    #[serde(default = "default_min_density")]
    pub min_density: f64,
    /// Density cap; default 1.0 (relaxed) or 0.5 (strict).
    #[serde(default)]
    pub max_density: Option<f64>,
    /// Balance-ratio samples kept (the authors' `da_iters / br_freq` = 100).
    #[serde(default = "default_queue_len")]
    pub queue_len: usize,
    /// Iterations between balance-ratio samples (the authors' `br_freq` in ADAPT's scripts: 10).
    #[serde(default = "default_sample_interval")]
    pub sample_interval: u64,
    /// Initial prune-and-regrow fraction of the strict variant at the cap (cosine-decayed).
    #[serde(default = "default_regrow_fraction")]
    pub regrow_fraction: f64,
    /// Total training iterations: the horizon of the cosine decay; no decision is taken at the last one.
    /// Left out of a run's config file (0), it is the run's length, filled in by the trainer.
    #[serde(default)]
    pub total_steps: u64,
}

fn default_variant() -> AdaptVariant {
    AdaptVariant::Relaxed
}
fn default_lower_bound() -> f64 {
    0.45
}
fn default_upper_bound() -> f64 {
    0.55
}
fn default_density_step() -> f64 {
    0.05
}
fn default_min_density() -> f64 {
    0.05
}
fn default_queue_len() -> usize {
    100
}
fn default_sample_interval() -> u64 {
    10
}
fn default_regrow_fraction() -> f64 {
    0.5
}

/// Lower end of the authors' `CosineDecay` of the prune fraction (`eta_min`).
const MIN_REGROW_FRACTION: f64 = 0.005;
/// Tolerance for density comparisons (densities move by sums of Δd).
const DENSITY_EPS: f64 = 1e-9;

impl AdaptConfig {
    /// The paper's defaults for a variant and a training length.
    pub fn paper(variant: AdaptVariant, total_steps: u64) -> Self {
        Self {
            variant,
            lower_bound: default_lower_bound(),
            upper_bound: default_upper_bound(),
            density_step: default_density_step(),
            update_interval: None,
            min_density: default_min_density(),
            max_density: None,
            queue_len: default_queue_len(),
            sample_interval: default_sample_interval(),
            regrow_fraction: default_regrow_fraction(),
            total_steps,
        }
    }

    /// ΔT, resolved from the variant when unset.
    pub fn update_interval(&self) -> u64 {
        self.update_interval.unwrap_or(match self.variant {
            AdaptVariant::Relaxed => 1000,
            AdaptVariant::Strict => 2000,
        })
    }

    /// The density cap, resolved from the variant when unset.
    pub fn max_density(&self) -> f64 {
        self.max_density.unwrap_or(match self.variant {
            AdaptVariant::Relaxed => 1.0,
            AdaptVariant::Strict => 0.5,
        })
    }

    /// Check the configuration; the message names the offending key and value.
    pub fn validate(&self) -> Result<(), DstError> {
        let (lo, hi) = (self.lower_bound, self.upper_bound);
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(format!(
                "adapt.lower_bound ({lo}) must be finite and below adapt.upper_bound ({hi})"
            )
            .into());
        }
        if !(self.density_step > 0.0 && self.density_step <= 1.0) {
            return Err(format!("adapt.density_step must lie in (0, 1], got {}", self.density_step).into());
        }
        if self.update_interval() == 0 {
            return Err("adapt.update_interval must be ≥ 1, got 0".into());
        }
        let (min, max) = (self.min_density, self.max_density());
        if !(min > 0.0 && min <= max && max <= 1.0) {
            return Err(format!(
                "adapt.min_density ({min}) and adapt.max_density ({max}) must satisfy 0 < min ≤ max ≤ 1"
            )
            .into());
        }
        if self.queue_len == 0 {
            return Err("adapt.queue_len must be ≥ 1, got 0".into());
        }
        if self.sample_interval == 0 {
            return Err("adapt.sample_interval must be ≥ 1, got 0".into());
        }
        if !(0.0..=1.0).contains(&self.regrow_fraction) {
            return Err(format!(
                "adapt.regrow_fraction must lie in [0, 1], got {}",
                self.regrow_fraction
            )
            .into());
        }
        if self.total_steps == 0 {
            return Err("adapt.total_steps must be ≥ 1, got 0".into());
        }
        Ok(())
    }
}

/// What the controller decided at a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AdaptAction {
    /// Not a decision step, or the balance-ratio queue is not full yet.
    Wait,
    /// A decision step with nothing to do: BR within the band, or at a density limit.
    Hold,
    /// D too strong: prune D globally by magnitude from `from` to `to` density.
    Shrink {
        /// Density before.
        from: f64,
        /// Density after.
        to: f64,
    },
    /// D too weak: grow D globally by gradient (new weights zero) from `from` to `to` density.
    Grow {
        /// Density before.
        from: f64,
        /// Density after.
        to: f64,
    },
    /// Strict variant at the cap with D too weak: constant-density prune-and-regrow of this fraction.
    PruneAndRegrow {
        /// Fraction of D's active weights to replace.
        fraction: f64,
    },
}

/// ADAPT's discriminator density controller.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaptController {
    config: AdaptConfig,
    density: f64,
}

impl AdaptController {
    /// A controller starting at D's initial density (ADAPT starts D at the generator's density).
    pub fn new(config: AdaptConfig, initial_density: f64) -> Result<Self, DstError> {
        config.validate()?;
        let (min, max) = (config.min_density, config.max_density());
        if !(min - DENSITY_EPS..=max + DENSITY_EPS).contains(&initial_density) {
            return Err(format!(
                "adapt: initial discriminator density {initial_density} outside [min_density, max_density] = \
                 [{min}, {max}]"
            )
            .into());
        }
        Ok(Self {
            config,
            density: initial_density,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AdaptConfig {
        &self.config
    }

    /// D's current target density.
    pub fn density(&self) -> f64 {
        self.density
    }

    /// An empty balance-ratio queue of the configured length.
    pub fn balance_queue(&self) -> BalanceRatio {
        BalanceRatio::new(self.config.queue_len).expect("queue_len validated")
    }

    /// True at the iterations where a balance-ratio sample should be measured.
    pub fn is_sample_step(&self, step: u64) -> bool {
        step.is_multiple_of(self.config.sample_interval)
    }

    /// Decide at iteration `step` (iterations completed so far) from the balance-ratio queue, and update
    /// the target density when the action changes it.
    pub fn decide(&mut self, step: u64, balance: &BalanceRatio) -> AdaptAction {
        let due =
            step > 0 && step.is_multiple_of(self.config.update_interval()) && step != self.config.total_steps;
        let ratio = match balance.value() {
            Some(ratio) if due && balance.is_full() => ratio,
            _ => return AdaptAction::Wait,
        };
        let (min, max) = (self.config.min_density, self.config.max_density());
        let from = self.density;
        if ratio >= self.config.upper_bound {
            if from < max - DENSITY_EPS {
                self.density = (from + self.config.density_step).min(max).max(min);
                return AdaptAction::Grow {
                    from,
                    to: self.density,
                };
            }
            if self.config.variant == AdaptVariant::Strict {
                return AdaptAction::PruneAndRegrow {
                    fraction: self.regrow_fraction(step),
                };
            }
            return AdaptAction::Hold;
        }
        if ratio <= self.config.lower_bound && from > min + DENSITY_EPS {
            self.density = (from - self.config.density_step).max(min);
            return AdaptAction::Shrink {
                from,
                to: self.density,
            };
        }
        AdaptAction::Hold
    }

    /// Cosine decay of the prune-and-regrow fraction from `regrow_fraction` to 0.005 over `total_steps`
    /// (the authors' `CosineDecay`, a `CosineAnnealingLR` stepped every iteration).
    fn regrow_fraction(&self, step: u64) -> f64 {
        let progress = (step as f64 / self.config.total_steps as f64).min(1.0);
        let start = self.config.regrow_fraction;
        MIN_REGROW_FRACTION + (start - MIN_REGROW_FRACTION) * crate::schedule::cosine_decay(progress)
    }
}
