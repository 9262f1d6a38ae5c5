//! The compressed layout of a mask, in both orientations the kernels need.

/// The active connections of a `[d_in, d_out]` row-major mask (this repository's weight layout), stored
/// twice: grouped by output (for `Y = X·(W⊙M)`) and grouped by input (for `dX = dY·(W⊙M)ᵀ` and `dW`).
/// Every entry also keeps its position `i · d_out + o` in the dense weight, so the current weight values
/// are gathered per call while the pattern is rebuilt only when the mask changes.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrLayout {
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
    /// Grouped by output `o`: entries `by_out.ptr[o]..by_out.ptr[o + 1]`, index = input feature.
    pub by_out: Compressed,
    /// Grouped by input `i`: entries `by_in.ptr[i]..by_in.ptr[i + 1]`, index = output feature.
    pub by_in: Compressed,
}

/// One compressed orientation: row starts, the other coordinate and the dense position of every entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Compressed {
    /// Row starts, rows + 1 entries.
    pub ptr: Vec<u32>,
    /// The other coordinate of every entry, ascending within a row.
    pub idx: Vec<u32>,
    /// Position `i · d_out + o` of every entry in the dense weight.
    pub pos: Vec<u32>,
}

impl Compressed {
    fn push(&mut self, idx: usize, pos: usize) {
        self.idx.push(idx as u32);
        self.pos.push(pos as u32);
    }

    fn end_row(&mut self) {
        self.ptr.push(self.idx.len() as u32);
    }

    /// The entry range of every row.
    pub(crate) fn rows(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.ptr.windows(2).map(|w| w[0] as usize..w[1] as usize)
    }

    /// The weight values of the entries, gathered from the dense row-major weight.
    pub(crate) fn gather(&self, weight: &[f32]) -> Vec<f32> {
        self.pos.iter().map(|&p| weight[p as usize]).collect()
    }
}

impl CsrLayout {
    /// The layout of a row-major `[d_in, d_out]` mask (entries ≠ 0 are active).
    ///
    /// # Panics
    /// If `mask.len() != d_in · d_out` or the positions do not fit `u32`.
    pub fn from_mask(d_in: usize, d_out: usize, mask: &[f32]) -> Self {
        assert_eq!(mask.len(), d_in * d_out, "mask of a [{d_in}, {d_out}] layer");
        assert!(
            mask.len() <= u32::MAX as usize,
            "layer too large for u32 positions"
        );
        let (mut by_out, mut by_in) = (Compressed::default(), Compressed::default());
        by_out.ptr.push(0);
        by_in.ptr.push(0);
        for o in 0..d_out {
            for i in 0..d_in {
                if mask[i * d_out + o] != 0.0 {
                    by_out.push(i, i * d_out + o);
                }
            }
            by_out.end_row();
        }
        for i in 0..d_in {
            for o in 0..d_out {
                if mask[i * d_out + o] != 0.0 {
                    by_in.push(o, i * d_out + o);
                }
            }
            by_in.end_row();
        }
        Self {
            d_in,
            d_out,
            by_out,
            by_in,
        }
    }

    /// Active connections.
    pub fn nnz(&self) -> usize {
        self.by_in.idx.len()
    }

    /// Active fraction of the layer.
    pub fn density(&self) -> f64 {
        self.nnz() as f64 / (self.d_in * self.d_out).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_orientations_list_the_same_connections() {
        // [d_in = 2, d_out = 3]: active (0,1), (1,0), (1,2).
        let l = CsrLayout::from_mask(2, 3, &[0., 1., 0., 1., 0., 1.]);
        assert_eq!(l.by_out.ptr, vec![0, 1, 2, 3]);
        assert_eq!(l.by_out.idx, vec![1, 0, 1]);
        assert_eq!(l.by_in.ptr, vec![0, 1, 3]);
        assert_eq!(l.by_in.idx, vec![1, 0, 2]);
        assert_eq!(l.by_in.pos, vec![1, 3, 5]);
        assert_eq!(l.by_out.gather(&[0., 10., 0., 30., 0., 50.]), vec![30., 10., 50.]);
        assert_eq!(l.nnz(), 3);
    }
}
