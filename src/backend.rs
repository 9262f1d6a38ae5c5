//! Picks the burn backend at run time (`run.backend`): the algorithms' entries ([`crate::algorithms`])
//! build their networks on it.

/// Evaluates `$body` with the type `$B` bound to the autodiff backend that `$name` (a [`BackendName`])
/// names and `$device` to that backend's default device: one match for every caller. A macro, because
/// Rust has no closures generic over a type.
macro_rules! on_backend {
    ($name:expr, |$B:ident, $device:ident| $body:expr) => {
        match $name {
            $crate::config::BackendName::Flex => {
                type $B = burn::backend::Autodiff<burn::backend::Flex>;
                let $device = Default::default();
                $body
            }
            $crate::config::BackendName::Ndarray => {
                type $B = burn::backend::Autodiff<burn::backend::NdArray>;
                let $device = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::config::BackendName::Cuda => {
                type $B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $device = Default::default();
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::config::BackendName::Cuda => Err(anyhow::anyhow!(
                "run.backend = \"cuda\" needs the `cuda` cargo feature (rejected by validation)"
            )),
        }
    };
}
pub(crate) use on_backend;
