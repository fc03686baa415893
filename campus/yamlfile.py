"""YAML files validated by pydantic models, with errors that name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from campus.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the composed YAML tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: a district's 300 files load fast


def parse_yaml_model(text: str, model: type[M], source: str) -> M:
    """Parse ``text`` into ``model``; any problem is a ConfigError ``source:line: field: reason``."""
    try:  # composed once: the tree that knows line numbers is kept for the error message
        loader = _Loader(text)  # a safe loader (C or Python); UnicodeEncodeError for a lone surrogate in text
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: an integer of over 4300 digits
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "top level"
        line = _line_of(node, loc)
        at = f"{source}:{line}" if line else source
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{at}: {where}: {err['msg']}{more}") from exc


def read_text(path: Path, what: str) -> str:
    """A configuration file's text; ConfigError naming ``what`` it is when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {what} {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


def load_yaml_model(path: Path, model: type[M], what: str) -> M:
    """Read and parse a YAML configuration file into ``model`` (errors: file, line, field, reason)."""
    return parse_yaml_model(read_text(path, what), model, str(path))
