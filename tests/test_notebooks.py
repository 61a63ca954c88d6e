"""The what-if notebook runs top to bottom on a fresh kernel and is committed without outputs."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOK = REPO / "notebooks" / "texas_what_if.ipynb"


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_committed_without_outputs(notebook):
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the notebook has code cells"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), \
        "clear the outputs before committing (e.g. jupyter nbconvert --clear-output --inplace)"


def test_runs_on_a_fresh_kernel(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("TERRITORY_NOTEBOOK_OUT", str(tmp_path))
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    html = [out["data"].get("text/html", "") for out in outputs if "data" in out]
    assert sum("<iframe srcdoc=" in page for page in html) == 2, "a map and the report are shown inline"
    assert any("image/png" in out.get("data", {}) for out in outputs), "the trade-off chart is drawn"
    rows = (tmp_path / "comparison" / "comparison.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[1].startswith("texas-counties,")
    assert (tmp_path / "runs" / "texas-counties--manager_edit" / "summary.json").exists()
