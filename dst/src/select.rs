//! Choosing k entries by score: hard top-k with a random tie-break, and weighted sampling without
//! replacement (the CHTs soft rule). Shared by pruning and growth.

use rand::Rng;

/// The `k` candidates with the LOWEST scores; ties are broken uniformly at random (so equal scores,
/// e.g. all zero, give a uniform sample).
pub fn lowest_k<R: Rng + ?Sized>(candidates: &[usize], scores: &[f32], k: usize, rng: &mut R) -> Vec<usize> {
    ranked(candidates, k, rng, |i| scores[i])
}

/// The `k` candidates with the HIGHEST scores, random tie-break.
pub fn highest_k<R: Rng + ?Sized>(candidates: &[usize], scores: &[f32], k: usize, rng: &mut R) -> Vec<usize> {
    ranked(candidates, k, rng, |i| -scores[i])
}

fn ranked<R: Rng + ?Sized>(
    candidates: &[usize],
    k: usize,
    rng: &mut R,
    key: impl Fn(usize) -> f32,
) -> Vec<usize> {
    let k = k.min(candidates.len());
    if k == 0 {
        return Vec::new();
    }
    let mut keyed: Vec<(f32, u32, usize)> = candidates.iter().map(|&i| (key(i), rng.random(), i)).collect();
    let cmp = |a: &(f32, u32, usize), b: &(f32, u32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if k < keyed.len() {
        keyed.select_nth_unstable_by(k - 1, cmp);
        keyed.truncate(k);
    }
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

/// Samples `k` distinct candidates with probability proportional to `weight` (Efraimidis & Spirakis
/// 2006: the k largest keys ln(u)/w). Candidates of zero or negative weight are never drawn, so fewer
/// than `k` may come back.
pub fn sample_weighted<R: Rng + ?Sized>(
    candidates: &[usize],
    weight: impl Fn(usize) -> f64,
    k: usize,
    rng: &mut R,
) -> Vec<usize> {
    let mut keyed: Vec<(f64, usize)> = candidates
        .iter()
        .filter_map(|&i| {
            let w = weight(i);
            (w > 0.0 && w.is_finite()).then(|| {
                let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                (u.ln() / w, i)
            })
        })
        .collect();
    let k = k.min(keyed.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0);
    if k < keyed.len() {
        keyed.select_nth_unstable_by(k - 1, cmp);
        keyed.truncate(k);
    }
    keyed.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn lowest_and_highest_pick_the_extremes() {
        let scores = [5.0, 1.0, 3.0, 0.5, 4.0];
        let cands = [0, 1, 2, 3, 4];
        let mut rng = StdRng::seed_from_u64(0);
        let mut low = lowest_k(&cands, &scores, 2, &mut rng);
        low.sort();
        assert_eq!(low, vec![1, 3]);
        let mut high = highest_k(&cands, &scores, 2, &mut rng);
        high.sort();
        assert_eq!(high, vec![0, 4]);
    }

    #[test]
    fn ties_are_broken_at_random() {
        let scores = [0.0; 10];
        let cands: Vec<usize> = (0..10).collect();
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = [0usize; 10];
        for _ in 0..500 {
            for i in highest_k(&cands, &scores, 1, &mut rng) {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c > 20), "tie-break not uniform: {seen:?}");
    }

    #[test]
    fn weighted_sampling_skips_zero_weights_and_favours_heavy_ones() {
        let w = [0.0, 1.0, 9.0];
        let mut rng = StdRng::seed_from_u64(2);
        let mut heavy_first = 0;
        for _ in 0..1000 {
            let s = sample_weighted(&[0, 1, 2], |i| w[i], 1, &mut rng);
            assert_ne!(s, vec![0]);
            heavy_first += usize::from(s == vec![2]);
        }
        assert!(
            (850..950).contains(&heavy_first),
            "p(heavy) off: {heavy_first}/1000"
        );
        assert_eq!(sample_weighted(&[0, 1, 2], |i| w[i], 3, &mut rng).len(), 2);
    }
}
