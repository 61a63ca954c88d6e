"""Reading a scenario file of any kind: extends, overrides, validation by its kind's schema, JSON Schema.

A scenario YAML file may start with ``extends: other.yaml``: the other file is read first, this file's
keys are merged over it, and then ``overrides`` (a mapping of dotted key paths to values) is applied, so a
what-if is a few lines. Unknown keys are refused with their key path and the nearest valid key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from optimizer.core.errors import InputError
from optimizer.core.input_files import absolute, require_file
from optimizer.core.yamlio import read_yaml_mapping


def load_scenario(path: Path | str, overrides: dict[str, Any] | None = None) -> Any:
    """Read, merge and validate a scenario file of any kind; ``overrides`` are dotted keys applied last."""
    path = Path(path)
    raw = _read_with_extends(path, chain=())
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value, where=f"{path}: override")
    return validate_scenario(raw, where=str(path))


def validate_scenario(raw: dict[str, Any], where: str) -> Any:
    """Validate a merged scenario mapping with its kind's schema, one clear line per problem."""
    from optimizer.core.kinds import KINDS, resolve

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
    from optimizer.core.kinds import KINDS, resolve

    schema = resolve(KINDS[kind].schema).model_json_schema()
    schema["properties"]["extends"] = {"type": "string", "description": "A scenario file this one builds on."}
    schema["properties"]["overrides"] = {
        "type": "object", "description": "Dotted key paths set after merging, e.g. balance.tolerance: 0.03."
    }
    return schema
