"""Fixtures of the Python package's tests: the repository's examples and the CLI built from
the same tree (ABFORGE_BIN), whose output the package must match."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


class Cli:
    """The `abforge` binary."""

    def __init__(self, path: str) -> None:
        self.path = path

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [self.path, "--quiet", *args], capture_output=True, text=True, check=False
        )
        if ok and p.returncode != 0:
            raise AssertionError(f"abforge {' '.join(args)} failed: {p.stderr}")
        return p

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)

    def error(self, *args: str) -> str:
        """The error message of a command that must fail with bad input (exit code 2)."""
        p = self.run(*args, ok=False)
        assert p.returncode == 2, (p.returncode, p.stderr)
        return p.stderr.strip()


@pytest.fixture(scope="session")
def cli() -> Cli:
    path = os.environ.get("ABFORGE_BIN")
    if not path or not Path(path).is_file():
        pytest.skip("ABFORGE_BIN names no abforge binary: the comparisons with the CLI do not run")
    return Cli(path)
