"""Learning curve of one training run: validation F1 and real-map F1 against CPU-hours.

For every snapshot a run kept (`training.snapshot_every`: <run>/snapshots/epoch_NNNN.pt) and its
best.pt, this runs benchmarks/real_maps.py (the code users run: `cryosse segment` on the five
real component maps, scored against DSSP truth) and reads the run's history.csv (validation F1
on the simulated/derived validation cases, the selection metric, and the training seconds).
The real maps are the test set: this curve is for reading, never for choosing a setting (the
run's best.pt is chosen on validation alone).

Writes <out>/learning_curve.csv and <out>/learning_curve.png (two panels: helix and sheet voxel
F1, validation and real maps weighted, against CPU-hours = training seconds × threads / 3600,
with the baselines and DeepSSETracer 1.0 of the same benchmark as horizontal lines).

    .venv/bin/python -m benchmarks.learning_curve results/offline/training/FL_DL_g2_lr0.001_s0 \\
        --out docs/figures [--threads 1] [--realdata ../shared/realdata]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import REPO_ROOT, add_realdata_argument

MODEL_KEYS = (
    "voxel_f1_helix_weighted",
    "voxel_f1_sheet_weighted",
    "residue_f1_helix_weighted",
    "residue_f1_sheet_weighted",
    "voxel_precision_helix_pooled",
)


def real_map_figures(checkpoint: Path, realdata: Path, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.real_maps",
                "--checkpoint",
                str(checkpoint),
                "--realdata",
                str(realdata),
                "--threads",
                str(threads),
                "--device",
                "cpu",
                "--strata",
                "a",  # the five components: the curve's figures, a snapshot in seconds
                "--json",
                str(out),
            ],
            check=True,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a training run folder (history.csv, snapshots/)")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    add_realdata_argument(parser)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    with open(args.run / "history.csv", newline="") as handle:
        history = {int(r["epoch"]): r for r in csv.DictReader(handle)}
    summary = (
        json.loads((args.run / "summary.json").read_text())
        if (args.run / "summary.json").exists()
        else {}
    )
    train_threads = int((summary.get("cpu") or {}).get("torch_threads") or 1)
    snapshots = sorted((args.run / "snapshots").glob("epoch_*.pt"))
    if not snapshots:
        raise SystemExit(f"{args.run}/snapshots holds no epoch_*.pt (training.snapshot_every)")
    rows, references = [], {}
    for path in snapshots:
        epoch = int(path.stem.split("_")[1])
        if epoch not in history:
            continue
        figures = real_map_figures(path, args.realdata, args.threads)
        name = next(p for p in figures["predictors"] if p.startswith("cryosse"))
        model = figures["predictors"][name]["summary"]
        references = {p: v["summary"] for p, v in figures["predictors"].items() if p != name}
        h = history[epoch]
        row = {
            "epoch": epoch,
            "cpu_hours": float(h["seconds"]) * train_threads / 3600,
            "val_f1_helix": float(h["val_f1_helix"]),
            "val_f1_sheet": float(h["val_f1_sheet"]),
            "val_metric": float(h["val_metric"]),
        }
        row |= {k: model[k] for k in MODEL_KEYS}
        rows.append(row)
        print(
            f"epoch {epoch:3d}  {row['cpu_hours']:.2f} CPU-h  validation helix/sheet "
            f"{row['val_f1_helix']:.3f}/{row['val_f1_sheet']:.3f}  real maps weighted voxel "
            f"{model['voxel_f1_helix_weighted']:.3f}/{model['voxel_f1_sheet_weighted']:.3f} "
            f"(pooled helix P {model['voxel_precision_helix_pooled']:.3f}), residue "
            f"{model['residue_f1_helix_weighted']:.3f}/{model['residue_f1_sheet_weighted']:.3f}",
            flush=True,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "learning_curve.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {k: f"{v:.4f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows
        )
    plot(
        rows,
        references,
        args.out / "learning_curve.png",
        f"{args.run.name}: {summary.get('cpu', {}).get('model', 'CPU')} "
        f"{'+'.join(summary.get('cpu', {}).get('flags', []))}",
    )
    print(f"wrote {args.out / 'learning_curve.csv'} and {args.out / 'learning_curve.png'}")
    return 0


def plot(rows: list[dict], references: dict[str, dict], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [r["cpu_hours"] for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, cls in zip(axes, ("helix", "sheet"), strict=True):
        axis.plot(hours, [r[f"val_f1_{cls}"] for r in rows], "o-", label="validation (simulated)")
        axis.plot(
            hours, [r[f"voxel_f1_{cls}_weighted"] for r in rows], "s-", label="real maps, weighted"
        )
        styles = (":", "--", "-.", (0, (1, 3)))
        for (name, summary), style in zip(references.items(), styles, strict=False):
            value = summary.get(f"voxel_f1_{cls}_weighted")
            if value:
                axis.axhline(value, linestyle=style, color="grey", linewidth=1)
                axis.annotate(name, (hours[-1], value), fontsize=7, ha="right", va="bottom")
        axis.set_title(f"{cls} voxel F1")
        axis.set_xlabel("training CPU-hours")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("F1")
    axes[0].legend(fontsize=8, loc="lower right")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(png, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
