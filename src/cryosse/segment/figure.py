"""`cryosse figure`: the QC picture of a finished segmentation, drawn from its output folder.

Three orthogonal slices (xy, xz, yz) through the molecule — the centre of the fitted model's Cα
atoms when there is a model, else the centre of the predicted helix and sheet voxels — not
through the box centre: the central slice of the full EMD-5168 filament map misses its one
modelled subunit. Each slice shows the map in grey with its .cxc contour, the helix and sheet
masks in the .cxc's colours and, with a model, the model's own DSSP classes (the dataset's
labelling rule: nearest Cα within 3 Å) as dashed outlines in a second row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.core.atomic import atomic_path
from cryosse.core.classes import CLASS_IDS, code_to_class
from cryosse.io.density import read_map
from cryosse.io.resample import resample_onto
from cryosse.learn.checkpoint import SAMPLE_VOXEL_SIZE
from cryosse.segment.chimerax import COLOURS
from cryosse.segment.errors import SegmentError

AXES = {"xy": 0, "xz": 1, "yz": 2}  # which [z, y, x] axis each view cuts


def dssp_labels(structure: Path, origin: np.ndarray, shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """The model's DSSP classes on the outputs' 1 Å grid (the dataset's labelling rule)."""
    from cryosse.curate.dssp import assign_dssp
    from cryosse.curate.labels import label_voxels
    from cryosse.io.structure import ca_array, protein_residues, read_model

    model = read_model(structure)
    residues = protein_residues(model)
    codes = assign_dssp(model)
    classes = np.array([code_to_class(codes.get(r.key, "")) for r in residues])
    nz, ny, nx = shape_zyx
    return label_voxels(origin, (nx, ny, nz), SAMPLE_VOXEL_SIZE, ca_array(residues), classes)


def _centre(labels: np.ndarray, structure: Path | None, origin: np.ndarray) -> np.ndarray:
    """[z, y, x] index of the slices: the model's Cα centre, else the predicted elements'."""
    if structure is not None:
        from cryosse.io.structure import ca_array, protein_residues, read_model

        ca = ca_array(protein_residues(read_model(structure)))
        index = np.rint((ca.mean(axis=0) - origin) / SAMPLE_VOXEL_SIZE)[::-1]
    else:
        found = np.argwhere(labels > 0)
        index = found.mean(axis=0) if len(found) else np.array(labels.shape) / 2
    return np.clip(np.rint(index), 0, np.array(labels.shape) - 1).astype(int)


def _input_map(out_dir: Path, summary: dict[str, Any]) -> Path:
    """The segmented map: as the .cxc names it (relative to the folder, so it is found after
    the folder moved with it), else as summary.json recorded it."""
    cxc = out_dir / summary["chimerax"]["file"]
    if cxc.is_file():
        for line in cxc.read_text(encoding="utf-8").splitlines():
            if line.startswith('open "'):
                candidate = out_dir / line.split('"')[1]
                if candidate.is_file():
                    return candidate
                break
    return Path(summary["input"]["path"])


def _cut(volume: np.ndarray, axis: int, at: int) -> np.ndarray:
    return np.take(volume, at, axis=axis)


@dataclass(frozen=True)
class _Segmentation:
    """What the figure draws from an output folder, on the outputs' 1 Å grid."""

    summary: dict[str, Any]
    labels: np.ndarray  # [z, y, x] predicted classes
    origin: np.ndarray  # xyz Å of voxel [0, 0, 0]
    grid: np.ndarray  # the segmented map resampled onto the labels' grid
    structure: Path | None  # the fitted model, if any


def _read_segmentation(out_dir: Path, structure: str | Path | None) -> _Segmentation:
    """The output folder's summary, labels and map; the model given, else the one it used."""
    summary_path = out_dir / "summary.json"
    if not summary_path.is_file():
        raise SegmentError(f"{out_dir}: no summary.json: not a cryosse segment output folder")
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary.get("outputs_on") != f"{SAMPLE_VOXEL_SIZE:g} Å grid":
        raise SegmentError(f"{out_dir}: outputs on the input grid; draw from a 1 Å run")
    if structure is None and summary.get("residues"):
        structure = summary["residues"]["structure"]
    stem = next(name for name in summary["files"] if name.endswith("_labels.mrc"))
    labels_map = read_map(out_dir / stem, allow_constant=True)
    labels = labels_map.data.astype(np.int8)
    origin = labels_map.origin
    density = read_map(_input_map(out_dir, summary))
    grid = resample_onto(density, origin, np.full(3, SAMPLE_VOXEL_SIZE), labels.shape[::-1])
    return _Segmentation(summary, labels, origin, grid, Path(structure) if structure else None)


def _extent(
    origin: np.ndarray, shape: tuple[int, ...], plane_axes: list[int]
) -> tuple[float, float, float, float]:
    """imshow's (left, right, bottom, top) in Å of a plane keeping [z, y, x] `plane_axes`."""
    return (
        origin[2 - plane_axes[1]],
        origin[2 - plane_axes[1]] + shape[plane_axes[1]] - 1,
        origin[2 - plane_axes[0]],
        origin[2 - plane_axes[0]] + shape[plane_axes[0]] - 1,
    )


def _draw_map(ax: Any, plane: np.ndarray, level: float, extent: tuple) -> None:
    """The map's slice in grey, with its .cxc contour where the slice crosses it."""
    from matplotlib.colors import to_rgb

    ax.imshow(plane, cmap="gray", origin="lower", extent=extent)
    if plane.min() < level < plane.max():
        ax.contour(
            plane,
            levels=[level],
            colors=[to_rgb(COLOURS["map"])],
            linewidths=0.7,
            origin="lower",
            extent=extent,
        )


def _draw_masks(ax: Any, classes: np.ndarray, style: str, extent: tuple) -> None:
    """Helix and sheet of a class slice, filled and outlined in the .cxc's colours."""
    from matplotlib.colors import to_rgb

    for cls in ("helix", "sheet"):
        mask = (classes == CLASS_IDS[cls]).astype(np.float32)
        if mask.max() > 0:
            ax.contourf(
                mask,
                levels=[0.5, 2.0],
                colors=[to_rgb(COLOURS[cls])],
                alpha=0.35,
                origin="lower",
                extent=extent,
            )
            ax.contour(
                mask,
                levels=[0.5],
                colors=[to_rgb(COLOURS[cls])],
                linewidths=1.1,
                linestyles=style,
                origin="lower",
                extent=extent,
            )


def draw_figure(out_dir: str | Path, png: str | Path, structure: str | Path | None = None) -> Path:
    """Draw the figure of the segmentation in `out_dir` into `png`; returns `png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = _read_segmentation(Path(out_dir), structure)
    labels, origin, structure = seg.labels, seg.origin, seg.structure
    levels = seg.summary["chimerax"]["levels"]
    truth = dssp_labels(structure, origin, labels.shape) if structure is not None else None
    centre = _centre(labels, structure, origin)
    rows = 2 if truth is not None else 1
    fig, axes = plt.subplots(rows, 3, figsize=(12, 4.1 * rows), squeeze=False)
    names = "zyx"
    for column, (view, axis) in enumerate(AXES.items()):
        plane_axes = [a for a in range(3) if a != axis]  # [z, y, x] indices kept, in order
        extent = _extent(origin, labels.shape, plane_axes)
        for row in range(rows):
            ax = axes[row][column]
            _draw_map(ax, _cut(seg.grid, axis, centre[axis]), levels["map"], extent)
            source = labels if row == 0 else truth
            assert source is not None
            style = "solid" if row == 0 else "dashed"
            _draw_masks(ax, _cut(source, axis, centre[axis]), style, extent)
            at = origin[2 - axis] + centre[axis] * SAMPLE_VOXEL_SIZE
            what = "predicted" if row == 0 else f"DSSP of {structure.name if structure else ''}"
            ax.set_title(f"{view} at {names[axis]} = {at:.0f} Å: {what}", fontsize=9)
            ax.set_xlabel(f"{names[plane_axes[1]]} (Å)")
            ax.set_ylabel(f"{names[plane_axes[0]]} (Å)")
    through = "the model's Cα centre" if structure is not None else "the predicted elements"
    fig.suptitle(
        f"{Path(seg.summary['input']['path']).name}: slices through {through}; red helix, "
        f"yellow sheet, grey line the map at its .cxc level {levels['map']:.3g}",
        fontsize=10,
    )
    fig.tight_layout()
    png = Path(png)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return png
