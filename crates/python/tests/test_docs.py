"""docs/python.md: its Python cells run, in order, in one namespace (a notebook); a cell that
imports a library not installed here (tea-tasting, matplotlib) is skipped, with the cells
after it."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

CELL = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_the_notebook_cells_run(monkeypatch, capsys):
    cells = CELL.findall((ROOT / "docs" / "python.md").read_text())
    assert len(cells) >= 6
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    skipped = []
    for cell in cells:
        try:
            exec(compile(cell, "docs/python.md", "exec"), namespace)
        except ModuleNotFoundError as e:
            if e.name not in ("tea_tasting", "matplotlib"):
                raise
            skipped.append(e.name)
    printed = capsys.readouterr().out
    assert 'id: "Checkout Test" is not allowed' in printed
    assert namespace["truth"]["metrics"][0]["effects"][0]["abs_effect"] == pytest.approx(0.4)
    assert set(namespace["table"]["test"]) == {"welch_t", "cuped", "mann_whitney_u"}
    if "tea_tasting" not in skipped:
        side = namespace["side_by_side"]
        welch = side[side["test"] == "welch_t"].iloc[0]
        assert welch["p_value"] == pytest.approx(welch["tea_tasting_p_value"], rel=1e-6)
        assert welch["estimate"] == pytest.approx(welch["tea_tasting_estimate"], rel=1e-9)
