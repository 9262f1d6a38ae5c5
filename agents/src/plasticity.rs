//! The plasticity diagnostic the scaling literature reads: the fraction of τ-dormant neurons of a module
//! (ReDo, Sokar et al. 2023, "The Dormant Neuron Phenomenon in Deep Reinforcement Learning", definition 3.1).
//!
//! Neuron `i` of a layer with `H` neurons scores `s_i = E_x|h_i(x)| / ((1/H) Σ_k E_x|h_k(x)|)`, the mean
//! absolute activation over a batch of inputs relative to the layer's average; it is τ-dormant when
//! `s_i ≤ τ`. A module's fraction counts every neuron followed by an activation (its hidden layers; conv
//! channels are neurons, averaged over positions too), dormant ones over all of them.

use std::ops::AddAssign;

/// ReDo's threshold for its DQN experiments (τ = 0.025); τ = 0 would count only neurons that never fire.
pub const DORMANT_TAU: f64 = 0.025;

/// The most recent replay transitions the fraction is measured on (no random draw, so measuring never
/// changes a run).
pub const DORMANT_BATCH: usize = 256;

/// Dormant neurons over all neurons counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DormantCount {
    pub dormant: usize,
    pub neurons: usize,
}

impl DormantCount {
    /// The τ-dormant neurons of one layer's activations, `width` values per row, row-major. Every neuron of
    /// a layer that is all zero on the batch is dormant (its average is zero).
    pub fn of_layer(activations: &[f32], width: usize, tau: f64) -> Self {
        assert!(
            width > 0 && activations.len().is_multiple_of(width),
            "activations are [rows, width]"
        );
        let rows = activations.len() / width;
        let mut mean_abs = vec![0.0f64; width];
        for row in activations.chunks_exact(width) {
            for (m, &a) in mean_abs.iter_mut().zip(row) {
                *m += f64::from(a.abs());
            }
        }
        mean_abs.iter_mut().for_each(|m| *m /= rows.max(1) as f64);
        let layer_mean = mean_abs.iter().sum::<f64>() / width as f64;
        let dormant = if layer_mean == 0.0 {
            width
        } else {
            mean_abs.iter().filter(|&&m| m / layer_mean <= tau).count()
        };
        Self {
            dormant,
            neurons: width,
        }
    }

    /// `dormant / neurons`; `None` for a module without hidden neurons.
    pub fn fraction(self) -> Option<f64> {
        (self.neurons > 0).then(|| self.dormant as f64 / self.neurons as f64)
    }
}

impl AddAssign for DormantCount {
    fn add_assign(&mut self, other: Self) {
        self.dormant += other.dormant;
        self.neurons += other.neurons;
    }
}

/// The modules' fractions by name, leaving out modules without hidden neurons.
pub fn fractions(counts: impl IntoIterator<Item = (&'static str, DormantCount)>) -> Vec<(&'static str, f64)> {
    counts
        .into_iter()
        .filter_map(|(name, count)| count.fraction().map(|f| (name, f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_relative_to_the_layer_mean() {
        // Three neurons over two rows: mean |h| = 1.0, 2.0 and 0.02; the layer mean is 1.0067, so the
        // third scores 0.0199 ≤ 0.025 and is dormant, the others are not.
        let acts = [1.0, 1.0, 0.0, 1.0, 3.0, 0.04];
        assert_eq!(
            DormantCount::of_layer(&acts, 3, DORMANT_TAU),
            DormantCount {
                dormant: 1,
                neurons: 3
            }
        );
        // At τ = 0 only a neuron that never fires counts; at τ = 1 every neuron at or below the mean.
        assert_eq!(DormantCount::of_layer(&acts, 3, 0.0).dormant, 0);
        assert_eq!(DormantCount::of_layer(&acts, 3, 1.0).dormant, 2);
        // Signs do not matter (|h|), and a dead layer is wholly dormant.
        let negated: Vec<f32> = acts.iter().map(|a| -a).collect();
        assert_eq!(DormantCount::of_layer(&negated, 3, DORMANT_TAU).dormant, 1);
        assert_eq!(
            DormantCount::of_layer(&[0.0; 8], 4, DORMANT_TAU),
            DormantCount {
                dormant: 4,
                neurons: 4
            }
        );
    }

    #[test]
    fn a_module_fraction_pools_its_layers() {
        let mut count = DormantCount::default();
        assert_eq!(count.fraction(), None);
        count += DormantCount::of_layer(&[1.0, 0.0], 2, DORMANT_TAU);
        count += DormantCount::of_layer(&[1.0, 1.0, 1.0], 3, DORMANT_TAU);
        assert_eq!(count.fraction(), Some(1.0 / 5.0));
    }
}
