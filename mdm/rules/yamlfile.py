"""Read YAML rules files and report validation errors at the line they concern."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mdm.errors import RulesError

M = TypeVar("M", bound=BaseModel)


def _node_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
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


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for end in range(len(loc), -1, -1):
        prefix = tuple(loc[:end])
        if (*prefix, "__key__") in lines and end == len(loc):
            return lines[(*prefix, "__key__")]
        if prefix in lines:
            return lines[prefix]
    return None


def _explain(error: dict[str, Any], model: type[BaseModel]) -> str:
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
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _first_model(annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [field.alias or name for name, field in fields.items()]


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def load_model(path: Path, model: type[M]) -> M:
    """Parse ``path`` as YAML and validate it as ``model``; errors name file and line."""
    data, lines = read_yaml(path)
    if data is None:
        raise RulesError(f"{path}: the file is empty; see rules/customer.match.yaml for an example")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = []
        for error in exc.errors():
            line = _line_for(tuple(error["loc"]), lines)
            where = f"{path}:{line}" if line else str(path)
            messages.append(f"{where}: {_explain(error, model)}")
        raise RulesError("\n".join(messages)) from exc
