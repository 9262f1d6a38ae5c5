//! `seed_backend` gives each of several concurrent constructions its seed's whole stream. This test has its
//! own binary: every draw in it takes the lock, so a failure means the lock failed, not that some other test
//! drew from burn's generator unlocked.

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use sparse_rl_agents::seeding::seed_backend;

fn draws(seed: u64) -> Vec<f32> {
    let device = Default::default();
    let _seeded = seed_backend::<NdArray>(&device, seed);
    (0..20)
        .flat_map(|_| {
            Tensor::<NdArray, 1>::random([8], Distribution::Default, &device)
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        })
        .collect()
}

#[test]
fn concurrent_constructions_each_get_their_seeds_whole_stream() {
    let reference: Vec<Vec<f32>> = (0..4).map(draws).collect();
    assert_ne!(
        reference[0], reference[1],
        "different seeds draw different weights"
    );
    for _ in 0..25 {
        let threads: Vec<_> = (0..4u64)
            .map(|seed| std::thread::spawn(move || (seed, draws(seed))))
            .collect();
        for thread in threads {
            let (seed, values) = thread.join().unwrap();
            assert_eq!(values, reference[seed as usize], "seed {seed}");
        }
    }
}
