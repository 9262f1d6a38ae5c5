//! A small GAN on 2-D Gaussian mixtures with a sparse generator and discriminator: the CPU-sized version
//! of the experiment of Wang, Wu, Hovakimyan and Sun, "Balanced Training for Sparse GANs" (ADAPT,
//! NeurIPS 2023, arXiv 2302.14670), measured by the mode-coverage metrics of VEEGAN and PacGAN.

pub mod metrics;
pub mod mixture;
pub mod trainer;
