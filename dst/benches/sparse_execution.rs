//! One training step (forward, backward, Adam step) of the SAC critic's shape, 4-256-256-1 at batch 256
//! on `Autodiff<Flex>`, with the 256 × 256 hidden layer at densities 1.0 / 0.5 / 0.2 / 0.1 / 0.05 / 0.02 (the
//! 4-wide input and 1-wide output layers stay dense, as ERK leaves them), per execution and layout:
//! `masked-dense` (burn's matmul of `W ⊙ M`), `csr` (the sparse path on an unstructured random mask) and
//! `diagonal` (the sparse path on a DynaDiag mask of whole wrapped diagonals). The crossover density is
//! the largest density at which `csr` is faster than `masked-dense`.
//!
//! A second group times the forward pass alone without autodiff (acting, evaluation, targets) at 1, 4,
//! 16, 64 and 256 rows, `masked-dense` against `csr`: where `auto`'s density threshold per number of rows
//! (`dst/src/execution/mode.rs`) comes from.
//!
//! `cargo bench -p sparse-rl-dst --bench sparse_execution -- --warm-up-time 1 --measurement-time 3`

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, Param};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::{FusedAdam, MaskedLinear, MaskedLinearConfig};

type B = Autodiff<Flex>;

const WIDTH: usize = 256;
const BATCH: usize = 256;
const DENSITIES: [f64; 6] = [1.0, 0.5, 0.2, 0.1, 0.05, 0.02];

/// The critic of SAC on Pendulum: (observation, action) = 4 inputs, two hidden layers, one Q value.
#[derive(Module, Debug)]
struct Critic<B: Backend> {
    layers: Vec<MaskedLinear<B>>,
}

impl<B: Backend> Critic<B> {
    /// As the agents' MLPs: hidden layers through `forward_hidden` (bias and ReLU fused, activations
    /// feature-major between sparse layers), the last through `forward`.
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let (last, hidden) = self.layers.split_last().expect("layers");
        last.forward(hidden.iter().fold(x, |h, l| l.forward_hidden(h)))
    }
}

/// Where the hidden layer's active connections lie.
#[derive(Clone, Copy)]
enum Layout {
    /// Uniformly random.
    Random,
    /// Whole wrapped diagonals `(i, (i + p) mod 256)` at random offsets `p`.
    Diagonal,
}

fn hidden_mask(layout: Layout, density: f64, rng: &mut StdRng) -> Vec<f32> {
    match layout {
        Layout::Random => (0..WIDTH * WIDTH)
            .map(|_| f32::from(rng.random_bool(density)))
            .collect(),
        Layout::Diagonal => {
            let mut offsets: Vec<usize> = (0..WIDTH).collect();
            let k = ((density * WIDTH as f64).round() as usize).max(1);
            let mut mask = vec![0.0; WIDTH * WIDTH];
            for _ in 0..k {
                let p = offsets.swap_remove(rng.random_range(0..offsets.len()));
                for i in 0..WIDTH {
                    mask[i * WIDTH + (i + p) % WIDTH] = 1.0;
                }
            }
            mask
        }
    }
}

fn critic(execution: Execution, layout: Layout, density: f64) -> Critic<B> {
    let device = Default::default();
    let mut rng = StdRng::seed_from_u64(1);
    let mut layers: Vec<MaskedLinear<B>> = [(4, WIDTH), (WIDTH, WIDTH), (WIDTH, 1)]
        .into_iter()
        .map(|(d_in, d_out)| MaskedLinearConfig::new(d_in, d_out).init(&device))
        .collect();
    let mask = hidden_mask(layout, density, &mut rng);
    let hidden = &mut layers[1];
    hidden.mask = Param::from_tensor(Tensor::from_data(TensorData::new(mask, [WIDTH, WIDTH]), &device))
        .set_require_grad(false);
    hidden.weight = hidden.weight.clone().map(|w| w * hidden.mask.val());
    for layer in &mut layers {
        layer.set_execution(execution);
    }
    Critic { layers }
}

fn training_step(c: &mut Criterion) {
    let device = Default::default();
    let mut rng = StdRng::seed_from_u64(2);
    let mut data = |cols: usize| -> Tensor<B, 2> {
        let v: Vec<f32> = (0..BATCH * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_data(TensorData::new(v, [BATCH, cols]), &device)
    };
    let (x, target) = (data(4), data(1));
    let mut group = c.benchmark_group("critic_training_step_b256");
    let cases = [
        ("masked-dense", Execution::MaskedDense, Layout::Random),
        ("csr", Execution::Sparse, Layout::Random),
        ("diagonal", Execution::Sparse, Layout::Diagonal),
    ];
    for density in DENSITIES {
        for (name, execution, layout) in cases {
            let mut net = Some(critic(execution, layout, density));
            let mut optim = FusedAdam::new(1e-8).init::<B, Critic<B>>();
            group.bench_with_input(BenchmarkId::new(name, density), &density, |b, _| {
                b.iter(|| {
                    let current = net.take().expect("network");
                    let loss = (current.forward(x.clone()) - target.clone())
                        .powf_scalar(2.0)
                        .mean();
                    let grads = GradientsParams::from_grads(loss.backward(), &current);
                    net = Some(optim.step(1e-4, current, grads));
                })
            });
        }
    }
    group.finish();
}

fn forward_by_rows(c: &mut Criterion) {
    let device = Default::default();
    let mut rng = StdRng::seed_from_u64(3);
    let mut group = c.benchmark_group("critic_forward_by_rows");
    for rows in [1, 4, 16, 64, 256] {
        let v: Vec<f32> = (0..rows * 4).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x = Tensor::<Flex, 2>::from_data(TensorData::new(v, [rows, 4]), &device);
        for density in [0.5, 0.2, 0.1, 0.05] {
            for (name, execution) in [
                ("masked-dense", Execution::MaskedDense),
                ("csr", Execution::Sparse),
            ] {
                let net = critic(execution, Layout::Random, density).valid();
                let id = BenchmarkId::new(format!("{name}/rows{rows}"), density);
                group.bench_with_input(id, &density, |b, _| b.iter(|| net.forward(x.clone())));
            }
        }
    }
    group.finish();
}

criterion_group!(benches, training_step, forward_by_rows);
criterion_main!(benches);
