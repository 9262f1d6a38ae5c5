//! `summary.json`, read by scripts: its keys are a contract (docs/architecture.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sparse_rl_agents::agent::{FlopsRatio, ModuleStats};

/// The run's summary; `E` is the evaluation: episodic returns for the RL algorithms, mode coverage for
/// the GAN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary<E = EvalSummary> {
    pub algo: String,
    pub env: String,
    pub seed: u64,
    pub total_steps: usize,
    pub wall_seconds: f64,
    pub sps: f64,
    /// Training episodes per second (multi-agent runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes_per_second: Option<f64>,
    pub eval: E,
    /// All the run's evaluations, the final one included (absent for a run resumed from a checkpoint that
    /// did not keep them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluations: Option<EvaluationsSummary>,
    pub modules: BTreeMap<String, ModuleSummary>,
    pub flops: FlopsSummary,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvalSummary {
    pub episodes: usize,
    pub return_mean: f64,
    pub return_std: f64,
    /// Fraction of evaluation episodes solved (multi-agent runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub win_rate: Option<f64>,
}

/// The scores of all a run's evaluations (`eval.return_mean`; `eval.modes_covered` for the GAN): their
/// number, highest and mean, EPyMARL's "maximum" and "average" returns.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct EvaluationsSummary {
    pub count: usize,
    pub max: f64,
    pub mean: f64,
}

impl From<crate::checkpoint::Evaluations> for EvaluationsSummary {
    fn from(e: crate::checkpoint::Evaluations) -> Self {
        Self {
            count: e.count,
            max: e.max,
            mean: e.mean(),
        }
    }
}

/// The GAN's evaluation (VEEGAN / PacGAN metrics, `agents::gan::metrics`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GanEvalSummary {
    /// Generated samples evaluated.
    pub samples: usize,
    /// Modes with a high-quality sample, out of `modes`.
    pub modes_covered: usize,
    pub modes: usize,
    /// Fraction of samples within 3σ of their nearest mode.
    pub high_quality_fraction: f64,
    /// KL of the high-quality samples' mode histogram from uniform (null without one).
    pub reverse_kl: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModuleSummary {
    pub policy: String,
    pub density: f64,
    pub params: usize,
    pub nonzero: usize,
    /// Gradient steps the module took (the clock of its sparsity schedule).
    #[serde(default)]
    pub gradient_steps: usize,
    /// Topology updates the module carried out.
    #[serde(default)]
    pub topology_updates: usize,
    /// Fraction of the module's τ-dormant neurons at the end (ReDo, τ = 0.025; single-agent runs, modules
    /// with hidden neurons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dormant_fraction: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlopsSummary {
    pub train_relative_to_dense: f64,
    pub inference_relative_to_dense: f64,
}

/// The `modules` map of a summary, from the modules' stats.
pub fn module_summaries(stats: Vec<ModuleStats>) -> BTreeMap<String, ModuleSummary> {
    stats
        .into_iter()
        .map(|m| {
            let s = ModuleSummary {
                policy: m.policy,
                density: m.density,
                params: m.params,
                nonzero: m.nonzero,
                gradient_steps: m.gradient_steps,
                topology_updates: m.topology_updates,
                dormant_fraction: None,
            };
            (m.name, s)
        })
        .collect()
}

impl From<FlopsRatio> for FlopsSummary {
    fn from(f: FlopsRatio) -> Self {
        Self {
            train_relative_to_dense: f.train,
            inference_relative_to_dense: f.inference,
        }
    }
}
