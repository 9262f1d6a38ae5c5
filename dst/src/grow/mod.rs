//! Growth criteria: which INACTIVE connections to add. One file per criterion; this module holds the
//! names and the selection: hard top-k with random tie-break (so too few positive scores are filled
//! uniformly at random among the zero-score candidates), or the CHTs soft rule p ∝ score (Zhang et al.
//! 2025, arXiv 2501.19107), adding 1e-5 to every candidate when fewer than k scores are positive.

pub mod cannistraci_hebb;
pub mod gradient;
pub mod random;

use serde::{Deserialize, Serialize};

use crate::error::DstError;
use crate::policy::Sampling;
use crate::select::{highest_k, sample_weighted};
use crate::topology::LayerTopology;
use rand::Rng;

/// A growth criterion, named as in the TOML policy (`grow = "gradient"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrowCriterion {
    /// SET: uniform among inactive.
    Random,
    /// RigL: largest |dense gradient|.
    Gradient,
    /// CH3-L3, exact path-based (CHT).
    #[serde(rename = "ch3-l3p")]
    Ch3L3p,
    /// CH3-L3, matrix node-based (CHTs).
    #[serde(rename = "ch3-l3n")]
    Ch3L3n,
    /// CH2-L3, matrix node-based (the CHTs paper's experiments).
    #[serde(rename = "ch2-l3n")]
    Ch2L3n,
}

impl GrowCriterion {
    /// Whether the score reads the gradient.
    pub fn uses_grad(self) -> bool {
        self == Self::Gradient
    }

    /// Score of every entry (meaningful on inactive entries; grow highest).
    pub fn scores(self, layer: &LayerTopology) -> Result<Vec<f32>, DstError> {
        match self {
            Self::Random => Ok(random::scores(layer)),
            Self::Gradient => gradient::scores(layer),
            Self::Ch3L3p => Ok(cannistraci_hebb::ch3_l3p(layer)),
            Self::Ch3L3n => Ok(cannistraci_hebb::ch3_l3n(layer)),
            Self::Ch2L3n => Ok(cannistraci_hebb::ch2_l3n(layer)),
        }
    }
}

/// Indices of the inactive entries of a layer.
pub fn inactive_indices(layer: &LayerTopology) -> Vec<usize> {
    (0..layer.mask.len()).filter(|&i| !layer.mask[i]).collect()
}

/// The `k` of the `inactive` candidates to grow.
pub fn select_growth<R: Rng + ?Sized>(
    inactive: &[usize],
    scores: &[f32],
    k: usize,
    sampling: Sampling,
    rng: &mut R,
) -> Vec<usize> {
    match sampling {
        Sampling::TopK => highest_k(inactive, scores, k, rng),
        Sampling::Soft => {
            let positive = inactive.iter().filter(|&&i| scores[i] > 0.0).count();
            let floor = if positive < k { 1e-5 } else { 0.0 };
            sample_weighted(inactive, |i| f64::from(scores[i].max(0.0)) + floor, k, rng)
        }
    }
}
