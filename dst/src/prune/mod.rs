//! Pruning criteria: which ACTIVE connections to remove. One file per criterion; this module holds the
//! criterion names, score normalisation and the selection (hard lowest-k or the CHTs soft rule).
//!
//! Source of the criteria, normalisation and running average: Nowak et al., "Fantastic Weights and How
//! to Find Them: Where to Prune in Dynamic Sparse Training", NeurIPS 2023 (alooow/fantastic_weights_paper,
//! `sparselearning/pruners.py`). The soft rule: Zhang et al. 2025, arXiv 2501.19107 (CHTs).

pub mod grad_step;
pub mod magnitude;
pub mod mest;
pub mod random;
pub mod reciprocal_sensitivity;
pub mod relative_importance;
pub mod sensitivity;
pub mod set;
pub mod snip;
pub mod taylor;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::DstError;
use crate::policy::{NormType, Normalization, Sampling};
use crate::select::{lowest_k, sample_weighted};
use crate::topology::LayerTopology;

/// A pruning criterion, named as in the TOML policy (`prune = "magnitude"`).
///
/// Which criteria coincide. A hard top-k removal depends only on the ORDER of the scores it compares, and
/// an increasing function of a score keeps that order. `taylor` = (w·g)² = `snip`², so the two remove
/// the same connections (up to f32 rounding of the square), in either scope, with no normalisation or
/// any `norm_type = "max"` normalisation (max(s²) = (max s)², so the normalised taylor score is the
/// square of the normalised snip score); and with `norm_type = "sum"` when each ranking compares one
/// normalisation group only (`normalization = "layer"` under `scope = "layer"`). They differ when
/// sum-normalised scores of different groups are compared (s / Σs and s² / Σs² do not order alike across
/// groups): `normalization = "input"` or `"output"` with `norm_type = "sum"`, or `"layer"` + `"sum"`
/// under `scope = "global"`; with a running average (`score_beta > 0`: the mean of squares is not the
/// square of the mean); and with soft sampling (p ∝ score^T is another distribution for s and s²). No
/// other pair is a monotone transform of another: `magnitude` vs `grad-step` |w − γg|, `magnitude` vs
/// `mest` |w| + γ|g| and `sensitivity` vs `reciprocal-sensitivity` (for ε → 0 one is the reciprocal of the
/// other, which REVERSES the order) remove different sets in general.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PruneCriterion {
    /// |w|.
    Magnitude,
    /// SET's fixed sign-aware rule.
    Set,
    /// Uniform.
    Random,
    /// |w| + γ|g|.
    Mest,
    /// |w · g|.
    Snip,
    /// (w · g)².
    Taylor,
    /// |g| / (|w| + ε).
    Sensitivity,
    /// |w| / (|g| + ε).
    ReciprocalSensitivity,
    /// |w − γ g|.
    GradStep,
    /// CHT's relative importance.
    Ri,
}

impl PruneCriterion {
    /// Every criterion, in the order of the table in the docs.
    pub const ALL: [PruneCriterion; 10] = [
        Self::Magnitude,
        Self::Set,
        Self::Random,
        Self::Mest,
        Self::Snip,
        Self::Taylor,
        Self::Sensitivity,
        Self::ReciprocalSensitivity,
        Self::GradStep,
        Self::Ri,
    ];

    /// Whether the score reads the gradient.
    pub fn uses_grad(self) -> bool {
        matches!(
            self,
            Self::Mest
                | Self::Snip
                | Self::Taylor
                | Self::Sensitivity
                | Self::ReciprocalSensitivity
                | Self::GradStep
        )
    }

    /// Score of every entry of the layer (meaningful on active entries; remove lowest). `Set` has no
    /// score of its own (see [`set::removals`]); its magnitude is returned for reporting.
    pub fn scores<R: Rng + ?Sized>(self, layer: &LayerTopology, rng: &mut R) -> Result<Vec<f32>, DstError> {
        let w = &layer.weight;
        let with_grad = |f: fn(f32, f32) -> f32| -> Result<Vec<f32>, DstError> {
            let g = layer.grad.as_ref().ok_or_else(|| {
                DstError::new(format!(
                    "prune = {self:?} needs the gradient of layer `{}`",
                    layer.name
                ))
            })?;
            Ok(w.iter().zip(g).map(|(&w, &g)| f(w, g)).collect())
        };
        match self {
            Self::Magnitude | Self::Set => Ok(w.iter().map(|&w| magnitude::score(w)).collect()),
            Self::Random => Ok(w.iter().map(|_| random::score(rng)).collect()),
            Self::Mest => with_grad(mest::score),
            Self::Snip => with_grad(snip::score),
            Self::Taylor => with_grad(taylor::score),
            Self::Sensitivity => with_grad(sensitivity::score),
            Self::ReciprocalSensitivity => with_grad(reciprocal_sensitivity::score),
            Self::GradStep => with_grad(grad_step::score),
            Self::Ri => Ok(relative_importance::scores(layer)),
        }
    }
}

/// Divides the active scores by their max (or sum) over the layer, each output neuron's inputs
/// (`Input`: a row) or each input neuron's outputs (`Output`: a column), as `norm_score` of the reference.
/// A zero reduction leaves the scores unchanged.
pub fn normalize(scores: &mut [f32], layer: &LayerTopology, how: Normalization, norm: NormType) {
    let (rows, cols) = (layer.rows(), layer.cols());
    let group_of: Box<dyn Fn(usize) -> usize> = match how {
        Normalization::None => return,
        Normalization::Layer => Box::new(|_| 0),
        Normalization::Input => Box::new(move |i| i / cols),
        Normalization::Output => Box::new(move |i| i % cols),
    };
    let groups = match how {
        Normalization::Input => rows,
        Normalization::Output => cols,
        _ => 1,
    };
    let mut red = vec![0f32; groups];
    for i in (0..scores.len()).filter(|&i| layer.mask[i]) {
        let g = group_of(i);
        red[g] = match norm {
            NormType::Max => red[g].max(scores[i]),
            NormType::Sum => red[g] + scores[i],
        };
    }
    for i in (0..scores.len()).filter(|&i| layer.mask[i]) {
        let r = red[group_of(i)];
        if r != 0.0 {
            scores[i] /= r;
        }
    }
}

/// Indices of the active entries of a layer.
pub fn active_indices(layer: &LayerTopology) -> Vec<usize> {
    (0..layer.mask.len()).filter(|&i| layer.mask[i]).collect()
}

/// The `k` of the `active` candidates to remove. `TopK`: the k lowest scores. `Soft` (CHTs): the
/// `active − k` links to KEEP are sampled without replacement with p ∝ max(score, ε)^T and the rest
/// removed (ε = 1e-8 lets zero-valued fresh links be kept).
pub fn select_removals<R: Rng + ?Sized>(
    active: &[usize],
    scores: &[f32],
    k: usize,
    sampling: Sampling,
    temperature: f64,
    rng: &mut R,
) -> Vec<usize> {
    match sampling {
        Sampling::TopK => lowest_k(active, scores, k, rng),
        Sampling::Soft => {
            let keep_n = active.len().saturating_sub(k);
            let weight = |i: usize| f64::from(scores[i]).max(1e-8).powf(temperature);
            let mut keep = sample_weighted(active, weight, keep_n, rng);
            keep.sort_unstable();
            active
                .iter()
                .copied()
                .filter(|i| keep.binary_search(i).is_err())
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::LayerShape;

    #[test]
    fn normalisation_divides_by_the_group_reduction() {
        let mut layer = LayerTopology::from_dense("l", LayerShape::dense(2, 2), vec![0.0; 4]);
        layer.mask[3] = false;
        let base = vec![1.0, 3.0, 2.0, 9.0];
        let run = |how, norm| {
            let mut s = base.clone();
            normalize(&mut s, &layer, how, norm);
            s
        };
        assert_eq!(run(Normalization::None, NormType::Max), base);
        assert_eq!(
            run(Normalization::Layer, NormType::Max),
            vec![1.0 / 3.0, 1.0, 2.0 / 3.0, 9.0]
        );
        assert_eq!(
            run(Normalization::Layer, NormType::Sum),
            vec![1.0 / 6.0, 0.5, 2.0 / 6.0, 9.0]
        );
        // Input: per row (an output neuron's inputs); Output: per column.
        assert_eq!(
            run(Normalization::Input, NormType::Max),
            vec![1.0 / 3.0, 1.0, 1.0, 9.0]
        );
        assert_eq!(
            run(Normalization::Output, NormType::Max),
            vec![0.5, 1.0, 1.0, 9.0]
        );
    }

    #[test]
    fn soft_removal_keeps_heavy_links_more_often() {
        use rand::rngs::StdRng;
        use rand::SeedableRng;
        let scores = [0.1f32, 10.0, 0.1, 10.0];
        let active = [0, 1, 2, 3];
        let mut rng = StdRng::seed_from_u64(0);
        let mut heavy_removed = 0;
        for _ in 0..500 {
            let r = select_removals(&active, &scores, 2, Sampling::Soft, 1.0, &mut rng);
            assert_eq!(r.len(), 2);
            heavy_removed += r.iter().filter(|&&i| scores[i] > 1.0).count();
        }
        assert!(
            heavy_removed < 100,
            "heavy links removed {heavy_removed} times of 1000"
        );
    }
}
