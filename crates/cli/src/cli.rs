//! Command-line arguments (clap derive). Doc comments become `--help`.

use abforge_env::EnvVars;
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
    /// Run every applicable A/B test on a data file (Parquet or CSV), per metric.
    Analyze(AnalyzeArgs),
    /// Sample size, power or minimum detectable effect of a planned experiment.
    Power(PowerArgs),
    /// Serve the dashboard (at /: experiments, runs, decisions against the truth,
    /// calibration, other engines; JSON twins under /v1/results, /v1/calibration and
    /// /v1/engines) and the params API
    /// (JSON over HTTP; OpenAPI at /openapi.json, a page at /docs).
    ///
    /// Writes need `Authorization: Bearer <token>` when ABFORGE_API_TOKEN is set, which is
    /// required to listen on a non-loopback address; ABFORGE_API_READ_TOKEN_REQUIRED=true
    /// makes reads need it too. ABFORGE_API_TIMEOUT_SECS (30) and ABFORGE_API_BODY_LIMIT
    /// (1048576 bytes) set the limits; S3 settings come from the usual AWS_* variables.
    /// Stops on SIGINT or SIGTERM once the requests in flight are answered.
    Serve(ServeArgs),
    /// Simulate many experiments from a blueprint and judge every test against the truth:
    /// type I error, power, interval coverage, calibration.
    Calibrate(CalibrateArgs),
    /// Run the pipeline: generate → land → publish → bronze → silver → gold → analyze, every
    /// step in the run log.
    ///
    /// Embedded defaults need no set-up: a SQLite file and a folder under ./abforge-data.
    /// PostgreSQL, S3 and DynamoDB are used when URLs say so (flags, ABFORGE_* variables or
    /// abforge.toml; see docs/commands/pipeline.md).
    Pipeline(PipelineNamespace),
    /// Read the run log: the runs, and each run's step attempts and results.
    Runs(RunsNamespace),
    /// The lakehouse: the Delta tables the pipeline writes (bronze, silver, gold) — list,
    /// history, SQL queries with time travel, upkeep.
    Lake(LakeNamespace),
    /// Run the pipeline at every tick of a cron expression, until SIGTERM or SIGINT.
    ///
    /// At each tick every blueprint runs on the tick's date (in --tz), one run at a time: a
    /// lock in the relational store keeps two schedulers from running at once. Each tick is
    /// in the run log (run id schedule:NAME:YYYYMMDD). A run that had succeeded is not run
    /// again. On SIGTERM or SIGINT the run in flight finishes, then it exits 0 (a second
    /// signal stops at once, exit 130; the run resumes when run again).
    Schedule(ScheduleArgs),
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

/// The prior of the Bayesian test in `abforge calibrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BayesPriorArg {
    /// A flat prior on each mean (Beta(1, 1) on a conversion rate).
    Flat,
    /// The blueprint's normal prior of each lift drawn from one.
    Blueprint,
}

impl From<BayesPriorArg> for abforge_lab::BayesPrior {
    fn from(a: BayesPriorArg) -> Self {
        match a {
            BayesPriorArg::Flat => abforge_lab::BayesPrior::Flat,
            BayesPriorArg::Blueprint => abforge_lab::BayesPrior::Blueprint,
        }
    }
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
    /// JSON output (stable; see docs/commands/truth.md).
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

/// `abforge analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Data file: Parquet (e.g. the output of `abforge generate`) or CSV with a header
    /// (e.g. two columns `group,value`).
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: PathBuf,
    /// Metric column to analyze (repeat for several) [default: every numeric column but
    /// the group, ids (`id`, `*_id`) and `pre_<metric>` covariates].
    #[arg(long, short = 'm', value_name = "COL")]
    pub metric: Vec<String>,
    /// Column holding the group label.
    #[arg(long, value_name = "COL", default_value = "group")]
    pub group_column: String,
    /// Label of the control group.
    #[arg(long, value_name = "LABEL", default_value = "control")]
    pub control: String,
    /// Label of the treatment group to compare with the control (repeat for several)
    /// [default: `treatment` when present, else every other group (A/B/n)].
    #[arg(long, value_name = "LABEL")]
    pub treatment: Vec<String>,
    /// Significance level of every test and 1 − the confidence of every interval.
    #[arg(long, value_name = "A", default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// The alternative hypothesis: two-sided, or one-sided (`greater`: treatment above
    /// control).
    #[arg(long, value_enum, default_value_t = AlternativeArg::TwoSided)]
    pub alternative: AlternativeArg,
    /// Non-inferiority margin δ > 0 on the mean difference: tests H0: T − C ≤ −δ against
    /// H1: T − C > −δ (a guardrail metric). Implies `--alternative greater`.
    #[arg(long, value_name = "DELTA", value_parser = parse_positive)]
    pub margin: Option<f64>,
    /// Planned allocation for the sample-ratio check, e.g. `control=1,treatment=1`
    /// [default: the blueprint's in a file written by `abforge generate`, else equal].
    #[arg(long, value_name = "GROUP=W,...", value_parser = parse_allocation)]
    pub allocation: Option<Allocation>,
    /// Ratio metric NUM/DEN to compare (repeat for several), e.g.
    /// `total_purchase_price/num_diff_items` (revenue per item): ΣNUM / ΣDEN per group, the
    /// delta-method z test of the difference and its CI.
    #[arg(long, value_name = "NUM/DEN", value_parser = parse_ratio)]
    pub ratio: Vec<RatioArg>,
    /// Bootstrap resamples: adds percentile and BCa intervals of the mean difference and of
    /// the relative lift (seeded with --seed; the same whatever the thread count).
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u32).range(10..))]
    pub bootstrap: Option<u32>,
    /// Random permutations: adds a permutation test of the mean difference.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(10..))]
    pub permutations: Option<u32>,
    /// Seed of the bootstrap and the permutation test.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Multiple-testing correction across metrics × arms, applied to each comparison's
    /// primary test (z for 0/1 metrics, Poisson score for counts, Welch otherwise); the JSON
    /// gives all three adjusted p-values.
    #[arg(long, value_enum, default_value_t = CorrectionArg::Holm)]
    pub correction: CorrectionArg,
    /// Quantile P (0 < P < 1) whose difference to test on continuous metrics, besides the
    /// median, which is always tested (repeat for several, at most 20), e.g. 0.9.
    #[arg(long, value_name = "P", value_parser = parse_alpha)]
    pub quantile: Vec<f64>,
    /// Adds Welch's t-test on capped values to every metric that is not 0/1: `UPPER` caps
    /// values above the pooled UPPER-quantile of both groups (e.g. 0.99), `LOWER,UPPER` both
    /// tails. It tests equal capped means, another estimand than the mean difference: its
    /// decision is judged against the true difference of means, so its bias shows.
    #[arg(long, value_name = "[LOWER,]UPPER", value_parser = parse_winsorize)]
    pub winsorize: Option<abforge_stats::WinsorOptions>,
    /// Adds a group-sequential test to every metric, replayed over the rows in file order
    /// (sort the file by arrival first): K equally spaced looks, each after another 1/K of
    /// each group's rows, Welch's z against the design's critical values; it stops at the
    /// first crossing and reports that look's repeated confidence interval.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(1..=50))]
    pub looks: Option<u16>,
    /// The α-spending function of --looks: Lan–DeMets O'Brien–Fleming-like (spends little
    /// early) or Pocock-like (nearly constant critical values).
    #[arg(long, value_enum, default_value_t = SpendingArg::Obf, requires = "looks")]
    pub spending: SpendingArg,
    /// Column of whole-number cluster ids for the cluster-robust (CR2) test [default:
    /// `cluster_id` when present, as `abforge generate` writes it for `[clusters]`].
    #[arg(long, value_name = "COL")]
    pub cluster_column: Option<String>,
    /// Prior of a metric's Bayesian comparison (repeat for several metrics):
    /// `METRIC=normal:MEAN,SD` (on the difference T − C; metrics that are not 0/1) or
    /// `METRIC=beta:A,B` (on each conversion rate; 0/1 metrics).
    #[arg(long, value_name = "METRIC=PRIOR")]
    pub prior: Vec<abforge_stats::MetricPrior>,
    /// JSON output (stable; see docs/commands/analyze.md).
    #[arg(long)]
    pub json: bool,
}

/// The α-spending function of a group-sequential test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpendingArg {
    /// Lan–DeMets O'Brien–Fleming-like.
    Obf,
    /// Lan–DeMets Pocock-like.
    Pocock,
}

/// Multiple-testing corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CorrectionArg {
    /// Holm's step-down (family-wise error rate).
    Holm,
    /// Bonferroni (family-wise error rate).
    Bonferroni,
    /// Benjamini–Hochberg (false discovery rate).
    Bh,
    /// None: decide on the raw p-values.
    None,
}

/// The alternative hypothesis of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlternativeArg {
    /// Treatment differs from control.
    TwoSided,
    /// Treatment is greater than control.
    Greater,
    /// Treatment is less than control.
    Less,
}

/// `abforge power`.
#[derive(Debug, Args)]
pub struct PowerArgs {
    #[command(subcommand)]
    pub test: PowerTest,
}

/// The test a power analysis plans for. Give all but one of effect, `--n` and `--power`;
/// abforge solves for the missing one.
#[derive(Debug, Subcommand)]
pub enum PowerTest {
    /// Two-sample t-test of means (noncentral t, as statsmodels' TTestIndPower).
    T {
        /// Standardised effect (Cohen's d) = difference of means / pooled sd.
        #[arg(long, short = 'd', value_name = "D", allow_negative_numbers = true,
              conflicts_with_all = ["diff", "sd"])]
        effect_size: Option<f64>,
        /// Difference of means to detect (with --sd).
        #[arg(long, value_name = "X", requires = "sd", allow_negative_numbers = true)]
        diff: Option<f64>,
        /// Standard deviation of the metric in each group (with --diff, or for the MDE).
        #[arg(long, value_name = "S", value_parser = parse_positive)]
        sd: Option<f64>,
        #[command(flatten)]
        common: PowerCommon,
    },
    /// Two proportions (normal approximation on Cohen's h, as statsmodels' NormalIndPower).
    Proportions {
        /// Conversion rate of the control group, in (0, 1).
        #[arg(long, value_name = "P", allow_negative_numbers = true)]
        control: f64,
        /// Conversion rate of the treatment group to detect, in (0, 1).
        #[arg(long, value_name = "P")]
        treatment: Option<f64>,
        #[command(flatten)]
        common: PowerCommon,
    },
    /// Two Poisson rates (counts per customer).
    Poisson {
        /// Mean count per customer in the control group.
        #[arg(long, value_name = "RATE", value_parser = parse_positive,
              allow_negative_numbers = true)]
        control: f64,
        /// Mean count per customer in the treatment group to detect.
        #[arg(long, value_name = "RATE", value_parser = parse_positive)]
        treatment: Option<f64>,
        #[command(flatten)]
        common: PowerCommon,
    },
}

/// What every power analysis takes.
#[derive(Debug, Args)]
pub struct PowerCommon {
    /// Customers in the treatment group (the control has `--ratio` times as many).
    #[arg(long, short = 'n', value_name = "N", value_parser = parse_positive)]
    pub n: Option<f64>,
    /// Target power, in (alpha, 1).
    #[arg(long, value_name = "P")]
    pub power: Option<f64>,
    /// Control customers per treatment customer (1 is an even split).
    #[arg(long, value_name = "R", default_value_t = 1.0, value_parser = parse_positive)]
    pub ratio: f64,
    /// Significance level.
    #[arg(long, value_name = "A", default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Two-sided, or one-sided (`greater`: the effect is positive).
    #[arg(long, value_enum, default_value_t = AlternativeArg::TwoSided)]
    pub alternative: AlternativeArg,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `abforge calibrate`.
///
/// Each experiment draws its customers from the blueprint (each replication from its own
/// seeded stream, so the result does not depend on the thread count), runs every applicable
/// test on every metric and treatment arm, and judges each decision against that test's own
/// null in the truth (`abforge truth`). Group sizes are fixed at the blueprint's allocation.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub source: BlueprintSource,
    /// Simulated experiments; accepts 1e4 and 10_000.
    #[arg(long, short = 'r', value_name = "R", default_value = "1000", value_parser = parse_count)]
    pub replications: u64,
    /// Significance level of every test.
    #[arg(long, value_name = "A", default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Look at each experiment K times (after 1/K, 2/K, … of its customers): a fixed-horizon
    /// test that rejects at any look has rejected (naive peeking); the mSPRT and the
    /// confidence sequence stay valid, and the group-sequential tests spend α over the looks.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub peeks: u32,
    /// Tests to run, comma-separated [default: welch_t, student_t, mann_whitney_u,
    /// two_proportion_z, chi_square_yates, poisson_rate, relative_lift, cuped, bayes, msprt,
    /// each where it applies; plus the bootstrap and permutation tests with --bootstrap,
    /// --permutations]. Also confidence_sequence, bootstrap_percentile, bootstrap_bca,
    /// bootstrap_lift_percentile, bootstrap_lift_bca, permutation, quantile_median,
    /// quantile_bootstrap (continuous metrics), fieller, regression_hc2, cupac (metrics with a pre_period twin),
    /// group_sequential_obf, group_sequential_pocock (designed for the --peeks looks),
    /// cluster_robust (blueprints that randomise whole clusters), winsorized_welch (capped at
    /// the pooled 99th percentile).
    #[arg(long, value_name = "TEST,...", value_delimiter = ',')]
    pub tests: Vec<abforge_lab::Method>,
    /// Metric to calibrate (repeat for several) [default: every metric].
    #[arg(long, short = 'm', value_name = "NAME")]
    pub metric: Vec<String>,
    /// Bootstrap resamples per experiment (adds the bootstrap intervals; 1000 when a
    /// bootstrap test is named in --tests without it).
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u32).range(10..))]
    pub bootstrap: Option<u32>,
    /// Permutations per experiment (adds the permutation test).
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(10..))]
    pub permutations: Option<u32>,
    /// A power curve: calibrate at STEPS values of PARAM from FROM to TO. PARAM is
    /// `customers`, `metrics.<metric>.<group>.lift` (or `.lift_abs`, or a distribution
    /// parameter such as `.lambda`), `metrics.<metric>.zero_inflation` or
    /// `metrics.<metric>.pre_period.correlation`; e.g. `customers=200..5000:10`,
    /// `metrics.revenue.treatment.lift=0..0.2:9`.
    #[arg(long, value_name = "PARAM=FROM..TO:STEPS")]
    pub sweep: Option<abforge_lab::SweepSpec>,
    /// Draw the rejection rates with their intervals (or the power curves of --sweep) to an
    /// SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// The mSPRT's mixing standard deviation τ, in units of the metric's standard deviation.
    #[arg(long, value_name = "SD", default_value_t = 0.1, value_parser = parse_positive)]
    pub msprt_mixing_sd: f64,
    /// Level of the sample-ratio checks (the χ² test at the last look and at every look, and
    /// the sequential test), judged against the blueprint's `[actual_groups]`; the default is
    /// the threshold of `abforge analyze`.
    #[arg(long, value_name = "A", default_value_t = abforge_lab::DEFAULT_SRM_ALPHA, value_parser = parse_alpha)]
    pub srm_alpha: f64,
    /// The prior of the Bayesian test (bayes): `flat`, as `abforge analyze` has it, or
    /// `blueprint`: for each arm whose lift is drawn from a normal prior, that prior, on the
    /// difference of the means (its claims are then calibrated by construction).
    #[arg(long, value_enum, value_name = "PRIOR", default_value = "flat")]
    pub bayes_prior: BayesPriorArg,
    /// A prior of one metric's Bayesian test, in every treatment arm (repeat for several):
    /// `METRIC=normal:MEAN,SD` on the difference of the means, or `METRIC=beta:A,B` on each
    /// rate of a 0/1 metric. It overrides --bayes-prior for that metric.
    #[arg(long, value_name = "METRIC=LAW:A,B")]
    pub prior: Vec<abforge_lab::MetricPrior>,
    /// An external A/B engine judged beside abforge's tests, through the engine protocol
    /// (docs/engine-protocol.md): a shipped adapter by name (tea-tasting, gbstats,
    /// spotify-confidence, scipy, noop; run by ABFORGE_ENGINE_PYTHON, else the venv of
    /// scripts/engines-venv.sh, from ABFORGE_ENGINES_DIR, else ./engines) or any command.
    #[arg(long, value_name = "NAME|CMD")]
    pub engine: Option<String>,
    /// Longest wait for one line of the engine, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = parse_positive)]
    pub engine_timeout: f64,
    /// Worker threads [default: one per core]. The result does not depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Also write the results to the lake's `gold/calibration` table (one row per sweep
    /// value × metric × arm × test), replacing an earlier publication of the same blueprint
    /// and settings. The lake is on the object store of --data-dir / --object-store-url.
    #[arg(long)]
    pub publish: bool,
    /// Configuration file, for --publish [default: ABFORGE_CONFIG, else ./abforge.toml].
    #[arg(long, value_name = "FILE", requires = "publish")]
    pub config: Option<PathBuf>,
    /// Data folder, for --publish (ABFORGE_DATA_DIR) [default: ./abforge-data].
    #[arg(long, value_name = "DIR", requires = "publish")]
    pub data_dir: Option<PathBuf>,
    /// Object store, for --publish: s3://bucket/prefix or file:///path
    /// (ABFORGE_OBJECT_STORE_URL) [default: DATA/objects].
    #[arg(long, value_name = "URL", requires = "publish")]
    pub object_store_url: Option<String>,
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!(
            "{s:?} is not allowed; expected a number strictly between 0 and 1"
        )),
    }
}

/// `UPPER` or `LOWER,UPPER` as numbers; their ranges are checked by the analysis.
fn parse_winsorize(s: &str) -> Result<abforge_stats::WinsorOptions, String> {
    let number = |t: &str| {
        t.trim().parse::<f64>().map_err(|_| {
            format!("{s:?} is not allowed; expected UPPER (0.99) or LOWER,UPPER (0.01,0.99)")
        })
    };
    match s.split_once(',') {
        None => Ok(abforge_stats::WinsorOptions {
            lower: None,
            upper: Some(number(s)?),
        }),
        Some((lo, hi)) => Ok(abforge_stats::WinsorOptions {
            lower: Some(number(lo)?),
            upper: Some(number(hi)?),
        }),
    }
}

fn parse_positive(s: &str) -> Result<f64, String> {
    match s.replace('_', "").parse::<f64>() {
        Ok(a) if a > 0.0 && a.is_finite() => Ok(a),
        _ => Err(format!("{s:?} is not allowed; expected a positive number")),
    }
}

/// A ratio metric: numerator and denominator columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatioArg {
    /// Numerator column.
    pub numerator: String,
    /// Denominator column.
    pub denominator: String,
}

fn parse_ratio(s: &str) -> Result<RatioArg, String> {
    match s.split_once('/') {
        Some((n, d)) if !n.trim().is_empty() && !d.trim().is_empty() && !d.contains('/') => {
            Ok(RatioArg {
                numerator: n.trim().to_string(),
                denominator: d.trim().to_string(),
            })
        }
        _ => Err(format!(
            "{s:?} is not allowed; expected NUMERATOR/DENOMINATOR column names, e.g. revenue/items"
        )),
    }
}

/// Planned allocation weights by group (positive; normalised where used).
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation(pub Vec<(String, f64)>);

/// Parses `control=1,treatment=1` (weights, positive; normalised later).
fn parse_allocation(s: &str) -> Result<Allocation, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (g, w) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not GROUP=WEIGHT (e.g. control=1,treatment=1)"))?;
        let g = g.trim().to_string();
        let w = parse_positive(w.trim()).map_err(|e| format!("weight of {g}: {e}"))?;
        if out.iter().any(|(x, _)| *x == g) {
            return Err(format!("group {g:?} is given twice"));
        }
        out.push((g, w));
    }
    if out.len() < 2 {
        return Err(format!(
            "{s:?} is not allowed; expected at least two groups, e.g. control=1,treatment=1"
        ));
    }
    Ok(Allocation(out))
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

/// `abforge serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The first line on stdout is the
    /// address bound, `listening on http://IP:PORT`.
    #[arg(
        long,
        value_name = "IP:PORT",
        default_value = "127.0.0.1:8080",
        env = EnvVars::ABFORGE_API_ADDR
    )]
    pub addr: std::net::SocketAddr,
    /// Object store: s3://bucket/prefix, file:///path or memory:// [default: the data
    /// folder's objects/].
    #[arg(long, value_name = "URL", env = EnvVars::ABFORGE_OBJECT_STORE_URL)]
    pub object_store_url: Option<String>,
    /// Data folder [default: ./abforge-data].
    #[arg(long, value_name = "DIR", env = EnvVars::ABFORGE_DATA_DIR)]
    pub data_dir: Option<PathBuf>,
    /// Run log the dashboard shows each run's steps from: sqlite:///path, dynamodb://table
    /// or postgres://… (ABFORGE_RUN_LOG_URL) [default: sqlite://DATA/abforge.sqlite].
    #[arg(long, value_name = "URL")]
    pub run_log_url: Option<String>,
    /// Configuration file [default: ABFORGE_CONFIG, else ./abforge.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A host name requests may be addressed to (the Host header), besides the loopback
    /// names; repeat for more, `*` for any. Others get 421, which stops DNS rebinding
    /// (ABFORGE_API_ALLOWED_HOSTS: comma-separated, added to these).
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// Seconds a client has to send a request's headers, and an idle keep-alive
    /// connection stays open.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_connections: u64,
}

/// Where the pipeline's backends are; each flag beats its ABFORGE_* variable, which beats
/// abforge.toml, which beats the default.
#[derive(Debug, Args, Clone, Default)]
pub struct Backends {
    /// Configuration file [default: ABFORGE_CONFIG, else ./abforge.toml when it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data folder (ABFORGE_DATA_DIR) [default: ./abforge-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Relational store: sqlite:///path or postgres://user:pass@host:port/db
    /// (ABFORGE_DATABASE_URL) [default: sqlite://DATA/abforge.sqlite].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Run log: sqlite:///path, dynamodb://table or postgres://… (ABFORGE_RUN_LOG_URL)
    /// [default: sqlite://DATA/abforge.sqlite].
    #[arg(long, value_name = "URL")]
    pub run_log_url: Option<String>,
    /// Object store: s3://bucket/prefix, file:///path or memory:// (ABFORGE_OBJECT_STORE_URL)
    /// [default: DATA/objects].
    #[arg(long, value_name = "URL")]
    pub object_store_url: Option<String>,
    /// Params API base URL, e.g. http://127.0.0.1:8080 (ABFORGE_API_URL) [default: an
    /// in-process API on a loopback port].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
}

/// `abforge pipeline`.
#[derive(Debug, Args)]
pub struct PipelineNamespace {
    /// What to do.
    #[command(subcommand)]
    pub command: PipelineCommand,
}

/// The pipeline's subcommands.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Run every step of one run (an experiment on a date). The run id derives from the
    /// experiment and the date, so running a date again replaces that run (never
    /// duplicates); a run that failed resumes from the step that failed. Generate lands the
    /// customers in the relational store as it makes them (the rows appear once its Parquet
    /// part is complete). Exit 1 when a step fails.
    Run(PipelineRunArgs),
    /// Run one step alone, as an external scheduler does: generate and land take --shard.
    Step(PipelineStepArgs),
    /// Run every date of a range in order (--from to --to, every --every), skipping dates
    /// whose run already succeeded with the same blueprint: run it again after a kill and it
    /// goes on where it stopped. A failed date does not stop the others (unless
    /// --fail-fast); exit 1 when any failed.
    Backfill(PipelineBackfillArgs),
}

/// `abforge pipeline run`.
#[derive(Debug, Args)]
pub struct PipelineRunArgs {
    /// Blueprint file (ABFORGE_BLUEPRINT) [default: examples/seed.toml].
    #[arg(long, short = 'b', value_name = "FILE")]
    pub blueprint: Option<PathBuf>,
    /// The run date, YYYY-MM-DD [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    pub run_date: Option<chrono::NaiveDate>,
    /// Attempts per step when a backend fails transiently (ABFORGE_RETRY_ATTEMPTS) [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: Option<u32>,
    /// Print the run report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backends: Backends,
}

/// `abforge pipeline step`.
#[derive(Debug, Args)]
pub struct PipelineStepArgs {
    /// The step: generate, land, publish, bronze, silver, gold or analyze.
    #[arg(value_name = "STEP")]
    pub step: abforge_pipeline::Step,
    /// The run date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub run_date: chrono::NaiveDate,
    /// Run on shard K of N (0 <= K < N; generate and land only). Landing the N shards
    /// equals landing the whole; generate and land must use the same N.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Blueprint file (ABFORGE_BLUEPRINT) [default: examples/seed.toml].
    #[arg(long, short = 'b', value_name = "FILE")]
    pub blueprint: Option<PathBuf>,
    /// Attempts when a backend fails transiently (ABFORGE_RETRY_ATTEMPTS) [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: Option<u32>,
    /// Print the step report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backends: Backends,
}

/// `abforge runs`.
#[derive(Debug, Args)]
pub struct RunsNamespace {
    /// What to show.
    #[command(subcommand)]
    pub command: RunsCommand,
}

/// The subcommands of `abforge runs`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Every run in the run log, newest first.
    List {
        /// At most this many runs.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100000))]
        limit: u32,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
    /// One run: its parameters, every step attempt, and its decisions against the truth.
    Show {
        /// The run id (as `runs list` shows it, e.g. seed-20261123).
        run: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
}

/// `abforge lake`.
#[derive(Debug, Args)]
pub struct LakeNamespace {
    /// What to do.
    #[command(subcommand)]
    pub command: LakeCommand,
}

/// The subcommands of `abforge lake`. TABLE is one of bronze_customers, silver_customers,
/// silver_quarantine, gold_group_daily, gold_group_quantiles, gold_ab_results,
/// gold_calibration.
#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Every table: its URL, latest version, files, partitioning and Delta protocol.
    Tables {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
    /// A table's commits, newest first, with the run and blueprint hash that made each.
    History {
        /// The table.
        #[arg(value_name = "TABLE")]
        table: abforge_lake::Table,
        /// At most this many commits.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100000))]
        limit: u32,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
    /// Run SQL (DataFusion's dialect) on the tables, registered by name.
    #[command(disable_version_flag = true)]
    Query {
        /// The query, e.g. "SELECT \"group\", SUM(n) FROM gold_group_daily GROUP BY 1".
        #[arg(value_name = "SQL")]
        sql: String,
        /// Read every table at this version (time travel); a table without it is left out.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        /// JSON (an array of row objects) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
    /// Delete the data files no version newer than the retention uses, in every table.
    Vacuum {
        /// Keep the files of the versions of the last HOURS hours (time travel reaches back
        /// that far).
        #[arg(long, value_name = "HOURS", default_value_t = 168)]
        retention_hours: u32,
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
    /// Compact each table's small files into larger ones (a new version per table).
    Optimize {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        backends: Backends,
    },
}

/// `abforge pipeline backfill`.
#[derive(Debug, Args)]
pub struct PipelineBackfillArgs {
    /// The first run date, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub from: chrono::NaiveDate,
    /// The last run date, YYYY-MM-DD: included when the steps land on it.
    #[arg(long, value_name = "DATE")]
    pub to: chrono::NaiveDate,
    /// Days or weeks between run dates: Nd or Nw (7d, 1d, 2w).
    #[arg(long, value_name = "STEP", default_value = "7d")]
    pub every: String,
    /// Blueprint file (ABFORGE_BLUEPRINT) [default: examples/seed.toml].
    #[arg(long, short = 'b', value_name = "FILE")]
    pub blueprint: Option<PathBuf>,
    /// Stop at the first date that fails rather than going on with the next.
    #[arg(long)]
    pub fail_fast: bool,
    /// Attempts per step when a backend fails transiently (ABFORGE_RETRY_ATTEMPTS) [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: Option<u32>,
    /// Print the report as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backends: Backends,
}

/// `abforge schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// When: a cron expression, 5 fields (minute hour day-of-month month day-of-week) or 6
    /// with seconds first; names (MON, JAN), ranges, steps, lists, L, #, W, @weekly.
    #[arg(long, value_name = "EXPR", default_value = abforge_pipeline::schedule::DEFAULT_CRON)]
    pub cron: String,
    /// The time zone the expression is read in, which also gives a tick its run date: UTC, a
    /// fixed offset such as +02:00 or -05:30, or an IANA zone such as Europe/Paris (with its
    /// daylight-saving rules).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub tz: String,
    /// A blueprint to run at each tick; repeat for several (ABFORGE_BLUEPRINT) [default:
    /// examples/seed.toml]. Each file is read again at every tick.
    #[arg(long, short = 'b', value_name = "FILE")]
    pub blueprint: Vec<PathBuf>,
    /// Run every tick missed while no scheduler ran, oldest first.
    #[arg(long, conflicts_with = "skip_missed")]
    pub catch_up: bool,
    /// Record missed ticks as skipped and run only the latest (the default).
    #[arg(long)]
    pub skip_missed: bool,
    /// Handle the ticks due now — on a first start, the latest at or before now — then exit
    /// (exit 1 if a run failed).
    #[arg(long)]
    pub once: bool,
    /// The schedule's name: its ticks are recorded under it, so a restarted scheduler knows
    /// which it missed.
    #[arg(long, value_name = "NAME", default_value = abforge_pipeline::schedule::DEFAULT_NAME)]
    pub name: String,
    /// Pretend the clock reads TIME at start (RFC 3339, e.g. 2026-11-23T08:59:50Z) and runs
    /// on from there at the real pace: to try a schedule out.
    #[arg(long, value_name = "TIME")]
    pub now: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// The lease of the scheduler lock in seconds: renewed every third of it while a tick
    /// runs; a scheduler that dies holds the lock this long at most.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..=86400))]
    pub lease: u64,
    /// Attempts per step when a backend fails transiently (ABFORGE_RETRY_ATTEMPTS) [default: 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: Option<u32>,
    #[command(flatten)]
    pub backends: Backends,
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
