//! Saving and loading what a checkpoint holds: burn modules and optimizer state (burn's named MessagePack
//! recorder, full precision), JSON for small serde state, and the replay buffer's binary form.
//!
//! A module is saved only when every parameter is finite, so a diverged update never replaces the last
//! good checkpoint; a loaded module must have the shapes the run's config builds, so a checkpoint of
//! another architecture is an error here rather than a matmul panic at the first forward.

use std::fs::File;
use std::io::{BufReader, BufWriter, Error, ErrorKind, Result};
use std::path::Path;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::replay::ReplayBuffer;

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

fn io_err(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidData, e.to_string())
}

/// Saves `module` to `path` (burn adds `.mpk`) after checking that all its parameters are finite.
pub fn save_module<B: Backend, M: Module<B>>(module: &M, path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let params = parameters(module);
    if let Some(p) = params.iter().find(|p| !p.finite) {
        return Err(io_err(format!(
            "parameter `{}` of the {name} network is not finite (the training diverged)",
            p.path
        )));
    }
    module
        .clone()
        .save_file(path.to_path_buf(), &recorder())
        .map_err(io_err)
}

/// Loads `module`'s parameters from `path`; each must have the shape `module` was built with.
pub fn load_module<B: Backend, M: Module<B>>(module: M, path: &Path, device: &B::Device) -> Result<M> {
    let built = parameters(&module);
    let loaded = decode(path, || module.load_file(path.to_path_buf(), &recorder(), device))?;
    let got = parameters(&loaded);
    for (want, have) in built.iter().zip(&got) {
        if want.shape != have.shape {
            return Err(io_err(format!(
                "{}: parameter `{}` has shape {:?}, the run's config builds {:?}",
                path.display(),
                want.path,
                have.shape,
                want.shape
            )));
        }
    }
    if built.len() != got.len() {
        return Err(io_err(format!(
            "{}: {} parameters, the run's config builds {}",
            path.display(),
            got.len(),
            built.len()
        )));
    }
    Ok(loaded)
}

/// A float parameter's place in the module, shape and whether all its values are finite.
struct ParamInfo {
    path: String,
    shape: Vec<usize>,
    finite: bool,
}

fn parameters<B: Backend, M: Module<B>>(module: &M) -> Vec<ParamInfo> {
    struct Visit {
        path: Vec<String>,
        out: Vec<ParamInfo>,
    }
    impl<B: Backend> ModuleVisitor<B> for Visit {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let value = param.val();
            let shape = value.dims().to_vec();
            let finite = crate::tensors::to_vec(value).iter().all(|v| v.is_finite());
            self.out.push(ParamInfo {
                path: self.path.join("."),
                shape,
                finite,
            });
        }
    }
    let mut visit = Visit {
        path: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut visit);
    visit.out
}

pub fn save_optim<B: AutodiffBackend, M: AutodiffModule<B>, O: Optimizer<M, B>>(
    optim: &O,
    path: &Path,
) -> Result<()> {
    Recorder::<B>::record(&recorder(), optim.to_record(), path.to_path_buf()).map_err(io_err)
}

/// Loads optimizer state saved by [`save_optim`] into `optim` (burn's `load_record` consumes it).
pub fn load_optim<B: AutodiffBackend, M: AutodiffModule<B>, O: Optimizer<M, B>>(
    optim: O,
    path: &Path,
    device: &B::Device,
) -> Result<O> {
    let record = decode(path, || {
        Recorder::<B>::load(&recorder(), path.to_path_buf(), device)
    })?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| optim.load_record(record)))
        .map_err(|_| io_err(format!("{}: optimizer state of another layout", path.display())))
}

/// Runs burn's decoder of the record at `path`. Some damage that a checkpoint's checksums cannot see
/// (a file rewritten whole) makes burn panic rather than fail ("Invalid id."); that becomes an error
/// naming the file here, so a bad checkpoint never aborts the process.
fn decode<T, E: std::fmt::Display>(
    path: &Path,
    load: impl FnOnce() -> std::result::Result<T, E>,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
        Ok(loaded) => loaded.map_err(|e| io_err(format!("{}: {e}", path.display()))),
        Err(_) => Err(io_err(format!("{}: not a readable burn record", path.display()))),
    }
}

pub fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    serde_json::to_writer(BufWriter::new(File::create(path)?), value).map_err(io_err)
}

pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    serde_json::from_reader(BufReader::new(File::open(path)?)).map_err(io_err)
}

pub fn save_replay(replay: &ReplayBuffer, path: &Path) -> Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    replay.write_to(&mut w)?;
    std::io::Write::flush(&mut w)
}

/// Loads a replay buffer saved by [`save_replay`], which must have the layout of `like`.
pub fn load_replay(path: &Path, like: &ReplayBuffer) -> Result<ReplayBuffer> {
    ReplayBuffer::read_from(&mut BufReader::new(File::open(path)?), like)
        .map_err(|e| Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::{Linear, LinearConfig};

    type B = NdArray;

    #[test]
    fn a_non_finite_parameter_is_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        let device = Default::default();
        let mut layer: Linear<B> = LinearConfig::new(2, 3).init(&device);
        save_module(&layer, &dir.path().join("good")).unwrap();
        layer.weight = Param::from_tensor(layer.weight.val().mul_scalar(f32::INFINITY));
        let err = save_module(&layer, &dir.path().join("bad")).unwrap_err();
        assert!(
            err.to_string().contains("`weight`") && err.to_string().contains("not finite"),
            "{err}"
        );
        assert!(!dir.path().join("bad.mpk").exists());
    }

    #[test]
    fn a_module_of_other_shapes_is_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let device = Default::default();
        let saved: Linear<B> = LinearConfig::new(2, 3).init(&device);
        save_module(&saved, &dir.path().join("m")).unwrap();
        let other: Linear<B> = LinearConfig::new(4, 3).init(&device);
        assert!(load_module(other, &dir.path().join("m"), &device).is_err());
        let same: Linear<B> = LinearConfig::new(2, 3).init(&device);
        let loaded = load_module(same, &dir.path().join("m"), &device).unwrap();
        assert_eq!(
            crate::tensors::to_vec(loaded.weight.val()),
            crate::tensors::to_vec(saved.weight.val())
        );
    }
}
