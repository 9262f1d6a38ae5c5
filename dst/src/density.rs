//! Layer densities of a module: uniform, or Erdős–Rényi-Kernel (ERK: Evci et al., "Rigging the Lottery:
//! Making All Tickets Winners", ICML 2020; google-research/rigl `sparse_utils.get_mask_random` with
//! `erdos_renyi_kernel`). ERK gives layer l a density ∝ ε · (n_in + n_out [+ kh + kw]) / (n_in · n_out
//! [· kh · kw]), ε solved so the sparse layers hold `density · total` active weights; a layer whose
//! density would exceed 1 is made dense, removed, and ε solved again (the largest first, as RigL).

use crate::error::DstError;
use crate::policy::Distribution;
use crate::topology::LayerShape;

/// Density of each layer. Layers with `keep_dense[l]` are dense and outside the budget (e.g. a dense
/// output layer).
pub fn layer_densities(
    shapes: &[LayerShape],
    density: f64,
    distribution: Distribution,
    keep_dense: &[bool],
) -> Result<Vec<f64>, DstError> {
    if !(density > 0.0 && density <= 1.0) {
        return Err(DstError::new(format!("density = {density} must be in (0, 1]")));
    }
    if shapes.iter().any(LayerShape::is_empty) {
        return Err(DstError::new("a sparse layer has no weights (a zero dimension)"));
    }
    let mut out: Vec<f64> = keep_dense
        .iter()
        .map(|&d| if d { 1.0 } else { density })
        .collect();
    if distribution == Distribution::Uniform || density >= 1.0 {
        return Ok(out);
    }
    let raw: Vec<f64> = shapes
        .iter()
        .map(|s| {
            let k = s.kernel.map_or(0, |[kh, kw]| kh + kw);
            (s.fan_in_nodes() + s.rows + k) as f64 / s.len() as f64
        })
        .collect();
    let sparse: Vec<usize> = (0..shapes.len()).filter(|&l| !keep_dense[l]).collect();
    let budget: f64 = sparse.iter().map(|&l| density * shapes[l].len() as f64).sum();
    let mut dense = vec![false; shapes.len()];
    loop {
        let dense_total: f64 = sparse
            .iter()
            .filter(|&&l| dense[l])
            .map(|&l| shapes[l].len() as f64)
            .sum();
        let weighted: f64 = sparse
            .iter()
            .filter(|&&l| !dense[l])
            .map(|&l| raw[l] * shapes[l].len() as f64)
            .sum();
        if weighted == 0.0 {
            break;
        }
        let eps = (budget - dense_total) / weighted;
        let worst = sparse
            .iter()
            .copied()
            .filter(|&l| !dense[l])
            .max_by(|&a, &b| raw[a].total_cmp(&raw[b]));
        match worst {
            Some(l) if eps * raw[l] > 1.0 => dense[l] = true,
            _ => {
                for &l in &sparse {
                    out[l] = if dense[l] { 1.0 } else { eps * raw[l] };
                }
                break;
            }
        }
    }
    for &l in sparse.iter().filter(|&&l| dense[l]) {
        out[l] = 1.0;
    }
    Ok(out)
}

/// Active connections of a layer of `len` weights at `density` (rounded, at least 1).
pub fn active_count(len: usize, density: f64) -> usize {
    ((density * len as f64).round() as usize).clamp(1.min(len), len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn erk_gives_small_layers_more_density() {
        let shapes = [
            LayerShape::dense(256, 4),
            LayerShape::dense(256, 256),
            LayerShape::dense(2, 256),
        ];
        let d = layer_densities(&shapes, 0.1, Distribution::Erk, &[false; 3]).unwrap();
        assert!(d[1] < d[0] && d[1] < d[2], "{d:?}");
        assert!(d.iter().all(|&x| x > 0.0 && x <= 1.0));
    }

    #[test]
    fn erk_makes_overfull_layers_dense() {
        let shapes = [LayerShape::dense(64, 2), LayerShape::dense(512, 512)];
        let d = layer_densities(&shapes, 0.2, Distribution::Erk, &[false; 2]).unwrap();
        assert_eq!(d[0], 1.0);
        let total: f64 = shapes.iter().zip(&d).map(|(s, d)| d * s.len() as f64).sum();
        let want = 0.2 * shapes.iter().map(|s| s.len() as f64).sum::<f64>();
        assert!((total - want).abs() < 1e-6 * want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn active_total_matches_density(
            dims in prop::collection::vec((1usize..64, 1usize..64, prop::bool::ANY), 1..5),
            density in 0.05f64..1.0,
            erk in prop::bool::ANY,
        ) {
            let shapes: Vec<LayerShape> = dims.iter().map(|&(r, c, conv)| {
                if conv { LayerShape { rows: r, cols: c * 9, kernel: Some([3, 3]) } } else { LayerShape::dense(r, c) }
            }).collect();
            let dist = if erk { Distribution::Erk } else { Distribution::Uniform };
            let d = layer_densities(&shapes, density, dist, &vec![false; shapes.len()]).unwrap();
            let total: usize = shapes.iter().map(LayerShape::len).sum();
            let active: usize = shapes.iter().zip(&d).map(|(s, &d)| active_count(s.len(), d)).sum();
            let want = density * total as f64;
            // Rounding: at most one half per layer, plus the floor of one connection per layer.
            prop_assert!((active as f64 - want).abs() <= shapes.len() as f64, "{active} vs {want}");
            prop_assert!(d.iter().all(|&x| x > 0.0 && x <= 1.0 + 1e-12));
        }
    }
}
