"""Extra training samples: only structures the base training set alone holds, split unchanged."""

from pathlib import Path

from cryosse.core.tsv import read_tsv, tsv_text
from cryosse.splits.extend import SPLIT_COLUMNS, extend_training

COLUMNS = ["sample_id", "emdb_id", "pdb_id", "chain", "quality_bin", "path"]


def _run(root: Path, samples: list[tuple[str, str, str]]) -> Path:
    """A curated run's manifest.tsv and splits/main.tsv: (sample id, pdb id, split)."""
    rows = [
        {
            "sample_id": s,
            "emdb_id": s.split("_")[0],
            "pdb_id": p,
            "chain": "A",
            "quality_bin": "1",
            "path": f"entries/{s}",
        }
        for s, p, _ in samples
    ]
    (root / "splits").mkdir(parents=True)
    (root / "manifest.tsv").write_text(tsv_text(COLUMNS, rows))
    split = [
        {"sample_id": s, "split": x, "quality_bin": "1", "cluster": f"c_{p}", "batch": "1"}
        for s, p, x in samples
    ]
    (root / "splits" / "main.tsv").write_text(tsv_text(SPLIT_COLUMNS, split))
    return root


def test_only_structures_of_the_base_training_set_alone_are_added(tmp_path: Path) -> None:
    base = _run(
        tmp_path / "base",
        [
            ("EMD-92000_1abc_A", "1abc", "train"),
            ("EMD-92001_2def_A", "2def", "test"),
            ("EMD-92002_3ghi_A", "3ghi", "train"),
            ("EMD-92003_3ghi_B", "3ghi", "validation"),
        ],
    )
    extra = _run(
        tmp_path / "extra",
        [
            ("EMD-93000_1ABC_A", "1ABC", "train"),  # trained on already: added
            ("EMD-93001_2def_A", "2def", "train"),  # a test structure: left out
            ("EMD-93002_3ghi_A", "3ghi", "train"),  # also in validation: left out
            ("EMD-93003_4jkl_A", "4jkl", "train"),  # unknown to the base split: left out
        ],
    )
    made = extend_training(
        base / "manifest.tsv", base / "splits" / "main.tsv", extra / "manifest.tsv", tmp_path / "o"
    )
    assert (made.added, made.left_out) == (1, 3)
    assert made.splits == {"train": 3, "test": 1, "validation": 1}
    split = {r["sample_id"]: r for r in read_tsv(made.main_split)}
    assert split["EMD-93000_1ABC_A"] == {
        "sample_id": "EMD-93000_1ABC_A",
        "split": "train",
        "quality_bin": "1",
        "cluster": "c_1abc",  # the base cluster of its structure
        "batch": "1",
    }
    base_split = {r["sample_id"]: r for r in read_tsv(base / "splits" / "main.tsv")}
    assert all(split[s] == row for s, row in base_split.items())  # nothing reshuffled
    paths = {r["sample_id"]: r["path"] for r in read_tsv(made.manifest)}
    assert paths["EMD-93000_1ABC_A"] == str((extra / "entries" / "EMD-93000_1ABC_A").resolve())
    assert paths["EMD-92000_1abc_A"] == str((base / "entries" / "EMD-92000_1abc_A").resolve())
