//! Initial sparse topologies and sparse weight initialisation.
//!
//! * ER (Erdős–Rényi, SET/RigL): `n` links drawn uniformly without replacement.
//! * BSW, bipartite small-world (CHT: Zhang et al., ICLR 2024; `mlp_and_cnn/sparse_topology_initialization.py`
//!   of biomedical-cybernetics/Cannistraci-Hebb-training): a bipartite ring lattice, each output node
//!   linked to the columns nearest its position on the ring, then each link rewired with probability β
//!   to a random column of the same row (Watts–Strogatz). Ours: the degree of each row is n / rows (the
//!   remainder spread over the first rows), so the count is exact.
//! * BRF, bipartite receptive field (CHTs: Zhang et al. 2025, arXiv 2501.19107): node i of the smaller
//!   side is centred at (i · ⌊n_large / n_small⌋) mod n_large and draws its links without replacement with
//!   p ∝ (1 + ring distance)^−((1−r)/r); r → 0 nearest, r = 1 is ER.
//! * SWI, sparse weight initialisation (CHTs): w ~ N(0, 2 / (density · n_in)), Kaiming with the
//!   expected sparse fan-in.

use rand::seq::index::sample;
use rand::Rng;
use rand_distr::{Distribution as _, Normal};

use crate::policy::TopologyInit;
use crate::select::sample_weighted;
use crate::topology::LayerTopology;

/// A mask [rows × cols] with exactly `n` active links.
pub fn init_mask<R: Rng + ?Sized>(
    how: TopologyInit,
    rows: usize,
    cols: usize,
    n: usize,
    bsw_beta: f64,
    brf_r: f64,
    rng: &mut R,
) -> Vec<bool> {
    let n = n.min(rows * cols);
    match how {
        TopologyInit::Er => {
            let mut mask = vec![false; rows * cols];
            sample(rng, rows * cols, n)
                .into_iter()
                .for_each(|i| mask[i] = true);
            mask
        }
        TopologyInit::Bsw => bsw(rows, cols, n, bsw_beta, rng),
        TopologyInit::Brf => brf(rows, cols, n, brf_r, rng),
    }
}

/// Degree of node `i` of `nodes` when `n` links are spread as evenly as possible.
fn even_degree(n: usize, nodes: usize, i: usize) -> usize {
    n / nodes + usize::from(i < n % nodes)
}

/// Distance between `a` and `b` on a ring of `len` positions.
fn ring_distance(a: usize, b: usize, len: usize) -> usize {
    let d = a.abs_diff(b);
    d.min(len - d)
}

fn bsw<R: Rng + ?Sized>(rows: usize, cols: usize, n: usize, beta: f64, rng: &mut R) -> Vec<bool> {
    let mut mask = vec![false; rows * cols];
    for u in 0..rows {
        let deg = even_degree(n, rows, u);
        let centre = u * cols / rows;
        // The `deg` columns nearest the centre on the ring, alternating sides.
        let mut ring: Vec<usize> = (0..cols).collect();
        ring.sort_by_key(|&v| (ring_distance(v, centre, cols), v));
        for &v in &ring[..deg] {
            mask[u * cols + v] = true;
        }
        for &v in &ring[..deg] {
            if rng.random::<f64>() < beta {
                let free: Vec<usize> = (0..cols).filter(|&w| !mask[u * cols + w]).collect();
                if !free.is_empty() {
                    let w = free[rng.random_range(0..free.len())];
                    mask[u * cols + v] = false;
                    mask[u * cols + w] = true;
                }
            }
        }
    }
    mask
}

fn brf<R: Rng + ?Sized>(rows: usize, cols: usize, n: usize, r: f64, rng: &mut R) -> Vec<bool> {
    let mut mask = vec![false; rows * cols];
    let (small, large) = (rows.min(cols), rows.max(cols));
    let exponent = -(1.0 - r) / r;
    let candidates: Vec<usize> = (0..large).collect();
    for i in 0..small {
        let centre = (i * (large / small)) % large;
        let deg = even_degree(n, small, i);
        let weight = |b: usize| (1.0 + ring_distance(b, centre, large) as f64).powf(exponent);
        for b in sample_weighted(&candidates, weight, deg, rng) {
            let (u, v) = if rows <= cols { (i, b) } else { (b, i) };
            mask[u * cols + v] = true;
        }
    }
    mask
}

/// SWI: draws every active weight from N(0, 2 / (density · n_in)); inactive weights are zero.
pub fn sparse_weight_init<R: Rng + ?Sized>(layer: &mut LayerTopology, rng: &mut R) {
    let density = layer.density().max(f64::MIN_POSITIVE);
    let std = (2.0 / (density * layer.cols() as f64)).sqrt();
    let normal = Normal::new(0.0, std).expect("a positive finite standard deviation");
    for (w, &m) in layer.weight.iter_mut().zip(&layer.mask) {
        *w = if m { normal.sample(rng) as f32 } else { 0.0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::LayerShape;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn every_init_has_the_exact_count(rows in 1usize..40, cols in 1usize..40, frac in 0.0f64..1.0, seed: u64) {
            let n = (frac * (rows * cols) as f64) as usize;
            let mut rng = StdRng::seed_from_u64(seed);
            for how in [TopologyInit::Er, TopologyInit::Bsw, TopologyInit::Brf] {
                let m = init_mask(how, rows, cols, n, 0.25, 0.3, &mut rng);
                prop_assert_eq!(m.iter().filter(|&&b| b).count(), n, "{:?}", how);
            }
        }
    }

    #[test]
    fn brf_with_small_r_keeps_links_near_the_diagonal() {
        let mut rng = StdRng::seed_from_u64(3);
        let (rows, cols) = (64, 64);
        let m = init_mask(TopologyInit::Brf, rows, cols, 256, 0.0, 0.05, &mut rng);
        let mean_dist = (0..rows * cols)
            .filter(|&i| m[i])
            .map(|i| ring_distance(i / cols, i % cols, cols) as f64)
            .sum::<f64>()
            / 256.0;
        let er = init_mask(TopologyInit::Er, rows, cols, 256, 0.0, 1.0, &mut rng);
        let er_dist = (0..rows * cols)
            .filter(|&i| er[i])
            .map(|i| ring_distance(i / cols, i % cols, cols) as f64)
            .sum::<f64>()
            / 256.0;
        assert!(mean_dist < 0.25 * er_dist, "BRF {mean_dist} vs ER {er_dist}");
    }

    #[test]
    fn swi_matches_its_variance() {
        let mut rng = StdRng::seed_from_u64(4);
        let shape = LayerShape::dense(200, 100);
        let mut layer = LayerTopology::from_dense("l", shape, vec![1.0; shape.len()]);
        layer.mask = init_mask(TopologyInit::Er, 200, 100, 2000, 0.0, 1.0, &mut rng);
        sparse_weight_init(&mut layer, &mut rng);
        let active: Vec<f32> = (0..shape.len())
            .filter(|&i| layer.mask[i])
            .map(|i| layer.weight[i])
            .collect();
        let var = active.iter().map(|w| f64::from(w * w)).sum::<f64>() / active.len() as f64;
        let want = 2.0 / (0.1 * 100.0);
        assert!((var / want - 1.0).abs() < 0.1, "variance {var} vs {want}");
        assert!((0..shape.len())
            .filter(|&i| !layer.mask[i])
            .all(|i| layer.weight[i] == 0.0));
    }
}
