//! Observation and action spaces, as in Gymnasium (`Discrete`, `Box`), and the action value type.

use std::fmt;

/// A space: `Discrete(n)` (actions 0..n) or a `Box` of floats with per-dimension bounds.
#[derive(Debug, Clone, PartialEq)]
pub enum Space {
    Discrete {
        n: usize,
    },
    Box {
        low: Vec<f64>,
        high: Vec<f64>,
        shape: Vec<usize>,
    },
}

impl Space {
    /// A flat box `[low, high]^dim`, or with per-dimension bounds.
    pub fn boxed(low: Vec<f64>, high: Vec<f64>) -> Self {
        assert_eq!(low.len(), high.len(), "box bounds must have the same length");
        let shape = vec![low.len()];
        Space::Box { low, high, shape }
    }

    /// Number of scalars in one element (Discrete: 1; Box: product of its shape).
    pub fn flat_dim(&self) -> usize {
        match self {
            Space::Discrete { .. } => 1,
            Space::Box { shape, .. } => shape.iter().product(),
        }
    }

    /// Checks that `action` belongs to this space; `env` names the environment in the error.
    pub fn check(&self, env: &str, action: &Action) -> crate::Result<()> {
        match (self, action) {
            (Space::Discrete { n }, Action::Discrete(a)) if a < n => Ok(()),
            (Space::Discrete { n }, Action::Discrete(a)) => Err(crate::EnvError::new(
                env,
                format!("action {a} is outside Discrete({n})"),
            )),
            (Space::Box { low, .. }, Action::Continuous(v)) => {
                if v.len() != low.len() {
                    return Err(crate::EnvError::new(
                        env,
                        format!(
                            "action has {} values, the action space {self} needs {}",
                            v.len(),
                            low.len()
                        ),
                    ));
                }
                if let Some(x) = v.iter().find(|x| !x.is_finite()) {
                    return Err(crate::EnvError::new(
                        env,
                        format!("action value {x} is not finite"),
                    ));
                }
                Ok(())
            }
            (space, action) => Err(crate::EnvError::new(
                env,
                format!("action {action:?} does not fit the action space {space}"),
            )),
        }
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Discrete { n } => write!(f, "Discrete({n})"),
            Space::Box { low, high, shape } => {
                let lo = low.iter().cloned().fold(f64::INFINITY, f64::min);
                let hi = high.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                write!(f, "Box({lo}, {hi}, {shape:?})")
            }
        }
    }
}

/// One action: an index for `Discrete`, a vector for `Box`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Discrete(usize),
    Continuous(Vec<f64>),
}
