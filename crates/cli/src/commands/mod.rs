//! One module per subcommand; [`run`] dispatches.

mod analyze;
mod backfill;
mod blueprint;
mod calibrate;
mod generate;
mod lake;
mod pipeline;
mod power;
mod runs;
mod schedule;
mod serve;
mod truth;

use crate::BadInput;
use crate::cli::{BlueprintCommand, BlueprintSource, Cli, Command};
use abforge_synth::Blueprint;
use anyhow::Context;
use std::path::Path;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(args) => generate::run(&args, cli.quiet),
        Command::Truth(args) => truth::run(&args),
        Command::Blueprint(ns) => match ns.command {
            BlueprintCommand::Check { files } => blueprint::check(&files),
            BlueprintCommand::Schema => blueprint::schema(),
        },
        Command::Analyze(args) => analyze::run(&args),
        Command::Power(args) => power::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Calibrate(args) => calibrate::run(&args, cli.quiet),
        Command::Pipeline(ns) => pipeline::run(ns.command, cli.quiet),
        Command::Runs(ns) => runs::run(ns.command),
        Command::Lake(ns) => lake::run(ns.command),
        Command::Schedule(args) => schedule::run(&args, cli.quiet),
    }
}

/// Reads a blueprint file, or says that it does not exist (exit 2); `give` says how to name
/// another.
fn read_blueprint(path: &Path, give: &str) -> anyhow::Result<Blueprint> {
    if !path.is_file() {
        return Err(BadInput(format!(
            "blueprint {} does not exist (give one with {give}; examples are in examples/)",
            path.display()
        ))
        .into());
    }
    Blueprint::from_path(path).with_context(|| path.display().to_string())
}

/// The blueprint of a pipeline command (`--blueprint` or `ABFORGE_BLUEPRINT`).
pub fn load_blueprint(path: &Path) -> anyhow::Result<Blueprint> {
    read_blueprint(path, "--blueprint FILE or ABFORGE_BLUEPRINT")
}

/// Reads the blueprint and applies the command-line overrides.
pub fn load(src: &BlueprintSource) -> anyhow::Result<Blueprint> {
    let mut bp = read_blueprint(&src.blueprint, "--blueprint FILE")?;
    if let Some(seed) = src.seed {
        bp = bp.with_seed(seed);
    }
    if let Some(n) = src.customers {
        bp.customers = n;
    }
    Ok(bp)
}
