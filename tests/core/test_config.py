"""One config loader (cryosse.core.config) for the Snakefile, the command line and the tests: the
schema's semantics exactly as Snakemake's `validate(..., set_default=True)`, and every settings
dataclass's defaults equal to the schema's."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from cryosse.acquire.archive_settings import ArchiveSettings, DownloadSettings
from cryosse.acquire.search import SearchSettings
from cryosse.core.config import (
    ConfigError,
    ModelSettings,
    complete_config,
    load_config,
    schema,
    settings_from,
)
from cryosse.curate.quality import QualitySettings
from cryosse.curate.settings import (
    ChainRules,
    CropSettings,
    CurationSettings,
    FitChecks,
    LabelSettings,
    ResolutionWindow,
)
from cryosse.learn.settings import TRAINING_GRID_AND_RESOURCES, TrainSettings
from cryosse.splits.ledger import SplitSettings
from tests.conftest import REPO

# config section -> the dataclass that reads it
SECTIONS = {
    "archive": ArchiveSettings,
    "download": DownloadSettings,
    "search": SearchSettings,
    "resolution": ResolutionWindow,
    "chains": ChainRules,
    "fit": FitChecks,
    "crop": CropSettings,
    "labels": LabelSettings,
    "quality": QualitySettings,
    "splits": SplitSettings,
    "training": TrainSettings,
    "model": ModelSettings,
}
# keys of those sections that other code reads
READ_ELSEWHERE = {"splits": {"ledger"}, "training": set(TRAINING_GRID_AND_RESOURCES)}


@pytest.mark.parametrize("config_file", [None, "config/demo.yaml", "config/config.yaml"])
def test_the_loader_fills_in_what_snakemake_validate_fills_in(config_file: str | None) -> None:
    raw = yaml.safe_load((REPO / config_file).read_text()) if config_file else {}
    by_snakemake = copy.deepcopy(raw)
    validate(by_snakemake, str(REPO / "config" / "schema.json"), set_default=True)
    assert complete_config(copy.deepcopy(raw)) == by_snakemake
    assert load_config(REPO / config_file if config_file else None) == by_snakemake


def test_the_schema_shipped_in_the_package_is_the_one_in_config() -> None:
    assert (REPO / "config" / "schema.json").resolve() == (
        REPO / "src" / "cryosse" / "core" / "config.schema.json"
    )
    assert schema()["properties"]["crop"]["properties"]["padding"]["default"] == 17.0


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_field_is_an_option_of_its_section(section: str) -> None:
    options = set(schema()["properties"][section]["properties"])
    fields = {f.name for f in dataclasses.fields(SECTIONS[section])}
    assert fields <= options, f"{section}: fields not in the schema: {fields - options}"
    assert options - fields == READ_ELSEWHERE.get(section, set())


def test_every_dataclass_default_is_the_schemas() -> None:
    """Built from the schema's defaults, each settings object equals its dataclass's defaults."""
    defaults = load_config()
    assert CurationSettings.from_config(defaults) == CurationSettings()
    assert SplitSettings.from_config(defaults["splits"]) == SplitSettings()
    assert TrainSettings.from_config(defaults["training"]) == TrainSettings()
    assert ArchiveSettings.from_config(defaults["archive"]) == ArchiveSettings()
    assert SearchSettings.from_config(defaults["search"]) == SearchSettings()
    assert ModelSettings.from_config(defaults["model"]) == ModelSettings()
    for section in ("download", "resolution", "chains", "fit", "crop", "labels", "quality"):
        cls = SECTIONS[section]
        assert settings_from(cls, defaults[section]) == cls(), section


def test_a_misspelt_option_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("chains:\n  min_caa: 3\n")
    with pytest.raises(ConfigError, match=r"chains.*min_caa"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"resolution\.max"):
        complete_config({"resolution": {"max": "ten"}})
    with pytest.raises(ConfigError, match="not a mapping"):
        complete_config([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"unknown ChainRules option.*min_caa"):
        settings_from(ChainRules, {"min_caa": 3})
    # the command line stops on it as Snakemake does: one line, exit 1, nothing curated
    out = tmp_path / "out"
    cryosse = Path(sys.executable).parent / "cryosse"
    mirror = REPO / "demo" / "mirror"
    command = f"{cryosse} curate EMD-8518 --mirror {mirror} --out {out} --config {bad}"
    run = subprocess.run(command.split(), capture_output=True, text=True)
    assert run.returncode == 1 and "min_caa" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not out.exists()


def test_numbers_take_the_fields_type() -> None:
    window = settings_from(ResolutionWindow, {"min": 5, "max": 9})
    assert window == ResolutionWindow(5.0, 9.0) and isinstance(window.min, float)
    rules = settings_from(ChainRules, {"min_ca": 30.0})
    assert rules.min_ca == 30 and isinstance(rules.min_ca, int)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("training", "crop_size", 100_000),
        ("training", "batch_size", 100_000),
        ("model", "base", 100_000),
        ("model", "depth", 1000),
        ("splits", "n_folds", 1_000_000),
    ],
)
def test_absurd_sizes_are_refused_by_the_schema(section: str, key: str, value: int) -> None:
    """Issue 26: these passed the schema, then failed after minutes or at 7.5 GB as tracebacks
    (and n_folds 1e6 hung the dry run building a million jobs); now one line names the key."""
    with pytest.raises(ConfigError) as info:
        complete_config({section: {key: value}})
    message = str(info.value)
    assert f"{section}.{key}" in message and "\n" not in message
    bound = schema()["properties"][section]["properties"][key]["maximum"]
    complete_config({section: {key: bound}})  # the bound itself is allowed


def test_sort_keys_orders_every_mapping_and_keeps_lists() -> None:
    from cryosse.core.config import sort_keys

    config = {"b": {"z": 1, "a": [{"y": 0, "x": 1}, 3]}, "a": ["FL_DL", "CE"]}
    same = sort_keys(config)
    assert same is config
    assert list(config) == ["a", "b"] and list(config["b"]) == ["a", "z"]
    assert list(config["b"]["a"][0]) == ["x", "y"]
    assert config["a"] == ["FL_DL", "CE"]  # a list's order means something (the run order)
