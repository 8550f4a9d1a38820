//! Libraries name a bad input by its field ([`abforge_env::Invalid`]); the command line shows
//! the flag it came from.

use abforge_env::Invalid;

/// Fields whose flag is not `--` and the field with `-` for `_`.
const RENAMED: &[(&str, &str)] = &[
    ("metrics", "--metric"),
    ("ratios", "--ratio"),
    ("quantiles", "--quantile"),
    ("priors", "--prior"),
    ("methods", "--tests"),
    ("bootstrap_resamples", "--bootstrap"),
    ("permutation_resamples", "--permutations"),
    ("retry.attempts", "--attempts"),
];

/// The flag of `field`.
pub fn flag(field: &str) -> String {
    RENAMED.iter().find(|(f, _)| *f == field).map_or_else(
        || format!("--{}", field.replace('_', "-")),
        |(_, fl)| fl.to_string(),
    )
}

/// `text` (an error's message) with `invalid`'s message, if any, naming its flag rather than
/// its field.
pub fn with_flag(text: String, invalid: Option<&Invalid>) -> String {
    match invalid {
        Some(i) => {
            let flag = flag(i.field);
            text.replacen(&i.to_string(), &i.display_as(&flag).to_string(), 1)
        }
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every long flag of every (sub)command.
    fn all_flags(cmd: &clap::Command, out: &mut Vec<String>) {
        out.extend(
            cmd.get_arguments()
                .filter_map(|a| a.get_long().map(|l| format!("--{l}"))),
        );
        for sub in cmd.get_subcommands() {
            all_flags(sub, out);
        }
    }

    #[test]
    fn every_field_libraries_name_is_a_flag() {
        let mut flags = Vec::new();
        all_flags(&crate::cli::Cli::command(), &mut flags);
        let fields = [
            // abforge_analysis::Options and Columns
            "input",
            "metrics",
            "group_column",
            "control",
            "treatment",
            "alpha",
            "margin",
            "ratios",
            "allocation",
            "quantiles",
            "cluster_column",
            "priors",
            // abforge_lab::LabOptions and sweeps
            "blueprint",
            "replications",
            "customers",
            "peeks",
            "methods",
            "bootstrap_resamples",
            "permutation_resamples",
            "msprt_mixing_sd",
            "bayes_prior",
            "priors",
            "engine",
            "srm_alpha",
            "sweep",
            // abforge_analysis::power::PowerRequest ("alpha", "control", "treatment" above)
            "n",
            "power",
            "ratio",
            "sd",
            // abforge_pipeline: settings, backfill, schedule, steps
            "data_dir",
            "database_url",
            "run_log_url",
            "object_store_url",
            "api_url",
            "blueprint",
            "retry.attempts",
            "every",
            "from",
            "tz",
            "cron",
            "name",
            "shard",
        ];
        for field in fields {
            let f = flag(field);
            assert!(flags.contains(&f), "{field}: no flag {f}");
        }
    }

    #[test]
    fn arguments_show_their_flag_and_variables_their_name() {
        let i = Invalid::new("metrics", "no such metric").value("x");
        let text = format!("reading data: {i}");
        assert_eq!(
            with_flag(text, Some(&i)),
            "reading data: --metric x: no such metric"
        );
        let env = Invalid::new("retry.attempts", "0 is not allowed")
            .given(abforge_env::Given::Env("ABFORGE_RETRY_ATTEMPTS"));
        assert_eq!(
            with_flag(env.to_string(), Some(&env)),
            "ABFORGE_RETRY_ATTEMPTS: 0 is not allowed"
        );
    }
}
