//! `--emit slurm`: the same grid as a Slurm job array, one array index per run, each index running the very
//! `sparse-rl train` command line that the local executor would. An index whose run already has its
//! `summary.json` exits at once, so resubmitting the array finishes what is missing; `study --collect`
//! then gathers the results.

use std::fmt::Write;
use std::path::Path;

use super::grid::PlannedRun;

/// The job-array script. `workdir` is where the relative paths of the command lines hold (the directory
/// `study` ran in), `runs_dir` the study's `runs/`, `exe` the `sparse-rl` to run unless `$SPARSE_RL` says.
pub fn script(study: &str, runs: &[PlannedRun], workdir: &Path, runs_dir: &Path, exe: &Path) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let _ = writeln!(s, "#SBATCH --job-name={study}");
    let _ = writeln!(s, "#SBATCH --array=0-{}", runs.len().saturating_sub(1));
    let _ = writeln!(s, "#SBATCH --chdir={}", workdir.display());
    let _ = writeln!(s, "#SBATCH --cpus-per-task=1");
    let _ = writeln!(
        s,
        "#SBATCH --output={}",
        runs_dir.join("slurm-%A_%a.log").display()
    );
    s.push_str("# One run per array index; add your site's partition, time and memory lines above.\n");
    s.push_str("set -euo pipefail\n");
    let _ = writeln!(s, "SPARSE_RL=\"${{SPARSE_RL:-{}}}\"", exe.display());
    let _ = writeln!(s, "RUNS={}", quote(&runs_dir.display().to_string()));
    s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (i, run) in runs.iter().enumerate() {
        let args: Vec<String> = run.train_args().iter().map(|a| quote(a)).collect();
        let _ = writeln!(s, "  {i}) RUN={}; ARGS=({}) ;;", quote(&run.name), args.join(" "));
    }
    s.push_str("  *) echo \"no run for array index $SLURM_ARRAY_TASK_ID\" >&2; exit 1 ;;\nesac\n");
    s.push_str("OUT=\"$RUNS/$RUN\"\n");
    s.push_str("if [ -f \"$OUT/summary.json\" ]; then echo \"$RUN is done\"; exit 0; fi\n");
    s.push_str("rm -rf \"$OUT\"  # a partial run of an earlier attempt\n");
    s.push_str("exec \"$SPARSE_RL\" \"${ARGS[@]}\" --out \"$OUT\"\n");
    s
}

/// Single-quotes a word for bash unless it is plainly safe.
fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,/=:+@%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_toml_strings_intact() {
        assert_eq!(
            quote("sparsity.critic.prune=\"ri\""),
            "'sparsity.critic.prune=\"ri\"'"
        );
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("run.total_steps=20000"), "run.total_steps=20000");
    }
}
