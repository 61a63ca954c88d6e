"""Reading a hand-edited plan: ``unit_id,territory_id[,share]``, one row per unit (several for a shared unit).

A manager typically opens a run's ``assignments.csv`` in a spreadsheet, moves some units and saves it. The
file is read with its own row numbers (row 1 is the header) so every problem names the row and the fix.
Problems that make the plan impossible to score are refused here, all of them in one message: a missing
column, an empty id, a share that is not a number, an unknown unit or territory id and a repeated
(unit, territory) row. Everything else (a unit missing or in two territories, shares that do not add up,
a territory outside its band) is a broken *rule*, scored and listed by :mod:`optimizer.alignment.evaluate`.

Leniencies, each of which a spreadsheet produces: a UTF-8 byte-order mark, ``;`` or tab as separator,
header names in any case, extra columns (ignored), an empty share (a whole unit), a share written as a
percentage (``40%``) and a decimal comma when the separator is not a comma. A cell the engine wrote with a
``'`` in front (text a spreadsheet would run, see :mod:`optimizer.core.safe_csv`) reads back without it.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from optimizer.core.errors import InputError
from optimizer.areas.unit_ids import unit_id_hint
from optimizer.core.input_files import require_file
from optimizer.core.safe_csv import restore

REQUIRED = ("unit_id", "territory_id")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_LISTED = 8


def read_plan(path: Path, unit_ids: Sequence[str], territory_ids: Sequence[str]) -> pd.DataFrame:
    """Read and validate a plan file against the scenario's units and territories.

    Parameters
    ----------
    path : Path
        The CSV file.
    unit_ids, territory_ids : sequence of str
        The scenario's unit ids (after its filters) and territory ids.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, territory_id, share`` in file order (shares as written: they are checked later).

    Raises
    ------
    InputError
        Naming the file, every bad row (up to ``MAX_LISTED``) and how to fix it.
    """
    header, rows, delimiter = _records(path)
    position = _column_positions(header, path)
    known_units, known_territories = set(unit_ids), list(territory_ids)
    seen: dict[tuple[str, str], int] = {}
    records, problems = [], []
    for line, cells in rows:
        unit, territory, share_text = (_cell(cells, position.get(name)) for name in (*REQUIRED, "share"))
        found = _row_problems(unit, territory, share_text, delimiter, known_units, known_territories)
        first = seen.setdefault((unit, territory), line)
        if first != line:
            found.append(f"unit `{unit}` in territory `{territory}` is listed again (first on row {first}); "
                         "keep one row per unit and territory")
        problems += [f"row {line}: {text}" for text in found]
        if not found:
            records.append((unit, territory, _share(share_text, delimiter)))
    if problems:
        shown = "; ".join(problems[:MAX_LISTED])
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise InputError(str(path), f"{len(problems)} problem(s): {shown}{more}",
                         "correct those rows (row 1 is the header) and run again")
    return pd.DataFrame(records, columns=["unit_id", "territory_id", "share"])


def _records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """The header cells, the non-blank data rows with their row numbers, and the separator."""
    require_file(path, str(path), "plan file not found", "check the path; it is relative to the current folder",
                 (".csv", ".txt"))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(str(path), f"file is larger than {MAX_FILE_BYTES // 2**20} MiB", "is this a plan file?")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(str(path), "is not UTF-8 text", "save the spreadsheet as 'CSV UTF-8'") from None
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, [])
    rows = [(reader.line_num, cells) for cells in reader if any(cell.strip() for cell in cells)]
    if not rows:
        raise InputError(str(path), "has no plan rows", "write one row per unit: unit_id,territory_id[,share]")
    return header, rows, delimiter


def _column_positions(header: list[str], path: Path) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    position = {name: i for i, name in reversed(list(enumerate(names)))}
    missing = [name for name in REQUIRED if name not in position]
    if missing:
        hints = []
        for name in missing:
            near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hints.append(f"`{name}`" + (f" (is `{near[0]}` meant?)" if near else ""))
        raise InputError(f"{path} row 1", f"no column {' or '.join(hints)}; the header is `{','.join(header)}`",
                         "the header must name unit_id,territory_id and optionally share")
    duplicated = [name for name in (*REQUIRED, "share") if names.count(name) > 1]
    if duplicated:
        raise InputError(f"{path} row 1", f"column `{duplicated[0]}` appears twice", "keep one of them")
    return position


def _cell(cells: list[str], index: int | None) -> str:
    return restore(cells[index].strip()) if index is not None and index < len(cells) else ""


def _row_problems(unit: str, territory: str, share_text: str, delimiter: str, known_units: set[str],
                  known_territories: list[str]) -> list[str]:
    found = []
    if not unit:
        found.append("no unit_id")
    elif unit not in known_units:
        hint = unit_id_hint(unit, known_units) or " (use an id from the scenario's units)"
        found.append(f"unknown unit `{unit}`{hint}")
    if not territory:
        found.append("no territory_id")
    elif territory not in known_territories:
        found.append(f"unknown territory `{territory}`{_territory_hint(territory, known_territories)}")
    if _share(share_text, delimiter) is None:
        found.append(f"share `{share_text}` is not a number (write a fraction such as 0.4, or leave it empty "
                     "for a whole unit)")
    return found


def _territory_hint(territory: str, known: list[str]) -> str:
    near = difflib.get_close_matches(territory, known, n=1, cutoff=0.6)
    listed = f"{known[0]} ... {known[-1]}" if len(known) > 6 else ", ".join(known)
    guess = f"did you mean `{near[0]}`? " if near else ""
    return f" ({guess}the scenario's territories are {listed})"


def _share(text: str, delimiter: str) -> float | None:
    """The share written in ``text``: empty is a whole unit, ``40%`` is 0.4; ``None`` if not a number."""
    if not text:
        return 1.0
    percent = text.endswith("%")
    number = text.rstrip("%").strip()
    if delimiter != ",":
        number = number.replace(",", ".")
    try:
        value = float(number)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value / 100.0 if percent else value
