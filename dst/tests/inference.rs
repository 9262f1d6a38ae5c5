//! Plain-Rust inference (dense, CSR, diagonal) against burn's forward of the same masked weights.

use burn::backend::NdArray;
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Distribution, Tensor, TensorData};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::diagonal::DiagonalLinearConfig;
use sparse_rl_dst::inference::{
    Activation, CsrLinear, DenseLinear, DiagonalInference, InferenceLayer, InferenceLinear, SparseMlp,
};

type B = NdArray;

/// One masked layer on the host: row-major `[out × in]` weight and mask, bias.
struct HostLayer {
    out: usize,
    inp: usize,
    weight: Vec<f32>,
    mask: Vec<bool>,
    bias: Vec<f32>,
}

fn random_layer(rng: &mut StdRng, out: usize, inp: usize, density: f64) -> HostLayer {
    HostLayer {
        out,
        inp,
        weight: (0..out * inp).map(|_| rng.random_range(-1.0..1.0)).collect(),
        mask: (0..out * inp).map(|_| rng.random_bool(density)).collect(),
        bias: (0..out).map(|_| rng.random_range(-1.0..1.0)).collect(),
    }
}

fn activate(x: Tensor<B, 2>, activation: Activation) -> Tensor<B, 2> {
    match activation {
        Activation::Identity => x,
        Activation::Relu => relu(x),
        Activation::Tanh => tanh(x),
    }
}

/// burn forward of the masked layers, in burn's Linear layout `x · (W ⊙ M)ᵀ + b`.
fn burn_forward(layers: &[(&HostLayer, Activation)], input: &[f32], batch: usize) -> Vec<f32> {
    let device = Default::default();
    let mut x = Tensor::<B, 2>::from_data(TensorData::new(input.to_vec(), [batch, layers[0].0.inp]), &device);
    for (l, activation) in layers {
        let mask: Vec<f32> = l.mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
        let w = Tensor::<B, 2>::from_data(TensorData::new(l.weight.clone(), [l.out, l.inp]), &device);
        let m = Tensor::<B, 2>::from_data(TensorData::new(mask, [l.out, l.inp]), &device);
        let b = Tensor::<B, 1>::from_data(TensorData::new(l.bias.clone(), [l.out]), &device);
        x = activate(x.matmul((w * m).transpose()) + b.unsqueeze_dim(0), *activation);
    }
    x.into_data().iter::<f32>().collect()
}

fn run(mlp: &SparseMlp, input: &[f32], batch: usize) -> Vec<f32> {
    let mut buffers = mlp.buffers(32);
    let mut out = vec![0.0; batch * mlp.out_features()];
    mlp.forward(input, batch, &mut buffers, &mut out).unwrap();
    out
}

fn close(a: &[f32], b: &[f32]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!(
            (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
            "entry {}: {} vs {}",
            i,
            x,
            y
        );
    }
    Ok(())
}

const ACTIVATIONS: [Activation; 3] = [Activation::Relu, Activation::Tanh, Activation::Identity];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn csr_and_dense_match_burn(
        widths in proptest::collection::vec(1usize..24, 2..5),
        density in 0.0f64..1.0,
        // Half the cases at batch 1, where CSR runs its own kernel (eight rows sorted by length at a time).
        batch in prop_oneof![Just(1usize), 1usize..33],
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let layers: Vec<(HostLayer, Activation)> = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| (random_layer(&mut rng, w[1], w[0], density), ACTIVATIONS[i % 3]))
            .collect();
        // Exact zeros among the inputs too, as after a ReLU.
        let input: Vec<f32> = (0..batch * widths[0])
            .map(|_| if rng.random_bool(0.3) { 0.0 } else { rng.random_range(-1.0..1.0) })
            .collect();
        let refs: Vec<(&HostLayer, Activation)> = layers.iter().map(|(l, a)| (l, *a)).collect();
        let expected = burn_forward(&refs, &input, batch);

        let csr = SparseMlp::new(layers.iter().map(|(l, a)| {
            let csr = CsrLinear::from_dense(l.out, l.inp, &l.weight, &l.mask, Some(&l.bias)).unwrap();
            prop_assert_eq!(csr.nnz(), l.mask.iter().filter(|&&m| m).count());
            Ok((InferenceLayer::Csr(csr), *a))
        }).collect::<Result<Vec<_>, TestCaseError>>()?).unwrap();
        close(&run(&csr, &input, batch), &expected)?;

        let dense = SparseMlp::new(layers.iter().map(|(l, a)| {
            let masked: Vec<f32> = l.weight.iter().zip(&l.mask).map(|(w, &m)| if m { *w } else { 0.0 }).collect();
            (InferenceLayer::Dense(DenseLinear::new(l.out, l.inp, masked, Some(&l.bias)).unwrap()), *a)
        }).collect()).unwrap();
        close(&run(&dense, &input, batch), &expected)?;
    }

    #[test]
    fn diagonal_matches_burn_layer(
        m in 1usize..24, n in 1usize..24, out in 1usize..10, density in 0.05f64..1.0,
        batch in 1usize..33, seed in any::<u64>(),
    ) {
        let device = Default::default();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layer = DiagonalLinearConfig::new(n, m).with_density(density).init::<B>(&device).unwrap();
        let p = layer.pattern().num_diagonals();
        layer.scores = layer.scores.map(|_| Tensor::random([p], Distribution::Uniform(0.0, 1.0), &device));
        layer.bias = layer.bias.map(|b| b.map(|_| Tensor::random([m], Distribution::Uniform(-1.0, 1.0), &device)));
        let layer = layer.freeze();
        // A diagonal layer followed by a CSR head, as an exported actor would be.
        let head = random_layer(&mut rng, out, m, 0.5);
        let input: Vec<f32> = (0..batch * n).map(|_| rng.random_range(-1.0..1.0)).collect();

        let x = Tensor::<B, 2>::from_data(TensorData::new(input.clone(), [batch, n]), &device);
        let hidden: Vec<f32> = relu(layer.forward(x)).into_data().iter::<f32>().collect();
        let expected = burn_forward(&[(&head, Activation::Identity)], &hidden, batch);

        let mlp = SparseMlp::new(vec![
            (InferenceLayer::Diagonal(DiagonalInference::from_layer(&layer).unwrap()), Activation::Relu),
            (InferenceLayer::Csr(CsrLinear::from_dense(out, m, &head.weight, &head.mask, Some(&head.bias)).unwrap()),
             Activation::Identity),
        ]).unwrap();
        close(&run(&mlp, &input, batch), &expected)?;
    }
}

#[test]
fn burn_layout_export_transposes() {
    let device = Default::default();
    // burn Linear layout [d_in = 3, d_out = 2]: W[r, c] (row-major [out × in]) sits at [c, r].
    let weight = Tensor::<B, 2>::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
    let mask = Tensor::<B, 2>::from_floats([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], &device);
    let bias = Tensor::<B, 1>::from_floats([0.5, -0.5], &device);
    let csr = CsrLinear::from_burn(weight.clone(), mask, Some(bias.clone())).unwrap();
    assert_eq!((csr.out_features(), csr.in_features()), (2, 3));
    assert_eq!(csr.indptr(), [0, 2, 4]);
    assert_eq!(csr.indices(), [0, 2, 1, 2]);
    assert_eq!(csr.values(), [1.0, 5.0, 4.0, 6.0]);
    let dense = DenseLinear::from_burn(weight, Some(bias)).unwrap();
    let mlp = SparseMlp::new(vec![(InferenceLayer::Dense(dense), Activation::Identity)]).unwrap();
    // y = [1, 1, 1] · W + b = [9.5, 11.5].
    assert_eq!(run(&mlp, &[1.0, 1.0, 1.0], 1), vec![9.5, 11.5]);
}

#[test]
fn bad_shapes_are_reported() {
    assert!(CsrLinear::from_dense(2, 2, &[0.0; 3], &[true; 4], None)
        .unwrap_err()
        .to_string()
        .contains("rows · cols"));
    assert!(DenseLinear::new(2, 2, vec![0.0; 4], Some(&[0.0; 3]))
        .unwrap_err()
        .to_string()
        .contains("bias has 3"));
    assert!(DiagonalInference::new(4, 4, vec![1, 1], vec![0.0; 8], None)
        .unwrap_err()
        .to_string()
        .contains("twice"));
    assert!(DiagonalInference::new(4, 4, vec![9], vec![0.0; 4], None)
        .unwrap_err()
        .to_string()
        .contains("out of range"));
    let a = DenseLinear::new(3, 2, vec![0.0; 6], None).unwrap();
    let b = DenseLinear::new(1, 4, vec![0.0; 4], None).unwrap();
    let err = SparseMlp::new(vec![
        (InferenceLayer::Dense(a.clone()), Activation::Relu),
        (InferenceLayer::Dense(b), Activation::Identity),
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("layer 0 has 3 outputs but layer 1 takes 4"),
        "{err}"
    );
    let mlp = SparseMlp::new(vec![(InferenceLayer::Dense(a), Activation::Identity)]).unwrap();
    let mut buffers = mlp.buffers(4);
    let mut out = vec![0.0; 3 * 5];
    assert!(mlp
        .forward(&[0.0; 10], 5, &mut buffers, &mut out)
        .unwrap_err()
        .to_string()
        .contains("batch = 5"));
    let soft = DiagonalLinearConfig::new(4, 4)
        .init::<B>(&Default::default())
        .unwrap();
    assert!(DiagonalInference::from_layer(&soft)
        .unwrap_err()
        .to_string()
        .contains("freeze"));
}
