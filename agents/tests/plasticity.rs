//! The dormant-neuron fraction where it is used: an MLP module scores its hidden neurons on a batch as
//! ReDo defines them, the masks counted (a masked-out connection does not feed a neuron).

use burn::backend::NdArray;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use sparse_rl_agents::networks::mlp::LinearLayer;
use sparse_rl_agents::networks::MlpConfig;
use sparse_rl_agents::plasticity::{DormantCount, DORMANT_TAU};

type B = NdArray;

fn matrix(rows: usize, cols: usize, values: &[f32]) -> Tensor<B, 2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [rows, cols]),
        &Default::default(),
    )
}

#[test]
fn an_mlp_counts_the_dormant_neurons_of_its_hidden_layer() {
    let mut mlp = MlpConfig {
        d_in: 2,
        hidden: vec![3],
        d_out: 1,
        activate_last: false,
    }
    .init::<B>(&Default::default());
    let LinearLayer::Masked(first) = &mut mlp.layers[0] else {
        panic!("masked layers")
    };
    // Hidden neuron 0 reads input 0, neuron 1 input 1, neuron 2 both, with a bias of -10 that keeps it off.
    first.weight = Param::from_tensor(matrix(2, 3, &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]));
    first.bias = Some(Param::from_tensor(Tensor::from_data(
        [0.0f32, 0.0, -10.0],
        &Default::default(),
    )));
    let x = matrix(2, 2, &[1.0, 2.0, 3.0, 0.0]);
    // Post-ReLU activations [1, 2, 0] and [3, 0, 0]: mean |h| = (2, 1, 0), layer mean 1, scores (2, 1, 0).
    assert_eq!(
        mlp.dormant(x.clone(), DORMANT_TAU),
        DormantCount {
            dormant: 1,
            neurons: 3
        }
    );
    assert_eq!(mlp.dormant(x.clone(), 1.0).dormant, 2);

    // Masking out input 1 → neuron 1 leaves neuron 1 silent too: scores (3, 0, 0) relative to mean 2/3.
    let LinearLayer::Masked(first) = &mut mlp.layers[0] else {
        unreachable!()
    };
    first.mask = Param::from_tensor(matrix(2, 3, &[1.0, 1.0, 1.0, 1.0, 0.0, 1.0]));
    assert_eq!(
        mlp.dormant(x, DORMANT_TAU),
        DormantCount {
            dormant: 2,
            neurons: 3
        }
    );
}
