//! The masked Conv2d and GRU cell against host implementations of their equations, with masked
//! gradients and the host view's shape.

use burn::backend::{Autodiff, Flex, NdArray};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sparse_rl_dst::evolve::{init_sparse, NamedLayer};
use sparse_rl_dst::layers::{MaskedConv2dConfig, MaskedGruCellConfig};
use sparse_rl_dst::policy::{Distribution as Dist, SparsityPolicy};
use sparse_rl_dst::topology::tensor_to_vec;
use sparse_rl_dst::{SparseGrad, SparseLayer, SparsityController};

fn sparsify<B: AutodiffBackend>(layers: &mut [NamedLayer<'_, B>], density: f64, seed: u64) {
    let policy = SparsityPolicy {
        density,
        distribution: Dist::Uniform,
        ..Default::default()
    };
    let shapes: Vec<_> = layers.iter().map(|(_, l)| l.shape()).collect();
    let mut ctl = SparsityController::new(&policy, &shapes, 100).unwrap();
    init_sparse(&mut ctl, layers, &mut StdRng::seed_from_u64(seed)).unwrap();
}

fn conv_matches_host<B: AutodiffBackend>() {
    let device = Default::default();
    let (c_in, c_out, k, hw) = (2, 3, 3, 5);
    let mut conv = MaskedConv2dConfig::new([c_in, c_out], [k, k])
        .with_padding([1, 1])
        .init::<B>(&device);
    sparsify::<B>(&mut [("conv".into(), &mut conv)], 0.4, 1);
    let t = conv.topology("conv", None);
    assert_eq!(
        (t.rows(), t.cols(), t.shape.kernel),
        (c_out, c_in * k * k, Some([k, k]))
    );

    let x = Tensor::<B, 4>::random([2, c_in, hw, hw], Distribution::Normal(0.0, 1.0), &device);
    let y = tensor_to_vec(conv.forward(x.clone()));
    let xs = tensor_to_vec(x.clone());
    let b = tensor_to_vec(conv.bias.as_ref().unwrap().val());
    let at = |n: usize, c: usize, i: isize, j: isize| {
        let inside = (0..hw as isize).contains(&i) && (0..hw as isize).contains(&j);
        if inside {
            xs[((n * c_in + c) * hw + i as usize) * hw + j as usize]
        } else {
            0.0
        }
    };
    for n in 0..2 {
        for o in 0..c_out {
            for i in 0..hw {
                for j in 0..hw {
                    let mut want = b[o];
                    for c in 0..c_in {
                        for di in 0..k {
                            for dj in 0..k {
                                let w = t.weight[o * c_in * k * k + (c * k + di) * k + dj];
                                want += w * at(n, c, (i + di) as isize - 1, (j + dj) as isize - 1);
                            }
                        }
                    }
                    let got = y[((n * c_out + o) * hw + i) * hw + j];
                    assert!((got - want).abs() < 1e-4, "y[{n},{o},{i},{j}] {got} vs {want}");
                }
            }
        }
    }
    let g = conv.forward(x.clone()).sum().backward();
    let g = conv.host_grad(&GradientsParams::from_grads(g, &conv)).unwrap();
    assert!(
        t.mask.iter().zip(&g).all(|(&m, &g)| m || g == 0.0),
        "inactive kernel entries got gradient"
    );
    let d = conv.forward_dense_grad(x).sum().backward();
    let d = conv.host_grad(&GradientsParams::from_grads(d, &conv)).unwrap();
    assert!(
        t.mask.iter().zip(&d).any(|(&m, &g)| !m && g != 0.0),
        "no dense gradient"
    );
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn gru_matches_pytorch_equations<B: AutodiffBackend>() {
    let device = Default::default();
    let (d_in, h) = (4, 3);
    let mut cell = MaskedGruCellConfig::new(d_in, h).init::<B>(&device);
    let [a, b] = cell.sparse_layers_mut();
    sparsify::<B>(&mut [("ih".into(), a), ("hh".into(), b)], 0.5, 2);
    let x = Tensor::<B, 2>::random([2, d_in], Distribution::Normal(0.0, 1.0), &device);
    let h0 = Tensor::<B, 2>::random([2, h], Distribution::Normal(0.0, 1.0), &device);
    let y = tensor_to_vec(cell.forward(x.clone(), h0.clone()));
    let (wi, wh) = (cell.input.topology("ih", None), cell.hidden.topology("hh", None));
    let (bi, bh) = (
        tensor_to_vec(cell.input.bias.as_ref().unwrap().val()),
        tensor_to_vec(cell.hidden.bias.as_ref().unwrap().val()),
    );
    let (xs, hs) = (tensor_to_vec(x), tensor_to_vec(h0));
    // Gate row g of a [3H × n] host matrix times a vector.
    let dot = |w: &sparse_rl_dst::LayerTopology, row: usize, v: &[f32]| -> f32 {
        (0..w.cols()).map(|j| w.weight[row * w.cols() + j] * v[j]).sum()
    };
    for n in 0..2 {
        let xv = &xs[n * d_in..(n + 1) * d_in];
        let hv = &hs[n * h..(n + 1) * h];
        for k in 0..h {
            let r = sigmoid(dot(&wi, k, xv) + bi[k] + dot(&wh, k, hv) + bh[k]);
            let z = sigmoid(dot(&wi, h + k, xv) + bi[h + k] + dot(&wh, h + k, hv) + bh[h + k]);
            let nn =
                (dot(&wi, 2 * h + k, xv) + bi[2 * h + k] + r * (dot(&wh, 2 * h + k, hv) + bh[2 * h + k]))
                    .tanh();
            let want = (1.0 - z) * nn + z * hv[k];
            let got = y[n * h + k];
            assert!((got - want).abs() < 1e-5, "h'[{n},{k}] {got} vs {want}");
        }
    }
    assert_eq!(
        (wi.rows(), wi.cols(), wh.rows(), wh.cols()),
        (3 * h, d_in, 3 * h, h)
    );
    assert!(wi.active() < wi.mask.len() && wh.active() < wh.mask.len());
}

#[test]
fn ndarray_conv_matches_host() {
    conv_matches_host::<Autodiff<NdArray>>();
}

#[test]
fn flex_conv_matches_host() {
    conv_matches_host::<Autodiff<Flex>>();
}

#[test]
fn ndarray_gru_matches_pytorch_equations() {
    gru_matches_pytorch_equations::<Autodiff<NdArray>>();
}

#[test]
fn flex_gru_matches_pytorch_equations() {
    gru_matches_pytorch_equations::<Autodiff<Flex>>();
}
