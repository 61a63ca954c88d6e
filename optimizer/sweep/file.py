"""The sweep file: which scenarios a batch runs, each with a deterministic name.

A sweep is a base scenario (or one scenario per listed case or file) crossed with a grid of dotted
overrides (the cartesian product of the listed values)::

    name: texas-sweep
    base: texas_counties.yaml            # relative to the sweep file
    grid:
      territories.count: [18, 20, 22]
      balance.tolerance: [0.03, 0.05, 0.08]
    overrides: {solver.time_limit: 60}   # applied to every scenario

or a list of cases (each with its own overrides and, optionally, its own scenario file)::

    cases:
      - {name: TX, overrides: {units.include.state: [TX], territories.count: 20}}

or a list of scenario files (``scenarios: [a.yaml, b.yaml]``). Every scenario is named from its case and
its grid values (``TX__count-20_tolerance-0.05``); the name is its run folder, so ``--resume`` finds it.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from optimizer.core.errors import InputError
from optimizer.core.yamlio import read_yaml_mapping
from optimizer.core.input_files import absolute, require_file

MAX_NAME = 110  # a run folder's name; with the sweep's name (<= 80) it stays a valid scenario name
_SAFE = re.compile(r"[^A-Za-z0-9.+=-]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Case(_Strict):
    """One named scenario of the batch before the grid is applied."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="Short folder-safe name, e.g. TX.")
    scenario: str | None = Field(None, description="Scenario file, relative to the sweep file; default: `base`.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted keys set on this case only.")


class SweepFile(_Strict):
    """A batch of scenarios: a base or cases or scenario files, crossed with a grid of overrides."""

    name: str = Field(min_length=1, max_length=80, description="Name of the batch.")
    description: str = ""
    base: str | None = Field(None, description="Scenario file the grid applies to (relative to the sweep file).")
    scenarios: list[str] = Field(default_factory=list, description="Scenario files, each crossed with the grid.")
    cases: list[Case] = Field(default_factory=list, description="Named override sets, each crossed with the grid.")
    grid: dict[str, list[Any]] = Field(default_factory=dict,
                                       description="Dotted key -> values; every combination is one scenario.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted keys set on every scenario.")
    retries: int = Field(2, ge=0, le=10, description="Re-runs of a scenario whose worker died or raised a bug.")

    @model_validator(mode="after")
    def _consistent(self) -> SweepFile:
        if self.base is not None and self.scenarios:
            raise ValueError("give `base` (with `grid`/`cases`) or a list of `scenarios`, not both")
        if self.base is None and not self.scenarios and not self.cases:
            raise ValueError("give `base`, `scenarios` or `cases`")
        if self.base is None and any(case.scenario is None for case in self.cases):
            raise ValueError("a case without `scenario` needs a `base`")
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid `{key}` lists no values")
            if len({_label(v) for v in values}) < len(values):
                raise ValueError(f"grid `{key}` lists a value twice")
        names = [case.name for case in self.cases] + [_stem(p) for p in self.scenarios]
        if len(set(names)) < len(names):
            raise ValueError("two cases or scenario files have the same name; rename one")
        _refuse_clashes(self)
        return self


@dataclass(frozen=True)
class SweepScenario:
    """One scenario of the batch: its name (= run folder), its file and every override applied to it."""

    name: str
    case: str
    scenario: Path
    overrides: dict[str, Any]
    grid: dict[str, Any] = field(default_factory=dict)


def load_sweep(path: Path) -> tuple[SweepFile, list[SweepScenario]]:
    """Read and validate a sweep file and expand it into its scenarios (in a fixed order).

    Raises
    ------
    InputError
        Naming the key path of every problem, a scenario file that does not exist or two equal names.
    """
    raw = read_yaml_mapping(path)
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise InputError(str(path), "; ".join(_explain(err) for err in exc.errors())) from None
    scenarios = expand(spec, path.resolve().parent)
    for file in sorted({s.scenario for s in scenarios}):
        require_file(file, f"{path}: scenario file {file}", "not found", "paths are relative to the sweep file",
                     (".yaml", ".yml"))
    _refuse_if_none_can_be_read(path, scenarios)
    return spec, scenarios


def _refuse_if_none_can_be_read(path: Path, scenarios: list[SweepScenario]) -> None:
    """A grid key or an override that every scenario refuses is an error of the sweep file: say so before
    any cluster starts (one refused case among good ones stays a row of sweep.csv)."""
    from optimizer.core.scenario import load_scenario

    first_error = None
    for scenario in scenarios:
        try:
            load_scenario(scenario.scenario, scenario.overrides)
            return
        except InputError as exc:
            first_error = first_error or f"`{scenario.name}`: {exc.line()}"
    raise InputError(str(path), f"none of its {len(scenarios)} scenarios can be read; {first_error}",
                     "fix the grid, the overrides or the base scenario")


def expand(spec: SweepFile, folder: Path) -> list[SweepScenario]:
    """Every (case, grid point) pair in order: cases (or files) first, grid keys as written."""
    cases = [(case.name, folder / (case.scenario or spec.base or ""), case.overrides) for case in spec.cases]
    cases += [(_stem(file), folder / file, {}) for file in spec.scenarios]
    if not cases:
        cases = [("", folder / (spec.base or ""), {})]
    keys = list(spec.grid)
    short = _short_keys(keys)
    out = []
    for (case, file, case_overrides), values in itertools.product(cases, itertools.product(*spec.grid.values())):
        point = dict(zip(keys, values))
        parts = [case] if case else []
        if point:
            parts.append("_".join(f"{short[k]}-{_label(v)}" for k, v in point.items()))
        name = _bounded("__".join(parts) or _SAFE.sub("-", spec.name))
        overrides = {**spec.overrides, **case_overrides, **point}
        out.append(SweepScenario(name=name, case=case, scenario=absolute(file), overrides=overrides, grid=point))
    _refuse_duplicates(out)
    return out


def _refuse_clashes(spec: SweepFile) -> None:
    """Two overrides setting the same key would silently shadow one another: refuse instead."""
    for key in spec.grid:
        if key in spec.overrides:
            raise ValueError(f"`{key}` is set both in `grid` and in `overrides`; keep one")
        for case in spec.cases:
            if key in case.overrides:
                raise ValueError(f"`{key}` is set both in `grid` and in case `{case.name}`; keep one")
    for case in spec.cases:
        for key in case.overrides:
            if key in spec.overrides:
                raise ValueError(f"`{key}` is set both in `overrides` and in case `{case.name}`; keep one")


def _refuse_duplicates(scenarios: list[SweepScenario]) -> None:
    seen: dict[str, SweepScenario] = {}
    for s in scenarios:
        if s.name in seen:
            raise InputError("sweep", f"two scenarios would both be named `{s.name}`",
                             "give the cases distinct names or make the grid values differ")
        seen[s.name] = s


def _short_keys(keys: list[str]) -> dict[str, str]:
    """The last part of each dotted key, or the whole key where two last parts coincide."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (tail if last.count(tail) == 1 else k.replace(".", "-")) for k, tail in zip(keys, last)}


def _label(value: Any) -> str:
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (list, tuple)):
        text = "+".join(_label(v) for v in value)
    elif isinstance(value, dict):
        text = "+".join(f"{k}={_label(v)}" for k, v in sorted(value.items()))
    else:
        text = str(value)
    return _SAFE.sub("-", text).strip("-") or "none"


def _bounded(name: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    return f"{name[: MAX_NAME - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _stem(file: str) -> str:
    return _SAFE.sub("-", Path(file).stem)


def _explain(err: dict[str, Any]) -> str:
    path = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key `{path}` (valid keys: {', '.join(_valid_at(err['loc']))})"
    if err["type"] == "missing":
        return f"missing key `{path}`"
    message = err["msg"].removeprefix("Value error, ")
    return message if path == "(top level)" else f"`{path}`: {message}"


def _valid_at(loc: tuple[Any, ...]) -> list[str]:
    model = Case if "cases" in [str(p) for p in loc[:-1]] else SweepFile
    return sorted(model.model_fields)
