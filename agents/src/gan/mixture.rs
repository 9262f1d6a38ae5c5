//! The synthetic data of the mode-collapse literature: equal-weight isotropic 2-D Gaussian mixtures.
//!
//! Means and standard deviations as in PacGAN's code (Lin, Khetan, Fanti, Oh, "PacGAN: The power of two
//! samples in generative adversarial networks", NeurIPS 2018; fjxmlzn/PacGAN,
//! `synthetic_data_experiments/2DRing_GAN&PacGAN/config.py` and `2DGrid_GAN&PacGAN/config.py`, which
//! follow VEEGAN, Srivastava et al. 2017): the ring puts 8 modes on the unit circle with σ = 0.01, the
//! grid 25 modes at {−4, −2, 0, 2, 4}² with σ = 0.05. The unrolled-GAN ring (Metz et al. 2017: radius 2,
//! σ = 0.02) is the same ring scaled by 2.

use rand::Rng;
use rand_distr::StandardNormal;

/// An equal-weight mixture of isotropic 2-D Gaussians.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// Mode centres.
    pub means: Vec<[f64; 2]>,
    /// Standard deviation of every mode, per coordinate.
    pub std: f64,
}

/// The dataset names `run.env` accepts for `run.algo = "gan"`.
pub const DATASETS: [&str; 2] = ["gaussians-8", "gaussians-25"];

impl Mixture {
    /// 8 modes on the unit circle, σ = 0.01 (PacGAN's 2D-ring).
    pub fn ring() -> Self {
        let means = (0..8)
            .map(|i| {
                let angle = i as f64 * std::f64::consts::TAU / 8.0;
                [angle.cos(), angle.sin()]
            })
            .collect();
        Self { means, std: 0.01 }
    }

    /// 25 modes on the grid {−4, −2, 0, 2, 4}², σ = 0.05 (PacGAN's 2D-grid).
    pub fn grid() -> Self {
        let axis = [-4.0, -2.0, 0.0, 2.0, 4.0];
        let means = axis.iter().flat_map(|&x| axis.map(|y| [x, y])).collect();
        Self { means, std: 0.05 }
    }

    /// The mixture a dataset name stands for (`gaussians-8`, `gaussians-25`).
    pub fn by_name(name: &str) -> Result<Self, String> {
        match name {
            "gaussians-8" => Ok(Self::ring()),
            "gaussians-25" => Ok(Self::grid()),
            _ => Err(format!(
                "unknown GAN dataset {name:?}; datasets are {}",
                DATASETS.join(", ")
            )),
        }
    }

    /// `n` samples, row-major `[n, 2]`: a uniformly chosen mode plus N(0, σ²) noise per coordinate.
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let mean = self.means[rng.random_range(0..self.means.len())];
            for m in mean {
                out.push((m + self.std * rng.sample::<f64, _>(StandardNormal)) as f32);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_datasets_have_their_modes_and_spreads() {
        let ring = Mixture::by_name("gaussians-8").unwrap();
        assert_eq!(ring.means.len(), 8);
        assert!(ring.means.iter().all(|[x, y]| (x.hypot(*y) - 1.0).abs() < 1e-12));
        let grid = Mixture::by_name("gaussians-25").unwrap();
        assert_eq!(grid.means.len(), 25);
        assert!(grid.means.contains(&[-4.0, 4.0]) && grid.means.contains(&[0.0, 0.0]));
        let e = Mixture::by_name("gaussians-9").unwrap_err();
        assert!(e.contains("gaussians-9") && e.contains("gaussians-25"), "{e}");
    }

    #[test]
    fn samples_are_spread_evenly_over_the_modes_with_the_stated_std() {
        let ring = Mixture::ring();
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let n = 16_000;
        let x = ring.sample(n, &mut rng);
        let mut counts = [0usize; 8];
        let mut sq = 0.0;
        for p in x.chunks(2) {
            let (m, d2) = ring
                .means
                .iter()
                .enumerate()
                .map(|(i, c)| (i, (p[0] as f64 - c[0]).powi(2) + (p[1] as f64 - c[1]).powi(2)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            counts[m] += 1;
            sq += d2;
        }
        // 2000 expected per mode; 4 binomial standard deviations is about 170.
        assert!(counts.iter().all(|&c| c.abs_diff(2000) < 170), "{counts:?}");
        let std = (sq / (2.0 * n as f64)).sqrt();
        assert!((std - 0.01).abs() < 0.0005, "per-coordinate std {std}");
    }
}
