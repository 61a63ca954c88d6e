"""The scenario: a validated, immutable description of one territory design request.

A scenario YAML file may start with ``extends: other.yaml``: the other file is read first, this file's
keys are merged over it, and then ``overrides`` (a mapping of dotted key paths to values) is applied, so a
what-if is a few lines. Unknown keys are refused with their key path and the nearest valid key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from optimizer.errors import InputError
from optimizer.input_files import absolute, require_file
from optimizer.scenario_rules import Contiguity, Realignment, Regions, Report, Rules
from optimizer.schema_base import ScenarioIdentity
from optimizer.schema_base import Section as _Section
from optimizer.yamlio import read_yaml_mapping


class Sharing(_Section):
    """Which units may be split among several territories (big metro counties, hospital systems)."""

    allow: bool = Field(False, description="Allow heavy units to be shared by several territories.")
    min_territory_share: float = Field(
        0.5, gt=0, le=10,
        description="A unit whose workload exceeds this share of an average territory may be shared.",
    )


class Units(_Section):
    """The building blocks: which data set, which column is the id, which rows take part."""

    dataset: Path = Field(description="GeoPackage, GeoParquet, Shapefile or GeoJSON; relative to the scenario file.")
    layer: str | None = Field(None, description="Layer name for multi-layer files such as GeoPackage.")
    id_column: str = Field("unit_id", description="Column holding the unique unit id.")
    name_column: str | None = Field("name", description="Column with a readable unit name (optional).")
    include: dict[str, list[str]] = Field(
        default_factory=dict, description="Keep only rows whose column value is listed, e.g. {state: [TX]}."
    )
    exclude: dict[str, list[str]] = Field(
        default_factory=dict, description="Drop rows whose column value is listed, e.g. {state: [AK, HI]}."
    )
    sharing: Sharing = Field(default_factory=Sharing)


class Workload(_Section):
    """The workload index: a weighted sum of unit attributes."""

    measures: dict[str, float] = Field(
        description="Attribute column -> weight, e.g. {labor_force: 1.0}. Weights must be >= 0."
    )
    normalize: bool = Field(
        False, description="Divide each attribute by its mean over the units first, so weights are relative importances."
    )

    @model_validator(mode="after")
    def _weights_make_sense(self) -> Workload:
        if not self.measures:
            raise ValueError("name at least one measure, e.g. {labor_force: 1.0}")
        if any(w < 0 for w in self.measures.values()):
            raise ValueError("weights must be >= 0")
        if not any(w > 0 for w in self.measures.values()):
            raise ValueError("at least one weight must be > 0")
        return self


class Base(_Section):
    """A rep's home base: a unit id, or coordinates."""

    id: str | None = Field(None, description="Territory id; defaults to T01, T02, ...")
    unit: str | None = Field(None, description="Unit id where the rep is based.")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    name: str | None = Field(None, description="Readable base name, e.g. a city.")

    @model_validator(mode="after")
    def _one_location(self) -> Base:
        has_point = self.lat is not None or self.lon is not None
        if (self.unit is None) == (not has_point):
            raise ValueError("give either `unit` or both `lat` and `lon`")
        if has_point and (self.lat is None or self.lon is None):
            raise ValueError("give both `lat` and `lon`")
        return self


class BaseSelection(_Section):
    """How bases are chosen when none are given (see optimizer.bases)."""

    method: Literal["balanced-medoids"] = "balanced-medoids"
    rounds: int = Field(10, ge=1, le=100, description="Rounds of balanced allocation and medoid moves.")
    seed: int = Field(0, description="Seed of the deterministic initial placement.")


class Candidates(_Section):
    """Units where a rep may be based: the bases are chosen among them together with the plan."""

    units: list[str] | None = Field(None, description="Candidate unit ids.")
    top: int | None = Field(None, ge=1, description="Or: the units with the most workload.")

    @model_validator(mode="after")
    def _one_way(self) -> Candidates:
        if (self.units is None) == (self.top is None):
            raise ValueError("give either `units` or `top`")
        return self


class Territories(_Section):
    """How many territories, and where their reps are based."""

    count: int | None = Field(None, ge=1, le=5000)
    bases: list[Base] | None = Field(None, description="Home bases; when omitted they are chosen.")
    selection: BaseSelection = Field(default_factory=BaseSelection)
    candidates: Candidates | None = Field(None, description="Choose the bases among these units (location-allocation).")

    @model_validator(mode="after")
    def _count_or_bases(self) -> Territories:
        if self.count is None and not self.bases:
            raise ValueError("give `count` or a list of `bases`")
        if self.count is not None and self.bases and self.count != len(self.bases):
            raise ValueError(f"`count` is {self.count} but {len(self.bases)} bases are listed; drop one of them")
        if self.candidates is not None and (self.bases or self.count is None):
            raise ValueError("`candidates` chooses the bases: give `count` and no `bases`")
        return self

    @property
    def size(self) -> int:
        """The number of territories."""
        return self.count if self.count is not None else len(self.bases or [])


class Balance(_Section):
    """The workload band around the average territory."""

    tolerance: float = Field(0.05, gt=0, lt=1, description="Allowed deviation from the average workload, as a share.")
    soft_penalty: float | None = Field(
        None, gt=0,
        description="If set, the band is soft: cost in km for each average territory's worth of workload outside it.",
    )
    measures: dict[str, Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=dict,
        description="More columns balanced with their own tolerance, e.g. {population: 0.15, establishments: 0.10}.",
    )
    targets: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="Per-territory target as a share of the average, e.g. {T03: 0.8}; others stay at 1.0.",
    )


class Objective(_Section):
    """What is minimised: workload-weighted distance from each unit to its territory's base."""

    distance: Literal["great_circle", "projected"] = "great_circle"


class Solver(_Section):
    """Limits handed to HiGHS."""

    time_limit: float = Field(60.0, gt=0, description="Seconds for the whole solve.")
    target_gap: float = Field(0.01, ge=0, lt=1, description="Stop once the plan is proven within this relative gap.")
    threads: int = Field(1, ge=1, le=64)
    seed: int = Field(0, ge=0, description="HiGHS random_seed; recorded with the run.")


class Scenario(ScenarioIdentity):
    """A territory alignment request."""

    kind: Literal["alignment"] = Field("alignment", description="Which formulation; see optimizer/kinds.py.")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    units: Units
    workload: Workload
    territories: Territories
    balance: Balance = Field(default_factory=Balance)
    objective: Objective = Field(default_factory=Objective)
    solver: Solver = Field(default_factory=Solver)
    contiguity: Contiguity = Field(default_factory=Contiguity)
    realignment: Realignment | None = None
    rules: Rules = Field(default_factory=Rules)
    regions: Regions | None = None
    report: Report | None = None

    @model_validator(mode="after")
    def _regions_fit_territories(self) -> Scenario:
        if self.regions is not None and self.regions.count > self.territories.size:
            raise ValueError(f"regions.count is {self.regions.count} but there are only {self.territories.size} "
                             f"territories; ask for at most {self.territories.size} regions")
        return self



def load_scenario(path: Path | str, overrides: dict[str, Any] | None = None) -> Any:
    """Read, merge and validate a scenario file of any kind; ``overrides`` are dotted keys applied last."""
    path = Path(path)
    raw = _read_with_extends(path, chain=())
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value, where=f"{path}: override")
    return validate_scenario(raw, where=str(path))


def validate_scenario(raw: dict[str, Any], where: str) -> Any:
    """Validate a merged scenario mapping with its kind's schema, one clear line per problem."""
    from optimizer.kinds import KINDS, resolve

    kind = raw.get("kind", "alignment")
    if not isinstance(kind, str) or kind not in KINDS:
        near = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        hint = f"did you mean `{near[0]}`?" if near else f"kinds are: {', '.join(KINDS)}"
        raise InputError(where, f"unknown kind `{kind}`", hint)
    schema = resolve(KINDS[kind].schema)
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        lines = [_explain(err, schema) for err in exc.errors()]
        raise InputError(where, "; ".join(lines)) from None


def _read_with_extends(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise InputError(str(path), f"`extends` forms a cycle ({cycle})", "remove one of the extends")
    raw = read_yaml_mapping(path)
    _absolutize_dataset(raw, path.parent)
    parent = raw.pop("extends", None)
    overrides = raw.pop("overrides", None) or {}
    if not isinstance(overrides, dict):
        raise InputError(f"{path}: overrides", "must be a mapping of dotted keys to values", "e.g. balance.tolerance: 0.03")
    if parent is not None:
        base = _read_with_extends(_extended_file(path, parent), (*chain, resolved))
        raw = _deep_merge(base, raw)
    for dotted, value in overrides.items():
        _set_dotted(raw, str(dotted), value, where=f"{path}: overrides")
    return raw


def _extended_file(path: Path, parent: Any) -> Path:
    """The file ``extends:`` names, relative to the file that names it."""
    if not isinstance(parent, str) or not parent.strip():
        raise InputError(f"{path}: extends", "must be a file name", "e.g. extends: texas_counties.yaml")
    target = path.parent / parent
    require_file(target, f"{path}: extends {parent}", f"is not a file ({target.resolve()})",
                 "the path is relative to the file that extends it", (".yaml", ".yml"))
    return target


FILE_KEYS = (("units", "dataset"), ("realignment", "current_plan"))  # paths relative to the file naming them


def _absolutize_dataset(raw: dict[str, Any], folder: Path) -> None:
    for section, key in FILE_KEYS:
        part = raw.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), str):
            part[key] = str(absolute(folder / part[key]))


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    """Set ``a.b.c`` in nested mappings; a number steps into a list (``segments.2.curve.shape``)."""
    keys = dotted.split(".")
    if not all(key.strip() for key in keys):
        raise InputError(f"{where} '{dotted}'", "the key path has an empty part",
                         "write it as section.key, e.g. balance.tolerance")
    node: Any = raw
    for depth, key in enumerate(keys[:-1]):
        node = _step(node, key, keys[depth + 1], f"{where} {dotted}", ".".join(keys[:depth]) or "(top level)")
    if isinstance(node, list):
        node[_list_index(node, keys[-1], f"{where} {dotted}", ".".join(keys[:-1]))] = value
    elif isinstance(node, dict):
        node[keys[-1]] = value
    else:
        raise InputError(f"{where} {dotted}", f"{'.'.join(keys[:-1])} is not a section",
                         "override a key inside a section")


def _step(node: Any, key: str, next_key: str, where: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, key, where, path)]
    if not isinstance(node, dict):
        raise InputError(where, f"{path} is not a section", "override a key inside a section")
    if key not in node or node[key] is None:
        node[key] = [] if next_key.isdigit() else {}
    return node[key]


def _list_index(items: list, key: str, where: str, path: str) -> int:
    if not key.isdigit() or int(key) >= len(items):
        raise InputError(where, f"`{key}` is not an item of {path} (it has {len(items)} items, counted from 0)",
                         "use an item number such as 0")
    return int(key)


def _explain(err: dict[str, Any], schema: type[BaseModel]) -> str:
    loc = [str(p) for p in err["loc"]]
    path = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        valid = _valid_keys_at(schema, err["loc"][:-1])
        near = difflib.get_close_matches(loc[-1], valid, n=1)
        hint = f"did you mean `{near[0]}`?" if near else f"valid keys here: {', '.join(valid)}"
        return f"unknown key `{path}` ({hint})"
    if err["type"] == "missing":
        return f"missing key `{path}`"
    if err["type"] == "union_tag_not_found":
        tag = str(err["ctx"]["discriminator"]).strip("'")
        return f"missing key `{path}.{tag}`"
    message = err["msg"].removeprefix("Value error, ")
    return f"`{path}`: {message}" if loc else message


def _valid_keys_at(schema: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    model: Any = schema
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        model = _model_in(annotation)
    return sorted(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def scenario_json_schema(kind: str = "alignment") -> dict[str, Any]:
    """JSON Schema of a scenario file of ``kind``, for editors (``extends`` and ``overrides`` included)."""
    from optimizer.kinds import KINDS, resolve

    schema = resolve(KINDS[kind].schema).model_json_schema()
    schema["properties"]["extends"] = {"type": "string", "description": "A scenario file this one builds on."}
    schema["properties"]["overrides"] = {
        "type": "object", "description": "Dotted key paths set after merging, e.g. balance.tolerance: 0.03."
    }
    return schema
