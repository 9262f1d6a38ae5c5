//! With the `gym` feature, the binary finds the libpython it was linked against at run time (an rpath to
//! the directory `sparse-rl-envs`'s build script found), not another Python's library of the same name.
fn main() {
    if let Ok(dir) = std::env::var("DEP_SPARSE_RL_PYTHON_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
