//! Cannistraci-Hebb link prediction for regrowth, on the layer's bipartite graph A [n_out × n_in]
//! (row u = output node, column v = input node; a missing link (u, v) is scored).
//!
//! Sources: CHT — Zhang et al., "Epitopological learning and Cannistraci-Hebb network shape
//! intelligence brain-inspired theory for ultra-sparse advantage in deep learning", ICLR 2024
//! (biomedical-cybernetics/Cannistraci-Hebb-training, `CH_scores_new_v2.cpp`); CHTs/CHTss — Zhang et al.
//! 2025, arXiv 2501.19107 (the node-based matrix form; the paper's runs use CH2-L3n).
//!
//! * [`ch3_l3p`] (exact, path-based): paths u–z1–z2–v over existing links; LC(u, v) = the intermediate
//!   nodes; d_e(z) = deg(z) − |N(z) ∩ LC| − |N(z) ∩ {u, v}|; score = Σ_paths 1/√((1+d_e(z1))(1+d_e(z2))).
//!   In a bipartite graph every link from z1 into LC lies on a path, so |N(z1) ∩ LC| = |N(z1) ∩ N(v)| =
//!   (AᵀA)[z1, v] and 1 + d_e(z1) = deg(z1) − (AᵀA)[z1, v]; likewise 1 + d_e(z2) = deg(z2) − (AAᵀ)[z2, u].
//!   The sum then runs over the paths with precomputed common-neighbour counts (tested against a literal
//!   enumeration of the definition).
//! * [`ch3_l3n`], [`ch2_l3n`] (node-based): deg_D = row sums, deg_T = column sums, DD = AAᵀ, TT = AᵀA,
//!   E = max((deg − common) · [common ≠ 0] − 1, 0), W = [common ≠ 0] / (1 + E) (CH3) or
//!   (common + [common ≠ 0]) / (1 + E) (CH2), S = W_D A + (W_T Aᵀ)ᵀ on non-links: a sum over community
//!   nodes rather than paths, so it differs from the exact score.
//! * [`chain_removal`]: CHT's removal of links of neurons left without inputs or outputs.

use crate::topology::LayerTopology;

/// Neighbour lists and common-neighbour counts of a layer's bipartite graph.
struct Graph {
    rows: usize,
    cols: usize,
    /// Columns of each row.
    row_nb: Vec<Vec<usize>>,
    /// Rows of each column.
    col_nb: Vec<Vec<usize>>,
    /// DD = AAᵀ, [rows × rows].
    dd: Vec<u32>,
    /// TT = AᵀA, [cols × cols].
    tt: Vec<u32>,
}

impl Graph {
    fn new(layer: &LayerTopology) -> Self {
        let (rows, cols) = (layer.rows(), layer.cols());
        let mut row_nb = vec![Vec::new(); rows];
        let mut col_nb = vec![Vec::new(); cols];
        for (i, _) in layer.mask.iter().enumerate().filter(|(_, &m)| m) {
            row_nb[i / cols].push(i % cols);
            col_nb[i % cols].push(i / cols);
        }
        let mut dd = vec![0u32; rows * rows];
        for nb in &col_nb {
            for &a in nb {
                for &b in nb {
                    dd[a * rows + b] += 1;
                }
            }
        }
        let mut tt = vec![0u32; cols * cols];
        for nb in &row_nb {
            for &a in nb {
                for &b in nb {
                    tt[a * cols + b] += 1;
                }
            }
        }
        Self {
            rows,
            cols,
            row_nb,
            col_nb,
            dd,
            tt,
        }
    }

    fn is_link(&self, layer: &LayerTopology, u: usize, v: usize) -> bool {
        layer.mask[u * self.cols + v]
    }
}

/// Exact CH3-L3 (path-based) for every entry; 0 on links.
pub fn ch3_l3p(layer: &LayerTopology) -> Vec<f32> {
    let g = Graph::new(layer);
    let max_deg = g.rows.max(g.cols) + 1;
    let inv_sqrt: Vec<f64> = (0..max_deg)
        .map(|n| if n == 0 { 0.0 } else { 1.0 / (n as f64).sqrt() })
        .collect();
    let mut out = vec![0f32; g.rows * g.cols];
    let mut acc = vec![0f64; g.cols];
    for u in 0..g.rows {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for &z1 in &g.row_nb[u] {
            let deg_z1 = g.col_nb[z1].len();
            let tt_row = &g.tt[z1 * g.cols..(z1 + 1) * g.cols];
            for &z2 in g.col_nb[z1].iter().filter(|&&z2| z2 != u) {
                let b = inv_sqrt[g.row_nb[z2].len() - g.dd[z2 * g.rows + u] as usize];
                for &v in g.row_nb[z2].iter().filter(|&&v| !g.is_link(layer, u, v)) {
                    acc[v] += b * inv_sqrt[deg_z1 - tt_row[v] as usize];
                }
            }
        }
        for v in 0..g.cols {
            out[u * g.cols + v] = acc[v] as f32;
        }
    }
    out
}

/// Node-based CH3-L3 (CHTs matrix form) for every entry; 0 on links.
pub fn ch3_l3n(layer: &LayerTopology) -> Vec<f32> {
    node_based(layer, |_common| 1.0)
}

/// Node-based CH2-L3 (numerator 1 + d_i) for every entry; 0 on links.
pub fn ch2_l3n(layer: &LayerTopology) -> Vec<f32> {
    node_based(layer, |common| 1.0 + common as f64)
}

/// S = W_D A + (W_T Aᵀ)ᵀ with W = numerator(common) / (1 + max(deg − common − 1, 0)) where common ≠ 0.
fn node_based(layer: &LayerTopology, numerator: impl Fn(u32) -> f64) -> Vec<f32> {
    let g = Graph::new(layer);
    let weight = |deg: usize, common: u32| {
        let e = (deg as i64 - i64::from(common) - 1).max(0);
        numerator(common) / (1.0 + e as f64)
    };
    let mut out = vec![0f32; g.rows * g.cols];
    let mut acc = vec![0f64; g.cols];
    for u in 0..g.rows {
        acc.iter_mut().for_each(|a| *a = 0.0);
        // W_D A: rows z2 sharing a neighbour with u, spreading to their columns.
        for z2 in 0..g.rows {
            let common = g.dd[u * g.rows + z2];
            if common != 0 {
                let w = weight(g.row_nb[z2].len(), common);
                g.row_nb[z2].iter().for_each(|&v| acc[v] += w);
            }
        }
        // (W_T Aᵀ)ᵀ: S[u, v] += Σ_{z1 ∈ N(u)} W_T[v, z1].
        for &z1 in &g.row_nb[u] {
            let deg_z1 = g.col_nb[z1].len();
            for (v, a) in acc.iter_mut().enumerate() {
                let common = g.tt[v * g.cols + z1];
                if common != 0 {
                    *a += weight(deg_z1, common);
                }
            }
        }
        for v in 0..g.cols {
            if !g.is_link(layer, u, v) {
                out[u * g.cols + v] = acc[v] as f32;
            }
        }
    }
    out
}

/// CHT chain removal across a chain of fully connected layers (layer l's rows are layer l+1's columns):
/// repeatedly deactivates the links of hidden neurons left with no incoming link (empty row of layer l:
/// drop its column in layer l+1) or no outgoing link (empty column of layer l+1: drop its row in layer
/// l), until nothing changes. Pairs whose shapes do not chain are skipped. Returns the entries removed
/// in each layer; their weights are zeroed.
pub fn chain_removal(layers: &mut [LayerTopology]) -> Vec<Vec<usize>> {
    let mut removed = vec![Vec::new(); layers.len()];
    loop {
        let mut changed = false;
        for l in 0..layers.len().saturating_sub(1) {
            let (left, right) = layers.split_at_mut(l + 1);
            let (a, b) = (&mut left[l], &mut right[0]);
            if a.rows() != b.cols() {
                continue;
            }
            for h in 0..a.rows() {
                let has_in = (0..a.cols()).any(|j| a.mask[h * a.cols() + j]);
                let has_out = (0..b.rows()).any(|i| b.mask[i * b.cols() + h]);
                if has_in && !has_out {
                    for j in 0..a.cols() {
                        let idx = h * a.cols() + j;
                        if a.mask[idx] {
                            a.mask[idx] = false;
                            a.weight[idx] = 0.0;
                            removed[l].push(idx);
                            changed = true;
                        }
                    }
                } else if has_out && !has_in {
                    for i in 0..b.rows() {
                        let idx = i * b.cols() + h;
                        if b.mask[idx] {
                            b.mask[idx] = false;
                            b.weight[idx] = 0.0;
                            removed[l + 1].push(idx);
                            changed = true;
                        }
                    }
                }
            }
        }
        if !changed {
            return removed;
        }
    }
}
