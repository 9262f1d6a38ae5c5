//! Loads an exported policy file and acts: the deployment side of a trained sparse policy, through the
//! inference module alone (no agents crate, no tensors, no optimizer). Observations come as whitespace-separated numbers, one observation per line on
//! stdin (a multi-agent policy reads the agents' observations one after another on a line); each
//! action goes to stdout.
//!
//! ```sh
//! sparse-rl export --run runs/my-run --out policy.srlp
//! echo "0.01 -0.02 0.03 0.04" | cargo run --release -p sparse-rl-dst --example act -- policy.srlp
//! ```

use std::io::BufRead;
use std::path::PathBuf;

use sparse_rl_dst::inference::{Policy, PolicyAction};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: act POLICY_FILE < observations")?
        .into();
    let policy = Policy::load(&path)?;
    let mut scratch = policy.scratch();
    let multi_agent = policy.input.rows() > 1;
    for line in std::io::stdin().lock().lines() {
        let obs = line?
            .split_whitespace()
            .map(str::parse::<f32>)
            .collect::<Result<Vec<_>, _>>()?;
        if multi_agent {
            println!("{:?}", policy.act_agents(&obs, None, None, &mut scratch)?);
            continue;
        }
        match policy.act(&obs, &mut scratch)? {
            PolicyAction::Discrete(a) => println!("{a}"),
            PolicyAction::Continuous(a) => println!("{a:?}"),
        }
    }
    Ok(())
}
