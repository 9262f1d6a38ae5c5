//! Small conversions between host slices and burn tensors.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// A `[rows, cols]` float tensor from a row-major slice.
pub fn matrix<B: Backend>(data: &[f32], rows: usize, cols: usize, device: &B::Device) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(data.to_vec(), [rows, cols]), device)
}

/// A `[n]` float tensor.
pub fn vector<B: Backend>(data: &[f32], device: &B::Device) -> Tensor<B, 1> {
    Tensor::from_data(TensorData::new(data.to_vec(), [data.len()]), device)
}

/// A `[n, 1]` int tensor of indices stored as floats (discrete actions in the replay buffer).
pub fn index_column<B: Backend>(data: &[f32], device: &B::Device) -> Tensor<B, 2, Int> {
    let idx: Vec<i64> = data.iter().map(|&a| a as i64).collect();
    Tensor::from_data(TensorData::new(idx, [data.len(), 1]), device)
}

/// A tensor's values on the host.
pub fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    sparse_rl_dst::topology::tensor_to_vec(t)
}

/// Index of the largest value of each row of a row-major `[rows, cols]` slice (first one on ties).
pub fn argmax_rows(values: &[f32], cols: usize) -> Vec<usize> {
    values
        .chunks(cols)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(
            super::argmax_rows(&[1.0, 3.0, 3.0, -1.0, -2.0, -3.0], 3),
            vec![1, 0]
        );
    }
}
