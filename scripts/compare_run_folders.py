"""Compare two run folders (or two sweep folders) file by file: are the plans and tables the same?

Usage::

    python scripts/compare_run_folders.py BEFORE AFTER [BEFORE2 AFTER2 ...]

Every file below each folder is compared: both folders must hold the same file names, and each CSV, JSON,
HTML and text file must be equal, except for what a repeated run may change without changing the plan:

- timings: JSON keys and CSV columns ``seconds``, ``elapsed``, ``finished`` and any ``*_seconds`` (such as
  ``task_seconds``, a stage's ``at_seconds``); in HTML, the cells of a table column headed ``seconds``;
- where a sweep ran: the ``worker`` column of ``sweep.csv`` and the ``retries`` count in ``sweep.json``;
- versions and the hash of the engine's source: the ``versions`` entry (it holds ``code_hash``);
- paths: any JSON string that is an absolute path.

Numbers are compared as written (the outputs are deterministic with threads and seeds pinned).
Prints one line per difference and exits 1 if there is any, else prints ``same: N files`` and exits 0.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path

TIMING_KEYS = {"seconds", "elapsed", "task_seconds", "finished"}
RUN_KEYS = {"retries", "worker"}  # where and how often a sweep's tasks ran
IGNORED_KEYS = TIMING_KEYS | RUN_KEYS | {"versions", "code_hash"}
TABLE = re.compile(r"<table>.*?</table>", re.S)
HEADER_CELL = re.compile(r"<th[^>]*>(.*?)</th>", re.S)
ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
CELL = re.compile(r"(<td[^>]*>)(.*?)(</td>)", re.S)


def _ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.endswith("_seconds")


def _mask_timing_columns(table: re.Match) -> str:
    """A table with the cells of its ``seconds`` columns blanked."""
    text = table.group(0)
    head = text.split("</thead>", 1)[0] if "</thead>" in text else ""
    timing = {i for i, name in enumerate(HEADER_CELL.findall(head)) if name.strip() in TIMING_KEYS}
    if not timing:
        return text

    def row(match: re.Match) -> str:
        cells = iter(range(10**6))
        return CELL.sub(lambda c: c.group(1) + ("<s>" if next(cells) in timing else c.group(2)) + c.group(3),
                        match.group(0))

    return head + ROW.sub(row, text[len(head):]) if head else text


def _clean_json(value: object) -> object:
    if isinstance(value, dict):
        return {key: _clean_json(item) for key, item in value.items() if not _ignored(key)}
    if isinstance(value, list):
        return [_clean_json(item) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        return "<path>"
    return value


def _json_diff(a: object, b: object, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{key}: only in {'before' if key in a else 'after'}" for key in sorted(set(a) ^ set(b))]
        for key in sorted(set(a) & set(b)):
            out += _json_diff(a[key], b[key], f"{where}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items before, {len(b)} after"]
        return [line for i, (x, y) in enumerate(zip(a, b)) for line in _json_diff(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} before, {b!r} after"]


def _csv_rows(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{key: value for key, value in row.items() if not _ignored(key)} for row in rows]


def _csv_diff(a: str, b: str, where: str) -> list[str]:
    header_a, header_b = a.split("\n", 1)[0], b.split("\n", 1)[0]
    if header_a != header_b:
        return [f"{where}: header {header_a!r} before, {header_b!r} after"]
    rows_a, rows_b = _csv_rows(a), _csv_rows(b)
    if len(rows_a) != len(rows_b):
        return [f"{where}: {len(rows_a)} rows before, {len(rows_b)} after"]
    return [f"{where} row {i + 2}: {x} before, {y} after" for i, (x, y) in enumerate(zip(rows_a, rows_b)) if x != y]


def _text_diff(a: str, b: str, where: str) -> list[str]:
    if where.endswith(".html"):
        a, b = TABLE.sub(_mask_timing_columns, a), TABLE.sub(_mask_timing_columns, b)
    lines_a, lines_b = a.splitlines(), b.splitlines()
    if len(lines_a) != len(lines_b):
        return [f"{where}: {len(lines_a)} lines before, {len(lines_b)} after"]
    out = []
    for i, (x, y) in enumerate(zip(lines_a, lines_b)):
        if x != y:
            out.append(f"{where} line {i + 1} differs: {x[:120]!r} before, {y[:120]!r} after")
    return out


def compare_files(a: Path, b: Path, where: str) -> list[str]:
    """The differences between two files of the same name, one line each."""
    if a.suffix == ".json":
        return _json_diff(_clean_json(json.loads(a.read_text())), _clean_json(json.loads(b.read_text())), where)
    text_a, text_b = a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")
    if a.suffix == ".csv":
        return _csv_diff(text_a, text_b, where)
    return _text_diff(text_a, text_b, where)


def compare_folders(before: Path, after: Path) -> tuple[int, list[str]]:
    """How many files were compared, and every difference."""
    names_a = {p.relative_to(before) for p in before.rglob("*") if p.is_file()}
    names_b = {p.relative_to(after) for p in after.rglob("*") if p.is_file()}
    out = [f"{after.name}/{name}: only in {'before' if name in names_a else 'after'}"
           for name in sorted(names_a ^ names_b)]
    for name in sorted(names_a & names_b):
        out += compare_files(before / name, after / name, f"{after.name}/{name}")
    return len(names_a & names_b), out


def main(argv: list[str]) -> int:
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    files, differences = 0, []
    for before, after in zip(argv[::2], argv[1::2]):
        count, found = compare_folders(Path(before), Path(after))
        files += count
        differences += found
    for line in differences:
        print(line)
    if differences:
        print(f"different: {len(differences)} differences in {files} files")
        return 1
    print(f"same: {files} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
