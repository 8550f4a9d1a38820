"""Type stubs of the compiled core of ``abforge`` (the Rust extension module)."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import pandas
import pyarrow

__version__: str

class BlueprintError(ValueError):
    """A blueprint that is not valid; ``problems`` lists every problem, in document order,
    as ``(path, message)`` pairs (``path`` is the dotted path of the field, empty for the
    document as a whole)."""

    problems: list[tuple[str, str]]

class Blueprint:
    """An A/B experiment's blueprint: its groups, attributes and the law of every metric in
    every group. Validated when made."""

    @staticmethod
    def from_toml(source: str | os.PathLike[str]) -> Blueprint:
        """Reads a TOML blueprint from a path (a ``.json`` file is read as JSON) or from
        the TOML text. Raises ``BlueprintError`` listing every problem."""
    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Blueprint:
        """Validates a blueprint given as a dict in the structure of the TOML format."""
    def to_dict(self) -> dict[str, Any]:
        """The blueprint as a dict, in the structure ``from_dict`` reads."""
    def to_toml(self) -> str:
        """The blueprint as TOML text; ``from_toml`` reads it back to an equal blueprint."""
    def resolve(self) -> Blueprint:
        """The resolved blueprint: every ``choose`` drawn, every lift made explicit."""
    def truth(self) -> dict[str, Any]:
        """The ground truth: the document of ``abforge truth --json``."""
    def generate(
        self,
        customers: int | None = None,
        seed: int | None = None,
        shard: str | tuple[int, int] | None = None,
    ) -> pyarrow.Table:
        """The customers as a ``pyarrow.Table``, handed over without a copy."""
    def generate_batches(
        self,
        customers: int | None = None,
        seed: int | None = None,
        shard: str | tuple[int, int] | None = None,
    ) -> pyarrow.RecordBatchReader:
        """The customers as a stream of 65 536-row record batches, drawn as read."""
    @property
    def id(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def customers(self) -> int: ...
    @property
    def control(self) -> str: ...
    @property
    def groups(self) -> list[tuple[str, float]]: ...
    @property
    def metrics(self) -> list[str]: ...
    @property
    def columns(self) -> list[str]: ...

class Analysis:
    """The result of ``abforge.analyze``."""

    def to_dict(self) -> dict[str, Any]:
        """The document of ``abforge analyze --json``."""
    def decisions(self) -> list[dict[str, Any]]:
        """One dict per metric × arm × test."""
    def to_pandas(self) -> pandas.DataFrame:
        """The decisions as a DataFrame, one row per metric × arm × test."""
    def judge(self, blueprint: Blueprint) -> Analysis:
        """The same analysis judged against the truth of ``blueprint``."""
    @property
    def rows(self) -> int: ...
    @property
    def srm_mismatch(self) -> bool: ...

class Calibration:
    """The report of ``abforge.calibrate``."""

    def to_dict(self) -> dict[str, Any]:
        """The document of ``abforge calibrate --json``."""
    def results(self) -> list[dict[str, Any]]:
        """One dict per metric × arm × test."""
    def to_pandas(self) -> pandas.DataFrame:
        """The results as a DataFrame, one row per metric × arm × test."""
    def svg(self) -> str:
        """The calibration plot, as SVG text."""
    @property
    def replications(self) -> int: ...

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
) -> Analysis: ...
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
) -> Calibration: ...
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
) -> dict[str, Any]: ...
