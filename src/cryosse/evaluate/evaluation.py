"""Score a trained model on test samples: voxel and residue F1 per case, predicted maps as MRC.

For every test case the whole box is segmented (the same normalisation and padding as in
training), and in its central box:
    voxel counts per class (true positives, predicted, true) and voxel F1 for helix and sheet
    (NA when a class has no true and no predicted voxel);
    the residue vote (cryosse.core.metrics.residue_votes: predicted voxels within 3 Å of each Cα
    whose
    Cα lies in the central box) against the residue's DSSP class: residue F1 helix and sheet;
    Table 2's counts: helix / sheet / other Cα in the central box, and the resolution.
The predictions are written in the sample's frame, so they open in ChimeraX on top of the
sample (and of the deposited map): pred_helix.mrc and pred_sheet.mrc (probabilities, float32)
and pred_labels.mrc (int8, 0/1/2).

The baselines (cryosse.evaluate.baselines) are scored on the same samples by the same code
(`evaluate_baselines`): their labels on the sample's raw density box, the author's contour when
curation used one (sample.json quality.contour_source "author"), else mean + 1 σ of the box's
non-zero voxels, and the sample's resolution for the Hessian's smoothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from cryosse.core.atomic import atomic_directory
from cryosse.core.classes import CLASS_IDS, HELIX, N_CLASSES, SHEET, SHORT_NAMES
from cryosse.core.metrics import class_counts, residue_f1, residue_votes, voxel_f1
from cryosse.core.tsv import read_tsv, write_tsv
from cryosse.evaluate.baselines import baseline_labels
from cryosse.io.density import write_map
from cryosse.io.sample import Sample, SampleMeta, read_sample
from cryosse.learn.augment import load_box
from cryosse.learn.checkpoint import grid_factor, load_checkpoint
from cryosse.learn.device import Device, choose_device
from cryosse.learn.ensemble import SeedEnsemble
from cryosse.learn.predict import predict_sample
from cryosse.learn.unet import UNet3D


@dataclass
class CaseResult:
    sample_id: str
    resolution: float | None
    ca_helix: int
    ca_sheet: int
    ca_other: int
    voxel_tp_helix: int
    voxel_pred_helix: int
    voxel_true_helix: int
    voxel_tp_sheet: int
    voxel_pred_sheet: int
    voxel_true_sheet: int
    voxel_f1_helix: float | None
    voxel_f1_sheet: float | None
    residue_f1_helix: float | None
    residue_f1_sheet: float | None
    conf_bg_bg: int = 0  # central voxels: true bg, predicted bg
    conf_bg_helix: int = 0
    conf_bg_sheet: int = 0
    conf_helix_bg: int = 0
    conf_helix_helix: int = 0
    conf_helix_sheet: int = 0
    conf_sheet_bg: int = 0
    conf_sheet_helix: int = 0
    conf_sheet_sheet: int = 0
    # residue counts of the 3 Å vote (true: ca_<class>); None in cases.tsv written before them
    residue_tp_helix: int | None = None
    residue_pred_helix: int | None = None
    residue_tp_sheet: int | None = None
    residue_pred_sheet: int | None = None


CASE_COLUMNS = [f.name for f in fields(CaseResult)]


def load_model(checkpoint: str | Path, device: Device) -> tuple[UNet3D, dict[str, Any]]:
    """The network of a checkpoint (refused with CheckpointError if incompatible), its metadata."""
    loaded = load_checkpoint(checkpoint)
    return loaded.model.to(device.torch_device).eval(), loaded.metadata


def evaluate_case(
    model: UNet3D | SeedEnsemble,
    sample_dir: str | Path,
    device: Device,
    predictions_dir: Path | None = None,
    factor: int = 1,
    flips: bool = False,
) -> CaseResult:
    """Score one sample; `factor`: sample voxels per network voxel (checkpoint.grid_factor);
    `flips`: test-time flips (predict_box). Whatever the network's grid, the scores are on the
    sample's own labels."""
    sample = read_sample(sample_dir)
    box = load_box(sample_dir)
    probs = predict_sample(model, box, factor, device, flips=flips)
    pred = probs.argmax(axis=0)
    if predictions_dir is not None:
        origin = np.array(sample.meta.origin, dtype=np.float64)
        voxel = float(sample.meta.voxel_size)
        with atomic_directory(predictions_dir) as tmp:
            write_map(tmp / "pred_helix.mrc", probs[HELIX].astype(np.float32), origin, voxel)
            write_map(tmp / "pred_sheet.mrc", probs[SHEET].astype(np.float32), origin, voxel)
            write_map(tmp / "pred_labels.mrc", pred.astype(np.int8), origin, voxel)
    return score_case(sample, box.labels, box.central, pred)


def sample_contour(meta: SampleMeta) -> float | None:
    """The author's contour of a sample's map when curation used one, else None."""
    quality = meta.quality
    return float(quality.contour) if quality.contour_source == "author" else None


def evaluate_baseline_case(name: str, sample_dir: str | Path) -> CaseResult:
    """One baseline (cryosse.evaluate.baselines) on one sample, scored as a model's prediction."""
    sample = read_sample(sample_dir)
    labels = sample.labels.astype(np.int64)
    pred = baseline_labels(
        name,
        sample.density,
        float(sample.meta.voxel_size),
        sample.meta.resolution,
        sample_contour(sample.meta),
    )
    return score_case(sample, labels, sample.meta.central_mask(labels.shape), pred)


def evaluate_baselines(
    name: str, sample_dirs: list[Path], cases_tsv: str | Path
) -> list[CaseResult]:
    """Every test case with one baseline; per-case TSV in the models' format."""
    results = [evaluate_baseline_case(name, d) for d in sample_dirs]
    write_cases(results, cases_tsv)
    return results


def score_case(
    sample: Sample, labels: np.ndarray, central_box: np.ndarray, pred: np.ndarray
) -> CaseResult:
    """Voxel and residue scores of predicted labels in the sample's central box."""
    origin = np.array(sample.meta.origin, dtype=np.float64)
    voxel = float(sample.meta.voxel_size)
    central = [r for r in sample.residues if r["in_central_box"] == "1"]
    ca = np.array([[float(r[f"ca_{a}"]) for a in "xyz"] for r in central]).reshape(-1, 3)
    truth = np.array([CLASS_IDS[r["class"]] for r in central], dtype=np.int64)
    voted = residue_votes(pred, origin, voxel, ca)
    counts = {c: class_counts(pred, labels, central_box, c) for c in (HELIX, SHEET)}
    return CaseResult(
        sample_id=sample.meta.sample_id,
        resolution=sample.meta.resolution,
        ca_helix=int((truth == HELIX).sum()),
        ca_sheet=int((truth == SHEET).sum()),
        ca_other=int((truth == 0).sum()),
        voxel_tp_helix=counts[HELIX][0],
        voxel_pred_helix=counts[HELIX][1],
        voxel_true_helix=counts[HELIX][2],
        voxel_tp_sheet=counts[SHEET][0],
        voxel_pred_sheet=counts[SHEET][1],
        voxel_true_sheet=counts[SHEET][2],
        voxel_f1_helix=voxel_f1(pred, labels, central_box, HELIX),
        voxel_f1_sheet=voxel_f1(pred, labels, central_box, SHEET),
        residue_f1_helix=residue_f1(voted, truth, HELIX),
        residue_f1_sheet=residue_f1(voted, truth, SHEET),
        **confusion_counts(pred, labels, central_box),
        residue_tp_helix=int(((voted == HELIX) & (truth == HELIX)).sum()),
        residue_pred_helix=int((voted == HELIX).sum()),
        residue_tp_sheet=int(((voted == SHEET) & (truth == SHEET)).sum()),
        residue_pred_sheet=int((voted == SHEET).sum()),
    )


def confusion_counts(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, int]:
    """The 3 × 3 voxel confusion matrix of the central box, as conf_<true>_<predicted>."""
    n, names = N_CLASSES, SHORT_NAMES
    matrix = np.bincount(n * truth[mask].astype(np.int64) + pred[mask], minlength=n * n)
    return {
        f"conf_{names[t]}_{names[q]}": int(matrix[n * t + q]) for t in range(n) for q in range(n)
    }


def _cell(value: Any) -> Any:
    if value is None:
        return "NA"
    return f"{value:.6f}" if isinstance(value, float) else value


def write_cases(results: list[CaseResult], path: str | Path) -> None:
    write_tsv(path, CASE_COLUMNS, ({k: _cell(v) for k, v in asdict(r).items()} for r in results))


def read_cases(path: str | Path) -> list[CaseResult]:
    def parse(name: str, text: str) -> Any:
        if text == "NA":
            return None
        if name == "sample_id":
            return text
        if name.startswith(("voxel_f1", "residue_f1")) or name == "resolution":
            return float(text)
        return int(text)

    return [
        CaseResult(**{k: parse(k, v) for k, v in row.items() if k in CASE_COLUMNS})
        for row in read_tsv(path)
    ]


def cases_by_loss_and_seed(case_files: list[str | Path]) -> dict[str, dict[int, list[CaseResult]]]:
    """evaluation/<loss>/seed_<seed>/cases.tsv files by loss, then seed (in the files' order)."""
    by_loss: dict[str, dict[int, list[CaseResult]]] = {}
    for path in map(Path, case_files):
        seed = int(path.parent.name.removeprefix("seed_"))
        by_loss.setdefault(path.parent.parent.name, {})[seed] = read_cases(path)
    return by_loss


def evaluate_checkpoint(
    checkpoint: str | Path | Sequence[str | Path],
    sample_dirs: list[Path],
    cases_tsv: str | Path,
    predictions_root: str | Path | None = None,
    device: str = "auto",
    flips: bool = False,
) -> list[CaseResult]:
    """Every test case with one trained model; per-case TSV, optional predicted maps.
    Several checkpoints (seeds of one setting, the same network and grid) are scored as their
    mean (cryosse.learn.ensemble.SeedEnsemble); `flips`: test-time flips."""
    torch_device = choose_device(device)
    paths = [checkpoint] if isinstance(checkpoint, str | Path) else list(checkpoint)
    loaded = [load_model(path, torch_device) for path in paths]
    metadata = loaded[0][1]
    for path, (_, other) in zip(paths[1:], loaded[1:], strict=True):
        if other["voxel_size"] != metadata["voxel_size"]:
            grids = f"{other['voxel_size']} Å, not {metadata['voxel_size']} Å"
            raise ValueError(f"{path}: the network's grid is {grids}")
    model: UNet3D | SeedEnsemble = (
        loaded[0][0] if len(loaded) == 1 else SeedEnsemble([m for m, _ in loaded]).eval()
    )
    results = []
    for sample_dir in sample_dirs:
        out = Path(predictions_root) / Path(sample_dir).name if predictions_root else None
        factor = grid_factor(metadata, float(read_sample(sample_dir).meta.voxel_size))
        results.append(evaluate_case(model, sample_dir, torch_device, out, factor, flips))
    write_cases(results, cases_tsv)
    return results
