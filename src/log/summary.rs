//! `summary.json`, read by scripts: the keys of DESIGN.md's contract.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub algo: String,
    pub env: String,
    pub seed: u64,
    pub total_steps: usize,
    pub wall_seconds: f64,
    pub sps: f64,
    /// Training episodes per second (multi-agent runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes_per_second: Option<f64>,
    pub eval: EvalSummary,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModuleSummary {
    pub policy: String,
    pub density: f64,
    pub params: usize,
    pub nonzero: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlopsSummary {
    pub train_relative_to_dense: f64,
    pub inference_relative_to_dense: f64,
}
