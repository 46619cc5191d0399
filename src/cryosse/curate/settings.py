"""Curation settings: one frozen dataclass per config section that shapes a sample
(config.schema.json: resolution, chains, fit, crop, labels, quality), read by `settings_from`.
The resolution window, read by acquisition too, is defined in cryosse.core.config."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from cryosse.core.config import ResolutionWindow, settings_from
from cryosse.curate.quality import QualitySettings


@dataclass(frozen=True)
class ChainRules:
    """Which chains become samples (chains.py)."""

    min_ca: int = 20
    min_fraction_inside: float = 0.95
    max_identity: float = 0.70
    require_helix: bool = True


@dataclass(frozen=True)
class FitChecks:
    """Does the model sit in the map (curate.py)."""

    min_fraction_inside: float = 0.5
    min_density_percentile: float = 60.0


@dataclass(frozen=True)
class CropSettings:
    padding: float = 17.0
    voxel_size: float = 1.0


@dataclass(frozen=True)
class LabelSettings:
    radius: float = 3.0


@dataclass(frozen=True)
class CurationSettings:
    resolution: ResolutionWindow = field(default_factory=ResolutionWindow)
    chains: ChainRules = field(default_factory=ChainRules)
    fit: FitChecks = field(default_factory=FitChecks)
    crop: CropSettings = field(default_factory=CropSettings)
    labels: LabelSettings = field(default_factory=LabelSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CurationSettings:
        """From a config (or its sample-shaping sections, `dataset.settings_section`)."""
        return cls(
            resolution=settings_from(ResolutionWindow, config.get("resolution")),
            chains=settings_from(ChainRules, config.get("chains")),
            fit=settings_from(FitChecks, config.get("fit")),
            crop=settings_from(CropSettings, config.get("crop")),
            labels=settings_from(LabelSettings, config.get("labels")),
            quality=QualitySettings.from_config(config.get("quality") or {}),
        )


def settings_section(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of the config that decide a sample's content (not the entry list), so that
    Snakemake re-runs an entry only when these change, never because entries were added."""
    return {section.name: config.get(section.name, {}) for section in fields(CurationSettings)}
