//! Command-line arguments (clap derive). Doc comments become `--help`.

use abforge_synth::Shard;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// abforge — A/B experiments whose truth is known.
///
/// Describe an experiment in a blueprint, generate its customers reproducibly, and know
/// the true effects every test should find.
#[derive(Debug, Parser)]
#[command(
    name = "abforge",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More logging on stderr (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar and no summary line.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate an experiment's customers to Parquet, CSV or JSON lines.
    Generate(GenerateArgs),
    /// Print the resolved blueprint and its ground truth (true means, effects, nulls).
    Truth(TruthArgs),
    /// Check a blueprint, or print the JSON Schema of the format.
    Blueprint(BlueprintNamespace),
}

/// Where the blueprint comes from and how to override it.
#[derive(Debug, Args)]
pub struct BlueprintSource {
    /// Blueprint file (TOML, or JSON when it ends in .json).
    #[arg(
        long,
        short = 'b',
        value_name = "FILE",
        default_value = "examples/seed.toml"
    )]
    pub blueprint: PathBuf,
    /// Override the blueprint's seed.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Override the number of customers (1 to 10^10); accepts 1e6 and 1_000_000.
    #[arg(long, short = 'n', value_name = "N", value_parser = parse_count)]
    pub customers: Option<u64>,
}

/// `abforge generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub source: BlueprintSource,
    /// Output file, or `-` for standard output. Written atomically: it appears only when
    /// complete.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: PathBuf,
    /// Output format [default: from the file's extension, else parquet].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<FormatArg>,
    /// Write only shard K of N (0 <= K < N); the N shards together are the whole dataset.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Worker threads [default: one per core]. The output does not depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Apache Parquet, zstd.
    Parquet,
    /// CSV with a header.
    Csv,
    /// JSON lines.
    Jsonl,
}

/// `abforge truth`.
#[derive(Debug, Args)]
pub struct TruthArgs {
    #[command(flatten)]
    pub source: BlueprintSource,
    /// JSON output (stable; see the README).
    #[arg(long)]
    pub json: bool,
}

/// `abforge blueprint ...`.
#[derive(Debug, Args)]
pub struct BlueprintNamespace {
    #[command(subcommand)]
    pub command: BlueprintCommand,
}

/// Blueprint subcommands.
#[derive(Debug, Subcommand)]
pub enum BlueprintCommand {
    /// Validate blueprint files; every problem is listed with its field path.
    Check {
        /// Blueprint files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the blueprint format (for editors).
    Schema,
}

/// Parses a count written as `1000`, `1_000`, `1e6` or `2.5e6`.
fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.replace('_', "");
    let v = t.parse::<u64>().ok().or_else(|| {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
            .map(|f| f as u64)
    });
    match v {
        Some(n) if (1..=abforge_synth::blueprint::MAX_CUSTOMERS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?} is not allowed; expected a whole number from 1 to 10000000000 (1e10)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn counts_accept_common_spellings() {
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert_eq!(parse_count("10_000"), Ok(10_000));
        assert!(parse_count("0").is_err());
        assert!(parse_count("2e10").is_err());
        assert!(parse_count("1.5").is_err());
    }
}
