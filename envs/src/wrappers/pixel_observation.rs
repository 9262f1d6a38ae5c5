//! Pixel observations with frame stacking, as in the Atari setups of Mnih et al. (2015): the env's
//! grayscale picture ([`Env::render_pixels`]) replaces its state vector, and the last `frames` pictures are
//! stacked so that velocities can be read off (Gymnasium's `AddRenderObservation(render_only=True)` +
//! `FrameStackObservation` with padding by the reset frame).

use crate::{Action, Env, EnvError, Info, Obs, Result, Space, Step};

/// Observation: `frames` pictures of `height x width`, oldest first, flattened from shape
/// `[frames, height, width]`, values in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct PixelObservation<E> {
    env: E,
    /// The inner id with `Pixels` before its version, e.g. `CartPolePixels-v1`.
    id: String,
    frames: usize,
    height: usize,
    width: usize,
    /// The stacked frames, oldest first.
    stack: Vec<f32>,
}

impl<E: Env> PixelObservation<E> {
    /// Errors on a zero size or when the env cannot draw itself.
    pub fn new(env: E, frames: usize, height: usize, width: usize) -> Result<Self> {
        if frames == 0 || height == 0 || width == 0 {
            return Err(EnvError::new(
                env.id(),
                format!("PixelObservation needs a positive size, got {frames} frames of {height}x{width}"),
            ));
        }
        if env.render_pixels(height, width).is_none() {
            return Err(EnvError::new(
                env.id(),
                "PixelObservation: this env cannot render pixels",
            ));
        }
        let id = match env.id().rsplit_once('-') {
            Some((name, version)) => format!("{name}Pixels-{version}"),
            None => format!("{}Pixels", env.id()),
        };
        Ok(Self {
            env,
            id,
            frames,
            height,
            width,
            stack: vec![0.0; frames * height * width],
        })
    }

    pub fn inner(&self) -> &E {
        &self.env
    }

    fn picture(&self) -> Vec<f32> {
        self.env
            .render_pixels(self.height, self.width)
            .expect("the constructor checked that the env renders")
    }

    /// Fills every slot with the current picture (the start of an episode).
    fn fill(&mut self) -> Obs {
        let picture = self.picture();
        for slot in self.stack.chunks_mut(picture.len()) {
            slot.copy_from_slice(&picture);
        }
        self.stack.clone()
    }

    /// Drops the oldest picture and appends the current one.
    fn push(&mut self) -> Obs {
        let picture = self.picture();
        let n = picture.len();
        self.stack.copy_within(n.., 0);
        let last = self.stack.len() - n;
        self.stack[last..].copy_from_slice(&picture);
        self.stack.clone()
    }
}

impl<E: Env> Env for PixelObservation<E> {
    fn id(&self) -> &str {
        &self.id
    }

    fn observation_space(&self) -> Space {
        let n = self.stack.len();
        Space::Box {
            low: vec![0.0; n],
            high: vec![1.0; n],
            shape: vec![self.frames, self.height, self.width],
        }
    }

    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        let (_, info) = self.env.reset(seed);
        (self.fill(), info)
    }

    /// The inner env's errors come back prefixed with this env's id.
    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action).map_err(|e| EnvError::new(&self.id, e))?;
        step.obs = self.push();
        Ok(step)
    }

    fn state(&self) -> Vec<f64> {
        self.env.state()
    }

    /// Sets the physical state and, as at a reset, fills the whole stack with its picture.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.env
            .set_state(state)
            .map_err(|e| EnvError::new(&self.id, e))?;
        self.fill();
        Ok(())
    }

    fn render(&self) -> String {
        self.env.render()
    }
    fn render_pixels(&self, height: usize, width: usize) -> Option<Vec<f32>> {
        self.env.render_pixels(height, width)
    }
}
