//! The Soft Mellowmax operator (Gan, Zhang and Tan, "Stabilizing Q Learning Via Soft Mellowmax Operator",
//! AAAI 2021), which MAST (Hu et al., NeurIPS 2024, arXiv 2409.19391) puts in place of the max over next
//! actions in the QMIX target to curb the overestimation that sparse networks amplify:
//!
//! sm_ω(Q) = (1/ω) log Σ_a softmax_α(Q)_a · exp(ω Q_a),  softmax_α(Q)_a = exp(α Q_a) / Σ_b exp(α Q_b).
//!
//! Written with log-sum-exp so that large Q or ω never overflow:
//! sm_ω(Q) = (1/ω) [LSE_a((α + ω) Q_a) − LSE_b(α Q_b)]. With α = 0 it is the mellowmax
//! (1/ω) log((1/n) Σ_a exp(ω Q_a)); as ω → ∞ it tends to max_a Q_a. Only available actions take part.

/// sm_ω over the available entries of `q` (`avail[a]` false leaves action `a` out).
///
/// Panics when no action is available: every agent always has NONE in our gridworlds.
pub fn soft_mellowmax(q: &[f32], avail: &[bool], omega: f64, alpha: f64) -> f64 {
    let values: Vec<f64> = q
        .iter()
        .zip(avail)
        .filter(|(_, &ok)| ok)
        .map(|(&v, _)| f64::from(v))
        .collect();
    assert!(!values.is_empty(), "soft mellowmax over no available action");
    (log_sum_exp(values.iter().map(|v| (alpha + omega) * v)) - log_sum_exp(values.iter().map(|v| alpha * v)))
        / omega
}

/// log Σ exp(x), shifted by the maximum so that no term overflows.
fn log_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    max + xs.map(|x| (x - max).exp()).sum::<f64>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [bool; 4] = [true; 4];

    #[test]
    fn matches_a_hand_computed_value() {
        // ω = α = 1, Q = (1, 2): log((e·e + e²·e²) / (e + e²)) = 1 + ln(1 + e²) − ln(1 + e) = 1.813666.
        let v = soft_mellowmax(&[1.0, 2.0], &ALL[..2], 1.0, 1.0);
        assert!((v - 1.813_666).abs() < 1e-5, "{v}");
    }

    #[test]
    fn alpha_zero_is_mellowmax() {
        let q = [0.3f32, -1.2, 0.9, 0.1];
        let omega = 5.0;
        let mellowmax = (q.iter().map(|&x| (omega * f64::from(x)).exp()).sum::<f64>() / 4.0).ln() / omega;
        assert!((soft_mellowmax(&q, &ALL, omega, 0.0) - mellowmax).abs() < 1e-9);
    }

    #[test]
    fn large_omega_tends_to_the_max_of_available_actions() {
        let q = [0.3f32, -1.2, 0.9, 5.0];
        let avail = [true, true, true, false];
        let gaps: Vec<f64> = [1.0, 10.0, 100.0, 10_000.0]
            .iter()
            .map(|&w| (soft_mellowmax(&q, &avail, w, 1.0) - 0.9).abs())
            .collect();
        assert!(gaps.windows(2).all(|g| g[1] < g[0]), "{gaps:?}");
        assert!(gaps[3] < 1e-3, "{gaps:?}");
    }

    #[test]
    fn is_shift_equivariant_and_stable_for_large_values() {
        let q = [1.0f32, 2.0, 0.5];
        let shifted = q.map(|x| x + 1000.0);
        let (a, b) = (
            soft_mellowmax(&q, &ALL[..3], 10.0, 2.0),
            soft_mellowmax(&shifted, &ALL[..3], 10.0, 2.0),
        );
        assert!(b.is_finite() && (b - a - 1000.0).abs() < 1e-9, "{a} {b}");
    }
}
