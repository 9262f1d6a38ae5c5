//! The `sparse-rl` command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sparse-rl", version, about = "Deep RL with dynamic sparse training")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lists the built-in environments with their observation and action spaces.
    Envs,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Envs => list_envs(),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn list_envs() -> anyhow::Result<()> {
    println!("{:<32} {:<13} {:<44} action", "id", "kind", "observation");
    for spec in sparse_rl_envs::registered() {
        println!(
            "{:<32} {:<13} {:<44} {}",
            spec.id, spec.kind, spec.observation, spec.action
        );
    }
    Ok(())
}
