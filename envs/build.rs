//! With the `gym` feature, the programs built here find the libpython they were linked against at run
//! time (an rpath to its directory), not another Python's library of the same name on the system path;
//! crates that depend on this one read the directory as `DEP_SPARSE_RL_PYTHON_LIBDIR` for their own.
fn main() {
    #[cfg(feature = "gym")]
    if let Some(dir) = &pyo3_build_config::get().lib_dir {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:libdir={dir}");
    }
}
