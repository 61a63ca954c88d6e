"""Text in written tables that a spreadsheet would run as a formula is neutralised, and read back unchanged.

Names and ids come from users' files and CRM exports, so a county called ``=HYPERLINK("http://...")`` would
reach ``territories.csv`` and run when the file is opened in a spreadsheet. Following the OWASP advice on
CSV injection, every text cell (and header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is written with a leading ``'``. Numbers are never touched: ``-3.5`` in a numeric column stays a
number; only string cells change.

The escape is reversible: text that already starts with one or more ``'`` followed by one of those
characters gets one more ``'``, and :func:`restore` strips exactly one ``'`` from such text. So every
reader of a written table (the checks, the plan-file and current-plan readers, a reused run in
``compare``) gets back the ids and names that were written, whatever they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = re.compile(r"'*[=+\-@\t\r]", re.DOTALL)  # text needing one more quote when written
_RESTORABLE = re.compile(r"'+[=+\-@\t\r]", re.DOTALL)  # text written with one quote added


def neutralise(text: str) -> str:
    """``text`` as written to a table: one ``'`` in front when a spreadsheet would run it as a formula."""
    return "'" + text if _ESCAPED.match(text) else text


def restore(text: str) -> str:
    """The inverse of :func:`neutralise`: drop the one ``'`` it added (other text is returned as is)."""
    return text[1:] if _RESTORABLE.match(text) else text


def _each_text(value: Any, change) -> Any:
    return change(value) if isinstance(value, str) else value


def _text_columns(frame: pd.DataFrame) -> list[Any]:
    return [name for name, dtype in frame.dtypes.items()
            if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)]


def _map_text(frame: pd.DataFrame, change) -> pd.DataFrame:
    columns = _text_columns(frame)
    renamed = {name: change(name) for name in frame.columns if isinstance(name, str) and change(name) != name}
    if not columns and not renamed:
        return frame
    out = frame.copy()
    for name in columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        out[name] = column.map(lambda value: _each_text(value, change), na_action="ignore")
    return out.rename(columns=renamed)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are neutralised (numeric columns untouched)."""
    return _map_text(frame, neutralise)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table read back from a written file, with every neutralised text cell and column name restored."""
    return _map_text(frame, restore)


def table_text(frame: pd.DataFrame, path: Path | None = None) -> str | None:
    """Write ``frame`` as the engine's CSV (fixed float format, ``\\n`` lines, text neutralised); to ``path``
    when given, else return the text."""
    return neutralise_frame(frame).to_csv(path, index=False, float_format="%.10g", lineterminator="\n")


def read_table(path: Path, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv`` of a table the engine wrote, with neutralised text restored."""
    return restore_frame(pd.read_csv(path, **options))
