//! A Python without gymnasium: the error says which Python and what to install. Its own test binary, since
//! it hides gymnasium from the whole embedded interpreter.

use pyo3::ffi::c_str;
use pyo3::prelude::*;
use sparse_rl_envs::make;

#[test]
fn a_missing_gymnasium_names_the_python_and_the_install_command() {
    Python::with_gil(|py| py.run(c_str!("import sys; sys.modules['gymnasium'] = None"), None, None)).unwrap();
    let err = make("gym:CartPole-v1")
        .err()
        .expect("gymnasium is hidden")
        .to_string();
    assert!(
        err.starts_with("gym:CartPole-v1: import of gymnasium halted"),
        "{err}"
    );
    assert!(err.contains("pip install -r requirements-gym.txt"), "{err}");
    let prefix = Python::with_gil(|py| py.import("sys")?.getattr("prefix")?.extract::<String>()).unwrap();
    assert!(err.contains(&prefix), "{err} names the embedded Python {prefix}");
}
