"""Ship a trained run as the package's default model, with its model card.

`ship_default_model` takes the run chosen for one loss (default FL_DL) in a finished workflow
run (`training/best_runs.tsv`), checks its best.pt with `load_checkpoint`, and writes

    <package>/models/default.pt     the checkpoint, byte for byte
    <package>/models/default.json   the model card: network, parameters, checkpoint sha256,
                                    training data (cases by origin: simulated / derived / EMDB),
                                    run settings, device and seconds, and the test-set figures
                                    of that run from evaluation/<loss>/seed_<seed>/cases.tsv:
                                    voxel and residue F1 of helix and sheet per case and
                                    weighted over the cases (weights: true voxels / Cα of the class)

so the card's figures are exactly the pipeline's own evaluation of the shipped weights.
Before it is copied, the model is calibrated on the run's validation cases
(cryosse.learn.calibration:
temperature scaling folded into the head; no argmax changes, so every F1 stays), and the card
takes the figures of `benchmarks/real_maps.py --json` when given (`real_maps`: the model beside
DeepSSETracer 1.0 and the baselines on real maps), with a one-line `summary` that
`cryosse segment` prints. The checkpoint must stay under `MAX_BYTES` (the package's budget).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryosse import __version__
from cryosse.core.atomic import write_text_atomic
from cryosse.core.classes import SCORED_CLASSES
from cryosse.core.ids import entry_origin
from cryosse.core.metrics import weighted_average
from cryosse.core.run_grid import seed_of
from cryosse.evaluate.evaluation import CaseResult, read_cases
from cryosse.io.run_layout import checkpoint_of, read_best_runs, sample_dirs, split_roles
from cryosse.learn.checkpoint import load_checkpoint
from cryosse.learn.unet import count_parameters

MAX_BYTES = 20 * 1024 * 1024
KINDS = ("voxel", "residue")


class ShipError(ValueError):
    """The run cannot be shipped, with the reason."""


# The weights are released with the code; what they were trained on carries no other terms.
WEIGHTS_LICENCE = (
    "MIT (the licence of cryosse, LICENSE). Trained only on public-domain (CC0) EMDB maps and "
    "PDB models and on maps simulated or low-passed from them, so no other terms apply."
)


def _weights(case: CaseResult, kind: str, cls: str) -> int:
    return getattr(case, f"voxel_true_{cls}") if kind == "voxel" else getattr(case, f"ca_{cls}")


def evaluation_figures(cases: list[CaseResult]) -> dict[str, Any]:
    """Per-case and weighted voxel / residue F1 of helix and sheet."""
    per_case = [
        {"sample_id": c.sample_id, "resolution": c.resolution}
        | {f"{k}_f1_{cls}": getattr(c, f"{k}_f1_{cls}") for k in KINDS for cls in SCORED_CLASSES}
        for c in cases
    ]
    weighted = {
        f"{k}_f1_{cls}": weighted_average(
            [getattr(c, f"{k}_f1_{cls}") for c in cases], [_weights(c, k, cls) for c in cases]
        )
        for k in KINDS
        for cls in SCORED_CLASSES
    }
    return {"cases": per_case, "weighted": weighted}


def _origins(sample_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for sample_id in sample_ids:
        origin = entry_origin(sample_id.split("_", 1)[0])
        counts[origin] = counts.get(origin, 0) + 1
    return counts


def model_card(run_dir: Path, loss: str, run_id: str | None = None) -> tuple[Path, dict[str, Any]]:
    """(checkpoint path, model card) of the run chosen for `loss` in a workflow run folder, or
    of `run_id` (a run of the loss study, benchmarks/loss_study.py: its test cases in
    training/<run_id>/test_cases.tsv)."""
    if run_id is None:
        chosen = read_best_runs(run_dir / "training/best_runs.tsv")
        if loss not in chosen:
            raise ShipError(f"{run_dir}/training/best_runs.tsv has no run for loss {loss}")
        run_id = chosen[loss]["run_id"]
        cases_tsv = run_dir / "evaluation" / loss / f"seed_{seed_of(run_id)}" / "cases.tsv"
    else:
        cases_tsv = run_dir / "training" / run_id / "test_cases.tsv"
    best = checkpoint_of(run_dir, run_id)
    checkpoint = load_checkpoint(best)  # refuses anything segment could not load
    trained_with = checkpoint.metadata["run"]["loss"]
    if trained_with != loss:
        raise ShipError(f"{run_id} was trained with {trained_with}, not {loss}")
    if best.stat().st_size > MAX_BYTES:
        raise ShipError(f"{best} is {best.stat().st_size} bytes, over {MAX_BYTES}")
    if not cases_tsv.is_file():
        raise ShipError(f"{cases_tsv} is missing: evaluate the run before shipping it")
    summary = json.loads((best.parent / "summary.json").read_text())
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
        "licence": WEIGHTS_LICENCE,
    }
    return best, card


def calibrated_checkpoint(run_dir: Path, best: Path) -> dict[str, Any]:
    """The checkpoint dict of `best` with its temperature fitted on the run's validation cases
    and folded into the head, and what was fitted recorded under "calibration"."""
    import torch

    from cryosse.learn.calibration import calibrate, validation_boxes
    from cryosse.learn.checkpoint import training_data_summary
    from cryosse.learn.device import choose_device

    state = torch.load(best, map_location="cpu", weights_only=True)
    loaded = load_checkpoint(best)
    boxes = validation_boxes(run_dir, loaded.metadata)
    if not boxes:
        raise ShipError(f"{run_dir} has no validation case to calibrate the model on")
    calibration = calibrate(loaded.model, boxes, choose_device("cpu", cpu_bf16=False))
    state["model"] = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    state["calibration"] = calibration
    training = state.get("training") or {}
    if "train_resolution_A" not in training:
        # a checkpoint written before checkpoints recorded it: recomputed from the run's own
        # samples, only when they are exactly the ones it was trained on (same sha256)
        manifest, roles = run_dir / "manifest.tsv", split_roles(run_dir / "splits/main.tsv")
        summary = training_data_summary(
            sample_dirs(manifest, roles, "train"), sample_dirs(manifest, roles, "validation")
        )
        if summary["samples_sha256"] == training.get("samples_sha256"):
            training["train_resolution_A"] = summary["train_resolution_A"]
    return state


def _f(value: float | None) -> str:
    return "NA" if value is None else f"{value:.2f}"


def card_summary(card: dict[str, Any]) -> str:
    """One line: where the model is reliable, from its real-map figures beside the baselines."""
    real = card.get("real_maps")
    if not real:
        test = card["test"]["weighted"]
        return (
            f"test (pipeline evaluation): weighted voxel F1 helix {_f(test['voxel_f1_helix'])}, "
            f"sheet {_f(test['voxel_f1_sheet'])}; no real-map comparison recorded"
        )
    # the --json of benchmarks/real_maps.py: predictors by name, each with its summary
    predictors = {name: p["summary"] for name, p in real["predictors"].items()}
    ours = next(v for k, v in predictors.items() if k.startswith("cryosse"))
    peer = predictors.get("DeepSSETracer 1.0")
    baselines = {k: v for k, v in predictors.items() if not k.startswith(("cryosse", "Deep"))}
    best = max(baselines, key=lambda k: baselines[k]["voxel_f1_helix_weighted"] or 0.0)
    resolutions = [m["resolution_A"] for m in real["maps"] if m.get("resolution_A")]

    def pair(figures: dict[str, Any]) -> str:
        h, e = figures["voxel_f1_helix_weighted"], figures["voxel_f1_sheet_weighted"]
        return f"{_f(h)} / {_f(e)}"

    return (
        f"on {len(real['maps'])} real component maps ({min(resolutions):g}-{max(resolutions):g}"
        f" Å), weighted voxel F1 helix / sheet {pair(ours)} (best baseline, {best}: "
        f"{pair(baselines[best])}"
        + (f"; DeepSSETracer 1.0: {pair(peer)}" if peer else "")
        + f"); trained on simulated and low-passed maps only, {card['model']['voxel_size']:g} Å "
        "grid: helices are more reliable than sheets"
        + "".join(
            f"; weak on {kind} (helix {f['helix']:.1f} vs threshold {f['threshold_helix']:.1f})"
            for key, kind in (("b", "full maps"), ("c", "assemblies"))
            if (f := (card.get("strata") or {}).get(key))
            and f.get("helix_margin") is not None
            and f["helix_margin"] < WEAK_MARGIN
        )
    )


# What the card says about a stratum: the model beside the density threshold, the trivial
# baseline every stratum has (benchmarks/real_maps.py names them so)
MODEL_PREFIX = "cryosse"
THRESHOLD_TITLE = "baseline: threshold → helix"
# Below this helix voxel F1 margin over the threshold (points) a map kind is one where the
# model is weak (issue 23's Must target for unzoned maps and assemblies)
WEAK_MARGIN = 10.0


def card_strata(real_maps: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per stratum of benchmarks/real_maps.py --json: maps, the model's and the threshold's
    helix / sheet voxel F1 (%), and the helix margin with its map-level 95 % CI."""
    strata: dict[str, dict[str, Any]] = {}
    for key, entry in (real_maps.get("sets") or {}).items():
        aggregates = entry.get("aggregates") or {}
        ours = next((v for k, v in aggregates.items() if k.startswith(MODEL_PREFIX)), None)
        threshold = aggregates.get(THRESHOLD_TITLE)
        if ours is None or threshold is None:
            continue
        margin = entry.get("model_minus_threshold_helix_voxel_f1") or {}

        def pct(value: float | None) -> float | None:
            return None if value is None else round(100 * value, 1)

        strata[key] = {
            "n_maps": entry.get("n_maps"),
            "n_source_maps": entry.get("n_source_maps"),
            "maps": entry.get("maps"),
            "helix": pct(ours["voxel_f1_helix"]["value"]),
            "sheet": pct(ours["voxel_f1_sheet"]["value"]),
            "threshold_helix": pct(threshold["voxel_f1_helix"]["value"]),
            "helix_margin": pct(margin.get("value")),
            "helix_margin_ci95": [pct(v) for v in margin.get("ci95") or [None, None]],
        }
    return strata


def weak_stratum_note(card: dict[str, Any], stratum: str, kind: str) -> str | None:
    """One sentence for `cryosse segment`: the card's figures on this kind of map when the
    model is less than WEAK_MARGIN points above the density threshold there, else None."""
    figures = (card.get("strata") or {}).get(stratum)
    if not figures or figures.get("helix_margin") is None:
        return None
    if figures["helix_margin"] >= WEAK_MARGIN:
        return None
    return (
        f"the model card shows the model weak on {kind} ({figures['n_maps']} test map(s) of "
        f"{figures['n_source_maps']} source map(s)): helix voxel F1 {figures['helix']:.1f} "
        f"against {figures['threshold_helix']:.1f} for a density threshold"
    )


def refresh_card_figures(package_dir: str | Path, real_maps: dict[str, Any]) -> dict[str, Any]:
    """Replace the shipped card's real-map figures (and strata, summary) with a newer run of
    benchmarks/real_maps.py on the SAME weights (checked by sha256); the weights are untouched."""
    models = Path(package_dir) / "models"
    card = json.loads((models / "default.json").read_text())
    shipped = load_checkpoint(models / "default.pt").sha256
    measured = (real_maps.get("checkpoint") or {}).get("sha256")
    if measured != shipped:
        raise ShipError(
            f"the figures are of checkpoint {str(measured)[:12]}, not of the shipped model "
            f"{shipped[:12]}: run benchmarks/real_maps.py without --checkpoint"
        )
    card["real_maps"] = real_maps
    card["strata"] = card_strata(real_maps)
    card["summary"] = card_summary(card)
    write_text_atomic(models / "default.json", json.dumps(card, indent=2) + "\n")
    return card


def ship_default_model(
    run_dir: str | Path,
    package_dir: str | Path,
    loss: str = "FL_DL",
    real_maps: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> dict:
    """Calibrate the chosen run's best.pt (or `run_id`'s), write it to
    <package_dir>/models/default.pt and write the card (`real_maps`: the summary of
    benchmarks/real_maps.py --json for these weights)."""
    from cryosse.learn.checkpoint import save_checkpoint

    best, card = model_card(Path(run_dir), loss, run_id)
    state = calibrated_checkpoint(Path(run_dir), best)
    models = Path(package_dir) / "models"
    models.mkdir(parents=True, exist_ok=True)
    save_checkpoint(state, models / "default.pt")
    shipped = load_checkpoint(models / "default.pt")
    card["model"]["checkpoint_sha256"] = shipped.sha256
    card["model"]["calibration"] = state["calibration"]
    if real_maps is not None:
        card["real_maps"] = real_maps
        card["strata"] = card_strata(real_maps)
    card["summary"] = card_summary(card)
    write_text_atomic(models / "default.json", json.dumps(card, indent=2) + "\n")
    return card
