"""Where a model's false helix lies on the real components, and whether a decision offset chosen
on validation would remove it (issue 23: the models trained on simulated maps over-call helix
on real maps).

    python -m benchmarks.helix_overcalling where \
        shipped=src/cryosse/models/default.pt mix=results/data_mix/training/RUN/best.pt
    python -m benchmarks.helix_overcalling offsets --run results/data_mix \
        --checkpoint results/data_mix/training/RUN/best.pt

`where`: on the five He-lab component maps as they are (benchmarks/real_maps.py's stratum (a),
mkdssp truth, nearest Cα within 3 Å), each checkpoint's helix TP / FN / FP voxels and where its
false-positive helix voxels lie: on coil or sheet within 3 Å of a Cα (labelled), in the 3-5 Å
shell around the trace (next to a helix Cα: a fatter helix), or more than 5 Å from any Cα.

`offsets`: per-class logit offsets (helix, sheet; background 0) chosen on the run's VALIDATION
cases (never the real maps) to maximise the mean of the pooled helix and sheet voxel F1, on a
0.25 grid over [-2, 2]. Offsets near 0 mean the model is not biased on the maps it was tuned
on, so an over-calling on real maps is the simulation gap, not a threshold.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from benchmarks._harness import add_realdata_argument, host_facts, text_table
from benchmarks.real_maps import TruthCache, components, model_labels
from cryosse.core.classes import BACKGROUND, HELIX, SHEET
from cryosse.evaluate.map_scoring import GridTruth
from cryosse.learn.checkpoint import load_checkpoint

OFFSET_GRID = np.round(np.arange(-2.0, 2.001, 0.25), 2)
LABEL_RADIUS = 3.0  # Å: voxels within it of a Cα carry the Cα's class (the truth rule)
SHELL_RADIUS = 5.0


def false_helix_where(truth: GridTruth, labels: np.ndarray) -> dict[str, float | int]:
    """Helix TP / FN / FP voxel counts and the fraction of the FP in each place."""
    called, true = labels == HELIX, truth.labels == HELIX
    false = called & ~true
    index = np.argwhere(false)
    points = truth.origin + index[:, ::-1] * truth.voxel_size  # [z, y, x] -> xyz Å
    distance, nearest = cKDTree(truth.ca).query(points) if len(index) else (np.zeros(0),) * 2
    nearest_class = truth.ca_class[np.asarray(nearest, dtype=np.int64)]
    label = truth.labels[false]  # the same voxel order as argwhere (C order)
    shell = (distance > LABEL_RADIUS) & (distance <= SHELL_RADIUS)
    n = max(1, len(index))
    return {
        "tp": int((called & true).sum()),
        "fn": int((~called & true).sum()),
        "fp": len(index),
        "on_coil": float(((label == BACKGROUND) & (distance <= LABEL_RADIUS)).sum() / n),
        "on_sheet": float((label == SHEET).sum() / n),
        "shell": float(shell.sum() / n),
        "shell_next_to_helix": float((shell & (nearest_class == HELIX)).sum() / n),
        "far": float((distance > SHELL_RADIUS).sum() / n),
    }


def where(args: argparse.Namespace) -> None:
    models = {}
    for item in args.checkpoints:
        name, _, path = item.partition("=")
        models[name] = load_checkpoint(path or name)
    header = ["map", "model", "TP", "FN", "FP", "P", "R", "FP: coil", "sheet", "3-5 Å", "(helix)"]
    header.append("> 5 Å")
    rows = []
    truths = TruthCache()
    with tempfile.TemporaryDirectory() as work:
        for name, versions in components(args.realdata, truths):
            item = versions()[0]  # the map as it is
            for model_name, checkpoint in models.items():
                labels = model_labels(item, checkpoint, "cpu", args.threads, Path(work))
                f = false_helix_where(item.truth, labels)
                tp, fn, fp = int(f["tp"]), int(f["fn"]), int(f["fp"])
                rows.append(
                    [name, model_name, str(tp), str(fn), str(fp)]
                    + [f"{tp / max(1, tp + fp):.2f}", f"{tp / max(1, tp + fn):.2f}"]
                    + [f"{f[k]:.2f}" for k in ("on_coil", "on_sheet", "shell")]
                    + [f"{f['shell_next_to_helix']:.2f}", f"{f['far']:.2f}"]
                )
    print("\n".join(text_table(header, rows, left={0, 1})))


def pooled_f1(logits: np.ndarray, labels: np.ndarray, offsets: tuple[float, float]) -> list[float]:
    """Pooled voxel F1 of helix and sheet after adding `offsets` to their logits."""
    predicted = (logits + np.array([0.0, *offsets])).argmax(axis=1)
    out = []
    for cls in (HELIX, SHEET):
        tp = int(np.sum((predicted == cls) & (labels == cls)))
        wrong = int(np.sum((predicted == cls) != (labels == cls)))
        out.append(2 * tp / max(1, 2 * tp + wrong))
    return out


def offsets(args: argparse.Namespace) -> None:
    from cryosse.learn.calibration import validation_boxes, validation_logits
    from cryosse.learn.device import choose_device

    checkpoint = load_checkpoint(args.checkpoint)
    boxes = validation_boxes(Path(args.run), checkpoint.metadata)
    logits, labels = validation_logits(
        checkpoint.model, boxes, choose_device("cpu", cpu_bf16=False)
    )
    scored = []
    for helix in OFFSET_GRID:
        for sheet in OFFSET_GRID:
            f1 = pooled_f1(logits, labels, (float(helix), float(sheet)))
            scored.append((float(np.mean(f1)), f1, float(helix), float(sheet)))
    scored.sort(key=lambda s: -s[0])
    plain = pooled_f1(logits, labels, (0.0, 0.0))
    print(f"{len(boxes)} validation cases, {len(labels)} central voxels")
    rows = [["0.00", "0.00", f"{plain[0]:.3f}", f"{plain[1]:.3f}", f"{np.mean(plain):.3f}"]]
    for mean, f1, helix, sheet in scored[:5]:
        figures = [f"{f1[0]:.3f}", f"{f1[1]:.3f}", f"{mean:.3f}"]
        rows.append([f"{helix:+.2f}", f"{sheet:+.2f}", *figures])
    print("first row: no offset; then the best five on validation")
    header = ["helix offset", "sheet offset", "F1 helix", "F1 sheet", "mean"]
    print("\n".join(text_table(header, rows, left=set())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("where", help="where the false helix lies on the components")
    p.add_argument("checkpoints", nargs="+", help="NAME=best.pt (or a path)")
    p.add_argument("--threads", type=int, default=1)
    add_realdata_argument(p)
    p.set_defaults(func=where)
    p = commands.add_parser("offsets", help="class offsets chosen on validation")
    p.add_argument("--run", required=True, help="run folder (manifest.tsv, splits/main.tsv)")
    p.add_argument("--checkpoint", required=True)
    p.set_defaults(func=offsets)
    args = parser.parse_args()
    facts = host_facts()
    flags = [f for f in facts["cpu_flags"] if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")]
    print(f"machine: {facts['cpu_model']}, flags {' '.join(flags)}")
    args.func(args)


if __name__ == "__main__":
    main()
