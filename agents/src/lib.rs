//! Agents: networks split into encoder, critic and actor modules, replay buffers, DQN and SAC.
