//! The modules of one optimizer as a group: each part of a network follows its own module's policy
//! through `ModuleGroup::step` (its clock, its topology updates, the zero invariant), the dense-gradient
//! flags are addressed by module name, and the gradients a topology update reads are the network's true
//! weight gradients (checked against the closed form of a linear layer's gradient).

use burn::backend::{Autodiff, Flex};
use burn::module::Module;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::module::{no_part, ModuleGroup, SparseModule, SparseParts};
use sparse_rl_dst::policy::{Distribution, PolicyKind, SparsityPolicy};
use sparse_rl_dst::topology::tensor_to_vec;
use sparse_rl_dst::{FusedAdam, MaskedLinear, MaskedLinearConfig, SparseLayer};

type Ad = Autodiff<Flex>;

/// Two parts, `body` then `head`, one masked layer each; records how each part was configured.
#[derive(Module, Debug)]
struct TwoParts<B: Backend> {
    body: MaskedLinear<B>,
    head: MaskedLinear<B>,
    body_masked: bool,
    head_masked: bool,
}

impl<B: Backend> TwoParts<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            body: MaskedLinearConfig::new(6, 8).init(device),
            head: MaskedLinearConfig::new(8, 3).init(device),
            body_masked: false,
            head_masked: false,
        }
    }

    /// `dense[i]`: part i's forward routes the dense weight gradient (straight-through).
    fn forward(&self, x: Tensor<B, 2>, dense: [bool; 2]) -> Tensor<B, 2> {
        let body = if dense[0] {
            self.body.forward_dense_grad(x)
        } else {
            self.body.forward(x)
        };
        if dense[1] {
            self.head.forward_dense_grad(body)
        } else {
            self.head.forward(body)
        }
    }
}

impl<B: Backend> SparseParts<B> for TwoParts<B> {
    fn part_layers(&self, name: &str) -> Vec<&dyn SparseLayer<B>> {
        match name {
            "body" => vec![&self.body],
            "head" => vec![&self.head],
            _ => no_part(name),
        }
    }

    fn part_layers_mut(&mut self, name: &str) -> Vec<&mut dyn SparseLayer<B>> {
        match name {
            "body" => vec![&mut self.body],
            "head" => vec![&mut self.head],
            _ => no_part(name),
        }
    }

    fn configure_part(&mut self, name: &str, masked: bool, execution: Execution) {
        match name {
            "body" => {
                self.body_masked = masked;
                self.body.set_execution(execution);
            }
            "head" => {
                self.head_masked = masked;
                self.head.set_execution(execution);
            }
            _ => no_part(name),
        }
    }
}

fn policy(kind: PolicyKind, density: f64, update_interval: u64) -> SparsityPolicy {
    SparsityPolicy {
        kind,
        density,
        distribution: Distribution::Uniform,
        sparse_output: true,
        update_interval,
        check_invariant: true,
        ..Default::default()
    }
}

fn group(net: &TwoParts<Ad>, body: SparsityPolicy, head: SparsityPolicy, total: usize) -> ModuleGroup {
    ModuleGroup::new(vec![
        SparseModule::new("body", body, &net.part_layers("body"), total).unwrap(),
        SparseModule::new("head", head, &net.part_layers("head"), total).unwrap(),
    ])
}

fn input(rows: usize, seed: u64) -> (Vec<f32>, Tensor<Ad, 2>) {
    let values: Vec<f32> = (0..rows * 6)
        .map(|i| (((i as u64 * 7919 + seed * 104_729) % 997) as f32 / 498.5) - 1.0)
        .collect();
    let x = Tensor::from_data(TensorData::new(values.clone(), [rows, 6]), &Default::default());
    (values, x)
}

/// (weights, mask) of a layer on the host.
fn host(layer: &MaskedLinear<Ad>) -> (Vec<f32>, Vec<bool>) {
    let t = layer.topology("l", None);
    (t.weight, t.mask)
}

#[test]
fn each_part_follows_its_own_module_through_the_group_step() {
    let device = Default::default();
    let mut net = TwoParts::<Ad>::new(&device);
    let total = 12;
    // body: prune and regrow every 2 of its steps; head: static at half density.
    let mut modules = group(
        &net,
        policy(PolicyKind::SparseToSparse, 0.3, 2),
        policy(PolicyKind::Static, 0.5, 2),
        total,
    );
    let mut rng = StdRng::seed_from_u64(3);
    modules.init(&mut net, &mut rng).unwrap();
    assert!(
        net.body_masked && net.head_masked,
        "sparse parts apply their masks"
    );
    let (_, body_mask0) = host(&net.body);
    let (_, head_mask0) = host(&net.head);
    let active = |mask: &[bool]| mask.iter().filter(|&&m| m).count();
    assert_eq!(active(&body_mask0), (0.3_f64 * 48.0).round() as usize);
    assert_eq!(active(&head_mask0), 12);

    let mut optim = FusedAdam::new(1e-8).init::<Ad, TwoParts<Ad>>();
    for step in 1..=8 {
        let dense = modules.dense_grads();
        let (_, x) = input(5, step);
        let y = net.forward(x, [dense.get("body"), dense.get("head")]);
        let loss = y.powf_scalar(2.0).mean();
        // `check_invariant` makes the step itself fail on any non-zero inactive weight or moment.
        net = modules
            .step(net, loss, &dense, 1e-2, &mut optim, &mut rng)
            .unwrap();
        for layer in [&net.body, &net.head] {
            let (w, m) = host(layer);
            assert!(w.iter().zip(&m).all(|(w, m)| *m || *w == 0.0));
        }
    }
    let (body, head) = (modules.module("body"), modules.module("head"));
    assert_eq!(
        (body.steps(), head.steps()),
        (8, 8),
        "each module counts the group's steps"
    );
    let (body_stats, head_stats) = (body.stats((0, 0)), head.stats((0, 0)));
    assert!(body_stats.topology_updates > 0, "{body_stats:?}");
    assert_eq!(head_stats.topology_updates, 0, "a static module never changes");
    let (_, body_mask) = host(&net.body);
    let (_, head_mask) = host(&net.head);
    assert_ne!(
        body_mask, body_mask0,
        "the sparse-to-sparse part moved its connections"
    );
    assert_eq!(active(&body_mask), active(&body_mask0), "at constant density");
    assert_eq!(head_mask, head_mask0);
}

#[test]
fn a_dense_module_leaves_its_part_unmasked() {
    let device = Default::default();
    let mut net = TwoParts::<Ad>::new(&device);
    let mut modules = group(
        &net,
        SparsityPolicy::dense(),
        policy(PolicyKind::Static, 0.5, 2),
        10,
    );
    modules.init(&mut net, &mut StdRng::seed_from_u64(1)).unwrap();
    assert!(!net.body_masked && net.head_masked);
}

#[test]
fn dense_gradient_flags_are_addressed_by_name() {
    let net = TwoParts::<Ad>::new(&Default::default());
    let modules = group(
        &net,
        policy(PolicyKind::Static, 0.5, 2),
        policy(PolicyKind::Static, 0.5, 2),
        10,
    );
    let flags = modules.dense_grads();
    assert!(!flags.get("body") && !flags.get("head"));
    let forced = flags.clone().force("head", true);
    assert!(!forced.get("body") && forced.get("head"));
    assert_eq!(flags.clone().force("head", false), flags);
}

#[test]
#[should_panic(expected = "no sparse module named \"critic\"")]
fn an_unknown_module_name_is_a_panic_naming_it() {
    let net = TwoParts::<Ad>::new(&Default::default());
    let modules = group(&net, SparsityPolicy::dense(), SparsityPolicy::dense(), 10);
    modules.dense_grads().get("critic");
}

/// With `head` forced dense, the gradients taken for it are the full weight gradient, inactive entries
/// included: for `loss = Σ y` and `y = h Wᵀ + b`, `∂loss/∂W[o][i] = Σ_n h[n][i]` for every `o`.
#[test]
fn a_forced_dense_step_hands_the_update_the_true_weight_gradient() {
    let device = Default::default();
    let mut net = TwoParts::<Ad>::new(&device);
    let mut modules = group(
        &net,
        SparsityPolicy::dense(),
        policy(PolicyKind::Static, 0.25, 2),
        10,
    );
    let mut rng = StdRng::seed_from_u64(5);
    modules.init(&mut net, &mut rng).unwrap();
    let dense = modules.dense_grads().force("head", true);
    let (_, x) = input(4, 9);
    let hidden = tensor_to_vec(net.body.forward(x.clone()).inner());
    let loss = net.forward(x, [false, true]).sum();
    let mut optim = FusedAdam::new(1e-8).init::<Ad, TwoParts<Ad>>();
    let (_, mut grads) = modules.optimize(net, loss, &dense, 1e-3, &mut optim, |_, g| g);
    let head = grads
        .take("head")
        .expect("a forced dense step keeps the gradient");
    let head = head[0].as_ref().expect("one layer");
    assert_eq!(head.len(), 3 * 8);
    for o in 0..3 {
        for i in 0..8 {
            let expected: f32 = (0..4).map(|n| hidden[n * 8 + i]).sum();
            assert!(
                (head[o * 8 + i] - expected).abs() < 1e-4,
                "{o},{i}: {} vs {expected}",
                head[o * 8 + i]
            );
        }
    }
    assert!(
        grads.take("body").is_none(),
        "a dense module's update reads no gradient"
    );
}
