"""`cryosse evaluate --batch`: many maps at once, per-map rows and one weighted row per
predictor, and a warning when the prediction covers density the given model does not (issue 25
item 6). Real component maps of the demo mirror, segmented by the shipped model."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from cryosse.segment.execution import SegmentOptions
from cryosse.segment.predict import segment_map
from tests.conftest import DEMO_MIRROR

PAIRS = {
    "EMD-8518": ("emd_8518.map.gz", "5u8s"),
    "EMD-6149": ("emd_6149.map.gz", "3j8g"),
}


@pytest.fixture(scope="module")
def predictions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    for emdb, (name, _) in PAIRS.items():
        map_path = DEMO_MIRROR / f"emdb/structures/{emdb}/map/{name}"
        segment_map(map_path, root / emdb, options=SegmentOptions(threads=1))
    return root


def evaluate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "cryosse.cli", "evaluate", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def write_batch(root: Path, models: dict[str, Path]) -> Path:
    lines = ["pred_helix\tpred_sheet\tmap\tstructure\temdb\tpdb"]
    for emdb, (name, pdb) in PAIRS.items():
        stem = name.removesuffix(".map.gz")
        the_map = DEMO_MIRROR / f"emdb/structures/{emdb}/map/{name}"
        lines.append(
            f"{emdb}/{stem}_helix_prob.mrc\t{emdb}/{stem}_sheet_prob.mrc\t{the_map}\t"
            f"{models[emdb]}\t{emdb}\t{pdb}"
        )
    table = root / "pairs.tsv"
    table.write_text("\n".join(lines) + "\n")
    return table


def test_many_maps_give_per_map_rows_and_a_weighted_aggregate(predictions: Path) -> None:
    models = {emdb: DEMO_MIRROR / f"pdb/{pdb}.pdb.gz" for emdb, (_, pdb) in PAIRS.items()}
    table = write_batch(predictions, models)
    result = evaluate("--batch", table.name, "--out", "scores.tsv", cwd=predictions)
    assert result.returncode == 0, result.stderr
    assert "does not cover" not in result.stderr  # component maps: the model explains them
    rows = list(csv.DictReader((predictions / "scores.tsv").open(), delimiter="\t"))
    tool = [r for r in rows if r["predictor"] == "tool"]
    assert [r["map"] for r in tool] == ["emd_8518.map.gz", "emd_6149.map.gz", tool[-1]["map"]]
    per_map, (total,) = tool[:-1], [r for r in tool if r["map"].startswith("ALL")]
    assert {r["predictor"] for r in rows} == {"tool", "threshold", "hessian", "all_helix"}
    for cls in ("helix", "sheet"):
        weights = [int(r[f"true_{cls}_voxels"]) for r in per_map]
        values = [float(r[f"voxel_f1_{cls}"]) for r in per_map]
        expected = sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)
        assert float(total[f"voxel_f1_{cls}"]) == pytest.approx(expected, abs=1e-4)
        assert int(total[f"true_{cls}_voxels"]) == sum(weights)
    assert all(float(r["unmodelled_fraction"]) < 0.25 for r in per_map)


def test_prediction_beyond_the_model_is_warned_about(predictions: Path, tmp_path: Path) -> None:
    """Half of 5u8s chain A (residues 1-100) as the model of EMD-8518: the predicted helices of
    the other half lie in density the model does not cover."""
    with gzip.open(DEMO_MIRROR / "pdb/5u8s.pdb.gz", "rt") as handle:
        lines = [
            line
            for line in handle
            if not line.startswith(("ATOM", "HETATM")) or int(line[22:26]) <= 100
        ]
    half = tmp_path / "half.pdb"
    half.write_text("".join(lines))
    models = {"EMD-8518": half, "EMD-6149": DEMO_MIRROR / "pdb/3j8g.pdb.gz"}
    table = write_batch(predictions, models)
    result = evaluate("--batch", str(table), "--no-baselines", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if "does not cover" in line]
    assert warning.startswith("warning: emd_8518.map.gz: ") and "half.pdb" in warning


def test_batch_and_single_options_are_not_mixed(tmp_path: Path) -> None:
    (tmp_path / "pairs.tsv").write_text("map\nx.mrc\n")
    for args in (
        ["--batch", "pairs.tsv", "--map", "m.mrc"],
        ["--batch", "pairs.tsv"],
        ["--batch", "absent.tsv"],
    ):
        result = evaluate(*args, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("cryosse evaluate: --batch")
