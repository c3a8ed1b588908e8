"""Reading a YAML settings file into a pydantic schema, with one-line errors (every config kind)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from qcalo.exceptions import ConfigError

__all__ = ["read_settings", "validated"]

Model = TypeVar("Model", bound=BaseModel)


def read_settings(path: Path) -> dict[str, Any]:
    """The mapping in a YAML file; a missing, unreadable or non-mapping file → one line."""
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing YAML file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(values).__name__}")
    if bad_keys := [k for k in values if not isinstance(k, str)]:
        raise ConfigError(f"{path}: setting names must be words, got {bad_keys!r}")
    return values


def validated(schema: type[Model], path: Path, overrides: dict[str, Any]) -> Model:
    """``schema`` built from the file's settings updated by the non-None ``overrides``.

    The first validation error becomes one line naming where the value came from (the file or a
    command-line option), the field and the value.
    """
    values = read_settings(path)
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    try:
        return schema(**values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "config"
        where = "command-line option" if field in given else str(path)
        if first["type"] == "value_error":  # our validators' own line names the value already
            cause = first.get("ctx", {}).get("error")
            message = str(cause) if cause is not None else first["msg"]
            named = field == "config" or message.startswith(f"{field}=")
            raise ConfigError(f"{where}: {message}" if named else f"{where}: {field}: {message}") from None
        raise ConfigError(f"{where}: {field}: {first['msg']} (got {first.get('input')!r})") from None
