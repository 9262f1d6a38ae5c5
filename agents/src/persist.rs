//! Saving and loading what a checkpoint holds: burn modules and optimizer state (burn's named MessagePack
//! recorder, full precision), JSON for small serde state, and the replay buffer's binary form.

use std::fs::File;
use std::io::{BufReader, BufWriter, Error, ErrorKind, Result};
use std::path::Path;

use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::replay::ReplayBuffer;

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

fn io_err(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidData, e.to_string())
}

pub fn save_module<B: Backend, M: Module<B>>(module: &M, path: &Path) -> Result<()> {
    module
        .clone()
        .save_file(path.to_path_buf(), &recorder())
        .map_err(io_err)
}

pub fn load_module<B: Backend, M: Module<B>>(module: M, path: &Path, device: &B::Device) -> Result<M> {
    module
        .load_file(path.to_path_buf(), &recorder(), device)
        .map_err(io_err)
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
    let record = Recorder::<B>::load(&recorder(), path.to_path_buf(), device).map_err(io_err)?;
    Ok(optim.load_record(record))
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

pub fn load_replay(path: &Path) -> Result<ReplayBuffer> {
    ReplayBuffer::read_from(&mut BufReader::new(File::open(path)?))
}
