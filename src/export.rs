//! `sparse-rl export`: a trained run's greedy acting network (DQN's Q network, SAC's actor, QMIX's agent
//! network) as a policy file that `sparse_rl_dst::inference::Policy::load` reads and acts with, without
//! burn's tensors or the agents crate (docs/policy_format.md).

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use sparse_rl_dst::inference::{InferenceLayer, InferenceLinear, Policy};

use crate::run::{load_checkpoint, load_run_config};

/// What a layer of an exported policy became.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    /// `dense`, `csr` or `diagonal`.
    pub format: &'static str,
    pub rows: usize,
    pub cols: usize,
    /// Weights stored (active ones for CSR and diagonal layers, all for dense).
    pub stored_weights: usize,
}

/// What `sparse-rl export` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    pub run: String,
    pub checkpoint: String,
    pub out: String,
    /// Size of the written file.
    pub bytes: usize,
    /// Size the same layers would take stored dense (4 bytes per weight and bias).
    pub dense_bytes: usize,
    pub layers: Vec<LayerReport>,
}

/// The greedy acting network of checkpoint `which` (`best` or `latest`) of `run_dir`.
pub fn run_policy(run_dir: &Path, which: &str) -> Result<Policy> {
    let (config, text) = load_run_config(run_dir)?;
    let mut learner = config.algorithm().learner(&config).context("export")?;
    load_checkpoint(learner.agent_mut(), &text, run_dir, which)?;
    learner
        .agent()
        .policy()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("cannot export {}", run_dir.display()))
}

/// Writes the policy of `run_dir`'s checkpoint `which` to `out` (atomically) and reports its layers.
pub fn export_run(run_dir: &Path, which: &str, out: &Path) -> Result<ExportReport> {
    let policy = run_policy(run_dir, which)?;
    policy.save(out)?;
    let layers: Vec<LayerReport> = policy.network.layers().iter().map(|(l, _)| report(l)).collect();
    let dense_bytes = 4 * layers.iter().map(|l| l.rows * (l.cols + 1)).sum::<usize>();
    Ok(ExportReport {
        run: run_dir.display().to_string(),
        checkpoint: which.into(),
        out: out.display().to_string(),
        bytes: std::fs::metadata(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .len() as usize,
        dense_bytes,
        layers,
    })
}

fn report(layer: &InferenceLayer) -> LayerReport {
    let (format, stored_weights, kernel): (_, _, &dyn InferenceLinear) = match layer {
        InferenceLayer::Dense(l) => ("dense", l.weight().len(), l),
        InferenceLayer::Csr(l) => ("csr", l.nnz(), l),
        InferenceLayer::Diagonal(l) => ("diagonal", l.values.len(), l),
    };
    LayerReport {
        format,
        rows: kernel.out_features(),
        cols: kernel.in_features(),
        stored_weights,
    }
}
