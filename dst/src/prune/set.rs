//! SET's removal rule (Mocanu et al. 2018), the FIXED version of Nowak et al. 2023 (`SET_fixed` in
//! alooow/fantastic_weights_paper `sparselearning/pruners.py`): remove the ⌈k/2⌉ smallest positive
//! weights and the negative weights closest to zero (early SET code sorted the negatives the wrong way,
//! removing the most negative).
//!
//! Ours, to keep the count exact: active weights that are exactly zero (e.g. just grown) go first (the
//! reference drops them too, its masks keep only w > t₊ or w < t₋); of the remaining r, ⌈r/2⌉ come from
//! the positives and ⌊r/2⌋ from the negatives, the other sign filling in when one side runs short.

use crate::topology::LayerTopology;

/// Indices of the `k` active weights to remove.
pub fn removals(layer: &LayerTopology, k: usize) -> Vec<usize> {
    let active = (0..layer.mask.len()).filter(|&i| layer.mask[i]);
    let (mut zeros, mut pos, mut neg) = (Vec::new(), Vec::new(), Vec::new());
    for i in active {
        let w = layer.weight[i];
        match w.partial_cmp(&0.0) {
            Some(std::cmp::Ordering::Greater) => pos.push(i),
            Some(std::cmp::Ordering::Less) => neg.push(i),
            _ => zeros.push(i),
        }
    }
    // Ascending |w| within each sign: positives smallest first, negatives closest to zero first.
    let key = |i: &usize| layer.weight[*i].abs();
    pos.sort_by(|a, b| key(a).total_cmp(&key(b)));
    neg.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let mut out: Vec<usize> = zeros.into_iter().take(k).collect();
    let r = k - out.len();
    let want_pos = r.div_ceil(2).min(pos.len());
    let want_neg = (r - want_pos).min(neg.len());
    let extra_pos = (r - want_pos - want_neg).min(pos.len() - want_pos);
    out.extend(&pos[..want_pos + extra_pos]);
    out.extend(&neg[..want_neg]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::LayerShape;

    #[test]
    fn removes_small_positives_and_negatives_closest_to_zero() {
        let w = vec![-0.1, -5.0, 0.2, 3.0, -0.05, 0.5, 0.0, -2.0];
        let mut layer = LayerTopology::from_dense("l", LayerShape::dense(2, 4), w);
        layer.mask[7] = false;
        let mut r = removals(&layer, 5);
        r.sort_unstable();
        // The active zero first, then 0.2 and 0.5 (⌈4/2⌉ positives), then −0.05 and −0.1 (never −5).
        assert_eq!(r, vec![0, 2, 4, 5, 6]);
    }

    #[test]
    fn one_sign_fills_in_for_the_other() {
        let layer = LayerTopology::from_dense("l", LayerShape::dense(1, 4), vec![0.4, 0.1, 0.3, -1.0]);
        let mut r = removals(&layer, 3);
        r.sort_unstable();
        assert_eq!(r, vec![1, 2, 3]);
    }
}
