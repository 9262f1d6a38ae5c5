//! Just enough of numpy 2's scalar typing (NEP 50) to follow Gymnasium code whose arithmetic runs in
//! `float32` or `float64` depending on where a number came from.
//!
//! `MountainCarContinuous-v0` stores its state as a `float32` array after each step and receives `float32`
//! actions, so numpy computes some of its step in `float32`; a plain `f64` port would drift from
//! Gymnasium by ~1e-8 per step. The rules: a numpy `float64` wins over anything; a `float32` wins over a
//! Python `float` (which is "weak": it is rounded to `float32` first); two Python floats stay `float64`.
//! Comparisons follow the same promotion.

use std::ops::{Add, Mul, Sub};

/// A scalar with the type numpy would give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// `np.float32`.
    F32(f32),
    /// `np.float64`.
    F64(f64),
    /// A Python `float` (or `int`): weakly typed.
    Py(f64),
}

/// The common type of a binary operation.
enum Promoted {
    F32(f32, f32),
    F64(f64, f64),
    Py(f64, f64),
}

impl Num {
    pub(crate) fn value(self) -> f64 {
        match self {
            Num::F32(x) => f64::from(x),
            Num::F64(x) | Num::Py(x) => x,
        }
    }

    fn promote(self, rhs: Num) -> Promoted {
        use Num::*;
        match (self, rhs) {
            (F64(_), _) | (_, F64(_)) => Promoted::F64(self.value(), rhs.value()),
            (F32(a), F32(b)) => Promoted::F32(a, b),
            (F32(a), Py(b)) => Promoted::F32(a, b as f32),
            (Py(a), F32(b)) => Promoted::F32(a as f32, b),
            (Py(a), Py(b)) => Promoted::Py(a, b),
        }
    }

    fn binary(self, rhs: Num, op32: fn(f32, f32) -> f32, op64: fn(f64, f64) -> f64) -> Num {
        match self.promote(rhs) {
            Promoted::F32(a, b) => Num::F32(op32(a, b)),
            Promoted::F64(a, b) => Num::F64(op64(a, b)),
            Promoted::Py(a, b) => Num::Py(op64(a, b)),
        }
    }

    fn compare(self, rhs: Num, cmp32: fn(&f32, &f32) -> bool, cmp64: fn(&f64, &f64) -> bool) -> bool {
        match self.promote(rhs) {
            Promoted::F32(a, b) => cmp32(&a, &b),
            Promoted::F64(a, b) | Promoted::Py(a, b) => cmp64(&a, &b),
        }
    }

    pub(crate) fn gt(self, rhs: Num) -> bool {
        self.compare(rhs, f32::gt, f64::gt)
    }

    pub(crate) fn lt(self, rhs: Num) -> bool {
        self.compare(rhs, f32::lt, f64::lt)
    }

    pub(crate) fn ge(self, rhs: Num) -> bool {
        self.compare(rhs, f32::ge, f64::ge)
    }

    pub(crate) fn eq(self, rhs: Num) -> bool {
        self.compare(rhs, f32::eq, f64::eq)
    }

    /// Python's `max(self, other)`: the first argument unless the second is larger.
    pub(crate) fn py_max(self, other: Num) -> Num {
        if other.gt(self) {
            other
        } else {
            self
        }
    }

    /// Python's `min(self, other)`: the first argument unless the second is smaller.
    pub(crate) fn py_min(self, other: Num) -> Num {
        if other.lt(self) {
            other
        } else {
            self
        }
    }
}

impl Add for Num {
    type Output = Num;
    fn add(self, rhs: Num) -> Num {
        self.binary(rhs, |a, b| a + b, |a, b| a + b)
    }
}

impl Sub for Num {
    type Output = Num;
    fn sub(self, rhs: Num) -> Num {
        self.binary(rhs, |a, b| a - b, |a, b| a - b)
    }
}

impl Mul for Num {
    type Output = Num;
    fn mul(self, rhs: Num) -> Num {
        self.binary(rhs, |a, b| a * b, |a, b| a * b)
    }
}

#[cfg(test)]
mod tests {
    use super::Num::*;

    #[test]
    fn python_floats_are_rounded_to_float32_against_float32() {
        // 0.07 as f32 is 0.07000000029..., so numpy says float32(0.07) > 0.07 is False.
        assert!(!F32(0.07).gt(Py(0.07)));
        assert!(F64(f64::from(0.07f32)).gt(Py(0.07)));
        assert_eq!(F32(0.5) * Py(0.0015), F32(0.5 * 0.0015f32));
        assert_eq!(F32(0.5) * F64(0.0015), F64(0.5 * 0.0015));
        assert_eq!(Py(0.5) * Py(0.0015), Py(0.5 * 0.0015));
        assert_eq!(F32(-3.0).py_max(Py(-1.0)), Py(-1.0));
        assert_eq!(F32(0.25).py_max(Py(-1.0)), F32(0.25));
    }
}
