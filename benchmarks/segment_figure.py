"""A central slice of a segmentation, drawn at the levels its ChimeraX file (`<map>.cxc`) uses.

Segments a real map with `cryosse segment` (segment_map, the shipped model unless --model),
reads back the written files and the levels and colours of the .cxc (cryosse.segment.chimerax), and
draws the central z-plane of the 1 Å grid: the map in grey with a contour line at the map's
.cxc level, the helix and sheet masks as contours at their .cxc levels in the .cxc's colours,
and, with --structure, the model's own DSSP classes (cryosse.curate.labels nearest-Cα rule, 3 Å) as
dashed contours beside them (left: prediction, right: DSSP).

    .venv/bin/python -m benchmarks.segment_figure MAP [--structure MODEL] [--out PNG]

The figure in docs/figures/segment_slice.png is EMD-8518 chain A (the 1 Å component map of
the real-data fixtures) with its fitted model A_fitted.pdb.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb

from cryosse.core.classes import CLASS_IDS
from cryosse.io.density import read_map
from cryosse.io.resample import resample_onto
from cryosse.learn.checkpoint import SAMPLE_VOXEL_SIZE
from cryosse.segment.chimerax import COLOURS
from cryosse.segment.execution import SegmentOptions
from cryosse.segment.predict import segment_map


def dssp_labels(structure: Path, origin: np.ndarray, shape_zyx: tuple[int, ...]) -> np.ndarray:
    """The model's DSSP classes on the 1 Å grid (the dataset's labelling rule)."""
    from cryosse.core.classes import code_to_class
    from cryosse.curate.dssp import assign_dssp
    from cryosse.curate.labels import label_voxels
    from cryosse.io.structure import ca_array, protein_residues, read_model

    model = read_model(structure)
    residues = protein_residues(model)
    codes = assign_dssp(model)
    classes = np.array([code_to_class(codes.get(r.key, "")) for r in residues])
    return label_voxels(origin, shape_zyx[::-1], SAMPLE_VOXEL_SIZE, ca_array(residues), classes)


def _outline(ax, plane: np.ndarray, level: float, colour, extent, style: str) -> None:
    """A mask's region at `level`: filled lightly, its edge drawn."""
    ax.contourf(
        plane, levels=[level, 2.0], colors=[colour], alpha=0.35, origin="lower", extent=extent
    )
    ax.contour(
        plane,
        levels=[level],
        colors=[colour],
        linewidths=1.2,
        linestyles=style,
        origin="lower",
        extent=extent,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("map")
    parser.add_argument("--structure", type=Path, help="a fitted model: its DSSP beside")
    parser.add_argument("--model", help="a checkpoint (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/segment_slice.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cryosse-figure-") as tmp:
        result = segment_map(args.map, Path(tmp) / "seg", args.model, SegmentOptions(device="cpu"))
        levels = result.summary["chimerax"]["levels"]
        masks = {
            cls: read_map(result.files[f"{cls}_mask"], allow_constant=True).data
            for cls in ("helix", "sheet")
        }
    density = read_map(args.map)
    shape = result.labels.shape
    # the input map on the outputs' 1 Å grid (a copy when the map is already on it)
    grid = resample_onto(density, result.origin, np.full(3, SAMPLE_VOXEL_SIZE), shape[::-1])
    z = shape[0] // 2
    truth = None
    if args.structure is not None:
        truth = dssp_labels(args.structure, result.origin, shape)
    panels = 2 if truth is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.6), squeeze=False)
    extent = (
        result.origin[0],
        result.origin[0] + shape[2] - 1,
        result.origin[1],
        result.origin[1] + shape[1] - 1,
    )
    for column, ax in enumerate(axes[0]):
        ax.imshow(grid[z], cmap="gray", origin="lower", extent=extent)
        ax.contour(
            grid[z],
            levels=[levels["map"]],
            colors=[to_rgb(COLOURS["map"])],
            linewidths=0.8,
            origin="lower",
            extent=extent,
        )
        for cls in ("helix", "sheet"):
            colour = to_rgb(COLOURS[cls])
            if column == 0 and levels[f"{cls}_mask"] is not None:
                plane = masks[cls][z].astype(np.float32)
                if plane.min() < levels[f"{cls}_mask"] < plane.max():
                    _outline(ax, plane, levels[f"{cls}_mask"], colour, extent, "solid")
            if column == 1 and truth is not None:
                plane = (truth[z] == CLASS_IDS[cls]).astype(np.float32)
                if plane.max() > 0:
                    _outline(ax, plane, 0.5, colour, extent, "dashed")
        ax.set_xlabel("x (Å)")
        ax.set_ylabel("y (Å)")
    name = Path(args.map).name
    axes[0][0].set_title(
        f"{name}, z = {result.origin[2] + z:.0f} Å\n"
        f"predicted (.cxc levels: map {levels['map']:.3g}, masks 0.5)",
        fontsize=9,
    )
    if truth is not None:
        axes[0][1].set_title(f"DSSP of {args.structure.name} (Cα within 3 Å)", fontsize=9)
    fig.text(
        0.5,
        0.01,
        "grey line: the map at its .cxc level (the .cxc colours); red: helix; yellow: sheet",
        ha="center",
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB, slice z index {z} of {shape[0]}")


if __name__ == "__main__":
    main()
