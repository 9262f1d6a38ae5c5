//! Mode-collapse metrics on 2-D Gaussian mixtures, as VEEGAN (Srivastava et al., NeurIPS 2017) defines
//! them and PacGAN's code computes them (fjxmlzn/PacGAN, `synthetic_data_experiments/PacGAN/pacgan/
//! extensions.py`, `MetricLogger`, checked): each sample is assigned to its nearest mode by σ-scaled
//! distance, and is high-quality when that distance is below 3σ (strictly); a mode is covered when at
//! least one high-quality sample is assigned to it. Both papers draw 2,500 samples. PacGAN also reports
//! the reverse KL divergence of the high-quality samples' mode histogram from the uniform one.

use super::mixture::Mixture;

/// A sample within this many standard deviations of its nearest mode is high-quality.
pub const HIGH_QUALITY_STDS: f64 = 3.0;
/// High-quality samples a mode needs to count as covered (PacGAN: `numpy.nonzero` of the histogram).
pub const COVERED_MIN_SAMPLES: usize = 1;

/// Mode coverage of a sample set.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCoverage {
    /// High-quality samples assigned to each mode.
    pub counts: Vec<usize>,
    /// Samples evaluated.
    pub samples: usize,
}

impl ModeCoverage {
    /// Assigns each sample of the row-major `[n, 2]` slice to its nearest mode of `mixture`.
    pub fn measure(mixture: &Mixture, samples: &[f32]) -> Self {
        let mut counts = vec![0; mixture.means.len()];
        for p in samples.chunks_exact(2) {
            let (mode, dist) = mixture
                .means
                .iter()
                .map(|c| (p[0] as f64 - c[0]).hypot(p[1] as f64 - c[1]) / mixture.std)
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("a mixture has modes");
            if dist < HIGH_QUALITY_STDS {
                counts[mode] += 1;
            }
        }
        Self {
            counts,
            samples: samples.len() / 2,
        }
    }

    /// Modes with at least [`COVERED_MIN_SAMPLES`] high-quality samples.
    pub fn modes_covered(&self) -> usize {
        self.counts.iter().filter(|&&c| c >= COVERED_MIN_SAMPLES).count()
    }

    /// Fraction of the samples that are high-quality (0 for no samples).
    pub fn high_quality_fraction(&self) -> f64 {
        self.counts.iter().sum::<usize>() as f64 / self.samples.max(1) as f64
    }

    /// KL(p ‖ uniform) of the high-quality samples' mode histogram p, in nats: 0 when every mode gets
    /// the same share, ln(modes) when one mode gets all; `None` without a high-quality sample.
    pub fn reverse_kl(&self) -> Option<f64> {
        let total = self.counts.iter().sum::<usize>() as f64;
        if total == 0.0 {
            return None;
        }
        let k = self.counts.len() as f64;
        let kl = self
            .counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / total;
                p * (p * k).ln()
            })
            .sum();
        Some(kl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(list: &[[f64; 2]]) -> Vec<f32> {
        list.iter().flat_map(|p| p.map(|v| v as f32)).collect()
    }

    #[test]
    fn samples_on_one_mode_cover_one_mode() {
        let ring = Mixture::ring();
        let c = ModeCoverage::measure(&ring, &points(&[[1.0, 0.0]; 50]));
        assert_eq!((c.modes_covered(), c.high_quality_fraction()), (1, 1.0));
        assert!((c.reverse_kl().unwrap() - 8f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn samples_on_every_mode_cover_all_and_are_all_high_quality() {
        let grid = Mixture::grid();
        let mut list = Vec::new();
        for m in &grid.means {
            list.push(*m);
            list.push([m[0] + 2.0 * grid.std, m[1]]);
        }
        let c = ModeCoverage::measure(&grid, &points(&list));
        assert_eq!((c.modes_covered(), c.high_quality_fraction()), (25, 1.0));
        assert!(c.reverse_kl().unwrap().abs() < 1e-12);
    }

    #[test]
    fn far_away_samples_are_not_high_quality() {
        let ring = Mixture::ring();
        let c = ModeCoverage::measure(&ring, &points(&[[0.0, 0.0], [3.0, 3.0], [0.5, 0.0]]));
        assert_eq!(
            (c.modes_covered(), c.high_quality_fraction(), c.samples),
            (0, 0.0, 3)
        );
        assert_eq!(c.reverse_kl(), None);
    }

    #[test]
    fn the_high_quality_boundary_is_three_stds() {
        let grid = Mixture::grid();
        let inside = [2.0 + 2.99 * grid.std, 0.0];
        let outside = [2.0 + 3.01 * grid.std, 0.0];
        let c = ModeCoverage::measure(&grid, &points(&[inside, outside]));
        assert_eq!(c.counts.iter().sum::<usize>(), 1);
        assert_eq!(c.high_quality_fraction(), 0.5);
        // 2.5σ off in each coordinate is 3.54σ away: not high-quality (the distance is Euclidean).
        let off = 2.5 * grid.std;
        let c = ModeCoverage::measure(&grid, &points(&[[-4.0 + off, 4.0 - off]]));
        assert_eq!(c.modes_covered(), 0);
    }
}
