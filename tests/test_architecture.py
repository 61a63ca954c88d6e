"""The house plan holds: the layering of pyproject's ``[tool.importlinter]`` contracts (checked by
``lint-imports``), and no module of the engine uses another module's private (underscore) names."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


def _lint_imports() -> str:
    found = Path(sys.executable).with_name("lint-imports")
    return str(found) if found.exists() else shutil.which("lint-imports") or "lint-imports"


def test_import_contracts_are_kept():
    done = subprocess.run([_lint_imports(), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _modules() -> list[Path]:
    return sorted([*(REPO / "optimizer").rglob("*.py"), *(REPO / "models").rglob("*.py")])


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_imports_another_modules_private_names():
    offences = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] in ("optimizer", "models") and node.module != _module_name(path):
                    offences += [f"{path.relative_to(REPO)}:{node.lineno} imports {node.module}.{a.name}"
                                 for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offences, "make the name public where it is defined, or move it:\n" + "\n".join(offences)


def test_no_module_of_the_engine_is_much_over_400_lines():
    long = [f"{p.relative_to(REPO)}: {n} lines" for p in (REPO / "optimizer").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, "split by concern:\n" + "\n".join(long)


def test_the_top_of_the_engine_shows_packages():
    modules = sorted(p.name for p in (REPO / "optimizer").glob("*.py"))
    assert modules == ["__init__.py", "api.py"], modules
