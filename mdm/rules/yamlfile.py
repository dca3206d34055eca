"""Read YAML rules files and report validation errors at the line they concern."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mdm.errors import RulesError

M = TypeVar("M", bound=BaseModel)


def _node_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        out[(*path, "__value__", str(node.value))] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key, "__key__")] = key_node.start_mark.line + 1
            _node_lines(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, (*path, index), out)


def read_yaml(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Return the parsed document and a map from each value's path to its line."""
    if not path.is_file():
        raise RulesError(f"rules file {path} does not exist; pass an existing YAML file")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{where}: not valid YAML ({problem})") from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _node_lines(node, (), lines)
    return data, lines


def _resolve(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """The longest path of the document that ``loc`` leads to (union tags skipped)."""
    path: tuple[Any, ...] = ()
    for part in loc:
        if (*path, part) in lines:
            path = (*path, part)
    return path


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int], message: str) -> int | None:
    """The line an error concerns: a quoted name in the message found below ``loc``
    (an unknown key or value), else the key or value at ``loc`` itself."""
    path = _resolve(loc, lines)
    named = []
    for key, line in lines.items():
        if key[: len(path)] != path or len(key) < 2:
            continue
        text = key[-1] if key[-2] == "__value__" else key[-2] if key[-1] == "__key__" else None
        if text is not None and f"'{text}'" in message:
            named.append((message.index(f"'{text}'"), line))
    if named:
        return min(named)[1]
    if (*path, "__key__") in lines:
        return lines[(*path, "__key__")]
    return lines.get(path)


def _explain(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    loc = error["loc"]
    field = ".".join(str(part) for part in loc)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _allowed_keys(model, loc[:-1])
        hint = ""
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            hint = f" (did you mean '{close[0]}'?)"
        listing = f"; allowed here: {', '.join(sorted(allowed))}" if allowed else ""
        return f"unknown key '{name}'{hint}{listing}"
    return f"{field}: {error['msg']}"


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` inside ``model``, best effort."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        with_field = [m for m in candidates if part in m.model_fields]
        if with_field:
            candidates = _models_in(with_field[0].model_fields[part].annotation)
            continue
        # A tagged union puts the tag (e.g. the comparison kind) in the location.
        tagged = [m for m in candidates if _kind_of(m) == part]
        if not tagged:
            return []
        candidates = tagged
    if len(candidates) != 1:
        return []
    return [field.alias or name for name, field in candidates[0].model_fields.items()]


def _kind_of(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("kind")
    args: tuple[Any, ...] = getattr(field.annotation, "__args__", ()) if field else ()
    return args[0] if len(args) == 1 else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    return found


def load_model(path: Path, model: type[M]) -> M:
    """Parse ``path`` as YAML and validate it as ``model``; errors name file and line."""
    data, lines = read_yaml(path)
    if data is None:
        raise RulesError(f"{path}: the file is empty; run `mdm init DIR` for an example")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            explanation = _explain(error, model)
            line = _line_for(tuple(error["loc"]), lines, explanation)
            where = f"{path}:{line}" if line else str(path)
            messages.append(f"{where}: {explanation}")
        raise RulesError("\n".join(messages)) from exc
