//! Forward of a 256-256-256-256 MLP (input 256, ReLU between, three linear layers) at batch 1 and 32:
//! burn's dense forward on NdArray and on Flex (input upload and output read-back included, as when
//! acting), the plain-Rust dense reference, and the CSR and diagonal kernels at densities
//! 1.0 / 0.5 / 0.2 / 0.1 / 0.05. Dense costs do not depend on the density, so they are measured once per
//! batch.
//!
//! `cargo bench -p sparse-rl-dst --bench inference -- --warm-up-time 1 --measurement-time 3`

use burn::backend::{Flex, NdArray};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::inference::{
    Activation, CsrLinear, DenseLinear, DiagonalInference, InferenceLayer, SparseMlp,
};

const WIDTH: usize = 256;
const LAYERS: usize = 3;
const DENSITIES: [f64; 5] = [1.0, 0.5, 0.2, 0.1, 0.05];
const BATCHES: [usize; 2] = [1, 32];

fn activation(i: usize) -> Activation {
    if i + 1 == LAYERS {
        Activation::Identity
    } else {
        Activation::Relu
    }
}

fn random_weights(rng: &mut StdRng) -> Vec<f32> {
    (0..WIDTH * WIDTH).map(|_| rng.random_range(-0.1..0.1)).collect()
}

fn plain_mlp(make: impl Fn(usize) -> InferenceLayer) -> SparseMlp {
    SparseMlp::new((0..LAYERS).map(|i| (make(i), activation(i))).collect()).unwrap()
}

fn csr_mlp(density: f64, rng: &mut StdRng) -> SparseMlp {
    let layers: Vec<_> = (0..LAYERS)
        .map(|_| {
            let weight = random_weights(rng);
            let mask: Vec<bool> = (0..WIDTH * WIDTH).map(|_| rng.random_bool(density)).collect();
            CsrLinear::from_dense(WIDTH, WIDTH, &weight, &mask, None).unwrap()
        })
        .collect();
    plain_mlp(|i| InferenceLayer::Csr(layers[i].clone()))
}

fn diagonal_mlp(density: f64, rng: &mut StdRng) -> SparseMlp {
    let k = (density * WIDTH as f64).ceil() as usize;
    let layers: Vec<_> = (0..LAYERS)
        .map(|_| {
            let mut offsets = rand::seq::index::sample(rng, WIDTH, k).into_vec();
            offsets.sort_unstable();
            let values = (0..k * WIDTH).map(|_| rng.random_range(-0.1..0.1)).collect();
            DiagonalInference::new(WIDTH, WIDTH, offsets, values, None).unwrap()
        })
        .collect();
    plain_mlp(|i| InferenceLayer::Diagonal(layers[i].clone()))
}

fn burn_mlp<B: Backend>(device: &B::Device) -> Vec<Linear<B>> {
    (0..LAYERS)
        .map(|_| LinearConfig::new(WIDTH, WIDTH).init(device))
        .collect()
}

fn burn_forward<B: Backend>(
    layers: &[Linear<B>],
    input: &[f32],
    batch: usize,
    device: &B::Device,
) -> Vec<f32> {
    let mut x = Tensor::<B, 2>::from_data(TensorData::new(input.to_vec(), [batch, WIDTH]), device);
    for (i, layer) in layers.iter().enumerate() {
        x = layer.forward(x);
        if i + 1 < LAYERS {
            x = relu(x);
        }
    }
    x.into_data().into_vec::<f32>().unwrap()
}

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let dense = plain_mlp(|_| {
        InferenceLayer::Dense(
            DenseLinear::new(WIDTH, WIDTH, random_weights(&mut StdRng::seed_from_u64(2)), None).unwrap(),
        )
    });
    let ndarray_device = Default::default();
    let ndarray_layers = burn_mlp::<NdArray>(&ndarray_device);
    let flex_device = Default::default();
    let flex_layers = burn_mlp::<Flex>(&flex_device);

    for batch in BATCHES {
        let mut group = c.benchmark_group(format!("mlp256_batch{batch}"));
        let input: Vec<f32> = (0..batch * WIDTH).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut output = vec![0.0f32; batch * WIDTH];
        let mut buffers = dense.buffers(batch);

        group.bench_function("burn_ndarray_dense", |b| {
            b.iter(|| burn_forward(&ndarray_layers, black_box(&input), batch, &ndarray_device))
        });
        group.bench_function("burn_flex_dense", |b| {
            b.iter(|| burn_forward(&flex_layers, black_box(&input), batch, &flex_device))
        });
        group.bench_function("plain_dense", |b| {
            b.iter(|| {
                dense
                    .forward(black_box(&input), batch, &mut buffers, &mut output)
                    .unwrap()
            })
        });
        for density in DENSITIES {
            let csr = csr_mlp(density, &mut rng);
            group.bench_with_input(BenchmarkId::new("csr", density), &density, |b, _| {
                b.iter(|| {
                    csr.forward(black_box(&input), batch, &mut buffers, &mut output)
                        .unwrap()
                })
            });
            let diagonal = diagonal_mlp(density, &mut rng);
            group.bench_with_input(BenchmarkId::new("diagonal", density), &density, |b, _| {
                b.iter(|| {
                    diagonal
                        .forward(black_box(&input), batch, &mut buffers, &mut output)
                        .unwrap()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
