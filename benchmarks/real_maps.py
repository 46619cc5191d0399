"""A model, DeepSSETracer 1.0 and the baselines, side by side on the five real component maps.

One run scores, on the same grids and truth (cryosse.evaluate.map_scoring: mkdssp on the fitted
model,
nearest Cα within 3 Å, every voxel of each grid; residue F1 by the 3 Å plurality vote):

    * a checkpoint (`--checkpoint`, default the shipped model), predicted with
      cryosse.segment.predict.segment_map(..., on_input_grid=True), the code `cryosse segment` runs;
    * DeepSSETracer 1.0's own outputs (<realdata>/dst10_predictions: binary helix / sheet maps
      on the same grids); class = argmax of (background = 1 − h − s, h, s), which for its 0/1
      maps is simply helix where h = 1 and sheet where s = 1 (no voxel is 1 in both);
    * the baselines of cryosse.evaluate.baselines (threshold, Hessian shape, every voxel helix),
    with
      mean + 1 σ of the non-zero voxels as contour (component maps carry no author contour).

Maps: the He-lab component grids EMD-8518 A, EMD-6149 X, EMD-3491 L and X, EMD-1657 AM.
Figures per map (voxel precision / recall / F1 of helix and sheet, residue F1), weighted over
maps (weights: true voxels / residues of the class, as the model card) and pooled.

The paper's own cases: EMD-8518 A and EMD-1657 AM are cases of Mu et al. 2024's test set
(Table 2). They are also scored in the paper's central box (the chain's bounding box without
the 17 Å padding, cryosse.evaluate.map_scoring) beside the published DeepSSETracer 1.1 (FL_DL)
figures.
Unlike the paper's box-cropped maps, these component maps are zoned around the one chain (no
neighbouring density or neighbour residues in the truth), so the comparison is indicative.

    .venv/bin/python benchmarks/real_maps.py [--checkpoint best.pt] [--realdata ../shared/realdata]
        [--json out.json] [--markdown out.md] [--device cpu] [--threads 2] [--no-model]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import host_facts

from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.hashing import sha256_file
from cryosse.evaluate.baselines import BASELINE_TITLES, BASELINES, baseline_labels
from cryosse.evaluate.map_scoring import MapScore, score_labels, summarize, truth_on_grid
from cryosse.io.density import DensityMap, read_map
from cryosse.segment.tiling import labels_from
from cryosse.synthetic.offline import PUBLISHED_RESOLUTIONS

DST10 = "DeepSSETracer 1.0"


@dataclass(frozen=True)
class RealMap:
    folder: str
    chain: str
    map_name: str
    model_name: str
    # where provenance.json has no resolution: (value, source)
    resolution: tuple[float, str] | None = None

    @property
    def name(self) -> str:
        return f"{self.folder} {self.chain}"


# The shipped files do not state EMD-1657's resolution; the paper's Table 2 does (one
# definition: the offline mirror writes the same value into EMD-1657's header).
EMD_1657_RESOLUTION = PUBLISHED_RESOLUTIONS["EMD-1657"]
MAPS = [
    RealMap("EMD-8518", "A", "A-1.0APIX.mrc", "A_fitted.pdb"),
    RealMap("EMD-6149", "X", "X-1.0APIX.mrc.gz", "X_fitted.pdb"),
    RealMap("EMD-3491", "L", "L-1.0APIX.mrc", "L_fitted.pdb"),
    RealMap("EMD-3491", "X", "X-1.0APIX.mrc", "X_fitted.pdb"),
    RealMap("EMD-1657", "AM", "AM-1.0APIX.mrc", "AM_fitted.pdb", EMD_1657_RESOLUTION),
]
# Mu et al. 2024 (Bioinformatics Advances vbae169), Table 2, FL_DL columns: central box voxel
# F1 helix / sheet and residue F1 helix / sheet.
PAPER_CASES = {
    "EMD-8518 A": {
        "row": "8518_5U8S_A (6.1)",
        "voxel_f1_helix": 0.732,
        "voxel_f1_sheet": 0.411,
        "residue_f1_helix": 0.882,
        "residue_f1_sheet": 0.471,
    },
    "EMD-1657 AM": {
        "row": "1657_4V5H_AM (5.8)",
        "voxel_f1_helix": 0.531,
        "voxel_f1_sheet": 0.411,
        "residue_f1_helix": 0.603,
        "residue_f1_sheet": 0.483,
    },
}


def resolution_of(realdata: Path, item: RealMap) -> tuple[float | None, str]:
    provenance = json.loads((realdata / item.folder / "provenance.json").read_text())
    if provenance.get("resolution_A") is not None:
        return float(provenance["resolution_A"]), str(provenance.get("resolution_source", ""))
    if item.resolution is not None:
        return item.resolution
    return None, "unknown"


def dst10_labels(realdata: Path, item: RealMap, density: DensityMap) -> np.ndarray | None:
    folder = realdata / "dst10_predictions" / item.folder
    paths = []
    for cls in SCORED_CLASSES:
        found = [folder / f"{item.chain}_pred_{cls}{s}" for s in (".mrc", ".mrc.gz")]
        found = [p for p in found if p.is_file()]
        if not found:
            print(
                f"warning: no DeepSSETracer 1.0 {cls} map for {item.name} in {folder}",
                file=sys.stderr,
            )
            return None
        paths.append(found[0])
    helix, sheet = (read_map(p, allow_constant=True) for p in paths)
    for other in (helix, sheet):
        if other.data.shape != density.data.shape or not np.allclose(other.origin, density.origin):
            raise SystemExit(f"{item.name}: DeepSSETracer 1.0 output is not on the map's grid")
    return labels_from(helix.data, sheet.data).astype(np.int64)


def model_labels(
    map_path: Path, checkpoint: Any, device: str, threads: int | None, work: Path
) -> np.ndarray:
    """The checkpoint's argmax labels on the input grid, as `cryosse segment` writes them."""
    from cryosse.segment.predict import segment_map

    out = work / map_path.name.split(".")[0]
    result = segment_map(
        map_path, out_dir=out, model=checkpoint, device=device, on_input_grid=True, threads=threads
    )
    return np.rint(read_map(result.files["labels"], allow_constant=True).data).astype(np.int64)


def _pct(value: float | None) -> str:
    return "  NA" if value is None else f"{100 * value:5.1f}"


HEADER = (
    f"{'predictor':34} {'map':12} | {'helix P':>7} {'R':>5} {'F1':>5} | "
    f"{'sheet P':>7} {'R':>5} {'F1':>5} | {'res H':>5} {'res E':>5}"
)


def _line(predictor: str, label: str, f: dict[str, Any]) -> str:
    return (
        f"{predictor:34} {label:12} | {_pct(f['voxel_precision_helix']):>7} "
        f"{_pct(f['voxel_recall_helix']):>5} {_pct(f['voxel_f1_helix']):>5} | "
        f"{_pct(f['voxel_precision_sheet']):>7} {_pct(f['voxel_recall_sheet']):>5} "
        f"{_pct(f['voxel_f1_sheet']):>5} | {_pct(f['residue_f1_helix']):>5} "
        f"{_pct(f['residue_f1_sheet']):>5}"
    )


def _summary_lines(predictor: str, s: dict[str, Any]) -> list[str]:
    weighted = {
        f"{k}_{m}_{c}": s.get(f"{k}_{m}_{c}_weighted")
        for k in ("voxel", "residue")
        for m in ("precision", "recall", "f1")
        for c in SCORED_CLASSES
    }
    pooled = {
        f"{k}_{m}_{c}": s.get(f"{k}_{m}_{c}_pooled")
        for k in ("voxel", "residue")
        for m in ("precision", "recall", "f1")
        for c in SCORED_CLASSES
    }
    return [_line(predictor, "weighted", weighted), _line(predictor, "pooled", pooled)]


def _markdown(rows: list[tuple[str, str, dict[str, Any]]], title: str) -> str:
    head = [
        "predictor",
        "map",
        "helix P",
        "helix R",
        "helix F1",
        "sheet P",
        "sheet R",
        "sheet F1",
        "residue F1 helix",
        "residue F1 sheet",
    ]
    keys = [
        "voxel_precision_helix",
        "voxel_recall_helix",
        "voxel_f1_helix",
        "voxel_precision_sheet",
        "voxel_recall_sheet",
        "voxel_f1_sheet",
        "residue_f1_helix",
        "residue_f1_sheet",
    ]
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for predictor, label, f in rows:
        cells = [predictor, label] + [_pct(f.get(k)).strip() for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a best.pt (default: the shipped model)")
    parser.add_argument("--no-model", action="store_true", help="score only DST 1.0 and baselines")
    parser.add_argument("--realdata", default="../shared/realdata", help="the realdata folder")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--markdown", help="write the tables as Markdown here")
    args = parser.parse_args()

    realdata = Path(args.realdata)
    missing = [m.name for m in MAPS if not (realdata / m.folder / m.map_name).is_file()]
    if missing:
        raise SystemExit(f"{realdata}: missing component maps {', '.join(missing)}")
    facts = host_facts()
    checkpoint_info: dict[str, Any] | None = None
    checkpoint = None
    if not args.no_model:
        from cryosse.learn.checkpoint import default_model_path, load_checkpoint

        path = Path(args.checkpoint) if args.checkpoint else default_model_path()
        checkpoint = load_checkpoint(path)
        checkpoint_info = {
            "path": str(path),
            "sha256": sha256_file(path),
            "default": args.checkpoint is None,
        }
    model_name = "cryosse " + (
        "default model" if args.checkpoint is None else Path(args.checkpoint).name
    )
    predictors = ([model_name] if checkpoint else []) + [DST10] + list(BASELINES)
    titles = {model_name: f"{model_name} (argmax)", DST10: DST10} | {
        b: f"baseline: {BASELINE_TITLES[b]}" for b in BASELINES
    }

    scores: dict[str, dict[str, list[MapScore]]] = {
        p: {"grid": [], "central": []} for p in predictors
    }
    maps_info, seconds = [], {p: 0.0 for p in predictors}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cryosse-real-maps-") as tmp:
        for item in MAPS:
            map_path = realdata / item.folder / item.map_name
            density = read_map(map_path)
            truth = truth_on_grid(density, realdata / item.folder / item.model_name)
            resolution, source = resolution_of(realdata, item)
            maps_info.append(
                {
                    "map": item.name,
                    "file": f"{item.folder}/{item.map_name}",
                    "shape_xyz": list(density.shape_xyz),
                    "resolution_A": resolution,
                    "resolution_source": source,
                    "central_voxels": int(truth.central.sum()),
                }
            )
            for predictor in predictors:
                tick = time.perf_counter()
                if predictor == model_name:
                    pred = model_labels(map_path, checkpoint, args.device, args.threads, Path(tmp))
                elif predictor == DST10:
                    pred = dst10_labels(realdata, item, density)
                    if pred is None:
                        continue
                else:
                    pred = baseline_labels(
                        predictor, density.data, float(density.voxel_size[0]), resolution
                    )
                seconds[predictor] += time.perf_counter() - tick
                for region in ("grid", "central"):
                    scores[predictor][region].append(score_labels(pred, truth, item.name, region))
    total = time.perf_counter() - started

    report: dict[str, Any] = {
        "machine": {k: facts[k] for k in ("cpu_model", "nproc", "python", "platform")},
        "checkpoint": checkpoint_info,
        "maps": maps_info,
        "predictors": {},
        "paper_cases": {"published_dst11_fl_dl": PAPER_CASES, "ours": {}},
        "seconds": {"total": round(total, 1)} | {p: round(s, 1) for p, s in seconds.items()},
    }
    rows: list[tuple[str, str, dict[str, Any]]] = []
    print(f"machine: {facts['cpu_model']}, {facts['nproc']} cores; python {facts['python']}")
    if checkpoint_info:
        print(f"checkpoint: {checkpoint_info['path']} (sha256 {checkpoint_info['sha256'][:12]})")
    print(
        "truth: mkdssp (H/G/I helix, B/E sheet), nearest Cα within 3 Å; every voxel of each "
        "grid; residue F1 by the 3 Å vote; figures in %\n"
    )
    print(HEADER)
    print("-" * len(HEADER))
    for predictor in predictors:
        per_map = [s.figures() for s in scores[predictor]["grid"]]
        summary = summarize(scores[predictor]["grid"])
        report["predictors"][predictor] = {
            "title": titles[predictor],
            "maps": per_map,
            "summary": summary,
        }
        for f in per_map:
            print(_line(titles[predictor][:34], f["name"], f))
            rows.append((titles[predictor], f["name"], f))
        for line in _summary_lines(titles[predictor][:34], summary):
            print(line)
        rows += [
            (
                titles[predictor],
                "weighted",
                {
                    k.removesuffix("_weighted"): v
                    for k, v in summary.items()
                    if k.endswith("_weighted")
                },
            ),
            (
                titles[predictor],
                "pooled",
                {k.removesuffix("_pooled"): v for k, v in summary.items() if k.endswith("_pooled")},
            ),
        ]
        print("-" * len(HEADER))

    print(
        "\nThe paper's own cases, central box (chain bounding box, no padding); published: "
        "DeepSSETracer 1.1 FL_DL, Mu et al. 2024 Table 2"
    )
    print(HEADER)
    print("-" * len(HEADER))
    paper_rows: list[tuple[str, str, dict[str, Any]]] = []
    for case, published in PAPER_CASES.items():
        nan = dict.fromkeys(
            (
                "voxel_precision_helix",
                "voxel_recall_helix",
                "voxel_precision_sheet",
                "voxel_recall_sheet",
            )
        )
        line = _line("published DeepSSETracer 1.1 FL_DL", case, nan | published)
        print(line)
        paper_rows.append(
            (f"published DeepSSETracer 1.1 FL_DL ({published['row']})", case, nan | published)
        )
        for predictor in predictors:
            for score in scores[predictor]["central"]:
                if score.name == case:
                    f = score.figures()
                    report["paper_cases"]["ours"].setdefault(predictor, {})[case] = f
                    print(_line(titles[predictor][:34], case, f))
                    paper_rows.append((titles[predictor], case, f))
        print("-" * len(HEADER))
    print(
        f"\n{total:.0f} s in all on this machine; seconds per predictor: "
        + ", ".join(f"{p} {s:.1f}" for p, s in seconds.items())
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(
            _markdown(rows, "Real component maps, every voxel of each grid")
            + "\n"
            + _markdown(paper_rows, "The paper's own cases, central box")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
