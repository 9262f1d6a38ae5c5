//! FLOP accounting against hand computations (RigL appendix H rules).

use sparse_rl_dst::flops::{flop_report, LayerSpec, TrainingMethod};

fn approx(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} vs {b}");
}

#[test]
fn forward_flops_count_two_per_connection_plus_bias() {
    // 4 → 3 at density 0.5: 6 active connections → 12 FLOPs, + 3 bias adds.
    let layer = LayerSpec::linear(4, 3, 0.5);
    approx(layer.forward_flops(), 15.0);
    approx(layer.dense_forward_flops(), 27.0);
    approx(layer.without_bias().forward_flops(), 12.0);
    // Conv 3 → 8, 3 × 3 kernel, 10 × 10 output, dense: 100 · (2 · 27 · 8 + 8) = 44,000.
    approx(
        LayerSpec::conv2d(3, 8, [3, 3], [10, 10], 1.0).forward_flops(),
        44_000.0,
    );
}

#[test]
fn dense_static_and_snfs_steps() {
    let layers = [LayerSpec::linear(4, 3, 0.5)]; // f_S = 15, f_D = 27
    let dense = flop_report(&layers, TrainingMethod::Dense).unwrap();
    approx(dense.train, 81.0);
    approx(dense.inference, 27.0);
    approx(dense.train_relative_to_dense(), 1.0);

    let fixed = flop_report(&layers, TrainingMethod::Static).unwrap();
    approx(fixed.train, 45.0);
    approx(fixed.train_dense, 81.0);
    approx(fixed.train_relative_to_dense(), 45.0 / 81.0);
    approx(fixed.inference_relative_to_dense(), 15.0 / 27.0);

    approx(
        flop_report(&layers, TrainingMethod::Snfs).unwrap().train,
        2.0 * 15.0 + 27.0,
    );
}

#[test]
fn rigl_amortises_the_dense_gradient_over_the_update_interval() {
    let layers = [LayerSpec::linear(4, 3, 0.5)];
    // (3 · 15 · 99 + 2 · 15 + 27) / 100 = 45.12.
    let always = TrainingMethod::Rigl {
        update_interval: 100,
        update_fraction: 1.0,
    };
    approx(flop_report(&layers, always).unwrap().train, 45.12);
    // Updates during the first 75% only: 0.75 · 45.12 + 0.25 · 45 = 45.09.
    let window = TrainingMethod::Rigl {
        update_interval: 100,
        update_fraction: 0.75,
    };
    approx(flop_report(&layers, window).unwrap().train, 45.09);
    // ΔT = 1: every step is an update step, 2 f_S + f_D.
    let every = TrainingMethod::Rigl {
        update_interval: 1,
        update_fraction: 1.0,
    };
    approx(flop_report(&layers, every).unwrap().train, 57.0);
}

#[test]
fn dynadiag_soft_phase_costs_dense() {
    let layers = [LayerSpec::linear(4, 3, 0.5)];
    // 0.3 · 81 + 0.7 · 45 = 55.8.
    let report = flop_report(&layers, TrainingMethod::DynaDiag { soft_fraction: 0.3 }).unwrap();
    approx(report.train, 55.8);
    approx(report.inference, 15.0);
}

#[test]
fn modules_add_up() {
    // Encoder dense (4 → 8: 2 · 32 + 8 = 72), critic at 10% (8 → 2: 2 · 1.6 + 2 = 5.2; dense 34).
    let encoder = flop_report(&[LayerSpec::linear(4, 8, 1.0)], TrainingMethod::Dense).unwrap();
    let critic = flop_report(&[LayerSpec::linear(8, 2, 0.1)], TrainingMethod::Static).unwrap();
    let model = encoder + critic;
    approx(model.inference, 77.2);
    approx(model.inference_dense, 106.0);
    approx(model.train, 3.0 * 77.2);
    approx(model.train_relative_to_dense(), 77.2 / 106.0);
}

#[test]
fn bad_input_is_reported() {
    let err = flop_report(&[LayerSpec::linear(4, 3, 1.5)], TrainingMethod::Static)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 0 density") && err.contains("1.5"), "{err}");
    let rigl = TrainingMethod::Rigl {
        update_interval: 0,
        update_fraction: 1.0,
    };
    assert!(flop_report(&[LayerSpec::linear(4, 3, 0.5)], rigl)
        .unwrap_err()
        .to_string()
        .contains("update_interval"));
    assert!(flop_report(&[], TrainingMethod::Dense)
        .unwrap_err()
        .to_string()
        .contains("no layers"));
    assert!(
        flop_report(&[LayerSpec::linear(0, 3, 0.5)], TrainingMethod::Dense)
            .unwrap_err()
            .to_string()
            .contains("fan_in")
    );
}
