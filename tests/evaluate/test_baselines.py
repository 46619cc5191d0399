"""Baselines and the map-grid scoring, checked against figures measured on the real maps.

The reference figures are those issue 16 measured independently on the five He-lab component
grids (DSSP truth, nearest Cα within 3 Å, every voxel, 3 Å residue vote): DeepSSETracer 1.0's
own outputs weighted voxel F1 helix 54.5 % / sheet 31.8 %, pooled helix P / R 65.2 / 57.4 %,
weighted residue F1 64.4 / 42.7 %; density > mean + 1 σ → helix 40.9 % (P / R 32.3 / 52.6,
residue 61.9 %); every residue helix 63.5 %.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cryosse.core.classes import HELIX, SHEET
from cryosse.evaluate import baselines
from cryosse.evaluate.baselines import baseline_labels, hessian_labels, shape_classes
from cryosse.evaluate.map_scoring import score_labels, summarize, truth_on_grid
from cryosse.io.density import read_map
from cryosse.segment.tiling import labels_from
from tests.conftest import REALDATA

needs_realdata = pytest.mark.skipif(
    not REALDATA.is_dir() or shutil.which("mkdssp") is None,
    reason=f"needs the real component maps in {REALDATA} and mkdssp 4.x",
)
COMPONENTS = [  # folder, chain, map, model, resolution (Å; EMD-1657: Mu et al. 2024 Table 2)
    ("EMD-8518", "A", "A-1.0APIX.mrc", "A_fitted.pdb", 6.1),
    ("EMD-6149", "X", "X-1.0APIX.mrc.gz", "X_fitted.pdb", 5.0),
    ("EMD-3491", "L", "L-1.0APIX.mrc", "L_fitted.pdb", 5.3),
    ("EMD-3491", "X", "X-1.0APIX.mrc", "X_fitted.pdb", 5.3),
    ("EMD-1657", "AM", "AM-1.0APIX.mrc", "AM_fitted.pdb", 5.8),
]


def _dst10(folder: str, chain: str) -> np.ndarray:
    base = REALDATA / "dst10_predictions" / folder
    maps = []
    for cls in ("helix", "sheet"):
        names = (f"{chain}_pred_{cls}.mrc", f"{chain}_pred_{cls}.mrc.gz")
        path = next(base / n for n in names if (base / n).is_file())
        maps.append(read_map(path, allow_constant=True).data)
    return labels_from(*maps).astype(np.int64)


@pytest.fixture(scope="module")
def scored() -> dict[str, list]:
    out: dict[str, list] = {"dst10": [], "threshold": [], "all_helix": [], "hessian": []}
    for folder, chain, map_name, model_name, resolution in COMPONENTS:
        density = read_map(REALDATA / folder / map_name)
        truth = truth_on_grid(density, REALDATA / folder / model_name)
        out["dst10"].append(score_labels(_dst10(folder, chain), truth, folder))
        for name in ("threshold", "all_helix", "hessian"):
            pred = baseline_labels(name, density.data, 1.0, resolution)
            out[name].append(score_labels(pred, truth, f"{folder} {chain}"))
    return out


@needs_realdata
def test_scoring_reproduces_the_measured_figures_of_dst10_and_the_trivial_baselines(
    scored: dict[str, list],
) -> None:
    dst = summarize(scored["dst10"])
    assert dst["voxel_f1_helix_weighted"] == pytest.approx(0.545, abs=0.002)
    assert dst["voxel_f1_sheet_weighted"] == pytest.approx(0.318, abs=0.002)
    assert dst["voxel_precision_helix_pooled"] == pytest.approx(0.652, abs=0.002)
    assert dst["voxel_recall_helix_pooled"] == pytest.approx(0.574, abs=0.002)
    assert dst["residue_f1_helix_weighted"] == pytest.approx(0.644, abs=0.002)
    assert dst["residue_f1_sheet_weighted"] == pytest.approx(0.427, abs=0.002)
    threshold = summarize(scored["threshold"])
    assert threshold["voxel_f1_helix_weighted"] == pytest.approx(0.409, abs=0.002)
    assert threshold["voxel_precision_helix_pooled"] == pytest.approx(0.323, abs=0.002)
    assert threshold["voxel_recall_helix_pooled"] == pytest.approx(0.526, abs=0.002)
    assert threshold["residue_f1_helix_weighted"] == pytest.approx(0.619, abs=0.002)
    assert threshold["voxel_f1_sheet_weighted"] == 0.0  # it never predicts sheet
    every = summarize(scored["all_helix"])
    assert every["residue_f1_helix_weighted"] == pytest.approx(0.635, abs=0.002)
    assert every["voxel_recall_helix_pooled"] == 1.0


@needs_realdata
def test_hessian_baseline_finds_sheet_on_real_maps(scored: dict[str, list]) -> None:
    by_map = {s.name: s.figures() for s in scored["hessian"]}
    # EMD-6149 X and EMD-8518 A hold β-sheets: the shape detector finds part of them
    assert by_map["EMD-6149 X"]["voxel_f1_sheet"] > 0.1
    assert by_map["EMD-8518 A"]["voxel_f1_sheet"] > 0.0
    assert by_map["EMD-6149 X"]["residue_f1_sheet"] > 0.1
    # and calls helix too, never outside the density threshold's voxels
    assert all(f["voxel_f1_helix"] > 0.1 for f in by_map.values())


@needs_realdata
def test_central_box_is_the_chain_bounding_box_on_the_grid() -> None:
    density = read_map(REALDATA / "EMD-8518/A-1.0APIX.mrc")
    truth = truth_on_grid(density, REALDATA / "EMD-8518/A_fitted.pdb")
    assert truth.ca_central.all()  # every Cα of the chain lies in its own bounding box
    assert 0 < truth.central.sum() < truth.central.size
    # labels lie within 3 Å of a Cα, and side chains reach beyond the Cα: hardly any
    # labelled voxel falls outside the atoms' bounding box
    outside = truth.labels[~truth.central]
    assert np.count_nonzero(outside) < 0.05 * np.count_nonzero(truth.labels)
    perfect = score_labels(truth.labels, truth, "truth", "central").figures()
    assert perfect["voxel_f1_helix"] == 1.0 and perfect["voxel_f1_sheet"] == 1.0
    assert perfect["residue_f1_helix"] == 1.0


def _blurred(shape: tuple[int, int, int], distance: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-0.5 * (distance / width) ** 2).astype(np.float32).reshape(shape)


def test_rods_are_helix_plates_are_sheet_blobs_are_background() -> None:
    n = 41
    z, y, x = np.meshgrid(*[np.arange(n) - n // 2] * 3, indexing="ij")
    shape = (n, n, n)
    rod = _blurred(shape, np.hypot(y, x), 3.0)  # a cylinder along z
    plate = _blurred(shape, np.abs(y).astype(float), 3.0)  # a slab normal to y
    blob = _blurred(shape, np.sqrt(x**2 + y**2 + z**2), 3.0)
    centre = (n // 2, n // 2, n // 2)
    for density, expected in ((rod, HELIX), (plate, SHEET), (blob, 0)):
        labels = hessian_labels(density, 1.0, 6.0, contour=0.5)
        assert labels[centre] == expected
        assert np.all(labels[density <= 0.5] == 0)  # nothing outside the contour
    assert list(
        shape_classes(
            np.array([[-1.0, -0.9, -0.1], [-1.0, -0.1, 0.0], [-1.0, -0.9, -0.8], [0.5, 1.0, 2.0]])
        )
    ) == [HELIX, SHEET, 0, 0]


def test_hessian_by_slabs_equals_the_whole_map(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    density = gaussian_filter(rng.normal(size=(50, 30, 20)), 2.0).astype(np.float32)
    monkeypatch.setattr(baselines, "_Z_SLAB", 1000)
    whole = hessian_labels(density, 1.0, 6.0)
    monkeypatch.setattr(baselines, "_Z_SLAB", 7)
    assert np.array_equal(hessian_labels(density, 1.0, 6.0), whole)
    assert {HELIX, SHEET} <= set(np.unique(whole))


def test_threshold_uses_the_author_contour_when_known() -> None:
    density = np.zeros((4, 4, 4), dtype=np.float32)
    density[1, 1, 1:4] = [1.0, 2.0, 3.0]
    assert np.count_nonzero(baseline_labels("threshold", density, contour=1.5)) == 2
    # else mean + 1 σ of the non-zero voxels: 2 + 0.816
    assert np.count_nonzero(baseline_labels("threshold", density)) == 1
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_labels("nothing", density)


def _case(sid: str, f1h: float | None, f1s: float | None, true_h: int, true_s: int):
    from cryosse.evaluate.evaluation import CaseResult

    return CaseResult(sid, 6.0, 10, 5, 20, 0, 0, true_h, 0, 0, true_s, f1h, f1s, f1h, f1s)


def test_tables_put_baselines_beside_the_losses_and_never_choose_one() -> None:
    from cryosse.evaluate.tables import best_loss, table1, table2

    results = {"FL_DL": [_case("a", 0.5, 0.2, 100, 50), _case("b", 0.4, None, 300, 0)]}
    baselines = {"threshold": [_case("a", 0.9, 0.0, 100, 50), _case("b", 0.8, None, 300, 0)]}
    chosen = {"FL_DL": {"run_id": "FL_DL_g2_lr0.001", "gamma": 2.0}}
    rows = table1(results, chosen, baselines)
    assert [r["loss"] for r in rows] == ["FL_DL", "baseline:threshold"]
    assert rows[1]["run_id"] == "" and rows[1]["helix_weighted"] == "0.825"
    assert best_loss(rows) == "FL_DL"  # the baseline scores higher but is not a loss
    (first, _) = table2(results, "FL_DL", baselines)
    assert first["baseline:threshold_helix"] == "0.900"
    assert first["residue_helix_baseline:threshold"] == "0.900"
    assert first["residue_helix"] == "0.500"  # still the best loss's residue F1


def test_baselines_on_a_curated_sample_and_in_cryosse_evaluate(tmp_path, demo_samples) -> None:
    from cryosse.core.run_grid import BASELINES
    from cryosse.evaluate.evaluation import evaluate_baselines, read_cases
    from cryosse.evaluate.external import evaluate_external
    from cryosse.io.density import write_map
    from cryosse.io.sample import read_sample
    from tests.conftest import DEMO_MIRROR
    from tests.support.demo import WIDE as settings

    sample_dir = demo_samples("EMD-8518") / "EMD-8518_5u8s_A"
    by_name = {}
    for name in BASELINES:
        (result,) = evaluate_baselines(name, [sample_dir], tmp_path / f"{name}.tsv")
        (again,) = read_cases(tmp_path / f"{name}.tsv")
        assert again.voxel_tp_helix == result.voxel_tp_helix
        by_name[name] = result
    assert by_name["threshold"].voxel_pred_sheet == 0 and by_name["threshold"].voxel_f1_helix > 0
    assert by_name["hessian"].voxel_pred_sheet > 0 and by_name["hessian"].voxel_pred_helix > 0
    every = by_name["all_helix"]
    assert every.voxel_tp_helix == every.voxel_true_helix  # recall 1
    sample = read_sample(sample_dir)
    origin = np.array(sample.meta.origin)
    for cls, name in ((1, "helix"), (2, "sheet")):
        write_map(tmp_path / f"{name}.mrc", (sample.labels == cls).astype(np.float32), origin, 1.0)
    rows, _ = evaluate_external(
        tmp_path / "helix.mrc",
        tmp_path / "sheet.mrc",
        DEMO_MIRROR / "emdb/structures/EMD-8518/map/emd_8518.map.gz",
        DEMO_MIRROR / "pdb/5u8s.pdb.gz",
        settings,
        baselines=BASELINES,
    )
    assert [r["predictor"] for r in rows] == ["tool", *BASELINES]
    assert rows[0]["voxel_f1_helix"] == 1.0
    scored = {r["predictor"]: r for r in rows[1:]}
    # cryosse evaluate knows no author contour or resolution (no EMDB header): the contour
    # falls back to mean + 1 σ, so only the contour-free baseline equals the pipeline's figures
    for key in ("voxel_f1_helix", "residue_f1_helix"):
        assert scored["all_helix"][key] == pytest.approx(getattr(every, key))
    assert scored["threshold"]["voxel_f1_sheet"] in (0.0, None)
    assert 0.0 < scored["threshold"]["voxel_f1_helix"] < 1.0
