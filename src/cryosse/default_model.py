"""Ship a trained run as the package's default model, with its model card.

`ship_default_model` takes the run chosen for one loss (default FL_DL) in a finished workflow
run (`training/best_runs.tsv`), checks its best.pt with `load_checkpoint`, and writes

    <package>/models/default.pt     the checkpoint, byte for byte
    <package>/models/default.json   the model card: network, parameters, checkpoint sha256,
                                    training data (cases by origin: simulated / derived / EMDB),
                                    run settings, device and seconds, and the test-set figures
                                    of that run from evaluation/<loss>/cases.tsv: voxel and
                                    residue F1 of helix and sheet per case and weighted over the
                                    cases (weights: true voxels / Cα of the class)

so the card's figures are exactly the pipeline's own evaluation of the shipped weights.
The checkpoint must stay under `MAX_BYTES` (the package's size budget).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cryosse import __version__
from cryosse.atomic import atomic_path, write_text_atomic
from cryosse.checkpoint import load_checkpoint
from cryosse.evaluation import CaseResult, read_cases
from cryosse.metrics import weighted_average
from cryosse.simulate import entry_origin
from cryosse.tsv import read_tsv
from cryosse.unet import count_parameters

MAX_BYTES = 20 * 1024 * 1024
KINDS = ("voxel", "residue")
CLASSES = ("helix", "sheet")


class ShipError(ValueError):
    """The run cannot be shipped, with the reason."""


def _weights(case: CaseResult, kind: str, cls: str) -> int:
    return getattr(case, f"voxel_true_{cls}") if kind == "voxel" else getattr(case, f"ca_{cls}")


def evaluation_figures(cases: list[CaseResult]) -> dict[str, Any]:
    """Per-case and weighted voxel / residue F1 of helix and sheet."""
    per_case = [
        {"sample_id": c.sample_id, "resolution": c.resolution}
        | {f"{k}_f1_{cls}": getattr(c, f"{k}_f1_{cls}") for k in KINDS for cls in CLASSES}
        for c in cases
    ]
    weighted = {
        f"{k}_f1_{cls}": weighted_average(
            [getattr(c, f"{k}_f1_{cls}") for c in cases], [_weights(c, k, cls) for c in cases]
        )
        for k in KINDS
        for cls in CLASSES
    }
    return {"cases": per_case, "weighted": weighted}


def _origins(sample_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample_id in sample_ids:
        origin = entry_origin(sample_id.split("_", 1)[0])
        counts[origin] = counts.get(origin, 0) + 1
    return counts


def model_card(run_dir: Path, loss: str) -> tuple[Path, dict[str, Any]]:
    """(checkpoint path, model card) of the run chosen for `loss` in a workflow run folder."""
    chosen = {row["loss"]: row for row in read_tsv(run_dir / "training/best_runs.tsv")}
    if loss not in chosen:
        raise ShipError(f"{run_dir}/training/best_runs.tsv has no run for loss {loss}")
    run_id = chosen[loss]["run_id"]
    best = run_dir / "training" / run_id / "best.pt"
    checkpoint = load_checkpoint(best)  # refuses anything segment could not load
    if best.stat().st_size > MAX_BYTES:
        raise ShipError(f"{best} is {best.stat().st_size} bytes, over {MAX_BYTES}")
    cases_tsv = run_dir / "evaluation" / loss / "cases.tsv"
    if not cases_tsv.is_file():
        raise ShipError(f"{cases_tsv} is missing: evaluate the run before shipping it")
    summary = json.loads((run_dir / "training" / run_id / "summary.json").read_text())
    training = checkpoint.metadata["training"]
    data = training  # the training data summary is part of the training metadata
    card = {
        "model": {
            "architecture": checkpoint.metadata["architecture"],
            "model_config": checkpoint.metadata["model_config"],
            "parameters": count_parameters(checkpoint.model),
            "checkpoint_sha256": checkpoint.sha256,
            "classes": checkpoint.metadata["classes"],
            "voxel_size": checkpoint.metadata["voxel_size"],
            "normalization": checkpoint.metadata["normalization"],
        },
        "training": {
            "run_id": run_id,
            "loss": loss,
            "run": checkpoint.metadata["run"],
            "best_epoch": checkpoint.metadata["epoch"],
            "validation_metric": checkpoint.metadata["metric"],
            "settings": training.get("settings"),
            "train_cases": data.get("train_cases"),
            "validation_cases": data.get("validation_cases"),
            "train_cases_by_origin": _origins(data.get("train_ids", [])),
            "validation_cases_by_origin": _origins(data.get("validation_ids", [])),
            "samples_sha256": data.get("samples_sha256"),
            "device": summary.get("device"),
            "seconds": summary.get("seconds"),
            "epochs_run": summary.get("epochs_run"),
        },
        "test": {"run": run_dir.name, **evaluation_figures(read_cases(cases_tsv))},
        "versions": checkpoint.metadata["versions"],
        "shipped_by": f"cryosse {__version__}",
    }
    return best, card


def ship_default_model(run_dir: str | Path, package_dir: str | Path, loss: str = "FL_DL") -> dict:
    """Copy the chosen run's best.pt to <package_dir>/models/default.pt and write the card."""
    best, card = model_card(Path(run_dir), loss)
    models = Path(package_dir) / "models"
    models.mkdir(parents=True, exist_ok=True)
    with atomic_path(models / "default.pt") as tmp:
        shutil.copyfile(best, tmp)
    write_text_atomic(models / "default.json", json.dumps(card, indent=2) + "\n")
    return card
