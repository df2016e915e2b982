"""Load a :class:`RunConfig` from YAML plus ``key.sub=value`` overrides.

Every failure becomes a :class:`ConfigError` with one line naming the key (and the
closest valid key when the name looks misspelled).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from qtrain.config.schema import RunConfig
from qtrain.errors import ConfigError
from qtrain.redaction import scrub_secrets

DEFAULT_CONFIG_NAME = "tiny.yaml"


def default_config_path() -> Path:
    """The embedded default: ``configs/tiny.yaml`` of a source checkout, else the packaged copy."""
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (
        package_dir.parents[1] / "configs" / DEFAULT_CONFIG_NAME,
        package_dir / "_configs" / DEFAULT_CONFIG_NAME,
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"the default config {DEFAULT_CONFIG_NAME} is not installed: pass a CONFIG path"
    )


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML config (default: the embedded tiny config), apply overrides, validate."""
    config_path = Path(path) if path is not None else default_config_path()
    data = read_yaml(config_path)
    for override in overrides:
        key, value = parse_override(override)
        set_dotted(data, key, value)
    return validate_config(data, source=str(config_path))


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping, or raise a one-line ConfigError naming the file."""
    if path.is_dir():
        raise ConfigError(
            f"config file {path} is a directory: give a YAML file, or continue the run in it "
            f"with `qtrain run --resume {path}`"
        )
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``a.b=value``; the value is parsed as YAML (numbers, lists, booleans, null)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override '{text}' must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Assign ``value`` at the dotted ``key`` inside nested dicts, creating sections."""
    parts = key.split(".")
    if parts[0] == "search_space" and len(parts) > 1:
        raise ConfigError("set search_space entries in the YAML file, not as overrides")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override '{key}': '{'.'.join(parts[: i + 1])}' is not a section")
        node = child
    node[parts[-1]] = value


def validate_config(data: Mapping[str, Any], source: str = "config") -> RunConfig:
    """Validate a plain mapping into a RunConfig, raising a one-line ConfigError."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


#: Keys whose values are never echoed in an error, whatever their type (a list, a number).
_SECRET_KEY_WORDS = ("storage", "connection", "api_key", "secret", "password", "token", "key")


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of a pydantic ValidationError, as one line naming the dotted key."""
    errors = exc.errors()
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        hint = _suggest(loc)
        return f"unknown key '{key}'{hint}{more}"
    message = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    shown = "" if isinstance(got, dict) or got is None else f" (got {json.dumps(got, default=str)})"
    if shown and any(word in key.lower() for word in _SECRET_KEY_WORDS):
        shown = " (the value is not shown: it may be a secret)"
    shown = scrub_secrets(shown)  # a credential-shaped value under any other key
    return f"{key}: {message}{shown}{more}" if key else f"{message}{shown}{more}"


def _suggest(loc: list[str]) -> str:
    model: type[BaseModel] = RunConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
    return f" (did you mean '{'.'.join([*loc[:-1], close[0]])}'?)" if close else ""
