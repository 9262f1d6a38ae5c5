//! The dynamic sparse training engine: knows nothing of RL.
