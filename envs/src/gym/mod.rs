//! Any installed Gymnasium environment as an [`Env`]: `make("gym:HalfCheetah-v5")`.
//!
//! The env runs in the Python interpreter this program embeds (pyo3); `bridge.py` makes it, describes its
//! spaces and flattens each observation into a `float32` array that is copied out through the buffer
//! protocol. Embedding beat a worker process on measurement: a step through pipes to another process cost
//! 120–190 µs more than Gymnasium's own `env.step` on a 2-core machine (the wake-up of a process on the
//! other core), embedded Python a few µs (`cargo bench -p sparse-rl-envs --features gym --bench gym_bridge`).
//!
//! What crosses the bridge: Discrete and one-dimensional Box action spaces; Box observations (flattened,
//! as `f32`) and Discrete ones (one-hot). `reset(Some(seed))` is `env.reset(seed=seed)`; `terminated` and
//! `truncated` stay apart, and the registered time limit (`gymnasium.make`'s `TimeLimit`) is the one that
//! truncates. The id after `gym:` goes to `gymnasium.make` as it is, so `gym:my_package:MyEnv-v0` imports
//! `my_package` first, which is how one's own env gets registered.
//!
//! The Python is the one the program was built against (pyo3 takes `$PYO3_PYTHON`, else `python3` on the
//! `PATH`, at build time); its packages come from `pip install -r requirements-gym.txt`.

use std::sync::{Mutex, PoisonError};

use pyo3::buffer::PyBuffer;
use pyo3::ffi::c_str;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyList, PyModule};
use pyo3::{intern, IntoPyObjectExt};

use crate::{Action, Env, EnvError, Info, Obs, Result, Space, Step, GYM_PREFIX};

/// A Gymnasium environment in the embedded interpreter.
#[derive(Debug)]
pub struct GymEnv {
    /// The id with its prefix, e.g. `gym:CartPole-v1`.
    id: String,
    bridged: Py<PyAny>,
    observation_space: Space,
    action_space: Space,
    obs_dim: usize,
    max_episode_steps: Option<usize>,
    gymnasium_version: String,
    episode: Episode,
    /// A failure that `reset` (which cannot return one) met; the next `step` returns it.
    pending: Option<EnvError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Episode {
    NotStarted,
    Running,
    Ended,
}

/// `bridge.py`, loaded once per process.
fn bridge_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();
    MODULE
        .get_or_try_init(py, || {
            let code = c_str!(include_str!("bridge.py"));
            PyModule::from_code(
                py,
                code,
                c_str!("sparse_rl_gym_bridge.py"),
                c_str!("sparse_rl_gym_bridge"),
            )
            .map(Bound::unbind)
        })
        .map(|module| module.bind(py))
}

/// A space as `bridge.py` describes it: `(kind, shape, low, high)`.
fn space(described: &Bound<'_, PyAny>) -> PyResult<Space> {
    let (kind, shape, low, high): (String, Vec<usize>, Vec<f64>, Vec<f64>) = described.extract()?;
    Ok(match kind.as_str() {
        "discrete" => Space::Discrete { n: shape[0] },
        _ => Space::Box { low, high, shape },
    })
}

/// Copies a flat `float32` array into `out`, checking its length.
fn copy_obs(py: Python<'_>, array: &Bound<'_, PyAny>, out: &mut [f32]) -> PyResult<()> {
    let buffer = PyBuffer::<f32>::get(array)?;
    if buffer.item_count() != out.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "the observation has {} values, its space {}",
            buffer.item_count(),
            out.len()
        )));
    }
    buffer.copy_to_slice(py, out)
}

impl GymEnv {
    /// Makes `gym_id` (the id without its prefix) in the embedded interpreter. Errors name what is missing:
    /// the bridge's Python packages, or the id (with Gymnasium's own message).
    pub fn new(gym_id: &str) -> Result<Self> {
        let id = format!("{GYM_PREFIX}{gym_id}");
        // Python's imports are not safe to race: `gymnasium.make` imports env modules on first use and
        // releases the GIL while it does, so two threads making envs at once can each see the other's
        // half-imported module. One make at a time; the lock is taken before the GIL, never while holding it.
        static MAKING: Mutex<()> = Mutex::new(());
        let _one_at_a_time = MAKING.lock().unwrap_or_else(PoisonError::into_inner);
        Python::with_gil(|py| {
            let made = (|| {
                let bridged = bridge_module(py)?.getattr("Bridged")?.call1((gym_id,))?;
                let observation_space = space(&bridged.getattr("observation")?)?;
                let action_space = space(&bridged.getattr("action")?)?;
                let limit: usize = bridged.getattr("max_episode_steps")?.extract()?;
                let version: String = bridged.getattr("version")?.extract()?;
                PyResult::Ok((bridged.unbind(), observation_space, action_space, limit, version))
            })();
            let (bridged, observation_space, action_space, limit, gymnasium_version) =
                made.map_err(|e| EnvError::new(&id, e.value(py)))?;
            Ok(Self {
                obs_dim: observation_space.flat_dim(),
                id,
                bridged,
                observation_space,
                action_space,
                max_episode_steps: (limit > 0).then_some(limit),
                gymnasium_version,
                episode: Episode::NotStarted,
                pending: None,
            })
        })
    }

    /// The time limit `gymnasium.make` registered (`None` when the env has none).
    pub fn max_episode_steps(&self) -> Option<usize> {
        self.max_episode_steps
    }

    /// The embedded Python's `gymnasium.__version__`.
    pub fn gymnasium_version(&self) -> &str {
        &self.gymnasium_version
    }

    /// The physical state: `env.unwrapped.state` for classic control, MuJoCo's `qpos` then `qvel`; an
    /// error for envs that expose neither.
    pub fn try_state(&self) -> Result<Vec<f64>> {
        Python::with_gil(|py| {
            self.bridged
                .bind(py)
                .call_method0("get_state")
                .and_then(|state| state.extract())
                .map_err(|e| self.error("state", e))
        })
    }

    fn try_reset(&self, seed: Option<u64>) -> Result<Obs> {
        let mut obs = vec![0.0; self.obs_dim];
        Python::with_gil(|py| {
            let array = self
                .bridged
                .bind(py)
                .call_method1(intern!(py, "reset"), (seed,))?;
            copy_obs(py, &array, &mut obs)
        })
        .map_err(|e| self.error("reset", e))?;
        Ok(obs)
    }

    /// An error from Python, as `gym:<id>: <what>: <exception type>: <message>`.
    fn error(&self, what: &str, e: PyErr) -> EnvError {
        EnvError::new(&self.id, format!("{what}: {e}"))
    }
}

impl Drop for GymEnv {
    fn drop(&mut self) {
        Python::with_gil(|py| {
            // A failing close leaves nothing to do but to say so.
            if let Err(e) = self.bridged.bind(py).call_method0("close") {
                eprintln!("{}", self.error("close", e));
            }
        });
    }
}

impl Env for GymEnv {
    fn id(&self) -> &str {
        &self.id
    }

    fn observation_space(&self) -> Space {
        self.observation_space.clone()
    }

    fn action_space(&self) -> Space {
        self.action_space.clone()
    }

    /// A failure in Python cannot be reported here (the trait's `reset` returns no error): the observation
    /// is then zeros and the next `step` returns the error.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        match self.try_reset(seed) {
            Ok(obs) => {
                self.episode = Episode::Running;
                self.pending = None;
                (obs, Info::new())
            }
            Err(e) => {
                self.pending = Some(e);
                (vec![0.0; self.obs_dim], Info::new())
            }
        }
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        match self.episode {
            Episode::Running => {}
            Episode::NotStarted => {
                return Err(EnvError::new(
                    &self.id,
                    "step() before reset(): call reset() first",
                ))
            }
            Episode::Ended => {
                return Err(EnvError::new(
                    &self.id,
                    "step() after the episode ended (terminated or truncated): call reset() first",
                ))
            }
        }
        self.action_space.check(&self.id, action)?;
        let mut obs = vec![0.0; self.obs_dim];
        let (reward, terminated, truncated) = Python::with_gil(|py| {
            let action = match action {
                Action::Discrete(a) => (*a as i64).into_bound_py_any(py)?,
                Action::Continuous(v) => PyList::new(py, v)?.into_any(),
            };
            let (array, reward, terminated, truncated): (Bound<'_, PyAny>, f64, bool, bool) = self
                .bridged
                .bind(py)
                .call_method1(intern!(py, "step"), (action,))?
                .extract()?;
            copy_obs(py, &array, &mut obs)?;
            PyResult::Ok((reward, terminated, truncated))
        })
        .map_err(|e| self.error("step", e))?;
        if terminated || truncated {
            self.episode = Episode::Ended;
        }
        Ok(Step {
            obs,
            reward,
            terminated,
            truncated,
            info: Info::new(),
        })
    }

    /// The state [`GymEnv::try_state`] reads; empty when the env exposes none.
    fn state(&self) -> Vec<f64> {
        self.try_state().unwrap_or_default()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        if let Some(x) = state.iter().find(|x| !x.is_finite()) {
            return Err(EnvError::new(
                &self.id,
                format!("set_state got the non-finite value {x}"),
            ));
        }
        Python::with_gil(|py| {
            self.bridged
                .bind(py)
                .call_method1("set_state", (state.to_vec(),))
                .map(drop)
        })
        .map_err(|e| self.error("set_state", e))
    }
}

/// Builds `gym:<id>`.
pub(crate) fn make(gym_id: &str) -> Result<Box<dyn Env>> {
    Ok(Box::new(GymEnv::new(gym_id)?))
}
