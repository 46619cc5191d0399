"""The workflow config: one loader for the Snakefile, the command line and the tests.

`complete_config` validates a config mapping against the package's JSON schema
(`config.schema.json`, also at `config/schema.json` in a checkout) and fills in every default
the schema gives, in place: the semantics of Snakemake's `validate(config, schema,
set_default=True)`, so `cryosse curate` and `snakemake` read one config the same way, and a
misspelt key stops both. `settings_from` builds a frozen settings dataclass from one section;
`tests/core/test_config.py` checks that every dataclass default equals the schema's.
`ResolutionWindow` and `ModelSettings`, the sections several stages read, are defined here.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ResolutionWindow:
    """The config's `resolution` section, read by acquisition (an entry's header), the search
    and curation: maps outside [min, max] Å are excluded before they are read."""

    min: float = 5.0
    max: float = 10.0


@dataclass(frozen=True)
class ModelSettings:
    """The config's `model` section: the network that training builds and checkpoints record
    (cryosse.learn.unet.build_model). Fields in key order, so `dataclasses.asdict` of a section
    read from the completed, key-sorted config (the Snakefile's) is that section as written."""

    architecture: str = "deepssetracer"
    base: int = 64  # channels after the first block
    depth: int = 2  # poolings
    dropout: float = 0.5
    voxel_size: float | None = None  # Å per network voxel; None: the samples' own

    @classmethod
    def from_config(cls, model: Mapping[str, Any] | None) -> ModelSettings:
        return settings_from(cls, model)


class ConfigError(ValueError):
    """A config that is not a mapping, or breaks the schema: one line that names the key."""


@cache
def schema() -> dict[str, Any]:
    schema_file = resources.files("cryosse.core").joinpath("config.schema.json")
    loaded: dict[str, Any] = json.loads(schema_file.read_text(encoding="utf-8"))
    return loaded


def _validator_with_defaults() -> Any:
    # jsonschema is part of the `pipeline` extra: imported here, so `cryosse segment` (core
    # install) never needs it.
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(
        validator: Any, properties: dict[str, Any], instance: Any, subschema: dict[str, Any]
    ) -> Iterator[Any]:
        # As the jsonschema FAQ's recipe that Snakemake uses: a missing key takes its default
        # before the properties are validated, so nested sections are filled in too.
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema:
                    instance.setdefault(name, copy.deepcopy(property_schema["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def complete_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate `config` and fill in the schema's defaults, in place; returns it."""
    if not isinstance(config, dict):
        raise ConfigError(f"the config is not a mapping of options (got {type(config).__name__})")
    from jsonschema import ValidationError

    try:
        _validator_with_defaults()(schema()).validate(config)
    except ValidationError as error:
        where = ".".join(str(part) for part in error.absolute_path) or "the config"
        raise ConfigError(f"config option {where}: {error.message}") from None
    return config


def sort_keys(config: dict[str, Any]) -> dict[str, Any]:
    """Every mapping of `config` in key order, in place (lists keep theirs); returns it.

    Snakemake compares a job's params with the recorded ones as written, key order included:
    the same settings in another order (a config file rewritten by a tool) would re-run every
    finished job."""

    def ordered(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: ordered(value[key]) for key in sorted(value, key=str)}
        if isinstance(value, list):
            return [ordered(item) for item in value]
        return value

    items = ordered(config)
    config.clear()
    config.update(items)
    return config


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """A YAML config file, validated and completed; without a path, every default."""
    if path is None:
        return complete_config({})
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        # one line: the problem and where, not PyYAML's multi-line excerpt
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"config {path}: not valid YAML{where} ({problem})") from None
    try:
        return complete_config({} if config is None else config)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def settings_from(
    cls: type[T],
    section: Mapping[str, Any] | None,
    ignore: Collection[str] = (),
    **convert: Callable[[Any], Any],
) -> T:
    """A frozen settings dataclass from its config section: each field from the key of its name
    (the schema filled in the defaults), else the dataclass's default; numbers take the field's
    type (YAML's 5 for a float); `convert` maps fields whose config form differs (a list of ids
    that becomes a frozenset). A key that is neither a field nor in `ignore` (the section's keys
    that other code reads) is refused, so a misspelt option never passes unnoticed."""
    section = section or {}
    hints = typing.get_type_hints(cls)
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(section) - names - set(ignore))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} option(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in section:
            continue
        value = section[field.name]
        if field.name in convert:
            value = convert[field.name](value)
        elif hints[field.name] is float and isinstance(value, int | float):
            value = float(value)
        elif hints[field.name] is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        values[field.name] = value
    return cls(**values)
