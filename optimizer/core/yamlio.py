"""Safe YAML reading for scenario files.

``yaml.safe_load`` already refuses object tags, but it silently keeps the last of two duplicate keys and
expands aliases (a few hundred bytes of nested aliases can take seconds to print). Scenario files are
small hand-written documents, so we refuse duplicate keys, aliases, any explicit tag and files over
``MAX_BYTES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from optimizer.core.errors import InputError
from optimizer.core.input_files import require_file

MAX_BYTES = 256 * 1024


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys, aliases and explicit tags."""


def _where(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"



def _compose_node(self: _StrictLoader, parent: Any, index: Any) -> yaml.Node:
    if self.check_event(yaml.AliasEvent):
        event = self.peek_event()
        raise yaml.constructor.ConstructorError(
            None, None, f"aliases (*{event.anchor}) are not allowed in scenario files; write the value out",
            event.start_mark,
        )
    event = self.peek_event()
    if getattr(event, "anchor", None):
        raise yaml.constructor.ConstructorError(
            None, None, f"anchors (&{event.anchor}) are not allowed in scenario files; write the value out",
            event.start_mark,
        )
    tag = getattr(event, "tag", None)
    implicit = getattr(event, "implicit", True)
    explicit = not any(implicit) if isinstance(implicit, tuple) else not implicit
    if tag is not None and tag != "!" and explicit:
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {tag} is not allowed in scenario files; remove it", event.start_mark
        )
    return yaml.SafeLoader.compose_node(self, parent, index)


def _construct_mapping(self: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = self.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"duplicate key {key!r} (first at {_where(seen[key])}); keep only one",
                key_node.start_mark,
            )
        seen[key] = key_node
    return yaml.SafeLoader.construct_mapping(self, node, deep=deep)


_StrictLoader.compose_node = _compose_node  # type: ignore[method-assign]
_StrictLoader.construct_mapping = _construct_mapping  # type: ignore[method-assign]


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold one mapping, refusing anything unsafe or ambiguous.

    Raises
    ------
    InputError
        Naming the file (and line) when it is missing, too large, not YAML, or not a mapping.
    """
    require_file(path, str(path), "file not found", "check the path; it is relative to the current folder",
                 (".yaml", ".yml"))
    if path.stat().st_size > MAX_BYTES:
        raise InputError(str(path), f"file is larger than {MAX_BYTES // 1024} KiB", "a scenario is a short YAML file")
    text = _utf8_text(path)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader derives from SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(where, f"not valid scenario YAML: {exc.problem or exc.context}", "fix the YAML at that line") from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"not valid YAML: {_first_line(exc)}", "fix the YAML") from None
    if data is None:
        raise InputError(str(path), "the file is empty", "write a scenario mapping (see `territory schema`)")
    if not isinstance(data, dict):
        raise InputError(str(path), "the top level must be a mapping of keys to values", "see `territory schema`")
    return data


def _utf8_text(path: Path) -> str:
    """The file's text; a file that is not UTF-8 (a binary file, a Latin-1 export) is refused, not patched."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", f"is not UTF-8 text (byte 0x{data[exc.start]:02x})",
                         "save the file as UTF-8 text; is it really a YAML file?") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def parse_value(text: str, where: str) -> Any:
    """One value given on the command line (``--set key=value``), read with the same strict loader."""
    if len(text) > 4096:
        raise InputError(where, "the value is longer than 4096 characters", "put it in the scenario file")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader derives from SafeLoader
    except yaml.YAMLError as exc:
        raise InputError(where, f"not a valid YAML value: {_first_line(exc)}",
                         "quote strings, e.g. --set name='my plan'") from None
