//! Seeding burn's random number generator for an agent's weight initialisation.
//!
//! burn draws initial weights (`Initializer`, `Tensor::random`) from one generator per backend and process,
//! set by `Backend::seed`. Two agents built at the same time on different threads (the test harness runs
//! tests in parallel, a study could build several agents) would interleave their draws, and the same seed
//! would no longer give the same network. [`seed_backend`] seeds the generator and holds a process-wide
//! lock until the agent is built, so each construction draws its whole stream alone. Training itself draws
//! from the agents' own `rand` generators, never from burn's.
//!
//! The lock only orders draws that take it: any other draw from burn's generator in the same process (a unit
//! test building a layer, say) must bind the guard too, or it can land in the middle of an agent's stream.
//! The concurrency test lives in `tests/seeding.rs`, its own binary, so that it checks the lock alone.

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
