"""Unit ids a user typed that match no unit: one message everywhere, naming the id most likely meant.

Ids such as county FIPS codes (``01001``) lose their leading zeros and gain ``.0`` in spreadsheets and in
unquoted YAML, so those are tried first, then close spellings.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from optimizer.core.errors import InputError


def unit_id_hint(unit: str, known: Collection[str]) -> str:
    """`` (did you mean `01001`? ...)`` when a known id is likely meant, else ``""``."""
    stripped = unit[:-2] if unit.endswith(".0") else unit
    padded = (stripped.zfill(width) for width in range(len(stripped) + 1, 11))
    for candidate in (stripped, stripped.lstrip("0"), *padded):  # the data or the typed id lost its zeros
        if candidate in known and candidate != unit:
            return (f" (did you mean `{candidate}`? spreadsheets drop leading zeros and add `.0`: "
                    "format the column as text, and quote ids in YAML)")
    near = difflib.get_close_matches(unit, sorted(known), n=1, cutoff=0.8)
    return f" (did you mean `{near[0]}`?)" if near else ""


def unknown_unit(key: str, unit: object, known: Collection[str], fix: str) -> InputError:
    """The error for ``unit`` named at ``key`` but not among the ``known`` unit ids."""
    unit = str(unit)
    return InputError(key, f"'{unit}' is not one of the {len(known)} units{unit_id_hint(unit, known)}", fix)
