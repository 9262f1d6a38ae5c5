//! Reward standardisation of EPyMARL (`standardise_rewards`, `src/components/standarize_stream.py`):
//! a running mean and variance over every reward entry of the sampled batches (Chan et al.'s parallel
//! update), the rewards then replaced by (r − mean) / √var before the targets are built.

use serde::{Deserialize, Serialize};

/// Running mean and variance, starting at mean 0, variance 1 with a pseudo-count of 1e-4 (EPyMARL's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningMeanStd {
    mean: f64,
    var: f64,
    count: f64,
}

impl Default for RunningMeanStd {
    fn default() -> Self {
        Self {
            mean: 0.0,
            var: 1.0,
            count: 1e-4,
        }
    }
}

impl RunningMeanStd {
    /// Folds a batch of values into the statistics.
    pub fn update(&mut self, values: &[f32]) {
        if values.is_empty() {
            return;
        }
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        let delta = mean - self.mean;
        let total = self.count + n;
        let m2 = self.var * self.count + var * n + delta * delta * self.count * n / total;
        self.mean += delta * n / total;
        self.var = m2 / total;
        self.count = total;
    }

    /// (v − mean) / √var for each value.
    pub fn standardise(&self, values: &[f32]) -> Vec<f32> {
        let sd = self.var.sqrt().max(1e-8);
        values
            .iter()
            .map(|&v| ((f64::from(v) - self.mean) / sd) as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_fold_into_the_statistics_of_all_values() {
        let mut s = RunningMeanStd::default();
        let (a, b) = ([1.0f32, 2.0, 3.0], [10.0f32, 0.0]);
        s.update(&a);
        s.update(&b);
        let all: Vec<f64> = a.iter().chain(&b).map(|&v| f64::from(v)).collect();
        let mean = all.iter().sum::<f64>() / 5.0;
        let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 5.0;
        // The 1e-4 pseudo-count of the prior (mean 0, var 1) shifts the result only slightly.
        assert!(
            (s.mean - mean).abs() < 1e-3 && (s.var - var).abs() < 1e-2,
            "{s:?} vs {mean} {var}"
        );
        let z = s.standardise(&[mean as f32]);
        assert!(z[0].abs() < 1e-3);
    }
}
