//! Seeding burn's random number generator for an agent's weight initialisation.
//!
//! burn draws initial weights (`Initializer`, `Tensor::random`) from one generator per backend and process,
//! set by `Backend::seed`. Two agents built at the same time on different threads (the test harness runs
//! tests in parallel, a study could build several agents) would interleave their draws, and the same seed
//! would no longer give the same network. [`seed_backend`] seeds the generator and holds a process-wide
//! lock until the agent is built, so each construction draws its whole stream alone. Training itself draws
//! from the agents' own `rand` generators, never from burn's.

use std::sync::{Mutex, MutexGuard};

use burn::tensor::backend::Backend;

static BACKEND_RNG: Mutex<()> = Mutex::new(());

/// Seeds `B`'s generator with `seed` and keeps it to the caller until the returned guard is dropped: bind it
/// (`let _seeded = ...`) for the whole of an agent's construction.
pub fn seed_backend<B: Backend>(device: &B::Device, seed: u64) -> MutexGuard<'static, ()> {
    // A panic while another agent was built leaves nothing half-done that matters here: the next holder
    // reseeds the generator.
    let guard = BACKEND_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    B::seed(device, seed);
    guard
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::{Distribution, Tensor};

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
}
