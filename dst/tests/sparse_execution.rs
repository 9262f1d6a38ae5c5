//! The sparse execution path against the masked-dense product it replaces: forward values and
//! every gradient on random shapes, densities and batches, on the training (autodiff) and the inference
//! backend; the layout cache rebuilding only when the mask changes; the fallback on other backends.

use burn::backend::{Autodiff, Flex, NdArray};
use burn::module::{AutodiffModule, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::policy::SparsityPolicy;
use sparse_rl_dst::{MaskedLinear, MaskedLinearConfig};

type Fx = Autodiff<Flex>;

/// A layer with a random mask of about `density` and random weights everywhere, inactive entries
/// included, so a kernel that read an inactive weight would be caught.
fn layer<B: Backend>(d_in: usize, d_out: usize, density: f64, rng: &mut StdRng) -> MaskedLinear<B> {
    let device = Default::default();
    let mut l = MaskedLinearConfig::new(d_in, d_out).init::<B>(&device);
    let w: Vec<f32> = (0..d_in * d_out).map(|_| rng.random_range(-1.0..1.0)).collect();
    l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), &device));
    set_mask(&mut l, &random_mask(d_in * d_out, density, rng));
    // burn initialises parameters lazily: draw the bias now, or each clone would draw its own.
    if let Some(b) = &l.bias {
        let _ = b.val();
    }
    l
}

fn random_mask(len: usize, density: f64, rng: &mut StdRng) -> Vec<f32> {
    (0..len).map(|_| f32::from(rng.random_bool(density))).collect()
}

fn set_mask<B: Backend>(l: &mut MaskedLinear<B>, mask: &[f32]) {
    let [d_in, d_out] = l.weight.dims();
    let data = TensorData::new(mask.to_vec(), [d_in, d_out]);
    l.mask = Param::from_tensor(Tensor::from_data(data, &Default::default())).set_require_grad(false);
}

fn with<B: Backend>(l: &MaskedLinear<B>, execution: Execution) -> MaskedLinear<B> {
    let mut l = l.clone();
    l.set_execution(execution);
    l
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn matrix<B: Backend>(rows: usize, cols: usize, rng: &mut StdRng) -> Tensor<B, 2> {
    let v: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), &Default::default())
}

/// Equal within 1e-5 relative to the larger of 1 and the reference's largest entry: the two paths sum
/// the same products in different orders, so entries that cancel to near zero are compared at the
/// scale of the terms, not at their own.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * scale,
            "{what}[{k}]: sparse {g} vs masked-dense {w}"
        );
    }
}

/// Forward value and the gradients of input, weight and bias of `loss = Σ y ⊙ r` (r random, so every
/// output carries a different gradient).
fn value_and_grads<B: AutodiffBackend>(
    l: &MaskedLinear<B>,
    x: &Tensor<B, 2>,
    r: &Tensor<B, 2>,
) -> [Vec<f32>; 4] {
    let x = x.clone().require_grad();
    let y = l.forward(x.clone());
    let grads = (y.clone() * r.clone()).sum().backward();
    let bias = l.bias.as_ref().expect("layer has a bias");
    [
        host(y),
        host(x.grad(&grads).expect("input gradient")),
        host(l.weight.grad(&grads).expect("weight gradient")),
        host(bias.grad(&grads).expect("bias gradient")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sparse_path_equals_masked_dense(
        d_in in 1usize..40, d_out in 1usize..40, batch in 1usize..20, density in 0.0f64..1.0, seed in any::<u64>()
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let dense = layer::<Fx>(d_in, d_out, density, &mut rng);
        let sparse = with(&dense, Execution::Sparse);
        let (x, r) = (matrix::<Fx>(batch, d_in, &mut rng), matrix::<Fx>(batch, d_out, &mut rng));
        let want = value_and_grads(&dense, &x, &r);
        let got = value_and_grads(&sparse, &x, &r);
        for (k, what) in ["y", "dx", "dW", "db"].iter().enumerate() {
            assert_close(what, &got[k], &want[k]);
        }
        let mask = host(dense.mask.val());
        for (k, (g, m)) in got[2].iter().zip(&mask).enumerate() {
            prop_assert!(*m != 0.0 || *g == 0.0, "dW[{}] = {} at an inactive connection", k, g);
        }
        // The inference backend (target networks, acting) takes the sparse forward too.
        let y = host(sparse.valid().forward(x.clone().inner()));
        assert_close("inner y", &y, &want[0]);
    }
}

/// Output, input gradient and every layer's weight and bias gradients of an MLP `x → relu → relu → y`
/// whose hidden layers use `forward_hidden` (on the sparse path: bias and ReLU fused, activations handed
/// on feature-major), for `loss = Σ y ⊙ r`.
fn chain_value_and_grads<B: AutodiffBackend>(
    layers: &[MaskedLinear<B>],
    x: &Tensor<B, 2>,
    r: &Tensor<B, 2>,
) -> Vec<(String, Vec<f32>)> {
    let x = x.clone().require_grad();
    let (last, hidden) = layers.split_last().expect("layers");
    let h = hidden.iter().fold(x.clone(), |h, l| l.forward_hidden(h));
    let y = last.forward(h);
    let grads = (y.clone() * r.clone()).sum().backward();
    let mut out = vec![
        ("y".to_string(), host(y)),
        ("dx".to_string(), host(x.grad(&grads).expect("input gradient"))),
    ];
    for (i, l) in layers.iter().enumerate() {
        let bias = l.bias.as_ref().expect("layer has a bias");
        out.push((
            format!("dW{i}"),
            host(l.weight.grad(&grads).expect("weight gradient")),
        ));
        out.push((format!("db{i}"), host(bias.grad(&grads).expect("bias gradient"))));
    }
    out
}

/// A three-layer chain of `widths` at per-layer `densities` run with `execution` against the same chain
/// masked-dense: values and gradients on the autodiff backend, and the forward on the inference backend.
fn assert_chain_equals_masked_dense(
    widths: &[usize],
    batch: usize,
    densities: &[f64],
    execution: Execution,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let dense: Vec<MaskedLinear<Fx>> = widths
        .windows(2)
        .zip(densities)
        .map(|(w, &d)| layer::<Fx>(w[0], w[1], d, &mut rng))
        .collect();
    let tested: Vec<_> = dense.iter().map(|l| with(l, execution)).collect();
    let x = matrix::<Fx>(batch, widths[0], &mut rng);
    let r = matrix::<Fx>(batch, widths[3], &mut rng);
    let want = chain_value_and_grads(&dense, &x, &r);
    let got = chain_value_and_grads(&tested, &x, &r);
    for ((what, g), (_, w)) in got.iter().zip(&want) {
        assert_close(what, g, w);
    }
    let inner: Vec<_> = tested.iter().map(|l| l.valid()).collect();
    let h = inner[..2]
        .iter()
        .fold(x.clone().inner(), |h, l| l.forward_hidden(h));
    assert_close("inner y", &host(inner[2].forward(h)), &want[0].1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Batches across several tiles and partial ones, so the feature-major padding is exercised.
    #[test]
    fn a_chain_of_hidden_layers_equals_masked_dense(
        widths in proptest::collection::vec(1usize..40, 4), batch in 1usize..80, density in 0.0f64..1.0,
        seed in any::<u64>()
    ) {
        assert_chain_equals_masked_dense(&widths, batch, &[density; 3], Execution::Sparse, seed);
    }

    /// `auto` (the policies' default) decides per layer, so a chain mixes sparse layers that hand their
    /// output on feature-major with masked-dense ones (ERK gives input and output layers the higher
    /// densities): every mix must equal the masked-dense chain.
    #[test]
    fn a_chain_that_auto_runs_partly_sparse_equals_masked_dense(
        widths in proptest::collection::vec(1usize..40, 4), batch in 1usize..80,
        densities in proptest::collection::vec(0.0f64..1.0, 3), seed in any::<u64>()
    ) {
        assert_chain_equals_masked_dense(&widths, batch, &densities, Execution::Auto, seed);
    }
}

#[test]
fn a_batched_input_keeps_its_leading_dimensions() {
    let mut rng = StdRng::seed_from_u64(3);
    let dense = layer::<Flex>(6, 5, 0.4, &mut rng);
    let x = matrix::<Flex>(12, 6, &mut rng).reshape([3, 4, 6]);
    let got = with(&dense, Execution::Sparse).forward(x.clone());
    assert_eq!(got.dims(), [3, 4, 5]);
    assert_close("y", &host(got), &host(dense.forward(x)));
}

#[test]
fn the_layout_is_rebuilt_only_when_the_mask_changes() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut l = with(&layer::<Fx>(16, 8, 0.3, &mut rng), Execution::Sparse);
    let x = matrix::<Fx>(4, 16, &mut rng);
    for _ in 0..3 {
        let _ = l.forward(x.clone());
    }
    assert_eq!(l.layout.rebuilds(), 1, "three forwards with one mask");

    // New weights (an optimizer step) and a copy of the same mask (a target network's soft update).
    let mask = host(l.mask.val());
    l.weight = l.weight.clone().map(|w| w * 2.0);
    set_mask(&mut l, &mask);
    let _ = l.forward(x.clone());
    assert_eq!(l.layout.rebuilds(), 1, "same mask values, new storage");

    // A topology update: the next forward uses the new mask.
    let changed = random_mask(mask.len(), 0.5, &mut rng);
    set_mask(&mut l, &changed);
    let got = host(l.forward(x.clone()));
    assert_eq!(l.layout.rebuilds(), 2, "a changed mask is rebuilt once");
    assert_close(
        "y after the update",
        &got,
        &host(with(&l, Execution::MaskedDense).forward(x)),
    );
}

#[test]
fn auto_runs_sparse_only_below_the_crossover_of_the_calls_rows() {
    use sparse_rl_dst::execution::{
        AUTO_FULL_ROWS, AUTO_MAX_DENSITY, AUTO_MIN_ROWS, AUTO_SMALL_BATCH_DENSITY,
    };
    let auto = Execution::Auto;
    assert!(auto.runs_sparse(AUTO_MAX_DENSITY, AUTO_FULL_ROWS));
    assert!(!auto.runs_sparse(AUTO_MAX_DENSITY + 0.01, AUTO_FULL_ROWS));
    assert!(!auto.runs_sparse(AUTO_MAX_DENSITY, AUTO_FULL_ROWS - 1));
    assert!(auto.runs_sparse(AUTO_SMALL_BATCH_DENSITY, AUTO_MIN_ROWS));
    assert!(!auto.runs_sparse(AUTO_SMALL_BATCH_DENSITY + 0.01, AUTO_MIN_ROWS));
    assert!(!auto.runs_sparse(0.01, AUTO_MIN_ROWS - 1));
    assert!(
        !auto.runs_sparse(0.01, 1),
        "acting at batch 1 keeps the dense product"
    );
    assert!(!Execution::MaskedDense.runs_sparse(0.0, 1 << 20));
    assert!(Execution::Sparse.runs_sparse(1.0, 1));
}

#[test]
fn other_backends_keep_the_masked_dense_product() {
    let mut rng = StdRng::seed_from_u64(5);
    let dense = layer::<NdArray>(7, 3, 0.5, &mut rng);
    let x = matrix::<NdArray>(4, 7, &mut rng);
    let sparse = with(&dense, Execution::Sparse);
    assert_eq!(host(sparse.forward(x.clone())), host(dense.forward(x)));
    assert_eq!(sparse.layout.rebuilds(), 0, "no layout on ndarray");
}

#[test]
fn the_policy_reads_execution_and_defaults_to_auto() {
    let p: SparsityPolicy = toml::from_str("execution = \"sparse\"").unwrap();
    assert_eq!(p.execution, Execution::Sparse);
    let p: SparsityPolicy = toml::from_str("execution = \"masked-dense\"").unwrap();
    assert_eq!(p.execution, Execution::MaskedDense);
    assert_eq!(SparsityPolicy::default().execution, Execution::Auto);
    let p: SparsityPolicy = toml::from_str("density = 0.2").unwrap();
    assert_eq!(p.execution, Execution::Auto);
    assert!(toml::from_str::<SparsityPolicy>("execution = \"csr\"").is_err());
}
