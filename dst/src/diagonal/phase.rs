//! The training phase of a DynaDiag layer, kept on the host and saved in the module's record.
//!
//! The phase picks the compute graph of the forward (dense soft selection or the K stored diagonals), so
//! it must be known on the host without reading a tensor back from the device. A `#[module(skip)]`
//! field would do that but is not saved, so a resumed run would silently return to the soft phase.
//! This small module type saves `(frozen, temperature)` as a plain record and restores it on load.

use burn::module::{
    AutodiffModule, Content, Devices, HasAutodiffModule, Module, ModuleDisplay, ModuleDisplayDefault,
    ModuleMapper, ModuleVisitor,
};
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::marker::PhantomData;

/// Where a DynaDiag layer is in its schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Soft top-K selection over all P diagonals at this temperature (dense compute).
    Soft {
        /// Softmax temperature T of `a = clamp(K · softmax(α / T), 0, 1)`.
        temperature: f32,
    },
    /// The K selected diagonals are fixed; α no longer learns; compute touches only K diagonals.
    Frozen,
}

/// Module wrapper of [`Phase`]: no parameters, record `(frozen, temperature)`.
#[derive(Clone, Debug)]
pub struct PhaseState<B: Backend> {
    /// The current phase.
    pub phase: Phase,
    _backend: PhantomData<B>,
}

impl<B: Backend> PhaseState<B> {
    /// Wrap a phase.
    pub fn new(phase: Phase) -> Self {
        Self {
            phase,
            _backend: PhantomData,
        }
    }
}

impl<B: Backend> Module<B> for PhaseState<B> {
    type Record = (bool, f32);

    fn collect_devices(&self, devices: Devices<B>) -> Devices<B> {
        devices
    }

    fn fork(self, _device: &B::Device) -> Self {
        self
    }

    fn to_device(self, _device: &B::Device) -> Self {
        self
    }

    fn visit<V: ModuleVisitor<B>>(&self, _visitor: &mut V) {}

    fn map<M: ModuleMapper<B>>(self, _mapper: &mut M) -> Self {
        self
    }

    fn load_record(self, (frozen, temperature): Self::Record) -> Self {
        Self::new(if frozen {
            Phase::Frozen
        } else {
            Phase::Soft { temperature }
        })
    }

    fn into_record(self) -> Self::Record {
        match self.phase {
            Phase::Soft { temperature } => (false, temperature),
            Phase::Frozen => (true, 0.0),
        }
    }
}

impl<B: AutodiffBackend> AutodiffModule<B> for PhaseState<B> {
    type InnerModule = PhaseState<B::InnerBackend>;

    fn valid(&self) -> Self::InnerModule {
        PhaseState::new(self.phase)
    }

    fn from_inner(module: Self::InnerModule) -> Self {
        Self::new(module.phase)
    }
}

impl<B: AutodiffBackend> HasAutodiffModule<B> for PhaseState<B::InnerBackend> {
    type TrainModule = PhaseState<B>;
}

impl<B: Backend> ModuleDisplayDefault for PhaseState<B> {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&format!("{:?}", self.phase)).optional()
    }
}

impl<B: Backend> ModuleDisplay for PhaseState<B> {}
