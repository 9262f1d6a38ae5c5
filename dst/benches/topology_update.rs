//! Cost of one topology update (prune + grow) per criterion on a 1024×1024 layer at density 0.1, next to
//! one gradient step (forward + backward + Adam) of a 256-1024-1024-256 masked MLP at batch 256 on the
//! two CPU backends: how much an update every ΔT steps adds to training.
//!
//! `cargo bench -p sparse-rl-dst --bench topology_update`

use burn::backend::{Autodiff, Flex, NdArray};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::activation::relu;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::evolve::init_sparse;
use sparse_rl_dst::grow::GrowCriterion;
use sparse_rl_dst::policy::{DropSchedule, SparsityPolicy};
use sparse_rl_dst::prune::PruneCriterion;
use sparse_rl_dst::{LayerShape, LayerTopology, MaskedLinear, MaskedLinearConfig, SparsityController};

const N: usize = 1024;

/// A 1024×1024 layer with random weights and gradients, and its controller.
fn setup(prune: PruneCriterion, grow: GrowCriterion) -> (SparsityController, LayerTopology) {
    let mut rng = StdRng::seed_from_u64(0);
    let shape = LayerShape::dense(N, N);
    let weight = (0..N * N).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let mut layer = LayerTopology::from_dense("fc", shape, weight);
    layer.grad = Some((0..N * N).map(|_| rng.random_range(-1.0f32..1.0)).collect());
    let policy = SparsityPolicy {
        density: 0.1,
        prune,
        grow,
        drop_fraction: 0.3,
        drop_schedule: DropSchedule::Constant,
        update_interval: 1,
        update_end: 1.0,
        ..Default::default()
    };
    let mut ctl = SparsityController::new(&policy, &[shape], 100).unwrap();
    ctl.init_masks(std::slice::from_mut(&mut layer), &mut rng)
        .unwrap();
    (ctl, layer)
}

fn bench_update(c: &mut Criterion, name: &str, prune: PruneCriterion, grow: GrowCriterion) {
    let (ctl, layer) = setup(prune, grow);
    let mut rng = StdRng::seed_from_u64(1);
    c.bench_function(name, |b| {
        b.iter_batched(
            || (ctl.clone(), vec![layer.clone()]),
            |(mut ctl, mut layers)| ctl.update(1, &mut layers, &mut rng).unwrap(),
            BatchSize::LargeInput,
        )
    });
}

fn topology_updates(c: &mut Criterion) {
    use GrowCriterion as G;
    use PruneCriterion as P;
    let prune = [
        ("magnitude", P::Magnitude),
        ("set", P::Set),
        ("random", P::Random),
        ("mest", P::Mest),
        ("snip", P::Snip),
        ("taylor", P::Taylor),
        ("sensitivity", P::Sensitivity),
        ("reciprocal-sensitivity", P::ReciprocalSensitivity),
        ("grad-step", P::GradStep),
        ("ri", P::Ri),
    ];
    for (name, p) in prune {
        bench_update(
            c,
            &format!("update_1024x1024_d0.1/prune={name}/grow=random"),
            p,
            G::Random,
        );
    }
    for (name, g) in [
        ("gradient", G::Gradient),
        ("ch3-l3n", G::Ch3L3n),
        ("ch2-l3n", G::Ch2L3n),
        ("ch3-l3p", G::Ch3L3p),
    ] {
        bench_update(
            c,
            &format!("update_1024x1024_d0.1/prune=magnitude/grow={name}"),
            P::Magnitude,
            g,
        );
    }
}

#[derive(Module, Debug)]
struct Mlp<B: Backend> {
    layers: Vec<MaskedLinear<B>>,
}

impl<B: Backend> Mlp<B> {
    fn forward(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

fn train_step<B: AutodiffBackend>(c: &mut Criterion, name: &str) {
    let device = Default::default();
    let sizes = [256, 1024, 1024, 256];
    let mut mlp = Mlp::<B> {
        layers: sizes
            .windows(2)
            .map(|w| MaskedLinearConfig::new(w[0], w[1]).init(&device))
            .collect(),
    };
    let policy = SparsityPolicy {
        density: 0.1,
        ..Default::default()
    };
    let shapes: Vec<LayerShape> = mlp.layers.iter().map(sparse_rl_dst::SparseLayer::shape).collect();
    let mut ctl = SparsityController::new(&policy, &shapes, 100).unwrap();
    let mut named: Vec<sparse_rl_dst::evolve::NamedLayer<'_, B>> = mlp
        .layers
        .iter_mut()
        .map(|l| ("fc".to_string(), l as &mut dyn sparse_rl_dst::SparseLayer<B>))
        .collect();
    init_sparse(&mut ctl, &mut named, &mut StdRng::seed_from_u64(2)).unwrap();
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init::<B, Mlp<B>>();
    let x = Tensor::<B, 2>::random([256, 256], Distribution::Normal(0.0, 1.0), &device);
    let y = Tensor::<B, 2>::random([256, 256], Distribution::Normal(0.0, 1.0), &device);
    let mut holder = Some(mlp);
    c.bench_function(name, |b| {
        b.iter(|| {
            let m = holder.take().unwrap();
            let loss = (m.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &m);
            let m = optim.step(1e-3, m, grads);
            B::sync(&device).unwrap();
            holder = Some(m);
        })
    });
}

fn train_steps(c: &mut Criterion) {
    train_step::<Autodiff<NdArray>>(c, "train_step_256-1024-1024-256_b256/ndarray");
    train_step::<Autodiff<Flex>>(c, "train_step_256-1024-1024-256_b256/flex");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = topology_updates, train_steps
}
criterion_main!(benches);
