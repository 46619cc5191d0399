"""Clusters with the real MMseqs2, and splits that are deterministic, disjoint, stable under
additions and leakage-free (checked after the fact with mmseqs search on real sequences)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from cryosse.io.structure import protein_residues, read_model
from cryosse.splits.clusters import cluster_sequences, max_identity, search_hits, similar_pairs
from cryosse.splits.ledger import (
    HELD_OUT,
    Case,
    LedgerRow,
    SplitSettings,
    assign_main_split,
    case_groups,
    cross_validation_folds,
    read_ledger,
    update_ledger,
    write_cv_table,
)
from cryosse.splits.report import CaseFacts, build_report, leaks
from tests.conftest import DEMO_MIRROR, REPO

STRUCTURES = REPO.parent / "shared" / "structures"


def chain_sequences(path: Path, min_length: int = 30) -> dict[str, str]:
    residues = protein_residues(read_model(path))
    chains: dict[str, str] = {}
    for residue in residues:
        chains[residue.chain] = chains.get(residue.chain, "") + residue.one_letter
    stem = path.name.split(".")[0]
    return {f"{stem}_{c}": s for c, s in chains.items() if len(s) >= min_length}


@pytest.fixture(scope="module")
def real_sequences() -> dict[str, str]:
    """Chains of 40 real structures from ../shared/structures (read in place)."""
    files = sorted(STRUCTURES.glob("*.gz"))[:40]
    assert files, f"tests need {STRUCTURES}"
    sequences: dict[str, str] = {}
    for path in files:
        sequences.update(chain_sequences(path))
    return sequences


def test_haemoglobin_chains_cluster_actin_does_not() -> None:
    hb = chain_sequences(DEMO_MIRROR / "pdb/5me2.pdb.gz")
    actin = chain_sequences(DEMO_MIRROR / "pdb/3mfp.pdb.gz")
    members = cluster_sequences({**hb, **actin})
    assert members["5me2_A"] == members["5me2_B"]  # α and β globin: ~43 % identical
    assert members["5me2_C"] == members["5me2_A"]
    assert members["3mfp_A"] == "3mfp_A"
    best = max_identity(search_hits({"5me2_A": hb["5me2_A"]}, {"5me2_B": hb["5me2_B"]}))
    assert best is not None and 0.35 <= best.identity < 0.6


def synthetic_cases(n: int, seed: int = 0) -> list[Case]:
    """n cases in clusters of 1-6 members, bins 1-3, several chains per entry sometimes."""
    rng = random.Random(seed)
    cases = []
    cluster = 0
    while len(cases) < n:
        size = rng.choice([1, 1, 1, 2, 2, 3, 4, 6])
        for _ in range(size):
            i = len(cases)
            emdb = f"EMD-{10000 + i // 2 if rng.random() < 0.2 else 20000 + i}"
            cases.append(Case(f"{emdb}_1abc_{i}", emdb, rng.choice([1, 1, 2, 3]), f"c{cluster}"))
        cluster += 1
    return cases[:n]


def test_main_split_proportions_and_groups() -> None:
    cases = synthetic_cases(1355)
    rows = assign_main_split(cases, [], SplitSettings())
    counts = Counter(r.split for r in rows)
    assert abs(counts["train"] - 1246) <= 8
    assert abs(counts["validation"] - 47) <= 4
    assert abs(counts["test"] - 62) <= 4
    # A group (shared cluster or entry) never spans splits.
    split_of = {r.sample_id: r.split for r in rows}
    groups = case_groups(cases)
    by_group: dict[str, set[str]] = {}
    for sid, group in groups.items():
        by_group.setdefault(group, set()).add(split_of[sid])
    assert all(len(s) == 1 for s in by_group.values())
    # Stratified: each bin's share of test is close to the overall share.
    for quality_bin in (1, 2, 3):
        in_bin = [r for r in rows if r.quality_bin == str(quality_bin)]
        share = sum(r.split == "test" for r in in_bin) / len(in_bin)
        assert abs(share - 62 / 1355) < 0.02


def test_deterministic_and_seeded() -> None:
    cases = synthetic_cases(300)
    first = assign_main_split(cases, [], SplitSettings())
    assert first == assign_main_split(list(reversed(cases)), [], SplitSettings())
    other = assign_main_split(cases, [], SplitSettings(seed=2))
    assert [r.split for r in first] != [
        {r.sample_id: r.split for r in other}[x.sample_id] for x in first
    ]


def test_additions_never_move_an_existing_case(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.tsv"
    cases = synthetic_cases(400)
    update_ledger(ledger, cases[:300], SplitSettings())
    before = ledger.read_bytes()
    rows = {r.sample_id: r for r in read_ledger(ledger)}
    test_case = next(c for c in cases[:300] if rows[c.sample_id].split == "test")
    train_case = next(c for c in cases[:300] if rows[c.sample_id].split == "train")
    similar_to_test = Case("EMD-30001_2abc_A", "EMD-30001", 1, test_case.cluster)
    bridging = Case("EMD-30002_2abc_A", train_case.emdb_id, 1, test_case.cluster)
    update_ledger(ledger, [*cases, similar_to_test], SplitSettings())
    assert ledger.read_bytes().startswith(before)
    after = {r.sample_id: r for r in read_ledger(ledger)}
    assert all(after[sid] == row for sid, row in rows.items())
    assert after[similar_to_test.sample_id].split == "test"
    assert after[similar_to_test.sample_id].batch == "2"
    assert len(after) == 401
    # A case tying a training group to a test group is held out, and still nothing moves.
    middle = ledger.read_bytes()
    update_ledger(ledger, [*cases, similar_to_test, bridging], SplitSettings())
    assert ledger.read_bytes().startswith(middle)
    assert {r.sample_id: r for r in read_ledger(ledger)}[bridging.sample_id].split == HELD_OUT
    # The report lists the held-out case but does not call it a leak.
    main = {r.sample_id: r.split for r in read_ledger(ledger)}
    facts = {sid: CaseFacts(sid, 1, 1, 1, 1) for sid in main}
    sequences = {sid: "MKV" * 20 for sid in main}  # all identical: any evaluation would leak
    rows = build_report(facts, sequences, {bridging.sample_id: HELD_OUT}, {})
    assert [r["split"] for r in rows] == ["train", "validation", "test", "held_out"]
    assert rows[-1]["cases"] == 1 and rows[-1]["max_identity_to_train"] == "NA"
    assert not leaks(rows)
    # Nothing new: the ledger is untouched.
    last = ledger.read_bytes()
    update_ledger(ledger, [*cases, similar_to_test, bridging], SplitSettings())
    assert ledger.read_bytes() == last


def test_cross_validation_folds_do_not_overlap() -> None:
    cases = synthetic_cases(600)
    main = {r.sample_id: r.split for r in assign_main_split(cases, [], SplitSettings())}
    roles = cross_validation_folds(cases, main, SplitSettings())
    tests = [{sid for sid, r in roles.items() if r[k] == "test"} for k in range(5)]
    assert all(tests)
    for i in range(5):
        for j in range(i + 1, 5):
            assert not tests[i] & tests[j]
    groups = case_groups(cases)
    sizes = Counter(groups.values())
    for k, fold in enumerate(tests):
        assert all(sizes[groups[s]] <= 3 for s in fold)  # clusters of fewer than four
        assert not any(main[s] == "validation" for s in fold)
        train_groups = {groups[s] for s, r in roles.items() if r[k] == "train"}
        assert not {groups[s] for s in fold} & train_groups
        assert abs(len(fold) - round(len(main) * 62 / 1355)) <= 3


def test_no_cross_validation_with_zero_folds(tmp_path: Path) -> None:
    """n_folds = 0 (an offline CPU run): no fold column, every case still listed."""
    cases = synthetic_cases(50)
    settings = SplitSettings(n_folds=0)
    main = {r.sample_id: r.split for r in assign_main_split(cases, [], settings)}
    roles = cross_validation_folds(cases, main, settings)
    assert sorted(roles) == sorted(c.sample_id for c in cases)
    assert all(r == [] for r in roles.values())
    write_cv_table(tmp_path / "cv.tsv", roles, 0)
    lines = (tmp_path / "cv.tsv").read_text().splitlines()
    assert lines[0] == "sample_id" and len(lines) == 51


def test_real_sequences_split_without_leakage(real_sequences: dict[str, str]) -> None:
    """Real chains, real mmseqs clusters, then the after-the-fact mmseqs search finds no
    evaluation case at >= 35 % identity to a training case."""
    members = cluster_sequences(real_sequences)
    links = similar_pairs(real_sequences)
    cases = [
        Case(sid, "EMD-" + str(10000 + i), 1 + i % 3, members[sid])
        for i, sid in enumerate(sorted(real_sequences))
    ]
    settings = SplitSettings(proportions={"train": 6, "validation": 2, "test": 2}, n_folds=3)
    main = {r.sample_id: r.split for r in assign_main_split(cases, [], settings, links)}
    cv = cross_validation_folds(cases, main, settings, links)
    facts = {c.sample_id: CaseFacts(c.sample_id, c.quality_bin, 3, 1, 6) for c in cases}
    rows = build_report(facts, real_sequences, main, cv)
    assert not leaks(rows), leaks(rows)
    evaluated = [r for r in rows if r["split"] in ("validation", "test") and r["cases"]]
    assert len(evaluated) >= 4
    assert all(r["max_identity_to_train"] != "" for r in evaluated)
    main_rows = {r["split"]: r for r in rows if r["scheme"] == "main"}
    assert main_rows["test"]["helix_residue_fraction"] == "0.300"
    # The clusters really group similar chains: some cluster has several members.
    assert max(Counter(members.values()).values()) >= 2
    # Without the search links, clustering alone lets a similar pair straddle the split: the
    # reason they exist (α/β globin of 1cg5, 38 % identical, sit in different clusters).
    plain = {r.sample_id: r.split for r in assign_main_split(cases, [], settings)}
    assert leaks(build_report(facts, real_sequences, plain, {}))


def test_evaluation_entries_pinned_to_test_and_homologues_held_out(tmp_path: Path) -> None:
    """Real evaluation maps go to test; everything grouped with them is never trained on."""
    cases = [
        Case("EMD-8518_5u8s_A", "EMD-8518", 1, "c1"),  # evaluation entry
        Case("EMD-8518_5u8s_B", "EMD-8518", 3, "c9"),  # same entry, another cluster
        Case("EMD-92000_1abc_A", "EMD-92000", 1, "c1"),  # simulated homologue (same cluster)
        Case("EMD-92001_2abc_A", "EMD-92001", 2, "c2"),  # linked by the all-vs-all search
        Case("EMD-92002_3abc_A", "EMD-92002", 1, "c9"),  # shares a cluster with chain B
        *[Case(f"EMD-9{3000 + i}_4abc_A", f"EMD-9{3000 + i}", 1, f"d{i}") for i in range(40)],
    ]
    links = [("EMD-92001_2abc_A", "EMD-8518_5u8s_A")]
    settings = SplitSettings.from_config(
        {
            "proportions": {"train": 9, "validation": 1, "test": 0},
            "evaluation_entries": ["emd-8518"],
            "n_folds": 2,
        }
    )
    rows = assign_main_split(cases, [], settings, links)
    split = {r.sample_id: r.split for r in rows}
    assert split["EMD-8518_5u8s_A"] == split["EMD-8518_5u8s_B"] == "test"
    for homologue in ("EMD-92000_1abc_A", "EMD-92001_2abc_A", "EMD-92002_3abc_A"):
        assert split[homologue] == HELD_OUT
    # test = the evaluation entry only (test proportion 0); the rest train / validation.
    assert {s for s in split if split[s] == "test"} == {"EMD-8518_5u8s_A", "EMD-8518_5u8s_B"}
    others = [split[f"EMD-9{3000 + i}_4abc_A"] for i in range(40)]
    assert set(others) == {"train", "validation"}
    # Without the option the same cases mix the evaluation protein's group into any split.
    free = {
        r.sample_id: r.split
        for r in assign_main_split(
            cases,
            [],
            SplitSettings.from_config({"proportions": {"train": 9, "validation": 1, "test": 0}}),
            links,
        )
    }
    assert free["EMD-8518_5u8s_A"] != "test" and free["EMD-92000_1abc_A"] != HELD_OUT
    # CV never trains on an evaluation case.
    folds = cross_validation_folds(cases, split, settings, links)
    assert folds["EMD-8518_5u8s_A"] == [HELD_OUT, HELD_OUT]
    assert folds["EMD-92000_1abc_A"] == [HELD_OUT, HELD_OUT]
    # A ledger that already trains on a homologue is refused, not silently moved.
    stale = [LedgerRow("EMD-92000_1abc_A", "train", "1", "c1", "1")]
    with pytest.raises(ValueError, match="evaluation_entries"):
        assign_main_split(cases, stale, settings, links)
    # The pinned rows are written to the ledger like any other.
    ledger = tmp_path / "ledger.tsv"
    update_ledger(ledger, cases, settings, links)
    assert {r.sample_id: r.split for r in read_ledger(ledger)} == split


def test_test_chains_pinned_one_chain_at_a_time(tmp_path: Path) -> None:
    """Listed chains (e.g. the paper's Table 2) go to test; the entry's other chains and
    everything grouped with them are held out; the option off changes nothing."""
    table = tmp_path / "test_chains.tsv"
    table.write_text(
        "# a test-chain table (cryosse.splits.published)\n"
        "emdb_id\tpdb_id\tchain\tCE_voxel_helix\n"
        "EMD-6452\t3JBO\tAH\t67.6\n"
        "EMD-6452\t3JBO\tC\t63.5\n"
        "EMD-4141\t5M1S\tB\t54.5\n"  # not in this run: pins nothing
    )
    cases = [
        Case("EMD-6452_3jbo_AH", "EMD-6452", 1, "c1"),  # listed
        Case("EMD-6452_3jbo_C", "EMD-6452", 2, "c2"),  # listed, same entry
        Case("EMD-6452_3jbo_B", "EMD-6452", 1, "c3"),  # same entry, not listed
        Case("EMD-92000_1abc_A", "EMD-92000", 1, "c1"),  # cluster member of a listed chain
        Case("EMD-92001_2abc_A", "EMD-92001", 1, "c3"),  # cluster member of the unlisted chain
        Case("EMD-92002_3abc_A", "EMD-92002", 2, "c7"),  # search hit of a listed chain
        *[Case(f"EMD-9{3000 + i}_4abc_A", f"EMD-9{3000 + i}", 1, f"d{i}") for i in range(40)],
    ]
    links = [("EMD-92002_3abc_A", "EMD-6452_3jbo_C")]
    config = {"proportions": {"train": 9, "validation": 1, "test": 0}, "n_folds": 2}
    settings = SplitSettings.from_config({**config, "test_chains": str(table)})
    assert settings.test_chains == {"EMD-6452_3jbo_AH", "EMD-6452_3jbo_C", "EMD-4141_5m1s_B"}
    split = {r.sample_id: r.split for r in assign_main_split(cases, [], settings, links)}
    assert {s for s in split if split[s] == "test"} == {"EMD-6452_3jbo_AH", "EMD-6452_3jbo_C"}
    for mate in ("EMD-6452_3jbo_B", "EMD-92000_1abc_A", "EMD-92001_2abc_A", "EMD-92002_3abc_A"):
        assert split[mate] == HELD_OUT, mate
    assert {split[f"EMD-9{3000 + i}_4abc_A"] for i in range(40)} == {"train", "validation"}
    # Pinned chains are outside the proportions: a test share still deals other groups to test.
    shared = SplitSettings.from_config(
        {"proportions": {"train": 8, "validation": 1, "test": 1}, "test_chains": str(table)}
    )
    dealt = {r.sample_id: r.split for r in assign_main_split(cases, [], shared, links)}
    assert dealt["EMD-6452_3jbo_AH"] == dealt["EMD-6452_3jbo_C"] == "test"
    assert dealt["EMD-6452_3jbo_B"] == HELD_OUT
    assert sum(1 for i in range(40) if dealt[f"EMD-9{3000 + i}_4abc_A"] == "test") >= 3
    # CV: pinned chains and their group are held out of every fold.
    folds = cross_validation_folds(cases, split, settings, links)
    for sid in ("EMD-6452_3jbo_AH", "EMD-6452_3jbo_B", "EMD-92000_1abc_A"):
        assert folds[sid] == [HELD_OUT, HELD_OUT]
    # A ledger that already trains on the unlisted chain of the entry is refused.
    stale = [LedgerRow("EMD-6452_3jbo_B", "train", "1", "c3", "1")]
    with pytest.raises(ValueError, match="test_chains"):
        assign_main_split(cases, stale, settings, links)
    # Off (absent or null) is the same split as before the option existed.
    off = [
        assign_main_split(cases, [], SplitSettings.from_config(c), links)
        for c in (config, {**config, "test_chains": None})
    ]
    assert off[0] == off[1]
    assert {r.sample_id: r.split for r in off[0]}["EMD-6452_3jbo_B"] != HELD_OUT


def test_the_papers_test_set_as_test_chains() -> None:
    settings = SplitSettings.from_config({"test_chains": str(REPO / "config/paper_test_set.tsv")})
    assert len(settings.test_chains) == 62
    assert {"EMD-0090_6gyk_M", "EMD-8518_5u8s_A", "EMD-3850_5oqm_g"} <= settings.test_chains


def test_split_report_says_which_test_chains_are_present(tmp_path: Path) -> None:
    """The real report path (run_split_report): present / pinned / absent with the reason the
    curation log gives; without the option the report is what it was."""
    from cryosse.core.tsv import write_tsv
    from cryosse.io.curation_log import LogRow, write_log
    from cryosse.splits.stage import run_split_report

    table = tmp_path / "paper.tsv"
    table.write_text(
        "# source\nemdb_id\tpdb_id\tchain\n"
        "EMD-8518\t5U8S\tA\n"  # a sample, pinned to test
        "EMD-8518\t5U8S\t2\n"  # excluded by curation
        "EMD-1657\t4V5H\tAM\n"  # the entry was excluded
        "EMD-8518\t5U8S\tZ\n"  # no such chain in the model
        "EMD-0090\t6GYK\tM\n"  # not in the entry list
    )
    ids = ["EMD-8518_5u8s_A", "EMD-8518_5u8s_B"]
    facts = {"quality_bin": 1, "helix_residues": 10, "sheet_residues": 5, "background_residues": 5}
    write_tsv(
        tmp_path / "manifest.tsv", ["sample_id", *facts], [{"sample_id": s, **facts} for s in ids]
    )
    (tmp_path / "seq.fasta").write_text("".join(f">{s}\nMKV\n" for s in ids))
    write_tsv(
        tmp_path / "main.tsv",
        ["sample_id", "split"],
        [{"sample_id": ids[0], "split": "test"}, {"sample_id": ids[1], "split": HELD_OUT}],
    )
    write_tsv(tmp_path / "cv.tsv", ["sample_id"], [{"sample_id": s} for s in ids])
    write_log(
        tmp_path / "log.tsv",
        [
            LogRow("EMD-8518", "5u8s", "A", "chain", "kept", "kept", "sample EMD-8518_5u8s_A"),
            LogRow("EMD-8518", "5u8s", "B", "chain", "kept", "kept", "sample EMD-8518_5u8s_B"),
            LogRow(
                "EMD-8518",
                "5u8s",
                "2",
                "chain",
                "excluded",
                "chain_redundant",
                "chain 2 shares 100% sequence identity with kept chain B (maximum 70%)",
            ),
            LogRow("EMD-8518", "", "", "entry", "kept", "kept", "2 sample(s) from 1 model(s)"),
            LogRow(
                "EMD-1657",
                "",
                "",
                "entry",
                "excluded",
                "resolution_out_of_range",
                "resolution 5.8 Å outside [6, 10]",
            ),
        ],
    )
    inputs = {
        "manifest": tmp_path / "manifest.tsv",
        "fasta": tmp_path / "seq.fasta",
        "main_tsv": tmp_path / "main.tsv",
        "cv_tsv": tmp_path / "cv.tsv",
        "curation_log": tmp_path / "log.tsv",
    }
    run_split_report(**inputs, tsv_out=tmp_path / "off.tsv", markdown_out=tmp_path / "off.md")
    run_split_report(
        **inputs, tsv_out=tmp_path / "on.tsv", markdown_out=tmp_path / "on.md", test_chains=table
    )
    off, on = (tmp_path / "off.md").read_text(), (tmp_path / "on.md").read_text()
    assert "Test chains" not in off and on.startswith(off)  # off: the report as before
    assert (tmp_path / "off.tsv").read_bytes() == (tmp_path / "on.tsv").read_bytes()
    section = on[len(off) :]
    assert "5 listed: 1 present in this run, 1 pinned to test, 4 absent" in section
    assert (
        "1 chain_redundant, 1 no_such_chain, 1 not_in_entry_list, 1 resolution_out_of_range"
        in section
    )
    assert "| 8518_5U8S_A | EMD-8518_5u8s_A | pinned |  |" in section
    assert "| 8518_5U8S_2 | EMD-8518_5u8s_2 | absent | chain_redundant: chain 2 shares" in section
    assert "| 1657_4V5H_AM | EMD-1657_4v5h_AM | absent | resolution_out_of_range:" in section
    assert "model 5u8s has no chain Z curated" in section
    assert "| 0090_6GYK_M | EMD-0090_6gyk_M | absent | the entry is not in this run's" in section
