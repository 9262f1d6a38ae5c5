//! The machine's dense matrix-product throughput on burn-flex (the backend every run uses here), in FLOP/s
//! (criterion's "elem/s": one element is one floating-point operation, 2·m·k·n per product): at a large
//! square shape, the practical peak, and at the shapes the training speed targets spend their products on,
//! so a training step's FLOPs divided by these rates bound how fast the step can be.
//!
//! - `1024x1024x1024`: the practical peak;
//! - `128x120x84`: DQN CartPole's hidden layer (batch 128, 120 → 84);
//! - `3200x64x64`: QMIX's agent network on Foraging (32 episodes × 50 steps × 2 agents, 64 → 64);
//! - `256x256x256`: SAC's hidden layer (batch 256, 256 → 256).
//!
//! `cargo bench -p sparse-rl-dst --bench matmul_throughput -- --warm-up-time 1 --measurement-time 3`

use burn::backend::Flex;
use burn::tensor::{Distribution, Tensor};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const SHAPES: [(usize, usize, usize); 4] = [
    (1024, 1024, 1024),
    (128, 120, 84),
    (3200, 64, 64),
    (256, 256, 256),
];

fn matmul(c: &mut Criterion) {
    let device = Default::default();
    let mut group = c.benchmark_group("matmul");
    for (m, k, n) in SHAPES {
        let a = Tensor::<Flex, 2>::random([m, k], Distribution::Default, &device);
        let b = Tensor::<Flex, 2>::random([k, n], Distribution::Default, &device);
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("{m}x{k}x{n}")), |bench| {
            bench.iter(|| a.clone().matmul(b.clone()))
        });
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
