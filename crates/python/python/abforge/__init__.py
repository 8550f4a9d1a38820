"""abforge: synthetic A/B experiments whose truth is known, their analysis, and the
calibration of A/B tests, with abforge's Rust core.

The distribution is ``abforge-lab`` (``pip install abforge-lab``); the import name is
``abforge``.

* :class:`Blueprint` — an experiment's blueprint: ``Blueprint.from_toml(path_or_text)``,
  ``Blueprint.from_dict(d)``; ``.resolve()``, ``.truth()``, ``.to_toml()``;
  ``.generate()`` gives its customers as a ``pyarrow.Table`` (zero-copy from Rust),
  ``.generate_batches()`` as a stream.
* :func:`analyze` — every applicable A/B test on a pandas or polars DataFrame or a pyarrow
  Table; the result's ``.to_dict()`` is ``abforge analyze --json``, ``.to_pandas()`` one row
  per metric × test, ``.judge(bp)`` the decisions against the truth.
* :func:`power` — sample size, power or minimum detectable effect.
* :func:`calibrate` — how often does each test decide right on a blueprint?
* :class:`BlueprintError` — every problem of an invalid blueprint, with its path.

Long calls release the GIL and stop on Ctrl-C.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from . import _abforge
from ._abforge import Analysis, Blueprint, BlueprintError, Calibration

__version__: str = _abforge.__version__

__all__ = [
    "Analysis",
    "Blueprint",
    "BlueprintError",
    "Calibration",
    "analyze",
    "calibrate",
    "power",
    "__version__",
]


def _as_arrow(data: Any) -> Any:
    """``data`` as an object with ``__arrow_c_stream__``: a pandas DataFrame is converted
    by pyarrow (without its index); polars frames and pyarrow Tables cross as they are."""
    module = type(data).__module__
    if module.startswith("pandas") and type(data).__name__ == "DataFrame":
        import pyarrow as pa

        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return data
    if module.startswith("polars") and hasattr(data, "to_arrow"):
        return data.to_arrow()
    raise TypeError(
        "data: expected a pandas or polars DataFrame or a pyarrow Table (anything with "
        f"__arrow_c_stream__), not {type(data).__name__}"
    )


def analyze(
    data: Any,
    metrics: str | Sequence[str] | None = None,
    group: str = "group",
    control: str = "control",
    alpha: float = 0.05,
    tests: str | Sequence[str] | None = None,
    *,
    treatment: str | Sequence[str] | None = None,
    alternative: str = "two-sided",
    margin: float | None = None,
    correction: str = "holm",
    bootstrap: int | None = None,
    permutations: int | None = None,
    seed: int = 0,
    ratios: Sequence[str | tuple[str, str]] | None = None,
    allocation: Mapping[str, float] | None = None,
    quantiles: Sequence[float] | None = None,
    cluster: str | None = None,
    priors: Mapping[str, str] | None = None,
    blueprint: Blueprint | None = None,
    name: str = "data",
) -> Analysis:
    """Runs every applicable A/B test on every metric × treatment arm of ``data``: what
    ``abforge analyze`` runs on a file.

    ``data`` is a pandas or polars DataFrame or a pyarrow Table (anything with
    ``__arrow_c_stream__``), one row per customer. Arrow data crosses without a copy; a
    pandas frame is converted by pyarrow first (its index is dropped).

    Parameters
    ----------
    metrics: the metric columns; default every numeric column but the group column, ids
        (``id``, ``*_id``) and ``pre_<metric>`` covariates (used by CUPED and the regression
        adjustment).
    group: the column of group labels.
    control: the control group's label.
    alpha: significance level of every test, in (0, 1).
    tests: which tests' rows ``to_pandas()`` and ``decisions()`` give (names as their
        ``test`` column: ``welch_t``, ``mann_whitney_u``, ``poisson_rate`` …); default all.
        ``to_dict()`` always has every test.
    treatment: the arm(s) compared with the control; default ``treatment`` when present,
        else every other group.
    alternative: ``"two-sided"``, ``"greater"`` or ``"less"``.
    margin: a non-inferiority margin on the mean difference (> 0).
    correction: ``"holm"``, ``"bonferroni"``, ``"bh"`` or ``"none"``, across metrics × arms.
    bootstrap, permutations: resamples of the bootstrap and the permutation test (seeded
        with ``seed``); none by default.
    ratios: ratio metrics, ``"NUM/DEN"`` or ``(NUM, DEN)``.
    allocation: planned weights by group for the sample-ratio check, ``{group: weight}``;
        default the blueprint's (when known), else equal.
    quantiles: probabilities whose quantile difference is tested besides the median.
    cluster: the column of cluster ids for the cluster-robust test (default ``cluster_id``
        when present).
    priors: priors of the Bayesian comparison, ``{metric: "normal:MEAN,SD" | "beta:A,B"}``.
    blueprint: the experiment's :class:`Blueprint`, to judge each decision against its
        truth (a table from ``Blueprint.generate`` carries its blueprint already).
    name: the data's name in the report (its ``input``).

    Returns an :class:`Analysis`. Raises ``TypeError`` for data that is not tabular and
    ``ValueError`` naming the parameter or column for bad input (a missing column or group,
    a column that is not numeric, a null or non-finite value …). Releases the GIL;
    Ctrl-C interrupts it.
    """
    return _abforge.analyze(
        _as_arrow(data),
        metrics,
        group,
        control,
        alpha,
        tests,
        treatment=treatment,
        alternative=alternative,
        margin=margin,
        correction=correction,
        bootstrap=bootstrap,
        permutations=permutations,
        seed=seed,
        ratios=ratios,
        allocation=allocation,
        quantiles=quantiles,
        cluster=cluster,
        priors=priors,
        blueprint=blueprint,
        name=name,
    )


def power(
    test: str,
    *,
    effect_size: float | None = None,
    diff: float | None = None,
    sd: float | None = None,
    control: float | None = None,
    treatment: float | None = None,
    n: float | None = None,
    power: float | None = None,
    ratio: float = 1.0,
    alpha: float = 0.05,
    alternative: str = "two-sided",
) -> dict[str, Any]:
    """Sample size, power or minimum detectable effect: what ``abforge power`` computes.

    ``test`` is ``"t"`` (two-sample t-test; the effect is Cohen's d as ``effect_size``, or
    ``diff`` with ``sd``), ``"proportions"`` (``control`` and ``treatment`` conversion
    rates) or ``"poisson"`` (``control`` and ``treatment`` rates per customer). Give two of
    the effect, ``n`` (treatment customers; the control has ``ratio`` times as many) and
    ``power``; the third is solved for.

    Returns the dict of ``abforge power --json``: ``test``, ``solved`` (``sample_size``,
    ``power`` or ``mde``), ``alpha``, ``alternative``, ``ratio``, ``nobs1``,
    ``n_treatment``, ``n_control``, ``n_total``, ``power``, ``effect_size``, ``effect``,
    ``effect_is``. Raises ``ValueError`` naming the parameter out of range.
    """
    return _abforge.power(
        test,
        effect_size=effect_size,
        diff=diff,
        sd=sd,
        control=control,
        treatment=treatment,
        n=n,
        power=power,
        ratio=ratio,
        alpha=alpha,
        alternative=alternative,
    )


def calibrate(
    blueprint: Blueprint,
    replications: int = 1000,
    *,
    customers: int | None = None,
    seed: int | None = None,
    alpha: float = 0.05,
    peeks: int = 1,
    tests: str | Sequence[str] | None = None,
    metrics: str | Sequence[str] | None = None,
    bootstrap: int | None = None,
    permutations: int | None = None,
    priors: Mapping[str, str] | None = None,
    srm_alpha: float = 0.001,
) -> Calibration:
    """Simulates ``replications`` experiments from ``blueprint`` and judges every test's
    decisions against the known truth: what ``abforge calibrate`` runs.

    Parameters
    ----------
    customers: customers per experiment (default the blueprint's).
    seed: seed of the run (default the blueprint's); one seed gives one report, whatever
        the thread count.
    alpha: level of every test.
    peeks: looks at each experiment (naive peeking for fixed-horizon tests).
    tests: the tests, as ``abforge calibrate --tests`` names them (``welch_t``,
        ``mann_whitney_u``, ``bayes`` …); default the standard set.
    metrics: the metrics to calibrate (default all).
    bootstrap, permutations: resamples of the bootstrap and permutation tests.
    priors: priors of the Bayesian test, ``{metric: "normal:MEAN,SD" | "beta:A,B"}``.
    srm_alpha: level of the sample-ratio checks.

    Returns a :class:`Calibration` (``to_dict()`` is ``abforge calibrate --json``,
    ``to_pandas()`` one row per metric × arm × test, ``svg()`` the calibration plot).
    Releases the GIL; Ctrl-C stops it.
    """
    return _abforge.calibrate(
        blueprint,
        replications,
        customers=customers,
        seed=seed,
        alpha=alpha,
        peeks=peeks,
        tests=tests,
        metrics=metrics,
        bootstrap=bootstrap,
        permutations=permutations,
        priors=priors,
        srm_alpha=srm_alpha,
    )
