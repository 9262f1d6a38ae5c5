//! Agents: networks split into encoder, critic and actor modules (each with its own sparsity policy, MST),
//! replay buffers, DQN, SAC and QMIX/MAST (multi-agent), and a small GAN for ADAPT.

pub mod agent;
pub mod binary;
pub mod checks;
pub mod dqn;
pub mod encoder;
pub mod gan;
pub mod marl;
pub mod networks;
pub mod persist;
pub mod plasticity;
pub mod qmix;
pub mod replay;
pub mod sac;
pub mod seeding;
pub mod target;
pub mod tensors;
