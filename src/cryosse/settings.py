"""Curation settings, read from the validated workflow config (see config/schema.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryosse.quality import QualitySettings


@dataclass(frozen=True)
class CurationSettings:
    resolution_min: float = 5.0
    resolution_max: float = 10.0
    min_ca: int = 20
    min_fraction_inside: float = 0.95
    max_identity: float = 0.70
    require_helix: bool = True
    fit_min_fraction_inside: float = 0.5
    fit_min_density_percentile: float = 60.0
    padding: float = 17.0
    voxel_size: float = 1.0
    label_radius: float = 3.0
    quality: QualitySettings = field(default_factory=QualitySettings)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CurationSettings:
        res = config.get("resolution", {})
        chains = config.get("chains", {})
        fit = config.get("fit", {})
        crop = config.get("crop", {})
        labels = config.get("labels", {})
        d = cls()
        return cls(
            resolution_min=float(res.get("min", d.resolution_min)),
            resolution_max=float(res.get("max", d.resolution_max)),
            min_ca=int(chains.get("min_ca", d.min_ca)),
            min_fraction_inside=float(chains.get("min_fraction_inside", d.min_fraction_inside)),
            max_identity=float(chains.get("max_identity", d.max_identity)),
            require_helix=bool(chains.get("require_helix", d.require_helix)),
            fit_min_fraction_inside=float(
                fit.get("min_fraction_inside", d.fit_min_fraction_inside)
            ),
            fit_min_density_percentile=float(
                fit.get("min_density_percentile", d.fit_min_density_percentile)
            ),
            padding=float(crop.get("padding", d.padding)),
            voxel_size=float(crop.get("voxel_size", d.voxel_size)),
            label_radius=float(labels.get("radius", d.label_radius)),
            quality=QualitySettings.from_config(config.get("quality") or {}),
        )
