"""Text a spreadsheet would run is written with a leading ``'`` and read back unchanged (issue 19)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.core.safe_csv import neutralise, neutralise_frame, restore, restore_frame
from tests.conftest import grid_units, write_scenario

PREFIXES = ("=", "+", "-", "@")


@pytest.mark.parametrize("text", ["=1+1", "+31 20", "-North", "@SUM(A1)", "\tTab", "\rCR", "'=already", "''-x"])
def test_formula_text_gets_one_quote_and_comes_back(text):
    written = neutralise(text)
    assert written == "'" + text
    assert restore(written) == text


@pytest.mark.parametrize("text", ["Harris", "T01", "48201", "", "'quoted", "a=b", " =spaced", "3-4"])
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text
    assert restore(text) == text


def test_numbers_stay_numbers_and_only_text_cells_change():
    frame = pd.DataFrame({"id": ["-T1", "T2", None], "value": [-3.5, 2.0, -1.0], "count": [-1, 2, 3],
                          "mixed": ["=x", -4.0, "y"], "=name": ["a", "b", "c"]})
    written = neutralise_frame(frame)
    assert written["id"].tolist()[:2] == ["'-T1", "T2"] and pd.isna(written["id"].iloc[2])
    assert written["value"].tolist() == [-3.5, 2.0, -1.0] and written["count"].dtype == frame["count"].dtype
    assert written["mixed"].tolist() == ["'=x", -4.0, "y"]
    assert "'=name" in written.columns and "=name" not in written.columns
    assert frame["id"].iloc[0] == "-T1", "the caller's table is not changed"
    pd.testing.assert_frame_equal(restore_frame(written), frame)


def dangerous_grid(tmp_path):
    """A 4 x 4 grid whose ids and names all start with characters a spreadsheet runs."""
    units = grid_units(4, 4, seed=3)
    units["unit_id"] = [f"{PREFIXES[i % 4]}U{i:02d}" for i in range(len(units))]
    units.loc[0, "unit_id"] = "'=U00"  # already quoted by hand: must come back with its quote
    units["name"] = [f'=HYPERLINK("http://example.com/{i}","Unit {i}")' if i % 2 else f"-Unit {i}"
                     for i in range(len(units))]
    path = tmp_path / "grid.gpkg"
    units.to_file(path, layer="units")
    return units, path


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def cells(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_run_writes_neutralised_text_that_evaluate_and_realignment_read_back(tmp_path):
    units, dataset = dangerous_grid(tmp_path)
    scenario = write_scenario(tmp_path, dataset, balance={"tolerance": 0.2})
    result = cli("run", scenario, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    rows = cells(tmp_path / "run" / "assignments.csv")
    written_ids = {row[0] for row in rows[1:]}
    assert written_ids == {"'" + uid for uid in units["unit_id"]}, "every id is written with one more quote"
    territories = cells(tmp_path / "run" / "territories.csv")
    header = territories[0]
    names = [row[header.index("base_name")] for row in territories[1:]]
    assert names and all(name.startswith("'=HYPERLINK") or name.startswith("'-Unit") for name in names)
    deviations = [row[header.index("deviation_pct")] for row in territories[1:]]
    assert any(value.startswith("-") for value in deviations), "a negative number is written as a number"
    assert all(float(value) == float(value) for value in deviations)

    plan = tmp_path / "run" / "assignments.csv"
    evaluated = cli("evaluate", scenario, plan, "--out", tmp_path / "eval")
    assert evaluated.exit_code == 0, evaluated.output
    assert cells(tmp_path / "eval" / "assignments.csv") == rows, "the plan read back to the same ids"

    realign = write_scenario(tmp_path, dataset, balance={"tolerance": 0.2},
                             realignment={"current_plan": str(plan), "max_moved_share": 0.5})
    moved = cli("run", realign, "--out", tmp_path / "realign", "--set", "territories.count=4")
    assert moved.exit_code == 0, moved.output
    moves = cells(tmp_path / "realign" / "moves.csv")
    assert len(moves) > 1 and all(row[0].startswith("'") for row in moves[1:])
