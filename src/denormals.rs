//! Flush-to-zero for subnormal floats on this process's compute threads.
//!
//! Adam keeps per-weight second moments that decay by β₂ = 0.999 every step; for weights whose gradient
//! stays zero (dead ReLUs, masked-out connections) they sink into the subnormal range and stay there for
//! tens of thousands of steps. x86 cores take a microcode assist on every subnormal operand (~100× a
//! normal multiply), so a DQN CartPole profile spent a quarter of its time in Adam's `mul_scalar`.
//! PyTorch users get the same effect from `torch.set_flush_denormal(True)`. Flushing changes results only
//! below 1.2e-38, far under anything that moves a weight, and stays deterministic.

/// Sets FTZ and DAZ on the calling thread and on the rayon pool threads that burn's CPU backends use.
/// Call once, first thing in `main`, before any tensor work starts the pool.
pub fn flush_denormals() {
    set_on_this_thread();
    // Fails only when the global pool already exists (a second call): its threads then keep their flags.
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| set_on_this_thread())
        .build_global();
}

#[cfg(target_arch = "x86_64")]
#[allow(deprecated)] // `_mm_setcsr` is deprecated in favour of inline asm; it is still the plain way to set MXCSR.
fn set_on_this_thread() {
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
    const FLUSH_TO_ZERO: u32 = 1 << 15;
    const DENORMALS_ARE_ZERO: u32 = 1 << 6;
    // SAFETY: MXCSR only controls SSE rounding/exception behaviour of this thread; the two bits set here
    // make subnormal inputs and results read as zero and mask nothing else.
    unsafe { _mm_setcsr(_mm_getcsr() | FLUSH_TO_ZERO | DENORMALS_ARE_ZERO) }
}

#[cfg(target_arch = "aarch64")]
fn set_on_this_thread() {
    // FPCR.FZ (bit 24) flushes subnormal inputs and outputs to zero on AArch64.
    // SAFETY: FPCR only controls floating-point behaviour of this thread.
    unsafe {
        let fpcr: u64;
        std::arch::asm!("mrs {}, fpcr", out(reg) fpcr);
        std::arch::asm!("msr fpcr, {}", in(reg) fpcr | (1 << 24));
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn set_on_this_thread() {}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;

    #[test]
    fn subnormal_products_become_zero_after_the_call() {
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(1e-30_f32);
            assert!(
                (tiny * 1e-10).is_subnormal(),
                "precondition: the product is subnormal by default"
            );
            set_on_this_thread();
            assert_eq!(std::hint::black_box(tiny) * 1e-10, 0.0);
        })
        .join()
        .unwrap();
    }
}
